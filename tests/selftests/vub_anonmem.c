// SPDX-License-Identifier: GPL-2.0
/*
 * vub_anonmem: a VMM whose guest RAM is private anonymous memory, and a
 * back-end that maps the files the bridge hands it for that memory (the
 * module's mirrors), checking that both see the same bytes at every step.
 *
 *   vub_anonmem [--dev PATH] [--expect mirror|refuse]
 *
 * The back-end is a daemon of this program (a forked child attached to the
 * bridge's control device): at VHOST_SET_MEM_TABLE it maps every piece's
 * file as DPDK does (MAP_SHARED from offset 0, the piece at file_offset),
 * and at each VHOST_GET_FEATURES it carries out the command the VMM left in
 * a shared page: read or write bytes of guest memory through its mappings,
 * noting a SIGBUS instead of dying.  So the VMM drives the back-end through
 * the bridge itself, one ioctl per step.
 *
 * Guest RAM: 4 MiB at guest physical address 0, 2 MiB-aligned, MADV_HUGEPAGE.
 * Steps, each checked both ways (the VMM writes, the back-end reads; the
 * back-end writes, the VMM reads):
 *   1. plain content, on every page;
 *   2. MADV_DONTNEED of pages the back-end has mapped and written: both see
 *      zeros, then new data both ways;
 *   3. THP: MADV_COLLAPSE of the first 2 MiB (a skip of this step, not of
 *      the test, where the kernel has no MADV_COLLAPSE or THP is off);
 *   4. fork + COW: the VMM forks a child that keeps the old pages; the VMM
 *      writes a shared page (COW breaks in the VMM), the back-end sees the
 *      new bytes; the back-end writes another shared page, the VMM sees it
 *      and the child still sees the old bytes;
 *   5. munmap of the last MiB: the back-end gets SIGBUS there (never the old
 *      bytes); after the VMM maps new memory at the same place, the back-end
 *      sees the new memory.
 * --expect refuse: SET_MEM_TABLE must fail with EOPNOTSUPP instead.
 *
 * Exit 0 pass, 1 fail, 4 skip (no device).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "vub_chan.h"

#define MIB		(1ul << 20)
#define RAM_SIZE	(4 * MIB)
#define PG		4096ul
#define MAX_MAPS	8
#define CMD_MAX		(64 * 1024)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

enum { CMD_NONE, CMD_READ, CMD_WRITE };

/* The VMM's commands to the back-end, and what it found (MAP_SHARED). */
struct shared {
	uint32_t cmd;
	uint64_t gpa;
	uint32_t len;
	int32_t result;		/* 0, -EFAULT (no piece there), -EBUSY (SIGBUS) */
	uint32_t nr_maps;	/* pieces mapped at the last SET_MEM_TABLE */
	int32_t map_err;	/* an mmap() errno of that, or 0 */
	uint8_t data[CMD_MAX];
};

struct map {
	uint64_t gpa, size;
	uint8_t *at;		/* the piece's first byte */
	void *base;
	size_t len;
};

static struct map maps[MAX_MAPS];
static unsigned int nr_maps;
static sigjmp_buf bus_jmp;
static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		failures++;						\
		printf("FAIL: " __VA_ARGS__);				\
		printf("\n");						\
	} else {							\
		printf("ok: " __VA_ARGS__);				\
		printf("\n");						\
	}								\
} while (0)

/* ---- the back-end -------------------------------------------------------- */

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static void unmap_all(void)
{
	for (; nr_maps; nr_maps--)
		munmap(maps[nr_maps - 1].base, maps[nr_maps - 1].len);
}

static int set_mem_table(struct shared *sh, const struct vub_req *req, const int *fds)
{
	const struct vub_mem_piece *p = vub_chan_ext(req);
	unsigned int i, n = req->ext_len / sizeof(*p);

	unmap_all();
	sh->map_err = 0;
	for (i = 0; i < n && i < MAX_MAPS; i++) {
		struct map *m = &maps[nr_maps];

		m->len = (p[i].file_offset + p[i].memory_size + PG - 1) & ~(PG - 1);
		m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fds[p[i].fd_index], 0);
		if (m->base == MAP_FAILED) {
			sh->map_err = errno;
			continue;
		}
		m->gpa = p[i].guest_phys_addr;
		m->size = p[i].memory_size;
		m->at = (uint8_t *)m->base + p[i].file_offset;
		nr_maps++;
	}
	sh->nr_maps = nr_maps;
	return 0;
}

static uint8_t *gpa_to_va(uint64_t gpa, uint32_t len)
{
	unsigned int i;

	for (i = 0; i < nr_maps; i++)
		if (gpa >= maps[i].gpa && gpa + len <= maps[i].gpa + maps[i].size)
			return maps[i].at + (gpa - maps[i].gpa);
	return NULL;
}

static void run_cmd(struct shared *sh)
{
	static volatile uint8_t *va;

	va = gpa_to_va(sh->gpa, sh->len);
	sh->result = -EFAULT;
	if (!va || sh->len > CMD_MAX)
		return;
	if (sigsetjmp(bus_jmp, 1)) {
		sh->result = -EBUSY;
		return;
	}
	if (sh->cmd == CMD_READ)
		memcpy(sh->data, (const uint8_t *)va, sh->len);
	else
		memcpy((uint8_t *)va, sh->data, sh->len);
	sh->result = 0;
}

static int handler(void *ctx, const struct vub_req *req, const void *payload, int *fds,
		   void *reply, uint32_t *reply_len)
{
	struct shared *sh = ctx;

	(void)payload;
	if (req->op != VUB_OP_IOCTL)
		return 0;
	if (req->ioctl == VHOST_SET_MEM_TABLE)
		return set_mem_table(sh, req, fds);
	if (req->ioctl == VHOST_GET_FEATURES) {
		if (sh->cmd != CMD_NONE)
			run_cmd(sh);
		sh->cmd = CMD_NONE;
		memset(reply, 0, 8);
		*reply_len = req->reply_len;
	}
	return 0;
}

static _Noreturn void backend(struct shared *sh, int wfd)
{
	static volatile sig_atomic_t never;
	struct sigaction sa = { .sa_handler = on_sigbus };
	struct vub_chan ch;
	int ret, i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigaction(SIGBUS, &sa, NULL);
	for (i = 0; i < 1000; i++) {	/* a daemon of an earlier test may be detaching */
		ret = vub_chan_start(&ch, NULL, 4);
		if (ret != -EBUSY)
			break;
		usleep(10000);
	}
	if (write(wfd, &ret, sizeof(ret)) != sizeof(ret) || ret < 0)
		_exit(1);
	close(wfd);
	ret = vub_chan_run(&ch, handler, sh, NULL, &never);
	_exit(ret == -ECANCELED ? 0 : 1);
}

/* ---- the VMM ------------------------------------------------------------- */

static struct shared *sh;
static int vfd;
static uint8_t *ram;
static int hugepage_err;	/* of madvise(MADV_HUGEPAGE) */

/* Have the back-end do @cmd on [@gpa, +@len); its result. */
static int be_cmd(uint32_t cmd, uint64_t gpa, uint32_t len)
{
	uint64_t f;

	sh->cmd = cmd;
	sh->gpa = gpa;
	sh->len = len;
	if (ioctl(vfd, VHOST_GET_FEATURES, &f)) {
		printf("FAIL: VHOST_GET_FEATURES: %s\n", strerror(errno));
		exit(1);
	}
	return sh->result;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 31 + seed) ^ (i >> 12));
}

/* The back-end reads [gpa, +len): equal to what the VMM has there? */
static bool be_sees(uint64_t gpa, uint32_t len, int *res)
{
	*res = be_cmd(CMD_READ, gpa, len);
	return !*res && !memcmp(sh->data, ram + gpa, len);
}

/* The back-end writes @seed's pattern at [gpa, +len): does the VMM see it? */
static bool vmm_sees(uint64_t gpa, uint32_t len, uint32_t seed, int *res)
{
	fill(sh->data, len, seed);
	*res = be_cmd(CMD_WRITE, gpa, len);
	return !*res && !memcmp(sh->data, ram + gpa, len);
}

static void both_ways(const char *what, uint64_t gpa, uint32_t len, uint32_t seed)
{
	int res;

	fill(ram + gpa, len, seed);
	CHECK(be_sees(gpa, len, &res), "%s: the back-end reads what the VMM wrote at %#llx+%#x (%d)",
	      what, (unsigned long long)gpa, len, res);
	CHECK(vmm_sees(gpa, len, seed + 1, &res),
	      "%s: the VMM reads what the back-end wrote at %#llx+%#x (%d)", what,
	      (unsigned long long)gpa, len, res);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void step_dontneed(void)
{
	uint64_t gpa = 1 * MIB;
	uint32_t len = 16 * PG;
	int res;

	both_ways("before MADV_DONTNEED", gpa, len, 7);	/* mapped in the back-end, written */
	CHECK(!madvise(ram + gpa, len, MADV_DONTNEED), "MADV_DONTNEED of 16 pages the back-end uses");
	res = be_cmd(CMD_READ, gpa, len);
	CHECK(!res && all_zero(sh->data, len) && all_zero(ram + gpa, len),
	      "after MADV_DONTNEED: the back-end reads zeros, as the VMM does (%d)", res);
	both_ways("after MADV_DONTNEED", gpa, len, 9);
}

static void step_fork(void)
{
	uint64_t a = 2 * MIB + 3 * PG, b = 2 * MIB + 9 * PG;
	int p[2], q[2], st, res;
	uint8_t old_b[PG], child_b[PG];
	char go = 1;
	pid_t pid;

	fill(ram + a, PG, 21);
	fill(ram + b, PG, 22);
	memcpy(old_b, ram + b, PG);
	CHECK(be_sees(a, PG, &res) && be_sees(b, PG, &res), "before fork: the back-end sees both pages");
	if (pipe(p) || pipe(q)) {
		printf("FAIL: pipe: %s\n", strerror(errno));
		exit(1);
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {	/* keeps the pages shared until told, then reports b */
		if (read(p[0], &go, 1) != 1 ||
		    write(q[1], ram + b, PG) != (ssize_t)PG)
			_exit(1);
		_exit(0);
	}
	CHECK(pid > 0, "fork: a child shares the VMM's pages (copy on write)");
	if (pid < 0)
		return;
	fill(ram + a, PG, 23);	/* COW breaks in the VMM */
	CHECK(be_sees(a, PG, &res), "after fork, the VMM wrote page a: the back-end sees the new bytes (%d)", res);
	fill(sh->data, PG, 24);
	res = be_cmd(CMD_WRITE, b, PG);
	CHECK(!res && !memcmp(ram + b, sh->data, PG),
	      "after fork, the back-end wrote page b: the VMM sees it (%d)", res);
	if (write(p[1], &go, 1) != 1 || read(q[0], child_b, PG) != (ssize_t)PG) {
		printf("FAIL: no answer from the child\n");
		failures++;
	} else {
		CHECK(!memcmp(child_b, old_b, PG), "the child still sees page b as it was at the fork");
	}
	waitpid(pid, &st, 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	both_ways("after the child exited", a, PG, 25);
}

static void step_collapse(void)
{
	int ret = madvise(ram, 2 * MIB, MADV_COLLAPSE);

	if (ret && (errno == EINVAL || errno == ENOSYS)) {
		char line[256], thp[256] = "?\n", proc[256] = "?\n", elig[256] = "?\n";
		unsigned long lo, hi;
		bool in = false;
		FILE *f;

		printf("skip: MADV_COLLAPSE: %s (no THP collapse here; MADV_HUGEPAGE: %s)\n",
		       strerror(errno), hugepage_err ? strerror(hugepage_err) : "ok");
		f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
		if (f && !fgets(thp, sizeof(thp), f))
			strcpy(thp, "?\n");
		if (f)
			fclose(f);
		f = fopen("/proc/self/status", "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "THP_enabled:", 12))
				snprintf(proc, sizeof(proc), "%s", line + 12);
		if (f)
			fclose(f);
		f = fopen("/proc/self/smaps", "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
				in = lo <= (uintptr_t)ram && (uintptr_t)ram < hi;
			else if (in && !strncmp(line, "THPeligible:", 12))
				snprintf(elig, sizeof(elig), "%s", line + 12);
		}
		if (f)
			fclose(f);
		printf("      THP enabled: %s      process THP_enabled:%s      guest RAM's THPeligible:%s",
		       thp, proc, elig);
		return;
	}
	CHECK(!ret, "MADV_COLLAPSE of the first 2 MiB (%s)", ret ? strerror(errno) : "collapsed");
	both_ways("after MADV_COLLAPSE", 0, 2 * MIB > CMD_MAX ? CMD_MAX : 2 * MIB, 31);
	both_ways("after MADV_COLLAPSE, end of the huge page", 2 * MIB - CMD_MAX, CMD_MAX, 33);
}

static void step_munmap(void)
{
	uint64_t gpa = 3 * MIB;
	uint8_t *again;
	int res;

	both_ways("before munmap", gpa, 8 * PG, 41);
	CHECK(!munmap(ram + gpa, MIB), "munmap of the last MiB of guest RAM");
	res = be_cmd(CMD_READ, gpa, 8 * PG);
	CHECK(res == -EBUSY, "after munmap, the back-end's read faults (SIGBUS), no old bytes (%d)", res);
	res = be_cmd(CMD_WRITE, gpa, 8 * PG);
	CHECK(res == -EBUSY, "after munmap, the back-end's write faults (SIGBUS) (%d)", res);
	again = mmap(ram + gpa, MIB, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(again == ram + gpa, "new memory mapped at the same place");
	if (again != ram + gpa)
		return;
	both_ways("new memory at the unmapped place", gpa, 8 * PG, 43);
}

static int vmm(const char *dev, bool expect_mirror)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} tab = { .m.nregions = 1 };
	uint8_t *area;
	int ret, res;
	uint64_t off;

	vfd = open(dev, O_RDWR);
	if (vfd < 0) {
		printf("%s: %s\n", dev, strerror(errno));
		return 4;
	}
	if (ioctl(vfd, VHOST_SET_OWNER)) {
		printf("FAIL: VHOST_SET_OWNER: %s\n", strerror(errno));
		return 1;
	}
	area = mmap(NULL, RAM_SIZE + 2 * MIB, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		printf("FAIL: mmap: %s\n", strerror(errno));
		return 1;
	}
	ram = (uint8_t *)(((uintptr_t)area + 2 * MIB - 1) & ~(2 * MIB - 1));
	if (madvise(ram, RAM_SIZE, MADV_HUGEPAGE))	/* THP may be off */
		hugepage_err = errno;
	fill(ram, RAM_SIZE, 1);
	tab.r = (struct vhost_memory_region){
		.guest_phys_addr = 0,
		.memory_size = RAM_SIZE,
		.userspace_addr = (uintptr_t)ram,
	};
	ret = ioctl(vfd, VHOST_SET_MEM_TABLE, &tab);
	if (!expect_mirror) {
		CHECK(ret && errno == EOPNOTSUPP,
		      "policy refuse: SET_MEM_TABLE of private anonymous RAM fails with EOPNOTSUPP (%s)",
		      ret ? strerror(errno) : "succeeded");
		return failures ? 1 : 0;
	}
	CHECK(!ret, "policy mirror: SET_MEM_TABLE of private anonymous RAM (%s)",
	      ret ? strerror(errno) : "ok");
	if (ret)
		return 1;
	CHECK(sh->nr_maps == 1 && !sh->map_err, "the back-end mapped %u file(s) (mmap errno %d)",
	      sh->nr_maps, sh->map_err);
	res = 0;
	for (off = 0; off < RAM_SIZE && !res; off += CMD_MAX)
		res = be_cmd(CMD_READ, off, CMD_MAX) ? -1 : memcmp(sh->data, ram + off, CMD_MAX);
	CHECK(!res, "the back-end reads all 4 MiB as the VMM has them");
	both_ways("plain", 5 * PG + 100, 3 * PG, 3);
	step_dontneed();
	step_collapse();	/* before the fork, which leaves the pages read-only (SCAN_PAGE_RO) */
	step_fork();
	step_munmap();
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/vhost-user-bridge";
	bool expect_mirror = true;
	int i, p[2], ret = -EIO, rc;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dev") && i + 1 < argc) {
			dev = argv[++i];
		} else if (!strcmp(argv[i], "--expect") && i + 1 < argc) {
			i++;
			expect_mirror = !strcmp(argv[i], "mirror");
			if (!expect_mirror && strcmp(argv[i], "refuse"))
				goto usage;
		} else {
			goto usage;
		}
	}
	if (access(dev, R_OK | W_OK)) {
		printf("no %s\n", dev);
		return 4;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(p)) {
		printf("FAIL: setup: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		backend(sh, p[1]);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &ret, sizeof(ret)) != sizeof(ret) || ret < 0) {
		printf("FAIL: the test back-end did not attach to the bridge (%s)\n", strerror(-ret));
		return 1;
	}
	close(p[0]);
	rc = vmm(dev, expect_mirror);
	close(vfd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	printf("%s: %d failure(s)\n", rc == 0 ? "PASS" : rc == 4 ? "SKIP" : "FAIL", failures);
	return rc;
usage:
	fprintf(stderr, "usage: vub_anonmem [--dev PATH] [--expect mirror|refuse]\n");
	return 2;
}
