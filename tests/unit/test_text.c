// SPDX-License-Identifier: GPL-2.0-only
/* text.h: names others chose, printed safely. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

static const char *esc(const char *in, size_t n, bool backslash, size_t len)
{
	static char out[256];

	return df_text_escape(in, n, backslash, out, len);
}

static void control_characters_and_backslash_become_escapes(void **state)
{
	const char comm[] = "a\"b\nc\x1b[2Jd\\e\x7f";

	assert_string_equal(esc(comm, sizeof(comm), true, 256), "a\"b\\x0ac\\x1b[2Jd\\x5ce\\x7f");
	/* already escaped text (the CLI's), backslashes kept */
	assert_string_equal(esc("x\\x0ay\t", 7, false, 256), "x\\x0ay\\x09");
}

static void valid_utf8_is_kept_invalid_bytes_are_escaped(void **state)
{
	/* é, 猫 and an emoji pass; a lone continuation byte, a truncated
	 * sequence, an overlong '/', a surrogate and C1 CSI do not */
	assert_string_equal(esc("caf\xc3\xa9 \xe7\x8c\xab \xf0\x9f\x90\x88", 15, true, 256),
			    "caf\xc3\xa9 \xe7\x8c\xab \xf0\x9f\x90\x88");
	assert_string_equal(esc("\x80x\xe7\x8c", 4, true, 256), "\\x80x\\xe7\\x8c");
	assert_string_equal(esc("\xc0\xaf", 2, true, 256), "\\xc0\\xaf");
	assert_string_equal(esc("\xed\xa0\x80", 3, true, 256), "\\xed\\xa0\\x80");
	assert_string_equal(esc("\xc2\x9b" "1m", 4, true, 256), "\\xc2\\x9b1m");
}

static void stops_at_nul_and_truncates_whole(void **state)
{
	assert_string_equal(esc("ab\0cd", 5, true, 256), "ab");
	assert_string_equal(esc("abc\n", 4, true, 6), "abc");   /* no half escape */
	assert_string_equal(esc("a\xe7\x8c\xab", 4, true, 4), "a"); /* no half character */
	assert_string_equal(esc("abc", 3, true, 1), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(control_characters_and_backslash_become_escapes),
		cmocka_unit_test(valid_utf8_is_kept_invalid_bytes_are_escaped),
		cmocka_unit_test(stops_at_nul_and_truncates_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
