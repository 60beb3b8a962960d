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
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/run.h"
#include "common/tmpdir.h"
#include "fs/fs.h"
#include "vm-private.h"


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
		if (vm->cidata)
			unlink(vm->cidata);
		if (vm->own_console)
			unlink(vm->own_console);
		rmdir(vm->tmpdir);
	}
	vm_answers_stop(vm->answers_srv);
	if (vm->locked)
		part_disk_unlock_partition(vm->disk, &vm->p);
	if (vm->boot_locked)
		part_disk_unlock_partition(vm->disk, &vm->boot_p);
	free(vm->kver);
	free(vm->hw_why);
	free(vm->hw_warning);
	free(vm->own_console);
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
	free(vm->cidata);
	free(vm->warning);
	free(vm->where);
	free(vm->domain);
	free(vm->libvirt_dir);
	free(vm->vars_template);
	free(vm->console);
	vm_strv_free(vm->shadows.v);
	free(vm->ext);
	free(vm->notice);
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

const char *vm_shadow(const struct vm *vm, uint64_t *ret_max)
{
	*ret_max = vm->shadow_max;
	return vm->shadow && vm->g.view_path ? vm->shadow : NULL;
}

const char *vm_where(const struct vm *vm)
{
	return vm->where ? vm->where : "the guest";
}

void vm_opts_get(const struct vm *vm, struct vm_opts *ret)
{
	*ret = vm->o;
}

const struct vm_guest *vm_guest(const struct vm *vm)
{
	return &vm->g;
}

const char *vm_view_shadow_at(const struct vm *vm, uint64_t off, uint64_t *ret_base)
{
	size_t k = 0;

	*ret_base = 0;
	if (!vm->g.view_path)
		return NULL;
	for (size_t i = 0; i < vm->n_ext; i++) {
		const struct vm_extent *e = &vm->ext[i];

		if (e->src != VM_EXTENT_SHADOW)
			continue;
		if (off >= e->start && off - e->start < e->size) {
			if (!vm->o.libvirt)
				return vm->shadow;
			*ret_base = e->start;
			return k < vm->shadows.n ? vm->shadows.v[k] : NULL;
		}
		k++;
	}
	return NULL;
}

const char *vm_hw_why(const struct vm *vm)
{
	return vm->hw_why;
}

const char *vm_hw_warning(const struct vm *vm)
{
	return vm->hw_warning;
}

double vm_hw_inspect_ms(const struct vm *vm, bool *ret_cached)
{
	if (ret_cached)
		*ret_cached = vm->hw_cached;
	return vm->hw_ms;
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

static int copy_file_mode(const char *from, const char *to, mode_t mode, struct pb_err *err)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return pb_err_set(err, -errno, "%s: cannot open: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0)
		return pb_err_set(err, -errno, "%s: cannot create: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return pb_err_set(err, -EIO, "%s: cannot write: %s", to, strerror(errno));
	if (n < 0)
		return pb_err_set(err, -errno, "%s: cannot read: %s", from, strerror(errno));
	if (fchmod(out, mode) < 0) /* whatever the umask took away */
		return pb_err_set(err, -errno, "%s: cannot chmod: %s", to, strerror(errno));
	return 0;
}

static int copy_file(const char *from, const char *to, struct pb_err *err)
{
	return copy_file_mode(from, to, 0600, err);
}

/*
 * libvirt: the kernel and initrd from the cache into the domain's folder
 * (libvirt's QEMU cannot reach the cache, and the domain must outlive it).
 */
static int libvirt_boot_files(struct vm *vm, struct pb_err *err)
{
	char *k = path_join(vm->libvirt_dir, "kernel");
	char *i = vm->initrd ? path_join(vm->libvirt_dir, "initrd") : NULL;
	int r;

	r = copy_file_mode(vm->kernel, k, 0644, err);
	if (r >= 0 && i)
		r = copy_file_mode(vm->initrd, i, 0644, err);
	free(vm->kernel);
	free(vm->initrd);
	vm->kernel = k;
	vm->initrd = i;
	return r;
}

/* Direct mode: kernel, initrd and command line from the guest's own /boot and /etc/kernel/cmdline. */
static int prepare_direct(struct vm *vm, struct fs *fs, const struct vm_boot *b, const char *where, char *initrd_data,
			  size_t initrd_len, struct pb_err *err)
{
	_cleanup_free_ char *kdata = NULL;
	_cleanup_free_ char *idata = initrd_data; /* read by the inspection already, or NULL */
	_cleanup_free_ char *cache = NULL;
	_cleanup_(strbuf_release) struct strbuf root = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf extra = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf cmd = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf key = STRBUF_INIT;
	struct part_probe probe = { 0 }, bprobe = { 0 };
	uint64_t ksize = 0, isize = 0;
	int64_t kmtime = 0, imtime = 0;
	size_t klen = 0, ilen = initrd_len;
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
	if (vm->has_boot && part_disk_probe(vm->disk, &vm->boot_p, &bprobe) < 0)
		bprobe.uuid[0] = '\0';

	/*
	 * A second run of the same guest need not read kernel and initrd again
	 * (tens of ms through libext2fs): the cache index is keyed by what
	 * identifies them without reading — filesystem UUID, paths, sizes and
	 * modification times.
	 */
	if (probe.uuid[0] && vm_guest_stat(fs, b->kernel, &ksize, &kmtime) &&
	    (!initrd || vm_guest_stat(fs, initrd, &isize, &imtime)))
		strbuf_addf(&key, "partboot-boot-files-v1 pvh=%d fs=%s%s%s kernel=%s:%" PRIu64 ":%" PRId64
			    " initrd=%s:%" PRIu64 ":%" PRId64, !vm->o.no_pvh, probe.uuid, vm->has_boot ? " boot=" : "",
			    vm->has_boot ? bprobe.uuid : "", b->kernel, ksize, kmtime, initrd ? initrd : "", isize, imtime);
	if (!key.len || vm_boot_files_lookup(cache, key.buf, &vm->kernel, &pvh, &vm->initrd) < 0) {
		r = fs_read_file_max(fs, b->kernel, FS_KERNEL_MAX, &kdata, &klen, err);
		if (r < 0)
			return pb_err_prefix(err, r, "%s: ", where);
		if (initrd && !idata) {
			r = fs_read_file_max(fs, initrd, FS_INITRD_MAX, &idata, &ilen, err);
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
	if (vm->g.machine == VM_MACHINE_MICROVM && vm->accel == VM_ACCEL_TCG)
		/* microvm has no PIT to calibrate against; TCG then hangs calibrating the TSC */
		strbuf_addstr(&extra, " tsc_early_khz=2000000");
	vm_cmdline_build(b->cmdline, root.buf, extra.buf, vm->o.append, &cmd);
	vm->cmdline = strbuf_detach(&cmd, NULL);

	if (vm->o.libvirt) {
		r = libvirt_boot_files(vm, err);
		if (r < 0)
			return r;
	}
	vm->g.kernel = vm->kernel;
	vm->g.kernel_pvh = pvh;
	vm->g.initrd = vm->initrd;
	vm->g.cmdline = vm->cmdline;
	if (vm->has_boot) {
		vm->g.boot_start = vm->boot_p.start;
		vm->g.boot_size = vm->boot_p.size;
	}
	return 0;
}

/*
 * UEFI: OVMF's code and a private copy of its variables (the guest's boot
 * entries stay its own). Secure Boot: Debian's OVMF build with Secure Boot
 * (OVMF_CODE_4M.secboot.fd, which needs SMM: qemu.c) and variables with
 * Microsoft's keys enrolled and Secure Boot on (OVMF_VARS_4M.ms.fd), so
 * shim, signed by Microsoft's UEFI CA, is the only loader that runs.
 */
static int prepare_ovmf(struct vm *vm, struct pb_err *err)
{
	const char *dir = vm->o.ovmf_dir ? vm->o.ovmf_dir : "/usr/share/OVMF";
	bool sb = vm->o.secure_boot;
	_cleanup_free_ char *vars = path_join(dir, sb ? "OVMF_VARS_4M.ms.fd" : "OVMF_VARS_4M.fd");
	int r;

	vm->ovmf_code = path_join(dir, sb ? "OVMF_CODE_4M.secboot.fd" : "OVMF_CODE_4M.fd");
	if (access(vm->ovmf_code, R_OK) < 0 || access(vars, R_OK) < 0)
		return pb_err_set(err, -ENOENT, "%s: UEFI firmware%s not found (install ovmf)",
				  access(vm->ovmf_code, R_OK) < 0 ? vm->ovmf_code : vars, sb ? " with Secure Boot" : "");
	vm->g.ovmf_code = vm->ovmf_code;
	if (vm->o.libvirt) {
		/* libvirt makes the domain's copy of the variables itself, from this template */
		vm->vars_template = TAKE_PTR(vars);
		return 0;
	}
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
	{
		unsigned live[2] = { vm->p.partno, vm->boot_p.partno };

		/* a separate /boot is live too: the guest's GRUB reads its kernel there, its fstab mounts it */
		r = vm_disk_view_plan_live(parts, n, live, vm->has_boot ? 2 : 1, size - size % 512, &ext, &n_ext, err);
	}
	if (r < 0)
		return pb_err_prefix(err, r, "%s: ", vm->disk_path);

	if (!vm->tmpdir && (r = make_tmpdir(vm, err)) < 0)
		return r;
	/* libvirt: one shadow file per extent (disk-view.c), DIR/shadow-N.img */
	vm->shadow = path_join(vm->tmpdir, vm->o.libvirt ? "shadow" : "shadow.img");
	vm->view = path_join(vm->tmpdir, "disk.vmdk");
	r = vm_disk_view_write(part_disk_fd(vm->disk), part_disk_is_blockdev(vm->disk), size - size % 512, ext,
			       n_ext, vm->disk_path, vm->shadow, vm->view, vm->o.libvirt, err);
	if (r < 0)
		return pb_err_prefix(err, r, "%s: disk view: ", vm->disk_path);
	for (size_t i = 0; vm->o.libvirt && i < n_ext; i++)
		if (ext[i].src == VM_EXTENT_SHADOW)
			strv_addf(&vm->shadows, "%s-%zu.img", vm->shadow, i);
	vm->view_extents = n_ext;
	vm->ext = xcalloc(n_ext ? n_ext : 1, sizeof(*ext));
	memcpy(vm->ext, ext, n_ext * sizeof(*ext));
	vm->n_ext = n_ext;
	/* what the guest may rewrite: the copies (tables, gaps, ESP, BIOS boot partition), and a little more */
	vm->shadow_max = VM_SHADOW_SLACK;
	for (size_t i = 0; i < n_ext; i++)
		if (ext[i].src == VM_EXTENT_SHADOW && ext[i].copy)
			vm->shadow_max += ext[i].size;
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
static int prepare_take(struct vm *vm, struct part_disk *d, const struct part_info *p, const struct part_info *boot,
			bool install, struct strbuf *where, struct pb_err *err)
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
	vm->where = xstrdup(where->buf);

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
	/* a separate /boot: the VM writes there too (the guest mounts it), so it is held as the root is */
	if (boot) {
		vm->boot_p = *boot;
		vm->has_boot = true;
		r = part_disk_check_unused(vm->disk, &vm->boot_p, err);
		if (r < 0)
			return r;
		r = part_disk_lock_partition(vm->disk, &vm->boot_p, err);
		if (r < 0)
			return r;
		vm->boot_locked = true;
	}
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
	if (o->cpu_model && vm_cpu_model_check(o->cpu_model, o->libvirt, err) < 0)
		return -EINVAL;
	vm = xcalloc(1, sizeof(*vm));
	vm->o = *o;
	if (o->libvirt) {
		/* libvirt has no microvm: q35 in direct mode too */
		if (o->machine == VM_MACHINE_MICROVM) {
			free(vm);
			return pb_err_set(err, -EINVAL, "libvirt has no microvm machine: use q35");
		}
		vm->o.machine = VM_MACHINE_Q35;
	}
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
	if (o->libvirt)
		return pb_err_set(err, -EINVAL, "an installer runs in partboot's own VM, not under libvirt");
	r = prepare_new(o, &vm, err);
	if (r < 0)
		return r;
	r = prepare_take(vm, d, p, NULL, true, &where, err);
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
		vm->own_console = path_join(vm->tmpdir, "console.log");
		vm->o.console_path = vm->own_console;
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

int vm_tmpdir(struct vm *vm, const char **ret, struct pb_err *err)
{
	int r;

	if (!vm->tmpdir && (r = make_tmpdir(vm, err)) < 0)
		return r;
	*ret = vm->tmpdir;
	return 0;
}

void vm_set_cidata(struct vm *vm, char *path)
{
	free(vm->cidata);
	vm->cidata = path;
	vm->o.cidata_disk = path;
}

const struct part_disk *vm_disk(const struct vm *vm)
{
	return vm->disk;
}

const struct part_info *vm_part(const struct vm *vm)
{
	return &vm->p;
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

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Look inside the guest (inspect.c) and choose its machine, controller and
 * card (hw.c). root and boot may be NULL (firmware mode on a filesystem fs/
 * cannot read): then nothing is known and the default is taken. The
 * initramfs read on the way is handed back for direct mode.
 */
static int prepare_hw(struct vm *vm, struct fs *root, struct fs *boot, const struct vm_boot *b, const char *where,
		      char **ret_initrd, size_t *ret_initrd_len, struct pb_err *err)
{
	struct vm_hw_choice c = VM_HW_CHOICE_INIT;
	struct part_probe pr = { 0 }, bpr = { 0 };
	_cleanup_free_ char *cache = NULL;
	struct strbuf id = STRBUF_INIT;
	struct pb_err ierr = PB_ERR_INIT;
	const char *why_not = NULL;
	int64_t t0 = now_us();
	int r;

	if (b && b->version)
		vm->kver = xstrdup(b->version);
	if (!root || !b || !b->kernel || !*b->kernel) {
		why_not = !root ? "its filesystem cannot be read" : "no kernel found in the guest";
	} else {
		struct vm_hw_source src = { .boot_fs = boot ? boot : root, .root_fs = root, .b = b };

		cache = vm->o.cache_dir ? xstrdup(vm->o.cache_dir) : vm_cache_dir_default();
		if (part_disk_probe(vm->disk, &vm->p, &pr) < 0)
			pr.uuid[0] = '\0';
		if (vm->has_boot && part_disk_probe(vm->disk, &vm->boot_p, &bpr) < 0)
			bpr.uuid[0] = '\0';
		/* without a filesystem UUID nothing names the guest reliably: no cache */
		strbuf_addf(&id, "fs=%s boot=%s", pr.uuid, bpr.uuid);
		src.id = id.buf;
		src.cache_dir = pr.uuid[0] ? cache : NULL;
		r = vm_hw_inspect(&src, &vm->facts, &vm->hw_cached, ret_initrd, ret_initrd_len, &ierr);
		if (r < 0) {
			/* the kernel may read what partboot cannot: choose blind, and say why */
			vm->facts = (struct vm_hw_facts){ 0 };
			why_not = pb_err_msg(&ierr);
		}
	}
	vm->hw_ms = (double)(now_us() - t0) / 1000.0;
	r = vm_hw_choose_for(vm, &vm->o, false, why_not, &c, err);
	pb_err_clear(&ierr);
	strbuf_release(&id);
	if (r < 0) {
		vm_hw_choice_release(&c);
		return pb_err_prefix(err, r, "%s: ", where);
	}
	vm->g.machine = c.machine;
	vm->g.bus = c.bus;
	vm->g.nic = c.nic;
	vm->hw_why = strbuf_detach(&c.why, NULL);
	vm->hw_warning = c.warning.len ? strbuf_detach(&c.warning, NULL) : NULL;
	vm_hw_choice_release(&c);
	return 0;
}

int vm_prepare(struct part_disk *d, const struct part_info *p, const struct vm_boot *b, const struct vm_opts *o,
	       struct vm **ret, struct pb_err *err)
{
	_cleanup_(vm_freep) struct vm *vm = NULL;
	_cleanup_(fs_freep) struct fs *fs = NULL;
	_cleanup_(fs_freep) struct fs *bfs = NULL;
	_cleanup_(strbuf_release) struct strbuf where = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf bwhere = STRBUF_INIT;
	char *idata = NULL;
	size_t ilen = 0;
	int r;

	r = prepare_new(o, &vm, err);
	if (r < 0)
		return r;
	r = prepare_take(vm, d, p, b ? b->boot_part : NULL, false, &where, err);
	if (r < 0)
		return r;
	if (o->libvirt) {
		r = vm_libvirt_prepare_dir(vm, err);
		if (r < 0)
			return r;
	}
	{
		struct fs_target t = { .path = vm->disk_path, .offset = vm->p.start, .size = vm->p.size,
				       .where = where.buf };
		struct pb_err ferr = PB_ERR_INIT;

		/* direct mode reads the boot files through fs/; firmware mode only looks, when it can */
		r = fs_open(&t, &fs, o->mode == VM_MODE_DIRECT ? err : &ferr);
		pb_err_clear(&ferr);
		if (r < 0 && o->mode == VM_MODE_DIRECT)
			return r;
	}
	if (fs && vm->has_boot) {
		struct pb_err ferr = PB_ERR_INIT;
		struct fs_target t = { .path = vm->disk_path, .offset = vm->boot_p.start, .size = vm->boot_p.size };

		strbuf_addf(&bwhere, "%s: partition '%s' (its /boot)", part_disk_display(d),
			    vm->boot_p.name[0] ? vm->boot_p.name : "?");
		t.where = bwhere.buf;
		r = fs_open(&t, &bfs, o->mode == VM_MODE_DIRECT ? err : &ferr);
		pb_err_clear(&ferr);
		if (r < 0 && o->mode == VM_MODE_DIRECT)
			return r;
		if (r < 0) {
			fs_free(fs); /* nothing to inspect without the kernel's files */
			fs = NULL;
		}
	}
	if (o->mode == VM_MODE_DIRECT && (!b || !b->kernel || !*b->kernel))
		return pb_err_set(err, -ENOENT, "%s: no kernel in /boot (direct mode boots /boot/vmlinuz-*; "
				  "try --firmware bios|uefi)", where.buf);
	r = prepare_hw(vm, fs, bfs, b, where.buf, &idata, &ilen, err);
	if (r < 0) {
		free(idata);
		return r;
	}
	if (o->mode == VM_MODE_DIRECT)
		r = prepare_direct(vm, bfs ? bfs : fs, b, vm->has_boot ? bwhere.buf : where.buf, idata, ilen, err);
	else {
		free(idata);
		r = prepare_firmware(vm, err);
	}
	if (r >= 0 && o->libvirt)
		r = vm_libvirt_finish(vm, err);
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
