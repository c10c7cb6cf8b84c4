/* SPDX-License-Identifier: GPL-2.0 */
/*
 * testd: the test daemon, a forked child serving the bridge with vub_chan.
 *
 * It records every request it receives (op, device, ioctl, sizes, payload
 * bytes, what its fds are) in a MAP_SHARED log the parent reads, and answers
 * deterministically:
 *   VHOST_GET_FEATURES          -> TD_FEATURES
 *   VHOST_GET_BACKEND_FEATURES  -> TD_BACKEND_FEATURES
 *   VHOST_GET_VRING_*           -> { index, td_vring_num(ioctl, index) }
 *   VHOST_SET_VRING_KICK        keeps the kick fd (takes it over)
 *   VHOST_SET_VRING_CALL        reads the kept kick fd into the entry's
 *                               kick_value (-1 if nothing), writes 9 to the
 *                               call fd
 *   anything else               0 (VUB_OP_OPEN and VUB_OP_RELEASE too)
 * unless the parent asked for a failure (fail_ioctl/fail_errno) or a
 * malformed reply (bad_reply_ioctl) through the shared page.
 *
 * A TD_SERVE daemon answers one request at a time, each after delay_ms (0:
 * at once), which the parent may change at any time: a slow daemon.  While
 * hold is set it answers nothing (it has logged the request it holds).
 *
 * TD_SILENT daemons attach and take requests but never answer; they log
 * what arrived, and close the control fd when close_now is set.
 */
#ifndef VUB_TESTD_H
#define VUB_TESTD_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/vhost.h>
#include <linux/vhost_user_bridge.h>

#define TD_LOG_CAP	128
#define TD_PAYLOAD_MAX	4096	/* a 64-region SET_MEM_TABLE is 2056 */
#define TD_EXT_MAX	4096	/* 102 memory pieces */
#define TD_FDS_MAX	8	/* fds whose inode is recorded */
#define TD_FEATURES	0x0123456789abcdefULL
#define TD_BACKEND_FEATURES 0x5ULL
#define TD_ATTACH_RETRY_MS 10000	/* a previous daemon may still be detaching */

struct td_entry {
	uint16_t op;
	uint32_t dev_id;
	uint32_t instance_id;
	uint64_t seq;
	uint32_t ioctl;
	uint32_t payload_len;
	uint32_t reply_len;
	uint32_t nr_fds;
	uint32_t vmm_pid;
	int fd_cloexec;		/* fds[0] had FD_CLOEXEC */
	uint64_t fd_ino;	/* fstat(fds[0]).st_ino */
	char fd_link[64];	/* readlink of /proc/self/fd/<fds[0]> */
	int64_t kick_value;	/* VHOST_SET_VRING_CALL only */
	uint64_t fd_inos[TD_FDS_MAX];	/* fstat(fds[i]).st_ino */
	/* VHOST_SET_LOG_BASE: what mapping the log file as DPDK does gave
	 * (0 or errno; the daemon then set the log's first and last bit), and
	 * a private mapping and one a page beyond the log (errnos) */
	int log_map_err, log_private_err, log_beyond_err;
	uint32_t ext_len;
	uint8_t ext[TD_EXT_MAX];	/* the request's extension */
	uint8_t payload[TD_PAYLOAD_MAX];
};

struct td_shared {
	_Atomic uint32_t n;		/* entries published; entry i at log[i % CAP] */
	_Atomic uint32_t nr_release;
	_Atomic uint32_t fail_ioctl;	/* answer this ioctl with -fail_errno */
	_Atomic int32_t fail_errno;
	_Atomic uint32_t bad_reply_ioctl; /* answer this ioctl with a wrong reply_len */
	_Atomic int close_now;		/* TD_SILENT: close the control fd */
	_Atomic int closed;
	_Atomic uint32_t delay_ms;	/* TD_SERVE: sleep before each answer */
	_Atomic int hold;		/* TD_SERVE: do not answer while set */
	struct td_entry log[TD_LOG_CAP];
};

enum td_mode { TD_SERVE, TD_SILENT };

struct td {
	pid_t pid;
	struct td_shared *sh;
};

/* Fork the daemon; returns the negotiated version (>= 1) or -errno. */
int td_start(struct td *td, enum td_mode mode, uint32_t nr_tags);
/* SIGKILL it, reap it, unmap the log.  Idempotent. */
void td_stop(struct td *td);

uint32_t td_count(const struct td *td);
/* First entry with index >= from matching op, ioctl (ignored for RELEASE)
 * and dev_id (0: any); waits up to timeout_ms for it.  NULL if none. */
const struct td_entry *td_wait(const struct td *td, uint32_t from, uint16_t op,
			       uint32_t ioctl, uint32_t dev_id, int timeout_ms);

static inline uint32_t td_vring_num(uint32_t ioctl, uint32_t index)
{
	switch (ioctl) {
	case VHOST_GET_VRING_BASE:
		return index * 1000 + 7;
	case VHOST_GET_VRING_ENDIAN:
		return index % 2;
	default:	/* VHOST_GET_VRING_BUSYLOOP_TIMEOUT */
		return index * 10 + 3;
	}
}

#endif /* VUB_TESTD_H */
