/* SPDX-License-Identifier: MIT */
/*
 * disk/ on image files made here: the apply planner (plans as data, refusals
 * before any write, re-runs), and the guest model (what is a guest, its
 * kernels, its command line of any length).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/run.h"
#include "disk/disk.h"

static char tmpdir[64];
static char warnings[4096];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-disk.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (!getenv("PB_TEST_KEEP"))
		return system(cmd) == 0 ? 0 : -1;
	return 0;
}

static const char *tmp_path(const char *name)
{
	static char buf[4][160];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A small guest tree: os-release, a kernel and an initrd (not real ones: nothing boots here). */
static const char *make_tree(const char *name, const char *cmdline)
{
	const char *dir = tmp_path(name);
	char path[256];

	assert_int_equal(sh("mkdir -p '%s/etc/kernel' '%s/boot'", dir, dir), 0);
	snprintf(path, sizeof(path), "%s/etc/os-release", dir);
	write_file(path, "PRETTY_NAME=\"Test Linux\"\n");
	snprintf(path, sizeof(path), "%s/boot/vmlinuz-6.1.0-9-amd64", dir);
	write_file(path, "kernel");
	snprintf(path, sizeof(path), "%s/boot/initrd.img-6.1.0-9-amd64", dir);
	write_file(path, "initrd");
	snprintf(path, sizeof(path), "%s/boot/vmlinuz-6.1.0-10-amd64", dir);
	write_file(path, "kernel");
	if (cmdline) {
		snprintf(path, sizeof(path), "%s/etc/kernel/cmdline", dir);
		write_file(path, cmdline);
	}
	return dir;
}

static void collect_warning(const char *msg, void *userdata)
{
	size_t len = strlen(warnings);

	snprintf(warnings + len, sizeof(warnings) - len, "%s\n", msg);
}

static const struct disk_diag diag = { .warn = collect_warning };

static bool files_equal(const char *a, const char *b)
{
	return sh("cmp -s '%s' '%s'", a, b) == 0;
}

/* The kinds of a plan's steps as one string: "create table add add install mkfs". */
static void plan_kinds(const struct disk_plan *plan, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < disk_plan_count(plan); i++) {
		size_t l = strlen(out);

		snprintf(out + l, len - l, "%s%s", i ? " " : "", disk_step_kind_to_string(disk_plan_step(plan, i)->kind));
	}
}

static const char *write_layout(const char *name, const char *tree, const char *extra)
{
	const char *path = tmp_path(name);
	char text[2048];

	snprintf(text, sizeof(text),
		 "[disk]\nsize = 128M\ntable = gpt\nseed = planner\n%s\n"
		 "[partition esp]\ntype = esp\nsize = 34M\nfs = vfat\n\n"
		 "[partition g]\ntype = root\nsize = 24M\nsource = %s\nhostname = gee\n\n"
		 "[partition data]\ntype = data\nsize = 34M\nfs = ext4\n\n"
		 "[partition swap]\ntype = swap\nsize = 4M\n",
		 extra, tree);
	write_file(path, text);
	return path;
}

static void test_disk_plan_new_disk_as_data(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_plan *plan = NULL;
	const char *tree = make_tree("tree1", NULL);
	const char *layout = write_layout("one.conf", tree, "");
	const char *disk = tmp_path("new.img");
	const struct disk_step *s;
	char kinds[512], tree_copy[200];

	unlink(disk);
	assert_int_equal(disk_plan_new(disk, layout, NULL, DISK_APPLY_DRY_RUN, &diag, &plan, &err), 0);
	plan_kinds(plan, kinds, sizeof(kinds));
	/* an esp and no bootloader key: bootloader = auto, UEFI (no bios-boot partition on this gpt) */
	assert_string_equal(kinds, "create table add add add add mkfs install mkfs mkfs bootloader");
	s = disk_plan_step(plan, 10);
	assert_int_equal(s->boot_flags, BOOT_INSTALL_UEFI);
	assert_non_null(strstr(s->text, "(auto: what the partitions allow)"));
	/* a dry run creates nothing, and names the user's disk */
	assert_int_equal(access(disk, F_OK), -1);
	s = disk_plan_step(plan, 0);
	assert_non_null(strstr(s->text, "new.img"));
	s = disk_plan_step(plan, 3);
	assert_int_equal(s->kind, DISK_STEP_ADD);
	assert_string_equal(s->partition, "g");
	assert_int_equal(s->type, PART_TYPE_ROOT);
	assert_int_equal(s->size, 24 * MiB);
	assert_int_equal(s->start, 35 * MiB);
	s = disk_plan_step(plan, 7);
	assert_int_equal(s->kind, DISK_STEP_INSTALL);
	assert_string_equal(s->source, tree);
	assert_string_equal(s->hostname, "gee");
	assert_null(s->cmdline);
	assert_true(s->wipe);
	s = disk_plan_step(plan, 8);
	assert_int_equal(s->kind, DISK_STEP_MKFS);
	assert_int_equal(s->fs, FS_KIND_EXT4);
	/* a dry-run plan is not carried out */
	assert_int_equal(disk_plan_execute(plan, &err), -EINVAL);
	disk_plan_free(plan);
	assert_int_equal(access(disk, F_OK), -1);

	/* bootloader = none opts out; secure_boot = yes asks for the signed chain */
	snprintf(tree_copy, sizeof(tree_copy), "%s", tree); /* tmp_path() reuses 4 buffers */
	tree = tree_copy;
	disk = tmp_path("new.img");
	layout = write_layout("none.conf", tree, "bootloader = none");
	assert_int_equal(disk_plan_new(disk, layout, NULL, DISK_APPLY_DRY_RUN, &diag, &plan, &err), 0);
	plan_kinds(plan, kinds, sizeof(kinds));
	assert_string_equal(kinds, "create table add add add add mkfs install mkfs mkfs");
	disk_plan_free(plan);
	layout = write_layout("sb.conf", tree, "secure_boot = yes");
	assert_int_equal(disk_plan_new(disk, layout, NULL, DISK_APPLY_DRY_RUN, &diag, &plan, &err), 0);
	s = disk_plan_step(plan, 10);
	assert_int_equal(s->kind, DISK_STEP_BOOTLOADER);
	assert_int_equal(s->boot_flags, BOOT_INSTALL_UEFI | BOOT_INSTALL_SECURE_BOOT);
	assert_non_null(strstr(s->text, "Secure Boot"));
	disk_plan_free(plan);
	pb_err_clear(&err);
}

static void test_disk_plan_refuses_before_writing(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_plan *plan = NULL;
	const char *tree = make_tree("tree2", NULL);
	const char *layout = write_layout("two.conf", tree, "");
	const char *disk = tmp_path("two.img"), *copy = tmp_path("two-before.img");
	const char *bad = tmp_path("bad.conf");
	char text[2048];

	if (!pb_have_program("mke2fs") || !pb_have_program("mkfs.fat"))
		skip();
	unlink(disk);
	assert_int_equal(disk_plan_new(disk, layout, NULL, 0, &diag, &plan, &err), 0);
	assert_int_equal(disk_plan_execute(plan, &err), 0);
	disk_plan_free(plan);
	plan = NULL;
	assert_int_equal(sh("cp --sparse=always '%s' '%s'", disk, copy), 0);

	/* another filesystem for a partition that holds one: refused, naming it; nothing written */
	snprintf(text, sizeof(text),
		 "[disk]\nsize = 128M\ntable = gpt\n\n[partition esp]\ntype = esp\nsize = 34M\nfs = vfat\n\n"
		 "[partition g]\ntype = root\nsize = 24M\nsource = %s\n\n"
		 "[partition data]\ntype = data\nsize = 34M\nfs = vfat\n",
		 tree);
	write_file(bad, text);
	assert_int_equal(disk_plan_new(disk, bad, NULL, 0, &diag, &plan, &err), -EEXIST);
	assert_null(plan); /* ret_* are written only on success */
	assert_non_null(strstr(pb_err_msg(&err), "partition 'data' holds ext4; the layout asks for vfat (--force replaces it)"));
	assert_true(files_equal(disk, copy));

	/* a layout mistake names FILE:LINE, before the disk is even opened */
	snprintf(text, sizeof(text), "[disk]\nsize = 128M\ndefault = data\nbootloader = uefi\n\n"
				     "[partition esp]\ntype = esp\nsize = 34M\n\n"
				     "[partition data]\ntype = data\nsize = 8M\n");
	write_file(bad, text);
	assert_int_equal(disk_plan_new(disk, bad, NULL, 0, &diag, &plan, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "bad.conf:3: default 'data' is not a guest"));
	assert_true(files_equal(disk, copy));
	pb_err_clear(&err);
}

static void test_disk_plan_rerun_keeps_complete_guest(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_plan *plan = NULL;
	const char *tree = make_tree("tree3", NULL);
	const char *layout = write_layout("three.conf", tree, "");
	const char *disk = tmp_path("three.img");
	const struct disk_step *s;
	char kinds[512];

	if (!pb_have_program("mke2fs") || !pb_have_program("mkfs.fat"))
		skip();
	unlink(disk);
	assert_int_equal(disk_plan_new(disk, layout, NULL, 0, &diag, &plan, &err), 0);
	assert_int_equal(disk_plan_execute(plan, &err), 0);
	/* carried out once only */
	assert_int_equal(disk_plan_execute(plan, &err), -EINVAL);
	disk_plan_free(plan);

	assert_int_equal(disk_plan_new(disk, layout, NULL, 0, &diag, &plan, &err), 0);
	plan_kinds(plan, kinds, sizeof(kinds));
	assert_string_equal(kinds, "keep keep keep keep note note note note note");
	s = disk_plan_step(plan, 5);
	assert_string_equal(s->text, "skip 'g': guest complete (--force installs it again)");
	disk_plan_free(plan);

	assert_int_equal(disk_plan_new(disk, layout, NULL, DISK_APPLY_FORCE | DISK_APPLY_DRY_RUN, &diag, &plan, &err), 0);
	s = disk_plan_step(plan, 5);
	assert_int_equal(s->kind, DISK_STEP_INSTALL);
	assert_true(s->wipe);
	disk_plan_free(plan);
	pb_err_clear(&err);
}

/* A disk with one root partition 'r' holding what mke2fs -t FSTYPE -d TREE makes. */
static struct disk *disk_with_fs(const char *name, const char *fstype, const char *tree)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_spec spec = { .name = "r", .type = PART_TYPE_ROOT, .size = 16 * MiB };
	struct disk *k = NULL;
	struct part_info p;
	const char *path = tmp_path(name);

	unlink(path);
	assert_int_equal(disk_open(path, DISK_OPEN_CREATE, 32 * MiB, &diag, &k, &err), 0);
	assert_int_equal(part_disk_new_table(disk_part(k), PART_TABLE_GPT, "model", &err), 0);
	assert_int_equal(part_disk_add(disk_part(k), &spec, &p, &err), 0);
	assert_int_equal(part_disk_write(disk_part(k), &err), 0);
	assert_int_equal(sh("mke2fs -q -F -t %s -d '%s' -E offset=%llu '%s' 16M", fstype, tree,
			    (unsigned long long)p.start, path),
			 0);
	pb_err_clear(&err);
	return k;
}

static void test_disk_guest_ext3_is_a_bootable_guest(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_guests gs = { 0 };
	const struct disk_guest *g;
	struct disk *k;

	if (!pb_have_program("mke2fs"))
		skip();
	k = disk_with_fs("ext3.img", "ext3", make_tree("tree4", "ro quiet\n"));
	assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
	assert_int_equal(gs.n, 1);
	g = disk_guests_find(&gs, "r");
	assert_non_null(g);
	assert_ptr_equal(disk_guests_find(&gs, "1"), g);
	assert_null(disk_guests_find(&gs, "nosuch"));
	assert_string_equal(g->probe.fstype, "ext3");
	assert_int_equal(g->state, DISK_GUEST_COMPLETE);
	assert_true(g->bootable);
	assert_string_equal(g->info.pretty_name, "Test Linux");
	assert_string_equal(g->info.cmdline, "ro quiet");
	/* any number of kernels, newest first */
	assert_int_equal(g->info.n_kernels, 2);
	assert_string_equal(g->info.kernels[0].version, "6.1.0-10-amd64");
	assert_null(g->info.kernels[0].initrd);
	assert_string_equal(g->info.kernels[1].initrd, "/boot/initrd.img-6.1.0-9-amd64");
	disk_guests_release(&gs);
	disk_free(k);
	pb_err_clear(&err);
}

static void test_disk_guest_cmdline_any_length(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_guests gs = { 0 };
	char cmdline[3000], want[3000];
	struct disk *k;
	size_t n = 0;

	if (!pb_have_program("mke2fs"))
		skip();
	/* 2,700 bytes over two lines, a tab inside: one line, every word kept */
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(cmdline + n, sizeof(cmdline) - n, "opt%03d=x%s", i,
				      i == 99 ? "\n" : i == 150 ? "\t" : " ");
	snprintf(cmdline + n, sizeof(cmdline) - n, "last\n");
	snprintf(want, sizeof(want), "%s", cmdline);
	for (char *c = want; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	want[strlen(want) - 1] = '\0';
	k = disk_with_fs("long.img", "ext4", make_tree("tree5", cmdline));
	assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
	assert_true(strlen(gs.v[0].info.cmdline) > 2000);
	assert_string_equal(gs.v[0].info.cmdline, want);
	disk_guests_release(&gs);
	disk_free(k);
	pb_err_clear(&err);
}

static void test_disk_guest_incomplete_and_not_guests(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_guests gs = { 0 };
	struct part_spec spec = { .name = "sw", .type = PART_TYPE_SWAP, .size = 4 * MiB };
	const char *tree = make_tree("tree6", NULL);
	char marker[256];
	struct disk *k;

	if (!pb_have_program("mke2fs"))
		skip();
	snprintf(marker, sizeof(marker), "%s/.partboot-incomplete", tree);
	write_file(marker, "");
	k = disk_with_fs("incomplete.img", "ext4", tree);
	/* a swap partition is never a guest */
	assert_int_equal(part_disk_add(disk_part(k), &spec, NULL, &err), 0);
	assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
	assert_int_equal(gs.n, 2);
	assert_int_equal(gs.v[0].state, DISK_GUEST_INCOMPLETE);
	assert_false(gs.v[0].bootable);
	assert_non_null(gs.v[0].why);
	assert_int_equal(gs.v[1].state, DISK_GUEST_NONE);
	assert_string_equal(disk_guest_state_to_string(gs.v[1].state), "");
	disk_guests_release(&gs);
	disk_free(k);
	pb_err_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_plan_new_disk_as_data),
		cmocka_unit_test(test_disk_plan_refuses_before_writing),
		cmocka_unit_test(test_disk_plan_rerun_keeps_complete_guest),
		cmocka_unit_test(test_disk_guest_ext3_is_a_bootable_guest),
		cmocka_unit_test(test_disk_guest_cmdline_any_length),
		cmocka_unit_test(test_disk_guest_incomplete_and_not_guests),
	};

	return cmocka_run_group_tests_name("disk", tests, setup_dir, teardown_dir);
}
