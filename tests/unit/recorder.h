/*
 * recorder.h - what the dissector unit tests (test_modbus.c,
 * test_s7comm.c, test_bacnet.c) share: a recording mm_ctx that keeps
 * every op (with its direction), event, asset fact, origin, exclusion and
 * transaction log line, the order of those calls (a clock), the names of
 * every event any test raised, the hex fixture reader and the exact-length
 * heap copy every buffer goes through (so that ASan sees a read past the
 * end), a TCP PDU cut short in four fresh flows, and the last log line
 * parsed (jansson).
 *
 * Include after <cmocka.h> and after the test file defines its dissector:
 *   static const struct mm_dissector *D = &mm_modbus_dissector;
 * Define RC_FLOW_END_ON_FREE before including to have rc_free() end the
 * flow first (as the daemon does); without it a test ends flows itself
 * (and what flow_end raises counts as raised only where a test asked).
 * RC_JSON_FLAGS are the jansson flags last_json() parses with.
 */
#ifndef MM_TEST_RECORDER_H
#define MM_TEST_RECORDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/time.h>

#include <jansson.h>

#include "../../common/rec.h"
#include "../../dissectors/dissector.h"

#define MAX_OPS 128
#define MAX_EVENTS 256
#define MAX_FACTS 32
#define MAX_RAISED 64

struct fact {
	bool server;
	char key[48];
	char val[256]; /* NUL-terminated, cut to 255 bytes */
	size_t len;    /* the length the dissector gave */
};

struct rc {
	struct mm_ctx ctx;
	struct timeval now;
	void *st;
	bool log_on;
	struct mm_rec *rec;
	int n_ops; /* counts past MAX_OPS; ops[] keeps the first */
	struct mm_op ops[MAX_OPS];
	enum mm_dir op_dir[MAX_OPS];
	struct mm_op last_op;
	int n_events;
	const struct mm_event_def *ev[MAX_EVENTS];
	char ev_detail[MAX_EVENTS][256];
	int n_facts;
	struct fact facts[MAX_FACTS];
	int begins, ends;
	int excluded;
	char *last_log;
	/* origin: what was set, and when, in calls to the recorder */
	int n_origins;
	uint32_t origin_ip;
	uint16_t origin_port;
	int clock, origin_at, first_op_at, first_event_at, begin_at;
};

/* every event name any test raised: test_every_event_raised checks them */
static const char *raised[MAX_RAISED];
static int n_raised;

static inline void note_raised(const char *name)
{
	for (int i = 0; i < n_raised; i++)
		if (strcmp(raised[i], name) == 0)
			return;
	if (n_raised < MAX_RAISED)
		raised[n_raised++] = name;
}

static inline void rc_op(struct mm_ctx *c, const struct mm_op *op)
{
	struct rc *rc = c->host;
	rc->clock++;
	if (!rc->first_op_at)
		rc->first_op_at = rc->clock;
	if (op->event)
		note_raised(op->event->name);
	mm_op_target(op); /* the text as a consumer reads it */
	if (rc->n_ops < MAX_OPS) {
		rc->ops[rc->n_ops] = *op;
		rc->op_dir[rc->n_ops] = c->dir;
	}
	rc->n_ops++;
	rc->last_op = *op;
}

static inline void rc_event(struct mm_ctx *c, const struct mm_event_def *ev,
			    const char *detail)
{
	struct rc *rc = c->host;
	rc->clock++;
	if (!rc->first_event_at)
		rc->first_event_at = rc->clock;
	note_raised(ev->name);
	if (rc->n_events < MAX_EVENTS) {
		rc->ev[rc->n_events] = ev;
		snprintf(rc->ev_detail[rc->n_events], 256, "%s", detail);
	}
	rc->n_events++;
}

static inline struct mm_rec *rc_begin(struct mm_ctx *c)
{
	struct rc *rc = c->host;
	rc->clock++;
	if (!rc->begin_at)
		rc->begin_at = rc->clock;
	if (!rc->log_on)
		return NULL;
	rc->begins++;
	rec_begin(rc->rec);
	return rc->rec;
}

static inline void rc_end(struct mm_ctx *c, struct mm_rec *r)
{
	struct rc *rc = c->host;
	size_t n;
	const char *text = rec_finish(r, &n);
	rc->ends++;
	free(rc->last_log);
	rc->last_log = strndup(text, n);
}

static inline void rc_fact(struct mm_ctx *c, bool server, const char *key,
			   const uint8_t *v, size_t len)
{
	struct rc *rc = c->host;
	if (rc->n_facts >= MAX_FACTS)
		return;
	struct fact *f = &rc->facts[rc->n_facts++];
	f->server = server;
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->len = len;
	if (len >= sizeof(f->val))
		len = sizeof(f->val) - 1;
	memcpy(f->val, v, len);
	f->val[len] = 0;
}

static inline void rc_origin(struct mm_ctx *c, uint32_t ip, uint16_t port)
{
	struct rc *rc = c->host;
	rc->clock++;
	rc->origin_at = rc->clock;
	rc->n_origins++;
	rc->origin_ip = ip;
	rc->origin_port = port;
}

static inline void rc_exclude(struct mm_ctx *c)
{
	struct rc *rc = c->host;
	rc->excluded++;
}

static const struct mm_ctx_ops rc_ops = {
	.op = rc_op,
	.event = rc_event,
	.txlog_begin = rc_begin,
	.txlog_end = rc_end,
	.asset_fact = rc_fact,
	.origin = rc_origin,
	.exclude = rc_exclude,
};

/* a recorder with fresh flow state; the clock at 2026-04-01T08:00:00Z */
static inline struct rc *rc_new(bool log_on)
{
	struct rc *rc = calloc(1, sizeof(*rc));
	assert_non_null(rc);
	rc->ctx.ops = &rc_ops;
	rc->ctx.host = rc;
	rc->ctx.now = &rc->now;
	rc->now.tv_sec = 1775030400;
	rc->log_on = log_on;
	rc->rec = rec_new();
	assert_non_null(rc->rec);
	rc->st = D->state_new();
	assert_non_null(rc->st);
	return rc;
}

static inline void rc_free(struct rc *rc)
{
#ifdef RC_FLOW_END_ON_FREE
	if (D->flow_end)
		D->flow_end(&rc->ctx, rc->st);
#endif
	D->state_free(rc->st);
	rec_free(rc->rec);
	free(rc->last_log);
	free(rc);
}

/* forget what was recorded (the flow state and the time stay) */
static inline void rc_clear(struct rc *rc)
{
	rc->n_ops = 0;
	memset(&rc->last_op, 0, sizeof(rc->last_op));
	rc->n_events = 0;
	rc->n_facts = 0;
	rc->begins = rc->ends = 0;
	rc->excluded = 0;
	free(rc->last_log);
	rc->last_log = NULL;
	rc->n_origins = 0;
	rc->clock = rc->origin_at = rc->first_op_at = 0;
	rc->first_event_at = rc->begin_at = 0;
}

static inline int count_event(const struct rc *rc, const char *name)
{
	int n = 0;
	for (int i = 0; i < rc->n_events && i < MAX_EVENTS; i++)
		if (strcmp(rc->ev[i]->name, name) == 0)
			n++;
	return n;
}

/* the detail of the first such event, NULL when none */
static inline const char *event_detail(const struct rc *rc, const char *name)
{
	for (int i = 0; i < rc->n_events && i < MAX_EVENTS; i++)
		if (strcmp(rc->ev[i]->name, name) == 0)
			return rc->ev_detail[i];
	return NULL;
}

/* the first fact stated with this key, NULL when none */
static inline const struct fact *find_fact(const struct rc *rc, const char *key)
{
	for (int i = 0; i < rc->n_facts; i++)
		if (strcmp(rc->facts[i].key, key) == 0)
			return &rc->facts[i];
	return NULL;
}

/* the latest fact stated with this key (a value that changed), or NULL */
static inline const struct fact *find_last_fact(const struct rc *rc,
						const char *key)
{
	const struct fact *f = NULL;
	for (int i = 0; i < rc->n_facts; i++)
		if (strcmp(rc->facts[i].key, key) == 0)
			f = &rc->facts[i];
	return f;
}

/* run it last: every event of the table was raised by some test before */
static inline void test_every_event_raised(void **state)
{
	(void)state;
	for (size_t i = 0; i < D->n_events; i++) {
		bool seen = false;
		for (int k = 0; k < n_raised; k++)
			if (strcmp(raised[k], D->events[i].name) == 0)
				seen = true;
		if (!seen)
			fail_msg("no test raises %s", D->events[i].name);
	}
}

/* ------------------------------------------------------------------ */
/* The last log line                                                   */
/* ------------------------------------------------------------------ */

#ifndef RC_JSON_FLAGS
/* \u0000 is valid JSON (a device may send NUL bytes) */
#define RC_JSON_FLAGS JSON_ALLOW_NUL
#endif

/* the last log line as JSON (json_decref it); fails when it is not */
static inline json_t *last_json(const struct rc *rc)
{
	json_error_t err;
	assert_non_null(rc->last_log);
	json_t *j = json_loads(rc->last_log, RC_JSON_FLAGS, &err);
	if (!j)
		fail_msg("bad JSON (%s): %s", err.text, rc->last_log);
	return j;
}

/* a key of an object, which must be there */
static inline json_t *jget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!v) {
		char *s = json_dumps(o, 0);
		fail_msg("no key \"%s\" in %s", k, s);
	}
	return v;
}

static inline long long ju(json_t *o, const char *k)
{
	json_t *v = jget(o, k);
	if (!json_is_integer(v))
		fail_msg("\"%s\" is not an integer", k);
	return json_integer_value(v);
}

static inline const char *js(json_t *o, const char *k)
{
	json_t *v = jget(o, k);
	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", k);
	return json_string_value(v);
}

static inline bool jb(json_t *o, const char *k)
{
	json_t *v = jget(o, k);
	if (!json_is_boolean(v))
		fail_msg("\"%s\" is not a boolean", k);
	return json_is_true(v);
}

/* element i of an array member */
static inline json_t *jidx(json_t *o, const char *k, size_t i)
{
	json_t *a = jget(o, k);
	assert_true(json_is_array(a));
	assert_true(i < json_array_size(a));
	return json_array_get(a, i);
}

static inline void assert_absent(json_t *o, const char *k)
{
	if (json_object_get(o, k))
		fail_msg("unexpected key \"%s\"", k);
}

/* ------------------------------------------------------------------ */
/* Bytes                                                               */
/* ------------------------------------------------------------------ */

/* hex digits (spaces and '|' ignored) and 'ASCII' runs -> bytes */
static inline size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (*s) {
		if (*s == ' ' || *s == '|') {
			s++;
		} else if (*s == '\'') {
			for (s++; *s && *s != '\''; s++) {
				assert_true(n < cap);
				out[n++] = (uint8_t)*s;
			}
			assert_int_equal(*s, '\'');
			s++;
		} else {
			unsigned v;
			assert_true(s[1] != 0);
			assert_int_equal(sscanf(s, "%2x", &v), 1);
			assert_true(n < cap);
			out[n++] = (uint8_t)v;
			s += 2;
		}
	}
	return n;
}

/*
 * Parse n bytes travelling in dir with flow state st (NULL: a host that
 * did not call state_new).  The dissector reads an exact-size heap copy:
 * ASan catches overreads.
 */
static inline void parse_raw(struct rc *rc, enum mm_dir dir, void *st,
			     const uint8_t *b, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	if (n)
		memcpy(copy, b, n);
	rc->ctx.dir = dir;
	D->parse(&rc->ctx, st, copy, n);
	free(copy);
}

/* the same on the recorder's own flow */
static inline void parse_bytes(struct rc *rc, enum mm_dir dir,
			       const uint8_t *b, size_t n)
{
	parse_raw(rc, dir, rc->st, b, n);
}

/*
 * A TCP PDU whose own direction is dir, cut to its first k bytes while its
 * header still claims the whole, parsed in four fresh flows: the log on
 * and off, in dir and in the other direction.  Each flow is first given
 * what came before by prime(rc, direction of the cut), which is then
 * forgotten; the cut must raise `event` exactly once (name says which
 * fixture when not), then check(rc) looks at what it left, when given.
 * probe and pdu_len see the cut too, and the flow ends.
 */
static inline void cut_in_fresh_flows(const char *name, const uint8_t *b,
				      size_t k, enum mm_dir dir,
				      const char *event,
				      void (*prime)(struct rc *rc,
						    enum mm_dir dir),
				      void (*check)(struct rc *rc))
{
	for (int mode = 0; mode < 4; mode++) {
		struct rc *rc = rc_new(mode & 1);
		enum mm_dir d = dir;
		if (mode & 2)
			d = dir == MM_DIR_TO_SERVER ? MM_DIR_TO_CLIENT
						    : MM_DIR_TO_SERVER;
		prime(rc, d);
		rc_clear(rc);
		parse_bytes(rc, d, b, k);
		if (count_event(rc, event) != 1)
			fail_msg("%s cut at %zu: %s %d times", name, k, event,
				 count_event(rc, event));
		if (check)
			check(rc);
		(void)D->probe(b, k, d);
		(void)D->pdu_len(b, k);
		D->flow_end(&rc->ctx, rc->st);
		rc_free(rc);
	}
}

#endif /* MM_TEST_RECORDER_H */
