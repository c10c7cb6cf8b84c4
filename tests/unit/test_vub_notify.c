// SPDX-License-Identifier: GPL-2.0
/*
 * bridged/vub_notify.c against a datagram socket standing in for systemd:
 * path and abstract ('@') addresses, the exact bytes, the sender's
 * credentials (systemd's NotifyAccess=main checks the pid), and the errors.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "vub_notify.h"

/* A bound receiver for @name ("/path" or "@abstract"); SO_PASSCRED on. */
static int receiver(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sun,
		 offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'))) {
		perror("receiver");
		exit(1);
	}
	return fd;
}

/* The next datagram, NUL-terminated, and its sender's pid; "" if none is waiting. */
static const char *receive(int fd, pid_t *pid)
{
	static char buf[1024];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
	struct ucred uc;

	*pid = 0;
	if (n < 0)
		return "";
	buf[n] = 0;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*pid = uc.pid;
		}
	return buf;
}

int main(void)
{
	char dir[] = "/tmp/vub-notify-XXXXXX", path[256], abstract[64], long_name[200];
	const char *got;
	pid_t pid;
	int fd, afd;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/notify", dir);
	snprintf(abstract, sizeof(abstract), "@vub-notify-test-%d", (int)getpid());

	unsetenv("NOTIFY_SOCKET");
	TAP_OK(vub_notify_ready() == 0, "no NOTIFY_SOCKET: nothing sent, 0");
	setenv("NOTIFY_SOCKET", "", 1);
	TAP_OK(vub_notify_ready() == 0, "empty NOTIFY_SOCKET: nothing sent, 0");

	fd = receiver(path);
	setenv("NOTIFY_SOCKET", path, 1);
	TAP_OK(vub_notify_ready() == 1, "path socket: READY=1 sent");
	got = receive(fd, &pid);
	TAP_OK(!strcmp(got, "READY=1"), "path socket: received \"%s\"", got);
	TAP_OK(pid == getpid(), "sender credentials: pid %d is ours (NotifyAccess=main)", (int)pid);
	TAP_OK(vub_notifyf("STATUS=serving %d devices, back-end %s", 2, "/run/b.sock") == 1 &&
	       !strcmp(receive(fd, &pid), "STATUS=serving 2 devices, back-end /run/b.sock"),
	       "STATUS= formatted and received exactly");
	TAP_OK(vub_notify_stopping() == 1 && !strcmp(receive(fd, &pid), "STOPPING=1"),
	       "STOPPING=1 received");
	TAP_OK(!strcmp(receive(fd, &pid), ""), "one datagram per call, nothing more");

	afd = receiver(abstract);
	setenv("NOTIFY_SOCKET", abstract, 1);
	TAP_OK(vub_notify_ready() == 1 && !strcmp(receive(afd, &pid), "READY=1"),
	       "abstract socket %s: READY=1 received", abstract);
	TAP_OK(!strcmp(receive(fd, &pid), ""), "abstract: nothing went to the path socket");

	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	TAP_OK(vub_notify_ready() == -EINVAL, "relative path: -EINVAL");
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[0] = '/';
	long_name[sizeof(long_name) - 1] = 0;
	setenv("NOTIFY_SOCKET", long_name, 1);
	TAP_OK(vub_notify_ready() == -ENAMETOOLONG, "path longer than sun_path: -ENAMETOOLONG");
	long_name[sizeof(((struct sockaddr_un *)0)->sun_path)] = 0;	/* 108 bytes: no room for NUL */
	setenv("NOTIFY_SOCKET", long_name, 1);
	TAP_OK(vub_notify_ready() == -ENAMETOOLONG, "108-byte path (no room for its NUL): -ENAMETOOLONG");
	long_name[0] = '@';	/* 108 bytes with '@' is a 107-byte name: fits */
	setenv("NOTIFY_SOCKET", long_name, 1);
	TAP_OK(vub_notify_ready() == -ECONNREFUSED, "108-byte abstract name fits (-ECONNREFUSED: nobody bound)");
	snprintf(long_name, sizeof(long_name), "%s/nobody", dir);
	setenv("NOTIFY_SOCKET", long_name, 1);
	TAP_OK(vub_notify_ready() == -ENOENT, "no socket at the path: -ENOENT");

	/* $JOURNAL_STREAM: "DEVICE:INODE" of the journal's stream socket. */
	{
		struct stat st;
		char v[64];

		unsetenv("JOURNAL_STREAM");
		TAP_OK(vub_journal_stream(fd) == 0, "no JOURNAL_STREAM: not the journal");
		fstat(fd, &st);
		snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", v, 1);
		TAP_OK(vub_journal_stream(fd) == 1, "JOURNAL_STREAM %s names the fd: the journal", v);
		TAP_OK(vub_journal_stream(afd) == 0, "another fd (redirected stderr): not the journal");
		snprintf(v, sizeof(v), "%llu:%llux", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", v, 1);
		TAP_OK(vub_journal_stream(fd) == 0, "malformed JOURNAL_STREAM %s: not the journal", v);
		snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", v, 1);
		TAP_OK(vub_journal_stream(-1) == -EBADF, "bad fd: -EBADF");
		unsetenv("JOURNAL_STREAM");
	}

	close(fd);
	close(afd);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
