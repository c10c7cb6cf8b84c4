// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: vhost-net's IOTLB message channel on the VMM's device.
 *
 * A VMM with a vIOMMU (VIRTIO_F_ACCESS_PLATFORM) writes struct vhost_msg or
 * struct vhost_msg_v2 to the device: UPDATE and INVALIDATE, checked here as
 * vhost-net checks them and forwarded to the daemon (VUB_OP_IOTLB_MSG),
 * which sends them to the back-end as VHOST_USER_IOTLB_MSG.  The back-end's
 * misses come back from the daemon (VUB_U_CMD_DEV_MSG) and are queued here
 * for the VMM to read; the device polls readable while one is queued.
 * vhost-net keeps the translations itself; here the back-end does.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/vhost.h>

#include "vub.h"

/* A message for the VMM, in the form it reads it. */
struct vub_msg_node {
	struct list_head	node;
	union {
		struct vhost_msg	msg;
		struct vhost_msg_v2	msg_v2;
	};
};

void vub_iotlb_init(struct vub_dev *dev)
{
	spin_lock_init(&dev->msg_lock);
	INIT_LIST_HEAD(&dev->msgs);
	init_waitqueue_head(&dev->msg_wait);
}

void vub_iotlb_set(struct vub_dev *dev, bool on)
{
	spin_lock(&dev->msg_lock);
	WRITE_ONCE(dev->iotlb, on);
	spin_unlock(&dev->msg_lock);
}

void vub_iotlb_reset(struct vub_dev *dev)
{
	struct vub_msg_node *n, *tmp;
	LIST_HEAD(drop);

	spin_lock(&dev->msg_lock);
	WRITE_ONCE(dev->iotlb, false);
	list_splice_init(&dev->msgs, &drop);
	dev->nr_msgs = 0;
	spin_unlock(&dev->msg_lock);
	WRITE_ONCE(dev->msg_v2, false);
	list_for_each_entry_safe(n, tmp, &drop, node)
		kfree(n);
	/* Blocked readers see no IOTLB: EBADFD, as in vhost_dev_cleanup(). */
	wake_up_interruptible_poll(&dev->msg_wait, EPOLLIN | EPOLLRDNORM);
}

/**
 * vub_dev_msg() - queue the back-end's message for a device's VMM
 * @m: the daemon's VUB_U_CMD_DEV_MSG, not checked yet.
 *
 * Return: 0, or -EINVAL, -ENOENT, -EBADFD, -ENOSPC, -ENOMEM (see struct
 * vub_dev_msg).
 */
int vub_dev_msg(const struct vub_dev_msg *m)
{
	struct vub_msg_node *n;
	struct vhost_iotlb_msg *im;
	struct vub_dev *dev;
	int ret;

	if (m->flags || memchr_inv(m->pad, 0, sizeof(m->pad)) ||
	    memchr_inv(m->reserved, 0, sizeof(m->reserved)))
		return -EINVAL;
	if (m->type != VUB_DEV_MSG_IOTLB_MISS &&
	    m->type != VUB_DEV_MSG_IOTLB_ACCESS_FAIL)
		return -EINVAL;
	if (!m->perm || (m->perm & ~VHOST_ACCESS_RW))
		return -EINVAL;
	n = kzalloc(sizeof(*n), GFP_KERNEL_ACCOUNT);
	if (!n)
		return -ENOMEM;

	/* The xa_lock keeps the device from being freed (vub_release()). */
	xa_lock(&vub_devs);
	dev = xa_load(&vub_devs, m->dev_id);
	ret = -ENOENT;
	if (!dev)
		goto out_unlock;
	spin_lock(&dev->msg_lock);
	if (!dev->iotlb)
		ret = -EBADFD;
	else if (dev->nr_msgs >= VUB_DEV_MSG_MAX)
		ret = -ENOSPC;
	else
		ret = 0;
	if (!ret) {
		/* As vhost_iotlb_miss(): the format the VMM chose by now. */
		if (READ_ONCE(dev->msg_v2)) {
			n->msg_v2.type = VHOST_IOTLB_MSG_V2;
			im = &n->msg_v2.iotlb;
		} else {
			n->msg.type = VHOST_IOTLB_MSG;
			im = &n->msg.iotlb;
		}
		im->type = m->type == VUB_DEV_MSG_IOTLB_MISS ?
			   VHOST_IOTLB_MISS : VHOST_IOTLB_ACCESS_FAIL;
		im->iova = m->iova;
		im->perm = m->perm;
		list_add_tail(&n->node, &dev->msgs);
		dev->nr_msgs++;
		n = NULL;
		wake_up_interruptible_poll(&dev->msg_wait, EPOLLIN | EPOLLRDNORM);
	}
	spin_unlock(&dev->msg_lock);
out_unlock:
	xa_unlock(&vub_devs);
	kfree(n);
	return ret;
}

static struct vub_msg_node *vub_msg_dequeue(struct vub_dev *dev)
{
	struct vub_msg_node *n;

	spin_lock(&dev->msg_lock);
	n = list_first_entry_or_null(&dev->msgs, struct vub_msg_node, node);
	if (n) {
		list_del(&n->node);
		dev->nr_msgs--;
	}
	spin_unlock(&dev->msg_lock);
	return n;
}

static bool vub_msg_ready(struct vub_dev *dev)
{
	bool ready;

	spin_lock(&dev->msg_lock);
	ready = !list_empty(&dev->msgs) || !dev->iotlb;
	spin_unlock(&dev->msg_lock);
	return ready;
}

/*
 * As vhost_chr_read_iter(): one message per read, none for a buffer smaller
 * than struct vhost_msg (0); without one, EAGAIN (O_NONBLOCK), EBADFD
 * without IOTLB, or a wait for one.
 */
ssize_t vub_iotlb_read(struct vub_dev *dev, struct iov_iter *to, bool noblock)
{
	struct vub_msg_node *n;
	size_t size;
	ssize_t ret;

	BUILD_BUG_ON(sizeof(struct vhost_msg) != sizeof(struct vhost_msg_v2));
	if (iov_iter_count(to) < sizeof(struct vhost_msg))
		return 0;
	for (;;) {
		n = vub_msg_dequeue(dev);
		if (n)
			break;
		if (noblock)
			return -EAGAIN;
		if (!READ_ONCE(dev->iotlb))
			return -EBADFD;
		ret = wait_event_interruptible(dev->msg_wait,
					       vub_msg_ready(dev));
		if (ret)
			return ret;
	}
	size = n->msg.type == VHOST_IOTLB_MSG ? sizeof(n->msg) :
						sizeof(n->msg_v2);
	ret = copy_to_iter(&n->msg, size, to);
	kfree(n);
	/* vhost-net also returns a short copy as it is (the message is gone). */
	return ret ? ret : -EFAULT;
}

__poll_t vub_iotlb_poll(struct vub_dev *dev, struct file *file,
			struct poll_table_struct *wait)
{
	__poll_t mask = 0;

	poll_wait(file, &dev->msg_wait, wait);
	spin_lock(&dev->msg_lock);
	if (!list_empty(&dev->msgs))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&dev->msg_lock);
	return mask;
}

/*
 * As vhost_chr_write_iter(): a struct vhost_msg (its iotlb after the
 * padding) or struct vhost_msg_v2 (asid ignored: vhost-net does not offer
 * VHOST_BACKEND_F_IOTLB_ASID); a short message or another type is EINVAL,
 * and so is an UPDATE of size 0.
 */
int vub_iotlb_parse(struct iov_iter *from, struct vhost_iotlb_msg *msg,
		    size_t *len)
{
	size_t offset;
	u32 type;

	if (copy_from_iter(&type, sizeof(type), from) != sizeof(type))
		return -EINVAL;
	switch (type) {
	case VHOST_IOTLB_MSG:
		offset = offsetof(struct vhost_msg, iotlb) - sizeof(type);
		*len = sizeof(struct vhost_msg);
		break;
	case VHOST_IOTLB_MSG_V2:
		offset = offsetof(struct vhost_msg_v2, iotlb) - sizeof(type);
		*len = sizeof(struct vhost_msg_v2);
		break;
	default:
		return -EINVAL;
	}
	iov_iter_advance(from, offset);
	if (copy_from_iter(msg, sizeof(*msg), from) != sizeof(*msg))
		return -EINVAL;
	if (msg->type == VHOST_IOTLB_UPDATE && !msg->size)
		return -EINVAL;
	return 0;
}

/*
 * vhost_process_iotlb_msg()'s checks, under the device's mutex.  Every
 * failure is EFAULT there: no IOTLB yet (VIRTIO_F_ACCESS_PLATFORM never
 * accepted), a type the VMM may not write, an UPDATE whose user range
 * wraps or is not user memory of the writer (access_ok(), for any access
 * bit), or whose iova range wraps.  An INVALIDATE whose range wraps removes
 * nothing there (but the range [0, 2^64) of size 0 and iova 0): accepted,
 * and not forwarded.  Access bits beyond VHOST_ACCESS_RW mean nothing to
 * vhost and are not forwarded; the padding is cleared.
 */
int vub_iotlb_check(struct vub_dev *dev, struct vhost_iotlb_msg *msg)
{
	struct vhost_iotlb_msg m = {
		.iova	= msg->iova,
		.size	= msg->size,
		.uaddr	= msg->uaddr,
		.perm	= msg->perm & VHOST_ACCESS_RW,
		.type	= msg->type,
	};

	if (!dev->iotlb)
		return -EFAULT;
	switch (m.type) {
	case VHOST_IOTLB_UPDATE:
		if (m.uaddr > U64_MAX - m.size)
			return -EFAULT;
		if (m.perm && !access_ok((void __user *)(unsigned long)m.uaddr,
					 m.size))
			return -EFAULT;
		if (m.iova + m.size - 1 < m.iova)
			return -EFAULT;
		break;
	case VHOST_IOTLB_INVALIDATE:
		if (m.iova + m.size - 1 < m.iova)
			return 1;
		m.uaddr = 0;
		m.perm = 0;
		break;
	default:
		return -EFAULT;
	}
	*msg = m;
	return 0;
}
