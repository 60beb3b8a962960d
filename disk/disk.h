/* SPDX-License-Identifier: MIT */
/*
 * disk — whole-disk operations: the layer above part/, fs/, boot/ and vm/.
 *
 * Everything that must keep one disk consistent across those libraries lives
 * here: building a disk from a layout (a plan, as data, then its execution),
 * installing a guest from any source, making a filesystem, removing and
 * renaming partitions, booting a guest in a VM or natively — each followed
 * by the boot menu and grubenv refresh that keeps GRUB in step with the
 * guests. A program that uses only this header (and the part/fs/boot/vm
 * headers for their data types) cannot leave a disk whose menu names a guest
 * that is gone.
 *
 * A struct disk is one open, locked disk (a struct part_disk), the caller's
 * diagnostics callbacks (struct disk_diag) and the identity settings (seed,
 * and through it the time stamped into filesystems). Nothing here prints:
 * warnings, step notes and progress go to the callbacks; errors come back as
 * -errno with a sentence in struct pb_err naming disk, partition and cause
 * (and FILE:LINE for layouts).
 *
 * Guests: one enumerator (disk_guest_scan) decides what a guest is, whether
 * it is complete and bootable, its kernels and its command line; list, the
 * boot menu, the VM runner and apply all go through it.
 */
#ifndef PARTBOOT_DISK_H
#define PARTBOOT_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/strbuf.h"
#include "../part/part.h"
#include "../fs/fs.h"
#include "../boot/boot.h"
#include "../vm/vm.h"

struct disk;

/*
 * Diagnostics, per disk. Every member may be NULL. Messages are one sentence
 * each, without a "partboot: " prefix or a newline.
 */
struct disk_diag {
	/* Something the user should know that did not stop the operation. */
	void (*warn)(const char *msg, void *userdata);
	/* One line per step of a long operation ("disk.img: install 'alpha' from guest.tar"). */
	void (*note)(const char *msg, void *userdata);
	/* A long copy: done and total bytes (total 0 when unknown). */
	void (*progress)(uint64_t done, uint64_t total, void *userdata);
	/*
	 * An OS installer at work (install --via-vm): about once a second, the
	 * seconds since its VM started and its serial console's current line
	 * (escape sequences removed; "" before the first), e.g. "Installing the
	 * base system ... 40%". Set, it makes the console go to a file (the
	 * one in vm_opts.console_path, else the VM's own) instead of the
	 * terminal.
	 */
	void (*status)(const char *line, unsigned elapsed, void *userdata);
	void *userdata;
};

/* Flags for disk_open(): those of part_disk_open(). */
enum {
	DISK_OPEN_RDONLY = PART_OPEN_RDONLY,
	DISK_OPEN_CREATE = PART_OPEN_CREATE,
	DISK_OPEN_FORCE = PART_OPEN_FORCE,
	DISK_OPEN_NOWAIT = PART_OPEN_NOWAIT,
};

/*
 * Open (and lock) DISK through part_disk_open(); see there for what is
 * refused. diag (may be NULL) is copied. On success *ret is owned by the
 * caller: disk_free() it.
 */
int disk_open(const char *path, unsigned flags, uint64_t create_size, const struct disk_diag *diag,
	      struct disk **ret, struct pb_err *err);
/* Close, unlock, free; accepts NULL. */
void disk_free(struct disk *k);

/* The open partition table (borrowed, valid until disk_free()). */
struct part_disk *disk_part(const struct disk *k);
/* The path as given to disk_open(), for messages. */
const char *disk_path(const struct disk *k);

/*
 * Derive identifiers (partition and filesystem UUIDs) from seed in every
 * later change, and stamp a fixed time (SOURCE_DATE_EPOCH, else
 * 2000-01-01) into filesystems and the ESP: the same requests then give the
 * same bytes. NULL: random identifiers, the current time. The string is
 * copied. A disk whose table was made with a seed (part_disk_new_table())
 * keeps it and opens with it in use; this overrides it for k only.
 */
void disk_set_seed(struct disk *k, const char *seed);

/* ---- guests (guest.c) ------------------------------------------------------------------- */

enum disk_guest_state {
	DISK_GUEST_NONE = 0,     /* not a guest: no ext2/3/4 filesystem on a root or data partition */
	DISK_GUEST_COMPLETE,     /* an install finished (or nothing says otherwise) */
	DISK_GUEST_INCOMPLETE,   /* an install is under way or was interrupted */
	DISK_GUEST_UNREADABLE,   /* looks like one, but its filesystem cannot be read */
	/*
	 * A Linux install partboot did not make (no FS_PARTBOOT_MARKER, no
	 * partboot fstab): booted and listed like a complete guest, but
	 * nothing writes into it unless asked (install --wipe, adopt).
	 */
	DISK_GUEST_FOREIGN,
};

/* One partition as the guest model sees it. Every string is owned by the list. */
struct disk_guest {
	struct part_info part;
	struct part_probe probe;     /* libblkid: fstype, label, UUID */
	enum disk_guest_state state;
	bool bootable;               /* complete, named, with at least one kernel: it has a menu entry */
	/*
	 * What the guest holds (fs_guest_info()): its OS name, kernels (newest
	 * first) and its own command line, on one line and of any length. Empty
	 * unless state is COMPLETE or INCOMPLETE.
	 */
	struct fs_guest_info info;
	const char *why;             /* a guest that is not bootable: why ("no kernel in /boot"), or NULL */
	/*
	 * Kernels left out of info because the name of their file or of their
	 * initrd holds characters outside letters, digits and "._+~-" (a file
	 * name reaches grub.cfg): what was left out, naming the file; or NULL.
	 */
	const char *skipped;
	/*
	 * /boot on a partition of its own (info.boot_source, from the guest's
	 * fstab, found on this disk): the kernels come from there and their
	 * paths in info.kernels are inside that filesystem ("/vmlinuz-V"). The
	 * VM runner shows the VM that partition too; the menu entry reads the
	 * kernel from it.
	 */
	bool has_boot;
	struct part_info boot_part;
	struct part_probe boot_probe;
};

struct disk_guests {
	struct disk_guest *v;        /* one per partition, in partition order */
	size_t n;
};

/*
 * Look at every partition of k: a guest is a root or data partition holding
 * ext2, ext3 or ext4; one holding a Linux install (an os-release, a kernel,
 * a /boot of its own) that partboot did not make is FOREIGN. Reads only. Guests whose filesystem cannot be read are
 * DISK_GUEST_UNREADABLE (why says what failed), never an error. On success
 * *ret is filled; release it with disk_guests_release().
 */
int disk_guest_scan(struct disk *k, struct disk_guests *ret, struct pb_err *err);
void disk_guests_release(struct disk_guests *g);
/* The entry of guests g for partition NAME (name or number), or NULL. */
const struct disk_guest *disk_guests_find(const struct disk_guests *g, const char *name);
/* "complete", "incomplete", "unreadable", "foreign" or "" (static). */
const char *disk_guest_state_to_string(enum disk_guest_state s);

/*
 * Open partition NAME's filesystem read-only (fs_open(); ls, cat). *ret is
 * the caller's: fs_free().
 */
int disk_fs_open(struct disk *k, const char *name, struct fs **ret, struct pb_err *err);

/* ---- the boot menu (menu.c) --------------------------------------------------------------- */

/*
 * Rewrite grub.cfg from the guests (one entry per bootable guest); a no-op
 * when no bootloader is installed. Guests left out are reported through
 * diag->warn, except a guest the caller is installing (quiet, may be NULL).
 */
int disk_menu_refresh(struct disk *k, const char *quiet, struct pb_err *err);

/* Install GRUB (boot_install(), flags BOOT_INSTALL_*; 0 = what the disk has room for) with the menu. */
int disk_bootloader_install(struct disk *k, unsigned flags, struct pb_err *err);

/* ---- changing partitions (part.c) ---------------------------------------------------------- */

/*
 * Remove partition NAME (name or number): the table entry, then its menu
 * entry and any grubenv default/next naming it. Refuses a partition in use.
 */
int disk_remove(struct disk *k, const char *name, struct part_info *ret_removed, struct pb_err *err);
/* Rename; the menu follows, and so do default and next when they named it. */
int disk_rename(struct disk *k, const char *name, const char *new_name, struct pb_err *err);

/*
 * Make an empty filesystem in NAME (kind FS_KIND_NONE = the type's default:
 * vfat for the ESP, swap for swap, ext4 otherwise; label NULL = the one given
 * to add). A guest that was there leaves the menu. *ret_kind (may be NULL)
 * gets the kind made.
 */
int disk_mkfs(struct disk *k, const char *name, enum fs_kind kind, const char *label, enum fs_kind *ret_kind,
	      struct pb_err *err);

/* ---- whole guests: resize, move, clone, snapshots, export (resize.c ... export.c) ----------- */

/*
 * Resize partition NAME to size (0 = up to the next partition or the end)
 * with the ext2/3/4 filesystem inside (resize2fs): grown into the new room,
 * or shrunk first, never below resize2fs -P's minimum (the refusal names
 * it); other contents: the table entry alone. The guest reads incomplete
 * (and leaves the menu) while it changes; a guest running in a VM is
 * refused. ret (may be NULL) describes the partition afterwards.
 */
int disk_resize(struct disk *k, const char *name, uint64_t size, struct part_info *ret, struct pb_err *err);

/*
 * Move partition NAME with its data to start (bytes, 1 MiB aligned), or,
 * when after is set, right behind partition after. Its number, UUID, name,
 * type and size stay. Into free space the data is copied before the table
 * switches (the old copy is the guest until then); an overlapping move (an
 * ext2/3/4 guest only) goes through a snapshot beside the disk's snapshots
 * (see disk_snapshot()) and the guest reads incomplete until it is done.
 * bios-boot partitions are refused. ret (may be NULL): the partition after.
 */
int disk_move(struct disk *k, const char *name, uint64_t start, const char *after, struct part_info *ret,
	      struct pb_err *err);

struct disk_clone_opts {
	uint64_t size;        /* the new partition's size; 0 = the source partition's (the filesystem grows into more) */
	const char *hostname; /* NULL = from the new name, as install makes it */
};

/*
 * A new partition NEW on to (or on k when to is NULL) holding a copy of
 * guest SRC: the blocks in use only (the rest sparse), a new PARTUUID and
 * filesystem UUID, fstab, /etc/kernel/cmdline and hostname updated, then
 * the menu of that disk refreshed. The source must be complete, with a
 * clean journal, and not running. ret (may be NULL): the new partition.
 */
int disk_clone(struct disk *k, const char *src, struct disk *to, const char *new_name,
	       const struct disk_clone_opts *o, struct part_info *ret, struct pb_err *err);

struct disk_snapshot_opts {
	const char *to;   /* the file; NULL = DIR/NAME-YYYYMMDD-HHMMSS.img[.zst] */
	const char *dir;  /* NULL = DISK.snapshots beside an image, /var/lib/partboot/snapshots/DISK-ID for a device */
	bool zstd;        /* compressed (zstd), else a sparse raw image */
};

/* One snapshot: its file and its header. Release with disk_snapshot_release(). */
struct disk_snapshot {
	struct strbuf path;
	struct fs_snapshot_info info;
};
void disk_snapshot_release(struct disk_snapshot *s);

/*
 * Save guest NAME's partition to a snapshot file (fs_snapshot_save(): the
 * blocks in use, and from an image file every byte that is not a hole, so
 * a rollback restores the same bytes). Reads the disk only; refused while
 * the guest runs in a VM. *ret (initialise its path with STRBUF_INIT; may
 * be NULL) names the file written.
 */
int disk_snapshot(struct disk *k, const char *name, const struct disk_snapshot_opts *o, struct disk_snapshot *ret,
		  struct pb_err *err);

struct disk_snapshots {
	struct disk_snapshot *v; /* oldest first */
	size_t n, cap;
};
/* The snapshots of partition NAME (by PARTUUID) in dir (NULL: the default folder). Reads only. */
int disk_snapshots(struct disk *k, const char *name, const char *dir, struct disk_snapshots *ret, struct pb_err *err);
void disk_snapshots_release(struct disk_snapshots *l);

/*
 * Put snapshot file back into partition NAME: afterwards it holds the bytes
 * it held when the snapshot was taken. Refuses a snapshot of another size,
 * or of another partition (by PARTUUID) unless force, and a guest running
 * in a VM; the snapshot is checked (a zstd one unpacked to scratch) before
 * the partition is written, and the guest reads incomplete until it is
 * whole.
 */
int disk_rollback(struct disk *k, const char *name, const char *file, bool force, struct pb_err *err);

struct disk_export_opts {
	uint64_t size;       /* the guest's partition in the export; 0 = as now; larger grows its filesystem */
	const char *seed;    /* reproducible identifiers in the new disk */
	const char *display; /* internal: the name messages use for the new disk (NULL = OUT) */
};

/*
 * Guest NAME as a disk of its own in OUT (.img or .raw: raw; .qcow2, .vmdk
 * through qemu-img): GPT, a BIOS boot partition, an ESP, the guest, and
 * partboot's GRUB for BIOS and UEFI; it boots through SeaBIOS, OVMF and
 * partboot run. Reads k only; OUT is written under a temporary name and
 * renamed when whole; an existing OUT is refused.
 */
int disk_export(struct disk *k, const char *name, const char *out, const struct disk_export_opts *o,
		struct pb_err *err);
/* ---- logging into what is installed (customize.c) ------------------------------------------ */

/* What happens to root's password besides setting one from a file. */
enum disk_root_password {
	DISK_ROOT_PASSWORD_KEEP = 0, /* as the guest has it (or as root_password_file says) */
	DISK_ROOT_PASSWORD_LOCKED,   /* '!' put before the current hash, as passwd -l does (passwd -u undoes it) */
	DISK_ROOT_PASSWORD_DISABLED, /* '*': no password works (keys, su from root still do) */
};

/*
 * Changes to a guest, for install, apply and customize (docs/customize.md).
 * Strings borrowed. Zero-initialise, then set. Password files hold the
 * password on their first line; "-" reads it from password_fd. Passwords are
 * hashed with yescrypt (libcrypt), as Debian 12 does, and are never part of a
 * message, a note or a plan line.
 */
struct disk_customize_opts {
	const char *root_password_file;       /* root's new password */
	enum disk_root_password root_password; /* LOCKED or DISABLED (not with root_password_file) */
	const char *user;                     /* "NAME[:GROUP,...]": a new user, as adduser makes one */
	const char *user_password_file;       /* the new user's password; NULL = none ('*': keys only) */
	const char *const *ssh_keys;          /* public key files: root's authorized_keys, or user's when set */
	size_t n_ssh_keys;
	const char *keys_for;                 /* without user: an existing account whose keys they are (NULL = root) */
	const char *firstboot;                /* a script run once at the next boot (systemd unit) */
	const char *cloud_init;               /* NoCloud user-data into /var/lib/cloud/seed/nocloud */
	const char *meta_data;                /* its meta-data; NULL = instance-id and local-hostname */
	int password_fd;                      /* what "-" reads; 0 = standard input */
	/*
	 * DHCP on the VM runner's virtio network card: a systemd-networkd
	 * .network matching Driver=virtio_net only (a real machine's cards are
	 * left to the guest), networkd enabled. For `partboot ssh`.
	 */
	bool vm_network;
};

/* True when o asks for nothing. */
bool disk_customize_empty(const struct disk_customize_opts *o);

/*
 * Check o without reading a file or a disk: options that fit together,
 * user and group names (adduser's rules). -EINVAL with a message.
 */
int disk_customize_check(const struct disk_customize_opts *o, struct pb_err *err);

enum {
	DISK_CUSTOMIZE_DRY_RUN = 1 << 0, /* check everything and say what would change (diag->note); write nothing */
};

/*
 * Change complete guest NAME in place, without mounting. The whole request
 * is checked before the first write: the files given (passwords not empty,
 * public keys that are keys, a first-boot script that is text with an
 * interpreter the guest has), and against the guest (its /etc/shadow, the
 * user new, its groups there, systemd for --firstboot, cloud-init for the
 * seed). Then the files change, each replaced whole in one step (fs.h),
 * in an order that keeps the guest usable at every moment: homes and keys
 * first, then shadow, gshadow, group, and passwd last (a user exists once
 * it is complete); units before the link that enables them. The guest is
 * not marked incomplete meanwhile: an interrupted run leaves a bootable
 * guest with some of the changes, and the same request run again finishes
 * it. One diag->note per change. flags: DISK_CUSTOMIZE_*.
 */
int disk_customize(struct disk *k, const char *name, const struct disk_customize_opts *o, unsigned flags,
		   struct pb_err *err);

/* ---- installing a guest (install.c) -------------------------------------------------------- */

/* What disk_install() is asked for. Strings borrowed. Zero-initialise, then set. */
struct disk_install_opts {
	/*
	 * Where the guest comes from: a tar archive (plain, gzip, xz, zstd) or a
	 * directory; "-" for standard input (source_fd); "iso:FILE" a live ISO;
	 * "debootstrap:SUITE[:VARIANT]" Debian through mmdebstrap;
	 * "disk:IMAGE[:PARTITION]" the root of a disk image (raw, qcow2, vmdk;
	 * see disk/import.c), copied and grown to the partition. For an OS
	 * installer in a VM set via_vm instead.
	 */
	const char *source;
	int source_fd;          /* source "-": the descriptor to read (not closed); 0 = standard input */
	bool wipe;              /* a new filesystem even when one is there */
	const char *label;      /* for a new filesystem; NULL = the partition's label */
	const char *hostname;   /* NULL = from the partition name */
	const char *cmdline;    /* /etc/kernel/cmdline; NULL = the guest's own, else "ro quiet" */
	/* debootstrap: only */
	const char *mirror;     /* NULL = the host's */
	const char *deb_cache;  /* keep downloaded .debs here */
	bool no_kernel;
	bool verbose;           /* the tool's own progress on standard error */
	/*
	 * Through an OS installer in the VM (firmware mode): via_vm is an ISO,
	 * an optical drive, pxe:DIR or pxe:URL; answers the answers file (may be
	 * NULL); vm the VM options (mode BIOS or UEFI, memory, console...).
	 */
	const char *via_vm;
	const char *answers;
	/*
	 * How the installer gets the answers: NULL = the URL the medium's boot
	 * configuration names on 10.0.2.2 (vm_install_answers_url()), when it
	 * names one, else a raw answers disk; a URL = served there over HTTP on
	 * 127.0.0.1 for the installer's lifetime (vm_serve_answers()).
	 */
	const char *answers_url;
	const struct vm_opts *vm;
	/* debootstrap: only: more packages for mmdebstrap's --include ("openssh-server,sudo" or blanks) */
	const char *packages;
	/*
	 * Passwords, a user, keys, a first-boot script, a cloud-init seed (see
	 * disk_customize()), written in the install's own session before the
	 * guest is marked complete; may be NULL. Files are read and checked
	 * before the first write; what depends on the guest's content (its
	 * groups, a user already there) once it is filled, a refusal then
	 * leaving the guest incomplete.
	 */
	const struct disk_customize_opts *customize;
};

/* What disk_install() reports besides success. Initialise with DISK_INSTALL_RESULT_INIT, release it. */
struct disk_install_result {
	int vm_status;       /* via_vm: the VM's VM_EXIT_* verdict (0 when it did not run) */
	struct strbuf from;  /* what the guest came from, for messages ("mmdebstrap bookworm ... from URL") */
};
#define DISK_INSTALL_RESULT_INIT { 0, STRBUF_INIT }
void disk_install_result_release(struct disk_install_result *r);

/*
 * Install guest NAME from a source. The whole request is checked first (the
 * source exists and is what it says, the partition is a root or data one,
 * unused, not locked; hostname and cmdline are valid), before the first
 * write; a partition holding an install partboot did not make (a foreign
 * guest) is refused unless wipe. Then: the guest is marked incomplete and
 * leaves the menu, the fill (or the installer in the VM), the after-install
 * steps (fs.h), the complete marker, and the menu refresh that lists it. A
 * failure leaves the guest incomplete and out of the menu. ret may be NULL.
 */
int disk_install(struct disk *k, const char *name, const struct disk_install_opts *o,
		 struct disk_install_result *ret, struct pb_err *err);

/*
 * Check a request without a disk: the options fit together, the source's
 * syntax (debootstrap:SUITE[:VARIANT]), hostname and cmdline. -EINVAL with a
 * message; disk_install() does the same first. disk_source_check() checks a
 * source string alone.
 */
int disk_install_check(const struct disk_install_opts *o, struct pb_err *err);
int disk_source_check(const char *source, struct pb_err *err);

/* ---- adopting an install partboot did not make (adopt.c) ------------------------------------- */

/* What disk_guest_adopt() is asked for. Strings borrowed; NULL = leave alone. */
struct disk_adopt_opts {
	const char *hostname; /* write /etc/hostname and /etc/hosts' 127.0.1.1 line */
	const char *cmdline;  /* write /etc/kernel/cmdline (else only when the guest has none) */
};

/*
 * Make the foreign guest NAME partboot's: the after-install steps of every
 * install (fs_install_opts.setup) on the filesystem as it is, and nothing
 * else: /etc/fstab (root by filesystem UUID, the guest's other mounts kept
 * with nofail), /etc/kernel/cmdline (only when it has none, or o->cmdline),
 * /etc/hostname and /etc/hosts (only with o->hostname), FS_PARTBOOT_MARKER;
 * then the boot menu. Refuses, before any write, a partition that is not a
 * foreign guest (already partboot's, incomplete, no Linux install), one that
 * is not ext4, or is in use. Returns 0 or -errno.
 */
int disk_guest_adopt(struct disk *k, const char *name, const struct disk_adopt_opts *o, struct pb_err *err);

/* ---- a whole disk from a layout (apply.c) --------------------------------------------------- */

enum disk_step_kind {
	DISK_STEP_CREATE = 0,   /* the image file is created */
	DISK_STEP_TABLE,        /* a new partition table */
	DISK_STEP_ADD,          /* a partition is added */
	DISK_STEP_KEEP,         /* a partition is kept (possibly resized or retyped with --force) */
	DISK_STEP_MKFS,         /* a filesystem is made */
	DISK_STEP_INSTALL,      /* a guest is installed */
	DISK_STEP_BOOTLOADER,   /* GRUB is installed */
	DISK_STEP_MENU,         /* the menu of a bootloader already there is refreshed */
	DISK_STEP_DEFAULT,      /* the default guest is set */
	DISK_STEP_NOTE,         /* nothing to do; text says why */
};

/* One step of a plan. Strings owned by the plan. */
struct disk_step {
	enum disk_step_kind kind;
	const char *text;       /* the plan line, e.g. "install 'alpha' from /x/guest.tar (hostname alpha)" */
	const char *partition;  /* the partition it is about, or NULL */
	/* ADD, KEEP: where */
	uint64_t start, size;
	enum part_type type;
	/* MKFS */
	enum fs_kind fs;
	/* INSTALL */
	const char *source;     /* resolved: an absolute path, "iso:PATH" or "debootstrap:..." */
	const char *hostname;
	const char *cmdline;    /* NULL when the layout has none */
	bool wipe;
	const char *packages;   /* debootstrap: more packages (comma-separated), or NULL */
	/* what goes into the guest (root-password-file, user, ssh-key, ...; paths resolved), or NULL */
	const struct disk_customize_opts *customize;
	/* BOOTLOADER: BOOT_INSTALL_* */
	unsigned boot_flags;
	/* DEFAULT */
	const char *guest;
};

struct disk_plan;

enum {
	DISK_APPLY_FORCE = 1 << 0,   /* change what differs even when it holds data; reinstall */
	DISK_APPLY_DRY_RUN = 1 << 1, /* plan only: the disk is not created or written */
	DISK_APPLY_VERBOSE = 1 << 2, /* the tools' own progress (mmdebstrap) on standard error */
};

/* "create", "table", "add", "keep", "mkfs", "install", "bootloader", "menu", "default", "note". */
const char *disk_step_kind_to_string(enum disk_step_kind k);

/*
 * Plan building DISK from layout LAYOUT (docs/layout.md): parse and check
 * the whole layout (FILE:LINE in every refusal), open and lock the disk
 * (creating it unless DRY_RUN: a plan against a scratch copy of its size),
 * build the table in memory and decide each partition's steps from what the
 * disk holds, refusing what would destroy data unless FORCE. Nothing is
 * written. seed overrides the layout's (may be NULL). On success *ret is the
 * caller's: disk_plan_free().
 */
int disk_plan_new(const char *disk, const char *layout, const char *seed, unsigned flags,
		  const struct disk_diag *diag, struct disk_plan **ret, struct pb_err *err);
void disk_plan_free(struct disk_plan *plan);

size_t disk_plan_count(const struct disk_plan *plan);
const struct disk_step *disk_plan_step(const struct disk_plan *plan, size_t i);

/*
 * Carry the plan out: the table first (part_disk_write), then each step in
 * order, with one diag->note per step. A failure stops there; a later apply
 * finishes the job (complete guests are kept). A disk the plan created is
 * removed again when the table could not be written. -EINVAL for a dry-run
 * plan.
 */
int disk_plan_execute(struct disk_plan *plan, struct pb_err *err);

/* ---- boots (run.c) ----------------------------------------------------------------------------- */

/*
 * Prepare guest NAME of k for the VM runner (vm_prepare()): refuses an
 * incomplete guest, and in direct mode one without a kernel, or without the
 * kernel o->kernel names (a version of its kernels; NULL = the newest). A
 * guest with a separate /boot brings that partition into the VM too. The
 * VM holds NAME's partition lock (and its /boot's); k's whole-disk lock is
 * let go so other guests stay usable (no disk_* change is possible on k
 * afterwards). k must outlive *ret (vm_free()).
 */
int disk_vm_prepare(struct disk *k, const char *name, const struct vm_opts *o, struct vm **ret,
		    struct pb_err *err);

/*
 * Give the VM prepared for guest NAME (disk_vm_prepare()) a cloud-init
 * NoCloud seed: user_data (cloud-config, a #! script, MIME or gzip) and
 * meta_data (may be NULL: an instance-id from NAME and the user-data, so
 * new user-data is a new instance, and local-hostname from the guest's
 * /etc/hostname), as a read-only volume labelled cidata (vm_attach_cloud_init()).
 */
int disk_vm_cloud_init(struct disk *k, const char *name, struct vm *vm, const char *user_data, const char *meta_data,
		       struct pb_err *err);

/* ---- partboot ssh (ssh.c) ------------------------------------------------------------------------ */

/* How long disk_ssh_start() waits for the guest's sshd by default (TCG boots are slow). */
#define DISK_SSH_TIMEOUT 600

/* What partboot ssh is asked for. Strings borrowed. Zero-initialise, then set. */
struct disk_ssh_opts {
	const char *user;         /* log in as; NULL = root */
	const char *key_dir;      /* partboot's keys; NULL = $XDG_DATA_HOME/partboot/ssh (~/.local/share/...) */
	unsigned timeout;         /* seconds to wait for sshd; 0 = DISK_SSH_TIMEOUT */
	const struct vm_opts *vm; /* for a VM partboot starts (mode, memory, ...); NULL = the defaults */
	const char *console_path; /* that VM's serial console; NULL = console-PARTUUID.log beside the key */
	/* about once a second while waiting for sshd: seconds waited and the timeout (may be NULL) */
	void (*waiting)(unsigned waited, unsigned timeout, unsigned port, void *userdata);
	void *userdata;
};

/* A session: the VM (joined or started) and how to reach its sshd. */
struct disk_ssh;

/*
 * Get guest NAME of k to where ssh can log in (docs/ssh.md):
 *  - refuses a guest without an SSH server (/usr/sbin/sshd) with a message
 *    saying how to add one, a guest without host keys, an incomplete one;
 *  - the per-disk key: KEY_DIR/DISK-ID/id_ed25519, made with ssh-keygen the
 *    first time (DISK-ID the GPT disk GUID or dos signature);
 *  - a VM already running NAME with an SSH port forward (its runtime file,
 *    vm_runtime_read()) is joined; its guest must have partboot's key;
 *  - otherwise partboot's key goes into root's authorized_keys (and the
 *    user's) when it is not there, with DHCP for the VM's network card
 *    (disk_customize(), reported through diag->note), and NAME boots in
 *    the VM runner (o->vm, user networking, a free 127.0.0.1 port forwarded
 *    to 22) in the background;
 *  - then waits for sshd's banner (o->waiting), o->timeout at most.
 * The host key ssh checks against is the one read from the guest's
 * /etc/ssh/ssh_host_*_key.pub. *ret is the caller's: disk_ssh_free().
 */
int disk_ssh_start(struct disk *k, const char *name, const struct disk_ssh_opts *o, struct disk_ssh **ret,
		   struct pb_err *err);
/*
 * Run ssh into the guest (command NULL or empty: a login shell) with the
 * terminal, partboot ignoring SIGINT meanwhile; *ret_status is ssh's exit
 * status (the command's, or 255).
 */
int disk_ssh_exec(struct disk_ssh *s, char *const *command, int *ret_status, struct pb_err *err);
/*
 * A VM disk_ssh_start() started is powered off (systemctl poweroff through
 * ssh, then the power button, then a hard stop) and waited for; a joined
 * one is left running. *ret_vm_status (may be NULL) gets its verdict.
 */
int disk_ssh_stop(struct disk_ssh *s, int *ret_vm_status, struct pb_err *err);
/* Whether the VM was running already (joined); the serial console file of one partboot started. */
bool disk_ssh_joined(const struct disk_ssh *s);
const char *disk_ssh_console(const struct disk_ssh *s);
/* Stops a VM it started that still runs; frees. Accepts NULL. */
void disk_ssh_free(struct disk_ssh *s);

/* Boot guest NAME on this machine (boot_native()): next boot, reboot or kexec. */
int disk_boot_native(struct disk *k, const char *name, enum boot_native_action action, struct pb_err *err);

#endif
