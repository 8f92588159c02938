#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End-to-end (root): the real datafenced with a test config, real traffic
# between two network namespaces. The agent attaches at the cgroup2 root as
# in production; its policies classify only this test's own cgroups.
# BACKEND=bpf|nftables|both (default bpf) picks the agent's backend; the
# agent runs in namespace A, where the nftables table then lives.
set -u
BACKEND=${BACKEND:-bpf}
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
DFNFT=$PWD/$O/tests/live/dfnft
bpf_on() { [ "$BACKEND" != nftables ]; }
nft_on() { [ "$BACKEND" != bpf ]; }
# a refused TCP connect: BPF's connect hook says EPERM at once; a dropped
# SYN (nftables) leaves the connect to time out
if bpf_on; then REFUSED_TCP="EPERM 0"; else REFUSED_TCP="timeout 0"; fi
# the hook of a refused connect's drop record
if bpf_on; then DROP_HOOK=connect; else DROP_HOOK=nftables; fi

agent_suite e2e
NFT_TABLE=dfe2e$ID
NFT_GROUP=$((20000 + ID % 40000))

# policy SERIAL PORT [EXTRA]: class t (prot), audit class a (audit), svc.
policy() {
	cat <<EOP
policy = { name = "e2e"; serial = $1; };
classes = (
  { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; },
  { name = "a"; mode = "audit"; match = { cgroups = [ "$CGREL/audit" ]; }; },
  { name = "svc"; match = { cgroups = [ "$CGREL/app.service" ]; }; },
  { name = "ctl"; match = { cgroups = [ "$CGREL/ctl" ]; }; }
);
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32", "2001:db8:d::2/128" ];
                   protocols = [ "tcp", "udp" ]; ports = ( $2 ); allow = [ "t", "a", "svc", "ctl" ]; } );
${3:-}
EOP
}

# packets counted under this test's classes (slots 0-3: t, a, svc, ctl),
# read from the kernel, not from the agent; the programs at the cgroup root
# count the rest of the host under other slots
counter_total() {
	if bpf_on; then
		# the slot of an index (cases.sh DF_REASONS)
		bpftool map dump pinned "$PIN/pins/df_counters" -j 2>/dev/null |
			jq --argjson per_slot $((3 * DF_REASONS)) \
				'[.[].formatted | select(((.key / $per_slot | floor) % 65) < 4) | .values[].value.packets] | add // 0'
	else
		nsenter --net=/run/netns/"$NSA" "$DFNFT" --table "$NFT_TABLE" counters |
			awk '$1 ~ /^df_c[0-3]_/ { s += $2 } END { print s + 0 }'
	fi
}

# the drop log's last record for a destination port
drop_for_port() { grep "\"dport\":$1," "$TMP/drops.jsonl" | tail -n 1; }

setup() {
	net_setup && mkdir -p "$CG/audit" "$CG/ctl" "$TMP/etc" "$PIN" && mount -t bpf bpf "$PIN" || return 1
	{
		agent_conf "$BACKEND" "$TMP/drops.jsonl"
		echo "nft_table = \"$NFT_TABLE\";"
		echo "nft_log_group = $NFT_GROUP;"
		echo "metrics_file = \"$TMP/datafence.prom\";"
	} > "$TMP/agent.conf"
	policy 1 5001 > "$TMP/etc/policy.conf"
	start_agent
	wait_log "policy loaded (start): 'e2e' serial 1"
}

approved_flows_pass_others_get_eperm() {
	expect_eq "udp v4 approved" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "tcp v4 approved" "connected 1" "$(flow prot tcp 192.0.2.2 5001)"
	expect_eq "udp v6 approved" "sent 1" "$(flow prot udp 2001:db8:d::2 5001)"
	expect_eq "tcp v6 approved" "connected 1" "$(flow prot tcp 2001:db8:d::2 5001)"
	expect_eq "tcp elsewhere" "$REFUSED_TCP" "$(flow prot tcp 192.0.2.2 5002)"
	expect_eq "udp v6 elsewhere" "EPERM 0" "$(flow prot udp 2001:db8:d::2 5002)"
	local rec
	# the TCP flow's record (the UDP one came after it)
	for _ in $(seq 100); do
		rec=$(grep '"dport":5002,' "$TMP/drops.jsonl" | grep '"proto":"tcp"' | head -1)
		[ -n "$rec" ] && break
		sleep 0.02
	done
	expect_eq "hook" "$DROP_HOOK" "$(jq -r .hook <<<"$rec")"
	expect_eq "verdict" drop "$(jq -r .verdict <<<"$rec")"
	expect_eq "reason" port-not-allowed "$(jq -r .reason <<<"$rec")"
	expect_eq "classes" '["t"]' "$(jq -c .classes <<<"$rec")"
	expect_eq "dst" 192.0.2.2 "$(jq -r .dst <<<"$rec")"
	expect_eq "proto" tcp "$(jq -r .proto <<<"$rec")"
	expect_eq "rule" "destination peer" "$(jq -r '"\(.rule.kind) \(.rule.name)"' <<<"$rec")"
	expect_eq "serial" 1 "$(jq -r .serial <<<"$rec")"
	expect_eq "policy" e2e "$(jq -r .policy <<<"$rec")"
	if bpf_on; then
		expect_eq "comm" dfnet "$(jq -r .comm <<<"$rec")"
		expect_eq "cgroup" "$CGREL/prot" "$(jq -r .cgroup <<<"$rec")"
		[ "$(jq -r .pid <<<"$rec")" -gt 0 ]
	else
		# NFLOG gives the socket's owner, not the process or its cgroup
		expect_eq "uid" 0 "$(jq -r .uid <<<"$rec")"
	fi
}

unclassified_process_passes() {
	expect_eq "free cgroup" "sent 1" "$(flow free udp 192.0.2.2 5002)"
}

audit_class_passes_and_logs_would_drop() {
	expect_eq "audit cgroup" "sent 1" "$(flow audit udp 192.0.2.2 5003)"
	local rec
	for _ in $(seq 100); do rec=$(drop_for_port 5003); [ -n "$rec" ] && break; sleep 0.02; done
	expect_eq "verdict" would-drop "$(jq -r .verdict <<<"$rec")"
	expect_eq "classes" '["a"]' "$(jq -c .classes <<<"$rec")"
}

loopback_passes() {
	expect_eq "loopback" "sent 1" "$(flow prot udp 127.0.0.1 5004)"
}

raw_and_af_packet_are_caught() {
	expect_eq "raw socket" "0" "$(flow prot raw 192.0.2.2 5002 | awk '{print $2}')"
	# AF_PACKET leaves below netfilter: only BPF's tc hook sees it
	bpf_on || return 0
	# the AF_PACKET sender may hear of the tc drop (ENOBUFS) or not; nothing arrives
	case $(flow prot packet 192.0.2.2 5002) in
	"sent 0" | "ENOBUFS 0") ;;
	*) echo "AF_PACKET to an unapproved port got through"; return 1 ;;
	esac
}

a_push_changes_behaviour_without_restart() {
	policy 2 5002 > "$TMP/p2.conf"
	push "$TMP/p2.conf"
	wait_log "policy loaded (file changed): 'e2e' serial 2"
	expect_eq "new port" "sent 1" "$(flow prot udp 192.0.2.2 5002)"
	expect_eq "old port" "EPERM 0" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "v4-mapped on a dual-stack socket, approved" "sent 1" "$(flow prot udp ::ffff:192.0.2.2 5002)"
	expect_eq "v4-mapped, unapproved" "EPERM 0" "$(flow prot udp ::ffff:192.0.2.2 5001)"
}

a_bad_push_is_refused_and_the_old_policy_enforces() {
	policy 3 5003 | sed 's|"192.0.2.2/32"|"192.0.2.2/24"|' > "$TMP/bad.conf"
	push "$TMP/bad.conf"
	wait_log "policy push refused (file changed)"
	wait_log "policy.conf:8: error: CIDR \"192.0.2.2/24\" in destination 'peer' has host bits set"
	expect_eq "old policy still allows" "sent 1" "$(flow prot udp 192.0.2.2 5002)"
	expect_eq "and still refuses" "EPERM 0" "$(flow prot udp 192.0.2.2 5003)"
}

an_older_serial_is_refused() {
	policy 1 5009 > "$TMP/old.conf"
	push "$TMP/old.conf"
	wait_log "serial 1 is not higher than the highest accepted 2"
	expect_eq "still serial 2" "sent 1" "$(flow prot udp 192.0.2.2 5002)"
}

# A drop storm over distinct flows, with each backend: every drop counted,
# none lost; what was over the event budget (BPF) or the report rate
# (nftables) summarised once a second, the summaries adding up exactly.
a_drop_storm_is_summarised() {
	# a route ahead of the blackhole: nftables judges packets after routing
	ip -n "$NSA" route add 10.99.0.0/24 dev "$VA"
	trap 'ip -n "$NSA" route del 10.99.0.0/24 dev "$VA" 2>/dev/null' EXIT
	local before after d0 d1 lost over from out hook
	before=$(ctl --json status || true) # exit 1 when degraded: the document is what counts
	d0=$(class_t_drops)
	from=$(wc -l < "$TMP/drops.jsonl")
	out=$(in_ns_cg prot "$NSA" "$DFNET" udp-storm 10.99.0 200000)
	expect_eq "refused" "sent 0 eperm 200000 other 0" "$out"
	sleep 2.5 # the last second's summary
	after=$(ctl --json status || true)
	d1=$(class_t_drops)
	lost=$(( $(jq .events.lost <<<"$after") - $(jq .events.lost <<<"$before") ))
	over=$(( $(jq .events.over_budget <<<"$after") - $(jq .events.over_budget <<<"$before") ))
	expect_eq "every drop counted" 200000 $((d1 - d0))
	expect_eq "nothing lost" 0 "$lost"
	[ "$over" -gt 100000 ] || { echo "over the budget or rate: $over"; return 1; }
	tail -n +"$((from + 1))" "$TMP/drops.jsonl" | jq -c 'select(.summary == "drop-storm")' > "$TMP/summaries"
	expect_eq "the summaries add up" "$over" "$(jq -s 'map(.suppressed) | add' "$TMP/summaries")"
	if bpf_on; then hook=sendmsg; else hook=nftables; fi
	expect_eq "class t at $hook, no-destination" "$over" "$(jq -s --arg h "$hook" '[.[].counts[] |
		select(.class == "t" and .hook == $h and .reason == "no-destination") | .drops] | add' "$TMP/summaries")"
}

# drops of class t (every hook and backend), from the counters
class_t_drops() {
	ctl --json counters | jq '[.counters[] | select(.class == "t" and .verdict == "drop") | .packets] | add // 0'
}

kill_9_keeps_enforcing_and_a_restart_adopts() {
	policy 3 5002 > "$TMP/p3.conf"
	push "$TMP/p3.conf"
	wait_log "serial 3"
	trap ensure_agent EXIT
	stop_agent -KILL
	expect_eq "agent dead, still refused" "EPERM 0" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "agent dead, still allowed" "sent 1" "$(flow prot udp 192.0.2.2 5002)"
	local before after
	before=$(counter_total)
	start_agent
	wait_log "policy loaded (start): 'e2e' serial 3"
	after=$(counter_total)
	[ "$after" -ge "$before" ] && [ "$before" -gt 0 ] || { echo "counters lost: $before -> $after"; return 1; }
	if bpf_on; then
		expect_eq "one cgroup_skb link" 1 "$(bpftool cgroup show "$CGROOT" | grep -c df_cgroup_skb)"
	fi
	expect_eq "after restart" "EPERM 0" "$(flow prot udp 192.0.2.2 5001)"
}

an_exception_closes_on_time_while_the_agent_is_stopped() {
	local exp
	exp=$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)
	policy 4 5002 "exceptions = ( { id = \"SEC-E2E\"; approved_by = \"sec\"; reason = \"e2e\"; class = \"t\";
  cidrs = [ \"192.0.2.2/32\" ]; protocols = [ \"udp\" ]; ports = ( 6000 ); expires = \"$exp\"; } );" > "$TMP/p4.conf"
	push "$TMP/p4.conf"
	wait_log "serial 4"
	expect_eq "exception open" "sent 1" "$(flow prot udp 192.0.2.2 6000)"
	trap ensure_agent EXIT
	stop_agent
	for _ in $(seq 60); do [ "$(date -u +%s)" -gt "$(date -u -d "$exp" +%s)" ] && break; sleep 0.1; done
	expect_eq "expired with the agent down" "EPERM 0" "$(flow prot udp 192.0.2.2 6000)"
	local rec
	start_agent
	wait_log "policy loaded (start): 'e2e' serial 4"
}

# until_refused CGROUP: a flow from CGROUP, retried until refused (bounded: 5 s)
until_refused() {
	local out
	for _ in $(seq 50); do
		out=$(flow "$1" udp 192.0.2.2 5005)
		[ "$out" = "EPERM 0" ] && break
		sleep 0.1
	done
	echo "$out"
}

a_service_cgroup_made_after_load_is_classified() {
	mkdir "$CG/app.service"
	expect_eq "new service cgroup" "EPERM 0" "$(until_refused app.service)"
	cg_remove "$CG/app.service"
	mkdir "$CG/app.service"   # restarted: a new cgroup, a new id
	expect_eq "recreated service cgroup" "EPERM 0" "$(until_refused app.service)"
}

# A process 40 cgroup levels deep (below the class's cgroup) is the class's:
# the datapath finds the selector among its ancestors.
a_process_40_cgroup_levels_deep_is_classified() {
	local rel=prot
	for i in $(seq 40); do rel=$rel/l$i; done
	mkdir -p "$CG/$rel"
	expect_eq "prot itself, elsewhere (the control)" "EPERM 0" "$(flow prot udp 192.0.2.2 5005)"
	expect_eq "40 levels below prot, elsewhere" "EPERM 0" "$(flow "$rel" udp 192.0.2.2 5005)"
	cg_remove "$CG/prot/l1"
}

a_deleted_then_recreated_policy_file_is_loaded() {
	rm "$TMP/etc/policy.conf"
	sleep 0.2
	expect_eq "deleting the file changes nothing" "sent 1" "$(flow prot udp 192.0.2.2 5002)"
	mark_log
	policy 5 5002 > "$TMP/etc/policy.conf"   # written in place, not renamed
	wait_log "policy loaded (file changed): 'e2e' serial 5"
}

sighup_reloads() {
	policy 6 5006 > "$TMP/p6.conf"
	# written through a descriptor kept open: no close, so the watch is
	# silent and only SIGHUP makes the agent read it
	mark_log
	exec 9>"$TMP/etc/policy.conf"
	cat "$TMP/p6.conf" >&9
	kill -HUP "$(agent_pid)"
	wait_log "policy loaded (SIGHUP): 'e2e' serial 6"
	exec 9>&-
	expect_eq "reloaded" "sent 1" "$(flow prot udp 192.0.2.2 5006)"
}

# nftables: a deleted table comes back within the agent's 10 s check
a_deleted_table_is_restored() {
	nft_on || return 0
	mark_log
	nsenter --net=/run/netns/"$NSA" nft delete table inet "$NFT_TABLE"
	for _ in $(seq 130); do grep -qF "table inet $NFT_TABLE restored" "$TMP/agent.log" && break; sleep 0.1; done
	wait_log "table inet $NFT_TABLE restored"
	if ! bpf_on; then
		expect_eq "refused again" "EPERM 0" "$(flow prot udp 192.0.2.2 5009)"
	fi
}

sigusr1_reopens_the_drop_log() {
	mv "$TMP/drops.jsonl" "$TMP/drops.jsonl.1"
	kill -USR1 "$(agent_pid)"
	sleep 0.2
	expect_eq "drop after rotation" "EPERM 0" "$(flow prot udp 192.0.2.2 5007)"
	for _ in $(seq 100); do [ -s "$TMP/drops.jsonl" ] && break; sleep 0.02; done
	expect_eq "new log has the drop" 5007 "$(jq -r .dport "$TMP/drops.jsonl" | tail -n 1)"
}

# a push that narrows ends the live connections it refuses (BPF: the socket
# iterators; nftables: sock_diag), and only those
a_push_ends_the_live_connections_it_refuses() {
	local bp=$PWD/tests/e2e/bypass.py held=() idle=() p
	policy 7 "5006, 5011" > "$TMP/p7.conf"
	push "$TMP/p7.conf"
	wait_log "serial 7"
	rm -f "$TMP/go"
	for p in 5006 5011; do
		nsenter --net=/run/netns/"$NSB" "$bp" hold "$p" 10 > "$TMP/hold.$p" &
		held+=($!)
	done
	for p in 5006 5011; do
		for _ in $(seq 250); do grep -q ready "$TMP/hold.$p" 2>/dev/null && break; sleep 0.02; done
		in_ns_cg prot "$NSA" "$bp" tcp-idle 192.0.2.2 "$p" "$TMP/go" > "$TMP/idle.$p" &
		idle+=($!)
		for _ in $(seq 250); do grep -q connected "$TMP/idle.$p" 2>/dev/null && break; sleep 0.02; done
	done
	policy 8 5011 > "$TMP/p8.conf"
	push "$TMP/p8.conf"
	wait_log "serial 8"
	touch "$TMP/go"
	for p in "${idle[@]}"; do wait "$p" || true; done
	for p in "${held[@]}"; do kill "$p" 2>/dev/null || true; done
	expect_eq "the refused connection" ECONNABORTED "$(tail -n 1 "$TMP/idle.5006" | cut -d' ' -f1)"
	expect_eq "the approved one" no-error "$(tail -n 1 "$TMP/idle.5011" | cut -d' ' -f1)"
	expect_eq "its record" "revoke drop port-not-allowed" \
		"$(grep '"hook":"revoke"' "$TMP/drops.jsonl" | grep '"dport":5006,' | head -n 1 |
		   jq -r '"\(.hook) \(.verdict) \(.reason)"')"
}

# A cgroup's classes are remembered per swap (BPF: df_cls_cache): a push
# that protects a cgroup no policy protected is seen by its next socket,
# and so is the push that takes it back.
a_push_reclassifies_a_cgroup() {
	expect_eq "free: unprotected" "sent 1" "$(flow free udp 192.0.2.2 5012)"
	expect_eq "free: unprotected, tcp" "connected 1" "$(flow free tcp 192.0.2.2 5012)"
	policy 9 5011 | sed 's|cgroups = \[ "'"$CGREL"'/prot" \]|cgroups = [ "'"$CGREL"'/prot", "'"$CGREL"'/free" ]|' \
		> "$TMP/p9.conf"
	grep -q "\"$CGREL/free\"" "$TMP/p9.conf" || { echo "p9 does not name free"; return 1; }
	push "$TMP/p9.conf"
	wait_log "serial 9"
	expect_eq "free protected: udp elsewhere" "EPERM 0" "$(flow free udp 192.0.2.2 5012)"
	expect_eq "free protected: tcp elsewhere" "$REFUSED_TCP" "$(flow free tcp 192.0.2.2 5012)"
	expect_eq "free protected: approved" "sent 1" "$(flow free udp 192.0.2.2 5011)"
	policy 10 5011 > "$TMP/p10.conf"
	push "$TMP/p10.conf"
	wait_log "serial 10"
	expect_eq "free unprotected again" "sent 1" "$(flow free udp 192.0.2.2 5012)"
	expect_eq "prot still protected" "EPERM 0" "$(flow prot udp 192.0.2.2 5012)"
}

# rule_packets COUNTERS_JSON NAME BACKEND: packets counted for a rule by name
rule_packets() {
	jq --arg n "$2" --arg b "$3" \
		'[.rules[] | select(.name == $n and (.backend // "bpf") == $b) | .packets] | add // 0' <<<"$1"
}

# A flow held open across a push that approves it by another rule: its
# packets after the push are counted for that rule. BPF: a connected UDP
# socket (no sendmsg hook) on one CPU, whose packets before the push filled
# that CPU's fast slot with the old policy's verdict and rule.
a_held_flow_is_counted_for_the_new_rule() {
	local out c0 c1 b
	policy 11 5013 > "$TMP/p11.conf"
	policy 12 5999 | sed 's|allow = \[ "t", "a", "svc", "ctl" \]; } );|allow = [ "t", "a", "svc", "ctl" ]; },\
  { name = "peer2"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ]; ports = ( 5013 ); allow = [ "t" ]; } );|' \
		> "$TMP/p12.conf"
	grep -q '"peer2"' "$TMP/p12.conf" || { echo "p12 has no peer2"; cat "$TMP/p12.conf"; return 1; }
	push "$TMP/p11.conf"
	wait_log "serial 11"
	held_start 5013 20 6000
	push "$TMP/p12.conf"
	wait_log "serial 12"
	c0=$(ctl --json counters)
	held_finish
	out=$HELD_OUT
	c1=$(ctl --json counters)
	kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null || true
	expect_eq "the held flow, before and after" "sent 20 sent 20" "$out"
	for b in bpf nftables; do
		{ [ $b = bpf ] && bpf_on; } || { [ $b = nftables ] && nft_on; } || continue
		expect_eq "$b: after the push, for peer2" 20 \
			"$(($(rule_packets "$c1" peer2 $b) - $(rule_packets "$c0" peer2 $b)))"
		expect_eq "$b: after the push, for peer" 0 \
			"$(($(rule_packets "$c1" peer $b) - $(rule_packets "$c0" peer $b)))"
	done
}

unload_removes_enforcement() {
	local out
	stop_agent
	out=$(ctl_a unload --yes)
	if bpf_on; then expect_contains "unpinned" "enforcement removed: hooks detached, $PIN/pins unpinned" "$out"; fi
	if nft_on; then expect_contains "table" "enforcement removed: table inet $NFT_TABLE deleted" "$out"; fi
	# the agent's unload is the same one: nothing is left for it
	out=$(nsenter --net=/run/netns/"$NSA" "$DFD" --unload --config "$TMP/agent.conf" 2>&1)
	if bpf_on; then expect_contains "nothing pinned" "nothing to remove: nothing pinned in $PIN/pins" "$out"; fi
	if nft_on; then expect_contains "no table" "nothing to remove: no table inet $NFT_TABLE" "$out"; fi
	expect_eq "no hooks left at the root" 0 "$(bpftool cgroup show "$CGROOT" | grep -c df_)"
	expect_eq "traffic flows" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
	[ ! -e "$PIN/pins/df_state" ] || { echo "pins remain"; return 1; }
	if nsenter --net=/run/netns/"$NSA" nft list table inet "$NFT_TABLE" >/dev/null 2>&1; then
		echo "table inet $NFT_TABLE remains"; return 1
	fi
}

ctl() { "$CTL" --socket "$TMP/control.sock" --pin-dir "$PIN/pins" --nft-table "$NFT_TABLE" "$@"; }
# in namespace A, where the nftables table is (for when the agent is down)
ctl_a() { nsenter --net=/run/netns/"$NSA" "$CTL" --socket "$TMP/control.sock" --pin-dir "$PIN/pins" --nft-table "$NFT_TABLE" "$@"; }

# counter COUNTERS_JSON HOOK CLASS VERDICT REASON
counter() {
	jq --arg h "$2" --arg c "$3" --arg v "$4" --arg r "$5" \
		'[.counters[] | select(.hook == $h and .class == $c and .verdict == $v and .reason == $r) | .packets] | add // 0' <<<"$1"
}

# Known traffic from the ctl cgroup (serial 2 approves 5002): counters and
# drops must show exactly it.
ctl_counters_and_drops_match_the_traffic() {
	for _ in 1 2 3; do expect_eq "approved" "sent 1" "$(flow ctl udp 192.0.2.2 5002)"; done
	expect_eq "refused" "EPERM 0" "$(flow ctl udp 192.0.2.2 5001)"
	expect_eq "refused" "EPERM 0" "$(flow ctl udp 192.0.2.2 5008)"
	local c total=0
	c=$(ctl --json counters)
	if bpf_on; then
		# BPF: sendmsg refuses at the syscall; allowed packets pass cgroup_skb too
		expect_eq "sendmsg allowed" 3 "$(counter "$c" sendmsg ctl allow destination)"
		expect_eq "cgroup_skb allowed" 3 "$(counter "$c" cgroup_skb ctl allow destination)"
		expect_eq "sendmsg dropped" 2 "$(counter "$c" sendmsg ctl drop port-not-allowed)"
		total=8
	fi
	if nft_on; then
		# nftables sees what BPF let through (both), or everything
		expect_eq "nftables allowed" 3 "$(counter "$c" nftables ctl allow destination)"
		if ! bpf_on; then
			expect_eq "nftables dropped" 2 "$(counter "$c" nftables ctl drop port-not-allowed)"
			total=2
		fi
		total=$((total + 3))
	fi
	expect_eq "nothing else for ctl" "$total" "$(jq '[.counters[] | select(.class == "ctl") | .packets] | add' <<<"$c")"
	local text
	text=$(ctl counters)
	if bpf_on; then
		expect_contains "text counters" "sendmsg    ctl                  drop       port-not-allowed" "$text"
	else
		expect_contains "text counters" "nftables   ctl                  drop       port-not-allowed" "$text"
	fi
	for _ in $(seq 100); do [ "$(ctl --json drops --class ctl | wc -l)" -ge 2 ] && break; sleep 0.02; done
	local d
	d=$(ctl --json drops --class ctl)
	expect_eq "two drop records" 2 "$(wc -l <<<"$d")"
	expect_eq "their ports" "5001 5008" "$(jq -r .dport <<<"$d" | tr '\n' ' ' | sed 's/ $//')"
	expect_contains "text drops" "port-not-allowed     class ctl rule peer" "$(ctl drops --class ctl)"
	expect_eq "--since 1h keeps them" 2 "$(ctl --json drops --class ctl --since 1h | wc -l)"
	expect_eq "--limit 1 keeps the newest" 5008 "$(ctl --json drops --class ctl --limit 1 | jq -r .dport)"
	# --follow prints what arrives later (bounded by timeout)
	timeout 3 "$CTL" --socket "$TMP/control.sock" --json drops --follow --class ctl > "$TMP/follow" &
	local fpid=$!
	sleep 0.8
	expect_eq "refused while following" "EPERM 0" "$(flow ctl udp 192.0.2.2 5010)"
	wait "$fpid" || true # timeout ends it
	expect_eq "followed" "5001 5008 5010" "$(jq -r .dport "$TMP/follow" | tr '\n' ' ' | sed 's/ $//')"
}

# Healthy but for the one selector whose cgroup is made later (a later case):
# its class protects nothing here yet, and status says so.
ctl_status_reports_health_and_the_policy() {
	local s rc=0
	s=$(ctl --json status) || rc=$?
	expect_eq "exit code" 1 "$rc"
	expect_eq "agent" running "$(jq -r .agent <<<"$s")"
	expect_eq "policy" "e2e 2" "$(jq -r '"\(.policy.name) \(.policy.serial)"' <<<"$s")"
	expect_eq "health" "degraded selector not found: class svc: cgroup $CGREL/app.service does not exist" \
		"$(jq -r '"\(.health) \(.health_reasons | join("; "))"' <<<"$s")"
	expect_eq "backend" "$BACKEND" "$(jq -r .backend <<<"$s")"
	if bpf_on; then
		expect_eq "tc" "[\"$VA\"]" "$(jq -c .attachments.tc <<<"$s")"
	fi
	if nft_on; then
		expect_eq "table" "$NFT_TABLE true 2" "$(jq -r '"\(.nftables.table) \(.nftables.present) \(.nftables.serial)"' <<<"$s")"
		expect_contains "text" "nftables:    table inet $NFT_TABLE, serial 2; drop reports on NFLOG group $NFT_GROUP" "$(ctl status)"
	fi
	expect_contains "text" "backend:     $BACKEND" "$(ctl status)"
	[ "$(jq .totals.dropped <<<"$s")" -gt 0 ] || { echo "no drops counted"; return 1; }
	expect_contains "text" "policy:      e2e serial 2, enforce" "$(ctl status)"
}

ctl_status_degraded_after_a_refused_push() {
	local rc=0 out
	out=$(ctl status) || rc=$?
	expect_eq "exit code" 1 "$rc"
	expect_contains "refused" "last push:   refused" "$out"
	expect_contains "why" "host bits set" "$out"
	expect_contains "health" "health:      degraded
             - last push refused" "$out"
}

ctl_reload_and_metrics() {
	local rc=0 out
	out=$(ctl reload) || rc=$?
	expect_eq "reload of the same file" 0 "$rc"
	ctl metrics > "$TMP/metrics.prom"
	# the agent's own textfile (every 10 s and at start) parses too
	/usr/bin/python3 -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p; assert any(f.name == "datafence_policy_info" for f in p(open(sys.argv[1]).read()))' "$TMP/datafence.prom"
	local want=9   # BPF: the 8 above and the one refused while following
	if nft_on && bpf_on; then want=12; elif nft_on; then want=6; fi
	/usr/bin/python3 - "$TMP/metrics.prom" "$want" <<'EOP'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
for need in ("datafence_packets", "datafence_bytes", "datafence_events", "datafence_policy_info"):
    assert need in fams, "missing " + need
ctl = [s for s in fams["datafence_packets"].samples if s.labels.get("class") == "ctl"]
assert sum(s.value for s in ctl) == int(sys.argv[2]), ctl
info = fams["datafence_policy_info"].samples[0]
assert info.labels["serial"] == "2" and info.labels["name"] == "e2e", info
EOP
}

# Prometheus's own tools on what the agent writes: promtool lints the
# metrics file; node_exporter's textfile collector (on 127.0.0.1, a port of
# our own) serves its series, with no scrape error.
node_exporter_serves_the_metrics_file() {
	command -v prometheus-node-exporter >/dev/null || skip "prometheus-node-exporter not installed (make deps)"
	promtool check metrics < "$TMP/datafence.prom"
	local port out
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$TMP/textfile"
	cp "$TMP/datafence.prom" "$TMP/textfile/datafence.prom"
	prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$TMP/textfile" > "$TMP/node_exporter.log" 2>&1 &
	NPID=$! # not local: the trap runs after the function
	trap 'kill "$NPID" 2>/dev/null; wait "$NPID" 2>/dev/null || true' EXIT
	for _ in $(seq 100); do
		out=$(/usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' \
			"http://127.0.0.1:$port/metrics" 2>/dev/null) && break
		sleep 0.1
	done
	expect_contains "textfile read" 'node_textfile_scrape_error 0' "$out"
	expect_contains "build info" 'datafence_build_info{version="0.1.0"} 1' "$out"
	expect_contains "health" 'datafence_healthy ' "$out"
	expect_contains "serial" 'datafence_policy_serial{scope=""} ' "$out"
	expect_contains "events" 'datafence_events_total{outcome="lost"} ' "$out"
	expect_contains "written" 'datafence_metrics_timestamp_seconds ' "$out"
	# the same families as JSON
	expect_eq "metrics --json" "e2e counter" "$(ctl metrics --json | jq -r '[(.metrics[] | select(.name == "datafence_policy_info") | .samples[0].labels.name), (.metrics[] | select(.name == "datafence_packets_total") | .type)] | join(" ")')"
}

control_socket_survives_bad_clients() {
	local sock=$TMP/control.sock
	# malformed JSON, not an object, no cmd, unknown cmd: errors, not crashes
	for req in 'not json' '[1,2]' '{"x":1}' '{"cmd":"frobnicate"}'; do
		out=$(printf '%s\n' "$req" | timeout 5 socat - "UNIX-CONNECT:$sock" 2>/dev/null ||
		      /usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n"); print(s.recv(65536).decode())' "$sock" "$req")
		expect_eq "answer to $req" false "$(jq -r .ok <<<"$out")"
	done
	# oversized: 100 KiB without a newline
	# (the agent may answer and close before the client has sent it all)
	out=$(/usr/bin/python3 - "$sock" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(b"x" * 100000)
except (BrokenPipeError, ConnectionResetError):
    pass
print(s.recv(65536).decode())
EOP
)
	expect_eq "oversized" "request too large" "$(jq -r .error <<<"$out")"
	# random bytes, bounded: 200 requests of up to 512 bytes
	/usr/bin/python3 - "$sock" <<'EOP'
import os, random, socket, sys
random.seed(7)
for i in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    s.connect(sys.argv[1])
    s.sendall(os.urandom(random.randint(0, 512)) + (b"\n" if i % 2 else b""))
    if i % 2:
        s.recv(65536)
    s.close()
EOP
	expect_eq "healthy after random requests" running "$(ctl --json status | jq -r .agent)"
	# slow: connect, say nothing, while another client is served
	/usr/bin/python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(3)' "$sock" &
	local slow=$!
	sleep 0.2
	expect_eq "served while a client is slow" running "$(ctl --json status | jq -r .agent)"
	wait "$slow"
	kill -0 "$(agent_pid)" || { echo "agent died"; return 1; }
}

# ktest ARGS...: "verdict reason agree" from the kernel (datafencectl test)
ktest() {
	local out; out=$(ctl --json test "$@"); jq -r 'if .error then "error: \(.error) \(.diagnostics)" else (.kernel // .nftables) as $k | "\($k.verdict) \($k.reason) \(.agree)" end' <<<"$out"
}

# packets counted under this test's classes (programs at the cgroup root
# count the whole host's traffic too: unclassified, or other tests')
own_packets() {
	ctl --json counters | jq '[.counters[] | select(.class == "t" or .class == "a" or .class == "svc" or .class == "ctl") | .packets] | add // 0'
}

ctl_test_agrees_with_real_traffic() {
	local before after
	before=$(own_packets)
	expect_eq "approved (kernel)" "allow destination true" \
		"$(ktest --dst 192.0.2.2 --proto udp --port 5002 --cgroup "$CGREL/prot")"
	expect_eq "approved (traffic)" "sent 1" "$(flow prot udp 192.0.2.2 5002)"
	expect_eq "wrong port (kernel)" "drop port-not-allowed true" \
		"$(ktest --dst 192.0.2.2 --proto udp --port 5001 --cgroup "$CGREL/prot")"
	expect_eq "wrong port (traffic)" "EPERM 0" "$(flow prot udp 192.0.2.2 5001)"
	expect_eq "unapproved (kernel)" "drop no-destination true" \
		"$(ktest --dst 192.0.2.9 --proto udp --port 5002 --cgroup "$CGREL/prot")"
	expect_eq "unapproved (traffic)" "EPERM" "$(flow prot udp 192.0.2.9 5002 | awk '{print $1}')"
	expect_eq "unclassified (kernel)" "allow unclassified true" \
		"$(ktest --dst 192.0.2.9 --proto udp --port 5002 --cgroup "$CGREL/free")"
	expect_eq "unclassified (traffic)" "sent" "$(flow free udp 192.0.2.9 5002 | awk '{print $1}')"
	expect_eq "by class" "drop protocol-not-allowed true" \
		"$(ktest --dst 192.0.2.2 --proto sctp --port 5002 --class t)"
	expect_eq "audit class" "would-drop port-not-allowed true" \
		"$(ktest --dst 2001:db8:d::2 --proto tcp --port 1 --class a)"
	local out
	out=$(ctl test --dst 192.0.2.2 --proto udp --port 5001 --cgroup "$CGREL/prot")
	expect_contains "text" "rule:    destination peer" "$out"
	case $BACKEND in
	bpf) expect_contains "text" "the kernel (the loaded program, BPF_PROG_TEST_RUN) agree" "$out" ;;
	nftables) expect_contains "text" "the nftables table (its sets and rules as loaded, evaluated here) agree" "$out" ;;
	both) expect_contains "text" "BPF_PROG_TEST_RUN) and the nftables table" "$out" ;;
	esac
	after=$(own_packets)
	# the test packets are not counted; only the real flows above are (a
	# few packets per flow and hook)
	[ $((after - before)) -lt 40 ] || { echo "counters of our classes moved by $((after - before))"; return 1; }
}

ctl_test_sees_an_expired_exception() {
	expect_eq "expired exception (kernel)" "drop exception-inactive true" \
		"$(ktest --dst 192.0.2.2 --proto udp --port 6000 --cgroup "$CGREL/prot")"
	expect_eq "expired exception (traffic)" "EPERM 0" "$(flow prot udp 192.0.2.2 6000)"
	expect_eq "before expiry, by --at" "allow exception true" \
		"$(ktest --dst 192.0.2.2 --proto udp --port 6000 --class t --at "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)")"
}

# the status document's keys: top-level ones, and those of each member
# that is an object ("policy{file,loaded_at,...}")
status_keys() {
	jq -r 'to_entries[] | if (.value | type) == "object" then "\(.key){\(.value | keys | join(","))}" else .key end' <<<"$1" | sort
}

ctl_status_when_the_agent_is_down() {
	local up down
	up=$(ctl_a --json status) || true
	trap ensure_agent EXIT
	stop_agent
	local rc=0 out
	down=$(ctl_a --json status) || true
	expect_eq "source up, down" "agent kernel" "$(jq -r .source <<<"$up") $(jq -r .source <<<"$down")"
	expect_eq "same keys with the agent up and down" "$(status_keys "$up")" "$(status_keys "$down")"
	expect_eq "the kernel's serial" "3 3" "$(jq -r '"\(.serial) \(.policy.serial)"' <<<"$down")"
	expect_eq "health" "degraded agent down" "$(jq -r '"\(.health) \(.health_reasons[0])"' <<<"$down")"
	out=$(ctl_a status) || rc=$?
	expect_eq "exit code" 5 "$rc"
	expect_contains "down" "agent:       down" "$out"
	if bpf_on; then
		expect_contains "still enforcing" "enforcement: active: the pinned policy, serial 3" "$out"
	fi
	if nft_on; then
		expect_contains "still enforcing" "enforcement: active: table inet $NFT_TABLE, serial 3" "$out"
	fi
	out=$(ctl_a --json status) || true
	expect_eq "json" "down active 3" "$(jq -r '"\(.agent) \(.enforcement) \(.serial)"' <<<"$out")"
	out=$(ctl --json drops --class ctl --log "$TMP/drops.jsonl" 2>/dev/null)
	expect_eq "drops from the log" "5001 5008 5010" "$(jq -r .dport <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
	expect_rc "unload without --yes" 2 ctl unload
	start_agent
	wait_log "policy loaded (start): 'e2e' serial 3"
	for _ in $(seq 100); do [ -S "$TMP/control.sock" ] && break; sleep 0.02; done
}

if ! setup; then echo "FAIL e2e setup"; cat "$TMP/agent.log"; exit 1; fi
run_case approved_flows_pass_others_get_eperm approved_flows_pass_others_get_eperm
run_case unclassified_process_passes unclassified_process_passes
run_case audit_class_passes_and_logs_would_drop audit_class_passes_and_logs_would_drop
run_case loopback_passes loopback_passes
run_case raw_and_af_packet_are_caught raw_and_af_packet_are_caught
run_case a_push_changes_behaviour_without_restart a_push_changes_behaviour_without_restart
run_case ctl_counters_and_drops_match_the_traffic ctl_counters_and_drops_match_the_traffic
run_case ctl_status_reports_health_and_the_policy ctl_status_reports_health_and_the_policy
run_case ctl_reload_and_metrics ctl_reload_and_metrics
run_case node_exporter_serves_the_metrics_file node_exporter_serves_the_metrics_file
run_case ctl_test_agrees_with_real_traffic ctl_test_agrees_with_real_traffic
run_case control_socket_survives_bad_clients control_socket_survives_bad_clients
run_case a_bad_push_is_refused_and_the_old_policy_enforces a_bad_push_is_refused_and_the_old_policy_enforces
run_case ctl_status_degraded_after_a_refused_push ctl_status_degraded_after_a_refused_push
run_case an_older_serial_is_refused an_older_serial_is_refused
run_case a_drop_storm_is_summarised a_drop_storm_is_summarised
run_case kill_9_keeps_enforcing_and_a_restart_adopts kill_9_keeps_enforcing_and_a_restart_adopts
run_case ctl_status_when_the_agent_is_down ctl_status_when_the_agent_is_down
run_case an_exception_closes_on_time_while_the_agent_is_stopped an_exception_closes_on_time_while_the_agent_is_stopped
run_case ctl_test_sees_an_expired_exception ctl_test_sees_an_expired_exception
run_case a_service_cgroup_made_after_load_is_classified a_service_cgroup_made_after_load_is_classified
run_case a_process_40_cgroup_levels_deep_is_classified a_process_40_cgroup_levels_deep_is_classified
run_case a_deleted_then_recreated_policy_file_is_loaded a_deleted_then_recreated_policy_file_is_loaded
run_case sighup_reloads sighup_reloads
run_case a_deleted_table_is_restored a_deleted_table_is_restored
run_case sigusr1_reopens_the_drop_log sigusr1_reopens_the_drop_log
run_case a_push_ends_the_live_connections_it_refuses a_push_ends_the_live_connections_it_refuses
run_case a_push_reclassifies_a_cgroup a_push_reclassifies_a_cgroup
run_case a_held_flow_is_counted_for_the_new_rule a_held_flow_is_counted_for_the_new_rule
run_case unload_removes_enforcement unload_removes_enforcement
exit 0
