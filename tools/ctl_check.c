// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl check: validate policy files, summarise what they compile to. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "ctl.h"
#include "policy.h"
#include "sshsig.h"
#include "state.h"

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

/* What the agent would require of a push (agent.conf's keys as options). */
struct approval_opts {
	const char *allowed_signers; /* NULL: signatures not checked */
	const char *signature;       /* the .sig (NULL: FILE.sig) */
	unsigned int required;       /* with allowed_signers: at least 1 */
	const char *scope;           /* NULL: scope not checked; "": a host without one */
	const char *state_dir;       /* NULL: serial not checked; else the agent's state_dir */
};

/* Signatures and scope as the agent checks them; errors into d, the
 * result into *j (JSON) or printed. */
static void approve(const char *file, const char *text, const struct df_policy *p,
		    const struct approval_opts *o, struct df_diags *d, json_t **j)
{
	char sig_path[4096], *sig = NULL, *as = NULL;
	struct df_signers ss = { 0 };
	struct df_sig_verdict v = { 0 };
	size_t sig_n = 0, as_n = 0;
	json_t *sigs = json_array();
	int err;

	*j = json_null();
	if (o->scope && p && !df_policy_in_scope(p, o->scope))
		df_diag_add(d, DF_SEV_ERROR, file, 0, NULL, "the policy is not for scope '%s'",
			    o->scope);
	if (o->state_dir && p) { /* the serial, as the agent of that state_dir would take it */
		struct df_saved saved;
		char why[300], sha[65];
		bool reset;

		df_sha256_hex(text, strlen(text), sha);
		err = df_saved_read(o->state_dir, &saved, why, sizeof(why));
		if (!err)
			err = df_serial_allowed(&saved, NULL, p->serial, sha, p->supersedes,
						o->allowed_signers && o->required, true, o->state_dir,
						&reset, why, sizeof(why));
		if (err)
			df_diag_add(d, DF_SEV_ERROR, file, 0, NULL, "%s", why);
	}
	if (!o->allowed_signers) {
		json_decref(sigs);
		return;
	}
	snprintf(sig_path, sizeof(sig_path), "%s%s", o->signature ? o->signature : file,
		 o->signature ? "" : ".sig");
	err = df_read_text(o->allowed_signers, DF_SIGNERS_MAX, &as, &as_n);
	if (err)
		df_diag_add(d, DF_SEV_ERROR, o->allowed_signers, 0, NULL, "cannot read: %s",
			    strerror(-err));
	else if (!df_signers_parse(as, as_n, o->allowed_signers, &ss, d)) {
		/* a .sig that is not there is none: "signature missing" */
		err = df_read_text(sig_path, DF_SIG_MAX_TEXT, &sig, &sig_n);
		if (err && err != -ENOENT)
			df_diag_add(d, DF_SEV_ERROR, sig_path, 0, NULL, "cannot read: %s",
				    strerror(-err));
		else
			df_sig_require(&(struct df_sig_require){
					       .text = text, .len = strlen(text), .sig = sig,
					       .sig_len = sig_n, .sig_file = sig_path, .signers = &ss,
					       .required = o->required, .now = (int64_t)time(NULL) },
				       &v, d);
	}
	for (size_t i = 0; i < v.n; i++)
		json_array_append_new(sigs, json_pack("{s:s, s:s?, s:s?}", "fingerprint",
						      v.v[i].fingerprint, "principals",
						      v.v[i].principals[0] ? v.v[i].principals : NULL,
						      "cause", v.v[i].cause[0] ? v.v[i].cause : NULL));
	json_decref(*j);
	*j = json_pack("{s:s, s:i, s:I, s:o}", "signature", sig_path, "required", o->required,
		       "counted", (json_int_t)v.counted, "signatures", sigs);
	df_signers_free(&ss);
	free(sig);
	free(as);
}

static void print_approval(json_t *ap)
{
	json_t *x;
	size_t i;

	if (!json_is_object(ap))
		return;
	printf("  signatures: %lld of %lld required valid (%s)",
	       (long long)json_integer_value(json_object_get(ap, "counted")),
	       (long long)json_integer_value(json_object_get(ap, "required")),
	       json_string_value(json_object_get(ap, "signature")));
	json_array_foreach(json_object_get(ap, "signatures"), i, x)
		if (json_is_null(json_object_get(x, "cause")))
			printf("%s%s %s", i ? ", " : "; by ",
			       json_string_value(json_object_get(x, "principals")),
			       json_string_value(json_object_get(x, "fingerprint")));
	printf("\n");
}

static int check_one(const char *file, bool dump, bool strict, const struct approval_opts *ao)
{
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	char *text = NULL;
	json_t *ap = NULL;
	int err = ctl_load_policy(file, &p, &img, &d, &text);

	if (text && (ao->allowed_signers || ao->scope || ao->state_dir)) {
		size_t before = d.errors;

		approve(file, text, p, ao, &d, &ap);
		if (d.errors != before && !err)
			err = -EPERM;
	}

	if (ctl_json) {
		json_t *j = json_pack("{s:s, s:b, s:o}", "file", file, "valid", !err, "diagnostics",
				      ctl_diags_json(&d, text));

		if (!err) {
			json_object_set_new(
				j, "summary",
				json_pack("{s:s, s:I, s:s, s:i, s:i, s:i, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i}}",
					  "name", p->name, "serial", (json_int_t)p->serial, "mode",
					  df_mode_name(p->mode), "classes", (int)p->n_classes,
					  "destinations", (int)p->n_dests, "exceptions",
					  (int)p->n_excs, "prefixes_v4",
					  (json_int_t)count_prefixes(p, 4), "prefixes_v6",
					  (json_int_t)count_prefixes(p, 6), "compiled", "prefixes_v4",
					  (json_int_t)img->n_dst4, "prefixes_v6", (json_int_t)img->n_dst6,
					  "leaves", (json_int_t)img->n_leaves, "entries",
					  (json_int_t)img->n_entries, "max_scan",
					  (json_int_t)img->max_leaf_len, "local_prefixes_v4", (json_int_t)img->n_src4,
					  "local_prefixes_v6", (json_int_t)img->n_src6, "uids",
					  (json_int_t)img->n_uids, "cgroups", (json_int_t)img->n_cgroups,
					  "marks", img->cfg.hdr.n_marks, "local_ports", img->cfg.hdr.n_lports));
		}
		if (!err)
			json_object_set_new(json_object_get(j, "summary"), "class_modes",
					    class_modes_json(p));
		json_object_set_new(j, "strict_failed", json_boolean(!err && strict && d.warnings));
		json_object_set_new(j, "approval", ap ? json_incref(ap) : json_null());
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
			print_approval(ap);
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
	json_decref(ap);
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
					      { "allowed-signers", required_argument, NULL, 'a' },
					      { "signature", required_argument, NULL, 'S' },
					      { "signatures-required", required_argument, NULL, 'n' },
					      { "scope", required_argument, NULL, 'c' },
					      { "state-dir", required_argument, NULL, 'D' },
					      { "offline", no_argument, NULL, 'o' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct approval_opts ao = { .required = 0 };
	bool dump = false, strict = false, n_given = false;
	int c, rc = EXIT_OK;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jdsh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': ctl_json = true; break;
		case 'd': dump = true; break;
		case 's': strict = true; break;
		case 'a': ao.allowed_signers = optarg; break;
		case 'S': ao.signature = optarg; break;
		case 'c': ao.scope = optarg; break;
		case 'D': ao.state_dir = optarg; break;
		case 'o': ctl_offline = true; break;
		case 'n':
			ao.required = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !*optarg || ao.required > DF_SIG_MAX_BLOCKS)
				return ctl_usage_error("check: --signatures-required is 0 to %d",
						       DF_SIG_MAX_BLOCKS);
			n_given = true;
			break;
		case 'h': return -1;
		default: return ctl_usage_error("check: bad option; try \"datafencectl help check\"");
		}
	}
	if (optind >= argc)
		return ctl_usage_error("check: no policy file given; try \"datafencectl help check\"");
	if ((n_given || ao.signature) && !ao.allowed_signers)
		return ctl_usage_error("check: --signatures-required and --signature need "
				       "--allowed-signers");
	if (ao.allowed_signers && !n_given)
		ao.required = 1;
	if (ao.signature && argc - optind > 1)
		return ctl_usage_error("check: --signature is for one policy file");
	for (int i = optind; i < argc; i++)
		if (!strcmp(argv[i], "-") && ao.allowed_signers && !ao.signature)
			return ctl_usage_error("check: standard input has no FILE.sig: give --signature");
	for (int i = optind; i < argc; i++) {
		int r = check_one(argv[i], dump, strict, &ao);

		if (r > rc)
			rc = r;
	}
	return rc;
}
