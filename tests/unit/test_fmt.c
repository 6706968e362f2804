/* test_fmt.c - the packet-path formatter agrees with snprintf on what it supports */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/fmt.h"
#include "../../dissectors/dissector.h"

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

/* capture the arguments, format later: same text as snprintf */
static size_t capture(union mm_fmt_arg *a, size_t max, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = mm_fmt_capture(fmt, ap, a, max);
	va_end(ap);
	return n;
}

static void test_capture(void **state)
{
	static const char f1[] = "%s %u x%u %d 0x%02x %% %c";
	union mm_fmt_arg a[5];
	char x[64], y[64];
	(void)state;
	for (int round = 0; round < 2; round++) { /* walked, then remembered */
		assert_int_equal(capture(a, 4, f1, "coil", 7u, 3u, -5, 0xau), 5);
		assert_int_equal(capture(a, 5, f1, "coil", 7u, 3u, -5, 0xau), 5);
		mm_afmt(x, sizeof(x), f1, a, 5);
		snprintf(y, sizeof(y), "%s %u x%u %d 0x%02x %% %%c", "coil", 7u,
			 3u, -5, 0xau);
		assert_string_equal(x, y);
	}
	/* more conversions than room: max + 1, nothing to rely on */
	assert_int_equal(capture(a, 2, "%u %u %u", 1u, 2u, 3u), 3);
	assert_int_equal(capture(a, 2, "no conversions"), 0);
	/* fewer captured than the format reads: 0 and NULL, as documented */
	mm_afmt(x, sizeof(x), "%u %s", a, 0);
	assert_string_equal(x, "0 (null)");
}

/* dissector.h: an op's target text deferred, then formatted once */
static void test_op_target(void **state)
{
	struct mm_op op;
	(void)state;
	memset(&op, 0, sizeof(op));
	assert_true(mm_op_target_empty(&op));
	strcpy(op.target, "unit 1 ");
	mm_op_target_defer(&op, "%s %u x%u", "holding", 100u, 10u);
	mm_op_target_defer(&op, " +%u more", 2u);
	assert_string_equal(op.target, "unit 1 "); /* nothing formatted yet */
	struct mm_op copy = op; /* a copy carries its parts */
	assert_string_equal(mm_op_target(&op), "unit 1 holding 100 x10 +2 more");
	assert_string_equal(mm_op_target(&op), "unit 1 holding 100 x10 +2 more");
	assert_string_equal(mm_op_target(&copy), "unit 1 holding 100 x10 +2 more");
	/* no part left: the parts so far, then this one, at once */
	memset(&op, 0, sizeof(op));
	mm_op_target_defer(&op, "a%u", 1u);
	mm_op_target_defer(&op, "b%u", 2u);
	mm_op_target_defer(&op, "c%u", 3u);
	assert_string_equal(op.target, "a1b2c3");
	assert_string_equal(mm_op_target(&op), "a1b2c3");
	/* more arguments than a part keeps: formatted at once */
	memset(&op, 0, sizeof(op));
	mm_op_target_defer(&op, "%u.%u.%u.%u.%u", 1u, 2u, 3u, 4u, 5u);
	assert_string_equal(op.target, "1.2.3.4.5");
	assert_false(mm_op_target_empty(&op));
	/* truncated like the eager text: 95 characters at most */
	memset(&op, 0, sizeof(op));
	memset(op.target, 'x', 90);
	mm_op_target_defer(&op, "%s", "0123456789");
	assert_int_equal(strlen(mm_op_target(&op)), 95);
	assert_string_equal(op.target + 90, "01234");
}

/* what inet_ntop writes, for addresses with 1-, 2- and 3-digit parts */
static void test_ipv4(void **state)
{
	static const char *const ips[] = { "0.0.0.0", "255.255.255.255",
		"10.3.0.14", "192.168.100.9", "1.22.133.4" };
	char a[16];
	struct in_addr in;
	(void)state;
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		assert_int_equal(inet_pton(AF_INET, ips[i], &in), 1);
		assert_int_equal(mm_fmt_ipv4(a, in.s_addr), strlen(ips[i]));
		assert_string_equal(a, ips[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_like_snprintf),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_op_target),
		cmocka_unit_test(test_ipv4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
