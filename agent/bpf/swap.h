/* SPDX-License-Identifier: GPL-2.0-only */
/* The BPF backend's atomic policy swap (swap.c). */
#ifndef DF_SWAP_H
#define DF_SWAP_H

#include "compile.h"
#include "diag.h"

struct df_loader;

/* Copies a compiled image into the inactive generation's maps (cgroup
 * selectors resolved to ids now; a missing cgroup is a warning in d), then
 * flips to it: packets see the old policy or the new one, never a mix. On
 * error nothing changed and d says why. */
int df_loader_swap(struct df_loader *l, const struct df_image *img, struct df_diags *d);

#endif
