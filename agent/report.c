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

/* ---- metrics: one model (families of samples), as text or JSON ---------------------- */

/* The families being written: [{name, type, help, samples [{labels, value}]}]. */
struct mw {
	json_t *fams;
	json_t *samples; /* the current family's */
};

static void family(struct mw *w, const char *name, const char *type, const char *help)
{
	w->samples = json_array();
	json_array_append_new(w->fams, json_pack("{s:s, s:s, s:s, s:o}", "name", name, "type", type,
						 "help", help, "samples", w->samples));
}

/* A sample of the current family; labels: an object of strings (stolen,
 * NULL: none). */
static void sample(struct mw *w, json_t *labels, long long value)
{
	json_array_append_new(w->samples, json_pack("{s:o, s:I}", "labels",
						    labels ? labels : json_object(), "value",
						    (json_int_t)value));
}

/* A label value from a counter row (a class name, or its slot number). */
static json_t *label_value(json_t *v)
{
	char buf[32];

	if (json_is_string(v))
		return json_string(json_string_value(v));
	snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	return json_string(json_is_integer(v) ? buf : "");
}

/* Health: one gauge, and each cause status names (its first words the
 * cause, the rest the detail). */
static void health_metrics(struct mw *w, const json_t *st)
{
	json_t *reasons = json_object_get(st, "health_reasons"), *v;
	size_t i;

	family(w, "datafence_healthy", "gauge", "1 when status says healthy, else 0.");
	sample(w, NULL, !json_array_size(reasons));
	family(w, "datafence_health_reason", "gauge", "A cause status names, 1 while it lasts.");
	json_array_foreach(reasons, i, v) {
		const char *r = json_string_value(v), *colon = strstr(r, ": ");
		char cause[128];

		snprintf(cause, sizeof(cause), "%.*s", colon ? (int)(colon - r) : (int)strlen(r), r);
		sample(w, json_pack("{s:s, s:s}", "cause", cause, "detail", colon ? colon + 2 : ""), 1);
	}
}

/* Pushes since the agent started, refused ones by cause. */
static void push_metrics(struct mw *w, const json_t *st)
{
	json_t *pushes = json_object_get(st, "pushes"), *v;
	const char *cause;

	family(w, "datafence_pushes_total", "counter",
	       "Policy pushes since the agent started, by result and the cause of a refusal.");
	sample(w, json_pack("{s:s, s:s}", "result", "accepted", "cause", ""),
	       json_integer_value(json_object_get(pushes, "accepted")));
	json_object_foreach(json_object_get(pushes, "refused"), cause, v)
		sample(w, json_pack("{s:s, s:s}", "result", "refused", "cause", cause),
		       json_integer_value(v));
}

/* Who approved the policy in force, what is required, when it expires. */
static void approval_metrics(struct mw *w, const json_t *st)
{
	json_t *ap = json_object_get(st, "approval"), *v;
	size_t i;

	if (!json_is_object(ap) || !json_is_integer(json_object_get(ap, "signatures_required")))
		return;
	family(w, "datafence_signatures_required", "gauge",
	       "Valid signatures a push needs (0: unsigned policies are accepted).");
	sample(w, NULL, json_integer_value(json_object_get(ap, "signatures_required")));
	family(w, "datafence_policy_signer", "gauge", "A counted signature of the policy in force.");
	json_array_foreach(json_object_get(ap, "signed_by"), i, v)
		sample(w, json_pack("{s:s, s:s}", "principals",
				    json_string_value(json_object_get(v, "principals")) ?: "",
				    "fingerprint",
				    json_string_value(json_object_get(v, "fingerprint")) ?: ""),
		       1);
	if (json_is_integer(json_object_get(ap, "saved_serial"))) {
		family(w, "datafence_saved_serial", "gauge", "The highest accepted serial (state_dir).");
		sample(w, NULL, json_integer_value(json_object_get(ap, "saved_serial")));
	}
}

/* The agent itself: its version, when this was written, its heartbeat,
 * the drop log's floor. */
static void agent_metrics(struct mw *w, const json_t *st)
{
	json_t *hb = json_object_get(json_object_get(json_object_get(st, "bpf"), "heartbeat"), "age_s");
	json_t *dl = json_object_get(json_object_get(st, "files"), "drop_log");
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	family(w, "datafence_build_info", "gauge", "The agent's version.");
	sample(w, json_pack("{s:s}", "version", DF_VERSION), 1);
	family(w, "datafence_metrics_timestamp_seconds", "gauge",
	       "When these metrics were written (every 10 s: older means the agent stopped writing them).");
	sample(w, NULL, (long long)now.tv_sec);
	if (json_is_integer(hb)) {
		family(w, "datafence_heartbeat_age_seconds", "gauge",
		       "Age of the agent's heartbeat in the kernel (BPF backend).");
		sample(w, NULL, json_integer_value(hb));
	}
	if (json_is_boolean(json_object_get(dl, "summaries_only"))) {
		family(w, "datafence_drop_log_summaries_only", "gauge",
		       "1 while the drop log's filesystem is below its free-space floor (only storm summaries are written).");
		sample(w, NULL, json_is_true(json_object_get(dl, "summaries_only")));
	}
}

/* The policy in force: its info, expiry, serial (by this host's scope: the
 * fleet's rules compare hosts of one scope) and its exceptions' windows. */
static void policy_metrics(struct mw *w, const struct df_policy *p, const json_t *st)
{
	const char *scope = json_string_value(
		json_object_get(json_object_get(st, "approval"), "host_scope"));
	char serial[32];

	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)(p ? p->serial : 0));
	family(w, "datafence_policy_info", "gauge", "The loaded policy.");
	sample(w, json_pack("{s:s, s:s}", "name", p && p->name ? p->name : "", "serial", serial), 1);
	if (!p)
		return;
	if (p->expires) {
		family(w, "datafence_policy_expiry_timestamp_seconds", "gauge",
		       "When the policy in force expires (its `expires`).");
		sample(w, NULL, (long long)p->expires);
	}
	family(w, "datafence_policy_serial", "gauge", "The serial of the policy in force.");
	sample(w, json_pack("{s:s}", "scope", scope ? scope : ""), (long long)p->serial);
	if (!p->n_excs)
		return;
	family(w, "datafence_exception_expiry_timestamp_seconds", "gauge",
	       "When each exception of the policy in force ends.");
	for (size_t i = 0; i < p->n_excs; i++)
		sample(w, json_pack("{s:s, s:s}", "id", p->excs[i].id, "class",
				    p->classes[p->excs[i].class_idx].name),
		       (long long)p->excs[i].expires);
}

json_t *df_report_metrics_json(const struct df_counts *cs, const struct df_policy *p,
			       const json_t *st)
{
	static const char *const what[2][2] = { { "packets", "Packets" }, { "bytes", "Bytes" } };
	const struct df_totals *t = &cs->t;
	struct mw w = { .fams = json_array() };
	char name[64], help[96];
	size_t i;
	json_t *c;

	for (int k = 0; k < 2; k++) {
		snprintf(name, sizeof(name), "datafence_%s_total", what[k][0]);
		snprintf(help, sizeof(help), "%s judged, by hook, class, verdict and reason.", what[k][1]);
		family(&w, name, "counter", help);
		json_array_foreach(cs->counters, i, c)
			sample(&w, json_pack("{s:O, s:o, s:O, s:O}", "hook", json_object_get(c, "hook"),
					     "class", label_value(json_object_get(c, "class")),
					     "verdict", json_object_get(c, "verdict"), "reason",
					     json_object_get(c, "reason")),
			       json_integer_value(json_object_get(c, what[k][0])));
	}
	family(&w, "datafence_rule_packets_total", "counter", "Packets decided by each rule.");
	json_array_foreach(cs->rules, i, c)
		sample(&w, json_pack("{s:O, s:o}", "kind", json_object_get(c, "kind"), "rule",
				     label_value(json_object_get(c, "name"))),
		       json_integer_value(json_object_get(c, "packets")));
	family(&w, "datafence_events_total", "counter", "Drop events by outcome.");
	sample(&w, json_pack("{s:s}", "outcome", "sent"), (long long)t->events_sent);
	sample(&w, json_pack("{s:s}", "outcome", "lost"), (long long)t->events_lost);
	sample(&w, json_pack("{s:s}", "outcome", "suppressed"), (long long)t->events_suppressed);
	sample(&w, json_pack("{s:s}", "outcome", "over_budget"), (long long)t->events_over_budget);
	policy_metrics(&w, p, st);
	health_metrics(&w, st);
	push_metrics(&w, st);
	approval_metrics(&w, st);
	agent_metrics(&w, st);
	return w.fams;
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

char *df_metrics_text(const json_t *fams)
{
	char *out = NULL;
	size_t len = 0, i, k;
	FILE *f = open_memstream(&out, &len);
	json_t *fam, *s;

	if (!f)
		return NULL;
	json_array_foreach(fams, i, fam) {
		const char *name = json_string_value(json_object_get(fam, "name"));

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name,
			json_string_value(json_object_get(fam, "help")), name,
			json_string_value(json_object_get(fam, "type")));
		json_array_foreach(json_object_get(fam, "samples"), k, s) {
			json_t *labels = json_object_get(s, "labels"), *v;
			const char *key;
			bool first = true;

			fputs(name, f);
			json_object_foreach(labels, key, v) {
				fprintf(f, "%s%s=\"", first ? "{" : ",", key);
				label(f, json_string_value(v) ?: "");
				fputc('"', f);
				first = false;
			}
			fprintf(f, "%s %lld\n", first ? "" : "}",
				(long long)json_integer_value(json_object_get(s, "value")));
		}
	}
	fclose(f);
	return out;
}
