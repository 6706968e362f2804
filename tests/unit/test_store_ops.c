/*
 * test_store_ops.c - the store as a product: sensor.silent and its end,
 * retention by age and by size in bounded steps, heartbeats and the
 * pruning of (sensor, seq) rows, a late hello not undoing a newer one,
 * safety at open (file mode, a second store, a damaged or locked file),
 * filter values full of SQL stored verbatim, CurveZMQ keys and the ZAP
 * allow-list over real sockets, the PUB socket, and syslog forwarding
 * (JSON and CEF, RFC 5424 over UDP and TCP, the local datagram socket).
 * Real SQLite files, real ZeroMQ and kernel sockets.
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
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zmq.h>

#include "../../store/store.h"
#include "store_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "ops");
}

/* change the store's file behind its back (WAL: while it is open) */
static void exec_rw(const char *db, const char *sql)
{
	sqlite3 *h;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(h);
}

static struct store_db *open_db(struct fx *f, const struct store_db_opts *o)
{
	char err[512] = "";
	struct store_db *d = store_db_open(f->db, o, err, sizeof(err));

	if (!d)
		fail_msg("store_db_open: %s", err);
	return d;
}

static int put(struct store_db *d, const char *sensor, uint64_t seq,
	       const char *kind, const char *json)
{
	char err[512];
	int rc = store_db_put(d, kind, sensor, seq, json, strlen(json), err,
			      sizeof(err));

	if (rc < 0 && !store_db_err_is_record(d))
		fail_msg("store_db_put: %s", err);
	return rc;
}

static const char a1[] =
	"{\"timestamp\":\"2015-10-22T10:00:01Z\",\"src_ip\":\"10.0.0.1\","
	"\"dest_ip\":\"10.0.0.2\",\"dest_port\":502,\"app_proto\":\"modbus\","
	"\"alert\":{\"signature\":\"zone.no_conduit\",\"severity\":1}}";

/* ---------------- sensor.silent ---------------- */

static void test_silence(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, NULL);
	char err[256], buf[512];
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	assert_int_equal(put(d, "box1", 1, "hello",
			     "{\"site\":\"第1工場\",\"version\":\"0.1\"}"),
			 1);
	assert_int_equal(put(d, "box2", 1, "alert", a1), 1);
	/* box1 last heard of an hour ago; box2 just now */
	exec_rw(f->db, "UPDATE sensors SET last_contact = "
		       "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3600 seconds')"
		       " WHERE sensor = 'box1'");
	/* a store up for only a second blames nobody yet */
	assert_int_equal(store_db_check_silence(d, 60, now.tv_sec, err,
						sizeof(err)),
			 0);
	assert_int_equal(store_db_check_silence(d, 60, now.tv_sec - 7200, err,
						sizeof(err)),
			 1);
	/* once per silence */
	assert_int_equal(store_db_check_silence(d, 60, now.tv_sec - 7200, err,
						sizeof(err)),
			 0);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "signature = 'sensor.silent' AND "
				   "sensor = 'box1' AND severity = 2 AND "
				   "seq = 0 AND json_extract(eve, '$.site') = "
				   "'第1工場'"),
			 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "silent_since IS NOT NULL"),
			 1);
	/* it comes back: sensor.returned, and the silence row spans it */
	assert_int_equal(put(d, "box1", 2, "stats", "{\"packets\":1}"), 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "signature = 'sensor.returned' AND "
				   "severity = 4 AND json_extract(eve, "
				   "'$.mimamori.silent_seconds') >= 3599"),
			 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "silent_since IS NOT NULL"),
			 0);
	assert_string_equal(
		qs(f->db, "SELECT (SELECT last_ts FROM alerts WHERE signature ="
			  " 'sensor.silent') >= (SELECT ts FROM alerts WHERE"
			  " signature = 'sensor.returned')",
		   buf, sizeof(buf)),
		"1");
	/* quiet again: a second silence is a second alert */
	exec_rw(f->db, "UPDATE sensors SET last_contact = "
		       "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3600 seconds')"
		       " WHERE sensor = 'box1'");
	assert_int_equal(store_db_check_silence(d, 60, now.tv_sec - 7200, err,
						sizeof(err)),
			 1);
	store_db_close(d);
	/* a store started again remembers who is silent */
	d = open_db(f, NULL);
	assert_int_equal(put(d, "box1", 3, "stats", "{\"packets\":2}"), 1);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "signature = 'sensor.silent'"),
			 2);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "signature = 'sensor.returned'"),
			 2);
}

/* ---------------- retention ---------------- */

static void fill(struct store_db *d, const char *sensor, int n, uint64_t seq0)
{
	char j[512], err[256];

	assert_int_equal(store_db_begin(d), 0);
	for (int i = 0; i < n; i++) {
		int len = snprintf(j, sizeof(j),
				   "{\"timestamp\":\"2015-10-22T10:00:01Z\","
				   "\"src_ip\":\"10.0.0.1\",\"dest_port\":%d,"
				   "\"pad\":\"%0200d\",\"alert\":{\"signature\":"
				   "\"t.fill\",\"severity\":3}}",
				   i, i);
		assert_int_equal(store_db_put(d, "alert", sensor,
					      seq0 + (uint64_t)i, j,
					      (size_t)len, err, sizeof(err)),
				 1);
	}
	assert_int_equal(store_db_commit(d), 0);
}

static void test_retention_age(void **state)
{
	struct fx *f = *state;
	struct store_db_opts o = {.retain_days = 7};
	struct store_db *d = open_db(f, &o);
	char err[256];
	long n, total = 0;
	int steps = 0;

	fill(d, "box1", 250, 1);
	/* the first 200 rows were stored ten days ago */
	exec_rw(f->db, "UPDATE alerts SET received = '2000-01-01T00:00:00Z'"
		       " WHERE id <= 200");
	while ((n = store_db_retention_step(d, 30, err, sizeof(err))) > 0) {
		assert_true(n <= 30 + 30); /* rows, and ingest rows */
		total += n;
		steps++;
		assert_true(steps < 100);
	}
	assert_int_equal(n, 0);
	assert_int_equal(total, 200);
	assert_true(steps >= 7); /* in bounded steps */
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 50);
	assert_int_equal(q1(f->db, "SELECT min(id) FROM alerts"), 201);
}

static void test_retention_size(void **state)
{
	struct fx *f = *state;
	/* 0.3 MiB: the empty schema 4 (baseline, obs_matrix) is 70 KiB */
	struct store_db_opts o = {.retain_mb = 0.3};
	struct store_db *d = open_db(f, &o);
	char err[256];
	long n;
	int steps = 0;

	fill(d, "box1", 3000, 1);
	assert_true(store_db_used_bytes(d) > 256 * 1024);
	while ((n = store_db_retention_step(d, 200, err, sizeof(err))) > 0)
		assert_true(++steps < 100);
	assert_int_equal(n, 0);
	assert_true(store_db_used_bytes(d) <= 0.3 * 1048576);
	store_db_close(d);
	/* the newest rows stay */
	assert_int_equal(q1(f->db, "SELECT max(dest_port) FROM alerts"), 2999);
	assert_true(q1(f->db, "SELECT count(*) FROM alerts") < 3000);
	assert_true(q1(f->db, "SELECT count(*) FROM alerts") > 100);
}

/* ---------------- heartbeats ---------------- */

static void test_beat_prunes_ingest(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, NULL);
	char err[256], buf[256];
	static const char beat[] = "{\"backlog\":7,\"dropped\":2}";

	fill(d, "box1", 100, 1000);
	fill(d, "box2", 10, 1000);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest"), 110);
	/* pruning lags a heartbeat behind: a copy sent before an ack may
	 * still be on its way on a dead connection */
	assert_int_equal(store_db_beat(d, "box1", 1060, beat, strlen(beat),
				       "box1-key", err, sizeof(err)),
			 0);
	while (store_db_retention_step(d, 25, err, sizeof(err)) > 0)
		;
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest"), 110);
	assert_int_equal(store_db_beat(d, "box1", 1090, beat, strlen(beat),
				       NULL, err, sizeof(err)),
			 0);
	assert_int_equal(store_db_beat(d, "box1", 1, "[1]", 3, NULL, err,
				       sizeof(err)),
			 -1);
	assert_true(store_db_err_is_record(d));
	while (store_db_retention_step(d, 25, err, sizeof(err)) > 0)
		;
	store_db_close(d);
	/* seqs below what box1 may still resend are gone; box2's stay */
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest WHERE "
				   "sensor = 'box1'"),
			 40);
	assert_int_equal(q1(f->db, "SELECT min(seq) FROM ingest WHERE "
				   "sensor = 'box1'"),
			 1060);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM ingest WHERE "
				   "sensor = 'box2'"),
			 10);
	assert_string_equal(qs(f->db, "SELECT key || ' ' || json_extract(link,"
				      " '$.backlog') FROM sensors WHERE "
				      "sensor = 'box1'",
			       buf, sizeof(buf)),
			    "box1-key 7");
	/* the alerts themselves are untouched */
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 110);
}

/* a store of the first schema is upgraded in place, its rows kept */
static void test_migrate_v1(void **state)
{
	struct fx *f = *state;
	struct store_db *d;

	exec_rw(f->db,
		"CREATE TABLE alerts(id INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
		" first_ts TEXT NOT NULL, last_ts TEXT NOT NULL, count INTEGER"
		" NOT NULL DEFAULT 1, sensor TEXT NOT NULL, seq INTEGER NOT NULL,"
		" signature TEXT NOT NULL, signature_id INTEGER, category TEXT,"
		" severity INTEGER, app_proto TEXT, proto TEXT, src_ip TEXT,"
		" src_port INTEGER, dest_ip TEXT, dest_port INTEGER, src_zone"
		" TEXT, dest_zone TEXT, received TEXT NOT NULL, eve TEXT NOT"
		" NULL);"
		"CREATE INDEX alerts_ts ON alerts(ts);"
		"CREATE INDEX alerts_last_ts ON alerts(last_ts);"
		"CREATE INDEX alerts_src_zone ON alerts(src_zone, last_ts);"
		"CREATE INDEX alerts_dest_zone ON alerts(dest_zone, last_ts);"
		"CREATE INDEX alerts_signature ON alerts(signature, last_ts);"
		"CREATE INDEX alerts_agg ON alerts(sensor, signature, src_ip,"
		" dest_ip, dest_port, last_ts);"
		"CREATE TABLE ingest(sensor TEXT NOT NULL, seq INTEGER NOT NULL,"
		" PRIMARY KEY(sensor, seq)) WITHOUT ROWID;"
		"CREATE TABLE sensors(sensor TEXT PRIMARY KEY, site TEXT, version"
		" TEXT, zones_file TEXT, zones_yaml TEXT, first_contact TEXT,"
		" last_contact TEXT, hellos INTEGER NOT NULL DEFAULT 0, stats"
		" TEXT);"
		"CREATE TABLE assets(sensor TEXT NOT NULL, ip TEXT NOT NULL, mac"
		" TEXT, zone TEXT, first_ts TEXT, last_ts TEXT, facts TEXT,"
		" PRIMARY KEY(sensor, ip));"
		"CREATE INDEX assets_zone ON assets(zone);"
		"INSERT INTO sensors(sensor, site, last_contact) VALUES('old',"
		" 'A', '2015-10-22T10:00:00.000000Z');"
		"INSERT INTO ingest VALUES('old', 7);"
		"PRAGMA user_version=1;");
	d = open_db(f, NULL);
	/* the old sensor's seq is still known: a resend is not stored */
	assert_int_equal(put(d, "old", 7, "alert", a1), 0);
	assert_int_equal(put(d, "old", 8, "alert", a1), 1);
	store_db_close(d);
	assert_int_equal(q1(f->db, "PRAGMA user_version"), 4);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "site = 'A' AND silent_since IS NULL AND "
				   "prune_below IS NULL AND link IS NULL"),
			 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sqlite_master WHERE "
				   "name = 'alerts_ts'"),
			 0);
}

/* a hello resent late (from a disk spool) does not undo a newer one */
static void test_late_hello(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, NULL);
	char buf[64];

	assert_int_equal(put(d, "box1", 50, "hello",
			     "{\"site\":\"new\",\"version\":\"0.2\"}"),
			 1);
	assert_int_equal(put(d, "box1", 10, "hello",
			     "{\"site\":\"old\",\"version\":\"0.1\"}"),
			 1);
	assert_int_equal(put(d, "box1", 60, "stats", "{\"n\":2}"), 1);
	assert_int_equal(put(d, "box1", 20, "stats", "{\"n\":1}"), 1);
	store_db_close(d);
	assert_string_equal(qs(f->db, "SELECT site || version || stats FROM "
				      "sensors",
			       buf, sizeof(buf)),
			    "new0.2{\"n\":2}");
}

/* ---------------- safety at open ---------------- */

static void test_open_safety(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, NULL), *d2;
	char err[512] = "";
	struct stat sb;
	sqlite3 *h;

	/* created private */
	assert_int_equal(stat(f->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* a second store on the same file is refused, with the reason */
	d2 = store_db_open(f->db, NULL, err, sizeof(err));
	assert_null(d2);
	assert_non_null(strstr(err, "in use by another mimamori-store"));
	assert_int_equal(put(d, "box1", 1, "alert", a1), 1);
	store_db_close(d);

	/* another program holding the write lock: a clear error, soon */
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			 SQLITE_OK);
	err[0] = '\0';
	assert_null(store_db_open(f->db, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "locked by another program"));
	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h);

	/* damaged pages: refused at open by the integrity check */
	{
		FILE *fp;
		char junk[4096];
		long size;
		memset(junk, 0xa5, sizeof(junk));
		/* fold the WAL into the file first */
		exec_rw(f->db, "PRAGMA wal_checkpoint(TRUNCATE)");
		fp = fopen(f->db, "r+b");
		assert_non_null(fp);
		fseek(fp, 0, SEEK_END);
		size = ftell(fp);
		assert_true(size >= 3 * 4096);
		/* a page of the middle, not the header */
		fseek(fp, 2 * 4096, SEEK_SET);
		fwrite(junk, 1, sizeof(junk), fp);
		fclose(fp);
	}
	err[0] = '\0';
	assert_null(store_db_open(f->db, NULL, err, sizeof(err)));
	assert_true(strstr(err, "damaged") || strstr(err, "malformed") ||
		    strstr(err, "not a database"));
}

/* filter-like values are data: stored and matched verbatim */
static void test_sql_in_values(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, NULL);
	static const char evil[] =
		"{\"timestamp\":\"2015-10-22T10:00:01Z\","
		"\"src_zone\":\"x'); DROP TABLE alerts; --\","
		"\"dest_zone\":\"\\\" OR 1=1; --\","
		"\"alert\":{\"signature\":\"a'b;\\\"c\",\"severity\":2}}";
	char buf[128];

	assert_int_equal(put(d, "box'1; DELETE FROM sensors;--", 1, "alert",
			     evil),
			 1);
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 1);
	assert_string_equal(qs(f->db, "SELECT src_zone FROM alerts", buf,
			       sizeof(buf)),
			    "x'); DROP TABLE alerts; --");
	assert_string_equal(qs(f->db, "SELECT sensor FROM sensors", buf,
			       sizeof(buf)),
			    "box'1; DELETE FROM sensors;--");
}

/* odd field types: stored as NULL (or their JSON text), never a crash */
static void test_odd_fields(void **state)
{
	struct fx *f = *state;
	struct store_db *d = open_db(f, NULL);
	static const char odd[] =
		"{\"timestamp\":\"2015-10-22T10:00:01Z\",\"src_ip\":17,"
		"\"dest_ip\":true,\"dest_port\":1e400,\"src_port\":\"80\","
		"\"src_zone\":\"\",\"app_proto\":null,"
		"\"alert\":{\"signature\":\"t.odd\",\"severity\":2.9,"
		"\"signature_id\":-1e30}}";
	static const char not_sig[] =
		"{\"alert\":{\"signature\":{\"x\":1}}}";

	assert_int_equal(put(d, "box1", 1, "alert", odd), 1);
	assert_int_equal(put(d, "box1", 2, "alert", not_sig), -1);
	assert_true(store_db_err_is_record(d));
	store_db_close(d);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts WHERE "
				   "src_ip IS NULL AND dest_ip IS NULL AND "
				   "dest_port IS NULL AND src_port IS NULL AND "
				   "src_zone IS NULL AND app_proto IS NULL AND "
				   "severity = 2 AND signature_id IS NULL"),
			 1);
}

/* ---------------- keys ---------------- */

static void test_keys(void **state)
{
	struct fx *f = *state;
	char dir[128], p[200], z[MM_KEY_Z85_LEN + 1], z2[MM_KEY_Z85_LEN + 1],
		err[512];
	struct stat sb;
	struct mm_allow *a;
	uint8_t bin[32];
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/keys", f->dir);
	assert_int_equal(mm_keygen(dir, "line-a", err, sizeof(err)), 0);
	assert_int_equal(mm_keygen(dir, "line-b", err, sizeof(err)), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/line-a.key", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* never overwritten */
	assert_int_equal(mm_keygen(dir, "line-a", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "never overwritten"));
	assert_int_equal(mm_keygen(dir, "../evil", err, sizeof(err)), -1);
	/* the secret's public key is the .pub file's */
	assert_int_equal(mm_key_load(p, true, z, err, sizeof(err)), 0);
	{
		char pub[MM_KEY_Z85_LEN + 1];
		assert_int_equal(zmq_curve_public(pub, z), 0);
		snprintf(p, sizeof(p), "%s/line-a.pub", dir);
		assert_int_equal(mm_key_load(p, false, z2, err, sizeof(err)), 0);
		assert_string_equal(pub, z2);
	}
	/* a secret others may read is refused */
	snprintf(p, sizeof(p), "%s/line-a.key", dir);
	chmod(p, 0644);
	assert_int_equal(mm_key_load(p, true, z, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	/* the allow-list: a directory of .pub files ... */
	a = mm_allow_load(dir, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(mm_allow_count(a), 2);
	assert_non_null(zmq_z85_decode(bin, z2));
	assert_string_equal(mm_allow_find(a, bin), "line-a");
	bin[0] ^= 1;
	assert_null(mm_allow_find(a, bin));
	mm_allow_free(a);
	/* ... or a file of "KEY NAME" lines */
	snprintf(p, sizeof(p), "%s/allow.txt", f->dir);
	fp = fopen(p, "w");
	fprintf(fp, "# sensors of site A\n%s  site-a-1\n\n", z2);
	fclose(fp);
	a = mm_allow_load(p, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(mm_allow_count(a), 1);
	bin[0] ^= 1;
	assert_string_equal(mm_allow_find(a, bin), "site-a-1");
	mm_allow_free(a);
	fp = fopen(p, "w");
	fprintf(fp, "not-a-key\n");
	fclose(fp);
	assert_null(mm_allow_load(p, err, sizeof(err)));
	assert_non_null(strstr(err, ":1:"));
	snprintf(p, sizeof(p), "%s/empty", f->dir);
	mkdir(p, 0700);
	assert_null(mm_allow_load(p, err, sizeof(err)));
	assert_non_null(strstr(err, "no sensor public key"));
}

/* ---------------- CurveZMQ end to end ---------------- */

static void server_ready(struct store_server *s)
{
	assert_non_null(s);
	assert_int_equal(store_server_start_thread(s), 0);
}

static void test_curve(void **state)
{
	struct fx *f = *state;
	char keys[128], stranger[128], sk[200], sp[200], ak[200], xk[200],
		err[512];
	struct store_server_opts so = {.endpoint = "tcp://127.0.0.1:*",
				       .db_path = f->db,
				       .batch_ms = 10};
	struct store_server *s;
	struct store_server_stats ss;
	struct mm_link_opts lo = {.sensor = "line-a", .spool_max = 100,
				  .resend_ms = 200, .beat_ms = 100};
	struct mm_link *l, *bad;
	static const char hello[] = "{\"site\":\"A\"}";

	snprintf(keys, sizeof(keys), "%s/allowed", f->dir);
	snprintf(stranger, sizeof(stranger), "%s/stranger", f->dir);
	assert_int_equal(mm_keygen(f->dir, "store", err, sizeof(err)), 0);
	assert_int_equal(mm_keygen(keys, "line-a", err, sizeof(err)), 0);
	assert_int_equal(mm_keygen(stranger, "intruder", err, sizeof(err)), 0);
	snprintf(sk, sizeof(sk), "%s/store.key", f->dir);
	snprintf(sp, sizeof(sp), "%s/store.pub", f->dir);
	snprintf(ak, sizeof(ak), "%s/line-a.key", keys);
	snprintf(xk, sizeof(xk), "%s/intruder.key", stranger);

	/* keys half given: refused */
	so.curve_secret = sk;
	assert_null(store_server_new(NULL, &so, err, sizeof(err)));
	assert_non_null(strstr(err, "--allow"));
	so.allow = keys;
	/* with keys the store may listen beyond loopback */
	so.endpoint = "tcp://0.0.0.0:*";
	s = store_server_new(NULL, &so, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	server_ready(s);
	{
		char ep[64];
		const char *port = strrchr(store_server_endpoint(s), ':');
		snprintf(ep, sizeof(ep), "tcp://127.0.0.1%s", port);
		lo.endpoint = ep;
		lo.curve_secret = ak;
		lo.store_public = sp;
		l = mm_link_new(NULL, &lo, err, sizeof(err));
		if (!l)
			fail_msg("%s", err);
		lo.sensor = "intruder";
		lo.curve_secret = xk;
		bad = mm_link_new(NULL, &lo, err, sizeof(err));
		if (!bad)
			fail_msg("%s", err);
	}
	assert_int_equal(mm_link_send(l, "hello", hello, strlen(hello)), 0);
	assert_int_equal(mm_link_send(l, "alert", a1, strlen(a1)), 0);
	assert_int_equal(mm_link_send(bad, "hello", hello, strlen(hello)), 0);
	assert_int_equal(mm_link_send(bad, "alert", a1, strlen(a1)), 0);
	assert_int_equal(mm_link_flush(l, 5000), 0);
	/* the intruder gets nowhere: everything stays in its spool */
	assert_int_equal(mm_link_flush(bad, 700), 2);
	for (int i = 0; i < 100; i++) {
		store_server_stats(s, &ss);
		if (ss.refused >= 1 && ss.beats >= 1)
			break;
		usleep(20000);
	}
	assert_true(ss.refused >= 1);
	assert_true(ss.beats >= 1);
	mm_link_free(bad);
	mm_link_free(l);
	store_server_free(s);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM alerts"), 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "sensor = 'intruder'"),
			 0);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE "
				   "sensor = 'line-a' AND key = 'line-a'"),
			 1);
	/* a sensor with CurveZMQ against a store without: nothing either */
}

/* ---------------- PUB ---------------- */

static void test_publish(void **state)
{
	struct fx *f = *state;
	void *zctx = zmq_ctx_new(), *sub;
	struct store_server_opts so = {.endpoint = "inproc://mm-pub-store",
				       .publish = "inproc://mm-pub",
				       .db_path = f->db,
				       .aggregate_window = 60,
				       .batch_ms = 10};
	char err[512], topic[64], body[2048];
	struct store_server *s = store_server_new(zctx, &so, err, sizeof(err));
	struct mm_link_opts lo = {.endpoint = so.endpoint, .sensor = "box1",
				  .spool_max = 100, .resend_ms = 500,
				  .beat_ms = -1};
	struct mm_link *l;
	int v = 3000, n;

	if (!s)
		fail_msg("%s", err);
	assert_string_equal(store_server_publish_endpoint(s), "inproc://mm-pub");
	server_ready(s);
	sub = zmq_socket(zctx, ZMQ_SUB);
	zmq_setsockopt(sub, ZMQ_RCVTIMEO, &v, sizeof(v));
	v = 0;
	zmq_setsockopt(sub, ZMQ_LINGER, &v, sizeof(v));
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert.1.", 8);
	assert_int_equal(zmq_connect(sub, "inproc://mm-pub"), 0);
	usleep(50000); /* a subscriber joins before the first message */
	l = mm_link_new(zctx, &lo, err, sizeof(err));
	assert_non_null(l);
	/* the same alert twice: one row, so one message */
	assert_int_equal(mm_link_send(l, "alert", a1, strlen(a1)), 0);
	assert_int_equal(mm_link_send(l, "alert", a1, strlen(a1)), 0);
	assert_int_equal(mm_link_flush(l, 5000), 0);
	n = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
	assert_true(n > 0);
	topic[n] = '\0';
	assert_string_equal(topic, "alert.1.modbus");
	n = zmq_recv(sub, body, sizeof(body) - 1, 0);
	assert_true(n > 0);
	body[n] = '\0';
	assert_non_null(strstr(body, "zone.no_conduit"));
	v = 300;
	zmq_setsockopt(sub, ZMQ_RCVTIMEO, &v, sizeof(v));
	assert_int_equal(zmq_recv(sub, topic, sizeof(topic), 0), -1);
	zmq_close(sub);
	mm_link_free(l);
	store_server_free(s);
	zmq_ctx_term(zctx);
}

/* ---------------- syslog ---------------- */

static void test_fwd_format(void **state)
{
	int sev;
	char ts[64], *m;
	static const char odd[] =
		"{\"timestamp\":\"2015-10-22T10:00:01.5Z\",\"src_ip\":\"10.0.0.1\","
		"\"src_port\":5,\"dest_ip\":\"10.0.0.2\",\"dest_port\":502,"
		"\"proto\":\"TCP\",\"sensor\":\"b|1\",\"src_zone\":\"a=b\","
		"\"alert\":{\"signature\":\"x|y\\\\z\",\"signature_id\":7,"
		"\"severity\":1,\"cause\":\"line\\nbreak\"}}";

	(void)state;
	m = store_fwd_format(STORE_FWD_JSON, "第1工場", a1, strlen(a1), &sev,
			     ts, sizeof(ts));
	assert_non_null(m);
	assert_non_null(strstr(m, "\"site\":\"第1工場\""));
	assert_int_equal(sev, 2); /* severity 1: critical */
	assert_string_equal(ts, "2015-10-22T10:00:01Z");
	free(m);
	m = store_fwd_format(STORE_FWD_CEF, "s", odd, strlen(odd), &sev, ts,
			     sizeof(ts));
	assert_non_null(m);
	/* header: | and \ escaped; extension: = and \ escaped, \n */
	assert_non_null(strstr(m, "CEF:0|mimamori|mimamori|1|7|x\\|y\\\\z|10|"));
	assert_non_null(strstr(m, "rt=1445508001500"));
	assert_non_null(strstr(m, "cs1=a\\=b"));
	assert_non_null(strstr(m, "msg=line\\nbreak"));
	assert_non_null(strstr(m, "deviceExternalId=b|1"));
	assert_non_null(strstr(m, "dpt=502"));
	free(m);
	assert_null(store_fwd_format(STORE_FWD_JSON, "", "{x", 2, &sev, ts,
				     sizeof(ts)));
}

static int udp_listener(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = {.tv_sec = 3};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_fwd_udp_tcp_unix(void **state)
{
	struct fx *f = *state;
	char target[200], buf[4096], err[256];
	struct store_fwd *fw;
	struct store_fwd_stats st;
	int port, fd, n;

	/* UDP: one RFC 5424 message per datagram */
	fd = udp_listener(&port);
	snprintf(target, sizeof(target), "udp://127.0.0.1:%d", port);
	fw = store_fwd_new(target, STORE_FWD_JSON, 10, err, sizeof(err));
	assert_non_null(fw);
	assert_int_equal(store_fwd_push(fw, "A", a1, strlen(a1)), 0);
	n = (int)recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	/* local0 (16) * 8 + critical (2) = 130 */
	assert_memory_equal(buf, "<130>1 2015-10-22T10:00:01.000000Z ", 35);
	assert_non_null(strstr(buf, " mimamori-store "));
	assert_non_null(strstr(buf, " alert - {"));
	assert_non_null(strstr(buf, "\"site\":\"A\""));
	store_fwd_free(fw, 1000);
	close(fd);

	/* a bounded queue: a dead TCP server, 10 slots, 25 alerts */
	snprintf(target, sizeof(target), "tcp://127.0.0.1:%d", port);
	fw = store_fwd_new(target, STORE_FWD_CEF, 10, err, sizeof(err));
	assert_non_null(fw);
	for (int i = 0; i < 25; i++)
		store_fwd_push(fw, "A", a1, strlen(a1));
	store_fwd_stats(fw, &st);
	assert_int_equal(st.queued, 25);
	assert_true(st.dropped >= 14);
	store_fwd_free(fw, 100);

	/* TCP with octet counting, to a real listener */
	{
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof(a);
		int ls = socket(AF_INET, SOCK_STREAM, 0), c;
		struct timeval tv = {.tv_sec = 3};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
		listen(ls, 1);
		getsockname(ls, (struct sockaddr *)&a, &len);
		snprintf(target, sizeof(target), "tcp://127.0.0.1:%d",
			 ntohs(a.sin_port));
		fw = store_fwd_new(target, STORE_FWD_CEF, 10, err, sizeof(err));
		assert_non_null(fw);
		assert_int_equal(store_fwd_push(fw, "A", a1, strlen(a1)), 0);
		setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		c = accept(ls, NULL, NULL);
		assert_true(c >= 0);
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = 0;
		while (n < 200) {
			int r = (int)recv(c, buf + n, sizeof(buf) - 1 - (size_t)n, 0);
			if (r <= 0)
				break;
			n += r;
			buf[n] = '\0';
			if (strstr(buf, "cs3=A"))
				break;
		}
		buf[n] = '\0';
		{
			char *sp = strchr(buf, ' ');
			assert_non_null(sp);
			/* "LEN <130>1 ..." and LEN is the rest's length */
			assert_int_equal(atoi(buf), (int)strlen(sp + 1));
			assert_memory_equal(sp + 1, "<130>1 ", 7);
			assert_non_null(strstr(sp, "CEF:0|mimamori|"));
		}
		store_fwd_free(fw, 1000);
		close(c);
		close(ls);
	}

	/* the local socket: the format syslog(3) writes there */
	{
		struct sockaddr_un u = {.sun_family = AF_UNIX};
		struct timeval tv = {.tv_sec = 3};
		int us = socket(AF_UNIX, SOCK_DGRAM, 0);
		snprintf(u.sun_path, sizeof(u.sun_path), "%s/log", f->dir);
		assert_int_equal(bind(us, (struct sockaddr *)&u, sizeof(u)), 0);
		setsockopt(us, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		snprintf(target, sizeof(target), "unix://%s", u.sun_path);
		fw = store_fwd_new(target, STORE_FWD_JSON, 10, err, sizeof(err));
		assert_non_null(fw);
		assert_int_equal(store_fwd_push(fw, "", a1, strlen(a1)), 0);
		n = (int)recv(us, buf, sizeof(buf) - 1, 0);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_memory_equal(buf, "<130>", 5);
		assert_non_null(strstr(buf, " mimamori-store["));
		assert_non_null(strstr(buf, "]: {"));
		store_fwd_free(fw, 1000);
		close(us);
	}
	assert_null(store_fwd_new("syslog://x", STORE_FWD_JSON, 1, err,
				  sizeof(err)));
	assert_null(store_fwd_new("udp://hostonly", STORE_FWD_JSON, 1, err,
				  sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_silence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_age, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retention_size, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_beat_prunes_ingest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_late_hello, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_safety, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sql_in_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_odd_fields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_curve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish, setup, teardown),
		cmocka_unit_test(test_fwd_format),
		cmocka_unit_test_setup_teardown(test_fwd_udp_tcp_unix, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
