# vhost-user-bridge: top-level build and test entry points.
#   make                      userspace (build/) and the module for this host (kmod/)
#   make deps                 install the Debian packages the project needs
#   make check                everything below; one summary line per stage at the end
#   make check-unit           host-side tests
#   make module-check KVER=6.1|6.12   kbuild W=1 C=1 (sparse), fails on any warning
#   make check-vm KVER=6.1|6.12       boot that Debian kernel under TCG, run the tests; on 6.12 boot it
#                             again with systemd as PID 1 for the installed unit (VUB_TESTS=systemd: only that)
#   make check-vm KVER=debug  the same on Debian's 6.12 built with KASAN, UBSAN, lockdep,
#                             kmemleak, debugobjects (tests/vm/debug.config; slow, not in check)
#   make check-vm KVER=kasan  the same kernel without lockdep: runs the mirrored-memory tests
#                             (27-29), which skip on a lockdep kernel (Documentation/design.rst)
#   make debug-kernel [KVER=kasan]   only build (or find in the cache) that kernel
#   make bench                the benchmarks (tests/vm/bench.sh) in one 6.12 VM: build/bench.md, bench.json, bench.png
#   make fuzz KVER=.. FUZZ_SECS=N   the fuzzers alone in a VM, N s each (default 300; check: 10)
#   make check-linux-guest    only the nested Linux guest test of check-vm KVER=6.12 (in its own VM)
#   make check-migrate        only 31-migrate.sh (QEMU 7.2 live migration), in a 6.12 VM
#   make check-libvirt        only the libvirt test of check-vm (tests/vm/libvirt.sh: libvirt
#                             9.0 starting QEMU on the bridge), in a 6.12 VM
#   make demo                 a 6.12 VM showing an unmodified VMM's traffic crossing the bridge
#   make lint                 checkpatch over kmod/ and uapi/
#   make -C tests/selftests kselftest-install INSTALL_PATH=dir   vub_selftests (on the kernel's
#                             kselftest harness) laid out for the kernel's run_kselftest.sh
#   make install | uninstall  [DESTDIR= PREFIX=/usr/local KDIR=]: what `make` built, udev,
#                             systemd, man pages (Documentation/admin-guide.rst)
#   make install-dkms         the module's sources to /usr/src/vhost-user-bridge-VERSION
#   make deb                  build/vhost-user-bridge-dkms_VERSION_all.deb and
#                             build/vhost-user-bridged_VERSION_ARCH.deb (tools/packaging/debian/)
#   make check-deb            only the package stage of check-vm KVER=6.12: those packages in a VM
#                             booted with systemd: dpkg -i, DKMS, the unit, modprobe, dpkg --purge
# The VM runner is described in Documentation/vm-runner.rst.
SHELL := /bin/bash
.DEFAULT_GOAL := all
TOP := $(CURDIR)
BUILD ?= $(TOP)/build
VM := $(TOP)/tests/vm
KVER ?= 6.1

DEPS := qemu-system-x86 busybox-static liburing-dev kmod cpio xz-utils zstd dwarves \
	gcc make libelf-dev sparse bc pkg-config libnl-3-dev libnl-genl-3-dev dpdk-dev dkms jq \
	ipxe-qemu strace udev gnuplot-nox linux-perf procps systemd
# make deb (dpkg-buildpackage wants build-essential besides the Build-Depends) and its checks.
DEPS += build-essential debhelper dh-dkms lintian
# The libvirt test (guest.d/33-libvirt.sh): libvirtd, its QEMU driver and virsh (no maintainer
# scripts: nothing starts on install).
DEPS += libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
# Building the debug kernel (KVER=debug or kasan) needs a few more.
DEPS += $(if $(filter debug kasan,$(KVER))$(filter debug-kernel,$(MAKECMDGOALS)),flex bison libssl-dev)
APT_GET := DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) \
	apt-get -q -y -o DPkg::Lock::Timeout=600

# kbuild dir for `make module`: the running kernel's, else Debian 6.1 from the cache.
KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; if [ -d $$d ]; then echo $$d; \
	else $(VM)/fetch-kernel.sh 6.1 | cut -d' ' -f2; fi)

.PHONY: all deps userspace module module-check check-vm check-unit check check-linux-guest check-migrate check-libvirt check-deb bench demo lint clean fuzz \
	debug-kernel \
	install install-module install-userspace install-dkms uninstall deb

all: userspace module

deps:
	@missing=$$(comm -13 <(dpkg-query -W -f='$${Package} $${db:Status-Status}\n' $(DEPS) 2>/dev/null | \
		awk '$$2 == "installed" { print $$1 }' | sort -u) <(printf '%s\n' $(DEPS) | sort -u)); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		$(APT_GET) update && $(APT_GET) install --no-install-recommends $$missing; \
	fi

userspace: deps
	$(MAKE) -C bridged BUILD=$(BUILD)
	$(MAKE) -C tools BUILD=$(BUILD)
	$(MAKE) -C tests/selftests BUILD=$(BUILD)

module: deps
	@kdir='$(KDIR)'; [ -n "$$kdir" ] || { echo "module: no kernel build dir (KDIR)"; exit 1; }; \
	echo "$(MAKE) -C $$kdir M=$(TOP)/kmod VUB_TOP=$(TOP) modules"; \
	$(MAKE) -C "$$kdir" M=$(TOP)/kmod VUB_TOP=$(TOP) modules

module-check: deps
	$(VM)/build-module.sh --check $(KVER)

check-vm: deps userspace
	$(VM)/run.sh $(KVER)

# The fuzzers alone (tests/vm/guest.d/50-fuzz.sh), each for FUZZ_SECS: make fuzz KVER=6.12 FUZZ_SECS=600
FUZZ_SECS ?= 300
fuzz: deps userspace
	VUB_TESTS=50-fuzz.sh VUB_FUZZ_SECS=$(FUZZ_SECS) VUB_TEST_TIMEOUT=$$((3 * $(FUZZ_SECS) + 600)) \
		VUB_VM_TIMEOUT=$$((3 * $(FUZZ_SECS) + 1500)) $(VM)/run.sh $(KVER)

# tests/vm/build-debug-kernel.sh: check-vm KVER=debug (kasan) builds it too when the cache has none.
debug-kernel: deps
	$(VM)/build-debug-kernel.sh $(if $(filter kasan,$(KVER)),kasan,debug)

# tests/vm/bench.sh in a 6.12 VM; the table and the samples are copied to build/bench.md, build/bench.json,
# and the ratios plotted to build/bench.png (tests/vm/bench-plot.sh, gnuplot).  BENCH_* pass into the VM.
bench: deps userspace
	@rm -f $(BUILD)/bench.md $(BUILD)/bench.json; st=0; $(VM)/run.sh 6.12 --bench || st=$$?; \
	for f in bench.md bench.json; do \
		[ ! -e $(BUILD)/vm-6.12-bench/$$f ] || cp $(BUILD)/vm-6.12-bench/$$f $(BUILD)/$$f; done; \
	if [ -e $(BUILD)/bench.md ]; then echo; cat $(BUILD)/bench.md; echo; echo "JSON: $(BUILD)/bench.json"; fi; \
	if [ -e $(BUILD)/bench.json ]; then $(VM)/bench-plot.sh $(BUILD)/bench.json $(BUILD)/bench.png || st=1; fi; \
	exit $$st

# A nested Linux guest's TCP through vhost-net, vhost-user and the bridge, with 1 and 4 queue
# pairs (tests/vm/linux-guest.sh); check-vm KVER=6.12 runs it too (tests/vm/guest.d/60-linux-guest.sh,
# an estimated 8-10 minutes on an idle 2-core machine; 16 measured at a load average of 4-6).  This
# target runs only that test, as the whole guest script of a 6.12 VM; LG_QUEUES, LG_PATHS, LG_BYTES,
# LG_VIOMMU=1 and LG_ANON=1 (QEMU's default RAM, the bridge through mirrors) pass through (every LG_*:
# tests/vm/run.sh).
check-linux-guest: deps userspace
	VUB_GUEST=$(VM)/linux-guest.sh VUB_TEST_TIMEOUT=3000 VUB_VM_TIMEOUT=3600 $(VM)/run.sh 6.12

# QEMU 7.2 live-migrating the iPXE guest through vhost-net and the bridge
# (tests/vm/guest.d/31-migrate.sh, which check-vm runs too).
check-migrate: deps userspace
	VUB_TESTS=31-migrate.sh $(VM)/run.sh 6.12

# libvirt 9.0 (Debian 12's, unpatched) starting QEMU 7.2 with the admin guide's recipe (<interface
# type='ethernet'> with <backend vhost='/dev/vhost-user-bridge'/>, memfd shared RAM, <domain type='kvm'>:
# kvm_amd in the VM, nested KVM on TCG): libvirtd opens the node and hands QEMU (as libvirt-qemu) the fd;
# the iPXE guest's packets reach testpmd through the daemon, and with the domain suspended the guest's rings
# equal testpmd's counters.  tests/vm/libvirt.sh as the whole guest script of a 6.12 VM; check-vm
# runs it too, on both kernels (guest.d/33-libvirt.sh; Documentation/vm-runner.rst, "libvirt").
check-libvirt: deps userspace
	VUB_GUEST=$(VM)/libvirt.sh VUB_VM_TIMEOUT=3600 $(VM)/run.sh 6.12
# The Debian packages as an administrator installs them (tests/vm/run.sh 6.12 --deb): on the host
# make deb and lintian --pedantic (no error or warning), and a module tree for the VM with only the
# modules it loads (tests/vm/deb-root.sh); then one 6.12 VM booted with systemd as PID 1
# (tests/vm/deb-guest.sh): dpkg -i both, DKMS builds the module for the running kernel, the
# postinst starts the unit, which loads DKMS's module (GNU build ID) and serves a VMM's ioctl
# through dpdk-testpmd, modprobe loads it again after an rmmod, dpkg --purge both leaves nothing
# behind.  Results in build/vm-6.12-deb/.  check-vm KVER=6.12 runs it too, as its third boot
# (Documentation/vm-runner.rst, "The Debian packages in a VM").
check-deb: deps userspace
	$(VM)/run.sh 6.12 --deb

# tests/vm/demo-guest.sh in a 6.12 VM (its results replace build/vm-6.12/).
demo: deps userspace
	@echo "demo: boots Debian's 6.12 kernel under QEMU TCG (no KVM needed, about 2 minutes)"
	VUB_GUEST=$(VM)/demo-guest.sh $(VM)/run.sh 6.12

# Host-side tests: the selftests' check-unit target if it has one, plus whatever
# tests/unit/unit.mk (optional) appends to CHECK_UNIT_DEPS.
CHECK_UNIT_DEPS ?=
-include tests/unit/unit.mk
-include tests/unit/admin.mk
ifneq ($(strip $(CHECK_UNIT_DEPS)),)
$(CHECK_UNIT_DEPS): deps
endif
check-unit: deps $(CHECK_UNIT_DEPS)
	@if grep -qE '^check-unit[[:space:]]*:' tests/selftests/Makefile 2>/dev/null; then \
		$(MAKE) -C tests/selftests BUILD=$(BUILD) check-unit; \
	fi

# checkpatch.pl --strict over kmod/ and the uapi header.
lint: deps
	tests/lint/checkpatch.sh

# Runs every stage even after a failure, then prints a summary; exits non-zero if any failed.
check:
	@MAKE='$(MAKE)' $(VM)/check.sh

# Installation: installs what `make` built (it builds nothing, so it can run as root
# after a user's build).  The module goes through kbuild's modules_install for the
# kernel of KDIR (KMOD_BUILD: the directory the module was built in), then depmod.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
UNITDIR ?= $(PREFIX)/lib/systemd/system
MODULESLOADDIR ?= $(PREFIX)/lib/modules-load.d
SYSCONFDIR ?= /etc
KMOD_BUILD ?= $(TOP)/kmod
PKG := $(TOP)/tools/packaging
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' $(PKG)/dkms.conf)
MANPAGES := $(TOP)/Documentation/man/vubctl.8 $(TOP)/Documentation/man/vhost-user-bridged.8 \
	$(TOP)/Documentation/man/vhost_user_bridge.4
# The kernel release of KDIR, for depmod and uninstall: UTS_RELEASE, as in the module's
# vermagic (Debian 6.1's include/config/kernel.release says 6.1.N, not 6.1.0-N-amd64).
kdir_krel = kdir='$(KDIR)'; \
	krel=$$(sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' "$$kdir/include/generated/utsrelease.h" 2>/dev/null); \
	[ -n "$$krel" ] || { echo "$@: no kernel release in KDIR=$$kdir"; exit 1; }

install: install-module install-userspace

install-module:
	@$(kdir_krel); \
	[ -e $(KMOD_BUILD)/vhost_user_bridge.ko ] || { echo "install: no $(KMOD_BUILD)/vhost_user_bridge.ko: run make first"; exit 1; }; \
	set -x; env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS $(MAKE) -C "$$kdir" M=$(KMOD_BUILD) VUB_TOP=$(TOP) \
		INSTALL_MOD_PATH=$(DESTDIR) CONFIG_MODULE_SIG_ALL= modules_install && \
	depmod $(if $(DESTDIR),-b $(DESTDIR)) "$$krel"

install-userspace:
	@for f in $(BUILD)/vhost-user-bridged $(BUILD)/vubctl; do \
		[ -x $$f ] || { echo "install: no $$f: run make first"; exit 1; }; done
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man4 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/vhost-user-bridged $(BUILD)/vubctl $(DESTDIR)$(SBINDIR)/
	install -D -m 644 $(PKG)/60-vhost-user-bridge.rules $(DESTDIR)$(UDEVRULESDIR)/60-vhost-user-bridge.rules
	install -D -m 644 $(PKG)/vhost-user-bridge.conf $(DESTDIR)$(MODULESLOADDIR)/vhost-user-bridge.conf
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' $(PKG)/vhost-user-bridged.service.in \
		>$(DESTDIR)$(UNITDIR)/vhost-user-bridged.service
	chmod 644 $(DESTDIR)$(UNITDIR)/vhost-user-bridged.service
	@# The administrator's settings are kept.
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/vhost-user-bridged ] || \
		install -D -m 644 $(PKG)/vhost-user-bridged.default $(DESTDIR)$(SYSCONFDIR)/default/vhost-user-bridged
	install -m 644 $(filter %.8,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(filter %.4,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man4/

# For DKMS: dkms.conf, kmod/ and the uapi header; then `dkms install vhost-user-bridge/$(VERSION)`.
install-dkms:
	rm -rf $(DESTDIR)/usr/src/vhost-user-bridge-$(VERSION)
	install -d $(DESTDIR)/usr/src/vhost-user-bridge-$(VERSION)/kmod \
		$(DESTDIR)/usr/src/vhost-user-bridge-$(VERSION)/uapi/linux
	install -m 644 $(PKG)/dkms.conf $(DESTDIR)/usr/src/vhost-user-bridge-$(VERSION)/
	install -m 644 $(filter-out %.mod.c,$(wildcard kmod/*.[ch])) kmod/Kbuild $(wildcard kmod/Makefile) \
		$(DESTDIR)/usr/src/vhost-user-bridge-$(VERSION)/kmod/
	install -m 644 uapi/linux/vhost_user_bridge.h $(DESTDIR)/usr/src/vhost-user-bridge-$(VERSION)/uapi/linux/

# The Debian packages, built with debhelper from a copy of the tree (tools/packaging/build-deb.sh).
deb: deps
	tools/packaging/build-deb.sh $(BUILD)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vhost-user-bridged $(DESTDIR)$(SBINDIR)/vubctl \
		$(DESTDIR)$(UDEVRULESDIR)/60-vhost-user-bridge.rules \
		$(DESTDIR)$(MODULESLOADDIR)/vhost-user-bridge.conf \
		$(DESTDIR)$(UNITDIR)/vhost-user-bridged.service \
		$(DESTDIR)$(MANDIR)/man8/vubctl.8 $(DESTDIR)$(MANDIR)/man8/vhost-user-bridged.8 \
		$(DESTDIR)$(MANDIR)/man4/vhost_user_bridge.4
	@f=$(DESTDIR)$(SYSCONFDIR)/default/vhost-user-bridged; \
	if cmp -s $(PKG)/vhost-user-bridged.default $$f; then rm -f $$f; \
	elif [ -e $$f ]; then echo "uninstall: kept $$f (changed by the administrator)"; fi
	@$(kdir_krel); set -x; \
	rm -f $(DESTDIR)/lib/modules/$$krel/extra/vhost_user_bridge.ko* \
		$(DESTDIR)/lib/modules/$$krel/updates/vhost_user_bridge.ko* && \
	depmod $(if $(DESTDIR),-b $(DESTDIR)) "$$krel"

clean:
	rm -rf $(BUILD)
	cd kmod && rm -f *.o *.ko *.mod *.mod.c .*.cmd Module.symvers modules.order .module-common.o
	if [ -f bridged/Makefile ]; then $(MAKE) -C bridged BUILD=$(BUILD) clean; fi
	$(MAKE) -C tools BUILD=$(BUILD) clean
	if [ -f tests/selftests/Makefile ]; then $(MAKE) -C tests/selftests BUILD=$(BUILD) clean; fi
