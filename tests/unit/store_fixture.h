/*
 * store_fixture.h - what the store and link tests share: a fresh folder
 * under /tmp holding the database (and a spool folder's path), a free
 * loopback TCP endpoint, and one-value queries on a separate read-only
 * connection (the way the CLI reads a store another process writes).
 *
 * Include after <cmocka.h> and <sqlite3.h>.  Every test group names its
 * folder: static int setup(void **s) { return fx_setup(s, "link"); }
 */
#ifndef MM_TEST_STORE_FIXTURE_H
#define MM_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct fx {
	char dir[64];
	char db[128];    /* DIR/store.db */
	char spool[128]; /* DIR/spool (not created) */
	char ep[64];     /* tcp://127.0.0.1:<a port free a moment ago> */
};

/* a loopback port nobody listens on now (the kernel's pick) */
static inline int fx_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static inline int fx_setup(void **state, const char *name)
{
	struct fx *f = calloc(1, sizeof(*f));
	int port = fx_free_port();

	if (!f || port < 0) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/mm-test-%s.XXXXXX", name);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/store.db", f->dir);
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	snprintf(f->ep, sizeof(f->ep), "tcp://127.0.0.1:%d", port);
	*state = f;
	return 0;
}

static inline int fx_rm_one(const char *path, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* what stays behind in /tmp fails no test */
	return 0;
}

static inline int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* one integer from a query: -1 when no row, -2 when NULL */
static inline long long q1(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL
			    ? -2
			    : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* one text value, copied into buf ("" when NULL or no row) */
static inline const char *qs(const char *db, const char *sql, char *buf,
			     size_t len)
{
	sqlite3 *h;
	sqlite3_stmt *st;

	buf[0] = '\0';
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return buf;
}

#endif /* MM_TEST_STORE_FIXTURE_H */
