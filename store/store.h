/*
 * store.h - the zone-aware alert store: SQLite (WAL, prepared statements,
 * batched transactions) behind a ZeroMQ ROUTER socket, and the sensor's
 * side of the link (a DEALER with sequence numbers, acknowledgements and a
 * bounded resend spool in memory and optionally on disk: the ZeroMQ
 * Guide's reliability pattern).
 *
 * Wire protocol (multipart messages; every frame is bytes):
 *   sensor -> store:  "MM1" | kind | sensor id | seq (8 bytes, big endian) | JSON
 *       kind: "alert", "hello" (sensor id, site, version, zone file),
 *             "stats", "asset", "obs" (below): records, acknowledged;
 *             "beat": the link's own counters every few seconds, never
 *             acknowledged nor resent; its seq frame carries the lowest seq
 *             the sensor may still send again (everything below it was
 *             acknowledged and is off its spool for good)
 *   store -> sensor:  "MM1ack" seq (8 bytes BE) [seq ...], one frame: libzmq 4.3
 *                     asserts in a DEALER whose peer dies mid-multipart
 * The store acknowledges a record only after the transaction holding it
 * committed; (sensor, seq) is unique in the store, so a resent record is
 * acknowledged again but stored once.
 *
 * Over tcp:// the link may be CurveZMQ-encrypted: the store holds a key
 * pair and an allow-list of sensor public keys that its ZAP handler
 * checks (store/keys.c); a sensor holds its own key pair and the store's
 * public key.  Without keys the store listens on loopback or ipc:// only.
 */
/*
 * Observation records (kind "obs"): what the sensor saw, for the learned
 * baseline (store/baseline.c) and the zone matrix.  The sensor keeps a
 * bounded table of distinct keys and reports each key when it first sees
 * it in a run (n = 1, interval 0), then every report interval (packet
 * time, default 60 s) when it saw the key again (n = operations since the
 * previous report), and at exit.  Reports are rationed (baseline.
 * reports_per_s, report_burst): one the budget cannot pay for waits, so a
 * first report (interval 0) may carry n > 1, and a key may never be
 * reported at all (counted by the sensor).  One JSON object:
 *
 *   "timestamp"   packet time of the last operation counted (ISO 8601)
 *   "first_seen"  packet time the sensor first saw the key in this run
 *   "mode"        "learn" (record as normal) or "detect" (compare)
 *   "sensor"      the sensor's id, for people reading the record (the
 *                 store keys on the link's sensor)
 *   "what"        "op"      an operation a dissector reported;
 *                 "service" a flow no dissector takes (conduit.c);
 *                 "mac"     a MAC bound to an address (hosts.c)
 *   op, service:
 *   "src_ip", "dest_ip"   requester and server; "dest_port" the server's
 *   "src_zone", "dest_zone"  zone ids, or null for a host in no zone
 *   "proto"       "modbus", "s7comm", "bacnet"; for services "tcp/445",
 *                 "udp/53", "icmp"
 *   "op"          the operation class: read write program control
 *                 discover other ("other" for a service)
 *   "verdict"     what the zone policy said: "allowed", "no_conduit",
 *                 "op_not_allowed", "unknown_host"
 *   "n"           operations (services: connection attempts) counted
 *   "interval"    seconds of packet time n covers (0 on a first report)
 *   op only:
 *   "function", "function_name"   the protocol's code and name
 *   "unit", "space", "addr", "count"  the structured target when the
 *                 dissector gave one (mm_op.has_ref): the key includes it
 *   "peak_per_s"  write class only: most operations in one second of
 *                 packet time since the previous report
 *   "peak_at"     write class only: the start of that second (a learned-
 *                 rate write_flood is dated by it, not by "timestamp")
 *   mac:
 *   "ip", "mac", "mac_vendor" (when known), "zone" (id or null),
 *   "archetype"   the zone's archetype;
 *   "watch"       true when a never-seen MAC in this zone matters (a
 *                 control or engineering zone: asset.new)
 */
#ifndef MM_STORE_H
#define MM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------- SQLite side (store/db.c) ---------------- */

struct store_db;

/* the store's own alerts (signature ids 2190001...) */
#define STORE_SIG_SILENT "sensor.silent"
#define STORE_SIG_RETURNED "sensor.returned"

/*
 * Called for every alert that makes a new row (not for a repeat counted
 * on an existing row), inside the open transaction: the caller keeps what
 * it needs and publishes it only once the transaction committed.
 * proto is the alert's app_proto, else its transport in lower case, else
 * "other"; site is the sensor's site ("" when unknown).
 */
typedef void store_db_new_alert_fn(void *arg, const char *sensor,
				   const char *site, int severity,
				   const char *proto, const char *json,
				   size_t len);

struct store_db_opts {
	double aggregate_window; /* seconds; 0 = no aggregation */
	double retain_days;      /* delete rows stored longer ago; 0 = keep */
	double retain_mb;        /* keep the used pages under this; 0 = no bound */
	bool no_check;           /* skip the integrity check at open */
	/* learned write rate (obs records): factor and floor in writes per
	 * second; 0: STORE_BASELINE_FLOOD_FACTOR / _FLOOR */
	double flood_factor, flood_floor;
	store_db_new_alert_fn *on_new_alert;
	void *arg;
};

/*
 * Open (creating the file 0600 and the schema when new, upgrading an
 * older schema).  Refuses, with a message naming the file: a file that is
 * not a database or fails SQLite's quick_check, a newer schema, a database
 * another mimamori-store holds, one another program keeps locked.
 */
struct store_db *store_db_open(const char *path, const struct store_db_opts *o,
			       char *err, size_t errlen);
void store_db_close(struct store_db *db);
int store_db_begin(struct store_db *db);
int store_db_commit(struct store_db *db);
/*
 * Store one record of `kind` from `sensor` with sequence `seq`.
 * Returns 1 when stored, 0 when (sensor, seq) was already there (a resend),
 * -1 on error (message in err).  The JSON is the EVE alert for "alert".
 * Inside a transaction, a database error (-1 with store_db_err_is_record
 * false) leaves the transaction unusable: roll it back, acknowledge none
 * of it (the sensors resend).
 */
int store_db_put(struct store_db *db, const char *kind, const char *sensor,
		 uint64_t seq, const char *json, size_t len, char *err,
		 size_t errlen);

/*
 * The same in two steps, for a server that parses in one thread and
 * stores in another.  store_rec_parse needs no database, only a parser
 * (an in-memory SQLite connection for its JSON functions) of the calling
 * thread's own: NULL when the record is bad (*bad: its own fault,
 * acknowledge it and forget it) or memory ran out (*bad false: do not
 * acknowledge).  `sensor` and `json` must stay valid until store_rec_free.
 */
enum store_kind {
	STORE_K_ALERT, STORE_K_HELLO, STORE_K_STATS, STORE_K_ASSET,
	STORE_K_OBS, STORE_K_UNKNOWN
};
struct store_parser;
struct store_parser *store_parser_new(char *err, size_t errlen);
void store_parser_free(struct store_parser *p);
struct store_rec;
struct store_rec *store_rec_parse(struct store_parser *p, const char *kind,
				  const char *sensor, uint64_t seq,
				  const char *json, size_t len, bool *bad,
				  char *err, size_t errlen);
enum store_kind store_rec_kind(const struct store_rec *r);
/* 1 stored, 0 a resend, -1 a database error (as store_db_put) */
int store_db_put_rec(struct store_db *db, const struct store_rec *r,
		     char *err, size_t errlen);
void store_rec_free(struct store_rec *r);
/*
 * After store_db_put() returned -1: true when the record itself is at fault
 * (not JSON, no alert.signature, unknown kind): resending it can never help,
 * so the server acknowledges it.  False when the database failed (disk
 * full, I/O error): the server must not acknowledge, the sensor resends.
 */
bool store_db_err_is_record(const struct store_db *db);
/* roll back an open transaction; 0 or -1 */
int store_db_rollback(struct store_db *db);

/*
 * A sensor's link heartbeat: its counters (JSON), the seq below which it
 * will never resend, and the name of its CurveZMQ key (NULL: none).
 * Counts as contact.  0 or -1.
 */
int store_db_beat(struct store_db *db, const char *sensor, uint64_t acked_below,
		  const char *json, size_t len, const char *key_name,
		  char *err, size_t errlen);
/* remember which CurveZMQ key a sensor used (on its hello) */
int store_db_note_key(struct store_db *db, const char *sensor,
		      const char *key_name);

/*
 * The sensor.silent check: every sensor whose last contact is older than
 * `after` seconds before now (and before `since`, the store's own start,
 * in seconds since the epoch: a store that was down itself does not blame
 * the sensors) becomes one sensor.silent alert, once per silence.  A
 * sensor heard again gets a sensor.returned alert and the silent row's
 * last_ts is set to the moment it came back.  Returns the number of new
 * silences, or -1.  Opens its own transaction unless one is open.
 */
int store_db_check_silence(struct store_db *db, double after, int64_t since,
			   char *err, size_t errlen);

/*
 * One bounded step of retention: at most `max_rows` of the oldest alert
 * rows stored more than retain_days ago, or (when the used pages exceed
 * retain_mb) the oldest rows whatever their age, and at most `max_rows`
 * (sensor, seq) rows that no sensor can resend any more.  Its own
 * transaction: call it between batches, never inside one.  Returns the
 * rows deleted (0: nothing to do), or -1.
 */
long store_db_retention_step(struct store_db *db, int max_rows, char *err,
			     size_t errlen);
/* bytes in use (pages not on the free list) */
int64_t store_db_used_bytes(struct store_db *db);

/*
 * Parse an ISO 8601 timestamp as EVE writes it: "2015-10-22T10:00:01.123456Z",
 * "...+0000", "...+09:00", fractions of any length, or only a date
 * ("2015-10-22").  A missing offset means UTC.  0 and seconds/microseconds
 * since the epoch, or -1.
 */
int store_ts_parse(const char *s, int64_t *sec, int64_t *usec);

/* ---------------- learned baseline (store/baseline.c) ---------------- */

/*
 * What the store does with an "obs" record (the contract is at the top):
 *  - every op/service record adds n to obs_matrix (sensor, hour of its
 *    timestamp, zones, proto, op, verdict), and 1 to its keys on a key's
 *    first report (interval 0); mac records are not flows: not counted.
 *  - mode learn: the key's baseline row becomes (or stays) 'learned'
 *    ('approved' stays approved); hits += n; writes keep their peak.
 *  - mode detect: a known key (any status) counts hits, no alert.  An
 *    unknown key of a sensor that has learned something raises at most
 *    one of baseline.new_talker (no row of src, dest, proto), .new_function
 *    (the talker's learned/approved rows lack the function; services:
 *    the port), .new_target (no learned/approved row of the talker and
 *    function, same unit and space, covers [addr, addr + count)), and is
 *    kept as 'new' so it never alerts twice.  A level (talker, talker +
 *    function) that has only 'new' rows alerts nothing more: one alert per
 *    new talker, not one per function.  mac with "watch": a MAC with no
 *    row of this sensor is asset.new; without watch: kept silently.
 *  - a sensor with no learned/approved row gets no baseline alerts and no
 *    'new' rows (counted; the store logs it once per sensor).
 *  - a write in detect mode whose peak_per_s exceeds max(factor x the
 *    learned peak of its talker + function, floor) raises
 *    <proto>.write_flood (metadata.basis "learned_rate"), once per
 *    episode: while a write_flood alert of the sensor with that source and
 *    destination has last_ts within STORE_BASELINE_EPISODE_S of the
 *    record, that row's count and last_ts grow instead.
 * The alerts are EVE records like the sensor's, aggregated like them,
 * and reach on_new_alert after commit.
 * A record is checked whole when parsed: function, unit and space may be
 * an integer or a text (kept as sent); a missing required field, another
 * JSON type, or a mode, what, op or verdict outside the lists above make
 * it malformed: refused, acknowledged, counted as a bad record.
 * Retention (retain_days, retain_mb) deletes alert rows only: the
 * baseline is bounded by the sensors' keys, obs_matrix by hours x pairs.
 */
#define STORE_BASELINE_FLOOD_FACTOR 10.0 /* x the learned peak */
#define STORE_BASELINE_FLOOD_FLOOR 5.0   /* writes per second, at least */
#define STORE_BASELINE_EPISODE_S 300     /* one write_flood per episode */

#define STORE_SIG_NEW_TALKER "baseline.new_talker"     /* 2400001 */
#define STORE_SIG_NEW_FUNCTION "baseline.new_function" /* 2400002 */
#define STORE_SIG_NEW_TARGET "baseline.new_target"     /* 2400003 */
#define STORE_SIG_ASSET_NEW "asset.new"                /* 2500001 */

struct store_baseline_counts {
	uint64_t obs;        /* obs records stored */
	uint64_t learned;    /* of them in learn mode */
	uint64_t known;      /* detect mode, a known key */
	uint64_t new_rows;   /* detect mode, kept as 'new' */
	uint64_t alerts;     /* baseline.*, asset.new, write_flood rows made */
	uint64_t flood_repeats; /* write floods folded into their episode */
	uint64_t unlearned;  /* detect records of sensors that learned nothing */
};
void store_db_baseline_counts(const struct store_db *db,
			      struct store_baseline_counts *c);

/*
 * Which rows `mimamori baseline approve|prune` act on: exactly one of
 * all, ids, src (approve), or status/before/ids (prune); sensor narrows.
 */
struct baseline_sel {
	const char *sensor;      /* NULL: every sensor */
	bool all;                /* approve: every 'new' row */
	const int64_t *ids;      /* these rows */
	size_t n_ids;
	const char *src, *dest;  /* approve: a talker's rows (dest: NULL any) */
	const char *status;      /* prune: rows in this status */
	const char *before;      /* prune: rows last seen before (store time) */
};
struct sqlite3;
/*
 * On a connection of the caller's (opened read-write, with a busy
 * timeout: safe while mimamori-store runs), in a transaction of their
 * own.  approve: 'new' rows become 'approved' (approving a talker
 * approves its rows).  prune: delete.  The rows changed, or -1 and a
 * message.
 */
long baseline_approve(struct sqlite3 *db, const struct baseline_sel *s,
		      char *err, size_t errlen);
long baseline_prune(struct sqlite3 *db, const struct baseline_sel *s,
		    char *err, size_t errlen);

/* ---------------- keys (store/keys.c) ---------------- */

#define MM_KEY_Z85_LEN 40

/*
 * Write a new CurveZMQ key pair: DIR/NAME.key (the secret, mode 0600) and
 * DIR/NAME.pub (the public key).  DIR is created 0700 when missing.
 * Never overwrites a file.  0, or -1 with a message.
 */
int mm_keygen(const char *dir, const char *name, char *err, size_t errlen);
/*
 * Read a key file (the first line that is not blank or a '#' comment
 * holds the Z85 key).  secret: the file must not be readable by group or
 * others.  z85 receives 41 bytes.  0, or -1 with a message.
 */
int mm_key_load(const char *path, bool secret, char *z85, char *err,
		size_t errlen);

/* the sensors a store accepts: their public keys, each with a name */
struct mm_allow;
/*
 * An allow-list from a directory (every *.pub file: the name is the file
 * name without .pub) or from one file (lines "KEY [NAME]", '#' comments).
 * NULL and a message when unreadable or holding no key.
 */
struct mm_allow *mm_allow_load(const char *path, char *err, size_t errlen);
/* the name of a 32-byte public key, or NULL when not allowed */
const char *mm_allow_find(const struct mm_allow *a, const uint8_t key[32]);
size_t mm_allow_count(const struct mm_allow *a);
void mm_allow_free(struct mm_allow *a);

/* ---------------- syslog forwarding (store/forward.c) ---------------- */

struct store_fwd;

enum store_fwd_format { STORE_FWD_JSON, STORE_FWD_CEF };

/*
 * A forwarder to syslog: target "udp://HOST:PORT", "tcp://HOST:PORT" (RFC
 * 5424 messages; RFC 6587 octet counting over TCP) or "unix:///dev/log"
 * (the local socket, a datagram each).  Its own thread sends; the store
 * only queues (at most queue_max messages, the excess counted as dropped),
 * so a slow or dead syslog server never holds up ingestion.
 */
struct store_fwd *store_fwd_new(const char *target, enum store_fwd_format f,
				int queue_max, char *err, size_t errlen);
/* queue one EVE alert (copied); never blocks; -1 when dropped */
int store_fwd_push(struct store_fwd *f, const char *site, const char *json,
		   size_t len);
struct store_fwd_stats {
	uint64_t queued, sent, dropped, errors;
};
void store_fwd_stats(struct store_fwd *f, struct store_fwd_stats *st);
/* send what is queued for at most `drain_ms`, then stop and free */
void store_fwd_free(struct store_fwd *f, int drain_ms);
/*
 * The message for one alert, without the syslog header: the EVE JSON
 * (with "site" added) or a CEF line.  Returns a malloc'ed string and the
 * syslog severity (RFC 5424: 2 critical ... 5 notice) in *sev, or NULL.
 */
char *store_fwd_format(enum store_fwd_format f, const char *site,
		       const char *json, size_t len, int *sev, char *ts,
		       size_t tslen);

/* ---------------- ZeroMQ store server (store/server.c) ---------------- */

struct store_server;

struct store_server_opts {
	const char *endpoint;     /* "inproc://mm-store", "tcp://127.0.0.1:7650" */
	const char *db_path;
	double aggregate_window;
	int batch_max;            /* records per transaction, at most */
	int batch_ms;             /* longest wait before a batch commits */
	bool quiet;               /* no start-up line (the embedded store) */
	double retain_days;       /* 0: keep everything */
	double retain_mb;         /* 0: no size bound */
	double silent_after;      /* seconds without contact: sensor.silent;
				     0: default (300); < 0: never */
	const char *curve_secret; /* the store's secret key file (CurveZMQ) */
	const char *allow;        /* allow-list: a directory of *.pub or a file */
	const char *publish;      /* PUB endpoint for live subscribers */
	const char *syslog;       /* forward new alerts: udp://, tcp://, unix:// */
	enum store_fwd_format syslog_format;
	int syslog_queue;         /* messages queued at most (default 10000) */
};

/*
 * Create a server on `zctx` (a zmq context; NULL makes its own) and bind.
 * Returns NULL and a message on error.
 */
struct store_server *store_server_new(void *zctx,
				      const struct store_server_opts *o,
				      char *err, size_t errlen);
/* run until store_server_stop() (from another thread) or a signal */
int store_server_run(struct store_server *s);
/* start run() in its own thread (embedded store) */
int store_server_start_thread(struct store_server *s);
/* ask run() to return after committing what it holds; joins the thread */
void store_server_stop(struct store_server *s);
/*
 * From now on commit each batch as soon as nothing more is queued instead
 * of waiting batch_ms for more: an embedding sensor that has read its
 * last packet calls it before waiting for its acknowledgements.
 */
void store_server_drain(struct store_server *s);
/*
 * Only set the flag that makes run() commit and return: async-signal-safe,
 * for a SIGINT/SIGTERM handler around a foreground run().
 */
void store_server_request_stop(struct store_server *s);
void store_server_free(struct store_server *s);
/* the endpoint actually bound ("tcp://127.0.0.1:*" resolves to its port) */
const char *store_server_endpoint(const struct store_server *s);
/* the PUB endpoint actually bound, or NULL */
const char *store_server_publish_endpoint(const struct store_server *s);

struct store_server_stats {
	uint64_t stored;     /* records newly stored */
	uint64_t duplicates; /* (sensor, seq) already there: acked again */
	uint64_t errors;     /* bad records (not JSON...): acked, not stored */
	uint64_t db_errors;  /* database failures: not acked, will be resent */
	uint64_t malformed;  /* multipart messages not in the protocol: dropped */
	uint64_t batches;    /* transactions committed */
	uint64_t acks;       /* seqs acknowledged */
	uint64_t ack_drops;  /* ack messages the socket refused (peer gone) */
	uint64_t beats;      /* sensor heartbeats */
	uint64_t refused;    /* CurveZMQ handshakes with a key not allowed */
	uint64_t silent;     /* sensor.silent alerts made */
	uint64_t retained;   /* rows deleted by retention */
	uint64_t published;  /* alerts sent on the PUB socket */
	uint64_t pub_drops;  /* refused by the PUB socket */
	uint64_t forwarded;  /* queued for syslog */
	uint64_t fwd_drops;  /* syslog queue full */
};
/* a consistent-enough snapshot (each counter read atomically) */
void store_server_stats(const struct store_server *s,
			struct store_server_stats *st);

/* ---------------- sensor side (store/link.c) ---------------- */

struct mm_link;

struct mm_link_opts {
	const char *endpoint;   /* where the store listens */
	const char *sensor;     /* sensor id */
	size_t spool_max;       /* unacknowledged records kept at most */
	int resend_ms;          /* resend what is unacknowledged after this */
	/* bytes of unacknowledged records kept at most (memory, and disk
	 * with spool_dir); 0: 256 MiB */
	size_t spool_bytes;
	/* keep unacknowledged records on disk too, in this directory (made
	 * 0700; files 0600), so a sensor restart loses nothing; NULL: memory */
	const char *spool_dir;
	int beat_ms;            /* heartbeat period; 0: 10 s; < 0: none */
	const char *curve_secret;  /* the sensor's secret key file */
	const char *store_public;  /* the store's public key file */
};

struct mm_link_stats {
	uint64_t queued;        /* records handed to the link (+ recovered) */
	uint64_t sent;          /* first sends */
	uint64_t resent;
	uint64_t acked;
	uint64_t dropped;       /* lost to a full queue or spool: counted */
	uint64_t backlog;       /* unacknowledged now */
	uint64_t spool_bytes;   /* bytes of unacknowledged records held */
	uint64_t recovered;     /* records read back from the disk spool */
	uint64_t disk_errors;   /* disk spool writes that failed */
	uint64_t beats;         /* heartbeats sent */
};

struct mm_link *mm_link_new(void *zctx, const struct mm_link_opts *o,
			    char *err, size_t errlen);
/*
 * Hand one record to the link.  Never blocks: the record is queued to the
 * link thread; when that queue is full it is counted as dropped.
 * Returns 0 when queued, -1 when dropped.
 */
int mm_link_send(struct mm_link *l, const char *kind, const char *json,
		 size_t len);
/*
 * Wait (blocking: used at exit, never on the packet path) until every
 * record is acknowledged or `timeout_ms` passed.  Returns the number of
 * records still unacknowledged.
 */
uint64_t mm_link_flush(struct mm_link *l, int timeout_ms);
void mm_link_stats(struct mm_link *l, struct mm_link_stats *st);
void mm_link_free(struct mm_link *l);
/*
 * Notes on the link (link.c):
 *  - `queued` counts every record handed to mm_link_send, the refused ones
 *    too, and the records recovered from the disk spool at start, so
 *    queued == acked + dropped + backlog at any time.
 *  - seqs start at the wall clock in microseconds when the link is made,
 *    so a restarted sensor does not reuse a (sensor, seq) of its last
 *    life; with a disk spool they go on from where the last life stopped.
 *  - a "hello" goes out before any record still unsent.
 *  - mm_link_send may be called from several threads.
 *  - with a disk spool, what is still unacknowledged at mm_link_free stays
 *    on disk and goes out after the next start.
 * Embedded store (one process, inproc://, one zmq context): stop in this
 * order: mm_link_flush, mm_link_free, store_server_stop, store_server_free,
 * then zmq_ctx_term (every socket must be closed before it returns).
 */

#endif /* MM_STORE_H */
