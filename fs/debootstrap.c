/* SPDX-License-Identifier: MIT */
/*
 * Installing Debian from the network (`partboot install DISK NAME --from
 * debootstrap:SUITE[:VARIANT]`).
 *
 * Who touches what, and when: mmdebstrap builds the root in its own
 * temporary chroot (that is how it works; as root, or unprivileged with
 * --mode=unshare / fakechroot, which it picks by itself) and writes it as a
 * tar stream to its standard output, a pipe that fs_install() reads like
 * any archive: nothing is extracted on our side, and the partition is
 * written by the same range-checked code as every other install. Only
 * when mmdebstrap exited 0 (fs_install_opts.source_end, before the
 * after-install steps) is the guest marked complete: a stream that stops at
 * an entry boundary would otherwise look like a short but valid archive.
 *
 * debootstrap (the fallback when mmdebstrap is missing) can only write a
 * directory, so then the root is built in a temporary folder first and
 * installed from there as a directory source; the folder is removed after.
 *
 * Unless no_kernel: linux-image-amd64, initramfs-tools (its default
 * MODULES=most puts virtio_pci, virtio_blk, ahci, nvme, sd_mod and ext4 in
 * the initramfs, so the root is found on real hardware and in the VM
 * runner), systemd-sysv (minbase has no init) and udev (serial-getty@ttyS0
 * waits for the tty's device unit).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/run.h"
#include "common/util.h"
#include "common/strbuf.h"
#include "common/tmpdir.h"
#include "fs-private.h"

#define KERNEL_PACKAGES "linux-image-amd64,initramfs-tools,systemd-sysv,udev"

struct fs_debootstrap {
	struct pb_child *child; /* mmdebstrap while it runs */
	int fd;                 /* its standard output, -1 when closed */
	bool finished;
	int result;             /* of the finished child */
	struct pb_err child_err;
	char *tmpdir;           /* debootstrap's tree */
	char *desc;
};

/* --- the host's mirror ---------------------------------------------------------- */

/* Is the URI's last path component "debian"? (not debian-security, not a PPA) */
static bool debian_uri(const char *uri, size_t n)
{
	while (n && uri[n - 1] == '/')
		n--;
	return n >= 7 && !strncmp(uri + n - 6, "debian", 6) && uri[n - 7] == '/' && memmem(uri, n, "://", 3);
}

/* One-line format: "deb [ options ] URI SUITE COMPONENT...". */
static char *mirror_from_list(const char *text)
{
	while (*text) {
		const char *end = strchrnul(text, '\n'), *s = text;

		text = *end ? end + 1 : end;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, "deb", 3) || (s[3] != ' ' && s[3] != '\t'))
			continue;
		s += 3;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s < end && *s == '[') {
			const char *close = memchr(s, ']', (size_t)(end - s));

			if (!close)
				continue;
			s = close + 1;
			while (s < end && (*s == ' ' || *s == '\t'))
				s++;
		}
		{
			size_t n = strcspn(s, " \t\n");

			if (debian_uri(s, n))
				return xstrndup(s, n);
		}
	}
	return NULL;
}

/* deb822 format: paragraphs of "Field: value", continuation lines start with a blank. */
static char *mirror_from_sources(const char *text)
{
	while (*text) {
		bool types_deb = false, enabled = true;
		const char *uris = NULL, *uris_end = NULL;

		/* one paragraph */
		while (*text && *text != '\n') {
			const char *end = strchrnul(text, '\n'), *s = text;

			text = *end ? end + 1 : end;
			if (*s == '#' || *s == ' ' || *s == '\t')
				continue;
			if (!strncasecmp(s, "Types:", 6)) {
				for (const char *p = s + 6; p < end;) {
					size_t n;

					p += strspn(p, " \t");
					n = strcspn(p, " \t\n");
					if (n == 3 && !strncmp(p, "deb", 3))
						types_deb = true;
					p += n ? n : 1;
				}
			} else if (!strncasecmp(s, "URIs:", 5)) {
				uris = s + 5;
				uris_end = end;
			} else if (!strncasecmp(s, "Enabled:", 8)) {
				const char *v = s + 8 + strspn(s + 8, " \t");

				enabled = strncasecmp(v, "no", 2) != 0;
			}
		}
		while (*text == '\n')
			text++;
		if (!types_deb || !enabled || !uris)
			continue;
		for (const char *p = uris; p < uris_end;) {
			size_t n;

			p += strspn(p, " \t");
			n = strcspn(p, " \t\n");
			if (n && debian_uri(p, n))
				return xstrndup(p, n);
			p += n ? n : 1;
		}
	}
	return NULL;
}

static int read_text(const char *path, char **ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	size_t n;

	*ret = NULL;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	*ret = strbuf_detach(&sb, NULL);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

int fs_apt_mirror(const char *apt_dir, char **ret, struct pb_err *err)
{
	struct strbuf path = STRBUF_INIT;
	struct dirent **names = NULL;
	char *text = NULL, *found = NULL;
	int n, r;

	strbuf_addf(&path, "%s/sources.list", apt_dir);
	r = read_text(path.buf, &text);
	if (r < 0) {
		r = pb_err_set(err, r, "%s: %s", path.buf, strerror(-r));
		goto out;
	}
	if (text)
		found = mirror_from_list(text);
	free(text);
	text = NULL;

	strbuf_reset(&path);
	strbuf_addf(&path, "%s/sources.list.d", apt_dir);
	n = scandir(path.buf, &names, NULL, alphasort); /* apt reads them in this order too */
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		bool list = ends_with(name, ".list"), deb822 = ends_with(name, ".sources");

		if (!found && (list || deb822)) {
			strbuf_reset(&path);
			strbuf_addf(&path, "%s/sources.list.d/%s", apt_dir, name);
			if (read_text(path.buf, &text) == 0 && text)
				found = list ? mirror_from_list(text) : mirror_from_sources(text);
			free(text);
			text = NULL;
		}
		free(names[i]);
	}
	free(names);
	*ret = found;
	r = 0;
out:
	strbuf_release(&path);
	return r;
}

/* --- more packages ---------------------------------------------------------------- */

static bool package_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '+' || c == '-' || c == '.');
}

int fs_debootstrap_packages(const char *list, struct strbuf *out, struct pb_err *err)
{
	size_t start = out->len, n = 0;

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ", \t\n"), name = strcspn(p, ":, \t\n");

		if (!len) {
			p++;
			continue;
		}
		/* policy §5.6.1: [a-z0-9][a-z0-9+.-]+, then an optional :ARCH */
		bool ok = name >= 2 && name <= 128;

		for (size_t i = 0; ok && i < name; i++)
			ok = package_char(p[i], i == 0);
		if (ok && name < len) {
			ok = len - name >= 2;
			for (size_t i = name + 1; ok && i < len; i++)
				ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-';
		}
		if (!ok) {
			out->len = start;
			out->buf[start] = '\0';
			return pb_err_set(err, -EINVAL, "--packages: '%.*s' is not a Debian package name", (int)len, p);
		}
		if (n++)
			strbuf_addch(out, ',');
		strbuf_add(out, p, len);
		p += len;
	}
	if (!n)
		return pb_err_set(err, -EINVAL, "--packages: no package named (a list such as openssh-server,sudo)");
	return 0;
}

/* --- running the tool ------------------------------------------------------------- */

static void strv_push(const char **v, size_t *n, size_t max, const char *s)
{
	if (*n + 1 < max)
		v[(*n)++] = s;
	v[*n] = NULL;
}

static int source_end(void *userdata, struct pb_err *err)
{
	return fs_debootstrap_finish(userdata, err);
}

int fs_debootstrap_finish(struct fs_debootstrap *d, struct pb_err *err)
{
	char buf[65536];

	if (!d->finished) {
		/*
		 * Read the rest (the tar's end padding, or all of it after a failed
		 * install) so the child ends on its own and its exit status is its own
		 * verdict, not a broken pipe.
		 */
		if (d->fd >= 0) {
			while (read(d->fd, buf, sizeof(buf)) > 0)
				;
			close(d->fd);
			d->fd = -1;
		}
		d->result = pb_run_finish(d->child, &d->child_err);
		d->child = NULL;
		d->finished = true;
	}
	if (d->result < 0)
		return pb_err_set(err, d->result, "%s", pb_err_msg(&d->child_err));
	return 0;
}

int fs_debootstrap_start(const struct fs_debootstrap_opts *o, struct fs_debootstrap **ret, struct pb_err *err)
{
	_cleanup_free_ char *host_mirror = NULL;
	struct fs_debootstrap *d;
	struct strbuf variant = STRBUF_INIT, include = STRBUF_INIT, hook_in = STRBUF_INIT, hook_out = STRBUF_INIT,
		      cache = STRBUF_INIT, mkdir_hook = STRBUF_INIT, more = STRBUF_INIT;
	struct pb_run_opts ro = { .pass_stderr = o->verbose };
	const char *env[2] = { NULL, NULL };
	char stamp[48];
	int64_t t;
	const char *argv[24];
	const char *mirror = o->mirror;
	bool mm = pb_have_program("mmdebstrap");
	size_t n = 0;
	int r;

	if (!o->suite || !*o->suite || strchr(o->suite, '/'))
		return pb_err_set(err, -EINVAL, "debootstrap: no suite given (debootstrap:SUITE[:VARIANT])");
	if (!mm && !pb_have_program("debootstrap"))
		return pb_err_set(err, -ENOENT,
				  "mmdebstrap: program not found, nor debootstrap (package mmdebstrap; try 'make deps')");
	if (o->packages) {
		r = fs_debootstrap_packages(o->packages, &more, err);
		if (r < 0) {
			strbuf_release(&more);
			return r;
		}
	}
	/* a seeded run asks mmdebstrap for its reproducible mode too */
	if (pb_fixed_time(o->seeded, &t)) {
		env[0] = pb_source_date_env(t, stamp, sizeof(stamp));
		ro.envp_extra = env;
	}
	if (!mirror) {
		r = fs_apt_mirror("/etc/apt", &host_mirror, err);
		if (r < 0) {
			strbuf_release(&more);
			return r;
		}
		mirror = host_mirror; /* NULL: the tool's default, deb.debian.org */
	}
	d = xcalloc(1, sizeof(*d));
	d->fd = -1;
	d->child_err = (struct pb_err)PB_ERR_INIT;
	{
		struct strbuf desc = STRBUF_INIT;

		strbuf_addf(&desc, "%s %s", mm ? "mmdebstrap" : "debootstrap", o->suite);
		if (o->variant)
			strbuf_addf(&desc, " (%s)", o->variant);
		strbuf_addf(&desc, " from %s", mirror ? mirror : "the default mirror");
		if (more.len)
			strbuf_addf(&desc, " with %s", more.buf);
		d->desc = strbuf_detach(&desc, NULL);
	}

	strv_push(argv, &n, ARRAY_SIZE(argv), mm ? "mmdebstrap" : "debootstrap");
	if (!o->verbose && mm)
		strv_push(argv, &n, ARRAY_SIZE(argv), "--quiet");
	if (o->variant) {
		strbuf_addf(&variant, "--variant=%s", o->variant);
		strv_push(argv, &n, ARRAY_SIZE(argv), variant.buf);
	}
	if (!o->no_kernel || more.len) {
		/* one --include: the kernel's packages and the user's (both tools take a comma list) */
		strbuf_addf(&include, "--include=%s%s%s", o->no_kernel ? "" : KERNEL_PACKAGES,
			    !o->no_kernel && more.len ? "," : "", more.buf);
		strv_push(argv, &n, ARRAY_SIZE(argv), include.buf);
	}
	if (o->cache_dir) {
		if (mkdir(o->cache_dir, 0755) < 0 && errno != EEXIST) {
			r = pb_err_set(err, -errno, "%s: %s", o->cache_dir, strerror(errno));
			goto fail;
		}
		if (strpbrk(o->cache_dir, " \t\n'\"\\")) {
			r = pb_err_set(err, -EINVAL, "%s: a package cache path must not hold blanks or quotes",
				       o->cache_dir);
			goto fail;
		}
		if (mm) {
			/*
			 * mmdebstrap's documented cache recipe: .debs in before apt runs,
			 * out again before the tar is written (and so never in the tar);
			 * essential/unlink would delete the essential ones first.
			 */
			strv_push(argv, &n, ARRAY_SIZE(argv), "--skip=essential/unlink");
			strbuf_addstr(&mkdir_hook, "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/");
			strbuf_addf(&hook_in, "--setup-hook=sync-in %s /var/cache/apt/archives/", o->cache_dir);
			strbuf_addf(&hook_out, "--customize-hook=sync-out /var/cache/apt/archives %s", o->cache_dir);
			strv_push(argv, &n, ARRAY_SIZE(argv), mkdir_hook.buf);
			strv_push(argv, &n, ARRAY_SIZE(argv), hook_in.buf);
			strv_push(argv, &n, ARRAY_SIZE(argv), hook_out.buf);
		} else {
			strbuf_addf(&cache, "--cache-dir=%s", o->cache_dir);
			strv_push(argv, &n, ARRAY_SIZE(argv), cache.buf);
		}
	}
	strv_push(argv, &n, ARRAY_SIZE(argv), o->suite);
	if (mm) {
		/* "-": the tar goes to standard output, our pipe. */
		strv_push(argv, &n, ARRAY_SIZE(argv), "-");
		if (mirror)
			strv_push(argv, &n, ARRAY_SIZE(argv), mirror);
		r = pb_run_start(argv, &ro, &d->child, &d->fd, err);
		if (r < 0)
			goto fail;
	} else {
		/* debootstrap cannot stream: a temporary tree is unavoidable, as large as the guest. */
		r = pb_mkdtemp("partboot-debootstrap", PB_TMP_LARGE, &d->tmpdir, err);
		if (r < 0)
			goto fail;
		strv_push(argv, &n, ARRAY_SIZE(argv), d->tmpdir);
		if (mirror)
			strv_push(argv, &n, ARRAY_SIZE(argv), mirror);
		r = pb_run(argv, &ro, err);
		if (r < 0)
			goto fail;
		d->finished = true;
	}
	*ret = d;
	r = 0;
	goto out;
fail:
	fs_debootstrap_free(d);
out:
	strbuf_release(&variant);
	strbuf_release(&include);
	strbuf_release(&hook_in);
	strbuf_release(&hook_out);
	strbuf_release(&mkdir_hook);
	strbuf_release(&cache);
	strbuf_release(&more);
	return r;
}

void fs_debootstrap_source(struct fs_debootstrap *d, struct fs_install_opts *io)
{
	if (d->tmpdir) {
		io->source = d->tmpdir;
		return;
	}
	io->source = "mmdebstrap";
	io->source_is_fd = true;
	io->source_fd = d->fd;
	io->source_end = source_end;
	io->source_userdata = d;
}

const char *fs_debootstrap_describe(const struct fs_debootstrap *d)
{
	return d->desc;
}

void fs_debootstrap_free(struct fs_debootstrap *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	pb_run_abort(d->child);
	if (d->tmpdir) {
		const char *argv[] = { "rm", "-rf", "--one-file-system", d->tmpdir, NULL };

		pb_run(argv, NULL, NULL);
		free(d->tmpdir);
	}
	pb_err_clear(&d->child_err);
	free(d->desc);
	free(d);
}
