/* SPDX-License-Identifier: MIT */
/*
 * vm — boot one guest partition of a disk in a QEMU virtual machine.
 *
 * Two ways to show the guest to the VM:
 *  - direct mode: the kernel and initrd are read out of the guest's /boot
 *    through fs/ (no mount) and handed to QEMU (-kernel/-initrd); the VM sees
 *    only the guest's partition, as a whole virtio disk (QEMU raw driver
 *    offset=/size=), so it cannot reach a byte of the disk outside it.
 *  - firmware mode (bios/uefi): the VM sees a whole disk laid out like the
 *    real one (a vmdk descriptor of FLAT extents, see disk-view.c): the guest's
 *    partition is live, everything else (tables, ESP, BIOS boot partition,
 *    other guests, free space) reads from a private per-VM sparse "shadow" file
 *    holding copies of the tables, ESP and BIOS boot partition and zeros for
 *    the rest, so nothing the guest does reaches the real disk outside its
 *    partition.
 *
 * The pieces are pure functions over plain data (vm_argv_build(),
 * vm_disk_view_plan(), vm_vmdk_descriptor(), vm_cmdline_build(),
 * vm_accel_choose()) so tests check them as data; vm_prepare() gathers the
 * facts from part/ and fs/, vm_run() starts and supervises QEMU.
 */
#ifndef PARTBOOT_VM_H
#define PARTBOOT_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/strbuf.h"
#include "../part/part.h"

enum vm_mode {
	VM_MODE_DIRECT = 0, /* kernel + initrd from the guest's /boot, partition as the disk */
	VM_MODE_BIOS,       /* SeaBIOS boots the whole-disk view */
	VM_MODE_UEFI,       /* OVMF boots the whole-disk view */
};

enum vm_accel {
	VM_ACCEL_AUTO = 0, /* KVM when it can really run a stock kernel, else TCG */
	VM_ACCEL_KVM,
	VM_ACCEL_TCG,
};

enum vm_machine {
	VM_MACHINE_AUTO = 0, /* what the guest can boot on (vm_hw_choose): microvm first in direct mode */
	VM_MACHINE_MICROVM,
	VM_MACHINE_Q35,
	VM_MACHINE_PC,       /* i440fx: its PIIX IDE is what the oldest guests have drivers for */
};

/* The controller the guest's disk hangs on. */
enum vm_disk_bus {
	VM_DISK_BUS_AUTO = 0, /* what the guest's kernel and initramfs have drivers for (vm_hw_choose) */
	VM_DISK_BUS_VIRTIO,   /* virtio-blk: over virtio-mmio on microvm, PCI elsewhere */
	VM_DISK_BUS_NVME,
	VM_DISK_BUS_AHCI,     /* SATA on q35's ICH9 AHCI */
	VM_DISK_BUS_IDE,      /* PATA on pc's PIIX */
};

/* The network card (with VM_NET_USER). */
enum vm_nic {
	VM_NIC_AUTO = 0, /* virtio-net */
	VM_NIC_VIRTIO,
	VM_NIC_E1000,
};

enum vm_net {
	VM_NET_NONE = 0,
	VM_NET_USER, /* QEMU user networking (slirp), optional SSH port forward */
};

/* What the user asked for. Strings are borrowed. Zero-initialise, then set. */
struct vm_opts {
	enum vm_mode mode;
	enum vm_accel accel;
	enum vm_machine machine;
	enum vm_disk_bus disk_bus; /* AUTO: from what the guest holds */
	const char *kernel;       /* the guest's kernel version to boot (disk_vm_prepare()); NULL = the newest */
	uint64_t mem;             /* bytes; 0 = VM_DEFAULT_MEM */
	unsigned cpus;            /* 0 = vm_default_cpus() */
	/*
	 * QEMU's -cpu: a model and its properties ("max", "Nehalem",
	 * "qemu64,avx2=on"; vm_cpu_model_check()), or NULL for the default:
	 * "host" with KVM, VM_TCG_CPU_MODEL and its features under TCG.
	 */
	const char *cpu_model;
	const char *append;       /* extra kernel arguments (direct mode), or NULL */
	const char *console_path; /* serial console to this file; NULL = the terminal */
	bool interactive;         /* console on the terminal reads keys too (stdin is a tty) */
	unsigned timeout;         /* seconds until the VM is stopped; 0 = none */
	bool snapshot;            /* guest writes go to a throw-away overlay */
	enum vm_net net;
	unsigned ssh_port;        /* host port forwarded to the guest's 22 (VM_NET_USER); 0 = none */
	bool no_pvh;              /* direct mode: hand QEMU the bzImage, never the unpacked ELF */
	const char *qemu;         /* binary; NULL = "qemu-system-x86_64" */
	const char *cache_dir;    /* boot files cache; NULL = $XDG_CACHE_HOME/partboot or ~/.cache/partboot */
	const char *ovmf_dir;     /* NULL = /usr/share/OVMF */
	/*
	 * UEFI with Secure Boot enforced (mode VM_MODE_UEFI only): OVMF's
	 * Secure Boot build with Microsoft's keys enrolled (a private copy of
	 * OVMF_VARS_4M.ms.fd), on q35 with SMM and secure pflash.
	 */
	bool secure_boot;
	/*
	 * Prepare for libvirt instead of partboot's own runner
	 * (vm_libvirt_xml(), vm_libvirt_start()): a q35 domain named
	 * libvirt_name (NULL = "partboot-NAME"), its files in a folder of its
	 * own that libvirt's QEMU can read (docs/vm.md), the console (when
	 * console_path is set) a <serial type='file'>.
	 */
	bool libvirt;
	const char *libvirt_name;
	/*
	 * Installer media (firmware mode only; see disk_install()). cdrom: an
	 * ISO image or optical drive shown as a read-only CD-ROM and booted
	 * first. answers_disk: a raw image attached read-only as the last virtio
	 * disk (the answers file). tftp_dir + tftp_bootfile: user networking with
	 * QEMU's built-in TFTP server serving tftp_dir, the network card booted
	 * first (iPXE ROM) and handed tftp_bootfile by DHCP; implies VM_NET_USER.
	 * tftp_bootfile alone: the same without a TFTP server, tftp_bootfile
	 * being a URL iPXE fetches itself (http://10.0.2.2:8000/boot.ipxe).
	 */
	const char *cdrom;
	const char *answers_disk;
	const char *tftp_dir;
	const char *tftp_bootfile;
	/*
	 * A cloud-init NoCloud seed (an ISO9660 image labelled cidata) attached
	 * read-only on the guest's own disk controller; vm_attach_cloud_init()
	 * makes one and sets it.
	 */
	const char *cidata_disk;
	/*
	 * Progress (vm_run()): about once a second while the VM runs, status
	 * gets the serial console's current line (vm_console_feed(): escape
	 * sequences and control characters removed; "" before the first) and
	 * the seconds since QEMU started. The console must then go to a file
	 * (console_path, or the VM's own when NULL: vm_prepare_installer()
	 * arranges it), which vm_run() reads as QEMU writes it.
	 */
	void (*status)(const char *line, unsigned elapsed, void *userdata);
	void *status_userdata;
};

#define VM_DEFAULT_MEM (512ULL * 1024 * 1024)
/*
 * The CPU model under TCG when none is asked for: QEMU's own default model
 * (qemu64, what a hand-written QEMU line gets) with what x86-64-v2 adds to
 * it (SSSE3, SSE4.1, SSE4.2, POPCNT; qemu64 has CMPXCHG16B and LAHF), so
 * that guests built for x86-64-v2 (RHEL 9 and its rebuilds) boot. Not
 * "max": under TCG it made Debian's installer 11-12 % slower than qemu64
 * (docs/vm.md); x86-64-v3 guests (RHEL 10) ask for it with --cpu-model max.
 * QEMU gets "qemu64,ssse3=on,..." (qemu.c), libvirt a <cpu mode='custom'>
 * with these features required (libvirt.c).
 */
#define VM_TCG_CPU_MODEL "qemu64"
#define VM_TCG_CPU_FEATURES { "ssse3", "sse4.1", "sse4.2", "popcnt" }
/*
 * 0 when s can be QEMU's -cpu: 1 to 200 characters of letters, digits and
 * "_.-,=+", starting with a letter or digit (a model, then comma-separated
 * properties; nothing QEMU would read as another option). With libvirt,
 * only a model name (no properties), "max" or "host". Otherwise -EINVAL
 * with a message saying why. Pure.
 */
int vm_cpu_model_check(const char *s, bool libvirt, struct pb_err *err);
/*
 * An installer VM's memory when none is asked for: vm_installer_mem(). Real
 * installers want far more than a booted guest: Debian's d-i enters its
 * "low memory mode" below 737 MiB of MemTotal on amd64 (lowmemcheck; qemu -m
 * 780), Fedora's Anaconda asks for 1.5 GiB (RHEL 9's documented minimum),
 * Ubuntu's live-server installer copies itself into RAM (2 GiB and more).
 * QEMU allocates guest memory lazily (anonymous pages on first touch), so the
 * default costs the host what the installer touches; an installer's page cache
 * touches most of it (d-i: 1.65 GiB of 2 by its base-system step), hence the
 * cap at half the host's memory.
 */
#define VM_INSTALLER_DEFAULT_MEM (2048ULL * 1024 * 1024)
/*
 * Default vCPUs: 2 with KVM; 1 under TCG, where a second vCPU slows the boot
 * down (~3.6 s instead of ~2.3 s to the marker here: SMP bring-up, IPIs and a
 * failed delay calibration, all emulated).
 */
#define VM_DEFAULT_CPUS_KVM 2
#define VM_DEFAULT_CPUS_TCG 1
#define VM_DEFAULT_QEMU "qemu-system-x86_64"
/* Seconds between the ACPI power button (Ctrl-C, SIGTERM, --timeout) and a hard stop. */
#define VM_GRACE_SECONDS 10
/*
 * Firmware mode: what a guest may write outside its partition, on top of the
 * private copies of the tables, ESP and BIOS boot partition it may rewrite
 * (docs/vm.md). The shadow file holding such writes stays within that; a
 * guest writing more is stopped.
 */
#define VM_SHADOW_SLACK (32ULL * 1024 * 1024)

/* vm_run()'s verdict: partboot's exit status. */
enum {
	VM_EXIT_POWEROFF = 0,     /* the guest powered off */
	VM_EXIT_ERROR = 1,        /* QEMU failed or died */
	VM_EXIT_RESET = 3,        /* the guest rebooted (ends the VM; a panic with panic=N does this too) */
	VM_EXIT_PANIC = 4,        /* the guest reported a panic (pvpanic) */
	VM_EXIT_TIMEOUT = 124,    /* --timeout ran out (same as timeout(1)) */
	VM_EXIT_INTERRUPTED = 130 /* Ctrl-C/SIGTERM and the guest did not power off in the grace period */
};

/* ---- acceleration (accel.c) ---- */

/* What the host offers; filled by vm_accel_probe(), or by hand in tests. */
struct vm_accel_facts {
	bool kvm_dev;   /* /dev/kvm opens read-write */
	bool kvm_pvm;   /* /sys/module/kvm_pvm: the paravirtual backend that hangs stock kernels */
	bool cpu_virt;  /* the CPU shows vmx or svm (/proc/cpuinfo): real hardware virtualisation */
};

/* Look at /dev/kvm, /sys/module and /proc/cpuinfo. Never starts a VM; fast. */
void vm_accel_probe(struct vm_accel_facts *ret);

/*
 * Choose KVM or TCG. want=KVM/TCG is obeyed; AUTO takes KVM only when /dev/kvm
 * opens, the backend is not kvm_pvm and the CPU shows vmx/svm. *ret_why (may
 * be NULL) gets a static one-line reason when AUTO falls back to TCG although
 * /dev/kvm exists (the warning to print), else NULL.
 */
enum vm_accel vm_accel_choose(enum vm_accel want, const struct vm_accel_facts *f, const char **ret_why);

/* "kvm", "tcg", "auto"; and the reverse (-EINVAL for anything else). */
const char *vm_accel_to_string(enum vm_accel a);
int vm_accel_from_string(const char *s, enum vm_accel *ret);

/* ---- the guest as data, and the QEMU command built from it (qemu.c) ---- */

/* Everything vm_argv_build() needs to know about the guest. Strings borrowed. */
struct vm_guest {
	const char *name;      /* partition name, for messages and the XML */
	const char *disk_path; /* image file or block device */
	bool blockdev;
	uint64_t disk_size;
	uint64_t part_start, part_size; /* bytes, the guest's partition */
	/* direct mode */
	const char *kernel;    /* host path of the kernel QEMU loads */
	bool kernel_pvh;       /* it is an uncompressed ELF with a PVH entry (faster under TCG) */
	const char *initrd;    /* host path, or NULL */
	const char *cmdline;   /* the full kernel command line */
	/* firmware mode */
	const char *view_path; /* the vmdk descriptor of the whole-disk view */
	size_t view_extents;   /* how many extents it lists (each gets locking=off) */
	const char *ovmf_code, *ovmf_vars; /* uefi: firmware and this VM's private copy of the variables */
	bool cdrom_blockdev;   /* vm_opts.cdrom is a device (/dev/sr0): QEMU's host_cdrom driver */
	/*
	 * The hardware the guest can boot on (vm_hw_choose(), vm_prepare());
	 * AUTO = vm_machine_for(), virtio disk, virtio-net.
	 */
	enum vm_machine machine;
	enum vm_disk_bus bus;
	enum vm_nic nic;
	/* direct mode: a separate /boot partition, shown as the second disk (size 0 = none) */
	uint64_t boot_start, boot_size;
};

/* Per-run facts that are not the user's choice. */
struct vm_run_ctx {
	enum vm_accel accel; /* resolved: KVM or TCG */
	int qmp_fd;          /* QMP socket QEMU inherits as this fd number; -1 = no QMP */
	bool for_display;    /* building for --print-cmdline: no inherited fds */
};

/* The vCPU count for o under accel (o->cpus, or the default for the accelerator). */
unsigned vm_cpus_for(const struct vm_opts *o, enum vm_accel accel);

/* Resolve VM_MACHINE_AUTO for a mode, knowing nothing of the guest: microvm in direct mode, else q35. */
enum vm_machine vm_machine_for(const struct vm_opts *o);

/* "auto", "microvm", "q35", "pc"; "auto", "virtio", "nvme", "ahci", "ide"; and back (-EINVAL). */
const char *vm_machine_to_string(enum vm_machine m);
int vm_machine_from_string(const char *s, enum vm_machine *ret);
const char *vm_disk_bus_to_string(enum vm_disk_bus b);
int vm_disk_bus_from_string(const char *s, enum vm_disk_bus *ret);

/* ---- what the guest can boot on (hw.c, initramfs.c) ---- */

/*
 * The drivers that decide which machine and controller a guest can boot
 * from: each disk controller's, sd_mod (SATA and IDE disks are SCSI disks
 * to Linux), and the network cards'. Their dependencies (virtio, libata,
 * nvme_core, scsi_mod...) are the initramfs builder's to include.
 */
enum vm_driver {
	VM_DRIVER_VIRTIO_MMIO = 0,
	VM_DRIVER_VIRTIO_PCI,
	VM_DRIVER_VIRTIO_BLK,
	VM_DRIVER_NVME,
	VM_DRIVER_AHCI,
	VM_DRIVER_ATA_PIIX,
	VM_DRIVER_SD_MOD,
	VM_DRIVER_VIRTIO_NET,
	VM_DRIVER_E1000,
	VM_DRIVER_COUNT,
};

/* Where a driver was found; later values are there earlier in the boot. */
enum vm_driver_src {
	VM_DRIVER_ABSENT = 0,
	VM_DRIVER_ROOTFS,  /* a module in the root's /lib/modules: usable once the root is mounted (network) */
	VM_DRIVER_INITRD,  /* a module in the initramfs */
	VM_DRIVER_BUILTIN, /* =y in config-VERSION, or in modules.builtin */
};

/* What vm_prepare() learnt about the guest's kernel. Plain data: tests fill it by hand. */
struct vm_hw_facts {
	bool inspected;      /* false: the guest could not be looked at (then the choice is the default) */
	bool builtin_known;  /* config-VERSION or modules.builtin said what is built in */
	bool initrd;         /* the kernel boots with an initramfs, and it was read */
	enum vm_driver_src drivers[VM_DRIVER_COUNT];
	char segments[96];   /* the initramfs's segments, e.g. "cpio + zstd cpio"; "" = none */
};

/* "virtio_mmio", ... (static); the module name ("ahci", "sd-mod.ko.xz" works too) to a driver, -ENOENT else. */
const char *vm_driver_name(enum vm_driver d);
int vm_driver_from_module(const char *name, size_t len, enum vm_driver *ret);
/* Record that driver d is at src (a later source wins over an earlier one: built in beats a module). */
void vm_hw_facts_add(struct vm_hw_facts *f, enum vm_driver d, enum vm_driver_src src);
/* A kernel's config-VERSION: CONFIG_X=y marks X built in; sets builtin_known. */
void vm_hw_facts_config(struct vm_hw_facts *f, const char *text, size_t len);
/* A kernel's modules.builtin ("kernel/drivers/ata/ahci.ko" lines); sets builtin_known. */
void vm_hw_facts_builtin(struct vm_hw_facts *f, const char *text, size_t len);

/*
 * Walk an initramfs in memory as the kernel unpacks it: cpio (newc)
 * segments one after another (early microcode first, as Debian's and
 * dracut's are), 4-byte NUL padding between them, the last one possibly
 * compressed (gzip, xz, zstd, lz4, bzip2, lzma: libarchive's filters; the
 * unpacked stream may hold several cpio archives too). Every module file
 * (NAME.ko, .ko.xz, .ko.zst, .ko.gz) of interest marks its driver
 * VM_DRIVER_INITRD, unless it lies under lib/modules/OTHER-VERSION/ (kver
 * given and different: it could not load); a modules.builtin of kver is
 * read too. f->segments says what was found ("cpio + gzip cpio"). Unpacked
 * sizes are bounded (1 GiB). Returns 0, or -EINVAL when the data is not an
 * initramfs (err says at which byte).
 */
int vm_initramfs_scan(const char *data, size_t len, const char *kver, struct vm_hw_facts *f, struct pb_err *err);

/* What the user asked for, and what the VM must offer, for vm_hw_choose(). */
struct vm_hw_want {
	enum vm_mode mode;
	enum vm_machine machine; /* AUTO = choose */
	enum vm_disk_bus bus;    /* AUTO = choose */
	bool net;                /* the VM has a network card */
	bool libvirt;            /* for a libvirt domain: no microvm, no NVMe disks (libvirt 9) */
	const char *kernel;      /* the kernel's version, for messages (may be NULL) */
	const char *why_not;     /* facts not inspected: why (for the message), may be NULL */
};

struct vm_hw_choice {
	enum vm_machine machine;
	enum vm_disk_bus bus;
	enum vm_nic nic;
	struct strbuf why;     /* one line: what was found and why this choice */
	struct strbuf warning; /* a choice the guest may not boot from (forced, or nothing known), else empty */
};
#define VM_HW_CHOICE_INIT { VM_MACHINE_AUTO, VM_DISK_BUS_AUTO, VM_NIC_AUTO, STRBUF_INIT, STRBUF_INIT }
void vm_hw_choice_release(struct vm_hw_choice *c);

/*
 * Pick the machine and disk controller the guest can boot from, in this
 * order: microvm with virtio-mmio (direct mode, virtio_mmio + virtio_blk),
 * q35 with virtio-blk-pci (virtio_pci + virtio_blk), q35 with NVMe (nvme),
 * q35 with AHCI (ahci + sd_mod), pc with PIIX IDE (ata_piix + sd_mod); a
 * driver counts when it is built in or in the initramfs. The user's machine
 * and bus narrow the list and are obeyed even without the drivers (with a
 * warning). The network card: virtio-net where the guest has virtio_net
 * (anywhere, it loads after the root is mounted), else e1000. Nothing fits:
 * -ENODEV with a message naming the drivers looked for, unless what is
 * built in is unknown (no config, no modules.builtin) or the guest was not
 * inspected: then the first candidate, with a warning. -EINVAL for a
 * machine and bus that do not go together (microvm has virtio only, q35
 * has no PIIX IDE, pc no AHCI). Pure: looks at nothing but its arguments.
 * ret must be VM_HW_CHOICE_INIT; release it even on failure.
 */
int vm_hw_choose(const struct vm_hw_facts *f, const struct vm_hw_want *w, struct vm_hw_choice *ret,
		 struct pb_err *err);

/*
 * Build the QEMU argument vector (argv[0] is the binary), NULL-terminated.
 * Pure: looks at nothing but its arguments. *ret_argv is owned by the caller:
 * free with vm_strv_free(). Returns 0, or -EINVAL for a combination that
 * cannot work (with a message).
 */
int vm_argv_build(const struct vm_opts *o, const struct vm_guest *g, const struct vm_run_ctx *c,
		  char ***ret_argv, struct pb_err *err);
/* Free a vector from vm_argv_build() and its strings; accepts NULL. */
void vm_strv_free(char **v);

/* Append argv to out as one shell-quoted line (no newline). */
void vm_argv_quote(char *const *argv, struct strbuf *out);

/*
 * The direct-mode kernel command line: the guest's own (guest_cmdline; "" or
 * NULL = "ro quiet") with every root= replaced by root, resume= dropped (the VM
 * has no swap partition), then console=ttyS0, then extra (machine-specific,
 * may be NULL), then append (the user's, may be NULL, last so it wins).
 */
void vm_cmdline_build(const char *guest_cmdline, const char *root, const char *extra, const char *append,
		      struct strbuf *out);

/* ---- the whole-disk view for firmware mode (disk-view.c) ---- */

enum vm_extent_src {
	VM_EXTENT_DISK = 0, /* the real disk, read-write: the guest's partition */
	VM_EXTENT_SHADOW,   /* the per-VM shadow file at the same offset */
};

struct vm_extent {
	uint64_t start, size;   /* bytes on the disk, 512-byte multiples */
	enum vm_extent_src src;
	bool copy;              /* shadow only: filled with the real bytes when the VM starts */
	const char *what;       /* "table", "gap", "esp", "bios-boot", "other", "guest" (static) */
};

/*
 * Cut the disk [0, disk_size) into extents: the target partition from the
 * disk; the ESP and BIOS boot partition copied into the shadow (QEMU 7.2's
 * vmdk driver drops RDONLY extents, so read-only is a private copy); every
 * other partition as shadow zeros; space outside partitions copied (the
 * tables, GRUB's embedding area) except the middle of a large free run, which
 * reads as zeros (its first and last MiB are copied). Extents are in disk
 * order, contiguous, covering the disk. *ret is the caller's to free().
 */
int vm_disk_view_plan(const struct part_info *parts, size_t n, unsigned target_partno, uint64_t disk_size,
		      struct vm_extent **ret, size_t *ret_n, struct pb_err *err);
/*
 * The same with several live partitions (partition numbers in live[]: a
 * guest and its separate /boot); each must exist.
 */
int vm_disk_view_plan_live(const struct part_info *parts, size_t n, const unsigned *live, size_t n_live,
			   uint64_t disk_size, struct vm_extent **ret, size_t *ret_n, struct pb_err *err);

/*
 * The vmdk descriptor (monolithicFlat, FLAT extents, all RW) for a plan.
 * shadow_path NULL: one file per shadow extent, "shadow-N.img" beside the
 * descriptor (N the extent's index), each from its own start (for libvirt).
 */
void vm_vmdk_descriptor(const struct vm_extent *e, size_t n, const char *disk_path, const char *shadow_path,
			struct strbuf *out);

/* ---- the prepared VM (prepare.c) ---- */

struct vm;

/* What the guest boots: files of the guest (paths inside it) and its own arguments. Borrowed. */
struct vm_boot {
	const char *kernel;  /* "/boot/vmlinuz-6.1.0-28-amd64" */
	const char *initrd;  /* NULL or "" = none */
	const char *cmdline; /* the guest's own kernel arguments; NULL = "ro quiet" */
	const char *version; /* "6.1.0-28-amd64": its modules are in the root's /lib/modules/VERSION */
	const char *config;  /* "/boot/config-6.1.0-28-amd64" (built-in drivers), or NULL */
	/*
	 * A separate /boot partition holding kernel, initrd and config (paths
	 * inside it), or NULL. The VM sees it too: the second disk in direct
	 * mode, a live partition of the whole-disk view in firmware mode.
	 */
	const struct part_info *boot_part;
};

/*
 * Prepare a VM for partition p of d (d is borrowed and must outlive the vm):
 * refuse what cannot work (partition mounted or in use by another runner,
 * qemu or firmware missing, in direct mode no kernel), lock the partition
 * (and b's boot partition) for the VM's lifetime and let go of d's
 * whole-disk lock, so other guests of the disk stay usable; look inside the
 * guest (b's kernel config and initramfs, the root's /lib/modules; cached by
 * content in the cache directory) and choose machine, disk controller and
 * network card (vm_hw_choose(); refused when the guest can boot from none);
 * read the boot files (direct mode, through fs/) or build the disk view
 * (firmware mode), and choose the accelerator. In firmware mode b may be NULL
 * (nothing to inspect: the default machine). Whether p holds a complete guest
 * is the caller's to decide (disk_vm_prepare()). Nothing is started. With
 * o->libvirt the files go to the domain's own folder instead, where
 * libvirt's QEMU reads them (and as root the disk gets an ACL entry for it in
 * firmware mode: vm_notice()). *ret is the caller's: vm_free().
 */
int vm_prepare(struct part_disk *d, const struct part_info *p, const struct vm_boot *b, const struct vm_opts *o,
	       struct vm **ret, struct pb_err *err);
/* Frees; accepts NULL. The partition lock goes with it. */
void vm_free(struct vm *vm);

/* A one-line warning for the user (e.g. the TCG fallback), or NULL. Owned by vm. */
const char *vm_warning(const struct vm *vm);
/* The accelerator vm_prepare() chose. */
enum vm_accel vm_accel(const struct vm *vm);
/* The guest facts vm_prepare() gathered. Owned by vm. */
const struct vm_guest *vm_guest(const struct vm *vm);

/*
 * What vm_prepare() found inside the guest and why it chose its machine and
 * controller (one line, for run -v and --print-cmdline), a warning about
 * that choice or NULL, and how long the inspection took (ms; *ret_cached
 * when its cache answered). Owned by vm.
 */
const char *vm_hw_why(const struct vm *vm);
const char *vm_hw_warning(const struct vm *vm);
double vm_hw_inspect_ms(const struct vm *vm, bool *ret_cached);

/*
 * The QEMU command for --print-cmdline, shell-quoted, into out. Files it names
 * (kernel, initrd in the cache; the disk view of firmware mode) are kept after
 * vm_free() so the command can be run; the partition lock is not.
 */
int vm_print_cmdline(struct vm *vm, struct strbuf *out, struct pb_err *err);

/*
 * A libvirt domain XML for the same guest, appended to out, for a vm
 * prepared with o.libvirt (-EINVAL otherwise): the machine and controller
 * vm_hw_choose() picks for libvirt (no microvm there, no NVMe disks in
 * libvirt 9: q35 or pc with virtio, SATA or IDE; -ENODEV when the guest can
 * boot from none of those), a stable <uuid> (a name-based UUID of the domain
 * name, the disk's identifier and the partition's UUID, so defining it again
 * updates the same domain), domain type kvm or qemu (TCG, with <cpu
 * mode='maximum'>), the partition as a storage slice (direct mode) or the
 * split vmdk view (firmware mode), OVMF with libvirt's own copy of the
 * variables (uefi).
 */
int vm_libvirt_xml(struct vm *vm, struct strbuf *out, struct pb_err *err);
/*
 * Write that XML to the domain's folder (domain.xml), `virsh define` it and
 * `virsh start` the domain (virsh's default connection: qemu:///system for
 * root, qemu:///session otherwise; LIBVIRT_DEFAULT_URI picks another), then
 * return: libvirt runs the VM from here on, outside partboot's partition
 * lock.
 */
int vm_libvirt_start(struct vm *vm, struct pb_err *err);
/* The domain's name and its folder (vm prepared with o.libvirt), owned by vm; NULL otherwise. */
const char *vm_libvirt_domain(const struct vm *vm);
const char *vm_libvirt_dir(const struct vm *vm);
/* One line for the user about what was changed for libvirt's QEMU (an ACL on the disk), or NULL. */
const char *vm_notice(const struct vm *vm);

/*
 * Start QEMU and wait for the VM to end. SIGINT/SIGTERM (and --timeout) send
 * the ACPI power button through QMP, then stop QEMU after VM_GRACE_SECONDS.
 * *ret_status gets the VM_EXIT_* verdict. Returns 0 when the VM ran (whatever
 * the guest did), <0 when QEMU could not be started.
 */
int vm_run(struct vm *vm, int *ret_status, struct pb_err *err);

/* ---- OS installers in the VM (install-source.c, prepare.c; disk_install() drives them) ---- */

/*
 * The memory for an installer VM on a host with host_mem bytes of RAM (0 =
 * unknown): VM_INSTALLER_DEFAULT_MEM, but never more than half the host's
 * memory, and never less than VM_DEFAULT_MEM. Pure.
 */
uint64_t vm_installer_mem(uint64_t host_mem);
/* The host's physical memory in bytes (sysconf), or 0. */
uint64_t vm_host_mem(void);

/*
 * The serial console as a screen line: vm_console_feed() takes the bytes a
 * console printed, in any pieces, and keeps the line being written (or the
 * last one that had text), with ANSI/VT100 escape sequences, screen(1)'s
 * title strings, control characters and non-ASCII bytes removed; a carriage return, a newline
 * and a cursor move end a line (full-screen installers redraw by moving the
 * cursor). Lines are cut at VM_CONSOLE_LINE_MAX bytes. Zero-initialise.
 */
#define VM_CONSOLE_LINE_MAX 160
struct vm_console_screen {
	char cur[VM_CONSOLE_LINE_MAX + 1];  /* the line being written */
	char last[VM_CONSOLE_LINE_MAX + 1]; /* the last line that had text */
	size_t cur_len;
	int esc;                            /* parser state inside an escape sequence */
};
void vm_console_feed(struct vm_console_screen *s, const char *buf, size_t len);
/* The current line: the one being written when it has text, else the last one ("" before any). */
const char *vm_console_line(const struct vm_console_screen *s);
/*
 * The console's last line when vm_run() ended (a VM with a status callback,
 * or a console file), for messages: "" when there was none. Owned by vm.
 */
const char *vm_console_last_line(const struct vm *vm);

/*
 * Serve an answers file over HTTP for the VM's lifetime, for installers that
 * fetch theirs from a URL (Debian's preseed/url=, Fedora's inst.ks=). url is
 * where the installer looks: http://10.0.2.2[:PORT]/PATH (the host as QEMU's
 * user network shows it; 127.0.0.1 and localhost mean the same), PORT 80
 * when not given. The port is bound on 127.0.0.1 now (-EADDRINUSE when
 * taken, before anything is written) and the file read into memory (at most
 * 1 MiB); a thread answers GET and HEAD of PATH with it, and 404 to anything
 * else, until vm_free(). Needs user networking (set for every installer).
 */
int vm_serve_answers(struct vm *vm, const char *file, const char *url, struct pb_err *err);
/* How many times the answers were fetched (GET answered with the file) so far. */
unsigned vm_answers_fetched(const struct vm *vm);

/*
 * The server behind vm_serve_answers(), on its own: bound and answering
 * when vm_answers_start() returns 0; *ret is the caller's to
 * vm_answers_stop() (stops the thread, closes, frees; accepts NULL).
 */
struct vm_answers_server;
int vm_answers_start(const char *file, const char *url, struct vm_answers_server **ret, struct pb_err *err);
void vm_answers_stop(struct vm_answers_server *s);
unsigned vm_answers_server_fetched(const struct vm_answers_server *s);

/*
 * Check an --answers-url without binding anything: http://HOST[:PORT]/PATH
 * with HOST 10.0.2.2, 127.0.0.1 or localhost. *ret_port and *ret_path (may
 * be NULL; the path is malloc'ed, caller frees) get the parts.
 */
int vm_answers_url_parse(const char *url, unsigned *ret_port, char **ret_path, struct pb_err *err);

/*
 * The answers URL a medium's boot configuration names, if any: the PXE
 * folder's boot.ipxe, pxelinux.cfg/default and GRUB configs (pxe:DIR), or
 * an ISO's isolinux and GRUB configs (read with libarchive), searched for
 * url=, preseed/url=, ks= or inst.ks= followed by http://10.0.2.2. *ret_url
 * is malloc'ed (caller frees), or NULL when none is named (pxe:URL sources
 * are never searched). Returns 0, or -errno when the medium cannot be read.
 */
int vm_install_answers_url(const char *source, char **ret_url, struct pb_err *err);

/*
 * A VM for an OS installer writing partition p of d (d borrowed, must
 * outlive the vm; o->mode BIOS or UEFI): refuses a partition that is not a
 * root or data partition, or is in use or locked; locks it and keeps d's
 * whole-disk lock too (an install holds the disk). No disk view yet
 * (vm_prepare_view(), once the partition is marked); QEMU and, for uefi,
 * OVMF are checked here. Writes nothing to the disk.
 */
int vm_prepare_installer(struct part_disk *d, const struct part_info *p, const struct vm_opts *o,
			 struct vm **ret, struct pb_err *err);
/* Build the firmware-mode whole-disk view (shadow + vmdk) in the VM's temporary folder. */
int vm_prepare_view(struct vm *vm, struct pb_err *err);
/*
 * Firmware mode: the view's private shadow file holding disk offset off (the
 * tables, ESP and BIOS boot partition are copies; what the VM writes there
 * never reaches the disk), with *ret_base the disk offset at which that
 * file starts: 0 for partboot's own runner (one shadow, everything at its
 * own offset), the extent's start for libvirt (one file per extent). NULL
 * in direct mode or when off is not in a copy. Owned by vm.
 */
const char *vm_view_shadow_at(const struct vm *vm, uint64_t off, uint64_t *ret_base);
/* Copy an answers file into a 1 MiB raw image in the VM's temporary folder and attach it read-only. */
int vm_attach_answers(struct vm *vm, const char *file, struct pb_err *err);
/*
 * Give the VM a cloud-init NoCloud seed: user-data and meta-data (contents,
 * already checked by the caller) go into an ISO9660 volume labelled cidata,
 * made in the VM's temporary folder with xorriso (nothing mounted) and
 * attached read-only (vm_opts.cidata_disk). -ENOENT without xorriso.
 */
int vm_attach_cloud_init(struct vm *vm, const char *user_data, size_t ud_len, const char *meta_data, size_t md_len,
			 struct pb_err *err);

/*
 * True when vm_run() got SIGINT/SIGTERM. Its verdict is still "powered off"
 * when the guest answered the power button, which an install must not take
 * for a finished installer.
 */
bool vm_was_interrupted(const struct vm *vm);

/* ---- a VM in the background, and found by others (background.c, runtime.c) ---- */

/* A VM supervised by a process of its own (vm_run() there). */
struct vm_bg;

/*
 * Start vm in the background: a child process of partboot, in its own
 * process group (a Ctrl-C on the terminal does not reach it), runs vm_run()
 * and exits with its VM_EXIT_* verdict. vm must stay alive (and is not to
 * be run again) until vm_bg_free(). *ret is the caller's.
 */
int vm_run_background(struct vm *vm, struct vm_bg **ret, struct pb_err *err);
/*
 * Wait up to timeout_ms (-1: for good) for the VM to end: 0 with
 * *ret_status its verdict (and err QEMU's failure for VM_EXIT_ERROR), or
 * -ETIMEDOUT while it still runs.
 */
int vm_bg_wait(struct vm_bg *b, int timeout_ms, int *ret_status, struct pb_err *err);
/* Press the power button (and stop QEMU VM_GRACE_SECONDS later), as SIGTERM does to partboot run. */
void vm_bg_stop(struct vm_bg *b);
/* Stop it when it still runs (vm_bg_stop(), waiting for the grace period), then free. Accepts NULL. */
void vm_bg_free(struct vm_bg *b);

/* What a VM that runs a partition tells others (partboot ssh joining it). */
struct vm_runtime {
	int pid;           /* the partboot process supervising the VM */
	unsigned ssh_port; /* 127.0.0.1 port forwarded to the guest's 22 */
};
/*
 * The running VM of partition p of d, from its runtime file: a file that
 * vm_run() writes when the VM starts with an SSH port forward and removes
 * when it ends, in $XDG_RUNTIME_DIR/partboot/, else /run/partboot (root) or
 * /tmp/partboot-UID/, named after the disk's device and inode and the
 * partition's start (any path to the same disk finds it). -ENOENT when
 * there is none, or when its process is gone (the stale file is removed).
 */
int vm_runtime_read(const struct part_disk *d, const struct part_info *p, struct vm_runtime *ret);

/* A TCP port on 127.0.0.1 free right now (for vm_opts.ssh_port). */
int vm_free_port(unsigned *ret, struct pb_err *err);

/* How a --via-vm source is booted. */
enum vm_install_medium {
	VM_INSTALL_CDROM = 0, /* an ISO9660 image or an optical drive */
	VM_INSTALL_PXE,       /* a TFTP root folder (QEMU's own TFTP server serves it) */
	VM_INSTALL_PXE_URL,   /* an http:// or tftp:// URL (iPXE in the VM fetches the boot file) */
};

/*
 * Check a --via-vm source without touching any disk: "pxe:DIR" must be a
 * folder holding a boot file (boot.ipxe, else pxelinux.0 for bios or
 * bootx64.efi for uefi: *ret_bootfile, malloc'ed, caller frees).
 * "pxe:http://HOST[:PORT]/PATH" or "pxe:tftp://HOST[:PORT]/PATH": the host
 * asks the server (a GET's status line, or a TFTP read request, each waiting
 * at most 5 s) for the boot file, the same candidates under a URL ending in
 * '/', else the file the URL names; *ret_bootfile is then the URL the VM is
 * handed by DHCP, with 127.0.0.1/localhost rewritten to 10.0.2.2 (the host as
 * QEMU's user networking shows it). Anything else must be a readable ISO9660
 * image or device (the "CD001" descriptor at sector 16). answers (may be
 * NULL) must be a regular file of at most 1 MiB. Returns 0 or -errno with
 * err naming the file or URL.
 */
int vm_install_check_source(const char *source, const char *answers, enum vm_mode mode,
			    enum vm_install_medium *ret_medium, char **ret_bootfile, struct pb_err *err);

#endif
