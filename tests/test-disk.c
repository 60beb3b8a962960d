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
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/run.h"
#include <crypt.h>

#include "disk/disk-private.h"

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

/* A disk (table, partition type) with one partition 'r' holding what mke2fs -t FSTYPE -d TREE makes. */
static struct disk *disk_with_fs_as(const char *name, enum part_table table, enum part_type type, const char *fstype,
				    const char *tree)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_spec spec = { .name = "r", .type = type, .size = 16 * MiB };
	struct disk *k = NULL;
	struct part_info p;
	const char *path = tmp_path(name);

	unlink(path);
	assert_int_equal(disk_open(path, DISK_OPEN_CREATE, 32 * MiB, &diag, &k, &err), 0);
	assert_int_equal(part_disk_new_table(disk_part(k), table, "model", &err), 0);
	assert_int_equal(part_disk_add(disk_part(k), &spec, &p, &err), 0);
	assert_int_equal(part_disk_write(disk_part(k), &err), 0);
	assert_int_equal(sh("mke2fs -q -F -t %s -d '%s' -E offset=%llu '%s' 16M", fstype, tree,
			    (unsigned long long)p.start, path),
			 0);
	pb_err_clear(&err);
	return k;
}

/* A GPT disk with one root partition 'r' holding what mke2fs -t FSTYPE -d TREE makes. */
static struct disk *disk_with_fs(const char *name, const char *fstype, const char *tree)
{
	return disk_with_fs_as(name, PART_TABLE_GPT, PART_TYPE_ROOT, fstype, tree);
}

/* Linux filesystem data (0FC63DAF-...) on GPT and 0x83 on dos hold foreign guests as the DPS root type does. */
static void test_disk_guest_foreign_on_data_and_dos_partitions(void **state)
{
	static const struct {
		enum part_table table;
		enum part_type type;
		const char *type_str;
	} cases[] = {
		{ PART_TABLE_GPT, PART_TYPE_DATA, "0fc63daf-8483-4772-8e79-3d69d8477de4" },
		{ PART_TABLE_DOS, PART_TYPE_ROOT, "0x83" },
	};
	struct pb_err err = PB_ERR_INIT;

	if (!pb_have_program("mke2fs"))
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct disk_guests gs = { 0 };
		struct disk *k = disk_with_fs_as(i ? "dos.img" : "data.img", cases[i].table, cases[i].type, "ext4",
						 make_tree(i ? "tree8" : "tree7", NULL));

		assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
		assert_true(!strcasecmp(gs.v[0].part.type_str, cases[i].type_str));
		assert_int_equal(gs.v[0].state, DISK_GUEST_FOREIGN);
		assert_true(gs.v[0].bootable);
		disk_guests_release(&gs);
		disk_free(k);
	}
	pb_err_clear(&err);
}

/* mke2fs -d, not partboot: an install partboot did not make is a foreign guest, bootable all the same. */
static void test_disk_guest_ext3_foreign_install_is_a_bootable_guest(void **state)
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
	assert_int_equal(g->state, DISK_GUEST_FOREIGN);
	assert_string_equal(disk_guest_state_to_string(g->state), "foreign");
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

/*
 * Defect 2: a kernel or initrd file name holding a newline or '}' reached
 * grub.cfg. The model leaves such a kernel out and says which file; the
 * guest boots the next one (or has no kernel at all).
 */
static void test_disk_guest_unsafe_kernel_names_left_out(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_guests gs = { 0 };
	const char *tree = make_tree("tree7", "ro\n");
	char path[256];
	struct disk *k;

	if (!pb_have_program("mke2fs"))
		skip();
	/* newer than both good kernels, so it would be the one the menu boots */
	snprintf(path, sizeof(path), "%s/boot/vmlinuz-9.9\n}\nmenuentry evil {", tree);
	write_file(path, "kernel");
	/* /vmlinuz names 9.8, and /initrd.img an initrd with a quote and a brace in its name */
	snprintf(path, sizeof(path), "%s/boot/vmlinuz-9.8", tree);
	write_file(path, "kernel");
	snprintf(path, sizeof(path), "%s/boot/initrd'}", tree);
	write_file(path, "initrd");
	assert_int_equal(sh("ln -s boot/vmlinuz-9.8 '%s/vmlinuz' && ln -s \"boot/initrd'}\" '%s/initrd.img'", tree, tree),
			 0);
	k = disk_with_fs("unsafe.img", "ext4", tree);
	assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
	assert_true(gs.v[0].bootable);
	assert_int_equal(gs.v[0].info.n_kernels, 2);
	assert_string_equal(gs.v[0].info.kernels[0].kernel, "/boot/vmlinuz-6.1.0-10-amd64");
	assert_string_equal(gs.v[0].info.kernels[1].kernel, "/boot/vmlinuz-6.1.0-9-amd64");
	assert_non_null(gs.v[0].skipped);
	assert_non_null(strstr(gs.v[0].skipped, "/boot/vmlinuz-9.9\\x0a}\\x0amenuentry evil {"));
	assert_non_null(strstr(gs.v[0].skipped, "/boot/initrd'}"));
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


/* The sha256 of a file (for "refused: the disk is byte-identical"). */
static void sha_of(const char *path, char ret[80])
{
	char cmd[300];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(ret, 80, f));
	pclose(f);
}

/*
 * An install partboot did not make, with /boot on a partition of its own: a
 * root 'r' whose fstab names /boot by label, and a data partition 'b' holding
 * the kernels at its top, as a real /boot does.
 */
static struct disk *disk_with_boot_partition(const char *name, const char *boot_source)
{
	const char *root = tmp_path("broot"), *boot = tmp_path("bboot"), *path = tmp_path(name);
	struct pb_err err = PB_ERR_INIT;
	struct part_spec rs = { .name = "r", .type = PART_TYPE_ROOT, .size = 16 * MiB };
	struct part_spec bs = { .name = "b", .type = PART_TYPE_DATA, .size = 16 * MiB };
	struct disk *k = NULL;
	struct part_info rp, bp;
	char file[256], fstab[256];

	assert_int_equal(sh("rm -rf '%s' '%s' && mkdir -p '%s/etc/default' '%s/boot' '%s'", root, boot, root, root, boot), 0);
	snprintf(file, sizeof(file), "%s/etc/os-release", root);
	write_file(file, "PRETTY_NAME=\"Other Linux\"\n");
	snprintf(file, sizeof(file), "%s/etc/default/grub", root);
	write_file(file, "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n");
	snprintf(file, sizeof(file), "%s/etc/fstab", root);
	snprintf(fstab, sizeof(fstab), "UUID=0000 / ext4 errors=remount-ro 0 1\n%s /boot ext4 defaults 0 2\n", boot_source);
	write_file(file, fstab);
	/* hidden under the /boot mount on the real system: not the guest's kernel */
	snprintf(file, sizeof(file), "%s/boot/vmlinuz-1.0-stale", root);
	write_file(file, "stale");
	snprintf(file, sizeof(file), "%s/vmlinuz-6.1.0-57-amd64", boot);
	write_file(file, "kernel");
	snprintf(file, sizeof(file), "%s/initrd.img-6.1.0-57-amd64", boot);
	write_file(file, "initrd");
	snprintf(file, sizeof(file), "%s/config-6.1.0-57-amd64", boot);
	write_file(file, "CONFIG_VIRTIO_BLK=m\n");

	unlink(path);
	assert_int_equal(disk_open(path, DISK_OPEN_CREATE, 48 * MiB, &diag, &k, &err), 0);
	assert_int_equal(part_disk_new_table(disk_part(k), PART_TABLE_GPT, "model", &err), 0);
	assert_int_equal(part_disk_add(disk_part(k), &rs, &rp, &err), 0);
	assert_int_equal(part_disk_add(disk_part(k), &bs, &bp, &err), 0);
	assert_int_equal(part_disk_write(disk_part(k), &err), 0);
	assert_int_equal(sh("mke2fs -q -F -t ext4 -d '%s' -E offset=%llu '%s' 16M", root, (unsigned long long)rp.start,
			    path),
			 0);
	assert_int_equal(sh("mke2fs -q -F -t ext4 -L bootfs -d '%s' -E offset=%llu '%s' 16M", boot,
			    (unsigned long long)bp.start, path),
			 0);
	pb_err_clear(&err);
	return k;
}

static void test_disk_guest_foreign_with_a_boot_partition(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_guests gs = { 0 };
	const struct disk_guest *g;
	struct disk *k;

	if (!pb_have_program("mke2fs"))
		skip();
	k = disk_with_boot_partition("boot.img", "LABEL=bootfs");
	assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
	g = disk_guests_find(&gs, "r");
	assert_int_equal(g->state, DISK_GUEST_FOREIGN);
	assert_true(g->bootable);
	assert_true(g->has_boot);
	assert_int_equal(g->boot_part.partno, 2);
	assert_string_equal(g->boot_probe.label, "bootfs");
	/* the kernels of the /boot partition, never the stale one under the mount point */
	assert_int_equal(g->info.n_kernels, 1);
	assert_string_equal(g->info.kernels[0].kernel, "/vmlinuz-6.1.0-57-amd64");
	assert_string_equal(g->info.kernels[0].initrd, "/initrd.img-6.1.0-57-amd64");
	assert_string_equal(g->info.kernels[0].config, "/config-6.1.0-57-amd64");
	/* its own command line, as grub-mkconfig would make it */
	assert_string_equal(g->info.cmdline, "ro quiet splash");
	/* the /boot partition itself is data, not a guest with an OS */
	assert_int_equal(disk_guests_find(&gs, "b")->state, DISK_GUEST_COMPLETE);
	assert_false(disk_guests_find(&gs, "b")->bootable);
	disk_guests_release(&gs);
	disk_free(k);

	/* a /boot partition that is not on this disk: the root's own /boot is all there is */
	k = disk_with_boot_partition("boot2.img", "UUID=12345678-0000-4000-8000-000000000000");
	assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
	g = disk_guests_find(&gs, "r");
	assert_false(g->has_boot);
	assert_int_equal(g->info.n_kernels, 1);
	assert_string_equal(g->info.kernels[0].kernel, "/boot/vmlinuz-1.0-stale");
	disk_guests_release(&gs);
	disk_free(k);
	pb_err_clear(&err);
}

static void test_disk_adopt_takes_a_foreign_guest(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_guests gs = { 0 };
	struct disk_install_opts io = { .source = tmp_path("bboot") };
	struct disk_adopt_opts ao = { 0 };
	const struct disk_guest *g;
	const char *path = tmp_path("adopt.img");
	char before[80], after[80];
	struct fs *fs;
	char *data;
	struct disk *k;

	if (!pb_have_program("mke2fs"))
		skip();
	k = disk_with_boot_partition("adopt.img", "LABEL=bootfs");
	/* refusals first, each leaving every byte as it was */
	sha_of(path, before);
	assert_int_equal(disk_install(k, "r", &io, NULL, &err), -EEXIST);
	assert_non_null(strstr(pb_err_msg(&err), "partboot did not make (Other Linux)"));
	pb_err_clear(&err);
	assert_int_equal(disk_guest_adopt(k, "b", &ao, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "no Linux install"));
	pb_err_clear(&err);
	ao.hostname = "-bad-";
	assert_int_equal(disk_guest_adopt(k, "r", &ao, &err), -EINVAL);
	pb_err_clear(&err);
	sha_of(path, after);
	assert_string_equal(before, after);

	ao.hostname = NULL;
	assert_int_equal(disk_guest_adopt(k, "r", &ao, &err), 0);
	assert_int_equal(disk_guest_scan(k, &gs, &err), 0);
	g = disk_guests_find(&gs, "r");
	assert_int_equal(g->state, DISK_GUEST_COMPLETE);
	assert_true(g->info.partboot);
	assert_true(g->bootable);
	assert_string_equal(g->info.cmdline_from, "/etc/kernel/cmdline");
	assert_string_equal(g->info.cmdline, "ro quiet splash");
	disk_guests_release(&gs);
	assert_int_equal(disk_fs_open(k, "r", &fs, &err), 0);
	assert_int_equal(fs_read_file(fs, "/etc/fstab", &data, NULL, &err), 0);
	assert_non_null(strstr(data, "\t/\text4\t"));
	assert_non_null(strstr(data, "LABEL=bootfs\t/boot\text4\tdefaults,nofail\t0\t2\n"));
	free(data);
	/* no hostname asked for: none written */
	assert_int_equal(fs_read_file(fs, "/etc/hostname", &data, NULL, &err), -ENOENT);
	pb_err_clear(&err);
	fs_free(fs);
	/* now partboot's: adopting again is refused */
	assert_int_equal(disk_guest_adopt(k, "r", &ao, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "partboot's already"));
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", path, 1024ULL * 1024), 0);
	disk_free(k);
	pb_err_clear(&err);
}

/* ---- logging into guests: the pure parts of customize ---------------------------------------- */

static void test_disk_acct_edits_lines(void **state)
{
	struct disk_acct a;
	struct strbuf sb = STRBUF_INIT;

	disk_acct_parse("root:*:19000:0:99999:7:::\nsudo:x:27:\nusers:x:100:bob\nshort:x", &a);
	assert_int_equal(a.n, 4);
	assert_int_equal(disk_acct_find(&a, "sudo"), 1);
	assert_int_equal(disk_acct_find(&a, "su"), -1);
	assert_int_equal(disk_acct_find(&a, "root:*"), -1);
	disk_acct_set_field(&a, 0, 1, "$y$hash");
	disk_acct_set_field(&a, 3, 5, "/home"); /* missing fields become empty */
	disk_acct_add_member(&a, 1, 3, "alice");
	disk_acct_add_member(&a, 1, 3, "alice");
	disk_acct_add_member(&a, 2, 3, "alice");
	disk_acct_add_member(&a, 2, 3, "bob");
	disk_acct_put(&a, "alice", "alice:x:1000:");
	disk_acct_put(&a, "sudo", "sudo:x:27:alice,carol");
	assert_true(disk_acct_id_used(&a, 2, 1000));
	assert_true(disk_acct_id_used(&a, 2, 27));
	assert_false(disk_acct_id_used(&a, 2, 1001));
	assert_true(disk_acct_field(&a, 2, 3, &sb));
	assert_string_equal(sb.buf, "bob,alice");
	assert_false(disk_acct_field(&a, 4, 4, &sb)); /* "alice:x:1000:" has four fields */
	strbuf_reset(&sb);
	disk_acct_text(&a, &sb);
	assert_string_equal(sb.buf, "root:$y$hash:19000:0:99999:7:::\nsudo:x:27:alice,carol\nusers:x:100:bob,alice\n"
				    "short:x::::/home\nalice:x:1000:\n");
	strbuf_release(&sb);
	disk_acct_release(&a);
}

static void test_disk_user_names_as_adduser(void **state)
{
	struct disk_adduser au;

	assert_true(disk_user_name_valid("alice"));
	assert_true(disk_user_name_valid("a-b_9"));
	assert_false(disk_user_name_valid("Alice"));
	assert_false(disk_user_name_valid("9lives"));
	assert_false(disk_user_name_valid("al:ce"));
	assert_false(disk_user_name_valid(""));
	assert_false(disk_user_name_valid("abcdefghijklmnopqrstuvwxyzabcdefg")); /* 33 */
	assert_true(disk_group_name_valid("_ssh"));
	assert_false(disk_group_name_valid("-x"));
	disk_adduser_parse(NULL, &au);
	assert_int_equal(au.first_uid, 1000);
	assert_int_equal(au.dir_mode, 0700);
	assert_string_equal(au.dshell, "/bin/bash");
	disk_adduser_parse("# comment\nFIRST_UID=2000\nDIR_MODE=0750\nDSHELL=\"/bin/zsh\"\nDHOME = /srv\nSKEL=relative\n",
			   &au);
	assert_int_equal(au.first_uid, 2000);
	assert_int_equal(au.last_uid, 59999);
	assert_int_equal(au.dir_mode, 0750);
	assert_string_equal(au.dshell, "/bin/zsh");
	assert_string_equal(au.dhome, "/home"); /* "DHOME " is not the key DHOME */
	assert_string_equal(au.skel, "/etc/skel"); /* not absolute: ignored */
}

static void test_disk_password_yescrypt_verifies(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	char *pw = NULL, *h1 = NULL, *h2 = NULL, *h3 = NULL;
	struct crypt_data cd;
	int fd;

	write_file(tmp_path("pw"), "correct horse\r\nsecond line is not read\n");
	assert_int_equal(disk_password_read(tmp_path("pw"), -1, &pw, &err), 0);
	assert_string_equal(pw, "correct horse");
	assert_int_equal(disk_password_hash(pw, NULL, &h1, &err), 0);
	assert_int_equal(strncmp(h1, "$y$", 3), 0);
	/* libcrypt's own check: crypt(password, hash) gives the hash back */
	memset(&cd, 0, sizeof(cd));
	assert_string_equal(crypt_r("correct horse", h1, &cd), h1);
	assert_string_not_equal(crypt_r("correct horsf", h1, &cd), h1);
	/* seeded: the same salt every time; another seed, another one */
	assert_int_equal(disk_password_hash(pw, "s1", &h2, &err), 0);
	assert_int_equal(disk_password_hash(pw, "s2", &h3, &err), 0);
	assert_string_not_equal(h2, h3);
	free(h3);
	assert_int_equal(disk_password_hash(pw, "s1", &h3, &err), 0);
	assert_string_equal(h2, h3);
	assert_string_equal(crypt_r("correct horse", h2, &cd), h2);
	disk_password_free(pw);
	pw = NULL;
	/* from a descriptor: only the first line is consumed */
	fd = open(tmp_path("pw"), O_RDONLY);
	assert_int_equal(disk_password_read("-", fd, &pw, &err), 0);
	assert_string_equal(pw, "correct horse");
	disk_password_free(pw);
	close(fd);
	/* refusals, never naming the password */
	write_file(tmp_path("empty"), "\nsecret on the second line\n");
	assert_int_equal(disk_password_read(tmp_path("empty"), -1, &pw, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "empty password"));
	assert_null(strstr(pb_err_msg(&err), "secret"));
	assert_int_equal(disk_password_read(tmp_path("missing"), -1, &pw, &err), -ENOENT);
	free(h1);
	free(h2);
	free(h3);
	pb_err_clear(&err);
}

static void test_disk_sshkey_checks_and_merges(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct strbuf keys = STRBUF_INIT, out = STRBUF_INIT;
	char pub[256];
	size_t n = 0, added = 0;

	assert_int_equal(sh("ssh-keygen -q -t ed25519 -N '' -C 'me@host' -f '%s' && ssh-keygen -q -t rsa -b 2048 -N '' "
			    "-f '%s'",
			    tmp_path("k1"), tmp_path("k2")),
			 0);
	snprintf(pub, sizeof(pub), "%s.pub", tmp_path("k1"));
	assert_int_equal(disk_sshkey_load(pub, &keys, &n, &err), 0);
	assert_int_equal(n, 1);
	snprintf(pub, sizeof(pub), "%s.pub", tmp_path("k2"));
	assert_int_equal(disk_sshkey_load(pub, &keys, &n, &err), 0);
	assert_non_null(strstr(keys.buf, "ssh-ed25519 AAAA"));
	assert_non_null(strstr(keys.buf, "ssh-rsa AAAA"));
	/* a private key, a type that lies about its blob, garbage, nothing */
	assert_int_equal(disk_sshkey_load(tmp_path("k1"), &out, &n, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "private key"));
	write_file(tmp_path("lie"), "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGzVv0nM3ZnFXy4x7Hk3v9H6gq9bDq1vbB6S6Wq2W0d6 x\n");
	assert_int_equal(disk_sshkey_load(tmp_path("lie"), &out, &n, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), ":1: not an SSH public key"));
	write_file(tmp_path("junk"), "# a comment\nhello world\n");
	assert_int_equal(disk_sshkey_load(tmp_path("junk"), &out, &n, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "junk:2:"));
	write_file(tmp_path("none"), "# only a comment\n\n");
	assert_int_equal(disk_sshkey_load(tmp_path("none"), &out, &n, &err), -EINVAL);
	assert_int_equal(disk_sshkey_load(tmpdir, &out, &n, &err), -EINVAL);
	/* merged once: a key already there (even after options, with another comment) is not added again */
	{
		const char *first = keys.buf;
		size_t len = strcspn(first, "\n");
		struct strbuf old = STRBUF_INIT;
		size_t type_b64 = strcspn(first, " ") + 1;

		type_b64 += strcspn(first + type_b64, " \n");
		strbuf_addstr(&old, "from=\"10.0.0.1\" ");
		strbuf_add(&old, first, type_b64);
		strbuf_addstr(&old, " other-comment");
		disk_sshkey_merge(old.buf, keys.buf, &out, &added);
		assert_int_equal(added, 1);
		assert_int_equal(strncmp(out.buf, old.buf, old.len), 0);
		assert_non_null(strstr(out.buf, "ssh-rsa"));
		strbuf_reset(&out);
		disk_sshkey_merge(NULL, keys.buf, &out, &added);
		assert_int_equal(added, 2);
		(void)len;
		strbuf_release(&old);
	}
	strbuf_release(&keys);
	strbuf_release(&out);
	pb_err_clear(&err);
}

static void test_disk_firstboot_and_packages_checked(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct strbuf sb = STRBUF_INIT;
	char *interp = NULL;
	FILE *f;

	write_file(tmp_path("fb"), "#! /bin/sh -e\necho hi\n");
	assert_int_equal(disk_firstboot_load(tmp_path("fb"), &sb, &interp, &err), 0);
	assert_string_equal(interp, "/bin/sh");
	free(interp);
	strbuf_reset(&sb);
	write_file(tmp_path("nofb"), "echo no shebang\n");
	assert_int_equal(disk_firstboot_load(tmp_path("nofb"), &sb, &interp, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "#!"));
	strbuf_reset(&sb);
	write_file(tmp_path("relfb"), "#!sh\n");
	assert_int_equal(disk_firstboot_load(tmp_path("relfb"), &sb, &interp, &err), -EINVAL);
	strbuf_reset(&sb);
	f = fopen(tmp_path("binfb"), "w");
	fwrite("#!/bin/sh\n\0\1\2", 1, 13, f);
	fclose(f);
	assert_int_equal(disk_firstboot_load(tmp_path("binfb"), &sb, &interp, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "not text"));
	assert_non_null(strstr(disk_firstboot_unit(), "ExecStopPost=systemctl --no-reload disable partboot-firstboot"));

	strbuf_reset(&sb);
	assert_int_equal(fs_debootstrap_packages("openssh-server, sudo  libc6:amd64,g++", &sb, &err), 0);
	assert_string_equal(sb.buf, "openssh-server,sudo,libc6:amd64,g++");
	strbuf_reset(&sb);
	assert_int_equal(fs_debootstrap_packages("--allow-everything", &sb, &err), -EINVAL);
	assert_int_equal(fs_debootstrap_packages("Foo", &sb, &err), -EINVAL);
	assert_int_equal(fs_debootstrap_packages(" , ", &sb, &err), -EINVAL);
	assert_int_equal(fs_debootstrap_packages("a;rm", &sb, &err), -EINVAL);
	strbuf_release(&sb);
	pb_err_clear(&err);
}

static void test_disk_customize_check_options(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk_customize_opts o = { 0 };

	assert_true(disk_customize_empty(&o));
	assert_int_equal(disk_customize_check(&o, &err), 0);
	o.root_password_file = "pw";
	o.root_password = DISK_ROOT_PASSWORD_LOCKED;
	assert_int_equal(disk_customize_check(&o, &err), -EINVAL);
	o.root_password = DISK_ROOT_PASSWORD_KEEP;
	o.user = "Bad";
	assert_int_equal(disk_customize_check(&o, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "not a valid user name"));
	o.user = "root";
	assert_int_equal(disk_customize_check(&o, &err), -EEXIST);
	o.user = "alice:sudo,";
	assert_int_equal(disk_customize_check(&o, &err), 0);
	o.user = "alice:";
	assert_int_equal(disk_customize_check(&o, &err), -EINVAL);
	o.user = "alice";
	o.root_password_file = "-";
	o.user_password_file = "-";
	assert_int_equal(disk_customize_check(&o, &err), -EINVAL);
	o.user = NULL;
	o.root_password_file = NULL;
	assert_int_equal(disk_customize_check(&o, &err), -EINVAL); /* a user's password without a user */
	o.user_password_file = NULL;
	o.meta_data = "md";
	assert_int_equal(disk_customize_check(&o, &err), -EINVAL);
	pb_err_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_plan_new_disk_as_data),
		cmocka_unit_test(test_disk_plan_refuses_before_writing),
		cmocka_unit_test(test_disk_plan_rerun_keeps_complete_guest),
		cmocka_unit_test(test_disk_guest_ext3_foreign_install_is_a_bootable_guest),
		cmocka_unit_test(test_disk_guest_cmdline_any_length),
		cmocka_unit_test(test_disk_guest_unsafe_kernel_names_left_out),
		cmocka_unit_test(test_disk_guest_incomplete_and_not_guests),
		cmocka_unit_test(test_disk_guest_foreign_on_data_and_dos_partitions),
		cmocka_unit_test(test_disk_guest_foreign_with_a_boot_partition),
		cmocka_unit_test(test_disk_adopt_takes_a_foreign_guest),
		cmocka_unit_test(test_disk_acct_edits_lines),
		cmocka_unit_test(test_disk_user_names_as_adduser),
		cmocka_unit_test(test_disk_password_yescrypt_verifies),
		cmocka_unit_test(test_disk_sshkey_checks_and_merges),
		cmocka_unit_test(test_disk_firstboot_and_packages_checked),
		cmocka_unit_test(test_disk_customize_check_options),
	};

	return cmocka_run_group_tests_name("disk", tests, setup_dir, teardown_dir);
}
