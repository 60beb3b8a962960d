/* SPDX-License-Identifier: MIT */
/*
 * fs_adopt(): the last steps of a copied guest (clone, import), on a copy
 * fs_copy() left incomplete:
 *   1. the metadata_csum_seed feature fs_copy() turned on to change the
 *      UUID is turned off again with tune2fs, which rewrites every checksum
 *      for the new UUID (tune2fs -U's own way), after e2fsck -fp when
 *      tune2fs asks for a checked filesystem;
 *   2. one libext2fs session, as an install's (install.c): a separate
 *      /boot's files unpacked into /boot (import), the old identifiers
 *      replaced in /etc/fstab and /etc/kernel/cmdline (and the /boot mount
 *      dropped when it was merged), the after-install steps (setup.c:
 *      fstab naming the new root UUID, hostname, hosts, kernel/cmdline),
 *      and the incomplete marker removed last.
 * Killed before the end the copy stays incomplete (or, during tune2fs's
 * rewrite, unreadable); never complete and half set up.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/run.h"
#include "common/util.h"
#include "fs-private.h"

static int drop_csum_seed(const struct fs_target *t, const char *seed, struct pb_err *err)
{
	struct strbuf dev = STRBUF_INIT;
	char timeenv[64];
	const char *envp[2] = { NULL, NULL };
	struct pb_run_opts ro = { 0 };
	int r;

	/* tune2fs rewrites the checksums only on a freshly checked filesystem. */
	r = fs_e2fsck_preen(t, seed, true, err);
	if (r < 0)
		return r;
	r = fs_tool_device(t, &dev, err);
	if (r < 0)
		goto out;
	envp[0] = fs_tool_time_env(seed, timeenv, sizeof(timeenv));
	ro.envp_extra = envp[0] ? envp : NULL;
	fs_test_pause("adopt");
	r = pb_run((const char *const[]){ "tune2fs", "-O", "^metadata_csum_seed", dev.buf, NULL }, &ro, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: ", t->where);
out:
	strbuf_release(&dev);
	return r;
}

/* The guest's file, or NULL (none, or not a regular file). */
static char *read_text(ext2_filsys e2, const char *path)
{
	ext2_ino_t ino;
	char *data = NULL;
	size_t len;

	if (fs_lookup(e2, path, true, &ino) || fs_read_ino(e2, ino, 1 << 20, &data, &len))
		return NULL;
	return data;
}

/* text with every old string of pairs (case ignored, UUIDs come in both) replaced by its new one. */
static void replace_all(const char *text, const char *const *pairs, struct strbuf *out)
{
	const char *p = text;

	while (*p) {
		bool hit = false;

		for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
			size_t n = strlen(pairs[i]);

			if (n && !strncasecmp(p, pairs[i], n)) {
				strbuf_addstr(out, pairs[i + 1]);
				p += n;
				hit = true;
				break;
			}
		}
		if (!hit)
			strbuf_addch(out, *p++);
	}
}

/* fstab without the line that mounts /boot (it was merged into the root). */
static void drop_boot_line(const char *text, struct strbuf *out)
{
	while (*text) {
		const char *end = strchrnul(text, '\n'), *s = text, *f2;
		size_t n;

		while (*s == ' ' || *s == '\t')
			s++;
		/* the second field */
		f2 = s + strcspn(s, " \t\n");
		while (*f2 == ' ' || *f2 == '\t')
			f2++;
		n = strcspn(f2, " \t\n");
		if (!(*s != '#' && n == 5 && !strncmp(f2, "/boot", 5) && f2 < end)) {
			strbuf_add(out, text, (size_t)(end - text));
			strbuf_addch(out, '\n');
		}
		text = *end ? end + 1 : end;
	}
}

static int adopt_session(const struct fs_target *t, const struct fs_adopt_opts *o, struct pb_err *err)
{
	struct fs_install_opts io = {
		.source = o->merge_boot,
		.seed = o->seed,
		.warn = o->warn,
		.userdata = o->userdata,
		.setup = true,
		.hostname = o->hostname,
	};
	struct populate p = { .t = t, .opts = &io, .err = err, .path = STRBUF_INIT, .parent_path = STRBUF_INIT,
			      .src_root_fd = -1, .src_dir_fd = -1, .data_fd = -1, .src_dir = STRBUF_INIT,
			      .entry_name = STRBUF_INIT };
	struct strbuf sb = STRBUF_INIT, cmd = STRBUF_INIT;
	_cleanup_free_ char *fstab = NULL, *cmdline = NULL;
	struct archive_entry *e;
	errcode_t rc;
	int r, r2;

	p.stage = xmalloc(FS_STAGE_SIZE);
	if (o->merge_boot) {
		/* The archive is read before the filesystem is opened: a bad one changes nothing. */
		r = fs_source_open(&p);
		if (r < 0)
			goto out;
	}
	r = fs_ext2_open(t, true, &p.e2, err);
	if (r < 0)
		goto out;
	p.fixed_time = pb_fixed_time(o->seed != NULL, &p.now);
	if (!p.fixed_time)
		p.now = (int64_t)time(NULL);
	else
		p.e2->now = (time_t)p.now;
	p.e2->umask = 022;
	rc = ext2fs_read_bitmaps(p.e2);
	if (!rc)
		rc = fs_lookup(p.e2, "/" FS_MARKER_NAME, false, &p.marker);
	if (rc) {
		r = fs_err_ext2(err, rc, "%s: the copy is not marked incomplete", t->where);
		goto out_close;
	}
	if (o->merge_boot) {
		while ((r = fs_source_next(&p, &e)) > 0) {
			r = fs_entry_add(&p, e);
			if (r == -ENOSPC && p.nospace)
				r = pb_err_set(err, -ENOSPC, "%s: no room for /boot's files", t->where);
			if (r < 0)
				break;
		}
		if (r < 0)
			goto out_close;
	}

	fstab = read_text(p.e2, "/etc/fstab");
	if (fstab) {
		strbuf_reset(&sb);
		if (o->drop_boot_mount) {
			drop_boot_line(fstab, &sb);
			free(fstab);
			fstab = strbuf_detach(&sb, NULL);
		}
		replace_all(fstab, o->replace, &sb);
		r = fs_populate_put_file(&p, "/etc/fstab", sb.buf, sb.len, 0644);
		if (r < 0)
			goto out_close;
	}
	cmdline = read_text(p.e2, "/etc/kernel/cmdline");
	if (o->cmdline) {
		io.cmdline = o->cmdline;
	} else if (cmdline) {
		replace_all(cmdline, o->replace, &cmd);
		strbuf_rtrim(&cmd);
		for (size_t i = 0; i < cmd.len; i++)
			if (cmd.buf[i] == '\n' || cmd.buf[i] == '\t')
				cmd.buf[i] = ' ';
		if (cmd.len)
			io.cmdline = cmd.buf;
	}
	r = fs_setup_guest(&p, p.e2, t, &io, err);
	if (r < 0)
		goto out_close;
	fs_test_pause("setup");
	r = fs_marker_remove(&p);

out_close:
	rc = ext2fs_close_free(&p.e2);
	r2 = rc ? fs_err_ext2(err, rc, "%s: cannot write the filesystem", t->where) : 0;
	if (r >= 0 && r2 < 0)
		r = r2;
out:
	fs_source_close(&p);
	fs_path_map_free(&p.map);
	free(p.stage);
	free(p.fd_buf);
	strbuf_release(&p.path);
	strbuf_release(&p.entry_name);
	strbuf_release(&p.parent_path);
	strbuf_release(&sb);
	strbuf_release(&cmd);
	return r;
}

int fs_adopt(const struct fs_target *t, const struct fs_adopt_opts *o, struct pb_err *err)
{
	int r;

	if (o->drop_csum_seed) {
		r = drop_csum_seed(t, o->seed, err);
		if (r < 0)
			return r;
	}
	return adopt_session(t, o, err);
}
