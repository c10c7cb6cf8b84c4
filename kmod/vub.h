/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-user-bridge: internal interfaces between the VMM device (vub_main.c)
 * and the daemon channel (vub_chan.c).
 */
#ifndef _VUB_H
#define _VUB_H

#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>
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
 * @node: on its process's queue while no FETCH slot is free.
 * @ref: one for the issuer, one for the channel while it is queued or
 *	owned by a slot.
 * @done: completed, under vub_lock, when @result (and @reply) are final.
 * @seq: number the daemon echoes in its COMMIT.
 * @op: enum vub_op.
 * @dev_id: the device it concerns.
 * @instance_id: the instance of that device (0: the default node).
 * @ioctl: the VMM's ioctl command.
 * @vmm_pid: thread group of the issuer, initial pid namespace.
 * @payload_len: bytes at @payload.
 * @reply_len: bytes the daemon must return on success.
 * @need_recover: only for a daemon that attached with VUB_ATTACH_F_RECOVER.
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
	u32			instance_id;
	u32			ioctl;
	u32			vmm_pid;
	u32			payload_len;
	u32			reply_len;
	bool			need_recover;
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

/**
 * struct vub_instance - a device node bound to a back-end socket
 * @ref: one for the registry, one per open device (the default node's
 *	instance is static and not counted).
 * @id: 0 for the default node, else allocated at creation.
 * @type: enum vub_instance_type.
 * @mem_policy: enum vub_mem_policy.
 * @nr_devices: open devices.
 * @name: "" for the default node.
 * @socket: "" for the default node (the daemon's own back-end).
 * @devname: the misc device's name.
 * @misc: /dev/vhost-user-bridge[-NAME].
 */
struct vub_instance {
	struct kref		ref;
	u32			id;
	u32			type;
	u32			mem_policy;
	atomic_t		nr_devices;
	char			name[VUB_NAME_MAX];
	char			socket[VUB_SOCKET_MAX];
	char			devname[sizeof(VUB_VMM_DEVICE_NAME) + VUB_NAME_MAX];
	struct miscdevice	misc;
};

/**
 * struct vub_dev - one open of a VMM node
 * @id: the device id the daemon sees.
 * @mutex: serialises the device's ioctls; the fields below are written
 *	under it and read without it by the administration API.
 * @inst: the instance whose node was opened (referenced).
 * @owner: the mm of the process that did VHOST_SET_OWNER (grabbed), as
 *	vhost's dev->mm: only it may configure the device.
 * @seen: generation of the bridge daemon that was told about the device
 *	(VUB_OP_OPEN), 0 if none.
 * @stateful: that daemon got one of its ioctls: it holds vhost-user state
 *	for it, which a daemon attached later has only if it was left in the
 *	fd store (@stash).
 * @broken: the daemon failed to answer in time, or the one that held its
 *	state is gone; every further ioctl fails with EIO.
 * @no_daemon: the last request found no daemon attached (its ENOTCONN is
 *	not a daemon's answer); under @mutex.
 * @have_mem: a memory table was accepted (or reset to an empty one).
 * @unsealed_logged: a memory file that cannot be sealed was logged.
 * @pid: the opener, then the owner.
 * @comm: its command name.
 * @features: last VHOST_SET_FEATURES the daemon accepted.
 * @mem_regions: regions of the last memory table the daemon accepted.
 * @rings: rings with a back-end attached (VHOST_NET_SET_BACKEND).
 * @backend_state: enum vub_backend_state, as the daemon reports it.
 * @backend_features: features negotiated with the back-end, as reported.
 * @offloads_missing: offloads the guest may use that the back-end lacks.
 * @backend_reconnects: reconnects to the back-end, as reported.
 * @ioctls: ioctls issued.
 * @errors: ioctls that failed.
 * @latency: round trips through the daemon, by log2 of microseconds.
 * @stash: the fd store's VUB_FD_STORE_SLOTS slots (referenced files), or
 *	NULL before the first STORE; under the xa_lock of vub_devs.
 * @log_base: the VMM's dirty log (VHOST_SET_LOG_BASE), valid if @log_set.
 * @log_set: a log base was accepted (and not reset since).
 * @log_need: bytes of log the memory table in force needs (vub_log_need()).
 * @log: the log the back-end has (vub_log_create(), the device's reference),
 *	or NULL (no log sent yet: no memory table, or none since RESET_OWNER).
 * @iotlb: VIRTIO_F_ACCESS_PLATFORM was accepted (as vhost's dev->iotlb: set
 *	by SET_FEATURES with it, cleared by RESET_OWNER); written under
 *	@mutex and @msg_lock.
 * @msg_v2: VHOST_BACKEND_F_IOTLB_MSG_V2 was accepted: messages the VMM
 *	reads are struct vhost_msg_v2, else struct vhost_msg.
 * @msg_lock: protects @msgs and @nr_msgs.
 * @msgs: messages from the back-end the VMM has not read
 *	(struct vub_msg_node), oldest first.
 * @nr_msgs: their number, at most VUB_DEV_MSG_MAX.
 * @msg_wait: readers and pollers of the device.
 */
struct vub_dev {
	u32			id;
	struct mutex		mutex;	/* see above */
	struct vub_instance	*inst;
	struct mm_struct	*owner;
	u64			seen;
	bool			stateful;
	bool			broken;
	bool			no_daemon;
	bool			have_mem;
	bool			unsealed_logged;
	pid_t			pid;
	char			comm[TASK_COMM_LEN];
	u64			features;
	u32			mem_regions;
	u32			rings;
	u32			backend_state;
	u64			backend_features;
	u64			offloads_missing;
	u32			backend_reconnects;
	u64			ioctls;
	u64			errors;
	u64			latency[VUB_LATENCY_BUCKETS];
	struct file		**stash;
	u64			log_base;
	bool			log_set;
	u64			log_need;
	struct vub_log		*log;
	bool			iotlb;
	bool			msg_v2;
	spinlock_t		msg_lock;	/* see above */
	struct list_head	msgs;
	unsigned int		nr_msgs;
	wait_queue_head_t	msg_wait;
};

/* All open devices, by id; readers of a device hold the xa_lock. */
extern struct xarray vub_devs;
/* All instances but the default one, by id; changed under vub_inst_mutex. */
extern struct xarray vub_instances;
extern struct mutex vub_inst_mutex;
extern struct vub_instance vub_default_instance;

int vub_instance_add(const char *name, const char *socket, u32 type,
		     u32 mem_policy);
int vub_instance_del(const char *name, bool force);
u32 vub_dev_state(const struct vub_dev *dev);

struct vub_request *vub_request_alloc(u16 op, u32 dev_id, u32 payload_len);
void vub_request_put(struct vub_request *req);

/*
 * Hand @req to the attached daemon, if its generation is @gen (0: any).
 * Returns 0 once it is queued (the channel then holds its own reference;
 * *@queued_gen tells to which daemon), -ENOTCONN when no daemon is attached,
 * -ESTALE when the attached one is not @gen, -ENOPROTOOPT when @req needs a
 * daemon that recovers devices and the attached one does not, -EAGAIN when
 * the process of @req->vmm_pid already has max_queued_per_process requests
 * waiting for a slot (never for a RELEASE), -ENOMEM.
 */
int vub_chan_submit(struct vub_request *req, u64 gen, u64 *queued_gen);

/* How a wait for the daemon's answer ended. */
enum vub_wait_end {
	VUB_WAIT_ANSWERED,	/* the daemon's result (or -ECONNRESET) */
	VUB_WAIT_WITHDRAWN,	/* given up while still queued: never seen */
	VUB_WAIT_HELD,		/* given up while the daemon held it */
};

/*
 * Wait for the daemon's answer, killably and at most @timeout jiffies.
 * Returns the daemon's result (which may be any errno, -ETIMEDOUT
 * included), -ECONNRESET when the daemon went away, or, when the wait gave
 * up (*@end is then not VUB_WAIT_ANSWERED), -ETIMEDOUT or -EINTR on a fatal
 * signal.
 */
int vub_chan_wait(struct vub_request *req, unsigned long timeout,
		  enum vub_wait_end *end);

/* The attached daemon and the channel's counters, for administrators. */
struct vub_bridge_info {
	bool	attached;
	pid_t	pid;
	char	comm[TASK_COMM_LEN];
	u32	tags;
	u32	inflight;
	u32	queued;
	u32	queued_procs;
	u64	requests;
	u64	timeouts;
	u64	refused;
};

void vub_chan_info(struct vub_bridge_info *info);
void vub_chan_count_timeout(void);
/*
 * Wait killably, at most @timeout jiffies, for a daemon to be attached:
 * 0 (attached or not), or -EINTR on a fatal signal.
 */
int vub_chan_wait_attached(unsigned long timeout);

int vub_mem_resolve(struct vub_request *req, u32 mem_policy,
		    bool *unsealed_logged);

/* Mirrors of memory that has no file to share (vub_mirror.c). */
struct file *vub_mirror_create(unsigned long start, unsigned long size);
int vub_mirror_init(void);
void vub_mirror_exit(void);

/* The dirty log (vub_log.c). */
struct vhost_memory;
struct vub_log;
u64 vub_log_need(const struct vhost_memory *mem);
struct vub_log *vub_log_create(u64 base, u64 size);
struct file *vub_log_file(struct vub_log *log);
void vub_log_fold(struct vub_log *log);
void vub_log_put(struct vub_log *log);
u64 vub_log_size(const struct vub_log *log);

/* The IOTLB message channel (vub_iotlb.c). */
struct iov_iter;
struct poll_table_struct;
struct vhost_iotlb_msg;
void vub_iotlb_init(struct vub_dev *dev);
/* RESET_OWNER, close: no IOTLB, unread messages dropped, readers woken. */
void vub_iotlb_reset(struct vub_dev *dev);
void vub_iotlb_set(struct vub_dev *dev, bool on);
int vub_dev_msg(const struct vub_dev_msg *m);
ssize_t vub_iotlb_read(struct vub_dev *dev, struct iov_iter *to, bool noblock);
__poll_t vub_iotlb_poll(struct vub_dev *dev, struct file *file,
			struct poll_table_struct *wait);
/* Parse the VMM's message as vhost-net does: 0, -EINVAL; *@len its size. */
int vub_iotlb_parse(struct iov_iter *from, struct vhost_iotlb_msg *msg,
		    size_t *len);
/*
 * vhost-net's checks of a parsed message: 0 to forward it, 1 when it is
 * accepted with nothing to forward, -EFAULT.
 */
int vub_iotlb_check(struct vub_dev *dev, struct vhost_iotlb_msg *msg);

/* The fd store (vub_fdstore.c); see struct vub_fd_cmd. */
int vub_fd_store(u32 dev_id, u32 slot, int fd);
int vub_fd_drop(u32 dev_id, u32 slot);
int vub_fd_fetch(const struct vub_fd_fetch *f);
/* The device's state slot (VUB_FD_SLOT_STATE) holds a file. */
bool vub_fd_has_state(struct vub_dev *dev);
/* Drop every stored file of @dev, which is no longer in vub_devs. */
void vub_fd_release(struct vub_dev *dev);

int vub_chan_init(void);
void vub_chan_exit(void);

int vub_genl_init(void);
void vub_genl_exit(void);
void vub_genl_dev_event(u8 cmd, struct vub_dev *dev);
void vub_genl_instance_event(u8 cmd, struct vub_instance *inst);
void vub_genl_bridge_event(u8 cmd, const struct vub_bridge_info *info);

#endif /* _VUB_H */
