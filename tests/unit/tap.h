/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Minimal TAP-ish output for the unit tests: "ok N - what" / "not ok N - what",
 * then a plan line and a summary.  Exit status: 0 all passed, 1 otherwise,
 * 77 when the whole program was skipped.
 */
#ifndef VUB_TEST_TAP_H
#define VUB_TEST_TAP_H

#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...)						\
	({								\
		int _c = !!(cond);					\
		tap_n++;						\
		if (!_c)						\
			tap_failed++;					\
		printf("%sok %d - ", _c ? "" : "not ", tap_n);		\
		printf(__VA_ARGS__);					\
		if (!_c)						\
			printf("  # at %s:%d", __FILE__, __LINE__);	\
		printf("\n");						\
		fflush(stdout);						\
		_c;							\
	})

#define TAP_DIAG(...)							\
	do {								\
		printf("# ");						\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		fflush(stdout);						\
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	printf("# %d passed, %d failed\n", tap_n - tap_failed, tap_failed);
	return tap_failed ? 1 : 0;
}

static inline void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(77);
}

#endif
