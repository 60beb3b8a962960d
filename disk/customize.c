/* SPDX-License-Identifier: MIT */
/*
 * Logging into what is installed: root's password, a new user, SSH keys, a
 * first-boot script, a cloud-init seed and the VM runner's DHCP, written
 * into a guest without mounting it (docs/customize.md).
 *
 * Two phases, so that a refused request writes nothing:
 *  1. disk_custom_load(): every file the request names is read and checked
 *     (passwords hashed and wiped, keys parsed, the script's #! line), no
 *     disk involved;
 *  2. disk_custom_apply(): the guest's files are read (passwd, group,
 *     shadow, gshadow, adduser.conf, authorized_keys) and every change is
 *     decided in memory — a list of actions — refusing what cannot be done
 *     (a user already there, a group that is not, no /etc/shadow, no
 *     systemd, no interpreter); only then are the actions carried out, each
 *     file replaced whole in one step (fs/edit.c).
 * The actions come in an order that keeps the guest usable after any
 * prefix of them: a new user's home and keys, root's keys, then shadow,
 * gshadow, group, and passwd last, so a user exists only once everything it
 * needs is there; a unit before the symlink that enables it. Every action
 * can be done twice with the same result, so an interrupted run is finished
 * by running the same request again.
 *
 * disk_install() runs phase 2 in the install's own session, under the
 * incomplete marker (fs_install_opts.customize); disk_customize() on a
 * complete guest, which keeps its state: marking it incomplete would take it
 * out of the menu and, worse, make apply reinstall it over its data.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "../common/util.h"
#include "disk-private.h"

#define GUEST_FILE_MAX (16u << 20)
#define VM_NETWORK_FILE "/etc/systemd/network/80-partboot-vm.network"
#define WANTS_DIR "/etc/systemd/system/multi-user.target.wants"

/* ---- phase 1 ------------------------------------------------------------------------------ */

bool disk_customize_empty(const struct disk_customize_opts *o)
{
	return !o || (!o->root_password_file && o->root_password == DISK_ROOT_PASSWORD_KEEP && !o->user &&
		      !o->n_ssh_keys && !o->firstboot && !o->cloud_init && !o->vm_network);
}

/* "NAME[:GROUP,...]" into c (or only checked when c is NULL). */
static int parse_user(const char *spec, struct disk_custom *c, struct pb_err *err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *colon, *save = NULL;

	colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	if (!disk_user_name_valid(copy))
		return pb_err_set(err, -EINVAL,
				  "'%s' is not a valid user name (adduser's rule: a lower-case letter, then lower-case "
				  "letters, digits, '-' or '_'; at most 32)",
				  copy);
	if (!strcmp(copy, "root"))
		return pb_err_set(err, -EEXIST, "user 'root' exists in every guest (--root-password-file sets its password)");
	if (c)
		snprintf(c->user, sizeof(c->user), "%s", copy);
	if (!colon)
		return 0;
	if (!colon[1])
		return pb_err_set(err, -EINVAL, "--user %s: no group after ':' (NAME:GROUP,...)", spec);
	for (char *g = strtok_r(colon + 1, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		if (!disk_group_name_valid(g))
			return pb_err_set(err, -EINVAL, "--user %s: '%s' is not a valid group name", spec, g);
		if (c) {
			c->groups = xreallocarray(c->groups, c->n_groups + 1, sizeof(*c->groups));
			c->groups[c->n_groups++] = xstrdup(g);
		}
	}
	return 0;
}

int disk_customize_check(const struct disk_customize_opts *o, struct pb_err *err)
{
	int r;

	if (!o)
		return 0;
	if (o->root_password_file && o->root_password != DISK_ROOT_PASSWORD_KEEP)
		return pb_err_set(err, -EINVAL, "--root-password-file and --root-password locked|disabled exclude each other");
	if (o->root_password_file && !*o->root_password_file)
		return pb_err_set(err, -EINVAL, "--root-password-file takes a file, or '-' for standard input");
	if (o->user_password_file && !o->user)
		return pb_err_set(err, -EINVAL, "--user-password-file goes with --user NAME");
	if (o->user_password_file && !*o->user_password_file)
		return pb_err_set(err, -EINVAL, "--user-password-file takes a file, or '-' for standard input");
	if (o->root_password_file && o->user_password_file && !strcmp(o->root_password_file, "-") &&
	    !strcmp(o->user_password_file, "-"))
		return pb_err_set(err, -EINVAL, "only one password can come from standard input");
	if (o->user) {
		r = parse_user(o->user, NULL, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < o->n_ssh_keys; i++)
		if (!o->ssh_keys[i] || !*o->ssh_keys[i])
			return pb_err_set(err, -EINVAL, "--ssh-key takes a public key file (id_ed25519.pub)");
	if (o->meta_data && !o->cloud_init)
		return pb_err_set(err, -EINVAL, "--meta-data goes with --cloud-init USER-DATA");
	if (o->keys_for && (o->user || !o->n_ssh_keys || !disk_user_name_valid(o->keys_for)))
		return pb_err_set(err, -EINVAL, "keys for an existing account go without --user, with --ssh-key");
	if ((o->firstboot && !*o->firstboot) || (o->cloud_init && !*o->cloud_init))
		return pb_err_set(err, -EINVAL, "--firstboot and --cloud-init take a file");
	return 0;
}

void disk_custom_release(struct disk_custom *c)
{
	free(c->root_hash);
	free(c->user_hash);
	for (size_t i = 0; i < c->n_groups; i++)
		free(c->groups[i]);
	free(c->groups);
	strbuf_release(&c->keys);
	strbuf_release(&c->script);
	free(c->interp);
	strbuf_release(&c->ud);
	strbuf_release(&c->md);
	memset(c, 0, sizeof(*c));
}

static int load_password(const char *file, int fd, const char *seed, const char *partname, const char *account,
			 char **ret, struct pb_err *err)
{
	struct strbuf salt = STRBUF_INIT;
	char *pw = NULL;
	int r;

	r = disk_password_read(file, fd, &pw, err);
	if (r < 0)
		return r;
	if (seed)
		strbuf_addf(&salt, "partboot-password:%s:%s:%s", seed, partname ? partname : "", account);
	r = disk_password_hash(pw, seed ? salt.buf : NULL, ret, err);
	disk_password_free(pw);
	strbuf_release(&salt);
	return r;
}

int disk_custom_load(struct disk_custom *c, const struct disk_customize_opts *o, const char *seed,
		     const char *partname, struct pb_err *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->partname = partname;
	strbuf_init(&c->keys);
	strbuf_init(&c->script);
	strbuf_init(&c->ud);
	strbuf_init(&c->md);
	r = disk_customize_check(o, err);
	if (r < 0)
		return r;
	if (o->user) {
		r = parse_user(o->user, c, err);
		if (r < 0)
			return r;
	}
	if (o->root_password_file) {
		r = load_password(o->root_password_file, o->password_fd, seed, partname, "root", &c->root_hash, err);
		if (r < 0)
			return r;
	}
	if (o->user_password_file) {
		r = load_password(o->user_password_file, o->password_fd, seed, partname, c->user, &c->user_hash, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < o->n_ssh_keys; i++) {
		size_t n = 0;

		r = disk_sshkey_load(o->ssh_keys[i], &c->keys, &n, err);
		if (r < 0)
			return r;
		c->n_keys += n;
	}
	if (o->firstboot) {
		r = disk_firstboot_load(o->firstboot, &c->script, &c->interp, err);
		if (r < 0)
			return r;
	}
	if (o->cloud_init) {
		r = disk_cloud_init_load(o->cloud_init, o->meta_data, &c->ud, &c->md, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- phase 2: the plan ------------------------------------------------------------------- */

enum act_kind { ACT_MKDIR, ACT_FILE, ACT_LINK, ACT_SKEL };

struct act {
	enum act_kind kind;
	char *path;
	struct strbuf data; /* FILE: the content; LINK: the target; SKEL: the folder copied */
	struct fs_meta meta;
	unsigned flags;
};

struct plan {
	struct disk_custom *c;
	struct fs *fs;
	const char *where;
	struct pb_err *err;
	struct act *v;
	size_t n, alloc;
	struct strbuf notes; /* one per line */
	/* the guest's account files, as read and as they will be */
	struct disk_acct passwd, group, shadow, gshadow;
	bool have_passwd, have_group, have_shadow, have_gshadow;
	int64_t now;
};

static struct act *act_add(struct plan *pl, enum act_kind kind, const char *path, uint32_t uid, uint32_t gid,
			   unsigned mode)
{
	struct act *a;

	if (pl->n == pl->alloc) {
		pl->alloc = pl->alloc ? pl->alloc * 2 : 16;
		pl->v = xreallocarray(pl->v, pl->alloc, sizeof(*pl->v));
	}
	a = &pl->v[pl->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->path = xstrdup(path);
	strbuf_init(&a->data);
	a->meta = (struct fs_meta){ uid, gid, mode };
	return a;
}

static void add_buf(struct strbuf *to, const struct strbuf *from)
{
	strbuf_add(to, from->buf, from->len);
}

static void note(struct plan *pl, const char *fmt, ...) _printf_(2, 3);
static void note(struct plan *pl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&pl->notes, fmt, ap);
	va_end(ap);
	strbuf_addch(&pl->notes, '\n');
}

/* A regular file of the guest into out; *ret_there false when it is missing. Bounded. */
static int read_guest(struct plan *pl, const char *path, struct strbuf *out, bool *ret_there)
{
	return disk_guest_read(pl->fs, pl->where, path, GUEST_FILE_MAX, out, ret_there, pl->err);
}

static int read_acct(struct plan *pl, const char *path, struct disk_acct *a, bool *ret_there)
{
	struct strbuf sb = STRBUF_INIT;
	int r = read_guest(pl, path, &sb, ret_there);

	if (r >= 0)
		disk_acct_parse(sb.buf, a);
	strbuf_release(&sb);
	return r;
}

static bool guest_has(struct plan *pl, const char *path, char type)
{
	struct fs_dirent st;

	return fs_stat(pl->fs, path, true, &st, NULL) == 0 && (!type || st.type == type);
}

/* The numeric field f of line i, or false. */
static bool acct_id(const struct disk_acct *a, long i, unsigned f, uint32_t *ret)
{
	struct strbuf sb = STRBUF_INIT;
	unsigned long v = 0;
	char *end = NULL;
	bool ok;

	ok = i >= 0 && disk_acct_field(a, (size_t)i, f, &sb) && sb.len;
	if (ok)
		v = strtoul(sb.buf, &end, 10);
	ok = ok && !*end && v <= UINT32_MAX;
	strbuf_release(&sb);
	if (ok)
		*ret = (uint32_t)v;
	return ok;
}

static long days_since_epoch(const struct plan *pl)
{
	return (long)(pl->now / 86400);
}

/* mkdir -p of path's missing parents (0755 root:root), leaving existing ones alone. */
static void plan_parents(struct plan *pl, const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);

	for (char *s = strchr(copy + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (!guest_has(pl, copy, 0))
			act_add(pl, ACT_MKDIR, copy, 0, 0, 0755)->flags = FS_MKDIR_EXIST_OK;
		*s = '/';
	}
}

/* authorized_keys for an account whose home is home, owned by uid:gid. home_new: made by this plan. */
static int plan_keys(struct plan *pl, const char *account, const char *home, uint32_t uid, uint32_t gid,
		     bool home_new)
{
	struct strbuf ssh = STRBUF_INIT, ak = STRBUF_INIT, old = STRBUF_INIT;
	struct act *a;
	size_t added = 0;
	bool there = false;
	int r = 0;

	strbuf_addf(&ssh, "%s/.ssh", home);
	strbuf_addf(&ak, "%s/authorized_keys", ssh.buf);
	if (!home_new && !guest_has(pl, home, 0)) {
		plan_parents(pl, home);
		act_add(pl, ACT_MKDIR, home, uid, gid, 0700);
		home_new = true;
	}
	if (!home_new) {
		r = read_guest(pl, ak.buf, &old, &there);
		if (r < 0)
			goto out;
	}
	if (home_new || !guest_has(pl, ssh.buf, 'd'))
		act_add(pl, ACT_MKDIR, ssh.buf, uid, gid, 0700)->flags = FS_MKDIR_EXIST_OK;
	a = act_add(pl, ACT_FILE, ak.buf, uid, gid, 0600);
	disk_sshkey_merge(there ? old.buf : NULL, pl->c->keys.buf, &a->data, &added);
	note(pl, "%zu SSH key%s added to %s's %s%s", added, added == 1 ? "" : "s", account, ak.buf,
	     added < pl->c->n_keys ? " (the others were there)" : "");
out:
	strbuf_release(&ssh);
	strbuf_release(&ak);
	strbuf_release(&old);
	return r;
}

/*
 * What the guest's account files refuse, from what is known of them (each
 * state: 1 there, 0 missing, -1 not known, as before an install when the
 * source cannot be read ahead; au NULL when adduser.conf is not known).
 * Only what is known refuses. in names where the files were read (" in
 * SOURCE"), "" for the guest's own filesystem.
 */
struct acct_view {
	const struct disk_acct *passwd, *group;
	int passwd_state, group_state, shadow_state;
	const struct disk_adduser *au;
	const char *in;
};

static int accounts_refused(const struct disk_custom *c, const char *where, const struct acct_view *v,
			    struct pb_err *err)
{
	bool password = c->root_hash || c->o->root_password != DISK_ROOT_PASSWORD_KEEP || c->user[0];
	uint32_t gid = 0;
	long gi;

	if (!v->passwd_state)
		return pb_err_set(err, -ENOENT, "%s: the guest has no /etc/passwd%s", where, v->in);
	if (password && !v->shadow_state)
		return pb_err_set(err, -ENOENT,
				  "%s: the guest has no /etc/shadow%s (partboot sets passwords in shadow files only)", where,
				  v->in);
	if (c->user[0] && !v->group_state)
		return pb_err_set(err, -ENOENT, "%s: the guest has no /etc/group%s", where, v->in);
	if (!c->user[0])
		return 0;
	if (v->passwd_state > 0 && disk_acct_find(v->passwd, c->user) >= 0)
		return pb_err_set(err, -EEXIST, "%s: user '%s' already exists in the guest (its /etc/passwd%s)", where,
				  c->user, v->in);
	if (v->group_state <= 0)
		return 0;
	for (size_t i = 0; i < c->n_groups; i++)
		if (disk_acct_find(v->group, c->groups[i]) < 0)
			return pb_err_set(err, -ENOENT, "%s: group '%s' does not exist in the guest (its /etc/group%s)",
					  where, c->groups[i], v->in);
	/* A group of the user's name that is a system group: adduser refuses it too. */
	gi = disk_acct_find(v->group, c->user);
	if (gi >= 0 && v->au && (!acct_id(v->group, gi, 2, &gid) || gid < v->au->first_gid))
		return pb_err_set(err, -EEXIST, "%s: the guest has a system group '%s' already%s; choose another user name",
				  where, c->user, v->in);
	return 0;
}

static int plan_user(struct plan *pl, const struct disk_adduser *aup)
{
	struct disk_custom *c = pl->c;
	struct strbuf line = STRBUF_INIT, home = STRBUF_INIT, groups = STRBUF_INIT;
	const struct disk_adduser au = *aup;
	const char *shell;
	uint32_t uid = 0, gid = 0;
	long gi;
	bool home_new;
	int r;

	/* accounts_refused() has seen the user is new and the groups exist */
	for (size_t i = 0; i < c->n_groups; i++)
		strbuf_addf(&groups, "%s%s", i ? "," : "", c->groups[i]);

	/* Ids as adduser picks them: the first id from FIRST_UID free as a uid and as a gid. */
	gi = disk_acct_find(&pl->group, c->user);
	if (gi >= 0) {
		/* A group of that name (what an interrupted run leaves, or made by hand): the user's group. */
		acct_id(&pl->group, gi, 2, &gid);
		uid = gid;
		if (disk_acct_id_used(&pl->passwd, 2, uid) || uid < au.first_uid || uid > au.last_uid)
			for (uid = au.first_uid; uid <= au.last_uid && disk_acct_id_used(&pl->passwd, 2, uid); uid++)
				;
	} else {
		for (uid = au.first_uid; uid <= au.last_uid; uid++)
			if (!disk_acct_id_used(&pl->passwd, 2, uid) && !disk_acct_id_used(&pl->group, 2, uid))
				break;
		gid = uid;
	}
	if (uid > au.last_uid) {
		r = pb_err_set(pl->err, -ENOSPC, "%s: no free user id from %" PRIu32 " to %" PRIu32 " in the guest",
			       pl->where, au.first_uid, au.last_uid);
		goto out;
	}
	shell = guest_has(pl, au.dshell, 'f') ? au.dshell : "/bin/sh";
	strbuf_addf(&home, "%s/%s", au.dhome, c->user);

	/* The home, from the skeleton, and its keys. */
	home_new = !guest_has(pl, home.buf, 0);
	note(pl, "user %s added: uid %" PRIu32 ", gid %" PRIu32 "%s%s, home %s%s%s%s, shell %s, %s", c->user, uid,
	     gid, groups.len ? ", groups " : "", groups.buf, home.buf,
	     home_new && guest_has(pl, au.skel, 'd') ? " (from " : "", home_new && guest_has(pl, au.skel, 'd') ? au.skel : "",
	     home_new ? (guest_has(pl, au.skel, 'd') ? ")" : "") : " (there already: kept as it is)", shell,
	     c->user_hash ? "password set (yescrypt)" : "no password (SSH keys only)");
	if (home_new) {
		plan_parents(pl, home.buf);
		act_add(pl, ACT_MKDIR, home.buf, uid, gid, au.dir_mode);
		if (guest_has(pl, au.skel, 'd'))
			strbuf_addstr(&act_add(pl, ACT_SKEL, home.buf, uid, gid, 0)->data, au.skel);
	}
	if (c->n_keys) {
		r = plan_keys(pl, c->user, home.buf, uid, gid, home_new);
		if (r < 0)
			goto out;
	}

	/* The account files, in memory; written after the homes, passwd last (see the top). */
	strbuf_addf(&line, "%s:%s:%ld:0:99999:7:::", c->user, c->user_hash ? c->user_hash : "*",
		    days_since_epoch(pl));
	disk_acct_put(&pl->shadow, c->user, line.buf);
	if (pl->have_gshadow) {
		if (disk_acct_find(&pl->gshadow, c->user) < 0) {
			strbuf_reset(&line);
			strbuf_addf(&line, "%s:!::", c->user);
			disk_acct_put(&pl->gshadow, c->user, line.buf);
		}
		for (size_t i = 0; i < c->n_groups; i++) {
			long g = disk_acct_find(&pl->gshadow, c->groups[i]);

			if (g >= 0)
				disk_acct_add_member(&pl->gshadow, (size_t)g, 3, c->user);
		}
	}
	if (gi < 0) {
		strbuf_reset(&line);
		strbuf_addf(&line, "%s:x:%" PRIu32 ":", c->user, gid);
		disk_acct_put(&pl->group, c->user, line.buf);
	}
	for (size_t i = 0; i < c->n_groups; i++)
		disk_acct_add_member(&pl->group, (size_t)disk_acct_find(&pl->group, c->groups[i]), 3, c->user);
	strbuf_reset(&line);
	strbuf_addf(&line, "%s:x:%" PRIu32 ":%" PRIu32 ":,,,:%s:%s", c->user, uid, gid, home.buf, shell);
	disk_acct_put(&pl->passwd, c->user, line.buf);
	r = 0;
out:
	strbuf_release(&line);
	strbuf_release(&home);
	strbuf_release(&groups);
	return r;
}

static int plan_root(struct plan *pl)
{
	struct disk_custom *c = pl->c;
	struct strbuf f = STRBUF_INIT;
	long i = disk_acct_find(&pl->shadow, "root");
	int r = 0;

	if (!c->root_hash && c->o->root_password == DISK_ROOT_PASSWORD_KEEP)
		return 0;
	if (i < 0)
		return pb_err_set(pl->err, -ENOENT, "%s: the guest's /etc/shadow has no entry for root", pl->where);
	if (c->root_hash) {
		disk_acct_set_field(&pl->shadow, (size_t)i, 1, c->root_hash);
		strbuf_addf(&f, "%ld", days_since_epoch(pl));
		disk_acct_set_field(&pl->shadow, (size_t)i, 2, f.buf);
		note(pl, "root's password set (yescrypt, /etc/shadow)");
	} else if (c->o->root_password == DISK_ROOT_PASSWORD_LOCKED) {
		disk_acct_field(&pl->shadow, (size_t)i, 1, &f);
		if (f.buf[0] != '!') {
			struct strbuf v = STRBUF_INIT;

			strbuf_addf(&v, "!%s", f.buf);
			disk_acct_set_field(&pl->shadow, (size_t)i, 1, v.buf);
			strbuf_release(&v);
		}
		note(pl, "root's password locked ('!' before its hash, as passwd -l does)");
	} else {
		disk_acct_set_field(&pl->shadow, (size_t)i, 1, "*");
		note(pl, "root's password disabled ('*': no password works)");
	}
	strbuf_release(&f);
	return r;
}

/* shadow, gshadow, group, passwd, in that order, each only when it changes. */
static void plan_account_files(struct plan *pl, const struct disk_acct *orig, const char *const *paths,
			       const struct disk_acct *now, const bool *there)
{
	uint32_t shadow_gid = 0;
	bool shadow_group = acct_id(&pl->group, disk_acct_find(&pl->group, "shadow"), 2, &shadow_gid);

	for (size_t k = 0; k < 4; k++) {
		struct strbuf before = STRBUF_INIT;
		struct act *a;
		bool secret = k < 2;

		if (!there[k])
			continue;
		disk_acct_text(&orig[k], &before);
		a = act_add(pl, ACT_FILE, paths[k], 0, 0, secret ? 0640 : 0644);
		disk_acct_text(&now[k], &a->data);
		if (a->data.len == before.len && !memcmp(a->data.buf, before.buf, before.len)) {
			/* unchanged: drop the action again */
			strbuf_release(&a->data);
			free(a->path);
			pl->n--;
		} else if (secret && shadow_group) {
			/* Debian's: 0640 root:shadow, the gid the guest's own /etc/group gives 'shadow' */
			a->meta.gid = shadow_gid;
		} else {
			a->flags = FS_WRITE_KEEP_META;
		}
		strbuf_release(&before);
	}
}

static int plan_firstboot(struct plan *pl)
{
	struct disk_custom *c = pl->c;
	struct fs_dirent st;

	if (!guest_has(pl, "/lib/systemd/systemd", 'f') && !guest_has(pl, "/usr/lib/systemd/systemd", 'f'))
		return pb_err_set(pl->err, -ENOENT, "%s: the guest has no systemd (/lib/systemd/systemd): --firstboot needs it",
				  pl->where);
	if (fs_stat(pl->fs, c->interp, true, &st, NULL) < 0 || st.type != 'f' || !(st.mode & 0111))
		return pb_err_set(pl->err, -ENOENT, "%s: the guest has no %s, the interpreter on %s's #! line", pl->where,
				  c->interp, c->o->firstboot);
	plan_parents(pl, DISK_FIRSTBOOT_SCRIPT);
	add_buf(&act_add(pl, ACT_FILE, DISK_FIRSTBOOT_SCRIPT, 0, 0, 0700)->data, &c->script);
	plan_parents(pl, "/etc/systemd/system/" DISK_FIRSTBOOT_UNIT);
	strbuf_addstr(&act_add(pl, ACT_FILE, "/etc/systemd/system/" DISK_FIRSTBOOT_UNIT, 0, 0, 0644)->data,
		      disk_firstboot_unit());
	act_add(pl, ACT_MKDIR, WANTS_DIR, 0, 0, 0755)->flags = FS_MKDIR_EXIST_OK;
	strbuf_addstr(&act_add(pl, ACT_LINK, WANTS_DIR "/" DISK_FIRSTBOOT_UNIT, 0, 0, 0777)->data,
		      "/etc/systemd/system/" DISK_FIRSTBOOT_UNIT);
	note(pl, "first-boot script %s (%s): runs once at the next boot, %s then disables itself", c->o->firstboot,
	     DISK_FIRSTBOOT_SCRIPT, DISK_FIRSTBOOT_UNIT);
	return 0;
}

static int plan_cloud_init(struct plan *pl, const char *hostname)
{
	struct disk_custom *c = pl->c;
	struct act *a;

	if (!guest_has(pl, "/usr/bin/cloud-init", 'f'))
		return pb_err_set(pl->err, -ENOENT,
				  "%s: the guest has no cloud-init (/usr/bin/cloud-init), nothing would read the seed; "
				  "install it with --packages cloud-init",
				  pl->where);
	plan_parents(pl, DISK_CLOUD_SEED_DIR "/user-data");
	if (!guest_has(pl, DISK_CLOUD_SEED_DIR, 'd'))
		act_add(pl, ACT_MKDIR, DISK_CLOUD_SEED_DIR, 0, 0, 0755)->flags = FS_MKDIR_EXIST_OK;
	/* user-data may hold secrets: root's only */
	add_buf(&act_add(pl, ACT_FILE, DISK_CLOUD_SEED_DIR "/user-data", 0, 0, 0600)->data, &c->ud);
	a = act_add(pl, ACT_FILE, DISK_CLOUD_SEED_DIR "/meta-data", 0, 0, 0644);
	if (c->o->meta_data)
		add_buf(&a->data, &c->md);
	else
		disk_cloud_init_meta(c->partname ? c->partname : "guest", hostname, &c->ud, &a->data);
	note(pl, "cloud-init seed in %s (user-data from %s, meta-data %s)", DISK_CLOUD_SEED_DIR, c->o->cloud_init,
	     c->o->meta_data ? c->o->meta_data : "made up: instance-id, local-hostname");
	return 0;
}

static int plan_vm_network(struct plan *pl)
{
	const char *unit = "/lib/systemd/system/systemd-networkd.service";
	struct fs_dirent st;

	if (!guest_has(pl, "/lib/systemd/systemd-networkd", 'f') && !guest_has(pl, "/usr/lib/systemd/systemd-networkd", 'f'))
		return pb_err_set(pl->err, -ENOENT,
				  "%s: the guest has no systemd-networkd to bring up the VM's network card; configure "
				  "DHCP in the guest yourself",
				  pl->where);
	if (!guest_has(pl, unit, 'f'))
		unit = "/usr/lib/systemd/system/systemd-networkd.service";
	if (!guest_has(pl, VM_NETWORK_FILE, 'f')) {
		plan_parents(pl, VM_NETWORK_FILE);
		strbuf_addstr(&act_add(pl, ACT_FILE, VM_NETWORK_FILE, 0, 0, 0644)->data,
			      "# Written by partboot (partboot ssh): DHCP on the VM runner's virtio network card.\n"
			      "# A real machine's cards do not match (other drivers); they stay the guest's own.\n"
			      "[Match]\nDriver=virtio_net\n\n[Network]\nDHCP=ipv4\n");
	}
	if (fs_stat(pl->fs, WANTS_DIR "/systemd-networkd.service", false, &st, NULL) < 0) {
		plan_parents(pl, WANTS_DIR "/x");
		act_add(pl, ACT_MKDIR, WANTS_DIR, 0, 0, 0755)->flags = FS_MKDIR_EXIST_OK;
		strbuf_addstr(&act_add(pl, ACT_LINK, WANTS_DIR "/systemd-networkd.service", 0, 0, 0777)->data, unit);
	}
	note(pl, "DHCP on the VM's virtio network card (%s, systemd-networkd enabled)", VM_NETWORK_FILE);
	return 0;
}

static int plan_build(struct plan *pl, const char *hostname)
{
	struct disk_custom *c = pl->c;
	static const char *const paths[4] = { "/etc/shadow", "/etc/gshadow", "/etc/group", "/etc/passwd" };
	struct disk_acct orig[4] = { 0 };
	bool there[4] = { false, false, false, false };
	bool accounts = c->root_hash || c->o->root_password != DISK_ROOT_PASSWORD_KEEP || c->user[0] || c->n_keys;
	struct strbuf conf = STRBUF_INIT;
	struct disk_adduser au = { 0 };
	int r = 0;

	if (accounts) {
		r = read_acct(pl, "/etc/passwd", &pl->passwd, &pl->have_passwd);
		if (r >= 0)
			r = read_acct(pl, "/etc/group", &pl->group, &pl->have_group);
		if (r >= 0)
			r = read_acct(pl, "/etc/shadow", &pl->shadow, &pl->have_shadow);
		if (r >= 0)
			r = read_acct(pl, "/etc/gshadow", &pl->gshadow, &pl->have_gshadow);
		if (r >= 0 && c->user[0]) {
			bool conf_there = false;

			r = read_guest(pl, "/etc/adduser.conf", &conf, &conf_there);
			disk_adduser_parse(conf_there ? conf.buf : NULL, &au);
		}
		if (r < 0)
			goto out;
		r = accounts_refused(c, pl->where,
				     &(struct acct_view){ .passwd = &pl->passwd, .group = &pl->group,
							  .passwd_state = pl->have_passwd, .group_state = pl->have_group,
							  .shadow_state = pl->have_shadow, .au = &au, .in = "" },
				     pl->err);
		if (r < 0)
			goto out;
		/* copies of what was read, to write only what changes */
		for (size_t k = 0; k < 4; k++) {
			const struct disk_acct *src = k == 0   ? &pl->shadow
						      : k == 1 ? &pl->gshadow
						      : k == 2 ? &pl->group
							       : &pl->passwd;
			struct strbuf sb = STRBUF_INIT;

			disk_acct_text(src, &sb);
			disk_acct_parse(sb.buf, &orig[k]);
			strbuf_release(&sb);
		}
		there[0] = pl->have_shadow;
		there[1] = pl->have_gshadow;
		there[2] = pl->have_group;
		there[3] = pl->have_passwd;
	}
	if (c->user[0]) {
		r = plan_user(pl, &au);
		if (r < 0)
			goto out;
	}
	if (c->n_keys && !c->user[0]) {
		const char *account = c->o->keys_for ? c->o->keys_for : "root";
		long ri = disk_acct_find(&pl->passwd, account);
		struct strbuf home = STRBUF_INIT;
		uint32_t uid = 0, gid = 0;

		if (ri < 0 && strcmp(account, "root")) {
			r = pb_err_set(pl->err, -ENOENT, "%s: no user '%s' in the guest (its /etc/passwd)", pl->where, account);
			goto out;
		}
		if (ri >= 0) {
			disk_acct_field(&pl->passwd, (size_t)ri, 5, &home);
			acct_id(&pl->passwd, ri, 2, &uid);
			acct_id(&pl->passwd, ri, 3, &gid);
		}
		if (!home.len || home.buf[0] != '/') {
			if (strcmp(account, "root")) {
				strbuf_release(&home);
				r = pb_err_set(pl->err, -ENOENT, "%s: user '%s' has no home in the guest's /etc/passwd",
					       pl->where, account);
				goto out;
			}
			strbuf_reset(&home);
			strbuf_addstr(&home, "/root");
		}
		r = plan_keys(pl, account, home.buf, uid, gid, false);
		strbuf_release(&home);
		if (r < 0)
			goto out;
	}
	r = plan_root(pl);
	if (r < 0)
		goto out;
	if (accounts) {
		const struct disk_acct now[4] = { pl->shadow, pl->gshadow, pl->group, pl->passwd };

		plan_account_files(pl, orig, paths, now, there);
	}
	if (c->o->firstboot) {
		r = plan_firstboot(pl);
		if (r < 0)
			goto out;
	}
	if (c->o->cloud_init) {
		r = plan_cloud_init(pl, hostname);
		if (r < 0)
			goto out;
	}
	if (c->o->vm_network)
		r = plan_vm_network(pl);
out:
	for (size_t k = 0; k < 4; k++)
		disk_acct_release(&orig[k]);
	strbuf_release(&conf);
	return r;
}

int disk_custom_precheck(const struct disk_custom *c, const char *where, const char *source, bool fresh,
			 struct pb_err *err)
{
	static const char *const paths[] = { "etc/passwd", "etc/group", "etc/shadow", "etc/adduser.conf" };
	struct strbuf text[ARRAY_SIZE(paths)] = { STRBUF_INIT, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT };
	enum fs_peek st[ARRAY_SIZE(paths)];
	int state[ARRAY_SIZE(paths)];
	struct disk_acct passwd = { 0 }, group = { 0 };
	struct strbuf in = STRBUF_INIT;
	struct disk_adduser au;
	int r;

	if (!c->root_hash && c->o->root_password == DISK_ROOT_PASSWORD_KEEP && !c->user[0] && !c->n_keys)
		return 0;
	fs_source_peek(source, paths, ARRAY_SIZE(paths), GUEST_FILE_MAX, text, st);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		/* missing from the source is missing from the guest only when the install starts from nothing */
		state[i] = st[i] == FS_PEEK_FOUND ? 1 : st[i] == FS_PEEK_MISSING && fresh ? 0 : -1;
	if (state[0] > 0)
		disk_acct_parse(text[0].buf, &passwd);
	if (state[1] > 0)
		disk_acct_parse(text[1].buf, &group);
	if (state[3] >= 0)
		disk_adduser_parse(state[3] ? text[3].buf : NULL, &au);
	strbuf_addf(&in, " in %s", source);
	r = accounts_refused(c, where,
			     &(struct acct_view){ .passwd = &passwd, .group = &group, .passwd_state = state[0],
						  .group_state = state[1], .shadow_state = state[2],
						  .au = state[3] >= 0 ? &au : NULL, .in = in.buf },
			     err);
	disk_acct_release(&passwd);
	disk_acct_release(&group);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		/* the source's shadow holds hashes */
		explicit_bzero(text[i].buf, text[i].len);
		strbuf_release(&text[i]);
	}
	strbuf_release(&in);
	return r;
}

static int act_run(struct plan *pl, const struct act *a)
{
	switch (a->kind) {
	case ACT_MKDIR:
		return fs_mkdir(pl->fs, a->path, &a->meta, a->flags, pl->err);
	case ACT_FILE:
		return fs_write_file(pl->fs, a->path, a->data.buf, a->data.len, &a->meta, a->flags, pl->err);
	case ACT_LINK:
		return fs_symlink(pl->fs, a->path, a->data.buf, &a->meta, pl->err);
	case ACT_SKEL:
		return fs_copy_tree(pl->fs, a->data.buf, a->path, a->meta.uid, a->meta.gid, pl->err);
	}
	return -EINVAL;
}

int disk_custom_apply(struct disk_custom *c, struct disk *k, struct fs *fs, const char *where,
		      const char *hostname, bool dry_run, struct pb_err *err)
{
	struct plan pl = { .c = c, .fs = fs, .where = where, .err = err, .notes = STRBUF_INIT };
	const char *seed = part_disk_seed(k->d);
	int r;

	if (!pb_fixed_time(seed != NULL, &pl.now))
		pl.now = (int64_t)time(NULL);
	r = plan_build(&pl, hostname);
	for (size_t i = 0; r >= 0 && !dry_run && i < pl.n; i++)
		r = act_run(&pl, &pl.v[i]);
	if (r >= 0 && !dry_run)
		r = fs_flush(fs, err);
	if (r >= 0)
		for (const char *line = pl.notes.buf; *line;) {
			const char *end = strchrnul(line, '\n');

			disk_note(k, "%s: %.*s", where, (int)(end - line), line);
			line = *end ? end + 1 : end;
		}
	for (size_t i = 0; i < pl.n; i++) {
		free(pl.v[i].path);
		/* account files and seeds may hold hashes: wipe before freeing */
		explicit_bzero(pl.v[i].data.buf, pl.v[i].data.len);
		strbuf_release(&pl.v[i].data);
	}
	free(pl.v);
	strbuf_release(&pl.notes);
	disk_acct_release(&pl.passwd);
	disk_acct_release(&pl.group);
	disk_acct_release(&pl.shadow);
	disk_acct_release(&pl.gshadow);
	return r;
}

/* ---- on a complete guest -------------------------------------------------------------------- */

int disk_customize(struct disk *k, const char *name, const struct disk_customize_opts *o, unsigned flags,
		   struct pb_err *err)
{
	struct strbuf where = STRBUF_INIT, host = STRBUF_INIT;
	struct disk_custom c = { 0 };
	struct disk_guest g = { 0 };
	struct fs *fs = NULL;
	struct part_info p;
	struct fs_target t;
	char pname[80];
	bool dry = flags & DISK_CUSTOMIZE_DRY_RUN, locked = false, probed = false;
	int r;

	strbuf_init(&c.keys);
	r = disk_customize_check(o, err);
	if (r < 0)
		goto out;
	if (disk_customize_empty(o)) {
		r = pb_err_set(err, -EINVAL, "nothing to change (--root-password-file, --user, --ssh-key, --firstboot, ...)");
		goto out;
	}
	r = part_disk_find(k->d, name, &p, err);
	if (r < 0)
		goto out;
	disk_part_name(&p, pname, sizeof(pname));
	disk_part_where(k, &p, &where);
	disk_guest_probe(k, &p, &g);
	probed = true;
	if (g.state != DISK_GUEST_COMPLETE) {
		r = pb_err_set(err, -EINVAL, "%s: %s", where.buf,
			       g.state == DISK_GUEST_INCOMPLETE ? "the guest is incomplete (its install was interrupted "
								  "or is under way); install it again"
			       : g.state == DISK_GUEST_UNREADABLE ? "its filesystem cannot be read"
								  : "no guest in it (no ext2/3/4 on a root or data partition)");
		goto out;
	}
	/* 1. The files the request names, before the disk is touched. */
	r = disk_custom_load(&c, o, part_disk_seed(k->d), pname, err);
	if (r < 0)
		goto out;
	/* 2. The guest, held against VM runners and installs while it changes. */
	if (!dry) {
		r = part_disk_check_unused(k->d, &p, err);
		if (r >= 0)
			r = part_disk_lock_partition(k->d, &p, err);
		if (r < 0)
			goto out;
		locked = true;
	}
	t = disk_target(k, &p, where.buf, pname);
	r = dry ? fs_open(&t, &fs, err) : fs_open_rw(&t, part_disk_seed(k->d), &fs, err);
	if (r < 0)
		goto out;
	{
		bool there;

		/* the guest's name for the seed's local-hostname, when it is a valid one */
		if (disk_guest_read(fs, where.buf, "/etc/hostname", 256, &host, &there, NULL) == 0 && there) {
			host.len = strcspn(host.buf, " \t\r\n");
			host.buf[host.len] = '\0';
			if (!fs_hostname_valid(host.buf))
				strbuf_reset(&host);
		} else {
			strbuf_reset(&host);
		}
	}
	r = disk_custom_apply(&c, k, fs, where.buf, host.len ? host.buf : NULL, dry, err);
out:
	fs_free(fs);
	if (locked)
		part_disk_unlock_partition(k->d, &p);
	if (probed)
		disk_guest_release(&g);
	disk_custom_release(&c);
	strbuf_release(&where);
	strbuf_release(&host);
	return r;
}
