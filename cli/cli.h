/*
 * cli.h - what the command line's files share: the helpers of mimamori.c
 * and the commands that live in files of their own.
 */
#ifndef MM_CLI_H
#define MM_CLI_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_EXIT_USAGE 2

/* "24h" (before now) or an ISO date/time, as the store writes it; 0/-1 */
int cli_parse_time(const char *s, char *out, size_t len);
/* the store, read-only, checked to be one (a message and NULL if not) */
sqlite3 *cli_open_store(const char *path);
/* "2015-10-22T10:00:01.123456Z" -> "2015-10-22 10:00:01" */
void cli_short_ts(char *out, size_t len, const char *ts);

/*
 * The store with the baseline (schema 4 or later): read-only, or
 * read-write with a busy timeout (never created).  NULL and a message.
 */
sqlite3 *cli_open_v4(const char *path, bool write);

/* mimamori baseline list|approve|prune (baseline.c); argv[0] "baseline" */
int cli_baseline(int argc, char **argv);
/* mimamori zones matrix (matrix.c); argv[0] "matrix" */
int cli_matrix(int argc, char **argv);

#endif /* MM_CLI_H */
