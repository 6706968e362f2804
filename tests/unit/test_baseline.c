/*
 * test_baseline.c - the store's learned baseline and zone matrix
 * (store/baseline.c through store_db_put, kind "obs"): learn, then
 * detect, against a real SQLite file; the alerts each case must raise
 * are written down here from the rules in store.h, not read back from a
 * run.  Also approve/prune (the CLI's functions), the upgrade of a
 * version-3 store, and malformed records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../../store/store.h"

#include "store_fixture.h"

/* the fixture's folder, the store, what on_new_alert was handed */
struct bfx {
	struct fx *fx;
	struct store_db *d;
	uint64_t seq;
	int published; /* on_new_alert calls */
	char last_pub[4096];
};

static void on_new(void *arg, const char *sensor, const char *site, int sev,
		   const char *proto, const char *json, size_t len)
{
	struct bfx *f = arg;

	(void)sensor;
	(void)site;
	(void)sev;
	(void)proto;
	f->published++;
	snprintf(f->last_pub, sizeof(f->last_pub), "%.*s", (int)len, json);
}

static struct store_db *open_db(struct bfx *f)
{
	struct store_db_opts o = {.aggregate_window = 60,
				  .on_new_alert = on_new, .arg = f};
	char err[256] = "";
	struct store_db *d = store_db_open(f->fx->db, &o, err, sizeof(err));

	if (!d)
		fail_msg("store_db_open: %s", err);
	return d;
}

static int setup(void **state)
{
	struct bfx *f = calloc(1, sizeof(*f));
	void *inner;

	if (!f || fx_setup(&inner, "baseline")) {
		free(f);
		return -1;
	}
	f->fx = inner;
	f->seq = 1;
	*state = f;
	return 0;
}

static int bl_teardown(void **state)
{
	struct bfx *f = *state;
	void *inner = f->fx;

	if (f->d)
		store_db_close(f->d);
	free(f);
	return teardown(&inner);
}

/* every alert row as "sig|src|dest|szone|dzone|sev|count", ';'-joined */
static const char *alerts(const char *db, char *buf, size_t len)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	size_t n = 0;

	buf[0] = '\0';
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(
			h,
			"SELECT signature, src_ip, dest_ip, coalesce(src_zone,"
			" '-'), coalesce(dest_zone, '-'), severity, count"
			" FROM alerts ORDER BY id",
			-1, &st, NULL),
		SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int r = snprintf(buf + n, len - n, "%s%s|%s|%s|%s|%s|%d|%d",
				 n ? ";" : "", sqlite3_column_text(st, 0),
				 sqlite3_column_text(st, 1),
				 sqlite3_column_text(st, 2),
				 sqlite3_column_text(st, 3),
				 sqlite3_column_text(st, 4),
				 sqlite3_column_int(st, 5),
				 sqlite3_column_int(st, 6));
		if (r > 0 && (size_t)r < len - n)
			n += (size_t)r;
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return buf;
}

/* store one record of kind obs; the store_db_put result */
static int put(struct bfx *f, const char *sensor, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int put(struct bfx *f, const char *sensor, const char *fmt, ...)
{
	char j[2048], err[256] = "";
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(j, sizeof(j), fmt, ap);
	va_end(ap);
	rc = store_db_put(f->d, "obs", sensor, f->seq++, j, (size_t)n, err,
			  sizeof(err));
	if (rc < 0 && !store_db_err_is_record(f->d))
		fail_msg("store_db_put: %s", err);
	return rc;
}

/*
 * A Modbus operation from `src` to 10.10.1.10:502 (seisan_kanri ->
 * seigyo): mode, time (seconds after 10:00:00), function, op class,
 * unit/space/addr/count, and the peak of writes per second (0: none).
 */
struct op {
	const char *mode;
	int t;
	const char *src;
	int fn;
	const char *op;
	int unit, space, addr, count;
	double peak;
};

/* the operation as an obs record; the store_db_put result */
static int mb(struct bfx *f, const struct op *o)
{
	char peak[48] = "";

	if (o->peak > 0)
		snprintf(peak, sizeof(peak), ",\"peak_per_s\":%g", o->peak);
	return put(f, "box1",
		   "{\"timestamp\":\"2015-10-22T10:%02d:%02d.000000Z\","
		   "\"first_seen\":\"2015-10-22T10:00:00Z\",\"mode\":\"%s\","
		   "\"what\":\"op\",\"src_ip\":\"%s\",\"dest_ip\":\"10.10.1.10\","
		   "\"dest_port\":502,\"src_zone\":\"seisan_kanri\","
		   "\"dest_zone\":\"seigyo\",\"proto\":\"modbus\",\"op\":\"%s\","
		   "\"verdict\":\"allowed\",\"n\":4,\"interval\":0,"
		   "\"function\":%d,\"function_name\":\"fc%d\",\"unit\":%d,"
		   "\"space\":%d,\"addr\":%d,\"count\":%d%s}",
		   o->t / 60, o->t % 60, o->mode, o->src, o->op, o->fn, o->fn,
		   o->unit, o->space, o->addr, o->count, peak);
}

/* operations in order, each of which must be stored (put gives 1) */
static void put_ops(struct bfx *f, const struct op *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = mb(f, &o[i]);
		if (rc != 1)
			fail_msg("operation at %d s from %s, fc %d: "
				 "store_db_put gave %d",
				 o[i].t, o[i].src, o[i].fn, rc);
	}
}
#define OPS(f, ...)                                                           \
	put_ops(f, (const struct op[]){__VA_ARGS__},                          \
		sizeof((const struct op[]){__VA_ARGS__}) / sizeof(struct op))

/* q1 on the test's store */
static int64_t q(struct bfx *f, const char *sql)
{
	return q1(f->fx->db, sql);
}

/* baseline_approve and baseline_prune with a selection; their result */
static long approve(sqlite3 *h, struct baseline_sel s)
{
	char err[256];

	return baseline_approve(h, &s, err, sizeof(err));
}

static long prune(sqlite3 *h, struct baseline_sel s)
{
	char err[256];

	return baseline_prune(h, &s, err, sizeof(err));
}

#define HMI "10.3.0.30"
#define NEWBIE "10.3.0.99"

/* the plant as learned: the HMI reads 0..99 and writes register 100 */
static void learn_plant(struct bfx *f)
{
	OPS(f, {"learn", 0, HMI, 3, "read", 1, 4, 0, 100, 0},
	    {"learn", 1, HMI, 6, "write", 1, 4, 100, 1, 2});
}

static void test_learn_then_detect(void **state)
{
	struct bfx *f = *state;
	char buf[4096];

	f->d = open_db(f);
	learn_plant(f);
	assert_int_equal(q(f, "SELECT count(*) FROM baseline WHERE "
			      "status = 'learned'"),
			 2);
	/* a known key: counted, no alert */
	OPS(f, {"detect", 60, HMI, 3, "read", 1, 4, 0, 100, 0});
	assert_int_equal(q(f, "SELECT hits FROM baseline WHERE function = 3"),
			 8);
	OPS(f,
	    /* a range inside a learned one: a new key, no alert */
	    {"detect", 61, HMI, 3, "read", 1, 4, 10, 5, 0},
	    /* outside it (90..109 is not inside 0..99): new_target, 3 */
	    {"detect", 62, HMI, 3, "read", 1, 4, 90, 20, 0},
	    /* the same range in another unit: new_target again (one row:
	     * aggregated with the one before, same talker and port) */
	    {"detect", 63, HMI, 3, "read", 2, 4, 0, 1, 0},
	    /* a write of another function: new_function, severity 2 */
	    {"detect", 64, HMI, 16, "write", 1, 4, 100, 2, 0},
	    /* a new client writing: new_talker, severity 1; its other
	     * functions say nothing more */
	    {"detect", 65, NEWBIE, 6, "write", 1, 4, 100, 1, 0},
	    {"detect", 66, NEWBIE, 3, "read", 1, 4, 0, 10, 0},
	    {"detect", 67, NEWBIE, 16, "write", 1, 4, 0, 10, 0},
	    /* each key once: sent again, nothing new */
	    {"detect", 68, HMI, 16, "write", 1, 4, 100, 2, 0});
	assert_string_equal(
		alerts(f->fx->db, buf, sizeof(buf)),
		"baseline.new_target|10.3.0.30|10.10.1.10|seisan_kanri|seigyo|3|2;"
		"baseline.new_function|10.3.0.30|10.10.1.10|seisan_kanri|seigyo|2|1;"
		"baseline.new_talker|10.3.0.99|10.10.1.10|seisan_kanri|seigyo|1|1");
	/* the rows published: one per new row (the repeat is counted) */
	assert_int_equal(f->published, 3);
	/* new keys kept as 'new': 1 covered + 2 targets + 1 function + 3 */
	assert_int_equal(q(f, "SELECT count(*) FROM baseline WHERE "
			      "status = 'new'"),
			 7);
	/* the EVE record: like the sensor's, with the baseline's facts */
	assert_non_null(strstr(f->last_pub, "\"signature_id\":2400001"));
	assert_non_null(strstr(f->last_pub, "\"app_proto\":\"modbus\""));
	assert_non_null(strstr(f->last_pub, "\"proto\":\"TCP\""));
	assert_non_null(strstr(f->last_pub, "\"dest_port\":502"));
	assert_non_null(strstr(f->last_pub, "\"timestamp\":\"2015-10-22T10:01:05"));
	assert_non_null(strstr(f->last_pub,
			       "\"baseline\":{\"what\":\"op\",\"function\":6,"
			       "\"function_name\":\"fc6\",\"unit\":1,"
			       "\"space\":4,\"addr\":100,\"count\":1,"
			       "\"first_seen\":\"2015-10-22T10:00:00.000000Z\"}"));
	assert_non_null(strstr(f->last_pub, "\"modbus\":{\"function\":6,"));
	assert_non_null(strstr(f->last_pub, "\"cause\":\""));
	assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE "
			      "signature_id = 2400003 AND seq = 0"),
			 1);
}

static void test_matrix(void **state)
{
	struct bfx *f = *state;

	f->d = open_db(f);
	learn_plant(f);
	/* a later report of a key: n counts, keys does not */
	assert_int_equal(
		put(f, "box1",
		    "{\"timestamp\":\"2015-10-22T10:59:59Z\",\"mode\":\"detect\","
		    "\"what\":\"op\",\"src_ip\":\"" HMI "\",\"dest_ip\":"
		    "\"10.10.1.10\",\"dest_port\":502,\"src_zone\":"
		    "\"seisan_kanri\",\"dest_zone\":\"seigyo\",\"proto\":"
		    "\"modbus\",\"op\":\"read\",\"verdict\":\"allowed\","
		    "\"n\":600,\"interval\":60.25,\"function\":3,\"unit\":1,"
		    "\"space\":4,\"addr\":0,\"count\":100}"),
		1);
	/* a service in no zone, next hour */
	assert_int_equal(
		put(f, "box1",
		    "{\"timestamp\":\"2015-10-22T11:00:00Z\",\"mode\":\"detect\","
		    "\"what\":\"service\",\"src_ip\":\"192.168.1.5\",\"dest_ip\":"
		    "\"10.10.1.10\",\"dest_port\":445,\"src_zone\":null,"
		    "\"dest_zone\":\"seigyo\",\"proto\":\"tcp/445\",\"op\":"
		    "\"other\",\"verdict\":\"unknown_host\",\"n\":3,"
		    "\"interval\":0}"),
		1);
	assert_int_equal(q(f, "SELECT sum(n) FROM obs_matrix WHERE hour ="
			      " '2015-10-22T10' AND proto = 'modbus' AND"
			      " op = 'read'"),
			 604);
	assert_int_equal(q(f, "SELECT keys FROM obs_matrix WHERE hour ="
			      " '2015-10-22T10' AND op = 'read'"),
			 1);
	assert_int_equal(q(f, "SELECT n * 10 + keys FROM obs_matrix WHERE"
			      " hour = '2015-10-22T11' AND src_zone = ''"
			      " AND verdict = 'unknown_host'"),
			 31);
	/* the service from a host never seen: new_talker, severity 2, no
	 * app_proto, the service in metadata */
	assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE"
			      " signature = 'baseline.new_talker' AND"
			      " severity = 2 AND app_proto IS NULL AND"
			      " proto = 'TCP' AND src_zone IS NULL AND"
			      " eve LIKE '%\"service\":\"tcp/445\"%'"),
			 1);
}

static void test_mac(void **state)
{
	static const struct {
		int s;
		const char *mode, *ip, *mac, *watch;
	} macs[] = {
		{1, "learn", "10.10.1.10", "00:1B:1B:00:00:01", ""},
		/* the same MAC at another address (upper/lower case alike) */
		{2, "detect", "10.10.1.11", "00:1b:1b:00:00:01",
		 ",\"watch\":true"},
		/* a new MAC in a watched zone: asset.new */
		{3, "detect", "10.10.1.66", "aa:bb:cc:00:00:01",
		 ",\"watch\":true"},
		/* again: known now, nothing */
		{4, "detect", "10.10.1.66", "aa:bb:cc:00:00:01",
		 ",\"watch\":true"},
		/* a new MAC where nobody watches: kept, silently */
		{5, "detect", "10.10.1.67", "aa:bb:cc:00:00:02",
		 ",\"watch\":false"},
	};
	struct bfx *f = *state;
	char buf[2048];

	f->d = open_db(f);
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++)
		assert_int_equal(
			put(f, "box1",
			    "{\"timestamp\":\"2015-10-22T10:00:%02dZ\","
			    "\"mode\":\"%s\",\"what\":\"mac\",\"ip\":\"%s\","
			    "\"mac\":\"%s\",\"mac_vendor\":\"Siemens\","
			    "\"zone\":\"seigyo\",\"archetype\":\"seigyo\"%s}",
			    macs[i].s, macs[i].mode, macs[i].ip, macs[i].mac,
			    macs[i].watch),
			1);
	assert_string_equal(alerts(f->fx->db, buf, sizeof(buf)),
			    "asset.new|10.10.1.66|10.10.1.66|seigyo|seigyo|2|1");
	assert_int_equal(q(f, "SELECT count(*) FROM baseline WHERE what ="
			      " 'mac' AND status = 'new'"),
			 3);
	assert_int_equal(q(f, "SELECT signature_id FROM alerts"), 2500001);
	assert_non_null(strstr(f->last_pub, "\"asset\":{\"ip\":\"10.10.1.66\","
					    "\"mac\":\"aa:bb:cc:00:00:01\","));
	/* MACs are no flows: nothing in the matrix */
	assert_int_equal(q(f, "SELECT count(*) FROM obs_matrix"), 0);
}

static void test_never_learned(void **state)
{
	struct bfx *f = *state;
	struct store_baseline_counts c;

	f->d = open_db(f);
	/* box1 learned; box2 never did */
	learn_plant(f);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
			put(f, "box2",
			    "{\"timestamp\":\"2015-10-22T10:00:0%dZ\",\"mode\":"
			    "\"detect\",\"what\":\"op\",\"src_ip\":\"10.0.0.%d\","
			    "\"dest_ip\":\"10.0.0.9\",\"proto\":\"s7comm\","
			    "\"op\":\"write\",\"verdict\":\"allowed\",\"n\":1,"
			    "\"function\":5,\"peak_per_s\":900}",
			    i, i),
			1);
	assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM baseline WHERE "
			      "sensor = 'box2'"),
			 0);
	/* the matrix counts them all the same */
	assert_int_equal(q(f, "SELECT sum(n) FROM obs_matrix WHERE "
			      "sensor = 'box2'"),
			 3);
	store_db_baseline_counts(f->d, &c);
	assert_int_equal(c.unlearned, 3);
	assert_int_equal(c.obs, 5);
	assert_int_equal(c.learned, 2);
	assert_int_equal(c.alerts, 0);
}

#define N_ALERTS "SELECT count(*) FROM alerts"
#define N_FLOOD N_ALERTS " WHERE signature = 'modbus.write_flood'"

static void test_write_flood(void **state)
{
	struct bfx *f = *state;
	char buf[2048];

	f->d = open_db(f);
	learn_plant(f); /* fc 6 learned at 2 writes/s: limit max(20, 5) */
	OPS(f, {"detect", 60, HMI, 6, "write", 1, 4, 100, 1, 20});
	assert_int_equal(q(f, N_ALERTS), 0);
	OPS(f, {"detect", 120, HMI, 6, "write", 1, 4, 100, 1, 21});
	assert_int_equal(q(f, N_ALERTS), 1);
	assert_non_null(strstr(f->last_pub, "\"signature_id\":2300003"));
	assert_non_null(strstr(f->last_pub, "\"basis\":\"learned_rate\""));
	assert_non_null(strstr(f->last_pub, "\"learned_peak_per_s\":2.0"));
	assert_non_null(strstr(f->last_pub, "\"peak_per_s\":21.0"));
	OPS(f,
	    /* the flood goes on: the same episode, 280 s later */
	    {"detect", 400, HMI, 6, "write", 1, 4, 100, 1, 40},
	    /* 290 s after the episode's last report: still it */
	    {"detect", 690, HMI, 6, "write", 1, 4, 100, 1, 40});
	assert_string_equal(alerts(f->fx->db, buf, sizeof(buf)),
			    "modbus.write_flood|10.3.0.30|10.10.1.10|"
			    "seisan_kanri|seigyo|2|3");
	assert_int_equal(f->published, 1);
	/* a quiet while (over 300 s): a new episode */
	OPS(f, {"detect", 1000, HMI, 6, "write", 1, 4, 100, 1, 40});
	assert_int_equal(q(f, N_FLOOD), 2);
	/* a function with no learned rate: the sensor's detector decides */
	OPS(f, {"detect", 1001, HMI, 16, "write", 1, 4, 100, 1, 400});
	assert_int_equal(q(f, N_FLOOD), 2);
}

static void test_flood_floor(void **state)
{
	struct bfx *f = *state;

	f->d = open_db(f);
	/* learned 0.2 writes/s: 10 x that is 2, the floor 5 rules */
	OPS(f, {"learn", 0, HMI, 6, "write", 1, 4, 100, 1, 0.2},
	    {"detect", 60, HMI, 6, "write", 1, 4, 100, 1, 5});
	assert_int_equal(q(f, N_ALERTS), 0);
	OPS(f, {"detect", 61, HMI, 6, "write", 1, 4, 100, 1, 6});
	assert_int_equal(q(f, N_ALERTS " WHERE signature_id = 2300003"), 1);
	/* learning keeps the highest peak */
	OPS(f, {"learn", 62, HMI, 6, "write", 1, 4, 100, 1, 0.1});
	assert_int_equal(q(f, "SELECT peak_per_s * 10 FROM baseline"), 2);
}

#define N_NEW "SELECT count(*) FROM baseline WHERE status = 'new'"

static void test_learn_after_new(void **state)
{
	struct bfx *f = *state;
	sqlite3 *h;

	f->d = open_db(f);
	learn_plant(f);
	OPS(f, {"detect", 60, NEWBIE, 3, "read", 1, 4, 0, 1, 0},
	    {"detect", 61, NEWBIE, 4, "read", 1, 4, 0, 1, 0});
	assert_int_equal(q(f, N_NEW), 2);
	/* learning the key: learned, hits added */
	OPS(f, {"learn", 62, NEWBIE, 3, "read", 1, 4, 0, 1, 0});
	assert_int_equal(q(f, "SELECT hits FROM baseline WHERE status ="
			      " 'learned' AND src_ip = '" NEWBIE "'"),
			 8);
	/* an approved row stays approved when learned again */
	assert_int_equal(q(f, N_NEW), 1);
	assert_int_equal(
		sqlite3_open_v2(f->fx->db, &h, SQLITE_OPEN_READWRITE, NULL),
		SQLITE_OK);
	assert_int_equal(approve(h, (struct baseline_sel){.all = true}), 1);
	sqlite3_close(h);
	OPS(f, {"learn", 63, NEWBIE, 4, "read", 1, 4, 0, 1, 0});
	assert_int_equal(q(f, "SELECT count(*) FROM baseline WHERE"
			      " status = 'approved'"),
			 1);
}

static void test_approve_prune(void **state)
{
	struct bfx *f = *state;
	sqlite3 *h;
	int64_t ids[2];

	f->d = open_db(f);
	learn_plant(f);
	/* two new talkers, one with two functions; another sensor's new */
	OPS(f, {"detect", 60, NEWBIE, 3, "read", 1, 4, 0, 1, 0},
	    {"detect", 61, NEWBIE, 4, "read", 1, 4, 0, 1, 0},
	    {"detect", 62, "10.3.0.98", 3, "read", 1, 4, 0, 1, 0},
	    {"detect", 63, HMI, 3, "read", 1, 4, 500, 1, 0});
	assert_int_equal(sqlite3_open_v2(f->fx->db, &h, SQLITE_OPEN_READWRITE, NULL),
			 SQLITE_OK);
	sqlite3_busy_timeout(h, 2000);
	/* nothing or two selectors: refused */
	assert_int_equal(approve(h, (struct baseline_sel){0}), -1);
	assert_int_equal(approve(h, (struct baseline_sel){.all = true,
							  .src = HMI}),
			 -1);
	assert_int_equal(prune(h, (struct baseline_sel){0}), -1);
	/* a talker: both its rows */
	assert_int_equal(approve(h, (struct baseline_sel){.src = NEWBIE,
							  .dest = "10.10.1.10"}),
			 2);
	assert_int_equal(approve(h, (struct baseline_sel){.src = NEWBIE,
							  .dest = "10.10.1.10"}),
			 0);
	/* by id: only 'new' rows change; another sensor: none */
	ids[0] = q(f, "SELECT id FROM baseline WHERE src_ip = '10.3.0.98'");
	ids[1] = q(f, "SELECT id FROM baseline WHERE function = 6");
	assert_int_equal(approve(h, (struct baseline_sel){.sensor = "box9",
							  .ids = ids,
							  .n_ids = 2}),
			 0);
	assert_int_equal(approve(h, (struct baseline_sel){.sensor = "box1",
							  .ids = ids,
							  .n_ids = 2}),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM baseline WHERE"
			      " status = 'approved'"),
			 3);
	assert_int_equal(prune(h, (struct baseline_sel){.status = "new"}), 1);
	/* the two learned rows (10:00:00, 10:00:01) and one approved at
	 * 10:01:00 */
	assert_int_equal(
		prune(h, (struct baseline_sel){.before = "2015-10-22T10:01:01"}),
		3);
	assert_int_equal(prune(h, (struct baseline_sel){.ids = ids, .n_ids = 1}),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM baseline"), 1);
	sqlite3_close(h);
}

/* version 3's schema, as db.c wrote it before the baseline */
static const char schema_v3[] =
	"CREATE TABLE alerts( id INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
	" first_ts TEXT NOT NULL, last_ts TEXT NOT NULL, count INTEGER NOT"
	" NULL DEFAULT 1, sensor TEXT NOT NULL, seq INTEGER NOT NULL,"
	" signature TEXT NOT NULL, signature_id INTEGER, category TEXT,"
	" severity INTEGER, app_proto TEXT, proto TEXT, src_ip TEXT,"
	" src_port INTEGER, dest_ip TEXT, dest_port INTEGER, src_zone TEXT,"
	" dest_zone TEXT, received TEXT NOT NULL, eve TEXT NOT NULL);"
	"CREATE INDEX alerts_last_ts ON alerts(last_ts);"
	"CREATE INDEX alerts_src_zone ON alerts(src_zone, last_ts);"
	"CREATE INDEX alerts_dest_zone ON alerts(dest_zone, last_ts);"
	"CREATE INDEX alerts_signature ON alerts(signature, last_ts);"
	"CREATE INDEX alerts_agg ON alerts(sensor, signature, src_ip, dest_ip,"
	" dest_port, last_ts);"
	"CREATE TABLE ingest( sensor TEXT NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY(sensor, seq)) WITHOUT ROWID;"
	"CREATE TABLE sensors( sensor TEXT PRIMARY KEY, site TEXT, version"
	" TEXT, zones_file TEXT, zones_yaml TEXT, first_contact TEXT,"
	" last_contact TEXT, hellos INTEGER NOT NULL DEFAULT 0, stats TEXT,"
	" hello_seq INTEGER, stats_seq INTEGER, link TEXT, link_ts TEXT,"
	" acked_below INTEGER, prune_below INTEGER, key TEXT, silent_since"
	" TEXT);"
	"CREATE TABLE assets( sensor TEXT NOT NULL, ip TEXT NOT NULL, mac TEXT,"
	" zone TEXT, first_ts TEXT, last_ts TEXT, facts TEXT,"
	" PRIMARY KEY(sensor, ip));"
	"CREATE INDEX assets_zone ON assets(zone);"
	"INSERT INTO alerts VALUES(1, '2015-10-22T10:00:00.000000Z',"
	" '2015-10-22T10:00:00.000000Z', '2015-10-22T10:00:00.000000Z', 1,"
	" 'box1', 5, 'zone.no_conduit', 2100001, NULL, 2, NULL, 'TCP', NULL,"
	" NULL, NULL, NULL, NULL, NULL, '2015-10-22T10:00:00.000000Z', '{}');"
	"PRAGMA user_version=3;";

static void test_upgrade_from_3(void **state)
{
	struct bfx *f = *state;
	sqlite3 *h;

	assert_int_equal(sqlite3_open(f->fx->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA journal_mode=WAL", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, schema_v3, NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(q(f, "PRAGMA user_version"), 3);
	f->d = open_db(f);
	assert_int_equal(q(f, "PRAGMA user_version"), 4);
	assert_int_equal(q(f, "SELECT count(*) FROM sqlite_master WHERE"
			      " name IN ('baseline', 'obs_matrix',"
			      " 'baseline_talker', 'baseline_status',"
			      " 'baseline_mac', 'obs_matrix_hour')"),
			 6);
	/* what it held is still there, and it takes observations */
	assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 1);
	learn_plant(f);
	assert_int_equal(q(f, "SELECT count(*) FROM baseline"), 2);
	store_db_close(f->d);
	f->d = NULL;
	/* opened again: no second upgrade */
	f->d = open_db(f);
	assert_int_equal(q(f, "SELECT count(*) FROM baseline"), 2);
}

static void test_malformed(void **state)
{
	struct bfx *f = *state;
	static const char *const bad[] = {
		"[]",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"what\":\"op\"}",
		/* no mode, a mode unknown, a what unknown */
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"teach\","
		"\"what\":\"op\"}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"flow\"}",
		/* no timestamp, a timestamp that is none */
		"{\"mode\":\"learn\",\"what\":\"mac\",\"ip\":\"1.2.3.4\","
		"\"mac\":\"aa:bb:cc:dd:ee:ff\"}",
		"{\"timestamp\":\"yesterday\",\"mode\":\"learn\",\"what\":"
		"\"mac\",\"ip\":\"1.2.3.4\",\"mac\":\"aa:bb:cc:dd:ee:ff\"}",
		/* an op without its flow */
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\"}",
		/* wrong types: n a string, src_ip a number, port too big */
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
		"\"proto\":\"modbus\",\"op\":\"read\",\"verdict\":\"allowed\","
		"\"n\":\"four\"}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":16909060,\"dest_ip\":\"1.2.3.5\","
		"\"proto\":\"modbus\",\"op\":\"read\",\"verdict\":\"allowed\","
		"\"n\":4}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
		"\"dest_port\":70000,\"proto\":\"modbus\",\"op\":\"read\","
		"\"verdict\":\"allowed\",\"n\":4}",
		/* an op class and a verdict that are none */
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
		"\"proto\":\"modbus\",\"op\":\"reed\",\"verdict\":\"allowed\","
		"\"n\":4}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
		"\"proto\":\"modbus\",\"op\":\"read\",\"verdict\":\"maybe\","
		"\"n\":4}",
		/* function an object, peak negative, addr a fraction */
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
		"\"proto\":\"modbus\",\"op\":\"read\",\"verdict\":\"allowed\","
		"\"n\":4,\"function\":{\"fc\":3}}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
		"\"proto\":\"modbus\",\"op\":\"write\",\"verdict\":\"allowed\","
		"\"n\":4,\"peak_per_s\":-1}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\","
		"\"what\":\"op\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
		"\"proto\":\"modbus\",\"op\":\"read\",\"verdict\":\"allowed\","
		"\"n\":4,\"addr\":1.5}",
		/* a mac record: watch not a boolean, no mac */
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"detect\","
		"\"what\":\"mac\",\"ip\":\"1.2.3.4\",\"mac\":\"aa:bb:cc:dd:ee:ff\","
		"\"watch\":\"yes\"}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"detect\","
		"\"what\":\"mac\",\"ip\":\"1.2.3.4\"}",
		"{\"timestamp\":\"2015-10-22T10:00:00Z\",\"mode\":\"learn\""};
	struct store_parser *p;
	char err[256];
	bool isbad;

	f->d = open_db(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = store_db_put(f->d, "obs", "box1", 100 + i, bad[i],
				      strlen(bad[i]), err, sizeof(err));
		if (rc != -1 || !store_db_err_is_record(f->d) || !err[0])
			fail_msg("record %zu: rc %d, err \"%s\"", i, rc, err);
	}
	/* the server's way: the parser alone refuses it, as its fault */
	p = store_parser_new(err, sizeof(err));
	assert_non_null(p);
	assert_null(store_rec_parse(p, "obs", "box1", 1, bad[7],
				    strlen(bad[7]), &isbad, err, sizeof(err)));
	assert_true(isbad);
	assert_non_null(strstr(err, "\"n\""));
	store_parser_free(p);
	/* nothing of them stored, not even their (sensor, seq) */
	assert_int_equal(q(f, "SELECT count(*) FROM baseline"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM obs_matrix"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM ingest"), 0);
	/* a record that is fine after them is stored */
	learn_plant(f);
	assert_int_equal(q(f, "SELECT count(*) FROM baseline"), 2);
	/* a resend of an obs: stored once */
	f->seq = 1;
	assert_int_equal(mb(f, &(struct op){"learn", 0, HMI, 3, "read", 1, 4, 0,
					    100, 0}),
			 0);
	assert_int_equal(q(f, "SELECT hits FROM baseline WHERE function = 3"),
			 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learn_then_detect, setup,
						bl_teardown),
		cmocka_unit_test_setup_teardown(test_matrix, setup, bl_teardown),
		cmocka_unit_test_setup_teardown(test_mac, setup, bl_teardown),
		cmocka_unit_test_setup_teardown(test_never_learned, setup,
						bl_teardown),
		cmocka_unit_test_setup_teardown(test_write_flood, setup,
						bl_teardown),
		cmocka_unit_test_setup_teardown(test_flood_floor, setup,
						bl_teardown),
		cmocka_unit_test_setup_teardown(test_learn_after_new, setup,
						bl_teardown),
		cmocka_unit_test_setup_teardown(test_approve_prune, setup,
						bl_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_3, setup,
						bl_teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
						bl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
