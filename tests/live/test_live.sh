#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Live datapath tests (root): the real programs attached to this test's own
# cgroup subtree, real packets between two network namespaces joined by a
# veth pair. The policy protects only our "prot" cgroup. Everything this
# creates has a unique name and is removed on exit, also on failure.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
DFNET=$PWD/$O/tests/live/dfnet
DFLOAD=$PWD/$O/tests/live/dfload

if [ "$(id -u)" != 0 ]; then echo "SKIP live: needs root"; exit 0; fi

ID=$$
NSA=dfa$ID NSB=dfb$ID VA=dfva$ID VB=dfvb$ID
TMP=$(mktemp -d /tmp/df-live-XXXXXX)
PIN=$TMP/bpf
CGROOT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
CGREL=/df-live-$ID
CG=$CGROOT$CGREL

cleanup() {
	[ -d "$PIN" ] && "$DFLOAD" unload "$PIN/pins" >/dev/null 2>&1
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	for d in "$CG/prot" "$CG/free" "$CG"; do
		[ -d "$d" ] && { cat "$d/cgroup.procs" 2>/dev/null | while read -r p; do echo "$p" > "$CGROOT/cgroup.procs"; done; rmdir "$d"; }
	done
	mountpoint -q "$PIN" && umount "$PIN"
	rm -rf "$TMP"
}
trap cleanup EXIT

setup() {
	ip netns add "$NSA" && ip netns add "$NSB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NSA" && ip link set "$VB" netns "$NSB" &&
	ip -n "$NSA" addr add 192.0.2.1/24 dev "$VA" &&
	ip -n "$NSB" addr add 192.0.2.2/24 dev "$VB" &&
	ip -n "$NSA" addr add 2001:db8:d::1/64 dev "$VA" nodad &&
	ip -n "$NSB" addr add 2001:db8:d::2/64 dev "$VB" nodad &&
	ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up &&
	ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up &&
	mkdir -p "$CG/prot" "$CG/free" "$PIN" && mount -t bpf bpf "$PIN" &&
	policy 1 5001 > "$TMP/p1.conf" && policy 2 5002 > "$TMP/p2.conf"
}

# A policy protecting only our prot cgroup: ns B on PORT, tcp and udp.
policy() {
	cat <<EOP
policy = { name = "live"; serial = $1; };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32", "2001:db8:d::2/128" ];
                   protocols = [ "tcp", "udp" ]; ports = ( $2 ); allow = [ "t" ]; } );
EOP
}

# in_ns_cg CGROUP NS CMD...: runs CMD in cgroup CGROUP (under ours) and netns NS
in_ns_cg() {
	local cg=$1 ns=$2; shift 2
	bash -c 'echo $$ > "$0/cgroup.procs" && exec nsenter --net=/run/netns/"$1" "${@:2}"' "$CG/$cg" "$ns" "$@"
}

# flow CGROUP KIND ADDR PORT: what the sender said and what the receiver got
flow() {
	local cg=$1 kind=$2 addr=$3 port=$4 rkind=udp-recv skind=udp-send out got
	case $kind in tcp) rkind=tcp-accept skind=tcp-connect ;; raw) skind=raw-send ;; esac
	nsenter --net=/run/netns/"$NSB" "$DFNET" "$rkind" "$port" 1500 > "$TMP/recv" &
	local rpid=$!
	for _ in $(seq 50); do grep -q ready "$TMP/recv" 2>/dev/null && break; sleep 0.02; done
	out=$(in_ns_cg "$cg" "$NSA" "$DFNET" "$skind" "$addr" "$port")
	wait "$rpid"
	got=$(tail -n 1 "$TMP/recv")
	echo "$out $got"
}

load() { "$DFLOAD" load "$PIN/pins" "$CG" "$@"; }

counter_total() { # packets judged by cgroup_skb so far, summed over CPUs
	bpftool map dump pinned "$PIN/pins/df_counters" -j 2>/dev/null |
		jq '[.[].formatted | select(.key < 1950) | .values[].value.packets] | add // 0'
}

pins_enforce_after_the_loader_exits() {
	load "$TMP/p1.conf"
	expect_eq "approved udp" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "approved tcp" "connected 1" "$(flow prot tcp 192.0.2.2 5001)"
	expect_eq "udp elsewhere: EPERM at sendmsg" "EPERM 0" "$(flow prot udp 192.0.2.2 5002)"
	expect_eq "tcp elsewhere: EPERM at connect" "EPERM 0" "$(flow prot tcp 192.0.2.2 5002)"
	expect_eq "unclassified process passes" "sent 1" "$(flow free udp 192.0.2.2 5002)"
	expect_eq "v6 approved" "sent 1" "$(flow prot udp 2001:db8:d::2 5001)"
	expect_eq "v6 elsewhere" "EPERM 0" "$(flow prot tcp 2001:db8:d::2 5002)"
	expect_eq "v4-mapped on a dual-stack socket is judged as v4" "EPERM 0" \
		"$(flow prot udp ::ffff:192.0.2.2 5002)"
	expect_eq "v4-mapped approved" "sent 1" "$(flow prot udp ::ffff:192.0.2.2 5001)"
}

loopback_passes() {
	local out
	nsenter --net=/run/netns/"$NSA" "$DFNET" udp-recv 5003 1000 > "$TMP/lo" &
	local rpid=$!
	for _ in $(seq 50); do grep -q ready "$TMP/lo" 2>/dev/null && break; sleep 0.02; done
	out=$(in_ns_cg prot "$NSA" "$DFNET" udp-send 127.0.0.1 5003)
	wait "$rpid"
	expect_eq "loopback" "sent 1" "$out $(tail -n 1 "$TMP/lo")"
}

raw_socket_is_caught() {
	# a raw IP socket has no connect/sendmsg port check: cgroup_skb drops it
	local before after out
	before=$(counter_total)
	out=$(flow prot raw 192.0.2.2 5002)
	after=$(counter_total)
	expect_eq "raw socket to an unapproved port" "0" "${out##* }"
	[ "$after" -gt "$before" ] || { echo "cgroup_skb counters did not move ($before -> $after)"; return 1; }
}

af_packet_is_caught_at_tc() {
	local out
	nsenter --net=/run/netns/"$NSA" "$DFLOAD" load "$PIN/pins" "$CG" "$TMP/p1.conf" "$VA"
	nsenter --net=/run/netns/"$NSB" "$DFNET" udp-recv 5002 1000 > "$TMP/pk" &
	local rpid=$!
	for _ in $(seq 50); do grep -q ready "$TMP/pk" 2>/dev/null && break; sleep 0.02; done
	out=$(in_ns_cg prot "$NSA" "$DFNET" packet-send "$VA" 192.0.2.1 192.0.2.2 5002)
	wait "$rpid"
	expect_eq "AF_PACKET from the protected cgroup to an unapproved port" "sent 0" "$out $(tail -n 1 "$TMP/pk")"
	nsenter --net=/run/netns/"$NSB" "$DFNET" udp-recv 5001 1000 > "$TMP/pk" &
	rpid=$!
	for _ in $(seq 50); do grep -q ready "$TMP/pk" 2>/dev/null && break; sleep 0.02; done
	out=$(in_ns_cg prot "$NSA" "$DFNET" packet-send "$VA" 192.0.2.1 192.0.2.2 5001)
	wait "$rpid"
	expect_eq "AF_PACKET to the approved port" "sent 1" "$out $(tail -n 1 "$TMP/pk")"
}

a_new_process_adopts_and_swaps() {
	local before after
	before=$(counter_total)
	load "$TMP/p2.conf"
	after=$(counter_total)
	expect_eq "counters kept across adoption" "$before" "$after"
	expect_eq "old port now refused" "EPERM 0" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "new port allowed" "sent 1" "$(flow prot udp 192.0.2.2 5002)"
	expect_eq "still one link per hook" "1" "$(bpftool cgroup show "$CG" | grep -c cgroup_skb)"
}

unload_removes_enforcement() {
	"$DFLOAD" unload "$PIN/pins"
	expect_eq "after unload" "sent 1" "$(flow prot udp 192.0.2.2 5009)"
	expect_eq "no program left on our cgroup" "0" "$(bpftool cgroup show "$CG" | grep -c df_)"
}

if ! setup; then echo "FAIL live setup"; exit 1; fi
run_case pins_enforce_after_the_loader_exits pins_enforce_after_the_loader_exits
run_case loopback_passes loopback_passes
run_case raw_socket_is_caught raw_socket_is_caught
run_case af_packet_is_caught_at_tc af_packet_is_caught_at_tc
run_case a_new_process_adopts_and_swaps a_new_process_adopts_and_swaps
run_case unload_removes_enforcement unload_removes_enforcement
exit 0
