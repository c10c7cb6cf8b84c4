// SPDX-License-Identifier: GPL-2.0-only
/*
 * vub_co - coroutines for bridged's event loop (see vub_co.h), on
 * ucontext: each coroutine has its own stack and switches only at
 * vub_co_wait() and vub_co_lock(), so none ever runs concurrently.
 */
#include "vub_co.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define VUB_CO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VUB_CO_ASAN 1
#endif
#endif
#ifdef VUB_CO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* Deep enough for a memory table's arrays on the stack; pages never
 * touched cost nothing (MAP_NORESERVE). */
#define CO_STACK	(512 * 1024)

enum co_state {
	CO_READY,	/* to be started or resumed by vub_co_run */
	CO_RUNNING,
	CO_WAIT_FD,	/* fd/events until deadline (fd < 0: a sleep) */
	CO_WAIT_LOCK,	/* queued on a lock until deadline */
	CO_DONE,
};

struct vub_co {
	ucontext_t ctx;
	unsigned char *stack;	/* CO_STACK bytes, the lowest page a guard */
	vub_co_fn *fn;
	void *arg;
	enum co_state state;
	int fd;
	short events;
	int64_t wait_deadline;	/* of the current wait, -1: none */
	int64_t deadline;	/* vub_co_set_deadline, -1: none */
	int result;		/* what the wait returns when resumed */
	long pidx;		/* entry in the caller's pollfd array, or -1 */
	struct vub_co_lock *lock;	/* CO_WAIT_LOCK: the lock */
	struct vub_co *lnext;	/* next waiter on that lock */
	struct vub_co *prev, *next;	/* all coroutines */
#ifdef VUB_CO_ASAN
	void *fake_stack;
#endif
};

static struct vub_co *all, *last, *cur;	/* all: in spawn order */
static size_t nr_cos;
static ucontext_t loop_ctx;
#ifdef VUB_CO_ASAN
static const void *loop_bottom;
static size_t loop_size;
#endif

int64_t vub_co_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool vub_co_active(void)
{
	return cur;
}

size_t vub_co_count(void)
{
	return nr_cos;
}

void vub_co_set_deadline(int64_t deadline)
{
	if (cur)
		cur->deadline = deadline;
}

int64_t vub_co_deadline(void)
{
	return cur ? cur->deadline : -1;
}

static void co_free(struct vub_co *co)
{
	if (co->prev)
		co->prev->next = co->next;
	else
		all = co->next;
	if (co->next)
		co->next->prev = co->prev;
	else
		last = co->prev;
	munmap(co->stack, CO_STACK);
	free(co);
	nr_cos--;
}

/* From the coroutine back to the loop; returns the value it is resumed with. */
static int co_yield(void)
{
	struct vub_co *co = cur;

#ifdef VUB_CO_ASAN
	__sanitizer_start_switch_fiber(co->state == CO_DONE ? NULL : &co->fake_stack,
				       loop_bottom, loop_size);
#endif
	swapcontext(&co->ctx, &loop_ctx);
#ifdef VUB_CO_ASAN
	__sanitizer_finish_switch_fiber(co->fake_stack, &loop_bottom, &loop_size);
#endif
	return co->result;
}

static void trampoline(void)
{
	struct vub_co *co = cur;

#ifdef VUB_CO_ASAN
	__sanitizer_finish_switch_fiber(NULL, &loop_bottom, &loop_size);
#endif
	co->fn(co->arg);
	co->state = CO_DONE;
	co_yield();	/* never returns: the loop frees the coroutine */
	abort();
}

/* From the loop into @co, until it waits again or ends. */
static void co_resume(struct vub_co *co, int result)
{
#ifdef VUB_CO_ASAN
	void *fake;
#endif

	co->result = result;
	co->state = CO_RUNNING;
	co->pidx = -1;
	cur = co;
#ifdef VUB_CO_ASAN
	__sanitizer_start_switch_fiber(&fake, co->stack, CO_STACK);
#endif
	swapcontext(&loop_ctx, &co->ctx);
#ifdef VUB_CO_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	cur = NULL;
	if (co->state == CO_DONE)
		co_free(co);
}

int vub_co_spawn(vub_co_fn *fn, void *arg)
{
	struct vub_co *co = calloc(1, sizeof(*co));

	if (!co)
		return -ENOMEM;
	co->stack = mmap(NULL, CO_STACK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (co->stack == MAP_FAILED) {
		free(co);
		return -ENOMEM;
	}
	mprotect(co->stack, (size_t)sysconf(_SC_PAGESIZE), PROT_NONE);
	getcontext(&co->ctx);
	co->ctx.uc_stack.ss_sp = co->stack;
	co->ctx.uc_stack.ss_size = CO_STACK;
	co->ctx.uc_link = NULL;
	makecontext(&co->ctx, trampoline, 0);
	co->fn = fn;
	co->arg = arg;
	co->state = CO_READY;
	co->fd = -1;
	co->deadline = -1;
	co->wait_deadline = -1;
	co->pidx = -1;
	co->prev = last;	/* appended: vub_co_run() starts them in order */
	if (last)
		last->next = co;
	else
		all = co;
	last = co;
	nr_cos++;
	return 0;
}

static int64_t earlier(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int vub_co_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	if (cur) {
		cur->fd = fd;
		cur->events = events;
		cur->wait_deadline = earlier(deadline, cur->deadline);
		cur->state = CO_WAIT_FD;
		return co_yield();
	}
	do {
		left = deadline < 0 ? -1 : deadline - vub_co_now();
		if (deadline >= 0 && left < 0)
			left = 0;
		n = poll(&p, fd >= 0 ? 1 : 0, left > 0x7fffffff ? 0x7fffffff : (int)left);
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		return p.revents;
	return -ETIMEDOUT;
}

int vub_co_lock(struct vub_co_lock *l)
{
	if (!l->owner) {
		l->owner = cur ? cur : (struct vub_co *)l;	/* outside: a marker */
		return 0;
	}
	if (!cur)
		return -EDEADLK;
	cur->lock = l;
	cur->lnext = NULL;
	if (l->tail)
		l->tail->lnext = cur;
	else
		l->head = cur;
	l->tail = cur;
	cur->wait_deadline = cur->deadline;
	cur->state = CO_WAIT_LOCK;
	return co_yield();
}

static void lock_dequeue(struct vub_co_lock *l, struct vub_co *co)
{
	struct vub_co **pp, *prev = NULL;

	for (pp = &l->head; *pp; prev = *pp, pp = &(*pp)->lnext)
		if (*pp == co) {
			*pp = co->lnext;
			if (l->tail == co)
				l->tail = prev;
			break;
		}
	co->lock = NULL;
}

/* To the first waiter whose deadline has not passed; those before it were
 * late (the loop had not run since their deadline): ETIMEDOUT, as if it had. */
void vub_co_unlock(struct vub_co_lock *l)
{
	int64_t now = vub_co_now();
	struct vub_co *next;

	l->owner = NULL;
	while ((next = l->head)) {
		lock_dequeue(l, next);
		next->state = CO_READY;
		if (next->wait_deadline < 0 || now < next->wait_deadline) {
			l->owner = next;
			next->result = 0;
			return;
		}
		next->result = -ETIMEDOUT;
	}
}

int vub_co_pollfds(struct pollfd **pfd, size_t *cap, size_t first, int64_t *deadline)
{
	size_t n = first;
	struct vub_co *co;
	struct pollfd *p;

	*deadline = -1;
	for (co = all; co; co = co->next) {
		co->pidx = -1;
		if (co->state == CO_READY) {
			*deadline = vub_co_now();
			continue;
		}
		*deadline = earlier(*deadline, co->wait_deadline);
		if (co->state != CO_WAIT_FD || co->fd < 0)
			continue;
		if (n == *cap) {
			p = realloc(*pfd, (*cap ? 2 * *cap : 16) * sizeof(*p));
			if (!p)
				return -ENOMEM;
			*pfd = p;
			*cap = *cap ? 2 * *cap : 16;
		}
		(*pfd)[n] = (struct pollfd){ .fd = co->fd, .events = co->events };
		co->pidx = (long)(n - first);
		n++;
	}
	return (int)n;
}

void vub_co_run(const struct pollfd *pfd, size_t n)
{
	struct vub_co *co, *next;
	int64_t now = vub_co_now();
	short rev;

	for (co = all; co; co = next) {
		next = co->next;
		switch (co->state) {
		case CO_READY:
			co_resume(co, co->result);
			break;
		case CO_WAIT_FD:
			rev = co->pidx >= 0 && (size_t)co->pidx < n ? pfd[co->pidx].revents : 0;
			if (rev)
				co_resume(co, rev);
			else if (co->wait_deadline >= 0 && now >= co->wait_deadline)
				co_resume(co, -ETIMEDOUT);
			break;
		case CO_WAIT_LOCK:
			if (co->wait_deadline >= 0 && now >= co->wait_deadline) {
				lock_dequeue(co->lock, co);
				co_resume(co, -ETIMEDOUT);
			}
			break;
		default:
			break;
		}
	}
}
