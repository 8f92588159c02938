// SPDX-License-Identifier: GPL-2.0-only
/* datafenced: the agent. For now it validates and compiles the policy it is
 * given and exits; loading, watching and reporting land with the
 * "datafenced" issue. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "policy.h"
#include "datafence.skel.h"

#define DF_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: datafenced [--check-policy FILE] [--help] [--version]\n"
		"  --check-policy FILE  parse, validate and compile FILE, then exit\n"
		"The daemon loop (load, watch, report) is not implemented yet.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "check-policy", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { 0 } };
	const char *policy = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': policy = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("datafenced %s\n", DF_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!policy) {
		usage(stderr);
		return 2;
	}
	struct df_parse_opts o = { .resolve_user = df_resolve_user_nss, .now = time(NULL) };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	char *text = NULL;
	int err = df_policy_load_file(policy, &o, &p, &d, &text);

	if (!err)
		err = df_compile(p, &img, &d);
	df_diags_print(&d, stderr, text);
	if (!err)
		printf("%s: policy '%s' serial %llu compiles to %zu+%zu prefixes\n", policy,
		       p->name, (unsigned long long)p->serial, img->n_dst4, img->n_dst6);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
	return err ? 1 : 0;
}
