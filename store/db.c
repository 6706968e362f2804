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
 * A record is checked whole (JSON, signature, timestamps) before it
 * touches the database, so a bad record leaves nothing behind.  A database
 * error in the middle of a batch (a full disk) spoils the whole
 * transaction: the server rolls it back and acknowledges none of it, and
 * the sensors resend.  That costs a resend in a rare case, where a
 * savepoint per record cost two statements on every record.
 *
 * The file is created 0600 and held with flock(2) while open: a second
 * store on the same file is refused at start, not discovered later.
 * SQLite's own locks are POSIX record locks, which flock does not touch;
 * the descriptor stays open until after sqlite3_close (closing any
 * descriptor of the file would drop the process's POSIX locks).
 */
#include "store.h"
#include "baseline.h"
#include "seterr.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/rec.h"

#define SENSOR_ID_MAX 128
#define SILENT_MAX 4096      /* sensors remembered as silent, at most */
#define SIG_ID_SILENT 2190001
#define SIG_ID_RETURNED 2190002

/* PRAGMA user_version of the schema this code writes */
#define STORE_SCHEMA_VERSION 4

/*
 * Version 4.  Indexes are what the queries use and no more: every index
 * is one more B-tree insert per alert.
 */
static const char store_schema[] =
	/* one row per alert, or per run of repeats (count, first/last_ts) */
	"CREATE TABLE IF NOT EXISTS alerts("
	" id INTEGER PRIMARY KEY,"  /* in arrival order: retention goes by it */
	" ts TEXT NOT NULL,"        /* EVE timestamp of the stored occurrence */
	" first_ts TEXT NOT NULL,"  /* earliest occurrence aggregated here */
	" last_ts TEXT NOT NULL,"   /* latest occurrence aggregated here */
	" count INTEGER NOT NULL DEFAULT 1,"
	" sensor TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"    /* of the stored occurrence; 0: the store's */
	" signature TEXT NOT NULL,"
	" signature_id INTEGER,"
	" category TEXT,"
	" severity INTEGER,"
	" app_proto TEXT,"
	" proto TEXT,"
	" src_ip TEXT, src_port INTEGER,"
	" dest_ip TEXT, dest_port INTEGER,"
	" src_zone TEXT, dest_zone TEXT,"
	" received TEXT NOT NULL,"  /* wall clock when the row was made */
	" eve TEXT NOT NULL);"      /* the EVE JSON of the stored occurrence */
	"CREATE INDEX IF NOT EXISTS alerts_last_ts ON alerts(last_ts);"
	"CREATE INDEX IF NOT EXISTS alerts_src_zone ON alerts(src_zone, last_ts);"
	"CREATE INDEX IF NOT EXISTS alerts_dest_zone ON alerts(dest_zone, last_ts);"
	"CREATE INDEX IF NOT EXISTS alerts_signature ON alerts(signature, last_ts);"
	/* the aggregation key, then last_ts for the window; also --sensor */
	"CREATE INDEX IF NOT EXISTS alerts_agg ON alerts"
	"(sensor, signature, src_ip, dest_ip, dest_port, last_ts);"
	/* every (sensor, seq) stored and still resendable: what makes a
	 * resend idempotent (pruned below each sensor's prune_below) */
	"CREATE TABLE IF NOT EXISTS ingest("
	" sensor TEXT NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY(sensor, seq)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS sensors("
	" sensor TEXT PRIMARY KEY,"
	" site TEXT, version TEXT, zones_file TEXT, zones_yaml TEXT,"
	" first_contact TEXT, last_contact TEXT,"
	" hellos INTEGER NOT NULL DEFAULT 0," /* sensor (re)starts seen */
	" stats TEXT,"
	" hello_seq INTEGER, stats_seq INTEGER," /* a late resend loses */
	" link TEXT, link_ts TEXT,"  /* the link's last heartbeat */
	" acked_below INTEGER,"      /* it never resends below this seq */
	" prune_below INTEGER,"      /* acked_below of the heartbeat before */
	" key TEXT,"                 /* name of its CurveZMQ key */
	" silent_since TEXT);"       /* set while sensor.silent stands */
	"CREATE TABLE IF NOT EXISTS assets("
	" sensor TEXT NOT NULL, ip TEXT NOT NULL,"
	" mac TEXT, zone TEXT, first_ts TEXT, last_ts TEXT, facts TEXT,"
	" PRIMARY KEY(sensor, ip));"
	"CREATE INDEX IF NOT EXISTS assets_zone ON assets(zone);"
	/* the learned baseline and the zone matrix (baseline.h) */
	BASELINE_SCHEMA;

/* version 3 -> 4: the learned baseline and the zone matrix */
static const char store_migrate_3_4[] = BASELINE_SCHEMA;

/* version 1 -> 2: the sensors' new columns; alerts(ts) was never used */
/* version 2 -> 3: pruning lags one heartbeat behind */
static const char store_migrate_2_3[] =
	"ALTER TABLE sensors ADD COLUMN prune_below INTEGER;";

static const char store_migrate_1_2[] =
	"ALTER TABLE sensors ADD COLUMN hello_seq INTEGER;"
	"ALTER TABLE sensors ADD COLUMN stats_seq INTEGER;"
	"ALTER TABLE sensors ADD COLUMN link TEXT;"
	"ALTER TABLE sensors ADD COLUMN link_ts TEXT;"
	"ALTER TABLE sensors ADD COLUMN acked_below INTEGER;"
	"ALTER TABLE sensors ADD COLUMN key TEXT;"
	"ALTER TABLE sensors ADD COLUMN silent_since TEXT;"
	"DROP INDEX IF EXISTS alerts_ts;";

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INGEST,
	ST_AGG_FIND,
	ST_AGG_UPDATE,
	ST_ALERT_INSERT,
	ST_SENSOR_SEEN,
	ST_SENSOR_HELLO,
	ST_SENSOR_STATS,
	ST_SENSOR_BEAT,
	ST_SENSOR_KEY,
	ST_SENSOR_SITE,
	ST_ASSET_GET,
	ST_ASSET_PUT,
	ST_SILENT_FIND,
	ST_SILENT_SET,
	ST_SILENT_GET,
	ST_SILENT_END,
	ST_SILENT_LIST,
	ST_OLDEST,
	ST_DEL_OLD,
	ST_DEL_FRONT,
	ST_PAGES,
	ST_PRUNE_LIST,
	ST_PRUNE,
	ST__N
};

static const char *const store_sql[ST__N] = {
	/* IMMEDIATE: take the write lock now, so a busy database shows up
	 * here (after the busy timeout) and not in the middle of a batch */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
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
	/* only a hello newer than the one stored counts: an old one
	 * resent from a disk spool must not undo the sensor's restart */
	[ST_SENSOR_HELLO] =
		"INSERT INTO sensors(sensor, site, version, zones_file,"
		" zones_yaml, first_contact, last_contact, hellos, hello_seq)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7) ON CONFLICT(sensor)"
		" DO UPDATE SET site = excluded.site,"
		" version = excluded.version, zones_file = excluded.zones_file,"
		" zones_yaml = excluded.zones_yaml,"
		" hello_seq = excluded.hello_seq, hellos = hellos + 1"
		" WHERE hello_seq IS NULL OR hello_seq <= excluded.hello_seq",
	[ST_SENSOR_STATS] =
		"INSERT INTO sensors(sensor, first_contact, last_contact, stats,"
		" stats_seq) VALUES(?1, ?2, ?2, ?3, ?4) ON CONFLICT(sensor)"
		" DO UPDATE SET stats = excluded.stats,"
		" stats_seq = excluded.stats_seq"
		" WHERE stats_seq IS NULL OR stats_seq <= excluded.stats_seq",
	[ST_SENSOR_BEAT] =
		"INSERT INTO sensors(sensor, first_contact, last_contact, link,"
		" link_ts, acked_below, key) VALUES(?1, ?2, ?2, ?3, ?2, ?4, ?5)"
		" ON CONFLICT(sensor) DO UPDATE SET link = excluded.link,"
		" link_ts = excluded.link_ts, acked_below = excluded.acked_below,"
		/* a copy of a record sent before an ack may still be on its
		 * way, on a connection that died: prune only below what the
		 * sensor promised a heartbeat ago (right-hand sides see the
		 * row as it was) */
		" prune_below = acked_below,"
		" key = coalesce(excluded.key, key),"
		" last_contact = excluded.last_contact",
	[ST_SENSOR_KEY] = "UPDATE sensors SET key = ?2 WHERE sensor = ?1",
	[ST_SENSOR_SITE] = "SELECT site FROM sensors WHERE sensor = ?1",
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
	[ST_SILENT_FIND] = "SELECT sensor, coalesce(site, ''), last_contact"
			   " FROM sensors WHERE silent_since IS NULL AND"
			   " last_contact < ?1 ORDER BY sensor",
	[ST_SILENT_SET] = "UPDATE sensors SET silent_since = ?2 WHERE sensor = ?1",
	[ST_SILENT_GET] = "SELECT silent_since, coalesce(site, ''), last_contact"
			  " FROM sensors WHERE sensor = ?1",
	/* the silence's row spans the outage: first_ts when it was declared,
	 * last_ts when the sensor was heard again */
	[ST_SILENT_END] = "UPDATE alerts SET last_ts = max(last_ts, ?2)"
			  " WHERE id = (SELECT max(id) FROM alerts WHERE"
			  " sensor = ?1 AND signature = '" STORE_SIG_SILENT "')",
	[ST_SILENT_LIST] = "SELECT sensor FROM sensors"
			   " WHERE silent_since IS NOT NULL",
	[ST_OLDEST] = "SELECT received FROM alerts ORDER BY id LIMIT 1",
	[ST_DEL_OLD] = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
		       " ORDER BY id LIMIT ?1) AND received < ?2",
	[ST_DEL_FRONT] = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
			 " ORDER BY id LIMIT ?1)",
	[ST_PAGES] = "SELECT p.page_count - f.freelist_count, f.freelist_count"
		     " FROM pragma_page_count() p, pragma_freelist_count() f",
	[ST_PRUNE_LIST] = "SELECT sensor, min(prune_below, acked_below)"
			  " FROM sensors WHERE prune_below > 0 ORDER BY sensor",
	/* at most ?3 rows, the lowest seqs first (a range of the key) */
	[ST_PRUNE] = "DELETE FROM ingest WHERE sensor = ?1 AND seq < min(?2,"
		     " coalesce((SELECT seq FROM ingest WHERE sensor = ?1"
		     " ORDER BY seq LIMIT 1 OFFSET ?3), ?2))",
};

struct store_db {
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	int lock_fd;       /* flock'ed while open: one store per file */
	double window;     /* aggregation window, seconds */
	double retain_days;
	int64_t retain_bytes;
	int64_t page_size;
	bool incremental;  /* auto_vacuum=INCREMENTAL: give pages back */
	bool in_tx;
	bool err_record;   /* last error was the record's fault */
	/* the sensor whose last contact this transaction already set: one
	 * upsert per sensor and batch, not per record */
	char seen[SENSOR_ID_MAX + 1];
	char received[40]; /* wall clock of this transaction */
	/* the site of site_of (cached: looked up per new row) */
	char site_of[SENSOR_ID_MAX + 1];
	char site[256];
	bool site_valid;
	/* sensors with a sensor.silent standing (usually none) */
	char **silent;
	size_t n_silent;
	store_db_new_alert_fn *on_new_alert;
	void *arg;
	struct store_parser *parser; /* on this connection, for store_db_put */
	struct baseline *bl;         /* obs records (baseline.c) */
	double flood_factor, flood_floor;
	char path[256];
};

static struct store_parser *parser_on(sqlite3 *db, bool own, char *err,
				      size_t errlen);
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

/* one value of a query that returns one row */
static int query_text(struct store_db *d, const char *sql, char *out,
		      size_t len, char *err, size_t errlen)
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
	snprintf(out, len, "%s",
		 sqlite3_column_text(st, 0)
			 ? (const char *)sqlite3_column_text(st, 0)
			 : "");
	sqlite3_finalize(st);
	return 0;
}

static int query_int(struct store_db *d, const char *sql, int64_t *out,
		     char *err, size_t errlen)
{
	char buf[32];

	if (query_text(d, sql, buf, sizeof(buf), err, errlen))
		return -1;
	*out = strtoll(buf, NULL, 10);
	return 0;
}

static int set_wal(struct store_db *d, char *err, size_t errlen)
{
	char mode[32];

	if (query_text(d, "PRAGMA journal_mode=WAL", mode, sizeof(mode), err,
		       errlen))
		return -1;
	/* ":memory:" databases answer "memory": fine for tests */
	if (strcmp(mode, "wal") && strcmp(mode, "memory")) {
		seterr(err, errlen,
		       "%s: cannot use write-ahead logging (journal mode "
		       "stays '%s'; a network file system?)",
		       d->path, mode);
		return -1;
	}
	return 0;
}

/* the file, created 0600 when missing, and held against a second store */
static int lock_file(struct store_db *d, const char *path, char *err,
		     size_t errlen)
{
	struct stat sb;

	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0) {
		seterr(err, errlen, "%s: cannot open: %s", path,
		       strerror(errno));
		return -1;
	}
	if (fstat(d->lock_fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		seterr(err, errlen,
		       "%s: %s", path,
		       errno == EWOULDBLOCK
			       ? "in use by another mimamori-store (or a "
				 "mimamorid with its embedded store): one "
				 "store per database file"
			       : strerror(errno));
		return -1;
	}
	return 0;
}

/* create or upgrade the schema, in one write transaction */
static int schema(struct store_db *d, int ver, char *err, size_t errlen)
{
	char sql[64];
	char *msg = NULL;
	int rc;

	/* the first write: a database some other program keeps locked shows
	 * up here, after the busy timeout, with a message that says so */
	rc = sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
			seterr(err, errlen,
			       "%s: database is locked by another program "
			       "(a sqlite3 shell holding a transaction?): "
			       "cannot write to it",
			       d->path);
		else
			seterr(err, errlen, "%s: cannot write: %s", d->path,
			       msg ? msg : sqlite3_errmsg(d->db));
		sqlite3_free(msg);
		return -1;
	}
	if (ver == 0 && exec(d, store_schema, err, errlen))
		goto fail;
	/* later versions migrate here, one step at a time */
	if (ver == 1 && exec(d, store_migrate_1_2, err, errlen))
		goto fail;
	if (ver >= 1 && ver <= 2 && exec(d, store_migrate_2_3, err, errlen))
		goto fail;
	if (ver >= 1 && ver <= 3 && exec(d, store_migrate_3_4, err, errlen))
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
		 STORE_SCHEMA_VERSION);
	if (ver < STORE_SCHEMA_VERSION && exec(d, sql, err, errlen))
		goto fail;
	return exec(d, "COMMIT", err, errlen);
fail:
	sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static void silent_clear(struct store_db *d)
{
	for (size_t i = 0; i < d->n_silent; i++)
		free(d->silent[i]);
	free(d->silent);
	d->silent = NULL;
	d->n_silent = 0;
}

static void silent_add(struct store_db *d, const char *sensor)
{
	char **n, *s;

	if (d->n_silent >= SILENT_MAX)
		return; /* then it is simply not noticed when it returns */
	s = strdup(sensor);
	n = s ? realloc(d->silent, (d->n_silent + 1) * sizeof(*n)) : NULL;
	if (!n) {
		free(s);
		return;
	}
	d->silent = n;
	d->silent[d->n_silent++] = s;
}

/* the sensors that are silent, as the database says */
static void silent_load(struct store_db *d)
{
	sqlite3_stmt *st = d->st[ST_SILENT_LIST];

	silent_clear(d);
	while (sqlite3_step(st) == SQLITE_ROW)
		silent_add(d, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
}

struct store_db *store_db_open(const char *path, const struct store_db_opts *o,
			       char *err, size_t errlen)
{
	struct store_db *d;
	int64_t ver, av;
	char check[256];

	if (!path || !*path) {
		seterr(err, errlen, "no database file given");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	d->lock_fd = -1;
	snprintf(d->path, sizeof(d->path), "%s", path);
	if (o) {
		d->window = o->aggregate_window > 0 ? o->aggregate_window : 0;
		d->retain_days = o->retain_days > 0 ? o->retain_days : 0;
		d->retain_bytes = o->retain_mb > 0
					  ? (int64_t)(o->retain_mb * 1048576.0)
					  : 0;
		d->on_new_alert = o->on_new_alert;
		d->arg = o->arg;
		d->flood_factor = o->flood_factor;
		d->flood_floor = o->flood_floor;
	}
	if (strcmp(path, ":memory:") && lock_file(d, path, err, errlen))
		goto fail;
	if (sqlite3_open_v2(path, &d->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s: cannot open: %s", path,
		       d->db ? sqlite3_errmsg(d->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(d->db, 1);
	/* at start, a short wait: a locked database is an error to report */
	sqlite3_busy_timeout(d->db, 2000);
	/* the first statement that reads the file: "not a database" here */
	if (query_int(d, "PRAGMA user_version", &ver, err, errlen))
		goto fail;
	if (ver > STORE_SCHEMA_VERSION) {
		seterr(err, errlen,
		       "%s: schema version %d is newer than this program's "
		       "(%d): use a newer mimamori-store",
		       path, (int)ver, STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* a new file gives freed pages back to the file system bit by bit
	 * (retention); it must be set before the first table exists */
	if (ver == 0 && exec(d, "PRAGMA auto_vacuum=INCREMENTAL", err, errlen))
		goto fail;
	/* temp_store=MEMORY: sorting and temporary b-trees stay off disk;
	 * journal_size_limit: a WAL grown by a burst shrinks again */
	if (set_wal(d, err, errlen) ||
	    exec(d, "PRAGMA synchronous=NORMAL", err, errlen) ||
	    exec(d, "PRAGMA temp_store=MEMORY", err, errlen) ||
	    exec(d, "PRAGMA journal_size_limit=67108864", err, errlen))
		goto fail;
	/* a damaged file is refused now, with a message, not met later as
	 * a failing batch (quick_check: every page, not the index content) */
	if (ver > 0 && !(o && o->no_check)) {
		if (query_text(d, "PRAGMA quick_check(1)", check, sizeof(check),
			       err, errlen))
			goto fail;
		if (strcmp(check, "ok")) {
			seterr(err, errlen,
			       "%s: the database is damaged (%s): restore a "
			       "backup, or move the file away to start a new "
			       "store",
			       path, check);
			goto fail;
		}
	}
	if (schema(d, (int)ver, err, errlen))
		goto fail;
	sqlite3_busy_timeout(d->db, 5000); /* a CLI reader checkpointing */
	if (query_int(d, "PRAGMA page_size", &d->page_size, err, errlen) ||
	    query_int(d, "PRAGMA auto_vacuum", &av, err, errlen))
		goto fail;
	d->incremental = av == 2;
	for (int i = 0; i < ST__N; i++) {
		if (sqlite3_prepare_v3(d->db, store_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &d->st[i],
				       NULL) != SQLITE_OK) {
			seterr(err, errlen, "%s: preparing \"%s\": %s", path,
			       store_sql[i], sqlite3_errmsg(d->db));
			goto fail;
		}
	}
	d->parser = parser_on(d->db, false, err, errlen);
	if (!d->parser)
		goto fail;
	d->bl = baseline_open(d->db, d->flood_factor, d->flood_floor, err,
			      errlen);
	if (!d->bl)
		goto fail;
	silent_load(d);
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
	store_parser_free(d->parser);
	baseline_close(d->bl);
	sqlite3_close(d->db);
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* after sqlite3_close: see the top */
	silent_clear(d);
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
	/* one wall clock per batch: the rows of a batch arrived together */
	now_ts(d->received, sizeof(d->received));
	return 0;
}

int store_db_commit(struct store_db *d)
{
	if (!d->in_tx)
		return 0;
	if (step_reset(d, ST_COMMIT) != SQLITE_DONE) {
		/* SQLite may have rolled back already (I/O error, full disk);
		 * if not, the caller may retry or call store_db_rollback */
		if (sqlite3_get_autocommit(d->db)) {
			d->in_tx = false;
			d->site_valid = false;
			silent_load(d);
		}
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
	/* what the memory caches learnt in it is undone too */
	d->site_valid = false;
	silent_load(d);
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

#define DBFAIL(what)                                                          \
	do {                                                                  \
		seterr(err, errlen, "%s: %s: %s", d->path, what,              \
		       sqlite3_errmsg(d->db));                                \
		return -1;                                                    \
	} while (0)

/* ---------------- sites, new rows, the store's own alerts ---------------- */

/* the site of a sensor ("" when unknown), cached for runs of one sensor */
static const char *site_of(struct store_db *d, const char *sensor)
{
	sqlite3_stmt *st = d->st[ST_SENSOR_SITE];

	if (d->site_valid && !strcmp(d->site_of, sensor))
		return d->site;
	d->site[0] = '\0';
	bind_text(st, 1, sensor);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(d->site, sizeof(d->site), "%s",
			 (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	snprintf(d->site_of, sizeof(d->site_of), "%s", sensor);
	d->site_valid = strlen(sensor) <= SENSOR_ID_MAX;
	return d->site;
}

/* an alert's columns, however they were read */
struct alert_fields {
	const char *ts, *sig, *cat, *app, *proto, *src, *dst, *szone, *dzone;
	int64_t sig_id, sev, sport, dport;
	bool has_sig_id, has_sev, has_sport, has_dport;
};

static void new_row(struct store_db *d, const char *sensor,
		    const struct alert_fields *a, const char *json, size_t len)
{
	const char *proto;
	char lower[16];

	if (!d->on_new_alert)
		return;
	proto = a->app;
	if (!proto && (proto = a->proto)) {
		size_t i;
		for (i = 0; proto[i] && i + 1 < sizeof(lower); i++)
			lower[i] = (char)(proto[i] >= 'A' && proto[i] <= 'Z'
						  ? proto[i] - 'A' + 'a'
						  : proto[i]);
		lower[i] = '\0';
		proto = lower;
	}
	d->on_new_alert(d->arg, sensor, site_of(d, sensor),
			a->has_sev ? (int)a->sev : 0, proto ? proto : "other",
			json, len);
}

static void bind_opt_int(sqlite3_stmt *st, int i, bool has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, (sqlite3_int64)v);
	else
		sqlite3_bind_null(st, i);
}

/* insert an alert row; 0 or -1 */
static int insert_alert(struct store_db *d, const struct alert_fields *a,
			const char *sensor, uint64_t seq, const char *json,
			size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_ALERT_INSERT];

	bind_text(st, 1, a->ts);
	bind_text(st, 2, sensor);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
	bind_text(st, 4, a->sig);
	bind_opt_int(st, 5, a->has_sig_id, a->sig_id);
	bind_text(st, 6, a->cat);
	bind_opt_int(st, 7, a->has_sev, a->sev);
	bind_text(st, 8, a->app);
	bind_text(st, 9, a->proto);
	bind_text(st, 10, a->src);
	bind_opt_int(st, 11, a->has_sport, a->sport);
	bind_text(st, 12, a->dst);
	bind_opt_int(st, 13, a->has_dport, a->dport);
	bind_text(st, 14, a->szone);
	bind_text(st, 15, a->dzone);
	bind_text(st, 16, d->received);
	sqlite3_bind_text(st, 17, json, (int)len, SQLITE_STATIC);
	if (step_reset(d, ST_ALERT_INSERT) != SQLITE_DONE)
		DBFAIL("inserting an alert");
	new_row(d, sensor, a, json, len);
	return 0;
}

/* one of the store's own alerts about a sensor, at the wall clock */
static int store_alert(struct store_db *d, const char *sensor,
		       const char *site, const char *sig, int sig_id, int sev,
		       const char *category, const char *cause,
		       json_t *extra, char *err, size_t errlen)
{
	json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i, s:s, s:s,"
				 " s:i, s:s}}",
				 "timestamp", d->received, "event_type",
				 "alert", "sensor", sensor, "site", site,
				 "alert", "action", "allowed", "signature_id",
				 sig_id, "signature", sig, "category",
				 category, "severity", sev, "cause", cause);
	struct alert_fields a = {.ts = d->received, .sig = sig,
				 .cat = category, .app = "mimamori",
				 .sig_id = sig_id, .sev = sev,
				 .has_sig_id = true, .has_sev = true};
	char *text;
	int rc;

	if (!root) {
		json_decref(extra);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (extra)
		json_object_set_new(root, "mimamori", extra);
	text = json_dumps(root, JSON_COMPACT);
	rc = text ? insert_alert(d, &a, sensor, 0, text, strlen(text), err,
				 errlen)
		  : -1;
	free(text);
	json_decref(root);
	return rc;
}

static long long seconds_between(const char *from, const char *to)
{
	int64_t a, b, u;

	if (!from || !to || store_ts_parse(from, &a, &u) ||
	    store_ts_parse(to, &b, &u))
		return -1;
	return (long long)(b - a);
}

/* a silent sensor was heard from: sensor.returned, end the silence */
static int sensor_returned(struct store_db *d, const char *sensor, char *err,
			   size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SILENT_GET];
	char since[40] = "", site[256] = "", last[40] = "", cause[256];
	long long gap;
	int rc;

	bind_text(st, 1, sensor);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *c0 = (const char *)sqlite3_column_text(st, 0);
		const char *c1 = (const char *)sqlite3_column_text(st, 1);
		const char *c2 = (const char *)sqlite3_column_text(st, 2);
		snprintf(since, sizeof(since), "%s", c0 ? c0 : "");
		snprintf(site, sizeof(site), "%s", c1 ? c1 : "");
		snprintf(last, sizeof(last), "%s", c2 ? c2 : "");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		DBFAIL("reading a silent sensor");
	if (since[0]) {
		gap = seconds_between(last, d->received);
		snprintf(cause, sizeof(cause),
			 "the sensor is heard from again after %lld s without "
			 "contact (silent since %s)",
			 gap, since);
		if (store_alert(d, sensor, site, STORE_SIG_RETURNED,
				SIG_ID_RETURNED, 4, "Sensor Health", cause,
				json_pack("{s:s, s:s, s:I}", "silent_since",
					  since, "last_contact", last,
					  "silent_seconds", (json_int_t)gap),
				err, errlen))
			return -1;
		st = d->st[ST_SILENT_END];
		bind_text(st, 1, sensor);
		bind_text(st, 2, d->received);
		if (step_reset(d, ST_SILENT_END) != SQLITE_DONE)
			DBFAIL("ending a silence");
		st = d->st[ST_SILENT_SET];
		bind_text(st, 1, sensor);
		sqlite3_bind_null(st, 2);
		if (step_reset(d, ST_SILENT_SET) != SQLITE_DONE)
			DBFAIL("ending a silence");
	}
	for (size_t i = 0; i < d->n_silent; i++) {
		if (strcmp(d->silent[i], sensor))
			continue;
		free(d->silent[i]);
		d->silent[i] = d->silent[--d->n_silent];
		break;
	}
	return 0;
}

/* a record or heartbeat from `sensor`: its last contact is now */
static int contact(struct store_db *d, const char *sensor, char *err,
		   size_t errlen)
{
	sqlite3_stmt *st;

	if (d->seen[0] && !strcmp(d->seen, sensor))
		return 0;
	for (size_t i = 0; i < d->n_silent; i++)
		if (!strcmp(d->silent[i], sensor)) {
			if (sensor_returned(d, sensor, err, errlen))
				return -1;
			break;
		}
	st = d->st[ST_SENSOR_SEEN];
	bind_text(st, 1, sensor);
	bind_text(st, 2, d->received);
	if (step_reset(d, ST_SENSOR_SEEN) != SQLITE_DONE)
		DBFAIL("noting the sensor");
	if (strlen(sensor) <= SENSOR_ID_MAX)
		strcpy(d->seen, sensor);
	return 0;
}

/* ---------------- per kind ---------------- */

/*
 * A record checked and parsed before it touches the database: parsing is
 * the costliest part of a record, and needs no connection, so the server
 * does it in its receiving thread while the database thread stores.
 */
struct store_rec {
	enum store_kind kind;
	const char *sensor;   /* not owned: valid until store_rec_free */
	uint64_t seq;
	const char *json;     /* not owned */
	size_t len;
	json_t *root;         /* hello and asset only: parsed with jansson */
	struct baseline_obs *obs; /* obs only (baseline.c) */
	struct alert_fields a;/* alerts: pointers into text[] */
	char ts[40];          /* alerts and assets: normalised timestamp */
	int64_t sec, usec;
	char text[];          /* the alert's string values */
};

static int put_alert(struct store_db *d, const struct store_rec *p,
		     char *err, size_t errlen)
{
	const struct alert_fields *a = &p->a;
	sqlite3_stmt *st;
	int rc;

	if (d->window > 0) {
		char lo[40], hi[40];
		ts_format_off(lo, sizeof(lo), p->sec, p->usec, -d->window);
		ts_format_off(hi, sizeof(hi), p->sec, p->usec, d->window);
		st = d->st[ST_AGG_FIND];
		bind_text(st, 1, p->sensor);
		bind_text(st, 2, a->sig);
		bind_text(st, 3, a->src);
		bind_text(st, 4, a->dst);
		bind_opt_int(st, 5, a->has_dport, a->dport);
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
			bind_text(st, 2, p->ts);
			bind_opt_int(st, 3, a->has_sev, a->sev);
			sqlite3_bind_text(st, 4, p->json, (int)p->len,
					  SQLITE_STATIC);
			if (step_reset(d, ST_AGG_UPDATE) != SQLITE_DONE)
				DBFAIL("counting a repeat");
			return 1;
		}
	}
	if (insert_alert(d, a, p->sensor, p->seq, p->json, p->len, err,
			 errlen))
		return -1;
	return 1;
}

static int put_hello(struct store_db *d, json_t *root, const char *sensor,
		     uint64_t seq, char *err, size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SENSOR_HELLO];

	bind_text(st, 1, sensor);
	bind_text(st, 2, jstr(root, "site"));
	bind_text(st, 3, jstr(root, "version"));
	bind_text(st, 4, jstr(root, "zones_file"));
	bind_text(st, 5, jstr(root, "zones_yaml"));
	bind_text(st, 6, d->received);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)seq);
	if (step_reset(d, ST_SENSOR_HELLO) != SQLITE_DONE)
		DBFAIL("storing a hello");
	d->site_valid = false; /* the site may have changed */
	return 1;
}

static int put_stats(struct store_db *d, const char *sensor, uint64_t seq,
		     const char *json, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SENSOR_STATS];

	bind_text(st, 1, sensor);
	bind_text(st, 2, d->received);
	sqlite3_bind_text(st, 3, json, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)seq);
	if (step_reset(d, ST_SENSOR_STATS) != SQLITE_DONE)
		DBFAIL("storing stats");
	return 1;
}

static int put_asset(struct store_db *d, const struct store_rec *p,
		     const char *sensor, char *err, size_t errlen)
{
	json_t *root = p->root, *facts = NULL;
	const char *ip = jstr(root, "ip");
	char *text = NULL;
	sqlite3_stmt *st;
	int rc;

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
			if (old_last && strcmp(p->ts, old_last) < 0)
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
	bind_text(st, 5, p->ts);
	bind_text(st, 6, text);
	rc = step_reset(d, ST_ASSET_PUT);
	free(text);
	if (rc != SQLITE_DONE)
		DBFAIL("storing an asset");
	return 1;
}

/* ---------------- put ---------------- */

static enum store_kind kind_of(const char *k)
{
	if (!k)
		return STORE_K_UNKNOWN;
	if (!strcmp(k, "alert"))
		return STORE_K_ALERT;
	if (!strcmp(k, "hello"))
		return STORE_K_HELLO;
	if (!strcmp(k, "stats"))
		return STORE_K_STATS;
	if (!strcmp(k, "asset"))
		return STORE_K_ASSET;
	if (!strcmp(k, "obs"))
		return STORE_K_OBS;
	return STORE_K_UNKNOWN;
}

/*
 * Reading an alert: SQLite's own JSON functions (JSON1) parse the record
 * once per statement and hand out its fields.  They cost about a third of
 * what building a jansson tree does (callgrind, a 780-byte alert: ~60,000
 * instructions against ~150,000), and parsing is most of a record's cost.
 * A string field that is not a JSON string reads as NULL (a number, true,
 * false) or as its JSON text (an object or array: nothing a sensor sends);
 * a number field that is not a number reads as NULL.
 */
static const char parse_sql[] =
	"SELECT json_type(?1), json_type(?1, '$.alert.signature'),"
	" ?1->>'$.timestamp', ?1->>'$.alert.signature',"
	" ?1->>'$.alert.signature_id', ?1->>'$.alert.category',"
	" ?1->>'$.alert.severity', ?1->>'$.app_proto', ?1->>'$.proto',"
	" ?1->>'$.src_ip', ?1->>'$.src_port', ?1->>'$.dest_ip',"
	" ?1->>'$.dest_port', ?1->>'$.src_zone', ?1->>'$.dest_zone'";
enum { PF_TYPE, PF_SIGTYPE, PF_TS, PF_SIG, PF_SIGID, PF_CAT, PF_SEV, PF_APP,
       PF_PROTO, PF_SRC, PF_SPORT, PF_DST, PF_DPORT, PF_SZONE, PF_DZONE,
       PF__N };

struct store_parser {
	sqlite3 *db;
	bool own;
	sqlite3_stmt *st;
};

static struct store_parser *parser_on(sqlite3 *db, bool own, char *err,
				      size_t errlen)
{
	struct store_parser *p = calloc(1, sizeof(*p));

	if (!p) {
		seterr(err, errlen, "out of memory");
		if (own)
			sqlite3_close(db);
		return NULL;
	}
	p->db = db;
	p->own = own;
	if (sqlite3_prepare_v3(db, parse_sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &p->st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "preparing the JSON reader: %s",
		       sqlite3_errmsg(db));
		store_parser_free(p);
		return NULL;
	}
	return p;
}

struct store_parser *store_parser_new(char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	/* a private connection with no file: only its JSON functions */
	if (sqlite3_open_v2(":memory:", &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		seterr(err, errlen, "sqlite3_open(:memory:): %s",
		       db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	return parser_on(db, true, err, errlen);
}

void store_parser_free(struct store_parser *p)
{
	if (!p)
		return;
	sqlite3_finalize(p->st);
	if (p->own)
		sqlite3_close(p->db);
	free(p);
}

/* a text column, NULL when not text or empty */
static const char *pcol(sqlite3_stmt *st, int i)
{
	const char *v;

	if (sqlite3_column_type(st, i) != SQLITE_TEXT)
		return NULL;
	v = (const char *)sqlite3_column_text(st, i);
	return v && *v ? v : NULL;
}

/* a number column (a real is cut to an integer), or none */
static void pint(sqlite3_stmt *st, int i, bool *has, int64_t *v)
{
	int t = sqlite3_column_type(st, i);
	double f;

	*has = false;
	*v = 0;
	if (t == SQLITE_INTEGER) {
		*has = true;
		*v = sqlite3_column_int64(st, i);
	} else if (t == SQLITE_FLOAT) {
		/* 1e400 or NaN is no number an integer column can hold */
		f = sqlite3_column_double(st, i);
		if (f > -9.2e18 && f < 9.2e18) {
			*has = true;
			*v = (int64_t)f;
		}
	}
}

struct store_rec *store_rec_parse(struct store_parser *ps, const char *kind,
				  const char *sensor, uint64_t seq,
				  const char *json, size_t len, bool *bad,
				  char *err, size_t errlen)
{
	enum store_kind k = kind_of(kind);
	struct store_rec *p = NULL;
	sqlite3_stmt *st = ps->st;
	size_t need = 0;
	const char *type;
	char now[40];
	int rc;

	*bad = true;
	if (!sensor || !*sensor) {
		seterr(err, errlen, "record without a sensor id");
		return NULL;
	}
	if (len > (size_t)1 << 30) {
		seterr(err, errlen, "record too large");
		return NULL;
	}
	if (k == STORE_K_UNKNOWN) {
		seterr(err, errlen, "unknown record kind \"%.32s\"",
		       kind ? kind : "");
		return NULL;
	}
	/*
	 * Only alerts go through SQLite's JSON reader (the fields their
	 * columns want); every other kind is read whole by jansson below,
	 * which checks it is an object: reading it twice cost an obs record
	 * about half of its 130,000 instructions.
	 */
	if (k == STORE_K_ALERT) {
		sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			seterr(err, errlen, "%s: not valid JSON (%s)", kind,
			       sqlite3_errmsg(ps->db));
			goto out;
		}
		type = (const char *)sqlite3_column_text(st, PF_TYPE);
		if (!type || strcmp(type, "object")) {
			seterr(err, errlen, "%s: JSON is not an object", kind);
			goto out;
		}
		if (!pcol(st, PF_SIGTYPE) ||
		    strcmp(pcol(st, PF_SIGTYPE), "text") || !pcol(st, PF_SIG)) {
			seterr(err, errlen, "alert without alert.signature");
			goto out;
		}
		for (int i = PF_TS; i < PF__N; i++)
			if (pcol(st, i))
				need += strlen(pcol(st, i)) + 1;
	}
	p = calloc(1, sizeof(*p) + need);
	if (!p) {
		*bad = false; /* not the record's fault: it is resent */
		seterr(err, errlen, "out of memory");
		goto out;
	}
	p->kind = k;
	p->sensor = sensor;
	p->seq = seq;
	p->json = json;
	p->len = len;
	if (k == STORE_K_ALERT) {
		static const int text_cols[] = {PF_TS,  PF_SIG, PF_CAT,
						PF_APP, PF_PROTO, PF_SRC,
						PF_DST, PF_SZONE, PF_DZONE};
		const char **dst[] = {&p->a.ts,    &p->a.sig,   &p->a.cat,
				      &p->a.app,   &p->a.proto, &p->a.src,
				      &p->a.dst,   &p->a.szone, &p->a.dzone};
		char *o = p->text;
		for (size_t i = 0; i < sizeof(text_cols) / sizeof(text_cols[0]);
		     i++) {
			const char *v = pcol(st, text_cols[i]);
			if (!v)
				continue;
			size_t n = strlen(v) + 1;
			memcpy(o, v, n);
			*dst[i] = o;
			o += n;
		}
		pint(st, PF_SIGID, &p->a.has_sig_id, &p->a.sig_id);
		pint(st, PF_SEV, &p->a.has_sev, &p->a.sev);
		pint(st, PF_SPORT, &p->a.has_sport, &p->a.sport);
		pint(st, PF_DPORT, &p->a.has_dport, &p->a.dport);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	/* hello, asset and stats are rare: their whole object, with jansson */
	if (k == STORE_K_HELLO || k == STORE_K_ASSET || k == STORE_K_STATS) {
		json_error_t je;
		p->root = json_loadb(json, len, 0, &je);
		if (!json_is_object(p->root)) {
			seterr(err, errlen, "%s: %s: %s", kind,
			       p->root ? "JSON is not an object"
				       : "not valid JSON", je.text);
			goto fail;
		}
		if (k == STORE_K_ASSET && !jstr(p->root, "ip")) {
			seterr(err, errlen, "asset without \"ip\"");
			goto fail;
		}
	}
	/* every field checked here, so the database thread meets only
	 * database errors (baseline.c) */
	if (k == STORE_K_OBS) {
		p->obs = baseline_obs_parse(json, len, err, errlen);
		if (!p->obs)
			goto fail;
		baseline_obs_time(p->obs, &p->sec, &p->usec);
		mm_format_ts(p->ts, sizeof(p->ts), p->sec, p->usec);
	}
	if (k == STORE_K_ALERT || k == STORE_K_ASSET) {
		const char *t = k == STORE_K_ALERT
					? p->a.ts
					: json_string_value(
						  json_object_get(p->root,
								  "timestamp"));
		if (!t) {
			/* no packet time at all: the best we know is now */
			now_ts(now, sizeof(now));
			t = now;
		}
		if (store_ts_parse(t, &p->sec, &p->usec)) {
			seterr(err, errlen,
			       "%s: timestamp \"%s\" is not ISO 8601", kind, t);
			goto fail;
		}
		mm_format_ts(p->ts, sizeof(p->ts), p->sec, p->usec);
		p->a.ts = p->ts;
	}
	*bad = false;
	return p;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return NULL;
fail:
	store_rec_free(p);
	return NULL;
}

void store_rec_free(struct store_rec *p)
{
	if (!p)
		return;
	json_decref(p->root);
	baseline_obs_free(p->obs);
	free(p);
}

enum store_kind store_rec_kind(const struct store_rec *p)
{
	return p->kind;
}

/*
 * An alert the baseline made: through the parser and put_alert like a
 * sensor's (aggregated, on_new_alert), with seq 0 as the store's own.
 */
static int baseline_alert(void *arg, const char *sensor, const char *json,
			  size_t len, char *err, size_t errlen)
{
	struct store_db *d = arg;
	bool bad;
	struct store_rec *p = store_rec_parse(d->parser, "alert", sensor, 0,
					      json, len, &bad, err, errlen);
	int rc;

	if (!p)
		return -1;
	rc = put_alert(d, p, err, errlen) < 0 ? -1 : 0;
	store_rec_free(p);
	return rc;
}

void store_db_baseline_counts(const struct store_db *d,
			      struct store_baseline_counts *c)
{
	baseline_counts(d->bl, c);
}

static int put_in_tx(struct store_db *d, const struct store_rec *p, char *err,
		     size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_INGEST];

	/* (sensor, seq) first: a resend stops here */
	sqlite3_bind_text(st, 1, p->sensor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)p->seq);
	if (step_reset(d, ST_INGEST) != SQLITE_DONE) {
		seterr(err, errlen, "%s: recording (sensor, seq): %s", d->path,
		       sqlite3_errmsg(d->db));
		return -1;
	}
	if (sqlite3_changes(d->db) == 0)
		return 0; /* a resend of what we hold already */
	if (contact(d, p->sensor, err, errlen))
		return -1;
	switch (p->kind) {
	case STORE_K_ALERT:
		return put_alert(d, p, err, errlen);
	case STORE_K_HELLO:
		return put_hello(d, p->root, p->sensor, p->seq, err, errlen);
	case STORE_K_STATS:
		return put_stats(d, p->sensor, p->seq, p->json, p->len, err,
				 errlen);
	case STORE_K_ASSET:
		return put_asset(d, p, p->sensor, err, errlen);
	case STORE_K_OBS:
		return baseline_put(d->bl, p->sensor, p->obs, baseline_alert, d,
				    err, errlen);
	default:
		seterr(err, errlen, "unknown record kind");
		return -1;
	}
}

int store_db_put_rec(struct store_db *d, const struct store_rec *p, char *err,
		     size_t errlen)
{
	bool own_tx = !d->in_tx;
	int rc;

	d->err_record = false;
	if (own_tx && store_db_begin(d)) {
		seterr(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		return -1;
	}
	rc = put_in_tx(d, p, err, errlen);
	if (own_tx) {
		if (rc < 0) {
			store_db_rollback(d);
		} else if (store_db_commit(d)) {
			seterr(err, errlen, "%s: commit: %s", d->path,
			       sqlite3_errmsg(d->db));
			store_db_rollback(d);
			rc = -1;
		}
	}
	return rc;
}

int store_db_put(struct store_db *d, const char *kind, const char *sensor,
		 uint64_t seq, const char *json, size_t len, char *err,
		 size_t errlen)
{
	bool bad;
	struct store_rec *p = store_rec_parse(d->parser, kind, sensor, seq,
					      json, len, &bad, err, errlen);
	int rc;

	if (!p) {
		d->err_record = bad;
		return -1;
	}
	rc = store_db_put_rec(d, p, err, errlen);
	store_rec_free(p);
	return rc;
}

/* ---------------- heartbeats, keys ---------------- */

/* run fn inside the open transaction, or in one of its own */
#define IN_TX(d, err, errlen, body)                                           \
	do {                                                                  \
		bool own_ = !(d)->in_tx;                                      \
		int rc_;                                                      \
		if (own_ && store_db_begin(d)) {                              \
			seterr(err, errlen, "%s: %s", (d)->path,              \
			       sqlite3_errmsg((d)->db));                      \
			return -1;                                            \
		}                                                             \
		rc_ = (body);                                                 \
		if (own_) {                                                   \
			if (rc_ < 0 || store_db_commit(d)) {                  \
				store_db_rollback(d);                         \
				if (rc_ >= 0)                                 \
					seterr(err, errlen, "%s: commit: %s", \
					       (d)->path,                     \
					       sqlite3_errmsg((d)->db));      \
				rc_ = -1;                                     \
			}                                                     \
		}                                                             \
		return rc_;                                                   \
	} while (0)

static int beat_in_tx(struct store_db *d, const char *sensor,
		      uint64_t acked_below, const char *json, size_t len,
		      const char *key_name, char *err, size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SENSOR_BEAT];

	if (contact(d, sensor, err, errlen))
		return -1;
	bind_text(st, 1, sensor);
	bind_text(st, 2, d->received);
	sqlite3_bind_text(st, 3, json, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)(acked_below > INT64_MAX
							  ? 0
							  : acked_below));
	bind_text(st, 5, key_name && *key_name ? key_name : NULL);
	if (step_reset(d, ST_SENSOR_BEAT) != SQLITE_DONE)
		DBFAIL("storing a heartbeat");
	return 0;
}

int store_db_beat(struct store_db *d, const char *sensor, uint64_t acked_below,
		  const char *json, size_t len, const char *key_name,
		  char *err, size_t errlen)
{
	json_t *j;

	d->err_record = true;
	if (!sensor || !*sensor) {
		seterr(err, errlen, "heartbeat without a sensor id");
		return -1;
	}
	j = json_loadb(json, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		seterr(err, errlen, "heartbeat: not a JSON object");
		return -1;
	}
	json_decref(j);
	d->err_record = false;
	IN_TX(d, err, errlen,
	      beat_in_tx(d, sensor, acked_below, json, len, key_name, err,
			 errlen));
}

static int key_in_tx(struct store_db *d, const char *sensor,
		     const char *key_name, char *err, size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SENSOR_KEY];

	bind_text(st, 1, sensor);
	bind_text(st, 2, key_name);
	if (step_reset(d, ST_SENSOR_KEY) != SQLITE_DONE)
		DBFAIL("noting a key");
	return 0;
}

int store_db_note_key(struct store_db *d, const char *sensor,
		      const char *key_name)
{
	char err[256];
	size_t errlen = sizeof(err);

	if (!key_name || !*key_name)
		return 0;
	IN_TX(d, err, errlen, key_in_tx(d, sensor, key_name, err, errlen));
}

/* ---------------- silence ---------------- */

static int silence_in_tx(struct store_db *d, const char *cutoff, double after,
			 char *err, size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_SILENT_FIND];
	struct found {
		char sensor[SENSOR_ID_MAX + 1], site[256], last[40];
	} *f = NULL;
	size_t n = 0, cap = 0;
	int rc, made = 0;

	/* collect first: the inserts below must not run under the select */
	bind_text(st, 1, cutoff);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (!s || strlen(s) > SENSOR_ID_MAX)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct found *nf = realloc(f, nc * sizeof(*f));
			if (!nf)
				break;
			f = nf;
			cap = nc;
		}
		snprintf(f[n].sensor, sizeof(f[n].sensor), "%s", s);
		snprintf(f[n].site, sizeof(f[n].site), "%s",
			 (const char *)sqlite3_column_text(st, 1));
		snprintf(f[n].last, sizeof(f[n].last), "%s",
			 sqlite3_column_text(st, 2)
				 ? (const char *)sqlite3_column_text(st, 2)
				 : "");
		n++;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(f);
		DBFAIL("looking for silent sensors");
	}
	for (size_t i = 0; i < n; i++) {
		char cause[320];
		snprintf(cause, sizeof(cause),
			 "no contact from the sensor for more than %.0f s (last "
			 "contact %s): it is down, cut off, or cannot reach "
			 "the store",
			 after, f[i].last);
		if (store_alert(d, f[i].sensor, f[i].site, STORE_SIG_SILENT,
				SIG_ID_SILENT, 2, "Sensor Health", cause,
				json_pack("{s:s, s:f}", "last_contact",
					  f[i].last, "silent_after", after),
				err, errlen))
			break;
		st = d->st[ST_SILENT_SET];
		bind_text(st, 1, f[i].sensor);
		bind_text(st, 2, d->received);
		if (step_reset(d, ST_SILENT_SET) != SQLITE_DONE) {
			seterr(err, errlen, "%s: marking a silent sensor: %s",
			       d->path, sqlite3_errmsg(d->db));
			break;
		}
		silent_add(d, f[i].sensor);
		made++;
	}
	rc = made == (int)n ? made : -1;
	free(f);
	return rc;
}

int store_db_check_silence(struct store_db *d, double after, int64_t since,
			   char *err, size_t errlen)
{
	struct timespec now;
	char cutoff[40];
	int64_t c;

	if (after <= 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	c = (int64_t)now.tv_sec - (int64_t)after;
	if (since >= c)
		return 0; /* the store has not been up that long itself */
	mm_format_ts(cutoff, sizeof(cutoff), c, now.tv_nsec / 1000);
	IN_TX(d, err, errlen, silence_in_tx(d, cutoff, after, err, errlen));
}

/* ---------------- retention ---------------- */

int64_t store_db_used_bytes(struct store_db *d)
{
	sqlite3_stmt *st = d->st[ST_PAGES];
	int64_t used = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		used = sqlite3_column_int64(st, 0) * d->page_size;
	sqlite3_reset(st);
	return used;
}

static int64_t free_pages(struct store_db *d)
{
	sqlite3_stmt *st = d->st[ST_PAGES];
	int64_t n = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return n;
}

/* ingest rows below what each sensor promised a heartbeat ago can never
 * be needed */
static long prune_ingest(struct store_db *d, int budget, char *err,
			 size_t errlen)
{
	sqlite3_stmt *st = d->st[ST_PRUNE_LIST];
	struct { char sensor[SENSOR_ID_MAX + 1]; int64_t below; } p[64];
	int n = 0, rc;
	long done = 0;

	while (n < 64 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (!s || strlen(s) > SENSOR_ID_MAX)
			continue;
		snprintf(p[n].sensor, sizeof(p[n].sensor), "%s", s);
		p[n++].below = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	for (int i = 0; i < n && done < budget; i++) {
		st = d->st[ST_PRUNE];
		bind_text(st, 1, p[i].sensor);
		sqlite3_bind_int64(st, 2, p[i].below);
		sqlite3_bind_int(st, 3, budget - (int)done);
		if (step_reset(d, ST_PRUNE) != SQLITE_DONE) {
			seterr(err, errlen, "%s: pruning acknowledged "
			       "sequence numbers: %s", d->path,
			       sqlite3_errmsg(d->db));
			return -1;
		}
		done += sqlite3_changes(d->db);
	}
	return done;
}

static long retention_in_tx(struct store_db *d, int max_rows, char *err,
			    size_t errlen)
{
	long deleted = 0, pruned;
	sqlite3_stmt *st;
	int rc;

	if (d->retain_days > 0) {
		struct timespec now;
		char cutoff[40], oldest[40] = "";
		clock_gettime(CLOCK_REALTIME, &now);
		mm_format_ts(cutoff, sizeof(cutoff),
			     now.tv_sec - (int64_t)(d->retain_days * 86400),
			     now.tv_nsec / 1000);
		st = d->st[ST_OLDEST];
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(oldest, sizeof(oldest), "%s",
				 (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		/* rows are in arrival order: only look further when the
		 * oldest is due, then take a bounded chunk from the front */
		if (oldest[0] && strcmp(oldest, cutoff) < 0) {
			st = d->st[ST_DEL_OLD];
			sqlite3_bind_int(st, 1, max_rows);
			bind_text(st, 2, cutoff);
			if (step_reset(d, ST_DEL_OLD) != SQLITE_DONE)
				DBFAIL("deleting old alerts");
			deleted += sqlite3_changes(d->db);
		}
	}
	if (d->retain_bytes > 0 && deleted < max_rows &&
	    store_db_used_bytes(d) > d->retain_bytes) {
		st = d->st[ST_DEL_FRONT];
		sqlite3_bind_int(st, 1, max_rows - (int)deleted);
		if (step_reset(d, ST_DEL_FRONT) != SQLITE_DONE)
			DBFAIL("deleting the oldest alerts");
		deleted += sqlite3_changes(d->db);
	}
	pruned = prune_ingest(d, max_rows, err, errlen);
	if (pruned < 0)
		return -1;
	return deleted + pruned;
}

long store_db_retention_step(struct store_db *d, int max_rows, char *err,
			     size_t errlen)
{
	long n;

	if (d->in_tx) {
		seterr(err, errlen, "retention inside a batch");
		return -1;
	}
	if (max_rows < 1)
		max_rows = 1;
	if (store_db_begin(d)) {
		seterr(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		return -1;
	}
	n = retention_in_tx(d, max_rows, err, errlen);
	if (n < 0 || store_db_commit(d)) {
		if (n >= 0)
			seterr(err, errlen, "%s: commit: %s", d->path,
			       sqlite3_errmsg(d->db));
		store_db_rollback(d);
		return -1;
	}
	/* give freed pages back to the file system, a few at a time */
	if (d->incremental && free_pages(d) > 256)
		sqlite3_exec(d->db, "PRAGMA incremental_vacuum(256)", NULL,
			     NULL, NULL);
	return n;
}
