// SPDX-License-Identifier: GPL-2.0
/*
 * unit_chan: host-only tests of the pure parts of vub_chan (request header
 * validation, handler call and fd ownership, raw command size limits) and of
 * the vhost ioctl table.  Synthetic buffers stand in for the kernel.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "vub_chan.h"
#include "vub_ksft.h"
#include "vub_vhost.h"

#define BUF_LEN VUB_REQ_BUF_MIN

/* A well-formed request, as the kernel lays it out: header, payload,
 * fds at the next 8-byte boundary. */
static struct vub_req *make_req(void *buf, uint32_t payload_len, uint32_t nr_fds,
				const int *fds)
{
	struct vub_req *r = buf;
	uint32_t i;

	memset(buf, 0, BUF_LEN);
	*r = (struct vub_req){
		.op = VUB_OP_IOCTL,
		.hdr_len = sizeof(*r),
		.dev_id = 3,
		.seq = 0x1122334455667788ULL,
		.ioctl = VHOST_GET_VRING_BASE,
		.payload_len = payload_len,
		.reply_len = 8,
		.nr_fds = nr_fds,
		.fd_offset = (sizeof(*r) + payload_len + 7) & ~7u,
		.vmm_pid = 42,
	};
	for (i = 0; i < payload_len; i++)
		((uint8_t *)buf)[sizeof(*r) + i] = (uint8_t)(i + 1);
	for (i = 0; i < nr_fds; i++)
		((int *)((char *)buf + r->fd_offset))[i] = fds[i];
	return r;
}

static void *alloc_buf(struct __test_metadata *_metadata)
{
	void *buf = aligned_alloc(4096, BUF_LEN);

	ASSERT_TRUE(buf);
	return buf;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

TEST(decode_valid)
{
	int fds[1] = { 7 };
	void *buf = alloc_buf(_metadata);
	struct vub_req *r = make_req(buf, 12, 1, fds);
	struct vub_chan_msg m;

	ASSERT_EQ(vub_chan_decode(buf, BUF_LEN, &m), 0);
	ASSERT_TRUE(m.req == r);
	ASSERT_TRUE((const char *)m.payload == (char *)buf + sizeof(*r));
	ASSERT_TRUE((const char *)m.fds == (char *)buf + 80);
	ASSERT_EQ(m.fds[0], 7);
	/* no fds: fd_offset does not matter */
	r->nr_fds = 0;
	r->fd_offset = 3;
	ASSERT_EQ(vub_chan_decode(buf, BUF_LEN, &m), 0);
	ASSERT_TRUE(m.fds == NULL);
	/* a longer header (a later API version) is fine; payload follows it */
	make_req(buf, 8, 0, NULL);
	r->hdr_len = 128;
	ASSERT_EQ(vub_chan_decode(buf, BUF_LEN, &m), 0);
	ASSERT_TRUE((const char *)m.payload == (char *)buf + 128);
	/* everything up to the last byte */
	make_req(buf, BUF_LEN - sizeof(*r) - 8, 2, (const int[]){ 1, 2 });
	ASSERT_EQ(vub_chan_decode(buf, BUF_LEN, &m), 0);
	free(buf);
}

TEST(decode_rejects_bad_headers)
{
	static const struct {
		const char *what;
		size_t off;		/* field offset in struct vub_req */
		size_t size;		/* 2 or 4 */
		uint32_t value;
		bool fds_usable;	/* the fd array itself is fine */
	} bad[] = {
#define F(field) offsetof(struct vub_req, field), sizeof(((struct vub_req *)0)->field)
		{ "hdr_len 0",			F(hdr_len), 0, true },
		{ "hdr_len short",		F(hdr_len), 63, true },
		{ "hdr_len unaligned",		F(hdr_len), 68, true },
		{ "hdr_len past buffer",	F(hdr_len), 65528, true },
		{ "payload past buffer",	F(payload_len), BUF_LEN, true },
		{ "payload_len wraps",		F(payload_len), UINT32_MAX, true },
		{ "fds in header",		F(fd_offset), 8, false },
		{ "fds unaligned",		F(fd_offset), 82, false },
		{ "fds past buffer",		F(fd_offset), BUF_LEN - 2, false },
		{ "fd_offset wraps",		F(fd_offset), UINT32_MAX - 3, false },
		{ "fds in payload",		F(fd_offset), 72, true },
		{ "too many fds",		F(nr_fds), VUB_CHAN_MAX_FDS + 1, false },
		{ "nr_fds huge",		F(nr_fds), UINT32_MAX, false },
		{ "reply_len too big",		F(reply_len), VUB_REPLY_MAX + 1, true },
#undef F
	};
	struct vub_chan_msg m;
	void *buf = alloc_buf(_metadata);
	uint16_t v16;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_req(buf, 12, 1, (const int[]){ 5 });
		if (bad[i].size == 2) {
			v16 = bad[i].value;
			memcpy((char *)buf + bad[i].off, &v16, 2);
		} else {
			memcpy((char *)buf + bad[i].off, &bad[i].value, 4);
		}
		if (vub_chan_decode(buf, BUF_LEN, &m) != -EBADMSG)
			TH_LOG("accepted: %s", bad[i].what);
		EXPECT_EQ(vub_chan_decode(buf, BUF_LEN, &m), -EBADMSG);
		EXPECT_EQ(m.fds != NULL, bad[i].fds_usable);
	}
	/* a buffer too small for a header, or misaligned */
	make_req(buf, 0, 0, NULL);
	EXPECT_EQ(vub_chan_decode(buf, sizeof(struct vub_req) - 1, &m), -EBADMSG);
	EXPECT_EQ(vub_chan_decode((char *)buf + 4, BUF_LEN - 4, &m), -EBADMSG);
	free(buf);
}

struct seen {
	struct __test_metadata *md;	/* the handler's ASSERTs */
	int calls;
	int take;		/* index of the fd to take over, or -1 */
	int taken;
	int result;
	uint32_t reply_len;
	uint64_t payload0;
};

static int record(void *ctx, const struct vub_req *req, const void *payload,
		  int *fds, void *reply, uint32_t *reply_len)
{
	struct seen *s = ctx;
	struct __test_metadata *_metadata = s->md;
	uint64_t v = 0xabcdef;

	s->calls++;
	ASSERT_EQ(*reply_len, 0);	/* zeroed on entry */
	memcpy(&s->payload0, payload, req->payload_len < 8 ? req->payload_len : 8);
	if (s->take >= 0) {
		s->taken = fds[s->take];
		fds[s->take] = -1;
	}
	memcpy(reply, &v, sizeof(v));
	*reply_len = s->reply_len;
	return s->result;
}

TEST(handle_calls_handler_and_closes_fds)
{
	struct seen s = { .md = _metadata, .take = 1, .taken = -1, .reply_len = 8 };
	int fds[3] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };
	struct vub_io_cmd cmd;
	void *buf = alloc_buf(_metadata);
	uint64_t v;

	make_req(buf, 8, 3, fds);
	ASSERT_EQ(vub_chan_handle(buf, BUF_LEN, record, &s, &cmd), 0);
	ASSERT_EQ(s.calls, 1);
	ASSERT_EQ(s.payload0, 0x0807060504030201ULL);
	ASSERT_EQ(cmd.seq, 0x1122334455667788ULL);
	ASSERT_EQ(cmd.result, 0);
	ASSERT_EQ(cmd.reply_len, 8);
	memcpy(&v, cmd.reply, sizeof(v));
	ASSERT_EQ(v, 0xabcdef);
	ASSERT_EQ(cmd.tag | cmd.flags | cmd.reserved, 0);
	/* the taken fd stays open (now the handler's), the others are closed */
	ASSERT_EQ(s.taken, fds[1]);
	ASSERT_TRUE(fd_open(fds[1]));
	ASSERT_FALSE(fd_open(fds[0]));
	ASSERT_FALSE(fd_open(fds[2]));
	close(fds[1]);
	free(buf);
}

TEST(handle_result_rules)
{
	struct seen s = { .md = _metadata, .take = -1 };
	struct vub_io_cmd cmd;
	void *buf = alloc_buf(_metadata);

	make_req(buf, 8, 0, NULL);
	/* an error drops the reply */
	s.result = -EXDEV;
	s.reply_len = 8;
	ASSERT_EQ(vub_chan_handle(buf, BUF_LEN, record, &s, &cmd), 0);
	ASSERT_EQ(cmd.result, -EXDEV);
	ASSERT_EQ(cmd.reply_len, 0);
	ASSERT_EQ(cmd.reply[0], 0);
	/* a wrong reply size is passed on, for the kernel to refuse */
	s.result = 0;
	s.reply_len = 4;
	vub_chan_handle(buf, BUF_LEN, record, &s, &cmd);
	ASSERT_EQ(cmd.result, 0);
	ASSERT_EQ(cmd.reply_len, 4);
	/* handler bugs become -EIO */
	s.reply_len = VUB_REPLY_MAX + 1;
	vub_chan_handle(buf, BUF_LEN, record, &s, &cmd);
	ASSERT_EQ(cmd.result, -EIO);
	ASSERT_EQ(cmd.reply_len, 0);
	s.reply_len = 0;
	s.result = 5;
	vub_chan_handle(buf, BUF_LEN, record, &s, &cmd);
	ASSERT_EQ(cmd.result, -EIO);
	s.result = -5000;
	vub_chan_handle(buf, BUF_LEN, record, &s, &cmd);
	ASSERT_EQ(cmd.result, -EIO);
	free(buf);
}

TEST(handle_malformed_answers_eio_and_closes_fds)
{
	struct seen s = { .md = _metadata, .take = -1 };
	int fd = eventfd(0, EFD_CLOEXEC);
	struct vub_io_cmd cmd;
	void *buf = alloc_buf(_metadata);
	struct vub_req *r = make_req(buf, 8, 1, &fd);

	r->reply_len = VUB_REPLY_MAX + 1;
	ASSERT_EQ(vub_chan_handle(buf, BUF_LEN, record, &s, &cmd), -EBADMSG);
	ASSERT_EQ(s.calls, 0);
	ASSERT_EQ(cmd.result, -EIO);
	ASSERT_EQ(cmd.reply_len, 0);
	ASSERT_EQ(cmd.seq, r->seq);
	ASSERT_FALSE(fd_open(fd));
	free(buf);
}

TEST(raw_command_size_limits)
{
	uint8_t cmd[81] = { 0 };
	struct io_uring r128, r64;
	int32_t res;
	int efd;

	if (io_uring_queue_init(4, &r128, IORING_SETUP_SQE128))
		SKIP(return, "no io_uring with SQE128 on this host");
	ASSERT_OK(io_uring_queue_init(4, &r64, 0));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_EQ(vub_chan_raw_submit(&r128, efd, 1, cmd, 81, 0), -EINVAL);
	ASSERT_EQ(vub_chan_raw_submit(&r64, efd, 1, cmd, 17, 0), -EINVAL);
	/* a URING_CMD to a file without ->uring_cmd completes with an error */
	ASSERT_OK(vub_chan_raw_cmd(&r128, efd, 1, cmd, 80, 5000, &res));
	ASSERT_LT(res, 0);
	ASSERT_OK(vub_chan_raw_cmd(&r64, efd, 1, cmd, 16, 5000, &res));
	ASSERT_LT(res, 0);
	/* nothing pending: the wait times out */
	ASSERT_EQ(vub_chan_raw_wait(&r128, 10, NULL, &res), -ETIME);
	close(efd);
	io_uring_queue_exit(&r64);
	io_uring_queue_exit(&r128);
}

TEST(chan_open_failures_leave_nothing)
{
	struct vub_chan ch;
	int before = dup(0);

	close(before);
	ASSERT_EQ(vub_chan_open(&ch, "/nonexistent/vub-control", 1), -ENOENT);
	ASSERT_EQ(vub_chan_open(&ch, NULL, 0), -EINVAL);
	ASSERT_EQ(vub_chan_open(&ch, NULL, VUB_MAX_TAGS + 1), -EINVAL);
	vub_chan_close(&ch);	/* idempotent */
	ASSERT_EQ(dup(0), before);	/* the lowest free fd is unchanged */
	close(before);
	ASSERT_EQ(vub_chan_start(&ch, "/nonexistent/vub-control", 1), -ENOENT);
}

TEST(vhost_table_matches_ioctl_encoding)
{
	const struct vub_vhost_ioctl *d;
	size_t i, j, size;

	for (i = 0; i < VUB_VHOST_NR; i++) {
		d = &vub_vhost_ioctls[i];
		ASSERT_EQ(d->idx, i);
		ASSERT_TRUE(vub_vhost_find(d->ioctl) == d);
		ASSERT_EQ(_IOC_TYPE(d->ioctl), VHOST_VIRTIO);
		/* the argument is in or out (GET_VRING_* are both, some _IOW) */
		size = d->in_len > d->out_len ? d->in_len : d->out_len;
		if (size != _IOC_SIZE(d->ioctl))
			TH_LOG("%s: %zu bytes, encoded %u", d->name, size, _IOC_SIZE(d->ioctl));
		EXPECT_EQ(size, _IOC_SIZE(d->ioctl));
		for (j = 0; j < i; j++)
			EXPECT_NE(vub_vhost_ioctls[j].ioctl, d->ioctl);
	}
	ASSERT_EQ(VUB_VHOST_NR, 21);
	ASSERT_TRUE(vub_vhost_find(_IO(VHOST_VIRTIO, 0x7f)) == NULL);
	ASSERT_TRUE(vub_vhost_find(VHOST_GET_VRING_BASE) != vub_vhost_find(VHOST_SET_VRING_BASE));
}

TEST(vhost_payload_checks_and_format)
{
	const struct vub_vhost_ioctl *mem = vub_vhost_find(VHOST_SET_MEM_TABLE);
	const struct vub_vhost_ioctl *kick = vub_vhost_find(VHOST_SET_VRING_KICK);
	const struct vub_vhost_ioctl *logfd = vub_vhost_find(VHOST_SET_LOG_FD);
	const struct vub_vhost_ioctl *num = vub_vhost_find(VHOST_SET_VRING_NUM);
	union {
		struct vhost_memory m;
		uint8_t b[8 + 6 * 32];
	} u = { .m.nregions = 2 };
	struct vhost_vring_file f = { .index = 1, .fd = VHOST_FILE_UNBIND };
	struct vhost_vring_state s = { 1, 256 };
	char out[512], small[12];
	int fd = 5;

	ASSERT_EQ(vub_vhost_check_payload(mem, &u, 72), 0);
	ASSERT_EQ(vub_vhost_check_payload(mem, &u, 71), -EINVAL);
	ASSERT_EQ(vub_vhost_check_payload(mem, &u, 4), -EINVAL);
	u.m.nregions = 3;
	ASSERT_EQ(vub_vhost_check_payload(mem, &u, 72), -EINVAL);
	ASSERT_EQ(vub_vhost_check_payload(num, &s, 8), 0);
	ASSERT_EQ(vub_vhost_check_payload(num, &s, 7), -EINVAL);

	ASSERT_EQ(vub_vhost_nr_fds(kick, &f), 0);
	f.fd = 9;
	ASSERT_EQ(vub_vhost_nr_fds(kick, &f), 1);
	ASSERT_EQ(vub_vhost_nr_fds(logfd, &fd), 1);
	ASSERT_EQ(vub_vhost_nr_fds(num, &s), 0);

	vub_vhost_format(num, &s, 8, out, sizeof(out));
	ASSERT_EQ(strcmp(out, "{index=1 num=256}"), 0);
	vub_vhost_format(kick, &f, 8, out, sizeof(out));
	ASSERT_EQ(strcmp(out, "{index=1 fd=9}"), 0);
	vub_vhost_format(vub_vhost_find(VHOST_GET_FEATURES), NULL, 0, out, sizeof(out));
	ASSERT_EQ(strcmp(out, "{}"), 0);
	vub_vhost_format(num, &s, 4, out, sizeof(out));
	ASSERT_EQ(strcmp(out, "<4 bytes, expected 8>"), 0);
	u.m.nregions = 6;
	vub_vhost_format(mem, &u, sizeof(u), out, sizeof(out));
	ASSERT_EQ(strncmp(out, "{nregions=6 padding=0 [gpa=0", 28), 0);
	ASSERT_TRUE(strstr(out, " ...}") != NULL);
	/* truncation never writes past the buffer (ASan watches) */
	ASSERT_GE(vub_vhost_format(mem, &u, sizeof(u), small, sizeof(small)), (int)sizeof(small));
	ASSERT_EQ(strlen(small), sizeof(small) - 1);
}

TEST_HARNESS_MAIN
