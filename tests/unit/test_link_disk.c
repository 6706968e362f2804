/*
 * test_link_disk.c - the link's disk spool and heartbeats: records left
 * unacknowledged survive the link's end (a sensor restart) and are sent,
 * with their own seqs, by the next link on the same directory; stored
 * once even when some were already stored; a torn last record is cut;
 * the directory and files are private; one sensor per directory; the
 * byte bound counts what it drops; heartbeats carry the backlog.
 * Real files, real ZeroMQ sockets, real SQLite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zmq.h>

#include "../../store/store.h"
#include "store_fixture.h"
#include "link_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "spool");
}

static struct mm_link *disk_link(struct fx *f, size_t spool, size_t bytes,
				 int beat_ms)
{
	struct mm_link_opts lo = {.endpoint = f->ep,
				  .sensor = "box1",
				  .spool_max = spool,
				  .spool_bytes = bytes,
				  .resend_ms = 200,
				  .spool_dir = f->spool,
				  .beat_ms = beat_ms};
	char err[512];
	struct mm_link *l = mm_link_new(NULL, &lo, err, sizeof(err));

	if (!l)
		fail_msg("mm_link_new: %s", err);
	return l;
}

/* spool files that hold records (empty ones are kept for reuse) */
static int count_segments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char p[512];
		struct stat sb;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (!strncmp(de->d_name, "spool-", 6) && stat(p, &sb) == 0 &&
		    sb.st_size > 0)
			n++;
	}
	closedir(d);
	return n;
}

/* no store at all: the records wait on disk through a "restart" */
static void test_restart_no_store(void **state)
{
	struct fx *f = *state;
	struct mm_link *l = disk_link(f, 1000, 0, -1);
	struct mm_link_stats st;
	struct store_server *s;
	struct stat sb;
	char p[200];
	enum { N = 300 };

	assert_int_equal(send_alerts(l, 0, N), N);
	assert_int_equal(mm_link_flush(l, 200), N);
	mm_link_free(l); /* the sensor stops with everything unsent */

	/* private: the directory 0700, the files 0600 */
	assert_int_equal(stat(f->spool, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_true(count_segments(f->spool) >= 1);
	snprintf(p, sizeof(p), "%s/state", f->spool);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/spool-00", f->spool);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* the next life reads them back and, once a store is there, sends */
	l = disk_link(f, 1000, 0, -1);
	mm_link_stats(l, &st);
	assert_int_equal(st.recovered, N);
	assert_int_equal(st.backlog, N);
	assert_consistent(l);
	assert_int_equal(send_alerts(l, N, 20), 20);
	s = fx_server(NULL, f->db, f->ep, 100);
	assert_int_equal(mm_link_flush(l, 8000), 0);
	mm_link_stats(l, &st);
	assert_int_equal(st.acked, N + 20);
	assert_consistent(l);
	mm_link_free(l);
	store_server_free(s);
	assert_alerts_once(f->db, N + 20);
	/* everything acknowledged: no segment left behind */
	assert_int_equal(count_segments(f->spool), 0);

	/* a third life has nothing to send, and new seqs above the old */
	l = disk_link(f, 1000, 0, -1);
	mm_link_stats(l, &st);
	assert_int_equal(st.recovered, 0);
	s = fx_server(NULL, f->db, f->ep, 100);
	assert_int_equal(send_alerts(l, N + 20, 5), 5);
	assert_int_equal(mm_link_flush(l, 8000), 0);
	mm_link_free(l);
	store_server_free(s);
	assert_alerts_once(f->db, N + 25);
}

/* some stored before the stop, some not: each stored once after */
static void test_restart_half_acked(void **state)
{
	struct fx *f = *state;
	struct store_server *s = fx_server(NULL, f->db, f->ep, 100);
	struct mm_link *l = disk_link(f, 5000, 0, -1);
	struct mm_link_stats st;
	enum { N1 = 500, N2 = 2000 };

	assert_int_equal(send_alerts(l, 0, N1), N1);
	assert_int_equal(mm_link_flush(l, 8000), 0);
	/* a burst, and the store goes while it is in flight */
	assert_int_equal(send_alerts(l, N1, N2), N2);
	usleep(3000);
	store_server_free(s);
	mm_link_free(l);

	l = disk_link(f, 5000, 0, -1);
	mm_link_stats(l, &st);
	/* at most what was not yet known to be acknowledged comes back */
	assert_true(st.recovered <= N2 + 0u);
	s = fx_server(NULL, f->db, f->ep, 100);
	assert_int_equal(mm_link_flush(l, 8000), 0);
	assert_consistent(l);
	mm_link_free(l);
	store_server_free(s);
	assert_alerts_once(f->db, N1 + N2);
}

/* more than one file's share: several files, all read back, all emptied */
static void test_many_files(void **state)
{
	struct fx *f = *state;
	struct mm_link *l = disk_link(f, 30000, 8 << 20, -1);
	struct mm_link_stats st;
	struct store_server *s;
	enum { N = 20000 };

	assert_int_equal(send_alerts(l, 0, N), N);
	for (int i = 0; i < 300; i++) {
		mm_link_stats(l, &st);
		if (st.backlog == N)
			break;
		usleep(10000);
	}
	mm_link_free(l);
	assert_true(count_segments(f->spool) >= 3);
	l = disk_link(f, 30000, 8 << 20, -1);
	mm_link_stats(l, &st);
	assert_int_equal(st.recovered, N);
	s = fx_server(NULL, f->db, f->ep, 100);
	assert_int_equal(mm_link_flush(l, 20000), 0);
	mm_link_free(l);
	store_server_free(s);
	assert_alerts_once(f->db, N);
	assert_int_equal(count_segments(f->spool), 0);
}

/* a crash in the middle of writing a record: it is cut, the rest kept */
static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct mm_link *l = disk_link(f, 1000, 0, -1);
	struct mm_link_stats st;
	struct store_server *s;
	DIR *d;
	struct dirent *de;
	char p[512] = "";
	FILE *fp;

	assert_int_equal(send_alerts(l, 0, 10), 10);
	mm_link_flush(l, 100);
	mm_link_free(l);
	d = opendir(f->spool);
	while ((de = readdir(d))) {
		struct stat sb;
		char q[512];
		snprintf(q, sizeof(q), "%s/%s", f->spool, de->d_name);
		if (!strncmp(de->d_name, "spool-", 6) && stat(q, &sb) == 0 &&
		    sb.st_size > 0)
			snprintf(p, sizeof(p), "%s", q);
	}
	closedir(d);
	assert_true(p[0]);
	fp = fopen(p, "ab");
	fwrite("MMS1\x40\x00\x00\x00half a record", 1, 21, fp);
	fclose(fp);
	l = disk_link(f, 1000, 0, -1);
	mm_link_stats(l, &st);
	assert_int_equal(st.recovered, 10);
	s = fx_server(NULL, f->db, f->ep, 100);
	assert_int_equal(mm_link_flush(l, 8000), 0);
	mm_link_free(l);
	store_server_free(s);
	assert_alerts_once(f->db, 10);
}

static void test_spool_dir_rules(void **state)
{
	struct fx *f = *state;
	struct mm_link_opts lo = {.endpoint = f->ep, .sensor = "box1",
				  .spool_max = 10, .spool_dir = f->spool,
				  .beat_ms = -1};
	struct mm_link *l = disk_link(f, 10, 0, -1), *l2;
	char err[512] = "";

	/* one sensor per directory */
	l2 = mm_link_new(NULL, &lo, err, sizeof(err));
	assert_null(l2);
	assert_non_null(strstr(err, "in use by another sensor"));
	mm_link_free(l);
	/* a directory others may read is refused */
	chmod(f->spool, 0755);
	l2 = mm_link_new(NULL, &lo, err, sizeof(err));
	assert_null(l2);
	assert_non_null(strstr(err, "chmod 700"));
}

/* the byte bound: what exceeds it is dropped and counted */
static void test_spool_bytes(void **state)
{
	struct fx *f = *state;
	struct mm_link *l = disk_link(f, 10000, 20000, -1);
	struct mm_link_stats st;
	struct store_server *s;
	int kept;

	assert_int_equal(send_alerts(l, 0, 1000), 1000);
	/*
	 * queued == acked + dropped + backlog holds at every moment, and the
	 * link thread takes the records from its inbox into the spool (where
	 * the byte bound drops more) at its own pace, slowly under ASan: wait
	 * until the counters have not moved for half a second.
	 */
	uint64_t last_backlog = UINT64_MAX;
	int still = 0;
	for (int i = 0; i < 3000 && still < 50; i++) {
		mm_link_stats(l, &st);
		still = st.backlog == last_backlog ? still + 1 : 0;
		last_backlog = st.backlog;
		usleep(10000);
	}
	assert_int_equal(still, 50);
	assert_int_equal(st.backlog + st.dropped, 1000);
	assert_true(st.dropped > 0);
	assert_true(st.spool_bytes <= 20000);
	assert_consistent(l);
	kept = (int)st.backlog;
	s = fx_server(NULL, f->db, f->ep, 100);
	assert_int_equal(mm_link_flush(l, 8000), 0);
	mm_link_free(l);
	store_server_free(s);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), kept);
}

/* heartbeats: the store learns the backlog while records wait */
static void test_beats(void **state)
{
	struct fx *f = *state;
	struct store_server *s = fx_server(NULL, f->db, f->ep, 100);
	struct store_server_stats ss;
	struct mm_link *l;
	struct mm_link_opts lo = {.endpoint = f->ep, .sensor = "box1",
				  .spool_max = 100, .resend_ms = 200,
				  .beat_ms = 50};
	char err[256];

	l = mm_link_new(NULL, &lo, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(send_alerts(l, 0, 3), 3);
	assert_int_equal(mm_link_flush(l, 5000), 0);
	for (int i = 0; i < 200; i++) {
		store_server_stats(s, &ss);
		if (ss.beats >= 3)
			break;
		usleep(10000);
	}
	assert_true(ss.beats >= 3);
	mm_link_free(l);
	store_server_free(s);
	assert_int_equal(q1(f->db, "SELECT json_extract(link, '$.backlog') "
				   "FROM sensors"),
			 0);
	assert_int_equal(q1(f->db, "SELECT json_extract(link, '$.queued') "
				   "FROM sensors"),
			 3);
	assert_true(q1(f->db, "SELECT acked_below FROM sensors") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restart_no_store, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_half_acked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_dir_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_spool_bytes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_beats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
