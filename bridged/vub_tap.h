/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_tap: what the tap a VMM hands over in VHOST_NET_SET_BACKEND says about
 * the offloads the VMM agreed on with its guest.
 *
 * With vhost-kernel the VMM negotiates the guest's offloads with the tap, not
 * with vhost: it offers CSUM and HOST_TSO4/6 (guest -> host) whenever the tap
 * has a virtio-net header (IFF_VNET_HDR), and it turns the tap's offloads
 * (TUNSETOFFLOAD) on for the GUEST_* features (host -> guest) the guest
 * acked, before it attaches the tap.  There is no TUNGETOFFLOAD: the offloads
 * are the tap netdev's features (tun maps TUN_F_CSUM to
 * tx-checksum-ip-generic, TSO4/6 to tx-tcp(6)-segmentation, TSO_ECN to
 * tx-tcp-ecn-segmentation, USO4+USO6 to tx-udp-segmentation; TUN_F_UFO
 * leaves no trace), read with SIOCETHTOOL from a socket in the tap's network
 * namespace (TUNGETDEVNETNS).
 */
#ifndef VUB_TAP_H
#define VUB_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/if_tun.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#define TUN_F_USO6	0x40
#endif

struct vub_tap_info {
	char ifname[IFNAMSIZ];
	bool multi_queue;		/* IFF_MULTI_QUEUE: one queue of several */
	uint64_t netns_dev, netns_ino;	/* its network namespace (TUNGETDEVNETNS) */
	bool own_netns;			/* the daemon's own */
	int ifindex;			/* in its namespace (SIOCGIFINDEX) */
	bool vnet_hdr;			/* IFF_VNET_HDR */
	int vnet_hdr_sz;		/* TUNGETVNETHDRSZ; 0 without a header */
	unsigned int offloads;		/* TUN_F_* in force */
	unsigned int offloads_avail;	/* TUN_F_* the tap can do */
};

/*
 * Read @fd, a tap.  Returns 0, or -errno with @why saying what failed
 * (-ENOTTY or -EBADFD: not a tap; -EPERM: no access to its namespace).
 * Enters the tap's network namespace for a moment when it is not ours.
 */
int vub_tap_read(int fd, struct vub_tap_info *ti, char *why, size_t why_len);

#endif /* VUB_TAP_H */
