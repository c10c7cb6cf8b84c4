// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for bridged/vub_rarp.c: which frames are a VMM's self-announce
 * (QEMU's qemu_announce_self RARP) and the announces kept for a device that
 * attaches its tap later.
 */
#include "../../bridged/vub_rarp.h"
#include "tap.h"

#include <string.h>

static const uint8_t vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* What QEMU's announce_self_create() writes (60 bytes, zero padded). */
static size_t qemu_rarp(uint8_t *f, const uint8_t mac[6])
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x80, f[13] = 0x35;		/* ETH_P_RARP */
	f[15] = 1;				/* hardware: Ethernet */
	f[16] = 0x08;				/* protocol: IPv4 */
	f[18] = 6, f[19] = 4;
	f[21] = 3;				/* reverse request */
	memcpy(f + 22, mac, 6);			/* sender hw address */
	memcpy(f + 32, mac, 6);			/* target hw address */
	return 60;
}

static void test_parse(void)
{
	uint8_t f[64], mac[6] = { 0 };
	char s[18];
	size_t len = qemu_rarp(f, vm_mac);

	TAP_OK(vub_rarp_parse(f, len, mac) == 0 && !memcmp(mac, vm_mac, 6),
	       "parse: QEMU's announce gives the guest's MAC");
	vub_rarp_mac_str(mac, s);
	TAP_OK(!strcmp(s, "52:54:00:12:34:56"), "parse: MAC formatted as %s", s);
	TAP_OK(vub_rarp_parse(f, 42, mac) == 0, "parse: 42 bytes (no padding) are enough");
	TAP_OK(vub_rarp_parse(f, 41, mac) < 0, "parse: a truncated RARP is refused");
	f[13] = 0x06;
	TAP_OK(vub_rarp_parse(f, len, mac) < 0, "parse: an ARP (0x0806) is not an announce");
	qemu_rarp(f, vm_mac);
	f[21] = 4;
	TAP_OK(vub_rarp_parse(f, len, mac) < 0, "parse: a RARP reply (opcode 4) is not an announce");
	qemu_rarp(f, vm_mac);
	f[18] = 8;
	TAP_OK(vub_rarp_parse(f, len, mac) < 0, "parse: hardware address length 8 is refused");
	f[18] = 6;
	f[6] |= 1;
	TAP_OK(vub_rarp_parse(f, len, mac) < 0, "parse: a multicast source MAC is refused");
	memset(f + 6, 0, 6);
	TAP_OK(vub_rarp_parse(f, len, mac) < 0, "parse: a zero source MAC is refused");
}

static void test_pending(void)
{
	struct vub_rarp_pending p = { 0 };
	uint8_t mac[6], other[6] = { 0x52, 0x54, 0, 0, 0, 1 };
	int i;

	TAP_OK(!vub_rarp_take(&p, 7, 1000, mac), "pending: nothing kept, nothing taken");
	vub_rarp_keep(&p, 7, vm_mac, 1000);
	vub_rarp_keep(&p, 7, vm_mac, 1050);	/* QEMU's next round */
	vub_rarp_keep(&p, 9, other, 1060);
	TAP_OK(!vub_rarp_take(&p, 8, 1100, mac), "pending: another tap's announce is not taken");
	TAP_OK(vub_rarp_take(&p, 7, 1100, mac) && !memcmp(mac, vm_mac, 6),
	       "pending: the tap's announce is taken by the device attaching it");
	TAP_OK(!vub_rarp_take(&p, 7, 1100, mac), "pending: ...once (its rounds are one entry)");
	TAP_OK(vub_rarp_take(&p, 9, 1060 + VUB_RARP_KEEP_MS - 1, mac) && !memcmp(mac, other, 6),
	       "pending: kept for almost VUB_RARP_KEEP_MS");
	vub_rarp_keep(&p, 9, other, 2000);
	TAP_OK(!vub_rarp_take(&p, 9, 2000 + VUB_RARP_KEEP_MS, mac), "pending: forgotten after VUB_RARP_KEEP_MS");
	for (i = 1; i <= VUB_RARP_KEEP + 1; i++)
		vub_rarp_keep(&p, 100 + i, vm_mac, 3000 + i);
	TAP_OK(!vub_rarp_take(&p, 101, 3100, mac), "pending: a full table drops its oldest");
	for (i = 2; i <= VUB_RARP_KEEP + 1; i++)
		if (!vub_rarp_take(&p, 100 + i, 3100, mac))
			break;
	TAP_OK(i == VUB_RARP_KEEP + 2, "pending: ...and keeps the %d newest", VUB_RARP_KEEP);
}

int main(void)
{
	test_parse();
	test_pending();
	return tap_done();
}
