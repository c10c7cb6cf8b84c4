/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vub_co - coroutines for bridged's single event loop.
 *
 * Each request the kernel delivers runs as a coroutine: straight-line code
 * (vub_dev, the vhost-user front-end) that, where it would block on a
 * back-end socket, calls vub_co_wait() and so hands the thread back to the
 * loop.  A back-end that is slow, hung or trickling therefore delays only
 * the coroutines waiting on it; every wait ends at the coroutine's deadline.
 * Outside a coroutine (unit tests, tools) vub_co_wait() is a plain poll().
 *
 * The loop:
 *
 *   n = vub_co_pollfds(&pfd, &cap, first, &deadline);   waiters' fds after
 *                                                        the caller's @first
 *   ppoll(pfd, n, <deadline>, mask);
 *   ...handle the caller's fds, vub_co_spawn() new work...
 *   vub_co_run(pfd + first, n - first);                  resume the ready
 *
 * One thread, no preemption: between two waits a coroutine runs alone, so
 * shared state needs no locking, only vub_co_lock() around exchanges that
 * span waits (one vhost-user conversation at a time on one back-end).
 */
#ifndef VUB_CO_H
#define VUB_CO_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vub_co;

typedef void vub_co_fn(void *arg);

/* Milliseconds on CLOCK_MONOTONIC: the clock of every deadline. */
int64_t vub_co_now(void);

/* Start fn(arg) as a coroutine; it runs until its first wait or its end.
 * Returns 0 or -ENOMEM (then fn was not called). */
int vub_co_spawn(vub_co_fn *fn, void *arg);
/* Inside a coroutine? */
bool vub_co_active(void);
/* The running coroutine's deadline (ms, vub_co_now's clock; -1: none), which
 * bounds every later wait of it.  Outside a coroutine: ignored / -1. */
void vub_co_set_deadline(int64_t deadline);
int64_t vub_co_deadline(void);

/*
 * Wait until @fd (< 0: none) is ready for @events or until @deadline (-1:
 * none; the coroutine's own deadline applies when it is earlier).  Returns
 * the revents (> 0) or -ETIMEDOUT.
 */
int vub_co_wait(int fd, short events, int64_t deadline);

/* A FIFO mutex between coroutines. */
struct vub_co_lock {
	struct vub_co *owner;
	struct vub_co *head, *tail;	/* waiters */
};

/* Take @l, waiting at most until the coroutine's deadline: 0 or -ETIMEDOUT.
 * Outside a coroutine: 0 if free, else -EDEADLK. */
int vub_co_lock(struct vub_co_lock *l);
void vub_co_unlock(struct vub_co_lock *l);

/*
 * Scheduler side.  vub_co_pollfds() keeps the caller's first @first entries of
 * *pfd (grown as needed, *cap entries) and appends one per coroutine waiting
 * on an fd; *deadline gets the earliest deadline (-1: none; now when a
 * coroutine is runnable).  Returns the number of entries, or -ENOMEM.
 * vub_co_run() resumes every coroutine whose fd is ready, whose lock came
 * free or whose deadline passed, given the entries vub_co_pollfds() appended.
 */
int vub_co_pollfds(struct pollfd **pfd, size_t *cap, size_t first, int64_t *deadline);
void vub_co_run(const struct pollfd *pfd, size_t n);
/* Coroutines alive (waiting). */
size_t vub_co_count(void);

#endif /* VUB_CO_H */
