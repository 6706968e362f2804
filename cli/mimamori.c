/*
 * mimamori.c - the command line for people: what the store holds.
 *
 *   mimamori alerts  --db FILE [filters] [--limit N] [--json]
 *   mimamori export  --db FILE [filters] --format eve|csv
 *   mimamori zones   --db FILE [--since T] [--until T] [--site S] [--json]
 *   mimamori sensors --db FILE [--site S] [--json]
 *   mimamori assets  --db FILE [--zone Z] [--sensor S] [--site S] [--json]
 *   mimamori tail    --connect ENDPOINT [--zone Z] [--min-severity N] [--json]
 *   mimamori keygen  --out DIR [--name NAME]
 *   mimamori baseline list|approve|prune ...   (baseline.c)
 *   mimamori zones matrix [--since T] [--zones FILE] ...   (matrix.c)
 *
 * Filters: --zone, --from-zone, --to-zone, --sensor, --site, --signature
 * (wildcards * and ?), --severity, --min-severity, --since, --until,
 * --host.  Every filter value is bound to a prepared statement: no value
 * can change the SQL, it can only match or not.
 *
 * It opens the store read-only (WAL: it never blocks mimamori-store) and
 * never creates a file.  Times are UTC, as in the EVE records.
 * Exit status: 0 fine, 1 an error (no such store...), 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../common/rec.h"
#include "../store/store.h"
#include "../zones/zones.h"
#include "cli.h"
#include "table.h"

#define DEFAULT_LIMIT 200 /* table rows shown unless --limit says */
#define STORE_VERSION_MIN 2
#define STORE_VERSION_BASELINE 4 /* the first schema with the baseline */

static const char *prog = "mimamori";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mimamori COMMAND [options]\n"
		"\n"
		"commands (all but tail and keygen read --db FILE):\n"
		"  alerts   the alerts (newest %d unless --limit), oldest first\n"
		"  export   every matching alert: --format eve (EVE JSON lines for\n"
		"           Filebeat, Splunk, EveBox) or --format csv\n"
		"  zones    per zone of each site: name, strength, hosts seen, alerts\n"
		"           by severity (in the period of --since/--until)\n"
		"  sensors  the sensors: site, version, last contact, backlog, drops\n"
		"  assets   the devices seen, with what they said about themselves\n"
		"  tail     alerts as the store receives them (its --publish socket)\n"
		"  keygen   a CurveZMQ key pair: --out DIR [--name NAME] writes\n"
		"           NAME.key (secret, 0600) and NAME.pub\n"
		"  baseline list|approve|prune: what each sensor learned as normal,\n"
		"           and the deviations to accept or forget (baseline --help)\n"
		"  zones matrix  per pair of zones, the flows seen against the\n"
		"           policy: [--since T] [--sensor S] [--zones FILE] [--json]\n"
		"           (zones matrix --help)\n"
		"\n"
		"filters (alerts, export; some apply to zones, sensors, assets):\n"
		"  --zone Z           either side in zone Z ('-': a side in no zone)\n"
		"  --from-zone Z      the source in Z      --to-zone Z  the destination in Z\n"
		"  --sensor ID        from this sensor     --site S     from this site's sensors\n"
		"  --signature PAT    zone.* , modbus.?nvalid* (wildcards * and ?)\n"
		"  --severity N       exactly N            --min-severity N  N or more severe\n"
		"                     (1 is the highest)\n"
		"  --since T, --until T  24h, 30m, 7d (before now), 2015-10-22,\n"
		"                     2015-10-22T10:00:00 (UTC): rows active in the period\n"
		"  --host IP          as source or destination\n"
		"  --limit N          alerts: the newest N (0: all)\n"
		"  --json             JSON lines instead of a table\n"
		"\n"
		"tail: --connect ENDPOINT [--zone Z] [--min-severity N] [--json]\n"
		"      [--count N] [--curve-secret FILE --store-public FILE]\n"
		"\n"
		"  --db FILE  the store (default: $MIMAMORI_DB)\n"
		"  -h, --help\n",
		DEFAULT_LIMIT);
}

#define usage_error(...) cli_usage_error(prog, __VA_ARGS__)

/* ---------------- options shared by the commands ---------------- */

struct opts {
	const char *db;
	const char *zone, *from_zone, *to_zone;
	const char *sensor, *site, *host;
	char signature[512]; /* "" or a GLOB pattern */
	int severity;     /* 0: any */
	int min_sev;      /* 0: any */
	char since[40];   /* "" or a normalised timestamp */
	char until[40];
	long limit;       /* -1: default */
	int json;
	const char *format;
	const char *connect;
	long count;       /* tail: stop after N (0: never) */
	const char *curve_secret, *store_public;
	const char *out, *name;
};

/* "24h" (before now) or an ISO date/time; the store's text form */
static int parse_time(const char *s, char *out, size_t len)
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

/*
 * A user's wildcard pattern as SQLite GLOB: '*' and '?' stay, '[' (GLOB's
 * character class) is matched literally.  The pattern is bound, never
 * pasted into SQL.
 */
static int glob_pattern(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in; in++) {
		const char *piece = *in == '[' ? "[[]" : NULL;
		size_t n = piece ? 3 : 1;
		if (o + n >= len)
			return -1;
		if (piece)
			memcpy(out + o, piece, n);
		else
			out[o] = *in;
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi,
		     long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || *end || *out < lo || *out > hi)
		return usage_error("%s wants a number from %ld to %ld, not "
				   "\"%s\"",
				   opt, lo, hi, s);
	return 0;
}

enum {
	O_DB = 'd', O_ZONE = 'z', O_FROM = 'f', O_TO = 'o', O_SENSOR = 'S',
	O_SITE = 'T', O_SIG = 'g', O_SEV = 'v', O_MINSEV = 's', O_SINCE = 't',
	O_UNTIL = 'u', O_HOST = 'H', O_LIMIT = 'n', O_JSON = 'j',
	O_FORMAT = 'F', O_CONNECT = 'c', O_COUNT = 'C', O_SECRET = 'k',
	O_PUBLIC = 'P', O_OUT = 'O', O_NAME = 'N',
};

static int parse_opts(int argc, char **argv, const char *cmd,
		      const char *allowed, struct opts *o)
{
	static const struct option lo[] = {
		{"db", required_argument, NULL, O_DB},
		{"zone", required_argument, NULL, O_ZONE},
		{"from-zone", required_argument, NULL, O_FROM},
		{"to-zone", required_argument, NULL, O_TO},
		{"sensor", required_argument, NULL, O_SENSOR},
		{"site", required_argument, NULL, O_SITE},
		{"signature", required_argument, NULL, O_SIG},
		{"severity", required_argument, NULL, O_SEV},
		{"min-severity", required_argument, NULL, O_MINSEV},
		{"since", required_argument, NULL, O_SINCE},
		{"until", required_argument, NULL, O_UNTIL},
		{"host", required_argument, NULL, O_HOST},
		{"limit", required_argument, NULL, O_LIMIT},
		{"json", no_argument, NULL, O_JSON},
		{"format", required_argument, NULL, O_FORMAT},
		{"connect", required_argument, NULL, O_CONNECT},
		{"count", required_argument, NULL, O_COUNT},
		{"curve-secret", required_argument, NULL, O_SECRET},
		{"store-public", required_argument, NULL, O_PUBLIC},
		{"out", required_argument, NULL, O_OUT},
		{"name", required_argument, NULL, O_NAME},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc;
	long v;

	memset(o, 0, sizeof(*o));
	o->limit = -1;
	o->db = getenv("MIMAMORI_DB");
	optind = 1;
	while ((c = cli_getopt(argc, argv, lo, prog, cmd, allowed, usage)) !=
	       -1) {
		switch (c) {
		case 'h': exit(0);
		case '?': return CLI_EXIT_USAGE;
		case O_DB: o->db = optarg; break;
		case O_ZONE: o->zone = optarg; break;
		case O_FROM: o->from_zone = optarg; break;
		case O_TO: o->to_zone = optarg; break;
		case O_SENSOR: o->sensor = optarg; break;
		case O_SITE: o->site = optarg; break;
		case O_HOST: o->host = optarg; break;
		case O_CONNECT: o->connect = optarg; break;
		case O_SECRET: o->curve_secret = optarg; break;
		case O_PUBLIC: o->store_public = optarg; break;
		case O_OUT: o->out = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_JSON: o->json = 1; break;
		case O_SIG:
			if (glob_pattern(optarg, o->signature,
					 sizeof(o->signature)) ||
			    !o->signature[0])
				return usage_error("--signature: a pattern of "
						   "at most 160 characters");
			break;
		case O_SEV:
		case O_MINSEV:
			if ((rc = parse_int(c == O_SEV ? "--severity"
						       : "--min-severity",
					    optarg, 1, 255, &v)))
				return rc;
			if (c == O_SEV)
				o->severity = (int)v;
			else
				o->min_sev = (int)v;
			break;
		case O_SINCE:
		case O_UNTIL:
			if ((rc = cli_time_opt(prog,
					       c == O_SINCE ? "--since"
							    : "--until",
					       optarg,
					       c == O_SINCE ? o->since : o->until,
					       sizeof(o->since))))
				return rc;
			break;
		case O_LIMIT:
			if ((rc = parse_int("--limit", optarg, 0, 1L << 40,
					    &o->limit)))
				return rc;
			break;
		case O_COUNT:
			if ((rc = parse_int("--count", optarg, 0, 1L << 40,
					    &o->count)))
				return rc;
			break;
		case O_FORMAT:
			if ((rc = cli_choice(prog, "--format", optarg,
					     (const char *const[]){"eve", "csv",
								   NULL},
					     &o->format)))
				return rc;
			break;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (strchr(allowed, O_DB) && !o->db)
		return usage_error("%s: --db FILE is required", cmd);
	return 0;
}

/* ---------------- the store ---------------- */

/*
 * The store's file as it is (SQLite would create a missing one: look
 * first), opened with flags and a busy timeout.  NULL and a message.
 */
static sqlite3 *open_file(const char *path, int flags, int busy_ms)
{
	struct stat sb;
	sqlite3 *db = NULL;

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
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, busy_ms);
	return db;
}

static sqlite3 *open_store(const char *path)
{
	sqlite3 *db = open_file(path, SQLITE_OPEN_READONLY, 3000);
	sqlite3_stmt *st;
	int ver = -1, tables = 0;

	if (!db)
		return NULL;
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
	if (ver < STORE_VERSION_MIN) {
		fprintf(stderr,
			"%s: %s: an older store (schema %d): start this "
			"version's mimamori-store on it once to upgrade it\n",
			prog, path, ver);
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

/* ---------------- filters ---------------- */

/*
 * The WHERE clause for the filters: fixed SQL text with named
 * parameters, chosen by which filters are set; the values themselves are
 * only ever bound (filter_bind).  `a` is the alerts table's alias prefix
 * ("" or "a.").
 */
static void filter_where(const struct opts *o, char *w, size_t len)
{
	size_t n = 0;

#define ADD(...)                                                              \
	do {                                                                  \
		int r_ = snprintf(w + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (r_ > 0)                                                   \
			n += (size_t)r_;                                      \
	} while (0)
	ADD("WHERE 1");
	if (o->zone)
		ADD(strcmp(o->zone, "-")
			    ? " AND (src_zone = :zone OR dest_zone = :zone)"
			    : " AND (src_zone IS NULL OR dest_zone IS NULL)");
	if (o->from_zone)
		ADD(strcmp(o->from_zone, "-") ? " AND src_zone = :from_zone"
					      : " AND src_zone IS NULL");
	if (o->to_zone)
		ADD(strcmp(o->to_zone, "-") ? " AND dest_zone = :to_zone"
					    : " AND dest_zone IS NULL");
	if (o->sensor)
		ADD(" AND sensor = :sensor");
	if (o->site)
		ADD(strcmp(o->site, "-")
			    ? " AND sensor IN (SELECT sensor FROM sensors"
			      " WHERE site = :site)"
			    : " AND sensor IN (SELECT sensor FROM sensors"
			      " WHERE site IS NULL OR site = '')");
	if (o->signature[0])
		ADD(" AND signature GLOB :signature");
	if (o->severity)
		ADD(" AND severity = :severity");
	if (o->min_sev)
		ADD(" AND severity <= :min_sev");
	if (o->since[0])
		ADD(" AND last_ts >= :since");
	if (o->until[0])
		ADD(" AND first_ts <= :until");
	if (o->host)
		ADD(" AND (src_ip = :host OR dest_ip = :host)");
#undef ADD
}


static void filter_bind(sqlite3_stmt *st, const struct opts *o)
{
	int i;

	cli_bind_named(st, ":zone", o->zone);
	cli_bind_named(st, ":from_zone", o->from_zone);
	cli_bind_named(st, ":to_zone", o->to_zone);
	cli_bind_named(st, ":sensor", o->sensor);
	cli_bind_named(st, ":site", o->site);
	cli_bind_named(st, ":signature", o->signature);
	cli_bind_named(st, ":since", o->since[0] ? o->since : NULL);
	cli_bind_named(st, ":until", o->until[0] ? o->until : NULL);
	cli_bind_named(st, ":host", o->host);
	if ((i = sqlite3_bind_parameter_index(st, ":severity")))
		sqlite3_bind_int(st, i, o->severity);
	if ((i = sqlite3_bind_parameter_index(st, ":min_sev")))
		sqlite3_bind_int(st, i, o->min_sev);
}

static bool any_filter(const struct opts *o)
{
	return o->zone || o->from_zone || o->to_zone || o->sensor || o->site ||
	       o->signature[0] || o->severity || o->min_sev || o->since[0] ||
	       o->until[0] || o->host;
}

/* ---------------- alerts ---------------- */

#define ALERT_COLS                                                            \
	"first_ts, last_ts, count, severity, signature, src_ip, src_port,"    \
	" src_zone, dest_ip, dest_port, dest_zone,"                           \
	" coalesce(app_proto, lower(proto)), eve, id, sensor,"                \
	" (SELECT site FROM sensors s WHERE s.sensor = alerts.sensor),"       \
	" signature_id, category, app_proto, proto"

enum { C_FIRST, C_LAST, C_COUNT, C_SEV, C_SIG, C_SRC, C_SPORT, C_SZONE,
       C_DST, C_DPORT, C_DZONE, C_PROTO, C_EVE, C_ID, C_SENSOR, C_SITE,
       C_SIGID, C_CAT, C_APP, C_TRANSPORT };

static void endpoint_text(char *out, size_t len, const char *ip, int has_port,
			  int port, const char *zone)
{
	char p[16] = "";

	if (has_port)
		snprintf(p, sizeof(p), ":%d", port);
	snprintf(out, len, "%s%s (%s)", ip ? ip : "?", p, cli_dash(zone));
}

/* the stored EVE record with what the row adds: count, first/last, site */
static int print_eve(sqlite3_stmt *st)
{
	json_error_t je;
	json_t *e = json_loads(col(st, C_EVE), 0, &je);

	if (!json_is_object(e)) {
		fprintf(stderr, "%s: alert %lld: stored EVE is not a JSON object\n",
			prog, sqlite3_column_int64(st, C_ID));
		json_decref(e);
		return 0;
	}
	json_object_set_new(e, "count",
			    json_integer(sqlite3_column_int64(st, C_COUNT)));
	json_object_set_new(e, "first_ts", json_string(col(st, C_FIRST)));
	json_object_set_new(e, "last_ts", json_string(col(st, C_LAST)));
	if (col(st, C_SITE) && !json_object_get(e, "site"))
		json_object_set_new(e, "site", json_string(col(st, C_SITE)));
	cli_print_json(e);
	return 0;
}

static void table_row(struct table *t, sqlite3_stmt *st)
{
	char ts[32], last[32] = "", sev[8] = "-", src[160], dst[160], cnt[24];
	const char *cells[10];

	short_ts(ts, sizeof(ts), col(st, C_FIRST));
	if (sqlite3_column_int64(st, C_COUNT) > 1 ||
	    strcmp(col(st, C_FIRST), col(st, C_LAST))) {
		const char *lt = col(st, C_LAST), *ft = col(st, C_FIRST);
		short_ts(last, sizeof(last), lt);
		/* same day: the time is enough */
		if (lt && ft && !strncmp(lt, ft, 10))
			memmove(last, last + 11, strlen(last + 11) + 1);
	}
	if (sqlite3_column_type(st, C_SEV) != SQLITE_NULL)
		snprintf(sev, sizeof(sev), "%d", sqlite3_column_int(st, C_SEV));
	endpoint_text(src, sizeof(src), col(st, C_SRC),
		      sqlite3_column_type(st, C_SPORT) != SQLITE_NULL,
		      sqlite3_column_int(st, C_SPORT), col(st, C_SZONE));
	endpoint_text(dst, sizeof(dst), col(st, C_DST),
		      sqlite3_column_type(st, C_DPORT) != SQLITE_NULL,
		      sqlite3_column_int(st, C_DPORT), col(st, C_DZONE));
	snprintf(cnt, sizeof(cnt), "%lld", sqlite3_column_int64(st, C_COUNT));
	cells[0] = ts;
	cells[1] = sev;
	cells[2] = col(st, C_SIG);
	cells[3] = src;
	cells[4] = "->";
	cells[5] = dst;
	cells[6] = col(st, C_PROTO) ? col(st, C_PROTO) : "-";
	cells[7] = cnt;
	cells[8] = last;
	cells[9] = col(st, C_SENSOR);
	table_add(t, cells);
}

static int cmd_alerts(sqlite3 *db, const struct opts *o)
{
	static const char *const hdr[] = {"TIME (UTC)", "SEV", "SIGNATURE",
					  "SOURCE", "", "DESTINATION",
					  "PROTO", "COUNT", "LAST SEEN",
					  "SENSOR"};
	char where[1024], sql[2048];
	sqlite3_stmt *st;
	struct table *t = NULL;
	long limit = o->limit >= 0 ? o->limit : o->json ? 0 : DEFAULT_LIMIT;
	long long total = -1;
	int rc, ret = 0;

	filter_where(o, where, sizeof(where));
	/*
	 * The newest `limit` by last activity, shown oldest first.  The
	 * inner query picks ids only: with a zone filter the zone indexes
	 * (zone, last_ts) cover it, so thousands of candidate rows are
	 * sorted as (last_ts, id) pairs, and only the rows shown are read.
	 */
	snprintf(sql, sizeof(sql),
		 "SELECT " ALERT_COLS " FROM alerts WHERE id IN (SELECT id"
		 " FROM alerts %s ORDER BY last_ts DESC, id DESC LIMIT %ld)"
		 " ORDER BY last_ts, id",
		 where, limit > 0 ? limit : -1L);
	if (!(st = prepare(db, sql)))
		return 1;
	filter_bind(st, o);
	if (!o->json)
		t = table_new(10, hdr, "lrllllrrll");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (o->json)
			print_eve(st);
		else
			table_row(t, st);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: reading alerts: %s\n", prog,
			sqlite3_errmsg(db));
		ret = 1;
	}
	sqlite3_finalize(st);
	if (t && limit > 0 && (long)table_rows(t) == limit) {
		/* the total only when the page is full: counting costs */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts %s",
			 where);
		if ((st = prepare(db, sql))) {
			filter_bind(st, o);
			if (sqlite3_step(st) == SQLITE_ROW)
				total = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
	}
	if (t) {
		if (table_rows(t) == 0) {
			printf("no alerts%s\n", any_filter(o)
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

/* ---------------- export ---------------- */

/* one CSV field (RFC 4180); text that a spreadsheet would take for a
 * formula (= + - @ first) gets a leading quote mark (OWASP's advice) */
static void csv_field(const char *s, bool text, bool last)
{
	bool quote;

	if (!s)
		s = "";
	quote = strpbrk(s, ",\"\r\n") != NULL;
	if (text && strchr("=+-@", s[0]) && s[0])
		quote = true;
	if (quote) {
		putchar('"');
		if (text && s[0] && strchr("=+-@", s[0]))
			putchar('\'');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static int cmd_export(sqlite3 *db, const struct opts *o)
{
	char where[1024], sql[2048];
	sqlite3_stmt *st;
	int rc;
	bool csv;

	if (!o->format)
		return usage_error("export: --format eve or --format csv");
	csv = !strcmp(o->format, "csv");
	filter_where(o, where, sizeof(where));
	snprintf(sql, sizeof(sql),
		 "SELECT " ALERT_COLS " FROM alerts %s ORDER BY first_ts, id",
		 where);
	if (!(st = prepare(db, sql)))
		return 1;
	filter_bind(st, o);
	if (csv)
		puts("first_ts,last_ts,count,sensor,site,severity,signature,"
		     "signature_id,category,app_proto,proto,src_ip,src_port,"
		     "src_zone,dest_ip,dest_port,dest_zone");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!csv) {
			print_eve(st);
			continue;
		}
		csv_field(col(st, C_FIRST), false, false);
		csv_field(col(st, C_LAST), false, false);
		csv_field(col(st, C_COUNT), false, false);
		csv_field(col(st, C_SENSOR), true, false);
		csv_field(col(st, C_SITE), true, false);
		csv_field(col(st, C_SEV), false, false);
		csv_field(col(st, C_SIG), true, false);
		csv_field(col(st, C_SIGID), false, false);
		csv_field(col(st, C_CAT), true, false);
		csv_field(col(st, C_APP), true, false);
		csv_field(col(st, C_TRANSPORT), true, false);
		csv_field(col(st, C_SRC), true, false);
		csv_field(col(st, C_SPORT), false, false);
		csv_field(col(st, C_SZONE), true, false);
		csv_field(col(st, C_DST), true, false);
		csv_field(col(st, C_DPORT), false, false);
		csv_field(col(st, C_DZONE), true, true);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: reading alerts: %s\n", prog,
			sqlite3_errmsg(db));
		return 1;
	}
	return 0;
}

/* ---------------- zones ---------------- */

struct zrow {
	char *site, *zone;          /* zone NULL: in no zone */
	char *name, *strength;      /* from the sensor's zone file */
	int order;                  /* position in the zone file */
	long long sev[4], alerts, events, hosts;
};

struct zrows {
	struct zrow *r;
	size_t n, cap;
};

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static struct zrow *zrow_get(struct zrows *z, const char *site,
			     const char *zone)
{
	struct zrow *r;

	for (size_t i = 0; i < z->n; i++)
		if (same(z->r[i].site, site) && same(z->r[i].zone, zone))
			return &z->r[i];
	if (z->n == z->cap) {
		size_t nc = z->cap ? z->cap * 2 : 32;
		struct zrow *n = realloc(z->r, nc * sizeof(*n));
		if (!n)
			return NULL;
		z->r = n;
		z->cap = nc;
	}
	r = &z->r[z->n++];
	memset(r, 0, sizeof(*r));
	r->site = strdup(site ? site : "");
	r->zone = zone ? strdup(zone) : NULL;
	r->order = 1 << 30;
	return r;
}

/* zone names and strengths from each sensor's zone file (its hello) */
static int zones_defs(sqlite3 *db, const struct opts *o, struct zrows *z)
{
	sqlite3_stmt *st = prepare(
		db, "SELECT coalesce(nullif(site, ''), sensor), zones_yaml,"
		    " sensor FROM sensors WHERE zones_yaml IS NOT NULL"
		    " AND (:site IS NULL OR site = :site)"
		    " ORDER BY 1, hello_seq DESC");
	int rc;

	if (!st)
		return -1;
	cli_bind_named(st, ":site", o->site);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char err[256];
		const char *yaml = col(st, 1);
		struct zone_model *zm = zone_model_parse(
			yaml, strlen(yaml), col(st, 2), err, sizeof(err));
		if (!zm) {
			fprintf(stderr, "%s: the zone file of sensor %s: %s\n",
				prog, col(st, 2), err);
			continue;
		}
		for (size_t i = 0; i < zone_model_count(zm); i++) {
			const struct zone *zn = zone_model_get(zm, i);
			struct zrow *r = zrow_get(z, col(st, 0), zn->id);
			char s[64];
			if (!r)
				break;
			if (r->strength)
				continue; /* the first sensor's file wins */
			snprintf(s, sizeof(s), "%s %s",
				 zone_strength_name(zn->strength),
				 zone_strength_name_ja(zn->strength));
			r->strength = strdup(s);
			r->name = zn->name ? strdup(zn->name) : NULL;
			r->order = (int)i;
		}
		zone_model_free(zm);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int zones_counts(sqlite3 *db, const struct opts *o, struct zrows *z)
{
	char where[1024], sql[4096];
	sqlite3_stmt *st;
	int rc;

	/* each alert counts once for each zone it touches (either side) */
	filter_where(o, where, sizeof(where));
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(nullif(s.site, ''), a.sensor), a.z,"
		 " sum(a.severity = 1), sum(a.severity = 2),"
		 " sum(a.severity = 3), sum(a.severity >= 4), count(*),"
		 " sum(a.count) FROM (SELECT sensor, severity, count,"
		 " src_zone AS z FROM alerts %s UNION ALL SELECT sensor,"
		 " severity, count, dest_zone FROM alerts %s AND dest_zone IS NOT"
		 " src_zone) a LEFT JOIN sensors s ON s.sensor = a.sensor"
		 " GROUP BY 1, 2",
		 where, where);
	if (!(st = prepare(db, sql)))
		return -1;
	filter_bind(st, o);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct zrow *r = zrow_get(z, col(st, 0), col(st, 1));
		if (!r)
			break;
		for (int i = 0; i < 4; i++)
			r->sev[i] += sqlite3_column_int64(st, 2 + i);
		r->alerts += sqlite3_column_int64(st, 6);
		r->events += sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	/* hosts seen: addresses in its alerts and assets placed in it */
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(nullif(s.site, ''), h.sensor), h.z,"
		 " count(DISTINCT h.ip) FROM (SELECT sensor, src_zone AS z,"
		 " src_ip AS ip FROM alerts %s UNION SELECT sensor, dest_zone,"
		 " dest_ip FROM alerts %s UNION SELECT sensor, zone, ip FROM"
		 " assets WHERE (:since IS NULL OR last_ts >= :since) AND"
		 " (:until IS NULL OR first_ts <= :until) AND (:site IS NULL OR"
		 " sensor IN (SELECT sensor FROM sensors WHERE site = :site)))"
		 " h LEFT JOIN sensors s ON s.sensor = h.sensor"
		 " WHERE h.ip IS NOT NULL GROUP BY 1, 2",
		 where, where);
	if (!(st = prepare(db, sql)))
		return -1;
	filter_bind(st, o);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct zrow *r = zrow_get(z, col(st, 0), col(st, 1));
		if (!r)
			break;
		r->hosts = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int zrow_cmp(const void *a, const void *b)
{
	const struct zrow *x = a, *y = b;
	int c = strcmp(x->site, y->site);

	if (c)
		return c;
	if (!x->zone != !y->zone)
		return x->zone ? -1 : 1; /* "in no zone" last */
	for (int i = 0; i < 4; i++)
		if (x->sev[i] != y->sev[i])
			return x->sev[i] > y->sev[i] ? -1 : 1;
	if (x->events != y->events)
		return x->events > y->events ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->zone ? x->zone : "", y->zone ? y->zone : "");
}

static int cmd_zones(sqlite3 *db, const struct opts *o)
{
	static const char *const hdr[] = {"SITE", "ZONE", "NAME", "STRENGTH",
					  "HOSTS", "SEV1", "SEV2", "SEV3",
					  "SEV4+", "ALERTS", "EVENTS"};
	struct zrows z = {0};
	struct table *t = NULL;
	int rc = 0;

	if (zones_defs(db, o, &z) || zones_counts(db, o, &z)) {
		fprintf(stderr, "%s: reading zones: %s\n", prog,
			sqlite3_errmsg(db));
		rc = 1;
	}
	if (z.n > 0)
		qsort(z.r, z.n, sizeof(*z.r), zrow_cmp);
	if (!o->json) {
		printf("Alerts per zone%s%s%s%s%s\n\n",
		       o->since[0] ? " since " : "", o->since,
		       o->until[0] ? " until " : "", o->until,
		       o->since[0] || o->until[0] ? " (UTC)" : "");
		t = table_new(11, hdr, "llllrrrrrrr");
	}
	for (size_t i = 0; i < z.n; i++) {
		struct zrow *r = &z.r[i];
		if (o->json) {
			json_t *j = json_pack(
				"{s:s, s:s?, s:s?, s:s?, s:I, s:I, s:I, s:I, "
				"s:I, s:I, s:I}",
				"site", r->site, "zone", r->zone, "name",
				r->name, "strength", r->strength, "hosts",
				(json_int_t)r->hosts, "sev1",
				(json_int_t)r->sev[0], "sev2",
				(json_int_t)r->sev[1], "sev3",
				(json_int_t)r->sev[2], "sev4",
				(json_int_t)r->sev[3], "alerts",
				(json_int_t)r->alerts, "events",
				(json_int_t)r->events);
			cli_print_json(j);
		} else {
			char n[7][24];
			const char *cells[11];
			long long v[7] = {r->hosts, r->sev[0], r->sev[1],
					  r->sev[2], r->sev[3], r->alerts,
					  r->events};
			cells[0] = r->site;
			cells[1] = cli_dash(r->zone);
			cells[2] = r->name ? r->name : "";
			cells[3] = r->strength ? r->strength : "-";
			for (int k = 0; k < 7; k++) {
				snprintf(n[k], sizeof(n[k]), "%lld", v[k]);
				cells[4 + k] = n[k];
			}
			table_add(t, cells);
		}
	}
	if (t) {
		if (table_rows(t) == 0)
			printf("  (no zones and no alerts)\n");
		else
			table_print(t, stdout);
		printf("\nSITE: the sensor's site (its id when it has none).  "
		       "STRENGTH: 対策強度 from the\nzone file.  HOSTS: "
		       "addresses seen in the zone.  SEV1..SEV4+: alert rows of "
		       "that\nseverity (1 = most severe) with a side in the "
		       "zone.  ALERTS: rows (repeats\nfolded into one).  "
		       "EVENTS: occurrences, repeats counted.  -: in no zone.\n");
		table_free(t);
	}
	for (size_t i = 0; i < z.n; i++) {
		free(z.r[i].site);
		free(z.r[i].zone);
		free(z.r[i].name);
		free(z.r[i].strength);
	}
	free(z.r);
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

/* backlog and drops: the link's heartbeat when there is one (live),
 * else what its last stats record said */
static void link_numbers(const char *beat, const char *stats, json_t **b,
			 json_t **d)
{
	json_t *j = beat ? json_loads(beat, 0, NULL) : NULL;

	*b = *d = NULL;
	if (json_is_object(j)) {
		*b = json_incref(json_object_get(j, "backlog"));
		*d = json_incref(json_object_get(j, "dropped"));
	} else {
		json_decref(j);
		j = stats ? json_loads(stats, 0, NULL) : NULL;
		json_t *l = json_object_get(j, "link");
		*b = json_incref(json_object_get(l, "backlog"));
		*d = json_incref(json_object_get(l, "dropped"));
	}
	json_decref(j);
}

static int cmd_sensors(sqlite3 *db, const struct opts *o)
{
	static const char *const hdr[] = {"SENSOR", "SITE", "VERSION",
					  "LAST CONTACT (UTC)", "", "STATUS",
					  "BACKLOG", "DROPS", "ALERTS",
					  "EVENTS", "STATS"};
	sqlite3_stmt *st = prepare(
		db, "SELECT s.sensor, site, version, zones_file, first_contact,"
		    " last_contact, hellos, stats,"
		    " (SELECT count(*) FROM alerts a WHERE a.sensor = s.sensor),"
		    " (SELECT coalesce(sum(count), 0) FROM alerts a"
		    "  WHERE a.sensor = s.sensor), link, link_ts, key,"
		    " silent_since FROM sensors s"
		    " WHERE :site IS NULL OR site = :site ORDER BY site, s.sensor");
	struct table *t = NULL;
	int rc;

	if (!st)
		return 1;
	cli_bind_named(st, ":site", o->site);
	if (!o->json)
		t = table_new(11, hdr, "lllllrrrrrl");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *backlog, *drops;
		link_numbers(col(st, 10), col(st, 7), &backlog, &drops);
		if (o->json) {
			json_t *stats = col(st, 7) ? json_loads(col(st, 7), 0, NULL)
						   : NULL;
			json_t *link = col(st, 10) ? json_loads(col(st, 10), 0, NULL)
						   : NULL;
			json_t *j = json_pack(
				"{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:I, "
				"s:I, s:o?, s:o?, s:s?, s:s?, s:s?, s:O?, s:O?}",
				"sensor", col(st, 0), "site", col(st, 1),
				"version", col(st, 2), "zones_file", col(st, 3),
				"first_contact", col(st, 4), "last_contact",
				col(st, 5), "hellos",
				(json_int_t)sqlite3_column_int64(st, 6), "alerts",
				(json_int_t)sqlite3_column_int64(st, 8), "events",
				(json_int_t)sqlite3_column_int64(st, 9), "stats",
				stats, "link", link, "link_ts", col(st, 11),
				"key", col(st, 12), "silent_since", col(st, 13),
				"backlog", backlog, "dropped", drops);
			cli_print_json(j);
		} else {
			char last[32], ag[32], na[24], ne[24], sum[256],
				status[64], nb[24] = "-", nd[24] = "-";
			const char *cells[11];
			short_ts(last, sizeof(last), col(st, 5));
			ago(ag, sizeof(ag), col(st, 5));
			snprintf(na, sizeof(na), "%lld",
				 sqlite3_column_int64(st, 8));
			snprintf(ne, sizeof(ne), "%lld",
				 sqlite3_column_int64(st, 9));
			if (json_is_integer(backlog))
				snprintf(nb, sizeof(nb), "%lld",
					 (long long)json_integer_value(backlog));
			if (json_is_integer(drops))
				snprintf(nd, sizeof(nd), "%lld",
					 (long long)json_integer_value(drops));
			if (col(st, 13)) {
				char since[32];
				short_ts(since, sizeof(since), col(st, 13));
				snprintf(status, sizeof(status),
					 "SILENT since %s", since);
			} else {
				snprintf(status, sizeof(status), "ok");
			}
			stats_summary(col(st, 7), sum, sizeof(sum));
			cells[0] = col(st, 0);
			cells[1] = col(st, 1) ? col(st, 1) : "-";
			cells[2] = col(st, 2) ? col(st, 2) : "-";
			cells[3] = last;
			cells[4] = ag;
			cells[5] = status;
			cells[6] = nb;
			cells[7] = nd;
			cells[8] = na;
			cells[9] = ne;
			cells[10] = sum;
			table_add(t, cells);
		}
		json_decref(backlog);
		json_decref(drops);
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
	sqlite3_stmt *st;
	struct table *t = NULL;
	int rc;

	st = prepare(db,
		     "SELECT ip, mac, zone, first_ts, last_ts, sensor, facts"
		     " FROM assets WHERE (:zone IS NULL OR (:zone = '-' AND"
		     " zone IS NULL) OR zone = :zone) AND (:sensor IS NULL OR"
		     " sensor = :sensor) AND (:site IS NULL OR sensor IN"
		     " (SELECT sensor FROM sensors WHERE site = :site))"
		     " ORDER BY zone IS NULL, zone, ip, sensor");
	if (!st)
		return 1;
	cli_bind_named(st, ":zone", o->zone);
	cli_bind_named(st, ":sensor", o->sensor);
	cli_bind_named(st, ":site", o->site);
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
			cli_print_json(j);
			continue;
		}
		char first[32], last[32], facts[512];
		const char *cells[7];
		short_ts(first, sizeof(first), col(st, 3));
		short_ts(last, sizeof(last), col(st, 4));
		facts_summary(col(st, 6), facts, sizeof(facts));
		cells[0] = col(st, 0);
		cells[1] = col(st, 1) ? col(st, 1) : "-";
		cells[2] = cli_dash(col(st, 2));
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

/* ---------------- tail ---------------- */

static volatile sig_atomic_t tail_stop;

static void on_tail_signal(int sig)
{
	(void)sig;
	tail_stop = 1;
}

/* one live alert as a line: time, severity, signature, who -> whom */
static void tail_line(json_t *e)
{
	json_t *a = json_object_get(e, "alert");
	const char *ts = json_string_value(json_object_get(e, "timestamp"));
	char t[32], src[160], dst[160];
	json_t *sp = json_object_get(e, "src_port"),
	       *dp = json_object_get(e, "dest_port");

	short_ts(t, sizeof(t), ts);
	endpoint_text(src, sizeof(src),
		      json_string_value(json_object_get(e, "src_ip")),
		      json_is_integer(sp), (int)json_integer_value(sp),
		      json_string_value(json_object_get(e, "src_zone")));
	endpoint_text(dst, sizeof(dst),
		      json_string_value(json_object_get(e, "dest_ip")),
		      json_is_integer(dp), (int)json_integer_value(dp),
		      json_string_value(json_object_get(e, "dest_zone")));
	printf("%s  %lld  %s  %s -> %s  %s\n", t,
	       (long long)json_integer_value(json_object_get(a, "severity")),
	       json_string_value(json_object_get(a, "signature"))
		       ? json_string_value(json_object_get(a, "signature"))
		       : "?",
	       src, dst,
	       json_string_value(json_object_get(e, "sensor"))
		       ? json_string_value(json_object_get(e, "sensor"))
		       : "");
}

static bool zone_matches(json_t *e, const char *zone)
{
	const char *s = json_string_value(json_object_get(e, "src_zone"));
	const char *d = json_string_value(json_object_get(e, "dest_zone"));

	if (!zone)
		return true;
	if (!strcmp(zone, "-"))
		return !s || !d;
	return (s && !strcmp(s, zone)) || (d && !strcmp(d, zone));
}

static int cmd_tail(const struct opts *o)
{
	void *ctx, *sub;
	char err[512];
	long shown = 0;
	int v = 0, rc = 0;
	struct sigaction sa;

	if (!o->connect)
		return usage_error("tail: --connect ENDPOINT (the store's "
				   "--publish endpoint) is required");
	ctx = zmq_ctx_new();
	sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
	if (!sub) {
		fprintf(stderr, "%s: zmq: %s\n", prog, zmq_strerror(errno));
		return 1;
	}
	zmq_setsockopt(sub, ZMQ_LINGER, &v, sizeof(v));
	if (o->curve_secret || o->store_public) {
		char secret[MM_KEY_Z85_LEN + 1], public[MM_KEY_Z85_LEN + 1],
			server[MM_KEY_Z85_LEN + 1];
		if (!o->curve_secret || !o->store_public) {
			zmq_close(sub);
			zmq_ctx_term(ctx);
			return usage_error("tail: CurveZMQ wants both "
					   "--curve-secret and --store-public");
		}
		if (mm_key_load(o->curve_secret, true, secret, err,
				sizeof(err)) ||
		    mm_key_load(o->store_public, false, server, err,
				sizeof(err)) ||
		    zmq_curve_public(public, secret) != 0) {
			fprintf(stderr, "%s: %s\n", prog, err);
			zmq_close(sub);
			zmq_ctx_term(ctx);
			return 1;
		}
		zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, server, 40);
		zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, public, 40);
		zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, secret, 40);
		memset(secret, 0, sizeof(secret));
	}
	/* the severity filter is the topic prefix: alert.1., alert.2. ... */
	if (o->min_sev) {
		for (int s = 1; s <= o->min_sev && s <= 9; s++) {
			char topic[24];
			snprintf(topic, sizeof(topic), "alert.%d.", s);
			zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
		}
	} else {
		zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert.", 6);
	}
	if (zmq_connect(sub, o->connect) != 0) {
		fprintf(stderr, "%s: cannot connect to %s: %s\n", prog,
			o->connect, zmq_strerror(errno));
		zmq_close(sub);
		zmq_ctx_term(ctx);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tail_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!tail_stop && (o->count == 0 || shown < o->count)) {
		zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
		zmq_msg_t topic, body;
		json_t *e;
		if (zmq_poll(&it, 1, 200) <= 0)
			continue;
		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&topic, sub, 0) < 0 || !zmq_msg_more(&topic) ||
		    zmq_msg_recv(&body, sub, 0) < 0) {
			zmq_msg_close(&topic);
			zmq_msg_close(&body);
			continue;
		}
		e = json_loadb(zmq_msg_data(&body), zmq_msg_size(&body), 0,
			       NULL);
		if (json_is_object(e) && zone_matches(e, o->zone)) {
			if (o->json)
				printf("%.*s\n", (int)zmq_msg_size(&body),
				       (const char *)zmq_msg_data(&body));
			else
				tail_line(e);
			shown++;
		}
		json_decref(e);
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
	}
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return rc;
}

/* ---------------- keygen ---------------- */

static int cmd_keygen(const struct opts *o)
{
	char host[256] = "", err[512];

	if (!o->out)
		return usage_error("keygen: --out DIR is required");
	if (!o->name) {
		if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			snprintf(host, sizeof(host), "mimamori");
		host[strcspn(host, ".")] = '\0';
	}
	if (mm_keygen(o->out, o->name ? o->name : host, err, sizeof(err))) {
		fprintf(stderr, "%s: keygen: %s\n", prog, err);
		return 1;
	}
	printf("wrote %s/%s.key (secret, mode 0600) and %s/%s.pub\n", o->out,
	       o->name ? o->name : host, o->out, o->name ? o->name : host);
	return 0;
}

/* ---------------- main ---------------- */

#define FILTERS "zfoSTgvstuH"

static const struct {
	const char *name;
	const char *opts; /* option letters it accepts */
	int (*run)(sqlite3 *db, const struct opts *o);
	int (*run_nodb)(const struct opts *o);
} commands[] = {
	{"alerts", "d" FILTERS "nj", cmd_alerts, NULL},
	{"export", "d" FILTERS "F", cmd_export, NULL},
	{"zones", "dtuTj" "zfoSgvsH", cmd_zones, NULL},
	{"sensors", "dTj", cmd_sensors, NULL},
	{"assets", "dzSTj", cmd_assets, NULL},
	{"tail", "czsjCkP", NULL, cmd_tail},
	{"keygen", "ON", NULL, cmd_keygen},
};

int main(int argc, char **argv)
{
	struct opts o;
	sqlite3 *db;
	int rc;

	if (argc < 2)
		return usage_error("%s", "a command is needed: alerts, export, "
					 "zones, sensors, assets, tail or "
					 "keygen");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	/* commands with subcommands, in files of their own */
	if (!strcmp(argv[1], "baseline"))
		rc = cli_baseline(argc - 1, argv + 1);
	else if (!strcmp(argv[1], "zones") && argc > 2 &&
		 !strcmp(argv[2], "matrix"))
		rc = cli_matrix(argc - 2, argv + 2);
	else
		rc = -1;
	if (rc >= 0)
		return fflush(stdout) != 0 || ferror(stdout) ? 1 : rc;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		rc = parse_opts(argc - 1, argv + 1, commands[i].name,
				commands[i].opts, &o);
		if (rc)
			return rc;
		if (commands[i].run_nodb) {
			rc = commands[i].run_nodb(&o);
		} else {
			db = open_store(o.db);
			if (!db)
				return 1;
			rc = commands[i].run(db, &o);
			sqlite3_close(db);
		}
		if (fflush(stdout) != 0 || ferror(stdout))
			return 1;
		return rc;
	}
	return usage_error("unknown command \"%s\" (alerts, export, zones, "
			   "sensors, assets, tail, keygen, baseline)",
			   argv[1]);
}

/* ---------------- for the commands in other files (cli.h) ---------------- */

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see '%s --help')\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_getopt(int argc, char **argv, const struct option *lo,
	       const char *prog_name, const char *cmd, const char *allowed,
	       void (*usage_of)(FILE *))
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, ":h", lo, NULL);
	if (c == 'h')
		usage_of(stdout);
	if (c == -1 || c == 'h')
		return c;
	if (c == ':') {
		cli_usage_error(prog_name, "%s needs a value", argv[optind - 1]);
		return '?';
	}
	if (c == '?') {
		cli_usage_error(prog_name, "unknown option %s",
				argv[optind - 1]);
		return '?';
	}
	if (allowed && !strchr(allowed, c)) {
		char what[64] = "that option";
		for (int i = 0; lo[i].name; i++)
			if (lo[i].val == c)
				snprintf(what, sizeof(what), "--%s", lo[i].name);
		cli_usage_error(prog_name, "%s does not apply to '%s'", what,
				cmd);
		return '?';
	}
	return c;
}

int cli_choice(const char *prog_name, const char *opt, const char *arg,
	       const char *const *names, const char **out)
{
	char list[256];
	size_t n = 0, k = 0;

	for (; names[k]; k++)
		if (!strcmp(arg, names[k])) {
			*out = names[k];
			return 0;
		}
	/* "a, b or c" */
	list[0] = '\0';
	for (size_t i = 0; i < k && n < sizeof(list); i++) {
		int r = snprintf(list + n, sizeof(list) - n, "%s%s",
				 i == 0 ? "" : i + 1 < k ? ", " : " or ",
				 names[i]);
		n += r > 0 ? (size_t)r : 0;
	}
	return cli_usage_error(prog_name, "%s is %s, not \"%s\"", opt, list,
			       arg);
}

int cli_time_opt(const char *prog_name, const char *opt, const char *arg,
		 char *out, size_t len)
{
	if (parse_time(arg, out, len))
		return cli_usage_error(prog_name,
				       "%s wants 24h, 30m, 7d or a date like "
				       "2015-10-22 or 2015-10-22T10:00:00, not "
				       "\"%s\"",
				       opt, arg);
	return 0;
}

sqlite3 *cli_open_v4(const char *path, bool write)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int ver = -1;

	/* the store holds the write lock for one batch at most */
	db = write ? open_file(path, SQLITE_OPEN_READWRITE, 10000)
		   : open_store(path);
	if (!db)
		return NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ver = sqlite3_column_int(st, 0);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (ver >= 0 && ver < STORE_VERSION_BASELINE)
		fprintf(stderr,
			"%s: %s: an older store (schema %d) without the "
			"baseline: start this version's mimamori-store on it "
			"once to upgrade it\n",
			prog, path, ver);
	if (ver < STORE_VERSION_BASELINE) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

const char *cli_dash(const char *s)
{
	return s && *s ? s : "-";
}

void cli_bind_named(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i && v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

void cli_print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (s)
		puts(s);
	free(s);
	json_decref(j);
}

void cli_short_ts(char *out, size_t len, const char *ts)
{
	short_ts(out, len, ts);
}
