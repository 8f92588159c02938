/* SPDX-License-Identifier: GPL-2.0-only */
/* The compiled-table emulator: the BPF program's algorithm in user space. */
#ifndef DF_EMULATE_H
#define DF_EMULATE_H

#include <stdint.h>

#include "verdict.h"

struct df_image;
struct df_emu;

/* Emulator: the same verdict from compiled map images, the way the BPF
 * program computes it. df_emu_new indexes the image (not copied; keep it). */
struct df_emu *df_emu_new(const struct df_image *img);
void df_emu_free(struct df_emu *e);
uint64_t df_emu_classify(const struct df_emu *e, const struct df_packet *pkt);
void df_emu_verdict(const struct df_emu *e, const struct df_packet *pkt,
		    uint64_t classes, int64_t now, struct df_result *res);

#endif
