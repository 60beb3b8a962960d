/* SPDX-License-Identifier: MIT */
/*
 * The QEMU options of UEFI Secure Boot (OVMF's Secure Boot build,
 * OVMF_CODE_4M.secboot.fd; see OvmfPkg/README and Debian's ovmf
 * README.Debian):
 *  - the machine has SMM (q35,smm=on, set in qemu.c): the Secure Boot
 *    variables are written by SMM code only, so that a guest OS cannot turn
 *    Secure Boot off by writing the variable store;
 *  - the pflash chips are "secure": only SMM may write them;
 *  - S3 (suspend to RAM) is off, as OvmfPkg/README asks for builds with SMM
 *    (QEMU's ICH9 offers it by default).
 */
#include "vm-private.h"

void vm_secure_boot_args(struct strv *a)
{
	strv_add(a, "-global");
	strv_add(a, "driver=cfi.pflash01,property=secure,value=on");
	strv_add(a, "-global");
	strv_add(a, "ICH9-LPC.disable_s3=1");
}
