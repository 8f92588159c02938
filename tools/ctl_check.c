// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl check: validate policy files, summarise what they compile to. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "compile.h"
#include "ctl.h"
#include "policy.h"

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

/* Each class's mode: "a (enforce), b (audit)", or as JSON {"a": "enforce"}. */
static json_t *class_modes_json(const struct df_policy *p)
{
	json_t *m = json_object();

	for (size_t i = 0; i < p->n_classes; i++)
		json_object_set_new(m, p->classes[i].name,
				    json_string(df_mode_name(p->classes[i].mode)));
	return m;
}

static void print_class_modes(const struct df_policy *p)
{
	printf("  class modes:");
	for (size_t i = 0; i < p->n_classes; i++)
		printf("%s %s (%s)", i ? "," : "", p->classes[i].name,
		       df_mode_name(p->classes[i].mode));
	printf("%s\n", p->n_classes ? "" : " none");
}

static int check_one(const char *file, bool dump, bool strict)
{
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	char *text = NULL;
	int err = ctl_load_policy(file, &p, &img, &d, &text);

	if (ctl_json) {
		json_t *j = json_pack("{s:s, s:b, s:o}", "file", file, "valid", !err, "diagnostics",
				      ctl_diags_json(&d));

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
		if (!err)
			json_object_set_new(json_object_get(j, "summary"), "class_modes",
					    class_modes_json(p));
		json_object_set_new(j, "strict_failed", json_boolean(!err && strict && d.warnings));
		ctl_print_json(j);
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
			print_class_modes(p);
			if (strict && d.warnings)
				fprintf(stderr, "%s: --strict: %zu warning%s\n", file, d.warnings,
					d.warnings == 1 ? "" : "s");
			if (dump)
				df_image_dump(img, p, stdout);
		} else {
			fprintf(stderr, "%s: invalid: %zu error%s\n", file, d.errors,
				d.errors == 1 ? "" : "s");
		}
	}
	if (!err && strict && d.warnings)
		err = -EINVAL; /* CI pipelines: a warning fails too */
	df_diags_free(&d);
	df_image_free(img);
	df_policy_free(p);
	free(text);
	return err ? EXIT_INVALID : EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "dump", no_argument, NULL, 'd' },
					      { "strict", no_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	bool dump = false, strict = false;
	int c, rc = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jdsh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': ctl_json = true; break;
		case 'd': dump = true; break;
		case 's': strict = true; break;
		case 'h': return -1;
		default: return ctl_usage_error("check: bad option; try \"datafencectl help check\"");
		}
	}
	if (optind >= argc)
		return ctl_usage_error("check: no policy file given; try \"datafencectl help check\"");
	for (int i = optind; i < argc; i++) {
		int r = check_one(argv[i], dump, strict);

		if (r > rc)
			rc = r;
	}
	return rc;
}
