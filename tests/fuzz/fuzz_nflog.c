// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: the nftables backend's drop reports as the agent reads
 * them from the kernel (an NFLOG prefix and the first bytes of a packet),
 * turned into drop events under a policy; and the counter names read back
 * from the table. Input: a prefix line, then the packet's bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nftnames.h"
#include "nflog.h"
#include "policy.h"

static struct df_policy *pol;

static const char policy_text[] =
	"policy = { name = \"f\"; serial = 7; };\n"
	"classes = ( { name = \"a\"; match = { uids = (1); }; }, { name = \"b\"; mode = \"audit\"; match = { marks = [\"0x1\"]; }; } );\n"
	"destinations = ( { name = \"d\"; cidrs = [\"10.0.0.0/8\", \"2001:db8::/32\"]; ports = (443); allow = [\"a\"]; } );\n"
	"exceptions = ( { id = \"X\"; approved_by = \"s\"; reason = \"r\"; class = \"a\"; cidrs = [\"192.0.2.0/24\"];\n"
	"  not_before = \"2026-01-01T00:00:00Z\"; expires = \"2027-01-01T00:00:00Z\"; } );\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct df_nflog_rec r = { .family = 2, .has_uid = size & 1, .uid = 1, .mark = 1 };
	struct df_event e;
	size_t plen = nl ? (size_t)(nl - data) : size;
	int slot, v, reason, rule;

	if (!pol) {
		struct df_diags d = { 0 };

		if (df_policy_parse(policy_text, sizeof(policy_text) - 1, "f.conf", NULL, &pol, &d))
			abort();
		df_diags_free(&d);
	}
	if (plen >= sizeof(r.prefix))
		plen = sizeof(r.prefix) - 1;
	memcpy(r.prefix, data, plen);
	r.prefix[plen] = '\0';
	r.payload = nl ? nl + 1 : data + size;
	r.len = nl ? size - (size_t)(nl - data) - 1 : 0;
	if (!df_nflog_event(&r, pol, 1, &e)) {
		/* what it accepted is one of ours: a verdict, a reason, a class */
		if (e.verdict > 2 || e.reason >= DF_REASON__MAX || (e.family != 4 && e.family != 6))
			abort();
	}
	/* counter names: what parses prints back the same */
	if (df_nft_counter_parse(r.prefix, &slot, &v, &reason, &rule) == 0) {
		char back[96];

		df_nft_counter_name(back, sizeof(back), slot, v, reason);
		if (strcmp(back, r.prefix))
			abort();
	}
	if (df_nft_fast_parse(r.prefix, &slot, &rule) == 0) {
		char back[96];

		df_nft_fast_name(back, sizeof(back), slot, rule);
		if (strcmp(back, r.prefix))
			abort();
	}
	return 0;
}
