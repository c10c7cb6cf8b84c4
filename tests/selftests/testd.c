// SPDX-License-Identifier: GPL-2.0
/* testd: the test daemon.  See testd.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testd.h"
#include "vub_chan.h"

static int kept_kick = -1;	/* daemon side: the taken-over kick fd */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Fill the next log entry (not yet published). */
/*
 * A log file (VHOST_SET_LOG_BASE) mapped as DPDK 22.11 maps it: [0, offset +
 * size) shared from file offset 0; the log's first and last bits are set,
 * as a back-end's writes.  A private mapping and one a page longer than the
 * pages must fail.
 */
static void td_probe_log(struct td_entry *e, const struct vub_req *req, int fd)
{
	struct vub_log_info li;
	size_t len, pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *m;

	if (req->ext_len != sizeof(li) || fd < 0) {
		e->log_map_err = EINVAL;
		return;
	}
	memcpy(&li, vub_chan_ext(req), sizeof(li));
	len = li.mmap_offset + li.mmap_size;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		e->log_map_err = errno;
	} else {
		m[li.mmap_offset] |= 0x01;
		m[len - 1] |= 0x80;
		munmap(m, len);
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	e->log_private_err = m == MAP_FAILED ? errno : 0;
	if (m != MAP_FAILED)
		munmap(m, len);
	len = (len + pg - 1) / pg * pg + pg;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e->log_beyond_err = m == MAP_FAILED ? errno : 0;
	if (m != MAP_FAILED)
		munmap(m, len);
}

static struct td_entry *td_record(struct td_shared *sh, const struct vub_req *req,
				  const void *payload, const int *fds)
{
	uint32_t n = atomic_load_explicit(&sh->n, memory_order_relaxed);
	struct td_entry *e = &sh->log[n % TD_LOG_CAP];
	char path[64];
	struct stat st;
	ssize_t len;

	memset(e, 0, offsetof(struct td_entry, payload));
	e->op = req->op;
	e->dev_id = req->dev_id;
	e->instance_id = req->instance_id;
	e->seq = req->seq;
	e->ioctl = req->ioctl;
	e->payload_len = req->payload_len;
	e->reply_len = req->reply_len;
	e->nr_fds = req->nr_fds;
	e->vmm_pid = req->vmm_pid;
	e->kick_value = -1;
	memcpy(e->payload, payload,
	       req->payload_len < TD_PAYLOAD_MAX ? req->payload_len : TD_PAYLOAD_MAX);
	e->ext_len = req->ext_len;
	if (req->ext_len)
		memcpy(e->ext, vub_chan_ext(req),
		       req->ext_len < TD_EXT_MAX ? req->ext_len : TD_EXT_MAX);
	for (uint32_t i = 0; i < req->nr_fds && i < TD_FDS_MAX; i++)
		if (fds[i] >= 0 && !fstat(fds[i], &st))
			e->fd_inos[i] = st.st_ino;
	if (req->nr_fds && fds[0] >= 0) {
		e->fd_cloexec = (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0;
		if (!fstat(fds[0], &st))
			e->fd_ino = st.st_ino;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
		len = readlink(path, e->fd_link, sizeof(e->fd_link) - 1);
		e->fd_link[len > 0 ? len : 0] = 0;
	}
	if (req->op == VUB_OP_IOCTL && req->ioctl == VHOST_SET_LOG_BASE)
		td_probe_log(e, req, req->nr_fds ? fds[0] : -1);
	return e;
}

static void td_publish(struct td_shared *sh)
{
	atomic_fetch_add_explicit(&sh->n, 1, memory_order_release);
}

static int td_answer(struct td_shared *sh, struct td_entry *e,
		     const struct vub_req *req, const void *payload, int *fds,
		     void *reply, uint32_t *reply_len)
{
	struct vhost_vring_state s;
	struct pollfd pfd;
	uint64_t u;

	if (req->ioctl == atomic_load(&sh->fail_ioctl))
		return -atomic_load(&sh->fail_errno);
	switch (req->ioctl) {
	case VHOST_GET_FEATURES:
	case VHOST_GET_BACKEND_FEATURES:
		u = req->ioctl == VHOST_GET_FEATURES ? TD_FEATURES : TD_BACKEND_FEATURES;
		memcpy(reply, &u, sizeof(u));
		*reply_len = sizeof(u);
		break;
	case VHOST_GET_VRING_BASE:
	case VHOST_GET_VRING_ENDIAN:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		if (req->payload_len != sizeof(s))
			return -EINVAL;
		memcpy(&s, payload, sizeof(s));
		s.num = td_vring_num(req->ioctl, s.index);
		memcpy(reply, &s, sizeof(s));
		*reply_len = sizeof(s);
		break;
	case VHOST_SET_VRING_KICK:
		if (req->nr_fds) {
			if (kept_kick >= 0)
				close(kept_kick);
			kept_kick = fds[0];
			fds[0] = -1;	/* taken over: the library must not close it */
		}
		break;
	case VHOST_SET_VRING_CALL:
		pfd = (struct pollfd){ .fd = kept_kick, .events = POLLIN };
		if (kept_kick >= 0 && poll(&pfd, 1, 0) == 1 &&
		    read(kept_kick, &u, sizeof(u)) == sizeof(u))
			e->kick_value = (int64_t)u;
		u = 9;
		if (req->nr_fds && write(fds[0], &u, sizeof(u)) != sizeof(u))
			return -errno;
		break;
	}
	if (req->ioctl == atomic_load(&sh->bad_reply_ioctl))
		*reply_len = req->reply_len ? req->reply_len - 4 : 8;
	return 0;
}

static int td_handler(void *ctx, const struct vub_req *req, const void *payload,
		      int *fds, void *reply, uint32_t *reply_len)
{
	struct td_shared *sh = ctx;
	struct td_entry *e = td_record(sh, req, payload, fds);
	uint32_t delay_ms = atomic_load(&sh->delay_ms);
	int ret = 0;

	if (delay_ms)
		usleep(delay_ms * 1000);
	while (atomic_load(&sh->hold))
		usleep(1000);

	if (req->op == VUB_OP_RELEASE)
		atomic_fetch_add(&sh->nr_release, 1);
	else if (req->op == VUB_OP_IOCTL)
		ret = td_answer(sh, e, req, payload, fds, reply, reply_len);
	td_publish(sh);
	return ret;
}

/* Take requests, log them, never answer. */
static void td_silent(struct vub_chan *ch, struct td_shared *sh)
{
	struct vub_chan_msg m;
	uint64_t ud;
	int32_t res;

	for (;;) {
		if (atomic_load(&sh->close_now) && ch->fd >= 0) {
			close(ch->fd);
			ch->fd = -1;
			atomic_store(&sh->closed, 1);
		}
		if (vub_chan_raw_wait(&ch->ring, 50, &ud, &res) || res || ud >= ch->nr_tags)
			continue;
		vub_chan_decode(vub_chan_buf(ch, ud), ch->buf_len, &m);
		td_record(sh, m.req, (const char *)m.req + m.req->hdr_len,
			  m.fds ? m.fds : (const int[]){ -1 });
		td_publish(sh);
	}
}

static _Noreturn void td_child(struct td_shared *sh, enum td_mode mode, uint32_t nr_tags,
		     pid_t parent, int wfd)
{
	static volatile sig_atomic_t never;
	uint64_t end = now_ms() + TD_ATTACH_RETRY_MS;
	struct vub_chan ch;
	int ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	while ((ret = vub_chan_start(&ch, NULL, nr_tags)) == -EBUSY && now_ms() < end)
		usleep(10000);
	if (write(wfd, &ret, sizeof(ret)) != sizeof(ret) || ret < 0)
		_exit(1);
	close(wfd);
	if (mode == TD_SILENT)
		td_silent(&ch, sh);
	ret = vub_chan_run(&ch, td_handler, sh, NULL, &never);
	_exit(ret == -ECANCELED ? 0 : 1);
}

int td_start(struct td *td, enum td_mode mode, uint32_t nr_tags)
{
	pid_t parent = getpid();
	int p[2], ret = -EIO;

	td->pid = -1;
	td->sh = mmap(NULL, sizeof(*td->sh), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (td->sh == MAP_FAILED) {
		td->sh = NULL;
		return -errno;
	}
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	td->pid = fork();
	if (td->pid == 0) {
		close(p[0]);
		td_child(td->sh, mode, nr_tags, parent, p[1]);
	}
	if (td->pid < 0)
		ret = -errno;
	close(p[1]);
	if (td->pid > 0 && read(p[0], &ret, sizeof(ret)) != sizeof(ret))
		ret = -EIO;
	close(p[0]);
	if (ret < 0)
		td_stop(td);
	return ret;
}

void td_stop(struct td *td)
{
	if (td->pid > 0) {
		kill(td->pid, SIGKILL);
		waitpid(td->pid, NULL, 0);
	}
	td->pid = -1;
	if (td->sh)
		munmap(td->sh, sizeof(*td->sh));
	td->sh = NULL;
}

uint32_t td_count(const struct td *td)
{
	return atomic_load_explicit(&td->sh->n, memory_order_acquire);
}

const struct td_entry *td_wait(const struct td *td, uint32_t from, uint16_t op,
			       uint32_t ioctl, uint32_t dev_id, int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	const struct td_entry *e;
	uint32_t i, n;

	for (;;) {
		n = td_count(td);
		if (n - from > TD_LOG_CAP)	/* overwritten: look at what is left */
			from = n - TD_LOG_CAP;
		for (i = from; i < n; i++) {
			e = &td->sh->log[i % TD_LOG_CAP];
			if (e->op == op && (op == VUB_OP_RELEASE || e->ioctl == ioctl) &&
			    (!dev_id || e->dev_id == dev_id))
				return e;
		}
		if (now_ms() >= end)
			return NULL;
		usleep(1000);
	}
}
