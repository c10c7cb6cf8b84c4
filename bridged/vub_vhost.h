/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost ioctls the kernel forwards to the daemon, declared once.
 *
 * VUB_VHOST_IOCTLS(X) lists X(ioctl, in_len, out_len, arg): the payload
 * the daemon receives (in_len bytes; for VHOST_SET_MEM_TABLE the fixed
 * header, followed by 32 bytes per region), the reply it returns (out_len
 * bytes), and how to read the argument.  It generates the index enum (for
 * dispatch tables) and the descriptor table, so the daemon and the tests
 * cannot disagree on what is forwarded.
 */
#ifndef VUB_VHOST_H
#define VUB_VHOST_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vhost.h>

enum vub_arg {
	VUB_ARG_NONE,	/* no argument */
	VUB_ARG_U64,	/* __u64 */
	VUB_ARG_FD,	/* int fd (VHOST_SET_LOG_FD) */
	VUB_ARG_STATE,	/* struct vhost_vring_state */
	VUB_ARG_ADDR,	/* struct vhost_vring_addr */
	VUB_ARG_FILE,	/* struct vhost_vring_file */
	VUB_ARG_MEM,	/* struct vhost_memory + regions */
};

#define VUB_VHOST_IOCTLS(X)						\
	X(VHOST_GET_FEATURES,			0,  8, VUB_ARG_U64)	\
	X(VHOST_SET_FEATURES,			8,  0, VUB_ARG_U64)	\
	X(VHOST_SET_OWNER,			0,  0, VUB_ARG_NONE)	\
	X(VHOST_RESET_OWNER,			0,  0, VUB_ARG_NONE)	\
	X(VHOST_SET_MEM_TABLE,			8,  0, VUB_ARG_MEM)	\
	X(VHOST_SET_LOG_BASE,			8,  0, VUB_ARG_U64)	\
	X(VHOST_SET_LOG_FD,			4,  0, VUB_ARG_FD)	\
	X(VHOST_SET_VRING_NUM,			8,  0, VUB_ARG_STATE)	\
	X(VHOST_SET_VRING_BASE,			8,  0, VUB_ARG_STATE)	\
	X(VHOST_SET_VRING_ENDIAN,		8,  0, VUB_ARG_STATE)	\
	X(VHOST_SET_VRING_BUSYLOOP_TIMEOUT,	8,  0, VUB_ARG_STATE)	\
	X(VHOST_SET_VRING_ADDR,			40, 0, VUB_ARG_ADDR)	\
	X(VHOST_GET_VRING_BASE,			8,  8, VUB_ARG_STATE)	\
	X(VHOST_GET_VRING_ENDIAN,		8,  8, VUB_ARG_STATE)	\
	X(VHOST_GET_VRING_BUSYLOOP_TIMEOUT,	8,  8, VUB_ARG_STATE)	\
	X(VHOST_SET_VRING_KICK,			8,  0, VUB_ARG_FILE)	\
	X(VHOST_SET_VRING_CALL,			8,  0, VUB_ARG_FILE)	\
	X(VHOST_SET_VRING_ERR,			8,  0, VUB_ARG_FILE)	\
	X(VHOST_SET_BACKEND_FEATURES,		8,  0, VUB_ARG_U64)	\
	X(VHOST_GET_BACKEND_FEATURES,		0,  8, VUB_ARG_U64)	\
	X(VHOST_NET_SET_BACKEND,		8,  0, VUB_ARG_FILE)

enum vub_vhost_idx {
#define VUB_X_IDX(ioc, in, out, arg) VUB_IDX_##ioc,
	VUB_VHOST_IOCTLS(VUB_X_IDX)
#undef VUB_X_IDX
	VUB_VHOST_NR
};

struct vub_vhost_ioctl {
	uint32_t ioctl;
	enum vub_vhost_idx idx;
	const char *name;
	uint32_t in_len;	/* exact, or the minimum for VUB_ARG_MEM */
	uint32_t out_len;
	enum vub_arg arg;
};

/* Indexed by enum vub_vhost_idx. */
extern const struct vub_vhost_ioctl vub_vhost_ioctls[VUB_VHOST_NR];

/* The descriptor of a forwarded ioctl, or NULL. */
const struct vub_vhost_ioctl *vub_vhost_find(uint32_t ioctl);

/* 0 when @len bytes of @payload have the size @d expects, else -EINVAL. */
int vub_vhost_check_payload(const struct vub_vhost_ioctl *d,
			    const void *payload, uint32_t len);

/* Number of fds the kernel installs for this payload: 1 when it has an fd
 * field that is not VHOST_FILE_UNBIND (-1), else 0.  Payload must be checked. */
uint32_t vub_vhost_nr_fds(const struct vub_vhost_ioctl *d, const void *payload);

/* One-line human summary of a checked payload, snprintf-style. */
int vub_vhost_format(const struct vub_vhost_ioctl *d, const void *payload,
		     uint32_t len, char *buf, size_t size);

#endif /* VUB_VHOST_H */
