// SPDX-License-Identifier: GPL-2.0
/*
 * vub_ioctl: issue one vhost ioctl on a new /dev/vhost-user-bridge device
 * and print the outcome, for scripts:
 *   VHOST_GET_FEATURES: ok 0x...
 *   VHOST_GET_FEATURES: error EOPNOTSUPP (Operation not supported)
 * Exit 0 when the ioctl succeeded, 1 when it failed, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/vhost_user_bridge.h>

int main(int argc, char **argv)
{
	const char *dev = "/dev/" VUB_VMM_DEVICE_NAME, *name;
	unsigned long cmd;
	uint64_t u = 0;
	int fd, ret;

	if (argc == 4 && !strcmp(argv[1], "--dev")) {
		dev = argv[2];
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
		fprintf(stderr, "usage: vub_ioctl [--dev PATH] get-features|set-owner\n");
		return 2;
	}
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vub_ioctl: %s: %s\n", dev, strerror(errno));
		return 2;
	}
	ret = ioctl(fd, cmd, &u);
	if (ret)
		printf("%s: error %s (%s)\n", name, strerrorname_np(errno), strerror(errno));
	else if (cmd == VHOST_GET_FEATURES)
		printf("%s: ok %#llx\n", name, (unsigned long long)u);
	else
		printf("%s: ok\n", name);
	close(fd);
	return ret ? 1 : 0;
}
