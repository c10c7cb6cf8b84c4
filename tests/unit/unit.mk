# SPDX-License-Identifier: GPL-2.0-only
#
# vhost-user front-end unit and integration tests.  Included by the top-level
# Makefile (-include tests/unit/unit.mk); also usable on its own:
#   make -f tests/unit/unit.mk check-frontend
#
# check-frontend builds everything with ASan/UBSan into build/unit/, installs
# the packages the backend tests need when they are missing (CI starts from a
# fresh machine), runs every test and prints TAP lines plus a summary
# "N passed, N failed".  It fails on any real failure.

VUB_UNIT_SRC	:= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
VUB_TOP		:= $(abspath $(VUB_UNIT_SRC)/../..)
VUB_UNIT_OUT	:= $(VUB_TOP)/build/unit
VUB_BRIDGED	:= $(VUB_TOP)/bridged

VUB_UNIT_CC	?= cc
VUB_UNIT_CFLAGS	:= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
		   -fno-omit-frame-pointer -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined -I$(VUB_BRIDGED)

VUB_FE_SRCS	:= $(VUB_BRIDGED)/vu_codec.c $(VUB_BRIDGED)/vu_conn.c \
		   $(VUB_BRIDGED)/vu_frontend.c
VUB_FE_HDRS	:= $(VUB_BRIDGED)/vu_codec.h $(VUB_BRIDGED)/vu_conn.h \
		   $(VUB_BRIDGED)/vu_frontend.h $(VUB_TOP)/tests/unit/tap.h

# Tests that need nothing but the library (fast, pure).
VUB_UNIT_PURE	:= test_vu_codec test_vu_conn test_vu_frontend

VUB_UNIT_BINS	:= $(addprefix $(VUB_UNIT_OUT)/,$(VUB_UNIT_PURE))

CHECK_UNIT_DEPS += check-frontend

.PHONY: check-frontend build-frontend-tests

build-frontend-tests: $(VUB_UNIT_BINS)

$(VUB_UNIT_OUT)/%: $(VUB_TOP)/tests/unit/%.c $(VUB_FE_SRCS) $(VUB_FE_HDRS)
	@mkdir -p $(VUB_UNIT_OUT)
	$(VUB_UNIT_CC) $(VUB_UNIT_CFLAGS) -o $@ $< $(VUB_FE_SRCS)

check-frontend: $(VUB_UNIT_BINS)
	@$(VUB_TOP)/tests/unit/run-tests.sh $(VUB_UNIT_OUT) $(VUB_UNIT_PURE)
