/*
 * server.c - the alert store behind a ZeroMQ ROUTER socket.
 *
 * Two threads share the work (a pipeline, two cores):
 *   - the receiving thread (store_server_run) owns the ROUTER socket: it
 *     checks each message's frames, parses its JSON (the costliest part of
 *     a record, store_rec_parse) and queues it for the database thread;
 *     it sends the acks the database thread hands back.  When that queue
 *     is full (two batches) it stops reading, and ZeroMQ's own bounds push
 *     back on the sensors.
 *   - the database thread (db_run) owns the connection: it stores up to
 *     batch_max records (or what arrived within batch_ms) in one
 *     transaction, commits, and only then passes their acks on: an ack
 *     promises that the record survives a crash of the store (WAL,
 *     synchronous=NORMAL).  Between batches, never inside one, it does the
 *     slow chores in small steps: retention (a bounded delete per step)
 *     and the sensor.silent check.  New alert rows are published (PUB
 *     socket, this thread's) and queued for syslog only after their
 *     transaction committed.
 *
 * Frames received on the ROUTER (DEALER peers add no empty delimiter):
 *   routing id | "MM1" | kind | sensor id | seq (8 bytes BE) | JSON
 * Frames sent back:
 *   routing id | "MM1ack" seq (8 bytes BE) [seq ...]   (one frame)
 *
 * CurveZMQ: with a secret key and an allow-list the ROUTER (and the PUB)
 * are CURVE servers, and a ZAP handler (ZeroMQ RFC 27) on
 * inproc://zeromq.zap.01, in its own thread, answers each handshake: 200
 * with the key's name as User-Id for a key on the list, 400 for any other,
 * which is logged with the key and the peer's address.  A refused peer
 * never gets a message through, so nothing of it is stored.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MM_MAGIC "MM1"
#define ROUTING_ID_MAX 255   /* ZeroMQ's limit for routing ids */
#define KIND_MAX 15
#define SENSOR_MAX 128
#define RECORD_MAX (4 << 20) /* a larger message is not ours: refused */
#define POLL_IDLE_MS 100     /* how often an idle loop looks at `stop` */
#define CHORE_MS 500         /* silence check and retention, this often */
#define RETAIN_STEP 1000     /* rows deleted per retention step, at most */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "mimamori"
#define REFUSED_LOG_MAX 32   /* (key, address) pairs whose refusal we
				remember, to log each once a minute */
#define REFUSED_LOG_MS 60000

struct pending_ack {
	uint8_t rid[ROUTING_ID_MAX];
	uint8_t rid_len;
	uint64_t seq;
};

/* a new alert row waiting for its commit, to be published */
struct pending_pub {
	struct pending_pub *next;
	char topic[48];
	char site[128];
	size_t len;
	char json[];
};

/* one message from a sensor, received and parsed, for the database */
struct item {
	struct item *next;
	uint8_t rid[ROUTING_ID_MAX];
	uint8_t rid_len;
	bool beat;             /* a heartbeat: stored, never acknowledged */
	bool bad;              /* a bad record: only acknowledged */
	uint64_t seq;
	char kind[KIND_MAX + 1];
	char sensor[SENSOR_MAX + 1];
	char key[ROUTING_ID_MAX + 1]; /* the CurveZMQ key's name, or "" */
	zmq_msg_t body;        /* the JSON */
	struct store_rec *rec; /* parsed (records only) */
};

/* acknowledgements of one committed batch, for the receiving thread */
struct ackbuf {
	struct ackbuf *next;
	int n;
	struct pending_ack a[];
};

struct refused {
	char key[MM_KEY_Z85_LEN + 1];
	char addr[64];
	uint64_t logged_ms;
	uint64_t since; /* attempts since it was last logged */
};

struct store_server {
	void *zctx;
	bool own_ctx;
	void *sock;
	void *pub;
	struct store_db *db;
	char endpoint[256];
	char pub_endpoint[256];
	char db_path[256];
	int batch_max;
	int batch_ms;
	bool quiet;
	double silent_after;
	int64_t started;          /* wall clock, seconds */
	bool retention;           /* retain_days or retain_mb set */
	uint64_t next_chore;      /* monotonic ms */
	bool retain_more;         /* the last step was full: go on soon */

	/* the database thread's: the open batch */
	struct pending_ack *acks; /* batch_max of them */
	int n_acks;
	int n_batch;              /* records in the open transaction */
	uint64_t batch_start;     /* monotonic ms of its first record */
	bool tx_open;
	bool tx_failed;           /* a db error in this batch: do not ack */
	struct pending_pub *pubs, *pubs_tail;

	/* receiving thread -> database thread: parsed records (bounded:
	 * when it is full the receiving thread stops reading the socket,
	 * and ZeroMQ's own bounds push back on the sensors) */
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	struct item *q_head, *q_tail;
	int q_n, q_max;
	bool db_stop;
	bool drain;               /* commit as soon as the queue is empty */
	pthread_t db_thread;
	bool db_started;
	/* database thread -> receiving thread: acks of committed batches */
	pthread_mutex_t a_mu;
	struct ackbuf *a_head, *a_tail;
	int a_efd;
	bool locks;               /* q_mu, q_cv, a_mu made */

	/* CurveZMQ */
	bool curve;
	struct mm_allow *allow;
	void *zap;
	pthread_t zap_thread;
	bool zap_started;
	struct refused refused[REFUSED_LOG_MAX];
	char accepted[8][129];    /* key names logged as connected */
	int n_accepted;

	struct store_fwd *fwd;
	struct store_parser *parser; /* the receiving thread's */

	atomic_bool stop;
	pthread_t thread;
	bool threaded;

	_Atomic uint64_t stored, duplicates, errors, db_errors, malformed,
		batches, acked, ack_drops, beats, n_refused, silent, retained,
		published, pub_drops, forwarded, fwd_drops;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Without CurveZMQ anything on the network could read the alerts and
 * inject false ones: listen on loopback only.
 */
static int endpoint_allowed(const char *ep, bool curve, char *err,
			    size_t errlen)
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
	if (curve)
		return 0;
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
		 "ipc://; give --curve-secret and --allow to listen on the "
		 "network",
		 ep);
	return -1;
}

/* ---------------- ZAP: who may connect ---------------- */

static void zap_log_refusal(struct store_server *s, const uint8_t *key,
			    const char *addr)
{
	char z85[MM_KEY_Z85_LEN + 1];
	struct refused *r = NULL, *oldest = &s->refused[0];
	uint64_t now = now_ms();

	zmq_z85_encode(z85, key, 32);
	for (int i = 0; i < REFUSED_LOG_MAX; i++) {
		struct refused *e = &s->refused[i];
		if (!strcmp(e->key, z85) && !strcmp(e->addr, addr)) {
			r = e;
			break;
		}
		if (e->logged_ms < oldest->logged_ms)
			oldest = e;
	}
	if (r && now - r->logged_ms < REFUSED_LOG_MS) {
		r->since++; /* a sensor retries every few seconds: once a minute */
		return;
	}
	if (!r) {
		r = oldest;
		snprintf(r->key, sizeof(r->key), "%s", z85);
		snprintf(r->addr, sizeof(r->addr), "%s", addr);
		r->since = 0;
	}
	fprintf(stderr,
		"mimamori-store: refused a connection from %s: CurveZMQ public "
		"key %s is not on the allow-list (nothing of it is stored)%s\n",
		addr, z85, r->since ? " (and earlier attempts)" : "");
	r->since = 0;
	r->logged_ms = now;
}

static void zap_log_accept(struct store_server *s, const char *name,
			   const char *addr)
{
	for (int i = 0; i < s->n_accepted; i++)
		if (!strcmp(s->accepted[i], name))
			return;
	if (s->n_accepted < 8)
		snprintf(s->accepted[s->n_accepted++], sizeof(s->accepted[0]),
			 "%s", name);
	if (!s->quiet)
		fprintf(stderr,
			"mimamori-store: sensor key \"%s\" connected from %s\n",
			name, addr);
}

/* one ZAP request (RFC 27): version, request id, domain, address,
 * identity, mechanism, credentials... */
static void zap_handle(struct store_server *s)
{
	zmq_msg_t f[8];
	int nf = 0, more = 1;
	const char *status = "400", *text = "not allowed", *user = "";
	char addr[64] = "?";

	while (more) {
		zmq_msg_t spare, *m = nf < 8 ? &f[nf] : &spare;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, s->zap, 0) < 0) {
			zmq_msg_close(m);
			break;
		}
		more = zmq_msg_more(m);
		if (m == &spare)
			zmq_msg_close(m);
		else
			nf++;
	}
	if (nf < 6) {
		for (int i = 0; i < nf; i++)
			zmq_msg_close(&f[i]);
		return; /* not ZAP: a REP socket cannot answer nothing, but
			   libzmq only ever sends whole requests here */
	}
	if (zmq_msg_size(&f[3]) < sizeof(addr)) {
		memcpy(addr, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]));
		addr[zmq_msg_size(&f[3])] = '\0';
	}
	if (zmq_msg_size(&f[0]) == 3 && !memcmp(zmq_msg_data(&f[0]), "1.0", 3) &&
	    zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) &&
	    nf >= 7 && zmq_msg_size(&f[6]) == 32) {
		const char *name = mm_allow_find(s->allow, zmq_msg_data(&f[6]));
		if (name) {
			status = "200";
			text = "OK";
			user = name;
			zap_log_accept(s, name, addr);
		} else {
			atomic_fetch_add(&s->n_refused, 1);
			zap_log_refusal(s, zmq_msg_data(&f[6]), addr);
		}
	} else {
		/* another mechanism on a CURVE socket: cannot happen, refuse */
		atomic_fetch_add(&s->n_refused, 1);
		fprintf(stderr,
			"mimamori-store: refused a connection from %s: not a "
			"CurveZMQ handshake\n",
			addr);
	}
	/* reply: version, request id, status code, status text, user id,
	 * metadata */
	zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(s->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
	zmq_send(s->zap, status, 3, ZMQ_SNDMORE);
	zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(s->zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(s->zap, "", 0, 0);
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
}

static void *zap_run(void *arg)
{
	struct store_server *s = arg;
	zmq_pollitem_t it = {.socket = s->zap, .events = ZMQ_POLLIN};

	while (!atomic_load(&s->stop)) {
		int n = zmq_poll(&it, 1, POLL_IDLE_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* the context is going away */
		}
		if (n > 0)
			zap_handle(s);
	}
	return NULL;
}

/* make `sock` a CURVE server with the store's secret key */
static int curve_server(struct store_server *s, void *sock,
			const char *secret)
{
	int one = 1;

	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, MM_KEY_Z85_LEN) ||
	    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
			   strlen(ZAP_DOMAIN)))
		return -1;
	(void)s;
	return 0;
}

/* ---------------- new rows: publish after commit ---------------- */

static void on_new_alert(void *arg, const char *sensor, const char *site,
			 int severity, const char *proto, const char *json,
			 size_t len)
{
	struct store_server *s = arg;
	struct pending_pub *p;

	(void)sensor;
	if (!s->pub && !s->fwd)
		return;
	p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return; /* best effort, as PUB itself is */
	p->next = NULL;
	snprintf(p->topic, sizeof(p->topic), "alert.%d.%.32s",
		 severity >= 0 && severity < 100 ? severity : 0, proto);
	snprintf(p->site, sizeof(p->site), "%s", site ? site : "");
	memcpy(p->json, json, len);
	p->json[len] = '\0';
	p->len = len;
	if (s->pubs_tail)
		s->pubs_tail->next = p;
	else
		s->pubs = p;
	s->pubs_tail = p;
}

static void pubs_drop(struct store_server *s)
{
	while (s->pubs) {
		struct pending_pub *n = s->pubs->next;
		free(s->pubs);
		s->pubs = n;
	}
	s->pubs_tail = NULL;
}

/* the batch committed: tell the live subscribers and the SOC */
static void pubs_send(struct store_server *s)
{
	for (struct pending_pub *p = s->pubs; p; p = p->next) {
		if (s->pub) {
			/* a PUB socket drops for slow subscribers rather
			 * than block: best effort, by design */
			if (zmq_send(s->pub, p->topic, strlen(p->topic),
				     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
			    zmq_send(s->pub, p->json, p->len, ZMQ_DONTWAIT) < 0)
				atomic_fetch_add(&s->pub_drops, 1);
			else
				atomic_fetch_add(&s->published, 1);
		}
		if (s->fwd) {
			if (store_fwd_push(s->fwd, p->site, p->json, p->len) < 0)
				atomic_fetch_add(&s->fwd_drops, 1);
			else
				atomic_fetch_add(&s->forwarded, 1);
		}
	}
	pubs_drop(s);
}

/* ---------------- setup ---------------- */

static void tune_socket(void *sock)
{
	int v;

	v = 0; /* at stop, acks not yet delivered are simply resent for */
	zmq_setsockopt(sock, ZMQ_LINGER, &v, sizeof(v));
	/* a dead sensor's connection goes away instead of holding acks */
	v = 5000;
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &v, sizeof(v));
	v = 15000;
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &v, sizeof(v));
}

static int bind_socket(void *sock, const char *ep, char *out, size_t outlen,
		       char *err, size_t errlen)
{
	int v = strstr(ep, "://[") != NULL;
	size_t len = outlen;

	/* only for an IPv6 address: with it on, ZMQ_LAST_ENDPOINT of an
	 * IPv4 bind reads "tcp://[::ffff:127.0.0.1]:PORT" */
	zmq_setsockopt(sock, ZMQ_IPV6, &v, sizeof(v));
	if (zmq_bind(sock, ep) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", ep,
			 zmq_strerror(errno));
		return -1;
	}
	if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &len) != 0 || !out[0])
		snprintf(out, outlen, "%s", ep);
	return 0;
}

struct store_server *store_server_new(void *zctx,
				      const struct store_server_opts *o,
				      char *err, size_t errlen)
{
	struct store_server *s;
	struct store_db_opts dbo = {0};
	char dberr[512], secret[MM_KEY_Z85_LEN + 1];
	int v;
	int64_t maxsz = RECORD_MAX;
	bool curve;
	struct timespec now;

	if (!o || !o->endpoint || !o->db_path) {
		snprintf(err, errlen, "store: endpoint and database required");
		return NULL;
	}
	if (!!o->curve_secret != !!o->allow) {
		snprintf(err, errlen,
			 "CurveZMQ needs both the store's secret key "
			 "(--curve-secret) and the sensors' public keys "
			 "(--allow): encryption without knowing who connects "
			 "would let anyone in");
		return NULL;
	}
	curve = o->curve_secret != NULL;
	if (endpoint_allowed(o->endpoint, curve, err, errlen) ||
	    (o->publish && endpoint_allowed(o->publish, curve, err, errlen)))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->a_efd = -1;
	s->batch_max = o->batch_max > 0 ? o->batch_max : 1000;
	/* two batches parsed ahead of the database at most */
	s->q_max = 2 * s->batch_max;
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->q_cv, &ca);
		pthread_condattr_destroy(&ca);
		pthread_mutex_init(&s->q_mu, NULL);
		pthread_mutex_init(&s->a_mu, NULL);
		s->locks = true;
	}
	s->a_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->a_efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	s->batch_ms = o->batch_ms > 0 ? o->batch_ms : 50;
	s->quiet = o->quiet;
	s->silent_after = o->silent_after == 0 ? 300 : o->silent_after;
	s->retention = o->retain_days > 0 || o->retain_mb > 0;
	s->curve = curve;
	clock_gettime(CLOCK_REALTIME, &now);
	s->started = now.tv_sec;
	snprintf(s->db_path, sizeof(s->db_path), "%s", o->db_path);
	s->acks = calloc((size_t)s->batch_max, sizeof(*s->acks));
	if (!s->acks) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (curve) {
		if (mm_key_load(o->curve_secret, true, secret, err, errlen))
			goto fail;
		s->allow = mm_allow_load(o->allow, err, errlen);
		if (!s->allow)
			goto fail;
	}
	dbo.aggregate_window = o->aggregate_window;
	dbo.retain_days = o->retain_days;
	dbo.retain_mb = o->retain_mb;
	dbo.on_new_alert = on_new_alert;
	dbo.arg = s;
	s->db = store_db_open(o->db_path, &dbo, dberr, sizeof(dberr));
	if (!s->db) {
		snprintf(err, errlen, "%s", dberr);
		goto fail;
	}
	s->parser = store_parser_new(err, errlen);
	if (!s->parser)
		goto fail;
	if (o->syslog) {
		s->fwd = store_fwd_new(o->syslog, o->syslog_format,
				       o->syslog_queue, err, errlen);
		if (!s->fwd)
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
	if (curve) {
		/* the handler must listen before the first handshake */
		s->zap = zmq_socket(s->zctx, ZMQ_REP);
		v = 0;
		if (!s->zap ||
		    zmq_setsockopt(s->zap, ZMQ_LINGER, &v, sizeof(v)) ||
		    zmq_bind(s->zap, ZAP_ENDPOINT) != 0) {
			snprintf(err, errlen,
				 "cannot start the ZAP handler on %s: %s",
				 ZAP_ENDPOINT, zmq_strerror(errno));
			goto fail;
		}
	}
	s->sock = zmq_socket(s->zctx, ZMQ_ROUTER);
	if (!s->sock) {
		snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
		goto fail;
	}
	tune_socket(s->sock);
	v = 100000; /* many sensors, each with a backlog to catch up */
	zmq_setsockopt(s->sock, ZMQ_RCVHWM, &v, sizeof(v));
	zmq_setsockopt(s->sock, ZMQ_SNDHWM, &v, sizeof(v));
	zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxsz, sizeof(maxsz));
	if (curve && curve_server(s, s->sock, secret)) {
		snprintf(err, errlen, "CurveZMQ: %s", zmq_strerror(errno));
		goto fail;
	}
	if (bind_socket(s->sock, o->endpoint, s->endpoint, sizeof(s->endpoint),
			err, errlen))
		goto fail;
	if (o->publish) {
		s->pub = zmq_socket(s->zctx, ZMQ_PUB);
		if (!s->pub) {
			snprintf(err, errlen, "zmq_socket: %s",
				 zmq_strerror(errno));
			goto fail;
		}
		tune_socket(s->pub);
		v = 10000; /* per subscriber; beyond it, it loses messages */
		zmq_setsockopt(s->pub, ZMQ_SNDHWM, &v, sizeof(v));
		if (curve && curve_server(s, s->pub, secret)) {
			snprintf(err, errlen, "CurveZMQ: %s",
				 zmq_strerror(errno));
			goto fail;
		}
		if (bind_socket(s->pub, o->publish, s->pub_endpoint,
				sizeof(s->pub_endpoint), err, errlen))
			goto fail;
	}
	memset(secret, 0, sizeof(secret));
	atomic_init(&s->stop, false);
	if (curve) {
		if (pthread_create(&s->zap_thread, NULL, zap_run, s) != 0) {
			snprintf(err, errlen, "cannot start the ZAP thread");
			goto fail;
		}
		s->zap_started = true;
	}
	return s;
fail:
	memset(secret, 0, sizeof(secret));
	store_server_free(s);
	return NULL;
}

const char *store_server_endpoint(const struct store_server *s)
{
	return s->endpoint;
}

const char *store_server_publish_endpoint(const struct store_server *s)
{
	return s->pub ? s->pub_endpoint : NULL;
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
	st->beats = atomic_load(&s->beats);
	st->refused = atomic_load(&s->n_refused);
	st->silent = atomic_load(&s->silent);
	st->retained = atomic_load(&s->retained);
	st->published = atomic_load(&s->published);
	st->pub_drops = atomic_load(&s->pub_drops);
	st->forwarded = atomic_load(&s->forwarded);
	st->fwd_drops = atomic_load(&s->fwd_drops);
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

static void deadline(struct timespec *ts, uint64_t ms_from_now)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms_from_now / 1000);
	ts->tv_nsec += (long)(ms_from_now % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* ---------------- acknowledgements (receiving thread) ---------------- */

/*
 * Send the acks held for one peer, starting at a[first], as ONE frame
 * after the routing id: "MM1ack" and 8 bytes per sequence number.  One
 * frame, not one per number: libzmq 4.3 asserts (fq.cpp, !_more) in a
 * sensor whose store dies in the middle of a multipart message, which
 * killed the sensor when the store was SIGKILLed under load.
 */
static void send_acks_for(struct store_server *s, const struct pending_ack *acks,
			  int n_acks, int first, bool *done)
{
	const struct pending_ack *a = &acks[first];
	int n = 0;
	uint8_t *buf;
	size_t len;

	for (int i = first; i < n_acks; i++)
		if (!done[i] && acks[i].rid_len == a->rid_len &&
		    !memcmp(acks[i].rid, a->rid, a->rid_len))
			n++;
	len = 6 + (size_t)n * 8;
	buf = malloc(len);
	if (buf) {
		memcpy(buf, MM_MAGIC "ack", 6);
		len = 6;
	}
	for (int i = first; i < n_acks; i++) {
		if (done[i] || acks[i].rid_len != a->rid_len ||
		    memcmp(acks[i].rid, a->rid, a->rid_len))
			continue;
		done[i] = true;
		if (buf) {
			put_be64(buf + len, acks[i].seq);
			len += 8;
		}
	}
	/* EAGAIN (the peer's pipe is full) or no memory: the sensor resends
	 * what stays unacknowledged, and is acked then */
	if (!buf ||
	    zmq_send(s->sock, a->rid, a->rid_len, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
	    zmq_send(s->sock, buf, len, ZMQ_DONTWAIT) < 0) {
		atomic_fetch_add(&s->ack_drops, 1);
	} else {
		atomic_fetch_add(&s->acked, (uint64_t)n);
	}
	free(buf);
}

/* every ack the database thread handed over since the last time */
static void send_acks(struct store_server *s)
{
	struct ackbuf *b;

	pthread_mutex_lock(&s->a_mu);
	b = s->a_head;
	s->a_head = s->a_tail = NULL;
	pthread_mutex_unlock(&s->a_mu);
	while (b) {
		struct ackbuf *next = b->next;
		bool *done = calloc((size_t)b->n, sizeof(*done));
		/* without memory: not acknowledged now, the sensors resend
		 * and we ack then */
		for (int i = 0; done && i < b->n; i++)
			if (!done[i])
				send_acks_for(s, b->a, b->n, i, done);
		free(done);
		free(b);
		b = next;
	}
}

/* ---------------- the database thread ---------------- */

/* hand the batch's acks to the receiving thread (after the commit) */
static void pass_acks(struct store_server *s)
{
	struct ackbuf *b;
	uint64_t one = 1;

	if (s->n_acks == 0)
		return;
	b = malloc(sizeof(*b) + (size_t)s->n_acks * sizeof(b->a[0]));
	if (b) {
		b->next = NULL;
		b->n = s->n_acks;
		memcpy(b->a, s->acks, (size_t)s->n_acks * sizeof(b->a[0]));
		pthread_mutex_lock(&s->a_mu);
		if (s->a_tail)
			s->a_tail->next = b;
		else
			s->a_head = b;
		s->a_tail = b;
		pthread_mutex_unlock(&s->a_mu);
		if (write(s->a_efd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is set, it wakes anyway */
		}
	}
	s->n_acks = 0;
}

/* the batch went wrong in the database: undo it, acknowledge nothing
 * (the sensors resend every record of it) */
static void fail_batch(struct store_server *s, const char *why)
{
	fprintf(stderr,
		"mimamori-store: %s: %s (%d records not acknowledged; the "
		"sensors will resend)\n",
		s->db_path, why, s->n_acks);
	store_db_rollback(s->db);
	atomic_fetch_add(&s->db_errors, (uint64_t)s->n_acks);
	s->n_acks = 0;
	s->tx_open = false;
	s->tx_failed = false;
	pubs_drop(s);
}

/* commit the open batch, then acknowledge what it holds */
static void flush_batch(struct store_server *s)
{
	if (s->tx_open && s->tx_failed) {
		fail_batch(s, "a database error in this batch");
	} else if (s->tx_open) {
		if (store_db_commit(s->db) != 0) {
			fail_batch(s, "commit failed");
		} else {
			atomic_fetch_add(&s->batches, 1);
			pubs_send(s);
		}
		s->tx_open = false;
	}
	pass_acks(s);
	s->n_batch = 0;
}

/* between batches: the silence check and a retention step, when due */
static void chores(struct store_server *s)
{
	char err[512];
	uint64_t now = now_ms();
	long n;
	int made;

	if (s->tx_open || (now < s->next_chore && !s->retain_more))
		return;
	if (now >= s->next_chore) {
		s->next_chore = now + CHORE_MS;
		if (s->silent_after > 0) {
			made = store_db_check_silence(s->db, s->silent_after,
						      s->started, err,
						      sizeof(err));
			if (made < 0)
				fprintf(stderr, "mimamori-store: %s\n", err);
			else if (made > 0) {
				atomic_fetch_add(&s->silent, (uint64_t)made);
				pubs_send(s);
			}
			pubs_drop(s); /* a failed check left nothing */
		}
	}
	/* retention, and the pruning of (sensor, seq) rows no sensor can
	 * resend: one bounded step, again soon when it was full */
	n = store_db_retention_step(s->db, RETAIN_STEP, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "mimamori-store: retention: %s\n", err);
		s->retain_more = false;
		return;
	}
	if (n > 0)
		atomic_fetch_add(&s->retained, (uint64_t)n);
	s->retain_more = n >= RETAIN_STEP;
}

static int open_tx(struct store_server *s)
{
	if (s->tx_open)
		return 0;
	if (store_db_begin(s->db) != 0) {
		/* locked by someone else past the busy timeout: no ack, the
		 * sensor resends */
		atomic_fetch_add(&s->db_errors, 1);
		fprintf(stderr,
			"mimamori-store: %s: cannot start a transaction "
			"(locked?)\n",
			s->db_path);
		return -1;
	}
	s->tx_open = true;
	return 0;
}

static void item_free(struct item *it)
{
	store_rec_free(it->rec);
	zmq_msg_close(&it->body);
	free(it);
}

/* store one item in the open batch (opening one when needed) */
static void db_item(struct store_server *s, struct item *it)
{
	char err[512];

	if (s->n_batch == 0)
		s->batch_start = now_ms();
	if (open_tx(s))
		return;
	s->n_batch++;
	if (s->tx_failed)
		return; /* spoilt: nothing more goes in, nothing is acked */
	if (it->beat) {
		/* the link's counters: never acknowledged, never resent */
		if (store_db_beat(s->db, it->sensor, it->seq,
				  zmq_msg_data(&it->body),
				  zmq_msg_size(&it->body),
				  it->key[0] ? it->key : NULL, err,
				  sizeof(err)) == 0)
			atomic_fetch_add(&s->beats, 1);
		else if (!store_db_err_is_record(s->db))
			s->tx_failed = true;
		return;
	}
	if (it->rec) {
		switch (store_db_put_rec(s->db, it->rec, err, sizeof(err))) {
		case 1:
			atomic_fetch_add(&s->stored, 1);
			if (it->key[0] &&
			    store_rec_kind(it->rec) == STORE_K_HELLO &&
			    store_db_note_key(s->db, it->sensor, it->key))
				s->tx_failed = true;
			break;
		case 0:
			/* our earlier ack was lost: acknowledge again */
			atomic_fetch_add(&s->duplicates, 1);
			break;
		default:
			/* the transaction is spoilt: it is rolled back at
			 * the flush, and nothing in it acknowledged */
			fprintf(stderr, "mimamori-store: %s\n", err);
			s->tx_failed = true;
			return;
		}
	}
	/* stored, a resend, or a bad record (acknowledged all the same:
	 * the same bytes can never succeed) */
	{
		struct pending_ack *a = &s->acks[s->n_acks++];
		a->rid_len = it->rid_len;
		memcpy(a->rid, it->rid, it->rid_len);
		a->seq = it->seq;
	}
}

static void *db_run(void *arg)
{
	struct store_server *s = arg;

	s->next_chore = now_ms() + CHORE_MS;
	pthread_mutex_lock(&s->q_mu);
	for (;;) {
		struct item *list;
		bool stop, drain;

		while (!s->q_head && !s->db_stop) {
			/* wait for records, the batch's deadline, or the
			 * next chore */
			uint64_t now = now_ms(), until;
			struct timespec dl;
			if (s->n_batch > 0)
				until = s->drain ? now
						 : s->batch_start +
							   (uint64_t)s->batch_ms;
			else if (s->retain_more)
				until = now;
			else
				until = s->next_chore;
			if (until <= now)
				break;
			deadline(&dl, until - now);
			if (pthread_cond_timedwait(&s->q_cv, &s->q_mu, &dl) ==
			    ETIMEDOUT)
				break;
		}
		/* at most the rest of a batch: the ack array's size */
		list = s->q_head;
		{
			struct item **pp = &s->q_head;
			int take = s->batch_max - s->n_batch;
			while (*pp && take-- > 0) {
				pp = &(*pp)->next;
				s->q_n--;
			}
			s->q_head = *pp;
			if (!s->q_head)
				s->q_tail = NULL;
			*pp = NULL;
		}
		stop = s->db_stop && !s->q_head;
		drain = s->drain && !s->q_head;
		pthread_mutex_unlock(&s->q_mu);

		while (list) {
			struct item *next = list->next;
			db_item(s, list);
			item_free(list);
			list = next;
		}
		if (s->n_batch > 0 &&
		    (s->n_batch >= s->batch_max || stop || drain ||
		     now_ms() - s->batch_start >= (uint64_t)s->batch_ms))
			flush_batch(s);
		if (s->n_batch == 0 && !stop)
			chores(s);
		pthread_mutex_lock(&s->q_mu);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&s->q_mu);
	flush_batch(s);
	return NULL;
}

/* ---------------- the receiving thread ---------------- */

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
 * Receive one whole multipart message (the caller knows one may be
 * waiting), check it and parse its record.  Returns the item for the
 * database, NULL for a malformed message (dropped, counted) or when
 * nothing was there (*none).
 */
static struct item *recv_one(struct store_server *s, bool *none)
{
	zmq_msg_t f[6];
	int nf = 0, more = 1, extra = 0;
	struct item *it = NULL;
	char err[512];
	const char *key;

	*none = false;
	while (more) {
		zmq_msg_t spare, *m = nf < 6 ? &f[nf] : &spare;
		zmq_msg_init(m);
		/* the first part may be absent; the others arrive with it */
		if (zmq_msg_recv(m, s->sock, nf == 0 && !extra ? ZMQ_DONTWAIT
							  : 0) < 0) {
			zmq_msg_close(m);
			if (nf == 0 && !extra) {
				*none = true;
				return NULL;
			}
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
	it = calloc(1, sizeof(*it));
	if (!it)
		goto out; /* not acknowledged: resent */
	memcpy(it->kind, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
	memcpy(it->sensor, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]));
	if (strlen(it->kind) != zmq_msg_size(&f[2]) ||
	    strlen(it->sensor) != zmq_msg_size(&f[3])) {
		malformed(s, "NUL in kind or sensor id");
		free(it);
		it = NULL;
		goto out;
	}
	it->seq = get_be64(zmq_msg_data(&f[4]));
	it->rid_len = (uint8_t)zmq_msg_size(&f[0]);
	memcpy(it->rid, zmq_msg_data(&f[0]), it->rid_len);
	/* the allow-list name of the key this peer authenticated with */
	if (s->curve && (key = zmq_msg_gets(&f[5], "User-Id")))
		snprintf(it->key, sizeof(it->key), "%s", key);
	zmq_msg_init(&it->body);
	zmq_msg_move(&it->body, &f[5]);
	if (!strcmp(it->kind, "beat")) {
		it->beat = true;
	} else {
		/* parsing here, in parallel with the database's work */
		it->rec = store_rec_parse(s->parser, it->kind, it->sensor,
					  it->seq,
					  zmq_msg_data(&it->body),
					  zmq_msg_size(&it->body), &it->bad,
					  err, sizeof(err));
		if (!it->rec && !it->bad) {
			item_free(it); /* out of memory: resent later */
			it = NULL;
		} else if (!it->rec) {
			uint64_t n = atomic_fetch_add(&s->errors, 1);
			if (n < 10 || n % 1000 == 0)
				fprintf(stderr,
					"mimamori-store: rejected record from "
					"%s seq %llu: %s\n",
					it->sensor, (unsigned long long)it->seq,
					err);
		}
	}
out:
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
	return it;
}

/* a thread that takes no signal (it inherits the mask it is made with) */
static int start_unsignalled(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc != 0 ? -1 : 0;
}

/* the database thread takes no signal: they stop the receiving loop */
static int start_db_thread(struct store_server *s)
{
	if (s->db_started)
		return 0;
	if (start_unsignalled(&s->db_thread, db_run, s))
		return -1;
	s->db_started = true;
	return 0;
}

int store_server_run(struct store_server *s)
{
	zmq_pollitem_t it[2] = {
		{.socket = s->sock, .events = ZMQ_POLLIN},
		{.socket = NULL, .fd = s->a_efd, .events = ZMQ_POLLIN},
	};
	int rc = 0;

	if (!s->quiet) {
		fprintf(stderr, "mimamori-store: listening on %s, database %s",
			s->endpoint, s->db_path);
		if (s->curve)
			fprintf(stderr, ", CurveZMQ on (%zu sensor keys "
				"allowed)", mm_allow_count(s->allow));
		else if (!strncmp(s->endpoint, "tcp://", 6))
			fprintf(stderr, " (no CurveZMQ keys: loopback only)");
		if (s->pub)
			fprintf(stderr, ", publishing on %s", s->pub_endpoint);
		fprintf(stderr, "\n");
	}
	if (start_db_thread(s)) {
		fprintf(stderr, "mimamori-store: cannot start the database "
				"thread\n");
		return -1;
	}
	while (!atomic_load(&s->stop)) {
		bool full;
		int n;

		pthread_mutex_lock(&s->q_mu);
		full = s->q_n >= s->q_max;
		pthread_mutex_unlock(&s->q_mu);
		/* a full queue: stop reading until the database caught up */
		it[0].events = full ? 0 : ZMQ_POLLIN;
		n = zmq_poll(it, 2, full ? 5 : POLL_IDLE_MS);
		if (n < 0) {
			if (errno == EINTR)
				break; /* a signal: commit and return */
			fprintf(stderr, "mimamori-store: zmq_poll: %s\n",
				zmq_strerror(errno));
			rc = -1;
			break;
		}
		if (it[1].revents & ZMQ_POLLIN) {
			uint64_t v;
			if (read(s->a_efd, &v, sizeof(v)) < 0) {
				/* EAGAIN: nothing new */
			}
			send_acks(s);
		}
		if (!(it[0].revents & ZMQ_POLLIN))
			continue;
		/* a run of messages, then hand them over at once */
		struct item *head = NULL, **tail = &head;
		int got = 0;
		for (int k = 0; k < 1000 && got < s->q_max; k++) {
			bool none;
			struct item *one = recv_one(s, &none);
			if (none)
				break;
			if (!one)
				continue;
			*tail = one;
			tail = &one->next;
			got++;
		}
		if (!head)
			continue;
		pthread_mutex_lock(&s->q_mu);
		if (s->q_tail)
			s->q_tail->next = head;
		else
			s->q_head = head;
		s->q_tail = (struct item *)((char *)tail -
					    offsetof(struct item, next));
		s->q_n += got;
		pthread_cond_signal(&s->q_cv);
		pthread_mutex_unlock(&s->q_mu);
	}
	/* commit what is queued and held, then the acks that still can go */
	pthread_mutex_lock(&s->q_mu);
	s->db_stop = true;
	pthread_cond_signal(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
	pthread_join(s->db_thread, NULL);
	s->db_started = false;
	send_acks(s);
	return rc;
}

static void *server_thread(void *arg)
{
	store_server_run(arg);
	return NULL;
}

int store_server_start_thread(struct store_server *s)
{
	/* both threads exist when this returns: an embedding process may
	 * forbid making threads (a seccomp filter) right after */
	if (start_db_thread(s))
		return -1;
	/* signals belong to the main thread of the process that embeds us */
	if (start_unsignalled(&s->thread, server_thread, s))
		return -1;
	s->threaded = true;
	return 0;
}

void store_server_request_stop(struct store_server *s)
{
	atomic_store(&s->stop, true);
}

void store_server_drain(struct store_server *s)
{
	if (!s || !s->locks)
		return;
	pthread_mutex_lock(&s->q_mu);
	s->drain = true;
	pthread_cond_signal(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
}

void store_server_stop(struct store_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	atomic_store(&s->stop, true);
	/* wake its poll now rather than at the next idle timeout (an
	 * embedding sensor waits for this join before it exits) */
	if (s->threaded && s->a_efd >= 0 &&
	    write(s->a_efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is set, it wakes anyway */
	}
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
	if (s->db_started) {
		/* started, but run() never took it over */
		pthread_mutex_lock(&s->q_mu);
		s->db_stop = true;
		pthread_cond_signal(&s->q_cv);
		pthread_mutex_unlock(&s->q_mu);
		pthread_join(s->db_thread, NULL);
		s->db_started = false;
	}
	if (s->zap_started) {
		pthread_join(s->zap_thread, NULL);
		s->zap_started = false;
	}
	if (s->sock)
		zmq_close(s->sock);
	if (s->pub)
		zmq_close(s->pub);
	if (s->zap)
		zmq_close(s->zap);
	if (s->own_ctx && s->zctx)
		zmq_ctx_term(s->zctx);
	/* what is queued for syslog gets a moment to leave */
	store_fwd_free(s->fwd, 1000);
	store_db_close(s->db);
	store_parser_free(s->parser);
	pubs_drop(s);
	while (s->q_head) {
		struct item *n = s->q_head->next;
		item_free(s->q_head);
		s->q_head = n;
	}
	while (s->a_head) {
		struct ackbuf *n = s->a_head->next;
		free(s->a_head);
		s->a_head = n;
	}
	if (s->locks) {
		pthread_mutex_destroy(&s->q_mu);
		pthread_cond_destroy(&s->q_cv);
		pthread_mutex_destroy(&s->a_mu);
	}
	if (s->a_efd >= 0)
		close(s->a_efd);
	mm_allow_free(s->allow);
	free(s->acks);
	free(s);
}
