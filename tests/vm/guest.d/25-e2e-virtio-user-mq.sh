#!/bin/bash
# Multiqueue end to end with unmodified DPDK on both sides: dpdk-testpmd as
# the VMM with virtio-user queues=2 (two vhost devices, one per queue pair,
# on one multiqueue tap), the bridge daemon, dpdk-testpmd's vhost-user PMD
# with queues=2 as the back-end.  The daemon must carry both pairs on one
# vhost-user connection (rings 0-3), and packets are counted on every queue
# at both ends and must match exactly (tests/vm/e2e-virtio-user.sh).
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"
trap e2e_cleanup EXIT
E2E_QUEUES=2 e2e_main
rc=$?
[ $rc = 4 ] && echo "$e2e_why"
exit $rc
