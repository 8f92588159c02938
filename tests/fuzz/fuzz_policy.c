// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: policy text -> parse -> compile -> emulate, and the
 * diagnostics printer over the same text. Built with ASan+UBSan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "policy.h"
#include "verdict.h"
#include "refeval.h"
#include "emulate.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct df_parse_opts o = { .now = 1790000000 };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	char *text;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	text = strndup((const char *)data, size);
	if (!text)
		return 0;
	if (!df_policy_parse((const char *)data, size, "fuzz", &o, &p, &d) &&
	    !df_compile(p, &img, &d)) {
		struct df_emu *e = df_emu_new(img);
		struct df_packet pkt = { .proto = 6, .dport = 443, .uid = 1001, .cgroup = "/a/b" };
		struct df_result r1, r2;

		/* a few packets from the policy's own addresses */
		for (size_t i = 0; e && i < p->n_dests && i < 8; i++) {
			pkt.dst = p->dests[i].m.cidrs[0];
			pkt.dst.plen = pkt.dst.family == 4 ? 32 : 128;
			df_addr_parse("10.0.0.1", &pkt.src);
			df_ref_verdict(p, &pkt, df_ref_classify(p, &pkt), o.now, &r1);
			df_emu_verdict(e, &pkt, df_emu_classify(e, &pkt), o.now, &r2);
			if (r1.verdict != r2.verdict || r1.reason != r2.reason || r1.rule != r2.rule)
				abort(); /* the evaluators disagree: a bug */
		}
		df_emu_free(e);
		df_image_dump(img, p, devnull);
	}
	df_diags_print(&d, devnull, text);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
	free(text);
	return 0;
}
