/* SPDX-License-Identifier: GPL-2.0-only */
/* The reference evaluator (docs/semantics.md in C). */
#ifndef DF_REFEVAL_H
#define DF_REFEVAL_H

#include <stdint.h>

#include "verdict.h"

struct df_policy;

/* Reference evaluator: the verdict algorithm of docs/semantics.md, straight from the
 * parsed policy. */
uint64_t df_ref_classify(const struct df_policy *p, const struct df_packet *pkt);
void df_ref_verdict(const struct df_policy *p, const struct df_packet *pkt,
		    uint64_t classes, int64_t now, struct df_result *res);

#endif
