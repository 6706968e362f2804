/*
 * file_fixture.h - a whole file read into memory, for tests that check
 * what a program wrote or feed a shipped file in pieces.
 *
 * Include after <cmocka.h>.
 */
#ifndef MM_TEST_FILE_FIXTURE_H
#define MM_TEST_FILE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

/* the file at path, with a NUL after its last byte (for strstr), its
 * length in *len; the test fails when it cannot be read whole */
static inline char *fx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
