/* SPDX-License-Identifier: MIT */
/*
 * A cloud-init NoCloud seed for the VM (run --cloud-init): user-data and
 * meta-data in an ISO9660 volume labelled cidata — what cloud-init's NoCloud
 * datasource looks for (blkid LABEL=cidata) — made by xorriso from files in
 * the VM's temporary folder (nothing is mounted), with Rock Ridge and Joliet
 * so the names stay user-data and meta-data, attached read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/run.h"
#include "vm-private.h"

static int write_file(const char *path, const char *data, size_t len, struct pb_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return pb_err_set(err, -errno, "%s: cannot create: %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pb_err_set(err, -errno, "%s: cannot write: %s", path, strerror(errno));
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int vm_attach_cloud_init(struct vm *vm, const char *user_data, size_t ud_len, const char *meta_data, size_t md_len,
			 struct pb_err *err)
{
	struct strbuf dir = STRBUF_INIT, ud = STRBUF_INIT, md = STRBUF_INIT, iso = STRBUF_INIT;
	const char *tmp;
	int r;

	if (!pb_have_program("xorriso"))
		return pb_err_set(err, -ENOENT, "xorriso not found: it makes the cloud-init seed (install xorriso)");
	r = vm_tmpdir(vm, &tmp, err);
	if (r < 0)
		return r;
	strbuf_addf(&dir, "%s/cidata", tmp);
	strbuf_addf(&ud, "%s/user-data", dir.buf);
	strbuf_addf(&md, "%s/meta-data", dir.buf);
	strbuf_addf(&iso, "%s/cidata.iso", tmp);
	if (mkdir(dir.buf, 0700) < 0) {
		r = pb_err_set(err, -errno, "%s: cannot make: %s", dir.buf, strerror(errno));
		goto out;
	}
	r = write_file(ud.buf, user_data, ud_len, err);
	if (r >= 0)
		r = write_file(md.buf, meta_data, md_len, err);
	if (r >= 0) {
		const char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-output", iso.buf, "-volid", "cidata",
				       "-joliet", "-rational-rock", dir.buf, NULL };

		r = pb_run(argv, NULL, err);
	}
	unlink(ud.buf);
	unlink(md.buf);
	rmdir(dir.buf);
	if (r < 0) {
		unlink(iso.buf);
		goto out;
	}
	vm_set_cidata(vm, strbuf_detach(&iso, NULL));
out:
	strbuf_release(&dir);
	strbuf_release(&ud);
	strbuf_release(&md);
	strbuf_release(&iso);
	return r;
}
