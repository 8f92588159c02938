#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# datafencectl check/test through the real binary (and its ASan+UBSan build):
# shipped examples pass, every broken policy fails with its file:line message.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
SAN_CTL=$O/san/datafencectl
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp

examples_are_valid() {
	for f in config/examples/*.conf; do
		out=$("$CTL" check "$f" 2>&1)
		expect_contains "check $f" "$f: ok:" "$out"
		expect_rc "check $f" 0 "$CTL" check "$f"
	done
}

# FILE:LINE:COL: -> FILE:LINE: (the column is checked on its own)
no_columns() { sed -E 's/^([^ :]+:[0-9]+):[0-9]+: /\1: /'; }

# Each bad policy's "# expect: LINE[:COL]: MESSAGE" lines must all be
# printed as FILE:LINE[:COL]: error: MESSAGE (the column checked when the
# line gives one), exit 1, for both builds of the CLI.
bad_policy() {
	local f=$1 ctl out raw rc
	for ctl in "$CTL" "$SAN_CTL"; do
		rc=0
		raw=$("$ctl" check "$f" 2>&1) || rc=$?
		out=$(no_columns <<<"$raw")
		expect_eq "$ctl check $f exit code" 1 "$rc"
		while IFS= read -r line; do
			local at=${line%%: *} msg=${line#*: }
			if [[ $at == *:* ]]; then
				expect_contains "$ctl check $f" "$f:$at: error: $msg" "$raw"
			else
				expect_contains "$ctl check $f" "$f:$at: error: $msg" "$out"
			fi
		done < <(sed -n 's/^# expect: //p' "$f")
		# and nothing else: as many errors as expected lines
		local want got
		want=$(grep -c '^# expect: ' "$f")
		got=$(printf '%s\n' "$out" | grep -c ': error: ')
		expect_eq "$f: number of errors" "$want" "$got"
	done
}

json_check_reports_errors() {
	local f=tests/policies/bad/many-errors.conf out
	out=$("$CTL" check --json "$f") && return 1
	expect_eq "valid" false "$(jq -r .valid <<<"$out")"
	expect_eq "errors" 5 "$(jq '[.diagnostics[] | select(.severity == "error")] | length' <<<"$out")"
	expect_eq "first error line" 6 "$(jq '.diagnostics[0].line' <<<"$out")"
}

json_check_summary() {
	local out
	out=$("$CTL" --json check config/examples/us-storage.conf)
	expect_eq "valid" true "$(jq -r .valid <<<"$out")"
	expect_eq "classes" 2 "$(jq .summary.classes <<<"$out")"
	expect_eq "destinations" 3 "$(jq .summary.destinations <<<"$out")"
	expect_eq "exceptions" 1 "$(jq .summary.exceptions <<<"$out")"
	expect_eq "prefixes_v4" 4 "$(jq .summary.prefixes_v4 <<<"$out")"
	expect_eq "prefixes_v6" 1 "$(jq .summary.prefixes_v6 <<<"$out")"
	expect_eq "compiled v4 prefixes" 5 "$(jq .summary.compiled.prefixes_v4 <<<"$out")"
}

caret_under_culprit() {
	local out
	out=$("$CTL" check tests/policies/bad/host-bits.conf 2>&1 || true)
	expect_contains "source line" '    cidrs = [ "10.1.2.3/16" ]; allow = [ "a" ]; }' "$out"
	expect_contains "caret" '                ^^^^^^^^^^^' "$out"
}

usage_errors_exit_2() {
	expect_rc "no command" 2 "$CTL"
	expect_rc "unknown command" 2 "$CTL" frobnicate
	expect_rc "check without file" 2 "$CTL" check
	expect_rc "test without --dst" 2 "$CTL" test --policy config/examples/us-storage.conf --class us-user-data
	expect_rc "test with class and facts" 2 "$CTL" test --policy config/examples/us-storage.conf \
		--dst 10.20.0.1 --port 443 --class us-user-data --uid 1001
	expect_rc "test port on icmp" 2 "$CTL" test --policy config/examples/us-storage.conf \
		--dst 10.20.0.1 --proto icmp --port 1 --class us-user-data
	local out
	out=$("$CTL" --json frobnicate || true)
	expect_eq "json error" 'unknown command "frobnicate"; try "datafencectl help"' "$(jq -r .error <<<"$out")"
	out=$("$CTL" frobnicate 2>&1 || true)
	expect_contains "hint" 'try "datafencectl help"' "$out"
}

help_answers() {
	local out
	out=$("$CTL" help)
	for c in check test version help; do expect_contains "help lists $c" "  $c " "$out"; done
	out=$("$CTL" test --help)
	expect_contains "test --help" "--at TIME" "$out"
	out=$("$CTL" help check)
	expect_contains "help check" "Exit: 0 every file valid" "$out"
}

# test: verdict words and JSON fields exactly as docs/semantics.md names them.
flow() { "$CTL" --json test --policy config/examples/us-storage.conf "$@"; }
verdict_of() { jq -r '"\(.verdict) \(.reason) \(.classes | join(","))"' <<<"$(flow "$@")"; }

test_verdicts() {
	expect_eq "approved" "allow destination us-user-data" \
		"$(verdict_of --dst 10.20.1.1 --port 443 --cgroup /us-data.slice/store.service)"
	expect_eq "except hole: no destination contains it" "drop no-destination us-user-data" \
		"$(verdict_of --dst 10.20.99.5 --port 443 --uid 1001)"
	expect_eq "wrong port" "drop port-not-allowed us-user-data" \
		"$(verdict_of --dst 10.20.1.1 --port 80 --class us-user-data)"
	expect_eq "wrong proto" "drop protocol-not-allowed us-user-data" \
		"$(verdict_of --dst 10.20.1.1 --proto sctp --port 443 --class us-user-data)"
	expect_eq "nowhere" "drop no-destination us-user-data" \
		"$(verdict_of --dst 198.51.100.1 --port 443 --mark 0x1100)"
	expect_eq "icmp past ports" "allow destination us-user-data" \
		"$(verdict_of --dst 10.30.0.10 --proto icmp --class us-user-data)"
	expect_eq "v4-mapped" "allow destination us-user-data" \
		"$(verdict_of --dst ::ffff:10.20.3.4 --port 9050 --class us-user-data)"
	expect_eq "v6" "allow destination us-user-data" \
		"$(verdict_of --dst 2001:db8:100:1::5 --proto udp --port 9000 --class us-user-data)"
	expect_eq "unclassified" "allow unclassified " \
		"$(verdict_of --dst 198.51.100.1 --port 443 --uid 4242)"
	expect_eq "loopback" "allow loopback us-user-data" \
		"$(verdict_of --dst 127.0.0.1 --port 5432 --class us-user-data)"
	expect_eq "audit class" "would-drop no-destination public-content" \
		"$(verdict_of --dst 198.51.100.1 --port 443 --sport 8081)"
	expect_eq "exception in window" "allow exception us-user-data" \
		"$(verdict_of --dst 203.0.113.7 --port 22 --class us-user-data --at 2026-12-01T00:00:00Z)"
	expect_eq "exception expired" "drop exception-inactive us-user-data" \
		"$(verdict_of --dst 203.0.113.7 --port 22 --class us-user-data --at 2027-01-01T00:00:00Z)"
	expect_eq "exception not yet" "drop exception-inactive us-user-data" \
		"$(verdict_of --dst 203.0.113.7 --port 22 --class us-user-data --at 2026-10-31T23:59:59Z)"
	local out
	out=$(flow --dst 10.20.1.1 --port 443 --class us-user-data)
	expect_eq "rule" "destination approved-cloud-us" "$(jq -r '"\(.rule.kind) \(.rule.name)"' <<<"$out")"
	expect_eq "agree" true "$(jq -r .agree <<<"$out")"
	out=$("$CTL" test --policy config/examples/us-storage.conf --dst 10.20.1.1 --port 80 --class us-user-data)
	expect_contains "text verdict" "verdict: drop" "$out"
	expect_contains "text reason" "reason:  port-not-allowed" "$out"
}

test_invalid_policy_exit_1() {
	expect_rc "test on bad policy" 1 "$CTL" test --policy tests/policies/bad/host-bits.conf \
		--dst 10.1.0.1 --port 1 --class a
}

DFD=$O/datafenced

agent_help_and_version() {
	local out
	out=$("$DFD" --help)
	expect_contains "help" "--unload" "$out"
	expect_contains "help" "SIGHUP reloads the policy" "$out"
	expect_contains "version" "datafenced " "$("$DFD" --version)"
	expect_rc "bad option" 2 "$DFD" --frobnicate
}

# agent.conf errors: file:line, all of them, and the agent does not start.
agent_config_errors_have_file_and_line() {
	local f out rc=0
	f=$(mktemp /tmp/df-agent-XXXXXX.conf)
	printf 'pin_dir = "/sys/fs/bpf/x";\nhookz = [ "tc" ];\nbackend = "iptables";\nhooks = [ "xdp" ];\nsyslog = "yes";\nnft_log_group = 0;\nnft_table = "a b";\n' > "$f"
	out=$("$DFD" --config "$f" --foreground 2>&1) || rc=$?
	rm -f "$f"
	expect_eq "exit code" 1 "$rc"
	expect_contains "unknown key" "$f:2: error: unknown key 'hookz'" "$out"
	expect_contains "backend" "$f:3: error: backend \"iptables\" must be \"bpf\", \"nftables\" or \"both\"" "$out"
	expect_contains "log group" "$f:6: error: 'nft_log_group' must be an integer from 1 to 65535" "$out"
	expect_contains "table" "$f:7: error: nft_table \"a b\": letters, digits" "$out"
	expect_contains "hook" "$f:4: error: unknown hook \"xdp\"" "$out"
	expect_contains "type" "$f:5: error: 'syslog' must be true or false" "$out"
	# typos of known words are named
	printf 'backend = "nftable";\nhooks = [ "tcc" ];\nstale_posture = "drop_protected";\nsyslg = true;\n' > "$f"
	out=$("$DFD" --config "$f" --foreground 2>&1) || true
	rm -f "$f"
	expect_contains "backend" "$f:1: error: backend \"nftable\" must be \"bpf\", \"nftables\" or \"both\"; did you mean \"nftables\"?" "$out"
	expect_contains "hook" "$f:2: error: unknown hook \"tcc\" (known: cgroup_skb, tc, sock_addr); did you mean \"tc\"?" "$out"
	expect_contains "posture" "did you mean \"drop-protected\"?" "$out"
	expect_contains "key" "$f:4: error: unknown key 'syslg'" "$out"
	expect_contains "key hint" "did you mean 'syslog'?" "$out"
}

install_puts_everything_in_place() {
	local d
	d=$(mktemp -d /tmp/df-install-XXXXXX)
	make -s install DESTDIR="$d" PREFIX=/usr O="$O" >/dev/null
	local f missing=""
	for f in usr/sbin/datafenced usr/sbin/datafencectl usr/lib/datafence/datafence.bpf.o \
		usr/share/man/man8/datafenced.8 usr/share/man/man8/datafencectl.8 \
		usr/share/man/man5/datafence.conf.5 etc/systemd/system/datafenced.service \
		etc/datafence/agent.conf etc/datafence/policy.conf etc/logrotate.d/datafence \
		usr/share/bash-completion/completions/datafencectl usr/share/doc/datafence/LICENSE \
		usr/share/doc/datafence/docs/alerts.md usr/share/datafence/prometheus/datafence-alerts.yml; do
		[ -e "$d/$f" ] || missing="$missing $f"
	done
	grep -q "ExecStart=/usr/sbin/datafenced" "$d/etc/systemd/system/datafenced.service" || missing="$missing unit-path"
	rm -rf "$d"
	expect_eq "missing after install" "" "$missing"
}

# The shipped unit: valid (systemd-analyze verify, with ExecStart pointing
# at the built agent), a firewall's ordering and readiness, and its
# systemd-analyze exposure 4.0 or less (docs/agent.md, "Privileges").
the_unit_is_hardened() {
	local out rc=0 d unit
	unit=$(cat config/datafenced.service)
	out=$(systemd-analyze security --offline=true --threshold=40 config/datafenced.service 2>&1) || rc=$?
	expect_eq "exposure at most 4.0: $(tail -n 1 <<<"$out")" 0 "$rc"
	expect_contains "no new privileges" "NoNewPrivileges=yes" "$unit"
	d=$(mktemp -d /tmp/df-unit-XXXXXX)
	sed "s#/usr/local/sbin/datafenced#$PWD/$O/datafenced#" config/datafenced.service > "$d/datafenced.service"
	rc=0
	out=$(systemd-analyze verify --man=no "$d/datafenced.service" 2>&1) || rc=$?
	rm -rf "$d"
	expect_eq "systemd-analyze verify: $out" 0 "$rc"
	expect_eq "verify says nothing" "" "$out"
	for k in Type=notify WatchdogSec= "Before=network-pre.target" "Wants=network-pre.target"; do
		expect_contains "the unit" "$k" "$unit"
	done
}

# Each lint: a warning (valid, exit 0), and a failure with --strict (exit 1).
lint_case() {
	local want=$1 body=$2 f rc=0 out
	f=$(mktemp /tmp/df-lint-XXXXXX.conf)
	printf 'policy = { name = "t"; serial = 1; %s };\n%s\n' "${3:-}" "$body" > "$f"
	out=$("$CTL" check "$f" 2>&1) || rc=$?
	expect_eq "without --strict: valid ($want)" 0 "$rc"
	expect_contains "the warning" "warning: $want" "$out"
	rc=0
	out=$("$CTL" check --strict "$f" 2>&1) || rc=$?
	expect_eq "--strict fails ($want)" 1 "$rc"
	rc=0
	out=$("$CTL" --json check --strict "$f") || rc=$?
	expect_eq "--json --strict" "true 1" "$(jq -r .strict_failed <<<"$out") $rc"
	rm -f "$f"
}

check_strict_fails_on_each_lint() {
	local cls='classes = ( { name = "a"; match = { uids = ( 1001 ); }; } );'
	local soon far
	soon=$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)
	far=$(date -u -d '+200 days' +%Y-%m-%dT%H:%M:%SZ)
	lint_case "the policy has no classes" 'destinations = ( );'
	lint_case "destination 'd' approves protected class 'a' to every IPv4 address" \
		"$cls destinations = ( { name = \"d\"; cidrs = [ \"0.0.0.0/0\" ]; allow = [ \"a\" ]; } );"
	lint_case "destination 'd' allows no class" \
		"$cls destinations = ( { name = \"d\"; cidrs = [ \"10.0.0.0/8\" ]; allow = [ ]; }, { name = \"e\"; cidrs = [ \"10.0.0.0/8\" ]; allow = [ \"a\" ]; } );"
	lint_case "class 'a' enforces in an audit policy" \
		'classes = ( { name = "a"; mode = "enforce"; match = { uids = ( 1001 ); }; } ); destinations = ( { name = "d"; cidrs = [ "10.0.0.0/8" ]; allow = [ "a" ]; } );' \
		'mode = "audit";'
	lint_case "exception 'X' lasts" \
		"$cls destinations = ( { name = \"d\"; cidrs = [ \"10.0.0.0/8\" ]; allow = [ \"a\" ]; } ); exceptions = ( { id = \"X\"; approved_by = \"s\"; reason = \"r\"; class = \"a\"; cidrs = [ \"192.0.2.0/24\" ]; expires = \"$far\"; } );"
	lint_case "exception 'X' ends within 7 days" \
		"$cls destinations = ( { name = \"d\"; cidrs = [ \"10.0.0.0/8\" ]; allow = [ \"a\" ]; } ); exceptions = ( { id = \"X\"; approved_by = \"s\"; reason = \"r\"; class = \"a\"; cidrs = [ \"192.0.2.0/24\" ]; expires = \"$soon\"; } );"
	# the examples are clean, and check states each class's mode
	"$CTL" check --strict config/examples/*.conf > /dev/null
	expect_contains "class modes" "class modes: us-user-data (enforce), public-content (audit)" \
		"$("$CTL" check config/examples/us-storage.conf)"
}

# In a pipeline: user names left to the hosts (--offline: a note, even
# with --strict), the policy from standard input, FILE:LINE:COL with the
# column in JSON, global options after the command, distinct exit codes
# for a usage error (2) and an agent that cannot be reached (5).
check_fits_pipelines() {
	local f out rc=0
	f=$(mktemp /tmp/df-pipe-XXXXXX.conf)
	cat > "$f" <<'EOP'
policy = { name = "t"; serial = 1; };
classes = ( { name = "a"; match = { uids = [ "no-such-user-datafence" ]; }; } );
destinations = ( { name = "d"; cidrs = [ "192.0.2.0/24" ]; allow = [ "a" ]; } );
EOP
	out=$("$CTL" check --offline --strict "$f" 2>&1) || rc=$?
	expect_eq "--offline --strict: valid: $out" 0 "$rc"
	expect_contains "a note" "$f:2:47: note: user name \"no-such-user-datafence\" in class 'a' is resolved on each host" "$out"
	rc=0
	out=$("$CTL" check - < "$f" 2>&1) || rc=$?
	expect_eq "stdin: invalid" 1 "$rc"
	expect_contains "stdin named -" "-:2:47: error: unknown user \"no-such-user-datafence\"" "$out"
	expect_eq "the column in JSON" "2 47 error" \
		"$("$CTL" check "$f" --json | jq -r '.diagnostics[0] | "\(.line) \(.column) \(.severity)"')"
	rm -f "$f"
	rc=0
	out=$("$CTL" status --socket /nonexistent/datafence.sock --pin-dir /nonexistent 2>&1) || rc=$?
	expect_eq "agent unreachable" 5 "$rc"
	expect_contains "the socket given after the command" "cannot connect to /nonexistent/datafence.sock" "$out"
	rc=0
	"$CTL" status --socket > /dev/null 2>&1 || rc=$?
	expect_eq "usage" 2 "$rc"
}

# test --flows: regression cases next to the policy; each mismatch listed
# with its line, exit 1; all as expected, exit 0.
test_flows_lists_mismatches() {
	local f out rc=0 pol=config/examples/us-storage.conf
	f=$(mktemp /tmp/df-flows-XXXXXX)
	cat > "$f" <<'EOF'
# us-user-data: the approved cloud on 443
--dst 10.20.1.1 --port 443 --class us-user-data => allow
--dst 198.51.100.7 --port 443 --class us-user-data => drop no-destination
--dst 10.20.1.1 --port 22 --class us-user-data => drop
EOF
	out=$("$CTL" test --policy "$pol" --flows "$f") || rc=$?
	expect_eq "all as expected: $out" 0 "$rc"
	expect_contains "summary" "3 flows checked against $pol (serial 42): 0 mismatches" "$out"
	echo '--dst 10.20.1.1 --port 443 --class us-user-data => drop no-destination' >> "$f"
	rc=0
	out=$("$CTL" test --policy "$pol" --flows "$f" 2>&1) || rc=$?
	expect_eq "a mismatch" 1 "$rc"
	expect_contains "listed" "$f:5: expected drop no-destination, got allow destination (rule destination approved-cloud-us)" "$out"
	expect_eq "json" "4 1 5 false" "$("$CTL" test --policy "$pol" --flows "$f" --json |
		jq -r '"\(.checked) \(.mismatches) \(.flows[3].line) \(.flows[3].ok)"')"
	rm -f "$f"
}

# diff OLD NEW: the changes per class and the verdicts that flip; exit as
# diff(1).
diff_shows_what_a_push_changes() {
	local pol=config/examples/us-storage.conf new out rc=0
	new=$(mktemp /tmp/df-diff-XXXXXX.conf)
	sed 's/serial = 42/serial = 43/; s/ports = ( 443, "9000-9100" )/ports = ( 443, 8443 )/' "$pol" > "$new"
	out=$("$CTL" diff "$pol" "$new") || rc=$?
	expect_eq "different" 1 "$rc"
	expect_contains "serials" "policy: 'us-storage-prod' serial 42 -> 'us-storage-prod' serial 43" "$out"
	expect_contains "a port added" "~ destination approved-cloud-us:
    + port 8443
    - port 9000-9100" "$out"
	expect_contains "a flip" "class us-user-data tcp 10.20.0.0 port 8443: drop port-not-allowed -> allow destination" "$out"
	expect_eq "json" "changed true" "$("$CTL" diff "$pol" "$new" --json | jq -r '"\(.classes[0].state) \(.flips.flipped > 0)"')"
	rc=0
	out=$("$CTL" diff "$pol" "$pol") || rc=$?
	expect_eq "the same" 0 "$rc"
	expect_contains "no flip" ", 0 flip" "$out"
	rc=0
	"$CTL" diff "$pol" tests/policies/bad/syntax.conf > /dev/null 2>&1 || rc=$?
	expect_eq "trouble" 2 "$rc"
	rm -f "$new"
}

# The man pages and --help name the same options, both ways (datafencectl:
# every command's help; datafenced: its --help).
man_pages_match_help() {
	local cmd opts man missing="" o
	opts=$(for cmd in $("$CTL" help | sed -n 's/^  \([a-z]\+\) .*/\1/p'); do
		"$CTL" help "$cmd"; done; "$CTL" help)
	opts=$(grep -o -- '--[a-z][a-z-]*' <<<"$opts" | sort -u)
	man=$(sed 's/\\-/-/g' man/datafencectl.8 | grep -o -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do grep -qx -- "$o" <<<"$man" || missing="$missing $o"; done
	expect_eq "in datafencectl --help, not in datafencectl.8" "" "$missing"
	missing=""
	for o in $man; do grep -qx -- "$o" <<<"$opts" || missing="$missing $o"; done
	expect_eq "in datafencectl.8, not in --help" "" "$missing"
	opts=$("$O/datafenced" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	man=$(sed 's/\\-/-/g' man/datafenced.8 | grep -o -- '--[a-z][a-z-]*' | sort -u)
	expect_eq "datafenced --help and datafenced.8" "$opts" "$man"
	for o in "EXIT STATUS" FILES EXAMPLES; do
		grep -q "^\.SH $o" man/datafencectl.8 && grep -q "^\.SH $o" man/datafenced.8 ||
			{ echo "no $o section"; return 1; }
	done
}

run_case examples_are_valid examples_are_valid
run_case check_strict_fails_on_each_lint check_strict_fails_on_each_lint
run_case the_unit_is_hardened the_unit_is_hardened
run_case install_puts_everything_in_place install_puts_everything_in_place
run_case agent_help_and_version agent_help_and_version
run_case agent_config_errors_have_file_and_line agent_config_errors_have_file_and_line
for f in tests/policies/bad/*.conf; do
	run_case "bad_policy/$(basename "$f" .conf)" bad_policy "$f"
done
run_case json_check_reports_errors json_check_reports_errors
run_case json_check_summary json_check_summary
run_case caret_under_culprit caret_under_culprit
run_case usage_errors_exit_2 usage_errors_exit_2
run_case help_answers help_answers
run_case test_verdicts test_verdicts
run_case test_invalid_policy_exit_1 test_invalid_policy_exit_1
run_case check_fits_pipelines check_fits_pipelines
run_case test_flows_lists_mismatches test_flows_lists_mismatches
run_case diff_shows_what_a_push_changes diff_shows_what_a_push_changes
run_case man_pages_match_help man_pages_match_help
exit 0
