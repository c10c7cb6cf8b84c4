/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_rarp: QEMU's self-announce, carried to the back-end.
 *
 * After a live migration a QEMU on vhost-kernel announces the guest by
 * writing RARP frames (ethertype 0x8035, one per announce round) into its
 * tap; through the bridge the tap carries no traffic, so the daemon watches
 * for them (one AF_PACKET socket, ETH_P_RARP, frames the host receives on
 * any interface of its network namespace) and sends the frame's source MAC
 * as VHOST_USER_SEND_RARP to the back-end of the device on that tap.
 *
 * QEMU 7.2 writes the rounds queued while the destination was paused when
 * it resumes, before it starts vhost (VHOST_NET_SET_BACKEND, where the
 * daemon learns the tap): a RARP no attached device takes is kept here for
 * a while, for the device that attaches the tap next.
 */
#ifndef VUB_RARP_H
#define VUB_RARP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VUB_RARP_KEEP		8	/* RARPs remembered, one per tap */
#define VUB_RARP_KEEP_MS	10000	/* how long one waits for its device */

/*
 * @buf, @len: an Ethernet frame.  0 and its source MAC in @mac when it is a
 * RARP (ethertype 0x8035, Ethernet/IPv4 addresses, a request opcode 3 as
 * QEMU's qemu_announce_self writes) from a unicast, non-zero MAC; else
 * -EINVAL.
 */
int vub_rarp_parse(const void *buf, size_t len, uint8_t mac[6]);

/* "aa:bb:cc:dd:ee:ff" */
void vub_rarp_mac_str(const uint8_t mac[6], char buf[18]);

struct vub_rarp_seen {
	int ifindex;		/* 0: free */
	uint8_t mac[6];
	int64_t at;		/* ms, vub_co_now's clock */
};

struct vub_rarp_pending {
	struct vub_rarp_seen e[VUB_RARP_KEEP];
};

/* Keep @mac, seen on @ifindex at @now and taken by no device (the tap's
 * previous one is replaced; a full table drops its oldest). */
void vub_rarp_keep(struct vub_rarp_pending *p, int ifindex, const uint8_t mac[6],
		   int64_t now);
/* A RARP kept for @ifindex less than VUB_RARP_KEEP_MS before @now: true,
 * its MAC in @mac, and it is forgotten.  Older ones are forgotten too. */
bool vub_rarp_take(struct vub_rarp_pending *p, int ifindex, int64_t now,
		   uint8_t mac[6]);

#endif /* VUB_RARP_H */
