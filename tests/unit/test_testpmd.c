// SPDX-License-Identifier: GPL-2.0-only
/*
 * The front-end proven against unmodified DPDK testpmd (vhost PMD).
 *
 * This program plays the guest: memfd guest RAM, split virtqueues,
 * virtio-net headers; the device is brought up through vu_frontend_* only.
 *
 *  macswap: N frames (default 200000, past the 16-bit index wrap) go out on
 *           TX and must all come back on RX with the MAC addresses swapped,
 *           in order.  Halfway the device is stopped (GET_VRING_BASE on both
 *           rings; the bases must equal our own counts mod 2^16) and started
 *           again from the returned bases: no frame may be lost.  Later the
 *           RX ring alone, then the TX ring alone, are stopped and
 *           restarted while the other stays started (DPDK takes the whole
 *           device down on any GET_VRING_BASE).  testpmd's
 *           own counters must match exactly: RX = TX = N, no drops.
 *  io:      two ports, io forwarding: N frames sent on device A arrive
 *           unchanged on device B and vice versa; counters exact.
 *  bridge:  macswap again, but the device is brought up by the daemon's
 *           translation (bridged/vub_dev.c) from vhost-net ioctls as the
 *           kernel forwards them (tests/unit/vmm.c), in DPDK virtio-user's
 *           order: memory as the kernel resolves it (pieces of the memfd),
 *           NET_SET_BACKEND starting the rings, GET_VRING_BASE on a running
 *           ring, DPDK's memory event (NET_SET_BACKEND -1, a new table
 *           whose region is mostly a reserved hole, NET_SET_BACKEND), then
 *           a QEMU-style stop/start (NET_SET_BACKEND -1, GET_VRING_BASE,
 *           SET_VRING_BASE, NET_SET_BACKEND); counters exact.
 *
 * Usage: test_testpmd [N]      env: DPDK_TESTPMD, VUB_KEEP_LOGS
 * Exit 77 (skip) when dpdk-testpmd is not installed.
 */
#include "guest.h"
#include "tap.h"
#include "testpmd.h"
#include "vmm.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FRAME_LEN	60
#define WINDOW		(GUEST_QSIZE / 2)	/* frames in flight, < RX buffers */
#define STALL_S		10.0

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };

static struct testpmd *g_tp;

static void on_alarm(int sig)
{
	(void)sig;
	if (g_tp && g_tp->pid > 0)
		kill(-g_tp->pid, SIGKILL);
	static const char m[] = "not ok - watchdog: test took too long\n";
	if (write(1, m, sizeof(m) - 1) < 0) {
		/* nothing */
	}
	_exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void make_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		       uint64_t seq)
{
	unsigned int i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;		/* local experimental ethertype 0x88b5 */
	f[13] = 0xb5;
	memcpy(f + 14, &seq, sizeof(seq));
	for (i = 22; i < FRAME_LEN; i++)
		f[i] = (uint8_t)(seq + i);
}

struct rxcheck {
	const uint8_t *want_dst, *want_src;
	uint64_t next_seq;
	uint64_t received;
	uint64_t bad;		/* wrong length, MACs or payload */
	uint64_t out_of_order;
};

static void on_rx(void *arg, const uint8_t *f, uint32_t len)
{
	struct rxcheck *c = arg;
	uint8_t want[FRAME_LEN];
	uint64_t seq;

	c->received++;
	if (!f || len != FRAME_LEN) {
		if (c->bad++ < 5)
			TAP_DIAG("bad frame: len %u", len);
		return;
	}
	memcpy(&seq, f + 14, sizeof(seq));
	if (seq != c->next_seq)
		c->out_of_order++;
	c->next_seq = seq + 1;
	make_frame(want, c->want_dst, c->want_src, seq);
	if (memcmp(want, f, FRAME_LEN)) {
		if (c->bad++ < 5)
			TAP_DIAG("frame %llu: content/MAC mismatch",
				 (unsigned long long)seq);
	}
}

/*
 * Pump `count` frames from tx (dst/src as given) while draining rx into chk,
 * keeping at most WINDOW frames in flight; returns 0 when all `count` have
 * been received, -ETIMEDOUT on a stall.
 */
static int pump(struct gdev *tx, struct gdev *rx, const uint8_t *dst,
		const uint8_t *src, uint64_t *sent, uint64_t target,
		struct rxcheck *chk)
{
	uint8_t f[FRAME_LEN];
	double last = now();

	while (chk->received < target) {
		bool progress = false;

		while (*sent < target && *sent - chk->received < WINDOW) {
			make_frame(f, dst, src, *sent);
			if (!guest_tx(tx, f, FRAME_LEN))
				break;
			(*sent)++;
			progress = true;
		}
		if (guest_tx_reap(tx))
			progress = true;
		while (guest_rx(rx, on_rx, chk))
			progress = true;
		if (progress) {
			last = now();
		} else if (now() - last > STALL_S) {
			TAP_DIAG("stall: sent %llu received %llu; tx avail %u used %u, rx avail %u used %u",
				 (unsigned long long)*sent,
				 (unsigned long long)chk->received,
				 tx->q[1].avail_idx, tx->q[1].used->idx,
				 rx->q[0].avail_idx, rx->q[0].used->idx);
			return -ETIMEDOUT;
		} else {
			sched_yield();
		}
	}
	/* let the last TX completions land */
	for (last = now(); tx->q[1].nfree < GUEST_QSIZE && now() - last < 2;)
		if (!guest_tx_reap(tx))
			sched_yield();
	return 0;
}

/* Run on the first usable CPU; testpmd's forwarding lcore gets the second. */
static void pin_first_cpu(void)
{
	cpu_set_t s, one;
	int i;

	/* same set testpmd.c saw at start-up: nothing has pinned us yet */
	if (usable_cpus() < 2 || sched_getaffinity(0, sizeof(s), &s))
		return;
	for (i = 0; i < CPU_SETSIZE && !CPU_ISSET(i, &s); i++)
		;
	CPU_ZERO(&one);
	CPU_SET(i, &one);
	sched_setaffinity(0, sizeof(one), &one);
}

static void test_macswap(uint64_t n)
{
	struct testpmd tp;
	struct testpmd_port_stats st;
	struct gdev g;
	struct rxcheck chk = { .want_dst = MAC_B, .want_src = MAC_A };
	uint64_t sent = 0, half = n / 2;
	uint32_t base[2] = { 0, 0 };
	double t0, t1;
	int ret;

	TAP_DIAG("macswap: %llu frames of %u bytes through testpmd",
		 (unsigned long long)n, FRAME_LEN);
	g_tp = &tp;
	ret = testpmd_start(&tp, 1, "macswap");
	if (!TAP_OK(ret == 0, "testpmd (1 vhost port, macswap) started")) {
		testpmd_cleanup(&tp);
		return;
	}
	ret = guest_init(&g);
	if (!ret)
		ret = guest_up(&g, tp.sock[0], 0);
	if (!TAP_OK(ret == 0, "device up through vu_frontend: %s",
		    g.fe ? vu_frontend_strerror(g.fe) : strerror(-ret)))
		goto out;
	TAP_DIAG("negotiated features 0x%llx, protocol features 0x%llx",
		 (unsigned long long)g.features,
		 (unsigned long long)vu_frontend_protocol_features(g.fe));

	t0 = now();
	ret = pump(&g, &g, MAC_A, MAC_B, &sent, half, &chk);
	TAP_OK(ret == 0 && chk.received == half,
	       "first half: %llu/%llu frames back", (unsigned long long)chk.received,
	       (unsigned long long)half);
	if (ret)
		goto out;

	/* device stop/start cycle, nothing in flight */
	ret = guest_stop(&g, base);
	TAP_OK(ret == 0, "stop: GET_VRING_BASE on both rings: %s",
	       vu_frontend_strerror(g.fe));
	TAP_OK(base[1] == (uint32_t)(sent & 0xffff) &&
	       base[0] == (uint32_t)(chk.received & 0xffff),
	       "bases returned: tx %u (sent %llu), rx %u (received %llu)",
	       base[1], (unsigned long long)sent, base[0],
	       (unsigned long long)chk.received);
	ret = guest_start(&g);
	TAP_OK(ret == 0, "restart from the returned bases: %s",
	       vu_frontend_strerror(g.fe));
	if (ret)
		goto out;

	/*
	 * Stop and restart the RX ring alone, TX staying started: DPDK takes
	 * the whole device down on any GET_VRING_BASE and must bring it back
	 * when the ring returns.
	 */
	ret = pump(&g, &g, MAC_A, MAC_B, &sent, half + half / 2, &chk);
	if (ret == 0) {
		ret = vu_frontend_stop_vring(g.fe, 0, &base[0]);
		TAP_OK(ret == 0 && base[0] == (uint32_t)(chk.received & 0xffff),
		       "stop the RX ring alone: base %u (received %llu)", base[0],
		       (unsigned long long)chk.received);
		ret = vu_frontend_start_vring(g.fe, 0);
		TAP_OK(ret == 0, "restart the RX ring alone: %s",
		       vu_frontend_strerror(g.fe));
	}
	/* and the TX ring alone, RX staying started */
	if (ret == 0)
		ret = pump(&g, &g, MAC_A, MAC_B, &sent, n - n / 8, &chk);
	if (ret == 0) {
		ret = vu_frontend_stop_vring(g.fe, 1, &base[1]);
		TAP_OK(ret == 0 && base[1] == (uint32_t)(sent & 0xffff),
		       "stop the TX ring alone: base %u (sent %llu)", base[1],
		       (unsigned long long)sent);
		ret = vu_frontend_start_vring(g.fe, 1);
		TAP_OK(ret == 0, "restart the TX ring alone: %s",
		       vu_frontend_strerror(g.fe));
	}
	if (ret == 0)
		ret = pump(&g, &g, MAC_A, MAC_B, &sent, n, &chk);
	t1 = now();
	TAP_OK(ret == 0 && chk.received == n && sent == n,
	       "all %llu frames came back (sent %llu)", (unsigned long long)n,
	       (unsigned long long)sent);
	TAP_OK(chk.bad == 0, "every frame MAC-swapped and intact (%llu bad)",
	       (unsigned long long)chk.bad);
	TAP_OK(chk.out_of_order == 0, "in order (%llu out of order)",
	       (unsigned long long)chk.out_of_order);
	TAP_OK(n > 65536 && g.q[1].avail_idx == (uint16_t)n,
	       "16-bit ring indexes wrapped (%llu frames, avail idx now %u)",
	       (unsigned long long)n, g.q[1].avail_idx);
	TAP_DIAG("macswap: %llu frames in %.2f s (%.0f kpps round trip), %lu TX kicks",
		 (unsigned long long)n, t1 - t0, n / (t1 - t0) / 1000.0,
		 g.q[1].kicks);

	ret = guest_stop(&g, base);
	TAP_OK(ret == 0 && base[1] == (uint32_t)(n & 0xffff),
	       "final stop: tx base %u", base[1]);
	vu_frontend_free(g.fe);
	g.fe = NULL;

	ret = testpmd_finish(&tp, &st, 20);
	if (TAP_OK(ret == 0, "testpmd quit and printed its counters")) {
		TAP_DIAG("testpmd port 0: RX %llu TX %llu RX-bytes %llu TX-bytes %llu missed %llu errors %llu/%llu nombuf %llu",
			 (unsigned long long)st.rx_packets,
			 (unsigned long long)st.tx_packets,
			 (unsigned long long)st.rx_bytes,
			 (unsigned long long)st.tx_bytes,
			 (unsigned long long)st.rx_missed,
			 (unsigned long long)st.rx_errors,
			 (unsigned long long)st.tx_errors,
			 (unsigned long long)st.rx_nombuf);
		TAP_OK(st.rx_packets == n && st.tx_packets == n,
		       "testpmd counters: RX-packets %llu, TX-packets %llu == %llu",
		       (unsigned long long)st.rx_packets,
		       (unsigned long long)st.tx_packets, (unsigned long long)n);
		TAP_OK(st.rx_bytes == n * FRAME_LEN && st.tx_bytes == n * FRAME_LEN,
		       "testpmd byte counters: %llu/%llu == %llu",
		       (unsigned long long)st.rx_bytes,
		       (unsigned long long)st.tx_bytes,
		       (unsigned long long)(n * FRAME_LEN));
		TAP_OK(st.rx_missed == 0 && st.rx_errors == 0 && st.tx_errors == 0 &&
		       st.rx_nombuf == 0, "no missed/error/nombuf");
		TAP_OK(!st.have_fwd || st.fwd_tx_dropped == 0,
		       "forward statistics: TX-dropped %llu",
		       (unsigned long long)st.fwd_tx_dropped);
	} else {
		testpmd_dump_log(&tp, 40);
	}
out:
	if (getenv("VUB_KEEP_LOGS"))
		TAP_DIAG("testpmd log: %s", tp.log);
	guest_destroy(&g);
	testpmd_cleanup(&tp);
	g_tp = NULL;
}

static void test_io_two_ports(uint64_t n)
{
	struct testpmd tp;
	struct testpmd_port_stats st[2];
	struct gdev a, b;
	struct rxcheck at_b = { .want_dst = MAC_B, .want_src = MAC_A };
	struct rxcheck at_a = { .want_dst = MAC_A, .want_src = MAC_B };
	uint64_t sent_a = 0, sent_b = 0;
	double t0, t1;
	int ret;

	TAP_DIAG("io: %llu frames each way between two vhost ports",
		 (unsigned long long)n);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	g_tp = &tp;
	ret = testpmd_start(&tp, 2, "io");
	if (!TAP_OK(ret == 0, "testpmd (2 vhost ports, io) started")) {
		testpmd_cleanup(&tp);
		return;
	}
	ret = guest_init(&a);
	if (!ret)
		ret = guest_init(&b);
	/*
	 * testpmd attaches a device asynchronously after the last message
	 * (DRIVER_OK) is acknowledged; frames that port 0 forwards to a port 1
	 * whose device is not attached yet are dropped.  Bring B up first
	 * (DPDK handles all vhost sockets in one thread, so B's new_device
	 * runs before A's first message), and wait for both links anyway.
	 */
	if (!ret)
		ret = guest_up(&b, tp.sock[1], 0);
	/* A also negotiates the back-end channel (DPDK offers BACKEND_REQ). */
	if (!ret)
		ret = guest_up(&a, tp.sock[0], VU_FRONTEND_F_BACKEND_REQ);
	if (!TAP_OK(ret == 0, "both devices up: %s", strerror(-ret)))
		goto out;
	TAP_OK(vu_frontend_backend_fd(a.fe) >= 0 &&
	       (vu_frontend_protocol_features(a.fe) & (1ull << VU_PF_BACKEND_REQ)),
	       "device A: BACKEND_REQ negotiated, channel open");
	ret = testpmd_wait_log(&tp, "Port 0: link state change event", 1, 10);
	if (!ret)
		ret = testpmd_wait_log(&tp, "Port 1: link state change event", 1, 10);
	if (!TAP_OK(ret == 0, "testpmd reports both links up"))
		goto out;
	t0 = now();
	ret = pump(&a, &b, MAC_B, MAC_A, &sent_a, n, &at_b);
	TAP_OK(ret == 0 && at_b.received == n && at_b.bad == 0 &&
	       at_b.out_of_order == 0,
	       "A -> B: %llu/%llu frames, unchanged, in order",
	       (unsigned long long)at_b.received, (unsigned long long)n);
	ret = pump(&b, &a, MAC_A, MAC_B, &sent_b, n, &at_a);
	t1 = now();
	TAP_OK(ret == 0 && at_a.received == n && at_a.bad == 0 &&
	       at_a.out_of_order == 0,
	       "B -> A: %llu/%llu frames, unchanged, in order",
	       (unsigned long long)at_a.received, (unsigned long long)n);
	TAP_DIAG("io: %llu frames in %.2f s", (unsigned long long)(2 * n),
		 t1 - t0);
	TAP_OK(vu_frontend_handle_backend(a.fe) == 0 &&
	       vu_frontend_backend_fd(a.fe) >= 0,
	       "back-end channel quiet and still open after the traffic");
	vu_frontend_free(a.fe);
	a.fe = NULL;
	vu_frontend_free(b.fe);
	b.fe = NULL;
	ret = testpmd_finish(&tp, st, 20);
	if (TAP_OK(ret == 0, "testpmd quit and printed its counters")) {
		TAP_OK(st[0].rx_packets == n && st[1].tx_packets == n &&
		       st[1].rx_packets == n && st[0].tx_packets == n,
		       "testpmd counters: p0 RX %llu TX %llu, p1 RX %llu TX %llu (== %llu)",
		       (unsigned long long)st[0].rx_packets,
		       (unsigned long long)st[0].tx_packets,
		       (unsigned long long)st[1].rx_packets,
		       (unsigned long long)st[1].tx_packets,
		       (unsigned long long)n);
	}
out:
	guest_destroy(&a);
	guest_destroy(&b);
	testpmd_cleanup(&tp);
	g_tp = NULL;
}

/*
 * The memory table of `g`, one region `span` times its memory, as the
 * kernel resolves it: the memfd in two pieces, as two adjacent mappings
 * would be, and the rest of the region (a reserved hole) left out.
 */
static int bridge_mem_table(struct vub_dev *d, struct gdev *g, uint64_t span)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = GUEST_GPA_BASE, .memory_size = span * g->size,
		.userspace_addr = (uint64_t)(uintptr_t)g->mem,
	};
	struct vub_mem_piece p[2] = {
		{ r.guest_phys_addr, g->size / 2, r.userspace_addr, 0, 0, 0 },
		{ r.guest_phys_addr + g->size / 2, g->size / 2,
		  r.userspace_addr + g->size / 2, g->size / 2, 0, 0 },
	};

	return vmm_mem_table(d, &r, 1, p, 2, &g->memfd, 1);
}

/* Rings, eventfds and memory of `g`, given to the bridge like a VMM does. */
static int bridge_up(struct vub_dev *d, struct gdev *g)
{
	uint64_t f = 0;
	unsigned int i;
	int ret;

	ret = vmm_ioctl(d, VHOST_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = vmm_ioctl(d, VHOST_GET_FEATURES, NULL, 0, NULL, 0, &f);
	for (i = 0; !ret && i < 2; i++)
		ret = vmm_file(d, VHOST_SET_VRING_CALL, i, g->q[i].call);
	g->features = f & (1ull << VU_F_VERSION_1);
	if (!ret)
		ret = vmm_u64(d, VHOST_SET_FEATURES, g->features);
	if (!ret)
		ret = bridge_mem_table(d, g, 1);
	guest_post_rx_all(g);
	for (i = 0; !ret && i < 2; i++) {
		struct gqueue *q = &g->q[i];

		ret = vmm_state(d, VHOST_SET_VRING_NUM, i, GUEST_QSIZE);
		if (!ret)
			ret = vmm_state(d, VHOST_SET_VRING_BASE, i, 0);
		if (!ret)
			ret = vmm_addr(d, i, (uintptr_t)q->desc, (uintptr_t)q->avail,
				       (uintptr_t)q->used, 0);
		if (!ret)
			ret = vmm_file(d, VHOST_SET_VRING_KICK, i, q->kick);
	}
	/* the tap fd: any fd, the bridge does not use it */
	for (i = 0; !ret && i < 2; i++)
		ret = vmm_file(d, VHOST_NET_SET_BACKEND, i, g->memfd);
	return ret;
}

static void bridge_log(void *opaque, int prio, const char *line)
{
	(void)opaque;
	(void)prio;
	TAP_DIAG("bridge: %s", line);
}

static void test_bridge(uint64_t n)
{
	struct testpmd tp;
	struct testpmd_port_stats st;
	struct vub_dev_cfg cfg = { .log = bridge_log };
	struct vub_dev d;
	struct gdev g;
	struct rxcheck chk = { .want_dst = MAC_B, .want_src = MAC_A };
	uint64_t sent = 0;
	uint32_t base[2] = { 0, 0 };
	unsigned int i;
	int ret;

	TAP_DIAG("bridge: %llu frames through vub_dev and testpmd", (unsigned long long)n);
	memset(&g, 0, sizeof(g));
	g_tp = &tp;
	ret = testpmd_start(&tp, 1, "macswap");
	if (!TAP_OK(ret == 0, "bridge: testpmd (1 vhost port, macswap) started")) {
		testpmd_cleanup(&tp);
		return;
	}
	cfg.backend = tp.sock[0];
	vub_dev_init(&d, &cfg, 1, (uint32_t)getpid());
	ret = guest_init(&g);
	if (!ret)
		ret = bridge_up(&d, &g);
	if (!TAP_OK(ret == 0, "bridge: device up through vhost-net ioctls: %s",
		    ret ? vub_dev_why(&d) : "ok"))
		goto out;
	ret = pump(&g, &g, MAC_A, MAC_B, &sent, n / 3, &chk);
	TAP_OK(ret == 0 && chk.received == n / 3, "bridge: first third: %llu frames back",
	       (unsigned long long)chk.received);
	if (ret)
		goto out;
	/* vhost reads a running ring's base; the bridge stops, reads, restarts. */
	ret = vmm_get_base(&d, 1, &base[1]);
	TAP_OK(ret == 0 && base[1] == (uint32_t)(sent & 0xffff) && d.fe->ring[1].started,
	       "bridge: GET_VRING_BASE on the running TX ring: %u (sent %llu), still running",
	       base[1], (unsigned long long)sent);
	/* DPDK virtio-user when its memory grows: both rings detached, the
	 * new table, attached again, the bases left as they were. */
	for (i = 0; !ret && i < 2; i++)
		ret = vmm_file(&d, VHOST_NET_SET_BACKEND, i, -1);
	if (!ret)
		ret = bridge_mem_table(&d, &g, 64);
	for (i = 0; !ret && i < 2; i++)
		ret = vmm_file(&d, VHOST_NET_SET_BACKEND, i, g.memfd);
	TAP_OK(ret == 0 && d.fe->nmem == 1 && d.fe->mem[0].r.size == g.size,
	       "bridge: DPDK's memory event: detached, a table with a 63-fold reserved hole (the back-end maps %llu bytes), attached: %s",
	       ret ? 0ull : (unsigned long long)d.fe->mem[0].r.size, ret ? vub_dev_why(&d) : "ok");
	if (ret == 0)
		ret = pump(&g, &g, MAC_A, MAC_B, &sent, 2 * (n / 3), &chk);
	TAP_OK(ret == 0 && chk.received == 2 * (n / 3), "bridge: second third: %llu frames back",
	       (unsigned long long)chk.received);
	if (ret)
		goto out;
	/* QEMU's vhost_net_stop / vhost_net_start. */
	for (i = 0; !ret && i < 2; i++)
		ret = vmm_file(&d, VHOST_NET_SET_BACKEND, i, -1);
	for (i = 0; !ret && i < 2; i++)
		ret = vmm_get_base(&d, i, &base[i]);
	TAP_OK(ret == 0 && base[0] == (uint32_t)(chk.received & 0xffff) &&
	       base[1] == (uint32_t)(sent & 0xffff),
	       "bridge: NET_SET_BACKEND -1 + GET_VRING_BASE: rx %u tx %u", base[0], base[1]);
	for (i = 0; !ret && i < 2; i++) {
		ret = vmm_state(&d, VHOST_SET_VRING_BASE, i, base[i]);
		if (!ret)
			ret = vmm_file(&d, VHOST_NET_SET_BACKEND, i, g.memfd);
	}
	TAP_OK(ret == 0, "bridge: SET_VRING_BASE + NET_SET_BACKEND: restarted: %s",
	       ret ? vub_dev_why(&d) : "ok");
	if (ret == 0)
		ret = pump(&g, &g, MAC_A, MAC_B, &sent, n, &chk);
	TAP_OK(ret == 0 && chk.received == n && sent == n && chk.bad == 0 &&
	       chk.out_of_order == 0,
	       "bridge: all %llu frames came back MAC-swapped, intact, in order", (unsigned long long)n);
	for (i = 0; !ret && i < 2; i++)
		ret = vmm_file(&d, VHOST_NET_SET_BACKEND, i, -1);
	vub_dev_release(&d);
	ret = testpmd_finish(&tp, &st, 20);
	if (TAP_OK(ret == 0, "bridge: testpmd quit and printed its counters"))
		TAP_OK(st.rx_packets == n && st.tx_packets == n && st.rx_missed == 0 &&
		       st.rx_errors == 0 && st.tx_errors == 0 && st.rx_nombuf == 0,
		       "bridge: testpmd counters: RX-packets %llu, TX-packets %llu == %llu, no errors",
		       (unsigned long long)st.rx_packets, (unsigned long long)st.tx_packets,
		       (unsigned long long)n);
	else
		testpmd_dump_log(&tp, 40);
out:
	vub_dev_release(&d);
	guest_destroy(&g);
	testpmd_cleanup(&tp);
	g_tp = NULL;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000;
	const char *only = getenv("VUB_TESTPMD_ONLY");

	if (!testpmd_binary())
		tap_skip_all("dpdk-testpmd not installed (apt-get install dpdk-dev)");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(240);
	pin_first_cpu();
	if (!only || !strcmp(only, "macswap"))
		test_macswap(n);
	if (!only || !strcmp(only, "io"))
		test_io_two_ports(n / 2 > 70000 ? n / 2 : 70000);
	if (!only || !strcmp(only, "bridge"))
		test_bridge(n / 2 > 70000 ? n / 2 : 70000);
	return tap_done();
}
