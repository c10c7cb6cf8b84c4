// SPDX-License-Identifier: GPL-2.0
/*
 * vub_dirtylog: a VMM with a dirty log, as QEMU runs one during a live
 * migration, on a vhost-net device (/dev/vhost-user-bridge, or /dev/vhost-net
 * for comparison).  It checks that every guest page the device wrote is
 * marked in the VMM's log, and nothing else.
 *
 *   vub_dirtylog [--dev PATH] [--post K] [--inject N] [--pages FILE] [--timeout S]
 *
 * Guest memory: one shared memfd of 4 MiB at guest physical address 1 GiB,
 * so that the log (one bit per 4 KiB page from address 0) is 32896 bytes,
 * ten pages of the VMM's private anonymous memory, starting 40 bytes before
 * a page boundary, with guard bytes before and after it in the same pages.  Rings of 256 entries; K (--post, 128)
 * receive buffers of 2 KiB posted, each on a page of its own, on every other
 * page; the rest of memory is a known pattern.  Features: VERSION_1 and
 * VHOST_F_LOG_ALL, rings with VHOST_VRING_F_LOG and the used ring's guest
 * address, VHOST_SET_LOG_FD with an eventfd.  A tap (IFF_VNET_HDR) is the
 * backend of both rings.
 *
 * Traffic: through the bridge, the back-end (testpmd, txonly) fills the
 * receive buffers; with --inject N (vhost-net), N frames are sent to the tap
 * from a packet socket.  Once the used ring shows K buffers, the log is read
 * as a VMM's sync reads it, at once (informational: buffers already used
 * whose page is not marked yet) and 300 ms later while the rings still run
 * (every used buffer's page must be marked by then: the bridge folds every
 * 50 ms), then both rings are stopped (NET_SET_BACKEND -1, GET_VRING_BASE),
 * and the pages that changed (against a copy taken before the rings started)
 * are compared with the log:
 *
 *   - every page written is marked (the used ring's page and each used
 *     buffer's), except a used ring whose only change is its flags: DPDK
 *     does not log that write (reported, not a failure: the device's
 *     own omission, which the bridge cannot see);
 *   - every marked page is a used buffer's or the used ring's, and no bit is
 *     set outside guest memory;
 *   - the guard bytes around the log are untouched (nothing outside the log
 *     was written).
 *
 * The log base is set before the memory table (the bridge only notes it and
 * pins the log with the table) and again after it.  An unmapped log base:
 * before a table both accept it; after it vhost-net accepts it (it faults
 * only when it logs) and the bridge refuses it with EFAULT (it pins the log
 * at once) and keeps the log it had; printed as "log base unmapped: ...".
 *
 * --pages FILE gets the marked pages' guest addresses, one per line, for
 * comparing two devices.  Exit 0 pass, 1 fail, 4 skip (no device).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GPA_BASE	0x40000000ull
#define MEM_SIZE	(4u << 20)
#define QSIZE		256u
#define BUFSZ		2048u
#define PG		4096u
#define NR_PAGES	(MEM_SIZE / PG)
#define RX_DESC		0x0000u
#define RX_AVAIL	0x1000u
#define RX_USED		0x2000u
#define TX_DESC		0x3000u
#define TX_AVAIL	0x4000u
#define TX_USED		0x5000u
#define BUF0		0x10000u
#define PATTERN		0xa5
#define GUARD		0x5a
#define LOG_LEAD	40u	/* the log starts this far before a page end */

#define F_LOG_ALL	26
#define F_VERSION_1	32
#define F_MRG_RXBUF	15

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct used_elem { uint32_t id, len; };

static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		failures++;						\
		printf("FAIL: " __VA_ARGS__);				\
		printf("\n");						\
	}								\
} while (0)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg))
		die(what);
}

static uint64_t buf_off(unsigned int i)
{
	return BUF0 + (uint64_t)i * 2 * PG + (i % 2) * BUFSZ;
}

static bool log_bit(const uint8_t *log, uint64_t gpa)
{
	uint64_t page = gpa / PG;

	return log[page / 8] & (1u << (page % 8));
}

/* Of the first @k used entries, those of a buffer below @post whose page the log lacks. */
static unsigned int unmarked(const uint8_t *log, const struct used_elem *ue, unsigned int k,
			     unsigned int post)
{
	unsigned int i, n = 0;

	for (i = 0; i < k; i++)
		if (ue[i].id < post && !log_bit(log, GPA_BASE + buf_off(ue[i].id)))
			n++;
	return n;
}

/* A tap with a virtio-net header, up, for the rings' backend. */
static int open_tap(char *name, size_t len)
{
	struct ifreq ifr;
	int fd, s, hdr = 12;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("/dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vubdl%d", (int)getpid() % 10000);
	xioctl(fd, TUNSETIFF, &ifr, "TUNSETIFF");
	xioctl(fd, TUNSETVNETHDRSZ, &hdr, "TUNSETVNETHDRSZ");
	snprintf(name, len, "%s", ifr.ifr_name);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	xioctl(s, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	xioctl(s, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
	close(s);
	return fd;
}

/* N broadcast frames out of the tap: vhost-net receives them. */
static void inject(const char *ifname, unsigned int n)
{
	struct sockaddr_ll sll;
	uint8_t frame[128];
	unsigned int i;
	int s;

	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("AF_PACKET socket");
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = ETH_ALEN;
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	for (i = 0; i < n; i++) {
		memset(frame, 0, sizeof(frame));
		memset(frame, 0xff, 6);
		frame[6] = 0x02;
		frame[11] = (uint8_t)i;
		frame[12] = 0x88;	/* local experimental ethertype */
		frame[13] = 0xb5;
		memset(frame + 14, (int)i, sizeof(frame) - 14);
		if (sendto(s, frame, sizeof(frame), 0, (struct sockaddr *)&sll,
			   sizeof(sll)) != (ssize_t)sizeof(frame))
			die("sendto tap");
	}
	close(s);
}

/* Offset of the first byte of page @i that differs from @shadow. */
static unsigned int first_change(const uint8_t *mem, const uint8_t *shadow, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < PG; j++)
		if (mem[(size_t)i * PG + j] != shadow[(size_t)i * PG + j])
			break;
	return j;
}

/* Page @i is a used ring's and only its flags (bytes 0-1) changed. */
static bool used_flags_only(const uint8_t *mem, const uint8_t *shadow, unsigned int i)
{
	if ((size_t)i * PG != RX_USED && (size_t)i * PG != TX_USED)
		return false;
	return first_change(mem, shadow, i) < 2 &&
	       !memcmp(mem + (size_t)i * PG + 2, shadow + (size_t)i * PG + 2, PG - 2);
}

static void set_file(int dev, unsigned long req, unsigned int idx, int fd,
		     const char *what)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	xioctl(dev, req, &f, what);
}

int main(int argc, char **argv)
{
	const char *path = "/dev/vhost-user-bridge", *pages_file = NULL;
	unsigned int post = 128, injectn = 0, timeout = 60, i, k;
	unsigned int written = 0, logged = 0, missing = 0, extra = 0, mid_missing = 0;
	unsigned int flags_only = 0;
	uint64_t features, want, need, log_len, gpa;
	uint8_t *mem, *shadow, *logmap, *log;
	struct vhost_memory *table;
	struct used_elem *ue;
	volatile uint16_t *used_idx;
	bool bridge, *used_page;
	char ifname[IFNAMSIZ];
	int dev, memfd, tap, kick[2], call[2], logfd, ret;
	double t0;
	FILE *pf;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--dev") && i + 1 < (unsigned int)argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--post") && i + 1 < (unsigned int)argc)
			post = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--inject") && i + 1 < (unsigned int)argc)
			injectn = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pages") && i + 1 < (unsigned int)argc)
			pages_file = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < (unsigned int)argc)
			timeout = (unsigned int)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--dev PATH] [--post K] [--inject N] [--pages FILE] [--timeout S]\n",
				argv[0]);
			return 2;
		}
	}
	if (!post || post > QSIZE)
		post = 128;
	bridge = !strstr(path, "vhost-net");
	setvbuf(stdout, NULL, _IOLBF, 0);

	dev = open(path, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		printf("SKIP: %s: %s\n", path, strerror(errno));
		return 4;
	}

	/* guest memory: a shared memfd, a known pattern everywhere */
	memfd = memfd_create("vub-dirtylog", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, MEM_SIZE))
		die("memfd");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	shadow = malloc(MEM_SIZE);
	used_page = calloc(NR_PAGES, sizeof(*used_page));
	if (mem == MAP_FAILED || !shadow || !used_page)
		die("memory");
	memset(mem, PATTERN, MEM_SIZE);

	/* the log: private anonymous memory, 40 bytes before a page end */
	need = ((GPA_BASE + MEM_SIZE - 1) / (PG * 8) + 1 + 7) / 8 * 8;
	log_len = (LOG_LEAD + need + PG - 1) / PG * PG + PG;
	logmap = mmap(NULL, log_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (logmap == MAP_FAILED)
		die("log");
	memset(logmap, GUARD, log_len);
	log = logmap + PG - LOG_LEAD;
	memset(log, 0, need);
	printf("log: %llu bytes at %p (offset %lu in its page), %llu pages mapped; guest memory %u MiB at %#llx\n",
	       (unsigned long long)need, (void *)log, (unsigned long)((uintptr_t)log % PG),
	       (unsigned long long)(log_len / PG), MEM_SIZE >> 20,
	       (unsigned long long)GPA_BASE);

	for (i = 0; i < 2; i++) {
		kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (kick[i] < 0 || call[i] < 0)
			die("eventfd");
	}
	logfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (logfd < 0)
		die("eventfd");

	xioctl(dev, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
	xioctl(dev, VHOST_GET_FEATURES, &features, "VHOST_GET_FEATURES");
	printf("%s: GET_FEATURES %#llx\n", path, (unsigned long long)features);
	if (!(features & (1ull << F_LOG_ALL))) {
		printf("FAIL: %s does not offer VHOST_F_LOG_ALL\n", path);
		return 1;
	}
	want = (1ull << F_VERSION_1) | (1ull << F_LOG_ALL);
	if ((features & want) != want) {
		printf("FAIL: %s lacks VERSION_1\n", path);
		return 1;
	}

	/* a log base nothing is mapped at: vhost-net 0, the bridge EFAULT */
	{
		uint64_t bad = 0x1000;

		ret = ioctl(dev, VHOST_SET_LOG_BASE, &bad) ? errno : 0;
		printf("log base unmapped: %s\n", ret ? strerror(ret) : "accepted");
		/* before a memory table the bridge only notes the base */
		CHECK(ret == 0, "VHOST_SET_LOG_BASE %#llx before any memory table: %s, expected success as vhost-net",
		      (unsigned long long)bad, strerror(ret));
	}

	{
		uint64_t base = (uintptr_t)log;

		/* the bridge only notes it: no memory table to size it by */
		xioctl(dev, VHOST_SET_LOG_BASE, &base, "VHOST_SET_LOG_BASE before the memory table");
	}
	for (i = 0; i < 2; i++)
		set_file(dev, VHOST_SET_VRING_CALL, i, call[i], "VHOST_SET_VRING_CALL");
	xioctl(dev, VHOST_SET_FEATURES, &want, "VHOST_SET_FEATURES");

	table = calloc(1, sizeof(*table) + sizeof(table->regions[0]));
	if (!table)
		die("calloc");
	table->nregions = 1;
	table->regions[0].guest_phys_addr = GPA_BASE;
	table->regions[0].memory_size = MEM_SIZE;
	table->regions[0].userspace_addr = (uintptr_t)mem;
	/* the bridge: the log is pinned and sent before the table */
	xioctl(dev, VHOST_SET_MEM_TABLE, table, "VHOST_SET_MEM_TABLE");

	{
		uint64_t bad = 0x1000;

		ret = ioctl(dev, VHOST_SET_LOG_BASE, &bad) ? errno : 0;
		printf("log base unmapped: %s\n", ret ? strerror(ret) : "accepted");
		if (bridge)
			CHECK(ret == EFAULT, "the bridge accepted an unmapped log base: %s",
			      strerror(ret));
		else
			CHECK(ret == 0, "vhost-net refused an unmapped log base: %s",
			      strerror(ret));
	}
	{
		uint64_t base = (uintptr_t)log;

		xioctl(dev, VHOST_SET_LOG_BASE, &base, "VHOST_SET_LOG_BASE");
	}
	xioctl(dev, VHOST_SET_LOG_FD, &logfd, "VHOST_SET_LOG_FD");

	/* rings: rx 0 with K device-writable buffers, tx 1 empty */
	for (i = 0; i < 2; i++) {
		uint32_t d = i ? TX_DESC : RX_DESC, a = i ? TX_AVAIL : RX_AVAIL;
		uint32_t u = i ? TX_USED : RX_USED;
		struct vhost_vring_state st = { .index = i, .num = QSIZE };
		struct vhost_vring_addr addr = {
			.index = i,
			.flags = 1u << VHOST_VRING_F_LOG,
			.desc_user_addr = (uintptr_t)(mem + d),
			.avail_user_addr = (uintptr_t)(mem + a),
			.used_user_addr = (uintptr_t)(mem + u),
			.log_guest_addr = GPA_BASE + u,
		};

		memset(mem + d, 0, QSIZE * sizeof(struct desc));
		memset(mem + a, 0, 6 + 2 * QSIZE);
		memset(mem + u, 0, 6 + 8 * QSIZE);
		xioctl(dev, VHOST_SET_VRING_NUM, &st, "VHOST_SET_VRING_NUM");
		st.num = 0;
		xioctl(dev, VHOST_SET_VRING_BASE, &st, "VHOST_SET_VRING_BASE");
		xioctl(dev, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR");
		set_file(dev, VHOST_SET_VRING_KICK, i, kick[i], "VHOST_SET_VRING_KICK");
	}
	{
		struct desc *dt = (struct desc *)(mem + RX_DESC);
		uint16_t *avail = (uint16_t *)(mem + RX_AVAIL);

		for (i = 0; i < post; i++) {
			dt[i] = (struct desc){ .addr = GPA_BASE + buf_off(i),
					       .len = BUFSZ, .flags = 2 /* WRITE */ };
			avail[2 + i] = (uint16_t)i;
		}
		__atomic_store_n(&avail[1], (uint16_t)post, __ATOMIC_RELEASE);
	}
	memcpy(shadow, mem, MEM_SIZE);

	tap = open_tap(ifname, sizeof(ifname));
	for (i = 0; i < 2; i++)
		set_file(dev, VHOST_NET_SET_BACKEND, i, tap, "VHOST_NET_SET_BACKEND");
	{
		uint64_t one = 1;

		if (write(kick[0], &one, sizeof(one)) != sizeof(one))
			die("kick");
	}
	if (injectn)
		inject(ifname, injectn);
	printf("rings started on tap %s, %u receive buffers posted%s\n", ifname, post,
	       injectn ? ", frames sent to the tap" : ", waiting for the back-end");

	used_idx = (volatile uint16_t *)(mem + RX_USED + 2);
	ue = (struct used_elem *)(mem + RX_USED + 4);
	t0 = now();
	while (__atomic_load_n(used_idx, __ATOMIC_ACQUIRE) < post && now() - t0 < timeout)
		usleep(10000);
	k = __atomic_load_n(used_idx, __ATOMIC_ACQUIRE);
	printf("used: %u of %u buffers after %.1f s\n", k, post, now() - t0);
	CHECK(k == post, "only %u of %u receive buffers were used within %u s", k, post, timeout);
	if (k > post)
		k = post;
	/* what a VMM's sync would see now, while the device runs */
	mid_missing = unmarked(log, ue, k, post);
	printf("sync at once, while running: %u of %u used buffers' pages not marked yet\n",
	       mid_missing, k);
	/* a VMM's next sync: 300 ms later (the bridge folds every 50 ms) */
	usleep(300000);
	mid_missing = unmarked(log, ue, k, post);
	printf("sync 300 ms later, still running: %u of %u used buffers' pages not marked\n",
	       mid_missing, k);
	CHECK(!mid_missing, "%u used buffers' pages still not marked 300 ms after they were used",
	      mid_missing);

	/* stop: the device's writes are all done when GET_VRING_BASE returns */
	for (i = 0; i < 2; i++) {
		struct vhost_vring_state st = { .index = i };

		set_file(dev, VHOST_NET_SET_BACKEND, i, -1, "VHOST_NET_SET_BACKEND -1");
		xioctl(dev, VHOST_GET_VRING_BASE, &st, "VHOST_GET_VRING_BASE");
		printf("ring %u stopped at %u\n", i, st.num);
	}

	/* the buffers used, by their pages */
	for (i = 0; i < k; i++) {
		uint32_t id = ue[i].id, len = ue[i].len;

		CHECK(id < post && len > 12 && len <= BUFSZ,
		      "used element %u: id %u len %u", i, id, len);
		if (id < post)
			used_page[buf_off(id) / PG] = true;
	}
	/* the used rings: vhost-net also writes (and logs) the tx ring's flags */
	used_page[RX_USED / PG] = true;
	used_page[TX_USED / PG] = true;

	/* written pages against marked ones */
	for (i = 0; i < NR_PAGES; i++) {
		bool w = memcmp(mem + (size_t)i * PG, shadow + (size_t)i * PG, PG) != 0;
		bool l = log_bit(log, GPA_BASE + (uint64_t)i * PG);

		written += w;
		logged += l;
		if (w && !l && used_flags_only(mem, shadow, i)) {
			/* DPDK does not log its writes of a used ring's flags */
			printf("page %#llx: only the used ring's flags changed (%#x -> %#x), not marked: the back-end did not log that write\n",
			       (unsigned long long)(GPA_BASE + (uint64_t)i * PG),
			       *(uint16_t *)(shadow + (size_t)i * PG),
			       *(uint16_t *)(mem + (size_t)i * PG));
			flags_only++;
		} else if (w && !l) {
			missing++;
			if (missing <= 10)
				printf("FAIL: page %#llx was written but is not marked in the log (first change at +%#x)\n",
				       (unsigned long long)(GPA_BASE + (uint64_t)i * PG),
				       first_change(mem, shadow, i));
		}
		if (l && !used_page[i]) {
			extra++;
			if (extra <= 10)
				printf("FAIL: page %#llx is marked but no used buffer or used ring is there\n",
				       (unsigned long long)(GPA_BASE + (uint64_t)i * PG));
		}
		if (w && !used_page[i]) {
			printf("FAIL: page %#llx was written but holds no used buffer nor a used ring\n",
			       (unsigned long long)(GPA_BASE + (uint64_t)i * PG));
			failures++;
		}
	}
	failures += missing + extra;
	/* nothing marked outside guest memory, nothing written outside the log */
	{
		unsigned int outside = 0, guard = 0;

		for (gpa = 0; gpa < GPA_BASE; gpa += PG * 8)
			outside += log[gpa / PG / 8] != 0;
		for (i = 0; i < need * 8; i++) {
			gpa = (uint64_t)i * PG;
			if (gpa >= GPA_BASE + MEM_SIZE && log_bit(log, gpa))
				outside++;
		}
		for (i = 0; i < log_len; i++)
			if ((logmap + i < log || logmap + i >= log + need) && logmap[i] != GUARD)
				guard++;
		CHECK(!outside, "%u log bytes/bits set outside guest memory", outside);
		CHECK(!guard, "%u bytes around the log were changed", guard);
	}
	printf("pages written %u, marked %u, written but not marked %u (used ring flags only: %u), marked but not written by a used buffer %u\n",
	       written, logged, missing + flags_only, flags_only, extra);
	CHECK(written >= k / 2 + 1, "only %u pages changed for %u used buffers", written, k);

	if (pages_file) {
		pf = fopen(pages_file, "w");
		if (!pf)
			die(pages_file);
		for (i = 0; i < NR_PAGES; i++)
			if (log_bit(log, GPA_BASE + (uint64_t)i * PG))
				fprintf(pf, "%#llx\n",
					(unsigned long long)(GPA_BASE + (uint64_t)i * PG));
		fclose(pf);
	}
	close(dev);
	close(tap);
	if (failures) {
		printf("FAIL: %d failures\n", failures);
		return 1;
	}
	printf("PASS: every page the device wrote is marked in the VMM's log, nothing else is\n");
	return 0;
}
