#!/bin/bash
# tests/vm/install.sh DESTDIR KREL MODROOT: the project as an administrator installs it from
# a built tree, `make install` (PREFIX=/usr/local: the module for kernel KREL through kbuild's
# modules_install, then depmod; the daemon, vubctl, the udev rule, modules-load.d, the systemd
# unit and its defaults, the man pages), into DESTDIR.  For the VM's systemd stage: run.sh
# runs it on the host (depmod over a whole module tree takes minutes under TCG), and
# tests/vm/systemd-setup.sh copies DESTDIR into the stage's root.  DESTDIR/lib/modules/KREL
# gets the tested kernel's module tree (MODROOT, the cache) as a symlink, "kernel", so that
# depmod indexes our module with the kernel's.  The stage's only install step: installing
# the Debian packages instead would replace this script.
set -euo pipefail
dest=$1 krel=$2 modroot=$3
top=$(cd "$(dirname "$0")/../.." && pwd)
m=$modroot/lib/modules/$krel
mkdir -p "$dest/lib/modules/$krel"
ln -sfn "$m/kernel" "$dest/lib/modules/$krel/kernel"
cp "$m"/modules.order "$m"/modules.builtin* "$dest/lib/modules/$krel/"
make -C "$top" --no-print-directory install DESTDIR="$dest" \
	KDIR="$modroot/usr/src/linux-headers-$krel" KMOD_BUILD="$top/build/kmod-$krel"
