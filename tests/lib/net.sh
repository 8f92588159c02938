# SPDX-License-Identifier: GPL-2.0-only
# Test network for the live and end-to-end suites: two network namespaces
# joined by a veth pair (A 192.0.2.1 / 2001:db8:d::1, B .2 / ::2) and a
# cgroup subtree of our own ($CG, children prot and free). Unique names;
# net_cleanup removes everything, also after a failure.
# Needs: DFNET (the traffic tool), TMP (a temporary directory).
ID=${ID:-$$}
NSA=dfa$ID NSB=dfb$ID VA=dfva$ID VB=dfvb$ID
NSU=dfu$ID NSBR=dfbr$ID VU=dfvu$ID
CGROOT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
CGREL=/df-test-$ID
CG=$CGROOT$CGREL

net_setup() {
	ip netns add "$NSA" && ip netns add "$NSB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NSA" && ip link set "$VB" netns "$NSB" &&
	ip -n "$NSA" addr add 192.0.2.1/24 dev "$VA" &&
	ip -n "$NSB" addr add 192.0.2.2/24 dev "$VB" &&
	ip -n "$NSA" addr add 2001:db8:d::1/64 dev "$VA" nodad &&
	ip -n "$NSB" addr add 2001:db8:d::2/64 dev "$VB" nodad &&
	ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up &&
	ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up &&
	net_blackholes "$NSA" && net_blackholes "$NSB" &&
	mkdir -p "$CG/prot" "$CG/free"
}

# The test's subnets to a blackhole (high metric) in a namespace: without
# its interface, nothing the test sends takes another route.
net_blackholes() {
	ip -n "$1" route add blackhole 192.0.2.0/24 metric 4000 &&
	ip -n "$1" route add blackhole 10.99.0.0/24 metric 4000 &&
	ip -n "$1" -6 route add blackhole 2001:db8:d::/64 metric 4000
}

# net_setup_bridged: A and B as above, and a third host U (192.0.2.3,
# 2001:db8:d::3, not approved by any test policy), all three on one bridge
# (namespace BR). U's bridge port gets no unknown-unicast flooding, and a
# static entry for U's MAC: U receives what is sent to it or to everyone.
net_setup_bridged() {
	local ns v n
	ip netns add "$NSA" && ip netns add "$NSB" && ip netns add "$NSU" && ip netns add "$NSBR" &&
	ip -n "$NSBR" link add br0 type bridge && ip -n "$NSBR" link set br0 up || return 1
	for v in "$NSA:$VA:1" "$NSB:$VB:2" "$NSU:$VU:3"; do
		IFS=: read -r ns v n <<<"$v"
		ip link add "$v" type veth peer name "${v}p" &&
		ip link set "$v" netns "$ns" && ip link set "${v}p" netns "$NSBR" &&
		ip -n "$NSBR" link set "${v}p" master br0 && ip -n "$NSBR" link set "${v}p" up &&
		ip -n "$ns" addr add "192.0.2.$n/24" dev "$v" &&
		ip -n "$ns" addr add "2001:db8:d::$n/64" dev "$v" nodad &&
		ip -n "$ns" link set "$v" up && ip -n "$ns" link set lo up &&
		net_blackholes "$ns" || return 1
	done
	bridge -n "$NSBR" link set dev "${VU}p" flood off &&
	bridge -n "$NSBR" fdb replace "$(mac_of "$NSU" "$VU")" dev "${VU}p" master static &&
	mkdir -p "$CG/prot" "$CG/free"
}

mac_of() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }

peer_mac() { mac_of "$NSB" "$VB"; }

# Removes a cgroup tree (children first), moving stray processes to the root.
cg_remove() {
	local d
	[ -d "$1" ] || return 0
	for d in $(find "$1" -mindepth 1 -type d | sort -r) "$1"; do
		while read -r p; do echo "$p" > "$CGROOT/cgroup.procs" 2>/dev/null; done < "$d/cgroup.procs"
		rmdir "$d" 2>/dev/null
	done
}

net_cleanup() {
	local ns
	for ns in "$NSA" "$NSB" "$NSU" "$NSBR"; do
		[ -e /run/netns/"$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	cg_remove "$CG"
}

# in_ns_cg CGROUP NS CMD...: CMD in cgroup $CG/CGROUP and netns NS
in_ns_cg() {
	local cg=$1 ns=$2; shift 2
	bash -c 'echo $$ > "$0/cgroup.procs" && exec nsenter --net=/run/netns/"$1" "${@:2}"' "$CG/$cg" "$ns" "$@"
}

# receiver NS KIND PORT MS OUT: starts a receiver, waits until it listens
receiver() {
	nsenter --net=/run/netns/"$1" "$DFNET" "$2" "$3" "$4" > "$5" &
	RPID=$!
	for _ in $(seq 100); do grep -q ready "$5" 2>/dev/null && return 0; sleep 0.02; done
}

# held_start PORT N MS: a connected UDP flow from $CG/prot to B's PORT
# (dfnet udp-held: N datagrams now, N more at held_finish), B's receiver
# listening MS ms (RPID); returns once the first N are sent.
held_start() {
	rm -f "$TMP/go"
	receiver "$NSB" udp-recv "$1" "$3" "$TMP/recv"
	in_ns_cg prot "$NSA" "$DFNET" udp-held 192.0.2.2 "$1" "$2" "$TMP/go" > "$TMP/held" &
	HELD_PID=$!
	for _ in $(seq 250); do grep -q sent "$TMP/held" && break; sleep 0.02; done
}

# held_finish: the held flow's second N; what it met, both times, on one
# line, into HELD_OUT. Not in $(...): a subshell cannot wait for the sender,
# and would read what it said before its second N.
held_finish() {
	touch "$TMP/go"
	wait "$HELD_PID" || true # a refused send: dfnet says so, and exits 1
	HELD_OUT=$(tr '\n' ' ' < "$TMP/held" | sed 's/ $//')
}

# flow CGROUP KIND ADDR PORT: "<what the sender said> <datagrams/connections received>"
# from a process in $CG/CGROUP in namespace A. KIND: udp, tcp, raw (raw IPv4
# socket, UDP inside), packet (AF_PACKET on $VA, UDP inside, broadcast MAC),
# packet-peer (the same to $VB's MAC, the next hop of B's addresses). The receiver
# listens in namespace B, or in A for 127.0.0.1.
flow() {
	local cg=$1 kind=$2 addr=$3 port=$4 rkind=udp-recv rns=$NSB out
	local send=("$DFNET" udp-send "$addr" "$port")
	case $kind in
	tcp) rkind=tcp-accept send=("$DFNET" tcp-connect "$addr" "$port") ;;
	raw) send=("$DFNET" raw-send "$addr" "$port") ;;
	packet) send=("$DFNET" packet-send "$VA" 192.0.2.1 "$addr" "$port") ;;
	packet-peer) send=("$DFNET" packet-send "$VA" 192.0.2.1 "$addr" "$port" "$(peer_mac)") ;;
	esac
	[ "$addr" = 127.0.0.1 ] && rns=$NSA
	receiver "$rns" "$rkind" "$port" 1500 "$TMP/recv"
	out=$(in_ns_cg "$cg" "$NSA" "${send[@]}")
	wait "$RPID"
	echo "$out $(tail -n 1 "$TMP/recv")"
}
