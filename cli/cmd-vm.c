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
		{ "qemu", required_argument, NULL, OPT_QEMU }

int cmd_run(int argc, char **argv)
{
	enum { OPT_MACHINE = OPT_VM_LAST, OPT_APPEND, OPT_SNAPSHOT, OPT_NET, OPT_SSH_PORT, OPT_PRINT, OPT_XML,
	       OPT_NO_PVH };
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		VM_LONGOPTS,
		{ "machine", required_argument, NULL, OPT_MACHINE },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "net", required_argument, NULL, OPT_NET },
		{ "ssh-port", required_argument, NULL, OPT_SSH_PORT },
		{ "print-cmdline", no_argument, NULL, OPT_PRINT },
		{ "libvirt-xml", no_argument, NULL, OPT_XML },
		{ "no-pvh", no_argument, NULL, OPT_NO_PVH },
		{}
	};
	struct vm_opts o = { 0 };
	struct pb_err err = PB_ERR_INIT;
	struct disk *k = NULL;
	struct vm *vm = NULL;
	bool print = false, xml = false;
	int64_t t0 = now_us();
	int c, r, status = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			if (!strcmp(optarg, "auto"))
				o.machine = VM_MACHINE_AUTO;
			else if (!strcmp(optarg, "microvm"))
				o.machine = VM_MACHINE_MICROVM;
			else if (!strcmp(optarg, "q35"))
				o.machine = VM_MACHINE_Q35;
			else
				return cli_usage_error("run", "--machine takes auto, microvm or q35, not '%s'", optarg);
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
			break;
		case OPT_NO_PVH:
			o.no_pvh = true;
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
	if (print && xml)
		return cli_usage_error("run", "--print-cmdline and --libvirt-xml exclude each other");
	if (o.ssh_port && o.net == VM_NET_NONE)
		o.net = VM_NET_USER; /* a forwarded port needs the network */
	if (o.machine == VM_MACHINE_MICROVM && o.mode != VM_MODE_DIRECT)
		return cli_usage_error("run", "--machine microvm has no firmware; firmware mode needs q35");
	o.interactive = !o.console_path && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);

	if (cli_disk_open(argv[optind], 0, NULL, &k))
		goto out;
	r = disk_vm_prepare(k, argv[optind + 1], &o, &vm, &err);
	if (r < 0) {
		status = cli_fail(&err);
		goto out;
	}
	if (vm_warning(vm))
		log_warn("%s", vm_warning(vm));
	log_debug("accel %s, kernel %s%s; prepared in %.1f ms", vm_accel(vm) == VM_ACCEL_KVM ? "kvm" : "tcg",
		  vm_guest(vm)->kernel ? vm_guest(vm)->kernel : "(firmware)",
		  vm_guest(vm)->kernel_pvh ? " (PVH)" : "", (double)(now_us() - t0) / 1000.0);

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
		{ "via-vm", required_argument, NULL, OPT_VIA },
		{ "answers", required_argument, NULL, OPT_ANSWERS },
		{ "answers-url", required_argument, NULL, OPT_ANSWERS_URL },
		{ "label", required_argument, NULL, 'L' },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{}
	};
	struct vm_opts o = { .mode = VM_MODE_BIOS };
	struct disk_install_opts io = { .vm = &o };
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
			r = cli_common_option("install", c);
			if (r == CLI_OPT_CONTINUE)
				break;
			if (r == EXIT_USAGE)
				log_info("with --via-vm, install takes: --answers --answers-url --firmware --accel --mem --cpus --console "
					 "--timeout --label --hostname --cmdline --qemu");
			return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("install", "expected DISK and NAME");
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
