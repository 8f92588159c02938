// SPDX-License-Identifier: GPL-2.0-only
/* Prefix sets for the benchmarks (see sets.h). */
#include "sets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polgen.h"

void set_add(struct set *s, const struct df_cidr *c)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = *c;
}

/* BGP-like length mix: mostly /24 (v4) and /48 (v6), some shorter, some longer. */
void random_set(struct set *s, int family, size_t n, uint64_t seed)
{
	struct df_rng r = { seed };

	snprintf(s->name, sizeof(s->name), "random %zu %s", n, family == 4 ? "v4" : "v6");
	for (size_t i = 0; i < n; i++) {
		struct df_cidr c = { .family = (uint8_t)family };
		uint32_t k = df_rng_below(&r, 100);
		uint64_t a = df_rng_next(&r), b = df_rng_next(&r);

		memcpy(c.addr, &a, 8);
		memcpy(c.addr + 8, &b, 8);
		if (family == 4)
			c.plen = (uint8_t)(k < 15 ? 16 + df_rng_below(&r, 6) :
					   k < 30 ? 22 + df_rng_below(&r, 2) : k < 90 ? 24 : 25 + df_rng_below(&r, 8));
		else
			c.plen = (uint8_t)(k < 15 ? 32 : k < 35 ? 33 + df_rng_below(&r, 15) : k < 85 ? 48 :
					   49 + df_rng_below(&r, 16));
		df_cidr_mask(&c);
		set_add(s, &c);
	}
}

int file_set(struct set *s, const char *name, const char *path)
{
	char cmd[512], line[128];
	FILE *f;

	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(cmd, sizeof(cmd), "%s '%s'", strstr(path, ".gz") ? "zcat" : "cat", path);
	f = popen(cmd, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct df_cidr c;

		line[strcspn(line, "\r\n")] = '\0';
		if (df_cidr_parse(line, &c) == DF_CIDR_OK)
			set_add(s, &c);
	}
	return pclose(f) ? -EIO : 0;
}

