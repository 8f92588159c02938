# SPDX-License-Identifier: GPL-2.0-only
# Helpers for shell test suites: each case prints "ok NAME" or "FAIL NAME"
# with what was expected and what came, or "SKIP NAME: why".
O=${O:-build}
CTL=${CTL:-$O/datafencectl}
T_FAILED=0

# run_case NAME FUNCTION [ARGS...]: runs the case in a subshell, so a case's
# `exit`, traps and cleanups stay its own.
run_case() {
	local name=$1; shift
	local out
	if out=$( ( set -e; "$@" ) 2>&1 ); then
		echo "ok $name"
	else
		local rc=$?
		if [ "$rc" = 77 ]; then
			echo "SKIP $name: ${out##*$'\n'}"
		else
			echo "FAIL $name"
			printf '%s\n' "$out" | sed 's/^/    /'
			T_FAILED=1
		fi
	fi
}

skip() { echo "$*"; exit 77; }

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
