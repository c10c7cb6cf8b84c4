#!/bin/bash
# End to end with unmodified DPDK on both sides: dpdk-testpmd as the VMM
# (virtio-user, path=/dev/vhost-user-bridge: vhost-net ioctls), the bridge
# daemon, dpdk-testpmd with the vhost-user PMD as the back-end; packets are
# counted at both ends and must match exactly (tests/vm/e2e-virtio-user.sh).
# Through a named instance, bound with vubctl, which must show the device.
# The offloads the VMM agreed on with its tap must reach the back-end, and
# include those the same VMM negotiates over native vhost-user (E2E_NATIVE).
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"
trap e2e_cleanup EXIT
E2E_INSTANCE=e2e E2E_NATIVE=1 e2e_main
rc=$?
[ $rc = 4 ] && echo "$e2e_why"
exit $rc
