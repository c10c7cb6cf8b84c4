/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause */
/*
 * vhost-user-bridge: the contract between the kernel module and the bridge
 * daemon (vhost-user-bridged).
 *
 * A VMM opens /dev/vhost-user-bridge and issues ordinary vhost ioctls.  Each
 * ioctl becomes a request that the kernel hands to the daemon through
 * io_uring commands (IORING_OP_URING_CMD, IORING_SETUP_SQE128) on the control
 * node /dev/vhost-user-bridge-control, the way ublk talks to its server:
 *
 *   daemon                                   kernel
 *   VUB_U_CMD_ATTACH            ------>      becomes the one bridge (CAP_NET_ADMIN)
 *   VUB_U_IO_FETCH (tag 0..n-1) ------>      parked, one per tag
 *                               <------      CQE res 0: a struct vub_req (plus
 *                                            payload and fds) was written into
 *                                            the tag's buffer, in the daemon's
 *                                            own task
 *   VUB_U_IO_COMMIT_AND_FETCH   ------>      the answer (result, reply bytes);
 *                                            re-parks the tag for the next one
 *
 * Everything here is native-endian and naturally aligned, with explicit
 * padding.  Every reserved field and every undefined flag bit must be zero:
 * the kernel rejects the command with -EINVAL otherwise, so they can be given
 * meaning later without breaking old daemons.  The API is versioned by
 * VUB_API_VERSION; ATTACH negotiates it.
 */
#ifndef _UAPI_LINUX_VHOST_USER_BRIDGE_H
#define _UAPI_LINUX_VHOST_USER_BRIDGE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Highest API version this header describes. */
#define VUB_API_VERSION		1

/* Device node names, under /dev. */
#define VUB_VMM_DEVICE_NAME	"vhost-user-bridge"
#define VUB_CTRL_DEVICE_NAME	"vhost-user-bridge-control"

/* Number of FETCH slots (tags) a daemon may post. */
#define VUB_MAX_TAGS		64
/* Minimum size of every FETCH buffer: the largest request fits in it. */
#define VUB_REQ_BUF_MIN		65536
/* Largest reply a daemon returns inline in struct vub_io_cmd. */
#define VUB_REPLY_MAX		40
/* Most memory pieces, and so file descriptors, one request carries. */
#define VUB_MAX_MEM_PIECES	512
/* Instance names (NUL included) and back-end socket paths (as sun_path). */
#define VUB_NAME_MAX		32
#define VUB_SOCKET_MAX		108

/* Instance types: the vhost-kernel device model a node imitates. */
enum vub_instance_type {
	VUB_TYPE_NET	= 1,	/* vhost-net */
};

/*
 * What SET_MEM_TABLE does with guest memory that is no shared file mapping
 * (private anonymous memory such as QEMU's default RAM, private file
 * mappings): VUB_A_INSTANCE_MEM_POLICY.
 */
enum vub_mem_policy {
	VUB_MEM_DEFAULT	= 0,	/* the module parameter mem_mirror decides */
	VUB_MEM_REFUSE	= 1,	/* fail with EOPNOTSUPP */
	VUB_MEM_MIRROR	= 2,	/* hand the back-end a mirror file */
};

/*
 * Control commands, in the cmd_op field of the SQE.  They use ioctl-style
 * encoding in the vhost ioctl space (0xAF), numbers vhost itself does not use.
 */
#define VUB_U_CMD_ATTACH		_IOWR(0xAF, 0xE0, struct vub_attach)
#define VUB_U_IO_FETCH			_IOWR(0xAF, 0xE1, struct vub_io_cmd)
#define VUB_U_IO_COMMIT_AND_FETCH	_IOWR(0xAF, 0xE2, struct vub_io_cmd)
#define VUB_U_CMD_FD_STORE		_IOWR(0xAF, 0xE3, struct vub_fd_cmd)
#define VUB_U_CMD_FD_DROP		_IOWR(0xAF, 0xE4, struct vub_fd_cmd)
#define VUB_U_CMD_FD_FETCH		_IOWR(0xAF, 0xE5, struct vub_fd_fetch)
#define VUB_U_CMD_DEV_MSG		_IOWR(0xAF, 0xE6, struct vub_dev_msg)

/**
 * struct vub_attach - VUB_U_CMD_ATTACH: become the bridge daemon
 * @version: highest API version the daemon speaks, at least 1.  The CQE's res
 *	is the version both sides will use (the smaller of the two), or -errno:
 *	-EPERM without CAP_NET_ADMIN, -EBUSY if a daemon is already attached
 *	(or this file already attached once), -EINVAL on bad fields.
 * @flags: VUB_ATTACH_F_*; undefined bits must be 0.
 * @nr_tags: number of FETCH slots the daemon will post, 1..VUB_MAX_TAGS.
 * @reserved0: must be 0.
 * @reserved: must be 0.
 *
 * The attachment lasts until the attaching process closes its control file
 * descriptor (or exits) or, on kernels with cancelable io_uring commands, its
 * ring is torn down.  Requests in flight then fail with -ECONNRESET in the
 * VMM, and new ones with -ENOTCONN until a daemon attaches again.
 */
struct vub_attach {
	__u32	version;
	__u32	flags;
	__u32	nr_tags;
	__u32	reserved0;
	__u64	reserved[6];
};

/*
 * VUB_ATTACH_F_RECOVER: the daemon recovers devices from the fd store (see
 * struct vub_fd_cmd): it fetches the store (VUB_U_CMD_FD_FETCH) before it
 * posts its first FETCH, and it answers a VUB_OP_OPEN that carries
 * VUB_OPEN_F_STORED either by adopting the device it restored from the
 * store or with an error.  Without this flag a device that a previous
 * daemon served fails with EIO, whatever the store holds.
 */
#define VUB_ATTACH_F_RECOVER	0x1U

/*
 * The fd store: files the daemon must not lose when it exits (its vhost-user
 * connection to the back-end, a memfd with its record of the device's
 * state, the eventfds and memory files it forwarded), held by the kernel
 * per device and handed to the next daemon.  Entries are keyed by (dev_id,
 * slot); a device has VUB_FD_STORE_SLOTS slots.  The kernel keeps a
 * reference to each stored file until the daemon drops or replaces it, or
 * the VMM closes the device (then the back-end sees its socket close, as it
 * should).  Slot VUB_FD_SLOT_STATE holds the daemon's record of the device's
 * state: a device with that slot filled is recoverable (VUB_OPEN_F_STORED);
 * the kernel never looks inside any stored file.
 */
#define VUB_FD_STORE_SLOTS	128
#define VUB_FD_SLOT_STATE	0
/* Most entries one VUB_U_CMD_FD_FETCH returns. */
#define VUB_FD_FETCH_MAX	256

/**
 * struct vub_fd_cmd - VUB_U_CMD_FD_STORE and VUB_U_CMD_FD_DROP
 * @dev_id: an open device (struct vub_req.dev_id).
 * @slot: below VUB_FD_STORE_SLOTS.
 * @fd: STORE: a descriptor of the daemon, which keeps its own (the kernel
 *	takes a new reference to the file).  It must be a socket, a regular
 *	file (memfd, shmem, hugetlbfs) or an eventfd, and not a file of this
 *	module.  DROP: must be -1.
 * @flags: none defined; must be 0.
 * @reserved: must be 0.
 *
 * Only the attached daemon may use these (-EPERM otherwise; -EINVAL before
 * an attach on this file).  STORE replaces what the slot held.  CQE res: 0,
 * or -ENOENT for a device that is not open, -ENOSPC for a slot at or above
 * VUB_FD_STORE_SLOTS, -EBADF for a closed @fd, -EINVAL for another kind of
 * file or a malformed command, -ENOMEM.  DROP of an empty slot is 0.
 */
struct vub_fd_cmd {
	__u32	dev_id;
	__u32	slot;
	__s32	fd;
	__u32	flags;
	__u64	reserved[8];
};

/**
 * struct vub_fd_entry - one stored file, as VUB_U_CMD_FD_FETCH returns it
 * @dev_id: its device.
 * @slot: its slot.
 * @fd: a new descriptor of the file in the daemon (O_CLOEXEC), which owns
 *	it; the store keeps its own reference.
 * @flags: 0.
 */
struct vub_fd_entry {
	__u32	dev_id;
	__u32	slot;
	__s32	fd;
	__u32	flags;
};

/**
 * struct vub_fd_fetch - VUB_U_CMD_FD_FETCH: the stored files, installed
 * @buf_addr: where to write struct vub_fd_entry[@nr] (4-byte aligned).
 * @nr: room in @buf_addr, 1..VUB_FD_FETCH_MAX.
 * @flags: none defined; must be 0.
 * @dev_id: start at this device ...
 * @slot: ... and this slot: entries come in (dev_id, slot) order; to go on,
 *	pass the last entry's dev_id and slot + 1.
 * @reserved: must be 0.
 *
 * Only the attached daemon may fetch.  CQE res: the number of entries
 * written (0: none left), or -EPERM, -EINVAL, -EFAULT, -EMFILE (nothing is
 * installed then), -ENOMEM.
 */
struct vub_fd_fetch {
	__u64	buf_addr;
	__u32	nr;
	__u32	flags;
	__u32	dev_id;
	__u32	slot;
	__u64	reserved[7];
};

/* Types of struct vub_dev_msg. */
enum vub_dev_msg_type {
	/* The back-end has no translation for @iova (VHOST_IOTLB_MISS). */
	VUB_DEV_MSG_IOTLB_MISS		= 1,
	/* The back-end's translation of @iova denies @perm (ACCESS_FAIL). */
	VUB_DEV_MSG_IOTLB_ACCESS_FAIL	= 2,
};

/* Most messages a device holds that its VMM has not read yet. */
#define VUB_DEV_MSG_MAX		256

/**
 * struct vub_dev_msg - VUB_U_CMD_DEV_MSG: a message for a device's VMM
 * @dev_id: an open device (struct vub_req.dev_id).
 * @type: enum vub_dev_msg_type.
 * @flags: none defined; must be 0.
 * @perm: the access that missed or failed: VHOST_ACCESS_RO, VHOST_ACCESS_WO
 *	or VHOST_ACCESS_RW.
 * @pad: must be 0.
 * @iova: the I/O virtual address.
 * @reserved: must be 0.
 *
 * The back-end's IOTLB requests (vhost-user VHOST_USER_BACKEND_IOTLB_MSG on
 * its back-end channel) on their way to the VMM, which reads them from the
 * device as vhost-net's struct vhost_msg or struct vhost_msg_v2 (with
 * VHOST_BACKEND_F_IOTLB_MSG_V2): the kernel queues one and the device polls
 * readable.  Only the attached daemon may send them, at any time (-EPERM
 * otherwise; -EINVAL before an attach on this file).  CQE res: 0 once
 * queued, or -ENOENT for a device that is not open, -EBADFD for one whose
 * VMM did not accept VIRTIO_F_ACCESS_PLATFORM (no IOTLB), -ENOSPC when it
 * already holds VUB_DEV_MSG_MAX unread messages, -EINVAL for a malformed
 * command, -ENOMEM.
 */
struct vub_dev_msg {
	__u32	dev_id;
	__u32	type;
	__u32	flags;
	__u8	perm;
	__u8	pad[3];
	__u64	iova;
	__u64	reserved[7];
};

/**
 * struct vub_io_cmd - VUB_U_IO_FETCH and VUB_U_IO_COMMIT_AND_FETCH
 * @tag: slot number, below the attach's nr_tags.
 * @flags: VUB_IO_F_* (none defined in version 1; must be 0).
 * @buf_addr: daemon buffer the next request is written to (8-byte aligned).
 * @buf_len: its size, at least VUB_REQ_BUF_MIN.
 * @result: COMMIT: 0 or a negative errno, returned by the VMM's ioctl.
 *	Must be 0 for FETCH.
 * @seq: COMMIT: the seq of the request being answered (struct vub_req).
 *	Must be 0 for FETCH.
 * @reply_len: COMMIT with result 0: bytes of @reply; must equal the request's
 *	reply_len.  Must be 0 otherwise.
 * @reserved: must be 0.
 * @reply: COMMIT: the ioctl's output (e.g. the u64 of VHOST_GET_FEATURES or
 *	the struct vhost_vring_state of VHOST_GET_VRING_BASE).
 *
 * A request the kernel cannot hand over because the daemon is out of file
 * descriptors (RLIMIT_NOFILE, the system's limit) or memory fails in the VMM
 * with EMFILE, ENFILE or ENOMEM; the slot stays posted, without a CQE.
 *
 * The CQE's res is 0 when a request was written to @buf_addr.  A negative res
 * means the command was not posted: -ECANCELED when the bridge was detached
 * or the ring is going away (do not post again), -EOPNOTSUPP for an unknown
 * cmd_op (compared whole, size bits included), -EPERM from another process
 * than the attached one, -EBUSY for a tag that is not idle, -EINVAL for a
 * malformed command.  A COMMIT rejected before its answer is looked at (bad
 * tag or seq, reserved bits, reply_len above VUB_REPLY_MAX) leaves the
 * request with the slot, to be answered again.  A COMMIT whose answer is
 * malformed (reply_len not the request's, reply bytes with an error, a
 * positive result) fails the request with -EIO in the VMM, so that nothing
 * waits forever, and leaves the slot idle for a new FETCH.
 *
 * This struct fills the whole SQE128 command area; it grows through @flags
 * (a flag can move fields into the FETCH buffer) and @reserved.
 */
struct vub_io_cmd {
	__u32	tag;
	__u32	flags;
	__u64	buf_addr;
	__u32	buf_len;
	__s32	result;
	__u64	seq;
	__u32	reply_len;
	__u32	reserved;
	__u8	reply[VUB_REPLY_MAX];
};

/* Request operations (struct vub_req.op). */
enum vub_op {
	/* A vhost ioctl of a VMM, to be answered with COMMIT. */
	VUB_OP_IOCTL	= 1,
	/*
	 * The VMM closed the device: forget it.  Sent only for devices the
	 * daemon has seen a request of.  Needs a COMMIT (result ignored) to
	 * free the slot, like every request.
	 */
	VUB_OP_RELEASE	= 2,
	/*
	 * A device this daemon has not seen yet, sent (and answered) before
	 * its first request; the payload is a struct vub_open_info.  An
	 * error result fails the VMM's ioctl with it.
	 */
	VUB_OP_OPEN	= 3,
	/*
	 * The VMM wrote an IOTLB message to the device (vhost-net's write()
	 * of struct vhost_msg or struct vhost_msg_v2); the payload is its
	 * struct vhost_iotlb_msg, checked as vhost-net checks it: type
	 * VHOST_IOTLB_UPDATE (size not 0, neither iova + size nor uaddr +
	 * size beyond 2^64, uaddr + size a user address) or
	 * VHOST_IOTLB_INVALIDATE (size 0 with iova 0: everything); perm
	 * holds VHOST_ACCESS_* bits only; the padding is 0.  Sent only for a
	 * device whose VMM accepted VIRTIO_F_ACCESS_PLATFORM.  No reply;
	 * an error result is the write's errno (a back-end's refusal should
	 * be EFAULT, as vhost-net's).
	 */
	VUB_OP_IOTLB_MSG = 4,
};

/*
 * VUB_OPEN_F_STORED: the device was served by a previous daemon, which left
 * its state in the fd store (slot VUB_FD_SLOT_STATE); sent only to a daemon
 * that attached with VUB_ATTACH_F_RECOVER.  Answer 0 only if the device was
 * restored from the store; an error marks the device broken (EIO).
 */
#define VUB_OPEN_F_STORED	0x1U

/**
 * struct vub_open_info - payload of VUB_OP_OPEN
 * @instance_id: the instance whose node the VMM opened; 0 is the default
 *	node /dev/vhost-user-bridge, served by the daemon's own back-end.
 * @type: enum vub_instance_type.
 * @owner_pid: thread group that opened the device.
 * @flags: VUB_OPEN_F_*.
 * @name: the instance's name, NUL-terminated ("" for instance 0).
 * @socket: the back-end socket the administrator bound the instance to,
 *	NUL-terminated ("" for instance 0).
 * @reserved: 0.
 */
struct vub_open_info {
	__u32	instance_id;
	__u32	type;
	__u32	owner_pid;
	__u32	flags;
	char	name[VUB_NAME_MAX];
	char	socket[VUB_SOCKET_MAX];
	__u64	reserved[4];
};

/**
 * struct vub_req - a request, written at the start of a FETCH buffer
 * @op: enum vub_op.
 * @hdr_len: sizeof(struct vub_req) for this API version; the payload starts
 *	at this offset, so the header can grow.
 * @dev_id: the VMM device (one per open of /dev/vhost-user-bridge), never 0,
 *	unique among open devices.
 * @seq: request number, to be echoed in COMMIT.
 * @ioctl: the VMM's ioctl command (VHOST_*), for VUB_OP_IOCTL.
 * @payload_len: bytes of payload: the ioctl's argument as the VMM passed it
 *	(struct vhost_memory with its regions, struct vhost_vring_file, ...).
 *	File descriptor numbers in it are the VMM's and mean nothing here.
 * @reply_len: bytes of reply the ioctl returns to the VMM (0 for SET ioctls).
 * @nr_fds: number of file descriptors installed in the daemon for this
 *	request.  For an fd field of the payload (kick, call, err, log, net
 *	backend) that is not VHOST_FILE_UNBIND: that file.  For
 *	VHOST_SET_LOG_BASE: the log (struct vub_log_info).  For
 *	VHOST_SET_MEM_TABLE: each distinct file backing guest memory, named by
 *	the pieces' fd_index.  The daemon owns them and must close them.
 * @fd_offset: offset from the start of this struct of __s32 fds[nr_fds]:
 *	the first 8-byte boundary after the payload and the extension.
 * @vmm_pid: thread group id of the process that issued the ioctl (for logs).
 * @group_id: multiqueue group the device belongs to; 0 (none) in version 1.
 * @flags: VUB_REQ_F_* (none defined in version 1).
 * @ext_offset: offset from the start of this struct of data the kernel adds
 *	to the payload: the first 8-byte boundary after the payload; 0 when
 *	there is none.
 * @ext_len: its length; 0 when there is none.  For VHOST_SET_MEM_TABLE: an
 *	array of struct vub_mem_piece describing all of guest memory a
 *	back-end can reach (at least one piece when there are regions).  For
 *	VHOST_SET_LOG_BASE: a struct vub_log_info.
 * @instance_id: the instance of the device, in every request (0: the
 *	default node; see VUB_OP_OPEN).
 * @reserved: 0.
 */
struct vub_req {
	__u16	op;
	__u16	hdr_len;
	__u32	dev_id;
	__u64	seq;
	__u32	ioctl;
	__u32	payload_len;
	__u32	reply_len;
	__u32	nr_fds;
	__u32	fd_offset;
	__u32	vmm_pid;
	__u32	group_id;
	__u32	flags;
	__u32	ext_offset;
	__u32	ext_len;
	__u32	instance_id;
	__u32	reserved;
};

/**
 * struct vub_mem_piece - where a piece of guest memory lives
 * @guest_phys_addr: guest physical address of the piece.
 * @memory_size: its length in bytes.
 * @userspace_addr: the VMM's virtual address of it, as in the VMM's table,
 *	so that ring addresses (VMM addresses in vhost) pass through unchanged.
 * @file_offset: offset in the file of the piece's first byte.
 * @fd_index: index in the request's fds[] of the file.
 * @flags: 0 in version 1.
 *
 * The kernel resolves each region of a VHOST_SET_MEM_TABLE in the VMM's
 * address space.  A region that spans several mappings becomes several
 * pieces; adjacent mappings of the same file are merged.  Shared mappings
 * of files (memfd, shmem, hugetlbfs, regular files) are handed to the
 * back-end as they are.  Other memory (private anonymous or private file
 * mappings) fails the ioctl with EOPNOTSUPP and a kernel log line naming
 * the process and the fix, unless the instance's enum vub_mem_policy is to
 * mirror it: then each run of such memory becomes one piece whose file is
 * a mirror the kernel made, showing the VMM's pages at
 * userspace_addr - file_offset onwards (file_offset is below the page
 * size).  Unmapped memory fails with EFAULT.
 *
 * Address space the VMM only reserved is left out, so pieces need not cover
 * their region: private anonymous mappings without access (PROT_NONE) in
 * which no page was ever faulted, such as the rest of a DPDK memseg list
 * beyond its hugepages.  Nothing can reach them (vhost-net would fault
 * there); when the VMM maps memory into one it sends a new table.  A table
 * made only of such reservations fails with EOPNOTSUPP.
 */
struct vub_mem_piece {
	__u64	guest_phys_addr;
	__u64	memory_size;
	__u64	userspace_addr;
	__u64	file_offset;
	__u32	fd_index;
	__u32	flags;
};

/**
 * struct vub_log_info - the dirty log of a VHOST_SET_LOG_BASE request
 * @mmap_size: bytes of log the back-end may write: one bit per 4 KiB page of
 *	guest physical memory from address 0, enough for the highest address
 *	of the memory table in force, rounded up to a multiple of 8.  Never 0.
 * @mmap_offset: offset of the log's first byte in the file: 0 (DPDK cannot
 *	use another).  These two are vhost-user's VHOST_USER_SET_LOG_BASE
 *	payload, as they are.
 * @flags: 0 (no flag is defined).
 * @reserved: 0.
 *
 * The request's payload is the __u64 log base as the VMM passed it (its own
 * address, for logs only); its extension is this struct, and its one file
 * (nr_fds 1) is the log the back-end writes: zeroed memory of the kernel's,
 * which the kernel folds into the VMM's own log (the VMM reads that one
 * without telling anyone) every log_fold_ms and before VHOST_GET_VRING_BASE
 * returns.  Map [0, @mmap_size) of it with MAP_SHARED; a private mapping,
 * or one beyond the page-rounded size, fails with EINVAL.
 *
 * The kernel sends the request for the VMM's VHOST_SET_LOG_BASE, and again
 * by itself (payload: the same base) when a memory table or VHOST_F_LOG_ALL
 * needs a larger log than the back-end has; it holds VHOST_SET_LOG_BASE
 * back while there is no memory table (nothing to size the log by).
 */
struct vub_log_info {
	__u64	mmap_size;
	__u64	mmap_offset;
	__u32	flags;
	__u32	reserved[3];
};

/*
 * Administration: the generic netlink family VUB_GENL_NAME.  Commands that
 * change anything need CAP_NET_ADMIN (GENL_ADMIN_PERM), and so do those
 * that tell about other users' VMMs: VUB_CMD_DEVICE_GET, and the multicast
 * group VUB_GENL_MCGRP_EVENTS, where events go as the VUB_CMD_EVT_*
 * commands.  VUB_CMD_INSTANCE_GET omits VUB_A_INSTANCE_SOCKET for callers
 * without CAP_NET_ADMIN.
 */
#define VUB_GENL_NAME		"vhost-user-br"
#define VUB_GENL_VERSION	1
#define VUB_GENL_MCGRP_EVENTS	"events"

enum vub_genl_cmd {
	VUB_CMD_UNSPEC,
	/*
	 * NAME, SOCKET[, TYPE, MEM_POLICY]: create /dev/vhost-user-bridge-NAME
	 */
	VUB_CMD_INSTANCE_ADD,
	/*
	 * NAME[, FORCE]: remove it; EBUSY while devices are open, unless
	 * FORCE (open devices then keep working until closed)
	 */
	VUB_CMD_INSTANCE_DEL,
	/* [NAME]: one instance, or dump all */
	VUB_CMD_INSTANCE_GET,
	/* [DEV_ID]: one open device, or dump all */
	VUB_CMD_DEVICE_GET,
	/* the bridge daemon's attachment and channel counters */
	VUB_CMD_BRIDGE_GET,
	/*
	 * DEV_ID, BACKEND_STATE[, BACKEND_FEATURES, BACKEND_OFFLOADS_MISSING,
	 * BACKEND_RECONNECTS]: the daemon reports its back-end connection (an
	 * absent number is 0)
	 */
	VUB_CMD_BACKEND_SET,

	/* events (multicast only) */
	VUB_CMD_EVT_DEVICE_OPENED,	/* DEV_* */
	VUB_CMD_EVT_DEVICE_CLOSED,	/* DEV_* */
	VUB_CMD_EVT_BRIDGE_ATTACHED,	/* BRIDGE_* */
	VUB_CMD_EVT_BRIDGE_DETACHED,	/* BRIDGE_* */
	VUB_CMD_EVT_BACKEND,		/* DEV_ID, INSTANCE_*, BACKEND_* */
	VUB_CMD_EVT_INSTANCE_ADDED,	/* INSTANCE_* */
	VUB_CMD_EVT_INSTANCE_REMOVED,	/* INSTANCE_* */

	__VUB_CMD_MAX,
};

#define VUB_CMD_MAX (__VUB_CMD_MAX - 1)

enum vub_backend_state {
	VUB_BACKEND_UNKNOWN	= 0,	/* not reported yet */
	VUB_BACKEND_CONNECTED	= 1,
	VUB_BACKEND_LOST	= 2,
};

enum vub_dev_state {
	VUB_DEV_OPEN	= 1,	/* no owner yet */
	VUB_DEV_OWNED	= 2,	/* VHOST_SET_OWNER done */
	VUB_DEV_BROKEN	= 3,	/* the daemon did not answer in time: EIO */
};

/*
 * Buckets of VUB_A_DEV_LATENCY: bucket i counts round trips that took
 * [2^i, 2^(i+1)) microseconds; the last one everything longer.
 */
#define VUB_LATENCY_BUCKETS	24

enum vub_genl_attr {
	VUB_A_UNSPEC,
	VUB_A_INSTANCE_NAME,	/* string, < VUB_NAME_MAX: [a-zA-Z0-9_.-] */
	VUB_A_INSTANCE_ID,	/* u32 */
	VUB_A_INSTANCE_SOCKET,	/* string, absolute path, < VUB_SOCKET_MAX */
	VUB_A_INSTANCE_TYPE,	/* u32, enum vub_instance_type */
	VUB_A_INSTANCE_DEVICES,	/* u32: open devices */
	VUB_A_FORCE,		/* flag */
	VUB_A_DEV_ID,		/* u32 */
	VUB_A_DEV_PID,		/* u32: who opened it (owner once owned) */
	VUB_A_DEV_COMM,		/* string */
	VUB_A_DEV_STATE,	/* u32, enum vub_dev_state */
	VUB_A_DEV_FEATURES,	/* u64: last accepted VHOST_SET_FEATURES */
	VUB_A_DEV_MEM_REGIONS,	/* u32: regions of the accepted memory table */
	VUB_A_DEV_RINGS,	/* u32: bitmask of rings with a backend attached */
	VUB_A_DEV_IOCTLS,	/* u64: ioctls issued */
	VUB_A_DEV_ERRORS,	/* u64: ioctls that failed */
	VUB_A_DEV_LATENCY,	/* binary: __u64[VUB_LATENCY_BUCKETS] */
	VUB_A_BACKEND_STATE,	/* u32, enum vub_backend_state */
	VUB_A_BRIDGE_ATTACHED,	/* u8: 1 if a daemon is attached */
	VUB_A_BRIDGE_PID,	/* u32 */
	VUB_A_BRIDGE_COMM,	/* string */
	VUB_A_BRIDGE_TAGS,	/* u32: slots */
	VUB_A_BRIDGE_INFLIGHT,	/* u32: requests queued or with the daemon */
	VUB_A_BRIDGE_REQUESTS,	/* u64: requests handed to daemons, ever */
	VUB_A_BRIDGE_TIMEOUTS,	/* u64: requests that timed out, ever */
	VUB_A_PAD,
	/*
	 * u64: the virtio features the daemon negotiated with the back-end
	 * (its SET_FEATURES, without bit 30): the VMM's VHOST_SET_FEATURES
	 * plus the offloads (CSUM, GUEST_CSUM, HOST_TSO4, ...) the VMM agreed
	 * on with its guest, which a vhost-kernel VMM negotiates with its tap
	 * and the daemon learns from it.  0 until negotiated.
	 */
	VUB_A_BACKEND_FEATURES,
	/*
	 * u64: virtio-net offloads (feature bits) the guest may use towards
	 * the back-end that the back-end does not offer: frames the guest
	 * sends with them (partial checksums, GSO) are not finished.
	 */
	VUB_A_BACKEND_OFFLOADS_MISSING,
	/*
	 * u32: times the daemon reconnected the device to its back-end and
	 * replayed its state after the connection was lost.
	 */
	VUB_A_BACKEND_RECONNECTS,
	/*
	 * u32: requests waiting for a free slot (part of BRIDGE_INFLIGHT);
	 * they are served round-robin by process.
	 */
	VUB_A_BRIDGE_QUEUED,
	/* u32: the processes those requests belong to */
	VUB_A_BRIDGE_QUEUED_PROCS,
	/*
	 * u64: requests refused, ever, because their process already had
	 * max_queued_per_process (a module parameter) waiting: the VMM's
	 * ioctl failed with EAGAIN.
	 */
	VUB_A_BRIDGE_REFUSED,
	/* u32, enum vub_mem_policy: the instance's; absent: VUB_MEM_DEFAULT */
	VUB_A_INSTANCE_MEM_POLICY,

	__VUB_A_MAX,
};

#define VUB_A_MAX (__VUB_A_MAX - 1)

#endif /* _UAPI_LINUX_VHOST_USER_BRIDGE_H */
