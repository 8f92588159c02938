// SPDX-License-Identifier: GPL-2.0-only
/* polgen: prints a random policy (the generator of the differential tests),
 * so a failing seed can be inspected with datafencectl. */
#include <stdio.h>
#include <stdlib.h>

#include "polgen.h"

int main(int argc, char **argv)
{
	char *text;

	if (argc != 2) {
		fprintf(stderr, "Usage: polgen SEED\n");
		return 2;
	}
	text = df_polgen_policy(strtoull(argv[1], NULL, 0));
	fputs(text, stdout);
	free(text);
	return 0;
}
