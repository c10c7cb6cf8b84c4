// SPDX-License-Identifier: GPL-2.0-only
/* A VMM's vhost ioctls as the kernel forwards them (see vmm.h). */
#include "vmm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridged/vub_vhost.h"

#define REQ_BUF	65536

static uint64_t seq;

/* Lay out a request as the kernel does; returns the payload. */
static const void *build(void *buf, uint32_t ioctl, const void *payload,
			 uint32_t len, const void *ext, uint32_t ext_len,
			 const int *fds, uint32_t nfds)
{
	const struct vub_vhost_ioctl *d = vub_vhost_find(ioctl);
	struct vub_req *r = buf;
	uint32_t off = (sizeof(*r) + len + 7) & ~7u;

	memset(buf, 0, REQ_BUF);
	*r = (struct vub_req){
		.op = VUB_OP_IOCTL, .hdr_len = sizeof(*r), .dev_id = 7,
		.seq = ++seq, .ioctl = ioctl, .payload_len = len,
		.reply_len = d ? d->out_len : 0, .nr_fds = nfds, .vmm_pid = 1234,
	};
	if (len)
		memcpy((char *)buf + sizeof(*r), payload, len);
	if (ext_len) {
		r->ext_offset = off;
		r->ext_len = ext_len;
		memcpy((char *)buf + off, ext, r->ext_len);
		off = (off + r->ext_len + 7) & ~7u;
	}
	if (nfds) {
		r->fd_offset = off;
		memcpy((char *)buf + off, fds, nfds * sizeof(int));
	}
	return (const char *)buf + sizeof(*r);
}

static int submit(struct vub_dev *d, uint32_t ioctl, const void *arg,
		  uint32_t len, const void *ext, uint32_t ext_len,
		  const int *fds, uint32_t nfds, void *out)
{
	unsigned char reply[VUB_REPLY_MAX] = { 0 };
	uint32_t reply_len = 0;
	const struct vub_req *r;
	const void *p;
	char why[256];
	void *buf;
	int ret;

	buf = aligned_alloc(8, REQ_BUF);
	if (!buf)
		return -ENOMEM;
	p = build(buf, ioctl, arg, len, ext, ext_len, fds, nfds);
	r = buf;
	if (vub_dev_check_request(r, p, why, sizeof(why))) {
		printf("# request rejected: %s\n", why);
		free(buf);
		return -EINVAL;
	}
	ret = vub_dev_ioctl(d, vub_vhost_find(r->ioctl), r, p, nfds ? (const int *)((char *)buf + r->fd_offset) : NULL,
			    reply, &reply_len);
	if (!ret && reply_len != r->reply_len) {
		printf("# reply_len %u, expected %u\n", reply_len, r->reply_len);
		ret = -EIO;
	}
	if (!ret && out)
		memcpy(out, reply, reply_len);
	free(buf);
	return ret;
}

int vmm_ioctl(struct vub_dev *d, uint32_t ioctl, const void *arg, uint32_t len,
	      const int *fds, uint32_t nfds, void *out)
{
	return submit(d, ioctl, arg, len, NULL, 0, fds, nfds, out);
}

int vmm_u64(struct vub_dev *d, uint32_t ioctl, uint64_t v)
{
	return vmm_ioctl(d, ioctl, &v, sizeof(v), NULL, 0, NULL);
}

int vmm_state(struct vub_dev *d, uint32_t ioctl, uint32_t idx, uint32_t num)
{
	struct vhost_vring_state s = { idx, num };

	return vmm_ioctl(d, ioctl, &s, sizeof(s), NULL, 0, NULL);
}

int vmm_file(struct vub_dev *d, uint32_t ioctl, uint32_t idx, int fd)
{
	struct vhost_vring_file f = { idx, fd };

	return vmm_ioctl(d, ioctl, &f, sizeof(f), fd >= 0 ? &fd : NULL, fd >= 0, NULL);
}

int vmm_get_base(struct vub_dev *d, uint32_t idx, uint32_t *base)
{
	struct vhost_vring_state s = { idx, 0 };
	int ret = vmm_ioctl(d, VHOST_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &s);

	*base = s.num;
	return ret;
}

int vmm_addr(struct vub_dev *d, uint32_t idx, uint64_t desc, uint64_t avail,
	     uint64_t used, uint32_t flags)
{
	struct vhost_vring_addr a = {
		.index = idx, .flags = flags, .desc_user_addr = desc,
		.avail_user_addr = avail, .used_user_addr = used,
	};

	return vmm_ioctl(d, VHOST_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL);
}

int vmm_mem_table(struct vub_dev *d, const struct vhost_memory_region *regions,
		  uint32_t nregions, const struct vub_mem_piece *pieces,
		  uint32_t npieces, const int *fds, uint32_t nfds)
{
	size_t len = sizeof(struct vhost_memory) + nregions * sizeof(*regions);
	struct vhost_memory *m = calloc(1, len);
	int ret;

	if (!m)
		return -ENOMEM;
	m->nregions = nregions;
	memcpy(m->regions, regions, nregions * sizeof(*regions));
	ret = submit(d, VHOST_SET_MEM_TABLE, m, (uint32_t)len, pieces,
		     npieces * (uint32_t)sizeof(*pieces), fds, nfds, NULL);
	free(m);
	return ret;
}

int vmm_log_base(struct vub_dev *d, uint64_t base, const struct vub_log_info *li, int fd)
{
	return submit(d, VHOST_SET_LOG_BASE, &base, sizeof(base), li,
		      li ? (uint32_t)sizeof(*li) : 0, fd >= 0 ? &fd : NULL, fd >= 0, NULL);
}
