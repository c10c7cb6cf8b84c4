// SPDX-License-Identifier: GPL-2.0
/* vub_state: the device record kept in the kernel's fd store.  See vub_state.h. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "vub_state.h"

/* CRC-32C (Castagnoli, reflected), a table per byte: the record is written
 * twice per request, and the daemon may run under emulation (SSE 4.2's crc32
 * instruction was tried: under TCG, make bench's perf showed it twice as slow
 * as this table, 20% of the daemon's CPU). */
uint32_t vub_state_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = buf;
	uint32_t c;
	int i, k;

	if (!table[1]) {
		for (i = 0; i < 256; i++) {
			c = (uint32_t)i;
			for (k = 0; k < 8; k++)
				c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = (crc >> 8) ^ table[(crc ^ *p++) & 0xff];
	return ~crc;
}

static uint32_t record_crc(const struct vub_state_hdr *h, const void *body)
{
	struct vub_state_hdr tmp = *h;

	tmp.crc = 0;
	return vub_state_crc32c(vub_state_crc32c(0, &tmp, sizeof(tmp)), body, h->len);
}

/* The body is the fixed part of struct vub_state up to its arrays, then only
 * the rings and regions in use: a record is a few hundred bytes, not 10 KiB. */
#define FIXED offsetof(struct vub_state, ring)

static size_t body_len(uint64_t nr_rings, uint64_t nmem, uint64_t ninstalled)
{
	return FIXED + nr_rings * sizeof(struct vub_state_ring) +
	       (nmem + ninstalled) * sizeof(struct vub_state_region);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

size_t vub_state_encode(const struct vub_state *s, uint64_t gen, uint32_t flags, void *buf)
{
	/* Counts past their arrays (never from vub_dev_state_save()) copy what
	 * fits, and the length they then disagree with makes decode refuse it. */
	uint32_t nr = min_u32(s->nr_rings, VUB_STATE_MAX_RINGS);
	uint32_t nm = min_u32(s->nmem, VUB_STATE_MAX_REGIONS);
	uint32_t ni = min_u32(s->ninstalled, VUB_STATE_MAX_REGIONS);
	struct vub_state_hdr h = {
		.magic = VUB_STATE_MAGIC,
		.version = VUB_STATE_VERSION,
		.len = (uint32_t)body_len(nr, nm, ni),
		.flags = flags,
		.generation = gen,
	};
	char *p = (char *)buf + sizeof(h);

	memcpy(p, s, FIXED);
	p += FIXED;
	memcpy(p, s->ring, nr * sizeof(s->ring[0]));
	p += nr * sizeof(s->ring[0]);
	memcpy(p, s->mem, nm * sizeof(s->mem[0]));
	p += nm * sizeof(s->mem[0]);
	memcpy(p, s->installed, ni * sizeof(s->installed[0]));
	h.crc = record_crc(&h, (char *)buf + sizeof(h));
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.len;
}

static bool is_bool(uint8_t v)
{
	return v <= 1;
}

static bool is_str(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

static bool slot_ok(uint32_t slot)
{
	return slot == VUB_STATE_SLOT_NONE || slot == VUB_STATE_SLOT_NOFD ||
	       (slot > VUB_FD_SLOT_STATE && slot < VUB_FD_STORE_SLOTS);
}

/* Regions the front-end wants have a file; those the back-end has need none. */
static bool regions_ok(const struct vub_state_region *r, uint32_t n, bool need_fd)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (!r[i].size || r[i].slot == VUB_STATE_SLOT_NOFD || !slot_ok(r[i].slot) ||
		    (need_fd && r[i].slot == VUB_STATE_SLOT_NONE))
			return false;
	return true;
}

/* Every field within its range; what the daemon then builds can trust it. */
static bool state_ok(const struct vub_state *s)
{
	const uint8_t *b[] = { &s->lost, &s->attached[0], &s->attached[1], &s->features_set,
			       &s->tap_seen, &s->in_nic, &s->has_fe, &s->connected,
			       &s->has_proto, &s->fe_features_set, &s->features_sent,
			       &s->owner_sent, &s->replay_owner, &s->mem_set, &s->mem_sent };
	uint32_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (!is_bool(*b[i]))
			return false;
	if (!s->dev_id || !is_str(s->instance_socket, sizeof(s->instance_socket)) ||
	    !is_str(s->nic_ifname, sizeof(s->nic_ifname)) ||
	    !is_str(s->nic_backend, sizeof(s->nic_backend)))
		return false;
	if (s->pair >= VUB_STATE_MAX_RINGS / 2 || (!s->in_nic && s->pair))
		return false;
	if (!s->has_fe)
		return true;
	if (s->nr_rings > VUB_STATE_MAX_RINGS || 2 * s->pair + 1 >= s->nr_rings ||
	    s->nmem > VUB_STATE_MAX_REGIONS || s->ninstalled > VUB_STATE_MAX_REGIONS)
		return false;
	if (!slot_ok(s->conn_slot) || s->conn_slot == VUB_STATE_SLOT_NOFD ||
	    !slot_ok(s->backend_slot) || s->backend_slot == VUB_STATE_SLOT_NOFD ||
	    (s->connected && s->conn_slot == VUB_STATE_SLOT_NONE))
		return false;
	if (!regions_ok(s->mem, s->nmem, true) || !regions_ok(s->installed, s->ninstalled, false))
		return false;
	for (i = 0; i < s->nr_rings; i++) {
		const struct vub_state_ring *r = &s->ring[i];

		if (!is_bool(r->want_started) || !is_bool(r->started) || !is_bool(r->stale) ||
		    !is_bool(r->enable) || !is_bool(r->enabled) || r->have > 0x3f ||
		    !slot_ok(r->kick_slot) || !slot_ok(r->call_slot) || !slot_ok(r->err_slot) ||
		    r->addr.index != i)
			return false;
	}
	return true;
}

int vub_state_decode(const void *buf, size_t len, struct vub_state *s, uint64_t *gen,
		     uint32_t *flags)
{
	struct vub_state_hdr h;
	const char *p = buf;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, p, sizeof(h));
	if (h.magic != VUB_STATE_MAGIC)
		return -EBADMSG;
	if (h.version != VUB_STATE_VERSION)
		return -EPROTONOSUPPORT;
	if (h.len < FIXED || len - sizeof(h) < h.len || h.reserved || !h.generation ||
	    (h.flags & ~VUB_STATE_F_BUSY))
		return -EBADMSG;
	if (record_crc(&h, p + sizeof(h)) != h.crc)
		return -EBADMSG;
	memset(s, 0, sizeof(*s));
	memcpy(s, p + sizeof(h), FIXED);
	p += sizeof(h) + FIXED;
	if (s->nr_rings > VUB_STATE_MAX_RINGS || s->nmem > VUB_STATE_MAX_REGIONS ||
	    s->ninstalled > VUB_STATE_MAX_REGIONS ||
	    h.len != body_len(s->nr_rings, s->nmem, s->ninstalled))
		return -EINVAL;
	memcpy(s->ring, p, s->nr_rings * sizeof(s->ring[0]));
	p += s->nr_rings * sizeof(s->ring[0]);
	memcpy(s->mem, p, s->nmem * sizeof(s->mem[0]));
	p += s->nmem * sizeof(s->mem[0]);
	memcpy(s->installed, p, s->ninstalled * sizeof(s->installed[0]));
	if (!state_ok(s))
		return -EINVAL;
	*gen = h.generation;
	*flags = h.flags;
	return 0;
}

int vub_state_pick(const void *buf, size_t len, struct vub_state *s, uint64_t *gen,
		   uint32_t *flags)
{
	static struct vub_state tmp;	/* large: not on a coroutine's stack */
	uint64_t g0 = 0, g1 = 0;
	uint32_t f0 = 0, f1 = 0;
	int r0, r1;

	r0 = vub_state_decode(buf, len, s, &g0, &f0);
	r1 = len > VUB_STATE_COPY_SIZE ?
		vub_state_decode((const char *)buf + VUB_STATE_COPY_SIZE,
				 len - VUB_STATE_COPY_SIZE, &tmp, &g1, &f1) : -EBADMSG;
	if (r1 == 0 && (r0 || g1 > g0)) {
		*s = tmp;
		*gen = g1;
		*flags = f1;
		return 1;
	}
	if (r0)
		return r0;
	*gen = g0;
	*flags = f0;
	return 0;
}
