/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vu_conn - one vhost-user unix-socket connection.
 *
 * Sends a message (header + payload) with its fds in ONE sendmsg (back-ends
 * take the fds from the recvmsg of the header)
 * and receives one with its fds.  Every received message is checked by
 * vu_codec before it is returned; on any failure all fds that arrived with it
 * are closed, so a hostile or broken peer cannot make us leak descriptors.
 * A connection on which a framing error happened is poisoned: every later call
 * fails with -EPIPE, since the byte stream can no longer be trusted.
 *
 * Nothing blocks: sockets are used with MSG_DONTWAIT and every wait goes
 * through vub_co_wait(), so in bridged's coroutines (vub_co.h) a wait hands
 * the thread back to the event loop and ends at the request's deadline at
 * the latest; elsewhere it is a poll() bounded by timeout_ms.
 */
#ifndef VUB_VU_CONN_H
#define VUB_VU_CONN_H

#include "vu_codec.h"

struct vu_conn {
	int fd;			/* -1 when closed */
	int timeout_ms;		/* per wait; < 0 = until the deadline */
	int broken;		/* framing lost; the caller must close */
};

#define VU_CONN_DEFAULT_TIMEOUT_MS	10000

/* Connect to a listening back-end (client mode); a full listen queue is
 * retried until the default timeout or the request's deadline. */
int vu_conn_connect(struct vu_conn *c, const char *path, struct vu_err *err);
/* Adopt an already connected socket (ownership passes to c). */
void vu_conn_adopt(struct vu_conn *c, int fd);
void vu_conn_close(struct vu_conn *c);

/* Encode, then one sendmsg with SCM_RIGHTS.  The fds stay owned by the
 * caller. */
int vu_conn_send(struct vu_conn *c, enum vu_chan chan, const struct vu_msg *m,
		 struct vu_err *err);

/*
 * Receive one message: header, payload (exactly `size` bytes) and up to
 * VU_MAX_FDS fds.  EOF before a full message, a payload over the maximum,
 * a truncated control message or fds after the header are errors.  The
 * message is not otherwise interpreted; use vu_check_request/vu_check_reply.
 * On success the caller owns m->fds.
 */
int vu_conn_recv(struct vu_conn *c, struct vu_msg *m, struct vu_err *err);

/*
 * Send `req` and, if it expects a reply (see vu_expects_reply with the
 * negotiated protocol features `proto`), receive and validate the reply.
 * Returns 0 with *reply filled (reply->size == 0 and no reply when none was
 * expected), or a negative errno; on error no fd is left open in *reply.
 */
int vu_conn_call(struct vu_conn *c, const struct vu_msg *req,
		 struct vu_msg *reply, uint64_t proto, struct vu_err *err);

/* Close every fd in m and set nfds to 0. */
void vu_msg_close_fds(struct vu_msg *m);

#endif /* VUB_VU_CONN_H */
