// SPDX-License-Identifier: GPL-2.0
/*
 * vub_dev: vhost-net semantics for one VMM device over one vhost-user
 * connection (see vub_dev.h; the table is in Documentation/ioctl-map.rst).
 */
#include "vub_dev.h"
#include "vub_rarp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "vub_vhost.h"

#define BIT(n)	(1ull << (n))

/* --- logging and errors ----------------------------------------------- */

static void dev_log(struct vub_dev *d, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void dev_log(struct vub_dev *d, int prio, const char *fmt, ...)
{
	char line[512];
	size_t n;
	va_list ap;

	n = (size_t)snprintf(line, sizeof(line), "dev %u: ", d->dev_id);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (d->cfg->log)
		d->cfg->log(d->cfg->log_opaque, prio, line);
	else
		fprintf(stderr, "%s\n", line);
}

static void report_backend(struct vub_dev *d, uint32_t state)
{
	uint64_t f = state == VUB_BACKEND_CONNECTED && d->features_set ?
		     d->sent_features : 0;

	if (d->cfg->backend_state)
		d->cfg->backend_state(d->cfg->backend_state_opaque, d->dev_id, state,
				      f, f ? d->missing : 0, d->nr_reconnects);
}

/* Explain the failure about to be returned; returns @err. */
static int fail(struct vub_dev *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct vub_dev *d, int err, const char *fmt, ...)
{
	char tmp[sizeof(d->why)];	/* fmt's arguments may point into d->why */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(d->why, tmp, sizeof(d->why));
	return err;
}

/* The front-end explains its own failures through this hook. */
static void fe_log(void *opaque, const char *msg)
{
	struct vub_dev *d = opaque;

	snprintf(d->why, sizeof(d->why), "%s", msg);
}

const char *vub_dev_why(const struct vub_dev *d)
{
	return d->why;
}

/* --- life cycle --------------------------------------------------------- */

void vub_dev_init(struct vub_dev *d, const struct vub_dev_cfg *cfg,
		  uint32_t dev_id, uint32_t vmm_pid)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->dev_id = dev_id;
	d->vmm_pid = vmm_pid;
	d->backend = cfg->backend;
	d->state_fd = -1;
}

int vub_dev_open(struct vub_dev *d, const struct vub_open_info *oi)
{
	if (oi->type != VUB_TYPE_NET)
		return fail(d, -EOPNOTSUPP, "instance type %u: only vhost-net (%u) is served",
			    oi->type, VUB_TYPE_NET);
	d->instance_id = oi->instance_id;
	if (oi->instance_id && oi->socket[0]) {
		snprintf(d->instance_socket, sizeof(d->instance_socket), "%.*s",
			 (int)sizeof(oi->socket), oi->socket);
		d->backend = d->instance_socket;
	} else {
		d->backend = d->cfg->backend;
	}
	return 0;
}

/* The ring's index on the connection: pair k of a NIC has 2k and 2k+1. */
static uint32_t vring(const struct vub_dev *d, uint32_t idx)
{
	return 2 * d->pair + idx;
}

/*
 * Leave the NIC: the pair's rings are disabled, stopped and forgotten on the
 * shared connection, which closes with its last device.
 */
static void dev_leave_nic(struct vub_dev *d)
{
	struct vub_nic *nic = d->nic;
	unsigned int left;

	vu_frontend_set_log(nic->fe, fe_log, d);
	if (!vu_frontend_broken(nic->fe) && vub_nic_drop_pair(nic->fe, vring(d, 0)))
		dev_log(d, LOG_WARNING, "pair %u of the NIC on tap %s: stopping its rings failed: %s",
			d->pair, nic->key.ifname, d->why);
	vu_frontend_set_log(nic->fe, NULL, NULL);
	left = vub_nic_remove(nic, d->pair);
	dev_log(d, LOG_INFO, "pair %u leaves the NIC on tap %s (VMM pid %u)%s", d->pair,
		nic->key.ifname, nic->key.vmm_pid,
		left ? "" : ": it was the last, the NIC's connection is closed");
	if (!left)
		vub_nic_free(d->cfg->nics, nic);
	d->nic = NULL;
	d->pair = 0;
}

/* Forget the back-end and everything it was told. */
static void dev_disconnect(struct vub_dev *d)
{
	if (d->nic)
		dev_leave_nic(d);
	else
		vu_frontend_free(d->fe);
	d->fe = NULL;
	memset(d->attached, 0, sizeof(d->attached));
	d->features_set = d->tap_seen = d->rarp_warned = false;
	d->tap_ifindex = 0;
	d->vmm_features = d->sent_features = d->offloads = d->missing = 0;
}

void vub_dev_release(struct vub_dev *d)
{
	dev_disconnect(d);
	d->lost = false;
}

static int dev_connect(struct vub_dev *d)
{
	struct vu_frontend_opts o = {
		.nr_rings = VUB_NET_RINGS,
		.timeout_ms = d->cfg->timeout_ms,
		.log = fe_log,
		.log_opaque = d,
	};
	struct vu_frontend *fe;
	int ret;

	if (d->lost)
		return fail(d, -ENOTCONN,
			    "the back-end %s is gone; the daemon reconnects to it (%u reconnects so far), or the VMM can start over (VHOST_RESET_OWNER)",
			    d->backend ? d->backend : "(test)", d->nr_reconnects);
	if (d->fe)
		return 0;
	if (!d->cfg->connect && !d->backend)
		return fail(d, -ENOTCONN, "no back-end configured (vhost-user-bridged --backend PATH)");
	fe = vu_frontend_new(&o);
	if (!fe)
		return fail(d, -ENOMEM, "out of memory");
	ret = d->cfg->connect ? d->cfg->connect(d->cfg->connect_opaque, fe) :
				vu_frontend_connect(fe, d->backend);
	if (ret) {
		char tmp[sizeof(d->why)];

		snprintf(tmp, sizeof(tmp), "%s", d->why[0] ? d->why : strerror(-ret));
		vu_frontend_free(fe);
		dev_log(d, LOG_WARNING, "cannot connect to the back-end %s: %s; the next request retries",
			d->backend ? d->backend : "(test)", tmp);
		/* The deadline passed (a full listen queue, a silent back-end):
		 * ETIMEDOUT, as for any request that ran out of time. */
		return fail(d, ret == -ETIMEDOUT ? ret : -ECONNREFUSED,
			    "cannot connect to the back-end: %s", tmp);
	}
	d->fe = fe;
	d->nr_connects++;
	report_backend(d, VUB_BACKEND_CONNECTED);
	dev_log(d, LOG_INFO, "connected to the back-end %s: features %#llx, protocol features %#llx, VMM sees features %#llx",
		d->backend ? d->backend : "(test)",
		(unsigned long long)vu_frontend_backend_features(fe),
		(unsigned long long)vu_frontend_protocol_features(fe),
		(unsigned long long)(vub_dev_net_features(vu_frontend_backend_features(fe) &
							  ~VU_FRONTEND_HIDDEN_FEATURES) |
				     vub_dev_log_features(vu_frontend_backend_features(fe),
							  vu_frontend_protocol_features(fe)) |
				     vub_dev_iommu_features(vu_frontend_backend_features(fe),
							    vu_frontend_protocol_features(fe))));
	return 0;
}

/* Every device on @d's connection: @d, or the queue pairs of its NIC. */
static unsigned int sharers(struct vub_dev *d, struct vub_dev **out)
{
	unsigned int k, n = 0;

	if (!d->nic) {
		out[0] = d;
		return 1;
	}
	for (k = 0; k < VUB_NIC_MAX_PAIRS; k++)
		if (d->nic->pair[k])
			out[n++] = (struct vub_dev *)d->nic->pair[k];
	return n;
}

/*
 * The connection failed (EOF, timeout, malformed message).  The front-end
 * keeps what the VMM set up, every device on the connection is "lost"
 * (ENOTCONN for what needs the back-end) until the daemon has reconnected
 * and replayed it (vub_dev_reconnect); the VMM learns through each ring's
 * err eventfd, the administrator through a log line and a netlink event.
 */
static void dev_lost(struct vub_dev *d, const char *why)
{
	struct vub_dev *all[VUB_NIC_MAX_PAIRS];
	unsigned int i, n = sharers(d, all);

	dev_log(d, LOG_WARNING, "lost the connection to the back-end %s: %s; ioctls that need it fail with ENOTCONN until the daemon has reconnected",
		d->backend ? d->backend : "(test)", why);
	vu_frontend_disconnect(d->fe);
	vu_frontend_signal_err(d->fe);
	for (i = 0; i < n; i++) {
		all[i]->lost = true;
		all[i]->retry_at = 0;
		all[i]->backoff_ms = 0;
		report_backend(all[i], VUB_BACKEND_LOST);
	}
}

static int fe_result(struct vub_dev *d, int ret)
{
	char tmp[sizeof(d->why)];

	if (!ret || !d->fe || !vu_frontend_broken(d->fe) || d->lost)
		return ret;
	snprintf(tmp, sizeof(tmp), "%s", d->why);
	dev_lost(d, tmp);
	return fail(d, -ENOTCONN, "lost the connection to the back-end: %s", tmp);
}

int vub_dev_reconnect(struct vub_dev *d)
{
	struct vub_dev *all[VUB_NIC_MAX_PAIRS];
	unsigned int i, n;
	int ret;

	if (!d->lost || !d->fe)
		return 0;
	d->why[0] = '\0';
	ret = d->cfg->connect ? d->cfg->connect(d->cfg->connect_opaque, d->fe) :
				vu_frontend_connect(d->fe, d->backend);
	if (ret && d->cfg->connect)
		fail(d, ret, "cannot connect: %s", strerror(-ret));
	else if (ret || (ret = vu_frontend_replay(d->fe)))
		fail(d, ret, "%s", vu_frontend_strerror(d->fe));
	if (ret) {
		vu_frontend_disconnect(d->fe);
		return ret;
	}
	n = sharers(d, all);
	for (i = 0; i < n; i++) {
		all[i]->lost = false;
		all[i]->nr_reconnects++;
		report_backend(all[i], VUB_BACKEND_CONNECTED);
	}
	dev_log(d, LOG_INFO, "reconnected to the back-end %s (reconnect %u%s): the device's state was replayed, started rings resume at the guest's used index",
		d->backend ? d->backend : "(test)", d->nr_reconnects,
		n > 1 ? ", for every queue pair of its NIC" : "");
	return 0;
}

static const char *const iotlb_type[] = {
	[VU_IOTLB_MISS] = "MISS", [VU_IOTLB_UPDATE] = "UPDATE",
	[VU_IOTLB_INVALIDATE] = "INVALIDATE", [VU_IOTLB_ACCESS_FAIL] = "ACCESS_FAIL",
};
static const char *const access_name[] = { "none", "ro", "wo", "rw" };

/*
 * The back-end's IOTLB request (BACKEND_IOTLB_MSG): a miss or an access
 * failure, for the VMM to read from its device (the kernel queues it).
 * Anything else is refused; the kernel refuses it for a device whose VMM
 * has no IOTLB (EBADFD).
 */
static int backend_iotlb(void *opaque, const struct vu_iotlb *m)
{
	struct vub_dev *d = opaque;
	uint32_t type;
	int ret;

	if (m->type != VU_IOTLB_MISS && m->type != VU_IOTLB_ACCESS_FAIL) {
		dev_log(d, LOG_WARNING, "back-end IOTLB message of type %u refused: only MISS and ACCESS_FAIL come from a back-end",
			m->type);
		return -EINVAL;
	}
	if (!m->perm || (m->perm & ~VU_ACCESS_RW)) {
		dev_log(d, LOG_WARNING, "back-end IOTLB %s iova %#llx with perm %#x refused",
			iotlb_type[m->type], (unsigned long long)m->iova, m->perm);
		return -EINVAL;
	}
	if (!d->cfg->iotlb_msg)
		return -EOPNOTSUPP;
	type = m->type == VU_IOTLB_MISS ? VUB_DEV_MSG_IOTLB_MISS : VUB_DEV_MSG_IOTLB_ACCESS_FAIL;
	ret = d->cfg->iotlb_msg(d->cfg->iotlb_msg_opaque, d->dev_id, type, m->iova, m->perm);
	if (!ret)
		d->nr_iotlb[m->type]++;
	dev_log(d, LOG_INFO, "back-end IOTLB %s iova %#llx perm %s -> VMM: %s", iotlb_type[m->type],
		(unsigned long long)m->iova, access_name[m->perm], ret ? strerror(-ret) : "queued");
	return ret;
}

int vub_dev_iotlb(struct vub_dev *d, const void *payload, uint32_t len)
{
	struct vu_iotlb m;
	char why[160];
	int ret;

	d->why[0] = '\0';
	d->nr_reqs++;
	if (vub_dev_iotlb_convert(payload, len, &m, why, sizeof(why)))
		return fail(d, -EINVAL, "malformed IOTLB message: %s", why);
	/* The kernel sends it only once the VMM set ACCESS_PLATFORM. */
	ret = dev_connect(d);
	if (ret)
		return ret;
	if (d->nic)
		vu_frontend_set_log(d->fe, fe_log, d);
	ret = vu_frontend_iotlb_msg(d->fe, &m);
	if (!ret)
		d->nr_iotlb[m.type]++;
	return fe_result(d, ret);
}

/*
 * The back-end said something while no request was in flight: a request on
 * the back-end channel, or on the connection itself a hang-up (or bytes no
 * request asked for, which breaks the protocol just the same).
 */
int vub_dev_check_backend(struct vub_dev *d)
{
	int fd = d->fe && !d->lost ? vu_frontend_conn_fd(d->fe) : -1;
	char c;
	ssize_t n;

	if (fd < 0)
		return 0;
	vu_frontend_set_iotlb_handler(d->fe, backend_iotlb, d);
	if (vu_frontend_handle_backend(d->fe) < 0 && vu_frontend_broken(d->fe)) {
		dev_lost(d, vu_frontend_strerror(d->fe));
		return -ENOTCONN;
	}
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	dev_lost(d, n == 0 ? "the back-end closed the connection" :
		    n > 0 ? "a message no request asked for" : strerror(errno));
	return -ENOTCONN;
}

int vub_dev_send_rarp(struct vub_dev *d, const uint8_t mac[6])
{
	char m[18];
	int ret;

	vub_rarp_mac_str(mac, m);
	if (!d->fe || d->lost)
		return fail(d, -ENOTCONN, "no connection to the back-end");
	if (!(vu_frontend_protocol_features(d->fe) & (1ull << VU_PF_RARP))) {
		if (!d->rarp_warned)
			dev_log(d, LOG_WARNING, "the back-end %s lacks PROTOCOL_F_RARP: the VMM's RARP for MAC %s (its self-announce) is not forwarded, the switch behind the back-end learns where the guest is only when the guest sends",
				d->backend ? d->backend : "(test)", m);
		d->rarp_warned = true;
		return fail(d, -EOPNOTSUPP, "the back-end lacks PROTOCOL_F_RARP");
	}
	if (d->nic)
		vu_frontend_set_log(d->fe, fe_log, d);
	d->why[0] = '\0';
	ret = fe_result(d, vu_frontend_send_rarp(d->fe, mac));
	if (ret)
		dev_log(d, LOG_WARNING, "SEND_RARP for MAC %s failed: %s", m, d->why);
	else
		dev_log(d, LOG_INFO, "forwarded the VMM's RARP for MAC %s to the back-end (SEND_RARP)", m);
	return ret;
}

int vub_dev_watch_fds(const struct vub_dev *d, int fds[2])
{
	fds[0] = fds[1] = -1;
	if (!d->fe || d->lost || (d->nic && d->nic->fe != d->fe))
		return 0;
	/* One watcher per connection: a NIC's lowest queue pair. */
	if (d->nic) {
		unsigned int k = 0;

		while (k < VUB_NIC_MAX_PAIRS && !d->nic->pair[k])
			k++;
		if (k < VUB_NIC_MAX_PAIRS && d->nic->pair[k] != d)
			return 0;
	}
	fds[0] = vu_frontend_conn_fd(d->fe);
	fds[1] = vu_frontend_backend_fd(d->fe);
	return fds[0] >= 0;
}

/*
 * At the device's first VHOST_NET_SET_BACKEND with a tap fd: if the tap is a
 * multiqueue one, the device becomes a queue pair of the VMM's NIC on it
 * (vub_nic.h).  The first device of a NIC lends it its connection (pair
 * 0); a later one takes the next free pair k, its cached settings are
 * replayed on the NIC's connection at rings 2k/2k+1, and its own
 * connection, which has not started a ring, is closed.
 */
static int dev_join_nic(struct vub_dev *d, uint32_t vmm_pid,
			const struct vub_tap_info *ti)
{
	struct vub_nic_key key = { .vmm_pid = vmm_pid };
	struct vu_frontend *own = d->fe;
	struct vub_nic *nic;
	unsigned int max;
	int k, ret;

	ret = vub_nic_key_from_tap(ti, &key);
	if (ret)
		return 0;	/* not a multiqueue tap: a connection of its own */
	snprintf(key.backend, sizeof(key.backend), "%s", d->backend ? d->backend : "");
	nic = vub_nic_find(d->cfg->nics, &key);
	if (!nic) {
		nic = vub_nic_new(d->cfg->nics, &key);
		if (!nic)
			return fail(d, -ENOMEM, "out of memory");
		nic->fe = own;
		d->nic = nic;
		d->pair = (unsigned int)vub_nic_add(nic, d, 1);
		dev_log(d, LOG_INFO, "pair %u of the NIC on multiqueue tap %s (VMM pid %u): its connection is the NIC's",
			d->pair, key.ifname, vmm_pid);
		return 0;
	}
	max = vub_nic_max_pairs(vu_frontend_protocol_features(nic->fe),
				vu_frontend_queue_num(nic->fe));
	k = vub_nic_add(nic, d, max);
	if (k < 0) {
		dev_log(d, LOG_WARNING, "the NIC on tap %s (VMM pid %u) wants more than %u queue pairs, the back-end %s has %u (GET_QUEUE_NUM%s): ENOBUFS",
			key.ifname, vmm_pid, max, key.backend, max,
			(vu_frontend_protocol_features(nic->fe) & (1ull << VU_PF_MQ)) ? "" :
			"; no MQ protocol feature");
		return fail(d, -ENOBUFS,
			    "the back-end has %u queue pairs, all taken by the NIC on tap %s", max,
			    key.ifname);
	}
	vu_frontend_set_log(nic->fe, fe_log, d);
	ret = vub_nic_replay(nic->fe, 2 * (unsigned int)k, own);
	if (ret) {
		vu_frontend_forget_vring(nic->fe, 2 * (unsigned int)k);
		vu_frontend_forget_vring(nic->fe, 2 * (unsigned int)k + 1);
		vub_nic_remove(nic, (unsigned int)k);
		return ret;
	}
	d->nic = nic;
	d->pair = (unsigned int)k;
	d->fe = nic->fe;
	vu_frontend_free(own);
	dev_log(d, LOG_INFO, "pair %u of the NIC on multiqueue tap %s (VMM pid %u): joins the NIC's connection as rings %u and %u; its own connection is closed",
		d->pair, key.ifname, vmm_pid, vring(d, 0), vring(d, 1));
	return 0;
}

/* --- the record in the kernel's fd store --------------------------------- */

/*
 * Each descriptor has a fixed slot by its role (vub_state.h), so that a
 * record and the files stored next to it agree even while they change:
 * the connection, the back-end channel, the rings' kick/call/err, the
 * memory files.
 */
#define SLOT_CONN	(VUB_FD_SLOT_STATE + 1)
#define SLOT_BACKEND	(VUB_FD_SLOT_STATE + 2)
#define SLOT_RING(i, k)	(VUB_FD_SLOT_STATE + 3 + 3 * (i) + (k))
#define SLOT_MEM(i)	SLOT_RING(VUB_STATE_MAX_RINGS, i)

_Static_assert(SLOT_MEM(VUB_STATE_MAX_REGIONS) <= VUB_FD_STORE_SLOTS,
	       "a record's files fit in the fd store");

/* @fd in @slot; VU_FRONTEND_FD_NONE and NOFD take none. */
static uint32_t put_slot(int *slotfd, uint32_t slot, int fd)
{
	if (fd == VU_FRONTEND_FD_NOFD)
		return VUB_STATE_SLOT_NOFD;
	if (fd < 0)
		return VUB_STATE_SLOT_NONE;
	slotfd[slot] = fd;
	return slot;
}

static void save_region(struct vub_state_region *o, const struct vu_frontend_region *r,
			int *slotfd, uint32_t slot)
{
	*o = (struct vub_state_region){ .gpa = r->gpa, .size = r->size, .uaddr = r->uaddr,
		.fd_offset = r->fd_offset, .file_dev = r->file_dev, .file_ino = r->file_ino,
		.slot = put_slot(slotfd, slot, r->fd) };
}

int vub_dev_state_save(const struct vub_dev *d, struct vub_state *s, int *slotfd)
{
	const struct vu_frontend *fe = d->fe;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < VUB_FD_STORE_SLOTS; i++)
		slotfd[i] = -1;
	s->dev_id = d->dev_id;
	s->vmm_pid = d->vmm_pid;
	s->instance_id = d->instance_id;
	if (d->backend == d->instance_socket)
		memcpy(s->instance_socket, d->instance_socket, sizeof(s->instance_socket));
	s->pair = d->pair;
	s->lost = d->lost;
	s->attached[0] = d->attached[0];
	s->attached[1] = d->attached[1];
	s->features_set = d->features_set;
	s->tap_seen = d->tap_seen;
	s->busyloop[0] = d->busyloop[0];
	s->busyloop[1] = d->busyloop[1];
	s->vmm_features = d->vmm_features;
	s->sent_features = d->sent_features;
	s->offloads = d->offloads;
	s->missing = d->missing;
	s->nr_reqs = d->nr_reqs;
	s->nr_reconnects = d->nr_reconnects;
	if (d->nic) {
		s->in_nic = 1;
		s->nic_vmm_pid = d->nic->key.vmm_pid;
		s->nic_netns_dev = d->nic->key.netns_dev;
		s->nic_netns_ino = d->nic->key.netns_ino;
		memcpy(s->nic_ifname, d->nic->key.ifname, sizeof(s->nic_ifname));
		memcpy(s->nic_backend, d->nic->key.backend, sizeof(s->nic_backend));
	}
	if (!fe)
		return 0;
	s->has_fe = 1;
	s->connected = fe->connected && !fe->broken;
	s->has_proto = fe->has_proto;
	s->fe_features_set = fe->features_set;
	s->features_sent = fe->features_sent;
	s->owner_sent = fe->owner_sent;
	s->replay_owner = fe->replay_owner;
	s->mem_set = fe->mem_set;
	s->mem_sent = fe->mem_sent;
	s->status = fe->status;
	s->backend_features = fe->backend_features;
	s->backend_proto = fe->backend_proto;
	s->proto = fe->proto;
	s->queue_num = fe->queue_num;
	s->max_mem_slots = fe->max_mem_slots;
	s->features = fe->features;
	s->conn_slot = put_slot(slotfd, SLOT_CONN, s->connected ? fe->conn.fd : -1);
	s->backend_slot = put_slot(slotfd, SLOT_BACKEND, s->connected ? fe->backend_fd : -1);
	if (fe->nmem > VUB_STATE_MAX_REGIONS || fe->ninstalled > VUB_STATE_MAX_REGIONS)
		return -E2BIG;
	s->nmem = fe->nmem;
	for (i = 0; i < fe->nmem; i++)
		save_region(&s->mem[i], &fe->mem[i].r, slotfd, SLOT_MEM(i));
	s->ninstalled = fe->ninstalled;
	for (i = 0; i < fe->ninstalled; i++) {
		struct vu_frontend_region r = fe->installed[i].r;

		r.fd = -1;	/* the front-end keeps none there */
		save_region(&s->installed[i], &r, slotfd, 0);
	}
	s->nr_rings = 2 * (d->pair + 1);
	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++)
		if (fe->ring[i].have || fe->ring[i].started || fe->ring[i].want_started)
			s->nr_rings = i + 1 > s->nr_rings ? i + 1 : s->nr_rings;
	s->nr_rings += s->nr_rings % 2;
	if (s->nr_rings > VUB_STATE_MAX_RINGS)
		return -E2BIG;
	for (i = 0; i < s->nr_rings; i++) {
		const struct vu_frontend_ring *r = &fe->ring[i];
		struct vub_state_ring *o = &s->ring[i];

		o->num = r->num;
		o->base = r->base;
		o->addr = r->addr;
		o->addr.index = i;
		o->have = r->have;
		o->kick_slot = put_slot(slotfd, SLOT_RING(i, 0), r->kick_fd);
		o->call_slot = put_slot(slotfd, SLOT_RING(i, 1), r->call_fd);
		o->err_slot = put_slot(slotfd, SLOT_RING(i, 2), r->err_fd);
		o->want_started = r->want_started;
		o->started = r->started;
		o->stale = r->stale;
		o->enable = r->enable;
		o->enabled = r->enabled;
	}
	return 0;
}

/* A dup of the stored file in @slot, or the special values; -errno if missing. */
static int restore_fd(struct vub_dev *d, const int *slotfd, uint32_t slot, int *fd)
{
	if (slot == VUB_STATE_SLOT_NONE) {
		*fd = VU_FRONTEND_FD_NONE;
		return 0;
	}
	if (slot == VUB_STATE_SLOT_NOFD) {
		*fd = VU_FRONTEND_FD_NOFD;
		return 0;
	}
	if (slotfd[slot] < 0)
		return fail(d, -ENOENT, "the record names fd-store slot %u, which is empty", slot);
	*fd = fcntl(slotfd[slot], F_DUPFD_CLOEXEC, 3);
	if (*fd < 0)
		return fail(d, -errno, "dup of slot %u: %s", slot, strerror(errno));
	return 0;
}

static int restore_fe(struct vub_dev *d, const struct vub_state *s, const int *slotfd,
		      struct vu_frontend **out)
{
	struct vu_frontend_opts o = {
		.nr_rings = VUB_NET_RINGS,
		.timeout_ms = d->cfg->timeout_ms,
		.log = fe_log,
		.log_opaque = d,
	};
	struct vu_frontend *fe = vu_frontend_new(&o);
	uint32_t i;
	int fd, ret;

	if (!fe)
		return fail(d, -ENOMEM, "out of memory");
	if (s->connected) {
		ret = restore_fd(d, slotfd, s->conn_slot, &fd);
		if (ret)
			goto err;
		vu_frontend_adopt_fd(fe, fd);
		ret = restore_fd(d, slotfd, s->backend_slot, &fd);
		if (ret)
			goto err;
		if (fd >= 0) {
			vu_conn_adopt(&fe->backend_conn, fd);
			fe->backend_conn.timeout_ms = fe->opts.timeout_ms;
			fe->backend_fd = fd;
		}
	} else {
		fe->broken = true;	/* lost: the daemon reconnects */
	}
	fe->has_proto = s->has_proto;
	fe->features_set = s->fe_features_set;
	fe->features_sent = s->features_sent;
	fe->owner_sent = s->owner_sent;
	fe->replay_owner = s->replay_owner;
	fe->mem_set = s->mem_set;
	fe->mem_sent = s->mem_sent;
	fe->status = s->status;
	fe->backend_features = s->backend_features;
	fe->backend_proto = s->backend_proto;
	fe->proto = s->proto;
	fe->queue_num = s->queue_num;
	fe->max_mem_slots = s->max_mem_slots;
	fe->features = s->features;
	for (i = 0; i < s->nmem; i++) {
		const struct vub_state_region *r = &s->mem[i];

		ret = restore_fd(d, slotfd, r->slot, &fd);
		if (ret)
			goto err;
		fe->mem[i].r = (struct vu_frontend_region){ .gpa = r->gpa, .size = r->size,
			.uaddr = r->uaddr, .fd_offset = r->fd_offset, .fd = fd,
			.file_dev = r->file_dev, .file_ino = r->file_ino };
		fe->nmem = i + 1;
	}
	for (i = 0; i < s->ninstalled; i++) {
		const struct vub_state_region *r = &s->installed[i];

		fe->installed[i].r = (struct vu_frontend_region){ .gpa = r->gpa,
			.size = r->size, .uaddr = r->uaddr, .fd_offset = r->fd_offset, .fd = -1,
			.file_dev = r->file_dev, .file_ino = r->file_ino };
	}
	fe->ninstalled = s->ninstalled;
	for (i = 0; i < s->nr_rings; i++) {
		const struct vub_state_ring *r = &s->ring[i];
		struct vu_frontend_ring *fr = &fe->ring[i];

		fr->num = r->num;
		fr->base = r->base;
		fr->addr = r->addr;
		fr->have = r->have;
		fr->want_started = r->want_started;
		fr->started = r->started;
		fr->stale = r->stale;
		fr->enable = r->enable;
		fr->enabled = r->enabled;
		if ((ret = restore_fd(d, slotfd, r->kick_slot, &fr->kick_fd)) ||
		    (ret = restore_fd(d, slotfd, r->call_slot, &fr->call_fd)) ||
		    (ret = restore_fd(d, slotfd, r->err_slot, &fr->err_fd)))
			goto err;
	}
	*out = fe;
	return 0;
err:
	vu_frontend_free(fe);
	return ret;
}

int vub_dev_state_restore(struct vub_dev *d, const struct vub_state *s, const int *slotfd)
{
	struct vub_nic_key key = { .vmm_pid = s->nic_vmm_pid, .netns_dev = s->nic_netns_dev,
				   .netns_ino = s->nic_netns_ino };
	struct vu_frontend *fe = NULL;
	struct vub_nic *nic = NULL;
	int ret;

	d->instance_id = s->instance_id;
	if (s->instance_socket[0]) {
		memcpy(d->instance_socket, s->instance_socket, sizeof(d->instance_socket));
		d->backend = d->instance_socket;
	}
	d->lost = s->lost;
	d->attached[0] = s->attached[0];
	d->attached[1] = s->attached[1];
	d->features_set = s->features_set;
	d->tap_seen = s->tap_seen;
	d->busyloop[0] = s->busyloop[0];
	d->busyloop[1] = s->busyloop[1];
	d->vmm_features = s->vmm_features;
	d->sent_features = s->sent_features;
	d->offloads = s->offloads;
	d->missing = s->missing;
	d->nr_reqs = s->nr_reqs;
	d->nr_reconnects = s->nr_reconnects;
	if (s->in_nic) {
		memcpy(key.ifname, s->nic_ifname, sizeof(key.ifname));
		memcpy(key.backend, s->nic_backend, sizeof(key.backend));
		if (!d->cfg->nics)
			return fail(d, -EINVAL, "a queue pair, and this daemon has no NICs");
		nic = vub_nic_find(d->cfg->nics, &key);
		if (nic && nic->pair[s->pair])
			return fail(d, -EEXIST, "pair %u of the NIC on tap %s is taken", s->pair,
				    key.ifname);
	}
	if (!nic && s->has_fe) {
		ret = restore_fe(d, s, slotfd, &fe);
		if (ret)
			return ret;
	}
	if (s->in_nic && !nic) {
		if (!fe)
			return fail(d, -EINVAL, "a queue pair without a connection");
		nic = vub_nic_new(d->cfg->nics, &key);
		if (!nic) {
			vu_frontend_free(fe);
			return fail(d, -ENOMEM, "out of memory");
		}
		nic->fe = fe;
	}
	if (nic) {
		nic->pair[s->pair] = d;
		nic->nr_members++;
		d->nic = nic;
		d->pair = s->pair;
		fe = nic->fe;
	}
	d->fe = fe;
	if (fe)
		vu_frontend_set_log(fe, fe_log, d);
	d->restored = true;
	return 0;
}

void vub_dev_desync(struct vub_dev *d)
{
	if (!d->fe || d->lost)
		return;
	dev_lost(d, "the previous daemon died in the middle of an exchange with the back-end, whose stream cannot be trusted; reconnecting");
}

/* --- pure helpers -------------------------------------------------------- */

uint64_t vub_dev_net_features(uint64_t backend_features)
{
	return backend_features & VUB_NET_FEATURES;
}

uint64_t vub_dev_log_features(uint64_t backend_features, uint64_t proto)
{
	if ((backend_features & BIT(VU_F_LOG_ALL)) && (proto & BIT(VU_PF_LOG_SHMFD)))
		return BIT(VU_F_LOG_ALL);
	return 0;
}

uint64_t vub_dev_iommu_features(uint64_t backend_features, uint64_t proto)
{
	const uint64_t need = BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_BACKEND_REQ);

	if ((backend_features & BIT(VU_F_ACCESS_PLATFORM)) && (proto & need) == need)
		return BIT(VU_F_ACCESS_PLATFORM);
	return 0;
}

int vub_dev_iotlb_convert(const void *payload, uint32_t len, struct vu_iotlb *out,
			  char *why, size_t why_len)
{
	struct vhost_iotlb_msg m;
	static const uint8_t zero[sizeof(m) - offsetof(struct vhost_iotlb_msg, type) - 1];

	if (len != sizeof(m)) {
		snprintf(why, why_len, "payload of %u bytes, not %zu", len, sizeof(m));
		return -EINVAL;
	}
	memcpy(&m, payload, sizeof(m));
	if (memcmp((const uint8_t *)payload + offsetof(struct vhost_iotlb_msg, type) + 1,
		   zero, sizeof(zero))) {
		snprintf(why, why_len, "padding is not 0");
		return -EINVAL;
	}
	if (m.perm & ~VU_ACCESS_RW) {
		snprintf(why, why_len, "perm %#x has bits beyond RW", m.perm);
		return -EINVAL;
	}
	*out = (struct vu_iotlb){ .iova = m.iova, .size = m.size, .perm = m.perm,
				  .type = m.type };
	switch (m.type) {
	case VU_IOTLB_UPDATE:
		if (!m.size || m.iova + m.size - 1 < m.iova || m.uaddr + m.size - 1 < m.uaddr) {
			snprintf(why, why_len, "UPDATE iova %#llx uaddr %#llx size %#llx: empty or wrapping",
				 (unsigned long long)m.iova, (unsigned long long)m.uaddr,
				 (unsigned long long)m.size);
			return -EINVAL;
		}
		out->uaddr = m.uaddr;
		return 0;
	case VU_IOTLB_INVALIDATE:
		if (m.iova + m.size - 1 < m.iova) {
			snprintf(why, why_len, "INVALIDATE iova %#llx size %#llx wraps",
				 (unsigned long long)m.iova, (unsigned long long)m.size);
			return -EINVAL;
		}
		if (m.iova + m.size < m.iova || !m.size)	/* ends at 2^64 */
			out->size = UINT64_MAX - m.iova;
		out->perm = 0;
		return 0;
	default:
		snprintf(why, why_len, "type %u is not UPDATE (2) or INVALIDATE (3)", m.type);
		return -EINVAL;
	}
}

uint64_t vub_dev_tap_offloads(const struct vub_tap_info *ti)
{
	static const struct {
		unsigned int tun;
		uint64_t guest;
	} map[] = {
		{ TUN_F_CSUM,		BIT(1) },	/* GUEST_CSUM */
		{ TUN_F_TSO4,		BIT(7) },	/* GUEST_TSO4 */
		{ TUN_F_TSO6,		BIT(8) },	/* GUEST_TSO6 */
		{ TUN_F_TSO_ECN,	BIT(9) },	/* GUEST_ECN */
		{ TUN_F_USO4,		BIT(54) },	/* GUEST_USO4 */
		{ TUN_F_USO6,		BIT(55) },	/* GUEST_USO6 */
	};
	uint64_t f;
	size_t i;

	if (!ti->vnet_hdr)
		return 0;
	f = VUB_OFFLOADS_HOST;
	if (!(ti->offloads_avail & TUN_F_USO4))
		f &= ~BIT(56);				/* HOST_USO */
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ti->offloads & map[i].tun)
			f |= map[i].guest;
	return f;
}

uint64_t vub_dev_offloads_negotiate(uint64_t wanted, uint64_t offered,
				uint64_t *missing)
{
	uint64_t f = wanted & offered & (VUB_OFFLOADS_HOST | VUB_OFFLOADS_GUEST);

	if (!(f & BIT(0)))				/* CSUM */
		f &= ~VUB_OFFLOADS_HOST;
	if (!(f & (BIT(11) | BIT(12))))			/* HOST_TSO4/6 */
		f &= ~BIT(13);				/* HOST_ECN */
	if (!(f & BIT(1)))				/* GUEST_CSUM */
		f &= ~VUB_OFFLOADS_GUEST;
	if (!(f & (BIT(7) | BIT(8))))			/* GUEST_TSO4/6 */
		f &= ~BIT(9);				/* GUEST_ECN */
	*missing = wanted & VUB_OFFLOADS_HOST & ~f;
	return f;
}

void vub_dev_offloads_name(uint64_t bits, char *buf, size_t len)
{
	static const char *const names[64] = {
		[0] = "CSUM", [1] = "GUEST_CSUM", [7] = "GUEST_TSO4",
		[8] = "GUEST_TSO6", [9] = "GUEST_ECN", [10] = "GUEST_UFO",
		[11] = "HOST_TSO4", [12] = "HOST_TSO6", [13] = "HOST_ECN",
		[14] = "HOST_UFO", [54] = "GUEST_USO4", [55] = "GUEST_USO6",
		[56] = "HOST_USO",
	};
	size_t n = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < 64 && n < len; i++)
		if ((bits & BIT(i)) && names[i])
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "",
					      names[i]);
	if (!n)
		snprintf(buf, len, "none");
}

/*
 * Does the table map [@gpa, +@size) at @uaddr?  The kernel merges contiguous
 * pieces of one file, also across regions (a VMM that splits its RAM into
 * several adjacent regions), so a piece may span several adjacent regions.
 */
static bool piece_in_table(const struct vhost_memory *mem, uint64_t gpa,
			   uint64_t uaddr, uint64_t size)
{
	const struct vhost_memory_region *r = NULL;
	uint64_t step;
	uint32_t j;

	while (size) {
		for (j = 0; j < mem->nregions; j++) {
			r = &mem->regions[j];
			if (gpa >= r->guest_phys_addr &&
			    gpa - r->guest_phys_addr < r->memory_size &&
			    uaddr - r->userspace_addr == gpa - r->guest_phys_addr)
				break;
		}
		if (j == mem->nregions)
			return false;
		step = r->memory_size - (gpa - r->guest_phys_addr);
		if (step > size)
			step = size;
		gpa += step;
		uaddr += step;
		size -= step;
	}
	return true;
}

int vub_dev_mem_from_pieces(const struct vhost_memory *mem,
			const struct vub_mem_piece *pieces, uint32_t nr_pieces,
			const int *fds, uint32_t nr_fds,
			struct vu_frontend_region *out, char *why, size_t why_len)
{
	uint32_t i;

	if (nr_pieces > VUB_MAX_MEM_PIECES) {
		snprintf(why, why_len, "%u memory pieces, at most %u", nr_pieces,
			 VUB_MAX_MEM_PIECES);
		return -EINVAL;
	}
	for (i = 0; i < nr_pieces; i++) {
		const struct vub_mem_piece *p = &pieces[i];

		if (!p->memory_size || p->flags || p->fd_index >= nr_fds ||
		    p->guest_phys_addr + p->memory_size < p->guest_phys_addr ||
		    p->userspace_addr + p->memory_size < p->userspace_addr) {
			snprintf(why, why_len,
				 "memory piece %u (gpa %#llx size %#llx fd_index %u flags %#x) is malformed",
				 i, (unsigned long long)p->guest_phys_addr,
				 (unsigned long long)p->memory_size, p->fd_index, p->flags);
			return -EINVAL;
		}
		if (!piece_in_table(mem, p->guest_phys_addr, p->userspace_addr, p->memory_size)) {
			snprintf(why, why_len,
				 "memory piece %u (gpa %#llx size %#llx uaddr %#llx) lies in no region of the table",
				 i, (unsigned long long)p->guest_phys_addr,
				 (unsigned long long)p->memory_size,
				 (unsigned long long)p->userspace_addr);
			return -EINVAL;
		}
		out[i] = (struct vu_frontend_region){
			.gpa = p->guest_phys_addr,
			.size = p->memory_size,
			.uaddr = p->userspace_addr,
			.fd_offset = p->file_offset,
			.fd = fds[p->fd_index],
		};
	}
	return (int)nr_pieces;
}

static const struct vub_mem_piece *req_pieces(const struct vub_req *req,
					      uint32_t *n)
{
	*n = req->ext_len / sizeof(struct vub_mem_piece);
	return req->ext_len ? (const void *)((const char *)req + req->ext_offset)
			    : NULL;
}

static int check_request(const struct vub_vhost_ioctl *d, const struct vub_req *req,
			 const void *payload, char *why, size_t why_len)
{
	struct vhost_memory mem;

	if (!d) {
		snprintf(why, why_len, "not a forwarded vhost ioctl");
		return -EINVAL;
	}
	if (vub_vhost_check_payload(d, payload, req->payload_len) ||
	    req->reply_len != d->out_len) {
		snprintf(why, why_len, "payload %u bytes / reply %u bytes, expected %u%s / %u",
			 req->payload_len, req->reply_len, d->in_len,
			 d->arg == VUB_ARG_MEM ? " + 32 * nregions" : "", d->out_len);
		return -EINVAL;
	}
	if (d->ioctl == VHOST_SET_LOG_BASE) {
		if (req->ext_len != sizeof(struct vub_log_info) || req->nr_fds != 1 ||
		    req->ext_offset < req->hdr_len + req->payload_len || req->ext_offset % 8) {
			snprintf(why, why_len,
				 "%u fds and %u bytes of extension at %u, expected the log (1 fd) and a struct vub_log_info (%zu) after the payload (module too old?)",
				 req->nr_fds, req->ext_len, req->ext_offset,
				 sizeof(struct vub_log_info));
			return -EINVAL;
		}
		return 0;
	}
	if (d->arg != VUB_ARG_MEM) {
		if (req->ext_len || req->nr_fds != vub_vhost_nr_fds(d, payload)) {
			snprintf(why, why_len, "%u fds and %u bytes of extension, expected %u and 0",
				 req->nr_fds, req->ext_len, vub_vhost_nr_fds(d, payload));
			return -EINVAL;
		}
		return 0;
	}
	memcpy(&mem, payload, sizeof(mem));
	if (req->ext_len % sizeof(struct vub_mem_piece) ||
	    req->ext_len / sizeof(struct vub_mem_piece) > VUB_MAX_MEM_PIECES ||
	    (mem.nregions && (!req->ext_len || !req->nr_fds)) ||
	    (!mem.nregions && (req->ext_len || req->nr_fds))) {
		snprintf(why, why_len,
			 "%u regions with %u bytes of memory pieces and %u files: the kernel must resolve every region to pieces of files (module too old?)",
			 mem.nregions, req->ext_len, req->nr_fds);
		return -EINVAL;
	}
	return 0;
}

int vub_dev_check_request(const struct vub_req *req, const void *payload,
			  char *why, size_t why_len)
{
	return check_request(vub_vhost_find(req->ioctl), req, payload, why, why_len);
}

/* --- vhost ioctl handlers ------------------------------------------------ */

typedef int dev_handler(struct vub_dev *d, const struct vub_req *req,
			const void *payload, const int *fds, void *reply,
			uint32_t *reply_len);

static void reply_u64(void *reply, uint32_t *reply_len, uint64_t v)
{
	memcpy(reply, &v, sizeof(v));
	*reply_len = sizeof(v);
}

static void reply_state(void *reply, uint32_t *reply_len, uint32_t idx,
			uint32_t num)
{
	struct vhost_vring_state s = { .index = idx, .num = num };

	memcpy(reply, &s, sizeof(s));
	*reply_len = sizeof(s);
}

/* Ring index of a state/file/addr payload (all start with a u32 index);
 * the kernel already refused >= 2 with ENOBUFS, as vhost does. */
static int ring_index(struct vub_dev *d, const void *payload, uint32_t *idx)
{
	memcpy(idx, payload, sizeof(*idx));
	if (*idx >= VUB_NET_RINGS)
		return fail(d, -ENOBUFS, "ring index %u (vhost-net has rings 0 and 1)", *idx);
	return 0;
}

/* What GET_FEATURES shows: the vhost-net allowlist, and VHOST_F_LOG_ALL
 * when the back-end logs into a shared log (LOG_ALL and LOG_SHMFD). */
static uint64_t dev_features(const struct vub_dev *d, uint64_t backend)
{
	uint64_t proto = vu_frontend_protocol_features(d->fe);

	return vub_dev_net_features(backend) | vub_dev_log_features(backend, proto) |
	       vub_dev_iommu_features(backend, proto);
}

static int h_get_features(struct vub_dev *d, const struct vub_req *req,
			  const void *payload, const int *fds, void *reply,
			  uint32_t *reply_len)
{
	uint64_t f;
	int ret;

	(void)req; (void)payload; (void)fds;
	ret = vu_frontend_get_features(d->fe, &f);
	if (ret)
		return ret;
	reply_u64(reply, reply_len, dev_features(d, f));
	return 0;
}

/* What a guest may send that a back-end without these bits will not finish. */
static const char *missing_effect(uint64_t missing)
{
	if (missing & BIT(0))
		return "partial checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM) and GSO frames go out unfinished";
	if (missing & (BIT(11) | BIT(12) | BIT(13)))
		return "TCP GSO frames (up to 64 KiB) are not segmented";
	return "UDP GSO frames are not segmented";
}

/* The back-end's features for the VMM's ones and the tap's offloads. */
static int backend_features(struct vub_dev *d, uint64_t *f, uint64_t *missing)
{
	uint64_t offered;
	int ret = vu_frontend_get_features(d->fe, &offered);

	if (!ret)
		*f = d->vmm_features |
		     vub_dev_offloads_negotiate(d->offloads, offered, missing);
	return ret;
}

/*
 * SET_FEATURES to the back-end: the VMM's features plus the offloads the tap
 * says the VMM agreed on, as far as the back-end offers them.  Logged and
 * reported whenever the result changes.
 */
static int send_features(struct vub_dev *d)
{
	char neg_names[160], miss_names[160];
	uint64_t f, missing, set;
	int ret;

	ret = backend_features(d, &f, &missing);
	/* Every pair of a NIC asks for the same features: once is enough. */
	if (!ret && !(d->nic && vu_frontend_features(d->fe, &set) && set == f))
		ret = vu_frontend_set_features(d->fe, f);
	if (ret)
		return ret;
	if (d->features_set && f == d->sent_features && missing == d->missing)
		return 0;
	d->features_set = true;
	d->sent_features = f;
	d->missing = missing;
	report_backend(d, VUB_BACKEND_CONNECTED);
	if (!d->offloads)
		return 0;
	vub_dev_offloads_name(f & (VUB_OFFLOADS_HOST | VUB_OFFLOADS_GUEST), neg_names,
			  sizeof(neg_names));
	vub_dev_offloads_name(missing, miss_names, sizeof(miss_names));
	if (!missing)
		dev_log(d, LOG_INFO, "back-end features %#llx: offloads %s",
			(unsigned long long)f, neg_names);
	else
		dev_log(d, LOG_WARNING, "back-end features %#llx: offloads %s; the guest may use %s, which the back-end does not offer: %s (the bridge cannot fix them; offer them in the back-end, e.g. testpmd's net_vhost tso=1, or turn them off in the guest)",
			(unsigned long long)f, neg_names, miss_names,
			missing_effect(missing));
	return 0;
}

/*
 * Learn the offloads from the VMM's tap, at VHOST_NET_SET_BACKEND: QEMU and
 * DPDK virtio-user set the tap's offloads just before.  While no ring runs,
 * a change goes to the back-end at once (vhost-user allows SET_FEATURES
 * again until the device runs); a change while a ring runs cannot (DPDK
 * refuses it), and is logged.  An fd that is not a readable tap (a packet
 * socket, a test's file) tells nothing: the back-end gets the ring features.
 * @ti and @is_tap return what was read: a multiqueue tap also names the
 * device's NIC (dev_join_nic).
 */
static int learn_tap(struct vub_dev *d, uint32_t idx, int fd, struct vub_tap_info *ti,
		     bool *is_tap)
{
	char why[160], names[160];
	uint64_t want, f, missing;
	int ret;

	ret = d->cfg->read_tap ?
	      d->cfg->read_tap(d->cfg->read_tap_opaque, fd, ti, why, sizeof(why)) :
	      vub_tap_read(fd, ti, why, sizeof(why));
	*is_tap = !ret;
	want = ret ? 0 : vub_dev_tap_offloads(ti);
	if (ret && (!d->tap_seen || want != d->offloads)) {
		dev_log(d, LOG_WARNING, "ring %u: the VMM's backend fd does not show its offloads (%s): the back-end is told of none",
			idx, why);
	} else if (!d->tap_seen || want != d->offloads) {
		vub_dev_offloads_name(want, names, sizeof(names));
		dev_log(d, LOG_INFO, "ring %u: tap %s: %s%d-byte virtio-net header, tap offloads %#x: the guest may use %s",
			idx, ti->ifname, ti->vnet_hdr ? "" : "no ", ti->vnet_hdr_sz,
			ti->offloads, names);
	}
	if (!ret && !ti->own_netns && !d->tap_seen)
		dev_log(d, LOG_INFO, "ring %u: tap %s is in another network namespace: the VMM's self-announce (RARP) there is not forwarded to the back-end",
			idx, ti->ifname);
	d->tap_ifindex = !ret && ti->own_netns ? ti->ifindex : 0;
	d->tap_seen = true;
	d->offloads = want;
	if (!d->features_set)
		return 0;	/* VHOST_SET_FEATURES will carry them */
	ret = backend_features(d, &f, &missing);
	if (ret || (f == d->sent_features && missing == d->missing))
		return ret;
	if (vu_frontend_any_ring_started(d->fe)) {	/* features are the connection's */
		dev_log(d, LOG_WARNING, "ring %u: the tap's offloads changed while a ring runs: the back-end keeps features %#llx until the rings stop",
			idx, (unsigned long long)d->sent_features);
		return 0;
	}
	return send_features(d);
}

static int h_set_features(struct vub_dev *d, const struct vub_req *req,
			  const void *payload, const int *fds, void *reply,
			  uint32_t *reply_len)
{
	uint64_t f, offered, old;
	int ret;

	(void)req; (void)fds; (void)reply; (void)reply_len;
	memcpy(&f, payload, sizeof(f));
	ret = vu_frontend_get_features(d->fe, &offered);
	if (ret)
		return ret;
	offered = dev_features(d, offered);
	if (f & ~offered)
		return fail(d, -EOPNOTSUPP,
			    "features %#llx: bits %#llx are not offered (GET_FEATURES: %#llx)",
			    (unsigned long long)f, (unsigned long long)(f & ~offered),
			    (unsigned long long)offered);
	/* Bit 27 (VHOST_NET_F_VIRTIO_NET_HDR) is offered only when the back-end
	 * offers ANY_LAYOUT, and goes to it as ANY_LAYOUT: the back-end owns
	 * the virtio-net header, nothing here adds or strips it. */
	old = d->vmm_features;
	d->vmm_features = f;
	ret = send_features(d);
	if (ret)
		d->vmm_features = old;
	return ret;
}

static int h_set_owner(struct vub_dev *d, const struct vub_req *req,
		       const void *payload, const int *fds, void *reply,
		       uint32_t *reply_len)
{
	(void)req; (void)payload; (void)fds; (void)reply; (void)reply_len;
	return vu_frontend_set_owner(d->fe);
}

/*
 * vhost-net forgets everything (rings, eventfds, memory, features) and lets
 * a new owner start over.  A vhost-user connection is only reset cleanly by
 * closing it (RESET_OWNER is deprecated, and DPDK has no RESET_DEVICE): the
 * next request opens a fresh one.  This also gives a device that lost its
 * back-end a way back.
 */
static int h_reset_owner(struct vub_dev *d, const struct vub_req *req,
			 const void *payload, const int *fds, void *reply,
			 uint32_t *reply_len)
{
	(void)req; (void)payload; (void)fds; (void)reply; (void)reply_len;
	if (d->fe || d->lost)
		dev_log(d, LOG_INFO, "VHOST_RESET_OWNER: closing the back-end connection; the next request opens a new one");
	vub_dev_release(d);
	memset(d->busyloop, 0, sizeof(d->busyloop));
	return 0;
}

static int h_set_mem_table(struct vub_dev *d, const struct vub_req *req,
			   const void *payload, const int *fds, void *reply,
			   uint32_t *reply_len)
{
	const struct vub_mem_piece *pieces;
	struct vu_frontend_region *regions;
	uint32_t n;
	int ret;

	(void)reply; (void)reply_len;
	pieces = req_pieces(req, &n);
	regions = calloc(n ? n : 1, sizeof(*regions));
	if (!regions)
		return fail(d, -ENOMEM, "out of memory");
	ret = vub_dev_mem_from_pieces(payload, pieces, n, fds, req->nr_fds, regions,
				  d->why, sizeof(d->why));
	/* Every pair of a NIC sends the same table: once is enough. */
	if (ret >= 0 && !(d->nic && vub_nic_same_mem(d->fe, regions, n)))
		ret = vu_frontend_set_mem_table(d->fe, regions, n);
	else if (ret >= 0)
		ret = 0;
	free(regions);
	return ret;
}

/*
 * The kernel pinned the VMM's log and sends the file of a shadow log it
 * folds into the VMM's (struct vub_log_info): it goes to the back-end as it
 * is, and is kept for a reconnect.
 */
static int h_log_base(struct vub_dev *d, const struct vub_req *req,
		      const void *payload, const int *fds, void *reply,
		      uint32_t *reply_len)
{
	struct vub_log_info li;
	uint64_t base;

	(void)reply; (void)reply_len;
	memcpy(&base, payload, sizeof(base));
	memcpy(&li, (const char *)req + req->ext_offset, sizeof(li));
	if (li.flags || li.reserved[0] || li.reserved[1] || li.reserved[2] ||
	    !li.mmap_size || li.mmap_size % 8 || li.mmap_offset >= 4096)
		return fail(d, -EINVAL,
			    "log at %#llx: malformed struct vub_log_info (size %#llx offset %#llx flags %#x)",
			    (unsigned long long)base, (unsigned long long)li.mmap_size,
			    (unsigned long long)li.mmap_offset, li.flags);
	if (!(vu_frontend_protocol_features(d->fe) & (1ull << VU_PF_LOG_SHMFD)))
		return fail(d, -EOPNOTSUPP,
			    "dirty log: the back-end has no LOG_SHMFD (GET_FEATURES did not offer VHOST_F_LOG_ALL)");
	dev_log(d, LOG_INFO, "dirty log of the VMM at %#llx: %llu bytes (guest memory up to %llu MiB), to the back-end",
		(unsigned long long)base, (unsigned long long)li.mmap_size,
		(unsigned long long)(li.mmap_size * 8 * 4096) >> 20);
	return vu_frontend_set_log_base(d->fe, fds[0], li.mmap_size, li.mmap_offset);
}

/* SET_LOG_FD: an eventfd the back-end may signal after it logged; -1 unbinds
 * (vhost-user has no unbind: nothing is sent, the back-end keeps the old). */
static int h_log_fd(struct vub_dev *d, const struct vub_req *req,
		    const void *payload, const int *fds, void *reply,
		    uint32_t *reply_len)
{
	int32_t fd;

	(void)req; (void)reply; (void)reply_len;
	memcpy(&fd, payload, sizeof(fd));
	if (fd == VHOST_FILE_UNBIND)
		return 0;
	if (!(vu_frontend_protocol_features(d->fe) & (1ull << VU_PF_LOG_SHMFD)))
		return fail(d, -EOPNOTSUPP,
			    "dirty log: the back-end has no LOG_SHMFD (GET_FEATURES did not offer VHOST_F_LOG_ALL)");
	return vu_frontend_set_log_fd(d->fe, fds[0]);
}

/* The vring_state of a ring that may change: not started (vhost: EBUSY). */
static int stopped_ring_state(struct vub_dev *d, const void *payload,
			      struct vhost_vring_state *s)
{
	int ret = ring_index(d, payload, &s->index);

	if (ret)
		return ret;
	memcpy(s, payload, sizeof(*s));
	if (d->attached[s->index])
		return fail(d, -EBUSY, "ring %u is started (VHOST_NET_SET_BACKEND)", s->index);
	return 0;
}

static int h_set_vring_num(struct vub_dev *d, const struct vub_req *req,
			   const void *payload, const int *fds, void *reply,
			   uint32_t *reply_len)
{
	struct vhost_vring_state s;
	int ret = stopped_ring_state(d, payload, &s);

	(void)req; (void)fds; (void)reply; (void)reply_len;
	return ret ? ret : vu_frontend_set_vring_num(d->fe, vring(d, s.index), s.num);
}

static int h_set_vring_base(struct vub_dev *d, const struct vub_req *req,
			    const void *payload, const int *fds, void *reply,
			    uint32_t *reply_len)
{
	struct vhost_vring_state s;
	int ret = stopped_ring_state(d, payload, &s);

	(void)req; (void)fds; (void)reply; (void)reply_len;
	return ret ? ret : vu_frontend_set_vring_base(d->fe, vring(d, s.index), s.num);
}

static int h_set_vring_addr(struct vub_dev *d, const struct vub_req *req,
			    const void *payload, const int *fds, void *reply,
			    uint32_t *reply_len)
{
	struct vhost_vring_addr a;
	struct vu_vring_addr v;
	int ret;

	(void)req; (void)fds; (void)reply; (void)reply_len;
	ret = ring_index(d, payload, &a.index);
	if (ret)
		return ret;
	memcpy(&a, payload, sizeof(a));
	if (a.flags & ~(1u << VHOST_VRING_F_LOG))
		return fail(d, -EOPNOTSUPP, "ring %u: address flags %#x", a.index, a.flags);
	/* VHOST_VRING_F_LOG and log_guest_addr (a guest physical address) pass
	 * through: the back-end logs the used ring there. */
	v = (struct vu_vring_addr){
		.index = vring(d, a.index),
		.flags = a.flags,
		.desc = a.desc_user_addr,
		.used = a.used_user_addr,
		.avail = a.avail_user_addr,
		.log = a.log_guest_addr,
	};
	return vu_frontend_set_vring_addr(d->fe, &v);
}

static int h_get_vring_base(struct vub_dev *d, const struct vub_req *req,
			    const void *payload, const int *fds, void *reply,
			    uint32_t *reply_len)
{
	uint32_t idx, base;
	int ret;

	(void)req; (void)fds;
	ret = ring_index(d, payload, &idx);
	if (ret)
		return ret;
	if (vu_frontend_ring_started(d->fe, vring(d, idx))) {
		/* vhost reads the index of a running ring; vhost-user can only
		 * stop it to read it, so: stop, read, start again. */
		ret = vu_frontend_stop_vring(d->fe, vring(d, idx), &base);
		if (!ret)
			ret = vu_frontend_start_vring(d->fe, vring(d, idx));
	} else {
		ret = vu_frontend_vring_base(d->fe, vring(d, idx), &base);
	}
	if (ret)
		return ret;
	reply_state(reply, reply_len, idx, base);
	return 0;
}

static int h_endian(struct vub_dev *d, const struct vub_req *req,
		    const void *payload, const int *fds, void *reply,
		    uint32_t *reply_len)
{
	(void)req; (void)payload; (void)fds; (void)reply; (void)reply_len;
	return fail(d, -ENOTTY,
		    "legacy cross-endian rings are not supported (as vhost-net without CONFIG_VHOST_CROSS_ENDIAN_LEGACY)");
}

static int h_set_busyloop(struct vub_dev *d, const struct vub_req *req,
			  const void *payload, const int *fds, void *reply,
			  uint32_t *reply_len)
{
	struct vhost_vring_state s;
	int ret;

	(void)req; (void)fds; (void)reply; (void)reply_len;
	ret = ring_index(d, payload, &s.index);
	if (ret)
		return ret;
	memcpy(&s, payload, sizeof(s));
	d->busyloop[s.index] = s.num;	/* no vhost-user equivalent */
	return 0;
}

static int h_get_busyloop(struct vub_dev *d, const struct vub_req *req,
			  const void *payload, const int *fds, void *reply,
			  uint32_t *reply_len)
{
	uint32_t idx;
	int ret;

	(void)req; (void)fds;
	ret = ring_index(d, payload, &idx);
	if (ret)
		return ret;
	reply_state(reply, reply_len, idx, d->busyloop[idx]);
	return 0;
}

/* KICK, CALL, ERR.  fd -1 (VHOST_FILE_UNBIND) unbinds: for KICK that stops
 * a running ring (NOFD would mean "poll"); for CALL and ERR it is NOFD,
 * which in vhost-user means "do not signal". */
static int h_set_vring_file(struct vub_dev *d, const struct vub_req *req,
			    const void *payload, const int *fds, void *reply,
			    uint32_t *reply_len)
{
	struct vhost_vring_file f;
	int fd, ret;

	(void)reply; (void)reply_len;
	ret = ring_index(d, payload, &f.index);
	if (ret)
		return ret;
	memcpy(&f, payload, sizeof(f));
	fd = f.fd == VHOST_FILE_UNBIND ? VU_FRONTEND_FD_NONE : fds[0];
	switch (req->ioctl) {
	case VHOST_SET_VRING_KICK:
		ret = vu_frontend_set_vring_kick(d->fe, vring(d, f.index), fd);
		/* A started ring whose kick was unbound (and so stopped), or
		 * whose start waited for a kick, starts with the new one. */
		if (!ret && fd >= 0 && d->attached[f.index] &&
		    !vu_frontend_ring_started(d->fe, vring(d, f.index)))
			ret = vu_frontend_start_vring(d->fe, vring(d, f.index));
		return ret;
	case VHOST_SET_VRING_CALL:
		return vu_frontend_set_vring_call(d->fe, vring(d, f.index), fd);
	default:
		return vu_frontend_set_vring_err(d->fe, vring(d, f.index), fd);
	}
}

/*
 * The tap carries no traffic (the back-end moves the packets), but its
 * offloads are learnt (learn_tap), and a multiqueue tap tells which NIC the
 * device is a pair of (dev_join_nic).  fd >= 0 means "start ring idx"
 * (deferred until FEATURES, MEM_TABLE and a KICK are there), -1 "stop it"
 * (GET_VRING_BASE; the base is cached); in a NIC the ring is enabled at its
 * start and disabled before its stop, and the other pairs are announced
 * again after it.
 */
static int h_net_set_backend(struct vub_dev *d, const struct vub_req *req,
			     const void *payload, const int *fds, void *reply,
			     uint32_t *reply_len)
{
	struct vhost_vring_file f;
	struct vub_tap_info ti;
	unsigned int have;
	uint32_t base, g;
	bool is_tap;
	int ret;

	(void)reply; (void)reply_len;
	ret = ring_index(d, payload, &f.index);
	if (ret)
		return ret;
	memcpy(&f, payload, sizeof(f));
	g = vring(d, f.index);
	if (f.fd == VHOST_FILE_UNBIND) {
		d->attached[f.index] = false;
		ret = 0;
		if (d->nic && vu_frontend_ring_started(d->fe, g) &&
		    vu_frontend_has_protocol_features(d->fe))
			ret = vu_frontend_set_vring_enable(d->fe, g, false);
		if (!ret)
			ret = vu_frontend_stop_vring(d->fe, g, &base);
		if (!ret && d->nic)
			ret = vub_nic_refresh_others(d->fe, g);
		return ret;
	}
	/* vhost-net: vhost_vq_access_ok() fails on a ring never set up. */
	have = vu_frontend_ring_have(d->fe, g);
	if (~have & (VU_FRONTEND_RING_NUM | VU_FRONTEND_RING_ADDR))
		return fail(d, -EFAULT, "ring %u is not set up (missing%s%s)", f.index,
			    (have & VU_FRONTEND_RING_NUM) ? "" : " VHOST_SET_VRING_NUM",
			    (have & VU_FRONTEND_RING_ADDR) ? "" : " VHOST_SET_VRING_ADDR");
	ret = learn_tap(d, f.index, fds[0], &ti, &is_tap);
	if (ret)
		return ret;
	if (!d->nic && d->cfg->nics && is_tap) {
		ret = dev_join_nic(d, req->vmm_pid, &ti);
		if (ret)
			return ret;
		g = vring(d, f.index);
	}
	if (d->nic && vu_frontend_has_protocol_features(d->fe) &&
	    !vu_frontend_ring_started(d->fe, g)) {
		ret = vu_frontend_set_vring_enable(d->fe, g, true);
		if (ret)
			return ret;
	}
	d->attached[f.index] = true;
	if (!(vu_frontend_ring_have(d->fe, g) & VU_FRONTEND_RING_KICK))
		return 0;	/* starts at VHOST_SET_VRING_KICK */
	ret = vu_frontend_start_vring(d->fe, g);
	if (ret)
		d->attached[f.index] = false;
	return ret;
}

/* vhost-net's VHOST_NET_BACKEND_FEATURES: the message format is the
 * kernel's business (it writes and reads both). */
#define VUB_BACKEND_FEATURES	(1ull << VHOST_BACKEND_F_IOTLB_MSG_V2)

static int h_set_backend_features(struct vub_dev *d, const struct vub_req *req,
				  const void *payload, const int *fds, void *reply,
				  uint32_t *reply_len)
{
	uint64_t f;

	(void)req; (void)fds; (void)reply; (void)reply_len;
	memcpy(&f, payload, sizeof(f));
	if (f & ~VUB_BACKEND_FEATURES)
		return fail(d, -EOPNOTSUPP,
			    "backend features %#llx: only %#llx (IOTLB_MSG_V2) is offered",
			    (unsigned long long)f, VUB_BACKEND_FEATURES);
	return 0;
}

static int h_get_backend_features(struct vub_dev *d, const struct vub_req *req,
				  const void *payload, const int *fds, void *reply,
				  uint32_t *reply_len)
{
	(void)d; (void)req; (void)payload; (void)fds;
	reply_u64(reply, reply_len, VUB_BACKEND_FEATURES);
	return 0;
}

static const struct {
	dev_handler *fn;
	bool backend;		/* needs the vhost-user connection */
} handlers[VUB_VHOST_NR] = {
	[VUB_IDX_VHOST_GET_FEATURES]		= { h_get_features, true },
	[VUB_IDX_VHOST_SET_FEATURES]		= { h_set_features, true },
	[VUB_IDX_VHOST_SET_OWNER]		= { h_set_owner, true },
	[VUB_IDX_VHOST_RESET_OWNER]		= { h_reset_owner, false },
	[VUB_IDX_VHOST_SET_MEM_TABLE]		= { h_set_mem_table, true },
	[VUB_IDX_VHOST_SET_LOG_BASE]		= { h_log_base, true },
	[VUB_IDX_VHOST_SET_LOG_FD]		= { h_log_fd, true },
	[VUB_IDX_VHOST_SET_VRING_NUM]		= { h_set_vring_num, true },
	[VUB_IDX_VHOST_SET_VRING_BASE]		= { h_set_vring_base, true },
	[VUB_IDX_VHOST_SET_VRING_ENDIAN]	= { h_endian, false },
	[VUB_IDX_VHOST_SET_VRING_BUSYLOOP_TIMEOUT] = { h_set_busyloop, false },
	[VUB_IDX_VHOST_SET_VRING_ADDR]		= { h_set_vring_addr, true },
	[VUB_IDX_VHOST_GET_VRING_BASE]		= { h_get_vring_base, true },
	[VUB_IDX_VHOST_GET_VRING_ENDIAN]	= { h_endian, false },
	[VUB_IDX_VHOST_GET_VRING_BUSYLOOP_TIMEOUT] = { h_get_busyloop, false },
	[VUB_IDX_VHOST_SET_VRING_KICK]		= { h_set_vring_file, true },
	[VUB_IDX_VHOST_SET_VRING_CALL]		= { h_set_vring_file, true },
	[VUB_IDX_VHOST_SET_VRING_ERR]		= { h_set_vring_file, true },
	[VUB_IDX_VHOST_SET_BACKEND_FEATURES]	= { h_set_backend_features, false },
	[VUB_IDX_VHOST_GET_BACKEND_FEATURES]	= { h_get_backend_features, false },
	[VUB_IDX_VHOST_NET_SET_BACKEND]		= { h_net_set_backend, true },
};

int vub_dev_ioctl(struct vub_dev *d, const struct vub_vhost_ioctl *desc,
		  const struct vub_req *req, const void *payload, const int *fds,
		  void *reply, uint32_t *reply_len)
{
	char why[sizeof(d->why) - 20];
	int ret;

	d->why[0] = '\0';
	d->nr_reqs++;
	if (!desc || !handlers[desc->idx].fn)
		return fail(d, -ENOTTY, "not a vhost-net ioctl");
	if (check_request(desc, req, payload, why, sizeof(why)))
		return fail(d, -EINVAL, "malformed request: %s", why);
	if (handlers[desc->idx].backend) {
		ret = dev_connect(d);
		if (ret)
			return ret;
		if (d->nic)	/* the shared front-end explains failures to us */
			vu_frontend_set_log(d->fe, fe_log, d);
	}
	ret = handlers[desc->idx].fn(d, req, payload, fds, reply, reply_len);
	if (ret)
		*reply_len = 0;
	return fe_result(d, ret);
}
