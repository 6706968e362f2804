/*
 * test_config.c - the sensor's settings file: values land where they
 * should, and every error names the file and the line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../daemon/sensor.h"

#include "cfg_fixture.h"

static char path[64];

static int load(struct mm_cfg *c, const char *text, char *err, size_t n)
{
	return fx_cfg_load(c, text, "config", path, sizeof(path), err, n);
}

static void test_defaults(void **state)
{
	struct mm_cfg c;
	(void)state;
	mm_cfg_defaults(&c);
	assert_int_equal(c.max_streams, 100000);
	assert_true(c.promisc);
	assert_true(c.gap_timeout > 0);
	assert_non_null(c.sensor);
	assert_true(c.sensor[0] != 0);
}

static void test_values(void **state)
{
	struct mm_cfg c;
	char err[256];
	(void)state;
	assert_int_equal(load(&c,
		"sensor: line-a\n"
		"zones: /tmp/z.yaml\n"
		"capture:\n  buffer_mb: 128\n  promiscuous: false\n  filter: tcp port 502\n"
		"tcp:\n  max_streams: 250000\n  gap_timeout: 2.5\n"
		"link:\n  spool_max: 5000\n"
		"store:\n  aggregate_window: 0\n", err, sizeof(err)), 0);
	assert_string_equal(c.sensor, "line-a");
	assert_string_equal(c.zones_path, "/tmp/z.yaml");
	assert_string_equal(c.bpf, "tcp port 502");
	assert_int_equal(c.buffer_mb, 128);
	assert_false(c.promisc);
	assert_int_equal(c.max_streams, 250000);
	assert_true(c.gap_timeout > 2.4 && c.gap_timeout < 2.6);
	assert_int_equal(c.spool_max, 5000);
	assert_true(c.aggregate_window == 0);
}

static void test_unknown_key_line(void **state)
{
	struct mm_cfg c;
	char err[256];
	(void)state;
	assert_int_equal(load(&c, "sensor: a\ncapture:\n  bufer_mb: 8\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".yaml:3:"));
	assert_non_null(strstr(err, "bufer_mb"));
}

static void test_bad_number_line(void **state)
{
	struct mm_cfg c;
	char err[256];
	(void)state;
	assert_int_equal(load(&c, "tcp:\n  max_streams: lots\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".yaml:2:"));
	assert_non_null(strstr(err, "max_streams"));
	assert_int_equal(load(&c, "tcp:\n  max_streams: 3\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "from 64"));
}

static void test_bad_bool_and_type(void **state)
{
	struct mm_cfg c;
	char err[256];
	(void)state;
	assert_int_equal(load(&c, "capture:\n  promiscuous: maybe\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".yaml:2:"));
	assert_int_equal(load(&c, "sensor: [a, b]\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".yaml:1:"));
	assert_int_equal(load(&c, "- just\n- a list\n", err, sizeof(err)), -1);
}

static void test_syntax_error_line(void **state)
{
	struct mm_cfg c;
	char err[256];
	(void)state;
	assert_int_equal(load(&c, "sensor: a\ncapture:\n  snaplen: [1, 2\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".yaml:"));
	/* an empty file sets nothing and is fine */
	assert_int_equal(load(&c, "", err, sizeof(err)), 0);
	assert_int_equal(c.max_streams, 100000);
}

static void test_missing_file(void **state)
{
	struct mm_cfg c;
	char err[256];
	(void)state;
	mm_cfg_defaults(&c);
	assert_int_equal(mm_cfg_load(&c, "/nonexistent/mimamori.yaml", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/mimamori.yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_unknown_key_line),
		cmocka_unit_test(test_bad_number_line),
		cmocka_unit_test(test_bad_bool_and_type),
		cmocka_unit_test(test_syntax_error_line),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
