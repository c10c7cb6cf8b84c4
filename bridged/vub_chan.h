/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_chan: the daemon's end of the vhost-user-bridge control channel
 * (uapi/linux/vhost_user_bridge.h), on liburing.
 *
 *   struct vub_chan ch;
 *   vub_chan_start(&ch, NULL, nr_tags);        open, ATTACH, FETCH every tag
 *   while (!stop)
 *           vub_chan_step(&ch, handler, ctx, -1, &waitmask);
 *   vub_chan_close(&ch);                        detaches
 *
 * For every request the kernel writes into a tag's buffer, vub_chan_step()
 * validates the header, calls the handler once and answers with
 * COMMIT_AND_FETCH on the same tag, which also re-arms the slot.
 *
 * File descriptors (the one ownership rule): on entry to the handler,
 * fds[0..req->nr_fds-1] are descriptors the kernel installed in this process
 * for the request.  A handler that wants to keep one stores -1 into its slot
 * and then owns it (must close it).  When the handler returns, the library
 * closes every slot that is still >= 0.  So a handler that ignores fds leaks
 * nothing, and a handler never closes an fd it did not take.
 *
 * Replies: reply points to VUB_REPLY_MAX zeroed bytes and *reply_len is 0 on
 * entry.  A handler answering a GET ioctl writes the reply and sets
 * *reply_len to req->reply_len; a mismatch is passed to the kernel unchanged
 * (which fails the VMM's ioctl with EIO), so it is never silently "fixed".
 * The handler returns 0 or a negative errno; on a negative result the reply
 * is dropped (reply_len 0, as the uapi requires).  A positive return or a
 * *reply_len above VUB_REPLY_MAX is a handler bug and answered with -EIO.
 */
#ifndef VUB_CHAN_H
#define VUB_CHAN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <liburing.h>
#include <linux/vhost_user_bridge.h>

/* Most fds one request may carry: one per memory piece. */
#define VUB_CHAN_MAX_FDS	VUB_MAX_MEM_PIECES

/* user_data of the ATTACH command; FETCH/COMMIT use user_data == tag.
 * (Not UINT64_MAX: liburing reserves that for its internal timeouts.) */
#define VUB_CHAN_UD_ATTACH	(1ULL << 32)

typedef int vub_chan_handler(void *ctx, const struct vub_req *req,
			     const void *payload, int *fds,
			     void *reply, uint32_t *reply_len);

enum vub_tag_state {
	VUB_TAG_DEAD = 0,	/* not posted: never, or ended by a CQE */
	VUB_TAG_FETCH,		/* FETCH in flight */
	VUB_TAG_COMMIT,		/* COMMIT_AND_FETCH in flight */
	VUB_TAG_BUSY,		/* handed to ->dispatch, not answered yet */
};

struct vub_chan {
	int fd;			/* control node; closing it detaches */
	struct io_uring ring;	/* SQE128 */
	uint32_t nr_tags;
	uint32_t version;	/* negotiated by ATTACH, 0 before */
	uint32_t attach_flags;	/* VUB_ATTACH_F_*, set between open and attach */
	uint32_t nr_live;	/* tags with a command in flight */
	size_t buf_len;		/* per tag, VUB_REQ_BUF_MIN */
	unsigned char *bufs;	/* nr_tags * buf_len, page aligned (mmap) */
	uint8_t state[VUB_MAX_TAGS];
	FILE *log;		/* channel diagnostics; stderr by default, NULL: quiet */
	/* Asynchronous answers: when set, vub_chan_step() hands each request's
	 * tag to dispatch() instead of calling its handler, and the daemon
	 * answers later with vub_chan_answer(). */
	void (*dispatch)(void *ctx, uint32_t tag);
	void *dispatch_ctx;
};

/* A decoded request: pointers into the tag's buffer. */
struct vub_chan_msg {
	const struct vub_req *req;
	const void *payload;	/* req->payload_len bytes */
	const int *fds;		/* req->nr_fds descriptors */
};

/* The kernel's extension of a request that vub_chan_decode() accepted
 * (struct vub_mem_piece[] for VHOST_SET_MEM_TABLE), or NULL. */
static inline const void *vub_chan_ext(const struct vub_req *req)
{
	return req->ext_len ? (const char *)req + req->ext_offset : NULL;
}

/* Open @path (NULL: /dev/vhost-user-bridge-control), set up the ring and
 * nr_tags buffers.  Returns 0 or -errno; on error nothing is left open. */
int vub_chan_open(struct vub_chan *ch, const char *path, uint32_t nr_tags);
/* ATTACH with @version.  Returns the negotiated version (>= 1) or -errno. */
int vub_chan_attach(struct vub_chan *ch, uint32_t version);
/* Post FETCH for every tag.  Returns 0 or -errno (errors of individual
 * FETCHes arrive later as CQEs and end that tag). */
int vub_chan_fetch_all(struct vub_chan *ch);
/* open + attach(VUB_API_VERSION) + fetch_all.  Returns the negotiated
 * version (>= 1) or -errno, having closed everything. */
int vub_chan_start(struct vub_chan *ch, const char *path, uint32_t nr_tags);

/*
 * Wait up to @timeout_ms (-1: forever) for completions, with @sigmask (NULL:
 * the current one) in force while waiting, handle every request that
 * arrived and submit the answers.  Returns the number of requests handled
 * (0 on timeout), -EINTR when a signal arrived, -ECANCELED once no tag is
 * left (the bridge was detached), or another -errno.
 */
int vub_chan_step(struct vub_chan *ch, vub_chan_handler *fn, void *ctx,
		  int timeout_ms, const sigset_t *sigmask);
/* Answer the request that dispatch() got for @tag: decode, call @fn (as
 * vub_chan_step() would) and submit the answer.  Returns 0 or -errno. */
int vub_chan_answer(struct vub_chan *ch, uint32_t tag, vub_chan_handler *fn, void *ctx);
/* vub_chan_step() until *stop is set (returns 0) or it fails (returns that). */
int vub_chan_run(struct vub_chan *ch, vub_chan_handler *fn, void *ctx,
		 const sigset_t *sigmask, volatile sig_atomic_t *stop);
/* Close the control node (detach), the ring and the buffers.  Idempotent. */
void vub_chan_close(struct vub_chan *ch);

void *vub_chan_buf(const struct vub_chan *ch, uint32_t tag);

/*
 * Pure helpers, exposed for unit tests.
 *
 * vub_chan_decode: validate the header the kernel wrote into a buffer of
 * @buf_len (>= sizeof(struct vub_req)) bytes: hdr_len, payload and fd array
 * inside the buffer, aligned, not overlapping, nr_fds and reply_len within
 * limits.  Returns 0 or -EBADMSG.  On -EBADMSG, m->fds is still set when the
 * fd array itself was valid (so its descriptors can be closed), else NULL.
 */
int vub_chan_decode(const void *buf, size_t buf_len, struct vub_chan_msg *m);
/*
 * vub_chan_handle: decode, call @fn, close the fds it did not take and fill
 * @cmd's seq/result/reply_len/reply (tag and buffer are the caller's).
 * A malformed request is answered -EIO without calling @fn.  Returns 0 or
 * the decode error.
 */
int vub_chan_handle(const void *buf, size_t buf_len, vub_chan_handler *fn,
		    void *ctx, struct vub_io_cmd *cmd);

/*
 * Raw access, for tests that send malformed commands.  @len bytes of @cmd
 * are copied into the SQE's command area (the rest is zeroed); at most 80
 * with IORING_SETUP_SQE128, 16 without.  vub_chan_raw_wait returns 0 with
 * the next CQE's user_data and res, or -ETIME after @timeout_ms (-1: never).
 */
int vub_chan_raw_submit(struct io_uring *ring, int fd, uint32_t cmd_op,
			const void *cmd, size_t len, uint64_t user_data);
int vub_chan_raw_wait(struct io_uring *ring, int timeout_ms,
		      uint64_t *user_data, int32_t *res);
/* Submit and wait for the next CQE: 0 with *res, or -errno/-ETIME. */
int vub_chan_raw_cmd(struct io_uring *ring, int fd, uint32_t cmd_op,
		     const void *cmd, size_t len, int timeout_ms, int32_t *res);

#endif /* VUB_CHAN_H */
