// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: the allowed_signers parser and the SSHSIG reader and
 * verifier. The input is an allowed_signers text, a NUL, a .sig text, a NUL,
 * the signed message (missing parts are empty). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *a = (const char *)data, *end = a + size;
	const char *sep1 = memchr(a, '\0', size);
	const char *s = sep1 ? sep1 + 1 : end;
	const char *sep2 = memchr(s, '\0', (size_t)(end - s));
	const char *m = sep2 ? sep2 + 1 : end;
	struct df_diags d = { 0 };
	struct df_signers ss = { 0 };
	struct df_sig_verdict v;

	df_signers_parse(a, sep1 ? (size_t)(sep1 - a) : size, "allowed_signers", &ss, &d);
	df_sshsig_verify(s, sep2 ? (size_t)(sep2 - s) : (size_t)(end - s), m, (size_t)(end - m), &ss,
			 1798761600, &v);
	if (v.counted > v.n || v.n > DF_SIG_MAX_BLOCKS)
		abort();
	df_signers_free(&ss);
	df_diags_free(&d);
	return 0;
}
