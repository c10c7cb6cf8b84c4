# SPDX-License-Identifier: GPL-2.0-only
#
# vhost-user front-end unit and integration tests.  Included by the top-level
# Makefile (-include tests/unit/unit.mk); also usable on its own:
#   make -f tests/unit/unit.mk check-frontend
#
# check-frontend builds everything with ASan/UBSan into build/unit/, installs
# the packages the back-end tests need when they are missing (CI starts from
# a fresh machine), runs every test and prints TAP lines plus a summary
# "N passed, N failed".  It fails on any real failure.

VUB_UNIT_SRC	:= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
VUB_TOP		:= $(abspath $(VUB_UNIT_SRC)/../..)
VUB_UNIT_DIR	:= $(VUB_TOP)/tests/unit
VUB_UNIT_OUT	:= $(VUB_TOP)/build/unit
VUB_BRIDGED	:= $(VUB_TOP)/bridged

VUB_UNIT_CC	?= cc
VUB_UNIT_CFLAGS	:= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
		   -fno-omit-frame-pointer -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined -I$(VUB_BRIDGED) -I$(VUB_TOP)/uapi

VU_FRONTEND_SRCS	:= $(VUB_BRIDGED)/vu_codec.c $(VUB_BRIDGED)/vu_conn.c $(VUB_BRIDGED)/vub_co.c \
		   $(VUB_BRIDGED)/vu_frontend.c
VU_FRONTEND_HDRS	:= $(VUB_BRIDGED)/vu_codec.h $(VUB_BRIDGED)/vu_conn.h $(VUB_BRIDGED)/vub_co.h \
		   $(VUB_BRIDGED)/vu_frontend.h $(VUB_UNIT_DIR)/tap.h

# The daemon's vhost-net translation, and the tests' stand-in for the kernel
# that feeds it requests.
VUB_DEV_SRCS	:= $(VUB_BRIDGED)/vub_dev.c $(VUB_BRIDGED)/vub_nic.c $(VUB_BRIDGED)/vub_tap.c $(VUB_BRIDGED)/vub_rarp.c \
		   $(VUB_BRIDGED)/vub_vhost.c $(VUB_BRIDGED)/vub_state.c $(VUB_UNIT_DIR)/vmm.c
VUB_DEV_HDRS	:= $(VUB_BRIDGED)/vub_dev.h $(VUB_BRIDGED)/vub_nic.h $(VUB_BRIDGED)/vub_tap.h $(VUB_BRIDGED)/vub_rarp.h \
		   $(VUB_BRIDGED)/vub_vhost.h $(VUB_BRIDGED)/vub_state.h \
		   $(VUB_UNIT_DIR)/vmm.h $(VUB_TOP)/uapi/linux/vhost_user_bridge.h

# Helpers of the tests that run a real back-end.
VUB_UNIT_HELPERS := $(VUB_UNIT_DIR)/guest.c $(VUB_UNIT_DIR)/testpmd.c $(VUB_DEV_SRCS)
VUB_UNIT_HELPER_HDRS := $(VUB_UNIT_DIR)/guest.h $(VUB_UNIT_DIR)/testpmd.h $(VUB_DEV_HDRS)

# Pure tests: nothing but the library.
VUB_UNIT_PURE	:= test_vu_codec test_vu_conn test_vu_frontend test_vub_co
# Pure too, with the daemon's translation (mock back-end).
VUB_UNIT_DEV	:= test_vub_dev test_vub_nic test_vub_state test_vub_rarp
# Against real, unmodified back-ends (need packages).
VUB_UNIT_BACKEND := test_testpmd test_qsd

# Debian packages the back-end tests need: dpdk-testpmd,
# qemu-storage-daemon, clang with libFuzzer.
VUB_UNIT_PKGS	:= dpdk-dev qemu-system-common clang libclang-rt-dev

# libFuzzer target for the codec and the front-end's reply handling.
VUB_FUZZ_CC	?= clang
VUB_FUZZ_CFLAGS	:= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
		   -fsanitize=fuzzer,address,undefined \
		   -fno-sanitize-recover=undefined -I$(VUB_BRIDGED)
VUB_FUZZ_BIN	:= $(VUB_UNIT_OUT)/fuzz_vu_codec
FUZZ_CHECK_SECONDS ?= 20
FUZZ_SECONDS	?= 600

VUB_UNIT_ALL	:= $(VUB_UNIT_PURE) $(VUB_UNIT_DEV) $(VUB_UNIT_BACKEND)

CHECK_UNIT_DEPS += check-frontend

.PHONY: check-frontend build-frontend-tests build-frontend-fuzz frontend-test-deps \
	fuzz-frontend fuzz

build-frontend-tests: $(addprefix $(VUB_UNIT_OUT)/,$(VUB_UNIT_ALL))

# Built only where clang has libFuzzer; fuzz-check.sh skips otherwise.
build-frontend-fuzz:
	@mkdir -p $(VUB_UNIT_OUT)
	@if command -v $(VUB_FUZZ_CC) >/dev/null 2>&1; then \
		echo "$(VUB_FUZZ_CC) ... -o $(VUB_FUZZ_BIN)"; \
		$(VUB_FUZZ_CC) $(VUB_FUZZ_CFLAGS) -o $(VUB_FUZZ_BIN) \
			$(VUB_UNIT_DIR)/fuzz_vu_codec.c $(VU_FRONTEND_SRCS); \
	else \
		echo "# $(VUB_FUZZ_CC) not found: fuzz_vu_codec not built"; \
	fi

# The long run (make fuzz / make fuzz-frontend, FUZZ_SECONDS=600): the corpus
# in build/unit/fuzz-corpus grows across runs; crashes land in
# build/unit/fuzz-artifacts/ and, once fixed, go to tests/unit/fuzz/regressions/.
fuzz-frontend: frontend-test-deps build-frontend-fuzz
	@mkdir -p $(VUB_UNIT_OUT)/fuzz-corpus $(VUB_UNIT_OUT)/fuzz-artifacts
	$(VUB_FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(VUB_UNIT_OUT)/fuzz-artifacts/ \
		$(VUB_UNIT_OUT)/fuzz-corpus $(VUB_UNIT_DIR)/fuzz/seeds \
		$(VUB_UNIT_DIR)/fuzz/regressions
fuzz: fuzz-frontend

$(addprefix $(VUB_UNIT_OUT)/,$(VUB_UNIT_PURE)): $(VUB_UNIT_OUT)/%: \
		$(VUB_UNIT_DIR)/%.c $(VU_FRONTEND_SRCS) $(VU_FRONTEND_HDRS)
	@mkdir -p $(VUB_UNIT_OUT)
	$(VUB_UNIT_CC) $(VUB_UNIT_CFLAGS) -o $@ $< $(VU_FRONTEND_SRCS)

$(addprefix $(VUB_UNIT_OUT)/,$(VUB_UNIT_DEV)): $(VUB_UNIT_OUT)/%: \
		$(VUB_UNIT_DIR)/%.c $(VU_FRONTEND_SRCS) $(VU_FRONTEND_HDRS) $(VUB_DEV_SRCS) $(VUB_DEV_HDRS)
	@mkdir -p $(VUB_UNIT_OUT)
	$(VUB_UNIT_CC) $(VUB_UNIT_CFLAGS) -o $@ $< $(VUB_DEV_SRCS) $(VU_FRONTEND_SRCS)

$(addprefix $(VUB_UNIT_OUT)/,$(VUB_UNIT_BACKEND)): $(VUB_UNIT_OUT)/%: \
		$(VUB_UNIT_DIR)/%.c $(VU_FRONTEND_SRCS) $(VU_FRONTEND_HDRS) \
		$(VUB_UNIT_HELPERS) $(VUB_UNIT_HELPER_HDRS)
	@mkdir -p $(VUB_UNIT_OUT)
	$(VUB_UNIT_CC) $(VUB_UNIT_CFLAGS) -o $@ $< $(VUB_UNIT_HELPERS) $(VU_FRONTEND_SRCS)

# Install what is missing (Debian/Ubuntu).  A failed install is an error:
# CI must not silently skip the proof against the real back-ends.
frontend-test-deps:
	@if command -v dpkg-query >/dev/null 2>&1; then \
		missing=; \
		for p in $(VUB_UNIT_PKGS); do \
			dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
				grep -q 'install ok installed' || missing="$$missing $$p"; \
		done; \
		if [ -n "$$missing" ]; then \
			sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
			echo "# installing$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			$$sudo apt-get install -y --no-install-recommends \
				-o DPkg::Lock::Timeout=600 $$missing >/dev/null || \
			{ $$sudo apt-get update >/dev/null && \
			  $$sudo apt-get install -y --no-install-recommends \
				-o DPkg::Lock::Timeout=600 $$missing >/dev/null; } || \
			{ echo "not ok - could not install$$missing"; exit 1; }; \
		fi; \
	else \
		echo "# no dpkg: back-end tests skip themselves if their binaries are missing"; \
	fi

check-frontend: frontend-test-deps build-frontend-tests build-frontend-fuzz
	@$(VUB_UNIT_DIR)/run-tests.sh $(VUB_UNIT_OUT) $(VUB_UNIT_ALL) \
		"$(VUB_UNIT_DIR)/fuzz-check.sh $(VUB_UNIT_OUT) $(VUB_UNIT_DIR) $(FUZZ_CHECK_SECONDS)"
