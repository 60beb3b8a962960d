/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of boot/: grub.cfg as data, grubenv parsing and editing (checked
 * byte for byte against grub-editenv), the MBR and core.img patches against
 * GRUB's offsets, and grubenv edits in place on a real FAT ESP inside an
 * image file made here.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot/boot.h"
#include "common/macros.h"
#include "common/run.h"
#include "part/part.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s", "/tmp/test-boot.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	return p[i];
}

static int run_cmd(const char *const argv[], struct strbuf *out)
{
	struct pb_run_opts opts = { .out = out };
	static const char *const env[] = { "MTOOLS_SKIP_CHECK=1", NULL };
	struct pb_err err = PB_ERR_INIT;
	int r;

	opts.envp_extra = env;
	r = pb_run(argv, &opts, &err);
	if (r < 0)
		print_message("# %s\n", pb_err_msg(&err));
	pb_err_clear(&err);
	return r;
}

static size_t read_file(const char *path, uint8_t *buf, size_t max)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, max);
	close(fd);
	assert_true(n >= 0);
	return (size_t)n;
}

/* ---- grub.cfg ------------------------------------------------------------ */

static void test_boot_menu_one_entry_per_guest(void **state)
{
	const struct boot_entry e[] = {
		{ .id = "deb12", .title = "deb12 (Debian 12)", .fs_uuid = "1111-fs", .partuuid = "aaaa-part",
		  .kernel = "/boot/vmlinuz-6.1", .initrd = "/boot/initrd.img-6.1", .cmdline = "ro console=ttyS0" },
		{ .id = "it's", .fs_uuid = "2222-fs", .partuuid = "bbbb-part", .kernel = "/vmlinuz", .initrd = "",
		  .cmdline = NULL },
	};
	struct strbuf sb = STRBUF_INIT;
	const char *a, *b;

	boot_menu_render(e, ARRAY_SIZE(e), &sb);
	/* serial console, short timeout */
	assert_non_null(strstr(sb.buf, "serial --unit=0 --speed=115200\n"));
	assert_non_null(strstr(sb.buf, "terminal_input serial console\n"));
	assert_non_null(strstr(sb.buf, "terminal_output serial console\n"));
	assert_non_null(strstr(sb.buf, "set timeout=1\n"));
	/* the grub-reboot style one-shot */
	assert_non_null(strstr(sb.buf, "load_env\nif [ \"${next_entry}\" ]; then\n\tset default=\"${next_entry}\"\n"
				       "\tset next_entry=\n\tsave_env next_entry\n"
				       "elif [ \"${saved_entry}\" ]; then\n\tset default=\"${saved_entry}\"\nfi\n"));
	a = strstr(sb.buf, "menuentry 'deb12 (Debian 12)' --id 'deb12' {\n"
			   "\tsearch --no-floppy --fs-uuid --set=root 1111-fs\n"
			   "\tlinux /boot/vmlinuz-6.1 root=PARTUUID=aaaa-part ro console=ttyS0\n"
			   "\tinitrd /boot/initrd.img-6.1\n}\n");
	/* a quote in the name is escaped, no initrd line, default arguments */
	b = strstr(sb.buf, "menuentry 'it'\\''s' --id 'it'\\''s' {\n"
			   "\tsearch --no-floppy --fs-uuid --set=root 2222-fs\n"
			   "\tlinux /vmlinuz root=PARTUUID=bbbb-part ro quiet\n}\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b); /* partition order */
	/* firmware setup, on UEFI only */
	assert_non_null(strstr(sb.buf, "if [ \"${grub_platform}\" = \"efi\" ]; then\n"
				       "\tmenuentry 'Reboot into firmware settings' --id fwsetup {\n\t\tfwsetup\n"));
	strbuf_release(&sb);
}

/* The line of sb that starts with prefix (a copy, caller frees), or NULL. */
static char *line_with(const char *sb, const char *prefix)
{
	for (const char *l = sb; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, prefix, strlen(prefix)))
			return strndup(l, strcspn(l, "\n"));
	return NULL;
}

/* grub-script-check (grub-common) parses the file as GRUB 2.06 does: 0 when it is valid. */
static int grub_script_check(const struct strbuf *cfg)
{
	const char *f = tmp_path("check.cfg");
	const char *argv[] = { "grub-script-check", f, NULL };
	int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, cfg->buf, cfg->len), (ssize_t)cfg->len);
	close(fd);
	return run_cmd(argv, NULL);
}

/*
 * Defect 1: a guest's /etc/kernel/cmdline went unquoted into grub.cfg, so
 * "; }; set default=beta; menuentry x {" ran as GRUB commands at menu load.
 * Every word is quoted on its own now; the entry stays one entry.
 */
static void test_boot_menu_quotes_guest_cmdline(void **state)
{
	const struct boot_entry e = {
		.id = "alpha", .title = "alpha (Evil $x ' OS)", .fs_uuid = "1111-fs", .partuuid = "aaaa-part",
		.kernel = "/boot/vmlinuz-6.1", .initrd = "/boot/initrd.img-6.1",
		.cmdline = "ro quiet; }; echo X; set default=beta; menuentry x { fi $root foo=\"a b\" it's #c",
	};
	struct strbuf sb = STRBUF_INIT;
	char *linux_line, *title_line;
	size_t entries = 0;

	boot_menu_render(&e, 1, &sb);
	linux_line = line_with(sb.buf, "\tlinux ");
	assert_non_null(linux_line);
	assert_string_equal(linux_line, "\tlinux /boot/vmlinuz-6.1 root=PARTUUID=aaaa-part ro 'quiet;' '};' echo 'X;' "
					"set 'default=beta;' menuentry x '{' 'fi' '$root' 'foo=a b' 'it'\\''s' '#c'");
	title_line = line_with(sb.buf, "menuentry 'alpha");
	assert_non_null(title_line);
	assert_string_equal(title_line, "menuentry 'alpha (Evil $x '\\'' OS)' --id 'alpha' {");
	/* nothing of it at the top level: one set default (the first), two menuentry lines (the guest, fwsetup) */
	assert_null(line_with(sb.buf, "set default=beta"));
	assert_null(line_with(sb.buf, "echo"));
	for (const char *l = sb.buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		entries += !strncmp(l + strspn(l, "\t"), "menuentry ", 10);
	assert_int_equal(entries, 2);
	if (pb_have_program("grub-script-check"))
		assert_int_equal(grub_script_check(&sb), 0);
	free(linux_line);
	free(title_line);
	strbuf_release(&sb);
}

/*
 * Defect 2: kernel and initrd names holding a newline or '}' broke out of
 * the entry. The guest model leaves such kernels out (test-disk, e2e); the
 * renderer quotes whatever it is given, and a newline never starts a line.
 */
static void test_boot_menu_quotes_kernel_names(void **state)
{
	const struct boot_entry e = {
		.id = "-x", .fs_uuid = "1111 fs", .partuuid = "aaaa", .kernel = "/boot/vmlinuz-1\n}\nmenuentry evil {",
		.initrd = "/boot/initrd'}", .cmdline = "ro",
	};
	struct strbuf sb = STRBUF_INIT;
	char *l;

	boot_menu_render(&e, 1, &sb);
	l = line_with(sb.buf, "\tlinux ");
	assert_string_equal(l, "\tlinux '/boot/vmlinuz-1?}?menuentry evil {' root=PARTUUID=aaaa ro");
	free(l);
	l = line_with(sb.buf, "\tinitrd ");
	assert_string_equal(l, "\tinitrd '/boot/initrd'\\''}'");
	free(l);
	l = line_with(sb.buf, "\tsearch ");
	assert_string_equal(l, "\tsearch --no-floppy --fs-uuid --set=root '1111 fs'");
	free(l);
	/* a title starting with '-' would be read as an option of menuentry */
	assert_non_null(strstr(sb.buf, "menuentry ' -x' --id '-x' {\n"));
	assert_null(line_with(sb.buf, "menuentry evil"));
	if (pb_have_program("grub-script-check"))
		assert_int_equal(grub_script_check(&sb), 0);
	strbuf_release(&sb);
}

static void test_boot_menu_all_kernels_and_a_separate_boot(void **state)
{
	const struct boot_kernel k[] = {
		{ "6.1.0-57-amd64", "/vmlinuz-6.1.0-57-amd64", "/initrd.img-6.1.0-57-amd64" },
		{ "6.1.0-50-amd64", "/vmlinuz-6.1.0-50-amd64", NULL },
	};
	const struct boot_entry e[] = {
		{ .id = "deb", .title = "deb (Debian 12)", .fs_uuid = "1111-root", .partuuid = "aaaa-part",
		  .kernel = k[0].kernel, .initrd = k[0].initrd, .cmdline = "ro quiet", .boot_fs_uuid = "2222-boot",
		  .kernels = k, .n_kernels = 2 },
		/* what a foreign guest's files may hold must not become GRUB script */
		{ .id = "odd", .fs_uuid = "3333-fs", .partuuid = "bbbb-part", .kernel = "/boot/vmlinuz-$(x) y",
		  .cmdline = "ro a=\"b c\" d;reboot ${e}", .kernels = k, .n_kernels = 1 },
	};
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	boot_menu_render(e, ARRAY_SIZE(e), &sb);
	/* the newest kernel, read from the /boot partition, rooted on the guest's partition */
	assert_non_null(strstr(sb.buf, "menuentry 'deb (Debian 12)' --id 'deb' {\n"
				       "\tsearch --no-floppy --fs-uuid --set=root 2222-boot\n"
				       "\tlinux /vmlinuz-6.1.0-57-amd64 root=PARTUUID=aaaa-part ro quiet\n"
				       "\tinitrd /initrd.img-6.1.0-57-amd64\n}\n"
				       "submenu 'deb: all kernels' --id 'deb-kernels' {\n"
				       "\tmenuentry 'deb (Debian 12), Linux 6.1.0-57-amd64' --id 'deb-6.1.0-57-amd64' {\n"
				       "\t\tsearch --no-floppy --fs-uuid --set=root 2222-boot\n"
				       "\t\tlinux /vmlinuz-6.1.0-57-amd64 root=PARTUUID=aaaa-part ro quiet\n"
				       "\t\tinitrd /initrd.img-6.1.0-57-amd64\n\t}\n"
				       "\tmenuentry 'deb (Debian 12), Linux 6.1.0-50-amd64' --id 'deb-6.1.0-50-amd64' {\n"
				       "\t\tsearch --no-floppy --fs-uuid --set=root 2222-boot\n"
				       "\t\tlinux /vmlinuz-6.1.0-50-amd64 root=PARTUUID=aaaa-part ro quiet\n\t}\n}\n"));
	/* one kernel: no submenu; untrusted words single-quoted */
	assert_null(strstr(sb.buf, "'odd-kernels'"));
	assert_non_null(strstr(sb.buf, "\tlinux '/boot/vmlinuz-$(x) y' root=PARTUUID=bbbb-part ro 'a=b c' "
				       "'d;reboot' '${e}'\n"));
	strbuf_release(&sb);
}

static void test_boot_menu_empty(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	boot_menu_render(NULL, 0, &sb);
	assert_null(strstr(sb.buf, "--id '"));
	assert_non_null(strstr(sb.buf, "fwsetup"));
	strbuf_release(&sb);
}

/* ---- grubenv ------------------------------------------------------------- */

static void test_boot_grubenv_edit(void **state)
{
	char block[BOOT_GRUBENV_SIZE], before[BOOT_GRUBENV_SIZE];
	char *v = NULL;

	boot_grubenv_init(block);
	assert_int_equal(boot_grubenv_check(block), 0);
	assert_int_equal(block[BOOT_GRUBENV_SIZE - 1], '#');
	assert_int_equal(boot_grubenv_get(block, "saved_entry", &v), -ENOENT);

	assert_int_equal(boot_grubenv_set(block, "saved_entry", "a"), 0);
	assert_int_equal(boot_grubenv_set(block, "next_entry", "b"), 0);
	assert_int_equal(boot_grubenv_set(block, "other", "x\\y\nz"), 0);
	assert_memory_equal(block, "# GRUB Environment Block\n# WARNING: Do not edit this file by tools other than grub-editenv!!!\n"
				   "saved_entry=a\nnext_entry=b\nother=x\\\\y\\\nz\n#", 136);
	assert_int_equal(boot_grubenv_get(block, "other", &v), 0);
	assert_string_equal(v, "x\\y\nz");
	free(v);

	/* replacing keeps the order of the others; an empty value stays a variable */
	assert_int_equal(boot_grubenv_set(block, "saved_entry", "deb12"), 0);
	assert_int_equal(boot_grubenv_set(block, "next_entry", ""), 0);
	assert_memory_equal(block + 94, "saved_entry=deb12\nnext_entry=\nother=", 34);
	assert_int_equal(boot_grubenv_get(block, "next_entry", &v), 0);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(boot_grubenv_set(block, "other", NULL), 0);
	assert_int_equal(boot_grubenv_get(block, "other", &v), -ENOENT);

	/* too long: refused, block unchanged */
	{
		char big[1100];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		memcpy(before, block, sizeof(block));
		assert_int_equal(boot_grubenv_set(block, "huge", big), -ENOSPC);
		assert_memory_equal(before, block, sizeof(block));
	}
	assert_int_equal(boot_grubenv_set(block, "bad=name", "x"), -EINVAL);
	memcpy(before, "not an env", 10);
	assert_int_equal(boot_grubenv_check(before), -EINVAL);
}

/* The same edits as grub-editenv makes them give the same 1024 bytes. */
static void test_boot_grubenv_matches_grub_editenv(void **state)
{
	const char *f = tmp_path("grubenv");
	const char *create[] = { "grub-editenv", f, "create", NULL };
	const char *set[] = { "grub-editenv", f, "set", "saved_entry=deb12", "next_entry=b", NULL };
	const char *unset[] = { "grub-editenv", f, "unset", "saved_entry", NULL };
	char block[BOOT_GRUBENV_SIZE];
	uint8_t theirs[2048];

	if (!pb_have_program("grub-editenv"))
		skip();
	assert_int_equal(run_cmd(create, NULL), 0);
	assert_int_equal(run_cmd(set, NULL), 0);
	boot_grubenv_init(block);
	assert_int_equal(boot_grubenv_set(block, "saved_entry", "deb12"), 0);
	assert_int_equal(boot_grubenv_set(block, "next_entry", "b"), 0);
	assert_int_equal(read_file(f, theirs, sizeof(theirs)), BOOT_GRUBENV_SIZE);
	assert_memory_equal(theirs, block, BOOT_GRUBENV_SIZE);

	assert_int_equal(run_cmd(unset, NULL), 0);
	assert_int_equal(boot_grubenv_set(block, "saved_entry", NULL), 0);
	assert_int_equal(read_file(f, theirs, sizeof(theirs)), BOOT_GRUBENV_SIZE);
	assert_memory_equal(theirs, block, BOOT_GRUBENV_SIZE);
}

/* ---- BIOS boot code ------------------------------------------------------- */

static void test_boot_bios_mbr_patch(void **state)
{
	uint8_t boot_img[512], mbr[512], old[512];

	for (int i = 0; i < 512; i++) {
		boot_img[i] = (uint8_t)(0xa0 + i % 7);
		mbr[i] = (uint8_t)(i * 13);
	}
	boot_img[0x66] = 0xeb; /* the drive check's jmp */
	boot_img[0x67] = 0x05;
	memcpy(old, mbr, sizeof(mbr));
	boot_bios_patch_mbr(mbr, boot_img, UINT64_C(0x0102030405060708));

	assert_memory_equal(mbr, boot_img, 3);                         /* jmp */
	assert_memory_equal(mbr + 3, old + 3, 0x5a - 3);               /* BPB kept */
	assert_memory_equal(mbr + 0x5a, boot_img + 0x5a, 2);
	assert_memory_equal(mbr + 0x5c, "\x08\x07\x06\x05\x04\x03\x02\x01", 8); /* kernel_sector LE */
	assert_int_equal(mbr[0x64], 0xff);                             /* boot_drive */
	assert_int_equal(mbr[0x65], boot_img[0x65]);
	assert_int_equal(mbr[0x66], 0x90);                             /* NOP NOP */
	assert_int_equal(mbr[0x67], 0x90);
	assert_memory_equal(mbr + 0x68, boot_img + 0x68, 0x1b8 - 0x68); /* code */
	assert_memory_equal(mbr + 0x1b8, old + 0x1b8, 512 - 0x1b8);    /* signature, table, 55aa */
}

static void test_boot_bios_core_patch(void **state)
{
	size_t size = 310 * 512 - 100; /* 310 sectors, the last partly used */
	uint8_t *core = calloc(1, size);

	assert_non_null(core);
	/* what grub-mkimage leaves: start=2, len=sectors-1, segment 0x820 */
	memcpy(core + 0x1f4, "\x02\0\0\0\0\0\0\0\x35\x01\x20\x08", 12);
	memset(core + 0x1e8, 0x55, 12);
	assert_int_equal(boot_bios_patch_core(core, size, 2048), 0);
	assert_memory_equal(core + 0x1f4, "\x01\x08\0\0\0\0\0\0", 8); /* LBA 2049 */
	assert_memory_equal(core + 0x1fc, "\x35\x01", 2);              /* 309 sectors */
	assert_memory_equal(core + 0x1fe, "\x20\x08", 2);              /* 0x820:0 */
	for (int i = 0x1e8; i < 0x1f4; i++)
		assert_int_equal(core[i], 0);                          /* terminator */

	/* not a diskboot image */
	memset(core + 0x1f4, 0, 12);
	assert_int_equal(boot_bios_patch_core(core, size, 2048), -EINVAL);
	free(core);
}

/* The real images: core.img from grub-mkimage carries the fields where we patch. */
static void test_boot_bios_real_images(void **state)
{
	const char *out = tmp_path("core.img");
	const char *argv[] = { "grub-mkimage", "-O", "i386-pc", "-p", "/grub", "-o", out, "biosdisk", "part_gpt", NULL };
	static uint8_t core[1024 * 1024];
	uint8_t boot_img[512], mbr[512] = { 0 };
	size_t n;

	if (!pb_have_program("grub-mkimage") || access("/usr/lib/grub/i386-pc/boot.img", R_OK) < 0)
		skip();
	assert_int_equal(run_cmd(argv, NULL), 0);
	n = read_file(out, core, sizeof(core));
	assert_int_equal(core[0x1fc] | core[0x1fd] << 8, (n + 511) / 512 - 1);
	assert_int_equal(boot_bios_patch_core(core, n, 1), 0);
	assert_int_equal(core[0x1f4], 2);

	assert_int_equal(read_file("/usr/lib/grub/i386-pc/boot.img", boot_img, sizeof(boot_img)), 512);
	assert_int_equal(boot_img[0x66], 0xeb); /* the jmp setup.c replaces */
	assert_int_equal(boot_img[0x64], 0xff);
	boot_bios_patch_mbr(mbr, boot_img, 2048);
	assert_int_equal(mbr[0x5c], 0x00);
	assert_int_equal(mbr[0x5d], 0x08);
	assert_int_equal(mbr[0x1fe], 0); /* never boot.img's bytes past 0x1b8 */
}

/* ---- on a disk: install, then default/next in place ---------------------------- */

static struct part_disk *esp_disk(const char *name, uint64_t esp_size)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	const char *path = tmp_path(name);
	struct part_spec esp = { .name = "esp", .type = PART_TYPE_ESP, .size = esp_size };
	struct part_spec g1 = { .name = "a", .type = PART_TYPE_ROOT, .size = 8 * MiB };

	unlink(path);
	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, 64 * MiB, &d, &err), 0);
	assert_int_equal(part_disk_new_table(d, PART_TABLE_GPT, "test-boot", &err), 0);
	assert_int_equal(part_disk_add(d, &esp, NULL, &err), 0);
	assert_int_equal(part_disk_add(d, &g1, NULL, &err), 0);
	assert_int_equal(part_disk_write(d, &err), 0);
	pb_err_clear(&err);
	return d;
}

static void copy_file(const char *from, const char *to)
{
	const char *argv[] = { "cp", "--sparse=always", from, to, NULL };

	assert_int_equal(run_cmd(argv, NULL), 0);
}

/* Bytes that differ between two files of the same size. */
static size_t count_diff(const char *a, const char *b, uint64_t *first, uint64_t *last)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	size_t n = 0;
	uint64_t pos = 0;
	int ca, cb;

	assert_non_null(fa);
	assert_non_null(fb);
	while ((ca = getc(fa)) != EOF) {
		cb = getc(fb);
		if (ca != cb) {
			if (!n)
				*first = pos;
			*last = pos;
			n++;
		}
		pos++;
	}
	assert_int_equal(getc(fb), EOF);
	fclose(fa);
	fclose(fb);
	return n;
}

static void test_boot_grubenv_in_place_on_fat(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d;
	struct part_info esp;
	char *def = NULL, *next = NULL, img[160], copy[160], spec[200];
	uint64_t first = 0, last = 0;
	struct strbuf out = STRBUF_INIT;

	if (!pb_have_program("grub-mkimage") || !pb_have_program("mcopy") || !pb_have_program("mkfs.fat"))
		skip();
	d = esp_disk("env.img", 8 * MiB); /* FAT16: small enough to fill */
	snprintf(img, sizeof(img), "%s", part_disk_path(d));
	assert_int_equal(part_disk_find(d, "esp", &esp, &err), 0);
	assert_int_equal(boot_install(d, BOOT_INSTALL_UEFI, NULL, 0, &err), 0);
	assert_true(boot_is_installed(d));
	/* guest 'a' has no filesystem: not in the menu, so refused */
	assert_int_equal(boot_set_next(d, "a", &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "'a' is not in the boot menu"));
	assert_int_equal(boot_set_next(d, "nosuch", &err), -ENOENT);
	part_disk_free(d);

	/*
	 * Fragment grubenv on purpose: mtools allocates from a next-free hint and
	 * wraps around, so with one free cluster at the end and one hole near the
	 * start, the new grubenv gets two clusters far apart.
	 */
	{
		char f1[160], env[160], filler[160];
		char block[BOOT_GRUBENV_SIZE];
		struct strbuf dir = STRBUF_INIT;
		unsigned long long free_bytes = 0;
		const char *p;
		int fd;

		snprintf(spec, sizeof(spec), "%s@@%llu", img, (unsigned long long)esp.start);
		snprintf(f1, sizeof(f1), "%s/f1", tmpdir);
		snprintf(env, sizeof(env), "%s/env", tmpdir);
		snprintf(filler, sizeof(filler), "%s/filler", tmpdir);
		fd = open(f1, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		assert_int_equal(write(fd, "x", 1), 1);
		close(fd);
		/* a long first variable pushes the ones partboot sets into the second cluster */
		{
			char pad[801];

			memset(pad, 'x', 800);
			pad[800] = 0;
			boot_grubenv_init(block);
			assert_int_equal(boot_grubenv_set(block, "pad", pad), 0);
		}
		fd = open(env, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
		close(fd);
		{
			const char *del[] = { "mdel", "-i", spec, "::/grub/grubenv", NULL };
			const char *c1[] = { "mcopy", "-i", spec, f1, "::/hole", NULL };
			const char *c2[] = { "mcopy", "-i", spec, f1, "::/wall", NULL };
			const char *ls[] = { "mdir", "-i", spec, "::/", NULL };
			const char *c3[] = { "mcopy", "-i", spec, filler, "::/filler", NULL };
			const char *del2[] = { "mdel", "-i", spec, "::/hole", NULL };
			const char *c4[] = { "mcopy", "-i", spec, env, "::/grub/grubenv", NULL };

			assert_int_equal(run_cmd(del, NULL), 0);
			assert_int_equal(run_cmd(c1, NULL), 0);
			assert_int_equal(run_cmd(c2, NULL), 0);
			assert_int_equal(run_cmd(ls, &dir), 0);
			/* "  8 304 640 bytes free" */
			p = strstr(dir.buf, " bytes free");
			assert_non_null(p);
			while (p > dir.buf && (p[-1] == ' ' || (p[-1] >= '0' && p[-1] <= '9')))
				p--;
			for (; *p && *p != 'b'; p++)
				if (*p >= '0' && *p <= '9')
					free_bytes = free_bytes * 10 + (unsigned)(*p - '0');
			assert_true(free_bytes > 512);
			fd = open(filler, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			assert_int_equal(ftruncate(fd, (off_t)(free_bytes - 512)), 0);
			close(fd);
			assert_int_equal(run_cmd(c3, NULL), 0);
			assert_int_equal(run_cmd(del2, NULL), 0);
			assert_int_equal(run_cmd(c4, NULL), 0);
			strbuf_release(&dir);
		}
	}
	snprintf(copy, sizeof(copy), "%s/before.img", tmpdir);
	copy_file(img, copy);

	assert_int_equal(part_disk_open(img, 0, 0, &d, &err), 0);
	/* no guest in the menu: only a refusal; make the menu name 'a' by hand */
	assert_int_equal(boot_env_read(d, &def, &next, &err), 0);
	assert_null(def);
	assert_null(next);
	part_disk_free(d);
	{
		char cfg[160];
		const char *put[] = { "mcopy", "-o", "-i", spec, cfg, "::/grub/grub.cfg", NULL };
		struct strbuf c = STRBUF_INIT;
		const struct boot_entry e = { .id = "a", .fs_uuid = "x", .partuuid = "y", .kernel = "/vmlinuz" };
		int fd;

		snprintf(cfg, sizeof(cfg), "%s/grub.cfg", tmpdir);
		boot_menu_render(&e, 1, &c);
		fd = open(cfg, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		assert_int_equal(write(fd, c.buf, c.len), (ssize_t)c.len);
		close(fd);
		strbuf_release(&c);
		assert_int_equal(run_cmd(put, NULL), 0);
	}
	copy_file(img, copy);

	assert_int_equal(part_disk_open(img, 0, 0, &d, &err), 0);
	assert_int_equal(boot_set_next(d, "a", &err), 0);
	assert_int_equal(boot_set_default(d, "2", &err), 0); /* by number: partition 2 is 'a' */
	assert_int_equal(boot_env_read(d, &def, &next, &err), 0);
	assert_string_equal(def, "a");
	assert_string_equal(next, "a");
	free(def);
	free(next);
	part_disk_free(d);

	/* only grubenv's bytes changed, in its second cluster (after pad=) */
	assert_true(count_diff(copy, img, &first, &last) > 0);
	assert_true(first >= esp.start && last < esp.start + esp.size);
	assert_true(last - first < 512);
	{
		const char *show[] = { "mshowfat", "-i", spec, "::/grub/grubenv", NULL };
		struct strbuf sb = STRBUF_INIT;

		assert_int_equal(run_cmd(show, &sb), 0);
		assert_non_null(strstr(sb.buf, "> <")); /* two runs: "<1325> <16224>" */
		strbuf_release(&sb);
	}

	/* GRUB's own tool reads it */
	{
		char env[160];
		const char *get[] = { "mcopy", "-n", "-o", "-i", spec, "::/grub/grubenv", env, NULL };
		const char *list[] = { "grub-editenv", env, "list", NULL };

		snprintf(env, sizeof(env), "%s/env-out", tmpdir);
		assert_int_equal(run_cmd(get, NULL), 0);
		if (pb_have_program("grub-editenv")) {
			assert_int_equal(run_cmd(list, &out), 0);
			assert_int_equal(out.len, 4 + 800 + 1 + 13 + 14);
			assert_string_equal(out.buf + 805, "next_entry=a\nsaved_entry=a\n");
		}
	}
	strbuf_release(&out);
	pb_err_clear(&err);
}

/* Offset in the image of the 32-byte directory entry named name83 ("GRUBENV    ") inside the ESP. */
static off_t find_dirent(const char *img, const struct part_info *esp, const char *name83)
{
	int fd = open(img, O_RDONLY);
	uint8_t *buf = malloc(esp->size);
	off_t at = -1;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, esp->size, (off_t)esp->start), (ssize_t)esp->size);
	for (uint64_t i = 0; i + 32 <= esp->size && at < 0; i += 32)
		if (!memcmp(buf + i, name83, 11) && buf[i + 11] != 0x0f && !(buf[i + 11] & 0x08))
			at = (off_t)(esp->start + i);
	close(fd);
	free(buf);
	assert_true(at >= 0);
	return at;
}

static void poke(const char *img, off_t at, const void *bytes, size_t n)
{
	int fd = open(img, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
	close(fd);
}

/* A disk whose UEFI GRUB menu has an entry for 'a' (which has no filesystem: none needed here). */
static struct part_disk *esp_disk_with_menu(const char *name, uint64_t esp_size, struct part_info *ret_esp)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = esp_disk(name, esp_size);
	const struct boot_entry e = { .id = "a", .fs_uuid = "x", .partuuid = "y", .kernel = "/vmlinuz" };

	assert_int_equal(part_disk_find(d, "esp", ret_esp, &err), 0);
	assert_int_equal(boot_install(d, BOOT_INSTALL_UEFI, &e, 1, &err), 0);
	pb_err_clear(&err);
	return d;
}

/*
 * Defect 11: the ESP walker did not bound a directory entry's first
 * cluster, so a crafted grubenv entry made `default` write 1 KiB outside
 * the ESP. Every cluster is checked against the filesystem's, every FAT
 * geometry field against the partition; a refusal writes nothing.
 */
static void test_boot_esp_bounds_clusters_and_geometry(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_info esp;
	struct part_disk *d;
	char img[160], copy[160];
	uint64_t first = 0, last = 0;
	off_t at;

	if (!pb_have_program("grub-mkimage") || !pb_have_program("mcopy") || !pb_have_program("mkfs.fat"))
		skip();
	/* FAT16: grubenv's first cluster far past the filesystem's last */
	d = esp_disk_with_menu("oob.img", 8 * MiB, &esp);
	snprintf(img, sizeof(img), "%s", part_disk_path(d));
	part_disk_free(d);
	at = find_dirent(img, &esp, "GRUBENV    ");
	{
		/* where cluster 65519 would be: a valid environment block waits there, as a guest can place one */
		uint8_t bpb[512];
		char block[BOOT_GRUBENV_SIZE];
		uint64_t data, off;
		int fd = open(img, O_RDONLY);

		assert_int_equal(pread(fd, bpb, sizeof(bpb), (off_t)esp.start), 512);
		close(fd);
		data = (uint64_t)(bpb[0x0e] | bpb[0x0f] << 8) + (uint64_t)bpb[0x10] * (bpb[0x16] | bpb[0x17] << 8) +
		       (uint64_t)(bpb[0x11] | bpb[0x12] << 8) * 32 / 512;
		off = esp.start + (data + (65519 - 2) * bpb[0x0d]) * 512;
		assert_true(off > esp.start + esp.size && off + sizeof(block) < 64 * MiB);
		boot_grubenv_init(block);
		poke(img, (off_t)off, block, sizeof(block));
	}
	poke(img, at + 0x1a, "\xef\xff", 2);
	snprintf(copy, sizeof(copy), "%s/oob-before.img", tmpdir);
	copy_file(img, copy);
	assert_int_equal(part_disk_open(img, 0, 0, &d, &err), 0);
	assert_int_equal(boot_set_default(d, "a", &err), -EUCLEAN);
	assert_non_null(strstr(pb_err_msg(&err), "/grub/grubenv: broken cluster chain (cluster 65519)"));
	assert_int_equal(boot_set_next(d, "a", &err), -EUCLEAN);
	part_disk_free(d);
	assert_int_equal(count_diff(copy, img, &first, &last), 0);

	/* the /grub directory's cluster out of range */
	poke(img, at + 0x1a, "\x00\x00", 2); /* back to something harmless: cluster 0 */
	at = find_dirent(img, &esp, "GRUB       ");
	poke(img, at + 0x1a, "\xf0\xfe", 2);
	copy_file(img, copy);
	assert_int_equal(part_disk_open(img, 0, 0, &d, &err), 0);
	assert_int_equal(boot_set_default(d, "a", &err), -EUCLEAN);
	assert_non_null(strstr(pb_err_msg(&err), "directory cluster 65264 outside the filesystem"));
	part_disk_free(d);
	assert_int_equal(count_diff(copy, img, &first, &last), 0);

	/* FAT32: a root cluster outside the filesystem, and a FAT too small for its clusters */
	d = esp_disk_with_menu("oob32.img", 40 * MiB, &esp);
	snprintf(img, sizeof(img), "%s", part_disk_path(d));
	part_disk_free(d);
	poke(img, (off_t)esp.start + 0x2c, "\x00\x00\x00\x0f", 4);
	copy_file(img, copy);
	assert_int_equal(part_disk_open(img, 0, 0, &d, &err), 0);
	assert_int_equal(boot_set_default(d, "a", &err), -EUCLEAN);
	assert_non_null(strstr(pb_err_msg(&err), "FAT32 root directory cluster 251658240 outside the filesystem"));
	part_disk_free(d);
	assert_int_equal(count_diff(copy, img, &first, &last), 0);
	poke(img, (off_t)esp.start + 0x2c, "\x02\x00\x00\x00", 4);
	poke(img, (off_t)esp.start + 0x24, "\x10\x00\x00\x00", 4); /* 16 sectors of FAT for ~80,000 clusters */
	assert_int_equal(part_disk_open(img, 0, 0, &d, &err), 0);
	assert_int_equal(boot_set_default(d, "a", &err), -EUCLEAN);
	assert_non_null(strstr(pb_err_msg(&err), "FAT too small for the clusters"));
	part_disk_free(d);
	pb_err_clear(&err);
}

static void test_boot_install_refusals(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	const char *path = tmp_path("bad.img");
	struct part_spec g = { .name = "a", .type = PART_TYPE_ROOT, .size = 8 * MiB };
	char copy[160];
	uint64_t f, l;

	unlink(path);
	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, 64 * MiB, &d, &err), 0);
	assert_int_equal(part_disk_new_table(d, PART_TABLE_GPT, "refusals", &err), 0);
	assert_int_equal(part_disk_add(d, &g, NULL, &err), 0);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	snprintf(copy, sizeof(copy), "%s/bad-before.img", tmpdir);
	copy_file(path, copy);

	/* no ESP, no BIOS boot partition: both named, with sizes */
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), 0);
	assert_int_equal(boot_install(d, 0, NULL, 0, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "no ESP and no BIOS boot partition"));
	assert_non_null(strstr(pb_err_msg(&err), "--type esp --size 64M"));
	assert_non_null(strstr(pb_err_msg(&err), "--type bios-boot --size 1M"));
	assert_false(boot_is_installed(d));
	/* not installed: refresh is a no-op, env reads as empty */
	assert_int_equal(boot_menu_write(d, NULL, 0, &err), 0);
	part_disk_free(d);
	assert_int_equal(count_diff(copy, path, &f, &l), 0);

	/* a BIOS boot partition or MBR gap too small: e2e/boot.sh (sfdisk makes them) */
	pb_err_clear(&err);
}

/* ---- Secure Boot: is a kernel signed? ------------------------------------ */

static void put16(uint8_t *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* A minimal PE32+ image of len bytes whose Certificate Table (directory 4) is [off, off + size). */
static void make_pe(uint8_t *img, size_t len, uint32_t off, uint32_t size, unsigned cert_type)
{
	const uint32_t pe = 0x80, opt = pe + 24;

	memset(img, 0, len);
	img[0] = 'M';
	img[1] = 'Z';
	put32(img + 0x3c, pe);
	memcpy(img + pe, "PE\0\0", 4);
	put16(img + pe + 4, 0x8664);      /* machine: x86-64 */
	put16(img + pe + 20, 240);        /* SizeOfOptionalHeader */
	put16(img + opt, 0x20b);          /* PE32+ */
	put32(img + opt + 108, 16);       /* NumberOfRvaAndSizes */
	put32(img + opt + 112 + 4 * 8, off);
	put32(img + opt + 112 + 4 * 8 + 4, size);
	if (size >= 8 && off + 8 <= len) {
		put32(img + off, size);   /* WIN_CERTIFICATE.dwLength */
		put16(img + off + 4, 0x200);
		put16(img + off + 6, cert_type);
	}
}

static void test_boot_pe_signature(void **state)
{
	static uint8_t img[4096];

	make_pe(img, sizeof(img), 2048, 1024, 2);
	assert_true(boot_pe_is_signed(img, sizeof(img)));
	/* what sbattach --remove leaves: an empty directory entry */
	make_pe(img, sizeof(img), 0, 0, 2);
	assert_false(boot_pe_is_signed(img, sizeof(img)));
	/* a certificate that is not Authenticode (WIN_CERT_TYPE_X509 = 1) */
	make_pe(img, sizeof(img), 2048, 1024, 1);
	assert_false(boot_pe_is_signed(img, sizeof(img)));
	/* a table reaching past the end of the file (a truncated kernel) */
	make_pe(img, sizeof(img), 2048, 1024, 2);
	assert_false(boot_pe_is_signed(img, 3000));
	put32(img + 0x80 + 24 + 112 + 4 * 8, 0xfffffff0); /* offset near 4 GiB: no overflow */
	assert_false(boot_pe_is_signed(img, sizeof(img)));
	/* no room for directory 4 */
	make_pe(img, sizeof(img), 2048, 1024, 2);
	put32(img + 0x80 + 24 + 108, 4);
	assert_false(boot_pe_is_signed(img, sizeof(img)));
	/* not a PE: no MZ, a PE offset out of the file, a short buffer */
	make_pe(img, sizeof(img), 2048, 1024, 2);
	img[0] = 'X';
	assert_false(boot_pe_is_signed(img, sizeof(img)));
	make_pe(img, sizeof(img), 2048, 1024, 2);
	put32(img + 0x3c, 0xfffffff0);
	assert_false(boot_pe_is_signed(img, sizeof(img)));
	assert_false(boot_pe_is_signed(img, 16));
	assert_false(boot_pe_is_signed(NULL, 0));
}

/* The test guest's kernel (Debian's, signed) and the same without its signature (sbattach). */
static void test_boot_pe_signature_real_kernel(void **state)
{
	const char *stripped = tmp_path("vmlinuz.unsigned");
	char kernel[512] = "", cmd[1200];
	static uint8_t buf[16 << 20];
	FILE *f = popen("ls .cache/guest/vmlinuz-* 2>/dev/null | head -n 1", "r");
	size_t n;

	if (f) {
		if (fgets(kernel, sizeof(kernel), f))
			kernel[strcspn(kernel, "\n")] = '\0';
		pclose(f);
	}
	if (!kernel[0] || !pb_have_program("sbattach")) {
		print_message("# SKIP: needs the test guest (make guest) and sbattach (sbsigntool)\n");
		skip();
	}
	n = read_file(kernel, buf, sizeof(buf));
	assert_true(n > 1024 * 1024 && n < sizeof(buf));
	assert_true(boot_pe_is_signed(buf, n));
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && sbattach --remove '%s'", kernel, stripped, stripped);
	assert_int_equal(system(cmd), 0);
	n = read_file(stripped, buf, sizeof(buf));
	assert_false(boot_pe_is_signed(buf, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_menu_one_entry_per_guest),
		cmocka_unit_test(test_boot_menu_quotes_guest_cmdline),
		cmocka_unit_test(test_boot_menu_quotes_kernel_names),
		cmocka_unit_test(test_boot_menu_all_kernels_and_a_separate_boot),
		cmocka_unit_test(test_boot_menu_empty),
		cmocka_unit_test(test_boot_grubenv_edit),
		cmocka_unit_test(test_boot_grubenv_matches_grub_editenv),
		cmocka_unit_test(test_boot_bios_mbr_patch),
		cmocka_unit_test(test_boot_bios_core_patch),
		cmocka_unit_test(test_boot_bios_real_images),
		cmocka_unit_test(test_boot_grubenv_in_place_on_fat),
		cmocka_unit_test(test_boot_install_refusals),
		cmocka_unit_test(test_boot_esp_bounds_clusters_and_geometry),
		cmocka_unit_test(test_boot_pe_signature),
		cmocka_unit_test(test_boot_pe_signature_real_kernel),
	};

	return cmocka_run_group_tests_name("boot", tests, setup_dir, teardown_dir);
}
