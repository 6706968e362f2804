/*
 * mm-send - send records read from stdin to a store through mm_link, the
 * sensor's reliable link.  For tests and for loading sample data:
 *
 *   mm-send --connect tcp://127.0.0.1:7650 --sensor box1 < records
 *   mm-send ... --spool-dir DIR   (unacknowledged records kept on disk: a
 *                                  later mm-send with the same DIR sends
 *                                  them, as a restarted sensor does)
 *   mm-send ... --curve-secret sensor.key --store-public store.pub
 *
 * One record per line: a JSON object (sent as an "alert"), or a kind, one
 * space, and a JSON object ("hello {...}", "stats {...}", "asset {...}").
 * Blank lines and lines starting with '#' are skipped.  Exits 0 when the
 * store acknowledged every record, 1 when some were left or dropped.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mm-send --connect ENDPOINT --sensor ID "
		   "[--timeout MS] [--resend MS] [--spool N] [--spool-bytes N]\n"
		   "               [--spool-dir DIR] [--beat MS] "
		   "[--curve-secret FILE --store-public FILE] < records\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"connect", required_argument, NULL, 'c'},
		{"sensor", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"resend", required_argument, NULL, 'r'},
		{"spool", required_argument, NULL, 'n'},
		{"spool-bytes", required_argument, NULL, 'B'},
		{"spool-dir", required_argument, NULL, 'D'},
		{"beat", required_argument, NULL, 'b'},
		{"curve-secret", required_argument, NULL, 'k'},
		{"store-public", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mm_link_opts o = {.spool_max = 100000, .resend_ms = 500};
	struct mm_link_stats st;
	struct mm_link *l;
	int timeout = 10000, c;
	char err[512], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t left;

	while ((c = getopt_long(argc, argv, "c:s:t:r:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.endpoint = optarg; break;
		case 's': o.sensor = optarg; break;
		case 't': timeout = atoi(optarg); break;
		case 'r': o.resend_ms = atoi(optarg); break;
		case 'n': o.spool_max = (size_t)atol(optarg); break;
		case 'B': o.spool_bytes = (size_t)atol(optarg); break;
		case 'D': o.spool_dir = optarg; break;
		case 'b': o.beat_ms = atoi(optarg); break;
		case 'k': o.curve_secret = optarg; break;
		case 'p': o.store_public = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.endpoint || !o.sensor) {
		usage(stderr);
		return 2;
	}
	l = mm_link_new(NULL, &o, err, sizeof(err));
	if (!l) {
		fprintf(stderr, "mm-send: %s\n", err);
		return 1;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		const char *kind = "alert", *json = line;
		char k[16];
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (line[0] != '{') {
			const char *sp = strchr(line, ' ');
			size_t kl = sp ? (size_t)(sp - line) : 0;
			if (kl == 0 || kl >= sizeof(k)) {
				fprintf(stderr, "mm-send: bad line: %s\n", line);
				continue;
			}
			memcpy(k, line, kl);
			k[kl] = '\0';
			kind = k;
			json = sp + 1;
		}
		mm_link_send(l, kind, json, strlen(json));
	}
	free(line);
	left = mm_link_flush(l, timeout);
	mm_link_stats(l, &st);
	fprintf(stderr,
		"mm-send: %llu queued, %llu sent, %llu resent, %llu acked, "
		"%llu dropped, %llu left, %llu recovered\n",
		(unsigned long long)st.queued, (unsigned long long)st.sent,
		(unsigned long long)st.resent, (unsigned long long)st.acked,
		(unsigned long long)st.dropped, (unsigned long long)left,
		(unsigned long long)st.recovered);
	mm_link_free(l);
	return left == 0 && st.dropped == 0 ? 0 : 1;
}
