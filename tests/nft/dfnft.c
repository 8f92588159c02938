// SPDX-License-Identifier: GPL-2.0-only
/* dfnft: the nftables backend as a command, for tests and debugging (the
 * agent is the real user): apply a policy, show what the table holds, its
 * counters, or remove it. Works in the current network namespace. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "nfttable.h"
#include "nftplan.h"
#include "policy.h"

static void on_counter(const char *name, uint64_t packets, uint64_t bytes, void *ctx)
{
	(void)ctx;
	printf("%s %llu %llu\n", name, (unsigned long long)packets, (unsigned long long)bytes);
}

static int usage(void)
{
	fprintf(stderr, "usage: dfnft [--table T] [--group G] [--cgroup-root DIR]\n"
			"             apply POLICY | info | counters | remove\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "group", required_argument, NULL, 'g' },
		{ "cgroup-root", required_argument, NULL, 'c' },
		{ 0 },
	};
	struct df_nft_opts o = { .log_group = DF_NFT_LOG_GROUP, .log_rate = DF_NFT_LOG_RATE };
	const char *cg_root = "/sys/fs/cgroup";
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			o.table = optarg;
		else if (c == 'g')
			o.log_group = (uint16_t)atoi(optarg);
		else if (c == 'c')
			cg_root = optarg;
		else
			return usage();
	}
	if (optind >= argc)
		return usage();
	if (!strcmp(argv[optind], "apply") && optind + 1 < argc) {
		struct df_diags d = { 0 };
		struct df_policy *p = NULL;
		struct df_image *img = NULL;
		struct df_nft_plan *pl = NULL;

		err = df_policy_load_file(argv[optind + 1], NULL, &p, &d, NULL);
		if (!err)
			err = df_compile(p, &img, &d);
		if (!err)
			err = df_nft_plan_build(p, img, &pl);
		if (!err)
			err = df_nft_apply(&o, p, pl, cg_root, NULL, &d);
		df_diags_print(&d, stderr, NULL);
		df_nft_plan_free(pl);
		df_image_free(img);
		df_policy_free(p);
		df_diags_free(&d);
		return err ? 1 : 0;
	}
	if (!strcmp(argv[optind], "info")) {
		struct df_nft_info info;

		err = df_nft_info(&o, &info);
		if (err) {
			fprintf(stderr, "dfnft: %s\n", strerror(-err));
			return 1;
		}
		printf("present %d loaded %d serial %llu sha256 %s policy %s\n", info.present,
		       info.loaded, (unsigned long long)info.serial, info.sha256, info.policy);
		return 0;
	}
	if (!strcmp(argv[optind], "counters"))
		return df_nft_counters(&o, on_counter, NULL) ? 1 : 0;
	if (!strcmp(argv[optind], "remove")) {
		err = df_nft_remove(&o);
		if (err)
			fprintf(stderr, "dfnft: %s\n", strerror(-err));
		return err ? 1 : 0;
	}
	return usage();
}
