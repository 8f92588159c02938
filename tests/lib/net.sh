# SPDX-License-Identifier: GPL-2.0-only
# Test network for the live and end-to-end suites: two network namespaces
# joined by a veth pair (A 192.0.2.1 / 2001:db8:d::1, B .2 / ::2) and a
# cgroup subtree of our own ($CG, children prot and free). Unique names;
# net_cleanup removes everything, also after a failure.
# Needs: DFNET (the traffic tool), TMP (a temporary directory).
ID=${ID:-$$}
NSA=dfa$ID NSB=dfb$ID VA=dfva$ID VB=dfvb$ID
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
	mkdir -p "$CG/prot" "$CG/free"
}

peer_mac() { ip -n "$NSB" -j link show "$VB" | jq -r '.[0].address'; }

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
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
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
