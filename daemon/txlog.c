/*
 * txlog.c - transaction logs: one JSON object per PDU, one file per
 * protocol (DIR/modbus.jsonl, ...), like Zeek's per-protocol logs; and
 * DIR/eve.json with every alert, for EVE consumers (Filebeat, EveBox).
 *
 * Records are built only when a log is on (mm_txlog_begin returns NULL
 * otherwise), written through large stdio buffers, and a failed write is
 * counted, never fatal: the packet path never exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sensor.h"

#define LOG_BUFFER (1 << 20)

static char *log_dir;

static FILE *open_log(const char *name)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", log_dir, name);
	fp = fopen(path, "a");
	if (!fp) {
		fprintf(stderr, "mimamorid: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	setvbuf(fp, NULL, _IOFBF, LOG_BUFFER);
	return fp;
}

int txlog_open_dir(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	log_dir = strdup(dir);
	if (!log_dir) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mm.eve = open_log("eve.json");
	if (!mm.eve) {
		snprintf(err, errlen, "%s/eve.json: cannot open for writing", dir);
		return -1;
	}
	return 0;
}

void txlog_write_line(FILE *fp, const char *s, size_t n)
{
	if (fwrite(s, 1, n, fp) != n || putc('\n', fp) == EOF)
		mm.st.log_errors++;
}

struct mm_rec *txlog_begin(struct mm_flow *f, enum mm_dir dir)
{
	struct mm_rec *r = mm.rec_log;
	struct mm_ends e;
	char ts[40];

	if (!log_dir || f->d_index < 0)
		return NULL;
	if (!mm.logs[f->d_index]) {
		char name[64];
		snprintf(name, sizeof(name), "%s.jsonl", f->d->name);
		mm.logs[f->d_index] = open_log(name);
		if (!mm.logs[f->d_index]) {
			mm.st.log_errors++;
			return NULL;
		}
	}
	flow_ends(f, dir, &e);
	mm_format_ts(ts, sizeof(ts), mm.now.tv_sec, mm.now.tv_usec);
	rec_begin(r);
	rec_str(r, "ts", ts);
	rec_uint(r, "frame", mm.frame);
	rec_uint(r, "flow_id", f->id);
	rec_str(r, "src_ip", e.src_str);
	rec_int(r, "src_port", e.src_port);
	rec_str(r, "dest_ip", e.dest_str);
	rec_int(r, "dest_port", e.dest_port);
	rec_str(r, "src_zone", e.src_zone ? e.src_zone->id : NULL);
	rec_str(r, "dest_zone", e.dest_zone ? e.dest_zone->id : NULL);
	rec_str(r, "direction", dir == MM_DIR_TO_SERVER ? "request" : "response");
	return r;
}

void txlog_end(struct mm_flow *f, struct mm_rec *r)
{
	size_t n;
	const char *s = rec_finish(r, &n);

	mm.st.log_records++;
	txlog_write_line(mm.logs[f->d_index], s, n);
}

void txlog_close(void)
{
	for (int i = 0; i < MM_MAX_DISSECTORS; i++) {
		if (mm.logs[i] && fclose(mm.logs[i]) != 0)
			mm.st.log_errors++;
		mm.logs[i] = NULL;
	}
	if (mm.eve && fclose(mm.eve) != 0)
		mm.st.log_errors++;
	mm.eve = NULL;
	free(log_dir);
	log_dir = NULL;
}
