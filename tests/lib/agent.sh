# SPDX-License-Identifier: GPL-2.0-only
# The agent under test (the e2e suites): started in namespace A with
# $TMP/agent.conf, logging to $TMP/agent.log; its policy file is
# $TMP/etc/policy.conf. Sourced after cases.sh; agent_suite sets the rest up.

# What the suites run (absolute: cases run in subshells).
DFNET=$PWD/$O/tests/live/dfnet
DFD=$PWD/$O/datafenced
CTL=$PWD/$O/datafencectl

# agent_suite NAME: a suite of the real agent: root, or skipped; its own
# $TMP (/tmp/df-NAME-XXXXXX) with the pins' bpffs at $PIN, the test network
# (net.sh), and everything removed at exit, also after a failure
# (agent_cleanup, in namespace A where the agent's tc filter and table are).
agent_suite() {
	if [ "$(id -u)" != 0 ]; then echo "SKIP $1: needs root"; exit 0; fi
	TMP=$(mktemp -d "/tmp/df-$1-XXXXXX")
	PIN=$TMP/bpf
	. tests/lib/net.sh
	trap 'agent_cleanup "$NSA"' EXIT
}

# agent_conf BACKEND DROP_LOG: the keys every suite's agent.conf has (the
# suite appends its own); the pins under $PIN, tc on A's interface (or on
# IFACES: a list of quoted names).
agent_conf() {
	local ifs=${IFACES:-\"$VA\"}
	cat <<EOC
backend = "$1";
policy_file = "$TMP/etc/policy.conf";
pin_dir = "$PIN/pins";
interfaces = [ $ifs ];
drop_log = "$2";
syslog = false;
control_socket = "$TMP/control.sock";
state_dir = "$TMP/state";
EOC
}

# agent_cleanup [NETNS]: the agent stopped, its enforcement unloaded (in
# NETNS when given: where its tc filter and helper devices are), the test
# network, the pins' bpffs and $TMP removed. For `trap ... EXIT`.
agent_cleanup() {
	stop_agent
	if [ -n "${1:-}" ] && [ -e /run/netns/"$1" ]; then
		nsenter --net=/run/netns/"$1" "$DFD" --unload --config "$TMP/agent.conf" >/dev/null 2>&1
	else
		"$DFD" --unload --config "$TMP/agent.conf" >/dev/null 2>&1
	fi
	net_cleanup
	mountpoint -q "$PIN" && umount "$PIN"
	rm -rf "$TMP"
}

# mark_log: later wait_log calls look only at what the agent logs after now
mark_log() { stat -c %s "$TMP/agent.log" 2>/dev/null > "$TMP/log.mark" || echo 0 > "$TMP/log.mark"; }

# push FILE: the way configuration management does it, rename into place
push() {
	mark_log
	cp "$1" "$TMP/etc/.policy.tmp" && mv "$TMP/etc/.policy.tmp" "$TMP/etc/policy.conf"
}

# wait_log TEXT: until the agent's log has TEXT since the mark (bounded: 5 s)
wait_log() {
	local from
	from=$(cat "$TMP/log.mark" 2>/dev/null || echo 0)
	for _ in $(seq 250); do
		tail -c +"$((from + 1))" "$TMP/agent.log" | grep -qF -- "$1" && return 0
		sleep 0.02
	done
	echo "agent log never said: $1"; tail -5 "$TMP/agent.log"; return 1
}

# The agent's pid lives in a file: cases run in subshells (tests/lib/cases.sh).
# It runs in a cgroup of the test's own ($CG/agent, as systemd gives a
# service one): its canary's cgroup is made there, and goes with $CG.
start_agent() {
	mark_log
	mkdir -p "$CG/agent"
	bash -c 'echo $$ > "$0/cgroup.procs" && exec nsenter --net=/run/netns/"$1" "${@:2}"' \
		"$CG/agent" "$NSA" "$DFD" --foreground --config "$TMP/agent.conf" >>"$TMP/agent.log" 2>&1 &
	echo $! > "$TMP/agent.pid"
}

agent_pid() { cat "$TMP/agent.pid" 2>/dev/null || true; }

# A case that stops the agent sets `trap ensure_agent EXIT`: the cases after
# it find the agent running even when one of its checks failed.
ensure_agent() {
	[ -z "$(agent_pid)" ] || return 0
	start_agent
	wait_log "policy loaded (start)"
}

stop_agent() {
	local pid
	pid=$(agent_pid)
	[ -n "$pid" ] || return 0
	kill "${1:--TERM}" "$pid" 2>/dev/null || true
	for _ in $(seq 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
	# an agent that does not stop (a hung loop: what a test may find) is
	# killed, so nothing of the test outlives it
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
	fi
	rm -f "$TMP/agent.pid"
}
