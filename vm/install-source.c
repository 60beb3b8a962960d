/* SPDX-License-Identifier: MIT */
/*
 * vm_install_check_source(): what `install --via-vm` boots, checked before
 * anything is written. An ISO must carry an ISO 9660 volume descriptor; a
 * pxe:DIR folder must hold a boot file for the firmware (boot.ipxe, else
 * pxelinux.0 or bootx64.efi); a pxe:URL (http:// or tftp://) is parsed and
 * its boot file asked for from the host, over a plain HTTP/1.0 request or
 * a TFTP read request, since the guest's iPXE will fetch it itself. The
 * answers file must be a regular file of at most 1 MiB. Reads only; the
 * network probe is the only traffic.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
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
/* ISO 9660 §8.1: volume descriptors start at sector 16 (2048-byte sectors), identifier "CD001" at byte 1. */
#define ISO_VD_OFFSET (16 * 2048)
/* How long the host-side probe of a pxe:URL waits for each connect, send and reply. */
#define PXE_PROBE_TIMEOUT_MS 5000
/* BOOTP's file field (RFC 951) is 128 bytes with its NUL: slirp copies the bootfile URL there. */
#define PXE_BOOTFILE_MAX 127
/* The host's loopback as the guest sees it through QEMU's user networking (slirp). */
#define SLIRP_HOST_ADDR "10.0.2.2"

static int check_iso(const char *path, struct pb_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char vd[6];
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return pb_err_set(err, -EISDIR, "%s: a folder, not an ISO image (for PXE write pxe:%s)", path, path);
	n = pread(fd, vd, sizeof(vd), ISO_VD_OFFSET);
	if (n < 0)
		return pb_err_set(err, -errno, "%s: cannot read: %s", path, strerror(errno));
	if (n != (ssize_t)sizeof(vd) || memcmp(vd + 1, "CD001", 5))
		return pb_err_set(err, -EINVAL, "%s: not an ISO9660 image (no CD001 volume descriptor at sector 16)",
				  path);
	return 0;
}

static int check_pxe(const char *dir, enum vm_mode mode, char **ret_bootfile, struct pb_err *err)
{
	/* An iPXE script runs on either firmware; the other two are what Debian's netboot.tar.gz has. */
	const char *candidates[] = { "boot.ipxe", mode == VM_MODE_UEFI ? "bootx64.efi" : "pxelinux.0" };
	struct stat st;

	if (!*dir)
		return pb_err_set(err, -EINVAL, "pxe: needs a folder (pxe:DIR)");
	if (stat(dir, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return pb_err_set(err, -ENOTDIR, "%s: not a folder (pxe:DIR names the TFTP root)", dir);
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		struct strbuf sb = STRBUF_INIT;
		bool ok;

		strbuf_addf(&sb, "%s/%s", dir, candidates[i]);
		ok = stat(sb.buf, &st) == 0 && S_ISREG(st.st_mode) && access(sb.buf, R_OK) == 0;
		strbuf_release(&sb);
		if (ok) {
			*ret_bootfile = xstrdup(candidates[i]);
			return 0;
		}
	}
	return pb_err_set(err, -ENOENT, "%s: no PXE boot file (looked for %s, %s)", dir, candidates[0],
			  candidates[1]);
}

/* A pxe:URL, split. Points into one malloc'ed copy (buf). */
struct pxe_url {
	char *buf;
	bool tftp;         /* tftp:// (else http://) */
	const char *host;  /* as written, for the host-side probe */
	unsigned port;     /* 80 or 69 unless given */
	const char *path;  /* "/..." */
	bool loopback;     /* 127.0.0.1 or localhost: the guest reaches it as 10.0.2.2 */
};

static void pxe_url_free(struct pxe_url *u)
{
	free(u->buf);
	u->buf = NULL;
}

static int pxe_url_parse(const char *url, struct pxe_url *u, struct pb_err *err)
{
	char *p, *host, *slash, *colon;

	*u = (struct pxe_url){ 0 };
	if (!strncmp(url, "http://", 7)) {
		u->port = 80;
	} else if (!strncmp(url, "tftp://", 7)) {
		u->tftp = true;
		u->port = 69;
	} else {
		return pb_err_set(err, -EOPNOTSUPP, "pxe:%s: only http:// and tftp:// URLs are supported (or a folder, "
				  "pxe:DIR)", url);
	}
	for (p = (char *)url; *p; p++)
		/* printable ASCII only: the URL goes into a DHCP option and an HTTP request line as is */
		if (*p <= ' ' || *p >= 0x7f)
			return pb_err_set(err, -EINVAL, "pxe:%s: a URL may not hold spaces or control characters "
					  "(write them %%-encoded)", url);
	/* one byte more than the copy: the host's NUL goes in front of the path's '/' */
	u->buf = xmalloc(strlen(url + 7) + 2);
	strcpy(u->buf, url + 7);
	host = u->buf;
	slash = strchr(host, '/');
	if (slash) {
		memmove(slash + 1, slash, strlen(slash) + 1);
		*slash = '\0';
		u->path = slash + 1;
	} else {
		u->path = "/";
	}
	if (*host == '[') {
		pxe_url_free(u);
		return pb_err_set(err, -EOPNOTSUPP, "pxe:%s: IPv6 addresses are not supported (QEMU's user "
				  "networking gives the VM IPv4)", url);
	}
	if (strchr(host, '@')) {
		pxe_url_free(u);
		return pb_err_set(err, -EINVAL, "pxe:%s: user names or passwords in the URL are not supported", url);
	}
	colon = strchr(host, ':');
	if (colon) {
		char *end;
		unsigned long port;

		*colon = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || errno || port < 1 || port > 65535) {
			int r = pb_err_set(err, -EINVAL, "pxe:%s: '%s' is not a port number (1-65535)", url, colon + 1);

			pxe_url_free(u);
			return r;
		}
		u->port = port;
	}
	if (!*host) {
		pxe_url_free(u);
		return pb_err_set(err, -EINVAL, "pxe:%s: the URL names no host", url);
	}
	u->host = host;
	if (!strcmp(host, "127.0.0.1") || !strcasecmp(host, "localhost")) {
		u->loopback = true;
	} else if (!strncmp(host, "127.", 4)) {
		/* slirp maps only 10.0.2.2 to the host, and to its 127.0.0.1 */
		int r = pb_err_set(err, -EINVAL, "pxe:%s: the VM reaches the host's loopback only at 127.0.0.1 "
				   "(serve there, or on another address)", url);
		pxe_url_free(u);
		return r;
	}
	return 0;
}

/* The URL of FILE under u (FILE NULL: u's own path), for the host, or for the guest (10.0.2.2 for loopback). */
static void pxe_url_format(const struct pxe_url *u, const char *file, bool guest, struct strbuf *out)
{
	strbuf_addf(out, "%s://%s", u->tftp ? "tftp" : "http", guest && u->loopback ? SLIRP_HOST_ADDR : u->host);
	if (u->port != (u->tftp ? 69U : 80U))
		strbuf_addf(out, ":%u", u->port);
	strbuf_addstr(out, u->path);
	if (file)
		strbuf_addstr(out, file);
}

static int probe_socket(const struct pxe_url *u, int type, struct addrinfo **ret_ai, const char *url,
			struct pb_err *err)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = type };
	char port[8];
	int r;

	snprintf(port, sizeof(port), "%u", u->port);
	r = getaddrinfo(u->host, port, &hints, ret_ai);
	if (r)
		return pb_err_set(err, r == EAI_SYSTEM ? -errno : -EHOSTUNREACH, "%s: cannot resolve '%s': %s", url,
				  u->host, r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = PXE_PROBE_TIMEOUT_MS / 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * GET url from the host and read the status line only: *ret_status gets the
 * HTTP status. A plain HTTP/1.0 request over a socket (no new library): the
 * point is "is the boot file there", not fetching it. 0, or -errno when the
 * server cannot be reached or does not speak HTTP.
 */
static int probe_http(const struct pxe_url *u, const char *url, const char *path, int *ret_status,
		      struct pb_err *err)
{
	struct addrinfo *ai = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_(strbuf_release) struct strbuf req = STRBUF_INIT;
	struct pollfd pfd;
	char reply[256];
	size_t got = 0;
	int r, status, soerr = 0;
	socklen_t len = sizeof(soerr);

	r = probe_socket(u, SOCK_STREAM, &ai, url, err);
	if (r < 0)
		return r;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return pb_err_set(err, -errno, "%s: %s", url, strerror(errno));
	}
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 && errno != EINPROGRESS)
		return pb_err_set(err, -errno, "%s: cannot connect: %s", url, strerror(errno));
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	r = poll(&pfd, 1, PXE_PROBE_TIMEOUT_MS);
	if (r == 0)
		return pb_err_set(err, -ETIMEDOUT, "%s: cannot connect: no answer within %d s", url,
				  PXE_PROBE_TIMEOUT_MS / 1000);
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return pb_err_set(err, -errno, "%s: cannot connect: %s", url, strerror(errno));
	if (soerr)
		return pb_err_set(err, -soerr, "%s: cannot connect: %s", url, strerror(soerr));
	if (fcntl(fd, F_SETFL, 0) < 0)
		return pb_err_set(err, -errno, "%s: %s", url, strerror(errno));
	set_timeouts(fd);

	strbuf_addf(&req, "GET %s HTTP/1.0\r\nHost: %s", path, u->host);
	if (u->port != 80)
		strbuf_addf(&req, ":%u", u->port);
	strbuf_addstr(&req, "\r\nUser-Agent: partboot\r\nConnection: close\r\n\r\n");
	if (send(fd, req.buf, req.len, MSG_NOSIGNAL) != (ssize_t)req.len)
		return pb_err_set(err, errno ? -errno : -EIO, "%s: cannot send the request: %s", url,
				  errno ? strerror(errno) : "short write");
	while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
		ssize_t n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return pb_err_set(err, -ETIMEDOUT, "%s: no reply within %d s", url,
					  PXE_PROBE_TIMEOUT_MS / 1000);
		if (n < 0)
			return pb_err_set(err, -errno, "%s: %s", url, strerror(errno));
		if (n == 0)
			break;
		got += n;
	}
	reply[got] = '\0';
	/* RFC 9112 §4: status-line = HTTP-version SP status-code SP [reason-phrase] */
	if (sscanf(reply, "HTTP/%*d.%*d %3d", &status) != 1 || status < 100 || status > 599)
		return pb_err_set(err, -EPROTO, "%s: not an HTTP server (no status line in its reply)", url);
	*ret_status = status;
	return 0;
}

/*
 * Ask the TFTP server for url's file and read the first reply (RFC 1350):
 * DATA means it is there (the transfer is then stopped with an ERROR
 * packet), ERROR means it is not. *ret_found gets which, why (when not
 * found) the server's message.
 */
static int probe_tftp(const struct pxe_url *u, const char *url, const char *path, bool *ret_found,
		      char *why, size_t why_size, struct pb_err *err)
{
	struct addrinfo *ai = NULL;
	_cleanup_close_ int fd = -1;
	unsigned char pkt[600];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	size_t plen, n;
	ssize_t got;
	int r;

	/* a TFTP file name is relative to the server's root: drop the URL's leading '/' */
	path++;
	n = strlen(path);
	if (n + sizeof("octet") + 4 > sizeof(pkt))
		return pb_err_set(err, -ENAMETOOLONG, "%s: the file name is too long for TFTP", url);
	r = probe_socket(u, SOCK_DGRAM, &ai, url, err);
	if (r < 0)
		return r;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return pb_err_set(err, -errno, "%s: %s", url, strerror(errno));
	}
	set_timeouts(fd);
	/* RRQ: opcode 1, file name, NUL, mode, NUL */
	pkt[0] = 0;
	pkt[1] = 1;
	memcpy(pkt + 2, path, n + 1);
	memcpy(pkt + 3 + n, "octet", sizeof("octet"));
	plen = 3 + n + sizeof("octet");
	got = sendto(fd, pkt, plen, 0, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (got < 0)
		return pb_err_set(err, -errno, "%s: cannot send the request: %s", url, strerror(errno));
	got = recvfrom(fd, pkt, sizeof(pkt) - 1, 0, (struct sockaddr *)&from, &fromlen);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return pb_err_set(err, -ETIMEDOUT, "%s: no TFTP reply within %d s", url, PXE_PROBE_TIMEOUT_MS / 1000);
	if (got < 0)
		return pb_err_set(err, -errno, "%s: %s", url, strerror(errno));
	if (got >= 4 && pkt[0] == 0 && pkt[1] == 3) {
		/* DATA: the file is there; stop the transfer (ERROR 0) from the server's transfer port */
		static const unsigned char stop[] = { 0, 5, 0, 0, 'p', 'r', 'o', 'b', 'e', 0 };

		(void)sendto(fd, stop, sizeof(stop), 0, (struct sockaddr *)&from, fromlen);
		*ret_found = true;
		return 0;
	}
	if (got >= 4 && pkt[0] == 0 && pkt[1] == 5) {
		pkt[got] = '\0';
		/* the server's message, cut to fit (a PXE error names the file anyway) */
		pkt[4 + 100 < got ? 4 + 100 : got] = '\0';
		snprintf(why, why_size, "TFTP error %u%s%.100s", pkt[2] << 8 | pkt[3], got > 4 ? ": " : "",
			 got > 4 ? (char *)pkt + 4 : "");
		*ret_found = false;
		return 0;
	}
	return pb_err_set(err, -EPROTO, "%s: not a TFTP server (an unexpected reply)", url);
}

/*
 * pxe:URL: the guest's iPXE fetches the boot file itself (the DHCP bootfile
 * is the URL), so there is no folder to look into: the host asks the server
 * for it instead, before anything is written. A URL ending in '/' is a root
 * (boot.ipxe, else pxelinux.0 or bootx64.efi as for a folder); any other
 * names the boot file. *ret_bootfile: the URL the guest is handed.
 */
static int check_pxe_url(const char *url, enum vm_mode mode, char **ret_bootfile, struct pb_err *err)
{
	const char *root_candidates[] = { "boot.ipxe", mode == VM_MODE_UEFI ? "bootx64.efi" : "pxelinux.0" };
	const char *one[] = { "" };
	_cleanup_(strbuf_release) struct strbuf tried = STRBUF_INIT;
	struct pxe_url u;
	const char **candidates;
	size_t n_candidates;
	int r;

	r = pxe_url_parse(url, &u, err);
	if (r < 0)
		return r;
	if (u.path[strlen(u.path) - 1] == '/') {
		candidates = root_candidates;
		n_candidates = ARRAY_SIZE(root_candidates);
	} else {
		candidates = one;
		n_candidates = 1;
	}
	for (size_t i = 0; i < n_candidates; i++) {
		_cleanup_(strbuf_release) struct strbuf host_url = STRBUF_INIT;
		_cleanup_(strbuf_release) struct strbuf path = STRBUF_INIT;
		_cleanup_(strbuf_release) struct strbuf guest_url = STRBUF_INIT;
		char why[160];
		bool found = false;

		pxe_url_format(&u, candidates[i], false, &host_url);
		strbuf_addf(&path, "%s%s", u.path, candidates[i]);
		if (u.tftp) {
			r = probe_tftp(&u, host_url.buf, path.buf, &found, why, sizeof(why), err);
		} else {
			int status = 0;

			r = probe_http(&u, host_url.buf, path.buf, &status, err);
			/* 2xx is the file; 3xx a redirect, which iPXE follows */
			found = status >= 200 && status < 400;
			snprintf(why, sizeof(why), "HTTP %d", status);
		}
		if (r < 0)
			goto out;
		if (!found) {
			strbuf_addf(&tried, "%s%s (%s)", tried.len ? ", " : "", candidates[i], why);
			continue;
		}
		pxe_url_format(&u, candidates[i], true, &guest_url);
		if (guest_url.len > PXE_BOOTFILE_MAX) {
			r = pb_err_set(err, -ENAMETOOLONG, "%s: the boot file URL is too long for DHCP (the VM sees "
				       "%zu characters, at most %d)", host_url.buf, guest_url.len, PXE_BOOTFILE_MAX);
			goto out;
		}
		*ret_bootfile = strbuf_detach(&guest_url, NULL);
		r = 0;
		goto out;
	}
	if (n_candidates > 1)
		r = pb_err_set(err, -ENOENT, "%s: no PXE boot file (looked for %s)", url, tried.buf);
	else	/* tried is " (why)" here: the one candidate is the URL itself */
		r = pb_err_set(err, -ENOENT, "%s: no PXE boot file there%s", url, tried.buf);
out:
	pxe_url_free(&u);
	return r;
}

int vm_install_check_source(const char *source, const char *answers, enum vm_mode mode,
			    enum vm_install_medium *ret_medium, char **ret_bootfile, struct pb_err *err)
{
	enum vm_install_medium medium = VM_INSTALL_CDROM;
	char *bootfile = NULL;
	int r;

	if (!strncmp(source, "pxe:", 4) && strstr(source + 4, "://")) {
		r = check_pxe_url(source + 4, mode, &bootfile, err);
		if (r < 0)
			return r;
		medium = VM_INSTALL_PXE_URL;
	} else if (!strncmp(source, "pxe:", 4)) {
		r = check_pxe(source + 4, mode, &bootfile, err);
		if (r < 0)
			return r;
		medium = VM_INSTALL_PXE;
	} else {
		r = check_iso(source, err);
		if (r < 0)
			return r;
	}
	if (answers) {
		struct stat st;

		if (stat(answers, &st) < 0 || access(answers, R_OK) < 0) {
			r = pb_err_set(err, -errno, "%s: %s", answers, strerror(errno));
			goto fail;
		}
		if (!S_ISREG(st.st_mode)) {
			r = pb_err_set(err, -EINVAL, "%s: the answers file must be a regular file", answers);
			goto fail;
		}
		if ((uint64_t)st.st_size > ANSWERS_MAX) {
			r = pb_err_set(err, -EFBIG, "%s: an answers file is at most 1 MiB", answers);
			goto fail;
		}
	}
	*ret_medium = medium;
	if (ret_bootfile)
		*ret_bootfile = bootfile;
	else
		free(bootfile);
	return 0;
fail:
	free(bootfile);
	return r;
}
