/*
 * store.h - the zone-aware alert store: SQLite (WAL, prepared statements,
 * batched transactions) behind a ZeroMQ ROUTER socket, and the sensor's
 * side of the link (a DEALER with sequence numbers, acknowledgements and a
 * bounded resend spool: the ZeroMQ Guide's reliability pattern).
 *
 * Wire protocol (multipart messages; every frame is bytes):
 *   sensor -> store:  "MM1" | kind | sensor id | seq (8 bytes, big endian) | JSON
 *       kind: "alert", "hello" (sensor id, site, version, zone file),
 *             "stats", "asset"
 *   store -> sensor:  "MM1" | "ack" | seq (8 bytes BE) [| seq ...]
 * The store acknowledges a record only after the transaction holding it
 * committed; (sensor, seq) is unique in the store, so a resent record is
 * acknowledged again but stored once.
 */
#ifndef MM_STORE_H
#define MM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------- SQLite side (store/db.c) ---------------- */

struct store_db;

struct store_db_opts {
	double aggregate_window; /* seconds; 0 = no aggregation */
};

/* open (creating the schema when new); NULL and a message on error */
struct store_db *store_db_open(const char *path, const struct store_db_opts *o,
			       char *err, size_t errlen);
void store_db_close(struct store_db *db);
int store_db_begin(struct store_db *db);
int store_db_commit(struct store_db *db);
/*
 * Store one record of `kind` from `sensor` with sequence `seq`.
 * Returns 1 when stored, 0 when (sensor, seq) was already there (a resend),
 * -1 on error (message in err).  The JSON is the EVE alert for "alert".
 */
int store_db_put(struct store_db *db, const char *kind, const char *sensor,
		 uint64_t seq, const char *json, size_t len, char *err,
		 size_t errlen);
/*
 * After store_db_put() returned -1: true when the record itself is at fault
 * (not JSON, no alert.signature, unknown kind): resending it can never help,
 * so the server acknowledges it.  False when the database failed (disk
 * full, I/O error): the server must not acknowledge, the sensor resends.
 */
bool store_db_err_is_record(const struct store_db *db);
/* roll back an open transaction (after a failed commit); 0 or -1 */
int store_db_rollback(struct store_db *db);

/*
 * Parse an ISO 8601 timestamp as EVE writes it: "2015-10-22T10:00:01.123456Z",
 * "...+0000", "...+09:00", fractions of any length, or only a date
 * ("2015-10-22").  A missing offset means UTC.  0 and seconds/microseconds
 * since the epoch, or -1.
 */
int store_ts_parse(const char *s, int64_t *sec, int64_t *usec);

/* ---------------- ZeroMQ store server (store/server.c) ---------------- */

struct store_server;

struct store_server_opts {
	const char *endpoint;     /* "inproc://mm-store", "tcp://127.0.0.1:7650" */
	const char *db_path;
	double aggregate_window;
	int batch_max;            /* records per transaction, at most */
	int batch_ms;             /* longest wait before a batch commits */
	bool quiet;               /* no start-up line (the embedded store) */
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
 * Only set the flag that makes run() commit and return: async-signal-safe,
 * for a SIGINT/SIGTERM handler around a foreground run().
 */
void store_server_request_stop(struct store_server *s);
void store_server_free(struct store_server *s);
/* the endpoint actually bound ("tcp://127.0.0.1:*" resolves to its port) */
const char *store_server_endpoint(const struct store_server *s);

struct store_server_stats {
	uint64_t stored;     /* records newly stored */
	uint64_t duplicates; /* (sensor, seq) already there: acked again */
	uint64_t errors;     /* bad records (not JSON...): acked, not stored */
	uint64_t db_errors;  /* database failures: not acked, will be resent */
	uint64_t malformed;  /* multipart messages not in the protocol: dropped */
	uint64_t batches;    /* transactions committed */
	uint64_t acks;       /* seqs acknowledged */
	uint64_t ack_drops;  /* ack messages the socket refused (peer gone) */
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
};

struct mm_link_stats {
	uint64_t queued;        /* records handed to the link */
	uint64_t sent;          /* first sends */
	uint64_t resent;
	uint64_t acked;
	uint64_t dropped;       /* lost to a full queue or spool: counted */
	uint64_t backlog;       /* unacknowledged now */
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
 *    too, so queued == acked + dropped + backlog at any time.
 *  - seqs start at the wall clock in microseconds when the link is made,
 *    so a restarted sensor does not reuse a (sensor, seq) of its last life.
 *  - a "hello" goes out before any record still unsent.
 *  - mm_link_send may be called from several threads.
 * Embedded store (one process, inproc://, one zmq context): stop in this
 * order: mm_link_flush, mm_link_free, store_server_stop, store_server_free,
 * then zmq_ctx_term (every socket must be closed before it returns).
 */

#endif /* MM_STORE_H */
