/* SPDX-License-Identifier: MIT */
/*
 * vm/ as data: the QEMU argument vector of each mode, the kernel command line,
 * the whole-disk view (extents and vmdk descriptor) of a given layout, and the
 * KVM/TCG choice from injected facts. No VM is started.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/macros.h"
#include "vm/vm.h"

#define MIB (1024ULL * 1024)

static const struct vm_guest direct_guest = {
	.name = "deb12",
	.disk_path = "/srv/disk.img",
	.disk_size = 600 * MIB,
	.part_start = 66 * MIB,
	.part_size = 200 * MIB,
	.kernel = "/cache/k.vmlinux",
	.kernel_pvh = true,
	.initrd = "/cache/i.initrd",
	.cmdline = "ro root=UUID=abcd console=ttyS0",
};

static const struct vm_guest view_guest = {
	.name = "deb12",
	.disk_path = "/srv/disk.img",
	.disk_size = 600 * MIB,
	.part_start = 66 * MIB,
	.part_size = 200 * MIB,
	.view_path = "/tmp/v/disk.vmdk",
	.view_extents = 3,
	.ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd",
	.ovmf_vars = "/tmp/v/OVMF_VARS.fd",
};

/* The value following option opt (the n-th occurrence, from 0), or NULL. */
static const char *arg_after(char **argv, const char *opt, int n)
{
	for (size_t i = 0; argv[i]; i++)
		if (!strcmp(argv[i], opt) && argv[i + 1] && n-- == 0)
			return argv[i + 1];
	return NULL;
}

static bool has_arg(char **argv, const char *s)
{
	for (size_t i = 0; argv[i]; i++)
		if (!strcmp(argv[i], s))
			return true;
	return false;
}

static char **build(const struct vm_opts *o, const struct vm_guest *g, enum vm_accel a, int qmp_fd)
{
	struct vm_run_ctx c = { .accel = a, .qmp_fd = qmp_fd };
	struct pb_err err = PB_ERR_INIT;
	char **argv = NULL;

	assert_int_equal(vm_argv_build(o, g, &c, &argv, &err), 0);
	pb_err_clear(&err);
	assert_non_null(argv);
	return argv;
}

static void test_vm_argv_direct_is_microvm_with_the_partition_alone(void **state)
{
	struct vm_opts o = { 0 };
	char **argv = build(&o, &direct_guest, VM_ACCEL_TCG, 3);

	assert_string_equal(argv[0], "qemu-system-x86_64");
	assert_string_equal(arg_after(argv, "-machine", 0), "microvm,x-option-roms=off,isa-serial=on,acpi=on");
	assert_string_equal(arg_after(argv, "-accel", 0), "tcg");
	/* QEMU's default model with x86-64-v2's features, not max (slower under TCG) */
	assert_string_equal(arg_after(argv, "-cpu", 0), "qemu64,ssse3=on,sse4.1=on,sse4.2=on,popcnt=on");
	assert_string_equal(arg_after(argv, "-m", 0), "512M");
	assert_string_equal(arg_after(argv, "-smp", 0), "1"); /* one vCPU boots faster under TCG */
	assert_string_equal(arg_after(argv, "-kernel", 0), "/cache/k.vmlinux");
	assert_string_equal(arg_after(argv, "-initrd", 0), "/cache/i.initrd");
	assert_string_equal(arg_after(argv, "-append", 0), "ro root=UUID=abcd console=ttyS0");
	/* the partition alone: raw offset/size, image-file protocol, no whole-file lock */
	assert_string_equal(arg_after(argv, "-drive", 0),
			    "if=none,id=disk0,format=raw,offset=69206016,size=209715200,file.driver=file,"
			    "file.filename=/srv/disk.img,file.locking=off,cache=writeback");
	assert_null(arg_after(argv, "-drive", 1));
	assert_string_equal(arg_after(argv, "-device", 0), "virtio-blk-device,drive=disk0");
	assert_true(has_arg(argv, "-nodefaults"));
	assert_true(has_arg(argv, "-no-reboot"));
	assert_string_equal(arg_after(argv, "-action", 0), "panic=exit-failure");
	/* console on stdout, output only; QMP on the inherited socket */
	assert_string_equal(arg_after(argv, "-chardev", 0), "stdio,id=con0,signal=off");
	assert_string_equal(arg_after(argv, "-serial", 0), "chardev:con0");
	assert_string_equal(arg_after(argv, "-chardev", 1), "socket,id=qmp0,fd=3");
	assert_string_equal(arg_after(argv, "-mon", 0), "chardev=qmp0,mode=control");
	assert_null(arg_after(argv, "-netdev", 0));
	assert_false(has_arg(argv, "-bios"));
	vm_strv_free(argv);
}

/*
 * Defect 16: the partition's name reached QEMU's -name with its commas as
 * they were, so "a,process=x" set QEMU's process name. The key is given and
 * commas doubled; real QEMU (query-name over QMP) says which name it took.
 */
static void test_vm_argv_name_is_quoted_for_qemu(void **state)
{
	struct vm_guest g = direct_guest;
	struct vm_opts o = { 0 };
	char **argv;

	g.name = "a,process=x=y";
	argv = build(&o, &g, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-name", 0), "guest=partboot-a,,process=x=y");
	if (access("/usr/bin/qemu-system-x86_64", X_OK) == 0) {
		char cmd[512], out[4096] = "";
		size_t n;
		FILE *f;

		snprintf(cmd, sizeof(cmd),
			 "printf '%%s\\n' '{\"execute\":\"qmp_capabilities\"}' '{\"execute\":\"query-name\"}' "
			 "'{\"execute\":\"quit\"}' | timeout 60 qemu-system-x86_64 -name '%s' -machine none -nodefaults "
			 "-display none -qmp stdio 2>&1",
			 arg_after(argv, "-name", 0));
		f = popen(cmd, "r");
		assert_non_null(f);
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		pclose(f);
		assert_non_null(strstr(out, "{\"return\": {\"name\": \"partboot-a,process=x=y\"}}"));
	}
	vm_strv_free(argv);
}

static void test_vm_argv_block_device_uses_host_device(void **state)
{
	struct vm_guest g = direct_guest;
	struct vm_opts o = { .machine = VM_MACHINE_Q35, .snapshot = true };
	char **argv;

	g.disk_path = "/dev/sdb";
	g.blockdev = true;
	argv = build(&o, &g, VM_ACCEL_KVM, -1);
	assert_string_equal(arg_after(argv, "-machine", 0), "q35");
	assert_string_equal(arg_after(argv, "-accel", 0), "kvm");
	assert_string_equal(arg_after(argv, "-cpu", 0), "host");
	assert_string_equal(arg_after(argv, "-smp", 0), "2");
	assert_string_equal(arg_after(argv, "-drive", 0),
			    "if=none,id=disk0,format=raw,offset=69206016,size=209715200,file.driver=host_device,"
			    "file.filename=/dev/sdb,file.locking=off,cache=writeback,snapshot=on");
	assert_string_equal(arg_after(argv, "-device", 0), "virtio-blk-pci,drive=disk0,bootindex=1");
	assert_null(arg_after(argv, "-mon", 0)); /* no QMP fd, no monitor */
	vm_strv_free(argv);
}

static void test_vm_argv_bios_boots_the_view_on_q35(void **state)
{
	struct vm_opts o = { .mode = VM_MODE_BIOS };
	char **argv = build(&o, &view_guest, VM_ACCEL_TCG, 3);

	assert_string_equal(arg_after(argv, "-machine", 0), "q35");
	assert_null(arg_after(argv, "-kernel", 0));
	assert_null(arg_after(argv, "-append", 0));
	assert_string_equal(arg_after(argv, "-drive", 0),
			    "if=none,id=disk0,format=vmdk,file.driver=file,file.filename=/tmp/v/disk.vmdk,"
			    "extents.0.locking=off,extents.1.locking=off,extents.2.locking=off,cache=writeback");
	assert_null(arg_after(argv, "-drive", 1)); /* SeaBIOS is QEMU's default: no pflash */
	assert_string_equal(arg_after(argv, "-device", 0), "virtio-blk-pci,drive=disk0,bootindex=1");
	vm_strv_free(argv);
}

static void test_vm_argv_uefi_adds_ovmf_with_private_vars(void **state)
{
	struct vm_opts o = { .mode = VM_MODE_UEFI };
	char **argv = build(&o, &view_guest, VM_ACCEL_TCG, 3);

	assert_string_equal(arg_after(argv, "-drive", 0),
			    "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd");
	assert_string_equal(arg_after(argv, "-drive", 1), "if=pflash,format=raw,unit=1,file=/tmp/v/OVMF_VARS.fd");
	assert_non_null(strstr(arg_after(argv, "-drive", 2), "format=vmdk"));
	vm_strv_free(argv);
}

/* Secure Boot: SMM on q35, secure pflash, no S3; refused without UEFI. */
static void test_vm_argv_secure_boot(void **state)
{
	struct vm_opts o = { .mode = VM_MODE_UEFI, .secure_boot = true };
	struct vm_run_ctx c = { .accel = VM_ACCEL_TCG, .qmp_fd = -1 };
	struct pb_err err = PB_ERR_INIT;
	struct vm_guest g = view_guest;
	char **argv;

	g.ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
	argv = build(&o, &g, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-machine", 0), "q35,smm=on");
	assert_string_equal(arg_after(argv, "-global", 0), "driver=cfi.pflash01,property=secure,value=on");
	assert_string_equal(arg_after(argv, "-global", 1), "ICH9-LPC.disable_s3=1");
	assert_string_equal(arg_after(argv, "-drive", 0),
			    "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
	vm_strv_free(argv);
	/* without it: no SMM, no -global */
	o.secure_boot = false;
	argv = build(&o, &g, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-machine", 0), "q35");
	assert_null(arg_after(argv, "-global", 0));
	vm_strv_free(argv);
	o = (struct vm_opts){ .mode = VM_MODE_BIOS, .secure_boot = true };
	argv = NULL;
	assert_int_equal(vm_argv_build(&o, &g, &c, &argv, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "Secure Boot needs UEFI firmware"));
	assert_null(argv);
	pb_err_clear(&err);
}

static void test_vm_argv_options(void **state)
{
	struct vm_opts o = { .mem = 1024 * MIB, .cpus = 4, .net = VM_NET_USER, .ssh_port = 2222,
			     .console_path = "/tmp/con,log", .qemu = "/opt/qemu" };
	char **argv = build(&o, &direct_guest, VM_ACCEL_TCG, 3);

	assert_string_equal(argv[0], "/opt/qemu");
	assert_string_equal(arg_after(argv, "-m", 0), "1024M");
	assert_string_equal(arg_after(argv, "-smp", 0), "4");
	assert_string_equal(arg_after(argv, "-netdev", 0), "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22");
	assert_true(has_arg(argv, "virtio-net-device,netdev=net0"));
	/* a comma in a QEMU option value is doubled */
	assert_string_equal(arg_after(argv, "-chardev", 0), "file,id=con0,path=/tmp/con,,log");
	vm_strv_free(argv);

	o = (struct vm_opts){ .interactive = true };
	argv = build(&o, &direct_guest, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-chardev", 0), "stdio,id=con0,mux=on,signal=off");
	assert_string_equal(arg_after(argv, "-mon", 0), "chardev=con0,mode=readline");
	vm_strv_free(argv);

	/* the CPU model: host with KVM, or the one asked for, as one argument */
	o = (struct vm_opts){ 0 };
	argv = build(&o, &direct_guest, VM_ACCEL_KVM, 3);
	assert_string_equal(arg_after(argv, "-cpu", 0), "host");
	vm_strv_free(argv);
	o = (struct vm_opts){ .cpu_model = "max,la57=off" };
	argv = build(&o, &direct_guest, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-cpu", 0), "max,la57=off");
	vm_strv_free(argv);
}

static void test_vm_cpu_model_check(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct vm_opts o = { .cpu_model = "max -snapshot" };
	struct vm_run_ctx c = { .accel = VM_ACCEL_TCG, .qmp_fd = -1 };
	char **argv = NULL;
	char big[202];

	assert_int_equal(vm_cpu_model_check("max", false, &err), 0);
	assert_int_equal(vm_cpu_model_check("Nehalem-v2", true, &err), 0);
	assert_int_equal(vm_cpu_model_check("qemu64,ssse3=on,sse4.1=on,sse4.2=on,popcnt=on", false, &err), 0);
	assert_int_equal(vm_cpu_model_check(VM_TCG_CPU_MODEL, true, &err), 0);
	/* nothing QEMU would read as another option or a file */
	assert_int_equal(vm_cpu_model_check("", false, &err), -EINVAL);
	pb_err_clear(&err);
	assert_int_equal(vm_cpu_model_check("-cpu", false, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "starts with"));
	pb_err_clear(&err);
	assert_int_equal(vm_cpu_model_check("max,x=/etc/passwd", false, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "0x2f"));
	pb_err_clear(&err);
	assert_int_equal(vm_cpu_model_check("max\n", false, &err), -EINVAL);
	pb_err_clear(&err);
	/* libvirt takes a name: properties would need <feature> elements */
	assert_int_equal(vm_cpu_model_check("qemu64,avx=on", true, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "libvirt"));
	pb_err_clear(&err);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(vm_cpu_model_check(big, false, &err), -EINVAL);
	pb_err_clear(&err);
	/* vm_argv_build() checks it too */
	assert_int_equal(vm_argv_build(&o, &direct_guest, &c, &argv, &err), -EINVAL);
	assert_null(argv);
	pb_err_clear(&err);
}

static void test_vm_argv_refuses_what_cannot_work(void **state)
{
	struct vm_opts o = { .mode = VM_MODE_BIOS, .machine = VM_MACHINE_MICROVM };
	struct vm_run_ctx c = { .accel = VM_ACCEL_TCG, .qmp_fd = -1 };
	struct pb_err err = PB_ERR_INIT;
	struct vm_guest g = direct_guest;
	char **argv = NULL;

	assert_int_equal(vm_argv_build(&o, &view_guest, &c, &argv, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "microvm"));
	assert_null(argv);
	o = (struct vm_opts){ 0 };
	g.kernel = NULL;
	assert_int_equal(vm_argv_build(&o, &g, &c, &argv, &err), -EINVAL);
	c.accel = VM_ACCEL_AUTO;
	assert_int_equal(vm_argv_build(&o, &direct_guest, &c, &argv, &err), -EINVAL);
	pb_err_clear(&err);
}

static void test_vm_argv_quote(void **state)
{
	char *argv[] = { "qemu", "-append", "ro quiet", "it's", "a,b=c", "", NULL };
	struct strbuf sb = STRBUF_INIT;

	vm_argv_quote(argv, &sb);
	assert_string_equal(sb.buf, "qemu -append 'ro quiet' 'it'\\''s' a,b=c ''");
	strbuf_release(&sb);
}

static void test_vm_cmdline_replaces_root_and_adds_console(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	vm_cmdline_build("ro quiet root=/dev/sda2 resume=UUID=1234 rootflags=x splash", "UUID=abcd",
			 "panic=-1", "pb.run=eA==", &sb);
	assert_string_equal(sb.buf, "ro quiet rootflags=x splash root=UUID=abcd console=ttyS0 panic=-1 pb.run=eA==");
	strbuf_reset(&sb);
	vm_cmdline_build("", "/dev/vda", NULL, NULL, &sb);
	assert_string_equal(sb.buf, "ro quiet root=/dev/vda console=ttyS0");
	strbuf_reset(&sb);
	/* quoted values stay one word; the guest's own console=ttyS0 is not repeated */
	vm_cmdline_build("ro  opt=\"a b\" console=ttyS0 console=tty0\n", "/dev/vda", NULL, NULL, &sb);
	assert_string_equal(sb.buf, "ro opt=\"a b\" console=tty0 root=/dev/vda console=ttyS0");
	strbuf_release(&sb);
}

/* esp 1-65 MiB, bios boot 65-66, g1 66-266, g2 266-466, on 600 MiB (GPT). */
static const struct part_info layout[] = {
	{ .partno = 1, .name = "esp", .type = PART_TYPE_ESP, .start = 1 * MIB, .size = 64 * MIB },
	{ .partno = 3, .name = "g1", .type = PART_TYPE_ROOT, .start = 66 * MIB, .size = 200 * MIB },
	{ .partno = 2, .name = "bios", .type = PART_TYPE_BIOS_BOOT, .start = 65 * MIB, .size = 1 * MIB },
	{ .partno = 4, .name = "g2", .type = PART_TYPE_ROOT, .start = 266 * MIB, .size = 200 * MIB },
};

static void test_vm_disk_view_plan_for_a_layout(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct vm_extent *e = NULL;
	size_t n = 0;
	static const struct {
		uint64_t start, size;
		enum vm_extent_src src;
		bool copy;
		const char *what;
	} want[] = {
		{ 0, 1 * MIB, VM_EXTENT_SHADOW, true, "table" },
		{ 1 * MIB, 64 * MIB, VM_EXTENT_SHADOW, true, "esp" },
		{ 65 * MIB, 1 * MIB, VM_EXTENT_SHADOW, true, "bios-boot" },
		{ 66 * MIB, 200 * MIB, VM_EXTENT_SHADOW, false, "other" },
		{ 266 * MIB, 200 * MIB, VM_EXTENT_DISK, false, "guest" },
		{ 466 * MIB, 1 * MIB, VM_EXTENT_SHADOW, true, "table" },
		{ 467 * MIB, 132 * MIB, VM_EXTENT_SHADOW, false, "free" },
		{ 599 * MIB, 1 * MIB, VM_EXTENT_SHADOW, true, "table" },
	};

	assert_int_equal(vm_disk_view_plan(layout, 4, 4, 600 * MIB, &e, &n, &err), 0);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(e[i].start, want[i].start);
		assert_int_equal(e[i].size, want[i].size);
		assert_int_equal(e[i].src, want[i].src);
		assert_int_equal(e[i].copy, want[i].copy);
		assert_string_equal(e[i].what, want[i].what);
	}
	free(e);

	/* a guest with a separate /boot: both are live, the rest as before */
	{
		const unsigned live[] = { 4, 3 };

		assert_int_equal(vm_disk_view_plan_live(layout, 4, live, 2, 600 * MIB, &e, &n, &err), 0);
		assert_int_equal(n, sizeof(want) / sizeof(want[0]));
		assert_int_equal(e[3].src, VM_EXTENT_DISK);
		assert_int_equal(e[4].src, VM_EXTENT_DISK);
		assert_int_equal(e[1].src, VM_EXTENT_SHADOW);
		free(e);
		/* each must be there */
		assert_int_equal(vm_disk_view_plan_live(layout, 4, (const unsigned[]){ 4, 9 }, 2, 600 * MIB, &e, &n, &err),
				 -ENOENT);
		pb_err_clear(&err);
	}
}

static void test_vm_vmdk_descriptor_for_a_layout(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct strbuf sb = STRBUF_INIT;
	struct vm_extent *e = NULL;
	size_t n = 0;

	/* g1 as the guest: 600 MiB, all RW FLAT extents, shadow at the same offsets */
	assert_int_equal(vm_disk_view_plan(layout, 4, 3, 600 * MIB, &e, &n, &err), 0);
	vm_vmdk_descriptor(e, n, "/srv/disk.img", "/tmp/v/shadow.img", &sb);
	assert_string_equal(sb.buf,
			    "# Disk DescriptorFile\n"
			    "# partboot whole-disk view: the guest's partition is live, the rest is a private\n"
			    "# shadow copy (see docs/vm.md). Every extent is RW: QEMU skips RDONLY ones.\n"
			    "version=1\n"
			    "CID=fffffffe\n"
			    "parentCID=ffffffff\n"
			    "createType=\"monolithicFlat\"\n"
			    "\n"
			    "# Extent description\n"
			    "RW 2048 FLAT \"/tmp/v/shadow.img\" 0\n"
			    "RW 131072 FLAT \"/tmp/v/shadow.img\" 2048\n"
			    "RW 2048 FLAT \"/tmp/v/shadow.img\" 133120\n"
			    "RW 409600 FLAT \"/srv/disk.img\" 135168\n"
			    "RW 409600 FLAT \"/tmp/v/shadow.img\" 544768\n"
			    "RW 2048 FLAT \"/tmp/v/shadow.img\" 954368\n"
			    "RW 270336 FLAT \"/tmp/v/shadow.img\" 956416\n"
			    "RW 2048 FLAT \"/tmp/v/shadow.img\" 1226752\n"
			    "\n"
			    "# The Disk Data Base\n"
			    "ddb.virtualHWVersion = \"4\"\n"
			    "ddb.adapterType = \"ide\"\n");
	strbuf_release(&sb);

	/* for libvirt: one shadow file per extent, beside the descriptor, each from its own start */
	vm_vmdk_descriptor(e, n, "/srv/disk.img", NULL, &sb);
	assert_non_null(strstr(sb.buf, "# Extent description\n"
				       "RW 2048 FLAT \"shadow-0.img\" 0\n"
				       "RW 131072 FLAT \"shadow-1.img\" 0\n"
				       "RW 2048 FLAT \"shadow-2.img\" 0\n"
				       "RW 409600 FLAT \"/srv/disk.img\" 135168\n"
				       "RW 409600 FLAT \"shadow-4.img\" 0\n"
				       "RW 2048 FLAT \"shadow-5.img\" 0\n"
				       "RW 270336 FLAT \"shadow-6.img\" 0\n"
				       "RW 2048 FLAT \"shadow-7.img\" 0\n\n"));
	strbuf_release(&sb);
	free(e);
}

static void test_vm_disk_view_refuses_bad_layouts(void **state)
{
	struct part_info bad[2] = { layout[0], layout[0] };
	struct pb_err err = PB_ERR_INIT;
	struct vm_extent *e = NULL;
	size_t n = 0;

	bad[1].partno = 2; /* overlaps the first */
	assert_int_equal(vm_disk_view_plan(bad, 2, 1, 600 * MIB, &e, &n, &err), -EINVAL);
	assert_int_equal(vm_disk_view_plan(layout, 4, 9, 600 * MIB, &e, &n, &err), -ENOENT);
	assert_int_equal(vm_disk_view_plan(layout, 4, 1, 100 * MIB, &e, &n, &err), -EINVAL); /* past the end */
	assert_int_equal(vm_disk_view_plan(layout, 4, 1, 600 * MIB + 1, &e, &n, &err), -EINVAL);
	assert_null(e);
	pb_err_clear(&err);
}

static void test_vm_accel_choice_from_facts(void **state)
{
	struct vm_accel_facts pvm = { .kvm_dev = true, .kvm_pvm = true, .cpu_virt = false };
	struct vm_accel_facts real = { .kvm_dev = true, .kvm_pvm = false, .cpu_virt = true };
	struct vm_accel_facts nested_novirt = { .kvm_dev = true, .kvm_pvm = false, .cpu_virt = false };
	struct vm_accel_facts none = { 0 };
	const char *why = "unset";

	assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, &pvm, &why), VM_ACCEL_TCG);
	assert_non_null(strstr(why, "kvm_pvm"));
	assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, &real, &why), VM_ACCEL_KVM);
	assert_null(why);
	assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, &nested_novirt, &why), VM_ACCEL_TCG);
	assert_non_null(strstr(why, "vmx"));
	assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, &none, &why), VM_ACCEL_TCG);
	/* forced choices are obeyed, without a warning */
	assert_int_equal(vm_accel_choose(VM_ACCEL_KVM, &pvm, &why), VM_ACCEL_KVM);
	assert_null(why);
	assert_int_equal(vm_accel_choose(VM_ACCEL_TCG, &real, &why), VM_ACCEL_TCG);
	assert_null(why);
}

static void test_vm_argv_cloud_init_seed_and_ssh_port(void **state)
{
	struct vm_opts o = { .cidata_disk = "/tmp/v,1/cidata.iso", .net = VM_NET_USER, .ssh_port = 2222 };
	struct vm_guest g = direct_guest;
	char **argv = build(&o, &g, VM_ACCEL_TCG, 3);

	/* the guest's partition first (vda), the seed after it, read-only, found by its label */
	assert_non_null(strstr(arg_after(argv, "-drive", 0), "id=disk0"));
	assert_string_equal(arg_after(argv, "-drive", 1), "if=none,id=cidata,format=raw,readonly=on,"
							   "file.driver=file,file.filename=/tmp/v,,1/cidata.iso");
	assert_string_equal(arg_after(argv, "-device", 1), "virtio-blk-device,drive=cidata");
	/* the forward binds the host's loopback only */
	assert_string_equal(arg_after(argv, "-netdev", 0), "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22");
	vm_strv_free(argv);
}

static void test_vm_argv_installer_cdrom_and_answers_disk(void **state)
{
	struct vm_opts o = { .mode = VM_MODE_BIOS, .cdrom = "/srv/debian,12.iso", .answers_disk = "/tmp/v/answers.img" };
	struct vm_guest g = view_guest;
	char **argv = build(&o, &g, VM_ACCEL_TCG, 3);

	/* the view first (vda), then the CD-ROM, then the answers disk (the last virtio disk, vdb) */
	assert_non_null(strstr(arg_after(argv, "-drive", 0), "format=vmdk"));
	assert_string_equal(arg_after(argv, "-drive", 1), "if=none,id=cd0,media=cdrom,readonly=on,format=raw,"
							   "file.driver=file,file.filename=/srv/debian,,12.iso");
	assert_string_equal(arg_after(argv, "-device", 1), "ide-cd,drive=cd0,bus=ide.0,bootindex=0");
	assert_string_equal(arg_after(argv, "-drive", 2), "if=none,id=answers,format=raw,readonly=on,"
							   "file.driver=file,file.filename=/tmp/v/answers.img");
	assert_string_equal(arg_after(argv, "-device", 2), "virtio-blk-pci,drive=answers");
	assert_null(arg_after(argv, "-netdev", 0)); /* no network unless asked */
	vm_strv_free(argv);

	/* an optical drive goes through QEMU's host_cdrom driver */
	g.cdrom_blockdev = true;
	o = (struct vm_opts){ .mode = VM_MODE_UEFI, .cdrom = "/dev/sr0" };
	argv = build(&o, &g, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-drive", 3), "if=none,id=cd0,media=cdrom,readonly=on,format=raw,"
							   "file.driver=host_cdrom,file.filename=/dev/sr0");
	vm_strv_free(argv);
}

static void test_vm_argv_installer_pxe(void **state)
{
	struct vm_opts o = { .mode = VM_MODE_BIOS, .tftp_dir = "/srv/tftp", .tftp_bootfile = "boot.ipxe" };
	char **argv = build(&o, &view_guest, VM_ACCEL_TCG, 3);

	assert_string_equal(arg_after(argv, "-netdev", 0), "user,id=net0,tftp=/srv/tftp,bootfile=boot.ipxe");
	assert_true(has_arg(argv, "virtio-net-pci,netdev=net0,bootindex=0"));
	assert_true(has_arg(argv, "virtio-blk-pci,drive=disk0,bootindex=1"));
	assert_null(arg_after(argv, "-drive", 1));
	vm_strv_free(argv);

	/* with an SSH forward too, one netdev carries both */
	o.ssh_port = 2222;
	o.net = VM_NET_USER;
	argv = build(&o, &view_guest, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-netdev", 0),
			    "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,tftp=/srv/tftp,bootfile=boot.ipxe");
	assert_null(arg_after(argv, "-netdev", 1));
	vm_strv_free(argv);
}

static void test_vm_argv_installer_pxe_url(void **state)
{
	/* pxe:URL: no tftp=, the DHCP bootfile is the URL iPXE fetches itself */
	struct vm_opts o = { .mode = VM_MODE_BIOS, .tftp_bootfile = "http://10.0.2.2:8000/srv/boot.ipxe" };
	char **argv = build(&o, &view_guest, VM_ACCEL_TCG, 3);

	assert_string_equal(arg_after(argv, "-netdev", 0), "user,id=net0,bootfile=http://10.0.2.2:8000/srv/boot.ipxe");
	assert_true(has_arg(argv, "virtio-net-pci,netdev=net0,bootindex=0"));
	assert_true(has_arg(argv, "virtio-blk-pci,drive=disk0,bootindex=1"));
	assert_null(arg_after(argv, "-netdev", 1));
	vm_strv_free(argv);

	/* a comma in the URL is doubled for QEMU's option parser */
	o.tftp_bootfile = "tftp://10.0.2.2/a,b/pxelinux.0";
	o.mode = VM_MODE_UEFI;
	argv = build(&o, &view_guest, VM_ACCEL_TCG, 3);
	assert_string_equal(arg_after(argv, "-netdev", 0), "user,id=net0,bootfile=tftp://10.0.2.2/a,,b/pxelinux.0");
	vm_strv_free(argv);
}

static void test_vm_argv_installer_refusals(void **state)
{
	struct vm_run_ctx c = { .accel = VM_ACCEL_TCG, .qmp_fd = -1 };
	struct pb_err err = PB_ERR_INIT;
	struct vm_opts o = { .mode = VM_MODE_DIRECT, .cdrom = "/srv/x.iso" };
	char **argv = NULL;

	assert_int_equal(vm_argv_build(&o, &direct_guest, &c, &argv, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "firmware mode"));
	o = (struct vm_opts){ .mode = VM_MODE_BIOS, .cdrom = "/srv/x.iso", .tftp_dir = "/srv/t",
			      .tftp_bootfile = "b" };
	assert_int_equal(vm_argv_build(&o, &view_guest, &c, &argv, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "not both"));
	o = (struct vm_opts){ .mode = VM_MODE_BIOS, .tftp_dir = "/srv/t" };
	assert_int_equal(vm_argv_build(&o, &view_guest, &c, &argv, &err), -EINVAL);
	assert_null(argv);
	o = (struct vm_opts){ .mode = VM_MODE_BIOS, .cdrom = "/srv/x.iso", .tftp_bootfile = "http://10.0.2.2/b" };
	assert_int_equal(vm_argv_build(&o, &view_guest, &c, &argv, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "not both"));
	o = (struct vm_opts){ .mode = VM_MODE_DIRECT, .tftp_bootfile = "http://10.0.2.2/b" };
	assert_int_equal(vm_argv_build(&o, &direct_guest, &c, &argv, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "firmware mode"));
	assert_null(argv);
	pb_err_clear(&err);
}

static void write_file(const char *path, const void *data, size_t len, off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, at), (ssize_t)len);
	close(fd);
}

static void test_vm_install_check_source(void **state)
{
	char dir[] = "/tmp/partboot-test-vm.XXXXXX";
	char path[256], path2[256];
	struct pb_err err = PB_ERR_INIT;
	enum vm_install_medium m;
	char *bootfile = NULL;

	assert_non_null(mkdtemp(dir));
	/* ISO 9660: "\1CD001" at byte 32768 (sector 16 of 2048 bytes) */
	snprintf(path, sizeof(path), "%s/good.iso", dir);
	write_file(path, "\001CD001\001", 7, 32768);
	assert_int_equal(vm_install_check_source(path, NULL, VM_MODE_BIOS, &m, &bootfile, &err), 0);
	assert_int_equal(m, VM_INSTALL_CDROM);
	assert_null(bootfile);

	snprintf(path, sizeof(path), "%s/bad.iso", dir);
	write_file(path, "not an iso", 10, 0);
	assert_int_equal(vm_install_check_source(path, NULL, VM_MODE_BIOS, &m, &bootfile, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "bad.iso: not an ISO9660 image"));
	assert_int_equal(vm_install_check_source("/nonexistent.iso", NULL, VM_MODE_BIOS, &m, &bootfile, &err),
			 -ENOENT);

	/* PXE: boot.ipxe first; else pxelinux.0 (bios) or bootx64.efi (uefi) */
	snprintf(path, sizeof(path), "pxe:%s", dir);
	assert_int_equal(vm_install_check_source(path, NULL, VM_MODE_BIOS, &m, &bootfile, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "no PXE boot file (looked for boot.ipxe, pxelinux.0)"));
	snprintf(path2, sizeof(path2), "%s/bootx64.efi", dir);
	write_file(path2, "x", 1, 0);
	assert_int_equal(vm_install_check_source(path, NULL, VM_MODE_BIOS, &m, &bootfile, &err), -ENOENT);
	assert_int_equal(vm_install_check_source(path, NULL, VM_MODE_UEFI, &m, &bootfile, &err), 0);
	assert_int_equal(m, VM_INSTALL_PXE);
	assert_string_equal(bootfile, "bootx64.efi");
	free(bootfile);
	bootfile = NULL;
	snprintf(path2, sizeof(path2), "%s/boot.ipxe", dir);
	write_file(path2, "#!ipxe\n", 7, 0);
	assert_int_equal(vm_install_check_source(path, NULL, VM_MODE_UEFI, &m, &bootfile, &err), 0);
	assert_string_equal(bootfile, "boot.ipxe");
	free(bootfile);
	bootfile = NULL;

	/* the answers file: a regular file of at most 1 MiB */
	snprintf(path2, sizeof(path2), "%s/boot.ipxe", dir);
	assert_int_equal(vm_install_check_source(path, path2, VM_MODE_BIOS, &m, &bootfile, &err), 0);
	free(bootfile);
	bootfile = NULL;
	assert_int_equal(vm_install_check_source(path, dir, VM_MODE_BIOS, &m, &bootfile, &err), -EINVAL);
	snprintf(path2, sizeof(path2), "%s/big", dir);
	write_file(path2, "x", 1, 1024 * 1024);
	assert_int_equal(vm_install_check_source(path, path2, VM_MODE_BIOS, &m, &bootfile, &err), -EFBIG);
	assert_null(bootfile);

	pb_err_clear(&err);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/*
 * A one-process HTTP and TFTP server on 127.0.0.1 for the pxe:URL probe: it
 * has /srv/boot.ipxe and nothing else (HTTP 404, TFTP error 1). Runs in a
 * child until killed; *ret_port gets the port (the same for TCP and UDP).
 */
static pid_t fake_pxe_server(unsigned *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int tcp = socket(AF_INET, SOCK_STREAM, 0), udp = socket(AF_INET, SOCK_DGRAM, 0);
	pid_t pid;

	assert_true(tcp >= 0 && udp >= 0);
	assert_int_equal(bind(tcp, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(tcp, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(bind(udp, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(tcp, 8), 0);
	*ret_port = ntohs(a.sin_port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(tcp);
		close(udp);
		return pid;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = tcp, .events = POLLIN }, { .fd = udp, .events = POLLIN } };
		char buf[1024];
		ssize_t n;

		if (poll(p, 2, -1) < 0)
			_exit(1);
		if (p[0].revents) {
			int c = accept(tcp, NULL, NULL);
			const char *reply;

			if (c < 0)
				continue;
			n = recv(c, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			reply = !strncmp(buf, "GET /srv/boot.ipxe ", 19) ? "HTTP/1.0 200 OK\r\n\r\n#!ipxe\n"
									   : "HTTP/1.0 404 Not Found\r\n\r\n";
			(void)!write(c, reply, strlen(reply));
			close(c);
		}
		if (p[1].revents) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			static const unsigned char data[] = { 0, 3, 0, 1, '#', '!' };
			static const unsigned char nf[] = { 0, 5, 0, 1, 'n', 'o', 't', ' ', 'f', 'o', 'u', 'n', 'd', 0 };

			n = recvfrom(udp, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
			if (n < 4 || buf[1] != 1)
				continue; /* only read requests; the probe's ERROR that stops a transfer is dropped */
			buf[n] = '\0';
			if (!strcmp(buf + 2, "srv/boot.ipxe"))
				(void)!sendto(udp, data, sizeof(data), 0, (struct sockaddr *)&from, fl);
			else
				(void)!sendto(udp, nf, sizeof(nf), 0, (struct sockaddr *)&from, fl);
		}
	}
}

static void test_vm_install_check_source_url(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct pb_err err = PB_ERR_INIT;
	enum vm_install_medium m;
	char *bootfile = NULL;
	char url[128], want[128];
	unsigned port;
	pid_t pid;
	int fd;

	/* refused from the text alone */
	assert_int_equal(vm_install_check_source("pxe:ftp://h/", NULL, VM_MODE_BIOS, &m, &bootfile, &err), -EOPNOTSUPP);
	assert_non_null(strstr(pb_err_msg(&err), "pxe:ftp://h/: only http:// and tftp:// URLs are supported"));
	assert_int_equal(vm_install_check_source("pxe:http://", NULL, VM_MODE_BIOS, &m, &bootfile, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "names no host"));
	assert_int_equal(vm_install_check_source("pxe:http://h:0/", NULL, VM_MODE_BIOS, &m, &bootfile, &err), -EINVAL);
	assert_int_equal(vm_install_check_source("pxe:http://h:99999/", NULL, VM_MODE_BIOS, &m, &bootfile, &err),
			 -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "'99999' is not a port number"));
	assert_int_equal(vm_install_check_source("pxe:http://h:/", NULL, VM_MODE_BIOS, &m, &bootfile, &err), -EINVAL);
	assert_int_equal(vm_install_check_source("pxe:http://[::1]/", NULL, VM_MODE_BIOS, &m, &bootfile, &err),
			 -EOPNOTSUPP);
	assert_int_equal(vm_install_check_source("pxe:http://127.0.0.2/", NULL, VM_MODE_BIOS, &m, &bootfile, &err),
			 -EINVAL);
	assert_int_equal(vm_install_check_source("pxe:http://h/a b", NULL, VM_MODE_BIOS, &m, &bootfile, &err), -EINVAL);
	assert_int_equal(vm_install_check_source("pxe:http://u@h/", NULL, VM_MODE_BIOS, &m, &bootfile, &err), -EINVAL);
	assert_null(bootfile);

	/* nobody listening: a bound TCP socket that does not listen refuses connections */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(url, sizeof(url), "pxe:http://127.0.0.1:%u/", ntohs(a.sin_port));
	assert_int_equal(vm_install_check_source(url, NULL, VM_MODE_BIOS, &m, &bootfile, &err), -ECONNREFUSED);
	assert_non_null(strstr(pb_err_msg(&err), "/boot.ipxe: cannot connect: Connection refused"));
	close(fd);

	pid = fake_pxe_server(&port);
	/* a root: boot.ipxe found; 127.0.0.1 becomes 10.0.2.2 for the VM */
	snprintf(url, sizeof(url), "pxe:http://127.0.0.1:%u/srv/", port);
	assert_int_equal(vm_install_check_source(url, NULL, VM_MODE_BIOS, &m, &bootfile, &err), 0);
	assert_int_equal(m, VM_INSTALL_PXE_URL);
	snprintf(want, sizeof(want), "http://10.0.2.2:%u/srv/boot.ipxe", port);
	assert_string_equal(bootfile, want);
	free(bootfile);
	bootfile = NULL;
	/* the boot file named; localhost too */
	snprintf(url, sizeof(url), "pxe:http://localhost:%u/srv/boot.ipxe", port);
	assert_int_equal(vm_install_check_source(url, NULL, VM_MODE_UEFI, &m, &bootfile, &err), 0);
	assert_string_equal(bootfile, want);
	free(bootfile);
	bootfile = NULL;
	/* missing: every candidate and its status named */
	snprintf(url, sizeof(url), "pxe:http://127.0.0.1:%u/none/", port);
	assert_int_equal(vm_install_check_source(url, NULL, VM_MODE_UEFI, &m, &bootfile, &err), -ENOENT);
	snprintf(want, sizeof(want), "http://127.0.0.1:%u/none/: no PXE boot file (looked for boot.ipxe (HTTP 404), "
		 "bootx64.efi (HTTP 404))", port);
	assert_string_equal(pb_err_msg(&err), want);
	snprintf(url, sizeof(url), "pxe:http://127.0.0.1:%u/srv/gone.ipxe", port);
	assert_int_equal(vm_install_check_source(url, NULL, VM_MODE_BIOS, &m, &bootfile, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "/srv/gone.ipxe: no PXE boot file there (HTTP 404)"));

	/* TFTP: a read request answered with DATA, or with an ERROR */
	snprintf(url, sizeof(url), "pxe:tftp://127.0.0.1:%u/srv/", port);
	assert_int_equal(vm_install_check_source(url, NULL, VM_MODE_BIOS, &m, &bootfile, &err), 0);
	snprintf(want, sizeof(want), "tftp://10.0.2.2:%u/srv/boot.ipxe", port);
	assert_string_equal(bootfile, want);
	free(bootfile);
	bootfile = NULL;
	snprintf(url, sizeof(url), "pxe:tftp://127.0.0.1:%u/none/", port);
	assert_int_equal(vm_install_check_source(url, NULL, VM_MODE_BIOS, &m, &bootfile, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "no PXE boot file (looked for boot.ipxe (TFTP error 1: not found), "
				"pxelinux.0 (TFTP error 1: not found))"));
	assert_null(bootfile);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	pb_err_clear(&err);
}


static void test_vm_argv_each_machine_and_controller(void **state)
{
	static const struct {
		enum vm_machine m;
		enum vm_disk_bus b;
		const char *machine, *disk0, *disk1;
	} cases[] = {
		{ VM_MACHINE_Q35, VM_DISK_BUS_VIRTIO, "q35", "virtio-blk-pci,drive=disk0,bootindex=1", "virtio-blk-pci,drive=disk1" },
		{ VM_MACHINE_Q35, VM_DISK_BUS_NVME, "q35", "nvme,drive=disk0,serial=partboot0,bootindex=1",
		  "nvme,drive=disk1,serial=partboot1" },
		{ VM_MACHINE_Q35, VM_DISK_BUS_AHCI, "q35", "ide-hd,drive=disk0,bus=ide.0,bootindex=1", "ide-hd,drive=disk1,bus=ide.1" },
		{ VM_MACHINE_PC, VM_DISK_BUS_IDE, "pc", "ide-hd,drive=disk0,bus=ide.0,bootindex=1", "ide-hd,drive=disk1,bus=ide.1" },
		{ VM_MACHINE_MICROVM, VM_DISK_BUS_VIRTIO, "microvm,x-option-roms=off,isa-serial=on,acpi=on",
		  "virtio-blk-device,drive=disk0", "virtio-blk-device,drive=disk1" },
	};
	struct vm_run_ctx c = { .accel = VM_ACCEL_TCG, .qmp_fd = -1 };
	struct pb_err err = PB_ERR_INIT;
	char **argv = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vm_guest g = direct_guest;
		struct vm_opts o = { .net = VM_NET_USER };

		g.machine = cases[i].m;
		g.bus = cases[i].b;
		/* a separate /boot: the second disk, on the same controller */
		g.boot_start = 300 * MIB;
		g.boot_size = 40 * MIB;
		g.nic = cases[i].m == VM_MACHINE_MICROVM ? VM_NIC_VIRTIO : VM_NIC_E1000;
		argv = build(&o, &g, VM_ACCEL_TCG, -1);
		assert_string_equal(arg_after(argv, "-machine", 0), cases[i].machine);
		assert_string_equal(arg_after(argv, "-device", 0), cases[i].disk0);
		assert_string_equal(arg_after(argv, "-drive", 1),
				    "if=none,id=disk1,format=raw,offset=314572800,size=41943040,file.driver=file,"
				    "file.filename=/srv/disk.img,file.locking=off,cache=writeback");
		assert_string_equal(arg_after(argv, "-device", 1), cases[i].disk1);
		assert_true(has_arg(argv, cases[i].m == VM_MACHINE_MICROVM ? "virtio-net-device,netdev=net0" : "e1000,netdev=net0"));
		vm_strv_free(argv);
	}
	/* a controller the machine does not have */
	{
		struct vm_guest g = direct_guest;
		struct vm_opts o = { 0 };

		g.machine = VM_MACHINE_Q35;
		g.bus = VM_DISK_BUS_IDE;
		assert_int_equal(vm_argv_build(&o, &g, &c, &argv, &err), -EINVAL);
		g.machine = VM_MACHINE_MICROVM;
		g.bus = VM_DISK_BUS_NVME;
		assert_int_equal(vm_argv_build(&o, &g, &c, &argv, &err), -EINVAL);
	}
	pb_err_clear(&err);
}

/* ---- the hardware choice, as data (hw.c) ---------------------------------------------------- */

/* Facts with the drivers named (in the initramfs), config read. */
static struct vm_hw_facts facts_with(const char *modules)
{
	struct vm_hw_facts f = { .inspected = true, .builtin_known = true, .initrd = true };
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", modules);
	for (char *m = strtok_r(buf, " ", &save); m; m = strtok_r(NULL, " ", &save)) {
		enum vm_driver d;

		assert_int_equal(vm_driver_from_module(m, strlen(m), &d), 0);
		vm_hw_facts_add(&f, d, VM_DRIVER_INITRD);
	}
	return f;
}

static int pick(const struct vm_hw_facts *f, const struct vm_hw_want *w, enum vm_machine *m, enum vm_disk_bus *b,
		char *why, size_t len)
{
	struct vm_hw_choice c = VM_HW_CHOICE_INIT;
	struct pb_err err = PB_ERR_INIT;
	int r = vm_hw_choose(f, w, &c, &err);

	*m = c.machine;
	*b = c.bus;
	snprintf(why, len, "%s%s%s", r < 0 ? pb_err_msg(&err) : c.why.buf, c.warning.len ? " WARN " : "",
		 c.warning.buf);
	vm_hw_choice_release(&c);
	pb_err_clear(&err);
	return r;
}

static void test_vm_hw_choose_from_what_the_guest_holds(void **state)
{
	static const struct {
		const char *modules;
		enum vm_mode mode;
		enum vm_machine machine;
		enum vm_disk_bus bus;
		const char *why; /* in the reason */
	} cases[] = {
		/* Debian's MODULES=most: everything, the fastest wins */
		{ "virtio_mmio virtio_pci virtio_blk nvme ahci sd_mod ata_piix", VM_MODE_DIRECT, VM_MACHINE_MICROVM,
		  VM_DISK_BUS_VIRTIO, "-> microvm, virtio-mmio disk" },
		/* firmware mode: no microvm */
		{ "virtio_mmio virtio_pci virtio_blk", VM_MODE_BIOS, VM_MACHINE_Q35, VM_DISK_BUS_VIRTIO, "virtio-blk-pci" },
		/* the first guest: virtio_pci but no virtio_mmio */
		{ "virtio_pci virtio_blk ahci nvme sd_mod", VM_MODE_DIRECT, VM_MACHINE_Q35, VM_DISK_BUS_VIRTIO,
		  "(not microvm: no virtio_mmio)" },
		{ "nvme ahci sd_mod", VM_MODE_DIRECT, VM_MACHINE_Q35, VM_DISK_BUS_NVME, "not virtio-blk-pci: no virtio_pci, virtio_blk" },
		/* a host-only PC initramfs */
		{ "ahci sd_mod", VM_MODE_DIRECT, VM_MACHINE_Q35, VM_DISK_BUS_AHCI, "in the initramfs: ahci, sd_mod" },
		{ "ahci sd_mod", VM_MODE_UEFI, VM_MACHINE_Q35, VM_DISK_BUS_AHCI, "AHCI (SATA)" },
		/* AHCI without sd_mod cannot show a disk */
		{ "ahci ata_piix sd_mod", VM_MODE_DIRECT, VM_MACHINE_Q35, VM_DISK_BUS_AHCI, "" },
		{ "ata_piix sd_mod", VM_MODE_BIOS, VM_MACHINE_PC, VM_DISK_BUS_IDE, "-> pc, PIIX IDE disk" },
		{ "virtio_blk ahci", VM_MODE_DIRECT, VM_MACHINE_AUTO, VM_DISK_BUS_AUTO, "none of virtio_mmio" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vm_hw_facts f = facts_with(cases[i].modules);
		struct vm_hw_want w = { .mode = cases[i].mode, .kernel = "6.1.0-57-amd64" };
		enum vm_machine m;
		enum vm_disk_bus b;
		char why[1024];
		int r = pick(&f, &w, &m, &b, why, sizeof(why));

		if (cases[i].machine == VM_MACHINE_AUTO) {
			/* nothing fits and the config says nothing is built in: refused, naming what was looked for */
			assert_int_equal(r, -ENODEV);
			assert_non_null(strstr(why, "kernel 6.1.0-57-amd64 can reach no disk"));
			assert_non_null(strstr(why, "ahci + sd_mod"));
		} else {
			assert_int_equal(r, 0);
			if (m != cases[i].machine || b != cases[i].bus)
				fail_msg("case %zu (%s): %s", i, cases[i].modules, why);
		}
		if (!strstr(why, cases[i].why))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].why, why);
	}
}

static void test_vm_hw_choose_builtin_unknown_and_forced(void **state)
{
	static const char config[] = "# CONFIG_VIRTIO_MMIO is not set\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=y\n"
				     "CONFIG_SATA_AHCI=m\nCONFIG_ATA_PIIX=y";
	static const char builtin[] = "kernel/drivers/virtio/virtio_mmio.ko\nkernel/drivers/block/virtio_blk.ko\n";
	struct vm_hw_facts f = facts_with("");
	struct vm_hw_want w = { .mode = VM_MODE_DIRECT, .kernel = "6.9" };
	enum vm_machine m;
	enum vm_disk_bus b;
	char why[1024];

	/* built-in drivers (=y) from the config count as much as modules in the initramfs */
	vm_hw_facts_config(&f, config, strlen(config));
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), 0);
	assert_int_equal(m, VM_MACHINE_Q35);
	assert_int_equal(b, VM_DISK_BUS_VIRTIO);
	assert_non_null(strstr(why, "built in: virtio_pci, virtio_blk, ata_piix;")); /* =y at the end, no newline */
	assert_int_equal(f.drivers[VM_DRIVER_AHCI], VM_DRIVER_ABSENT);           /* =m: only a module counts */
	/* and so does modules.builtin */
	f = facts_with("");
	vm_hw_facts_builtin(&f, builtin, strlen(builtin));
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), 0);
	assert_int_equal(m, VM_MACHINE_MICROVM);

	/* nothing says what is built in, nothing in the initramfs: the fastest, with a warning */
	f = facts_with("");
	f.builtin_known = false;
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), 0);
	assert_int_equal(m, VM_MACHINE_MICROVM);
	assert_non_null(strstr(why, "WARN cannot tell which disk drivers kernel 6.9 has"));
	/* not inspected at all (firmware mode on a filesystem partboot cannot read): the default */
	f = (struct vm_hw_facts){ 0 };
	w.mode = VM_MODE_BIOS;
	w.why_not = "its filesystem cannot be read";
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), 0);
	assert_int_equal(m, VM_MACHINE_Q35);
	assert_int_equal(b, VM_DISK_BUS_VIRTIO);
	assert_non_null(strstr(why, "not inspected (its filesystem cannot be read)"));

	/* what the user forces is obeyed, with a warning naming the missing drivers */
	f = facts_with("ahci sd_mod");
	w = (struct vm_hw_want){ .mode = VM_MODE_DIRECT, .bus = VM_DISK_BUS_NVME };
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), 0);
	assert_int_equal(b, VM_DISK_BUS_NVME);
	assert_int_equal(m, VM_MACHINE_Q35);
	assert_non_null(strstr(why, "WARN q35, NVMe disk as asked, but the guest's kernel shows no nvme"));
	w = (struct vm_hw_want){ .mode = VM_MODE_DIRECT, .machine = VM_MACHINE_PC };
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), 0);
	assert_int_equal(b, VM_DISK_BUS_VIRTIO); /* pc has no AHCI; its first fit is obeyed with a warning */
	/* and combinations that cannot exist are refused */
	w = (struct vm_hw_want){ .mode = VM_MODE_DIRECT, .machine = VM_MACHINE_MICROVM, .bus = VM_DISK_BUS_AHCI };
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), -EINVAL);
	w = (struct vm_hw_want){ .mode = VM_MODE_BIOS, .machine = VM_MACHINE_Q35, .bus = VM_DISK_BUS_IDE };
	assert_int_equal(pick(&f, &w, &m, &b, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "the q35 machine has no ide disk controller"));
}

static void test_vm_hw_choose_network_and_libvirt(void **state)
{
	struct vm_hw_facts f = facts_with("virtio_mmio virtio_blk virtio_pci nvme");
	struct vm_hw_want w = { .mode = VM_MODE_DIRECT, .net = true };
	struct vm_hw_choice c = VM_HW_CHOICE_INIT;
	struct pb_err err = PB_ERR_INIT;

	/* no virtio_net anywhere: microvm (no PCI for an e1000) is passed over for the network's sake */
	assert_int_equal(vm_hw_choose(&f, &w, &c, &err), 0);
	assert_int_equal(c.machine, VM_MACHINE_Q35);
	assert_int_equal(c.nic, VM_NIC_E1000);
	assert_non_null(strstr(c.why.buf, "not microvm: no virtio_net"));
	vm_hw_choice_release(&c);
	/* virtio_net in the root's /lib/modules is enough: it loads after the root is mounted */
	vm_hw_facts_add(&f, VM_DRIVER_VIRTIO_NET, VM_DRIVER_ROOTFS);
	c = (struct vm_hw_choice)VM_HW_CHOICE_INIT;
	assert_int_equal(vm_hw_choose(&f, &w, &c, &err), 0);
	assert_int_equal(c.machine, VM_MACHINE_MICROVM);
	assert_int_equal(c.nic, VM_NIC_VIRTIO);
	vm_hw_choice_release(&c);
	/* a module in the root does not count for the disk: it is needed before the root is there */
	f = facts_with("");
	vm_hw_facts_add(&f, VM_DRIVER_AHCI, VM_DRIVER_ROOTFS);
	vm_hw_facts_add(&f, VM_DRIVER_SD_MOD, VM_DRIVER_ROOTFS);
	c = (struct vm_hw_choice)VM_HW_CHOICE_INIT;
	assert_int_equal(vm_hw_choose(&f, &w, &c, &err), -ENODEV);
	vm_hw_choice_release(&c);
	/* libvirt: no microvm, no NVMe disks (libvirt 9) */
	f = facts_with("virtio_mmio virtio_blk nvme ahci sd_mod");
	w = (struct vm_hw_want){ .mode = VM_MODE_DIRECT, .libvirt = true };
	c = (struct vm_hw_choice)VM_HW_CHOICE_INIT;
	assert_int_equal(vm_hw_choose(&f, &w, &c, &err), 0);
	assert_int_equal(c.machine, VM_MACHINE_Q35);
	assert_int_equal(c.bus, VM_DISK_BUS_AHCI);
	vm_hw_choice_release(&c);
	pb_err_clear(&err);
}

static void test_vm_driver_names(void **state)
{
	enum vm_driver d;

	assert_int_equal(vm_driver_from_module("sd-mod.ko.xz", 12, &d), 0);
	assert_int_equal(d, VM_DRIVER_SD_MOD);
	assert_int_equal(vm_driver_from_module("virtio_mmio.ko.zst", 18, &d), 0);
	assert_int_equal(d, VM_DRIVER_VIRTIO_MMIO);
	assert_int_equal(vm_driver_from_module("ahci.ko.gz", 10, &d), 0);
	assert_int_equal(vm_driver_from_module("libahci.ko", 10, &d), -ENOENT);
	assert_string_equal(vm_driver_name(VM_DRIVER_ATA_PIIX), "ata_piix");
	assert_string_equal(vm_machine_to_string(VM_MACHINE_PC), "pc");
	assert_string_equal(vm_disk_bus_to_string(VM_DISK_BUS_AHCI), "ahci");
}

/* ---- initramfs segments (initramfs.c), archives made with libarchive's writer ------------------- */

struct membuf {
	char *data;
	size_t len;
};

static la_ssize_t mem_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
	struct membuf *m = userdata;

	m->data = realloc(m->data, m->len + n);
	assert_non_null(m->data);
	memcpy(m->data + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

/* A newc cpio with files paths[] (NULL-terminated; "PATH=DATA" gives a content), compressed with filter. */
static void cpio_append(struct membuf *m, int filter, const char *const *paths)
{
	struct archive *a = archive_write_new();

	assert_int_equal(archive_write_set_format_cpio_newc(a), ARCHIVE_OK);
	if (filter != ARCHIVE_FILTER_NONE)
		assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	if (filter == ARCHIVE_FILTER_LZ4)
		archive_write_set_filter_option(a, NULL, "lz4:block-size", "4"); /* small, as tests go */
	archive_write_set_bytes_per_block(a, 0);
	assert_int_equal(archive_write_open(a, m, NULL, mem_write, NULL), ARCHIVE_OK);
	for (size_t i = 0; paths[i]; i++) {
		struct archive_entry *e = archive_entry_new();
		const char *eq = strchr(paths[i], '=');
		char path[256];
		const char *data = eq ? eq + 1 : "x";

		snprintf(path, sizeof(path), "%.*s", eq ? (int)(eq - paths[i]) : (int)strlen(paths[i]), paths[i]);
		archive_entry_set_pathname(e, path);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)strlen(data));
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void test_vm_initramfs_every_segment_every_compression(void **state)
{
	static const char *const early[] = { "kernel/x86/microcode/GenuineIntel.bin", NULL };
	static const char *const early2[] = { "kernel/x86/microcode/AuthenticAMD.bin", "lib/modules/6.1.0-9/kernel/x/nvme.ko", NULL };
	static const char *const main_files[] = {
		"init", "usr/lib/modules/6.1.0-9/kernel/drivers/ata/ahci.ko.zst",
		"usr/lib/modules/6.1.0-9/kernel/drivers/scsi/sd_mod.ko.xz",
		/* another kernel's modules could not load: not counted */
		"usr/lib/modules/5.10.0-1/kernel/drivers/block/virtio_blk.ko",
		"usr/lib/modules/6.1.0-9/modules.builtin=kernel/drivers/virtio/virtio_pci.ko\n", NULL
	};
	static const struct {
		int filter;
		const char *name;
	} filters[] = {
		{ ARCHIVE_FILTER_NONE, "cpio + cpio + cpio" }, { ARCHIVE_FILTER_GZIP, "cpio + cpio + gzip cpio" },
		{ ARCHIVE_FILTER_XZ, "cpio + cpio + xz cpio" },   { ARCHIVE_FILTER_ZSTD, "cpio + cpio + zstd cpio" },
		{ ARCHIVE_FILTER_LZ4, "cpio + cpio + lz4 cpio" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(filters); i++) {
		struct membuf m = { 0 };
		struct vm_hw_facts f = { 0 };
		struct pb_err err = PB_ERR_INIT;

		/* two plain prefixes, NUL-padded to 512 as cpio -o pads them, then the main archive */
		cpio_append(&m, ARCHIVE_FILTER_NONE, early);
		cpio_append(&m, ARCHIVE_FILTER_NONE, early2);
		cpio_append(&m, filters[i].filter, main_files);
		if (vm_initramfs_scan(m.data, m.len, "6.1.0-9", &f, &err) < 0)
			fail_msg("%s: %s", filters[i].name, pb_err_msg(&err));
		assert_string_equal(f.segments, filters[i].name);
		assert_true(f.initrd);
		assert_int_equal(f.drivers[VM_DRIVER_NVME], VM_DRIVER_INITRD);    /* in the second plain segment */
		assert_int_equal(f.drivers[VM_DRIVER_AHCI], VM_DRIVER_INITRD);    /* .ko.zst */
		assert_int_equal(f.drivers[VM_DRIVER_SD_MOD], VM_DRIVER_INITRD);  /* .ko.xz */
		assert_int_equal(f.drivers[VM_DRIVER_VIRTIO_BLK], VM_DRIVER_ABSENT);
		assert_int_equal(f.drivers[VM_DRIVER_VIRTIO_PCI], VM_DRIVER_BUILTIN); /* its modules.builtin */
		assert_true(f.builtin_known);

		/* garbage after the segments is not an initramfs */
		if (filters[i].filter == ARCHIVE_FILTER_NONE) {
			m.data = realloc(m.data, m.len + 8);
			memcpy(m.data + m.len, "garbage!", 8);
			f = (struct vm_hw_facts){ 0 };
			assert_int_equal(vm_initramfs_scan(m.data, m.len + 8, "6.1.0-9", &f, &err), -EINVAL);
			assert_non_null(strstr(pb_err_msg(&err), "initramfs: at byte"));
		}
		/* a truncated segment is refused, never read past its end */
		f = (struct vm_hw_facts){ 0 };
		if (filters[i].filter == ARCHIVE_FILTER_NONE)
			assert_int_equal(vm_initramfs_scan(m.data, 300, "6.1.0-9", &f, &err), -EINVAL);
		free(m.data);
		pb_err_clear(&err);
	}
}

static void test_vm_console_screen_line(void **state)
{
	struct vm_console_screen s = { 0 };
	static const char dinst[] = "\x1b[0m\x1b[H\x1b[7m[ (1*installer) ]\r\n"
				    "Configuring the network with DHCP  ... 4%... 100%\r\n"
				    "\x1bk" "installer\x1b\\" "Installing the base system  ... 10%";
	char big[400];

	assert_string_equal(vm_console_line(&s), "");
	/* in pieces, an escape sequence cut in the middle */
	vm_console_feed(&s, "Loading \x1b[3", 11);
	vm_console_feed(&s, "1mcomponents\x1b(B\r", 16);
	assert_string_equal(vm_console_line(&s), "Loading components");
	vm_console_feed(&s, dinst, sizeof(dinst) - 1);
	/* the line being written wins over the last finished one; screen's title string is dropped */
	assert_string_equal(vm_console_line(&s), "Installing the base system  ... 10%");
	vm_console_feed(&s, "\r\n   \r\n", 7);
	assert_string_equal(vm_console_line(&s), "Installing the base system  ... 10%");
	/* a cursor move ends a line; control characters and non-ASCII bytes go */
	vm_console_feed(&s, "a\x07" "b\xc2\x9b" "c\x1b[5;1Hnext", 17);
	assert_string_equal(s.last, "abc");
	assert_string_equal(vm_console_line(&s), "next");
	/* bounded */
	memset(big, 'x', sizeof(big));
	vm_console_feed(&s, big, sizeof(big));
	assert_int_equal(strlen(vm_console_line(&s)), VM_CONSOLE_LINE_MAX);
	(void)state;
}

static void test_vm_installer_mem(void **state)
{
	assert_int_equal(vm_installer_mem(0), VM_INSTALLER_DEFAULT_MEM);
	assert_int_equal(vm_installer_mem(24ULL << 30), 2048 * MIB);
	/* never more than half the host */
	assert_int_equal(vm_installer_mem(3ULL << 30), 1536 * MIB);
	assert_int_equal(vm_installer_mem(256 * MIB), VM_DEFAULT_MEM);
	/* d-i's low-memory threshold on amd64 is 737 MiB of MemTotal (lowmemcheck) */
	assert_true(VM_INSTALLER_DEFAULT_MEM > 780 * MIB);
	(void)state;
}

static void test_vm_answers_url_parse(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	unsigned port = 0;
	char *path = NULL;

	assert_int_equal(vm_answers_url_parse("http://10.0.2.2:8642/d-i/preseed.cfg", &port, &path, &err), 0);
	assert_int_equal(port, 8642);
	assert_string_equal(path, "/d-i/preseed.cfg");
	free(path);
	assert_int_equal(vm_answers_url_parse("http://localhost/ks.cfg", &port, NULL, &err), 0);
	assert_int_equal(port, 80);
	assert_int_equal(vm_answers_url_parse("https://10.0.2.2/x", NULL, NULL, &err), -EINVAL);
	assert_int_equal(vm_answers_url_parse("http://192.168.1.1/x", NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "the host must be 10.0.2.2"));
	assert_int_equal(vm_answers_url_parse("http://10.0.2.22/x", NULL, NULL, &err), -EINVAL);
	assert_int_equal(vm_answers_url_parse("http://10.0.2.2:0/x", NULL, NULL, &err), -EINVAL);
	assert_int_equal(vm_answers_url_parse("http://10.0.2.2:70000/x", NULL, NULL, &err), -EINVAL);
	assert_int_equal(vm_answers_url_parse("http://10.0.2.2:80", NULL, NULL, &err), -EINVAL);
	assert_int_equal(vm_answers_url_parse("http://10.0.2.2/a b", NULL, NULL, &err), -EINVAL);
	pb_err_clear(&err);
	(void)state;
}

/* One HTTP request to 127.0.0.1:port; the whole answer into buf. */
static size_t http_get(unsigned port, const char *req, char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return got;
}

static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_vm_answers_server(void **state)
{
	char dir[] = "/tmp/pb-answers.XXXXXX", file[64], url[96], buf[4096];
	struct pb_err err = PB_ERR_INIT;
	struct vm_answers_server *s = NULL, *s2 = NULL;
	unsigned port = free_port();
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/preseed.cfg", dir);
	f = fopen(file, "w");
	fputs("d-i debian-installer/locale string C\n", f);
	fclose(f);
	snprintf(url, sizeof(url), "http://10.0.2.2:%u/d-i/preseed.cfg", port);
	assert_int_equal(vm_answers_start(file, url, &s, &err), 0);
	/* the path: 200 with the file; a query string names the same file */
	http_get(port, "GET /d-i/preseed.cfg?x=1 HTTP/1.1\r\nHost: 10.0.2.2\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.0 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 37\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\nd-i debian-installer/locale string C\n"));
	http_get(port, "HEAD /d-i/preseed.cfg HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "200 OK"));
	assert_null(strstr(buf, "d-i debian"));
	/* anything else: 404, 405 */
	http_get(port, "GET /etc/passwd HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.0 404 Not Found"));
	http_get(port, "GET /d-i/../d-i/preseed.cfg HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "404"));
	http_get(port, "POST /d-i/preseed.cfg HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "405"));
	/* the GET alone counts: a HEAD does not give the installer its answers */
	assert_int_equal(vm_answers_server_fetched(s), 1);
	/* the port taken: refused, saying so */
	assert_int_equal(vm_answers_start(file, url, &s2, &err), -EADDRINUSE);
	assert_non_null(strstr(pb_err_msg(&err), "Address already in use"));
	assert_null(s2);
	vm_answers_stop(s);
	/* not a file */
	assert_int_equal(vm_answers_start(dir, url, &s2, &err), -EINVAL);
	assert_null(s2);
	vm_answers_stop(NULL);
	unlink(file);
	rmdir(dir);
	pb_err_clear(&err);
	(void)state;
}

static void test_vm_install_answers_url(void **state)
{
	char dir[] = "/tmp/pb-pxe.XXXXXX", path[96], src[96];
	struct pb_err err = PB_ERR_INIT;
	char *url = NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "pxe:%s", dir);
	assert_int_equal(vm_install_answers_url(src, &url, &err), 0);
	assert_null(url);
	snprintf(path, sizeof(path), "%s/pxelinux.cfg", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/pxelinux.cfg/default", dir);
	f = fopen(path, "w");
	fputs("label install\n\tappend initrd=initrd.gz auto=true url=http://10.0.2.2:8642/preseed.cfg console=ttyS0\n", f);
	fclose(f);
	assert_int_equal(vm_install_answers_url(src, &url, &err), 0);
	assert_string_equal(url, "http://10.0.2.2:8642/preseed.cfg");
	free(url);
	/* a server's files are never read */
	assert_int_equal(vm_install_answers_url("pxe:http://127.0.0.1:1/", &url, &err), 0);
	assert_null(url);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pxelinux.cfg", dir);
	rmdir(path);
	rmdir(dir);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_argv_direct_is_microvm_with_the_partition_alone),
		cmocka_unit_test(test_vm_argv_name_is_quoted_for_qemu),
		cmocka_unit_test(test_vm_cpu_model_check),
		cmocka_unit_test(test_vm_argv_block_device_uses_host_device),
		cmocka_unit_test(test_vm_argv_bios_boots_the_view_on_q35),
		cmocka_unit_test(test_vm_argv_uefi_adds_ovmf_with_private_vars),
		cmocka_unit_test(test_vm_argv_secure_boot),
		cmocka_unit_test(test_vm_argv_options),
		cmocka_unit_test(test_vm_argv_refuses_what_cannot_work),
		cmocka_unit_test(test_vm_argv_quote),
		cmocka_unit_test(test_vm_cmdline_replaces_root_and_adds_console),
		cmocka_unit_test(test_vm_disk_view_plan_for_a_layout),
		cmocka_unit_test(test_vm_vmdk_descriptor_for_a_layout),
		cmocka_unit_test(test_vm_disk_view_refuses_bad_layouts),
		cmocka_unit_test(test_vm_accel_choice_from_facts),
		cmocka_unit_test(test_vm_argv_installer_cdrom_and_answers_disk),
		cmocka_unit_test(test_vm_argv_cloud_init_seed_and_ssh_port),
		cmocka_unit_test(test_vm_argv_installer_pxe),
		cmocka_unit_test(test_vm_argv_installer_pxe_url),
		cmocka_unit_test(test_vm_argv_installer_refusals),
		cmocka_unit_test(test_vm_install_check_source),
		cmocka_unit_test(test_vm_install_check_source_url),
		cmocka_unit_test(test_vm_argv_each_machine_and_controller),
		cmocka_unit_test(test_vm_hw_choose_from_what_the_guest_holds),
		cmocka_unit_test(test_vm_hw_choose_builtin_unknown_and_forced),
		cmocka_unit_test(test_vm_hw_choose_network_and_libvirt),
		cmocka_unit_test(test_vm_driver_names),
		cmocka_unit_test(test_vm_initramfs_every_segment_every_compression),
		cmocka_unit_test(test_vm_console_screen_line),
		cmocka_unit_test(test_vm_installer_mem),
		cmocka_unit_test(test_vm_answers_url_parse),
		cmocka_unit_test(test_vm_answers_server),
		cmocka_unit_test(test_vm_install_answers_url),
	};

	return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
