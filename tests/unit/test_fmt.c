/* test_fmt.c - the packet-path formatter agrees with snprintf on what it supports */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/fmt.h"

static void test_like_snprintf(void **state)
{
	char a[128], b[128];
	(void)state;
	mm_fmt(a, sizeof(a), "unit %u holding %u x%u", 1u, 100u, 10u);
	snprintf(b, sizeof(b), "unit %u holding %u x%u", 1u, 100u, 10u);
	assert_string_equal(a, b);
	mm_fmt(a, sizeof(a), "umas 0x%02x %04x %x %d %d %s %%", 0x5u, 0xabu, 0u, -42, 7, "ok");
	snprintf(b, sizeof(b), "umas 0x%02x %04x %x %d %d %s %%", 0x5u, 0xabu, 0u, -42, 7, "ok");
	assert_string_equal(a, b);
	mm_fmt(a, sizeof(a), "%u %u", 4294967295u, 0u);
	assert_string_equal(a, "4294967295 0");
	assert_int_equal(mm_fmt(a, sizeof(a), "%s", (const char *)NULL), 6);
	assert_string_equal(a, "(null)");
}

static void test_truncation(void **state)
{
	char a[8];
	(void)state;
	assert_int_equal(mm_fmt(a, sizeof(a), "holding %u", 12345u), 7);
	assert_string_equal(a, "holding");
	assert_int_equal(mm_fmt(a, 1, "abc"), 0);
	assert_string_equal(a, "");
	a[0] = 'x';
	assert_int_equal(mm_fmt(a, 0, "abc"), 0);
	assert_int_equal(a[0], 'x'); /* nothing written at all */
	assert_int_equal(mm_fmt(a, sizeof(a), "50%"), 3);
	assert_string_equal(a, "50%");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_like_snprintf),
		cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
