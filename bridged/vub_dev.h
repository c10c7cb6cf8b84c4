/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_dev: one VMM device (one open of /dev/vhost-user-bridge) served with
 * vhost-net semantics over one vhost-user connection (vu_frontend).
 *
 * The daemon's main loop hands every forwarded ioctl of a device to
 * vub_dev_ioctl(), which answers it as vhost-net would, translating into
 * vu_frontend calls (Documentation/ioctl-map.rst has the table):
 *
 *   - the connection to the back-end is made at the device's first request
 *     (and again after VHOST_RESET_OWNER); a failed connect or handshake is
 *     ECONNREFUSED and is retried by the next request;
 *   - features: the back-end's, within the vhost-net personality's allowlist
 *     (VUB_NET_FEATURES); bit 30 and RING_RESET are never shown;
 *   - VHOST_NET_SET_BACKEND fd >= 0 starts ring idx, -1 stops it; the tap fd
 *     carries no traffic, but tells which offloads the VMM agreed on with its
 *     guest (vub_tap.h): those the back-end offers are added to the
 *     back-end's SET_FEATURES before the first ring starts, and those it
 *     lacks are logged and reported; a multiqueue tap also tells which NIC
 *     the device is a queue pair of:
 *     the devices of one NIC share one connection, pair k on rings 2k and
 *     2k+1 (vub_nic.h);
 *     and the daemon sends the RARPs the VMM writes into that tap to the
 *     back-end (vub_dev_send_rarp, vub_rarp.h);
 *   - VHOST_GET_VRING_BASE returns the back-end's value: the base cached when
 *     the ring stopped, or stop + read + restart while it runs;
 *   - endian ioctls: ENOTTY (vhost without CROSS_ENDIAN_LEGACY, as Debian
 *     builds it); busyloop timeout: stored and returned; dirty log: the
 *     kernel's log file (the VMM's pinned log) goes to the back-end with
 *     SET_LOG_BASE, VHOST_VRING_F_LOG passes through; backend features: 0;
 *   - a back-end refusal is the ioctl's errno; once the connection itself
 *     fails, every ioctl that needs the back-end is ENOTCONN until the VMM
 *     closes the device or issues VHOST_RESET_OWNER.
 *
 * The kernel has already checked ownership (EPERM), ring indices (ENOBUFS,
 * only 0 = rx and 1 = tx arrive), eventfds and memory (pieces of shared
 * files); the checks are repeated here only where they are cheap.
 */
#ifndef VUB_DEV_H
#define VUB_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhost.h>
#include <linux/vhost_user_bridge.h>

#include "vu_frontend.h"
#include "vub_nic.h"
#include "vub_state.h"
#include "vub_tap.h"
#include "vub_vhost.h"

/* Until the uapi header defines it: most pieces one SET_MEM_TABLE carries. */
#ifndef VUB_MAX_MEM_PIECES
#define VUB_MAX_MEM_PIECES	512
#endif

/* vhost-net has two rings per device: 0 = rx, 1 = tx. */
#define VUB_NET_RINGS		2

/*
 * The features GET_FEATURES may show: vhost-net's VHOST_NET_FEATURES
 * (MRG_RXBUF 15, NOTIFY_ON_EMPTY 24, ANY_LAYOUT = VHOST_NET_F_VIRTIO_NET_HDR
 * 27, INDIRECT_DESC 28, EVENT_IDX 29, VERSION_1 32), without
 *   RING_RESET (40)      DPDK stops the whole device on a one-ring stop.
 * Each bit is shown only if the back-end offers it.  LOG_ALL (26) is added
 * when the back-end offers it and the protocol feature LOG_SHMFD
 * (vub_dev_log_features): the dirty log is then shared with it.
 * ACCESS_PLATFORM (33) is added when the back-end offers it and REPLY_ACK
 * and BACKEND_REQ were negotiated (vub_dev_iommu_features): the VMM's IOTLB
 * messages are then forwarded, the back-end's misses passed up.
 */
#define VUB_NET_FEATURES	((1ull << 15) | (1ull << 24) | (1ull << 27) | \
				 (1ull << 28) | (1ull << 29) | (1ull << 32))

/*
 * virtio-net offloads.  Guest -> back-end (the back-end finishes partial
 * checksums and segments GSO frames): CSUM 0, HOST_TSO4 11, HOST_TSO6 12,
 * HOST_ECN 13, HOST_UFO 14, HOST_USO 56.  Back-end -> guest (the guest takes
 * them): GUEST_CSUM 1, GUEST_TSO4 7, GUEST_TSO6 8, GUEST_ECN 9, GUEST_UFO 10,
 * GUEST_USO4 54, GUEST_USO6 55.  None is in VUB_NET_FEATURES: a VMM on
 * vhost-kernel negotiates them with the tap, never with vhost.
 */
#define VUB_OFFLOADS_HOST	((1ull << 0) | (1ull << 11) | (1ull << 12) | \
				 (1ull << 13) | (1ull << 14) | (1ull << 56))
#define VUB_OFFLOADS_GUEST	((1ull << 1) | (1ull << 7) | (1ull << 8) | \
				 (1ull << 9) | (1ull << 10) | (1ull << 54) | \
				 (1ull << 55))

struct vub_dev_cfg {
	const char *backend;	/* vhost-user socket path */
	int timeout_ms;		/* per back-end reply; 0: vu_conn's default */
	/* Connect a new front-end; NULL: vu_frontend_connect(fe, backend).
	 * Tests plug a mock transport here.  Returns 0 or -errno. */
	int (*connect)(void *opaque, struct vu_frontend *fe);
	void *connect_opaque;
	/* One line per event (connected, connection lost, ...) with its syslog
	 * priority (LOG_ERR ... LOG_DEBUG); NULL: stderr. */
	void (*log)(void *opaque, int prio, const char *line);
	void *log_opaque;
	/* The back-end connection came up or was lost (enum vub_backend_state),
	 * or its features changed: @features as negotiated with it (0 until
	 * then), @missing the offloads the guest may use that it lacks.  For
	 * administrators; may be NULL. */
	void (*backend_state)(void *opaque, uint32_t dev_id, uint32_t state,
			      uint64_t features, uint64_t missing, uint32_t reconnects);
	void *backend_state_opaque;
	/* Read the VMM's tap; NULL: vub_tap_read().  Tests plug a fake here. */
	int (*read_tap)(void *opaque, int fd, struct vub_tap_info *ti,
			char *why, size_t why_len);
	void *read_tap_opaque;
	/* The daemon's multiqueue NICs; NULL: every device keeps a connection
	 * of its own. */
	struct vub_nics *nics;
	/* The back-end's IOTLB request for the device's VMM (the kernel
	 * queues it for the VMM to read): @type VUB_DEV_MSG_IOTLB_MISS or
	 * _ACCESS_FAIL, @perm VU_ACCESS_*.  0 or -errno; NULL: refused. */
	int (*iotlb_msg)(void *opaque, uint32_t dev_id, uint32_t type,
			 uint64_t iova, uint8_t perm);
	void *iotlb_msg_opaque;
};

struct vub_dev {
	uint32_t dev_id;
	uint32_t vmm_pid;
	uint32_t instance_id;		/* VUB_OP_OPEN; 0: the default node */
	const struct vub_dev_cfg *cfg;
	const char *backend;		/* cfg->backend, or the instance's socket */
	char instance_socket[VUB_SOCKET_MAX];
	struct vu_frontend *fe;	/* NULL until connected; nic->fe in a NIC */
	struct vub_nic *nic;		/* the NIC it is a queue pair of, or NULL */
	unsigned int pair;		/* k in the NIC: rings 2k, 2k+1; else 0 */
	bool lost;			/* the connection failed: ENOTCONN */
	bool attached[VUB_NET_RINGS];	/* NET_SET_BACKEND fd >= 0 in force */
	uint32_t busyloop[VUB_NET_RINGS];
	uint64_t vmm_features;		/* the last VHOST_SET_FEATURES accepted */
	bool features_set;		/* sent on this connection */
	uint64_t sent_features;		/* what the back-end got last */
	bool tap_seen;			/* a NET_SET_BACKEND fd was looked at */
	int tap_ifindex;		/* that tap, if in the daemon's network
					 * namespace (its RARPs: vub_rarp.h) */
	bool rarp_warned;		/* the back-end lacks PROTOCOL_F_RARP */
	bool rarp_queued;		/* a SEND_RARP waits for its turn (one at
					 * a time: a VMM flooding its tap with
					 * RARPs queues no more) */
	uint64_t offloads;		/* virtio-net offloads the tap says the
					 * VMM agreed on (vub_dev_tap_offloads) */
	uint64_t missing;		/* of those, host ones the back-end lacks */
	uint64_t nr_reqs;
	uint64_t nr_iotlb[5];		/* IOTLB messages by VU_IOTLB_* type:
					 * UPDATE, INVALIDATE from the VMM,
					 * MISS, ACCESS_FAIL passed up to it */
	uint64_t nr_connects;
	uint32_t nr_reconnects;		/* after a lost connection */
	/* Reconnecting (the daemon's loop): next attempt, its backoff, and
	 * whether a coroutine works on the device's back-end right now. */
	int64_t retry_at;
	unsigned int backoff_ms;
	unsigned int nr_reconnect_tries;	/* failed in a row */
	bool busy;
	char why[224];			/* the last failure, explained */
	/* The record in the kernel's fd store (vub_state.h; the daemon's
	 * main.c keeps it): its memfd (-1: none), generation, the slots it
	 * filled, and whether the device came from a previous daemon. */
	int state_fd;
	uint64_t state_gen;
	uint8_t stored[VUB_FD_STORE_SLOTS];
	bool restored;
	/* What the stored files were taken from: when none of it changed
	 * (and no request that sets files ran), they are still right. */
	const struct vu_frontend *stored_fe;
	uint64_t stored_connects;
	uint32_t stored_reconnects;
	bool stored_lost;
};

/* A device seen for the first time.  Does not connect yet. */
void vub_dev_init(struct vub_dev *d, const struct vub_dev_cfg *cfg,
		  uint32_t dev_id, uint32_t vmm_pid);
/*
 * VUB_OP_OPEN: the device belongs to an instance the administrator bound to
 * its own back-end socket (instance 0, the default node, uses cfg->backend).
 * Returns 0, or -EOPNOTSUPP for an instance type other than vhost-net.
 */
int vub_dev_open(struct vub_dev *d, const struct vub_open_info *oi);
/* VUB_OP_RELEASE (or shutdown): drop the back-end connection. */
void vub_dev_release(struct vub_dev *d);

/*
 * Answer one VUB_OP_IOCTL request of this device: 0 (with the reply for GET
 * ioctls) or -errno.  @desc is vub_vhost_find(req->ioctl) (NULL: ENOTTY);
 * a request that fails vub_dev_check_request() gets EINVAL.  @fds are the
 * request's descriptors, borrowed (the front-end dups what it keeps).  On
 * failure vub_dev_why() explains it.
 */
int vub_dev_ioctl(struct vub_dev *d, const struct vub_vhost_ioctl *desc,
		  const struct vub_req *req, const void *payload, const int *fds,
		  void *reply, uint32_t *reply_len);

/*
 * Answer one VUB_OP_IOTLB_MSG request: the VMM's UPDATE or INVALIDATE
 * (struct vhost_iotlb_msg, checked by the kernel and again here) to the
 * back-end as IOTLB_MSG.  0, -EINVAL for a malformed request, -EFAULT when
 * the back-end refuses it, -EOPNOTSUPP when it takes no IOTLB messages,
 * -ENOTCONN.  On failure vub_dev_why() explains it.
 */
int vub_dev_iotlb(struct vub_dev *d, const void *payload, uint32_t len);

/* Why the last failing ioctl failed ("" if nothing to add to the errno). */
const char *vub_dev_why(const struct vub_dev *d);

/*
 * Back-end liveness, for the daemon's loop.  vub_dev_watch_fds() gives the
 * sockets to watch while the device is idle (its vhost-user connection and
 * back-end channel; one device per NIC watches; returns 0 when there is
 * nothing to watch); when one is ready, vub_dev_check_backend() serves the
 * back-end's request or, on a hang-up, marks every device on the connection
 * lost.  vub_dev_reconnect() then connects again and replays the device's
 * state (returns 0 or -errno; the daemon retries with a backoff).
 */
int vub_dev_watch_fds(const struct vub_dev *d, int fds[2]);
int vub_dev_check_backend(struct vub_dev *d);
int vub_dev_reconnect(struct vub_dev *d);

/*
 * The VMM announced the guest (a RARP from @mac on the device's tap,
 * vub_rarp.h): SEND_RARP to the back-end, logged.  0, -EOPNOTSUPP when the
 * back-end lacks PROTOCOL_F_RARP (a warning, once per connection),
 * -ENOTCONN, or the back-end's failure (vub_dev_why()).
 */
int vub_dev_send_rarp(struct vub_dev *d, const uint8_t mac[6]);

/*
 * The device's record for the fd store (vub_state.h): @s, and in
 * @slotfd[VUB_FD_STORE_SLOTS] the descriptor each slot must hold (-1:
 * none; slot VUB_FD_SLOT_STATE is the caller's).  The connection is the
 * NIC's when the device is a queue pair of one.  Returns 0, or -E2BIG
 * when the device has more rings, regions or files than a record holds.
 */
int vub_dev_state_save(const struct vub_dev *d, struct vub_state *s, int *slotfd);
/*
 * Build @d (vub_dev_init'ed) from a record that vub_state_decode() accepted,
 * @slotfd[slot] being this daemon's descriptors of the stored files (-1:
 * none); what it keeps is dup'ed.  The connection is taken over as it is,
 * without a message to the back-end; a queue pair joins (or founds) its NIC
 * by key.  Returns 0 or -errno with vub_dev_why() (a slot the record names
 * is missing, a pair already taken, out of memory).
 */
int vub_dev_state_restore(struct vub_dev *d, const struct vub_state *s, const int *slotfd);
/*
 * The previous daemon was talking to the back-end when it died: the
 * connection's byte stream may be cut in a message.  Close it (every queue
 * pair of the NIC is lost) so that the daemon reconnects and replays.
 */
void vub_dev_desync(struct vub_dev *d);

/*
 * Sizes of a request as the kernel must send them: payload and reply size
 * of the ioctl, one fd for an fd field that is not VHOST_FILE_UNBIND, and
 * for VHOST_SET_MEM_TABLE a whole array of struct vub_mem_piece with at
 * least one file when there is memory.  0 or -EINVAL (@why says what).
 */
int vub_dev_check_request(const struct vub_req *req, const void *payload,
			  char *why, size_t why_len);

/* --- pure helpers, exposed for unit tests ------------------------------ */

/* What VHOST_GET_FEATURES shows for these back-end features (as
 * vu_frontend_get_features returns them: bit 30 already hidden). */
uint64_t vub_dev_net_features(uint64_t backend_features);
/* VHOST_F_LOG_ALL (bit 26) if the back-end offers it with the protocol
 * feature LOG_SHMFD in @proto (its log is then the VMM's, shared), else 0. */
uint64_t vub_dev_log_features(uint64_t backend_features, uint64_t proto);
/* VIRTIO_F_ACCESS_PLATFORM (bit 33) if the back-end offers it with the
 * protocol features REPLY_ACK and BACKEND_REQ in @proto, else 0. */
uint64_t vub_dev_iommu_features(uint64_t backend_features, uint64_t proto);
/*
 * The VMM's IOTLB message (VUB_OP_IOTLB_MSG's payload) as a vhost-user
 * IOTLB_MSG: types UPDATE and INVALIDATE, VHOST_ACCESS_* perm bits, zero
 * padding, an UPDATE of size > 0 whose ranges do not wrap; an INVALIDATE
 * whose range reaches 2^64 (size 0 with iova 0: everything) ends at
 * 2^64 - 1 (DPDK's end would wrap to 0).  0 or -EINVAL with @why.
 */
int vub_dev_iotlb_convert(const void *payload, uint32_t len, struct vu_iotlb *out,
			  char *why, size_t why_len);

/*
 * The virtio-net offloads a VMM on vhost-kernel agreed on with its guest, as
 * its tap shows them: with a virtio-net header the VMM offers the host ones
 * (CSUM, HOST_TSO4/6, HOST_ECN, HOST_UFO; HOST_USO if the tap can do USO),
 * so the guest may use them; the tap's offloads in force are the GUEST ones
 * the guest acked (GUEST_UFO leaves no trace in the tap and is never
 * included).  0 without a header.
 */
uint64_t vub_dev_tap_offloads(const struct vub_tap_info *ti);

/*
 * Of the offloads @wanted (vub_dev_tap_offloads), those to negotiate with a
 * back-end that offers @offered: the common ones, minus those whose virtio
 * dependency is not negotiated (HOST_* need CSUM, GUEST_* need GUEST_CSUM,
 * the ECN ones need TSO4 or TSO6).  *@missing: the host ones of @wanted that
 * are not negotiated, i.e. what the guest may send that the back-end will
 * not finish (missing guest ones only mean the back-end sends plainer
 * frames).
 */
uint64_t vub_dev_offloads_negotiate(uint64_t wanted, uint64_t offered,
				uint64_t *missing);

/* The names of the offload bits in @bits ("CSUM HOST_TSO4 ..."; "none"). */
void vub_dev_offloads_name(uint64_t bits, char *buf, size_t len);

/*
 * The kernel's pieces of a VHOST_SET_MEM_TABLE as front-end regions: one
 * per piece, fd = fds[fd_index] (borrowed).  Every piece must be non-empty,
 * name one of the @nr_fds files and lie inside a region of @mem with the
 * same gpa -> user address mapping.  Returns the number of regions, or
 * -EINVAL with @why explaining.  @out has room for VUB_MAX_MEM_PIECES.
 */
int vub_dev_mem_from_pieces(const struct vhost_memory *mem,
			const struct vub_mem_piece *pieces, uint32_t nr_pieces,
			const int *fds, uint32_t nr_fds,
			struct vu_frontend_region *out, char *why, size_t why_len);

#endif /* VUB_DEV_H */
