#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs every test suite and ends with one line: "N passed, N failed[, N skipped]".
# Suites: unit (cmocka, plain and ASan+UBSan), cli (the real datafencectl),
# fuzz smoke, datapath (root: the BPF programs through BPF_PROG_TEST_RUN, and
# both backends against the reference with real packets through nftables),
# prometheus (the alert rules with promtool), live (root: real packets
# between network namespaces), e2e (root: the
# real agent, once per backend), bypass (root: the ways out of a protected
# cgroup against the real agent), surface (root: what a local user can plant
# where the agent reads and writes), ansible (root: the role against this
# machine), package (root: the Debian package built, installed and purged). Set SUITES="unit cli" to run some only.
set -u
cd "$(dirname "$0")/.."
export O=${O:-build}
SUITES=${SUITES:-"unit san cli prometheus fuzz datapath live e2e bypass surface health approval ansible package"}
PASSED=0 FAILED=0 SKIPPED=0
FAILED_NAMES=()
LOG_DIR=$O/test-logs
mkdir -p "$LOG_DIR"

# A cmocka binary: every test it reports counts; a crash counts as a failure.
run_cmocka() {
	local label=$1 bin=$2 log ok fail
	log=$LOG_DIR/$(echo "$label" | tr '/ ' '__').log
	"$bin" >"$log" 2>&1
	local rc=$?
	ok=$(grep -c '^\[       OK \]' "$log")
	fail=$(grep '^\[  FAILED  \] [a-z_]' "$log" | sort -u | wc -l)
	PASSED=$((PASSED + ok))
	if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then fail=1; fi
	FAILED=$((FAILED + fail))
	if [ "$fail" != 0 ]; then
		FAILED_NAMES+=("$label")
		echo "FAIL $label ($ok passed, $fail failed): log $log"
		sed 's/^/    /' "$log" | tail -40
	else
		echo "ok   $label ($ok tests)"
	fi
}

# Shell suites print "ok NAME", "FAIL NAME", "SKIP NAME: why" lines.
run_shell() {
	local label=$1 script=$2 log ok fail skip
	log=$LOG_DIR/$label.log
	bash "$script" >"$log" 2>&1
	local rc=$?
	ok=$(grep -c '^ok ' "$log")
	fail=$(grep -c '^FAIL ' "$log")
	skip=$(grep -c '^SKIP ' "$log")
	if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then fail=1; echo "FAIL $label: exited $rc" >>"$log"; fi
	PASSED=$((PASSED + ok)); FAILED=$((FAILED + fail)); SKIPPED=$((SKIPPED + skip))
	grep -E '^(FAIL|SKIP) ' "$log" | sed "s/^/  $label: /"
	if [ "$fail" != 0 ]; then
		FAILED_NAMES+=("$label")
		echo "FAIL $label ($ok passed, $fail failed): log $log"
		tail -40 "$log" | sed 's/^/    /'
	else
		if [ "$skip" -gt 0 ]; then echo "ok   $label ($ok tests, $skip skipped)"; else echo "ok   $label ($ok tests)"; fi
	fi
}

for suite in $SUITES; do
	case $suite in
	unit)
		for t in "$O"/tests/test_*; do run_cmocka "unit/$(basename "$t")" "$t"; done ;;
	san)
		# The same unit tests built with ASan+UBSan (leaks are errors too).
		for t in "$O"/san/tests/test_*; do
			LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			DF_DIFF_POLICIES=${DF_DIFF_POLICIES_SAN:-40} run_cmocka "san/$(basename "$t")" "$t"
		done ;;
	cli)
		run_shell cli tests/cli/test_cli.sh ;;
	fuzz)
		run_shell fuzz tests/fuzz/smoke.sh ;;
	datapath)
		# The real BPF programs in the real kernel: root only.
		if [ "$(id -u)" != 0 ]; then
			echo "SKIP datapath: needs root (BPF, bpffs, cgroups); run sudo make test"
			SKIPPED=$((SKIPPED + 1))
		else
			for t in "$O"/tests/dp/test_*; do run_cmocka "datapath/$(basename "$t")" "$t"; done
		fi ;;
	ansible)
		# The Ansible role against this machine, with a real agent (root).
		run_shell ansible tests/ansible/test_ansible.sh ;;
	package)
		# The Debian package: built, installed, checked, purged (root).
		run_shell package tests/package/test_deb.sh ;;
	prometheus)
		# The alert rules, with promtool (no root).
		run_shell prometheus tests/prometheus/test_prometheus.sh ;;
	live)
		# Real packets between network namespaces, programs on our own cgroup.
		run_shell live tests/live/test_live.sh ;;
	e2e)
		# The real agent, real traffic (root), with each backend.
		for b in bpf nftables both; do
			BACKEND=$b run_shell "e2e-$b" tests/e2e/test_agent.sh
		done ;;
	bypass)
		# The ways out of a protected cgroup, against the real agent (root).
		run_shell bypass tests/e2e/test_bypass.sh ;;
	surface)
		# The agent's own attack surface, against the real agent (root).
		run_shell surface tests/e2e/test_surface.sh ;;
	health)
		# Health as proof and the dead-man posture, against the real agent (root).
		run_shell health tests/e2e/test_health.sh ;;
	approval)
		# Signed policies, scope, anti-rollback, the last good policy (root).
		run_shell approval tests/e2e/test_approval.sh ;;
	*)
		echo "unknown suite $suite" >&2; FAILED=$((FAILED + 1)) ;;
	esac
done

if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
	echo "failed suites: ${FAILED_NAMES[*]}"
fi
if [ "$SKIPPED" -gt 0 ]; then
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
	echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" = 0 ]
