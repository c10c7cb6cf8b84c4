// SPDX-License-Identifier: GPL-2.0
/*
 * vub_bench: round-trip latency of a forwarded ioctl (VHOST_GET_FEATURES on
 * /dev/vhost-user-bridge, served by the test daemon through vub_chan),
 * against a baseline in the same run: a 64-byte request and 8-byte reply
 * over a SOCK_SEQPACKET unix socket between two processes.  Prints median
 * and p99 in microseconds and the ratio bridge/baseline, as TAP.  No timing
 * is asserted: a point fails only when a round trip fails.
 *
 *   vub_bench [-n ROUNDS]    (default 20000, after 1000 warm-up rounds)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testd.h"

#define WARMUP 1000

struct stats {
	double median_us, p99_us;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static struct stats summarize(uint64_t *ns, int n)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	return (struct stats){
		.median_us = ns[n / 2] / 1000.0,
		.p99_us = ns[(long)n * 99 / 100] / 1000.0,
	};
}

/* 0, or -errno of the first failed round trip. */
static int bench_bridge(uint64_t *ns, int n)
{
	struct td td;
	uint64_t u, t0;
	int fd, i, ret = 0;

	ret = td_start(&td, TD_SERVE, 1);
	if (ret < 0) {
		printf("# test daemon did not attach: %s\n", strerror(-ret));
		return ret;
	}
	ret = 0;
	fd = open("/dev/" VUB_VMM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	for (i = -WARMUP; i < n; i++) {
		t0 = now_ns();
		if (ioctl(fd, VHOST_GET_FEATURES, &u))
			ret = -errno;
		else if (u != TD_FEATURES)
			ret = -EIO;
		if (ret) {
			printf("# VHOST_GET_FEATURES round %d failed: %s\n", i, strerror(-ret));
			break;
		}
		if (i >= 0)
			ns[i] = now_ns() - t0;
	}
	close(fd);
out:
	td_stop(&td);
	return ret;
}

static int bench_unix(uint64_t *ns, int n)
{
	char req[64], rep[8];
	uint64_t t0;
	int sv[2], i, ret = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid == 0) {		/* the server: 8 bytes back for each 64 */
		close(sv[0]);
		memset(rep, 0x5a, sizeof(rep));
		while (recv(sv[1], req, sizeof(req), 0) == sizeof(req))
			if (send(sv[1], rep, sizeof(rep), 0) != sizeof(rep))
				break;
		_exit(0);
	}
	close(sv[1]);
	memset(req, 0xa5, sizeof(req));
	for (i = -WARMUP; pid > 0 && i < n; i++) {
		t0 = now_ns();
		if (send(sv[0], req, sizeof(req), 0) != sizeof(req) ||
		    recv(sv[0], rep, sizeof(rep), 0) != sizeof(rep)) {
			ret = -errno;
			break;
		}
		if (i >= 0)
			ns[i] = now_ns() - t0;
	}
	close(sv[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid < 0 ? -EAGAIN : ret;
}

int main(int argc, char **argv)
{
	struct stats bridge, base;
	uint64_t *ns;
	int n = 20000, rb, ru;

	if (argc == 3 && !strcmp(argv[1], "-n"))
		n = atoi(argv[2]);
	else if (argc != 1)
		n = 0;
	if (n < 1) {
		fprintf(stderr, "usage: vub_bench [-n ROUNDS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (access("/dev/" VUB_VMM_DEVICE_NAME, F_OK)) {
		printf("1..0 # SKIP /dev/" VUB_VMM_DEVICE_NAME " missing: module not loaded\n");
		return 4;
	}
	ns = calloc(n, sizeof(*ns));
	if (!ns)
		return 1;
	printf("1..2\n");

	rb = bench_bridge(ns, n);
	bridge = summarize(ns, rb ? 1 : n);
	if (rb)
		printf("not ok 1 bridge VHOST_GET_FEATURES round trip\n");
	else
		printf("ok 1 bridge VHOST_GET_FEATURES round trip # n=%d median %.1f us p99 %.1f us\n",
		       n, bridge.median_us, bridge.p99_us);

	ru = bench_unix(ns, n);
	base = summarize(ns, ru ? 1 : n);
	if (ru)
		printf("not ok 2 baseline unix SOCK_SEQPACKET 64B/8B round trip: %s\n",
		       strerror(-ru));
	else
		printf("ok 2 baseline unix SOCK_SEQPACKET 64B/8B round trip # n=%d median %.1f us p99 %.1f us\n",
		       n, base.median_us, base.p99_us);

	if (!rb && !ru)
		printf("# vub_bench: bridge median %.1f us p99 %.1f us; baseline median %.1f us p99 %.1f us; "
		       "ratio bridge/baseline median %.2f p99 %.2f\n",
		       bridge.median_us, bridge.p99_us, base.median_us, base.p99_us,
		       bridge.median_us / base.median_us, bridge.p99_us / base.p99_us);
	free(ns);
	return rb || ru;
}
