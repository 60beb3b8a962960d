/* SPDX-License-Identifier: MIT */
/*
 * partboot ssh DISK NAME [-- COMMAND...]: a shell (or a command) in a guest,
 * booted for the purpose in the VM runner or already running there
 * (docs/ssh.md).
 *
 * What is kept, and where: one key pair per disk, KEY_DIR/DISK-ID/id_ed25519
 * (KEY_DIR $XDG_DATA_HOME/partboot/ssh, by default ~/.local/share/partboot/
 * ssh; DISK-ID the GPT disk GUID or the dos signature, so a copy of the
 * image is the same disk), made by ssh-keygen the first time; beside it,
 * known_hosts.PARTUUID, rewritten at every session from the host keys read
 * out of the guest's /etc/ssh (ssh checks against those, under the alias
 * partboot-DISK-ID-PARTUUID, never against whatever answers on the port),
 * and console-PARTUUID.log, the serial console of the last VM partboot
 * started for that guest.
 *
 * Who touches the disk: disk_customize() puts the public key into the
 * guest (root's authorized_keys, and the user's) when it is not there, with
 * the VM network's DHCP (customize.c says how it writes); the VM runner
 * then holds the partition. A VM that already runs the guest is found
 * through its runtime file (vm_runtime_read()) and joined, never written
 * under.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "../common/run.h"
#include "disk-private.h"

extern char **environ;

#define HOST_KEY_MAX (16 * 1024)

struct disk_ssh {
	struct disk *k;
	struct part_info p;
	char name[80];
	struct strbuf where;
	char user[33];
	struct strbuf dir, key, known_hosts, alias, console;
	unsigned port;
	bool joined;
	struct vm *vm;
	struct vm_bg *bg;
	bool ended;
	int vm_status;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mkdir -p, each new folder 0700 (keys live there). */
static int mkdir_private(const char *path, struct pb_err *err)
{
	_cleanup_free_ char *copy = xstrdup(path);

	for (char *s = copy + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdir(copy, 0700) < 0 && errno != EEXIST)
				return pb_err_set(err, -errno, "%s: cannot make: %s", copy, strerror(errno));
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

static void safe_name(const char *in, struct strbuf *out)
{
	for (const char *c = in; *c; c++)
		strbuf_addch(out, (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
					  *c == '-'
				  ? *c
				  : '_');
}

/* KEY_DIR/DISK-ID, and the key pair in it (made when missing). */
static int client_key(struct disk_ssh *s, const struct disk_ssh_opts *o, struct pb_err *err)
{
	const char *id = part_disk_id(s->k->d);
	struct stat st;
	int r;

	if (o->key_dir) {
		strbuf_addstr(&s->dir, o->key_dir);
	} else {
		const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

		if (xdg && *xdg == '/')
			strbuf_addf(&s->dir, "%s/partboot/ssh", xdg);
		else if (home && *home == '/')
			strbuf_addf(&s->dir, "%s/.local/share/partboot/ssh", home);
		else
			return pb_err_set(err, -ENOENT, "neither XDG_DATA_HOME nor HOME is set: nowhere to keep partboot's SSH key");
	}
	if (!*id)
		return pb_err_set(err, -EINVAL, "%s: the disk has no identifier (no partition table)", s->k->path);
	strbuf_addch(&s->dir, '/');
	safe_name(id, &s->dir);
	r = mkdir_private(s->dir.buf, err);
	if (r < 0)
		return r;
	strbuf_addf(&s->key, "%s/id_ed25519", s->dir.buf);
	strbuf_addf(&s->known_hosts, "%s/known_hosts.", s->dir.buf);
	safe_name(s->p.uuid, &s->known_hosts);
	strbuf_addstr(&s->alias, "partboot-");
	safe_name(id, &s->alias);
	strbuf_addch(&s->alias, '-');
	safe_name(s->p.uuid, &s->alias);
	if (stat(s->key.buf, &st) < 0) {
		struct strbuf comment = STRBUF_INIT;
		const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", NULL, "-f", s->key.buf, NULL };

		strbuf_addf(&comment, "partboot disk %s", id);
		argv[7] = comment.buf;
		r = pb_run(argv, NULL, err);
		strbuf_release(&comment);
		if (r < 0)
			return r == -ENOENT ? pb_err_set(err, r, "ssh-keygen not found: install openssh-client") : r;
		disk_note(s->k, "%s: made partboot's SSH key for this disk: %s", s->k->path, s->key.buf);
	}
	return 0;
}

/* The account's home (field 6 of its passwd line) into out; -ENOENT when the guest has no such user. */
static int guest_home(struct disk_ssh *s, struct fs *fs, const char *user, struct strbuf *out, struct pb_err *err)
{
	struct strbuf passwd = STRBUF_INIT;
	struct disk_acct a;
	bool there;
	long i;
	int r;

	r = disk_guest_read(fs, s->where.buf, "/etc/passwd", 16u << 20, &passwd, &there, err);
	if (r >= 0 && !there)
		r = pb_err_set(err, -ENOENT, "%s: the guest has no /etc/passwd", s->where.buf);
	if (r < 0) {
		strbuf_release(&passwd);
		return r;
	}
	disk_acct_parse(passwd.buf, &a);
	strbuf_release(&passwd);
	i = disk_acct_find(&a, user);
	if (i < 0 || !disk_acct_field(&a, (size_t)i, 5, out) || out->buf[0] != '/') {
		if (!strcmp(user, "root")) {
			strbuf_reset(out);
			strbuf_addstr(out, "/root");
		} else {
			r = pb_err_set(err, -ENOENT, "%s: no user '%s' in the guest (its /etc/passwd)", s->where.buf, user);
		}
	}
	disk_acct_release(&a);
	return r;
}

/* Is partboot's public key (pub) in user's authorized_keys in the guest? */
static int has_key(struct disk_ssh *s, struct fs *fs, const char *user, const char *pub, bool *ret,
		   struct pb_err *err)
{
	struct strbuf home = STRBUF_INIT, merged = STRBUF_INIT, ak = STRBUF_INIT;
	size_t added = 1;
	bool there = false;
	int r;

	r = guest_home(s, fs, user, &home, err);
	if (r < 0)
		goto out;
	strbuf_addstr(&home, "/.ssh/authorized_keys");
	if (disk_guest_read(fs, s->where.buf, home.buf, 1u << 20, &ak, &there, NULL) == 0 && there)
		disk_sshkey_merge(ak.buf, pub, &merged, &added);
	*ret = added == 0;
out:
	strbuf_release(&home);
	strbuf_release(&merged);
	strbuf_release(&ak);
	return r;
}

/* known_hosts from the guest's own host keys. */
static int host_keys(struct disk_ssh *s, struct fs *fs, struct pb_err *err)
{
	static const char *const files[] = { "/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_ecdsa_key.pub",
					     "/etc/ssh/ssh_host_rsa_key.pub" };
	struct strbuf lines = STRBUF_INIT, kh = STRBUF_INIT;
	_cleanup_close_ int fd = -1;
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct strbuf data = STRBUF_INIT;
		bool there = false;

		if (disk_guest_read(fs, s->where.buf, files[i], HOST_KEY_MAX, &data, &there, NULL) < 0 || !there) {
			strbuf_release(&data);
			continue;
		}
		/* a guest's file: parsed like any key before it reaches known_hosts */
		strbuf_reset(&lines);
		r = disk_sshkey_parse(data.buf, data.len, files[i], &lines, NULL, NULL);
		strbuf_release(&data);
		if (r < 0) {
			r = 0;
			continue;
		}
		for (const char *l = lines.buf; *l;) {
			const char *end = strchrnul(l, '\n');

			strbuf_addf(&kh, "%s %.*s\n", s->alias.buf, (int)(end - l), l);
			l = *end ? end + 1 : end;
			n++;
		}
	}
	if (!n) {
		r = pb_err_set(err, -ENOENT,
			       "%s: the guest has no SSH host key (/etc/ssh/ssh_host_*_key.pub); "
			       "run ssh-keygen -A in it, or reinstall openssh-server",
			       s->where.buf);
		goto out;
	}
	fd = open(s->known_hosts.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, kh.buf, kh.len) != (ssize_t)kh.len)
		r = pb_err_set(err, -errno, "%s: cannot write: %s", s->known_hosts.buf, strerror(errno));
out:
	strbuf_release(&lines);
	strbuf_release(&kh);
	return r;
}

/* Does sshd answer on the port? (QEMU accepts at once; only the guest's sshd sends "SSH-".) */
static bool sshd_answers(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct pollfd pf;
	char buf[256];
	size_t got = 0;
	/* sshd starts a process per connection before its banner: seconds under TCG on a busy host */
	int64_t deadline = now_ms() + 10000;

	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
		return false;
	while (got < 4) {
		int64_t left = deadline - now_ms();
		ssize_t n;

		pf = (struct pollfd){ fd, POLLIN, 0 };
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return false;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return !memcmp(buf, "SSH-", 4);
}

static int wait_sshd(struct disk_ssh *s, const struct disk_ssh_opts *o, struct pb_err *err)
{
	unsigned timeout = o->timeout ? o->timeout : DISK_SSH_TIMEOUT;
	int64_t t0 = now_ms();

	for (;;) {
		unsigned waited = (unsigned)((now_ms() - t0) / 1000);

		if (sshd_answers(s->port))
			return 0;
		if (s->bg) {
			struct pb_err e = PB_ERR_INIT;
			int r;

			if (vm_bg_wait(s->bg, 0, &s->vm_status, &e) == 0) {
				s->ended = true;
				r = pb_err_set(err, -EIO, "%s: the VM ended before sshd answered (%s); its console: %s",
					       s->where.buf, s->vm_status == VM_EXIT_ERROR ? pb_err_msg(&e) : "the guest stopped",
					       s->console.buf);
				pb_err_clear(&e);
				return r;
			}
			pb_err_clear(&e);
		}
		if (waited >= timeout)
			return pb_err_set(err, -ETIMEDOUT, "%s: sshd did not answer on 127.0.0.1:%u within %u s%s%s",
					  s->where.buf, s->port, timeout, s->bg ? "; the guest's console: " : "",
					  s->bg ? s->console.buf : "");
		if (o->waiting)
			o->waiting(waited, timeout, s->port, o->userdata);
		poll(NULL, 0, 1000);
	}
}

/* The ssh command line: host key checked against known_hosts, partboot's key only. */
struct ssh_cmd {
	struct strbuf kh, alias, key, port, dest;
	const char *argv[48];
	size_t n;
};

static void ssh_cmd_init(struct ssh_cmd *c, const struct disk_ssh *s, const char *user, bool batch)
{
	static const char *const fixed[] = { "GlobalKnownHostsFile=/dev/null", "StrictHostKeyChecking=yes",
					     "UpdateHostKeys=no", "IdentitiesOnly=yes", "LogLevel=ERROR" };
	size_t n = 0;

	strbuf_init(&c->kh);
	strbuf_init(&c->alias);
	strbuf_init(&c->key);
	strbuf_init(&c->port);
	strbuf_init(&c->dest);
	strbuf_addf(&c->kh, "UserKnownHostsFile=%s", s->known_hosts.buf);
	strbuf_addf(&c->alias, "HostKeyAlias=%s", s->alias.buf);
	strbuf_addf(&c->key, "IdentityFile=%s", s->key.buf);
	strbuf_addf(&c->port, "%u", s->port);
	strbuf_addf(&c->dest, "%s@127.0.0.1", user);
	c->argv[n++] = "ssh";
	c->argv[n++] = "-o";
	c->argv[n++] = c->kh.buf;
	c->argv[n++] = "-o";
	c->argv[n++] = c->alias.buf;
	c->argv[n++] = "-o";
	c->argv[n++] = c->key.buf;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		c->argv[n++] = "-o";
		c->argv[n++] = fixed[i];
	}
	if (batch) {
		c->argv[n++] = "-o";
		c->argv[n++] = "BatchMode=yes";
		c->argv[n++] = "-o";
		c->argv[n++] = "ConnectTimeout=10";
	}
	c->argv[n++] = "-p";
	c->argv[n++] = c->port.buf;
	c->argv[n++] = "--";
	c->argv[n++] = c->dest.buf;
	c->argv[n] = NULL;
	c->n = n;
}

static void ssh_cmd_release(struct ssh_cmd *c)
{
	strbuf_release(&c->kh);
	strbuf_release(&c->alias);
	strbuf_release(&c->key);
	strbuf_release(&c->port);
	strbuf_release(&c->dest);
}

int disk_ssh_start(struct disk *k, const char *name, const struct disk_ssh_opts *o, struct disk_ssh **ret,
		   struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf pub = STRBUF_INIT;
	struct disk_ssh *s;
	struct disk_guest g = { 0 };
	struct fs *fs = NULL;
	struct vm_runtime rt = { 0 };
	bool root_has = false, user_has = true, probed = false;
	int r;

	if (!pb_have_program("ssh"))
		return pb_err_set(err, -ENOENT, "ssh not found: install openssh-client (make deps)");
	s = xcalloc(1, sizeof(*s));
	s->k = k;
	strbuf_init(&s->where);
	strbuf_init(&s->dir);
	strbuf_init(&s->key);
	strbuf_init(&s->known_hosts);
	strbuf_init(&s->alias);
	strbuf_init(&s->console);
	snprintf(s->user, sizeof(s->user), "%s", o->user ? o->user : "root");
	if (!disk_user_name_valid(s->user)) {
		r = pb_err_set(err, -EINVAL, "'%s' is not a user name", o->user);
		goto fail;
	}
	r = part_disk_find(k->d, name, &s->p, err);
	if (r < 0)
		goto fail;
	disk_part_name(&s->p, s->name, sizeof(s->name));
	disk_part_where(k, &s->p, &s->where);
	disk_guest_probe(k, &s->p, &g);
	probed = true;
	if (g.state != DISK_GUEST_COMPLETE) {
		r = pb_err_set(err, -EINVAL, "%s: %s", s->where.buf,
			       g.state == DISK_GUEST_INCOMPLETE ? "the guest is incomplete (its install was interrupted "
								  "or is under way); install it again"
								: "no guest partboot can read in it");
		goto fail;
	}

	/* What the guest must have, read while nothing runs it or while a VM does (reads only). */
	r = disk_fs_open(k, name, &fs, err);
	if (r < 0)
		goto fail;
	{
		struct fs_dirent st;

		if (fs_stat(fs, "/usr/sbin/sshd", true, &st, NULL) < 0) {
			r = pb_err_set(err, -ENOENT,
				       "%s: the guest has no SSH server (/usr/sbin/sshd); add one: partboot install ... "
				       "--packages openssh-server (a debootstrap: guest), or apt-get install "
				       "openssh-server in the guest (partboot customize --firstboot can run it)",
				       s->where.buf);
			goto fail;
		}
	}
	r = client_key(s, o, err);
	if (r < 0)
		goto fail;
	{
		struct strbuf pubfile = STRBUF_INIT;

		strbuf_addf(&pubfile, "%s.pub", s->key.buf);
		r = disk_sshkey_load(pubfile.buf, &pub, NULL, err);
		strbuf_release(&pubfile);
		if (r < 0)
			goto fail;
	}
	r = host_keys(s, fs, err);
	if (r >= 0)
		r = has_key(s, fs, "root", pub.buf, &root_has, err);
	if (r >= 0 && strcmp(s->user, "root"))
		r = has_key(s, fs, s->user, pub.buf, &user_has, err);
	if (r < 0)
		goto fail;

	/*
	 * A VM already running the guest: join it. Its runtime file is trusted
	 * only while the partition is held; one whose VM is gone (partboot
	 * killed, its pid reused) is overwritten by the next VM.
	 */
	if (vm_runtime_read(k->d, &s->p, &rt) == 0 && part_disk_lock_partition(k->d, &s->p, NULL) == 0) {
		part_disk_unlock_partition(k->d, &s->p);
		rt.ssh_port = 0;
	}
	if (rt.ssh_port) {
		if (!root_has || !user_has) {
			r = pb_err_set(err, -EPERM,
				       "%s: a VM runs the guest already (partboot process %d, port %u), and the guest "
				       "lacks partboot's key; power it off and run partboot ssh again, which installs it",
				       s->where.buf, rt.pid, rt.ssh_port);
			goto fail;
		}
		s->joined = true;
		s->port = rt.ssh_port;
		fs_free(fs);
		fs = NULL;
		disk_note(k, "%s: joining the VM that runs it (partboot process %d, 127.0.0.1:%u)", s->where.buf, rt.pid,
			  s->port);
	} else {
		struct fs_dirent st;
		struct vm_opts vo = { 0 };
		bool network;

		/* Nobody may hold the partition (a VM without a port forward, an install): say so. */
		r = part_disk_check_unused(k->d, &s->p, err);
		if (r >= 0)
			r = part_disk_lock_partition(k->d, &s->p, err);
		if (r < 0) {
			if (r == -EBUSY)
				pb_err_prefix(err, r, "no VM with an SSH port forward runs it (partboot run --ssh-port N "
						      "would be joined): ");
			goto fail;
		}
		part_disk_unlock_partition(k->d, &s->p);

		network = fs_stat(fs, "/etc/systemd/network/80-partboot-vm.network", false, &st, NULL) == 0;
		if (!network && fs_stat(fs, "/lib/systemd/systemd-networkd", true, &st, NULL) < 0 &&
		    fs_stat(fs, "/usr/lib/systemd/systemd-networkd", true, &st, NULL) < 0) {
			disk_warn(k, "%s: the guest has no systemd-networkd: its own configuration must bring up the VM's "
				  "network card with DHCP", s->where.buf);
			network = true;
		}
		fs_free(fs);
		fs = NULL;
		/* partboot's key (and the VM network's DHCP) into the guest, saying so */
		if (!root_has || !user_has || !network) {
			struct strbuf pubfile = STRBUF_INIT;
			const char *keys[1];
			struct disk_customize_opts co = { .vm_network = !network };

			strbuf_addf(&pubfile, "%s.pub", s->key.buf);
			keys[0] = pubfile.buf;
			if (!root_has || !network) {
				co.ssh_keys = keys;
				co.n_ssh_keys = root_has ? 0 : 1;
				r = disk_customize(k, name, &co, 0, err);
			}
			if (r >= 0 && !user_has) {
				struct disk_customize_opts cu = { .ssh_keys = keys, .n_ssh_keys = 1, .keys_for = s->user };

				r = disk_customize(k, name, &cu, 0, err);
			}
			if (r >= 0 && (!root_has || !user_has))
				disk_note(k, "%s: installed partboot's SSH key %s into the guest", s->where.buf, pubfile.buf);
			strbuf_release(&pubfile);
			if (r < 0)
				goto fail;
		}

		/* Boot it, with sshd's port forwarded from 127.0.0.1. */
		if (o->vm)
			vo = *o->vm;
		vo.net = VM_NET_USER;
		vo.interactive = false;
		r = vm_free_port(&s->port, err);
		if (r < 0)
			goto fail;
		vo.ssh_port = s->port;
		if (o->console_path) {
			strbuf_addstr(&s->console, o->console_path);
		} else {
			strbuf_addf(&s->console, "%s/console-", s->dir.buf);
			safe_name(s->p.uuid, &s->console);
			strbuf_addstr(&s->console, ".log");
		}
		vo.console_path = s->console.buf;
		r = disk_vm_prepare(k, name, &vo, &s->vm, err);
		if (r < 0)
			goto fail;
		if (vm_warning(s->vm))
			disk_warn(k, "%s", vm_warning(s->vm));
		r = vm_run_background(s->vm, &s->bg, err);
		if (r < 0)
			goto fail;
		disk_note(k, "%s: booting it in a VM (console: %s)", s->where.buf, s->console.buf);
	}
	r = wait_sshd(s, o, err);
	if (r < 0)
		goto fail;
	disk_guest_release(&g);
	*ret = s;
	return 0;
fail:
	fs_free(fs);
	if (probed)
		disk_guest_release(&g);
	disk_ssh_free(s);
	return r;
}

/* Run argv, waiting; quiet: standard input, output and error on /dev/null. */
static int spawn_wait(const char *const *argv, bool quiet, int *ret_status, struct pb_err *err)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def;
	pid_t pid;
	int st, r;

	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGQUIT);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
	/* as system(3) does: a Ctrl-C is ssh's (and the remote command's) to handle */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	r = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r) {
		r = pb_err_set(err, -r, "%s: cannot start: %s", argv[0], strerror(r));
	} else {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		*ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return r;
}

int disk_ssh_exec(struct disk_ssh *s, char *const *command, int *ret_status, struct pb_err *err)
{
	struct ssh_cmd c;
	const char **argv;
	size_t words = 0;
	int r;

	while (command && command[words])
		words++;
	ssh_cmd_init(&c, s, s->user, false);
	argv = xcalloc(c.n + words + 1, sizeof(*argv));
	memcpy(argv, c.argv, c.n * sizeof(*argv));
	for (size_t i = 0; i < words; i++)
		argv[c.n + i] = command[i];
	r = spawn_wait(argv, false, ret_status, err);
	free(argv);
	ssh_cmd_release(&c);
	return r;
}

int disk_ssh_stop(struct disk_ssh *s, int *ret_vm_status, struct pb_err *err)
{
	int status = VM_EXIT_POWEROFF, r = 0;

	if (s->joined || !s->bg) {
		if (ret_vm_status)
			*ret_vm_status = VM_EXIT_POWEROFF;
		return 0;
	}
	if (!s->ended && vm_bg_wait(s->bg, 0, &s->vm_status, NULL) == 0)
		s->ended = true;
	if (!s->ended) {
		/* as root: partboot's key is always in root's authorized_keys */
		struct ssh_cmd c;
		int st;

		ssh_cmd_init(&c, s, "root", true);
		c.argv[c.n++] = "systemctl";
		c.argv[c.n++] = "poweroff";
		c.argv[c.n] = NULL;
		spawn_wait(c.argv, true, &st, NULL); /* the connection drops as the guest goes down: its status says nothing */
		ssh_cmd_release(&c);
		if (vm_bg_wait(s->bg, 120 * 1000, &s->vm_status, err) == -ETIMEDOUT) {
			vm_bg_stop(s->bg); /* the power button, then a hard stop */
			r = vm_bg_wait(s->bg, (VM_GRACE_SECONDS + 10) * 1000, &s->vm_status, err);
		}
		s->ended = r == 0;
	}
	status = s->vm_status;
	if (ret_vm_status)
		*ret_vm_status = status;
	if (r < 0)
		return pb_err_set(err, r, "%s: the VM did not stop", s->where.buf);
	return 0;
}

bool disk_ssh_joined(const struct disk_ssh *s)
{
	return s->joined;
}

const char *disk_ssh_console(const struct disk_ssh *s)
{
	return s->console.len ? s->console.buf : NULL;
}

void disk_ssh_free(struct disk_ssh *s)
{
	if (!s)
		return;
	vm_bg_free(s->bg); /* stops a VM still running: before the vm it runs goes */
	vm_free(s->vm);
	strbuf_release(&s->where);
	strbuf_release(&s->dir);
	strbuf_release(&s->key);
	strbuf_release(&s->known_hosts);
	strbuf_release(&s->alias);
	strbuf_release(&s->console);
	free(s);
}
