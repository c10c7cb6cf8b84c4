/* SPDX-License-Identifier: GPL-2.0 */
/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram to the unix socket named by $NOTIFY_SOCKET, a path or, with a
 * leading '@', an abstract address.  Without $NOTIFY_SOCKET (not started by
 * systemd as Type=notify) every call does nothing and returns 0.
 */
#ifndef VUB_NOTIFY_H
#define VUB_NOTIFY_H

/*
 * Send @state, newline-separated VAR=value assignments ("READY=1",
 * "STATUS=serving 2 devices").  Returns 1 when sent, 0 without
 * $NOTIFY_SOCKET, or -errno (-EINVAL: the variable is neither an absolute
 * path nor '@'-prefixed; -ENAMETOOLONG: too long for a unix address).
 */
int vub_notify(const char *state);

/* vub_notify() of a printf-formatted state. */
int vub_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The daemon is attached and serving: "READY=1". */
static inline int vub_notify_ready(void)
{
	return vub_notify("READY=1");
}

/* Shutting down: "STOPPING=1". */
static inline int vub_notify_stopping(void)
{
	return vub_notify("STOPPING=1");
}

/*
 * Whether @fd is systemd's journal: $JOURNAL_STREAM ("DEVICE:INODE", set for
 * a service whose stdout or stderr goes to the journal) names @fd's file.  A
 * daemon then starts each line with its priority, "<3>" for LOG_ERR, which
 * journald stores as the line's PRIORITY (sd-daemon(3)).  Returns 1 if so,
 * 0 if not (unset, malformed, another file: a pipe the daemon's stderr was
 * redirected to after systemd started something else), -errno if fstat fails.
 */
int vub_journal_stream(int fd);

#endif /* VUB_NOTIFY_H */
