// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl: the operator's CLI. Commands come from one table that also
 * drives `help`; every command prints text or, with --json, JSON. The
 * commands live in ctl_*.c, what they share in ctl.c. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "proto.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *summary;
	const char *help;
};

static int cmd_help(int argc, char **argv);

static const struct cmd cmds[] = {
	{ "check", cmd_check,
	  "FILE... [--json] [--dump] [--strict] [--offline] [--allowed-signers F [--signatures-required N] [--signature SIG]] [--scope S] [--state-dir DIR]",
	  "validate policy files and summarise what they compile to",
	  "  Parses, validates and compiles each FILE without touching the kernel; \"-\"\n"
	  "  reads standard input. Errors and warnings print as FILE:LINE:COL: error:\n"
	  "  MESSAGE (COL when the culprit is found) with the source line and a caret.\n"
	  "  Warnings: no classes, a protected class approved to every address, a class\n"
	  "  approved nowhere, a destination approving no class, an enforce class in an\n"
	  "  audit policy, an exception over 90 days or ending within 7, one already over.\n"
	  "  --json   one JSON object per file and line: {file, valid, diagnostics\n"
	  "           ([{file, line, column, severity, message}]),\n"
	  "           summary (with class_modes), strict_failed}\n"
	  "  --dump   also print the compiled map images\n"
	  "  --strict warnings fail too (for CI pipelines)\n"
	  "  --offline user names are not resolved here (a CI runner has not the hosts'\n"
	  "           users): notes, resolved by each host's agent\n"
	  "  Approval as the agent checks it (docs/signing.md), no agent and no root:\n"
	  "  --allowed-signers F     an OpenSSH allowed_signers file: FILE.sig must hold\n"
	  "                          valid signatures (ssh-keygen -Y sign -n datafence-policy)\n"
	  "  --signatures-required N by N distinct keys of distinct principals (default 1)\n"
	  "  --signature SIG         the signatures are in SIG, not FILE.sig\n"
	  "  --scope S               the policy must be for host scope S (\"\": a host without one)\n"
	  "  --state-dir DIR         its serial must be one the agent of that state_dir takes:\n"
	  "                          above the highest accepted (the same file again is fine),\n"
	  "                          or a signed supersedes naming it\n"
	  "  Exit: 0 every file valid, 1 some file invalid (or, with --strict, warned\n"
	  "  about; or not signed or scoped as required), 2 usage error.\n" },
	{ "verify", cmd_check, "FILE --allowed-signers F [--signatures-required N] [--signature SIG] [--scope S]",
	  "alias of check (with --allowed-signers)", "" },
	{ "test", cmd_test,
	  "[--policy FILE] (--dst ADDR [--port N] [--proto P] (--class NAME | --cgroup PATH | --uid N | --mark N | --sport N | --src ADDR) | --flows FILE) [--at TIME] [--json]",
	  "explain the verdict for one flow",
	  "  Judges one flow; prints verdict, reason, classes and the deciding rule.\n"
	  "  Without --policy: the loaded policy (root), by the reference evaluator and\n"
	  "  the kernel: the BPF program on a crafted packet (BPF_PROG_TEST_RUN, counting\n"
	  "  nothing) and, under the nftables backend, the table's sets and rules as\n"
	  "  loaded, evaluated here (nftables has no dry run).\n"
	  "  --policy FILE     that file instead, by the reference evaluator and the\n"
	  "                    compiled-table emulator; no root\n"
	  "  --class NAME      the flow carries this class (repeatable), or give socket facts:\n"
	  "  --cgroup PATH     cgroup v2 path of the sending process, from the cgroup2 root\n"
	  "  --uid N --mark N --sport N --src ADDR\n"
	  "  --proto P         tcp (default), udp, sctp, icmp, icmpv6 or a number\n"
	  "  --port N          destination port (required for tcp, udp, sctp)\n"
	  "  --at TIME         judge at this RFC 3339 time (exceptions), default now\n"
	  "  --flows FILE      many flows, one a line: the options above, \"=>\", the verdict\n"
	  "                    (allow, drop, would-drop) and optionally the reason; # comments;\n"
	  "                    \"-\" reads standard input. Each mismatch is listed as\n"
	  "                    FILE:LINE: expected ..., got ...; exit 1 on any (regression\n"
	  "                    cases kept next to the policy, for CI)\n"
	  "  --json            {verdict, reason, class (deciding), classes, rule, flow, at,\n"
	  "                    policy {file, name, serial}, reference, kernel | nftables |\n"
	  "                    emulator, agree}; with --flows {file, policy, at, flows\n"
	  "                    [{line, flow, expected, got, agree, ok}], checked, mismatches,\n"
	  "                    errors}\n"
	  "  Exit: 0 judged (every flow as expected), 1 policy invalid (or a flow not as\n"
	  "  expected), 2 usage, 3 the two evaluators disagree.\n" },
	{ "diff", cmd_diff, "OLD NEW [--at TIME] [--json]", "what pushing NEW over OLD changes",
	  "  Per class (by name): its mode, the destinations that allow it (added,\n"
	  "  removed; for those in both, CIDRs, ports and protocols added or removed),\n"
	  "  its exceptions; then the verdicts that flip on a sample of flows: each\n"
	  "  prefix's first and last address and the one after it, in both files, over\n"
	  "  tcp and udp and the ports they name, judged by the reference evaluator\n"
	  "  (at --at, default now). No root.\n"
	  "  --json  {old, new {file, name, serial}, classes [{name, state (same, changed,\n"
	  "          added, removed), mode_old, mode_new, destinations {added, removed,\n"
	  "          changed [{name, cidrs, ports}]}, exceptions {added, removed}}], flips\n"
	  "          {sampled, flipped, examples [{class, proto, dst, port, old, new}]},\n"
	  "          differ}\n"
	  "  Exit: as diff(1): 0 the same, 1 different, 2 trouble (usage, an invalid file).\n" },
	{ "status", cmd_status, "[--json]", "the agent, the policy, attachments, totals, health",
	  "  Asks the agent over its control socket; when the agent is down, reads the\n"
	  "  pinned maps and says whether the pinned policy still enforces.\n"
	  "  Exit: 0 healthy, 1 degraded (last push refused, interface not attached,\n"
	  "  no policy), 5 agent down.\n" },
	{ "counters", cmd_counters, "[--json]", "judged packets per hook, class, verdict, reason; per rule",
	  "  Sorted by packets. Alias: top. Without the agent: the pinned counters.\n" },
	{ "top", cmd_counters, "[--json]", "alias of counters", "" },
	{ "drops", cmd_drops, "[--follow] [--since DURATION] [--class NAME] [--limit N] [--log FILE] [--json]",
	  "recent drops and would-drops",
	  "  From the agent's memory of recent drop records (the drop log has them all).\n"
	  "  --follow    keep printing new ones (Ctrl-C stops)\n"
	  "  --since D   only the last D (30s, 10m, 2h, 1d)\n"
	  "  --log FILE  when the agent is down, read this drop log\n"
	  "              (default " DF_DROP_LOG ")\n"
	  "  --json      the drop log's JSON records, one per line\n" },
	{ "metrics", cmd_metrics, "[--json]", "Prometheus text exposition of every counter",
	  "  The agent's metrics (docs/control.md) as Prometheus text; --json: the same\n"
	  "  as {metrics: [{name, type, help, samples [{labels, value}]}]}.\n"
	  "  Exit: 0, 5 agent down.\n" },
	{ "reload", cmd_reload, "[--json]", "make the agent read the policy file again",
	  "  Root or a member of admin_group only.\n"
	  "  Exit: 0 accepted, 1 refused (the errors are printed), 5 agent down,\n"
	  "  4 not permitted.\n" },
	{ "unload", cmd_unload, "--yes", "remove enforcement (detach every hook, unpin, delete the nftables table)", "" },
	{ "version", cmd_version, "", "print the version", "" },
	{ "help", cmd_help, "[COMMAND]", "this help, or one command's", "" },
};

static void print_usage(FILE *out)
{
	fprintf(out, "Usage: datafencectl [--json] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(out, "\nGlobal options:\n"
		     "  -j, --json       machine-readable output (errors as {\"error\": ...})\n"
		     "  --socket PATH    the agent's control socket (default " DF_CONTROL_SOCKET ")\n"
		     "  --pin-dir DIR    the pin directory (default " DF_PIN_DIR ")\n"
		     "  --nft-table NAME the nftables backend's inet table (default datafence), read\n"
		     "                   in this network namespace when the agent is down\n"
		     "  -h, --help       this help; \"datafencectl help COMMAND\" for one command\n"
		     "  -V, --version    print the version\n"
		     "\nOnly an agent of root's is believed. Exit 2: a usage error; 4: the agent\n"
		     "refused the request (not permitted, busy); 5: the agent cannot be reached.\n"
		     "Options may come before or after the command.\n");
}

static void print_cmd_help(const struct cmd *c)
{
	printf("Usage: datafencectl %s %s\n%s%s", c->name, c->args, *c->help ? "\n" : "",
	       c->help);
}

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		print_usage(stdout);
		return EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c)
		return ctl_usage_error("unknown command \"%s\"; try \"datafencectl help\"", argv[1]);
	print_cmd_help(c);
	return EXIT_OK;
}

/* A global option at argv[i] (and its value): consumed, 1 (2 with its
 * value); 0: not one; -1: its value is missing. */
static int global_opt(int argc, char **argv, int i)
{
	static const struct {
		const char *name;
		const char **value;
	} with_value[] = { { "--socket", &opt_socket },
			   { "--pin-dir", &opt_pin_dir },
			   { "--nft-table", &opt_nft_table } };

	if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
		ctl_json = true;
		return 1;
	}
	for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
		if (!strcmp(argv[i], with_value[k].name)) {
			if (i + 1 >= argc)
				return -1;
			*with_value[k].value = argv[i + 1];
			return 2;
		}
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	int i, rc, n = 1;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		int g = global_opt(argc, argv, i);

		if (g > 0) {
			i += g - 1;
		} else if (g < 0) {
			return ctl_usage_error("%s needs a value; try \"datafencectl help\"", argv[i]);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			return cmd_help(1, argv);
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			return cmd_version(0, NULL);
		} else {
			return ctl_usage_error("unknown option \"%s\"; try \"datafencectl help\"",
					       argv[i]);
		}
	}
	if (i == argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	c = find_cmd(argv[i]);
	if (!c)
		return ctl_usage_error("unknown command \"%s\"; try \"datafencectl help\"", argv[i]);
	/* global options after the command too (up to "--"): taken out of
	 * the command's arguments */
	argv[n++] = argv[i++];
	for (; i < argc; i++) {
		int g = strcmp(argv[i], "--") ? global_opt(argc, argv, i) : 0;

		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (g < 0)
			return ctl_usage_error("%s needs a value; try \"datafencectl help\"", argv[i]);
		if (g > 0 && strcmp(argv[i], "-j") && strcmp(argv[i], "--json")) {
			i += g - 1;
			continue;
		}
		argv[n++] = argv[i]; /* --json stays: commands take it as their own */
	}
	argv[n] = NULL;
	rc = c->fn(n - 1, argv + 1);
	if (rc < 0) { /* the command's --help */
		print_cmd_help(c);
		rc = EXIT_OK;
	}
	return rc;
}
