/* SPDX-License-Identifier: GPL-2.0-only */
/* Growable arrays for the compiler: capacity doubles, -ENOMEM on failure. */
#ifndef DF_GROW_H
#define DF_GROW_H

#include <errno.h>
#include <stdlib.h>

static inline int df_grow(void **v, size_t *cap, size_t need, size_t sz)
{
	void *t;
	size_t c = *cap ? *cap : 16;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	t = realloc(*v, c * sz);
	if (!t)
		return -ENOMEM;
	*v = t;
	*cap = c;
	return 0;
}

/* Appends val to arr[n] (capacity cap); 0 or -ENOMEM. */
#define DF_PUSH(arr, n, cap, val)                                                   \
	({                                                                          \
		int __e = df_grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))); \
		if (!__e)                                                           \
			(arr)[(n)++] = (val);                                       \
		__e;                                                                \
	})

#endif
