// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridged: the bridge daemon.
 *
 * It attaches to the kernel module and serves every vhost ioctl a VMM issues
 * on /dev/vhost-user-bridge: each open of the device (dev_id) gets its own
 * vhost-user connection to the back-end socket given with --backend, except
 * that the queue pairs of one multiqueue NIC share one (vub_nic.c), and
 * its ioctls are answered with vhost-net semantics by vub_dev.c.
 *
 * One thread, one event loop (serve()): each request the kernel delivers
 * runs as a coroutine (vub_co.h) with a deadline of --timeout from its
 * arrival; a coroutine waiting for a back-end hands the thread back to the
 * loop.  The requests of devices that use one back-end socket are served one
 * at a time, in arrival order (struct backend's lock: one vhost-user
 * conversation at a time, and a NIC's devices share a connection); devices
 * of other back-ends go on meanwhile, so a hung back-end delays only its own.
 * The loop also watches for the RARPs a VMM writes into its tap to announce
 * its guest after a migration, and sends them to the back-end (vub_rarp.h).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "vub_chan.h"
#include "vub_co.h"
#include "vub_dev.h"
#include "vub_nl.h"
#include "vub_notify.h"
#include "vub_rarp.h"
#include "vub_state.h"
#include "vub_vhost.h"

#define PROG "vhost-user-bridged"
#define DEFAULT_TAGS 32

/* A back-end socket: its devices' requests take turns on its lock. */
struct backend {
	struct vub_co_lock lock;
	struct backend *next;
	char path[];
};

struct bridge;

/* A request being served: the coroutine's argument. */
struct job {
	struct bridge *br;
	uint32_t tag;
};

#define NR_RELEASED	(2 * VUB_MAX_TAGS)

struct bridge {
	bool verbose;
	struct vub_dev_cfg cfg;	/* cfg.backend: the vhost-user socket */
	struct vub_nics nics;	/* multiqueue NICs: devices sharing a connection */
	struct vub_dev **devs;
	size_t nr_devs, cap_devs;
	struct backend *backends;
	struct vub_chan *ch;
	struct job jobs[VUB_MAX_TAGS];
	/*
	 * The devices released last, with their releases' sequence numbers.
	 * The kernel can hand the daemon a device's last request and its
	 * release at once, on two slots whose completions arrive in either
	 * order; a request older than its device's release must not bring the
	 * device back.  Both are held in slots then, so each release recorded
	 * since takes a slot too: twice the slots is enough.
	 */
	struct {
		uint32_t dev_id;
		uint64_t seq;
	} released[NR_RELEASED];
	unsigned int nr_released;
	/* The kernel's fd store (the control file, through a ring of its
	 * own: its commands complete at once); false on a kernel without. */
	bool store;
	struct io_uring store_ring;
	/* AF_PACKET, ETH_P_RARP: the VMMs' self-announces (-1: not watched),
	 * and those no attached device took yet. */
	int rarp_fd;
	struct vub_rarp_pending rarp;
};

static volatile sig_atomic_t stop;

/* stderr is the journal: each line starts with its priority, "<3>" (sd-daemon(3)). */
static bool log_journal;

/* @prio: a syslog priority, LOG_ERR to LOG_DEBUG. */
static void logmsg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_journal)
		fprintf(stderr, "<%d>", prio);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "E?";
}

/* --- devices: one per open of /dev/vhost-user-bridge ------------------ */

static struct vub_dev *device_find(struct bridge *br, uint32_t dev_id, size_t *pos)
{
	size_t i;

	for (i = 0; i < br->nr_devs; i++)
		if (br->devs[i]->dev_id == dev_id) {
			if (pos)
				*pos = i;
			return br->devs[i];
		}
	return NULL;
}

static struct vub_dev *device_add(struct bridge *br, uint32_t dev_id, uint32_t vmm_pid)
{
	struct vub_dev *dev, **n;
	size_t cap;

	if (br->nr_devs == br->cap_devs) {
		cap = br->cap_devs ? 2 * br->cap_devs : 16;
		n = realloc(br->devs, cap * sizeof(*n));
		if (!n)
			return NULL;
		br->devs = n;
		br->cap_devs = cap;
	}
	dev = malloc(sizeof(*dev));	/* stable address: the front-end logs into it */
	if (!dev)
		return NULL;
	vub_dev_init(dev, &br->cfg, dev_id, vmm_pid);
	br->devs[br->nr_devs++] = dev;
	return dev;
}

static struct vub_dev *device_get(struct bridge *br, const struct vub_req *req)
{
	struct vub_dev *dev = device_find(br, req->dev_id, NULL);

	if (dev)
		return dev;
	dev = device_add(br, req->dev_id, req->vmm_pid);
	if (dev)
		logmsg(LOG_INFO, "dev %u: new device of VMM pid %u", dev->dev_id, dev->vmm_pid);
	return dev;
}

/* ", IOTLB: ..." with the device's IOTLB messages, or "" if it had none. */
static const char *iotlb_counts(const struct vub_dev *d)
{
	static char buf[160];

	if (!(d->nr_iotlb[VU_IOTLB_UPDATE] | d->nr_iotlb[VU_IOTLB_INVALIDATE] |
	      d->nr_iotlb[VU_IOTLB_MISS] | d->nr_iotlb[VU_IOTLB_ACCESS_FAIL]))
		return "";
	snprintf(buf, sizeof(buf),
		 ", IOTLB: %llu updates and %llu invalidates from the VMM, %llu misses and %llu access failures to it",
		 (unsigned long long)d->nr_iotlb[VU_IOTLB_UPDATE],
		 (unsigned long long)d->nr_iotlb[VU_IOTLB_INVALIDATE],
		 (unsigned long long)d->nr_iotlb[VU_IOTLB_MISS],
		 (unsigned long long)d->nr_iotlb[VU_IOTLB_ACCESS_FAIL]);
	return buf;
}

/* The back-end's IOTLB request for @dev_id's VMM: the kernel queues it. */
static int dev_iotlb_msg(void *opaque, uint32_t dev_id, uint32_t type, uint64_t iova,
			 uint8_t perm)
{
	struct bridge *br = opaque;
	struct vub_dev_msg m = { .dev_id = dev_id, .type = type, .perm = perm, .iova = iova };
	int32_t res;
	int ret;

	if (!br->store)
		return -EOPNOTSUPP;
	ret = vub_chan_raw_cmd(&br->store_ring, br->ch->fd, VUB_U_CMD_DEV_MSG, &m, sizeof(m),
			       5000, &res);
	return ret ? ret : res;
}

static void device_forget(struct bridge *br, size_t pos)
{
	struct vub_dev *dev = br->devs[pos];

	logmsg(LOG_INFO, "dev %u: released after %llu requests%s%s", dev->dev_id,
	       (unsigned long long)dev->nr_reqs, iotlb_counts(dev),
	       dev->fe ? ", back-end connection closed" : "");
	vub_dev_release(dev);
	if (dev->state_fd >= 0)
		close(dev->state_fd);
	free(dev);
	br->devs[pos] = br->devs[--br->nr_devs];
}

/* --- the fd store: what a daemon started after this one needs ---------- */

static int store_cmd(struct bridge *br, uint32_t op, uint32_t dev_id, uint32_t slot, int fd)
{
	struct vub_fd_cmd c = { .dev_id = dev_id, .slot = slot, .fd = fd };
	int32_t res;
	int ret;

	ret = vub_chan_raw_cmd(&br->store_ring, br->ch->fd, op, &c, sizeof(c), 5000, &res);
	return ret ? ret : res;
}

/* The device cannot be recorded: a daemon after this one fails it (EIO). */
static void unrecorded(struct bridge *br, struct vub_dev *d, const char *what, int err)
{
	logmsg(LOG_WARNING, "dev %u: cannot keep its state in the kernel's fd store (%s: %s); after a daemon restart it fails with EIO",
	       d->dev_id, what, strerror(-err));
	if (d->stored[VUB_FD_SLOT_STATE])
		store_cmd(br, VUB_U_CMD_FD_DROP, d->dev_id, VUB_FD_SLOT_STATE, -1);
	d->stored[VUB_FD_SLOT_STATE] = 0;
	if (d->state_fd >= 0)
		close(d->state_fd);
	d->state_fd = -2;	/* given up until the device is released */
}

/*
 * Write @d's record (vub_state.h) to its memfd, into the older of the two
 * copies; unless @busy (an exchange with the back-end is about to start),
 * also put every descriptor it names into the store and drop the slots it
 * no longer uses.  The memfd itself goes into slot VUB_FD_SLOT_STATE last,
 * once it holds a record.
 */
static void persist_one(struct bridge *br, struct vub_dev *d, bool busy, bool files)
{
	static struct vub_state st;		/* large: off the coroutines' stacks */
	static unsigned char buf[VUB_STATE_COPY_SIZE];
	static int slotfd[VUB_FD_STORE_SLOTS];
	uint32_t i;
	size_t len;
	int ret;

	if (!br->store || d->state_fd == -2)
		return;
	ret = vub_dev_state_save(d, &st, slotfd);
	if (ret) {
		unrecorded(br, d, "more rings or memory regions than a record holds", ret);
		return;
	}
	if (d->state_fd < 0) {
		d->state_fd = memfd_create("vub-state", MFD_CLOEXEC);
		if (d->state_fd < 0 || ftruncate(d->state_fd, 2 * VUB_STATE_COPY_SIZE)) {
			unrecorded(br, d, "memfd", -errno);
			return;
		}
	}
	d->state_gen++;
	len = vub_state_encode(&st, d->state_gen, busy ? VUB_STATE_F_BUSY : 0, buf);
	if (pwrite(d->state_fd, buf, len, (off_t)(d->state_gen % 2) * VUB_STATE_COPY_SIZE) !=
	    (ssize_t)len) {
		unrecorded(br, d, "writing the record", -errno);
		return;
	}
	if (busy)
		return;
	if (!files && d->stored[VUB_FD_SLOT_STATE] && d->stored_fe == d->fe &&
	    d->stored_connects == d->nr_connects && d->stored_reconnects == d->nr_reconnects &&
	    d->stored_lost == d->lost)
		return;		/* the stored files are still the right ones */
	d->stored_fe = d->fe;
	d->stored_connects = d->nr_connects;
	d->stored_reconnects = d->nr_reconnects;
	d->stored_lost = d->lost;
	for (i = VUB_FD_SLOT_STATE + 1; i < VUB_FD_STORE_SLOTS; i++) {
		if (slotfd[i] >= 0)
			ret = store_cmd(br, VUB_U_CMD_FD_STORE, d->dev_id, i, slotfd[i]);
		else if (d->stored[i])
			ret = store_cmd(br, VUB_U_CMD_FD_DROP, d->dev_id, i, -1);
		else
			continue;
		if (ret == -ENOENT)	/* closed by its VMM: RELEASE is on its way */
			return;
		if (ret) {
			unrecorded(br, d, "storing its files", ret);
			return;
		}
		d->stored[i] = slotfd[i] >= 0;
	}
	if (!d->stored[VUB_FD_SLOT_STATE]) {
		ret = store_cmd(br, VUB_U_CMD_FD_STORE, d->dev_id, VUB_FD_SLOT_STATE, d->state_fd);
		if (ret && ret != -ENOENT) {
			unrecorded(br, d, "storing its record", ret);
			return;
		}
		d->stored[VUB_FD_SLOT_STATE] = !ret;
	}
}

/* @d and every device sharing its connection (the queue pairs of its NIC);
 * @files: the request may have changed which files the device holds. */
static void persist(struct bridge *br, struct vub_dev *d, bool busy, bool files)
{
	unsigned int k;

	if (!d->nic) {
		persist_one(br, d, busy, files);
		return;
	}
	for (k = 0; k < VUB_NIC_MAX_PAIRS; k++)
		if (d->nic->pair[k])
			persist_one(br, (struct vub_dev *)d->nic->pair[k], busy, files);
}

/* The ioctls after which the front-end may hold other files (a new
 * connection is seen by persist_one() itself). */
static bool ioctl_sets_files(uint32_t ioctl)
{
	switch (ioctl) {
	case VHOST_SET_OWNER:
	case VHOST_RESET_OWNER:
	case VHOST_SET_MEM_TABLE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_NET_SET_BACKEND:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_LOG_FD:
	case VHOST_SET_LOG_BASE:
		return true;
	default:
		return false;
	}
}

/* One device's stored files (@slotfd, this daemon's descriptors): rebuild it. */
static struct vub_dev *restore_one(struct bridge *br, uint32_t dev_id, int *slotfd,
				   bool *busy)
{
	static unsigned char buf[2 * VUB_STATE_COPY_SIZE];
	static struct vub_state st;
	struct vub_dev *d = NULL;
	uint32_t flags = 0, i;
	uint64_t gen = 0;
	ssize_t n;
	int ret;

	if (slotfd[VUB_FD_SLOT_STATE] < 0) {
		logmsg(LOG_ERR, "dev %u: files in the fd store but no record: not restored (its ioctls fail with EIO)",
		       dev_id);
		goto out;
	}
	n = pread(slotfd[VUB_FD_SLOT_STATE], buf, sizeof(buf), 0);
	ret = n < 0 ? -errno : vub_state_pick(buf, (size_t)n, &st, &gen, &flags);
	if (ret >= 0 && st.dev_id != dev_id)
		ret = -EINVAL;
	if (ret < 0) {
		logmsg(LOG_ERR, "dev %u: its record in the fd store is unusable (%s): not restored (its ioctls fail with EIO)",
		       dev_id, strerror(-ret));
		goto out;
	}
	d = device_add(br, dev_id, st.vmm_pid);
	if (!d)
		goto out;
	ret = vub_dev_state_restore(d, &st, slotfd);
	if (ret) {
		logmsg(LOG_ERR, "dev %u: cannot restore it from the fd store: %s", dev_id, vub_dev_why(d));
		device_find(br, dev_id, NULL);
		br->devs[--br->nr_devs] = NULL;
		vub_dev_release(d);
		free(d);
		d = NULL;
		goto out;
	}
	d->state_fd = slotfd[VUB_FD_SLOT_STATE];
	slotfd[VUB_FD_SLOT_STATE] = -1;
	d->state_gen = gen;
	for (i = 0; i < VUB_FD_STORE_SLOTS; i++)
		d->stored[i] = slotfd[i] >= 0;
	d->stored[VUB_FD_SLOT_STATE] = 1;
	*busy = flags & VUB_STATE_F_BUSY;
	logmsg(LOG_INFO, "dev %u: restored from the fd store (VMM pid %u, record generation %llu, %s%s%s)",
	       dev_id, d->vmm_pid, (unsigned long long)gen,
	       !d->fe ? "not connected yet" : d->lost ? "back-end lost" : "back-end connection kept",
	       d->nic ? ", queue pair of the NIC on tap " : "", d->nic ? d->nic->key.ifname : "");
out:
	for (i = 0; i < VUB_FD_STORE_SLOTS; i++) {
		if (slotfd[i] >= 0)
			close(slotfd[i]);
		slotfd[i] = -1;		/* ready for the next device */
	}
	return d;
}

/*
 * restore_one(), and a device whose record says an exchange was in progress
 * joins @busy_devs, to reconnect once every device is back (the queue pairs
 * of a NIC share the connection).  Returns 1 when the device came back.
 */
static size_t restore_dev(struct bridge *br, uint32_t dev_id, int *slotfd,
			  struct vub_dev ***busy_devs, size_t *nr_busy)
{
	bool busy = false;
	struct vub_dev *d = restore_one(br, dev_id, slotfd, &busy);
	void *p;

	if (!d)
		return 0;
	if (busy) {
		p = realloc(*busy_devs, (*nr_busy + 1) * sizeof(**busy_devs));
		if (p) {
			*busy_devs = p;
			(*busy_devs)[(*nr_busy)++] = d;
		} else {
			vub_dev_desync(d);	/* at once, rather than not at all */
		}
	}
	return 1;
}

/*
 * A daemon that attached with VUB_ATTACH_F_RECOVER, before it takes any
 * request: every device a previous daemon recorded comes back, on the
 * back-end connection it left, without a message to the back-end; a
 * device whose record says an exchange was in progress reconnects instead.
 */
static void restore_devices(struct bridge *br)
{
	static struct vub_fd_entry e[VUB_FD_FETCH_MAX];
	static int slotfd[VUB_FD_STORE_SLOTS];
	struct vub_fd_fetch f = { .buf_addr = (uintptr_t)e, .nr = VUB_FD_FETCH_MAX };
	struct vub_dev **busy_devs = NULL;
	size_t nr_busy = 0, nr = 0, i;
	uint32_t cur = 0;
	int32_t res;
	int ret, k;

	for (i = 0; i < VUB_FD_STORE_SLOTS; i++)
		slotfd[i] = -1;
	for (;;) {
		ret = vub_chan_raw_cmd(&br->store_ring, br->ch->fd, VUB_U_CMD_FD_FETCH, &f,
				       sizeof(f), 5000, &res);
		if (ret || res <= 0) {
			if (ret || res < 0)
				logmsg(LOG_ERR, "cannot fetch the fd store: %s", strerror(-(ret ? ret : res)));
			break;
		}
		for (k = 0; k < res; k++) {
			if (cur && e[k].dev_id != cur)
				nr += restore_dev(br, cur, slotfd, &busy_devs, &nr_busy);
			cur = e[k].dev_id;
			if (e[k].slot < VUB_FD_STORE_SLOTS && slotfd[e[k].slot] < 0)
				slotfd[e[k].slot] = e[k].fd;
			else
				close(e[k].fd);
		}
		f.dev_id = e[res - 1].dev_id;
		f.slot = e[res - 1].slot + 1;
	}
	if (cur)
		nr += restore_dev(br, cur, slotfd, &busy_devs, &nr_busy);
	for (i = 0; i < nr_busy; i++)
		vub_dev_desync(busy_devs[i]);
	free(busy_devs);
	/* What the store holds is now this daemon's (the closed connections'
	 * slots dropped: then the back-end sees them close). */
	for (i = 0; i < br->nr_devs; i++)
		persist_one(br, br->devs[i], false, true);
	if (nr || nr_busy)
		logmsg(LOG_INFO, "restored %zu devices from the kernel's fd store (%zu reconnect: the previous daemon died in an exchange with their back-end)",
		       nr, nr_busy);
}

/* --- requests ------------------------------------------------------------ */

static void format_fds(const struct vub_req *req, const int *fds, char *buf, size_t size)
{
	size_t n = snprintf(buf, size, "[");
	uint32_t i;

	for (i = 0; i < req->nr_fds && n < size; i++)
		n += snprintf(buf + n, size - n, "%s%d", i ? " " : "", fds[i]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

/* The kernel's pieces of a memory table: how many, and the bytes they cover
 * (less than the regions' when the VMM's regions hold reserved holes). */
static void format_pieces(const struct vub_req *req, char *buf, size_t size)
{
	const char *ext = (const char *)req + req->ext_offset;
	uint32_t i, n = req->ext_len / sizeof(struct vub_mem_piece);
	struct vub_mem_piece p;
	unsigned long long bytes = 0;

	for (i = 0; i < n; i++) {
		memcpy(&p, ext + i * sizeof(p), sizeof(p));
		bytes += p.memory_size;
	}
	snprintf(buf, size, " (kernel: %u pieces of %llu bytes, %u files)", n, bytes,
		 req->nr_fds);
}

static int on_ioctl(struct bridge *br, const struct vub_req *req, struct vub_dev *dev,
		    const void *payload, int *fds, void *reply, uint32_t *reply_len)
{
	const struct vub_vhost_ioctl *d = vub_vhost_find(req->ioctl);
	char arg[512], fdstr[64];
	int ret;

	format_fds(req, fds, fdstr, sizeof(fdstr));
	if (!d) {
		logmsg(LOG_WARNING, "dev %u seq %llu: unknown ioctl %#x -> ENOTTY", req->dev_id,
		       (unsigned long long)req->seq, req->ioctl);
		return -ENOTTY;
	}
	vub_vhost_format(d, payload, req->payload_len, arg, sizeof(arg));
	if (req->ext_len)	/* the kernel's resolution of the memory table */
		format_pieces(req, arg + strlen(arg), sizeof(arg) - strlen(arg));
	ret = vub_dev_ioctl(dev, d, req, payload, fds, reply, reply_len);
	if (br->verbose || ret)
		logmsg(ret ? LOG_WARNING : LOG_DEBUG, "dev %u pid %u seq %llu: %s %s fds %s -> %s%s%s", req->dev_id,
		       req->vmm_pid, (unsigned long long)req->seq, d->name, arg, fdstr,
		       ret ? errname(-ret) : "0", ret && *vub_dev_why(dev) ? ": " : "",
		       ret ? vub_dev_why(dev) : "");
	return ret;
}

/* The VMM's IOTLB message, for the log. */
static const char *format_iotlb(const void *payload, uint32_t len)
{
	static char buf[160];
	struct vhost_iotlb_msg m;

	if (len != sizeof(m))
		return "(malformed)";
	memcpy(&m, payload, sizeof(m));
	snprintf(buf, sizeof(buf), "%s iova %#llx size %#llx uaddr %#llx perm %u",
		 m.type == VHOST_IOTLB_UPDATE ? "UPDATE" :
		 m.type == VHOST_IOTLB_INVALIDATE ? "INVALIDATE" : "?",
		 (unsigned long long)m.iova, (unsigned long long)m.size,
		 (unsigned long long)m.uaddr, m.perm);
	return buf;
}

static int on_iotlb(struct bridge *br, const struct vub_req *req, struct vub_dev *dev,
		    const void *payload)
{
	int ret = vub_dev_iotlb(dev, payload, req->payload_len);

	if (br->verbose || ret)
		logmsg(ret ? LOG_WARNING : LOG_DEBUG, "dev %u pid %u seq %llu: IOTLB %s -> %s%s%s",
		       req->dev_id, req->vmm_pid, (unsigned long long)req->seq,
		       format_iotlb(payload, req->payload_len), ret ? errname(-ret) : "0",
		       ret && *vub_dev_why(dev) ? ": " : "", ret ? vub_dev_why(dev) : "");
	return ret;
}

static int on_open(struct bridge *br, const struct vub_req *req, const void *payload)
{
	struct vub_open_info oi;
	struct vub_dev *dev;
	int ret;

	if (req->payload_len < sizeof(oi)) {
		logmsg(LOG_ERR, "dev %u: VUB_OP_OPEN with %u bytes of payload -> EINVAL", req->dev_id,
		       req->payload_len);
		return -EINVAL;
	}
	memcpy(&oi, payload, sizeof(oi));
	if (oi.flags & VUB_OPEN_F_STORED) {
		dev = device_find(br, req->dev_id, NULL);
		if (dev && dev->restored) {
			logmsg(LOG_INFO, "dev %u: adopted (restored from the fd store) by its VMM's first ioctl since the restart",
			       req->dev_id);
			return 0;
		}
		logmsg(LOG_ERR, "dev %u: the kernel says a previous daemon left its state, and none was restored -> ENOENT (the device fails with EIO)",
		       req->dev_id);
		return -ENOENT;
	}
	dev = device_get(br, req);
	if (!dev)
		return -ENOMEM;
	ret = vub_dev_open(dev, &oi);
	if (ret)
		logmsg(LOG_WARNING, "dev %u: open of instance %u (%.*s) -> %s: %s", dev->dev_id,
		       oi.instance_id, (int)sizeof(oi.name), oi.name, errname(-ret),
		       vub_dev_why(dev));
	else if (oi.instance_id)
		logmsg(LOG_INFO, "dev %u: instance %u (%.*s), back-end %s", dev->dev_id, oi.instance_id,
		       (int)sizeof(oi.name), oi.name, dev->backend ? dev->backend : "(none)");
	return ret;
}

static struct vub_co_lock *backend_lock(struct bridge *br, const char *path)
{
	struct backend *b;

	for (b = br->backends; b; b = b->next)
		if (!strcmp(b->path, path))
			return &b->lock;
	b = calloc(1, sizeof(*b) + strlen(path) + 1);
	if (!b)
		return NULL;
	strcpy(b->path, path);
	b->next = br->backends;
	br->backends = b;
	return &b->lock;
}

/* Wait for @dev's turn on its back-end (until the request's deadline). */
static struct vub_co_lock *take_turn(struct bridge *br, const struct vub_req *req,
				     struct vub_dev *dev)
{
	struct vub_co_lock *l = backend_lock(br, dev->backend);

	if (l && vub_co_lock(l)) {
		logmsg(LOG_WARNING, "dev %u seq %llu: back-end %s still busy with other devices' requests at the deadline -> ETIMEDOUT",
		       req->dev_id, (unsigned long long)req->seq, dev->backend);
		l = NULL;
	}
	return l;
}

/* Was @req's device released after @req was sent? */
static bool released_since(struct bridge *br, const struct vub_req *req)
{
	unsigned int i;

	for (i = 0; i < NR_RELEASED; i++)
		if (br->released[i].seq > req->seq && br->released[i].dev_id == req->dev_id)
			return true;
	return false;
}

/* --- the VMMs' self-announce (vub_rarp.h) ------------------------------ */

static bool rarp_attached(const struct vub_dev *d, int ifindex)
{
	return d->tap_ifindex == ifindex && d->fe && (d->attached[0] || d->attached[1]);
}

/* The device attached a tap that announced a guest before: SEND_RARP now
 * (the request's coroutine, in the back-end's turn). */
static void rarp_pending(struct bridge *br, struct vub_dev *d)
{
	uint8_t mac[6];

	if (d->tap_ifindex && rarp_attached(d, d->tap_ifindex) &&
	    vub_rarp_take(&br->rarp, d->tap_ifindex, vub_co_now(), mac))
		vub_dev_send_rarp(d, mac);
}

struct rarp_job {
	struct bridge *br;
	uint32_t dev_id;
	uint8_t mac[6];
};

/* A coroutine: SEND_RARP for an attached device, in the back-end's turn. */
static void rarp_job(void *arg)
{
	struct rarp_job *j = arg;
	struct bridge *br = j->br;
	struct vub_dev *d = device_find(br, j->dev_id, NULL);
	struct vub_co_lock *l = d ? backend_lock(br, d->backend) : NULL;

	vub_co_set_deadline(vub_co_now() + br->cfg.timeout_ms);
	if (l && !vub_co_lock(l)) {
		d = device_find(br, j->dev_id, NULL);	/* released meanwhile? */
		if (d) {
			persist(br, d, true, false);
			vub_dev_send_rarp(d, j->mac);
			persist(br, d, false, false);
		}
		vub_co_unlock(l);
	}
	d = device_find(br, j->dev_id, NULL);
	if (d)
		d->rarp_queued = false;
	free(j);
}

/* A RARP from @mac on @ifindex: to the back-end of each connection with a
 * device attached on that tap.  false: no such device. */
static bool rarp_announce(struct bridge *br, int ifindex, const uint8_t mac[6])
{
	struct rarp_job *j;
	bool taken = false;
	size_t i, k;

	for (i = 0; i < br->nr_devs; i++) {
		struct vub_dev *d = br->devs[i];

		if (!rarp_attached(d, ifindex))
			continue;
		for (k = 0; k < i; k++)
			if (br->devs[k]->fe == d->fe && rarp_attached(br->devs[k], ifindex))
				break;
		taken = true;
		if (k < i || d->rarp_queued || !(j = malloc(sizeof(*j))))
			continue;	/* its NIC's connection has it, or one is queued */
		*j = (struct rarp_job){ .br = br, .dev_id = d->dev_id };
		memcpy(j->mac, mac, 6);
		if (vub_co_spawn(rarp_job, j))
			free(j);
		else
			d->rarp_queued = true;
	}
	return taken;
}

static void rarp_read(struct bridge *br)
{
	struct sockaddr_ll sll;
	socklen_t sl;
	uint8_t buf[64], mac[6];
	char m[18];
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		sl = sizeof(sll);
		n = recvfrom(br->rarp_fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&sll, &sl);
		if (n < 0)
			return;
		if (sll.sll_pkttype == PACKET_OUTGOING ||
		    vub_rarp_parse(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), mac) ||
		    rarp_announce(br, sll.sll_ifindex, mac))
			continue;
		vub_rarp_keep(&br->rarp, sll.sll_ifindex, mac, vub_co_now());
		vub_rarp_mac_str(mac, m);
		if (br->verbose)
			logmsg(LOG_DEBUG, "RARP for MAC %s on interface %d, no device attached there: kept for one that attaches it within %d s",
			       m, sll.sll_ifindex, VUB_RARP_KEEP_MS / 1000);
	}
}

static int on_request(void *ctx, const struct vub_req *req, const void *payload,
		      int *fds, void *reply, uint32_t *reply_len)
{
	struct bridge *br = ctx;
	struct vub_co_lock *l;
	struct vub_dev *dev;
	unsigned int i;
	size_t pos;
	int ret;

	if (req->op == VUB_OP_RELEASE) {
		i = br->nr_released++ % NR_RELEASED;
		br->released[i].dev_id = req->dev_id;
		br->released[i].seq = req->seq;
	} else if (released_since(br, req)) {
		logmsg(LOG_INFO, "dev %u seq %llu: request op %u reached the daemon after the device's release -> EIO (nobody waits for it)",
		       req->dev_id, (unsigned long long)req->seq, req->op);
		return -EIO;
	}
	switch (req->op) {
	case VUB_OP_IOCTL:
	case VUB_OP_IOTLB_MSG:
		dev = device_get(br, req);
		if (!dev)
			return -ENOMEM;
		l = take_turn(br, req, dev);
		if (!l)
			return -ETIMEDOUT;
		persist(br, dev, true, false);
		if (req->op == VUB_OP_IOCTL) {
			ret = on_ioctl(br, req, dev, payload, fds, reply, reply_len);
			if (!ret && req->ioctl == VHOST_NET_SET_BACKEND)
				rarp_pending(br, dev);
		} else
			ret = on_iotlb(br, req, dev, payload);
		persist(br, dev, false, req->op == VUB_OP_IOCTL && ioctl_sets_files(req->ioctl));
		vub_co_unlock(l);
		return ret;
	case VUB_OP_OPEN:
		return on_open(br, req, payload);
	case VUB_OP_RELEASE:
		dev = device_find(br, req->dev_id, NULL);
		if (!dev) {
			logmsg(LOG_WARNING, "dev %u: release of a device never seen", req->dev_id);
			return 0;
		}
		/* After every request of the device still being served (they end
		 * by their deadlines), however long that takes: a release is
		 * never dropped. */
		vub_co_set_deadline(-1);
		l = take_turn(br, req, dev);
		vub_co_set_deadline(vub_co_now() + br->cfg.timeout_ms);
		if (device_find(br, req->dev_id, &pos))
			device_forget(br, pos);
		if (l)
			vub_co_unlock(l);
		return 0;
	default:
		logmsg(LOG_ERR, "dev %u seq %llu: unknown request op %u -> EOPNOTSUPP",
		       req->dev_id, (unsigned long long)req->seq, req->op);
		return -EOPNOTSUPP;
	}
}

static void serve_job(void *arg)
{
	struct job *job = arg;
	struct bridge *br = job->br;
	int ret;

	vub_co_set_deadline(vub_co_now() + br->cfg.timeout_ms);
	ret = vub_chan_answer(br->ch, job->tag, on_request, br);
	if (ret)
		logmsg(LOG_ERR, "tag %u: cannot answer the kernel: %s", job->tag, strerror(-ret));
}

static int no_memory(void *ctx, const struct vub_req *req, const void *payload,
		     int *fds, void *reply, uint32_t *reply_len)
{
	(void)ctx; (void)payload; (void)fds; (void)reply; (void)reply_len;
	logmsg(LOG_ERR, "dev %u seq %llu: no memory for a coroutine -> ENOMEM", req->dev_id,
	       (unsigned long long)req->seq);
	return -ENOMEM;
}

/* vub_chan's dispatch: the request in @tag gets a coroutine. */
static void dispatch(void *ctx, uint32_t tag)
{
	struct bridge *br = ctx;
	struct job *job = &br->jobs[tag];

	job->br = br;
	job->tag = tag;
	if (vub_co_spawn(serve_job, job))
		vub_chan_answer(br->ch, tag, no_memory, NULL);
}

/* A coroutine of the daemon's own for a device's back-end: serve what the
 * back-end sent while the device was idle, or reconnect to it. */
struct backend_job {
	struct bridge *br;
	uint32_t dev_id;
	bool reconnect;
};

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

static void backend_job(void *arg)
{
	struct backend_job *j = arg;
	struct bridge *br = j->br;
	struct vub_dev *d = device_find(br, j->dev_id, NULL);
	struct vub_co_lock *l = d ? backend_lock(br, d->backend) : NULL;
	unsigned int attempt;

	vub_co_set_deadline(vub_co_now() + br->cfg.timeout_ms);
	if (!l || vub_co_lock(l))
		goto out;
	d = device_find(br, j->dev_id, NULL);	/* released meanwhile? */
	if (d)
		persist(br, d, true, false);
	if (d && !j->reconnect) {
		vub_dev_check_backend(d);
	} else if (d && d->lost && vub_dev_reconnect(d)) {
		d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (d->backoff_ms > BACKOFF_MAX_MS)
			d->backoff_ms = BACKOFF_MAX_MS;
		d->retry_at = vub_co_now() + d->backoff_ms;
		attempt = ++d->nr_reconnect_tries;
		if (!(attempt & (attempt - 1)))	/* 1, 2, 4, 8, ... */
			logmsg(LOG_WARNING, "dev %u: reconnecting to the back-end %s failed (attempt %u): %s; retrying every %u ms at most",
			       d->dev_id, d->backend, attempt, vub_dev_why(d), BACKOFF_MAX_MS);
	} else if (d) {
		d->nr_reconnect_tries = 0;
	}
	d = device_find(br, j->dev_id, NULL);
	if (d)
		persist(br, d, false, true);
	vub_co_unlock(l);
out:
	d = device_find(br, j->dev_id, NULL);
	if (d)
		d->busy = false;
	free(j);
}

static void spawn_backend_job(struct bridge *br, struct vub_dev *d, bool reconnect)
{
	struct backend_job *j = malloc(sizeof(*j));

	if (!j)
		return;
	*j = (struct backend_job){ .br = br, .dev_id = d->dev_id, .reconnect = reconnect };
	if (vub_co_spawn(backend_job, j)) {
		free(j);
		return;
	}
	d->busy = true;
}

static int push_pfd(struct pollfd **pfd, size_t *cap, size_t n, int fd, short events)
{
	struct pollfd *p = *pfd;

	if (n == *cap) {
		p = realloc(p, 2 * *cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*pfd = p;
		*cap *= 2;
	}
	p[n] = (struct pollfd){ .fd = fd, .events = events };
	return 0;
}

/*
 * Back-ends to watch: each idle, connected device's vhost-user socket and
 * back-end channel (entries 2.. of *pfd, their devices in *ids), and lost
 * devices whose next reconnect is due (spawned now; *deadline: the next).
 */
static int watch_backends(struct bridge *br, struct pollfd **pfd, size_t *cap,
			  uint32_t **ids, size_t *idcap, int64_t *deadline)
{
	int64_t now = vub_co_now();
	struct vub_co_lock *l;
	struct vub_dev *d;
	size_t i, n = 2;
	uint32_t *p;
	int fds[2], k;

	*deadline = -1;
	for (i = 0; i < br->nr_devs; i++) {
		d = br->devs[i];
		if (d->busy)
			continue;
		if (d->lost && d->fe) {
			if (d->retry_at <= now)
				spawn_backend_job(br, d, true);
			else if (*deadline < 0 || d->retry_at < *deadline)
				*deadline = d->retry_at;
			continue;
		}
		l = backend_lock(br, d->backend);
		if (!l || l->owner || !vub_dev_watch_fds(d, fds))
			continue;
		for (k = 0; k < 2; k++) {
			if (fds[k] < 0)
				continue;
			if (n >= *idcap) {
				p = realloc(*ids, 2 * (n + 8) * sizeof(*p));
				if (!p)
					return -ENOMEM;
				*ids = p;
				*idcap = 2 * (n + 8);
			}
			if (push_pfd(pfd, cap, n, fds[k], k ? POLLIN : POLLIN | POLLRDHUP))
				return -ENOMEM;
			(*ids)[n++] = d->dev_id;
		}
	}
	return (int)n;
}

/*
 * The event loop: the channel's ring, the idle back-ends and every fd a
 * coroutine waits on, in one ppoll() with @mask (signals are let in only
 * there) and the earliest deadline as its timeout.  Returns 0 when stopped,
 * or -errno (-ECANCELED: the kernel detached the daemon).
 */
static int serve(struct bridge *br, const sigset_t *mask)
{
	struct pollfd *pfd = calloc(16, sizeof(*pfd));
	uint32_t *ids = NULL;
	struct timespec ts, *tsp;
	size_t cap = 16, idcap = 0, i;
	int64_t deadline, retry, left;
	struct vub_dev *d;
	int n, nw, ret = 0;

	if (!pfd)
		return -ENOMEM;
	while (!stop) {
		pfd[0] = (struct pollfd){ .fd = br->ch->ring.ring_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = br->rarp_fd, .events = POLLIN };
		nw = watch_backends(br, &pfd, &cap, &ids, &idcap, &retry);
		n = nw < 0 ? nw : vub_co_pollfds(&pfd, &cap, (size_t)nw, &deadline);
		if (n < 0) {
			ret = n;
			break;
		}
		if (retry >= 0 && (deadline < 0 || retry < deadline))
			deadline = retry;
		tsp = NULL;
		if (deadline >= 0) {
			left = deadline - vub_co_now();
			left = left < 0 ? 0 : left;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			tsp = &ts;
		}
		if (ppoll(pfd, n, tsp, mask) < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		ret = vub_chan_step(br->ch, NULL, NULL, 0, NULL);
		if (ret < 0 && ret != -EINTR)
			break;
		ret = 0;
		for (i = 2; i < (size_t)nw; i++) {
			d = pfd[i].revents ? device_find(br, ids[i], NULL) : NULL;
			if (d && !d->busy)
				spawn_backend_job(br, d, false);
		}
		if (pfd[1].revents)
			rarp_read(br);
		vub_co_run(pfd + nw, n - nw);
	}
	free(pfd);
	free(ids);
	return ret;
}

/* Back-end connected or lost, or its features changed: tell the kernel, for
 * vubctl and its events. */
static void dev_backend_state(void *opaque, uint32_t dev_id, uint32_t state,
			      uint64_t features, uint64_t missing, uint32_t reconnects)
{
	int ret = vub_nl_backend_state(opaque, dev_id, state, features, missing, reconnects);

	if (ret)
		logmsg(LOG_WARNING, "dev %u: cannot report the back-end state to the kernel: %s",
		       dev_id, strerror(-ret));
}

static void dev_log(void *opaque, int prio, const char *line)
{
	(void)opaque;
	logmsg(prio, "%s", line);
}

/* --- main ---------------------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --backend PATH [--tags N] [--timeout MS] [--verbose]\n"
		"\n"
		"Bridge daemon of vhost-user-bridge: serves the vhost ioctls VMMs issue on\n"
		"/dev/" VUB_VMM_DEVICE_NAME ", received through /dev/" VUB_CTRL_DEVICE_NAME ",\n"
		"with vhost-net semantics.  Every open of the device gets its own vhost-user\n"
		"connection to the back-end listening on PATH (e.g. DPDK's vhost PMD); the\n"
		"queue pairs of one multiqueue NIC (one VMM, one multiqueue tap) share one.\n"
		"\n"
		"  --backend PATH  vhost-user back-end socket (unix, the back-end listens)\n"
		"  --tags N        request slots posted to the kernel, 1..%d (default %d)\n"
		"  --timeout MS    deadline of each request, from its arrival (default %d)\n"
		"  --verbose       log every request\n"
		"  --help          this text\n"
		"\n"
		"Needs CAP_NET_ADMIN.  SIGTERM or SIGINT: detach and exit 0.  The kernel keeps\n"
		"every device's back-end connection and state (its fd store) for the next\n"
		"daemon, which carries on with them; without a daemon, only closing the device\n"
		"(the VMM) closes its back-end connection.\n",
		VUB_MAX_TAGS, DEFAULT_TAGS, VU_CONN_DEFAULT_TIMEOUT_MS);
}

/*
 * Every device costs descriptors (its back-end connection, eventfds, memory
 * files), and a request the kernel cannot install an fd for fails with
 * EMFILE: take the whole hard limit (systemd's default soft limit is 1024).
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		logmsg(LOG_WARNING, "warning: cannot raise RLIMIT_NOFILE to %llu: %s",
		       (unsigned long long)rl.rlim_max, strerror(errno));
}

/*
 * Attach as a daemon that recovers devices (VUB_ATTACH_F_RECOVER; a kernel
 * without the fd store refuses the flag, and gets a daemon without), bring
 * back what a previous daemon left in the store, then take requests.
 */
static int attach(struct bridge *br, struct vub_chan *ch, uint32_t tags)
{
	int ret = vub_chan_open(ch, NULL, tags);

	if (ret)
		return ret;
	br->ch = ch;
	ch->attach_flags = VUB_ATTACH_F_RECOVER;
	ret = vub_chan_attach(ch, VUB_API_VERSION);
	if (ret == -EINVAL) {
		logmsg(LOG_WARNING, "the kernel has no fd store: devices will not survive a daemon restart");
		ch->attach_flags = 0;
		ret = vub_chan_attach(ch, VUB_API_VERSION);
	}
	if (ret == 0)
		ret = -EPROTO;
	if (ret > 0 && ch->attach_flags) {
		ret = io_uring_queue_init(8, &br->store_ring, IORING_SETUP_SQE128);
		if (!ret) {
			br->store = true;
			restore_devices(br);
		} else {
			logmsg(LOG_WARNING, "no ring for the fd store (%s): devices will not survive a daemon restart",
			       strerror(-ret));
		}
		ret = (int)ch->version;
	}
	if (ret > 0) {
		int r = vub_chan_fetch_all(ch);

		if (r)
			ret = r;
	}
	if (ret < 0)
		vub_chan_close(ch);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tags", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bridge br = { .rarp_fd = -1, .cfg = { .log = dev_log, .timeout_ms = VU_CONN_DEFAULT_TIMEOUT_MS } };
	struct vub_nl *nl = NULL;
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	sigset_t block, waitmask;
	unsigned long tags = DEFAULT_TAGS, ms;
	struct stat st;
	size_t i;
	struct vub_chan ch;
	char *end;
	int c, ret;

	/*
	 * A branch and a store of a constant, not "log_journal = ... > 0":
	 * QEMU 7.2's TCG gets SETcc with a memory operand wrong about half
	 * the time when the store faults (the first write to a .bss page),
	 * which randomised the journal prefixes in the test VM
	 * (Documentation/vm-runner.rst).
	 */
	if (vub_journal_stream(STDERR_FILENO) > 0)
		log_journal = true;
	while ((c = getopt_long(argc, argv, "t:b:T:vh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			tags = strtoul(optarg, &end, 0);
			if (errno || *end || tags < 1 || tags > VUB_MAX_TAGS) {
				logmsg(LOG_ERR, "--tags: 1..%d", VUB_MAX_TAGS);
				return 2;
			}
			break;
		case 'b':
			br.cfg.backend = optarg;
			break;
		case 'T':
			errno = 0;
			ms = strtoul(optarg, &end, 0);
			if (errno || *end || ms < 1 || ms > 600000) {
				logmsg(LOG_ERR, "--timeout: 1..600000 ms");
				return 2;
			}
			br.cfg.timeout_ms = (int)ms;
			break;
		case 'v':
			br.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	br.cfg.nics = &br.nics;
	if (optind != argc || !br.cfg.backend) {
		if (!br.cfg.backend)
			logmsg(LOG_ERR, "--backend PATH is required");
		usage(stderr);
		return 2;
	}
	raise_nofile();
	/* Checked again at every connection; this only catches typos early. */
	if (stat(br.cfg.backend, &st) || !S_ISSOCK(st.st_mode))
		logmsg(LOG_WARNING, "warning: %s is not a socket (yet): devices cannot connect until the back-end listens there",
		       br.cfg.backend);

	/* Signals stay blocked except while waiting for the kernel, so a
	 * SIGTERM cannot slip in between the stop check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = attach(&br, &ch, (uint32_t)tags);
	if (ret < 0) {
		logmsg(LOG_ERR, "cannot attach to /dev/" VUB_CTRL_DEVICE_NAME ": %s%s", strerror(-ret),
		       ret == -EBUSY ? " (another daemon is attached)" :
		       ret == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return 1;
	}
	logmsg(LOG_INFO, "attached: API version %u, %lu tags, back-end %s", ch.version, tags,
	       br.cfg.backend);
	nl = vub_nl_open();
	if (nl) {
		br.cfg.backend_state = dev_backend_state;
		br.cfg.backend_state_opaque = nl;
	} else {
		logmsg(LOG_WARNING, "no netlink family " VUB_GENL_NAME ": back-end states are not reported");
	}
	/* systemd Type=notify (vhost-user-bridged.service): serving from now on. */
	ret = vub_notifyf("READY=1\nSTATUS=attached, back-end %s", br.cfg.backend);
	if (ret < 0)
		logmsg(LOG_WARNING, "cannot notify systemd ($NOTIFY_SOCKET): %s", strerror(-ret));

	br.rarp_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_RARP));
	if (br.rarp_fd < 0)
		logmsg(LOG_WARNING, "no AF_PACKET socket for RARP (%s): the VMMs' self-announces after a migration are not forwarded to the back-ends",
		       strerror(errno));
	br.cfg.iotlb_msg = dev_iotlb_msg;
	br.cfg.iotlb_msg_opaque = &br;
	br.ch = &ch;
	ch.dispatch = dispatch;
	ch.dispatch_ctx = &br;
	ret = serve(&br, &waitmask);
	vub_notify_stopping();
	vub_chan_close(&ch);
	/*
	 * With the fd store, the devices stay there for the next daemon: no
	 * word to their back-ends (a NIC's pairs would stop their rings), and
	 * the connections the store holds stay up; only this process's copies
	 * of the descriptors go, at exit.
	 */
	for (i = 0; i < br.nr_devs; i++) {
		if (!br.store)
			vub_dev_release(br.devs[i]);
		if (br.devs[i]->state_fd >= 0)
			close(br.devs[i]->state_fd);
		free(br.devs[i]);
	}
	if (br.store)
		io_uring_queue_exit(&br.store_ring);
	free(br.devs);
	while (br.backends) {
		struct backend *b = br.backends;

		br.backends = b->next;
		free(b);
	}
	vub_nl_close(nl);
	if (br.rarp_fd >= 0)
		close(br.rarp_fd);
	if (ret == -ECANCELED) {
		logmsg(LOG_ERR, "detached by the kernel");
		return 1;
	}
	if (ret < 0) {
		logmsg(LOG_ERR, "channel error: %s", strerror(-ret));
		return 1;
	}
	logmsg(LOG_INFO, "stopped by signal, detached");
	return 0;
}
