// SPDX-License-Identifier: GPL-2.0-only
/*
 * dpdk-testpmd harness for the front-end integration tests (see testpmd.h).
 * Command lines: --no-huge
 * with -m 256 and --total-num-mbufs=8192 (the default pool does not fit),
 * a unique --file-prefix (--in-memory is incompatible with --no-huge), the
 * forwarding lcore on CPU 1 while the test itself runs pinned to CPU 0.
 */
#include "testpmd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The CPUs this process may use, as they were at start-up: the test pins
 * itself to the first one before it starts testpmd, which must still get the
 * second.  (A CI cpuset can be smaller than the machine.)
 */
static cpu_set_t start_cpus;
static int start_cpus_ok;

__attribute__((constructor)) static void save_start_cpus(void)
{
	start_cpus_ok = !sched_getaffinity(0, sizeof(start_cpus), &start_cpus);
}

long usable_cpus(void)
{
	if (!start_cpus_ok)
		return sysconf(_SC_NPROCESSORS_ONLN);
	return CPU_COUNT(&start_cpus);
}

/* The first two CPUs we may use, for --lcores. */
static void pick_cpus(int *a, int *b)
{
	int i, n = 0;

	*a = *b = 0;
	if (!start_cpus_ok) {
		*b = sysconf(_SC_NPROCESSORS_ONLN) > 1;
		return;
	}
	for (i = 0; i < CPU_SETSIZE && n < 2; i++) {
		if (!CPU_ISSET(i, &start_cpus))
			continue;
		if (n++ == 0)
			*a = *b = i;
		else
			*b = i;
	}
}

const char *testpmd_binary(void)
{
	const char *p = getenv("DPDK_TESTPMD");

	if (p && *p && access(p, X_OK) == 0)
		return p;
	if (access("/usr/bin/dpdk-testpmd", X_OK) == 0)
		return "/usr/bin/dpdk-testpmd";
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void testpmd_dump_log(const struct testpmd *t, int last_lines)
{
	char line[512];
	FILE *f = fopen(t->log, "r");
	long n = 0, skip;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		n++;
	skip = last_lines > 0 && n > last_lines ? n - last_lines : 0;
	rewind(f);
	n = 0;
	while (fgets(line, sizeof(line), f))
		if (n++ >= skip)
			printf("# testpmd: %s", line);
	fclose(f);
	fflush(stdout);
}

static int file_has(const char *path, const char *needle)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

int testpmd_start(struct testpmd *t, unsigned int nports, const char *mode)
{
	const char *bin = testpmd_binary();
	char *argv[40], vdev[TESTPMD_MAX_PORTS][200], fwd[64], prefix_arg[80];
	char lcores[64];
	int cpu0, cpu1;
	int pin[2], argc = 0, logfd;
	unsigned int i;
	double t0;

	memset(t, 0, sizeof(*t));
	t->pid = -1;
	t->in_fd = -1;
	if (!bin || nports == 0 || nports > TESTPMD_MAX_PORTS)
		return -ENOENT;
	t->nports = nports;
	snprintf(t->dir, sizeof(t->dir), "/tmp/vub-testpmd-XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	snprintf(t->log, sizeof(t->log), "%s/testpmd.log", t->dir);
	snprintf(t->prefix, sizeof(t->prefix), "vubtest%d", (int)getpid());
	for (i = 0; i < nports; i++) {
		snprintf(t->sock[i], sizeof(t->sock[i]), "%s/vhost%u.sock",
			 t->dir, i);
		snprintf(vdev[i], sizeof(vdev[i]),
			 "net_vhost%u,iface=%s,queues=1,client=0", i, t->sock[i]);
	}
	snprintf(fwd, sizeof(fwd), "--forward-mode=%s", mode);
	snprintf(prefix_arg, sizeof(prefix_arg), "--file-prefix=%s", t->prefix);

	argv[argc++] = "stdbuf";
	argv[argc++] = "-oL";
	argv[argc++] = (char *)bin;
	/* main lcore on our CPU, the forwarding lcore on the next one (or on
	 * the same one when we only have one) */
	pick_cpus(&cpu0, &cpu1);
	snprintf(lcores, sizeof(lcores), "--lcores=0@%d,1@%d", cpu0, cpu1);
	argv[argc++] = lcores;
	argv[argc++] = "--no-huge";
	argv[argc++] = "--no-pci";
	argv[argc++] = "-m";
	argv[argc++] = "256";
	argv[argc++] = prefix_arg;
	argv[argc++] = "--log-level=lib.eal:error";
	for (i = 0; i < nports; i++) {
		argv[argc++] = "--vdev";
		argv[argc++] = vdev[i];
	}
	argv[argc++] = "--";
	argv[argc++] = "-i";
	argv[argc++] = fwd;
	argv[argc++] = "--total-num-mbufs=8192";
	argv[argc++] = "--nb-cores=1";
	argv[argc] = NULL;

	if (pipe2(pin, O_CLOEXEC))
		return -errno;
	logfd = open(t->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (t->pid == 0) {
		dup2(pin[0], 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pin[0]);
	close(logfd);
	t->in_fd = pin[1];

	/* Sockets appear once the ports are configured (0.4-4 s measured). */
	t0 = now();
	for (;;) {
		struct stat st;
		int status;

		for (i = 0; i < nports; i++)
			if (stat(t->sock[i], &st) || !S_ISSOCK(st.st_mode))
				break;
		if (i == nports && file_has(t->log, "testpmd> "))
			break;
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = -1;
			printf("# testpmd exited during start-up\n");
			testpmd_dump_log(t, 40);
			return -ECHILD;
		}
		if (now() - t0 > 60) {
			printf("# testpmd did not come up in 60 s\n");
			testpmd_dump_log(t, 40);
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
	return testpmd_cmd(t, "start");
}

static int count_in_log(const char *path, const char *needle)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

int testpmd_wait_log(struct testpmd *t, const char *needle, int count,
		     int timeout_s)
{
	double t0 = now();

	while (count_in_log(t->log, needle) < count) {
		if (now() - t0 > timeout_s) {
			printf("# testpmd never logged \"%s\" (%d times)\n", needle,
			       count);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	return 0;
}

int testpmd_cmd(struct testpmd *t, const char *line)
{
	size_t n = strlen(line);

	if (t->in_fd < 0)
		return -EPIPE;
	if (write(t->in_fd, line, n) != (ssize_t)n || write(t->in_fd, "\n", 1) != 1)
		return -errno;
	return 0;
}

static int wait_exit(struct testpmd *t, int timeout_s)
{
	double t0 = now();
	int status;

	while (now() - t0 < timeout_s) {
		pid_t p = waitpid(t->pid, &status, WNOHANG);

		if (p == t->pid) {
			t->pid = -1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		usleep(20000);
	}
	return -ETIMEDOUT;
}

static uint64_t field(const char *s, const char *name)
{
	const char *p = strstr(s, name);

	return p ? strtoull(p + strlen(name), NULL, 10) : UINT64_MAX;
}

/* Parse the last "NIC statistics for port P" and "Forward statistics for
 * port P" blocks of the log. */
static int parse(const struct testpmd *t, unsigned int port,
		 struct testpmd_port_stats *s)
{
	char *buf, hdr[64], fhdr[64], *p, *blk, *end;
	FILE *f = fopen(t->log, "r");
	long len;

	memset(s, 0, sizeof(*s));
	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(buf);
		return -EIO;
	}
	fclose(f);

	snprintf(hdr, sizeof(hdr), "NIC statistics for port %u ", port);
	for (blk = NULL, p = buf; (p = strstr(p, hdr)); p++)
		blk = p;
	if (!blk) {
		free(buf);
		return -ENOENT;
	}
	/* the header line itself ends in '#': look from the next line */
	p = strchr(blk, '\n');
	end = p ? strstr(p, "#####") : NULL;
	if (end)
		*end = '\0';
	s->rx_packets = field(blk, "RX-packets:");
	s->rx_missed = field(blk, "RX-missed:");
	s->rx_bytes = field(blk, "RX-bytes:");
	s->rx_errors = field(blk, "RX-errors:");
	s->rx_nombuf = field(blk, "RX-nombuf:");
	s->tx_packets = field(blk, "TX-packets:");
	s->tx_errors = field(blk, "TX-errors:");
	s->tx_bytes = field(blk, "TX-bytes:");
	if (end)
		*end = '#';

	snprintf(fhdr, sizeof(fhdr), "Forward statistics for port %u ", port);
	for (blk = NULL, p = buf; (p = strstr(p, fhdr)); p++)
		blk = p;
	if (blk) {
		/* the header line is framed by dashes: look from the next line */
		p = strchr(blk, '\n');
		end = p ? strstr(p, "-------") : NULL;
		if (end)
			*end = '\0';
		s->fwd_rx = field(blk, "RX-packets:");
		s->fwd_rx_dropped = field(blk, "RX-dropped:");
		s->fwd_tx = field(blk, "TX-packets:");
		s->fwd_tx_dropped = field(blk, "TX-dropped:");
		s->have_fwd = 1;
	}
	free(buf);
	return s->rx_packets == UINT64_MAX || s->tx_packets == UINT64_MAX ?
	       -EBADMSG : 0;
}

int testpmd_finish(struct testpmd *t, struct testpmd_port_stats *stats,
		   int timeout_s)
{
	unsigned int i;
	int ret;

	testpmd_cmd(t, "stop");
	testpmd_cmd(t, "show port stats all");
	testpmd_cmd(t, "quit");
	close(t->in_fd);
	t->in_fd = -1;
	ret = wait_exit(t, timeout_s);
	if (ret < 0) {
		printf("# testpmd did not quit within %d s\n", timeout_s);
		return ret;
	}
	for (i = 0; i < t->nports; i++) {
		int r = parse(t, i, &stats[i]);

		if (r) {
			printf("# no statistics for port %u in the testpmd log\n", i);
			testpmd_dump_log(t, 60);
			return r;
		}
	}
	return 0;
}

void testpmd_cleanup(struct testpmd *t)
{
	char path[160];
	unsigned int i;

	if (t->in_fd >= 0)
		close(t->in_fd);
	t->in_fd = -1;
	if (t->pid > 0) {
		kill(-t->pid, SIGTERM);
		if (wait_exit(t, 5) < 0) {
			kill(-t->pid, SIGKILL);
			waitpid(t->pid, NULL, 0);
		}
		t->pid = -1;
	}
	for (i = 0; i < t->nports; i++)
		unlink(t->sock[i]);
	if (!getenv("VUB_KEEP_LOGS"))
		unlink(t->log);
	if (t->dir[0])
		rmdir(t->dir);
	/* EAL runtime directory of this prefix */
	snprintf(path, sizeof(path), "rm -rf /var/run/dpdk/%s", t->prefix);
	if (t->prefix[0] && system(path) != 0) {
		/* nothing to do: best effort */
	}
}
