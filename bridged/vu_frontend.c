// SPDX-License-Identifier: GPL-2.0-only
/*
 * vu_frontend - vhost-user front-end state machine (see vu_frontend.h).
 *
 * Layout: pure helpers (memory merge/diff, validation) first, then the one
 * place that talks to the back-end (fe_call), then the operations, each of
 * which validates, updates the cache and sends what is due.
 */
#include "vu_frontend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PF(f)	(1ull << (f))

/* --- errors and logging ---------------------------------------------- */

static void fe_emit(struct vu_frontend *fe)
{
	if (fe->opts.log)
		fe->opts.log(fe->opts.log_opaque, fe->err.msg);
	else
		fprintf(stderr, "vhost-user front-end: %s\n", fe->err.msg);
}

__attribute__((format(printf, 3, 4)))
static int fe_fail(struct vu_frontend *fe, int code, const char *fmt, ...)
{
	va_list ap;

	fe->err.code = code;
	va_start(ap, fmt);
	vsnprintf(fe->err.msg, sizeof(fe->err.msg), fmt, ap);
	va_end(ap);
	fe_emit(fe);
	return code;
}

void vu_frontend_set_log(struct vu_frontend *fe,
			  void (*log)(void *opaque, const char *msg), void *opaque)
{
	fe->opts.log = log;
	fe->opts.log_opaque = opaque;
}

const char *vu_frontend_strerror(const struct vu_frontend *fe)
{
	return fe->err.code ? fe->err.msg : "no error";
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = VU_FRONTEND_FD_NONE;
}

static int send_log_base(struct vu_frontend *fe);

/* --- pure helpers ------------------------------------------------------ */

static bool same_file(const struct vu_frontend_region *a,
		      const struct vu_frontend_region *b)
{
	if (a->file_dev || a->file_ino || b->file_dev || b->file_ino)
		return a->file_dev == b->file_dev && a->file_ino == b->file_ino;
	return a->fd == b->fd;
}

static int cmp_gpa(const void *x, const void *y)
{
	const struct vu_frontend_region *a = x, *b = y;

	return a->gpa < b->gpa ? -1 : a->gpa > b->gpa;
}

int vu_frontend_mem_merge(struct vu_frontend_region *r, unsigned int *n,
		  struct vu_err *err)
{
	unsigned int i, j, k;

	for (i = 0; i < *n; i++) {
		if (!r[i].size)
			return vu_fail(err, -EINVAL, "region %u (gpa 0x%llx) is empty",
				       i, (unsigned long long)r[i].gpa);
		if (r[i].gpa + r[i].size < r[i].gpa ||
		    r[i].uaddr + r[i].size < r[i].uaddr ||
		    r[i].fd_offset + r[i].size < r[i].fd_offset)
			return vu_fail(err, -EINVAL, "region %u wraps around", i);
	}
	if (*n > 1)
		qsort(r, *n, sizeof(*r), cmp_gpa);
	for (i = 1; i < *n; i++)
		if (r[i].gpa < r[i - 1].gpa + r[i - 1].size)
			return vu_fail(err, -EINVAL,
				       "regions overlap in guest memory at gpa 0x%llx",
				       (unsigned long long)r[i].gpa);
	/* uaddr is how back-ends translate ring addresses: no aliasing. */
	for (i = 0; i < *n; i++)
		for (j = i + 1; j < *n; j++)
			if (r[i].uaddr < r[j].uaddr + r[j].size &&
			    r[j].uaddr < r[i].uaddr + r[i].size)
				return vu_fail(err, -EINVAL,
					       "regions at gpa 0x%llx and 0x%llx overlap in user address",
					       (unsigned long long)r[i].gpa,
					       (unsigned long long)r[j].gpa);
	for (i = 1, k = 0; i < *n; i++) {
		struct vu_frontend_region *o = &r[k];

		if (same_file(o, &r[i]) && o->gpa + o->size == r[i].gpa &&
		    o->uaddr + o->size == r[i].uaddr &&
		    o->fd_offset + o->size == r[i].fd_offset)
			o->size += r[i].size;
		else
			r[++k] = r[i];
	}
	if (*n)
		*n = k + 1;
	return 0;
}

static bool same_region(const struct vu_frontend_region *a,
			const struct vu_frontend_region *b)
{
	return a->gpa == b->gpa && a->size == b->size &&
	       a->uaddr == b->uaddr && a->fd_offset == b->fd_offset &&
	       same_file(a, b);
}

void vu_frontend_mem_diff(const struct vu_frontend_slot *have, unsigned int nhave,
		  const struct vu_frontend_region *want, unsigned int nwant,
		  unsigned int *rem, unsigned int *nrem,
		  unsigned int *add, unsigned int *nadd)
{
	unsigned int i, j;

	*nrem = *nadd = 0;
	for (i = 0; i < nhave; i++) {
		for (j = 0; j < nwant; j++)
			if (same_region(&have[i].r, &want[j]))
				break;
		if (j == nwant)
			rem[(*nrem)++] = i;
	}
	for (j = 0; j < nwant; j++) {
		for (i = 0; i < nhave; i++)
			if (same_region(&have[i].r, &want[j]))
				break;
		if (i == nhave)
			add[(*nadd)++] = j;
	}
}

/* --- talking to the back-end ----------------------------------------- */

static int conn_call(void *opaque, const struct vu_msg *req,
		     struct vu_msg *reply, uint64_t proto, struct vu_err *err)
{
	return vu_conn_call(opaque, req, reply, proto, err);
}

/* errno a back-end refusal (REPLY_ACK status != 0) turns into. */
static int refusal_errno(uint32_t request)
{
	switch (request) {
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
		return -EOPNOTSUPP;
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_ADDR:
	case VU_SET_VRING_BASE:
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
	case VU_SET_VRING_ENABLE:
	case VU_NET_SET_MTU:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/*
 * Send one request and wait for what it expects.  With REPLY_ACK, NEED_REPLY
 * is added to requests that have no reply of their own, and a non-zero status
 * becomes an errno.  A transport failure breaks the front-end.  If `reply` is
 * NULL, fds on the reply (none expected) are closed.
 */
static int fe_call(struct vu_frontend *fe, struct vu_msg *req,
		   struct vu_msg *reply)
{
	struct vu_msg scratch;
	struct vu_err terr;	/* the transport's reason, kept apart from fe->err */
	const char *name = vu_req_name(VU_CHAN_FRONTEND, req->request);
	bool acked = false;
	int ret;

	if (!reply)
		reply = &scratch;
	memset(reply, 0, sizeof(*reply));
	if (!fe->connected)
		return fe_fail(fe, -ENOTCONN, "%s: not connected", name);
	if (fe->broken)
		return fe_fail(fe, -ENOTCONN,
			       "%s: the connection to the back-end failed earlier",
			       name);
	if ((fe->proto & PF(VU_PF_REPLY_ACK)) &&
	    !vu_expects_reply(VU_CHAN_FRONTEND, req, fe->proto)) {
		req->flags |= VU_FLAG_NEED_REPLY;
		acked = true;
	}
	fe->nr_sent++;
	terr.code = 0;
	terr.msg[0] = '\0';
	ret = fe->t.call(fe->t.opaque, req, reply, fe->proto, &terr);
	if (ret) {
		if (ret == -EIO && req->request == VU_GET_CONFIG)
			return fe_fail(fe, ret, "%s", terr.msg);
		fe->broken = true;
		return fe_fail(fe, ret, "%s: connection error: %s", name,
			       terr.msg);
	}
	if (reply == &scratch)
		vu_msg_close_fds(reply);
	if (acked && reply->p.u64)
		return fe_fail(fe, refusal_errno(req->request),
			       "back-end refused %s (status %llu)", name,
			       (unsigned long long)reply->p.u64);
	return 0;
}

/* Without REPLY_ACK: a round trip proves the back-end processed (and did not
 * drop the connection over) everything sent before. */
static int fe_barrier(struct vu_frontend *fe)
{
	struct vu_msg m, r;

	if (fe->proto & PF(VU_PF_REPLY_ACK))
		return 0;
	vu_msg_init(&m, VU_GET_FEATURES);
	return fe_call(fe, &m, &r);
}

static int fe_u64(struct vu_frontend *fe, uint32_t request, uint64_t v)
{
	struct vu_msg m;

	vu_msg_u64(&m, request, v);
	return fe_call(fe, &m, NULL);
}

static int fe_get_u64(struct vu_frontend *fe, uint32_t request, uint64_t *v)
{
	struct vu_msg m, r;
	int ret;

	vu_msg_init(&m, request);
	ret = fe_call(fe, &m, &r);
	if (!ret)
		*v = r.p.u64;
	return ret;
}

static int fe_state(struct vu_frontend *fe, uint32_t request, uint32_t idx,
		    uint32_t num)
{
	struct vu_msg m;

	vu_msg_state(&m, request, idx, num);
	return fe_call(fe, &m, NULL);
}

static int fe_vring_fd(struct vu_frontend *fe, uint32_t request,
		       uint32_t idx, int fd)
{
	struct vu_msg m;

	/* NONE and NOFD both go out as NOFD; see start_ring() for KICK. */
	vu_msg_vring_fd(&m, request, idx, fd >= 0 ? fd : -1);
	return fe_call(fe, &m, NULL);
}

/* --- life cycle -------------------------------------------------------- */

/* Forget ring @r: its files closed, its settings back to a new ring's. */
static void ring_reset(struct vu_frontend *fe, struct vu_frontend_ring *r)
{
	close_fd(&r->kick_fd);
	close_fd(&r->call_fd);
	close_fd(&r->err_fd);
	memset(r, 0, sizeof(*r));
	r->kick_fd = r->call_fd = r->err_fd = VU_FRONTEND_FD_NONE;
	r->enable = !(fe->opts.flags & VU_FRONTEND_F_NO_AUTO_ENABLE);
}

static void fe_reset_state(struct vu_frontend *fe)
{
	unsigned int i;

	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++)
		ring_reset(fe, &fe->ring[i]);
	for (i = 0; i < fe->nmem; i++)
		close_fd(&fe->mem[i].r.fd);
	fe->nmem = 0;
	fe->ninstalled = 0;
	fe->mem_set = fe->mem_sent = false;
	close_fd(&fe->log_fd);
	fe->log_size = fe->log_offset = 0;
	if (fe->backend_fd >= 0)
		vu_conn_close(&fe->backend_conn);
	fe->backend_fd = -1;
	fe->connected = fe->broken = false;
	fe->backend_features = fe->backend_proto = fe->proto = 0;
	fe->has_proto = false;
	fe->queue_num = fe->max_mem_slots = 0;
	fe->features = 0;
	fe->features_set = fe->features_sent = fe->owner_sent = false;
	fe->status = 0;
	memset(&fe->t, 0, sizeof(fe->t));
}

/*
 * A front-end is 76 KB, mostly the two memory tables' 512 slots each, of
 * which a device uses a few.  mmap()ed, not calloc()ed (which zeroes, and
 * so backs, every page of a reused heap chunk): the pages never written
 * stay unbacked, and a device costs the daemon about 30 KB of RSS, not 76.
 */
struct vu_frontend *vu_frontend_new(const struct vu_frontend_opts *opts)
{
	struct vu_frontend *fe = mmap(NULL, sizeof(*fe), PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	if (fe == MAP_FAILED)
		return NULL;
	if (opts)
		fe->opts = *opts;
	if (!fe->opts.proto_mask)
		fe->opts.proto_mask = VU_FRONTEND_PROTO_SUPPORTED;
	if (!fe->opts.timeout_ms)
		fe->opts.timeout_ms = VU_CONN_DEFAULT_TIMEOUT_MS;
	fe->conn.fd = -1;
	fe->backend_fd = -1;
	fe->backend_conn.fd = -1;
	fe->log_fd = -1;
	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++)
		fe->ring[i].kick_fd = fe->ring[i].call_fd =
			fe->ring[i].err_fd = VU_FRONTEND_FD_NONE;
	fe_reset_state(fe);
	return fe;
}

void vu_frontend_close(struct vu_frontend *fe)
{
	vu_conn_close(&fe->conn);
	fe_reset_state(fe);
}

void vu_frontend_free(struct vu_frontend *fe)
{
	if (!fe)
		return;
	vu_frontend_close(fe);
	munmap(fe, sizeof(*fe));
}

static int setup_backend_channel(struct vu_frontend *fe)
{
	struct vu_msg m;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return fe_fail(fe, -errno, "BACKEND_REQ socketpair: %s",
			       strerror(errno));
	vu_msg_init(&m, VU_SET_BACKEND_REQ_FD);
	m.fds[0] = sv[1];
	m.nfds = 1;
	ret = fe_call(fe, &m, NULL);
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		return ret;
	}
	vu_conn_adopt(&fe->backend_conn, sv[0]);
	fe->backend_conn.timeout_ms = fe->opts.timeout_ms;
	fe->backend_fd = sv[0];
	return 0;
}

/* GET_FEATURES -> GET/SET_PROTOCOL_FEATURES -> QUEUE_NUM -> MAX_MEM_SLOTS
 * -> BACKEND_REQ_FD, as QEMU's vhost_user_backend_init does. */
static int handshake(struct vu_frontend *fe)
{
	uint64_t mask, v;
	int ret;

	fe->connected = true;
	ret = fe_get_u64(fe, VU_GET_FEATURES, &fe->backend_features);
	if (ret)
		return ret;
	if (!(fe->backend_features & PF(VU_F_PROTOCOL_FEATURES)))
		return 0;
	fe->has_proto = true;
	ret = fe_get_u64(fe, VU_GET_PROTOCOL_FEATURES, &fe->backend_proto);
	if (ret)
		return ret;
	mask = fe->opts.proto_mask & VU_FRONTEND_PROTO_SUPPORTED;
	/* IOTLB misses come on the back-end channel. */
	if (!(fe->opts.flags & VU_FRONTEND_F_BACKEND_REQ) &&
	    !(fe->backend_features & PF(VU_F_ACCESS_PLATFORM)))
		mask &= ~PF(VU_PF_BACKEND_REQ);
	v = fe->backend_proto & mask;
	ret = fe_u64(fe, VU_SET_PROTOCOL_FEATURES, v);
	if (ret)
		return ret;
	fe->proto = v;	/* REPLY_ACK applies from the next request on */
	ret = fe_barrier(fe);
	if (ret)
		return ret;
	if (fe->proto & PF(VU_PF_MQ)) {
		ret = fe_get_u64(fe, VU_GET_QUEUE_NUM, &fe->queue_num);
		if (ret)
			return ret;
	}
	if (fe->proto & PF(VU_PF_CONFIGURE_MEM_SLOTS)) {
		ret = fe_get_u64(fe, VU_GET_MAX_MEM_SLOTS, &fe->max_mem_slots);
		if (ret)
			return ret;
		if (fe->max_mem_slots == 0)
			return fe_fail(fe, -EPROTO,
				       "back-end offers CONFIGURE_MEM_SLOTS with 0 slots");
		if (fe->max_mem_slots > VU_FRONTEND_MAX_REGIONS)
			fe->max_mem_slots = VU_FRONTEND_MAX_REGIONS;
	}
	if (fe->proto & PF(VU_PF_BACKEND_REQ)) {
		ret = setup_backend_channel(fe);
		if (ret)
			return ret;
	}
	return 0;
}

int vu_frontend_connect_transport(struct vu_frontend *fe,
				   const struct vu_frontend_transport *t)
{
	int ret;

	if (fe->connected)
		return fe_fail(fe, -EISCONN, "already connected");
	fe->t = *t;
	fe->broken = false;	/* a reconnect (vu_frontend_disconnect) */
	ret = handshake(fe);
	if (ret)
		fe->broken = true;
	return ret;
}

int vu_frontend_connect_fd(struct vu_frontend *fe, int fd)
{
	struct vu_frontend_transport t = { .call = conn_call, .opaque = &fe->conn };

	if (fe->connected)
		return fe_fail(fe, -EISCONN, "already connected");
	vu_conn_adopt(&fe->conn, fd);
	fe->conn.timeout_ms = fe->opts.timeout_ms;
	return vu_frontend_connect_transport(fe, &t);
}

void vu_frontend_adopt_fd(struct vu_frontend *fe, int fd)
{
	vu_conn_adopt(&fe->conn, fd);
	fe->conn.timeout_ms = fe->opts.timeout_ms;
	fe->t = (struct vu_frontend_transport){ .call = conn_call, .opaque = &fe->conn };
	fe->connected = true;
	fe->broken = false;
}

int vu_frontend_connect(struct vu_frontend *fe, const char *path)
{
	struct vu_conn c;
	struct vu_err err;
	int ret;

	if (fe->connected)
		return fe_fail(fe, -EISCONN, "already connected");
	ret = vu_conn_connect(&c, path, &err);
	if (ret)
		return fe_fail(fe, ret, "%s", err.msg);
	return vu_frontend_connect_fd(fe, c.fd);
}

/*
 * The guest's used index of ring @r, read from guest memory: where a
 * back-end that lost its own state resumes.  Rings are in the VMM's address
 * space (vhost-net's addresses), so the memory table maps them to a file.
 */
static void signal_fd(int fd);

static int used_index(struct vu_frontend *fe, const struct vu_frontend_ring *r,
		      uint16_t *idx)
{
	uint64_t a = r->addr.used + 2;	/* struct vring_used { flags; idx; } */
	unsigned int i;

	for (i = 0; i < fe->nmem; i++) {
		const struct vu_frontend_region *m = &fe->mem[i].r;

		if (a < m->uaddr || a - m->uaddr > m->size - sizeof(*idx))
			continue;
		if (pread(m->fd, idx, sizeof(*idx), (off_t)(m->fd_offset + (a - m->uaddr))) ==
		    (ssize_t)sizeof(*idx))
			return 0;
		return fe_fail(fe, -EIO, "ring %u: cannot read its used index: %s",
			       r->addr.index, strerror(errno));
	}
	return fe_fail(fe, -EFAULT, "ring %u: used ring 0x%llx is not in guest memory",
		       r->addr.index, (unsigned long long)r->addr.used);
}

void vu_frontend_disconnect(struct vu_frontend *fe)
{
	unsigned int i;

	vu_conn_close(&fe->conn);
	if (fe->backend_fd >= 0)
		vu_conn_close(&fe->backend_conn);
	fe->backend_fd = -1;
	fe->connected = false;
	fe->broken = true;
	fe->replay_owner |= fe->owner_sent;
	fe->owner_sent = fe->features_sent = fe->mem_sent = false;
	fe->ninstalled = 0;
	fe->status = 0;
	fe->backend_features = fe->backend_proto = fe->proto = 0;
	fe->has_proto = false;
	fe->queue_num = fe->max_mem_slots = 0;
	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++)
		fe->ring[i].started = fe->ring[i].enabled = fe->ring[i].stale = false;
}

void vu_frontend_signal_err(const struct vu_frontend *fe)
{
	unsigned int i;

	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++)
		if (fe->ring[i].have & VU_FRONTEND_RING_ERR)
			signal_fd(fe->ring[i].err_fd);
}

int vu_frontend_replay(struct vu_frontend *fe)
{
	unsigned int i;
	uint16_t used;
	int ret = 0;

	for (i = 0; i < VU_FRONTEND_MAX_RINGS && !ret; i++)
		if (fe->ring[i].want_started) {
			ret = used_index(fe, &fe->ring[i], &used);
			fe->ring[i].base = used;
		}
	if (!ret && fe->replay_owner)
		ret = vu_frontend_set_owner(fe);
	/* the log before the rings start (SET_FEATURES starts them) */
	if (!ret && fe->log_fd >= 0 && (fe->proto & PF(VU_PF_LOG_SHMFD)))
		ret = send_log_base(fe);
	if (!ret && fe->features_set)
		ret = vu_frontend_set_features(fe, fe->features);
	/* A back-end that sleeps until kicked looks at its rings now. */
	for (i = 0; i < VU_FRONTEND_MAX_RINGS && !ret; i++)
		if (fe->ring[i].started)
			signal_fd(fe->ring[i].kick_fd);
	if (ret)
		fe->broken = true;
	else
		fe->replay_owner = false;
	return ret;
}

uint64_t vu_frontend_backend_features(const struct vu_frontend *fe)
{
	return fe->backend_features;
}

bool vu_frontend_has_protocol_features(const struct vu_frontend *fe)
{
	return fe->has_proto;
}

bool vu_frontend_features(const struct vu_frontend *fe, uint64_t *features)
{
	*features = fe->features_set ? fe->features : 0;
	return fe->features_set;
}

bool vu_frontend_ring_started(const struct vu_frontend *fe, unsigned int idx)
{
	return idx < VU_FRONTEND_MAX_RINGS && fe->ring[idx].started;
}

unsigned int vu_frontend_ring_have(const struct vu_frontend *fe, unsigned int idx)
{
	return idx < VU_FRONTEND_MAX_RINGS ? fe->ring[idx].have : 0;
}

int vu_frontend_conn_fd(const struct vu_frontend *fe)
{
	return fe->connected ? fe->conn.fd : -1;
}

bool vu_frontend_broken(const struct vu_frontend *fe)
{
	return fe->broken;
}

/* --- device-level operations ------------------------------------------ */

uint64_t vu_frontend_protocol_features(const struct vu_frontend *fe)
{
	return fe->proto;
}

uint64_t vu_frontend_queue_num(const struct vu_frontend *fe)
{
	return fe->queue_num;
}

unsigned int vu_frontend_mem_slots(const struct vu_frontend *fe)
{
	if (fe->proto & PF(VU_PF_CONFIGURE_MEM_SLOTS))
		return (unsigned int)fe->max_mem_slots;
	return VU_MAX_MEM_REGIONS;
}

int vu_frontend_set_owner(struct vu_frontend *fe)
{
	struct vu_msg m;
	int ret;

	if (fe->owner_sent)
		return fe_fail(fe, -EBUSY, "SET_OWNER: already owned");
	vu_msg_init(&m, VU_SET_OWNER);
	ret = fe_call(fe, &m, NULL);
	if (!ret)
		fe->owner_sent = true;
	return ret;
}

int vu_frontend_get_features(struct vu_frontend *fe, uint64_t *features)
{
	if (!fe->connected || fe->broken)
		return fe_fail(fe, -ENOTCONN, "GET_FEATURES: not connected");
	*features = fe->backend_features & ~VU_FRONTEND_HIDDEN_FEATURES;
	return 0;
}

bool vu_frontend_any_ring_started(const struct vu_frontend *fe)
{
	unsigned int i;

	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++)
		if (fe->ring[i].started)
			return true;
	return false;
}

static int send_pending(struct vu_frontend *fe);

int vu_frontend_set_features(struct vu_frontend *fe, uint64_t features)
{
	uint64_t wire;
	int ret;

	if (features & VU_FRONTEND_HIDDEN_FEATURES ||
	    features & ~fe->backend_features)
		return fe_fail(fe, -EOPNOTSUPP,
			       "SET_FEATURES 0x%llx: bits 0x%llx not offered",
			       (unsigned long long)features,
			       (unsigned long long)(features &
				(VU_FRONTEND_HIDDEN_FEATURES | ~fe->backend_features)));
	/* DPDK rejects (and, without REPLY_ACK, disconnects on) any change
	 * but LOG_ALL while running: refuse here, cleanly. */
	if (fe->features_sent && vu_frontend_any_ring_started(fe) &&
	    ((fe->features ^ features) & ~PF(VU_F_LOG_ALL)))
		return fe_fail(fe, -EBUSY,
			       "SET_FEATURES: only LOG_ALL may change while rings run");
	wire = features;
	if (fe->has_proto)
		wire |= PF(VU_F_PROTOCOL_FEATURES);
	ret = fe_u64(fe, VU_SET_FEATURES, wire);
	if (!ret)
		ret = fe_barrier(fe);
	if (ret)
		return ret;
	fe->features = features;
	fe->features_set = fe->features_sent = true;
	if ((fe->proto & PF(VU_PF_STATUS)) &&
	    !(fe->opts.flags & VU_FRONTEND_F_NO_AUTO_STATUS)) {
		uint8_t st = fe->status | VU_FRONTEND_STATUS_ACKNOWLEDGE |
			     VU_FRONTEND_STATUS_DRIVER | VU_FRONTEND_STATUS_FEATURES_OK;

		ret = fe_u64(fe, VU_SET_STATUS, st);
		if (ret)
			return ret;
		fe->status = st;
	}
	return send_pending(fe);
}

static int send_mem(struct vu_frontend *fe)
{
	struct vu_err lerr;
	struct vu_msg m;
	int ret;
	unsigned int i;

	if (fe->proto & PF(VU_PF_CONFIGURE_MEM_SLOTS)) {
		unsigned int *rem, *add, nrem, nadd, k;
		struct vu_frontend_region *want;

		rem = calloc(VU_FRONTEND_MAX_REGIONS, sizeof(*rem));
		add = calloc(VU_FRONTEND_MAX_REGIONS, sizeof(*add));
		want = calloc(VU_FRONTEND_MAX_REGIONS, sizeof(*want));
		if (!rem || !add || !want) {
			ret = fe_fail(fe, -ENOMEM, "memory table: out of memory");
			goto out_slots;
		}
		for (i = 0; i < fe->nmem; i++)
			want[i] = fe->mem[i].r;
		vu_frontend_mem_diff(fe->installed, fe->ninstalled, want, fe->nmem,
			     rem, &nrem, add, &nadd);
		ret = 0;
		/* Removals first, so that the slot count never exceeds the max. */
		for (i = 0; i < nrem; i++) {
			struct vu_frontend_slot *s = &fe->installed[rem[i]];
			struct vu_mem_region r = {
				.gpa = s->r.gpa, .size = s->r.size,
				.uaddr = s->r.uaddr, .mmap_offset = s->r.fd_offset,
			};

			vu_msg_mem_reg(&m, VU_REM_MEM_REG, &r, -1);
			ret = fe_call(fe, &m, NULL);
			if (ret)
				break;
			fe->nr_rem_mem_reg++;
			s->r.size = 0;	/* tombstone */
		}
		for (i = 0, k = 0; i < fe->ninstalled; i++)
			if (fe->installed[i].r.size)
				fe->installed[k++] = fe->installed[i];
		fe->ninstalled = k;
		for (i = 0; !ret && i < nadd; i++) {
			const struct vu_frontend_region *w = &fe->mem[add[i]].r;
			struct vu_mem_region r = {
				.gpa = w->gpa, .size = w->size,
				.uaddr = w->uaddr, .mmap_offset = w->fd_offset,
			};

			vu_msg_mem_reg(&m, VU_ADD_MEM_REG, &r, w->fd);
			ret = fe_call(fe, &m, NULL);
			if (ret)
				break;
			fe->nr_add_mem_reg++;
			fe->installed[fe->ninstalled].r = *w;
			fe->installed[fe->ninstalled].r.fd = -1;
			fe->ninstalled++;
		}
		if (!ret)
			ret = fe_barrier(fe);
out_slots:
		free(rem);
		free(add);
		free(want);
	} else {
		struct vu_mem_region r[VU_MAX_MEM_REGIONS];
		int fds[VU_MAX_MEM_REGIONS];

		for (i = 0; i < fe->nmem; i++) {
			const struct vu_frontend_region *w = &fe->mem[i].r;

			r[i] = (struct vu_mem_region){
				.gpa = w->gpa, .size = w->size,
				.uaddr = w->uaddr, .mmap_offset = w->fd_offset,
			};
			fds[i] = w->fd;
		}
		ret = vu_msg_mem_table(&m, r, fds, fe->nmem, &lerr);
		if (ret)
			return fe_fail(fe, ret, "%s", lerr.msg);
		ret = fe_call(fe, &m, NULL);
		if (!ret)
			ret = fe_barrier(fe);
		if (ret)
			return ret;
		fe->nr_mem_table_msgs++;
		for (i = 0; i < fe->nmem; i++) {
			fe->installed[i].r = fe->mem[i].r;
			fe->installed[i].r.fd = -1;
		}
		fe->ninstalled = fe->nmem;
	}
	if (!ret)
		fe->mem_sent = true;
	return ret;
}

int vu_frontend_set_mem_table(struct vu_frontend *fe,
			       const struct vu_frontend_region *regions,
			       unsigned int n)
{
	struct vu_frontend_region *tmp;
	struct vu_err lerr;
	unsigned int i, limit;
	int ret = 0;

	if (n > VU_FRONTEND_MAX_REGIONS)
		return fe_fail(fe, -E2BIG, "memory table: %u regions > %u", n,
			       VU_FRONTEND_MAX_REGIONS);
	tmp = calloc(n ? n : 1, sizeof(*tmp));
	if (!tmp)
		return fe_fail(fe, -ENOMEM, "memory table: out of memory");
	for (i = 0; i < n; i++) {
		tmp[i] = regions[i];
		if (!tmp[i].file_dev && !tmp[i].file_ino) {
			struct stat st;

			if (fstat(tmp[i].fd, &st)) {
				ret = fe_fail(fe, -EBADF, "memory region %u: bad fd %d",
					      i, tmp[i].fd);
				goto out;
			}
			tmp[i].file_dev = st.st_dev;
			tmp[i].file_ino = st.st_ino;
		}
	}
	ret = vu_frontend_mem_merge(tmp, &n, &lerr);
	if (ret) {
		fe_fail(fe, ret, "memory table: %s", lerr.msg);
		goto out;
	}
	limit = vu_frontend_mem_slots(fe);
	if (n > limit) {
		ret = fe_fail(fe, -E2BIG,
			      "memory table: %u regions after merging, the back-end takes at most %u%s",
			      n, limit,
			      (fe->proto & PF(VU_PF_CONFIGURE_MEM_SLOTS)) ? " (GET_MAX_MEM_SLOTS)"
			      : " (no CONFIGURE_MEM_SLOTS: one SET_MEM_TABLE)");
		goto out;
	}
	for (i = 0; i < n; i++) {
		int d = fcntl(tmp[i].fd, F_DUPFD_CLOEXEC, 3);

		if (d < 0) {
			ret = fe_fail(fe, -errno, "memory region %u: dup: %s", i,
				      strerror(errno));
			while (i--)
				close(tmp[i].fd);
			goto out;
		}
		tmp[i].fd = d;
	}
	for (i = 0; i < fe->nmem; i++)
		close_fd(&fe->mem[i].r.fd);
	for (i = 0; i < n; i++)
		fe->mem[i].r = tmp[i];
	fe->nmem = n;
	fe->mem_set = true;
	fe->mem_sent = false;
	if (fe->features_sent)
		ret = send_mem(fe);
	if (!ret)
		ret = send_pending(fe);
out:
	free(tmp);
	return ret;
}

int vu_frontend_set_status(struct vu_frontend *fe, uint8_t status)
{
	int ret;

	if (!(fe->proto & PF(VU_PF_STATUS)))
		return fe_fail(fe, -EOPNOTSUPP, "SET_STATUS: F_STATUS not negotiated");
	ret = fe_u64(fe, VU_SET_STATUS, status);
	if (!ret)
		fe->status = status;
	return ret;
}

int vu_frontend_get_status(struct vu_frontend *fe, uint8_t *status)
{
	uint64_t v;
	int ret;

	if (!(fe->proto & PF(VU_PF_STATUS))) {
		*status = fe->status;
		return 0;
	}
	ret = fe_get_u64(fe, VU_GET_STATUS, &v);
	if (!ret)
		*status = (uint8_t)v;
	return ret;
}

static int send_log_base(struct vu_frontend *fe)
{
	struct vu_msg m, r;

	vu_msg_init(&m, VU_SET_LOG_BASE);
	m.size = sizeof(struct vu_log);
	m.p.log.size = fe->log_size;
	m.p.log.offset = fe->log_offset;
	m.fds[0] = fe->log_fd;
	m.nfds = 1;
	return fe_call(fe, &m, &r);
}

int vu_frontend_set_log_base(struct vu_frontend *fe, int fd, uint64_t size,
			      uint64_t offset)
{
	uint64_t old_size = fe->log_size, old_offset = fe->log_offset;
	int old = fe->log_fd, d, ret;

	if (!(fe->proto & PF(VU_PF_LOG_SHMFD)))
		return fe_fail(fe, -EOPNOTSUPP, "SET_LOG_BASE: LOG_SHMFD not negotiated");
	d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (d < 0)
		return fe_fail(fe, -EBADF, "SET_LOG_BASE: bad fd %d", fd);
	fe->log_fd = d;
	fe->log_size = size;
	fe->log_offset = offset;
	ret = send_log_base(fe);
	if (ret) {
		/* the back-end keeps the log it had */
		fe->log_fd = old;
		fe->log_size = old_size;
		fe->log_offset = old_offset;
		old = d;
	}
	close_fd(&old);
	return ret;
}

int vu_frontend_set_log_fd(struct vu_frontend *fe, int fd)
{
	struct vu_msg m;

	if (!(fe->proto & PF(VU_PF_LOG_SHMFD)))
		return fe_fail(fe, -EOPNOTSUPP, "SET_LOG_FD: LOG_SHMFD not negotiated");
	vu_msg_init(&m, VU_SET_LOG_FD);
	m.fds[0] = fd;
	m.nfds = 1;
	return fe_call(fe, &m, NULL);
}

int vu_frontend_get_config(struct vu_frontend *fe, uint32_t offset,
			    void *buf, uint32_t size)
{
	struct vu_err lerr;
	struct vu_msg m, r;
	int ret;

	if (!(fe->proto & PF(VU_PF_CONFIG)))
		return fe_fail(fe, -EOPNOTSUPP, "GET_CONFIG: CONFIG not negotiated");
	ret = vu_msg_config(&m, VU_GET_CONFIG, offset, size, 0, NULL, &lerr);
	if (ret)
		return fe_fail(fe, ret, "%s", lerr.msg);
	ret = fe_call(fe, &m, &r);
	if (!ret)
		memcpy(buf, r.p.config.region, size);
	return ret;
}

int vu_frontend_set_config(struct vu_frontend *fe, uint32_t offset,
			    const void *buf, uint32_t size, uint32_t flags)
{
	struct vu_err lerr;
	struct vu_msg m;
	int ret;

	if (!(fe->proto & PF(VU_PF_CONFIG)))
		return fe_fail(fe, -EOPNOTSUPP, "SET_CONFIG: CONFIG not negotiated");
	ret = vu_msg_config(&m, VU_SET_CONFIG, offset, size, flags, buf, &lerr);
	if (ret)
		return fe_fail(fe, ret, "%s", lerr.msg);
	return fe_call(fe, &m, NULL);
}

int vu_frontend_net_set_mtu(struct vu_frontend *fe, uint16_t mtu)
{
	if (!(fe->proto & PF(VU_PF_MTU)))
		return fe_fail(fe, -EOPNOTSUPP, "NET_SET_MTU: MTU not negotiated");
	return fe_u64(fe, VU_NET_SET_MTU, mtu);
}

int vu_frontend_send_rarp(struct vu_frontend *fe, const uint8_t mac[6])
{
	uint64_t v = 0;

	if (!(fe->proto & PF(VU_PF_RARP)))
		return fe_fail(fe, -EOPNOTSUPP, "SEND_RARP: RARP not negotiated");
	memcpy(&v, mac, 6);
	return fe_u64(fe, VU_SEND_RARP, v);
}

/* --- rings ------------------------------------------------------------- */

static struct vu_frontend_ring *ring_get(struct vu_frontend *fe, unsigned int idx,
				    const char *what)
{
	if (idx >= VU_FRONTEND_MAX_RINGS) {
		fe_fail(fe, -ENOBUFS, "%s: ring index %u > %u", what, idx,
			VU_FRONTEND_MAX_RINGS - 1);
		return NULL;
	}
	return &fe->ring[idx];
}

int vu_frontend_set_vring_num(struct vu_frontend *fe, unsigned int idx,
			       uint32_t num)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "SET_VRING_NUM");

	if (!r)
		return -ENOBUFS;
	if (r->started)
		return fe_fail(fe, -EBUSY, "SET_VRING_NUM: ring %u is running", idx);
	if (!num || num > 32768 || (num & (num - 1)))
		return fe_fail(fe, -EINVAL,
			       "SET_VRING_NUM: %u is not a power of 2 in 1..32768",
			       num);
	r->num = num;
	r->have |= VU_FRONTEND_RING_NUM;
	return 0;
}

int vu_frontend_set_vring_base(struct vu_frontend *fe, unsigned int idx,
				uint32_t base)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "SET_VRING_BASE");

	if (!r)
		return -ENOBUFS;
	if (r->started)
		return fe_fail(fe, -EBUSY, "SET_VRING_BASE: ring %u is running", idx);
	if (!(fe->features & PF(VU_F_RING_PACKED)) && base > 0xffff)
		return fe_fail(fe, -EINVAL, "SET_VRING_BASE: %u > 0xffff (split)",
			       base);
	r->base = base;
	r->have |= VU_FRONTEND_RING_BASE;
	return 0;
}

int vu_frontend_set_vring_addr(struct vu_frontend *fe,
				const struct vu_vring_addr *a)
{
	struct vu_frontend_ring *r = ring_get(fe, a->index, "SET_VRING_ADDR");
	struct vu_msg m;

	if (!r)
		return -ENOBUFS;
	if (a->flags & ~VU_VRING_F_LOG)
		return fe_fail(fe, -EOPNOTSUPP, "SET_VRING_ADDR: flags 0x%x",
			       a->flags);
	if ((a->desc & 15) || (a->avail & 1) || (a->used & 3))
		return fe_fail(fe, -EINVAL,
			       "SET_VRING_ADDR: ring %u misaligned (desc 16, avail 2, used 4)",
			       a->index);
	r->addr = *a;
	r->have |= VU_FRONTEND_RING_ADDR;
	if (!r->started)
		return 0;
	/* Running: forward (e.g. the log flag toggled for migration). */
	vu_msg_addr(&m, a);
	return fe_call(fe, &m, NULL);
}

static int cache_fd(struct vu_frontend *fe, int *slot, int fd,
		    const char *what)
{
	int d = fd;

	if (fd >= 0) {
		d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (d < 0)
			return fe_fail(fe, -EBADF, "%s: bad fd %d", what, fd);
	} else if (fd != VU_FRONTEND_FD_NONE && fd != VU_FRONTEND_FD_NOFD) {
		return fe_fail(fe, -EBADF, "%s: bad fd %d", what, fd);
	}
	close_fd(slot);
	*slot = d;
	return 0;
}

int vu_frontend_set_vring_kick(struct vu_frontend *fe, unsigned int idx,
				int fd)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "SET_VRING_KICK");
	int ret;

	if (!r)
		return -ENOBUFS;
	if (fd == VU_FRONTEND_FD_NONE && r->started) {
		/* Unbind is not NOFD (which means "poll"): stop the ring. */
		uint32_t base;

		ret = vu_frontend_stop_vring(fe, idx, &base);
		if (ret)
			return ret;
	}
	ret = cache_fd(fe, &r->kick_fd, fd, "SET_VRING_KICK");
	if (ret)
		return ret;
	if (fd == VU_FRONTEND_FD_NONE)
		r->have &= ~VU_FRONTEND_RING_KICK;
	else
		r->have |= VU_FRONTEND_RING_KICK;
	if (r->started)
		return fe_vring_fd(fe, VU_SET_VRING_KICK, idx, r->kick_fd);
	return 0;
}

int vu_frontend_set_vring_call(struct vu_frontend *fe, unsigned int idx,
				int fd)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "SET_VRING_CALL");
	int ret;

	if (!r)
		return -ENOBUFS;
	ret = cache_fd(fe, &r->call_fd, fd, "SET_VRING_CALL");
	if (ret)
		return ret;
	r->have |= VU_FRONTEND_RING_CALL;
	/* Forward at once: VMMs swap CALL at run time (MSI-X masking). */
	if (fe->connected)
		return fe_vring_fd(fe, VU_SET_VRING_CALL, idx, r->call_fd);
	return 0;
}

int vu_frontend_set_vring_err(struct vu_frontend *fe, unsigned int idx,
			       int fd)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "SET_VRING_ERR");
	int ret;

	if (!r)
		return -ENOBUFS;
	ret = cache_fd(fe, &r->err_fd, fd, "SET_VRING_ERR");
	if (ret)
		return ret;
	r->have |= VU_FRONTEND_RING_ERR;
	if (fe->connected)
		return fe_vring_fd(fe, VU_SET_VRING_ERR, idx, r->err_fd);
	return 0;
}

int vu_frontend_set_vring_enable(struct vu_frontend *fe, unsigned int idx,
				  bool enable)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "SET_VRING_ENABLE");
	int ret;

	if (!r)
		return -ENOBUFS;
	if (!fe->has_proto)
		return fe_fail(fe, -EOPNOTSUPP,
			       "SET_VRING_ENABLE: rings are always enabled without PROTOCOL_FEATURES");
	r->enable = enable;
	if (!r->started)
		return 0;
	ret = fe_state(fe, VU_SET_VRING_ENABLE, idx, enable);
	if (!ret)
		r->enabled = enable;
	return ret;
}

/* DRIVER_OK once every ring of the device model runs (DPDK waits for it). */
static int check_driver_ok(struct vu_frontend *fe)
{
	unsigned int i;
	uint8_t st;
	int ret;

	if (!(fe->proto & PF(VU_PF_STATUS)) ||
	    (fe->opts.flags & VU_FRONTEND_F_NO_AUTO_STATUS) || !fe->opts.nr_rings ||
	    (fe->status & VU_FRONTEND_STATUS_DRIVER_OK))
		return 0;
	for (i = 0; i < fe->opts.nr_rings && i < VU_FRONTEND_MAX_RINGS; i++)
		if (!fe->ring[i].started)
			return 0;
	st = fe->status | VU_FRONTEND_STATUS_ACKNOWLEDGE | VU_FRONTEND_STATUS_DRIVER |
	     VU_FRONTEND_STATUS_FEATURES_OK | VU_FRONTEND_STATUS_DRIVER_OK;
	ret = fe_u64(fe, VU_SET_STATUS, st);
	if (!ret)
		fe->status = st;
	return ret;
}

/*
 * A GET_VRING_BASE on one ring takes the whole device down in DPDK, and its
 * vhost PMD then forgets the enabled state of every queue; a ring that stayed
 * started is only re-announced by a ring state transition, which a SET_VRING_CALL
 * (or KICK) produces.  Re-sending the same CALL is neutral for other
 * back-ends: CALL may change at any time.
 */
static int refresh_stale(struct vu_frontend *fe)
{
	unsigned int i;
	int ret;

	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++) {
		ret = vu_frontend_refresh_vring(fe, i);
		if (ret)
			return ret;
	}
	return 0;
}

int vu_frontend_refresh_vring(struct vu_frontend *fe, unsigned int idx)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "refresh ring");
	int ret;

	if (!r)
		return -ENOBUFS;
	if (!r->started || !r->stale)
		return 0;
	if (r->have & VU_FRONTEND_RING_CALL)
		ret = fe_vring_fd(fe, VU_SET_VRING_CALL, idx, r->call_fd);
	else
		ret = fe_vring_fd(fe, VU_SET_VRING_KICK, idx, r->kick_fd);
	if (!ret)
		r->stale = false;
	return ret;
}

/* Canonical replay: NUM -> BASE -> ADDR -> KICK -> CALL [-> ERR] -> ENABLE. */
static int start_ring(struct vu_frontend *fe, unsigned int idx)
{
	struct vu_frontend_ring *r = &fe->ring[idx];
	struct vu_msg m;
	int ret;

	ret = fe_state(fe, VU_SET_VRING_NUM, idx, r->num);
	if (!ret)
		ret = fe_state(fe, VU_SET_VRING_BASE, idx, r->base);
	if (!ret) {
		vu_msg_addr(&m, &r->addr);
		ret = fe_call(fe, &m, NULL);
	}
	if (!ret)
		ret = fe_vring_fd(fe, VU_SET_VRING_KICK, idx, r->kick_fd);
	if (!ret && (r->have & VU_FRONTEND_RING_CALL))
		ret = fe_vring_fd(fe, VU_SET_VRING_CALL, idx, r->call_fd);
	if (!ret && (r->have & VU_FRONTEND_RING_ERR))
		ret = fe_vring_fd(fe, VU_SET_VRING_ERR, idx, r->err_fd);
	if (!ret && fe->has_proto && r->enable) {
		ret = fe_state(fe, VU_SET_VRING_ENABLE, idx, 1);
		if (!ret)
			r->enabled = true;
	}
	if (!ret)
		ret = fe_barrier(fe);
	if (ret)
		return ret;
	r->started = true;
	r->stale = false;
	return refresh_stale(fe);
}

/* Send what was waiting for FEATURES (memory, deferred ring starts). */
static int send_pending(struct vu_frontend *fe)
{
	unsigned int i;
	int ret;

	if (!fe->features_sent)
		return 0;
	if (fe->mem_set && !fe->mem_sent) {
		ret = send_mem(fe);
		if (ret)
			return ret;
	}
	if (!fe->mem_sent)
		return 0;
	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++) {
		struct vu_frontend_ring *r = &fe->ring[i];

		if (r->want_started && !r->started) {
			ret = start_ring(fe, i);
			if (ret)
				return ret;
		}
	}
	return check_driver_ok(fe);
}

int vu_frontend_start_vring(struct vu_frontend *fe, unsigned int idx)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "start ring");

	if (!r)
		return -ENOBUFS;
	if (!fe->connected || fe->broken)
		return fe_fail(fe, -ENOTCONN, "start ring %u: not connected", idx);
	if ((r->have & (VU_FRONTEND_RING_NUM | VU_FRONTEND_RING_ADDR | VU_FRONTEND_RING_KICK)) !=
	    (VU_FRONTEND_RING_NUM | VU_FRONTEND_RING_ADDR | VU_FRONTEND_RING_KICK))
		return fe_fail(fe, -EINVAL,
			       "start ring %u: not set up (missing%s%s%s)", idx,
			       (r->have & VU_FRONTEND_RING_NUM) ? "" : " NUM",
			       (r->have & VU_FRONTEND_RING_ADDR) ? "" : " ADDR",
			       (r->have & VU_FRONTEND_RING_KICK) ? "" : " KICK");
	if (r->started)
		return 0;
	r->want_started = true;
	return send_pending(fe);
}

int vu_frontend_stop_vring(struct vu_frontend *fe, unsigned int idx,
			    uint32_t *base)
{
	struct vu_frontend_ring *r = ring_get(fe, idx, "GET_VRING_BASE");
	struct vu_msg m, rep;
	int ret;

	if (!r)
		return -ENOBUFS;
	r->want_started = false;
	if (!r->started) {
		*base = r->base;
		return 0;
	}
	vu_msg_state(&m, VU_GET_VRING_BASE, idx, 0);
	ret = fe_call(fe, &m, &rep);
	if (ret)
		return ret;
	r->base = rep.p.state.num;
	r->have |= VU_FRONTEND_RING_BASE;
	r->started = false;
	r->stale = false;
	r->enabled = false;
	for (unsigned int i = 0; i < VU_FRONTEND_MAX_RINGS; i++)
		if (fe->ring[i].started)
			fe->ring[i].stale = true;
	/* The back-end is no longer driven: DRIVER_OK goes out again on the
	 * next full start (harmless for back-ends that kept it). */
	fe->status &= (uint8_t)~VU_FRONTEND_STATUS_DRIVER_OK;
	*base = r->base;
	return 0;
}

void vu_frontend_forget_vring(struct vu_frontend *fe, unsigned int idx)
{
	if (idx >= VU_FRONTEND_MAX_RINGS || fe->ring[idx].started)
		return;
	ring_reset(fe, &fe->ring[idx]);
}

int vu_frontend_vring_base(const struct vu_frontend *fe, unsigned int idx,
			    uint32_t *base)
{
	if (idx >= VU_FRONTEND_MAX_RINGS)
		return -ENOBUFS;
	*base = fe->ring[idx].base;
	return 0;
}

int vu_frontend_reset_device(struct vu_frontend *fe)
{
	unsigned int i;
	uint32_t base;
	int ret;

	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++) {
		if (fe->ring[i].started) {
			ret = vu_frontend_stop_vring(fe, i, &base);
			if (ret)
				return ret;
		}
	}
	if (fe->proto & PF(VU_PF_RESET_DEVICE)) {
		struct vu_msg m;

		vu_msg_init(&m, VU_RESET_DEVICE);
		ret = fe_call(fe, &m, NULL);
		if (ret)
			return ret;
	} else if (fe->proto & PF(VU_PF_STATUS)) {
		ret = fe_u64(fe, VU_SET_STATUS, 0);
		if (ret)
			return ret;
	}
	fe->status = 0;
	/* The back-end forgot features and memory: send them again. */
	fe->features_sent = false;
	fe->features_set = false;
	fe->mem_sent = false;
	fe->ninstalled = 0;
	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++) {
		fe->ring[i].base = 0;
		fe->ring[i].want_started = false;
	}
	return 0;
}

/* --- back-end channel --------------------------------------------------- */

int vu_frontend_backend_fd(const struct vu_frontend *fe)
{
	return fe->backend_fd;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* an eventfd at its maximum: the wakeup is pending anyway */
	}
}

int vu_frontend_handle_backend(struct vu_frontend *fe)
{
	struct pollfd p = { .fd = fe->backend_fd, .events = POLLIN };
	struct vu_msg m, rep;
	struct vu_err err;
	uint64_t status = 0;
	bool reply;
	int ret;

	if (fe->backend_fd < 0)
		return 0;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	ret = vu_conn_recv(&fe->backend_conn, &m, &err);
	if (!ret)
		ret = vu_check_request(VU_CHAN_BACKEND, &m, &err);
	if (ret) {
		vu_msg_close_fds(&m);
		vu_conn_close(&fe->backend_conn);
		fe->backend_fd = -1;
		return fe_fail(fe, ret, "back-end channel closed: %s", err.msg);
	}
	fe->nr_backend_reqs++;
	switch (m.request) {
	case VU_BACKEND_CONFIG_CHANGE_MSG:
		break;		/* nothing cached to invalidate */
	case VU_BACKEND_IOTLB_MSG:
		fe->nr_backend_iotlb++;
		status = !fe->iotlb_fn || fe->iotlb_fn(fe->iotlb_opaque, &m.p.iotlb);
		break;
	case VU_BACKEND_VRING_CALL:
	case VU_BACKEND_VRING_ERR:
		if (m.p.state.index < VU_FRONTEND_MAX_RINGS)
			signal_fd(m.request == VU_BACKEND_VRING_CALL ?
				  fe->ring[m.p.state.index].call_fd :
				  fe->ring[m.p.state.index].err_fd);
		else
			status = 1;
		break;
	default:
		/* Host notifiers, shared objects: refused; any fd that
		 * came with them is closed below. */
		status = 1;
		break;
	}
	vu_msg_close_fds(&m);
	reply = vu_expects_reply(VU_CHAN_BACKEND, &m, fe->proto);
	if (!reply)
		return (int)m.request;
	vu_msg_u64(&rep, m.request, status);
	rep.flags = VU_REPLY_FLAGS;
	ret = vu_conn_send(&fe->backend_conn, VU_CHAN_BACKEND, &rep, &err);
	if (ret) {
		vu_conn_close(&fe->backend_conn);
		fe->backend_fd = -1;
		return fe_fail(fe, ret, "back-end channel: %s", err.msg);
	}
	return (int)m.request;
}

void vu_frontend_set_iotlb_handler(struct vu_frontend *fe,
				   int (*fn)(void *opaque, const struct vu_iotlb *m),
				   void *opaque)
{
	fe->iotlb_fn = fn;
	fe->iotlb_opaque = opaque;
}

/* --- IOTLB ---------------------------------------------------------------- */

bool vu_frontend_has_iotlb(const struct vu_frontend *fe)
{
	const uint64_t need = PF(VU_PF_REPLY_ACK) | PF(VU_PF_BACKEND_REQ);

	return (fe->backend_features & PF(VU_F_ACCESS_PLATFORM)) &&
	       (fe->proto & need) == need && fe->backend_fd >= 0;
}

int vu_frontend_iotlb_msg(struct vu_frontend *fe, const struct vu_iotlb *iotlb)
{
	struct vu_msg m, r;
	int ret;

	if (!vu_frontend_has_iotlb(fe))
		return fe_fail(fe, -EOPNOTSUPP,
			       "IOTLB_MSG: the back-end takes no IOTLB messages (needs ACCESS_PLATFORM, REPLY_ACK and BACKEND_REQ)");
	vu_msg_init(&m, VU_IOTLB_MSG);
	m.size = sizeof(m.p.iotlb);
	m.p.iotlb = *iotlb;
	/* The reply is asked for: DPDK sends one only then, as QEMU asks. */
	m.flags |= VU_FLAG_NEED_REPLY;
	ret = fe_call(fe, &m, &r);
	if (ret)
		return ret;
	if (r.p.u64)
		return fe_fail(fe, -EFAULT,
			       "back-end refused IOTLB_MSG type %u iova %#llx size %#llx uaddr %#llx perm %u (status %llu)",
			       iotlb->type, (unsigned long long)iotlb->iova,
			       (unsigned long long)iotlb->size,
			       (unsigned long long)iotlb->uaddr, iotlb->perm,
			       (unsigned long long)r.p.u64);
	fe->nr_iotlb_msgs++;
	return 0;
}
