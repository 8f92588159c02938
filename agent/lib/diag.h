/* SPDX-License-Identifier: GPL-2.0-only */
/* Diagnostics: "file:line: error: message", all of a file at once, with the
 * source line and a caret under the culprit when it can be found. */
#ifndef DF_DIAG_H
#define DF_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* A note informs and fails nothing (not even --strict). */
enum df_severity { DF_SEV_ERROR = 0, DF_SEV_WARNING = 1, DF_SEV_NOTE = 2 };

struct df_diag {
	enum df_severity sev;
	char *file;
	int line;       /* 0: no line */
	char *culprit;  /* text to underline in the source line, or NULL */
	char *msg;
};

struct df_diags {
	struct df_diag *v;
	size_t n, cap;
	size_t errors, warnings; /* notes are not counted */
};

__attribute__((format(printf, 6, 7)))
void df_diag_add(struct df_diags *d, enum df_severity sev, const char *file,
		 int line, const char *culprit, const char *fmt, ...);
/* The 1-based column of a diagnostic's culprit in its line of `source`, or
 * 0 when unknown. */
int df_diag_column(const struct df_diag *x, const char *source);
/* "error", "warning", "note". */
const char *df_sev_name(enum df_severity sev);
/* Prints every diagnostic, FILE:LINE:COL: when the column is known, with
 * the source line and a caret under the culprit; `source` (may be NULL) is
 * the file's text. */
void df_diags_print(const struct df_diags *d, FILE *out, const char *source);
/* Orders diagnostics from index `from` on by line (stable). */
void df_diags_sort(struct df_diags *d, size_t from);
void df_diags_free(struct df_diags *d);

#endif
