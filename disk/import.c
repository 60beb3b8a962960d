/* SPDX-License-Identifier: MIT */
/*
 * install --from disk:IMAGE[:PARTITION]: a guest taken out of another
 * disk's image (raw, qcow2, vmdk), its root filesystem copied into the slot
 * and grown to the slot's size.
 *
 * The image (untrusted, like every guest and disk):
 *   - format by its first bytes: qcow2 ("QFI\xfb"), vmdk with its data in
 *     the file (monolithicSparse / streamOptimized, "KDMV"); a vmdk
 *     descriptor file is refused (it names other files, which qemu-img
 *     would read), so are vhd, vhdx, vdi, qed; anything else is raw and
 *     must hold a partition table;
 *   - qcow2 and vmdk: `qemu-img info` must show no backing file, no
 *     external data file, no extent in another file, at most 16 TiB; then
 *     `qemu-img convert` makes a sparse raw copy under $TMPDIR (else
 *     /var/tmp), a file without a name that goes with the process even
 *     after kill -9 (O_TMPFILE), read from there (qemu-img is given the
 *     image through --image-opts, so no name is read as a protocol);
 *   - the root: PARTITION (name or number) when given; else the one
 *     partition of the DPS x86-64 root type holding ext2/3/4; else the one
 *     ext2/3/4 partition with /etc/os-release (or /usr/lib/os-release).
 *     Several candidates are refused with their list;
 *   - a separate /boot (the root's /etc/fstab mounts one by UUID=,
 *     PARTUUID=, LABEL= or /dev/disk/by-*): an ext2/3/4 one is merged into
 *     the root's /boot (as a tar archive, fs_tree_tar(), through fs_adopt()),
 *     its fstab line dropped; any other is refused, with what it is.
 * The slot: must hold the root's filesystem; a filesystem already there
 * (other than an interrupted install's) is replaced only with --wipe.
 *
 * Everything above is checked before the first write. Then as every
 * install: the slot's guest marked incomplete and out of the menu, the copy
 * (fs_copy(): blocks in use; a new filesystem UUID, incomplete from the
 * moment the slot holds a filesystem), the growth to the slot's size,
 * fs_adopt() (UUIDs replaced, /boot merged, fstab, hostname, hosts,
 * kernel/cmdline; the marker last), the menu refresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "../common/run.h"
#include "../common/tmpdir.h"
#include "../common/util.h"
#include "disk-private.h"

#define IMPORT_MAX_VSIZE (16 * TiB)

struct image {
	char *spec;           /* our copy of the source string */
	const char *path;     /* IMAGE */
	const char *part;     /* PARTITION, or NULL */
	const char *format;   /* "raw", "qcow2", "vmdk" */
	const char *raw;      /* the raw file read: path, or the scratch copy's */
	struct pb_tmpfile scratch; /* the raw copy of a qcow2/vmdk (no name: it goes with the process) */
	struct part_disk *d;  /* the image's table, read-only */
	struct part_info root, boot;
	bool have_boot;
	struct strbuf where;  /* "IMAGE: partition N" */
	struct pb_tmpfile boot_tar; /* the /boot archive, likewise */
};

static void image_release(struct image *im)
{
	part_disk_free(im->d);
	pb_tmpfile_close(&im->scratch);
	pb_tmpfile_close(&im->boot_tar);
	free(im->spec);
	strbuf_release(&im->where);
}

/* "disk:IMAGE[:PARTITION]": IMAGE as a whole when such a file exists, else split at the last ':'. */
static int parse_spec(const char *source, struct image *im, struct pb_err *err)
{
	struct stat st;
	char *colon;

	im->spec = xstrdup(source + 5);
	im->path = im->spec;
	if (stat(im->spec, &st) < 0 && (colon = strrchr(im->spec, ':'))) {
		*colon = '\0';
		im->part = colon + 1;
	}
	if (!*im->path || (im->part && !*im->part))
		return pb_err_set(err, -EINVAL, "expected disk:IMAGE[:PARTITION], e.g. disk:cloud.qcow2 or disk:disk.img:2");
	if (stat(im->path, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", im->path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return pb_err_set(err, -EINVAL, "%s: not a disk image or a block device", im->path);
	return 0;
}

static int sniff(struct image *im, struct pb_err *err)
{
	_cleanup_close_ int fd = open(im->path, O_RDONLY | O_CLOEXEC);
	unsigned char b[512] = { 0 };
	ssize_t n;
	const char *other = NULL;

	if (fd < 0)
		return pb_err_set(err, -errno, "%s: %s", im->path, strerror(errno));
	n = pread(fd, b, sizeof(b), 0);
	if (n < 0)
		return pb_err_set(err, -errno, "%s: %s", im->path, strerror(errno));
	if (n >= 4 && !memcmp(b, "QFI\xfb", 4))
		im->format = "qcow2";
	else if (n >= 4 && !memcmp(b, "KDMV", 4))
		im->format = "vmdk";
	else if (n >= 21 && !memcmp(b, "# Disk DescriptorFile", 21))
		return pb_err_set(err, -EINVAL, "%s: a vmdk descriptor, which names other files; partboot takes a vmdk "
				  "that holds its data (qemu-img convert -O vmdk makes one)", im->path);
	else if (n >= 8 && !memcmp(b, "conectix", 8))
		other = "vpc (vhd)";
	else if (n >= 8 && !memcmp(b, "vhdxfile", 8))
		other = "vhdx";
	else if (n >= 0x44 && b[0x40] == 0x7f && b[0x41] == 0x10 && b[0x42] == 0xda && b[0x43] == 0xbe)
		other = "vdi";
	else if (n >= 4 && !memcmp(b, "QED\0", 4))
		other = "qed";
	else
		im->format = "raw";
	if (other)
		return pb_err_set(err, -EINVAL, "%s: unknown image format '%s': partboot takes raw, qcow2 and vmdk "
				  "(qemu-img convert -O qcow2 makes one)", im->path, other);
	return 0;
}

/* "driver=FMT,file.driver=file,file.filename=PATH" with QEMU's comma doubling. */
static void image_opts(const char *fmt, const char *path, struct strbuf *sb)
{
	strbuf_addf(sb, "driver=%s,file.driver=file,file.filename=", fmt);
	for (const char *p = path; *p; p++) {
		if (*p == ',')
			strbuf_addch(sb, ',');
		strbuf_addch(sb, *p);
	}
}

/* qemu-img info: refuse what would make qemu-img read beyond the file, and absurd sizes. */
static int check_qemu_image(struct image *im, struct pb_err *err)
{
	struct strbuf opts = STRBUF_INIT, out = STRBUF_INIT;
	struct pb_run_opts ro = { .out = &out };
	const char *p;
	unsigned long long vsize = 0;
	int r;

	image_opts(im->format, im->path, &opts);
	r = pb_run((const char *const[]){ "qemu-img", "info", "--output=json", "--image-opts", opts.buf, NULL }, &ro,
		   err);
	if (r < 0) {
		pb_err_prefix(err, r, "%s: not a %s image qemu-img can read: ", im->path, im->format);
		goto out;
	}
	if (strstr(out.buf, "\"backing-filename\"") || strstr(out.buf, "\"data-file\"")) {
		r = pb_err_set(err, -EINVAL, "%s: the image reads another file (a backing file or an external data "
			       "file); partboot imports only self-contained images (qemu-img convert makes one)",
			       im->path);
		goto out;
	}
	/* A KDMV vmdk holds its one extent itself (descriptor files were refused): no file list to check. */
	p = strstr(out.buf, "\"virtual-size\": ");
	if (!p || sscanf(p + 16, "%llu", &vsize) != 1 || !vsize || vsize > IMPORT_MAX_VSIZE) {
		r = pb_err_set(err, -EINVAL, "%s: no size, or larger than 16 TiB", im->path);
		goto out;
	}
out:
	strbuf_release(&opts);
	strbuf_release(&out);
	return r;
}

static int convert(struct disk *k, struct image *im, struct pb_err *err)
{
	struct strbuf opts = STRBUF_INIT;
	int r;

	r = pb_tmpfile_open(&im->scratch, NULL, PB_TMP_LARGE, "partboot-import", err);
	if (r < 0)
		return r;
	im->raw = im->scratch.path;
	disk_note(k, "%s: %s image: a raw copy in %s", im->path, im->format, im->scratch.dir);
	image_opts(im->format, im->path, &opts);
	/* Sparse (qemu-img skips zeros), into the file mkstemp made. */
	r = pb_run((const char *const[]){ "qemu-img", "convert", "-q", "--image-opts", opts.buf, "-O", "raw", im->raw,
					  NULL },
		   NULL, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: ", im->path);
	strbuf_release(&opts);
	return r;
}

static bool is_ext(const struct part_probe *pr)
{
	return !strcmp(pr->fstype, "ext4") || !strcmp(pr->fstype, "ext3") || !strcmp(pr->fstype, "ext2");
}

static struct fs_target image_target(struct image *im, const struct part_info *p, struct strbuf *where)
{
	strbuf_reset(where);
	strbuf_addf(where, "%s: partition %u", im->path, p->partno);
	return (struct fs_target){ .path = im->raw, .offset = p->start, .size = p->size, .where = where->buf };
}

static bool has_os_release(struct image *im, const struct part_info *p)
{
	struct strbuf where = STRBUF_INIT;
	struct fs_target t = image_target(im, p, &where);
	struct fs *fs = NULL;
	char *data = NULL;
	size_t len;
	bool yes = false;

	if (fs_open(&t, &fs, NULL) >= 0)
		yes = fs_read_file(fs, "/etc/os-release", &data, &len, NULL) >= 0 ||
		      fs_read_file(fs, "/usr/lib/os-release", &data, &len, NULL) >= 0;
	free(data);
	fs_free(fs);
	strbuf_release(&where);
	return yes;
}

static int find_root(struct image *im, struct pb_err *err)
{
	size_t n = part_disk_count(im->d), dps = 0, os = 0;
	struct part_info p, first_dps = { 0 }, first_os = { 0 };
	struct strbuf names = STRBUF_INIT;
	struct part_probe pr;
	int r;

	if (im->part) {
		r = part_disk_find(im->d, im->part, &im->root, err);
		if (r < 0)
			return r;
		if (part_disk_probe(im->d, &im->root, &pr) < 0 || !is_ext(&pr))
			return pb_err_set(err, -EMEDIUMTYPE, "%s: partition %u holds %s, not ext2/3/4", im->path,
					  im->root.partno, pr.fstype[0] ? pr.fstype : "no filesystem");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (part_disk_get(im->d, i, &p) < 0 || part_disk_probe(im->d, &p, &pr) < 0 || !is_ext(&pr))
			continue;
		if (part_disk_table(im->d) == PART_TABLE_GPT && p.type == PART_TYPE_ROOT && !dps++)
			first_dps = p;
	}
	if (dps == 1) {
		im->root = first_dps;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (part_disk_get(im->d, i, &p) < 0 || part_disk_probe(im->d, &p, &pr) < 0 || !is_ext(&pr))
			continue;
		if ((dps > 1 && p.type != PART_TYPE_ROOT) || !has_os_release(im, &p))
			continue;
		if (!os++)
			first_os = p;
		strbuf_addf(&names, "%s%u", names.len ? ", " : "", p.partno);
	}
	if (os == 1) {
		im->root = first_os;
		strbuf_release(&names);
		return 0;
	}
	if (os > 1)
		r = pb_err_set(err, -EINVAL, "%s: several partitions hold a Linux root (%s): name one, "
			       "disk:IMAGE:PARTITION", im->path, names.buf);
	else
		r = pb_err_set(err, -ENOENT, "%s: no Linux root found (a partition of the DPS root type, or with "
			       "/etc/os-release, holding ext2/3/4)", im->path);
	strbuf_release(&names);
	return r;
}

/* The partition fstab's /boot line names, found by UUID, PARTUUID or LABEL. */
static int find_boot(struct image *im, struct pb_err *err)
{
	struct strbuf where = STRBUF_INIT;
	struct fs_target t = image_target(im, &im->root, &where);
	_cleanup_free_ char *fstab = NULL;
	struct fs *fs = NULL;
	char spec[256] = "";
	size_t len;
	int r = 0;

	if (fs_open(&t, &fs, NULL) < 0 || fs_read_file(fs, "/etc/fstab", &fstab, &len, NULL) < 0)
		goto out;
	for (char *line = fstab, *next; line && *line; line = next) {
		char f0[256], f1[256];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, " %255s %255s", f0, f1) == 2 && f0[0] != '#' && !strcmp(f1, "/boot"))
			snprintf(spec, sizeof(spec), "%s", f0);
	}
	if (!*spec)
		goto out;
	{
		static const struct {
			const char *prefix;
			int key; /* 0 uuid, 1 partuuid, 2 label */
		} forms[] = { { "UUID=", 0 }, { "PARTUUID=", 1 }, { "LABEL=", 2 }, { "/dev/disk/by-uuid/", 0 },
			      { "/dev/disk/by-partuuid/", 1 }, { "/dev/disk/by-label/", 2 } };
		const char *want = NULL;
		int key = -1;

		for (size_t i = 0; i < ARRAY_SIZE(forms) && !want; i++)
			if (!strncmp(spec, forms[i].prefix, strlen(forms[i].prefix))) {
				want = spec + strlen(forms[i].prefix);
				key = forms[i].key;
			}
		if (!want) {
			r = pb_err_set(err, -EINVAL, "%s: its /etc/fstab mounts /boot from '%s'; partboot finds a separate "
				       "/boot by UUID=, PARTUUID= or LABEL=", im->where.buf, spec);
			goto out;
		}
		for (size_t i = 0; i < part_disk_count(im->d); i++) {
			struct part_info p;
			struct part_probe pr;
			const char *have;

			if (part_disk_get(im->d, i, &p) < 0 || part_disk_probe(im->d, &p, &pr) < 0)
				continue;
			have = key == 0 ? pr.uuid : key == 1 ? p.uuid : pr.label;
			if (*have && !strcasecmp(have, want)) {
				if (!is_ext(&pr)) {
					r = pb_err_set(err, -EINVAL, "%s: /boot is partition %u, holding %s; partboot merges a "
						       "separate /boot of ext2/3/4 only", im->path, p.partno,
						       pr.fstype[0] ? pr.fstype : "no filesystem");
					goto out;
				}
				im->boot = p;
				im->have_boot = p.partno != im->root.partno;
				goto out;
			}
		}
		r = pb_err_set(err, -ENOENT, "%s: its /etc/fstab mounts /boot from %s, which is not in the image",
			       im->where.buf, spec);
	}
out:
	fs_free(fs);
	strbuf_release(&where);
	return r;
}

/* Everything about the image, before anything is written. */
static int image_open(struct disk *k, const char *source, struct image *im, struct pb_err *err)
{
	int r;

	strbuf_init(&im->where);
	r = parse_spec(source, im, err);
	if (r >= 0)
		r = sniff(im, err);
	if (r < 0)
		return r;
	if (!strcmp(im->format, "raw")) {
		im->raw = im->path;
	} else {
		if (!pb_have_program("qemu-img"))
			return pb_err_set(err, -ENOENT, "qemu-img: program not found (package qemu-utils): needed for %s",
					  im->format);
		r = check_qemu_image(im, err);
		if (r >= 0)
			r = convert(k, im, err);
		if (r < 0)
			return r;
	}
	r = part_disk_open(im->raw, PART_OPEN_RDONLY, 0, &im->d, err);
	if (r >= 0)
		part_disk_set_display(im->d, im->path);
	if (r < 0)
		return pb_err_prefix(err, r, "%s: ", im->path);
	if (part_disk_table(im->d) == PART_TABLE_NONE)
		return pb_err_set(err, -EINVAL, "%s: no partition table: not a disk image partboot knows (raw, qcow2, "
				  "vmdk)", im->path);
	r = find_root(im, err);
	if (r < 0)
		return r;
	strbuf_addf(&im->where, "%s: partition %u", im->path, im->root.partno);
	return find_boot(im, err);
}

int disk_install_image(struct disk *k, const char *name, const struct disk_install_opts *o,
		       struct disk_install_result *ret, struct pb_err *err)
{
	struct image im = { .scratch.fd = -1, .boot_tar.fd = -1 };
	struct disk_install_ctx c;
	struct strbuf rwhere = STRBUF_INIT;
	struct fs_target rt;
	struct fs_ext_info fi;
	struct fs_copy_result res = { 0 };
	struct disk_guest g = { 0 };
	const char *seed = part_disk_seed(k->d);
	char new_uuid[37], a[32], b[32];
	struct part_probe pr;
	int r;

	r = disk_install_begin(k, name, o, &c, err);
	if (r < 0)
		goto out;
	r = image_open(k, o->source, &im, err);
	if (r < 0)
		goto out;
	rt = image_target(&im, &im.root, &rwhere);
	r = fs_ext_info(&rt, &fi, err);
	if (r < 0)
		goto out;
	if (fi.journal_dirty) {
		r = pb_err_set(err, -EBUSY, "%s: the root filesystem's journal needs recovery (not shut down cleanly); "
			       "e2fsck -fp it in the image first", im.where.buf);
		goto out;
	}
	if (fi.size > c.p.size) {
		r = pb_err_set(err, -ENOSPC, "%s: the root filesystem of %s is %s, the partition %s", c.where.buf,
			       im.where.buf, pb_format_size(fi.size, a, sizeof(a)), pb_format_size(c.p.size, b, sizeof(b)));
		goto out;
	}
	disk_guest_probe(k, &c.p, &g);
	if (g.state != DISK_GUEST_INCOMPLETE) {
		if (part_disk_probe(k->d, &c.p, &pr) < 0)
			memset(&pr, 0, sizeof(pr));
		if (pr.fstype[0] && !o->wipe) {
			r = pb_err_set(err, -EEXIST, "%s: holds %s%s; importing replaces it: add --wipe", c.where.buf,
				       g.state == DISK_GUEST_COMPLETE ? "a guest on " : "", pr.fstype);
			goto out;
		}
	}
	if (im.have_boot) {
		struct strbuf bwhere = STRBUF_INIT;
		struct fs_target bt = image_target(&im, &im.boot, &bwhere);

		r = pb_tmpfile_open(&im.boot_tar, NULL, PB_TMP_LARGE, "partboot-import-boot", err);
		if (r >= 0)
			r = fs_tree_tar(&bt, "/", "boot", im.boot_tar.path, err);
		strbuf_release(&bwhere);
		if (r < 0)
			goto out;
	}

	/* Checked: from here on the slot is written. */
	r = disk_install_lock(&c, err);
	if (r < 0)
		goto out;
	if (g.state == DISK_GUEST_COMPLETE) {
		r = fs_mark_incomplete_for(&c.t, "import", seed, err);
		if (r >= 0)
			r = disk_menu_refresh(k, c.name, err);
		if (r < 0)
			goto out;
	}
	disk_note(k, "%s: copying %s", c.where.buf, im.where.buf);
	fs_uuid_for(&c.t, seed, new_uuid);
	{
		struct fs_copy_opts co = { .mode = FS_COPY_USED, .op = "import", .uuid = new_uuid, .seed = seed };

		disk_op_progress(k, &co.progress, &co.userdata);
		r = fs_copy(&rt, &c.t, &co, &res, err);
	}
	if (r >= 0 && c.p.size / fi.block_size * fi.block_size > fi.size)
		r = fs_resize(&c.t, c.p.size, seed, err);
	if (r >= 0) {
		const char *replace[] = { fi.uuid, new_uuid, im.root.uuid, c.p.uuid, NULL };
		struct fs_adopt_opts ao = {
			.drop_csum_seed = res.csum_seed_added,
			.hostname = c.hostname,
			.cmdline = o->cmdline,
			.replace = replace,
			.merge_boot = im.have_boot ? im.boot_tar.path : NULL,
			.drop_boot_mount = im.have_boot,
			.seed = seed,
			.warn = k->diag.warn,
			.userdata = k->diag.userdata,
		};

		r = fs_adopt(&c.t, &ao, err);
	}
	if (r < 0)
		goto out;
	if (ret) {
		strbuf_reset(&ret->from);
		strbuf_addf(&ret->from, "%s (%s, partition %u%s)", im.path, im.format, im.root.partno,
			    im.have_boot ? ", /boot merged" : "");
	}
	r = disk_menu_refresh(k, NULL, err);
	if (r < 0) {
		pb_err_prefix(err, r, "%s: installed, but the boot menu was not refreshed: ", c.where.buf);
		goto out;
	}
	/*
	 * Passwords, a user, keys, a first-boot script: the image's own
	 * accounts are known only now, so they are written into the imported
	 * guest as `partboot customize` would (the files given were checked
	 * before the first write; a refusal here names what the guest holds).
	 */
	if (c.customize) {
		r = disk_customize(k, name, o->customize, 0, err);
		if (r < 0)
			pb_err_prefix(err, r, "imported, but not customized: ");
	}
out:
	disk_guest_release(&g);
	strbuf_release(&rwhere);
	image_release(&im);
	disk_install_end(&c);
	return r;
}
