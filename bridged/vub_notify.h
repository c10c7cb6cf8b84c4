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

#endif /* VUB_NOTIFY_H */
