/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_nic: the VMM devices that make up one multiqueue NIC share one
 * vhost-user connection.
 *
 * A VMM with N queue pairs (QEMU -netdev tap,queues=N,vhost=on,vhostfds=...,
 * DPDK virtio-user queues=N) opens one vhost device per pair and hands each
 * its own queue of one multiqueue tap (IFF_MULTI_QUEUE) in
 * VHOST_NET_SET_BACKEND.  Each device only knows rings 0 (rx) and 1 (tx);
 * vhost-user carries all pairs on one connection, pair k on rings 2k and
 * 2k+1.  So the daemon groups devices by NIC, the key being
 *
 *   the VMM process (the tgid that issues VHOST_NET_SET_BACKEND),
 *   the tap: its name (TUNGETIFF) and network namespace (TUNGETDEVNETNS),
 *   as vub_tap_read() reads them for the offloads,
 *   the back-end socket,
 *
 * and a device joins its NIC at its first VHOST_NET_SET_BACKEND with a tap
 * fd, in the order the VMM attaches its pairs (QEMU's vhost_net_start and
 * DPDK's virtio-user start pairs 0..N-1 in order): the first device to
 * attach is pair 0, its connection becomes the NIC's; a later one takes
 * the lowest free pair k, its cached state is replayed on the NIC's
 * connection at rings 2k/2k+1 and its own connection, which never started
 * a ring, is closed.  A pair beyond the back-end's GET_QUEUE_NUM (1 without
 * the MQ protocol feature) is refused with ENOBUFS.  The NIC's connection
 * lives until its last device leaves (closed, or VHOST_RESET_OWNER); a
 * device that leaves has its rings disabled and stopped, and the pairs
 * still running are announced again (DPDK takes the whole device down at
 * any ring's stop).  Devices whose fd is not a multiqueue tap are never
 * grouped: one connection each, as before.
 *
 * The registry (find, add, pairs) and the key are pure; the helpers below drive
 * vu_frontend calls and are tested against a mock back-end.
 */
#ifndef VUB_NIC_H
#define VUB_NIC_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost_user_bridge.h>

#include "vu_frontend.h"
#include "vub_tap.h"

/* Queue pairs one connection can carry: 8-bit ring indices. */
#define VUB_NIC_MAX_PAIRS	(VU_FRONTEND_MAX_RINGS / 2)

struct vub_nic_key {
	uint32_t vmm_pid;
	uint64_t netns_dev, netns_ino;	/* the tap's network namespace */
	char ifname[IFNAMSIZ];
	char backend[VUB_SOCKET_MAX];	/* the back-end socket */
};

struct vub_nic {
	struct vub_nic_key key;
	struct vu_frontend *fe;		/* the shared connection */
	const void *pair[VUB_NIC_MAX_PAIRS];	/* member of pair k; NULL: free */
	unsigned int nr_members;
	struct vub_nic *next;
};

/* Every NIC of a daemon. */
struct vub_nics {
	struct vub_nic *head;
};

/* --- the registry (pure) ------------------------------------------------- */

struct vub_nic *vub_nic_find(const struct vub_nics *nics,
			     const struct vub_nic_key *key);
/* A new NIC without members or connection; NULL when out of memory. */
struct vub_nic *vub_nic_new(struct vub_nics *nics, const struct vub_nic_key *key);
/*
 * @member takes the lowest free pair below @max_pairs: returns it, or
 * -ENOBUFS when all are taken (the back-end has no more queue pairs).
 */
int vub_nic_add(struct vub_nic *nic, const void *member, unsigned int max_pairs);
/* Pair @k is free again; returns the members left. */
unsigned int vub_nic_remove(struct vub_nic *nic, unsigned int k);
/* Unlink the NIC and free it with its connection. */
void vub_nic_free(struct vub_nics *nics, struct vub_nic *nic);
/* Queue pairs a back-end takes: GET_QUEUE_NUM with the MQ protocol
 * feature (at most VUB_NIC_MAX_PAIRS), otherwise 1. */
unsigned int vub_nic_max_pairs(uint64_t proto, uint64_t queue_num);

/* --- the tap ---------------------------------------------------------------- */

/*
 * The NIC of a tap queue as vub_tap_read() saw it: fills key->ifname and
 * netns_*.  0 for a multiqueue tap; -EOPNOTSUPP for a single-queue one,
 * which is never grouped.
 */
int vub_nic_key_from_tap(const struct vub_tap_info *ti, struct vub_nic_key *key);

/* --- on the shared connection --------------------------------------------- */

/*
 * A device joins: what its own front-end @from cached is applied to @to,
 * its rings 0/1 at @base/@base+1: features and memory table when they
 * differ from @to's, ring NUM, BASE, ADDR, KICK (cached), CALL and ERR
 * (sent).  No ring is started.
 */
int vub_nic_replay(struct vu_frontend *to, unsigned int base,
		   const struct vu_frontend *from);
/*
 * A pair goes away: its started rings @base/@base+1 are disabled
 * (SET_VRING_ENABLE 0) and stopped (GET_VRING_BASE), and their cache is
 * dropped; then the rings of other pairs are announced again.
 */
int vub_nic_drop_pair(struct vu_frontend *fe, unsigned int base);
/* After a stop of a ring of pair @base/2: announce the other pairs' rings
 * again (vu_frontend_refresh_vring). */
int vub_nic_refresh_others(struct vu_frontend *fe, unsigned int base);
/* Is @regions (as for vu_frontend_set_mem_table) what @fe has now? */
bool vub_nic_same_mem(const struct vu_frontend *fe,
		      const struct vu_frontend_region *regions, unsigned int n);

#endif /* VUB_NIC_H */
