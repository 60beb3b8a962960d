/* SPDX-License-Identifier: MIT */
/*
 * The guest's serial console (ttyS0), three ways:
 *  - to a file (--console FILE): QEMU writes it, partboot's terminal stays quiet;
 *  - on an interactive terminal: QEMU's stdio backend in raw mode, keys go to
 *    the guest (Ctrl-C included), multiplexed with QEMU's monitor so Ctrl-A x
 *    quits and Ctrl-A c reaches the monitor, as with qemu -nographic;
 *  - output only (stdin not a terminal, e.g. scripts and CI): the same backend,
 *    QEMU's stdin is /dev/null (vm_run() arranges it).
 * signal=off everywhere: QEMU must not turn a Ctrl-C into a hard quit;
 * partboot handles SIGINT and powers the guest down through QMP.
 */
#include "vm-private.h"

void vm_console_args(const struct vm_opts *o, struct strv *a)
{
	struct strbuf sb = STRBUF_INIT;

	strv_add(a, "-chardev");
	if (o->console_path) {
		strbuf_addstr(&sb, "file,id=con0,path=");
		for (const char *p = o->console_path; *p; p++) {
			if (*p == ',')
				strbuf_addch(&sb, ',');
			strbuf_addch(&sb, *p);
		}
		strv_add(a, sb.buf);
	} else if (o->interactive) {
		strv_add(a, "stdio,id=con0,mux=on,signal=off");
	} else {
		strv_add(a, "stdio,id=con0,signal=off");
	}
	strv_add(a, "-serial");
	strv_add(a, "chardev:con0");
	if (!o->console_path && o->interactive) {
		strv_add(a, "-mon");
		strv_add(a, "chardev=con0,mode=readline");
	}
	strbuf_release(&sb);
}
