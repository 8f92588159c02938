#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Live datapath tests (root): the real programs attached to this test's own
# cgroup subtree, real packets between two network namespaces joined by a
# veth pair. The policy protects only our "prot" cgroup. Everything this
# creates has a unique name and is removed on exit, also on failure.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
DFNET=$PWD/$O/tests/live/dfnet
DFLOAD=$PWD/$O/tests/live/dfload

if [ "$(id -u)" != 0 ]; then echo "SKIP live: needs root"; exit 0; fi

TMP=$(mktemp -d /tmp/df-live-XXXXXX)
PIN=$TMP/bpf
. tests/lib/net.sh

cleanup() {
	# in namespace A, where tc and its helper are: unload works on the
	# network namespace it runs in
	[ -d "$PIN" ] && nsenter --net=/run/netns/"$NSA" "$DFLOAD" unload "$PIN/pins" >/dev/null 2>&1
	net_cleanup
	mountpoint -q "$PIN" && umount "$PIN"
	rm -rf "$TMP"
}
trap cleanup EXIT

setup() {
	net_setup && mkdir -p "$PIN" && mount -t bpf bpf "$PIN" &&
	policy 1 5001 > "$TMP/p1.conf" && policy 2 5002 > "$TMP/p2.conf" &&
	policy 3 5003 > "$TMP/p3.conf"
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

# packets counted at tc (hook 1) for a reason (its number in datafence.h)
tc_reason_total() {
	bpftool map dump pinned "$PIN/pins/df_counters" -j 2>/dev/null |
		jq --argjson stride "$DF_HOOK_STRIDE" --argjson n "$DF_REASONS" --argjson r "$1" \
			'[.[].formatted | select((.key / $stride | floor) == 1 and .key % $n == $r) |
			  .values[].value.packets] | add // 0'
}
DF_R_NEXT_HOP=$(sed -nE 's/^[[:space:]]DF_R_NEXT_HOP = ([0-9]+),.*/\1/p' bpf/datafence.h)

load() { "$DFLOAD" load "$PIN/pins" "$CG" "$@"; }

counter_total() { # packets judged by cgroup_skb so far, summed over CPUs
	bpftool map dump pinned "$PIN/pins/df_counters" -j 2>/dev/null |
		jq --argjson stride "$DF_HOOK_STRIDE" \
			'[.[].formatted | select(.key < $stride) | .values[].value.packets] | add // 0'
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
	expect_eq "loopback" "sent 1" "$(flow prot udp 127.0.0.1 5003)"
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
	nsenter --net=/run/netns/"$NSA" "$DFLOAD" load "$PIN/pins" "$CG" "$TMP/p1.conf" "$VA"
	# the sender may hear of the tc drop (ENOBUFS) or not; nothing arrives
	case $(flow prot packet 192.0.2.2 5002) in
	"sent 0" | "ENOBUFS 0") ;;
	*) echo "AF_PACKET to an unapproved port got through"; return 1 ;;
	esac
	# approved address and port, but broadcast: every host on the link hears it
	local before
	before=$(tc_reason_total "$DF_R_NEXT_HOP")
	case $(flow prot packet 192.0.2.2 5001) in
	"sent 0" | "ENOBUFS 0") ;;
	*) echo "AF_PACKET broadcast to the approved port got through"; return 1 ;;
	esac
	[ "$(tc_reason_total "$DF_R_NEXT_HOP")" -gt "$before" ] ||
		{ echo "the broadcast was not refused for its next hop"; return 1; }
	# to the next hop the kernel has for 192.0.2.2: what a routed packet does
	ip -n "$NSA" neigh replace 192.0.2.2 lladdr "$(peer_mac)" dev "$VA" nud permanent
	expect_eq "AF_PACKET to the approved port, its next hop" "sent 1" \
		"$(flow prot packet-peer 192.0.2.2 5001)"
	case $(flow prot packet-peer 192.0.2.2 5002) in
	"sent 0" | "ENOBUFS 0") ;;
	*) echo "AF_PACKET to the next hop, unapproved port, got through"; return 1 ;;
	esac
	expect_eq "unclassified AF_PACKET broadcast passes" "sent 1" \
		"$(flow free packet 192.0.2.2 5002)"
}

# packets allowed to a destination by cgroup_skb (hook 0), and packets
# counted for rule 0 (every hook: the only destination of these policies)
skb_allowed_total() {
	bpftool map dump pinned "$PIN/pins/df_counters" -j 2>/dev/null |
		jq --argjson stride "$DF_HOOK_STRIDE" --argjson n "$DF_REASONS" --argjson r "$DF_R_DESTINATION" \
			'[.[].formatted | select(.key < $stride and .key % $n == $r and
			  (.key / $n | floor) % 3 == 0) | .values[].value.packets] | add // 0'
}
rule0_total() {
	bpftool map dump pinned "$PIN/pins/df_rule_cnt" -j 2>/dev/null |
		jq '[.[].formatted | select(.key == 0) | .values[].value.packets] | add // 0'
}
connect_allowed_total() { # hook 2: connect
	bpftool map dump pinned "$PIN/pins/df_counters" -j 2>/dev/null |
		jq --argjson stride "$DF_HOOK_STRIDE" --argjson n "$DF_REASONS" --argjson r "$DF_R_DESTINATION" \
			'[.[].formatted | select((.key / $stride | floor) == 2 and .key % $n == $r and
			  (.key / $n | floor) % 3 == 0) | .values[].value.packets] | add // 0'
}
DF_R_DESTINATION=$(sed -nE 's/^[[:space:]]DF_R_DESTINATION = ([0-9]+),.*/\1/p' bpf/datafence.h)

# The SYN of a connection its connect() allowed takes that verdict instead
# of judging again: it is counted all the same, under its reason and rule.
a_connections_packets_are_counted_with_their_rule() {
	local skb0 rule0 con0 skb1 rule1 con1
	skb0=$(skb_allowed_total) rule0=$(rule0_total) con0=$(connect_allowed_total)
	expect_eq "approved tcp" "connected 1" "$(flow prot tcp 192.0.2.2 5001)"
	skb1=$(skb_allowed_total) rule1=$(rule0_total) con1=$(connect_allowed_total)
	expect_eq "one connect allowed" "1" "$((con1 - con0))"
	[ "$((skb1 - skb0))" -ge 2 ] ||
		{ echo "cgroup_skb allowed $((skb1 - skb0)) packets of the connection, want its SYN and more"; return 1; }
	expect_eq "every allowed packet and call counted for its rule" "$((skb1 - skb0 + con1 - con0))" \
		"$((rule1 - rule0))"
}

# One UDP socket, two threads on two CPUs, one sending where the policy
# allows and the other where it refuses: each flow's verdict replaces the
# other's in the socket's cached views (its calls' and its packets'), written
# from both CPUs at once. The refused flow's datagrams never arrive, however
# those writes meet (datapath.md: a view's lock).
a_socket_shared_by_two_cpus_leaks_nothing() {
	local out
	receiver "$NSB" udp-recv 5999 3000 "$TMP/recv"
	out=$(in_ns_cg prot "$NSA" "$DFNET" udp-race 192.0.2.2 5001 5999 2000)
	wait "$RPID"
	echo "udp-race: $out"
	[ "$(cut -d' ' -f2 <<<"$out")" -gt 1000 ] || { echo "the allowed thread hardly sent: $out"; return 1; }
	expect_eq "datagrams of the refused flow received" "0" "$(tail -n 1 "$TMP/recv")"
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

# A flow held open across an adoption that narrows the policy: its next
# packet is judged by the new one (a connected UDP socket: no sendmsg hook,
# cgroup_skb's fast path answers its packets, from the socket's storage,
# which outlives the programs).
a_held_flow_is_judged_again_after_a_swap() {
	local out
	held_start 5002 5 4000
	load "$TMP/p3.conf"
	held_finish
	out=$HELD_OUT
	wait "$RPID"
	expect_eq "before the swap, then after it" "sent 5 EPERM" "$out"
	expect_eq "received before the swap" "5" "$(tail -n 1 "$TMP/recv")"
}

unload_removes_enforcement() {
	nsenter --net=/run/netns/"$NSA" "$DFLOAD" unload "$PIN/pins"
	expect_eq "after unload" "sent 1" "$(flow prot udp 192.0.2.2 5009)"
	expect_eq "no program left on our cgroup" "0" "$(bpftool cgroup show "$CG" | grep -c df_)"
	expect_eq "no next-hop helper left" "0" "$(ip -n "$NSA" -o link show | grep -c dfnh)"
}

if ! setup; then echo "FAIL live setup"; exit 1; fi
run_case pins_enforce_after_the_loader_exits pins_enforce_after_the_loader_exits
run_case loopback_passes loopback_passes
run_case raw_socket_is_caught raw_socket_is_caught
run_case af_packet_is_caught_at_tc af_packet_is_caught_at_tc
run_case a_connections_packets_are_counted_with_their_rule a_connections_packets_are_counted_with_their_rule
run_case a_socket_shared_by_two_cpus_leaks_nothing a_socket_shared_by_two_cpus_leaks_nothing
run_case a_new_process_adopts_and_swaps a_new_process_adopts_and_swaps
run_case a_held_flow_is_judged_again_after_a_swap a_held_flow_is_judged_again_after_a_swap
run_case unload_removes_enforcement unload_removes_enforcement
exit 0
