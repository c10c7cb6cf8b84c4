// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for bridged/vu_conn over a socketpair: a raw peer sends
 * well-formed and malformed byte streams; every error must be clean and must
 * not leak a single fd (counted in /proc/self/fd).
 */
#include "../../bridged/vu_conn.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

/* Raw send with an arbitrary fd list. */
static void raw_send(int s, const void *p, size_t len, const int *fds, int nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		TAP_DIAG("raw_send short");
}

static void hdr3(uint8_t *b, uint32_t req, uint32_t flags, uint32_t size)
{
	uint32_t h[3] = { req, flags, size };

	memcpy(b, h, 12);
}

struct pair {
	struct vu_conn c;
	int peer;
};

static void mkpair(struct pair *p)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	vu_conn_adopt(&p->c, sv[0]);
	p->c.timeout_ms = 2000;
	p->peer = sv[1];
}

static void rmpair(struct pair *p)
{
	vu_conn_close(&p->c);
	close(p->peer);
}

static void test_send_one_sendmsg(void)
{
	struct pair p;
	struct vu_msg m;
	struct vu_mem_region r[2] = { { 0, 4096, 0x1000, 0 },
				      { 4096, 4096, 0x2000, 0 } };
	int before = count_fds();
	int efd[2] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };
	struct vu_err err;
	uint8_t b[1024];
	union {
		char c[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.c,
			     .msg_controllen = sizeof(ctl.c) };
	ssize_t n;

	mkpair(&p);
	vu_msg_mem_table(&m, r, efd, 2, &err);
	TAP_OK(vu_conn_send(&p.c, VU_CHAN_FRONTEND, &m, &err) == 0,
	       "send SET_MEM_TABLE with 2 fds");
	n = recvmsg(p.peer, &mh, MSG_CMSG_CLOEXEC);
	TAP_OK(n == 12 + 8 + 64, "header+payload arrive in one recvmsg (%zd)", n);
	{
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int got[2];
		struct stat a, bb;

		TAP_OK(cm && cm->cmsg_type == SCM_RIGHTS &&
		       cm->cmsg_len == CMSG_LEN(2 * sizeof(int)),
		       "2 fds in the same sendmsg");
		if (cm) {
			memcpy(got, CMSG_DATA(cm), sizeof(got));
			fstat(got[1], &a);
			fstat(efd[1], &bb);
			TAP_OK(a.st_ino == bb.st_ino, "fd order preserved");
			close(got[0]);
			close(got[1]);
		}
	}
	close(efd[0]);
	close(efd[1]);
	rmpair(&p);
	TAP_OK(count_fds() == before, "no fd leaked");
}

static void test_recv_good(void)
{
	struct pair p;
	struct vu_msg m;
	struct vu_err err;
	uint8_t b[64];
	uint64_t v = 0x1234;
	int efd = eventfd(0, EFD_CLOEXEC);
	int before = count_fds();

	mkpair(&p);
	/* header and payload in two writes, fd on the payload part */
	hdr3(b, VU_BACKEND_VRING_HOST_NOTIFIER_MSG, 1, 24);
	raw_send(p.peer, b, 12, NULL, 0);
	memset(b, 0, 24);
	b[0] = 1;
	raw_send(p.peer, b, 24, &efd, 1);
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == 0 && m.nfds == 1 && m.size == 24,
	       "message split over two writes, fd with the payload");
	TAP_OK(vu_check_request(VU_CHAN_BACKEND, &m, &err) == 0,
	       "host notifier with fd validates");
	vu_msg_close_fds(&m);

	hdr3(b, VU_GET_FEATURES, 5, 8);
	memcpy(b + 12, &v, 8);
	raw_send(p.peer, b, 20, NULL, 0);
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == 0 && m.p.u64 == 0x1234,
	       "u64 reply received");
	rmpair(&p);
	close(efd);
	TAP_OK(count_fds() == before - 1, "no fd leaked");
}

static void test_recv_malformed(void)
{
	struct pair p;
	struct vu_msg m;
	struct vu_err err;
	uint8_t b[2048];
	int efd[10];
	int i, before;

	for (i = 0; i < 10; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	before = count_fds();

	/* EOF in the header */
	mkpair(&p);
	hdr3(b, 1, 5, 8);
	raw_send(p.peer, b, 6, efd, 2);
	close(p.peer);
	p.peer = -1;
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == -ECONNRESET,
	       "short header then EOF: -ECONNRESET (%s)", err.msg);
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == -EPIPE,
	       "connection poisoned afterwards: -EPIPE");
	vu_conn_close(&p.c);
	TAP_OK(count_fds() == before, "fds from the short message closed");

	/* EOF in the payload */
	mkpair(&p);
	hdr3(b, 1, 5, 8);
	raw_send(p.peer, b, 16, efd, 3);
	close(p.peer);
	p.peer = -1;
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == -ECONNRESET,
	       "short payload then EOF: -ECONNRESET (%s)", err.msg);
	vu_conn_close(&p.c);
	TAP_OK(count_fds() == before, "fds closed");

	/* size over the maximum */
	mkpair(&p);
	hdr3(b, 1, 5, VU_PAYLOAD_MAX + 1);
	raw_send(p.peer, b, 12, efd, 1);
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == -EMSGSIZE,
	       "size over max: -EMSGSIZE (%s)", err.msg);
	rmpair(&p);
	TAP_OK(count_fds() == before, "fds closed");

	/* wrong version */
	mkpair(&p);
	hdr3(b, 1, 2 | 4, 0);
	raw_send(p.peer, b, 12, efd, 1);
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == -EPROTO,
	       "version 2: -EPROTO");
	rmpair(&p);
	TAP_OK(count_fds() == before, "fds closed");

	/* too many fds */
	mkpair(&p);
	hdr3(b, 1, 5, 8);
	memset(b + 12, 0, 8);
	raw_send(p.peer, b, 20, efd, 10);
	TAP_OK(vu_conn_recv(&p.c, &m, &err) == -EPROTO,
	       "10 fds: -EPROTO (%s)", err.msg);
	rmpair(&p);
	TAP_OK(count_fds() == before, "all 10 fds closed");

	for (i = 0; i < 10; i++)
		close(efd[i]);
}

static void test_call(void)
{
	struct pair p;
	struct vu_msg req, rep;
	struct vu_err err;
	uint8_t b[64];
	uint64_t v = 0;
	int efd = eventfd(0, EFD_CLOEXEC);
	int before = count_fds();

	/* reply to the wrong request */
	mkpair(&p);
	vu_msg_init(&req, VU_GET_FEATURES);
	hdr3(b, VU_GET_PROTOCOL_FEATURES, 5, 8);
	memcpy(b + 12, &v, 8);
	raw_send(p.peer, b, 20, &efd, 1);
	TAP_OK(vu_conn_call(&p.c, &req, &rep, 0, &err) == -EPROTO &&
	       rep.nfds == 0, "reply to the wrong request: -EPROTO (%s)", err.msg);
	TAP_OK(vu_conn_call(&p.c, &req, &rep, 0, &err) == -EPIPE,
	       "then the connection is unusable: -EPIPE");
	rmpair(&p);
	TAP_OK(count_fds() == before, "unexpected fd on the reply closed");

	/* REPLY_ACK with a non-zero status is a valid reply */
	mkpair(&p);
	vu_msg_u64(&req, VU_SET_FEATURES, 0);
	req.flags |= VU_FLAG_NEED_REPLY;
	v = 1;
	hdr3(b, VU_SET_FEATURES, 5, 8);
	memcpy(b + 12, &v, 8);
	raw_send(p.peer, b, 20, NULL, 0);
	TAP_OK(vu_conn_call(&p.c, &req, &rep, 0, &err) == 0 && rep.p.u64 == 1,
	       "REPLY_ACK status delivered to the caller");
	/* no reply expected: nothing read */
	vu_msg_u64(&req, VU_SET_FEATURES, 0);
	TAP_OK(vu_conn_call(&p.c, &req, &rep, 0, &err) == 0 && rep.size == 0,
	       "request without reply returns at once");
	/* timeout */
	p.c.timeout_ms = 100;
	vu_msg_init(&req, VU_GET_FEATURES);
	TAP_OK(vu_conn_call(&p.c, &req, &rep, 0, &err) == -ETIMEDOUT,
	       "silent back-end: -ETIMEDOUT (%s)", err.msg);
	rmpair(&p);

	/* send on a closed peer: -EPIPE, no SIGPIPE */
	mkpair(&p);
	close(p.peer);
	p.peer = -1;
	vu_msg_init(&req, VU_SET_OWNER);
	TAP_OK(vu_conn_send(&p.c, VU_CHAN_FRONTEND, &req, &err) == -EPIPE,
	       "send to a closed peer: -EPIPE");
	vu_conn_close(&p.c);
	close(efd);
	TAP_OK(count_fds() == before - 1, "no fd leaked");
}

int main(void)
{
	test_send_one_sendmsg();
	test_recv_good();
	test_recv_malformed();
	test_call();
	return tap_done();
}
