// SPDX-License-Identifier: GPL-2.0
/*
 * vub_nettool: the small network tools of the nested Linux guest test
 * (tests/vm/guest.d/50-linux-guest.sh).  Linked statically: it runs in the nested
 * guest's busybox initramfs as well as in the test VM.
 *
 *   vub_nettool features IFACE          the netdev's offloads (what `ethtool -k` shows)
 *   vub_nettool channels IFACE N        set N combined channels (`ethtool -L IFACE combined N`)
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
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
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
	if ((!strcmp(c, "tcp-send") || !strcmp(c, "tcp-recv")) && argc == 6)
		return tcp(addr(argv[2], argv[3]), argv[4], atoi(argv[5]), c[4] == 's');
	fprintf(stderr, "usage: see the comment at the top of tests/selftests/vub_nettool.c\n");
	return 2;
}
