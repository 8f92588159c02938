#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make demo: in two throwaway network namespaces, the real agent allows a
# protected process's flow to an approved destination, refuses one to an
# unapproved port, and logs the drop as JSON. Cleans up after itself.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
if [ "$(id -u)" != 0 ]; then echo "make demo: needs root (sudo make demo)" >&2; exit 1; fi
DFNET=$PWD/$O/tests/live/dfnet
DFD=$PWD/$O/datafenced
TMP=$(mktemp -d /tmp/df-demo-XXXXXX)
. tests/lib/net.sh

cleanup() {
	[ -f "$TMP/agent.pid" ] && kill "$(cat "$TMP/agent.pid")" 2>/dev/null && sleep 0.3
	"$DFD" --unload --config "$TMP/agent.conf" >/dev/null 2>&1
	net_cleanup
	mountpoint -q "$TMP/bpf" && umount "$TMP/bpf"
	rm -rf "$TMP"
}
trap cleanup EXIT

net_setup || exit 1
mkdir -p "$TMP/bpf" && mount -t bpf bpf "$TMP/bpf"
cat > "$TMP/policy.conf" <<EOP
policy = { name = "demo"; serial = 1; };
classes = ( { name = "us-user-data"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = ( { name = "approved-cloud"; cidrs = [ "192.0.2.2/32" ];
                   protocols = [ "tcp" ]; ports = ( 443 ); allow = [ "us-user-data" ]; } );
EOP
cat > "$TMP/agent.conf" <<EOC
policy_file = "$TMP/policy.conf";
pin_dir = "$TMP/bpf/pins";
interfaces = [ "$VA" ];
drop_log = "$TMP/drops.jsonl";
syslog = false;
EOC
echo "== policy: class us-user-data = processes in cgroup $CGREL/prot; approved: 192.0.2.2 tcp/443"
nsenter --net=/run/netns/"$NSA" "$DFD" --foreground --config "$TMP/agent.conf" 2>"$TMP/agent.log" &
echo $! > "$TMP/agent.pid"
for _ in $(seq 250); do grep -q "policy loaded" "$TMP/agent.log" && break; sleep 0.02; done
sed 's/^/   agent| /' "$TMP/agent.log"
echo "== a protected process connects to 192.0.2.2:443 (approved)"
echo "   -> $(flow prot tcp 192.0.2.2 443 | awk '{print $1}')"
echo "== the same process connects to 192.0.2.2:8443 (not approved)"
echo "   -> $(flow prot tcp 192.0.2.2 8443 | awk '{print $1}') (refused at connect)"
echo "== an unprotected process connects to 192.0.2.2:8443"
echo "   -> $(flow free tcp 192.0.2.2 8443 | awk '{print $1}')"
for _ in $(seq 100); do [ -s "$TMP/drops.jsonl" ] && break; sleep 0.02; done
echo "== the drop, as the agent logged it (drops.jsonl):"
jq . "$TMP/drops.jsonl"
