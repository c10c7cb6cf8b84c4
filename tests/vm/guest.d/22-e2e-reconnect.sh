#!/bin/bash
# The back-end restarts under a running VMM: unmodified DPDK virtio-user
# forwards through the bridge to unmodified testpmd, which is SIGKILLed in the
# middle of the traffic and started again on the same socket.  The daemon must
# notice the hang-up while the device is idle, reconnect with backoff, replay
# the device (features, memory, rings at the guest's used index), and the
# traffic must resume with no action by the VMM; the counters must reconcile
# (tests/vm/e2e-virtio-user.sh, E2E_RESTART).
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"
trap e2e_cleanup EXIT
E2E_RESTART=1 e2e_main
rc=$?
[ $rc = 4 ] && echo "$e2e_why"
exit $rc
