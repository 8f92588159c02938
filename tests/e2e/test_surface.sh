#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The agent's own attack surface (root): what a local user (nobody) can plant
# where the agent reads and writes, tried against the real agent (BPF
# backend). The agent must change no file of root's, keep answering, keep
# applying pushes and keep enforcing (docs/agent.md, "Files").
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
agent_suite surface

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
ctl() { "$CTL" --socket "$TMP/control.sock" --pin-dir "$PIN/pins" "$@"; }

policy() {
	cat <<EOP
policy = { name = "surface"; serial = $1; };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ];
  ports = ( 5001 ); allow = [ "t" ]; } );
EOP
}

# The textfile directory belongs to node_exporter's user (here nobody), as
# on many hosts; the drop log's directory, wrongly, to nobody too.
setup() {
	net_setup && mkdir -p "$TMP/etc" "$PIN" "$TMP/textfile" "$TMP/nblog" &&
	mount -t bpf bpf "$PIN" && chmod 0755 "$TMP" &&
	chown 65534:65534 "$TMP/textfile" "$TMP/nblog" || return 1
	echo "root only" > "$TMP/secret" && chmod 0600 "$TMP/secret"
	echo "root only too" > "$TMP/secret2" && chmod 0600 "$TMP/secret2"
	cp -p "$TMP/secret" "$TMP/secret.orig" && cp -p "$TMP/secret2" "$TMP/secret2.orig"
	{
		agent_conf bpf "$TMP/nblog/drops.jsonl"
		echo 'control_group = "nogroup";'
		echo "metrics_file = \"$TMP/textfile/datafence.prom\";"
	} > "$TMP/agent.conf"
	policy 1 > "$TMP/etc/policy.conf"
	# nobody plants, before the agent starts: links to root's files at the
	# metrics file's name and its old temporary name, a FIFO at another,
	# and a link at the drop log's name
	as_nobody ln -s "$TMP/secret" "$TMP/textfile/datafence.prom" &&
	as_nobody mkfifo "$TMP/textfile/datafence.prom.tmp" &&
	as_nobody ln -s "$TMP/secret2" "$TMP/nblog/drops.jsonl" || return 1
	start_agent
	wait_log "policy loaded (start): 'surface' serial 1"
}

# status_fast: the agent answers status within 1 s (exit 0 or 1: up)
status_fast() {
	local rc=0
	timeout 1 "$CTL" --socket "$TMP/control.sock" --json status > "$TMP/status.json" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 1 ] || { echo "status did not answer within 1 s (rc $rc)"; return 1; }
}

until_refused() {
	local out
	for _ in $(seq 50); do
		out=$(flow prot udp 192.0.2.2 5002)
		[ "$out" = "EPERM 0" ] && break
		sleep 0.1
	done
	echo "$out"
}

planted_links_and_fifos_change_no_root_file() {
	# (planted in setup) the metrics file is written (at start, then every 10 s) while status
	# keeps answering
	for _ in $(seq 60); do
		status_fast
		[ -f "$TMP/textfile/datafence.prom" ] && [ ! -L "$TMP/textfile/datafence.prom" ] && break
		sleep 0.2
	done
	expect_eq "the metrics file replaced the link" "regular file" \
		"$(stat -c %F "$TMP/textfile/datafence.prom")"
	grep -q '^datafence_policy_info' "$TMP/textfile/datafence.prom"
	expect_eq "the metrics file is root's" "0 644" "$(stat -c '%u %a' "$TMP/textfile/datafence.prom")"
	cmp "$TMP/secret" "$TMP/secret.orig"
	cmp "$TMP/secret2" "$TMP/secret2.orig"
	status_fast
	expect_contains "the drop log is refused, with the reason" "owned by uid 65534" \
		"$(jq -r .files.drop_log.error "$TMP/status.json")"
	expect_contains "health says so" "drop log refused" \
		"$(jq -r '.health_reasons | join(",")' "$TMP/status.json")"
	expect_eq "the metrics file is fine" null "$(jq -r .files.metrics_file.error "$TMP/status.json")"
	# SIGUSR1 (logrotate) opens the log again: still refused, still no write
	mark_log
	kill -USR1 "$(agent_pid)"
	wait_log "cannot open the drop log: $TMP/nblog: owned by uid 65534"
	cmp "$TMP/secret2" "$TMP/secret2.orig"
	# a push is applied, and a recreated protected cgroup is enforced
	policy 2 > "$TMP/p2.conf"
	push "$TMP/p2.conf"
	wait_log "policy loaded (file changed): 'surface' serial 2"
	cg_remove "$CG/prot"
	mkdir "$CG/prot"
	expect_eq "the recreated protected cgroup is enforced" "EPERM 0" "$(until_refused)"
	status_fast
}

# push_raw: rename whatever $TMP/etc/new is into place
push_raw() { mark_log; mv "$TMP/etc/new" "$TMP/etc/policy.conf"; }

a_policy_file_that_is_not_root_s_plain_file_is_refused() {
	mkfifo "$TMP/etc/new"
	push_raw
	wait_log "$TMP/etc/policy.conf: not a regular file"
	status_fast
	policy 3 > "$TMP/p3.conf"
	ln -s "$TMP/p3.conf" "$TMP/etc/new"
	push_raw
	wait_log "$TMP/etc/policy.conf: a symbolic link"
	policy 3 > "$TMP/etc/new"
	chmod 0666 "$TMP/etc/new"
	push_raw
	wait_log "writable by group or others (mode 0666)"
	policy 3 > "$TMP/etc/new"
	chown 65534 "$TMP/etc/new"
	push_raw
	wait_log "owned by uid 65534, not root"
	status_fast
	expect_eq "the old policy stays" "2 degraded" \
		"$(jq -r '"\(.policy.serial) \(.health)"' "$TMP/status.json")"
	expect_eq "still enforcing" "EPERM 0" "$(flow prot udp 192.0.2.2 5002)"
	policy 3 > "$TMP/etc/new"
	push_raw
	wait_log "policy loaded (file changed): 'surface' serial 3"
}

# A process names itself with a quote, a newline, an escape sequence and a
# byte that is not UTF-8, then sends where it may not.
names_others_chose_are_escaped() {
	local out rec
	out=$(in_ns_cg prot "$NSA" /usr/bin/python3 -c '
import ctypes, socket
ctypes.CDLL(None).prctl(15, b"x\"y\nz\x1b[31m\xff", 0, 0, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("192.0.2.2", 5002))
    print("sent")
except PermissionError:
    print("EPERM")')
	expect_eq "refused" EPERM "$out"
	for _ in $(seq 100); do
		rec=$(ctl --json drops --limit 1000 | jq -c 'select(.dport == 5002 and .pid != null and (.comm | startswith("x")))' | tail -n 1)
		[ -n "$rec" ] && break
		sleep 0.05
	done
	expect_eq "comm, escaped, never a lost key" 'x"y\x0az\x1b[31m\xff' "$(jq -r .comm <<<"$rec")"
	out=$(ctl drops --limit 1000)
	if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' <<<"$out"; then
		echo "datafencectl drops printed a control character"; return 1
	fi
	expect_contains "one line, escaped" 'x"y\x0az\x1b[31m\xff[' "$out"
}

# control_group members (here nobody, group nogroup) read; only root changes.
members_read_and_only_root_changes() {
	local rc=0 out
	as_nobody "$CTL" --socket "$TMP/control.sock" --json status > "$TMP/nb.json" || rc=$?
	expect_eq "a member's status" "running 1" "$(jq -r '"\(.agent) \(.policy.serial > 0)"' "$TMP/nb.json" | sed 's/true/1/')"
	mark_log
	rc=0
	out=$(as_nobody "$CTL" --socket "$TMP/control.sock" reload 2>&1) || rc=$?
	expect_eq "a member's reload is refused" 4 "$rc"
	expect_contains "and says why" "not permitted" "$out"
	wait_log "audit: reload by uid 65534 (pid"
	wait_log "not permitted: not root or admin_group"
	rc=0
	out=$(as_nobody "$CTL" --socket "$TMP/control.sock" unload --yes 2>&1) || rc=$?
	expect_eq "a member's unload is refused" 4 "$rc"
	wait_log "audit: unload by uid 65534 (pid"
	[ -e "$PIN/pins/df_state" ] || { echo "a member's refused unload removed the pins"; return 1; }
	expect_eq "root's reload" 0 "$(ctl reload >/dev/null; echo $?)"
}

# nobody keeps every connection it can open; root is still served.
one_user_cannot_hold_every_slot() {
	local hog busy
	as_nobody /usr/bin/python3 - "$TMP/control.sock" > "$TMP/hog" <<'EOP' &
import socket, sys, time
held, busy = [], 0
end = time.time() + 4
while time.time() < end:
    held = [s for s in held if s.fileno() >= 0]
    while len(held) < 40:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        s.setblocking(False)
        try:
            if b"busy" in s.recv(100):
                busy += 1
                s.close()
                break
        except BlockingIOError:
            pass
        held.append(s)
    time.sleep(0.05)
    # the agent drops a silent client after 2 s: open them again
    for s in held:
        try:
            if s.recv(100) == b"":
                s.close()
        except BlockingIOError:
            pass
print(busy)
EOP
	hog=$!
	sleep 0.5
	for _ in 1 2 3 4 5; do status_fast; sleep 0.3; done
	wait "$hog" || true
	busy=$(cat "$TMP/hog")
	[ "$busy" -ge 1 ] || { echo "nobody was never told busy"; return 1; }
}

# A socket served by someone else is not the agent, whatever it answers.
the_client_believes_only_root_s_agent() {
	mkdir -p "$TMP/fake" && chown 65534 "$TMP/fake"
	as_nobody /usr/bin/python3 - "$TMP/fake/control.sock" <<'EOP' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(4)
s.settimeout(5)
try:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b'{"ok":true,"agent":"running","health":"healthy","health_reasons":[]}\n')
except OSError:
    pass
EOP
	local fake=$! out rc=0
	for _ in $(seq 100); do [ -S "$TMP/fake/control.sock" ] && break; sleep 0.02; done
	out=$("$CTL" --socket "$TMP/fake/control.sock" --pin-dir "$PIN/pins" --json status) || rc=$?
	kill "$fake" 2>/dev/null || true
	wait "$fake" 2>/dev/null || true
	expect_eq "not believed: the agent is down as far as it knows" "down 5" "$(jq -r .agent <<<"$out") $rc"
	expect_contains "why" "served by uid 65534, not root" "$(jq -r .why <<<"$out")"
}

# After start the agent keeps the capabilities docs/agent.md names (here
# with dac_override: the textfile directory is nobody's 0755) and no more.
the_agent_keeps_only_its_capabilities() {
	local want st
	# bpf 39, perfmon 38, sys_admin 21, sys_ptrace 19, net_admin 12,
	# dac_read_search 2, dac_override 1
	want=$(printf '%016x' $(( (1 << 39) | (1 << 38) | (1 << 21) | (1 << 19) | (1 << 12) | (1 << 2) | (1 << 1) )))
	wait_log "capabilities kept: bpf perfmon net_admin sys_admin sys_ptrace dac_read_search dac_override"
	st=/proc/$(agent_pid)/status
	expect_eq "effective" "$want" "$(awk '/^CapEff:/ { print $2 }' "$st")"
	expect_eq "permitted" "$want" "$(awk '/^CapPrm:/ { print $2 }' "$st")"
	expect_eq "bounding" "$want" "$(awk '/^CapBnd:/ { print $2 }' "$st")"
	expect_eq "no new privileges" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' "$st")"
}

# The user directory hangs (here /etc/passwd is a FIFO no one writes, in
# the agent's own mount namespace): drops still reach the records, pushes
# are applied, a recreated cgroup is followed, status answers.
a_hung_user_directory_does_not_stop_the_agent() {
	trap ensure_agent EXIT
	stop_agent
	mkfifo "$TMP/passwd.fifo"
	mark_log
	unshare -m --propagation private sh -c \
		'mount --bind "$0" /etc/passwd && exec nsenter --net=/run/netns/"$1" "$2" --foreground --config "$3"' \
		"$TMP/passwd.fifo" "$NSA" "$DFD" "$TMP/agent.conf" >>"$TMP/agent.log" 2>&1 &
	echo $! > "$TMP/agent.pid"
	wait_log "policy loaded (start): 'surface'"
	expect_eq "refused" "EPERM 0" "$(flow prot udp 192.0.2.2 5003)"
	local rec
	for _ in $(seq 100); do
		status_fast
		rec=$(ctl --json drops --limit 1000 | jq -c 'select(.dport == 5003)' | tail -n 1)
		[ -n "$rec" ] && break
		sleep 0.05
	done
	expect_eq "the record, its uid without a name (yet)" "0 null" "$(jq -r '"\(.uid) \(.user)"' <<<"$rec")"
	policy 4 > "$TMP/p4.conf"
	push "$TMP/p4.conf"
	wait_log "policy loaded (file changed): 'surface' serial 4"
	cg_remove "$CG/prot"
	mkdir "$CG/prot"
	expect_eq "the recreated protected cgroup is enforced" "EPERM 0" "$(until_refused)"
	status_fast
	stop_agent
}

if ! setup; then echo "FAIL surface setup"; cat "$TMP/agent.log"; exit 1; fi
run_case the_agent_keeps_only_its_capabilities the_agent_keeps_only_its_capabilities
run_case planted_links_and_fifos_change_no_root_file planted_links_and_fifos_change_no_root_file
run_case a_policy_file_that_is_not_root_s_plain_file_is_refused \
	a_policy_file_that_is_not_root_s_plain_file_is_refused
run_case names_others_chose_are_escaped names_others_chose_are_escaped
run_case members_read_and_only_root_changes members_read_and_only_root_changes
run_case one_user_cannot_hold_every_slot one_user_cannot_hold_every_slot
run_case the_client_believes_only_root_s_agent the_client_believes_only_root_s_agent
run_case a_hung_user_directory_does_not_stop_the_agent a_hung_user_directory_does_not_stop_the_agent
exit 0
