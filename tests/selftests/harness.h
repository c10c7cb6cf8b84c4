/* SPDX-License-Identifier: GPL-2.0 */
/*
 * harness.h - a small kselftest-style test harness (our own, header only).
 *
 *   TEST(name) { ... }                 a test, 30 s timeout
 *   TEST_TIMEOUT(name, secs) { ... }   a test with its own timeout
 *   ASSERT_EQ/NE/LT/LE/GT/GE(a, b), ASSERT_TRUE/FALSE(x)   fail and stop
 *   EXPECT_...                                             fail and go on
 *   ASSERT_OK(call)          call returns 0 (else errno is shown)
 *   ASSERT_ERRNO(call, E)    call returns -1 with errno E
 *   ASSERT_MEMEQ(a, b, len)  byte-wise, shows the first difference
 *   SKIP(fmt, ...)           stop, reported as "ok N name # SKIP reason"
 *   TH_LOG(fmt, ...)         a "# " diagnostic line
 *   int main(...) { return harness_main(argc, argv, after_each); }
 *
 * Every test runs in its own forked process and process group, with alarm()
 * as its timeout, so a crash or a hang is one "not ok" and the rest still
 * run.  Use ASSERT/EXPECT only in the test's own process (a child it forks
 * just exits).  After each test its whole process group is killed and
 * reaped (the harness is a child subreaper, so orphans come back to it),
 * then after_each (may be NULL) runs in the harness: put global restores
 * there.  Output is TAP 13; the exit status is 1 if any test failed.
 */
#ifndef VUB_HARNESS_H
#define VUB_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_DEFAULT_TIMEOUT	30
#define HARNESS_EXIT_FAIL	1
#define HARNESS_EXIT_SKIP	4
#define HARNESS_GRACE_S		10	/* past the timeout, SIGKILL the group */

struct harness_test {
	const char *name;
	void (*fn)(void);
	unsigned int timeout_s;
	struct harness_test *next;
};

static struct harness_test *harness_tests, **harness_tail = &harness_tests;
static int harness_failed;		/* in the test process */
static char *harness_skip_reason;	/* shared page */

static void __attribute__((unused)) harness_register(struct harness_test *t)
{
	*harness_tail = t;
	harness_tail = &t->next;
}

#define TEST_TIMEOUT(name, secs)						\
	static void harness_fn_##name(void);					\
	static struct harness_test harness_t_##name =				\
		{ #name, harness_fn_##name, secs, NULL };			\
	__attribute__((constructor)) static void harness_reg_##name(void)	\
	{ harness_register(&harness_t_##name); }				\
	static void harness_fn_##name(void)
#define TEST(name) TEST_TIMEOUT(name, HARNESS_DEFAULT_TIMEOUT)

#define TH_LOG(fmt, ...) \
	do { printf("# " fmt "\n", ##__VA_ARGS__); fflush(stdout); } while (0)

static void __attribute__((unused)) harness_fail(int fatal)
{
	harness_failed = 1;
	if (fatal) {
		fflush(stdout);
		_exit(HARNESS_EXIT_FAIL);
	}
}

#define SKIP(fmt, ...) do {							\
	snprintf(harness_skip_reason, 256, fmt, ##__VA_ARGS__);		\
	fflush(stdout);								\
	_exit(HARNESS_EXIT_SKIP);						\
} while (0)

/*
 * Both sides are converted to their common type (the type of a + b), so
 * comparing a uint32_t field with a literal needs no cast (the usual C
 * conversions apply: -1 compared with a uint32_t means UINT32_MAX).
 */
#define HARNESS_IS_FLOAT(x) _Generic((x), float: 1, double: 1, long double: 1, default: 0)
#define HARNESS_CMP(fatal, a, op, b) do {					\
	__typeof__((a) + (b)) _ha = (a), _hb = (b);				\
	if (!(_ha op _hb)) {							\
		if (HARNESS_IS_FLOAT(_ha))					\
			TH_LOG("%s:%d: expected %s %s %s: %g vs %g",		\
			       __FILE__, __LINE__, #a, #op, #b,			\
			       (double)_ha, (double)_hb);			\
		else								\
			TH_LOG("%s:%d: expected %s %s %s: %lld (%#llx) vs %lld (%#llx)", \
			       __FILE__, __LINE__, #a, #op, #b,			\
			       (long long)_ha, (unsigned long long)_ha,	\
			       (long long)_hb, (unsigned long long)_hb);	\
		harness_fail(fatal);						\
	}									\
} while (0)

#define ASSERT_EQ(a, b)	HARNESS_CMP(1, a, ==, b)
#define ASSERT_NE(a, b)	HARNESS_CMP(1, a, !=, b)
#define ASSERT_LT(a, b)	HARNESS_CMP(1, a, <, b)
#define ASSERT_LE(a, b)	HARNESS_CMP(1, a, <=, b)
#define ASSERT_GT(a, b)	HARNESS_CMP(1, a, >, b)
#define ASSERT_GE(a, b)	HARNESS_CMP(1, a, >=, b)
#define EXPECT_EQ(a, b)	HARNESS_CMP(0, a, ==, b)
#define EXPECT_NE(a, b)	HARNESS_CMP(0, a, !=, b)
#define EXPECT_LT(a, b)	HARNESS_CMP(0, a, <, b)
#define EXPECT_LE(a, b)	HARNESS_CMP(0, a, <=, b)
#define EXPECT_GT(a, b)	HARNESS_CMP(0, a, >, b)
#define EXPECT_GE(a, b)	HARNESS_CMP(0, a, >=, b)

#define HARNESS_TRUTH(fatal, x, want) do {					\
	if (!(x) != !(want)) {							\
		TH_LOG("%s:%d: expected %s to be %s", __FILE__, __LINE__,	\
		       #x, (want) ? "true" : "false");				\
		harness_fail(fatal);						\
	}									\
} while (0)
#define ASSERT_TRUE(x)	HARNESS_TRUTH(1, x, 1)
#define ASSERT_FALSE(x)	HARNESS_TRUTH(1, x, 0)
#define EXPECT_TRUE(x)	HARNESS_TRUTH(0, x, 1)
#define EXPECT_FALSE(x)	HARNESS_TRUTH(0, x, 0)

static const char __attribute__((unused)) *harness_errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "?";
}

#define HARNESS_ERRNO(fatal, call, want) do {					\
	long _hr;								\
	int _he;								\
	errno = 0;								\
	_hr = (long)(call);							\
	_he = errno;								\
	if (_hr != -1 || _he != (want)) {					\
		TH_LOG("%s:%d: %s: returned %ld, errno %s; expected -1, errno %s", \
		       __FILE__, __LINE__, #call, _hr,				\
		       _hr == -1 ? harness_errname(_he) : "-",			\
		       harness_errname(want));					\
		harness_fail(fatal);						\
	}									\
} while (0)
#define ASSERT_ERRNO(call, e)	HARNESS_ERRNO(1, call, e)
#define EXPECT_ERRNO(call, e)	HARNESS_ERRNO(0, call, e)

#define HARNESS_OK(fatal, call) do {						\
	long _hr = (long)(call);						\
	if (_hr != 0) {								\
		TH_LOG("%s:%d: %s: returned %ld (errno %s), expected 0",	\
		       __FILE__, __LINE__, #call, _hr, harness_errname(errno)); \
		harness_fail(fatal);						\
	}									\
} while (0)
#define ASSERT_OK(call)	HARNESS_OK(1, call)
#define EXPECT_OK(call)	HARNESS_OK(0, call)

#define ASSERT_MEMEQ(a, b, len) do {						\
	const unsigned char *_pa = (const void *)(a), *_pb = (const void *)(b); \
	size_t _hi, _hn = (len);						\
	for (_hi = 0; _hi < _hn && _pa[_hi] == _pb[_hi]; _hi++)			\
		;								\
	if (_hi < _hn) {							\
		TH_LOG("%s:%d: %s and %s differ at byte %zu of %zu: %#x vs %#x", \
		       __FILE__, __LINE__, #a, #b, _hi, _hn, _pa[_hi], _pb[_hi]); \
		harness_fail(1);						\
	}									\
} while (0)

static double __attribute__((unused)) harness_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Kill what is left of a test's process group and reap it (bounded). */
static void __attribute__((unused)) harness_cleanup_group(pid_t pgid)
{
	double end = harness_now() + 5;

	kill(-pgid, SIGKILL);
	while (harness_now() < end) {
		pid_t p = waitpid(-pgid, NULL, WNOHANG);

		if (p < 0)
			return;		/* ECHILD: all gone */
		if (p == 0)
			usleep(2000);
	}
	printf("# warning: processes of group %d did not die within 5 s\n", (int)pgid);
}

/* Run one test; returns its status: 0 ok, 1 fail, 4 skip. */
static int __attribute__((unused)) harness_run_one(struct harness_test *t, int num, void (*after_each)(void))
{
	double deadline;
	int st = 0, ret;
	pid_t pid, p;

	harness_skip_reason[0] = 0;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		printf("not ok %d %s # fork: %s\n", num, t->name, strerror(errno));
		return HARNESS_EXIT_FAIL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		alarm(t->timeout_s);
		t->fn();
		fflush(stdout);
		_exit(harness_failed ? HARNESS_EXIT_FAIL : 0);
	}
	setpgid(pid, pid);	/* either side may win the race; both set it */
	deadline = harness_now() + t->timeout_s + HARNESS_GRACE_S;
	while ((p = waitpid(pid, &st, WNOHANG)) == 0) {
		if (harness_now() > deadline) {
			kill(-pid, SIGKILL);
			p = waitpid(pid, &st, 0);
			break;
		}
		usleep(2000);
	}
	harness_cleanup_group(pid);
	if (after_each)
		after_each();

	if (p == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		printf("ok %d %s\n", num, t->name);
		ret = 0;
	} else if (p == pid && WIFEXITED(st) && WEXITSTATUS(st) == HARNESS_EXIT_SKIP) {
		printf("ok %d %s # SKIP %s\n", num, t->name, harness_skip_reason);
		ret = HARNESS_EXIT_SKIP;
	} else {
		if (p == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
			printf("# %s: TIMEOUT after %u s\n", t->name, t->timeout_s);
		else if (p == pid && WIFSIGNALED(st))
			printf("# %s: killed by signal %d (%s)\n", t->name, WTERMSIG(st),
			       strsignal(WTERMSIG(st)));
		else if (p == pid && WEXITSTATUS(st) != HARNESS_EXIT_FAIL)
			printf("# %s: exit status %d\n", t->name, WEXITSTATUS(st));
		printf("not ok %d %s\n", num, t->name);
		ret = HARNESS_EXIT_FAIL;
	}
	fflush(stdout);
	return ret;
}

/* With no arguments every test runs, else those named. */
static int __attribute__((unused))
harness_selected(const struct harness_test *t, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], t->name))
			return 1;
	return argc < 2;
}

static int __attribute__((unused))
harness_main(int argc, char **argv, void (*after_each)(void))
{
	int n = 0, num = 0, pass = 0, fail = 0, skip = 0;
	struct harness_test *t;

	if (argc > 1 && (!strcmp(argv[1], "-l") || !strcmp(argv[1], "--list"))) {
		for (t = harness_tests; t; t = t->next)
			printf("%s\n", t->name);
		return 0;
	}
	if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "usage: %s [-l | --list] [TEST...]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	harness_skip_reason = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (harness_skip_reason == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (t = harness_tests; t; t = t->next)
		n += harness_selected(t, argc, argv);
	printf("TAP version 13\n1..%d\n", n);
	for (t = harness_tests; t; t = t->next) {
		if (!harness_selected(t, argc, argv))
			continue;
		switch (harness_run_one(t, ++num, after_each)) {
		case 0:
			pass++;
			break;
		case HARNESS_EXIT_SKIP:
			skip++;
			break;
		default:
			fail++;
		}
	}
	printf("# %d passed, %d failed, %d skipped\n", pass, fail, skip);
	printf("%d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}

#endif /* VUB_HARNESS_H */
