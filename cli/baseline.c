/*
 * baseline.c - mimamori baseline list|approve|prune: what the store
 * learned as normal for each sensor (store/baseline.c), and what a person
 * does with the deviations.
 *
 *   mimamori baseline list    [--db F] [--sensor S] [--status ST]
 *                             [--what W] [--json]
 *   mimamori baseline approve [--db F] (--all | --id N... |
 *                             --src IP [--dest IP]) [--sensor S]
 *   mimamori baseline prune   [--db F] (--before T | --status ST |
 *                             --id N...) [--sensor S]
 *
 * list opens the store read-only; approve and prune write, with a busy
 * timeout, through SQLite's own locking: safe while mimamori-store (or a
 * mimamorid with its embedded store) runs, which only ever holds the
 * write lock for one batch.  Every value is bound, never pasted into SQL.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "cli.h"
#include "table.h"

#define IDS_MAX 4096

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mimamori baseline list|approve|prune [options]\n"
		"\n"
		"The baseline is what each sensor saw while it learned (mimamorid\n"
		"--learn): client and server, protocol, operation class, function,\n"
		"target.  In detect mode what it never saw raises baseline.* alerts\n"
		"once and is kept with status 'new' until you approve or prune it.\n"
		"\n"
		"  list     the rows: --status learned|new|approved, --what\n"
		"           op|service|mac, --sensor S, --json\n"
		"  approve  'new' rows become 'approved' (normal from now on):\n"
		"           --all, --id N [--id N ...] (or N,N), or a talker:\n"
		"           --src IP [--dest IP] (all its rows)\n"
		"  prune    delete rows: --before T (last seen before T: 7d, 24h,\n"
		"           2015-10-22T10:00:00, UTC), --status ST, or --id N...\n"
		"           (a pruned key that comes back is new again)\n"
		"\n"
		"  --sensor S  only this sensor's rows\n"
		"  --db FILE   the store (default: $MIMAMORI_DB)\n");
}

#define PROG "mimamori baseline"
#define uerr(...) cli_usage_error(PROG, __VA_ARGS__)

struct bopts {
	const char *db, *sensor, *status, *what, *src, *dest;
	char before[40];
	bool all, json;
	int64_t ids[IDS_MAX];
	size_t n_ids;
	bool has_ids;
};

/* "5", "5,7,9": appended to the ids; -1 on anything else */
static int add_ids(struct bopts *o, const char *s)
{
	const char *p = s;

	o->has_ids = true;
	while (*p) {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || end == p || v < 1 || (*end && *end != ',') ||
		    o->n_ids >= IDS_MAX)
			return uerr("--id wants row ids (numbers from 1, as "
				    "'baseline list' shows them), not \"%s\"",
				    s);
		o->ids[o->n_ids++] = v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* baseline.status and baseline.what (store/baseline.h) */
static const char *const statuses[] = {"learned", "new", "approved", NULL};
static const char *const whats[] = {"op", "service", "mac", NULL};

static int parse(int argc, char **argv, const char *sub, const char *allowed,
		 struct bopts *o)
{
	static const struct option lo[] = {
		{"db", required_argument, NULL, 'd'},
		{"sensor", required_argument, NULL, 'S'},
		{"status", required_argument, NULL, 's'},
		{"what", required_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},
		{"id", required_argument, NULL, 'i'},
		{"src", required_argument, NULL, 'r'},
		{"dest", required_argument, NULL, 't'},
		{"before", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char cmd[64];
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->db = getenv("MIMAMORI_DB");
	snprintf(cmd, sizeof(cmd), "baseline %s", sub);
	optind = 1;
	while ((c = cli_getopt(argc, argv, lo, PROG, cmd, allowed, usage)) !=
	       -1) {
		switch (c) {
		case 'h': exit(0);
		case '?': return CLI_EXIT_USAGE;
		case 'd': o->db = optarg; break;
		case 'S': o->sensor = optarg; break;
		case 'j': o->json = true; break;
		case 'a': o->all = true; break;
		case 'r': o->src = optarg; break;
		case 't': o->dest = optarg; break;
		case 's':
			if ((rc = cli_choice(PROG, "--status", optarg, statuses,
					     &o->status)))
				return rc;
			break;
		case 'w':
			if ((rc = cli_choice(PROG, "--what", optarg, whats,
					     &o->what)))
				return rc;
			break;
		case 'i':
			if ((rc = add_ids(o, optarg)))
				return rc;
			break;
		case 'b':
			if ((rc = cli_time_opt(PROG, "--before", optarg,
					       o->before, sizeof(o->before))))
				return rc;
			break;
		}
	}
	/* --id 3 5 7: the numbers after it */
	for (; optind < argc; optind++) {
		if (!o->has_ids)
			return uerr("unexpected argument \"%s\"", argv[optind]);
		if ((rc = add_ids(o, argv[optind])))
			return rc;
	}
	if (!o->db)
		return uerr("%s: --db FILE is required (or $MIMAMORI_DB)", sub);
	return 0;
}

/* ---------------- list ---------------- */

enum { L_ID, L_SENSOR, L_WHAT, L_STATUS, L_SRC, L_DST, L_PORT, L_PROTO,
       L_OP, L_FN, L_FNAME, L_UNIT, L_SPACE, L_ADDR, L_COUNT, L_MAC,
       L_VENDOR, L_SZONE, L_DZONE, L_FIRST, L_LAST, L_HITS, L_PEAK };

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* a column as JSON: integer, real, text or null as stored */
static json_t *jcol(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	case SQLITE_TEXT:
		return json_string(col(st, i));
	default:
		return json_null();
	}
}

static void list_json(sqlite3_stmt *st)
{
	static const char *const names[] = {
		"id",        "sensor",    "what",      "status",   "src_ip",
		"dest_ip",   "dest_port", "proto",     "op",       "function",
		"function_name", "unit",  "space",     "addr",     "count",
		"mac",       "mac_vendor", "src_zone", "dest_zone", "first_ts",
		"last_ts",   "hits",      "peak_per_s"};
	json_t *j = json_object();

	for (int i = 0; j && i < (int)(sizeof(names) / sizeof(names[0])); i++)
		json_object_set_new(j, names[i], jcol(st, i));
	cli_print_json(j);
}

/* "unit 1 space 4 100-109": what a row's target is, or "" */
static void target_text(sqlite3_stmt *st, char *out, size_t len)
{
	size_t n = 0;
	int r;

	out[0] = '\0';
	if (sqlite3_column_type(st, L_UNIT) != SQLITE_NULL) {
		r = snprintf(out + n, len - n, "unit %s", col(st, L_UNIT));
		n = r > 0 && (size_t)r < len - n ? n + (size_t)r : n;
	}
	if (sqlite3_column_type(st, L_SPACE) != SQLITE_NULL) {
		r = snprintf(out + n, len - n, "%sspace %s", n ? " " : "",
			     col(st, L_SPACE));
		n = r > 0 && (size_t)r < len - n ? n + (size_t)r : n;
	}
	if (sqlite3_column_type(st, L_ADDR) != SQLITE_NULL) {
		long long a = sqlite3_column_int64(st, L_ADDR);
		long long c = sqlite3_column_int64(st, L_COUNT);
		if (c > 1)
			snprintf(out + n, len - n, "%s%lld-%lld", n ? " " : "",
				 a, a + c - 1);
		else
			snprintf(out + n, len - n, "%s%lld", n ? " " : "", a);
	}
}

static void list_row(struct table *t, sqlite3_stmt *st)
{
	char id[24], src[160], dst[160], fn[160], target[160], hits[24],
		first[32], last[32];
	const char *cells[13];
	bool mac = !strcmp(col(st, L_WHAT), "mac");

	snprintf(id, sizeof(id), "%lld", sqlite3_column_int64(st, L_ID));
	snprintf(src, sizeof(src), "%s (%s)", cli_dash(col(st, L_SRC)),
		 cli_dash(col(st, L_SZONE)));
	if (mac) {
		dst[0] = '\0';
		snprintf(fn, sizeof(fn), "-");
		snprintf(target, sizeof(target), "%s%s%s", cli_dash(col(st, L_MAC)),
			 col(st, L_VENDOR) ? " " : "",
			 col(st, L_VENDOR) ? col(st, L_VENDOR) : "");
	} else {
		char port[16] = "";
		if (sqlite3_column_type(st, L_PORT) != SQLITE_NULL)
			snprintf(port, sizeof(port), ":%lld",
				 sqlite3_column_int64(st, L_PORT));
		snprintf(dst, sizeof(dst), "%s%s (%s)", cli_dash(col(st, L_DST)),
			 port, cli_dash(col(st, L_DZONE)));
		if (sqlite3_column_type(st, L_FN) == SQLITE_NULL)
			snprintf(fn, sizeof(fn), "-");
		else
			snprintf(fn, sizeof(fn), "%s%s%s", col(st, L_FN),
				 col(st, L_FNAME) ? " " : "",
				 col(st, L_FNAME) ? col(st, L_FNAME) : "");
		target_text(st, target, sizeof(target));
	}
	snprintf(hits, sizeof(hits), "%lld", sqlite3_column_int64(st, L_HITS));
	cli_short_ts(first, sizeof(first), col(st, L_FIRST));
	cli_short_ts(last, sizeof(last), col(st, L_LAST));
	cells[0] = id;
	cells[1] = col(st, L_STATUS);
	cells[2] = col(st, L_SENSOR);
	cells[3] = src;
	cells[4] = mac ? "" : "->";
	cells[5] = dst;
	cells[6] = mac ? "mac" : cli_dash(col(st, L_PROTO));
	cells[7] = mac ? "-" : cli_dash(col(st, L_OP));
	cells[8] = fn;
	cells[9] = cli_dash(target);
	cells[10] = hits;
	cells[11] = first;
	cells[12] = last;
	table_add(t, cells);
}

static int cmd_list(const struct bopts *o)
{
	static const char *const hdr[] = {
		"ID",     "STATUS", "SENSOR", "SOURCE", "",     "DESTINATION",
		"PROTO",  "OP",     "FUNCTION", "TARGET", "HITS",
		"FIRST SEEN (UTC)", "LAST SEEN"};
	sqlite3 *db = cli_open_v4(o->db, false);
	sqlite3_stmt *st = NULL;
	struct table *t = NULL;
	int rc, ret = 0;

	if (!db)
		return 1;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT id, sensor, what, status, src_ip, dest_ip, dest_port,"
		    " proto, op, function, function_name, unit, space, addr,"
		    " count, mac, mac_vendor, src_zone, dest_zone, first_ts,"
		    " last_ts, hits, peak_per_s FROM baseline"
		    " WHERE (:sensor IS NULL OR sensor = :sensor)"
		    " AND (:status IS NULL OR status = :status)"
		    " AND (:what IS NULL OR what = :what) ORDER BY id",
		    -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "mimamori: %s: %s\n", o->db, sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	cli_bind_named(st, ":sensor", o->sensor);
	cli_bind_named(st, ":status", o->status);
	cli_bind_named(st, ":what", o->what);
	if (!o->json)
		t = table_new(13, hdr, "rlllllllllrll");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (t)
			list_row(t, st);
		else
			list_json(st);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "mimamori: reading the baseline: %s\n",
			sqlite3_errmsg(db));
		ret = 1;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (t) {
		if (table_rows(t) == 0)
			printf("no baseline rows%s\n",
			       o->sensor || o->status || o->what
				       ? " match these filters"
				       : " (no sensor has learned yet: "
					 "mimamorid --learn)");
		else
			table_print(t, stdout);
		table_free(t);
	}
	return ret;
}

/* ---------------- approve, prune ---------------- */

static int cmd_change(const struct bopts *o, bool approve)
{
	struct baseline_sel s = {
		.sensor = o->sensor,
		.all = o->all,
		.ids = o->ids,
		.n_ids = o->n_ids,
		.src = o->src,
		.dest = o->dest,
		.status = o->status,
		.before = o->before[0] ? o->before : NULL,
	};
	char err[512];
	sqlite3 *db;
	long n;

	if (approve && (o->all ? 1 : 0) + (o->has_ids ? 1 : 0) +
				   (o->src ? 1 : 0) != 1)
		return uerr("approve: one of --all, --id N... or --src IP "
			    "[--dest IP]");
	if (approve && o->dest && !o->src)
		return uerr("approve: --dest goes with --src");
	if (!approve && (o->before[0] ? 1 : 0) + (o->has_ids ? 1 : 0) +
				    (o->status ? 1 : 0) != 1)
		return uerr("prune: one of --before T, --status S or --id "
			    "N...");
	db = cli_open_v4(o->db, true);
	if (!db)
		return 1;
	n = approve ? baseline_approve(db, &s, err, sizeof(err))
		    : baseline_prune(db, &s, err, sizeof(err));
	sqlite3_close(db);
	if (n < 0) {
		fprintf(stderr, "mimamori: %s: %s\n", o->db, err);
		return 1;
	}
	printf("%s %ld baseline row%s\n", approve ? "approved" : "pruned", n,
	       n == 1 ? "" : "s");
	return 0;
}

int cli_baseline(int argc, char **argv)
{
	struct bopts o;
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") ||
	    !strcmp(sub, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "list")) {
		if ((rc = parse(argc - 1, argv + 1, sub, "dSswjh", &o)))
			return rc;
		return cmd_list(&o);
	}
	if (!strcmp(sub, "approve")) {
		if ((rc = parse(argc - 1, argv + 1, sub, "dSairth", &o)))
			return rc;
		return cmd_change(&o, true);
	}
	if (!strcmp(sub, "prune")) {
		if ((rc = parse(argc - 1, argv + 1, sub, "dSbsih", &o)))
			return rc;
		return cmd_change(&o, false);
	}
	if (!*sub)
		return uerr("a subcommand is needed: list, approve or prune");
	return uerr("unknown subcommand \"%s\" (list, approve, prune)", sub);
}
