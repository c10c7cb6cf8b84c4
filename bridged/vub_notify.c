// SPDX-License-Identifier: GPL-2.0
/* sd_notify(3)'s protocol over $NOTIFY_SOCKET, without libsystemd. */
#include "vub_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int vub_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len, state_len = strlen(state);
	socklen_t alen;
	ssize_t n;
	int fd, err;

	if (!path || !*path)
		return 0;
	if (path[0] != '/' && path[0] != '@')
		return -EINVAL;	/* vsock: addresses are not supported */
	len = strlen(path);
	/* A path needs its NUL; an abstract name is exactly its bytes after '@'. */
	if (len + (path[0] == '/') > sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	alen = offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/');

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, state_len, MSG_NOSIGNAL, (struct sockaddr *)&sun, alen);
	err = n < 0 ? -errno : (size_t)n == state_len ? 1 : -EMSGSIZE;
	close(fd);
	return err;
}

int vub_notifyf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(buf))
		return -EMSGSIZE;
	return vub_notify(buf);
}

int vub_journal_stream(int fd)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n])
		return 0;
	if (fstat(fd, &st))
		return -errno;
	return st.st_dev == dev && st.st_ino == ino;
}
