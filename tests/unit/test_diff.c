// SPDX-License-Identifier: GPL-2.0-only
/* Differential test: on random policies and packets, the compiled-table
 * emulator must agree with the reference evaluator on classes, verdict,
 * reason, rule and counter slot. DF_SEED replays a run; DF_DIFF_POLICIES
 * and DF_DIFF_PACKETS size it (defaults 150 x 10000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "diff.h"
#include "emulate.h"

static int emulator_judge(void *ctx, struct df_diff_case *c, struct df_result *want,
			  struct df_result *got)
{
	df_emu_verdict(c->emu, &c->pkt, df_emu_classify(c->emu, &c->pkt), c->now, got);
	return DF_DIFF_OK;
}

static void emulator_matches_reference(void **state)
{
	static const struct df_diff_subject emulator = {
		.name = "emulator", .compare = DF_DIFF_ALL, .judge = emulator_judge,
	};
	static const struct df_diff_opts o = {
		.name = "differential", .env_policies = "DF_DIFF_POLICIES",
		.env_packets = "DF_DIFF_PACKETS", .policies = 150, .packets = 10000, .salt = 0x5eed,
		.every_reason_from = 100000,
	};
	struct df_diff_stats st;

	assert_int_equal(df_diff_run(&o, &emulator, 1, NULL, &st), 0);
	/* the generator must reach audit classes too, or agreement means little */
	assert_true(st.judged < 100000 || st.verdicts[DF_WOULD_DROP] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emulator_matches_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
