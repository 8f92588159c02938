#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make run: the agent in the foreground with the shipped default config.
# Installs config/agent.conf and config/policy.conf into /etc/datafence when
# they are not there yet (never overwrites), creates the demo cgroup the
# default policy protects, and runs datafenced. Ctrl-C stops the agent and
# leaves enforcement in place; `datafenced --unload` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
if [ "$(id -u)" != 0 ]; then echo "make run: needs root (sudo make run)" >&2; exit 1; fi
install -d -m 0755 /etc/datafence
[ -e /etc/datafence/agent.conf ] || install -m 0644 config/agent.conf /etc/datafence/agent.conf
[ -e /etc/datafence/policy.conf ] || install -m 0644 config/policy.conf /etc/datafence/policy.conf
cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
mkdir -p "$cgroot/datafence-demo.slice"
echo "datafenced: config /etc/datafence/agent.conf, policy /etc/datafence/policy.conf"
echo "protected: processes in $cgroot/datafence-demo.slice; drops: /var/log/datafence/drops.jsonl"
exec "$O/datafenced" --foreground --config /etc/datafence/agent.conf
