/* test_oui.c - MAC vendor lookup: longest prefix, damaged lines, real data */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../daemon/oui.h"

static void test_fixture(void **state)
{
	struct oui_table *t = oui_load("tests/data/oui");
	static const uint8_t rockwell[6] = { 0x08, 0x61, 0x95, 0x01, 0x02, 0x03 };
	static const uint8_t siemens[6] = { 0x00, 0x1b, 0x1b, 0x12, 0x34, 0x56 };
	static const uint8_t mam[6] = { 0x00, 0x1b, 0x1b, 0xa9, 0x99, 0x99 };
	static const uint8_t mas[6] = { 0x00, 0x1b, 0x1b, 0xa1, 0x23, 0x45 };
	static const uint8_t schneider[6] = { 0x00, 0x80, 0xf4, 0, 0, 1 };
	static const uint8_t unknown[6] = { 0x02, 0, 0, 0, 0, 1 };
	(void)state;
	assert_non_null(t);
	/* 3 MA-L (the ZZ line is refused), 1 MA-M, 1 MA-S */
	assert_int_equal(oui_count(t), 5);
	assert_string_equal(oui_vendor(t, rockwell), "Rockwell Automation");
	assert_string_equal(oui_vendor(t, siemens), "Siemens AG");
	/* inside the MA-M block A00000-AFFFFF: the 28-bit owner */
	assert_string_equal(oui_vendor(t, mam), "Block Owner Inside Siemens Range");
	/* inside the MA-S block A12000-A12FFF: the 36-bit owner wins over both */
	assert_string_equal(oui_vendor(t, mas), "Tiny Controls KK");
	assert_string_equal(oui_vendor(t, schneider), "TELEMECANIQUE ELECTRIQUE");
	assert_null(oui_vendor(t, unknown));
	oui_free(t);
}

static void test_missing_dir(void **state)
{
	static const uint8_t mac[6] = { 0x08, 0x61, 0x95, 1, 2, 3 };
	(void)state;
	assert_null(oui_load("/nonexistent/ieee-data"));
	assert_null(oui_vendor(NULL, mac));
}

static void test_installed_registry(void **state)
{
	static const uint8_t rockwell[6] = { 0x08, 0x61, 0x95, 0x01, 0x02, 0x03 };
	struct oui_table *t;
	(void)state;
	if (access(OUI_DEFAULT_DIR "/oui.txt", R_OK) != 0)
		skip(); /* ieee-data not installed (make test installs it) */
	t = oui_load(OUI_DEFAULT_DIR);
	assert_non_null(t);
	assert_true(oui_count(t) > 30000);
	assert_non_null(strstr(oui_vendor(t, rockwell), "Rockwell"));
	oui_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_missing_dir),
		cmocka_unit_test(test_installed_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
