#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The agent's cost under a drop storm (docs/benchmarks.md, "Drop storms"):
# a C sender (dfnet udp-storm) on one CPU, in a protected cgroup, sends
# 64-byte UDP datagrams to distinct unapproved destinations (10.99.0.x, a
# new port every 254), all refused. Per backend: the agent's CPU time over
# the wall time (the storm and the second after it, when its last summary
# is written), how long a status takes over the control socket during the
# storm (a round trip every 0.2 s), what
# the drop log got. The BPF backend also without its event budget
# (event_rate = 0), as it was before the budget. Root; the agent runs with
# syslog off (journald's own cost is not the agent's). STORM_MODES picks
# runs ("bpf nobudget nftables"); STORM_PERF=FILE records the agent with
# perf for 4 s of each.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
agent_suite bench-storm
N=${STORM_DROPS:-2000000}
HZ=$(getconf CLK_TCK)

ctl() { nsenter --net=/run/netns/"$NSA" "$CTL" --socket "$TMP/control.sock" --pin-dir "$PIN/pins" "$@"; }

policy() {
	cat <<EOP
policy = { name = "storm"; serial = 1; };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ];
  ports = ( 5001 ); allow = [ "t" ]; } );
EOP
}

# the agent's CPU time so far, in clock ticks (every thread)
ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }

# run LABEL BACKEND [AGENT.CONF LINE...]: one storm, one table row
run() {
	local label=$1 backend=$2 pid c0 c1 t0 t1 spid lat=() out
	stop_agent
	nsenter --net=/run/netns/"$NSA" "$DFD" --unload --config "$TMP/agent.conf" >/dev/null 2>&1
	rm -rf "$TMP/log" && mkdir -p "$TMP/log"
	{
		agent_conf "$backend" "$TMP/log/drops.jsonl"
		echo 'drop_log_max_mb = 64;'
		echo "nft_table = \"dfbench$ID\";"
		echo "nft_log_group = $((20000 + ID % 40000));"
		printf '%s\n' "${@:3}"
	} > "$TMP/agent.conf"
	start_agent
	wait_log "policy loaded (start)" >/dev/null || { echo "| $label | the agent did not start |"; return; }
	sleep 1
	pid=$(agent_pid)
	c0=$(ticks "$pid")
	t0=$(date +%s%N)
	in_ns_cg prot "$NSA" taskset -c 0 "$DFNET" udp-storm 10.99.0 "$N" > "$TMP/storm.out" &
	spid=$!
	[ -z "${STORM_PERF:-}" ] || perf record -g -o "$STORM_PERF" -p "$pid" -- sleep 4 >/dev/null 2>&1 &
	# status over the control socket every 0.2 s while the storm lasts: ms a round trip
	/usr/bin/python3 - "$TMP/control.sock" "$spid" > "$TMP/lat" <<'EOP' &
import os, socket, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while alive():
    t = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'{"cmd": "status"}\n')
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    print("%.1f" % ((time.monotonic() - t) * 1000), flush=True)
    time.sleep(0.2)
EOP
	local lpid=$!
	wait "$spid"
	wait "$lpid"
	mapfile -t lat < "$TMP/lat"
	t1=$(date +%s%N)
	sleep 1.2
	c1=$(ticks "$pid")
	out=$(cat "$TMP/storm.out")
	local wall storm_s cpu rate lat_sorted med max records summaries mb
	wall=$(( $(date +%s%N) - t0 ))
	storm_s=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1e9 }')
	cpu=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v w="$wall" 'BEGIN { printf "%.3f", c / hz / (w / 1e9) }')
	rate=$(awk -v n="$N" -v d=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (d / 1e9) }')
	lat_sorted=$(printf '%s\n' "${lat[@]}" | sort -g)
	med=$(sed -n "$(( (${#lat[@]} + 1) / 2 ))p" <<<"$lat_sorted")
	max=$(tail -n 1 <<<"$lat_sorted")
	records=$(cat "$TMP"/log/drops.jsonl* | grep -c '"hook"' || true)
	summaries=$(cat "$TMP"/log/drops.jsonl* | grep -c '"summary":"drop-storm"' || true)
	mb=$(du -sb "$TMP/log" | awk '{ printf "%.1f", $1 / 1048576 }')
	echo "| $label | $N in ${storm_s} s ($rate/s; $out) | **$cpu** | $med / $max (${#lat[@]} calls) | $records | $summaries | $mb |"
}

net_setup && mkdir -p "$TMP/etc" "$PIN" && mount -t bpf bpf "$PIN" || { echo "storm bench: setup failed"; exit 1; }
# a route ahead of the blackhole: nftables judges packets after routing
ip -n "$NSA" route add 10.99.0.0/24 dev "$VA"
policy > "$TMP/etc/policy.conf"
echo "| agent | storm (drops, rate, sender's result) | agent CPU / wall (cores) | status over the control socket, ms median / max | drop records written | summaries | drop log MiB |"
echo "|---|---|---|---|---|---|---|"
MODES=${STORM_MODES:-"bpf nobudget nftables"}
[[ " $MODES " != *" bpf "* ]] || run "BPF, event_rate 2000 (default)" bpf
[[ " $MODES " != *" nobudget "* ]] || run "BPF, no event budget (event_rate 0)" bpf 'event_rate = 0;'
[[ " $MODES " != *" nftables "* ]] || run "nftables, nft_log_rate 1000 (default)" nftables
