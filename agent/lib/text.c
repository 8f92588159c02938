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
