/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal virtio-net "guest" for host-side tests: guest RAM is one memfd
 * (shared, so a vhost-user back-end can map it), with split virtqueues and
 * packet buffers inside it.  The device is brought up through vu_frontend.
 *
 * Queue 0 is RX (device writes), queue 1 is TX (device reads), as in
 * virtio-net.  Every buffer starts with a 12-byte virtio_net_hdr_mrg_rxbuf
 * (VERSION_1).
 */
#ifndef VUB_TEST_GUEST_H
#define VUB_TEST_GUEST_H

#include "../../bridged/vu_frontend.h"

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#define GUEST_QSIZE	256u
#define GUEST_BUFSZ	2048u
#define GUEST_NET_HDR	12u
#define GUEST_GPA_BASE	0x40000000ull	/* a GPA that is not the file offset */

/* struct vring_desc/avail/used and the VRING_* flags: the kernel's uapi
 * (the same header the daemon's <linux/vhost.h> pulls in). */

struct gqueue {
	unsigned int idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint8_t *buf;			/* GUEST_QSIZE buffers */
	uint64_t buf_gpa;
	uint16_t avail_idx;		/* shadow of avail->idx */
	uint16_t last_used;
	uint16_t free_ids[GUEST_QSIZE];
	unsigned int nfree;
	int kick;			/* eventfd */
	int call;			/* eventfd */
	unsigned long kicks;
};

struct gdev {
	int memfd;
	uint8_t *mem;
	size_t size;
	struct gqueue q[2];
	struct vu_frontend *fe;
	uint64_t features;
};

/* Guest memory, rings and eventfds; no back-end yet. */
int guest_init(struct gdev *g);
/* Connect to `sock` and bring the device up (features, memory, rings),
 * RX buffers posted.  Returns 0 or a negative errno (message on stderr). */
int guest_up(struct gdev *g, const char *sock, unsigned int fe_flags);
/* Post every free RX buffer (guest_up does it before starting the rings). */
void guest_post_rx_all(struct gdev *g);
/* GET_VRING_BASE on both rings. */
int guest_stop(struct gdev *g, uint32_t base[2]);
/* Start both rings again from the cached bases. */
int guest_start(struct gdev *g);
void guest_destroy(struct gdev *g);

/* Post one TX frame (copied after a zeroed net header); false if full. */
bool guest_tx(struct gdev *g, const void *frame, uint32_t len);
/* Reclaim completed TX descriptors; returns how many. */
unsigned int guest_tx_reap(struct gdev *g);
/* Take one received frame: calls fn(frame, len) and re-posts the buffer.
 * Returns 1 if a frame was consumed, 0 if none. */
int guest_rx(struct gdev *g, void (*fn)(void *arg, const uint8_t *frame,
					uint32_t len), void *arg);
/* Kick the queue if the device asked for notifications. */
void guest_kick(struct gdev *g, struct gqueue *q);

#endif
