#!/bin/bash
# The systemd stage's root, before systemd starts: tests/vm/init runs this chrooted into
# an overlay of the host root (read-only 9p, below) and a tmpfs (above), with /dev, /proc,
# /sys and /run (the results dir at /run/out) mounted, and run.sh's environment.  It makes
# the overlay a machine of its own (no host fstab, the tested kernel's modules, none of the
# host's enabled services), installs the project (what tests/vm/install.sh put in
# /run/out/root on the host) and boots into
# vub-test.target: sysinit.target and sockets.target (journald, udev, modules-load.d, ...)
# and vub-test.service, which runs the boot's VUB_GUEST: tests/vm/systemd-guest.sh, or for the
# package stage tests/vm/deb-guest.sh (its root holds what tests/vm/deb-root.sh staged instead).
set -euo pipefail
t0=$(cut -d' ' -f1 /proc/uptime)
: >/etc/fstab	# the host's file systems are not this machine's
# What tests/vm/install.sh installed on the host (/lib is /usr/lib: keep directory symlinks).
tar -C /run/out/root -c . | tar -C / -x --keep-directory-symlink
# A volatile journal (the host's journal files stay where they are) and no clean-up of the
# host's /tmp, which the overlay would copy up.
mkdir -p /etc/systemd/journald.conf.d /etc/tmpfiles.d
printf '[Journal]\nStorage=volatile\n' >/etc/systemd/journald.conf.d/vub-test.conf
ln -sfn /dev/null /etc/tmpfiles.d/tmp.conf
# udev loads no driver for the VM's devices (its coldplug would load dozens of modules
# over 9p under TCG for minutes); the test loads what it uses.
mkdir -p /etc/udev/rules.d
ln -sfn /dev/null /etc/udev/rules.d/80-drivers.rules

u=/etc/systemd/system
# The test: the systemd stage's or the package stage's (tests/vm/run.sh sets VUB_GUEST per boot).
test=$VUB_GUEST
# No getty, timers or network services: only what the stage needs.
cat >$u/vub-test.target <<EOT
[Unit]
Description=vhost-user-bridge VM test (systemd stage)
Requires=sysinit.target sockets.target
After=sysinit.target sockets.target
Wants=vub-test.service
AllowIsolate=yes
EOT
# The test's TAP goes to the results dir; whatever happens to it, its ExecStopPost ends the VM
# with its exit status (isa-debug-exit); run.sh's timeout is the last resort.
cat >$u/vub-test.service <<EOT
[Unit]
Description=vhost-user-bridge: tests/vm/${test##*/}
After=sysinit.target sockets.target

[Service]
Type=exec
ExecStart=/bin/bash $test
ExecStopPost=/bin/bash $VUB_TOP/tests/vm/systemd-guest.sh --exit
StandardOutput=append:/run/out/test.log
StandardError=inherit
EOT
ln -sfn vub-test.target $u/default.target
for s in systemd-timesyncd.service systemd-pstore.service; do
	ln -sfn /dev/null "$u/$s"	# enabled on the host
done
echo "systemd-setup: done in $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { print b - a }') s"
