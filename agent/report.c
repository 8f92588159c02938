// SPDX-License-Identifier: GPL-2.0-only
/* Counters -> JSON and Prometheus text (docs/control.md, docs/agent.md). */
#include "report.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "datafence.h"
#include "events.h"
#include "nfttable.h"
#include "nftnames.h"
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

static int sum_percpu(int fd, __u32 key, struct df_counter *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct df_counter *v = calloc((size_t)ncpu, sizeof(*v));

	memset(out, 0, sizeof(*out));
	if (!v || bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		return -1;
	}
	for (int c = 0; c < ncpu; c++) {
		out->packets += v[c].packets;
		out->bytes += v[c].bytes;
	}
	free(v);
	return 0;
}

json_t *df_report_counters(int fd, const struct df_policy *p, struct df_totals *t)
{
	json_t *arr = json_array();

	if (fd < 0)
		return arr; /* no BPF backend */
	for (__u32 hook = 0; hook < DF_HOOK__MAX; hook++)
		for (__u32 slot = 0; slot <= DF_MAX_CLASSES; slot++)
			for (__u32 v = 0; v < DF_VERDICT__MAX; v++)
				for (__u32 r = 0; r < DF_REASON__MAX; r++) {
					struct df_counter c;
					json_t *cls;

					if (sum_percpu(fd, DF_CNT_INDEX(hook, slot, v, r), &c) ||
					    !c.packets)
						continue;
					if (t) {
						t->judged += c.packets;
						if (v == DF_ALLOW)
							t->allowed += c.packets;
						else if (v == DF_DROP)
							t->dropped += c.packets;
						else
							t->would_drop += c.packets;
					}
					if (slot == DF_MAX_CLASSES)
						cls = json_null();
					else if (p && slot < p->n_classes)
						cls = json_string(p->classes[slot].name);
					else
						cls = json_integer(slot);
					json_array_append_new(
						arr, json_pack("{s:s, s:o, s:s, s:s, s:I, s:I}", "hook",
							       df_hook_name(hook), "class", cls, "verdict",
							       df_verdict_name(v), "reason",
							       df_reason_name(r), "packets",
							       (json_int_t)c.packets, "bytes",
							       (json_int_t)c.bytes));
				}
	return sorted(arr);
}

json_t *df_report_rules(int fd, const struct df_policy *p)
{
	json_t *arr = json_array();
	size_t n = fd < 0 ? 0 : p ? p->n_dests + p->n_excs : DF_MAX_RULES;

	for (__u32 i = 0; i < n && i < DF_MAX_RULES; i++) {
		struct df_counter c;
		const char *kind = "rule", *name = p ? df_rule_name(p, (int)i, &kind) : NULL;

		if (sum_percpu(fd, i, &c) || !c.packets)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:I}", "kind", kind, "name",
						     name ? json_string(name) : json_integer(i),
						     "packets", (json_int_t)c.packets, "bytes",
						     (json_int_t)c.bytes));
	}
	return sorted(arr);
}

struct nft_ctx {
	const struct df_policy *p;
	json_t *counters, *rules;
	struct df_totals *t;
};

static void on_nft_counter(const char *name, uint64_t packets, uint64_t bytes, void *ctx)
{
	struct nft_ctx *c = ctx;
	int slot, v, r, rule, kind = df_nft_counter_parse(name, &slot, &v, &r, &rule);

	if (!strcmp(name, DF_NFT_SUPPRESSED)) {
		if (c->t)
			c->t->events_suppressed += packets;
		return;
	}
	if (!packets || kind < 0)
		return;
	if (kind == 1) {
		const char *k = "rule", *n = c->p ? df_rule_name(c->p, rule, &k) : NULL;

		if (c->rules)
			json_array_append_new(c->rules, json_pack("{s:s, s:o, s:I, s:I, s:s}", "kind", k,
								  "name", n ? json_string(n) : json_integer(rule),
								  "packets", (json_int_t)packets,
								  "bytes", (json_int_t)bytes, "backend",
								  "nftables"));
		return;
	}
	if (c->t) {
		c->t->judged += packets;
		if (v == DF_ALLOW)
			c->t->allowed += packets;
		else if (v == DF_DROP)
			c->t->dropped += packets;
		else
			c->t->would_drop += packets;
	}
	if (c->counters)
		json_array_append_new(
			c->counters,
			json_pack("{s:s, s:o, s:s, s:s, s:I, s:I}", "hook", df_hook_name(DF_HOOK_NFTABLES),
				  "class",
				  slot == DF_MAX_CLASSES ? json_null() :
				  c->p && (size_t)slot < c->p->n_classes ? json_string(c->p->classes[slot].name) :
									   json_integer(slot),
				  "verdict", df_verdict_name((enum df_verdict)v), "reason",
				  df_reason_name((enum df_reason)r), "packets", (json_int_t)packets, "bytes",
				  (json_int_t)bytes));
}

int df_report_nft(const struct df_nft_opts *o, const struct df_policy *p, json_t **counters,
		  json_t **rules, struct df_totals *t)
{
	struct nft_ctx c = { p, counters ? *counters : NULL, rules ? *rules : NULL, t };
	int err = df_nft_counters(o, on_nft_counter, &c);

	if (counters)
		*counters = sorted(*counters);
	if (rules)
		*rules = sorted(*rules);
	return err;
}

void df_report_misc(int fd, struct df_totals *t)
{
	const struct {
		__u32 key;
		uint64_t *out;
	} m[] = {
		{ DF_MISC_EVENTS_SENT, &t->events_sent },
		{ DF_MISC_EVENTS_LOST, &t->events_lost },
		{ DF_MISC_EVENTS_SUPPRESSED, &t->events_suppressed },
		{ DF_MISC_NO_POLICY, &t->no_policy },
	};
	__u64 v;

	for (size_t i = 0; fd >= 0 && i < sizeof(m) / sizeof(m[0]); i++)
		if (!bpf_map_lookup_elem(fd, &m[i].key, &v))
			*m[i].out = v;
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

char *df_report_metrics(json_t *counters, json_t *rules, const struct df_totals *t,
			const struct df_policy *p, uint64_t serial)
{
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
	fprintf(f, "# HELP datafence_policy_info The loaded policy.\n");
	fprintf(f, "# TYPE datafence_policy_info gauge\n");
	fprintf(f, "datafence_policy_info{name=\"");
	label(f, p && p->name ? p->name : "");
	fprintf(f, "\",serial=\"%llu\"} 1\n", (unsigned long long)serial);
	fclose(f);
	return out;
}
