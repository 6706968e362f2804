/*
 * test_detect.c - the behaviour detectors (daemon/detect.c): each one's
 * threshold (one short of it: nothing; at it: one alert), its window,
 * its episode (no second alert while the trigger keeps holding, a new one
 * after the quiet period), its key (what counts as "one target"), bounded
 * tables, the settings file's detect: section, and the structured targets
 * the dissectors fill for them (mm_op.has_ref).
 *
 * Time is the packets' own: every call sets mm.now, so an hour of attack
 * takes no time here.  Alerts are read back from the EVE lines the sensor
 * writes (mm.eve, a temporary file read back after each step).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../daemon/logw.h"
#include "../../daemon/sensor.h"

#include "cfg_fixture.h"
#include "file_fixture.h"

struct mm_sensor mm; /* the sensor's state: ours to set up here */

static const char zones_yaml[] =
	"zones:\n"
	"  - { id: scada, archetype: seisan_kanri, strength: medium, networks: [10.3.0.0/24] }\n"
	"  - { id: eng, archetype: hozen, strength: high, networks: [10.4.0.0/24] }\n"
	"  - { id: line1, archetype: seigyo, strength: high, networks: [10.10.1.0/24] }\n"
	"  - { id: line2, archetype: seigyo, strength: high, networks: [10.10.2.0/24] }\n"
	"  - { id: bldg, archetype: setsubi, strength: minimum, networks: [10.30.0.0/24] }\n";

#define IP(a, b, c, d) htonl((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			     (uint32_t)(c) << 8 | (uint32_t)(d))
#define SCADA IP(10, 3, 0, 10)
#define EWS IP(10, 4, 0, 10)
#define PLC IP(10, 10, 1, 10)
#define PLC2 IP(10, 10, 1, 11)
#define T0 1775030400.0 /* 2026-04-01T08:00:00Z */

static char *eve_buf;
static size_t eve_len;
static char eve_path[] = "/tmp/mm-test-detect-XXXXXX";

/* eve.json as written so far, into eve_buf (logw.c without its thread
 * writes at once what is flushed) */
static void read_eve(void)
{
	logw_flush(mm.eve);
	free(eve_buf);
	eve_buf = fx_read_file(eve_path, &eve_len);
}

static void at(double t)
{
	mm.now.tv_sec = (time_t)t;
	mm.now.tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6);
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	memset(&mm, 0, sizeof(mm));
	mm.cfg.sensor = "unit-test";
	mm.rec_alert = rec_new();
	mm.zones = zone_model_parse(zones_yaml, sizeof(zones_yaml) - 1, "test",
				    err, sizeof(err));
	if (!mm.zones) {
		fprintf(stderr, "zones: %s\n", err);
		return -1;
	}
	eve_buf = NULL;
	eve_len = 0;
	strcpy(eve_path, "/tmp/mm-test-detect-XXXXXX");
	int fd = mkstemp(eve_path);
	if (fd < 0)
		return -1;
	close(fd);
	mm.eve = logw_open(eve_path);
	detect_cfg_defaults(&detect_cfg);
	detect_reset();
	at(T0);
	return mm.rec_alert && mm.eve ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	logw_close(mm.eve);
	mm.eve = NULL;
	unlink(eve_path);
	free(eve_buf);
	eve_buf = NULL;
	rec_free(mm.rec_alert);
	zone_model_free(mm.zones);
	return 0;
}

/* alerts of signature `sig` written so far */
static int alerts(const char *sig)
{
	char pat[96];
	int n = 0;

	read_eve();
	snprintf(pat, sizeof(pat), "\"signature\":\"%s\"", sig);
	for (const char *p = eve_buf; p && (p = strstr(p, pat)); p += strlen(pat))
		n++;
	return n;
}

/* every detector alert written so far */
static int all_alerts(void)
{
	return (int)detect_stats.raised;
}

/* the last EVE line */
static const char *last_alert(void)
{
	static char line[4096];
	const char *end, *start;

	read_eve();
	if (!eve_buf || !eve_len)
		return "";
	end = eve_buf + eve_len - 1; /* the newline */
	start = end;
	while (start > eve_buf && start[-1] != '\n')
		start--;
	snprintf(line, sizeof(line), "%.*s", (int)(end - start), start);
	return line;
}

/* ---------------- flows, ends and ops ---------------- */

struct fake {
	struct mm_flow f;
	struct mm_ends e;
	char src[16], dst[16];
};

/* a flow of protocol `proto` and its ends src:sp -> dst:dp */
static struct fake *fake(const char *proto, uint32_t src, uint16_t sp,
			 uint32_t dst, uint16_t dp)
{
	static struct fake pool[8];
	static int next;
	struct fake *x = &pool[next++ % 8];

	memset(x, 0, sizeof(*x));
	x->f.id = (uint64_t)next;
	x->f.d = mm_dissector_by_name(proto);
	assert_non_null(x->f.d);
	x->f.transport = x->f.d->transport;
	inet_ntop(AF_INET, &src, x->src, sizeof(x->src));
	inet_ntop(AF_INET, &dst, x->dst, sizeof(x->dst));
	x->e.transport = x->f.transport;
	x->e.src_ip = src;
	x->e.dest_ip = dst;
	x->e.src_str = x->src;
	x->e.dest_str = x->dst;
	x->e.src_port = sp;
	x->e.dest_port = dp;
	x->e.src_zone = zone_lookup(mm.zones, src, &x->e.src_host);
	x->e.dest_zone = zone_lookup(mm.zones, dst, &x->e.dest_host);
	return x;
}

/* the same flow, the other way (responses) */
static struct fake *reverse(const struct fake *x)
{
	static struct fake r;

	r = *x;
	r.e.src_ip = x->e.dest_ip;
	r.e.dest_ip = x->e.src_ip;
	r.e.src_port = x->e.dest_port;
	r.e.dest_port = x->e.src_port;
	r.e.src_zone = x->e.dest_zone;
	r.e.dest_zone = x->e.src_zone;
	r.e.src_host = x->e.dest_host;
	r.e.dest_host = x->e.src_host;
	memcpy(r.src, x->dst, sizeof(r.src));
	memcpy(r.dst, x->src, sizeof(r.dst));
	r.e.src_str = r.src;
	r.e.dest_str = r.dst;
	return &r;
}

static struct mm_op mb_op(unsigned fc, enum mm_op_class cls, unsigned unit,
			  unsigned space, unsigned addr, unsigned count)
{
	struct mm_op op;

	memset(&op, 0, sizeof(op));
	op.cls = cls;
	op.function = fc;
	op.function_name = "fc";
	snprintf(op.target, sizeof(op.target), "unit %u table %u %u x%u", unit,
		 space, addr, count);
	op.has_ref = true;
	op.unit = unit;
	op.space = space;
	op.addr = addr;
	op.count = count;
	return op;
}

static void mb_read(struct fake *x, unsigned unit, unsigned addr, unsigned n)
{
	struct mm_op op = mb_op(3, MM_OP_READ, unit, 4, addr, n);
	detect_op(&x->f, &x->e, &op);
}

static void mb_fc(struct fake *x, unsigned fc)
{
	struct mm_op op = mb_op(fc, MM_OP_OTHER, 1, 0, 0, 0);
	detect_op(&x->f, &x->e, &op);
}

static void mb_write(struct fake *x, unsigned unit, unsigned addr)
{
	struct mm_op op = mb_op(6, MM_OP_WRITE, unit, 4, addr, 1);
	detect_op(&x->f, &x->e, &op);
}

static const struct mm_event_def *event_def(const char *proto, const char *name)
{
	const struct mm_dissector *d = mm_dissector_by_name(proto);

	assert_non_null(d);
	for (size_t i = 0; i < d->n_events; i++)
		if (!strcmp(d->events[i].name, name))
			return &d->events[i];
	fail_msg("no event %s in %s", name, proto);
	return NULL;
}

/* ---------------- a recorder for the real dissectors ---------------- */

struct rec_ctx {
	struct mm_ctx ctx;
	int n_ops;
	struct mm_op op;
	int n_events;
	const struct mm_event_def *ev;
	char detail[256];
};

static void rc_op(struct mm_ctx *c, const struct mm_op *op)
{
	struct rec_ctx *r = c->host;
	r->op = *op;
	r->n_ops++;
}

static void rc_event(struct mm_ctx *c, const struct mm_event_def *ev,
		     const char *detail)
{
	struct rec_ctx *r = c->host;
	r->ev = ev;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	r->n_events++;
}

static const struct mm_ctx_ops rc_ops = { .op = rc_op, .event = rc_event };

/* run one PDU through the registry's dissector `proto` */
static struct rec_ctx *dissect(const char *proto, enum mm_dir dir,
			       const uint8_t *p, size_t n)
{
	static struct rec_ctx r;
	const struct mm_dissector *d = mm_dissector_by_name(proto);
	void *st;

	assert_non_null(d);
	memset(&r, 0, sizeof(r));
	r.ctx.ops = &rc_ops;
	r.ctx.host = &r;
	r.ctx.dir = dir;
	r.ctx.now = &mm.now;
	st = d->state_new ? d->state_new() : NULL;
	d->parse(&r.ctx, st, p, n);
	if (st)
		d->state_free(st);
	return &r;
}

/* ================================================================== */
/* modbus.scan                                                          */
/* ================================================================== */

static void test_scan_functions(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	(void)state;

	/* 19 distinct codes in half a minute: a client that knows every
	 * public function, not a scan */
	for (unsigned fc = 1; fc <= 19; fc++) {
		at(T0 + fc);
		mb_fc(x, fc);
	}
	assert_int_equal(alerts("modbus.scan"), 0);
	/* the 20th distinct code: one alert */
	at(T0 + 20);
	mb_fc(x, 90);
	assert_int_equal(alerts("modbus.scan"), 1);
	assert_non_null(strstr(last_alert(), "\"src_zone\":\"scada\""));
	assert_non_null(strstr(last_alert(), "\"dest_zone\":\"line1\""));
	assert_non_null(strstr(last_alert(), "\"signature_id\":2300001"));
	assert_non_null(strstr(last_alert(), "\"severity\":2"));
	assert_non_null(strstr(last_alert(), "\"app_proto\":\"modbus\""));
	/* the scan goes on for ten minutes, a code every 5 s: one episode */
	for (int i = 0; i < 120; i++) {
		at(T0 + 25 + 5 * i);
		mb_fc(x, 20 + (unsigned)i % 100);
	}
	assert_int_equal(alerts("modbus.scan"), 1);
	/* the scanner goes quiet; polling alone later is no scan */
	double t = T0 + 25 + 5 * 120 + 400;
	for (int i = 0; i < 100; i++) {
		at(t + i);
		mb_fc(x, 3);
	}
	assert_int_equal(alerts("modbus.scan"), 1);
	/* a new scan, after the quiet period: a new episode */
	t += 200;
	for (unsigned fc = 1; fc <= 25; fc++) {
		at(t + fc);
		mb_fc(x, fc + 30);
	}
	assert_int_equal(alerts("modbus.scan"), 2);
	assert_int_equal(all_alerts(), 2);
}

static void test_scan_window(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	(void)state;

	/* 15 codes, then 15 others more than two windows later: never 20
	 * within the window */
	for (unsigned fc = 1; fc <= 15; fc++) {
		at(T0 + fc);
		mb_fc(x, fc);
	}
	for (unsigned fc = 1; fc <= 15; fc++) {
		at(T0 + 200 + fc);
		mb_fc(x, 40 + fc);
	}
	assert_int_equal(alerts("modbus.scan"), 0);
	/* one server per key: 15 codes to each of two servers is no scan */
	struct fake *y = fake("modbus", SCADA, 40001, PLC2, 502);
	for (unsigned fc = 1; fc <= 15; fc++) {
		at(T0 + 220 + fc);
		mb_fc(y, 60 + fc);
	}
	assert_int_equal(alerts("modbus.scan"), 0);
	/* invalid codes (0, 128..255) share one bit: no inflation */
	for (unsigned fc = 128; fc < 256; fc++)
		mb_fc(y, fc);
	assert_int_equal(alerts("modbus.scan"), 0);

	/* with a short quiet period: the scan's codes are still in the
	 * window when its episode is over, and the same client polling
	 * with codes it used starts no new episode */
	detect_cfg.quiet_period = 10;
	struct fake *z = fake("modbus", EWS, 40003, PLC, 502);
	for (unsigned fc = 1; fc <= 25; fc++) {
		at(T0 + 1000 + fc * 0.1);
		mb_fc(z, fc);
	}
	assert_int_equal(alerts("modbus.scan"), 1);
	for (int i = 0; i < 50; i++) {
		at(T0 + 1020 + i);
		mb_fc(z, 3);
		mb_fc(z, 16);
	}
	assert_int_equal(alerts("modbus.scan"), 1);
}

static void test_scan_units(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	(void)state;

	for (unsigned u = 1; u <= 39; u++) {
		at(T0 + u * 0.5);
		mb_read(x, u, 0, 1);
	}
	assert_int_equal(alerts("modbus.scan"), 0);
	at(T0 + 20);
	mb_read(x, 247, 0, 1);
	assert_int_equal(alerts("modbus.scan"), 1);
	assert_non_null(strstr(last_alert(), "distinct unit ids"));
	/* a gateway polling 32 units all day: no scan */
	struct fake *g = fake("modbus", SCADA, 40002, PLC2, 502);
	for (int round = 0; round < 60; round++)
		for (unsigned u = 1; u <= 32; u++) {
			at(T0 + 100 + round * 10 + u * 0.1);
			mb_read(g, u, 0, 10);
		}
	assert_int_equal(alerts("modbus.scan"), 1);
}

/* the dissector's own exception detail drives the refused count */
static void test_scan_refused(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	struct fake *rsp;
	const struct mm_event_def *ev = event_def("modbus",
						  "modbus.exception_response");
	/* MBAP tid 1, pid 0, length 3, unit 1; fc | 0x80, exception */
	uint8_t pdu[9] = { 0, 1, 0, 0, 0, 3, 1, 0, 1 };
	(void)state;

	for (unsigned fc = 7; fc < 12; fc++) {
		at(T0 + fc);
		mb_fc(x, fc);
		pdu[7] = (uint8_t)(0x80 | fc);
		pdu[8] = fc == 11 ? 2 : 1; /* the last: illegal data address */
		struct rec_ctx *r = dissect("modbus", MM_DIR_TO_CLIENT, pdu,
					    sizeof(pdu));
		assert_int_equal(r->n_events, 1);
		assert_ptr_equal(r->ev, ev);
		rsp = reverse(x);
		assert_false(detect_event(&rsp->f, &rsp->e, ev, r->detail));
	}
	/* 4 refused as illegal function (fc 7..10), one refused otherwise */
	assert_int_equal(alerts("modbus.scan"), 0);
	pdu[7] = 0x80 | 65;
	pdu[8] = 1;
	struct rec_ctx *r = dissect("modbus", MM_DIR_TO_CLIENT, pdu, sizeof(pdu));
	rsp = reverse(x);
	detect_event(&rsp->f, &rsp->e, ev, r->detail);
	assert_int_equal(alerts("modbus.scan"), 1);
	/* raised as the client's scan of the server */
	assert_non_null(strstr(last_alert(), "\"src_ip\":\"10.3.0.10\""));
	assert_non_null(strstr(last_alert(), "\"dest_ip\":\"10.10.1.10\""));
	assert_non_null(strstr(last_alert(), "refused as illegal function"));
	/* a detail that is not the dissector's layout counts nothing */
	detect_event(&rsp->f, &rsp->e, ev, "garbage");
	detect_event(&rsp->f, &rsp->e, ev, NULL);
}

/* ================================================================== */
/* modbus.register_sweep                                                */
/* ================================================================== */

static void test_sweep(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	(void)state;

	/* 0..1999 in 100-register steps, with the HMI's polling between:
	 * 20 requests, the 20th reaches the 2000 addresses */
	for (unsigned k = 0; k < 19; k++) {
		at(T0 + k);
		mb_read(x, 1, 100 * k, 100);
		mb_read(x, 1, 0, 10);      /* polling in between */
		mb_read(x, 1, 500, 20);
	}
	assert_int_equal(alerts("modbus.register_sweep"), 0);
	at(T0 + 19);
	mb_read(x, 1, 1900, 100);
	assert_int_equal(alerts("modbus.register_sweep"), 1);
	assert_non_null(strstr(last_alert(), "addresses 0..1999"));
	assert_non_null(strstr(last_alert(), "\"signature_id\":2300002"));
	/* the sweep goes on to 9999: the same episode */
	for (unsigned k = 20; k < 100; k++) {
		at(T0 + k);
		mb_read(x, 1, 100 * k, 100);
	}
	assert_int_equal(alerts("modbus.register_sweep"), 1);
	/* later (after the quiet period) the input registers: a new one */
	for (unsigned k = 0; k < 30; k++) {
		at(T0 + 1000 + k);
		struct mm_op op = mb_op(4, MM_OP_READ, 1, 3, 125 * k, 125);
		detect_op(&x->f, &x->e, &op);
	}
	assert_int_equal(alerts("modbus.register_sweep"), 2);
}

static void test_sweep_not(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	(void)state;

	/* a polling list of 8 contiguous blocks, cycled for an hour */
	for (int round = 0; round < 3600; round++)
		for (unsigned k = 0; k < 8; k++) {
			at(T0 + round + k * 0.1);
			mb_read(x, 1, 125 * k, 125);
		}
	/* a walk with one-register holes (default gap 0) */
	for (unsigned k = 0; k < 40; k++) {
		at(T0 + 4000 + k);
		mb_read(x, 2, 101 * k, 100);
	}
	/* a walk that pauses longer than register_sweep_idle midway */
	for (unsigned k = 0; k < 30; k++) {
		at(T0 + 5000 + k + (k >= 15 ? 100 : 0));
		mb_read(x, 3, 100 * k, 100);
	}
	/* one walk per (unit, table): 1000 addresses on each of 4 units */
	for (unsigned k = 0; k < 10; k++)
		for (unsigned u = 10; u < 14; u++) {
			at(T0 + 6000 + k);
			mb_read(x, u, 100 * k, 100);
		}
	assert_int_equal(alerts("modbus.register_sweep"), 0);
	/* with a gap allowed, the holed walk is a sweep */
	detect_cfg.sweep_gap = 1;
	for (unsigned k = 0; k < 40; k++) {
		at(T0 + 7000 + k);
		mb_read(x, 2, 101 * k, 100);
	}
	assert_int_equal(alerts("modbus.register_sweep"), 1);
}

/* ================================================================== */
/* write floods                                                         */
/* ================================================================== */

/* `n` writes spread over second `s` (from T0) */
static void writes_in_second(struct fake *x, unsigned unit, int s, int n)
{
	for (int i = 0; i < n; i++) {
		at(T0 + s + (double)i / n);
		mb_write(x, unit, 10);
	}
}

static void test_write_flood(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	(void)state;

	/* 99 writes a second for a minute: below the rate */
	for (int s = 0; s < 60; s++)
		writes_in_second(x, 1, s, 99);
	assert_int_equal(alerts("modbus.write_flood"), 0);
	/* 100 a second: the 5th consecutive second raises it, once */
	for (int s = 100; s < 104; s++)
		writes_in_second(x, 1, s, 100);
	assert_int_equal(alerts("modbus.write_flood"), 0);
	writes_in_second(x, 1, 104, 100);
	assert_int_equal(alerts("modbus.write_flood"), 1);
	assert_non_null(strstr(last_alert(), "\"signature_id\":2300003"));
	assert_non_null(strstr(last_alert(), "\"dest_zone\":\"line1\""));
	/* the flood goes on for ten minutes: the same episode */
	for (int s = 105; s < 705; s++)
		writes_in_second(x, 1, s, 150);
	assert_int_equal(alerts("modbus.write_flood"), 1);
	/* a one-second burst, however large, is not sustained */
	writes_in_second(x, 1, 2000, 5000);
	/* four hot seconds, one cold, four hot: never five in a row */
	for (int s = 3000; s < 3009; s++)
		writes_in_second(x, 1, s, s == 3004 ? 50 : 200);
	assert_int_equal(alerts("modbus.write_flood"), 1);
	/* a new flood after the quiet period: a new episode */
	for (int s = 4000; s < 4006; s++)
		writes_in_second(x, 1, s, 200);
	assert_int_equal(alerts("modbus.write_flood"), 2);
}

static void test_write_flood_targets(void **state)
{
	struct fake *a = fake("modbus", SCADA, 40000, PLC, 502);
	struct fake *b = fake("modbus", EWS, 40001, PLC, 502);
	(void)state;

	/* two units of one server, 60 a second each: two targets, each
	 * below the rate */
	for (int s = 0; s < 10; s++) {
		writes_in_second(a, 1, s, 60);
		writes_in_second(a, 2, s, 60);
	}
	assert_int_equal(alerts("modbus.write_flood"), 0);
	/* two clients hammering the same unit: one target */
	for (int s = 100; s < 106; s++) {
		writes_in_second(a, 3, s, 60);
		writes_in_second(b, 3, s, 60);
	}
	assert_int_equal(alerts("modbus.write_flood"), 1);

	/* S7: the target is the data block */
	struct fake *s7 = fake("s7comm", SCADA, 40002, PLC2, 102);
	for (int s = 200; s < 206; s++)
		for (int i = 0; i < 120; i++) {
			at(T0 + s + i / 120.0);
			struct mm_op op = mb_op(5, MM_OP_WRITE, 10, 0x84, 4, 2);
			detect_op(&s7->f, &s7->e, &op);
		}
	assert_int_equal(alerts("s7comm.write_flood"), 1);
	assert_non_null(strstr(last_alert(), "db 10"));

	/* BACnet */
	struct fake *bn = fake("bacnet", SCADA, 47808, IP(10, 30, 0, 10), 47808);
	for (int s = 300; s < 306; s++)
		for (int i = 0; i < 120; i++) {
			at(T0 + s + i / 120.0);
			struct mm_op op = mb_op(15, MM_OP_WRITE, 0, 2, 1, 1);
			detect_op(&bn->f, &bn->e, &op);
		}
	assert_int_equal(alerts("bacnet.write_flood"), 1);
	assert_non_null(strstr(last_alert(), "\"dest_zone\":\"bldg\""));
	/* reads never count */
	for (int s = 400; s < 410; s++)
		for (int i = 0; i < 500; i++) {
			at(T0 + s + i / 500.0);
			mb_read(a, 1, 0, 10);
		}
	assert_int_equal(all_alerts(), 3);
}

/* ================================================================== */
/* error storms                                                         */
/* ================================================================== */

static void storm(struct fake *rsp, const char *proto, const char *name,
		  double t0, int n, double spacing)
{
	const struct mm_event_def *ev = event_def(proto, name);

	for (int i = 0; i < n; i++) {
		at(t0 + i * spacing);
		assert_false(detect_event(&rsp->f, &rsp->e, ev, "x"));
	}
}

static void test_error_storms(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	struct fake *rsp = reverse(x);
	(void)state;

	/* 19 exceptions within 10 s, then one every 2 s for an hour */
	storm(rsp, "modbus", "modbus.exception_response", T0, 19, 0.5);
	storm(rsp, "modbus", "modbus.exception_response", T0 + 60, 1800, 2);
	assert_int_equal(alerts("modbus.exception_storm"), 0);
	/* 20 within 10 s: once, named as the client's exchange */
	storm(rsp, "modbus", "modbus.exception_response", T0 + 4000, 20, 0.4);
	assert_int_equal(alerts("modbus.exception_storm"), 1);
	assert_non_null(strstr(last_alert(), "\"src_ip\":\"10.3.0.10\""));
	assert_non_null(strstr(last_alert(), "\"dest_ip\":\"10.10.1.10\""));
	/* it goes on: the same episode */
	storm(rsp, "modbus", "modbus.exception_response", T0 + 4010, 1000, 0.1);
	assert_int_equal(alerts("modbus.exception_storm"), 1);
	/* after the quiet period: again */
	storm(rsp, "modbus", "modbus.exception_response", T0 + 5000, 30, 0.1);
	assert_int_equal(alerts("modbus.exception_storm"), 2);

	struct fake *s7 = reverse(fake("s7comm", SCADA, 40001, PLC2, 102));
	storm(s7, "s7comm", "s7comm.error_response", T0 + 6000, 25, 0.1);
	assert_int_equal(alerts("s7comm.error_storm"), 1);

	/* BACnet: Error, Reject and Abort all count */
	struct fake *bn = reverse(fake("bacnet", SCADA, 47808,
				       IP(10, 30, 0, 10), 47808));
	storm(bn, "bacnet", "bacnet.error_response", T0 + 7000, 7, 0.1);
	storm(bn, "bacnet", "bacnet.reject", T0 + 7001, 7, 0.1);
	storm(bn, "bacnet", "bacnet.abort", T0 + 7002, 5, 0.1);
	assert_int_equal(alerts("bacnet.error_storm"), 0);
	storm(bn, "bacnet", "bacnet.abort", T0 + 7003, 1, 0.1);
	assert_int_equal(alerts("bacnet.error_storm"), 1);
	/* other events count nothing */
	storm(rsp, "modbus", "modbus.invalid_length", T0 + 8000, 100, 0.01);
	assert_int_equal(all_alerts(), 4);
}

/* ================================================================== */
/* s7comm.recon                                                         */
/* ================================================================== */

static void s7_discover(struct fake *x, const char *target)
{
	struct mm_op op;

	memset(&op, 0, sizeof(op));
	op.cls = MM_OP_DISCOVER;
	op.function = 0x0401;
	op.function_name = "read_szl";
	snprintf(op.target, sizeof(op.target), "%s", target);
	detect_op(&x->f, &x->e, &op);
}

static void test_s7_recon(void **state)
{
	struct fake *hmi = fake("s7comm", SCADA, 40000, PLC, 102);
	struct fake *ews = fake("s7comm", EWS, 40001, PLC, 102);
	struct fake *stranger = fake("s7comm", IP(172, 16, 5, 5), 40002, PLC2, 102);
	char t[64];
	(void)state;

	/* an HMI reading the CPU state every second for an hour */
	for (int i = 0; i < 3600; i++) {
		at(T0 + i);
		s7_discover(hmi, "SZL 0x0424 index 0x0000");
	}
	/* the engineering station going online: 50 items, allowed */
	for (int i = 0; i < 50; i++) {
		at(T0 + 4000 + i * 0.1);
		snprintf(t, sizeof(t), "info DB%d", i);
		s7_discover(ews, t);
	}
	assert_int_equal(alerts("s7comm.recon"), 0);
	/* the HMI's host enumerates: 9 more distinct items, then the 10th */
	for (int i = 0; i < 8; i++) {
		at(T0 + 5000 + i);
		snprintf(t, sizeof(t), "SZL 0x%04x index 0x0000", 0x11 + i);
		s7_discover(hmi, t);
	}
	s7_discover(hmi, "list OB blocks");
	assert_int_equal(alerts("s7comm.recon"), 0);
	s7_discover(hmi, "list FC blocks");
	assert_int_equal(alerts("s7comm.recon"), 1);
	assert_non_null(strstr(last_alert(), "\"src_zone\":\"scada\""));
	assert_non_null(strstr(last_alert(), "\"signature_id\":2300006"));
	/* a host in no zone is outside engineering too */
	for (int i = 0; i < 12; i++) {
		at(T0 + 6000 + i);
		snprintf(t, sizeof(t), "info FC%d", i);
		s7_discover(stranger, t);
	}
	assert_int_equal(alerts("s7comm.recon"), 2);
	assert_non_null(strstr(last_alert(), "\"src_zone\":null"));
	/* reads and writes are not discovery */
	assert_int_equal(all_alerts(), 2);
}

/* ================================================================== */
/* bacnet.who_is_flood across flows                                     */
/* ================================================================== */

static void who_is(uint32_t src, uint32_t dst)
{
	struct fake *x = fake("bacnet", src, 47808, dst, 47808);
	struct mm_op op;

	memset(&op, 0, sizeof(op));
	op.cls = MM_OP_DISCOVER;
	op.function = 8;
	op.function_name = "who_is";
	detect_op(&x->f, &x->e, &op);
}

static void test_who_is(void **state)
{
	const struct mm_event_def *flood = event_def("bacnet",
						     "bacnet.who_is_flood");
	struct fake *x;
	(void)state;

	/* a workstation's start-up: a few, then one every few minutes */
	for (int i = 0; i < 10; i++) {
		at(T0 + i * 0.2);
		who_is(SCADA, IP(255, 255, 255, 255));
	}
	for (int i = 0; i < 30; i++) {
		at(T0 + 100 + i * 120);
		who_is(SCADA, IP(255, 255, 255, 255));
	}
	assert_int_equal(alerts("bacnet.who_is_flood"), 0);
	/* a sweep: one unicast Who-Is to each device, each its own flow */
	for (int i = 0; i < 19; i++) {
		at(T0 + 5000 + i * 0.3);
		who_is(SCADA, IP(10, 30, 0, 20 + i));
	}
	assert_int_equal(alerts("bacnet.who_is_flood"), 0);
	who_is(SCADA, IP(10, 30, 0, 99));
	assert_int_equal(alerts("bacnet.who_is_flood"), 1);
	/* it goes on for minutes: once */
	for (int i = 0; i < 2000; i++) {
		at(T0 + 5010 + i * 0.1);
		who_is(SCADA, IP(10, 30, 0, 1 + i % 200));
	}
	assert_int_equal(alerts("bacnet.who_is_flood"), 1);
	/* the dissector's per-flow event is absorbed: this detector counts */
	x = fake("bacnet", SCADA, 47808, IP(255, 255, 255, 255), 47808);
	assert_true(detect_event(&x->f, &x->e, flood, "21 Who-Is"));
	assert_int_equal(detect_stats.absorbed, 1);
	/* with the detector off, the dissector's event goes through */
	detect_cfg.who_is_count = 0;
	assert_false(detect_event(&x->f, &x->e, flood, "21 Who-Is"));
	detect_cfg.who_is_count = 20;
	detect_cfg.enabled = false;
	assert_false(detect_event(&x->f, &x->e, flood, "21 Who-Is"));
}

/* ================================================================== */
/* net.port_scan                                                        */
/* ================================================================== */

static void test_port_scan(void **state)
{
	(void)state;

	/* SCADA reconnects to 30 PLCs on 502, again and again */
	for (int r = 0; r < 100; r++)
		for (int h = 0; h < 30; h++) {
			at(T0 + r * 30 + h * 0.1);
			detect_touch(IPPROTO_TCP, SCADA, IP(10, 10, 1, 100 + h), 502);
		}
	/* 40 pairs in each of two zones: each zone below the threshold */
	for (int i = 0; i < 40; i++) {
		at(T0 + 4000 + i * 0.1);
		detect_touch(IPPROTO_TCP, EWS, IP(10, 10, 1, 10), (uint16_t)(1 + i));
		detect_touch(IPPROTO_TCP, EWS, IP(10, 10, 2, 10), (uint16_t)(1 + i));
	}
	assert_int_equal(alerts("net.port_scan"), 0);
	/* a scan of line 1: 10 hosts x 30 ports, TCP and UDP: once */
	int n = 0;
	for (int p = 0; p < 30; p++)
		for (int h = 0; h < 10; h++) {
			at(T0 + 5000 + n++ * 0.01);
			detect_touch(p % 3 ? IPPROTO_TCP : IPPROTO_UDP,
				     IP(10, 1, 5, 23), IP(10, 10, 1, 1 + h),
				     (uint16_t)(20 + p));
		}
	assert_int_equal(alerts("net.port_scan"), 1);
	assert_non_null(strstr(last_alert(), "\"src_ip\":\"10.1.5.23\""));
	assert_non_null(strstr(last_alert(), "\"dest_zone\":\"line1\""));
	assert_non_null(strstr(last_alert(), "\"signature_id\":2300011"));
	assert_null(strstr(last_alert(), "app_proto"));
	/* a second pass a minute later: the same episode */
	for (int i = 0; i < 300; i++) {
		at(T0 + 5060 + i * 0.01);
		detect_touch(IPPROTO_TCP, IP(10, 1, 5, 23),
			     IP(10, 10, 1, 1 + i % 10), (uint16_t)(20 + i / 10));
	}
	assert_int_equal(alerts("net.port_scan"), 1);
	/* after the quiet period: a new one */
	for (int i = 0; i < 300; i++) {
		at(T0 + 6000 + i * 0.01);
		detect_touch(IPPROTO_TCP, IP(10, 1, 5, 23),
			     IP(10, 10, 1, 1 + i % 10), (uint16_t)(20 + i / 10));
	}
	assert_int_equal(alerts("net.port_scan"), 2);
	assert_int_equal(all_alerts(), 2);
}

/* ================================================================== */
/* bounds, settings, switches                                           */
/* ================================================================== */

static void test_bounded(void **state)
{
	(void)state;

	/* 100000 client/server pairs through fixed tables */
	for (uint32_t i = 0; i < 100000; i++) {
		struct fake *x = fake("modbus", IP(10, 3, i >> 8 & 0xff, i & 0xff),
				      40000, IP(10, 10, 1, 1 + i % 200), 502);
		at(T0 + i * 0.001);
		mb_read(x, 1, 0, 10);
		detect_touch(IPPROTO_TCP, x->e.src_ip, x->e.dest_ip, 502);
	}
	assert_true(detect_stats.evicted > 0);
	assert_int_equal(all_alerts(), 0);
	/* and a scan still raises, once */
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	for (unsigned fc = 1; fc <= 30; fc++)
		mb_fc(x, fc);
	assert_int_equal(alerts("modbus.scan"), 1);
}

static int load(const char *text, char *err, size_t n)
{
	char path[64];
	struct mm_cfg c;

	return fx_cfg_load(&c, text, "detect", path, sizeof(path), err, n);
}

static void test_settings(void **state)
{
	char err[256];
	(void)state;

	assert_int_equal(load("detect:\n  quiet_period: 60\n"
			      "  modbus_scan_functions: 12\n"
			      "  write_flood_rate: 0\n"
			      "  error_storm_window: 2.5\n"
			      "  enabled: yes\n", err, sizeof(err)), 0);
	assert_true(detect_cfg.enabled);
	assert_true(detect_cfg.quiet_period == 60);
	assert_int_equal(detect_cfg.modbus_scan_functions, 12);
	assert_int_equal(detect_cfg.write_flood_rate, 0);
	assert_true(detect_cfg.error_storm_window == 2.5);
	/* untouched keys keep their defaults */
	assert_int_equal(detect_cfg.modbus_scan_units, 40);
	assert_int_equal(detect_cfg.port_scan_pairs, 64);

	assert_int_equal(load("detect:\n  modbus_scan_fucntions: 12\n", err,
			      sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: unknown setting 'modbus_scan_fucntions'"));
	assert_int_equal(load("detect:\n  port_scan_pairs: 100000\n", err,
			      sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: port_scan_pairs must be a number"));
	assert_int_equal(load("detect:\n  enabled: maybe\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "enabled must be true or false"));
	/* defaults again (mm_cfg_defaults resets them) */
	assert_int_equal(load("sensor: x\n", err, sizeof(err)), 0);
	assert_int_equal(detect_cfg.modbus_scan_functions, 20);
	assert_int_equal(detect_cfg.write_flood_rate, 100);
}

static void test_switches(void **state)
{
	struct fake *x = fake("modbus", SCADA, 40000, PLC, 502);
	(void)state;

	/* a threshold of 0 turns that detector off */
	detect_cfg.modbus_scan_functions = 0;
	detect_cfg.modbus_scan_refused = 0;
	detect_cfg.modbus_scan_units = 0;
	for (unsigned fc = 1; fc < 128; fc++)
		mb_fc(x, fc);
	for (unsigned u = 0; u < 256; u++)
		mb_read(x, u, 0, 1);
	assert_int_equal(alerts("modbus.scan"), 0);
	/* enabled: false turns every one off */
	detect_cfg_defaults(&detect_cfg);
	detect_cfg.enabled = false;
	for (unsigned fc = 1; fc < 128; fc++)
		mb_fc(x, fc);
	for (int i = 0; i < 200; i++)
		detect_touch(IPPROTO_TCP, SCADA, PLC, (uint16_t)(1 + i));
	assert_int_equal(all_alerts(), 0);
}

/* ================================================================== */
/* the structured targets the dissectors fill                           */
/* ================================================================== */

static void test_refs(void **state)
{
	(void)state;
	/* Modbus FC 3, unit 7, holding 100 x10 */
	static const uint8_t rd[] = { 0, 1, 0, 0, 0, 6, 7, 3, 0, 100, 0, 10 };
	struct rec_ctx *r = dissect("modbus", MM_DIR_TO_SERVER, rd, sizeof(rd));
	assert_int_equal(r->n_ops, 1);
	assert_true(r->op.has_ref);
	assert_int_equal(r->op.unit, 7);
	assert_int_equal(r->op.space, 4);
	assert_int_equal(r->op.addr, 100);
	assert_int_equal(r->op.count, 10);
	/* FC 5 coil 9 of unit 2 */
	static const uint8_t wc[] = { 0, 2, 0, 0, 0, 6, 2, 5, 0, 9, 0xFF, 0 };
	r = dissect("modbus", MM_DIR_TO_SERVER, wc, sizeof(wc));
	assert_true(r->op.has_ref);
	assert_int_equal(r->op.unit, 2);
	assert_int_equal(r->op.space, 0);
	assert_int_equal(r->op.addr, 9);
	assert_int_equal(r->op.count, 1);
	/* FC 4 input registers */
	static const uint8_t ri[] = { 0, 3, 0, 0, 0, 6, 1, 4, 0x10, 0, 0, 125 };
	r = dissect("modbus", MM_DIR_TO_SERVER, ri, sizeof(ri));
	assert_int_equal(r->op.space, 3);
	assert_int_equal(r->op.addr, 0x1000);
	assert_int_equal(r->op.count, 125);
	/* FC 17: the unit only, no range */
	static const uint8_t id[] = { 0, 4, 0, 0, 0, 2, 9, 17 };
	r = dissect("modbus", MM_DIR_TO_SERVER, id, sizeof(id));
	assert_true(r->op.has_ref);
	assert_int_equal(r->op.unit, 9);
	assert_int_equal(r->op.count, 0);

	/* S7 read var, DB5 byte 10, 4 bytes: TPKT, COTP DT, S7 job */
	static const uint8_t s7[] = {
		0x03, 0x00, 0x00, 0x1F, 0x02, 0xF0, 0x80,
		0x32, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0E, 0x00, 0x00,
		0x04, 0x01, 0x12, 0x0A, 0x10, 0x02, 0x00, 0x04, 0x00, 0x05,
		0x84, 0x00, 0x00, 0x50 };
	r = dissect("s7comm", MM_DIR_TO_SERVER, s7, sizeof(s7));
	assert_int_equal(r->n_ops, 1);
	assert_int_equal(r->op.cls, MM_OP_READ);
	assert_true(r->op.has_ref);
	assert_int_equal(r->op.unit, 5);
	assert_int_equal(r->op.space, 0x84);
	assert_int_equal(r->op.addr, 10);
	assert_int_equal(r->op.count, 4);

	/* BACnet WriteProperty analog-value 1 present-value = 21.5 */
	static const uint8_t bn[] = {
		0x81, 0x0A, 0x00, 0x18,             /* BVLC unicast, 24 */
		0x01, 0x04,                         /* NPDU, reply expected */
		0x00, 0x05, 0x01, 0x0F,             /* confirmed, invoke 1, WP */
		0x0C, 0x00, 0x80, 0x00, 0x01,       /* [0] object AV 1 */
		0x19, 0x55,                         /* [1] present-value */
		0x3E, 0x44, 0x41, 0xAC, 0x00, 0x00, /* [3] REAL 21.5 */
		0x3F };
	r = dissect("bacnet", MM_DIR_TO_SERVER, bn, sizeof(bn));
	assert_int_equal(r->n_ops, 1);
	assert_int_equal(r->op.cls, MM_OP_WRITE);
	assert_true(r->op.has_ref);
	assert_int_equal(r->op.space, 2);
	assert_int_equal(r->op.addr, 1);
	assert_int_equal(r->op.unit, 0);
	assert_int_equal(r->op.count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_functions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_units, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_not, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_flood_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_storms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_s7_recon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_who_is, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_switches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
