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
 * disk-view.c: create shadow_path (sparse, disk_size) holding the copies the
 * plan asks for, and view_path (the vmdk descriptor). Reads disk_fd only.
 */
int vm_disk_view_write(int disk_fd, bool blockdev, uint64_t disk_size, const struct vm_extent *e, size_t n,
		       const char *disk_path, const char *shadow_path, const char *view_path, struct pb_err *err);

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

/* prepare.c: the console's last line when vm_run() ended. */
void vm_set_console_last(struct vm *vm, const char *line);

/* Set by vm_run() when it got SIGINT/SIGTERM. */
void vm_set_interrupted(struct vm *vm, bool interrupted);

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
