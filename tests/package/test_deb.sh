#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Debian package (make deb, debhelper): built, installed with dpkg, its
# files, conffiles and unit checked, the installed CLI run, then purged,
# leaving the machine as it was. Root; skipped on a host that already has
# a datafence package (never touched).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cases.sh
if [ "$(id -u)" != 0 ]; then echo "SKIP package: needs root (dpkg -i)"; exit 0; fi
if dpkg-query -W -f='${Status}' datafence 2>/dev/null | grep -q 'ok installed'; then
	echo "SKIP package: a datafence package is installed on this host (left alone)"
	exit 0
fi
TMP=$(mktemp -d /tmp/df-package-XXXXXX)
trap 'dpkg --purge datafence >/dev/null 2>&1; rm -rf "$TMP"' EXIT

FILES="/usr/sbin/datafenced /usr/sbin/datafencectl /usr/lib/datafence/datafence.bpf.o
/lib/systemd/system/datafenced.service /etc/datafence/agent.conf /etc/datafence/policy.conf
/etc/logrotate.d/datafence /usr/share/man/man8/datafenced.8.gz /usr/share/man/man8/datafencectl.8.gz
/usr/share/man/man5/datafence.conf.5.gz /usr/share/bash-completion/completions/datafencectl
/usr/share/doc/datafence/copyright /usr/share/doc/datafence/docs/agent.md
/usr/share/datafence/prometheus/datafence-alerts.yml /usr/share/datafence/examples/us-storage.conf"

# what of the package's is on the machine, and what dpkg says of it
snapshot() {
	local f
	for f in $FILES /etc/datafence /usr/share/doc/datafence /usr/lib/datafence /usr/share/datafence; do
		[ -e "$f" ] && echo "present $f"
	done
	dpkg-query -W -f='${Status}\n' datafence 2>&1 | sed 's/^dpkg-query: //'
}
BEFORE=$(snapshot)

the_package_builds() {
	make -s O="$O" deb > "$TMP/build.out" 2>&1 || { tail -30 "$TMP/build.out"; return 1; }
	ls "$O"/deb/datafence_*.deb > "$TMP/deb"
	[ "$(wc -l < "$TMP/deb")" = 1 ] || { echo "debs: $(cat "$TMP/deb")"; return 1; }
}

it_installs_its_files() {
	local deb f missing="" rc=0 out
	deb=$(cat "$TMP/deb")
	dpkg -i "$deb" > "$TMP/install.out" 2>&1 || { cat "$TMP/install.out"; return 1; }
	for f in $FILES; do [ -e "$f" ] || missing="$missing $f"; done
	expect_eq "missing after dpkg -i" "" "$missing"
	expect_eq "conffiles" "/etc/datafence/agent.conf /etc/datafence/policy.conf /etc/logrotate.d/datafence" \
		"$(dpkg-query -W -f='${Conffiles}\n' datafence | awk 'NF { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//')"
	expect_contains "the unit runs the installed agent" "ExecStart=/usr/sbin/datafenced" \
		"$(cat /lib/systemd/system/datafenced.service)"
	out=$(systemd-analyze verify --man=no /lib/systemd/system/datafenced.service 2>&1) || rc=$?
	expect_eq "systemd-analyze verify: $out" 0 "$rc"
	expect_eq "verify says nothing" "" "$out"
	expect_contains "version" "0.1.0" "$(/usr/sbin/datafencectl version)"
	/usr/sbin/datafencectl check /etc/datafence/policy.conf > "$TMP/check.out" 2>&1 ||
		{ echo "the shipped policy does not check:"; cat "$TMP/check.out"; return 1; }
	if command -v logrotate >/dev/null; then
		logrotate -d /etc/logrotate.d/datafence > "$TMP/logrotate.out" 2>&1 ||
			{ echo "logrotate:"; cat "$TMP/logrotate.out"; return 1; }
	fi
	bash -n /usr/share/bash-completion/completions/datafencectl
	expect_contains "the license" "GPL-2.0-only" "$(cat /usr/share/doc/datafence/copyright)"
}

purge_leaves_the_machine_as_before() {
	dpkg --purge datafence > "$TMP/purge.out" 2>&1 || { cat "$TMP/purge.out"; return 1; }
	expect_eq "the machine as before" "$BEFORE" "$(snapshot)"
}

run_case the_package_builds the_package_builds
run_case it_installs_its_files it_installs_its_files
run_case purge_leaves_the_machine_as_before purge_leaves_the_machine_as_before
