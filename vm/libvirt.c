/* SPDX-License-Identifier: MIT */
/*
 * The same VM for libvirt: a domain XML, and `virsh define` + `virsh start`.
 *
 * What libvirt changes (measured with libvirt 9.0, qemu:///system, docs/vm.md):
 *  - its QEMU runs as libvirt-qemu (uid 64055), which cannot reach root's
 *    cache (~/.cache is under the 0700 /root) nor a 0700 temporary folder.
 *    So the domain's files live in a folder of their own:
 *    /var/lib/libvirt/boot/partboot/DOMAIN/ for root (qemu:///system),
 *    $XDG_CACHE_HOME/partboot/libvirt/DOMAIN/ for others (qemu:///session,
 *    where QEMU runs as the user). It stays after partboot exits, so the
 *    domain can be started again; preparing the domain again empties it
 *    first (a running domain keeps the files it has open);
 *  - libvirt chowns the files the XML names (kernel, initrd, the disk or
 *    vmdk descriptor, nvram) to libvirt-qemu while the domain runs, but not
 *    the files a vmdk descriptor points to: partboot gives the shadow files
 *    to libvirt-qemu itself, and in firmware mode grants it read-write access
 *    to the disk with an ACL entry (setfacl), saying so (vm_notice());
 *  - it cannot pass extents.N.locking=off, and QEMU refuses a second extent
 *    on one locked file ("Failed to get resize lock"): the shadow is split,
 *    one file per extent (disk-view.c);
 *  - a domain defined again under the same name needs the same <uuid>: it is
 *    a name-based UUID of the domain name, the disk's identifier and the
 *    partition's UUID;
 *  - no microvm: q35; under TCG a custom qemu64 with x86-64-v2's features
 *    required (VM_TCG_CPU_MODEL); --cpu-model max is <cpu mode='maximum'>;
 *  - OVMF's variables: libvirt makes the domain's own copy from a template
 *    (<nvram template=...>), in the domain's folder, so a new prepare starts
 *    from the template again;
 *  - a pty serial console echoes each line twice; --console FILE becomes a
 *    <serial type='file'>, written by virtlogd.
 * Before the XML is handed over, a child process running as libvirt-qemu
 * checks that it reaches every file QEMU will open (root only).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/run.h"
#include "vm-private.h"

#define LIBVIRT_BOOT "/var/lib/libvirt/boot"
#define LIBVIRT_QEMU_USER "libvirt-qemu"
/* partboot's namespace for domain UUIDs (uuid_generate_sha1) */
static const char domain_namespace[] = "0b2f6e0c-4a7d-5f1e-9c36-7d4a1e2b8f53";

const char *vm_libvirt_domain(const struct vm *vm)
{
	return vm->domain;
}

const char *vm_libvirt_dir(const struct vm *vm)
{
	return vm->libvirt_dir;
}

const char *vm_notice(const struct vm *vm)
{
	return vm->notice;
}

/* A libvirt domain name that is also a folder name: letters, digits, '-', '_', '.', '+'. */
static bool domain_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64 || s[0] == '.' || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+") == n;
}

/* Empty a domain folder partboot made: its regular files (and symlinks) go; anything else is refused. */
static int empty_dir(const char *dir, struct pb_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return pb_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))) {
			r = pb_err_set(err, -EEXIST, "%s/%s: not a file partboot put there; remove it first", dir,
				       de->d_name);
			break;
		}
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			r = pb_err_set(err, -errno, "%s/%s: cannot remove: %s", dir, de->d_name, strerror(errno));
			break;
		}
	}
	closedir(d);
	return r;
}

static int make_dir(const char *path, mode_t mode, struct pb_err *err)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return pb_err_set(err, -errno, "%s: cannot create: %s", path, strerror(errno));
	return 0;
}

int vm_libvirt_prepare_dir(struct vm *vm, struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf name = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf dir = STRBUF_INIT;
	_cleanup_free_ char *cache = NULL;
	bool root = geteuid() == 0;
	struct stat st;
	int r;

	if (vm->o.libvirt_name) {
		if (!domain_name_ok(vm->o.libvirt_name))
			return pb_err_set(err, -EINVAL, "'%s' is not a domain name partboot uses: 1 to 64 letters, "
					  "digits, '-', '_', '.', '+', not starting with '.' or '-'", vm->o.libvirt_name);
		strbuf_addstr(&name, vm->o.libvirt_name);
	} else {
		/* partboot-NAME, with anything a folder or libvirt would trip on made '-' */
		strbuf_addstr(&name, "partboot-");
		for (const char *c = vm->name; *c && name.len < 64; c++)
			strbuf_addch(&name, strchr("-_.+", *c) || (*c >= '0' && *c <= '9') ||
						    ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') ? *c : '-');
	}
	if (root) {
		if (stat(LIBVIRT_BOOT, &st) < 0 || !S_ISDIR(st.st_mode))
			return pb_err_set(err, -ENOENT, "%s: missing: libvirt is not installed (install "
					  "libvirt-daemon-system)", LIBVIRT_BOOT);
		strbuf_addstr(&dir, LIBVIRT_BOOT "/partboot");
		r = make_dir(dir.buf, 0755, err);
	} else {
		cache = vm->o.cache_dir ? xstrdup(vm->o.cache_dir) : vm_cache_dir_default();
		if (!cache)
			return pb_err_set(err, -ENOENT, "no folder for the domain's files: set HOME or XDG_CACHE_HOME");
		r = make_dir(cache, 0700, err);
		strbuf_addf(&dir, "%s/libvirt", cache);
		if (r >= 0)
			r = make_dir(dir.buf, 0700, err);
	}
	if (r < 0)
		return r;
	strbuf_addf(&dir, "/%s", name.buf);
	if (lstat(dir.buf, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return pb_err_set(err, -ENOTDIR, "%s: not a folder", dir.buf);
		r = empty_dir(dir.buf, err);
		if (r < 0)
			return r;
	}
	r = make_dir(dir.buf, root ? 0755 : 0700, err);
	if (r < 0)
		return r;
	vm->domain = strbuf_detach(&name, NULL);
	vm->libvirt_dir = xstrdup(dir.buf);
	vm->tmpdir = xstrdup(dir.buf);
	if (vm->o.console_path) {
		/* libvirt wants an absolute path; the file itself need not exist yet */
		_cleanup_free_ char *parent = xstrdup(vm->o.console_path);
		char *slash = strrchr(parent, '/');
		struct strbuf c = STRBUF_INIT;
		char real[PATH_MAX];

		if (slash)
			*slash = '\0';
		if (!realpath(!slash ? "." : *parent ? parent : "/", real))
			return pb_err_set(err, -errno, "%s: %s", vm->o.console_path, strerror(errno));
		strbuf_addf(&c, "%s/%s", strcmp(real, "/") ? real : "", slash ? slash + 1 : vm->o.console_path);
		vm->console = strbuf_detach(&c, NULL);
	}
	vm->keep_files = true;
	return 0;
}

/* The first of the paths the user uid:gid cannot access with its mode, checked in a child; -1 when none. */
struct reach {
	const char *path;
	int mode;
};

static int reach_fails(uid_t uid, gid_t gid, const struct reach *v, size_t n, struct pb_err *err)
{
	int status;
	pid_t pid;

	if (n > 200)
		n = 200;
	pid = fork();
	if (pid < 0)
		return pb_err_set(err, -errno, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(254);
		for (size_t i = 0; i < n; i++)
			if (access(v[i].path, v[i].mode) < 0)
				_exit((int)i);
		_exit(255);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return pb_err_set(err, -errno, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 254)
		return pb_err_set(err, -EPERM, "cannot check the files as %s", LIBVIRT_QEMU_USER);
	return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

static char *dir_of(const char *path)
{
	char *d = xstrdup(path);
	char *slash = strrchr(d, '/');

	if (slash)
		*(slash == d ? slash + 1 : slash) = '\0';
	return d;
}

int vm_libvirt_finish(struct vm *vm, struct pb_err *err)
{
	_cleanup_free_ char *disk_dir = NULL;
	struct reach v[220];
	struct passwd *pw;
	struct group *gr;
	size_t n = 0;
	uid_t uid;
	gid_t gid;
	int r;

	/* qemu:///session runs QEMU as the user, who reaches all of it */
	if (geteuid() != 0)
		return 0;
	pw = getpwnam(LIBVIRT_QEMU_USER);
	if (!pw)
		return pb_err_set(err, -ENOENT, "no user %s: libvirt is not installed (install libvirt-daemon-system)",
				  LIBVIRT_QEMU_USER);
	uid = pw->pw_uid;
	gr = getgrnam(LIBVIRT_QEMU_USER);
	gid = gr ? gr->gr_gid : pw->pw_gid;

	/* the files behind the vmdk descriptor: libvirt leaves them alone, so they are given away here */
	for (size_t i = 0; i < vm->shadows.n; i++)
		if (chown(vm->shadows.v[i], uid, gid) < 0)
			return pb_err_set(err, -errno, "%s: cannot hand it to %s: %s", vm->shadows.v[i],
					  LIBVIRT_QEMU_USER, strerror(errno));

	/* firmware mode: the guest's partition is an extent of the real disk, which libvirt does not relabel */
	if (vm->o.mode != VM_MODE_DIRECT) {
		struct reach d = { vm->disk_path, R_OK | W_OK };

		r = reach_fails(uid, gid, &d, 1, err);
		if (r == 0) {
			const char *argv[] = { "setfacl", "-m", "u:" LIBVIRT_QEMU_USER ":rw", "--", vm->disk_path, NULL };
			struct strbuf note = STRBUF_INIT;

			r = pb_run(argv, NULL, err);
			if (r < 0)
				return pb_err_prefix(err, r, "%s: cannot give %s read-write access (an ACL entry): ",
						     vm->disk_path, LIBVIRT_QEMU_USER);
			strbuf_addf(&note, "%s: gave %s (libvirt's QEMU) read-write access with an ACL entry, for the "
				    "firmware-mode view; 'setfacl -x u:%s %s' takes it back", vm->disk_path,
				    LIBVIRT_QEMU_USER, LIBVIRT_QEMU_USER, vm->disk_path);
			vm->notice = strbuf_detach(&note, NULL);
		} else if (r < -1) {
			return r;
		}
	}

	/*
	 * Everything QEMU opens: folders it must pass (libvirt relabels files,
	 * never folders), and the files libvirt does not relabel.
	 */
	v[n++] = (struct reach){ vm->libvirt_dir, X_OK };
	if (vm->o.mode == VM_MODE_DIRECT) {
		disk_dir = dir_of(vm->disk_path);
		v[n++] = (struct reach){ disk_dir, X_OK };
	} else {
		v[n++] = (struct reach){ vm->disk_path, R_OK | W_OK };
		for (size_t i = 0; i < vm->shadows.n && n < ARRAY_SIZE(v) - 1; i++)
			v[n++] = (struct reach){ vm->shadows.v[i], R_OK | W_OK };
	}
	if (vm->g.ovmf_code)
		v[n++] = (struct reach){ vm->g.ovmf_code, R_OK };
	r = reach_fails(uid, gid, v, n, err);
	if (r >= 0)
		return pb_err_set(err, -EACCES,
				  "%s: libvirt's QEMU runs as %s and cannot %s it (is a folder above it closed to "
				  "other users?)",
				  v[r].path, LIBVIRT_QEMU_USER, v[r].mode == X_OK ? "pass through" : "read and write");
	return r < -1 ? r : 0;
}

static void xml_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': strbuf_addstr(sb, "&amp;"); break;
		case '<': strbuf_addstr(sb, "&lt;"); break;
		case '>': strbuf_addstr(sb, "&gt;"); break;
		case '\'': strbuf_addstr(sb, "&apos;"); break;
		case '"': strbuf_addstr(sb, "&quot;"); break;
		default:
			/* XML 1.0 has no place for other control characters; a tab or newline is kept */
			if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
				strbuf_addch(sb, *s);
			else
				strbuf_addch(sb, '?');
		}
	}
}

static void xml_elem(struct strbuf *x, const char *indent, const char *tag, const char *text)
{
	strbuf_addf(x, "%s<%s>", indent, tag);
	xml_escaped(x, text);
	strbuf_addf(x, "</%s>\n", tag);
}

static void domain_uuid(const struct vm *vm, char out[37])
{
	struct strbuf sb = STRBUF_INIT;
	uuid_t ns, u;

	strbuf_addf(&sb, "partboot-domain\n%s\n%s\n%s", vm->domain, part_disk_id(vm->disk), vm->p.uuid);
	uuid_parse(domain_namespace, ns);
	uuid_generate_sha1(u, ns, sb.buf, sb.len);
	uuid_unparse_lower(u, out);
	strbuf_release(&sb);
}

int vm_libvirt_xml(struct vm *vm, struct strbuf *x, struct pb_err *err)
{
	const struct vm_guest *g = &vm->g;
	uint64_t mem = vm->o.mem ? vm->o.mem : VM_DEFAULT_MEM;
	const char *qemu = vm->o.qemu ? vm->o.qemu : VM_DEFAULT_QEMU;
	bool sb = vm->o.secure_boot;
	struct strbuf desc = STRBUF_INIT;
	struct vm_hw_choice c = VM_HW_CHOICE_INIT;
	const char *bus, *dev;
	char uuid[37];
	int r;

	if (!vm->o.libvirt || !vm->domain)
		return pb_err_set(err, -EINVAL, "the VM was not prepared for libvirt (vm_opts.libvirt)");
	/*
	 * libvirt has no microvm and (libvirt 9) no NVMe disks: the machine and
	 * controller are chosen again from the same facts without them.
	 */
	r = vm_hw_choose_for(vm, &vm->o, true, vm->facts.inspected ? NULL : "not inspected", &c, err);
	if (r < 0) {
		vm_hw_choice_release(&c);
		return pb_err_prefix(err, r, "%s: partition '%s': no libvirt domain: ", part_disk_display(vm->disk),
				     vm->name);
	}
	if (sb && c.machine != VM_MACHINE_Q35) {
		vm_hw_choice_release(&c);
		return pb_err_set(err, -EINVAL, "%s: partition '%s': Secure Boot needs the q35 machine (OVMF's SMM), "
				  "and this guest boots only on %s", part_disk_display(vm->disk), vm->name,
				  vm_machine_to_string(c.machine));
	}
	bus = c.bus == VM_DISK_BUS_AHCI ? "sata" : c.bus == VM_DISK_BUS_IDE ? "ide" : "virtio";
	dev = c.bus == VM_DISK_BUS_AHCI ? "sd" : c.bus == VM_DISK_BUS_IDE ? "hd" : "vd";
	domain_uuid(vm, uuid);
	strbuf_addf(x, "<domain type='%s'>\n", vm->accel == VM_ACCEL_KVM ? "kvm" : "qemu");
	xml_elem(x, "  ", "name", vm->domain);
	strbuf_addf(x, "  <uuid>%s</uuid>\n", uuid);
	strbuf_addf(&desc, "partboot: %s partition '%s', %s%s; files in %s", vm->disk_path, vm->name,
		    vm->o.mode == VM_MODE_DIRECT ? "direct mode" : vm->o.mode == VM_MODE_BIOS ? "bios" : "uefi",
		    sb ? " with Secure Boot" : "", vm->libvirt_dir);
	xml_elem(x, "  ", "description", desc.buf);
	strbuf_release(&desc);
	strbuf_addf(x, "  <memory unit='MiB'>%" PRIu64 "</memory>\n", mem / (1024 * 1024));
	strbuf_addf(x, "  <vcpu>%u</vcpu>\n", vm_cpus_for(&vm->o, vm->accel));
	strbuf_addf(x, "  <os>\n    <type arch='x86_64' machine='%s'>hvm</type>\n", vm_machine_to_string(c.machine));
	if (vm->o.mode == VM_MODE_DIRECT) {
		xml_elem(x, "    ", "kernel", g->kernel);
		if (g->initrd)
			xml_elem(x, "    ", "initrd", g->initrd);
		xml_elem(x, "    ", "cmdline", g->cmdline);
	} else if (vm->o.mode == VM_MODE_UEFI) {
		strbuf_addf(x, "    <loader readonly='yes'%s type='pflash'>", sb ? " secure='yes'" : "");
		xml_escaped(x, g->ovmf_code);
		/* libvirt copies the template when the file is missing: a fresh store for each prepare */
		strbuf_addstr(x, "</loader>\n    <nvram template='");
		xml_escaped(x, vm->vars_template);
		strbuf_addstr(x, "'>");
		xml_escaped(x, vm->libvirt_dir);
		strbuf_addstr(x, "/OVMF_VARS.fd</nvram>\n");
	}
	if (vm->o.mode != VM_MODE_DIRECT)
		strbuf_addstr(x, "    <boot dev='hd'/>\n");
	/* Secure Boot: SMM (libvirt then adds secure pflash), no S3, as qemu.c does */
	strbuf_addf(x, "  </os>\n  <features><acpi/>%s</features>\n", sb ? "<smm state='on'/>" : "");
	/* as qemu.c: -cpu host, VM_TCG_CPU_MODEL and its features, or the model asked for (by name) */
	if (vm->o.cpu_model ? !strcmp(vm->o.cpu_model, "host") : vm->accel == VM_ACCEL_KVM) {
		strbuf_addstr(x, "  <cpu mode='host-passthrough'/>\n");
	} else if (vm->o.cpu_model && !strcmp(vm->o.cpu_model, "max")) {
		strbuf_addstr(x, "  <cpu mode='maximum'/>\n");
	} else {
		static const char *const features[] = VM_TCG_CPU_FEATURES;

		strbuf_addstr(x, "  <cpu mode='custom' match='exact' check='none'>\n");
		xml_elem(x, "    ", "model", vm->o.cpu_model ? vm->o.cpu_model : VM_TCG_CPU_MODEL);
		for (size_t i = 0; !vm->o.cpu_model && i < ARRAY_SIZE(features); i++)
			strbuf_addf(x, "    <feature policy='require' name='%s'/>\n", features[i]);
		strbuf_addstr(x, "  </cpu>\n");
	}
	if (sb)
		strbuf_addstr(x, "  <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>\n");
	strbuf_addstr(x, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
			 "  <on_crash>destroy</on_crash>\n  <devices>\n");
	{
		struct strbuf emu = STRBUF_INIT;

		strbuf_addf(&emu, "%s%s", strchr(qemu, '/') ? "" : "/usr/bin/", qemu);
		xml_elem(x, "    ", "emulator", emu.buf);
		strbuf_release(&emu);
	}
	if (vm->o.mode == VM_MODE_DIRECT) {
		/* libvirt's storage slice is QEMU's raw offset/size: the partition alone */
		strbuf_addf(x, "    <disk type='%s' device='disk'>\n      <driver name='qemu' type='raw'/>\n",
			    g->blockdev ? "block" : "file");
		strbuf_addf(x, "      <source %s='", g->blockdev ? "dev" : "file");
		xml_escaped(x, g->disk_path);
		strbuf_addf(x, "'>\n        <slices><slice type='storage' offset='%" PRIu64 "' size='%" PRIu64
			       "'/></slices>\n      </source>\n",
			    g->part_start, g->part_size);
	} else {
		strbuf_addstr(x, "    <disk type='file' device='disk'>\n      <driver name='qemu' type='vmdk'/>\n"
				 "      <source file='");
		xml_escaped(x, g->view_path);
		strbuf_addstr(x, "'/>\n");
	}
	strbuf_addf(x, "      <target dev='%sa' bus='%s'/>\n", dev, bus);
	if (vm->o.snapshot)
		strbuf_addstr(x, "      <transient/>\n");
	strbuf_addstr(x, "    </disk>\n");
	if (vm->o.mode == VM_MODE_DIRECT && vm->has_boot) {
		/* the separate /boot, the second disk on the same controller (the view holds it in firmware mode) */
		strbuf_addf(x, "    <disk type='%s' device='disk'>\n      <driver name='qemu' type='raw'/>\n",
			    g->blockdev ? "block" : "file");
		strbuf_addf(x, "      <source %s='", g->blockdev ? "dev" : "file");
		xml_escaped(x, g->disk_path);
		strbuf_addf(x, "'>\n        <slices><slice type='storage' offset='%" PRIu64 "' size='%" PRIu64
			       "'/></slices>\n      </source>\n      <target dev='%sb' bus='%s'/>\n",
			    vm->boot_p.start, vm->boot_p.size, dev, bus);
		if (vm->o.snapshot)
			strbuf_addstr(x, "      <transient/>\n");
		strbuf_addstr(x, "    </disk>\n");
	}
	if (vm->o.cidata_disk) {
		/* the cloud-init seed on the guest's own controller, after its disks */
		strbuf_addstr(x, "    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
				 "      <source file='");
		xml_escaped(x, vm->o.cidata_disk);
		strbuf_addf(x, "'/>\n      <target dev='%sc' bus='%s'/>\n      <readonly/>\n    </disk>\n", dev, bus);
	}
	if (vm->o.net == VM_NET_USER)
		strbuf_addf(x, "    <interface type='user'><model type='%s'/></interface>\n",
			    c.nic == VM_NIC_E1000 ? "e1000" : "virtio");
	if (vm->console) {
		/* a file, appended to by virtlogd: each line once (a pty echoes them twice) */
		strbuf_addstr(x, "    <serial type='file'>\n      <source path='");
		xml_escaped(x, vm->console);
		strbuf_addstr(x, "'/>\n      <target port='0'/>\n    </serial>\n    <console type='file'>\n"
				 "      <source path='");
		xml_escaped(x, vm->console);
		strbuf_addstr(x, "'/>\n      <target type='serial' port='0'/>\n    </console>\n");
	} else {
		strbuf_addstr(x, "    <serial type='pty'><target port='0'/></serial>\n"
				 "    <console type='pty'><target type='serial' port='0'/></console>\n");
	}
	strbuf_addstr(x, "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
			 "    <panic model='isa'/>\n"
			 "  </devices>\n</domain>\n");
	vm_hw_choice_release(&c);
	return 0;
}

int vm_libvirt_start(struct vm *vm, struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf xml = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf path = STRBUF_INIT;
	const char *define[] = { "virsh", "-q", "define", NULL, NULL };
	const char *start[] = { "virsh", "-q", "start", vm->domain, NULL };
	FILE *f;
	int r;

	if (!pb_have_program("virsh"))
		return pb_err_set(err, -ENOENT, "virsh not found: install libvirt-clients");
	r = vm_libvirt_xml(vm, &xml, err);
	if (r < 0)
		return r;
	strbuf_addf(&path, "%s/domain.xml", vm->libvirt_dir);
	f = fopen(path.buf, "we");
	if (!f)
		return pb_err_set(err, -errno, "%s: cannot create: %s", path.buf, strerror(errno));
	if (fwrite(xml.buf, 1, xml.len, f) != xml.len) {
		fclose(f);
		return pb_err_set(err, -EIO, "%s: cannot write", path.buf);
	}
	if (fclose(f) != 0)
		return pb_err_set(err, -errno, "%s: cannot write: %s", path.buf, strerror(errno));
	define[3] = path.buf;
	r = pb_run(define, NULL, err);
	if (r < 0)
		return pb_err_prefix(err, r, "libvirt domain '%s': ", vm->domain);
	r = pb_run(start, NULL, err);
	if (r < 0)
		return pb_err_prefix(err, r, "libvirt domain '%s' (defined): ", vm->domain);
	return 0;
}
