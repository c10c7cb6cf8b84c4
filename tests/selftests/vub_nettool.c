// SPDX-License-Identifier: GPL-2.0
/*
 * vub_nettool: the small network tools of the nested Linux guest test
 * (tests/vm/linux-guest.sh).  Linked statically: it runs in the nested
 * guest's busybox initramfs as well as in the test VM.
 *
 *   vub_nettool features IFACE          the netdev's offloads (what `ethtool -k` shows)
 *   vub_nettool channels IFACE N        set N combined channels (`ethtool -L IFACE combined N`)
 *   vub_nettool queue-stats IFACE       packets of each queue (`ethtool -S` on 6.1, the
 *                                       netdev family's qstats on 6.9 and later):
 *                                       "rx N0 N1 ... tx N0 N1 ..."
 *   vub_nettool tcp-serve ADDR PORT FILE FLOWS WAIT_S   the peer of tcp-echo: accept FLOWS
 *                                       connections; on each, read the flow's index (4
 *                                       bytes), send slice INDEX of FILE, half-close, and
 *                                       read the slice back.  Prints "SENT BACK SHA256
 *                                       BACK_S": bytes sent, bytes back, sha256 of what
 *                                       came back (in slice order), seconds from the
 *                                       first byte back to the last EOF
 *   vub_nettool tcp-echo ADDR PORT FLOWS BYTES [IFACE]   the guest's end: FLOWS parallel
 *                                       connections; receive every slice (BYTES in all),
 *                                       hash them in order, then send each back on its
 *                                       connection.  Prints "BYTES SHA256 RX_S TX_S" (RX_S:
 *                                       first connect to the last EOF; TX_S: first send to
 *                                       the peer's last close).  With IFACE, flow k uses
 *                                       IFACE's queue pair k (see steer())
 *   vub_nettool tap-exec IFACE FD[,FD...] PROGRAM ARGS...   attach one queue of the
 *                                       (multiqueue) tap IFACE on each file descriptor
 *                                       number FD, then become PROGRAM: QEMU 7.2 takes
 *                                       vhostfds= only with fds= (the tap's queues)
 *   vub_nettool udp-echo ADDR PORT IDLE_S     echo datagrams until IDLE_S without one
 *   vub_nettool udp-ping ADDR PORT COUNT SIZE send COUNT datagrams of SIZE bytes, each
 *                                              echoed byte for byte; exit 0 if all were
 *                                              (each is tried 3 times, 5 s each)
 *   vub_nettool tcp-send ADDR PORT FILE WAIT_S   listen, send FILE to the first client,
 *   vub_nettool tcp-recv ADDR PORT FILE WAIT_S   or receive into FILE up to its EOF
 * The TCP ends print "BYTES SECONDS" (from the accept to the peer's close) and give up
 * after WAIT_S without a client, or 60 s without progress.  Busybox has no ethtool, no
 * UDP in its nc, and its nc ends a transfer as soon as the other side half-closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* SHA-256 (FIPS 180-4), one pass over a buffer: the guest hashes what it received. */
static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (i = 0; i < 64; i++) {
		t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

/* The hex digest of LEN bytes at P into OUT (65 bytes). */
static void sha256_hex(const unsigned char *p, size_t len, char *out)
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	unsigned char tail[128] = { 0 };
	size_t n = len & ~(size_t)63, rest = len - n, tl = rest < 56 ? 64 : 128, i;
	uint64_t bits = (uint64_t)len * 8;

	for (i = 0; i < n; i += 64)
		sha_block(h, p + i);
	memcpy(tail, p + n, rest);
	tail[rest] = 0x80;
	for (i = 0; i < 8; i++)
		tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (i = 0; i < tl; i += 64)
		sha_block(h, tail + i);
	for (i = 0; i < 8; i++)
		sprintf(out + 8 * i, "%08x", h[i]);
}

static void die(const char *what)
{
	fprintf(stderr, "vub_nettool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int ethtool(const char *ifname, void *data)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), r;

	if (fd < 0)
		die("socket");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	r = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	return r;
}

static int features(const char *ifname)
{
	static const struct { __u32 cmd; const char *name; } f[] = {
		{ ETHTOOL_GRXCSUM, "rx-checksumming" },
		{ ETHTOOL_GTXCSUM, "tx-checksumming" },
		{ ETHTOOL_GSG, "scatter-gather" },
		{ ETHTOOL_GTSO, "tcp-segmentation-offload" },
		{ ETHTOOL_GGSO, "generic-segmentation-offload" },
		{ ETHTOOL_GGRO, "generic-receive-offload" },
	};
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	unsigned int i;

	printf("%s:", ifname);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct ethtool_value v = { .cmd = f[i].cmd };

		if (ethtool(ifname, &v) < 0)
			printf(" %s: ?(%s)", f[i].name, strerror(errno));
		else
			printf(" %s: %s", f[i].name, v.data ? "on" : "off");
	}
	if (ethtool(ifname, &ch) == 0)
		printf(" combined channels: %u of %u", ch.combined_count, ch.max_combined);
	printf("\n");
	return 0;
}

static int channels(const char *ifname, unsigned int n)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };

	if (ethtool(ifname, &ch) < 0)
		die("ETHTOOL_GCHANNELS");
	ch.cmd = ETHTOOL_SCHANNELS;
	ch.combined_count = n;
	if (ethtool(ifname, &ch) < 0)
		die("ETHTOOL_SCHANNELS");
	return 0;
}

/*
 * Packets of each queue.  6.1's virtio-net has them in `ethtool -S` ("rx_queue_N_packets",
 * "tx_queue_N_packets"); later kernels moved them to the netdev netlink family's queue
 * statistics (`ynl --family netdev --dump qstats-get --json '{"scope": "queue"}'`).
 */
#define QS_MAX 64
static unsigned long long qs_rx[QS_MAX], qs_tx[QS_MAX];
static unsigned int qs_n;

static void qs_set(int tx, unsigned int q, unsigned long long v)
{
	if (q >= QS_MAX)
		return;
	(tx ? qs_tx : qs_rx)[q] = v;
	if (q + 1 > qs_n)
		qs_n = q + 1;
}

static int queue_stats_ethtool(const char *ifname)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 len;
	} si = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ull << ETH_SS_STATS } };
	struct ethtool_gstrings *str;
	struct ethtool_stats *st;
	unsigned int n, i, q;

	if (ethtool(ifname, &si) < 0 || !si.hdr.sset_mask)
		return -1;
	n = si.len;
	str = calloc(1, sizeof(*str) + (size_t)n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + (size_t)n * sizeof(__u64));
	if (!str || !st)
		die("calloc");
	str->cmd = ETHTOOL_GSTRINGS;
	str->string_set = ETH_SS_STATS;
	str->len = n;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	if (ethtool(ifname, str) < 0 || ethtool(ifname, st) < 0)
		n = 0;
	for (i = 0; i < n && i < st->n_stats; i++) {
		char name[ETH_GSTRING_LEN + 1] = { 0 };
		int end = -1;

		memcpy(name, str->data + (size_t)i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
		if (sscanf(name, "rx_queue_%u_packets%n", &q, &end) == 1 && end > 0 && !name[end])
			qs_set(0, q, st->data[i]);
		end = -1;
		if (sscanf(name, "tx_queue_%u_packets%n", &q, &end) == 1 && end > 0 && !name[end])
			qs_set(1, q, st->data[i]);
	}
	free(str);
	free(st);
	return qs_n ? 0 : -1;
}

/* Generic netlink, just enough for one request and its answer. */
#define NL_BUF 32768
#define NLA_OK(a, len) ((len) >= (int)sizeof(*(a)) && (a)->nla_len >= sizeof(*(a)) && (a)->nla_len <= (len))
#define NLA_NEXT(a, len) ((len) -= NLA_ALIGN((a)->nla_len), \
			  (struct nlattr *)((char *)(a) + NLA_ALIGN((a)->nla_len)))
#define NLA_DATA(a) ((void *)((char *)(a) + NLA_HDRLEN))

struct nlreq {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[256];
};

static void nl_put(struct nlreq *r, unsigned short type, const void *data, unsigned short len)
{
	struct nlattr *a = (struct nlattr *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(NLA_DATA(a), data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static unsigned long long nla_uint(const struct nlattr *a)
{
	uint64_t v64 = 0;
	uint32_t v32 = 0;

	if (a->nla_len - NLA_HDRLEN >= 8) {
		memcpy(&v64, NLA_DATA(a), 8);
		return v64;
	}
	memcpy(&v32, NLA_DATA(a), 4);
	return v32;
}

/* Send R; call FN on each answer's attributes until NLMSG_DONE (dump) or the one answer. */
static int nl_talk(int fd, struct nlreq *r, void (*fn)(struct nlattr *, int, void *), void *arg)
{
	static char buf[NL_BUF];
	int done = 0;

	if (send(fd, r, r->n.nlmsg_len, 0) < 0)
		return -1;
	while (!done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len <= 0)
			return -1;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error) {
					errno = -e->error;
					return -1;
				}
				return 0;
			}
			fn((struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN),
			   h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), arg);
			if (!(h->nlmsg_flags & NLM_F_MULTI))
				done = 1;
		}
	}
	return 0;
}

static void family_id(struct nlattr *a, int len, void *arg)
{
	for (; NLA_OK(a, len); a = NLA_NEXT(a, len))
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			*(unsigned short *)arg = *(unsigned short *)NLA_DATA(a);
}

/* uapi/linux/netdev.h (6.9 and later; not in every libc's headers) */
enum { QS_CMD_GET = 12, QS_IFINDEX = 1, QS_QUEUE_TYPE = 2, QS_QUEUE_ID = 3, QS_SCOPE = 4,
       QS_RX_PACKETS = 8, QS_TX_PACKETS = 10, QS_SCOPE_QUEUE = 1 };

static void one_qstat(struct nlattr *a, int len, void *arg)
{
	int type = -1, id = -1;
	unsigned long long rx = 0, tx = 0;

	(void)arg;
	for (; NLA_OK(a, len); a = NLA_NEXT(a, len)) {
		switch (a->nla_type) {
		case QS_QUEUE_TYPE: type = (int)nla_uint(a); break;
		case QS_QUEUE_ID: id = (int)nla_uint(a); break;
		case QS_RX_PACKETS: rx = nla_uint(a); break;
		case QS_TX_PACKETS: tx = nla_uint(a); break;
		}
	}
	if (id >= 0 && (type == 0 || type == 1))
		qs_set(type, id, type ? tx : rx);
}

static int queue_stats_netlink(const char *ifname)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlreq r = { 0 };
	unsigned short fam = 0;
	uint32_t ifindex = if_nametoindex(ifname), scope = QS_SCOPE_QUEUE;
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC), ret = -1;

	if (fd < 0 || !ifindex || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r.n.nlmsg_type = GENL_ID_CTRL;
	r.n.nlmsg_flags = NLM_F_REQUEST;
	r.g.cmd = CTRL_CMD_GETFAMILY;
	r.g.version = 1;
	nl_put(&r, CTRL_ATTR_FAMILY_NAME, "netdev", 7);
	if (nl_talk(fd, &r, family_id, &fam) || !fam)
		goto out;
	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r.n.nlmsg_type = fam;
	r.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.g.cmd = QS_CMD_GET;
	r.g.version = 1;
	nl_put(&r, QS_IFINDEX, &ifindex, 4);
	nl_put(&r, QS_SCOPE, &scope, 4);
	ret = nl_talk(fd, &r, one_qstat, NULL);
out:
	if (fd >= 0)
		close(fd);
	return ret || !qs_n ? -1 : 0;
}

static int queue_stats(const char *ifname)
{
	unsigned int q;

	if (queue_stats_ethtool(ifname) && queue_stats_netlink(ifname)) {
		fprintf(stderr, "vub_nettool: no per-queue packet counters for %s (ethtool -S, netdev qstats): %s\n",
			ifname, strerror(errno));
		return 1;
	}
	printf("rx");
	for (q = 0; q < qs_n; q++)
		printf(" %llu", qs_rx[q]);
	printf(" tx");
	for (q = 0; q < qs_n; q++)
		printf(" %llu", qs_tx[q]);
	printf("\n");
	return 0;
}

static struct sockaddr_in addr(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "vub_nettool: bad address %s\n", ip);
		exit(2);
	}
	return a;
}

static int wait_in(int fd, double secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, (int)(secs * 1000));

	if (r < 0)
		die("poll");
	return r;
}

static int udp_echo(struct sockaddr_in a, int idle)
{
	char buf[65536];
	struct sockaddr_in from;
	socklen_t fl;
	long n = 0, bytes = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("udp-echo: bind");
	while (wait_in(fd, idle) > 0) {
		fl = sizeof(from);
		r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (r < 0)
			die("recvfrom");
		if (sendto(fd, buf, r, 0, (struct sockaddr *)&from, fl) != r)
			die("sendto");
		n++;
		bytes += r;
	}
	printf("%ld %ld\n", n, bytes);
	return 0;
}

static int udp_ping(struct sockaddr_in a, int count, int size)
{
	static char out[65536], in[65536];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), i, j, ok = 0, tries;
	ssize_t r;

	if (size < 8 || size > (int)sizeof(out))
		size = 8;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("udp-ping: connect");
	for (i = 0; i < count; i++) {
		for (j = 0; j < size; j++)
			out[j] = (char)(i * 131 + j * 7);
		for (tries = 0; tries < 3; tries++) {
			if (send(fd, out, size, 0) != size)
				break;
			while (wait_in(fd, 5) > 0) {
				r = recv(fd, in, sizeof(in), 0);
				if (r == size && !memcmp(in, out, size)) {
					ok++;
					goto next;
				}
				if (r < 0)
					break;
			}
		}
		break;	/* lost, three times: the rest would be too */
next:		;
	}
	printf("udp: %d of %d datagrams of %d bytes echoed intact\n", ok, count, size);
	return ok == count ? 0 : 1;
}

static int tcp(struct sockaddr_in a, const char *file, int wait, int send_it)
{
	static char buf[1 << 16];
	int ls = socket(AF_INET, SOCK_STREAM, 0), s, fd, one = 1;
	long long bytes = 0;
	double t0, last;
	ssize_t r;

	fd = send_it ? open(file, O_RDONLY) : open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(file);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0)
		die("tcp: listen");
	if (wait_in(ls, wait) == 0) {
		fprintf(stderr, "vub_nettool: no client within %d s\n", wait);
		return 3;
	}
	s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	t0 = last = now();
	if (send_it) {
		while ((r = read(fd, buf, sizeof(buf))) > 0) {
			ssize_t off = 0;

			while (off < r) {
				struct pollfd p = { .fd = s, .events = POLLOUT };

				if (poll(&p, 1, 60000) <= 0) {
					fprintf(stderr, "vub_nettool: sending stalled for 60 s after %lld bytes\n",
						bytes);
					return 1;
				}
				ssize_t w = send(s, buf + off, r - off, MSG_DONTWAIT);

				if (w < 0 && errno != EAGAIN)
					die("send");
				if (w > 0) {
					off += w;
					bytes += w;
				}
			}
		}
		shutdown(s, SHUT_WR);
		/* Done when the client has read everything and closed. */
		while (wait_in(s, 60) > 0 && recv(s, buf, sizeof(buf), 0) > 0)
			;
	} else {
		for (;;) {
			if (wait_in(s, 60) == 0) {
				fprintf(stderr, "vub_nettool: nothing received for 60 s after %lld bytes\n", bytes);
				return 1;
			}
			r = recv(s, buf, sizeof(buf), 0);
			if (r < 0)
				die("recv");
			if (r == 0)
				break;
			if (write(fd, buf, r) != r)
				die("write");
			bytes += r;
		}
	}
	last = now();
	printf("%lld %.3f\n", bytes, last - t0);
	close(s);
	close(fd);
	return 0;
}

/*
 * tcp-serve and tcp-echo: FLOWS parallel connections carry slice k of the data (BYTES / FLOWS,
 * the last one the rest) to the guest and back.  The flow's index, 4 bytes in network order,
 * is the first thing the guest sends, so the slices keep their order whatever order the
 * connections are accepted in.
 */
#define MAX_FLOWS 16

struct flow {
	pthread_t th;
	unsigned int k;
	int s;
	size_t off, size, got;
	double t0, t_rx, t_back, t_done;
	char why[160];
};

static unsigned char *fl_data, *fl_back;
static size_t fl_len;
static unsigned int fl_n;
static pthread_barrier_t fl_bar;

static void slice(struct flow *f)
{
	size_t each = fl_len / fl_n;

	f->off = f->k * each;
	f->size = f->k == fl_n - 1 ? fl_len - f->off : each;
}

static void timeouts(int s, int secs)
{
	struct timeval tv = { .tv_sec = secs };

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int send_all(struct flow *f, const unsigned char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = send(f->s, p + off, len - off, MSG_NOSIGNAL);

		if (w <= 0) {
			snprintf(f->why, sizeof(f->why), "flow %u: send after %zu of %zu bytes: %s",
				 f->k, off, len, w < 0 ? strerror(errno) : "closed");
			return -1;
		}
		off += w;
	}
	return 0;
}

/* Receive up to EOF into P (at most LEN bytes; more is an error); the time of the first byte in *T1. */
static int recv_all(struct flow *f, unsigned char *p, size_t len, double *t1)
{
	unsigned char extra[1];

	f->got = 0;
	for (;;) {
		ssize_t r = f->got < len ? recv(f->s, p + f->got, len - f->got, 0) : recv(f->s, extra, 1, 0);

		if (r < 0) {
			snprintf(f->why, sizeof(f->why), "flow %u: recv after %zu of %zu bytes: %s",
				 f->k, f->got, len, errno == EAGAIN ? "nothing for 60 s" : strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		if (t1 && !f->got)
			*t1 = now();
		if (f->got >= len) {
			snprintf(f->why, sizeof(f->why), "flow %u: more than %zu bytes", f->k, len);
			return -1;
		}
		f->got += r;
	}
	if (f->got != len) {
		snprintf(f->why, sizeof(f->why), "flow %u: EOF after %zu of %zu bytes", f->k, f->got, len);
		return -1;
	}
	return 0;
}

static void *serve_flow(void *arg)
{
	struct flow *f = arg;

	if (send_all(f, fl_data + f->off, f->size) == 0) {
		shutdown(f->s, SHUT_WR);
		if (recv_all(f, fl_back + f->off, f->size, &f->t_back) == 0)
			f->t_done = now();
	}
	close(f->s);
	return NULL;
}

static int tcp_serve(struct sockaddr_in a, const char *file, unsigned int n, int wait)
{
	struct flow fl[MAX_FLOWS] = { 0 };
	int ls = socket(AF_INET, SOCK_STREAM, 0), fd, one = 1, bad = 0;
	unsigned int i, got = 0;
	struct stat sb;
	char hex[65];
	double t_back = 0, t_done = 0;
	size_t back = 0;

	if (n < 1 || n > MAX_FLOWS)
		return 2;
	fd = open(file, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb) < 0)
		die(file);
	fl_len = sb.st_size;
	fl_n = n;
	/* Mapped, not copied: six paths' servers wait at once in the test VM. */
	fl_data = fl_len ? mmap(NULL, fl_len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	fl_back = calloc(1, fl_len + 1);
	if (fl_data == MAP_FAILED || !fl_back)
		die("mmap");
	close(fd);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, MAX_FLOWS) < 0)
		die("tcp-serve: listen");
	for (got = 0; got < n; got++) {
		unsigned char idx[4];
		unsigned int k;
		int s;

		if (wait_in(ls, got ? 60 : wait) == 0) {
			fprintf(stderr, "vub_nettool: %u of %u flows connected within %d s\n", got, n,
				got ? 60 : wait);
			bad = 1;
			break;
		}
		s = accept(ls, NULL, NULL);
		if (s < 0)
			die("accept");
		timeouts(s, 60);
		if (recv(s, idx, 4, MSG_WAITALL) != 4) {
			fprintf(stderr, "vub_nettool: a flow sent no index\n");
			close(s);
			bad = 1;
			continue;
		}
		k = (unsigned int)idx[0] << 24 | idx[1] << 16 | idx[2] << 8 | idx[3];
		if (k >= n || fl[k].s) {
			fprintf(stderr, "vub_nettool: bad or repeated flow index %u\n", k);
			close(s);
			bad = 1;
			continue;
		}
		fl[k].k = k;
		fl[k].s = s;
		slice(&fl[k]);
		if (pthread_create(&fl[k].th, NULL, serve_flow, &fl[k]))
			die("pthread_create");
	}
	for (i = 0; i < n; i++) {
		if (!fl[i].s) {
			bad = 1;
			continue;
		}
		pthread_join(fl[i].th, NULL);
		if (fl[i].why[0]) {
			fprintf(stderr, "vub_nettool: %s\n", fl[i].why);
			bad = 1;
		}
		back += fl[i].got;
		if (fl[i].t_back && (!t_back || fl[i].t_back < t_back))
			t_back = fl[i].t_back;
		if (fl[i].t_done > t_done)
			t_done = fl[i].t_done;
	}
	sha256_hex(fl_back, fl_len, hex);
	printf("%zu %zu %s %.3f\n", fl_len, back, hex, t_done > t_back && t_back ? t_done - t_back : 0.0);
	return bad;
}

static void *echo_flow(void *arg)
{
	struct flow *f = arg;
	int ok = !f->why[0] && recv_all(f, fl_data + f->off, f->size, NULL) == 0;

	f->t_rx = now();
	pthread_barrier_wait(&fl_bar);	/* everything received */
	pthread_barrier_wait(&fl_bar);	/* and hashed */
	if (ok && send_all(f, fl_data + f->off, f->size) == 0) {
		unsigned char b;

		shutdown(f->s, SHUT_WR);
		if (recv(f->s, &b, 1, 0) != 0)	/* the peer closes once it has it all */
			snprintf(f->why, sizeof(f->why), "flow %u: no close from the peer", f->k);
	}
	f->t_done = now();
	if (f->s >= 0)
		close(f->s);
	return NULL;
}

static int sysfs_write(const char *ifname, unsigned int q, const char *what, const char *val)
{
	char path[160];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues/tx-%u/%s", ifname, q, what);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Flow k on queue pair k, whatever the CPUs: XPS by receive queue (xps_rxqs: rx queue k
 * -> tx queue k), and while flow k connects and until its first data arrives, XPS by CPU sends everything on tx queue k
 * only, so its SYN leaves there.  The host's side (a multiqueue tap, and through it
 * testpmd) sends a flow back on the queue it came in on, the socket records that receive
 * queue, and xps_rxqs keeps the flow on pair k from then on.  K < 0: every queue again.
 */
static void steer(const char *ifname, unsigned int n, int k)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char all[24], v[24];
	unsigned int q;

	snprintf(all, sizeof(all), "%lx", cpus > 0 && cpus < 32 ? (1ul << cpus) - 1 : 1ul);
	for (q = 0; q < n; q++) {
		if (k == 0) {
			snprintf(v, sizeof(v), "%x", 1u << q);
			if (sysfs_write(ifname, q, "xps_rxqs", v))
				fprintf(stderr, "vub_nettool: %s tx-%u xps_rxqs: %s; ", ifname, q, strerror(errno));
		}
		if (sysfs_write(ifname, q, "xps_cpus", k < 0 || (int)q == k ? all : "0"))
			fprintf(stderr, "vub_nettool: %s tx-%u xps_cpus: %s; ", ifname, q, strerror(errno));
	}
}

static int tcp_echo(struct sockaddr_in a, unsigned int n, size_t bytes, const char *ifname)
{
	struct flow fl[MAX_FLOWS] = { 0 };
	double t0 = 0, t_rx = 0, t_tx, t_done = 0;
	size_t got = 0;
	unsigned int i;
	char hex[65];
	int bad = 0;

	if (n < 1 || n > MAX_FLOWS || !bytes)
		return 2;
	fl_len = bytes;
	fl_n = n;
	fl_data = malloc(bytes);
	if (!fl_data)
		die("malloc");
	pthread_barrier_init(&fl_bar, NULL, n + 1);
	for (i = 0; i < n; i++) {
		unsigned char idx[4] = { i >> 24, i >> 16, i >> 8, i };
		struct flow *f = &fl[i];

		f->k = i;
		slice(f);
		if (ifname && n > 1)
			steer(ifname, n, i);
		f->t0 = now();
		f->s = socket(AF_INET, SOCK_STREAM, 0);
		if (f->s < 0 || connect(f->s, (struct sockaddr *)&a, sizeof(a)) < 0)
			snprintf(f->why, sizeof(f->why), "flow %u: connect: %s", f->k, strerror(errno));
		else {
			timeouts(f->s, 60);
			/* Steered until the peer's data flows: the tap has learnt the flow's
			 * queue and the socket its receive queue. */
			if (send_all(f, idx, 4) == 0 && ifname && n > 1)
				recv(f->s, idx, 1, MSG_PEEK);
		}
	}
	if (ifname && n > 1)
		steer(ifname, n, -1);
	for (i = 0; i < n; i++)
		if (pthread_create(&fl[i].th, NULL, echo_flow, &fl[i]))
			die("pthread_create");
	pthread_barrier_wait(&fl_bar);
	for (i = 0; i < n; i++) {
		got += fl[i].got;
		if (!t0 || fl[i].t0 < t0)
			t0 = fl[i].t0;
		if (fl[i].t_rx > t_rx)
			t_rx = fl[i].t_rx;
	}
	sha256_hex(fl_data, bytes, hex);
	t_tx = now();
	pthread_barrier_wait(&fl_bar);
	for (i = 0; i < n; i++) {
		pthread_join(fl[i].th, NULL);
		if (fl[i].why[0]) {
			fprintf(stderr, "%s; ", fl[i].why);
			bad = 1;
		}
		if (fl[i].t_done > t_done)
			t_done = fl[i].t_done;
	}
	printf("%zu %s %.3f %.3f\n", got, hex, t_rx - t0, t_done - t_tx);
	return bad;
}

static int tap_exec(const char *ifname, char *fds, char **argv)
{
	char *tok, *save = NULL;
	unsigned int n = 0;

	for (tok = strtok_r(fds, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE };
		int want = atoi(tok), fd = open("/dev/net/tun", O_RDWR);

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0)
			die("tap-exec: TUNSETIFF");
		if (want < 3 || (fd != want && (dup2(fd, want) < 0 || close(fd) < 0)))
			die("tap-exec: dup2");
		n++;
	}
	if (!n)
		return 2;
	execvp(argv[0], argv);
	die(argv[0]);
	return 1;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(c, "features") && argc == 3)
		return features(argv[2]);
	if (!strcmp(c, "channels") && argc == 4)
		return channels(argv[2], atoi(argv[3]));
	if (!strcmp(c, "udp-echo") && argc == 5)
		return udp_echo(addr(argv[2], argv[3]), atoi(argv[4]));
	if (!strcmp(c, "udp-ping") && argc == 6)
		return udp_ping(addr(argv[2], argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(c, "tap-exec") && argc >= 5)
		return tap_exec(argv[2], argv[3], argv + 4);
	if (!strcmp(c, "queue-stats") && argc == 3)
		return queue_stats(argv[2]);
	if (!strcmp(c, "tcp-serve") && argc == 7)
		return tcp_serve(addr(argv[2], argv[3]), argv[4], atoi(argv[5]), atoi(argv[6]));
	if (!strcmp(c, "tcp-echo") && (argc == 6 || argc == 7))
		return tcp_echo(addr(argv[2], argv[3]), atoi(argv[4]), strtoull(argv[5], NULL, 0),
				argc == 7 ? argv[6] : NULL);
	if ((!strcmp(c, "tcp-send") || !strcmp(c, "tcp-recv")) && argc == 6)
		return tcp(addr(argv[2], argv[3]), argv[4], atoi(argv[5]), c[4] == 's');
	fprintf(stderr, "usage: see the comment at the top of tests/selftests/vub_nettool.c\n");
	return 2;
}
