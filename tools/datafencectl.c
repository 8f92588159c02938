// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl: the operator's CLI. Commands come from one table that also
 * drives `help`; every command prints text or, with --json, JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "control.h"
#include "events.h"
#include "loader.h"
#include "testrun.h"
#include "nfttable.h"
#include "nftplan.h"
#include "policy.h"
#include "report.h"
#include "verdict.h"
#include "refeval.h"
#include "emulate.h"
#include "values.h"

#define DF_VERSION "0.1.0"

/* Exit codes scripts rely on (datafencectl.8). */
#define EXIT_OK 0
#define EXIT_INVALID 1 /* check: policy invalid; test: policy invalid */
#define EXIT_USAGE 2
#define EXIT_DISAGREE 3 /* test: evaluators disagree (a bug: report it) */
/* status: 0 healthy, 1 degraded, 2 agent down */
#define EXIT_DEGRADED 1
#define EXIT_DOWN 2

static const char *opt_socket = "/run/datafence/control.sock";
static const char *opt_nft_table = DF_NFT_TABLE;
static const char *opt_pin_dir = DF_DEFAULT_PIN_DIR;

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *summary;
	const char *help;
};

static bool json_mode;

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);

	if (s) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

/* Usage errors: text to stderr, or {"error": ...} in JSON mode. */
__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (json_mode)
		print_json(json_pack("{s:s}", "error", msg ? msg : "usage error"));
	else
		fprintf(stderr, "datafencectl: %s\n", msg ? msg : "usage error");
	free(msg);
	return EXIT_USAGE;
}

/* One request to the agent; NULL (and *why) when it cannot be reached. */
static json_t *ask(const char *cmd, json_t *extra, char *why, size_t whylen)
{
	json_t *req = extra ? extra : json_object();
	json_t *resp;

	json_object_set_new(req, "cmd", json_string(cmd));
	resp = df_ctl_request(opt_socket, req, 5000, why, whylen);
	json_decref(req);
	return resp;
}

static int pinned_fd(enum df_map m)
{
	return df_map_pinned_fd(opt_pin_dir, m);
}

static json_t *diags_json(const struct df_diags *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct df_diag *x = &d->v[i];

		json_array_append_new(a, json_pack("{s:s, s:i, s:s, s:s}", "file",
						   x->file ? x->file : "-", "line", x->line,
						   "severity",
						   x->sev == DF_SEV_ERROR ? "error" : "warning",
						   "message", x->msg ? x->msg : ""));
	}
	return a;
}

static struct df_parse_opts parse_opts(void)
{
	return (struct df_parse_opts){ .resolve_user = df_resolve_user_nss,
				       .now = (int64_t)time(NULL) };
}

/* Loads and compiles a policy; diagnostics collected in d. */
static int load_policy(const char *file, struct df_policy **p, struct df_image **img,
		       struct df_diags *d, char **text)
{
	struct df_parse_opts o = parse_opts();
	int err;

	*img = NULL;
	err = df_policy_load_file(file, &o, p, d, text);
	if (err)
		return err;
	err = df_compile(*p, img, d);
	if (err) {
		df_policy_free(*p);
		*p = NULL;
	}
	return err;
}

static size_t count_prefixes(const struct df_policy *p, int family)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_dests; i++)
		for (size_t j = 0; j < p->dests[i].m.n_cidrs; j++)
			n += p->dests[i].m.cidrs[j].family == family;
	for (size_t i = 0; i < p->n_excs; i++)
		for (size_t j = 0; j < p->excs[i].m.n_cidrs; j++)
			n += p->excs[i].m.cidrs[j].family == family;
	return n;
}

static int check_one(const char *file, bool dump)
{
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	char *text = NULL;
	int err = load_policy(file, &p, &img, &d, &text);

	if (json_mode) {
		json_t *j = json_pack("{s:s, s:b, s:o}", "file", file, "valid", !err, "diagnostics",
				      diags_json(&d));

		if (!err) {
			json_object_set_new(
				j, "summary",
				json_pack("{s:s, s:I, s:s, s:i, s:i, s:i, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i}}",
					  "name", p->name, "serial", (json_int_t)p->serial, "mode",
					  df_mode_name(p->mode), "classes", (int)p->n_classes,
					  "destinations", (int)p->n_dests, "exceptions",
					  (int)p->n_excs, "prefixes_v4",
					  (json_int_t)count_prefixes(p, 4), "prefixes_v6",
					  (json_int_t)count_prefixes(p, 6), "compiled", "dst4",
					  (json_int_t)img->n_dst4, "dst6", (json_int_t)img->n_dst6,
					  "leaves", (json_int_t)img->n_leaves, "entries",
					  (json_int_t)img->n_entries, "max_scan",
					  (json_int_t)img->max_leaf_len, "src4", (json_int_t)img->n_src4,
					  "src6", (json_int_t)img->n_src6, "uids",
					  (json_int_t)img->n_uids, "cgroups", (json_int_t)img->n_cgroups,
					  "marks", img->cfg.hdr.n_marks, "local_ports", img->cfg.hdr.n_lports));
		}
		print_json(j);
	} else {
		df_diags_print(&d, stderr, text);
		if (!err) {
			printf("%s: ok: policy '%s' serial %llu, mode %s\n", file, p->name,
			       (unsigned long long)p->serial, df_mode_name(p->mode));
			printf("  %zu classes, %zu destinations, %zu exceptions; prefixes: %zu IPv4, %zu IPv6\n",
			       p->n_classes, p->n_dests, p->n_excs, count_prefixes(p, 4),
			       count_prefixes(p, 6));
			printf("  compiled: %zu+%zu destination prefixes (v4+v6), %zu leaves, %zu rule entries (longest scan %zu)\n",
			       img->n_dst4, img->n_dst6, img->n_leaves, img->n_entries,
			       img->max_leaf_len);
			printf("  selectors: %zu cgroups, %zu uids, %u marks, %u local port ranges, %zu+%zu local prefixes\n",
			       img->n_cgroups, img->n_uids, img->cfg.hdr.n_marks, img->cfg.hdr.n_lports,
			       img->n_src4, img->n_src6);
			if (dump)
				df_image_dump(img, p, stdout);
		} else {
			fprintf(stderr, "%s: invalid: %zu error%s\n", file, d.errors,
				d.errors == 1 ? "" : "s");
		}
	}
	df_diags_free(&d);
	df_image_free(img);
	df_policy_free(p);
	free(text);
	return err ? EXIT_INVALID : EXIT_OK;
}

static int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "dump", no_argument, NULL, 'd' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	bool dump = false;
	int c, rc = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jdh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json_mode = true; break;
		case 'd': dump = true; break;
		case 'h': return -1;
		default: return usage_error("check: bad option; try \"datafencectl help check\"");
		}
	}
	if (optind >= argc)
		return usage_error("check: no policy file given; try \"datafencectl help check\"");
	for (int i = optind; i < argc; i++) {
		int r = check_one(argv[i], dump);

		if (r > rc)
			rc = r;
	}
	return rc;
}

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

	return json_pack("{s:s, s:s, s:o, s:o}", "verdict", df_verdict_name(r->verdict), "reason",
			 df_reason_name(r->reason), "classes", classes_json(p, r->classes), "rule",
			 name ? json_pack("{s:s, s:s}", "kind", kind, "name", name) : json_null());
}

static bool same_result(const struct df_result *a, const struct df_result *b)
{
	return a->verdict == b->verdict && a->reason == b->reason && a->classes == b->classes &&
	       a->rule == b->rule;
}

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

static int cmd_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' }, { "dst", required_argument, NULL, 'd' },
		{ "src", required_argument, NULL, 's' },    { "port", required_argument, NULL, 'P' },
		{ "proto", required_argument, NULL, 'r' },  { "class", required_argument, NULL, 'c' },
		{ "uid", required_argument, NULL, 'u' },    { "mark", required_argument, NULL, 'm' },
		{ "sport", required_argument, NULL, 'S' },  { "cgroup", required_argument, NULL, 'g' },
		{ "at", required_argument, NULL, 'a' },     { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	    { 0 }
	};
	const char *policy = NULL, *dst = NULL, *src = NULL, *at = NULL;
	char *class_names[DF_MAX_CLASSES];
	int n_class_names = 0, n_facts = 0, c, rc;
	struct df_packet pkt = { .uid = DF_UID_NONE, .proto = 6 };
	bool have_port = false;
	int64_t now = (int64_t)time(NULL);
	uint32_t v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy = optarg; break;
		case 'd': dst = optarg; break;
		case 's': src = optarg; n_facts++; break;
		case 'P':
			if (parse_u32(optarg, 65535, &v))
				return usage_error("test: bad --port \"%s\" (0-65535)", optarg);
			pkt.dport = (uint16_t)v;
			have_port = true;
			break;
		case 'r':
			if (df_proto_parse(optarg, &pkt.proto))
				return usage_error("test: bad --proto \"%s\" (tcp, udp, sctp, icmp, icmpv6 or a number)",
						   optarg);
			break;
		case 'c':
			if (n_class_names == DF_MAX_CLASSES)
				return usage_error("test: too many --class");
			class_names[n_class_names++] = optarg;
			break;
		case 'u':
			if (parse_u32(optarg, 0xfffffffeu, &pkt.uid))
				return usage_error("test: bad --uid \"%s\"", optarg);
			n_facts++;
			break;
		case 'm':
			if (parse_u32(optarg, 0xffffffffu, &pkt.mark))
				return usage_error("test: bad --mark \"%s\"", optarg);
			n_facts++;
			break;
		case 'S':
			if (parse_u32(optarg, 65535, &v))
				return usage_error("test: bad --sport \"%s\"", optarg);
			pkt.sport = (uint16_t)v;
			n_facts++;
			break;
		case 'g': pkt.cgroup = optarg; n_facts++; break;
		case 'a': at = optarg; break;
		case 'j': json_mode = true; break;
		case 'h': return -1;
		default: return usage_error("test: bad option; try \"datafencectl help test\"");
		}
	}
	if (optind < argc)
		return usage_error("test: unexpected argument \"%s\"", argv[optind]);
	bool kernel = !policy, use_bpf = false, use_nft = false;
	char why[512];
	uint64_t nft_serial = 0;

	if (kernel) {
		/* the loaded policy: the agent's file, checked against the kernel's serial */
		json_t *st = ask("status", NULL, why, sizeof(why));
		static char file[1024];
		const char *backend = json_string_value(json_object_get(st, "backend"));

		if (backend) {
			use_bpf = strcmp(backend, "nftables") != 0;
			use_nft = strcmp(backend, "bpf") != 0;
			nft_serial = (uint64_t)json_integer_value(
				json_object_get(json_object_get(st, "nftables"), "serial"));
		} else { /* no agent: what this host holds */
			struct df_nft_opts no = { .table = opt_nft_table };
			struct df_nft_info ni = { 0 };
			int sfd = pinned_fd(DF_MAP_ID_STATE);

			use_bpf = sfd >= 0;
			if (sfd >= 0)
				close(sfd);
			use_nft = !df_nft_info(&no, &ni) && ni.loaded;
			nft_serial = ni.serial;
			if (!use_nft)
				use_bpf = true; /* and say that nothing is loaded */
		}

		if (!st && !json_mode)
			fprintf(stderr, "datafencectl: %s; taking the policy from /etc/datafence/policy.conf\n",
				why);
		snprintf(file, sizeof(file), "%s",
			 st && json_is_string(json_object_get(json_object_get(st, "policy"), "file")) ?
				 json_string_value(json_object_get(json_object_get(st, "policy"), "file")) :
				 "/etc/datafence/policy.conf");
		json_decref(st);
		policy = file;
	}
	if (!dst || df_addr_parse(dst, &pkt.dst))
		return usage_error("test: --dst ADDR is required and must be an IPv4 or IPv6 address");
	if (src && df_addr_parse(src, &pkt.src))
		return usage_error("test: bad --src \"%s\"", src);
	if (!src)
		df_addr_parse(pkt.dst.family == 4 && !strchr(dst, ':') ? "0.0.0.0" : "::", &pkt.src);
	if (kernel && !pkt.cgroup)
		pkt.cgroup = "/"; /* the kernel sees the test's socket in some cgroup: the root */
	if (kernel && pkt.src.family != pkt.dst.family)
		return usage_error("test: --src and --dst must be of one family for the kernel's test packet");
	if (n_class_names && n_facts)
		return usage_error("test: give either --class or socket facts (--cgroup, --uid, --mark, --sport, --src), not both");
	if (!n_class_names && !n_facts)
		return usage_error("test: give --class NAME or a socket fact (--cgroup, --uid, --mark, --sport, --src)");
	if (at && df_time_parse(at, &now))
		return usage_error("test: bad --at \"%s\" (RFC 3339, e.g. 2026-12-01T00:00:00Z)", at);
	if (pkt.cgroup && pkt.cgroup[0] != '/')
		return usage_error("test: --cgroup must be a path from the cgroup2 root, like /us-data.slice/x.service");
	if (!(df_proto_bit(pkt.proto) & DF_P_PORTED)) {
		if (have_port)
			return usage_error("test: --port applies to tcp, udp and sctp only");
		pkt.sport = 0;
	} else if (!have_port) {
		return usage_error("test: --port is required for tcp, udp and sctp");
	}

	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct df_emu *emu = NULL;
	char *text = NULL;
	struct df_result ref, emr, nfr;
	uint64_t ref_cls = 0, emu_cls = 0;
	struct df_nft_plan *plan = NULL;

	if (load_policy(policy, &p, &img, &d, &text)) {
		if (json_mode) {
			print_json(json_pack("{s:s, s:o}", "error", "invalid policy", "diagnostics",
					     diags_json(&d)));
		} else {
			df_diags_print(&d, stderr, text);
		}
		rc = EXIT_INVALID;
		goto cleanup;
	}
	emu = df_emu_new(img);
	if (!emu) {
		rc = usage_error("out of memory");
		goto cleanup;
	}
	if (n_class_names) {
		for (int i = 0; i < n_class_names; i++) {
			int ci = df_class_index(p, class_names[i]);

			if (ci < 0) {
				rc = usage_error("test: unknown class \"%s\" in %s", class_names[i],
						 policy);
				goto cleanup;
			}
			ref_cls |= 1ULL << ci;
		}
		emu_cls = ref_cls;
	} else {
		ref_cls = df_ref_classify(p, &pkt);
		emu_cls = df_emu_classify(emu, &pkt);
	}
	df_ref_verdict(p, &pkt, ref_cls, now, &ref);
	if (kernel && use_nft) {
		/* nftables has no dry run: the table's contents as the agent
		 * planned them (the same sets and rules), evaluated here */
		if (nft_serial != p->serial) {
			fprintf(stderr, "datafencectl: %s has serial %llu but table inet %s holds serial %llu\n",
				policy, (unsigned long long)p->serial, opt_nft_table,
				(unsigned long long)nft_serial);
			rc = EXIT_INVALID;
			goto cleanup;
		}
		if (df_nft_plan_build(p, img, &plan)) {
			rc = usage_error("out of memory");
			goto cleanup;
		}
		df_nft_plan_verdict(plan, p, &pkt, ref_cls, now, &nfr);
	}
	if (kernel && use_bpf) {
		int sfd = pinned_fd(DF_MAP_ID_STATE);
		struct df_state kst = { 0 };
		__u32 zero = 0;

		if (sfd < 0 || bpf_map_lookup_elem(sfd, &zero, &kst)) {
			rc = usage_error("test: nothing is loaded in %s (use --policy FILE to judge a file)",
					 opt_pin_dir);
			if (sfd >= 0)
				close(sfd);
			goto cleanup;
		}
		close(sfd);
		if (kst.serial != p->serial) {
			fprintf(stderr, "datafencectl: %s has serial %llu but the kernel enforces serial %llu\n",
				policy, (unsigned long long)p->serial, (unsigned long long)kst.serial);
			rc = EXIT_INVALID;
			goto cleanup;
		}
		if (df_bpf_judge(opt_pin_dir, &pkt, n_class_names ? ref_cls : 0, at ? now : 0, &emr, why, sizeof(why))) {
			rc = usage_error("test: %s", why);
			goto cleanup;
		}
	} else if (!kernel) {
		df_emu_verdict(emu, &pkt, emu_cls, now, &emr);
	}
	rc = (!(use_bpf || !kernel) || same_result(&ref, &emr)) && (!use_nft || same_result(&ref, &nfr)) ?
		     EXIT_OK : EXIT_DISAGREE;

	if (json_mode) {
		json_t *j = result_json(p, &ref);

		json_object_set_new(j, "reference", result_json(p, &ref));
		if (use_bpf || !kernel)
			json_object_set_new(j, kernel ? "kernel" : "emulator", result_json(p, &emr));
		if (use_nft)
			json_object_set_new(j, "nftables", result_json(p, &nfr));
		json_object_set_new(j, "agree", json_boolean(rc == EXIT_OK));
		print_json(j);
	} else {
		char cls[1024], when[40];
		const char *kind, *name = df_rule_name(p, ref.rule, &kind);

		classes_text(p, ref.classes, cls, sizeof(cls));
		df_time_format(now, when, sizeof(when));
		df_diags_print(&d, stderr, text);
		printf("verdict: %s\nreason:  %s\nclasses: %s\n", df_verdict_name(ref.verdict),
		       df_reason_name(ref.reason), cls);
		printf("rule:    %s%s%s\n", name ? kind : "(none)", name ? " " : "", name ? name : "");
		printf("at:      %s\n", when);
		if (rc == EXIT_OK) {
			printf("checked: the reference evaluator and %s%s%s agree\n",
			       !kernel ? "the compiled-table emulator" :
			       use_bpf ? "the kernel (the loaded program, BPF_PROG_TEST_RUN)" : "",
			       use_bpf && use_nft ? " and " : "",
			       use_nft ? "the nftables table (its sets and rules as loaded, evaluated here)" : "");
		} else {
			const struct df_result *bad = (use_bpf || !kernel) && !same_result(&ref, &emr) ? &emr : &nfr;
			const char *k2, *n2 = df_rule_name(p, bad->rule, &k2);

			classes_text(p, bad->classes, cls, sizeof(cls));
			fprintf(stderr,
				"datafencectl: BUG: the %s disagrees: %s %s classes %s rule %s %s\n",
				!kernel ? "emulator" : bad == &nfr ? "nftables table" : "kernel",
				df_verdict_name(bad->verdict), df_reason_name(bad->reason), cls, k2,
				n2 ? n2 : "");
		}
	}
cleanup:
	df_nft_plan_free(plan);
	df_emu_free(emu);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
	return rc;
}

/* ---- commands that ask the agent -------------------------------------------------- */

static int simple_opts(int argc, char **argv, const char *name)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j')
			json_mode = true;
		else if (c == 'h')
			return -1;
		else
			return usage_error("%s: bad option; try \"datafencectl help %s\"", name, name);
	}
	if (optind < argc)
		return usage_error("%s: unexpected argument \"%s\"", name, argv[optind]);
	return 0;
}

static void fmt_duration(json_int_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
}

/* The agent is down: what the pinned maps still say. */
static int status_down(const char *why)
{
	int sfd = pinned_fd(DF_MAP_ID_STATE);
	struct df_state st = { 0 };
	struct df_totals t = { 0 };
	__u32 zero = 0, id = 0;
	bool enforcing = false;

	if (sfd >= 0 && !bpf_map_lookup_elem(sfd, &zero, &st)) {
		int cfd = pinned_fd(DF_MAP_ID_CFG);

		enforcing = cfd >= 0 && !bpf_map_lookup_elem(cfd, &st.gen, &id) && id;
		if (cfd >= 0)
			close(cfd);
		int c = pinned_fd(DF_MAP_ID_COUNTERS), m = pinned_fd(DF_MAP_ID_MISC);

		if (c >= 0)
			json_decref(df_report_counters(c, NULL, &t));
		if (m >= 0)
			df_report_misc(m, &t);
		if (c >= 0)
			close(c);
		if (m >= 0)
			close(m);
	}
	/* the nftables backend's table, in this network namespace */
	struct df_nft_opts no = { .table = opt_nft_table };
	struct df_nft_info ni = { 0 };

	if (!df_nft_info(&no, &ni) && ni.present) {
		df_report_nft(&no, NULL, NULL, NULL, &t);
		if (!enforcing && ni.loaded)
			st.serial = ni.serial;
		enforcing |= ni.loaded;
	}
	if (json_mode) {
		print_json(json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "agent", "down",
				     "why", why, "enforcement", enforcing ? "active" : "none", "serial",
				     enforcing ? json_integer((json_int_t)st.serial) : json_null(),
				     "nftables",
				     ni.present ? json_pack("{s:s, s:o}", "table", opt_nft_table, "serial",
							    ni.loaded ? json_integer((json_int_t)ni.serial) :
									json_null()) :
						  json_null(),
				     "totals", "judged", (json_int_t)t.judged, "allowed",
				     (json_int_t)t.allowed, "dropped", (json_int_t)t.dropped,
				     "would_drop", (json_int_t)t.would_drop));
	} else {
		printf("agent:       down (%s)\n", why);
		if (enforcing && sfd >= 0)
			printf("enforcement: active: the pinned policy, serial %llu (%s), keeps enforcing\n",
			       (unsigned long long)st.serial, opt_pin_dir);
		if (ni.loaded)
			printf("enforcement: active: table inet %s, serial %llu, keeps enforcing\n",
			       opt_nft_table, (unsigned long long)ni.serial);
		if (!enforcing)
			printf("enforcement: none (nothing pinned in %s, no table inet %s here)\n",
			       opt_pin_dir, opt_nft_table);
		if (sfd >= 0 || ni.present)
			printf("totals:      judged %llu  allowed %llu  dropped %llu  would-drop %llu\n",
			       (unsigned long long)t.judged, (unsigned long long)t.allowed,
			       (unsigned long long)t.dropped, (unsigned long long)t.would_drop);
	}
	if (sfd >= 0)
		close(sfd);
	return EXIT_DOWN;
}

static int cmd_status(int argc, char **argv)
{
	char why[256];
	int rc = simple_opts(argc, argv, "status");
	json_t *r, *p, *lp, *at, *t, *ev, *x;
	size_t i;

	if (rc)
		return rc;
	r = ask("status", NULL, why, sizeof(why));
	if (!r)
		return status_down(why);
	rc = strcmp(json_string_value(json_object_get(r, "health")) ?: "", "healthy") ? EXIT_DEGRADED : EXIT_OK;
	if (json_mode) {
		json_object_del(r, "ok");
		print_json(r);
		return rc;
	}
	p = json_object_get(r, "policy");
	lp = json_object_get(r, "last_push");
	at = json_object_get(r, "attachments");
	t = json_object_get(r, "totals");
	ev = json_object_get(r, "events");
	char up[32];

	fmt_duration(json_integer_value(json_object_get(r, "uptime_s")), up, sizeof(up));
	printf("agent:       running (pid %lld, up %s, version %s)\n",
	       (long long)json_integer_value(json_object_get(r, "pid")), up,
	       json_string_value(json_object_get(r, "version")));
	if (json_is_object(p))
		printf("policy:      %s serial %lld, %s, loaded %s\n             sha256 %s\n",
		       json_string_value(json_object_get(p, "name")),
		       (long long)json_integer_value(json_object_get(p, "serial")),
		       json_string_value(json_object_get(p, "mode")),
		       json_string_value(json_object_get(p, "loaded_at")),
		       json_string_value(json_object_get(p, "sha256")));
	else
		printf("policy:      none loaded\n");
	if (json_is_object(lp)) {
		printf("last push:   %s (%s) at %s\n", json_string_value(json_object_get(lp, "result")),
		       json_string_value(json_object_get(lp, "trigger")),
		       json_string_value(json_object_get(lp, "at")));
		json_array_foreach(json_object_get(lp, "errors"), i, x)
			printf("             %s\n", json_string_value(x));
	}
	const char *backend = json_string_value(json_object_get(r, "backend")) ?: "bpf";
	json_t *nft = json_object_get(r, "nftables");

	printf("backend:     %s\n", backend);
	if (strcmp(backend, "nftables")) {
		printf("attached:    %s%s at %s",
		       json_is_true(json_object_get(at, "cgroup_skb")) ? "cgroup_skb " : "",
		       json_is_true(json_object_get(at, "sock_addr")) ? "connect/sendmsg" : "",
		       json_string_value(json_object_get(at, "cgroup")));
		if (json_array_size(json_object_get(at, "tc"))) {
			printf("; tc on");
			json_array_foreach(json_object_get(at, "tc"), i, x)
				printf(" %s", json_string_value(x));
		}
		json_array_foreach(json_object_get(at, "tc_missing"), i, x)
			printf("; NOT on %s", json_string_value(x));
		printf("\n");
	}
	if (json_is_object(nft)) {
		printf("nftables:    table inet %s, ", json_string_value(json_object_get(nft, "table")));
		if (!json_is_true(json_object_get(nft, "present")))
			printf("missing");
		else if (json_is_integer(json_object_get(nft, "serial")))
			printf("serial %lld", (long long)json_integer_value(json_object_get(nft, "serial")));
		else
			printf("empty");
		printf("; drop reports on NFLOG group %lld%s\n",
		       (long long)json_integer_value(json_object_get(nft, "log_group")),
		       json_is_true(json_object_get(nft, "reports")) ? "" : " (not read)");
	}
	printf("totals:      judged %lld  allowed %lld  dropped %lld  would-drop %lld\n",
	       (long long)json_integer_value(json_object_get(t, "judged")),
	       (long long)json_integer_value(json_object_get(t, "allowed")),
	       (long long)json_integer_value(json_object_get(t, "dropped")),
	       (long long)json_integer_value(json_object_get(t, "would_drop")));
	printf("events:      sent %lld  lost %lld  suppressed %lld\n",
	       (long long)json_integer_value(json_object_get(ev, "sent")),
	       (long long)json_integer_value(json_object_get(ev, "lost")),
	       (long long)json_integer_value(json_object_get(ev, "suppressed")));
	json_array_foreach(json_object_get(r, "exceptions"), i, x) {
		char left[32];

		fmt_duration(json_integer_value(json_object_get(x, "seconds_left")), left, sizeof(left));
		printf("%s %s (%s) %s, expires %s%s%s%s\n", i ? "            " : "exceptions:",
		       json_string_value(json_object_get(x, "id")),
		       json_string_value(json_object_get(x, "class")),
		       json_string_value(json_object_get(x, "state")),
		       json_string_value(json_object_get(x, "expires")),
		       strcmp(json_string_value(json_object_get(x, "state")), "expired") ? " (" : "",
		       strcmp(json_string_value(json_object_get(x, "state")), "expired") ? left : "",
		       strcmp(json_string_value(json_object_get(x, "state")), "expired") ? " left)" : "");
	}
	printf("health:      %s", json_string_value(json_object_get(r, "health")));
	json_array_foreach(json_object_get(r, "health_reasons"), i, x)
		printf("%s%s", i ? ", " : ": ", json_string_value(x));
	printf("\n");
	json_decref(r);
	return rc;
}

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

static int cmd_counters(int argc, char **argv)
{
	char why[256], b1[32];
	int rc = simple_opts(argc, argv, "counters");
	json_t *r, *x;
	size_t i;

	if (rc)
		return rc;
	r = ask("counters", NULL, why, sizeof(why));
	if (!r) {
		/* the agent is down: the pinned counters, without names */
		int c = pinned_fd(DF_MAP_ID_COUNTERS), rl = pinned_fd(DF_MAP_ID_RULE_CNT);
		struct df_nft_opts no = { .table = opt_nft_table };
		struct df_nft_info ni = { 0 };
		json_t *cs, *rs;

		if (df_nft_info(&no, &ni))
			ni.present = false;
		if (c < 0 && !ni.present)
			return (usage_error("agent down (%s); nothing pinned in %s, no table inet %s here",
					    why, opt_pin_dir, opt_nft_table), EXIT_DOWN);
		cs = df_report_counters(c, NULL, NULL);
		rs = rl >= 0 ? df_report_rules(rl, NULL) : json_array();
		if (ni.present)
			df_report_nft(&no, NULL, &cs, &rs, NULL);
		r = json_pack("{s:b, s:o, s:o, s:b}", "ok", 1, "counters", cs, "rules", rs, "agent_down", 1);
		if (c >= 0)
			close(c);
		if (rl >= 0)
			close(rl);
	}
	if (json_mode) {
		json_object_del(r, "ok");
		print_json(r);
		return EXIT_OK;
	}
	printf("%-10s %-20s %-10s %-22s %12s %14s\n", "HOOK", "CLASS", "VERDICT", "REASON", "PACKETS", "BYTES");
	json_array_foreach(json_object_get(r, "counters"), i, x)
		printf("%-10s %-20s %-10s %-22s %12lld %14lld\n", json_string_value(json_object_get(x, "hook")),
		       json_is_null(json_object_get(x, "class")) ? "(none)" :
								    str_or(json_object_get(x, "class"), b1, sizeof(b1)),
		       json_string_value(json_object_get(x, "verdict")),
		       json_string_value(json_object_get(x, "reason")),
		       (long long)json_integer_value(json_object_get(x, "packets")),
		       (long long)json_integer_value(json_object_get(x, "bytes")));
	if (json_array_size(json_object_get(r, "rules"))) {
		printf("\n%-12s %-32s %12s %14s\n", "RULE", "NAME", "PACKETS", "BYTES");
		json_array_foreach(json_object_get(r, "rules"), i, x)
			printf("%-12s %-32s %12lld %14lld\n", json_string_value(json_object_get(x, "kind")),
			       str_or(json_object_get(x, "name"), b1, sizeof(b1)),
			       (long long)json_integer_value(json_object_get(x, "packets")),
			       (long long)json_integer_value(json_object_get(x, "bytes")));
	}
	json_decref(r);
	return EXIT_OK;
}

static int cmd_metrics(int argc, char **argv)
{
	char why[256];
	int rc = simple_opts(argc, argv, "metrics");
	json_t *r;

	if (rc)
		return rc;
	r = ask("metrics", NULL, why, sizeof(why));
	if (!r)
		return (usage_error("agent down: %s", why), EXIT_DOWN);
	fputs(json_string_value(json_object_get(r, "text")) ?: "", stdout);
	json_decref(r);
	return EXIT_OK;
}

static int cmd_reload(int argc, char **argv)
{
	char why[256];
	int rc = simple_opts(argc, argv, "reload");
	json_t *r, *x;
	size_t i;

	if (rc)
		return rc;
	r = ask("reload", NULL, why, sizeof(why));
	if (!r)
		return (usage_error("agent down: %s", why), EXIT_DOWN);
	rc = json_is_true(json_object_get(r, "ok")) ? EXIT_OK : EXIT_INVALID;
	if (json_mode) {
		print_json(r);
		return rc;
	}
	printf("reload: %s\n", json_string_value(json_object_get(r, "result")));
	json_array_foreach(json_object_get(r, "errors"), i, x)
		printf("  %s\n", json_string_value(x));
	json_decref(r);
	return rc;
}

/* "10m", "2h", "30s", "1d" -> seconds */
static int parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case 's': case '\0': break;
	case 'm': v *= 60; break;
	case 'h': v *= 3600; break;
	case 'd': v *= 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	*out = v;
	return 0;
}

static void print_drop(json_t *d)
{
	char cls[256] = "";
	size_t i, n = 0;
	json_t *c, *rule = json_object_get(d, "rule");

	json_array_foreach(json_object_get(d, "classes"), i, c)
		n += (size_t)snprintf(cls + n, sizeof(cls) - n, "%s%s", i ? "," : "",
				      json_is_string(c) ? json_string_value(c) : "?");
	bool v6 = !strcmp(json_string_value(json_object_get(d, "family")) ?: "", "ipv6");

	printf("%s %-10s %-4s %s%s%s:%lld -> %s%s%s:%lld %-20s class %s", json_string_value(json_object_get(d, "ts")),
	       json_string_value(json_object_get(d, "verdict")), json_string_value(json_object_get(d, "proto")),
	       v6 ? "[" : "", json_string_value(json_object_get(d, "src")), v6 ? "]" : "",
	       (long long)json_integer_value(json_object_get(d, "sport")), v6 ? "[" : "",
	       json_string_value(json_object_get(d, "dst")), v6 ? "]" : "",
	       (long long)json_integer_value(json_object_get(d, "dport")),
	       json_string_value(json_object_get(d, "reason")), cls);
	if (json_is_string(json_object_get(rule, "name")))
		printf(" rule %s", json_string_value(json_object_get(rule, "name")));
	if (json_object_get(d, "comm"))
		printf(" %s[%lld]", json_string_value(json_object_get(d, "comm")),
		       (long long)json_integer_value(json_object_get(d, "pid")));
	if (json_integer_value(json_object_get(d, "suppressed")))
		printf(" (+%lld earlier)", (long long)json_integer_value(json_object_get(d, "suppressed")));
	printf(" [%s]\n", json_string_value(json_object_get(d, "hook")));
}

/* The agent is down: the last records of the drop log instead. */
static json_t *drops_from_log(const char *path, const char *cls, long limit, char *why,
			      size_t whylen)
{
	FILE *f = fopen(path, "r");
	json_t *arr = json_array();
	char *line = NULL;
	size_t cap = 0;

	if (!f) {
		snprintf(why + strlen(why), whylen - strlen(why), "; no drop log %s: %s", path,
			 strerror(errno));
		json_decref(arr);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0) {
		json_t *rec = json_loads(line, 0, NULL);

		if (rec)
			df_drops_keep(arr, rec, cls, limit);
		json_decref(rec);
	}
	free(line);
	fclose(f);
	fprintf(stderr, "datafencectl: the agent is down; the last records of %s:\n", path);
	return json_pack("{s:b, s:o}", "ok", 1, "drops", arr);
}

static int cmd_drops(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' }, { "since", required_argument, NULL, 's' },
		{ "class", required_argument, NULL, 'c' }, { "limit", required_argument, NULL, 'n' },
		{ "log", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 }
	};
	const char *cls = NULL, *log = "/var/log/datafence/drops.jsonl";
	bool follow = false;
	int64_t since_s = -1;
	long limit = 100;
	json_int_t next_seq = 0;
	char why[256];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fs:c:n:l:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 's':
			if (parse_duration(optarg, &since_s))
				return usage_error("drops: bad --since \"%s\" (e.g. 30s, 10m, 2h, 1d)", optarg);
			break;
		case 'c': cls = optarg; break;
		case 'n': limit = strtol(optarg, NULL, 10); break;
		case 'l': log = optarg; break;
		case 'j': json_mode = true; break;
		case 'h': return -1;
		default: return usage_error("drops: bad option; try \"datafencectl help drops\"");
		}
	}
	for (int round = 0;; round++) {
		json_t *req = json_pack("{s:I, s:I}", "since_seq", next_seq, "limit", (json_int_t)limit);
		json_t *r, *d;
		size_t i;

		if (cls)
			json_object_set_new(req, "class", json_string(cls));
		r = ask("drops", req, why, sizeof(why));
		if (!r && round == 0 && !follow)
			r = drops_from_log(log, cls, limit, why, sizeof(why));
		if (!r)
			return (usage_error("agent down: %s", why), EXIT_DOWN);
		json_array_foreach(json_object_get(r, "drops"), i, d) {
			int64_t ts = 0;

			next_seq = json_integer_value(json_object_get(d, "seq")) + 1;
			if (since_s >= 0 && round == 0 &&
			    (df_time_parse(json_string_value(json_object_get(d, "ts")) ?: "", &ts) ||
			     ts < (int64_t)time(NULL) - since_s))
				continue;
			if (json_mode) {
				char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);

				puts(s);
				free(s);
			} else {
				print_drop(d);
			}
		}
		json_decref(r);
		fflush(stdout);
		if (!follow)
			return EXIT_OK;
		usleep(500000);
	}
}

static int cmd_unload(int argc, char **argv)
{
	static const struct option opts[] = { { "yes", no_argument, NULL, 'y' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	bool yes = false;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "yh", opts, NULL)) != -1) {
		if (c == 'y')
			yes = true;
		else if (c == 'h')
			return -1;
		else
			return usage_error("unload: bad option");
	}
	if (!yes)
		return usage_error("unload removes enforcement from this host: repeat with --yes");
	struct df_nft_opts no = { .table = opt_nft_table };
	struct df_nft_info ni = { 0 };

	err = df_loader_unload(opt_pin_dir);
	if (err) {
		fprintf(stderr, "datafencectl: unload %s: %s\n", opt_pin_dir, strerror(-err));
		return EXIT_INVALID;
	}
	printf("enforcement removed: hooks detached, %s unpinned\n", opt_pin_dir);
	if (!df_nft_info(&no, &ni) && ni.present) {
		err = df_nft_remove(&no);
		if (err) {
			fprintf(stderr, "datafencectl: unload: table inet %s: %s\n", opt_nft_table,
				strerror(-err));
			return EXIT_INVALID;
		}
		printf("enforcement removed: table inet %s deleted\n", opt_nft_table);
	}
	printf("(a running agent keeps running: stop it, or it loads again when restarted)\n");
	return EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
	if (json_mode)
		print_json(json_pack("{s:s}", "version", DF_VERSION));
	else
		printf("datafencectl %s\n", DF_VERSION);
	return EXIT_OK;
}

static int cmd_help(int argc, char **argv);

static const struct cmd cmds[] = {
	{ "check", cmd_check, "FILE... [--json] [--dump]",
	  "validate policy files and summarise what they compile to",
	  "  Parses, validates and compiles each FILE without touching the kernel.\n"
	  "  Errors and warnings print as FILE:LINE: error: MESSAGE with the source line.\n"
	  "  --json   one JSON object per file and line: {file, valid, diagnostics, summary}\n"
	  "  --dump   also print the compiled map images\n"
	  "  Exit: 0 every file valid, 1 some file invalid, 2 usage error.\n" },
	{ "test", cmd_test,
	  "[--policy FILE] --dst ADDR [--port N] [--proto P] (--class NAME | --cgroup PATH | --uid N | --mark N | --sport N | --src ADDR) [--at TIME] [--json]",
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
	  "  --json            {verdict, reason, classes, rule, reference, kernel | nftables |\n"
	  "                    emulator, agree}\n"
	  "  Exit: 0 judged, 1 policy invalid, 2 usage, 3 the two evaluators disagree.\n" },
	{ "status", cmd_status, "[--json]", "the agent, the policy, attachments, totals, health",
	  "  Asks the agent over its control socket; when the agent is down, reads the\n"
	  "  pinned maps and says whether the pinned policy still enforces.\n"
	  "  Exit: 0 healthy, 1 degraded (last push refused, interface not attached,\n"
	  "  no policy), 2 agent down.\n" },
	{ "counters", cmd_counters, "[--json]", "judged packets per hook, class, verdict, reason; per rule",
	  "  Sorted by packets. Alias: top. Without the agent: the pinned counters.\n" },
	{ "top", cmd_counters, "[--json]", "alias of counters", "" },
	{ "drops", cmd_drops, "[--follow] [--since DURATION] [--class NAME] [--limit N] [--log FILE] [--json]",
	  "recent drops and would-drops",
	  "  From the agent's memory of recent drop records (the drop log has them all).\n"
	  "  --follow    keep printing new ones (Ctrl-C stops)\n"
	  "  --since D   only the last D (30s, 10m, 2h, 1d)\n"
	  "  --log FILE  when the agent is down, read this drop log\n"
	  "              (default /var/log/datafence/drops.jsonl)\n"
	  "  --json      the drop log's JSON records, one per line\n" },
	{ "metrics", cmd_metrics, "", "Prometheus text exposition of every counter", "" },
	{ "reload", cmd_reload, "[--json]", "make the agent read the policy file again",
	  "  Exit: 0 accepted, 1 refused (the errors are printed), 2 agent down.\n" },
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
		     "  --socket PATH    the agent's control socket (default /run/datafence/control.sock)\n"
		     "  --pin-dir DIR    the pin directory (default /sys/fs/bpf/datafence)\n"
		     "  --nft-table NAME the nftables backend's inet table (default datafence), read\n"
		     "                   in this network namespace when the agent is down\n"
		     "  -h, --help       this help; \"datafencectl help COMMAND\" for one command\n"
		     "  -V, --version    print the version\n");
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
		return usage_error("unknown command \"%s\"; try \"datafencectl help\"", argv[1]);
	print_cmd_help(c);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	int i, rc;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json_mode = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cmd_help(1, argv);
		else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version"))
			return cmd_version(0, NULL);
		else if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			opt_socket = argv[++i];
		else if (!strcmp(argv[i], "--pin-dir") && i + 1 < argc)
			opt_pin_dir = argv[++i];
		else if (!strcmp(argv[i], "--nft-table") && i + 1 < argc)
			opt_nft_table = argv[++i];
		else
			return usage_error("unknown option \"%s\"; try \"datafencectl help\"", argv[i]);
	}
	if (i == argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	c = find_cmd(argv[i]);
	if (!c)
		return usage_error("unknown command \"%s\"; try \"datafencectl help\"", argv[i]);
	rc = c->fn(argc - i, argv + i);
	if (rc < 0) { /* the command's --help */
		print_cmd_help(c);
		rc = EXIT_OK;
	}
	return rc;
}
