// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: mirrors of guest memory that has no file to share.
 *
 * vhost-net reads and writes guest memory through the VMM's mm, so the VMM
 * may give it private anonymous memory (QEMU's default RAM).  A vhost-user
 * back-end can only mmap() files.  For such memory the module makes a file
 * of its own, a mirror of a range of the VMM's address space: byte x of the
 * file is the byte the VMM sees at start + x, now.
 *
 * The back-end's mapping is filled on demand.  Its fault resolves the VMM's
 * page with GUP on the VMM's mm and maps that page's frame (VM_PFNMAP, no
 * reference kept, no rmap).  An mmu_interval_notifier on the VMM's range
 * zaps the back-end's mappings of the file (unmap_mapping_range()) before
 * the VMM's page table changes there: MADV_DONTNEED, munmap(), COW after a
 * fork, THP split and collapse, migration, swap, KSM, mprotect().  The next
 * access faults again and finds the page the VMM has then, or SIGBUS when
 * it has none.  A fault that raced with an invalidation notices it with
 * mmu_interval_read_begin()/mmu_interval_read_retry(), checked under
 * ->lock, which the invalidation takes to publish its sequence number (the
 * pattern of KVM and HMM mirrors): a frame is only ever mapped if no
 * invalidation of it started since it was looked up, and any invalidation
 * that starts later zaps it.
 *
 * Why a frame the back-end maps is never freed or reused: the page was
 * mapped in the VMM when GUP returned it (with a reference, held until the
 * frame is in the back-end's page table).  Before the kernel frees or reuses
 * a page mapped in the VMM, it unmaps it from the VMM, and every change of
 * the VMM's page table is bracketed by invalidate_range_start/end on its
 * mm (the guarantee KVM relies on for the same frames in its secondary page
 * tables).  Our invalidation returns only after the zap, which flushes the
 * back-end's TLB, so the frame is gone from the back-end before the VMM's
 * page table entry is cleared, let alone the page freed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "vub.h"
#include "vub_compat.h"

#define VUB_MIRROR_MAGIC	0x7675626d	/* "vubm" */

/**
 * struct vub_mirror - a file that shows a range of a VMM's address space
 * @notifier: on [@start, +@size) of the VMM's mm (which it holds grabbed).
 * @lock: orders a fault's check of @notifier's sequence and its insert
 *	against an invalidation publishing a new sequence.
 * @mapping: the file's mappings, zapped at each invalidation.
 * @start: the VMM address of file offset 0, page-aligned.
 * @size: bytes mirrored, page-aligned.
 */
struct vub_mirror {
	struct mmu_interval_notifier	notifier;
	struct mutex			lock;	/* see above */
	struct address_space		*mapping;
	unsigned long			start;
	unsigned long			size;
};

static struct vfsmount *vub_mirror_mnt;

/*
 * Called before the VMM's page table changes in [range->start, range->end).
 * Zapping sleeps, so a non-blocking invalidation (the OOM reaper) is told
 * to come back later.  The zap invalidates the back-end's mm in turn (its
 * own notifiers run nested in ours): a different mm, since a mirror cannot
 * be mapped by the VMM itself (vub_mirror_mmap()).
 */
static bool vub_mirror_invalidate(struct mmu_interval_notifier *mn,
				  const struct mmu_notifier_range *range,
				  unsigned long cur_seq)
{
	struct vub_mirror *m = container_of(mn, struct vub_mirror, notifier);
	unsigned long start = max(range->start, m->start);
	unsigned long end = min(range->end, m->start + m->size);

	if (!mmu_notifier_range_blockable(range))
		return false;
	mutex_lock(&m->lock);
	mmu_interval_set_seq(mn, cur_seq);
	mutex_unlock(&m->lock);
	unmap_mapping_range(m->mapping, start - m->start, end - start, 1);
	return true;
}

static const struct mmu_interval_notifier_ops vub_mirror_mn_ops = {
	.invalidate = vub_mirror_invalidate,
};

static int vub_mirror_pte_noop(pte_t *pte, unsigned long addr, void *data)
{
	return 0;
}

/*
 * The back-end's mmap_lock is held for reading (->fault without ->map_pages
 * is never called under the VMA lock alone).  The VMM's is only tried: the
 * two are of one lock class, and two processes could each be the other's
 * back-end.  When it is contended, the back-end's lock is dropped, the
 * VMM's waited for, and the fault retried, as filemap_fault() does for I/O.
 */
static vm_fault_t vub_mirror_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vub_mirror *m = vma->vm_file->private_data;
	struct mm_struct *mm = m->notifier.mm;
	unsigned int gup = vma->vm_flags & VM_WRITE ? FOLL_WRITE : 0;
	unsigned long addr, seq;
	struct page *page;
	vm_fault_t ret;
	long got;

	if (vmf->pgoff >= m->size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	addr = m->start + (vmf->pgoff << PAGE_SHIFT);
	if (!mmget_not_zero(mm))
		return VM_FAULT_SIGBUS;	/* the VMM is gone */
	/*
	 * Allocate the page table now: vmf_insert_pfn() under ->lock must not
	 * enter reclaim, which can call vub_mirror_invalidate().
	 */
	ret = VM_FAULT_OOM;
	if (apply_to_page_range(vma->vm_mm, vmf->address & PAGE_MASK,
				PAGE_SIZE, vub_mirror_pte_noop, NULL))
		goto out;
	seq = mmu_interval_read_begin(&m->notifier);
	if (!mmap_read_trylock(mm)) {
		ret = VM_FAULT_NOPAGE;
		if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY) ||
		    (vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
			goto out;
		mmap_read_unlock(vma->vm_mm);	/* vma and m are off limits */
		if (!mmap_read_lock_killable(mm))
			mmap_read_unlock(mm);
		ret = VM_FAULT_RETRY;
		goto out;
	}
	got = vub_gup_remote(mm, addr, gup, &page);
	mmap_read_unlock(mm);
	if (got != 1) {
		/* Out of memory, or nothing the VMM can access there. */
		ret = got == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
		goto out;
	}
	mutex_lock(&m->lock);
	if (mmu_interval_read_retry(&m->notifier, seq))
		ret = VM_FAULT_NOPAGE;	/* changed meanwhile: fault again */
	else
		ret = vmf_insert_pfn(vma, vmf->address, page_to_pfn(page));
	mutex_unlock(&m->lock);
	put_page(page);
out:
	/* Not mmput(): the last reference would tear the VMM's mm down here. */
	mmput_async(mm);
	return ret;
}

static const struct vm_operations_struct vub_mirror_vm_ops = {
	.fault = vub_mirror_fault,
};

/*
 * Shared mappings only (a private one would copy frames that are not the
 * mirror's; a shared one of a read-only descriptor is not VM_SHARED).
 * Read-only ones stay read-only: a frame mapped for reading was looked up
 * without FOLL_WRITE.  A fork copies the frames (VM_PFNMAP), and zaps reach
 * the copies: the child's vma joins the file's mappings right after the
 * parent's before the page table is copied, so a zap that comes between
 * reaches the parent's entries first (the order truncation relies on).
 */
static int vub_mirror_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vub_mirror *m = file->private_data;

	if (!(vma->vm_flags & VM_MAYSHARE) || vma->vm_mm == m->notifier.mm)
		return -EINVAL;
	if (!(vma->vm_flags & VM_WRITE))
		vub_vm_flags_clear(vma, VM_MAYWRITE);
	vub_vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &vub_mirror_vm_ops;
	return 0;
}

static int vub_mirror_release(struct inode *inode, struct file *file)
{
	struct vub_mirror *m = file->private_data;

	mmu_interval_notifier_remove(&m->notifier);
	kfree(m);
	return 0;
}

static const struct file_operations vub_mirror_fops = {
	.owner		= THIS_MODULE,
	.mmap		= vub_mirror_mmap,
	.release	= vub_mirror_release,
	.llseek		= noop_llseek,
};

/**
 * vub_mirror_create() - a file that mirrors [@start, +@size) of current->mm
 * @start: page-aligned address.
 * @size: page-aligned length, not 0.
 *
 * Must be called without mmap_lock (registering the notifier may take it).
 *
 * Return: the file (O_RDWR; its size is @size), or ERR_PTR(-ENOMEM).
 */
struct file *vub_mirror_create(unsigned long start, unsigned long size)
{
	struct vub_mirror *m;
	struct inode *inode;
	struct file *file;
	int ret;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return ERR_PTR(-ENOMEM);
	mutex_init(&m->lock);
	m->start = start;
	m->size = size;
	inode = alloc_anon_inode(vub_mirror_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto err_free;
	}
	inode->i_size = size;
	m->mapping = inode->i_mapping;
	ret = mmu_interval_notifier_insert(&m->notifier, current->mm, start,
					   size, &vub_mirror_mn_ops);
	if (ret)
		goto err_iput;
	__module_get(THIS_MODULE);	/* put by __fput(), as for any file */
	file = alloc_file_pseudo(inode, vub_mirror_mnt, "[vub-mirror]",
				 O_RDWR, &vub_mirror_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		ret = PTR_ERR(file);
		mmu_interval_notifier_remove(&m->notifier);
		goto err_iput;
	}
	file->private_data = m;
	return file;

err_iput:
	iput(inode);
err_free:
	kfree(m);
	return ERR_PTR(ret);
}

static int vub_mirror_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, VUB_MIRROR_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type vub_mirror_fs = {
	.name			= "vub-mirror",
	.init_fs_context	= vub_mirror_init_fs_context,
	.kill_sb		= kill_anon_super,
};

int vub_mirror_init(void)
{
	vub_mirror_mnt = kern_mount(&vub_mirror_fs);
	return PTR_ERR_OR_ZERO(vub_mirror_mnt);
}

void vub_mirror_exit(void)
{
	kern_unmount(vub_mirror_mnt);
}
