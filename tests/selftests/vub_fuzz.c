// SPDX-License-Identifier: GPL-2.0
/*
 * vub_fuzz: fuzzers for the vhost-user-bridge module, run in the test VM
 * (tests/vm/guest.d/50-fuzz.sh; make fuzz for long runs).
 *
 *   vub_fuzz ioctl [--dev PATH] [--secs N] [--procs N] [--seed N] [--daemon-pid PID]
 *	Several VMM processes issue random vhost ioctl sequences with random
 *	arguments (indices, fds of every kind, memory tables over shared,
 *	private, sealable and reserved memory, bad pointers, unknown
 *	commands), IOTLB messages written and read (read/write on the
 *	device), fork children that use inherited devices and are killed
 *	at random, and pass devices to a peer over SCM_RIGHTS.  Against
 *	/dev/vhost-user-bridge with a live daemon and back-end, or against
 *	/dev/vhost-net as a control.
 *
 *   vub_fuzz daemon [--secs N] [--procs N] [--seed N]
 *	A malicious daemon on the raw channel (no other daemon may be
 *	attached): wrong tags and seqs, double commits, garbage results and
 *	reply sizes, requests never answered, IOTLB messages for the VMMs
 *	(VUB_U_CMD_DEV_MSG, valid or not), the control fd or the ring
 *	closed mid-request, exits at random points; VMM processes meanwhile
 *	issue ioctls and are killed at random.
 *
 * Both fail on an errno a VMM must never see (0 or above EHWPOISON, e.g.
 * the kernel-internal 512..530), on a process that does not finish (a hang),
 * and on a leak: the module's slab objects, the system's open files, and
 * the descriptors of this process and of the daemon (--daemon-pid) before
 * and after.  Oops, WARN and hung-task reports are caught by the VM runner's
 * kernel log check.  The number of calls is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <net/if.h>

#include "vub_chan.h"

#define BRIDGE_DEV	"/dev/" VUB_VMM_DEVICE_NAME
#define CTRL_DEV	"/dev/" VUB_CTRL_DEVICE_NAME
#define PARAM		"/sys/module/vhost_user_bridge/parameters/req_timeout_ms"
#define MAX_ERRNO_OK	133	/* EHWPOISON */
#define NDEV		4
#define NPEER		8

struct shared {
	_Atomic uint64_t calls;		/* VMM ioctls */
	_Atomic uint64_t chan_cmds;	/* daemon commands submitted */
	_Atomic uint64_t forks, passes, kills, daemons;
	_Atomic uint64_t bad_errno;	/* errnos a VMM must never see */
	_Atomic int first_bad;
	_Atomic uint64_t errnos[MAX_ERRNO_OK + 1];	/* [0]: successes */
};

static struct shared *sh;
static const char *dev_path = BRIDGE_DEV;
static double deadline;
static uint64_t rng_state;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(uint32_t percent)
{
	return rn(100) < percent;
}

static void seed(uint64_t s)
{
	rng_state = s * 0x9e3779b97f4a7c15ULL + 1;
	rnd();
}

/* Account one VMM call: its errno must be one a VMM may see. */
static void account(long ret, int err)
{
	atomic_fetch_add(&sh->calls, 1);
	if (!ret) {
		atomic_fetch_add(&sh->errnos[0], 1);
		return;
	}
	if (ret != -1 || err <= 0 || err > MAX_ERRNO_OK) {
		int zero = 0;

		atomic_fetch_add(&sh->bad_errno, 1);
		atomic_compare_exchange_strong(&sh->first_bad, &zero, err ? err : -1);
		return;
	}
	atomic_fetch_add(&sh->errnos[err], 1);
}

/* ---- the VMM side ---------------------------------------------------------- */

struct vmm {
	int dev[NDEV];
	int efd[2];
	int tap;
	int pipefd[2];
	int sock;		/* to the peer (SCM_RIGHTS) */
	int sealable, plain;	/* memfds, 16 pages each, mapped shared */
	uint8_t *msealable, *mplain, *anon, *hole;
	long pg;
	pid_t peer;
};

static const unsigned long vhost_cmds[] = {
	VHOST_GET_FEATURES, VHOST_SET_FEATURES, VHOST_SET_OWNER, VHOST_RESET_OWNER,
	VHOST_SET_MEM_TABLE, VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD,
	VHOST_SET_VRING_NUM, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE,
	VHOST_GET_VRING_BASE, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL,
	VHOST_SET_VRING_ERR, VHOST_SET_VRING_ENDIAN, VHOST_GET_VRING_ENDIAN,
	VHOST_SET_VRING_BUSYLOOP_TIMEOUT, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
	VHOST_SET_BACKEND_FEATURES, VHOST_GET_BACKEND_FEATURES, VHOST_NET_SET_BACKEND,
	VHOST_NET_SET_BACKEND, VHOST_SET_VRING_KICK, VHOST_SET_MEM_TABLE,
};

static int closed_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

static int pick_fd(struct vmm *v)
{
	switch (rn(12)) {
	case 0: return -1;
	case 1: return closed_fd();
	case 2: return v->pipefd[rn(2)];
	case 3: return v->dev[rn(NDEV)];
	case 4: return v->sealable;
	case 5: return (int)rnd();
	case 6: case 7: return v->tap;
	default: return v->efd[rn(2)];
	}
}

static uint32_t pick_index(void)
{
	static const uint32_t idx[] = { 0, 1, 0, 1, 2, 3, 0x7fffffff, 0xffffffff, 0x80000000 };

	return idx[rn(sizeof(idx) / sizeof(idx[0]))];
}

static uint64_t pick_addr(struct vmm *v)
{
	switch (rn(8)) {
	case 0: return (uintptr_t)v->anon;
	case 1: return (uintptr_t)v->hole;
	case 2: return (uintptr_t)v->mplain;
	case 3: return rnd();
	case 4: return 0xffff800000000000ULL;
	default: return (uintptr_t)v->msealable + rn(16) * v->pg;
	}
}

static void fill_mem(struct vmm *v, struct vhost_memory *m, uint32_t n)
{
	uint32_t i;

	m->nregions = chance(3) ? 100000 : n;
	m->padding = chance(3);
	for (i = 0; i < n; i++) {
		m->regions[i].guest_phys_addr = chance(80) ? (uint64_t)i << 32 : rnd();
		m->regions[i].userspace_addr = pick_addr(v);
		m->regions[i].memory_size = chance(80) ? (uint64_t)(1 + rn(4)) * v->pg :
					    chance(50) ? 0 : rnd();
		m->regions[i].flags_padding = rnd();
	}
}

/* One random ioctl on a random device (or @fd if >= 0). */
/*
 * The IOTLB message channel: a write of a random message (mostly of the
 * two formats, types and ranges a VMM writes, with random or bad
 * addresses), or a non-blocking read (O_NONBLOCK stays: a blocking read
 * of a device with an IOTLB waits for a message).  A write's 72 and a
 * read's count are successes.
 */
static void random_iotlb(struct vmm *v, int fd)
{
	struct vhost_msg_v2 m;
	size_t len = sizeof(m);
	ssize_t n;

	for (size_t i = 0; i < sizeof(m); i++)
		((uint8_t *)&m)[i] = (uint8_t)rnd();
	if (chance(50)) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		n = read(fd, &m, chance(90) ? sizeof(m) : rn(sizeof(m) + 8));
		account(n >= 0 ? 0 : n, errno);
		return;
	}
	if (chance(80))
		m.type = chance(50) ? VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG;
	if (chance(80)) {
		m.iotlb.type = chance(50) ? VHOST_IOTLB_UPDATE : VHOST_IOTLB_INVALIDATE;
		m.iotlb.perm = (uint8_t)rn(4);
		m.iotlb.size = chance(50) ? 4096 : rnd();
		m.iotlb.uaddr = chance(50) ? (uintptr_t)v->msealable : pick_addr(v);
	}
	if (chance(10))
		len = rn(sizeof(m) + 8);
	n = write(fd, &m, len);
	account(n == (ssize_t)sizeof(m) ? 0 : n, errno);
}

static void random_ioctl(struct vmm *v, int fd)
{
	union {
		uint8_t b[sizeof(struct vhost_memory) + 4 * sizeof(struct vhost_memory_region)];
		struct vhost_memory m;
		struct vhost_vring_state s;
		struct vhost_vring_file f;
		struct vhost_vring_addr a;
		uint64_t u;
		int i;
	} arg;
	unsigned long cmd = vhost_cmds[rn(sizeof(vhost_cmds) / sizeof(vhost_cmds[0]))];
	void *p = &arg;
	long ret;

	if (fd < 0)
		fd = v->dev[rn(NDEV)];
	if (chance(10)) {
		random_iotlb(v, fd);
		return;
	}
	for (size_t i = 0; i < sizeof(arg.b); i++)
		arg.b[i] = (uint8_t)rnd();
	if (chance(3))
		cmd = _IOC(rn(4), chance(50) ? 0xAF : rn(256), rn(256), rn(64));
	switch (cmd) {
	case VHOST_SET_FEATURES:
		arg.u = chance(70) ? 1ULL << 32 | 1ULL << 15 : rnd();
		break;
	case VHOST_SET_MEM_TABLE:
		fill_mem(v, &arg.m, rn(5));
		break;
	case VHOST_SET_LOG_FD:
		arg.i = pick_fd(v);
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_NET_SET_BACKEND:
		arg.f.index = pick_index();
		arg.f.fd = pick_fd(v);
		break;
	case VHOST_SET_VRING_ADDR:
		arg.a.index = pick_index();
		arg.a.flags = chance(80) ? 0 : rnd();
		arg.a.desc_user_addr = (uintptr_t)v->msealable;
		arg.a.avail_user_addr = (uintptr_t)v->msealable + 4096 * 4;
		arg.a.used_user_addr = (uintptr_t)v->msealable + 4096 * 8;
		if (chance(20))
			arg.a.used_user_addr = rnd();
		break;
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_ENDIAN:
	case VHOST_GET_VRING_ENDIAN:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		arg.s.index = pick_index();
		arg.s.num = chance(70) ? 256 : (uint32_t)rnd();
		if (cmd == VHOST_SET_VRING_BASE && chance(80))
			arg.s.num = 0;
		break;
	case VHOST_SET_BACKEND_FEATURES:
		arg.u = chance(50) ? 0 : rnd();
		break;
	}
	if (chance(3))
		p = chance(50) ? NULL : (void *)(uintptr_t)0xffff800000001000ULL;
	else if (chance(2))
		p = v->hole;
	ret = ioctl(fd, cmd, p);
	account(ret, errno);
}

/* A child that uses inherited devices for a moment; sometimes killed. */
static void vmm_fork(struct vmm *v)
{
	pid_t pid;
	int n = 1 + rn(4);

	atomic_fetch_add(&sh->forks, 1);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		while (n--)
			random_ioctl(v, -1);
		_exit(0);
	}
	if (pid < 0)
		return;
	if (chance(30)) {
		usleep(rn(3000));
		kill(pid, SIGKILL);
		atomic_fetch_add(&sh->kills, 1);
	}
	waitpid(pid, NULL, 0);
}

static void send_fd(int sock, int fd)
{
	char c = 'd';
	struct iovec iov = { &c, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c0 = CMSG_FIRSTHDR(&msg);

	c0->cmsg_level = SOL_SOCKET;
	c0->cmsg_type = SCM_RIGHTS;
	c0->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c0), &fd, sizeof(fd));
	if (sendmsg(sock, &msg, MSG_DONTWAIT) == 1)
		atomic_fetch_add(&sh->passes, 1);
}

/* The peer: takes devices over SCM_RIGHTS, uses them, keeps a few. */
static _Noreturn void peer_main(struct vmm *v, int sock)
{
	int kept[NPEER], n = 0, i;

	for (i = 0; i < NPEER; i++)
		kept[i] = -1;
	for (;;) {
		char c;
		struct iovec iov = { &c, 1 };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm;
		int fd = -1;

		if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
			break;
		cm = CMSG_FIRSTHDR(&msg);
		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		if (fd < 0)
			continue;
		for (i = 0; i < 1 + (int)rn(3); i++)
			random_ioctl(v, fd);
		if (kept[n] >= 0)
			close(kept[n]);
		kept[n] = fd;
		n = (n + 1) % NPEER;
	}
	_exit(0);
}

static int tap_open(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void vmm_setup(struct vmm *v)
{
	int sp[2], i;

	v->pg = sysconf(_SC_PAGESIZE);
	for (i = 0; i < NDEV; i++)
		v->dev[i] = open(dev_path, O_RDWR | O_CLOEXEC);
	v->efd[0] = eventfd(0, EFD_CLOEXEC);
	v->efd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->tap = tap_open();
	if (pipe2(v->pipefd, O_CLOEXEC))
		v->pipefd[0] = v->pipefd[1] = -1;
	v->sealable = memfd_create("fuzz-sealable", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	v->plain = memfd_create("fuzz-plain", MFD_CLOEXEC);
	if (ftruncate(v->sealable, 16 * v->pg) || ftruncate(v->plain, 16 * v->pg))
		exit(3);
	v->msealable = mmap(NULL, 16 * v->pg, PROT_READ | PROT_WRITE, MAP_SHARED, v->sealable, 0);
	v->mplain = mmap(NULL, 16 * v->pg, PROT_READ | PROT_WRITE, MAP_SHARED, v->plain, 0);
	v->anon = mmap(NULL, 4 * v->pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	v->hole = mmap(NULL, 64 * v->pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->msealable == MAP_FAILED || v->mplain == MAP_FAILED || v->anon == MAP_FAILED ||
	    v->hole == MAP_FAILED)
		exit(3);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		exit(3);
	fflush(NULL);
	v->peer = fork();
	if (v->peer == 0) {
		close(sp[0]);
		peer_main(v, sp[1]);
	}
	close(sp[1]);
	v->sock = sp[0];
}

static _Noreturn void vmm_main(int id, uint64_t s)
{
	struct vmm v;
	uint32_t k;

	seed(s + 1000 * id);
	memset(&v, 0, sizeof(v));
	vmm_setup(&v);
	while (now() < deadline) {
		k = rn(100);
		if (k < 4) {
			close(v.dev[rn(NDEV)]);
		} else if (k < 8) {
			int i = rn(NDEV);

			if (fcntl(v.dev[i], F_GETFD) < 0)
				v.dev[i] = open(dev_path, O_RDWR | O_CLOEXEC);
		} else if (k < 11) {
			vmm_fork(&v);
		} else if (k < 14) {
			send_fd(v.sock, v.dev[rn(NDEV)]);
		} else if (k < 15) {
			/* sealed once handed over: shrinking must fail, growing not */
			if (ftruncate(v.sealable, 8 * v.pg) == 0 &&
			    ftruncate(v.sealable, 16 * v.pg))
				exit(3);
		} else if (k < 16) {
			/* a new mapping where the old one was: a new table is due */
			munmap(v.mplain, 16 * v.pg);
			v.mplain = mmap(NULL, 16 * v.pg, PROT_READ | PROT_WRITE, MAP_SHARED,
					v.plain, 0);
			if (v.mplain == MAP_FAILED)
				exit(3);
		} else {
			random_ioctl(&v, -1);
		}
	}
	close(v.sock);
	waitpid(v.peer, NULL, 0);
	_exit(0);
}

/* ---- the malicious daemon ---------------------------------------------------- */

struct bad {
	int fd;
	struct io_uring ring;
	uint8_t *bufs;
	uint32_t nr_tags;
	uint64_t seq[VUB_MAX_TAGS];	/* last request seen per tag */
	bool have[VUB_MAX_TAGS];
	uint32_t last_dev;		/* device of the last request seen */
};

#define BUF_LEN	VUB_REQ_BUF_MIN

static void bad_submit(struct bad *b, uint32_t op, const void *cmd, size_t len, uint64_t ud)
{
	if (!vub_chan_raw_submit(&b->ring, b->fd, op, cmd, len, ud))
		atomic_fetch_add(&sh->chan_cmds, 1);
}

static struct vub_io_cmd bad_io(struct bad *b, uint32_t tag)
{
	struct vub_io_cmd io = {
		.tag = tag,
		.buf_addr = (uintptr_t)(b->bufs + (size_t)(tag % b->nr_tags) * BUF_LEN),
		.buf_len = BUF_LEN,
	};

	if (chance(3))
		io.tag = chance(50) ? b->nr_tags + rn(3) : (uint32_t)rnd();
	if (chance(2))
		io.buf_len = rn(BUF_LEN);
	if (chance(2))
		io.buf_addr = chance(50) ? rnd() : 0xffff800000000000ULL;
	if (chance(2))
		io.flags = 1u << rn(32);
	if (chance(2))
		io.reserved = 1;
	return io;
}

/* Close the fds a request installed, or keep them (the process exits). */
static void bad_take(struct bad *b, uint32_t tag)
{
	struct vub_chan_msg m;
	uint32_t i;

	if (tag >= b->nr_tags)
		return;
	if (vub_chan_decode(b->bufs + (size_t)tag * BUF_LEN, BUF_LEN, &m))
		return;
	b->seq[tag] = m.req->seq;
	b->have[tag] = true;
	b->last_dev = m.req->dev_id;
	for (i = 0; m.fds && i < m.req->nr_fds; i++)
		if (chance(90))
			close(m.fds[i]);
}

/* Answer (or not) what @tag holds. */
static void bad_answer(struct bad *b, uint32_t tag)
{
	struct vub_io_cmd io = bad_io(b, tag);
	uint32_t k = rn(100);

	io.seq = b->seq[tag];
	if (k < 50) {			/* well formed, most of the time */
		io.result = chance(70) ? 0 : -(int32_t)(1 + rn(MAX_ERRNO_OK));
		io.reply_len = io.result ? 0 : 8 * rn(2) + (chance(50) ? 8 : 0);
	} else if (k < 60) {
		io.seq += chance(50) ? 1 : rnd();
	} else if (k < 70) {
		io.result = chance(50) ? (int32_t)(1 + rn(1000)) : -(int32_t)(512 + rn(20));
	} else if (k < 80) {
		io.reply_len = rn(VUB_REPLY_MAX + 8);
		io.result = chance(50) ? -EXDEV : 0;
	} else if (k < 90) {
		return;			/* never answered: the VMM times out */
	} else {
		io.result = (int32_t)rnd();
		io.reply_len = (uint32_t)rnd();
	}
	for (size_t i = 0; i < sizeof(io.reply); i++)
		io.reply[i] = (uint8_t)rnd();
	bad_submit(b, VUB_U_IO_COMMIT_AND_FETCH, &io, sizeof(io), tag);
	if (chance(10))		/* double commit */
		bad_submit(b, VUB_U_IO_COMMIT_AND_FETCH, &io, sizeof(io), tag);
}

static _Noreturn void bad_daemon(uint64_t s, double end)
{
	struct vub_attach a = { .version = 1 + rn(3) };
	struct bad b;
	uint64_t ud;
	int32_t res;
	uint32_t t;

	seed(s);
	memset(&b, 0, sizeof(b));
	b.nr_tags = 1 + rn(8);
	a.nr_tags = chance(5) ? rn(100) : b.nr_tags;
	b.fd = open(CTRL_DEV, O_RDWR | O_CLOEXEC);
	b.bufs = mmap(NULL, (size_t)b.nr_tags * BUF_LEN, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b.fd < 0 || b.bufs == MAP_FAILED ||
	    io_uring_queue_init(chance(20) ? 2 : 64, &b.ring, IORING_SETUP_SQE128))
		_exit(2);
	/* a previous daemon may still be detaching */
	do {
		if (vub_chan_raw_cmd(&b.ring, b.fd, VUB_U_CMD_ATTACH, &a, sizeof(a), 2000, &res))
			_exit(2);
		atomic_fetch_add(&sh->chan_cmds, 1);
	} while (res == -EBUSY && now() < end && !usleep(2000));
	if (res < 1)
		_exit(0);
	atomic_fetch_add(&sh->daemons, 1);
	for (t = 0; t < b.nr_tags; t++) {
		struct vub_io_cmd io = chance(90) ? (struct vub_io_cmd){
			.tag = t, .buf_addr = (uintptr_t)(b.bufs + (size_t)t * BUF_LEN),
			.buf_len = BUF_LEN } : bad_io(&b, t);

		bad_submit(&b, VUB_U_IO_FETCH, &io, sizeof(io), t);
	}
	while (now() < end) {
		uint32_t k = rn(1000);

		if (k < 3)
			_exit(0);			/* exit at a random point */
		if (k < 5) {
			close(b.fd);			/* detach mid-request */
			b.fd = -1;
		} else if (k < 6) {
			io_uring_queue_exit(&b.ring);	/* the ring goes, the fd stays */
			pause();
		} else if (k < 15) {
			t = rn(b.nr_tags);		/* FETCH on a busy or idle tag */
			struct vub_io_cmd io = bad_io(&b, t);

			bad_submit(&b, VUB_U_IO_FETCH, &io, sizeof(io), t);
		} else if (k < 20) {
			t = rn(b.nr_tags);		/* COMMIT on whatever the tag is */
			bad_answer(&b, t);
		} else if (k < 40) {
			/* a back-end's IOTLB message for a VMM, often malformed */
			struct vub_dev_msg dm = {
				.dev_id = chance(80) ? b.last_dev : (uint32_t)rnd(),
				.type = chance(80) ? 1 + rn(2) : (uint32_t)rnd(),
				.perm = chance(80) ? 1 + rn(3) : (uint8_t)rnd(),
				.iova = rnd(),
			};

			if (chance(5))
				dm.flags = 1u << rn(32);
			if (chance(5))
				dm.pad[rn(3)] = 1;
			if (chance(5))
				dm.reserved[rn(7)] = rnd() | 1;
			bad_submit(&b, VUB_U_CMD_DEV_MSG, &dm, sizeof(dm), 997);
		} else if (k < 42) {
			bad_submit(&b, VUB_U_CMD_ATTACH, &a, sizeof(a), 999);
		} else if (k < 43) {
			bad_submit(&b, rn(2) ? (uint32_t)rnd() : _IOWR(0xAF, 0xE0 + rn(8), struct vub_io_cmd),
				   &a, sizeof(a), 998);
		}
		if (vub_chan_raw_wait(&b.ring, 20, &ud, &res))
			continue;
		if (ud < b.nr_tags && res == 0) {
			bad_take(&b, (uint32_t)ud);
			bad_answer(&b, (uint32_t)ud);
		}
	}
	_exit(0);
}

/* VMM processes for the daemon fuzzer: simple valid sequences, killed at random. */
static _Noreturn void simple_vmm(int id, uint64_t s)
{
	struct vmm v;
	uint64_t u;

	seed(s + 77 * id);
	memset(&v, 0, sizeof(v));
	vmm_setup(&v);
	while (now() < deadline) {
		int fd = v.dev[rn(NDEV)];
		struct vhost_vring_file f = { .index = rn(2), .fd = v.efd[rn(2)] };
		struct {
			struct vhost_memory m;
			struct vhost_memory_region r;
		} mem = { .m.nregions = 1, .r = { 0, 4 * v.pg, (uintptr_t)v.msealable, 0 } };

		long ret;

		/* ioctl() before errno is read: argument order is unspecified */
		switch (rn(8)) {
		case 0: ret = ioctl(fd, VHOST_GET_FEATURES, &u); account(ret, errno); break;
		case 1: ret = ioctl(fd, VHOST_SET_OWNER, NULL); account(ret, errno); break;
		case 2: ret = ioctl(fd, VHOST_SET_VRING_KICK, &f); account(ret, errno); break;
		case 3: ret = ioctl(fd, VHOST_SET_MEM_TABLE, &mem); account(ret, errno); break;
		case 4:
			close(fd);
			for (int i = 0; i < NDEV; i++)
				if (fcntl(v.dev[i], F_GETFD) < 0)
					v.dev[i] = open(dev_path, O_RDWR | O_CLOEXEC);
			break;
		case 5: vmm_fork(&v); break;
		case 6: send_fd(v.sock, fd); break;
		default: random_ioctl(&v, fd); break;
		}
	}
	close(v.sock);
	waitpid(v.peer, NULL, 0);
	_exit(0);
}

/* ---- accounting ------------------------------------------------------------- */

static long slab_active(const char *cache)
{
	char path[128], line[512], name[64];
	long active = -1, v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", cache);
	f = fopen(path, "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", name, &v) == 2 && !strcmp(name, cache))
			active = v;
	fclose(f);
	return active;
}

static long files_nr(void)
{
	long v = -1;
	FILE *f = fopen("/proc/sys/fs/file-nr", "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n - (pid == getpid());
}

struct usage {
	long dev, req, files;
	int fds, dfds;
};

static void usage_read(struct usage *u, pid_t daemon)
{
	u->dev = slab_active("vub_dev");
	u->req = slab_active("vub_req");
	u->files = files_nr();
	u->fds = count_fds(getpid());
	u->dfds = daemon > 0 ? count_fds(daemon) : 0;
}

/* file-nr is a per-cpu counter read unsummed (see vub_selftests.c). */
static long files_tolerance(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	long batch = 2 * cpus > 32 ? 2 * cpus : 32;

	return 2 * batch * cpus + 16;
}

static bool usage_same(const struct usage *a, const struct usage *b)
{
	return a->dev == b->dev && a->req == b->req && a->fds == b->fds && a->dfds == b->dfds &&
	       labs(a->files - b->files) <= files_tolerance();
}

static long param_get(void)
{
	long v = -1;
	FILE *f = fopen(PARAM, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void param_set(long v)
{
	FILE *f = fopen(PARAM, "w");

	if (f) {
		fprintf(f, "%ld\n", v);
		fclose(f);
	}
}

/* Reap @pids by @limit; returns how many had to be killed (hangs). */
static int reap(pid_t *pids, int n, double limit)
{
	int hung = 0, left = n, i, st;

	while (left && now() < limit) {
		for (i = 0; i < n; i++)
			if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
				if (!WIFEXITED(st) || WEXITSTATUS(st))
					fprintf(stderr, "vub_fuzz: process %d ended with status %#x\n",
						pids[i], st);
				pids[i] = 0;
				left--;
			}
		usleep(20000);
	}
	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		char path[64], buf[4096];
		ssize_t len;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/stack", pids[i]);
		fd = open(path, O_RDONLY);
		len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
		buf[len > 0 ? len : 0] = 0;
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "vub_fuzz: HANG: process %d still running after the deadline:\n%s",
			pids[i], buf);
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
		hung++;
	}
	return hung;
}

static void report(const char *what, double secs)
{
	uint64_t n = atomic_load(&sh->calls);
	int i, top = 0;

	printf("%s: %llu ioctl calls, %llu channel commands, %llu daemons, %llu forks (%llu killed), %llu fds passed in %.1f s (%.0f calls/s)\n",
	       what, (unsigned long long)n, (unsigned long long)atomic_load(&sh->chan_cmds),
	       (unsigned long long)atomic_load(&sh->daemons),
	       (unsigned long long)atomic_load(&sh->forks),
	       (unsigned long long)atomic_load(&sh->kills),
	       (unsigned long long)atomic_load(&sh->passes), secs, n / (secs > 0 ? secs : 1));
	printf("%s: results: ok %llu", what, (unsigned long long)atomic_load(&sh->errnos[0]));
	for (i = 1; i <= MAX_ERRNO_OK; i++)
		if (atomic_load(&sh->errnos[i]) && top++ < 24)
			printf(", %s %llu", strerrorname_np(i) ? strerrorname_np(i) : "?",
			       (unsigned long long)atomic_load(&sh->errnos[i]));
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int procs = 3, secs = 10, i, hung, ret = 0;
	uint64_t s = (uint64_t)time(NULL);
	pid_t daemon_pid = 0, pids[64];
	struct usage before, after;
	long saved_timeout = -1;
	double t0, settle;
	bool daemon_mode;

	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dev"))
			dev_path = argv[i + 1];
		else if (!strcmp(argv[i], "--secs"))
			secs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--procs"))
			procs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seed"))
			s = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--daemon-pid"))
			daemon_pid = atoi(argv[i + 1]);
		else
			break;
	}
	daemon_mode = !strcmp(mode, "daemon");
	if ((!daemon_mode && strcmp(mode, "ioctl")) || i < argc || procs < 1 || procs > 32) {
		fprintf(stderr, "usage: vub_fuzz ioctl|daemon [--dev PATH] [--secs N] [--procs N] [--seed N] [--daemon-pid PID]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 3;
	signal(SIGPIPE, SIG_IGN);
	printf("vub_fuzz %s: dev %s, %d processes, %d s, seed %llu\n", mode, dev_path, procs, secs,
	       (unsigned long long)s);
	if (daemon_mode) {
		saved_timeout = param_get();
		param_set(1000);	/* unanswered requests time out quickly */
	}
	usage_read(&before, daemon_pid);
	t0 = now();
	deadline = t0 + secs;
	fflush(NULL);
	for (i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			daemon_mode ? simple_vmm(i, s) : vmm_main(i, s);
	}
	if (daemon_mode) {
		/* one malicious daemon at a time, each for a random moment */
		seed(s);
		while (now() < deadline) {
			double end = now() + 0.05 + rn(800) / 1000.0;
			uint64_t ds = rnd();
			pid_t d = fork();

			if (d == 0)
				bad_daemon(ds, end < deadline ? end : deadline);
			while (d > 0 && waitpid(d, NULL, WNOHANG) == 0) {
				if (now() > end + 0.2) {
					kill(d, SIGKILL);
					waitpid(d, NULL, 0);
					break;
				}
				usleep(10000);
			}
		}
	}
	/* VMM ioctls wait at most req_timeout_ms (30 s by default) */
	hung = reap(pids, procs, deadline + (daemon_mode ? 20 : 75));
	report(mode, now() - t0);
	if (daemon_mode && saved_timeout > 0)
		param_set(saved_timeout);

	/* Let deferred work settle (RELEASEs, closes of killed processes). */
	settle = now() + 20;
	do {
		usleep(200000);
		usage_read(&after, daemon_pid);
	} while (!usage_same(&before, &after) && now() < settle);
	printf("%s: vub_dev %ld -> %ld, vub_req %ld -> %ld, open files %ld -> %ld (tolerance %ld), fds %d -> %d, daemon fds %d -> %d\n",
	       mode, before.dev, after.dev, before.req, after.req, before.files, after.files,
	       files_tolerance(), before.fds, after.fds, before.dfds, after.dfds);
	if (!usage_same(&before, &after)) {
		printf("FAIL: %s: a leak (counts differ after %d s of settling)\n", mode, 20);
		ret = 1;
	}
	if (atomic_load(&sh->bad_errno)) {
		printf("FAIL: %s: %llu calls returned an errno a VMM must never see (first: %d)\n",
		       mode, (unsigned long long)atomic_load(&sh->bad_errno),
		       atomic_load(&sh->first_bad));
		ret = 1;
	}
	if (hung) {
		printf("FAIL: %s: %d processes hung\n", mode, hung);
		ret = 1;
	}
	if (!atomic_load(&sh->calls)) {
		printf("FAIL: %s: no call was made\n", mode);
		ret = 1;
	}
	if (daemon_mode && !atomic_load(&sh->daemons)) {
		printf("FAIL: daemon: no malicious daemon ever attached (another daemon attached?)\n");
		ret = 1;
	}
	if (!ret)
		printf("PASS: %s\n", mode);
	return ret;
}
