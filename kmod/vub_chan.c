// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: the channel to the bridge daemon.
 *
 * The daemon opens /dev/vhost-user-bridge-control, attaches, and keeps one
 * FETCH command parked per slot (tag).  A VMM request completes a parked
 * FETCH through io_uring task work, so the request is written and its files
 * are installed in the daemon's own task; the daemon answers with
 * COMMIT_AND_FETCH, which also parks the slot again.  Requests that find no
 * parked slot wait on the bridge's queue: in order within their process,
 * and served round-robin by process, so that one process's flood delays
 * another's request by one of its own at most per turn; a process may have
 * at most max_queued_per_process waiting (EAGAIN beyond).
 *
 * A slot moves IDLE -> PARKED (FETCH posted) -> DISPATCHING (task work
 * queued) -> OWNED (request delivered, answer awaited) -> IDLE/PARKED.
 * All bridge, slot and queue state is protected by vub_lock; the control path
 * is not hot enough to need more.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "vub.h"
#include "vub_compat.h"

enum vub_tag_state {
	VUB_TAG_IDLE,
	VUB_TAG_PARKED,
	VUB_TAG_DISPATCHING,
	VUB_TAG_OWNED,
};

struct vub_tag {
	enum vub_tag_state	state;
	struct io_uring_cmd	*cmd;	/* PARKED, DISPATCHING */
	struct vub_request	*req;	/* DISPATCHING, OWNED; NULL once aborted */
	u64			buf_addr;
	u32			buf_len;
};

/*
 * The requests of one process (thread group, vub_request.vmm_pid) waiting
 * for a slot; exists while it has any.
 */
struct vub_owner {
	struct hlist_node	hnode;	/* in the bridge's owner_hash */
	struct list_head	node;	/* in the bridge's owners, in turn */
	struct list_head	queue;	/* its requests, oldest first */
	u32			tgid;
	u32			queued;
};

/* One per successful ATTACH; freed when its control file is released. */
struct vub_bridge {
	struct pid		*tgid;	/* the attached daemon process */
	char			comm[TASK_COMM_LEN];
	u64			gen;	/* attachment number, from 1 */
	bool			dead;	/* detached: fails everything */
	bool			recover; /* VUB_ATTACH_F_RECOVER */
	u32			nr_tags;
	u32			nr_queued;	/* requests waiting for a slot */
	u32			nr_owners;	/* processes they belong to */
	struct list_head	owners;	/* owners with requests; head's turn next */
	DECLARE_HASHTABLE(owner_hash, 6);	/* owners by tgid */
	struct vub_tag		tags[] __counted_by(nr_tags);
};

static unsigned int max_queued_per_process = 16;
module_param(max_queued_per_process, uint, 0644);
MODULE_PARM_DESC(max_queued_per_process,
		 "Most requests one process may have waiting for a free bridge daemon slot (default 16, 0: no limit); an ioctl beyond it fails with EAGAIN");

static DEFINE_SPINLOCK(vub_lock);
static struct vub_bridge *vub_active;	/* the attached bridge, or NULL */
static DECLARE_WAIT_QUEUE_HEAD(vub_attach_wq);	/* woken when one attaches */
static u64 vub_seq;
static u64 vub_gen;
static u64 vub_nr_requests;
static u64 vub_nr_timeouts;
static u64 vub_nr_refused;
static struct kmem_cache *vub_req_cache;

struct vub_pdu {
	u32 tag;
};

static struct vub_pdu *vub_pdu(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(struct vub_pdu) > sizeof(cmd->pdu));
	return (struct vub_pdu *)cmd->pdu;
}

struct vub_request *vub_request_alloc(u16 op, u32 dev_id, u32 payload_len)
{
	struct vub_request *req;

	req = kmem_cache_zalloc(vub_req_cache, GFP_KERNEL_ACCOUNT);
	if (!req)
		return NULL;
	req->payload = req->inline_payload;
	req->files = &req->inline_file;
	if (payload_len > VUB_INLINE_PAYLOAD) {
		req->payload = kmalloc(payload_len, GFP_KERNEL_ACCOUNT);
		if (!req->payload) {
			kmem_cache_free(vub_req_cache, req);
			return NULL;
		}
	}
	INIT_LIST_HEAD(&req->node);
	refcount_set(&req->ref, 1);
	init_completion(&req->done);
	req->op = op;
	req->dev_id = dev_id;
	req->payload_len = payload_len;
	req->vmm_pid = task_tgid_nr(current);
	return req;
}

/* May be called under vub_lock: nothing here sleeps. */
void vub_request_put(struct vub_request *req)
{
	unsigned int i;

	if (!refcount_dec_and_test(&req->ref))
		return;
	for (i = 0; i < req->nr_files; i++)
		fput(req->files[i]);
	if (req->files != &req->inline_file)
		kfree(req->files);
	if (req->payload != req->inline_payload)
		kfree(req->payload);
	kfree(req->ext);
	kmem_cache_free(vub_req_cache, req);
}

/* Give @req its final result and drop the channel's reference. */
static void vub_request_finish(struct vub_request *req, int result)
	__must_hold(&vub_lock)
{
	req->result = result;
	complete(&req->done);
	vub_request_put(req);
}

static struct vub_owner *vub_owner_find(struct vub_bridge *b, u32 tgid)
	__must_hold(&vub_lock)
{
	struct vub_owner *o;

	hash_for_each_possible(b->owner_hash, o, hnode, tgid)
		if (o->tgid == tgid)
			return o;
	return NULL;
}

/*
 * Queue @req behind its process's other requests; *@spare becomes the
 * process's owner if it has none yet (then set to NULL).  A process at
 * max_queued_per_process gets -EAGAIN, except for a RELEASE, which has no
 * one to tell and must reach the daemon.
 */
static int vub_enqueue(struct vub_bridge *b, struct vub_request *req,
		       struct vub_owner **spare)
	__must_hold(&vub_lock)
{
	unsigned int max = READ_ONCE(max_queued_per_process);
	struct vub_owner *o = vub_owner_find(b, req->vmm_pid);

	if (o && max && o->queued >= max && req->op != VUB_OP_RELEASE) {
		vub_nr_refused++;
		return -EAGAIN;
	}
	if (!o) {
		o = *spare;
		if (!o)
			return -ENOMEM;
		*spare = NULL;
		o->tgid = req->vmm_pid;
		INIT_LIST_HEAD(&o->queue);
		hash_add(b->owner_hash, &o->hnode, o->tgid);
		list_add_tail(&o->node, &b->owners);
		b->nr_owners++;
	}
	list_add_tail(&req->node, &o->queue);
	o->queued++;
	b->nr_queued++;
	return 0;
}

/* Take @req off the queue; its owner goes with its last request. */
static void vub_unqueue(struct vub_bridge *b, struct vub_request *req)
	__must_hold(&vub_lock)
{
	struct vub_owner *o = vub_owner_find(b, req->vmm_pid);

	list_del_init(&req->node);
	b->nr_queued--;
	if (--o->queued)
		return;
	hash_del(&o->hnode);
	list_del(&o->node);
	b->nr_owners--;
	kfree(o);
}

/* The oldest request of the process whose turn it is; its turn passes. */
static struct vub_request *vub_dequeue(struct vub_bridge *b)
	__must_hold(&vub_lock)
{
	struct vub_owner *o;
	struct vub_request *req;

	o = list_first_entry_or_null(&b->owners, struct vub_owner, node);
	if (!o)
		return NULL;
	req = list_first_entry(&o->queue, struct vub_request, node);
	list_move_tail(&o->node, &b->owners);
	vub_unqueue(b, req);
	return req;
}

/*
 * Write @req into @t's buffer with the numbers of fds reserved for its files
 * (in @fds); runs in the daemon.  The files are installed only once the
 * request is known to stay delivered (vub_dispatch_tw()): an fd reserved but
 * not installed is invisible to the daemon's other threads, so giving it
 * back can never close a file of theirs.
 */
static int vub_write_request(const struct vub_tag *t,
			     const struct vub_request *req, int *fds)
{
	u8 __user *buf = u64_to_user_ptr(t->buf_addr);
	u32 ext_offset = ALIGN(sizeof(struct vub_req) + req->payload_len, 8);
	u32 fd_offset = ALIGN(ext_offset + req->ext_len, 8);
	int __user *ufds = (int __user *)(buf + fd_offset);
	struct vub_req hdr = {
		.op = req->op,
		.hdr_len = sizeof(hdr),
		.dev_id = req->dev_id,
		.seq = req->seq,
		.ioctl = req->ioctl,
		.payload_len = req->payload_len,
		.reply_len = req->reply_len,
		.nr_fds = req->nr_files,
		.fd_offset = fd_offset,
		.vmm_pid = req->vmm_pid,
		.ext_offset = req->ext_len ? ext_offset : 0,
		.ext_len = req->ext_len,
		.instance_id = req->instance_id,
	};
	unsigned int i;
	int ret;

	if (fd_offset + req->nr_files * sizeof(int) > t->buf_len)
		return -EMSGSIZE;
	if (copy_to_user(buf, &hdr, sizeof(hdr)) ||
	    copy_to_user(buf + sizeof(hdr), req->payload, req->payload_len) ||
	    copy_to_user(buf + ext_offset, req->ext, req->ext_len))
		return -EFAULT;
	for (i = 0; i < req->nr_files; i++) {
		ret = get_unused_fd_flags(O_CLOEXEC);
		if (ret < 0)
			goto undo;
		fds[i] = ret;
		ret = -EFAULT;
		if (put_user(fds[i], &ufds[i]))
			goto undo_this;
	}
	return 0;
undo_this:
	i++;
undo:
	while (i--)
		put_unused_fd(fds[i]);
	return ret;
}

/*
 * The VMM's errno for a request the daemon could not take: out of
 * descriptors (the daemon's RLIMIT_NOFILE, or the system's file limit) is
 * said as such; anything else (its buffer) is a daemon bug, EIO.
 */
static int vub_undelivered(int ret)
{
	return ret == -EMFILE || ret == -ENFILE || ret == -ENOMEM ? ret : -EIO;
}

static void vub_cancel_tw(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	io_uring_cmd_done(cmd, -ECANCELED, 0, issue_flags);
}

static void vub_bridge_event(u8 cmd, const struct vub_bridge *b)
{
	struct vub_bridge_info info = {
		.attached = cmd == VUB_CMD_EVT_BRIDGE_ATTACHED,
		.pid = pid_nr(b->tgid),
		.tags = b->nr_tags,
	};

	strscpy(info.comm, b->comm, sizeof(info.comm));
	vub_genl_bridge_event(cmd, &info);
}

/*
 * Detach @b: fail its queued and delivered requests, and complete its parked
 * FETCH commands with -ECANCELED.  Idempotent.
 */
static void vub_bridge_abort(struct vub_bridge *b)
{
	struct io_uring_cmd *parked[VUB_MAX_TAGS];
	unsigned int i, n = 0;
	struct vub_request *req;

	spin_lock(&vub_lock);
	if (b->dead) {
		spin_unlock(&vub_lock);
		return;
	}
	b->dead = true;
	if (vub_active == b)
		vub_active = NULL;
	while ((req = vub_dequeue(b)))
		vub_request_finish(req, -ECONNRESET);
	for (i = 0; i < b->nr_tags; i++) {
		struct vub_tag *t = &b->tags[i];

		if (t->req) {
			vub_request_finish(t->req, -ECONNRESET);
			t->req = NULL;
		}
		/* A DISPATCHING slot is finished by its task work. */
		if (t->state == VUB_TAG_PARKED) {
			parked[n++] = t->cmd;
			t->cmd = NULL;
		}
		if (t->state != VUB_TAG_DISPATCHING)
			t->state = VUB_TAG_IDLE;
	}
	spin_unlock(&vub_lock);

	for (i = 0; i < n; i++)
		io_uring_cmd_complete_in_task(parked[i], vub_cancel_tw);
	pr_info("bridge daemon %s (pid %d) detached\n", b->comm,
		pid_nr(b->tgid));
	vub_bridge_event(VUB_CMD_EVT_BRIDGE_DETACHED, b);
}

/* True when task work runs in the attached daemon and may touch its memory. */
static bool vub_in_daemon(const struct vub_bridge *b, unsigned int issue_flags)
{
	return !(issue_flags & IO_URING_F_TASK_DEAD) &&
	       !(current->flags & (PF_EXITING | PF_KTHREAD)) &&
	       task_tgid(current) == b->tgid;
}

static int vub_park(struct vub_bridge *b, struct vub_tag *t,
		    struct io_uring_cmd *cmd, unsigned int issue_flags)
	__releases(&vub_lock);

/* Task work of a FETCH that was given a request: deliver it. */
static void vub_dispatch_tw(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct vub_bridge *b = cmd->file->private_data;
	struct vub_tag *t = &b->tags[vub_pdu(cmd)->tag];
	struct vub_request *req;
	int *fds = NULL;
	int ret = -ECANCELED;
	bool undo = false, install = false, repark = false;
	unsigned int i;

	if (!vub_in_daemon(b, issue_flags))
		vub_bridge_abort(b);

	spin_lock(&vub_lock);
	req = t->req;
	if (req)
		refcount_inc(&req->ref);
	spin_unlock(&vub_lock);

	if (req) {
		fds = kcalloc(req->nr_files, sizeof(*fds), GFP_KERNEL);
		ret = req->nr_files && !fds ? -ENOMEM :
		      vub_write_request(t, req, fds);
		if (ret)
			pr_warn_ratelimited("cannot deliver request %llu to the daemon (%d); failing it with %d\n",
					    req->seq, ret, vub_undelivered(ret));
	}

	spin_lock(&vub_lock);
	if (req && t->req != req) {
		/* Aborted while we wrote: the daemon must not act on it. */
		undo = !ret;
		ret = -ECANCELED;
	} else if (req && ret) {
		vub_request_finish(req, vub_undelivered(ret));
		t->req = NULL;
		/*
		 * Out of descriptors or memory is the daemon's condition, not
		 * its bug: the slot stays parked (it never saw the request),
		 * so that a daemon at its fd limit keeps all of its slots.
		 */
		repark = vub_undelivered(ret) != -EIO;
	} else {
		install = !!req;
	}
	/* A slot to park again stays DISPATCHING: vub_bridge_abort() skips it. */
	if (!repark) {
		t->cmd = NULL;
		t->state = ret ? VUB_TAG_IDLE : VUB_TAG_OWNED;
	}
	spin_unlock(&vub_lock);

	if (req) {
		for (i = 0; (undo || install) && i < req->nr_files; i++) {
			if (undo)
				put_unused_fd(fds[i]);
			else
				fd_install(fds[i], get_file(req->files[i]));
		}
		kfree(fds);
		vub_request_put(req);
	}
	if (!repark) {
		io_uring_cmd_done(cmd, ret, 0, issue_flags);
		return;
	}
	spin_lock(&vub_lock);
	if (b->dead) {
		t->cmd = NULL;
		t->state = VUB_TAG_IDLE;
		spin_unlock(&vub_lock);
		io_uring_cmd_done(cmd, -ECANCELED, 0, issue_flags);
		return;
	}
	vub_park(b, t, cmd, issue_flags);
}

int vub_chan_submit(struct vub_request *req, u64 gen, u64 *queued_gen)
{
	/* The owner the process needs if it has to wait, allocated ahead. */
	struct vub_owner *spare = kzalloc(sizeof(*spare), GFP_KERNEL_ACCOUNT);
	struct io_uring_cmd *cmd = NULL;
	struct vub_bridge *b;
	unsigned int i;
	int ret;

	spin_lock(&vub_lock);
	b = vub_active;
	ret = -ENOTCONN;
	if (!b)
		goto out_unlock;
	ret = -ESTALE;
	if (gen && gen != b->gen)
		goto out_unlock;
	ret = -ENOPROTOOPT;
	if (req->need_recover && !b->recover)
		goto out_unlock;
	/* A parked slot means that nothing is queued. */
	for (i = 0; i < b->nr_tags; i++) {
		struct vub_tag *t = &b->tags[i];

		if (t->state == VUB_TAG_PARKED) {
			t->state = VUB_TAG_DISPATCHING;
			t->req = req;
			cmd = t->cmd;
			break;
		}
	}
	ret = 0;
	if (!cmd)
		ret = vub_enqueue(b, req, &spare);
	if (ret)
		goto out_unlock;
	*queued_gen = b->gen;
	req->seq = ++vub_seq;
	vub_nr_requests++;
	refcount_inc(&req->ref);
out_unlock:
	spin_unlock(&vub_lock);
	kfree(spare);
	if (ret == -EAGAIN)
		pr_warn_ratelimited("%s[%d] has %u requests waiting for the bridge daemon (max_queued_per_process): EAGAIN\n",
				    current->comm, task_tgid_nr(current),
				    READ_ONCE(max_queued_per_process));
	if (cmd)
		io_uring_cmd_complete_in_task(cmd, vub_dispatch_tw);
	return ret;
}

int vub_chan_wait_attached(unsigned long timeout)
{
	if (timeout && wait_event_killable_timeout(vub_attach_wq, READ_ONCE(vub_active),
						   timeout) < 0)
		return -EINTR;
	return 0;
}

void vub_chan_count_timeout(void)
{
	spin_lock(&vub_lock);
	vub_nr_timeouts++;
	spin_unlock(&vub_lock);
}

void vub_chan_info(struct vub_bridge_info *info)
{
	struct vub_bridge *b;
	unsigned int i;

	memset(info, 0, sizeof(*info));
	spin_lock(&vub_lock);
	b = vub_active;
	if (b) {
		info->attached = true;
		info->pid = pid_nr(b->tgid);
		strscpy(info->comm, b->comm, sizeof(info->comm));
		info->tags = b->nr_tags;
		info->queued = b->nr_queued;
		info->queued_procs = b->nr_owners;
		info->inflight = b->nr_queued;
		for (i = 0; i < b->nr_tags; i++)
			info->inflight += !!b->tags[i].req;
	}
	info->requests = vub_nr_requests;
	info->timeouts = vub_nr_timeouts;
	info->refused = vub_nr_refused;
	spin_unlock(&vub_lock);
}

int vub_chan_wait(struct vub_request *req, unsigned long timeout,
		  enum vub_wait_end *end)
{
	long left = wait_for_completion_killable_timeout(&req->done, timeout);
	int ret;

	*end = VUB_WAIT_ANSWERED;
	if (left > 0)
		return req->result;

	/*
	 * Withdraw.  A request still queued is taken back; one the daemon
	 * holds stays with its slot and is dropped when it is answered.
	 */
	spin_lock(&vub_lock);
	if (completion_done(&req->done)) {
		ret = req->result;
	} else {
		if (!list_empty(&req->node)) {
			/* Queued: so on the attached bridge (detaching empties it). */
			vub_unqueue(vub_active, req);
			vub_request_put(req);
			*end = VUB_WAIT_WITHDRAWN;
		} else {
			*end = VUB_WAIT_HELD;
		}
		ret = left ? -EINTR : -ETIMEDOUT;
	}
	spin_unlock(&vub_lock);
	return ret;
}

/* Park @cmd on @t, or hand it the next queued request at once. */
static int vub_park(struct vub_bridge *b, struct vub_tag *t,
		    struct io_uring_cmd *cmd, unsigned int issue_flags)
	__releases(&vub_lock)
{
	struct vub_request *req;

	vub_pdu(cmd)->tag = t - b->tags;
	if (VUB_HAVE_CMD_CANCEL && list_empty(&b->owners)) {
		/*
		 * Marking a command cancelable may sleep, and must only be
		 * done for a command that will be queued: reserve the slot,
		 * mark, then publish.
		 */
		t->state = VUB_TAG_DISPATCHING;
		spin_unlock(&vub_lock);
		vub_mark_cancelable(cmd, issue_flags);
		spin_lock(&vub_lock);
		if (b->dead) {
			t->state = VUB_TAG_IDLE;
			spin_unlock(&vub_lock);
			io_uring_cmd_done(cmd, -ECANCELED, 0, issue_flags);
			return -EIOCBQUEUED;
		}
	}

	t->cmd = cmd;
	req = vub_dequeue(b);
	if (!req) {
		t->state = VUB_TAG_PARKED;
		spin_unlock(&vub_lock);
		return -EIOCBQUEUED;
	}
	t->state = VUB_TAG_DISPATCHING;
	t->req = req;
	spin_unlock(&vub_lock);
	io_uring_cmd_complete_in_task(cmd, vub_dispatch_tw);
	return -EIOCBQUEUED;
}

static bool vub_mem_is_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/* Check the answer to @req and finish it.  Returns 0 if it was well formed. */
static int vub_commit(struct vub_request *req, const struct vub_io_cmd *uc)
	__must_hold(&vub_lock)
{
	int result = uc->result;

	/* Only errnos a VMM may see: none of the kernel-internal ones (512..). */
	if (result > 0 || result < -EHWPOISON ||
	    (!result && uc->reply_len != req->reply_len) ||
	    (result && uc->reply_len)) {
		pr_warn_ratelimited("daemon answered request %llu (ioctl 0x%x) with result %d and %u reply bytes (%u expected); failing it with EIO\n",
				    req->seq, req->ioctl, result, uc->reply_len,
				    req->reply_len);
		vub_request_finish(req, -EIO);
		return -EINVAL;
	}
	memcpy(req->reply, uc->reply, uc->reply_len);
	vub_request_finish(req, result);
	return 0;
}

static int vub_ctrl_io(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	bool commit = cmd->cmd_op == VUB_U_IO_COMMIT_AND_FETCH;
	struct vub_io_cmd uc;
	struct vub_bridge *b;
	struct vub_tag *t;
	int ret;

	memcpy(&uc, vub_cmd_area(cmd), sizeof(uc));
	if (uc.flags || uc.reserved || uc.buf_len < VUB_REQ_BUF_MIN ||
	    !IS_ALIGNED(uc.buf_addr, 8) ||
	    !access_ok(u64_to_user_ptr(uc.buf_addr), uc.buf_len))
		return -EINVAL;
	if (!commit && (uc.result || uc.seq || uc.reply_len))
		return -EINVAL;
	if (uc.reply_len > VUB_REPLY_MAX)
		return -EINVAL;

	spin_lock(&vub_lock);
	b = cmd->file->private_data;
	ret = -EINVAL;
	if (!b || uc.tag >= b->nr_tags)
		goto out_unlock;
	ret = -EPERM;
	if (task_tgid(current) != b->tgid)
		goto out_unlock;
	ret = -ECANCELED;
	if (b->dead)
		goto out_unlock;
	t = &b->tags[array_index_nospec(uc.tag, b->nr_tags)];

	if (commit) {
		ret = -EINVAL;
		if (t->state != VUB_TAG_OWNED || !t->req ||
		    t->req->seq != uc.seq)
			goto out_unlock;
		ret = vub_commit(t->req, &uc);
		t->req = NULL;
		t->state = VUB_TAG_IDLE;
		if (ret)
			goto out_unlock;
	}
	ret = -EBUSY;
	if (t->state != VUB_TAG_IDLE)
		goto out_unlock;
	t->buf_addr = uc.buf_addr;
	t->buf_len = uc.buf_len;
	return vub_park(b, t, cmd, issue_flags);

out_unlock:
	spin_unlock(&vub_lock);
	return ret;
}

static int vub_ctrl_attach(struct io_uring_cmd *cmd)
{
	struct vub_attach ua;
	struct vub_bridge *b;
	unsigned int i;

	memcpy(&ua, vub_cmd_area(cmd), sizeof(ua));
	if (!capable(CAP_NET_ADMIN))
		return -EPERM;
	if (!ua.version || (ua.flags & ~VUB_ATTACH_F_RECOVER) || ua.reserved0 ||
	    !vub_mem_is_zero(ua.reserved, sizeof(ua.reserved)) ||
	    !ua.nr_tags || ua.nr_tags > VUB_MAX_TAGS)
		return -EINVAL;

	b = kzalloc(struct_size(b, tags, ua.nr_tags), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->nr_tags = ua.nr_tags;
	b->recover = ua.flags & VUB_ATTACH_F_RECOVER;
	INIT_LIST_HEAD(&b->owners);
	hash_init(b->owner_hash);
	for (i = 0; i < b->nr_tags; i++)
		b->tags[i].state = VUB_TAG_IDLE;
	b->tgid = get_pid(task_tgid(current));
	get_task_comm(b->comm, current);

	spin_lock(&vub_lock);
	if (vub_active || cmd->file->private_data) {
		spin_unlock(&vub_lock);
		put_pid(b->tgid);
		kfree(b);
		return -EBUSY;
	}
	b->gen = ++vub_gen;
	cmd->file->private_data = b;
	vub_active = b;
	spin_unlock(&vub_lock);
	wake_up_all(&vub_attach_wq);

	pr_info("bridge daemon %s (pid %d) attached with %u slots\n",
		b->comm, pid_nr(b->tgid), b->nr_tags);
	vub_bridge_event(VUB_CMD_EVT_BRIDGE_ATTACHED, b);
	return min_t(u32, ua.version, VUB_API_VERSION);
}

/*
 * The fd store's commands: from the attached daemon only, which may use
 * them at any time (a recovering one fetches before its first FETCH).
 */
static int vub_ctrl_fd(struct io_uring_cmd *cmd)
{
	const void *area = vub_cmd_area(cmd);
	struct vub_fd_fetch uf;
	struct vub_dev_msg um;
	struct vub_fd_cmd uc;
	struct vub_bridge *b;
	int ret = 0;

	/* Both fill the SQE128 command area, as struct vub_io_cmd does. */
	BUILD_BUG_ON(sizeof(uf) != sizeof(struct vub_io_cmd) ||
		     sizeof(uc) != sizeof(struct vub_io_cmd) ||
		     sizeof(um) != sizeof(struct vub_io_cmd));
	spin_lock(&vub_lock);
	b = cmd->file->private_data;
	if (!b)
		ret = -EINVAL;
	else if (task_tgid(current) != b->tgid)
		ret = -EPERM;
	else if (b->dead)
		ret = -ECANCELED;
	spin_unlock(&vub_lock);
	if (ret)
		return ret;

	if (cmd->cmd_op == VUB_U_CMD_DEV_MSG) {
		memcpy(&um, area, sizeof(um));
		return vub_dev_msg(&um);
	}
	if (cmd->cmd_op == VUB_U_CMD_FD_FETCH) {
		memcpy(&uf, area, sizeof(uf));
		if (uf.flags || !vub_mem_is_zero(uf.reserved, sizeof(uf.reserved)))
			return -EINVAL;
		return vub_fd_fetch(&uf);
	}
	memcpy(&uc, area, sizeof(uc));
	if (uc.flags || !vub_mem_is_zero(uc.reserved, sizeof(uc.reserved)))
		return -EINVAL;
	if (cmd->cmd_op == VUB_U_CMD_FD_STORE)
		return vub_fd_store(uc.dev_id, uc.slot, uc.fd);
	if (uc.fd != -1)
		return -EINVAL;
	return vub_fd_drop(uc.dev_id, uc.slot);
}

/* The ring of a parked command is going away (kernels with cancellation). */
static void vub_ctrl_cancel(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct vub_bridge *b = cmd->file->private_data;
	struct vub_tag *t = &b->tags[vub_pdu(cmd)->tag];
	bool mine;

	spin_lock(&vub_lock);
	mine = t->state == VUB_TAG_PARKED && t->cmd == cmd;
	if (mine) {
		t->state = VUB_TAG_IDLE;
		t->cmd = NULL;
	}
	spin_unlock(&vub_lock);

	vub_bridge_abort(b);
	if (mine)
		io_uring_cmd_done(cmd, -ECANCELED, 0, issue_flags);
}

static int vub_ctrl_uring_cmd(struct io_uring_cmd *cmd,
			      unsigned int issue_flags)
{
	if (issue_flags & IO_URING_F_CANCEL) {
		vub_ctrl_cancel(cmd, issue_flags);
		return 0;
	}
	if (!(issue_flags & IO_URING_F_SQE128))
		return -EINVAL;

	switch (cmd->cmd_op) {
	case VUB_U_CMD_ATTACH:
		return vub_ctrl_attach(cmd);
	case VUB_U_IO_FETCH:
	case VUB_U_IO_COMMIT_AND_FETCH:
		return vub_ctrl_io(cmd, issue_flags);
	case VUB_U_CMD_FD_STORE:
	case VUB_U_CMD_FD_DROP:
	case VUB_U_CMD_FD_FETCH:
	case VUB_U_CMD_DEV_MSG:
		return vub_ctrl_fd(cmd);
	default:
		return -EOPNOTSUPP;
	}
}

static int vub_ctrl_open(struct inode *inode, struct file *file)
{
	file->private_data = NULL;
	return 0;
}

/*
 * Any close of the control file by the attached process detaches it: this
 * is how a daemon's exit is noticed on kernels without command cancellation.
 */
static int vub_ctrl_flush(struct file *file, fl_owner_t id)
{
	struct vub_bridge *b;

	spin_lock(&vub_lock);
	b = file->private_data;
	spin_unlock(&vub_lock);
	if (b && task_tgid(current) == b->tgid)
		vub_bridge_abort(b);
	return 0;
}

/* No command references the file any more, so no task work is pending. */
static int vub_ctrl_release(struct inode *inode, struct file *file)
{
	struct vub_bridge *b = file->private_data;

	if (b) {
		vub_bridge_abort(b);
		put_pid(b->tgid);
		kfree(b);
	}
	return 0;
}

static const struct file_operations vub_ctrl_fops = {
	.owner		= THIS_MODULE,
	.open		= vub_ctrl_open,
	.flush		= vub_ctrl_flush,
	.release	= vub_ctrl_release,
	.uring_cmd	= vub_ctrl_uring_cmd,
	.llseek		= noop_llseek,
};

static struct miscdevice vub_ctrl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= VUB_CTRL_DEVICE_NAME,
	.fops	= &vub_ctrl_fops,
	.mode	= 0600,
};

int vub_chan_init(void)
{
	/* Hardened usercopy: only the reply and inline payload are copied. */
	size_t uoff = offsetof(struct vub_request, reply);
	size_t usize = offsetofend(struct vub_request, inline_payload) - uoff;
	int ret;

	vub_req_cache = kmem_cache_create_usercopy("vub_req",
						   sizeof(struct vub_request),
						   0, SLAB_ACCOUNT, uoff, usize,
						   NULL);
	if (!vub_req_cache)
		return -ENOMEM;
	ret = misc_register(&vub_ctrl_misc);
	if (ret)
		kmem_cache_destroy(vub_req_cache);
	return ret;
}

void vub_chan_exit(void)
{
	misc_deregister(&vub_ctrl_misc);
	kmem_cache_destroy(vub_req_cache);
}
