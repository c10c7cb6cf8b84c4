// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for bridged/vub_dev.c, the vhost-net -> vhost-user translation,
 * against a mock back-end transport: requests are built as the kernel builds
 * them (struct vub_req, payload, memory pieces, fds), answered by
 * vub_dev_ioctl(), and every vhost-user message that results is recorded,
 * so the tests assert errnos, replies and the exact message order.
 */
#include "../../bridged/vub_dev.h"
#include "../../bridged/vub_vhost.h"
#include "tap.h"
#include "vmm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define DPDK_FEATURES	0x0000000d7c66e7cbull	/* dpdk-testpmd 22.11's vhost PMD */
#define DPDK_PROTO	0x10cbfull
/* What the VMM must see for DPDK: MRG_RXBUF, ANY_LAYOUT, INDIRECT,
 * EVENT_IDX, VERSION_1 (no LOG_ALL, no PROTOCOL_FEATURES, no packed...). */
#define DPDK_VISIBLE	0x0000000138008000ull

struct rec {
	uint32_t request;
	union vu_payload p;
	unsigned int nfds;
};

struct mock {
	uint64_t features, proto, status;
	uint32_t vring_base[2];
	uint64_t queue_num;		/* GET_QUEUE_NUM */
	uint32_t nack_request;		/* REPLY_ACK status 1 for this one */
	int fail_request;		/* transport error on this one */
	int fail_connect;		/* the next connects fail */
	int bad_reqs;
	unsigned int connects;
	struct rec log[512];
	unsigned int n;
};

static int mock_call(void *opaque, const struct vu_msg *req,
		     struct vu_msg *reply, uint64_t proto, struct vu_err *err)
{
	struct mock *mk = opaque;
	struct vu_err e;

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
	if (mk->n < 512)
		mk->log[mk->n++] = (struct rec){ req->request, req->p, req->nfds };
	memset(reply, 0, sizeof(*reply));
	switch (req->request) {
	case VU_GET_FEATURES:
		vu_msg_u64(reply, req->request, mk->features);
		break;
	case VU_GET_PROTOCOL_FEATURES:
		vu_msg_u64(reply, req->request, mk->proto);
		break;
	case VU_GET_QUEUE_NUM:
		vu_msg_u64(reply, req->request, mk->queue_num);
		break;
	case VU_GET_VRING_BASE:
		vu_msg_state(reply, req->request, req->p.state.index,
			     mk->vring_base[req->p.state.index & 1]);
		break;
	case VU_SET_LOG_BASE:	/* a reply of its own, of no payload */
		reply->request = req->request;
		break;
	case VU_SET_STATUS:
		mk->status = req->p.u64;
		/* fall through */
	default:
		if (!(req->flags & VU_FLAG_NEED_REPLY))
			return 0;
		vu_msg_u64(reply, req->request,
			   req->request == mk->nack_request ? 1 : 0);
		break;
	}
	reply->flags = VU_REPLY_FLAGS;
	return vu_check_reply(VU_CHAN_FRONTEND, req, reply, err);
}

static int mock_connect(void *opaque, struct vu_frontend *fe)
{
	struct mock *mk = opaque;
	struct vu_frontend_transport t = { .call = mock_call, .opaque = mk };

	if (mk->fail_connect) {
		mk->fail_connect--;
		return -ECONNREFUSED;
	}
	mk->connects++;
	return vu_frontend_connect_transport(fe, &t);
}

static char last_log[512];
static char all_log[4096];

static void keep_log(void *opaque, int prio, const char *line)
{
	size_t n = strlen(all_log);

	(void)opaque;
	(void)prio;
	snprintf(last_log, sizeof(last_log), "%s", line);
	if (n < sizeof(all_log) - 1)
		snprintf(all_log + n, sizeof(all_log) - n, "%s\n", line);
}

/* The VMM's tap, as a test wants it seen (cfg.read_tap). */
struct fake_tap {
	struct vub_tap_info ti;
	int ret;
	unsigned int reads;
	/* what the last backend_state report said */
	uint32_t state;
	uint64_t features, missing;
	unsigned int reports;
};

static int fake_read_tap(void *opaque, int fd, struct vub_tap_info *ti,
			 char *why, size_t why_len)
{
	struct fake_tap *ft = opaque;

	(void)fd;
	ft->reads++;
	*ti = ft->ti;
	if (ft->ret)
		snprintf(why, why_len, "fake: not a tap");
	return ft->ret;
}

static void fake_report(void *opaque, uint32_t dev_id, uint32_t state,
			uint64_t features, uint64_t missing, uint32_t reconnects)
{
	struct fake_tap *ft = opaque;

	(void)dev_id;
	(void)reconnects;
	ft->state = state;
	ft->features = features;
	ft->missing = missing;
	ft->reports++;
}

/* --- requests as the kernel builds them (vmm.c) ------------------------- */

#define ioc		vmm_ioctl
#define ioc_u64		vmm_u64
#define ioc_state	vmm_state
#define ioc_file	vmm_file
#define get_base	vmm_get_base

#define RAM_UADDR	0x7f1200000000ull
#define RAM_SIZE	(64ull << 20)

/* DPDK virtio-user: gpa == uaddr; one region, resolved into two pieces. */
static int mem_table(struct vub_dev *d, int memfd)
{
	struct vhost_memory_region r = { RAM_UADDR, RAM_SIZE, RAM_UADDR, 0 };
	struct vub_mem_piece p[2] = {
		{ RAM_UADDR, RAM_SIZE / 2, RAM_UADDR, 0, 0, 0 },
		{ RAM_UADDR + RAM_SIZE / 2, RAM_SIZE / 2, RAM_UADDR + RAM_SIZE / 2,
		  RAM_SIZE / 2, 0, 0 },
	};

	return vmm_mem_table(d, &r, 1, p, 2, &memfd, 1);
}

static int ring_addr(struct vub_dev *d, uint32_t idx, uint32_t flags)
{
	return vmm_addr(d, idx, RAM_UADDR + idx * 0x10000,
			RAM_UADDR + idx * 0x10000 + 0x1000,
			RAM_UADDR + idx * 0x10000 + 0x2000, flags);
}

/* The request checks alone, on a request built by hand. */
struct req {
	union {
		struct vub_req r;
		uint64_t align;
	};
	unsigned char buf[4096];
};

static const void *mkreq(struct req *q, uint32_t ioctl, const void *payload,
			 uint32_t len, const struct vub_mem_piece *pieces,
			 uint32_t npieces, const int *fds, uint32_t nfds)
{
	const struct vub_vhost_ioctl *d = vub_vhost_find(ioctl);
	uint32_t off = (sizeof(q->r) + len + 7) & ~7u;

	memset(q, 0, sizeof(*q));
	q->r = (struct vub_req){
		.op = VUB_OP_IOCTL, .hdr_len = sizeof(q->r), .dev_id = 7,
		.ioctl = ioctl, .payload_len = len,
		.reply_len = d ? d->out_len : 0, .nr_fds = nfds,
	};
	if (len)
		memcpy((char *)q + sizeof(q->r), payload, len);
	if (npieces) {
		q->r.ext_offset = off;
		q->r.ext_len = npieces * sizeof(*pieces);
		memcpy((char *)q + off, pieces, q->r.ext_len);
		off = (off + q->r.ext_len + 7) & ~7u;
	}
	if (nfds) {
		q->r.fd_offset = off;
		memcpy((char *)q + off, fds, nfds * sizeof(int));
	}
	return (const char *)q + sizeof(q->r);
}

/* --- harness --------------------------------------------------------------- */

struct env {
	struct mock mk;
	struct vub_dev_cfg cfg;
	struct vub_dev d;
	int memfd, kick[2], call[2];
};

static void env_init(struct env *e)
{
	unsigned int i;

	memset(e, 0, sizeof(*e));
	e->mk.features = DPDK_FEATURES;
	e->mk.proto = DPDK_PROTO;
	e->mk.fail_request = -1;
	e->mk.queue_num = 1;
	e->cfg = (struct vub_dev_cfg){ .backend = "mock.sock", .connect = mock_connect,
				       .connect_opaque = &e->mk, .log = keep_log };
	vub_dev_init(&e->d, &e->cfg, 7, 1234);
	e->memfd = memfd_create("guest", MFD_CLOEXEC);
	if (e->memfd < 0 || ftruncate(e->memfd, (off_t)RAM_SIZE))
		abort();
	for (i = 0; i < 2; i++) {
		e->kick[i] = eventfd(0, EFD_CLOEXEC);
		e->call[i] = eventfd(0, EFD_CLOEXEC);
	}
}

static void env_fini(struct env *e)
{
	unsigned int i;

	vub_dev_release(&e->d);
	close(e->memfd);
	for (i = 0; i < 2; i++) {
		close(e->kick[i]);
		close(e->call[i]);
	}
}

static int seq_is(const struct mock *mk, unsigned int from,
		  const uint32_t *want, unsigned int n)
{
	unsigned int i;

	if (mk->n - from == n) {
		for (i = 0; i < n; i++)
			if (mk->log[from + i].request != want[i])
				break;
		if (i == n)
			return 1;
	}
	TAP_DIAG("expected %u messages, got %u:", n, mk->n - from);
	for (i = from; i < mk->n; i++)
		TAP_DIAG("  %s", vu_req_name(VU_CHAN_FRONTEND, mk->log[i].request));
	return 0;
}
#define SEQ_IS(mk, from, ...) ({					\
		static const uint32_t _w[] = { __VA_ARGS__ };		\
		seq_is(mk, from, _w, sizeof(_w) / sizeof(_w[0]));	\
	})

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;
}

/* DPDK virtio-user's order (virtio_user_dev.c, 22.11), up to both rings
 * started: SET_OWNER, GET_FEATURES, CALL x2, SET_FEATURES, SET_MEM_TABLE,
 * NUM/BASE/ADDR/KICK x2, NET_SET_BACKEND 0 and 1. */
static int bring_up(struct env *e)
{
	uint64_t f = 0;
	unsigned int i;
	int ret;

	ret = ioc(&e->d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = ioc(&e->d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f);
	for (i = 0; !ret && i < 2; i++)
		ret = ioc_file(&e->d, VHOST_SET_VRING_CALL, i, e->call[i]);
	if (!ret)
		ret = ioc_u64(&e->d, VHOST_SET_FEATURES, f & ((1ull << 32) | (1ull << 15)));
	if (!ret)
		ret = mem_table(&e->d, e->memfd);
	for (i = 0; !ret && i < 2; i++) {
		ret = ioc_state(&e->d, VHOST_SET_VRING_NUM, i, 256);
		if (!ret)
			ret = ioc_state(&e->d, VHOST_SET_VRING_BASE, i, 0);
		if (!ret)
			ret = ring_addr(&e->d, i, 0);
		if (!ret)
			ret = ioc_file(&e->d, VHOST_SET_VRING_KICK, i, e->kick[i]);
	}
	for (i = 0; !ret && i < 2; i++)
		ret = ioc_file(&e->d, VHOST_NET_SET_BACKEND, i, e->memfd /* any fd: a tap */);
	if (ret)
		TAP_DIAG("bring-up failed: %s: %s", strerrorname_np(-ret), vub_dev_why(&e->d));
	return ret;
}

/* --- tests ------------------------------------------------------------------ */

static void test_features_pure(void)
{
	TAP_OK(vub_dev_net_features(DPDK_FEATURES & ~(1ull << 30)) == DPDK_VISIBLE,
	       "features: DPDK's 0xd7c66e7cb shows as %#llx (MRG_RXBUF ANY_LAYOUT INDIRECT EVENT_IDX VERSION_1)",
	       (unsigned long long)DPDK_VISIBLE);
	TAP_OK(vub_dev_net_features(1ull << 26 | 1ull << 33 | 1ull << 34 | 1ull << 40) == 0,
	       "features: LOG_ALL, ACCESS_PLATFORM, RING_PACKED, RING_RESET never shown");
	TAP_OK(vub_dev_net_features(1ull << 32) == 1ull << 32,
	       "features: bit 27 (VHOST_NET_F_VIRTIO_NET_HDR) not shown when the back-end lacks ANY_LAYOUT");
}

static void test_check_request(void)
{
	static struct req q;
	struct vhost_vring_file f = { 0, 5 };
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[1];
	} mem = { { 1, 0 }, { { 0, 4096, 0x10000, 0 } } };
	struct vub_mem_piece p = { 0, 4096, 0x10000, 0, 0, 0 };
	int fd = 3;
	char why[256];
	const void *pl;

	pl = mkreq(&q, VHOST_SET_VRING_KICK, &f, sizeof(f), NULL, 0, &fd, 1);
	TAP_OK(!vub_dev_check_request(&q.r, pl, why, sizeof(why)), "check: KICK with one fd");
	q.r.nr_fds = 0;
	TAP_OK(vub_dev_check_request(&q.r, pl, why, sizeof(why)) == -EINVAL,
	       "check: KICK fd 5 without its fd is malformed (%s)", why);
	pl = mkreq(&q, VHOST_SET_VRING_NUM, &f, 4, NULL, 0, NULL, 0);
	TAP_OK(vub_dev_check_request(&q.r, pl, why, sizeof(why)) == -EINVAL,
	       "check: short payload is malformed");
	pl = mkreq(&q, VHOST_GET_FEATURES, NULL, 0, NULL, 0, NULL, 0);
	q.r.reply_len = 4;
	TAP_OK(vub_dev_check_request(&q.r, pl, why, sizeof(why)) == -EINVAL,
	       "check: wrong reply size is malformed");
	pl = mkreq(&q, VHOST_SET_MEM_TABLE, &mem, sizeof(mem), &p, 1, &fd, 1);
	TAP_OK(!vub_dev_check_request(&q.r, pl, why, sizeof(why)),
	       "check: SET_MEM_TABLE with pieces and a file");
	pl = mkreq(&q, VHOST_SET_MEM_TABLE, &mem, sizeof(mem), NULL, 0, NULL, 0);
	TAP_OK(vub_dev_check_request(&q.r, pl, why, sizeof(why)) == -EINVAL,
	       "check: SET_MEM_TABLE without pieces is refused (%s)", why);
	pl = mkreq(&q, VHOST_SET_MEM_TABLE, &mem, sizeof(mem), &p, 1, &fd, 1);
	q.r.ext_len = 20;
	TAP_OK(vub_dev_check_request(&q.r, pl, why, sizeof(why)) == -EINVAL,
	       "check: a partial piece is malformed");
}

static void test_pieces_pure(void)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[2];
	} mem = { { 2, 0 }, { { 0, 0x100000, 0x7000000000, 0 },
			      { 0x100000000, 0x200000, 0x7100000000, 0 } } };
	struct vub_mem_piece p[3] = {
		{ 0, 0x100000, 0x7000000000, 0x5000, 0, 0 },
		{ 0x100000000, 0x100000, 0x7100000000, 0, 1, 0 },
		{ 0x100100000, 0x100000, 0x7100100000, 0x100000, 1, 0 },
	};
	struct vu_frontend_region out[3];
	int fds[2] = { 10, 11 };
	char why[200];
	int n;

	n = vub_dev_mem_from_pieces(&mem.m, p, 3, fds, 2, out, why, sizeof(why));
	TAP_OK(n == 3 && out[0].fd == 10 && out[0].fd_offset == 0x5000 &&
	       out[1].fd == 11 && out[2].gpa == 0x100100000 &&
	       out[2].uaddr == 0x7100100000 && out[2].fd_offset == 0x100000,
	       "pieces: 3 pieces of 2 regions in 2 files become regions with their fd and offset");
	p[2].fd_index = 2;
	TAP_OK(vub_dev_mem_from_pieces(&mem.m, p, 3, fds, 2, out, why, sizeof(why)) == -EINVAL,
	       "pieces: fd_index past the files is refused (%s)", why);
	p[2].fd_index = 1;
	p[2].userspace_addr += 0x1000;
	TAP_OK(vub_dev_mem_from_pieces(&mem.m, p, 3, fds, 2, out, why, sizeof(why)) == -EINVAL,
	       "pieces: a piece whose uaddr does not match its region is refused");
	p[2].userspace_addr -= 0x1000;
	p[2].memory_size = 0x100001;
	TAP_OK(vub_dev_mem_from_pieces(&mem.m, p, 3, fds, 2, out, why, sizeof(why)) == -EINVAL,
	       "pieces: a piece past its region's end is refused");
	p[2].memory_size = 0;
	TAP_OK(vub_dev_mem_from_pieces(&mem.m, p, 3, fds, 2, out, why, sizeof(why)) == -EINVAL,
	       "pieces: an empty piece is refused");
	/* Adjacent regions of one file: the kernel gives one piece for both. */
	mem.r[1].guest_phys_addr = 0x100000;
	mem.r[1].userspace_addr = 0x7000100000;
	p[0].memory_size = 0x300000;
	TAP_OK(vub_dev_mem_from_pieces(&mem.m, p, 1, fds, 2, out, why, sizeof(why)) == 1 &&
	       out[0].size == 0x300000,
	       "pieces: one piece over two adjacent regions is accepted");
	p[0].memory_size = 0x300001;
	TAP_OK(vub_dev_mem_from_pieces(&mem.m, p, 1, fds, 2, out, why, sizeof(why)) == -EINVAL,
	       "pieces: ... but not past the second one's end");
	mem.r[1].userspace_addr += 0x1000;
	p[0].memory_size = 0x300000;
	TAP_OK(vub_dev_mem_from_pieces(&mem.m, p, 1, fds, 2, out, why, sizeof(why)) == -EINVAL,
	       "pieces: ... nor over regions adjacent in guest memory but not in the VMM's");
}

static void test_dpdk_order(void)
{
	struct env e;
	uint32_t base;
	unsigned int mark;
	int fds0;

	fds0 = count_fds();
	env_init(&e);
	TAP_OK(bring_up(&e) == 0, "virtio-user order: every ioctl succeeds");
	TAP_OK(SEQ_IS(&e.mk, 0,
		      VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES,
		      VU_GET_QUEUE_NUM, VU_SET_OWNER,
		      VU_SET_VRING_CALL, VU_SET_VRING_CALL,
		      VU_SET_FEATURES, VU_SET_STATUS, VU_SET_MEM_TABLE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_STATUS),
	       "virtio-user order: connect at the first request, rings started at NET_SET_BACKEND, DRIVER_OK last");
	TAP_OK(e.mk.status == 0xf && e.mk.bad_reqs == 0, "virtio-user order: status 0xf, no malformed message");
	TAP_OK(e.mk.log[9].p.mem.nregions == 1 && e.mk.log[9].nfds == 1 &&
	       e.mk.log[9].p.mem.regions[0].uaddr == RAM_UADDR &&
	       e.mk.log[9].p.mem.regions[0].size == RAM_SIZE,
	       "SET_MEM_TABLE: the two pieces of one file are merged into one region at the VMM's address");
	TAP_OK(e.mk.log[12].p.addr.desc == RAM_UADDR && e.mk.log[12].p.addr.used == RAM_UADDR + 0x2000,
	       "SET_VRING_ADDR: ring addresses pass through unchanged");
	TAP_OK((e.mk.log[7].p.u64 & ~(1ull << 30)) == ((1ull << 32) | (1ull << 15)),
	       "SET_FEATURES: the VMM's bits, bit 30 added back");

	/* GET_VRING_BASE on a running ring: stop, read, restart. */
	e.mk.vring_base[1] = 1234;
	mark = e.mk.n;
	TAP_OK(get_base(&e.d, 1, &base) == 0 && base == 1234,
	       "GET_VRING_BASE while started: the back-end's value (%u)", base);
	TAP_OK(SEQ_IS(&e.mk, mark, VU_GET_VRING_BASE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_VRING_CALL, VU_SET_STATUS),
	       "GET_VRING_BASE while started: stop, restart from the base, the other ring refreshed, DRIVER_OK again");
	TAP_OK(e.mk.log[mark + 2].p.state.num == 1234, "GET_VRING_BASE while started: restart resumes at 1234");
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_NUM, 0, 512) == -EBUSY,
	       "SET_VRING_NUM on a started ring: EBUSY (%s)", vub_dev_why(&e.d));
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_BASE, 1, 0) == -EBUSY,
	       "SET_VRING_BASE on a started ring: EBUSY");

	/* Stop (virtio_user_stop_device): NET_SET_BACKEND -1, then GET_VRING_BASE from the cache. */
	e.mk.vring_base[0] = 77;
	e.mk.vring_base[1] = 88;
	mark = e.mk.n;
	TAP_OK(ioc_file(&e.d, VHOST_NET_SET_BACKEND, 0, -1) == 0 &&
	       ioc_file(&e.d, VHOST_NET_SET_BACKEND, 1, -1) == 0,
	       "NET_SET_BACKEND -1: rings stopped");
	TAP_OK(SEQ_IS(&e.mk, mark, VU_GET_VRING_BASE, VU_GET_VRING_BASE),
	       "NET_SET_BACKEND -1: one GET_VRING_BASE each");
	mark = e.mk.n;
	TAP_OK(get_base(&e.d, 0, &base) == 0 && base == 77 && get_base(&e.d, 1, &base) == 0 &&
	       base == 88 && e.mk.n == mark,
	       "GET_VRING_BASE after the stop: the cached back-end values, no message");
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_NUM, 0, 512) == 0, "SET_VRING_NUM on a stopped ring: 0");

	env_fini(&e);
	TAP_OK(count_fds() == fds0, "virtio-user order: no fd leaked after release (%d, was %d)",
	       count_fds(), fds0);
}

/* kvmtool's order: KICK, NUM, BASE, ADDR, CALL, NET_SET_BACKEND per ring,
 * SET_FEATURES last: the starts wait for the features. */
/*
 * DPDK virtio-user on hugepages: each memseg list is one region (gpa ==
 * uaddr) of hugepages in a larger reservation, which the kernel leaves out.
 * The back-end gets the pieces, not the regions; a later table that fills
 * the reservation in is sent again as it is.
 */
static void test_mem_holes(void)
{
	const uint64_t list = 16ull << 30, m2 = 2ull << 20;
	struct vhost_memory_region r[2] = {
		{ RAM_UADDR, list, RAM_UADDR, 0 },
		{ RAM_UADDR + list, list, RAM_UADDR + list, 0 },
	};
	struct vub_mem_piece p[2] = {
		{ RAM_UADDR, 64 * m2, RAM_UADDR, 0, 0, 0 },
		{ RAM_UADDR + 100 * m2, m2, RAM_UADDR + 100 * m2, 64 * m2, 0, 0 },
	};
	const struct vu_mem_table *t;
	unsigned int mark;
	struct env e;

	env_init(&e);
	TAP_OK(bring_up(&e) == 0, "holes: DPDK's bring-up");
	mark = e.mk.n;
	TAP_OK(vmm_mem_table(&e.d, r, 2, p, 1, &e.memfd, 1) == 0,
	       "holes: two 16 GiB memseg lists resolved to 128 MiB of hugepages are accepted");
	t = &e.mk.log[mark].p.mem;
	TAP_OK(e.mk.n > mark && e.mk.log[mark].request == VU_SET_MEM_TABLE &&
	       t->nregions == 1 && t->regions[0].gpa == RAM_UADDR &&
	       t->regions[0].size == 64 * m2 && t->regions[0].uaddr == RAM_UADDR &&
	       t->regions[0].mmap_offset == 0,
	       "holes: the back-end gets the 128 MiB piece, not the 32 GiB of regions");
	mark = e.mk.n;
	TAP_OK(vmm_mem_table(&e.d, r, 2, p, 2, &e.memfd, 1) == 0,
	       "holes: the table again once another page is mapped in the reservation");
	t = &e.mk.log[mark].p.mem;
	TAP_OK(e.mk.n > mark && e.mk.log[mark].request == VU_SET_MEM_TABLE &&
	       t->nregions == 2 && t->regions[1].gpa == RAM_UADDR + 100 * m2 &&
	       t->regions[1].size == m2 && t->regions[1].mmap_offset == 64 * m2,
	       "holes: the new table reaches the back-end with both pieces");
	TAP_OK(e.mk.bad_reqs == 0, "holes: no malformed message");
	env_fini(&e);
}

static void test_kvmtool_order(void)
{
	struct env e;
	unsigned int i, mark;
	int ret = 0;

	env_init(&e);
	ret = ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = mem_table(&e.d, e.memfd);
	for (i = 0; !ret && i < 2; i++) {
		ret = ioc_file(&e.d, VHOST_SET_VRING_KICK, i, e.kick[i]);
		if (!ret)
			ret = ioc_state(&e.d, VHOST_SET_VRING_NUM, i, 256);
		if (!ret)
			ret = ioc_state(&e.d, VHOST_SET_VRING_BASE, i, 0);
		if (!ret)
			ret = ring_addr(&e.d, i, 0);
		if (!ret)
			ret = ioc_file(&e.d, VHOST_SET_VRING_CALL, i, e.call[i]);
		if (!ret)
			ret = ioc_file(&e.d, VHOST_NET_SET_BACKEND, i, e.memfd);
	}
	mark = e.mk.n;
	TAP_OK(ret == 0 && !e.d.fe->ring[0].started && !e.d.fe->ring[1].started,
	       "kvmtool order: NET_SET_BACKEND before SET_FEATURES succeeds, start deferred");
	TAP_OK(ioc_u64(&e.d, VHOST_SET_FEATURES, 1ull << 32) == 0 &&
	       e.d.fe->ring[0].started && e.d.fe->ring[1].started,
	       "kvmtool order: SET_FEATURES starts both rings");
	TAP_OK(SEQ_IS(&e.mk, mark, VU_SET_FEATURES, VU_SET_STATUS, VU_SET_MEM_TABLE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_STATUS),
	       "kvmtool order: FEATURES -> MEM -> rings in canonical order");
	/* kvmtool's exit: CALL -1, then RESET_OWNER. */
	mark = e.mk.n;
	TAP_OK(ioc_file(&e.d, VHOST_SET_VRING_CALL, 0, -1) == 0 &&
	       e.mk.log[mark].request == VU_SET_VRING_CALL &&
	       (e.mk.log[mark].p.u64 & 0x100) && e.mk.log[mark].nfds == 0,
	       "SET_VRING_CALL -1: CALL with NOFD (no interrupts), no fd");
	TAP_OK(ioc(&e.d, VHOST_RESET_OWNER, NULL, 0, NULL, 0, NULL) == 0 && !e.d.fe &&
	       !e.d.attached[0] && !e.d.attached[1],
	       "RESET_OWNER: connection closed, rings detached");
	TAP_OK(ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL) == 0 && e.mk.connects == 2,
	       "RESET_OWNER then SET_OWNER: a fresh connection");
	env_fini(&e);
}

/* crosvm's order (its vhost crate's net activation): FEATURES, MEM, then per ring NUM,
 * ADDR before BASE, CALL, KICK; NET_SET_BACKEND for both at the end. */
static void test_crosvm_order(void)
{
	struct env e;
	unsigned int i, mark;
	uint64_t f = 0;
	int ret;

	env_init(&e);
	ret = ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = ioc(&e.d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f);
	if (!ret)
		ret = ioc_u64(&e.d, VHOST_SET_FEATURES, f & (1ull << 32 | 1ull << 29 | 1ull << 28));
	if (!ret)
		ret = mem_table(&e.d, e.memfd);
	for (i = 0; !ret && i < 2; i++) {
		ret = ioc_state(&e.d, VHOST_SET_VRING_NUM, i, 256);
		if (!ret)
			ret = ring_addr(&e.d, i, 0);
		if (!ret)
			ret = ioc_state(&e.d, VHOST_SET_VRING_BASE, i, 0);
		if (!ret)
			ret = ioc_file(&e.d, VHOST_SET_VRING_CALL, i, e.call[i]);
		if (!ret)
			ret = ioc_file(&e.d, VHOST_SET_VRING_KICK, i, e.kick[i]);
	}
	mark = e.mk.n;
	for (i = 0; !ret && i < 2; i++)
		ret = ioc_file(&e.d, VHOST_NET_SET_BACKEND, i, e.memfd);
	TAP_OK(ret == 0 && e.d.fe->ring[0].started && e.d.fe->ring[1].started,
	       "crosvm order: both rings started");
	TAP_OK(SEQ_IS(&e.mk, mark,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_STATUS),
	       "crosvm order: replayed in canonical order (BASE before ADDR)");
	/* crosvm's reset: NET_SET_BACKEND(idx, None). */
	TAP_OK(ioc_file(&e.d, VHOST_NET_SET_BACKEND, 0, -1) == 0 &&
	       ioc_file(&e.d, VHOST_NET_SET_BACKEND, 1, -1) == 0 &&
	       !e.d.fe->ring[0].started && !e.d.fe->ring[1].started,
	       "crosvm reset: both rings stopped");
	env_fini(&e);
}

static void test_local_ioctls(void)
{
	struct env e;
	struct vhost_vring_state s = { 1, 0 };
	uint64_t v = 1;

	env_init(&e);
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 1, 50) == 0 &&
	       ioc(&e.d, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s, sizeof(s), NULL, 0, &s) == 0 &&
	       s.index == 1 && s.num == 50,
	       "busyloop timeout: stored and returned (50)");
	TAP_OK(ioc(&e.d, VHOST_GET_BACKEND_FEATURES, NULL, 0, NULL, 0, &v) == 0 && v == 2,
	       "GET_BACKEND_FEATURES: IOTLB_MSG_V2, as vhost-net");
	TAP_OK(ioc_u64(&e.d, VHOST_SET_BACKEND_FEATURES, 0) == 0, "SET_BACKEND_FEATURES 0: ok");
	TAP_OK(ioc_u64(&e.d, VHOST_SET_BACKEND_FEATURES, 2) == 0,
	       "SET_BACKEND_FEATURES IOTLB_MSG_V2: ok");
	TAP_OK(ioc_u64(&e.d, VHOST_SET_BACKEND_FEATURES, 3) == -EOPNOTSUPP &&
	       ioc_u64(&e.d, VHOST_SET_BACKEND_FEATURES, 1ull << 63) == -EOPNOTSUPP,
	       "SET_BACKEND_FEATURES with another bit: EOPNOTSUPP");
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_ENDIAN, 0, 1) == -ENOTTY &&
	       ioc_state(&e.d, VHOST_GET_VRING_ENDIAN, 0, 0) == -ENOTTY,
	       "endian ioctls: ENOTTY, as vhost-net without CROSS_ENDIAN_LEGACY");
	TAP_OK(e.mk.connects == 0, "local ioctls: no back-end connection made");
	{
		struct vub_open_info oi = { .instance_id = 3, .type = VUB_TYPE_NET,
					    .name = "vm1", .socket = "/run/vm1.sock" };

		TAP_OK(vub_dev_open(&e.d, &oi) == 0 && !strcmp(e.d.backend, "/run/vm1.sock"),
		       "VUB_OP_OPEN of instance 3: its own back-end socket");
		oi.instance_id = 0;
		TAP_OK(vub_dev_open(&e.d, &oi) == 0 && !strcmp(e.d.backend, "mock.sock"),
		       "VUB_OP_OPEN of instance 0: the daemon's --backend");
		oi.type = 2;
		TAP_OK(vub_dev_open(&e.d, &oi) == -EOPNOTSUPP,
		       "VUB_OP_OPEN of another instance type: EOPNOTSUPP");
	}
	env_fini(&e);
}

static struct vhost_iotlb_msg iotlb(uint8_t type, uint64_t iova, uint64_t size,
				    uint64_t uaddr, uint8_t perm)
{
	struct vhost_iotlb_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.iova = iova;
	m.size = size;
	m.uaddr = uaddr;
	m.perm = perm;
	return m;
}

/*
 * IOTLB: ACCESS_PLATFORM shown with the back-end's and REPLY_ACK and
 * BACKEND_REQ (negotiated for it), the VMM's UPDATE and INVALIDATE as
 * IOTLB_MSG with NEED_REPLY, a refusal EFAULT, malformed payloads refused.
 */
static void test_iotlb(void)
{
	struct vhost_iotlb_msg m;
	struct vu_iotlb o;
	char why[160];
	struct env e;
	unsigned int mark, i;
	uint64_t f = 0;
	int found = 0;

	TAP_OK(vub_dev_iommu_features(DPDK_FEATURES | 1ull << 33, DPDK_PROTO) == 1ull << 33 &&
	       vub_dev_iommu_features(DPDK_FEATURES, DPDK_PROTO) == 0 &&
	       vub_dev_iommu_features(DPDK_FEATURES | 1ull << 33, DPDK_PROTO & ~(1ull << 3)) == 0 &&
	       vub_dev_iommu_features(DPDK_FEATURES | 1ull << 33, DPDK_PROTO & ~(1ull << 5)) == 0,
	       "ACCESS_PLATFORM needs the back-end's, REPLY_ACK and BACKEND_REQ");
	m = iotlb(VU_IOTLB_INVALIDATE, 0, 0, 0, 0);
	TAP_OK(vub_dev_iotlb_convert(&m, sizeof(m), &o, why, sizeof(why)) == 0 &&
	       o.iova == 0 && o.size == UINT64_MAX && o.type == VU_IOTLB_INVALIDATE,
	       "INVALIDATE of everything (size 0): size 2^64 - 1");
	m = iotlb(VU_IOTLB_INVALIDATE, 0x1000, 0ull - 0x1000, 0x55, 3);
	TAP_OK(vub_dev_iotlb_convert(&m, sizeof(m), &o, why, sizeof(why)) == 0 &&
	       o.size == UINT64_MAX - 0x1000 && o.uaddr == 0 && o.perm == 0,
	       "INVALIDATE to 2^64: ends at 2^64 - 1, no uaddr or perm");
	m = iotlb(VU_IOTLB_UPDATE, 0x1000, 0x2000, 0x7f0000000000ull, 2);
	TAP_OK(vub_dev_iotlb_convert(&m, sizeof(m), &o, why, sizeof(why)) == 0 &&
	       o.iova == 0x1000 && o.size == 0x2000 && o.uaddr == 0x7f0000000000ull &&
	       o.perm == 2 && o.type == VU_IOTLB_UPDATE, "UPDATE: as it is");
	{
		struct vhost_iotlb_msg bad[] = {
			iotlb(VU_IOTLB_UPDATE, 0x1000, 0, 0x1000, 3),
			iotlb(VU_IOTLB_UPDATE, ~0ull, 2, 0x1000, 3),
			iotlb(VU_IOTLB_UPDATE, 0x1000, 2, ~0ull, 3),
			iotlb(VU_IOTLB_UPDATE, 0x1000, 2, 0x1000, 4),
			iotlb(VU_IOTLB_INVALIDATE, 0x1000, ~0ull, 0, 0),
			iotlb(VU_IOTLB_MISS, 0x1000, 2, 0x1000, 1),
			iotlb(9, 0x1000, 2, 0x1000, 1),
		};
		int all = 1;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			all &= vub_dev_iotlb_convert(&bad[i], sizeof(bad[i]), &o, why,
						     sizeof(why)) == -EINVAL;
		m = iotlb(VU_IOTLB_UPDATE, 0x1000, 2, 0x1000, 3);
		all &= vub_dev_iotlb_convert(&m, sizeof(m) - 1, &o, why, sizeof(why)) == -EINVAL;
		((uint8_t *)&m)[sizeof(m) - 1] = 1;
		all &= vub_dev_iotlb_convert(&m, sizeof(m), &o, why, sizeof(why)) == -EINVAL;
		TAP_OK(all, "malformed IOTLB payloads: EINVAL (size 0, wrapping, perm, type, length, padding)");
	}

	env_init(&e);
	e.mk.features |= 1ull << 33;
	TAP_OK(ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL) == 0 &&
	       ioc(&e.d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f) == 0 &&
	       f == (DPDK_VISIBLE | 1ull << 26 | 1ull << 33),
	       "GET_FEATURES: ACCESS_PLATFORM shown (%#llx)", (unsigned long long)f);
	for (i = 0; i < e.mk.n; i++)
		found |= e.mk.log[i].request == VU_SET_BACKEND_REQ_FD && e.mk.log[i].nfds == 1;
	TAP_OK(found && vu_frontend_has_iotlb(e.d.fe),
	       "BACKEND_REQ negotiated for it: SET_BACKEND_REQ_FD with a socket");
	TAP_OK(ioc_u64(&e.d, VHOST_SET_FEATURES, 1ull << 32 | 1ull << 33) == 0,
	       "SET_FEATURES with ACCESS_PLATFORM: ok");
	mark = e.mk.n;
	m = iotlb(VU_IOTLB_UPDATE, 0x10000, 0x1000, 0x7f0000001000ull, 3);
	TAP_OK(vub_dev_iotlb(&e.d, &m, sizeof(m)) == 0 && e.mk.n == mark + 1 &&
	       e.mk.log[mark].request == VU_IOTLB_MSG &&
	       e.mk.log[mark].p.iotlb.iova == 0x10000 && e.mk.log[mark].p.iotlb.size == 0x1000 &&
	       e.mk.log[mark].p.iotlb.uaddr == 0x7f0000001000ull &&
	       e.mk.log[mark].p.iotlb.perm == 3 && e.mk.log[mark].p.iotlb.type == VU_IOTLB_UPDATE &&
	       e.d.nr_iotlb[VU_IOTLB_UPDATE] == 1,
	       "UPDATE: one IOTLB_MSG, acked (%s)", vub_dev_why(&e.d));
	e.mk.nack_request = VU_IOTLB_MSG;
	TAP_OK(vub_dev_iotlb(&e.d, &m, sizeof(m)) == -EFAULT && !vu_frontend_broken(e.d.fe),
	       "the back-end refuses it: EFAULT, the connection stays (%s)", vub_dev_why(&e.d));
	e.mk.nack_request = 0;
	mark = e.mk.n;
	m = iotlb(VU_IOTLB_UPDATE, 0x10000, 0, 0x7f0000001000ull, 3);
	TAP_OK(vub_dev_iotlb(&e.d, &m, sizeof(m)) == -EINVAL && e.mk.n == mark,
	       "a malformed one: EINVAL, nothing sent");
	env_fini(&e);

	env_init(&e);
	m = iotlb(VU_IOTLB_UPDATE, 0x10000, 0x1000, 0x7f0000001000ull, 3);
	TAP_OK(ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL) == 0 &&
	       ioc(&e.d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f) == 0 &&
	       !(f & 1ull << 33) && vub_dev_iotlb(&e.d, &m, sizeof(m)) == -EOPNOTSUPP,
	       "a back-end without ACCESS_PLATFORM: not shown, IOTLB messages EOPNOTSUPP");
	env_fini(&e);
}

/*
 * Dirty logging: LOG_ALL shown with the back-end's LOG_ALL and LOG_SHMFD,
 * the kernel's log file sent with SET_LOG_BASE as struct vub_log_info says,
 * VHOST_VRING_F_LOG passed through, SET_LOG_FD, malformed requests refused,
 * and the log sent again after a reconnect.
 */
static void test_log(void)
{
	struct vub_log_info li = { .mmap_size = 32896, .mmap_offset = 4056 };
	struct env e;
	unsigned int mark, i;
	uint64_t f = 0;
	int found;

	env_init(&e);
	TAP_OK(ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL) == 0 &&
	       ioc(&e.d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f) == 0 &&
	       f == (DPDK_VISIBLE | 1ull << 26),
	       "GET_FEATURES: LOG_ALL shown with the back-end's LOG_ALL and LOG_SHMFD (%#llx)",
	       (unsigned long long)f);
	TAP_OK(vub_dev_log_features(DPDK_FEATURES, DPDK_PROTO & ~2ull) == 0 &&
	       vub_dev_log_features(DPDK_FEATURES & ~(1ull << 26), DPDK_PROTO) == 0 &&
	       vub_dev_log_features(DPDK_FEATURES, DPDK_PROTO) == 1ull << 26,
	       "LOG_ALL needs both LOG_ALL and the protocol feature LOG_SHMFD");
	mark = e.mk.n;
	TAP_OK(ioc_u64(&e.d, VHOST_SET_FEATURES, 1ull << 32 | 1ull << 26) == 0 &&
	       e.mk.log[mark].request == VU_SET_FEATURES &&
	       (e.mk.log[mark].p.u64 & (1ull << 26)),
	       "SET_FEATURES with LOG_ALL: forwarded");
	mark = e.mk.n;
	TAP_OK(vmm_log_base(&e.d, 0x7f0000000fd8ull, &li, e.memfd) == 0 &&
	       e.mk.n == mark + 1 && e.mk.log[mark].request == VU_SET_LOG_BASE &&
	       e.mk.log[mark].nfds == 1 && e.mk.log[mark].p.log.size == 32896 &&
	       e.mk.log[mark].p.log.offset == 4056,
	       "SET_LOG_BASE: the kernel's log file, mmap_size and mmap_offset as it says (%s)",
	       vub_dev_why(&e.d));
	TAP_OK(strstr(last_log, "dirty log of the VMM at 0x7f0000000fd8: 32896 bytes") != NULL,
	       "SET_LOG_BASE: logged (%s)", last_log);
	mark = e.mk.n;
	TAP_OK(vmm_log_base(&e.d, 0x1000, NULL, e.memfd) == -EINVAL && e.mk.n == mark,
	       "SET_LOG_BASE without struct vub_log_info (an old kernel): EINVAL, nothing sent");
	li.reserved[1] = 1;
	TAP_OK(vmm_log_base(&e.d, 0x1000, &li, e.memfd) == -EINVAL && e.mk.n == mark,
	       "SET_LOG_BASE with a reserved field set: EINVAL (%s)", vub_dev_why(&e.d));
	li.reserved[1] = 0;
	li.mmap_offset = 4096;
	TAP_OK(vmm_log_base(&e.d, 0x1000, &li, e.memfd) == -EINVAL && e.mk.n == mark,
	       "SET_LOG_BASE with mmap_offset 4096: EINVAL");
	li.mmap_offset = 4056;
	li.mmap_size = 0;
	TAP_OK(vmm_log_base(&e.d, 0x1000, &li, e.memfd) == -EINVAL && e.mk.n == mark,
	       "SET_LOG_BASE of 0 bytes: EINVAL");
	li.mmap_size = 32896;
	TAP_OK(ring_addr(&e.d, 0, 1) == 0, "SET_VRING_ADDR with VHOST_VRING_F_LOG: accepted");
	mark = e.mk.n;
	TAP_OK(ioc(&e.d, VHOST_SET_LOG_FD, &e.kick[0], sizeof(int), &e.kick[0], 1, NULL) == 0 &&
	       e.mk.n == mark + 1 && e.mk.log[mark].request == VU_SET_LOG_FD &&
	       e.mk.log[mark].nfds == 1,
	       "SET_LOG_FD: forwarded with the eventfd");
	{
		int unbind = -1;

		mark = e.mk.n;
		TAP_OK(ioc(&e.d, VHOST_SET_LOG_FD, &unbind, sizeof(int), NULL, 0, NULL) == 0 &&
		       e.mk.n == mark, "SET_LOG_FD -1: accepted, nothing sent");
	}
	/* a reconnect sends the log again, before the features */
	vu_frontend_disconnect(e.d.fe);
	mark = e.mk.n;
	found = -1;
	if (vu_frontend_connect_transport(e.d.fe, &(struct vu_frontend_transport){
			.call = mock_call, .opaque = &e.mk }) == 0 &&
	    vu_frontend_replay(e.d.fe) == 0)
		for (i = mark; i < e.mk.n && found < 0; i++)
			if (e.mk.log[i].request == VU_SET_LOG_BASE)
				found = (int)i;
	TAP_OK(found >= 0 && e.mk.log[found].p.log.size == 32896 &&
	       e.mk.log[found].p.log.offset == 4056 && e.mk.log[found].nfds == 1,
	       "replay after a reconnect: SET_LOG_BASE again with the same log");
	env_fini(&e);

	env_init(&e);
	e.mk.proto = DPDK_PROTO & ~2ull;	/* no LOG_SHMFD */
	TAP_OK(ioc(&e.d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f) == 0 && f == DPDK_VISIBLE,
	       "without LOG_SHMFD: no LOG_ALL shown (%#llx)", (unsigned long long)f);
	TAP_OK(ioc_u64(&e.d, VHOST_SET_FEATURES, 1ull << 26) == -EOPNOTSUPP,
	       "without LOG_SHMFD: SET_FEATURES LOG_ALL is EOPNOTSUPP");
	mark = e.mk.n;
	TAP_OK(vmm_log_base(&e.d, 0x1000, &li, e.memfd) == -EOPNOTSUPP && e.mk.n == mark,
	       "without LOG_SHMFD: SET_LOG_BASE is EOPNOTSUPP, nothing sent (%s)",
	       vub_dev_why(&e.d));
	env_fini(&e);
}

static void test_errors(void)
{
	struct env e;
	unsigned int mark;

	env_init(&e);
	e.mk.fail_connect = 1;
	TAP_OK(ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL) == -ECONNREFUSED,
	       "connect failure: ECONNREFUSED (%s)", vub_dev_why(&e.d));
	TAP_OK(strstr(last_log, "cannot connect to the back-end mock.sock") != NULL,
	       "connect failure: logged (%s)", last_log);
	TAP_OK(ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL) == 0 && e.mk.connects == 1,
	       "connect failure: the next request connects");
	mark = e.mk.n;
	TAP_OK(ioc_u64(&e.d, VHOST_SET_FEATURES, 1ull << 40) == -EOPNOTSUPP && e.mk.n == mark,
	       "SET_FEATURES RING_RESET (offered by the back-end, not shown): EOPNOTSUPP, nothing sent (%s)",
	       vub_dev_why(&e.d));
	TAP_OK(ioc_u64(&e.d, VHOST_SET_FEATURES, 1ull << 30) == -EOPNOTSUPP,
	       "SET_FEATURES bit 30: EOPNOTSUPP");
	TAP_OK(ioc_u64(&e.d, VHOST_SET_FEATURES, 1ull << 27 | 1ull << 32) == 0 &&
	       (e.mk.log[e.mk.n - 2].p.u64 & (1ull << 27)),
	       "SET_FEATURES bit 27: forwarded as ANY_LAYOUT (DPDK offers it)");
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_NUM, 0, 300) == -EINVAL &&
	       ioc_state(&e.d, VHOST_SET_VRING_NUM, 0, 65536) == -EINVAL &&
	       ioc_state(&e.d, VHOST_SET_VRING_NUM, 0, 0) == -EINVAL &&
	       ioc_state(&e.d, VHOST_SET_VRING_NUM, 0, 32768) == 0,
	       "SET_VRING_NUM: EINVAL unless a power of 2 <= 32768");
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_BASE, 0, 0x10000) == -EINVAL,
	       "SET_VRING_BASE > 0xffff on a split ring: EINVAL");
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_NUM, 2, 256) == -ENOBUFS,
	       "ring index 2: ENOBUFS");
	TAP_OK(ring_addr(&e.d, 0, 2) == -EOPNOTSUPP && ring_addr(&e.d, 0, 0x80000000u) == -EOPNOTSUPP,
	       "SET_VRING_ADDR with unknown flags: EOPNOTSUPP");
	{
		struct vhost_vring_addr a = { .index = 0, .desc_user_addr = RAM_UADDR + 8,
					      .avail_user_addr = RAM_UADDR + 0x1000,
					      .used_user_addr = RAM_UADDR + 0x2000 };

		TAP_OK(ioc(&e.d, VHOST_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL) == -EINVAL,
		       "SET_VRING_ADDR misaligned desc: EINVAL");
	}
	TAP_OK(ioc_file(&e.d, VHOST_NET_SET_BACKEND, 1, e.memfd) == -EFAULT,
	       "NET_SET_BACKEND on a ring never set up: EFAULT (%s)", vub_dev_why(&e.d));
	TAP_OK(ioc(&e.d, 0xaf99, NULL, 0, NULL, 0, NULL) == -EINVAL,
	       "an ioctl that is not forwarded is malformed");

	/* A back-end refusal is the errno; the connection stays. */
	TAP_OK(mem_table(&e.d, e.memfd) == 0 && ring_addr(&e.d, 0, 0) == 0 &&
	       ioc_state(&e.d, VHOST_SET_VRING_NUM, 0, 256) == 0 &&
	       ioc_file(&e.d, VHOST_SET_VRING_KICK, 0, e.kick[0]) == 0, "ring 0 set up");
	e.mk.nack_request = VU_SET_VRING_ADDR;
	TAP_OK(ioc_file(&e.d, VHOST_NET_SET_BACKEND, 0, e.memfd) == -EINVAL && !e.d.attached[0],
	       "back-end refuses SET_VRING_ADDR: NET_SET_BACKEND fails EINVAL (%s)", vub_dev_why(&e.d));
	e.mk.nack_request = 0;
	TAP_OK(ioc_file(&e.d, VHOST_NET_SET_BACKEND, 0, e.memfd) == 0 && e.d.fe->ring[0].started,
	       "after the refusal: the same connection starts the ring");

	/* KICK unbind on a running ring stops it; a new kick restarts it. */
	mark = e.mk.n;
	TAP_OK(ioc_file(&e.d, VHOST_SET_VRING_KICK, 0, -1) == 0 && !e.d.fe->ring[0].started &&
	       e.mk.log[mark].request == VU_GET_VRING_BASE,
	       "KICK -1 on a started ring: GET_VRING_BASE (never NOFD)");
	TAP_OK(ioc_file(&e.d, VHOST_SET_VRING_KICK, 0, e.kick[1]) == 0 && e.d.fe->ring[0].started,
	       "KICK rebound on an attached ring: started again");

	/* The connection breaks: ENOTCONN until the daemon reconnects; the
	 * device's state is kept and replayed then. */
	e.mk.fail_request = VU_SET_VRING_CALL;
	TAP_OK(ioc_file(&e.d, VHOST_SET_VRING_CALL, 0, e.call[0]) == -ENOTCONN && e.d.lost &&
	       e.d.fe && vu_frontend_broken(e.d.fe),
	       "transport failure: ENOTCONN, the device is lost, its state kept (%s)", vub_dev_why(&e.d));
	TAP_OK(strstr(last_log, "lost the connection to the back-end") != NULL, "transport failure: logged");
	mark = e.mk.n;
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_NUM, 1, 256) == -ENOTCONN && e.mk.n == mark &&
	       e.mk.connects == 1,
	       "after the loss: ENOTCONN, nothing sent (%s)", vub_dev_why(&e.d));
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 1, 5) == 0,
	       "after the loss: local ioctls still work");
	e.mk.fail_connect = 1;
	TAP_OK(vub_dev_reconnect(&e.d) == -ECONNREFUSED && e.d.lost,
	       "a reconnect that fails leaves the device lost (%s)", vub_dev_why(&e.d));
	e.mk.fail_request = -1;
	mark = e.mk.n;
	TAP_OK(vub_dev_reconnect(&e.d) == 0 && !e.d.lost && e.mk.connects == 2 &&
	       e.d.nr_reconnects == 1 && e.d.fe->ring[0].started,
	       "reconnect: the device's state replayed, ring 0 started again (%s)", vub_dev_why(&e.d));
	TAP_OK(strstr(last_log, "reconnected to the back-end") != NULL, "reconnect: logged");
	TAP_OK(ioc_state(&e.d, VHOST_SET_VRING_NUM, 1, 256) == 0, "after the reconnect: ioctls work");
	TAP_OK(ioc(&e.d, VHOST_RESET_OWNER, NULL, 0, NULL, 0, NULL) == 0 &&
	       ioc(&e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL) == 0 && e.mk.connects == 3,
	       "RESET_OWNER gives the device a new connection");
	env_fini(&e);
}

/* --- offloads --------------------------------------------------------------- */

#define B(n)		(1ull << (n))
#define CSUM		B(0)
#define GUEST_CSUM	B(1)
#define GUEST_TSO4	B(7)
#define GUEST_TSO6	B(8)
#define GUEST_ECN	B(9)
#define GUEST_UFO	B(10)
#define HOST_TSO4	B(11)
#define HOST_TSO6	B(12)
#define HOST_ECN	B(13)
#define HOST_UFO	B(14)
#define GUEST_USO4	B(54)
#define GUEST_USO6	B(55)
#define HOST_USO	B(56)
/* What a vnet-header tap lets the guest send (QEMU's offer). */
#define TAP_HOST	(CSUM | HOST_TSO4 | HOST_TSO6 | HOST_ECN | HOST_UFO)
/* A Linux guest's acked GUEST_* through QEMU: TUN_F_CSUM|TSO4|TSO6|TSO_ECN. */
#define LINUX_GUEST	(GUEST_CSUM | GUEST_TSO4 | GUEST_TSO6 | GUEST_ECN)
#define LINUX_TUN	(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
/* OVS-DPDK 3.1: DPDK's features without CSUM and HOST_UFO. */
#define OVS_FEATURES	0x0000000d7c66a7caull

static void test_offloads_pure(void)
{
	struct vub_tap_info ti = { .vnet_hdr = true, .vnet_hdr_sz = 12 };
	uint64_t neg, missing;
	char names[160];

	TAP_OK(vub_dev_tap_offloads(&(struct vub_tap_info){ .offloads = LINUX_TUN }) == 0,
	       "offloads: a tap without a virtio-net header: none (QEMU offers none)");
	TAP_OK(vub_dev_tap_offloads(&ti) == TAP_HOST,
	       "offloads: vnet header, tap offloads off: the guest may send CSUM HOST_TSO4/6 HOST_ECN HOST_UFO, acked no GUEST_*");
	ti.offloads = ti.offloads_avail = LINUX_TUN;
	TAP_OK(vub_dev_tap_offloads(&ti) == (TAP_HOST | LINUX_GUEST),
	       "offloads: TUN_F_CSUM|TSO4|TSO6|TSO_ECN -> GUEST_CSUM GUEST_TSO4 GUEST_TSO6 GUEST_ECN");
	ti.offloads_avail |= TUN_F_USO4 | TUN_F_USO6;
	ti.offloads |= TUN_F_USO4 | TUN_F_USO6;
	TAP_OK(vub_dev_tap_offloads(&ti) == (TAP_HOST | HOST_USO | LINUX_GUEST | GUEST_USO4 | GUEST_USO6),
	       "offloads: a tap that can do USO: HOST_USO offered, TUN_F_USO4/6 -> GUEST_USO4/6");

	neg = vub_dev_offloads_negotiate(TAP_HOST | LINUX_GUEST, DPDK_FEATURES, &missing);
	TAP_OK(neg == (CSUM | HOST_UFO | LINUX_GUEST) && missing == (HOST_TSO4 | HOST_TSO6 | HOST_ECN),
	       "negotiate, Linux guest x testpmd (no tso=1): %#llx; missing HOST_TSO4/6 and HOST_ECN (%#llx)",
	       (unsigned long long)neg, (unsigned long long)missing);
	neg = vub_dev_offloads_negotiate(TAP_HOST | LINUX_GUEST, DPDK_FEATURES | HOST_TSO4 | HOST_TSO6,
				     &missing);
	TAP_OK(neg == (TAP_HOST | LINUX_GUEST) && !missing,
	       "negotiate, Linux guest x testpmd tso=1: every offload, nothing missing");
	neg = vub_dev_offloads_negotiate(TAP_HOST | LINUX_GUEST, OVS_FEATURES, &missing);
	TAP_OK(neg == LINUX_GUEST && missing == TAP_HOST,
	       "negotiate, x OVS-DPDK (no CSUM): host offloads need CSUM, all missing; GUEST_* kept");
	neg = vub_dev_offloads_negotiate(TAP_HOST | LINUX_GUEST, DPDK_FEATURES & ~GUEST_CSUM, &missing);
	TAP_OK(neg == (CSUM | HOST_UFO) && missing == (HOST_TSO4 | HOST_TSO6 | HOST_ECN),
	       "negotiate, back-end without GUEST_CSUM: no GUEST_TSO/ECN either (they need it), not reported missing");
	neg = vub_dev_offloads_negotiate(0, DPDK_FEATURES, &missing);
	TAP_OK(neg == 0 && missing == 0, "negotiate, no tap offloads: nothing added, nothing missing");
	neg = vub_dev_offloads_negotiate(TAP_HOST | GUEST_UFO | B(15), ~0ull, &missing);
	TAP_OK(neg == TAP_HOST && missing == 0,
	       "negotiate: GUEST_UFO without GUEST_CSUM, and bits that are no offloads, are dropped");
	vub_dev_offloads_name(HOST_TSO4 | HOST_TSO6 | HOST_ECN | HOST_USO, names, sizeof(names));
	TAP_OK(!strcmp(names, "HOST_TSO4 HOST_TSO6 HOST_ECN HOST_USO"), "names: \"%s\"", names);
	vub_dev_offloads_name(0, names, sizeof(names));
	TAP_OK(!strcmp(names, "none"), "names of 0: \"%s\"", names);
}

struct offload_env {
	struct env e;
	struct fake_tap ft;
};

static void offload_env_init(struct offload_env *o)
{
	env_init(&o->e);
	memset(&o->ft, 0, sizeof(o->ft));
	o->ft.ti = (struct vub_tap_info){ .ifname = "tap7", .vnet_hdr = true, .vnet_hdr_sz = 12,
					  .offloads = LINUX_TUN, .offloads_avail = LINUX_TUN };
	o->e.cfg.read_tap = fake_read_tap;
	o->e.cfg.read_tap_opaque = &o->ft;
	o->e.cfg.backend_state = fake_report;
	o->e.cfg.backend_state_opaque = &o->ft;
	all_log[0] = '\0';
}

/* The last SET_FEATURES the back-end got, without bit 30; 0 if none. */
static uint64_t last_set_features(const struct mock *mk, unsigned int *count)
{
	uint64_t f = 0;
	unsigned int i;

	*count = 0;
	for (i = 0; i < mk->n; i++)
		if (mk->log[i].request == VU_SET_FEATURES) {
			f = mk->log[i].p.u64 & ~B(30);
			(*count)++;
		}
	return f;
}

/* DPDK virtio-user's order with a Linux-like tap (offloads set just before
 * NET_SET_BACKEND): the offloads reach the back-end before ring 0 starts. */
static void test_offloads_dpdk_order(void)
{
	const uint64_t vmm = B(32) | B(15);
	const uint64_t want = vmm | CSUM | HOST_UFO | LINUX_GUEST;
	struct offload_env o;
	unsigned int mark, n, i;
	uint64_t f;

	offload_env_init(&o);
	TAP_OK(bring_up(&o.e) == 0, "offloads, virtio-user order: every ioctl succeeds");
	TAP_OK(SEQ_IS(&o.e.mk, 7, VU_SET_FEATURES, VU_SET_STATUS, VU_SET_MEM_TABLE,
		      VU_SET_FEATURES, VU_SET_STATUS,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_STATUS),
	       "offloads, virtio-user order: SET_FEATURES again at the first NET_SET_BACKEND, before ring 0 starts");
	f = last_set_features(&o.e.mk, &n);
	TAP_OK(f == want && n == 2 && (o.e.mk.log[7].p.u64 & ~B(30)) == vmm,
	       "offloads: first the VMM's %#llx, then %#llx (+CSUM HOST_UFO GUEST_CSUM GUEST_TSO4/6 GUEST_ECN)",
	       (unsigned long long)vmm, (unsigned long long)f);
	TAP_OK(o.ft.reads == 2 && o.ft.state == VUB_BACKEND_CONNECTED && o.ft.features == want &&
	       o.ft.missing == (HOST_TSO4 | HOST_TSO6 | HOST_ECN),
	       "offloads: reported to the kernel: features %#llx, missing %#llx",
	       (unsigned long long)o.ft.features, (unsigned long long)o.ft.missing);
	TAP_OK(strstr(all_log, "tap tap7: 12-byte virtio-net header, tap offloads 0xf") &&
	       strstr(all_log, "the guest may use HOST_TSO4 HOST_TSO6 HOST_ECN, which the back-end does not offer: TCP GSO frames"),
	       "offloads: logged, the missing bits named with their effect");

	/* QEMU's VM stop and resume: NET_SET_BACKEND -1, SET_FEATURES, start. */
	for (i = 0; i < 2; i++)
		ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, i, -1);
	mark = o.e.mk.n;
	TAP_OK(ioc_u64(&o.e.d, VHOST_SET_FEATURES, vmm) == 0 &&
	       ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, 0, o.e.memfd) == 0 &&
	       ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, 1, o.e.memfd) == 0,
	       "offloads, resume: SET_FEATURES and both starts succeed");
	TAP_OK(o.e.mk.log[mark].request == VU_SET_FEATURES &&
	       (o.e.mk.log[mark].p.u64 & ~B(30)) == want && (last_set_features(&o.e.mk, &n), n == 3),
	       "offloads, resume: the VMM's SET_FEATURES carries the known offloads, none sent again");

	/* The tap changes while the rings run: logged, nothing sent. */
	ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, 1, -1);
	o.ft.ti.offloads = 0;
	mark = o.e.mk.n;
	TAP_OK(ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, 1, o.e.memfd) == 0 &&
	       (last_set_features(&o.e.mk, &n), n == 3) &&
	       strstr(last_log, "changed while a ring runs"),
	       "offloads: a change while ring 0 runs is not sent (DPDK would refuse it), and is logged");

	/* Both stopped: the state read while running goes at the next start. */
	for (i = 0; i < 2; i++)
		ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, i, -1);
	TAP_OK(ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, 0, o.e.memfd) == 0 &&
	       last_set_features(&o.e.mk, &n) == (vmm | CSUM | HOST_UFO) && n == 4 &&
	       o.e.d.fe->ring[0].started,
	       "offloads: the change seen while running is sent before the next start");
	ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, 0, -1);
	o.ft.ti.offloads = TUN_F_CSUM;
	TAP_OK(ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, 0, o.e.memfd) == 0 &&
	       last_set_features(&o.e.mk, &n) == (vmm | CSUM | HOST_UFO | GUEST_CSUM) && n == 5,
	       "offloads: with the rings stopped, a changed tap (only TUN_F_CSUM) is sent at the next start");
	env_fini(&o.e);

	/* A device whose fd is no tap: the ring features only, as before. */
	offload_env_init(&o);
	o.ft.ret = -ENOTTY;
	TAP_OK(bring_up(&o.e) == 0 && last_set_features(&o.e.mk, &n) == vmm && n == 1 &&
	       strstr(all_log, "does not show its offloads (fake: not a tap)"),
	       "offloads: an fd that is no tap: one SET_FEATURES with the VMM's bits, logged");
	env_fini(&o.e);

	/* A tap without a virtio-net header: no offloads, nothing sent again. */
	offload_env_init(&o);
	o.ft.ti.vnet_hdr = false;
	o.ft.ti.vnet_hdr_sz = 0;
	TAP_OK(bring_up(&o.e) == 0 && last_set_features(&o.e.mk, &n) == vmm && n == 1 &&
	       o.ft.missing == 0,
	       "offloads: a tap without a vnet header: the VMM's bits only");
	env_fini(&o.e);

	/* A back-end that has them all (testpmd tso=1): nothing missing. */
	offload_env_init(&o);
	o.e.mk.features |= HOST_TSO4 | HOST_TSO6;
	TAP_OK(bring_up(&o.e) == 0 &&
	       last_set_features(&o.e.mk, &n) == (vmm | TAP_HOST | LINUX_GUEST) &&
	       o.ft.missing == 0 && strstr(last_log, "offloads CSUM GUEST_CSUM") &&
	       !strstr(all_log, "does not offer"),
	       "offloads x a back-end with HOST_TSO4/6: everything negotiated, nothing missing");
	env_fini(&o.e);
}

/* kvmtool's order: NET_SET_BACKEND before SET_FEATURES: one SET_FEATURES. */
static void test_offloads_kvmtool_order(void)
{
	struct offload_env o;
	unsigned int i, n;
	int ret;

	offload_env_init(&o);
	ret = ioc(&o.e.d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = mem_table(&o.e.d, o.e.memfd);
	for (i = 0; !ret && i < 2; i++) {
		ret = ioc_file(&o.e.d, VHOST_SET_VRING_KICK, i, o.e.kick[i]);
		if (!ret)
			ret = ioc_state(&o.e.d, VHOST_SET_VRING_NUM, i, 256);
		if (!ret)
			ret = ring_addr(&o.e.d, i, 0);
		if (!ret)
			ret = ioc_file(&o.e.d, VHOST_NET_SET_BACKEND, i, o.e.memfd);
	}
	TAP_OK(ret == 0 && ioc_u64(&o.e.d, VHOST_SET_FEATURES, B(32)) == 0 &&
	       o.e.d.fe->ring[0].started && o.e.d.fe->ring[1].started &&
	       last_set_features(&o.e.mk, &n) == (B(32) | CSUM | HOST_UFO | LINUX_GUEST) && n == 1,
	       "offloads, kvmtool order: the tap is known first; one SET_FEATURES carries the offloads");
	env_fini(&o.e);
}

/* A real tap (root, /dev/net/tun): what vub_tap_read() sees. */
static int open_tap(const char *name, int flags)
{
	struct ifreq ifr = { .ifr_flags = (short)flags };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_tap_read_real(void)
{
	struct vub_tap_info ti;
	char why[160];
	int fd, sz = 12, st, self, efd;
	pid_t pid;

	fd = open_tap("vubtest0", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	if (fd < 0) {
		TAP_OK(1, "# SKIP real tap: cannot create one (%s; needs root and /dev/net/tun)",
		       strerror(errno));
		return;
	}
	TAP_OK(ioctl(fd, TUNSETVNETHDRSZ, &sz) == 0 && vub_tap_read(fd, &ti, why, sizeof(why)) == 0 &&
	       !strcmp(ti.ifname, "vubtest0") && ti.vnet_hdr && ti.vnet_hdr_sz == 12 &&
	       ti.offloads == 0 && (ti.offloads_avail & LINUX_TUN) == LINUX_TUN,
	       "real tap: vnet header of 12 bytes, offloads off until TUNSETOFFLOAD (available %#x)",
	       ti.offloads_avail);
	TAP_OK(ioctl(fd, TUNSETOFFLOAD, LINUX_TUN) == 0 && vub_tap_read(fd, &ti, why, sizeof(why)) == 0 &&
	       ti.offloads == LINUX_TUN &&
	       vub_dev_tap_offloads(&ti) == (TAP_HOST | LINUX_GUEST |
					 (ti.offloads_avail & TUN_F_USO4 ? HOST_USO : 0)),
	       "real tap: TUNSETOFFLOAD CSUM|TSO4|TSO6|TSO_ECN read back as set (%#x)", ti.offloads);
	TAP_OK(ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_UFO) == 0 &&
	       vub_tap_read(fd, &ti, why, sizeof(why)) == 0 && ti.offloads == TUN_F_CSUM,
	       "real tap: TUNSETOFFLOAD CSUM|UFO reads back as CSUM (UFO leaves no trace)");
	close(fd);
	fd = open_tap("vubtest1", IFF_TAP | IFF_NO_PI);
	TAP_OK(fd >= 0 && vub_tap_read(fd, &ti, why, sizeof(why)) == 0 && !ti.vnet_hdr &&
	       vub_dev_tap_offloads(&ti) == 0,
	       "real tap without IFF_VNET_HDR: no header, no offloads");
	close(fd);
	efd = eventfd(0, EFD_CLOEXEC);
	TAP_OK(vub_tap_read(efd, &ti, why, sizeof(why)) < 0 && strstr(why, "not a tap"),
	       "an eventfd: not a tap (%s)", why);
	close(efd);

	/* A tap in another network namespace, named like one in ours: the
	 * reader must look in the tap's namespace. */
	pid = fork();
	if (pid == 0) {
		int here = open_tap("vubtest2", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), there;

		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (here < 0 || self < 0 || unshare(CLONE_NEWNET))
			_exit(77);
		there = open_tap("vubtest2", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
		if (there < 0 || ioctl(there, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) ||
		    setns(self, CLONE_NEWNET))
			_exit(77);
		if (vub_tap_read(there, &ti, why, sizeof(why)) || ti.offloads != (TUN_F_CSUM | TUN_F_TSO4))
			_exit(1);
		if (vub_tap_read(here, &ti, why, sizeof(why)) || ti.offloads)
			_exit(2);
		_exit(0);
	}
	TAP_OK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 77),
	       "real tap in another network namespace: its own offloads are read, not those of the same name here%s",
	       WIFEXITED(st) && WEXITSTATUS(st) == 77 ? " # SKIP no namespaces" : "");
}

/* --- multiqueue: several devices, one NIC -------------------------------- */

/* Fake taps: fds in mq_taps are queues of the multiqueue tap "mqtap0". */
static int mq_taps[3] = { -1, -1, -1 };

static int mq_read_tap(void *opaque, int fd, struct vub_tap_info *ti,
		       char *why, size_t why_len)
{
	unsigned int i;

	(void)opaque;
	memset(ti, 0, sizeof(*ti));
	for (i = 0; i < 3; i++) {
		if (fd == mq_taps[i]) {
			snprintf(ti->ifname, sizeof(ti->ifname), "mqtap0");
			ti->multi_queue = true;
			ti->netns_dev = 4;
			ti->netns_ino = 4026531840;
			return 0;
		}
	}
	snprintf(why, why_len, "fake: not a tap");
	return -ENOTTY;
}

/* Ring @idx of @d up to NET_SET_BACKEND (NUM, BASE, ADDR, KICK). */
static int ring_setup(struct env *e, uint32_t idx)
{
	int ret = ioc_state(&e->d, VHOST_SET_VRING_NUM, idx, 256);

	if (!ret)
		ret = ioc_state(&e->d, VHOST_SET_VRING_BASE, idx, 0);
	if (!ret)
		ret = ring_addr(&e->d, idx, 0);
	if (!ret)
		ret = ioc_file(&e->d, VHOST_SET_VRING_KICK, idx, e->kick[idx]);
	return ret;
}

static int count_req(const struct mock *mk, unsigned int from, uint32_t request)
{
	unsigned int i;
	int n = 0;

	for (i = from; i < mk->n; i++)
		n += mk->log[i].request == request;
	return n;
}

/*
 * DPDK virtio-user with queues=2 in vhost-kernel mode (vhost_kernel.c,
 * virtio_user_dev.c): one device per pair, every one-time ioctl on each of
 * them in turn, rings set up on both, then pair 0 attached at start and
 * pair 1 when the driver asks for two pairs (control queue).
 */
static void test_multiqueue(void)
{
	static struct env e[3];
	struct vub_nics nics = { 0 };
	uint64_t f = 0, feat;
	unsigned int i, mark, mark1;
	uint32_t base;
	int ret = 0, fds0, tapq[3];

	fds0 = count_fds();
	for (i = 0; i < 3; i++) {
		env_init(&e[i]);
		e[i].mk.queue_num = 2;
		e[i].cfg.nics = &nics;
		e[i].cfg.read_tap = mq_read_tap;
		tapq[i] = mq_taps[i] = eventfd(0, EFD_CLOEXEC);
		e[i].d.dev_id = 10 + i;
	}
	for (i = 0; !ret && i < 2; i++)
		ret = ioc(&e[i].d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = ioc(&e[0].d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f);
	feat = f & ((1ull << 32) | (1ull << 15));
	for (i = 0; !ret && i < 4; i++)		/* rx rings of both pairs, then tx */
		ret = ioc_file(&e[i % 2].d, VHOST_SET_VRING_CALL, i / 2, e[i % 2].call[i / 2]);
	for (i = 0; !ret && i < 2; i++)
		ret = ioc_u64(&e[i].d, VHOST_SET_FEATURES, feat);
	for (i = 0; !ret && i < 2; i++)
		ret = mem_table(&e[i].d, e[0].memfd);	/* one VMM: one guest memory */
	for (i = 0; !ret && i < 4; i++)
		ret = ring_setup(&e[i % 2], i / 2);
	for (i = 0; !ret && i < 2; i++)
		ret = ioc_file(&e[0].d, VHOST_NET_SET_BACKEND, i, tapq[0]);
	TAP_OK(ret == 0 && e[0].d.nic && e[0].d.pair == 0 && e[0].d.fe->ring[0].started &&
	       e[0].d.fe->ring[1].started && e[0].mk.status == 0xf && !e[1].d.nic,
	       "multiqueue: pair 0 attaches, its connection becomes the NIC's, DRIVER_OK (%s)",
	       vub_dev_why(&e[0].d));
	TAP_OK(strstr(last_log, "pair 0 of the NIC on multiqueue tap mqtap0 (VMM pid 1234)") != NULL,
	       "multiqueue: logged (%s)", last_log);

	mark = e[0].mk.n;
	mark1 = e[1].mk.n;
	ret = 0;
	for (i = 0; !ret && i < 2; i++)
		ret = ioc_file(&e[1].d, VHOST_NET_SET_BACKEND, i, tapq[1]);
	TAP_OK(ret == 0 && e[1].d.nic == e[0].d.nic && e[1].d.pair == 1 && e[1].d.fe == e[0].d.fe &&
	       e[0].d.nic->nr_members == 2,
	       "multiqueue: pair 1 joins the NIC's connection (%s)", vub_dev_why(&e[1].d));
	TAP_OK(SEQ_IS(&e[0].mk, mark, VU_SET_VRING_CALL, VU_SET_VRING_CALL,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE,
		      VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		      VU_SET_VRING_KICK, VU_SET_VRING_CALL, VU_SET_VRING_ENABLE),
	       "multiqueue: pair 1's CALLs replayed, its rings started; no second SET_FEATURES or SET_MEM_TABLE");
	TAP_OK(e[0].mk.log[mark].p.state.index == 2 && e[0].mk.log[mark + 1].p.state.index == 3 &&
	       e[0].mk.log[mark + 2].p.state.index == 2 && e[0].mk.log[mark + 4].p.addr.index == 2 &&
	       e[0].mk.log[mark + 4].p.addr.desc == RAM_UADDR &&
	       (e[0].mk.log[mark + 5].p.u64 & 0xff) == 2 && e[0].mk.log[mark + 7].p.state.index == 2 &&
	       e[0].mk.log[mark + 7].p.state.num == 1 && e[0].mk.log[mark + 13].p.state.index == 3,
	       "multiqueue: pair 1's rx and tx are rings 2 and 3 (its ring addresses unchanged)");
	TAP_OK(count_req(&e[1].mk, 0, VU_SET_VRING_KICK) == 0 &&
	       count_req(&e[1].mk, 0, VU_SET_VRING_ENABLE) == 0 &&
	       count_req(&e[1].mk, 0, VU_SET_VRING_NUM) == 0 && e[1].mk.n == mark1 &&
	       count_req(&e[0].mk, 0, VU_SET_FEATURES) == 1 &&
	       count_req(&e[0].mk, 0, VU_SET_MEM_TABLE) == 1,
	       "multiqueue: pair 1's own connection never started a ring; one SET_FEATURES and one SET_MEM_TABLE on the NIC's");
	TAP_OK(strstr(last_log, "pair 1 of the NIC on multiqueue tap mqtap0 (VMM pid 1234): joins the NIC's connection as rings 2 and 3") != NULL,
	       "multiqueue: logged (%s)", last_log);

	/* The same table again from both: nothing; a new one: sent once. */
	mark = e[0].mk.n;
	TAP_OK(mem_table(&e[1].d, e[0].memfd) == 0 && e[0].mk.n == mark,
	       "multiqueue: an unchanged memory table from pair 1: no message");
	TAP_OK(ioc_u64(&e[1].d, VHOST_SET_FEATURES, feat) == 0 && e[0].mk.n == mark,
	       "multiqueue: unchanged features from pair 1: no message");

	/* GET_VRING_BASE on pair 1's running tx ring: ring 3 on the wire. */
	e[0].mk.vring_base[1] = 4321;
	mark = e[0].mk.n;
	TAP_OK(get_base(&e[1].d, 1, &base) == 0 && base == 4321 &&
	       e[0].mk.log[mark].request == VU_GET_VRING_BASE &&
	       e[0].mk.log[mark].p.state.index == 3 && e[1].d.fe->ring[3].started,
	       "multiqueue: GET_VRING_BASE of pair 1's ring 1 is ring 3's (%u), restarted", base);

	/* A third pair: the back-end has two (GET_QUEUE_NUM). */
	ret = ioc(&e[2].d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = ring_setup(&e[2], 0);
	TAP_OK(ret == 0 && ioc_file(&e[2].d, VHOST_NET_SET_BACKEND, 0, tapq[2]) == -ENOBUFS &&
	       !e[2].d.nic && !e[2].d.attached[0],
	       "multiqueue: a 3rd pair on a back-end with 2: ENOBUFS (%s)", vub_dev_why(&e[2].d));
	TAP_OK(strstr(last_log, "wants more than 2 queue pairs") != NULL, "multiqueue: logged (%s)",
	       last_log);

	/* Pair 1 detaches its rx ring: disabled, stopped, pair 0 announced again. */
	mark = e[0].mk.n;
	TAP_OK(ioc_file(&e[1].d, VHOST_NET_SET_BACKEND, 0, -1) == 0 &&
	       SEQ_IS(&e[0].mk, mark, VU_SET_VRING_ENABLE, VU_GET_VRING_BASE,
		      VU_SET_VRING_CALL, VU_SET_VRING_CALL) &&
	       e[0].mk.log[mark].p.state.index == 2 && e[0].mk.log[mark].p.state.num == 0 &&
	       (e[0].mk.log[mark + 2].p.u64 & 0xff) == 0 && (e[0].mk.log[mark + 3].p.u64 & 0xff) == 1,
	       "multiqueue: NET_SET_BACKEND -1 on pair 1: ENABLE(2, 0), GET_VRING_BASE(2), pair 0's CALLs again");
	mark = e[0].mk.n;
	TAP_OK(ioc_file(&e[1].d, VHOST_NET_SET_BACKEND, 0, tapq[1]) == 0 &&
	       count_req(&e[0].mk, mark, VU_SET_VRING_ENABLE) == 1 && e[1].d.fe->ring[2].started &&
	       e[0].mk.status == 0xf,
	       "multiqueue: attached again: ring 2 started and enabled, DRIVER_OK again");

	/* Pair 1 closes: its rings disabled and stopped, the NIC stays. */
	mark = e[0].mk.n;
	vub_dev_release(&e[1].d);
	TAP_OK(SEQ_IS(&e[0].mk, mark, VU_SET_VRING_ENABLE, VU_GET_VRING_BASE,
		      VU_SET_VRING_ENABLE, VU_GET_VRING_BASE, VU_SET_VRING_CALL, VU_SET_VRING_CALL) &&
	       e[0].d.nic && e[0].d.nic->nr_members == 1 && !e[0].d.fe->ring[2].started &&
	       !e[0].d.fe->ring[3].have && e[0].d.fe->ring[0].started,
	       "multiqueue: pair 1 closes: rings 2 and 3 disabled, stopped and forgotten; pair 0 runs on");
	/* Its pair is free again: the 3rd device takes it. */
	TAP_OK(ioc_file(&e[2].d, VHOST_NET_SET_BACKEND, 0, tapq[2]) == 0 && e[2].d.pair == 1 &&
	       e[2].d.fe->ring[2].started,
	       "multiqueue: the freed pair 1 goes to the next device that attaches");
	vub_dev_release(&e[2].d);
	vub_dev_release(&e[0].d);
	TAP_OK(nics.head == NULL, "multiqueue: the NIC's last device closes: the NIC is gone");
	for (i = 0; i < 3; i++) {
		env_fini(&e[i]);
		close(tapq[i]);
		mq_taps[i] = -1;
	}
	TAP_OK(count_fds() == fds0, "multiqueue: no fd leaked (%d, was %d)", count_fds(), fds0);
}

/* A device whose tap is not a multiqueue one keeps its own connection. */
static void test_not_grouped(void)
{
	struct vub_nics nics = { 0 };
	struct env e;

	env_init(&e);
	e.cfg.nics = &nics;
	e.cfg.read_tap = mq_read_tap;
	TAP_OK(bring_up(&e) == 0 && !e.d.nic && nics.head == NULL && e.d.fe->ring[1].started,
	       "not a multiqueue tap: no NIC, a connection of its own");
	env_fini(&e);
}

/* The payload of the last @request the back-end got (0: none). */
static uint64_t last_u64(const struct mock *mk, uint32_t request)
{
	unsigned int i;

	for (i = mk->n; i-- > 0;)
		if (mk->log[i].request == request)
			return mk->log[i].p.u64;
	return 0;
}

/*
 * QEMU's self-announce (vub_rarp.h): NET_SET_BACKEND learns the tap's
 * ifindex when the tap is in the daemon's namespace; SEND_RARP carries the
 * MAC in the spec's u64 (its bytes first), only with PROTOCOL_F_RARP.
 */
static void test_rarp(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct offload_env o;
	unsigned int mark;
	uint64_t v = 0;
	char *w;

	offload_env_init(&o);
	o.ft.ti.own_netns = true;
	o.ft.ti.ifindex = 42;
	TAP_OK(bring_up(&o.e) == 0 && o.e.d.tap_ifindex == 42,
	       "rarp: NET_SET_BACKEND learns the tap's ifindex (%d)", o.e.d.tap_ifindex);
	mark = o.e.mk.n;
	memcpy(&v, mac, 6);
	TAP_OK(vub_dev_send_rarp(&o.e.d, mac) == 0 &&
	       count_req(&o.e.mk, mark, VU_SEND_RARP) == 1 && last_u64(&o.e.mk, VU_SEND_RARP) == v,
	       "rarp: one SEND_RARP, the MAC's bytes first in its u64 (%#llx)",
	       (unsigned long long)last_u64(&o.e.mk, VU_SEND_RARP));
	TAP_OK(!strcmp(last_log, "dev 7: forwarded the VMM's RARP for MAC 52:54:00:12:34:56 to the back-end (SEND_RARP)"),
	       "rarp: logged: %s", last_log);
	TAP_OK(o.e.mk.bad_reqs == 0, "rarp: the back-end got well-formed messages");
	env_fini(&o.e);
	TAP_OK(o.e.d.tap_ifindex == 0, "rarp: the release forgets the tap");

	offload_env_init(&o);
	o.e.mk.proto = DPDK_PROTO & ~(1ull << VU_PF_RARP);
	o.ft.ti.own_netns = true;
	o.ft.ti.ifindex = 42;
	TAP_OK(bring_up(&o.e) == 0, "rarp, no PROTOCOL_F_RARP: the device comes up");
	mark = o.e.mk.n;
	TAP_OK(vub_dev_send_rarp(&o.e.d, mac) == -EOPNOTSUPP &&
	       vub_dev_send_rarp(&o.e.d, mac) == -EOPNOTSUPP &&
	       count_req(&o.e.mk, mark, VU_SEND_RARP) == 0,
	       "rarp, no PROTOCOL_F_RARP: EOPNOTSUPP, nothing sent");
	w = strstr(all_log, "lacks PROTOCOL_F_RARP");
	TAP_OK(w && !strstr(w + 1, "lacks PROTOCOL_F_RARP"),
	       "rarp, no PROTOCOL_F_RARP: one warning per connection");
	env_fini(&o.e);

	offload_env_init(&o);
	o.ft.ti.ifindex = 42;		/* another network namespace */
	TAP_OK(bring_up(&o.e) == 0 && o.e.d.tap_ifindex == 0 &&
	       strstr(all_log, "is in another network namespace") != NULL,
	       "rarp: a tap in another namespace is not watched, and that is logged");
	env_fini(&o.e);
}

int main(void)
{
	test_features_pure();
	test_offloads_pure();
	test_offloads_dpdk_order();
	test_offloads_kvmtool_order();
	test_tap_read_real();
	test_check_request();
	test_pieces_pure();
	test_dpdk_order();
	test_mem_holes();
	test_kvmtool_order();
	test_crosvm_order();
	test_local_ioctls();
	test_errors();
	test_log();
	test_iotlb();
	test_multiqueue();
	test_not_grouped();
	test_rarp();
	return tap_done();
}
