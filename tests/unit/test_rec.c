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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_strings_sanitised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
