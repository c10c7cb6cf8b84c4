# vhost-user-bridge: top-level build and test entry points.
#   make                      userspace (build/) and the module for this host (kmod/)
#   make deps                 install the Debian packages the project needs
#   make check                everything below; one summary line per stage at the end
#   make check-unit           host-side tests
#   make module-check KVER=6.1|6.12   kbuild W=1 C=1 (sparse), fails on any warning
#   make check-vm KVER=6.1|6.12       boot that Debian kernel under TCG, run the tests
#   make bench                the benchmark in one 6.12 VM
#   make demo                 a 6.12 VM showing an unmodified VMM's traffic crossing the bridge
#   make lint                 checkpatch over kmod/ and uapi/
# The VM runner is described in Documentation/vm-runner.rst.
SHELL := /bin/bash
.DEFAULT_GOAL := all
TOP := $(CURDIR)
BUILD ?= $(TOP)/build
VM := $(TOP)/tests/vm
KVER ?= 6.1

DEPS := qemu-system-x86 busybox-static liburing-dev kmod cpio xz-utils zstd dwarves \
	gcc make libelf-dev sparse bc pkg-config libnl-3-dev libnl-genl-3-dev dpdk-dev
APT_GET := DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) \
	apt-get -q -y -o DPkg::Lock::Timeout=600

# kbuild dir for `make module`: the running kernel's, else Debian 6.1 from the cache.
KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; if [ -d $$d ]; then echo $$d; \
	else $(VM)/fetch-kernel.sh 6.1 | cut -d' ' -f2; fi)

.PHONY: all deps userspace module module-check check-vm check-unit check bench demo lint clean

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

bench: deps userspace
	$(VM)/run.sh 6.12 --bench

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

clean:
	rm -rf $(BUILD)
	cd kmod && rm -f *.o *.ko *.mod *.mod.c .*.cmd Module.symvers modules.order .module-common.o
	if [ -f bridged/Makefile ]; then $(MAKE) -C bridged BUILD=$(BUILD) clean; fi
	$(MAKE) -C tools BUILD=$(BUILD) clean
	if [ -f tests/selftests/Makefile ]; then $(MAKE) -C tests/selftests BUILD=$(BUILD) clean; fi
