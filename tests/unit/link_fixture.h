/*
 * link_fixture.h - what the link tests (test_link.c, test_link_disk.c)
 * share: a store server in its own thread, numbered alerts sent over a
 * link, and the checks that nothing was lost or stored twice.
 *
 * Include after store.h and store_fixture.h (q1).
 */
#ifndef MM_TEST_LINK_FIXTURE_H
#define MM_TEST_LINK_FIXTURE_H

#include <stdio.h>

/* a store on ep writing db, batches of at most batch_max, started */
static inline struct store_server *fx_server(void *zctx, const char *db,
					     const char *ep, int batch_max)
{
	struct store_server_opts so = {.endpoint = ep,
				       .db_path = db,
				       .aggregate_window = 0,
				       .batch_max = batch_max,
				       .batch_ms = 10};
	char err[512];
	struct store_server *s = store_server_new(zctx, &so, err, sizeof(err));

	if (!s)
		fail_msg("store_server_new(%s): %s", ep, err);
	assert_int_equal(store_server_start_thread(s), 0);
	return s;
}

/* alerts first .. first + n - 1, each with its number in "n"; how many
 * the link took */
static inline int send_alerts(struct mm_link *l, int first, int n)
{
	char j[512];
	int ok = 0;

	for (int i = first; i < first + n; i++) {
		int len = snprintf(
			j, sizeof(j),
			"{\"timestamp\":\"2015-10-22T10:%02d:%02d.000000Z\","
			"\"event_type\":\"alert\",\"src_ip\":\"10.3.0.30\","
			"\"dest_ip\":\"10.10.2.10\",\"dest_port\":502,"
			"\"n\":%d,\"alert\":{\"signature\":\"t.n\","
			"\"severity\":3}}",
			i / 60 % 60, i % 60, i);
		if (mm_link_send(l, "alert", j, (size_t)len) == 0)
			ok++;
	}
	return ok;
}

/* every record the link was handed is acked, dropped or waiting */
static inline void assert_consistent(struct mm_link *l)
{
	struct mm_link_stats st;

	mm_link_stats(l, &st);
	assert_int_equal(st.queued, st.acked + st.dropped + st.backlog);
}

/* every alert 0 .. n-1 stored exactly once */
static inline void assert_alerts_once(const char *db, long long n)
{
	assert_int_equal(q1(db, "SELECT count(*) FROM alerts"), n);
	assert_int_equal(q1(db, "SELECT count(DISTINCT seq) FROM alerts"), n);
	assert_int_equal(q1(db, "SELECT count(DISTINCT json_extract(eve,'$.n'))"
				" FROM alerts"),
			 n);
}

#endif /* MM_TEST_LINK_FIXTURE_H */
