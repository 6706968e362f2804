/*
 * test_rd.c - the bounded reader (dissectors/rd.h): every accessor, short
 * reads (0 and a sticky error), slices, peeks, lengths after an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../dissectors/rd.h"

static const uint8_t bytes[] = { 0x01, 0x02, 0x03, 0x04, 0x05,
				 0x06, 0x07, 0x08, 0x09, 0x0a };

static void test_make_and_left(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, sizeof(bytes));
	assert_false(r.err);
	assert_int_equal(rd_left(&r), 10);
	assert_ptr_equal(rd_ptr(&r), bytes);

	struct rd e = rd_make(bytes, 0);
	assert_int_equal(rd_left(&e), 0);
	assert_false(e.err);
}

static void test_u8(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, 2);
	assert_int_equal(rd_u8(&r), 0x01);
	assert_int_equal(rd_u8(&r), 0x02);
	assert_false(r.err);
	assert_int_equal(rd_left(&r), 0);
	assert_int_equal(rd_u8(&r), 0);
	assert_true(r.err);
}

static void test_be16_be24_be32(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, sizeof(bytes));
	assert_int_equal(rd_be16(&r), 0x0102);
	assert_int_equal(rd_be24(&r), 0x030405);
	assert_int_equal(rd_be32(&r), 0x06070809);
	assert_false(r.err);
	assert_int_equal(rd_left(&r), 1);
	assert_ptr_equal(rd_ptr(&r), bytes + 9);
}

static void test_le16_le32(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, 6);
	assert_int_equal(rd_le16(&r), 0x0201);
	assert_int_equal(rd_le32(&r), 0x06050403);
	assert_false(r.err);
	assert_int_equal(rd_left(&r), 0);
}

/* a read one byte short returns 0, sets err and consumes nothing */
static void test_short_reads(void **state)
{
	(void)state;
	struct {
		size_t have;
		int which;
	} cases[] = { { 1, 16 }, { 2, 24 }, { 3, 32 }, { 1, -16 }, { 3, -32 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rd r = rd_make(bytes, cases[i].have);
		uint32_t v = 0xdead;
		switch (cases[i].which) {
		case 16: v = rd_be16(&r); break;
		case 24: v = rd_be24(&r); break;
		case 32: v = rd_be32(&r); break;
		case -16: v = rd_le16(&r); break;
		case -32: v = rd_le32(&r); break;
		}
		assert_int_equal(v, 0);
		assert_true(r.err);
		assert_ptr_equal(r.p, bytes); /* nothing consumed */
		assert_int_equal(rd_left(&r), 0);
	}
}

/* after the first short read every read fails, even ones that would fit */
static void test_err_sticky(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, 3);
	assert_int_equal(rd_be32(&r), 0); /* 4 > 3 */
	assert_true(r.err);
	assert_int_equal(rd_u8(&r), 0);   /* 1 byte would have fit */
	assert_int_equal(rd_be16(&r), 0);
	assert_false(rd_skip(&r, 0));
	assert_false(rd_need(&r, 0));
	assert_true(r.err);
	assert_int_equal(rd_left(&r), 0);
}

static void test_skip(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, 5);
	assert_true(rd_skip(&r, 3));
	assert_int_equal(rd_u8(&r), 0x04);
	assert_false(rd_skip(&r, 2)); /* 1 left */
	assert_true(r.err);
	assert_int_equal(rd_left(&r), 0);

	/* a huge skip must not wrap the pointer */
	struct rd h = rd_make(bytes, 5);
	assert_false(rd_skip(&h, SIZE_MAX));
	assert_true(h.err);
	assert_ptr_equal(h.p, bytes);
}

static void test_copy(void **state)
{
	(void)state;
	uint8_t out[4];
	struct rd r = rd_make(bytes, 6);

	assert_true(rd_copy(&r, out, 4));
	assert_memory_equal(out, bytes, 4);
	assert_int_equal(rd_left(&r), 2);

	memset(out, 0xaa, sizeof(out));
	assert_false(rd_copy(&r, out, 4)); /* 2 left */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(out[i], 0); /* zeroed on a short copy */
	assert_true(r.err);
}

static void test_sub(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, sizeof(bytes));
	struct rd s;

	rd_u8(&r);
	assert_true(rd_sub(&r, 4, &s));
	assert_int_equal(rd_left(&s), 4);
	assert_int_equal(rd_left(&r), 5); /* the parent moved past the slice */
	assert_int_equal(rd_u8(&r), 0x06);

	/* the slice is bounded: it cannot read its parent's next bytes */
	assert_int_equal(rd_be32(&s), 0x02030405);
	assert_int_equal(rd_u8(&s), 0);
	assert_true(s.err);
	assert_false(r.err); /* the slice's error is its own */
	assert_int_equal(rd_u8(&r), 0x07);

	/* a slice larger than what is left: empty, err, parent err too */
	struct rd t;
	assert_false(rd_sub(&r, 4, &t)); /* 3 left */
	assert_true(t.err);
	assert_int_equal(rd_left(&t), 0);
	assert_int_equal(rd_u8(&t), 0);
	assert_true(r.err);
	assert_int_equal(rd_left(&r), 0);

	/* an empty slice of an empty reader is fine */
	struct rd e = rd_make(bytes, 0), z;
	assert_true(rd_sub(&e, 0, &z));
	assert_false(z.err);
	assert_int_equal(rd_left(&z), 0);
}

static void test_peek(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, 3);

	assert_int_equal(rd_peek(&r, 0), 0x01);
	assert_int_equal(rd_peek(&r, 2), 0x03);
	assert_int_equal(rd_left(&r), 3); /* nothing consumed */
	assert_false(r.err);
	assert_int_equal(rd_peek(&r, 3), 0);
	assert_true(r.err);
	assert_int_equal(rd_peek(&r, 0), 0); /* sticky */
	/* an index that would overflow i + 1 */
	struct rd o = rd_make(bytes, 3);
	assert_int_equal(rd_peek(&o, SIZE_MAX - 1), 0);
	assert_true(o.err);
	/* i + 1 wraps to 0 for SIZE_MAX: must still be refused */
	struct rd w = rd_make(bytes, 3);
	assert_int_equal(rd_peek(&w, SIZE_MAX), 0);
	assert_true(w.err);
}

static void test_need(void **state)
{
	(void)state;
	struct rd r = rd_make(bytes, 2);
	assert_true(rd_need(&r, 0));
	assert_true(rd_need(&r, 2));
	assert_false(r.err);
	assert_false(rd_need(&r, 3));
	assert_true(r.err);
	assert_int_equal(rd_left(&r), 0); /* left is 0 after an error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_and_left),
		cmocka_unit_test(test_u8),
		cmocka_unit_test(test_be16_be24_be32),
		cmocka_unit_test(test_le16_le32),
		cmocka_unit_test(test_short_reads),
		cmocka_unit_test(test_err_sticky),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_need),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
