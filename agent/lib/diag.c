// SPDX-License-Identifier: GPL-2.0-only
/* Diagnostics collection and printing (nftables erec style). */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char *xstrdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void df_diag_add(struct df_diags *d, enum df_severity sev, const char *file,
		 int line, const char *culprit, const char *fmt, ...)
{
	struct df_diag *x;
	va_list ap;
	char *msg = NULL;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct df_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return; /* out of memory: the count below still records it */
		d->v = v;
		d->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	x = &d->v[d->n++];
	x->sev = sev;
	x->file = xstrdup_or_null(file);
	x->line = line;
	x->culprit = xstrdup_or_null(culprit);
	x->msg = msg;
	if (sev == DF_SEV_ERROR)
		d->errors++;
	else if (sev == DF_SEV_WARNING)
		d->warnings++;
}

/* Returns the start of 1-based line `line` in src and its length. */
static const char *source_line(const char *src, int line, size_t *len)
{
	const char *p = src;

	for (int i = 1; i < line && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p)
		return NULL;
	*len = strcspn(p, "\n");
	return p;
}

int df_diag_column(const struct df_diag *x, const char *source)
{
	const char *l = NULL;
	char *line, *quoted = NULL, *at = NULL;
	size_t len = 0;
	int col = 0;

	if (source && x->line > 0)
		l = source_line(source, x->line, &len);
	if (!l || !x->culprit || !*x->culprit || !(line = strndup(l, len)))
		return 0;
	/* Prefer "culprit" in quotes: a short name like "a" would otherwise
	 * match inside a key. */
	if (asprintf(&quoted, "\"%s\"", x->culprit) > 0 && (at = strstr(line, quoted)))
		at++;
	else
		at = strstr(line, x->culprit);
	if (at)
		col = (int)(at - line) + 1;
	free(quoted);
	free(line);
	return col;
}

const char *df_sev_name(enum df_severity sev)
{
	return sev == DF_SEV_ERROR ? "error" : sev == DF_SEV_WARNING ? "warning" : "note";
}

void df_diags_print(const struct df_diags *d, FILE *out, const char *source)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct df_diag *x = &d->v[i];
		const char *sev = df_sev_name(x->sev), *l = NULL;
		int col = df_diag_column(x, source);
		size_t len = 0;

		if (x->line > 0 && col > 0)
			fprintf(out, "%s:%d:%d: %s: %s\n", x->file ? x->file : "-", x->line, col, sev,
				x->msg ? x->msg : "(out of memory)");
		else if (x->line > 0)
			fprintf(out, "%s:%d: %s: %s\n", x->file ? x->file : "-", x->line,
				sev, x->msg ? x->msg : "(out of memory)");
		else
			fprintf(out, "%s: %s: %s\n", x->file ? x->file : "-", sev,
				x->msg ? x->msg : "(out of memory)");
		if (source && x->line > 0)
			l = source_line(source, x->line, &len);
		if (!l)
			continue;
		fprintf(out, "    %.*s\n", (int)len, l);
		if (col > 0) {
			fprintf(out, "    ");
			for (int c = 0; c < col - 1; c++)
				fputc(l[c] == '\t' ? '\t' : ' ', out);
			for (size_t k = 0; k < strlen(x->culprit); k++)
				fputc('^', out);
			fputc('\n', out);
		}
	}
}

void df_diags_sort(struct df_diags *d, size_t from)
{
	/* insertion sort: few diagnostics, and it is stable */
	for (size_t i = from + 1; i < d->n; i++) {
		struct df_diag x = d->v[i];
		size_t j = i;

		while (j > from && d->v[j - 1].line > x.line) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = x;
	}
}

void df_diags_free(struct df_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].culprit);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
