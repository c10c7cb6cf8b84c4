/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_ksft.h - what our tests add to the kernel's kselftest_harness.h
 * (tools/testing/selftests/ of Debian's linux-source-6.12, fetched into a
 * cache by tests/ksource.sh; see tests/selftests/Makefile).
 *
 *   ASSERT_OK(call), EXPECT_OK(call)   call returns 0 (else errno is shown)
 *   ASSERT_ERRNO(call, E), EXPECT_ERRNO(call, E)   call returns -1, errno E
 *   ASSERT_MEMEQ(a, b, len)   byte-wise, shows the first difference
 *   vub_now()                 CLOCK_MONOTONIC in seconds
 *   vub_errname(e)            "EINVAL"
 *   vub_group_setup(), vub_group_end()   end what a test left running (below)
 *
 * Like the harness's own, these need _metadata: a helper that uses them
 * takes "struct __test_metadata *_metadata" as its first parameter.
 */
#ifndef VUB_KSFT_H
#define VUB_KSFT_H

#include <dirent.h>
#include <signal.h>
#include <time.h>

#include "kselftest_harness.h"

static inline const char *vub_errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "?";
}

static inline double vub_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define __VUB_OK(call, is_assert) do {						\
	long __r = (long)(call);						\
	int __e = errno;							\
	__EXPECT(0, "0", __r, #call, ==, is_assert)				\
		TH_LOG("%s: errno %s", #call, vub_errname(__e));		\
} while (0)
#define ASSERT_OK(call)	__VUB_OK(call, 1)
#define EXPECT_OK(call)	__VUB_OK(call, 0)

#define __VUB_ERRNO(call, want, is_assert) do {					\
	long __r;								\
	int __e;								\
	errno = 0;								\
	__r = (long)(call);							\
	__e = errno;								\
	__EXPECT(0, "0", __r == -1 && __e == (want), "fails with " #want,	\
		 !=, is_assert)							\
		TH_LOG("%s: returned %ld, errno %s; expected -1, errno %s",	\
		       #call, __r, __r == -1 ? vub_errname(__e) : "-",		\
		       vub_errname(want));					\
} while (0)
#define ASSERT_ERRNO(call, e)	__VUB_ERRNO(call, e, 1)
#define EXPECT_ERRNO(call, e)	__VUB_ERRNO(call, e, 0)

#define ASSERT_MEMEQ(a, b, len) do {						\
	const unsigned char *__pa = (const void *)(a);				\
	const unsigned char *__pb = (const void *)(b);				\
	size_t __i, __n = (len);						\
	for (__i = 0; __i < __n && __pa[__i] == __pb[__i]; __i++)		\
		;								\
	__EXPECT(__n, "len", __i, "bytes equal", ==, 1)				\
		TH_LOG("%s and %s differ at byte %zu of %zu: %#x vs %#x",	\
		       #a, #b, __i, __n, __pa[__i], __pb[__i]);			\
} while (0)

/*
 * The harness runs each test in a process group of its own, but kills the
 * group only when the test times out.  A test that fails midway may leave
 * children running (a test daemon attached to the control device, a VMM
 * blocked in an ioctl) that would break the next test and hold the module.
 * Its fixture teardown is no place to end them: in 6.12's TEST_F() a failed
 * ASSERT longjmp()s back into a wrapper whose local "child" is clobbered at
 * -O2, so the teardown may run in the wrong process or not at all.  Instead:
 *
 *   FIXTURE_SETUP(f)  { vub_group_setup(); ... }   ends the previous test's
 *                     group, whatever became of that test, and records this one
 *   atexit(fn), fn() { if (vub_group_end()) ...; }   ends the last test's
 *                     group (only in the harness's main process, once a test ran)
 *
 * Ending a group: SIGKILL every member, then wait up to 5 s until each has
 * exited (a zombie or gone), so that it no longer holds a file.
 */
static pid_t *vub_groups;	/* [0] the harness's pid, [1] the last test's group */

static void __attribute__((constructor)) vub_groups_init(void)
{
	vub_groups = mmap(NULL, 2 * sizeof(pid_t), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vub_groups == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	vub_groups[0] = getpid();
}

/*
 * Live (not zombie) members of process group @pgrp; each is sent @sig.  Not
 * kill(-pgrp, 0): it succeeds as long as an unreaped zombie is in the group.
 */
static inline int vub_group_signal(pid_t pgrp, int sig)
{
	DIR *proc = opendir("/proc");
	struct dirent *d;
	int live = 0;

	while (proc && (d = readdir(proc))) {
		char path[64], buf[512], *p, state;
		int pid = atoi(d->d_name), pg = 0;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* after the command: state, ppid, pgrp */
		if (!p || sscanf(p + 1, " %c %*d %d", &state, &pg) != 2 ||
		    pg != pgrp || state == 'Z' || state == 'X')
			continue;
		kill(pid, sig);
		live++;
	}
	if (proc)
		closedir(proc);
	return live;
}

static inline void vub_group_kill(pid_t pgrp)
{
	double end = vub_now() + 5;
	int live;

	while ((live = vub_group_signal(pgrp, SIGKILL)) && vub_now() < end)
		usleep(10000);
	if (live)
		ksft_print_msg("warning: %d processes of group %d still alive after 5 s\n",
			       live, (int)pgrp);
}

static inline void vub_group_setup(void)
{
	pid_t prev = vub_groups[1];

	if (prev && prev != getpgrp())
		vub_group_kill(prev);
	vub_groups[1] = getpgrp();
}

/* True in the harness's main process once a test has run. */
static inline bool vub_group_end(void)
{
	if (getpid() != vub_groups[0] || !vub_groups[1])
		return false;
	vub_group_kill(vub_groups[1]);
	return true;
}

#endif /* VUB_KSFT_H */
