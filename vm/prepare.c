/* SPDX-License-Identifier: MIT */
/*
 * vm_prepare(): from "DISK NAME" to everything QEMU needs, refusing early.
 *
 * Touches the disk: opens it read-write through part/ (whole-disk lock), takes
 * an OFD lock on the guest's partition that lives as long as the struct vm,
 * then drops the whole-disk lock so other guests of the same disk stay
 * usable. It only reads the disk (boot files through fs/, table areas and ESP
 * for the firmware-mode shadow); QEMU is the one that writes, and only inside
 * the partition.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/run.h"
#include "common/tmpdir.h"
#include "fs/fs.h"
#include "vm-private.h"

struct vm {
	struct vm_opts o;
	struct part_disk *disk; /* borrowed from the caller */
	struct part_info p;
	bool locked;            /* p's partition lock is ours */
	char *disk_path; /* absolute: vmdk extents and printed commands need it */
	char *name;
	char *kernel, *initrd, *cmdline;
	char *tmpdir, *shadow, *view, *vars, *ovmf_code, *answers;
	size_t view_extents;
	struct vm_guest g;
	enum vm_accel accel;
	char *warning;
	bool keep_files; /* --print-cmdline / --libvirt-xml: the printed command needs them */
	bool interrupted; /* vm_run() got SIGINT/SIGTERM (the guest may still have powered off) */
	char *console;    /* the VM's own console file (a status callback and no console_path) */
	char console_last[VM_CONSOLE_LINE_MAX + 1];
	struct vm_answers_server *answers_srv;
};

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->tmpdir && !vm->keep_files) {
		if (vm->shadow)
			unlink(vm->shadow);
		if (vm->view)
			unlink(vm->view);
		if (vm->vars)
			unlink(vm->vars);
		if (vm->answers)
			unlink(vm->answers);
		if (vm->console)
			unlink(vm->console);
		rmdir(vm->tmpdir);
	}
	vm_answers_stop(vm->answers_srv);
	if (vm->locked)
		part_disk_unlock_partition(vm->disk, &vm->p);
	free(vm->console);
	free(vm->disk_path);
	free(vm->name);
	free(vm->kernel);
	free(vm->initrd);
	free(vm->cmdline);
	free(vm->tmpdir);
	free(vm->shadow);
	free(vm->view);
	free(vm->vars);
	free(vm->ovmf_code);
	free(vm->answers);
	free(vm->warning);
	free(vm);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct vm *, vm_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fs *, fs_free);

const char *vm_warning(const struct vm *vm)
{
	return vm->warning;
}

enum vm_accel vm_accel(const struct vm *vm)
{
	return vm->accel;
}

void vm_opts_get(const struct vm *vm, struct vm_opts *ret)
{
	*ret = vm->o;
}

const struct vm_guest *vm_guest(const struct vm *vm)
{
	return &vm->g;
}

static char *path_join(const char *dir, const char *file)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s/%s", dir, file);
	return strbuf_detach(&sb, NULL);
}

static int make_tmpdir(struct vm *vm, struct pb_err *err)
{
	return pb_mkdtemp("partboot-vm", PB_TMP_SMALL, &vm->tmpdir, err);
}

static int copy_file(const char *from, const char *to, struct pb_err *err)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return pb_err_set(err, -errno, "%s: cannot open: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return pb_err_set(err, -errno, "%s: cannot create: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return pb_err_set(err, -EIO, "%s: cannot write: %s", to, strerror(errno));
	if (n < 0)
		return pb_err_set(err, -errno, "%s: cannot read: %s", from, strerror(errno));
	return 0;
}

struct stat_find {
	const char *name;
	uint64_t size;
	int64_t mtime;
	bool found;
};

static int stat_find_fn(const struct fs_dirent *e, void *userdata)
{
	struct stat_find *sf = userdata;

	if (strcmp(e->name, sf->name) || e->type != 'f')
		return 0;
	sf->size = e->size;
	sf->mtime = e->mtime;
	sf->found = true;
	return -1; /* found: stop */
}

/* Size and mtime of a regular file of the guest, from its directory entry (no read). */
static bool guest_stat(struct fs *fs, const char *path, uint64_t *ret_size, int64_t *ret_mtime)
{
	_cleanup_free_ char *dir = xstrdup(path);
	struct stat_find sf = { 0 };
	char *slash = strrchr(dir, '/');

	if (!slash)
		return false;
	sf.name = slash + 1;
	*slash = '\0';
	fs_list_dir(fs, *dir ? dir : "/", stat_find_fn, &sf, NULL);
	*ret_size = sf.size;
	*ret_mtime = sf.mtime;
	return sf.found;
}

/* Direct mode: kernel, initrd and command line from the guest's own /boot and /etc/kernel/cmdline. */
static int prepare_direct(struct vm *vm, struct fs *fs, const struct vm_boot *b, const char *where,
			  struct pb_err *err)
{
	_cleanup_free_ char *kdata = NULL;
	_cleanup_free_ char *idata = NULL;
	_cleanup_free_ char *cache = NULL;
	_cleanup_(strbuf_release) struct strbuf root = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf extra = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf cmd = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf key = STRBUF_INIT;
	struct part_probe probe = { 0 };
	uint64_t ksize = 0, isize = 0;
	int64_t kmtime = 0, imtime = 0;
	size_t klen = 0, ilen = 0;
	bool pvh = false;
	const char *initrd;
	int r;

	if (!b || !b->kernel || !*b->kernel)
		return pb_err_set(err, -ENOENT, "%s: no kernel in /boot (direct mode boots /boot/vmlinuz-*; "
				  "try --firmware bios|uefi)", where);
	initrd = b->initrd && *b->initrd ? b->initrd : NULL;
	cache = vm->o.cache_dir ? xstrdup(vm->o.cache_dir) : vm_cache_dir_default();
	if (!cache) {
		r = make_tmpdir(vm, err);
		if (r < 0)
			return r;
		cache = xstrdup(vm->tmpdir);
	}
	if (part_disk_probe(vm->disk, &vm->p, &probe) < 0)
		probe.uuid[0] = '\0';

	/*
	 * A second run of the same guest need not read kernel and initrd again
	 * (tens of ms through libext2fs): the cache index is keyed by what
	 * identifies them without reading — filesystem UUID, paths, sizes and
	 * modification times.
	 */
	if (probe.uuid[0] && guest_stat(fs, b->kernel, &ksize, &kmtime) &&
	    (!initrd || guest_stat(fs, initrd, &isize, &imtime)))
		strbuf_addf(&key, "partboot-boot-files-v1 pvh=%d fs=%s kernel=%s:%" PRIu64 ":%" PRId64
			    " initrd=%s:%" PRIu64 ":%" PRId64, !vm->o.no_pvh, probe.uuid, b->kernel, ksize, kmtime,
			    initrd ? initrd : "", isize, imtime);
	if (!key.len || vm_boot_files_lookup(cache, key.buf, &vm->kernel, &pvh, &vm->initrd) < 0) {
		r = fs_read_file(fs, b->kernel, &kdata, &klen, err);
		if (r < 0)
			return pb_err_prefix(err, r, "%s: ", where);
		if (initrd) {
			r = fs_read_file(fs, initrd, &idata, &ilen, err);
			if (r < 0)
				return pb_err_prefix(err, r, "%s: ", where);
		}
		r = vm_boot_files_store(cache, kdata, klen, idata, ilen, !vm->o.no_pvh, &vm->kernel, &pvh,
					&vm->initrd, err);
		if (r < 0)
			return r;
		if (key.len)
			vm_boot_files_remember(cache, key.buf, vm->kernel, pvh, vm->initrd);
	}

	/* The VM sees the partition as its whole disk: name the root by filesystem UUID. */
	if (probe.uuid[0])
		strbuf_addf(&root, "UUID=%s", probe.uuid);
	else
		strbuf_addstr(&root, "/dev/vda");
	/* a panic reboots at once, which ends the VM (-no-reboot) with a failing verdict */
	strbuf_addstr(&extra, "panic=-1");
	if (vm_machine_for(&vm->o) == VM_MACHINE_MICROVM && vm->accel == VM_ACCEL_TCG)
		/* microvm has no PIT to calibrate against; TCG then hangs calibrating the TSC */
		strbuf_addstr(&extra, " tsc_early_khz=2000000");
	vm_cmdline_build(b->cmdline, root.buf, extra.buf, vm->o.append, &cmd);
	vm->cmdline = strbuf_detach(&cmd, NULL);

	vm->g.kernel = vm->kernel;
	vm->g.kernel_pvh = pvh;
	vm->g.initrd = vm->initrd;
	vm->g.cmdline = vm->cmdline;
	return 0;
}

/* UEFI: OVMF's code and a private copy of its variables (the guest's boot entries stay its own). */
static int prepare_ovmf(struct vm *vm, struct pb_err *err)
{
	const char *dir = vm->o.ovmf_dir ? vm->o.ovmf_dir : "/usr/share/OVMF";
	_cleanup_free_ char *vars = path_join(dir, "OVMF_VARS_4M.fd");
	int r;

	vm->ovmf_code = path_join(dir, "OVMF_CODE_4M.fd");
	if (access(vm->ovmf_code, R_OK) < 0 || access(vars, R_OK) < 0)
		return pb_err_set(err, -ENOENT, "%s: UEFI firmware not found (install ovmf)", vm->ovmf_code);
	if (!vm->tmpdir && (r = make_tmpdir(vm, err)) < 0)
		return r;
	vm->vars = path_join(vm->tmpdir, "OVMF_VARS.fd");
	/* a private copy: the guest's boot entries must not leak into other VMs */
	r = copy_file(vars, vm->vars, err);
	if (r < 0)
		return r;
	vm->g.ovmf_code = vm->ovmf_code;
	vm->g.ovmf_vars = vm->vars;
	return 0;
}

/* Firmware mode: the whole-disk view (disk-view.c). */
int vm_prepare_view(struct vm *vm, struct pb_err *err)
{
	_cleanup_free_ struct part_info *parts = NULL;
	_cleanup_free_ struct vm_extent *ext = NULL;
	size_t n = part_disk_count(vm->disk), n_ext = 0;
	uint64_t size = part_disk_size(vm->disk);
	int r;

	parts = xcalloc(n ? n : 1, sizeof(*parts));
	for (size_t i = 0; i < n; i++) {
		r = part_disk_get(vm->disk, i, &parts[i]);
		if (r < 0)
			return pb_err_set(err, r, "%s: cannot read partition %zu", vm->disk_path, i + 1);
	}
	r = vm_disk_view_plan(parts, n, vm->p.partno, size - size % 512, &ext, &n_ext, err);
	if (r < 0)
		return pb_err_prefix(err, r, "%s: ", vm->disk_path);

	if (!vm->tmpdir && (r = make_tmpdir(vm, err)) < 0)
		return r;
	vm->shadow = path_join(vm->tmpdir, "shadow.img");
	vm->view = path_join(vm->tmpdir, "disk.vmdk");
	r = vm_disk_view_write(part_disk_fd(vm->disk), part_disk_is_blockdev(vm->disk), size - size % 512, ext,
			       n_ext, vm->disk_path, vm->shadow, vm->view, err);
	if (r < 0)
		return pb_err_prefix(err, r, "%s: disk view: ", vm->disk_path);
	vm->view_extents = n_ext;
	vm->g.view_path = vm->view;
	vm->g.view_extents = n_ext;
	return 0;
}

static int prepare_firmware(struct vm *vm, struct pb_err *err)
{
	int r;

	if (vm->o.mode == VM_MODE_UEFI) {
		r = prepare_ovmf(vm, err);
		if (r < 0)
			return r;
	}
	return vm_prepare_view(vm, err);
}

/*
 * Take partition p of d: check it is unused and lock it. A runner (install
 * false) then drops the whole-disk lock so other guests of the disk stay
 * usable; an install keeps it, as `partboot install` does.
 */
static int prepare_take(struct vm *vm, struct part_disk *d, const struct part_info *p, bool install,
			struct strbuf *where, struct pb_err *err)
{
	char real[PATH_MAX];
	int r;

	vm->disk = d;
	vm->p = *p;
	if (!realpath(part_disk_path(d), real))
		return pb_err_set(err, -errno, "%s: %s", part_disk_display(d), strerror(errno));
	vm->disk_path = xstrdup(real);
	vm->name = p->name[0] ? xstrdup(p->name) : NULL;
	if (!vm->name) {
		struct strbuf nb = STRBUF_INIT;

		strbuf_addf(&nb, "%u", p->partno);
		vm->name = strbuf_detach(&nb, NULL);
	}
	strbuf_addf(where, "%s: partition '%s'", part_disk_display(d), vm->name);

	if (install) {
		switch (vm->p.type) {
		case PART_TYPE_ESP:
		case PART_TYPE_BIOS_BOOT:
		case PART_TYPE_SWAP:
			return pb_err_set(err, -EINVAL, "%s has type %s; a guest goes into a root or data partition",
					  where->buf, part_type_to_string(vm->p.type));
		default:
			break;
		}
	}
	r = part_disk_check_unused(vm->disk, &vm->p, err);
	if (r < 0)
		return r;
	r = part_disk_lock_partition(vm->disk, &vm->p, err);
	if (r < 0)
		return r;
	vm->locked = true;
	if (!install) {
		/* keep only the partition lock: other guests of this disk stay usable meanwhile */
		r = part_disk_unlock(vm->disk);
		if (r < 0)
			return pb_err_set(err, r, "%s: cannot drop the disk lock: %s", part_disk_display(d),
					  strerror(-r));
	}

	vm->g.name = vm->name;
	vm->g.disk_path = vm->disk_path;
	vm->g.blockdev = part_disk_is_blockdev(vm->disk);
	vm->g.disk_size = part_disk_size(vm->disk);
	vm->g.part_start = vm->p.start;
	vm->g.part_size = vm->p.size;
	return 0;
}

static int prepare_new(const struct vm_opts *o, struct vm **ret, struct pb_err *err)
{
	struct vm_accel_facts facts;
	const char *why = NULL;
	const char *qemu = o->qemu ? o->qemu : VM_DEFAULT_QEMU;
	struct vm *vm;

	/* Refuse before touching anything when QEMU is missing. */
	if (!pb_have_program(qemu))
		return pb_err_set(err, -ENOENT, "%s not found: install qemu-system-x86 (make deps)", qemu);
	vm = xcalloc(1, sizeof(*vm));
	vm->o = *o;
	vm_accel_probe(&facts);
	vm->accel = vm_accel_choose(o->accel, &facts, &why);
	if (why && facts.kvm_dev)
		vm->warning = xstrdup(why);
	*ret = vm;
	return 0;
}

int vm_prepare_installer(struct part_disk *d, const struct part_info *p, const struct vm_opts *o, struct vm **ret,
			 struct pb_err *err)
{
	_cleanup_(vm_freep) struct vm *vm = NULL;
	_cleanup_(strbuf_release) struct strbuf where = STRBUF_INIT;
	int r;

	if (o->mode == VM_MODE_DIRECT)
		return pb_err_set(err, -EINVAL, "an installer boots in firmware mode (bios or uefi)");
	r = prepare_new(o, &vm, err);
	if (r < 0)
		return r;
	r = prepare_take(vm, d, p, true, &where, err);
	if (r < 0)
		return r;
	if (o->cdrom) {
		struct stat st;

		vm->g.cdrom_blockdev = stat(o->cdrom, &st) == 0 && S_ISBLK(st.st_mode);
	}
	if (o->mode == VM_MODE_UEFI) {
		r = prepare_ovmf(vm, err);
		if (r < 0)
			return r;
	}
	if (!vm->o.mem)
		vm->o.mem = vm_installer_mem(vm_host_mem());
	if (o->status && !o->console_path) {
		/* progress is read from the console: QEMU writes it to a file of the VM's own */
		if (!vm->tmpdir && (r = make_tmpdir(vm, err)) < 0)
			return r;
		vm->console = path_join(vm->tmpdir, "console.log");
		vm->o.console_path = vm->console;
		vm->o.interactive = false;
	}
	*ret = TAKE_PTR(vm);
	return 0;
}

uint64_t vm_installer_mem(uint64_t host_mem)
{
	uint64_t m = VM_INSTALLER_DEFAULT_MEM;

	if (host_mem && m > host_mem / 2)
		m = host_mem / 2 & ~(uint64_t)(MiB - 1);
	return m < VM_DEFAULT_MEM ? VM_DEFAULT_MEM : m;
}

uint64_t vm_host_mem(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

int vm_serve_answers(struct vm *vm, const char *file, const char *url, struct pb_err *err)
{
	if (vm->answers_srv)
		return pb_err_set(err, -EEXIST, "the answers are served already");
	return vm_answers_start(file, url, &vm->answers_srv, err);
}

unsigned vm_answers_fetched(const struct vm *vm)
{
	return vm_answers_server_fetched(vm->answers_srv);
}

void vm_set_console_last(struct vm *vm, const char *line)
{
	snprintf(vm->console_last, sizeof(vm->console_last), "%s", line);
}

const char *vm_console_last_line(const struct vm *vm)
{
	return vm->console_last;
}

void vm_set_interrupted(struct vm *vm, bool interrupted)
{
	vm->interrupted = interrupted;
}

bool vm_was_interrupted(const struct vm *vm)
{
	return vm->interrupted;
}

int vm_attach_answers(struct vm *vm, const char *file, struct pb_err *err)
{
	int r;

	if (!vm->tmpdir && (r = make_tmpdir(vm, err)) < 0)
		return r;
	vm->answers = path_join(vm->tmpdir, "answers.img");
	r = copy_file(file, vm->answers, err);
	if (r < 0)
		return r;
	/* a whole number of sectors, room to spare: 1 MiB (the file is at most that) */
	if (truncate(vm->answers, 1 * MiB) < 0)
		return pb_err_set(err, -errno, "%s: cannot size: %s", vm->answers, strerror(errno));
	vm->o.answers_disk = vm->answers;
	return 0;
}

int vm_prepare(struct part_disk *d, const struct part_info *p, const struct vm_boot *b, const struct vm_opts *o,
	       struct vm **ret, struct pb_err *err)
{
	_cleanup_(vm_freep) struct vm *vm = NULL;
	_cleanup_(fs_freep) struct fs *fs = NULL;
	_cleanup_(strbuf_release) struct strbuf where = STRBUF_INIT;
	int r;

	r = prepare_new(o, &vm, err);
	if (r < 0)
		return r;
	r = prepare_take(vm, d, p, false, &where, err);
	if (r < 0)
		return r;
	if (o->mode == VM_MODE_DIRECT) {
		struct fs_target t = { .path = vm->disk_path, .offset = vm->p.start, .size = vm->p.size,
				       .where = where.buf };

		r = fs_open(&t, &fs, err);
		if (r < 0)
			return r;
		r = prepare_direct(vm, fs, b, where.buf, err);
	} else {
		r = prepare_firmware(vm, err);
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(vm);
	return 0;
}

int vm_print_cmdline(struct vm *vm, struct strbuf *out, struct pb_err *err)
{
	struct vm_run_ctx c = { .accel = vm->accel, .qmp_fd = -1, .for_display = true };
	struct vm_opts o = vm->o;
	char **argv = NULL;
	int r;

	/* whoever runs the printed line gets the console with Ctrl-A x to quit */
	if (!o.console_path)
		o.interactive = true;
	r = vm_argv_build(&o, &vm->g, &c, &argv, err);
	if (r < 0)
		return r;
	vm_argv_quote(argv, out);
	vm_strv_free(argv);
	vm->keep_files = true;
	return 0;
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
		default: strbuf_addch(sb, *s);
		}
	}
}

int vm_libvirt_xml(struct vm *vm, struct strbuf *x, struct pb_err *err)
{
	const struct vm_guest *g = &vm->g;
	uint64_t mem = vm->o.mem ? vm->o.mem : VM_DEFAULT_MEM;
	const char *qemu = vm->o.qemu ? vm->o.qemu : VM_DEFAULT_QEMU;

	/* libvirt has no microvm: q35, with the same kernel, disk and console. */
	strbuf_addf(x, "<domain type='%s'>\n", vm->accel == VM_ACCEL_KVM ? "kvm" : "qemu");
	strbuf_addstr(x, "  <name>partboot-");
	xml_escaped(x, g->name);
	strbuf_addstr(x, "</name>\n");
	strbuf_addf(x, "  <memory unit='MiB'>%" PRIu64 "</memory>\n", mem / (1024 * 1024));
	strbuf_addf(x, "  <vcpu>%u</vcpu>\n", vm_cpus_for(&vm->o, vm->accel));
	strbuf_addstr(x, "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n");
	if (vm->o.mode == VM_MODE_DIRECT) {
		strbuf_addstr(x, "    <kernel>");
		xml_escaped(x, g->kernel);
		strbuf_addstr(x, "</kernel>\n");
		if (g->initrd) {
			strbuf_addstr(x, "    <initrd>");
			xml_escaped(x, g->initrd);
			strbuf_addstr(x, "</initrd>\n");
		}
		strbuf_addstr(x, "    <cmdline>");
		xml_escaped(x, g->cmdline);
		strbuf_addstr(x, "</cmdline>\n");
	} else if (vm->o.mode == VM_MODE_UEFI) {
		strbuf_addstr(x, "    <loader readonly='yes' type='pflash'>");
		xml_escaped(x, g->ovmf_code);
		strbuf_addstr(x, "</loader>\n    <nvram>");
		xml_escaped(x, g->ovmf_vars);
		strbuf_addstr(x, "</nvram>\n");
	}
	if (vm->o.mode != VM_MODE_DIRECT)
		strbuf_addstr(x, "    <boot dev='hd'/>\n");
	strbuf_addstr(x, "  </os>\n  <features><acpi/></features>\n");
	if (vm->accel == VM_ACCEL_KVM)
		strbuf_addstr(x, "  <cpu mode='host-passthrough'/>\n");
	strbuf_addstr(x, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
			 "  <on_crash>destroy</on_crash>\n  <devices>\n    <emulator>");
	if (!strchr(qemu, '/'))
		strbuf_addstr(x, "/usr/bin/");
	xml_escaped(x, qemu);
	strbuf_addstr(x, "</emulator>\n");
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
	strbuf_addstr(x, "      <target dev='vda' bus='virtio'/>\n");
	if (vm->o.snapshot)
		strbuf_addstr(x, "      <transient/>\n");
	strbuf_addstr(x, "    </disk>\n");
	if (vm->o.net == VM_NET_USER)
		strbuf_addstr(x, "    <interface type='user'><model type='virtio'/></interface>\n");
	strbuf_addstr(x, "    <serial type='pty'><target port='0'/></serial>\n"
			 "    <console type='pty'><target type='serial' port='0'/></console>\n"
			 "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
			 "    <panic model='isa'/>\n"
			 "  </devices>\n</domain>\n");
	vm->keep_files = true;
	(void)err;
	return 0;
}
