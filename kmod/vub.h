/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-user-bridge: internal interfaces between the VMM device (vub_main.c)
 * and the daemon channel (vub_chan.c).
 */
#ifndef _VUB_H
#define _VUB_H

#include <linux/completion.h>
#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/vhost_user_bridge.h>

/*
 * Upper bound of the max_mem_regions parameter: a SET_MEM_TABLE must fit in
 * a FETCH buffer with its VUB_MAX_MEM_PIECES pieces and one fd per piece
 * (checked in vub_init()).
 */
#define VUB_MAX_MEM_REGIONS	512

/* Payloads up to this size live inside the request itself. */
#define VUB_INLINE_PAYLOAD	40

/**
 * struct vub_request - one VMM operation on its way to the daemon and back
 * @node: on the bridge's queue while no FETCH slot is free.
 * @ref: one for the issuer, one for the channel while it is queued or
 *	owned by a slot.
 * @done: completed, under vub_lock, when @result (and @reply) are final.
 * @seq: number the daemon echoes in its COMMIT.
 * @op: enum vub_op.
 * @dev_id: the device it concerns.
 * @ioctl: the VMM's ioctl command.
 * @vmm_pid: thread group of the issuer, initial pid namespace.
 * @payload_len: bytes at @payload.
 * @reply_len: bytes the daemon must return on success.
 * @result: 0 or -errno for the VMM.
 * @nr_files: entries of @files.
 * @files: files (referenced) to install in the daemon, in payload order.
 * @payload: the ioctl argument as the VMM passed it.
 * @ext: data the kernel adds (struct vub_mem_piece[] for SET_MEM_TABLE).
 * @ext_len: bytes at @ext.
 * @reply: the daemon's answer.
 * @inline_payload: storage for small payloads.
 * @inline_file: storage for one file.
 */
struct vub_request {
	struct list_head	node;
	refcount_t		ref;
	struct completion	done;
	u64			seq;
	u16			op;
	u32			dev_id;
	u32			ioctl;
	u32			vmm_pid;
	u32			payload_len;
	u32			reply_len;
	int			result;
	unsigned int		nr_files;
	struct file		**files;
	void			*payload;
	void			*ext;
	u32			ext_len;
	/* Copied to and from userspace: keep together, see vub_chan_init(). */
	u8			reply[VUB_REPLY_MAX];
	u8			inline_payload[VUB_INLINE_PAYLOAD];
	struct file		*inline_file;
};

struct vub_request *vub_request_alloc(u16 op, u32 dev_id, u32 payload_len);
void vub_request_put(struct vub_request *req);

/*
 * Hand @req to the attached daemon.  Returns 0 once it is queued (the channel
 * then holds its own reference) or -ENOTCONN when no daemon is attached.
 */
int vub_chan_submit(struct vub_request *req);

/*
 * Wait for the daemon's answer, killably and at most @timeout jiffies.
 * Returns the daemon's result, -ETIMEDOUT, -EINTR on a fatal signal or
 * -ECONNRESET when the daemon went away.
 */
int vub_chan_wait(struct vub_request *req, unsigned long timeout);

int vub_mem_resolve(struct vub_request *req);

int vub_chan_init(void);
void vub_chan_exit(void);

#endif /* _VUB_H */
