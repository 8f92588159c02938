// SPDX-License-Identifier: GPL-2.0-only
/* The compiler: prefix merging, leaf sharing, capacity limits, and a golden
 * image of the shipped example (tests/golden/). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compile.h"
#include "policy.h"

static struct df_cidr C(const char *s)
{
	struct df_cidr c;

	assert_int_equal(df_cidr_parse(s, &c), DF_CIDR_OK);
	return c;
}

struct collected {
	char lines[32][96];
	int n;
};

static int collect(const struct df_cidr *key, const uint32_t *ids, size_t n, void *ctx)
{
	struct collected *c = ctx;
	char buf[DF_ADDRSTRLEN];
	int k;

	df_cidr_format(key, true, buf, sizeof(buf));
	k = snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s:", buf);
	for (size_t i = 0; i < n; i++)
		k += snprintf(c->lines[c->n] + k, sizeof(c->lines[0]) - (size_t)k, " %u", ids[i]);
	c->n++;
	return 0;
}

static void merge_keeps_covering_rules_and_carves_holes(void **state)
{
	struct df_contrib in[] = {
		{ C("10.1.0.0/16"), 1, false }, { C("10.0.0.0/8"), 0, false },
		{ C("10.1.2.0/24"), 0, true },	{ C("10.1.2.128/25"), 2, false },
		{ C("2001:db8::/32"), 0, false }, { C("10.0.0.0/8"), 3, false },
	};
	struct collected got = { 0 };

	assert_int_equal(df_prefix_merge(in, 6, 3, collect, &got), 0);
	assert_int_equal(got.n, 5);
	assert_string_equal(got.lines[0], "10.0.0.0/8: 0 3");
	assert_string_equal(got.lines[1], "10.1.0.0/16: 0 1 3");
	assert_string_equal(got.lines[2], "10.1.2.0/24: 1 3");     /* rule 0 excepted */
	assert_string_equal(got.lines[3], "10.1.2.128/25: 1 2 3"); /* still in 0's hole */
	assert_string_equal(got.lines[4], "2001:db8::/32: 0");
}

static struct df_policy *parse(const char *text)
{
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;

	if (df_policy_parse(text, strlen(text), "t", NULL, &p, &d))
		df_diags_print(&d, stderr, text);
	assert_non_null(p);
	df_diags_free(&d);
	return p;
}

/* A destination of many prefixes costs its entries once: leaves share them. */
static void equal_leaves_share_entries(void **state)
{
	size_t cap = 1 << 20, n = 0;
	char *text = malloc(cap);
	struct df_diags d = { 0 };
	struct df_image *img = NULL;
	struct df_policy *p;

	n += (size_t)snprintf(text + n, cap - n,
			      "policy = { name = \"t\"; serial = 1; };\n"
			      "classes = ( { name = \"a\"; match = { uids = (1); }; } );\n"
			      "destinations = ( { name = \"many\"; ports = (443, 8443); allow = [\"a\"]; cidrs = [");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s\"10.%d.%d.0/24\"", i ? ", " : "",
				      i / 256, i % 256);
	snprintf(text + n, cap - n, "]; } );\n");
	p = parse(text);
	assert_int_equal(df_compile(p, &img, &d), 0);
	assert_int_equal(img->n_dst4, 5000);
	assert_int_equal(img->n_leaves, 1);
	assert_int_equal(img->n_entries, 2);
	assert_int_equal(img->max_leaf_len, 2);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
}

/* More entries on one address than the datapath scans: refused, clearly. */
static void too_many_rules_on_one_address_is_e2big(void **state)
{
	size_t cap = 1 << 16, n = 0;
	char *text = malloc(cap);
	struct df_diags d = { 0 };
	struct df_image *img = NULL;
	struct df_policy *p;

	n += (size_t)snprintf(text + n, cap - n,
			      "policy = { name = \"t\"; serial = 1; };\n"
			      "classes = ( { name = \"a\"; match = { uids = (1); }; } );\n"
			      "destinations = (");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "%s{ name = \"d%d\"; cidrs = [\"10.0.0.0/%d\"]; ports = (%d, %d); allow = [\"a\"]; }",
				      i ? ", " : "", i, 8 + i % 20, 1 + i, 1000 + i);
	snprintf(text + n, cap - n, ");\n");
	p = parse(text);
	assert_int_equal(df_compile(p, &img, &d), -E2BIG);
	assert_null(img);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.v[0].msg, "policy exceeds map capacity: 66 rule entries"));
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
}

static void selectors_merge_per_key(void **state)
{
	struct df_policy *p = parse(
		"policy = { name = \"t\"; serial = 9; mode = \"audit\"; };\n"
		"classes = ( { name = \"a\"; mode = \"enforce\"; match = { uids = (5, 7); cgroups = [\"/x\"]; local_addrs = [\"10.0.0.0/8\"]; }; },\n"
		"            { name = \"b\"; match = { uids = (7); cgroups = [\"/x\"]; local_addrs = [\"10.1.0.0/16\"]; all = true; }; } );\n");
	struct df_diags d = { 0 };
	struct df_image *img = NULL;

	assert_int_equal(df_compile(p, &img, &d), 0);
	assert_int_equal(img->hdr.serial, 9);
	assert_int_equal(img->hdr.enforce_mask, 1);
	assert_int_equal(img->hdr.all_mask, 2);
	assert_int_equal(img->n_uids, 2);
	assert_int_equal(img->uids[0].uid, 5);
	assert_int_equal(img->uids[0].classes, 1);
	assert_int_equal(img->uids[1].uid, 7);
	assert_int_equal(img->uids[1].classes, 3);
	assert_int_equal(img->n_cgroups, 1);
	assert_int_equal(img->cgroups[0].classes, 3);
	assert_int_equal(img->n_src4, 2);
	assert_int_equal(img->src4[0].classes, 1);
	assert_int_equal(img->src4[1].classes, 3); /* 10.1/16 is inside 10/8 too */
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
}

/* The shipped example compiles to exactly tests/golden/us-storage.dump. */
static void example_image_matches_golden(void **state)
{
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	char *got = NULL, want[8192];
	size_t got_len = 0, want_len;
	FILE *f;

	assert_int_equal(df_policy_load_file("config/examples/us-storage.conf", NULL, &p, &d, NULL), 0);
	assert_int_equal(df_compile(p, &img, &d), 0);
	f = open_memstream(&got, &got_len);
	df_image_dump(img, p, f);
	fclose(f);
	f = fopen("tests/golden/us-storage.dump", "r");
	assert_non_null(f);
	want_len = fread(want, 1, sizeof(want) - 1, f);
	want[want_len] = '\0';
	fclose(f);
	if (strcmp(got, want))
		fprintf(stderr, "image differs from tests/golden/us-storage.dump; got:\n%s", got);
	assert_string_equal(got, want);
	free(got);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(merge_keeps_covering_rules_and_carves_holes),
		cmocka_unit_test(equal_leaves_share_entries),
		cmocka_unit_test(too_many_rules_on_one_address_is_e2big),
		cmocka_unit_test(selectors_merge_per_key),
		cmocka_unit_test(example_image_matches_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
