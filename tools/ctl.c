// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl's shared pieces (ctl.h). */
#include "ctl.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "loader.h"
#include "proto.h"
#include "status.h"
#include "values.h"

bool ctl_json;
const char *opt_socket = DF_CONTROL_SOCKET;
const char *opt_pin_dir = DF_PIN_DIR;
const char *opt_nft_table = DF_NFT_TABLE;

void ctl_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);

	if (s) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

int ctl_usage_error(const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (ctl_json)
		ctl_print_json(json_pack("{s:s}", "error", msg ? msg : "usage error"));
	else
		fprintf(stderr, "datafencectl: %s\n", msg ? msg : "usage error");
	free(msg);
	return EXIT_USAGE;
}

int ctl_simple_opts(int argc, char **argv, const char *name)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j')
			ctl_json = true;
		else if (c == 'h')
			return -1;
		else
			return ctl_usage_error("%s: bad option; try \"datafencectl help %s\"", name, name);
	}
	if (optind < argc)
		return ctl_usage_error("%s: unexpected argument \"%s\"", name, argv[optind]);
	return 0;
}

json_t *ctl_diags_json(const struct df_diags *d, const char *source)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct df_diag *x = &d->v[i];
		int col = df_diag_column(x, source);

		json_array_append_new(a, json_pack("{s:s, s:i, s:o, s:s, s:s}", "file",
						   x->file ? x->file : "-", "line", x->line,
						   "column", col > 0 ? json_integer(col) : json_null(),
						   "severity", df_sev_name(x->sev), "message",
						   x->msg ? x->msg : ""));
	}
	return a;
}

json_t *ctl_ask(const char *cmd, json_t *extra, char *why, size_t whylen)
{
	json_t *req = extra ? extra : json_object();
	json_t *resp;

	json_object_set_new(req, "cmd", json_string(cmd));
	resp = df_ctl_request(opt_socket, req, 5000, why, whylen);
	json_decref(req);
	/* an answer without "ok" true is not an answer to the command: busy,
	 * not permitted, not understood (a refused reload says its result) */
	if (resp && !json_is_true(json_object_get(resp, "ok")) &&
	    !json_object_get(resp, "result")) {
		const char *e = json_string_value(json_object_get(resp, "error"));

		if (ctl_json)
			ctl_print_json(json_pack("{s:s}", "error", e ? e : "no \"ok\" in the answer"));
		else
			fprintf(stderr, "datafencectl: the agent refused the request: %s\n",
				e ? e : "no \"ok\" in the answer");
		exit(EXIT_REFUSED);
	}
	return resp;
}

struct df_backend_conf ctl_backend_conf(char *cgroot, size_t len)
{
	if (df_cgroup2_root(cgroot, len))
		cgroot[0] = '\0';
	return (struct df_backend_conf){ .pin_dir = opt_pin_dir, .nft_table = opt_nft_table,
					 .cgroot = cgroot };
}

json_t *ctl_status(void)
{
	char why[256], cgroot[512];
	struct df_backend_conf c;
	struct df_backends bs;
	json_t *st = ctl_ask(DF_CMD_STATUS, NULL, why, sizeof(why));

	if (st) {
		json_object_del(st, "ok");
		return st;
	}
	/* the agent is down: what this host holds, in the same shape */
	c = ctl_backend_conf(cgroot, sizeof(cgroot));
	df_backends_probe(NULL, 0, &c, &bs);
	st = df_status_json(NULL, why, &bs);
	if (!bs.n && access(opt_pin_dir, F_OK)) { /* nothing of ours is held */
		json_array_append_new(json_object_get(st, "health_reasons"),
				      json_sprintf("pins missing: %s is gone", opt_pin_dir));
		json_object_set_new(st, "health", json_string("degraded"));
	}
	df_backends_close(&bs);
	return st;
}

bool ctl_offline;

int ctl_load_policy(const char *file, struct df_policy **p, struct df_image **img,
		    struct df_diags *d, char **text)
{
	struct df_parse_opts o = { .resolve_user = ctl_offline ? NULL : df_resolve_user_nss,
				   .offline = ctl_offline, .now = (int64_t)time(NULL) };
	size_t len;
	int err;

	*img = NULL;
	if (!strcmp(file, "-")) { /* standard input: diagnostics name it "-" */
		*p = NULL;
		err = df_read_text("/dev/stdin", (size_t)-2, text, &len);
		if (err)
			df_diag_add(d, DF_SEV_ERROR, file, 0, NULL, "cannot read standard input: %s",
				    strerror(-err));
		else
			err = df_policy_parse(*text, len, file, &o, p, d);
	} else {
		err = df_policy_load_file(file, &o, p, d, text);
	}
	if (err)
		return err;
	err = df_compile(*p, img, d);
	if (err) {
		df_policy_free(*p);
		*p = NULL;
	}
	return err;
}
