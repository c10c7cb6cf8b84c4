#!/bin/bash
# A nested Linux guest (the kernel under test, default offloads) under unmodified QEMU 7.2
# doing TCP, UDP and large pings through vhost-net, native vhost-user and the bridge, with
# one queue pair and with four (tests/vm/linux-guest.sh).  Skipped on 6.1 (its nested boot
# alone takes minutes more).  Runs in the test VM as root with the module loaded
# (tests/vm/guest.sh).  Exit 0 pass, 1 fail, 4 skip (the last line says why).
# Its own time limit (guest.sh reads this line); about four times an idle run:
# VUB_TEST_TIMEOUT=2400
set -u
exec "$(dirname "$0")/../linux-guest.sh"
