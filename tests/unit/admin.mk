# SPDX-License-Identifier: GPL-2.0-only
#
# Host tests of the administration and packaging pieces, part of check-unit
# (included by the top-level Makefile; CHECK_UNIT_DEPS += check-admin):
#   test_vub_notify   bridged/vub_notify.c, systemd's sd_notify protocol
#   test_vubctl.sh    vubctl without the module: usage errors, "module not loaded"
#   tests/packaging/check.sh   man pages, the systemd unit (needs `make all` first), the
#                     Debian packages: make deb, lintian, their contents, and installed
#                     in a throwaway root (DKMS against the cached Debian 6.1 and 6.12
#                     headers), purged, nothing left
# Summary line "N passed, N failed" from run-tests.sh.

VUB_ADMIN_TOP	:= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
VUB_ADMIN_OUT	:= $(VUB_ADMIN_TOP)/build/unit
VUB_ADMIN_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
		   -fno-omit-frame-pointer -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined -I$(VUB_ADMIN_TOP)/bridged

CHECK_UNIT_DEPS += check-admin

.PHONY: check-admin

$(VUB_ADMIN_OUT)/test_vub_notify: $(VUB_ADMIN_TOP)/tests/unit/test_vub_notify.c \
		$(VUB_ADMIN_TOP)/bridged/vub_notify.c $(VUB_ADMIN_TOP)/bridged/vub_notify.h \
		$(VUB_ADMIN_TOP)/tests/unit/tap.h
	@mkdir -p $(VUB_ADMIN_OUT)
	cc $(VUB_ADMIN_CFLAGS) -o $@ $< $(VUB_ADMIN_TOP)/bridged/vub_notify.c

check-admin: $(VUB_ADMIN_OUT)/test_vub_notify
	@$(VUB_ADMIN_TOP)/tests/unit/run-tests.sh $(VUB_ADMIN_OUT) test_vub_notify \
		$(VUB_ADMIN_TOP)/tests/unit/test_vubctl.sh \
		$(VUB_ADMIN_TOP)/tests/packaging/check.sh
