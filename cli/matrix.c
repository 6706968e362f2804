/*
 * matrix.c - mimamori zones matrix: for every pair of zones, what flowed
 * between them (protocol, operation class, operations, distinct keys) and
 * what the zone policy said of it: the picture the guideline's Steps
 * 1-6/1-7 ask a plant to draw, drawn from the wire (the sensors' "obs"
 * records, kept per hour in the store's obs_matrix).
 *
 *   mimamori zones matrix [--db F] [--since T] [--sensor S] [--json]
 *                         [--zones FILE]
 *
 * With --zones, also what the conduits of that file allow for each pair,
 * and the conduits that carried nothing in the period.  Read-only.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../zones/zones.h"
#include "cli.h"
#include "table.h"

/* the verdicts a sensor gives, in obs_matrix.verdict */
enum { V_ALLOWED, V_NO_CONDUIT, V_OP_NOT_ALLOWED, V_UNKNOWN_HOST, V__N };
static const char *const vnames[V__N] = {"allowed", "no_conduit",
					 "op_not_allowed", "unknown_host"};

struct mrow {
	char *src, *dst;      /* NULL: in no zone */
	char *proto, *op;
	long long n, keys, v[V__N];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mimamori zones matrix [--db FILE] [--since T] "
		"[--sensor S] [--json]\n"
		"                             [--zones FILE]\n"
		"\n"
		"For every pair of zones seen: per protocol and operation class,\n"
		"the operations observed and the distinct keys (client, server,\n"
		"function, target), marked allowed or VIOLATION from the zone\n"
		"policy's verdicts.  Counted from the sensors' observations\n"
		"(mimamorid with a baseline: mode, learning or detecting).\n"
		"\n"
		"  --since T     24h, 7d, 2015-10-22, 2015-10-22T10:00:00 (UTC):\n"
		"                rounded down to the hour (counted per hour)\n"
		"  --sensor S    only this sensor's observations\n"
		"  --zones FILE  a zone file: what its conduits allow for each\n"
		"                pair, and the conduits with no traffic\n"
		"  --json        JSON lines instead of a table\n"
		"  --db FILE     the store (default: $MIMAMORI_DB)\n");
}

#define PROG "mimamori zones matrix"
#define uerr(...) cli_usage_error(PROG, __VA_ARGS__)

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static const char *zname(const char *z)
{
	return z ? z : "-";
}

/* the rows of the period, one per (src, dst, proto, op) */
static int read_rows(sqlite3 *db, const char *hour, const char *sensor,
		     struct mrow **out, size_t *n_out)
{
	sqlite3_stmt *st;
	struct mrow *r = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (sqlite3_prepare_v2(
		    db,
		    "SELECT src_zone, dest_zone, proto, op, sum(n), sum(keys),"
		    " sum(CASE verdict WHEN 'allowed' THEN n END),"
		    " sum(CASE verdict WHEN 'no_conduit' THEN n END),"
		    " sum(CASE verdict WHEN 'op_not_allowed' THEN n END),"
		    " sum(CASE verdict WHEN 'unknown_host' THEN n END)"
		    " FROM obs_matrix WHERE (:hour IS NULL OR hour >= :hour)"
		    " AND (:sensor IS NULL OR sensor = :sensor)"
		    " GROUP BY 1, 2, 3, 4"
		    /* zones first, "in no zone" ('') last */
		    " ORDER BY src_zone = '', 1, dest_zone = '', 2, 3, 4",
		    -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "mimamori: reading the zone matrix: %s\n",
			sqlite3_errmsg(db));
		return -1;
	}
	cli_bind_named(st, ":hour", hour);
	cli_bind_named(st, ":sensor", sensor);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct mrow *nr = realloc(r, nc * sizeof(*nr));
			if (!nr)
				break;
			r = nr;
			cap = nc;
		}
		memset(&r[n], 0, sizeof(r[n]));
		r[n].src = dup_or_null((const char *)sqlite3_column_text(st, 0));
		r[n].dst = dup_or_null((const char *)sqlite3_column_text(st, 1));
		r[n].proto = strdup((const char *)sqlite3_column_text(st, 2));
		r[n].op = strdup((const char *)sqlite3_column_text(st, 3));
		r[n].n = sqlite3_column_int64(st, 4);
		r[n].keys = sqlite3_column_int64(st, 5);
		for (int v = 0; v < V__N; v++)
			r[n].v[v] = sqlite3_column_int64(st, 6 + v);
		n++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		fprintf(stderr, "mimamori: reading the zone matrix: %s\n",
			sqlite3_errmsg(db));
	sqlite3_finalize(st);
	*out = r;
	*n_out = n;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* "VIOLATION (no_conduit)", "allowed", "unknown host" */
static const char *status_of(const struct mrow *r, char *buf, size_t len,
			     const char **key)
{
	bool nc = r->v[V_NO_CONDUIT] > 0, ona = r->v[V_OP_NOT_ALLOWED] > 0;

	if (nc || ona) {
		*key = "violation";
		snprintf(buf, len, "VIOLATION (%s%s%s)", nc ? "no conduit" : "",
			 nc && ona ? ", " : "", ona ? "op not allowed" : "");
	} else if (r->v[V_UNKNOWN_HOST] > 0 && r->v[V_ALLOWED] == 0) {
		*key = "unknown_host";
		snprintf(buf, len, "unknown host");
	} else {
		*key = "allowed";
		snprintf(buf, len, "allowed");
	}
	return buf;
}

/* what the zone file's conduits allow from src to dst, for people */
static const char *conduit_of(const struct zone_model *zm, const char *src,
			      const char *dst, char *buf, size_t len)
{
	const struct zone *s = src ? zone_by_id(zm, src) : NULL;
	const struct zone *d = dst ? zone_by_id(zm, dst) : NULL;

	if (!s || !d) {
		snprintf(buf, len, "(a side not in the zone file)");
		return buf;
	}
	if (s == d && !zone_intra_policy(zm, s)) {
		snprintf(buf, len, "(inside one zone)");
		return buf;
	}
	if (!policy_describe(zm, s, d, buf, len))
		snprintf(buf, len, "no conduit");
	return buf;
}

static bool seen_pair(const struct mrow *r, size_t n, const char *src,
		      const char *dst)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].src && r[i].dst && !strcmp(r[i].src, src) &&
		    !strcmp(r[i].dst, dst))
			return true;
	return false;
}

static void show(const struct mrow *r, size_t n, const struct zone_model *zm,
		 bool json)
{
	static const char *const hdr[] = {"FROM ZONE", "", "TO ZONE", "PROTO",
					  "OP", "OPERATIONS", "KEYS",
					  "POLICY", "CONDUIT ALLOWS"};
	struct table *t = json ? NULL
			       : table_new(zm ? 9 : 8, hdr, "lllllrrll");

	for (size_t i = 0; i < n; i++) {
		char st[64], cd[512] = "", nn[24], nk[24];
		const char *key, *cells[9];
		status_of(&r[i], st, sizeof(st), &key);
		if (zm)
			conduit_of(zm, r[i].src, r[i].dst, cd, sizeof(cd));
		if (json) {
			json_t *v = json_object();
			for (int k = 0; v && k < V__N; k++)
				if (r[i].v[k])
					json_object_set_new(
						v, vnames[k],
						json_integer(r[i].v[k]));
			json_t *j = json_pack(
				"{s:s?, s:s?, s:s, s:s, s:I, s:I, s:o, s:s}",
				"src_zone", r[i].src, "dest_zone", r[i].dst,
				"proto", r[i].proto, "op", r[i].op,
				"operations", (json_int_t)r[i].n, "keys",
				(json_int_t)r[i].keys, "verdicts", v, "status",
				key);
			if (j && zm)
				json_object_set_new(j, "conduit",
						    json_string(cd));
			cli_print_json(j);
			continue;
		}
		snprintf(nn, sizeof(nn), "%lld", r[i].n);
		snprintf(nk, sizeof(nk), "%lld", r[i].keys);
		cells[0] = zname(r[i].src);
		cells[1] = "->";
		cells[2] = zname(r[i].dst);
		cells[3] = r[i].proto;
		cells[4] = r[i].op;
		cells[5] = nn;
		cells[6] = nk;
		cells[7] = st;
		cells[8] = cd;
		table_add(t, cells);
	}
	if (t) {
		if (table_rows(t) == 0)
			printf("  (no observations in this period: sensors "
			       "report them with a baseline mode set)\n");
		else
			table_print(t, stdout);
		table_free(t);
	}
	if (!zm)
		return;
	/* conduits that carried nothing: allowed, never used */
	if (!json)
		printf("\nConduits with no traffic in this period:\n");
	int unused = 0;
	for (size_t a = 0; a < zone_model_count(zm); a++) {
		for (size_t b = 0; b < zone_model_count(zm); b++) {
			const struct zone *s = zone_model_get(zm, a);
			const struct zone *d = zone_model_get(zm, b);
			char cd[512];
			if ((s == d && !zone_intra_policy(zm, s)) ||
			    !policy_describe(zm, s, d, cd, sizeof(cd)) ||
			    seen_pair(r, n, s->id, d->id))
				continue;
			unused++;
			if (json)
				cli_print_json(json_pack(
					"{s:s, s:s, s:s, s:i, s:s}", "src_zone",
					s->id, "dest_zone", d->id, "conduit", cd,
					"operations", 0, "status",
					"no_traffic"));
			else
				printf("  %s -> %s: %s\n", s->id, d->id, cd);
		}
	}
	if (!json && !unused)
		printf("  (none: every conduit carried traffic)\n");
}

int cli_matrix(int argc, char **argv)
{
	static const struct option lo[] = {
		{"db", required_argument, NULL, 'd'},
		{"since", required_argument, NULL, 't'},
		{"sensor", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"zones", required_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dbp = getenv("MIMAMORI_DB"), *sensor = NULL, *zf = NULL;
	char since[40] = "", hour[16] = "", err[512];
	bool json = false;
	struct zone_model *zm = NULL;
	struct mrow *r = NULL;
	size_t n = 0;
	sqlite3 *db;
	int c, rc;

	optind = 1;
	while ((c = cli_getopt(argc, argv, lo, PROG, NULL, NULL, usage)) !=
	       -1) {
		switch (c) {
		case 'h': return 0;
		case '?': return CLI_EXIT_USAGE;
		case 'd': dbp = optarg; break;
		case 'S': sensor = optarg; break;
		case 'j': json = true; break;
		case 'z': zf = optarg; break;
		case 't':
			if ((rc = cli_time_opt(PROG, "--since", optarg, since,
					       sizeof(since))))
				return rc;
			/* the matrix counts per hour: from its start */
			snprintf(hour, sizeof(hour), "%.13s", since);
			break;
		}
	}
	if (optind < argc)
		return uerr("unexpected argument \"%s\"", argv[optind]);
	if (!dbp)
		return uerr("--db FILE is required (or $MIMAMORI_DB)");
	if (zf && !(zm = zone_model_load(zf, err, sizeof(err)))) {
		fprintf(stderr, "mimamori: %s\n", err);
		return 1;
	}
	db = cli_open_v4(dbp, false);
	if (!db) {
		zone_model_free(zm);
		return 1;
	}
	rc = read_rows(db, hour[0] ? hour : NULL, sensor, &r, &n) ? 1 : 0;
	sqlite3_close(db);
	if (!json)
		printf("Zone matrix%s%s%s%s\n\n", hour[0] ? " since " : "",
		       hour, hour[0] ? ":00 (UTC)" : "",
		       sensor ? ", one sensor" : "");
	show(r, n, zm, json);
	if (!json)
		printf("\nOPERATIONS: requests (services: connection "
		       "attempts) observed.  KEYS: distinct\n(client, server, "
		       "function, target) first reported in the period.  "
		       "POLICY: what\nthe zone policy said of them (VIOLATION: "
		       "some were not allowed).  -: in no zone.\n");
	for (size_t i = 0; i < n; i++) {
		free(r[i].src);
		free(r[i].dst);
		free(r[i].proto);
		free(r[i].op);
	}
	free(r);
	zone_model_free(zm);
	return rc;
}
