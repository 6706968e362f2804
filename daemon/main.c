/*
 * mimamorid - the sensor.
 *
 *   mimamorid -r CAPTURE [--zones FILE] [--db FILE] [--log-dir DIR]
 *   mimamorid -i IFACE [-f BPF] [--store ENDPOINT] ...
 *
 * Setup returns errors with a message; only main() decides to exit.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "../store/store.h"
#include "oui.h"
#include "logw.h"
#include "sensor.h"
#include "store_cfg.h"

struct mm_sensor mm;

#define EMBEDDED_ENDPOINT "inproc://mm-store"
#define INSTALLED_ZONES "/etc/mimamori/zones.yaml"
#define INSTALLED_CONFIG "/etc/mimamori/mimamori.yaml"
#define ZONES_FILE_MAX (1 << 20)

static void usage(FILE *f)
{
	fprintf(f,
"usage: mimamorid (-r CAPTURE | -i IFACE) [options]\n"
"\n"
"  -r FILE              read a capture (pcap or pcapng) as fast as possible, then exit\n"
"  --realtime           with -r: replay at the pace of the capture's time stamps\n"
"                       (for exercises: watch the alerts arrive as it happens)\n"
"  --speed N            with --realtime: N times faster (0.01 to 10000), default 1\n"
"  -i IFACE             capture live (promiscuous) on IFACE ('any' for all)\n"
"  -f FILTER            BPF filter for the capture\n"
"  --zones FILE         zone file (default: " INSTALLED_ZONES ",\n"
"                       else etc/zones.yaml beside the program)\n"
"  --db FILE            embedded alert store (SQLite), default mimamori.db\n"
"  --store ENDPOINT     send to a separate mimamori-store instead (tcp://, ipc://)\n"
"  --spool-dir DIR      keep records the store has not acknowledged on disk too\n"
"                       (0700, one sensor per folder): a restart loses nothing\n"
"  --spool-mb N         unacknowledged records' bytes at most, default 256\n"
"  --curve-secret FILE  this sensor's CurveZMQ secret key (mimamori keygen)\n"
"  --store-public FILE  the store's CurveZMQ public key (both: an encrypted,\n"
"                       authenticated link to a store on the network)\n"
"  --log-dir DIR        write transaction logs DIR/<protocol>.jsonl, DIR/eve.json\n"
"                       and DIR/stats.jsonl\n"
"  --sensor NAME        this sensor's id (default: the host name)\n"
"  --config FILE        settings file (default: " INSTALLED_CONFIG " if present)\n"
"  --buffer-mb N        kernel capture buffer (live), default 64\n"
"  --max-streams N      concurrent TCP streams kept, default 100000\n"
"  --gap-timeout SEC    how long a lost segment may stall a stream, default 5\n"
"  --aggregate SEC      embedded store: repeats within SEC become one row, default 60\n"
"  --retain-days D      embedded store: delete rows stored more than D days ago\n"
"  --retain-mb M        embedded store: keep the database's used size under M MiB\n"
"  --learn              learn what is normal for the whole run: observations\n"
"                       go to the store's baseline as normal (settings file:\n"
"                       baseline.mode, baseline.learn_for)\n"
"  --stats-json         print the exit statistics as one JSON line on stdout\n"
"  --user NAME          started as root: drop to this user once the capture is\n"
"                       open (default mimamori if it exists, else nobody)\n"
"  --group NAME         and this group (default: the user's own)\n"
"  --chroot DIR         and chroot into DIR (--log-dir must be inside it)\n"
"  --no-seccomp         no system call filter after the drop\n"
"  --seccomp-log        filter in log mode: allowed, logged by the kernel\n"
"                       (for finding a call the filter lacks)\n"
"  -q                   quiet: no statistics on stderr at exit\n"
"  -V                   version\n");
}

enum {
	OPT_ZONES = 256, OPT_DB, OPT_STORE, OPT_LOG_DIR, OPT_SENSOR, OPT_CONFIG,
	OPT_BUFFER, OPT_STREAMS, OPT_GAP, OPT_AGGREGATE, OPT_STATS_JSON,
	OPT_USER, OPT_GROUP, OPT_CHROOT, OPT_NO_SECCOMP, OPT_SECCOMP_LOG,
	OPT_REALTIME, OPT_SPEED, OPT_SPOOL_DIR, OPT_SPOOL_MB, OPT_CURVE_SECRET,
	OPT_STORE_PUBLIC, OPT_RETAIN_DAYS, OPT_RETAIN_MB, OPT_LEARN,
};

static const struct option long_opts[] = {
	{ "zones", required_argument, NULL, OPT_ZONES },
	{ "db", required_argument, NULL, OPT_DB },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "log-dir", required_argument, NULL, OPT_LOG_DIR },
	{ "sensor", required_argument, NULL, OPT_SENSOR },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "buffer-mb", required_argument, NULL, OPT_BUFFER },
	{ "max-streams", required_argument, NULL, OPT_STREAMS },
	{ "gap-timeout", required_argument, NULL, OPT_GAP },
	{ "aggregate", required_argument, NULL, OPT_AGGREGATE },
	{ "stats-json", no_argument, NULL, OPT_STATS_JSON },
	{ "user", required_argument, NULL, OPT_USER },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "seccomp-log", no_argument, NULL, OPT_SECCOMP_LOG },
	{ "realtime", no_argument, NULL, OPT_REALTIME },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "spool-dir", required_argument, NULL, OPT_SPOOL_DIR },
	{ "spool-mb", required_argument, NULL, OPT_SPOOL_MB },
	{ "curve-secret", required_argument, NULL, OPT_CURVE_SECRET },
	{ "store-public", required_argument, NULL, OPT_STORE_PUBLIC },
	{ "retain-days", required_argument, NULL, OPT_RETAIN_DAYS },
	{ "retain-mb", required_argument, NULL, OPT_RETAIN_MB },
	{ "learn", no_argument, NULL, OPT_LEARN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_number(const char *opt, const char *s, double min, double max,
			double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < min || v > max) {
		fprintf(stderr, "mimamorid: %s takes a number from %g to %g, not '%s'\n",
			opt, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* apply the command line over `c`; returns -1 on a usage error, 1 on -h/-V */
static int parse_args(int argc, char **argv, struct mm_cfg *c)
{
	int o;
	double v;

	optind = 1;
	while ((o = getopt_long(argc, argv, "r:i:f:qhV", long_opts, NULL)) != -1) {
		switch (o) {
		case 'r': c->pcap_file = optarg; break;
		case 'i': c->iface = optarg; break;
		case 'f': c->bpf = optarg; break;
		case 'q': c->quiet = true; break;
		case OPT_ZONES: c->zones_path = optarg; break;
		case OPT_DB: c->db_path = optarg; break;
		case OPT_STORE: c->store_ep = optarg; break;
		case OPT_LOG_DIR: c->log_dir = optarg; break;
		case OPT_SENSOR: c->sensor = optarg; break;
		case OPT_CONFIG: c->config_path = optarg; break;
		case OPT_STATS_JSON: c->stats_json = true; break;
		case OPT_USER: c->run_user = optarg; break;
		case OPT_GROUP: c->run_group = optarg; break;
		case OPT_CHROOT: c->chroot_dir = optarg; break;
		case OPT_NO_SECCOMP: c->no_seccomp = true; break;
		case OPT_SECCOMP_LOG: c->seccomp_log = true; break;
		case OPT_REALTIME: c->realtime = true; break;
		case OPT_LEARN: c->learn = true; break;
		case OPT_SPEED:
			if (parse_number("--speed", optarg, 0.01, 10000, &v) < 0)
				return -1;
			c->speed = v;
			break;
		case OPT_BUFFER:
			if (parse_number("--buffer-mb", optarg, 1, 4096, &v) < 0)
				return -1;
			c->buffer_mb = (int)v;
			break;
		case OPT_STREAMS:
			if (parse_number("--max-streams", optarg, 64, 1e7, &v) < 0)
				return -1;
			c->max_streams = (int)v;
			break;
		case OPT_GAP:
			if (parse_number("--gap-timeout", optarg, 0, 3600, &v) < 0)
				return -1;
			c->gap_timeout = v;
			break;
		case OPT_AGGREGATE:
			if (parse_number("--aggregate", optarg, 0, 604800, &v) < 0)
				return -1;
			c->aggregate_window = v;
			break;
		case OPT_SPOOL_DIR: mm_store_cfg.spool_dir = optarg; break;
		case OPT_CURVE_SECRET: mm_store_cfg.curve_secret = optarg; break;
		case OPT_STORE_PUBLIC: mm_store_cfg.store_public = optarg; break;
		case OPT_SPOOL_MB:
			if (parse_number("--spool-mb", optarg, 1, 1 << 20, &v) < 0)
				return -1;
			mm_store_cfg.spool_mb = v;
			break;
		case OPT_RETAIN_DAYS:
			if (parse_number("--retain-days", optarg, 0, 36500, &v) < 0)
				return -1;
			mm_store_cfg.retain_days = v;
			break;
		case OPT_RETAIN_MB:
			if (parse_number("--retain-mb", optarg, 0, 1e9, &v) < 0)
				return -1;
			mm_store_cfg.retain_mb = v;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("mimamorid %s\n", MM_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mimamorid: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static bool file_exists(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* the zone file shipped beside the program: BIN/../etc/zones.yaml */
static const char *bundled_zones(void)
{
	static char path[4200];
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	snprintf(path, sizeof(path), "%s/../etc/zones.yaml", exe);
	return file_exists(path) ? path : NULL;
}

static char *read_file(const char *path, size_t max, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!fp)
		return NULL;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(fp);
		return NULL;
	}
	n = fread(buf, 1, max, fp);
	fclose(fp);
	buf[n] = 0;
	*len = n;
	return buf;
}

static void send_hello(void)
{
	struct mm_rec *r = mm.rec_misc;
	size_t ylen = 0, len;
	char *yaml = read_file(mm.cfg.zones_path, ZONES_FILE_MAX, &ylen);
	const char *json;

	rec_begin(r);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_str(r, "site", zone_model_site(mm.zones));
	rec_str(r, "version", MM_VERSION);
	rec_str(r, "zones_file", mm.cfg.zones_path);
	if (yaml)
		rec_strn(r, "zones_yaml", (const uint8_t *)yaml, ylen);
	json = rec_finish(r, &len);
	mm_link_send(mm.link, "hello", json, len);
	free(yaml);
}

static void write_stats(void)
{
	struct mm_rec *r = mm.rec_misc;
	const char *json;
	size_t len;

	rec_begin(r);
	mm_stats_json(r);
	json = rec_finish(r, &len);
	if (mm.link)
		mm_link_send(mm.link, "stats", json, len);
	if (mm.cfg.log_dir) {
		char path[4096];
		FILE *fp;
		snprintf(path, sizeof(path), "%s/stats.jsonl", mm.cfg.log_dir);
		fp = fopen(path, "a");
		if (fp) {
			txlog_write_line(fp, json, len);
			fclose(fp);
		}
	}
}

static int setup(char *err, size_t errlen)
{
	const char *ep = mm.cfg.store_ep;
	struct mm_link_opts lo = { 0 };

	/* the capture first: a sensor started unprivileged with
	 * CAP_NET_RAW (systemd's AmbientCapabilities) gives its
	 * capabilities up before any thread exists */
	if (capture_open(err, errlen) < 0 || priv_caps_drop(err, errlen) < 0)
		return -1;
	mm.zones = zone_model_load(mm.cfg.zones_path, err, errlen);
	if (!mm.zones)
		return -1;
	/* MAC vendors for the asset records; without ieee-data, none.  Read
	 * at the first lookup, but inside a chroot its folder is out of
	 * reach: then now */
	mm.oui = oui_load(OUI_DEFAULT_DIR);
	if (mm.cfg.chroot_dir)
		(void)oui_count(mm.oui);
	mm.rec_log = rec_new();
	mm.rec_alert = rec_new();
	mm.rec_misc = rec_new();
	if (!mm.rec_log || !mm.rec_alert || !mm.rec_misc ||
	    hosts_init(mm.cfg.hosts_max) < 0 ||
	    udp_table_init(mm.cfg.udp_flows_max) < 0 ||
	    tcp_table_init(mm.cfg.max_streams) < 0 ||
	    conduit_init(mm.cfg.hosts_max) < 0 ||
	    observe_init(&mm.cfg.obs) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mm.zctx = zmq_ctx_new();
	if (!mm.zctx) {
		snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
		return -1;
	}
	if (!ep) {
		/* embedded store: the same server code, in a thread, over inproc */
		struct store_server_opts so = {
			.endpoint = EMBEDDED_ENDPOINT,
			.db_path = mm.cfg.db_path,
			.aggregate_window = mm.cfg.aggregate_window,
			.batch_max = 5000,
			.batch_ms = 50,
			.quiet = true,
			.retain_days = mm_store_cfg.retain_days,
			.retain_mb = mm_store_cfg.retain_mb,
			/* its only sensor is this process: never silent */
			.silent_after = -1,
		};
		mm.store = store_server_new(mm.zctx, &so, err, errlen);
		if (!mm.store)
			return -1;
		ep = EMBEDDED_ENDPOINT;
		if (!mm.cfg.quiet)
			fprintf(stderr, "mimamorid: embedded store, database %s\n",
				mm.cfg.db_path);
	}
	lo.endpoint = ep;
	lo.sensor = mm.cfg.sensor;
	lo.spool_max = mm.cfg.spool_max;
	lo.resend_ms = mm.cfg.resend_ms;
	lo.spool_dir = mm_store_cfg.spool_dir;
	lo.spool_bytes = (size_t)(mm_store_cfg.spool_mb * 1048576.0);
	lo.curve_secret = mm_store_cfg.curve_secret;
	lo.store_public = mm_store_cfg.store_public;
	mm.link = mm_link_new(mm.zctx, &lo, err, errlen);
	if (!mm.link)
		return -1;
	send_hello();
	if (mm.cfg.log_dir && txlog_open_dir(mm.cfg.log_dir, err, errlen) < 0)
		return -1;
	/*
	 * Everything that needs privilege is open (the capture, the
	 * database, the logs): drop it (privdrop.c) before the store's
	 * thread starts (glibc's set*id broadcast would interrupt its poll)
	 * and before the first packet; the system call filter comes last,
	 * once every thread runs.
	 */
	if (reload_init(err, errlen) < 0 || priv_drop(err, errlen) < 0)
		return -1;
	if (mm.store && store_server_start_thread(mm.store) < 0)
		return -1;
	if (reasm_init(err, errlen) < 0)
		return -1;
	return priv_filter(err, errlen);
}

static void teardown(void)
{
	if (mm.link)
		mm_link_free(mm.link);
	if (mm.store) {
		store_server_stop(mm.store);
		store_server_free(mm.store);
	}
	if (mm.zctx)
		zmq_ctx_term(mm.zctx);
	txlog_close();
	logw_stop(mm.cfg.flush_timeout_ms);
	reload_free();
	hosts_free();
	observe_free();
	oui_free(mm.oui);
	conduit_free();
	tcp_table_free();
	zone_model_free(mm.zones);
	rec_free(mm.rec_log);
	rec_free(mm.rec_alert);
	rec_free(mm.rec_misc);
}

int main(int argc, char **argv)
{
	char err[1024] = "";
	struct mm_cfg cli;
	sigset_t sigs;
	int rc, status = 0;
	uint64_t left = 0;

	mm_cfg_defaults(&mm.cfg);
	mm_store_cfg_defaults(&mm_store_cfg);
	/* first pass: only to find --config; the command line wins later */
	mm_cfg_defaults(&cli);
	opterr = 1;
	rc = parse_args(argc, argv, &cli);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (cli.config_path || file_exists(INSTALLED_CONFIG)) {
		const char *cp = cli.config_path ? cli.config_path : INSTALLED_CONFIG;
		if (mm_cfg_load(&mm.cfg, cp, err, sizeof(err)) < 0) {
			fprintf(stderr, "mimamorid: %s\n", err);
			return 1;
		}
	}
	opterr = 0;
	if (parse_args(argc, argv, &mm.cfg) != 0)
		return 2;
	/* --learn: the whole run, whatever the settings file says */
	if (mm.cfg.learn) {
		mm.cfg.obs.mode = MM_OBS_LEARN;
		mm.cfg.obs.learn_for = 0;
	}
	if (!!mm.cfg.iface == !!mm.cfg.pcap_file) {
		fprintf(stderr, "mimamorid: give exactly one of -r CAPTURE or -i IFACE\n");
		usage(stderr);
		return 2;
	}
	/* pacing is for replays: a live capture's packets are never held */
	if ((mm.cfg.realtime || mm.cfg.speed > 0) && !mm.cfg.pcap_file) {
		fprintf(stderr, "mimamorid: --realtime and --speed go with -r CAPTURE\n");
		return 2;
	}
	if (mm.cfg.speed > 0 && !mm.cfg.realtime) {
		fprintf(stderr, "mimamorid: --speed needs --realtime\n");
		return 2;
	}
	if (!mm.cfg.zones_path)
		mm.cfg.zones_path = file_exists(INSTALLED_ZONES) ? INSTALLED_ZONES
								  : bundled_zones();
	if (!mm.cfg.zones_path) {
		fprintf(stderr, "mimamorid: no zone file: give --zones FILE "
			"(or install one as " INSTALLED_ZONES ")\n");
		return 1;
	}
	for (int i = 0; mm_dissectors[i]; i++)
		mm.n_dissectors = i + 1;

	/* who to become: resolved while /etc/passwd is reachable */
	if (priv_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "mimamorid: %s\n", err);
		return 1;
	}
	/* the threads setup() starts (store, link, ZeroMQ's) inherit a mask
	 * without these, so SIGHUP, SIGUSR1 and SIGTERM reach the capture
	 * loop and never interrupt the store's poll */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	rc = setup(err, sizeof(err));
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	if (rc < 0) {
		fprintf(stderr, "mimamorid: %s\n", err);
		teardown();
		return 1;
	}
	if (capture_run(err, sizeof(err)) < 0) {
		fprintf(stderr, "mimamorid: %s\n", err);
		status = 1;
	}
	reasm_finish();
	/* the keys seen since their last report, while the link still takes
	 * records (observe.c) */
	observe_finish();
	/* every log line on disk before the statistics count the writes */
	txlog_sync();
	write_stats();
	/* the embedded store commits what comes now without waiting for more */
	store_server_drain(mm.store);
	left = mm_link_flush(mm.link, mm.cfg.flush_timeout_ms);
	if (left) {
		fprintf(stderr, "mimamorid: %llu records were not acknowledged by "
			"the store within %d ms%s%s%s\n", (unsigned long long)left,
			mm.cfg.flush_timeout_ms,
			mm_store_cfg.spool_dir ? " (kept in " : "",
			mm_store_cfg.spool_dir ? mm_store_cfg.spool_dir : "",
			mm_store_cfg.spool_dir ? " for the next start)" : "");
		if (!status)
			status = 3;
	}
	if (mm.cfg.stats_json) {
		const char *json;
		size_t len;
		rec_begin(mm.rec_misc);
		mm_stats_json(mm.rec_misc);
		json = rec_finish(mm.rec_misc, &len);
		fwrite(json, 1, len, stdout);
		putchar('\n');
	}
	if (!mm.cfg.quiet)
		mm_stats_print(stderr);
	teardown();
	return status;
}
