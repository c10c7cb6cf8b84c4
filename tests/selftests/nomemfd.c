// SPDX-License-Identifier: GPL-2.0
/*
 * libvub_nomemfd.so: LD_PRELOAD it into an unmodified DPDK application to make
 * memfd_create() fail (ENOSYS).  DPDK's --no-huge memory then falls back to
 * private anonymous memory (MAP_PRIVATE | MAP_ANONYMOUS), as a VMM's default RAM
 * is: what the bridge's mirrors are for (tests/vm/bench.sh, section anon).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

int memfd_create(const char *name, unsigned int flags);

int memfd_create(const char *name, unsigned int flags)
{
	static const char msg[] = "libvub_nomemfd: memfd_create() refused (ENOSYS)\n";

	(void)name;
	(void)flags;
	if (write(2, msg, strlen(msg)) < 0)
		errno = 0;	/* nothing to do about it */
	errno = ENOSYS;
	return -1;
}
