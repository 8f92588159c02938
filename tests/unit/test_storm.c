// SPDX-License-Identifier: GPL-2.0-only
/* A drop storm's summary (agent/storm.c): the distinct-destination
 * estimate (the kernel's HyperLogLog and the agent's share the hash), the
 * counts adding up, the senders told apart up to the table's size, the
 * summary record and its syslog line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events.h"
#include "storm.h"

static struct df_storm *new_storm(void)
{
	struct df_storm *s = malloc(sizeof(*s));

	assert_non_null(s);
	df_storm_reset(s, 1764500000ULL * 1000000000ULL);
	return s;
}

/* n distinct UDP destinations, as a scanner tries them */
static void scan(struct df_hll *h, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		__u64 lo = 0, hi = 0;
		__u32 a = 0x0a000000u + (__u32)(i / 60000);

		memcpy(&lo, &a, 4);
		df_hll_add(h, df_dst_hash(4 | 17 << 8 | (__u64)(1024 + i % 60000) << 16, lo, hi));
	}
}

static void the_estimate_is_near_the_distinct_count(void **state)
{
	static const uint64_t sizes[] = { 0, 1, 7, 100, 1000, 5000, 50000, 400000, 2000000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct df_hll h = { 0 };
		uint64_t n = sizes[i], e;

		scan(&h, n);
		e = df_hll_estimate(&h);
		print_message("%llu distinct: estimate %llu\n", (unsigned long long)n,
			      (unsigned long long)e);
		/* exact for a few, within 3 standard errors (3.25%) beyond */
		if (n <= 10)
			assert_true(e + 1 >= n && e <= n + 1);
		else
			assert_true(e >= n * 0.9 && e <= n * 1.1);
		/* the same destinations again change nothing */
		scan(&h, n);
		assert_int_equal(df_hll_estimate(&h), e);
	}
}

static void merged_estimates_count_the_union(void **state)
{
	struct df_hll a = { 0 }, b = { 0 };
	struct df_storm *s = new_storm();

	scan(&a, 30000);
	scan(&b, 60000); /* the first 30000 of them the same */
	df_storm_merge_hll(s, &a);
	df_storm_merge_hll(s, &b);
	assert_true(df_hll_estimate(&s->hll) >= 54000 && df_hll_estimate(&s->hll) <= 66000);
	free(s);
}

static struct df_event event(unsigned int slot, int reason, uint32_t pid, const char *comm,
			     uint8_t last_octet, uint16_t dport, uint32_t suppressed)
{
	struct df_event e = { .version = DF_EVENT_VERSION, .hook = DF_HOOK_SENDMSG,
			      .verdict = DF_DROP, .reason = (uint8_t)reason, .family = 4,
			      .proto = 17, .classes = 1ULL << slot, .dport = dport, .uid = 1000,
			      .cgroup_id = 42, .pid = pid, .suppressed = suppressed };

	e.daddr[0] = 10;
	e.daddr[1] = 99;
	e.daddr[3] = last_octet;
	memcpy(e.comm, comm, strlen(comm) < sizeof(e.comm) ? strlen(comm) : sizeof(e.comm));
	return e;
}

static void folded_records_add_up(void **state)
{
	struct df_storm *s = new_storm();
	struct df_event e[] = {
		event(0, DF_R_NO_DESTINATION, 100, "scanner", 1, 9, 0),
		event(0, DF_R_NO_DESTINATION, 100, "scanner", 1, 9, 4), /* + 4 of its flow */
		event(2, DF_R_PORT_NOT_ALLOWED, 200, "backup", 7, 22, 0),
	};
	json_t *j, *v;
	size_t i;
	json_int_t sum = 0;

	for (i = 0; i < 3; i++)
		df_storm_fold(s, &e[i]);
	assert_int_equal(df_storm_total(s), 7);
	assert_int_equal(s->folded, 7);
	j = df_storm_json(s, NULL, s->from_ns + 1000000000ULL, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "summary")), "drop-storm");
	assert_int_equal(json_integer_value(json_object_get(j, "schema")), DF_RECORD_SCHEMA);
	assert_int_equal(json_integer_value(json_object_get(j, "suppressed")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "folded")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "over_budget")), 0);
	json_array_foreach(json_object_get(j, "counts"), i, v)
		sum += json_integer_value(json_object_get(v, "drops"));
	assert_int_equal(sum, 7);
	/* the largest first; no policy: classes by slot */
	v = json_array_get(json_object_get(j, "counts"), 0);
	assert_int_equal(json_integer_value(json_object_get(v, "drops")), 6);
	assert_int_equal(json_integer_value(json_object_get(v, "class")), 0);
	assert_string_equal(json_string_value(json_object_get(v, "hook")), "sendmsg");
	assert_string_equal(json_string_value(json_object_get(v, "reason")), "no-destination");
	v = json_array_get(json_object_get(j, "processes"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "comm")), "scanner");
	assert_int_equal(json_integer_value(json_object_get(v, "drops")), 6);
	assert_int_equal(json_integer_value(json_object_get(j, "process_count")), 2);
	v = json_object_get(j, "destinations");
	assert_int_equal(json_integer_value(json_object_get(v, "distinct")), 2);
	v = json_array_get(json_object_get(v, "top"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "dst")), "10.99.0.1");
	assert_int_equal(json_integer_value(json_object_get(v, "dport")), 9);
	assert_string_equal(json_string_value(json_object_get(v, "proto")), "udp");
	assert_string_equal(json_string_value(json_object_get(j, "from")),
			    "2025-11-30T10:53:20.000000Z");
	{
		char line[1024];

		df_storm_line(j, line, sizeof(line));
		assert_non_null(strstr(line, "drop storm: 7 drops not recorded one by one"));
		assert_non_null(strstr(line, "class 0 reason no-destination hook sendmsg: 6"));
		assert_non_null(strstr(line, "top sender scanner[100] uid 1000"));
		assert_non_null(strstr(line, "about 2 distinct destinations"));
		assert_non_null(strstr(line, "top destination udp 10.99.0.1:9: 6"));
	}
	json_decref(j);
	free(s);
}

static void senders_beyond_the_table_are_counted_not_named(void **state)
{
	struct df_storm *s = new_storm();

	static const char comm[16] = "worker";

	for (uint32_t pid = 1; pid <= DF_STORM_PROCS + 476; pid++)
		df_storm_sender(s, 7, 0, pid, comm, 2);
	assert_int_equal(s->n_procs, DF_STORM_PROCS);
	assert_int_equal(s->procs_untold, 2 * 476);
	/* a known one still adds up */
	df_storm_sender(s, 7, 0, 1, comm, 5);
	for (size_t i = 0; i < 2 * DF_STORM_PROCS; i++)
		if (s->proc[i].used && s->proc[i].pid == 1)
			assert_int_equal(s->proc[i].drops, 7);
	free(s);
}

static void rows_out_of_range_are_ignored(void **state)
{
	struct df_storm *s = new_storm();

	df_storm_count(s, DF_STORM_HOOKS, 0, 0, 5);
	df_storm_count(s, 0, DF_MAX_CLASSES + 1, 0, 5);
	df_storm_count(s, 0, 0, DF_REASON__MAX, 5);
	assert_int_equal(df_storm_total(s), 0);
	df_storm_count(s, DF_HOOK__MAX, DF_MAX_CLASSES, DF_R_NO_DESTINATION, 3); /* nftables, no class */
	assert_int_equal(df_storm_total(s), 3);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_estimate_is_near_the_distinct_count),
		cmocka_unit_test(merged_estimates_count_the_union),
		cmocka_unit_test(folded_records_add_up),
		cmocka_unit_test(senders_beyond_the_table_are_counted_not_named),
		cmocka_unit_test(rows_out_of_range_are_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
