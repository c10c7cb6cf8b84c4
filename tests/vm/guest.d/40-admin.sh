#!/bin/bash
# Administration and packaging, in the test VM (issue 5).  guest.sh has loaded the module.
#  1. make install into a staging root; the module is reloaded from it with modprobe -d
#     (same GNU build ID), its parameters are in modinfo and sysfs; make uninstall at the end.
#  2. The installed udev rule, applied by udev's own rules engine (udevadm test: there is
#     no udevd in the VM): VMM nodes root:kvm 0660, the control node root:root 0600.
#  3. vubctl: instances added, listed, shown, deleted; nodes appear and go; -j output
#     parsed and checked with jq; the kernel's refusals and the exit codes.
#  4. Devices: a holder process (with a comm full of JSON's special bytes) and a VMM ioctl
#     served by the daemon through the instance; del refused while open, then forced.
#  5. Permissions: uid 65534 cannot add or remove instances nor attach a daemon, root
#     without CAP_NET_ADMIN neither; nor can they list devices, see instances' sockets or
#     join the events; a user in group kvm opens the VMM nodes, no one else.
#  6. Events: vubctl -j monitor (and the human one) saw all of it, in order.
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${VUB_BUILD:-$top/build}
V=$build/vubctl
krel=${VUB_KREL:-$(uname -r)}
tmp=$(mktemp -d)
pids=()
fails=0

skip() { echo "$*"; exit 4; }
ok() { echo "ok: [$SECONDS] $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {	# DESCRIPTION COMMAND...: ok if the command succeeds
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
jqc() {	# JSON FILTER [jq args]: the filter is true
	local j=$1 f=$2
	shift 2
	jq -e "$@" "$f" <<<"$j" >/dev/null 2>&1
}
expect_fail() {	# DESCRIPTION STATUS MESSAGE COMMAND...: exits STATUS, stderr has MESSAGE
	local d=$1 st=$2 msg=$3 rc=0
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" = "$st" ] && grep -qF -- "$msg" "$tmp/err"; then
		ok "$d: exit $rc, \"$(head -1 "$tmp/err")\""
	else
		bad "$d: exit $rc (want $st), stderr: $(cat "$tmp/err"), want \"$msg\""
	fi
}
wait_for() {	# TENTHS COMMAND...: poll until the command succeeds
	local n=$1
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
mode() { stat -c '%U:%G %a' "$1" 2>/dev/null; }
loaded() { [ -d /sys/module/vhost_user_bridge ]; }
# same_build_id KO: the loaded module is KO (GNU build ID)
# shellcheck source=SCRIPTDIR/../build-id.sh
. "$top/tests/vm/build-id.sh"
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	if loaded; then
		for p in t40 t40q t40-31 "${n31:-}"; do "$V" instance del "$p" --force >/dev/null 2>&1; done
	elif [ -n "${VUB_KMOD:-}" ]; then
		insmod "$VUB_KMOD" req_timeout_ms="${VUB_REQ_TIMEOUT_MS:-30000}"	# loaded, as guest.sh leaves it
	fi
	rm -f /run/udev/rules.d/60-vhost-user-bridge.rules
	rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "needs root"
[ -c /dev/vhost-user-bridge-control ] || skip "module not loaded"
for b in vubctl vhost-user-bridged vub_ioctl; do
	[ -x "$build/$b" ] || skip "missing $build/$b (make all)"
done
command -v jq >/dev/null || skip "no jq (make deps)"
"$V" instance list >/dev/null 2>&1 || skip "no generic netlink family: $("$V" instance list 2>&1)"

# --- 1. make install, and the module from the installed tree --------------------------
root=$tmp/root
kdir=${VUB_MODROOT:-}/usr/src/linux-headers-$krel
if make -C "$top" install DESTDIR="$root" PREFIX=/usr KDIR="$kdir" \
	KMOD_BUILD="$build/kmod-$krel" >"$tmp/install.log" 2>&1; then
	ok "make install DESTDIR=$root PREFIX=/usr"
else
	sed 's/^/install: /' "$tmp/install.log"
	bad "make install"
fi
for f in usr/sbin/vhost-user-bridged usr/sbin/vubctl usr/lib/udev/rules.d/60-vhost-user-bridge.rules \
	usr/lib/modules-load.d/vhost-user-bridge.conf usr/lib/systemd/system/vhost-user-bridged.service \
	etc/default/vhost-user-bridged usr/share/man/man8/vubctl.8 usr/share/man/man8/vhost-user-bridged.8 \
	usr/share/man/man4/vhost_user_bridge.4; do
	[ -f "$root/$f" ] || bad "installed: /$f missing"
done
unit=$root/usr/lib/systemd/system/vhost-user-bridged.service
check "unit: Type=notify, ExecStart=/usr/sbin/vhost-user-bridged --backend \${VUB_BACKEND}, EnvironmentFile" \
	grep -qx 'Type=notify' "$unit" && grep -q '^ExecStart=/usr/sbin/vhost-user-bridged --backend ${VUB_BACKEND}' "$unit" &&
	grep -qx 'EnvironmentFile=-/etc/default/vhost-user-bridged' "$unit"
check "modules-load.d names vhost_user_bridge" grep -qx vhost_user_bridge "$root/usr/lib/modules-load.d/vhost-user-bridge.conf"

ko=$(modprobe -d "$root" --show-depends vhost_user_bridge 2>/dev/null | awk '$1 == "insmod" { print $2 }')
case $ko in
"$root"/lib/modules/"$krel"/*/vhost_user_bridge.ko*) ok "depmod'ed: modprobe -d finds ${ko#"$root"}" ;;
*) bad "modprobe -d $root does not resolve vhost_user_bridge ($ko)" ;;
esac
for _ in $(seq 20); do
	rmmod vhost_user_bridge 2>/dev/null && break
	sleep 0.5
done
if loaded; then
	bad "rmmod vhost_user_bridge before reloading it from the installed tree: still in use"
else
	modprobe -d "$root" vhost_user_bridge 2>&1
	check "modprobe -d $root vhost_user_bridge: loaded, nodes back" \
		wait_for 50 test -c /dev/vhost-user-bridge -a -c /dev/vhost-user-bridge-control
	check "the loaded module is the installed one (GNU build ID)" same_build_id "$ko"
fi
loaded || { echo "FAIL: module not loaded, cannot go on"; exit 1; }
parm=$(modinfo -F parm "$ko")
check "modinfo: req_timeout_ms and max_mem_regions with descriptions" \
	grep -q '^req_timeout_ms:How long' <<<"$parm" && grep -q '^max_mem_regions:Maximum' <<<"$parm"
p=/sys/module/vhost_user_bridge/parameters
check "sysfs: req_timeout_ms=30000 max_mem_regions=64" \
	test "$(cat $p/req_timeout_ms):$(cat $p/max_mem_regions)" = 30000:64

# Events from here on.  The monitors are in sync once they print the open of a node.
"$V" -j monitor >"$tmp/mon.json" 2>"$tmp/mon.err" &
mon=$!
"$V" monitor >"$tmp/mon.txt" 2>&1 &
monh=$!
pids+=("$mon" "$monh")
synced() { : <>/dev/vhost-user-bridge; [ -s "$tmp/mon.json" ] && [ -s "$tmp/mon.txt" ]; }
check "vubctl monitor (-j and human) running and subscribed" wait_for 100 synced

# --- 2. the udev rule ------------------------------------------------------------------
mkdir -p /run/udev/rules.d
cp "$root/usr/lib/udev/rules.d/60-vhost-user-bridge.rules" /run/udev/rules.d/
udev_apply() { udevadm test --action=add "/sys/class/misc/$1" >"$tmp/udev-$1.log" 2>&1; }
udev_apply vhost-user-bridge && udev_apply vhost-user-bridge-control
check "udev rule: /dev/vhost-user-bridge root:kvm 0660 ($(mode /dev/vhost-user-bridge))" \
	test "$(mode /dev/vhost-user-bridge)" = "root:kvm 660"
check "udev rule: /dev/vhost-user-bridge-control root:root 0600 ($(mode /dev/vhost-user-bridge-control))" \
	test "$(mode /dev/vhost-user-bridge-control)" = "root:root 600"

# --- 3. instances ----------------------------------------------------------------------
check "instance add t40 --socket /run/vub-t40.sock" "$V" instance add t40 --socket /run/vub-t40.sock
check "/dev/vhost-user-bridge-t40 appeared" test -c /dev/vhost-user-bridge-t40
udev_apply vhost-user-bridge-t40
check "udev rule: /dev/vhost-user-bridge-t40 root:kvm 0660" test "$(mode /dev/vhost-user-bridge-t40)" = "root:kvm 660"
j=$("$V" -j instance list)
echo "instance list -j: $j"
check "instance list -j: the default node first (id 0, no name), t40 with its socket, type net, 0 devices" \
	jqc "$j" '.[0].id == 0 and .[0].name == "" and (map(select(.name == "t40")) | length == 1 and
		.[0].socket == "/run/vub-t40.sock" and .[0].type == "net" and .[0].devices == 0 and .[0].id > 0)'
tid=$(jq '.[] | select(.name == "t40") | .id' <<<"$j")
line=$("$V" instance show t40)
check "instance show t40: \"$line\"" \
	test "$line" = "instance t40 id $tid type net socket /run/vub-t40.sock devices 0"
check "instance show -j t40" jqc "$("$V" -j instance show t40)" ".id == $tid and .name == \"t40\""
expect_fail "instance add t40 again" 1 "an instance with that name exists" \
	"$V" instance add t40 --socket /run/other.sock
n31=t40-$(printf 'x%.0s' $(seq 27))
s107=/run/$(printf 's%.0s' $(seq 102))
check "107-byte socket accepted" \
	"$V" instance add t40-31 --socket "$s107"
check "31-character name accepted" "$V" instance add "$n31" --socket /run/x.sock
nodes=$(ls /dev/vhost-user-bridge* | wc -l)
expect_fail "name with '/'" 1 "Invalid argument" "$V" instance add bad/name --socket /run/x.sock
expect_fail "name \"control\"" 1 "Invalid argument" "$V" instance add control --socket /run/x.sock
expect_fail "32-character name" 1 "Invalid argument" "$V" instance add "${n31}y" --socket /run/x.sock
expect_fail "relative socket" 1 "Invalid argument" "$V" instance add t40-rel --socket run/x.sock
expect_fail "108-byte socket" 1 "Invalid argument" "$V" instance add t40-long --socket "${s107}s"
check "no node for the refused ones" test "$(ls /dev/vhost-user-bridge* | wc -l)" = "$nodes"
check "instance del of the 31-character one: node gone" \
	eval '"$V" instance del "$n31" && "$V" instance del t40-31 && [ ! -e "/dev/vhost-user-bridge-$n31" ]'
expect_fail "instance del of an unknown name" 1 "no such instance" "$V" instance del t40-none

# --- 4. devices ------------------------------------------------------------------------
# The holder names itself 'v"b\' 0x01 0xff: JSON must escape the first three and replace
# the byte that is not UTF-8.
mkfifo "$tmp/release"
(
	printf 'v"b\\\001\377' >/proc/self/comm
	exec 3<>/dev/vhost-user-bridge-t40 || exit 1
	read -r _ <"$tmp/release"
) &
holder=$!
pids+=("$holder")
has_dev() { "$V" -j device list | jq -e --argjson p "$holder" 'any(.[]; .pid == $p)' >/dev/null; }
check "the holder's device is listed" wait_for 100 has_dev
j=$("$V" -j device list | jq -c --argjson p "$holder" '.[] | select(.pid == $p)')
echo "device list -j, the holder's: $j"
check "device -j: comm escaped (\\\" \\\\ \\u0001) and U+FFFD, pid, instance t40, state open, nothing negotiated" \
	jqc "$j" '.comm == "v\"b\\\u0001\ufffd" and .instance == "t40" and .instance_id == $t and
		.state == "open" and .backend == "unknown" and .features == 0 and .rings == 0 and
		.backend_features == 0 and .offloads_missing == 0 and
		.mem_regions == 0 and .ioctls == 0 and .errors == 0 and .latency.count == 0 and
		(.latency.buckets | length) == 24' --argjson t "$tid"
did=$(jq .id <<<"$j")
check "device show -j $did is the same object" jqc "$("$V" -j device show "$did")" '. == $d' --argjson d "$j"
line=$("$V" device show "$did" | tr -d '\377')
check "device show $did: \"$line\"" \
	eval '[[ $line == "device $did pid $holder comm v\"b\\? instance t40 instance-id $tid state open backend unknown features 0x0 backend-features 0x0 offloads-missing 0x0 reconnects 0 mem-regions 0 rings 0x0 ioctls 0 errors 0 latency count 0" ]]'
check "device show -d: the 24 buckets" test "$("$V" -d device show "$did" | grep -o '[0-9]us:[0-9]*' | wc -l)" = 24
expect_fail "device show of a closed id" 1 "no such device" "$V" device show 4000000000
check "instance show -j t40: 1 device" jqc "$("$V" -j instance show t40)" '.devices == 1'
expect_fail "instance del t40 while open" 1 "instance del t40: 1 device open; use --force" \
	"$V" instance del t40
check "the node is still there" test -c /dev/vhost-user-bridge-t40

# A VMM's ioctl through the instance, served by the daemon: the daemon learns the
# instance (VUB_OP_OPEN), the round trips are counted.  Its back-end socket does not
# exist, so the ioctl's own result does not matter here.
"$build/vhost-user-bridged" --backend /run/vub-none.sock --tags 2 >"$tmp/daemon.log" 2>&1 &
dpid=$!
pids+=("$dpid")
if wait_for 100 grep -q 'attached: API version' "$tmp/daemon.log"; then
	ok "vhost-user-bridged attached"
else
	bad "vhost-user-bridged did not attach"
fi
check "bridge -j: attached, the daemon's pid, 2 tags" \
	jqc "$("$V" -j bridge)" '.attached == true and .pid == $p and .tags == 2 and .inflight == 0' --argjson p "$dpid"
echo "vub_ioctl on the instance: $("$build/vub_ioctl" --dev /dev/vhost-user-bridge-t40 get-features 2>&1)"
check "the daemon heard of instance t40" grep -q 't40' "$tmp/daemon.log"
check "bridge -j: requests counted" jqc "$("$V" -j bridge)" '.requests >= 1'
kill -TERM "$dpid"
wait "$dpid"
check "daemon exits 0 on SIGTERM" test $? = 0
check "bridge: detached" test "$("$V" bridge | cut -d' ' -f1-2)" = "bridge detached"
sed 's/^/daemon: /' "$tmp/daemon.log"

check "instance del t40 --force while open" "$V" instance del t40 --force
check "node gone" test ! -e /dev/vhost-user-bridge-t40
check "the open device stays listed" has_dev
echo >"$tmp/release"
wait "$holder"
check "closed: no longer listed" eval '! has_dev'

# --- 5. permissions --------------------------------------------------------------------
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
noadmin=(setpriv --bounding-set=-net_admin)	# root, but exec gives it no CAP_NET_ADMIN
kvm=$(getent group kvm | cut -d: -f3)
"$V" instance add t40q --socket /run/vub-t40q.sock && udev_apply vhost-user-bridge-t40q
expect_fail "uid 65534: instance add" 1 "need CAP_NET_ADMIN" "${nobody[@]}" "$V" instance add t40p --socket /x
expect_fail "uid 65534: instance del" 1 "need CAP_NET_ADMIN" "${nobody[@]}" "$V" instance del t40q
expect_fail "root without CAP_NET_ADMIN: instance add" 1 "need CAP_NET_ADMIN" \
	"${noadmin[@]}" "$V" instance add t40p --socket /x
check "refused: no t40p, t40q still there" test ! -e /dev/vhost-user-bridge-t40p -a -c /dev/vhost-user-bridge-t40q
check "uid 65534 may read: instance list -j, without the back-end sockets" \
	jqc "$("${nobody[@]}" "$V" -j instance list)" 'any(.[]; .name == "t40q" and .devices == 0) and all(.[]; has("socket") | not)'
check "root sees the sockets: instance show -j t40q" \
	jqc "$("$V" -j instance show t40q)" '.socket == "/run/vub-t40q.sock"'
check "uid 65534: instance show t40q leaves the socket out" \
	eval '[ "$("${nobody[@]}" "$V" instance show t40q)" = "instance t40q id $(jq .id <<<"$("$V" -j instance show t40q)") type net devices 0" ]'
# Other users' VMMs (pid, comm, features) and the events naming them are the administrator's.
exec 3<>/dev/vhost-user-bridge
expect_fail "uid 65534: device list" 1 "need CAP_NET_ADMIN" "${nobody[@]}" "$V" device list
expect_fail "root without CAP_NET_ADMIN: device show" 1 "need CAP_NET_ADMIN" "${noadmin[@]}" "$V" device show 1
expect_fail "uid 65534: monitor" 1 "need CAP_NET_ADMIN" "${nobody[@]}" "$V" monitor
exec 3>&-
check "uid 65534 may read: bridge" "${nobody[@]}" "$V" bridge
attach_refused() {	# DESCRIPTION WHY COMMAND...: the daemon exits 1 without attaching
	local d=$1 why=$2 rc=0
	shift 2
	timeout 20 "$@" "$build/vhost-user-bridged" --backend /run/vub-none.sock >"$tmp/d2.log" 2>&1 || rc=$?
	if [ "$rc" = 1 ] && grep -q "cannot attach.*$why" "$tmp/d2.log" &&
		jqc "$("$V" -j bridge)" '.attached == false'; then
		ok "$d: $(grep 'cannot attach' "$tmp/d2.log")"
	else
		bad "$d: exit $rc, $(cat "$tmp/d2.log")"
	fi
}
attach_refused "uid 65534 cannot attach a daemon" "Permission denied" "${nobody[@]}"
attach_refused "uid 65534 in group kvm cannot attach a daemon" "Permission denied" \
	setpriv --reuid=65534 --regid=65534 --groups="${kvm:-108}"
attach_refused "root without CAP_NET_ADMIN cannot attach a daemon" "CAP_NET_ADMIN" "${noadmin[@]}"
try_open() {	# NODE SETPRIV-ARGS...: can that user open NODE read-write?
	local node=$1
	shift
	setpriv "$@" bash -c 'exec 3<>"$0"' "$node" 2>/dev/null
}
if [ -z "$kvm" ]; then
	bad "no group kvm in /etc/group"
else
	for node in /dev/vhost-user-bridge /dev/vhost-user-bridge-t40q; do
		check "uid 65534 in group kvm opens $node" \
			try_open "$node" --reuid=65534 --regid=65534 --groups="$kvm"
		check "uid 65534 without it cannot open $node" \
			eval '! try_open "$node" --reuid=65534 --regid=65534 --clear-groups'
	done
	check "uid 65534 in group kvm cannot open the control node" \
		eval '! try_open /dev/vhost-user-bridge-control --reuid=65534 --regid=65534 --groups="$kvm"'
fi
"$V" instance del t40q

# --- 6. events -------------------------------------------------------------------------
kill -TERM "$mon" "$monh"
wait "$mon"
check "vubctl -j monitor exits 0 on SIGTERM" test $? = 0
wait "$monh"
check "vubctl monitor exits 0 on SIGTERM" test $? = 0
[ ! -s "$tmp/mon.err" ] || sed 's/^/monitor: /' "$tmp/mon.err"
if ev=$(jq -sc . "$tmp/mon.json" 2>"$tmp/jq.err"); then
	ok "monitor -j: $(jq length <<<"$ev") events, every line valid JSON"
else
	bad "monitor -j output is not JSON lines: $(cat "$tmp/jq.err")"
	ev='[]'
fi
# The index of the first event of each kind, -1 when there is none.
# (A here-string: the VM has no /dev/fd for process substitution.)
read -r added opened attached ioctl detached removed closed <<<"$(jq -r \
	--argjson h "$holder" --argjson d "$dpid" --argjson t "$tid" '
	def first(f): [to_entries[] | select(.value | f) | .key] | first // -1;
	[first(.event == "instance-added" and .name == "t40" and .socket == "/run/vub-t40.sock" and .id == $t),
	 first(.event == "device-opened" and .pid == $h and .instance == "t40"),
	 first(.event == "bridge-attached" and .pid == $d and .tags == 2),
	 first(.event == "device-closed" and .comm == "vub_ioctl" and .instance == "t40" and .ioctls == 1 and
		.latency.count >= 1),
	 first(.event == "bridge-detached" and .pid == $d),
	 first(.event == "instance-removed" and .name == "t40" and .devices == 1),
	 first(.event == "device-closed" and .pid == $h and .instance == "t40")] | @tsv' <<<"$ev")"
echo "event indexes: added $added opened $opened attached $attached ioctl $ioctl detached $detached removed $removed closed $closed"
check "events: instance-added, device-opened, bridge-attached, the VMM's device-closed (1 ioctl, timed), bridge-detached, instance-removed (1 device open), device-closed, in that order" \
	eval '[ "$added" -ge 0 ] && [ "$added" -lt "$opened" ] && [ "$opened" -lt "$attached" ] &&
		[ "$attached" -lt "$ioctl" ] && [ "$ioctl" -lt "$detached" ] && [ "$detached" -lt "$removed" ] &&
		[ "$removed" -lt "$closed" ]'
check "monitor (human): instance-added line" \
	grep -qx "instance-added: instance t40 id $tid type net socket /run/vub-t40.sock devices 0" "$tmp/mon.txt"
check "monitor (human): bridge-attached line" \
	grep -q "^bridge-attached: bridge attached pid $dpid comm vhost-user-brid tags 2 " "$tmp/mon.txt"

# --- 7. make uninstall -----------------------------------------------------------------
make -C "$top" uninstall DESTDIR="$root" PREFIX=/usr KDIR="$kdir" >"$tmp/uninstall.log" 2>&1 ||
	{ sed 's/^/uninstall: /' "$tmp/uninstall.log"; bad "make uninstall"; }
left=$(cd "$root" && find . -type f ! -path "./lib/modules/$krel/modules.*")
check "make uninstall: nothing left but depmod's indexes${left:+ (left: $left)}" test -z "$left"

if [ "$fails" = 0 ]; then echo "PASS"; exit 0; fi
echo "FAIL: $fails checks failed"
exit 1
