/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Run an unmodified dpdk-testpmd with vhost-user PMD ports for a test.
 *
 * testpmd runs interactively (-i) with its stdin on a pipe we hold, and its
 * stdout line-buffered (stdbuf -oL) into a log file.  Counters are read
 * robustly: at the end we send "stop" (forward statistics), "show port stats
 * all" and "quit", wait for the process to exit, and parse the complete log.
 * The EAL file prefix and the sockets live in a private temporary directory;
 * everything is removed afterwards.
 */
#ifndef VUB_TEST_TESTPMD_H
#define VUB_TEST_TESTPMD_H

#include <stdint.h>
#include <sys/types.h>

#define TESTPMD_MAX_PORTS	2

struct testpmd {
	pid_t pid;
	int in_fd;
	unsigned int nports;
	char dir[64];
	char log[128];
	char prefix[48];
	char sock[TESTPMD_MAX_PORTS][128];
};

struct testpmd_port_stats {
	uint64_t rx_packets, rx_missed, rx_bytes, rx_errors, rx_nombuf;
	uint64_t tx_packets, tx_errors, tx_bytes;
	/* from "stop" (forward statistics) */
	uint64_t fwd_rx, fwd_rx_dropped, fwd_tx, fwd_tx_dropped;
	int have_fwd;
};

/* CPUs this process may run on. */
long usable_cpus(void);

/* Path of dpdk-testpmd ($DPDK_TESTPMD or the Debian location), or NULL. */
const char *testpmd_binary(void);

/* Start testpmd with `nports` vhost-user server ports and forwarding mode
 * `mode` ("macswap", "io"); waits until every socket exists and forwarding
 * is started.  Returns 0 or -errno (the log is printed on failure). */
int testpmd_start(struct testpmd *t, unsigned int nports, const char *mode);

/* Wait until `needle` occurs at least `count` times in the log. */
int testpmd_wait_log(struct testpmd *t, const char *needle, int count,
		     int timeout_s);

/* Send one interactive command line. */
int testpmd_cmd(struct testpmd *t, const char *line);

/* stop + show port stats all + quit; wait up to timeout_s; parse.
 * stats[] must have nports entries.  Returns 0 or -errno. */
int testpmd_finish(struct testpmd *t, struct testpmd_port_stats *stats,
		   int timeout_s);

/* Kill (if still running) and remove every file. */
void testpmd_cleanup(struct testpmd *t);

/* Print the log with a "# " prefix (diagnostics). */
void testpmd_dump_log(const struct testpmd *t, int last_lines);

#endif
