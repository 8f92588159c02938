// SPDX-License-Identifier: GPL-2.0-only
/* Counter rows -> JSON and Prometheus text (report.h; docs/control.md). */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>

#include "datafence.h"
#include "proto.h"
#include "verdict.h"

static int by_packets(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "packets"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "packets"));

	return x < y ? 1 : x > y ? -1 : 0;
}

static json_t *sorted(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array();

	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), by_packets);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(arr);
	return out;
}

void df_counts_init(struct df_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->counters = json_array();
	c->rules = json_array();
}

void df_counts_free(struct df_counts *c)
{
	json_decref(c->counters);
	json_decref(c->rules);
	c->counters = c->rules = NULL;
}

void df_counts_sort(struct df_counts *c)
{
	c->counters = sorted(c->counters);
	c->rules = sorted(c->rules);
}

static json_t *class_json(const struct df_policy *p, int slot)
{
	if (slot >= DF_MAX_CLASSES)
		return json_null();
	if (p && (size_t)slot < p->n_classes)
		return json_string(p->classes[slot].name);
	return json_integer(slot);
}

void df_counts_add(struct df_counts *c, const char *hook, const struct df_policy *p, int slot,
		   int verdict, int reason, uint64_t packets, uint64_t bytes)
{
	if (slot >= 0 && slot < DF_MAX_CLASSES && (c->canary_mask >> slot) & 1) {
		c->t.canary += packets; /* the agent's own, never the operator's */
		return;
	}
	c->t.judged += packets;
	if (verdict == DF_ALLOW)
		c->t.allowed += packets;
	else if (verdict == DF_DROP)
		c->t.dropped += packets;
	else
		c->t.would_drop += packets;
	json_array_append_new(c->counters,
			      json_pack("{s:s, s:o, s:s, s:s, s:I, s:I}", "hook", hook, "class",
					class_json(p, slot), "verdict",
					df_verdict_name((enum df_verdict)verdict), "reason",
					df_reason_name((enum df_reason)reason), "packets",
					(json_int_t)packets, "bytes", (json_int_t)bytes));
}

void df_counts_add_rule(struct df_counts *c, const struct df_policy *p, int rule,
			uint64_t packets, uint64_t bytes, const char *backend)
{
	const char *kind = "rule", *name = p ? df_rule_name(p, rule, &kind) : NULL;
	json_t *row = json_pack("{s:s, s:o, s:I, s:I}", "kind", name ? kind : "rule", "name",
				name ? json_string(name) : json_integer(rule), "packets",
				(json_int_t)packets, "bytes", (json_int_t)bytes);

	if (backend)
		json_object_set_new(row, "backend", json_string(backend));
	json_array_append_new(c->rules, row);
}

/* Label values: backslash, quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static void str_or_int(FILE *f, json_t *v)
{
	char buf[32];

	if (json_is_string(v)) {
		label(f, json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		fputs(buf, f);
	}
}

/* Health: one gauge, and each cause status names (its first words the
 * cause, the rest the detail). */
static void health_metrics(FILE *f, const json_t *st)
{
	json_t *reasons = json_object_get(st, "health_reasons"), *v;
	size_t i;

	fprintf(f, "# HELP datafence_healthy 1 when status says healthy, else 0.\n");
	fprintf(f, "# TYPE datafence_healthy gauge\n");
	fprintf(f, "datafence_healthy %d\n", !json_array_size(reasons));
	fprintf(f, "# HELP datafence_health_reason A cause status names, 1 while it lasts.\n");
	fprintf(f, "# TYPE datafence_health_reason gauge\n");
	json_array_foreach(reasons, i, v) {
		const char *r = json_string_value(v), *colon = strstr(r, ": ");
		char cause[128];

		snprintf(cause, sizeof(cause), "%.*s", colon ? (int)(colon - r) : (int)strlen(r), r);
		fprintf(f, "datafence_health_reason{cause=\"");
		label(f, cause);
		fprintf(f, "\",detail=\"");
		label(f, colon ? colon + 2 : "");
		fprintf(f, "\"} 1\n");
	}
}

/* Pushes since the agent started, refused ones by cause. */
static void push_metrics(FILE *f, const json_t *st)
{
	json_t *pushes = json_object_get(st, "pushes"), *v;
	const char *cause;

	fprintf(f, "# HELP datafence_pushes_total Policy pushes since the agent started, by result "
		   "and the cause of a refusal.\n");
	fprintf(f, "# TYPE datafence_pushes_total counter\n");
	fprintf(f, "datafence_pushes_total{result=\"accepted\",cause=\"\"} %lld\n",
		(long long)json_integer_value(json_object_get(pushes, "accepted")));
	json_object_foreach(json_object_get(pushes, "refused"), cause, v)
		fprintf(f, "datafence_pushes_total{result=\"refused\",cause=\"%s\"} %lld\n", cause,
			(long long)json_integer_value(v));
}

/* Who approved the policy in force, what is required, when it expires. */
static void approval_metrics(FILE *f, const json_t *st)
{
	json_t *ap = json_object_get(st, "approval"), *v;
	size_t i;

	if (!json_is_object(ap) || !json_is_integer(json_object_get(ap, "signatures_required")))
		return;
	fprintf(f, "# HELP datafence_signatures_required Valid signatures a push needs "
		   "(0: unsigned policies are accepted).\n");
	fprintf(f, "# TYPE datafence_signatures_required gauge\n");
	fprintf(f, "datafence_signatures_required %lld\n",
		(long long)json_integer_value(json_object_get(ap, "signatures_required")));
	fprintf(f, "# HELP datafence_policy_signer A counted signature of the policy in force.\n");
	fprintf(f, "# TYPE datafence_policy_signer gauge\n");
	json_array_foreach(json_object_get(ap, "signed_by"), i, v) {
		fprintf(f, "datafence_policy_signer{principals=\"");
		label(f, json_string_value(json_object_get(v, "principals")));
		fprintf(f, "\",fingerprint=\"");
		label(f, json_string_value(json_object_get(v, "fingerprint")));
		fprintf(f, "\"} 1\n");
	}
	if (json_is_integer(json_object_get(ap, "saved_serial"))) {
		fprintf(f, "# HELP datafence_saved_serial The highest accepted serial (state_dir).\n");
		fprintf(f, "# TYPE datafence_saved_serial gauge\n");
		fprintf(f, "datafence_saved_serial %lld\n",
			(long long)json_integer_value(json_object_get(ap, "saved_serial")));
	}
}

/* The agent itself: its version, when this was written, its heartbeat,
 * the drop log's floor. */
static void agent_metrics(FILE *f, const json_t *st)
{
	json_t *hb = json_object_get(json_object_get(json_object_get(st, "bpf"), "heartbeat"), "age_s");
	json_t *dl = json_object_get(json_object_get(st, "files"), "drop_log");
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	fprintf(f, "# HELP datafence_build_info The agent's version.\n");
	fprintf(f, "# TYPE datafence_build_info gauge\n");
	fprintf(f, "datafence_build_info{version=\"%s\"} 1\n", DF_VERSION);
	fprintf(f, "# HELP datafence_metrics_timestamp_seconds When these metrics were written "
		   "(every 10 s: older means the agent stopped writing them).\n");
	fprintf(f, "# TYPE datafence_metrics_timestamp_seconds gauge\n");
	fprintf(f, "datafence_metrics_timestamp_seconds %lld\n", (long long)now.tv_sec);
	if (json_is_integer(hb)) {
		fprintf(f, "# HELP datafence_heartbeat_age_seconds Age of the agent's heartbeat in the "
			   "kernel (BPF backend).\n");
		fprintf(f, "# TYPE datafence_heartbeat_age_seconds gauge\n");
		fprintf(f, "datafence_heartbeat_age_seconds %lld\n", (long long)json_integer_value(hb));
	}
	if (json_is_boolean(json_object_get(dl, "summaries_only"))) {
		fprintf(f, "# HELP datafence_drop_log_summaries_only 1 while the drop log's filesystem "
			   "is below its free-space floor (only storm summaries are written).\n");
		fprintf(f, "# TYPE datafence_drop_log_summaries_only gauge\n");
		fprintf(f, "datafence_drop_log_summaries_only %d\n",
			json_is_true(json_object_get(dl, "summaries_only")));
	}
}

/* The policy's serial (by this host's scope: the fleet's rules compare
 * hosts of one scope) and its exceptions' windows. */
static void policy_metrics(FILE *f, const struct df_policy *p, const json_t *st)
{
	const char *scope = json_string_value(
		json_object_get(json_object_get(st, "approval"), "host_scope"));

	if (!p)
		return;
	fprintf(f, "# HELP datafence_policy_serial The serial of the policy in force.\n");
	fprintf(f, "# TYPE datafence_policy_serial gauge\n");
	fprintf(f, "datafence_policy_serial{scope=\"");
	label(f, scope ? scope : "");
	fprintf(f, "\"} %llu\n", (unsigned long long)p->serial);
	if (!p->n_excs)
		return;
	fprintf(f, "# HELP datafence_exception_expiry_timestamp_seconds When each exception of the "
		   "policy in force ends.\n");
	fprintf(f, "# TYPE datafence_exception_expiry_timestamp_seconds gauge\n");
	for (size_t i = 0; i < p->n_excs; i++) {
		fprintf(f, "datafence_exception_expiry_timestamp_seconds{id=\"");
		label(f, p->excs[i].id);
		fprintf(f, "\",class=\"");
		label(f, p->classes[p->excs[i].class_idx].name);
		fprintf(f, "\"} %lld\n", (long long)p->excs[i].expires);
	}
}

char *df_report_metrics(const struct df_counts *cs, const struct df_policy *p, const json_t *st)
{
	uint64_t serial = p ? p->serial : 0;
	json_t *counters = cs->counters, *rules = cs->rules;
	const struct df_totals *t = &cs->t;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	size_t i;
	json_t *c;

	if (!f)
		return NULL;
	static const char *const what[2][2] = { { "packets", "Packets" }, { "bytes", "Bytes" } };

	for (int w = 0; w < 2; w++) {
		fprintf(f, "# HELP datafence_%s_total %s judged, by hook, class, verdict and reason.\n",
			what[w][0], what[w][1]);
		fprintf(f, "# TYPE datafence_%s_total counter\n", what[w][0]);
		json_array_foreach(counters, i, c) {
			fprintf(f, "datafence_%s_total{hook=\"%s\",class=\"", what[w][0],
				json_string_value(json_object_get(c, "hook")));
			str_or_int(f, json_object_get(c, "class"));
			fprintf(f, "\",verdict=\"%s\",reason=\"%s\"} %lld\n",
				json_string_value(json_object_get(c, "verdict")),
				json_string_value(json_object_get(c, "reason")),
				(long long)json_integer_value(json_object_get(c, what[w][0])));
		}
	}
	fprintf(f, "# HELP datafence_rule_packets_total Packets decided by each rule.\n");
	fprintf(f, "# TYPE datafence_rule_packets_total counter\n");
	json_array_foreach(rules, i, c) {
		fprintf(f, "datafence_rule_packets_total{kind=\"%s\",rule=\"",
			json_string_value(json_object_get(c, "kind")));
		str_or_int(f, json_object_get(c, "name"));
		fprintf(f, "\"} %lld\n", (long long)json_integer_value(json_object_get(c, "packets")));
	}
	fprintf(f, "# HELP datafence_events_total Drop events by outcome.\n");
	fprintf(f, "# TYPE datafence_events_total counter\n");
	fprintf(f, "datafence_events_total{outcome=\"sent\"} %llu\n", (unsigned long long)t->events_sent);
	fprintf(f, "datafence_events_total{outcome=\"lost\"} %llu\n", (unsigned long long)t->events_lost);
	fprintf(f, "datafence_events_total{outcome=\"suppressed\"} %llu\n",
		(unsigned long long)t->events_suppressed);
	fprintf(f, "datafence_events_total{outcome=\"over_budget\"} %llu\n",
		(unsigned long long)t->events_over_budget);
	fprintf(f, "# HELP datafence_policy_info The loaded policy.\n");
	fprintf(f, "# TYPE datafence_policy_info gauge\n");
	fprintf(f, "datafence_policy_info{name=\"");
	label(f, p && p->name ? p->name : "");
	fprintf(f, "\",serial=\"%llu\"} 1\n", (unsigned long long)serial);
	if (p && p->expires) {
		fprintf(f, "# HELP datafence_policy_expiry_timestamp_seconds When the policy in force "
			   "expires (its `expires`).\n");
		fprintf(f, "# TYPE datafence_policy_expiry_timestamp_seconds gauge\n");
		fprintf(f, "datafence_policy_expiry_timestamp_seconds %lld\n", (long long)p->expires);
	}
	policy_metrics(f, p, st);
	health_metrics(f, st);
	push_metrics(f, st);
	approval_metrics(f, st);
	agent_metrics(f, st);
	fclose(f);
	return out;
}
