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

/*
 * Control commands, in the cmd_op field of the SQE.  They use ioctl-style
 * encoding in the vhost ioctl space (0xAF), numbers vhost itself does not use.
 */
#define VUB_U_CMD_ATTACH		_IOWR(0xAF, 0xE0, struct vub_attach)
#define VUB_U_IO_FETCH			_IOWR(0xAF, 0xE1, struct vub_io_cmd)
#define VUB_U_IO_COMMIT_AND_FETCH	_IOWR(0xAF, 0xE2, struct vub_io_cmd)

/**
 * struct vub_attach - VUB_U_CMD_ATTACH: become the bridge daemon
 * @version: highest API version the daemon speaks, at least 1.  The CQE's res
 *	is the version both sides will use (the smaller of the two), or -errno:
 *	-EPERM without CAP_NET_ADMIN, -EBUSY if a daemon is already attached
 *	(or this file already attached once), -EINVAL on bad fields.
 * @flags: VUB_ATTACH_F_* (none defined in version 1; must be 0).
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
 *	array of struct vub_mem_piece describing all of guest memory.
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
	__u64	reserved;
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
 * pieces; adjacent mappings of the same file are merged.  Only shared
 * mappings of files (memfd, shmem, hugetlbfs, regular files) can be handed
 * to a back-end: other memory fails the ioctl (EOPNOTSUPP, unmapped memory
 * EFAULT) with a kernel log line naming the process and the fix.
 */
struct vub_mem_piece {
	__u64	guest_phys_addr;
	__u64	memory_size;
	__u64	userspace_addr;
	__u64	file_offset;
	__u32	fd_index;
	__u32	flags;
};

#endif /* _UAPI_LINUX_VHOST_USER_BRIDGE_H */
