// SPDX-License-Identifier: GPL-2.0
/* vub_chan: the daemon's end of the control channel.  See vub_chan.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vub_chan.h"

#define VUB_CHAN_RING_ENTRIES	(2 * VUB_MAX_TAGS)
#define VUB_CHAN_ATTACH_TIMEOUT_MS 10000
/* Size of the command area of an SQE, with and without IORING_SETUP_SQE128. */
#define SQE_CMD_LEN_128		80
#define SQE_CMD_LEN_64		16

static void chan_log(const struct vub_chan *ch, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void chan_log(const struct vub_chan *ch, const char *fmt, ...)
{
	va_list ap;

	if (!ch->log)
		return;
	va_start(ap, fmt);
	fputs("vub_chan: ", ch->log);
	vfprintf(ch->log, fmt, ap);
	fputc('\n', ch->log);
	va_end(ap);
}

static int prep_cmd(struct io_uring *ring, int fd, uint32_t cmd_op,
		    const void *cmd, size_t len, uint64_t user_data)
{
	size_t area = (ring->flags & IORING_SETUP_SQE128) ? SQE_CMD_LEN_128 : SQE_CMD_LEN_64;
	size_t sqe_size = (ring->flags & IORING_SETUP_SQE128) ? 128 : 64;
	struct io_uring_sqe *sqe;

	if (len > area)
		return -EINVAL;
	sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return -EBUSY;
	}
	memset(sqe, 0, sqe_size);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = cmd_op;	/* aliases sqe->off: after prep_rw */
	if (len)
		memcpy(sqe->cmd, cmd, len);
	io_uring_sqe_set_data64(sqe, user_data);
	return 0;
}

int vub_chan_raw_submit(struct io_uring *ring, int fd, uint32_t cmd_op,
			const void *cmd, size_t len, uint64_t user_data)
{
	int ret = prep_cmd(ring, fd, cmd_op, cmd, len, user_data);

	if (ret)
		return ret;
	ret = io_uring_submit(ring);
	return ret < 0 ? ret : 0;
}

int vub_chan_raw_wait(struct io_uring *ring, int timeout_ms,
		      uint64_t *user_data, int32_t *res)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int ret;

	do {
		ret = timeout_ms < 0 ? io_uring_wait_cqe(ring, &cqe)
				     : io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	} while (ret == -EINTR);
	if (ret)
		return ret;
	if (user_data)
		*user_data = cqe->user_data;
	if (res)
		*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

int vub_chan_raw_cmd(struct io_uring *ring, int fd, uint32_t cmd_op,
		     const void *cmd, size_t len, int timeout_ms, int32_t *res)
{
	int ret = vub_chan_raw_submit(ring, fd, cmd_op, cmd, len, 0);

	return ret ? ret : vub_chan_raw_wait(ring, timeout_ms, NULL, res);
}

void *vub_chan_buf(const struct vub_chan *ch, uint32_t tag)
{
	return ch->bufs + (size_t)tag * ch->buf_len;
}

int vub_chan_open(struct vub_chan *ch, const char *path, uint32_t nr_tags)
{
	int ret;

	memset(ch, 0, sizeof(*ch));
	ch->fd = -1;
	ch->ring.ring_fd = -1;
	ch->log = stderr;
	if (!nr_tags || nr_tags > VUB_MAX_TAGS)
		return -EINVAL;
	ch->nr_tags = nr_tags;
	ch->buf_len = VUB_REQ_BUF_MIN;
	ch->bufs = mmap(NULL, nr_tags * ch->buf_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ch->bufs == MAP_FAILED) {
		ch->bufs = NULL;
		return -errno;
	}
	ch->fd = open(path ? path : "/dev/" VUB_CTRL_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (ch->fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = io_uring_queue_init(VUB_CHAN_RING_ENTRIES, &ch->ring, IORING_SETUP_SQE128);
	if (ret) {
		ch->ring.ring_fd = -1;
		goto fail;
	}
	return 0;
fail:
	vub_chan_close(ch);
	return ret;
}

int vub_chan_attach(struct vub_chan *ch, uint32_t version)
{
	struct vub_attach a = { .version = version, .nr_tags = ch->nr_tags,
				.flags = ch->attach_flags };
	uint64_t ud;
	int32_t res;
	int ret;

	ret = vub_chan_raw_submit(&ch->ring, ch->fd, VUB_U_CMD_ATTACH, &a,
				  sizeof(a), VUB_CHAN_UD_ATTACH);
	if (ret)
		return ret;
	do {
		ret = vub_chan_raw_wait(&ch->ring, VUB_CHAN_ATTACH_TIMEOUT_MS, &ud, &res);
		if (ret)
			return ret == -ETIME ? -ETIMEDOUT : ret;
	} while (ud != VUB_CHAN_UD_ATTACH);
	if (res > 0)
		ch->version = res;
	return res;
}

static int post_fetch(struct vub_chan *ch, uint32_t tag)
{
	struct vub_io_cmd cmd = {
		.tag = tag,
		.buf_addr = (uintptr_t)vub_chan_buf(ch, tag),
		.buf_len = ch->buf_len,
	};
	int ret = prep_cmd(&ch->ring, ch->fd, VUB_U_IO_FETCH, &cmd, sizeof(cmd), tag);

	if (!ret)
		ch->state[tag] = VUB_TAG_FETCH;
	return ret;
}

int vub_chan_fetch_all(struct vub_chan *ch)
{
	uint32_t tag;
	int ret;

	for (tag = 0; tag < ch->nr_tags; tag++) {
		ret = post_fetch(ch, tag);
		if (ret)
			return ret;
		ch->nr_live++;
	}
	ret = io_uring_submit(&ch->ring);
	return ret < 0 ? ret : 0;
}

int vub_chan_start(struct vub_chan *ch, const char *path, uint32_t nr_tags)
{
	int ret = vub_chan_open(ch, path, nr_tags);

	if (ret)
		return ret;
	ret = vub_chan_attach(ch, VUB_API_VERSION);
	if (ret > 0)
		ret = vub_chan_fetch_all(ch);
	else if (ret == 0)
		ret = -EPROTO;	/* version 0 is never negotiated */
	if (ret) {
		vub_chan_close(ch);
		return ret;
	}
	return ch->version;
}

void vub_chan_close(struct vub_chan *ch)
{
	/* Control fd first: detaching completes the parked FETCHes. */
	if (ch->fd >= 0)
		close(ch->fd);
	ch->fd = -1;
	if (ch->ring.ring_fd >= 0)
		io_uring_queue_exit(&ch->ring);
	ch->ring.ring_fd = -1;
	/* After the ring: a late write by the kernel faults, never corrupts. */
	if (ch->bufs)
		munmap(ch->bufs, ch->nr_tags * ch->buf_len);
	ch->bufs = NULL;
	ch->nr_live = 0;
	memset(ch->state, VUB_TAG_DEAD, sizeof(ch->state));
}

int vub_chan_decode(const void *buf, size_t buf_len, struct vub_chan_msg *m)
{
	const struct vub_req *r = buf;
	uint64_t fds_end = 0, pl_end;

	m->req = r;
	m->payload = NULL;
	m->fds = NULL;
	if (buf_len < sizeof(*r) || (uintptr_t)buf % 8)
		return -EBADMSG;
	/* The fd array first, so that its fds can be closed even when
	 * something else is wrong. */
	if (r->nr_fds > VUB_CHAN_MAX_FDS)
		return -EBADMSG;
	if (r->nr_fds) {
		fds_end = (uint64_t)r->fd_offset + r->nr_fds * sizeof(int);
		if (r->fd_offset < sizeof(*r) || r->fd_offset % sizeof(int) ||
		    fds_end > buf_len)
			return -EBADMSG;
		m->fds = (const int *)((const char *)buf + r->fd_offset);
	}
	if (r->hdr_len < sizeof(*r) || r->hdr_len % 8 || r->hdr_len > buf_len)
		return -EBADMSG;
	pl_end = (uint64_t)r->hdr_len + r->payload_len;
	if (pl_end > buf_len)
		return -EBADMSG;
	/* fds lie in the header's tail or after the payload, never in it */
	if (r->nr_fds && fds_end > r->hdr_len && r->fd_offset < pl_end)
		return -EBADMSG;
	/* the extension lies after the payload, 8-byte aligned, before fds */
	if (r->ext_len &&
	    (r->ext_offset < pl_end || r->ext_offset % 8 ||
	     (uint64_t)r->ext_offset + r->ext_len > buf_len ||
	     (r->nr_fds && r->fd_offset < (uint64_t)r->ext_offset + r->ext_len &&
	      fds_end > r->ext_offset)))
		return -EBADMSG;
	if (r->reply_len > VUB_REPLY_MAX)
		return -EBADMSG;
	m->payload = (const char *)buf + r->hdr_len;
	return 0;
}

int vub_chan_handle(const void *buf, size_t buf_len, vub_chan_handler *fn,
		    void *ctx, struct vub_io_cmd *cmd)
{
	int fds[VUB_CHAN_MAX_FDS];
	struct vub_chan_msg m;
	uint32_t i, nr_fds = 0, reply_len = 0;
	int err, ret;

	memset(cmd, 0, sizeof(*cmd));
	if (buf_len >= sizeof(struct vub_req))
		cmd->seq = ((const struct vub_req *)buf)->seq;
	err = vub_chan_decode(buf, buf_len, &m);
	if (m.fds) {
		nr_fds = m.req->nr_fds;
		memcpy(fds, m.fds, nr_fds * sizeof(int));
	}
	if (err) {
		ret = -EIO;
	} else {
		ret = fn(ctx, m.req, m.payload, fds, cmd->reply, &reply_len);
		if (ret > 0 || ret < -4095 || (ret == 0 && reply_len > VUB_REPLY_MAX))
			ret = -EIO;
	}
	for (i = 0; i < nr_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	cmd->result = ret;
	if (ret == 0)
		cmd->reply_len = reply_len;
	else
		memset(cmd->reply, 0, sizeof(cmd->reply));
	return err;
}

static void tag_end(struct vub_chan *ch, uint32_t tag)
{
	ch->state[tag] = VUB_TAG_DEAD;
	ch->nr_live--;
}

/* Handle the request in @tag's buffer and queue the answer, which also
 * re-arms the tag (COMMIT_AND_FETCH). */
static void answer(struct vub_chan *ch, uint32_t tag, vub_chan_handler *fn, void *ctx)
{
	void *buf = vub_chan_buf(ch, tag);
	struct vub_io_cmd cmd;

	if (vub_chan_handle(buf, ch->buf_len, fn, ctx, &cmd))
		chan_log(ch, "tag %u: malformed request header, answered EIO", tag);
	cmd.tag = tag;
	cmd.buf_addr = (uintptr_t)buf;
	cmd.buf_len = ch->buf_len;
	if (prep_cmd(&ch->ring, ch->fd, VUB_U_IO_COMMIT_AND_FETCH, &cmd,
		     sizeof(cmd), tag)) {
		chan_log(ch, "tag %u: no SQE for the answer, tag lost", tag);
		tag_end(ch, tag);
	} else {
		ch->state[tag] = VUB_TAG_COMMIT;
	}
}

int vub_chan_answer(struct vub_chan *ch, uint32_t tag, vub_chan_handler *fn, void *ctx)
{
	int ret;

	if (tag >= ch->nr_tags || ch->state[tag] != VUB_TAG_BUSY)
		return -EINVAL;
	answer(ch, tag, fn, ctx);
	ret = io_uring_submit(&ch->ring);
	return ret < 0 ? ret : 0;
}

/* One completion of a FETCH or COMMIT_AND_FETCH; returns requests handled. */
static int on_cqe(struct vub_chan *ch, uint64_t user_data, int32_t res,
		  vub_chan_handler *fn, void *ctx)
{
	uint32_t tag = (uint32_t)user_data;
	int prev;

	if (user_data >= ch->nr_tags) {
		chan_log(ch, "unexpected completion (user_data %#llx, res %d)",
			 (unsigned long long)user_data, res);
		return 0;
	}
	prev = ch->state[tag];
	if (res == 0) {
		if (prev == VUB_TAG_DEAD) {
			chan_log(ch, "tag %u: request on a tag thought dead", tag);
			ch->nr_live++;
		}
		if (ch->dispatch) {
			ch->state[tag] = VUB_TAG_BUSY;
			ch->dispatch(ch->dispatch_ctx, tag);
		} else {
			answer(ch, tag, fn, ctx);
		}
		return 1;
	}
	if (prev == VUB_TAG_DEAD) {
		chan_log(ch, "tag %u: completion %d on a dead tag", tag, res);
		return 0;
	}
	if (res == -ECANCELED) {	/* detached: the normal end */
		tag_end(ch, tag);
		return 0;
	}
	chan_log(ch, "tag %u: %s failed: %s", tag,
		 prev == VUB_TAG_COMMIT ? "COMMIT_AND_FETCH" : "FETCH",
		 res < 0 ? strerror(-res) : "positive result");
	/* A rejected answer ends the slot; re-arm it once with a plain FETCH. */
	if (prev == VUB_TAG_COMMIT && post_fetch(ch, tag) == 0)
		return 0;
	tag_end(ch, tag);
	return 0;
}

int vub_chan_step(struct vub_chan *ch, vub_chan_handler *fn, void *ctx,
		  int timeout_ms, const sigset_t *sigmask)
{
	struct __kernel_timespec ts, *tsp = NULL;
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	int ret, handled = 0;

	if (!ch->nr_live)
		return -ECANCELED;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	ret = io_uring_wait_cqes(&ch->ring, &cqe, 1, tsp, (sigset_t *)sigmask);
	if (ret == -ETIME)
		return 0;
	if (ret)
		return ret;
	io_uring_for_each_cqe(&ch->ring, head, cqe) {
		handled += on_cqe(ch, cqe->user_data, cqe->res, fn, ctx);
		seen++;
	}
	io_uring_cq_advance(&ch->ring, seen);
	ret = io_uring_submit(&ch->ring);
	if (ret < 0)
		return ret;
	if (!handled && !ch->nr_live)
		return -ECANCELED;
	return handled;
}

int vub_chan_run(struct vub_chan *ch, vub_chan_handler *fn, void *ctx,
		 const sigset_t *sigmask, volatile sig_atomic_t *stop)
{
	int ret;

	while (!*stop) {
		ret = vub_chan_step(ch, fn, ctx, -1, sigmask);
		if (ret < 0 && ret != -EINTR)
			return ret;
	}
	return 0;
}
