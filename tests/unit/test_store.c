/*
 * test_store.c - the alert store: schema, idempotent insert, aggregation,
 * record kinds, and the server + link round trip over inproc:// and
 * tcp://127.0.0.1 with real SQLite files and real ZeroMQ sockets.
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

#include <cmocka.h>
#include <sqlite3.h>
#include <zmq.h>

#include "../../store/store.h"
#include "store_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "store");
}

static struct store_db *open_db(struct fx *f, double window)
{
	struct store_db_opts o = {.aggregate_window = window};
	char err[256] = "";
	struct store_db *d = store_db_open(f->db, &o, err, sizeof(err));

	if (!d)
		fail_msg("store_db_open: %s", err);
	return d;
}

/* an EVE alert; zone NULL leaves the field out, "null" writes null */
static int alert_json(char *buf, size_t len, const char *ts, const char *sig,
		      int dport, const char *szone, const char *dzone)
{
	char sz[64], dz[64];

	if (!szone)
		sz[0] = '\0';
	else if (!strcmp(szone, "null"))
		snprintf(sz, sizeof(sz), "\"src_zone\":null,");
	else
		snprintf(sz, sizeof(sz), "\"src_zone\":\"%s\",", szone);
	if (!dzone)
		dz[0] = '\0';
	else if (!strcmp(dzone, "null"))
		snprintf(dz, sizeof(dz), "\"dest_zone\":null,");
	else
		snprintf(dz, sizeof(dz), "\"dest_zone\":\"%s\",", dzone);
	return snprintf(
		buf, len,
		"{\"timestamp\":\"%s\",\"flow_id\":17,\"event_type\":\"alert\","
		"\"src_ip\":\"10.3.0.30\",\"src_port\":50123,"
		"\"dest_ip\":\"10.10.2.10\",\"dest_port\":%d,\"proto\":\"TCP\","
		"\"app_proto\":\"modbus\",\"sensor\":\"box1\",%s%s"
		"\"alert\":{\"action\":\"allowed\",\"signature_id\":2000002,"
		"\"signature\":\"%s\",\"category\":\"Policy Violation\","
		"\"severity\":2,\"metadata\":{\"op\":[\"write\"]}},"
		"\"modbus\":{\"tid\":7,\"unit\":1,\"fc\":16}}",
		ts, dport, sz, dz, sig);
}

static int put_alert(struct store_db *d, uint64_t seq, const char *ts,
		     const char *sig, int dport)
{
	char j[1024], err[256];
	int n = alert_json(j, sizeof(j), ts, sig, dport, "seisan_kanri",
			   "seigyo_line2");

	return store_db_put(d, "alert", "box1", seq, j, (size_t)n, err,
			    sizeof(err));
}

/* ---------------- db ---------------- */

static void test_schema(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 0);
	char buf[64];

	store_db_close(d);
	assert_int_equal(q1(f->db, "PRAGMA user_version"), 4);
	assert_string_equal(qs(f->db, "PRAGMA journal_mode", buf, sizeof(buf)),
			    "wal");
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sqlite_master WHERE "
				   "type='table' AND name IN ('alerts',"
				   "'ingest','sensors','assets')"),
			 4);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sqlite_master WHERE "
				   "type='index' AND name LIKE 'alerts_%'"),
			 5);
	/* reopening an existing store keeps it */
	d = open_db(f, 0);
	assert_int_equal(put_alert(d, 1, "2015-10-22T10:00:01.123456Z", "a.b",
				   502),
			 1);
	store_db_close(d);
	d = open_db(f, 0);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 1);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	char err[256] = "", p[160];
	FILE *fp;
	struct store_db_opts o = {0};

	snprintf(p, sizeof(p), "%s/nodir/x.db", f->dir);
	assert_null(store_db_open(p, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "nodir/x.db"));
	/* not a database */
	fp = fopen(f->db, "w");
	assert_non_null(fp);
	fputs("this is not sqlite, just text that is long enough to be a "
	      "header of a file, really\n",
	      fp);
	fclose(fp);
	err[0] = '\0';
	assert_null(store_db_open(f->db, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "not a database"));
	/* a store of a newer schema is refused, not changed */
	unlink(f->db);
	{
		sqlite3 *h;
		assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
		sqlite3_exec(h, "PRAGMA user_version=99", NULL, NULL, NULL);
		sqlite3_close(h);
	}
	assert_null(store_db_open(f->db, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "newer"));
}

static void test_put_duplicate(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 0);

	assert_int_equal(store_db_begin(d), 0);
	assert_int_equal(put_alert(d, 42, "2015-10-22T10:00:01.123456Z",
				   "zone.op_not_allowed", 502),
			 1);
	assert_int_equal(put_alert(d, 42, "2015-10-22T10:00:01.123456Z",
				   "zone.op_not_allowed", 502),
			 0);
	assert_int_equal(store_db_commit(d), 0);
	/* across transactions and reopen too */
	store_db_close(d);
	d = open_db(f, 0);
	assert_int_equal(put_alert(d, 42, "2015-10-22T10:00:01.123456Z",
				   "zone.op_not_allowed", 502),
			 0);
	/* another sensor may use the same seq */
	{
		char j[1024], err[256];
		int n = alert_json(j, sizeof(j), "2015-10-22T10:00:01Z",
				   "zone.op_not_allowed", 502, NULL, NULL);
		assert_int_equal(store_db_put(d, "alert", "box2", 42, j,
					      (size_t)n, err, sizeof(err)),
				 1);
	}
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 2);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest"), 2);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "sensor='box1' AND seq=42 AND count=1 AND "
				   "severity=2 AND dest_port=502 AND "
				   "src_zone='seisan_kanri' AND "
				   "dest_zone='seigyo_line2' AND "
				   "ts='2015-10-22T10:00:01.123456Z' AND "
				   "eve LIKE '{\"timestamp\"%'"),
			 1);
	/* a sensor that only sent alerts is known, with its last contact */
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "last_contact IS NOT NULL"),
			 2);
	/* the box2 alert had no zones: NULL, and its ts was normalised */
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "sensor='box2' AND src_zone IS NULL AND "
				   "dest_zone IS NULL AND "
				   "ts='2015-10-22T10:00:01.000000Z'"),
			 1);
}

static void test_null_zone(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 0);
	char j[1024], err[256];
	int n = alert_json(j, sizeof(j), "2015-10-22T10:00:01Z", "x.y", 502,
			   "null", "制御系");

	assert_int_equal(store_db_put(d, "alert", "box1", 1, j, (size_t)n, err,
				      sizeof(err)),
			 1);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "src_zone IS NULL AND dest_zone='制御系'"),
			 1);
}

static void test_aggregation(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 1.0);
	char buf[64];

	assert_int_equal(store_db_begin(d), 0);
	/* a 100 ms polling loop: one row */
	for (int i = 0; i < 10; i++) {
		char ts[40];
		snprintf(ts, sizeof(ts), "2015-10-22T10:00:0%d.%06dZ",
			 1 + i / 10, (i % 10) * 100000);
		assert_int_equal(put_alert(d, 100 + (uint64_t)i, ts,
					   "zone.op_not_allowed", 502),
				 1);
	}
	/* 5 s later: outside the 1 s window, a new row */
	assert_int_equal(put_alert(d, 200, "2015-10-22T10:00:06.900000Z",
				   "zone.op_not_allowed", 502),
			 1);
	/* another port: another row */
	assert_int_equal(put_alert(d, 201, "2015-10-22T10:00:01.000000Z",
				   "zone.op_not_allowed", 503),
			 1);
	/* a late, older repeat (a resend after a restart) within the
	 * window of the first run: counted there, first_ts moves back */
	assert_int_equal(put_alert(d, 202, "2015-10-22T10:00:00.500000Z",
				   "zone.op_not_allowed", 502),
			 1);
	assert_int_equal(store_db_commit(d), 0);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 3);
	assert_int_equal(q1(f->db, "SELECT count FROM alerts WHERE seq=100"),
			 11);
	assert_string_equal(qs(f->db, "SELECT first_ts FROM alerts WHERE seq=100",
			       buf, sizeof(buf)),
			    "2015-10-22T10:00:00.500000Z");
	assert_string_equal(qs(f->db, "SELECT last_ts FROM alerts WHERE seq=100",
			       buf, sizeof(buf)),
			    "2015-10-22T10:00:01.900000Z");
	assert_string_equal(qs(f->db, "SELECT ts FROM alerts WHERE seq=100",
			       buf, sizeof(buf)),
			    "2015-10-22T10:00:01.000000Z");
	assert_int_equal(q1(f->db, "SELECT count FROM alerts WHERE seq=200"), 1);
	assert_int_equal(q1(f->db, "SELECT sum(count) FROM alerts"), 13);
}

/* a repeat that is more severe than the row must not be hidden by it */
static void test_aggregation_keeps_worst_severity(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 60.0);
	char err[256];
	static const char *const sev_json[] = {
		"{\"timestamp\":\"2015-10-22T10:00:01.000000Z\",\"event_type\":\"alert\","
		"\"src_ip\":\"10.3.0.30\",\"dest_ip\":\"10.10.2.10\",\"dest_port\":502,"
		"\"alert\":{\"signature\":\"zone.op_not_allowed\",\"severity\":3},"
		"\"modbus\":{\"fc\":8}}",
		"{\"timestamp\":\"2015-10-22T10:00:02.000000Z\",\"event_type\":\"alert\","
		"\"src_ip\":\"10.3.0.30\",\"dest_ip\":\"10.10.2.10\",\"dest_port\":502,"
		"\"alert\":{\"signature\":\"zone.op_not_allowed\",\"severity\":1},"
		"\"modbus\":{\"fc\":6}}",
		"{\"timestamp\":\"2015-10-22T10:00:03.000000Z\",\"event_type\":\"alert\","
		"\"src_ip\":\"10.3.0.30\",\"dest_ip\":\"10.10.2.10\",\"dest_port\":502,"
		"\"alert\":{\"signature\":\"zone.op_not_allowed\",\"severity\":2},"
		"\"modbus\":{\"fc\":16}}",
	};
	char buf[512];

	assert_int_equal(store_db_begin(d), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_db_put(d, "alert", "box1", 300 + (uint64_t)i,
					      sev_json[i], strlen(sev_json[i]),
					      err, sizeof(err)), 1);
	assert_int_equal(store_db_commit(d), 0);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 1);
	assert_int_equal(q1(f->db, "SELECT count FROM alerts"), 3);
	assert_int_equal(q1(f->db, "SELECT severity FROM alerts"), 1);
	/* the record kept is the severe one's */
	assert_non_null(strstr(qs(f->db, "SELECT eve FROM alerts", buf, sizeof(buf)),
			       "\"fc\":6"));
}

static void test_aggregation_off(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 0);

	for (int i = 0; i < 5; i++)
		assert_int_equal(put_alert(d, (uint64_t)i + 1,
					   "2015-10-22T10:00:01.000000Z",
					   "zone.op_not_allowed", 502),
				 1);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 5);
	assert_int_equal(q1(f->db, "SELECT max(count) FROM alerts"), 1);
}

static void test_bad_records(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 10);
	char err[256];
	static const char nosig[] = "{\"timestamp\":\"2015-10-22T10:00:01Z\","
				    "\"alert\":{\"severity\":1}}";
	static const char badts[] = "{\"timestamp\":\"yesterday\","
				    "\"alert\":{\"signature\":\"a.b\"}}";

	err[0] = '\0';
	assert_int_equal(store_db_put(d, "alert", "box1", 1, "{\"ts\":", 6, err,
				      sizeof(err)),
			 -1);
	assert_true(store_db_err_is_record(d));
	assert_non_null(strstr(err, "not valid JSON"));
	assert_int_equal(store_db_put(d, "alert", "box1", 2, nosig,
				      strlen(nosig), err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "signature"));
	assert_int_equal(store_db_put(d, "alert", "box1", 3, badts,
				      strlen(badts), err, sizeof(err)),
			 -1);
	assert_int_equal(store_db_put(d, "alert", "box1", 4, "[1,2]", 5, err,
				      sizeof(err)),
			 -1);
	assert_int_equal(store_db_put(d, "gossip", "box1", 5, "{}", 2, err,
				      sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "unknown record kind"));
	assert_true(store_db_err_is_record(d));
	assert_int_equal(store_db_put(d, "asset", "box1", 6, "{\"mac\":\"x\"}",
				      11, err, sizeof(err)),
			 -1);
	/* JSON without a NUL in the buffer: only len bytes are read */
	assert_int_equal(store_db_put(d, "stats", "box1", 7, "{}garbage", 2,
				      err, sizeof(err)),
			 1);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 0);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM assets"), 0);
	/* a bad record leaves no trace, so nothing blocks a good resend */
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest"), 1);
}

static void test_hello_stats_asset(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 0);
	char err[256], buf[512];
	static const char h1[] =
		"{\"sensor\":\"box1\",\"site\":\"第1工場\",\"version\":\"0.1\","
		"\"zones_file\":\"/etc/mimamori/zones.yaml\",\"zones_yaml\":"
		"\"zones:\\n  - id: seigyo\\n\"}";
	static const char h2[] =
		"{\"sensor\":\"box1\",\"site\":\"第2工場\",\"version\":\"0.2\"}";
	static const char s1[] = "{\"packets\":10,\"drops\":0}";
	static const char s2[] = "{\"packets\":20,\"drops\":1}";
	static const char a1[] =
		"{\"ip\":\"10.10.2.10\",\"mac\":\"00:11:22:33:44:55\","
		"\"zone\":\"seigyo_line2\",\"timestamp\":"
		"\"2015-10-22T10:00:05Z\",\"vendor\":\"Acme\",\"model\":\"P1\"}";
	static const char a2[] =
		"{\"ip\":\"10.10.2.10\",\"timestamp\":\"2015-10-22T10:00:09Z\","
		"\"firmware\":\"2.1\",\"model\":\"P2\"}";
	/* late and older: must not undo the newer model */
	static const char a3[] =
		"{\"ip\":\"10.10.2.10\",\"timestamp\":\"2015-10-22T10:00:01Z\","
		"\"model\":\"P0\",\"serial\":\"S9\"}";

	assert_int_equal(store_db_put(d, "hello", "box1", 1, h1, strlen(h1),
				      err, sizeof(err)),
			 1);
	assert_int_equal(store_db_put(d, "stats", "box1", 2, s1, strlen(s1),
				      err, sizeof(err)),
			 1);
	assert_int_equal(store_db_put(d, "stats", "box1", 3, s2, strlen(s2),
				      err, sizeof(err)),
			 1);
	assert_int_equal(store_db_put(d, "hello", "box1", 4, h2, strlen(h2),
				      err, sizeof(err)),
			 1);
	assert_int_equal(store_db_put(d, "asset", "box1", 5, a1, strlen(a1),
				      err, sizeof(err)),
			 1);
	assert_int_equal(store_db_put(d, "asset", "box1", 6, a2, strlen(a2),
				      err, sizeof(err)),
			 1);
	assert_int_equal(store_db_put(d, "asset", "box1", 7, a3, strlen(a3),
				      err, sizeof(err)),
			 1);
	/* stats from a sensor never seen: a row all the same */
	assert_int_equal(store_db_put(d, "stats", "box9", 1, s1, strlen(s1),
				      err, sizeof(err)),
			 1);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors"), 2);
	assert_string_equal(qs(f->db, "SELECT site FROM sensors WHERE sensor='box1'",
			       buf, sizeof(buf)),
			    "第2工場");
	assert_int_equal(q1(f->db, "SELECT hellos FROM sensors WHERE sensor='box1'"),
			 2);
	assert_string_equal(qs(f->db, "SELECT stats FROM sensors WHERE sensor='box1'",
			       buf, sizeof(buf)),
			    s2);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "sensor='box1' AND last_contact >= "
				   "first_contact"),
			 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM assets"), 1);
	assert_string_equal(qs(f->db, "SELECT mac||'|'||zone||'|'||first_ts||'|'||"
				      "last_ts FROM assets",
			       buf, sizeof(buf)),
			    "00:11:22:33:44:55|seigyo_line2|"
			    "2015-10-22T10:00:01.000000Z|"
			    "2015-10-22T10:00:09.000000Z");
	assert_string_equal(qs(f->db, "SELECT json_extract(facts,'$.model')||"
				      "json_extract(facts,'$.vendor')||"
				      "json_extract(facts,'$.firmware')||"
				      "json_extract(facts,'$.serial') FROM assets",
			       buf, sizeof(buf)),
			    "P2Acme2.1S9");
}

static void test_ts_parse(void **state)
{
	int64_t s, u;

	(void)state;
	assert_int_equal(store_ts_parse("2015-10-22T10:00:01.123456Z", &s, &u),
			 0);
	assert_int_equal(s, 1445508001);
	assert_int_equal(u, 123456);
	assert_int_equal(store_ts_parse("2015-10-22T19:00:01.1+0900", &s, &u), 0);
	assert_int_equal(s, 1445508001);
	assert_int_equal(u, 100000);
	assert_int_equal(store_ts_parse("2015-10-22T10:00:01.1234567-00:00", &s,
					&u),
			 0);
	assert_int_equal(u, 123456);
	assert_int_equal(store_ts_parse("2015-10-22", &s, &u), 0);
	assert_int_equal(s, 1445472000);
	assert_int_equal(store_ts_parse("2015-10-22 10:00", &s, &u), 0);
	assert_int_equal(s, 1445508000);
	assert_int_equal(store_ts_parse("2015-13-22", &s, &u), -1);
	assert_int_equal(store_ts_parse("2015-10-22T", &s, &u), -1);
	assert_int_equal(store_ts_parse("2015-10-22T10:00:01Zjunk", &s, &u), -1);
	assert_int_equal(store_ts_parse("", &s, &u), -1);
	assert_int_equal(store_ts_parse("2015-10-22T10:00:01.", &s, &u), -1);
}

/* ---------------- server + link ---------------- */

/* the server counts an ack just after sending it: the link may have it
 * first */
static void wait_acks(struct store_server *s, uint64_t acks)
{
	struct store_server_stats st;

	for (int i = 0; i < 300; i++) {
		store_server_stats(s, &st);
		if (st.acks >= acks)
			return;
		usleep(10000);
	}
}

static void round_trip(struct fx *f, void *zctx, const char *endpoint)
{
	struct store_server_opts so = {.endpoint = endpoint,
				       .db_path = f->db,
				       .aggregate_window = 0,
				       .batch_max = 100,
				       .batch_ms = 20};
	char err[512] = "", j[1024];
	struct store_server *s = store_server_new(zctx, &so, err, sizeof(err));
	struct mm_link *l;
	struct mm_link_stats ls;
	struct store_server_stats ss;
	enum { N = 500 };
	static const char hello[] = "{\"sensor\":\"box1\",\"site\":\"A\"}";

	if (!s)
		fail_msg("store_server_new(%s): %s", endpoint, err);
	assert_int_equal(store_server_start_thread(s), 0);
	struct mm_link_opts lo = {.endpoint = store_server_endpoint(s),
				  .sensor = "box1",
				  .spool_max = 1000,
				  .resend_ms = 1000};
	l = mm_link_new(zctx, &lo, err, sizeof(err));
	if (!l)
		fail_msg("mm_link_new(%s): %s", lo.endpoint, err);
	for (int i = 0; i < N; i++) {
		char ts[40];
		snprintf(ts, sizeof(ts), "2015-10-22T10:%02d:%02d.000000Z",
			 i / 60, i % 60);
		int n = alert_json(j, sizeof(j), ts, "zone.op_not_allowed", 502,
				   "seisan_kanri", "seigyo_line2");
		assert_int_equal(mm_link_send(l, "alert", j, (size_t)n), 0);
		if (i == 10)
			assert_int_equal(mm_link_send(l, "hello", hello,
						      strlen(hello)),
					 0);
	}
	/* a bad record is acknowledged too: it must not stay spooled */
	assert_int_equal(mm_link_send(l, "alert", "{oops", 5), 0);
	assert_int_equal(mm_link_flush(l, 5000), 0);
	mm_link_stats(l, &ls);
	assert_int_equal(ls.queued, N + 2);
	assert_int_equal(ls.acked, N + 2);
	assert_int_equal(ls.dropped, 0);
	assert_int_equal(ls.backlog, 0);
	assert_true(ls.sent == N + 2);
	wait_acks(s, N + 2);
	store_server_stats(s, &ss);
	assert_int_equal(ss.stored, N + 1);
	assert_int_equal(ss.errors, 1);
	assert_int_equal(ss.malformed, 0);
	assert_int_equal(ss.db_errors, 0);
	assert_int_equal(ss.acks, ss.stored + ss.errors + ss.duplicates);
	assert_true(ss.batches >= 1);
	/* batching: far fewer transactions than records */
	assert_true(ss.batches <= N / 2);
	mm_link_free(l);
	store_server_stop(s);
	store_server_free(s);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), N);
	assert_int_equal(q1(f->db, "SELECT count(DISTINCT seq) FROM alerts"), N);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "site='A'"),
			 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest"), N + 1);
}

static void test_round_trip_inproc(void **state)
{
	void *zctx = zmq_ctx_new();

	round_trip(*state, zctx, "inproc://mm-test-store");
	zmq_ctx_term(zctx);
}

static void test_round_trip_tcp(void **state)
{
	/* the server and the link each make their own context */
	round_trip(*state, NULL, "tcp://127.0.0.1:*");
}

static void test_refuses_public_tcp(void **state)
{
	struct fx *f = *state;
	struct store_server_opts so = {.endpoint = "tcp://0.0.0.0:17651",
				       .db_path = f->db};
	char err[512] = "";

	assert_null(store_server_new(NULL, &so, err, sizeof(err)));
	assert_non_null(strstr(err, "CurveZMQ"));
	so.endpoint = "tcp://*:17651";
	assert_null(store_server_new(NULL, &so, err, sizeof(err)));
	so.endpoint = "tcp://127.0.0.2:17651";
	assert_null(store_server_new(NULL, &so, err, sizeof(err)));
	/* and an unopenable database is reported with its file */
	so.endpoint = "inproc://x";
	so.db_path = "/nonexistent-dir/store.db";
	assert_null(store_server_new(NULL, &so, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/store.db"));
}

static void send_frames(void *sock, int n, const char *const *fr,
			const size_t *len)
{
	for (int i = 0; i < n; i++)
		assert_true(zmq_send(sock, fr[i], len[i],
				     i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;
	void *zctx = zmq_ctx_new();
	struct store_server_opts so = {.endpoint = "inproc://mm-malformed",
				       .db_path = f->db,
				       .batch_max = 10,
				       .batch_ms = 10};
	char err[512];
	struct store_server *s = store_server_new(zctx, &so, err, sizeof(err));
	struct store_server_stats ss;
	void *d;
	int v = 0;
	static const char seq8[8] = {0, 0, 0, 0, 0, 0, 0, 7};
	static const char good[] = "{\"timestamp\":\"2015-10-22T10:00:01Z\","
				   "\"alert\":{\"signature\":\"a.b\"}}";
	uint8_t buf[64];

	assert_non_null(s);
	assert_int_equal(store_server_start_thread(s), 0);
	d = zmq_socket(zctx, ZMQ_DEALER);
	zmq_setsockopt(d, ZMQ_LINGER, &v, sizeof(v));
	v = 3000;
	zmq_setsockopt(d, ZMQ_RCVTIMEO, &v, sizeof(v));
	assert_int_equal(zmq_connect(d, so.endpoint), 0);
	{	/* too few frames */
		const char *fr[] = {"MM1", "alert"};
		size_t len[] = {3, 5};
		send_frames(d, 2, fr, len);
	}
	{	/* bad magic */
		const char *fr[] = {"MM2", "alert", "box1", seq8, good};
		size_t len[] = {3, 5, 4, 8, strlen(good)};
		send_frames(d, 5, fr, len);
	}
	{	/* seq of 4 bytes */
		const char *fr[] = {"MM1", "alert", "box1", seq8, good};
		size_t len[] = {3, 5, 4, 4, strlen(good)};
		send_frames(d, 5, fr, len);
	}
	{	/* too many frames */
		const char *fr[] = {"MM1", "alert", "box1", seq8, good, "x"};
		size_t len[] = {3, 5, 4, 8, strlen(good), 1};
		send_frames(d, 6, fr, len);
	}
	{	/* empty sensor id */
		const char *fr[] = {"MM1", "alert", "", seq8, good};
		size_t len[] = {3, 5, 0, 8, strlen(good)};
		send_frames(d, 5, fr, len);
	}
	{	/* and a good one, acked with its seq */
		const char *fr[] = {"MM1", "alert", "box1", seq8, good};
		size_t len[] = {3, 5, 4, 8, strlen(good)};
		send_frames(d, 5, fr, len);
	}
	/* one frame: "MM1ack" and the sequence number */
	assert_int_equal(zmq_recv(d, buf, sizeof(buf), 0), 14);
	assert_memory_equal(buf, "MM1ack", 6);
	assert_memory_equal(buf + 6, seq8, 8);
	store_server_stats(s, &ss);
	assert_int_equal(ss.malformed, 5);
	assert_int_equal(ss.stored, 1);
	zmq_close(d);
	store_server_stop(s);
	store_server_free(s);
	zmq_ctx_term(zctx);
	assert_int_equal(q1(f->db, "SELECT seq FROM alerts"), 7);
}

/* batching: how many records per second one transaction per batch gives
 * (printed for the report, asserted only loosely) */
static void test_put_rate(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, 60);
	char j[1024], err[256];
	struct timespec t0, t1;
	enum { N = 20000, BATCH = 1000 };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++) {
		char ts[40];
		if (i % BATCH == 0)
			assert_int_equal(store_db_begin(d), 0);
		snprintf(ts, sizeof(ts), "2015-10-22T%02d:%02d:%02d.000000Z",
			 i / 3600, i / 60 % 60, i % 60);
		/* half repeats (aggregated), half distinct signatures */
		int n = alert_json(j, sizeof(j), ts,
				   i % 2 ? "zone.op_not_allowed" : "x.y",
				   i % 2 ? 502 : 1000 + i % 1000, "a", "b");
		assert_true(store_db_put(d, "alert", "box1", (uint64_t)i + 1,
					 j, (size_t)n, err, sizeof(err)) == 1);
		if (i % BATCH == BATCH - 1)
			assert_int_equal(store_db_commit(d), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	store_db_close(d);
	double dt = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "# %d alerts in batches of %d: %.0f records/s\n", N,
		BATCH, N / dt);
	assert_int_equal(q1(f->db, "SELECT sum(count) FROM alerts"), N);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest"), N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_put_duplicate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_null_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_aggregation_keeps_worst_severity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregation_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_records, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hello_stats_asset, setup,
						teardown),
		cmocka_unit_test(test_ts_parse),
		cmocka_unit_test_setup_teardown(test_round_trip_inproc, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_tcp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refuses_public_tcp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_rate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
