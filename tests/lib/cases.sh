# SPDX-License-Identifier: GPL-2.0-only
# Helpers for shell test suites: each case prints "ok NAME" or "FAIL NAME"
# with what was expected and what came, or "SKIP NAME: why".
O=${O:-build}
CTL=${CTL:-$O/datafencectl}
T_FAILED=0

# run_case NAME FUNCTION [ARGS...]: runs the case in a subshell, so a case's
# `exit`, traps and cleanups stay its own. The subshell's status is taken
# from a plain assignment: under `if`, `||` or `&&` bash would ignore the
# case's `set -e`, and a failed check in the middle of a case would pass.
# A failure names the command that failed and its line. CASES="a b" runs
# only those cases (later cases may rely on earlier ones).
run_case() {
	local name=$1; shift
	local out rc
	if [ -n "${CASES:-}" ] && [[ " $CASES " != *" $name "* ]]; then
		return 0
	fi
	out=$(
		set -eE
		_df_level=$BASH_SUBSHELL # the trap speaks for the case, not for its $(...)
		trap '[ "$BASH_SUBSHELL" != "$_df_level" ] || [ -n "${_df_failed:-}" ] ||
			echo "failed at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"; _df_failed=1' ERR
		"$@" 2>&1
	)
	rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok $name"
	elif [ "$rc" = 77 ]; then
		echo "SKIP $name: ${out##*$'\n'}"
	else
		echo "FAIL $name"
		printf '%s\n' "$out" | sed 's/^/    /'
		T_FAILED=1
	fi
}

skip() { echo "$*"; exit 77; }

# The counters' layout (datafence.h DF_CNT_INDEX): index = ((hook * 65 +
# slot) * 3 + verdict) * DF_REASONS + reason, the reasons read from the ABI
# header so a new reason does not move the tests' sums.
DF_REASONS=$(grep -cE '^[[:space:]]DF_R_[A-Z_]+ = [0-9]+,' bpf/datafence.h)
DF_HOOK_STRIDE=$((65 * 3 * DF_REASONS))

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" != "$3" ]; then
		printf '%s: expected [%s], got [%s]\n' "$1" "$2" "$3"
		return 1
	fi
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
	case "$3" in
	*"$2"*) ;;
	*) printf '%s: expected to contain [%s], got:\n%s\n' "$1" "$2" "$3"; return 1 ;;
	esac
}

# expect_rc WHAT EXPECTED_RC CMD...
expect_rc() {
	local what=$1 want=$2; shift 2
	local rc=0
	"$@" >/dev/null 2>&1 || rc=$?
	expect_eq "$what: exit code of $*" "$want" "$rc"
}
