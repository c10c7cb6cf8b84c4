// SPDX-License-Identifier: GPL-2.0
/*
 * vub_ioctl: issue one vhost ioctl on a new /dev/vhost-user-bridge device
 * and print the outcome, for scripts:
 *   VHOST_GET_FEATURES: ok 0x...
 *   VHOST_GET_FEATURES: error EOPNOTSUPP (Operation not supported)
 * With -n N it is issued N times on the same device, and the latencies are
 * printed (microseconds) once all succeeded:
 *   VHOST_GET_FEATURES x N: ok median 123 p99 456 max 789 us
 * A failure prints how long the failing call took:
 *   VHOST_GET_FEATURES: error ETIMEDOUT (Connection timed out) after 2003 ms, call 1
 * Exit 0 when the ioctl succeeded, 1 when it failed, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/vhost_user_bridge.h>

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/" VUB_VMM_DEVICE_NAME, *name;
	unsigned long cmd, n = 1, i;
	uint64_t u = 0, t0, *lat;
	int fd, ret = 0;

	while (argc >= 3 && (!strcmp(argv[1], "--dev") || !strcmp(argv[1], "-n"))) {
		if (!strcmp(argv[1], "--dev"))
			dev = argv[2];
		else
			n = strtoul(argv[2], NULL, 0);
		argv += 2;
		argc -= 2;
	}
	if (argc == 2 && !strcmp(argv[1], "get-features")) {
		cmd = VHOST_GET_FEATURES;
		name = "VHOST_GET_FEATURES";
	} else if (argc == 2 && !strcmp(argv[1], "set-owner")) {
		cmd = VHOST_SET_OWNER;
		name = "VHOST_SET_OWNER";
	} else {
		n = 0;
	}
	lat = n ? calloc(n, sizeof(*lat)) : NULL;
	if (!lat) {
		fprintf(stderr, "usage: vub_ioctl [--dev PATH] [-n N] get-features|set-owner\n");
		return 2;
	}
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vub_ioctl: %s: %s\n", dev, strerror(errno));
		return 2;
	}
	for (i = 0; i < n && !ret; i++) {
		t0 = now_us();
		ret = ioctl(fd, cmd, &u);
		lat[i] = now_us() - t0;
	}
	if (ret) {
		printf("%s: error %s (%s) after %llu ms", name, strerrorname_np(errno),
		       strerror(errno), (unsigned long long)lat[i - 1] / 1000);
		printf(n > 1 ? ", call %lu\n" : "\n", i);
	} else if (n > 1) {
		qsort(lat, n, sizeof(*lat), cmp_u64);
		printf("%s x %lu: ok median %llu p99 %llu max %llu us\n", name, n,
		       (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100],
		       (unsigned long long)lat[n - 1]);
	} else if (cmd == VHOST_GET_FEATURES)
		printf("%s: ok %#llx\n", name, (unsigned long long)u);
	else
		printf("%s: ok\n", name);
	close(fd);
	free(lat);
	return ret ? 1 : 0;
}
