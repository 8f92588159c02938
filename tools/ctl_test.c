// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl test: one flow's verdict, explained. Three steps: resolve
 * the flow and the policy (a file, or the one this host enforces and the
 * backends that enforce it), evaluate (the reference evaluator next to the
 * emulator or every backend), print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "ctl.h"
#include "emulate.h"
#include "proto.h"
#include "refeval.h"
#include "status.h"
#include "values.h"
#include "verdict.h"

/* The question, resolved. */
struct test_req {
	const char *policy;            /* the file to judge by */
	const char *flows;             /* --flows: a file of flows and their verdicts */
	bool loaded;                   /* no --policy: what this host enforces */
	struct df_packet pkt;
	const char *class_names[DF_MAX_CLASSES];
	int n_class_names, n_facts;
	bool have_port, at_given;
	int64_t now;
	/* loaded: the backends that enforce it and the serial each holds */
	const struct df_backend_ops *kinds[DF_MAX_BACKENDS];
	size_t n_kinds;
	json_t *status;
	char policy_buf[1024];
};

/* The answers: the reference's, then every other evaluator's. */
#define MAX_ANSWERS (DF_MAX_BACKENDS + 1)
struct test_out {
	struct df_result ref;
	struct df_result r[MAX_ANSWERS];
	const char *key[MAX_ANSWERS];  /* its JSON key */
	const char *what[MAX_ANSWERS]; /* its words */
	int n;
	bool agree;
};

static int parse_u32(const char *s, unsigned long long max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-' || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* ---- resolve ------------------------------------------------------------------ */

static int test_options(int argc, char **argv, struct test_req *q, const char **dst,
			const char **src, const char **at)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' }, { "dst", required_argument, NULL, 'd' },
		{ "src", required_argument, NULL, 's' },    { "port", required_argument, NULL, 'P' },
		{ "proto", required_argument, NULL, 'r' },  { "class", required_argument, NULL, 'c' },
		{ "uid", required_argument, NULL, 'u' },    { "mark", required_argument, NULL, 'm' },
		{ "sport", required_argument, NULL, 'S' },  { "cgroup", required_argument, NULL, 'g' },
		{ "at", required_argument, NULL, 'a' },     { "json", no_argument, NULL, 'j' },
		{ "flows", required_argument, NULL, 'f' },  { "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint32_t v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': q->policy = optarg; break;
		case 'd': *dst = optarg; break;
		case 's': *src = optarg; q->n_facts++; break;
		case 'P':
			if (parse_u32(optarg, 65535, &v))
				return ctl_usage_error("test: bad --port \"%s\" (0-65535)", optarg);
			q->pkt.dport = (uint16_t)v;
			q->have_port = true;
			break;
		case 'r':
			if (df_proto_parse(optarg, &q->pkt.proto))
				return ctl_usage_error("test: bad --proto \"%s\" (tcp, udp, sctp, icmp, icmpv6 or a number)",
						       optarg);
			break;
		case 'c':
			if (q->n_class_names == DF_MAX_CLASSES)
				return ctl_usage_error("test: too many --class");
			q->class_names[q->n_class_names++] = optarg;
			break;
		case 'u':
			if (parse_u32(optarg, 0xfffffffeu, &q->pkt.uid))
				return ctl_usage_error("test: bad --uid \"%s\"", optarg);
			q->n_facts++;
			break;
		case 'm':
			if (parse_u32(optarg, 0xffffffffu, &q->pkt.mark))
				return ctl_usage_error("test: bad --mark \"%s\"", optarg);
			q->n_facts++;
			break;
		case 'S':
			if (parse_u32(optarg, 65535, &v))
				return ctl_usage_error("test: bad --sport \"%s\"", optarg);
			q->pkt.sport = (uint16_t)v;
			q->n_facts++;
			break;
		case 'g': q->pkt.cgroup = optarg; q->n_facts++; break;
		case 'a': *at = optarg; break;
		case 'f': q->flows = optarg; break;
		case 'j': ctl_json = true; break;
		case 'h': return -1;
		default: return ctl_usage_error("test: bad option; try \"datafencectl help test\"");
		}
	}
	if (optind < argc)
		return ctl_usage_error("test: unexpected argument \"%s\"", argv[optind]);
	return 0;
}

/* The flow's facts, checked together. */
static int test_facts(struct test_req *q, const char *dst, const char *src, const char *at)
{
	struct df_packet *pkt = &q->pkt;

	if (!dst || df_addr_parse(dst, &pkt->dst))
		return ctl_usage_error("test: --dst ADDR is required and must be an IPv4 or IPv6 address");
	if (src && df_addr_parse(src, &pkt->src))
		return ctl_usage_error("test: bad --src \"%s\"", src);
	if (!src)
		df_addr_parse(pkt->dst.family == 4 && !strchr(dst, ':') ? "0.0.0.0" : "::", &pkt->src);
	if (q->loaded && !pkt->cgroup)
		pkt->cgroup = "/"; /* the kernel sees the test's socket in some cgroup: the root */
	if (q->loaded && pkt->src.family != pkt->dst.family)
		return ctl_usage_error("test: --src and --dst must be of one family for the kernel's test packet");
	if (q->n_class_names && q->n_facts)
		return ctl_usage_error("test: give either --class or socket facts (--cgroup, --uid, --mark, --sport, --src), not both");
	if (!q->n_class_names && !q->n_facts)
		return ctl_usage_error("test: give --class NAME or a socket fact (--cgroup, --uid, --mark, --sport, --src)");
	q->at_given = at;
	if (at && df_time_parse(at, &q->now))
		return ctl_usage_error("test: bad --at \"%s\" (RFC 3339, e.g. 2026-12-01T00:00:00Z)", at);
	if (pkt->cgroup && pkt->cgroup[0] != '/')
		return ctl_usage_error("test: --cgroup must be a path from the cgroup2 root, like /us-data.slice/x.service");
	if (!(df_proto_bit(pkt->proto) & DF_P_PORTED)) {
		if (q->have_port)
			return ctl_usage_error("test: --port applies to tcp, udp and sctp only");
		pkt->sport = 0;
	} else if (!q->have_port) {
		return ctl_usage_error("test: --port is required for tcp, udp and sctp");
	}
	return 0;
}

/* Without --policy: the policy this host enforces (the agent's file) and
 * the backends that enforce it, from the status document. */
static int test_loaded(struct test_req *q)
{
	json_t *file;

	q->status = ctl_status();
	file = json_object_get(json_object_get(q->status, "policy"), "file");
	if (json_is_string(json_object_get(q->status, "why")) && !ctl_json)
		fprintf(stderr, "datafencectl: %s; taking the policy from %s\n",
			json_string_value(json_object_get(q->status, "why")), DF_POLICY_FILE);
	snprintf(q->policy_buf, sizeof(q->policy_buf), "%s",
		 json_is_string(file) ? json_string_value(file) : DF_POLICY_FILE);
	q->policy = q->policy_buf;
	if (df_backend_kinds(json_string_value(json_object_get(q->status, "backend")), q->kinds,
			     &q->n_kinds) ||
	    !json_is_string(json_object_get(q->status, "backend")))
		return ctl_usage_error("test: nothing is enforced here (nothing pinned in %s, no table inet %s); use --policy FILE to judge a file",
				       opt_pin_dir, opt_nft_table);
	return 0;
}

/* ---- evaluate --------------------------------------------------------------------- */

static bool same_result(const struct df_result *a, const struct df_result *b)
{
	return a->verdict == b->verdict && a->reason == b->reason && a->classes == b->classes &&
	       a->rule == b->rule;
}

/* Each backend must enforce this very policy: its serial, from the status. */
static int check_serial(const struct test_req *q, const struct df_backend_ops *k,
			const struct df_policy *p)
{
	json_t *serial = json_object_get(json_object_get(q->status, k->name), "serial");

	if (!json_is_integer(serial))
		return ctl_usage_error("test: the %s backend holds no policy (use --policy FILE to judge a file)",
				       k->name);
	if ((uint64_t)json_integer_value(serial) == p->serial)
		return 0;
	fprintf(stderr, "datafencectl: %s has serial %llu but the %s backend enforces serial %llu\n",
		q->policy, (unsigned long long)p->serial, k->name,
		(unsigned long long)json_integer_value(serial));
	return EXIT_INVALID;
}

static int test_evaluate(const struct test_req *q, const struct df_loaded *l, struct test_out *o)
{
	const struct df_policy *p = l->p;
	struct df_flow_query fq = { .pkt = &q->pkt, .now = q->now, .now_given = q->at_given };
	char cgroot[512], why[512];
	struct df_backend_conf c = ctl_backend_conf(cgroot, sizeof(cgroot));
	struct df_emu *emu;
	int rc;

	for (int i = 0; i < q->n_class_names; i++) {
		int ci = df_class_index(p, q->class_names[i]);

		if (ci < 0)
			return ctl_usage_error("test: unknown class \"%s\" in %s", q->class_names[i],
					       q->policy);
		fq.classes |= 1ULL << ci;
	}
	fq.ref_classes = fq.classes ? fq.classes : df_ref_classify(p, &q->pkt);
	df_ref_verdict(p, &q->pkt, fq.ref_classes, q->now, &o->ref);
	o->agree = true;
	if (!q->loaded) {
		emu = df_emu_new(l->img);
		if (!emu)
			return ctl_usage_error("out of memory");
		df_emu_verdict(emu, &q->pkt, fq.classes ? fq.classes : df_emu_classify(emu, &q->pkt),
			       q->now, &o->r[0]);
		df_emu_free(emu);
		o->key[0] = "emulator";
		o->what[0] = "the compiled-table emulator";
		o->agree = same_result(&o->ref, &o->r[0]);
		o->n = 1;
		return EXIT_OK;
	}
	/* the kernel's hooks first, as users read them: the reverse of apply order */
	for (size_t i = q->n_kinds; i-- > 0;) {
		const struct df_backend_ops *k = q->kinds[i];

		rc = check_serial(q, k, p);
		if (rc)
			return rc;
		if (k->judge(&c, l, &fq, &o->r[o->n], why, sizeof(why)))
			return ctl_usage_error("test: %s", why);
		o->key[o->n] = k->judge_key;
		o->what[o->n] = k->judge_what;
		o->agree &= same_result(&o->ref, &o->r[o->n]);
		o->n++;
	}
	return EXIT_OK;
}

/* ---- print ----------------------------------------------------------------------------- */

static json_t *classes_json(const struct df_policy *p, uint64_t mask)
{
	json_t *a = json_array();

	for (size_t i = 0; i < p->n_classes; i++)
		if (mask & (1ULL << i))
			json_array_append_new(a, json_string(p->classes[i].name));
	return a;
}

static void classes_text(const struct df_policy *p, uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_classes && n < len; i++)
		if (mask & (1ULL << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
					      p->classes[i].name);
	if (!buf[0])
		snprintf(buf, len, "(none)");
}

static json_t *result_json(const struct df_policy *p, const struct df_result *r)
{
	const char *kind, *name = df_rule_name(p, r->rule, &kind);

	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "verdict", df_verdict_name(r->verdict),
			 "reason", df_reason_name(r->reason), "classes", classes_json(p, r->classes),
			 "class", r->slot >= 0 && (size_t)r->slot < p->n_classes ?
					  json_string(p->classes[r->slot].name) : json_null(),
			 "rule", name ? json_pack("{s:s, s:s}", "kind", kind, "name", name) : json_null());
}

/* The flow as it was asked about. */
static json_t *flow_json(const struct test_req *q)
{
	const struct df_packet *k = &q->pkt;
	char dst[DF_ADDRSTRLEN], src[DF_ADDRSTRLEN], pb[8];
	json_t *j, *cls = json_array();

	/* the packet's addresses are full-length prefixes already */
	df_cidr_format(&k->dst, false, dst, sizeof(dst));
	df_cidr_format(&k->src, false, src, sizeof(src));
	for (int i = 0; i < q->n_class_names; i++)
		json_array_append_new(cls, json_string(q->class_names[i]));
	j = json_pack("{s:s, s:s, s:s, s:o}", "dst", dst, "src", src, "proto",
		      df_proto_str(k->proto, pb, sizeof(pb)), "port",
		      df_proto_bit(k->proto) & DF_P_PORTED ? json_integer(k->dport) : json_null());
	json_object_set_new(j, "classes", cls);
	json_object_set_new(j, "cgroup", k->cgroup && q->n_facts ? json_string(k->cgroup) : json_null());
	json_object_set_new(j, "uid", k->uid != DF_UID_NONE ? json_integer(k->uid) : json_null());
	json_object_set_new(j, "mark", json_integer(k->mark));
	json_object_set_new(j, "sport", json_integer(k->sport));
	return j;
}

static void test_print_text(const struct test_req *q, const struct df_policy *p,
			    const struct test_out *o)
{
	char cls[1024], when[40];
	const char *kind, *name = df_rule_name(p, o->ref.rule, &kind);

	classes_text(p, o->ref.classes, cls, sizeof(cls));
	df_time_format(q->now, when, sizeof(when));
	printf("verdict: %s\nreason:  %s\nclasses: %s\n", df_verdict_name(o->ref.verdict),
	       df_reason_name(o->ref.reason), cls);
	printf("rule:    %s%s%s\n", name ? kind : "(none)", name ? " " : "", name ? name : "");
	printf("at:      %s\n", when);
	if (o->agree) {
		printf("checked: the reference evaluator");
		for (int i = 0; i < o->n; i++)
			printf(" and %s", o->what[i]);
		printf(" agree\n");
		return;
	}
	for (int i = 0; i < o->n; i++) {
		const struct df_result *bad = &o->r[i];
		const char *k2, *n2 = df_rule_name(p, bad->rule, &k2);

		if (same_result(&o->ref, bad))
			continue;
		classes_text(p, bad->classes, cls, sizeof(cls));
		fprintf(stderr, "datafencectl: BUG: %s disagrees: %s %s classes %s rule %s %s\n",
			o->what[i], df_verdict_name(bad->verdict), df_reason_name(bad->reason), cls,
			k2, n2 ? n2 : "");
	}
}

static void test_print(const struct test_req *q, const struct df_policy *p,
		       const struct test_out *o)
{
	json_t *j;

	if (!ctl_json) {
		test_print_text(q, p, o);
		return;
	}
	j = result_json(p, &o->ref);
	json_object_set_new(j, "flow", flow_json(q));
	json_object_set_new(j, "at", df_time_json((time_t)q->now));
	json_object_set_new(j, "policy", json_pack("{s:s, s:s, s:I}", "file", q->policy, "name",
						   p->name, "serial", (json_int_t)p->serial));
	json_object_set_new(j, "reference", result_json(p, &o->ref));
	for (int i = 0; i < o->n; i++)
		json_object_set_new(j, o->key[i], result_json(p, &o->r[i]));
	json_object_set_new(j, "agree", json_boolean(o->agree));
	ctl_print_json(j);
}

/* One "=> VERDICT [REASON]": 0, or -1 when it names neither. */
static int expectation(char *text, enum df_verdict *v, int *reason)
{
	char *verdict = strtok(text, " \t\r\n"), *why = strtok(NULL, " \t\r\n");

	*reason = -1;
	if (!verdict || strtok(NULL, " \t\r\n"))
		return -1;
	for (int i = 0; i < DF_VERDICT__MAX; i++)
		if (!strcmp(verdict, df_verdict_name((enum df_verdict)i)))
			*v = (enum df_verdict)i, *reason = -2;
	if (*reason != -2)
		return -1;
	*reason = -1;
	for (int r = 0; why && r < DF_REASON__MAX; r++)
		if (!strcmp(why, df_reason_name((enum df_reason)r)))
			*reason = r;
	return why && *reason < 0 ? -1 : 0;
}

/* --flows FILE: each line a flow in `test`'s options, "=>" and the verdict
 * (and reason) it must get; # comments. Every flow judged as `test` judges
 * one; each one whose verdict differs (or whose evaluators disagree) is
 * listed. Exit 1 on any. */
static int test_flows(const struct test_req *base, const struct df_loaded *l)
{
	FILE *f = strcmp(base->flows, "-") ? fopen(base->flows, "re") : stdin;
	json_t *arr = json_array();
	char *line = NULL, when[40];
	size_t cap = 0;
	int ln = 0, n = 0, bad = 0, errors = 0;

	if (!f) {
		json_decref(arr);
		return ctl_usage_error("test: cannot read %s: %s", base->flows, strerror(errno));
	}
	while (getline(&line, &cap, f) > 0) {
		struct test_req q = { .policy = base->policy, .loaded = base->loaded,
				      .status = base->status, .n_kinds = base->n_kinds,
				      .pkt = { .uid = DF_UID_NONE, .proto = 6 }, .now = base->now,
				      .at_given = base->at_given };
		const char *dst = NULL, *src = NULL, *at = NULL;
		char *arrow, *args[40] = { "test" }, *hash = strchr(line, '#');
		struct test_out o = { 0 };
		enum df_verdict want = DF_ALLOW;
		int nargs = 1, reason, rc;
		bool ok;

		ln++;
		if (hash)
			*hash = '\0';
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		memcpy(q.kinds, base->kinds, sizeof(q.kinds));
		arrow = strstr(line, "=>");
		if (!arrow || expectation(arrow + 2, &want, &reason)) {
			fprintf(stderr, "%s:%d: error: a flow ends in \"=> VERDICT [REASON]\" (allow, drop, would-drop; a reason word)\n",
				base->flows, ln);
			errors++;
			continue;
		}
		*arrow = '\0';
		for (char *t = strtok(line, " \t\r\n"); t && nargs < 39; t = strtok(NULL, " \t\r\n"))
			args[nargs++] = t;
		args[nargs] = NULL;
		rc = test_options(nargs, args, &q, &dst, &src, &at);
		if (!rc)
			rc = test_facts(&q, dst, src, at ? at : NULL);
		if (!rc && !at)
			q.now = base->now, q.at_given = base->at_given;
		if (!rc)
			rc = test_evaluate(&q, l, &o);
		if (rc) {
			fprintf(stderr, "%s:%d: error: this flow cannot be judged (above)\n", base->flows, ln);
			errors++;
			continue;
		}
		n++;
		ok = o.agree && o.ref.verdict == want && (reason < 0 || (int)o.ref.reason == reason);
		bad += !ok;
		if (ctl_json) {
			json_array_append_new(arr, json_pack("{s:i, s:o, s:{s:s, s:o}, s:o, s:b, s:b}",
							     "line", ln, "flow", flow_json(&q), "expected",
							     "verdict", df_verdict_name(want), "reason",
							     reason >= 0 ? json_string(df_reason_name((enum df_reason)reason)) :
									   json_null(),
							     "got", result_json(l->p, &o.ref), "agree",
							     o.agree, "ok", ok));
		} else if (!ok) {
			const char *kind, *name = df_rule_name(l->p, o.ref.rule, &kind);

			printf("%s:%d: expected %s%s%s, got %s %s (rule %s%s%s)%s\n", base->flows, ln,
			       df_verdict_name(want), reason >= 0 ? " " : "",
			       reason >= 0 ? df_reason_name((enum df_reason)reason) : "",
			       df_verdict_name(o.ref.verdict), df_reason_name(o.ref.reason),
			       name ? kind : "none", name ? " " : "", name ? name : "",
			       o.agree ? "" : "; the evaluators disagree (a bug: report it)");
		}
	}
	free(line);
	if (f != stdin)
		fclose(f);
	df_time_format(base->now, when, sizeof(when));
	if (ctl_json)
		ctl_print_json(json_pack("{s:s, s:{s:s, s:s, s:I}, s:s, s:o, s:i, s:i, s:i}", "file",
					 base->flows, "policy", "file", base->policy, "name", l->p->name,
					 "serial", (json_int_t)l->p->serial, "at", when, "flows", arr,
					 "checked", n, "mismatches", bad, "errors", errors));
	else
		printf("%s: %d flow%s checked against %s (serial %llu): %d mismatch%s%s\n", base->flows, n,
		       n == 1 ? "" : "s", base->policy, (unsigned long long)l->p->serial, bad,
		       bad == 1 ? "" : "es", errors ? ", and lines with errors" : "");
	return bad || errors ? EXIT_INVALID : EXIT_OK;
}

int cmd_test(int argc, char **argv)
{
	struct test_req q = { .pkt = { .uid = DF_UID_NONE, .proto = 6 }, .now = (int64_t)time(NULL) };
	const char *dst = NULL, *src = NULL, *at = NULL;
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct test_out o = { 0 };
	char *text = NULL;
	int rc = test_options(argc, argv, &q, &dst, &src, &at);

	if (rc)
		return rc;
	q.loaded = !q.policy;
	if (q.flows && (dst || src || q.n_class_names || q.n_facts || q.have_port))
		return ctl_usage_error("test: --flows takes each flow from its file (only --policy and --at go with it)");
	if (q.loaded && (rc = test_loaded(&q)))
		goto cleanup;
	if (q.flows) {
		q.at_given = at;
		if (at && df_time_parse(at, &q.now)) {
			rc = ctl_usage_error("test: bad --at \"%s\"", at);
			goto cleanup;
		}
	} else if ((rc = test_facts(&q, dst, src, at))) {
		goto cleanup;
	}
	if (ctl_load_policy(q.policy, &p, &img, &d, &text)) {
		if (ctl_json)
			ctl_print_json(json_pack("{s:s, s:o}", "error", "invalid policy", "diagnostics",
						 ctl_diags_json(&d, text)));
		else
			df_diags_print(&d, stderr, text);
		rc = EXIT_INVALID;
		goto cleanup;
	}
	if (q.flows) {
		if (!ctl_json)
			df_diags_print(&d, stderr, text);
		rc = test_flows(&q, &(struct df_loaded){ .p = p, .img = img });
		goto cleanup;
	}
	rc = test_evaluate(&q, &(struct df_loaded){ .p = p, .img = img }, &o);
	if (!rc) {
		if (!ctl_json)
			df_diags_print(&d, stderr, text);
		test_print(&q, p, &o);
		rc = o.agree ? EXIT_OK : EXIT_DISAGREE;
	}
cleanup:
	json_decref(q.status);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
	return rc;
}
