/* test_rec.c - streaming JSON records: numbers, times, byte sanitising */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "../../common/rec.h"

static json_t *parse(struct mm_rec *r)
{
	size_t n;
	const char *s = rec_finish(r, &n);
	json_error_t e;
	json_t *j = json_loadb(s, n, JSON_ALLOW_NUL, &e);
	if (!j)
		fail_msg("not JSON (%s): %.*s", e.text, (int)n, s);
	return j;
}

static void test_numbers(void **state)
{
	struct mm_rec *r = rec_new();
	(void)state;
	rec_begin(r);
	rec_int(r, "zero", 0);
	rec_int(r, "neg", -42);
	rec_int(r, "min", LLONG_MIN);
	rec_int(r, "max", LLONG_MAX);
	rec_uint(r, "umax", ULLONG_MAX);
	rec_uint(r, "u", 502);
	size_t n;
	const char *s = rec_finish(r, &n);
	assert_non_null(strstr(s, "\"zero\":0"));
	assert_non_null(strstr(s, "\"neg\":-42"));
	assert_non_null(strstr(s, "\"min\":-9223372036854775808"));
	assert_non_null(strstr(s, "\"max\":9223372036854775807"));
	assert_non_null(strstr(s, "\"umax\":18446744073709551615"));
	assert_non_null(strstr(s, "\"u\":502"));
	rec_free(r);
}

/* register dumps in one call; long strings escaped a word at a time */
static void test_arrays_and_words(void **state)
{
	static const uint8_t regs[] = { 0x00, 0x00, 0xff, 0xff, 0x01, 0x02,
					0x27, 0x10 };
	struct mm_rec *r = rec_new();
	size_t n;
	(void)state;
	rec_begin(r);
	rec_be16_array(r, "v", regs, 4);
	rec_be16_array(r, "none", regs, 0);
	/* 8-byte words: clean, one with a quote, one with a control byte,
	 * one with DEL, then UTF-8 (bytes >= 0x80 pass as they are) */
	rec_str(r, "s", "abcdefgh12345\"78abcd\x01" "fgh12\x7f" "45678"
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e!");
	const char *s = rec_finish(r, &n);
	assert_string_equal(s, "{\"v\":[0,65535,258,10000],\"none\":[],"
			       "\"s\":\"abcdefgh12345\\\"78abcd\\u0001fgh12"
			       "\\u007f45678\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e!\"}");
	rec_free(r);
}

static void test_timestamps(void **state)
{
	char b[40];
	(void)state;
	mm_format_ts(b, sizeof(b), 1445502056, 231649);
	assert_string_equal(b, "2015-10-22T08:20:56.231649Z");
	/* the cached second must not leak into the next one */
	mm_format_ts(b, sizeof(b), 1445502057, 7);
	assert_string_equal(b, "2015-10-22T08:20:57.000007Z");
	mm_format_ts(b, sizeof(b), 0, 0);
	assert_string_equal(b, "1970-01-01T00:00:00.000000Z");
	mm_format_ts(b, sizeof(b), 1445502057, 999999);
	assert_string_equal(b, "2015-10-22T08:20:57.999999Z");
	mm_format_ts(b, 10, 1445502057, 1);
	assert_string_equal(b, ""); /* too small: empty, never overflowed */
}

static void test_strings_sanitised(void **state)
{
	struct mm_rec *r = rec_new();
	static const uint8_t bad[] = { 'A', 0xff, 0x00, '"', 0xc3, 0x28, 'z' };
	static const char ja[] = "制御系 ライン1";
	(void)state;
	rec_begin(r);
	rec_strn(r, "bad", bad, sizeof(bad));
	rec_strn(r, "ja", (const uint8_t *)ja, strlen(ja));
	rec_hex(r, "hex", bad, 3);
	rec_obj_begin(r, "o");
	rec_arr_begin(r, "a");
	rec_int(r, NULL, 1);
	rec_str(r, NULL, "x");
	rec_arr_end(r);
	rec_obj_end(r);
	json_t *j = parse(r);
	/* 0xff and the lone 0xc3 become U+00FF and U+00C3 */
	assert_int_equal(json_string_length(json_object_get(j, "bad")), 9);
	assert_memory_equal(json_string_value(json_object_get(j, "bad")),
			    "A\xc3\xbf" "\x00" "\"\xc3\x83(z", 9);
	assert_string_equal(json_string_value(json_object_get(j, "ja")), ja);
	assert_string_equal(json_string_value(json_object_get(j, "hex")), "41ff00");
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "o"), "a")), 2);
	json_decref(j);
	rec_free(r);
}

/* random bytes, random nesting: every record parses, and strings decode
 * to what rec_strn promises (valid UTF-8 kept, other bytes as U+0080..FF) */
static void test_random_round_trip(void **state)
{
	struct mm_rec *r = rec_new();
	unsigned seed = 12345;
	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		uint8_t in[64];
		size_t n = (size_t)(seed % sizeof(in));
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (uint8_t)(seed >> 16);
		}
		rec_begin(r);
		rec_obj_begin(r, "a");
		rec_arr_begin(r, "b");
		rec_strn(r, NULL, in, n);
		rec_int(r, NULL, (long long)seed - 1000000000LL);
		rec_arr_end(r);
		rec_strn(r, "s", in, n);
		rec_obj_end(r);
		if (iter % 2)
			rec_arr_begin(r, "left_open"); /* finish closes it */
		json_t *j = parse(r);
		json_t *s = json_object_get(json_object_get(j, "a"), "s");
		assert_non_null(s);
		/* decode back: every code point below U+0100 that is not part of
		 * a valid multi-byte sequence maps to one input byte */
		const char *o = json_string_value(s);
		size_t on = json_string_length(s), k = 0;
		for (size_t i = 0; i < n;) {
			if (in[i] < 0x80) {
				assert_true(k < on);
				assert_int_equal((uint8_t)o[k], in[i]);
				i++; k++;
			} else {
				/* either the same valid sequence, or a 2-byte U+00XX */
				assert_true(k < on);
				if ((uint8_t)o[k] == in[i]) {
					i++; k++;
				} else {
					assert_int_equal((uint8_t)o[k], 0xc0 | (in[i] >> 6));
					assert_int_equal((uint8_t)o[k + 1], 0x80 | (in[i] & 0x3f));
					i++; k += 2;
				}
			}
		}
		assert_int_equal(k, on);
		json_decref(j);
	}
	rec_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_arrays_and_words),
		cmocka_unit_test(test_strings_sanitised),
		cmocka_unit_test(test_random_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
