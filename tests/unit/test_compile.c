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
#include "polgen.h"
#include "verdict.h"
#include "refeval.h"
#include "emulate.h"
#include "tables.h"

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
	assert_int_equal(d.v[0].line, 3); /* the rule that went over, not line 0 */
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
	assert_int_equal(img->cfg.hdr.serial, 9);
	assert_int_equal(img->cfg.hdr.enforce_mask, 1);
	assert_int_equal(img->cfg.hdr.all_mask, 2);
	/* the selector map's keys and values, as the kernel reads them */
	assert_int_equal(img->n_uids, 2);
	assert_int_equal(img->uid_keys[0].kind, DF_SEL_UID);
	assert_int_equal(img->uid_keys[0].uid, 5);
	assert_int_equal(img->uid_keys[0].cgroup_id, 0);
	assert_int_equal(img->uid_classes[0], 1);
	assert_int_equal(img->uid_keys[1].uid, 7);
	assert_int_equal(img->uid_classes[1], 3);
	assert_int_equal(img->n_cgroups, 1);
	assert_int_equal(img->cgroups[0].classes, 3);
	/* the source trie's keys: family byte first, its 8 bits in the length */
	assert_int_equal(img->n_src, 2);
	assert_int_equal(img->n_src4, 2);
	assert_int_equal(img->src_keys[0].family, 4);
	assert_int_equal(img->src_keys[0].prefixlen, 8 + 8);
	assert_int_equal(img->src_keys[0].addr[0], 10);
	assert_int_equal(img->src_classes[0], 1);
	assert_int_equal(img->src_keys[1].prefixlen, 8 + 16);
	assert_int_equal(img->src_classes[1], 3); /* 10.1/16 is inside 10/8 too */
	/* the configuration element */
	assert_int_equal(img->cfg.flags, DF_CFG_HAS_SRC | DF_CFG_HAS_SEL);
	assert_int_equal(img->cfg.max_cg_level, 1);
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

/* Many nested IPv6 prefixes make a range tree of several levels: its
 * lookups (the emulator reads it as the kernel does) must match the
 * reference evaluator everywhere, at the edges of every prefix too. */
static void ipv6_range_tree_answers_longest_match(void **state)
{
	size_t cap = 1 << 22, n = 0;
	char *text = malloc(cap);
	struct df_rng r = { 42 };
	struct df_diags d = { 0 };
	struct df_image *img = NULL;
	struct df_policy *p;
	struct df_emu *emu;

	n += (size_t)snprintf(text + n, cap - n,
			      "policy = { name = \"t\"; serial = 1; };\n"
			      "classes = ( { name = \"a\"; match = { uids = (1); }; } );\n"
			      "destinations = (");
	for (int dst = 0; dst < 4; dst++) {
		n += (size_t)snprintf(text + n, cap - n, "%s{ name = \"d%d\"; ports = (%d); allow = [\"a\"]; cidrs = [",
				      dst ? ", " : "", dst, 1000 + dst);
		for (int i = 0; i < 1500; i++) {
			/* nested under a few /32s, lengths 32..128 */
			unsigned plen = 32 + df_rng_below(&r, 97);
			struct df_cidr c = { .family = 6, .plen = (uint8_t)plen };
			char b[DF_ADDRSTRLEN];

			c.addr[0] = 0x20;
			c.addr[1] = 0x01;
			c.addr[2] = (uint8_t)df_rng_below(&r, 3);
			c.addr[3] = (uint8_t)df_rng_below(&r, 4);
			c.addr[4] = (uint8_t)df_rng_next(&r);
			for (int k = 5; k < 16; k++)
				c.addr[k] = (uint8_t)(df_rng_below(&r, 4) ? 0 : df_rng_next(&r));
			df_cidr_mask(&c);
			df_cidr_format(&c, true, b, sizeof(b));
			n += (size_t)snprintf(text + n, cap - n, "%s\"%s\"", i ? ", " : "", b);
		}
		n += (size_t)snprintf(text + n, cap - n, "]; }");
	}
	snprintf(text + n, cap - n, ");\n");
	p = parse(text);
	assert_int_equal(df_compile(p, &img, &d), 0);
	fprintf(stderr, "ipv6: %zu prefixes, %zu ranges, %u levels\n", img->n_dst6, img->n_ranges6, img->cfg.rng_levels);
	assert_true(img->cfg.rng_levels >= 3);
	emu = df_emu_new(img);
	for (int i = 0; i < 20000; i++) {
		struct df_packet pkt = { .proto = 6, .uid = 1 };
		const struct df_dest *dd = &p->dests[df_rng_below(&r, 4)];
		struct df_cidr c = dd->m.cidrs[df_rng_below(&r, (uint32_t)dd->m.n_cidrs)];
		struct df_result ref, emr;

		/* inside the prefix, at its first or last address, or just past it */
		for (int k = c.plen; k < 128; k++)
			if (i % 3 == 0 || (i % 3 == 1 && df_rng_below(&r, 2)))
				c.addr[k / 8] |= (uint8_t)(0x80 >> (k % 8));
		c.plen = 128;
		pkt.dst = c;
		df_addr_parse("fd00::1", &pkt.src);
		pkt.dport = (uint16_t)(1000 + df_rng_below(&r, 4));
		df_ref_verdict(p, &pkt, 1, 0, &ref);
		df_emu_verdict(emu, &pkt, 1, 0, &emr);
		if (ref.reason != emr.reason || ref.rule != emr.rule) {
			char a[DF_ADDRSTRLEN];

			df_cidr_format(&c, false, a, sizeof(a));
			fprintf(stderr, "%s port %u: reference %s rule %d, range tree %s rule %d\n", a,
				pkt.dport, df_reason_name(ref.reason), ref.rule,
				df_reason_name(emr.reason), emr.rule);
			fail();
		}
	}
	df_emu_free(emu);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
}

/* The directory in front of the IPv6 tree must only shorten walks: for
 * prefixes spread over the whole space (slots of every kind: one range,
 * a start below the root, the root), a lookup through it equals the walk
 * from the root, at slot edges, prefix edges and random addresses. */
static void ipv6_directory_equals_walk_from_root(void **state)
{
	size_t cap = 1 << 22, n = 0, kinds[3] = { 0 };
	char *text = malloc(cap);
	struct df_rng r = { 7 };
	struct df_diags d = { 0 };
	struct df_image *img = NULL;
	struct df_policy *p;
	uint64_t edges[4000][2];

	(void)state;
	n += (size_t)snprintf(text + n, cap - n,
			      "policy = { name = \"t\"; serial = 1; };\n"
			      "classes = ( { name = \"a\"; match = { uids = (1); }; } );\n"
			      "destinations = ( { name = \"d\"; ports = (1); allow = [\"a\"]; cidrs = [");
	for (int i = 0; i < 4000; i++) {
		struct df_cidr c = { .family = 6, .plen = (uint8_t)(8 + df_rng_below(&r, 121)) };
		uint64_t a = df_rng_next(&r), b = df_rng_next(&r);
		char buf[DF_ADDRSTRLEN];

		if (i % 4 == 0) /* some clustered, so that slots hold many ranges */
			a = (a & 0xffffffffULL) | 0x20010db800000000ULL;
		for (int k = 0; k < 8; k++) {
			c.addr[k] = (uint8_t)(a >> (56 - 8 * k));
			c.addr[8 + k] = (uint8_t)(b >> (56 - 8 * k));
		}
		df_cidr_mask(&c);
		edges[i][0] = 0;
		for (int k = 0; k < 8; k++)
			edges[i][0] = edges[i][0] << 8 | c.addr[k];
		edges[i][1] = 0;
		for (int k = 8; k < 16; k++)
			edges[i][1] = edges[i][1] << 8 | c.addr[k];
		df_cidr_format(&c, true, buf, sizeof(buf));
		n += (size_t)snprintf(text + n, cap - n, "%s\"%s\"", i ? ", " : "", buf);
	}
	snprintf(text + n, cap - n, "]; } );\n");
	p = parse(text);
	assert_int_equal(df_compile(p, &img, &d), 0);
	assert_true(img->cfg.rng_levels >= 3);
	assert_true(img->cfg.rng_dir_bits > 0);
	for (uint64_t s = 0; s < 1ULL << img->cfg.rng_dir_bits; s++) {
		uint32_t e = img->dir6[s];

		kinds[(e & DF_DIR_FINAL) ? 0 : (e >> DF_DIR_LEVEL_SHIFT) ? 1 : 2]++;
	}
	fprintf(stderr, "directory: %u bits; slots: %zu one range, %zu below the root, %zu at the root\n",
		img->cfg.rng_dir_bits, kinds[0], kinds[1], kinds[2]);
	assert_true(kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0);
	for (int i = 0; i < 200000; i++) {
		uint64_t hi = df_rng_next(&r), lo = df_rng_next(&r);
		int bits = (int)img->cfg.rng_dir_bits;

		if (i % 4 == 1) { /* a slot's first or last address */
			hi = i % 8 == 1 ? hi >> (64 - bits) << (64 - bits) : hi | (~0ULL >> bits);
			lo = i % 8 == 1 ? 0 : ~0ULL;
		} else if (i % 4 == 2) { /* a prefix's first address, or the one before */
			hi = edges[i % 4000][0];
			lo = edges[i % 4000][1];
			if (i % 8 == 2 && !lo--)
				hi--;
		}
		assert_int_equal(df_rng6_lookup(img, hi, lo), df_rng6_walk(img, hi, lo, 0, 0, NULL));
	}
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(merge_keeps_covering_rules_and_carves_holes),
		cmocka_unit_test(equal_leaves_share_entries),
		cmocka_unit_test(too_many_rules_on_one_address_is_e2big),
		cmocka_unit_test(selectors_merge_per_key),
		cmocka_unit_test(example_image_matches_golden),
		cmocka_unit_test(ipv6_range_tree_answers_longest_match),
		cmocka_unit_test(ipv6_directory_equals_walk_from_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
