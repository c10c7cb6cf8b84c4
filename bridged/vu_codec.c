// SPDX-License-Identifier: GPL-2.0-only
/*
 * vu_codec - vhost-user message encode/decode/validation, no I/O.
 *
 * Written from the vhost-user specification (QEMU docs/interop/vhost-user.rst).
 * The payload structs in vu_codec.h are the
 * wire layout; the static asserts below pin it.
 */
#include "vu_codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(struct vu_vring_state) == 8, "vring state");
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vu_mem_region) == 32, "mem region");
_Static_assert(sizeof(struct vu_mem_table) == 8 + 32 * VU_MAX_MEM_REGIONS,
	       "mem table");
_Static_assert(sizeof(struct vu_mem_reg) == 40, "single mem region");
_Static_assert(sizeof(struct vu_log) == 16, "log");
_Static_assert(sizeof(struct vu_iotlb) == 32, "iotlb");
_Static_assert(sizeof(struct vu_config) == 12 + VU_MAX_CONFIG_SIZE, "config");
_Static_assert(sizeof(struct vu_vring_area) == 24, "vring area");
_Static_assert(sizeof(struct vu_inflight) == 24, "inflight");
_Static_assert(sizeof(struct vu_shared) == 16, "shared object");
_Static_assert(sizeof(struct vu_device_state) == 8, "device state");

#define R(id, n, rq, rp, always, pf, mnf, mxf, rfd)			\
	[id] = { .name = n, .req_pl = rq, .reply_pl = rp,		\
		 .has_reply = always, .reply_if_pf = pf,		\
		 .min_fds = mnf, .max_fds = mxf, .reply_max_fds = rfd }

static const struct vu_req_info fe_reqs[VU_REQUEST_MAX] = {
	R(VU_GET_FEATURES, "GET_FEATURES", VU_PL_NONE, VU_PL_U64, true, -1, 0, 0, 0),
	R(VU_SET_FEATURES, "SET_FEATURES", VU_PL_U64, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_SET_OWNER, "SET_OWNER", VU_PL_NONE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_RESET_OWNER, "RESET_OWNER", VU_PL_NONE, VU_PL_NONE, false, -1, 0, 0, 0),
	/* fds == nregions, checked separately */
	R(VU_SET_MEM_TABLE, "SET_MEM_TABLE", VU_PL_MEM_TABLE, VU_PL_NONE, false, -1, 0, VU_MAX_MEM_REGIONS, 0),
	R(VU_SET_LOG_BASE, "SET_LOG_BASE", VU_PL_LOG, VU_PL_LOG_BASE_REPLY, false, VU_PF_LOG_SHMFD, 0, 1, 0),
	R(VU_SET_LOG_FD, "SET_LOG_FD", VU_PL_NONE, VU_PL_NONE, false, -1, 1, 1, 0),
	R(VU_SET_VRING_NUM, "SET_VRING_NUM", VU_PL_STATE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_SET_VRING_ADDR, "SET_VRING_ADDR", VU_PL_ADDR, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_SET_VRING_BASE, "SET_VRING_BASE", VU_PL_STATE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_GET_VRING_BASE, "GET_VRING_BASE", VU_PL_STATE, VU_PL_STATE, true, -1, 0, 0, 0),
	/* KICK/CALL/ERR: 1 fd unless NOFD, checked separately */
	R(VU_SET_VRING_KICK, "SET_VRING_KICK", VU_PL_U64, VU_PL_NONE, false, -1, 0, 1, 0),
	R(VU_SET_VRING_CALL, "SET_VRING_CALL", VU_PL_U64, VU_PL_NONE, false, -1, 0, 1, 0),
	R(VU_SET_VRING_ERR, "SET_VRING_ERR", VU_PL_U64, VU_PL_NONE, false, -1, 0, 1, 0),
	R(VU_GET_PROTOCOL_FEATURES, "GET_PROTOCOL_FEATURES", VU_PL_NONE, VU_PL_U64, true, -1, 0, 0, 0),
	R(VU_SET_PROTOCOL_FEATURES, "SET_PROTOCOL_FEATURES", VU_PL_U64, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_GET_QUEUE_NUM, "GET_QUEUE_NUM", VU_PL_NONE, VU_PL_U64, true, -1, 0, 0, 0),
	R(VU_SET_VRING_ENABLE, "SET_VRING_ENABLE", VU_PL_STATE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_SEND_RARP, "SEND_RARP", VU_PL_U64, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_NET_SET_MTU, "NET_SET_MTU", VU_PL_U64, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_SET_BACKEND_REQ_FD, "SET_BACKEND_REQ_FD", VU_PL_NONE, VU_PL_NONE, false, -1, 1, 1, 0),
	R(VU_IOTLB_MSG, "IOTLB_MSG", VU_PL_IOTLB, VU_PL_U64, true, -1, 0, 0, 0),
	R(VU_SET_VRING_ENDIAN, "SET_VRING_ENDIAN", VU_PL_STATE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_GET_CONFIG, "GET_CONFIG", VU_PL_CONFIG, VU_PL_CONFIG, true, -1, 0, 0, 0),
	R(VU_SET_CONFIG, "SET_CONFIG", VU_PL_CONFIG, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_CREATE_CRYPTO_SESSION, "CREATE_CRYPTO_SESSION", VU_PL_OPAQUE, VU_PL_OPAQUE, true, -1, 0, 0, 0),
	R(VU_CLOSE_CRYPTO_SESSION, "CLOSE_CRYPTO_SESSION", VU_PL_U64, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_POSTCOPY_ADVISE, "POSTCOPY_ADVISE", VU_PL_NONE, VU_PL_SMALL, true, -1, 0, 0, 1),
	R(VU_POSTCOPY_LISTEN, "POSTCOPY_LISTEN", VU_PL_NONE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_POSTCOPY_END, "POSTCOPY_END", VU_PL_NONE, VU_PL_U64, true, -1, 0, 0, 0),
	R(VU_GET_INFLIGHT_FD, "GET_INFLIGHT_FD", VU_PL_INFLIGHT, VU_PL_INFLIGHT, true, -1, 0, 0, 1),
	R(VU_SET_INFLIGHT_FD, "SET_INFLIGHT_FD", VU_PL_INFLIGHT, VU_PL_NONE, false, -1, 1, 1, 0),
	R(VU_GPU_SET_SOCKET, "GPU_SET_SOCKET", VU_PL_NONE, VU_PL_NONE, false, -1, 1, 1, 0),
	R(VU_RESET_DEVICE, "RESET_DEVICE", VU_PL_NONE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_VRING_KICK, "VRING_KICK", VU_PL_STATE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_GET_MAX_MEM_SLOTS, "GET_MAX_MEM_SLOTS", VU_PL_NONE, VU_PL_U64, true, -1, 0, 0, 0),
	R(VU_ADD_MEM_REG, "ADD_MEM_REG", VU_PL_MEM_REG, VU_PL_NONE, false, -1, 1, 1, 0),
	/* "SHOULD" carry no fd; a back-end MAY accept one and close it */
	R(VU_REM_MEM_REG, "REM_MEM_REG", VU_PL_MEM_REG, VU_PL_NONE, false, -1, 0, 1, 0),
	R(VU_SET_STATUS, "SET_STATUS", VU_PL_U64, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_GET_STATUS, "GET_STATUS", VU_PL_NONE, VU_PL_U64, true, -1, 0, 0, 0),
	R(VU_GET_SHARED_OBJECT, "GET_SHARED_OBJECT", VU_PL_SHARED, VU_PL_U64, true, -1, 0, 0, 1),
	R(VU_SET_DEVICE_STATE_FD, "SET_DEVICE_STATE_FD", VU_PL_DEVICE_STATE, VU_PL_U64, true, -1, 1, 1, 1),
	R(VU_CHECK_DEVICE_STATE, "CHECK_DEVICE_STATE", VU_PL_NONE, VU_PL_U64, true, -1, 0, 0, 0),
};

static const struct vu_req_info be_reqs[VU_BACKEND_REQUEST_MAX] = {
	R(VU_BACKEND_IOTLB_MSG, "BACKEND_IOTLB_MSG", VU_PL_IOTLB, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_BACKEND_CONFIG_CHANGE_MSG, "BACKEND_CONFIG_CHANGE_MSG", VU_PL_NONE, VU_PL_NONE, false, -1, 0, 0, 0),
	/* 1 fd unless NOFD in area.u64, checked separately */
	R(VU_BACKEND_VRING_HOST_NOTIFIER_MSG, "BACKEND_VRING_HOST_NOTIFIER_MSG", VU_PL_AREA, VU_PL_NONE, false, -1, 0, 1, 0),
	R(VU_BACKEND_VRING_CALL, "BACKEND_VRING_CALL", VU_PL_STATE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_BACKEND_VRING_ERR, "BACKEND_VRING_ERR", VU_PL_STATE, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_BACKEND_SHARED_OBJECT_ADD, "BACKEND_SHARED_OBJECT_ADD", VU_PL_SHARED, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_BACKEND_SHARED_OBJECT_REMOVE, "BACKEND_SHARED_OBJECT_REMOVE", VU_PL_SHARED, VU_PL_NONE, false, -1, 0, 0, 0),
	R(VU_BACKEND_SHARED_OBJECT_LOOKUP, "BACKEND_SHARED_OBJECT_LOOKUP", VU_PL_SHARED, VU_PL_U64, true, -1, 0, 0, 1),
};
#undef R

int vu_fail(struct vu_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;

		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

static void ok(struct vu_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const struct vu_req_info *vu_req_info(enum vu_chan chan, uint32_t request)
{
	const struct vu_req_info *t;
	uint32_t n;

	if (chan == VU_CHAN_FRONTEND) {
		t = fe_reqs;
		n = VU_REQUEST_MAX;
	} else {
		t = be_reqs;
		n = VU_BACKEND_REQUEST_MAX;
	}
	if (request >= n || !t[request].name)
		return NULL;
	return &t[request];
}

const char *vu_req_name(enum vu_chan chan, uint32_t request)
{
	const struct vu_req_info *i = vu_req_info(chan, request);

	return i ? i->name : "UNKNOWN";
}

long vu_pl_wire_size(enum vu_pl pl, const struct vu_msg *m)
{
	switch (pl) {
	case VU_PL_NONE:
		return 0;
	case VU_PL_U64:
		return sizeof(uint64_t);
	case VU_PL_STATE:
		return sizeof(struct vu_vring_state);
	case VU_PL_ADDR:
		return sizeof(struct vu_vring_addr);
	case VU_PL_MEM_TABLE:
		if (m->p.mem.nregions > VU_MAX_MEM_REGIONS)
			return -1;
		return 8 + (long)sizeof(struct vu_mem_region) * m->p.mem.nregions;
	case VU_PL_MEM_REG:
		return sizeof(struct vu_mem_reg);
	case VU_PL_LOG:
		return sizeof(struct vu_log);
	case VU_PL_IOTLB:
		return sizeof(struct vu_iotlb);
	case VU_PL_CONFIG:
		if (m->p.config.size > VU_MAX_CONFIG_SIZE)
			return -1;
		return VU_CONFIG_HDR_SIZE + m->p.config.size;
	case VU_PL_AREA:
		return sizeof(struct vu_vring_area);
	case VU_PL_INFLIGHT:
		return sizeof(struct vu_inflight);
	case VU_PL_SHARED:
		return sizeof(struct vu_shared);
	case VU_PL_DEVICE_STATE:
		return sizeof(struct vu_device_state);
	case VU_PL_OPAQUE:
	case VU_PL_LOG_BASE_REPLY:
	case VU_PL_SMALL:
		return m->size;	/* variable; range-checked by check_size() */
	}
	return -1;
}

/* Check m->size (already bounded by VU_PAYLOAD_MAX) against payload type. */
static int check_size(enum vu_pl pl, const struct vu_msg *m, const char *name,
		      struct vu_err *err)
{
	long want;

	switch (pl) {
	case VU_PL_OPAQUE:
		if (m->size > VU_CRYPTO_SESSION_MAX)
			return vu_fail(err, -EBADMSG, "%s: payload %u > %u", name,
				    m->size, VU_CRYPTO_SESSION_MAX);
		return 0;
	case VU_PL_LOG_BASE_REPLY:
		if (m->size != 0 && m->size != sizeof(uint64_t) &&
		    m->size != sizeof(struct vu_log))
			return vu_fail(err, -EBADMSG,
				    "%s reply: size %u is none of 0/8/16", name,
				    m->size);
		return 0;
	case VU_PL_SMALL:
		if (m->size != 0 && m->size != sizeof(uint64_t))
			return vu_fail(err, -EBADMSG, "%s: size %u is neither 0 nor 8",
				    name, m->size);
		return 0;
	case VU_PL_MEM_TABLE:
		/* Size first: nregions is only meaningful if it was received. */
		if (m->size < 8)
			return vu_fail(err, -EBADMSG, "%s: size %u < 8", name, m->size);
		if (m->p.mem.nregions > VU_MAX_MEM_REGIONS)
			return vu_fail(err, -EBADMSG, "%s: %u regions > %u", name,
				    m->p.mem.nregions, VU_MAX_MEM_REGIONS);
		break;
	case VU_PL_CONFIG:
		if (m->size < VU_CONFIG_HDR_SIZE)
			return vu_fail(err, -EBADMSG, "%s: size %u < config header",
				    name, m->size);
		if (m->p.config.size > VU_MAX_CONFIG_SIZE)
			return vu_fail(err, -EBADMSG, "%s: config size %u > %u", name,
				    m->p.config.size, VU_MAX_CONFIG_SIZE);
		break;
	default:
		break;
	}
	want = vu_pl_wire_size(pl, m);
	if (want < 0 || (unsigned long)want != m->size)
		return vu_fail(err, -EBADMSG, "%s: size %u, expected %ld", name,
			    m->size, want);
	return 0;
}

static int check_req_fields(enum vu_chan chan, const struct vu_msg *m,
			    const struct vu_req_info *ri, struct vu_err *err)
{
	const char *name = ri->name;
	unsigned int i;

	if (chan == VU_CHAN_BACKEND) {
		if (m->request == VU_BACKEND_VRING_HOST_NOTIFIER_MSG) {
			unsigned int want = (m->p.area.u64 & VU_VRING_NOFD) ? 0 : 1;

			if (m->p.area.u64 & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))
				return vu_fail(err, -EBADMSG, "%s: reserved bits in 0x%llx",
					    name, (unsigned long long)m->p.area.u64);
			if (m->nfds != want)
				return vu_fail(err, -EPROTO, "%s: %u fds, expected %u",
					    name, m->nfds, want);
		}
		return 0;
	}

	switch (m->request) {
	case VU_SET_MEM_TABLE:
		if (m->nfds != m->p.mem.nregions)
			return vu_fail(err, -EPROTO, "%s: %u fds for %u regions", name,
				    m->nfds, m->p.mem.nregions);
		for (i = 0; i < m->p.mem.nregions; i++) {
			const struct vu_mem_region *r = &m->p.mem.regions[i];

			if (r->size == 0)
				return vu_fail(err, -EBADMSG, "%s: region %u is empty",
					    name, i);
			if (r->gpa + r->size < r->gpa ||
			    r->uaddr + r->size < r->uaddr ||
			    r->mmap_offset + r->size < r->mmap_offset)
				return vu_fail(err, -EBADMSG, "%s: region %u wraps",
					    name, i);
		}
		break;
	case VU_ADD_MEM_REG:
	case VU_REM_MEM_REG: {
		const struct vu_mem_region *r = &m->p.memreg.region;

		if (r->size == 0 || r->gpa + r->size < r->gpa ||
		    r->uaddr + r->size < r->uaddr)
			return vu_fail(err, -EBADMSG, "%s: bad region", name);
		break;
	}
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR: {
		unsigned int want = (m->p.u64 & VU_VRING_NOFD) ? 0 : 1;

		if (m->p.u64 & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))
			return vu_fail(err, -EBADMSG, "%s: reserved bits in 0x%llx",
				    name, (unsigned long long)m->p.u64);
		if (m->nfds != want)
			return vu_fail(err, -EPROTO, "%s: %u fds, expected %u", name,
				    m->nfds, want);
		break;
	}
	case VU_SET_VRING_ADDR:
		if (m->p.addr.flags & ~VU_VRING_F_LOG)
			return vu_fail(err, -EBADMSG, "%s: flags 0x%x", name,
				    m->p.addr.flags);
		break;
	case VU_SET_VRING_ENABLE:
		if (m->p.state.num > 1)
			return vu_fail(err, -EBADMSG, "%s: num %u is not 0/1", name,
				    m->p.state.num);
		break;
	case VU_SET_VRING_ENDIAN:
		if (m->p.state.num > 1)
			return vu_fail(err, -EBADMSG, "%s: endian %u is not 0/1", name,
				    m->p.state.num);
		break;
	default:
		break;
	}
	return 0;
}

static int check_fd_range(const struct vu_msg *m, unsigned int lo,
			  unsigned int hi, const char *what, const char *name,
			  struct vu_err *err)
{
	if (m->nfds > VU_MAX_FDS)
		return vu_fail(err, -EPROTO, "%s %s: %u fds > %u", name, what,
			    m->nfds, VU_MAX_FDS);
	if (m->nfds < lo || m->nfds > hi)
		return vu_fail(err, -EPROTO, "%s %s: %u fds, expected %u..%u", name,
			    what, m->nfds, lo, hi);
	return 0;
}

int vu_check_request(enum vu_chan chan, const struct vu_msg *m,
		     struct vu_err *err)
{
	const struct vu_req_info *ri = vu_req_info(chan, m->request);
	int ret;

	if (!ri)
		return vu_fail(err, -EINVAL, "unknown %s request %u",
			    chan == VU_CHAN_FRONTEND ? "front-end" : "back-end",
			    m->request);
	if ((m->flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return vu_fail(err, -EPROTO, "%s: version %u", ri->name,
			    m->flags & VU_FLAG_VERSION_MASK);
	if (m->flags & ~(VU_FLAG_VERSION_MASK | VU_FLAG_NEED_REPLY))
		return vu_fail(err, -EPROTO, "%s: flags 0x%x on a request", ri->name,
			    m->flags);
	if (m->size > VU_PAYLOAD_MAX)
		return vu_fail(err, -EMSGSIZE, "%s: size %u > %u", ri->name,
			    m->size, VU_PAYLOAD_MAX);
	ret = check_size(ri->req_pl, m, ri->name, err);
	if (ret)
		return ret;
	ret = check_fd_range(m, ri->min_fds, ri->max_fds, "request", ri->name,
			     err);
	if (ret)
		return ret;
	ret = check_req_fields(chan, m, ri, err);
	if (ret)
		return ret;
	ok(err);
	return 0;
}

bool vu_expects_reply(enum vu_chan chan, const struct vu_msg *req,
		      uint64_t proto)
{
	const struct vu_req_info *ri = vu_req_info(chan, req->request);

	if (!ri)
		return false;
	if (ri->has_reply)
		return true;
	if (ri->reply_if_pf >= 0 && (proto & (1ull << ri->reply_if_pf)))
		return true;
	return req->flags & VU_FLAG_NEED_REPLY;
}

int vu_check_reply(enum vu_chan chan, const struct vu_msg *req,
		   const struct vu_msg *reply, struct vu_err *err)
{
	const struct vu_req_info *ri = vu_req_info(chan, req->request);
	enum vu_pl pl;
	unsigned int max_fds;
	int ret;

	if (!ri)
		return vu_fail(err, -EINVAL, "reply to unknown request %u",
			    req->request);
	if (reply->flags != VU_REPLY_FLAGS)
		return vu_fail(err, -EPROTO, "%s reply: flags 0x%x, expected 0x%x",
			    ri->name, reply->flags, VU_REPLY_FLAGS);
	if (reply->request != req->request)
		return vu_fail(err, -EPROTO, "reply to %s (%u) while waiting for %s",
			    vu_req_name(chan, reply->request), reply->request,
			    ri->name);
	if (reply->size > VU_PAYLOAD_MAX)
		return vu_fail(err, -EMSGSIZE, "%s reply: size %u > %u", ri->name,
			    reply->size, VU_PAYLOAD_MAX);

	if (ri->reply_pl != VU_PL_NONE) {
		pl = ri->reply_pl;
		max_fds = ri->reply_max_fds;
	} else {
		/* Only a REPLY_ACK can answer a request without a reply. */
		pl = VU_PL_U64;
		max_fds = 0;
	}

	if (chan == VU_CHAN_FRONTEND && req->request == VU_GET_CONFIG &&
	    reply->size == 0) {
		/* Spec: zero-length payload is the back-end's error. */
		if (reply->nfds)
			return vu_fail(err, -EPROTO, "GET_CONFIG reply: unexpected fds");
		return vu_fail(err, -EIO, "GET_CONFIG: back-end reported an error");
	}
	ret = check_size(pl, reply, ri->name, err);
	if (ret)
		return ret;
	ret = check_fd_range(reply, 0, max_fds, "reply", ri->name, err);
	if (ret)
		return ret;

	if (chan == VU_CHAN_FRONTEND) {
		switch (req->request) {
		case VU_GET_CONFIG:
			if (reply->size != req->size ||
			    reply->p.config.size != req->p.config.size ||
			    reply->p.config.offset != req->p.config.offset)
				return vu_fail(err, -EBADMSG,
					    "GET_CONFIG reply: %u bytes at %u, asked %u at %u",
					    reply->p.config.size,
					    reply->p.config.offset,
					    req->p.config.size,
					    req->p.config.offset);
			break;
		case VU_GET_VRING_BASE:
			if (reply->p.state.index != req->p.state.index)
				return vu_fail(err, -EPROTO,
					    "GET_VRING_BASE reply for ring %u, asked %u",
					    reply->p.state.index,
					    req->p.state.index);
			break;
		case VU_GET_INFLIGHT_FD:
			if (reply->nfds != 1 && reply->p.inflight.mmap_size)
				return vu_fail(err, -EPROTO,
					    "GET_INFLIGHT_FD reply: size without fd");
			break;
		case VU_SET_DEVICE_STATE_FD:
			if (reply->nfds && (reply->p.u64 & (VU_VRING_NOFD | 0xff)))
				return vu_fail(err, -EPROTO,
					    "SET_DEVICE_STATE_FD reply: fd with NOFD/error 0x%llx",
					    (unsigned long long)reply->p.u64);
			break;
		default:
			break;
		}
	}
	ok(err);
	return 0;
}

/* --- builders -------------------------------------------------------- */

void vu_msg_init(struct vu_msg *m, uint32_t request)
{
	memset(m, 0, sizeof(*m));
	m->request = request;
	m->flags = VU_VERSION;
}

void vu_msg_u64(struct vu_msg *m, uint32_t request, uint64_t v)
{
	vu_msg_init(m, request);
	m->size = sizeof(uint64_t);
	m->p.u64 = v;
}

void vu_msg_state(struct vu_msg *m, uint32_t request, uint32_t index,
		  uint32_t num)
{
	vu_msg_init(m, request);
	m->size = sizeof(struct vu_vring_state);
	m->p.state.index = index;
	m->p.state.num = num;
}

void vu_msg_addr(struct vu_msg *m, const struct vu_vring_addr *a)
{
	vu_msg_init(m, VU_SET_VRING_ADDR);
	m->size = sizeof(*a);
	m->p.addr = *a;
}

void vu_msg_vring_fd(struct vu_msg *m, uint32_t request, uint32_t index,
		     int fd)
{
	vu_msg_u64(m, request, index & VU_VRING_IDX_MASK);
	if (fd < 0) {
		m->p.u64 |= VU_VRING_NOFD;
	} else {
		m->fds[0] = fd;
		m->nfds = 1;
	}
}

int vu_msg_mem_table(struct vu_msg *m, const struct vu_mem_region *r,
		     const int *fds, unsigned int n, struct vu_err *err)
{
	unsigned int i;

	vu_msg_init(m, VU_SET_MEM_TABLE);
	if (n > VU_MAX_MEM_REGIONS)
		return vu_fail(err, -E2BIG, "SET_MEM_TABLE: %u regions > %u", n,
			    VU_MAX_MEM_REGIONS);
	m->p.mem.nregions = n;
	for (i = 0; i < n; i++) {
		m->p.mem.regions[i] = r[i];
		m->fds[i] = fds[i];
	}
	m->nfds = n;
	m->size = 8 + sizeof(struct vu_mem_region) * n;
	ok(err);
	return 0;
}

void vu_msg_mem_reg(struct vu_msg *m, uint32_t request,
		    const struct vu_mem_region *r, int fd)
{
	vu_msg_init(m, request);
	m->size = sizeof(struct vu_mem_reg);
	m->p.memreg.region = *r;
	if (request == VU_ADD_MEM_REG && fd >= 0) {
		m->fds[0] = fd;
		m->nfds = 1;
	}
}

int vu_msg_config(struct vu_msg *m, uint32_t request, uint32_t offset,
		  uint32_t size, uint32_t flags, const void *data,
		  struct vu_err *err)
{
	vu_msg_init(m, request);
	if (size > VU_MAX_CONFIG_SIZE)
		return vu_fail(err, -EINVAL, "config size %u > %u", size,
			    VU_MAX_CONFIG_SIZE);
	m->p.config.offset = offset;
	m->p.config.size = size;
	m->p.config.flags = flags;
	if (data && size)
		memcpy(m->p.config.region, data, size);
	m->size = VU_CONFIG_HDR_SIZE + size;
	ok(err);
	return 0;
}

/* --- encode / decode -------------------------------------------------- */

long vu_encode(enum vu_chan chan, const struct vu_msg *m, uint8_t *buf,
	       size_t buflen, struct vu_err *err)
{
	uint32_t hdr[3];
	int ret;

	if (m->flags & VU_FLAG_REPLY) {
		/* A reply: the codec can only check header and size bounds
		 * without the request; the sender built it from one. */
		const struct vu_req_info *ri = vu_req_info(chan, m->request);

		if (!ri)
			return vu_fail(err, -EINVAL, "reply to unknown request %u",
				    m->request);
		if (m->flags != VU_REPLY_FLAGS)
			return vu_fail(err, -EPROTO, "%s reply: flags 0x%x", ri->name,
				    m->flags);
		if (m->size > VU_PAYLOAD_MAX)
			return vu_fail(err, -EMSGSIZE, "%s reply: size %u", ri->name,
				    m->size);
		if (m->nfds > VU_MAX_FDS)
			return vu_fail(err, -EPROTO, "%s reply: %u fds", ri->name,
				    m->nfds);
	} else {
		ret = vu_check_request(chan, m, err);
		if (ret)
			return ret;
	}
	if (buflen < VU_HDR_SIZE + (size_t)m->size)
		return vu_fail(err, -EMSGSIZE, "%s: %u bytes do not fit in %zu",
			    vu_req_name(chan, m->request), VU_HDR_SIZE + m->size,
			    buflen);
	hdr[0] = m->request;
	hdr[1] = m->flags;
	hdr[2] = m->size;
	memcpy(buf, hdr, VU_HDR_SIZE);
	memcpy(buf + VU_HDR_SIZE, &m->p, m->size);
	ok(err);
	return VU_HDR_SIZE + m->size;
}

int vu_decode_hdr(const uint8_t *buf, size_t len, struct vu_msg *m,
		  struct vu_err *err)
{
	uint32_t hdr[3];

	memset(m, 0, sizeof(*m));
	if (len < VU_HDR_SIZE)
		return vu_fail(err, -EBADMSG, "short header: %zu bytes", len);
	memcpy(hdr, buf, VU_HDR_SIZE);
	m->request = hdr[0];
	m->flags = hdr[1];
	m->size = hdr[2];
	if ((m->flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return vu_fail(err, -EPROTO, "request %u: version %u", m->request,
			    m->flags & VU_FLAG_VERSION_MASK);
	if (m->size > VU_PAYLOAD_MAX)
		return vu_fail(err, -EMSGSIZE, "request %u: size %u > %u",
			    m->request, m->size, VU_PAYLOAD_MAX);
	ok(err);
	return 0;
}

int vu_decode_payload(struct vu_msg *m, const uint8_t *payload, size_t len,
		      struct vu_err *err)
{
	if (len != m->size)
		return vu_fail(err, -EBADMSG, "request %u: %zu payload bytes, header says %u",
			    m->request, len, m->size);
	if (len > VU_PAYLOAD_MAX)
		return vu_fail(err, -EMSGSIZE, "request %u: size %zu", m->request,
			    len);
	memset(&m->p, 0, sizeof(m->p));
	if (len)
		memcpy(&m->p, payload, len);
	ok(err);
	return 0;
}

int vu_decode(const uint8_t *buf, size_t len, struct vu_msg *m,
	      struct vu_err *err)
{
	int ret = vu_decode_hdr(buf, len, m, err);

	if (ret)
		return ret;
	return vu_decode_payload(m, buf + VU_HDR_SIZE, len - VU_HDR_SIZE, err);
}
