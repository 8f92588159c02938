// SPDX-License-Identifier: GPL-2.0-only
/* Text others chose, made safe to print (text.h). */
#include "text.h"

#include <stdio.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 :
		     s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* no overlong forms, surrogates or code points above U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	/* C1 controls (U+0080..U+009F): terminals obey them too */
	if (s[0] == 0xc2 && s[1] < 0xa0)
		return 0;
	return len;
}

char *df_text_escape(const char *in, size_t n, bool backslash, char *out, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (!len)
		return out;
	for (size_t i = 0; i < n && s[i];) {
		size_t u = s[i] >= 0x80 ? utf8_len(s + i, n - i) : 0;

		if (u) { /* a whole character */
			if (o + u >= len)
				break;
			memcpy(out + o, s + i, u);
			o += u;
			i += u;
		} else if (s[i] >= 0x20 && s[i] < 0x7f && (s[i] != '\\' || !backslash)) {
			if (o + 1 >= len)
				break;
			out[o++] = (char)s[i++];
		} else {
			if (o + 4 >= len)
				break;
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", s[i++]);
		}
	}
	out[o] = '\0';
	return out;
}

/* Optimal string alignment distance, capped: words longer than 63 bytes are
 * never typos of ours. */
static size_t edits(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), d[64][64];

	if (n > 63 || m > 63)
		return (size_t)-1;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

const char *df_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	size_t best = (size_t)-1, limit = word && strlen(word) <= 4 ? 1 : 2;
	const char *pick = NULL;

	for (size_t i = 0; word && i < n; i++) {
		size_t e = candidates[i] ? edits(word, candidates[i]) : (size_t)-1;

		if (e && e < best) {
			best = e;
			pick = candidates[i];
		}
	}
	return best <= limit ? pick : NULL;
}
