#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A short, bounded run of every libFuzzer target (ASan+UBSan) from the seed
# corpus: example and broken policies. `make fuzz` runs them longer.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
SECS=${FUZZ_SMOKE_SECONDS:-15}

export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp

smoke() {
	local t=$1
	CORPUS=$(mktemp -d /tmp/df-fuzz-XXXXXX)
	trap 'rm -rf "$CORPUS"' EXIT
	cp config/examples/*.conf tests/policies/bad/*.conf "$CORPUS"/
	[ -d "tests/fuzz/seeds/$t" ] && cp "tests/fuzz/seeds/$t"/* "$CORPUS"/
	"$O/fuzz/$t" -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$O/fuzz/$t-" "$CORPUS" 2>&1 | tail -5
	test "${PIPESTATUS[0]}" = 0
}

for t in fuzz_policy fuzz_values fuzz_nflog fuzz_sshsig; do
	run_case "$t (${SECS}s)" smoke "$t"
done
exit 0
