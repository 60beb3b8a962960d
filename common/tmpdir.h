/* SPDX-License-Identifier: MIT */
/*
 * Where partboot puts temporary files and folders. One rule for every user:
 *
 *   $TMPDIR when it is set and not empty; otherwise
 *   /var/tmp for scratch that may be as large as a guest: debootstrap's tree
 *            when mmdebstrap is missing (fs/debootstrap.c) and a live ISO's
 *            squashfs copy (fs/iso.c), because /tmp is often a small tmpfs in
 *            memory while /var/tmp is on a disk (FHS 3.0 §5.15);
 *   /tmp     for the rest, small or sparse and short-lived: GRUB images being
 *            made (boot/install.c), a file on its way onto the ESP
 *            (boot/esp.c), a VM's disk view, firmware variables and answers
 *            image (vm/prepare.c).
 *
 * Names are DIR/PREFIX.XXXXXX, made with mkdtemp(3)/mkostemp(3): created
 * here, 0700 (folders) or 0600 (files), owned by the caller afterwards.
 */
#ifndef PARTBOOT_TMPDIR_H
#define PARTBOOT_TMPDIR_H

#include "err.h"

enum pb_tmp {
	PB_TMP_SMALL, /* $TMPDIR, else /tmp */
	PB_TMP_LARGE, /* $TMPDIR, else /var/tmp */
};

/* The folder temporary files of that size go to (see above). Never NULL; not to be freed. */
const char *pb_tmpdir(enum pb_tmp size);

/*
 * Make a new folder pb_tmpdir(size)/PREFIX.XXXXXX. Returns 0 with *ret_path
 * its name (malloc'ed; the caller removes the folder and frees the name), or
 * -errno with "DIR: cannot make a temporary folder: why" in err.
 */
int pb_mkdtemp(const char *prefix, enum pb_tmp size, char **ret_path, struct pb_err *err);

/*
 * Make and open a new file pb_tmpdir(size)/PREFIX.XXXXXX (read-write,
 * close-on-exec). Returns its file descriptor with *ret_path its name
 * (malloc'ed; the caller closes, unlinks and frees), or -errno with
 * "DIR: cannot make a temporary file: why" in err.
 */
int pb_mkstemp(const char *prefix, enum pb_tmp size, char **ret_path, struct pb_err *err);

/*
 * A file without a name, for what must either appear whole or not at all
 * (a snapshot, an export) and for scratch that must not outlive the
 * process (an image converted to raw): O_TMPFILE in dir (NULL: in
 * pb_tmpdir(size)), which the kernel removes when the last descriptor goes,
 * even after kill -9. path is "/proc/PID/fd/N", usable by this process and
 * by the children it runs (qemu-img) as the file's name. Where the
 * filesystem has no O_TMPFILE, a named file (prefix.XXXXXX in dir) stands
 * in: then only a clean exit removes it. pb_tmpfile_link() gives the file
 * its name, never over an existing file (-EEXIST); pb_tmpfile_close()
 * closes it and removes a stand-in that was not linked. Both accept a
 * closed or zeroed struct.
 */
struct pb_tmpfile {
	int fd;          /* -1 when closed */
	char path[48];   /* /proc/PID/fd/N */
	char *named;     /* the stand-in's name, or NULL */
	char *dir;       /* where it was made */
};
int pb_tmpfile_open(struct pb_tmpfile *t, const char *dir, enum pb_tmp size, const char *prefix, struct pb_err *err);
int pb_tmpfile_link(struct pb_tmpfile *t, const char *path, struct pb_err *err);
void pb_tmpfile_close(struct pb_tmpfile *t);

#endif
