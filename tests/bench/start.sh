#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# From `datafenced` start to enforcing (docs/benchmarks.md, "Start"): the
# real agent started in a test namespace, timed until it logs "policy
# loaded (start)"; with fresh pins (a new host) and adopting the pins a
# previous agent left (a restart). START_RUNS rounds (default 3), median.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
agent_suite bench-start
RUNS=${START_RUNS:-3}

# until the log says TEXT (bounded: 20 s); prints ms since $1 (ns)
until_log() {
	for _ in $(seq 2000); do
		if grep -qF -- "$2" "$TMP/agent.log"; then
			echo $(( ($(date +%s%N) - $1) / 1000000 ))
			return 0
		fi
		sleep 0.01
	done
	echo "timeout"
	return 1
}

one() {
	local t0
	: > "$TMP/agent.log"
	t0=$(date +%s%N)
	start_agent
	until_log "$t0" "policy loaded (start)"
	stop_agent
}

net_setup && mkdir -p "$TMP/etc" "$PIN" && mount -t bpf bpf "$PIN" || { echo "start bench: setup failed"; exit 1; }
cat > "$TMP/etc/policy.conf" <<EOP
policy = { name = "start"; serial = 1; };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ];
  ports = ( 5001 ); allow = [ "t" ]; } );
EOP
agent_conf bpf "$TMP/drops.jsonl" > "$TMP/agent.conf"
fresh=() adopt=()
for _ in $(seq "$RUNS"); do
	nsenter --net=/run/netns/"$NSA" "$DFD" --unload --config "$TMP/agent.conf" >/dev/null 2>&1
	fresh+=("$(one)")
	adopt+=("$(one)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
echo "| start | ms to enforcing (median of $RUNS) | runs |"
echo "|---|---|---|"
echo "| fresh pins (a new host) | **$(median "${fresh[@]}")** | ${fresh[*]} |"
echo "| adopting the pins (a restart) | **$(median "${adopt[@]}")** | ${adopt[*]} |"
