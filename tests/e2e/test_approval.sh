#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Approval you can verify (root, BPF backend; docs/signing.md): the real
# agent with signatures_required, an OpenSSH allowed_signers file and a
# scope; keys made here with ssh-keygen, policies signed with
# `ssh-keygen -Y sign -n datafence-policy`. Unsigned, under-signed,
# out-of-scope and expired pushes are refused and the policy in force
# stays; an older signed serial is refused after kill -9 and the pins'
# removal (a reboot); a refused file at start loads the last good policy,
# which enforces; `supersedes` is the signed way back.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
command -v ssh-keygen >/dev/null || { echo "SKIP approval: needs ssh-keygen (openssh-client)"; exit 0; }
agent_suite approval

ctl() { nsenter --net=/run/netns/"$NSA" "$CTL" --socket "$TMP/control.sock" --pin-dir "$PIN/pins" "$@"; }

# policy SERIAL [EXTRA-POLICY-KEYS] [SCOPE]
policy() {
	cat <<EOP
policy = { name = "approval"; serial = $1; scope = [ "${3:-storage-us-east}" ]; ${2:-} };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ];
  ports = ( 5001 ); allow = [ "t" ]; } );
EOP
}

# signed_push FILE SIGNER...: the signers' signatures into FILE.sig (their
# outputs concatenated), the .sig renamed into place, then the policy (the
# agent reads the .sig when the policy lands). No signer: no .sig.
signed_push() {
	local f=$1 k
	shift
	rm -f "$f.sig" "$f.all"
	for k in "$@"; do
		ssh-keygen -q -Y sign -n datafence-policy -f "$TMP/keys/$k" "$f" >/dev/null 2>&1
		cat "$f.sig" >> "$f.all"
		rm -f "$f.sig"
	done
	mark_log
	if [ $# -gt 0 ]; then
		mv "$f.all" "$TMP/etc/.sig.tmp" && mv "$TMP/etc/.sig.tmp" "$TMP/etc/policy.conf.sig"
	else
		rm -f "$TMP/etc/policy.conf.sig"
	fi
	cp "$f" "$TMP/etc/.policy.tmp" && mv "$TMP/etc/.policy.tmp" "$TMP/etc/policy.conf"
}

loaded_serial() { ctl --json status | jq -r .policy.serial || true; }

setup() {
	net_setup && mkdir -p "$TMP/etc" "$TMP/keys" "$PIN" && mount -t bpf bpf "$PIN" || return 1
	local k
	for k in alice bob; do ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$TMP/keys/$k" || return 1; done
	ssh-keygen -q -t ecdsa -b 256 -N '' -C carol -f "$TMP/keys/carol" || return 1
	signers "alice alice" "bob bob" "carol carol"
	{
		agent_conf bpf "$TMP/drops.jsonl"
		echo 'scope = "storage-us-east";'
		echo "allowed_signers = \"$TMP/etc/allowed_signers\";"
		echo 'signatures_required = 1;'
	} > "$TMP/agent.conf"
	policy 1 > "$TMP/p1.conf"
	cp "$TMP/p1.conf" "$TMP/etc/policy.conf"
	ssh-keygen -q -Y sign -n datafence-policy -f "$TMP/keys/alice" "$TMP/etc/policy.conf" || return 1
	start_agent
	wait_log "policy loaded (start): 'approval' serial 1"
}

# signers "PRINCIPALS [OPTIONS] KEY"...: the allowed_signers file
signers() {
	local l
	: > "$TMP/etc/allowed_signers.new"
	for l in "$@"; do
		echo "${l% *} $(cat "$TMP/keys/${l##* }.pub")" >> "$TMP/etc/allowed_signers.new"
	done
	mv "$TMP/etc/allowed_signers.new" "$TMP/etc/allowed_signers"
}

# restart with signatures_required = N
required() {
	stop_agent
	sed -i "s/^signatures_required = .*/signatures_required = $1;/" "$TMP/agent.conf"
	start_agent
	wait_log "policy loaded (start)"
}

an_unsigned_push_is_refused_and_a_signed_one_loads() {
	local st
	st=$(ctl --json status)
	expect_eq "signed by" "alice" "$(jq -r '.approval.signed_by | map(.principals) | join(",")' <<<"$st")"
	expect_eq "required" "1 false" "$(jq -r '"\(.approval.signatures_required) \(.approval.unsigned_accepted)"' <<<"$st")"
	policy 2 > "$TMP/p2.conf"
	signed_push "$TMP/p2.conf"
	wait_log "policy push refused (file changed)"
	wait_log "signature missing: 1 signature required"
	expect_eq "still serial 1" 1 "$(loaded_serial)"
	expect_eq "protected traffic as before" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
	signed_push "$TMP/p2.conf" carol
	wait_log "policy loaded (file changed): 'approval' serial 2"
	expect_eq "signed by" "carol" "$(ctl --json status | jq -r '.approval.signed_by | map(.principals) | join(",")')"
	# the same in metrics, which Prometheus's own parser reads
	ctl metrics > "$TMP/m.prom"
	expect_eq "metrics" "1 carol 2" "$(/usr/bin/python3 - "$TMP/m.prom" <<'EOP'
import sys
from prometheus_client.parser import text_string_to_metric_families
f = {m.name: m for m in text_string_to_metric_families(open(sys.argv[1]).read())}
print(int(f["datafence_signatures_required"].samples[0].value),
      f["datafence_policy_signer"].samples[0].labels["principals"],
      int(f["datafence_saved_serial"].samples[0].value))
EOP
)"
}

# Raised to 2 once the policy in force has two; then one is refused, the
# same key twice counts once, two approvers load; a retired key (rotation
# by allowed_signers alone) no longer counts.
two_signatures_need_two_approvers() {
	trap ensure_agent EXIT
	policy 3 > "$TMP/p3.conf"
	signed_push "$TMP/p3.conf" alice bob
	wait_log "policy loaded (file changed): 'approval' serial 3"
	required 2
	expect_eq "serial 3 at start" 3 "$(loaded_serial)"
	policy 4 > "$TMP/p4.conf"
	signed_push "$TMP/p4.conf" alice
	wait_log "1 of 2: 2 valid signatures required"
	signed_push "$TMP/p4.conf" alice alice
	wait_log "not counted: the same key as signature 1"
	expect_eq "still serial 3" 3 "$(loaded_serial)"
	signed_push "$TMP/p4.conf" alice bob
	wait_log "policy loaded (file changed): 'approval' serial 4"
	signers "alice alice" "bob valid-before=\"20200101Z\" bob" "carol carol"
	policy 5 > "$TMP/p5.conf"
	signed_push "$TMP/p5.conf" alice bob
	wait_log "key not valid at this time"
	signed_push "$TMP/p5.conf" alice carol
	wait_log "policy loaded (file changed): 'approval' serial 5"
	signers "alice alice" "bob bob" "carol carol"
}

a_policy_for_another_scope_or_expired_is_refused() {
	local exp
	policy 6 "" storage-eu-west > "$TMP/p6.conf"
	signed_push "$TMP/p6.conf" alice bob
	wait_log "the policy is for scope [storage-eu-west], not this host's 'storage-us-east'"
	exp=$(date -u -d "@$(($(date +%s) - 60))" +%Y-%m-%dT%H:%M:%SZ)
	policy 6 "expires = \"$exp\";" > "$TMP/p6.conf"
	signed_push "$TMP/p6.conf" alice bob
	wait_log "an expired policy is refused"
	expect_eq "still serial 5" 5 "$(loaded_serial)"
	expect_eq "refusals by cause" "1 1 3" \
		"$(ctl --json status | jq -r '"\(.pushes.refused.scope) \(.pushes.refused.invalid) \(.pushes.refused.signature)"')"
}

# kill -9, the pins removed (what a reboot leaves), an older policy signed
# as required in the file: refused (the saved serial), the last good one
# (serial 5) loads instead and enforces.
an_older_signed_serial_is_refused_after_a_reboot() {
	trap ensure_agent EXIT
	stop_agent -KILL
	"$DFD" --unload --config "$TMP/agent.conf" > /dev/null
	[ ! -e "$PIN/pins/df_state" ] || { echo "pins remain"; return 1; }
	cp "$TMP/p4.conf" "$TMP/etc/policy.conf" # serial 4, signed by alice and bob
	rm -f "$TMP/etc/policy.conf.sig"
	ssh-keygen -q -Y sign -n datafence-policy -f "$TMP/keys/alice" "$TMP/etc/policy.conf" >/dev/null 2>&1
	mv "$TMP/etc/policy.conf.sig" "$TMP/s"
	ssh-keygen -q -Y sign -n datafence-policy -f "$TMP/keys/bob" "$TMP/etc/policy.conf" >/dev/null 2>&1
	cat "$TMP/etc/policy.conf.sig" >> "$TMP/s" && mv "$TMP/s" "$TMP/etc/policy.conf.sig"
	start_agent
	wait_log "serial 4 is not higher than the highest accepted 5"
	wait_log "policy loaded (start: last good): 'approval' serial 5"
	local rc=0 out
	out=$(ctl status) || rc=$?
	expect_eq "degraded" 1 "$rc"
	expect_contains "says why" "- last good policy in force: $TMP/etc/policy.conf was refused at start" "$out"
	expect_eq "enforced: refused" "EPERM 0" "$(flow prot udp 192.0.2.2 5002)"
	expect_eq "enforced: approved" "sent 1" "$(flow prot udp 192.0.2.2 5001)"
}

a_broken_file_at_start_loads_the_last_good_policy() {
	trap ensure_agent EXIT
	stop_agent -KILL
	"$DFD" --unload --config "$TMP/agent.conf" > /dev/null
	echo 'policy = { name = "broken"; serial = 99; ' > "$TMP/etc/policy.conf"
	start_agent
	wait_log "policy loaded (start: last good): 'approval' serial 5"
	expect_eq "enforced: refused" "EPERM 0" "$(flow prot udp 192.0.2.2 5002)"
	expect_eq "the state's files" "5" "$(cut -d' ' -f1 "$TMP/state/serial")"
	expect_eq "its mode" "600" "$(stat -c %a "$TMP/state/serial")"
}

# A key pushed a huge serial: a policy signed as required that names it in
# `supersedes` goes back below it (and an unsigned agent would refuse it).
supersedes_is_the_signed_way_back() {
	policy 9000000000000000000 > "$TMP/big.conf"
	signed_push "$TMP/big.conf" alice bob
	wait_log "policy loaded (file changed): 'approval' serial 9000000000000000000"
	policy 7 > "$TMP/p7.conf"
	signed_push "$TMP/p7.conf" alice bob
	wait_log "serial 7 is not higher than the highest accepted 9000000000000000000"
	policy 7 "supersedes = 8999999999999999999;" > "$TMP/p7.conf"
	signed_push "$TMP/p7.conf" alice bob
	wait_log "supersedes 8999999999999999999 does not name the saved serial 9000000000000000000"
	policy 7 "supersedes = 9000000000000000000;" > "$TMP/p7.conf"
	signed_push "$TMP/p7.conf" alice bob
	wait_log "policy loaded (file changed): 'approval' serial 7"
	expect_eq "saved" 7 "$(ctl --json status | jq -r .approval.saved_serial)"
	policy 8 > "$TMP/p8.conf"
	signed_push "$TMP/p8.conf" alice bob
	wait_log "policy loaded (file changed): 'approval' serial 8"
}

# The CLI verifies as the agent does, with no agent and no root.
the_cli_verifies_as_the_agent_does() {
	local rc=0 out
	policy 9 > "$TMP/p9.conf"
	ssh-keygen -q -Y sign -n datafence-policy -f "$TMP/keys/alice" "$TMP/p9.conf" >/dev/null 2>&1
	chmod 0755 "$TMP" "$TMP/etc" && chmod 0644 "$TMP/p9.conf" "$TMP/p9.conf.sig" "$TMP/etc/allowed_signers"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" check "$TMP/p9.conf" \
		--allowed-signers "$TMP/etc/allowed_signers" --scope storage-us-east 2>&1) || rc=$?
	expect_eq "one signature, as nobody: $out" 0 "$rc"
	rc=0
	out=$("$CTL" verify "$TMP/p9.conf" --allowed-signers "$TMP/etc/allowed_signers" \
		--signatures-required 2 2>&1) || rc=$?
	expect_eq "two required" 1 "$rc"
	expect_contains "why" "1 of 2: 2 valid signatures required" "$out"
	rc=0
	out=$("$CTL" check "$TMP/p9.conf" --allowed-signers "$TMP/etc/allowed_signers" --scope other 2>&1) || rc=$?
	expect_eq "another scope" 1 "$rc"
	expect_contains "why" "the policy is not for scope 'other'" "$out"
	ssh-keygen -Y verify -f "$TMP/etc/allowed_signers" -I alice -n datafence-policy \
		-s "$TMP/p9.conf.sig" < "$TMP/p9.conf" > /dev/null 2>&1 ||
		{ echo "ssh-keygen -Y verify disagrees"; return 1; }
}

# A saved serial that cannot be read (here: garbage) refuses every push
# until it is mended, and status says so: the saved state is never guessed.
an_unreadable_saved_serial_refuses_pushes() {
	trap ensure_agent EXIT
	local rc=0 out
	stop_agent
	cp "$TMP/state/serial" "$TMP/serial.good"
	echo "not a serial" > "$TMP/state/serial"
	start_agent
	wait_log "the saved serial cannot be read"
	policy 10 > "$TMP/p10.conf"
	signed_push "$TMP/p10.conf" alice bob
	wait_log "the saved serial cannot be read: $TMP/state/serial: not \"SERIAL SHA256\""
	out=$(ctl status) || rc=$?
	expect_eq "degraded" 1 "$rc"
	expect_contains "says why" "- state unreadable: $TMP/state/serial" "$out"
	stop_agent
	mv "$TMP/serial.good" "$TMP/state/serial"
	start_agent
	wait_log "policy loaded (start): 'approval' serial 10"
}

if ! setup; then echo "FAIL approval setup"; cat "$TMP/agent.log"; exit 1; fi
run_case an_unsigned_push_is_refused_and_a_signed_one_loads an_unsigned_push_is_refused_and_a_signed_one_loads
run_case two_signatures_need_two_approvers two_signatures_need_two_approvers
run_case a_policy_for_another_scope_or_expired_is_refused a_policy_for_another_scope_or_expired_is_refused
run_case an_older_signed_serial_is_refused_after_a_reboot an_older_signed_serial_is_refused_after_a_reboot
run_case a_broken_file_at_start_loads_the_last_good_policy a_broken_file_at_start_loads_the_last_good_policy
run_case supersedes_is_the_signed_way_back supersedes_is_the_signed_way_back
run_case the_cli_verifies_as_the_agent_does the_cli_verifies_as_the_agent_does
run_case an_unreadable_saved_serial_refuses_pushes an_unreadable_saved_serial_refuses_pushes
exit 0
