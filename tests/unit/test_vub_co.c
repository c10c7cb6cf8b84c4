// SPDX-License-Identifier: GPL-2.0-only
/*
 * bridged/vub_co.c, the daemon's coroutines, and vu_conn on top of them:
 * a coroutine waiting on a silent peer does not hold up another; a lock is
 * handed over in FIFO order and a waiter gives up at its deadline; a peer
 * that trickles a reply a byte at a time, or a back-end whose listen queue
 * is full, costs a request its deadline, not more; outside a coroutine every
 * call is the plain blocking one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "vu_conn.h"
#include "vub_co.h"

static char order[16];
static size_t norder;

/* The event loop for @ms, with @poke called at every turn. */
static void loop(int64_t ms, void (*poke)(void *), void *arg)
{
	int64_t end = vub_co_now() + ms, dl;
	struct pollfd *pfd = NULL;
	size_t cap = 0;
	int n;

	while (vub_co_count() && vub_co_now() < end) {
		n = vub_co_pollfds(&pfd, &cap, 0, &dl);
		if (dl < 0 || dl > vub_co_now() + 20)
			dl = vub_co_now() + 20;
		dl -= vub_co_now();	/* past by now on a loaded machine: not -1 (forever) */
		poll(pfd, n, dl < 0 ? 0 : (int)dl);
		if (poke)
			poke(arg);
		vub_co_run(pfd, n);
	}
	free(pfd);
}

struct waiter {
	int fd;
	char name;
	int64_t deadline_ms;
	int ret;
	int64_t took;
};

static void wait_fd(void *arg)
{
	struct waiter *w = arg;
	int64_t t0 = vub_co_now();

	vub_co_set_deadline(t0 + w->deadline_ms);
	w->ret = vub_co_wait(w->fd, POLLIN, -1);
	w->took = vub_co_now() - t0;
	order[norder++] = w->name;
}

static void test_waits(void)
{
	int a[2], b[2];
	struct waiter wa = { .name = 'a', .deadline_ms = 300 };
	struct waiter wb = { .name = 'b', .deadline_ms = 5000 };

	socketpair(AF_UNIX, SOCK_STREAM, 0, a);
	socketpair(AF_UNIX, SOCK_STREAM, 0, b);
	wa.fd = a[0];
	wb.fd = b[0];
	norder = 0;
	TAP_OK(!vub_co_spawn(wait_fd, &wa) && !vub_co_spawn(wait_fd, &wb),
	       "two coroutines spawned");
	TAP_OK(vub_co_count() == 2 && norder == 0, "nothing runs before the loop");
	if (write(b[1], "x", 1) != 1)
		perror("write");
	loop(2000, NULL, NULL);
	TAP_OK(norder == 2 && order[0] == 'b' && order[1] == 'a',
	       "the coroutine whose fd is ready runs first, the silent one after (%.*s)",
	       (int)norder, order);
	TAP_OK(wb.ret > 0 && (wb.ret & POLLIN), "ready fd: revents %#x", wb.ret);
	TAP_OK(wa.ret == -ETIMEDOUT && wa.took >= 290 && wa.took < 1500,
	       "silent fd: ETIMEDOUT at the coroutine's deadline (%lld ms)",
	       (long long)wa.took);
	TAP_OK(vub_co_count() == 0, "finished coroutines are freed");
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
}

static struct vub_co_lock lock;

struct locker {
	char name;
	int64_t hold_ms, deadline_ms;
	int ret;
};

static void take_lock(void *arg)
{
	struct locker *l = arg;

	vub_co_set_deadline(vub_co_now() + l->deadline_ms);
	l->ret = vub_co_lock(&lock);
	if (l->ret)
		return;
	order[norder++] = l->name;
	if (l->hold_ms) {
		vub_co_set_deadline(-1);
		vub_co_wait(-1, 0, vub_co_now() + l->hold_ms);
	}
	vub_co_unlock(&lock);
}

static void test_lock(void)
{
	struct locker l1 = { '1', 1000, 5000, 0 }, l2 = { '2', 0, 5000, 0 },
		      l3 = { '3', 0, 50, 0 }, l4 = { '4', 0, 5000, 0 };

	norder = 0;
	vub_co_spawn(take_lock, &l1);
	loop(10, NULL, NULL);	/* 1 takes the lock */
	vub_co_spawn(take_lock, &l2);
	vub_co_spawn(take_lock, &l3);
	vub_co_spawn(take_lock, &l4);
	loop(3000, NULL, NULL);
	TAP_OK(norder == 3 && !memcmp(order, "124", 3),
	       "the lock goes to its waiters in FIFO order (%.*s)", (int)norder, order);
	TAP_OK(l3.ret == -ETIMEDOUT && l2.ret == 0 && l4.ret == 0,
	       "a waiter whose deadline passes gives up with ETIMEDOUT, the others get it");
	TAP_OK(!lock.owner && !lock.head && !lock.tail, "the lock ends free, no waiter left");
	TAP_OK(vub_co_lock(&lock) == 0 && vub_co_lock(&lock) == -EDEADLK,
	       "outside a coroutine: a free lock is taken, a held one is EDEADLK");

	/* The holder lets go after the waiter's deadline, before the loop ran
	 * again: the waiter is not handed the lock. */
	norder = 0;
	l3.ret = 0;
	vub_co_spawn(take_lock, &l3);
	loop(10, NULL, NULL);	/* 3 queues, 50 ms to go */
	usleep(100 * 1000);
	vub_co_unlock(&lock);
	loop(100, NULL, NULL);
	TAP_OK(l3.ret == -ETIMEDOUT && norder == 0 && !lock.owner && !lock.head,
	       "a late waiter is skipped at unlock: ETIMEDOUT, the lock stays free");
}

/* A vhost-user GET_FEATURES reply (20 bytes), one byte every 40 ms. */
struct trickle {
	int fd;
	uint8_t msg[20];
	size_t off;
	int64_t next;
};

static void trickle_poke(void *arg)
{
	struct trickle *t = arg;

	if (vub_co_now() < t->next || t->off == sizeof(t->msg))
		return;
	if (write(t->fd, t->msg + t->off, 1) == 1)
		t->off++;
	t->next = vub_co_now() + 40;
}

struct caller {
	struct vu_conn c;
	int64_t deadline_ms;
	int ret;
	int64_t took;
	char msg[160];
};

static void call_features(void *arg)
{
	struct caller *cl = arg;
	struct vu_msg req = { .request = VU_GET_FEATURES, .flags = VU_VERSION }, reply;
	struct vu_err err = { 0 };
	int64_t t0 = vub_co_now();

	vub_co_set_deadline(t0 + cl->deadline_ms);
	cl->ret = vu_conn_call(&cl->c, &req, &reply, 0, &err);
	cl->took = vub_co_now() - t0;
	snprintf(cl->msg, sizeof(cl->msg), "%s", err.msg);
}

static void test_trickle(void)
{
	struct caller cl = { .deadline_ms = 250 };
	struct trickle t = { 0 };
	uint32_t flags = VU_VERSION | VU_REPLY_FLAGS, size = 8;
	uint32_t req = VU_GET_FEATURES;
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	memcpy(t.msg, &req, 4);
	memcpy(t.msg + 4, &flags, 4);
	memcpy(t.msg + 8, &size, 4);
	t.fd = sv[1];
	vu_conn_adopt(&cl.c, sv[0]);
	cl.c.timeout_ms = 1000;		/* per wait: never reached */
	vub_co_spawn(call_features, &cl);
	loop(5000, trickle_poke, &t);
	TAP_OK(cl.ret == -ETIMEDOUT && cl.took >= 240 && cl.took < 1000,
	       "a reply trickled a byte every 40 ms ends at the request's deadline: %d after %lld ms (%s)",
	       cl.ret, (long long)cl.took, cl.msg);
	TAP_OK(t.off > 1 && t.off < sizeof(t.msg), "the peer was still trickling (%zu of %zu bytes)",
	       t.off, sizeof(t.msg));
	vu_conn_close(&cl.c);
	close(sv[1]);
}

struct connector {
	const char *path;
	int ret;
	int64_t took;
};

static void do_connect(void *arg)
{
	struct connector *k = arg;
	struct vu_conn c;
	struct vu_err err = { 0 };
	int64_t t0 = vub_co_now();

	vub_co_set_deadline(t0 + 200);
	k->ret = vu_conn_connect(&c, k->path, &err);
	k->took = vub_co_now() - t0;
	if (!k->ret)
		vu_conn_close(&c);
}

static void test_full_listen_queue(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct connector k = { .path = sa.sun_path };
	struct waiter w = { .name = 'w', .deadline_ms = 5000 };
	int lfd, fds[64], nfd = 0, sv[2];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/test_vub_co.%d.sock", getpid());
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 0)) {
		TAP_OK(0, "listening socket: %s", strerror(errno));
		return;
	}
	/* Fill the listen queue: connects that nobody accepts. */
	while (nfd < 64) {
		fds[nfd] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fds[nfd], (struct sockaddr *)&sa, sizeof(sa))) {
			close(fds[nfd]);
			break;
		}
		nfd++;
	}
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	w.fd = sv[0];
	norder = 0;
	vub_co_spawn(do_connect, &k);
	vub_co_spawn(wait_fd, &w);
	if (write(sv[1], "x", 1) != 1)
		perror("write");
	loop(5000, NULL, NULL);
	TAP_OK(k.ret == -ETIMEDOUT && k.took >= 190 && k.took < 2000,
	       "connect to a full listen queue: ETIMEDOUT at the deadline (%d, %lld ms)",
	       k.ret, (long long)k.took);
	TAP_OK(w.ret > 0 && norder >= 1 && order[0] == 'w',
	       "meanwhile another coroutine ran at once");
	while (nfd)
		close(fds[--nfd]);
	close(lfd);
	close(sv[0]);
	close(sv[1]);
	unlink(sa.sun_path);
}

static void test_outside(void)
{
	int sv[2];
	int64_t t0;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	TAP_OK(!vub_co_active() && vub_co_deadline() == -1, "not in a coroutine, no deadline");
	t0 = vub_co_now();
	TAP_OK(vub_co_wait(sv[0], POLLIN, t0 + 100) == -ETIMEDOUT &&
	       vub_co_now() - t0 >= 95, "outside: a wait is a poll() until its deadline");
	if (write(sv[1], "x", 1) != 1)
		perror("write");
	TAP_OK(vub_co_wait(sv[0], POLLIN, -1) & POLLIN, "outside: a ready fd returns at once");
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	test_outside();
	test_waits();
	test_lock();
	test_trickle();
	test_full_listen_queue();
	return tap_done();
}
