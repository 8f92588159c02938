// SPDX-License-Identifier: GPL-2.0-only
/* Policy parsing and validation: what the library accepts and how it reads
 * it. (Broken policies and their messages: tests/cli/test_cli.sh.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>

#include "datafence.h"
#include "policy.h"
#include "values.h"

static struct df_policy *parse_ok(const char *text, struct df_diags *d)
{
	struct df_policy *p = NULL;
	int err = df_policy_parse(text, strlen(text), "t.conf", NULL, &p, d);

	if (err)
		df_diags_print(d, stderr, text);
	assert_int_equal(err, 0);
	assert_non_null(p);
	return p;
}

static int parse_err(const char *text, struct df_diags *d)
{
	struct df_policy *p = NULL;
	int err = df_policy_parse(text, strlen(text), "t.conf", NULL, &p, d);

	assert_null(p);
	return err;
}

#define HDR "policy = { name = \"t\"; serial = 7; };\n"
#define CLS "classes = ( { name = \"a\"; match = { uids = ( 1001 ); }; } );\n"

static void example_policy_reads_as_written(void **state)
{
	struct df_parse_opts o = { .now = 1790000000 };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;

	assert_int_equal(df_policy_load_file("config/examples/us-storage.conf", &o, &p, &d, NULL), 0);
	assert_int_equal(d.errors, 0);
	assert_string_equal(p->name, "us-storage-prod");
	assert_int_equal(p->serial, 42);
	assert_int_equal(p->mode, DF_MODE_ENFORCE);
	assert_true(p->allow_loopback);
	assert_int_equal(p->n_classes, 2);
	assert_string_equal(p->classes[0].cgroups[0], "/us-data.slice");
	assert_int_equal(p->classes[0].uids[0], 1001);
	assert_int_equal(p->classes[0].marks[0].value, 0x100);
	assert_int_equal(p->classes[0].marks[0].mask, 0xf00);
	assert_int_equal(p->classes[0].mode, DF_MODE_ENFORCE);
	assert_int_equal(p->classes[1].mode, DF_MODE_AUDIT);
	assert_int_equal(p->classes[1].lports[0].lo, 8080);
	assert_int_equal(p->classes[1].lports[0].hi, 8089);
	assert_int_equal(p->n_dests, 3);
	assert_int_equal(p->dests[0].m.n_cidrs, 2);
	assert_int_equal(p->dests[0].m.cidrs[1].family, 6);
	assert_int_equal(p->dests[0].m.cidrs[1].plen, 48);
	assert_int_equal(p->dests[0].m.n_except, 1);
	assert_int_equal(p->dests[0].m.protos, DF_P_TCP | DF_P_UDP);
	assert_int_equal(p->dests[0].m.n_ports, 2);
	assert_int_equal(p->dests[0].m.ports[1].lo, 9000);
	assert_int_equal(p->dests[0].m.ports[1].hi, 9100);
	assert_int_equal(p->dests[0].allow, 3);
	/* ports without protocols: tcp, udp and sctp */
	assert_int_equal(p->dests[1].m.protos, DF_P_PORTED);
	assert_int_equal(p->n_excs, 1);
	assert_int_equal(p->excs[0].class_idx, 0);
	assert_int_equal(p->excs[0].not_before, 1793491200); /* 2026-11-01T00:00:00Z */
	assert_int_equal(p->excs[0].expires, 1798761599);
	df_policy_free(p);
	df_diags_free(&d);
}

static void no_protocols_means_any(void **state)
{
	struct df_diags d = { 0 };
	struct df_policy *p = parse_ok(HDR CLS "destinations = ( { name = \"d\"; cidrs = [\"10.0.0.0/8\"]; allow = [\"a\"]; } );", &d);

	assert_int_equal(p->dests[0].m.protos, DF_P_ANY);
	assert_int_equal(p->dests[0].m.n_ports, 0);
	df_policy_free(p);
	df_diags_free(&d);
}

static void scalars_stand_for_one_element_lists(void **state)
{
	struct df_diags d = { 0 };
	struct df_policy *p = parse_ok(HDR CLS "destinations = ( { name = \"d\"; cidrs = \"10.0.0.0/8\"; ports = 443; allow = \"a\"; } );", &d);

	assert_int_equal(p->dests[0].m.n_cidrs, 1);
	assert_int_equal(p->dests[0].m.ports[0].lo, 443);
	assert_int_equal(p->dests[0].allow, 1);
	df_policy_free(p);
	df_diags_free(&d);
}

static void sections_may_be_absent_or_empty(void **state)
{
	struct df_diags d = { 0 };
	struct df_policy *p = parse_ok(HDR, &d);

	assert_int_equal(p->n_classes + p->n_dests + p->n_excs, 0);
	assert_int_equal(p->mode, DF_MODE_ENFORCE);
	df_policy_free(p);
	p = parse_ok(HDR "classes = ( ); destinations = ( ); exceptions = ( );", &d);
	df_policy_free(p);
	df_diags_free(&d);
}

static void cgroup_paths_are_normalised(void **state)
{
	struct df_diags d = { 0 };
	struct df_policy *p = parse_ok(HDR "classes = ( { name = \"a\"; match = { cgroups = [\"//x.slice//y.service/\", \"/\"]; }; } );", &d);

	assert_string_equal(p->classes[0].cgroups[0], "/x.slice/y.service");
	assert_string_equal(p->classes[0].cgroups[1], "/");
	df_policy_free(p);
	df_diags_free(&d);
	assert_int_equal(parse_err(HDR "classes = ( { name = \"a\"; match = { cgroups = [\"/x/../y\"]; }; } );", &d), -EINVAL);
	assert_int_equal(d.errors, 1);
	df_diags_free(&d);
}

static int fake_users(const char *name, uint32_t *uid, void *ctx)
{
	if (strcmp(name, "objstore"))
		return -ENOENT;
	*uid = 4242;
	return 0;
}

static void user_names_resolve_through_the_resolver(void **state)
{
	const char *text = HDR "classes = ( { name = \"a\"; match = { uids = ( \"objstore\", \"17\", 3 ); }; } );";
	struct df_parse_opts o = { .resolve_user = fake_users };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;

	assert_int_equal(df_policy_parse(text, strlen(text), "t", &o, &p, &d), 0);
	assert_int_equal(p->classes[0].n_uids, 3);
	assert_int_equal(p->classes[0].uids[0], 4242);
	assert_int_equal(p->classes[0].uids[1], 17);
	assert_int_equal(p->classes[0].uids[2], 3);
	df_policy_free(p);
	/* without a resolver a name is an error, not a guess */
	assert_int_equal(parse_err(text, &d), -EINVAL);
	df_diags_free(&d);
}

static void warnings_do_not_refuse(void **state)
{
	const char *text = HDR CLS
		"destinations = ( { name = \"d\"; cidrs = [\"10.0.0.0/16\"]; except = [\"10.9.0.0/24\"]; allow = [\"a\"]; } );\n"
		"exceptions = ( { id = \"X-1\"; approved_by = \"s\"; reason = \"r\"; class = \"a\"; cidrs = [\"192.0.2.1/32\"]; expires = \"2020-01-01T00:00:00Z\"; } );\n";
	struct df_parse_opts o = { .now = 1790000000 };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;

	assert_int_equal(df_policy_parse(text, strlen(text), "t", &o, &p, &d), 0);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 2);
	assert_non_null(strstr(d.v[0].msg, "outside every cidr"));
	assert_int_equal(d.v[0].line, 3);
	assert_non_null(strstr(d.v[1].msg, "has already expired"));
	assert_int_equal(d.v[1].line, 4);
	df_policy_free(p);
	df_diags_free(&d);
}

static void nul_bytes_are_refused(void **state)
{
	static const char text[] = HDR "\0x";
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;

	assert_int_equal(df_policy_parse(text, sizeof(text) - 1, "t", NULL, &p, &d), -EINVAL);
	assert_int_equal(d.errors, 1);
	df_diags_free(&d);
}

/* libconfig 1.5 would read 202611291530 as 747828618: every integer is read
 * as written, or refused with its line. */
static void integers_read_as_written(void **state)
{
	static const struct {
		const char *serial;
		unsigned long long want; /* 0: refused */
	} cases[] = {
		{ "202611291530", 202611291530ULL }, { "3000000000", 3000000000ULL },
		{ "2147483647", 2147483647ULL },     { "2147483648L", 2147483648ULL },
		{ "9223372036854775807", 9223372036854775807ULL },
		{ "0x7fffffffffffffff", 9223372036854775807ULL },
		{ "9223372036854775808", 0 },       { "99999999999999999999", 0 },
		{ "0", 0 },                         { "-1", 0 },
	};
	char text[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct df_diags d = { 0 };
		struct df_policy *p;

		/* a comment and a string with digits stay as they are */
		snprintf(text, sizeof(text),
			 "# serial 4294967296\npolicy = { name = \"t-4294967296\"; serial = %s; };\n"
			 CLS "destinations = ( { name = \"d\"; cidrs = [\"10.0.0.0/8\"]; ports = ( 443 ); allow = [\"a\"]; } );\n",
			 cases[i].serial);
		if (cases[i].want) {
			p = parse_ok(text, &d);
			assert_int_equal(p->serial, cases[i].want);
			assert_string_equal(p->name, "t-4294967296");
			df_policy_free(p);
		} else {
			assert_int_not_equal(parse_err(text, &d), 0);
			assert_int_equal(d.v[0].line, 2);
		}
		df_diags_free(&d);
	}
}

/* The policy's own `expires` (verdict step 3a): read as written; refused
 * with its line when already past at a push. */
static void policy_expiry_reads_and_refuses_when_past(void **state)
{
	static const char fmt[] = "# a policy that ends\n"
				  "policy = { name = \"t\"; serial = 7;\n  expires = \"%s\"; };\n" CLS;
	struct df_parse_opts o = { .now = 1798761600 }; /* 2027-01-01 */
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), fmt, "2027-01-15T00:00:00Z");
	assert_int_equal(df_policy_parse(text, strlen(text), "t.conf", &o, &p, &d), 0);
	assert_int_equal(p->expires, 1798761600 + 14 * 86400);
	df_policy_free(p);
	df_diags_free(&d);
	p = NULL;
	snprintf(text, sizeof(text), fmt, "2026-12-31T23:59:59Z");
	assert_int_not_equal(df_policy_parse(text, strlen(text), "t.conf", &o, &p, &d), 0);
	assert_null(p);
	assert_int_equal(d.v[0].line, 3);
	assert_non_null(strstr(d.v[0].msg, "expired"));
	df_diags_free(&d);
	snprintf(text, sizeof(text), fmt, "tomorrow");
	assert_int_not_equal(parse_err(text, &d), 0);
	assert_int_equal(d.v[0].line, 3);
	df_diags_free(&d);
}

static void times_parse_strictly(void **state)
{
	int64_t t;

	assert_int_equal(df_time_parse("2026-11-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 1793491200);
	assert_int_equal(df_time_parse("2026-11-01T02:00:00+02:00", &t), 0);
	assert_int_equal(t, 1793491200);
	assert_int_equal(df_time_parse("2026-10-31T19:30:00.25-04:30", &t), 0);
	assert_int_equal(t, 1793491200);
	assert_int_equal(df_time_parse("2026-11-01T00:00:00", &t), -EINVAL); /* no zone */
	assert_int_equal(df_time_parse("2026-02-31T00:00:00Z", &t), -EINVAL);
	assert_int_equal(df_time_parse("2026-11-01T24:00:00Z", &t), -EINVAL);
	assert_int_equal(df_time_parse("2026-11-01T00:00:00Zjunk", &t), -EINVAL);
	assert_int_equal(df_time_parse("", &t), -EINVAL);
}

static void cidrs_parse_and_contain(void **state)
{
	struct df_cidr a, b;

	assert_int_equal(df_cidr_parse("10.0.0.0/8", &a), DF_CIDR_OK);
	assert_int_equal(df_cidr_parse("10.1.2.3", &b), DF_CIDR_OK);
	assert_int_equal(b.plen, 32);
	assert_true(df_cidr_contains(&a, &b));
	assert_int_equal(df_cidr_parse("10.0.0.0/33", &a), DF_CIDR_PLEN);
	assert_int_equal(df_cidr_parse("10.0.0.1/31", &a), DF_CIDR_HOSTBITS);
	assert_int_equal(df_cidr_parse("10.0.0.0/", &a), DF_CIDR_SYNTAX);
	assert_int_equal(df_cidr_parse("10.0.0.0/8x", &a), DF_CIDR_SYNTAX);
	assert_int_equal(df_cidr_parse("2001:db8::/32", &a), DF_CIDR_OK);
	assert_int_equal(df_cidr_parse("::/0", &b), DF_CIDR_OK);
	assert_true(df_cidr_contains(&b, &a));
	assert_false(df_cidr_contains(&a, &b));
	/* v4-mapped is judged as the IPv4 address it is */
	assert_int_equal(df_addr_parse("::ffff:10.1.2.3", &a), 0);
	df_addr_unmap(&a);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.addr[0], 10);
	assert_int_equal(a.addr[3], 3);
	df_cidr_parse("10.0.0.0/8", &b);
	assert_true(df_cidr_contains(&b, &a));
	/* families never contain each other */
	assert_int_equal(df_addr_parse("::a01:203", &a), 0);
	assert_false(df_cidr_contains(&b, &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example_policy_reads_as_written),
		cmocka_unit_test(no_protocols_means_any),
		cmocka_unit_test(scalars_stand_for_one_element_lists),
		cmocka_unit_test(sections_may_be_absent_or_empty),
		cmocka_unit_test(cgroup_paths_are_normalised),
		cmocka_unit_test(user_names_resolve_through_the_resolver),
		cmocka_unit_test(warnings_do_not_refuse),
		cmocka_unit_test(nul_bytes_are_refused),
		cmocka_unit_test(integers_read_as_written),
		cmocka_unit_test(policy_expiry_reads_and_refuses_when_past),
		cmocka_unit_test(times_parse_strictly),
		cmocka_unit_test(cidrs_parse_and_contain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
