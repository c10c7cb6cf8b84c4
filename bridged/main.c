// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridged: the bridge daemon.
 *
 * SKELETON: it attaches to the kernel module, receives every vhost ioctl a
 * VMM issues on /dev/vhost-user-bridge, logs it and answers EOPNOTSUPP.  The
 * vhost-user front-end that will really serve them (--backend) does not
 * exist yet; the dispatch table below is where its handlers go.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vub_chan.h"
#include "vub_vhost.h"

#define PROG "vhost-user-bridged"
#define DEFAULT_TAGS 8

struct device {
	uint32_t dev_id;
	uint32_t vmm_pid;
	uint64_t nr_reqs;
};

struct bridge {
	bool verbose;
	const char *backend;	/* vhost-user socket; unused until the front-end exists */
	struct device *devs;
	size_t nr_devs, cap_devs;
};

typedef int vhost_handler(struct bridge *br, struct device *dev,
			  const struct vub_req *req, const void *payload,
			  int *fds, void *reply, uint32_t *reply_len);

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

static struct device *device_find(struct bridge *br, uint32_t dev_id)
{
	size_t i;

	for (i = 0; i < br->nr_devs; i++)
		if (br->devs[i].dev_id == dev_id)
			return &br->devs[i];
	return NULL;
}

static struct device *device_get(struct bridge *br, const struct vub_req *req)
{
	struct device *dev = device_find(br, req->dev_id), *n;
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
	dev = &br->devs[br->nr_devs++];
	*dev = (struct device){ .dev_id = req->dev_id, .vmm_pid = req->vmm_pid };
	logmsg("dev %u: new device of VMM pid %u", dev->dev_id, dev->vmm_pid);
	return dev;
}

static void device_forget(struct bridge *br, struct device *dev)
{
	logmsg("dev %u: released after %llu requests", dev->dev_id,
	       (unsigned long long)dev->nr_reqs);
	*dev = br->devs[--br->nr_devs];
}

/* --- vhost ioctl handlers ---------------------------------------------- */

/* Every ioctl, for now: there is no vhost-user front-end to forward to. */
static int h_not_implemented(struct bridge *br, struct device *dev,
			     const struct vub_req *req, const void *payload,
			     int *fds, void *reply, uint32_t *reply_len)
{
	(void)br; (void)dev; (void)req; (void)payload; (void)fds;
	(void)reply; (void)reply_len;
	return -EOPNOTSUPP;
}

static vhost_handler *const dispatch[VUB_VHOST_NR] = {
	[VUB_IDX_VHOST_GET_FEATURES]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_FEATURES]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_OWNER]			= h_not_implemented,
	[VUB_IDX_VHOST_RESET_OWNER]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_MEM_TABLE]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_LOG_BASE]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_LOG_FD]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_NUM]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_BASE]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_ENDIAN]		= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_BUSYLOOP_TIMEOUT]	= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_ADDR]			= h_not_implemented,
	[VUB_IDX_VHOST_GET_VRING_BASE]			= h_not_implemented,
	[VUB_IDX_VHOST_GET_VRING_ENDIAN]		= h_not_implemented,
	[VUB_IDX_VHOST_GET_VRING_BUSYLOOP_TIMEOUT]	= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_KICK]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_CALL]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_VRING_ERR]			= h_not_implemented,
	[VUB_IDX_VHOST_SET_BACKEND_FEATURES]		= h_not_implemented,
	[VUB_IDX_VHOST_GET_BACKEND_FEATURES]		= h_not_implemented,
	[VUB_IDX_VHOST_NET_SET_BACKEND]			= h_not_implemented,
};

static void format_fds(const struct vub_req *req, const int *fds, char *buf, size_t size)
{
	size_t n = snprintf(buf, size, "[");
	uint32_t i;

	for (i = 0; i < req->nr_fds && n < size; i++)
		n += snprintf(buf + n, size - n, "%s%d", i ? " " : "", fds[i]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

static int on_ioctl(struct bridge *br, const struct vub_req *req,
		    const void *payload, int *fds, void *reply, uint32_t *reply_len)
{
	const struct vub_vhost_ioctl *d = vub_vhost_find(req->ioctl);
	struct device *dev = device_get(br, req);
	char arg[512], fdstr[64];
	const char *why = "";
	bool malformed;
	int ret;

	if (!dev)
		return -ENOMEM;
	dev->nr_reqs++;
	format_fds(req, fds, fdstr, sizeof(fdstr));
	if (!d) {
		logmsg("dev %u seq %llu: unknown ioctl %#x -> ENOTTY", req->dev_id,
		       (unsigned long long)req->seq, req->ioctl);
		return -ENOTTY;
	}
	vub_vhost_format(d, payload, req->payload_len, arg, sizeof(arg));
	malformed = vub_vhost_check_payload(d, payload, req->payload_len) ||
		    req->reply_len != d->out_len ||
		    req->nr_fds != vub_vhost_nr_fds(d, payload);
	if (malformed) {
		ret = -EINVAL;
		why = " (malformed request: size, reply size or fd count)";
	} else {
		ret = dispatch[d->idx](br, dev, req, payload, fds, reply, reply_len);
		if (ret == -EOPNOTSUPP && dispatch[d->idx] == h_not_implemented)
			why = " (skeleton: vhost-user forwarding not implemented yet)";
	}
	if (br->verbose || malformed)
		logmsg("dev %u pid %u seq %llu: %s %s fds %s -> %s%s", req->dev_id,
		       req->vmm_pid, (unsigned long long)req->seq, d->name, arg, fdstr,
		       ret ? errname(-ret) : "0", why);
	return ret;
}

static int on_request(void *ctx, const struct vub_req *req, const void *payload,
		      int *fds, void *reply, uint32_t *reply_len)
{
	struct bridge *br = ctx;
	struct device *dev;

	switch (req->op) {
	case VUB_OP_IOCTL:
		return on_ioctl(br, req, payload, fds, reply, reply_len);
	case VUB_OP_RELEASE:
		dev = device_find(br, req->dev_id);
		if (dev)
			device_forget(br, dev);
		else
			logmsg("dev %u: release of a device never seen", req->dev_id);
		return 0;
	default:
		logmsg("dev %u seq %llu: unknown request op %u -> EOPNOTSUPP",
		       req->dev_id, (unsigned long long)req->seq, req->op);
		return -EOPNOTSUPP;
	}
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
		"usage: " PROG " [--tags N] [--backend PATH] [--verbose]\n"
		"\n"
		"Bridge daemon of vhost-user-bridge: serves the vhost ioctls VMMs issue on\n"
		"/dev/" VUB_VMM_DEVICE_NAME ", received through /dev/" VUB_CTRL_DEVICE_NAME ".\n"
		"\n"
		"THIS IS A SKELETON: every vhost ioctl is logged and answered EOPNOTSUPP;\n"
		"the vhost-user front-end (--backend) is not implemented yet.\n"
		"\n"
		"  --tags N        request slots posted to the kernel, 1..%d (default %d)\n"
		"  --backend PATH  vhost-user backend socket (accepted, not used yet)\n"
		"  --verbose       log every request\n"
		"  --help          this text\n"
		"\n"
		"Needs CAP_NET_ADMIN.  SIGTERM or SIGINT: detach and exit 0.\n",
		VUB_MAX_TAGS, DEFAULT_TAGS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tags", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bridge br = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	sigset_t block, waitmask;
	unsigned long tags = DEFAULT_TAGS;
	struct vub_chan ch;
	char *end;
	int c, ret;

	while ((c = getopt_long(argc, argv, "t:b:vh", opts, NULL)) != -1) {
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
			br.backend = optarg;
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
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	for (c = 0; c < VUB_VHOST_NR; c++)
		if (!dispatch[c]) {
			logmsg("BUG: no handler for %s", vub_vhost_ioctls[c].name);
			return 1;
		}

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
	logmsg("attached: API version %u, %lu tags, backend %s", ch.version, tags,
	       br.backend ? br.backend : "(none)");
	logmsg("skeleton: every vhost ioctl is answered EOPNOTSUPP "
	       "(vhost-user front-end not implemented yet)");

	ret = vub_chan_run(&ch, on_request, &br, &waitmask, &stop);
	vub_chan_close(&ch);
	free(br.devs);
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
