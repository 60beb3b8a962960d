/* SPDX-License-Identifier: MIT */
/*
 * The after-install steps: what every guest gets, whatever its source,
 * written in fs_install()'s libext2fs session after the files and before
 * the incomplete marker goes (so an interruption leaves the guest marked
 * incomplete, never half set up):
 *   /etc/fstab         the root named by filesystem UUID; the guest's other
 *                      mounts kept, with "nofail" added (a guest moved to
 *                      another disk boots without them instead of stopping
 *                      in an emergency shell);
 *   /etc/hostname      + the 127.0.1.1 line of /etc/hosts (Debian's way of
 *                      resolving the own name without DNS);
 *   /etc/kernel/cmdline  the kernel arguments for the boot menu and the VM
 *                      runner (the root= argument is theirs to add);
 *   /var/lib/partboot/guest  the marker saying partboot made (or adopted)
 *                      the guest: without it a guest is "foreign" and
 *                      partboot writes nothing into it.
 * Each file is read back from the guest first, so a second install over
 * the same guest gives the same files (idempotent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/strbuf.h"
#include "fs-private.h"

/* What FS_PARTBOOT_MARKER says to someone who finds it in the guest. */
#define PARTBOOT_MARKER_TEXT                                                                    \
	"# partboot manages /etc/fstab, /etc/hostname, /etc/hosts and /etc/kernel/cmdline of this\n" \
	"# guest. Without this file partboot treats it as an install it did not make.\n"

/* The guest's file at path (symlinks followed inside it), or NULL when there is none. */
static int read_guest(ext2_filsys e2, const struct fs_target *t, const char *path, char **ret, struct pb_err *err)
{
	ext2_ino_t ino;
	size_t len;
	errcode_t rc;

	*ret = NULL;
	rc = fs_lookup(e2, path, true, &ino);
	if (rc == EXT2_ET_FILE_NOT_FOUND || rc == ENOENT)
		return 0;
	if (!rc)
		rc = fs_read_ino(e2, ino, 1 << 20, ret, &len); /* fstab, hosts: small files */
	/* not a regular file, or over 1 MiB (a guest's sparse file may claim terabytes): replaced below */
	if (rc == EISDIR || rc == EINVAL || rc == EXT2_ET_FILE_TOO_BIG)
		return 0;
	if (rc)
		return fs_err_ext2(err, rc, "%s: cannot read %s", t->where, path);
	return 0;
}

/* Split a line into at most n whitespace-separated fields (in place). Returns the count. */
static size_t split_fields(char *line, char **f, size_t n)
{
	size_t k = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t", &save); tok && k < n; tok = strtok_r(NULL, " \t", &save))
		f[k++] = tok;
	return k;
}

static bool has_option(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, opt, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static void build_fstab(const char *uuid, const char *old, struct strbuf *out)
{
	strbuf_addstr(out, FS_FSTAB_HEADER "\n");
	strbuf_addf(out, "UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n", uuid);
	while (old && *old) {
		const char *end = strchrnul(old, '\n');
		_cleanup_free_ char *line = xstrndup(old, (size_t)(end - old));
		const char *s = line;
		char *f[6];
		size_t n;

		old = *end ? end + 1 : end;
		while (*s == ' ' || *s == '\t')
			s++;
		/* Our own header, and Debian's placeholder that no longer holds. */
		if (!strncmp(s, "# partboot:", 11) || !strcmp(s, "# UNCONFIGURED FSTAB FOR BASE SYSTEM"))
			continue;
		if (*s == '#' || *s == '\0') {
			strbuf_addf(out, "%s\n", line);
			continue;
		}
		n = split_fields(line, f, ARRAY_SIZE(f));
		if (n < 3) {
			strbuf_addf(out, "%s\n", s); /* not ours to judge; mount will complain */
			continue;
		}
		if (!strcmp(f[1], "/"))
			continue; /* replaced by the line above */
		strbuf_addf(out, "%s\t%s\t%s\t", f[0], f[1], f[2]);
		if (n < 4)
			strbuf_addstr(out, "defaults,nofail");
		else if (has_option(f[3], "nofail"))
			strbuf_addstr(out, f[3]);
		else
			strbuf_addf(out, "%s,nofail", f[3]);
		strbuf_addf(out, "\t%s\t%s\n", n > 4 ? f[4] : "0", n > 5 ? f[5] : "0");
	}
}

static void build_hosts(const char *host, const char *old, struct strbuf *out)
{
	bool done = false;

	if (!old) {
		strbuf_addf(out,
			    "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n"
			    "# The following lines are desirable for IPv6 capable hosts\n"
			    "::1     localhost ip6-localhost ip6-loopback\n"
			    "ff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
			    host);
		return;
	}
	while (*old) {
		const char *end = strchrnul(old, '\n');
		size_t len = (size_t)(end - old);
		const char *s = old;

		old = *end ? end + 1 : end;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!strncmp(s, "127.0.1.1", 9) && (s[9] == ' ' || s[9] == '\t')) {
			if (!done)
				strbuf_addf(out, "127.0.1.1\t%s\n", host);
			done = true;
			continue;
		}
		strbuf_add(out, end - len, len);
		strbuf_addch(out, '\n');
		/* Debian puts it right after localhost. */
		if (!done && !strncmp(s, "127.0.0.1", 9) && (s[9] == ' ' || s[9] == '\t')) {
			strbuf_addf(out, "127.0.1.1\t%s\n", host);
			done = true;
		}
	}
	if (!done)
		strbuf_addf(out, "127.0.1.1\t%s\n", host);
}

/* Does the guest's own /etc/kernel/cmdline say anything? */
static bool blank(const char *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n')
			return false;
	return true;
}

int fs_setup_guest(struct populate *p, ext2_filsys e2, const struct fs_target *t, const struct fs_install_opts *o,
		   struct pb_err *err)
{
	struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *old = NULL;
	char uuid[37];
	int r;

	uuid_unparse_lower(e2->super->s_uuid, uuid);
	r = read_guest(e2, t, "/etc/fstab", &old, err);
	if (r < 0)
		goto out;
	build_fstab(uuid, old, &sb);
	r = fs_populate_put_file(p, "/etc/fstab", sb.buf, sb.len, 0644);
	if (r < 0)
		goto out;

	if (o->hostname) {
		strbuf_reset(&sb);
		strbuf_addf(&sb, "%s\n", o->hostname);
		r = fs_populate_put_file(p, "/etc/hostname", sb.buf, sb.len, 0644);
		if (r < 0)
			goto out;
		free(old);
		r = read_guest(e2, t, "/etc/hosts", &old, err);
		if (r < 0)
			goto out;
		strbuf_reset(&sb);
		build_hosts(o->hostname, old, &sb);
		r = fs_populate_put_file(p, "/etc/hosts", sb.buf, sb.len, 0644);
		if (r < 0)
			goto out;
	}

	free(old);
	r = read_guest(e2, t, "/etc/kernel/cmdline", &old, err);
	if (r < 0)
		goto out;
	if (o->cmdline || blank(old)) {
		/*
		 * No line of its own: the one its GRUB tooling would use
		 * (/etc/default/grub, as fs_guest_info() reads it), else "ro quiet".
		 */
		struct fs view = { .e2 = e2, .where = (char *)t->where };
		_cleanup_free_ char *grub = o->cmdline ? NULL : fs_grub_default_cmdline(&view);

		strbuf_reset(&sb);
		strbuf_addf(&sb, "%s\n", o->cmdline ? o->cmdline : grub ? grub : "ro quiet");
		r = fs_populate_put_file(p, "/etc/kernel/cmdline", sb.buf, sb.len, 0644);
		if (r < 0)
			goto out;
	}

	/* Last: the guest is partboot's from now on (fs_guest_info().partboot; docs/fs.md). */
	r = fs_populate_put_file(p, FS_PARTBOOT_MARKER, PARTBOOT_MARKER_TEXT, strlen(PARTBOOT_MARKER_TEXT), 0644);
out:
	strbuf_release(&sb);
	return r;
}

bool fs_hostname_valid(const char *h)
{
	size_t label = 0, n = strlen(h);

	if (!n || n > 253 || h[0] == '.' || h[n - 1] == '.')
		return false;
	for (const char *c = h; *c; c++) {
		if (*c == '.') {
			if (!label || c[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return false;
		if (*c == '-' && !label)
			return false;
		if (++label > 63)
			return false;
	}
	return h[n - 1] != '-';
}

void fs_hostname_from_name(const char *name, char *buf, size_t size)
{
	size_t k = 0;

	for (const char *c = name; *c && k + 1 < size && k < 63; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');

		if (ok || (k && buf[k - 1] != '-'))
			buf[k++] = ok ? *c : '-';
	}
	while (k && buf[k - 1] == '-')
		k--;
	buf[k] = '\0';
	if (!k)
		snprintf(buf, size, "guest");
}
