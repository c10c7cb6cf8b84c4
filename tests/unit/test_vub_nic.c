// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for bridged/vub_nic.c: the registry of multiqueue NICs (which
 * devices share a connection, and as which queue pair), the back-end's
 * queue pair limit, the NIC key of a tap, and the key of real taps as the
 * daemon reads them (bridged/vub_tap.c) when the test may create them.
 * How a NIC's devices drive the shared connection is in test_vub_dev.c.
 */
#include "../../bridged/vub_nic.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct vub_nic_key key(uint32_t pid, const char *ifname, uint64_t ns)
{
	struct vub_nic_key k = { .vmm_pid = pid, .netns_dev = 4, .netns_ino = ns };

	snprintf(k.ifname, sizeof(k.ifname), "%s", ifname);
	snprintf(k.backend, sizeof(k.backend), "/run/be.sock");
	return k;
}

static void test_registry(void)
{
	struct vub_nics nics = { 0 };
	struct vub_nic_key k0 = key(812, "tap0", 4026531840), k;
	struct vub_nic *nic, *other;
	int m[4];

	TAP_OK(vub_nic_find(&nics, &k0) == NULL, "registry: empty, nothing found");
	nic = vub_nic_new(&nics, &k0);
	TAP_OK(nic && vub_nic_find(&nics, &k0) == nic && nic->nr_members == 0,
	       "registry: a new NIC is found by its key");
	TAP_OK(vub_nic_add(nic, &m[0], 4) == 0 && vub_nic_add(nic, &m[1], 4) == 1 &&
	       vub_nic_add(nic, &m[2], 4) == 2 && nic->nr_members == 3,
	       "pairs: devices take pairs 0, 1, 2 in the order they attach");
	TAP_OK(vub_nic_add(nic, &m[3], 3) == -ENOBUFS && nic->nr_members == 3,
	       "pairs: a 4th pair on a back-end with 3 is ENOBUFS");
	TAP_OK(vub_nic_remove(nic, 1) == 2 && nic->pair[1] == NULL && nic->pair[2] == &m[2],
	       "pairs: pair 1 leaves, pair 2 keeps its rings");
	TAP_OK(vub_nic_add(nic, &m[3], 3) == 1, "pairs: the next device takes the free pair 1");
	TAP_OK(vub_nic_remove(nic, 7) == 3, "pairs: removing a free pair changes nothing");

	k = k0;
	k.vmm_pid = 813;
	TAP_OK(vub_nic_find(&nics, &k) == NULL, "key: another VMM process is another NIC");
	k = k0;
	k.netns_ino++;
	TAP_OK(vub_nic_find(&nics, &k) == NULL, "key: the same tap name in another namespace is another NIC");
	k = k0;
	snprintf(k.ifname, sizeof(k.ifname), "tap1");
	TAP_OK(vub_nic_find(&nics, &k) == NULL, "key: another tap is another NIC");
	k = k0;
	snprintf(k.backend, sizeof(k.backend), "/run/other.sock");
	TAP_OK(vub_nic_find(&nics, &k) == NULL, "key: another back-end socket is another NIC");
	other = vub_nic_new(&nics, &k);
	TAP_OK(other && vub_nic_find(&nics, &k) == other && vub_nic_find(&nics, &k0) == nic,
	       "registry: two NICs side by side");
	vub_nic_free(&nics, nic);
	TAP_OK(vub_nic_find(&nics, &k0) == NULL && vub_nic_find(&nics, &k) == other,
	       "registry: a freed NIC is gone, the other stays");
	vub_nic_free(&nics, other);
	TAP_OK(nics.head == NULL, "registry: empty again");
}

static void test_max_pairs(void)
{
	uint64_t mq = 1ull << VU_PF_MQ;

	TAP_OK(vub_nic_max_pairs(mq, 2) == 2, "queue pairs: GET_QUEUE_NUM 2 with MQ: 2");
	TAP_OK(vub_nic_max_pairs(0, 128) == 1, "queue pairs: without the MQ protocol feature: 1");
	TAP_OK(vub_nic_max_pairs(mq, 0) == 1, "queue pairs: GET_QUEUE_NUM 0: 1");
	TAP_OK(vub_nic_max_pairs(mq, 1000) == VUB_NIC_MAX_PAIRS,
	       "queue pairs: at most %u (8-bit ring indices)", VUB_NIC_MAX_PAIRS);
}

static void test_key_from_tap(void)
{
	struct vub_tap_info ti = { .ifname = "tap0", .multi_queue = true,
				   .netns_dev = 4, .netns_ino = 4026531840 };
	struct vub_nic_key k = { .vmm_pid = 812 };

	TAP_OK(vub_nic_key_from_tap(&ti, &k) == 0 && !strcmp(k.ifname, "tap0") &&
	       k.netns_dev == 4 && k.netns_ino == 4026531840 && k.vmm_pid == 812,
	       "key: a multiqueue tap's name and namespace");
	ti.multi_queue = false;
	TAP_OK(vub_nic_key_from_tap(&ti, &k) == -EOPNOTSUPP,
	       "key: a single-queue tap is not grouped (EOPNOTSUPP)");
}

/* A tap queue; -errno if taps cannot be made here. */
static int tap_open(const char *name, short flags)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | flags);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Two queues of one real multiqueue tap, read as the daemon reads them. */
static void test_real_tap(void)
{
	struct vub_nic_key a = { 0 }, b = { 0 };
	struct vub_tap_info ta, tb;
	char name[IFNAMSIZ], why[160];
	int q0, q1, sq;

	snprintf(name, sizeof(name), "vubmq%d", (int)getpid() % 100000);
	q0 = tap_open(name, IFF_MULTI_QUEUE | IFF_VNET_HDR);
	if (q0 < 0) {
		TAP_DIAG("no tap can be made here (%s): the real-tap cases are skipped",
			 strerror(-q0));
		return;
	}
	q1 = tap_open(name, IFF_MULTI_QUEUE | IFF_VNET_HDR);
	TAP_OK(q1 >= 0 && vub_tap_read(q0, &ta, why, sizeof(why)) == 0 &&
	       vub_tap_read(q1, &tb, why, sizeof(why)) == 0 &&
	       vub_nic_key_from_tap(&ta, &a) == 0 && vub_nic_key_from_tap(&tb, &b) == 0 &&
	       !strcmp(a.ifname, name) && !strcmp(b.ifname, name) && a.netns_ino &&
	       a.netns_ino == b.netns_ino && a.netns_dev == b.netns_dev,
	       "real tap: two queues of multiqueue tap %s: same name, same namespace (inode %llu)",
	       name, (unsigned long long)a.netns_ino);
	close(q1);
	close(q0);
	snprintf(name, sizeof(name), "vubsq%d", (int)getpid() % 100000);
	sq = tap_open(name, IFF_VNET_HDR);
	TAP_OK(sq >= 0 && vub_tap_read(sq, &ta, why, sizeof(why)) == 0 &&
	       vub_nic_key_from_tap(&ta, &a) == -EOPNOTSUPP,
	       "real tap: a single-queue tap is not grouped");
	if (sq >= 0)
		close(sq);
}

int main(void)
{
	test_registry();
	test_max_pairs();
	test_key_from_tap();
	test_real_tap();
	return tap_done();
}
