/* SPDX-License-Identifier: MIT */
/*
 * cloud-init's NoCloud seed: user-data (and meta-data) for guests that have
 * cloud-init. Installed guests get it in /var/lib/cloud/seed/nocloud (read
 * at every boot, native or virtual); the VM runner can hand it over as a
 * read-only volume labelled cidata instead (vm/cidata.c).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "disk-private.h"

#define SEED_MAX (1024 * 1024)

int disk_cloud_init_load(const char *user_data, const char *meta_data, struct strbuf *ret_ud, struct strbuf *ret_md,
			 struct pb_err *err)
{
	const char *what = "cloud-init user-data (#cloud-config, a #! script, #include, MIME or gzip)";
	const unsigned char *u;
	int r;

	r = disk_file_read(user_data, SEED_MAX, false, what, ret_ud, err);
	if (r < 0)
		return r;
	u = (const unsigned char *)ret_ud->buf;
	if (!ret_ud->len)
		return pb_err_set(err, -EINVAL, "%s: empty: not %s", user_data, what);
	/* What cloud-init's user-data handlers start with (gzip is unpacked first). */
	if (!(ret_ud->len >= 2 && u[0] == 0x1f && u[1] == 0x8b) && ret_ud->buf[0] != '#' &&
	    strncmp(ret_ud->buf, "Content-Type:", 13) && strncmp(ret_ud->buf, "MIME-Version:", 13))
		return pb_err_set(err, -EINVAL, "%s: not %s", user_data, what);
	if (!(ret_ud->len >= 2 && u[0] == 0x1f && u[1] == 0x8b) && memchr(ret_ud->buf, '\0', ret_ud->len))
		return pb_err_set(err, -EINVAL, "%s: holds NUL bytes: not %s", user_data, what);
	if (meta_data)
		return disk_file_read(meta_data, SEED_MAX, true, "cloud-init meta-data (YAML)", ret_md, err);
	return 0;
}

void disk_cloud_init_meta(const char *name, const char *hostname, const struct strbuf *ud, struct strbuf *out)
{
	uint32_t h = 2166136261u; /* FNV-1a of the user-data: new user-data, new instance */

	for (size_t i = 0; i < ud->len; i++)
		h = (h ^ (unsigned char)ud->buf[i]) * 16777619u;
	strbuf_addstr(out, "instance-id: partboot-");
	for (const char *c = name; *c; c++)
		strbuf_addch(out, (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ? *c
														   : '-');
	strbuf_addf(out, "-%08x\n", h);
	if (hostname && fs_hostname_valid(hostname)) /* YAML: letters, digits, '-', dots only */
		strbuf_addf(out, "local-hostname: %s\n", hostname);
}
