#!/bin/bash
# libvirt 9.0 (Debian 12's, unpatched) starting QEMU 7.2 on the bridge with the admin guide's
# recipe, under nested KVM (tests/vm/libvirt.sh; also `make check-libvirt`).
# It leaves the machine as it found it: its overlays on /etc and /var unmounted, kvm_amd
# unloaded.  Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
# Its own time limit (guest.sh reads this line); about five times an idle run:
# VUB_TEST_TIMEOUT=1500
set -u
exec "$(dirname "$0")/../libvirt.sh"
