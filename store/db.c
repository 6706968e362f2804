/*
 * db.c - the alert store's SQLite side.
 *
 * One connection, used by one thread at a time (the server's).  WAL with
 * synchronous=NORMAL: a commit is durable against a crash of the process,
 * and readers (the CLI) never block the writer.  Every statement is
 * prepared once and reset after each use; the server wraps a batch of
 * records in one transaction, which is what makes SQLite fast ("50,000 or
 * more INSERTs per second, but only a few dozen transactions").
 *
 * Each record runs inside a SAVEPOINT, so a record that fails half-way (a
 * full disk between the ingest row and the alert row) leaves nothing
 * behind while the rest of the batch still commits.
 */
#include "store.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/rec.h"

#define SENSOR_ID_MAX 128

/* PRAGMA user_version of the schema this code writes */
#define STORE_SCHEMA_VERSION 1

static const char store_schema[] =
	/* one row per alert, or per run of repeats (count, first/last_ts) */
	"CREATE TABLE IF NOT EXISTS alerts("
	" id INTEGER PRIMARY KEY,"
	" ts TEXT NOT NULL,"        /* EVE timestamp of the stored occurrence */
	" first_ts TEXT NOT NULL,"  /* earliest occurrence aggregated here */
	" last_ts TEXT NOT NULL,"   /* latest occurrence aggregated here */
	" count INTEGER NOT NULL DEFAULT 1,"
	" sensor TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"    /* of the stored (first) occurrence */
	" signature TEXT NOT NULL,"
	" signature_id INTEGER,"
	" category TEXT,"
	" severity INTEGER,"
	" app_proto TEXT,"
	" proto TEXT,"
	" src_ip TEXT, src_port INTEGER,"
	" dest_ip TEXT, dest_port INTEGER,"
	" src_zone TEXT, dest_zone TEXT,"
	" received TEXT NOT NULL,"  /* wall clock at ingest */
	" eve TEXT NOT NULL);"      /* the EVE JSON of the stored occurrence */
	"CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts);"
	"CREATE INDEX IF NOT EXISTS alerts_last_ts ON alerts(last_ts);"
	"CREATE INDEX IF NOT EXISTS alerts_src_zone ON alerts(src_zone, last_ts);"
	"CREATE INDEX IF NOT EXISTS alerts_dest_zone ON alerts(dest_zone, last_ts);"
	"CREATE INDEX IF NOT EXISTS alerts_signature ON alerts(signature, last_ts);"
	/* the aggregation key, then last_ts for the window */
	"CREATE INDEX IF NOT EXISTS alerts_agg ON alerts"
	"(sensor, signature, src_ip, dest_ip, dest_port, last_ts);"
	/* every (sensor, seq) ever stored: what makes a resend idempotent */
	"CREATE TABLE IF NOT EXISTS ingest("
	" sensor TEXT NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY(sensor, seq)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS sensors("
	" sensor TEXT PRIMARY KEY,"
	" site TEXT, version TEXT, zones_file TEXT, zones_yaml TEXT,"
	" first_contact TEXT, last_contact TEXT,"
	" hellos INTEGER NOT NULL DEFAULT 0," /* sensor (re)starts seen */
	" stats TEXT);"
	"CREATE TABLE IF NOT EXISTS assets("
	" sensor TEXT NOT NULL, ip TEXT NOT NULL,"
	" mac TEXT, zone TEXT, first_ts TEXT, last_ts TEXT, facts TEXT,"
	" PRIMARY KEY(sensor, ip));"
	"CREATE INDEX IF NOT EXISTS assets_zone ON assets(zone);";

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_INGEST,
	ST_AGG_FIND,
	ST_AGG_UPDATE,
	ST_ALERT_INSERT,
	ST_SENSOR_SEEN,
	ST_SENSOR_HELLO,
	ST_SENSOR_STATS,
	ST_ASSET_GET,
	ST_ASSET_PUT,
	ST__N
};

static const char *const store_sql[ST__N] = {
	/* IMMEDIATE: take the write lock now, so a busy database shows up
	 * here (after the busy timeout) and not in the middle of a batch */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT rec",
	[ST_RELEASE] = "RELEASE rec",
	[ST_ROLLBACK_TO] = "ROLLBACK TO rec",
	[ST_INGEST] = "INSERT OR IGNORE INTO ingest(sensor, seq) VALUES(?1, ?2)",
	/* a run of the same alert whose span, widened by the window on both
	 * sides, holds the new timestamp (text order is time order) */
	[ST_AGG_FIND] = "SELECT id FROM alerts WHERE sensor = ?1 AND"
			" signature = ?2 AND src_ip IS ?3 AND dest_ip IS ?4 AND"
			" dest_port IS ?5 AND last_ts >= ?6 AND first_ts <= ?7"
			" ORDER BY last_ts DESC LIMIT 1",
	/* the row keeps the worst severity it has seen, and the EVE record
	 * of that occurrence: a repeat must not hide a more severe alert
	 * (right-hand sides see the row as it was before the update) */
	[ST_AGG_UPDATE] = "UPDATE alerts SET count = count + 1,"
			  " first_ts = min(first_ts, ?2),"
			  " last_ts = max(last_ts, ?2),"
			  " eve = CASE WHEN coalesce(?3, severity) < severity"
			  " THEN ?4 ELSE eve END,"
			  " severity = min(severity, coalesce(?3, severity))"
			  " WHERE id = ?1",
	[ST_ALERT_INSERT] =
		"INSERT INTO alerts(ts, first_ts, last_ts, count, sensor, seq,"
		" signature, signature_id, category, severity, app_proto, proto,"
		" src_ip, src_port, dest_ip, dest_port, src_zone, dest_zone,"
		" received, eve) VALUES(?1, ?1, ?1, 1, ?2, ?3, ?4, ?5, ?6, ?7,"
		" ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	[ST_SENSOR_SEEN] =
		"INSERT INTO sensors(sensor, first_contact, last_contact)"
		" VALUES(?1, ?2, ?2) ON CONFLICT(sensor) DO UPDATE SET"
		" last_contact = excluded.last_contact",
	[ST_SENSOR_HELLO] =
		"INSERT INTO sensors(sensor, site, version, zones_file,"
		" zones_yaml, first_contact, last_contact, hellos)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, 1) ON CONFLICT(sensor)"
		" DO UPDATE SET site = excluded.site,"
		" version = excluded.version, zones_file = excluded.zones_file,"
		" zones_yaml = excluded.zones_yaml,"
		" last_contact = excluded.last_contact, hellos = hellos + 1",
	[ST_SENSOR_STATS] =
		"INSERT INTO sensors(sensor, first_contact, last_contact, stats)"
		" VALUES(?1, ?2, ?2, ?3) ON CONFLICT(sensor) DO UPDATE SET"
		" stats = excluded.stats, last_contact = excluded.last_contact",
	[ST_ASSET_GET] = "SELECT facts, last_ts FROM assets"
			 " WHERE sensor = ?1 AND ip = ?2",
	[ST_ASSET_PUT] =
		"INSERT INTO assets(sensor, ip, mac, zone, first_ts, last_ts,"
		" facts) VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6)"
		" ON CONFLICT(sensor, ip) DO UPDATE SET"
		" mac = coalesce(excluded.mac, mac),"
		" zone = coalesce(excluded.zone, zone),"
		" first_ts = min(first_ts, excluded.first_ts),"
		" last_ts = max(last_ts, excluded.last_ts),"
		" facts = excluded.facts",
};

struct store_db {
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	double window;     /* aggregation window, seconds */
	bool in_tx;
	bool err_record;   /* last error was the record's fault */
	/* the sensor whose last_contact this transaction already set: one
	 * upsert per sensor and batch, not per record */
	char seen[SENSOR_ID_MAX + 1];
	char path[256];
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------- timestamps ---------------- */

static int digits(const char **pp, int n, int *out)
{
	const char *p = *pp;
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*pp = p + n;
	*out = v;
	return 0;
}

int store_ts_parse(const char *s, int64_t *sec, int64_t *usec)
{
	int Y, M, D, h = 0, m = 0, sc = 0, off = 0;
	int64_t us = 0;
	const char *p = s;
	struct tm tm;

	if (!s || digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) ||
	    *p++ != '-' || digits(&p, 2, &D))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31)
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sc))
				return -1;
			if (*p == '.' || *p == ',') {
				int nd = 0;
				p++;
				if (*p < '0' || *p > '9')
					return -1;
				/* keep microseconds, skip finer digits */
				for (; *p >= '0' && *p <= '9'; p++, nd++)
					if (nd < 6)
						us = us * 10 + (*p - '0');
				for (; nd < 6; nd++)
					us *= 10;
			}
		}
		if (h > 23 || m > 59 || sc > 60)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (digits(&p, 2, &om) || oh > 23 || om > 59)
				return -1;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sc;
	*sec = (int64_t)timegm(&tm) - off;
	*usec = us;
	return 0;
}

/* seconds + a signed offset in seconds, formatted the store's way */
static void ts_format_off(char *buf, size_t len, int64_t sec, int64_t usec,
			  double off)
{
	int64_t t = sec * 1000000 + usec + (int64_t)(off * 1e6);
	int64_t s = t / 1000000, u = t % 1000000;

	if (u < 0) {
		u += 1000000;
		s--;
	}
	mm_format_ts(buf, len, s, u);
}

static void now_ts(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	mm_format_ts(buf, len, ts.tv_sec, ts.tv_nsec / 1000);
}

/* ---------------- open / close ---------------- */

static int exec(struct store_db *d, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", d->path,
		       msg ? msg : sqlite3_errmsg(d->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int pragma_int(struct store_db *d, const char *sql, int *out,
		      char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		seterr(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		sqlite3_finalize(st);
		return -1;
	}
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int set_wal(struct store_db *d, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const char *mode;
	int rc;

	if (sqlite3_prepare_v2(d->db, "PRAGMA journal_mode=WAL", -1, &st,
			       NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		seterr(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		sqlite3_finalize(st);
		return -1;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	/* ":memory:" databases answer "memory": fine for tests */
	if (!mode || (strcmp(mode, "wal") && strcmp(mode, "memory"))) {
		seterr(err, errlen,
		       "%s: cannot use write-ahead logging (journal mode "
		       "stays '%s'; a network file system?)",
		       d->path, mode ? mode : "?");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

struct store_db *store_db_open(const char *path, const struct store_db_opts *o,
			       char *err, size_t errlen)
{
	struct store_db *d;
	int ver;

	if (!path || !*path) {
		seterr(err, errlen, "no database file given");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->window = o && o->aggregate_window > 0 ? o->aggregate_window : 0;
	if (sqlite3_open_v2(path, &d->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: cannot open: %s", path,
		       d->db ? sqlite3_errmsg(d->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(d->db, 1);
	/* a CLI reader checkpointing, or a second store by mistake */
	sqlite3_busy_timeout(d->db, 5000);
	/* the first statement that reads the file: "not a database" here */
	if (pragma_int(d, "PRAGMA user_version", &ver, err, errlen))
		goto fail;
	if (ver > STORE_SCHEMA_VERSION) {
		seterr(err, errlen,
		       "%s: schema version %d is newer than this program's "
		       "(%d): use a newer mimamori-store",
		       path, ver, STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* temp_store=MEMORY keeps the per-record savepoints' statement
	 * journal in memory: on a file it cost ~20 writes per record */
	if (set_wal(d, err, errlen) ||
	    exec(d, "PRAGMA synchronous=NORMAL", err, errlen) ||
	    exec(d, "PRAGMA temp_store=MEMORY", err, errlen))
		goto fail;
	if (ver < STORE_SCHEMA_VERSION) {
		/* version 0: new (or empty) file.  Later versions migrate
		 * here, one step at a time, each in its transaction. */
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
			 STORE_SCHEMA_VERSION);
		if (exec(d, "BEGIN IMMEDIATE", err, errlen))
			goto fail;
		if (exec(d, store_schema, err, errlen) ||
		    exec(d, sql, err, errlen)) {
			sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
		if (exec(d, "COMMIT", err, errlen))
			goto fail;
	}
	for (int i = 0; i < ST__N; i++) {
		if (sqlite3_prepare_v3(d->db, store_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &d->st[i],
				       NULL) != SQLITE_OK) {
			seterr(err, errlen, "%s: preparing \"%s\": %s", path,
			       store_sql[i], sqlite3_errmsg(d->db));
			goto fail;
		}
	}
	return d;
fail:
	store_db_close(d);
	return NULL;
}

void store_db_close(struct store_db *d)
{
	if (!d)
		return;
	if (d->in_tx)
		store_db_commit(d);
	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(d->st[i]);
	sqlite3_close(d->db);
	free(d);
}

/* step a statement that returns no row, then reset it; SQLite code */
static int step_reset(struct store_db *d, int i)
{
	int rc = sqlite3_step(d->st[i]);

	sqlite3_reset(d->st[i]);
	sqlite3_clear_bindings(d->st[i]);
	return rc;
}

int store_db_begin(struct store_db *d)
{
	if (d->in_tx)
		return 0;
	if (step_reset(d, ST_BEGIN) != SQLITE_DONE)
		return -1;
	d->in_tx = true;
	d->seen[0] = '\0';
	return 0;
}

int store_db_commit(struct store_db *d)
{
	if (!d->in_tx)
		return 0;
	if (step_reset(d, ST_COMMIT) != SQLITE_DONE) {
		/* SQLite may have rolled back already (I/O error, full disk);
		 * if not, the caller may retry or call store_db_rollback */
		if (sqlite3_get_autocommit(d->db))
			d->in_tx = false;
		return -1;
	}
	d->in_tx = false;
	return 0;
}

int store_db_rollback(struct store_db *d)
{
	int rc = 0;

	if (!sqlite3_get_autocommit(d->db))
		rc = step_reset(d, ST_ROLLBACK) == SQLITE_DONE ? 0 : -1;
	d->in_tx = false;
	return rc;
}

bool store_db_err_is_record(const struct store_db *d)
{
	return d->err_record;
}

/* ---------------- binding helpers ---------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* a JSON string member, NULL when missing, not a string, or empty */
static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : NULL;
}

static void bind_jint(sqlite3_stmt *st, int i, json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(st, i, (sqlite3_int64)json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_int64(st, i, (sqlite3_int64)json_real_value(v));
	else
		sqlite3_bind_null(st, i);
}

/* the record's timestamp, normalised; falls back to `received` */
static int record_ts(json_t *root, const char *received, char *out,
		     size_t len, int64_t *sec, int64_t *usec)
{
	const char *t = json_string_value(json_object_get(root, "timestamp"));

	if (!t) {
		/* no packet time at all: the best we know is ingest time */
		snprintf(out, len, "%s", received);
		return store_ts_parse(received, sec, usec);
	}
	if (store_ts_parse(t, sec, usec))
		return -1;
	mm_format_ts(out, len, *sec, *usec);
	return 0;
}

/* ---------------- per kind ---------------- */

#define DBFAIL(what)                                                          \
	do {                                                                  \
		seterr(err, errlen, "%s: %s: %s", d->path, what,              \
		       sqlite3_errmsg(d->db));                                \
		return -1;                                                    \
	} while (0)

static int put_alert(struct store_db *d, json_t *root, const char *sensor,
		     uint64_t seq, const char *json, size_t len,
		     const char *received, char *err, size_t errlen)
{
	json_t *alert = json_object_get(root, "alert");
	const char *sig = jstr(alert, "signature");
	char ts[40];
	int64_t sec, usec;
	sqlite3_stmt *st;
	int rc;

	if (record_ts(root, received, ts, sizeof(ts), &sec, &usec)) {
		seterr(err, errlen, "timestamp \"%s\" is not ISO 8601",
		       json_string_value(json_object_get(root, "timestamp")));
		d->err_record = true;
		return -1;
	}
	if (d->window > 0) {
		char lo[40], hi[40];
		ts_format_off(lo, sizeof(lo), sec, usec, -d->window);
		ts_format_off(hi, sizeof(hi), sec, usec, d->window);
		st = d->st[ST_AGG_FIND];
		bind_text(st, 1, sensor);
		bind_text(st, 2, sig);
		bind_text(st, 3, jstr(root, "src_ip"));
		bind_text(st, 4, jstr(root, "dest_ip"));
		bind_jint(st, 5, json_object_get(root, "dest_port"));
		bind_text(st, 6, lo);
		bind_text(st, 7, hi);
		rc = sqlite3_step(st);
		sqlite3_int64 id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0)
						    : 0;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			DBFAIL("looking up a repeat");
		if (rc == SQLITE_ROW) {
			st = d->st[ST_AGG_UPDATE];
			sqlite3_bind_int64(st, 1, id);
			bind_text(st, 2, ts);
			bind_jint(st, 3, json_object_get(alert, "severity"));
			sqlite3_bind_text(st, 4, json, (int)len, SQLITE_STATIC);
			if (step_reset(d, ST_AGG_UPDATE) != SQLITE_DONE)
				DBFAIL("counting a repeat");
			return 1;
		}
	}
	st = d->st[ST_ALERT_INSERT];
	bind_text(st, 1, ts);
	bind_text(st, 2, sensor);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
	bind_text(st, 4, sig);
	bind_jint(st, 5, json_object_get(alert, "signature_id"));
	bind_text(st, 6, jstr(alert, "category"));
	bind_jint(st, 7, json_object_get(alert, "severity"));
	bind_text(st, 8, jstr(root, "app_proto"));
	bind_text(st, 9, jstr(root, "proto"));
	bind_text(st, 10, jstr(root, "src_ip"));
	bind_jint(st, 11, json_object_get(root, "src_port"));
	bind_text(st, 12, jstr(root, "dest_ip"));
	bind_jint(st, 13, json_object_get(root, "dest_port"));
	bind_text(st, 14, jstr(root, "src_zone"));
	bind_text(st, 15, jstr(root, "dest_zone"));
	bind_text(st, 16, received);
	sqlite3_bind_text(st, 17, json, (int)len, SQLITE_STATIC);
	if (step_reset(d, ST_ALERT_INSERT) != SQLITE_DONE)
		DBFAIL("inserting an alert");
	return 1;
}

static int put_hello(struct store_db *d, json_t *root, const char *sensor,
		     const char *received, char *err, size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SENSOR_HELLO];

	bind_text(st, 1, sensor);
	bind_text(st, 2, jstr(root, "site"));
	bind_text(st, 3, jstr(root, "version"));
	bind_text(st, 4, jstr(root, "zones_file"));
	bind_text(st, 5, jstr(root, "zones_yaml"));
	bind_text(st, 6, received);
	if (step_reset(d, ST_SENSOR_HELLO) != SQLITE_DONE)
		DBFAIL("storing a hello");
	return 1;
}

static int put_stats(struct store_db *d, const char *sensor, const char *json,
		     size_t len, const char *received, char *err,
		     size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SENSOR_STATS];

	bind_text(st, 1, sensor);
	bind_text(st, 2, received);
	sqlite3_bind_text(st, 3, json, (int)len, SQLITE_STATIC);
	if (step_reset(d, ST_SENSOR_STATS) != SQLITE_DONE)
		DBFAIL("storing stats");
	return 1;
}

static int put_asset(struct store_db *d, json_t *root, const char *sensor,
		     const char *received, char *err, size_t errlen)
{
	const char *ip = jstr(root, "ip");
	char ts[40];
	int64_t sec, usec;
	json_t *facts = NULL;
	char *text = NULL;
	sqlite3_stmt *st;
	int rc;

	if (!ip) {
		seterr(err, errlen, "asset without \"ip\"");
		d->err_record = true;
		return -1;
	}
	if (record_ts(root, received, ts, sizeof(ts), &sec, &usec)) {
		seterr(err, errlen, "asset timestamp is not ISO 8601");
		d->err_record = true;
		return -1;
	}
	/* merge with what we know: the newer record's facts win, so a
	 * record that arrives late (a resend) does not undo a newer one */
	st = d->st[ST_ASSET_GET];
	bind_text(st, 1, sensor);
	bind_text(st, 2, ip);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *old = (const char *)sqlite3_column_text(st, 0);
		const char *old_last = (const char *)sqlite3_column_text(st, 1);
		facts = old ? json_loads(old, 0, NULL) : NULL;
		if (json_is_object(facts)) {
			if (old_last && strcmp(ts, old_last) < 0)
				json_object_update_missing(facts, root);
			else
				json_object_update(facts, root);
		} else {
			json_decref(facts);
			facts = NULL;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		DBFAIL("reading an asset");
	text = json_dumps(facts ? facts : root, JSON_COMPACT);
	json_decref(facts);
	if (!text) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	st = d->st[ST_ASSET_PUT];
	bind_text(st, 1, sensor);
	bind_text(st, 2, ip);
	bind_text(st, 3, jstr(root, "mac"));
	bind_text(st, 4, jstr(root, "zone"));
	bind_text(st, 5, ts);
	bind_text(st, 6, text);
	rc = step_reset(d, ST_ASSET_PUT);
	free(text);
	if (rc != SQLITE_DONE)
		DBFAIL("storing an asset");
	return 1;
}

/* ---------------- put ---------------- */

enum kind { K_ALERT, K_HELLO, K_STATS, K_ASSET, K_UNKNOWN };

static enum kind kind_of(const char *k)
{
	if (!strcmp(k, "alert"))
		return K_ALERT;
	if (!strcmp(k, "hello"))
		return K_HELLO;
	if (!strcmp(k, "stats"))
		return K_STATS;
	if (!strcmp(k, "asset"))
		return K_ASSET;
	return K_UNKNOWN;
}

/* the record's own checks, before anything touches the database */
static json_t *validate(struct store_db *d, enum kind k, const char *kind,
			const char *json, size_t len, char *err,
			size_t errlen)
{
	json_error_t je;
	json_t *root;

	d->err_record = true;
	if (k == K_UNKNOWN) {
		seterr(err, errlen, "unknown record kind \"%.32s\"", kind);
		return NULL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		seterr(err, errlen, "%s: not valid JSON: %s (line %d column %d)",
		       kind, je.text, je.line, je.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		seterr(err, errlen, "%s: JSON is not an object", kind);
		json_decref(root);
		return NULL;
	}
	if (k == K_ALERT && !jstr(json_object_get(root, "alert"), "signature")) {
		seterr(err, errlen, "alert without alert.signature");
		json_decref(root);
		return NULL;
	}
	d->err_record = false;
	return root;
}

int store_db_put(struct store_db *d, const char *kind, const char *sensor,
		 uint64_t seq, const char *json, size_t len, char *err,
		 size_t errlen)
{
	enum kind k = kind_of(kind ? kind : "");
	char received[40];
	json_t *root = NULL;
	int rc;

	if (!sensor || !*sensor) {
		d->err_record = true;
		seterr(err, errlen, "record without a sensor id");
		return -1;
	}
	if (len > (size_t)1 << 30) {
		d->err_record = true;
		seterr(err, errlen, "record too large");
		return -1;
	}
	if (k == K_UNKNOWN) {
		d->err_record = true;
		seterr(err, errlen, "unknown record kind \"%.32s\"",
		       kind ? kind : "");
		return -1;
	}
	d->err_record = false;
	now_ts(received, sizeof(received));
	if (step_reset(d, ST_SAVEPOINT) != SQLITE_DONE) {
		seterr(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		return -1;
	}
	/* (sensor, seq) first: a resend costs one index probe, no parsing */
	sqlite3_bind_text(d->st[ST_INGEST], 1, sensor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(d->st[ST_INGEST], 2, (sqlite3_int64)seq);
	if (step_reset(d, ST_INGEST) != SQLITE_DONE) {
		seterr(err, errlen, "%s: recording (sensor, seq): %s", d->path,
		       sqlite3_errmsg(d->db));
		rc = -1;
		goto out;
	}
	if (sqlite3_changes(d->db) == 0) {
		rc = 0; /* a resend of what we hold already */
		goto out;
	}
	root = validate(d, k, kind, json, len, err, errlen);
	if (!root) {
		rc = -1; /* the ingest row goes with the rollback below */
		goto out;
	}
	switch (k) {
	case K_ALERT:
		rc = put_alert(d, root, sensor, seq, json, len, received, err,
			       errlen);
		break;
	case K_HELLO:
		rc = put_hello(d, root, sensor, received, err, errlen);
		break;
	case K_STATS:
		rc = put_stats(d, sensor, json, len, received, err, errlen);
		break;
	case K_ASSET:
		rc = put_asset(d, root, sensor, received, err, errlen);
		break;
	default:
		rc = -1;
		break;
	}
	if (rc == 1 && k != K_HELLO && k != K_STATS &&
	    !(d->in_tx && !strcmp(d->seen, sensor))) {
		sqlite3_stmt *st = d->st[ST_SENSOR_SEEN];
		bind_text(st, 1, sensor);
		bind_text(st, 2, received);
		if (step_reset(d, ST_SENSOR_SEEN) != SQLITE_DONE) {
			seterr(err, errlen, "%s: noting the sensor: %s",
			       d->path, sqlite3_errmsg(d->db));
			rc = -1;
		} else if (d->in_tx && strlen(sensor) <= SENSOR_ID_MAX) {
			strcpy(d->seen, sensor);
		}
	}
out:
	json_decref(root);
	if (rc < 0) {
		/* undo this record only; the batch goes on */
		step_reset(d, ST_ROLLBACK_TO);
	}
	step_reset(d, ST_RELEASE);
	return rc;
}
