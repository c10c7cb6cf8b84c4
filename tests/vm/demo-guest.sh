#!/bin/bash
# `make demo`, inside the VM (tests/vm/run.sh with VUB_GUEST set to this file):
# load the module, run the end-to-end scenario of tests/vm/e2e-virtio-user.sh
# narrated in plain words, unload the module.  Prints the # VUB_GUEST_DONE
# marker run.sh looks for and exits 0 only if everything worked.
set -u
say() { echo "==> $*"; }
detail() { echo "      $*"; }
# shellcheck source=e2e-virtio-user.sh
. "$(dirname "$0")/e2e-virtio-user.sh"

echo "== vhost-user-bridge demo on $(uname -r), $(nproc) vCPUs (QEMU TCG: everything runs slowly)"
modprobe -a tun tap || say "could not load tun and tap (the module needs them, as vhost_net does)"
rc=1
if insmod "$VUB_KMOD"; then
	say "Kernel module loaded: VMMs open /dev/vhost-user-bridge, the bridge daemon serves /dev/vhost-user-bridge-control"
	detail "$(ls -l /dev/vhost-user-bridge /dev/vhost-user-bridge-control | awk '{ print $1, $5, $6, $NF }' | paste -sd ';')"
	e2e_main
	rc=$?
	[ $rc = 4 ] && say "cannot run: $e2e_why"
	e2e_cleanup
	for _ in $(seq 20); do
		rmmod vhost_user_bridge 2>/dev/null && break
		sleep 0.5
	done
	if grep -q '^vhost_user_bridge ' /proc/modules; then
		say "FAILED: the module is still in use"
		rc=1
	else
		say "Kernel module unloaded; nothing was left behind"
	fi
else
	say "FAILED: insmod $VUB_KMOD"
fi
if dmesg | grep -qE "$VUB_DMESG_BAD"; then
	say "FAILED: the kernel log has warnings:"
	dmesg | grep -E "$VUB_DMESG_BAD" | head -5
	rc=1
fi
echo "# VUB_GUEST_DONE: demo $([ $rc = 0 ] && echo passed || echo FAILED)"
exit $rc
