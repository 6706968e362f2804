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

/* ---------------- ZeroMQ store server (store/server.c) ---------------- */

struct store_server;

struct store_server_opts {
	const char *endpoint;     /* "inproc://mm-store", "tcp://127.0.0.1:7650" */
	const char *db_path;
	double aggregate_window;
	int batch_max;            /* records per transaction, at most */
	int batch_ms;             /* longest wait before a batch commits */
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
void store_server_free(struct store_server *s);

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

#endif /* MM_STORE_H */
