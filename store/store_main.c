/*
 * store_main.c - mimamori-store: the alert store as its own process, for
 * sensors on other machines or in other processes.
 *
 *   mimamori-store --listen ENDPOINT --db FILE [--aggregate SECONDS]
 *                  [--batch N] [--batch-ms MS] [--retain-days D]
 *                  [--retain-mb M] [--silent-after S]
 *                  [--curve-secret FILE --allow DIR_OR_FILE]
 *                  [--publish ENDPOINT] [--syslog TARGET
 *                  [--syslog-format json|cef]]
 *
 * Runs in the foreground until SIGINT or SIGTERM, then commits what it
 * holds and exits 0.  Files it creates are private to its user (umask
 * 077): the database holds the plant's alerts.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

static struct store_server *g_server;

static void on_signal(int sig)
{
	(void)sig;
	if (g_server)
		store_server_request_stop(g_server);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mimamori-store --listen ENDPOINT --db FILE [options]\n"
		"\n"
		"Receive alerts, asset updates and sensor stats from mimamorid\n"
		"sensors over ZeroMQ and keep them in a SQLite database.\n"
		"\n"
		"  -l, --listen ENDPOINT  where sensors connect: tcp://127.0.0.1:7650,\n"
		"                         ipc:///run/mimamori/store.sock; without\n"
		"                         CurveZMQ keys tcp:// only on loopback\n"
		"  -d, --db FILE          SQLite database, created (0600) when missing\n"
		"  -a, --aggregate SECS   repeats of one alert (same sensor, signature,\n"
		"                         source, destination and port) within SECS of\n"
		"                         each other become one row with a count\n"
		"                         (default 60; 0 keeps every alert)\n"
		"  -b, --batch N          records per transaction at most (default 1000)\n"
		"      --batch-ms MS      longest wait before a batch commits (default 50)\n"
		"      --retain-days D    delete alert rows stored more than D days ago\n"
		"      --retain-mb M      keep the database's used pages under M MiB,\n"
		"                         deleting the oldest alert rows (both: in small\n"
		"                         steps between batches, never holding up sensors)\n"
		"      --silent-after S   a sensor not heard from for S seconds becomes a\n"
		"                         sensor.silent alert (default 300; 0: never)\n"
		"      --curve-secret FILE  the store's CurveZMQ secret key (mimamori keygen)\n"
		"      --allow DIR|FILE   the sensors' public keys: a directory of *.pub\n"
		"                         files, or a file of \"KEY [NAME]\" lines; any\n"
		"                         other key is refused and logged\n"
		"      --publish ENDPOINT live alerts on a PUB socket, topics\n"
		"                         alert.<severity>.<protocol> (mimamori tail)\n"
		"      --syslog TARGET    forward new alerts: udp://HOST:PORT,\n"
		"                         tcp://HOST:PORT (RFC 5424) or unix:///dev/log\n"
		"      --syslog-format F  json (the EVE record, default) or cef\n"
		"      --syslog-queue N   messages held for a slow syslog at most\n"
		"                         (default 10000; beyond: counted, dropped)\n"
		"  -h, --help             this text\n");
}

static int parse_num(const char *opt, const char *s, double lo, double hi,
		     double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr,
			"mimamori-store: %s wants a number from %g to %g, not "
			"\"%s\"\n",
			opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, 'd'},
		{"aggregate", required_argument, NULL, 'a'},
		{"batch", required_argument, NULL, 'b'},
		{"batch-ms", required_argument, NULL, 'm'},
		{"retain-days", required_argument, NULL, 'R'},
		{"retain-mb", required_argument, NULL, 'M'},
		{"silent-after", required_argument, NULL, 'S'},
		{"curve-secret", required_argument, NULL, 'k'},
		{"allow", required_argument, NULL, 'A'},
		{"publish", required_argument, NULL, 'p'},
		{"syslog", required_argument, NULL, 'y'},
		{"syslog-format", required_argument, NULL, 'F'},
		{"syslog-queue", required_argument, NULL, 'Q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store_server_opts o = {
		.aggregate_window = 60,
		.batch_max = 1000,
		.batch_ms = 50,
	};
	struct store_server_stats st;
	struct sigaction sa;
	char err[1024];
	double v;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:d:a:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.endpoint = optarg;
			break;
		case 'd':
			o.db_path = optarg;
			break;
		case 'a':
			if (parse_num("--aggregate", optarg, 0, 86400 * 365, &v))
				return 2;
			o.aggregate_window = v;
			break;
		case 'b':
			if (parse_num("--batch", optarg, 1, 1000000, &v))
				return 2;
			o.batch_max = (int)v;
			break;
		case 'm':
			if (parse_num("--batch-ms", optarg, 1, 60000, &v))
				return 2;
			o.batch_ms = (int)v;
			break;
		case 'R':
			if (parse_num("--retain-days", optarg, 0, 36500, &v))
				return 2;
			o.retain_days = v;
			break;
		case 'M':
			if (parse_num("--retain-mb", optarg, 0, 1e9, &v))
				return 2;
			o.retain_mb = v;
			break;
		case 'S':
			if (parse_num("--silent-after", optarg, 0, 86400 * 30, &v))
				return 2;
			o.silent_after = v > 0 ? v : -1;
			break;
		case 'k':
			o.curve_secret = optarg;
			break;
		case 'A':
			o.allow = optarg;
			break;
		case 'p':
			o.publish = optarg;
			break;
		case 'y':
			o.syslog = optarg;
			break;
		case 'F':
			if (!strcmp(optarg, "json"))
				o.syslog_format = STORE_FWD_JSON;
			else if (!strcmp(optarg, "cef"))
				o.syslog_format = STORE_FWD_CEF;
			else {
				fprintf(stderr, "mimamori-store: --syslog-format "
					"is json or cef, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'Q':
			if (parse_num("--syslog-queue", optarg, 1, 1e7, &v))
				return 2;
			o.syslog_queue = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "mimamori-store: %s needs a value\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			fprintf(stderr, "mimamori-store: unknown option %s\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mimamori-store: unexpected argument \"%s\"\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!o.endpoint || !o.db_path) {
		fprintf(stderr, "mimamori-store: %s is required\n",
			!o.endpoint ? "--listen ENDPOINT" : "--db FILE");
		usage(stderr);
		return 2;
	}

	/* the database, its WAL and anything else made here: owner only */
	umask(077);
	g_server = store_server_new(NULL, &o, err, sizeof(err));
	if (!g_server) {
		fprintf(stderr, "mimamori-store: %s\n", err);
		return 1;
	}
	/* no SA_RESTART: a signal interrupts zmq_poll, run() commits and
	 * returns at once */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = store_server_run(g_server);
	store_server_stats(g_server, &st);
	fprintf(stderr,
		"mimamori-store: stopping: %llu stored, %llu duplicates, "
		"%llu bad records, %llu database errors, %llu malformed "
		"messages, %llu transactions\n",
		(unsigned long long)st.stored,
		(unsigned long long)st.duplicates,
		(unsigned long long)st.errors,
		(unsigned long long)st.db_errors,
		(unsigned long long)st.malformed,
		(unsigned long long)st.batches);
	fprintf(stderr,
		"mimamori-store: %llu heartbeats, %llu connections refused, "
		"%llu sensor.silent, %llu rows retired, %llu published "
		"(%llu dropped), %llu to syslog (%llu dropped)\n",
		(unsigned long long)st.beats, (unsigned long long)st.refused,
		(unsigned long long)st.silent, (unsigned long long)st.retained,
		(unsigned long long)st.published,
		(unsigned long long)st.pub_drops,
		(unsigned long long)st.forwarded,
		(unsigned long long)st.fwd_drops);
	store_server_free(g_server);
	g_server = NULL;
	return rc == 0 ? 0 : 1;
}
