// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: the fd store.
 *
 * The daemon deposits, per device, the files it must not lose when it exits
 * (its vhost-user connection, a memfd with its record of the device's state,
 * eventfds, memory files); the kernel holds a reference to each until the
 * daemon drops or replaces it or the VMM closes the device, and hands them to
 * the next daemon (VUB_U_CMD_FD_FETCH).  The kernel never looks inside a
 * stored file: the daemon validates what it fetches.
 *
 * Each device's slots (dev->stash, allocated at its first STORE) are changed
 * and read under the xa_lock of vub_devs, which also keeps the device from
 * being freed meanwhile: vub_release() erases it from vub_devs before it
 * drops the stash (vub_fd_release()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "vub.h"

/*
 * What the store takes: sockets (the back-end connection), regular files
 * (memfd, shmem, hugetlbfs) and eventfds.  Never a file of this module: a
 * stored VMM device or control file would keep itself alive.
 */
static bool vub_fd_kind_ok(struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;
	struct eventfd_ctx *ctx;

	if (file->f_op->owner == THIS_MODULE)
		return false;
	if (S_ISSOCK(mode) || S_ISREG(mode))
		return true;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx))
		return false;
	eventfd_ctx_put(ctx);
	return true;
}

/* Put @file into (dev_id, slot), or empty the slot when @file is NULL. */
static int vub_fd_set(u32 dev_id, u32 slot, struct file *file)
{
	struct file **stash = NULL, *old = NULL;
	struct vub_dev *dev;
	int ret = -ENOENT;

	if (slot >= VUB_FD_STORE_SLOTS)
		return -ENOSPC;
	slot = array_index_nospec(slot, VUB_FD_STORE_SLOTS);
	if (file) {
		stash = kcalloc(VUB_FD_STORE_SLOTS, sizeof(*stash),
				GFP_KERNEL_ACCOUNT);
		if (!stash)
			return -ENOMEM;
	}

	xa_lock(&vub_devs);
	dev = xa_load(&vub_devs, dev_id);
	if (dev) {
		if (file && !dev->stash) {
			dev->stash = stash;
			stash = NULL;
		}
		if (dev->stash) {
			old = dev->stash[slot];
			dev->stash[slot] = file;
		}
		ret = 0;
	}
	xa_unlock(&vub_devs);

	kfree(stash);
	if (old)
		fput(old);
	return ret;
}

int vub_fd_store(u32 dev_id, u32 slot, int fd)
{
	struct file *file = fget(fd);
	int ret;

	if (!file)
		return -EBADF;
	ret = -EINVAL;
	if (vub_fd_kind_ok(file))
		ret = vub_fd_set(dev_id, slot, file);
	if (ret)
		fput(file);
	return ret;
}

int vub_fd_drop(u32 dev_id, u32 slot)
{
	return vub_fd_set(dev_id, slot, NULL);
}

bool vub_fd_has_state(struct vub_dev *dev)
{
	bool ret;

	xa_lock(&vub_devs);
	ret = dev->stash && dev->stash[VUB_FD_SLOT_STATE];
	xa_unlock(&vub_devs);
	return ret;
}

/* @dev is no longer in vub_devs: nobody else can reach its stash. */
void vub_fd_release(struct vub_dev *dev)
{
	unsigned int i;

	if (!dev->stash)
		return;
	for (i = 0; i < VUB_FD_STORE_SLOTS; i++)
		if (dev->stash[i])
			fput(dev->stash[i]);
	kfree(dev->stash);
	dev->stash = NULL;
}

/*
 * Collect up to @max stored files from (@dev_id, @slot) on, referenced,
 * in (dev_id, slot) order.  Returns how many.
 */
static unsigned int vub_fd_collect(u32 dev_id, u32 slot, unsigned int max,
				   struct vub_fd_entry *ents,
				   struct file **files)
{
	struct vub_dev *dev;
	unsigned long id;
	unsigned int n = 0, s;

	xa_lock(&vub_devs);
	xa_for_each_start(&vub_devs, id, dev, dev_id) {
		s = id == dev_id ? slot : 0;
		for (; dev->stash && s < VUB_FD_STORE_SLOTS && n < max; s++) {
			struct file *file;

			file = dev->stash[array_index_nospec(s, VUB_FD_STORE_SLOTS)];
			if (!file)
				continue;
			ents[n].dev_id = id;
			ents[n].slot = s;
			files[n++] = get_file(file);
		}
		if (n == max)
			break;
	}
	xa_unlock(&vub_devs);
	return n;
}

int vub_fd_fetch(const struct vub_fd_fetch *f)
{
	struct vub_fd_entry *ents;
	struct file **files;
	unsigned int i, n, reserved = 0;
	int ret = -ENOMEM;

	if (!f->nr || f->nr > VUB_FD_FETCH_MAX || !IS_ALIGNED(f->buf_addr, 4))
		return -EINVAL;
	ents = kcalloc(f->nr, sizeof(*ents), GFP_KERNEL);
	files = kcalloc(f->nr, sizeof(*files), GFP_KERNEL);
	if (!ents || !files)
		goto out_free;

	n = vub_fd_collect(f->dev_id, f->slot, f->nr, ents, files);
	for (reserved = 0; reserved < n; reserved++) {
		ret = get_unused_fd_flags(O_CLOEXEC);
		if (ret < 0)
			goto out_undo;
		ents[reserved].fd = ret;
	}
	ret = -EFAULT;
	if (copy_to_user(u64_to_user_ptr(f->buf_addr), ents, n * sizeof(*ents)))
		goto out_undo;
	/* Installed only now: a reserved number is invisible until then. */
	for (i = 0; i < n; i++) {
		fd_install(ents[i].fd, files[i]);
		files[i] = NULL;
	}
	ret = n;
	goto out_free;

out_undo:
	for (i = 0; i < reserved; i++)
		put_unused_fd(ents[i].fd);
	for (i = 0; i < n; i++)
		fput(files[i]);
out_free:
	kfree(files);
	kfree(ents);
	return ret;
}
