/*
 * mimamori.c - the command line for people: what the store holds.
 *
 *   mimamori alerts  --db FILE [--zone Z] [--min-severity N] [--since T]
 *                    [--limit N] [--json]
 *   mimamori zones   --db FILE [--since T] [--json]
 *   mimamori sensors --db FILE [--json]
 *   mimamori assets  --db FILE [--zone Z] [--json]
 *
 * It opens the store read-only (WAL: it never blocks mimamori-store) and
 * never creates a file.  Times are UTC, as in the EVE records.
 * Exit status: 0 fine, 1 an error (no such store...), 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/rec.h"
#include "../store/store.h"
#include "table.h"

#define EXIT_USAGE 2
#define DEFAULT_LIMIT 200 /* table rows shown unless --limit says */

static const char *prog = "mimamori";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mimamori COMMAND --db FILE [options]\n"
		"\n"
		"commands:\n"
		"  alerts   the alerts, oldest first (newest %d unless --limit)\n"
		"           --zone Z          either side in zone Z ('-': in no zone)\n"
		"           --min-severity N  severity N or more severe (1 is highest)\n"
		"           --since T         24h, 30m, 7d (before now) or\n"
		"                             2015-10-22, 2015-10-22T10:00:00 (UTC)\n"
		"           --limit N         the newest N (0: all)\n"
		"           --json            EVE JSON lines with count/first_ts/last_ts\n"
		"  zones    alerts per zone, as destination and as source\n"
		"           --since T, --json\n"
		"  sensors  the sensors that reported, their last contact and stats\n"
		"           --json\n"
		"  assets   the devices seen, with what they said about themselves\n"
		"           --zone Z, --json\n"
		"\n"
		"  --db FILE  the store (default: $MIMAMORI_DB)\n"
		"  -h, --help\n",
		DEFAULT_LIMIT);
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see '%s --help')\n", prog);
	return EXIT_USAGE;
}

/* ---------------- options shared by the commands ---------------- */

struct opts {
	const char *db;
	const char *zone;
	int min_sev;      /* 0: any */
	char since[40];   /* "" or a normalised timestamp */
	long limit;       /* -1: default */
	int json;
};

/* "24h" (before now) or an ISO date/time; the store's text form */
static int parse_since(const char *s, char *out, size_t len)
{
	char *end;
	long n;
	int64_t sec, usec;

	errno = 0;
	n = strtol(s, &end, 10);
	if (!errno && end != s && n >= 0 && end[0] && !end[1] &&
	    strchr("smhdw", end[0])) {
		static const long mult[] = {['s' - 'a'] = 1,
					    ['m' - 'a'] = 60,
					    ['h' - 'a'] = 3600,
					    ['d' - 'a'] = 86400,
					    ['w' - 'a'] = 7 * 86400};
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (n > 100L * 365 * 86400 / mult[end[0] - 'a'])
			return -1;
		mm_format_ts(out, len, now.tv_sec - n * mult[end[0] - 'a'],
			     now.tv_nsec / 1000);
		return 0;
	}
	if (store_ts_parse(s, &sec, &usec))
		return -1;
	mm_format_ts(out, len, sec, usec);
	return 0;
}

static int parse_opts(int argc, char **argv, const char *cmd, const char *allowed,
		      struct opts *o)
{
	static const struct option lo[] = {
		{"db", required_argument, NULL, 'd'},
		{"zone", required_argument, NULL, 'z'},
		{"min-severity", required_argument, NULL, 's'},
		{"since", required_argument, NULL, 't'},
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->limit = -1;
	o->db = getenv("MIMAMORI_DB");
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == ':')
			return usage_error("%s needs a value", argv[optind - 1]);
		if (c == '?')
			return usage_error("unknown option %s",
					   argv[optind - 1]);
		if (c != 'd' && !strchr(allowed, c)) {
			char what[64] = "that option";
			for (int i = 0; lo[i].name; i++)
				if (lo[i].val == c)
					snprintf(what, sizeof(what), "--%s",
						 lo[i].name);
			return usage_error("%s does not apply to '%s'", what,
					   cmd);
		}
		switch (c) {
		case 'd':
			o->db = optarg;
			break;
		case 'z':
			o->zone = optarg;
			break;
		case 's':
			errno = 0;
			o->min_sev = (int)strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->min_sev < 1 ||
			    o->min_sev > 255)
				return usage_error("--min-severity wants 1 "
						   "(highest), 2, 3...: \"%s\"",
						   optarg);
			break;
		case 't':
			if (parse_since(optarg, o->since, sizeof(o->since)))
				return usage_error(
					"--since wants 24h, 30m, 7d or a date "
					"like 2015-10-22 or 2015-10-22T10:00:00, "
					"not \"%s\"",
					optarg);
			break;
		case 'n':
			errno = 0;
			o->limit = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->limit < 0)
				return usage_error("--limit wants a number "
						   "(0: all), not \"%s\"",
						   optarg);
			break;
		case 'j':
			o->json = 1;
			break;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (!o->db)
		return usage_error("%s: --db FILE is required", cmd);
	return 0;
}

/* ---------------- the store ---------------- */

static sqlite3 *open_store(const char *path)
{
	struct stat sb;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int ver = -1, tables = 0;

	/* SQLite would create a missing file: look first */
	if (stat(path, &sb) != 0) {
		fprintf(stderr,
			"%s: %s: %s (mimamori-store or mimamorid creates the "
			"store)\n",
			prog, path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		fprintf(stderr, "%s: %s: not a file\n", prog, path);
		return NULL;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 3000);
	if (sqlite3_prepare_v2(db,
			       "SELECT (SELECT user_version FROM "
			       "pragma_user_version), (SELECT count(*) FROM "
			       "sqlite_master WHERE type='table' AND name IN "
			       "('alerts','sensors','assets'))",
			       -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		ver = sqlite3_column_int(st, 0);
		tables = sqlite3_column_int(st, 1);
	} else {
		fprintf(stderr, "%s: %s: %s\n", prog, path, sqlite3_errmsg(db));
		sqlite3_finalize(st);
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_finalize(st);
	if (ver < 1 || tables != 3) {
		fprintf(stderr, "%s: %s: not a mimamori store\n", prog, path);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: query failed: %s\n", prog,
			sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* "2015-10-22T10:00:01.123456Z" -> "2015-10-22 10:00:01" */
static void short_ts(char *out, size_t len, const char *ts)
{
	if (!ts || strlen(ts) < 19) {
		snprintf(out, len, "%s", ts ? ts : "-");
		return;
	}
	snprintf(out, len, "%.10s %.8s", ts, ts + 11);
}

static const char *zone_or_dash(const char *z)
{
	return z && *z ? z : "-";
}

/* ---------------- alerts ---------------- */

/* the WHERE clause for --zone, --min-severity, --since */
static void alert_where(const struct opts *o, char *w, size_t len)
{
	snprintf(w, len, "WHERE 1%s%s%s",
		 !o->zone ? ""
		 : strcmp(o->zone, "-") == 0
			 ? " AND (src_zone IS NULL OR dest_zone IS NULL)"
			 : " AND (src_zone = :zone OR dest_zone = :zone)",
		 o->min_sev ? " AND severity <= :sev" : "",
		 o->since[0] ? " AND last_ts >= :since" : "");
}

static void alert_bind(sqlite3_stmt *st, const struct opts *o)
{
	int i;

	if ((i = sqlite3_bind_parameter_index(st, ":zone")))
		sqlite3_bind_text(st, i, o->zone, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":sev")))
		sqlite3_bind_int(st, i, o->min_sev);
	if ((i = sqlite3_bind_parameter_index(st, ":since")))
		sqlite3_bind_text(st, i, o->since, -1, SQLITE_STATIC);
}

static void endpoint_text(char *out, size_t len, const char *ip, int has_port,
			  int port, const char *zone)
{
	char p[16] = "";

	if (has_port)
		snprintf(p, sizeof(p), ":%d", port);
	snprintf(out, len, "%s%s (%s)", ip ? ip : "?", p, zone_or_dash(zone));
}

static int cmd_alerts(sqlite3 *db, const struct opts *o)
{
	static const char *const hdr[] = {"TIME (UTC)", "SEV", "SIGNATURE",
					  "SOURCE", "", "DESTINATION",
					  "PROTO", "COUNT", "LAST SEEN"};
	char where[256], sql[1024];
	sqlite3_stmt *st;
	struct table *t = NULL;
	long limit = o->limit >= 0 ? o->limit : o->json ? 0 : DEFAULT_LIMIT;
	long long total = 0;
	int rc, ret = 0;

	alert_where(o, where, sizeof(where));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts %s", where);
	if (!(st = prepare(db, sql)))
		return 1;
	alert_bind(st, o);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	/* the newest `limit`, shown oldest first */
	snprintf(sql, sizeof(sql),
		 "SELECT * FROM (SELECT first_ts, last_ts, count, severity,"
		 " signature, src_ip, src_port, src_zone, dest_ip, dest_port,"
		 " dest_zone, coalesce(app_proto, lower(proto)), eve, id"
		 " FROM alerts %s ORDER BY first_ts DESC, id DESC LIMIT %ld)"
		 " ORDER BY first_ts, id",
		 where, limit > 0 ? limit : -1L);
	if (!(st = prepare(db, sql)))
		return 1;
	alert_bind(st, o);
	if (!o->json)
		t = table_new(9, hdr, "lrllllrrl");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (o->json) {
			json_error_t je;
			json_t *e = json_loads(col(st, 12), 0, &je);
			char *s;
			if (!json_is_object(e)) {
				fprintf(stderr, "%s: alert %lld: stored EVE is "
						"not a JSON object\n",
					prog, sqlite3_column_int64(st, 13));
				json_decref(e);
				continue;
			}
			json_object_set_new(e, "count",
					    json_integer(sqlite3_column_int64(st, 2)));
			json_object_set_new(e, "first_ts", json_string(col(st, 0)));
			json_object_set_new(e, "last_ts", json_string(col(st, 1)));
			s = json_dumps(e, JSON_COMPACT);
			if (s)
				puts(s);
			free(s);
			json_decref(e);
			continue;
		}
		char ts[32], last[32] = "", sev[8] = "-", src[160], dst[160],
						       cnt[24];
		const char *cells[9];
		short_ts(ts, sizeof(ts), col(st, 0));
		if (sqlite3_column_int64(st, 2) > 1) {
			const char *lt = col(st, 1), *ft = col(st, 0);
			short_ts(last, sizeof(last), lt);
			/* same day: the time is enough */
			if (lt && ft && !strncmp(lt, ft, 10))
				memmove(last, last + 11, strlen(last + 11) + 1);
		}
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			snprintf(sev, sizeof(sev), "%d", sqlite3_column_int(st, 3));
		endpoint_text(src, sizeof(src), col(st, 5),
			      sqlite3_column_type(st, 6) != SQLITE_NULL,
			      sqlite3_column_int(st, 6), col(st, 7));
		endpoint_text(dst, sizeof(dst), col(st, 8),
			      sqlite3_column_type(st, 9) != SQLITE_NULL,
			      sqlite3_column_int(st, 9), col(st, 10));
		snprintf(cnt, sizeof(cnt), "%lld", sqlite3_column_int64(st, 2));
		cells[0] = ts;
		cells[1] = sev;
		cells[2] = col(st, 4);
		cells[3] = src;
		cells[4] = "->";
		cells[5] = dst;
		cells[6] = col(st, 11) ? col(st, 11) : "-";
		cells[7] = cnt;
		cells[8] = last;
		table_add(t, cells);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: reading alerts: %s\n", prog,
			sqlite3_errmsg(db));
		ret = 1;
	}
	sqlite3_finalize(st);
	if (t) {
		if (table_rows(t) == 0) {
			printf("no alerts%s\n",
			       o->zone || o->min_sev || o->since[0]
				       ? " match these filters"
				       : " in this store");
		} else {
			table_print(t, stdout);
			if ((long long)table_rows(t) < total)
				printf("(the newest %zu of %lld alerts; "
				       "--limit 0 shows all)\n",
				       table_rows(t), total);
		}
		table_free(t);
	}
	return ret;
}

/* ---------------- zones ---------------- */

static int zones_side(sqlite3 *db, const struct opts *o, const char *side,
		      const char *column, const char *title)
{
	static const char *const hdr[] = {"ZONE", "SEV1", "SEV2", "SEV3",
					  "SEV4+", "ALERTS", "EVENTS"};
	char sql[1024];
	sqlite3_stmt *st;
	struct table *t = NULL;
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT %s, sum(severity = 1), sum(severity = 2),"
		 " sum(severity = 3), sum(severity >= 4), count(*), sum(count)"
		 " FROM alerts %s GROUP BY %s ORDER BY %s IS NULL,"
		 " sum(severity = 1) DESC, sum(severity = 2) DESC,"
		 " sum(count) DESC, %s",
		 column, o->since[0] ? "WHERE last_ts >= :since" : "", column,
		 column, column);
	if (!(st = prepare(db, sql)))
		return 1;
	if (o->since[0])
		sqlite3_bind_text(st, 1, o->since, -1, SQLITE_STATIC);
	if (!o->json)
		t = table_new(7, hdr, "lrrrrrr");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long v[6];
		for (int i = 0; i < 6; i++)
			v[i] = sqlite3_column_int64(st, i + 1);
		if (o->json) {
			json_t *j = json_pack(
				"{s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:I}",
				"side", side, "zone", col(st, 0), "sev1",
				(json_int_t)v[0], "sev2", (json_int_t)v[1],
				"sev3", (json_int_t)v[2], "sev4", (json_int_t)v[3],
				"alerts", (json_int_t)v[4], "events",
				(json_int_t)v[5]);
			char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
			if (s)
				puts(s);
			free(s);
			json_decref(j);
			continue;
		}
		char n[6][24];
		const char *cells[7];
		cells[0] = zone_or_dash(col(st, 0));
		for (int i = 0; i < 6; i++) {
			snprintf(n[i], sizeof(n[i]), "%lld", v[i]);
			cells[i + 1] = n[i];
		}
		table_add(t, cells);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: reading alerts: %s\n", prog,
			sqlite3_errmsg(db));
		table_free(t);
		return 1;
	}
	if (t) {
		printf("%s\n", title);
		if (table_rows(t) == 0)
			printf("  (no alerts)\n");
		else
			table_print(t, stdout);
		table_free(t);
	}
	return 0;
}

static int cmd_zones(sqlite3 *db, const struct opts *o)
{
	int rc;

	if (!o->json)
		printf("Alerts per zone%s%s%s\n\n", o->since[0] ? " since " : "",
		       o->since[0] ? o->since : "", o->since[0] ? " (UTC)" : "");
	rc = zones_side(db, o, "dest", "dest_zone",
			"By destination zone (the zone acted upon):");
	if (!o->json)
		printf("\n");
	rc |= zones_side(db, o, "src", "src_zone",
			 "By source zone (where the request came from):");
	if (!o->json)
		printf("\nSEV1..SEV4+: alerts of that severity (1 = most "
		       "severe).  ALERTS: alert rows (repeats\nfolded into "
		       "one).  EVENTS: occurrences, repeats counted.  "
		       "-: hosts in no zone.\n");
	return rc;
}

/* ---------------- sensors ---------------- */

/* a few numbers from the stats JSON: well-known names first */
struct num {
	char key[64]; /* "packets", or "link.backlog" one level down */
	char val[32];
	int used;
};

/* the numbers at the top of the object and one level down */
static size_t collect_nums(json_t *o, const char *parent, struct num *n,
			   size_t max, size_t have)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		if (have >= max)
			break;
		if (json_is_object(v) && !parent) {
			have = collect_nums(v, k, n, max, have);
			continue;
		}
		if (!json_is_number(v))
			continue;
		snprintf(n[have].key, sizeof(n[have].key), "%s%s%s",
			 parent ? parent : "", parent ? "." : "", k);
		if (json_is_integer(v))
			snprintf(n[have].val, sizeof(n[have].val), "%lld",
				 (long long)json_integer_value(v));
		else
			snprintf(n[have].val, sizeof(n[have].val), "%g",
				 json_real_value(v));
		n[have++].used = 0;
	}
	return have;
}

static void stats_summary(const char *text, char *out, size_t len)
{
	/* what a plant engineer asks first: did it see traffic, did it
	 * lose any, did alerts reach the store */
	static const char *const want[] = {
		"packets",     "drops",        "dropped",     "kernel.dropped",
		"alerts",      "alerts.raised", "link.dropped", "link.backlog"};
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	struct num n[64];
	size_t have, o = 0;
	int shown = 0;

	out[0] = '\0';
	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	have = collect_nums(j, NULL, n, 64, 0);
	/* pass 0: the wanted names, in that order; pass 1: the others */
	for (size_t w = 0; w <= sizeof(want) / sizeof(want[0]); w++) {
		for (size_t i = 0; i < have && shown < 5; i++) {
			int r;
			const char *dot = strchr(n[i].key, '.');
			if (n[i].used ||
			    (w < sizeof(want) / sizeof(want[0]) &&
			     strcmp(n[i].key, want[w]) &&
			     (!dot || strcmp(dot + 1, want[w]))))
				continue;
			r = snprintf(out + o, len - o, "%s%s=%s",
				     shown ? " " : "", n[i].key, n[i].val);
			if (r < 0 || (size_t)r >= len - o) {
				out[o] = '\0';
				shown = 5;
				break;
			}
			o += (size_t)r;
			n[i].used = 1;
			shown++;
		}
	}
	json_decref(j);
}

static void ago(char *out, size_t len, const char *ts)
{
	int64_t s, u;
	struct timespec now;
	long long d;

	out[0] = '\0';
	if (!ts || store_ts_parse(ts, &s, &u))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	d = (long long)(now.tv_sec - s);
	if (d < 0)
		return;
	if (d < 120)
		snprintf(out, len, "%llds ago", d);
	else if (d < 7200)
		snprintf(out, len, "%lldm ago", d / 60);
	else if (d < 2 * 86400)
		snprintf(out, len, "%lldh ago", d / 3600);
	else
		snprintf(out, len, "%lldd ago", d / 86400);
}

static int cmd_sensors(sqlite3 *db, const struct opts *o)
{
	static const char *const hdr[] = {"SENSOR", "SITE", "VERSION",
					  "LAST CONTACT (UTC)", "", "ALERTS",
					  "EVENTS", "STATS"};
	sqlite3_stmt *st = prepare(
		db, "SELECT s.sensor, site, version, zones_file, first_contact,"
		    " last_contact, hellos, stats,"
		    " (SELECT count(*) FROM alerts a WHERE a.sensor = s.sensor),"
		    " (SELECT coalesce(sum(count), 0) FROM alerts a"
		    "  WHERE a.sensor = s.sensor)"
		    " FROM sensors s ORDER BY s.sensor");
	struct table *t = NULL;
	int rc;

	if (!st)
		return 1;
	if (!o->json)
		t = table_new(8, hdr, "llllrrrl");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (o->json) {
			json_t *stats = col(st, 7) ? json_loads(col(st, 7), 0, NULL)
						   : NULL;
			json_t *j = json_pack(
				"{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:I, "
				"s:I, s:o?}",
				"sensor", col(st, 0), "site", col(st, 1),
				"version", col(st, 2), "zones_file", col(st, 3),
				"first_contact", col(st, 4), "last_contact",
				col(st, 5), "hellos",
				(json_int_t)sqlite3_column_int64(st, 6), "alerts",
				(json_int_t)sqlite3_column_int64(st, 8), "events",
				(json_int_t)sqlite3_column_int64(st, 9), "stats",
				stats);
			char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
			if (s)
				puts(s);
			free(s);
			json_decref(j);
			continue;
		}
		char last[32], ag[32], na[24], ne[24], sum[256];
		const char *cells[8];
		short_ts(last, sizeof(last), col(st, 5));
		ago(ag, sizeof(ag), col(st, 5));
		snprintf(na, sizeof(na), "%lld", sqlite3_column_int64(st, 8));
		snprintf(ne, sizeof(ne), "%lld", sqlite3_column_int64(st, 9));
		stats_summary(col(st, 7), sum, sizeof(sum));
		cells[0] = col(st, 0);
		cells[1] = col(st, 1) ? col(st, 1) : "-";
		cells[2] = col(st, 2) ? col(st, 2) : "-";
		cells[3] = last;
		cells[4] = ag;
		cells[5] = na;
		cells[6] = ne;
		cells[7] = sum;
		table_add(t, cells);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: reading sensors: %s\n", prog,
			sqlite3_errmsg(db));
		table_free(t);
		return 1;
	}
	if (t) {
		if (table_rows(t) == 0)
			printf("no sensors have reported to this store\n");
		else
			table_print(t, stdout);
		table_free(t);
	}
	return 0;
}

/* ---------------- assets ---------------- */

static void facts_summary(const char *text, char *out, size_t len)
{
	static const char *const skip[] = {"ip", "mac", "zone", "timestamp",
					   "sensor", "event_type", NULL};
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	const char *k;
	json_t *v;
	size_t o = 0;

	out[0] = '\0';
	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	json_object_foreach(j, k, v) {
		int i, n;
		for (i = 0; skip[i] && strcmp(skip[i], k); i++)
			;
		if (skip[i] || !json_is_string(v))
			continue;
		n = snprintf(out + o, len - o, "%s%s=%s", o ? " " : "", k,
			     json_string_value(v));
		if (n < 0 || (size_t)n >= len - o) {
			out[o] = '\0';
			break;
		}
		o += (size_t)n;
	}
	json_decref(j);
}

static int cmd_assets(sqlite3 *db, const struct opts *o)
{
	static const char *const hdr[] = {"IP", "MAC", "ZONE", "FIRST SEEN",
					  "LAST SEEN", "SENSOR", "FACTS"};
	char sql[512];
	sqlite3_stmt *st;
	struct table *t = NULL;
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT ip, mac, zone, first_ts, last_ts, sensor, facts"
		 " FROM assets %s ORDER BY zone IS NULL, zone, ip, sensor",
		 !o->zone ? ""
		 : strcmp(o->zone, "-") == 0 ? "WHERE zone IS NULL"
					     : "WHERE zone = ?1");
	if (!(st = prepare(db, sql)))
		return 1;
	if (o->zone && strcmp(o->zone, "-"))
		sqlite3_bind_text(st, 1, o->zone, -1, SQLITE_STATIC);
	if (!o->json)
		t = table_new(7, hdr, "lllllll");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (o->json) {
			json_t *f = col(st, 6) ? json_loads(col(st, 6), 0, NULL)
					       : NULL;
			json_t *j = json_pack(
				"{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:o?}", "ip",
				col(st, 0), "mac", col(st, 1), "zone", col(st, 2),
				"first_ts", col(st, 3), "last_ts", col(st, 4),
				"sensor", col(st, 5), "facts", f);
			char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
			if (s)
				puts(s);
			free(s);
			json_decref(j);
			continue;
		}
		char first[32], last[32], facts[512];
		const char *cells[7];
		short_ts(first, sizeof(first), col(st, 3));
		short_ts(last, sizeof(last), col(st, 4));
		facts_summary(col(st, 6), facts, sizeof(facts));
		cells[0] = col(st, 0);
		cells[1] = col(st, 1) ? col(st, 1) : "-";
		cells[2] = zone_or_dash(col(st, 2));
		cells[3] = first;
		cells[4] = last;
		cells[5] = col(st, 5);
		cells[6] = facts;
		table_add(t, cells);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: reading assets: %s\n", prog,
			sqlite3_errmsg(db));
		table_free(t);
		return 1;
	}
	if (t) {
		if (table_rows(t) == 0)
			printf("no assets%s\n", o->zone ? " in this zone" : "");
		else
			table_print(t, stdout);
		table_free(t);
	}
	return 0;
}

/* ---------------- main ---------------- */

static const struct {
	const char *name;
	const char *opts; /* option letters it accepts besides --db */
	int (*run)(sqlite3 *db, const struct opts *o);
} commands[] = {
	{"alerts", "zstnj", cmd_alerts},
	{"zones", "tj", cmd_zones},
	{"sensors", "j", cmd_sensors},
	{"assets", "zj", cmd_assets},
};

int main(int argc, char **argv)
{
	struct opts o;
	sqlite3 *db;
	int rc;

	if (argc < 2)
		return usage_error("%s", "a command is needed: alerts, zones, "
					 "sensors or assets");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		rc = parse_opts(argc - 1, argv + 1, commands[i].name,
				commands[i].opts, &o);
		if (rc)
			return rc;
		db = open_store(o.db);
		if (!db)
			return 1;
		rc = commands[i].run(db, &o);
		sqlite3_close(db);
		if (fflush(stdout) != 0 || ferror(stdout))
			return 1;
		return rc;
	}
	return usage_error("unknown command \"%s\" (alerts, zones, sensors, "
			   "assets)",
			   argv[1]);
}
