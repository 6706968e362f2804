/*
 * store_ingest.c - the alert store's rows of `make bench`.
 *
 *   store_ingest --store BIN/mimamori-store --cli BIN/mimamori --dir DIR
 *                [--alerts N] [--query-rows M] [--rounds R]
 *
 * 1. plain: a plain batched SQLite insert loop, the floor: N alert rows
 *    (made beforehand, values already split into columns, the EVE text as
 *    is) into the store's own alerts table (its schema and indexes),
 *    prepared once, 1000 rows per transaction, WAL + synchronous=NORMAL.
 * 2. store: a real bin/mimamori-store process on tcp://127.0.0.1 and the
 *    sensor's link (mm_link, in this process) sending the same N alerts
 *    as EVE JSON: from the first send to the last acknowledgement, so
 *    every alert counted was parsed, stored (aggregation on, the default
 *    60 s window; the alerts are all distinct so each is a row),
 *    committed and acknowledged.
 * 3. query: a store of M alerts (default 1,000,000) over the last 30 days
 *    in 12 zones, made once with the plain loop (the same rows the store
 *    makes) and kept in DIR; the wall time of the real command
 *    `mimamori alerts --db FILE --zone seigyo_line1 --since 24h` (process
 *    start, open, query, a 200-row table), median of R runs after one to
 *    warm the page cache.
 * Prints one "key value" line per figure; bench.sh reads them.  Exit 1
 * when something failed (not when a target is missed: timing is not a
 * test).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../common/rec.h"
#include "../store/store.h"

#define BATCH 1000

static const char *const zones[12] = {
	"joho", "dmz", "seisan_kanri", "hozen", "seigyo_line1",
	"seigyo_line2", "jido_hanso", "jido_soko", "setsubi", "remote",
	"seigyo_line3", "shiken"};
static const char *const sigs[6] = {
	"zone.no_conduit", "zone.op_not_allowed", "zone.unknown_host",
	"op.program", "op.control", "modbus.exception_response"};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct alert {
	char ts[40];
	char src[20], dst[20];
	int sport, dport, sev;
	const char *sig, *szone, *dzone;
	char json[1400];
	int len;
};

/* alert i of a run: an EVE record shaped as mimamorid writes them */
static void make_alert(struct alert *a, long i, int64_t t0, int64_t step_us)
{
	int64_t t = t0 + (int64_t)i * step_us;

	mm_format_ts(a->ts, sizeof(a->ts), t / 1000000, t % 1000000);
	snprintf(a->src, sizeof(a->src), "10.%ld.%ld.%ld", i % 7, i / 7 % 250,
		 1 + i % 200);
	snprintf(a->dst, sizeof(a->dst), "10.10.%ld.%ld", i % 5, 10 + i % 50);
	a->sport = 49152 + (int)(i % 16000);
	a->dport = 1 + (int)(i % 60000);
	a->sev = 1 + (int)(i % 4);
	a->sig = sigs[i % 6];
	a->szone = zones[i % 12];
	a->dzone = zones[(i * 7 + 3) % 12];
	a->len = snprintf(
		a->json, sizeof(a->json),
		"{\"timestamp\":\"%s\",\"flow_id\":%ld,\"event_type\":\"alert\","
		"\"src_ip\":\"%s\",\"src_port\":%d,\"dest_ip\":\"%s\","
		"\"dest_port\":%d,\"proto\":\"TCP\",\"app_proto\":\"modbus\","
		"\"sensor\":\"bench\",\"frame\":%ld,\"src_zone\":\"%s\","
		"\"dest_zone\":\"%s\",\"alert\":{\"action\":\"allowed\","
		"\"gid\":1,\"signature_id\":2100002,\"rev\":1,"
		"\"signature\":\"%s\",\"category\":\"Policy Violation\","
		"\"severity\":%d,\"cause\":\"a conduit connects the zones, but "
		"not for this protocol or operation class (e.g. a write where "
		"only reads are allowed)\",\"metadata\":{\"op\":[\"write\"],"
		"\"mitre_attack\":[\"T0855\",\"T0836\"]}},\"zones\":{\"src\":"
		"{\"id\":\"%s\",\"name\":\"生産管理・監視\",\"archetype\":"
		"\"seisan_kanri\",\"strength\":\"medium\"},\"dest\":{\"id\":"
		"\"%s\",\"name\":\"制御系 ライン2\",\"archetype\":\"seigyo\","
		"\"strength\":\"high\"}},\"modbus\":{\"function\":16,"
		"\"function_name\":\"write_multiple_registers\",\"op\":"
		"\"write\",\"target\":\"unit 1 hr 200-203\"}}",
		a->ts, 1000 + i, a->src, a->sport, a->dst, a->dport, i + 1,
		a->szone, a->dzone, a->sig, a->sev, a->szone, a->dzone);
}

/* ---------------- plain loop ---------------- */

/* pre: the alerts already made (the timed runs), or NULL (made here) */
static int plain_insert(const char *path, long n, int64_t t0, int64_t step,
			const struct alert *pre, double *secs)
{
	struct store_db_opts o = {.no_check = true};
	char err[512];
	struct store_db *d = store_db_open(path, &o, err, sizeof(err));
	sqlite3 *db;
	sqlite3_stmt *st;
	struct alert a;
	char now[40];
	double t;

	if (!d) {
		fprintf(stderr, "store_ingest: %s\n", err);
		return -1;
	}
	store_db_close(d); /* the schema is there; from here, plain SQLite */
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
		     NULL, NULL, NULL);
	if (sqlite3_prepare_v3(
		    db,
		    "INSERT INTO alerts(ts, first_ts, last_ts, count, sensor,"
		    " seq, signature, signature_id, category, severity,"
		    " app_proto, proto, src_ip, src_port, dest_ip, dest_port,"
		    " src_zone, dest_zone, received, eve) VALUES(?1, ?1, ?1, 1,"
		    " 'bench', ?2, ?3, 2100002, 'Policy Violation', ?4,"
		    " 'modbus', 'TCP', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
		    -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "store_ingest: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		mm_format_ts(now, sizeof(now), ts.tv_sec, ts.tv_nsec / 1000);
	}
	t = now_s();
	for (long i = 0; i < n; i++) {
		const struct alert *ap = &a;
		if (i % BATCH == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		if (pre)
			ap = &pre[i];
		else
			make_alert(&a, i, t0, step);
		sqlite3_bind_text(st, 1, ap->ts, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, i + 1);
		sqlite3_bind_text(st, 3, ap->sig, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, ap->sev);
		sqlite3_bind_text(st, 5, ap->src, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, ap->sport);
		sqlite3_bind_text(st, 7, ap->dst, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 8, ap->dport);
		sqlite3_bind_text(st, 9, ap->szone, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 10, ap->dzone, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, now, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 12, ap->json, ap->len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "store_ingest: insert: %s\n",
				sqlite3_errmsg(db));
			sqlite3_finalize(st);
			sqlite3_close(db);
			return -1;
		}
		sqlite3_reset(st);
		if (i % BATCH == BATCH - 1 || i == n - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	*secs = now_s() - t;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

/* ---------------- the store process ---------------- */

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		if (null >= 0)
			dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* wait (at most ~10 s) until the log says the store listens */
static int wait_listening(const char *log, pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		char buf[4096] = "";
		FILE *f = fopen(log, "r");
		int st;
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
			if (strstr(buf, "listening on"))
				return 0;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(50000);
	}
	return -1;
}

static int store_ingest(const char *bin, const char *dir, long n,
			int64_t t0, int64_t step, double *secs, char *stats,
			size_t statslen)
{
	char db[4200], log[4200], ep[64];
	char *argv[8];
	struct mm_link_opts lo = {.sensor = "bench",
				  .spool_max = (size_t)n + 16,
				  .resend_ms = 2000,
				  .beat_ms = -1};
	struct mm_link *l;
	struct mm_link_stats st;
	struct alert a;
	char err[512];
	double t;
	pid_t pid;
	int port = free_port(), status, rc = 0;
	uint64_t left;

	snprintf(db, sizeof(db), "%s/store.db", dir);
	snprintf(log, sizeof(log), "%s/store.log", dir);
	unlink(db);
	unlink(log); /* an old log must not say "listening" */
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
	argv[0] = (char *)bin;
	argv[1] = "--listen";
	argv[2] = ep;
	argv[3] = "--db";
	argv[4] = db;
	argv[5] = NULL;
	pid = spawn(argv, log);
	if (pid < 0 || wait_listening(log, pid)) {
		fprintf(stderr, "store_ingest: %s did not start (see %s)\n", bin,
			log);
		if (pid > 0)
			kill(pid, SIGKILL);
		return -1;
	}
	lo.endpoint = ep;
	l = mm_link_new(NULL, &lo, err, sizeof(err));
	if (!l) {
		fprintf(stderr, "store_ingest: %s\n", err);
		kill(pid, SIGKILL);
		return -1;
	}
	t = now_s();
	for (long i = 0; i < n; i++) {
		make_alert(&a, i, t0, step);
		/* the link's inbox is bounded: as a sensor would, never wait
		 * on the store, but do not outrun the inbox either */
		if (mm_link_send(l, "alert", a.json, (size_t)a.len) < 0) {
			fprintf(stderr, "store_ingest: link refused a record\n");
			rc = -1;
			break;
		}
		if (i % 50000 == 49999) {
			double dl = now_s() + 60;
			while (mm_link_flush(l, 0) > 40000 && now_s() < dl)
				usleep(1000);
		}
	}
	left = mm_link_flush(l, 120000);
	*secs = now_s() - t;
	mm_link_stats(l, &st);
	snprintf(stats, statslen,
		 "queued %llu sent %llu resent %llu acked %llu dropped %llu "
		 "left %llu",
		 (unsigned long long)st.queued, (unsigned long long)st.sent,
		 (unsigned long long)st.resent, (unsigned long long)st.acked,
		 (unsigned long long)st.dropped, (unsigned long long)left);
	mm_link_free(l);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (left || st.acked != (uint64_t)n)
		rc = -1;
	return rc;
}

/* ---------------- query ---------------- */

static double run_cli(char *const argv[])
{
	double t = now_s();
	pid_t pid = spawn(argv, "/dev/null");
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return now_s() - t;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"cli", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},
		{"alerts", required_argument, NULL, 'n'},
		{"query-rows", required_argument, NULL, 'q'},
		{"rounds", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *store = "bin/mimamori-store", *cli = "bin/mimamori",
		   *dir = NULL;
	long n = 200000, qrows = 1000000;
	int rounds = 7, c, rc = 0;
	char path[4200], stats[256];
	double plain_s = 0, store_s = 0;
	struct timespec now;
	int64_t t_now;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'c': cli = optarg; break;
		case 'd': dir = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'q': qrows = atol(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: store_ingest --dir DIR [--store "
					"BIN] [--cli BIN] [--alerts N] "
					"[--query-rows M] [--rounds R]\n");
			return 2;
		}
	}
	if (!dir || n < 1 || rounds < 1) {
		fprintf(stderr, "store_ingest: --dir DIR is required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_REALTIME, &now);
	t_now = (int64_t)now.tv_sec * 1000000;

	/* 1 and 2: the same alerts, 1 ms apart, a day ago; for the plain
	 * loop made beforehand, so it times SQLite alone */
	snprintf(path, sizeof(path), "%s/plain.db", dir);
	unlink(path);
	{
		struct alert *pre = malloc((size_t)n * sizeof(*pre));
		if (!pre) {
			fprintf(stderr, "store_ingest: no memory for %ld "
					"alerts\n", n);
			return 1;
		}
		for (long i = 0; i < n; i++)
			make_alert(&pre[i], i, t_now - 86400LL * 1000000, 1000);
		rc = plain_insert(path, n, 0, 0, pre, &plain_s);
		free(pre);
		if (rc) {
			fprintf(stderr, "store_ingest: the plain loop failed\n");
			return 1;
		}
	}
	printf("plain_alerts %ld\nplain_seconds %.3f\nplain_rate %.0f\n", n,
	       plain_s, n / plain_s);
	fflush(stdout);
	if (store_ingest(store, dir, n, t_now - 86400LL * 1000000, 1000,
			 &store_s, stats, sizeof(stats))) {
		fprintf(stderr, "store_ingest: the store run failed: %s\n",
			stats);
		rc = 1;
	} else {
		printf("store_alerts %ld\nstore_seconds %.3f\nstore_rate %.0f\n"
		       "store_ratio %.2f\nstore_link %s\n",
		       n, store_s, n / store_s, plain_s / store_s, stats);
	}
	fflush(stdout);

	/* 3: one million alerts over 30 days, made once and kept */
	if (qrows > 0) {
		char qdb[4200], stamp[4300], want[64], have[64] = "";
		FILE *f;
		double *t = calloc((size_t)rounds, sizeof(*t));
		char *av[] = {(char *)cli, "alerts", "--db", qdb, "--zone",
			      "seigyo_line1", "--since", "24h", NULL};
		snprintf(qdb, sizeof(qdb), "%s/query-%ld.db", dir, qrows);
		snprintf(stamp, sizeof(stamp), "%s.day", qdb);
		/* the rows are laid out relative to the day they were made:
		 * a store made on another day is made again */
		snprintf(want, sizeof(want), "%lld",
			 (long long)(now.tv_sec / 86400));
		if ((f = fopen(stamp, "r"))) {
			if (!fgets(have, sizeof(have), f))
				have[0] = '\0';
			fclose(f);
		}
		if (strcmp(have, want)) {
			double s;
			unlink(qdb);
			fprintf(stderr, "store_ingest: making %s (%ld alerts over "
					"30 days)\n", qdb, qrows);
			if (plain_insert(qdb, qrows,
					 t_now - 30LL * 86400 * 1000000,
					 30LL * 86400 * 1000000 / qrows, NULL,
					 &s)) {
				free(t);
				return 1;
			}
			if ((f = fopen(stamp, "w"))) {
				fputs(want, f);
				fclose(f);
			}
		}
		if (!t || run_cli(av) < 0) {
			fprintf(stderr, "store_ingest: %s alerts failed\n", cli);
			free(t);
			return 1;
		}
		for (int i = 0; i < rounds; i++)
			t[i] = run_cli(av);
		qsort(t, (size_t)rounds, sizeof(*t), cmp_d);
		printf("query_rows %ld\nquery_command %s alerts --db %s --zone "
		       "seigyo_line1 --since 24h\nquery_ms_median %.1f\n"
		       "query_ms_max %.1f\n",
		       qrows, cli, qdb, t[rounds / 2] * 1000,
		       t[rounds - 1] * 1000);
		free(t);
	}
	return rc;
}
