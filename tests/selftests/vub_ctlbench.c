// SPDX-License-Identifier: GPL-2.0
/*
 * vub_ctlbench: the cost of each vhost ioctl through /dev/vhost-user-bridge
 * against the same operation done directly on the same vhost-user back-end by
 * a client built on the daemon's own front-end (bridged/vu_frontend.c): the
 * vu_frontend_* calls the daemon makes for that ioctl, over a connection of
 * our own.  What is left in the ratio is the bridge itself: the module, the
 * io_uring channel and the daemon's dispatch.
 *
 *   vub_ctlbench --backend SOCK [--dev PATH] [-r ROUNDS] [-n N]
 *
 * Each round opens a fresh device on each side (bridge first on odd rounds,
 * direct first on even ones) and times, in a VMM's order: SET_OWNER (with the
 * connection to the back-end, which the bridge makes at the first ioctl),
 * GET_FEATURES, SET_FEATURES, SET_MEM_TABLE (one 8 MiB memfd region),
 * SET_VRING_NUM/BASE/ADDR/KICK/CALL on ring 0, then start and stop cycles of
 * both rings (VHOST_NET_SET_BACKEND with a tap / with -1; directly:
 * SET_VRING_ENABLE and the ring's start, SET_VRING_ENABLE 0 and
 * GET_VRING_BASE, as the daemon does for a tap's device).  N times each (a
 * tenth for SET_MEM_TABLE and the cycles).  Last, "bring-up": a fresh device
 * (connection) from open to both rings started, as in --scale below.  GET_FEATURES, VRING_NUM, BASE,
 * ADDR and KICK send no message on either side (the front-end caches them
 * until a ring starts); for comparison, "GET_FEATURES message" is a
 * VHOST_USER_GET_FEATURES round trip on the direct connection, what a native
 * vhost-user VMM pays for it.
 *
 * Output, one line per operation (microseconds):
 *   ctl NAME BRIDGE_MEDIAN BRIDGE_P99 BRIDGE_N DIRECT_MEDIAN DIRECT_P99 DIRECT_N
 * (a side that was not measured prints - - 0).
 *
 *   vub_ctlbench --backend SOCK --procs P [--side bridge|direct] [-r ROUNDS] [-n TOTAL]
 *
 * Concurrency: P processes, each with its own device (bridge) or connection
 * (direct), set up first, then released at once, each issuing TOTAL/P (at
 * least 20) SET_VRING_CALLs on ring 0, one vhost-user message each way on
 * both sides (--side bridge|direct: only that one).  Per round and side:
 *   conc P SIDE OPS_PER_S MEDIAN_US P99_US N
 *
 *   vub_ctlbench --backend SOCK --scale N [--daemon PID] [-w WORKERS]
 *
 * Scale: N devices (bridge) or connections (direct) set up and started at
 * once by WORKERS processes (default 16), each device as a VMM does it (owner,
 * features, a 64 KiB memfd memory table, both rings, VHOST_NET_SET_BACKEND
 * with a packet socket); held while the system is measured, then closed.
 *   scale N SIDE OK SECONDS SLAB_BYTES DAEMON_RSS_KB DAEMON_FDS
 * (the deltas from before the set-up: /proc/slabinfo's active_objs * objsize over
 * every cache, and the daemon's VmRSS and open fds, - for direct).
 *
 *   vub_ctlbench --backend SOCK --memtable MIB [--huge 0|1] [-r ROUNDS] [-n N]
 *
 * Large memory tables: SET_MEM_TABLE of MIB of memfd (MFD_HUGETLB with
 * --huge: 2 MiB pages from the pool) on a device (bridge) and a connection
 * (direct) that have an owner and features, N times each per round, sides
 * alternated.  Two layouts: 8 regions, one memfd each (a VMM with 8 memory
 * back-ends: 8 pieces, 8 files), and 64 regions of one memfd, contiguous in
 * guest-physical, virtual and file address (what the kernel, and the
 * front-end directly, merge into one region for the back-end; DPDK takes 8
 * at most).  The memory is never touched: what is timed is the table, not
 * the pages (the back-end must run without mlockall).
 *   memt LAYOUT SIDE MEDIAN_US P99_US N
 *
 * No timing is asserted: exit 0 when every call succeeded, 1 otherwise, 2 on
 * usage errors.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>

#include "vu_frontend.h"

#define MEM_SIZE	(8u << 20)
#define RING_NUM	256
#define VRING_OFF(i)	((uint64_t)(i) * 0x4000)

enum op {
	OP_OWNER, OP_GETF, OP_GETF_MSG, OP_SETF, OP_MEM, OP_NUM, OP_BASE, OP_ADDR,
	OP_KICK, OP_CALL, OP_START, OP_STOP, OP_BRINGUP, OP_NR
};

static const char *const op_name[OP_NR] = {
	[OP_OWNER] = "SET_OWNER+connect", [OP_GETF] = "GET_FEATURES",
	[OP_GETF_MSG] = "GET_FEATURES_message", [OP_SETF] = "SET_FEATURES",
	[OP_MEM] = "SET_MEM_TABLE", [OP_NUM] = "SET_VRING_NUM",
	[OP_BASE] = "SET_VRING_BASE", [OP_ADDR] = "SET_VRING_ADDR",
	[OP_KICK] = "SET_VRING_KICK", [OP_CALL] = "SET_VRING_CALL",
	[OP_START] = "ring_start", [OP_STOP] = "ring_stop", [OP_BRINGUP] = "bring-up",
};

struct samples {
	uint64_t *ns;
	size_t n, cap;
};

static struct samples S[2][OP_NR + 1];	/* [0] bridge, [1] direct; [OP_NR] untimed */
static const char *dev = "/dev/vhost-user-bridge", *backend;
static int mem_fd = -1, kick_fd = -1, call_fd = -1;
static void *mem;
static int rounds = 5, reps = 200;
static int only = -1;	/* --side: 0 bridge, 1 direct, -1 both */
/* the bring-up and scale devices' memory (64 KiB), their VHOST_NET_SET_BACKEND socket */
#define SCALE_MEM	(64u << 10)
static int scale_fd = -1, pkt_fd = -1;
static void *scale_mem;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void add(int side, enum op op, uint64_t ns)
{
	struct samples *s = &S[side][op];

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->ns = realloc(s->ns, s->cap * sizeof(*s->ns));
		if (!s->ns) {
			perror("vub_ctlbench");
			exit(1);
		}
	}
	s->ns[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void stat_print(struct samples *s)
{
	if (!s->n) {
		printf(" - - 0");
		return;
	}
	qsort(s->ns, s->n, sizeof(*s->ns), cmp_u64);
	printf(" %.1f %.1f %zu", s->ns[s->n / 2] / 1000.0, s->ns[s->n * 99 / 100] / 1000.0, s->n);
}

/* Time one call: `expr` is evaluated once; a failure ends the side's round
 * (goto out, with ret still -1). */
#define TIMED(side, op, expr, what) do {					\
		uint64_t t0_ = now_ns();					\
		int r_ = (expr);						\
		if (r_ < 0) {							\
			printf("# %s: %s failed: %s\n", side ? "direct" : "bridge",	\
			       what, strerror(side ? -r_ : errno));		\
			goto out;						\
		}								\
		add(side, op, now_ns() - t0_);					\
	} while (0)

static int tap_open(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vubcb%%d");
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int scale_bridge(uint64_t want, int *fdp);
static int scale_direct(uint64_t want, struct vu_frontend **fep);

static int run_bridge(uint64_t want)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} mt = { .m.nregions = 1, .r = { .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem } };
	struct vhost_vring_state st;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	uint64_t feat = 0, t0;
	int fd, tap, i, k, ret = -1;

	t0 = now_ns();
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, VHOST_SET_OWNER)) {
		printf("# bridge: open + VHOST_SET_OWNER: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	add(0, OP_OWNER, now_ns() - t0);
	tap = tap_open();
	if (tap < 0) {
		printf("# bridge: tap: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < reps; i++)
		TIMED(0, OP_GETF, ioctl(fd, VHOST_GET_FEATURES, &feat), "VHOST_GET_FEATURES");
	feat &= want;
	for (i = 0; i < reps; i++)
		TIMED(0, OP_SETF, ioctl(fd, VHOST_SET_FEATURES, &feat), "VHOST_SET_FEATURES");
	for (i = 0; i < reps / 10; i++)
		TIMED(0, OP_MEM, ioctl(fd, VHOST_SET_MEM_TABLE, &mt), "VHOST_SET_MEM_TABLE");
	for (k = 1; k >= 0; k--) {	/* ring 1 once, untimed; ring 0 timed */
		int n = k ? 1 : reps;

		st = (struct vhost_vring_state){ .index = k, .num = RING_NUM };
		a = (struct vhost_vring_addr){ .index = k,
			.desc_user_addr = (uintptr_t)mem + VRING_OFF(k),
			.avail_user_addr = (uintptr_t)mem + VRING_OFF(k) + 0x1000,
			.used_user_addr = (uintptr_t)mem + VRING_OFF(k) + 0x2000 };
		for (i = 0; i < n; i++)
			TIMED(0, k ? OP_NR : OP_NUM, ioctl(fd, VHOST_SET_VRING_NUM, &st), "VHOST_SET_VRING_NUM");
		st.num = 0;
		for (i = 0; i < n; i++)
			TIMED(0, k ? OP_NR : OP_BASE, ioctl(fd, VHOST_SET_VRING_BASE, &st), "VHOST_SET_VRING_BASE");
		for (i = 0; i < n; i++)
			TIMED(0, k ? OP_NR : OP_ADDR, ioctl(fd, VHOST_SET_VRING_ADDR, &a), "VHOST_SET_VRING_ADDR");
		f = (struct vhost_vring_file){ .index = k, .fd = kick_fd };
		for (i = 0; i < n; i++)
			TIMED(0, k ? OP_NR : OP_KICK, ioctl(fd, VHOST_SET_VRING_KICK, &f), "VHOST_SET_VRING_KICK");
		f.fd = call_fd;
		for (i = 0; i < n; i++)
			TIMED(0, k ? OP_NR : OP_CALL, ioctl(fd, VHOST_SET_VRING_CALL, &f), "VHOST_SET_VRING_CALL");
	}
	for (i = 0; i < reps / 10; i++) {
		for (k = 0; k < 2; k++) {
			f = (struct vhost_vring_file){ .index = k, .fd = tap };
			TIMED(0, OP_START, ioctl(fd, VHOST_NET_SET_BACKEND, &f), "VHOST_NET_SET_BACKEND tap");
		}
		for (k = 0; k < 2; k++) {
			f = (struct vhost_vring_file){ .index = k, .fd = -1 };
			TIMED(0, OP_STOP, ioctl(fd, VHOST_NET_SET_BACKEND, &f), "VHOST_NET_SET_BACKEND -1");
		}
	}
	ret = 0;
out:
	close(fd);
	if (tap >= 0)
		close(tap);
	if (!ret) {	/* a fresh device, open to both rings started */
		uint64_t t1 = now_ns();
		int r = scale_bridge(want, &fd);

		if (r) {
			printf("# bridge: bring-up: %s\n", strerror(-r));
			ret = -1;
		} else {
			add(0, OP_BRINGUP, now_ns() - t1);
		}
		if (fd >= 0)
			close(fd);
	}
	return ret;
}

static void quiet(void *opaque, const char *msg)
{
	(void)opaque;
	printf("# direct: %s\n", msg);
}

static int fe_getf_msg(struct vu_frontend *fe)
{
	struct vu_msg m, rep;
	struct vu_err err;

	vu_msg_init(&m, VU_GET_FEATURES);
	return vu_conn_call(&fe->conn, &m, &rep, fe->proto, &err);
}

static int fe_start(struct vu_frontend *fe, unsigned int k)
{
	int ret = 0;

	if (vu_frontend_has_protocol_features(fe) && !vu_frontend_ring_started(fe, k))
		ret = vu_frontend_set_vring_enable(fe, k, true);
	return ret ? ret : vu_frontend_start_vring(fe, k);
}

static int fe_stop(struct vu_frontend *fe, unsigned int k)
{
	uint32_t base;
	int ret = 0;

	if (vu_frontend_ring_started(fe, k) && vu_frontend_has_protocol_features(fe))
		ret = vu_frontend_set_vring_enable(fe, k, false);
	return ret ? ret : vu_frontend_stop_vring(fe, k, &base);
}

static int run_direct(uint64_t want)
{
	struct vu_frontend_opts o = { .nr_rings = 2, .timeout_ms = 25000, .log = quiet };
	struct vu_frontend_region r = { .gpa = 0, .size = MEM_SIZE, .uaddr = (uintptr_t)mem,
					.fd_offset = 0, .fd = mem_fd };
	struct vu_frontend *fe;
	struct vu_vring_addr a;
	uint64_t feat = 0, t0;
	int i, k, ret;

	t0 = now_ns();
	fe = vu_frontend_new(&o);
	if (!fe)
		return -1;
	ret = vu_frontend_connect(fe, backend);
	if (!ret)
		ret = vu_frontend_set_owner(fe);
	if (ret) {
		printf("# direct: connect + SET_OWNER: %s\n", strerror(-ret));
		vu_frontend_free(fe);
		return -1;
	}
	add(1, OP_OWNER, now_ns() - t0);
	ret = -1;
	for (i = 0; i < reps; i++)
		TIMED(1, OP_GETF, vu_frontend_get_features(fe, &feat), "GET_FEATURES");
	for (i = 0; i < reps; i++)
		TIMED(1, OP_GETF_MSG, fe_getf_msg(fe), "GET_FEATURES message");
	feat &= want;
	for (i = 0; i < reps; i++)
		TIMED(1, OP_SETF, vu_frontend_set_features(fe, feat), "SET_FEATURES");
	for (i = 0; i < reps / 10; i++)
		TIMED(1, OP_MEM, vu_frontend_set_mem_table(fe, &r, 1), "SET_MEM_TABLE");
	for (k = 1; k >= 0; k--) {
		int n = k ? 1 : reps;

		a = (struct vu_vring_addr){ .index = k, .desc = (uintptr_t)mem + VRING_OFF(k),
			.avail = (uintptr_t)mem + VRING_OFF(k) + 0x1000,
			.used = (uintptr_t)mem + VRING_OFF(k) + 0x2000 };
		for (i = 0; i < n; i++)
			TIMED(1, k ? OP_NR : OP_NUM, vu_frontend_set_vring_num(fe, k, RING_NUM), "SET_VRING_NUM");
		for (i = 0; i < n; i++)
			TIMED(1, k ? OP_NR : OP_BASE, vu_frontend_set_vring_base(fe, k, 0), "SET_VRING_BASE");
		for (i = 0; i < n; i++)
			TIMED(1, k ? OP_NR : OP_ADDR, vu_frontend_set_vring_addr(fe, &a), "SET_VRING_ADDR");
		for (i = 0; i < n; i++)
			TIMED(1, k ? OP_NR : OP_KICK, vu_frontend_set_vring_kick(fe, k, kick_fd), "SET_VRING_KICK");
		for (i = 0; i < n; i++)
			TIMED(1, k ? OP_NR : OP_CALL, vu_frontend_set_vring_call(fe, k, call_fd), "SET_VRING_CALL");
	}
	for (i = 0; i < reps / 10; i++) {
		for (k = 0; k < 2; k++)
			TIMED(1, OP_START, fe_start(fe, k), "ring start");
		for (k = 0; k < 2; k++)
			TIMED(1, OP_STOP, fe_stop(fe, k), "ring stop");
	}
	ret = 0;
out:
	vu_frontend_free(fe);
	if (!ret) {
		uint64_t t1 = now_ns();
		int r = scale_direct(want, &fe);

		if (r) {
			printf("# direct: bring-up: %s\n", strerror(-r));
			ret = -1;
		} else {
			add(1, OP_BRINGUP, now_ns() - t1);
		}
		vu_frontend_free(fe);
	}
	return ret;
}


/* --- concurrency ---------------------------------------------------------- */

static int conc_child(int side, uint64_t *out, int m, int ready_w, int go_r)
{
	struct vu_frontend_opts o = { .nr_rings = 2, .timeout_ms = 25000, .log = quiet };
	struct vhost_vring_file f = { .index = 0, .fd = call_fd };
	struct vu_frontend *fe = NULL;
	int fd = -1, i, r;
	char c;

	if (side) {
		fe = vu_frontend_new(&o);
		r = fe ? vu_frontend_connect(fe, backend) : -ENOMEM;
		if (!r)
			r = vu_frontend_set_owner(fe);
	} else {
		fd = open(dev, O_RDWR | O_CLOEXEC);
		r = fd < 0 || ioctl(fd, VHOST_SET_OWNER) ? -errno : 0;
	}
	if (write(ready_w, r ? "e" : "r", 1) != 1 || r)
		return 1;
	if (read(go_r, &c, 1) < 0)
		return 1;
	for (i = 0; i < m; i++) {
		uint64_t t0 = now_ns();

		r = side ? vu_frontend_set_vring_call(fe, 0, call_fd) :
			   (ioctl(fd, VHOST_SET_VRING_CALL, &f) ? -errno : 0);
		if (r) {
			printf("# %s: SET_VRING_CALL: %s\n", side ? "direct" : "bridge", strerror(-r));
			return 1;
		}
		out[i] = now_ns() - t0;
	}
	return 0;
}

static int conc_run(int side, int procs, int total)
{
	int m = total / procs < 20 ? 20 : total / procs, ready[2], go[2], i, bad = 0, st;
	size_t len = (size_t)procs * m * sizeof(uint64_t);
	struct samples s = { 0 };
	uint64_t *ns, t0, t1;
	pid_t *pid;
	char c;

	ns = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid = calloc(procs, sizeof(*pid));
	if (ns == MAP_FAILED || !pid || pipe(ready) || pipe(go))
		return -1;
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			close(ready[0]);
			close(go[1]);
			_exit(conc_child(side, ns + (size_t)i * m, m, ready[1], go[0]));
		}
		if (pid[i] < 0)
			bad++;
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < procs; i++)
		if (read(ready[0], &c, 1) != 1 || c != 'r')
			bad++;
	t0 = now_ns();
	close(go[1]);		/* go: every child's read() returns */
	for (i = 0; i < procs; i++)
		if (pid[i] > 0 && (waitpid(pid[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)))
			bad++;
	t1 = now_ns();
	close(ready[0]);
	if (!bad) {
		s.ns = ns;
		s.n = (size_t)procs * m;
		printf("conc %d %s %.0f", procs, side ? "direct" : "bridge", s.n * 1e9 / (t1 - t0));
		stat_print(&s);
		printf("\n");
	} else {
		printf("# conc %d %s: %d processes failed\n", procs, side ? "direct" : "bridge", bad);
	}
	munmap(ns, len);
	free(pid);
	return bad ? -1 : 0;
}

/* --- large memory tables --------------------------------------------------- */

struct memt {
	unsigned int nr, nfiles;
	struct vu_frontend_region r[64];
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[64];
	} vt;
};

/* @nr regions of @mib MiB over @nfiles memfds (1 or @nr). */
static int memt_layout(struct memt *t, unsigned int nr, unsigned int nfiles, uint64_t mib, bool huge)
{
	uint64_t per = (mib << 20) / nr, fsize = (mib << 20) / nfiles;
	unsigned int i;
	uint8_t *base = NULL;

	t->nr = nr;
	t->nfiles = nfiles;
	t->vt.m.nregions = nr;
	for (i = 0; i < nr; i++) {
		struct vu_frontend_region *r = &t->r[i];

		if (i < nfiles) {
			int fd = memfd_create("vub_ctlbench_memt", MFD_CLOEXEC | MFD_ALLOW_SEALING |
					      (huge ? MFD_HUGETLB : 0));

			if (fd < 0 || ftruncate(fd, (off_t)fsize))
				return -errno;
			base = mmap(NULL, fsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (base == MAP_FAILED)
				return -errno;
			*r = (struct vu_frontend_region){ .fd = fd, .uaddr = (uintptr_t)base };
		} else {	/* the next slice of the one file */
			*r = t->r[i - 1];
			r->uaddr += per;
			r->fd_offset += per;
		}
		r->gpa = (uint64_t)i * per;
		r->size = per;
		t->vt.r[i] = (struct vhost_memory_region){ .guest_phys_addr = r->gpa,
			.memory_size = per, .userspace_addr = r->uaddr };
	}
	return 0;
}

static int memt_run(int side, struct memt *t, const char *name, uint64_t want)
{
	struct vu_frontend_opts o = { .nr_rings = 2, .timeout_ms = 25000, .log = quiet };
	struct vu_frontend *fe = NULL;
	uint64_t feat = 0;
	int fd = -1, i, ret = -1;

	if (side) {
		fe = vu_frontend_new(&o);
		if (!fe || vu_frontend_connect(fe, backend) || vu_frontend_set_owner(fe) ||
		    vu_frontend_get_features(fe, &feat) || vu_frontend_set_features(fe, feat & want)) {
			printf("# direct: %s: set-up failed\n", name);
			goto out;
		}
	} else {
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, VHOST_SET_OWNER) || ioctl(fd, VHOST_GET_FEATURES, &feat)) {
			printf("# bridge: %s: set-up: %s\n", name, strerror(errno));
			goto out;
		}
		feat &= want;
		if (ioctl(fd, VHOST_SET_FEATURES, &feat))
			goto out;
	}
	for (i = 0; i < reps; i++)
		TIMED(side, OP_NR, side ? vu_frontend_set_mem_table(fe, t->r, t->nr) :
		      ioctl(fd, VHOST_SET_MEM_TABLE, &t->vt), name);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	vu_frontend_free(fe);
	return ret;
}

/* One layout at a time: the hugepage pool need only hold one. */
static void memt_free(struct memt *t, uint64_t mib)
{
	unsigned int i;

	for (i = 0; i < t->nfiles; i++) {
		munmap((void *)(uintptr_t)t->r[i].uaddr, (mib << 20) / t->nfiles);
		close(t->r[i].fd);
	}
}

static int memt_main(uint64_t mib, bool huge, uint64_t want)
{
	static struct memt t;
	static const unsigned int nr[2] = { 8, 64 }, nfiles[2] = { 8, 1 };
	char name[64];
	int i, k, opt, fails = 0;

	if (huge && mib % 128) {
		printf("# memt: with 2 MiB pages, MIB must be a multiple of 128\n");
		return 2;
	}
	for (k = 0; k < 2; k++) {
		int r = memt_layout(&t, nr[k], nfiles[k], mib, huge);

		snprintf(name, sizeof(name), "%ux%lluMiB%s/%ufile%s", nr[k],
			 (unsigned long long)(mib / nr[k]), huge ? "-2MiBpages" : "", nfiles[k],
			 nfiles[k] > 1 ? "s" : "");
		if (r) {
			printf("# memt %s: %s\n", name, strerror(-r));
			return 1;
		}
		S[0][OP_NR].n = S[1][OP_NR].n = 0;
		for (i = 0; i < rounds; i++)
			for (opt = 0; opt < 2; opt++)
				if (memt_run((opt + i) % 2, &t, name, want))
					fails++;
		for (opt = 0; opt < 2; opt++) {
			printf("memt %s %s", name, opt ? "direct" : "bridge");
			stat_print(&S[opt][OP_NR]);
			printf("\n");
		}
		memt_free(&t, mib);
	}
	return fails ? 1 : 0;
}

/* --- scale ---------------------------------------------------------------- */


/* A device as a VMM sets it up, to both rings started; *fdp is the device. */
static int scale_bridge(uint64_t want, int *fdp)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} mt = { .m.nregions = 1, .r = { .memory_size = SCALE_MEM,
		.userspace_addr = (uintptr_t)scale_mem } };
	struct vhost_vring_state st;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	uint64_t feat;
	int fd, k;

	*fdp = fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, VHOST_SET_OWNER) || ioctl(fd, VHOST_GET_FEATURES, &feat))
		return -errno;
	feat &= want;
	if (ioctl(fd, VHOST_SET_FEATURES, &feat) || ioctl(fd, VHOST_SET_MEM_TABLE, &mt))
		return -errno;
	for (k = 0; k < 2; k++) {
		st = (struct vhost_vring_state){ .index = k, .num = RING_NUM };
		a = (struct vhost_vring_addr){ .index = k,
			.desc_user_addr = (uintptr_t)scale_mem + VRING_OFF(k),
			.avail_user_addr = (uintptr_t)scale_mem + VRING_OFF(k) + 0x1000,
			.used_user_addr = (uintptr_t)scale_mem + VRING_OFF(k) + 0x2000 };
		if (ioctl(fd, VHOST_SET_VRING_NUM, &st))
			return -errno;
		st.num = 0;
		if (ioctl(fd, VHOST_SET_VRING_BASE, &st) || ioctl(fd, VHOST_SET_VRING_ADDR, &a))
			return -errno;
		f = (struct vhost_vring_file){ .index = k, .fd = kick_fd };
		if (ioctl(fd, VHOST_SET_VRING_KICK, &f))
			return -errno;
		f.fd = call_fd;
		if (ioctl(fd, VHOST_SET_VRING_CALL, &f))
			return -errno;
		f.fd = pkt_fd;
		if (ioctl(fd, VHOST_NET_SET_BACKEND, &f))
			return -errno;
	}
	return 0;
}

/* The same directly; *fep is the front-end (NULL if none). */
static int scale_direct(uint64_t want, struct vu_frontend **fep)
{
	struct vu_frontend_opts o = { .nr_rings = 2, .timeout_ms = 25000, .log = quiet };
	struct vu_frontend_region r = { .size = SCALE_MEM, .uaddr = (uintptr_t)scale_mem,
					.fd = scale_fd };
	struct vu_frontend *fe = vu_frontend_new(&o);
	struct vu_vring_addr a;
	uint64_t feat;
	int k, ret;

	*fep = fe;
	if (!fe)
		return -ENOMEM;
	ret = vu_frontend_connect(fe, backend);
	if (!ret)
		ret = vu_frontend_set_owner(fe);
	if (!ret)
		ret = vu_frontend_get_features(fe, &feat);
	if (!ret)
		ret = vu_frontend_set_features(fe, feat & want);
	if (!ret)
		ret = vu_frontend_set_mem_table(fe, &r, 1);
	for (k = 0; k < 2 && !ret; k++) {
		a = (struct vu_vring_addr){ .index = k, .desc = (uintptr_t)scale_mem + VRING_OFF(k),
			.avail = (uintptr_t)scale_mem + VRING_OFF(k) + 0x1000,
			.used = (uintptr_t)scale_mem + VRING_OFF(k) + 0x2000 };
		ret = vu_frontend_set_vring_num(fe, k, RING_NUM);
		if (!ret)
			ret = vu_frontend_set_vring_base(fe, k, 0);
		if (!ret)
			ret = vu_frontend_set_vring_addr(fe, &a);
		if (!ret)
			ret = vu_frontend_set_vring_kick(fe, k, kick_fd);
		if (!ret)
			ret = vu_frontend_set_vring_call(fe, k, call_fd);
		if (!ret)	/* what the daemon does for a backend that is not a tap */
			ret = vu_frontend_start_vring(fe, k);
	}
	return ret;
}

static long long slab_bytes(void)
{
	char line[512], name[128];
	long long sum = 0, num, size;
	FILE *f = fopen("/proc/slabinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %lld %*d %lld", name, &num, &size) == 3)
			sum += num * size;
	fclose(f);
	return sum;
}

static long daemon_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long daemon_fds(int pid)
{
	char path[64];
	long n = 0;
	FILE *p;
	int c;

	snprintf(path, sizeof(path), "ls /proc/%d/fd 2>/dev/null", pid);
	p = popen(path, "re");
	if (!p)
		return -1;
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

static int scale_run(int side, int n, int workers, int dpid, uint64_t want)
{
	long long slab0, slab1;
	long rss0 = 0, rss1 = 0, fds0 = 0, fds1 = 0;
	int ready[2], go[2], i, ok = 0, v, st;
	uint64_t t0, t1;
	pid_t *pid;
	char c;

	if (workers > n)
		workers = n;
	pid = calloc(workers, sizeof(*pid));
	if (!pid || pipe(ready) || pipe(go))
		return -1;
	if (dpid) {
		rss0 = daemon_rss_kb(dpid);
		fds0 = daemon_fds(dpid);
	}
	slab0 = slab_bytes();
	fflush(stdout);
	t0 = now_ns();
	for (i = 0; i < workers; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			int j, good = 0, first = 0;

			close(ready[0]);
			close(go[1]);
			for (j = i; j < n; j += workers) {	/* held until we exit */
				struct vu_frontend *fe;
				int fd = -1, r = side ? scale_direct(want, &fe) : scale_bridge(want, &fd);

				if (!r)
					good++;
				else if (!first++)
					printf("# scale %d %s: device %d: %s\n", n,
					       side ? "direct" : "bridge", j, strerror(-r));
			}
			fflush(stdout);
			if (write(ready[1], &good, sizeof(good)) != sizeof(good) ||
			    read(go[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < workers; i++)
		if (pid[i] > 0 && read(ready[0], &v, sizeof(v)) == sizeof(v))
			ok += v;
	t1 = now_ns();
	usleep(500000);		/* the back-end's and daemon's last replies settle */
	slab1 = slab_bytes();
	if (dpid) {
		rss1 = daemon_rss_kb(dpid);
		fds1 = daemon_fds(dpid);
	}
	close(go[1]);
	for (i = 0; i < workers; i++)
		if (pid[i] > 0)
			waitpid(pid[i], &st, 0);
	close(ready[0]);
	free(pid);
	printf("scale %d %s %d %.2f %lld", n, side ? "direct" : "bridge", ok, (t1 - t0) / 1e9,
	       slab1 - slab0);
	if (dpid && !side)
		printf(" %ld %ld\n", rss1 - rss0, fds1 - fds0);
	else
		printf(" - -\n");
	/* Let the daemon and the back-end see every close before the next level. */
	for (i = 0; dpid && i < 100 && daemon_fds(dpid) > fds0; i++)
		usleep(100000);
	sleep(1);
	return ok == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	/* VIRTIO_F_VERSION_1, VIRTIO_NET_F_MRG_RXBUF: what every VMM asks for */
	const uint64_t want = (1ull << 32) | (1ull << 15);
	int i, opt, fails = 0, procs = 0, scale = 0, workers = 16, dpid = 0, memt = 0;
	bool huge = false;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--backend"))
			backend = argv[i + 1];
		else if (!strcmp(argv[i], "--dev"))
			dev = argv[i + 1];
		else if (!strcmp(argv[i], "-r"))
			rounds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-n"))
			reps = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--procs"))
			procs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--scale"))
			scale = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--daemon"))
			dpid = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-w"))
			workers = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--memtable"))
			memt = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--side"))
			only = !strcmp(argv[i + 1], "direct");
		else if (!strcmp(argv[i], "--huge"))
			huge = !strcmp(argv[i + 1], "1");
		else
			break;
	}
	if (i != argc || !backend || rounds < 1 || reps < 10 || procs < 0 || scale < 0 || workers < 1 ||
	    memt < 0 || memt % 64) {
		fprintf(stderr, "usage: vub_ctlbench --backend SOCK [--dev PATH] [-r ROUNDS] [-n N>=10]\n"
			"       [--procs P [--side bridge|direct] | --scale N [--daemon PID] [-w WORKERS] |\n"
			"        --memtable MIB (a multiple of 64) [--huge 0|1]]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* sealable, as QEMU's memory-backend-memfd: the module seals it against
	 * shrinking (otherwise it logs, once per device, that it cannot) */
	mem_fd = memfd_create("vub_ctlbench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mem_fd < 0 || kick_fd < 0 || call_fd < 0 || ftruncate(mem_fd, MEM_SIZE)) {
		perror("vub_ctlbench");
		return 1;
	}
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
	if (mem == MAP_FAILED) {
		perror("vub_ctlbench: mmap");
		return 1;
	}
	memset(mem, 0, MEM_SIZE);
	if (memt)
		return memt_main((uint64_t)memt, huge, want);
	if (procs) {
		for (i = 0; i < rounds; i++)
			for (opt = 0; opt < 2; opt++)
				if ((only < 0 || only == (opt + i) % 2) &&
				    conc_run((opt + i) % 2, procs, reps))
					fails++;
		return fails ? 1 : 0;
	}
	scale_fd = memfd_create("vub_ctlbench_scale", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (scale_fd < 0 || pkt_fd < 0 || ftruncate(scale_fd, SCALE_MEM)) {
		perror("vub_ctlbench: scale");
		return 1;
	}
	scale_mem = mmap(NULL, SCALE_MEM, PROT_READ | PROT_WRITE, MAP_SHARED, scale_fd, 0);
	if (scale_mem == MAP_FAILED)
		return 1;
	memset(scale_mem, 0, SCALE_MEM);
	if (scale) {
		for (opt = 0; opt < 2; opt++)
			if (scale_run(opt, scale, workers, dpid, want))
				fails++;
		return fails ? 1 : 0;
	}
	for (i = 0; i < rounds; i++) {
		for (opt = 0; opt < 2; opt++) {
			int side = (opt + i) % 2;	/* alternate which goes first */

			if (side ? run_direct(want) : run_bridge(want))
				fails++;
		}
	}
	for (i = 0; i < OP_NR; i++) {
		printf("ctl %s", op_name[i]);
		stat_print(&S[0][i]);
		stat_print(&S[1][i]);
		printf("\n");
	}
	return fails ? 1 : 0;
}
