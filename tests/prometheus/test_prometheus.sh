#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What we ship for Prometheus, checked by Prometheus's own tool: the alert
# rules (promtool check rules) and their unit tests (promtool test rules).
# node_exporter serving the agent's metrics file is in the e2e suite (it
# needs the real agent).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh

rules_are_valid() {
	promtool check rules config/prometheus/datafence-alerts.yml
}

rules_fire_as_tested() {
	(cd tests/prometheus && promtool test rules datafence-alerts.test.yml)
}

# every alert has a runbook section in docs/alerts.md
every_alert_has_a_runbook() {
	local a anchor
	for a in $(sed -n 's/^ *- alert: //p' config/prometheus/datafence-alerts.yml); do
		anchor=$(tr 'A-Z' 'a-z' <<<"$a")
		grep -q "docs/alerts.md#$anchor\"" config/prometheus/datafence-alerts.yml ||
			{ echo "$a: no runbook_url to #$anchor"; return 1; }
		grep -q "^## $a\$" docs/alerts.md || { echo "$a: no section '## $a' in docs/alerts.md"; return 1; }
		grep -q "alertname: $a\$" tests/prometheus/datafence-alerts.test.yml ||
			{ echo "$a: not unit-tested"; return 1; }
	done
}

command -v promtool >/dev/null || { echo "SKIP prometheus: promtool not installed (make deps)"; exit 0; }
run_case rules_are_valid rules_are_valid
run_case rules_fire_as_tested rules_fire_as_tested
run_case every_alert_has_a_runbook every_alert_has_a_runbook
