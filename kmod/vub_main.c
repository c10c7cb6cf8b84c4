// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: /dev/vhost-user-bridge, a vhost-kernel device whose
 * ioctls are served by a vhost-user back-end through the bridge daemon.
 *
 * Every open is a new device, as with /dev/vhost-net.  Each supported ioctl
 * is copied in the VMM's context (argument bytes, and the files behind any
 * file descriptors it names), forwarded to the daemon, and answered with the
 * daemon's result.  Ioctls of one device are serialised, as vhost's are.
 *
 * Administrators add instances: nodes /dev/vhost-user-bridge-NAME bound to a
 * back-end socket; the daemon learns a device's instance from VUB_OP_OPEN.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/eventfd.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/if_tap.h>
#include <linux/if_tun.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/xarray.h>
#include <net/sock.h>

#include "vub.h"

static unsigned int req_timeout_ms = 30000;

static int vub_set_timeout(const char *val, const struct kernel_param *kp)
{
	unsigned int ms;
	int ret = kstrtouint(val, 0, &ms);

	if (ret)
		return ret;
	if (ms < 1 || ms > 3600 * MSEC_PER_SEC)
		return -ERANGE;
	WRITE_ONCE(req_timeout_ms, ms);
	return 0;
}

static const struct kernel_param_ops vub_timeout_ops = {
	.set	= vub_set_timeout,
	.get	= param_get_uint,
};
module_param_cb(req_timeout_ms, &vub_timeout_ops, &req_timeout_ms, 0644);
MODULE_PARM_DESC(req_timeout_ms,
		 "How long a VMM ioctl waits for the bridge daemon, in ms (1..3600000, default 30000); past it the ioctl fails with ETIMEDOUT and the device is marked broken");

static unsigned int recovery_ms;
module_param(recovery_ms, uint, 0644);
MODULE_PARM_DESC(recovery_ms,
		 "How long a VMM ioctl waits for a bridge daemon to attach when none is, in ms (default 0: fail at once with ENOTCONN); for daemon restarts");

static ushort max_mem_regions = 64;
module_param(max_mem_regions, ushort, 0444);
MODULE_PARM_DESC(max_mem_regions,
		 "Maximum number of memory regions in VHOST_SET_MEM_TABLE, as vhost's parameter (default 64, at most 512)");

static unsigned int max_devices_per_user = 4096;
module_param(max_devices_per_user, uint, 0644);
MODULE_PARM_DESC(max_devices_per_user,
		 "Most devices one user (the opener's uid) may have open, on all nodes (default 4096, 0: no limit); an open beyond it fails with EMFILE");

/* Open devices by the opener's uid (in the initial namespace): xa_mk_value(n). */
static DEFINE_XARRAY(vub_user_devs);
static DEFINE_MUTEX(vub_user_mutex);	/* serialises changes of the counts */

/*
 * Count a device against the user who opens @file: -EMFILE beyond
 * max_devices_per_user, as inotify refuses a user's instance beyond its
 * limit.  Each device may cost a back-end connection and a request in the
 * daemon's queue.
 */
static int vub_user_charge(struct file *file)
{
	unsigned int max = READ_ONCE(max_devices_per_user);
	uid_t uid = from_kuid(&init_user_ns, file->f_cred->uid);
	unsigned long n;
	int ret;

	mutex_lock(&vub_user_mutex);
	n = xa_to_value(xa_load(&vub_user_devs, uid) ?: xa_mk_value(0));
	ret = -EMFILE;
	if (max && n >= max)
		goto out_unlock;
	ret = xa_err(xa_store(&vub_user_devs, uid, xa_mk_value(n + 1),
			      GFP_KERNEL_ACCOUNT));
out_unlock:
	mutex_unlock(&vub_user_mutex);
	if (ret == -EMFILE)
		pr_warn_ratelimited("%s[%d]: uid %u has %lu devices open (max_devices_per_user): EMFILE\n",
				    current->comm, task_tgid_nr(current), uid, n);
	return ret;
}

static void vub_user_uncharge(struct file *file)
{
	uid_t uid = from_kuid(&init_user_ns, file->f_cred->uid);
	unsigned long n;

	mutex_lock(&vub_user_mutex);
	n = xa_to_value(xa_load(&vub_user_devs, uid));
	if (n > 1)
		xa_store(&vub_user_devs, uid, xa_mk_value(n - 1), GFP_KERNEL);
	else
		xa_erase(&vub_user_devs, uid);
	mutex_unlock(&vub_user_mutex);
}

/* vhost-net's virtqueues: rx and tx. */
#define VUB_NET_NVQS	2

DEFINE_XARRAY_ALLOC1(vub_devs);
static u32 vub_next_id;
static struct kmem_cache *vub_dev_cache;

DEFINE_XARRAY_ALLOC1(vub_instances);
DEFINE_MUTEX(vub_inst_mutex);	/* serialises instance changes */

/* Where an ioctl argument names a file descriptor, and of what kind. */
enum vub_fd_kind {
	VUB_FD_NONE,
	VUB_FD_EVENTFD,		/* must be an eventfd, or VHOST_FILE_UNBIND */
	VUB_FD_SOCKET,		/* a tap, macvtap or packet socket, or -1 */
};

/* How vhost-net checks an ioctl before acting on it. */
enum vub_check {
	VUB_ANYONE,	/* no owner needed (the feature ioctls) */
	VUB_OWNER,	/* only the owner's mm: EPERM otherwise */
	VUB_VRING,	/* owner, and a vring index below VUB_NET_NVQS */
};

struct vub_ioctl_desc {
	unsigned int	cmd;
	u16		in_len;		/* bytes copied from the VMM */
	u16		out_len;	/* bytes returned to the VMM */
	u8		check;		/* enum vub_check */
	u8		fd_kind;	/* enum vub_fd_kind */
	u8		fd_offset;	/* offset of the fd within the argument */
};

#define VUB_IOCTL(_cmd, _check, _in, _out)				\
	{ .cmd = _cmd, .check = _check, .in_len = _in, .out_len = _out }
#define VUB_IOCTL_VRING(_cmd, _out)					\
	VUB_IOCTL(_cmd, VUB_VRING, sizeof(struct vhost_vring_state), _out)
#define VUB_IOCTL_FD(_cmd, _kind)					\
	{ .cmd = _cmd, .check = VUB_VRING,				\
	  .in_len = sizeof(struct vhost_vring_file), .fd_kind = _kind,	\
	  .fd_offset = offsetof(struct vhost_vring_file, fd) }

/*
 * The generic vhost ioctls and vhost-net's SET_BACKEND.  Directions come from
 * vhost's semantics, not _IOC_DIR: several GET ioctls are encoded _IOW.
 * VHOST_SET_MEM_TABLE has a variable length and is handled apart.
 */
static const struct vub_ioctl_desc vub_ioctls[] = {
	VUB_IOCTL(VHOST_GET_FEATURES, VUB_ANYONE, 0, sizeof(u64)),
	VUB_IOCTL(VHOST_SET_FEATURES, VUB_ANYONE, sizeof(u64), 0),
	VUB_IOCTL(VHOST_SET_OWNER, VUB_ANYONE, 0, 0),
	VUB_IOCTL(VHOST_RESET_OWNER, VUB_OWNER, 0, 0),
	VUB_IOCTL(VHOST_SET_MEM_TABLE, VUB_OWNER, sizeof(struct vhost_memory),
		  0),
	VUB_IOCTL(VHOST_SET_LOG_BASE, VUB_OWNER, sizeof(u64), 0),
	{ .cmd = VHOST_SET_LOG_FD, .check = VUB_OWNER, .in_len = sizeof(int),
	  .fd_kind = VUB_FD_EVENTFD, .fd_offset = 0 },
	VUB_IOCTL_VRING(VHOST_SET_VRING_NUM, 0),
	VUB_IOCTL(VHOST_SET_VRING_ADDR, VUB_VRING,
		  sizeof(struct vhost_vring_addr), 0),
	VUB_IOCTL_VRING(VHOST_SET_VRING_BASE, 0),
	VUB_IOCTL_VRING(VHOST_GET_VRING_BASE, sizeof(struct vhost_vring_state)),
	VUB_IOCTL_VRING(VHOST_SET_VRING_ENDIAN, 0),
	VUB_IOCTL_VRING(VHOST_GET_VRING_ENDIAN,
			sizeof(struct vhost_vring_state)),
	VUB_IOCTL_FD(VHOST_SET_VRING_KICK, VUB_FD_EVENTFD),
	VUB_IOCTL_FD(VHOST_SET_VRING_CALL, VUB_FD_EVENTFD),
	VUB_IOCTL_FD(VHOST_SET_VRING_ERR, VUB_FD_EVENTFD),
	VUB_IOCTL_VRING(VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 0),
	VUB_IOCTL_VRING(VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
			sizeof(struct vhost_vring_state)),
	VUB_IOCTL(VHOST_SET_BACKEND_FEATURES, VUB_ANYONE, sizeof(u64), 0),
	VUB_IOCTL(VHOST_GET_BACKEND_FEATURES, VUB_ANYONE, 0, sizeof(u64)),
	VUB_IOCTL_FD(VHOST_NET_SET_BACKEND, VUB_FD_SOCKET),
};

static const struct vub_ioctl_desc *vub_find_ioctl(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vub_ioctls); i++)
		if (vub_ioctls[i].cmd == cmd)
			return &vub_ioctls[i];
	return NULL;
}

/*
 * The argument length of @d.  For SET_MEM_TABLE, @mem receives the header,
 * checked as vhost checks it; it is the one forwarded.
 */
static int vub_arg_len(const struct vub_ioctl_desc *d, void __user *argp,
		       struct vhost_memory *mem)
{
	if (d->cmd != VHOST_SET_MEM_TABLE)
		return d->in_len;
	if (copy_from_user(mem, argp, sizeof(*mem)))
		return -EFAULT;
	if (mem->padding)
		return -EOPNOTSUPP;
	if (mem->nregions > max_mem_regions)
		return -E2BIG;
	return struct_size(mem, regions, mem->nregions);
}

/*
 * vhost-net's backend: a packet socket, a tap or a macvtap queue.  Nothing
 * else reaches the daemon (which closes what it gets: no file with a
 * ->flush of its own) or the back-end.
 */
static bool vub_backend_ok(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (sock)
		return sock->sk->sk_family == AF_PACKET &&
		       sock->sk->sk_type == SOCK_RAW;
	return !IS_ERR(tun_get_socket(file)) || !IS_ERR(tap_get_socket(file));
}

/* Take a reference on the file an fd argument names, checked as vhost does. */
static int vub_get_file(struct vub_request *req, const struct vub_ioctl_desc *d)
{
	struct file *file;
	int fd;

	memcpy(&fd, (u8 *)req->payload + d->fd_offset, sizeof(fd));
	if (fd == VHOST_FILE_UNBIND)
		return 0;
	if (d->fd_kind == VUB_FD_EVENTFD) {
		file = eventfd_fget(fd);
		if (IS_ERR(file))
			return PTR_ERR(file);
	} else {
		file = fget(fd);
		if (!file)
			return -ENOTSOCK;	/* vhost-net: even for a closed fd */
		if (!vub_backend_ok(file)) {
			fput(file);
			return -ENOTSOCK;
		}
	}
	req->files[req->nr_files++] = file;
	return 0;
}

/* A request about @dev: its device and instance ids filled in. */
static struct vub_request *vub_dev_request(struct vub_dev *dev, u16 op,
					   u32 payload_len)
{
	struct vub_request *req = vub_request_alloc(op, dev->id, payload_len);

	if (req)
		req->instance_id = dev->inst->id;
	return req;
}

static struct vub_request *vub_ioctl_request(struct vub_dev *dev,
					     const struct vub_ioctl_desc *d,
					     void __user *argp)
{
	struct vhost_memory mem;
	struct vub_request *req;
	int len, ret;

	len = vub_arg_len(d, argp, &mem);
	if (len < 0)
		return ERR_PTR(len);
	req = vub_dev_request(dev, VUB_OP_IOCTL, len);
	if (!req)
		return ERR_PTR(-ENOMEM);
	req->ioctl = d->cmd;
	req->reply_len = d->out_len;

	ret = -EFAULT;
	if (copy_from_user(req->payload, argp, len))
		goto err;
	ret = 0;
	/* The VMM may have changed the header since it was checked. */
	if (d->cmd == VHOST_SET_MEM_TABLE) {
		memcpy(req->payload, &mem, sizeof(mem));
		ret = vub_mem_resolve(req, dev->inst->mem_policy,
				      &dev->unsealed_logged);
	} else if (d->fd_kind != VUB_FD_NONE) {
		ret = vub_get_file(req, d);
	}
	if (ret)
		goto err;
	return req;
err:
	vub_request_put(req);
	return ERR_PTR(ret);
}

u32 vub_dev_state(const struct vub_dev *dev)
{
	if (READ_ONCE(dev->broken))
		return VUB_DEV_BROKEN;
	return READ_ONCE(dev->owner) ? VUB_DEV_OWNED : VUB_DEV_OPEN;
}

/*
 * Hand @req to the daemon and wait.  A timeout breaks the device, and so
 * does a fatal signal once the daemon holds the request: what it did with it
 * is unknown.  A daemon that holds a request learns about the device from it
 * (VUB_OP_OPEN included), so it gets VUB_OP_RELEASE at close.
 */
static int vub_roundtrip(struct vub_dev *dev, struct vub_request *req, u64 gen,
			 u64 *queued_gen)
{
	unsigned int ms = READ_ONCE(req_timeout_ms);
	ktime_t t0 = ktime_get();
	enum vub_wait_end end;
	int ret;

	ret = vub_chan_submit(req, gen, queued_gen);
	dev->no_daemon = ret == -ENOTCONN;
	if (ret)
		return ret;
	ret = vub_chan_wait(req, msecs_to_jiffies(ms), &end);
	if (end == VUB_WAIT_HELD)
		dev->seen = *queued_gen;
	if (req->op != VUB_OP_OPEN && end != VUB_WAIT_WITHDRAWN)
		dev->stateful = true;	/* the daemon saw the ioctl */
	/* (-ETIMEDOUT as the daemon's answer is only an errno for the VMM) */
	if (end == VUB_WAIT_HELD || (end == VUB_WAIT_WITHDRAWN && ret == -ETIMEDOUT)) {
		WRITE_ONCE(dev->broken, true);
		if (ret == -ETIMEDOUT)
			vub_chan_count_timeout();
		pr_warn_ratelimited("device %u: %s while the bridge daemon handled ioctl 0x%x of %s[%d] (timeout %u ms); device marked broken (EIO) until closed\n",
				    dev->id, ret == -EINTR ? "fatal signal" : "no answer in time",
				    req->ioctl, current->comm,
				    task_tgid_nr(current), ms);
	} else if (!ret) {
		u64 us = ktime_us_delta(ktime_get(), t0);
		unsigned int b = us ? ilog2(us) : 0;

		b = min_t(unsigned int, b, VUB_LATENCY_BUCKETS - 1);
		WRITE_ONCE(dev->latency[b], dev->latency[b] + 1);
	}
	return ret;
}

/* Tell the attached daemon about @dev (VUB_OP_OPEN) and wait for its yes. */
static int vub_announce(struct vub_dev *dev)
{
	struct vub_instance *inst = dev->inst;
	struct vub_open_info *oi;
	struct vub_request *req;
	u64 gen;
	int ret;

	req = vub_dev_request(dev, VUB_OP_OPEN, sizeof(*oi));
	if (!req)
		return -ENOMEM;
	oi = req->payload;
	memset(oi, 0, sizeof(*oi));
	oi->instance_id = inst->id;
	oi->type = inst->type;
	oi->owner_pid = dev->pid;
	strscpy(oi->name, inst->name, sizeof(oi->name));
	strscpy(oi->socket, inst->socket, sizeof(oi->socket));
	if (dev->stateful) {
		oi->flags = VUB_OPEN_F_STORED;
		req->need_recover = true;
	}
	ret = vub_roundtrip(dev, req, 0, &gen);
	if (!ret)
		dev->seen = gen;
	vub_request_put(req);
	return ret;
}

/*
 * @dev was served by a daemon that is gone and the attached one cannot
 * take it over: its vhost-user state is lost.  Adopting it with empty state
 * would answer its ioctls wrongly, so it fails loudly.
 */
static int vub_lost_state(struct vub_dev *dev, const char *why)
{
	WRITE_ONCE(dev->broken, true);
	pr_warn_ratelimited("device %u of %s[%d]: the bridge daemon that held its vhost-user state is gone (%s); the device fails with EIO until closed\n",
			    dev->id, current->comm, task_tgid_nr(current), why);
	return -EIO;
}

/*
 * Introduce @dev to the attached daemon.  One that a previous daemon served
 * is recoverable only through the fd store: its state slot must be filled
 * and the daemon must recover devices (VUB_ATTACH_F_RECOVER), and it must
 * say yes to VUB_OPEN_F_STORED.  A daemon that went away meanwhile is not
 * the device's fault.
 */
static int vub_reintroduce(struct vub_dev *dev)
{
	int ret;

	if (!dev->stateful)
		return vub_announce(dev);
	if (!vub_fd_has_state(dev))
		return vub_lost_state(dev, "nothing in the fd store");
	ret = vub_announce(dev);
	switch (ret) {
	case 0:
	case -ENOTCONN:
	case -ECONNRESET:
	case -EINTR:
	case -ETIMEDOUT:
		return ret;
	case -ENOPROTOOPT:
		return vub_lost_state(dev, "the new daemon does not recover devices");
	default:
		return vub_lost_state(dev, "the new daemon did not restore it");
	}
}

/*
 * Forward @req to the daemon that knows @dev, announcing the device first
 * to a daemon that does not.  Another daemon may attach in between; after a
 * few tries that is a connection reset.
 */
static long vub_forward(struct vub_dev *dev, struct vub_request *req)
{
	unsigned long deadline = jiffies +
		msecs_to_jiffies(min(READ_ONCE(recovery_ms), 3600U * MSEC_PER_SEC));
	int tries, ret = -ECONNRESET;
	u64 gen;

	if (dev->broken)
		return -EIO;
again:
	/*
	 * Within the recovery window, a daemon that is gone again by the
	 * time the request is handed over (restarting) is waited for again.
	 */
	ret = vub_chan_wait_attached(time_before(jiffies, deadline) ?
				     deadline - jiffies : 0);
	if (ret)
		return ret;
	ret = -ECONNRESET;
	for (tries = 0; tries < 3; tries++) {
		if (!dev->seen) {
			ret = vub_reintroduce(dev);
			if (ret)
				break;
		}
		ret = vub_roundtrip(dev, req, dev->seen, &gen);
		if (ret != -ESTALE)
			break;
		/*
		 * Another daemon: the device is introduced to it again, as
		 * one to recover from the fd store if the old daemon served
		 * its ioctls (vub_reintroduce()).
		 */
		dev->seen = 0;
		ret = -ECONNRESET;
	}
	if (ret == -ENOTCONN && dev->no_daemon && time_before(jiffies, deadline))
		goto again;
	if (ret == -ENOTCONN && dev->no_daemon)
		pr_warn_ratelimited("no bridge daemon attached: ioctl 0x%x of %s[%d] fails with ENOTCONN; start vhost-user-bridged\n",
				    req->ioctl, current->comm,
				    task_tgid_nr(current));
	return ret;
}

/* vhost-net's checks, in its order: owner (EBUSY, EPERM), then vring index. */
static int vub_check(struct vub_dev *dev, const struct vub_ioctl_desc *d,
		     u32 __user *argp)
{
	u32 idx;

	if (d->cmd == VHOST_SET_OWNER)
		return dev->owner ? -EBUSY : 0;
	if (d->check == VUB_ANYONE)
		return 0;
	if (dev->owner != current->mm)
		return -EPERM;
	if (d->check != VUB_VRING)
		return 0;
	if (get_user(idx, argp))
		return -EFAULT;
	if (idx >= VUB_NET_NVQS)
		return -ENOBUFS;
	/* vhost_vq_access_ok(): a ring is unusable before a memory table. */
	if (d->cmd == VHOST_NET_SET_BACKEND && !dev->have_mem)
		return -EFAULT;
	return 0;
}

/*
 * Give the back-end a log for the VMM's at @base, @size bytes of it: the
 * VMM's pinned here, in its context, and a shadow the back-end maps, sent as
 * VHOST_SET_LOG_BASE with the shadow's file (struct vub_log_info).  Once the
 * back-end has switched, the old log is folded one last time and let go.
 */
static int vub_log_send(struct vub_dev *dev, u64 base, u64 size)
{
	struct vub_log_info *li;
	struct vub_request *req;
	struct vub_log *log;
	struct file *file;
	int ret;

	log = vub_log_create(base, size);
	if (IS_ERR(log))
		return PTR_ERR(log);
	file = vub_log_file(log);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_log;
	}
	ret = -ENOMEM;
	req = vub_dev_request(dev, VUB_OP_IOCTL, sizeof(base));
	if (!req)
		goto out_fput;
	req->ioctl = VHOST_SET_LOG_BASE;
	memcpy(req->payload, &base, sizeof(base));
	li = kzalloc(sizeof(*li), GFP_KERNEL_ACCOUNT);
	if (!li)
		goto out_put;
	li->mmap_size = size;
	li->mmap_offset = 0;
	req->ext = li;
	req->ext_len = sizeof(*li);
	req->files[req->nr_files++] = file;
	file = NULL;	/* the request's now */
	ret = vub_forward(dev, req);
	if (ret)
		goto out_put;
	swap(dev->log, log);
	dev->log_base = base;
	dev->log_set = true;
out_put:
	vub_request_put(req);
out_fput:
	if (file)
		fput(file);
out_log:
	if (log)
		vub_log_put(log);
	return ret;
}

/*
 * VHOST_SET_LOG_BASE.  The log is sized by the memory table (vhost-kernel
 * passes no size); without one there is nothing to size it by, so the base
 * is kept and the log goes to the back-end with the first table that needs
 * it (vub_log_prepare()).
 */
static int vub_set_log_base(struct vub_dev *dev, void __user *argp)
{
	u64 base;

	if (copy_from_user(&base, argp, sizeof(base)))
		return -EFAULT;
	if (dev->log_need)
		return vub_log_send(dev, base, dev->log_need);
	if (dev->log)
		vub_log_put(dev->log);
	dev->log = NULL;
	dev->log_base = base;
	dev->log_set = true;
	return 0;
}

/*
 * Before @req goes out: when logging is on (VHOST_F_LOG_ALL, or a ring's
 * VHOST_VRING_F_LOG) and the memory needs more log than the back-end has,
 * it gets a larger log first, so that no write goes unlogged for want of
 * room (the back-end drops bits beyond its log).  The log is the owner's
 * memory: only the owner's calls pin it.
 */
static int vub_log_prepare(struct vub_dev *dev, struct vub_request *req)
{
	const struct vhost_vring_addr *a = req->payload;
	bool log_all = dev->features & BIT_ULL(VHOST_F_LOG_ALL);
	u64 need = dev->log_need, features;

	if (!dev->log_set || dev->owner != current->mm)
		return 0;
	switch (req->ioctl) {
	case VHOST_SET_MEM_TABLE:
		if (!log_all)
			return 0;
		need = vub_log_need(req->payload);
		break;
	case VHOST_SET_FEATURES:
		memcpy(&features, req->payload, sizeof(features));
		if (!(features & BIT_ULL(VHOST_F_LOG_ALL)))
			return 0;
		break;
	case VHOST_SET_VRING_ADDR:
		if (!(a->flags & BIT(VHOST_VRING_F_LOG)))
			return 0;
		break;
	default:
		return 0;
	}
	if (!need || (dev->log && need <= vub_log_size(dev->log)))
		return 0;
	return vub_log_send(dev, dev->log_base, need);
}

/* Forget the log (VHOST_RESET_OWNER, close). */
static void vub_log_drop(struct vub_dev *dev)
{
	if (dev->log)
		vub_log_put(dev->log);
	dev->log = NULL;
	dev->log_set = false;
	dev->log_base = 0;
	dev->log_need = 0;
}

/*
 * The daemon accepted @req: ownership follows, as in vhost, and so does the
 * state administrators see.
 */
static void vub_accepted(struct vub_dev *dev, const struct vub_request *req)
{
	const struct vhost_vring_file *f = req->payload;

	switch (req->ioctl) {
	case VHOST_SET_OWNER:
		mmgrab(current->mm);
		WRITE_ONCE(dev->owner, current->mm);
		WRITE_ONCE(dev->pid, task_tgid_nr(current));
		get_task_comm(dev->comm, current);
		break;
	case VHOST_RESET_OWNER:
		mmdrop(dev->owner);
		WRITE_ONCE(dev->owner, NULL);
		WRITE_ONCE(dev->mem_regions, 0);
		WRITE_ONCE(dev->rings, 0);
		dev->have_mem = true;	/* vhost: an empty table, not none */
		vub_log_drop(dev);
		vub_iotlb_reset(dev);
		break;
	case VHOST_SET_FEATURES:
		WRITE_ONCE(dev->features, *(u64 *)req->payload);
		/* As vhost: ACCESS_PLATFORM makes an IOTLB, nothing removes it. */
		if (dev->features & BIT_ULL(VIRTIO_F_ACCESS_PLATFORM))
			vub_iotlb_set(dev, true);
		break;
	case VHOST_SET_BACKEND_FEATURES:
		WRITE_ONCE(dev->msg_v2, *(u64 *)req->payload &
			   BIT_ULL(VHOST_BACKEND_F_IOTLB_MSG_V2));
		break;
	case VHOST_SET_MEM_TABLE:
		dev->have_mem = true;
		WRITE_ONCE(dev->mem_regions,
			   ((struct vhost_memory *)req->payload)->nregions);
		dev->log_need = vub_log_need(req->payload);
		break;
	case VHOST_NET_SET_BACKEND:
		WRITE_ONCE(dev->rings, f->fd == VHOST_FILE_UNBIND ?
			   dev->rings & ~BIT(f->index) :
			   dev->rings | BIT(f->index));
		break;
	}
}

/*
 * The errno a VMM sees.  Kernel-internal codes (ERESTARTSYS .. 530, above
 * EHWPOISON) must not reach userspace: the daemon's are refused when it
 * answers (vub_commit()), and nothing here produces one, but a path that
 * did would leak it.  The ERESTART* codes are for the signal code to turn
 * into EINTR or a restart and are fine while a signal is pending, as in
 * vhost-net; -ENOIOCTLCMD becomes ENOTTY in the syscall.  Anything else
 * is a bug: EIO.
 */
static long vub_errno(long ret)
{
	if (ret >= -EHWPOISON)
		return ret;
	switch (ret) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		if (signal_pending(current))
			return ret;
		break;
	case -ENOIOCTLCMD:
		return ret;
	}
	pr_warn_ratelimited("internal error %ld for %s[%d]; failing the ioctl with EIO\n",
			    ret, current->comm, task_tgid_nr(current));
	return -EIO;
}

static long vub_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vub_dev *dev = file->private_data;
	const struct vub_ioctl_desc *d = vub_find_ioctl(cmd);
	void __user *argp = (void __user *)arg;
	struct vub_request *req;
	long ret;

	if (!d)
		return -ENOTTY;
	/*
	 * Serialise before the argument is read, so that a SET_MEM_TABLE
	 * validated against max_mem_regions is the one that is sent.
	 */
	ret = mutex_lock_killable(&dev->mutex);
	if (ret)
		return ret;
	WRITE_ONCE(dev->ioctls, dev->ioctls + 1);
	ret = vub_check(dev, d, argp);
	if (ret)
		goto out_unlock;
	if (cmd == VHOST_SET_LOG_BASE) {
		ret = vub_set_log_base(dev, argp);
		goto out_unlock;
	}
	req = vub_ioctl_request(dev, d, argp);
	if (IS_ERR(req)) {
		ret = PTR_ERR(req);
		goto out_unlock;
	}
	/* The VMM may have changed the index since vub_check() read it. */
	if (d->check == VUB_VRING && *(u32 *)req->payload >= VUB_NET_NVQS)
		ret = -ENOBUFS;
	else
		ret = vub_log_prepare(dev, req);
	if (!ret)
		ret = vub_forward(dev, req);
	if (!ret)
		vub_accepted(dev, req);
	/*
	 * The back-end stopped a ring: whatever it logged is in the VMM's log
	 * when the ioctl returns (QEMU reads the log after GET_VRING_BASE).
	 */
	if (!ret && dev->log && (cmd == VHOST_GET_VRING_BASE ||
				 cmd == VHOST_NET_SET_BACKEND))
		vub_log_fold(dev->log);
	if (!ret && d->out_len && copy_to_user(argp, req->reply, d->out_len))
		ret = -EFAULT;
	vub_request_put(req);
out_unlock:
	if (ret)
		WRITE_ONCE(dev->errors, dev->errors + 1);
	mutex_unlock(&dev->mutex);
	return vub_errno(ret);
}

/*
 * The VMM's IOTLB message (vhost-net's write()): checked as vhost-net
 * checks it, then forwarded; the message's size, or -errno (EFAULT for
 * anything vhost-net would refuse but a malformed message, EINVAL).
 */
static ssize_t vub_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct vub_dev *dev = iocb->ki_filp->private_data;
	struct vhost_iotlb_msg msg;
	struct vub_request *req;
	size_t len;
	int ret;

	ret = vub_iotlb_parse(from, &msg, &len);
	if (ret)
		return ret;
	ret = mutex_lock_killable(&dev->mutex);
	if (ret)
		return ret;
	ret = vub_iotlb_check(dev, &msg);
	if (ret)
		goto out_unlock;
	ret = -ENOMEM;
	req = vub_dev_request(dev, VUB_OP_IOTLB_MSG, sizeof(msg));
	if (!req)
		goto out_unlock;
	memcpy(req->payload, &msg, sizeof(msg));
	ret = vub_forward(dev, req);
	vub_request_put(req);
out_unlock:
	mutex_unlock(&dev->mutex);
	return ret < 0 ? vub_errno(ret) : len;
}

static ssize_t vub_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;

	return vub_iotlb_read(file->private_data, to,
			      file->f_flags & O_NONBLOCK);
}

static __poll_t vub_poll(struct file *file, struct poll_table_struct *wait)
{
	return vub_iotlb_poll(file->private_data, file, wait);
}

static void vub_instance_free(struct kref *ref)
{
	kfree(container_of(ref, struct vub_instance, ref));
}

static void vub_instance_put(struct vub_instance *inst)
{
	if (inst != &vub_default_instance)
		kref_put(&inst->ref, vub_instance_free);
}

static int vub_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct vub_instance *inst = container_of(misc, struct vub_instance, misc);
	struct vub_dev *dev;
	int ret;

	ret = vub_user_charge(file);
	if (ret)
		return ret;
	ret = -ENOMEM;
	dev = kmem_cache_zalloc(vub_dev_cache, GFP_KERNEL_ACCOUNT);
	if (!dev)
		goto err_uncharge;
	mutex_init(&dev->mutex);
	vub_iotlb_init(dev);
	dev->pid = task_tgid_nr(current);
	get_task_comm(dev->comm, current);
	/*
	 * The node exists, so the registry still holds the instance.  The
	 * default instance lives as long as the module and is not counted.
	 */
	if (inst != &vub_default_instance)
		kref_get(&inst->ref);
	dev->inst = inst;
	ret = xa_alloc_cyclic(&vub_devs, &dev->id, dev, xa_limit_32b,
			      &vub_next_id, GFP_KERNEL);
	if (ret < 0)
		goto err_free;
	atomic_inc(&inst->nr_devices);
	file->private_data = dev;
	vub_genl_dev_event(VUB_CMD_EVT_DEVICE_OPENED, dev);
	return 0;

err_free:
	vub_instance_put(inst);
	kmem_cache_free(vub_dev_cache, dev);
err_uncharge:
	vub_user_uncharge(file);
	return ret;
}

static int vub_release(struct inode *inode, struct file *file)
{
	struct vub_dev *dev = file->private_data;
	struct vub_request *req;
	bool stored = vub_fd_has_state(dev);
	u64 gen;

	/*
	 * Tell the daemon that knows it, without waiting; a device with
	 * stored state may have been restored by whichever daemon is attached
	 * now, without a request since.
	 */
	if (dev->seen || stored) {
		req = vub_dev_request(dev, VUB_OP_RELEASE, 0);
		if (req) {
			vub_chan_submit(req, stored ? 0 : dev->seen, &gen);
			vub_request_put(req);
		}
	}
	vub_genl_dev_event(VUB_CMD_EVT_DEVICE_CLOSED, dev);
	if (dev->owner)
		mmdrop(dev->owner);
	vub_log_drop(dev);
	xa_erase(&vub_devs, dev->id);
	/* Not before: the daemon's messages find the device until now. */
	vub_iotlb_reset(dev);
	/* After the daemon was told: it closes its own copies. */
	vub_fd_release(dev);
	atomic_dec(&dev->inst->nr_devices);
	vub_instance_put(dev->inst);
	mutex_destroy(&dev->mutex);
	kmem_cache_free(vub_dev_cache, dev);
	vub_user_uncharge(file);
	return 0;
}

static const struct file_operations vub_fops = {
	.owner		= THIS_MODULE,
	.open		= vub_open,
	.release	= vub_release,
	.unlocked_ioctl	= vub_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.read_iter	= vub_read_iter,
	.write_iter	= vub_write_iter,
	.poll		= vub_poll,
	.llseek		= noop_llseek,
};

struct vub_instance vub_default_instance = {
	.type = VUB_TYPE_NET,
	.devname = VUB_VMM_DEVICE_NAME,
	.misc = {
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= VUB_VMM_DEVICE_NAME,
		.fops	= &vub_fops,
	},
};

/* Letters, digits, '_', '.', '-'; "control" is the daemon's node. */
static bool vub_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len >= VUB_NAME_MAX || !strcmp(name, "control"))
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum(name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

/* Under vub_inst_mutex. */
static struct vub_instance *vub_instance_find(const char *name)
{
	struct vub_instance *inst;
	unsigned long id;

	xa_for_each(&vub_instances, id, inst)
		if (!strcmp(inst->name, name))
			return inst;
	return NULL;
}

/**
 * vub_instance_add() - create /dev/vhost-user-bridge-@name bound to @socket
 * @name: the instance's name.
 * @socket: absolute path of the back-end's vhost-user socket.
 * @type: enum vub_instance_type.
 * @mem_policy: enum vub_mem_policy.
 *
 * Return: 0, -EINVAL for a bad name, socket, type or policy, -EEXIST, or
 * -errno.
 */
int vub_instance_add(const char *name, const char *socket, u32 type,
		     u32 mem_policy)
{
	struct vub_instance *inst;
	int ret;

	if (!vub_name_ok(name) || socket[0] != '/' ||
	    strlen(socket) >= VUB_SOCKET_MAX || type != VUB_TYPE_NET ||
	    mem_policy > VUB_MEM_MIRROR)
		return -EINVAL;
	inst = kzalloc(sizeof(*inst), GFP_KERNEL);
	if (!inst)
		return -ENOMEM;
	kref_init(&inst->ref);
	inst->type = type;
	inst->mem_policy = mem_policy;
	strscpy(inst->name, name, sizeof(inst->name));
	strscpy(inst->socket, socket, sizeof(inst->socket));
	snprintf(inst->devname, sizeof(inst->devname), "%s-%s",
		 VUB_VMM_DEVICE_NAME, name);
	inst->misc = (struct miscdevice) {
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= inst->devname,
		.fops	= &vub_fops,
	};

	mutex_lock(&vub_inst_mutex);
	ret = -EEXIST;
	if (vub_instance_find(name))
		goto err_unlock;
	ret = xa_alloc(&vub_instances, &inst->id, inst, xa_limit_32b,
		       GFP_KERNEL);
	if (ret)
		goto err_unlock;
	ret = misc_register(&inst->misc);
	if (ret)
		goto err_erase;
	mutex_unlock(&vub_inst_mutex);
	pr_info("instance %s (id %u): /dev/%s bound to %s\n", inst->name,
		inst->id, inst->devname, inst->socket);
	vub_genl_instance_event(VUB_CMD_EVT_INSTANCE_ADDED, inst);
	return 0;

err_erase:
	xa_erase(&vub_instances, inst->id);
err_unlock:
	mutex_unlock(&vub_inst_mutex);
	kfree(inst);
	return ret;
}

/**
 * vub_instance_del() - remove an instance's node
 * @name: the instance.
 * @force: also while devices are open; they keep working until closed.
 *
 * Return: 0, -ENOENT, -EBUSY while devices are open without @force.
 */
int vub_instance_del(const char *name, bool force)
{
	struct vub_instance *inst;

	mutex_lock(&vub_inst_mutex);
	inst = vub_instance_find(name);
	if (!inst) {
		mutex_unlock(&vub_inst_mutex);
		return -ENOENT;
	}
	if (!force && atomic_read(&inst->nr_devices)) {
		mutex_unlock(&vub_inst_mutex);
		return -EBUSY;
	}
	misc_deregister(&inst->misc);
	xa_erase(&vub_instances, inst->id);
	mutex_unlock(&vub_inst_mutex);
	pr_info("instance %s (id %u) removed, %d devices still open\n",
		inst->name, inst->id, atomic_read(&inst->nr_devices));
	vub_genl_instance_event(VUB_CMD_EVT_INSTANCE_REMOVED, inst);
	vub_instance_put(inst);
	return 0;
}

static void vub_instances_del_all(void)
{
	struct vub_instance *inst;
	unsigned long id;

	xa_for_each(&vub_instances, id, inst)
		vub_instance_del(inst->name, true);
}

static int __init vub_init(void)
{
	int ret;

	if (max_mem_regions > VUB_MAX_MEM_REGIONS) {
		pr_err("max_mem_regions=%u is above the limit of %u\n",
		       max_mem_regions, VUB_MAX_MEM_REGIONS);
		return -EINVAL;
	}
	/* The largest request must fit in a daemon's FETCH buffer. */
	BUILD_BUG_ON(sizeof(struct vub_req) + sizeof(struct vhost_memory) +
		     VUB_MAX_MEM_REGIONS * sizeof(struct vhost_memory_region) +
		     VUB_MAX_MEM_PIECES * (sizeof(struct vub_mem_piece) +
					   sizeof(int)) + 16 > VUB_REQ_BUF_MIN);

	vub_dev_cache = kmem_cache_create("vub_dev", sizeof(struct vub_dev), 0,
					  SLAB_ACCOUNT, NULL);
	if (!vub_dev_cache)
		return -ENOMEM;
	ret = vub_mirror_init();
	if (ret)
		goto err_cache;
	ret = vub_chan_init();
	if (ret)
		goto err_mirror;
	ret = misc_register(&vub_default_instance.misc);
	if (ret)
		goto err_chan;
	ret = vub_genl_init();
	if (ret)
		goto err_misc;
	return 0;

err_misc:
	misc_deregister(&vub_default_instance.misc);
err_chan:
	vub_chan_exit();
err_mirror:
	vub_mirror_exit();
err_cache:
	kmem_cache_destroy(vub_dev_cache);
	return ret;
}

static void __exit vub_exit(void)
{
	vub_genl_exit();
	vub_instances_del_all();
	misc_deregister(&vub_default_instance.misc);
	vub_chan_exit();
	vub_mirror_exit();
	kmem_cache_destroy(vub_dev_cache);
}

module_init(vub_init);
module_exit(vub_exit);
MODULE_DESCRIPTION("vhost-kernel device served by a vhost-user back-end through a daemon");
MODULE_LICENSE("GPL");
