/*
 * test_link.c - the sensor's reliable link against a real store: records
 * spool while no store listens, survive a store restart, are stored once
 * when acks are lost, and a full spool drops (counted).  Real ZeroMQ
 * sockets, real SQLite files; timeouts are generous upper bounds only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zmq.h>

#include "../../store/store.h"
#include "store_fixture.h"
#include "link_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "link");
}

static struct mm_link *link_to(void *zctx, const char *ep, size_t spool,
			       int resend_ms)
{
	struct mm_link_opts lo = {.endpoint = ep,
				  .sensor = "box1",
				  .spool_max = spool,
				  .resend_ms = resend_ms};
	char err[512];
	struct mm_link *l = mm_link_new(zctx, &lo, err, sizeof(err));

	if (!l)
		fail_msg("mm_link_new(%s): %s", ep, err);
	return l;
}

/* poll the link's stats until cond holds or ~3 s passed */
#define WAIT_FOR(l, st, cond)                                                 \
	do {                                                                  \
		for (int w_ = 0; w_ < 300; w_++) {                            \
			mm_link_stats((l), &(st));                            \
			if (cond)                                             \
				break;                                        \
			usleep(10000);                                        \
		}                                                             \
	} while (0)

/*
 * Timeouts are upper bounds (a flush returns as soon as all is acked):
 * under ASan/UBSan on a busy shared machine a resend round of thousands
 * of records takes several times longer, so give it room there.
 */
#ifdef MM_SANITIZED
#define TIMEOUT_SCALE 5
#else
#define TIMEOUT_SCALE 1
#endif

/* flush; on a timeout say where things stand before failing */
static void flush_all(struct mm_link *l, struct store_server *s, int ms)
{
	uint64_t left;

	ms *= TIMEOUT_SCALE;
	left = mm_link_flush(l, ms);
	struct mm_link_stats st;
	struct store_server_stats ss = {0};

	if (left == 0)
		return;
	mm_link_stats(l, &st);
	if (s)
		store_server_stats(s, &ss);
	fail_msg("%llu unacknowledged after %d ms: link queued %llu sent %llu "
		 "resent %llu acked %llu dropped %llu; store stored %llu "
		 "duplicates %llu errors %llu batches %llu malformed %llu "
		 "db_errors %llu acks %llu ack_drops %llu",
		 (unsigned long long)left, ms, (unsigned long long)st.queued,
		 (unsigned long long)st.sent, (unsigned long long)st.resent,
		 (unsigned long long)st.acked, (unsigned long long)st.dropped,
		 (unsigned long long)ss.stored, (unsigned long long)ss.duplicates,
		 (unsigned long long)ss.errors, (unsigned long long)ss.batches,
		 (unsigned long long)ss.malformed,
		 (unsigned long long)ss.db_errors, (unsigned long long)ss.acks,
		 (unsigned long long)ss.ack_drops);
}

/* every record stored once: N alert rows, N distinct seqs, N (+1) ingests */
static void assert_once(const char *db, long long n, long long others)
{
	assert_alerts_once(db, n);
	assert_int_equal(q1(db, "SELECT count(*) FROM ingest"), n + others);
}

static void test_spool_until_store_starts(void **state)
{
	struct fx *f = *state;
	struct mm_link *l = link_to(NULL, f->ep, 1000, 200);
	struct mm_link_stats st;
	struct store_server *s;
	static const char hello[] = "{\"sensor\":\"box1\",\"site\":\"A\"}";
	enum { N = 200 };

	assert_int_equal(mm_link_send(l, "hello", hello, strlen(hello)), 0);
	assert_int_equal(send_alerts(l, 0, N), N);
	/* no store: everything waits in the spool, nothing was sent */
	assert_int_equal(mm_link_flush(l, 300), N + 1);
	mm_link_stats(l, &st);
	assert_int_equal(st.backlog, N + 1);
	assert_int_equal(st.acked, 0);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.dropped, 0);
	assert_consistent(l);

	s = fx_server(NULL, f->db, f->ep, 50);
	assert_int_equal(mm_link_flush(l, 5000), 0);
	mm_link_stats(l, &st);
	assert_int_equal(st.acked, N + 1);
	assert_consistent(l);
	mm_link_free(l);
	store_server_free(s);
	assert_once(f->db, N, 1);
	assert_int_equal(q1(f->db, "SELECT count(*) FROM sensors WHERE site='A'"),
			 1);
}

static void test_store_restart(void **state)
{
	struct fx *f = *state;
	struct store_server *s = fx_server(NULL, f->db, f->ep, 50);
	struct mm_link *l = link_to(NULL, f->ep, 10000, 200);
	struct mm_link_stats st;
	struct store_server_stats ss;
	enum { N1 = 300, N2 = 2000, N3 = 100 };

	assert_int_equal(send_alerts(l, 0, N1), N1);
	assert_int_equal(mm_link_flush(l, 5000), 0);
	/* a burst, and the store goes away while it is in flight: some of
	 * it stored and acked, some stored with the ack lost, some never
	 * received.  Which is which varies; the outcome must not. */
	assert_int_equal(send_alerts(l, N1, N2), N2);
	usleep(5000);
	store_server_free(s);
	assert_int_equal(send_alerts(l, N1 + N2, N3), N3);
	mm_link_flush(l, 300);
	mm_link_stats(l, &st);
	assert_true(st.backlog > 0);
	assert_consistent(l);

	s = fx_server(NULL, f->db, f->ep, 50);
	flush_all(l, s, 8000);
	mm_link_stats(l, &st);
	assert_int_equal(st.acked, N1 + N2 + N3);
	assert_int_equal(st.dropped, 0);
	assert_consistent(l);
	store_server_stats(s, &ss);
	/* the restarted store saw the rest, maybe some twice (duplicates) */
	assert_true(ss.stored + ss.duplicates >= 1);
	mm_link_free(l);
	store_server_free(s);
	assert_once(f->db, N1 + N2 + N3, 0);
}

/*
 * A proxy between link and store that forwards records and loses the
 * first `drop` ack messages: the link must resend, the store must answer
 * with a duplicate ack, and the record must be stored once.
 */
struct proxy {
	void *zctx;
	const char *front, *back;
	int drop;
	atomic_int stop;
	atomic_int dropped;
};

static void *proxy_run(void *arg)
{
	struct proxy *p = arg;
	void *fr = zmq_socket(p->zctx, ZMQ_ROUTER);
	void *bk = zmq_socket(p->zctx, ZMQ_DEALER);
	uint8_t rid[256];
	size_t rid_len = 0;
	int v = 0;

	zmq_setsockopt(fr, ZMQ_LINGER, &v, sizeof(v));
	zmq_setsockopt(bk, ZMQ_LINGER, &v, sizeof(v));
	zmq_bind(fr, p->front);
	zmq_connect(bk, p->back);
	while (!atomic_load(&p->stop)) {
		zmq_pollitem_t it[2] = {{.socket = fr, .events = ZMQ_POLLIN},
					{.socket = bk, .events = ZMQ_POLLIN}};
		if (zmq_poll(it, 2, 20) <= 0)
			continue;
		if (it[0].revents & ZMQ_POLLIN) {
			/* routing id, then the record: forward the record */
			zmq_msg_t m;
			int more, first = 1;
			do {
				zmq_msg_init(&m);
				zmq_msg_recv(&m, fr, 0);
				more = zmq_msg_more(&m);
				if (first) {
					rid_len = zmq_msg_size(&m);
					memcpy(rid, zmq_msg_data(&m), rid_len);
					first = 0;
					zmq_msg_close(&m);
				} else {
					zmq_msg_send(&m, bk,
						     more ? ZMQ_SNDMORE : 0);
				}
			} while (more);
		}
		if (it[1].revents & ZMQ_POLLIN) {
			zmq_msg_t m;
			int more, lose = atomic_load(&p->dropped) < p->drop;
			if (lose)
				atomic_fetch_add(&p->dropped, 1);
			else
				zmq_send(fr, rid, rid_len, ZMQ_SNDMORE);
			do {
				zmq_msg_init(&m);
				zmq_msg_recv(&m, bk, 0);
				more = zmq_msg_more(&m);
				if (lose)
					zmq_msg_close(&m);
				else
					zmq_msg_send(&m, fr,
						     more ? ZMQ_SNDMORE : 0);
			} while (more);
		}
	}
	zmq_close(fr);
	zmq_close(bk);
	return NULL;
}

static void test_lost_acks(void **state)
{
	struct fx *f = *state;
	void *zctx = zmq_ctx_new();
	struct proxy p = {.zctx = zctx,
			  .front = "inproc://mm-proxy",
			  .back = "inproc://mm-store",
			  .drop = 3};
	struct store_server *s = fx_server(zctx, f->db, p.back, 50);
	struct store_server_stats ss;
	struct mm_link_stats st;
	struct mm_link *l;
	pthread_t t;
	enum { N = 300 };

	assert_int_equal(pthread_create(&t, NULL, proxy_run, &p), 0);
	usleep(20000); /* the proxy binds before the link connects */
	l = link_to(zctx, p.front, 1000, 100);
	assert_int_equal(send_alerts(l, 0, N), N);
	flush_all(l, s, 5000);
	mm_link_stats(l, &st);
	assert_int_equal(st.acked, N);
	assert_true(st.resent >= 1);
	assert_consistent(l);
	store_server_stats(s, &ss);
	assert_int_equal(atomic_load(&p.dropped), 3);
	assert_true(ss.duplicates >= 1);
	assert_int_equal(ss.stored, N);
	mm_link_free(l);
	atomic_store(&p.stop, 1);
	pthread_join(t, NULL);
	store_server_free(s);
	zmq_ctx_term(zctx);
	assert_once(f->db, N, 0);
}

static void test_spool_bound(void **state)
{
	struct fx *f = *state;
	struct mm_link *l = link_to(NULL, f->ep, 16, 100);
	struct mm_link_stats st;
	struct store_server *s;
	struct timespec t0, t1;
	int ok;
	enum { N = 5000 };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = send_alerts(l, 0, N);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* never blocks: 5000 calls against a dead store are quick (the
	 * bound is generous: it is not a benchmark) */
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	WAIT_FOR(l, st, st.backlog == 16 && st.dropped == N - 16);
	assert_int_equal(st.queued, N);
	assert_int_equal(st.backlog, 16);
	assert_int_equal(st.dropped, N - 16);
	/* what mm_link_send refused is part of the dropped count */
	assert_true((uint64_t)(N - ok) <= st.dropped);
	assert_consistent(l);

	s = fx_server(NULL, f->db, f->ep, 50);
	assert_int_equal(mm_link_flush(l, 5000), 0);
	mm_link_stats(l, &st);
	assert_int_equal(st.acked, 16);
	assert_consistent(l);
	mm_link_free(l);
	store_server_free(s);
	assert_once(f->db, 16, 0);
}

/* the hello goes out first, even when alerts were queued before it */
static void test_hello_first(void **state)
{
	struct fx *f = *state;
	void *zctx = zmq_ctx_new();
	struct mm_link *l = link_to(zctx, f->ep, 100, 5000);
	static const char hello[] = "{\"sensor\":\"box1\"}";
	void *r = zmq_socket(zctx, ZMQ_ROUTER);
	char buf[64];
	int v = 3000, n;

	assert_int_equal(send_alerts(l, 0, 5), 5);
	assert_int_equal(mm_link_send(l, "hello", hello, strlen(hello)), 0);
	mm_link_flush(l, 100); /* let the link thread spool them */
	zmq_setsockopt(r, ZMQ_RCVTIMEO, &v, sizeof(v));
	v = 0;
	zmq_setsockopt(r, ZMQ_LINGER, &v, sizeof(v));
	assert_int_equal(zmq_bind(r, f->ep), 0);
	assert_true(zmq_recv(r, buf, sizeof(buf), 0) > 0); /* routing id */
	assert_int_equal(zmq_recv(r, buf, sizeof(buf), 0), 3);
	n = zmq_recv(r, buf, sizeof(buf), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	zmq_close(r);
	mm_link_free(l);
	zmq_ctx_term(zctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spool_until_store_starts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lost_acks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_spool_bound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hello_first, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
