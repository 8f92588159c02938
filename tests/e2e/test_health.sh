#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Health as proof and the dead-man posture (root, BPF backend; docs/agent.md
# "Health" and "Posture"). Each cause is produced for real and must turn
# `status` non-zero naming it; the agent repairs what can be repaired (it is
# stopped with SIGSTOP while the harm is done, so status, reading the kernel
# itself, sees it first); then status is back to 0. With stale_after = 3 and
# stale_posture = "drop-protected", a killed agent and an expired policy make
# protected traffic fail with agent-stale / policy-expired.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
FOREIGN=$PWD/$O/tests/live/dfforeign
agent_suite health

# The CLI in namespace A, where the agent and its interface are.
ctl() { nsenter --net=/run/netns/"$NSA" "$CTL" --socket "$TMP/control.sock" --pin-dir "$PIN/pins" "$@"; }
in_a() { nsenter --net=/run/netns/"$NSA" "$@"; }

# policy SERIAL [EXTRA-POLICY-KEYS] [EXTRA-CLASS]
policy() {
	cat <<EOP
policy = { name = "health"; serial = $1; ${2:-} };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } ${3:-} );
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ];
  ports = ( 5001 ); allow = [ "t" ]; } );
EOP
}

SERIAL=1
push_policy() {
	SERIAL=$(cat "$TMP/serial" 2>/dev/null || echo 1)
	SERIAL=$((SERIAL + 1))
	echo "$SERIAL" > "$TMP/serial"
	policy "$SERIAL" "$@" > "$TMP/p.conf"
	push "$TMP/p.conf"
	wait_log "policy loaded (file changed): 'health' serial $SERIAL"
}

# health_conf DROP_LOG [LINE...]: the suite's agent.conf, with these lines
health_conf() {
	agent_conf bpf "$1"
	echo 'drop_log_keep = 2;'
	echo 'stale_after = 3;'
	echo 'stale_posture = "drop-protected";'
	printf '%s\n' "${@:2}"
}

# restart_with DROP_LOG [LINE...]: the agent restarted with that conf
restart_with() {
	stop_agent
	health_conf "$@" > "$TMP/agent.conf"
	start_agent
	wait_log "policy loaded (start)"
}

# the suite's own agent again (for `trap ... EXIT`)
restore_agent() { restart_with "$TMP/log/drops.jsonl" 'drop_log_max_mb = 1;'; }

setup() {
	net_setup && mkdir -p "$TMP/etc" "$TMP/log" "$PIN" && mount -t bpf bpf "$PIN" || return 1
	health_conf "$TMP/log/drops.jsonl" 'drop_log_max_mb = 1;' > "$TMP/agent.conf"
	echo 1 > "$TMP/serial"
	policy 1 > "$TMP/etc/policy.conf"
	start_agent
	wait_log "policy loaded (start): 'health' serial 1"
}

# status_rc: status's exit code (5 when the agent does not answer)
status_rc() { local rc=0; ctl status > "$TMP/status.txt" || rc=$?; echo "$rc"; }

# until_status RC [SECONDS]: status exits RC within 6 s (the agent checks
# every 2 s; its canary runs every 10 s)
until_status() {
	local rc
	for _ in $(seq $((${2:-6} * 5))); do
		rc=$(status_rc)
		[ "$rc" = "$1" ] && return 0
		sleep 0.2
	done
	echo "status never exited $1 (last $rc):"; cat "$TMP/status.txt"; return 1
}

# named TEXT: the last status output names TEXT among its causes
named() { expect_contains "status names it" "- $1" "$(cat "$TMP/status.txt")"; }

# harm_while_stopped CMD...: the agent stopped, the harm done; status, reading
# the kernel, says what is wrong (agent down: exit 5); then the agent goes on
harm_while_stopped() {
	kill -STOP "$(agent_pid)"
	"$@"
	expect_eq "status with the agent stopped" 5 "$(status_rc)"
	mark_log
	kill -CONT "$(agent_pid)"
}

healthy_with_its_heartbeat() {
	until_status 0
	local st
	st=$(ctl --json status || true)
	expect_eq "health" healthy "$(jq -r .health <<<"$st")"
	expect_eq "fresh heartbeat" true "$(jq '.bpf.heartbeat.age_s <= 2' <<<"$st")"
	expect_eq "its threshold" 3 "$(jq .bpf.heartbeat.stale_after <<<"$st")"
	expect_eq "approved" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
}

a_selector_cgroup_that_does_not_exist_is_named() {
	push_policy "" ", { name = \"ghost\"; match = { cgroups = [ \"$CGREL/ghost\" ]; }; }"
	until_status 1
	named "selector not found: class ghost: cgroup $CGREL/ghost does not exist"
	mkdir "$CG/ghost"
	until_status 0
	rmdir "$CG/ghost"
	push_policy
	until_status 0
}

a_foreign_tc_filter_ahead_is_named() {
	# ours as a clsact filter (tc_attach = "clsact": what a kernel without
	# tcx gets), and a classic BPF filter that matches everything, at a
	# priority before ours: it ends classification, ours never runs
	trap restore_agent EXIT
	restart_with "$TMP/log/drops.jsonl" 'drop_log_max_mb = 1;' 'tc_attach = "clsact";'
	expect_eq "ours is a clsact filter" 1 "$(in_a tc filter show dev "$VA" egress | grep -c 'df_tc')"
	in_a tc filter add dev "$VA" egress prio 1 protocol all bpf bytecode "1,6 0 0 4294967295,"
	until_status 1
	named "tc filter ahead of ours: $VA (priority 1, bpf)"
	in_a tc filter del dev "$VA" egress prio 1
	until_status 0
}

# ifindex of a device in namespace A
ifidx() { ip -n "$NSA" -j link show "$1" | jq '.[0].ifindex'; }

# our tcx link (pinned, first in the device's chain) as it stands
tcx_link_id() { bpftool -j link show pinned "$PIN/pins/link_tcx_$(ifidx "$VA")" | jq .id; }

a_tcx_program_ahead_is_named() {
	local rc=0
	in_a "$FOREIGN" tcx-attach "$VA" || rc=$?
	[ "$rc" != 3 ] || skip "this kernel has no tcx"
	expect_eq "tcx attached" 0 "$rc"
	until_status 1
	named "tcx program ahead of ours: $VA"
	in_a "$FOREIGN" tcx-detach "$VA"
	until_status 0
}

an_override_program_below_is_named() {
	"$FOREIGN" override-attach "$CG/prot"
	until_status 1
	named "foreign program with override: cgroup_skb program id"
	expect_contains "where" "at $CGREL/prot" "$(cat "$TMP/status.txt")"
	"$FOREIGN" override-detach "$CG/prot"
	until_status 0
}

a_detached_link_is_named_and_attached_again() {
	local id
	id=$(bpftool -j link show pinned "$PIN/pins/link_cgroup_skb" | jq .id)
	harm_while_stopped bpftool link detach id "$id"
	named "hook detached: cgroup_skb"
	wait_log "repaired: cgroup_skb was detached from the cgroup; attached again"
	until_status 0
	expect_eq "attached to a cgroup again" true \
		"$(bpftool -j link show pinned "$PIN/pins/link_cgroup_skb" | jq '.cgroup_id != 0')"
}

our_tc_program_detached_is_named_and_attached_again() {
	local id
	id=$(tcx_link_id)
	expect_eq "our tcx link is pinned" true "$([ -n "$id" ] && [ "$id" != null ] && echo true)"
	harm_while_stopped bpftool link detach id "$id"
	named "tc filter missing: $VA"
	wait_log "repaired: our tc program on $VA was gone; attached again"
	until_status 0
	expect_eq "a new tcx link pinned" true "$(id2=$(tcx_link_id); [ -n "$id2" ] && [ "$id2" != "$id" ] && echo true)"
}

# the devices df_ifaces describes for tc; is device IDX's tcx link pinned
described() { bpftool -j map dump pinned "$PIN/pins/df_ifaces" | jq -c '[.[].formatted.key] | sort'; }
pinned() { [ -e "$PIN/pins/link_tcx_$1" ] && echo yes || echo no; }
# our programs in the tcx egress chain of device NAME (the kernel's answer)
tcx_on() { in_a "$FOREIGN" tcx-names "$1" | grep -c '^df_tc$' || true; }

# restart_ifaces NAME...: the agent restarted with tc on these interfaces
restart_ifaces() {
	local IFACES
	IFACES=$(printf '"%s", ' "$@")
	IFACES=${IFACES%, }
	restart_with "$TMP/log/drops.jsonl" 'drop_log_max_mb = 1;'
}

an_interface_left_out_of_agent_conf_loses_our_tc_program() {
	local idx
	trap 'in_a ip link del dfdum0 2>/dev/null || true; restore_agent' EXIT
	in_a ip link add dfdum0 type veth peer name dfdum0p
	in_a ip link set dfdum0 up
	idx=$(ifidx dfdum0)
	restart_ifaces "$VA" dfdum0
	expect_eq "ours on dfdum0" 1 "$(tcx_on dfdum0)"
	expect_eq "dfdum0 described" true "$(described | jq --argjson i "$idx" 'index($i) != null')"
	# agent.conf names only $VA again
	restore_agent
	wait_log "took tc egress off dfdum0 (ifindex $idx): not among agent.conf's interfaces"
	expect_eq "ours on dfdum0" 0 "$(tcx_on dfdum0)"
	expect_eq "its pin" no "$(pinned "$idx")"
	expect_eq "dfdum0 described" false "$(described | jq --argjson i "$idx" 'index($i) != null')"
	expect_eq "ours on $VA still" 1 "$(tcx_on "$VA")"
	until_status 0
}

# Containers make and remove interfaces all day: each one tc was attached
# to leaves nothing behind once it is gone (df_ifaces holds 1,024: a leak
# would end with tc attaching to no new interface).
deleted_interfaces_leave_nothing_behind() {
	local before idx=() i r n
	trap 'for i in 0 1 2 3; do in_a ip link del "dfchurn$i" 2>/dev/null || true; done; restore_agent' EXIT
	restart_ifaces "$VA" dfchurn0 dfchurn1 dfchurn2 dfchurn3
	before=$(described)
	for r in 1 2 3; do
		mark_log
		for i in 0 1 2 3; do
			in_a ip link add "dfchurn$i" type veth peer name "dfchurn${i}p"
			idx[i]=$(ifidx "dfchurn$i")
		done
		for i in 0 1 2 3; do wait_log "attached tc egress to dfchurn$i (ifindex ${idx[i]})"; done
		n=0
		for i in 0 1 2 3; do n=$((n + $(tcx_on "dfchurn$i"))); done
		expect_eq "round $r: attached" 4 "$n"
		for i in 0 1 2 3; do in_a ip link del "dfchurn$i"; done
		for i in 0 1 2 3; do wait_log "interface ${idx[i]} went away"; done
		expect_eq "round $r: described as before" "$before" "$(described)"
		for i in 0 1 2 3; do
			expect_eq "round $r: pin of dfchurn$i" no "$(pinned "${idx[i]}")"
		done
	done
	# (status names the four as not attached while agent.conf names them)
	restore_agent
	until_status 0
}

removed_pins_are_named_and_pinned_again() {
	harm_while_stopped rm -rf "$PIN/pins"
	named "pins missing: $PIN/pins is gone"
	wait_log "repaired: pinned again in $PIN/pins"
	until_status 0
	[ -e "$PIN/pins/df_state" ] && [ -e "$PIN/pins/link_cgroup_skb" ]
}

a_stopped_heartbeat_is_named() {
	kill -STOP "$(agent_pid)"
	sleep 4
	expect_eq "status with the agent stopped" 5 "$(status_rc)"
	named "heartbeat stale: older than 3 s"
	kill -CONT "$(agent_pid)"
	until_status 0
}

# until_flow CG PORT WANT: the flow's result becomes WANT within 6 s
until_flow() {
	local out
	for _ in $(seq 30); do
		out=$(flow "$1" udp 192.0.2.2 "$2")
		[ "$out" = "$3" ] && break
		sleep 0.2
	done
	echo "$out"
}

# reason_count HOOK REASON: packets counted with REASON (the pinned counters)
reason_count() {
	ctl --json counters | jq --arg h "$1" --arg r "$2" \
		'[.counters[] | select(.hook == $h and .reason == $r) | .packets] | add // 0'
}

a_killed_agent_makes_protected_traffic_fail_with_agent_stale() {
	trap ensure_agent EXIT
	expect_eq "approved before" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
	stop_agent -KILL
	local t0=$SECONDS
	expect_eq "approved, agent dead" "EPERM 0" "$(until_flow prot 5001 "EPERM 0")"
	expect_eq "within 5 s" true "$([ $((SECONDS - t0)) -le 5 ] && echo true || echo false)"
	expect_eq "unprotected traffic still passes" "sent 1" "$(flow free udp 192.0.2.2 5009)"
	[ "$(reason_count sendmsg agent-stale)" -ge 1 ] || { echo "no agent-stale counted"; ctl counters; return 1; }
	ensure_agent
	expect_eq "approved again with the agent back" "sent 1" "$(until_flow prot 5001 "sent 1")"
}

an_expired_policy_makes_protected_traffic_fail_with_policy_expired() {
	local exp
	exp=$(date -u -d "@$(($(date +%s) + 3))" +%Y-%m-%dT%H:%M:%SZ)
	push_policy "expires = \"$exp\";"
	expect_eq "approved before expiry" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "approved after expiry" "EPERM 0" "$(until_flow prot 5001 "EPERM 0")"
	[ "$(reason_count sendmsg policy-expired)" -ge 1 ] || { echo "no policy-expired counted"; ctl counters; return 1; }
	push_policy
	expect_eq "a fresh policy approves again" "sent 1" "$(until_flow prot 5001 "sent 1")"
}

keep_posture_changes_nothing() {
	trap ensure_agent EXIT
	stop_agent
	sed -i 's/"drop-protected"/"keep"/' "$TMP/agent.conf"
	ensure_agent
	stop_agent -KILL
	sleep 4
	expect_eq "approved, agent dead 4 s, keep" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "refused as ever" "EPERM 0" "$(flow prot udp 192.0.2.2 5002)"
	sed -i 's/"keep"/"drop-protected"/' "$TMP/agent.conf"
	ensure_agent
}

# The audit trail: who reloaded (control socket, SIGHUP) or unloaded, in
# the drop log and the agent's log; refused pushes counted by cause.
changes_are_audited_and_refusals_counted() {
	trap ensure_agent EXIT
	local pid rec
	ctl reload > /dev/null
	rec=$(drop_records | grep '"audit":"reload"' | tail -n 1)
	expect_eq "reload by root" "0 accepted true" "$(jq -r '"\(.uid) \(.result) \(.pid > 0)"' <<<"$rec")"
	mark_log
	pid=$BASHPID
	kill -HUP "$(agent_pid)"
	wait_log "audit: reload (SIGHUP) by uid 0 (pid $pid)"
	echo 'policy = { name = "broken"; serial = 99; ' > "$TMP/bad.conf"
	push "$TMP/bad.conf"
	wait_log "policy push refused (file changed)"
	local st
	st=$(ctl --json status || true)
	expect_eq "refused by cause" 1 "$(jq '.pushes.refused.invalid' <<<"$st")"
	expect_contains "metrics" 'datafence_pushes_total{result="refused",cause="invalid"} 1' \
		"$(ctl metrics || true)"
	expect_contains "health in metrics" 'datafence_health_reason{cause="last push refused",detail=""} 1' \
		"$(ctl metrics || true)"
	push_policy
	# unload through the agent: audited, enforcement gone, the agent stopped
	local out
	out=$(ctl unload --yes)
	expect_contains "unloaded" "enforcement removed: hooks detached, $PIN/pins unpinned" "$out"
	for _ in $(seq 100); do kill -0 "$(agent_pid)" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$(agent_pid)" 2>/dev/null && { echo "the agent still runs after unload"; return 1; }
	rm -f "$TMP/agent.pid"
	expect_eq "audited" "0 done" \
		"$(drop_records | grep '"audit":"unload"' | tail -n 1 | jq -r '"\(.uid) \(.result)"')"
	[ ! -e "$PIN/pins/df_state" ] || { echo "pins remain"; return 1; }
	expect_eq "no hooks of ours at the root" 0 "$(bpftool cgroup show "$CGROOT" | grep -c df_ || true)"
	ensure_agent
	until_status 0
}

# What no check of attachments can see: the canary's own selector taken
# out of the active tables behind the agent's back (a tool writing our
# maps). Its datagram then goes out of its namespace's loopback: status
# names it, enforcement is not proven (no heartbeat); a push rebuilds the
# tables and the canary is refused again.
the_canary_sees_broken_tables() {
	local gen inner ino bytes st
	until_status 0
	st=$(ctl --json status)
	expect_eq "the canary" "true refused" "$(jq -r '"\(.canary.enabled) \(.canary.result)"' <<<"$st")"
	expect_eq "its cgroup" "$CGREL/agent/datafence-canary" "$(jq -r .canary.cgroup <<<"$st")"
	gen=$(bpftool -j map lookup pinned "$PIN/pins/df_state" key 0 0 0 0 | jq -r .formatted.value.gen)
	inner=$(bpftool -j map lookup pinned "$PIN/pins/df_sel_o" key "$gen" 0 0 0 |
		jq -r '.value | reverse | join("") | gsub("0x"; "")')
	ino=$(stat -c %i "$CG/agent/datafence-canary")
	bytes=$(printf '%016x' "$ino" | sed 's/../& /g' | awk '{ for (i = NF; i > 0; i--) printf "0x%s ", $i }')
	# shellcheck disable=SC2086 # the key's bytes, one word each
	bpftool map delete id "$((16#$inner))" key 2 0 0 0 0 0 0 0 $bytes
	until_status 1 14
	named "canary not refused: sent: the datagram to 203.0.113.254:9 was not refused"
	wait_log "enforcement not proven: the heartbeat stops"
	push_policy
	until_status 0 14
	expect_eq "approved again" "sent 1" "$(until_flow prot 5001 "sent 1")"
	expect_eq "the canary is not the operator's" 0 \
		"$(ctl --json counters | jq '[.counters[] | select(.class == "(canary)")] | length')"
	[ -z "$(drop_records | grep -F '(canary)' || true)" ] || { echo "canary drops in the drop log"; return 1; }
}

# A drop storm over distinct flows (10.99.0.0/24, routed to a blackhole):
# every drop counted, nothing lost, what is over the event budget counted
# apart (not sent), and the drop log holds at most the budget's worth.
a_drop_storm_is_counted_not_lost() {
	local before out sent over c0
	before=$(ctl --json status)
	c0=$(storm_drops)
	out=$(in_ns_cg prot "$NSA" "$DFNET" udp-storm 10.99.0 1000000)
	expect_eq "refused at sendmsg" "sent 0 eperm 1000000 other 0" "$out"
	storm_accounted "$before" "$c0" 1000000
	sent=$SENT over=$OVER
	# the budget (2000 a second, a second's burst) for a storm of a few seconds
	[ "$sent" -le 30000 ] || { echo "too many events sent: $sent"; return 1; }
	# with drop_log_max_mb = 1 (2 rotated files kept) the log directory
	# stays under 1 MiB however many records came
	local used
	used=$(du -sb "$TMP/log" | cut -f1)
	[ "$used" -le $((1 << 20)) ] || { echo "log directory $used bytes"; ls -l "$TMP/log"; return 1; }
	[ -e "$TMP/log/drops.jsonl.1" ] || { echo "never rotated"; ls -l "$TMP/log"; return 1; }
	# the storm's last summary is there (written within a second)
	sleep 1.5
	[ -n "$(drop_records | grep -F '"summary":"drop-storm"' || true)" ] ||
		{ echo "no storm summary in the capped log"; return 1; }
}

# A storm of 1,000,000 drops over distinct flows, the drop log uncapped:
# every drop counted, none lost; the log holds the events the budget let
# through one by one, and a summary a second whose counts add up to the
# events over the budget; status answers all along.
a_million_drop_storm_is_summarised() {
	trap restore_agent EXIT
	rm -f "$TMP"/log/drops.jsonl*
	restart_with "$TMP/log/drops.jsonl" 'drop_log_max_mb = 0;'
	local before c0 sent over t0 t1 spid answers=0 secs log
	before=$(ctl --json status)
	c0=$(storm_drops)
	t0=$(date +%s%N)
	in_ns_cg prot "$NSA" "$DFNET" udp-storm 10.99.0 1000000 > "$TMP/storm.out" &
	spid=$!
	while kill -0 "$spid" 2>/dev/null; do
		[ "$(ctl --json status | jq -r .source)" = agent ] && answers=$((answers + 1))
		sleep 0.1
	done
	wait "$spid"
	t1=$(date +%s%N)
	expect_eq "refused at sendmsg" "sent 0 eperm 1000000 other 0" "$(cat "$TMP/storm.out")"
	[ "$answers" -ge 3 ] || { echo "status answered $answers times during the storm"; return 1; }
	sleep 2.5 # the last second's summary
	storm_accounted "$before" "$c0" 1000000
	sent=$SENT over=$OVER
	[ "$over" -gt 900000 ] || { echo "over the budget: $over (sent $sent)"; return 1; }
	log=$TMP/log/drops.jsonl
	# one by one: what the budget let through (2000 a second, a second's
	# burst), every one of them
	secs=$(( (t1 - t0 + 999999999) / 1000000000 + 1 ))
	local records
	records=$(jq -c 'select(.hook and (.classes | index("t")))' "$log" | wc -l)
	[ "$records" -le $((2000 * (secs + 1))) ] ||
		{ echo "$records records one by one in $secs s"; return 1; }
	[ "$records" -ge $((sent - 2)) ] && [ "$records" -le "$sent" ] ||
		{ echo "$records records one by one, $sent events sent"; return 1; }
	# the summaries: one a second at most, adding up exactly
	local n sum sum_t
	n=$(jq -c 'select(.summary == "drop-storm")' "$log" | wc -l)
	[ "$n" -ge 1 ] && [ "$n" -le $((secs + 3)) ] || { echo "$n summaries in $secs s"; return 1; }
	sum=$(jq -s '[.[] | select(.summary == "drop-storm") | .suppressed] | add' "$log")
	expect_eq "the summaries add up to the events over the budget" "$over" "$sum"
	sum_t=$(jq -s '[.[] | select(.summary == "drop-storm") | .counts[] |
		select(.class == "t" and .hook == "sendmsg" and .reason == "no-destination") | .drops] | add' "$log")
	expect_eq "all of them class t at sendmsg, no-destination" "$over" "$sum_t"
	expect_eq "over the budget: the kernel's" "$over" \
		"$(jq -s '[.[] | select(.summary == "drop-storm") | .over_budget] | add' "$log")"
	# who and where: the sender named; every flow a new destination, so
	# each summary's estimate of distinct destinations is near its count
	expect_eq "the sender" dfnet "$(jq -r 'select(.summary == "drop-storm") | .processes[0].comm' "$log" | sort -u)"
	jq -c 'select(.summary == "drop-storm" and .suppressed >= 5000) |
		[.suppressed, .destinations.distinct]' "$log" > "$TMP/distinct.txt"
	[ -s "$TMP/distinct.txt" ] || { echo "no summary of 5000 drops or more"; return 1; }
	if jq -e 'select(.[1] < .[0] * 0.85 or .[1] > .[0] * 1.15)' "$TMP/distinct.txt" >/dev/null; then
		echo "distinct destinations far from the flows (suppressed, estimate):"; cat "$TMP/distinct.txt"; return 1
	fi
	expect_eq "no summary once the storm is over" "$n" \
		"$(sleep 2; jq -c 'select(.summary == "drop-storm")' "$log" | wc -l)"
}

# Below the free-space floor of the log's filesystem only summaries are
# written: the drops are in them, counted, and status says so.
below_the_free_space_floor_only_summaries_are_written() {
	trap 'restore_agent; umount "$TMP/small" 2>/dev/null' EXIT
	mkdir -p "$TMP/small"
	mount -t tmpfs -o size=4m,mode=0755 tmpfs "$TMP/small"
	restart_with "$TMP/small/drops.jsonl" 'drop_log_min_free_mb = 8;'
	wait_log "below the floor of 8 MiB: only summaries are written"
	local out st
	out=$(in_ns_cg prot "$NSA" "$DFNET" udp-storm 10.99.0 20)
	expect_eq "refused" "sent 0 eperm 20 other 0" "$out"
	sleep 2.5
	st=$(ctl --json status)
	expect_eq "status says so" true "$(jq .files.drop_log.summaries_only <<<"$st")"
	expect_contains "a warning" "only summaries are written" "$(jq -r '.warnings[]' <<<"$st")"
	expect_eq "folded" 20 "$(jq .files.drop_log.folded <<<"$st")"
	expect_eq "no record one by one" 0 "$(jq -c 'select(.hook)' "$TMP/small/drops.jsonl" | wc -l)"
	expect_eq "the summaries hold them" "20 20" \
		"$(jq -s '[.[] | select(.summary == "drop-storm")] | "\(map(.folded) | add) \(map(.counts[] | select(.class == "t") | .drops) | add)"' -r "$TMP/small/drops.jsonl")"
	expect_eq "datafencectl drops still shows them" 20 \
		"$(ctl drops --json --class t --limit 1000 | jq -c 'select(.dst | startswith("10.99.0."))' | wc -l)"
}

# Under systemd (stderr is the journal stream, syslog = true) each message
# reaches the journal once, through libsystemd with its priority, and a drop
# record's line carries the record's keys as fields; nothing goes to stderr
# besides. The journal here is a listener of the test's own on
# /run/systemd/journal/socket in a private mount namespace (a tmpfs on /run)
# where the agent runs.
messages_reach_the_journal_once() {
	trap 'kill "$(cat "$TMP/journal.pid" 2>/dev/null)" 2>/dev/null; restore_agent' EXIT
	stop_agent
	health_conf "$TMP/log/drops.jsonl" 'drop_log_max_mb = 1;' | sed 's/^syslog = false;/syslog = true;/' > "$TMP/agent.conf"
	: > "$TMP/journal.jsonl"
	mark_log
	local from
	from=$(cat "$TMP/log.mark")
	JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/agent.log") \
	bash -c 'echo $$ > "$0/cgroup.procs" && exec nsenter --net=/run/netns/"$1" unshare -m --propagation private bash -c "$2" "${@:3}"' \
		"$CG/agent" "$NSA" '
		mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/systemd/journal || exit 1
		/usr/bin/python3 "$0" /run/systemd/journal/socket "$1" & echo $! > "$2"
		for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.02; done
		exec "${@:3}"' "$PWD/tests/e2e/journal_listener.py" "$TMP/journal.jsonl" "$TMP/journal.pid" \
		"$DFD" --foreground --config "$TMP/agent.conf" >>"$TMP/agent.log" 2>&1 &
	echo $! > "$TMP/agent.pid"
	local loaded
	loaded=$(journal_wait 'select(.MESSAGE | startswith("policy loaded (start)"))') ||
		{ echo "no policy loaded message in the journal:"; tail "$TMP/agent.log"; return 1; }
	expect_eq "its priority and identifier" "5 datafenced" "$(jq -r '"\(.PRIORITY) \(.SYSLOG_IDENTIFIER)"' <<<"$loaded")"
	expect_eq "once" 1 "$(jq -c 'select(.MESSAGE | startswith("policy loaded (start)"))' "$TMP/journal.jsonl" | wc -l)"
	expect_eq "nothing on stderr" "" "$(tail -c +"$((from + 1))" "$TMP/agent.log")"
	out=$(in_ns_cg prot "$NSA" "$DFNET" udp-storm 10.99.0 1)
	expect_eq "refused" "sent 0 eperm 1 other 0" "$out"
	local rec
	rec=$(journal_wait 'select(.DATAFENCE_HOOK == "sendmsg" and .DATAFENCE_DST == "10.99.0.1")') ||
		{ echo "no drop in the journal"; return 1; }
	expect_eq "the drop's fields" '4 no-destination ["t"] 1 1024' \
		"$(jq -r '"\(.PRIORITY) \(.DATAFENCE_REASON) \(.DATAFENCE_CLASSES) \(.DATAFENCE_SCHEMA) \(.DATAFENCE_DPORT)"' <<<"$rec")"
	expect_contains "its message" "-> 10.99.0.1:1024 reason no-destination class t hook sendmsg" "$(jq -r .MESSAGE <<<"$rec")"
	expect_eq "still nothing on stderr" "" "$(tail -c +"$((from + 1))" "$TMP/agent.log")"
}

# journal_wait JQ-FILTER: the journal entries the filter keeps, once there
# are any (bounded: 5 s); fails printing what the journal got otherwise
journal_wait() {
	local got
	for _ in $(seq 250); do
		got=$(jq -c "$1" "$TMP/journal.jsonl")
		[ -n "$got" ] && { echo "$got"; return 0; }
		sleep 0.02
	done
	cat "$TMP/journal.jsonl" >&2
	return 1
}

# the drop log and its rotated files, oldest first
drop_records() { cat "$TMP/log/drops.jsonl.2" "$TMP/log/drops.jsonl.1" "$TMP/log/drops.jsonl" 2>/dev/null; }

# storm_accounted STATUS-BEFORE DROPS-BEFORE N: after a storm of N drops
# over distinct flows, every one counted and none lost; each sent or over
# the budget (the per-flow limiter folds none; the totals are the agent's,
# so its canary, one datagram every 10 s refused like any drop, may add one
# or two). Sets SENT and OVER.
storm_accounted() {
	local after lost
	after=$(ctl --json status)
	SENT=$(( $(jq .events.sent <<<"$after") - $(jq .events.sent <<<"$1") ))
	OVER=$(( $(jq .events.over_budget <<<"$after") - $(jq .events.over_budget <<<"$1") ))
	lost=$(( $(jq .events.lost <<<"$after") - $(jq .events.lost <<<"$1") ))
	expect_eq "every drop counted" "$3" $(( $(storm_drops) - $2 ))
	expect_eq "nothing lost" 0 "$lost"
	[ "$OVER" -gt 0 ] || { echo "nothing over the budget (sent $SENT)"; return 1; }
	[ $((SENT + OVER)) -ge "$3" ] && [ $((SENT + OVER)) -le $(($3 + 2)) ] ||
		{ echo "sent $SENT + over budget $OVER is not the $3 drops (+ the canary's)"; return 1; }
}

# drops of class t at sendmsg so far (the pinned counters)
storm_drops() {
	ctl --json counters | jq '[.counters[] | select(.class == "t" and .hook == "sendmsg" and .verdict == "drop") | .packets] | add // 0'
}

# systemd's notify protocol (Type=notify, WatchdogSec): READY=1 once the
# policy is enforced and proven, WATCHDOG=1 every second after.
readiness_and_watchdog_reach_systemd() {
	trap ensure_agent EXIT
	stop_agent
	/usr/bin/python3 - "$TMP/notify.sock" > "$TMP/notify.out" <<'EOP' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
print("ready", flush=True)
end, ready, dogs = time.time() + 30, 0, 0
while time.time() < end and (not ready or dogs < 3):
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        continue
    ready += "READY=1" in m
    dogs += m == "WATCHDOG=1"
    print(m.replace("\n", "|"), flush=True)
EOP
	local lpid=$!
	for _ in $(seq 100); do grep -q ready "$TMP/notify.out" && break; sleep 0.05; done
	NOTIFY_SOCKET=$TMP/notify.sock start_agent
	wait_log "policy loaded (start)"
	wait "$lpid"
	expect_eq "READY=1 once: $(cat "$TMP/notify.out"; ctl status)" 1 "$(grep -c 'READY=1' "$TMP/notify.out")"
	[ "$(grep -c '^WATCHDOG=1' "$TMP/notify.out")" -ge 3 ] ||
		{ echo "too few WATCHDOG=1:"; cat "$TMP/notify.out"; return 1; }
}

if ! setup; then echo "FAIL health setup"; cat "$TMP/agent.log"; exit 1; fi
run_case healthy_with_its_heartbeat healthy_with_its_heartbeat
run_case a_selector_cgroup_that_does_not_exist_is_named a_selector_cgroup_that_does_not_exist_is_named
run_case a_foreign_tc_filter_ahead_is_named a_foreign_tc_filter_ahead_is_named
run_case a_tcx_program_ahead_is_named a_tcx_program_ahead_is_named
run_case an_override_program_below_is_named an_override_program_below_is_named
run_case a_detached_link_is_named_and_attached_again a_detached_link_is_named_and_attached_again
run_case our_tc_program_detached_is_named_and_attached_again our_tc_program_detached_is_named_and_attached_again
run_case an_interface_left_out_of_agent_conf_loses_our_tc_program \
	an_interface_left_out_of_agent_conf_loses_our_tc_program
run_case deleted_interfaces_leave_nothing_behind deleted_interfaces_leave_nothing_behind
run_case removed_pins_are_named_and_pinned_again removed_pins_are_named_and_pinned_again
run_case a_stopped_heartbeat_is_named a_stopped_heartbeat_is_named
run_case the_canary_sees_broken_tables the_canary_sees_broken_tables
run_case a_drop_storm_is_counted_not_lost a_drop_storm_is_counted_not_lost
run_case a_million_drop_storm_is_summarised a_million_drop_storm_is_summarised
run_case below_the_free_space_floor_only_summaries_are_written \
	below_the_free_space_floor_only_summaries_are_written
run_case a_killed_agent_makes_protected_traffic_fail_with_agent_stale \
	a_killed_agent_makes_protected_traffic_fail_with_agent_stale
run_case an_expired_policy_makes_protected_traffic_fail_with_policy_expired \
	an_expired_policy_makes_protected_traffic_fail_with_policy_expired
run_case keep_posture_changes_nothing keep_posture_changes_nothing
run_case changes_are_audited_and_refusals_counted changes_are_audited_and_refusals_counted
run_case readiness_and_watchdog_reach_systemd readiness_and_watchdog_reach_systemd
run_case messages_reach_the_journal_once messages_reach_the_journal_once
exit 0
