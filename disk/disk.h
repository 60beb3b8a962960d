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
 * copied.
 */
void disk_set_seed(struct disk *k, const char *seed);

/* ---- guests (guest.c) ------------------------------------------------------------------- */

enum disk_guest_state {
	DISK_GUEST_NONE = 0,     /* not a guest: no ext2/3/4 filesystem on a root or data partition */
	DISK_GUEST_COMPLETE,     /* an install finished (or nothing says otherwise) */
	DISK_GUEST_INCOMPLETE,   /* an install is under way or was interrupted */
	DISK_GUEST_UNREADABLE,   /* looks like one, but its filesystem cannot be read */
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
};

struct disk_guests {
	struct disk_guest *v;        /* one per partition, in partition order */
	size_t n;
};

/*
 * Look at every partition of k: a guest is a root or data partition holding
 * ext2, ext3 or ext4. Reads only. Guests whose filesystem cannot be read are
 * DISK_GUEST_UNREADABLE (why says what failed), never an error. On success
 * *ret is filled; release it with disk_guests_release().
 */
int disk_guest_scan(struct disk *k, struct disk_guests *ret, struct pb_err *err);
void disk_guests_release(struct disk_guests *g);
/* The entry of guests g for partition NAME (name or number), or NULL. */
const struct disk_guest *disk_guests_find(const struct disk_guests *g, const char *name);
/* "complete", "incomplete", "unreadable" or "" (static). */
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
 * Resize the entry of NAME to size (0 = the largest free run after it),
 * never below its filesystem. ret (may be NULL) describes it afterwards.
 */
int disk_resize(struct disk *k, const char *name, uint64_t size, struct part_info *ret, struct pb_err *err);
/*
 * Make an empty filesystem in NAME (kind FS_KIND_NONE = the type's default:
 * vfat for the ESP, swap for swap, ext4 otherwise; label NULL = the one given
 * to add). A guest that was there leaves the menu. *ret_kind (may be NULL)
 * gets the kind made.
 */
int disk_mkfs(struct disk *k, const char *name, enum fs_kind kind, const char *label, enum fs_kind *ret_kind,
	      struct pb_err *err);

/* ---- installing a guest (install.c) -------------------------------------------------------- */

/* What disk_install() is asked for. Strings borrowed. Zero-initialise, then set. */
struct disk_install_opts {
	/*
	 * Where the guest comes from: a tar archive (plain, gzip, xz, zstd) or a
	 * directory; "-" for standard input (source_fd); "iso:FILE" a live ISO;
	 * "debootstrap:SUITE[:VARIANT]" Debian through mmdebstrap. For an OS
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
 * write. Then: the guest is marked incomplete and leaves the menu, the fill
 * (or the installer in the VM), the after-install steps (fs.h), the complete
 * marker, and the menu refresh that lists it. A failure leaves the guest
 * incomplete and out of the menu. ret may be NULL.
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
 * Prepare guest NAME of k for the VM runner (vm_prepare_guest()): refuses an
 * incomplete guest, and in direct mode one without a kernel. The VM holds
 * NAME's partition lock; k's whole-disk lock is let go so other guests stay
 * usable (no disk_* change is possible on k afterwards). k must outlive
 * *ret (vm_free()).
 */
int disk_vm_prepare(struct disk *k, const char *name, const struct vm_opts *o, struct vm **ret,
		    struct pb_err *err);

/* Boot guest NAME on this machine (boot_native()): next boot, reboot or kexec. */
int disk_boot_native(struct disk *k, const char *name, enum boot_native_action action, struct pb_err *err);

#endif
