/*
 * baseline.h - the store's learned baseline (baseline.c), as db.c uses it.
 * Not for other modules: the CLI and tests use what store.h declares.
 */
#ifndef MM_BASELINE_H
#define MM_BASELINE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * Schema version 4's tables (db.c creates them, and adds them to a
 * version-3 store).
 *
 * baseline: one row per distinct observation per sensor.  `key` is the
 * observation's identity as one text with no NULL in it (SQLite's UNIQUE
 * treats NULLs as distinct, so a UNIQUE over the nullable columns would
 * let the same observation in twice).  function, unit and space keep
 * the JSON's type (integer or text): no declared type, no conversion.
 * A MAC row keeps its address in src_ip, so a talker's --src selects it.
 *
 * obs_matrix: operations per (sensor, hour of packet time, zone pair,
 * protocol, op class, verdict); '' stands for "in no zone" (a primary
 * key column cannot be NULL in a WITHOUT ROWID table).
 */
#define BASELINE_SCHEMA                                                       \
	"CREATE TABLE IF NOT EXISTS baseline("                                \
	" id INTEGER PRIMARY KEY,"                                            \
	" sensor TEXT NOT NULL, what TEXT NOT NULL, key TEXT NOT NULL,"       \
	" src_ip TEXT, dest_ip TEXT, dest_port INTEGER, proto TEXT, op TEXT," \
	" function, function_name TEXT, unit, space, addr INTEGER,"           \
	" count INTEGER, mac TEXT, mac_vendor TEXT,"                          \
	" src_zone TEXT, dest_zone TEXT,"                                     \
	" status TEXT NOT NULL," /* learned, new, approved */                 \
	" first_ts TEXT NOT NULL, last_ts TEXT NOT NULL,"                     \
	" hits INTEGER NOT NULL DEFAULT 0,"                                   \
	" peak_per_s REAL," /* learned peak of writes per second */           \
	" UNIQUE(sensor, key));"                                              \
	/* talker, talker + function, range cover, learned peak */            \
	"CREATE INDEX IF NOT EXISTS baseline_talker ON baseline"              \
	"(sensor, src_ip, dest_ip, proto, function);"                         \
	/* "has this sensor learned anything", list --status */               \
	"CREATE INDEX IF NOT EXISTS baseline_status ON baseline"              \
	"(sensor, status);"                                                   \
	"CREATE INDEX IF NOT EXISTS baseline_mac ON baseline(sensor, mac)"    \
	" WHERE mac IS NOT NULL;"                                             \
	"CREATE TABLE IF NOT EXISTS obs_matrix("                              \
	" sensor TEXT NOT NULL, hour TEXT NOT NULL,"                          \
	" src_zone TEXT NOT NULL, dest_zone TEXT NOT NULL,"                   \
	" proto TEXT NOT NULL, op TEXT NOT NULL, verdict TEXT NOT NULL,"      \
	" n INTEGER NOT NULL DEFAULT 0, keys INTEGER NOT NULL DEFAULT 0,"     \
	" PRIMARY KEY(sensor, hour, src_zone, dest_zone, proto, op,"          \
	" verdict)) WITHOUT ROWID;"                                           \
	/* zones matrix --since without --sensor */                           \
	"CREATE INDEX IF NOT EXISTS obs_matrix_hour ON obs_matrix(hour);"

/* one checked observation record; NULL and a message when malformed */
struct baseline_obs;
struct baseline_obs *baseline_obs_parse(const char *json, size_t len,
					char *err, size_t errlen);
void baseline_obs_free(struct baseline_obs *o);
/* its packet time */
void baseline_obs_time(const struct baseline_obs *o, int64_t *sec,
		       int64_t *usec);

/*
 * Store an alert the baseline made (EVE JSON) the way a sensor's alert
 * is stored: aggregated, and handed to on_new_alert.  0 or -1.
 */
typedef int baseline_alert_fn(void *arg, const char *sensor, const char *json,
			      size_t len, char *err, size_t errlen);

struct baseline;
/* prepared statements on the store's connection (schema 4 in place) */
struct baseline *baseline_open(sqlite3 *db, double flood_factor,
			       double flood_floor, char *err, size_t errlen);
void baseline_close(struct baseline *b);
/*
 * One observation, inside the store's open transaction.  1, or -1 on a
 * database error (message in err): the transaction is spoilt.
 */
int baseline_put(struct baseline *b, const char *sensor,
		 const struct baseline_obs *o, baseline_alert_fn *alert,
		 void *arg, char *err, size_t errlen);
void baseline_counts(const struct baseline *b,
		     struct store_baseline_counts *c);

#endif /* MM_BASELINE_H */
