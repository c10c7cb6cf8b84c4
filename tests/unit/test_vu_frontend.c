// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for bridged/vu_frontend against a mock back-end transport: no
 * sockets, no back-end process.  Every request the front-end emits is checked
 * with the codec (size, fds, flags) and recorded, so the tests can assert the
 * exact order of messages.
 */
#include "../../bridged/vu_frontend.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DPDK_FEATURES	0x0000000d7c66e7cbull	/* dpdk-testpmd 22.11's vhost PMD */
#define DPDK_PROTO	0x10cbfull
#define QSD_FEATURES	0x0000000175007e46ull
#define QSD_PROTO	0x8f2bull

struct rec {
	uint32_t request;
	uint32_t flags;
	union vu_payload p;
	unsigned int nfds;
};

struct mock {
	uint64_t features, proto, slots, status;
	uint32_t vring_base[8];
	uint32_t nack_request;		/* REPLY_ACK status 1 for this one */
	int fail_request;		/* transport error on this one */
	int bad_reqs;			/* requests the codec rejected */
	struct rec log[512];
	unsigned int n;
	int backend_peer;		/* our end of BACKEND_REQ */
};

static int mock_call(void *opaque, const struct vu_msg *req,
		     struct vu_msg *reply, uint64_t proto, struct vu_err *err)
{
	struct mock *mk = opaque;
	struct vu_err e;
	struct rec *r;

	(void)proto;
	if (vu_check_request(VU_CHAN_FRONTEND, req, &e)) {
		TAP_DIAG("front-end sent a bad request: %s", e.msg);
		mk->bad_reqs++;
	}
	if ((int)req->request == mk->fail_request) {
		err->code = -ECONNRESET;
		snprintf(err->msg, sizeof(err->msg), "mock: connection reset");
		return -ECONNRESET;
	}
	if (mk->n < 512) {
		r = &mk->log[mk->n++];
		r->request = req->request;
		r->flags = req->flags;
		r->p = req->p;
		r->nfds = req->nfds;
	}
	memset(reply, 0, sizeof(*reply));
	reply->request = req->request;
	reply->flags = VU_REPLY_FLAGS;
	switch (req->request) {
	case VU_GET_FEATURES:
		vu_msg_u64(reply, req->request, mk->features);
		break;
	case VU_GET_PROTOCOL_FEATURES:
		vu_msg_u64(reply, req->request, mk->proto);
		break;
	case VU_GET_QUEUE_NUM:
		vu_msg_u64(reply, req->request, 4);
		break;
	case VU_GET_MAX_MEM_SLOTS:
		vu_msg_u64(reply, req->request, mk->slots);
		break;
	case VU_GET_STATUS:
		vu_msg_u64(reply, req->request, mk->status);
		break;
	case VU_GET_VRING_BASE:
		vu_msg_state(reply, req->request, req->p.state.index,
			     mk->vring_base[req->p.state.index & 7]);
		break;
	case VU_SET_BACKEND_REQ_FD:
		mk->backend_peer = dup(req->fds[0]);
		goto ack;
	case VU_SET_STATUS:
		mk->status = req->p.u64;
		goto ack;
	default:
ack:
		if (!(req->flags & VU_FLAG_NEED_REPLY))
			return 0;
		vu_msg_u64(reply, req->request,
			   req->request == mk->nack_request ? 1 : 0);
		break;
	}
	reply->flags = VU_REPLY_FLAGS;
	return vu_check_reply(VU_CHAN_FRONTEND, req, reply, err);
}

static void quiet(void *opaque, const char *msg)
{
	(void)opaque;
	(void)msg;
}

static struct vu_frontend *mkfe(struct mock *mk, uint64_t features,
				 uint64_t proto, unsigned int flags)
{
	struct vu_frontend_opts o = { .nr_rings = 2, .flags = flags,
				       .log = quiet };
	struct vu_frontend_transport t = { .call = mock_call, .opaque = mk };
	struct vu_frontend *fe = vu_frontend_new(&o);

	memset(mk, 0, sizeof(*mk));
	mk->features = features;
	mk->proto = proto;
	mk->slots = 32;
	mk->fail_request = -1;
	mk->backend_peer = -1;
	if (vu_frontend_connect_transport(fe, &t))
		TAP_DIAG("connect: %s", vu_frontend_strerror(fe));
	return fe;
}

/* Does the log from position `from` contain exactly this request sequence? */
static int seq_is(const struct mock *mk, unsigned int from,
		  const uint32_t *want, unsigned int n)
{
	unsigned int i;

	if (mk->n - from != n) {
		TAP_DIAG("expected %u messages, got %u:", n, mk->n - from);
		for (i = from; i < mk->n; i++)
			TAP_DIAG("  %s", vu_req_name(VU_CHAN_FRONTEND,
						     mk->log[i].request));
		return 0;
	}
	for (i = 0; i < n; i++)
		if (mk->log[from + i].request != want[i]) {
			TAP_DIAG("message %u: %s, expected %s", i,
				 vu_req_name(VU_CHAN_FRONTEND, mk->log[from + i].request),
				 vu_req_name(VU_CHAN_FRONTEND, want[i]));
			return 0;
		}
	return 1;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static int memfd(size_t size)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size))
		abort();
	return fd;
}

/* Set up ring idx with ring memory at a fake address inside region 0. */
static void ring_setup(struct vu_frontend *fe, unsigned int idx, int kick,
		       int call)
{
	struct vu_vring_addr a = {
		.index = idx,
		.desc = 0x7f0000000000ull + idx * 0x10000,
		.avail = 0x7f0000000000ull + idx * 0x10000 + 0x1000,
		.used = 0x7f0000000000ull + idx * 0x10000 + 0x2000,
	};

	vu_frontend_set_vring_num(fe, idx, 256);
	vu_frontend_set_vring_addr(fe, &a);
	vu_frontend_set_vring_kick(fe, idx, kick);
	vu_frontend_set_vring_call(fe, idx, call);
}

static void test_handshake_dpdk(void)
{
	struct mock mk;
	struct vu_frontend *fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO, 0);
	static const uint32_t hs[] = { VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES,
				       VU_SET_PROTOCOL_FEATURES, VU_GET_QUEUE_NUM };
	uint64_t f = 0, want_proto;

	TAP_OK(seq_is(&mk, 0, hs, 4),
	       "DPDK handshake: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM");
	want_proto = DPDK_PROTO & VU_FRONTEND_PROTO_SUPPORTED & ~(1ull << VU_PF_BACKEND_REQ);
	TAP_OK(mk.log[2].p.u64 == want_proto,
	       "protocol features 0x%llx: offered & supported, BACKEND_REQ only on request",
	       (unsigned long long)mk.log[2].p.u64);
	TAP_OK(!(mk.log[2].flags & VU_FLAG_NEED_REPLY) &&
	       (mk.log[3].flags & VU_FLAG_NEED_REPLY) == 0,
	       "no NEED_REPLY before REPLY_ACK is negotiated, none on GET_*");
	TAP_OK(vu_frontend_queue_num(fe) == 4 &&
	       vu_frontend_mem_slots(fe) == 8, "queue num 4, 8 memory slots");
	vu_frontend_get_features(fe, &f);
	TAP_OK(f == (DPDK_FEATURES & ~(1ull << 30)),
	       "bit 30 hidden from the caller");
	TAP_OK(mk.bad_reqs == 0, "every request well-formed");
	vu_frontend_free(fe);
}

static void test_features(void)
{
	struct mock mk;
	struct vu_frontend *fe = mkfe(&mk, DPDK_FEATURES | (1ull << 40),
				       DPDK_PROTO, 0);
	uint64_t f;
	unsigned int at;

	vu_frontend_get_features(fe, &f);
	TAP_OK(!(f & (1ull << 40)), "RING_RESET never advertised");
	at = mk.n;
	TAP_OK(vu_frontend_set_features(fe, 1ull << 30) == -EOPNOTSUPP &&
	       mk.n == at, "caller setting bit 30: -EOPNOTSUPP, nothing sent");
	TAP_OK(vu_frontend_set_features(fe, 1ull << 2) == -EOPNOTSUPP,
	       "caller setting an unoffered bit: -EOPNOTSUPP");
	TAP_OK(vu_frontend_set_features(fe, 1ull << 32) == 0, "SET_FEATURES ok");
	{
		static const uint32_t s[] = { VU_SET_FEATURES, VU_SET_STATUS };

		TAP_OK(seq_is(&mk, at, s, 2),
		       "SET_FEATURES then synthesized SET_STATUS");
	}
	TAP_OK(mk.log[at].p.u64 == ((1ull << 32) | (1ull << 30)),
	       "bit 30 added back on the wire");
	TAP_OK(mk.log[at].flags == (VU_VERSION | VU_FLAG_NEED_REPLY),
	       "NEED_REPLY set (REPLY_ACK)");
	TAP_OK(mk.log[at + 1].p.u64 == 0x0b, "status ACK|DRIVER|FEATURES_OK");

	mk.nack_request = VU_SET_FEATURES;
	TAP_OK(vu_frontend_set_features(fe, 1ull << 32) == -EOPNOTSUPP,
	       "back-end refusal of SET_FEATURES becomes -EOPNOTSUPP");
	mk.nack_request = 0;
	TAP_OK(vu_frontend_set_owner(fe) == 0, "front-end still usable after a refusal");
	TAP_OK(vu_frontend_set_owner(fe) == -EBUSY, "second SET_OWNER: -EBUSY");
	vu_frontend_free(fe);

	/* No REPLY_ACK: a GET_FEATURES barrier follows */
	fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO & ~(1ull << VU_PF_REPLY_ACK), 0);
	at = mk.n;
	vu_frontend_set_features(fe, 1ull << 32);
	{
		static const uint32_t s[] = { VU_SET_FEATURES, VU_GET_FEATURES,
					      VU_SET_STATUS };

		TAP_OK(seq_is(&mk, at, s, 3),
		       "without REPLY_ACK a GET_FEATURES barrier follows SET_FEATURES");
	}
	vu_frontend_free(fe);

	/* No PROTOCOL_FEATURES at all */
	fe = mkfe(&mk, DPDK_FEATURES & ~(1ull << 30), 0, 0);
	TAP_OK(mk.n == 1 && vu_frontend_protocol_features(fe) == 0,
	       "legacy back-end: only GET_FEATURES at connect");
	at = mk.n;
	vu_frontend_set_features(fe, 1ull << 32);
	TAP_OK(mk.log[at].p.u64 == (1ull << 32), "legacy: bit 30 not added");
	TAP_OK(vu_frontend_set_vring_enable(fe, 0, true) == -EOPNOTSUPP,
	       "legacy: SET_VRING_ENABLE refused locally");
	vu_frontend_free(fe);
}

static void test_mem_merge(void)
{
	struct vu_frontend_region r[4];
	struct vu_err err;
	unsigned int n;

	memset(r, 0, sizeof(r));
	/* three pieces of one file, out of order, contiguous */
	r[0] = (struct vu_frontend_region){ 0x100000, 0x100000, 0x7000100000, 0x100000, 5, 1, 9 };
	r[1] = (struct vu_frontend_region){ 0x0, 0x100000, 0x7000000000, 0x0, 5, 1, 9 };
	r[2] = (struct vu_frontend_region){ 0x200000, 0x200000, 0x7000200000, 0x200000, 5, 1, 9 };
	n = 3;
	TAP_OK(vu_frontend_mem_merge(r, &n, &err) == 0 && n == 1 && r[0].gpa == 0 &&
	       r[0].size == 0x400000, "3 contiguous pieces of one file merge into 1");

	/* a gap in the file offset prevents merging */
	r[0] = (struct vu_frontend_region){ 0x0, 0x1000, 0x7000000000, 0x0, 5, 1, 9 };
	r[1] = (struct vu_frontend_region){ 0x1000, 0x1000, 0x7000001000, 0x2000, 5, 1, 9 };
	n = 2;
	TAP_OK(vu_frontend_mem_merge(r, &n, &err) == 0 && n == 2,
	       "offset gap: not merged");
	/* another file */
	r[1] = (struct vu_frontend_region){ 0x1000, 0x1000, 0x7000001000, 0x1000, 6, 1, 10 };
	n = 2;
	TAP_OK(vu_frontend_mem_merge(r, &n, &err) == 0 && n == 2,
	       "different file: not merged");
	/* x86 low-RAM hole: gpa gap but uaddr contiguous */
	r[1] = (struct vu_frontend_region){ 0xc0000, 0x1000, 0x7000001000, 0x1000, 5, 1, 9 };
	n = 2;
	TAP_OK(vu_frontend_mem_merge(r, &n, &err) == 0 && n == 2, "gpa gap: not merged");
	/* overlaps */
	r[1] = (struct vu_frontend_region){ 0x800, 0x1000, 0x7000100000, 0x1000, 5, 1, 9 };
	n = 2;
	TAP_OK(vu_frontend_mem_merge(r, &n, &err) == -EINVAL, "gpa overlap: -EINVAL (%s)",
	       err.msg);
	r[1] = (struct vu_frontend_region){ 0x10000, 0x1000, 0x7000000800, 0x1000, 5, 1, 9 };
	n = 2;
	TAP_OK(vu_frontend_mem_merge(r, &n, &err) == -EINVAL, "uaddr overlap: -EINVAL");
	r[1].size = 0;
	n = 2;
	TAP_OK(vu_frontend_mem_merge(r, &n, &err) == -EINVAL, "empty region: -EINVAL");
}

static void test_mem_table_and_start(void)
{
	struct mock mk;
	struct vu_frontend *fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO, 0);
	int mfd = memfd(16 << 20), kick[2], call[2], i, before;
	struct vu_frontend_region reg[9];
	unsigned int at;
	uint32_t base;

	for (i = 0; i < 2; i++) {
		kick[i] = eventfd(0, EFD_CLOEXEC);
		call[i] = eventfd(0, EFD_CLOEXEC);
	}
	memset(reg, 0, sizeof(reg));
	for (i = 0; i < 9; i++)
		reg[i] = (struct vu_frontend_region){
			.gpa = (uint64_t)i << 21, .size = 1 << 20,
			.uaddr = 0x7f0000000000ull + ((uint64_t)i << 21),
			.fd_offset = (uint64_t)i << 21, .fd = mfd };
	at = mk.n;
	TAP_OK(vu_frontend_set_mem_table(fe, reg, 9) == -E2BIG && mk.n == at,
	       "9 separate regions without CONFIGURE_MEM_SLOTS: -E2BIG, nothing sent");
	TAP_OK(strstr(vu_frontend_strerror(fe), "at most 8") != NULL,
	       "error explains the limit: %s", vu_frontend_strerror(fe));

	/* kvmtool order: ring state and start before FEATURES and MEM */
	before = count_fds();
	ring_setup(fe, 0, kick[0], call[0]);
	ring_setup(fe, 1, kick[1], call[1]);
	TAP_OK(count_fds() == before + 4, "front-end holds its own dups of kick/call");
	at = mk.n;
	{
		static const uint32_t s[] = { VU_SET_VRING_CALL, VU_SET_VRING_CALL };

		TAP_OK(seq_is(&mk, at - 2, s, 2),
		       "CALL is forwarded at once, even before MEM_TABLE");
	}
	TAP_OK(vu_frontend_start_vring(fe, 0) == 0 &&
	       vu_frontend_start_vring(fe, 1) == 0 && mk.n == at,
	       "ring start before FEATURES is deferred");
	/* one region as two contiguous halves: merged */
	reg[1] = reg[0];
	reg[0].size = 1 << 19;
	reg[1].gpa += 1 << 19;
	reg[1].uaddr += 1 << 19;
	reg[1].fd_offset += 1 << 19;
	reg[1].size = 1 << 19;
	TAP_OK(vu_frontend_set_mem_table(fe, reg, 2) == 0 && mk.n == at,
	       "memory table before FEATURES is deferred");
	TAP_OK(vu_frontend_set_features(fe, 1ull << 32) == 0,
	       "SET_FEATURES releases everything: %s", vu_frontend_strerror(fe));
	{
		static const uint32_t s[] = {
			VU_SET_FEATURES, VU_SET_STATUS, VU_SET_MEM_TABLE,
			VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
			VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
			VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
			VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
			VU_SET_STATUS,
		};

		TAP_OK(seq_is(&mk, at, s, 16),
		       "canonical order: FEATURES, STATUS, MEM, NUM, BASE, ADDR, KICK, CALL, ENABLE, ..., DRIVER_OK");
	}
	TAP_OK(mk.log[at + 2].p.mem.nregions == 1 && mk.log[at + 2].nfds == 1 &&
	       mk.log[at + 2].p.mem.regions[0].size == 1 << 20,
	       "two halves of one region merged into one, one fd");
	TAP_OK(mk.log[at + 15].p.u64 == 0x0f && mk.status == 0x0f,
	       "DRIVER_OK once both rings run");
	TAP_OK(mk.log[at + 8].p.state.num == 1, "ENABLE(1)");

	/* stop/start: GET_VRING_BASE result is the next BASE */
	mk.vring_base[0] = 1234;
	mk.vring_base[1] = 4321;
	TAP_OK(vu_frontend_stop_vring(fe, 0, &base) == 0 && base == 1234,
	       "stop ring 0 returns the back-end's base");
	TAP_OK(vu_frontend_stop_vring(fe, 1, &base) == 0 && base == 4321,
	       "stop ring 1");
	TAP_OK(vu_frontend_set_vring_num(fe, 0, 128) == 0,
	       "NUM may change while stopped");
	at = mk.n;
	TAP_OK(vu_frontend_start_vring(fe, 0) == 0 &&
	       vu_frontend_start_vring(fe, 1) == 0, "restart both");
	TAP_OK(mk.log[at].request == VU_SET_VRING_NUM &&
	       mk.log[at].p.state.num == 128 &&
	       mk.log[at + 1].request == VU_SET_VRING_BASE &&
	       mk.log[at + 1].p.state.num == 1234 &&
	       mk.log[at + 3].request == VU_SET_VRING_KICK &&
	       mk.log[at + 3].nfds == 1,
	       "restart replays NUM, BASE=1234 and KICK (DPDK closed it)");
	TAP_OK(mk.log[mk.n - 1].request == VU_SET_STATUS,
	       "DRIVER_OK re-sent after the restart");

	/* running-state rules */
	TAP_OK(vu_frontend_set_vring_num(fe, 0, 256) == -EBUSY,
	       "NUM while running: -EBUSY");
	TAP_OK(vu_frontend_set_vring_base(fe, 0, 0) == -EBUSY,
	       "BASE while running: -EBUSY");
	TAP_OK(vu_frontend_set_vring_num(fe, 2, 100) == -EINVAL,
	       "NUM not a power of 2: -EINVAL");
	TAP_OK(vu_frontend_set_vring_num(fe, 256, 256) == -ENOBUFS,
	       "ring index 256: -ENOBUFS");
	TAP_OK(vu_frontend_set_features(fe, (1ull << 32) | (1ull << 15)) == -EBUSY,
	       "feature change while running: -EBUSY");
	TAP_OK(vu_frontend_set_features(fe, (1ull << 32) | (1ull << 26)) == 0,
	       "LOG_ALL may change while running");
	at = mk.n;
	TAP_OK(vu_frontend_set_vring_call(fe, 1, VU_FRONTEND_FD_NONE) == 0 &&
	       mk.log[at].request == VU_SET_VRING_CALL &&
	       mk.log[at].p.u64 == (1 | VU_VRING_NOFD) && mk.log[at].nfds == 0,
	       "CALL unbind while running goes out as NOFD");
	at = mk.n;
	TAP_OK(vu_frontend_set_vring_kick(fe, 1, VU_FRONTEND_FD_NONE) == 0 &&
	       mk.log[at].request == VU_GET_VRING_BASE,
	       "KICK unbind while running stops the ring (not NOFD)");
	TAP_OK(vu_frontend_start_vring(fe, 1) == -EINVAL,
	       "start without a kick: -EINVAL (%s)", vu_frontend_strerror(fe));

	mk.nack_request = VU_SET_VRING_ADDR;
	TAP_OK(vu_frontend_set_vring_kick(fe, 1, kick[1]) == 0 &&
	       vu_frontend_start_vring(fe, 1) == -EINVAL,
	       "back-end refusing SET_VRING_ADDR: -EINVAL");
	mk.nack_request = 0;
	TAP_OK(mk.bad_reqs == 0, "every request well-formed");

	before = count_fds();
	vu_frontend_free(fe);
	TAP_OK(count_fds() == before - 3 - 1, /* call 1 was unbound */
	       "free closes the cached ring and memory fds");
	for (i = 0; i < 2; i++) {
		close(kick[i]);
		close(call[i]);
	}
	close(mfd);
}

static void test_mem_slots(void)
{
	struct mock mk;
	struct vu_frontend *fe = mkfe(&mk, QSD_FEATURES, QSD_PROTO, 0);
	struct vu_frontend_region reg[33];
	int mfd = memfd(1 << 20), i;
	unsigned int at, adds, rems, other;

	TAP_OK(vu_frontend_mem_slots(fe) == 32,
	       "qsd: GET_MAX_MEM_SLOTS = 32 used");
	memset(reg, 0, sizeof(reg));
	for (i = 0; i < 33; i++)
		reg[i] = (struct vu_frontend_region){
			.gpa = (uint64_t)i << 30, .size = 4096,
			.uaddr = 0x7f0000000000ull + ((uint64_t)i << 20),
			.fd_offset = (uint64_t)i << 12, .fd = mfd };
	vu_frontend_set_features(fe, 1ull << 32);
	at = mk.n;
	TAP_OK(vu_frontend_set_mem_table(fe, reg, 33) == -E2BIG && mk.n == at,
	       "33 regions > 32 slots: -E2BIG, nothing sent");
	TAP_OK(vu_frontend_set_mem_table(fe, reg, 10) == 0, "10 regions");
	for (i = (int)at, adds = rems = other = 0; i < (int)mk.n; i++)
		if (mk.log[i].request == VU_ADD_MEM_REG && mk.log[i].nfds == 1)
			adds++;
		else
			other++;
	TAP_OK(adds == 10 && other == 0, "10 ADD_MEM_REG with one fd each, no SET_MEM_TABLE");
	at = mk.n;
	reg[3].size = 8192;
	TAP_OK(vu_frontend_set_mem_table(fe, reg, 10) == 0, "one region grows");
	for (i = (int)at, adds = rems = other = 0; i < (int)mk.n; i++)
		if (mk.log[i].request == VU_ADD_MEM_REG)
			adds++;
		else if (mk.log[i].request == VU_REM_MEM_REG && mk.log[i].nfds == 0)
			rems++;
		else
			other++;
	TAP_OK(adds == 1 && rems == 1 && other == 0 &&
	       mk.log[at].request == VU_REM_MEM_REG,
	       "diff: REM_MEM_REG (no fd) first, then ADD_MEM_REG");
	at = mk.n;
	TAP_OK(vu_frontend_set_mem_table(fe, reg, 10) == 0 && mk.n == at,
	       "same table again: nothing sent");
	TAP_OK(vu_frontend_set_mem_table(fe, reg, 32) == 0 && mk.n == at + 22,
	       "grow to 32 regions: 22 ADD_MEM_REG");
	mk.nack_request = VU_ADD_MEM_REG;
	TAP_OK(vu_frontend_set_mem_table(fe, reg + 1, 32) == -EIO,
	       "back-end refusing ADD_MEM_REG: -EIO");
	mk.nack_request = 0;
	TAP_OK(mk.bad_reqs == 0, "every request well-formed");
	vu_frontend_free(fe);
	close(mfd);
}

static void test_reset_and_misc(void)
{
	struct mock mk;
	struct vu_frontend *fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO, 0);
	int mfd = memfd(1 << 20), kick = eventfd(0, EFD_CLOEXEC);
	struct vu_frontend_region r = { .gpa = 0, .size = 1 << 20,
				    .uaddr = 0x7f0000000000ull, .fd = mfd };
	unsigned int at;
	uint32_t base;
	uint8_t st;

	vu_frontend_set_features(fe, 1ull << 32);
	vu_frontend_set_mem_table(fe, &r, 1);
	ring_setup(fe, 0, kick, VU_FRONTEND_FD_NOFD);
	ring_setup(fe, 1, kick, VU_FRONTEND_FD_NOFD);
	at = mk.n;
	TAP_OK(vu_frontend_start_vring(fe, 0) == 0 &&
	       mk.log[at + 4].request == VU_SET_VRING_CALL &&
	       mk.log[at + 4].p.u64 == VU_VRING_NOFD && mk.log[at + 4].nfds == 0,
	       "CALL NOFD replayed as NOFD without fd");
	vu_frontend_start_vring(fe, 1);
	at = mk.n;
	TAP_OK(vu_frontend_stop_vring(fe, 0, &base) == 0 &&
	       vu_frontend_start_vring(fe, 0) == 0, "stop and restart ring 0 alone");
	{
		static const uint32_t s[] = {
			VU_GET_VRING_BASE, VU_SET_VRING_NUM, VU_SET_VRING_BASE,
			VU_SET_VRING_ADDR, VU_SET_VRING_KICK, VU_SET_VRING_CALL,
			VU_SET_VRING_ENABLE, VU_SET_VRING_CALL, VU_SET_STATUS,
		};

		TAP_OK(seq_is(&mk, at, s, 9) && mk.log[at + 7].p.u64 == (1 | VU_VRING_NOFD),
		       "ring 1, which stayed started, is refreshed with its CALL");
	}
	at = mk.n;
	TAP_OK(vu_frontend_set_vring_enable(fe, 1, false) == 0 &&
	       mk.log[at].request == VU_SET_VRING_ENABLE &&
	       mk.log[at].p.state.num == 0, "ENABLE(0) forwarded while running");
	mk.status = 0x0f;
	TAP_OK(vu_frontend_get_status(fe, &st) == 0 && st == 0x0f,
	       "GET_STATUS with F_STATUS");
	at = mk.n;
	TAP_OK(vu_frontend_set_log_base(fe, mfd, 4096, 0) == 0 &&
	       mk.log[at].request == VU_SET_LOG_BASE && mk.log[at].nfds == 1 &&
	       !(mk.log[at].flags & VU_FLAG_NEED_REPLY),
	       "SET_LOG_BASE with LOG_SHMFD: fd, no NEED_REPLY (it has a reply)");
	TAP_OK(vu_frontend_get_config(fe, 0, &st, 1) == -EOPNOTSUPP,
	       "GET_CONFIG without CONFIG: -EOPNOTSUPP");
	{
		uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

		at = mk.n;
		TAP_OK(vu_frontend_send_rarp(fe, mac) == 0 &&
		       mk.log[at].p.u64 == 0x010000000002ull,
		       "SEND_RARP carries the MAC in the first 6 bytes");
	}
	at = mk.n;
	TAP_OK(vu_frontend_reset_device(fe) == 0, "reset device");
	{
		static const uint32_t s[] = { VU_GET_VRING_BASE, VU_GET_VRING_BASE,
					      VU_SET_STATUS };

		TAP_OK(seq_is(&mk, at, s, 3) && mk.log[at + 2].p.u64 == 0,
		       "reset without RESET_DEVICE: stop both rings, SET_STATUS(0)");
	}
	TAP_OK(vu_frontend_vring_base(fe, 0, &base) == 0 && base == 0,
	       "bases back to 0 after a reset");
	at = mk.n;
	TAP_OK(vu_frontend_start_vring(fe, 0) == 0 && mk.n == at,
	       "after a reset, ring start waits for SET_FEATURES again");
	TAP_OK(vu_frontend_set_features(fe, 1ull << 32) == 0 &&
	       mk.log[at + 2].request == VU_SET_MEM_TABLE &&
	       mk.log[at + 3].request == VU_SET_VRING_NUM,
	       "then FEATURES, STATUS, MEM (resent), ring 0");
	TAP_OK(mk.bad_reqs == 0, "every request well-formed");
	vu_frontend_free(fe);

	fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO | (1ull << VU_PF_RESET_DEVICE), 0);
	at = mk.n;
	TAP_OK(vu_frontend_reset_device(fe) == 0 && mk.n == at + 1 &&
	       mk.log[at].request == VU_RESET_DEVICE,
	       "with RESET_DEVICE offered: RESET_DEVICE");
	vu_frontend_free(fe);
	close(kick);
	close(mfd);
}

/* A back-end process that answers the first request with raw bytes (and
 * optionally an fd), then closes. */
static pid_t evil_backend(int sock, const void *reply, size_t len, bool with_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t hdr[12];
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr a;
		} ctl;
		struct iovec iov = { .iov_base = (void *)reply, .iov_len = len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		int efd = eventfd(0, 0);

		if (read(sock, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
			_exit(1);
		if (with_fd) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.b;
			mh.msg_controllen = sizeof(ctl.b);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &efd, sizeof(int));
		}
		if (sendmsg(sock, &mh, 0) < 0)
			_exit(1);
		_exit(0);
	}
	return pid;
}

static char last_log[256];

static void keep_log(void *opaque, const char *msg)
{
	(void)opaque;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void test_evil_backend(void)
{
	static const struct {
		const char *what;
		uint32_t hdr[3];
		uint32_t payload_len;	/* bytes actually sent after the header */
		bool fd;
		int want;
	} cases[] = {
		{ "reply without the REPLY bit, with an fd", { 1, 1, 8 }, 8, true, -EPROTO },
		{ "reply to the wrong request", { 15, 5, 8 }, 8, false, -EPROTO },
		{ "reply of the wrong size", { 1, 5, 4 }, 4, false, -EBADMSG },
		{ "reply over the payload maximum", { 1, 5, 4096 }, 0, true, -EMSGSIZE },
		{ "EOF in the middle of the payload", { 1, 5, 8 }, 3, true, -ECONNRESET },
		{ "version 0", { 1, 4, 8 }, 8, false, -EPROTO },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vu_frontend_opts o = { .log = keep_log, .timeout_ms = 2000 };
		struct vu_frontend *fe = vu_frontend_new(&o);
		uint8_t buf[64] = { 0 };
		int sv[2], before, ret, status;
		pid_t pid;

		before = count_fds();
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			abort();
		memcpy(buf, cases[i].hdr, 12);
		pid = evil_backend(sv[1], buf, 12 + cases[i].payload_len, cases[i].fd);
		close(sv[1]);
		last_log[0] = '\0';
		char conn_log[256];

		ret = vu_frontend_connect_fd(fe, sv[0]);
		waitpid(pid, &status, 0);
		snprintf(conn_log, sizeof(conn_log), "%s", last_log);
		{
			const char *c = strstr(conn_log, "connection error");

			TAP_OK(c && !strstr(c + 1, "connection error"),
			       "  one clean log line, the reason stated once");
		}
		TAP_OK(ret == cases[i].want && strstr(conn_log, "GET_FEATURES") &&
		       vu_frontend_set_owner(fe) == -ENOTCONN,
		       "evil back-end, %s: %d, broken; log: %s",
		       cases[i].what, ret, conn_log);
		vu_frontend_free(fe);
		TAP_OK(count_fds() == before, "  no fd leaked");
	}
}

static void test_broken(void)
{
	struct mock mk;
	struct vu_frontend *fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO, 0);

	mk.fail_request = VU_SET_FEATURES;
	TAP_OK(vu_frontend_set_features(fe, 1ull << 32) == -ECONNRESET,
	       "transport failure reported");
	mk.fail_request = -1;
	TAP_OK(vu_frontend_set_owner(fe) == -ENOTCONN,
	       "then the front-end is broken: -ENOTCONN");
	vu_frontend_free(fe);
}

static void test_backend_channel(void)
{
	struct mock mk;
	struct vu_frontend *fe;
	struct vu_conn peer;
	struct vu_msg m, r;
	struct vu_err err;
	int efd, before;
	unsigned int i;
	bool sent_fd = false;

	fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO, VU_FRONTEND_F_BACKEND_REQ);
	for (i = 0; i < mk.n; i++)
		if (mk.log[i].request == VU_SET_BACKEND_REQ_FD && mk.log[i].nfds == 1)
			sent_fd = true;
	TAP_OK(sent_fd && vu_frontend_backend_fd(fe) >= 0 && mk.backend_peer >= 0,
	       "BACKEND_REQ negotiated on request: SET_BACKEND_REQ_FD with a socket");
	vu_conn_adopt(&peer, mk.backend_peer);
	peer.timeout_ms = 2000;

	TAP_OK(vu_frontend_handle_backend(fe) == 0, "nothing pending: 0");
	vu_msg_init(&m, VU_BACKEND_CONFIG_CHANGE_MSG);
	m.flags |= VU_FLAG_NEED_REPLY;
	vu_conn_send(&peer, VU_CHAN_BACKEND, &m, &err);
	TAP_OK(vu_frontend_handle_backend(fe) == VU_BACKEND_CONFIG_CHANGE_MSG,
	       "config change handled");
	TAP_OK(vu_conn_recv(&peer, &r, &err) == 0 &&
	       vu_check_reply(VU_CHAN_BACKEND, &m, &r, &err) == 0 && r.p.u64 == 0,
	       "answered with status 0");

	efd = eventfd(0, EFD_CLOEXEC);
	before = count_fds();
	vu_msg_init(&m, VU_BACKEND_VRING_HOST_NOTIFIER_MSG);
	m.flags |= VU_FLAG_NEED_REPLY;
	m.size = sizeof(struct vu_vring_area);
	m.p.area.u64 = 0;
	m.fds[0] = efd;
	m.nfds = 1;
	vu_conn_send(&peer, VU_CHAN_BACKEND, &m, &err);
	TAP_OK(vu_frontend_handle_backend(fe) == VU_BACKEND_VRING_HOST_NOTIFIER_MSG,
	       "host notifier handled");
	TAP_OK(vu_conn_recv(&peer, &r, &err) == 0 && r.p.u64 == 1,
	       "host notifier refused with status 1");
	TAP_OK(count_fds() == before, "its fd was closed");

	vu_msg_init(&m, VU_BACKEND_SHARED_OBJECT_LOOKUP);
	m.size = 16;
	vu_conn_send(&peer, VU_CHAN_BACKEND, &m, &err);
	TAP_OK(vu_frontend_handle_backend(fe) == VU_BACKEND_SHARED_OBJECT_LOOKUP &&
	       vu_conn_recv(&peer, &r, &err) == 0 && r.p.u64 == 1 && r.nfds == 0,
	       "shared object lookup refused, no fd");

	/* garbage: an unknown request closes the channel cleanly */
	vu_msg_init(&m, 99);
	{
		uint32_t h[3] = { 99, 1, 0 };

		if (write(mk.backend_peer, h, 12) != 12)
			TAP_DIAG("write");
	}
	TAP_OK(vu_frontend_handle_backend(fe) == -EINVAL &&
	       vu_frontend_backend_fd(fe) == -1,
	       "unknown back-end request: channel closed, -EINVAL");
	TAP_OK(vu_frontend_set_owner(fe) == 0,
	       "main connection unaffected");
	vu_conn_close(&peer);
	close(efd);
	vu_frontend_free(fe);

	fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO, 0);
	TAP_OK(vu_frontend_backend_fd(fe) == -1 && mk.backend_peer == -1,
	       "BACKEND_REQ not negotiated by default");
	vu_frontend_free(fe);
}

/*
 * The back-end restarted: disconnect keeps what the VMM set up, a new
 * connection gets it all again, and each started ring resumes at the used
 * index the guest's ring shows in guest memory, and is kicked.
 */
static void test_reconnect_replay(void)
{
	struct mock mk, mk2;
	struct vu_frontend *fe = mkfe(&mk, DPDK_FEATURES, DPDK_PROTO, 0);
	struct vu_frontend_transport t2 = { .call = mock_call, .opaque = &mk2 };
	int mfd = memfd(16 << 20), kick[2], call[2], err0 = eventfd(0, EFD_CLOEXEC), i;
	struct vu_frontend_region reg = { .gpa = 0, .size = 16 << 20,
				      .uaddr = 0x7f0000000000ull, .fd = mfd };
	uint16_t used[2] = { 77, 99 };
	uint64_t v = 0;
	unsigned int at;
	static const uint32_t s[] = {
		VU_SET_OWNER, VU_SET_FEATURES, VU_SET_STATUS, VU_SET_MEM_TABLE,
		VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ERR, VU_SET_VRING_ENABLE,
		VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		VU_SET_STATUS,
	};

	for (i = 0; i < 2; i++) {
		kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		call[i] = eventfd(0, EFD_CLOEXEC);
		ring_setup(fe, i, kick[i], call[i]);
		/* struct vring_used { le16 flags; le16 idx; } of ring i */
		if (pwrite(mfd, &used[i], 2, i * 0x10000 + 0x2000 + 2) != 2)
			abort();
	}
	vu_frontend_set_vring_err(fe, 0, err0);
	TAP_OK(vu_frontend_set_owner(fe) == 0 && vu_frontend_set_mem_table(fe, &reg, 1) == 0 &&
	       vu_frontend_set_features(fe, 1ull << 32) == 0 &&
	       vu_frontend_start_vring(fe, 0) == 0 && vu_frontend_start_vring(fe, 1) == 0,
	       "device set up and both rings started: %s", vu_frontend_strerror(fe));

	vu_frontend_disconnect(fe);
	vu_frontend_signal_err(fe);
	TAP_OK(vu_frontend_broken(fe) && vu_frontend_conn_fd(fe) == -1 &&
	       vu_frontend_start_vring(fe, 0) == -ENOTCONN,
	       "after disconnect: broken, no socket, calls fail with ENOTCONN");
	TAP_OK(read(err0, &v, sizeof(v)) == sizeof(v) && v == 1,
	       "the VMM's err eventfd of ring 0 was written");

	memset(&mk2, 0, sizeof(mk2));
	mk2.features = DPDK_FEATURES;
	mk2.proto = DPDK_PROTO;
	mk2.slots = 32;
	mk2.fail_request = -1;
	mk2.backend_peer = -1;
	TAP_OK(vu_frontend_connect_transport(fe, &t2) == 0 && !vu_frontend_broken(fe),
	       "a new connection: handshake again");
	at = mk2.n;
	TAP_OK(vu_frontend_replay(fe) == 0, "replay: %s", vu_frontend_strerror(fe));
	TAP_OK(seq_is(&mk2, at, s, 18),
	       "the new back-end gets OWNER, FEATURES, STATUS, MEM, both rings, DRIVER_OK");
	TAP_OK(mk2.log[at + 5].p.state.num == 77 && mk2.log[at + 12].p.state.num == 99,
	       "each ring resumes at the guest's used index (%u, %u)",
	       mk2.log[at + 5].p.state.num, mk2.log[at + 12].p.state.num);
	for (i = 0; i < 2; i++)
		TAP_OK(read(kick[i], &v, sizeof(v)) == sizeof(v) && v == 1, "ring %d kicked", i);
	TAP_OK(mk.bad_reqs == 0 && mk2.bad_reqs == 0, "every message valid");
	vu_frontend_free(fe);
	for (i = 0; i < 2; i++) {
		close(kick[i]);
		close(call[i]);
	}
	close(err0);
	close(mfd);
	if (mk.backend_peer >= 0)
		close(mk.backend_peer);
	if (mk2.backend_peer >= 0)
		close(mk2.backend_peer);
}

int main(void)
{
	int before = count_fds();

	test_handshake_dpdk();
	test_features();
	test_mem_merge();
	test_mem_table_and_start();
	test_mem_slots();
	test_reset_and_misc();
	test_broken();
	test_evil_backend();
	test_backend_channel();
	test_reconnect_replay();
	TAP_OK(count_fds() == before, "no fd leaked overall");
	return tap_done();
}
