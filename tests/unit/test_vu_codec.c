// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for bridged/vu_codec: round trips of every payload type and a
 * list of malformed messages, each of which must produce the right error code
 * (never a crash: this runs under ASan/UBSan).
 */
#include "../../bridged/vu_codec.h"
#include "tap.h"

#include <errno.h>
#include <string.h>

static uint8_t buf[VU_MSG_MAX + 64];

/* Encode m as a front-end request, decode it back, check the request. */
static int roundtrip(const struct vu_msg *m, struct vu_msg *out)
{
	struct vu_err err;
	long n = vu_encode(VU_CHAN_FRONTEND, m, buf, sizeof(buf), &err);
	int ret;

	if (n < 0) {
		TAP_DIAG("encode: %s", err.msg);
		return (int)n;
	}
	ret = vu_decode(buf, (size_t)n, out, &err);
	if (ret) {
		TAP_DIAG("decode: %s", err.msg);
		return ret;
	}
	memcpy(out->fds, m->fds, sizeof(m->fds));
	out->nfds = m->nfds;
	ret = vu_check_request(VU_CHAN_FRONTEND, out, &err);
	if (ret)
		TAP_DIAG("check: %s", err.msg);
	return ret;
}

static void mkreply(struct vu_msg *r, uint32_t request, uint32_t size)
{
	vu_msg_init(r, request);
	r->flags = VU_REPLY_FLAGS;
	r->size = size;
}

static void test_roundtrips(void)
{
	struct vu_msg m, o;
	struct vu_err err;
	struct vu_vring_addr a = { .index = 1, .flags = 0, .desc = 0x1000,
				   .used = 0x3000, .avail = 0x2000, .log = 0 };
	struct vu_mem_region regs[2] = {
		{ 0x0, 0x100000, 0x7f0000000000, 0 },
		{ 0x100000, 0x200000, 0x7f0000100000, 0x100000 },
	};
	int fds[2] = { 5, 6 };
	long n;

	vu_msg_init(&m, VU_GET_FEATURES);
	TAP_OK(roundtrip(&m, &o) == 0 && o.request == VU_GET_FEATURES &&
	       o.size == 0, "GET_FEATURES round trip");

	vu_msg_u64(&m, VU_SET_FEATURES, 0x140000000ull);
	TAP_OK(roundtrip(&m, &o) == 0 && o.p.u64 == 0x140000000ull,
	       "SET_FEATURES u64 round trip");

	vu_msg_state(&m, VU_SET_VRING_NUM, 1, 256);
	TAP_OK(roundtrip(&m, &o) == 0 && o.p.state.index == 1 &&
	       o.p.state.num == 256, "SET_VRING_NUM state round trip");

	vu_msg_addr(&m, &a);
	n = vu_encode(VU_CHAN_FRONTEND, &m, buf, sizeof(buf), &err);
	TAP_OK(n == 52, "SET_VRING_ADDR is 12+40 bytes");
	/* used comes before avail on the wire (struct vhost_vring_addr order) */
	TAP_OK(!memcmp(buf + 12 + 16, &a.used, 8) &&
	       !memcmp(buf + 12 + 24, &a.avail, 8), "vring addr: used before avail");
	TAP_OK(roundtrip(&m, &o) == 0 && o.p.addr.avail == 0x2000,
	       "SET_VRING_ADDR round trip");

	TAP_OK(vu_msg_mem_table(&m, regs, fds, 2, &err) == 0, "build mem table");
	n = vu_encode(VU_CHAN_FRONTEND, &m, buf, sizeof(buf), &err);
	TAP_OK(n == 12 + 8 + 64, "SET_MEM_TABLE 2 regions is 8+32*2 payload");
	TAP_OK(roundtrip(&m, &o) == 0 && o.p.mem.nregions == 2 &&
	       o.p.mem.regions[1].mmap_offset == 0x100000,
	       "SET_MEM_TABLE round trip");

	vu_msg_mem_reg(&m, VU_ADD_MEM_REG, &regs[0], 9);
	TAP_OK(roundtrip(&m, &o) == 0 && o.size == 40 && o.nfds == 1,
	       "ADD_MEM_REG round trip, 1 fd");
	vu_msg_mem_reg(&m, VU_REM_MEM_REG, &regs[0], 9);
	TAP_OK(roundtrip(&m, &o) == 0 && m.nfds == 0, "REM_MEM_REG carries no fd");

	vu_msg_vring_fd(&m, VU_SET_VRING_KICK, 3, 7);
	TAP_OK(roundtrip(&m, &o) == 0 && o.p.u64 == 3, "KICK with fd");
	vu_msg_vring_fd(&m, VU_SET_VRING_ERR, 3, -1);
	TAP_OK(roundtrip(&m, &o) == 0 && o.p.u64 == (3 | VU_VRING_NOFD),
	       "ERR with NOFD");

	TAP_OK(vu_msg_config(&m, VU_GET_CONFIG, 0, 60, 0, NULL, &err) == 0 &&
	       roundtrip(&m, &o) == 0 && o.size == 72, "GET_CONFIG 60 bytes");

	vu_msg_init(&m, VU_GET_INFLIGHT_FD);
	m.size = sizeof(struct vu_inflight);
	m.p.inflight.num_queues = 2;
	m.p.inflight.queue_size = 256;
	TAP_OK(roundtrip(&m, &o) == 0 && o.p.inflight.queue_size == 256,
	       "GET_INFLIGHT_FD inflight payload");

	vu_msg_init(&m, VU_SET_LOG_BASE);
	m.size = sizeof(struct vu_log);
	m.p.log.size = 4096;
	m.fds[0] = 4;
	m.nfds = 1;
	TAP_OK(roundtrip(&m, &o) == 0, "SET_LOG_BASE log + fd");

	vu_msg_init(&m, VU_IOTLB_MSG);
	m.size = sizeof(struct vu_iotlb);
	m.p.iotlb.type = 2;
	TAP_OK(roundtrip(&m, &o) == 0 && o.size == 32, "IOTLB_MSG 32 bytes");

	vu_msg_init(&m, VU_SET_DEVICE_STATE_FD);
	m.size = sizeof(struct vu_device_state);
	m.fds[0] = 4;
	m.nfds = 1;
	TAP_OK(roundtrip(&m, &o) == 0, "SET_DEVICE_STATE_FD");

	/* every known front-end request has a name and a sane table entry */
	{
		int bad = 0;
		uint32_t i;

		for (i = 1; i < VU_REQUEST_MAX; i++) {
			const struct vu_req_info *ri = vu_req_info(VU_CHAN_FRONTEND, i);

			if (!ri || ri->min_fds > ri->max_fds ||
			    ri->max_fds > VU_MAX_FDS)
				bad++;
		}
		for (i = 1; i < VU_BACKEND_REQUEST_MAX; i++)
			if (!vu_req_info(VU_CHAN_BACKEND, i))
				bad++;
		TAP_OK(bad == 0 && !vu_req_info(VU_CHAN_FRONTEND, 0) &&
		       !vu_req_info(VU_CHAN_FRONTEND, VU_REQUEST_MAX) &&
		       !vu_req_info(VU_CHAN_BACKEND, 9),
		       "request tables complete (1..43, back-end 1..8)");
	}

	/* back-end channel */
	vu_msg_init(&m, VU_BACKEND_VRING_HOST_NOTIFIER_MSG);
	m.size = sizeof(struct vu_vring_area);
	m.p.area.u64 = 1 | VU_VRING_NOFD;
	TAP_OK(vu_check_request(VU_CHAN_BACKEND, &m, &err) == 0,
	       "HOST_NOTIFIER with NOFD, no fd");
	m.fds[0] = 3;
	m.nfds = 1;
	TAP_OK(vu_check_request(VU_CHAN_BACKEND, &m, &err) == -EPROTO,
	       "HOST_NOTIFIER with NOFD and an fd: -EPROTO");
	vu_msg_init(&m, VU_BACKEND_IOTLB_MSG);
	m.size = 32;
	m.flags |= VU_FLAG_NEED_REPLY;
	TAP_OK(vu_check_request(VU_CHAN_BACKEND, &m, &err) == 0 &&
	       vu_expects_reply(VU_CHAN_BACKEND, &m, 0),
	       "BACKEND_IOTLB_MSG with NEED_REPLY expects a reply");
	vu_msg_init(&m, VU_BACKEND_CONFIG_CHANGE_MSG);
	TAP_OK(vu_check_request(VU_CHAN_BACKEND, &m, &err) == 0 &&
	       !vu_expects_reply(VU_CHAN_BACKEND, &m, 0),
	       "CONFIG_CHANGE_MSG without NEED_REPLY expects none");
}

static void test_replies(void)
{
	struct vu_msg req, r;
	struct vu_err err;

	vu_msg_init(&req, VU_GET_FEATURES);
	mkreply(&r, VU_GET_FEATURES, 8);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == 0,
	       "good GET_FEATURES reply");

	r.flags = VU_VERSION;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "reply without REPLY bit: -EPROTO (%s)", err.msg);
	r.flags = VU_REPLY_FLAGS | VU_FLAG_NEED_REPLY;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "reply with extra flag bits: -EPROTO");
	r.flags = 0x2 | VU_FLAG_REPLY;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "reply with version 2: -EPROTO");

	mkreply(&r, VU_GET_PROTOCOL_FEATURES, 8);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "reply to the wrong request: -EPROTO (%s)", err.msg);

	mkreply(&r, VU_GET_FEATURES, 4);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EBADMSG,
	       "u64 reply of 4 bytes: -EBADMSG");
	mkreply(&r, VU_GET_FEATURES, 16);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EBADMSG,
	       "u64 reply of 16 bytes: -EBADMSG");
	mkreply(&r, VU_GET_FEATURES, VU_PAYLOAD_MAX + 1);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EMSGSIZE,
	       "reply over the payload max: -EMSGSIZE");
	mkreply(&r, VU_GET_FEATURES, 8);
	r.fds[0] = 3;
	r.nfds = 1;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "reply with an unexpected fd: -EPROTO");

	/* REPLY_ACK */
	vu_msg_u64(&req, VU_SET_FEATURES, 1);
	TAP_OK(!vu_expects_reply(VU_CHAN_FRONTEND, &req, 0),
	       "SET_FEATURES expects no reply by default");
	req.flags |= VU_FLAG_NEED_REPLY;
	TAP_OK(vu_expects_reply(VU_CHAN_FRONTEND, &req, 0),
	       "SET_FEATURES|NEED_REPLY expects one");
	mkreply(&r, VU_SET_FEATURES, 8);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == 0,
	       "REPLY_ACK u64");
	mkreply(&r, VU_SET_FEATURES, 0);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EBADMSG,
	       "REPLY_ACK with no payload: -EBADMSG");

	/* SET_LOG_BASE */
	vu_msg_init(&req, VU_SET_LOG_BASE);
	req.size = 16;
	TAP_OK(!vu_expects_reply(VU_CHAN_FRONTEND, &req, 0) &&
	       vu_expects_reply(VU_CHAN_FRONTEND, &req, 1ull << VU_PF_LOG_SHMFD),
	       "SET_LOG_BASE reply only with LOG_SHMFD");
	mkreply(&r, VU_SET_LOG_BASE, 0);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == 0,
	       "SET_LOG_BASE empty reply accepted (DPDK)");
	mkreply(&r, VU_SET_LOG_BASE, 12);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EBADMSG,
	       "SET_LOG_BASE reply of 12 bytes: -EBADMSG");

	/* GET_VRING_BASE must answer the ring asked */
	vu_msg_state(&req, VU_GET_VRING_BASE, 1, 0);
	mkreply(&r, VU_GET_VRING_BASE, 8);
	r.p.state.index = 0;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "GET_VRING_BASE reply for another ring: -EPROTO");
	r.p.state.index = 1;
	r.p.state.num = 77;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == 0,
	       "GET_VRING_BASE good reply");

	/* GET_CONFIG */
	vu_msg_config(&req, VU_GET_CONFIG, 0, 60, 0, NULL, &err);
	mkreply(&r, VU_GET_CONFIG, 0);
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EIO,
	       "GET_CONFIG empty reply is the back-end's error: -EIO");
	vu_msg_config(&r, VU_GET_CONFIG, 0, 40, 0, NULL, &err);
	r.flags = VU_REPLY_FLAGS;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EBADMSG,
	       "GET_CONFIG reply of another size: -EBADMSG");
	vu_msg_config(&r, VU_GET_CONFIG, 0, 60, 0, NULL, &err);
	r.flags = VU_REPLY_FLAGS;
	r.size = 12 + 61;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EBADMSG,
	       "GET_CONFIG size/config.size mismatch: -EBADMSG");

	/* GET_INFLIGHT_FD reply may carry one fd */
	vu_msg_init(&req, VU_GET_INFLIGHT_FD);
	req.size = 24;
	mkreply(&r, VU_GET_INFLIGHT_FD, 24);
	r.p.inflight.mmap_size = 4096;
	r.fds[0] = 3;
	r.nfds = 1;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == 0,
	       "GET_INFLIGHT_FD reply with fd");
	r.nfds = 0;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "GET_INFLIGHT_FD reply with size but no fd: -EPROTO");
	r.nfds = 2;
	r.fds[1] = 4;
	TAP_OK(vu_check_reply(VU_CHAN_FRONTEND, &req, &r, &err) == -EPROTO,
	       "GET_INFLIGHT_FD reply with 2 fds: -EPROTO");
}

static void test_malformed_requests(void)
{
	struct vu_msg m;
	struct vu_err err;
	uint32_t hdr[3];
	uint8_t raw[64];

	/* unknown request ids */
	vu_msg_init(&m, 0);
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EINVAL,
	       "request 0: -EINVAL (%s)", err.msg);
	vu_msg_init(&m, 44);
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EINVAL,
	       "request 44: -EINVAL");
	vu_msg_init(&m, 0xffffffffu);
	TAP_OK(vu_check_request(VU_CHAN_BACKEND, &m, &err) == -EINVAL,
	       "back-end request 0xffffffff: -EINVAL");

	/* version and flags */
	vu_msg_init(&m, VU_GET_FEATURES);
	m.flags = 0;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "version 0: -EPROTO");
	m.flags = VU_VERSION | VU_FLAG_REPLY;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "REPLY bit on a request: -EPROTO");
	m.flags = VU_VERSION | 0x100;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "undefined flag bit: -EPROTO");

	/* header decode */
	TAP_OK(vu_decode_hdr(raw, 11, &m, &err) == -EBADMSG,
	       "11-byte header: -EBADMSG");
	hdr[0] = VU_GET_FEATURES;
	hdr[1] = 3;
	hdr[2] = 0;
	memcpy(raw, hdr, 12);
	TAP_OK(vu_decode_hdr(raw, 12, &m, &err) == -EPROTO,
	       "header version 3: -EPROTO");
	hdr[1] = 1;
	hdr[2] = VU_PAYLOAD_MAX + 1;
	memcpy(raw, hdr, 12);
	TAP_OK(vu_decode_hdr(raw, 12, &m, &err) == -EMSGSIZE,
	       "header size over max: -EMSGSIZE");
	hdr[2] = 0xffffffffu;
	memcpy(raw, hdr, 12);
	TAP_OK(vu_decode_hdr(raw, 12, &m, &err) == -EMSGSIZE,
	       "header size 0xffffffff: -EMSGSIZE");
	hdr[2] = 8;
	memcpy(raw, hdr, 12);
	TAP_OK(vu_decode(raw, 12 + 4, &m, &err) == -EBADMSG,
	       "truncated payload: -EBADMSG");
	TAP_OK(vu_decode(raw, 12 + 9, &m, &err) == -EBADMSG,
	       "trailing bytes: -EBADMSG");

	/* payload sizes */
	vu_msg_u64(&m, VU_SET_FEATURES, 0);
	m.size = 7;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "SET_FEATURES size 7: -EBADMSG");
	vu_msg_init(&m, VU_SET_OWNER);
	m.size = 8;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "SET_OWNER with payload: -EBADMSG");
	vu_msg_state(&m, VU_SET_VRING_ADDR, 0, 0);
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "SET_VRING_ADDR with a state payload: -EBADMSG");

	/* mem table */
	vu_msg_init(&m, VU_SET_MEM_TABLE);
	m.size = 4;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "mem table size 4: -EBADMSG");
	m.size = 8 + 32 * 9;
	m.p.mem.nregions = 9;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "mem table 9 regions: -EBADMSG");
	m.p.mem.nregions = 2;
	m.size = 8 + 32;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "mem table 2 regions in 1 region of bytes: -EBADMSG");
	m.size = 8 + 64;
	m.p.mem.regions[0].size = 4096;
	m.p.mem.regions[1].size = 4096;
	m.nfds = 1;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "mem table 2 regions, 1 fd: -EPROTO");
	m.nfds = 2;
	m.p.mem.regions[1].size = 0;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "mem table empty region: -EBADMSG");
	m.p.mem.regions[1].size = 4096;
	m.p.mem.regions[1].gpa = ~0ull - 10;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "mem table region wrapping: -EBADMSG");
	TAP_OK(vu_msg_mem_table(&m, NULL, NULL, 9, &err) == -E2BIG,
	       "building a 9-region table: -E2BIG");

	/* fd counts */
	vu_msg_vring_fd(&m, VU_SET_VRING_CALL, 0, -1);
	m.fds[0] = 3;
	m.nfds = 1;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "CALL with NOFD and an fd: -EPROTO");
	vu_msg_vring_fd(&m, VU_SET_VRING_CALL, 0, 3);
	m.nfds = 0;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "CALL without NOFD and no fd: -EPROTO");
	vu_msg_vring_fd(&m, VU_SET_VRING_KICK, 0, 3);
	m.p.u64 |= 1ull << 9;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "KICK with reserved bits: -EBADMSG");
	vu_msg_init(&m, VU_SET_BACKEND_REQ_FD);
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "BACKEND_REQ_FD without fd: -EPROTO");
	m.nfds = 9;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "9 fds: -EPROTO");
	vu_msg_u64(&m, VU_GET_FEATURES, 0);
	m.size = 0;
	m.fds[0] = 3;
	m.nfds = 1;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EPROTO,
	       "GET_FEATURES with an fd: -EPROTO");

	/* field ranges */
	vu_msg_state(&m, VU_SET_VRING_ENABLE, 0, 2);
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "SET_VRING_ENABLE num 2: -EBADMSG");
	{
		struct vu_vring_addr a = { .flags = 2 };

		vu_msg_addr(&m, &a);
		TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
		       "SET_VRING_ADDR flags 2: -EBADMSG");
	}
	vu_msg_init(&m, VU_SET_CONFIG);
	m.size = 12 + 300;
	m.p.config.size = 300;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "SET_CONFIG 300 bytes: -EBADMSG");
	m.size = 11;
	TAP_OK(vu_check_request(VU_CHAN_FRONTEND, &m, &err) == -EBADMSG,
	       "SET_CONFIG shorter than its header: -EBADMSG");
	TAP_OK(vu_msg_config(&m, VU_SET_CONFIG, 0, 257, 0, NULL, &err) == -EINVAL,
	       "building a 257-byte config: -EINVAL");

	/* encode into a short buffer */
	vu_msg_u64(&m, VU_SET_FEATURES, 0);
	TAP_OK(vu_encode(VU_CHAN_FRONTEND, &m, buf, 19, &err) == -EMSGSIZE,
	       "encode into 19 bytes: -EMSGSIZE");
	m.size = 3;
	TAP_OK(vu_encode(VU_CHAN_FRONTEND, &m, buf, sizeof(buf), &err) == -EBADMSG,
	       "encode refuses a malformed request");
}

int main(void)
{
	test_roundtrips();
	test_replies();
	test_malformed_requests();
	return tap_done();
}
