// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: guest memory.
 *
 * vhost-net reaches guest memory through the VMM's mm; a vhost-user back-end
 * needs it as files it can map.  At VHOST_SET_MEM_TABLE each region
 * [userspace_addr, +memory_size) is resolved in the caller's mm to pieces of
 * shared file mappings, and the files go to the daemon with the request (see
 * struct vub_mem_piece).  Address space the VMM only reserved is left out
 * (vub_mem_is_hole()).  Other memory, private anonymous memory above all
 * (QEMU's default RAM), is refused with a log line that says what to change
 * in the VMM, unless the instance's policy (or the module's, mem_mirror) is
 * to mirror it: each run of it is then handed over as a file of the
 * module's own that shows the VMM's pages (vub_mirror.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/shmem_fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "vub.h"

static bool mem_require_seal;
module_param(mem_require_seal, bool, 0644);
MODULE_PARM_DESC(mem_require_seal,
		 "Refuse guest memory whose file cannot be sealed against shrinking (F_SEAL_SHRINK): only memfds that allow sealing, e.g. QEMU's memory-backend-memfd (default off: DPDK's memory cannot be sealed)");

static bool mem_mirror;
module_param(mem_mirror, bool, 0644);
MODULE_PARM_DESC(mem_mirror,
		 "Hand the vhost-user back-end a mirror of guest memory it cannot map (private anonymous memory, e.g. QEMU's default RAM) instead of refusing it with EOPNOTSUPP, on instances without a policy of their own (default off)");

/*
 * @files[i] is NULL for a mirror until vub_mem_add_mirrors() makes it; its
 * pieces' file_offset is 0 until then.
 */
struct vub_mem_ctx {
	bool			mirror;
	struct vub_mem_piece	*pieces;
	unsigned int		nr_pieces;
	struct file		**files;
	unsigned int		nr_files;
};

/*
 * Index of @file in @ctx->files, adding (and referencing) it if new; a new
 * one for each mirror (NULL).
 */
static int vub_mem_file_index(struct vub_mem_ctx *ctx, struct file *file)
{
	unsigned int i;

	for (i = 0; file && i < ctx->nr_files; i++)
		if (ctx->files[i] == file)
			return i;
	ctx->files[ctx->nr_files] = file ? get_file(file) : NULL;
	return ctx->nr_files++;
}

/*
 * Append a piece, merging it into the previous one when they are contiguous
 * (two runs of mirrored memory are contiguous in the VMM and guest alike).
 */
static int vub_mem_add(struct vub_mem_ctx *ctx, u64 gpa, u64 size, u64 uaddr,
		       struct file *file, u64 offset)
{
	struct vub_mem_piece *p = ctx->nr_pieces ?
				  &ctx->pieces[ctx->nr_pieces - 1] : NULL;
	int idx;

	if (p && ctx->files[p->fd_index] == file &&
	    p->guest_phys_addr + p->memory_size == gpa &&
	    p->userspace_addr + p->memory_size == uaddr &&
	    (!file || p->file_offset + p->memory_size == offset)) {
		p->memory_size += size;
		return 0;
	}
	if (ctx->nr_pieces == VUB_MAX_MEM_PIECES)
		return -E2BIG;
	idx = vub_mem_file_index(ctx, file);
	ctx->pieces[ctx->nr_pieces++] = (struct vub_mem_piece) {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
		.file_offset = offset,
		.fd_index = idx,
	};
	return 0;
}

/*
 * Is @vma a reservation: address space the VMM holds for memory it may map
 * there later, and that nothing can reach now?  DPDK reserves each memseg
 * list so (mmap(PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS)), maps hugetlbfs
 * files into it as it allocates, and gives vhost the whole list as one
 * region.  It must be private anonymous memory without any access (vhost-net
 * could not copy_from_user() there either) and never populated: no anon_vma,
 * so no anonymous page was ever faulted in.  A PROT_NONE mapping that once
 * held data keeps its anon_vma and is refused like any private memory.
 *
 * The answer may change as soon as mmap_lock is dropped (the VMM maps a file
 * there, or mprotect()s it).  That is harmless: a hole is not handed over at
 * all, the back-end only ever gets the files of the shared pieces, so it
 * cannot reach whatever appears there.  For the back-end to see memory the
 * VMM puts in a hole, the VMM must send a new table; DPDK does, although
 * vhost-net, which translates through the VMM's mm, would not need it.
 */
static bool vub_mem_is_hole(struct vm_area_struct *vma)
{
	return vma_is_anonymous(vma) &&
	       !(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)) &&
	       !READ_ONCE(vma->anon_vma);
}

/*
 * Add [@uaddr, +@len) of @vma, region @n's memory at @gpa, as a piece; a
 * hole adds nothing.  mmap_lock held for reading.
 */
static int vub_mem_add_vma(struct vub_mem_ctx *ctx, struct vm_area_struct *vma,
			   u64 gpa, u64 uaddr, u64 len, unsigned int n)
{
	if (vub_mem_is_hole(vma))
		return 0;
	if (vma->vm_flags & (VM_IO | VM_PFNMAP)) {
		pr_warn_ratelimited("%s[%d]: VHOST_SET_MEM_TABLE region %u: guest memory at 0x%llx is device memory (VM_IO or VM_PFNMAP), which a vhost-user back-end can neither map nor get mirrored; failing with EOPNOTSUPP\n",
				    current->comm, task_tgid_nr(current),
				    n, uaddr);
		return -EOPNOTSUPP;
	}
	if (!(vma->vm_flags & VM_SHARED) || !vma->vm_file) {
		if (ctx->mirror)
			return vub_mem_add(ctx, gpa, len, uaddr, NULL, 0);
		pr_warn_ratelimited("%s[%d]: VHOST_SET_MEM_TABLE region %u: guest memory at 0x%llx is not a shared file mapping, so a vhost-user back-end cannot map it; failing with EOPNOTSUPP. Give the VM shared memory, e.g. QEMU -object memory-backend-memfd,id=mem,size=...,share=on -machine memory-backend=mem, or have the bridge mirror it (vubctl instance add ... --mem mirror, or module parameter mem_mirror=1)\n",
				    current->comm, task_tgid_nr(current),
				    n, uaddr);
		return -EOPNOTSUPP;
	}
	return vub_mem_add(ctx, gpa, len, uaddr, vma->vm_file,
			   ((u64)vma->vm_pgoff << PAGE_SHIFT) +
			   uaddr - vma->vm_start);
}

/* Resolve one region; mmap_lock held for reading. */
static int vub_mem_resolve_region(struct vub_mem_ctx *ctx, struct mm_struct *mm,
				  const struct vhost_memory_region *r,
				  unsigned int n)
{
	u64 gpa = r->guest_phys_addr, uaddr = r->userspace_addr;
	u64 left = r->memory_size;
	struct vm_area_struct *vma;
	u64 len;
	int ret;

	while (left) {
		vma = vma_lookup(mm, uaddr);
		if (!vma) {
			pr_warn_ratelimited("%s[%d]: VHOST_SET_MEM_TABLE region %u: nothing is mapped at 0x%llx; failing with EFAULT\n",
					    current->comm, task_tgid_nr(current),
					    n, uaddr);
			return -EFAULT;
		}
		len = min_t(u64, vma->vm_end - uaddr, left);
		ret = vub_mem_add_vma(ctx, vma, gpa, uaddr, len, n);
		if (ret)
			return ret;
		gpa += len;
		uaddr += len;
		left -= len;
	}
	return 0;
}

/*
 * The seals of a file that has them: shmem (memfd, tmpfs, SysV shm) and
 * hugetlbfs (memfd MFD_HUGETLB, files on a hugetlbfs mount).  NULL for any
 * other file.  memfd_fcntl() is not exported; these are the fields it uses,
 * changed under the inode lock as it does.
 */
static unsigned int *vub_mem_seals(struct file *file)
{
	struct inode *inode = file->f_mapping->host;

	if (shmem_mapping(file->f_mapping))
		return &SHMEM_I(inode)->seals;
	if (IS_ENABLED(CONFIG_HUGETLBFS) && inode->i_sb->s_magic == HUGETLBFS_MAGIC)
		return &HUGETLBFS_I(inode)->seals;
	return NULL;
}

/*
 * Protect the back-end from a VMM that shrinks a file it handed over: the
 * back-end maps the file, and pages past a new end of file SIGBUS it (and
 * every VM it serves).  A file that allows sealing gets F_SEAL_SHRINK, as
 * fcntl(F_ADD_SEALS) would add it (the VMM sees the seal: it can no longer
 * shrink the file, which it must not do while a back-end uses it anyway).
 * Files that cannot be sealed (F_SEAL_SEAL without F_SEAL_SHRINK: tmpfs
 * files, memfds made without MFD_ALLOW_SEALING, hugetlbfs files, which is
 * what DPDK uses; and other file systems) are accepted unless
 * mem_require_seal is set, with a log line.  Then every piece must lie
 * within the file: the back-end would fault on any page beyond its end.
 */
static int vub_mem_check_file(struct file *file, const struct vub_mem_ctx *ctx,
			      unsigned int idx, bool *logged)
{
	unsigned int *seals = vub_mem_seals(file);
	struct inode *inode = file->f_mapping->host;
	unsigned int i, now = 0;
	loff_t size;

	if (seals) {
		inode_lock(inode);
		if (!(*seals & F_SEAL_SEAL) && (file->f_mode & FMODE_WRITE))
			*seals |= F_SEAL_SHRINK;
		now = *seals;
		inode_unlock(inode);
	}
	if (!(now & F_SEAL_SHRINK)) {
		bool strict = READ_ONCE(mem_require_seal);

		/*
		 * Once per device: a VMM sends its whole table again at each
		 * change (a refusal is logged every time).
		 */
		if (strict || !*logged)
			pr_info_ratelimited("%s[%d]: VHOST_SET_MEM_TABLE: guest memory file (inode %lu%s) cannot be sealed against shrinking: a VMM that truncates it crashes the vhost-user back-end (SIGBUS)%s\n",
					    current->comm, task_tgid_nr(current),
					    inode->i_ino,
					    !seals ? ", not shmem or hugetlbfs" :
					    (file->f_mode & FMODE_WRITE) ? ", F_SEAL_SEAL" :
					    ", read-only",
					    strict ? "; refused (mem_require_seal): EPERM" : "");
		*logged = true;
		if (strict)
			return -EPERM;
	}
	size = i_size_read(inode);
	for (i = 0; i < ctx->nr_pieces; i++) {
		const struct vub_mem_piece *p = &ctx->pieces[i];

		if (p->fd_index == idx &&
		    p->file_offset + p->memory_size > (u64)size) {
			pr_warn_ratelimited("%s[%d]: VHOST_SET_MEM_TABLE: guest memory at 0x%llx is beyond the end of its file (offset 0x%llx + 0x%llx > size 0x%llx); failing with EFAULT\n",
					    current->comm, task_tgid_nr(current),
					    p->userspace_addr, p->file_offset,
					    p->memory_size, (u64)size);
			return -EFAULT;
		}
	}
	return 0;
}

/*
 * Make the mirror of each mirrored piece: the VMM's pages around it, from
 * its first page to its last (what the back-end maps of a file is whole
 * pages, too).  Without mmap_lock.
 */
static int vub_mem_add_mirrors(struct vub_mem_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < ctx->nr_pieces; i++) {
		struct vub_mem_piece *p = &ctx->pieces[i];
		u64 start = p->userspace_addr & PAGE_MASK;
		u64 end = PAGE_ALIGN(p->userspace_addr + p->memory_size);
		struct file *file;

		if (ctx->files[p->fd_index])
			continue;
		file = vub_mirror_create(start, end - start);
		if (IS_ERR(file)) {
			pr_warn_ratelimited("%s[%d]: VHOST_SET_MEM_TABLE: no mirror of guest memory at 0x%llx (%ld); failing\n",
					    current->comm, task_tgid_nr(current),
					    p->userspace_addr, PTR_ERR(file));
			return PTR_ERR(file);
		}
		ctx->files[p->fd_index] = file;
		p->file_offset = p->userspace_addr - start;
	}
	return 0;
}

/**
 * vub_mem_resolve() - resolve a SET_MEM_TABLE request's regions to files
 * @req: the request; its payload is a checked struct vhost_memory header
 *	followed by its regions.
 * @mem_policy: the instance's enum vub_mem_policy.
 * @unsealed_logged: the device's flag: a file that cannot be sealed was
 *	logged already (the line is printed once per device).
 *
 * Regions are first checked as vhost checks them (EFAULT for an empty,
 * wrapping or non-user range).  On success the request carries the pieces
 * as its extension and the files to install; on failure it is unchanged.
 * Holes leave gaps between the pieces, but a table that is nothing but
 * holes is refused: it would give the back-end no memory at all.
 *
 * Return: 0 or -errno.
 */
int vub_mem_resolve(struct vub_request *req, u32 mem_policy,
		    bool *unsealed_logged)
{
	const struct vhost_memory *mem = req->payload;
	struct mm_struct *mm = current->mm;
	struct vub_mem_ctx ctx = {
		.mirror = mem_policy == VUB_MEM_MIRROR ||
			  (mem_policy == VUB_MEM_DEFAULT && READ_ONCE(mem_mirror)),
	};
	unsigned int i;
	int ret;

	for (i = 0; i < mem->nregions; i++) {
		const struct vhost_memory_region *r = &mem->regions[i];
		u64 last_gpa, last_uaddr;

		if (!r->memory_size ||
		    check_add_overflow(r->guest_phys_addr, r->memory_size - 1,
				       &last_gpa) ||
		    check_add_overflow(r->userspace_addr, r->memory_size - 1,
				       &last_uaddr) ||
		    !access_ok(u64_to_user_ptr(r->userspace_addr),
			       r->memory_size))
			return -EFAULT;
	}
	if (!mem->nregions)
		return 0;

	ctx.pieces = kcalloc(VUB_MAX_MEM_PIECES, sizeof(*ctx.pieces),
			     GFP_KERNEL_ACCOUNT);
	ctx.files = kcalloc(VUB_MAX_MEM_PIECES, sizeof(*ctx.files),
			    GFP_KERNEL_ACCOUNT);
	ret = -ENOMEM;
	if (!ctx.pieces || !ctx.files)
		goto err;

	ret = mmap_read_lock_killable(mm);
	if (ret)
		goto err;
	for (i = 0; i < mem->nregions && !ret; i++)
		ret = vub_mem_resolve_region(&ctx, mm, &mem->regions[i], i);
	mmap_read_unlock(mm);
	if (ret)
		goto err;
	if (!ctx.nr_pieces) {
		pr_warn_ratelimited("%s[%d]: VHOST_SET_MEM_TABLE: the regions are only reserved address space (PROT_NONE), nothing a vhost-user back-end could map; failing with EOPNOTSUPP\n",
				    current->comm, task_tgid_nr(current));
		ret = -EOPNOTSUPP;
		goto err;
	}
	for (i = 0; i < ctx.nr_files; i++) {
		if (!ctx.files[i])
			continue;	/* a mirror, made next */
		ret = vub_mem_check_file(ctx.files[i], &ctx, i,
					 unsealed_logged);
		if (ret)
			goto err;
	}
	ret = vub_mem_add_mirrors(&ctx);
	if (ret)
		goto err;

	req->ext = ctx.pieces;
	req->ext_len = ctx.nr_pieces * sizeof(*ctx.pieces);
	req->files = ctx.files;
	req->nr_files = ctx.nr_files;
	return 0;
err:
	for (i = 0; i < ctx.nr_files; i++)
		if (ctx.files[i])
			fput(ctx.files[i]);
	kfree(ctx.files);
	kfree(ctx.pieces);
	return ret;
}
