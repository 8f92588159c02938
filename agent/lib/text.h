/* SPDX-License-Identifier: GPL-2.0-only */
/* Text others chose (a process name, a cgroup or user name), made safe to
 * print on a terminal and to put in JSON. */
#ifndef DF_TEXT_H
#define DF_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The first n bytes of in (up to a NUL) as printable, valid UTF-8: control
 * characters (C0, DEL, C1), bytes that are not valid UTF-8 and (backslash:
 * true) backslash become the text \xNN. out is always terminated
 * (truncated before an escape or character that does not fit); returns
 * out. */
char *df_text_escape(const char *in, size_t n, bool backslash, char *out, size_t len);

/* The candidate closest to word (Damerau-Levenshtein: an insertion,
 * deletion, substitution or swap of two neighbours each count one) when it
 * is close enough to be a typo of it (at most 1 edit for words of up to 4
 * letters, 2 beyond), else NULL. */
const char *df_did_you_mean(const char *word, const char *const *candidates, size_t n);

#endif
