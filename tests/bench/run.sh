#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make bench: runs the benchmark (root) and writes docs/benchmarks.md.
# BENCH_ARGS=--quick skips the 1M-prefix and non-US sets (and flood runs two
# rounds). Two programs: bench (the BPF datapath through BPF_PROG_TEST_RUN)
# and flood (every filter with real packets; FLOOD_ARGS, e.g. --rounds=N;
# then flood --stats, each program's run time against an empty program's);
# then storm.sh (the agent under a drop storm; STORM_DROPS sets its size,
# default 2,000,000) and start.sh (start to enforcing; START_RUNS).
set -euo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
if [ "$(id -u)" != 0 ]; then echo "make bench: needs root (BPF)" >&2; exit 1; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$O/bench" ${BENCH_ARGS:-} | tee "$out"
{
	echo
	echo "Real packets from a protected cgroup over veth, every mode set up at once and the rounds interleaved (tests/bench/flood.c; the method above):"
} | tee -a "$out"
"$O/flood" ${BENCH_ARGS:-} ${FLOOD_ARGS:-} | tee -a "$out"
{
	echo
	echo "Where the time goes (\`flood --stats\`): the kernel's run time of each program (BPF_ENABLE_STATS), datafence's programs on every hook against empty programs on the same hooks, one second of each sender under each:"
} | tee -a "$out"
"$O/flood" --stats | tee -a "$out"
{
	echo
	echo "Drop storms (tests/bench/storm.sh): a C sender on one CPU in a protected cgroup, UDP to distinct unapproved destinations, all refused; the agent's CPU time over the wall time of the storm and the second after it (target: at most 0.10 of a core), a status round trip over its control socket every 0.2 s during the storm (target: under 100 ms):"
	echo
} | tee -a "$out"
O=$O tests/bench/storm.sh | tee -a "$out"
{
	echo
	echo "Start (tests/bench/start.sh): from \`datafenced\` started to \"policy loaded (start)\" in its log (target: under 1.5 s):"
	echo
} | tee -a "$out"
O=$O tests/bench/start.sh | tee -a "$out"
{
	sed -n '1,/^<!-- results -->$/p' docs/benchmarks.md
	echo
	echo "Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs, kernel $(uname -r), with \`sudo make bench\`${BENCH_ARGS:+ (BENCH_ARGS=$BENCH_ARGS)}:"
	echo
	cat "$out"
} > docs/benchmarks.md.new
mv docs/benchmarks.md.new docs/benchmarks.md
echo "wrote docs/benchmarks.md"
