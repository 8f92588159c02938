// SPDX-License-Identifier: GPL-2.0-only
/* dfload: the loader library as a one-shot command for the live tests (the
 * agent will do the same and keep running):
 *   dfload load PIN_DIR CGROUP_DIR POLICY [IFNAME...]  attach/adopt, swap, exit
 *   dfload unload PIN_DIR                              remove enforcement
 * With interfaces, tc's next-hop helper device too (in this netns). */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "loader.h"
#include "nexthop.h"
#include "values.h"
#include "swap.h"

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "unload")) {
		int err = df_loader_unload(argv[2]);

		if (err)
			fprintf(stderr, "dfload: unload: %s\n", strerror(-err));
		return !!err;
	}
	if (argc < 5 || strcmp(argv[1], "load")) {
		fprintf(stderr, "usage: dfload load PIN_DIR CGROUP_DIR POLICY [IFNAME...] | unload PIN_DIR\n");
		return 2;
	}
	struct df_parse_opts po = { .resolve_user = df_resolve_user_nss, .now = time(NULL) };
	struct df_loader_opts lo = { .pin_dir = argv[2], .cgroup_path = argv[3], .cgroup_skb = true,
				     .sock_addr = true };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct df_loader *l = NULL;
	char *text = NULL;
	int err = df_policy_load_file(argv[4], &po, &p, &d, &text);

	if (!err)
		err = df_compile(p, &img, &d);
	if (!err)
		err = df_loader_open(&lo, &l);
	if (!err)
		err = df_loader_attach(l);
	for (int i = 5; !err && i < argc; i++)
		err = df_loader_attach_tc(l, (int)if_nametoindex(argv[i]));
	if (!err && argc > 5) { /* tc's next-hop check, as the agent sets it */
		int helper = 0;

		err = df_nh_helper_ensure(&helper);
		if (!err)
			err = df_loader_set_nh_helper(l, helper);
	}
	if (!err)
		err = df_loader_swap(l, img, &d);
	df_diags_print(&d, stderr, text);
	if (err)
		fprintf(stderr, "dfload: %s\n", strerror(-err));
	df_loader_close(l);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
	return !!err;
}
