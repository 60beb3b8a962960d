/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the fs/ files; never included outside fs/.
 */
#ifndef PARTBOOT_FS_PRIVATE_H
#define PARTBOOT_FS_PRIVATE_H

#include <errno.h>

#include <ext2fs/ext2fs.h>

#include "fs.h"

/* The marker that says "an install is under way or was interrupted". */
#define FS_MARKER_NAME ".partboot-incomplete"

/*
 * The first line of every /etc/fstab partboot writes (setup.c). Installs made
 * before FS_PARTBOOT_MARKER existed are recognised as partboot's by it.
 */
#define FS_FSTAB_HEADER "# partboot: the root is named by its filesystem UUID; other mounts are nofail"

struct fs {
	ext2_filsys e2;
	char *where;
	bool rw;       /* fs_open_rw(), or fs_install()'s customize hook: the edits may write */
	bool borrowed; /* e2 belongs to fs_install() (the customize hook): never closed here */
	int64_t now;   /* the time stamped on what the edits make (fixed when seeded) */
};

/*
 * io.c: the range-checked I/O layer. fs_ext2_open() opens the target's
 * filesystem through pb_range_io_manager, which maps every block into
 * [offset, offset+size) of the disk and refuses anything outside.
 */
extern io_manager pb_range_io_manager;
int fs_ext2_open(const struct fs_target *t, bool rw, ext2_filsys *ret, struct pb_err *err);
/* Close; for a read-write filesystem this flushes. Returns 0 or -errno. */
int fs_ext2_close(ext2_filsys fs, const struct fs_target *t, struct pb_err *err);

/*
 * The one place libext2fs's errcode_t becomes -errno: records
 * "WHERE: what: library message" in err and returns the -errno.
 */
int fs_err_ext2(struct pb_err *err, errcode_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fs_errno_from_ext2(errcode_t code);

/* Raw range-checked writes for what libext2fs does not write (swap header, wiping). */
int fs_io_pwrite(const struct fs_target *t, uint64_t off, const void *buf, size_t len, struct pb_err *err);
/* Make [off, off+len) of the target read as zeros (punch a hole in an image file, else write zeros). */
int fs_io_zero(const struct fs_target *t, uint64_t off, uint64_t len, struct pb_err *err);

/* mkfs.c */
/* The filesystem kind libblkid finds in the target (FS_KIND_NONE when none or another kind). */
int fs_probe_kind(const struct fs_target *t, enum fs_kind *ret, char *ret_type, size_t type_len,
		  struct pb_err *err);
/* A name-based UUID from the seed, the partition (name or offset) and what it is for. */
void fs_seed_uuid(const struct fs_target *t, const char *seed, const char *what, unsigned char ret[16]);

/* read.c */
/* Resolve path inside the guest (absolute links resolve against the guest's root). Returns errcode_t. */
errcode_t fs_lookup(ext2_filsys e2, const char *path, bool follow, ext2_ino_t *ret);
/* Read a symlink's target into sb. */
errcode_t fs_read_link(ext2_filsys e2, ext2_ino_t ino, struct ext2_inode *inode, struct strbuf *sb);
/*
 * Read a whole regular file by inode; returns errcode_t. A file larger than
 * max bytes is EXT2_ET_FILE_TOO_BIG, found from its inode before anything
 * is allocated or read (a guest's sparse file may claim terabytes).
 */
errcode_t fs_read_ino(ext2_filsys e2, ext2_ino_t ino, uint64_t max, char **ret_data, size_t *ret_len);
/* read.c: an inode mode's file type as fs_dirent.type has it ('f', 'd', 'l', 'c', 'b', 'p', 's', '?'). */
char fs_mode_type(uint16_t mode);

/* guest.c: fs_grub_cmdline() of the guest's /etc/default/grub and grub.d snippets (malloc'ed), or NULL. */
char *fs_grub_default_cmdline(struct fs *fs);

/*
 * The install session: fs_install() (install.c) fills a filesystem from a
 * source through these files, each calling only those listed after it:
 *   entry.c   one archive entry into the guest (and files partboot writes itself)
 *   dir.c     the path map and missing parent directories
 *   marker.c  /.partboot-incomplete
 *   inode.c   inodes: writing them, owner/mode/times, links, freeing
 *   xattr.c   extended attributes and POSIX ACLs
 *   data.c    a regular file's data, in extents, holes kept
 *   source.c  the source: an archive stream, or a folder read as one
 * struct populate is their shared state; fs_install() owns it.
 */
struct archive;
struct archive_entry;
struct archive_entry_linkresolver;

#define FS_STAGE_SIZE (8u << 20) /* file data is written in runs of up to this */

/* path (normalised, no leading '/') → inode, for every entry written this session. */
struct fs_path_map {
	struct fs_path_slot {
		char *path;
		uint32_t hash;
		ext2_ino_t ino;
		bool fresh_dir; /* a directory made this session: its contents are all in the map */
	} *slots;
	size_t n, cap;
};

struct populate {
	ext2_filsys e2;
	const struct fs_target *t;
	const struct fs_install_opts *opts;
	struct pb_err *err;
	/* source.c */
	struct archive *a;
	bool from_dir;
	size_t strip_len; /* directory source: length of the prefix to drop */
	struct archive_entry_linkresolver *lr;
	struct archive_entry *disk_entry, *spare; /* directory source: the entry read into, linkify's spare */
	struct archive_entry *first; /* read before the disk is touched: is it an archive at all? */
	/* directory source: the source's root, the last parent checked, the current file's data */
	int src_root_fd, src_dir_fd, data_fd;
	struct strbuf src_dir;
	int first_ar;
	uint64_t total, last_progress, data_written;
	/* dir.c */
	struct fs_path_map map;
	/* "now" for everything without a time of its own (seeded: fixed) */
	bool fixed_time;
	int64_t now;
	/* data.c */
	char *stage;
	char *fd_buf; /* a directory source's file read into (1 MiB) */
	/* entry.c; install.c for the ENOSPC message */
	/*
	 * The current entry, for messages: a copy (entry_name), since libarchive
	 * frees the entry's strings when the next header is read, and a failure
	 * there still names the entry before it.
	 */
	const char *entry;
	struct strbuf entry_name;
	blk64_t free_at_start, free_before_entry;
	bool nospace; /* the last failure was libext2fs running out of space */
	struct strbuf path, parent_path;
	/* fs_populate_put_file(): a file partboot writes itself, data from memory */
	bool synthetic;
	const char *mem_data;
	size_t mem_len;
	/* install.c: entries written, for the test pause */
	uint64_t entries;
	/* marker.c */
	ext2_ino_t marker;
};

/*
 * A libext2fs failure on the current entry: "WHERE: 'ENTRY': what: message"
 * in p->err. Running out of space only sets p->nospace (install.c reports
 * it with the sizes). Returns the -errno.
 */
static inline int fs_populate_fail(struct populate *p, errcode_t rc, const char *what)
{
	int r = fs_errno_from_ext2(rc);

	if (r == -ENOSPC) {
		p->nospace = true; /* reported by fill() with the sizes */
		return r;
	}
	return fs_err_ext2(p->err, rc, "%s: '%s': %s", p->t->where, p->entry, what);
}

/* entry.c */
/* Write one archive entry into the guest, as tar -x would. Returns 0 or -errno with p->err set. */
int fs_entry_add(struct populate *p, struct archive_entry *e);
/*
 * Write a regular file (root:root, mode, "now") into the guest being
 * installed, replacing a file or symlink of that name; missing parents are
 * made. For the after-install steps. Returns 0 or -errno with err set.
 */
int fs_populate_put_file(struct populate *p, const char *path, const void *data, size_t len, unsigned mode);

/* dir.c */
/*
 * Normalise an archive path into sb: no leading '/', no "." or empty
 * components, ".." pops a component but never above the guest's root.
 */
void fs_path_normalize(const char *in, struct strbuf *sb);
struct fs_path_slot *fs_path_map_find(struct fs_path_map *m, const char *path);
/* Add or update path's inode. */
void fs_path_map_put(struct fs_path_map *m, const char *path, ext2_ino_t ino, bool fresh_dir);
void fs_path_map_free(struct fs_path_map *m);
/* Make directory name in parent (mode and times are the caller's to set). Returns errcode_t. */
errcode_t fs_dir_make(struct populate *p, ext2_ino_t parent, const char *name, ext2_ino_t *ret);
/* Look name up in dir: the path map for directories made this session, else the disk. */
errcode_t fs_dir_lookup_child(struct populate *p, ext2_ino_t dir, bool dir_fresh, const char *path,
			      const char *name, ext2_ino_t *ret);
/*
 * The inode of directory `path` (normalised), making it and its missing
 * parents (0755 root:root, time "now"). Returns 0 or -errno.
 */
int fs_dir_ensure(struct populate *p, const char *path, ext2_ino_t *ret, bool *ret_fresh);

/* marker.c */
/* Create /.partboot-incomplete (or find it) and flush it to the disk. Returns 0 or -errno. */
int fs_marker_create(struct populate *p);
int fs_marker_remove(struct populate *p);

/* inode.c */
errcode_t fs_inode_read(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li);
errcode_t fs_inode_write(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li);
/* Write a whole new inode: the large part we fill, zeros up to the on-disk inode size. */
errcode_t fs_inode_write_new(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li);
/* Owner, mode bits and times from the entry (or "now", root:root for e NULL: made-up parents). */
void fs_inode_set_meta(struct populate *p, struct ext2_inode_large *li, struct archive_entry *e);
/* Link name into dir, growing the directory when its blocks are full. */
errcode_t fs_inode_link(struct populate *p, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft);
/* Drop one link; an inode that lost its last one is freed (blocks, xattr block, bitmap). */
errcode_t fs_inode_release(struct populate *p, ext2_ino_t ino);

/* xattr.c */
/* The entry's extended attributes and POSIX ACLs onto inode ino. Returns 0 or -errno. */
int fs_xattrs_set(struct populate *p, ext2_ino_t ino, struct archive_entry *e);
/* The permission bits of the entry's ACL mask, or -1 without one (the mode's group bits then). */
int fs_acl_mask(struct archive_entry *e);

/* data.c */
/* Copy the current entry's data (or p->mem_data) into inode ino, whose size is set. Returns 0 or -errno. */
int fs_data_write(struct populate *p, ext2_ino_t ino);

/* source.c */
/*
 * Open opts->source: a folder is walked by libarchive's disk reader, anything
 * else read as an archive whose first header is read now, before the disk is
 * touched. Returns 0 or -errno with p->err set.
 */
int fs_source_open(struct populate *p);
/*
 * A directory source: check that entry e is still what libarchive saw, on
 * the disk now, through descriptors opened from the source's root without
 * following symlinks (its parent walked one component at a time, then the
 * entry compared by device and inode), and for a regular file open it so
 * that its data comes from that very file (p->data_fd, data.c). Returns 0
 * or -ESTALE with "WHERE: 'PATH' changed while it was read" in p->err.
 */
int fs_source_check_entry(struct populate *p, struct archive_entry *e);
/* Close p->data_fd (a no-op when none is open). */
void fs_source_close_entry(struct populate *p);
/* The next entry to write (owned by the source): 1, 0 at the end, or -errno with p->err set. */
int fs_source_next(struct populate *p, struct archive_entry **ret);
/* After running out of space: what the rest of the source would take, in bytes. */
uint64_t fs_source_remaining(struct populate *p, struct archive_entry *cur);
/* Tell opts->progress how far the source is read (every 4 MiB; force: now, and all of it). */
void fs_source_progress(struct populate *p, bool force);
void fs_source_close(struct populate *p);

/* test-pause.c */
/*
 * Test hook: when PARTBOOT_TEST_PAUSE equals stage ("mkfs", "fill",
 * "setup"; "replace" and "replaced" around an edit's switch of a name to
 * its new inode), stop the process (SIGSTOP) so a test can kill -9 it there.
 */
void fs_test_pause(const char *stage);
/* The same for one entry: PARTBOOT_TEST_PAUSE=STAGE:PATH ("read:etc/passwd"). */
void fs_test_pause_at(const char *stage, const char *path);

/*
 * edit.c: what the small in-place edits (write-file.c, mkdir.c, symlink.c,
 * copy-tree.c) share. Each returns errcode_t unless it says -errno.
 */
/* -EROFS with a message unless fs was opened for editing. */
int fs_edit_check_rw(struct fs *fs, const char *path, struct pb_err *err);
/*
 * The directory holding path (its components resolved inside the guest,
 * symlinks followed) and the last component (pointing into scratch, which
 * holds the normalised path). -ENOENT/-ENOTDIR/-EINVAL with a message.
 */
int fs_edit_parent(struct fs *fs, const char *path, struct strbuf *scratch, ext2_ino_t *ret_dir,
		   const char **ret_name, struct pb_err *err);
/* A new, unlinked inode of type (LINUX_S_IFREG, ...) with m's owner and mode, times "now". */
errcode_t fs_edit_new_inode(struct fs *fs, ext2_ino_t dir, unsigned type, const struct fs_meta *m,
			    ext2_ino_t *ret);
/* Owner, mode bits and times ("now") of an existing inode. */
errcode_t fs_edit_set_meta(struct fs *fs, ext2_ino_t ino, const struct fs_meta *m);
/* Link name into dir (the directory grows when full). */
errcode_t fs_edit_link(struct fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft);
/*
 * Point the existing entry name of dir at ino instead: one directory block
 * rewritten, so the name never goes missing. *ret_old gets the inode it
 * named before.
 */
errcode_t fs_edit_relink(struct fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft,
			 ext2_ino_t *ret_old);
/* Drop one link of ino; the last one frees it (blocks, xattr block, bitmap). */
errcode_t fs_edit_release(struct fs *fs, ext2_ino_t ino);
/*
 * Put the unlinked inode ino (type ft) at name in dir: a new name is
 * linked; an existing one is switched over with fs_edit_relink() after
 * everything ino holds was flushed, then the old inode released. A
 * directory there is refused (-EISDIR). Returns 0 or -errno with a message.
 */
int fs_edit_install(struct fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft, const char *path,
		    struct pb_err *err);

/* setup.c */
/*
 * The after-install steps (see fs_install_opts.setup): fstab, hostname,
 * hosts, kernel/cmdline, through fs_populate_put_file(). Returns 0 or -errno.
 */
int fs_setup_guest(struct populate *p, ext2_filsys e2, const struct fs_target *t, const struct fs_install_opts *o,
		   struct pb_err *err);

/*
 * Whole-guest operations (resize, copies, snapshots), each calling only
 * those listed after it:
 *   snapshot.c  the snapshot file: raw with a trailer, or zstd
 *   adopt.c     a copy's last steps: features back, setup, marker removed
 *   copy.c      fs_copy(): the block copy, the held-back head
 *   copy-io.c   the io_manager that holds the head in memory
 *   copy-plan.c what a copy reads: byte runs
 *   rawio.c     raw range-checked reads and writes, holes
 *   tree.c      a guest's folder as a tar archive (import's /boot)
 *   resize.c    resize2fs -P and resize2fs
 *   check.c     e2fsprogs' tools on a partition, e2fsck -fp
 *   mark.c      the incomplete marker naming the operation
 */

/* check.c */
/* "PATH?offset=N" into ret (appended), the name e2fsprogs' tools take; -EINVAL when PATH holds a '?'. */
int fs_tool_device(const struct fs_target *t, struct strbuf *ret, struct pb_err *err);
/* "E2FSPROGS_FAKE_TIME=N" into buf when seeded (pb_fixed_time()), else NULL. */
const char *fs_tool_time_env(const char *seed, char *buf, size_t len);
/* Would resize2fs or tune2fs ask for a fresh e2fsck (not clean, errors, mounted since the check, journal)? */
bool fs_e2_needs_check(ext2_filsys e2);
/* e2fsck -fp on the target (only when fs_e2_needs_check(), with only_if_needed). Exit 1 counts as success. */
int fs_e2fsck_preen(const struct fs_target *t, const char *seed, bool only_if_needed, struct pb_err *err);

/* mark.c */
/* In an open read-write session: add the marker holding "op\n" (none when one is there), flushed. */
errcode_t fs_mark_add(ext2_filsys e2, const char *op);
/* In an open read-write session: remove the marker if present. */
errcode_t fs_mark_drop(ext2_filsys e2);

/* copy-plan.c: byte runs, sorted and merged by fs_runs_normalize(). */
struct fs_byte_run {
	uint64_t start, len;
};
struct fs_runs {
	struct fs_byte_run *v;
	size_t n, cap;
};
void fs_runs_add(struct fs_runs *r, uint64_t start, uint64_t len);
void fs_runs_normalize(struct fs_runs *r);
/* ret += a without b; ret += a within b (a and b normalized; ret as built, in order). */
void fs_runs_subtract(const struct fs_runs *a, const struct fs_runs *b, struct fs_runs *ret);
void fs_runs_intersect(const struct fs_runs *a, const struct fs_runs *b, struct fs_runs *ret);
uint64_t fs_runs_bytes(const struct fs_runs *r);
void fs_runs_release(struct fs_runs *r);

/* rawio.c: one target open for a copy. */
struct fs_raw {
	int fd;
	uint64_t offset, size; /* the target's range on the disk */
	uint64_t file_size;    /* an image file's size (UINT64_MAX for a device) */
	const char *where;
	bool is_file;          /* a regular file: holes are punched and found */
};
int fs_raw_open(const struct fs_target *t, bool rw, struct fs_raw *ret, struct pb_err *err);
void fs_raw_close(struct fs_raw *io);
/* Read (zeros past an image file's end) or write [off, off+len) of the target; ERANGE outside it. */
int fs_raw_read(struct fs_raw *io, uint64_t off, void *buf, size_t len, struct pb_err *err);
int fs_raw_write(struct fs_raw *io, uint64_t off, const void *buf, size_t len, struct pb_err *err);
/* Make [off, off+len) read as zeros: holes in a file, BLKZEROOUT (or zeros) on a device. */
int fs_raw_zero(struct fs_raw *io, uint64_t off, uint64_t len, struct pb_err *err);
int fs_raw_sync(struct fs_raw *io, struct pb_err *err);
/* The next offset at or after off that holds data (a device: off), or size; the next hole, or size. */
uint64_t fs_raw_next_data(struct fs_raw *io, uint64_t off);
uint64_t fs_raw_next_hole(struct fs_raw *io, uint64_t off);

/* What a copy reads (copy-plan.c). */
struct fs_copy_plan {
	struct fs_runs meta;    /* structures, root directory included */
	struct fs_runs data;    /* the rest to copy */
	struct fs_runs rootdir; /* the root directory's blocks (within meta) */
	uint64_t bs;            /* block size (4096 for a raw copy) */
	uint64_t fs_bytes;      /* the filesystem's size (raw: the source's) */
	size_t head_len;        /* the held-back head: block 0 with the primary superblock */
	bool journal_dirty;     /* the journal needs recovery */
};
/* Plan reading src (open as in) in mode; *ret released with fs_copy_plan_release(). */
int fs_copy_plan_make(const struct fs_target *src, struct fs_raw *in, enum fs_copy_mode mode, struct fs_copy_plan *ret,
		      struct pb_err *err);
void fs_copy_plan_release(struct fs_copy_plan *p);

/* copy-io.c: the held-back head (see there). */
struct fs_overlay {
	unsigned char *head;        /* bytes [0, head_len) of the target as libext2fs sees them */
	size_t head_len;
	struct fs_byte_run *written; /* ranges written to the target itself */
	size_t n_written, cap_written;
};
extern io_manager pb_overlay_io_manager;
/* Open t's filesystem read-write through the overlay ov (head filled by the caller). */
int fs_overlay_open(const struct fs_target *t, struct fs_overlay *ov, ext2_filsys *ret, struct pb_err *err);
void fs_overlay_release(struct fs_overlay *ov);

#endif
