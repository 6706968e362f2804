/*
 * server.c - the alert store behind a ZeroMQ ROUTER socket.
 *
 * One thread owns the socket and the database.  It drains what arrived
 * (up to batch_max records, or for at most batch_ms), stores the batch in
 * one transaction, commits, and only then acknowledges: an ack promises
 * that the record survives a crash of the store (WAL, synchronous=NORMAL).
 *
 * Frames received on the ROUTER (DEALER peers add no empty delimiter):
 *   routing id | "MM1" | kind | sensor id | seq (8 bytes BE) | JSON
 * Frames sent back:
 *   routing id | "MM1" | "ack" | seq (8 bytes BE) [| seq ...]
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MM_MAGIC "MM1"
#define ROUTING_ID_MAX 255   /* ZeroMQ's limit for routing ids */
#define KIND_MAX 15
#define SENSOR_MAX 128
#define RECORD_MAX (4 << 20) /* a larger message is not ours: refused */
#define POLL_IDLE_MS 100     /* how often an idle loop looks at `stop` */

struct pending_ack {
	uint8_t rid[ROUTING_ID_MAX];
	uint8_t rid_len;
	uint64_t seq;
};

struct store_server {
	void *zctx;
	bool own_ctx;
	void *sock;
	struct store_db *db;
	char endpoint[256];
	char db_path[256];
	int batch_max;
	int batch_ms;
	bool quiet;

	struct pending_ack *acks; /* batch_max of them */
	int n_acks;
	int n_batch;              /* records in the open transaction */
	bool tx_open;
	bool tx_failed;           /* a db error in this batch: do not ack */

	atomic_bool stop;
	pthread_t thread;
	bool threaded;

	_Atomic uint64_t stored, duplicates, errors, db_errors, malformed,
		batches, acked, ack_drops;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Without CurveZMQ (a later change) anything on the network could read
 * the alerts and inject false ones: listen on loopback only.
 */
static int endpoint_allowed(const char *ep, char *err, size_t errlen)
{
	const char *host, *colon;
	size_t n;

	if (strncmp(ep, "inproc://", 9) == 0 || strncmp(ep, "ipc://", 6) == 0)
		return 0;
	if (strncmp(ep, "tcp://", 6) != 0) {
		snprintf(err, errlen,
			 "%s: unsupported endpoint (use tcp://127.0.0.1:PORT, "
			 "ipc://PATH or inproc://NAME)",
			 ep);
		return -1;
	}
	host = ep + 6;
	colon = strrchr(host, ':');
	n = colon ? (size_t)(colon - host) : strlen(host);
	if ((n == 9 && !strncmp(host, "127.0.0.1", 9)) ||
	    (n == 9 && !strncmp(host, "localhost", 9)) ||
	    (n == 5 && !strncmp(host, "[::1]", 5)))
		return 0;
	snprintf(err, errlen,
		 "refusing to listen on %s: without CurveZMQ keys the link is "
		 "neither encrypted nor authenticated, so the store listens "
		 "on loopback only (tcp://127.0.0.1:PORT, tcp://[::1]:PORT) or "
		 "ipc://; reach it from other machines through a tunnel",
		 ep);
	return -1;
}

struct store_server *store_server_new(void *zctx,
				      const struct store_server_opts *o,
				      char *err, size_t errlen)
{
	struct store_server *s;
	struct store_db_opts dbo = {0};
	char dberr[512];
	int v;
	int64_t maxsz = RECORD_MAX;
	size_t len;

	if (!o || !o->endpoint || !o->db_path) {
		snprintf(err, errlen, "store: endpoint and database required");
		return NULL;
	}
	if (endpoint_allowed(o->endpoint, err, errlen))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->batch_max = o->batch_max > 0 ? o->batch_max : 1000;
	s->batch_ms = o->batch_ms > 0 ? o->batch_ms : 50;
	s->quiet = o->quiet;
	snprintf(s->db_path, sizeof(s->db_path), "%s", o->db_path);
	s->acks = calloc((size_t)s->batch_max, sizeof(*s->acks));
	if (!s->acks) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	dbo.aggregate_window = o->aggregate_window;
	s->db = store_db_open(o->db_path, &dbo, dberr, sizeof(dberr));
	if (!s->db) {
		snprintf(err, errlen, "%s", dberr);
		goto fail;
	}
	if (zctx) {
		s->zctx = zctx;
	} else {
		s->zctx = zmq_ctx_new();
		s->own_ctx = true;
		if (!s->zctx) {
			snprintf(err, errlen, "zmq_ctx_new: %s",
				 zmq_strerror(errno));
			goto fail;
		}
	}
	s->sock = zmq_socket(s->zctx, ZMQ_ROUTER);
	if (!s->sock) {
		snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
		goto fail;
	}
	v = 0; /* at stop, acks not yet delivered are simply resent for */
	zmq_setsockopt(s->sock, ZMQ_LINGER, &v, sizeof(v));
	v = 100000; /* many sensors, each with a backlog to catch up */
	zmq_setsockopt(s->sock, ZMQ_RCVHWM, &v, sizeof(v));
	zmq_setsockopt(s->sock, ZMQ_SNDHWM, &v, sizeof(v));
	zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxsz, sizeof(maxsz));
	/* only for an IPv6 address: with it on, ZMQ_LAST_ENDPOINT of an
	 * IPv4 bind reads "tcp://[::ffff:127.0.0.1]:PORT" */
	v = strstr(o->endpoint, "://[") != NULL;
	zmq_setsockopt(s->sock, ZMQ_IPV6, &v, sizeof(v));
	/* a dead sensor's connection goes away instead of holding acks */
	v = 5000;
	zmq_setsockopt(s->sock, ZMQ_HEARTBEAT_IVL, &v, sizeof(v));
	v = 15000;
	zmq_setsockopt(s->sock, ZMQ_HEARTBEAT_TIMEOUT, &v, sizeof(v));
	if (zmq_bind(s->sock, o->endpoint) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", o->endpoint,
			 zmq_strerror(errno));
		goto fail;
	}
	len = sizeof(s->endpoint);
	if (zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &len) != 0 ||
	    !s->endpoint[0])
		snprintf(s->endpoint, sizeof(s->endpoint), "%s", o->endpoint);
	atomic_init(&s->stop, false);
	return s;
fail:
	store_server_free(s);
	return NULL;
}

const char *store_server_endpoint(const struct store_server *s)
{
	return s->endpoint;
}

void store_server_stats(const struct store_server *s,
			struct store_server_stats *st)
{
	st->stored = atomic_load(&s->stored);
	st->duplicates = atomic_load(&s->duplicates);
	st->errors = atomic_load(&s->errors);
	st->db_errors = atomic_load(&s->db_errors);
	st->malformed = atomic_load(&s->malformed);
	st->batches = atomic_load(&s->batches);
	st->acks = atomic_load(&s->acked);
	st->ack_drops = atomic_load(&s->ack_drops);
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* send the acks held for one peer, starting at acks[i]; all frames of
 * one message go out or none (ZeroMQ's multipart atomicity) */
static void send_acks_for(struct store_server *s, int first, bool *done)
{
	const struct pending_ack *a = &s->acks[first];
	int n = 0, flags = ZMQ_DONTWAIT | ZMQ_SNDMORE;
	bool stopped = false;
	uint8_t be[8];

	for (int i = first; i < s->n_acks; i++)
		if (!done[i] && s->acks[i].rid_len == a->rid_len &&
		    !memcmp(s->acks[i].rid, a->rid, a->rid_len))
			n++;
	if (zmq_send(s->sock, a->rid, a->rid_len, flags) < 0 ||
	    zmq_send(s->sock, MM_MAGIC, 3, flags) < 0 ||
	    zmq_send(s->sock, "ack", 3, flags) < 0) {
		/* EHOSTUNREACH never happens without ROUTER_MANDATORY;
		 * EAGAIN: the peer's pipe is full.  It resends. */
		atomic_fetch_add(&s->ack_drops, 1);
		for (int i = first; i < s->n_acks; i++)
			if (s->acks[i].rid_len == a->rid_len &&
			    !memcmp(s->acks[i].rid, a->rid, a->rid_len))
				done[i] = true;
		return;
	}
	for (int i = first; i < s->n_acks; i++) {
		if (done[i] || s->acks[i].rid_len != a->rid_len ||
		    memcmp(s->acks[i].rid, a->rid, a->rid_len))
			continue;
		done[i] = true;
		put_be64(be, s->acks[i].seq);
		if (--n == 0)
			flags &= ~ZMQ_SNDMORE;
		if (stopped)
			continue; /* the sensor resends these: acked then */
		if (zmq_send(s->sock, be, 8, flags) < 0) {
			/* the peer went away mid-message: ZeroMQ drops the
			 * parts already queued */
			atomic_fetch_add(&s->ack_drops, 1);
			stopped = true;
			continue;
		}
		atomic_fetch_add(&s->acked, 1);
	}
}

static void send_acks(struct store_server *s)
{
	bool *done;

	if (s->n_acks == 0)
		return;
	done = calloc((size_t)s->n_acks, sizeof(*done));
	if (!done) {
		/* not acknowledged now: the sensors resend, we ack then */
		s->n_acks = 0;
		return;
	}
	for (int i = 0; i < s->n_acks; i++)
		if (!done[i])
			send_acks_for(s, i, done);
	free(done);
	s->n_acks = 0;
}

/* commit the open batch, then acknowledge what it holds */
static void flush_batch(struct store_server *s)
{
	if (s->tx_open) {
		if (store_db_commit(s->db) != 0) {
			fprintf(stderr,
				"mimamori-store: commit failed (%d records not "
				"acknowledged; the sensors will resend)\n",
				s->n_acks);
			store_db_rollback(s->db);
			atomic_fetch_add(&s->db_errors, (uint64_t)s->n_acks);
			s->n_acks = 0;
		} else {
			atomic_fetch_add(&s->batches, 1);
		}
		s->tx_open = false;
	}
	send_acks(s);
	s->n_batch = 0;
}

static void malformed(struct store_server *s, const char *why)
{
	uint64_t n = atomic_fetch_add(&s->malformed, 1);

	/* say it for the first few, then only every 1000th */
	if (n < 10 || n % 1000 == 0)
		fprintf(stderr,
			"mimamori-store: dropped a malformed message (%s); "
			"%llu so far\n",
			why, (unsigned long long)n + 1);
}

/*
 * Receive one whole multipart message (the caller knows one is waiting)
 * and store its record.  Returns 1 when it took a record, 0 for a
 * malformed message, -1 when nothing was there.
 */
static int handle_one(struct store_server *s)
{
	zmq_msg_t f[6];
	int nf = 0, more = 1, extra = 0, rc = 0;
	char kind[KIND_MAX + 1], sensor[SENSOR_MAX + 1], err[512];
	uint64_t seq;

	while (more) {
		zmq_msg_t spare, *m = nf < 6 ? &f[nf] : &spare;
		zmq_msg_init(m);
		/* the first part may be absent; the others arrive with it */
		if (zmq_msg_recv(m, s->sock, nf == 0 && !extra ? ZMQ_DONTWAIT
							  : 0) < 0) {
			zmq_msg_close(m);
			if (nf == 0 && !extra)
				return -1;
			break;
		}
		more = zmq_msg_more(m);
		if (m == &spare) {
			extra++;
			zmq_msg_close(m);
		} else {
			nf++;
		}
	}
	if (nf != 6 || extra) {
		malformed(s, "wrong number of frames");
		goto out;
	}
	if (zmq_msg_size(&f[1]) != 3 || memcmp(zmq_msg_data(&f[1]), MM_MAGIC, 3)) {
		malformed(s, "not MM1");
		goto out;
	}
	if (zmq_msg_size(&f[0]) > ROUTING_ID_MAX || zmq_msg_size(&f[2]) == 0 ||
	    zmq_msg_size(&f[2]) > KIND_MAX || zmq_msg_size(&f[3]) == 0 ||
	    zmq_msg_size(&f[3]) > SENSOR_MAX || zmq_msg_size(&f[4]) != 8) {
		malformed(s, "bad kind, sensor id or seq frame");
		goto out;
	}
	memcpy(kind, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
	kind[zmq_msg_size(&f[2])] = '\0';
	memcpy(sensor, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]));
	sensor[zmq_msg_size(&f[3])] = '\0';
	if (strlen(kind) != zmq_msg_size(&f[2]) ||
	    strlen(sensor) != zmq_msg_size(&f[3])) {
		malformed(s, "NUL in kind or sensor id");
		goto out;
	}
	seq = get_be64(zmq_msg_data(&f[4]));
	rc = 1;

	if (!s->tx_open) {
		if (store_db_begin(s->db) != 0) {
			/* locked by someone else past the busy timeout: no
			 * ack, the sensor resends */
			atomic_fetch_add(&s->db_errors, 1);
			fprintf(stderr,
				"mimamori-store: %s: cannot start a "
				"transaction (locked?)\n",
				s->db_path);
			goto out;
		}
		s->tx_open = true;
	}
	s->n_batch++;
	switch (store_db_put(s->db, kind, sensor, seq, zmq_msg_data(&f[5]),
			     zmq_msg_size(&f[5]), err, sizeof(err))) {
	case 1:
		atomic_fetch_add(&s->stored, 1);
		break;
	case 0:
		/* our earlier ack was lost: acknowledge again */
		atomic_fetch_add(&s->duplicates, 1);
		break;
	default:
		if (!store_db_err_is_record(s->db)) {
			atomic_fetch_add(&s->db_errors, 1);
			fprintf(stderr, "mimamori-store: %s\n", err);
			goto out; /* not acknowledged: resent later */
		}
		/*
		 * The record itself is bad (not JSON, no signature, unknown
		 * kind).  Acknowledge it all the same: resending the same
		 * bytes can never succeed, and an unacknowledged record
		 * would sit in the sensor's spool forever.
		 */
		{
			uint64_t n = atomic_fetch_add(&s->errors, 1);
			if (n < 10 || n % 1000 == 0)
				fprintf(stderr,
					"mimamori-store: rejected record from "
					"%s seq %llu: %s\n",
					sensor, (unsigned long long)seq, err);
		}
		break;
	}
	{
		struct pending_ack *a = &s->acks[s->n_acks++];
		a->rid_len = (uint8_t)zmq_msg_size(&f[0]);
		memcpy(a->rid, zmq_msg_data(&f[0]), a->rid_len);
		a->seq = seq;
	}
out:
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
	return rc;
}

int store_server_run(struct store_server *s)
{
	zmq_pollitem_t it = {.socket = s->sock, .events = ZMQ_POLLIN};
	uint64_t batch_start = 0;
	int rc = 0;

	if (!s->quiet)
		fprintf(stderr, "mimamori-store: listening on %s, database %s\n",
			s->endpoint, s->db_path);
	while (!atomic_load(&s->stop)) {
		long timeout = POLL_IDLE_MS;
		if (s->n_batch > 0) {
			long left = (long)s->batch_ms -
				    (long)(now_ms() - batch_start);
			timeout = left > 0 ? left : 0;
		}
		int n = zmq_poll(&it, 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				break; /* a signal: commit and return */
			fprintf(stderr, "mimamori-store: zmq_poll: %s\n",
				zmq_strerror(errno));
			rc = -1;
			break;
		}
		if (n > 0) {
			while (s->n_batch < s->batch_max) {
				if (s->n_batch == 0)
					batch_start = now_ms();
				if (handle_one(s) < 0)
					break;
				if (s->n_batch > 0 &&
				    now_ms() - batch_start >= (uint64_t)s->batch_ms)
					break;
			}
		}
		if (s->n_batch > 0 &&
		    (s->n_batch >= s->batch_max ||
		     now_ms() - batch_start >= (uint64_t)s->batch_ms))
			flush_batch(s);
	}
	flush_batch(s);
	return rc;
}

static void *server_thread(void *arg)
{
	store_server_run(arg);
	return NULL;
}

int store_server_start_thread(struct store_server *s)
{
	sigset_t all, old;
	int rc;

	/* signals belong to the main thread of the process that embeds us */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, server_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	s->threaded = true;
	return 0;
}

void store_server_request_stop(struct store_server *s)
{
	atomic_store(&s->stop, true);
}

void store_server_stop(struct store_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	if (s->threaded) {
		pthread_join(s->thread, NULL);
		s->threaded = false;
	}
}

void store_server_free(struct store_server *s)
{
	if (!s)
		return;
	store_server_stop(s);
	if (s->sock)
		zmq_close(s->sock);
	if (s->own_ctx && s->zctx)
		zmq_ctx_term(s->zctx);
	store_db_close(s->db);
	free(s->acks);
	free(s);
}
