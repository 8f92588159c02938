#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Ansible role (config/ansible/roles/datafence) run by ansible-playbook
# against this machine (-c local) with an agent the test started
# (datafence_manage_service: false): a good policy lands and its serial is
# enforced; a broken one, and an older serial, fail at the copy's
# `validate` and the host keeps its serial and its file; a policy the check
# passes but the agent refuses (the role told no scope, the host has one)
# fails the play. Root.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
. tests/lib/agent.sh
command -v ansible-playbook >/dev/null || { echo "SKIP ansible: ansible-playbook not installed (make deps)"; exit 0; }
agent_suite ansible
export ANSIBLE_LOCAL_TEMP=$TMP/ansible-local ANSIBLE_REMOTE_TEMP=$TMP/ansible-remote \
	ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_ROLES_PATH=$PWD/config/ansible/roles \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_LOCALHOST_WARNING=0

# policy SERIAL PORT [SCOPE-KEY]
policy() {
	local scope='scope = [ "fleet-a" ];'
	cat <<EOP
policy = { name = "fleet"; serial = $1; ${3-$scope} };
classes = ( { name = "t"; match = { cgroups = [ "$CGREL/prot" ]; }; } );
destinations = ( { name = "peer"; cidrs = [ "192.0.2.2/32" ]; protocols = [ "udp" ];
  ports = ( $2 ); allow = [ "t" ]; } );
EOP
}

setup() {
	net_setup && mkdir -p "$TMP/etc" "$TMP/files" "$PIN" && mount -t bpf bpf "$PIN" || return 1
	{ agent_conf bpf "$TMP/drops.jsonl"; echo 'scope = "fleet-a";'; } > "$TMP/agent.conf"
	policy 1 5001 > "$TMP/etc/policy.conf"
	start_agent
	wait_log "policy loaded (start): 'fleet' serial 1"
	cat > "$TMP/play.yml" <<EOP
- hosts: all
  gather_facts: false
  roles:
    - datafence
EOP
	# the role's variables: this test's paths; the agent runs already
	jq -n --arg tmp "$TMP" --arg pin "$PIN/pins" --arg ctl "$CTL" --arg va "$VA" '{
		datafence_conf_dir: "\($tmp)/etc", datafence_ctl: $ctl,
		datafence_ctl_opts: "--socket \($tmp)/control.sock --pin-dir \($pin)",
		datafence_manage_service: false,
		datafence_agent_conf: { backend: "bpf", pin_dir: $pin, interfaces: [$va],
			drop_log: "\($tmp)/drops.jsonl", syslog: false,
			control_socket: "\($tmp)/control.sock", state_dir: "\($tmp)/state",
			scope: "fleet-a" } }' > "$TMP/vars.json"
}

# play POLICY-FILE [VARS]: ansible-playbook's exit code; its output in $TMP/play.out
play() {
	local rc=0
	ansible-playbook -i localhost, -c local "$TMP/play.yml" -e @"${2:-$TMP/vars.json}" \
		-e datafence_policy_src="$1" > "$TMP/play.out" 2>&1 || rc=$?
	echo "$rc"
}

serial() { "$CTL" --socket "$TMP/control.sock" --pin-dir "$PIN/pins" --json status | jq .policy.serial; }

the_example_playbook_is_valid() {
	ansible-playbook --syntax-check -i localhost, config/ansible/site.yml > "$TMP/syntax.out" 2>&1 ||
		{ cat "$TMP/syntax.out"; return 1; }
}

a_good_policy_lands_and_is_enforced() {
	policy 2 5002 > "$TMP/files/p2.conf"
	local rc
	rc=$(play "$TMP/files/p2.conf")
	[ "$rc" = 0 ] || { echo "ansible-playbook exited $rc:"; tail -30 "$TMP/play.out"; return 1; }
	expect_eq "the serial enforced" 2 "$(serial)"
	cmp -s "$TMP/files/p2.conf" "$TMP/etc/policy.conf" || { echo "policy.conf is not the pushed file"; return 1; }
	expect_contains "agent.conf from the dict" "state_dir = \"$TMP/state\";" "$(cat "$TMP/etc/agent.conf")"
	expect_eq "approved now" "sent 1" "$(flow prot udp 192.0.2.2 5002 | cut -d' ' -f1,2)"
}

a_broken_policy_fails_at_validate() {
	# a trailing comma in a list: a libconfig syntax error
	policy 3 5003 | sed 's|"192.0.2.2/32" \]|"192.0.2.2/32", ]|' > "$TMP/files/p3.conf"
	local rc
	rc=$(play "$TMP/files/p3.conf")
	[ "$rc" != 0 ] || { echo "ansible-playbook passed a broken policy"; return 1; }
	expect_contains "refused at validate" "failed to validate" "$(cat "$TMP/play.out")"
	expect_eq "the host keeps its serial" 2 "$(serial)"
	cmp -s "$TMP/files/p2.conf" "$TMP/etc/policy.conf" || { echo "policy.conf changed"; return 1; }
}

an_older_serial_fails_at_validate() {
	policy 1 5009 > "$TMP/files/p1.conf"
	local rc
	rc=$(play "$TMP/files/p1.conf")
	[ "$rc" != 0 ] || { echo "ansible-playbook passed an older serial"; return 1; }
	expect_contains "why" "serial 1 is not higher than the highest accepted 2" "$(cat "$TMP/play.out")"
	expect_eq "the host keeps its serial" 2 "$(serial)"
}

# The role told no scope checks a policy without one and lets it land; the
# agent (scope fleet-a) refuses it: the play fails, the host keeps serial 2.
a_policy_the_agent_refuses_fails_the_play() {
	policy 4 5004 "" > "$TMP/files/p4.conf"
	jq 'del(.datafence_agent_conf.scope)' "$TMP/vars.json" > "$TMP/vars-noscope.json"
	local rc
	rc=$(play "$TMP/files/p4.conf" "$TMP/vars-noscope.json")
	[ "$rc" != 0 ] || { echo "ansible-playbook passed a policy the agent refused:"; tail -20 "$TMP/play.out"; return 1; }
	expect_eq "the host keeps its serial" 2 "$(serial)"
	expect_contains "the agent's reason" "the policy has no scope; this host's scope is 'fleet-a'" "$(cat "$TMP/play.out")"
}

if ! setup; then echo "FAIL ansible setup"; cat "$TMP/agent.log"; exit 1; fi
run_case the_example_playbook_is_valid the_example_playbook_is_valid
run_case a_good_policy_lands_and_is_enforced a_good_policy_lands_and_is_enforced
run_case a_broken_policy_fails_at_validate a_broken_policy_fails_at_validate
run_case an_older_serial_fails_at_validate an_older_serial_fails_at_validate
run_case a_policy_the_agent_refuses_fails_the_play a_policy_the_agent_refuses_fails_the_play
