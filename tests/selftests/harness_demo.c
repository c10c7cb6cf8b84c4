// SPDX-License-Identifier: GPL-2.0
/* harness_demo: one test per harness outcome; check-harness.sh checks the TAP. */
#include <stdint.h>

#include "harness.h"

TEST(passes)
{
	uint32_t u = 7;

	ASSERT_EQ(u, 7);
	ASSERT_NE(u, -1);	/* common type: -1 is UINT32_MAX here */
	ASSERT_LT(0.25, 0.5);
	ASSERT_ERRNO(close(-1), EBADF);
	ASSERT_OK(close(dup(1)));
	ASSERT_MEMEQ("abc", "abc", 3);
}

TEST(expect_fails_but_continues)
{
	EXPECT_EQ(1, 2);
	TH_LOG("still running after EXPECT");
}

TEST(assert_stops)
{
	ASSERT_TRUE(0);
	TH_LOG("not reached after ASSERT");
}

TEST(skips)
{
	SKIP("no %s here", "widget");
}

TEST_TIMEOUT(times_out, 1)
{
	sleep(30);
}

TEST(crashes)
{
	abort();
}

TEST(memeq_fails)
{
	ASSERT_MEMEQ("abcd", "abXd", 4);
}

TEST(leaves_orphan_behind)
{
	/* the harness kills the test's process group and reaps it */
	if (fork() == 0)
		pause();
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv, NULL);
}
