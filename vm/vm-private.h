/* SPDX-License-Identifier: MIT */
/* Shared between the files of vm/ only; other folders include vm.h. */
#ifndef PARTBOOT_VM_PRIVATE_H
#define PARTBOOT_VM_PRIVATE_H

#include <stdarg.h>
#include <sys/types.h>

#include "vm.h"

/* strv.c: a growable NULL-terminated vector of malloc'ed strings. */
struct strv {
	char **v;
	size_t n, alloc;
};
void strv_add(struct strv *s, const char *str);
void strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The prepared VM (prepare.c makes it; run.c, qemu.c and libvirt.c read it).
 * Strings are owned.
 */
struct vm {
	struct vm_opts o;
	struct part_disk *disk; /* borrowed from the caller */
	struct part_info p;
	bool locked;            /* p's partition lock is ours */
	struct part_info boot_p; /* a separate /boot partition the VM sees too */
	bool has_boot, boot_locked;
	/* what the guest was found to hold (inspect.c) and what was chosen from it (hw.c) */
	struct vm_hw_facts facts;
	char *kver, *hw_why, *hw_warning;
	double hw_ms;
	bool hw_cached;
	char *disk_path; /* absolute: vmdk extents and printed commands need it */
	char *name;      /* the partition's name (or number) */
	char *kernel, *initrd, *cmdline;
	char *tmpdir, *shadow, *view, *vars, *ovmf_code, *answers, *cidata;
	size_t view_extents;
	struct vm_extent *ext; /* the view's extents (firmware mode), n_ext of them */
	size_t n_ext;
	uint64_t shadow_max; /* bytes the shadow may hold: its copies and VM_SHADOW_SLACK */
	char *where;         /* "DISK: partition 'NAME'" */
	struct vm_guest g;
	enum vm_accel accel;
	char *warning;
	bool keep_files; /* --print-cmdline / libvirt: the printed command needs them */
	bool interrupted; /* vm_run() got SIGINT/SIGTERM (the guest may still have powered off) */
	/* o.libvirt */
	char *domain;         /* the domain's name */
	char *libvirt_dir;    /* its folder (also tmpdir, kept) */
	char *vars_template;  /* uefi: what libvirt copies into the domain's variable store */
	char *console;        /* the console file, absolute, or NULL */
	struct strv shadows;  /* firmware mode: the split shadow's files */
	char *notice;         /* what was changed so that libvirt's QEMU can do its work */
	/* installers (o.status) */
	char *own_console;    /* the VM's own console file (a status callback and no console_path) */
	char console_last[VM_CONSOLE_LINE_MAX + 1];
	struct vm_answers_server *answers_srv;
};

/*
 * libvirt.c, for vm_prepare() with o.libvirt. vm_libvirt_prepare_dir():
 * the domain's name and its folder, emptied or made (root: under
 * /var/lib/libvirt/boot/partboot/, else the cache; see docs/vm.md), set as
 * vm->tmpdir and kept. vm_libvirt_finish(), once the files are there: as
 * root, hands the shadow files to libvirt-qemu, grants it access to the
 * disk in firmware mode, and checks that it reaches every file.
 */
int vm_libvirt_prepare_dir(struct vm *vm, struct pb_err *err);
/*
 * hw-for.c: the machine, controller and network card for o from what
 * vm_prepare() found in the guest (vm->facts); libvirt: without what
 * libvirt lacks (microvm; NVMe disks in libvirt 9). why_not: why the guest
 * was not inspected, or NULL.
 */
int vm_hw_choose_for(struct vm *vm, const struct vm_opts *o, bool libvirt, const char *why_not,
		     struct vm_hw_choice *c, struct pb_err *err);
int vm_libvirt_finish(struct vm *vm, struct pb_err *err);

/*
 * disk-view.c: create shadow_path (sparse, disk_size) holding the copies the
 * plan asks for, and view_path (the vmdk descriptor). Reads disk_fd only.
 * split: one file per shadow extent instead, shadow_path-N.img (N the
 * extent's index; the descriptor must sit in the same folder).
 */
int vm_disk_view_write(int disk_fd, bool blockdev, uint64_t disk_size, const struct vm_extent *e, size_t n,
		       const char *disk_path, const char *shadow_path, const char *view_path, bool split,
		       struct pb_err *err);

/*
 * boot-files.c: store a kernel and initrd read from the guest in the cache
 * directory (content-addressed, reused across runs) and return their paths
 * (malloc'ed). With pvh, also unpack the bzImage's payload into an ELF with a
 * PVH entry when possible (*ret_pvh tells), which QEMU boots without running
 * the kernel's decompressor (seconds under TCG).
 */
int vm_boot_files_store(const char *cache_dir, const char *kernel, size_t kernel_len, const char *initrd,
			size_t initrd_len, bool pvh, char **ret_kernel, bool *ret_pvh, char **ret_initrd,
			struct pb_err *err);
/*
 * Without reading the files: the cached kernel and initrd remembered for key
 * (0), or -ENOENT. vm_boot_files_remember() records them (best effort).
 */
int vm_boot_files_lookup(const char *cache_dir, const char *key, char **ret_kernel, bool *ret_pvh,
			 char **ret_initrd);
void vm_boot_files_remember(const char *cache_dir, const char *key, const char *kernel, bool pvh,
			    const char *initrd);
/* The default cache directory (malloc'ed), or NULL without HOME. */
char *vm_cache_dir_default(void);
/* boot-files.c: a fast 64-bit hash (not cryptographic: cache names, every hit is checked). */
uint64_t vm_hash64(const char *data, size_t len);
/* mkdir -p, 0700. Returns 0 or -errno. */
int vm_mkdir_p(const char *path);
/* Write a file through a temporary name and rename(): readers never see half a file. err may be NULL. */
int vm_write_atomic(const char *path, const char *data, size_t len, struct pb_err *err);

/*
 * inspect.c: what the guest's kernel can boot from (vm_hw_facts), looked up
 * in the cache directory first: by what identifies the files without reading
 * them (filesystem UUIDs, paths, sizes, mtimes), then by the initramfs's
 * content. boot_fs holds b's kernel, initrd and config; root_fs the root
 * (/lib/modules/VERSION). On a miss the initramfs is read, and handed back in
 * *ret_initrd (malloc'ed, may be NULL when there is none) so the caller need
 * not read it again; ret_initrd may be NULL. cache_dir NULL: nothing cached.
 */
struct fs;
struct vm_hw_source {
	struct fs *boot_fs, *root_fs;
	const struct vm_boot *b;
	const char *id;        /* names the filesystems in the cache key ("ROOTUUID BOOTUUID") */
	const char *cache_dir;
};
int vm_hw_inspect(const struct vm_hw_source *src, struct vm_hw_facts *ret, bool *ret_cached, char **ret_initrd,
		  size_t *ret_initrd_len, struct pb_err *err);
/* Size and mtime of a regular file of the guest, from its directory entry (nothing read). */
bool vm_guest_stat(struct fs *fs, const char *path, uint64_t *ret_size, int64_t *ret_mtime);

/*
 * prepare.c: firmware mode's shadow file and the most it may hold (its
 * copies plus VM_SHADOW_SLACK); NULL in direct mode.
 */
const char *vm_shadow(const struct vm *vm, uint64_t *ret_max);
/* prepare.c: "DISK: partition 'NAME'" for messages. */
const char *vm_where(const struct vm *vm);

/* prepare.c: the options the VM was prepared with. */
void vm_opts_get(const struct vm *vm, struct vm_opts *ret);

/* prepare.c: the VM's temporary folder (made on first use; owned by vm). */
int vm_tmpdir(struct vm *vm, const char **ret, struct pb_err *err);
/* prepare.c: a file in it the VM attaches and vm_free() removes (the cidata seed). */
void vm_set_cidata(struct vm *vm, char *path);
/* prepare.c: the disk and partition the VM runs. */
const struct part_disk *vm_disk(const struct vm *vm);
const struct part_info *vm_part(const struct vm *vm);

/* runtime.c: the runtime file while vm_run() runs a VM with an SSH port (see vm_runtime_read()). */
char *vm_runtime_write(const struct vm *vm, unsigned ssh_port);
void vm_runtime_remove(char *path);
/* prepare.c: the console's last line when vm_run() ended. */
void vm_set_console_last(struct vm *vm, const char *line);

/* Set by vm_run() when it got SIGINT/SIGTERM. */
void vm_set_interrupted(struct vm *vm, bool interrupted);

/*
 * secure-boot.c: what OVMF's Secure Boot build needs besides smm=on on the
 * machine: its variable store writable only from SMM, and no S3.
 */
void vm_secure_boot_args(struct strv *argv);

/* console.c: how the serial console reaches the user. */
void vm_console_args(const struct vm_opts *o, struct strv *argv);

/* qmp.c: a minimal QMP client on a connected socket. */
struct vm_qmp {
	int fd;
	struct strbuf in;   /* bytes received, not yet split into lines */
	bool greeted;       /* capabilities negotiated */
	bool shutdown_seen; /* a SHUTDOWN event arrived */
	bool guest_shutdown;/* ... with reason guest-shutdown (a clean poweroff) */
	bool guest_reset;   /* ... with reason guest-reset */
	bool panicked;      /* GUEST_PANICKED */
};
void vm_qmp_init(struct vm_qmp *q, int fd);
void vm_qmp_release(struct vm_qmp *q);
/* Read what is available and parse events; returns 0, or -EPIPE at EOF. */
int vm_qmp_read(struct vm_qmp *q);
/* Send a command ("system_powerdown", "quit"); no reply awaited. */
int vm_qmp_command(struct vm_qmp *q, const char *cmd);

#endif
