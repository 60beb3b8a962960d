/* SPDX-License-Identifier: MIT */
/*
 * A minimal QMP client: QEMU's machine protocol, one JSON object per line.
 * partboot only needs to say hello (qmp_capabilities), to send
 * system_powerdown and quit, and to hear how the VM ended: the SHUTDOWN
 * event's reason (guest-shutdown = a clean poweroff, guest-reset = a reboot,
 * which ends the VM under -no-reboot) and GUEST_PANICKED. Matching the few
 * fixed strings QEMU emits is enough; no JSON library.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vm-private.h"

void vm_qmp_init(struct vm_qmp *q, int fd)
{
	memset(q, 0, sizeof(*q));
	q->fd = fd;
	strbuf_init(&q->in);
}

void vm_qmp_release(struct vm_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	strbuf_release(&q->in);
}

static int send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int vm_qmp_command(struct vm_qmp *q, const char *cmd)
{
	struct strbuf sb = STRBUF_INIT;
	int r;

	if (q->fd < 0)
		return -ENOTCONN;
	strbuf_addf(&sb, "{\"execute\": \"%s\"}\n", cmd);
	r = send_all(q->fd, sb.buf);
	strbuf_release(&sb);
	return r;
}

static void handle_line(struct vm_qmp *q, const char *line)
{
	if (!q->greeted && strstr(line, "\"QMP\"")) {
		q->greeted = true;
		send_all(q->fd, "{\"execute\": \"qmp_capabilities\"}\n");
		return;
	}
	if (strstr(line, "\"GUEST_PANICKED\""))
		q->panicked = true;
	if (strstr(line, "\"SHUTDOWN\"")) {
		q->shutdown_seen = true;
		if (strstr(line, "\"guest-shutdown\""))
			q->guest_shutdown = true;
		else if (strstr(line, "\"guest-reset\""))
			q->guest_reset = true;
		else if (strstr(line, "\"guest-panic\""))
			q->panicked = true;
	}
}

int vm_qmp_read(struct vm_qmp *q)
{
	char buf[4096];
	ssize_t n;
	char *nl;

	if (q->fd < 0)
		return -EPIPE;
	n = read(q->fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	strbuf_add(&q->in, buf, (size_t)n);
	while ((nl = memchr(q->in.buf, '\n', q->in.len))) {
		size_t len = (size_t)(nl - q->in.buf) + 1;

		*nl = '\0';
		handle_line(q, q->in.buf);
		memmove(q->in.buf, q->in.buf + len, q->in.len - len);
		q->in.len -= len;
		q->in.buf[q->in.len] = '\0';
	}
	return 0;
}
