/* SPDX-License-Identifier: MIT */
/*
 * What a prepared VM asks of vm_hw_choose(): the options and what the
 * guest was found to hold. prepare.c chooses for QEMU, libvirt.c again for
 * libvirt (which lacks microvm and NVMe disks); its own file so that
 * neither depends on the other for it.
 */
#include "vm-private.h"

int vm_hw_choose_for(struct vm *vm, const struct vm_opts *o, bool libvirt, const char *why_not,
		     struct vm_hw_choice *c, struct pb_err *err)
{
	struct vm_hw_want w = {
		.mode = o->mode,
		.machine = o->machine,
		.bus = o->disk_bus,
		.net = o->net == VM_NET_USER || o->tftp_dir || o->tftp_bootfile,
		.libvirt = libvirt,
		.kernel = vm->kver,
		.why_not = why_not,
	};

	return vm_hw_choose(&vm->facts, &w, c, err);
}
