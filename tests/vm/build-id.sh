# shellcheck shell=bash
# same_build_id KO: the loaded vhost_user_bridge's GNU build ID note is KO's (.ko, or .ko.xz
# decompressed first), and not empty (the module has no MODULE_VERSION: its srcversion is
# empty on both sides, so the build ID is what tells two builds apart).  Sourced by
# tests/vm/guest.d/40-admin.sh and tests/vm/deb-guest.sh.
same_build_id() {
	local t r
	t=$(mktemp -d) || return
	case $1 in *.xz) xz -dc "$1" ;; *) cat "$1" ;; esac >"$t/ko" &&
		objcopy -O binary --only-section=.note.gnu.build-id "$t/ko" "$t/id" && [ -s "$t/id" ] &&
		cmp -s /sys/module/vhost_user_bridge/notes/.note.gnu.build-id "$t/id"
	r=$?
	rm -rf "$t"
	return $r
}
