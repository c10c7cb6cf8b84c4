// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test guest: memfd guest RAM, split virtqueues, virtio-net framing.
 * Index updates are single aligned 16-bit atomic stores with release
 * ordering: a torn avail->idx makes a back-end consume phantom descriptors.
 */
#include "guest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* Layout inside the memfd: per queue 3 pages of ring, then the buffers. */
#define RING_AREA	(3 * 4096)
#define QAREA		(RING_AREA + GUEST_QSIZE * GUEST_BUFSZ)

static uint64_t gpa_of(const struct gdev *g, const void *p)
{
	return GUEST_GPA_BASE + (uint64_t)((const uint8_t *)p - g->mem);
}

int guest_init(struct gdev *g)
{
	unsigned int i, j;

	memset(g, 0, sizeof(*g));
	g->size = 2 * QAREA;
	g->size = (g->size + (1 << 20) - 1) & ~(size_t)((1 << 20) - 1);
	g->memfd = memfd_create("vub-test-guest", MFD_CLOEXEC);
	if (g->memfd < 0 || ftruncate(g->memfd, (off_t)g->size))
		return -errno;
	g->mem = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->memfd, 0);
	if (g->mem == MAP_FAILED)
		return -errno;
	for (i = 0; i < 2; i++) {
		struct gqueue *q = &g->q[i];
		uint8_t *base = g->mem + i * QAREA;

		q->idx = i;
		q->desc = (struct vring_desc *)base;
		q->avail = (struct vring_avail *)(base + 4096);
		q->used = (struct vring_used *)(base + 2 * 4096);
		q->buf = base + RING_AREA;
		q->buf_gpa = gpa_of(g, q->buf);
		for (j = 0; j < GUEST_QSIZE; j++) {
			q->desc[j].addr = q->buf_gpa + (uint64_t)j * GUEST_BUFSZ;
			q->desc[j].len = GUEST_BUFSZ;
			q->desc[j].flags = i == 0 ? VRING_DESC_F_WRITE : 0;
			q->free_ids[j] = (uint16_t)(GUEST_QSIZE - 1 - j);
		}
		q->nfree = GUEST_QSIZE;
		/* We poll the used rings: no interrupts, please. */
		q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick < 0 || q->call < 0)
			return -errno;
	}
	return 0;
}

static void publish(struct gqueue *q)
{
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

void guest_kick(struct gdev *g, struct gqueue *q)
{
	uint64_t one = 1;

	(void)g;
	/* order the idx store before reading the device's flags */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE) &
	    VRING_USED_F_NO_NOTIFY)
		return;
	if (write(q->kick, &one, sizeof(one)) == sizeof(one))
		q->kicks++;
}

static void post_rx(struct gqueue *q, uint16_t id)
{
	q->avail->ring[q->avail_idx % GUEST_QSIZE] = id;
	q->avail_idx++;
}

static int setup_ring(struct gdev *g, unsigned int i)
{
	struct gqueue *q = &g->q[i];
	struct vu_vring_addr a = {
		.index = i,
		.desc = (uint64_t)(uintptr_t)q->desc,
		.used = (uint64_t)(uintptr_t)q->used,
		.avail = (uint64_t)(uintptr_t)q->avail,
	};
	int ret;

	ret = vu_frontend_set_vring_num(g->fe, i, GUEST_QSIZE);
	if (!ret)
		ret = vu_frontend_set_vring_base(g->fe, i, 0);
	if (!ret)
		ret = vu_frontend_set_vring_addr(g->fe, &a);
	if (!ret)
		ret = vu_frontend_set_vring_kick(g->fe, i, q->kick);
	if (!ret)
		ret = vu_frontend_set_vring_call(g->fe, i, q->call);
	return ret;
}

void guest_post_rx_all(struct gdev *g)
{
	while (g->q[0].nfree)
		post_rx(&g->q[0], g->q[0].free_ids[--g->q[0].nfree]);
	publish(&g->q[0]);
}

int guest_up(struct gdev *g, const char *sock, unsigned int fe_flags)
{
	struct vu_frontend_opts o = { .nr_rings = 2, .flags = fe_flags };
	struct vu_frontend_region r = {
		.gpa = GUEST_GPA_BASE, .size = g->size,
		.uaddr = (uint64_t)(uintptr_t)g->mem, .fd_offset = 0,
		.fd = g->memfd,
	};
	uint64_t f;
	unsigned int i;
	int ret;

	g->fe = vu_frontend_new(&o);
	if (!g->fe)
		return -ENOMEM;
	ret = vu_frontend_connect(g->fe, sock);
	if (!ret)
		ret = vu_frontend_set_owner(g->fe);
	if (!ret)
		ret = vu_frontend_get_features(g->fe, &f);
	if (ret)
		return ret;
	/* VERSION_1 only: 12-byte header, no offloads, split ring. */
	g->features = f & (1ull << VU_F_VERSION_1);
	ret = vu_frontend_set_features(g->fe, g->features);
	if (!ret)
		ret = vu_frontend_set_mem_table(g->fe, &r, 1);
	/* RX buffers are posted before the ring starts, as a driver does. */
	guest_post_rx_all(g);
	for (i = 0; !ret && i < 2; i++)
		ret = setup_ring(g, i);
	for (i = 0; !ret && i < 2; i++)
		ret = vu_frontend_start_vring(g->fe, i);
	return ret;
}

int guest_stop(struct gdev *g, uint32_t base[2])
{
	int ret = vu_frontend_stop_vring(g->fe, 0, &base[0]);

	if (!ret)
		ret = vu_frontend_stop_vring(g->fe, 1, &base[1]);
	return ret;
}

int guest_start(struct gdev *g)
{
	int ret = vu_frontend_start_vring(g->fe, 0);

	if (!ret)
		ret = vu_frontend_start_vring(g->fe, 1);
	return ret;
}

void guest_destroy(struct gdev *g)
{
	unsigned int i;

	if (g->fe)
		vu_frontend_free(g->fe);
	for (i = 0; i < 2; i++) {
		if (g->q[i].kick > 0)
			close(g->q[i].kick);
		if (g->q[i].call > 0)
			close(g->q[i].call);
	}
	if (g->mem && g->mem != MAP_FAILED)
		munmap(g->mem, g->size);
	if (g->memfd > 0)
		close(g->memfd);
	memset(g, 0, sizeof(*g));
}

bool guest_tx(struct gdev *g, const void *frame, uint32_t len)
{
	struct gqueue *q = &g->q[1];
	uint16_t id;
	uint8_t *b;

	if (!q->nfree || len + GUEST_NET_HDR > GUEST_BUFSZ)
		return false;
	id = q->free_ids[--q->nfree];
	b = q->buf + (size_t)id * GUEST_BUFSZ;
	memset(b, 0, GUEST_NET_HDR);
	memcpy(b + GUEST_NET_HDR, frame, len);
	q->desc[id].len = GUEST_NET_HDR + len;
	q->avail->ring[q->avail_idx % GUEST_QSIZE] = id;
	q->avail_idx++;
	publish(q);
	guest_kick(g, q);
	return true;
}

unsigned int guest_tx_reap(struct gdev *g)
{
	struct gqueue *q = &g->q[1];
	uint16_t u = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	unsigned int n = 0;

	while (q->last_used != u) {
		uint32_t id = q->used->ring[q->last_used % GUEST_QSIZE].id;

		if (id < GUEST_QSIZE && q->nfree < GUEST_QSIZE)
			q->free_ids[q->nfree++] = (uint16_t)id;
		q->last_used++;
		n++;
	}
	return n;
}

int guest_rx(struct gdev *g, void (*fn)(void *arg, const uint8_t *frame,
					uint32_t len), void *arg)
{
	struct gqueue *q = &g->q[0];
	uint16_t u = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	struct vring_used_elem e;

	if (q->last_used == u)
		return 0;
	e = q->used->ring[q->last_used % GUEST_QSIZE];
	q->last_used++;
	if (e.id < GUEST_QSIZE && e.len >= GUEST_NET_HDR && e.len <= GUEST_BUFSZ)
		fn(arg, q->buf + (size_t)e.id * GUEST_BUFSZ + GUEST_NET_HDR,
		   e.len - GUEST_NET_HDR);
	else
		fn(arg, NULL, e.len);	/* let the caller count the error */
	if (e.id < GUEST_QSIZE) {
		post_rx(q, (uint16_t)e.id);
		publish(q);
		guest_kick(g, q);
	}
	return 1;
}
