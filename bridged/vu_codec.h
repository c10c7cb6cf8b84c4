/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vu_codec - the vhost-user wire format, with no I/O.
 *
 * Every vhost-user message is a 12-byte header (request, flags, size) followed
 * by `size` bytes of payload, all in native byte order, plus up to
 * VU_MAX_FDS file descriptors carried as SCM_RIGHTS ancillary data.  This
 * module knows, for every front-end request (ids 1..43) and every back-end
 * request (ids 1..8) of the current spec, which payload type the request and
 * its reply carry, how many fds travel with them, and how to check a message
 * that came from the other side.
 *
 * Everything here is pure: buffers in, buffers out, an error code and a
 * one-line reason on failure.  Nothing closes fds; the transport (vu_conn)
 * does that when a check here fails, so a malformed message never leaks one.
 *
 * Error codes (negative errno):
 *   -EPROTO    bad version/flags, reply to the wrong request, wrong fd count
 *   -EMSGSIZE  payload larger than the largest payload of the spec, or than
 *              the output buffer
 *   -EBADMSG   payload size does not match the payload type, or a field in
 *              the payload is out of range (region count, config size...)
 *   -EINVAL    a request id this codec does not know
 */
#ifndef VUB_VU_CODEC_H
#define VUB_VU_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VU_HDR_SIZE		12u
#define VU_VERSION		0x1u
#define VU_FLAG_VERSION_MASK	0x3u
#define VU_FLAG_REPLY		(1u << 2)
#define VU_FLAG_NEED_REPLY	(1u << 3)
/* The only flags value a reply may carry (QEMU enforces the same). */
#define VU_REPLY_FLAGS		(VU_VERSION | VU_FLAG_REPLY)

#define VU_MAX_FDS		8u	/* per message, either direction */
#define VU_MAX_MEM_REGIONS	8u	/* SET_MEM_TABLE */
#define VU_MAX_CONFIG_SIZE	256u	/* GET/SET_CONFIG payload bytes */
#define VU_CONFIG_HDR_SIZE	12u

/* KICK/CALL/ERR u64 layout (also the u64 of a vring area). */
#define VU_VRING_IDX_MASK	0xffu
#define VU_VRING_NOFD		(1ull << 8)

/* Virtio / vhost-user feature bits the front-end itself cares about. */
#define VU_F_PROTOCOL_FEATURES	30	/* VHOST_USER_F_PROTOCOL_FEATURES */
#define VU_F_LOG_ALL		26	/* VHOST_F_LOG_ALL */
#define VU_F_VERSION_1		32
#define VU_F_ACCESS_PLATFORM	33	/* IOTLB messages (a vIOMMU) */
#define VU_F_RING_PACKED	34
#define VU_F_RING_RESET		40

/* Protocol feature bits (spec "Protocol features"). */
enum vu_protocol_feature {
	VU_PF_MQ			= 0,
	VU_PF_LOG_SHMFD			= 1,
	VU_PF_RARP			= 2,
	VU_PF_REPLY_ACK			= 3,
	VU_PF_MTU			= 4,
	VU_PF_BACKEND_REQ		= 5,
	VU_PF_CROSS_ENDIAN		= 6,
	VU_PF_CRYPTO_SESSION		= 7,
	VU_PF_PAGEFAULT			= 8,
	VU_PF_CONFIG			= 9,
	VU_PF_BACKEND_SEND_FD		= 10,
	VU_PF_HOST_NOTIFIER		= 11,
	VU_PF_INFLIGHT_SHMFD		= 12,
	VU_PF_RESET_DEVICE		= 13,
	VU_PF_INBAND_NOTIFICATIONS	= 14,
	VU_PF_CONFIGURE_MEM_SLOTS	= 15,
	VU_PF_STATUS			= 16,
	VU_PF_XEN_MMAP			= 17,
	VU_PF_SHARED_OBJECT		= 18,
	VU_PF_DEVICE_STATE		= 19,
};

/* Front-end -> back-end requests. */
enum vu_request {
	VU_GET_FEATURES			= 1,
	VU_SET_FEATURES			= 2,
	VU_SET_OWNER			= 3,
	VU_RESET_OWNER			= 4,
	VU_SET_MEM_TABLE		= 5,
	VU_SET_LOG_BASE			= 6,
	VU_SET_LOG_FD			= 7,
	VU_SET_VRING_NUM		= 8,
	VU_SET_VRING_ADDR		= 9,
	VU_SET_VRING_BASE		= 10,
	VU_GET_VRING_BASE		= 11,
	VU_SET_VRING_KICK		= 12,
	VU_SET_VRING_CALL		= 13,
	VU_SET_VRING_ERR		= 14,
	VU_GET_PROTOCOL_FEATURES	= 15,
	VU_SET_PROTOCOL_FEATURES	= 16,
	VU_GET_QUEUE_NUM		= 17,
	VU_SET_VRING_ENABLE		= 18,
	VU_SEND_RARP			= 19,
	VU_NET_SET_MTU			= 20,
	VU_SET_BACKEND_REQ_FD		= 21,
	VU_IOTLB_MSG			= 22,
	VU_SET_VRING_ENDIAN		= 23,
	VU_GET_CONFIG			= 24,
	VU_SET_CONFIG			= 25,
	VU_CREATE_CRYPTO_SESSION	= 26,
	VU_CLOSE_CRYPTO_SESSION		= 27,
	VU_POSTCOPY_ADVISE		= 28,
	VU_POSTCOPY_LISTEN		= 29,
	VU_POSTCOPY_END			= 30,
	VU_GET_INFLIGHT_FD		= 31,
	VU_SET_INFLIGHT_FD		= 32,
	VU_GPU_SET_SOCKET		= 33,
	VU_RESET_DEVICE			= 34,
	VU_VRING_KICK			= 35,
	VU_GET_MAX_MEM_SLOTS		= 36,
	VU_ADD_MEM_REG			= 37,
	VU_REM_MEM_REG			= 38,
	VU_SET_STATUS			= 39,
	VU_GET_STATUS			= 40,
	VU_GET_SHARED_OBJECT		= 41,
	VU_SET_DEVICE_STATE_FD		= 42,
	VU_CHECK_DEVICE_STATE		= 43,
	VU_REQUEST_MAX			= 44,
};

/* Back-end -> front-end requests (on the BACKEND_REQ channel). */
enum vu_backend_request {
	VU_BACKEND_IOTLB_MSG		= 1,
	VU_BACKEND_CONFIG_CHANGE_MSG	= 2,
	VU_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	VU_BACKEND_VRING_CALL		= 4,
	VU_BACKEND_VRING_ERR		= 5,
	VU_BACKEND_SHARED_OBJECT_ADD	= 6,
	VU_BACKEND_SHARED_OBJECT_REMOVE	= 7,
	VU_BACKEND_SHARED_OBJECT_LOOKUP	= 8,
	VU_BACKEND_REQUEST_MAX		= 9,
};

/* Which channel a message travels on; the request ids overlap. */
enum vu_chan {
	VU_CHAN_FRONTEND,	/* front-end requests, back-end replies */
	VU_CHAN_BACKEND,	/* back-end requests, front-end replies */
};

/* --- payload types, laid out exactly as on the wire ----------------- */

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;		/* bit 0: VHOST_VRING_F_LOG */
	uint64_t desc;
	uint64_t used;		/* note: used before avail */
	uint64_t avail;
	uint64_t log;
};
#define VU_VRING_F_LOG	0x1u

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MAX_MEM_REGIONS];
};

struct vu_mem_reg {		/* ADD_MEM_REG / REM_MEM_REG */
	uint64_t padding;
	struct vu_mem_region region;
};

struct vu_log {
	uint64_t size;
	uint64_t offset;
};

/* struct vu_iotlb's types (the kernel's VHOST_IOTLB_*) and perm bits. */
#define VU_IOTLB_MISS		1
#define VU_IOTLB_UPDATE		2
#define VU_IOTLB_INVALIDATE	3
#define VU_IOTLB_ACCESS_FAIL	4
#define VU_ACCESS_RO		1
#define VU_ACCESS_WO		2
#define VU_ACCESS_RW		3

struct vu_iotlb {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
	uint8_t pad[6];
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_MAX_CONFIG_SIZE];
};

struct vu_vring_area {
	uint64_t u64;		/* index (bits 0-7) | NOFD (bit 8) */
	uint64_t size;
	uint64_t offset;
};

struct vu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t pad;
};

struct vu_shared {
	uint8_t uuid[16];
};

struct vu_device_state {
	uint32_t direction;
	uint32_t phase;
};

/*
 * Crypto sessions are carried as opaque bytes: their layout depends on the
 * crypto device model, which the bridge never drives.
 */
#define VU_CRYPTO_SESSION_MAX	1024u

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_mem_reg memreg;
	struct vu_log log;
	struct vu_iotlb iotlb;
	struct vu_config config;
	struct vu_vring_area area;
	struct vu_inflight inflight;
	struct vu_shared shared;
	struct vu_device_state dstate;
	uint8_t raw[VU_CRYPTO_SESSION_MAX];
};

/* Largest payload the codec accepts from the wire. */
#define VU_PAYLOAD_MAX		((uint32_t)sizeof(union vu_payload))
#define VU_MSG_MAX		(VU_HDR_SIZE + VU_PAYLOAD_MAX)

/* Payload types.  A request and its reply each have one. */
enum vu_pl {
	VU_PL_NONE,		/* size 0 */
	VU_PL_U64,
	VU_PL_STATE,
	VU_PL_ADDR,
	VU_PL_MEM_TABLE,	/* 8 + 32 * nregions */
	VU_PL_MEM_REG,
	VU_PL_LOG,
	VU_PL_IOTLB,
	VU_PL_CONFIG,		/* 12 + config.size */
	VU_PL_AREA,
	VU_PL_INFLIGHT,
	VU_PL_SHARED,
	VU_PL_DEVICE_STATE,
	VU_PL_OPAQUE,		/* 0..VU_CRYPTO_SESSION_MAX */
	VU_PL_LOG_BASE_REPLY,	/* SET_LOG_BASE reply: size 0, u64 or log */
	VU_PL_SMALL,		/* 0 or u64 (POSTCOPY_ADVISE reply) */
};

/* A decoded (or to-be-encoded) message. */
struct vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union vu_payload p;
	int fds[VU_MAX_FDS];
	unsigned int nfds;
};

/* What went wrong, for the caller's log line. */
struct vu_err {
	int code;		/* negative errno, 0 = none */
	char msg[160];
};

/* Fill @err (may be NULL) with @code and a message; returns @code. */
int vu_fail(struct vu_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Static description of one request. */
struct vu_req_info {
	const char *name;
	enum vu_pl req_pl;
	enum vu_pl reply_pl;	/* VU_PL_NONE: no reply of its own */
	bool has_reply;		/* the request always gets a reply */
	int8_t reply_if_pf;	/* >= 0: it gets one only when this protocol
				 * feature was negotiated (SET_LOG_BASE) */
	uint8_t min_fds;	/* fds with the request */
	uint8_t max_fds;
	uint8_t reply_max_fds;	/* fds allowed on the reply */
};

/* Returns NULL for an unknown id. */
const struct vu_req_info *vu_req_info(enum vu_chan chan, uint32_t request);
const char *vu_req_name(enum vu_chan chan, uint32_t request);

/* Size on the wire of payload type `pl` for this message (-1 if variable and
 * the message's own fields make it invalid). */
long vu_pl_wire_size(enum vu_pl pl, const struct vu_msg *m);

/* --- builders (set request, flags = VERSION, size, payload) ---------- */
void vu_msg_init(struct vu_msg *m, uint32_t request);
void vu_msg_u64(struct vu_msg *m, uint32_t request, uint64_t v);
void vu_msg_state(struct vu_msg *m, uint32_t request, uint32_t index,
		  uint32_t num);
void vu_msg_addr(struct vu_msg *m, const struct vu_vring_addr *a);
/* KICK/CALL/ERR: fd < 0 sets NOFD and sends no fd. */
void vu_msg_vring_fd(struct vu_msg *m, uint32_t request, uint32_t index,
		     int fd);
/* SET_MEM_TABLE; fds[i] belongs to regions[i]. */
int vu_msg_mem_table(struct vu_msg *m, const struct vu_mem_region *r,
		     const int *fds, unsigned int n, struct vu_err *err);
/* ADD_MEM_REG (fd >= 0) / REM_MEM_REG (fd ignored). */
void vu_msg_mem_reg(struct vu_msg *m, uint32_t request,
		    const struct vu_mem_region *r, int fd);
int vu_msg_config(struct vu_msg *m, uint32_t request, uint32_t offset,
		  uint32_t size, uint32_t flags, const void *data,
		  struct vu_err *err);

/* --- encode ----------------------------------------------------------
 * Validate `m` as a request on `chan` (or as a reply when `m->flags` has
 * VU_FLAG_REPLY; then `m->request` is the request being answered) and write
 * header + payload into buf.  Returns bytes written or a negative errno. */
long vu_encode(enum vu_chan chan, const struct vu_msg *m, uint8_t *buf,
	       size_t buflen, struct vu_err *err);

/* --- decode ----------------------------------------------------------
 * Parse the 12-byte header.  Checks the version bits and that size <=
 * VU_PAYLOAD_MAX; the caller then reads exactly `size` more bytes. */
int vu_decode_hdr(const uint8_t *buf, size_t len, struct vu_msg *m,
		  struct vu_err *err);

/* Copy `len` payload bytes (len == m->size) into m->p, zeroing the rest. */
int vu_decode_payload(struct vu_msg *m, const uint8_t *payload, size_t len,
		      struct vu_err *err);

/* Whole message in one buffer (header + payload, exactly). */
int vu_decode(const uint8_t *buf, size_t len, struct vu_msg *m,
	      struct vu_err *err);

/*
 * Validate a request received on `chan` (a back-end checking front-end
 * requests, or the front-end checking back-end requests): known id, flags
 * = VERSION [| NEED_REPLY], size matching the payload type, field ranges
 * and fd count.
 */
int vu_check_request(enum vu_chan chan, const struct vu_msg *m,
		     struct vu_err *err);

/*
 * Validate a reply to `req` (the request as it was sent, flags included):
 * flags exactly REPLY|VERSION, same request id, size matching the reply
 * type (a u64 ack when the request had NEED_REPLY and no reply of its own),
 * fd count.  For GET_CONFIG the reply must be the same size as the request
 * (or 0 bytes: the back-end's error indication, reported as -EIO).
 */
int vu_check_reply(enum vu_chan chan, const struct vu_msg *req,
		   const struct vu_msg *reply, struct vu_err *err);

/* Does this request, as flagged, expect a reply?  (It always has one, it has
 * one under the negotiated protocol features `proto`, or NEED_REPLY was
 * set.)  Unknown requests expect none. */
bool vu_expects_reply(enum vu_chan chan, const struct vu_msg *req,
		      uint64_t proto);

#endif /* VUB_VU_CODEC_H */
