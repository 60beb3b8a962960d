/* SPDX-License-Identifier: MIT */
/*
 * One archive entry into the guest during fs_install(), as tar -x does:
 * the root's metadata, directories, hard links, symlinks, device nodes,
 * FIFOs and regular files, a later entry replacing an earlier file of the
 * same name; sockets are skipped with a warning. Also the files partboot
 * writes itself (fs_populate_put_file(), for setup.c), through the same path.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "fs-private.h"

static int ext2_filetype(mode_t type)
{
	switch (type) {
	case AE_IFREG:
		return EXT2_FT_REG_FILE;
	case AE_IFDIR:
		return EXT2_FT_DIR;
	case AE_IFLNK:
		return EXT2_FT_SYMLINK;
	case AE_IFCHR:
		return EXT2_FT_CHRDEV;
	case AE_IFBLK:
		return EXT2_FT_BLKDEV;
	case AE_IFIFO:
		return EXT2_FT_FIFO;
	default:
		return EXT2_FT_UNKNOWN;
	}
}

static void warn(struct populate *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct populate *p, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (!p->opts->warn)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	p->opts->warn(sb.buf, p->opts->userdata);
	strbuf_release(&sb);
}

int fs_entry_add(struct populate *p, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e), *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	struct ext2_inode_large li;
	ext2_ino_t parent, ino, old;
	bool pfresh, exists;
	const char *name;
	char *slash;
	errcode_t rc;
	int r;

	if (!raw)
		raw = "";
	if (p->from_dir && !p->synthetic)
		raw = strlen(raw) >= p->strip_len ? raw + p->strip_len : "";
	strbuf_reset(&p->entry_name);
	strbuf_addstr(&p->entry_name, raw);
	p->entry = p->entry_name.buf;
	fs_path_normalize(raw, &p->path);

	/*
	 * A path the guest's own kernel could not take in one call is refused:
	 * each component is a directory made on the way (dir.c, one level per
	 * call), and 40,000 of them ran install out of stack.
	 */
	if (p->path.len >= PATH_MAX)
		return pb_err_set(p->err, -ENAMETOOLONG, "%s: '%.64s...': path longer than %d bytes", p->t->where,
				  raw, PATH_MAX - 1);
	if (p->from_dir && !p->synthetic) {
		fs_test_pause_at("read", p->path.buf);
		/* before anything of it is written: still the file libarchive saw? */
		if (type != AE_IFSOCK) {
			r = fs_source_check_entry(p, e);
			if (r < 0)
				return r;
		}
	}
	if (type == AE_IFSOCK) {
		warn(p, "%s: '%s': skipped a socket (sockets cannot be stored)", p->t->where, raw);
		return 0;
	}
	if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
	    type != AE_IFBLK && type != AE_IFIFO)
		return pb_err_set(p->err, -EOPNOTSUPP, "%s: '%s': file type %07o cannot be stored in ext4",
				  p->t->where, raw, (unsigned)type);

	/* The root itself ("./"): only its metadata. */
	if (!p->path.len) {
		if (type != AE_IFDIR)
			return pb_err_set(p->err, -EINVAL, "%s: '%s': the root must be a directory", p->t->where,
					  raw);
		rc = fs_inode_read(p, EXT2_ROOT_INO, &li);
		if (rc)
			return fs_populate_fail(p, rc, "cannot read the root directory");
		fs_inode_set_meta(p, &li, e);
		rc = fs_inode_write(p, EXT2_ROOT_INO, &li);
		if (rc)
			return fs_populate_fail(p, rc, "cannot write the root directory");
		return fs_xattrs_set(p, EXT2_ROOT_INO, e);
	}
	if (!strcmp(p->path.buf, FS_MARKER_NAME))
		return 0; /* never let an archive fake or remove our marker */

	strbuf_reset(&p->parent_path);
	slash = strrchr(p->path.buf, '/');
	if (slash) {
		strbuf_add(&p->parent_path, p->path.buf, (size_t)(slash - p->path.buf));
		name = slash + 1;
	} else {
		name = p->path.buf;
	}
	if (strlen(name) > EXT2_NAME_LEN)
		return pb_err_set(p->err, -ENAMETOOLONG, "%s: '%s': name longer than %d bytes", p->t->where, raw,
				  EXT2_NAME_LEN);
	r = fs_dir_ensure(p, p->parent_path.buf, &parent, &pfresh);
	if (r < 0)
		return r;

	/*
	 * A hard link to itself ("x" after "x"): replacing x first would free
	 * its inode and then link the name to the freed inode, which the next
	 * file reuses. tar -x cannot make it either; it changes nothing.
	 */
	if (hardlink) {
		struct strbuf target = STRBUF_INIT;
		const char *h = hardlink;
		bool self;

		if (p->from_dir)
			h = strlen(h) >= p->strip_len ? h + p->strip_len : "";
		fs_path_normalize(h, &target);
		self = !strcmp(target.buf, p->path.buf);
		strbuf_release(&target);
		if (self) {
			warn(p, "%s: '%s': skipped a hard link to itself", p->t->where, raw);
			return 0;
		}
	}

	rc = fs_dir_lookup_child(p, parent, pfresh, p->path.buf, name, &old);
	if (rc && rc != EXT2_ET_FILE_NOT_FOUND)
		return fs_populate_fail(p, rc, "cannot look up");
	exists = rc == 0;
	if (exists) {
		rc = fs_inode_read(p, old, &li);
		if (rc)
			return fs_populate_fail(p, rc, "cannot read");
		if (LINUX_S_ISDIR(li.i_mode)) {
			if (type == AE_IFDIR && !hardlink) {
				/* A directory seen again (or made as a parent first): take its metadata. */
				fs_inode_set_meta(p, &li, e);
				rc = fs_inode_write(p, old, &li);
				if (rc)
					return fs_populate_fail(p, rc, "cannot write");
				fs_path_map_put(&p->map, p->path.buf, old, false);
				return fs_xattrs_set(p, old, e);
			}
			return pb_err_set(p->err, -EISDIR, "%s: '%s': would replace a directory", p->t->where, raw);
		}
		/* A later entry replaces an earlier file, as tar -x does. */
		rc = ext2fs_unlink(p->e2, parent, name, old, 0);
		if (!rc)
			rc = fs_inode_release(p, old);
		if (rc)
			return fs_populate_fail(p, rc, "cannot replace");
	}

	if (hardlink) {
		struct fs_path_slot *s;
		struct strbuf target = STRBUF_INIT;
		const char *h = hardlink;

		if (p->from_dir)
			h = strlen(h) >= p->strip_len ? h + p->strip_len : "";
		fs_path_normalize(h, &target);
		s = fs_path_map_find(&p->map, target.buf);
		if (s)
			ino = s->ino;
		else
			rc = fs_lookup(p->e2, target.buf, false, &ino);
		if (!s && rc) {
			r = pb_err_set(p->err, -ENOENT, "%s: '%s': hard link target '%s' is not in the archive before it",
				       p->t->where, raw, h);
			strbuf_release(&target);
			return r;
		}
		strbuf_release(&target);
		rc = fs_inode_read(p, ino, &li);
		if (rc)
			return fs_populate_fail(p, rc, "cannot read the hard link target");
		if (LINUX_S_ISDIR(li.i_mode))
			return pb_err_set(p->err, -EPERM, "%s: '%s': hard link to a directory", p->t->where, raw);
		rc = fs_inode_link(p, parent, name, ino, ext2_filetype((mode_t)(li.i_mode & LINUX_S_IFMT)));
		if (!rc) {
			li.i_links_count++;
			rc = fs_inode_write(p, ino, &li);
		}
		if (rc)
			return fs_populate_fail(p, rc, "cannot link");
		fs_path_map_put(&p->map, p->path.buf, ino, false);
		return 0;
	}

	if (type == AE_IFDIR) {
		rc = fs_dir_make(p, parent, name, &ino);
		if (rc)
			return fs_populate_fail(p, rc, "cannot make the directory");
		rc = fs_inode_read(p, ino, &li);
		if (!rc) {
			li.i_mode = LINUX_S_IFDIR;
			fs_inode_set_meta(p, &li, e);
			rc = fs_inode_write(p, ino, &li);
		}
		if (rc)
			return fs_populate_fail(p, rc, "cannot make the directory");
		fs_path_map_put(&p->map, p->path.buf, ino, true);
		return fs_xattrs_set(p, ino, e);
	}

	rc = ext2fs_new_inode(p->e2, parent, LINUX_S_IFREG, NULL, &ino);
	if (rc)
		return fs_populate_fail(p, rc, "cannot allocate an inode");

	if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);

		if (!target || !*target)
			return pb_err_set(p->err, -EINVAL, "%s: '%s': symlink without a target", p->t->where, raw);
		if (strlen(target) >= p->e2->blocksize)
			return pb_err_set(p->err, -ENAMETOOLONG, "%s: '%s': symlink target too long", p->t->where,
					  raw);
		for (;;) {
			rc = ext2fs_symlink(p->e2, parent, ino, name, target);
			if (rc != EXT2_ET_DIR_NO_SPACE)
				break;
			rc = ext2fs_expand_dir(p->e2, parent);
			if (rc)
				break;
		}
		if (!rc)
			rc = fs_inode_read(p, ino, &li);
		if (!rc) {
			li.i_mode = LINUX_S_IFLNK | 0777;
			fs_inode_set_meta(p, &li, e);
			li.i_mode = LINUX_S_IFLNK | 0777; /* a link's mode is always 0777 */
			rc = fs_inode_write(p, ino, &li);
		}
		if (rc)
			return fs_populate_fail(p, rc, "cannot make the symlink");
	} else {
		memset(&li, 0, sizeof(li));
		switch (type) {
		case AE_IFREG:
			li.i_mode = LINUX_S_IFREG;
			break;
		case AE_IFCHR:
			li.i_mode = LINUX_S_IFCHR;
			break;
		case AE_IFBLK:
			li.i_mode = LINUX_S_IFBLK;
			break;
		default:
			li.i_mode = LINUX_S_IFIFO;
			break;
		}
		fs_inode_set_meta(p, &li, e);
		li.i_links_count = 1;
		if (type == AE_IFCHR || type == AE_IFBLK) {
			unsigned major = archive_entry_rdevmajor(e), minor = archive_entry_rdevminor(e);

			/* The kernel's old/new device encoding in i_block (fs/ext4/inode.c). */
			if (major < 256 && minor < 256) {
				li.i_block[0] = major * 256 + minor;
				li.i_block[1] = 0;
			} else {
				li.i_block[0] = 0;
				li.i_block[1] = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
			}
		}
		if (type == AE_IFREG) {
			uint64_t size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;

			if (ext2fs_has_feature_extents(p->e2->super))
				li.i_flags |= EXT4_EXTENTS_FL;
			rc = ext2fs_inode_size_set(p->e2, (struct ext2_inode *)&li, size);
			if (rc)
				return fs_populate_fail(p, rc, "cannot set the size");
			if (li.i_flags & EXT4_EXTENTS_FL) {
				ext2_extent_handle_t h;

				/* An empty extent header in i_block. */
				li.i_flags &= ~EXT4_EXTENTS_FL;
				rc = ext2fs_extent_open2(p->e2, ino, (struct ext2_inode *)&li, &h);
				if (rc)
					return fs_populate_fail(p, rc, "cannot set up extents");
				ext2fs_extent_free(h);
			}
		}
		ext2fs_inode_alloc_stats2(p->e2, ino, +1, 0);
		rc = fs_inode_write_new(p, ino, &li);
		if (!rc)
			rc = fs_inode_link(p, parent, name, ino, ext2_filetype(type));
		if (rc)
			return fs_populate_fail(p, rc, "cannot create");
		if (type == AE_IFREG) {
			r = fs_data_write(p, ino);
			fs_source_close_entry(p);
			if (r < 0)
				return r;
			/* fallocate changed i_blocks and the extent tree: re-read, then stamp. */
			rc = fs_inode_read(p, ino, &li);
			if (!rc) {
				fs_inode_set_meta(p, &li, e);
				rc = fs_inode_write(p, ino, &li);
			}
			if (rc)
				return fs_populate_fail(p, rc, "cannot write");
		}
	}
	fs_path_map_put(&p->map, p->path.buf, ino, false);
	return fs_xattrs_set(p, ino, e);
}

int fs_populate_put_file(struct populate *p, const char *path, const void *data, size_t len, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (!e)
		return pb_err_set(p->err, -ENOMEM, "out of memory");
	/* Through fs_entry_add(), as if the archive held it: replaces a file or link of that name. */
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode & 07777);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, p->now, 0);
	p->synthetic = true;
	p->mem_data = data;
	p->mem_len = len;
	p->nospace = false;
	r = fs_entry_add(p, e);
	if (r == -ENOSPC && p->nospace)
		r = pb_err_set(p->err, -ENOSPC, "%s: no space left for '%s'", p->t->where, path);
	p->synthetic = false;
	p->mem_data = NULL;
	archive_entry_free(e);
	return r;
}
