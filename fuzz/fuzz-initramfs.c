/* SPDX-License-Identifier: MIT */
/*
 * The initramfs listing the VM runner reads before it picks a machine
 * (vm_initramfs_scan(), vm/initramfs.c): the input is a guest's whole
 * initramfs — cpio segments, compressed or not, one after the other, as
 * early-microcode images and Debian's initramfs-tools lay them out. The
 * first input byte picks the kernel version it is read for (one of the
 * modules folders the seeds use, or none). Invariants: it returns 0 or
 * -EINVAL, its segment list stays a string in its buffer, and a driver is
 * only ever marked as in the initramfs or built in (its modules.builtin),
 * never as the root's.
 */
#include <errno.h>

#include "fuzz-common.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kvers[] = { NULL, "6.1.0-9-amd64", "6.1.0-57-amd64", "" };
	struct vm_hw_facts f = { 0 };
	struct pb_err err = PB_ERR_INIT;
	int r;

	if (!size)
		return 0;
	r = vm_initramfs_scan((const char *)data + 1, size - 1, kvers[data[0] % 4], &f, &err);
	fuzz_assert(r == 0 || r == -EINVAL);
	fuzz_assert(memchr(f.segments, '\0', sizeof(f.segments)) != NULL);
	for (size_t i = 0; i < VM_DRIVER_COUNT; i++)
		fuzz_assert(f.drivers[i] != VM_DRIVER_ROOTFS);
	pb_err_clear(&err);
	return 0;
}
