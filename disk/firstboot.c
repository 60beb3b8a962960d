/* SPDX-License-Identifier: MIT */
/*
 * --firstboot FILE: a script that runs once, at the next boot, natively or
 * in the VM runner. It is copied to /var/lib/partboot/firstboot and run by
 * partboot-firstboot.service, a oneshot unit enabled through the usual
 * multi-user.target.wants symlink, that disables itself once the script
 * ran (ExecStopPost runs whether the script succeeded or not, so a failing
 * script does not run again at every boot). Its output goes to the journal
 * (journalctl -u partboot-firstboot) and to the console.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "disk-private.h"

#define SCRIPT_MAX (1024 * 1024)

int disk_firstboot_load(const char *file, struct strbuf *ret_script, char **ret_interp, struct pb_err *err)
{
	const char *what = "a first-boot script (text starting with #!)";
	size_t n;
	int r;

	r = disk_file_read(file, SCRIPT_MAX, true, what, ret_script, err);
	if (r < 0)
		return r;
	if (!ret_script->len)
		return pb_err_set(err, -EINVAL, "%s: empty: not %s", file, what);
	/* The kernel runs it: "#!" and an absolute interpreter, as execve() wants (binfmt_script). */
	if (strncmp(ret_script->buf, "#!", 2))
		return pb_err_set(err, -EINVAL, "%s: does not start with #! and an interpreter: not %s", file, what);
	{
		const char *p = ret_script->buf + 2;

		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t\r\n");
		if (*p != '/' || n < 2 || n > 255)
			return pb_err_set(err, -EINVAL,
					  "%s: its #! line names no absolute interpreter (#!/bin/sh): not %s", file, what);
		*ret_interp = xstrndup(p, n);
	}
	return 0;
}

const char *disk_firstboot_unit(void)
{
	return "# Written by partboot (--firstboot): runs " DISK_FIRSTBOOT_SCRIPT " once, at the next boot,\n"
	       "# then disables itself. Its output: journalctl -u partboot-firstboot\n"
	       "[Unit]\n"
	       "Description=partboot first-boot script\n"
	       "ConditionPathExists=" DISK_FIRSTBOOT_SCRIPT "\n"
	       "Wants=network-online.target\n"
	       "After=network-online.target\n"
	       "\n"
	       "[Service]\n"
	       "Type=oneshot\n"
	       "ExecStart=" DISK_FIRSTBOOT_SCRIPT "\n"
	       /* after the script, whatever it returned: it runs once */
	       "ExecStopPost=systemctl --no-reload disable " DISK_FIRSTBOOT_UNIT "\n"
	       "StandardOutput=journal+console\n"
	       "StandardError=journal+console\n"
	       "\n"
	       "[Install]\n"
	       "WantedBy=multi-user.target\n";
}
