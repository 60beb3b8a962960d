/* SPDX-License-Identifier: MIT */
/* Inside disk/: the context object and helpers shared by its files. Other folders include disk.h. */
#ifndef PARTBOOT_DISK_PRIVATE_H
#define PARTBOOT_DISK_PRIVATE_H

#include "disk.h"

struct disk {
	struct part_disk *d;
	char *path;            /* as the caller gave it, for messages */
	struct disk_diag diag;
};

/*
 * The longest kernel command line Linux on x86 keeps: COMMAND_LINE_SIZE
 * (2048, arch/x86/include/asm/setup.h) less its NUL. GRUB cuts a longer one
 * silently, the kernel keeps its start; partboot says so.
 */
#define DISK_CMDLINE_MAX 2047

/* A warning or a step note through the context's callbacks (formatted; dropped when unset). */
void disk_warn(const struct disk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void disk_note(const struct disk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The name partition p goes by ("deb12", or "3" when it has none) into buf,
 * and "DISK: partition 'NAME'" for messages into where (appended).
 */
void disk_part_name(const struct part_info *p, char *buf, size_t len);
void disk_part_where(const struct disk *k, const struct part_info *p, struct strbuf *where);

/* The fs/ view of partition p of k (strings borrowed from k, p and where). */
struct fs_target disk_target(const struct disk *k, const struct part_info *p, const char *where,
			     const char *name);

/* Wrap an existing part_disk in a context (apply's planner opened it itself); takes d. */
int disk_adopt(struct part_disk *d, const char *path, const struct disk_diag *diag, struct disk **ret,
	       struct pb_err *err);

/* guest.c: the guest of one partition (what disk_guest_scan() does for each). */
int disk_guest_probe(struct disk *k, const struct part_info *p, struct disk_guest *ret);
void disk_guest_release(struct disk_guest *g);

/* part.c: disk_mkfs() on a partition already found; refresh false leaves the menu to the caller. */
int disk_mkfs_part(struct disk *k, const struct part_info *p, enum fs_kind kind, const char *label, bool refresh,
		   enum fs_kind *ret_kind, struct pb_err *err);

/*
 * install-check.c: "debootstrap:SUITE[:VARIANT]" split (a malloc'ed copy in
 * *ret_spec that suite and variant point into); -EINVAL with a message.
 */
int disk_debootstrap_parse(const char *source, char **ret_spec, const char **ret_suite, const char **ret_variant,
			   struct pb_err *err);

/*
 * accounts.c: the colon-separated account files (/etc/passwd, group, shadow,
 * gshadow) as lines, edited in memory; adduser's rules for names and ids.
 */
struct disk_acct {
	char **lines; /* without their newlines */
	size_t n, alloc;
};
/* Split text into lines (a last line without newline counts). */
void disk_acct_parse(const char *text, struct disk_acct *ret);
void disk_acct_release(struct disk_acct *a);
/* The file again, one line each, every line ending in a newline. */
void disk_acct_text(const struct disk_acct *a, struct strbuf *out);
/* The line whose first field is name, or -1. */
long disk_acct_find(const struct disk_acct *a, const char *name);
/* Field f (0-based) of line i into out (reset first); false when the line has fewer fields. */
bool disk_acct_field(const struct disk_acct *a, size_t i, unsigned f, struct strbuf *out);
/* Replace field f of line i (missing fields are added empty). */
void disk_acct_set_field(struct disk_acct *a, size_t i, unsigned f, const char *value);
/* Replace the line for name (its first field), or append line when there is none. */
void disk_acct_put(struct disk_acct *a, const char *name, const char *line);
/* Add member to the comma-separated list in field f of line i, once. */
void disk_acct_add_member(struct disk_acct *a, size_t i, unsigned f, const char *member);
/* Does any line have id as its numeric field f (2: uid in passwd, gid in group)? */
bool disk_acct_id_used(const struct disk_acct *a, unsigned f, uint32_t id);

/* adduser's NAME_REGEX, ^[a-z][-a-z0-9_]*$, at most 32 characters. */
bool disk_user_name_valid(const char *name);
/* A group name: letters, digits, '_', '-', '.', not starting with '-', at most 32. */
bool disk_group_name_valid(const char *name);

/* What the guest's /etc/adduser.conf says (Debian's defaults for what it does not). */
struct disk_adduser {
	uint32_t first_uid, last_uid, first_gid, last_gid;
	unsigned dir_mode;
	char dhome[256], dshell[256], skel[256];
};
void disk_adduser_parse(const char *text, struct disk_adduser *ret);

/* password.c: reading a password file and hashing it. */
/* The first line of file (or of fd for "-"), without its line end; refuses empty ones. *ret: free with disk_password_free(). */
int disk_password_read(const char *file, int fd, char **ret, struct pb_err *err);
/* Wipe and free a password. */
void disk_password_free(char *pw);
/*
 * yescrypt hash of pw (crypt_gensalt "$y$" at libcrypt's default cost).
 * salt_seed NULL: random salt; else a salt derived from it (a seeded,
 * reproducible disk). *ret malloc'ed.
 */
int disk_password_hash(const char *pw, const char *salt_seed, char **ret, struct pb_err *err);

/* sshkey.c: OpenSSH public keys. */
/*
 * Read file: each line not blank nor a comment must be "TYPE BASE64
 * [COMMENT]" whose decoded blob names TYPE (ssh-ed25519, ssh-rsa,
 * ecdsa-sha2-*, sk-*). The keys are appended to out, one per line.
 * *ret_n (may be NULL) counts them.
 */
int disk_sshkey_load(const char *file, struct strbuf *out, size_t *ret_n, struct pb_err *err);
/* The same for text already read (what names it in messages). */
int disk_sshkey_parse(const char *text, size_t len, const char *what, struct strbuf *out, size_t *ret_n,
		      struct pb_err *err);
/* authorized_keys text old (may be NULL) with the keys of add not in it yet; *ret_added counts them. */
void disk_sshkey_merge(const char *old, const char *add, struct strbuf *out, size_t *ret_added);

/* readfile.c: a small regular file of the host into out, refused above max bytes (-EFBIG) or when it is not text (-EINVAL, text set). */
int disk_file_read(const char *path, size_t max, bool text, const char *what, struct strbuf *out, struct pb_err *err);

/*
 * readfile.c: a regular file of the guest (symlinks followed inside it) into out, at most
 * max bytes (-EFBIG); *ret_there false (and 0 returned) when it is missing. where names
 * the guest in messages.
 */
int disk_guest_read(struct fs *fs, const char *where, const char *path, size_t max, struct strbuf *out,
		    bool *ret_there, struct pb_err *err);

/* firstboot.c: a script that runs once, through a systemd unit that disables itself. */
#define DISK_FIRSTBOOT_DIR "/var/lib/partboot"
#define DISK_FIRSTBOOT_SCRIPT DISK_FIRSTBOOT_DIR "/firstboot"
#define DISK_FIRSTBOOT_UNIT "partboot-firstboot.service"
/* Read and check a script: text (no NUL), at most 1 MiB, "#!/ABSOLUTE/INTERPRETER" first (*ret_interp). */
int disk_firstboot_load(const char *file, struct strbuf *ret_script, char **ret_interp, struct pb_err *err);
/* The unit (static text). */
const char *disk_firstboot_unit(void);

/* cloudinit.c: NoCloud seeds. */
#define DISK_CLOUD_SEED_DIR "/var/lib/cloud/seed/nocloud"
/* Read user-data (cloud-config, a script, MIME or gzip; at most 1 MiB) and meta-data (may be NULL). */
int disk_cloud_init_load(const char *user_data, const char *meta_data, struct strbuf *ret_ud, struct strbuf *ret_md,
			 struct pb_err *err);
/* meta-data when none was given: an instance-id from name and the user-data, local-hostname. */
void disk_cloud_init_meta(const char *name, const char *hostname, const struct strbuf *ud, struct strbuf *out);

/* customize.c: a request read and checked (files read, passwords hashed). */
struct disk_custom {
	const struct disk_customize_opts *o;
	char *root_hash;        /* root_password_file's hash */
	char user[33];          /* the new user's name, "" when none */
	char **groups;          /* its supplementary groups */
	size_t n_groups;
	char *user_hash;        /* user_password_file's hash, or NULL ('*') */
	struct strbuf keys;     /* the public keys, one per line */
	size_t n_keys;
	struct strbuf script;   /* firstboot */
	char *interp;
	struct strbuf ud, md;   /* cloud-init */
	const char *partname;   /* for the default meta-data */
};
/* Read and check everything o names (no disk). seed (may be NULL) makes salts reproducible. */
int disk_custom_load(struct disk_custom *c, const struct disk_customize_opts *o, const char *seed,
		     const char *partname, struct pb_err *err);
/*
 * Check c against the guest open in fs, then (unless dry_run) write it;
 * notes through k's diagnostics, prefixed with where.
 */
int disk_custom_apply(struct disk_custom *c, struct disk *k, struct fs *fs, const char *where,
		      const char *hostname, bool dry_run, struct pb_err *err);
/*
 * Before an install writes anything: check c against the account files of
 * the install's source (an archive file or a directory; fs_source_peek()),
 * refusing what is sure to be refused once the guest is filled (a user the
 * source has, a group it lacks, no /etc/shadow). fresh: the install starts
 * from an empty filesystem, so a file the source lacks the guest lacks too.
 * What cannot be known ahead is left to disk_custom_apply(). 0 or -errno.
 */
int disk_custom_precheck(const struct disk_custom *c, const char *where, const char *source, bool fresh,
			 struct pb_err *err);
void disk_custom_release(struct disk_custom *c);

/* install-check.c: one install's state, shared by install.c and install-vm.c. */
struct disk_install_ctx {
	struct disk *k;
	struct part_info p;
	char name[80];          /* the partition's name (or number) */
	struct strbuf where;    /* "DISK: partition 'NAME'" */
	struct fs_target t;
	const char *label;      /* for a new filesystem */
	char hostname[64];
	bool locked;            /* the partition lock is ours */
	struct disk_custom custom; /* o->customize, read and checked */
	bool customize;
};
/* fs_install_opts.customize for an install with o->customize: disk_custom_apply() on c (the userdata). */
int disk_install_customize(struct fs *fs, void *userdata, struct pb_err *err);
/*
 * Check o, find NAME, refuse a partition that cannot hold a guest, read
 * the files o->customize names; fill c. Writes nothing.
 */
int disk_install_begin(struct disk *k, const char *name, const struct disk_install_opts *o,
		       struct disk_install_ctx *c, struct pb_err *err);
/* Check the partition is unused and lock it. */
int disk_install_lock(struct disk_install_ctx *c, struct pb_err *err);
void disk_install_end(struct disk_install_ctx *c);

/* import.c: disk_install() from disk:IMAGE[:PARTITION]. */
int disk_install_image(struct disk *k, const char *name, const struct disk_install_opts *o,
		       struct disk_install_result *ret, struct pb_err *err);

/* install-vm.c: disk_install() with o->via_vm. */
int disk_install_via_vm(struct disk *k, const char *name, const struct disk_install_opts *o,
			struct disk_install_result *ret, struct pb_err *err);

/*
 * op.c: one whole-guest operation's state (resize, move, clone, snapshot,
 * rollback, export, import): the partition, its name and "DISK: partition
 * 'NAME'", its fs/ target and its guest as the model sees it.
 */
struct disk_op {
	struct disk *k;
	struct part_info p;
	char name[80];
	struct strbuf where;
	struct fs_target t;     /* strings borrowed from k and where */
	struct disk_guest g;
	bool probed, locked;
};
/* Find NAME and probe its guest; nothing written. disk_op_end() it whatever this returns. */
int disk_op_begin(struct disk *k, const char *name, struct disk_op *c, struct pb_err *err);
/* Refuse anything but a guest (complete: a complete one), with a message naming the partition. */
int disk_op_need_guest(struct disk_op *c, bool complete, struct pb_err *err);
/* Check the partition is unused and lock its range (refuses a guest running in a VM). */
int disk_op_lock(struct disk_op *c, struct pb_err *err);
void disk_op_end(struct disk_op *c);
/*
 * The folder snapshots of k go to: dir when given; else DISK.snapshots for
 * an image file, /var/lib/partboot/snapshots/DISK-ID for a block device
 * (made, with its parents, when make). Appended to ret.
 */
int disk_snapshot_dir(struct disk *k, const char *dir, bool make, struct strbuf *ret, struct pb_err *err);
/* The context's progress callback for fs/. */
void disk_op_progress(const struct disk *k, fs_progress_fn *ret_fn, void **ret_userdata);

#endif
