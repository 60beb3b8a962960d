/* SPDX-License-Identifier: MIT */
/* A free TCP port on 127.0.0.1, for the SSH port forward of a VM partboot starts itself. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macros.h"
#include "vm-private.h"

int vm_free_port(unsigned *ret, struct pb_err *err)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* Port 0: the kernel picks one that is free; QEMU binds it a moment later (a race the caller retries). */
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return pb_err_set(err, -errno, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
	*ret = ntohs(a.sin_port);
	return 0;
}
