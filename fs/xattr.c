/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes and POSIX ACLs during fs_install(): the archive's
 * xattrs as they are (security.capability included), its POSIX.1e ACLs
 * turned into the kernel's system.posix_acl_{access,default} values, and
 * the ACL mask that the mode's group bits stand for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/endian.h"
#include "common/macros.h"
#include "fs-private.h"

/*
 * With a POSIX ACL, the mode's group bits are the ACL's mask (acl(5)).
 * libarchive folds the ACL's group:: entry into the mode instead, so put
 * the mask back. Returns the mask's permission bits, or -1 without one.
 */
int fs_acl_mask(struct archive_entry *e)
{
	int type, perm, tag, qual;
	const char *name;

	if (archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS) <= 0)
		return -1;
	while (archive_entry_acl_next(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, &type, &perm, &tag, &qual, &name) ==
	       ARCHIVE_OK)
		if (tag == ARCHIVE_ENTRY_ACL_MASK)
			return perm & 7;
	return -1;
}

/* POSIX ACL xattr (VFS) format: the value of system.posix_acl_{access,default}. */
#define ACL_XATTR_VERSION 2
#define ACL_UNDEFINED_ID 0xffffffffu

struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
};

static int cmp_acl(const void *a, const void *b)
{
	const struct acl_ent *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Build the xattr value of one ACL type from libarchive's entries; 0 bytes when none. */
static int acl_to_xattr(struct archive_entry *e, int type, struct strbuf *out)
{
	struct acl_ent ents[64];
	size_t n = 0;
	int atype, perm, tag, qual;
	const char *name;
	bool have_mask = false, have_extra = false;

	strbuf_reset(out);
	if (archive_entry_acl_reset(e, type) <= 0)
		return 0;
	while (archive_entry_acl_next(e, type, &atype, &perm, &tag, &qual, &name) == ARCHIVE_OK) {
		struct acl_ent a = { 0, (uint16_t)(perm & 7), ACL_UNDEFINED_ID };

		switch (tag) {
		case ARCHIVE_ENTRY_ACL_USER_OBJ:
			a.tag = 0x01;
			break;
		case ARCHIVE_ENTRY_ACL_USER:
			a.tag = 0x02, a.id = (uint32_t)qual, have_extra = true;
			break;
		case ARCHIVE_ENTRY_ACL_GROUP_OBJ:
			a.tag = 0x04;
			break;
		case ARCHIVE_ENTRY_ACL_GROUP:
			a.tag = 0x08, a.id = (uint32_t)qual, have_extra = true;
			break;
		case ARCHIVE_ENTRY_ACL_MASK:
			a.tag = 0x10, have_mask = true;
			break;
		case ARCHIVE_ENTRY_ACL_OTHER:
			a.tag = 0x20;
			break;
		default:
			continue; /* NFSv4 ACLs have no place in ext4's POSIX ACLs */
		}
		/* libarchive repeats the mode-derived entries: keep one of each. */
		for (size_t i = 0; i < n; i++)
			if (ents[i].tag == a.tag && ents[i].id == a.id)
				goto next;
		if (n == ARRAY_SIZE(ents))
			return -E2BIG;
		ents[n++] = a;
	next:;
	}
	if (type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && !have_extra && !have_mask)
		return 0; /* only what the mode says already */
	if (!n)
		return 0;
	qsort(ents, n, sizeof(*ents), cmp_acl);
	{
		uint8_t v[4];

		pb_put_le32(v, ACL_XATTR_VERSION);
		strbuf_add(out, v, 4);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t ent[8];

		pb_put_le16(ent, ents[i].tag);
		pb_put_le16(ent + 2, ents[i].perm);
		pb_put_le32(ent + 4, ents[i].id);
		strbuf_add(out, ent, 8);
	}
	return 0;
}

int fs_xattrs_set(struct populate *p, ext2_ino_t ino, struct archive_entry *e)
{
	struct ext2_xattr_handle *h = NULL;
	struct strbuf acl = STRBUF_INIT;
	const char *name;
	const void *value;
	size_t size;
	errcode_t rc = 0;
	int r = 0;
	bool any = archive_entry_xattr_reset(e) > 0 ||
		   archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_POSIX1E) > 0;

	if (!any)
		return 0;
	rc = ext2fs_xattrs_open(p->e2, ino, &h);
	if (!rc)
		rc = ext2fs_xattrs_read(h);
	if (rc)
		goto out;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		rc = ext2fs_xattr_set(h, name, value, size);
		if (rc) {
			if (rc == EXT2_ET_EA_BAD_NAME_LEN || rc == EXT2_ET_EA_KEY_NOT_FOUND ||
			    rc == EXT2_ET_EA_BAD_VALUE_SIZE) {
				r = pb_err_set(p->err, -EINVAL, "%s: '%s': cannot store extended attribute %s",
					       p->t->where, p->entry, name);
				goto out;
			}
			goto out;
		}
	}
	for (int i = 0; i < 2; i++) {
		int type = i ? ARCHIVE_ENTRY_ACL_TYPE_DEFAULT : ARCHIVE_ENTRY_ACL_TYPE_ACCESS;

		r = acl_to_xattr(e, type, &acl);
		if (r < 0) {
			pb_err_set(p->err, r, "%s: '%s': ACL too long", p->t->where, p->entry);
			goto out;
		}
		if (!acl.len)
			continue;
		rc = ext2fs_xattr_set(h, i ? "system.posix_acl_default" : "system.posix_acl_access", acl.buf,
				      acl.len);
		if (rc)
			goto out;
	}
out:
	if (h) {
		errcode_t rc2 = ext2fs_xattrs_close(&h);

		if (!rc)
			rc = rc2;
	}
	strbuf_release(&acl);
	if (r < 0)
		return r;
	if (rc)
		return fs_populate_fail(p, rc, "cannot store extended attributes");
	return 0;
}
