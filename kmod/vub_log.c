// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: the dirty log.
 *
 * vhost-net writes dirty bits straight into the VMM's log, ordinary memory
 * of the VMM (QEMU's is g_malloc0()ed) whose address VHOST_SET_LOG_BASE
 * gives; the VMM reads and clears it whenever it likes, without telling the
 * kernel.  A vhost-user back-end writes bits into a log it mmap()s from a
 * file (VHOST_USER_SET_LOG_BASE, protocol feature LOG_SHMFD).  So the log a
 * back-end gets is a file of ours whose mappings map the VMM's own log
 * pages: at VHOST_SET_LOG_BASE, in the VMM's context, its log pages are
 * pinned (FOLL_LONGTERM, charged to its RLIMIT_MEMLOCK as pinned memory),
 * and the file maps exactly those pages.  A bit the back-end sets is in the
 * VMM's log at once, with no copy and nothing to fold: the VMM sees it at
 * its next sync and before GET_VRING_BASE returns (the back-end has written
 * it before it answers).
 *
 * The pins belong to the file, which every mapping of it references: they
 * go when the last descriptor and the last mapping are gone, so a back-end
 * can never write to a page that went back to the allocator.  A VMM that
 * frees or remaps its log meanwhile leaves the pinned pages orphaned: the
 * back-end's bits land there, and nobody reads them.  The pinned anonymous
 * pages are exclusive to the VMM (a fork copies them for the child), so the
 * VMM keeps seeing the back-end's writes after a fork.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "vub.h"

/*
 * Largest log pinned: 1 GiB, the log of 32 TiB of guest physical address
 * space.  Beyond it the array of pages alone would need more than 2 MiB.
 */
#define VUB_LOG_MAX	BIT_ULL(30)

/* vhost's log: one bit per 4 KiB page of guest physical memory. */
#define VUB_LOG_PAGE	0x1000ULL

/**
 * struct vub_log - pinned pages of a VMM's dirty log
 * @mm: the VMM's mm (grabbed), charged for the pins.
 * @pages: the pinned pages, from the one holding the log's first byte.
 * @nr_pages: entries of @pages.
 * @size: bytes of log the file offers, from offset_in_page(base).
 */
struct vub_log {
	struct mm_struct	*mm;
	struct page		**pages;
	unsigned long		nr_pages;
	u64			size;
};

/*
 * Charge @n pinned pages to @mm, as RDMA and io_uring charge theirs
 * (mm->pinned_vm against RLIMIT_MEMLOCK, unless CAP_IPC_LOCK).
 */
static int vub_log_charge(struct mm_struct *mm, unsigned long n)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 now = atomic64_add_return(n, &mm->pinned_vm);

	if (now > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(n, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

static void vub_log_free(struct vub_log *log, unsigned long pinned)
{
	if (pinned)
		unpin_user_pages_dirty_lock(log->pages, pinned, true);
	atomic64_sub(log->nr_pages, &log->mm->pinned_vm);
	mmdrop(log->mm);
	kvfree(log->pages);
	kfree(log);
}

static int vub_log_release(struct inode *inode, struct file *file)
{
	struct vub_log *log = file->private_data;

	vub_log_free(log, log->nr_pages);
	return 0;
}

/*
 * Map the pinned pages, shared only: a private mapping would copy them.
 * vm_insert_page() refuses anonymous pages, so they are mapped as raw PFNs
 * (VM_PFNMAP: no rmap, no reference taken by the mapping); the mapping keeps
 * the file, and the file the pins, alive.
 */
static int vub_log_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vub_log *log = file->private_data;
	unsigned long i, n = vma_pages(vma);
	int ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= log->nr_pages || n > log->nr_pages - vma->vm_pgoff)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		ret = remap_pfn_range(vma, vma->vm_start + i * PAGE_SIZE,
				      page_to_pfn(log->pages[vma->vm_pgoff + i]),
				      PAGE_SIZE, vma->vm_page_prot);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct file_operations vub_log_fops = {
	.owner		= THIS_MODULE,
	.release	= vub_log_release,
	.mmap		= vub_log_mmap,
	.llseek		= noop_llseek,
};

/**
 * vub_log_need() - the log a memory table needs
 * @mem: a checked memory table (header and regions).
 *
 * Return: bytes of log covering every region's last guest physical address
 * at one bit per 4 KiB, rounded up to 8 bytes (whole u64 words, as QEMU
 * allocates it and DPDK writes it); 0 for no regions.
 */
u64 vub_log_need(const struct vhost_memory *mem)
{
	u64 last, need = 0;
	unsigned int i;

	for (i = 0; i < mem->nregions; i++) {
		const struct vhost_memory_region *r = &mem->regions[i];

		if (!r->memory_size)
			continue;
		last = r->guest_phys_addr + r->memory_size - 1;
		need = max(need, last / (VUB_LOG_PAGE * 8) + 1);
	}
	return round_up(need, 8);
}

/**
 * vub_log_pin() - a file mapping @size bytes of the caller's log at @base
 * @base: the log's address in the calling VMM.
 * @size: bytes the log must have (vub_log_need()), not 0.
 *
 * Pins the pages of [@base, @base + @size) of current->mm for writing, for
 * the long term, charged to the VMM's RLIMIT_MEMLOCK.
 *
 * Return: the file, or ERR_PTR: -EFAULT when the range is not the VMM's
 * writable memory (as vhost-net for a log it cannot reach), -ENOMEM beyond
 * RLIMIT_MEMLOCK or VUB_LOG_MAX, or when out of memory.
 */
struct file *vub_log_pin(u64 base, u64 size)
{
	unsigned long first, nr, pinned = 0;
	struct vub_log *log;
	struct file *file;
	u64 end;
	int ret;

	if (!size || check_add_overflow(base, size, &end) ||
	    !access_ok(u64_to_user_ptr(base), size))
		return ERR_PTR(-EFAULT);
	if (size > VUB_LOG_MAX) {
		pr_warn_ratelimited("%s[%d]: dirty log of %llu bytes for the memory table: more than %llu; failing with ENOMEM\n",
				    current->comm, task_tgid_nr(current), size,
				    VUB_LOG_MAX);
		return ERR_PTR(-ENOMEM);
	}
	first = base & PAGE_MASK;
	nr = (PAGE_ALIGN(end) - first) >> PAGE_SHIFT;

	log = kzalloc(sizeof(*log), GFP_KERNEL_ACCOUNT);
	if (!log)
		return ERR_PTR(-ENOMEM);
	log->size = size;
	log->nr_pages = nr;
	log->mm = current->mm;
	mmgrab(log->mm);
	ret = vub_log_charge(log->mm, nr);
	if (ret) {
		pr_warn_ratelimited("%s[%d]: pinning a dirty log of %lu pages exceeds RLIMIT_MEMLOCK; failing with ENOMEM\n",
				    current->comm, task_tgid_nr(current), nr);
		goto err_drop;
	}
	ret = -ENOMEM;
	log->pages = kvmalloc_array(nr, sizeof(*log->pages), GFP_KERNEL_ACCOUNT);
	if (!log->pages)
		goto err_uncharge;
	while (pinned < nr) {
		ret = pin_user_pages_fast(first + pinned * PAGE_SIZE,
					  nr - pinned, FOLL_WRITE | FOLL_LONGTERM,
					  log->pages + pinned);
		if (ret <= 0) {
			ret = -EFAULT;
			goto err_unpin;
		}
		pinned += ret;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_unpin;
		}
	}
	file = anon_inode_getfile("[vub-log]", &vub_log_fops, log, O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_unpin;
	}
	return file;

err_unpin:
	vub_log_free(log, pinned);
	return ERR_PTR(ret);
err_uncharge:
	atomic64_sub(nr, &log->mm->pinned_vm);
err_drop:
	mmdrop(log->mm);
	kfree(log);
	return ERR_PTR(ret);
}

/* Bytes of log @file (from vub_log_pin()) offers. */
u64 vub_log_size(struct file *file)
{
	return ((struct vub_log *)file->private_data)->size;
}
