/*
 * test_rec_double.c - rec_double writes exactly what printf's "%.17g"
 * writes (rec.c formats the common values itself and leaves the rest to
 * snprintf): edge values, ties rounded half to even, and random values of
 * every kind a device reports, each compared with snprintf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/rec.h"

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static double from_bits(uint64_t u)
{
	double d;
	memcpy(&d, &u, 8);
	return d;
}

/* m * 2^-k, without libm */
static double scaled(uint64_t m, int k)
{
	double d = (double)m;
	while (k-- > 0)
		d /= 2;
	return d;
}

/* the member's value as rec_double wrote it equals snprintf's */
static void check(struct mm_rec *r, double v)
{
	char want[64], got[64];
	size_t n;
	const char *s;

	if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
		strcpy(want, "null");
	else
		snprintf(want, sizeof(want), "%.17g", v);
	rec_begin(r);
	rec_double(r, "v", v);
	s = rec_finish(r, &n);
	/* {"v":...} */
	assert_true(n > 6 && n - 6 < sizeof(got));
	memcpy(got, s + 5, n - 6);
	got[n - 6] = 0;
	if (strcmp(got, want) != 0)
		fail_msg("%a: \"%s\", printf \"%s\"", v, got, want);
}

static void test_edges(void **state)
{
	static const double v[] = {
		0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 2.5, 10.0, 100.0, 0.3,
		123.456, 1e-4, 1e-5, 9.9999999999999995e-6, 1e-6, 1e15, 1e16,
		9007199254740991.0, 9007199254740992.0, 9007199254740994.0,
		1e17, 99999999999999984.0, 100000000000000016.0, 1e21, 1e22,
		1.7976931348623157e308, 2.2250738585072014e-308,
		4.9406564584124654e-324, 0.30000000000000004,
		1.00000762939453125,  /* a tie at the 18th digit: ...312 */
		1.00002288818359375,  /* a tie after an odd digit: ...938 */
		3.4028234663852886e38, 1.1754943508222875e-38, 72.5, 21.3f,
	};
	struct mm_rec *r = rec_new();
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		check(r, v[i]);
		check(r, -v[i]);
	}
	check(r, from_bits(0x7ff0000000000000ull)); /* infinity */
	check(r, from_bits(0x7ff8000000000000ull)); /* NaN */
	rec_free(r);
}

static void test_random(void **state)
{
	struct mm_rec *r = rec_new();
	(void)state;
	for (int i = 0; i < 200000; i++) {
		double v;
		float f;
		uint32_t b;
		switch (rnd() % 6) {
		case 0: /* any double */
			v = from_bits(rnd());
			break;
		case 1: /* a BACnet REAL */
			b = (uint32_t)rnd();
			memcpy(&f, &b, 4);
			v = f;
			break;
		case 2: /* binary fractions: 18-digit ties among them */
			v = scaled((rnd() >> 11) | 1, (int)(rnd() % 80));
			break;
		case 3:
			v = scaled(rnd() % 100000000, (int)(rnd() % 70));
			break;
		case 4: /* integers of every size */
			v = (double)(rnd() >> (rnd() % 64));
			break;
		default: /* readings with a few decimals */
			v = (double)(rnd() % 10000000) / 1000.0;
			break;
		}
		check(r, rnd() % 2 ? v : -v);
	}
	rec_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
