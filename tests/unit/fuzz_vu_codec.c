// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the vhost-user codec and the front-end's handling of
 * back-end replies.
 *
 * Input byte 0 selects the mode, the rest is the wire data:
 *   0: a front-end request as a back-end would receive it: decode, check,
 *      and if it is valid it must re-encode to the very same bytes.
 *   1: the same for a back-end request (BACKEND_REQ channel).
 *   2: byte 1 picks a request (valid, built by the front-end's builders),
 *      the rest is the back-end's reply: vu_check_reply must not crash, and
 *      an accepted reply must have the size of its type.
 *   3: a hostile back-end: the front-end runs its handshake, SET_FEATURES,
 *      a memory table and a ring start/stop, and every reply it waits for
 *      is the next length-prefixed chunk of the input.
 * Build: clang -fsanitize=fuzzer,address,undefined (see tests/unit/unit.mk).
 */
#include "../../bridged/vu_frontend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

static void die_if(int cond)
{
	if (cond)
		abort();
}

static void fuzz_request(enum vu_chan chan, const uint8_t *d, size_t n)
{
	uint8_t out[VU_MSG_MAX];
	struct vu_msg m;
	struct vu_err err;
	long len;

	if (n < 1)
		return;
	/* fd count from the first byte; fd numbers are never used */
	if (vu_decode(d + 1, n - 1, &m, &err))
		return;
	m.nfds = d[0] % (VU_MAX_FDS + 2);
	memset(m.fds, 0xff, sizeof(m.fds));
	if (vu_check_request(chan, &m, &err))
		return;
	die_if(m.nfds > VU_MAX_FDS);
	len = vu_encode(chan, &m, out, sizeof(out), &err);
	die_if(len < 0);
	die_if((size_t)len != n - 1 || memcmp(out, d + 1, n - 1));
}

static void build_request(struct vu_msg *m, uint8_t sel)
{
	struct vu_vring_addr a = { .index = 1 };
	struct vu_mem_region r = { 0, 4096, 4096, 0 };
	int fd = -1;

	switch (sel % 12) {
	case 0: vu_msg_init(m, VU_GET_FEATURES); break;
	case 1: vu_msg_u64(m, VU_SET_FEATURES, 1); m->flags |= VU_FLAG_NEED_REPLY; break;
	case 2: vu_msg_state(m, VU_GET_VRING_BASE, 1, 0); break;
	case 3: vu_msg_config(m, VU_GET_CONFIG, 0, 60, 0, NULL, NULL); break;
	case 4: vu_msg_init(m, VU_GET_INFLIGHT_FD); m->size = 24; break;
	case 5: vu_msg_init(m, VU_SET_LOG_BASE); m->size = 16; break;
	case 6: vu_msg_mem_table(m, &r, &fd, 1, NULL); m->flags |= VU_FLAG_NEED_REPLY; break;
	case 7: vu_msg_init(m, VU_POSTCOPY_ADVISE); break;
	case 8: vu_msg_init(m, VU_GET_SHARED_OBJECT); m->size = 16; break;
	case 9: vu_msg_init(m, VU_SET_DEVICE_STATE_FD); m->size = 8; break;
	case 10: vu_msg_addr(m, &a); m->flags |= VU_FLAG_NEED_REPLY; break;
	default: vu_msg_init(m, VU_GET_MAX_MEM_SLOTS); break;
	}
}

static void fuzz_reply(const uint8_t *d, size_t n)
{
	struct vu_msg req, rep;
	struct vu_err err;
	long want;

	if (n < 2)
		return;
	build_request(&req, d[0]);
	if (vu_decode(d + 2, n - 2, &rep, &err))
		return;
	rep.nfds = d[1] % (VU_MAX_FDS + 2);
	if (vu_check_reply(VU_CHAN_FRONTEND, &req, &rep, &err))
		return;
	die_if(rep.flags != VU_REPLY_FLAGS || rep.request != req.request);
	die_if(rep.nfds > 1);
	want = vu_pl_wire_size(VU_PL_U64, &rep);
	if (!vu_req_info(VU_CHAN_FRONTEND, req.request)->has_reply &&
	    req.request != VU_SET_LOG_BASE)
		die_if(rep.size != (uint32_t)want);
}

/* mode 3: replies come from the input, framed as [u16 len][bytes] */
struct feed {
	const uint8_t *d;
	size_t n;
};

static int feed_call(void *opaque, const struct vu_msg *req,
		     struct vu_msg *reply, uint64_t proto, struct vu_err *err)
{
	struct feed *f = opaque;
	uint16_t len;
	int ret;

	if (!vu_expects_reply(VU_CHAN_FRONTEND, req, proto))
		return 0;
	if (f->n < 2) {
		err->code = -ECONNRESET;
		strcpy(err->msg, "end of input");
		return -ECONNRESET;
	}
	memcpy(&len, f->d, 2);
	f->d += 2;
	f->n -= 2;
	if (len > f->n)
		len = (uint16_t)f->n;
	ret = vu_decode(f->d, len, reply, err);
	f->d += len;
	f->n -= len;
	if (ret)
		return ret;
	reply->nfds = 0;	/* no real fds in this mode */
	return vu_check_reply(VU_CHAN_FRONTEND, req, reply, err);
}

static __attribute__((unused)) void quiet(void *opaque, const char *msg)
{
	(void)opaque;
	(void)msg;
}

static void fuzz_frontend(const uint8_t *d, size_t n)
{
	static int memfd = -1, efd = -1;
	static uint8_t *mem;
	struct feed f = { d, n };
#ifdef FUZZ_VERBOSE	/* to check that the seed conversations run through */
	struct vu_frontend_opts o = { .nr_rings = 1 };
#else
	struct vu_frontend_opts o = { .nr_rings = 1, .log = quiet };
#endif
	struct vu_frontend_transport t = { .call = feed_call, .opaque = &f };
	struct vu_frontend *fe;
	struct vu_frontend_region r;
	struct vu_vring_addr a;
	uint64_t feat;
	uint32_t base;

	if (memfd < 0) {
		memfd = memfd_create("fuzz", MFD_CLOEXEC);
		die_if(memfd < 0 || ftruncate(memfd, 1 << 16));
		mem = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED,
			   memfd, 0);
		die_if(mem == MAP_FAILED);
		efd = eventfd(0, EFD_CLOEXEC);
	}
	fe = vu_frontend_new(&o);
	die_if(!fe);
	if (vu_frontend_connect_transport(fe, &t))
		goto out;
	vu_frontend_set_owner(fe);
	if (vu_frontend_get_features(fe, &feat) == 0)
		vu_frontend_set_features(fe, feat & (1ull << VU_F_VERSION_1));
	r = (struct vu_frontend_region){ 0, 1 << 16, (uint64_t)(uintptr_t)mem, 0,
				     memfd, 0, 0 };
	vu_frontend_set_mem_table(fe, &r, 1);
	a = (struct vu_vring_addr){ .index = 0,
				    .desc = (uint64_t)(uintptr_t)mem,
				    .avail = (uint64_t)(uintptr_t)mem + 4096,
				    .used = (uint64_t)(uintptr_t)mem + 8192 };
	vu_frontend_set_vring_num(fe, 0, 64);
	vu_frontend_set_vring_addr(fe, &a);
	vu_frontend_set_vring_kick(fe, 0, efd);
	vu_frontend_set_vring_call(fe, 0, efd);
	vu_frontend_start_vring(fe, 0);
	vu_frontend_stop_vring(fe, 0, &base);
	vu_frontend_start_vring(fe, 0);
#ifdef FUZZ_VERBOSE
	fprintf(stderr, "fuzz: %lu requests, base %u, %zu input bytes left, broken %d\n",
		fe->nr_sent, base, f.n, fe->broken);
#endif
out:
	vu_frontend_free(fe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		fuzz_request(VU_CHAN_FRONTEND, data + 1, size - 1);
		break;
	case 1:
		fuzz_request(VU_CHAN_BACKEND, data + 1, size - 1);
		break;
	case 2:
		fuzz_reply(data + 1, size - 1);
		break;
	default:
		fuzz_frontend(data + 1, size - 1);
		break;
	}
	return 0;
}
