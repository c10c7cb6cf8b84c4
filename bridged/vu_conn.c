// SPDX-License-Identifier: GPL-2.0-only
/*
 * vu_conn - vhost-user unix-socket transport (see vu_conn.h).
 */
#include "vu_conn.h"
#include "vub_co.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void vu_msg_close_fds(struct vu_msg *m)
{
	unsigned int i;

	for (i = 0; i < m->nfds && i < VU_MAX_FDS; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* @deadline or, in a coroutine, the request's deadline has passed. */
static bool past(int64_t deadline)
{
	int64_t now = vub_co_now();

	return (deadline >= 0 && now >= deadline) ||
	       (vub_co_deadline() >= 0 && now >= vub_co_deadline());
}

/*
 * Non-blocking: a back-end whose listen queue is full answers EAGAIN, and
 * the connect is retried every 10 ms until the deadline (vu_conn.h).
 */
int vu_conn_connect(struct vu_conn *c, const char *path, struct vu_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = vub_co_now() + VU_CONN_DEFAULT_TIMEOUT_MS;
	int fd, e;

	c->fd = -1;
	c->broken = 0;
	c->timeout_ms = VU_CONN_DEFAULT_TIMEOUT_MS;
	if (strlen(path) >= sizeof(sa.sun_path))
		return vu_fail(err, -ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vu_fail(err, -errno, "socket: %s", strerror(errno));
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EAGAIN) {
			vub_co_wait(-1, 0, MIN(vub_co_now() + 10, deadline));
			if (!past(deadline))
				continue;
			e = ETIMEDOUT;
		}
		close(fd);
		return vu_fail(err, -e, "connect %s: %s", path, e == ETIMEDOUT ?
			       "the back-end's listen queue stayed full until the deadline" :
			       strerror(e));
	}
	c->fd = fd;
	return 0;
}

void vu_conn_adopt(struct vu_conn *c, int fd)
{
	c->fd = fd;
	c->broken = 0;
	c->timeout_ms = VU_CONN_DEFAULT_TIMEOUT_MS;
}

void vu_conn_close(struct vu_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Wait for the socket until this wait's timeout or, in a coroutine, the
 * request's deadline, whichever comes first. */
static int wait_fd(struct vu_conn *c, short events, struct vu_err *err)
{
	int64_t deadline = c->timeout_ms < 0 ? -1 : vub_co_now() + c->timeout_ms;

	if (vub_co_wait(c->fd, events, deadline) > 0)
		return 0;
	if (past(-1))
		return vu_fail(err, -ETIMEDOUT, "no answer from the back-end before the request's deadline");
	return vu_fail(err, -ETIMEDOUT, "no answer from the back-end in %d ms",
		       c->timeout_ms);
}

int vu_conn_send(struct vu_conn *c, enum vu_chan chan, const struct vu_msg *m,
		 struct vu_err *err)
{
	uint8_t buf[VU_MSG_MAX];
	union {
		char b[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	long len;
	size_t off = 0;
	ssize_t n;
	int ret;

	if (c->fd < 0 || c->broken)
		return vu_fail(err, -EPIPE, "%s: connection is closed",
			    vu_req_name(chan, m->request));
	len = vu_encode(chan, m, buf, sizeof(buf), err);
	if (len < 0)
		return (int)len;

	memset(&ctl, 0, sizeof(ctl));
	if (m->nfds) {
		struct cmsghdr *cm;

		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->nfds);
	}
	while (off < (size_t)len) {
		iov.iov_base = buf + off;
		iov.iov_len = (size_t)len - off;
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ret = wait_fd(c, POLLOUT, err);
				if (ret)
					goto broken;
				continue;
			}
			ret = vu_fail(err, -errno, "send %s: %s",
				   vu_req_name(chan, m->request), strerror(errno));
			goto broken;
		}
		off += (size_t)n;
		/* The fds went with the first byte; never send them twice. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
broken:
	if (off)
		c->broken = 1;
	return ret;
}

/*
 * Read exactly len bytes, collecting fds from any control message into m
 * (a peer may attach them to the header or to the payload bytes; either way
 * at most VU_MAX_FDS per message).  Returns 0, or a negative errno (EOF =
 * -ECONNRESET).
 */
static int read_full(struct vu_conn *c, uint8_t *p, size_t len,
		     struct vu_msg *m, struct vu_err *err)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	size_t off = 0;
	int ret = 0;

	while (off < len) {
		struct iovec iov = { .iov_base = p + off, .iov_len = len - off };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
		};
		struct cmsghdr *cm;
		ssize_t n;

		/* Non-blocking try first; on EAGAIN wait (vub_co_wait). */
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ret = wait_fd(c, POLLIN, err);
				if (ret)
					return ret;
				continue;
			}
			return vu_fail(err, -errno, "recv: %s", strerror(errno));
		}
		/* Take ownership of every fd first, then judge. */
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t nf, i;

			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			nf = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < nf; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
				if (m->nfds < VU_MAX_FDS) {
					m->fds[m->nfds++] = fd;
				} else {
					close(fd);
					ret = vu_fail(err, -EPROTO,
						   "more than %u fds", VU_MAX_FDS);
				}
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			ret = vu_fail(err, -EPROTO, "control data truncated (fds lost)");
		if (ret)
			return ret;
		if (n == 0 && off)
			return vu_fail(err, -ECONNRESET,
				    "short read: peer closed after %zu of %zu bytes",
				    off, len);
		if (n == 0)
			return vu_fail(err, -ECONNRESET, "peer closed the connection");
		off += (size_t)n;
	}
	return 0;
}

int vu_conn_recv(struct vu_conn *c, struct vu_msg *m, struct vu_err *err)
{
	uint8_t hdr[VU_HDR_SIZE];
	uint8_t payload[VU_PAYLOAD_MAX];
	int fds[VU_MAX_FDS];
	unsigned int nfds;
	int ret;

	memset(m, 0, sizeof(*m));
	if (c->fd < 0 || c->broken)
		return vu_fail(err, -EPIPE, "connection is closed");
	ret = read_full(c, hdr, sizeof(hdr), m, err);
	if (ret)
		goto bad;
	/* vu_decode_hdr clears m: keep the fds aside. */
	nfds = m->nfds;
	memcpy(fds, m->fds, sizeof(fds));
	ret = vu_decode_hdr(hdr, sizeof(hdr), m, err);
	m->nfds = nfds;
	memcpy(m->fds, fds, sizeof(fds));
	if (ret)
		goto bad;
	ret = read_full(c, payload, m->size, m, err);
	if (ret)
		goto bad;
	nfds = m->nfds;
	memcpy(fds, m->fds, sizeof(fds));
	ret = vu_decode_payload(m, payload, m->size, err);
	m->nfds = nfds;
	memcpy(m->fds, fds, sizeof(fds));
	if (ret)
		goto bad;
	return 0;
bad:
	vu_msg_close_fds(m);
	c->broken = 1;
	return ret;
}

int vu_conn_call(struct vu_conn *c, const struct vu_msg *req,
		 struct vu_msg *reply, uint64_t proto, struct vu_err *err)
{
	int ret;

	memset(reply, 0, sizeof(*reply));
	ret = vu_conn_send(c, VU_CHAN_FRONTEND, req, err);
	if (ret)
		return ret;
	if (!vu_expects_reply(VU_CHAN_FRONTEND, req, proto))
		return 0;
	ret = vu_conn_recv(c, reply, err);
	if (ret)
		return ret;
	ret = vu_check_reply(VU_CHAN_FRONTEND, req, reply, err);
	if (ret) {
		vu_msg_close_fds(reply);
		/* A well-framed GET_CONFIG error keeps the stream in sync. */
		if (ret != -EIO)
			c->broken = 1;
	}
	return ret;
}
