/* SPDX-License-Identifier: MIT */
/*
 * The answers file over HTTP, for installers that fetch it from a URL
 * (Debian's preseed/url=, Fedora's inst.ks=): a small server on 127.0.0.1,
 * which the VM reaches as 10.0.2.2 through QEMU's user network, living as
 * long as the struct vm. One thread, one connection at a time, GET and HEAD
 * of one path; installers fetch their file once or twice, so nothing more is
 * needed. Also: finding the URL a medium's boot configuration names.
 *
 * Touches no disk. The file is read into memory when the server starts, so
 * what the installer gets is what was checked.
 */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "vm-private.h"

#define ANSWERS_MAX (1 * MiB)
/* How long one client may take to send its request or read the answer. */
#define CLIENT_TIMEOUT_S 10
#define REQUEST_MAX 8192

struct vm_answers_server {
	int listen_fd;
	int stop[2];          /* a pipe: vm_answers_stop() writes, the thread wakes up and returns */
	char *path;           /* "/preseed.cfg" */
	char *data;
	size_t len;
	pthread_t thread;
	bool running;
	unsigned fetched;     /* answers to GET given (atomic: the thread counts, vm_run()'s caller reads) */
};

int vm_answers_url_parse(const char *url, unsigned *ret_port, char **ret_path, struct pb_err *err)
{
	static const char *hosts[] = { "10.0.2.2", "127.0.0.1", "localhost" };
	const char *p, *path;
	unsigned long port = 80;
	size_t hl = 0;

	if (strncmp(url, "http://", 7))
		return pb_err_set(err, -EINVAL, "--answers-url %s: partboot serves http:// only", url);
	p = url + 7;
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++)
		if (!strncmp(p, hosts[i], strlen(hosts[i])) && (p[strlen(hosts[i])] == ':' || p[strlen(hosts[i])] == '/')) {
			hl = strlen(hosts[i]);
			break;
		}
	if (!hl)
		return pb_err_set(err, -EINVAL, "--answers-url %s: the host must be 10.0.2.2 (the host as the VM sees "
				  "it), 127.0.0.1 or localhost: partboot serves the file on 127.0.0.1", url);
	p += hl;
	if (*p == ':') {
		char *end;

		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (errno || end == p + 1 || port < 1 || port > 65535 || *end != '/')
			return pb_err_set(err, -EINVAL, "--answers-url %s: bad port", url);
		p = end;
	}
	path = p;
	for (; *p; p++)
		/* printable ASCII: the path is compared with a request line as is */
		if (*p <= ' ' || *p >= 0x7f)
			return pb_err_set(err, -EINVAL, "--answers-url %s: a URL may not hold spaces or control characters",
					  url);
	if (strlen(path) > 1024)
		return pb_err_set(err, -EINVAL, "--answers-url: the path is longer than 1024 bytes");
	if (ret_port)
		*ret_port = (unsigned)port;
	if (ret_path)
		*ret_path = xstrdup(path);
	return 0;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void serve_one(struct vm_answers_server *s, int fd)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	char req[REQUEST_MAX + 1], head[256];
	size_t got = 0;
	bool get, head_only;
	char *sp, *end;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* the request line and headers, up to the blank line (a body is never expected) */
	while (got < REQUEST_MAX) {
		ssize_t n = recv(fd, req + got, REQUEST_MAX - got, 0);

		if (n <= 0)
			return;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = '\0';
	get = !strncmp(req, "GET ", 4);
	head_only = !strncmp(req, "HEAD ", 5);
	if (!get && !head_only) {
		static const char bad[] = "HTTP/1.0 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

		send_all(fd, bad, sizeof(bad) - 1);
		return;
	}
	sp = req + (get ? 4 : 5);
	end = strpbrk(sp, " \r\n");
	if (end)
		*end = '\0';
	{
		char *q = strchr(sp, '?'); /* a query string names the same file */

		if (q)
			*q = '\0';
	}
	if (strcmp(sp, s->path)) {
		static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

		send_all(fd, nf, sizeof(nf) - 1);
		return;
	}
	snprintf(head, sizeof(head),
		 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", s->len);
	send_all(fd, head, strlen(head));
	if (get) {
		send_all(fd, s->data, s->len);
		/* a HEAD only asks whether it is there: the installer did not get its answers */
		__atomic_add_fetch(&s->fetched, 1, __ATOMIC_RELAXED);
	}
}

static void *serve(void *userdata)
{
	struct vm_answers_server *s = userdata;

	for (;;) {
		struct pollfd p[2] = { { s->listen_fd, POLLIN, 0 }, { s->stop[0], POLLIN, 0 } };
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(s, fd);
		close(fd);
	}
}

void vm_answers_stop(struct vm_answers_server *s)
{
	if (!s)
		return;
	if (s->running) {
		if (write(s->stop[1], "x", 1) < 0) {
			/* the pipe cannot be full or closed here; nothing else to do */
		}
		pthread_join(s->thread, NULL);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop[0] >= 0)
		close(s->stop[0]);
	if (s->stop[1] >= 0)
		close(s->stop[1]);
	free(s->path);
	free(s->data);
	free(s);
}

unsigned vm_answers_server_fetched(const struct vm_answers_server *s)
{
	return s ? __atomic_load_n(&s->fetched, __ATOMIC_RELAXED) : 0;
}

static int read_answers(const char *file, char **ret, size_t *ret_len, struct pb_err *err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return pb_err_set(err, -errno, "%s: %s", file, strerror(errno));
	if (fstat(fd, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", file, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)ANSWERS_MAX)
		return pb_err_set(err, -EINVAL, "%s: an answers file is a regular file of at most 1 MiB", file);
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return pb_err_set(err, n < 0 ? -errno : -EIO, "%s: cannot read", file);
		}
		got += (size_t)n;
	}
	*ret = buf;
	*ret_len = got;
	return 0;
}

int vm_answers_start(const char *file, const char *url, struct vm_answers_server **ret, struct pb_err *err)
{
	struct vm_answers_server *s;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned port;
	int one = 1, r;

	s = xcalloc(1, sizeof(*s));
	s->listen_fd = s->stop[0] = s->stop[1] = -1;
	r = vm_answers_url_parse(url, &port, &s->path, err);
	if (r < 0)
		goto fail;
	r = read_answers(file, &s->data, &s->len, err);
	if (r < 0)
		goto fail;
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || pipe2(s->stop, O_CLOEXEC) < 0) {
		r = pb_err_set(err, -errno, "cannot serve the answers: %s", strerror(errno));
		goto fail;
	}
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port = htons((uint16_t)port);
	if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->listen_fd, 8) < 0) {
		r = pb_err_set(err, -errno, "cannot serve the answers at %s: 127.0.0.1:%u: %s", url, port, strerror(errno));
		goto fail;
	}
	{
		/*
		 * The thread takes no signals: it inherits this mask, and a process-directed
		 * SIGTERM or SIGINT must reach vm_run(), which blocks them in its own thread
		 * and reads them from a signalfd (a thread with them unblocked would be picked
		 * for delivery, and the default action ends partboot with QEMU left running).
		 */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r = -pthread_create(&s->thread, NULL, serve, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r < 0) {
		pb_err_set(err, r, "cannot start the answers server: %s", strerror(-r));
		goto fail;
	}
	s->running = true;
	*ret = s;
	return 0;
fail:
	vm_answers_stop(s);
	return r;
}

/* --- the URL a boot configuration names ------------------------------------------------ */

/* The first url=/preseed/url=/ks=/inst.ks= value pointing at http://10.0.2.2 in text, or NULL. */
static char *find_url(const char *text, size_t len)
{
	static const char *keys[] = { "preseed/url=", "url=", "inst.ks=", "ks=" };
	static const char want[] = "http://10.0.2.2";

	for (size_t i = 0; i + sizeof(want) - 1 <= len; i++) {
		if (memcmp(text + i, want, sizeof(want) - 1))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			size_t kl = strlen(keys[k]);

			if (i >= kl && !memcmp(text + i - kl, keys[k], kl)) {
				size_t e = i;

				while (e < len && (unsigned char)text[e] > ' ' && text[e] != '"' && text[e] != '\'' &&
				       (unsigned char)text[e] < 0x7f)
					e++;
				return xstrndup(text + i, e - i);
			}
		}
	}
	return NULL;
}

static bool config_name(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && (!strcmp(name + n - 4, ".cfg") || !strcmp(name + n - 5, ".ipxe"))) ||
	       (n >= 7 && !strcmp(name + n - 7, "default"));
}

static int scan_dir(const char *dir, char **ret_url)
{
	/* what pxelinux, GRUB (d-i's netboot layout too) and iPXE read first */
	static const char *files[] = { "boot.ipxe", "pxelinux.cfg/default", "grub.cfg", "grub/grub.cfg",
				       "boot/grub/grub.cfg", "debian-installer/amd64/grub/grub.cfg",
				       "debian-installer/amd64/pxelinux.cfg/default" };

	for (size_t i = 0; i < ARRAY_SIZE(files) && !*ret_url; i++) {
		struct strbuf p = STRBUF_INIT;
		char buf[65536];
		ssize_t n;
		int fd;

		strbuf_addf(&p, "%s/%s", dir, files[i]);
		fd = open(p.buf, O_RDONLY | O_CLOEXEC);
		strbuf_release(&p);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n > 0)
			*ret_url = find_url(buf, (size_t)n);
	}
	return 0;
}

static int scan_iso(const char *iso, char **ret_url, struct pb_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r = 0;

	if (!a)
		return pb_err_set(err, -ENOMEM, "out of memory"); /* libarchive's own allocation (as fs/iso.c) */
	archive_read_support_format_iso9660(a);
	if (archive_read_open_filename(a, iso, 65536) != ARCHIVE_OK) {
		r = pb_err_set(err, -EIO, "%s: %s", iso, archive_error_string(a));
		goto out;
	}
	while (!*ret_url && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		char buf[65536];
		la_ssize_t n;

		if (!name || archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) > (la_int64_t)sizeof(buf) ||
		    !config_name(name))
			continue;
		n = archive_read_data(a, buf, sizeof(buf));
		if (n > 0)
			*ret_url = find_url(buf, (size_t)n);
	}
out:
	archive_read_free(a);
	return r;
}

int vm_install_answers_url(const char *source, char **ret_url, struct pb_err *err)
{
	struct stat st;

	*ret_url = NULL;
	if (!strncmp(source, "pxe:", 4)) {
		if (strstr(source, "://"))
			return 0; /* a server's files: not ours to read */
		return scan_dir(source + 4, ret_url);
	}
	if (stat(source, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", source, strerror(errno));
	return scan_iso(source, ret_url, err);
}
