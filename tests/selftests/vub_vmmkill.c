// SPDX-License-Identifier: GPL-2.0
/*
 * vub_vmmkill: a VMM that dies at random points.  Each round forks a child
 * that sets a device up the way QEMU does for vhost-net (SET_OWNER,
 * features, a memfd memory table, two rings with eventfds, a tap attached
 * with VHOST_NET_SET_BACKEND) and then kicks its TX ring every millisecond;
 * the parent SIGKILLs it after a random delay of up to twice the time a
 * whole setup took in round 0, so about half the kills land during setup.
 * What must survive is for the caller to check (the daemon's and the
 * module's device counts, fds, the other VMMs' traffic).
 *
 *   vub_vmmkill [--dev PATH] [-n ROUNDS]     (default 100)
 *
 * Prints "vmm-kill: N kills (S during setup, T during traffic), setup takes
 * M ms, F setups failed"; exit 0, or 1 when a setup step failed (it names
 * the step) before its kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/vhost_user_bridge.h>

#define MEM_SIZE	(16u << 20)
#define RING_NUM	256

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

#define STEP(what, call) do {						\
		if ((call) < 0) {					\
			fprintf(stderr, "vub_vmmkill: %s: %s\n", what,	\
				strerror(errno));			\
			_exit(1);					\
		}							\
	} while (0)

static int tap_open(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The child: set up, tell the parent (one byte on @ready), kick forever. */
static void vmm(const char *dev, int ready)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} mem = { .m = { .nregions = 1 } };
	uint64_t features, one = 1;
	int fd, mfd, tap, kick[2], call[2];
	unsigned int i;
	char *g;

	STEP("open", fd = open(dev, O_RDWR | O_CLOEXEC));
	STEP("VHOST_SET_OWNER", ioctl(fd, VHOST_SET_OWNER));
	STEP("VHOST_GET_FEATURES", ioctl(fd, VHOST_GET_FEATURES, &features));
	features &= (1ULL << 32) | (1ULL << 28) | (1ULL << 15);	/* VERSION_1, EVENT_IDX, MRG_RXBUF */
	STEP("VHOST_SET_FEATURES", ioctl(fd, VHOST_SET_FEATURES, &features));
	STEP("memfd", mfd = memfd_create("guest", MFD_CLOEXEC));
	STEP("ftruncate", ftruncate(mfd, MEM_SIZE));
	g = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	STEP("mmap", g == MAP_FAILED ? -1 : 0);
	mem.r = (struct vhost_memory_region){ .guest_phys_addr = 0, .memory_size = MEM_SIZE,
					      .userspace_addr = (uintptr_t)g };
	STEP("VHOST_SET_MEM_TABLE", ioctl(fd, VHOST_SET_MEM_TABLE, &mem));
	STEP("tap", tap = tap_open());
	for (i = 0; i < 2; i++) {
		struct vhost_vring_state num = { i, RING_NUM }, base = { i, 0 };
		struct vhost_vring_addr a = {
			.index = i,
			.desc_user_addr = (uintptr_t)g + i * 0x10000,
			.avail_user_addr = (uintptr_t)g + i * 0x10000 + 0x1000,
			.used_user_addr = (uintptr_t)g + i * 0x10000 + 0x2000,
		};
		struct vhost_vring_file k, c, b;

		STEP("eventfd", kick[i] = eventfd(0, EFD_CLOEXEC));
		STEP("eventfd", call[i] = eventfd(0, EFD_CLOEXEC));
		k = (struct vhost_vring_file){ i, kick[i] };
		c = (struct vhost_vring_file){ i, call[i] };
		b = (struct vhost_vring_file){ i, tap };
		STEP("VHOST_SET_VRING_NUM", ioctl(fd, VHOST_SET_VRING_NUM, &num));
		STEP("VHOST_SET_VRING_BASE", ioctl(fd, VHOST_SET_VRING_BASE, &base));
		STEP("VHOST_SET_VRING_ADDR", ioctl(fd, VHOST_SET_VRING_ADDR, &a));
		STEP("VHOST_SET_VRING_KICK", ioctl(fd, VHOST_SET_VRING_KICK, &k));
		STEP("VHOST_SET_VRING_CALL", ioctl(fd, VHOST_SET_VRING_CALL, &c));
		STEP("VHOST_NET_SET_BACKEND", ioctl(fd, VHOST_NET_SET_BACKEND, &b));
	}
	STEP("ready", write(ready, "S", 1));
	for (;;) {
		STEP("kick", write(kick[1], &one, sizeof(one)));
		poll(NULL, 0, 1);
	}
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/" VUB_VMM_DEVICE_NAME;
	unsigned long rounds = 100, r, in_setup = 0, setup_ms = 0, failed = 0;
	uint64_t t0;
	int p[2], status;
	pid_t pid;
	char c;

	while (argc >= 3) {
		if (!strcmp(argv[1], "--dev"))
			dev = argv[2];
		else if (!strcmp(argv[1], "-n"))
			rounds = strtoul(argv[2], NULL, 0);
		else
			break;
		argv += 2;
		argc -= 2;
	}
	if (argc != 1 || !rounds) {
		fprintf(stderr, "usage: vub_vmmkill [--dev PATH] [-n ROUNDS]\n");
		return 2;
	}
	srand((unsigned int)getpid());
	for (r = 0; r < rounds; r++) {
		if (pipe2(p, O_CLOEXEC))
			return 1;
		t0 = now_ms();
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			vmm(dev, p[1]);
		}
		close(p[1]);
		if (r == 0) {
			/* round 0: a whole setup, timed */
			if (read(p[0], &c, 1) != 1) {
				waitpid(pid, &status, 0);
				fprintf(stderr, "vub_vmmkill: round 0: the VMM's setup failed\n");
				return 1;
			}
			setup_ms = now_ms() - t0;
		} else {
			poll(NULL, 0, (int)(rand() % (2 * setup_ms + 1)));
		}
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status))	/* a step failed: it said which */
			failed++;
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		if (r && read(p[0], &c, 1) != 1)
			in_setup++;
		close(p[0]);
	}
	printf("vmm-kill: %lu kills (%lu during setup, %lu during traffic), setup takes %lu ms, %lu setups failed\n",
	       rounds, in_setup, rounds - in_setup, setup_ms, failed);
	return failed ? 1 : 0;
}
