// SPDX-License-Identifier: GPL-2.0
/* vub_tap: see vub_tap.h. */
#include "vub_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

/* The tap netdev features that TUNSETOFFLOAD switches, by ethtool name. */
static const struct {
	const char *name;
	unsigned int tun;
} tap_features[] = {
	{ "tx-checksum-ip-generic",	TUN_F_CSUM },
	{ "tx-tcp-segmentation",	TUN_F_TSO4 },
	{ "tx-tcp6-segmentation",	TUN_F_TSO6 },
	{ "tx-tcp-ecn-segmentation",	TUN_F_TSO_ECN },
	{ "tx-udp-segmentation",	TUN_F_USO4 | TUN_F_USO6 },
};

static int ethtool(int sock, const char *ifname, void *cmd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	return ioctl(sock, SIOCETHTOOL, &ifr) ? -errno : 0;
}

/* ETHTOOL_GFEATURES of @ifname, mapped to TUN_F_* bits. */
static int read_offloads(int sock, struct vub_tap_info *ti, char *why, size_t why_len)
{
	struct ethtool_sset_info *ss;
	struct ethtool_gstrings *names = NULL;
	struct ethtool_gfeatures *feat = NULL;
	unsigned int n, i, j;
	int ret;

	ss = calloc(1, sizeof(*ss) + sizeof(ss->data[0]));
	if (!ss)
		return -ENOMEM;
	ss->cmd = ETHTOOL_GSSET_INFO;
	ss->sset_mask = 1ull << ETH_SS_FEATURES;
	ret = ethtool(sock, ti->ifname, ss);
	n = ret || !ss->sset_mask ? 0 : ss->data[0];
	free(ss);
	if (ret || !n) {
		snprintf(why, why_len, "ETHTOOL_GSSET_INFO on %s: %s", ti->ifname,
			 ret ? strerror(-ret) : "no feature names");
		return ret ? ret : -EOPNOTSUPP;
	}
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	feat = calloc(1, sizeof(*feat) + (n + 31) / 32 * sizeof(feat->features[0]));
	if (!names || !feat) {
		ret = -ENOMEM;
		goto out;
	}
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_FEATURES;
	names->len = n;
	feat->cmd = ETHTOOL_GFEATURES;
	feat->size = (n + 31) / 32;
	ret = ethtool(sock, ti->ifname, names);
	if (!ret)
		ret = ethtool(sock, ti->ifname, feat);
	if (ret) {
		snprintf(why, why_len, "ETHTOOL_GSTRINGS/GFEATURES on %s: %s", ti->ifname,
			 strerror(-ret));
		goto out;
	}
	for (i = 0; i < n && i < names->len; i++) {
		const char *name = (const char *)names->data + (size_t)i * ETH_GSTRING_LEN;
		const struct ethtool_get_features_block *b = &feat->features[i / 32];
		__u32 bit = 1u << (i % 32);

		for (j = 0; j < sizeof(tap_features) / sizeof(tap_features[0]); j++) {
			if (strncmp(name, tap_features[j].name, ETH_GSTRING_LEN))
				continue;
			if (b->active & bit)
				ti->offloads |= tap_features[j].tun;
			if (b->available & bit)
				ti->offloads_avail |= tap_features[j].tun;
		}
	}
out:
	free(names);
	free(feat);
	return ret;
}

/* A socket in the network namespace of the tap behind @fd, which
 * identifies in @ti. */
static int tap_netns_socket(int fd, struct vub_tap_info *ti, char *why, size_t why_len)
{
	struct stat ns, self;
	int nsfd, selffd = -1, sock = -1, ret;

	nsfd = ioctl(fd, TUNGETDEVNETNS);
	if (nsfd < 0) {
		ret = -errno;
		snprintf(why, why_len, "TUNGETDEVNETNS: %s", strerror(-ret));
		return ret;
	}
	if (fstat(nsfd, &ns) || stat("/proc/thread-self/ns/net", &self)) {
		ret = -errno;
		snprintf(why, why_len, "network namespace: %s", strerror(-ret));
		goto out;
	}
	ti->netns_dev = ns.st_dev;
	ti->netns_ino = ns.st_ino;
	ti->own_netns = ns.st_dev == self.st_dev && ns.st_ino == self.st_ino;
	if (ti->own_netns) {
		sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	} else {
		/* Only a moment in the tap's namespace: long enough for socket(). */
		selffd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (selffd < 0 || setns(nsfd, CLONE_NEWNET)) {
			ret = -errno;
			snprintf(why, why_len, "entering the tap's network namespace: %s",
				 strerror(-ret));
			goto out;
		}
		sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (setns(selffd, CLONE_NEWNET))
			abort();	/* serving from the wrong namespace is worse */
	}
	ret = sock;
	if (sock < 0) {
		ret = -errno;
		snprintf(why, why_len, "socket: %s", strerror(-ret));
	}
out:
	if (selffd >= 0)
		close(selffd);
	close(nsfd);
	return ret;
}

int vub_tap_read(int fd, struct vub_tap_info *ti, char *why, size_t why_len)
{
	struct ifreq ifr;
	int sock, ret;

	memset(ti, 0, sizeof(*ti));
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr)) {
		ret = -errno;
		snprintf(why, why_len, "not a tap (TUNGETIFF: %s)", strerror(-ret));
		return ret;
	}
	snprintf(ti->ifname, sizeof(ti->ifname), "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
	ti->vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
	ti->multi_queue = ifr.ifr_flags & IFF_MULTI_QUEUE;
	if (ti->vnet_hdr && ioctl(fd, TUNGETVNETHDRSZ, &ti->vnet_hdr_sz)) {
		ret = -errno;
		snprintf(why, why_len, "%s: TUNGETVNETHDRSZ: %s", ti->ifname, strerror(-ret));
		return ret;
	}
	sock = tap_netns_socket(fd, ti, why, why_len);
	if (sock < 0)
		return sock;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ti->ifname);
	if (!ioctl(sock, SIOCGIFINDEX, &ifr))
		ti->ifindex = ifr.ifr_ifindex;
	ret = read_offloads(sock, ti, why, why_len);
	close(sock);
	return ret;
}
