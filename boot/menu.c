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

/*
 * Quoting for GRUB 2.06's script syntax (grub-core/script/yylex.l): inside
 * single quotes every character but ' is literal ($, ;, }, # and newline
 * included), so a value is written as grub-mkconfig's quote() does, ' as
 * '\''. Control characters become '?': a newline would be legal inside the
 * quotes but starts a new line of grub.cfg, which no guest should decide.
 */
void boot_cfg_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '\'');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\'')
			strbuf_addstr(out, "'\\''");
		else if (c < 0x20 || c == 0x7f)
			strbuf_addch(out, '?');
		else
			strbuf_addch(out, (char)c);
	}
	strbuf_addch(out, '\'');
}

/* Words the lexer turns into tokens the parser does not take as an argument. */
static bool grub_reserved(const char *s)
{
	static const char *const words[] = { "time", "case", "do", "done", "elif", "else", "esac", "fi",
					     "for", "if", "in", "select", "then", "until", "while", "function" };

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

/* A word written bare: only characters the lexer keeps as they are, outside quotes, escapes and $. */
static bool grub_plain(const char *s)
{
	if (!*s || grub_reserved(s))
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./,:=+@%~-", *s))
			return false;
	return true;
}

/* One argument of a command: bare when that is safe, else single-quoted. */
static void cfg_word(struct strbuf *out, const char *s)
{
	if (grub_plain(s))
		strbuf_addstr(out, s);
	else
		boot_cfg_quote(out, s);
}

/*
 * The guest's kernel command line as arguments of `linux`. The line is split
 * into the kernel's words (whitespace outside double quotes, as
 * lib/cmdline.c's next_arg() does) and each word's double quotes dropped:
 * GRUB's loader joins its arguments with spaces and wraps one that holds a
 * space in double quotes itself (grub-core/lib/cmdline.c), so `foo="a b"`
 * reaches the kernel as "foo=a b", as when grub-mkconfig writes it bare.
 * Every word is then quoted on its own: nothing of the guest's is script.
 */
static void cfg_cmdline(struct strbuf *out, const char *cmdline)
{
	struct strbuf w = STRBUF_INIT;
	const char *p = cmdline;

	while (*p) {
		bool quoted = false;

		while (*p && strchr(" \t\n\v\f\r", *p))
			p++;
		if (!*p)
			break;
		strbuf_reset(&w);
		for (; *p && (quoted || !strchr(" \t\n\v\f\r", *p)); p++) {
			if (*p == '"')
				quoted = !quoted;
			else
				strbuf_addch(&w, *p);
		}
		if (!w.len)
			continue;
		strbuf_addch(out, ' ');
		cfg_word(out, w.buf);
	}
	strbuf_release(&w);
}

/* A menu title: menuentry takes an argument starting with '-' as an option, even quoted. */
static void menu_title(struct strbuf *out, const char *title)
{
	if (*title == '-') {
		struct strbuf t = STRBUF_INIT;

		strbuf_addf(&t, " %s", title);
		boot_cfg_quote(out, t.buf);
		strbuf_release(&t);
	} else {
		boot_cfg_quote(out, title);
	}
}

/* One menuentry of guest e booting kernel (and initrd), indented by indent. */
static void menu_entry(struct strbuf *out, const struct boot_entry *e, const char *title, const char *id,
		       const char *kernel, const char *initrd, const char *indent)
{
	const char *cmdline = e->cmdline && *e->cmdline ? e->cmdline : "ro quiet";
	struct strbuf root = STRBUF_INIT;

	strbuf_addf(out, "%smenuentry ", indent);
	menu_title(out, title);
	strbuf_addstr(out, " --id ");
	boot_cfg_quote(out, id);
	strbuf_addstr(out, " {\n");
	/* by filesystem UUID: GRUB 2.06 has no search --part-uuid; the kernel may be on a separate /boot */
	strbuf_addf(out, "%s\tsearch --no-floppy --fs-uuid --set=root ", indent);
	cfg_word(out, e->boot_fs_uuid && *e->boot_fs_uuid ? e->boot_fs_uuid : e->fs_uuid ? e->fs_uuid : "");
	strbuf_addf(out, "\n%s\tlinux ", indent);
	cfg_word(out, kernel ? kernel : "");
	strbuf_addf(&root, "root=PARTUUID=%s", e->partuuid ? e->partuuid : "");
	strbuf_addch(out, ' ');
	cfg_word(out, root.buf);
	strbuf_release(&root);
	cfg_cmdline(out, cmdline);
	strbuf_addch(out, '\n');
	if (initrd && *initrd) {
		strbuf_addf(out, "%s\tinitrd ", indent);
		cfg_word(out, initrd);
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
		menu_title(out, sb.buf);
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
