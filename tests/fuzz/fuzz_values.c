// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: the value parsers used by the policy and the CLI
 * (CIDRs, addresses, RFC 3339 times, protocol names). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "values.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);
	struct df_cidr c;
	char buf[DF_ADDRSTRLEN];
	int64_t t;
	uint8_t proto;

	if (!s)
		return 0;
	if (df_cidr_parse(s, &c) == DF_CIDR_OK) {
		df_cidr_format(&c, true, buf, sizeof(buf));
		struct df_cidr back;

		/* what we print parses back to the same prefix */
		if (df_cidr_parse(buf, &back) != DF_CIDR_OK || back.plen != c.plen ||
		    memcmp(back.addr, c.addr, 16))
			abort();
	}
	if (!df_addr_parse(s, &c))
		df_addr_unmap(&c);
	if (!df_time_parse(s, &t))
		df_time_format(t, buf, sizeof(buf));
	df_proto_parse(s, &proto);
	free(s);
	return 0;
}
