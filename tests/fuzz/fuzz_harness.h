/*
 * fuzz_harness.h - drive one dissector the way the daemon does: probe at
 * every offset, frame with pdu_len (TCP) or take the datagram whole (UDP),
 * parse each PDU with a context whose services do real work (records are
 * built and finished, events formatted), so that every path of the
 * dissector runs under ASan and UBSan.
 *
 * Input layout: byte 0 bit 0 = direction of the first half, the rest is
 * split at each 0xFF 0xFE 0xFD marker into chunks of alternating direction
 * (a request stream and a response stream, as libnids delivers them).
 */
#ifndef MM_FUZZ_HARNESS_H
#define MM_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../dissectors/dissector.h"

static struct mm_rec *fuzz_rec;

static void fz_op(struct mm_ctx *c, const struct mm_op *op)
{
	(void)c;
	/* touch every byte the dissector filled in */
	volatile size_t n = strlen(mm_op_target(op)) + (op->function_name ? strlen(op->function_name) : 0);
	(void)n;
}

static void fz_event(struct mm_ctx *c, const struct mm_event_def *ev, const char *d)
{
	(void)c;
	volatile size_t n = strlen(ev->name) + strlen(d);
	(void)n;
}

static struct mm_rec *fz_txlog_begin(struct mm_ctx *c)
{
	(void)c;
	rec_begin(fuzz_rec);
	return fuzz_rec;
}

static void fz_txlog_end(struct mm_ctx *c, struct mm_rec *r)
{
	size_t n;
	(void)c;
	(void)rec_finish(r, &n);
}

static void fz_fact(struct mm_ctx *c, bool server, const char *k, const uint8_t *v, size_t n)
{
	(void)c;
	(void)server;
	volatile uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= v[i];
	(void)k;
}

static void fz_origin(struct mm_ctx *c, uint32_t ip, uint16_t port)
{
	(void)c;
	(void)ip;
	(void)port;
}

static const struct mm_ctx_ops fuzz_ops = {
	.op = fz_op, .event = fz_event, .txlog_begin = fz_txlog_begin,
	.txlog_end = fz_txlog_end, .asset_fact = fz_fact, .origin = fz_origin,
};

static void fuzz_stream(const struct mm_dissector *d, struct mm_ctx *c, void *st,
			const uint8_t *p, size_t n)
{
	size_t pos = 0;

	for (size_t i = 0; i < n && i < 64; i++)
		(void)d->probe(p + i, n - i, c->dir);
	if (!d->pdu_len) {
		d->parse(c, st, p, n);
		return;
	}
	while (pos < n) {
		long len = d->pdu_len(p + pos, n - pos);
		if (len < 0 || (size_t)len > d->max_pdu) {
			/* the daemon lets the dissector name the problem */
			size_t m = n - pos < d->max_pdu ? n - pos : d->max_pdu;
			d->parse(c, st, p + pos, m);
			pos++;
			continue;
		}
		if (len == 0 || (size_t)len > n - pos)
			break;
		d->parse(c, st, p + pos, (size_t)len);
		pos += (size_t)len;
	}
}

static int fuzz_one(const struct mm_dissector *d, const uint8_t *data, size_t size)
{
	struct timeval now = { 1700000000, 0 };
	struct mm_ctx c = { .ops = &fuzz_ops, .dir = MM_DIR_TO_SERVER, .now = &now };
	void *st;
	size_t start = 1, i;

	if (size < 1)
		return 0;
	if (!fuzz_rec)
		fuzz_rec = rec_new();
	st = d->state_new ? d->state_new() : NULL;
	c.dir = (data[0] & 1) ? MM_DIR_TO_CLIENT : MM_DIR_TO_SERVER;
	for (i = 1; i + 3 <= size; i++) {
		if (data[i] == 0xFF && data[i + 1] == 0xFE && data[i + 2] == 0xFD) {
			fuzz_stream(d, &c, st, data + start, i - start);
			c.dir = c.dir == MM_DIR_TO_SERVER ? MM_DIR_TO_CLIENT : MM_DIR_TO_SERVER;
			now.tv_sec++;
			start = i + 3;
			i += 2;
		}
	}
	if (start < size)
		fuzz_stream(d, &c, st, data + start, size - start);
	if (d->flow_end)
		d->flow_end(&c, st);
	if (d->state_free && st)
		d->state_free(st);
	return 0;
}

#endif
