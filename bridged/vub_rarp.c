// SPDX-License-Identifier: GPL-2.0
/* vub_rarp: see vub_rarp.h. */
#include "vub_rarp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int vub_rarp_parse(const void *buf, size_t len, uint8_t mac[6])
{
	/* dst 6, src 6, type 2; htype 2, ptype 2, hlen, plen, op 2, sha 6 */
	static const uint8_t hdr[] = { 0x80, 0x35, 0, 1, 0x08, 0x00, 6, 4, 0, 3 };
	static const uint8_t zero[6];
	const uint8_t *f = buf;

	if (len < 14 + 28 || memcmp(f + 12, hdr, sizeof(hdr)) ||
	    (f[6] & 1) || !memcmp(f + 6, zero, 6))
		return -EINVAL;
	memcpy(mac, f + 6, 6);
	return 0;
}

void vub_rarp_mac_str(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

void vub_rarp_keep(struct vub_rarp_pending *p, int ifindex, const uint8_t mac[6],
		   int64_t now)
{
	struct vub_rarp_seen *e = &p->e[0];
	size_t i;

	for (i = 0; i < VUB_RARP_KEEP; i++) {
		if (p->e[i].ifindex == ifindex) {
			e = &p->e[i];
			break;
		}
		if (!e->ifindex)
			continue;	/* a free one: kept unless the tap has one */
		if (!p->e[i].ifindex || p->e[i].at < e->at)
			e = &p->e[i];	/* a free one, else the oldest */
	}
	e->ifindex = ifindex;
	memcpy(e->mac, mac, 6);
	e->at = now;
}

bool vub_rarp_take(struct vub_rarp_pending *p, int ifindex, int64_t now,
		   uint8_t mac[6])
{
	bool found = false;
	size_t i;

	for (i = 0; i < VUB_RARP_KEEP; i++) {
		struct vub_rarp_seen *e = &p->e[i];

		if (!e->ifindex)
			continue;
		if (now - e->at >= VUB_RARP_KEEP_MS) {
			e->ifindex = 0;
		} else if (e->ifindex == ifindex) {
			memcpy(mac, e->mac, 6);
			e->ifindex = 0;
			found = true;
		}
	}
	return found;
}
