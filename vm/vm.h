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
	VM_MACHINE_AUTO = 0, /* microvm in direct mode, q35 with firmware */
	VM_MACHINE_MICROVM,
	VM_MACHINE_Q35,
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
	uint64_t mem;             /* bytes; 0 = VM_DEFAULT_MEM */
	unsigned cpus;            /* 0 = vm_default_cpus() */
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
};

/* Per-run facts that are not the user's choice. */
struct vm_run_ctx {
	enum vm_accel accel; /* resolved: KVM or TCG */
	int qmp_fd;          /* QMP socket QEMU inherits as this fd number; -1 = no QMP */
	bool for_display;    /* building for --print-cmdline: no inherited fds */
};

/* The vCPU count for o under accel (o->cpus, or the default for the accelerator). */
unsigned vm_cpus_for(const struct vm_opts *o, enum vm_accel accel);

/* Resolve VM_MACHINE_AUTO for a mode. */
enum vm_machine vm_machine_for(const struct vm_opts *o);

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

/* The vmdk descriptor (monolithicFlat, FLAT extents, all RW) for a plan. */
void vm_vmdk_descriptor(const struct vm_extent *e, size_t n, const char *disk_path, const char *shadow_path,
			struct strbuf *out);

/* ---- the prepared VM (prepare.c) ---- */

struct vm;

/* What direct mode boots: files of the guest (paths inside it) and its own arguments. Borrowed. */
struct vm_boot {
	const char *kernel;  /* "/boot/vmlinuz-6.1.0-28-amd64" */
	const char *initrd;  /* NULL or "" = none */
	const char *cmdline; /* the guest's own kernel arguments; NULL = "ro quiet" */
};

/*
 * Prepare a VM for partition p of d (d is borrowed and must outlive the vm):
 * refuse what cannot work (partition mounted or in use by another runner,
 * qemu or firmware missing, in direct mode no kernel), lock the partition
 * for the VM's lifetime and let go of d's whole-disk lock, so other guests
 * of the disk stay usable; read the boot files (direct mode: b, read through
 * fs/) or build the disk view (firmware mode; b unused, may be NULL), and
 * choose the accelerator. Whether p holds a complete guest is the caller's
 * to decide (disk_vm_prepare()). Nothing is started. *ret is the caller's:
 * vm_free().
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
 * The QEMU command for --print-cmdline, shell-quoted, into out. Files it names
 * (kernel, initrd in the cache; the disk view of firmware mode) are kept after
 * vm_free() so the command can be run; the partition lock is not.
 */
int vm_print_cmdline(struct vm *vm, struct strbuf *out, struct pb_err *err);

/* A libvirt domain XML for the same guest (q35, virtio disk slice or vmdk view). */
int vm_libvirt_xml(struct vm *vm, struct strbuf *out, struct pb_err *err);

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
/* Copy an answers file into a 1 MiB raw image in the VM's temporary folder and attach it read-only. */
int vm_attach_answers(struct vm *vm, const char *file, struct pb_err *err);
/*
 * True when vm_run() got SIGINT/SIGTERM. Its verdict is still "powered off"
 * when the guest answered the power button, which an install must not take
 * for a finished installer.
 */
bool vm_was_interrupted(const struct vm *vm);

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
