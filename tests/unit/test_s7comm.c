/*
 * test_s7comm.c - the TPKT/COTP/S7comm/S7comm-plus dissector on byte
 * arrays.
 *
 * A recording mm_ctx keeps every op, event, asset fact, exclusion and
 * transaction log line.  Expected values are worked out from the bytes
 * and the protocol layouts (RFC 1006, X.224, the S7 layouts documented in
 * dissectors/s7comm.c), never copied from what the code printed.  Several
 * fixtures are the bytes of real captures in ../shared/pcaps (named).
 *
 * Fixtures give the S7 parameter and data parts in hex ('...' for ASCII
 * runs); fx_build() puts the S7 header, COTP DT and TPKT in front.  Every
 * fixture is also cut short at every offset, and every buffer handed to
 * the dissector is a heap copy of exactly its length (ASan sees overreads).
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

extern const struct mm_dissector mm_s7comm_dissector;
static const struct mm_dissector *D = &mm_s7comm_dissector;

#define REQ MM_DIR_TO_SERVER
#define RSP MM_DIR_TO_CLIENT

#include "recorder.h"

static void assert_fact(const struct rc *rc, const char *key, const char *val)
{
	const struct fact *f = find_last_fact(rc, key);
	if (!f)
		fail_msg("no asset fact %s", key);
	assert_true(f->server);
	assert_string_equal(f->val, val);
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

enum fx_kind { S7, RAW, PLUS };

struct fx {
	const char *name;
	enum mm_dir dir;
	enum fx_kind kind;
	uint8_t rosctr;       /* S7 */
	uint16_t ref;         /* S7 PDU reference */
	uint16_t err;         /* S7 ack error class << 8 | code */
	const char *param;    /* S7: parameter; RAW: COTP onwards; PLUS: PDU */
	const char *data;     /* S7: data part */
};

#define J 1
#define A 2
#define AD 3
#define U 7

/* a V3 integrity digest (32 bytes; never verified) */
#define DIGEST "000102030405060708090A0B0C0D0E0F" \
	"101112131415161718191A1B1C1D1E1F"
/* twenty spaces, the empty MLFB of SZL 0x0011 index 7 */
#define SP20 "'                    '"
/* 24-byte name + 8 reserved bytes of SZL 0x001C */
#define Z8 "0000000000000000"

static const struct fx fixtures[] = {
	/* COTP connect (X.224 13.3): dst ref 0, src ref 1, class 0, TPDU
	 * size 2^10, calling TSAP 01 00, called TSAP 01 02 (PG, rack 0
	 * slot 2) */
	{ "cr", REQ, RAW, 0, 0, 0,
	  "11 E0 0000 0001 00 C0 01 0A C1 02 0100 C2 02 0102", NULL },
	{ "cc", RSP, RAW, 0, 0, 0,
	  "11 D0 0001 0044 00 C0 01 0A C1 02 0100 C2 02 0102", NULL },
	/* disconnect request, reason 128 (normal) */
	{ "dr", REQ, RAW, 0, 0, 0, "06 80 0044 0001 80", NULL },
	/* setup communication: AmQ 1/1, PDU 480 proposed, 240 granted */
	{ "setup_req", REQ, S7, J, 0, 0, "F0 00 0001 0001 01E0", "" },
	{ "setup_rsp", RSP, S7, AD, 0, 0, "F0 00 0001 0001 00F0", "" },
	/* read var: DB1, BYTE x4 from byte 2 (address 2 << 3 = 0x10) */
	{ "read_req", REQ, S7, J, 0x0100, 0,
	  "04 01 12 0A 10 02 0004 0001 84 000010", "" },
	/* 4 bytes: transport size BYTE (4), length in bits 32 */
	{ "read_rsp", RSP, S7, AD, 0x0100, 0, "04 01", "FF 04 0020 01020304" },
	/* two items: M10.3 BIT and C5 COUNTER; the answer: 1 bit, then
	 * "object does not exist" */
	{ "read2_req", REQ, S7, J, 0x0101, 0,
	  "04 02 12 0A 10 01 0001 0000 83 000053 "
	  "12 0A 10 1C 0001 0000 1C 000005", "" },
	{ "read2_rsp", RSP, S7, AD, 0x0101, 0, "04 02", "FF 03 0001 01 00 0A" },
	/* read var with SINUMERIK NCK items (syntax 0x82), kept raw */
	{ "readnck_req", REQ, S7, J, 0x0102, 0,
	  "04 01 12 08 82 41 0001 0001 01 01", "" },
	{ "readnck2_req", REQ, S7, J, 0x0103, 0,
	  "04 02 12 08 82 41 0001 0001 01 01 12 08 82 41 0002 0001 01 01", "" },
	/* write var: Q4.0 WORD x1 = 0x1234; the answer: success */
	{ "write_req", REQ, S7, J, 0x0200, 0,
	  "05 01 12 0A 10 04 0001 0000 82 000020", "00 04 0010 1234" },
	{ "write_rsp", RSP, S7, AD, 0x0200, 0, "05 01", "FF" },
	/* request download of DB10 (load memory 118, MC7 46 bytes) */
	{ "reqdl_req", REQ, S7, J, 0x0300, 0,
	  "1A 00 0100 00000000 09 '_0A00010P' 0D '1' '000118' '000046'", "" },
	{ "reqdl_rsp", RSP, S7, AD, 0x0300, 0, "1A", "" },
	/* the PLC pulls the block: it sends these jobs, the station answers
	 * (s7comm_downloading_block_db1.pcap frames 46-57) */
	{ "dlblock_req", RSP, S7, J, 0x0301, 0,
	  "1B 00 0100 00000000 09 '_0A00010P'", "" },
	{ "dlblock_rsp", REQ, S7, AD, 0x0301, 0, "1B 00",
	  "0004 00FB 70700101" },
	{ "dlend_req", RSP, S7, J, 0x0302, 0,
	  "1C 00 0000 00000000 09 '_0A00010P'", "" },
	{ "dlend_rsp", REQ, S7, AD, 0x0302, 0, "1C", "" },
	/* upload of SDB0 (from active memory), upload id 7 */
	{ "startul_req", REQ, S7, J, 0x0400, 0,
	  "1D 00 0000 00000000 09 '_0B00000A'", "" },
	{ "startul_rsp", RSP, S7, AD, 0x0400, 0,
	  "1D 00 0100 00000007 07 '0000156'", "" },
	{ "ul_req", REQ, S7, J, 0x0401, 0, "1E 00 0000 00000007", "" },
	{ "ul_rsp", RSP, S7, AD, 0x0401, 0, "1E 00", "0002 00FB 7070" },
	{ "endul_req", REQ, S7, J, 0x0402, 0, "1F 00 0000 00000007", "" },
	{ "endul_rsp", RSP, S7, AD, 0x0402, 0, "1F", "" },
	/* PI services: 7 bytes, parameter block, service name */
	{ "inse_req", REQ, S7, J, 0x0500, 0,
	  "28 000000000000FD 000A 01 00 '0800001P' 05 '_INSE'", "" },
	{ "pi_rsp", RSP, S7, AD, 0x0500, 0, "28", "" },
	{ "dele_req", REQ, S7, J, 0x0501, 0,
	  "28 000000000000FD 0012 02 00 '0A00010P' '0C00005P' 05 '_DELE'", "" },
	{ "warm_req", REQ, S7, J, 0x0502, 0,
	  "28 000000000000FD 0000 09 'P_PROGRAM'", "" },
	{ "cold_req", REQ, S7, J, 0x0503, 0,
	  "28 000000000000FD 0002 'C ' 09 'P_PROGRAM'", "" },
	{ "modu_req", REQ, S7, J, 0x0504, 0,
	  "28 000000000000FD 0002 'EP' 05 '_MODU'", "" },
	{ "garb_req", REQ, S7, J, 0x0505, 0,
	  "28 000000000000FD 0000 05 '_GARB'", "" },
	{ "pi_unknown_req", REQ, S7, J, 0x0506, 0,
	  "28 000000000000FD 0001 00 05 '_XYZW'", "" },
	/* PLC STOP, as snap7_s300_stop.pcapng frame 1 */
	{ "stop_req", REQ, S7, J, 0x0600, 0, "29 0000000000 09 'P_PROGRAM'", "" },
	{ "stop_rsp", RSP, S7, AD, 0x0600, 0, "29", "" },
	/* Ack with error 0xD241 (protection level), s7ident.pcap frame 21 */
	{ "ack_err", RSP, S7, A, 0x0600, 0xD241, "", "" },
	/* userdata: read SZL 0x0011 index 0 */
	{ "szl11_req", REQ, S7, U, 0x0700, 0, "000112 04 11 44 01 00",
	  "FF 09 0004 0011 0000" },
	/* its answer: 2 records of 28 bytes (indexes 1 and 7), as
	 * s7ident.pcap frame 11 has them */
	{ "szl11_rsp", RSP, S7, U, 0x0700, 0, "000112 08 12 84 01 01 00 00 0000",
	  "FF 09 0040 0011 0000 001C 0002 "
	  "0001 '6ES7 315-2EH14-0AB0 ' 00C0 0004 0001 "
	  "0007 " SP20 " 00C0 5603 0206" },
	/* SZL 0x001C: name, module name, vendor (index 9: 0x002A) */
	{ "szl1c_req", REQ, S7, U, 0x0701, 0, "000112 04 11 44 01 00",
	  "FF 09 0004 001C 0000" },
	{ "szl1c_rsp", RSP, S7, U, 0x0701, 0, "000112 08 12 84 01 01 00 00 0000",
	  "FF 09 006E 001C 0000 0022 0003 "
	  "0001 'SNAP7-SERVER' 000000000000000000000000 " Z8 " "
	  "0002 'CPU 315-2 PN/DP' 000000000000000000 " Z8 " "
	  "0009 002A F600 0001 0000000000000000000000000000000000000000"
	  "000000000000" },
	/* SZL 0x0424: mode transition record, bzu-id 0x08 = RUN */
	{ "szl424_req", REQ, S7, U, 0x0702, 0, "000112 04 11 44 01 00",
	  "FF 09 0004 0424 0000" },
	{ "szl424_rsp", RSP, S7, U, 0x0702, 0, "000112 08 12 84 01 01 00 00 0000",
	  "FF 09 001C 0424 0000 0014 0001 5144 FF 08 00000000 00 00 00 00 "
	  "2410042124250005" },
	/* block functions: list blocks, list OBs, info on DB1 */
	{ "blist_req", REQ, S7, U, 0x0800, 0, "000112 04 11 43 01 00",
	  "0A 00 0000" },
	{ "blist_rsp", RSP, S7, U, 0x0800, 0, "000112 08 12 83 01 01 00 00 0000",
	  "FF 09 0008 3038 0001 3041 0003" },
	{ "btype_req", REQ, S7, U, 0x0801, 0, "000112 04 11 43 02 00",
	  "FF 09 0002 '08'" },
	{ "binfo_req", REQ, S7, U, 0x0802, 0, "000112 04 11 43 03 00",
	  "FF 09 0008 '0A00001A'" },
	/* programmer commands: variable status, force, memory reset, LED */
	{ "prog_var_req", REQ, S7, U, 0x0900, 0, "000112 04 11 41 02 00",
	  "FF 09 0002 0014" },
	{ "prog_force_req", REQ, S7, U, 0x0901, 0, "000112 04 11 41 09 00",
	  "FF 09 0002 0000" },
	{ "prog_mres_req", REQ, S7, U, 0x0902, 0, "000112 04 11 41 0C 00",
	  "FF 09 0000" },
	{ "prog_led_req", REQ, S7, U, 0x0903, 0, "000112 04 11 41 16 00",
	  "FF 09 0000" },
	/* cyclic data subscription, message service, alarm ack */
	{ "cyclic_req", REQ, S7, U, 0x0A00, 0, "000112 04 11 42 01 00",
	  "FF 09 0002 0101" },
	{ "msg_req", REQ, S7, U, 0x0A01, 0, "000112 04 11 44 02 00",
	  "FF 09 0004 0000 0000" },
	{ "alarmack_req", REQ, S7, U, 0x0A02, 0, "000112 04 11 44 0B 00",
	  "FF 09 0000" },
	/* security: PLC password, 8 obfuscated bytes (AuthPassword frame 1) */
	{ "pw_req", REQ, S7, U, 0x0B00, 0, "000112 04 11 45 01 00",
	  "FF 09 0008 213A1B1D6E681B1D" },
	/* time: read clock, its answer, set clock 2024-05-01 12:30:45.123
	 * (BCD; weekday 4) */
	{ "rclock_req", REQ, S7, U, 0x0C00, 0, "000112 04 11 47 01 00",
	  "0A 00 0000" },
	{ "rclock_rsp", RSP, S7, U, 0x0C00, 0, "000112 08 12 87 01 01 00 00 0000",
	  "FF 09 000A 00 20 24 05 01 12 30 45 12 34" },
	{ "sclock_req", REQ, S7, U, 0x0C01, 0, "000112 04 11 47 02 00",
	  "FF 09 000A 00 20 24 05 01 12 30 45 12 34" },
	/* mode transition pushed by the CPU: STOP (0), then RUN (2) */
	{ "mode_stop_push", RSP, S7, U, 0x0000, 0, "000112 04 12 00 00 00",
	  "" },
	{ "mode_run_push", RSP, S7, U, 0x0000, 0, "000112 04 12 00 02 00", "" },
	/* NC programming request download, PBC push */
	{ "nc_req", REQ, S7, U, 0x0D00, 0, "000112 04 11 7F 01 00",
	  "FF 09 0000" },
	{ "pbc_req", REQ, S7, U, 0x0D01, 0, "000112 04 11 46 01 00",
	  "FF 09 0000" },
	/* S7comm-plus V1 Explore request: opcode 31, function 04BB, seq 1,
	 * session 0x00000120, flags 36, trailer 72 01 0000 */
	{ "plus_explore", REQ, PLUS, 0, 0, 0,
	  "01 31 0000 04BB 0000 0001 00000120 36 00000000 00", NULL },
	/* V3 SetVariable on object 52 (CPU execution unit), attribute 2167
	 * (VLQ 90 77) = DInt 1: STOP; 32-byte digest first */
	{ "plus_stop", REQ, PLUS, 0, 0, 0,
	  "03 20 " DIGEST
	  " 31 0000 04F2 0000 0005 70000E4D 34 00000034 01 9077 00 08 01 00",
	  NULL },
	{ "plus_run", REQ, PLUS, 0, 0, 0,
	  "03 20 " DIGEST
	  " 31 0000 04F2 0000 0006 70000E4D 34 00000034 01 9077 00 08 03 00",
	  NULL },
	/* V1 response, and a keep-alive */
	{ "plus_rsp", RSP, PLUS, 0, 0, 0,
	  "01 32 0000 04BB 0000 0001 00 0000", NULL },
	/* keep-alive: 72 FF, a sequence number, a reserved byte */
	{ "plus_keepalive", REQ, PLUS, 0, 0, 0, "FF 0500", NULL },
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

/* the whole TPKT */
static size_t fx_build(const struct fx *f, uint8_t *out, size_t cap)
{
	size_t n = 4;

	if (f->kind == RAW) {
		n += hex(f->param, out + n, cap - n);
	} else {
		out[n++] = 0x02;
		out[n++] = 0xF0;
		out[n++] = 0x80; /* EOT, TPDU number 0 */
		if (f->kind == PLUS) {
			/* "VV body": 72 VV length body 72 VV 0000 */
			size_t h = n;
			size_t bl = hex(f->param, out + h + 3, cap - h - 7);
			uint8_t ver = out[h + 3];
			bl--; /* the body follows VV, already in place */
			if (ver == 0xFF) {
				/* keep-alive: 72 FF sequence reserved */
				memmove(out + h + 2, out + h + 4, bl);
				out[h] = 0x72;
				out[h + 1] = ver;
				n = h + 2 + bl;
				goto tpkt;
			}
			out[h] = 0x72;
			out[h + 1] = ver;
			out[h + 2] = (uint8_t)(bl >> 8);
			out[h + 3] = (uint8_t)bl;
			n = h + 4 + bl;
			if (ver != 0xFF) {
				out[n++] = 0x72;
				out[n++] = ver;
				out[n++] = 0;
				out[n++] = 0;
			}
		} else {
			bool ack = f->rosctr == A || f->rosctr == AD;
			size_t h = n;
			size_t hl = ack ? 12 : 10;
			size_t pl = hex(f->param, out + h + hl, cap - h - hl);
			size_t dl = hex(f->data, out + h + hl + pl,
					cap - h - hl - pl);
			out[h] = 0x32;
			out[h + 1] = f->rosctr;
			out[h + 2] = 0;
			out[h + 3] = 0;
			out[h + 4] = (uint8_t)(f->ref >> 8);
			out[h + 5] = (uint8_t)f->ref;
			out[h + 6] = (uint8_t)(pl >> 8);
			out[h + 7] = (uint8_t)pl;
			out[h + 8] = (uint8_t)(dl >> 8);
			out[h + 9] = (uint8_t)dl;
			if (ack) {
				out[h + 10] = (uint8_t)(f->err >> 8);
				out[h + 11] = (uint8_t)f->err;
			}
			n = h + hl + pl + dl;
		}
	}
tpkt:
	out[0] = 3;
	out[1] = 0;
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	return n;
}

static void send_fx(struct rc *rc, const char *name)
{
	uint8_t buf[1024];
	const struct fx *f = fx(name);
	size_t n = fx_build(f, buf, sizeof(buf));
	parse_bytes(rc, f->dir, buf, n);
}

/* a COTP DT (EOT set or not) with the payload in hex */
static void send_dt(struct rc *rc, enum mm_dir dir, bool eot, const char *h)
{
	uint8_t buf[1024];
	size_t n = 7 + hex(h, buf + 7, sizeof(buf) - 7);
	memcpy(buf, "\x03\x00\x00\x00\x02\xF0", 6);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	buf[6] = eot ? 0x80 : 0x00;
	parse_bytes(rc, dir, buf, n);
}

/* an S7 PDU built like a fixture */
static void send_s7(struct rc *rc, enum mm_dir dir, uint8_t rosctr,
		    uint16_t ref, const char *param, const char *data)
{
	struct fx f = { "adhoc", dir, S7, rosctr, ref, 0, param, data };
	uint8_t buf[1024];
	size_t n = fx_build(&f, buf, sizeof(buf));
	parse_bytes(rc, dir, buf, n);
}

/* an S7comm-plus PDU built like a fixture: "VV body" */
static void send_plus(struct rc *rc, enum mm_dir dir, const char *vbody)
{
	struct fx f = { "adhoc", dir, PLUS, 0, 0, 0, vbody, NULL };
	uint8_t buf[1024];
	size_t n = fx_build(&f, buf, sizeof(buf));
	parse_bytes(rc, dir, buf, n);
}

/* a whole TPKT given in hex (TPKT header included) */
static void send_hex(struct rc *rc, enum mm_dir dir, const char *h)
{
	uint8_t buf[1024];
	size_t n = hex(h, buf, sizeof(buf));
	parse_bytes(rc, dir, buf, n);
}

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */
/* ------------------------------------------------------------------ */

static void assert_op(const struct rc *rc, enum mm_op_class cls, unsigned fn,
		      const char *name, const char *target, const char *event)
{
	assert_int_equal(rc->n_ops, 1);
	const struct mm_op *op = &rc->ops[0];
	if (op->cls != cls)
		fail_msg("op class %s, expected %s", mm_op_class_names[op->cls],
			 mm_op_class_names[cls]);
	assert_int_equal(op->function, fn);
	assert_string_equal(op->function_name, name);
	if (target)
		assert_string_equal(op->target, target);
	if (event) {
		assert_non_null(op->event);
		assert_string_equal(op->event->name, event);
	} else if (op->event) {
		fail_msg("unexpected op event %s", op->event->name);
	}
}

/* a request and its answer on the flow; returns the answer's log line */
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
	uint8_t b[1024];

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		assert_int_equal(D->pdu_len(b, n), (long)n);
		assert_int_equal(D->pdu_len(b, 4), (long)n);
		for (size_t k = 0; k < 4; k++)
			assert_int_equal(D->pdu_len(b, k), 0);
	}
	/* RFC 1006: version 3, reserved 0; length 7..8204 */
	const uint8_t v2[] = { 2, 0, 0, 7 }, r1[] = { 3, 1, 0, 7 };
	const uint8_t l6[] = { 3, 0, 0, 6 }, l7[] = { 3, 0, 0, 7 };
	const uint8_t lmax[] = { 3, 0, 0x20, 0x0C }, lbig[] = { 3, 0, 0x20, 0x0D };
	assert_int_equal(D->pdu_len(v2, 4), -1);
	assert_int_equal(D->pdu_len(r1, 4), -1);
	assert_int_equal(D->pdu_len(l6, 4), -1);
	assert_int_equal(D->pdu_len(l7, 4), 7);
	assert_int_equal(D->pdu_len(lmax, 4), 8204);
	assert_int_equal(D->pdu_len(lbig, 4), -1);
	assert_string_equal(D->name, "s7comm");
	assert_int_equal(D->transport, 6);
	assert_int_equal(D->ports[0], 102);
	assert_int_equal(D->ports[1], 0);
	assert_int_equal(D->max_pdu, 8204);
}

/* several TPKTs back to back (one TCP segment) frame one by one, and a
 * TPKT split anywhere says "more" until its 4 header bytes are there */
static void test_pdu_len_stream(void **state)
{
	(void)state;
	uint8_t stream[2048];
	size_t n = 0, lens[8];
	const char *names[] = { "cr", "setup_req", "read2_req", "szl1c_rsp",
				"plus_stop", "stop_req" };
	for (size_t i = 0; i < 6; i++) {
		lens[i] = fx_build(fx(names[i]), stream + n, sizeof(stream) - n);
		n += lens[i];
	}
	size_t off = 0, k = 0;
	while (off < n) {
		long l = D->pdu_len(stream + off, n - off);
		assert_true(l > 0);
		assert_int_equal((size_t)l, lens[k]);
		for (size_t cut = 0; cut < 4; cut++)
			assert_int_equal(D->pdu_len(stream + off, cut), 0);
		assert_int_equal(D->probe(stream + off, n - off, REQ),
				 MM_PROBE_YES);
		off += (size_t)l;
		k++;
	}
	assert_int_equal(k, 6);
	/* parsed in order on one flow: every PDU logged once */
	struct rc *rc = rc_new(true);
	off = 0;
	for (k = 0; k < 6; k++) {
		parse_bytes(rc, REQ, stream + off, lens[k]);
		off += lens[k];
	}
	assert_int_equal(rc->ends, 5); /* the CR is kept, not logged */
	rc_free(rc);
}

static void test_probe(void **state)
{
	(void)state;
	uint8_t b[1024];

	/* every fixture: CR, CC, DR and DT with S7 or S7comm-plus */
	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		if (D->probe(b, n, fixtures[i].dir) != MM_PROBE_YES)
			fail_msg("probe refused %s", fixtures[i].name);
		/* too few bytes to tell, but all fits so far */
		for (size_t k = 0; k < 6; k++)
			assert_int_equal(D->probe(b, k, fixtures[i].dir),
					 MM_PROBE_MORE);
	}
	/* a DT with ISO-MMS inside is still TPKT/COTP: parse excludes it */
	uint8_t mms[64];
	size_t n = hex("0300 0010 02F0 80 0D 0000 0000 0000 00", mms, sizeof(mms));
	assert_int_equal(D->probe(mms, n, REQ), MM_PROBE_YES);
	/* 1) version */
	n = hex("0400 0016 11E0 0000 0001 00", b, sizeof(b));
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	assert_int_equal(D->probe(b, 1, REQ), MM_PROBE_NO);
	/* 2) reserved */
	n = hex("0301 0016 11E0 0000 0001 00", b, sizeof(b));
	assert_int_equal(D->probe(b, 2, REQ), MM_PROBE_NO);
	/* 3) length below 7 */
	n = hex("0300 0005 11E0", b, sizeof(b));
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* 4) COTP LI past the TPKT */
	n = hex("0300 0010 20E0 0000 0001 00 C0010A", b, sizeof(b));
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* 5) COTP types: AK, and a DT with LI 4 (not class 0) */
	n = hex("0300 0007 0260 00", b, sizeof(b));
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	n = hex("0300 0009 04F0 80 0000 32", b, sizeof(b));
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* 6) CR with class 5 */
	n = hex("0300 0016 11E0 0000 0001 50 C0010A", b, sizeof(b));
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* 7) S7: ROSCTR 4, and lengths that do not add up */
	n = fx_build(fx("read_req"), b, sizeof(b));
	b[8] = 4;
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	n = fx_build(fx("read_req"), b, sizeof(b));
	b[14]++; /* parameter length */
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* other protocols */
	static const char http[] = "GET / HTTP/1.1\r\nHost: plc\r\n\r\n";
	assert_int_equal(D->probe((const uint8_t *)http, strlen(http), REQ),
			 MM_PROBE_NO);
	static const uint8_t mbtcp[] = { 0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1 };
	assert_int_equal(D->probe(mbtcp, sizeof(mbtcp), REQ), MM_PROBE_NO);
	static const uint8_t tls[] = { 0x16, 3, 1, 2, 0, 1, 0, 1, 0xfc };
	assert_int_equal(D->probe(tls, sizeof(tls), REQ), MM_PROBE_NO);
	static const uint8_t zeros[16] = { 0 };
	assert_int_equal(D->probe(zeros, sizeof(zeros), RSP), MM_PROBE_NO);
}

/* ------------------------------------------------------------------ */
/* COTP                                                                */
/* ------------------------------------------------------------------ */

/*
 * CR and CC make no record while the flow may still be ISO-MMS: their
 * TSAPs and TPDU size go with the first S7 record.  A disconnect after S7
 * has its own.  Without flow state, CR/CC are logged at once.
 */
static void test_cotp_connect(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "cr");
	send_fx(rc, "cc");
	assert_int_equal(rc->ends, 0);
	send_fx(rc, "setup_req");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "cotp_class"), 0);
	assert_int_equal(ju(j, "tpdu_size"), 1024);
	assert_string_equal(js(j, "src_tsap"), "0100");
	assert_string_equal(js(j, "dst_tsap"), "0102");
	assert_int_equal(ju(j, "connection_type"), 1);
	assert_int_equal(ju(j, "rack"), 0);
	assert_int_equal(ju(j, "slot"), 2);
	assert_int_equal(ju(j, "fc"), 0xF0);
	json_decref(j);
	/* only once */
	send_fx(rc, "setup_rsp");
	j = last_json(rc);
	assert_absent(j, "src_tsap");
	json_decref(j);
	send_fx(rc, "dr");
	j = last_json(rc);
	assert_string_equal(js(j, "cotp"), "DR");
	assert_int_equal(ju(j, "cotp_dst_ref"), 0x44);
	assert_int_equal(ju(j, "cotp_reason"), 128);
	json_decref(j);
	assert_int_equal(rc->n_ops, 0);
	assert_int_equal(rc->n_events, 0);
	assert_int_equal(rc->excluded, 0);
	rc_free(rc);

	/* a disconnect before any S7: no record */
	rc = rc_new(true);
	send_fx(rc, "dr");
	assert_int_equal(rc->ends, 0);
	rc_free(rc);

	/* no flow state: logged as they come */
	rc = rc_new(true);
	uint8_t b[64];
	size_t n = fx_build(fx("cr"), b, sizeof(b));
	rc->ctx.dir = REQ;
	D->parse(&rc->ctx, NULL, b, n);
	j = last_json(rc);
	assert_string_equal(js(j, "cotp"), "CR");
	assert_int_equal(ju(j, "cotp_src_ref"), 1);
	assert_string_equal(js(j, "dst_tsap"), "0102");
	json_decref(j);
	rc_free(rc);
}

/* a read var job split over two COTP DT units: one record, at the end */
static void test_cotp_fragments(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);
	uint8_t b[256], f1[64], f2[64];
	size_t n = fx_build(fx("read_req"), b, sizeof(b));
	size_t s7 = n - 7, cut = 9;

	/* first unit: 9 S7 bytes, EOT clear */
	memcpy(f1, "\x03\x00\x00\x00\x02\xF0\x00", 7);
	memcpy(f1 + 7, b + 7, cut);
	f1[3] = (uint8_t)(7 + cut);
	/* second: the rest, EOT set, TPDU number 1 */
	memcpy(f2, "\x03\x00\x00\x00\x02\xF0\x81", 7);
	memcpy(f2 + 7, b + 7 + cut, s7 - cut);
	f2[3] = (uint8_t)(7 + s7 - cut);
	parse_bytes(rc, REQ, f1, 7 + cut);
	assert_int_equal(rc->ends, 0);
	assert_int_equal(rc->n_ops, 0);
	parse_bytes(rc, REQ, f2, 7 + s7 - cut);
	assert_int_equal(rc->ends, 1);
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "cotp_fragments"), 2);
	assert_int_equal(ju(j, "fc"), 4);
	assert_int_equal(ju(j, "pdu_ref"), 0x0100);
	json_decref(j);
	assert_op(rc, MM_OP_READ, 4, "read_var", "DB1.2.0 BYTE x4", NULL);
	assert_int_equal(rc->n_events, 0);
	/* the answer pairs */
	rc_clear(rc);
	send_fx(rc, "read_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "request_fc"), 4);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

/*
 * Setup communication negotiates 240 bytes: fragments adding up to more
 * are dropped and reported once; later overflows are counted and the
 * count reported at flow end; a normal PDU after them parses.
 */
static void test_reassembly_bound(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);
	uint8_t frag[300];

	json_t *j = pair(rc, "setup_req", "setup_rsp");
	assert_int_equal(ju(j, "pdu_size"), 240);
	json_decref(j);
	rc_clear(rc);
	/* 100-byte fragments without EOT: the third passes 240 */
	memset(frag, 0x32, sizeof(frag));
	memcpy(frag, "\x03\x00\x00\x6B\x02\xF0\x00", 7); /* 7 + 100 */
	for (int i = 0; i < 3; i++)
		parse_bytes(rc, REQ, frag, 107);
	assert_int_equal(count_event(rc, "s7comm.reassembly_overflow"), 1);
	assert_non_null(strstr(event_detail(rc, "s7comm.reassembly_overflow"),
			       "240"));
	frag[6] = 0x80; /* EOT: the dropped PDU ends, nothing parsed */
	parse_bytes(rc, REQ, frag, 107);
	assert_int_equal(rc->ends, 0);
	assert_int_equal(rc->n_ops, 0);
	/* exactly 240 in two units is fine */
	rc_clear(rc);
	uint8_t b[256];
	size_t n = fx_build(fx("read_req"), b, sizeof(b));
	assert_true(n - 7 < 240);
	send_fx(rc, "read_req");
	assert_int_equal(rc->n_ops, 1);
	/* a second overflow: counted, reported at flow end */
	frag[6] = 0x00;
	for (int i = 0; i < 3; i++)
		parse_bytes(rc, REQ, frag, 107);
	frag[6] = 0x80;
	parse_bytes(rc, REQ, frag, 107);
	assert_int_equal(count_event(rc, "s7comm.reassembly_overflow"), 0);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(count_event(rc, "s7comm.reassembly_overflow"), 1);
	assert_non_null(strstr(event_detail(rc, "s7comm.reassembly_overflow"),
			       "2 S7 PDUs"));
	rc_free(rc);
}

/* ISO-MMS on TCP/102 (iso9506-1-mms.pcap's first DT): excluded */
static void test_mms_excluded(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "cr");
	assert_int_equal(rc->excluded, 0);
	rc_clear(rc);
	/* ISO session CONNECT SPDU (0x0D) in the first DT */
	send_dt(rc, REQ, true, "0D0D 0506 1301 0016 0102 1402 0002");
	assert_int_equal(rc->excluded, 1);
	assert_int_equal(rc->ends, 0);
	assert_int_equal(rc->n_events, 0);
	assert_int_equal(rc->n_ops, 0);
	/* whatever follows is not parsed as S7 */
	send_fx(rc, "stop_req");
	assert_int_equal(rc->ends, 0);
	assert_int_equal(rc->n_ops, 0);
	rc_free(rc);
	/* once S7 was seen, another payload is an invalid header instead */
	rc = rc_new(true);
	send_fx(rc, "setup_req");
	rc_clear(rc);
	send_dt(rc, REQ, true, "0D0D 0506");
	assert_int_equal(rc->excluded, 0);
	assert_int_equal(count_event(rc, "s7comm.invalid_header"), 1);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Job / Ack_Data                                                      */
/* ------------------------------------------------------------------ */

static void test_setup_communication(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "setup_req");
	/* session negotiation: logged and paired, but no operation */
	assert_int_equal(rc->n_ops, 0);
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "rosctr"), 1);
	assert_string_equal(js(j, "rosctr_name"), "job");
	assert_int_equal(ju(j, "pdu_ref"), 0);
	assert_int_equal(ju(j, "fc"), 0xF0);
	assert_int_equal(ju(j, "max_amq_calling"), 1);
	assert_int_equal(ju(j, "max_amq_called"), 1);
	assert_int_equal(ju(j, "pdu_size"), 480);
	assert_absent(j, "op");
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "setup_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "rosctr"), 3);
	assert_int_equal(ju(j, "error_class"), 0);
	assert_int_equal(ju(j, "error_code"), 0);
	assert_int_equal(ju(j, "request_fc"), 0xF0);
	assert_int_equal(ju(j, "pdu_size"), 240);
	assert_absent(j, "unmatched");
	json_decref(j);
	assert_int_equal(rc->n_ops, 0);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_read_var(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "read_req");
	assert_op(rc, MM_OP_READ, 4, "read_var", "DB1.2.0 BYTE x4", NULL);
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "items"), 1);
	json_t *it = jidx(j, "item", 0);
	assert_string_equal(js(it, "syntax"), "S7ANY");
	assert_string_equal(js(it, "transport_size"), "BYTE");
	assert_int_equal(ju(it, "length"), 4);
	assert_string_equal(js(it, "area"), "data_blocks");
	assert_int_equal(ju(it, "area_code"), 0x84);
	assert_int_equal(ju(it, "db"), 1);
	assert_int_equal(ju(it, "byte"), 2);
	assert_int_equal(ju(it, "bit"), 0);
	json_decref(j);
	send_fx(rc, "read_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "items"), 1);
	json_t *r = jidx(j, "results", 0);
	assert_int_equal(ju(r, "return_code"), 255);
	assert_string_equal(js(r, "return"), "success");
	assert_int_equal(ju(r, "bytes"), 4); /* 32 bits */
	assert_string_equal(js(r, "data"), "01020304");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	/* two items; the second answered "object does not exist" */
	rc_clear(rc);
	send_fx(rc, "read2_req");
	assert_op(rc, MM_OP_READ, 4, "read_var", "M10.3 BIT x1 +1", NULL);
	j = last_json(rc);
	it = jidx(j, "item", 1);
	assert_string_equal(js(it, "area"), "counters");
	assert_int_equal(ju(it, "number"), 5);
	assert_string_equal(js(it, "address"), "C5");
	json_decref(j);
	send_fx(rc, "read2_rsp");
	j = last_json(rc);
	r = jidx(j, "results", 0);
	assert_int_equal(ju(r, "transport_size"), 3);
	assert_int_equal(ju(r, "bytes"), 1);
	assert_string_equal(js(r, "data"), "01");
	r = jidx(j, "results", 1);
	assert_int_equal(ju(r, "return_code"), 10);
	assert_string_equal(js(r, "return"), "object_does_not_exist");
	json_decref(j);
	assert_int_equal(count_event(rc, "s7comm.error_response"), 1);
	assert_int_equal(count_event(rc, "s7comm.invalid_length"), 0);
	rc_free(rc);
}

/* items of another syntax: the target names the first one's syntax
 * (formatted when read: mm_op_target, recorder.h) */
static void test_read_var_nck(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "readnck_req");
	assert_op(rc, MM_OP_READ, 4, "read_var", "NCK item", NULL);
	rc_clear(rc);
	send_fx(rc, "readnck2_req");
	assert_op(rc, MM_OP_READ, 4, "read_var", "NCK item +1", NULL);
	rc_free(rc);
}

static void test_write_var(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "write_req");
	assert_op(rc, MM_OP_WRITE, 5, "write_var", "Q4.0 WORD x1", NULL);
	json_t *j = last_json(rc);
	assert_string_equal(js(jidx(j, "item", 0), "area"), "outputs");
	json_t *v = jidx(j, "values", 0);
	assert_int_equal(ju(v, "transport_size"), 4);
	assert_int_equal(ju(v, "bytes"), 2);
	assert_string_equal(js(v, "data"), "1234");
	json_decref(j);
	send_fx(rc, "write_rsp");
	j = last_json(rc);
	assert_int_equal(ju(jidx(j, "results", 0), "return_code"), 255);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_block_download(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "reqdl_req");
	assert_op(rc, MM_OP_PROGRAM, 0x1A, "request_download", "DB10",
		  "s7comm.block_download");
	json_t *j = last_json(rc);
	assert_string_equal(js(j, "filename"), "_0A00010P");
	assert_string_equal(js(j, "block_type"), "DB");
	assert_int_equal(ju(j, "block_number"), 10);
	assert_string_equal(js(j, "filesystem"), "passive");
	assert_string_equal(js(j, "load_memory_length"), "000118");
	assert_string_equal(js(j, "mc7_code_length"), "000046");
	assert_string_equal(js(j, "op"), "program");
	json_decref(j);
	send_fx(rc, "reqdl_rsp");
	rc_clear(rc);
	/* the PLC's download block job: logged and paired, no op */
	send_fx(rc, "dlblock_req");
	assert_int_equal(rc->n_ops, 0);
	j = last_json(rc);
	assert_true(jb(j, "pulled_by_plc"));
	assert_int_equal(ju(j, "block_number"), 10);
	json_decref(j);
	send_fx(rc, "dlblock_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "data_length"), 4);
	assert_int_equal(ju(j, "request_fc"), 0x1B);
	json_decref(j);
	send_fx(rc, "dlend_req");
	assert_int_equal(rc->n_ops, 0);
	/* sent by the client instead, a download block is a program op */
	uint8_t b[128];
	size_t n = fx_build(fx("dlblock_req"), b, sizeof(b));
	parse_bytes(rc, REQ, b, n);
	assert_op(rc, MM_OP_PROGRAM, 0x1B, "download_block", "DB10", NULL);
	send_fx(rc, "dlend_rsp");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_block_upload(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "startul_req");
	assert_op(rc, MM_OP_PROGRAM, 0x1D, "start_upload", "SDB0",
		  "s7comm.block_upload");
	json_t *j = last_json(rc);
	assert_string_equal(js(j, "block_type"), "SDB");
	assert_int_equal(ju(j, "block_number"), 0);
	assert_string_equal(js(j, "filesystem"), "active");
	json_decref(j);
	send_fx(rc, "startul_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "upload_id"), 7);
	assert_string_equal(js(j, "block_length"), "0000156");
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "ul_req");
	assert_op(rc, MM_OP_PROGRAM, 0x1E, "upload", "upload id 7", NULL);
	send_fx(rc, "ul_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "data_length"), 2);
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "endul_req");
	assert_op(rc, MM_OP_PROGRAM, 0x1F, "end_upload", "upload id 7", NULL);
	send_fx(rc, "endul_rsp");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_pi_services(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "inse_req");
	assert_op(rc, MM_OP_PROGRAM, 0x28, "activate_block", "_INSE OB1",
		  "s7comm.block_insert");
	json_t *j = last_json(rc);
	assert_string_equal(js(j, "pi_service"), "_INSE");
	assert_int_equal(ju(j, "blocks"), 1);
	assert_string_equal(js(jidx(j, "block_list", 0), "block_type"), "OB");
	json_decref(j);
	send_fx(rc, "pi_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "request_fc"), 0x28);
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "dele_req");
	assert_op(rc, MM_OP_PROGRAM, 0x28, "delete_block", "_DELE DB10,FC5",
		  "s7comm.block_delete");
	j = last_json(rc);
	assert_int_equal(ju(j, "blocks"), 2);
	json_t *b = jidx(j, "block_list", 1);
	assert_string_equal(js(b, "block_type"), "FC");
	assert_int_equal(ju(b, "block_number"), 5);
	json_decref(j);

	rc_clear(rc);
	send_fx(rc, "warm_req");
	assert_op(rc, MM_OP_CONTROL, 0x28, "start_program",
		  "P_PROGRAM warm_restart", "s7comm.plc_start");
	j = last_json(rc);
	assert_string_equal(js(j, "start"), "warm_restart");
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "cold_req");
	assert_op(rc, MM_OP_CONTROL, 0x28, "start_program",
		  "P_PROGRAM cold_restart", "s7comm.plc_start");
	j = last_json(rc);
	assert_string_equal(js(j, "pi_argument"), "C");
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "modu_req");
	assert_op(rc, MM_OP_CONTROL, 0x28, "copy_ram_to_rom", "_MODU",
		  "s7comm.copy_ram_to_rom");
	j = last_json(rc);
	assert_string_equal(js(j, "pi_argument"), "EP");
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "garb_req");
	assert_op(rc, MM_OP_CONTROL, 0x28, "compress_memory", "_GARB",
		  "s7comm.compress_memory");
	rc_clear(rc);
	send_fx(rc, "pi_unknown_req");
	assert_op(rc, MM_OP_CONTROL, 0x28, "pi_service", "_XYZW", NULL);
	/* none of these is an anomaly by itself: the events ride on ops */
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_plc_stop(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "stop_req");
	assert_op(rc, MM_OP_CONTROL, 0x29, "plc_stop", "PLC STOP",
		  "s7comm.plc_stop");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "fc"), 0x29);
	assert_string_equal(js(j, "pi_service"), "P_PROGRAM");
	assert_string_equal(js(j, "op"), "control");
	json_decref(j);
	send_fx(rc, "stop_rsp");
	j = last_json(rc);
	assert_int_equal(ju(j, "request_fc"), 0x29);
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

/* Ack (ROSCTR 2) with error 0xD241, s7ident.pcap frames 20-21 */
static void test_ack_error(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "stop_req");
	send_fx(rc, "ack_err");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "rosctr"), 2);
	assert_int_equal(ju(j, "error_class"), 0xD2);
	assert_int_equal(ju(j, "error_code"), 0x41);
	assert_string_equal(js(j, "error"), "protection_level_too_low");
	assert_int_equal(ju(j, "request_fc"), 0x29);
	assert_absent(j, "fc"); /* an Ack has no parameter */
	json_decref(j);
	assert_int_equal(count_event(rc, "s7comm.error_response"), 1);
	assert_non_null(strstr(event_detail(rc, "s7comm.error_response"),
			       "plc_stop"));
	rc_free(rc);
}

static void test_unknown_function(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_s7(rc, REQ, J, 1, "77 00", "");
	assert_int_equal(count_event(rc, "s7comm.unknown_function"), 1);
	assert_op(rc, MM_OP_OTHER, 0x77, "unknown", "function 0x77", NULL);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Userdata                                                            */
/* ------------------------------------------------------------------ */

static void test_szl_identification(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "szl11_req");
	assert_op(rc, MM_OP_DISCOVER, 0x401, "read_szl",
		  "SZL 0x0011 index 0x0000", NULL);
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "rosctr"), 7);
	assert_string_equal(js(j, "ud_type"), "request");
	assert_int_equal(ju(j, "ud_group"), 4);
	assert_int_equal(ju(j, "ud_subfn"), 1);
	assert_string_equal(js(j, "szl_id"), "0x0011");
	assert_string_equal(js(j, "szl_index"), "0x0000");
	assert_absent(j, "fc");
	json_decref(j);
	send_fx(rc, "szl11_rsp");
	j = last_json(rc);
	assert_string_equal(js(j, "ud_type"), "response");
	assert_string_equal(js(j, "szl_id"), "0x0011");
	assert_int_equal(ju(j, "szl_records"), 2);
	assert_string_equal(js(j, "order_number"), "6ES7 315-2EH14-0AB0");
	assert_string_equal(js(j, "firmware"), "V3.2.6");
	assert_true(jb(j, "paired"));
	json_decref(j);
	assert_fact(rc, "order_number", "6ES7 315-2EH14-0AB0");
	assert_fact(rc, "firmware", "V3.2.6");

	send_fx(rc, "szl1c_req");
	send_fx(rc, "szl1c_rsp");
	j = last_json(rc);
	assert_string_equal(js(j, "plc_name"), "SNAP7-SERVER");
	assert_string_equal(js(j, "module_name"), "CPU 315-2 PN/DP");
	assert_string_equal(js(j, "vendor_id"), "0x002a");
	json_decref(j);
	assert_fact(rc, "plc_name", "SNAP7-SERVER");
	assert_fact(rc, "module_name", "CPU 315-2 PN/DP");
	assert_fact(rc, "vendor", "Siemens");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_szl_cpu_mode(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "szl424_req");
	send_fx(rc, "szl424_rsp");
	json_t *j = last_json(rc);
	assert_string_equal(js(j, "cpu_mode"), "RUN");
	json_decref(j);
	assert_fact(rc, "cpu_mode", "RUN");
	assert_int_equal(count_event(rc, "s7comm.cpu_mode_change"), 0);
	/* the same answer again: no change */
	send_fx(rc, "szl424_req");
	send_fx(rc, "szl424_rsp");
	assert_int_equal(count_event(rc, "s7comm.cpu_mode_change"), 0);
	/* the CPU pushes a transition to STOP, then RUN */
	send_fx(rc, "mode_stop_push");
	j = last_json(rc);
	assert_string_equal(js(j, "ud_type"), "push");
	assert_int_equal(ju(j, "ud_group"), 0);
	assert_string_equal(js(j, "cpu_mode"), "STOP");
	json_decref(j);
	assert_int_equal(count_event(rc, "s7comm.cpu_mode_change"), 1);
	assert_non_null(strstr(event_detail(rc, "s7comm.cpu_mode_change"),
			       "STOP (was RUN)"));
	assert_fact(rc, "cpu_mode", "STOP");
	send_fx(rc, "mode_run_push");
	assert_int_equal(count_event(rc, "s7comm.cpu_mode_change"), 2);
	assert_int_equal(rc->n_ops, 2); /* the two SZL reads only */
	rc_free(rc);
}

/*
 * An SZL answer in two data units (s7comm_reading_plc_status.pcap frames
 * 16-20 have this shape): unit 1 "more follow", the client asks for the
 * rest (return code 0x0A, no data), unit 2 last.  The SZL id is reported
 * with the last unit, as tshark does after reassembly, and the records
 * are decoded from both units together.
 */
static void test_szl_fragmented(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "szl11_req");
	rc_clear(rc);
	/* unit 1: header + 1.5 records */
	send_s7(rc, RSP, U, 0x0700, "000112 08 12 84 01 01 05 01 0000",
		"FF 09 0030 0011 0000 001C 0002 "
		"0001 '6ES7 315-2EH14-0AB0 ' 00C0 0004 0001 "
		"0007 '          '");
	json_t *j = last_json(rc);
	assert_false(jb(j, "ud_last_unit"));
	assert_int_equal(ju(j, "ud_data_unit"), 5);
	assert_absent(j, "szl_id");
	json_decref(j);
	assert_int_equal(rc->n_facts, 0);
	/* the client's follow-up request */
	send_s7(rc, REQ, U, 0x0701, "000112 08 12 44 01 01 05 00 0000",
		"0A 00 0000");
	j = last_json(rc);
	assert_absent(j, "szl_id");
	json_decref(j);
	assert_int_equal(rc->n_ops, 1);
	assert_null(rc->ops[0].event);
	/* unit 2: the rest of record 2 */
	send_s7(rc, RSP, U, 0x0701, "000112 08 12 84 01 01 05 00 0000",
		"FF 09 0010 '          ' 00C0 5603 0207");
	j = last_json(rc);
	assert_true(jb(j, "ud_last_unit"));
	assert_true(jb(j, "reassembled"));
	assert_string_equal(js(j, "szl_id"), "0x0011");
	assert_string_equal(js(j, "firmware"), "V3.2.7");
	json_decref(j);
	assert_fact(rc, "order_number", "6ES7 315-2EH14-0AB0");
	assert_fact(rc, "firmware", "V3.2.7");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_block_functions(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "blist_req");
	assert_op(rc, MM_OP_DISCOVER, 0x301, "list_blocks",
		  "block_functions list_blocks", NULL);
	send_fx(rc, "blist_rsp");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "ud_group"), 3);
	assert_int_equal(ju(j, "ud_subfn"), 1);
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "btype_req");
	assert_op(rc, MM_OP_DISCOVER, 0x302, "list_blocks_of_type",
		  "list OB blocks", NULL);
	rc_clear(rc);
	send_fx(rc, "binfo_req");
	assert_op(rc, MM_OP_DISCOVER, 0x303, "get_block_info", "info DB1", NULL);
	j = last_json(rc);
	assert_string_equal(js(j, "filesystem"), "active");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

static void test_programmer_cyclic_cpu(void **state)
{
	(void)state;
	static const struct {
		const char *fx;
		enum mm_op_class cls;
		unsigned fn;
		const char *name;
		const char *event;
	} t[] = {
		{ "prog_var_req", MM_OP_READ, 0x102, "variable_status", NULL },
		{ "prog_force_req", MM_OP_WRITE, 0x109, "force", NULL },
		{ "prog_mres_req", MM_OP_PROGRAM, 0x10C, "memory_reset",
		  "s7comm.memory_reset" },
		{ "prog_led_req", MM_OP_OTHER, 0x116, "flash_led", NULL },
		{ "cyclic_req", MM_OP_READ, 0x201, "cyclic_transfer", NULL },
		{ "msg_req", MM_OP_READ, 0x402, "message_service", NULL },
		{ "alarmack_req", MM_OP_WRITE, 0x40B, "alarm_ack", NULL },
		{ "nc_req", MM_OP_PROGRAM, 0xF01, "request_download", NULL },
		{ "pbc_req", MM_OP_OTHER, 0x601, "unknown", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rc *rc = rc_new(true);
		send_fx(rc, t[i].fx);
		assert_op(rc, t[i].cls, t[i].fn, t[i].name, NULL, t[i].event);
		json_t *j = last_json(rc);
		assert_int_equal(ju(j, "ud_group"), t[i].fn >> 8);
		assert_int_equal(ju(j, "ud_subfn"), t[i].fn & 0xFF);
		json_decref(j);
		assert_int_equal(rc->n_events, 0);
		rc_free(rc);
	}
	/* the NC request is type 7 */
	struct rc *rc = rc_new(true);
	send_fx(rc, "nc_req");
	json_t *j = last_json(rc);
	assert_string_equal(js(j, "ud_type"), "nc_request");
	json_decref(j);
	rc_free(rc);
}

static void test_password(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "pw_req");
	assert_op(rc, MM_OP_OTHER, 0x501, "plc_password",
		  "security plc_password", "s7comm.password_attempt");
	json_t *j = last_json(rc);
	assert_int_equal(ju(j, "password_length"), 8);
	json_decref(j);
	/* the obfuscated password never reaches the log */
	assert_null(strstr(rc->last_log, "213a1b1d"));
	assert_null(strstr(rc->last_log, "213A1B1D"));
	/* the PLC's answer (AuthPassword frame 2) pairs */
	send_s7(rc, RSP, U, 0x0B00, "000112 08 12 85 01 01 00 00 0000",
		"0A 00 0000");
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 0);
	rc_free(rc);
}

static void test_clock(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "rclock_req");
	assert_op(rc, MM_OP_READ, 0x701, "read_clock", NULL, NULL);
	send_fx(rc, "rclock_rsp");
	json_t *j = last_json(rc);
	assert_string_equal(js(j, "clock"), "2024-05-01 12:30:45.123");
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "sclock_req");
	assert_op(rc, MM_OP_CONTROL, 0x702, "set_clock",
		  "set clock 2024-05-01 12:30:45.123", "s7comm.set_clock");
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* S7comm-plus                                                         */
/* ------------------------------------------------------------------ */

static void test_s7plus(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	send_fx(rc, "plus_explore");
	assert_op(rc, MM_OP_DISCOVER, 0x04BB, "explore", "explore", NULL);
	json_t *j = last_json(rc);
	assert_string_equal(js(j, "proto"), "s7comm-plus");
	assert_int_equal(ju(j, "version"), 1);
	assert_int_equal(ju(j, "data_length"), 0x13);
	assert_int_equal(ju(j, "opcode"), 0x31);
	assert_string_equal(js(j, "opcode_name"), "request");
	assert_int_equal(ju(j, "function"), 0x04BB);
	assert_int_equal(ju(j, "seq"), 1);
	assert_int_equal(ju(j, "session_id"), 0x120);
	assert_absent(j, "rosctr");
	assert_absent(j, "integrity");
	json_decref(j);
	send_fx(rc, "plus_rsp");
	j = last_json(rc);
	assert_string_equal(js(j, "opcode_name"), "response");
	assert_int_equal(ju(j, "seq"), 1);
	json_decref(j);
	rc_clear(rc);
	/* V3: the digest is reported, never verified; STOP and RUN */
	send_fx(rc, "plus_stop");
	assert_op(rc, MM_OP_CONTROL, 0x04F2, "set_variable",
		  "CPU operating state STOP", "s7comm.plc_stop");
	j = last_json(rc);
	assert_string_equal(js(j, "integrity"), "digest_not_verified");
	assert_int_equal(ju(j, "object_id"), 52);
	assert_int_equal(ju(j, "operating_state_request"), 1);
	assert_int_equal(ju(j, "session_id"), 0x70000E4D);
	json_decref(j);
	rc_clear(rc);
	send_fx(rc, "plus_run");
	assert_op(rc, MM_OP_CONTROL, 0x04F2, "set_variable",
		  "CPU operating state RUN", "s7comm.plc_start");
	rc_clear(rc);
	/* a SetVariable elsewhere is a write */
	send_plus(rc, REQ, "03 20 " DIGEST " 31 0000 04F2 0000 0007 70000E4D "
		  "34 70000E51 01 881D 00 07 0005");
	assert_op(rc, MM_OP_WRITE, 0x04F2, "set_variable",
		  "set_variable object 1879051857", NULL);
	rc_clear(rc);
	send_fx(rc, "plus_keepalive");
	j = last_json(rc);
	assert_string_equal(js(j, "opcode_name"), "keepalive");
	assert_int_equal(ju(j, "keepalive_seq"), 5);
	json_decref(j);
	assert_int_equal(rc->n_ops, 0);
	assert_int_equal(rc->n_events, 0);
	/* after S7comm-plus, a TLS record (InitSSL was done) */
	send_dt(rc, REQ, true, "17 0303 0005 0102030405");
	j = last_json(rc);
	assert_true(jb(j, "encrypted"));
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	rc_free(rc);
}

/* sessions: the first CreateObject opens it, deleting it ends it */
static void test_s7plus_objects(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);
	const char *create = "01 31 0000 04CA 0000 0001 00000120 36 00000000";

	send_plus(rc, REQ, create);
	assert_int_equal(rc->n_ops, 0);
	json_t *j = last_json(rc);
	assert_true(jb(j, "session_setup"));
	json_decref(j);
	rc_clear(rc);
	send_plus(rc, REQ, create);
	assert_op(rc, MM_OP_PROGRAM, 0x04CA, "create_object", NULL, NULL);
	rc_clear(rc);
	/* DeleteObject of the session itself (0x70000E4D) */
	send_plus(rc, REQ, "01 31 0000 04D4 0000 0002 70000E4D 36 70000E4D");
	assert_int_equal(rc->n_ops, 0);
	j = last_json(rc);
	assert_true(jb(j, "session_teardown"));
	json_decref(j);
	rc_clear(rc);
	send_plus(rc, REQ, "01 31 0000 04D4 0000 0003 70000E4D 36 00010001");
	assert_op(rc, MM_OP_PROGRAM, 0x04D4, "delete_object", NULL, NULL);
	rc_clear(rc);
	/* a fragment: no trailer; the next one carries the rest */
	send_dt(rc, REQ, true, "72 01 000E 31 0000 0556 0000 0004 00000120 36");
	j = last_json(rc);
	assert_string_equal(js(j, "fragment"), "first");
	json_decref(j);
	assert_op(rc, MM_OP_PROGRAM, 0x0556, "begin_sequence", NULL, NULL);
	rc_clear(rc);
	send_dt(rc, REQ, true, "72 01 0004 00000000 72 01 0000");
	j = last_json(rc);
	assert_string_equal(js(j, "fragment"), "last");
	assert_absent(j, "opcode");
	json_decref(j);
	assert_int_equal(rc->n_events, 0);
	assert_int_equal(rc->n_ops, 0);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Pairing                                                             */
/* ------------------------------------------------------------------ */

static void test_unsolicited(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);

	/* mid-stream: answers before any request are not unsolicited */
	send_fx(rc, "read_rsp");
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 0);
	json_t *j = last_json(rc);
	assert_true(jb(j, "unmatched"));
	json_decref(j);
	/* a request seen: an answer to nothing is */
	send_fx(rc, "read_req");
	send_fx(rc, "read_rsp");
	send_fx(rc, "read_rsp");
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 1);
	assert_non_null(strstr(event_detail(rc, "s7comm.unsolicited_response"),
			       "256"));
	/* cyclic data keeps coming for one subscription: not unsolicited */
	send_s7(rc, RSP, U, 0x7777, "000112 08 12 82 01 01 00 00 0000",
		"FF 09 0000");
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 1);
	/* a userdata SZL answer to nothing is */
	send_fx(rc, "szl424_rsp");
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 2);
	rc_free(rc);
}

static void job_ref(struct rc *rc, uint16_t ref)
{
	uint8_t b[64];
	size_t n = fx_build(fx("read_req"), b, sizeof(b));
	b[11] = (uint8_t)(ref >> 8);
	b[12] = (uint8_t)ref;
	parse_bytes(rc, REQ, b, n);
}

static void ack_ref(struct rc *rc, uint16_t ref)
{
	uint8_t b[64];
	size_t n = fx_build(fx("read_rsp"), b, sizeof(b));
	b[11] = (uint8_t)(ref >> 8);
	b[12] = (uint8_t)ref;
	parse_bytes(rc, RSP, b, n);
}

/* 64 outstanding at most; the 65th unanswered is a flood, once */
static void test_flooded(void **state)
{
	(void)state;
	struct rc *rc = rc_new(false);

	for (uint16_t i = 0; i < 64; i++)
		job_ref(rc, i);
	assert_int_equal(count_event(rc, "s7comm.flooded"), 0);
	job_ref(rc, 64);
	job_ref(rc, 65);
	assert_int_equal(count_event(rc, "s7comm.flooded"), 1);
	/* the untracked ones may be answered late: excused */
	ack_ref(rc, 64);
	ack_ref(rc, 65);
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 0);
	/* answers drain it; all 64 tracked ones pair */
	for (uint16_t i = 0; i < 64; i++)
		ack_ref(rc, i);
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 0);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(count_event(rc, "s7comm.unanswered_requests"), 0);
	rc_free(rc);
}

/* a lossy flow: old unanswered requests are evicted, not a flood */
static void test_stale_not_flooded(void **state)
{
	(void)state;
	struct rc *rc = rc_new(false);

	/* one answer in ten lost: 100 lost in all, far more than 64 */
	for (uint16_t i = 0; i < 1000; i++) {
		job_ref(rc, i);
		if (i % 10 != 0)
			ack_ref(rc, i);
	}
	assert_int_equal(count_event(rc, "s7comm.flooded"), 0);
	assert_int_equal(count_event(rc, "s7comm.unsolicited_response"), 0);
	rc_free(rc);
}

static void test_unanswered_at_flow_end(void **state)
{
	(void)state;
	struct rc *rc = rc_new(false);

	job_ref(rc, 7);
	job_ref(rc, 8);
	ack_ref(rc, 8);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(count_event(rc, "s7comm.unanswered_requests"), 1);
	assert_non_null(strstr(event_detail(rc, "s7comm.unanswered_requests"),
			       "oldest PDU reference 7"));
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Malformed                                                           */
/* ------------------------------------------------------------------ */

static void test_invalid_header(void **state)
{
	(void)state;
	static const char *bad[] = {
		/* TPKT version 2, reserved 1 (the framer's desync path) */
		"0200 0016 02F0 80 32 01 0000 0001 0000 0000",
		"0301 0016 02F0 80 32 01 0000 0001 0000 0000",
		/* ROSCTR 5 */
		"0300 0011 02F0 80 32 05 0000 0001 0000 0000",
		/* userdata parameter head 00 01 13 */
		"0300 0019 02F0 80 32 07 0000 0001 0008 0000 000113 04 11 44 01 00",
		/* S7comm-plus version 9 */
		"0300 0013 02F0 80 72 09 0004 00000000 72 09 0000",
		/* COTP type 0x90 */
		"0300 0007 0290 00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rc *rc = rc_new(true);
		send_hex(rc, REQ, bad[i]);
		if (count_event(rc, "s7comm.invalid_header") != 1)
			fail_msg("case %zu: invalid_header %d times", i,
				 count_event(rc, "s7comm.invalid_header"));
		if (count_event(rc, "s7comm.invalid_length") != 0)
			fail_msg("case %zu: also invalid_length: %s", i,
				 event_detail(rc, "s7comm.invalid_length"));
		rc_free(rc);
	}
}

static void test_invalid_length(void **state)
{
	(void)state;
	static const char *bad[] = {
		/* S7 parameter length 4, but 2 bytes follow */
		"0300 0013 02F0 80 32 01 0000 0001 0004 0000 0401",
		/* TPKT says 0x20, 0x13 bytes given */
		"0300 0020 02F0 80 32 01 0000 0001 0002 0000 0400",
		/* read var: 2 items announced, 1 present */
		"0300 001F 02F0 80 32 01 0000 0001 000E 0000 04 02 "
		"12 0A 10 02 0004 0001 84 000010",
		/* COTP LI past the TPKT */
		"0300 0008 09F0 80 32",
		/* userdata data length 8, 2 present */
		"0300 001F 02F0 80 32 07 0000 0001 0008 0006 000112 04 11 44 01 00 "
		"FF 09 0008 0011",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rc *rc = rc_new(true);
		send_hex(rc, REQ, bad[i]);
		if (count_event(rc, "s7comm.invalid_length") != 1)
			fail_msg("case %zu: invalid_length %d times", i,
				 count_event(rc, "s7comm.invalid_length"));
		assert_int_equal(count_event(rc, "s7comm.invalid_header"), 0);
		if (rc->last_log)
			json_decref(last_json(rc));
		rc_free(rc);
	}
}

static void test_event_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < D->n_events; i++) {
		const struct mm_event_def *e = &D->events[i];
		assert_true(strncmp(e->name, "s7comm.", 7) == 0);
		assert_true(e->severity >= 1 && e->severity <= 4);
		assert_non_null(e->category);
		assert_true(strlen(e->cause) > 20);
		for (size_t k = 0; k < i; k++)
			assert_true(strcmp(D->events[k].name, e->name) != 0);
	}
	/* the names are all there */
	static const char *need[] = {
		"s7comm.plc_stop", "s7comm.plc_start", "s7comm.block_download",
		"s7comm.block_upload", "s7comm.block_delete", "s7comm.set_clock",
		"s7comm.password_attempt", "s7comm.invalid_header",
		"s7comm.invalid_length", "s7comm.error_response",
		"s7comm.unsolicited_response", "s7comm.flooded",
	};
	for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
		bool found = false;
		for (size_t i = 0; i < D->n_events; i++)
			found |= strcmp(D->events[i].name, need[k]) == 0;
		if (!found)
			fail_msg("no event %s", need[k]);
	}
}

/* the log off: the same ops and events, no records */
static void test_log_off(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		struct rc *on = rc_new(true), *off = rc_new(false);
		send_fx(on, fixtures[i].name);
		send_fx(off, fixtures[i].name);
		assert_int_equal(on->n_ops, off->n_ops);
		assert_int_equal(on->n_events, off->n_events);
		assert_int_equal(off->ends, 0);
		if (fixtures[i].kind == RAW) {
			/* COTP before S7: kept, not logged */
			assert_int_equal(on->ends, 0);
		} else {
			assert_int_equal(on->ends, 1);
			json_decref(last_json(on));
		}
		rc_free(on);
		rc_free(off);
	}
}

/* ------------------------------------------------------------------ */
/* Robustness                                                          */
/* ------------------------------------------------------------------ */

/*
 * Every fixture cut short at every offset, in both directions, log on and
 * off: no crash, no read past the end (ASan), and the cut is reported as
 * invalid_length exactly once (the TPKT length still claims the whole).
 * Then the same with the TPKT length rewritten to the cut, so that the
 * inner layers' own lengths are what fails: valid JSON, no crash.
 */
static void s7_seen(struct rc *rc, enum mm_dir dir)
{
	(void)dir;
	send_fx(rc, "setup_req");
}

/* a log line, if any, is one JSON object */
static void log_is_json(struct rc *rc)
{
	if (rc->last_log)
		json_decref(last_json(rc));
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	uint8_t b[1024];

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		for (size_t k = 0; k < n; k++) {
			cut_in_fresh_flows(fixtures[i].name, b, k,
					   fixtures[i].dir,
					   "s7comm.invalid_length", s7_seen,
					   log_is_json);
			if (k >= 7) {
				uint8_t c[1024];
				memcpy(c, b, k);
				c[2] = (uint8_t)(k >> 8);
				c[3] = (uint8_t)k;
				for (int mode = 0; mode < 2; mode++) {
					struct rc *rc = rc_new(mode);
					s7_seen(rc, fixtures[i].dir);
					parse_bytes(rc, fixtures[i].dir, c, k);
					log_is_json(rc);
					parse_bytes(rc, fixtures[i].dir == REQ ?
						    RSP : REQ, c, k);
					log_is_json(rc);
					D->flow_end(&rc->ctx, rc->st);
					rc_free(rc);
				}
			}
		}
	}
}

/* fixtures in the wrong direction, and random S7 PDUs: no crash */
static void test_garbage(void **state)
{
	(void)state;
	uint8_t b[1024];
	struct rc *rc = rc_new(true);

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = fx_build(&fixtures[i], b, sizeof(b));
		parse_bytes(rc, fixtures[i].dir == REQ ? RSP : REQ, b, n);
		if (rc->last_log)
			json_decref(last_json(rc));
	}
	uint32_t x = 4242;
	static const uint8_t first[] = { 0x00, 0x04, 0x05, 0x1A, 0x1B, 0x1C,
					 0x1D, 0x1E, 0x1F, 0x28, 0x29, 0xF0 };
	static const uint8_t rosctr[] = { 1, 2, 3, 7 };
	for (int i = 0; i < 30000; i++) {
		x = x * 1103515245u + 12345u;
		size_t pl = (x >> 16) % 40, dl = (x >> 8) % 40;
		uint8_t r = rosctr[(x >> 4) % 4];
		size_t h = (r == 2 || r == 3) ? 12 : 10;
		size_t n = 7 + h + pl + dl;
		memcpy(b, "\x03\x00\x00\x00\x02\xF0\x80\x32", 8);
		b[2] = (uint8_t)(n >> 8);
		b[3] = (uint8_t)n;
		for (size_t k = 8; k < n; k++) {
			x = x * 1103515245u + 12345u;
			b[k] = (uint8_t)(x >> 16);
		}
		b[8] = r;
		b[13] = (uint8_t)(pl >> 8);
		b[14] = (uint8_t)pl;
		b[15] = (uint8_t)(dl >> 8);
		b[16] = (uint8_t)dl;
		if (pl > 0 && r != 7)
			b[7 + h] = first[(x >> 3) % sizeof(first)];
		if (pl >= 8 && r == 7) {
			b[7 + h] = 0;
			b[7 + h + 1] = 1;
			b[7 + h + 2] = 0x12;
			b[7 + h + 3] = (x & 1) ? 8 : 4;
		}
		if ((x >> 7) % 5 == 0)
			b[6] = 0x00; /* a fragment now and then */
		parse_bytes(rc, (i & 1) ? RSP : REQ, b, n);
		if (rc->last_log) {
			json_decref(last_json(rc));
			free(rc->last_log);
			rc->last_log = NULL;
		}
		(void)D->probe(b, n, REQ);
	}
	D->flow_end(&rc->ctx, rc->st);
	rc_free(rc);
}

/* a NULL state (a host that did not call state_new) is survivable */
static void test_null_state(void **state)
{
	(void)state;
	struct rc *rc = rc_new(true);
	uint8_t b[1024];

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
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_cotp_connect),
		cmocka_unit_test(test_cotp_fragments),
		cmocka_unit_test(test_reassembly_bound),
		cmocka_unit_test(test_mms_excluded),
		cmocka_unit_test(test_setup_communication),
		cmocka_unit_test(test_read_var),
		cmocka_unit_test(test_read_var_nck),
		cmocka_unit_test(test_write_var),
		cmocka_unit_test(test_block_download),
		cmocka_unit_test(test_block_upload),
		cmocka_unit_test(test_pi_services),
		cmocka_unit_test(test_plc_stop),
		cmocka_unit_test(test_ack_error),
		cmocka_unit_test(test_unknown_function),
		cmocka_unit_test(test_szl_identification),
		cmocka_unit_test(test_szl_cpu_mode),
		cmocka_unit_test(test_szl_fragmented),
		cmocka_unit_test(test_block_functions),
		cmocka_unit_test(test_programmer_cyclic_cpu),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_s7plus),
		cmocka_unit_test(test_s7plus_objects),
		cmocka_unit_test(test_unsolicited),
		cmocka_unit_test(test_flooded),
		cmocka_unit_test(test_stale_not_flooded),
		cmocka_unit_test(test_unanswered_at_flow_end),
		cmocka_unit_test(test_invalid_header),
		cmocka_unit_test(test_invalid_length),
		cmocka_unit_test(test_event_table),
		cmocka_unit_test(test_log_off),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_null_state),
		cmocka_unit_test(test_every_event_raised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
