/* SPDX-License-Identifier: MIT */
/*
 * fs — filesystems inside partitions, without mounting: make them (ext4,
 * vfat, swap), fill them from a tar stream or a directory (libarchive +
 * libext2fs, in-process), and read files back out.
 *
 * Everything addresses a struct fs_target: a disk path plus the byte range of
 * one partition. Every write goes through one I/O layer that refuses writes
 * outside that range.
 */
#ifndef PARTBOOT_FS_H
#define PARTBOOT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

/* One partition of one disk. Strings are borrowed; the caller keeps them alive. */
struct fs_target {
	const char *path;  /* image file or block device */
	uint64_t offset;   /* bytes */
	uint64_t size;     /* bytes */
	const char *where; /* for messages, e.g. "disk.img: partition 'deb12'" */
	const char *name;  /* partition name for seeded identifiers; NULL = use the offset */
};

enum fs_kind {
	FS_KIND_NONE = 0,
	FS_KIND_EXT4,
	FS_KIND_VFAT,
	FS_KIND_SWAP,
};

/* "ext4", "vfat" (or "fat", "fat32"), "swap", "none" → kind; -EINVAL otherwise. */
int fs_kind_from_string(const char *s, enum fs_kind *ret);
/* The kind's name (static string). */
const char *fs_kind_to_string(enum fs_kind k);

/*
 * What filesystem libblkid finds in the target: FS_KIND_EXT4 for ext2/3/4,
 * FS_KIND_VFAT, FS_KIND_SWAP, or FS_KIND_NONE for nothing (or another kind).
 * Returns 0 or -errno (the disk cannot be read).
 */
int fs_probe(const struct fs_target *t, enum fs_kind *ret, struct pb_err *err);

struct fs_mkfs_opts {
	enum fs_kind kind;
	const char *label; /* NULL = none */
	const char *seed;  /* NULL = random UUIDs; else UUID, hash seed and times derive from seed */
};

/*
 * Make an empty filesystem in the target: ext4 (mke2fs -E offset=, 4 KiB
 * blocks), FAT32 (mkfs.fat --offset, at least 33 MiB) or a swap header.
 * Clears the range first (holes punched in an image file). Returns 0 or
 * -errno with err naming the target (-ENOENT when the tool is missing).
 */
int fs_mkfs(const struct fs_target *t, const struct fs_mkfs_opts *opts, struct pb_err *err);

/* A filesystem open for reading, or for editing (fs_open(), fs_open_rw()). */
struct fs;

/* Progress of a long fill: done and total bytes (total 0 when unknown). */
typedef void (*fs_progress_fn)(uint64_t done, uint64_t total, void *userdata);

struct fs_install_opts {
	const char *source;  /* tar archive (plain/gz/xz/zst), "-" for stdin, or a directory */
	bool wipe;           /* make a new filesystem even when one exists */
	const char *label;   /* for a new filesystem */
	const char *seed;    /* see fs_mkfs_opts */
	fs_progress_fn progress;
	void *userdata;
	/* Called for a warning (a socket skipped, ...); may be NULL. */
	void (*warn)(const char *msg, void *userdata);

	/*
	 * A tar stream on a file descriptor (a pipe from mmdebstrap): when
	 * source_is_fd, source_fd is read (never closed) and source only names
	 * it in messages ("mmdebstrap").
	 */
	bool source_is_fd;
	int source_fd;
	/*
	 * Called once the archive's end was read, before the guest is set up
	 * and marked complete: the producer of a stream is waited for here, so
	 * a failing mmdebstrap leaves the guest incomplete. <0 fails the
	 * install with err filled. May be NULL.
	 */
	int (*source_end)(void *source_userdata, struct pb_err *err);
	void *source_userdata;
	/*
	 * Called when a complete guest was already in the partition, right
	 * after it was marked incomplete on the disk and before anything else
	 * is written (mkfs included): the caller (disk_install()) refreshes the
	 * boot menu here, so an interrupted install is never listed. <0 fails the install (the
	 * guest stays incomplete). May be NULL.
	 */
	int (*marked)(void *marked_userdata, struct pb_err *err);
	void *marked_userdata;

	/*
	 * The after-install steps (fs/setup.c), written in the same session
	 * before the marker goes, when setup is true: /etc/fstab naming the
	 * root by filesystem UUID (the guest's other mounts kept, with
	 * "nofail" added), /etc/hostname and the 127.0.1.1 line of /etc/hosts
	 * (when hostname is set), /etc/kernel/cmdline (cmdline when set, else
	 * the guest's own, else "ro quiet").
	 */
	bool setup;
	const char *hostname;
	const char *cmdline;

	/*
	 * More edits of the guest in the same session, after the after-install
	 * steps and before the marker goes (disk/customize.c: passwords,
	 * users, keys, first-boot units): fs is open for editing (the fs_*
	 * edit functions below) and valid only during the call. <0 fails the
	 * install and leaves the guest incomplete. May be NULL.
	 */
	int (*customize)(struct fs *fs, void *customize_userdata, struct pb_err *err);
	void *customize_userdata;
};

/*
 * Fill the target's ext4 filesystem from a source (making it first when there
 * is none, wipe is set, or an earlier install left it incomplete). The guest
 * is marked incomplete before the first file and complete only at the very
 * end; see fs_guest_info(). A source that is missing or not an archive is
 * refused before the disk is touched. Returns 0 or -errno: -ENOENT (source),
 * -EIO (truncated/corrupt archive, the message names the entry), -ENOSPC
 * ("N needed, M free"), -EOPNOTSUPP (a file type ext4 cannot hold), -EEXIST
 * (another filesystem there and no wipe), ...
 */
int fs_install(const struct fs_target *t, const struct fs_install_opts *opts, struct pb_err *err);

/*
 * A few small files of an install source (a tar/cpio archive file, any
 * compression, or a directory; fs_install_opts.source), read before the
 * install writes anything: paths[i] (relative: "etc/passwd") into out[i],
 * state[i] saying whether the unpacked guest would have it as that plain
 * file (FS_PEEK_FOUND), would not have it (FS_PEEK_MISSING), or cannot be
 * told without unpacking (FS_PEEK_UNKNOWN: standard input, a symlink or
 * hard link on the way, a file over max bytes, an archive that does not
 * read to its end). An archive is read to its end (the last entry of a name
 * wins); a directory is read without following symlinks. At most
 * FS_PEEK_MAX paths. Never fails: what cannot be read is unknown. out[i]
 * are the caller's (initialized strbufs).
 */
enum fs_peek { FS_PEEK_UNKNOWN, FS_PEEK_MISSING, FS_PEEK_FOUND };
#define FS_PEEK_MAX 8
void fs_source_peek(const char *source, const char *const *paths, size_t n, size_t max, struct strbuf *out,
		    enum fs_peek *state);

/* True when h is a valid hostname: dot-separated labels of letters, digits and '-' (RFC 1123). */
bool fs_hostname_valid(const char *h);
/*
 * The default hostname of a guest: its partition NAME with what a hostname
 * cannot hold made '-' ("guest" when nothing is left). Writes into buf.
 */
void fs_hostname_from_name(const char *name, char *buf, size_t size);

/*
 * Open the target's ext4 filesystem read-only. -EMEDIUMTYPE when there is
 * none. On success *ret is owned by the caller: fs_free() it (accepts NULL).
 * t's strings are copied; t need not outlive the struct fs.
 */
int fs_open(const struct fs_target *t, struct fs **ret, struct pb_err *err);
void fs_free(struct fs *fs);

/*
 * Read a whole regular file; symlinks are followed inside the guest (an
 * absolute link resolves against the guest's root, never the host's).
 * *ret_data is malloc'ed, owned by the caller, NUL-terminated beyond len.
 */
int fs_read_file(struct fs *fs, const char *path, char **ret_data, size_t *ret_len, struct pb_err *err);
/*
 * fs_read_file() of a file that is at most max bytes: a larger one is
 * -EFBIG ("PATH is larger than MAX"), told from its inode before anything
 * is read. For what partboot reads on its own from a guest (a kernel, an
 * initrd), whose sizes the guest chooses.
 */
int fs_read_file_max(struct fs *fs, const char *path, uint64_t max, char **ret_data, size_t *ret_len,
		     struct pb_err *err);

/* The most partboot reads of a guest's kernel and of its initrd (VM runner, kexec). */
#define FS_KERNEL_MAX (256ull << 20)
#define FS_INITRD_MAX (2ull << 30)

struct fs_dirent {
	const char *name;
	char type; /* 'f' file, 'd' dir, 'l' symlink, 'c', 'b', 'p', 's', '?' */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime;
	const char *link; /* symlink target, or NULL */
};
typedef int (*fs_dir_fn)(const struct fs_dirent *e, void *userdata);
/*
 * Call fn for each entry of a directory (no "." or "..", in directory order);
 * fn returning <0 stops and that value is returned (err left alone). The
 * entry's strings are valid only during the call. -ENOENT / -ENOTDIR.
 */
int fs_list_dir(struct fs *fs, const char *path, fs_dir_fn fn, void *userdata, struct pb_err *err);

/* What a guest filesystem holds, for list, the boot menu and the VM runner. */
struct fs_kernel {
	char *version; /* "6.1.0-28-amd64" */
	char *kernel;  /* "/boot/vmlinuz-6.1.0-28-amd64" (on a separate /boot partition: "/vmlinuz-...") */
	char *initrd;  /* "/boot/initrd.img-6.1.0-28-amd64", or NULL when there is none */
	char *config;  /* "/boot/config-6.1.0-28-amd64" (the kernel's build options), or NULL */
};

/*
 * The file partboot's installs write (fs/setup.c) and `partboot adopt`
 * writes: this guest's fstab, hostname, hosts and kernel/cmdline are
 * partboot's to set. A guest without it (and without partboot's fstab
 * header, which installs made before the marker existed have) is one
 * partboot did not make: disk/ calls it foreign and writes nothing into it.
 */
#define FS_PARTBOOT_MARKER "/var/lib/partboot/guest"

struct fs_guest_info {
	bool complete;           /* false while an install is under way or was interrupted */
	bool partboot;           /* FS_PARTBOOT_MARKER exists, or /etc/fstab starts with partboot's header */
	char *pretty_name;       /* PRETTY_NAME from os-release, or NULL */
	char *cmdline;           /* the guest's own kernel arguments on one line (any length), or NULL */
	const char *cmdline_from; /* where cmdline came from: "/etc/kernel/cmdline", "/etc/default/grub" (static), or NULL */
	struct fs_kernel *kernels; /* newest first (version order) */
	size_t n_kernels;
	/*
	 * /boot is a filesystem of its own: the source and type of fstab's
	 * /boot line ("UUID=...", "ext4"), else NULL. The kernels are then on
	 * that partition (disk/ finds it and calls fs_boot_kernels() there);
	 * what the root's own /boot directory holds is what the real system
	 * hides under the mount.
	 */
	char *boot_source;
	char *boot_fstype;
};
/*
 * Fill *ret: complete is false while /.partboot-incomplete exists; partboot
 * as above; pretty_name from /etc/os-release (its symlink followed inside the
 * guest) or /usr/lib/os-release; cmdline from /etc/kernel/cmdline (newlines
 * and tabs become spaces, surrounding blanks dropped; NULL when empty), else
 * from /etc/default/grub and the .cfg files of /etc/default/grub.d as grub-mkconfig
 * builds it ("ro" GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT, see
 * fs_grub_cmdline()); kernels from /boot (fs_boot_kernels()); boot_source
 * from /etc/fstab. Missing files just leave fields empty. Returns 0; *ret
 * owns its strings: fs_guest_info_release() it.
 */
int fs_guest_info(struct fs *fs, struct fs_guest_info *ret, struct pb_err *err);
/* Free what fs_guest_info() filled and zero it; accepts a zeroed struct. */
void fs_guest_info_release(struct fs_guest_info *gi);

/*
 * The kernels in directory dir of fs ("/boot" of a root, "/" of a separate
 * /boot partition): vmlinuz-VERSION and vmlinux-VERSION, each with its
 * initrd (initrd.img-VERSION as Debian names it, initramfs-VERSION.img as
 * Fedora and Arch do, initrd-VERSION as SUSE does; the one a /vmlinuz,
 * /boot/vmlinuz or DIR/vmlinuz link pairs with through the matching
 * initrd.img link wins) and config-VERSION. Backup and signature names
 * (.old, .bak, .sig, .hmac, .gz, ...) are not kernels. Sorted newest first by
 * strverscmp() on the version. Paths are dir + name. *ret (may be NULL when
 * *ret_n is 0) is the caller's: fs_kernels_free().
 */
int fs_boot_kernels(struct fs *fs, const char *dir, struct fs_kernel **ret, size_t *ret_n, struct pb_err *err);
void fs_kernels_free(struct fs_kernel *k, size_t n);

/*
 * The kernel command line grub-mkconfig would write for a guest's normal
 * entries, from the texts of /etc/default/grub and of the .cfg files of
 * /etc/default/grub.d (in that order, each a shell fragment): "ro", then
 * GRUB_CMDLINE_LINUX, then GRUB_CMDLINE_LINUX_DEFAULT, as Debian's and
 * Fedora's 10_linux do. Understands what these files hold: NAME=value with
 * '...', "..." and bare words, "export", comments, and $NAME / ${NAME} of
 * the variables set so far. Returns a malloc'ed line, or NULL when neither
 * variable is set (set to "" still gives "ro").
 */
char *fs_grub_cmdline(const char *const *texts, size_t n);

/*
 * The smallest size the filesystem can live in (for refusing a shrink): for
 * now its own size, block count × block size. Returns 0.
 */
int fs_min_size(struct fs *fs, uint64_t *ret, struct pb_err *err);

/* --- whole guests: resizing, copies, snapshots (fs/resize.c, copy.c, adopt.c, snapshot.c) -- */

/* What a whole-guest operation checks first (fs/info.c). */
struct fs_ext_info {
	uint64_t size;       /* the filesystem's size: blocks × block size */
	uint32_t block_size;
	char uuid[37];
	bool journal_dirty;  /* the journal needs recovery (not shut down cleanly) */
};
/* Read the target's ext2/3/4 superblock into *ret. -EMEDIUMTYPE without one. */
int fs_ext_info(const struct fs_target *t, struct fs_ext_info *ret, struct pb_err *err);
/*
 * A filesystem UUID for a new filesystem in t: with seed, the name-based one
 * fs_mkfs() would give it (seed and t->name), else random.
 */
void fs_uuid_for(const struct fs_target *t, const char *seed, char ret[37]);

/*
 * The smallest size the target's ext2/3/4 filesystem can be shrunk to, as
 * resize2fs -P computes it (blocks × block size) into *ret. -EMEDIUMTYPE
 * without one. Reads only.
 */
int fs_resize_min(const struct fs_target *t, uint64_t *ret, struct pb_err *err);

/*
 * Grow or shrink the target's ext2/3/4 filesystem to new_size bytes (whole
 * blocks; one partial block group short of it when resize2fs drops a last
 * group too small for its own metadata) with resize2fs, which is run unable
 * to truncate the image file;
 * e2fsck -fp first when resize2fs would ask for a checked filesystem. t
 * must span the larger of the old and the new size. seed: fixed times (NULL
 * = the current time). Returns 0 or -errno with the tool's message.
 */
int fs_resize(const struct fs_target *t, uint64_t new_size, const char *seed, struct pb_err *err);

/*
 * The incomplete marker around work on a whole guest (resize): op names
 * the work in the marker ("resize"); a guest already marked stays as it is.
 * fs_mark_get() says whether the target is marked and, when the marker
 * names an operation, which (*ret_op malloc'ed, caller frees; NULL for an
 * install's). Each returns 0 or -errno.
 */
int fs_mark_incomplete_for(const struct fs_target *t, const char *op, const char *seed, struct pb_err *err);
int fs_mark_complete(const struct fs_target *t, const char *seed, struct pb_err *err);
int fs_mark_get(const struct fs_target *t, bool *ret_marked, char **ret_op, struct pb_err *err);

enum fs_copy_mode {
	FS_COPY_USED = 0, /* the blocks the filesystem uses (e2image -ra's choice) */
	FS_COPY_EXACT,    /* the same bytes: from an image file also its free blocks' data (snapshot, rollback) */
	FS_COPY_RAW,      /* no filesystem read: every byte the source holds (a partition without ext2/3/4) */
};

struct fs_copy_opts {
	enum fs_copy_mode mode;
	/*
	 * The target reads as incomplete from the moment it holds a filesystem
	 * until the caller removes the marker (fs_adopt()); the marker names op
	 * ("clone"). An exact copy ends complete, the marker gone. NULL: the
	 * target holds no filesystem until the very end.
	 */
	const char *op;
	const char *uuid; /* a new filesystem UUID for the copy (with op), or NULL to keep the source's */
	const char *seed; /* fixed times for what the copy's session stamps */
	fs_progress_fn progress;
	void *userdata;
};

struct fs_copy_result {
	uint64_t bytes;        /* what was read: the plan's size */
	bool csum_seed_added;  /* the new UUID went in through metadata_csum_seed: fs_adopt() drops it */
};

/*
 * Copy the source's filesystem (or, FS_COPY_RAW, its bytes) into dst, at
 * the same offsets, reading only what fs_copy_plan (fs/copy-plan.c) says;
 * zero blocks stay holes in an image file. dst must hold the filesystem
 * (an exact copy: the whole source range). The source is only read; the
 * order of writes (fs/copy.c) means a copy cut short never reads as a
 * complete filesystem. A filesystem whose journal needs recovery is
 * refused when the copy is to be changed (op or uuid). ret may be NULL.
 */
int fs_copy(const struct fs_target *src, const struct fs_target *dst, const struct fs_copy_opts *o,
	    struct fs_copy_result *ret, struct pb_err *err);

/*
 * Make the target read as holding no filesystem: holes punched over all of
 * an image file's range, the first and last MiB of a device's zeroed.
 */
int fs_clear(const struct fs_target *t, struct pb_err *err);

/* What fs_adopt() does to a copy left incomplete by fs_copy(). Strings borrowed. */
struct fs_adopt_opts {
	bool drop_csum_seed;        /* fs_copy_result.csum_seed_added: tune2fs turns it off again */
	const char *hostname;       /* /etc/hostname and the 127.0.1.1 line of /etc/hosts; NULL = kept */
	const char *cmdline;        /* /etc/kernel/cmdline; NULL = the guest's own, with replace applied */
	const char *const *replace; /* old, new, old, new, ..., NULL: replaced in fstab and kernel/cmdline */
	const char *merge_boot;     /* a tar archive unpacked into the root first (fs_tree_tar()), or NULL */
	bool drop_boot_mount;       /* fstab loses its /boot line (its files were merged) */
	const char *seed;
	void (*warn)(const char *msg, void *userdata);
	void *userdata;
};

/*
 * A copy's last steps, then the marker removed last: the checksum seed
 * feature off again, /boot merged, the identifiers replaced, and the
 * after-install steps of every install (fs_install_opts.setup: fstab naming
 * the root by its new UUID, hostname, hosts, kernel/cmdline). Returns 0 or
 * -errno; a failure leaves the copy incomplete.
 */
int fs_adopt(const struct fs_target *t, const struct fs_adopt_opts *o, struct pb_err *err);

/*
 * Folder dir of the target's filesystem as a tar archive at out, entries
 * under prefix ("boot"): folders, files, links with owners, modes, times.
 */
int fs_tree_tar(const struct fs_target *t, const char *dir, const char *prefix, const char *out,
		struct pb_err *err);

/* A snapshot file's header (fs/snapshot.c). */
struct fs_snapshot_info {
	uint64_t size;       /* the partition's size: a rollback needs one of that size */
	uint64_t data;       /* bytes read and stored (before compression) */
	int64_t created;     /* seconds since 1970 */
	bool zstd;
	char partition[80];  /* the partition's name then */
	char partuuid[40];
	char fs_uuid[40];
	char disk_id[40];
	char note[64];       /* what the snapshot is for, when not a user's ("move 220200960"), or "" */
};

struct fs_snapshot_opts {
	bool zstd;
	int zstd_level;      /* 0 = 3 */
	int64_t created;
	/* recorded in the header (may be NULL) */
	const char *partition, *partuuid, *fs_uuid, *disk_id, *note;
	fs_progress_fn progress;
	void *userdata;
};

/*
 * Save the target (an ext2/3/4 partition) to the new file path: a sparse
 * raw image with a trailer, or zstd (see fs/snapshot.c). Written under a
 * temporary name beside path and renamed into place when complete; an
 * existing path is refused. Reads the target only. *ret (may be NULL) is
 * the header written.
 */
int fs_snapshot_save(const struct fs_target *t, const char *path, const struct fs_snapshot_opts *o,
		     struct fs_snapshot_info *ret, struct pb_err *err);

/* Read and check a snapshot file's header. -EINVAL for a file that is not one (or is damaged). */
int fs_snapshot_read_info(const char *path, struct fs_snapshot_info *ret, struct pb_err *err);

struct fs_snapshot_restore_opts {
	const char *seed;
	/*
	 * Called after the snapshot is read and checked (a zstd one unpacked
	 * into a scratch file under $TMPDIR, else /var/tmp), before the target
	 * is written: the caller marks the guest incomplete and refreshes the
	 * boot menu there. <0 stops with nothing written. May be NULL.
	 */
	int (*before)(void *userdata, struct pb_err *err);
	void *before_userdata;
	fs_progress_fn progress;
	void *userdata;
};

/*
 * Put snapshot path back into the target, which must be the snapshot's
 * size: afterwards the partition holds the same bytes as when it was
 * saved (fs_copy() FS_COPY_EXACT, incomplete while it is written).
 */
int fs_snapshot_restore(const char *path, const struct fs_target *t, const struct fs_snapshot_restore_opts *o,
			struct pb_err *err);
/* --- editing a guest in place (stat.c, write-file.c, mkdir.c, symlink.c, copy-tree.c) --- */

/*
 * Small edits of an existing guest, without mounting: files written whole,
 * directories, symlinks, a tree copied inside the guest. Paths are absolute
 * in the guest; their directories resolve inside it (symlinks followed, an
 * absolute link against the guest's root); the last component is never
 * followed: a symlink there is replaced, not written through.
 *
 * What a crash or a kill leaves: a file that replaces another is written
 * whole into a new inode and flushed to the disk first; then the one
 * directory block holding its name is rewritten to point at it, and only
 * then is the old inode freed. The name never goes missing and never names
 * half a file; at worst an inode no name points at is left over (the kernel
 * ignores it; e2fsck -fy puts it in /lost+found).
 */

/* Owner and permission bits of what an edit makes. */
struct fs_meta {
	uint32_t uid, gid;
	uint32_t mode; /* 07777 bits */
};

/*
 * Open the target's ext4 filesystem for editing. seed (may be NULL) fixes
 * the time stamped on what is made (SOURCE_DATE_EPOCH, else 2000-01-01),
 * as for fs_install(). Refused with -EUCLEAN: a journal that needs recovery
 * (the guest was not shut down cleanly: libext2fs does not replay it, and
 * the kernel's replay would undo the edits) and a filesystem larger than
 * the partition; -EMEDIUMTYPE: no ext2/3/4 there. *ret is the caller's:
 * fs_flush(), then fs_free().
 */
int fs_open_rw(const struct fs_target *t, const char *seed, struct fs **ret, struct pb_err *err);
/* Write what is still in memory (bitmaps, superblock) to the disk. 0 or -errno. */
int fs_flush(struct fs *fs, struct pb_err *err);

/*
 * What is at path: type, mode, owner, size, mtime (name and link NULL).
 * follow: a symlink at the end is followed too. -ENOENT (with a message)
 * when nothing is there.
 */
int fs_stat(struct fs *fs, const char *path, bool follow, struct fs_dirent *ret, struct pb_err *err);

enum {
	/* An existing regular file keeps its owner and mode; meta is for a new one. */
	FS_WRITE_KEEP_META = 1 << 0,
};
/*
 * Make path a regular file holding data[0..len) with meta's owner and mode,
 * replacing a file or symlink there as described above (FS_WRITE_KEEP_META
 * keeps the old file's owner and mode). The directory must exist. -EISDIR,
 * -ENOENT, -ENOSPC ("no space left for PATH"), -EROFS (not opened for
 * editing).
 */
int fs_write_file(struct fs *fs, const char *path, const void *data, size_t len, const struct fs_meta *meta,
		  unsigned flags, struct pb_err *err);

enum {
	/* A directory already there is fine (left as it is). */
	FS_MKDIR_EXIST_OK = 1 << 0,
};
/* Make directory path (its parent must exist). -EEXIST when something is there. */
int fs_mkdir(struct fs *fs, const char *path, const struct fs_meta *meta, unsigned flags, struct pb_err *err);

/*
 * Make path a symlink to target (owner from meta), replacing a file or
 * symlink there in one directory-block write, as fs_write_file() does.
 */
int fs_symlink(struct fs *fs, const char *path, const char *target, const struct fs_meta *meta,
	       struct pb_err *err);

/*
 * Copy the guest's directory from (files, directories, symlinks; modes kept)
 * into the existing directory to, owned by uid:gid, as adduser copies
 * /etc/skel into a new home: what is already in to is left alone, names
 * ending in .dpkg-old/-new/-dist/-save or .ucf-old/-new/-dist are skipped,
 * other file types too. At most 16 levels and 10000 entries; files of at
 * most 16 MiB each. Returns 0 or -errno.
 */
int fs_copy_tree(struct fs *fs, const char *from, const char *to, uint32_t uid, uint32_t gid, struct pb_err *err);

/* --- Debian from the network (fs/debootstrap.c) ------------------------------------ */

struct fs_debootstrap_opts {
	const char *suite;     /* "bookworm" */
	const char *variant;   /* "minbase", ...; NULL = the tool's default */
	const char *mirror;    /* NULL = from the host's apt sources (fs_apt_mirror), else the tool's default */
	const char *cache_dir; /* keep the downloaded .debs here and reuse them (mmdebstrap only); NULL = none */
	bool no_kernel;        /* leave out linux-image-amd64, initramfs-tools, systemd-sysv, udev */
	const char *packages;  /* more packages to include (see fs_debootstrap_packages()); NULL = none */
	bool verbose;          /* the tool's progress goes to our standard error */
	bool seeded;           /* a reproducible run: the tool gets SOURCE_DATE_EPOCH (pb_fixed_time()) */
};

/*
 * A list of Debian package names ("openssh-server,sudo", or separated by
 * blanks) as mmdebstrap's --include takes it, into out (comma-separated):
 * each name as Debian policy allows (a lower-case letter or digit, then
 * lower-case letters, digits, '+', '-', '.'; at least two characters),
 * optionally ":ARCH". -EINVAL naming the bad one; an empty list too.
 */
int fs_debootstrap_packages(const char *list, struct strbuf *out, struct pb_err *err);

/* A running mmdebstrap (or a finished debootstrap's temporary tree). */
struct fs_debootstrap;

/*
 * Start building a Debian root. With mmdebstrap (preferred): spawn
 * "mmdebstrap [--variant=V] [--include=KERNEL...] SUITE - [MIRROR]" whose
 * standard output is a tar stream; nothing is extracted on our side. Without
 * mmdebstrap, debootstrap cannot write a stream: it runs to the end into a
 * temporary folder under $TMPDIR (default /var/tmp), which becomes a
 * directory source. -ENOENT when neither tool is there. On success *ret is
 * owned by the caller: fs_debootstrap_free() it.
 */
int fs_debootstrap_start(const struct fs_debootstrap_opts *o, struct fs_debootstrap **ret, struct pb_err *err);

/*
 * Point io at the root being built: the stream (source_is_fd, source_end
 * waits for mmdebstrap and fails the install when it failed) or the
 * temporary folder. d must outlive the fs_install() call.
 */
void fs_debootstrap_source(struct fs_debootstrap *d, struct fs_install_opts *io);

/*
 * Read what is left of the stream and wait for mmdebstrap (done by
 * source_end on success; call it after a failed fs_install() too, so the
 * tool's own message replaces "truncated archive" when it was the tool that
 * failed). Returns 0 when it exited 0, else -EIO with its stderr's tail.
 * Idempotent: later calls give the same result.
 */
int fs_debootstrap_finish(struct fs_debootstrap *d, struct pb_err *err);

/* "mmdebstrap bookworm (minbase) from URL", for messages (owned by d). */
const char *fs_debootstrap_describe(const struct fs_debootstrap *d);

/* Stop mmdebstrap if it still runs, remove a temporary folder, free. Accepts NULL. */
void fs_debootstrap_free(struct fs_debootstrap *d);

/*
 * The Debian mirror the host uses: the first enabled "deb" source (one-line
 * *.list or deb822 *.sources under apt_dir, normally "/etc/apt") whose URI's
 * last path component is "debian". *ret is malloc'ed (caller frees), or
 * NULL when there is none. Returns 0 or -errno.
 */
int fs_apt_mirror(const char *apt_dir, char **ret, struct pb_err *err);

/* --- live ISOs (fs/iso.c) ------------------------------------------------------------ */

/*
 * Install a guest from a live ISO (an image file or a device such as /dev/sr0): find its
 * root image (live/filesystem.squashfs, else casper/filesystem.squashfs, else another
 * casper/NAME.squashfs but never a ".live" layer), unpack it into the target exactly as
 * fs_install() does (opts->source is ignored; wipe, label, seed, progress, warn are used),
 * then clear the exec bits of live-boot's / casper's initramfs hooks in the guest (each one
 * reported through opts->warn). The ISO is read with libarchive, never mounted; the image is
 * copied to a temporary file under $TMPDIR (default /var/tmp) for sqfs2tar
 * (squashfs-tools-ng) and removed afterwards. A missing file (-ENOENT), a file that is not
 * ISO9660 (-EINVAL) or one without a root image (-ENOENT, "FILE: no live root image (looked
 * for ...)") is refused before the disk is touched. A failure while unpacking leaves the
 * guest marked incomplete. Returns 0 or -errno with err set.
 */
int fs_install_iso(const struct fs_target *t, const char *iso, const struct fs_install_opts *opts,
		   struct pb_err *err);

/* --- guests an OS installer wrote (fs/finish.c; the VM runner's --via-vm) ----------------- */

/*
 * Mark the target's guest incomplete (/.partboot-incomplete, as an
 * interrupted fs_install() leaves it): with mkfs, first make an empty ext4
 * (mkfs->kind is forced to ext4; label and seed are used); without, add the
 * marker to the ext2/3/4 filesystem already there (-EMEDIUMTYPE when none).
 * The marker is flushed before returning. Returns 0 or -errno with err set.
 */
int fs_mark_incomplete(const struct fs_target *t, const struct fs_mkfs_opts *mkfs, struct pb_err *err);

/*
 * Finish a guest something else wrote into the target's ext2/3/4 filesystem
 * (an OS installer): remove the incomplete marker if present, then run
 * fs_install() on the existing filesystem with an empty tar stream, so the
 * after-install steps (opts->setup is forced on: fstab, hostname, hosts,
 * kernel/cmdline) and the marker around them are exactly those of every
 * install. opts->source only names the source in messages (NULL = "the
 * installer"); wipe and source_* are ignored. Returns 0 or -errno.
 */
int fs_finish_install(const struct fs_target *t, const struct fs_install_opts *opts, struct pb_err *err);

#endif
