#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The bypass suite (root): the ways out of a host that a process in a
# protected cgroup has, tried for real against the real agent (BPF backend,
# tc on A's interface). A, an approved host B and an unapproved host U share
# one bridge; a sniffer on U counts the frames that carry each try's marker.
# Every try from the protected cgroup must deliver 0 to U; the same try from
# an unclassified cgroup (the control) must deliver, which proves the path
# reaches U. docs/threat-model.md lists the paths and what is out of scope.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
BYPASS=$PWD/tests/e2e/bypass.py
DFURING=$PWD/$O/tests/live/dfuring
agent_suite bypass

# policy SERIAL PORTS [EXTRA]: class t (our prot cgroup) may reach B on
# PORTS, the overlay 10.99.0.0/24 (udp), and B as a vxlan underlay
# (udp/4789). U is approved for nothing.
policy() {
	cat <<EOP
policy = { name = "bypass"; serial = $1; };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = (
  { name = "peer"; cidrs = [ "192.0.2.2/32", "2001:db8:d::2/128" ];
    protocols = [ "tcp", "udp" ]; ports = ( $2 ); allow = [ "t" ]; },
  { name = "overlay"; cidrs = [ "10.99.0.0/24" ]; protocols = [ "udp" ]; allow = [ "t" ]; },
  { name = "underlay"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ]; ports = ( 4789 );
    allow = [ "t" ]; }
);
${3:-}
EOP
}

setup() {
	net_setup_bridged && mkdir -p "$TMP/etc" "$PIN" && mount -t bpf bpf "$PIN" || return 1
	UMAC=$(mac_of "$NSU" "$VU") BMAC=$(mac_of "$NSB" "$VB") || return 1
	# A knows both neighbours (the next-hop check reads A's neighbour table)
	ip -n "$NSA" neigh replace 192.0.2.2 lladdr "$BMAC" dev "$VA" nud permanent &&
	ip -n "$NSA" neigh replace 192.0.2.3 lladdr "$UMAC" dev "$VA" nud permanent &&
	ip -n "$NSA" neigh replace 2001:db8:d::2 lladdr "$BMAC" dev "$VA" nud permanent || return 1
	agent_conf bpf "$TMP/drops.jsonl" > "$TMP/agent.conf"
	policy 1 5001 > "$TMP/etc/policy.conf"
	start_agent
	wait_log "policy loaded (start): 'bypass' serial 1"
}

# sniffed NS IFACE MARKER CGROUP CMD...: runs CMD in cgroup CGROUP of
# namespace A with a sniffer on IFACE of NS; prints "<what CMD said>
# <frames with MARKER that reached IFACE>".
sniffed() {
	local ns=$1 ifc=$2 marker=$3 cg=$4; shift 4
	local stop=$TMP/stop.$marker out spid
	nsenter --net=/run/netns/"$ns" "$BYPASS" sniff "$ifc" "$marker" "$stop" > "$TMP/sniff.$marker" &
	spid=$!
	for _ in $(seq 250); do grep -q ready "$TMP/sniff.$marker" 2>/dev/null && break; sleep 0.02; done
	out=$(in_ns_cg "$cg" "$NSA" "$@")
	sleep 0.3
	touch "$stop"
	wait "$spid" || true
	echo "$out $(tail -n 1 "$TMP/sniff.$marker")"
}

# seen_at NS IFACE MARKER CGROUP ARGS...: sniffed, for `bypass.py ARGS...
# MARK_ARG...`
seen_at() {
	local ns=$1 ifc=$2 marker=$3 cg=$4; shift 4
	sniffed "$ns" "$ifc" "$marker" "$cg" "$BYPASS" "$@" "${MARK_ARG[@]}"
}

# try NAME CMD...: the try from prot must deliver 0 to U, from free (the
# control) at least 1. The sender's words are not judged: a drop at tc is
# silent or ENOBUFS, one at the syscall EPERM. Prints the protected try's
# words for the checks that follow.
try() {
	local name=$1; shift
	local prot free
	MARK_ARG=("DFB-$name-prot-$ID")
	prot=$(seen_at "$NSU" "$VU" "DFB-$name-prot-$ID" prot "$@")
	MARK_ARG=("DFB-$name-free-$ID")
	free=$(seen_at "$NSU" "$VU" "DFB-$name-free-$ID" free "$@")
	# failures on stderr: callers keep stdout for the words
	expect_eq "$name from the protected cgroup: frames at U" 0 "${prot##* }" >&2
	[ "${free##* }" -ge 1 ] || { echo "$name control delivered nothing: [$free]" >&2; return 1; }
	echo "${prot% *}"
}

# later records() look only at the drop log's records from now on
mark_records() { wc -l < "$TMP/drops.jsonl" > "$TMP/records.mark" 2>/dev/null || echo 0 > "$TMP/records.mark"; }

# the drop log's records (since the mark) that match a jq filter, once one is there
records() {
	local r="" from
	from=$(cat "$TMP/records.mark" 2>/dev/null || echo 0)
	for _ in $(seq 100); do
		r=$(tail -n +"$((from + 1))" "$TMP/drops.jsonl" 2>/dev/null | jq -c "select($1)" 2>/dev/null)
		[ -n "$r" ] && break
		sleep 0.02
	done
	echo "$r"
}

# scm KIND CGROUP: a socket made in CGROUP, handed (SCM_RIGHTS) to a helper
# in free that uses it towards U: "<the helper's words> <frames at U>"
scm() {
	local kind=$1 cg=$2 mark="DFB-scm-$1-$2-$ID" hpid out
	[ "$kind" = tcp ] && receiver "$NSU" tcp-accept 5001 1500 "$TMP/recv"
	nsenter --net=/run/netns/"$NSA" bash -c \
		'echo $$ > "$0/cgroup.procs" && exec "$1" fd-helper "$2" "$3" 192.0.2.3 5001 "$4"' \
		"$CG/free" "$BYPASS" "$TMP/fd.$kind.$cg" "$kind" "$mark" > "$TMP/helper.$kind" &
	hpid=$!
	for _ in $(seq 250); do grep -q ready "$TMP/helper.$kind" 2>/dev/null && break; sleep 0.02; done
	MARK_ARG=()
	out=$(seen_at "$NSU" "$VU" "$mark" "$cg" fd-give "$TMP/fd.$kind.$cg" "$kind")
	wait "$hpid" || true
	[ "$kind" = tcp ] && { wait "$RPID" || true; }
	echo "$(tail -n 1 "$TMP/helper.$kind") ${out##* }"
}

classes_come_from_the_socket() {
	local out
	expect_eq "SCM_RIGHTS udp socket from prot, sendto by a helper outside" "EPERM 0" "$(scm udp prot)"
	expect_eq "SCM_RIGHTS tcp socket from prot, connect by a helper outside" "EPERM 0" "$(scm tcp prot)"
	expect_eq "control: udp socket from free" "sent 1" "$(scm udp free)"
	out=$(scm tcp free)
	[ "${out% *}" = sent ] && [ "${out##* }" -ge 1 ] || { echo "control: tcp socket from free: [$out]"; return 1; }
	# made in prot, sent after the process moved out of it
	MARK_ARG=("DFB-left-$ID")
	out=$(seen_at "$NSU" "$VU" "DFB-left-$ID" prot left-cgroup "$CG/free" 192.0.2.3 5001)
	expect_eq "a socket whose maker left the cgroup" "EPERM 0" "$out"
	MARK_ARG=("DFB-left-free-$ID")
	out=$(seen_at "$NSU" "$VU" "DFB-left-free-$ID" free left-cgroup "$CG/free" 192.0.2.3 5001)
	expect_eq "control: made and sent outside" "sent 1" "$out"
	# made in prot, sent by the SQPOLL thread of an io_uring made outside
	out=$(sniffed "$NSU" "$VU" "DFB-uring-$ID" prot "$DFURING" "$CG/free" 192.0.2.3 5001 "DFB-uring-$ID")
	expect_eq "io_uring SQPOLL thread outside, socket from prot" "EPERM 0" "$out"
	out=$(sniffed "$NSU" "$VU" "DFB-uring-free-$ID" free "$DFURING" "$CG/free" 192.0.2.3 5001 \
		"DFB-uring-free-$ID")
	expect_eq "control: io_uring, socket from free" "sent 1" "$out"
	# a socket used outside, taken with pidfd_getfd into prot
	in_ns_cg free "$NSA" "$BYPASS" hold-udp 192.0.2.2 5001 "$TMP/held" > /dev/null &
	local holder=$!
	for _ in $(seq 250); do [ -s "$TMP/held" ] && break; sleep 0.02; done
	read -r pid fd < "$TMP/held"
	MARK_ARG=("DFB-pidfd-$ID")
	out=$(seen_at "$NSU" "$VU" "DFB-pidfd-$ID" prot pidfd-udp "$pid" "$fd" 192.0.2.3 5001)
	expect_eq "pidfd_getfd of an outside socket, sendto from prot" "EPERM 0" "$out"
	MARK_ARG=("DFB-pidfd-free-$ID")
	out=$(seen_at "$NSU" "$VU" "DFB-pidfd-free-$ID" free pidfd-udp "$pid" "$fd" 192.0.2.3 5001)
	expect_eq "control: taken from outside" "sent 1" "$out"
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
}

frames_are_read_from_their_bytes() {
	try sll-proto frame "$VA" "$UMAC" --sll-proto 0x88b5 > /dev/null
	try vlan0 frame "$VA" "$UMAC" --vlan 0 > /dev/null
	try vlan-qinq frame "$VA" "$UMAC" --qinq 7 --vlan 8 > /dev/null
	try non-ip frame "$VA" "$UMAC" --ethertype 0x88b5 > /dev/null
	expect_eq "non-IP from prot: malformed at tc" "tc malformed" \
		"$(records '.family == "non-ip" and .classes == ["t"]' | head -n 1 | jq -r '"\(.hook) \(.reason)"')"
}

the_judged_header_is_where_it_goes() {
	try lo-hdr frame "$VA" "$UMAC" --dst 127.0.0.1 > /dev/null
	try approved-hdr frame "$VA" "$UMAC" --dst 192.0.2.2 --dport 5001 > /dev/null
	expect_eq "approved header to U's MAC" "tc next-hop-mismatch" \
		"$(records '.reason == "next-hop-mismatch"' | head -n 1 | jq -r '"\(.hook) \(.reason)"')"
	try mapped-hdr frame "$VA" "$UMAC" --src ::ffff:192.0.2.1 --dst ::ffff:192.0.2.2 --dport 5001 > /dev/null
	try v6-lo-hdr frame "$VA" "$UMAC" --src 2001:db8:d::1 --dst ::1 > /dev/null
	try hdrincl-lo hdrincl 127.0.0.1 192.0.2.3 5001 > /dev/null
	try hdrincl-approved hdrincl 192.0.2.2 192.0.2.3 5001 > /dev/null
	# the same frame to the approved host's MAC: what routing would do
	local out
	MARK_ARG=("DFB-to-b-$ID")
	out=$(seen_at "$NSB" "$VB" "DFB-to-b-$ID" prot frame "$VA" "$BMAC" --dst 192.0.2.2 --dport 5001)
	expect_eq "prot frame to B's MAC, approved header" "sent 1" "$out"
}

no_path_below_tc() {
	expect_eq "PACKET_QDISC_BYPASS refused, the frame then judged at tc" "bypass-EPERM" \
		"$(try qdisc-bypass frame "$VA" "$UMAC" --qdisc-bypass | cut -d' ' -f1)"
	expect_eq "its record" "setsockopt filter-bypass PACKET_QDISC_BYPASS" \
		"$(records '.hook == "setsockopt"' | head -n 1 | jq -r '"\(.hook) \(.reason) \(.option)"')"
	local out
	MARK_ARG=()
	out=$(in_ns_cg prot "$NSA" "$BYPASS" xdp)
	expect_eq "AF_XDP UMEM from prot" EPERM "$out"
	out=$(in_ns_cg free "$NSA" "$BYPASS" xdp)
	[ "$out" != EPERM ] || { echo "AF_XDP refused to an unclassified process"; return 1; }
	MARK_ARG=("DFB-bypass-off-$ID")
	# turning the option off is not refused
	out=$(in_ns_cg prot "$NSA" /usr/bin/python3 -c '
import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
s.setsockopt(263, 20, 0); print("off")')
	expect_eq "PACKET_QDISC_BYPASS off from prot" off "$out"
}

tunnels_are_judged_by_their_outer_header() {
	# two vxlan devices on A: the remote U (unapproved) and B (approved udp/4789)
	ip -n "$NSA" link add dfvxu type vxlan id 42 remote 192.0.2.3 dstport 4789 dev "$VA" &&
	ip -n "$NSA" link add dfvxb type vxlan id 43 remote 192.0.2.2 dstport 4789 dev "$VA" &&
	ip -n "$NSA" addr add 10.99.0.1/25 dev dfvxu && ip -n "$NSA" addr add 10.99.0.129/25 dev dfvxb &&
	ip -n "$NSA" link set dfvxu up && ip -n "$NSA" link set dfvxb up &&
	ip -n "$NSA" neigh replace 10.99.0.2 lladdr 02:00:00:00:99:02 dev dfvxu nud permanent &&
	ip -n "$NSA" neigh replace 10.99.0.130 lladdr 02:00:00:00:99:82 dev dfvxb nud permanent
	try vxlan-u udp 10.99.0.2 7000 > /dev/null
	local out
	MARK_ARG=("DFB-vxlan-b-$ID")
	out=$(seen_at "$NSB" "$VB" "DFB-vxlan-b-$ID" prot udp 10.99.0.130 7000)
	expect_eq "vxlan to the approved underlay remote" "sent 1" "$out"
	expect_eq "the outer header's record" "tc no-destination 192.0.2.3 4789" \
		"$(records '.dport == 4789' | head -n 1 | jq -r '"\(.hook) \(.reason) \(.dst) \(.dport)"')"
}

# idle CGROUP KIND DST PORT NAME: a connection from CGROUP (tcp-idle or
# udp-idle) that waits for $TMP/go; its words end up in $TMP/idle.NAME
idle() {
	in_ns_cg "$1" "$NSA" "$BYPASS" "$2" "$3" "$4" "$TMP/go" > "$TMP/idle.$5" &
	IDLE_PIDS+=($!)
	for _ in $(seq 250); do grep -q connected "$TMP/idle.$5" 2>/dev/null && return 0; sleep 0.02; done
	echo "$5 never connected: $(cat "$TMP/idle.$5")"; return 1
}

# hold NS PORT: a silent peer on PORT in NS for 15 s
hold() {
	nsenter --net=/run/netns/"$1" "$BYPASS" hold "$2" 15 > "$TMP/hold.$1.$2" &
	HOLD_PIDS+=($!)
	for _ in $(seq 250); do grep -q ready "$TMP/hold.$1.$2" 2>/dev/null && return 0; sleep 0.02; done
}

# after idle_wait: the error an idle connection met and how many tenths of
# a second after go
idle_wait() { for p in "${IDLE_PIDS[@]}"; do wait "$p" || true; done; }
idle_result() {
	tail -n 1 "$TMP/idle.$1" | awk '{ printf "%s %d\n", $1, $2 * 10 }'
}

# revoked_after_a_push METHOD SERIAL: the agent revokes through METHOD;
# serials SERIAL and SERIAL+1 are pushed
revoked_after_a_push() {
	local s1=$2 s2=$(($2 + 1))
	IDLE_PIDS=() HOLD_PIDS=()
	rm -f "$TMP/go"
	expect_eq "the agent revokes through $1" "true $1" \
		"$(nsenter --net=/run/netns/"$NSA" "$CTL" --socket "$TMP/control.sock" --json status |
		   jq -r '"\(.revocation.available) \(.revocation.method)"')"
	policy "$s1" "5001, 5003" > "$TMP/p2.conf"
	push "$TMP/p2.conf"
	wait_log "policy loaded (file changed): 'bypass' serial $s1"
	hold "$NSB" 5001 && hold "$NSB" 5003
	idle prot tcp-idle 192.0.2.2 5001 tcp && idle prot udp-idle 192.0.2.2 5001 udp &&
	idle prot tcp-idle 192.0.2.2 5003 kept && idle free tcp-idle 192.0.2.2 5001 free
	mark_records
	policy "$s2" 5003 > "$TMP/p3.conf"
	push "$TMP/p3.conf"
	touch "$TMP/go"
	idle_wait
	expect_revoked tcp "the refused TCP connection fails"
	local r
	r=$(idle_result udp)
	[ "${r% *}" != no-error ] && [ "${r#* }" -lt 20 ] || { echo "connected UDP: [$r]"; return 1; }
	expect_eq "the still approved connection lives" no-error "$(idle_result kept | cut -d' ' -f1)"
	expect_eq "the unclassified connection lives" no-error "$(idle_result free | cut -d' ' -f1)"
	expect_eq "one revoke record for the TCP socket" "revoke drop port-not-allowed 1" \
		"$(records '.hook == "revoke" and .proto == "tcp"' | jq -rs '"\(.[0].hook) \(.[0].verdict) \(.[0].reason) \(length)"')"
	for p in "${HOLD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

# expect_revoked NAME WHAT: the idle connection NAME ended with
# ECONNABORTED within 2 s of its release.
expect_revoked() {
	local r
	r=$(idle_result "$1")
	expect_eq "$2" ECONNABORTED "${r% *}"
	[ "${r#* }" -lt 20 ] || { echo "$2: it failed after ${r#* } tenths of a second"; return 1; }
}

# revoked_when_an_exception_ends SERIAL
revoked_when_an_exception_ends() {
	IDLE_PIDS=() HOLD_PIDS=()
	rm -f "$TMP/go"
	local exp
	exp=$(( $(date +%s) + 4 ))
	mark_records
	policy "$1" 5003 "exceptions = ( { id = \"SEC-BYPASS\"; approved_by = \"sec\"; reason = \"test\";
  class = \"t\"; cidrs = [ \"192.0.2.3/32\" ]; protocols = [ \"tcp\" ]; ports = ( 5005 );
  expires = \"$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)\"; } );" > "$TMP/p4.conf"
	push "$TMP/p4.conf"
	wait_log "policy loaded (file changed): 'bypass' serial $1"
	hold "$NSU" 5005
	idle prot tcp-idle 192.0.2.3 5005 exc
	for _ in $(seq 200); do [ "$(date +%s)" -ge "$exp" ] && break; sleep 0.05; done
	touch "$TMP/go"
	idle_wait
	expect_revoked exc "the connection of an ended exception fails"
	expect_eq "its revoke record" "revoke exception-inactive" \
		"$(records '.hook == "revoke" and .dport == 5005' | head -n 1 | jq -r '"\(.hook) \(.reason)"')"
	for p in "${HOLD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

if ! setup; then echo "FAIL bypass setup"; cat "$TMP/agent.log"; exit 1; fi
run_case classes_come_from_the_socket classes_come_from_the_socket
run_case frames_are_read_from_their_bytes frames_are_read_from_their_bytes
run_case the_judged_header_is_where_it_goes the_judged_header_is_where_it_goes
run_case no_path_below_tc no_path_below_tc
run_case tunnels_are_judged_by_their_outer_header tunnels_are_judged_by_their_outer_header
# the same through sock_diag (the nftables backend's way, and the BPF
# backend's on kernels without socket iterators)
with_sock_diag() {
	trap ensure_agent EXIT
	stop_agent
	echo 'revocation = "sock_diag";' >> "$TMP/agent.conf"
	start_agent
	wait_log "live sockets are revoked through sock_diag"
	wait_log "policy loaded (start)"
}

run_case live_sockets_are_revoked_after_a_push revoked_after_a_push bpf 2
run_case live_sockets_are_revoked_when_an_exception_ends revoked_when_an_exception_ends 4
run_case the_agent_restarts_to_revoke_through_sock_diag with_sock_diag
run_case sock_diag_revokes_after_a_push revoked_after_a_push sock_diag 5
run_case sock_diag_revokes_when_an_exception_ends revoked_when_an_exception_ends 7
exit 0
