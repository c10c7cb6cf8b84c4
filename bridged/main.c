// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridged: the bridge daemon.
 *
 * It attaches to the kernel module and serves every vhost ioctl a VMM issues
 * on /dev/vhost-user-bridge: each open of the device (dev_id) gets its own
 * vhost-user connection to the back-end socket given with --backend, except
 * that the queue pairs of one multiqueue NIC share one (vub_nic.c), and
 * its ioctls are answered with vhost-net semantics by vub_dev.c.  Requests
 * are served one at a time, in the order the kernel delivers them.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vub_chan.h"
#include "vub_dev.h"
#include "vub_nl.h"
#include "vub_notify.h"
#include "vub_vhost.h"

#define PROG "vhost-user-bridged"
#define DEFAULT_TAGS 8

struct bridge {
	bool verbose;
	struct vub_dev_cfg cfg;	/* cfg.backend: the vhost-user socket */
	struct vub_nics nics;	/* multiqueue NICs: devices sharing a connection */
	struct vub_dev **devs;
	size_t nr_devs, cap_devs;
};

static volatile sig_atomic_t stop;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "E?";
}

/* --- devices: one per open of /dev/vhost-user-bridge ------------------ */

static struct vub_dev *device_find(struct bridge *br, uint32_t dev_id, size_t *pos)
{
	size_t i;

	for (i = 0; i < br->nr_devs; i++)
		if (br->devs[i]->dev_id == dev_id) {
			if (pos)
				*pos = i;
			return br->devs[i];
		}
	return NULL;
}

static struct vub_dev *device_get(struct bridge *br, const struct vub_req *req)
{
	struct vub_dev *dev = device_find(br, req->dev_id, NULL), **n;
	size_t cap;

	if (dev)
		return dev;
	if (br->nr_devs == br->cap_devs) {
		cap = br->cap_devs ? 2 * br->cap_devs : 16;
		n = realloc(br->devs, cap * sizeof(*n));
		if (!n)
			return NULL;
		br->devs = n;
		br->cap_devs = cap;
	}
	dev = malloc(sizeof(*dev));	/* stable address: the front-end logs into it */
	if (!dev)
		return NULL;
	vub_dev_init(dev, &br->cfg, req->dev_id, req->vmm_pid);
	br->devs[br->nr_devs++] = dev;
	logmsg("dev %u: new device of VMM pid %u", dev->dev_id, dev->vmm_pid);
	return dev;
}

static void device_forget(struct bridge *br, size_t pos)
{
	struct vub_dev *dev = br->devs[pos];

	logmsg("dev %u: released after %llu requests%s", dev->dev_id,
	       (unsigned long long)dev->nr_reqs,
	       dev->fe ? ", back-end connection closed" : "");
	vub_dev_release(dev);
	free(dev);
	br->devs[pos] = br->devs[--br->nr_devs];
}

/* --- requests ------------------------------------------------------------ */

static void format_fds(const struct vub_req *req, const int *fds, char *buf, size_t size)
{
	size_t n = snprintf(buf, size, "[");
	uint32_t i;

	for (i = 0; i < req->nr_fds && n < size; i++)
		n += snprintf(buf + n, size - n, "%s%d", i ? " " : "", fds[i]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

/* The kernel's pieces of a memory table: how many, and the bytes they cover
 * (less than the regions' when the VMM's regions hold reserved holes). */
static void format_pieces(const struct vub_req *req, char *buf, size_t size)
{
	const char *ext = (const char *)req + req->ext_offset;
	uint32_t i, n = req->ext_len / sizeof(struct vub_mem_piece);
	struct vub_mem_piece p;
	unsigned long long bytes = 0;

	for (i = 0; i < n; i++) {
		memcpy(&p, ext + i * sizeof(p), sizeof(p));
		bytes += p.memory_size;
	}
	snprintf(buf, size, " (kernel: %u pieces of %llu bytes, %u files)", n, bytes,
		 req->nr_fds);
}

static int on_ioctl(struct bridge *br, const struct vub_req *req,
		    const void *payload, int *fds, void *reply, uint32_t *reply_len)
{
	const struct vub_vhost_ioctl *d = vub_vhost_find(req->ioctl);
	struct vub_dev *dev = device_get(br, req);
	char arg[512], fdstr[64], why[256] = "";
	bool malformed = false;
	int ret;

	if (!dev)
		return -ENOMEM;
	format_fds(req, fds, fdstr, sizeof(fdstr));
	if (!d) {
		logmsg("dev %u seq %llu: unknown ioctl %#x -> ENOTTY", req->dev_id,
		       (unsigned long long)req->seq, req->ioctl);
		return -ENOTTY;
	}
	vub_vhost_format(d, payload, req->payload_len, arg, sizeof(arg));
	if (req->ext_len)	/* the kernel's resolution of the memory table */
		format_pieces(req, arg + strlen(arg), sizeof(arg) - strlen(arg));
	if (vub_dev_check_request(req, payload, why, sizeof(why))) {
		malformed = true;
		ret = -EINVAL;
	} else {
		ret = vub_dev_ioctl(dev, req, payload, fds, reply, reply_len);
		if (ret)
			snprintf(why, sizeof(why), "%s", vub_dev_why(dev));
	}
	if (br->verbose || ret)
		logmsg("dev %u pid %u seq %llu: %s %s fds %s -> %s%s%s%s", req->dev_id,
		       req->vmm_pid, (unsigned long long)req->seq, d->name, arg, fdstr,
		       ret ? errname(-ret) : "0", malformed ? " (malformed request)" : "",
		       why[0] ? ": " : "", why);
	return ret;
}

static int on_open(struct bridge *br, const struct vub_req *req, const void *payload)
{
	struct vub_open_info oi;
	struct vub_dev *dev;
	int ret;

	if (req->payload_len < sizeof(oi)) {
		logmsg("dev %u: VUB_OP_OPEN with %u bytes of payload -> EINVAL", req->dev_id,
		       req->payload_len);
		return -EINVAL;
	}
	memcpy(&oi, payload, sizeof(oi));
	dev = device_get(br, req);
	if (!dev)
		return -ENOMEM;
	ret = vub_dev_open(dev, &oi);
	if (ret)
		logmsg("dev %u: open of instance %u (%.*s) -> %s: %s", dev->dev_id,
		       oi.instance_id, (int)sizeof(oi.name), oi.name, errname(-ret),
		       vub_dev_why(dev));
	else if (oi.instance_id)
		logmsg("dev %u: instance %u (%.*s), back-end %s", dev->dev_id, oi.instance_id,
		       (int)sizeof(oi.name), oi.name, dev->backend ? dev->backend : "(none)");
	return ret;
}

static int on_request(void *ctx, const struct vub_req *req, const void *payload,
		      int *fds, void *reply, uint32_t *reply_len)
{
	struct bridge *br = ctx;
	size_t pos;

	switch (req->op) {
	case VUB_OP_IOCTL:
		return on_ioctl(br, req, payload, fds, reply, reply_len);
	case VUB_OP_OPEN:
		return on_open(br, req, payload);
	case VUB_OP_RELEASE:
		if (device_find(br, req->dev_id, &pos))
			device_forget(br, pos);
		else
			logmsg("dev %u: release of a device never seen", req->dev_id);
		return 0;
	default:
		logmsg("dev %u seq %llu: unknown request op %u -> EOPNOTSUPP",
		       req->dev_id, (unsigned long long)req->seq, req->op);
		return -EOPNOTSUPP;
	}
}

/* Back-end connected or lost, or its features changed: tell the kernel, for
 * vubctl and its events. */
static void dev_backend_state(void *opaque, uint32_t dev_id, uint32_t state,
			      uint64_t features, uint64_t missing)
{
	int ret = vub_nl_backend_state(opaque, dev_id, state, features, missing);

	if (ret)
		logmsg("dev %u: cannot report the back-end state to the kernel: %s",
		       dev_id, strerror(-ret));
}

static void dev_log(void *opaque, const char *line)
{
	(void)opaque;
	logmsg("%s", line);
}

/* --- main ---------------------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --backend PATH [--tags N] [--timeout MS] [--verbose]\n"
		"\n"
		"Bridge daemon of vhost-user-bridge: serves the vhost ioctls VMMs issue on\n"
		"/dev/" VUB_VMM_DEVICE_NAME ", received through /dev/" VUB_CTRL_DEVICE_NAME ",\n"
		"with vhost-net semantics.  Every open of the device gets its own vhost-user\n"
		"connection to the back-end listening on PATH (e.g. DPDK's vhost PMD); the\n"
		"queue pairs of one multiqueue NIC (one VMM, one multiqueue tap) share one.\n"
		"\n"
		"  --backend PATH  vhost-user back-end socket (unix, the back-end listens)\n"
		"  --tags N        request slots posted to the kernel, 1..%d (default %d)\n"
		"  --timeout MS    longest wait for one back-end reply (default %d)\n"
		"  --verbose       log every request\n"
		"  --help          this text\n"
		"\n"
		"Needs CAP_NET_ADMIN.  SIGTERM or SIGINT: close the back-end connections,\n"
		"detach and exit 0.\n",
		VUB_MAX_TAGS, DEFAULT_TAGS, VU_CONN_DEFAULT_TIMEOUT_MS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tags", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bridge br = { .cfg = { .log = dev_log } };
	struct vub_nl *nl = NULL;
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	sigset_t block, waitmask;
	unsigned long tags = DEFAULT_TAGS, ms;
	struct stat st;
	size_t i;
	struct vub_chan ch;
	char *end;
	int c, ret;

	while ((c = getopt_long(argc, argv, "t:b:T:vh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			tags = strtoul(optarg, &end, 0);
			if (errno || *end || tags < 1 || tags > VUB_MAX_TAGS) {
				logmsg("--tags: 1..%d", VUB_MAX_TAGS);
				return 2;
			}
			break;
		case 'b':
			br.cfg.backend = optarg;
			break;
		case 'T':
			errno = 0;
			ms = strtoul(optarg, &end, 0);
			if (errno || *end || ms < 1 || ms > 600000) {
				logmsg("--timeout: 1..600000 ms");
				return 2;
			}
			br.cfg.timeout_ms = (int)ms;
			break;
		case 'v':
			br.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	br.cfg.nics = &br.nics;
	if (optind != argc || !br.cfg.backend) {
		if (!br.cfg.backend)
			logmsg("--backend PATH is required");
		usage(stderr);
		return 2;
	}
	/* Checked again at every connection; this only catches typos early. */
	if (stat(br.cfg.backend, &st) || !S_ISSOCK(st.st_mode))
		logmsg("warning: %s is not a socket (yet): devices cannot connect until the back-end listens there",
		       br.cfg.backend);

	/* Signals stay blocked except while waiting for the kernel, so a
	 * SIGTERM cannot slip in between the stop check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = vub_chan_start(&ch, NULL, tags);
	if (ret < 0) {
		logmsg("cannot attach to /dev/" VUB_CTRL_DEVICE_NAME ": %s%s", strerror(-ret),
		       ret == -EBUSY ? " (another daemon is attached)" :
		       ret == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return 1;
	}
	logmsg("attached: API version %u, %lu tags, back-end %s", ch.version, tags,
	       br.cfg.backend);
	nl = vub_nl_open();
	if (nl) {
		br.cfg.backend_state = dev_backend_state;
		br.cfg.backend_state_opaque = nl;
	} else {
		logmsg("no netlink family " VUB_GENL_NAME ": back-end states are not reported");
	}
	/* systemd Type=notify (vhost-user-bridged.service): serving from now on. */
	ret = vub_notifyf("READY=1\nSTATUS=attached, back-end %s", br.cfg.backend);
	if (ret < 0)
		logmsg("cannot notify systemd ($NOTIFY_SOCKET): %s", strerror(-ret));

	ret = vub_chan_run(&ch, on_request, &br, &waitmask, &stop);
	vub_notify_stopping();
	vub_chan_close(&ch);
	for (i = 0; i < br.nr_devs; i++) {
		vub_dev_release(br.devs[i]);
		free(br.devs[i]);
	}
	free(br.devs);
	vub_nl_close(nl);
	if (ret == -ECANCELED) {
		logmsg("detached by the kernel");
		return 1;
	}
	if (ret < 0) {
		logmsg("channel error: %s", strerror(-ret));
		return 1;
	}
	logmsg("stopped by signal, detached");
	return 0;
}
