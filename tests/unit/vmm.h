/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A VMM's vhost ioctls as the kernel module forwards them to the daemon:
 * struct vub_req, the payload, for VHOST_SET_MEM_TABLE the memory pieces,
 * and the fds the kernel would install.  Each request is checked with
 * vub_dev_check_request() and answered by vub_dev_ioctl(), so host tests
 * exercise the daemon's translation without the kernel.
 */
#ifndef VUB_TEST_VMM_H
#define VUB_TEST_VMM_H

#include "../../bridged/vub_dev.h"

#include <stdint.h>

/*
 * One ioctl: @arg (@len bytes) as the VMM passes it, @fds/@nfds the files
 * the kernel installs for it; @out receives the reply of a GET ioctl.
 * Returns the ioctl's result, 0 or -errno (-EINVAL if the request itself is
 * malformed, with a diagnostic line).
 */
int vmm_ioctl(struct vub_dev *d, uint32_t ioctl, const void *arg, uint32_t len,
	      const int *fds, uint32_t nfds, void *out);

int vmm_u64(struct vub_dev *d, uint32_t ioctl, uint64_t v);
int vmm_state(struct vub_dev *d, uint32_t ioctl, uint32_t idx, uint32_t num);
/* KICK/CALL/ERR/NET_SET_BACKEND: fd -1 is VHOST_FILE_UNBIND (no fd sent). */
int vmm_file(struct vub_dev *d, uint32_t ioctl, uint32_t idx, int fd);
int vmm_get_base(struct vub_dev *d, uint32_t idx, uint32_t *base);
int vmm_addr(struct vub_dev *d, uint32_t idx, uint64_t desc, uint64_t avail,
	     uint64_t used, uint32_t flags);
/* SET_MEM_TABLE of @nregions regions, resolved as the kernel resolves them
 * into @npieces pieces of the files @fds. */
int vmm_mem_table(struct vub_dev *d, const struct vhost_memory_region *regions,
		  uint32_t nregions, const struct vub_mem_piece *pieces,
		  uint32_t npieces, const int *fds, uint32_t nfds);

/* SET_LOG_BASE as the kernel sends it: the log file @fd and @li (NULL:
 * none, as a kernel without dirty logging would send it). */
int vmm_log_base(struct vub_dev *d, uint64_t base, const struct vub_log_info *li, int fd);

#endif
