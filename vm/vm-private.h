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
	char *disk_path; /* absolute: vmdk extents and printed commands need it */
	char *name;      /* the partition's name (or number) */
	char *kernel, *initrd, *cmdline;
	char *tmpdir, *shadow, *view, *vars, *ovmf_code, *answers;
	size_t view_extents;
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

/* prepare.c: the options the VM was prepared with. */
void vm_opts_get(const struct vm *vm, struct vm_opts *ret);

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
