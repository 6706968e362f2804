/*
 * test_modbus.c - the Modbus/TCP dissector on byte arrays.
 *
 * A recording mm_ctx keeps every op, event, asset fact and transaction
 * log line; tests assert on values derived from the bytes and the spec
 * (MODBUS Application Protocol V1.1b3: most fixtures are its worked
 * examples), never on what the code happened to print.
 *
 * Fixtures give the PDU in hex (with '...' for ASCII runs); fx_build()
 * puts the MBAP header in front.  Every fixture is also cut short at
 * every offset, and every buffer handed to the dissector is a heap copy of
 * exactly its length, so that ASan sees any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../common/rec.h"
#include "../../dissectors/dissector.h"

extern const struct mm_dissector mm_modbus_dissector;
static const struct mm_dissector *D = &mm_modbus_dissector;

#define REQ MM_DIR_TO_SERVER
#define RSP MM_DIR_TO_CLIENT

#include "recorder.h"

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

struct fx {
	const char *name;
	enum mm_dir dir;
	uint16_t tid;
	uint8_t unit;
	const char *pdu; /* function code + data */
};

/*
 * Requests and responses share a tid so they pair.  "[AP] x.y" names the
 * spec example the bytes come from.
 */
static const struct fx fixtures[] = {
	/* [AP] 6.1: read coils 20-38 (address 19, 19 coils) */
	{ "fc1_req", REQ, 1, 1, "01 0013 0013" },
	{ "fc1_rsp", RSP, 1, 1, "01 03 CD 6B 05" },
	/* [AP] 6.2: read discrete inputs 197-218 */
	{ "fc2_req", REQ, 2, 1, "02 00C4 0016" },
	{ "fc2_rsp", RSP, 2, 1, "02 03 AC DB 35" },
	/* [AP] 6.3: read holding registers 108-110 */
	{ "fc3_req", REQ, 3, 1, "03 006B 0003" },
	{ "fc3_rsp", RSP, 3, 1, "03 06 022B 0000 0064" },
	{ "fc3_exc", RSP, 3, 1, "83 02" },
	/* [AP] 6.4: read input register 9 */
	{ "fc4_req", REQ, 4, 1, "04 0008 0001" },
	{ "fc4_rsp", RSP, 4, 1, "04 02 000A" },
	/* [AP] 6.5: write coil 173 ON */
	{ "fc5_req", REQ, 5, 1, "05 00AC FF00" },
	{ "fc5_rsp", RSP, 5, 1, "05 00AC FF00" },
	/* [AP] 6.6: write register 2 = 3 */
	{ "fc6_req", REQ, 6, 1, "06 0001 0003" },
	{ "fc6_rsp", RSP, 6, 1, "06 0001 0003" },
	/* [AP] 6.7: read exception status */
	{ "fc7_req", REQ, 7, 1, "07" },
	{ "fc7_rsp", RSP, 7, 1, "07 6D" },
	/* [AP] 6.8: diagnostics, return query data */
	{ "fc8_req", REQ, 8, 1, "08 0000 A537" },
	{ "fc8_rsp", RSP, 8, 1, "08 0000 A537" },
	{ "fc8_restart_req", REQ, 0x81, 1, "08 0001 FF00" },
	{ "fc8_listen_req", REQ, 0x84, 1, "08 0004 0000" },
	{ "fc8_diagreg_req", REQ, 0x82, 1, "08 0002 0000" },
	{ "fc8_diagreg_rsp", RSP, 0x82, 1, "08 0002 1234" },
	{ "fc8_clear_req", REQ, 0x8A, 1, "08 000A 0000" },
	{ "fc8_buscount_req", REQ, 0x8B, 1, "08 000B 0000" },
	/* [AP] 6.9: get comm event counter */
	{ "fc11_req", REQ, 11, 1, "0B" },
	{ "fc11_rsp", RSP, 11, 1, "0B FFFF 0108" },
	/* [AP] 6.10: get comm event log */
	{ "fc12_req", REQ, 12, 1, "0C" },
	{ "fc12_rsp", RSP, 12, 1, "0C 08 0000 0108 0121 20 00" },
	/* [AP] 6.11: write coils 20-29 */
	{ "fc15_req", REQ, 15, 1, "0F 0013 000A 02 CD 01" },
	{ "fc15_rsp", RSP, 15, 1, "0F 0013 000A" },
	/* [AP] 6.12: write registers 2-3 = 10, 258 */
	{ "fc16_req", REQ, 16, 1, "10 0001 0002 04 000A 0102" },
	{ "fc16_rsp", RSP, 16, 1, "10 0001 0002" },
	/* [AP] 6.13: report server id (one-byte id 0x01, ON, "ABC") */
	{ "fc17_req", REQ, 17, 1, "11" },
	{ "fc17_rsp", RSP, 17, 1, "11 05 01 FF 'ABC'" },
	/* [AP] 6.14: read two file records */
	{ "fc20_req", REQ, 20, 1,
	  "14 0E 06 0004 0001 0002 06 0003 0009 0002" },
	{ "fc20_rsp", RSP, 20, 1, "14 0C 05 06 0DFE 0020 05 06 33CD 0040" },
	/* [AP] 6.15: write one file record */
	{ "fc21_req", REQ, 21, 1, "15 0D 06 0004 0007 0003 06AF 04BE 100D" },
	{ "fc21_rsp", RSP, 21, 1, "15 0D 06 0004 0007 0003 06AF 04BE 100D" },
	/* [AP] 6.16: mask write register 4 */
	{ "fc22_req", REQ, 22, 1, "16 0004 00F2 0025" },
	{ "fc22_rsp", RSP, 22, 1, "16 0004 00F2 0025" },
	/* [AP] 6.17: read 6 from 4, write 3 at 15 */
	{ "fc23_req", REQ, 23, 1, "17 0003 0006 000E 0003 06 00FF 00FF 00FF" },
	{ "fc23_rsp", RSP, 23, 1, "17 0C 00FE 0ACD 0001 0003 000D 00FF" },
	/* [AP] 6.18: read FIFO at 1246 */
	{ "fc24_req", REQ, 24, 1, "18 04DE" },
	{ "fc24_rsp", RSP, 24, 1, "18 0006 0002 01B8 1284" },
	/* [AP] 6.21: read device identification, basic */
	{ "fc43_14_req", REQ, 43, 255, "2B 0E 01 00" },
	{ "fc43_14_rsp", RSP, 43, 255,
	  "2B 0E 01 01 00 00 03 00 16 'Company identification' "
	  "01 0F 'Product code XX' 02 05 'V2.11'" },
	/* extended stream, individual access, objects 3-6 and a private one */
	{ "fc43_14x_req", REQ, 44, 255, "2B 0E 03 03" },
	{ "fc43_14x_rsp", RSP, 44, 255,
	  "2B 0E 03 83 FF 80 05 03 0B 'http://x.jp' 04 03 'PLC' 05 03 'M-1' "
	  "06 05 'line1' 80 02 'ab'" },
	/* [AP] 6.20: CANopen general reference, raw */
	{ "fc43_13_req", REQ, 45, 1, "2B 0D 00 01 02 03" },
	{ "fc43_13_rsp", RSP, 45, 1, "2B 0D 00 01 02 03 04" },
	/* user-defined 65 and a reserved code (9) */
	{ "fc65_req", REQ, 65, 1, "41 DEAD BEEF" },
	{ "fc65_rsp", RSP, 65, 1, "41 00" },
	{ "fc9_req", REQ, 9, 1, "09 01" },
	/* UMAS (FC 90): session 0, then the UMAS function */
	{ "umas_stop_req", REQ, 0x5A41, 0, "5A 00 41 FF 00" },
	{ "umas_stop_rsp", RSP, 0x5A41, 0, "5A 00 FE" },
	{ "umas_start_req", REQ, 0x5A40, 0, "5A 00 40 FF 00" },
	{ "umas_readid_req", REQ, 0x5A02, 0, "5A 00 02" },
	{ "umas_readmem_req", REQ, 0x5A20, 0, "5A 00 20 01 0000 0000 0100" },
	{ "umas_writemem_req", REQ, 0x5A21, 0, "5A 00 21 01 0000 0000 02 AA BB" },
	{ "umas_initdl_req", REQ, 0x5A30, 0, "5A 00 30 00 01" },
	{ "umas_dlblock_req", REQ, 0x5A31, 0, "5A 00 31 00 01 0100 0400 01020304" },
	{ "umas_enddl_req", REQ, 0x5A32, 0, "5A 00 32 00 01" },
	{ "umas_upload_req", REQ, 0x5A34, 0, "5A 00 34 00 01 0100" },
	{ "umas_writevar_req", REQ, 0x5A23, 0, "5A 00 23 01 02" },
	{ "umas_reserve_req", REQ, 0x5A10, 0, "5A 00 10 00 'eng1'" },
	{ "umas_unknown_req", REQ, 0x5A99, 0, "5A 00 99" },
	/* signed UMAS: 0x38, magic, 32-byte signature, then 5A session 41 */
	{ "umas_signed_req", REQ, 0x5A38, 0,
	  "5A 00 38 01 "
	  "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF "
	  "5A 00 41 FF 00" },
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static const struct fx *fx(const char *name)
{
	for (size_t i = 0; i < N_FIXTURES; i++)
		if (strcmp(fixtures[i].name, name) == 0)
			return &fixtures[i];
	fail_msg("no fixture %s", name);
	return NULL;
}

/* the whole ADU: MBAP (tid, protocol 0, length, unit) + PDU */
static size_t fx_build(const struct fx *f, uint8_t *out, size_t cap)
{
	size_t n = hex(f->pdu, out + 7, cap - 7);
	out[0] = (uint8_t)(f->tid >> 8);
	out[1] = (uint8_t)f->tid;
	out[2] = 0;
	out[3] = 0;
	out[4] = (uint8_t)((n + 1) >> 8);
	out[5] = (uint8_t)(n + 1);
	out[6] = f->unit;
	return n + 7;
}

static void send_fx(struct rc *rc, const char *name)
{
	uint8_t buf[300];
	const struct fx *f = fx(name);
	size_t n = fx_build(f, buf, sizeof(buf));
	parse_bytes(rc, f->dir, buf, n);
}

static void send_hex(struct rc *rc, enum mm_dir dir, const char *adu)
{
	uint8_t buf[300];
	size_t n = hex(adu, buf, sizeof(buf));
	parse_bytes(rc, dir, buf, n);
}

/* a request: fc 3 at address 0, quantity 1, given tid and unit */
static void send_read(struct rc *rc, uint16_t tid, uint8_t unit)
{
	uint8_t b[] = { (uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6, unit,
			3, 0, 0, 0, 1 };
	parse_bytes(rc, REQ, b, sizeof(b));
}

static void send_read_rsp(struct rc *rc, uint16_t tid, uint8_t unit)
{
	uint8_t b[] = { (uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 5, unit,
			3, 2, 0x12, 0x34 };
	parse_bytes(rc, RSP, b, sizeof(b));
}

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */
/* ------------------------------------------------------------------ */

static void assert_ints(json_t *arr, const long long *want, size_t n)
{
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), n);
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		assert_true(json_is_integer(v));
		if (json_integer_value(v) != want[i])
			fail_msg("values[%zu] = %lld, expected %lld", i,
				 json_integer_value(v), want[i]);
	}
}

#define ASSERT_VALUES(obj, key, ...)                                           \
	do {                                                                   \
		const long long want_[] = { __VA_ARGS__ };                     \
		assert_ints(jget(obj, key), want_,                             \
			    sizeof(want_) / sizeof(want_[0]));                 \
	} while (0)

static void assert_op(const struct rc *rc, enum mm_op_class cls, unsigned fn,
		      const char *name, const char *target)
{
	assert_int_equal(rc->n_ops, 1);
	const struct mm_op *op = &rc->ops[0];
	if (op->cls != cls)
		fail_msg("op class %s, expected %s", mm_op_class_names[op->cls],
			 mm_op_class_names[cls]);
	assert_int_equal(op->function, fn);
	assert_string_equal(op->function_name, name);
	assert_string_equal(op->target, target);
}

/* a request/response pair on a fresh flow: the response's log line */
static json_t *pair(struct rc *rc, const char *req, const char *rsp)
{
	send_fx(rc, req);
	send_fx(rc, rsp);
	return last_json(rc);
}

/* ------------------------------------------------------------------ */
/* Framing and detection                                               */
/* ------------------------------------------------------------------ */

static void test_pdu_len(void **state)
{
	(void)state;
	uint8_t b[300];

	/* every fixture frames to exactly its length */
	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		assert_int_equal(D->pdu_len(b, n), (long)n);
		/* more bytes behind it do not change the answer */
		assert_int_equal(D->pdu_len(b, sizeof(b)), (long)n);
		/* 6 header bytes are enough to frame */
		assert_int_equal(D->pdu_len(b, 6), (long)n);
	}
	/* fewer than 6 bytes: need more */
	const uint8_t h[] = { 0, 1, 0, 0, 0, 6, 1, 3 };
	for (size_t k = 0; k < 6; k++)
		assert_int_equal(D->pdu_len(h, k), 0);
	/* bounds of the MBAP length: 2..254 */
	const uint8_t l2[] = { 0, 1, 0, 0, 0, 2 };
	const uint8_t l254[] = { 0, 1, 0, 0, 0, 254 };
	const uint8_t l0[] = { 0, 1, 0, 0, 0, 0 };
	const uint8_t l1[] = { 0, 1, 0, 0, 0, 1 };
	const uint8_t l255[] = { 0, 1, 0, 0, 0, 255 };
	const uint8_t l256[] = { 0, 1, 0, 0, 1, 0 };
	const uint8_t lbig[] = { 0, 1, 0, 0, 0x10, 0x00 };
	assert_int_equal(D->pdu_len(l2, 6), 8);
	assert_int_equal(D->pdu_len(l254, 6), 260);
	assert_int_equal(D->pdu_len(l0, 6), -1);
	assert_int_equal(D->pdu_len(l1, 6), -1);
	/* 255: one over [AP] 4.1, framed (Schneider tools send it) */
	assert_int_equal(D->pdu_len(l255, 6), 261);
	assert_int_equal(D->pdu_len(l256, 6), -1);
	assert_int_equal(D->pdu_len(lbig, 6), -1);
	/* protocol id not 0 */
	const uint8_t pid[] = { 0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1 };
	assert_int_equal(D->pdu_len(pid, sizeof(pid)), -1);
	const uint8_t pid2[] = { 0, 1, 0x80, 0, 0, 6 };
	assert_int_equal(D->pdu_len(pid2, 6), -1);
	/* the declared bounds */
	assert_string_equal(D->name, "modbus");
	assert_int_equal(D->transport, 6 /* IPPROTO_TCP */);
	assert_int_equal(D->ports[0], 502);
	assert_int_equal(D->ports[1], 0);
	assert_int_equal(D->max_pdu, 261);
}

/* a stream of back-to-back ADUs, split anywhere, frames identically */
static void test_pdu_len_stream(void **state)
{
	(void)state;
	uint8_t stream[1024];
	size_t n = 0, lens[8];
	const char *names[] = { "fc3_req", "fc16_req", "fc43_14_req",
				"umas_stop_req" };
	for (size_t i = 0; i < 4; i++) {
		lens[i] = fx_build(fx(names[i]), stream + n, sizeof(stream) - n);
		n += lens[i];
	}
	size_t off = 0, k = 0;
	while (off < n) {
		long l = D->pdu_len(stream + off, n - off);
		assert_true(l > 0);
		assert_int_equal((size_t)l, lens[k]);
		/* and with only part of the next ADU: 0 below 6 bytes */
		for (size_t cut = 0; cut < 6; cut++)
			assert_int_equal(D->pdu_len(stream + off, cut), 0);
		off += (size_t)l;
		k++;
	}
	assert_int_equal(k, 4);
}

static void test_probe_accepts(void **state)
{
	(void)state;
	uint8_t b[300];

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		/* reserved codes are not detected as Modbus (nor parsed less) */
		if (strcmp(fixtures[i].name, "fc9_req") == 0) {
			assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
			continue;
		}
		enum mm_probe p = D->probe(b, n, fixtures[i].dir);
		if (p != MM_PROBE_YES)
			fail_msg("probe refused fixture %s", fixtures[i].name);
		/* the first 8 bytes are enough */
		if (D->probe(b, 8, fixtures[i].dir) != MM_PROBE_YES)
			fail_msg("probe refused 8 bytes of %s", fixtures[i].name);
	}
	/* exception responses for known and user-defined codes */
	const uint8_t e1[] = { 0, 7, 0, 0, 0, 3, 1, 0x81, 0x01 };
	const uint8_t e11[] = { 0, 7, 0, 0, 0, 3, 1, 0x90, 0x0B };
	const uint8_t eu[] = { 0, 7, 0, 0, 0, 3, 1, 0xC1, 0x04 };
	assert_int_equal(D->probe(e1, sizeof(e1), RSP), MM_PROBE_YES);
	assert_int_equal(D->probe(e11, sizeof(e11), RSP), MM_PROBE_YES);
	assert_int_equal(D->probe(eu, sizeof(eu), RSP), MM_PROBE_YES);
}

static void test_probe_more(void **state)
{
	(void)state;
	uint8_t b[300];
	size_t n = fx_build(fx("fc3_req"), b, sizeof(b));

	(void)n;
	for (size_t k = 0; k < 8; k++)
		assert_int_equal(D->probe(b, k, REQ), MM_PROBE_MORE);
}

static void test_probe_rejects(void **state)
{
	(void)state;
	static const char http_get[] = "GET /index.html HTTP/1.1\r\nHost: plc\r\n\r\n";
	static const char http_rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2\r\n";
	/* TLS 1.2 ClientHello record header + handshake header */
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00,
				       0x01, 0xfc, 0x03, 0x03, 0xaa, 0xbb };
	static const uint8_t tls_alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02,
					     0x02, 0x28, 0, 0, 0 };
	static const uint8_t zeros[16] = { 0 };

	for (int d = 0; d < 2; d++) {
		enum mm_dir dir = d ? RSP : REQ;
		assert_int_equal(D->probe((const uint8_t *)http_get,
					  strlen(http_get), dir), MM_PROBE_NO);
		assert_int_equal(D->probe((const uint8_t *)http_rsp,
					  strlen(http_rsp), dir), MM_PROBE_NO);
		assert_int_equal(D->probe((const uint8_t *)ssh, strlen(ssh),
					  dir), MM_PROBE_NO);
		assert_int_equal(D->probe(tls, sizeof(tls), dir), MM_PROBE_NO);
		assert_int_equal(D->probe(tls_alert, sizeof(tls_alert), dir),
				 MM_PROBE_NO);
		assert_int_equal(D->probe(zeros, sizeof(zeros), dir),
				 MM_PROBE_NO);
		/* refused before 8 bytes when the header already says no */
		assert_int_equal(D->probe((const uint8_t *)http_get, 4, dir),
				 MM_PROBE_NO);
		assert_int_equal(D->probe(tls, 4, dir), MM_PROBE_NO);
	}

	struct {
		const char *adu;
		enum mm_dir dir;
	} bad[] = {
		{ "0001 0000 0006 01 00 0000 0001", REQ }, /* fc 0 */
		{ "0001 0000 0006 01 85 0000 0001", REQ }, /* fc > 127 request */
		{ "0001 0000 0003 01 83 02", REQ },        /* exception as request */
		{ "0001 0000 0003 01 83 00", RSP },        /* exception code 0 */
		{ "0001 0000 0003 01 83 0C", RSP },        /* exception code 12 */
		{ "0001 0000 0004 01 83 02 00", RSP },     /* exception, long */
		{ "0001 0000 0003 01 A0 02", RSP },        /* exception of fc 32 */
		{ "0001 0000 0007 01 03 006B 0003 00", REQ }, /* fc 3 too long */
		{ "0001 0000 0005 01 03 006B 00", REQ },   /* fc 3 too short */
		{ "0001 0000 000B 01 10 0001 0002 05 000A 0102", REQ }, /* bc */
		{ "0001 0000 0009 01 03 05 022B 0000 00", RSP }, /* bc vs len */
		{ "0001 0000 0006 01 1E 0000 0001", REQ }, /* unassigned fc 30 */
		{ "0001 0000 0006 01 7F 0000 0001", REQ }, /* reserved 127 */
		{ "0001 0000 0006 01 2B 0E 01 00 00", REQ }, /* MEI 14 len */
		{ "0001 0000 0004 01 2B 05 01", REQ },     /* MEI type 5 */
		{ "0001 0001 0006 01 03 006B 0003", REQ }, /* protocol id 1 */
		{ "0001 0000 0001 01", REQ },              /* length 1 */
		{ "0001 0000 0100 01 03", REQ },           /* length 256 */
		{ "0001 0000 00FF 01 03", REQ },           /* fc 3 of 255 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t b[64];
		size_t n = hex(bad[i].adu, b, sizeof(b));
		if (D->probe(b, n, bad[i].dir) != MM_PROBE_NO)
			fail_msg("probe accepted bad case %zu: %s", i,
				 bad[i].adu);
	}

	/* random binary: a fixed LCG, 200000 buffers of 12 bytes */
	uint32_t x = 12345;
	int yes = 0;
	for (int i = 0; i < 200000; i++) {
		uint8_t b[12];
		for (size_t k = 0; k < sizeof(b); k++) {
			x = x * 1103515245u + 12345u;
			b[k] = (uint8_t)(x >> 16);
		}
		for (int d = 0; d < 2; d++)
			if (D->probe(b, sizeof(b), d ? RSP : REQ) == MM_PROBE_YES)
				yes++;
	}
	assert_int_equal(yes, 0);
}

/* ------------------------------------------------------------------ */
/* Every function code                                                 */
/* ------------------------------------------------------------------ */

static void test_fc1_read_coils(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc1_req");
	assert_op(rc, MM_OP_READ, 1, "read_coils", "unit 1 coil 19 x19");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "tid"), 1);
	assert_int_equal(ju(j, "unit"), 1);
	assert_int_equal(ju(j, "fc"), 1);
	assert_string_equal(js(j, "function"), "read_coils");
	assert_string_equal(js(j, "op"), "read");
	assert_int_equal(ju(j, "address"), 19);
	assert_int_equal(ju(j, "quantity"), 19);
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "fc1_rsp");
	assert_int_equal(rc->n_ops, 0); /* responses are not ops */
	assert_int_equal(rc->n_events, 0);
	j = last_json(rc);
	assert_int_equal(ju(j, "byte_count"), 3);
	assert_int_equal(ju(j, "quantity"), 19); /* from the request */
	assert_absent(j, "op");
	assert_absent(j, "unmatched");
	/* [AP] 6.1: CD = coils 27..20 = 1100 1101, 6B = 35..28, 05 = 38..36 */
	ASSERT_VALUES(j, "values", 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1,
		      0, 1, 0, 1);
	json_decref(j);

	/* 16 coils take exactly 2 bytes (ceil(16 / 8)): no event */
	rc_clear(rc);
	send_hex(rc, REQ, "0010 0000 0006 01 01 0000 0010");
	send_hex(rc, RSP, "0010 0000 0005 01 01 02 0F 80");
	assert_int_equal(rc->n_events, 0);
	j = last_json(rc);
	ASSERT_VALUES(j, "values", 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		      0, 1);
	json_decref(j);
	/* 8 coils take 1 byte, 9 take 2 */
	send_hex(rc, REQ, "0011 0000 0006 01 01 0000 0008");
	send_hex(rc, RSP, "0011 0000 0004 01 01 01 01");
	send_hex(rc, REQ, "0012 0000 0006 01 01 0000 0009");
	send_hex(rc, RSP, "0012 0000 0005 01 01 02 01 01");
	assert_int_equal(rc->n_events, 0);
	j = last_json(rc);
	ASSERT_VALUES(j, "values", 1, 0, 0, 0, 0, 0, 0, 0, 1);
	json_decref(j);
	rc_free(rc);
}

static void test_fc2_read_discrete_inputs(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc2_req");
	assert_op(rc, MM_OP_READ, 2, "read_discrete_inputs",
		  "unit 1 discrete 196 x22");
	json_t *j = pair(rc, "fc2_req", "fc2_rsp");
	/* AC = 1010 1100, DB = 1101 1011, 35 = 0011 0101 (6 bits used) */
	ASSERT_VALUES(j, "values", 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0,
		      1, 1, 1, 0, 1, 0, 1, 1);
	json_decref(j);
	rc_free(rc);
}

static void test_fc3_read_holding(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc3_req");
	assert_op(rc, MM_OP_READ, 3, "read_holding_registers",
		  "unit 1 holding 107 x3");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "address"), 107);
	assert_int_equal(ju(j, "quantity"), 3);
	json_decref(j);
	send_fx(rc, "fc3_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "fc"), 3);
	assert_int_equal(ju(j, "byte_count"), 6);
	assert_int_equal(ju(j, "address"), 107);
	ASSERT_VALUES(j, "values", 0x022B, 0, 0x64); /* 555, 0, 100 */
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc4_read_input(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc4_req");
	assert_op(rc, MM_OP_READ, 4, "read_input_registers", "unit 1 input 8 x1");
	send_fx(rc, "fc4_rsp");
	json_t *j = last_json(rc);
	ASSERT_VALUES(j, "values", 10);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc5_fc6_single_writes(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc5_req");
	assert_op(rc, MM_OP_WRITE, 5, "write_single_coil", "unit 1 coil 172");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "address"), 172);
	assert_int_equal(ju(j, "value"), 0xFF00);
	assert_string_equal(js(j, "op"), "write");
	json_decref(j);
	send_fx(rc, "fc5_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "value"), 0xFF00);
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "fc6_req");
	assert_op(rc, MM_OP_WRITE, 6, "write_single_register",
		  "unit 1 holding 1");
	j = last_json(rc);
	assert_int_equal(ju(j, "address"), 1);
	assert_int_equal(ju(j, "value"), 3);
	json_decref(j);
	send_fx(rc, "fc6_rsp");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc7_exception_status(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc7_req");
	assert_op(rc, MM_OP_READ, 7, "read_exception_status",
		  "unit 1 exception status");
	send_fx(rc, "fc7_rsp");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "value"), 0x6D);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc8_diagnostics(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);
	struct {
		const char *fx;
		enum mm_op_class cls;
		unsigned sub;
		const char *name;
	} cases[] = {
		{ "fc8_req", MM_OP_OTHER, 0, "return_query_data" },
		{ "fc8_restart_req", MM_OP_CONTROL, 1,
		  "restart_communications_option" },
		{ "fc8_diagreg_req", MM_OP_DISCOVER, 2,
		  "return_diagnostic_register" },
		{ "fc8_listen_req", MM_OP_CONTROL, 4, "force_listen_only_mode" },
		{ "fc8_clear_req", MM_OP_OTHER, 10,
		  "clear_counters_and_diagnostic_register" },
		{ "fc8_buscount_req", MM_OP_DISCOVER, 11,
		  "return_bus_message_count" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char target[96];
		rc_clear(rc);
		send_fx(rc, cases[i].fx);
		snprintf(target, sizeof(target), "unit 1 diagnostics %s",
			 cases[i].name);
		assert_op(rc, cases[i].cls, 8, "diagnostics", target);
		json_t *j = last_json(rc);
		assert_int_equal(ju(j, "sub_function"), cases[i].sub);
		assert_string_equal(js(j, "sub_function_name"), cases[i].name);
		json_decref(j);
	}
	/* [AP] 6.8: the echo's data word */
	send_fx(rc, "fc8_req");
	send_fx(rc, "fc8_rsp");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "value"), 0xA537);
	json_decref(j);
	send_fx(rc, "fc8_diagreg_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "value"), 0x1234);
	assert_absent(j, "unmatched");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc11_fc12_comm_events(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc11_req");
	assert_op(rc, MM_OP_DISCOVER, 11, "get_comm_event_counter",
		  "unit 1 comm event counter");
	send_fx(rc, "fc11_rsp");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "status"), 0xFFFF);
	assert_int_equal(ju(j, "event_count"), 0x108);
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "fc12_req");
	assert_op(rc, MM_OP_DISCOVER, 12, "get_comm_event_log",
		  "unit 1 comm event log");
	send_fx(rc, "fc12_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "byte_count"), 8);
	assert_int_equal(ju(j, "status"), 0);
	assert_int_equal(ju(j, "event_count"), 0x108);
	assert_int_equal(ju(j, "message_count"), 0x121);
	assert_string_equal(js(j, "events"), "2000");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc15_fc16_multiple_writes(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc15_req");
	assert_op(rc, MM_OP_WRITE, 15, "write_multiple_coils",
		  "unit 1 coil 19 x10");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "address"), 19);
	assert_int_equal(ju(j, "quantity"), 10);
	assert_int_equal(ju(j, "byte_count"), 2);
	assert_int_equal(ju(j, "values_count"), 10);
	/* [AP] 6.11: CD 01 = coils 27..20 1100 1101, 29..28 01 */
	ASSERT_VALUES(j, "values", 1, 0, 1, 1, 0, 0, 1, 1, 1, 0);
	json_decref(j);
	send_fx(rc, "fc15_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "address"), 19);
	assert_int_equal(ju(j, "quantity"), 10);
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "fc16_req");
	assert_op(rc, MM_OP_WRITE, 16, "write_multiple_registers",
		  "unit 1 holding 1 x2");
	j = last_json(rc);
	assert_int_equal(ju(j, "byte_count"), 4);
	assert_int_equal(ju(j, "values_count"), 2);
	ASSERT_VALUES(j, "values", 10, 258);
	json_decref(j);
	send_fx(rc, "fc16_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "quantity"), 2);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc17_report_server_id(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc17_req");
	assert_op(rc, MM_OP_DISCOVER, 17, "report_server_id",
		  "unit 1 server id");
	send_fx(rc, "fc17_rsp");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "byte_count"), 5);
	assert_string_equal(js(j, "server_id"), "01");
	assert_string_equal(js(j, "run_indicator"), "on");
	assert_string_equal(js(j, "additional_data"), "ABC");
	assert_string_equal(js(j, "server_id_data"), "01ff414243");
	json_decref(j);
	const struct fact *f = find_fact(rc, "server_id");
	assert_non_null(f);
	assert_true(f->server);
	assert_string_equal(f->val, "01");
	f = find_fact(rc, "run_indicator");
	assert_non_null(f);
	assert_string_equal(f->val, "on");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc20_fc21_file_records(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc20_req");
	assert_op(rc, MM_OP_READ, 20, "read_file_record",
		  "unit 1 file 4 record 1 x2 +1 more");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "byte_count"), 14);
	json_t *subs = jget(j, "sub_requests");
	assert_int_equal(json_array_size(subs), 2);
	json_t *s1 = json_array_get(subs, 1);
	assert_int_equal(ju(s1, "reference_type"), 6);
	assert_int_equal(ju(s1, "file_number"), 3);
	assert_int_equal(ju(s1, "record_number"), 9);
	assert_int_equal(ju(s1, "record_length"), 2);
	json_decref(j);
	send_fx(rc, "fc20_rsp");
	j = last_json(rc);
	subs = jget(j, "sub_responses");
	assert_int_equal(json_array_size(subs), 2);
	ASSERT_VALUES(json_array_get(subs, 0), "values", 0x0DFE, 0x0020);
	ASSERT_VALUES(json_array_get(subs, 1), "values", 0x33CD, 0x0040);
	assert_int_equal(ju(json_array_get(subs, 1), "reference_type"), 6);
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "fc21_req");
	assert_op(rc, MM_OP_WRITE, 21, "write_file_record",
		  "unit 1 file 4 record 7 x3");
	j = last_json(rc);
	subs = jget(j, "sub_requests");
	assert_int_equal(json_array_size(subs), 1);
	assert_int_equal(ju(json_array_get(subs, 0), "file_number"), 4);
	ASSERT_VALUES(json_array_get(subs, 0), "values", 0x06AF, 0x04BE,
		      0x100D);
	json_decref(j);
	send_fx(rc, "fc21_rsp");
	j = last_json(rc);
	ASSERT_VALUES(json_array_get(jget(j, "sub_requests"), 0), "values",
		      0x06AF, 0x04BE, 0x100D);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc22_mask_write(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc22_req");
	assert_op(rc, MM_OP_WRITE, 22, "mask_write_register", "unit 1 holding 4");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "address"), 4);
	assert_int_equal(ju(j, "and_mask"), 0xF2);
	assert_int_equal(ju(j, "or_mask"), 0x25);
	json_decref(j);
	send_fx(rc, "fc22_rsp");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc23_read_write(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc23_req");
	assert_op(rc, MM_OP_WRITE, 23, "read_write_multiple_registers",
		  "unit 1 holding 14 x3 read 3 x6");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "read_address"), 3);
	assert_int_equal(ju(j, "read_quantity"), 6);
	assert_int_equal(ju(j, "write_address"), 14);
	assert_int_equal(ju(j, "write_quantity"), 3);
	assert_int_equal(ju(j, "byte_count"), 6);
	ASSERT_VALUES(j, "values", 0xFF, 0xFF, 0xFF);
	json_decref(j);
	send_fx(rc, "fc23_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "byte_count"), 12);
	ASSERT_VALUES(j, "values", 0xFE, 0x0ACD, 1, 3, 0x0D, 0xFF);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc24_fifo(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc24_req");
	assert_op(rc, MM_OP_READ, 24, "read_fifo_queue", "unit 1 fifo 1246");
	send_fx(rc, "fc24_rsp");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "byte_count"), 6);
	assert_int_equal(ju(j, "fifo_count"), 2);
	ASSERT_VALUES(j, "values", 0x01B8, 0x1284);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_fc43_device_id(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc43_14_req");
	assert_op(rc, MM_OP_DISCOVER, 43, "read_device_identification",
		  "unit 255 device id basic");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "mei_type"), 14);
	assert_int_equal(ju(j, "read_device_id_code"), 1);
	assert_int_equal(ju(j, "object_id"), 0);
	assert_string_equal(js(j, "op"), "discover");
	json_decref(j);

	send_fx(rc, "fc43_14_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "conformity_level"), 1);
	assert_true(json_is_false(jget(j, "more_follows")));
	assert_int_equal(ju(j, "next_object_id"), 0);
	assert_int_equal(ju(j, "number_of_objects"), 3);
	json_t *o = jget(j, "objects");
	assert_string_equal(js(o, "vendor_name"), "Company identification");
	assert_string_equal(js(o, "product_code"), "Product code XX");
	assert_string_equal(js(o, "revision"), "V2.11");
	json_decref(j);
	assert_int_equal(rc->n_facts, 3);
	assert_string_equal(find_fact(rc, "vendor_name")->val,
			    "Company identification");
	assert_true(find_fact(rc, "vendor_name")->server);
	assert_string_equal(find_fact(rc, "product_code")->val,
			    "Product code XX");
	assert_string_equal(find_fact(rc, "revision")->val, "V2.11");

	/* extended, individual access, more follows, private object */
	rc_clear(rc);
	send_fx(rc, "fc43_14x_req");
	assert_op(rc, MM_OP_DISCOVER, 43, "read_device_identification",
		  "unit 255 device id extended");
	send_fx(rc, "fc43_14x_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "conformity_level"), 0x83);
	assert_true(json_is_true(jget(j, "more_follows")));
	assert_int_equal(ju(j, "next_object_id"), 0x80);
	o = jget(j, "objects");
	assert_string_equal(js(o, "vendor_url"), "http://x.jp");
	assert_string_equal(js(o, "product_name"), "PLC");
	assert_string_equal(js(o, "model_name"), "M-1");
	assert_string_equal(js(o, "user_application_name"), "line1");
	assert_string_equal(js(o, "object_128"), "ab");
	json_decref(j);
	assert_string_equal(find_fact(rc, "vendor_url")->val, "http://x.jp");
	assert_string_equal(find_fact(rc, "product_name")->val, "PLC");
	assert_string_equal(find_fact(rc, "model_name")->val, "M-1");
	assert_string_equal(find_fact(rc, "user_application_name")->val,
			    "line1");
	assert_int_equal(rc->n_facts, 4); /* the private object is not one */

	/* specific object */
	rc_clear(rc);
	send_hex(rc, REQ, "0009 0000 0005 FF 2B 0E 04 05");
	assert_op(rc, MM_OP_DISCOVER, 43, "read_device_identification",
		  "unit 255 device id specific object 5");

	/* CANopen general reference: other, kept raw */
	rc_clear(rc);
	send_fx(rc, "fc43_13_req");
	assert_op(rc, MM_OP_OTHER, 43, "canopen_general_reference",
		  "unit 1 canopen");
	j = last_json(rc);
	assert_int_equal(ju(j, "mei_type"), 13);
	assert_string_equal(js(j, "data"), "00010203"); /* after MEI 0D */
	json_decref(j);
	send_fx(rc, "fc43_13_rsp");
	j = last_json(rc);
	assert_string_equal(js(j, "data"), "0001020304");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_exception_response(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc3_req");
	rc_clear(rc);
	send_fx(rc, "fc3_exc");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "fc"), 3); /* without the exception bit */
	assert_string_equal(js(j, "function"), "read_holding_registers");
	assert_int_equal(ju(j, "exception"), 2);
	assert_string_equal(js(j, "exception_name"), "illegal_data_address");
	assert_absent(j, "unmatched");
	json_decref(j);
	assert_int_equal(rc->n_events, 1);
	assert_int_equal(count_event(rc, "modbus.exception_response"), 1);
	assert_non_null(strstr(event_detail(rc, "modbus.exception_response"),
			       "illegal_data_address"));
	/* the exception answered the request: nothing left at flow end */
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(rc->n_events, 0);

	/* every exception code of [AP] 7 is named */
	struct {
		uint8_t code;
		const char *name;
	} names[] = {
		{ 1, "illegal_function" },
		{ 2, "illegal_data_address" },
		{ 3, "illegal_data_value" },
		{ 4, "server_device_failure" },
		{ 5, "acknowledge" },
		{ 6, "server_device_busy" },
		{ 8, "memory_parity_error" },
		{ 10, "gateway_path_unavailable" },
		{ 11, "gateway_target_device_failed_to_respond" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t b[] = { 0, 0x30, 0, 0, 0, 3, 1, 0x83, names[i].code };
		rc_clear(rc);
		send_read(rc, 0x30, 1); /* some request first: no mid-stream */
		parse_bytes(rc, RSP, b, sizeof(b));
		j = last_json(rc);
		assert_int_equal(ju(j, "exception"), names[i].code);
		assert_string_equal(js(j, "exception_name"), names[i].name);
		json_decref(j);
		assert_int_equal(count_event(rc, "modbus.exception_response"), 1);
		assert_int_equal(count_event(rc, "modbus.invalid_value"), 0);
	}
	rc_free(rc);
}

static void test_other_codes_raw(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc65_req");
	assert_op(rc, MM_OP_OTHER, 65, "user_defined", "unit 1 fc 65");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "fc"), 65);
	assert_string_equal(js(j, "data"), "deadbeef");
	assert_string_equal(js(j, "op"), "other");
	json_decref(j);
	send_fx(rc, "fc65_rsp");
	j = last_json(rc);
	assert_string_equal(js(j, "data"), "00");
	assert_absent(j, "unmatched");
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "fc9_req");
	assert_op(rc, MM_OP_OTHER, 9, "reserved", "unit 1 fc 9");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_umas(void **state)
{
	(void)state;
	struct {
		const char *fx;
		enum mm_op_class cls;
		unsigned ufc;
		const char *name;
	} cases[] = {
		{ "umas_stop_req", MM_OP_CONTROL, 0x41, "umas_stop_plc" },
		{ "umas_start_req", MM_OP_CONTROL, 0x40, "umas_start_plc" },
		{ "umas_readid_req", MM_OP_DISCOVER, 0x02, "umas_read_id" },
		{ "umas_readmem_req", MM_OP_READ, 0x20, "umas_read_memory_block" },
		{ "umas_writemem_req", MM_OP_PROGRAM, 0x21,
		  "umas_write_memory_block" },
		{ "umas_initdl_req", MM_OP_PROGRAM, 0x30,
		  "umas_initialize_download" },
		{ "umas_dlblock_req", MM_OP_PROGRAM, 0x31, "umas_download_block" },
		{ "umas_enddl_req", MM_OP_PROGRAM, 0x32, "umas_end_download" },
		{ "umas_upload_req", MM_OP_PROGRAM, 0x34, "umas_upload_block" },
		{ "umas_writevar_req", MM_OP_WRITE, 0x23, "umas_write_variables" },
		{ "umas_reserve_req", MM_OP_OTHER, 0x10,
		  "umas_take_plc_reservation" },
		{ "umas_unknown_req", MM_OP_OTHER, 0x99, "umas_unknown" },
		{ "umas_signed_req", MM_OP_CONTROL, 0x41, "umas_stop_plc" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rc *rc = rc_new(true);
		char target[96];
		send_fx(rc, cases[i].fx);
		snprintf(target, sizeof(target), "unit 0 umas 0x%02x",
			 cases[i].ufc);
		assert_op(rc, cases[i].cls, 90, cases[i].name, target);
		json_t *j = last_json(rc);
		assert_int_equal(ju(j, "fc"), 90);
		assert_string_equal(js(j, "function"), "umas");
		assert_int_equal(ju(j, "umas_session"), 0);
		assert_int_equal(ju(j, "umas_function"), cases[i].ufc);
		assert_string_equal(js(j, "umas_function_name"), cases[i].name);
		json_decref(j);
		assert_int_equal(rc->n_events, 0);
		rc_free(rc);
	}

	/* the response: status byte, function remembered from the request */
	struct rc *rc = rc_new(true);
	send_fx(rc, "umas_stop_req");
	send_fx(rc, "umas_stop_rsp");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "umas_status"), 0xFE);
	assert_string_equal(js(j, "umas_status_name"), "ok");
	assert_int_equal(ju(j, "umas_function"), 0x41);
	assert_absent(j, "unmatched");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);

	/* a "repeat" (0x0A) of fc + 253 data bytes: MBAP length 255, one over
	 * [AP] 4.1 but sent by Schneider tools; framed, parsed, reported */
	uint8_t b[261] = { 0, 7, 0, 0, 0, 0xFF, 0, 0x5A, 0, 0x0A };
	for (size_t k = 10; k < sizeof(b); k++)
		b[k] = (uint8_t)k;
	assert_int_equal(D->pdu_len(b, sizeof(b)), 261);
	assert_int_equal(D->probe(b, sizeof(b), REQ), MM_PROBE_YES);
	rc = rc_new(true);
	parse_bytes(rc, REQ, b, sizeof(b));
	assert_int_equal(count_event(rc, "modbus.invalid_length"), 1);
	assert_op(rc, MM_OP_OTHER, 90, "umas_repeat", "unit 0 umas 0x0a");
	rc_free(rc);
}

/* with the log off nothing is built, and ops and events still flow */
static void test_log_off(void **state)
{
	(void)state;
	struct rc *rc = rc_new(false);

	for (size_t i = 0; i < N_FIXTURES; i++)
		send_fx(rc, fixtures[i].name);
	assert_int_equal(rc->begins, 0);
	assert_int_equal(rc->ends, 0);
	assert_null(rc->last_log);
	int reqs = 0;
	for (size_t i = 0; i < N_FIXTURES; i++)
		reqs += fixtures[i].dir == REQ;
	assert_int_equal(rc->n_ops, reqs);
	/* asset facts do not depend on the log */
	assert_non_null(find_fact(rc, "vendor_name"));
	assert_non_null(find_fact(rc, "server_id"));
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static void test_event_table(void **state)
{
	(void)state;
	assert_non_null(D->events);
	assert_true(D->n_events >= 6);
	for (size_t i = 0; i < D->n_events; i++) {
		const struct mm_event_def *e = &D->events[i];
		assert_non_null(e->name);
		assert_int_equal(strncmp(e->name, "modbus.", 7), 0);
		for (const char *s = e->name + 7; *s; s++)
			assert_true((*s >= 'a' && *s <= 'z') || *s == '_');
		assert_true(e->severity >= 1 && e->severity <= 4);
		assert_non_null(e->category);
		assert_true(strlen(e->category) > 0);
		assert_non_null(e->cause);
		assert_true(strlen(e->cause) > 10);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(e->name, D->events[k].name);
	}
	const char *required[] = {
		"modbus.invalid_protocol_id", "modbus.invalid_length",
		"modbus.invalid_function_code", "modbus.unsolicited_response",
		"modbus.flooded", "modbus.exception_response",
	};
	for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++) {
		bool found = false;
		for (size_t i = 0; i < D->n_events; i++)
			if (strcmp(D->events[i].name, required[r]) == 0) {
				found = true;
				if (strcmp(required[r],
					   "modbus.exception_response") == 0)
					assert_true(D->events[i].severity >= 3);
			}
		if (!found)
			fail_msg("event %s missing", required[r]);
	}
}

static void test_invalid_protocol_id(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_hex(rc, REQ, "0001 0001 0006 01 03 006B 0003");
	assert_int_equal(count_event(rc, "modbus.invalid_protocol_id"), 1);
	assert_int_equal(rc->n_events, 1);
	assert_int_equal(rc->n_ops, 0); /* not Modbus: no op */
	send_hex(rc, RSP, "0001 FFFF 0005 01 03 02 0000");
	assert_int_equal(count_event(rc, "modbus.invalid_protocol_id"), 2);
	rc_free(rc);
}

static void test_invalid_length(void **state)
{
	(void)state;
	struct {
		const char *adu;
		enum mm_dir dir;
		int ops; /* the request still counts as an op */
	} cases[] = {
		/* fc 3 request with a trailing byte (MBAP length 7) */
		{ "0001 0000 0007 01 03 006B 0003 00", REQ, 1 },
		/* fc 3 request short of its quantity */
		{ "0001 0000 0004 01 03 006B", REQ, 1 },
		/* fc 16: byte count 5 for 2 registers */
		{ "0001 0000 000C 01 10 0001 0002 05 000A 0102 00", REQ, 1 },
		/* fc 16: byte count 4, only 2 bytes follow */
		{ "0001 0000 0009 01 10 0001 0002 04 000A", REQ, 1 },
		/* fc 15: byte count 1 for 10 coils */
		{ "0001 0000 0008 01 0F 0013 000A 01 CD", REQ, 1 },
		/* fc 23: write byte count disagrees with write quantity */
		{ "0001 0000 000F 01 17 0003 0006 000E 0003 04 00FF 00FF", REQ, 1 },
		/* fc 3 response: byte count 6, 4 bytes follow */
		{ "0001 0000 0007 01 03 06 022B 0000", RSP, 0 },
		/* fc 3 response: odd byte count for registers */
		{ "0001 0000 0006 01 03 03 022B 00", RSP, 0 },
		/* fc 20: byte count not a multiple of 7 */
		{ "0001 0000 000B 01 14 08 06 0004 0001 0002 00", REQ, 1 },
		/* fc 24 response: byte count disagrees with FIFO count */
		{ "0001 0000 000A 01 18 0008 0002 01B8 1284", RSP, 0 },
		/* fc 43/14: 3 objects announced, 1 present */
		{ "0001 0000 000C 01 2B 0E 01 01 00 00 03 00 02 'AB'", RSP, 0 },
		/* fc 8 restart: two data words */
		{ "0001 0000 0008 01 08 0001 FF00 0000", REQ, 1 },
		/* exception response with an extra byte */
		{ "0001 0000 0004 01 83 02 00", RSP, 0 },
		/* MBAP length disagrees with the bytes handed over */
		{ "0001 0000 0009 01 03 006B 0003", REQ, 1 },
		/* MBAP length below 2 */
		{ "0001 0000 0001 01 03", REQ, 0 },
		/* too short for an MBAP header and fc */
		{ "0001 0000 00", REQ, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rc *rc = rc_new(true);
		send_hex(rc, cases[i].dir, cases[i].adu);
		if (count_event(rc, "modbus.invalid_length") != 1)
			fail_msg("case %zu (%s): invalid_length raised %d times",
				 i, cases[i].adu,
				 count_event(rc, "modbus.invalid_length"));
		assert_int_equal(rc->n_ops, cases[i].ops);
		rc_free(rc);
	}

	/* fc 3 response with a byte count that disagrees with the quantity */
	struct rc *rc = rc_new(true);
	send_fx(rc, "fc3_req"); /* quantity 3: 6 bytes expected */
	send_hex(rc, RSP, "0003 0000 0007 01 03 04 022B 0000");
	assert_int_equal(count_event(rc, "modbus.invalid_length"), 1);
	assert_non_null(strstr(event_detail(rc, "modbus.invalid_length"),
			       "quantity 3"));
	/* fc 1 response: 19 coils need 3 bytes, 2 given */
	send_fx(rc, "fc1_req");
	send_hex(rc, RSP, "0001 0000 0005 01 01 02 CD 6B");
	assert_int_equal(count_event(rc, "modbus.invalid_length"), 2);
	/* the log shows the 16 bits that are there, it invents no others */
	json_t *j = last_json(rc);
	assert_int_equal(json_array_size(jget(j, "values")), 16);
	json_decref(j);
	rc_free(rc);
}

static void test_invalid_function_code(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_hex(rc, REQ, "0001 0000 0002 01 00");
	assert_int_equal(count_event(rc, "modbus.invalid_function_code"), 1);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_OTHER);
	assert_int_equal(rc->ops[0].function, 0);

	send_hex(rc, REQ, "0002 0000 0004 01 85 0000");
	assert_int_equal(count_event(rc, "modbus.invalid_function_code"), 2);
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "fc"), 0x85);
	assert_string_equal(js(j, "op"), "other");
	json_decref(j);
	/* a response with fc 0 (or the exception of fc 0) */
	send_hex(rc, RSP, "0003 0000 0003 01 80 01");
	assert_int_equal(count_event(rc, "modbus.invalid_function_code"), 3);
	/* invalid requests are not tracked: no unanswered at flow end */
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(count_event(rc, "modbus.unanswered_requests"), 0);
	rc_free(rc);
}

static void test_invalid_value(void **state)
{
	(void)state;
	const char *cases[] = {
		"0001 0000 0006 01 05 00AC 1234",        /* fc 5 value */
		"0001 0000 0006 01 03 006B 0000",        /* quantity 0 */
		"0001 0000 0006 01 03 006B 007E",        /* quantity 126 */
		"0001 0000 0006 01 01 0000 07D1",        /* 2001 coils */
		"0001 0000 0006 01 03 FFFF 0002",        /* past 65535 */
		"0001 0000 0008 01 0F 0013 07B1 01 00",  /* 1969 coils */
		"0001 0000 000A 01 14 07 05 0004 0001 0002", /* ref type 5 */
		"0001 0000 000A 01 14 07 06 0004 2710 0002", /* record 10000 */
		"0001 0000 0005 01 2B 0E 05 00",         /* device id code 5 */
		"0001 0000 0005 01 2B 0E 00 00",         /* device id code 0 */
		"0001 0000 0006 01 08 0001 1234",        /* restart option */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rc *rc = rc_new(true);
		send_hex(rc, REQ, cases[i]);
		if (count_event(rc, "modbus.invalid_value") != 1)
			fail_msg("case %zu (%s): invalid_value raised %d times",
				 i, cases[i],
				 count_event(rc, "modbus.invalid_value"));
		assert_int_equal(rc->n_ops, 1);
		rc_free(rc);
	}
	/* responses: undefined exception code, conformity level, FIFO count */
	const char *rsp[] = {
		"0001 0000 0003 01 83 09",
		"0001 0000 0008 01 2B 0E 01 05 00 00 00",
		"0001 0000 0008 01 2B 0E 01 01 77 00 00",
		"0001 0000 0006 01 0B 1234 0001",
	};
	for (size_t i = 0; i < sizeof(rsp) / sizeof(rsp[0]); i++) {
		struct rc *rc = rc_new(true);
		send_hex(rc, RSP, rsp[i]);
		if (count_event(rc, "modbus.invalid_value") != 1)
			fail_msg("rsp case %zu (%s): invalid_value raised %d",
				 i, rsp[i],
				 count_event(rc, "modbus.invalid_value"));
		rc_free(rc);
	}
	struct rc *rc = rc_new(true);
	uint8_t b[300];
	/* FIFO count 32 > 31: byte count 66 */
	size_t n = 0;
	b[n++] = 0; b[n++] = 1; b[n++] = 0; b[n++] = 0;
	b[n++] = 0; b[n++] = 70; b[n++] = 1; b[n++] = 0x18;
	b[n++] = 0; b[n++] = 66; b[n++] = 0; b[n++] = 32;
	for (int i = 0; i < 64; i++)
		b[n++] = (uint8_t)i;
	parse_bytes(rc, RSP, b, n);
	assert_int_equal(count_event(rc, "modbus.invalid_value"), 1);
	assert_int_equal(count_event(rc, "modbus.invalid_length"), 0);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Pairing                                                             */
/* ------------------------------------------------------------------ */

static void test_pairing_matched(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	/* two outstanding on different units with the same tid, answered in
	 * reverse order: each response finds its own request */
	send_read(rc, 7, 1);
	uint8_t q2[] = { 0, 7, 0, 0, 0, 6, 2, 3, 0, 0, 0, 2 };
	parse_bytes(rc, REQ, q2, sizeof(q2));
	uint8_t r2[] = { 0, 7, 0, 0, 0, 7, 2, 3, 4, 0, 1, 0, 2 };
	parse_bytes(rc, RSP, r2, sizeof(r2));
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "quantity"), 2);
	assert_absent(j, "unmatched");
	json_decref(j);
	send_read_rsp(rc, 7, 1);
	j = last_json(rc);
	assert_int_equal(ju(j, "quantity"), 1);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	/* both were answered: a repeat is unsolicited */
	send_read_rsp(rc, 7, 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 1);
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_pairing_midstream(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	/* responses before any request: the capture began mid-stream */
	send_fx(rc, "fc3_rsp");
	send_fx(rc, "fc16_rsp");
	assert_int_equal(rc->n_events, 0);
	json_t *j = last_json(rc);
	assert_true(json_is_true(jget(j, "unmatched")));
	assert_int_equal(ju(j, "address"), 1); /* decoded all the same */
	json_decref(j);
	/* it still decodes without its request */
	send_fx(rc, "fc1_rsp");
	j = last_json(rc);
	assert_true(json_is_true(jget(j, "unmatched")));
	assert_absent(j, "quantity");
	assert_int_equal(json_array_size(jget(j, "values")), 24);
	json_decref(j);

	/* after the first request, an unmatched response is unsolicited */
	send_read(rc, 100, 1);
	send_read_rsp(rc, 101, 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 1);
	j = last_json(rc);
	assert_true(json_is_true(jget(j, "unmatched")));
	json_decref(j);
	send_read_rsp(rc, 100, 2); /* right tid, wrong unit */
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 2);
	send_read_rsp(rc, 100, 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 2);
	rc_free(rc);
}

static void test_pairing_function_mismatch(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "fc3_req");
	/* same tid/unit, answered as fc 4 */
	send_hex(rc, RSP, "0003 0000 0005 01 04 02 000A");
	assert_int_equal(count_event(rc, "modbus.function_mismatch"), 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 0);
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "request_fc"), 3);
	assert_int_equal(ju(j, "fc"), 4);
	json_decref(j);
	/* the request was consumed */
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_pairing_flooded(void **state)
{
	(void)state;
	struct rc *rc = rc_new(false);

	/* 256 outstanding is the bound, not over it */
	for (unsigned t = 0; t < 256; t++)
		send_read(rc, (uint16_t)t, 1);
	assert_int_equal(rc->n_events, 0);
	/* the 257th: none of the last 256 was answered */
	send_read(rc, 256, 1);
	assert_int_equal(count_event(rc, "modbus.flooded"), 1);
	assert_non_null(strstr(event_detail(rc, "modbus.flooded"), "256"));
	send_read(rc, 257, 1);
	send_read(rc, 258, 1);
	assert_int_equal(count_event(rc, "modbus.flooded"), 1); /* once */
	assert_int_equal(rc->n_ops, 259); /* untracked requests are still ops */

	/* late answers to all of them, tracked or not: none unsolicited */
	for (unsigned t = 0; t <= 258; t++)
		send_read_rsp(rc, (uint16_t)t, 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 0);
	/* every request has had its answer: a stray response is unsolicited */
	send_read_rsp(rc, 999, 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 1);

	/* drained by answers, the event is armed again (same flow) */
	rc_clear(rc);
	for (unsigned t = 1000; t < 1257; t++)
		send_read(rc, (uint16_t)t, 1);
	assert_int_equal(count_event(rc, "modbus.flooded"), 1);
	/* a sustained flood: still one event */
	for (unsigned t = 2000; t < 3000; t++)
		send_read(rc, (uint16_t)t, 1);
	assert_int_equal(count_event(rc, "modbus.flooded"), 1);
	/* 1001 requests were left out: only 256 late answers are excused */
	for (unsigned t = 5000; t < 5300; t++)
		send_read_rsp(rc, (uint16_t)t, 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 44);
	/* flow end: 256 in the table + 745 left out and never answered */
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(count_event(rc, "modbus.unanswered_requests"), 1);
	assert_non_null(strstr(event_detail(rc, "modbus.unanswered_requests"),
			       "1001 requests never answered (256 outstanding"));
	rc_free(rc);
}

/* a server that answers only some requests is not a flood */
static void test_pairing_lossy_not_flooded(void **state)
{
	(void)state;
	struct rc *rc = rc_new(false);

	for (unsigned t = 0; t < 3000; t++) {
		send_read(rc, (uint16_t)t, 1);
		if (t % 2)
			send_read_rsp(rc, (uint16_t)t, 1);
	}
	assert_int_equal(count_event(rc, "modbus.flooded"), 0);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 0);
	/* lost answers do not excuse an injected response */
	send_read_rsp(rc, 9999, 1);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 1);
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_non_null(strstr(event_detail(rc, "modbus.unanswered_requests"),
			       "1500 requests never answered"));
	rc_free(rc);
}

/* a lost response must not fill the table over a months-long flow */
static void test_pairing_stale_eviction(void **state)
{
	(void)state;
	struct rc *rc = rc_new(false);

	for (unsigned t = 0; t < 255; t++)
		send_read(rc, (uint16_t)t, 1); /* never answered */
	for (unsigned i = 0; i < 5000; i++) {
		send_read(rc, (uint16_t)i, 2);
		send_read_rsp(rc, (uint16_t)i, 2);
	}
	send_read(rc, 1, 3);
	send_read(rc, 2, 3); /* full: the 255 stale ones are evicted */
	assert_int_equal(count_event(rc, "modbus.flooded"), 0);
	send_read_rsp(rc, 1, 3);
	send_read_rsp(rc, 2, 3);
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 0);
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(count_event(rc, "modbus.unanswered_requests"), 1);
	assert_non_null(strstr(event_detail(rc, "modbus.unanswered_requests"),
			       "255 requests never answered"));
	rc_free(rc);
}

static void test_flow_end_unanswered(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_read(rc, 1, 1);
	send_read(rc, 2, 1);
	send_read(rc, 3, 1);
	send_read_rsp(rc, 2, 1);
	/* tid reuse while outstanding: the first one was never answered */
	send_read(rc, 1, 1);
	/* listen-only mode is never answered, so it is not waited for */
	send_fx(rc, "fc8_listen_req");
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(rc->n_events, 1);
	const char *d = event_detail(rc, "modbus.unanswered_requests");
	assert_non_null(d);
	assert_non_null(strstr(d, "3 requests never answered"));
	assert_non_null(strstr(d, "3 outstanding"));
	/* a gateway answers listen-only with an exception: not unsolicited */
	rc_clear(rc);
	send_fx(rc, "fc8_listen_req");
	send_hex(rc, RSP, "0084 0000 0003 01 88 0B");
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 0);
	assert_int_equal(count_event(rc, "modbus.exception_response"), 1);
	/* flow_end empties the state */
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

/* a client that pipelines requests under one tid (seen in the wild:
 * ICS-Security-Tools modbus_test.pcap frames 68-72) */
static void test_pairing_tid_reused_pipelined(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_hex(rc, REQ, "01F8 0000 0006 07 06 0004 09C4");
	send_hex(rc, REQ, "01F8 0000 0006 07 06 0004 0000");
	send_hex(rc, REQ, "01F8 0000 0006 07 06 0005 36C1");
	assert_int_equal(rc->n_ops, 3);
	send_hex(rc, RSP, "01F8 0000 0006 07 06 0004 09C4");
	json_t *j = last_json(rc);
	assert_true(json_is_true(jget(j, "tid_reused")));
	assert_int_equal(ju(j, "address"), 4);
	assert_int_equal(ju(j, "value"), 0x09C4);
	json_decref(j);
	send_hex(rc, RSP, "01F8 0000 0006 07 06 0004 0000");
	send_hex(rc, RSP, "01F8 0000 0006 07 06 0005 36C1");
	j = last_json(rc);
	assert_absent(j, "tid_reused");
	assert_absent(j, "unmatched");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

/* a client that always sends tid 0, one answer lost: it recovers at the
 * next answer, which is checked against the right request */
static void test_pairing_tid_reused_lost(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_hex(rc, REQ, "0000 0000 0006 01 03 0000 0001"); /* answer lost */
	send_hex(rc, REQ, "0000 0000 0006 01 03 0064 0002");
	send_hex(rc, RSP, "0000 0000 0007 01 03 04 0001 0002");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "address"), 100);
	assert_int_equal(ju(j, "quantity"), 2);
	assert_absent(j, "tid_reused");
	json_decref(j);
	send_hex(rc, REQ, "0000 0000 0006 01 03 0000 0001");
	send_hex(rc, RSP, "0000 0000 0005 01 03 02 0007");
	j = last_json(rc);
	assert_int_equal(ju(j, "quantity"), 1);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	/* a second answer now is unsolicited: nothing is open */
	send_hex(rc, RSP, "0000 0000 0005 01 03 02 0007");
	assert_int_equal(count_event(rc, "modbus.unsolicited_response"), 1);
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_non_null(strstr(event_detail(rc, "modbus.unanswered_requests"),
			       "1 requests never answered"));
	rc_free(rc);
}

/* the state is per flow */
static void test_state_per_flow(void **state)
{
	(void)state;
	struct rc *a = rc_new(true), *b = rc_new(true);

	send_read(a, 5, 1);
	send_read(b, 6, 1);
	send_read_rsp(b, 5, 1);
	assert_int_equal(count_event(b, "modbus.unsolicited_response"), 1);
	send_read_rsp(a, 5, 1);
	assert_int_equal(count_event(a, "modbus.unsolicited_response"), 0);
	rc_free(a);
	rc_free(b);
}

/* ------------------------------------------------------------------ */
/* Robustness                                                          */
/* ------------------------------------------------------------------ */

/*
 * Every fixture cut short at every offset, parsed in both directions with
 * the log on and off: no crash, no read past the end (ASan), and the cut
 * is always reported as invalid_length (the MBAP length still claims the
 * full PDU).  The same with the MBAP length rewritten to the cut, so that
 * the function's own layout is what fails.
 */
/* a request first, so responses pair */
static void read_before_rsp(struct rc *rc, enum mm_dir dir)
{
	if (dir == RSP)
		send_read(rc, 0xEEEE, 0xEE);
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	uint8_t b[300];

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		for (size_t k = 0; k < n; k++) {
			cut_in_fresh_flows(fixtures[i].name, b, k,
					   fixtures[i].dir,
					   "modbus.invalid_length",
					   read_before_rsp, NULL);
			/* consistent header, PDU cut */
			if (k >= 8) {
				uint8_t c[300];
				memcpy(c, b, k);
				c[4] = (uint8_t)((k - 6) >> 8);
				c[5] = (uint8_t)(k - 6);
				for (int mode = 0; mode < 2; mode++) {
					struct rc *rc = rc_new(mode);
					send_read(rc, 0xEEEE, 0xEE);
					parse_bytes(rc, fixtures[i].dir, c, k);
					parse_bytes(rc, fixtures[i].dir == REQ ?
						    RSP : REQ, c, k);
					if (rc->last_log) {
						json_t *j = last_json(rc);
						json_decref(j);
					}
					rc_free(rc);
				}
			}
		}
	}
}

/* whole fixtures in the wrong direction, and random PDUs: no crash */
static void test_garbage(void **state)
{
	(void)state;
	uint8_t b[300];
	struct rc *rc = rc_new(true);

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		parse_bytes(rc, fixtures[i].dir == REQ ? RSP : REQ, b, n);
		json_decref(last_json(rc));
	}
	uint32_t x = 777;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		size_t len = 2 + (x >> 16) % 60;
		b[0] = (uint8_t)(x >> 8);
		b[1] = (uint8_t)x;
		b[2] = b[3] = 0;
		b[4] = 0;
		b[5] = (uint8_t)len;
		for (size_t k = 6; k < 6 + len; k++) {
			x = x * 1103515245u + 12345u;
			b[k] = (uint8_t)(x >> 16);
		}
		/* favour known function codes */
		static const uint8_t fcs[] = { 1, 2, 3, 4, 5, 6, 7, 8, 11, 12,
					       15, 16, 17, 20, 21, 22, 23, 24,
					       43, 90, 0x83, 0xAB };
		b[7] = fcs[(x >> 8) % sizeof(fcs)];
		if (b[7] == 43 && len > 2)
			b[8] = 14;
		parse_bytes(rc, (i & 1) ? RSP : REQ, b, 6 + len);
		json_decref(last_json(rc));
		(void)D->probe(b, 6 + len, (i & 1) ? RSP : REQ);
	}
	D->flow_end(&rc->ctx, rc->st);
	rc_free(rc);
}

/* a NULL state (a host that did not call state_new) is survivable */
static void test_null_state(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);
	uint8_t b[300];

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		rc->ctx.dir = fixtures[i].dir;
		D->parse(&rc->ctx, NULL, b, n);
	}
	D->flow_end(&rc->ctx, NULL);
	rc_free(rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdu_len),
		cmocka_unit_test(test_pdu_len_stream),
		cmocka_unit_test(test_probe_accepts),
		cmocka_unit_test(test_probe_more),
		cmocka_unit_test(test_probe_rejects),
		cmocka_unit_test(test_fc1_read_coils),
		cmocka_unit_test(test_fc2_read_discrete_inputs),
		cmocka_unit_test(test_fc3_read_holding),
		cmocka_unit_test(test_fc4_read_input),
		cmocka_unit_test(test_fc5_fc6_single_writes),
		cmocka_unit_test(test_fc7_exception_status),
		cmocka_unit_test(test_fc8_diagnostics),
		cmocka_unit_test(test_fc11_fc12_comm_events),
		cmocka_unit_test(test_fc15_fc16_multiple_writes),
		cmocka_unit_test(test_fc17_report_server_id),
		cmocka_unit_test(test_fc20_fc21_file_records),
		cmocka_unit_test(test_fc22_mask_write),
		cmocka_unit_test(test_fc23_read_write),
		cmocka_unit_test(test_fc24_fifo),
		cmocka_unit_test(test_fc43_device_id),
		cmocka_unit_test(test_exception_response),
		cmocka_unit_test(test_other_codes_raw),
		cmocka_unit_test(test_umas),
		cmocka_unit_test(test_log_off),
		cmocka_unit_test(test_event_table),
		cmocka_unit_test(test_invalid_protocol_id),
		cmocka_unit_test(test_invalid_length),
		cmocka_unit_test(test_invalid_function_code),
		cmocka_unit_test(test_invalid_value),
		cmocka_unit_test(test_pairing_matched),
		cmocka_unit_test(test_pairing_midstream),
		cmocka_unit_test(test_pairing_function_mismatch),
		cmocka_unit_test(test_pairing_flooded),
		cmocka_unit_test(test_pairing_lossy_not_flooded),
		cmocka_unit_test(test_pairing_stale_eviction),
		cmocka_unit_test(test_flow_end_unanswered),
		cmocka_unit_test(test_pairing_tid_reused_pipelined),
		cmocka_unit_test(test_pairing_tid_reused_lost),
		cmocka_unit_test(test_state_per_flow),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_null_state),
		cmocka_unit_test(test_every_event_raised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
