// SPDX-License-Identifier: GPL-2.0
/* The forwarded vhost ioctls: descriptors, size checks, log summaries. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vub_vhost.h"

const struct vub_vhost_ioctl vub_vhost_ioctls[VUB_VHOST_NR] = {
#define VUB_X_DESC(ioc, in, out, a) \
	[VUB_IDX_##ioc] = { ioc, VUB_IDX_##ioc, #ioc, in, out, a },
	VUB_VHOST_IOCTLS(VUB_X_DESC)
#undef VUB_X_DESC
};

const struct vub_vhost_ioctl *vub_vhost_find(uint32_t ioctl)
{
	size_t i;

	for (i = 0; i < VUB_VHOST_NR; i++)
		if (vub_vhost_ioctls[i].ioctl == ioctl)
			return &vub_vhost_ioctls[i];
	return NULL;
}

int vub_vhost_check_payload(const struct vub_vhost_ioctl *d,
			    const void *payload, uint32_t len)
{
	struct vhost_memory mem;

	if (d->arg != VUB_ARG_MEM)
		return len == d->in_len ? 0 : -EINVAL;
	if (len < sizeof(mem))
		return -EINVAL;
	memcpy(&mem, payload, sizeof(mem));
	if (len != sizeof(mem) + (uint64_t)mem.nregions * sizeof(struct vhost_memory_region))
		return -EINVAL;
	return 0;
}

uint32_t vub_vhost_nr_fds(const struct vub_vhost_ioctl *d, const void *payload)
{
	struct vhost_vring_file f;
	int fd;

	switch (d->arg) {
	case VUB_ARG_FD:
		memcpy(&fd, payload, sizeof(fd));
		return fd != VHOST_FILE_UNBIND;
	case VUB_ARG_FILE:
		memcpy(&f, payload, sizeof(f));
		return f.fd != VHOST_FILE_UNBIND;
	default:
		return 0;
	}
}

#define REGIONS_SHOWN 4

int vub_vhost_format(const struct vub_vhost_ioctl *d, const void *payload,
		     uint32_t len, char *buf, size_t size)
{
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	struct vhost_memory_region r;
	struct vhost_memory m;
	uint64_t u;
	size_t n;
	int fd;
	uint32_t i;

	if (vub_vhost_check_payload(d, payload, len))
		return snprintf(buf, size, "<%u bytes, expected %u%s>", len, d->in_len,
				d->arg == VUB_ARG_MEM ? " + 32 * nregions" : "");
	switch (d->arg) {
	case VUB_ARG_NONE:
		return snprintf(buf, size, "{}");
	case VUB_ARG_U64:
		if (!len)	/* GET_*FEATURES: nothing in, u64 out */
			return snprintf(buf, size, "{}");
		memcpy(&u, payload, sizeof(u));
		return snprintf(buf, size, "%#llx", (unsigned long long)u);
	case VUB_ARG_FD:
		memcpy(&fd, payload, sizeof(fd));
		return snprintf(buf, size, "{fd=%d}", fd);
	case VUB_ARG_STATE:
		memcpy(&s, payload, sizeof(s));
		return snprintf(buf, size, "{index=%u num=%u}", s.index, s.num);
	case VUB_ARG_FILE:
		memcpy(&f, payload, sizeof(f));
		return snprintf(buf, size, "{index=%u fd=%d}", f.index, f.fd);
	case VUB_ARG_ADDR:
		memcpy(&a, payload, sizeof(a));
		return snprintf(buf, size,
				"{index=%u flags=%#x desc=%#llx used=%#llx avail=%#llx log=%#llx}",
				a.index, a.flags, (unsigned long long)a.desc_user_addr,
				(unsigned long long)a.used_user_addr,
				(unsigned long long)a.avail_user_addr,
				(unsigned long long)a.log_guest_addr);
	case VUB_ARG_MEM:
		memcpy(&m, payload, sizeof(m));
		n = snprintf(buf, size, "{nregions=%u padding=%u", m.nregions, m.padding);
		for (i = 0; i < m.nregions && i < REGIONS_SHOWN; i++) {
			memcpy(&r, (const char *)payload + sizeof(m) + i * sizeof(r), sizeof(r));
			n += snprintf(buf + (n < size ? n : size), n < size ? size - n : 0,
				      " [gpa=%#llx size=%#llx uaddr=%#llx flags=%#llx]",
				      (unsigned long long)r.guest_phys_addr,
				      (unsigned long long)r.memory_size,
				      (unsigned long long)r.userspace_addr,
				      (unsigned long long)r.flags_padding);
		}
		n += snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s}",
			      m.nregions > REGIONS_SHOWN ? " ..." : "");
		return (int)n;
	}
	return snprintf(buf, size, "?");
}
