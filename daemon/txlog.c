/*
 * txlog.c - transaction logs: one JSON object per PDU, one file per
 * protocol (DIR/modbus.jsonl, ...), like Zeek's per-protocol logs; and
 * DIR/eve.json with every alert, for EVE consumers (Filebeat, EveBox).
 *
 * Records are built only when a log is on (mm_txlog_begin returns NULL
 * otherwise) and handed to logw.c, whose thread writes them: the capture
 * thread never waits on the disk.  A failed write is counted, never fatal:
 * the packet path never exits.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "logw.h"
#include "sensor.h"

static char *log_dir;

/* log slots: a dissector's index; eve.json the last */
#define EVE_SLOT MM_MAX_DISSECTORS
/* a log that failed to open was said once: its next records only count */
static bool open_failed[MM_MAX_DISSECTORS + 1];

/*
 * The members every record of a flow repeats in one direction, from
 * flow_id to direction, rendered once and copied after that: building
 * them member by member (addresses, ports, zones, escaping) was a third of
 * what the logs cost.  A direct-mapped cache by flow and direction; an
 * entry is good while the zones are those it was made with (a SIGHUP
 * reload counts in zone_reloads).  A relayed sender (BACnet's forwarded
 * NPDUs) changes src per PDU: those records are built as they come.
 */
#define HDR_SLOTS 4096 /* a power of two; 1 MiB, only with logs on */
#define HDR_MAX 240
struct hdr_slot {
	uint64_t flow_id;      /* 0: empty (flow ids start at 1) */
	uint64_t reloads;
	uint8_t dir;
	uint16_t len;
	char json[HDR_MAX];
};
static struct hdr_slot *hdr_cache;
static struct mm_rec *hdr_rec;

static struct logw *open_log(const char *name, int slot, bool running)
{
	char path[4096];
	struct logw *w;

	snprintf(path, sizeof(path), "%s/%s", log_dir, name);
	w = logw_open(path);
	if (!w) {
		/* at start the caller refuses to run; later it is said once */
		if (running && !open_failed[slot])
			fprintf(stderr, "mimamorid: %s: %s; its records are "
				"counted as log write errors\n", path,
				strerror(errno));
		open_failed[slot] = running;
		return NULL;
	}
	open_failed[slot] = false;
	return w;
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
	/* reading a capture file, a line may wait for a buffer; live, none
	 * does (logw.c) */
	if (logw_start(mm.cfg.pcap_file != NULL,
		       (size_t)mm.cfg.log_queue_mb << 20, err, errlen) < 0)
		return -1;
	log_dir = strdup(dir);
	hdr_cache = calloc(HDR_SLOTS, sizeof(*hdr_cache));
	hdr_rec = rec_new();
	if (!log_dir || !hdr_cache || !hdr_rec) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mm.eve = open_log("eve.json", EVE_SLOT, false);
	if (!mm.eve) {
		snprintf(err, errlen, "%s/eve.json: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

void txlog_write_line(FILE *fp, const char *s, size_t n)
{
	/* unlocked: main.c's stats.jsonl, a FILE of its own */
	if (fwrite_unlocked(s, 1, n, fp) != n || putc_unlocked('\n', fp) == EOF)
		mm.st.log_errors++;
}

/* flow_id ... direction: see hdr_slot */
static void flow_members(struct mm_rec *r, const struct mm_flow *f,
			 enum mm_dir dir, const struct mm_ends *e)
{
	rec_uint(r, "flow_id", f->id);
	rec_str(r, "src_ip", e->src_str);
	rec_int(r, "src_port", e->src_port);
	rec_str(r, "dest_ip", e->dest_str);
	rec_int(r, "dest_port", e->dest_port);
	rec_str(r, "src_zone", e->src_zone ? e->src_zone->id : NULL);
	rec_str(r, "dest_zone", e->dest_zone ? e->dest_zone->id : NULL);
	rec_str(r, "direction", dir == MM_DIR_TO_SERVER ? "request" : "response");
}

struct mm_rec *txlog_begin(struct mm_flow *f, enum mm_dir dir)
{
	struct mm_rec *r = mm.rec_log;
	struct mm_ends e;
	size_t n;

	if (!log_dir || f->d_index < 0)
		return NULL;
	if (!mm.logs[f->d_index]) {
		char name[64];
		/* failed once: tried again only after the next SIGHUP, not
		 * with a system call per record */
		if (open_failed[f->d_index]) {
			mm.st.log_errors++;
			return NULL;
		}
		snprintf(name, sizeof(name), "%s.jsonl", f->d->name);
		mm.logs[f->d_index] = open_log(name, f->d_index, true);
		if (!mm.logs[f->d_index]) {
			mm.st.log_errors++;
			return NULL;
		}
	}
	rec_begin(r);
	rec_ts(r, "ts", mm.now.tv_sec, mm.now.tv_usec);
	rec_uint(r, "frame", mm.frame);
	if (f->has_origin) {
		flow_ends(f, dir, &e);
		flow_members(r, f, dir, &e);
		return r;
	}
	struct hdr_slot *h = &hdr_cache[(f->id * 2 + (dir == MM_DIR_TO_SERVER)) &
					(HDR_SLOTS - 1)];
	if (h->flow_id != f->id || h->dir != dir ||
	    h->reloads != mm.st.zone_reloads) {
		const char *s;
		flow_ends(f, dir, &e);
		rec_begin(hdr_rec);
		flow_members(hdr_rec, f, dir, &e);
		s = rec_finish(hdr_rec, &n);
		if (n - 2 > HDR_MAX) { /* long zone names: not kept */
			rec_raw(r, NULL, s + 1, n - 2);
			return r;
		}
		/* without the braces of the record it was made in */
		memcpy(h->json, s + 1, n - 2);
		h->len = (uint16_t)(n - 2);
		h->flow_id = f->id;
		h->dir = (uint8_t)dir;
		h->reloads = mm.st.zone_reloads;
	}
	rec_raw(r, NULL, h->json, h->len);
	return r;
}

void txlog_end(struct mm_flow *f, struct mm_rec *r)
{
	size_t n;
	const char *s = rec_finish(r, &n);

	mm.st.log_records++;
	logw_line(mm.logs[f->d_index], s, n); /* dropped: counted there */
}

/*
 * Handed to the writer once a second of wall time on a live port and in
 * a --realtime replay (capture.c calls this between batches of packets,
 * never per packet of a file read as fast as it goes): with 256 KiB
 * buffers a quiet plant's records would wait hours in memory, unseen by
 * `tail -f` and Filebeat, lost with the process, and a file logrotate
 * finds empty (notifempty) would never rotate.  CLOCK_MONOTONIC_COARSE:
 * no system call (vDSO).
 */
/* every open log's buffered lines to the writer */
static void flush_all(void)
{
	for (int i = 0; i < MM_MAX_DISSECTORS; i++)
		logw_flush(mm.logs[i]);
	logw_flush(mm.eve);
}

void txlog_tick(void)
{
	static struct timespec last;
	struct timespec now;

	if (!log_dir)
		return;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (now.tv_sec == last.tv_sec ||
	    (now.tv_sec == last.tv_sec + 1 && now.tv_nsec < last.tv_nsec))
		return;
	last = now;
	flush_all();
}

/* what the writer has not written within the exit's flush timeout: said,
 * and counted as one write error */
static void drain(void)
{
	static bool said;
	size_t left = 0;

	if (logw_drain(mm.cfg.flush_timeout_ms, &left) || said)
		return;
	said = true;
	fprintf(stderr, "mimamorid: %zu bytes of transaction logs not written: "
		"the disk under %s took nothing for %d ms\n", left,
		log_dir ? log_dir : "the log folder", mm.cfg.flush_timeout_ms);
	mm.st.log_errors++;
}

/* every log's buffered lines written, before the exit statistics */
void txlog_sync(void)
{
	flush_all();
	drain();
}

/* every log closed: the writer writes what each had, then closes it (a
 * failure counted there) */
static void close_all(void)
{
	for (int i = 0; i < MM_MAX_DISSECTORS; i++) {
		logw_close(mm.logs[i]);
		mm.logs[i] = NULL;
	}
	logw_close(mm.eve);
	mm.eve = NULL;
}

/*
 * SIGHUP: every log closed and opened again by name, the contract of a
 * daemon's logs with logrotate (etc/logrotate.d/mimamori): a log moved
 * away receives what was still buffered for it, then records go to a new
 * file of the same name.  Per-protocol logs open again with their next
 * record, eve.json at once; one that cannot be opened is said once and its
 * records are counted as write errors until a later SIGHUP opens it.
 */
void txlog_reopen(void)
{
	if (!log_dir)
		return;
	close_all();
	memset(open_failed, 0, sizeof(open_failed));
	mm.eve = open_log("eve.json", EVE_SLOT, true);
	mm.st.log_reopens++;
	if (!mm.cfg.quiet)
		fprintf(stderr, "mimamorid: transaction logs reopened in %s\n",
			log_dir);
}

/* an alert's line to eve.json; without it (a failed reopen), counted */
void txlog_alert_line(const char *s, size_t n)
{
	if (mm.eve)
		logw_line(mm.eve, s, n);
	else if (log_dir)
		mm.st.log_errors++;
}

/* every log closed; what they held is on disk when this returns */
void txlog_close(void)
{
	close_all();
	drain();
	free(log_dir);
	log_dir = NULL;
	free(hdr_cache);
	hdr_cache = NULL;
	rec_free(hdr_rec);
	hdr_rec = NULL;
}
