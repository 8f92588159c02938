/* SPDX-License-Identifier: GPL-2.0-only */
/* The destination lookup tables of an image (tables.c): built from its
 * prefixes, read back the way the kernel reads them. */
#ifndef DF_TABLES_H
#define DF_TABLES_H

#include <stdint.h>

#include "compile.h"

/* From img's dst4/dst6: dleaves, stride4, rng6, dir6 and their cfg fields. */
int df_tables_build(struct df_image *img);

/* A destination prefix's leaf in img->dleaves: index + 1. */
uint32_t df_dleaf_index(const struct df_image *img, const struct df_leaf *leaf);

/* The IPv6 range tree walk as the kernel does it, from level lv0 and node
 * blk (the root: 0, 0) for the address (hi, lo): returns the range's value
 * (leaf index + 1, 0: no prefix) and, if path is not NULL, stores the node
 * read at each level. */
uint32_t df_rng6_walk(const struct df_image *img, uint64_t hi, uint64_t lo, uint32_t lv0,
		      uint32_t blk, uint32_t *path);
/* The same through the directory, as the kernel starts it. */
uint32_t df_rng6_lookup(const struct df_image *img, uint64_t hi, uint64_t lo);

#endif
