/* SPDX-License-Identifier: MIT */
/*
 * The GRUB menu: grub.cfg rendered from the disk's guests (as data, then
 * copied to the ESP with mtools). BIOS and UEFI GRUB both read this one file;
 * their embedded early config finds the ESP by its FAT volume id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/macros.h"
#include "boot-private.h"

void boot_cfg_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, *s);
	}
	strbuf_addch(out, '\'');
}

/*
 * A word of a linux/initrd line: as it is when it holds only characters GRUB's
 * script gives no meaning to, else single-quoted. Paths and arguments come
 * from the guest (untrusted): a '$', ';', '{' or blank in them must not become
 * GRUB script.
 */
static void cfg_word(struct strbuf *out, const char *w, size_t len)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%~^";
	_cleanup_free_ char *copy = strndup(w, len);

	if (!copy)
		return;
	if (len && strspn(copy, safe) == len)
		strbuf_addstr(out, copy);
	else
		boot_cfg_quote(out, copy);
}

/* The guest's arguments, word by word (a "..." group is one word, as the kernel reads it). */
static void cfg_args(struct strbuf *out, const char *s)
{
	while (*s) {
		const char *w;
		bool quoted = false;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		w = s;
		while (*s && (quoted || (*s != ' ' && *s != '\t'))) {
			if (*s == '"')
				quoted = !quoted;
			s++;
		}
		strbuf_addch(out, ' ');
		cfg_word(out, w, (size_t)(s - w));
	}
}

/* One menuentry of guest e booting kernel (and initrd), indented by indent. */
static void menu_entry(struct strbuf *out, const struct boot_entry *e, const char *title, const char *id,
		       const char *kernel, const char *initrd, const char *indent)
{
	const char *cmdline = e->cmdline && *e->cmdline ? e->cmdline : "ro quiet";

	strbuf_addf(out, "%smenuentry ", indent);
	boot_cfg_quote(out, title);
	strbuf_addstr(out, " --id ");
	boot_cfg_quote(out, id);
	strbuf_addstr(out, " {\n");
	/* by filesystem UUID: GRUB 2.06 has no search --part-uuid; the kernel may be on a separate /boot */
	strbuf_addf(out, "%s\tsearch --no-floppy --fs-uuid --set=root %s\n", indent,
		    e->boot_fs_uuid && *e->boot_fs_uuid ? e->boot_fs_uuid : e->fs_uuid);
	strbuf_addf(out, "%s\tlinux ", indent);
	cfg_word(out, kernel, strlen(kernel));
	strbuf_addstr(out, " root=PARTUUID=");
	cfg_word(out, e->partuuid, strlen(e->partuuid));
	cfg_args(out, cmdline);
	strbuf_addch(out, '\n');
	if (initrd && *initrd) {
		strbuf_addf(out, "%s\tinitrd ", indent);
		cfg_word(out, initrd, strlen(initrd));
		strbuf_addch(out, '\n');
	}
	strbuf_addf(out, "%s}\n", indent);
}

void boot_menu_render(const struct boot_entry *entries, size_t n, struct strbuf *out)
{
	strbuf_addstr(out,
		      "# Written by partboot: one entry per guest, rewritten whenever guests change.\n"
		      "# Edits are lost; use 'partboot default' and 'partboot next' to choose a guest.\n"
		      "serial --unit=0 --speed=115200\n"
		      "terminal_input serial console\n"
		      "terminal_output serial console\n"
		      "set timeout=1\n"
		      "set timeout_style=menu\n"
		      "set default=0\n"
		      "\n"
		      "# grubenv lives next to this file ($prefix/grubenv). next_entry is a one-shot\n"
		      "# choice, cleared here before it is used, as grub-reboot does.\n"
		      "load_env\n"
		      "if [ \"${next_entry}\" ]; then\n"
		      "\tset default=\"${next_entry}\"\n"
		      "\tset next_entry=\n"
		      "\tsave_env next_entry\n"
		      "elif [ \"${saved_entry}\" ]; then\n"
		      "\tset default=\"${saved_entry}\"\n"
		      "fi\n");
	for (size_t i = 0; i < n; i++) {
		const struct boot_entry *e = &entries[i];
		const char *title = e->title ? e->title : e->id;
		struct strbuf sb = STRBUF_INIT;

		strbuf_addstr(out, "\n");
		menu_entry(out, e, title, e->id, e->kernel, e->initrd, "");
		if (e->n_kernels < 2)
			continue;
		/* the guest's other kernels (and the newest again), as Debian's "Advanced options" */
		strbuf_addf(&sb, "%s: all kernels", e->id);
		strbuf_addstr(out, "submenu ");
		boot_cfg_quote(out, sb.buf);
		strbuf_reset(&sb);
		strbuf_addf(&sb, "%s-kernels", e->id);
		strbuf_addstr(out, " --id ");
		boot_cfg_quote(out, sb.buf);
		strbuf_addstr(out, " {\n");
		for (size_t j = 0; j < e->n_kernels; j++) {
			const struct boot_kernel *k = &e->kernels[j];
			struct strbuf t = STRBUF_INIT, id = STRBUF_INIT;

			strbuf_addf(&t, "%s, Linux %s", title, k->version);
			strbuf_addf(&id, "%s-%s", e->id, k->version);
			menu_entry(out, e, t.buf, id.buf, k->kernel, k->initrd, "\t");
			strbuf_release(&t);
			strbuf_release(&id);
		}
		strbuf_addstr(out, "}\n");
		strbuf_release(&sb);
	}
	strbuf_addstr(out, "\nif [ \"${grub_platform}\" = \"efi\" ]; then\n"
			   "\tmenuentry 'Reboot into firmware settings' --id fwsetup {\n"
			   "\t\tfwsetup\n"
			   "\t}\n"
			   "fi\n");
}

static int cfg_has_entry(const char *cfg, const char *disk, const char *name, struct pb_err *err)
{
	struct strbuf pat = STRBUF_INIT;
	bool found;

	strbuf_addstr(&pat, " --id ");
	boot_cfg_quote(&pat, name);
	strbuf_addstr(&pat, " {\n");
	found = strstr(cfg, pat.buf) != NULL;
	strbuf_release(&pat);
	if (!found)
		return pb_err_set(err, -ENOENT,
				  "%s: partition '%s' is not in the boot menu (not a complete guest with a kernel in /boot)",
				  disk, name);
	return 0;
}

int boot_menu_has_entry(struct esp *e, const char *name, struct pb_err *err)
{
	_cleanup_free_ char *cfg = NULL;
	int r;

	r = esp_read_file(e, BOOT_GRUB_CFG, &cfg, NULL, err);
	if (r == -ENOENT)
		return pb_err_set(err, -ENOENT, "%s: no bootloader installed (run 'partboot bootloader %s')",
				  part_disk_path(e->d), part_disk_path(e->d));
	if (r < 0)
		return r;
	return cfg_has_entry(cfg, part_disk_path(e->d), name, err);
}

int boot_menu_has_entry_in(const char *esp_mount, const char *name, struct pb_err *err)
{
	struct strbuf path = STRBUF_INIT, cfg = STRBUF_INIT;
	char buf[4096];
	FILE *f;
	size_t n;
	int r;

	strbuf_addf(&path, "%s%s", esp_mount, BOOT_GRUB_CFG);
	f = fopen(path.buf, "re");
	if (!f) {
		r = pb_err_set(err, -errno, "%s: %s (no bootloader installed?)", path.buf, strerror(errno));
		goto out;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&cfg, buf, n);
	fclose(f);
	r = cfg_has_entry(cfg.buf, path.buf, name, err);
out:
	strbuf_release(&path);
	strbuf_release(&cfg);
	return r;
}

bool boot_is_installed(struct part_disk *d)
{
	struct esp e;

	if (esp_open(d, &e, NULL) < 0 || !e.has_fat)
		return false;
	return esp_lookup(&e, BOOT_GRUB_CFG, NULL, 0, NULL, NULL, NULL) == 0;
}

int boot_menu_write(struct part_disk *d, const struct boot_entry *entries, size_t n, struct pb_err *err)
{
	struct strbuf cfg = STRBUF_INIT;
	struct esp e;
	int r;

	if (!boot_is_installed(d))
		return 0;
	r = esp_open(d, &e, err);
	if (r < 0)
		return r;
	boot_menu_render(entries, n, &cfg);
	r = esp_put_data(&e, cfg.buf, cfg.len, BOOT_GRUB_CFG, err);
	strbuf_release(&cfg);
	return r;
}
