/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The io_uring command and fd-passing APIs changed between the kernels we
 * support.  Every difference lives here.  Verified against Debian's 6.1.x and
 * 6.12.x headers (the version cut-offs in between are upstream's).
 */
#ifndef _VUB_COMPAT_H
#define _VUB_COMPAT_H

#include <linux/version.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/mm.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

/* The 80-byte command area of an SQE128 submission. */
static inline const void *vub_cmd_area(const struct io_uring_cmd *cmd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return io_uring_sqe_cmd(cmd->sqe);
#else
	return cmd->cmd;
#endif
}

/*
 * Newer kernels call ->uring_cmd with IO_URING_F_CANCEL for parked commands
 * when their ring goes away; on older ones the driver notices the daemon's
 * exit itself (->flush of the control file).
 */
#ifdef IORING_URING_CMD_CANCELABLE
#define VUB_HAVE_CMD_CANCEL 1
#define vub_mark_cancelable(cmd, issue_flags) \
	io_uring_cmd_mark_cancelable(cmd, issue_flags)
#else
#define VUB_HAVE_CMD_CANCEL 0
#define IO_URING_F_CANCEL 0
#define IO_URING_F_TASK_DEAD 0
#define vub_mark_cancelable(cmd, issue_flags) do { } while (0)
#endif

/* One page of @mm at @addr, referenced; mmap_lock held. */
static inline long vub_gup_remote(struct mm_struct *mm, unsigned long addr,
				  unsigned int gup_flags, struct page **page)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL);
#else
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL, NULL);
#endif
}

/* vm_flags became read-only outside these helpers in 6.3. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define vub_vm_flags_set(vma, flags)	vm_flags_set(vma, flags)
#define vub_vm_flags_clear(vma, flags)	vm_flags_clear(vma, flags)
#else
#define vub_vm_flags_set(vma, flags)	((vma)->vm_flags |= (flags))
#define vub_vm_flags_clear(vma, flags)	((vma)->vm_flags &= ~(flags))
#endif

#endif /* _VUB_COMPAT_H */
