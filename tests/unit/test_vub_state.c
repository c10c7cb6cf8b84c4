// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for bridged/vub_state.c: the device record a daemon leaves in
 * the kernel's fd store.  A record round-trips; of two copies the newest
 * valid one wins; a torn or corrupted copy, another version, and fields out
 * of range are rejected, so a daemon never builds a device from them.
 */
#include "../../bridged/vub_state.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct vub_state sample(void)
{
	struct vub_state s;
	unsigned int i;

	memset(&s, 0, sizeof(s));
	s.dev_id = 42;
	s.vmm_pid = 1234;
	s.attached[0] = s.attached[1] = 1;
	s.vmm_features = 1ull << 32;
	s.has_fe = 1;
	s.connected = 1;
	s.conn_slot = 1;
	s.backend_slot = VUB_STATE_SLOT_NONE;
	s.nr_rings = 2;
	s.nmem = s.ninstalled = 1;
	s.mem[0] = (struct vub_state_region){ .gpa = 0, .size = 1 << 20, .uaddr = 0x7f0000000000,
					      .slot = 2 };
	s.installed[0] = s.mem[0];
	s.installed[0].slot = VUB_STATE_SLOT_NONE;	/* the front-end keeps no fd there */
	for (i = 0; i < 2; i++) {
		s.ring[i].num = 256;
		s.ring[i].addr.index = i;
		s.ring[i].have = 0x1f;
		s.ring[i].started = s.ring[i].want_started = s.ring[i].enable = 1;
		s.ring[i].kick_slot = 4 + 3 * i;
		s.ring[i].call_slot = 5 + 3 * i;
		s.ring[i].err_slot = VUB_STATE_SLOT_NONE;
	}
	snprintf(s.instance_socket, sizeof(s.instance_socket), "/run/be.sock");
	return s;
}

static char *two_copies(const struct vub_state *a, uint64_t ga, const struct vub_state *b,
			uint64_t gb)
{
	char *buf = calloc(2, VUB_STATE_COPY_SIZE);

	if (a)
		vub_state_encode(a, ga, 0, buf);
	if (b)
		vub_state_encode(b, gb, VUB_STATE_F_BUSY, buf + VUB_STATE_COPY_SIZE);
	return buf;
}

static void test_crc(void)
{
	/* The CRC-32C check value (RFC 3720, B.4: "123456789"). */
	TAP_OK(vub_state_crc32c(0, "123456789", 9) == 0xe3069283u, "CRC-32C check value");
	TAP_OK(vub_state_crc32c(vub_state_crc32c(0, "1234", 4), "56789", 5) == 0xe3069283u,
	       "CRC-32C in two parts");
}

static void test_round_trip(void)
{
	struct vub_state s = sample(), out;
	char *buf = calloc(1, VUB_STATE_COPY_SIZE);
	uint64_t gen = 0;
	uint32_t flags = 7;

	size_t len = vub_state_encode(&s, 9, VUB_STATE_F_BUSY, buf);

	TAP_OK(len < 1024, "one queue pair, one region: a %zu-byte record", len);
	TAP_OK(vub_state_decode(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags) == 0 &&
	       !memcmp(&s, &out, sizeof(s)) && gen == 9 && flags == VUB_STATE_F_BUSY,
	       "round trip: the same record, generation and flags");
	TAP_OK(vub_state_decode(buf, len - 1, &out, &gen, &flags) == -EBADMSG,
	       "a copy shorter than its body: EBADMSG");
	s.nr_rings = VUB_STATE_MAX_RINGS;
	s.nmem = s.ninstalled = VUB_STATE_MAX_REGIONS;
	for (unsigned int i = 0; i < VUB_STATE_MAX_RINGS; i++) {
		s.ring[i] = s.ring[i % 2];
		s.ring[i].addr.index = i;
	}
	for (unsigned int i = 0; i < VUB_STATE_MAX_REGIONS; i++) {
		s.mem[i] = s.mem[0];
		s.installed[i] = s.installed[0];
	}
	len = vub_state_encode(&s, 10, 0, buf);
	TAP_OK(len <= VUB_STATE_COPY_SIZE &&
	       vub_state_decode(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags) == 0 &&
	       !memcmp(&s, &out, sizeof(s)),
	       "the largest record (%zu bytes) fits a copy and round-trips", len);
	free(buf);
}

static void test_pick(void)
{
	struct vub_state a = sample(), b = sample(), out;
	uint64_t gen;
	uint32_t flags;
	char *buf;

	b.vmm_features = 3;
	buf = two_copies(&a, 4, &b, 5);
	TAP_OK(vub_state_pick(buf, 2 * VUB_STATE_COPY_SIZE, &out, &gen, &flags) == 1 &&
	       gen == 5 && out.vmm_features == 3 && flags == VUB_STATE_F_BUSY,
	       "pick: the copy with the higher generation (B)");
	free(buf);
	buf = two_copies(&a, 6, &b, 5);
	TAP_OK(vub_state_pick(buf, 2 * VUB_STATE_COPY_SIZE, &out, &gen, &flags) == 0 &&
	       gen == 6 && out.vmm_features == a.vmm_features && flags == 0,
	       "pick: the copy with the higher generation (A)");
	/* B torn in the middle of its body: A, although older */
	buf[VUB_STATE_COPY_SIZE + sizeof(struct vub_state_hdr) + 100] ^= 1;
	free(buf);
	buf = two_copies(&a, 4, &b, 5);
	buf[VUB_STATE_COPY_SIZE + sizeof(struct vub_state_hdr) + 100] ^= 1;
	TAP_OK(vub_state_pick(buf, 2 * VUB_STATE_COPY_SIZE, &out, &gen, &flags) == 0 &&
	       gen == 4, "pick: a torn newer copy is passed over for the older valid one");
	/* B half written (its tail still zero) */
	memset(buf + VUB_STATE_COPY_SIZE + 300, 0, VUB_STATE_COPY_SIZE - 300);
	TAP_OK(vub_state_pick(buf, 2 * VUB_STATE_COPY_SIZE, &out, &gen, &flags) == 0 &&
	       gen == 4, "pick: a half-written newer copy is passed over");
	TAP_OK(vub_state_pick(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags) == 0,
	       "pick: a memfd with only copy A");
	buf[sizeof(struct vub_state_hdr) + 5] ^= 0x80;
	TAP_OK(vub_state_pick(buf, 2 * VUB_STATE_COPY_SIZE, &out, &gen, &flags) == -EBADMSG,
	       "pick: both copies corrupt: EBADMSG");
	memset(buf, 0, 2 * VUB_STATE_COPY_SIZE);
	TAP_OK(vub_state_pick(buf, 2 * VUB_STATE_COPY_SIZE, &out, &gen, &flags) == -EBADMSG,
	       "pick: an empty memfd: EBADMSG");
	free(buf);
}

/* Re-encode @s with a valid checksum: only the field checks can refuse it. */
static int decode_mutated(const struct vub_state *s)
{
	char *buf = calloc(1, VUB_STATE_COPY_SIZE);
	struct vub_state out;
	uint64_t gen;
	uint32_t flags;
	int ret;

	vub_state_encode(s, 1, 0, buf);
	ret = vub_state_decode(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags);
	free(buf);
	return ret;
}

static void test_rejects(void)
{
	struct vub_state s = sample();
	struct vub_state_hdr h;
	char *buf = calloc(1, VUB_STATE_COPY_SIZE);
	struct vub_state out;
	uint64_t gen;
	uint32_t flags;

	vub_state_encode(&s, 1, 0, buf);
	memcpy(&h, buf, sizeof(h));
	h.version = VUB_STATE_VERSION + 1;
	h.crc = 0;
	memcpy(buf, &h, sizeof(h));
	TAP_OK(vub_state_decode(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags) ==
	       -EPROTONOSUPPORT, "another version: EPROTONOSUPPORT");
	vub_state_encode(&s, 1, 0, buf);
	buf[0] ^= 1;
	TAP_OK(vub_state_decode(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags) == -EBADMSG,
	       "wrong magic: EBADMSG");
	vub_state_encode(&s, 1, 0x2, buf);
	TAP_OK(vub_state_decode(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags) == -EBADMSG,
	       "an unknown flag: EBADMSG");
	vub_state_encode(&s, 0, 0, buf);
	TAP_OK(vub_state_decode(buf, VUB_STATE_COPY_SIZE, &out, &gen, &flags) == -EBADMSG,
	       "generation 0: EBADMSG");
	free(buf);

#define MUTATE(what, stmt) do {						\
		struct vub_state m = sample();				\
		stmt;							\
		TAP_OK(decode_mutated(&m) == -EINVAL, "field out of range: %s", what); \
	} while (0)
	TAP_OK(decode_mutated(&s) == 0, "the sample itself is valid");
	MUTATE("a bool of 2", m.lost = 2);
	MUTATE("ring bool of 255", m.ring[1].started = 255);
	MUTATE("dev_id 0", m.dev_id = 0);
	MUTATE("nr_rings past the array", m.nr_rings = VUB_STATE_MAX_RINGS + 1);
	MUTATE("nmem past the array", m.nmem = VUB_STATE_MAX_REGIONS + 1);
	MUTATE("ninstalled past the array", m.ninstalled = UINT32_MAX);
	MUTATE("pair without a NIC", m.pair = 1);
	MUTATE("pair past the rings", (m.in_nic = 1, m.pair = 1));
	MUTATE("pair far past the rings", (m.in_nic = 1, m.pair = UINT32_MAX / 2));
	MUTATE("pair that wraps 2k", (m.in_nic = 1, m.pair = 1u << 31));
	MUTATE("unterminated socket path", memset(m.instance_socket, 'x', sizeof(m.instance_socket)));
	MUTATE("unterminated ifname", memset(m.nic_ifname, 'x', sizeof(m.nic_ifname)));
	MUTATE("slot of the state itself", m.ring[0].kick_slot = VUB_FD_SLOT_STATE);
	MUTATE("slot past the store", m.ring[0].call_slot = VUB_FD_STORE_SLOTS);
	MUTATE("memory without a file", m.mem[0].slot = VUB_STATE_SLOT_NONE);
	MUTATE("empty memory region", m.installed[0].size = 0);
	MUTATE("connected without a socket", m.conn_slot = VUB_STATE_SLOT_NONE);
	MUTATE("socket slot NOFD", m.conn_slot = VUB_STATE_SLOT_NOFD);
	MUTATE("ring index not its position", m.ring[1].addr.index = 0);
	MUTATE("unknown ring settings", m.ring[0].have = 0x40);
	MUTATE("nr_rings at the array's end, rings past the sample", m.nr_rings = VUB_STATE_MAX_RINGS);
#undef MUTATE
}

int main(void)
{
	test_crc();
	test_round_trip();
	test_pick();
	test_rejects();
	return tap_done();
}
