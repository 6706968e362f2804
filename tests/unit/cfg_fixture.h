/*
 * cfg_fixture.h - what the tests of the settings file's sections share:
 * a YAML text loaded the way the sensor loads its file (written to a
 * file of its own under /tmp, read with mm_cfg_load over the defaults,
 * removed again).  path receives the file's name, for the FILE:LINE
 * messages a test compares.
 *
 * Include after <cmocka.h> and the header that declares mm_cfg_load.
 */
#ifndef MM_TEST_CFG_FIXTURE_H
#define MM_TEST_CFG_FIXTURE_H

#include <stdio.h>
#include <unistd.h>

/* mm_cfg_load's result; name tells the tests' files apart */
static inline int fx_cfg_load(struct mm_cfg *c, const char *yaml,
			      const char *name, char *path, size_t pathlen,
			      char *err, size_t n)
{
	FILE *fp;
	int rc;

	snprintf(path, pathlen, "/tmp/mm-test-%s-%d.yaml", name, (int)getpid());
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(yaml, fp);
	fclose(fp);
	mm_cfg_defaults(c);
	err[0] = 0;
	rc = mm_cfg_load(c, path, err, n);
	unlink(path);
	return rc;
}

#endif /* MM_TEST_CFG_FIXTURE_H */
