/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vu_frontend - a vhost-user front-end for one device (one connection).
 *
 * This is the role QEMU's hw/virtio/vhost-user.c plays, shaped for a caller
 * that speaks vhost-kernel semantics (the bridge daemon), or for a test that
 * plays the guest.  The caller sets state with vhost-kernel-like calls; the
 * front-end caches it and sends it to the back-end when and in the order that
 * back-ends expect (QEMU's order, which DPDK and others are tested against):
 *
 *  - connect: GET_FEATURES -> GET/SET_PROTOCOL_FEATURES -> [GET_QUEUE_NUM]
 *    -> [GET_MAX_MEM_SLOTS] -> [SET_BACKEND_REQ_FD].  Bit 30
 *    (PROTOCOL_FEATURES) and RING_RESET (40) are never shown to the caller;
 *    bit 30 is added back to SET_FEATURES when it was negotiated.
 *  - REPLY_ACK, when offered, is negotiated and set on every request that
 *    has no reply of its own, so a back-end's refusal becomes an errno.
 *    Without it a GET_FEATURES round trip serves as a barrier after
 *    requests whose failure matters.
 *  - Memory: adjacent regions of the same file are merged; <= 8 go in one
 *    SET_MEM_TABLE, or ADD/REM_MEM_REG diffs are sent when the back-end
 *    offers CONFIGURE_MEM_SLOTS (up to GET_MAX_MEM_SLOTS); -E2BIG otherwise.
 *  - A ring start replays the cached ring state in the canonical order
 *    NUM -> BASE -> ADDR -> KICK -> CALL [-> ERR] -> ENABLE, after FEATURES
 *    and MEM; it is deferred if those are not there yet (kvmtool sends
 *    FEATURES last).  A ring stop is GET_VRING_BASE, which in vhost-user
 *    *stops* the ring (DPDK: the whole device, and closes kick and call);
 *    the returned base is cached so that the next start resumes from it.
 *    Rings that stayed started are refreshed (CALL re-sent) when a stopped
 *    ring comes back: DPDK's vhost PMD forgets their queue state when the
 *    device goes down and only re-learns it from a ring state transition.
 *  - CALL and ERR changes are forwarded at once (VMMs swap CALL at run
 *    time, and send it before MEM_TABLE); KICK is only sent by a start.
 *  - With F_STATUS, SET_STATUS(ACK|DRIVER|FEATURES_OK) follows SET_FEATURES
 *    and DRIVER_OK is added once all `nr_rings` rings have been started
 *    (DPDK does not process rings before DRIVER_OK).
 *  - The back-end channel (BACKEND_REQ) is only negotiated on request, or
 *    when the back-end offers ACCESS_PLATFORM (its IOTLB misses come on
 *    it); its messages are then answered (config change, vring call/err,
 *    IOTLB through the caller's handler) or refused with a non-zero status
 *    (everything that would hand us an fd or memory).
 *  - IOTLB (vIOMMU): with ACCESS_PLATFORM offered and REPLY_ACK and
 *    BACKEND_REQ negotiated (QEMU's condition), IOTLB_MSG carries the
 *    caller's UPDATE and INVALIDATE, always with NEED_REPLY (DPDK answers
 *    only then); the back-end's misses go to the caller's handler.
 *
 * Errors: negative errno.  A failure of the connection itself (EOF, malformed
 * reply, timeout) leaves the front-end broken (-ENOTCONN afterwards); a
 * back-end refusal via REPLY_ACK does not.  vu_frontend_strerror() has the
 * last error's one-line explanation, which is also passed to the log hook.
 *
 * Not thread-safe: one caller at a time per front-end.
 */
#ifndef VUB_VU_FRONTEND_H
#define VUB_VU_FRONTEND_H

#include "vu_codec.h"
#include "vu_conn.h"

#include <stdbool.h>
#include <stdint.h>

#define VU_FRONTEND_MAX_RINGS	256	/* vring index is 8 bits on the wire */
#define VU_FRONTEND_MAX_REGIONS	512	/* memory slots tracked for ADD/REM */

/* Features never shown to the caller. */
#define VU_FRONTEND_HIDDEN_FEATURES	((1ull << VU_F_PROTOCOL_FEATURES) | \
				 (1ull << VU_F_RING_RESET))

/* Protocol features this front-end implements. */
#define VU_FRONTEND_PROTO_SUPPORTED					\
	((1ull << VU_PF_MQ) | (1ull << VU_PF_LOG_SHMFD) |	\
	 (1ull << VU_PF_RARP) | (1ull << VU_PF_REPLY_ACK) |	\
	 (1ull << VU_PF_MTU) | (1ull << VU_PF_BACKEND_REQ) |	\
	 (1ull << VU_PF_CONFIG) | (1ull << VU_PF_RESET_DEVICE) |	\
	 (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_STATUS))

/* Virtio device status bits. */
#define VU_FRONTEND_STATUS_ACKNOWLEDGE	0x01
#define VU_FRONTEND_STATUS_DRIVER	0x02
#define VU_FRONTEND_STATUS_DRIVER_OK	0x04
#define VU_FRONTEND_STATUS_FEATURES_OK	0x08

/* Special fd values for kick/call/err. */
#define VU_FRONTEND_FD_NONE		(-1)	/* unbind (kernel VHOST_FILE_UNBIND) */
#define VU_FRONTEND_FD_NOFD		(-2)	/* send NOFD: the back-end polls */

enum vu_frontend_flags {
	VU_FRONTEND_F_BACKEND_REQ	= 1u << 0, /* negotiate the back-end channel */
	VU_FRONTEND_F_NO_AUTO_ENABLE	= 1u << 1, /* no SET_VRING_ENABLE(1) at start */
	VU_FRONTEND_F_NO_AUTO_STATUS	= 1u << 2, /* no synthesized SET_STATUS */
};

struct vu_frontend_opts {
	uint64_t proto_mask;	/* 0 = VU_FRONTEND_PROTO_SUPPORTED */
	unsigned int nr_rings;	/* rings the device uses (for DRIVER_OK) */
	unsigned int flags;	/* enum vu_frontend_flags */
	int timeout_ms;		/* per reply; 0 = VU_CONN_DEFAULT_TIMEOUT_MS */
	void (*log)(void *opaque, const char *msg);	/* NULL: stderr */
	void *log_opaque;
};

/* One guest memory region, as the caller knows it. */
struct vu_frontend_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;		/* front-end (VMM) virtual address */
	uint64_t fd_offset;	/* offset of `gpa` in the file */
	int fd;			/* borrowed; the front-end dups what it keeps */
	/* File identity for merging; filled with fstat() when both are 0. */
	uint64_t file_dev;
	uint64_t file_ino;
};

/* Transport hook: the default sends over a vu_conn; tests plug a mock. */
struct vu_frontend_transport {
	int (*call)(void *opaque, const struct vu_msg *req,
		    struct vu_msg *reply, uint64_t proto, struct vu_err *err);
	void *opaque;
};

enum vu_frontend_ring_have {
	VU_FRONTEND_RING_NUM	= 1u << 0,
	VU_FRONTEND_RING_ADDR	= 1u << 1,
	VU_FRONTEND_RING_BASE	= 1u << 2,
	VU_FRONTEND_RING_KICK	= 1u << 3,
	VU_FRONTEND_RING_CALL	= 1u << 4,
	VU_FRONTEND_RING_ERR	= 1u << 5,
};

struct vu_frontend_ring {
	uint32_t num;
	uint32_t base;		/* where the next start resumes */
	struct vu_vring_addr addr;
	int kick_fd;		/* owned dup, or VU_FRONTEND_FD_NONE/NOFD */
	int call_fd;
	int err_fd;
	unsigned int have;	/* enum vu_frontend_ring_have */
	bool want_started;	/* caller asked; may wait for FEATURES/MEM */
	bool started;		/* KICK sent since the last GET_VRING_BASE */
	bool stale;		/* still started, but another ring was stopped:
				 * DPDK tore the whole device down and must be
				 * told again about this ring (CALL re-sent) */
	bool enable;		/* wanted SET_VRING_ENABLE state */
	bool enabled;		/* SET_VRING_ENABLE(1) last sent */
};

struct vu_frontend_slot {
	struct vu_frontend_region r;	/* r.fd is an owned dup */
};

struct vu_frontend {
	struct vu_frontend_opts opts;
	struct vu_frontend_transport t;
	struct vu_conn conn;
	bool connected;
	bool broken;

	uint64_t backend_features;	/* GET_FEATURES, raw */
	uint64_t backend_proto;		/* GET_PROTOCOL_FEATURES, raw */
	uint64_t proto;			/* negotiated protocol features */
	bool has_proto;			/* bit 30 negotiated */
	uint64_t queue_num;		/* GET_QUEUE_NUM, 0 if unknown */
	uint64_t max_mem_slots;		/* GET_MAX_MEM_SLOTS, 0 if unknown */

	uint64_t features;		/* as set by the caller */
	bool features_set;		/* caller called set_features */
	bool features_sent;
	bool owner_sent;
	bool replay_owner;		/* owned before a reconnect */
	uint8_t status;			/* last status sent */

	/* memory: `mem` is what the caller wants, `installed` what the
	 * back-end has (ADD/REM shadow, or the last SET_MEM_TABLE) */
	struct vu_frontend_slot mem[VU_FRONTEND_MAX_REGIONS];
	unsigned int nmem;
	bool mem_set;
	bool mem_sent;
	struct vu_frontend_slot installed[VU_FRONTEND_MAX_REGIONS];
	unsigned int ninstalled;

	struct vu_frontend_ring ring[VU_FRONTEND_MAX_RINGS];

	/* dirty log (SET_LOG_BASE): an owned dup, replayed after a reconnect */
	int log_fd;			/* -1: none */
	uint64_t log_size;
	uint64_t log_offset;

	int backend_fd;			/* our end of BACKEND_REQ, or -1 */
	struct vu_conn backend_conn;
	/* the back-end's IOTLB requests (vu_frontend_set_iotlb_handler) */
	int (*iotlb_fn)(void *opaque, const struct vu_iotlb *m);
	void *iotlb_opaque;

	struct vu_err err;		/* last error */
	/* counters for tests and statistics */
	unsigned long nr_sent;
	unsigned long nr_backend_reqs;
	unsigned long nr_iotlb_msgs;		/* IOTLB_MSG sent and acked */
	unsigned long nr_backend_iotlb;		/* BACKEND_IOTLB_MSG received */
	unsigned long nr_mem_table_msgs;
	unsigned long nr_add_mem_reg;
	unsigned long nr_rem_mem_reg;
};

/* --- life cycle ------------------------------------------------------- */
struct vu_frontend *vu_frontend_new(const struct vu_frontend_opts *opts);
void vu_frontend_free(struct vu_frontend *fe);

/* Connect to a back-end listening on `path` and run the handshake. */
int vu_frontend_connect(struct vu_frontend *fe, const char *path);
/* Same on an already connected socket (ownership passes to fe). */
int vu_frontend_connect_fd(struct vu_frontend *fe, int fd);
/* Same over a custom transport (unit tests). */
int vu_frontend_connect_transport(struct vu_frontend *fe,
				   const struct vu_frontend_transport *t);
/*
 * Take over a connection that another front-end (a daemon that died) set
 * up and left in the kernel's fd store: no handshake, no message; the
 * caller restores what was negotiated and sent (vub_dev_state_restore).
 * Ownership of @fd passes to fe.
 */
void vu_frontend_adopt_fd(struct vu_frontend *fe, int fd);
/* Close the connection and drop every cached fd. */
void vu_frontend_close(struct vu_frontend *fe);

const char *vu_frontend_strerror(const struct vu_frontend *fe);
/* Where the front-end explains its failures from now on (opts.log). */
void vu_frontend_set_log(struct vu_frontend *fe,
			  void (*log)(void *opaque, const char *msg), void *opaque);

/*
 * Reconnecting.  After the connection failed, vu_frontend_disconnect()
 * closes it but keeps what the caller set up (owner, features, memory, rings
 * and their files); the caller connects again (vu_frontend_connect*) and
 * vu_frontend_replay() brings the new back-end to that state, each ring
 * that was started resuming at the used index the guest's ring shows (read
 * from guest memory: a back-end that restarted lost its own), and kicks it.
 * Descriptors the old back-end had taken but not yet used are processed
 * again.  Returns 0 or -errno (the front-end stays broken).
 */
void vu_frontend_disconnect(struct vu_frontend *fe);
int vu_frontend_replay(struct vu_frontend *fe);
/* Write each ring's err eventfd (the VMM's VHOST_SET_VRING_ERR). */
void vu_frontend_signal_err(const struct vu_frontend *fe);
/* State the caller may look at: the back-end's GET_FEATURES (raw), whether
 * PROTOCOL_FEATURES was negotiated, the features last set (false: none), a
 * ring's started state and the settings it has (enum vu_frontend_ring_have; an
 * index out of range has none). */
uint64_t vu_frontend_backend_features(const struct vu_frontend *fe);
bool vu_frontend_has_protocol_features(const struct vu_frontend *fe);
bool vu_frontend_features(const struct vu_frontend *fe, uint64_t *features);
bool vu_frontend_ring_started(const struct vu_frontend *fe, unsigned int idx);
bool vu_frontend_any_ring_started(const struct vu_frontend *fe);
unsigned int vu_frontend_ring_have(const struct vu_frontend *fe, unsigned int idx);
/* The connected socket, to watch while idle; -1 when not connected. */
int vu_frontend_conn_fd(const struct vu_frontend *fe);
bool vu_frontend_broken(const struct vu_frontend *fe);

/* --- device-level ----------------------------------------------------- */
int vu_frontend_set_owner(struct vu_frontend *fe);
/* Back-end features with the hidden bits cleared (cached at connect). */
int vu_frontend_get_features(struct vu_frontend *fe, uint64_t *features);
/* -EOPNOTSUPP for bits the back-end did not offer or that are hidden. */
int vu_frontend_set_features(struct vu_frontend *fe, uint64_t features);
uint64_t vu_frontend_protocol_features(const struct vu_frontend *fe);
/* GET_QUEUE_NUM result, 0 when MQ was not negotiated. */
uint64_t vu_frontend_queue_num(const struct vu_frontend *fe);
/* Memory slots available: GET_MAX_MEM_SLOTS or 8. */
unsigned int vu_frontend_mem_slots(const struct vu_frontend *fe);

/*
 * Replace the memory table.  Regions are merged and checked for overlap;
 * -E2BIG (with an explanation) when they cannot fit.  Sent at once if the
 * features were sent, otherwise right after them.
 */
int vu_frontend_set_mem_table(struct vu_frontend *fe,
			       const struct vu_frontend_region *regions,
			       unsigned int n);

/* With F_STATUS: send a status (VU_FRONTEND_STATUS_*) / read the back-end's. */
int vu_frontend_set_status(struct vu_frontend *fe, uint8_t status);
int vu_frontend_get_status(struct vu_frontend *fe, uint8_t *status);

/*
 * Dirty log (needs LOG_SHMFD): SET_LOG_BASE with @fd (dup'ed and kept, so
 * that a reconnect sends it again), @size bytes of log at @offset in it.
 * SET_LOG_FD with an eventfd the back-end may signal when it logged.
 */
int vu_frontend_set_log_base(struct vu_frontend *fe, int fd, uint64_t size,
			      uint64_t offset);
int vu_frontend_set_log_fd(struct vu_frontend *fe, int fd);
int vu_frontend_get_config(struct vu_frontend *fe, uint32_t offset,
			    void *buf, uint32_t size);
int vu_frontend_set_config(struct vu_frontend *fe, uint32_t offset,
			    const void *buf, uint32_t size, uint32_t flags);
int vu_frontend_net_set_mtu(struct vu_frontend *fe, uint16_t mtu);
int vu_frontend_send_rarp(struct vu_frontend *fe, const uint8_t mac[6]);

/* Stop every ring, then RESET_DEVICE if negotiated; caches are dropped
 * except features and memory. */
int vu_frontend_reset_device(struct vu_frontend *fe);

/* --- rings ------------------------------------------------------------ */
/* NUM/BASE/ADDR: -EBUSY while the ring is started (as the kernel). */
int vu_frontend_set_vring_num(struct vu_frontend *fe, unsigned int idx,
			       uint32_t num);
int vu_frontend_set_vring_base(struct vu_frontend *fe, unsigned int idx,
				uint32_t base);
int vu_frontend_set_vring_addr(struct vu_frontend *fe,
				const struct vu_vring_addr *addr);
/* fd >= 0 (dup'ed), VU_FRONTEND_FD_NONE or VU_FRONTEND_FD_NOFD. */
int vu_frontend_set_vring_kick(struct vu_frontend *fe, unsigned int idx,
				int fd);
int vu_frontend_set_vring_call(struct vu_frontend *fe, unsigned int idx,
				int fd);
int vu_frontend_set_vring_err(struct vu_frontend *fe, unsigned int idx,
			       int fd);
int vu_frontend_set_vring_enable(struct vu_frontend *fe, unsigned int idx,
				  bool enable);

/* Start (or schedule the start of) a ring from its cached state. */
int vu_frontend_start_vring(struct vu_frontend *fe, unsigned int idx);
/* GET_VRING_BASE: stop the ring, return and cache its base. */
int vu_frontend_stop_vring(struct vu_frontend *fe, unsigned int idx,
			    uint32_t *base);
/*
 * A started ring that another ring's stop made stale (DPDK tore the whole
 * device down) is announced again now (its CALL re-sent) rather than at the
 * next start of a stopped ring; nothing for any other ring.
 */
int vu_frontend_refresh_vring(struct vu_frontend *fe, unsigned int idx);
/* Drop everything cached for a ring that is not started (its fds closed),
 * without a message: the next user of this index starts from scratch. */
void vu_frontend_forget_vring(struct vu_frontend *fe, unsigned int idx);
/* Cached base (what GET_VRING_BASE returned last, or what was set). */
int vu_frontend_vring_base(const struct vu_frontend *fe, unsigned int idx,
			    uint32_t *base);

/* --- back-end channel ------------------------------------------------- */
/* Our end of the BACKEND_REQ socket to poll, or -1. */
int vu_frontend_backend_fd(const struct vu_frontend *fe);
/* Read and answer one back-end request.  Returns the request id handled,
 * 0 if nothing was pending, or a negative errno (channel closed). */
int vu_frontend_handle_backend(struct vu_frontend *fe);
/*
 * Who gets the back-end's IOTLB requests (a miss, an access failure): @fn
 * returns 0 when it took it (status 0 to the back-end if it asked), else
 * -errno (status 1).  NULL: refused.
 */
void vu_frontend_set_iotlb_handler(struct vu_frontend *fe,
				   int (*fn)(void *opaque, const struct vu_iotlb *m),
				   void *opaque);

/* --- IOTLB ------------------------------------------------------------ */
/* The back-end can take IOTLB messages: ACCESS_PLATFORM offered, REPLY_ACK
 * and BACKEND_REQ negotiated, the back-end channel open. */
bool vu_frontend_has_iotlb(const struct vu_frontend *fe);
/* IOTLB_MSG (UPDATE or INVALIDATE): 0, -EOPNOTSUPP without IOTLB, -EFAULT
 * when the back-end refuses it (non-zero status), or a connection error. */
int vu_frontend_iotlb_msg(struct vu_frontend *fe, const struct vu_iotlb *m);

/* --- pure helpers, exposed for tests ---------------------------------- */
/*
 * Sort by gpa, reject overlaps (in gpa or uaddr) and empty regions, merge
 * neighbours contiguous in gpa, uaddr and file offset of the same file.
 * In place; *n is updated.
 */
int vu_frontend_mem_merge(struct vu_frontend_region *r, unsigned int *n,
		  struct vu_err *err);
/*
 * Which installed slots to remove and which new regions to add to go from
 * `have` to `want` (exact matches stay).  rem/add receive indices.
 */
void vu_frontend_mem_diff(const struct vu_frontend_slot *have, unsigned int nhave,
		  const struct vu_frontend_region *want, unsigned int nwant,
		  unsigned int *rem, unsigned int *nrem,
		  unsigned int *add, unsigned int *nadd);

#endif /* VUB_VU_FRONTEND_H */
