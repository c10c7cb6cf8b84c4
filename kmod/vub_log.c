// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: the dirty log.
 *
 * vhost-net writes dirty bits straight into the VMM's log, ordinary memory
 * of the VMM (QEMU's is g_malloc0()ed) whose address VHOST_SET_LOG_BASE
 * gives; the VMM reads and clears it whenever it likes, without telling the
 * kernel.  A vhost-user back-end writes bits into a log it mmap()s from a
 * file (VHOST_USER_SET_LOG_BASE, protocol feature LOG_SHMFD).  The log's
 * first byte must be at a page boundary of that file: DPDK maps mmap_size
 * bytes from file offset mmap_offset and then adds mmap_offset again, so
 * only an offset of 0 works, and the VMM's log is rarely page-aligned.
 *
 * So the back-end gets a log of the module's own (the shadow: zeroed
 * vmalloc_user() memory, offset 0), and the module folds it into the VMM's
 * log: each non-zero word is taken with xchg() and its bytes ORed into the
 * VMM's pages with cmpxchg() (the VMM swaps its words with zero as it syncs),
 * through pins taken at VHOST_SET_LOG_BASE in the VMM's context
 * (FOLL_LONGTERM, charged to its RLIMIT_MEMLOCK as pinned memory).  A fold
 * runs every log_fold_ms while the log is in use, and synchronously after
 * the back-end answered VHOST_GET_VRING_BASE or VHOST_NET_SET_BACKEND, and
 * before an old log is let go: every bit the back-end set before it stopped
 * a ring is in the VMM's log when GET_VRING_BASE returns, and a bit set while
 * it runs is there within log_fold_ms, so at the VMM's next sync at the
 * latest.  Nothing is lost: a bit reaches the VMM's log once.
 *
 * The pins belong to the log, which lives as long as the device uses it and
 * the back-end maps it.  A VMM that frees or remaps its log meanwhile leaves
 * the pinned pages orphaned: folds land there, and nobody reads them.  The
 * pinned anonymous pages are exclusive to the VMM (a fork copies them for the
 * child), so the VMM keeps seeing the folds after a fork.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "vub.h"

static unsigned int log_fold_ms = 50;
module_param(log_fold_ms, uint, 0644);
MODULE_PARM_DESC(log_fold_ms,
		 "How often the dirty bits a vhost-user back-end set are folded into the VMM's log while it migrates, in ms (default 50; 1..10000)");

/*
 * Largest log: 1 GiB, the log of 32 TiB of guest physical address space.
 * Beyond it the array of pages alone would need more than 2 MiB.
 */
#define VUB_LOG_MAX	BIT_ULL(30)

/**
 * struct vub_log - a VMM's dirty log and the back-end's shadow of it
 * @ref: one for the device while it uses the log, one per log file.
 * @work: the periodic fold, while @active.
 * @active: the device uses the log: keep folding.
 * @mm: the VMM's mm (grabbed), charged for the pins.
 * @pages: the VMM's log pages, pinned, from the one holding its first byte.
 * @nr_pages: entries of @pages.
 * @offset: the log's first byte in @pages[0].
 * @size: bytes of log.
 * @shadow: the log the back-end maps (vmalloc_user(), page-rounded).
 */
struct vub_log {
	struct kref		ref;
	struct delayed_work	work;
	bool			active;
	struct mm_struct	*mm;
	struct page		**pages;
	unsigned long		nr_pages;
	unsigned int		offset;
	u64			size;
	u64			*shadow;
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

/* Undo vub_log_create() up to @pinned pinned pages. */
static void vub_log_destroy(struct vub_log *log, unsigned long pinned)
{
	if (pinned)
		unpin_user_pages_dirty_lock(log->pages, pinned, true);
	atomic64_sub(log->nr_pages, &log->mm->pinned_vm);
	mmdrop(log->mm);
	vfree(log->shadow);
	kvfree(log->pages);
	kfree(log);
}

static void vub_log_release_ref(struct kref *ref)
{
	struct vub_log *log = container_of(ref, struct vub_log, ref);

	vub_log_destroy(log, log->nr_pages);
}

/* OR @v into byte @off of the VMM's log, atomically against its swaps. */
static void vub_log_or(struct vub_log *log, u64 off, u8 v)
{
	u64 at = log->offset + off;
	unsigned int in = at & ~PAGE_MASK, shift;
	u8 *kaddr = kmap_local_page(log->pages[at >> PAGE_SHIFT]);
	u32 *w = (u32 *)(kaddr + (in & ~3U));
	u32 old = READ_ONCE(*w);

	shift = (IS_ENABLED(CONFIG_CPU_BIG_ENDIAN) ? 3 - (in & 3) : in & 3) * 8;
	while (!try_cmpxchg(w, &old, old | ((u32)v << shift)))
		;
	kunmap_local(kaddr);
}

/**
 * vub_log_fold() - move the bits the back-end set into the VMM's log
 * @log: the log.
 *
 * Each non-zero word of the shadow is taken (xchg() with 0) and its bytes
 * ORed into the VMM's log.  Safe against concurrent folds and writes.
 */
void vub_log_fold(struct vub_log *log)
{
	unsigned long i, n = log->size / 8;
	unsigned int b;
	u8 bytes[8];
	u64 v;

	for (i = 0; i < n; i++) {
		if (!READ_ONCE(log->shadow[i]))
			continue;
		v = xchg(&log->shadow[i], 0);
		memcpy(bytes, &v, sizeof(bytes));	/* the log is bytes */
		for (b = 0; b < 8; b++)
			if (bytes[b])
				vub_log_or(log, i * 8 + b, bytes[b]);
	}
}

static unsigned long vub_log_period(void)
{
	return msecs_to_jiffies(clamp(READ_ONCE(log_fold_ms), 1U, 10000U));
}

static void vub_log_work(struct work_struct *work)
{
	struct vub_log *log = container_of(to_delayed_work(work),
					   struct vub_log, work);

	vub_log_fold(log);
	if (READ_ONCE(log->active))
		schedule_delayed_work(&log->work, vub_log_period());
}

/**
 * vub_log_put() - the device is done with @log
 * @log: from vub_log_create().
 *
 * Stops the periodic fold, folds what the back-end set so far (it has
 * switched to another log, or the device is going away), and drops the
 * device's reference; the back-end's mapping keeps the rest alive.
 */
void vub_log_put(struct vub_log *log)
{
	WRITE_ONCE(log->active, false);
	cancel_delayed_work_sync(&log->work);
	vub_log_fold(log);
	kref_put(&log->ref, vub_log_release_ref);
}

static int vub_log_file_release(struct inode *inode, struct file *file)
{
	struct vub_log *log = file->private_data;

	kref_put(&log->ref, vub_log_release_ref);
	return 0;
}

/* Map the shadow, shared only: a private mapping would copy it. */
static int vub_log_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vub_log *log = file->private_data;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	return remap_vmalloc_range(vma, log->shadow, vma->vm_pgoff);
}

static const struct file_operations vub_log_fops = {
	.owner		= THIS_MODULE,
	.release	= vub_log_file_release,
	.mmap		= vub_log_mmap,
	.llseek		= noop_llseek,
};

/**
 * vub_log_file() - a file the back-end maps the shadow of @log from
 * @log: the log.
 *
 * Return: the file (holding a reference to @log), or ERR_PTR.
 */
struct file *vub_log_file(struct vub_log *log)
{
	struct file *file;

	kref_get(&log->ref);
	file = anon_inode_getfile("[vub-log]", &vub_log_fops, log, O_RDWR);
	if (IS_ERR(file))
		kref_put(&log->ref, vub_log_release_ref);
	return file;
}

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
		need = max(need, last / (0x1000ULL * 8) + 1);
	}
	return round_up(need, 8);
}

/**
 * vub_log_create() - pin the caller's log at @base, @size bytes, and start
 *	folding a shadow of it into it
 * @base: the log's address in the calling VMM.
 * @size: bytes the log must have (vub_log_need()), not 0.
 *
 * Pins the pages of [@base, @base + @size) of current->mm for writing, for
 * the long term, charged to the VMM's RLIMIT_MEMLOCK.
 *
 * Return: the log (one reference, the device's: vub_log_put()), or ERR_PTR:
 * -EFAULT when the range is not the VMM's writable memory (as vhost-net for
 * a log it cannot reach), -ENOMEM beyond RLIMIT_MEMLOCK or VUB_LOG_MAX, or
 * when out of memory.
 */
struct vub_log *vub_log_create(u64 base, u64 size)
{
	unsigned long first, nr, pinned = 0;
	struct vub_log *log;
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
	kref_init(&log->ref);
	INIT_DELAYED_WORK(&log->work, vub_log_work);
	log->size = size;
	log->offset = offset_in_page(base);
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
	log->shadow = vmalloc_user(PAGE_ALIGN(size));
	if (!log->pages || !log->shadow)
		goto err_destroy;
	while (pinned < nr) {
		ret = pin_user_pages_fast(first + pinned * PAGE_SIZE,
					  nr - pinned, FOLL_WRITE | FOLL_LONGTERM,
					  log->pages + pinned);
		if (ret <= 0) {
			ret = -EFAULT;
			goto err_destroy;
		}
		pinned += ret;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_destroy;
		}
	}
	log->active = true;
	schedule_delayed_work(&log->work, vub_log_period());
	return log;

err_destroy:
	vub_log_destroy(log, pinned);
	return ERR_PTR(ret);
err_drop:
	mmdrop(log->mm);
	kfree(log);
	return ERR_PTR(ret);
}

/* Bytes of log @log covers. */
u64 vub_log_size(const struct vub_log *log)
{
	return log->size;
}
