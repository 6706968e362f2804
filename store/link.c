/*
 * link.c - the sensor's side of the store link: the ZeroMQ Guide's
 * reliability pattern (sequence numbers, acknowledgements, resend, and an
 * idempotent receiver: see server.c and db.c).
 *
 * Two threads meet here:
 *   - producers (the capture thread, a stats timer) call mm_link_send().
 *     It copies the record into a bounded inbox under a mutex held for a
 *     few pointer moves, and wakes the link thread through an eventfd
 *     only when the inbox was empty.  It never waits on the network.
 *   - the link thread owns the DEALER socket and the spool: a ring of
 *     spool_max slots indexed by seq.  It numbers records, sends them,
 *     resends what is not acknowledged after resend_ms, and frees what is.
 *
 * Counters (mm_link_stats): `queued` counts every record handed to
 * mm_link_send, so at any time  queued == acked + dropped + backlog.
 *
 * Sequence numbers start at the wall clock in microseconds when the link
 * is made.  A restarted sensor therefore starts above every seq it used
 * before, unless it sent more than a million records per second on
 * average over its previous life, or the clock was set back meanwhile.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MM_MAGIC "MM1"
#define KIND_MAX 15
#define SENSOR_MAX 128
#define RECORD_MAX (4 << 20)   /* the store refuses larger messages */
#define INBOX_MIN 64
#define INBOX_MAX 65536
#define RESEND_BURST 500       /* resends per round, so acks keep flowing */
#define RESEND_SCAN 4096       /* slots looked at per round for resends */
/*
 * Records sent and not yet acknowledged, at most.  With a slow store (a
 * slow disk, a big backlog after a restart) more would only queue up in
 * front of it and be resent, each resend another duplicate to process.
 */
#define INFLIGHT_MAX 2000
/* each resend of one record waits twice as long, up to this many times
 * resend_ms: a store that is slow, not gone, is not buried in resends */
#define BACKOFF_MAX_SHIFT 3

struct inrec {
	struct inrec *next;
	char kind[KIND_MAX + 1];
	size_t len;
	char json[];
};

struct slot {
	struct inrec *r;   /* NULL: free (acknowledged or never used) */
	uint64_t seq;
	uint64_t sent_ms;  /* 0: not sent yet */
	unsigned tries;    /* sends so far */
};

struct mm_link {
	void *zctx;
	bool own_ctx;
	void *sock;
	int efd;
	char sensor[SENSOR_MAX + 1];
	size_t spool_max;
	uint64_t resend_ms;
	pthread_t thread;
	bool started;

	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* signalled when backlog changes */
	struct inrec *in_head, *in_tail;
	size_t in_n, in_max;
	bool stop;
	struct mm_link_stats st; /* queued, dropped (inbox) + published */

	/* the link thread's own */
	struct slot *ring;
	uint64_t lo, hi;         /* seqs in the ring: [lo, hi) */
	uint64_t next_unsent;    /* first seq never sent */
	uint64_t cursor;         /* where the resend scan goes on */
	size_t used;
	size_t unsent;           /* used slots never sent */
	uint64_t hello_seq;      /* a hello still unsent goes first */
	bool hello_unsent;
	uint64_t sent, resent, acked, spool_drops;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* ---------------- producer side ---------------- */

int mm_link_send(struct mm_link *l, const char *kind, const char *json,
		 size_t len)
{
	size_t kl = kind ? strlen(kind) : 0;
	struct inrec *r = NULL;
	bool wake = false;

	if (kl > 0 && kl <= KIND_MAX && json && len <= RECORD_MAX)
		r = malloc(sizeof(*r) + len + 1);
	if (r) {
		memcpy(r->kind, kind, kl + 1);
		memcpy(r->json, json, len);
		r->json[len] = '\0';
		r->len = len;
		r->next = NULL;
	}
	pthread_mutex_lock(&l->mu);
	l->st.queued++;
	if (!r || l->in_n >= l->in_max || l->stop) {
		l->st.dropped++;
		pthread_mutex_unlock(&l->mu);
		free(r);
		return -1;
	}
	wake = l->in_n == 0;
	if (l->in_tail)
		l->in_tail->next = r;
	else
		l->in_head = r;
	l->in_tail = r;
	l->in_n++;
	l->st.backlog++;
	pthread_mutex_unlock(&l->mu);
	if (wake) {
		uint64_t one = 1;
		/* an eventfd counter cannot overflow here: never blocks */
		if (write(l->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN only: the thread is being woken anyway */
		}
	}
	return 0;
}

/* ---------------- link thread ---------------- */

/* 0 sent, -1 the socket would block (no peer, or its pipe is full) */
static int send_rec(struct mm_link *l, struct slot *s)
{
	uint8_t be[8];
	int f = ZMQ_DONTWAIT | ZMQ_SNDMORE;

	put_be64(be, s->seq);
	/* The first part decides whether the message fits.  A later part
	 * fails only when the connection dies meanwhile: ZeroMQ then drops
	 * the parts already queued, so stop and send it whole next time. */
	if (zmq_send(l->sock, MM_MAGIC, 3, f) < 0 ||
	    zmq_send(l->sock, s->r->kind, strlen(s->r->kind), f) < 0 ||
	    zmq_send(l->sock, l->sensor, strlen(l->sensor), f) < 0 ||
	    zmq_send(l->sock, be, 8, f) < 0 ||
	    zmq_send(l->sock, s->r->json, s->r->len, ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

static struct slot *slot_of(struct mm_link *l, uint64_t seq)
{
	return &l->ring[seq % l->spool_max];
}

/* move the inbox into the spool, numbering each record */
static void take_inbox(struct mm_link *l, struct inrec *r)
{
	while (r) {
		struct inrec *next = r->next;
		r->next = NULL;
		if (l->hi - l->lo >= l->spool_max) {
			/* the spool is full (the store has been away long):
			 * lose the newest, count it */
			l->spool_drops++;
			free(r);
		} else {
			struct slot *s = slot_of(l, l->hi);
			s->r = r;
			s->seq = l->hi;
			s->sent_ms = 0;
			s->tries = 0;
			l->unsent++;
			if (!strcmp(r->kind, "hello")) {
				l->hello_seq = l->hi;
				l->hello_unsent = true;
			}
			l->hi++;
			l->used++;
		}
		r = next;
	}
}

static void send_pass(struct mm_link *l)
{
	uint64_t now = now_ms();
	int burst = RESEND_BURST;

	/* the hello first: the store learns who we are before anything */
	if (l->hello_unsent) {
		struct slot *s = slot_of(l, l->hello_seq);
		if (!s->r || s->seq != l->hello_seq) {
			l->hello_unsent = false;
		} else if (s->sent_ms == 0) {
			if (send_rec(l, s) < 0)
				return;
			s->sent_ms = now;
			s->tries = 1;
			l->sent++;
			l->unsent--;
			l->hello_unsent = false;
		} else {
			l->hello_unsent = false;
		}
	}
	if (l->next_unsent < l->lo)
		l->next_unsent = l->lo;
	while (l->next_unsent < l->hi) {
		struct slot *s = slot_of(l, l->next_unsent);
		if (s->r && s->sent_ms == 0) {
			if (l->used - l->unsent >= INFLIGHT_MAX)
				break; /* the window is full: acks first */
			if (send_rec(l, s) < 0)
				return;
			s->sent_ms = now;
			s->tries = 1;
			l->sent++;
			l->unsent--;
		}
		l->next_unsent++;
	}
	/* resends: look at a bounded stretch of the spool per round, going
	 * on where the last round stopped, so a big backlog is walked over
	 * several rounds while acks are read in between */
	if (l->used == 0)
		return;
	if (l->cursor < l->lo || l->cursor >= l->hi)
		l->cursor = l->lo;
	for (int n = 0; n < RESEND_SCAN && burst > 0; n++) {
		struct slot *s = slot_of(l, l->cursor);
		unsigned shift = s->tries > 0 ? s->tries - 1 : 0;
		if (shift > BACKOFF_MAX_SHIFT)
			shift = BACKOFF_MAX_SHIFT;
		if (s->r && s->sent_ms &&
		    now - s->sent_ms >= l->resend_ms << shift) {
			if (send_rec(l, s) < 0)
				return;
			s->sent_ms = now;
			s->tries++;
			l->resent++;
			burst--;
		}
		if (++l->cursor >= l->hi)
			l->cursor = l->lo;
	}
}

static void ack_one(struct mm_link *l, uint64_t seq)
{
	struct slot *s;

	if (seq < l->lo || seq >= l->hi)
		return; /* acked before (a duplicate ack), or not ours */
	s = slot_of(l, seq);
	if (!s->r || s->seq != seq)
		return;
	if (s->sent_ms == 0)
		l->unsent--; /* acked before we sent it: an old life's seq? */
	free(s->r);
	s->r = NULL;
	l->used--;
	l->acked++;
	while (l->lo < l->hi && !slot_of(l, l->lo)->r)
		l->lo++;
}

static void read_acks(struct mm_link *l)
{
	for (;;) {
		zmq_msg_t m;
		int part = 0, more = 1;
		bool ok = true;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, l->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		while (more) {
			if (part > 0) {
				zmq_msg_init(&m);
				if (zmq_msg_recv(&m, l->sock, 0) < 0) {
					zmq_msg_close(&m);
					break;
				}
			}
			more = zmq_msg_more(&m);
			size_t n = zmq_msg_size(&m);
			const uint8_t *p = zmq_msg_data(&m);
			if (part == 0)
				ok = n == 3 && !memcmp(p, MM_MAGIC, 3);
			else if (part == 1)
				ok = ok && n == 3 && !memcmp(p, "ack", 3);
			else if (ok && n == 8)
				ack_one(l, get_be64(p));
			zmq_msg_close(&m);
			part++;
		}
	}
}

static void publish(struct mm_link *l)
{
	pthread_mutex_lock(&l->mu);
	l->st.sent = l->sent;
	l->st.resent = l->resent;
	l->st.acked = l->acked;
	/* inbox drops are counted by the producers under the same lock */
	l->st.dropped += l->spool_drops;
	l->spool_drops = 0;
	l->st.backlog = l->used + l->in_n;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void *link_thread(void *arg)
{
	struct mm_link *l = arg;
	zmq_pollitem_t it[2] = {
		{.socket = l->sock, .events = ZMQ_POLLIN},
		{.socket = NULL, .fd = l->efd, .events = ZMQ_POLLIN},
	};

	for (;;) {
		struct inrec *in;
		bool stop;
		long timeout;

		/* hold the lock for a pointer swap only; st.backlog still
		 * counts these records until publish() recounts it */
		pthread_mutex_lock(&l->mu);
		in = l->in_head;
		l->in_head = l->in_tail = NULL;
		l->in_n = 0;
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		take_inbox(l, in);
		if (stop)
			break;
		send_pass(l);
		publish(l);

		/* with records out: wake often enough to resend in time and
		 * to notice a store that came back; idle: sleep until woken */
		if (l->used == 0)
			timeout = -1;
		else if (l->unsent > 0 && l->used - l->unsent < INFLIGHT_MAX)
			timeout = 20;
		else
			timeout = (long)(l->resend_ms / 2 > 50 ? 50
							       : l->resend_ms / 2 + 1);
		if (zmq_poll(it, 2, timeout) < 0 && errno != EINTR)
			break; /* the context is being terminated */
		if (it[1].revents & ZMQ_POLLIN) {
			uint64_t v;
			if (read(l->efd, &v, sizeof(v)) < 0) {
				/* EAGAIN: someone else's wake-up, fine */
			}
		}
		if (it[0].revents & ZMQ_POLLIN)
			read_acks(l);
		publish(l);
	}
	publish(l);
	return NULL;
}

/* ---------------- lifecycle ---------------- */

struct mm_link *mm_link_new(void *zctx, const struct mm_link_opts *o,
			    char *err, size_t errlen)
{
	struct mm_link *l;
	struct timespec now;
	pthread_condattr_t ca;
	int v;

	if (!o || !o->endpoint || !o->sensor || !*o->sensor) {
		snprintf(err, errlen, "link: endpoint and sensor id required");
		return NULL;
	}
	if (strlen(o->sensor) > SENSOR_MAX) {
		snprintf(err, errlen, "link: sensor id longer than %d bytes",
			 SENSOR_MAX);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->efd = -1;
	snprintf(l->sensor, sizeof(l->sensor), "%s", o->sensor);
	l->spool_max = o->spool_max ? o->spool_max : 100000;
	l->resend_ms = o->resend_ms > 0 ? (uint64_t)o->resend_ms : 1000;
	l->in_max = l->spool_max < INBOX_MIN   ? INBOX_MIN
		    : l->spool_max > INBOX_MAX ? INBOX_MAX
					       : l->spool_max;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	l->ring = calloc(l->spool_max, sizeof(*l->ring));
	if (!l->ring) {
		snprintf(err, errlen, "link: cannot allocate a spool of %zu",
			 l->spool_max);
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	l->lo = l->hi = l->next_unsent = l->cursor =
		(uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->efd < 0) {
		snprintf(err, errlen, "link: eventfd: %s", strerror(errno));
		goto fail;
	}
	if (zctx) {
		l->zctx = zctx;
	} else {
		l->zctx = zmq_ctx_new();
		l->own_ctx = true;
		if (!l->zctx) {
			snprintf(err, errlen, "zmq_ctx_new: %s",
				 zmq_strerror(errno));
			goto fail;
		}
	}
	l->sock = zmq_socket(l->zctx, ZMQ_DEALER);
	if (!l->sock) {
		snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
		goto fail;
	}
	/* unacknowledged records are in the spool, not in ZeroMQ's queues:
	 * nothing to wait for at close */
	v = 0;
	zmq_setsockopt(l->sock, ZMQ_LINGER, &v, sizeof(v));
	/* queue only to a connected store, so sends to a dead one fail at
	 * once (EAGAIN) and stay unsent in the spool */
	v = 1;
	zmq_setsockopt(l->sock, ZMQ_IMMEDIATE, &v, sizeof(v));
	if (strstr(o->endpoint, "://["))
		zmq_setsockopt(l->sock, ZMQ_IPV6, &v, sizeof(v));
	v = 10000;
	zmq_setsockopt(l->sock, ZMQ_SNDHWM, &v, sizeof(v));
	v = 100000;
	zmq_setsockopt(l->sock, ZMQ_RCVHWM, &v, sizeof(v));
	v = 100;
	zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL, &v, sizeof(v));
	v = 2000;
	zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL_MAX, &v, sizeof(v));
	/* notice a store that vanished without closing the connection */
	v = 1000;
	zmq_setsockopt(l->sock, ZMQ_HEARTBEAT_IVL, &v, sizeof(v));
	v = 5000;
	zmq_setsockopt(l->sock, ZMQ_HEARTBEAT_TIMEOUT, &v, sizeof(v));
	if (zmq_connect(l->sock, o->endpoint) != 0) {
		snprintf(err, errlen, "link: cannot connect to %s: %s",
			 o->endpoint, zmq_strerror(errno));
		goto fail;
	}
	/* the socket moves to the link thread; pthread_create is the full
	 * memory barrier ZeroMQ asks for when a socket changes threads */
	if (pthread_create(&l->thread, NULL, link_thread, l) != 0) {
		snprintf(err, errlen, "link: cannot start its thread");
		goto fail;
	}
	l->started = true;
	return l;
fail:
	mm_link_free(l);
	return NULL;
}

uint64_t mm_link_flush(struct mm_link *l, int timeout_ms)
{
	struct timespec dl;
	uint64_t left;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->mu);
	while (l->st.backlog > 0 && l->started && !l->stop) {
		if (pthread_cond_timedwait(&l->cv, &l->mu, &dl) == ETIMEDOUT)
			break;
	}
	left = l->st.backlog;
	pthread_mutex_unlock(&l->mu);
	return left;
}

void mm_link_stats(struct mm_link *l, struct mm_link_stats *st)
{
	pthread_mutex_lock(&l->mu);
	*st = l->st;
	pthread_mutex_unlock(&l->mu);
}

void mm_link_free(struct mm_link *l)
{
	if (!l)
		return;
	if (l->started) {
		uint64_t one = 1;
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_mutex_unlock(&l->mu);
		if (write(l->efd, &one, sizeof(one)) < 0) {
			/* the counter is non-zero: it wakes anyway */
		}
		pthread_join(l->thread, NULL);
	}
	if (l->sock)
		zmq_close(l->sock);
	if (l->own_ctx && l->zctx)
		zmq_ctx_term(l->zctx);
	if (l->ring) {
		for (size_t i = 0; i < l->spool_max; i++)
			free(l->ring[i].r);
		free(l->ring);
	}
	while (l->in_head) {
		struct inrec *n = l->in_head->next;
		free(l->in_head);
		l->in_head = n;
	}
	if (l->efd >= 0)
		close(l->efd);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
