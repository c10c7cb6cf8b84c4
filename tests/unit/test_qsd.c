// SPDX-License-Identifier: GPL-2.0-only
/*
 * The front-end against unmodified qemu-storage-daemon (vhost-user-blk,
 * libvhost-user): different feature and protocol bits than DPDK, 32 memory
 * slots, CONFIGURE_MEM_SLOTS -> ADD_MEM_REG/REM_MEM_REG, GET_CONFIG.
 *
 * Guest memory is 12 regions that cannot be merged (gaps in guest physical
 * address), more than one SET_MEM_TABLE can carry.  The ring lives in region
 * 0 and the I/O buffers in region 7, so the back-end must translate through
 * regions it received by ADD_MEM_REG.  A virtio-blk write followed by a read
 * of the same sectors must round-trip and land in the image file.
 *
 * Exit 77 (skip) when qemu-storage-daemon is not installed.
 */
#include "../../bridged/vu_frontend.h"
#include "guest.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NREG		12
#define REG_SIZE	(64u << 10)
#define REG_GPA(i)	(0x100000ull * (i) + 0x40000000ull)
#define IMG_SIZE	(1u << 20)
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_S_OK		0
#define QSIZE		64

static pid_t qsd_pid = -1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
	static const char m[] = "not ok - watchdog: test took too long\n";

	(void)sig;
	if (qsd_pid > 0)
		kill(qsd_pid, SIGKILL);
	if (write(1, m, sizeof(m) - 1) < 0) {
		/* nothing */
	}
	_exit(1);
}

static const char *qsd_binary(void)
{
	const char *p = getenv("QEMU_STORAGE_DAEMON");

	if (p && *p && access(p, X_OK) == 0)
		return p;
	if (access("/usr/bin/qemu-storage-daemon", X_OK) == 0)
		return "/usr/bin/qemu-storage-daemon";
	return NULL;
}

struct blkreq {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct env {
	char dir[64], sock[128], img[128], log[128];
	int memfd;
	uint8_t *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, last_used;
	int kick, call;
	struct vu_frontend *fe;
};

/* guest address -> our pointer, for the regions we built */
static void *gva(struct env *e, unsigned int region, size_t off)
{
	return e->mem + (size_t)region * REG_SIZE + off;
}

static uint64_t gpa(unsigned int region, size_t off)
{
	return REG_GPA(region) + off;
}

static void regions(struct env *e, struct vu_frontend_region *r, unsigned int n,
		    unsigned int first)
{
	unsigned int i;

	memset(r, 0, sizeof(*r) * n);
	for (i = 0; i < n; i++) {
		r[i].gpa = REG_GPA(first + i);
		r[i].size = REG_SIZE;
		r[i].uaddr = (uint64_t)(uintptr_t)gva(e, first + i, 0);
		r[i].fd_offset = (uint64_t)(first + i) * REG_SIZE;
		r[i].fd = e->memfd;
	}
}

/* One request: header (region 7), data (region 7), status (region 7). */
static int blk_io(struct env *e, uint32_t type, uint64_t sector, size_t len,
		  uint8_t *status)
{
	struct blkreq *h = gva(e, 7, 0);
	uint8_t *st = gva(e, 7, 64);
	uint16_t head = (uint16_t)((e->avail_idx * 3) % QSIZE);
	uint64_t one = 1;
	double t0;

	h->type = type;
	h->reserved = 0;
	h->sector = sector;
	*st = 0xff;
	e->desc[head] = (struct vring_desc){ gpa(7, 0), sizeof(*h), 1,
					     (uint16_t)(head + 1) };
	e->desc[head + 1] = (struct vring_desc){
		gpa(7, 4096), (uint32_t)len,
		(uint16_t)(1 | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0)),
		(uint16_t)(head + 2) };
	e->desc[head + 2] = (struct vring_desc){ gpa(7, 64), 1,
						 VRING_DESC_F_WRITE, 0 };
	e->avail->ring[e->avail_idx % QSIZE] = head;
	e->avail_idx++;
	__atomic_store_n(&e->avail->idx, e->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* libvhost-user is event driven: always kick */
	if (write(e->kick, &one, sizeof(one)) != sizeof(one))
		return -errno;
	for (t0 = now(); now() - t0 < 10;) {
		if (__atomic_load_n(&e->used->idx, __ATOMIC_ACQUIRE) != e->last_used) {
			e->last_used++;
			*status = *st;
			return 0;
		}
		usleep(200);
	}
	return -ETIMEDOUT;
}

static int start_qsd(struct env *e)
{
	const char *bin = qsd_binary();
	char blockdev[256], export[256];
	int fd, logfd;
	double t0;

	snprintf(e->dir, sizeof(e->dir), "/tmp/vub-qsd-XXXXXX");
	if (!mkdtemp(e->dir))
		return -errno;
	snprintf(e->sock, sizeof(e->sock), "%s/blk.sock", e->dir);
	snprintf(e->img, sizeof(e->img), "%s/disk.img", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/qsd.log", e->dir);
	fd = open(e->img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, IMG_SIZE))
		return -errno;
	close(fd);
	snprintf(blockdev, sizeof(blockdev),
		 "driver=file,node-name=file0,filename=%s", e->img);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=%s,writable=on,num-queues=1",
		 e->sock);
	logfd = open(e->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -errno;
	qsd_pid = fork();
	if (qsd_pid < 0)
		return -errno;
	if (qsd_pid == 0) {
		dup2(logfd, 1);
		dup2(logfd, 2);
		execl(bin, bin, "--blockdev", blockdev, "--export", export,
		      (char *)NULL);
		_exit(127);
	}
	close(logfd);
	for (t0 = now(); now() - t0 < 20; usleep(10000)) {
		struct stat st;
		int status;

		if (!stat(e->sock, &st) && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(qsd_pid, &status, WNOHANG) == qsd_pid) {
			qsd_pid = -1;
			return -ECHILD;
		}
	}
	return -ETIMEDOUT;
}

static void dump_log(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# qsd: %s", line);
	fclose(f);
}

int main(void)
{
	struct env e;
	struct vu_frontend_opts o = { .nr_rings = 1 };
	struct vu_frontend_region r[40];
	uint64_t f, img_sectors = 0;
	uint8_t cfg[60], status = 0xff, *data;
	uint32_t base = 0;
	unsigned int i;
	int ret, imgfd;

	if (!qsd_binary())
		tap_skip_all("qemu-storage-daemon not installed (apt-get install qemu-system-common)");
	signal(SIGALRM, on_alarm);
	alarm(60);
	memset(&e, 0, sizeof(e));

	ret = start_qsd(&e);
	if (!TAP_OK(ret == 0, "qemu-storage-daemon (vhost-user-blk) started")) {
		dump_log(e.log);
		goto out;
	}
	e.memfd = memfd_create("vub-qsd-guest", MFD_CLOEXEC);
	if (e.memfd < 0 || ftruncate(e.memfd, NREG * REG_SIZE))
		abort();
	e.mem = mmap(NULL, NREG * REG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     e.memfd, 0);
	e.desc = gva(&e, 0, 0);
	e.avail = gva(&e, 0, 4096);
	e.used = gva(&e, 0, 8192);
	e.kick = eventfd(0, EFD_CLOEXEC);
	e.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	e.fe = vu_frontend_new(&o);
	ret = vu_frontend_connect(e.fe, e.sock);
	if (!TAP_OK(ret == 0, "connected: %s", vu_frontend_strerror(e.fe)))
		goto out;
	vu_frontend_get_features(e.fe, &f);
	TAP_DIAG("qsd features 0x%llx, protocol features offered 0x%llx, negotiated 0x%llx",
		 (unsigned long long)e.fe->backend_features,
		 (unsigned long long)e.fe->backend_proto,
		 (unsigned long long)vu_frontend_protocol_features(e.fe));
	TAP_OK((e.fe->backend_features & (1ull << 30)) && !(f & (1ull << 30)) &&
	       (f & (1ull << VU_F_VERSION_1)) && !(f & (1ull << VU_F_RING_PACKED)),
	       "blk features: PROTOCOL_FEATURES hidden, VERSION_1, no RING_PACKED");
	TAP_OK((vu_frontend_protocol_features(e.fe) &
		((1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_REPLY_ACK) |
		 (1ull << VU_PF_CONFIG))) ==
	       ((1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_REPLY_ACK) |
		(1ull << VU_PF_CONFIG)) &&
	       !(vu_frontend_protocol_features(e.fe) & (1ull << VU_PF_STATUS)),
	       "CONFIGURE_MEM_SLOTS, REPLY_ACK, CONFIG negotiated; no STATUS offered");
	TAP_OK(vu_frontend_mem_slots(e.fe) == 32, "GET_MAX_MEM_SLOTS: %u",
	       vu_frontend_mem_slots(e.fe));
	TAP_OK(vu_frontend_queue_num(e.fe) == 1, "GET_QUEUE_NUM: %llu",
	       (unsigned long long)vu_frontend_queue_num(e.fe));
	ret = vu_frontend_get_config(e.fe, 0, cfg, sizeof(cfg));
	if (!ret)
		memcpy(&img_sectors, cfg, 8);
	TAP_OK(ret == 0 && img_sectors == IMG_SIZE / 512,
	       "GET_CONFIG: capacity %llu sectors", (unsigned long long)img_sectors);

	ret = vu_frontend_set_owner(e.fe);
	if (!ret)
		ret = vu_frontend_set_features(e.fe, f & (1ull << VU_F_VERSION_1));
	TAP_OK(ret == 0, "SET_OWNER, SET_FEATURES(VERSION_1): %s",
	       vu_frontend_strerror(e.fe));

	regions(&e, r, NREG, 0);
	ret = vu_frontend_set_mem_table(e.fe, r, NREG);
	TAP_OK(ret == 0 && e.fe->nr_add_mem_reg == NREG &&
	       e.fe->nr_mem_table_msgs == 0,
	       "%u unmergeable regions: %lu ADD_MEM_REG, no SET_MEM_TABLE (%s)",
	       NREG, e.fe->nr_add_mem_reg, vu_frontend_strerror(e.fe));
	/* drop region 11, keep the rest: one REM_MEM_REG */
	ret = vu_frontend_set_mem_table(e.fe, r, NREG - 1);
	TAP_OK(ret == 0 && e.fe->nr_rem_mem_reg == 1 &&
	       e.fe->nr_add_mem_reg == NREG,
	       "shrink by one region: 1 REM_MEM_REG, accepted (%s)",
	       vu_frontend_strerror(e.fe));
	ret = vu_frontend_set_mem_table(e.fe, r, NREG);
	TAP_OK(ret == 0 && e.fe->nr_add_mem_reg == NREG + 1,
	       "grow back: 1 ADD_MEM_REG");
	for (i = 0; i < 33; i++)
		r[i] = (struct vu_frontend_region){ .gpa = 0x1000000000ull + (uint64_t)i * 0x200000,
						.size = 4096,
						.uaddr = (uint64_t)(uintptr_t)e.mem + (uint64_t)i * 8192,
						.fd_offset = (uint64_t)i * 8192,
						.fd = e.memfd };
	ret = vu_frontend_set_mem_table(e.fe, r, 33);
	TAP_OK(ret == -E2BIG, "33 regions > 32 slots: -E2BIG (%s)",
	       vu_frontend_strerror(e.fe));

	/* one virtqueue in region 0 */
	{
		struct vu_vring_addr a = {
			.index = 0,
			.desc = (uint64_t)(uintptr_t)e.desc,
			.avail = (uint64_t)(uintptr_t)e.avail,
			.used = (uint64_t)(uintptr_t)e.used,
		};

		ret = vu_frontend_set_vring_num(e.fe, 0, QSIZE);
		if (!ret)
			ret = vu_frontend_set_vring_base(e.fe, 0, 0);
		if (!ret)
			ret = vu_frontend_set_vring_addr(e.fe, &a);
		if (!ret)
			ret = vu_frontend_set_vring_kick(e.fe, 0, e.kick);
		if (!ret)
			ret = vu_frontend_set_vring_call(e.fe, 0, e.call);
		if (!ret)
			ret = vu_frontend_start_vring(e.fe, 0);
	}
	if (!TAP_OK(ret == 0, "virtqueue 0 started: %s", vu_frontend_strerror(e.fe)))
		goto out;

	data = gva(&e, 7, 4096);
	for (i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	ret = blk_io(&e, VIRTIO_BLK_T_OUT, 8, 4096, &status);
	TAP_OK(ret == 0 && status == VIRTIO_BLK_S_OK,
	       "virtio-blk write of 8 sectors at sector 8 (status %u)", status);
	memset(data, 0, 4096);
	ret = blk_io(&e, VIRTIO_BLK_T_IN, 8, 4096, &status);
	for (i = 0; i < 4096 && data[i] == (uint8_t)(i * 7 + 3); i++)
		;
	TAP_OK(ret == 0 && status == VIRTIO_BLK_S_OK && i == 4096,
	       "read back through a region added by ADD_MEM_REG: %u/4096 bytes match", i);
	imgfd = open(e.img, O_RDONLY | O_CLOEXEC);
	{
		uint8_t disk[4096];

		if (pread(imgfd, disk, sizeof(disk), 8 * 512) != (ssize_t)sizeof(disk))
			memset(disk, 0, sizeof(disk));
		close(imgfd);
		for (i = 0; i < 4096 && disk[i] == (uint8_t)(i * 7 + 3); i++)
			;
		TAP_OK(i == 4096, "data is in the image file at offset 4096");
	}
	ret = vu_frontend_stop_vring(e.fe, 0, &base);
	TAP_OK(ret == 0 && base == 2, "GET_VRING_BASE after 2 requests: %u", base);
	ret = vu_frontend_start_vring(e.fe, 0);
	if (!ret)
		ret = blk_io(&e, VIRTIO_BLK_T_IN, 8, 4096, &status);
	TAP_OK(ret == 0 && status == VIRTIO_BLK_S_OK && data[4095] == (uint8_t)(4095 * 7 + 3),
	       "restart from base 2 and read again");

out:
	if (e.fe)
		vu_frontend_free(e.fe);
	if (qsd_pid > 0) {
		kill(qsd_pid, SIGTERM);
		waitpid(qsd_pid, NULL, 0);
	}
	if (tap_failed)
		dump_log(e.log);
	if (e.dir[0]) {
		unlink(e.sock);
		unlink(e.img);
		unlink(e.log);
		rmdir(e.dir);
	}
	if (e.mem)
		munmap(e.mem, NREG * REG_SIZE);
	if (e.memfd > 0)
		close(e.memfd);
	if (e.kick > 0)
		close(e.kick);
	if (e.call > 0)
		close(e.call);
	return tap_done();
}
