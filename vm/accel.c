/* SPDX-License-Identifier: MIT */
/*
 * Choosing KVM or TCG.
 *
 * /dev/kvm opening is not enough: some hosts serve it with kvm_pvm, a
 * paravirtual backend on which a stock kernel hangs after "Probing EDD" (see
 * docs/vm.md). Known signs, read without starting anything, so "auto" never
 * hangs: the kvm_pvm module is loaded, or the CPU shows neither vmx nor svm
 * (a nested hypervisor without hardware virtualisation cannot run a stock
 * kernel under KVM either).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/macros.h"
#include "vm.h"

static bool cpuinfo_has_virt(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		/* one CPU's flags are enough; " vmx"/" svm" as whole words */
		for (char *p = strtok(line, " \t\n"); p; p = strtok(NULL, " \t\n"))
			if (!strcmp(p, "vmx") || !strcmp(p, "svm"))
				return true;
		return false;
	}
	return false;
}

void vm_accel_probe(struct vm_accel_facts *ret)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	ret->kvm_dev = fd >= 0;
	if (fd >= 0)
		close(fd);
	ret->kvm_pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	ret->cpu_virt = cpuinfo_has_virt();
}

enum vm_accel vm_accel_choose(enum vm_accel want, const struct vm_accel_facts *f, const char **ret_why)
{
	const char *why = NULL;
	enum vm_accel a = VM_ACCEL_TCG;

	if (want != VM_ACCEL_AUTO) {
		a = want;
	} else if (!f->kvm_dev) {
		a = VM_ACCEL_TCG; /* no KVM at all: nothing to warn about beyond slowness */
		why = "no usable /dev/kvm; using TCG emulation (slow)";
	} else if (f->kvm_pvm) {
		why = "/dev/kvm is served by kvm_pvm, which cannot run a stock kernel; using TCG emulation (slow)";
	} else if (!f->cpu_virt) {
		why = "the CPU shows no vmx/svm, so KVM cannot run a stock kernel; using TCG emulation (slow)";
	} else {
		a = VM_ACCEL_KVM;
	}
	if (ret_why)
		*ret_why = why;
	return a;
}

const char *vm_accel_to_string(enum vm_accel a)
{
	switch (a) {
	case VM_ACCEL_KVM:
		return "kvm";
	case VM_ACCEL_TCG:
		return "tcg";
	default:
		return "auto";
	}
}

int vm_accel_from_string(const char *s, enum vm_accel *ret)
{
	if (!strcmp(s, "auto"))
		*ret = VM_ACCEL_AUTO;
	else if (!strcmp(s, "kvm"))
		*ret = VM_ACCEL_KVM;
	else if (!strcmp(s, "tcg"))
		*ret = VM_ACCEL_TCG;
	else
		return -EINVAL;
	return 0;
}
