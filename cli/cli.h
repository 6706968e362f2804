/*
 * cli.h - what the command line's files share: the helpers of mimamori.c
 * and the commands that live in files of their own.
 */
#ifndef MM_CLI_H
#define MM_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_EXIT_USAGE 2

/*
 * "PROG: message" and "(see 'PROG --help')" on stderr; CLI_EXIT_USAGE.
 * prog: "mimamori", "mimamori baseline"...
 */
int cli_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The next option of argv: getopt_long over lo, whose only short option
 * is -h (set optind = 1 before the first call).  The option's val, -1
 * after the last option, 'h' once usage(stdout) is printed for -h or
 * --help, or '?' once a usage error is printed: a value missing, an
 * unknown option, or (allowed not NULL) an option whose val is not in
 * allowed ("--X does not apply to 'cmd'").
 */
int cli_getopt(int argc, char **argv, const struct option *lo,
	       const char *prog, const char *cmd, const char *allowed,
	       void (*usage)(FILE *));

/*
 * arg, when it is one of names (NULL-terminated), into *out; otherwise a
 * usage error printed ("--what is op, service or mac, not \"x\"") and
 * CLI_EXIT_USAGE.
 */
int cli_choice(const char *prog, const char *opt, const char *arg,
	       const char *const *names, const char **out);

/*
 * The time of option opt ("--since"): "24h" (before now) or an ISO
 * date/time, as the store writes it, into out.  0, or a usage error
 * printed and CLI_EXIT_USAGE.
 */
int cli_time_opt(const char *prog, const char *opt, const char *arg,
		 char *out, size_t len);

/* "2015-10-22T10:00:01.123456Z" -> "2015-10-22 10:00:01" */
void cli_short_ts(char *out, size_t len, const char *ts);

/* s, or "-" when it is NULL or empty (a table's cell) */
const char *cli_dash(const char *s);

/* v bound to the statement's parameter name (":sensor"), if it has one;
 * NULL leaves it NULL */
void cli_bind_named(sqlite3_stmt *st, const char *name, const char *v);

/* j as one compact JSON line on stdout (nothing if NULL), then freed */
void cli_print_json(json_t *j);

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
