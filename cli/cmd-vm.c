/* SPDX-License-Identifier: MIT */
/* partboot run: boot a guest partition in a QEMU VM (vm/). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/macros.h"
#include "common/util.h"
#include "vm/vm.h"

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool parse_uint(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* Options that run and install --via-vm share, and their ids (above getopt's characters). */
enum {
	OPT_FIRMWARE = 0x100,
	OPT_ACCEL,
	OPT_MEM,
	OPT_CPUS,
	OPT_CONSOLE,
	OPT_TIMEOUT,
	OPT_QEMU,
	OPT_SECURE_BOOT,
	OPT_CPU_MODEL,
	OPT_VM_LAST,
};

/*
 * Parse one of the shared VM options into o. Returns 1 when c was one,
 * 0 when it is not, EXIT_USAGE (after the message) for a bad value.
 */
static int vm_option(const char *verb, int c, const char *arg, struct vm_opts *o)
{
	char buf[64];
	uint64_t v;

	switch (c) {
	case OPT_FIRMWARE:
		if (!strcmp(arg, "bios"))
			o->mode = VM_MODE_BIOS;
		else if (!strcmp(arg, "uefi"))
			o->mode = VM_MODE_UEFI;
		else
			return cli_usage_error(verb, "--firmware takes bios or uefi, not '%s'", arg);
		return 1;
	case OPT_ACCEL:
		if (vm_accel_from_string(arg, &o->accel) < 0)
			return cli_usage_error(verb, "--accel takes auto, kvm or tcg, not '%s'", arg);
		return 1;
	case OPT_MEM:
		/* a bare number means MiB, as with qemu -m */
		snprintf(buf, sizeof(buf), "%s%s", arg, *arg && strspn(arg, "0123456789") == strlen(arg) ? "M" : "");
		if (pb_parse_size(buf, &v) < 0 || v < 64 * MiB)
			return cli_usage_error(verb, "--mem takes a size of at least 64M, not '%s'", arg);
		o->mem = v;
		return 1;
	case OPT_CPUS:
		if (!parse_uint(arg, 256, &o->cpus) || !o->cpus)
			return cli_usage_error(verb, "--cpus takes a number from 1 to 256, not '%s'", arg);
		return 1;
	case OPT_CONSOLE:
		o->console_path = arg;
		return 1;
	case OPT_TIMEOUT:
		if (!parse_uint(arg, 7 * 24 * 3600, &o->timeout) || !o->timeout)
			return cli_usage_error(verb, "--timeout takes seconds (1 or more), not '%s'", arg);
		return 1;
	case OPT_QEMU:
		o->qemu = arg;
		return 1;
	case OPT_SECURE_BOOT:
		o->secure_boot = true;
		return 1;
	case OPT_CPU_MODEL:
		o->cpu_model = arg;
		return 1;
	default:
		return 0;
	}
}

/* The shared options' entries for a getopt_long table. */
#define VM_LONGOPTS                                                                                \
	{ "firmware", required_argument, NULL, OPT_FIRMWARE },                                     \
		{ "accel", required_argument, NULL, OPT_ACCEL },                                   \
		{ "mem", required_argument, NULL, OPT_MEM },                                       \
		{ "cpus", required_argument, NULL, OPT_CPUS },                                     \
		{ "console", required_argument, NULL, OPT_CONSOLE },                               \
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },                               \
		{ "qemu", required_argument, NULL, OPT_QEMU },                                     \
		{ "secure-boot", no_argument, NULL, OPT_SECURE_BOOT },                             \
		{ "cpu-model", required_argument, NULL, OPT_CPU_MODEL }

int cmd_run(int argc, char **argv)
{
	enum { OPT_MACHINE = OPT_VM_LAST, OPT_APPEND, OPT_SNAPSHOT, OPT_NET, OPT_SSH_PORT, OPT_PRINT, OPT_XML,
	       OPT_NO_PVH, OPT_DISK_BUS, OPT_KERNEL, OPT_CLOUD_INIT, OPT_META_DATA, OPT_LIBVIRT };
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		VM_LONGOPTS,
		{ "machine", required_argument, NULL, OPT_MACHINE },
		{ "disk-bus", required_argument, NULL, OPT_DISK_BUS },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "net", required_argument, NULL, OPT_NET },
		{ "ssh-port", required_argument, NULL, OPT_SSH_PORT },
		{ "print-cmdline", no_argument, NULL, OPT_PRINT },
		{ "libvirt-xml", optional_argument, NULL, OPT_XML },
		{ "libvirt", required_argument, NULL, OPT_LIBVIRT },
		{ "no-pvh", no_argument, NULL, OPT_NO_PVH },
		{ "cloud-init", required_argument, NULL, OPT_CLOUD_INIT },
		{ "meta-data", required_argument, NULL, OPT_META_DATA },
		{}
	};
	const char *user_data = NULL, *meta_data = NULL;
	struct vm_opts o = { 0 };
	struct pb_err err = PB_ERR_INIT;
	struct disk *k = NULL;
	struct vm *vm = NULL;
	bool print = false, xml = false, define = false;
	int64_t t0 = now_us();
	int c, r, status = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			if (vm_machine_from_string(optarg, &o.machine) < 0)
				return cli_usage_error("run", "--machine takes auto, microvm, q35 or pc, not '%s'", optarg);
			break;
		case OPT_DISK_BUS:
			if (vm_disk_bus_from_string(optarg, &o.disk_bus) < 0)
				return cli_usage_error("run", "--disk-bus takes auto, virtio, nvme, ahci or ide, not '%s'",
						       optarg);
			break;
		case OPT_KERNEL:
			if (!*optarg)
				return cli_usage_error("run", "--kernel takes a kernel version (see partboot list)");
			o.kernel = optarg;
			break;
		case OPT_APPEND:
			o.append = optarg;
			break;
		case OPT_SNAPSHOT:
			o.snapshot = true;
			break;
		case OPT_NET:
			if (!strcmp(optarg, "user"))
				o.net = VM_NET_USER;
			else if (!strcmp(optarg, "none"))
				o.net = VM_NET_NONE;
			else
				return cli_usage_error("run", "--net takes user or none, not '%s'", optarg);
			break;
		case OPT_SSH_PORT:
			if (!parse_uint(optarg, 65535, &o.ssh_port) || !o.ssh_port)
				return cli_usage_error("run", "--ssh-port takes a port number, not '%s'", optarg);
			break;
		case OPT_PRINT:
			print = true;
			break;
		case OPT_XML:
			xml = true;
			if (optarg)
				o.libvirt_name = optarg;
			break;
		case OPT_LIBVIRT:
			define = true;
			o.libvirt_name = optarg;
			break;
		case OPT_NO_PVH:
			o.no_pvh = true;
			break;
		case OPT_CLOUD_INIT:
			user_data = optarg;
			break;
		case OPT_META_DATA:
			meta_data = optarg;
			break;
		default:
			r = vm_option("run", c, optarg, &o);
			if (r == 1)
				break;
			if (r)
				return r;
			r = cli_common_option("run", c);
			if (r == CLI_OPT_CONTINUE)
				break;
			return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("run", "expected DISK and NAME");
	if (print + xml + define > 1)
		return cli_usage_error("run", "--print-cmdline, --libvirt-xml and --libvirt exclude each other");
	if ((xml || define) && o.timeout)
		return cli_usage_error("run", "--timeout is partboot's own runner's; a libvirt domain runs on its own");
	o.libvirt = xml || define;
	if (o.ssh_port && o.net == VM_NET_NONE)
		o.net = VM_NET_USER; /* a forwarded port needs the network */
	if (o.machine == VM_MACHINE_MICROVM && o.mode != VM_MODE_DIRECT)
		return cli_usage_error("run", "--machine microvm has no firmware; firmware mode needs q35 or pc");
	if ((o.machine == VM_MACHINE_MICROVM && o.disk_bus != VM_DISK_BUS_AUTO && o.disk_bus != VM_DISK_BUS_VIRTIO) ||
	    (o.machine == VM_MACHINE_Q35 && o.disk_bus == VM_DISK_BUS_IDE) ||
	    (o.machine == VM_MACHINE_PC && o.disk_bus == VM_DISK_BUS_AHCI))
		return cli_usage_error("run", "--machine %s has no %s disks (microvm: virtio; q35: virtio, nvme, ahci; "
				       "pc: virtio, nvme, ide)", vm_machine_to_string(o.machine),
				       vm_disk_bus_to_string(o.disk_bus));
	if (o.kernel && o.mode != VM_MODE_DIRECT)
		return cli_usage_error("run", "--kernel is for direct mode; with --firmware the guest's GRUB menu chooses "
				       "(its submenu lists every kernel)");
	if (meta_data && !user_data)
		return cli_usage_error("run", "--meta-data goes with --cloud-init USER-DATA");
	if (o.secure_boot && o.mode != VM_MODE_UEFI)
		return cli_usage_error("run", "--secure-boot needs --firmware uefi");
	if (o.secure_boot && o.machine != VM_MACHINE_AUTO && o.machine != VM_MACHINE_Q35)
		return cli_usage_error("run", "--secure-boot needs the q35 machine (OVMF's Secure Boot build uses SMM)");
	o.interactive = !o.console_path && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);

	if (cli_disk_open(argv[optind], 0, NULL, &k))
		goto out;
	r = disk_vm_prepare(k, argv[optind + 1], &o, &vm, &err);
	if (r < 0) {
		status = cli_fail(&err);
		goto out;
	}
	if (user_data && disk_vm_cloud_init(k, argv[optind + 1], vm, user_data, meta_data, &err) < 0) {
		status = cli_fail(&err);
		goto out;
	}
	if (vm_warning(vm))
		log_warn("%s", vm_warning(vm));
	if (vm_hw_warning(vm))
		log_warn("%s: guest '%s': %s", argv[optind], argv[optind + 1], vm_hw_warning(vm));
	{
		/* what was found inside the guest and why this machine: -v, and always with --print-cmdline */
		bool cached;
		double ms = vm_hw_inspect_ms(vm, &cached);

		if (print || xml)
			log_info("%s: guest '%s': %s", argv[optind], argv[optind + 1], vm_hw_why(vm));
		else
			log_debug("%s: guest '%s': %s", argv[optind], argv[optind + 1], vm_hw_why(vm));
		log_debug("inspected in %.1f ms%s", ms, cached ? " (cached)" : "");
	}
	log_debug("accel %s, kernel %s%s; prepared in %.1f ms", vm_accel(vm) == VM_ACCEL_KVM ? "kvm" : "tcg",
		  vm_guest(vm)->kernel ? vm_guest(vm)->kernel : "(firmware)",
		  vm_guest(vm)->kernel_pvh ? " (PVH)" : "", (double)(now_us() - t0) / 1000.0);

	if (vm_notice(vm))
		log_warn("%s", vm_notice(vm));
	if (define) {
		r = vm_libvirt_start(vm, &err);
		if (r < 0) {
			status = cli_fail(&err);
			goto out;
		}
		log_info("%s: guest '%s': libvirt domain '%s' defined and started (its files in %s); %s%s", argv[optind],
			 argv[optind + 1], vm_libvirt_domain(vm), vm_libvirt_dir(vm),
			 o.console_path ? "console in " : "console: virsh console ",
			 o.console_path ? o.console_path : vm_libvirt_domain(vm));
		status = EXIT_OK;
		goto out;
	}
	if (print || xml) {
		struct strbuf sb = STRBUF_INIT;

		r = print ? vm_print_cmdline(vm, &sb, &err) : vm_libvirt_xml(vm, &sb, &err);
		if (r < 0) {
			strbuf_release(&sb);
			status = cli_fail(&err);
			goto out;
		}
		fputs(sb.buf, stdout);
		if (print)
			fputc('\n', stdout);
		strbuf_release(&sb);
		status = EXIT_OK;
		goto out;
	}

	if (o.interactive)
		log_info("console on this terminal: Ctrl-A x quits the VM, Ctrl-A c the QEMU monitor");
	r = vm_run(vm, &status, &err);
	if (r < 0) {
		status = cli_fail(&err);
		goto out;
	}
	switch (status) {
	case VM_EXIT_POWEROFF:
		break;
	case VM_EXIT_TIMEOUT:
		log_error("%s: guest '%s': stopped after the %u s timeout", argv[optind], argv[optind + 1], o.timeout);
		break;
	case VM_EXIT_RESET:
		log_info("%s: guest '%s' rebooted (or panicked): the VM ended", argv[optind], argv[optind + 1]);
		break;
	case VM_EXIT_PANIC:
		log_error("%s: guest '%s' panicked", argv[optind], argv[optind + 1]);
		break;
	case VM_EXIT_INTERRUPTED:
		log_error("%s: guest '%s' did not power off within %d s: stopped", argv[optind], argv[optind + 1],
			  VM_GRACE_SECONDS);
		break;
	default:
		log_error("%s", pb_err_msg(&err));
		break;
	}
out:
	vm_free(vm); /* before the disk: the VM borrows it */
	disk_free(k);
	pb_err_clear(&err);
	return status;
}

/* --- install --via-vm: an OS installer in the VM runner (vm/install.c) ------------------ */

int cmd_install_via_vm(int argc, char **argv)
{
	enum { OPT_VIA = OPT_VM_LAST, OPT_ANSWERS, OPT_ANSWERS_URL, OPT_HOSTNAME, OPT_CMDLINE };
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		VM_LONGOPTS,
		CLI_CUSTOMIZE_LONGOPTS,
		{ "via-vm", required_argument, NULL, OPT_VIA },
		{ "answers", required_argument, NULL, OPT_ANSWERS },
		{ "answers-url", required_argument, NULL, OPT_ANSWERS_URL },
		{ "label", required_argument, NULL, 'L' },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{}
	};
	struct vm_opts o = { .mode = VM_MODE_BIOS };
	struct cli_customize cc = { .o.password_fd = STDIN_FILENO };
	struct disk_install_opts io = { .vm = &o, .customize = &cc.o };
	struct pb_err err = PB_ERR_INIT;
	int c, r;

	while ((c = getopt_long(argc, argv, "L:" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_VIA:
			io.via_vm = optarg;
			break;
		case OPT_ANSWERS:
			io.answers = optarg;
			break;
		case OPT_ANSWERS_URL:
			io.answers_url = optarg;
			break;
		case 'L':
			io.label = optarg;
			break;
		case OPT_HOSTNAME:
			io.hostname = optarg;
			break;
		case OPT_CMDLINE:
			io.cmdline = optarg;
			break;
		default:
			r = vm_option("install", c, optarg, &o);
			if (r == 1)
				break;
			if (r)
				return r;
			r = cli_customize_option("install", c, optarg, &cc);
			if (r == 1)
				break;
			if (r)
				return r;
			r = cli_common_option("install", c);
			if (r == CLI_OPT_CONTINUE)
				break;
			if (r == EXIT_USAGE)
				log_info("with --via-vm, install takes: --answers --answers-url --firmware --secure-boot --accel "
					 "--mem --cpus --cpu-model --console --timeout --label --hostname --cmdline --qemu, and "
					 "--root-password-file --root-password --user --user-password-file --ssh-key "
					 "--firstboot --cloud-init --meta-data");
			return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("install", "expected DISK and NAME");
	if (o.secure_boot && o.mode != VM_MODE_UEFI)
		return cli_usage_error("install", "--secure-boot needs --firmware uefi");
	if (!io.via_vm || !*io.via_vm)
		return cli_usage_error("install", "--via-vm takes an installer ISO, a disc (/dev/sr0) pxe:DIR or pxe:URL");
	if (disk_install_check(&io, &err) < 0) {
		r = cli_usage_error("install", "%s", pb_err_msg(&err));
		pb_err_clear(&err);
		return r;
	}
	/*
	 * With answers the install is unattended: a progress line on the terminal, the console
	 * in a file; without, an installer asks questions: its console on the terminal.
	 */
	o.interactive = !io.answers && !o.console_path && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);

	log_info("%s: partition '%s': booting the installer from %s%s", argv[optind], argv[optind + 1], io.via_vm,
		 o.console_path ? "" : o.interactive ? " (Ctrl-A x stops the VM)" : "");
	return cli_install_run(argv[optind], argv[optind + 1], &io, NULL);
}

/* --- partboot ssh: a shell or a command in a guest (disk/ssh.c) -------------------------- */

struct ssh_wait {
	bool shown;
	unsigned last;
};

static void ssh_waiting(unsigned waited, unsigned timeout, unsigned port, void *userdata)
{
	struct ssh_wait *w = userdata;

	if (cli_verbosity < 1)
		return;
	if (isatty(STDERR_FILENO)) {
		fprintf(stderr, "\rpartboot: waiting for sshd on 127.0.0.1:%u: %u s (at most %u) ", port, waited, timeout);
		w->shown = true;
	} else if (!waited || waited >= w->last + 30) {
		/* not a terminal: a line now and then, not one a second */
		log_info("waiting for sshd on 127.0.0.1:%u: %u s (at most %u)", port, waited, timeout);
		w->last = waited;
	}
}

int cmd_ssh(int argc, char **argv)
{
	enum { OPT_USER = OPT_VM_LAST, OPT_KEY_DIR, OPT_SNAPSHOT, OPT_APPEND };
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		VM_LONGOPTS,
		{ "user", required_argument, NULL, OPT_USER },
		{ "key-dir", required_argument, NULL, OPT_KEY_DIR },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "append", required_argument, NULL, OPT_APPEND },
		{}
	};
	struct vm_opts vo = { 0 };
	struct ssh_wait w = { 0 };
	struct disk_ssh_opts so = { .vm = &vo, .waiting = ssh_waiting, .userdata = &w };
	struct cli_progress pr = { 0 };
	struct pb_err err = PB_ERR_INIT;
	struct disk_ssh *s = NULL;
	struct disk *k = NULL;
	char **command = NULL;
	int c, r, status = EXIT_FAIL, vm_status = 0;

	/* What follows "--" is the command, whatever it looks like: getopt never sees it. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			command = argv + i + 1;
			argv[i] = NULL;
			argc = i;
			break;
		}
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_USER:
			so.user = optarg;
			break;
		case OPT_KEY_DIR:
			so.key_dir = optarg;
			break;
		case OPT_SNAPSHOT:
			vo.snapshot = true;
			break;
		case OPT_APPEND:
			vo.append = optarg;
			break;
		case OPT_CONSOLE:
			so.console_path = optarg;
			break;
		case OPT_TIMEOUT:
			/* here: how long to wait for sshd (the VM itself runs until the session ends) */
			r = vm_option("ssh", c, optarg, &vo);
			if (r != 1)
				return r;
			so.timeout = vo.timeout;
			vo.timeout = 0;
			break;
		default:
			r = vm_option("ssh", c, optarg, &vo);
			if (r == 1)
				break;
			if (r)
				return r;
			r = cli_common_option("ssh", c);
			if (r == CLI_OPT_CONTINUE)
				break;
			return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("ssh", "expected DISK and NAME (a command goes after '--': partboot ssh DISK NAME -- "
				       "COMMAND...)");

	if (cli_disk_open(argv[optind], 0, &pr, &k))
		goto out;
	r = disk_ssh_start(k, argv[optind + 1], &so, &s, &err);
	if (w.shown)
		fputc('\n', stderr);
	if (r < 0) {
		status = cli_fail(&err);
		goto out;
	}
	r = disk_ssh_exec(s, command, &status, &err);
	if (r < 0)
		status = cli_fail(&err);
	pb_err_clear(&err);
	if (!disk_ssh_joined(s)) {
		log_debug("powering the VM off");
		if (disk_ssh_stop(s, &vm_status, &err) < 0)
			log_warn("%s", pb_err_msg(&err));
		else if (vm_status != VM_EXIT_POWEROFF)
			log_warn("%s: guest '%s': the VM did not power off cleanly (status %d); console: %s", argv[optind],
				 argv[optind + 1], vm_status, disk_ssh_console(s));
	}
out:
	disk_ssh_free(s); /* before the disk: the VM borrows it */
	disk_free(k);
	pb_err_clear(&err);
	return status;
}
