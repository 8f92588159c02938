// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl diff OLD NEW: what a push would change. Per class (by name):
 * its mode, the destinations that allow it (added, removed, and for those
 * in both their CIDRs, ports and protocols added or removed), its
 * exceptions; then the verdicts that flip on a sample of flows drawn from
 * both policies' boundaries, judged by the reference evaluator. Exit as
 * diff(1): 0 the same, 1 different, 2 trouble. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "refeval.h"
#include "values.h"
#include "verdict.h"

#define MAX_FLIPS_SHOWN 20
#define MAX_FLOWS_PER_CLASS 20000

/* ---- sets of words ----------------------------------------------------------------- */

struct words {
	char **v;
	size_t n, cap;
};

static void words_add(struct words *w, const char *s)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		char **v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n] = strdup(s);
	if (w->v[w->n])
		w->n++;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	memset(w, 0, sizeof(*w));
}

/* added (in b, not a) and removed (in a, not b), sorted; both consumed. */
static json_t *words_diff(struct words *a, struct words *b)
{
	json_t *added = json_array(), *removed = json_array();
	size_t i = 0, k = 0;

	qsort(a->v, a->n, sizeof(*a->v), by_str);
	qsort(b->v, b->n, sizeof(*b->v), by_str);
	while (i < a->n || k < b->n) {
		int c = i == a->n ? 1 : k == b->n ? -1 : strcmp(a->v[i], b->v[k]);

		if (c < 0)
			json_array_append_new(removed, json_string(a->v[i++]));
		else if (c > 0)
			json_array_append_new(added, json_string(b->v[k++]));
		else
			i++, k++;
	}
	words_free(a);
	words_free(b);
	return json_pack("{s:o, s:o}", "added", added, "removed", removed);
}

static bool diff_empty(const json_t *d)
{
	return !json_array_size(json_object_get(d, "added")) &&
	       !json_array_size(json_object_get(d, "removed"));
}

static void cidr_words(const struct df_match *m, struct words *w)
{
	char buf[DF_ADDRSTRLEN];

	for (size_t i = 0; i < m->n_cidrs; i++) {
		df_cidr_format(&m->cidrs[i], true, buf, sizeof(buf));
		words_add(w, buf);
	}
	for (size_t i = 0; i < m->n_except; i++) {
		char ex[DF_ADDRSTRLEN + 8];

		df_cidr_format(&m->except[i], true, buf, sizeof(buf));
		snprintf(ex, sizeof(ex), "except %s", buf);
		words_add(w, ex);
	}
}

/* Ports and protocols as words: "tcp", "port 443", "port 9000-9100"
 * ("any port" when none). */
static void port_words(const struct df_match *m, struct words *w)
{
	static const char *const protos[] = { "tcp", "udp", "sctp", "icmp", "icmpv6" };
	char buf[32];

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		uint8_t p;

		if (!df_proto_parse(protos[i], &p) && (m->protos & df_proto_bit(p)))
			words_add(w, protos[i]);
	}
	if (!m->n_ports)
		words_add(w, "any port");
	for (size_t i = 0; i < m->n_ports; i++) {
		if (m->ports[i].lo == m->ports[i].hi)
			snprintf(buf, sizeof(buf), "port %u", m->ports[i].lo);
		else
			snprintf(buf, sizeof(buf), "port %u-%u", m->ports[i].lo, m->ports[i].hi);
		words_add(w, buf);
	}
}

/* ---- the structure: per class ------------------------------------------------------ */

static const struct df_dest *dest_named(const struct df_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_dests; i++)
		if (!strcmp(p->dests[i].name, name))
			return &p->dests[i];
	return NULL;
}

/* The destinations allowing class ci of p, as names. */
static void dests_of(const struct df_policy *p, int ci, struct words *w)
{
	for (size_t i = 0; ci >= 0 && i < p->n_dests; i++)
		if (p->dests[i].allow & (1ULL << ci))
			words_add(w, p->dests[i].name);
}

static void excs_of(const struct df_policy *p, int ci, struct words *w)
{
	for (size_t i = 0; ci >= 0 && i < p->n_excs; i++)
		if (p->excs[i].class_idx == ci)
			words_add(w, p->excs[i].id);
}

/* One class in both: the destinations in both that allow it, changed. */
static json_t *changed_dests(const struct df_policy *a, int ca, const struct df_policy *b, int cb)
{
	json_t *out = json_array();

	for (size_t i = 0; i < b->n_dests; i++) {
		const struct df_dest *db = &b->dests[i], *da = dest_named(a, db->name);
		struct words wa = { 0 }, wb = { 0 };
		json_t *cidrs, *ports;

		if (!da || !(da->allow & (1ULL << ca)) || !(db->allow & (1ULL << cb)))
			continue;
		cidr_words(&da->m, &wa);
		cidr_words(&db->m, &wb);
		cidrs = words_diff(&wa, &wb);
		port_words(&da->m, &wa);
		port_words(&db->m, &wb);
		ports = words_diff(&wa, &wb);
		if (diff_empty(cidrs) && diff_empty(ports)) {
			json_decref(cidrs);
			json_decref(ports);
			continue;
		}
		json_array_append_new(out, json_pack("{s:s, s:o, s:o}", "name", db->name, "cidrs",
						     cidrs, "ports", ports));
	}
	return out;
}

static json_t *class_diff(const struct df_policy *a, const struct df_policy *b, const char *name)
{
	int ca = df_class_index(a, name), cb = df_class_index(b, name);
	struct words wa = { 0 }, wb = { 0 };
	json_t *j, *dests, *excs, *changed;
	const char *state = ca < 0 ? "added" : cb < 0 ? "removed" : "same";

	dests_of(a, ca, &wa);
	dests_of(b, cb, &wb);
	dests = words_diff(&wa, &wb);
	excs_of(a, ca, &wa);
	excs_of(b, cb, &wb);
	excs = words_diff(&wa, &wb);
	changed = ca >= 0 && cb >= 0 ? changed_dests(a, ca, b, cb) : json_array();
	json_object_set_new(dests, "changed", changed);
	if (!strcmp(state, "same") &&
	    (!diff_empty(dests) || json_array_size(changed) || !diff_empty(excs) ||
	     a->classes[ca].mode != b->classes[cb].mode))
		state = "changed";
	j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "name", name, "state", state, "mode_old",
		      ca >= 0 ? json_string(df_mode_name(a->classes[ca].mode)) : json_null(),
		      "mode_new", cb >= 0 ? json_string(df_mode_name(b->classes[cb].mode)) : json_null(),
		      "destinations", dests, "exceptions", excs);
	return j;
}

/* ---- verdicts on a sample of flows --------------------------------------------------- */

struct sample {
	struct df_cidr *addr;
	size_t n, cap;
};

static void sample_add(struct sample *s, const struct df_cidr *c)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct df_cidr *v = realloc(s->addr, cap * sizeof(*v));

		if (!v)
			return;
		s->addr = v;
		s->cap = cap;
	}
	s->addr[s->n++] = *c;
}

/* A prefix's first and last address, and the one after it. */
static void sample_bounds(struct sample *s, const struct df_cidr *c)
{
	unsigned int bits = c->family == 4 ? 32 : 128;
	struct df_cidr x = *c, last;

	x.plen = (uint8_t)bits;
	sample_add(s, &x);
	last = x;
	for (unsigned int b = c->plen; b < bits; b++)
		last.addr[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	sample_add(s, &last);
	for (int i = (int)bits / 8 - 1; i >= 0; i--) /* last + 1 */
		if (++last.addr[i])
			break;
	sample_add(s, &last);
}

static void sample_policy(struct sample *s, const struct df_policy *p, uint16_t *ports,
			  size_t *n_ports, size_t max_ports)
{
	int line;

	for (size_t i = 0; i < p->n_dests + p->n_excs; i++) {
		const struct df_match *m = df_rule_match(p, i, &line);

		for (size_t k = 0; k < m->n_cidrs; k++)
			sample_bounds(s, &m->cidrs[k]);
		for (size_t k = 0; k < m->n_except; k++)
			sample_bounds(s, &m->except[k]);
		for (size_t k = 0; k < m->n_ports && *n_ports + 3 <= max_ports; k++) {
			ports[(*n_ports)++] = m->ports[k].lo;
			ports[(*n_ports)++] = m->ports[k].hi;
			if (m->ports[k].hi < 65535)
				ports[(*n_ports)++] = (uint16_t)(m->ports[k].hi + 1);
		}
	}
}

static int by_port(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static json_t *flips(const struct df_policy *a, const struct df_policy *b, int64_t now)
{
	static const uint8_t protos[] = { 6, 17 };
	uint16_t ports[512] = { 22, 53, 80, 443 };
	size_t n_ports = 4, sampled = 0, flipped = 0, m = 0;
	struct sample s = { 0 };
	json_t *examples = json_array();

	sample_policy(&s, a, ports, &n_ports, 512);
	sample_policy(&s, b, ports, &n_ports, 512);
	qsort(ports, n_ports, sizeof(ports[0]), by_port);
	for (size_t i = 1; i < n_ports; i++)
		if (ports[i] != ports[m])
			ports[++m] = ports[i];
	n_ports = n_ports ? m + 1 : 0;
	for (size_t c = 0; c < b->n_classes; c++) {
		int ca = df_class_index(a, b->classes[c].name);
		/* big sets: every stride-th address, spread over all of them */
		size_t per_class = 0, stride = s.n * 2 * n_ports / MAX_FLOWS_PER_CLASS + 1;

		if (ca < 0)
			continue; /* a new class: nothing to flip from */
		for (size_t i = 0; i < s.n && per_class < MAX_FLOWS_PER_CLASS; i += stride)
			for (size_t pr = 0; pr < 2; pr++)
				for (size_t k = 0; k < n_ports; k++, per_class++) {
					struct df_packet pkt = { .dst = s.addr[i], .proto = protos[pr],
								 .dport = ports[k], .uid = DF_UID_NONE };
					struct df_result ra, rb;
					char dst[DF_ADDRSTRLEN];

					pkt.src.family = pkt.dst.family;
					pkt.src.plen = pkt.dst.plen;
					df_ref_verdict(a, &pkt, 1ULL << ca, now, &ra);
					df_ref_verdict(b, &pkt, 1ULL << c, now, &rb);
					sampled++;
					if (ra.verdict == rb.verdict)
						continue;
					flipped++;
					if (json_array_size(examples) >= MAX_FLIPS_SHOWN)
						continue;
					df_cidr_format(&pkt.dst, false, dst, sizeof(dst));
					json_array_append_new(
						examples,
						json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s}, s:{s:s, s:s}}",
							  "class", b->classes[c].name, "proto",
							  protos[pr] == 6 ? "tcp" : "udp", "dst", dst,
							  "port", ports[k], "old", "verdict",
							  df_verdict_name(ra.verdict), "reason",
							  df_reason_name(ra.reason), "new", "verdict",
							  df_verdict_name(rb.verdict), "reason",
							  df_reason_name(rb.reason)));
				}
	}
	free(s.addr);
	return json_pack("{s:I, s:I, s:o}", "sampled", (json_int_t)sampled, "flipped",
			 (json_int_t)flipped, "examples", examples);
}

/* ---- print ---------------------------------------------------------------------------- */

static void print_words(const char *sign, const char *what, const json_t *arr)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		printf("  %s %s%s%s\n", sign, what, *what ? " " : "", json_string_value(v));
}

static void print_diff(const json_t *j)
{
	const json_t *o = json_object_get(j, "old"), *n = json_object_get(j, "new");
	json_t *c, *f = json_object_get(j, "flips"), *x;
	size_t i, k;

	printf("policy: '%s' serial %lld -> '%s' serial %lld\n",
	       json_string_value(json_object_get(o, "name")),
	       (long long)json_integer_value(json_object_get(o, "serial")),
	       json_string_value(json_object_get(n, "name")),
	       (long long)json_integer_value(json_object_get(n, "serial")));
	json_array_foreach(json_object_get(j, "classes"), i, c) {
		const char *state = json_string_value(json_object_get(c, "state"));
		json_t *d = json_object_get(c, "destinations"), *e = json_object_get(c, "exceptions");

		if (!strcmp(state, "same"))
			continue;
		printf("class %s: %s", json_string_value(json_object_get(c, "name")), state);
		if (json_is_string(json_object_get(c, "mode_old")) &&
		    json_is_string(json_object_get(c, "mode_new")) &&
		    strcmp(json_string_value(json_object_get(c, "mode_old")),
			   json_string_value(json_object_get(c, "mode_new"))))
			printf(" (mode %s -> %s)", json_string_value(json_object_get(c, "mode_old")),
			       json_string_value(json_object_get(c, "mode_new")));
		printf("\n");
		print_words("+", "destination", json_object_get(d, "added"));
		print_words("-", "destination", json_object_get(d, "removed"));
		json_array_foreach(json_object_get(d, "changed"), k, x) {
			printf("  ~ destination %s:\n", json_string_value(json_object_get(x, "name")));
			print_words("  +", "", json_object_get(json_object_get(x, "cidrs"), "added"));
			print_words("  -", "", json_object_get(json_object_get(x, "cidrs"), "removed"));
			print_words("  +", "", json_object_get(json_object_get(x, "ports"), "added"));
			print_words("  -", "", json_object_get(json_object_get(x, "ports"), "removed"));
		}
		print_words("+", "exception", json_object_get(e, "added"));
		print_words("-", "exception", json_object_get(e, "removed"));
	}
	printf("verdicts: %lld flows sampled (prefix bounds x tcp, udp x the ports named), %lld flip\n",
	       (long long)json_integer_value(json_object_get(f, "sampled")),
	       (long long)json_integer_value(json_object_get(f, "flipped")));
	json_array_foreach(json_object_get(f, "examples"), i, x)
		printf("  class %s %s %s port %lld: %s %s -> %s %s\n",
		       json_string_value(json_object_get(x, "class")),
		       json_string_value(json_object_get(x, "proto")),
		       json_string_value(json_object_get(x, "dst")),
		       (long long)json_integer_value(json_object_get(x, "port")),
		       json_string_value(json_object_get(json_object_get(x, "old"), "verdict")),
		       json_string_value(json_object_get(json_object_get(x, "old"), "reason")),
		       json_string_value(json_object_get(json_object_get(x, "new"), "verdict")),
		       json_string_value(json_object_get(json_object_get(x, "new"), "reason")));
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "at", required_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct df_policy *p[2] = { 0 };
	struct df_image *img[2] = { 0 };
	struct df_diags d[2] = { 0 };
	char *text[2] = { 0 };
	int64_t now = (int64_t)time(NULL);
	json_t *j, *classes;
	int c, rc = 0;
	bool differ;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': ctl_json = true; break;
		case 'a':
			if (df_time_parse(optarg, &now))
				return ctl_usage_error("diff: bad --at \"%s\" (RFC 3339)", optarg);
			break;
		case 'h': return -1;
		default: return ctl_usage_error("diff: bad option; try \"datafencectl help diff\"");
		}
	}
	if (argc - optind != 2)
		return ctl_usage_error("diff: give OLD and NEW policy files");
	for (int i = 0; i < 2; i++)
		if (ctl_load_policy(argv[optind + i], &p[i], &img[i], &d[i], &text[i])) {
			if (ctl_json)
				ctl_print_json(json_pack("{s:s, s:s, s:o}", "error", "invalid policy",
							 "file", argv[optind + i], "diagnostics",
							 ctl_diags_json(&d[i], text[i])));
			else
				df_diags_print(&d[i], stderr, text[i]);
			rc = EXIT_USAGE; /* diff(1): trouble */
			goto out;
		}
	classes = json_array();
	for (size_t i = 0; i < p[0]->n_classes; i++) /* the old order, then the new classes */
		json_array_append_new(classes, class_diff(p[0], p[1], p[0]->classes[i].name));
	for (size_t i = 0; i < p[1]->n_classes; i++)
		if (df_class_index(p[0], p[1]->classes[i].name) < 0)
			json_array_append_new(classes, class_diff(p[0], p[1], p[1]->classes[i].name));
	j = json_pack("{s:{s:s, s:s, s:I}, s:{s:s, s:s, s:I}, s:o, s:o}", "old", "file",
		      argv[optind], "name", p[0]->name, "serial", (json_int_t)p[0]->serial, "new",
		      "file", argv[optind + 1], "name", p[1]->name, "serial",
		      (json_int_t)p[1]->serial, "classes", classes, "flips", flips(p[0], p[1], now));
	differ = json_integer_value(json_object_get(json_object_get(j, "flips"), "flipped")) > 0;
	{
		size_t i;
		json_t *x;

		json_array_foreach(classes, i, x)
			differ |= strcmp(json_string_value(json_object_get(x, "state")), "same") != 0;
	}
	json_object_set_new(j, "differ", json_boolean(differ));
	if (ctl_json) {
		ctl_print_json(j);
	} else {
		print_diff(j);
		json_decref(j);
	}
	rc = differ ? 1 : 0;
out:
	for (int i = 0; i < 2; i++) {
		df_image_free(img[i]);
		df_policy_free(p[i]);
		df_diags_free(&d[i]);
		free(text[i]);
	}
	return rc;
}
