/* SPDX-License-Identifier: MIT */
/*
 * Debug output, switched on from the environment with a mask, as libfdisk's
 * LIBFDISK_DEBUG: PARTBOOT_DEBUG=all, a comma-separated list of areas
 * (part,fs,boot,vm,disk,run) or a number (0x12). Lines go to standard error
 * as "partboot: debug: AREA: message". This is the one kind of output a
 * library writes itself, and only when asked for; PARTBOOT_DEBUG=help lists
 * the areas. Header-only callers use PB_DEBUG(), which costs a load and a
 * test when debugging is off.
 */
#ifndef PARTBOOT_DEBUG_H
#define PARTBOOT_DEBUG_H

enum {
	PB_DEBUG_PART = 1 << 0, /* tables, locks, the record */
	PB_DEBUG_FS = 1 << 1,   /* filesystems, fills, guest inspection */
	PB_DEBUG_BOOT = 1 << 2, /* GRUB, the ESP, grubenv */
	PB_DEBUG_VM = 1 << 3,   /* the VM runner */
	PB_DEBUG_DISK = 1 << 4, /* whole-disk operations: plans, installs, the guest model */
	PB_DEBUG_RUN = 1 << 5,  /* child processes: each command line and its exit */
	PB_DEBUG_ALL = 0xffff,
};

/* The mask from PARTBOOT_DEBUG, parsed on first use (0 when unset). */
unsigned pb_debug_mask(void);
/* Print one debug line for area (one PB_DEBUG_* bit). */
void pb_debug_print(unsigned area, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define PB_DEBUG(area, ...)                                                                \
	do {                                                                                \
		if (pb_debug_mask() & (area))                                               \
			pb_debug_print((area), __VA_ARGS__);                                 \
	} while (0)

#endif
