// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl's commands about the agent and what it enforces: status,
 * counters, metrics, reload, unload, version. With the agent down, status
 * and counters read the backends themselves (same keys). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "backend.h"
#include "ctl.h"
#include "proto.h"

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long long jint(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void fmt_duration(long long s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
}

/* ---- status --------------------------------------------------------------------- */

static void print_totals(json_t *st)
{
	json_t *t = json_object_get(st, "totals");

	printf("totals:      judged %lld  allowed %lld  dropped %lld  would-drop %lld\n",
	       jint(t, "judged"), jint(t, "allowed"), jint(t, "dropped"), jint(t, "would_drop"));
}

/* The agent is down: what the kernel still enforces. */
/* One line per cause (the first one is the agent's own when it is down). */
static void print_health(json_t *st, bool down)
{
	json_t *x;
	size_t i;

	printf("health:      %s\n", jstr(st, "health"));
	json_array_foreach(json_object_get(st, "health_reasons"), i, x)
		if (!down || strcmp(json_string_value(x), "agent down"))
			printf("             - %s\n", json_string_value(x));
}

static void print_down(json_t *st)
{
	json_t *bpf = json_object_get(st, "bpf"), *nft = json_object_get(st, "nftables");

	printf("agent:       down (%s)\n", jstr(st, "why"));
	if (json_is_integer(json_object_get(bpf, "serial")))
		printf("enforcement: active: the pinned policy, serial %lld (%s), keeps enforcing\n",
		       jint(bpf, "serial"), jstr(bpf, "pin_dir"));
	if (json_is_integer(json_object_get(nft, "serial")))
		printf("enforcement: active: table inet %s, serial %lld, keeps enforcing\n",
		       jstr(nft, "table"), jint(nft, "serial"));
	if (!strcmp(jstr(st, "enforcement"), "none"))
		printf("enforcement: none (nothing pinned in %s, no table inet %s here)\n", opt_pin_dir,
		       opt_nft_table);
	if (json_is_object(bpf) || json_is_object(nft))
		print_totals(st);
	print_health(st, true);
}

static void print_policy(json_t *st)
{
	json_t *p = json_object_get(st, "policy"), *lp = json_object_get(st, "last_push"), *x;
	size_t i;

	if (json_is_object(p))
		printf("policy:      %s serial %lld, %s, loaded %s\n             sha256 %s\n",
		       jstr(p, "name"), jint(p, "serial"), jstr(p, "mode"), jstr(p, "loaded_at"),
		       jstr(p, "sha256"));
	else
		printf("policy:      none loaded\n");
	if (!json_is_string(json_object_get(lp, "result")))
		return; /* nothing pushed since the agent started */
	printf("last push:   %s (%s) at %s\n", jstr(lp, "result"), jstr(lp, "trigger"), jstr(lp, "at"));
	json_array_foreach(json_object_get(lp, "errors"), i, x)
		printf("             %s\n", json_string_value(x));
}

/* One line per backend in use. */
static void print_backends(json_t *st)
{
	json_t *at = json_object_get(st, "attachments"), *nft = json_object_get(st, "nftables"), *x;
	size_t i;

	printf("backend:     %s\n", jstr(st, "backend"));
	if (json_is_object(json_object_get(st, "bpf"))) {
		printf("attached:    %s%s at %s", json_is_true(json_object_get(at, "cgroup_skb")) ? "cgroup_skb " : "",
		       json_is_true(json_object_get(at, "sock_addr")) ? "connect/sendmsg" : "",
		       jstr(at, "cgroup"));
		if (json_array_size(json_object_get(at, "tc"))) {
			printf("; tc on");
			json_array_foreach(json_object_get(at, "tc"), i, x)
				printf(" %s", json_string_value(x));
		}
		json_array_foreach(json_object_get(at, "tc_missing"), i, x)
			printf("; NOT on %s", json_string_value(x));
		printf("\n");
	}
	if (!json_is_object(nft))
		return;
	printf("nftables:    table inet %s, ", jstr(nft, "table"));
	if (!json_is_true(json_object_get(nft, "present")))
		printf("missing");
	else if (json_is_integer(json_object_get(nft, "serial")))
		printf("serial %lld", jint(nft, "serial"));
	else
		printf("empty");
	printf("; drop reports on NFLOG group %lld%s\n", jint(nft, "log_group"),
	       json_is_true(json_object_get(nft, "reports")) ? "" : " (not read)");
}

static void print_revocation(json_t *st)
{
	json_t *r = json_object_get(st, "revocation");

	if (json_is_true(json_object_get(r, "available")))
		printf("revocation:  %s, last run %s\n", jstr(r, "method"),
		       json_is_string(json_object_get(r, "last_run")) ? jstr(r, "last_run") : "never");
	else if (json_is_string(json_object_get(r, "why")))
		printf("revocation:  unavailable: %s\n", jstr(r, "why"));
}

/* Only a refused file earns a line: its path and why. */
static void print_files(json_t *st)
{
	static const char *const keys[] = { "drop_log", "metrics_file" };
	static const char *const names[] = { "drop log", "metrics file" };

	for (size_t i = 0; i < 2; i++) {
		json_t *f = json_object_get(json_object_get(st, "files"), keys[i]);

		if (json_is_string(json_object_get(f, "error")))
			printf("files:       %s refused: %s\n", names[i], jstr(f, "error"));
	}
}

static void print_exceptions(json_t *st)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(st, "exceptions"), i, x) {
		bool live = strcmp(jstr(x, "state"), "expired");
		char left[32];

		fmt_duration(jint(x, "seconds_left"), left, sizeof(left));
		printf("%s %s (%s) %s, expires %s%s%s%s\n", i ? "            " : "exceptions:",
		       jstr(x, "id"), jstr(x, "class"), jstr(x, "state"), jstr(x, "expires"),
		       live ? " (" : "", live ? left : "", live ? " left)" : "");
	}
}

/* Signatures and scope of the policy in force, and the warnings. */
static void print_approval(json_t *st)
{
	json_t *ap = json_object_get(st, "approval"), *x;
	size_t i;

	if (json_integer_value(json_object_get(ap, "signatures_required")) > 0) {
		printf("approval:    %lld signature%s required (%s)", jint(ap, "signatures_required"),
		       jint(ap, "signatures_required") > 1 ? "s" : "", jstr(ap, "allowed_signers"));
		json_array_foreach(json_object_get(ap, "signed_by"), i, x)
			printf("%s%s %s", i ? ", " : "; signed by ", jstr(x, "principals"),
			       jstr(x, "fingerprint"));
		printf("\n");
	}
	if (json_array_size(json_object_get(ap, "policy_scope")) || strcmp(jstr(ap, "host_scope"), "")) {
		printf("scope:       this host '%s'; the policy's:", jstr(ap, "host_scope"));
		json_array_foreach(json_object_get(ap, "policy_scope"), i, x)
			printf(" %s", json_string_value(x));
		printf("\n");
	}
	if (json_is_integer(json_object_get(ap, "saved_serial")))
		printf("saved:       highest accepted serial %lld\n", jint(ap, "saved_serial"));
	json_array_foreach(json_object_get(st, "warnings"), i, x)
		printf("warning:     %s\n", json_string_value(x));
}

static void print_running(json_t *st)
{
	json_t *ev = json_object_get(st, "events");
	char up[32];

	fmt_duration(jint(st, "uptime_s"), up, sizeof(up));
	printf("agent:       running (pid %lld, up %s, version %s)\n", jint(st, "pid"), up,
	       jstr(st, "version"));
	print_policy(st);
	print_approval(st);
	print_backends(st);
	print_revocation(st);
	print_files(st);
	print_totals(st);
	printf("events:      sent %lld  lost %lld  suppressed %lld  over budget %lld\n",
	       jint(ev, "sent"), jint(ev, "lost"), jint(ev, "suppressed"), jint(ev, "over_budget"));
	print_exceptions(st);
	print_health(st, false);
}

int cmd_status(int argc, char **argv)
{
	int rc = ctl_simple_opts(argc, argv, "status");
	json_t *st;
	bool down;

	if (rc)
		return rc;
	st = ctl_status();
	down = !strcmp(jstr(st, "agent"), "down");
	rc = down ? EXIT_DOWN : strcmp(jstr(st, "health"), "healthy") ? EXIT_DEGRADED : EXIT_OK;
	if (ctl_json) {
		ctl_print_json(st);
		return rc;
	}
	if (down)
		print_down(st);
	else
		print_running(st);
	json_decref(st);
	return rc;
}

/* ---- counters, metrics ------------------------------------------------------------ */

static const char *str_or(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "#%lld", (long long)json_integer_value(v));
		return buf;
	}
	return "-";
}

/* The agent is down: the backends' own counters, without names. */
static json_t *counters_down(const char *why)
{
	char cgroot[512];
	struct df_backend_conf c = ctl_backend_conf(cgroot, sizeof(cgroot));
	struct df_backends bs;
	struct df_counts cs;
	json_t *r;

	df_backends_probe(NULL, 0, &c, &bs);
	if (!bs.n) {
		ctl_usage_error("agent down (%s); nothing pinned in %s, no table inet %s here", why,
				opt_pin_dir, opt_nft_table);
		return NULL;
	}
	df_counts_init(&cs);
	df_backends_counters(&bs, NULL, &cs);
	df_backends_close(&bs);
	r = json_pack("{s:b, s:O, s:O, s:b}", "ok", 1, "counters", cs.counters, "rules", cs.rules,
		      "agent_down", 1);
	df_counts_free(&cs);
	return r;
}

static void print_counters(json_t *r)
{
	char b1[32];
	json_t *x;
	size_t i;

	printf("%-10s %-20s %-10s %-22s %12s %14s\n", "HOOK", "CLASS", "VERDICT", "REASON", "PACKETS",
	       "BYTES");
	json_array_foreach(json_object_get(r, "counters"), i, x)
		printf("%-10s %-20s %-10s %-22s %12lld %14lld\n", jstr(x, "hook"),
		       json_is_null(json_object_get(x, "class")) ?
			       "(none)" : str_or(json_object_get(x, "class"), b1, sizeof(b1)),
		       jstr(x, "verdict"), jstr(x, "reason"), jint(x, "packets"), jint(x, "bytes"));
	if (!json_array_size(json_object_get(r, "rules")))
		return;
	printf("\n%-12s %-32s %12s %14s\n", "RULE", "NAME", "PACKETS", "BYTES");
	json_array_foreach(json_object_get(r, "rules"), i, x)
		printf("%-12s %-32s %12lld %14lld\n", jstr(x, "kind"),
		       str_or(json_object_get(x, "name"), b1, sizeof(b1)), jint(x, "packets"),
		       jint(x, "bytes"));
}

int cmd_counters(int argc, char **argv)
{
	char why[256];
	int rc = ctl_simple_opts(argc, argv, "counters");
	json_t *r;

	if (rc)
		return rc;
	r = ctl_ask(DF_CMD_COUNTERS, NULL, why, sizeof(why));
	if (!r && !(r = counters_down(why)))
		return EXIT_DOWN;
	json_object_del(r, "ok");
	if (ctl_json) {
		ctl_print_json(r);
		return EXIT_OK;
	}
	print_counters(r);
	json_decref(r);
	return EXIT_OK;
}

int cmd_metrics(int argc, char **argv)
{
	char why[256];
	int rc = ctl_simple_opts(argc, argv, "metrics");
	json_t *r;

	if (rc)
		return rc;
	r = ctl_ask(DF_CMD_METRICS, NULL, why, sizeof(why));
	if (!r)
		return (ctl_usage_error("agent down: %s", why), EXIT_DOWN);
	if (ctl_json) /* the same families as a document (docs/control.md) */
		ctl_print_json(json_pack("{s:O}", "metrics", json_object_get(r, "metrics")));
	else
		fputs(jstr(r, "text"), stdout);
	json_decref(r);
	return EXIT_OK;
}

/* ---- reload, unload, version ------------------------------------------------------ */

int cmd_reload(int argc, char **argv)
{
	char why[256];
	int rc = ctl_simple_opts(argc, argv, "reload");
	json_t *r, *x;
	size_t i;

	if (rc)
		return rc;
	r = ctl_ask(DF_CMD_RELOAD, NULL, why, sizeof(why));
	if (!r)
		return (ctl_usage_error("agent down: %s", why), EXIT_DOWN);
	rc = json_is_true(json_object_get(r, "ok")) ? EXIT_OK : EXIT_INVALID;
	if (ctl_json) {
		ctl_print_json(r);
		return rc;
	}
	printf("reload: %s\n", jstr(r, "result"));
	json_array_foreach(json_object_get(r, "errors"), i, x)
		printf("  %s\n", json_string_value(x));
	json_decref(r);
	return rc;
}

/* Every backend's enforcement on this host, whatever the agent's backend. */
int cmd_unload(int argc, char **argv)
{
	static const struct option opts[] = { { "yes", no_argument, NULL, 'y' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const struct df_backend_ops *kinds[DF_MAX_BACKENDS];
	struct df_unload_result res[DF_MAX_BACKENDS];
	struct df_backend_conf c;
	char cgroot[512], why[256];
	bool yes = false;
	json_t *r, *x;
	size_t n, i;
	int ch, err;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "yh", opts, NULL)) != -1) {
		if (ch == 'y')
			yes = true;
		else if (ch == 'h')
			return -1;
		else
			return ctl_usage_error("unload: bad option");
	}
	if (!yes)
		return ctl_usage_error("unload removes enforcement from this host: repeat with --yes");
	/* a running agent unloads (its audit trail names us) and stops: left
	 * running, it would attach again */
	r = ctl_ask(DF_CMD_UNLOAD, NULL, why, sizeof(why));
	if (r) {
		json_array_foreach(json_object_get(r, "results"), i, x)
			printf("%s: %s\n", jstr(x, "outcome"), jstr(x, "message"));
		printf("(the agent has stopped; starting it again enforces again)\n");
		json_decref(r);
		return EXIT_OK;
	}
	c = ctl_backend_conf(cgroot, sizeof(cgroot));
	df_backend_kinds(NULL, kinds, &n);
	err = df_backends_unload(kinds, n, &c, res);
	openlog("datafencectl", LOG_PID, LOG_AUTH);
	for (size_t i = 0; i < n; i++) {
		fprintf(res[i].err && res[i].err != -ENOENT ? stderr : stdout, "%s: %s\n",
			df_unload_outcome(&res[i]), res[i].msg);
		syslog(LOG_NOTICE, "audit: unload by uid %u (pid %d), agent down: %s: %s",
		       (unsigned int)getuid(), (int)getpid(), df_unload_outcome(&res[i]), res[i].msg);
	}
	closelog();
	return err ? EXIT_INVALID : EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
	if (ctl_json)
		ctl_print_json(json_pack("{s:s}", "version", DF_VERSION));
	else
		printf("datafencectl %s\n", DF_VERSION);
	return EXIT_OK;
}
