/* SPDX-License-Identifier: MIT */
/*
 * Guest inspection and what it feeds: the guest model (disk_guest_scan():
 * os-release, /etc/kernel/cmdline, the kernels of /boot and what /vmlinuz
 * and /initrd.img name), the boot menu rendered from it (boot_menu_render())
 * and the VM's kernel command line (vm_cmdline_build()). The input is the
 * guest, as NUL-separated fields: os-release, kernel/cmdline, /vmlinuz's
 * target, /initrd.img's target, then names of files made in /boot. They go
 * in through an archive into partition 'g' of the guest disk (fuzz-gdisk.h).
 * Invariants: the model offers only kernels with safe names; every line of
 * grub.cfg an entry makes is GRUB words (bare safe characters or single
 * quotes, '\'' between), with one menuentry per bootable guest; the VM's
 * command line is one line.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>

#include "disk/disk.h"
#include "fuzz-gdisk.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add(struct archive *a, const char *path, mode_t type, const char *data, size_t len, const char *link)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)len : 0);
	if (link)
		archive_entry_set_symlink(e, link);
	/* a name that is not UTF-8 is written with a warning (pax hdrcharset=BINARY) */
	if (archive_write_header(a, e) < ARCHIVE_WARN)
		abort();
	if (type == AE_IFREG && len && archive_write_data(a, data, len) != (la_ssize_t)len)
		abort();
	archive_entry_free(e);
}

/* A GRUB word list as boot/menu.c writes it: bare safe characters, or '...' with '\'' joining. */
static void check_words(const char *s)
{
	while (*s) {
		if (*s == ' ') {
			s++;
		} else if (*s == '\'') {
			const char *q = strchr(s + 1, '\'');

			fuzz_assert(q != NULL);
			for (const char *c = s + 1; c < q; c++)
				fuzz_assert((unsigned char)*c >= 0x20 && *c != 0x7f);
			s = q + 1;
			if (!strncmp(s, "\\''", 3))
				s += 2; /* '\'' : the escaped quote, then the next quoted part */
		} else {
			fuzz_assert(isalnum((unsigned char)*s) || strchr("_./,:=+@%~-", *s));
			s++;
		}
	}
}

static void check_cfg(const char *cfg, size_t entries)
{
	size_t top = 0;

	for (const char *l = cfg; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char *line = strndup(l, len);

		if (!line)
			abort();
		if (!strncmp(line, "menuentry ", 10)) {
			size_t n = strlen(line);

			top++;
			fuzz_assert(n > 12 && !strcmp(line + n - 2, " {"));
			line[n - 2] = '\0';
			check_words(line + 10);
		} else if (!strncmp(line, "\tlinux ", 7) || !strncmp(line, "\tinitrd ", 8)) {
			check_words(strchr(line + 1, ' ') + 1);
		} else if (!strncmp(line, "\tsearch --no-floppy --fs-uuid --set=root ", 41)) {
			check_words(line + 41);
		}
		free(line);
		l += len + (nl != NULL);
	}
	fuzz_assert(top == entries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_gdisk g;
	static struct fuzz_file src;
	static int ready;
	struct pb_err err = PB_ERR_INIT;
	struct fs_install_opts o = { .seed = "fuzz" };
	struct fs_target t;
	const char *field[64];
	size_t flen[64], nf = 0;
	struct archive *a;
	size_t used = 0;
	static char buf[1 << 20];
	struct disk *k = NULL;
	struct disk_guests gs = { 0 };

	if (!ready) {
		fuzz_gdisk_make(&g);
		fuzz_file_init(&src, "guest.tar");
		ready = 1;
	}
	for (size_t i = 0; i < size && nf < 64;) {
		const uint8_t *z = memchr(data + i, 0, size - i);
		size_t n = z ? (size_t)(z - (data + i)) : size - i;

		field[nf] = (const char *)data + i;
		flen[nf++] = n;
		i += n + 1;
	}

	/* the guest as an archive */
	a = archive_write_new();
	archive_write_set_format_pax(a);
	if (archive_write_open_memory(a, buf, sizeof(buf), &used) != ARCHIVE_OK)
		abort();
	add(a, "./", AE_IFDIR, NULL, 0, NULL);
	add(a, "./etc/", AE_IFDIR, NULL, 0, NULL);
	add(a, "./etc/kernel/", AE_IFDIR, NULL, 0, NULL);
	add(a, "./boot/", AE_IFDIR, NULL, 0, NULL);
	if (nf > 0)
		add(a, "./etc/os-release", AE_IFREG, field[0], flen[0], NULL);
	if (nf > 1)
		add(a, "./etc/kernel/cmdline", AE_IFREG, field[1], flen[1], NULL);
	for (size_t i = 2; i < 4 && i < nf; i++) {
		char *target = strndup(field[i], flen[i]);

		if (!target)
			abort();
		if (*target)
			add(a, i == 2 ? "./vmlinuz" : "./initrd.img", AE_IFLNK, NULL, 0, target);
		free(target);
	}
	for (size_t i = 4; i < nf; i++) {
		char path[600];

		if (!flen[i] || flen[i] > 255 || memchr(field[i], '/', flen[i]))
			continue;
		snprintf(path, sizeof(path), "./boot/%.*s", (int)flen[i], field[i]);
		add(a, path, AE_IFREG, "x", 1, NULL);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_write_free(a);

	fuzz_gdisk_reset(&g);
	fuzz_file_set(&src, buf, used, 0);
	t = fuzz_gdisk_target(&g);
	o.source = src.path;
	if (fs_install(&t, &o, &err) < 0)
		goto out; /* e.g. a link target too long for ext4: not what this harness is about */

	if (disk_open(g.disk.path, DISK_OPEN_RDONLY, 0, NULL, &k, &err) < 0)
		abort();
	if (disk_guest_scan(k, &gs, &err) == 0) {
		struct boot_entry e[4];
		struct strbuf titles[4], cfg = STRBUF_INIT;
		size_t n = 0;

		for (size_t i = 0; i < gs.n && n < 4; i++) {
			const struct disk_guest *gu = &gs.v[i];
			struct strbuf cmd = STRBUF_INIT;

			for (size_t j = 0; j < gu->info.n_kernels; j++) {
				const char *s = strrchr(gu->info.kernels[j].kernel, '/') + 1;

				for (; *s; s++)
					fuzz_assert(isalnum((unsigned char)*s) || strchr("._+~-", *s));
			}
			vm_cmdline_build(gu->info.cmdline, "UUID=x", "panic=-1", NULL, &cmd);
			fuzz_assert(!strchr(cmd.buf, '\n'));
			strbuf_release(&cmd);
			if (!gu->bootable)
				continue;
			/* as disk/menu.c builds an entry */
			strbuf_init(&titles[n]);
			strbuf_addf(&titles[n], "%s (%s)", gu->part.name, gu->info.pretty_name ? gu->info.pretty_name : "");
			e[n] = (struct boot_entry){ .id = gu->part.name, .title = titles[n].buf, .fs_uuid = gu->probe.uuid,
						    .partuuid = gu->part.uuid, .kernel = gu->info.kernels[0].kernel,
						    .initrd = gu->info.kernels[0].initrd, .cmdline = gu->info.cmdline };
			n++;
		}
		boot_menu_render(e, n, &cfg);
		check_cfg(cfg.buf, n);
		strbuf_release(&cfg);
		for (size_t i = 0; i < n; i++)
			strbuf_release(&titles[i]);
		disk_guests_release(&gs);
	}
	disk_free(k);
out:
	pb_err_clear(&err);
	return 0;
}
