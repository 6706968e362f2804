/*
 * test_bacnet.c - the BACnet/IP dissector on byte arrays.
 *
 * A recording mm_ctx keeps every op, event, asset fact, origin and
 * transaction log line; tests assert on values worked out by hand from
 * the bytes and ASHRAE 135 (clause 20 encoding, Annex J BVLC, clause 6
 * NPDU), never on what the code happened to print.  Each fixture's
 * comment says how its bytes decode.
 *
 * Fixtures give the datagram after the BVLC length in hex ('...' for
 * ASCII runs); dg() puts 81, the function and the length in front.  Every
 * fixture is also cut short at every offset, and every buffer handed to
 * the dissector is a heap copy of exactly its length, so that ASan sees
 * any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>

#include "../../common/rec.h"
#include "../../dissectors/dissector.h"

extern const struct mm_dissector mm_bacnet_dissector;
static const struct mm_dissector *D = &mm_bacnet_dissector;

#define REQ MM_DIR_TO_SERVER
#define RSP MM_DIR_TO_CLIENT

/* the daemon ends every flow before it frees it */
#define RC_FLOW_END_ON_FREE
/* one JSON object, no key twice */
#define RC_JSON_FLAGS JSON_REJECT_DUPLICATES
#include "recorder.h"

static int n_invalid(const struct rc *rc)
{
	return count_event(rc, "bacnet.invalid_bvlc") +
	       count_event(rc, "bacnet.invalid_npdu") +
	       count_event(rc, "bacnet.invalid_apdu") +
	       count_event(rc, "bacnet.bvlc_length_mismatch");
}

/* --- the last log line, parsed --- */

/* an integer field of the last log line; -1 when absent */
static long long log_int(const struct rc *rc, const char *k)
{
	json_t *j = last_json(rc);
	json_t *v = json_object_get(j, k);
	long long r = json_is_integer(v) ? json_integer_value(v) : -1;
	json_decref(j);
	return r;
}

/* a string field (copied into a static buffer); "" when absent */
static const char *log_str(const struct rc *rc, const char *k)
{
	static char buf[512];
	json_t *j = last_json(rc);
	json_t *v = json_object_get(j, k);
	snprintf(buf, sizeof(buf), "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(j);
	return buf;
}

/* a boolean field: 1, 0, or -1 when absent */
static int log_bool(const struct rc *rc, const char *k)
{
	json_t *j = last_json(rc);
	json_t *v = json_object_get(j, k);
	int r = json_is_boolean(v) ? json_is_true(v) : -1;
	json_decref(j);
	return r;
}

static double log_real(const struct rc *rc, const char *k)
{
	json_t *j = last_json(rc);
	json_t *v = json_object_get(j, k);
	double r = json_is_number(v) ? json_number_value(v) : -1e300;
	json_decref(j);
	return r;
}

static bool log_has(const struct rc *rc, const char *k)
{
	json_t *j = last_json(rc);
	bool r = json_object_get(j, k) != NULL;
	json_decref(j);
	return r;
}

/* ------------------------------------------------------------------ */
/* Datagrams                                                           */
/* ------------------------------------------------------------------ */

#define DG_MAX 70000

/* 81 | fn | length (2) | rest */
static size_t dg(uint8_t fn, const char *rest, uint8_t *out)
{
	size_t n = 4 + hex(rest, out + 4, DG_MAX - 4);
	out[0] = 0x81;
	out[1] = fn;
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	return n;
}

static void dg_send(struct rc *rc, enum mm_dir dir, uint8_t fn, const char *rest)
{
	static uint8_t b[DG_MAX];
	size_t n = dg(fn, rest, b);
	parse_raw(rc, dir, rc->st, b, n);
}

/* a fresh recorder: clear, send, and expect n ops */
static void exchange(struct rc *rc, enum mm_dir dir, uint8_t fn,
		     const char *rest)
{
	rc_clear(rc);
	dg_send(rc, dir, fn, rest);
}

#define UNI 0x0A   /* Original-Unicast-NPDU */
#define BCAST 0x0B /* Original-Broadcast-NPDU */

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

struct fx {
	const char *name;
	enum mm_dir dir;
	uint8_t fn;
	const char *rest; /* after the BVLC length */
};

/*
 * Object identifiers (20.2.14): type << 22 | instance.
 *   device,1234      = 8 << 22 | 0x4D2  = 02 00 04 D2
 *   analog-input,7   = 0 << 22 | 7      = 00 00 00 07
 *   analog-value,3   = 2 << 22 | 3      = 00 80 00 03
 *   file,1           = 10 << 22 | 1     = 02 80 00 01
 *   trend-log,1      = 20 << 22 | 1     = 05 00 00 01
 * NPDU 01 04: version 1, expecting reply; 01 00: nothing else.
 * Confirmed request header: 00 05 II SS = type 0, max APDU 1476 (5),
 * invoke II, service SS.  ComplexACK: 30 II SS.  SimpleACK: 20 II SS.
 */
static const struct fx fixtures[] = {
	/* ReadProperty device,1234 object-name (77 = 4D) */
	{ "rp_req", REQ, UNI, "01 04 | 00 05 01 0C | 0C 02 00 04 D2 | 19 4D" },
	/* its ACK: [3] { CharacterString UTF-8 "HVAC-01" } (75 08: ext len 8) */
	{ "rp_ack", RSP, UNI, "01 00 | 30 01 0C | 0C 02 00 04 D2 | 19 4D | "
	  "3E 75 08 00 'HVAC-01' 3F" },
	/* ReadProperty analog-value,3 priority-array (87 = 57) index 8 */
	{ "rp_idx_req", REQ, UNI, "01 04 | 00 05 11 0C | 0C 00 80 00 03 | "
	  "19 57 | 29 08" },
	/* RPM device,1234: model-name 70, firmware-revision 44,
	 * application-software-version 12, vendor-name 121,
	 * vendor-identifier 120, description 28 */
	{ "rpm_req", REQ, UNI, "01 04 | 00 05 02 0E | 0C 02 00 04 D2 | 1E "
	  "09 46 09 2C 09 0C 09 79 09 78 09 1C 1F" },
	/* its ACK: values in [4]; description answered [5] property (2) /
	 * unknown-property (32) */
	{ "rpm_ack", RSP, UNI, "01 00 | 30 02 0E | 0C 02 00 04 D2 | 1E "
	  "29 46 4E 75 06 00 'AHU-9' 4F "
	  "29 2C 4E 74 00 '1.2' 4F "
	  "29 0C 4E 74 00 'v42' 4F "
	  "29 79 4E 75 06 00 'Azbil' 4F "
	  "29 78 4E 21 55 4F "
	  "29 1C 5E 91 02 91 20 5F 1F" },
	/* WriteProperty analog-value,3 present-value (85) = REAL 21.5
	 * (41 AC 00 00), priority 8 */
	{ "wp_req", REQ, UNI, "01 04 | 00 05 03 0F | 0C 00 80 00 03 | 19 55 | "
	  "3E 44 41 AC 00 00 3F | 49 08" },
	{ "wp_ack", RSP, UNI, "01 00 | 20 03 0F" },
	/* WPM analog-value,3: present-value 21.5 @8, out-of-service (81)
	 * = TRUE (application boolean 11) */
	{ "wpm_req", REQ, UNI, "01 04 | 00 05 04 10 | 0C 00 80 00 03 | 1E "
	  "09 55 2E 44 41 AC 00 00 2F 39 08 "
	  "09 51 2E 11 2F 1F" },
	/* SubscribeCOV pid 18, analog-input,7, confirmed, lifetime 60 */
	{ "subcov_req", REQ, UNI, "01 04 | 00 05 05 05 | 09 12 | "
	  "1C 00 00 00 07 | 29 01 | 39 3C" },
	/* ... and its cancellation: [2] and [3] absent */
	{ "subcov_cancel", REQ, UNI, "01 04 | 00 05 06 05 | 09 12 | "
	  "1C 00 00 00 07" },
	/* ReinitializeDevice warmstart (1), password "secret" (1D 07) */
	{ "reinit_req", REQ, UNI, "01 04 | 00 05 07 14 | 09 01 | "
	  "1D 07 00 'secret'" },
	{ "reinit_ack", RSP, UNI, "01 00 | 20 07 14" },
	/* ReinitializeDevice coldstart (0), no password */
	{ "reinit_cold", REQ, UNI, "01 04 | 00 05 08 14 | 09 00" },
	/* DeviceCommunicationControl 60 min, disable (1), password "pwd" */
	{ "dcc_disable", REQ, UNI, "01 04 | 00 05 09 11 | 09 3C | 19 01 | "
	  "2D 04 00 'pwd'" },
	{ "dcc_enable", REQ, UNI, "01 04 | 00 05 0A 11 | 19 00" },
	{ "dcc_disable_init", REQ, UNI, "01 04 | 00 05 0B 11 | 19 02" },
	/* AtomicReadFile file,1 stream: start 0 (31 00), 1024 octets */
	{ "arf_req", REQ, UNI, "01 04 | 00 05 0C 06 | C4 02 80 00 01 | "
	  "0E 31 00 22 04 00 0F" },
	/* its ACK: end of file TRUE, start 0, 4 octets DEADBEEF */
	{ "arf_ack", RSP, UNI, "01 00 | 30 0C 06 | 11 | 0E 31 00 65 04 DE AD BE EF 0F" },
	/* AtomicWriteFile file,1 stream: 4 octets at 0 */
	{ "awf_req", REQ, UNI, "01 04 | 00 05 0D 07 | C4 02 80 00 01 | "
	  "0E 31 00 65 04 DE AD BE EF 0F" },
	/* AtomicWriteFile records: start record 2, 2 records AABB, CC */
	{ "awf_rec_req", REQ, UNI, "01 04 | 00 05 0E 07 | C4 02 80 00 01 | "
	  "1E 31 02 21 02 62 AA BB 61 CC 1F" },
	{ "awf_ack", RSP, UNI, "01 00 | 30 0D 07 | 09 00" },
	/* CreateObject analog-value (type 2) with object-name "AV-9" */
	{ "create_req", REQ, UNI, "01 04 | 00 05 0F 0A | 0E 09 02 0F | "
	  "1E 09 4D 2E 75 05 00 'AV-9' 2F 1F" },
	{ "create_ack", RSP, UNI, "01 00 | 30 0F 0A | C4 00 80 00 09" },
	/* DeleteObject analog-value,9 */
	{ "delete_req", REQ, UNI, "01 04 | 00 05 10 0B | C4 00 80 00 09" },
	/* ReadRange trend-log,1 log-buffer (131 = 83) by position:
	 * reference index 1, count 10 */
	{ "readrange_req", REQ, UNI, "01 04 | 00 05 12 1A | 0C 05 00 00 01 | "
	  "19 83 | 3E 21 01 31 0A 3F" },
	/* Who-Is 0..1000, global broadcast (DNET FFFF, DLEN 0, hops 255) */
	{ "whois_range", REQ, BCAST, "01 20 FF FF 00 FF | 10 08 | 09 00 | "
	  "1A 03 E8" },
	{ "whois_all", REQ, BCAST, "01 00 | 10 08" },
	/* I-Am device,1234, max APDU 1476 (22 05 C4), segmented-both (0),
	 * vendor 5 */
	{ "iam_bcast", REQ, BCAST, "01 00 | 10 00 | C4 02 00 04 D2 | "
	  "22 05 C4 | 91 00 | 21 05" },
	{ "iam_unicast", RSP, UNI, "01 00 | 10 00 | C4 02 00 04 D2 | "
	  "22 05 C4 | 91 00 | 21 05" },
	/* Who-Has object named "ROOM-12" (3D 08: [3], ext length 8) */
	{ "whohas_name", REQ, BCAST, "01 00 | 10 07 | 3D 08 00 'ROOM-12'" },
	/* Who-Has devices 1..10, object analog-input,7 */
	{ "whohas_id", REQ, BCAST, "01 00 | 10 07 | 09 01 19 0A | "
	  "2C 00 00 00 07" },
	/* I-Have device,1234 has analog-input,7 named "ROOM-12" */
	{ "ihave", REQ, BCAST, "01 00 | 10 01 | C4 02 00 04 D2 | "
	  "C4 00 00 00 07 | 75 08 00 'ROOM-12'" },
	/* TimeSynchronization 2026-04-01 (126 = 7E, Wednesday 3) 08:00:00.00 */
	{ "timesync", REQ, BCAST, "01 00 | 10 06 | A4 7E 04 01 03 | "
	  "B4 08 00 00 00" },
	{ "utc_timesync", REQ, BCAST, "01 00 | 10 09 | A4 7E 04 01 03 | "
	  "B4 17 1E 00 00" },
	/* WriteGroup group 5, priority 8, [2] { channel 1, REAL 10.0 } */
	{ "writegroup", REQ, BCAST, "01 00 | 10 0A | 09 05 | 19 08 | "
	  "2E 09 01 44 41 20 00 00 2F" },
	/* ConfirmedCOVNotification pid 18, device,1234, analog-input,7,
	 * 60 s left, present-value 21.5 */
	{ "cov_notify", RSP, UNI, "01 04 | 00 05 13 01 | 09 12 | "
	  "1C 02 00 04 D2 | 2C 00 00 00 07 | 39 3C | "
	  "4E 09 55 2E 44 41 AC 00 00 2F 4F" },
	/* ConfirmedPrivateTransfer: vendor 7, service 511 (1A 01 FF),
	 * [2] { Unsigned 1 } */
	{ "private_req", REQ, UNI, "01 04 | 00 05 15 12 | 09 07 | 1A 01 FF | "
	  "2E 21 01 2F" },
	/* UnconfirmedPrivateTransfer: vendor 260, service 3, no parameters */
	{ "uprivate", REQ, BCAST, "01 00 | 10 04 | 0A 01 04 | 19 03" },
	/* Error for ReadProperty: property (2) / unknown-property (32) */
	{ "error_rp", RSP, UNI, "01 00 | 50 01 0C | 91 02 | 91 20" },
	/* WritePropertyMultiple-Error: [0] { property, write-access-denied
	 * (40 = 28) } [1] { analog-value,3 present-value } */
	{ "error_wpm", RSP, UNI, "01 00 | 50 04 10 | 0E 91 02 91 28 0F | "
	  "1E 0C 00 80 00 03 19 55 1F" },
	/* Reject invoke 5: unrecognized-service (9) */
	{ "reject", RSP, UNI, "01 00 | 60 05 09" },
	/* Abort by the server (SRV = 1), invoke 6: segmentation-not-
	 * supported (4) */
	{ "abort_srv", RSP, UNI, "01 00 | 71 06 04" },
	/* Abort by the client, invoke 6: other (0) */
	{ "abort_cli", REQ, UNI, "01 00 | 70 06 00" },
	/* SegmentACK invoke 7, sequence 0, window 3 */
	{ "segack", REQ, UNI, "01 00 | 40 07 00 03" },
	/* routed: ReadProperty to device behind router, DNET 5, DADR 0A,
	 * hop count 255 (control 24: destination + expecting reply) */
	{ "routed_req", REQ, UNI, "01 24 00 05 01 0A FF | 00 05 14 0C | "
	  "0C 02 00 04 D2 | 19 4D" },
	/* routed: an I-Am from SNET 5, SADR 0A (control 08) */
	{ "routed_iam", RSP, UNI, "01 08 00 05 01 0A | 10 00 | "
	  "C4 02 00 00 0A | 21 32 | 91 03 | 21 08" },
	/* network layer messages (control 80) */
	{ "nl_whois_router", REQ, BCAST, "01 80 00" },
	{ "nl_whois_router_net", REQ, BCAST, "01 80 00 00 05" },
	{ "nl_iam_router", REQ, BCAST, "01 80 01 00 05 00 06" },
	{ "nl_could_be", REQ, UNI, "01 80 02 00 05 0A" },
	{ "nl_reject", REQ, UNI, "01 80 03 01 00 07" },
	{ "nl_busy", REQ, BCAST, "01 80 04 00 05" },
	{ "nl_available", REQ, BCAST, "01 80 05" },
	{ "nl_init_rt", REQ, UNI, "01 80 06 01 00 05 01 00" },
	{ "nl_init_rt_query", REQ, UNI, "01 80 06 00" },
	{ "nl_init_rt_ack", RSP, UNI, "01 80 07 02 00 05 01 00 00 06 02 02 AB CD" },
	{ "nl_establish", REQ, UNI, "01 80 08 00 05 1E" },
	{ "nl_disconnect", REQ, UNI, "01 80 09 00 05" },
	{ "nl_security", REQ, UNI, "01 80 0B 01 02 03" },
	{ "nl_what_is_netnum", REQ, BCAST, "01 80 12" },
	{ "nl_netnum_is", RSP, BCAST, "01 80 13 00 05 01" },
	{ "nl_proprietary", REQ, UNI, "01 80 80 01 04 AA" },
	/* BVLC functions */
	{ "bvlc_result", RSP, 0x00, "00 30" },
	{ "bvlc_write_bdt", REQ, 0x01, "0A 1E 00 01 BA C0 FF FF FF FF" },
	{ "bvlc_read_bdt", REQ, 0x02, "" },
	{ "bvlc_read_bdt_ack", RSP, 0x03, "0A 1E 00 01 BA C0 FF FF FF FF "
	  "0A 1F 00 01 BA C0 FF FF FF 00" },
	/* Forwarded-NPDU: original source 10.3.0.10:47808, a Who-Is */
	{ "forwarded_whois", REQ, 0x04, "0A 03 00 0A BA C0 | 01 00 | 10 08" },
	{ "bvlc_register_fd", REQ, 0x05, "00 3C" },
	{ "bvlc_read_fdt", REQ, 0x06, "" },
	{ "bvlc_read_fdt_ack", RSP, 0x07, "0A 01 00 05 BA C0 00 3C 00 1E" },
	{ "bvlc_delete_fdt", REQ, 0x08, "0A 01 00 05 BA C0" },
	{ "bvlc_distribute", REQ, 0x09, "01 00 | 10 08" },
	{ "bvlc_secure", REQ, 0x0C, "01 02 03 04" },
};

#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static const struct fx *fx_get(const char *name)
{
	for (size_t i = 0; i < N_FIXTURES; i++)
		if (strcmp(fixtures[i].name, name) == 0)
			return &fixtures[i];
	fail_msg("no fixture %s", name);
	return NULL;
}

/* clear the recorder and send one fixture */
static void fx(struct rc *rc, const char *name)
{
	const struct fx *f = fx_get(name);
	rc_clear(rc);
	dg_send(rc, f->dir, f->fn, f->rest);
}

/* nothing invalid was reported */
static void clean(const struct rc *rc)
{
	if (n_invalid(rc) != 0)
		fail_msg("unexpected event: %s", rc->ev_detail[0]);
}

/* ------------------------------------------------------------------ */
/* Probe                                                               */
/* ------------------------------------------------------------------ */

static enum mm_probe probe_hex(uint8_t fn, const char *rest)
{
	static uint8_t b[DG_MAX];
	size_t n = dg(fn, rest, b);
	return D->probe(b, n, REQ);
}

static void test_probe_accepts(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++)
		if (probe_hex(fixtures[i].fn, fixtures[i].rest) != MM_PROBE_YES)
			fail_msg("probe rejects %s", fixtures[i].name);
}

static void test_probe_rejects(void **state)
{
	uint8_t b[64];
	size_t n;

	(void)state;
	/* 1) fewer bytes than the BVLC header: cannot tell */
	assert_int_equal(D->probe((const uint8_t *)"\x81\x0a\x00", 3, REQ),
			 MM_PROBE_MORE);
	/* 2) BVLC type 0x82 (BACnet/IPv6), else a valid Who-Is */
	n = dg(BCAST, "01 00 10 08", b);
	b[0] = 0x82;
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* 3) function 0x0D is not defined */
	n = dg(0x0D, "01 00 10 08", b);
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* 4) a BVLC length that is not the datagram's: refused for a
	 * BVLC-only message (a Register-Foreign-Device of 6 bytes saying 7),
	 * but a Who-Is behind it (NPDU version 1) is still BACnet: the
	 * parser flags the length instead (bvlc_length_mismatch) */
	assert_int_equal(D->probe((const uint8_t *)"\x81\x05\x00\x07\x00\x3c", 6, REQ),
			 MM_PROBE_NO);
	assert_int_equal(D->probe((const uint8_t *)"\x81\x05\x00\x06\x00\x3c", 6, REQ),
			 MM_PROBE_YES);
	n = dg(BCAST, "01 00 10 08", b);
	b[3] = 9;
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_YES);
	b[0] = 0x82; /* ... but not when anything else is off */
	assert_int_equal(D->probe(b, n, REQ), MM_PROBE_NO);
	/* 5) layouts: a Result of 3 bytes, a Delete-FDT-Entry of 4, a BDT of
	 * half an entry */
	assert_int_equal(probe_hex(0x00, "00 00 00"), MM_PROBE_NO);
	assert_int_equal(probe_hex(0x08, "0A 01 00 05"), MM_PROBE_NO);
	assert_int_equal(probe_hex(0x03, "0A 1E 00 01 BA"), MM_PROBE_NO);
	/* 6) NPDU version 0x10 (an APDU without its NPDU), or none at all */
	assert_int_equal(probe_hex(UNI, "10 07 2C 02 00 00 3D"), MM_PROBE_NO);
	assert_int_equal(probe_hex(UNI, "01"), MM_PROBE_NO);
	assert_int_equal(probe_hex(0x04, "0A 03 00 0A BA C0 | 02 00 10 08"),
			 MM_PROBE_NO);
	/* HTTP on the port */
	memcpy(b, "GET / HTTP/1.0\r\n", 16);
	assert_int_equal(D->probe(b, 16, REQ), MM_PROBE_NO);
}

static void test_ports(void **state)
{
	(void)state;
	/* 47808 (0xBAC0) and the next seven */
	for (int i = 0; i < 8; i++)
		assert_int_equal(D->ports[i], 47808 + i);
	assert_int_equal(D->transport, 17);
	assert_null(D->pdu_len);
	assert_string_equal(D->name, "bacnet");
}

/* ------------------------------------------------------------------ */
/* Services                                                            */
/* ------------------------------------------------------------------ */

static void test_read_property(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "rp_req");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_READ);
	assert_int_equal(rc->ops[0].function, 12);
	assert_string_equal(rc->ops[0].function_name, "read_property");
	assert_string_equal(rc->ops[0].target, "device,1234 object-name");
	assert_null(rc->ops[0].event);
	assert_int_equal(log_int(rc, "bvlc_fn"), 10);
	assert_int_equal(log_int(rc, "bvlc_len"), 17);
	assert_int_equal(log_int(rc, "npdu_control"), 4);
	assert_int_equal(log_bool(rc, "expecting_reply"), 1);
	assert_int_equal(log_int(rc, "apdu_type"), 0);
	assert_int_equal(log_int(rc, "invoke_id"), 1);
	assert_int_equal(log_int(rc, "service"), 12);
	assert_string_equal(log_str(rc, "service_name"), "read_property");
	assert_int_equal(log_int(rc, "object_type"), 8);
	assert_string_equal(log_str(rc, "object_type_name"), "device");
	assert_int_equal(log_int(rc, "object_instance"), 1234);
	assert_int_equal(log_int(rc, "property"), 77);
	assert_string_equal(log_str(rc, "property_name"), "object-name");
	assert_int_equal(log_int(rc, "max_apdu"), 1476);
	assert_int_equal(log_int(rc, "max_segments"), 0);
	assert_string_equal(log_str(rc, "op"), "read");
	assert_false(log_has(rc, "dnet"));

	/* the device answers with its name: a fact about the sender, which
	 * is the server end of this flow */
	fx(rc, "rp_ack");
	clean(rc);
	assert_int_equal(rc->n_ops, 0);
	assert_int_equal(log_int(rc, "apdu_type"), 3);
	assert_int_equal(log_int(rc, "invoke_id"), 1);
	assert_int_equal(log_int(rc, "service"), 12);
	assert_int_equal(log_bool(rc, "paired"), 1);
	assert_string_equal(log_str(rc, "value"), "HVAC-01");
	const struct fact *f = find_fact(rc, "object_name");
	assert_non_null(f);
	assert_true(f->server);
	assert_string_equal(f->val, "HVAC-01");
	f = find_fact(rc, "bacnet_device_instance");
	assert_non_null(f);
	assert_string_equal(f->val, "1234");

	/* an array index */
	fx(rc, "rp_idx_req");
	clean(rc);
	assert_string_equal(rc->ops[0].target, "analog-value,3 priority-array[8]");
	assert_int_equal(log_int(rc, "array_index"), 8);
	assert_int_equal(log_int(rc, "property"), 87);
	rc_free(rc);
}

static void test_read_property_multiple(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "rpm_req");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_READ);
	assert_int_equal(rc->ops[0].function, 14);
	assert_string_equal(rc->ops[0].target, "device,1234 model-name +5 more");
	assert_int_equal(log_int(rc, "item_count"), 6);
	assert_int_equal(log_int(rc, "object_instance"), 1234);
	assert_int_equal(log_int(rc, "property"), 70);

	fx(rc, "rpm_ack");
	clean(rc);
	assert_int_equal(log_int(rc, "item_count"), 6);
	assert_int_equal(log_bool(rc, "paired"), 1);
	struct { const char *k, *v; } want[] = {
		{ "model_name", "AHU-9" },
		{ "firmware_revision", "1.2" },
		{ "application_software_version", "v42" },
		{ "vendor_name", "Azbil" },
		{ "bacnet_vendor_id", "85" },
		{ "bacnet_vendor", "Yamatake Building Systems (azbil)" },
		{ "bacnet_device_instance", "1234" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct fact *f = find_fact(rc, want[i].k);
		if (!f)
			fail_msg("no fact %s", want[i].k);
		assert_string_equal(f->val, want[i].v);
		assert_true(f->server);
	}
	assert_null(find_fact(rc, "description"));
	/* the access error of the last item */
	json_t *j = last_json(rc);
	json_t *items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 6);
	json_t *last = json_array_get(items, 5);
	assert_int_equal(json_integer_value(json_object_get(last, "property")), 28);
	assert_int_equal(json_integer_value(json_object_get(last, "error_class")), 2);
	assert_int_equal(json_integer_value(json_object_get(last, "error_code")), 32);
	json_decref(j);
	rc_free(rc);
}

static void test_write_property(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "wp_req");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_WRITE);
	assert_int_equal(rc->ops[0].function, 15);
	assert_string_equal(rc->ops[0].target,
			    "analog-value,3 present-value priority 8");
	assert_non_null(rc->ops[0].event);
	assert_string_equal(rc->ops[0].event->name, "bacnet.write_property");
	/* a plant writes set points all day: informational */
	assert_int_equal(rc->ops[0].event->severity, 4);
	assert_int_equal(log_int(rc, "priority"), 8);
	assert_true(log_real(rc, "value") == 21.5);
	assert_int_equal(log_int(rc, "object_type"), 2);
	assert_int_equal(log_int(rc, "object_instance"), 3);
	assert_int_equal(log_int(rc, "property"), 85);

	fx(rc, "wp_ack");
	clean(rc);
	assert_int_equal(log_int(rc, "apdu_type"), 2);
	assert_int_equal(log_int(rc, "service"), 15);
	assert_int_equal(log_bool(rc, "paired"), 1);

	fx(rc, "wpm_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_WRITE);
	assert_int_equal(rc->ops[0].function, 16);
	assert_string_equal(rc->ops[0].event->name, "bacnet.write_property");
	assert_string_equal(rc->ops[0].target,
			    "analog-value,3 present-value +1 more");
	json_t *j = last_json(rc);
	json_t *items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0),
							    "priority")), 8);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1),
							    "property")), 81);
	json_decref(j);
	rc_free(rc);
}

static void test_subscribe_cov(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "subcov_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_READ);
	assert_int_equal(rc->ops[0].function, 5);
	assert_string_equal(rc->ops[0].target, "analog-input,7");
	assert_int_equal(log_int(rc, "subscriber_process_id"), 18);
	assert_int_equal(log_bool(rc, "issue_confirmed"), 1);
	assert_int_equal(log_int(rc, "lifetime"), 60);
	assert_int_equal(log_bool(rc, "cancellation"), 0);
	fx(rc, "subcov_cancel");
	clean(rc);
	assert_int_equal(log_bool(rc, "cancellation"), 1);
	rc_free(rc);
}

static void test_reinitialize_device(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "reinit_req");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_CONTROL);
	assert_int_equal(rc->ops[0].function, 20);
	assert_string_equal(rc->ops[0].function_name, "reinitialize_device");
	assert_string_equal(rc->ops[0].target, "warmstart with password");
	assert_non_null(rc->ops[0].event);
	assert_string_equal(rc->ops[0].event->name, "bacnet.reinitialize_device");
	/* the event rides on the op: not raised on its own */
	assert_int_equal(rc->n_events, 0);
	assert_int_equal(log_int(rc, "reinit_state"), 1);
	assert_string_equal(log_str(rc, "reinit_state_name"), "warmstart");
	assert_int_equal(log_bool(rc, "password_present"), 1);
	/* the password never reaches the log */
	assert_null(strstr(rc->last_log, "secret"));

	fx(rc, "reinit_ack");
	clean(rc);
	assert_int_equal(log_bool(rc, "paired"), 1);
	assert_int_equal(log_int(rc, "service"), 20);

	fx(rc, "reinit_cold");
	clean(rc);
	assert_string_equal(rc->ops[0].target, "coldstart");
	assert_int_equal(log_bool(rc, "password_present"), 0);
	rc_free(rc);
}

static void test_device_communication_control(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "dcc_disable");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_CONTROL);
	assert_int_equal(rc->ops[0].function, 17);
	assert_string_equal(rc->ops[0].target, "disable for 60 min with password");
	assert_string_equal(rc->ops[0].event->name,
			    "bacnet.device_communication_disabled");
	assert_int_equal(rc->n_events, 0);
	assert_int_equal(log_int(rc, "duration_min"), 60);
	assert_int_equal(log_int(rc, "dcc_state"), 1);
	assert_string_equal(log_str(rc, "dcc_state_name"), "disable");
	assert_int_equal(log_bool(rc, "password_present"), 1);
	assert_null(strstr(rc->last_log, "pwd"));

	/* enabling again is a control op, but silences nothing */
	fx(rc, "dcc_enable");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_CONTROL);
	assert_string_equal(rc->ops[0].target, "enable");
	assert_null(rc->ops[0].event);
	assert_false(log_has(rc, "duration_min"));

	fx(rc, "dcc_disable_init");
	clean(rc);
	assert_string_equal(rc->ops[0].target, "disable-initiation indefinitely");
	assert_string_equal(rc->ops[0].event->name,
			    "bacnet.device_communication_disabled");
	rc_free(rc);
}

static void test_atomic_files(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "arf_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_READ);
	assert_int_equal(rc->ops[0].function, 6);
	assert_string_equal(rc->ops[0].target, "file,1 octets 0 +1024");
	assert_string_equal(log_str(rc, "file_access"), "stream");
	assert_int_equal(log_int(rc, "file_count"), 1024);

	fx(rc, "arf_ack");
	clean(rc);
	assert_int_equal(log_bool(rc, "end_of_file"), 1);
	assert_int_equal(log_int(rc, "file_octets"), 4);
	assert_int_equal(log_int(rc, "file_start"), 0);

	fx(rc, "awf_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_PROGRAM);
	assert_int_equal(rc->ops[0].function, 7);
	assert_string_equal(rc->ops[0].event->name, "bacnet.file_write");
	assert_string_equal(rc->ops[0].target, "file,1 4 octets at 0");
	assert_int_equal(log_int(rc, "file_octets"), 4);
	assert_int_equal(rc->n_events, 0);

	fx(rc, "awf_rec_req");
	clean(rc);
	assert_string_equal(rc->ops[0].target, "file,1 2 records at 2");
	assert_string_equal(log_str(rc, "file_access"), "record");
	assert_int_equal(log_int(rc, "file_octets"), 3);

	fx(rc, "awf_ack");
	clean(rc);
	assert_int_equal(log_int(rc, "file_start"), 0);
	assert_string_equal(log_str(rc, "file_access"), "stream");
	rc_free(rc);
}

static void test_create_delete_object(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "create_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_PROGRAM);
	assert_int_equal(rc->ops[0].function, 10);
	assert_string_equal(rc->ops[0].target, "new analog-value");
	assert_string_equal(rc->ops[0].event->name, "bacnet.object_created");
	assert_int_equal(log_int(rc, "object_type"), 2);
	assert_int_equal(log_bool(rc, "initial_values"), 1);

	fx(rc, "create_ack");
	clean(rc);
	assert_int_equal(log_int(rc, "object_type"), 2);
	assert_int_equal(log_int(rc, "object_instance"), 9);

	fx(rc, "delete_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_PROGRAM);
	assert_int_equal(rc->ops[0].function, 11);
	assert_string_equal(rc->ops[0].target, "analog-value,9");
	assert_string_equal(rc->ops[0].event->name, "bacnet.object_deleted");
	rc_free(rc);
}

static void test_read_range(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "readrange_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_READ);
	assert_int_equal(rc->ops[0].function, 26);
	assert_string_equal(rc->ops[0].target, "trend-log,1 log-buffer");
	assert_string_equal(log_str(rc, "range"), "by_position");
	rc_free(rc);
}

static void test_who_is_i_am(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "whois_range");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_DISCOVER);
	assert_int_equal(rc->ops[0].function, 8);
	assert_string_equal(rc->ops[0].function_name, "who_is");
	assert_string_equal(rc->ops[0].target, "device instances 0-1000");
	assert_int_equal(log_int(rc, "bvlc_fn"), 11);
	assert_int_equal(log_int(rc, "dnet"), 65535);
	assert_int_equal(log_int(rc, "hop_count"), 255);
	assert_int_equal(log_int(rc, "apdu_type"), 1);
	assert_int_equal(log_int(rc, "service"), 8);
	assert_int_equal(log_int(rc, "device_instance_low"), 0);
	assert_int_equal(log_int(rc, "device_instance_high"), 1000);
	assert_false(log_has(rc, "invoke_id"));

	fx(rc, "whois_all");
	clean(rc);
	assert_string_equal(rc->ops[0].target, "all devices");

	/* a broadcast I-Am announces a device: discover op, and facts about
	 * the sender (the client end: a broadcast's flow server is the
	 * broadcast address) */
	fx(rc, "iam_bcast");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_DISCOVER);
	assert_int_equal(rc->ops[0].function, 0);
	assert_string_equal(rc->ops[0].target, "device,1234 vendor 5 (Johnson Controls)");
	assert_int_equal(log_int(rc, "device_instance"), 1234);
	assert_int_equal(log_int(rc, "max_apdu"), 1476);
	assert_int_equal(log_int(rc, "segmentation"), 0);
	assert_string_equal(log_str(rc, "segmentation_name"), "segmented-both");
	assert_int_equal(log_int(rc, "vendor_id"), 5);
	assert_string_equal(log_str(rc, "vendor_name"), "Johnson Controls");
	const struct fact *f = find_fact(rc, "bacnet_device_instance");
	assert_non_null(f);
	assert_string_equal(f->val, "1234");
	assert_false(f->server);
	assert_string_equal(find_fact(rc, "bacnet_vendor_id")->val, "5");
	assert_string_equal(find_fact(rc, "bacnet_vendor")->val, "Johnson Controls");

	/* an I-Am sent to one host answers its Who-Is: logged, no op */
	fx(rc, "iam_unicast");
	clean(rc);
	assert_int_equal(rc->n_ops, 0);
	assert_string_equal(log_str(rc, "op"), "discover");
	assert_non_null(find_fact(rc, "bacnet_device_instance"));
	assert_true(find_fact(rc, "bacnet_device_instance")->server);
	rc_free(rc);
}

static void test_who_has_i_have(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "whohas_name");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_DISCOVER);
	assert_int_equal(rc->ops[0].function, 7);
	assert_string_equal(rc->ops[0].target, "object named ROOM-12");
	assert_string_equal(log_str(rc, "object_name"), "ROOM-12");

	fx(rc, "whohas_id");
	clean(rc);
	assert_string_equal(rc->ops[0].target, "analog-input,7");
	assert_int_equal(log_int(rc, "device_instance_low"), 1);
	assert_int_equal(log_int(rc, "device_instance_high"), 10);

	fx(rc, "ihave");
	clean(rc);
	assert_int_equal(rc->n_ops, 1); /* broadcast: an announcement */
	assert_int_equal(rc->ops[0].function, 1);
	assert_int_equal(log_int(rc, "device_instance"), 1234);
	assert_int_equal(log_int(rc, "object_type"), 0);
	assert_int_equal(log_int(rc, "object_instance"), 7);
	assert_string_equal(log_str(rc, "object_name"), "ROOM-12");
	rc_free(rc);
}

static void test_time_synchronization(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "timesync");
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_OTHER);
	assert_int_equal(rc->ops[0].function, 6);
	/* class other: the daemon raises the op's event as its own alert */
	assert_string_equal(rc->ops[0].event->name, "bacnet.time_synchronization");
	assert_int_equal(rc->ops[0].event->severity, 4);
	assert_string_equal(log_str(rc, "time"), "2026-04-01T08:00:00.00");

	fx(rc, "utc_timesync");
	clean(rc);
	assert_int_equal(rc->ops[0].function, 9);
	assert_string_equal(rc->ops[0].event->name, "bacnet.time_synchronization");
	assert_string_equal(log_str(rc, "time"), "2026-04-01T23:30:00.00");
	rc_free(rc);
}

static void test_write_group(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "writegroup");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_WRITE);
	assert_int_equal(rc->ops[0].function, 10);
	assert_string_equal(rc->ops[0].target, "group 5 priority 8");
	assert_int_equal(log_int(rc, "group"), 5);
	rc_free(rc);
}

static void test_cov_notification_is_a_report(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	/* the device feeds a subscription: logged, not judged */
	fx(rc, "cov_notify");
	clean(rc);
	assert_int_equal(rc->n_ops, 0);
	assert_int_equal(log_int(rc, "service"), 1);
	assert_string_equal(log_str(rc, "op"), "other");
	assert_int_equal(log_int(rc, "subscriber_process_id"), 18);
	assert_int_equal(log_int(rc, "device_instance"), 1234);
	assert_int_equal(log_int(rc, "object_instance"), 7);
	rc_free(rc);
}

static void test_private_transfer(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "private_req");
	clean(rc);
	assert_int_equal(rc->ops[0].cls, MM_OP_OTHER);
	assert_int_equal(rc->ops[0].function, 18);
	assert_string_equal(rc->ops[0].target,
			    "vendor 7 (Siemens (Landis & Staefa)) service 511");
	assert_int_equal(log_int(rc, "vendor_id"), 7);
	assert_int_equal(log_int(rc, "service_number"), 511);
	assert_int_equal(log_int(rc, "parameters_len"), 2);
	fx(rc, "uprivate");
	clean(rc);
	assert_int_equal(rc->ops[0].function, 4);
	assert_string_equal(rc->ops[0].target,
			    "vendor 260 (BACnet Stack at SourceForge) service 3");
	assert_false(log_has(rc, "parameters_len"));
	rc_free(rc);
}

/* every confirmed and unconfirmed service choice has a name */
static void test_every_service_named(void **state)
{
	static const char *const confirmed[34] = {
		"acknowledge_alarm", "confirmed_cov_notification",
		"confirmed_event_notification", "get_alarm_summary",
		"get_enrollment_summary", "subscribe_cov", "atomic_read_file",
		"atomic_write_file", "add_list_element", "remove_list_element",
		"create_object", "delete_object", "read_property",
		"read_property_conditional", "read_property_multiple",
		"write_property", "write_property_multiple",
		"device_communication_control", "confirmed_private_transfer",
		"confirmed_text_message", "reinitialize_device", "vt_open",
		"vt_close", "vt_data", "authenticate", "request_key",
		"read_range", "life_safety_operation", "subscribe_cov_property",
		"get_event_information", "subscribe_cov_property_multiple",
		"confirmed_cov_notification_multiple",
		"confirmed_audit_notification", "audit_log_query",
	};
	static const char *const unconfirmed[15] = {
		"i_am", "i_have", "unconfirmed_cov_notification",
		"unconfirmed_event_notification", "unconfirmed_private_transfer",
		"unconfirmed_text_message", "time_synchronization", "who_has",
		"who_is", "utc_time_synchronization", "write_group",
		"unconfirmed_cov_notification_multiple",
		"unconfirmed_audit_notification", "who_am_i", "you_are",
	};
	struct rc *rc = rc_new(true);
	char rest[64];
	(void)state;

	for (unsigned s = 0; s < 34; s++) {
		snprintf(rest, sizeof(rest), "01 04 | 00 05 %02X %02X", s, s);
		exchange(rc, REQ, UNI, rest);
		assert_int_equal(log_int(rc, "service"), s);
		assert_string_equal(log_str(rc, "service_name"), confirmed[s]);
	}
	for (unsigned s = 0; s < 15; s++) {
		snprintf(rest, sizeof(rest), "01 00 | 10 %02X", s);
		exchange(rc, REQ, BCAST, rest);
		assert_int_equal(log_int(rc, "service"), s);
		assert_string_equal(log_str(rc, "service_name"), unconfirmed[s]);
	}
	/* the first choice past each table is unknown: invalid_apdu */
	exchange(rc, REQ, UNI, "01 04 | 00 05 40 22");
	assert_int_equal(count_event(rc, "bacnet.invalid_apdu"), 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_OTHER);
	assert_false(log_has(rc, "service_name"));
	exchange(rc, REQ, BCAST, "01 00 | 10 0F");
	assert_int_equal(count_event(rc, "bacnet.invalid_apdu"), 1);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Answers: Error, Reject, Abort, SegmentACK                           */
/* ------------------------------------------------------------------ */

static void test_error_reject_abort(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "rp_req");
	fx(rc, "error_rp");
	assert_int_equal(n_invalid(rc), 0);
	assert_int_equal(count_event(rc, "bacnet.error_response"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.error_response"),
			       "property/unknown-property (2/32)"));
	assert_int_equal(log_int(rc, "apdu_type"), 5);
	assert_int_equal(log_int(rc, "invoke_id"), 1);
	assert_int_equal(log_int(rc, "service"), 12);
	assert_int_equal(log_int(rc, "error_class"), 2);
	assert_string_equal(log_str(rc, "error_class_name"), "property");
	assert_int_equal(log_int(rc, "error_code"), 32);
	assert_string_equal(log_str(rc, "error_code_name"), "unknown-property");
	assert_int_equal(log_bool(rc, "paired"), 1);

	/* the structured error of WritePropertyMultiple */
	fx(rc, "wpm_req");
	fx(rc, "error_wpm");
	assert_int_equal(n_invalid(rc), 0);
	assert_int_equal(log_int(rc, "error_class"), 2);
	assert_int_equal(log_int(rc, "error_code"), 40);
	assert_string_equal(log_str(rc, "error_code_name"), "write-access-denied");
	assert_int_equal(log_int(rc, "object_instance"), 3);

	fx(rc, "reject");
	assert_int_equal(count_event(rc, "bacnet.reject"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.reject"),
			       "unrecognized-service (9)"));
	assert_int_equal(log_int(rc, "apdu_type"), 6);
	assert_int_equal(log_int(rc, "invoke_id"), 5);
	assert_int_equal(log_int(rc, "reject_reason"), 9);
	assert_string_equal(log_str(rc, "reject_reason_name"), "unrecognized-service");

	fx(rc, "abort_srv");
	assert_int_equal(count_event(rc, "bacnet.abort"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.abort"),
			       "segmentation-not-supported (4) by the server"));
	assert_int_equal(log_int(rc, "apdu_type"), 7);
	assert_int_equal(log_int(rc, "abort_reason"), 4);
	assert_int_equal(log_bool(rc, "server"), 1);

	fx(rc, "abort_cli");
	assert_int_equal(log_bool(rc, "server"), 0);
	assert_string_equal(log_str(rc, "abort_reason_name"), "other");

	fx(rc, "segack");
	clean(rc);
	assert_int_equal(log_int(rc, "apdu_type"), 4);
	assert_int_equal(log_int(rc, "invoke_id"), 7);
	assert_int_equal(log_int(rc, "sequence_number"), 0);
	assert_int_equal(log_int(rc, "window_size"), 3);
	assert_int_equal(log_bool(rc, "negative_ack"), 0);
	assert_int_equal(log_bool(rc, "server"), 0);
	assert_int_equal(rc->n_ops, 0);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Pairing                                                             */
/* ------------------------------------------------------------------ */

static void test_pairing(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	/* an answer nobody asked for */
	fx(rc, "rp_ack");
	assert_int_equal(log_bool(rc, "paired"), 0);
	/* asked, answered once */
	fx(rc, "rp_req");
	fx(rc, "rp_ack");
	assert_int_equal(log_bool(rc, "paired"), 1);
	fx(rc, "rp_ack");
	assert_int_equal(log_bool(rc, "paired"), 0);

	/* requests both ways with the same invoke id are two transactions:
	 * the server asks the client with invoke 1 too */
	fx(rc, "rp_req");
	exchange(rc, RSP, UNI, "01 04 | 00 05 01 0C | 0C 02 00 00 05 | 19 55");
	exchange(rc, REQ, UNI, "01 00 | 30 01 0C | 0C 02 00 00 05 | 19 55 | "
		 "3E 21 01 3F");
	assert_int_equal(log_bool(rc, "paired"), 1);
	fx(rc, "rp_ack");
	assert_int_equal(log_bool(rc, "paired"), 1);

	/* a client Abort ends the client's own request */
	exchange(rc, REQ, UNI, "01 04 | 00 05 06 0C | 0C 02 00 04 D2 | 19 4D");
	fx(rc, "abort_cli");
	assert_int_equal(log_bool(rc, "paired"), 1);

	/* an answer for another service than asked: service_mismatch */
	exchange(rc, REQ, UNI, "01 04 | 00 05 09 0C | 0C 02 00 04 D2 | 19 4D");
	exchange(rc, RSP, UNI, "01 00 | 20 09 0F");
	assert_int_equal(count_event(rc, "bacnet.service_mismatch"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.service_mismatch"),
			       "request read_property (12), simple_ack names "
			       "write_property (15)"));

	/* bounded: 65 requests open, the oldest is taken as lost */
	rc_clear(rc);
	for (unsigned i = 0; i < 65; i++) {
		char rest[64];
		snprintf(rest, sizeof(rest), "01 04 | 00 05 %02X 0C | "
			 "0C 02 00 04 D2 | 19 4D", 100 + i);
		dg_send(rc, REQ, UNI, rest);
	}
	exchange(rc, RSP, UNI, "01 00 | 20 64 0C"); /* invoke 100 */
	assert_int_equal(log_bool(rc, "paired"), 0);
	exchange(rc, RSP, UNI, "01 00 | 20 65 0C"); /* invoke 101 */
	assert_int_equal(log_bool(rc, "paired"), 1);
	exchange(rc, RSP, UNI, "01 00 | 20 A4 0C"); /* invoke 164 */
	assert_int_equal(log_bool(rc, "paired"), 1);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* NPDU: routed traffic and network layer messages                     */
/* ------------------------------------------------------------------ */

static void test_routed(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "routed_req");
	clean(rc);
	assert_int_equal(log_int(rc, "npdu_control"), 0x24);
	assert_int_equal(log_int(rc, "dnet"), 5);
	assert_string_equal(log_str(rc, "dadr"), "0a");
	assert_int_equal(log_int(rc, "hop_count"), 255);
	assert_int_equal(log_int(rc, "invoke_id"), 20);
	assert_int_equal(rc->ops[0].cls, MM_OP_READ);

	/* an I-Am from a device behind a router: the IP sender is the
	 * router, so no fact is written about it */
	fx(rc, "routed_iam");
	clean(rc);
	assert_int_equal(log_int(rc, "snet"), 5);
	assert_string_equal(log_str(rc, "sadr"), "0a");
	assert_int_equal(log_int(rc, "device_instance"), 10);
	assert_int_equal(log_int(rc, "vendor_id"), 8);
	assert_string_equal(log_str(rc, "vendor_name"), "Delta Controls");
	assert_string_equal(log_str(rc, "segmentation_name"), "no-segmentation");
	assert_int_equal(rc->n_facts, 0);
	rc_free(rc);
}

static void test_network_messages(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	struct { const char *fx; int type; const char *name; } t[] = {
		{ "nl_whois_router", 0, "who_is_router_to_network" },
		{ "nl_whois_router_net", 0, "who_is_router_to_network" },
		{ "nl_iam_router", 1, "i_am_router_to_network" },
		{ "nl_could_be", 2, "i_could_be_router_to_network" },
		{ "nl_reject", 3, "reject_message_to_network" },
		{ "nl_busy", 4, "router_busy_to_network" },
		{ "nl_available", 5, "router_available_to_network" },
		{ "nl_init_rt", 6, "initialize_routing_table" },
		{ "nl_init_rt_query", 6, "initialize_routing_table" },
		{ "nl_init_rt_ack", 7, "initialize_routing_table_ack" },
		{ "nl_establish", 8, "establish_connection_to_network" },
		{ "nl_disconnect", 9, "disconnect_connection_to_network" },
		{ "nl_security", 11, "security_payload" },
		{ "nl_what_is_netnum", 18, "what_is_network_number" },
		{ "nl_netnum_is", 19, "network_number_is" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fx(rc, t[i].fx);
		clean(rc);
		assert_int_equal(rc->n_ops, 0);
		assert_int_equal(log_int(rc, "npdu_control"), 0x80);
		assert_int_equal(log_int(rc, "network_message"), t[i].type);
		assert_string_equal(log_str(rc, "network_message_name"), t[i].name);
		assert_false(log_has(rc, "apdu_type"));
	}
	fx(rc, "nl_whois_router_net");
	assert_int_equal(log_int(rc, "network"), 5);
	fx(rc, "nl_iam_router");
	json_t *j = last_json(rc);
	json_t *nets = json_object_get(j, "networks");
	assert_int_equal(json_array_size(nets), 2);
	assert_int_equal(json_integer_value(json_array_get(nets, 1)), 6);
	json_decref(j);
	fx(rc, "nl_reject");
	assert_int_equal(log_int(rc, "reject_reason"), 1);
	assert_string_equal(log_str(rc, "reject_reason_name"), "not_directly_connected");
	assert_int_equal(log_int(rc, "network"), 7);
	fx(rc, "nl_netnum_is");
	assert_int_equal(log_int(rc, "network"), 5);
	assert_int_equal(log_int(rc, "network_configured"), 1);
	fx(rc, "nl_init_rt_ack");
	assert_int_equal(log_int(rc, "ports"), 2);

	/* a routing table rewritten: an event; a query of it: none */
	fx(rc, "nl_init_rt");
	assert_int_equal(count_event(rc, "bacnet.routing_table_change"), 1);
	assert_int_equal(log_int(rc, "ports"), 1);
	fx(rc, "nl_init_rt_query");
	assert_int_equal(rc->n_events, 0);

	fx(rc, "nl_proprietary");
	clean(rc);
	assert_int_equal(log_int(rc, "network_message"), 0x80);
	assert_int_equal(log_int(rc, "vendor_id"), 260);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* BVLC functions and the Forwarded-NPDU origin                        */
/* ------------------------------------------------------------------ */

static void test_bvlc_functions(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	struct { const char *fx; int fn; } t[] = {
		{ "bvlc_result", 0 }, { "bvlc_write_bdt", 1 },
		{ "bvlc_read_bdt", 2 }, { "bvlc_read_bdt_ack", 3 },
		{ "forwarded_whois", 4 }, { "bvlc_register_fd", 5 },
		{ "bvlc_read_fdt", 6 }, { "bvlc_read_fdt_ack", 7 },
		{ "bvlc_delete_fdt", 8 }, { "bvlc_distribute", 9 },
		{ "rp_req", 10 }, { "whois_all", 11 }, { "bvlc_secure", 12 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fx(rc, t[i].fx);
		clean(rc);
		assert_int_equal(rc->ends, 1);
		assert_int_equal(log_int(rc, "bvlc_fn"), t[i].fn);
	}
	fx(rc, "bvlc_result");
	assert_int_equal(log_int(rc, "bvlc_result"), 0x30);
	assert_string_equal(log_str(rc, "bvlc_result_name"), "register_foreign_device_nak");
	assert_false(log_has(rc, "apdu_type"));
	fx(rc, "bvlc_register_fd");
	assert_int_equal(log_int(rc, "ttl"), 60);
	fx(rc, "bvlc_delete_fdt");
	assert_string_equal(log_str(rc, "fdt_entry"), "10.1.0.5:47808");
	fx(rc, "bvlc_read_fdt_ack");
	json_t *j = last_json(rc);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "fdt"), 0)),
			    "10.1.0.5:47808 ttl 60 left 30");
	json_decref(j);
	fx(rc, "bvlc_read_bdt_ack");
	assert_int_equal(log_int(rc, "entries"), 2);
	j = last_json(rc);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "bdt"), 1)),
			    "10.31.0.1:47808 mask 255.255.255.0");
	json_decref(j);
	/* a foreign device's Distribute-Broadcast-To-Network is a broadcast */
	fx(rc, "bvlc_distribute");
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_DISCOVER);
	fx(rc, "bvlc_secure");
	assert_int_equal(log_int(rc, "secure_len"), 4);
	rc_free(rc);
}

static void test_forwarded_origin(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	fx(rc, "forwarded_whois");
	clean(rc);
	/* 0A 03 00 0A BA C0: 10.3.0.10, port 0xBAC0 */
	assert_int_equal(rc->n_origins, 1);
	assert_int_equal(rc->origin_ip, inet_addr("10.3.0.10"));
	assert_int_equal(rc->origin_port, 47808);
	/* set before anything is reported: log, op */
	assert_true(rc->origin_at < rc->begin_at);
	assert_true(rc->origin_at < rc->first_op_at);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_DISCOVER);
	assert_string_equal(log_str(rc, "orig_src_ip"), "10.3.0.10");
	assert_int_equal(log_int(rc, "orig_src_port"), 47808);
	assert_int_equal(log_int(rc, "service"), 8);

	/* a relayed I-Am: the announcement is judged, but no fact goes to
	 * the BBMD's address */
	exchange(rc, REQ, 0x04, "0A 1E 00 0B BA C1 | 01 00 | 10 00 | "
		 "C4 02 00 00 0B | 22 01 E0 | 91 03 | 21 07");
	clean(rc);
	assert_int_equal(rc->origin_ip, inet_addr("10.30.0.11"));
	assert_int_equal(rc->origin_port, 47809);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->n_facts, 0);
	assert_int_equal(log_int(rc, "device_instance"), 11);
	assert_int_equal(log_int(rc, "max_apdu"), 480);

	/* the other functions set no origin */
	fx(rc, "whois_all");
	assert_int_equal(rc->n_origins, 0);
	/* a Forwarded-NPDU too short for its address sets none either */
	exchange(rc, REQ, 0x04, "0A 03 00");
	assert_int_equal(rc->n_origins, 0);
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Events: broken layers                                               */
/* ------------------------------------------------------------------ */

static void test_invalid_bvlc(void **state)
{
	struct rc *rc = rc_new(true);
	uint8_t b[16];
	size_t n;
	(void)state;

	/* 3 bytes: no BVLC header */
	rc_clear(rc);
	parse_raw(rc, REQ, rc->st, (const uint8_t *)"\x81\x0b\x00", 3);
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	assert_int_equal(rc->ends, 1);
	/* type 0x82 */
	n = dg(BCAST, "01 00 10 08", b);
	b[0] = 0x82;
	rc_clear(rc);
	parse_raw(rc, REQ, rc->st, b, n);
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_bvlc"), "0x82"));
	assert_int_equal(rc->n_ops, 0);
	/* function 0x0D */
	exchange(rc, REQ, 0x0D, "01 00 10 08");
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_bvlc"),
			       "unknown BVLC function 0x0d"));
	/* layouts: a 3-byte Result, half a BDT entry, a Read-BDT with data */
	exchange(rc, RSP, 0x00, "00 00 00");
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	exchange(rc, RSP, 0x03, "0A 1E 00 01 BA");
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	exchange(rc, REQ, 0x02, "00");
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	/* BVLC length below its own header */
	n = dg(BCAST, "01 00 10 08", b);
	b[3] = 2;
	rc_clear(rc);
	parse_raw(rc, REQ, rc->st, b, n);
	assert_int_equal(count_event(rc, "bacnet.invalid_bvlc"), 1);
	rc_free(rc);
}

static void test_bvlc_length_mismatch(void **state)
{
	struct rc *rc = rc_new(true);
	uint8_t b[64];
	size_t n;
	(void)state;

	/* the length says 10 of an 8-byte Who-Is: what is there is parsed */
	n = dg(BCAST, "01 00 10 08", b);
	b[3] = 10;
	rc_clear(rc);
	parse_raw(rc, REQ, rc->st, b, n);
	assert_int_equal(count_event(rc, "bacnet.bvlc_length_mismatch"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.bvlc_length_mismatch"),
			       "BVLC length 10, datagram 8 bytes"));
	assert_int_equal(log_int(rc, "service"), 8);
	assert_int_equal(rc->n_ops, 1);
	/* the length says 8 of a datagram with 2 more bytes: they are not
	 * part of the message */
	n = dg(BCAST, "01 00 10 08 09 00", b);
	b[3] = 8;
	rc_clear(rc);
	parse_raw(rc, REQ, rc->st, b, n);
	assert_int_equal(count_event(rc, "bacnet.bvlc_length_mismatch"), 1);
	assert_int_equal(count_event(rc, "bacnet.invalid_apdu"), 0);
	assert_string_equal(rc->ops[0].target, "all devices");
	rc_free(rc);
}

static void test_invalid_npdu(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	struct { const char *rest, *why; } t[] = {
		{ "02 00 10 08", "NPDU version 2" },
		{ "01", "shorter than version and control" },
		{ "01 50 10 08", "reserved NPDU control bits" },
		{ "01 20 FF", "destination address truncated" },
		{ "01 20 00 05 06 0A", "destination address truncated" },
		{ "01 20 FF FF 00", "hop count missing" },
		{ "01 08 FF FF 00 10 08", "a source cannot be a broadcast" },
		{ "01 08 00 05 00 10 08", "a source cannot be a broadcast" },
		{ "01 20 00 00 00 FF 10 08", "destination network 0" },
		{ "01 80", "network message without a type" },
		{ "01 80 14", "reserved network message type 0x14" },
		{ "01 80 01", "not a list of network numbers" },
		{ "01 80 01 00 05 00", "not a list of network numbers" },
		{ "01 80 03 01 00", "layout wants 3" },
		{ "01 80 00 00", "layout wants 2" },
		{ "01 80 06 02 00 05 01 00", "entries truncated" },
		{ "01 80 06 01 00 05 01 00 FF", "bytes after the port entries" },
		{ "01 80 80 01", "without a vendor id" },
		{ "01 80 12 00", "layout wants 0" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		exchange(rc, REQ, BCAST, t[i].rest);
		if (count_event(rc, "bacnet.invalid_npdu") != 1)
			fail_msg("%s: %d invalid_npdu", t[i].rest,
				 count_event(rc, "bacnet.invalid_npdu"));
		if (!strstr(event_detail(rc, "bacnet.invalid_npdu"), t[i].why))
			fail_msg("%s: detail '%s'", t[i].rest,
				 event_detail(rc, "bacnet.invalid_npdu"));
		assert_int_equal(rc->ends, 1);
	}
	/* reserved bits are reported, and the message still decoded */
	exchange(rc, REQ, BCAST, "01 50 10 08");
	assert_int_equal(log_int(rc, "service"), 8);
	assert_int_equal(rc->n_ops, 1);
	rc_free(rc);
}

static void test_invalid_apdu(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	struct { uint8_t fn; const char *rest, *why; } t[] = {
		{ UNI, "01 04", "NPDU carries no APDU" },
		{ UNI, "01 04 80 00", "APDU type 8 is reserved" },
		{ UNI, "01 04 F0", "APDU type 15 is reserved" },
		{ UNI, "01 04 00 05 01", "confirmed request header truncated" },
		{ UNI, "01 04 0C 05 01 00", "confirmed request header truncated" },
		{ UNI, "01 04 00 05 01 0C 0C 02 00 04 D2",
		  "property identifier (context tag 1) missing" },
		{ UNI, "01 04 00 05 01 0C 0B 02 00 04 D2 19 4D",
		  "object identifier: object identifier of 3 octets" },
		{ UNI, "01 04 00 05 01 0C 0C 02 00 04", "object identifier: truncated" },
		{ UNI, "01 04 00 05 01 0C 0C 02 00 04 D2 19 4D 00",
		  "1 bytes past the parameters" },
		{ UNI, "01 04 00 06 01 0C 0C 02 00 04 D2 19 4D",
		  "max-APDU-length-accepted code 6 is reserved" },
		{ UNI, "01 04 00 85 01 0C 0C 02 00 04 D2 19 4D",
		  "reserved bit 7 of octet 1 set" },
		{ UNI, "01 04 01 05 01 0C 0C 02 00 04 D2 19 4D",
		  "reserved bit 0 of octet 0 set" },
		{ UNI, "01 04 04 05 01 0C 0C 02 00 04 D2 19 4D",
		  "more-follows without segmented" },
		{ UNI, "01 04 08 05 01 00 00 0C 0C 02 00 04 D2 19 4D",
		  "proposed window size 0" },
		{ UNI, "01 04 00 05 01 14 09 08", "undefined state 8" },
		{ UNI, "01 04 00 05 01 11 19 03", "undefined enable-disable 3" },
		{ UNI, "01 04 00 05 01 0F 0C 00 80 00 03 19 55 3E 44 41 AC 00 00 3F 49 11",
		  "write priority 17 outside 1..16" },
		{ UNI, "01 04 00 05 01 0E 0C 02 00 04 D2 1E 1F",
		  "empty list of property references" },
		{ UNI, "01 04 00 05 01 0E", "no read access specification" },
		{ UNI, "01 04 00 05 01 06 C4 00 80 00 01 0E 31 00 21 01 0F",
		  "a analog-value object, not a file" },
		{ BCAST, "01 00 10 08 09 05", "only one of the instance range limits" },
		{ BCAST, "01 00 10 08 0B 40 00 00 1B 40 00 00",
		  "beyond 4194303" },
		{ BCAST, "01 00 10 00 C4 00 00 00 05 22 05 C4 91 00 21 05",
		  "not a device" },
		{ BCAST, "01 00 10 06 A3 7E 04 01 B4 08 00 00 00", "date/time of 3/4 octets" },
		{ BCAST, "01 00 11 08", "reserved bits of octet 0 set" },
		{ UNI, "01 00 20 01", "SimpleACK truncated" },
		{ UNI, "01 00 20 01 0C 00", "SimpleACK with 1 bytes" },
		{ UNI, "01 00 30", "ComplexACK header truncated" },
		{ UNI, "01 00 40 01 00", "SegmentACK truncated" },
		{ UNI, "01 00 50 01", "Error PDU truncated" },
		{ UNI, "01 00 50 01 0C 91 02", "error code (application tag 9) missing" },
		{ UNI, "01 00 60 01", "Reject PDU truncated" },
		{ UNI, "01 00 70 01", "Abort PDU truncated" },
		{ UNI, "01 00 60 01 09 00", "Reject with 1 extra bytes" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		exchange(rc, REQ, t[i].fn, t[i].rest);
		if (count_event(rc, "bacnet.invalid_apdu") != 1)
			fail_msg("%s: %d invalid_apdu", t[i].rest,
				 count_event(rc, "bacnet.invalid_apdu"));
		if (!strstr(event_detail(rc, "bacnet.invalid_apdu"), t[i].why))
			fail_msg("%s: detail '%s'", t[i].rest,
				 event_detail(rc, "bacnet.invalid_apdu"));
		assert_int_equal(rc->ends, 1);
	}
	/* a request whose parameters are broken is still a request: its op
	 * goes to the policy (a ReinitializeDevice with a bad state is one) */
	exchange(rc, REQ, UNI, "01 04 00 05 01 14 09 08");
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_CONTROL);
	assert_string_equal(rc->ops[0].event->name, "bacnet.reinitialize_device");
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* The tag reader's edge cases (through WriteProperty's [3] value, which
 * it walks whole, and the parameters around it)                       */
/* ------------------------------------------------------------------ */

/* WriteProperty analog-value,3 present-value with value bytes `v` */
static void wp_value(struct rc *rc, const char *v)
{
	char rest[DG_MAX / 2];
	snprintf(rest, sizeof(rest), "01 04 | 00 05 03 0F | 0C 00 80 00 03 | "
		 "19 55 | 3E %s 3F", v);
	exchange(rc, REQ, UNI, rest);
}

static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = 0;
	return s;
}

static void expect_tag_ok(struct rc *rc, const char *v)
{
	wp_value(rc, v);
	if (n_invalid(rc) != 0)
		fail_msg("value %.60s: %s", v, rc->ev_detail[0]);
	assert_int_equal(rc->n_ops, 1);
}

static void expect_tag_bad(struct rc *rc, const char *v, const char *why)
{
	wp_value(rc, v);
	if (count_event(rc, "bacnet.invalid_apdu") != 1)
		fail_msg("value %.60s: no invalid_apdu", v);
	if (!strstr(event_detail(rc, "bacnet.invalid_apdu"), why))
		fail_msg("value %.60s: detail '%s'", v,
			 event_detail(rc, "bacnet.invalid_apdu"));
}

static void test_tag_reader(void **state)
{
	struct rc *rc = rc_new(true);
	char *s, *t;
	(void)state;

	/* primitive application values, each logged as the value */
	expect_tag_ok(rc, "00");                         /* Null */
	expect_tag_ok(rc, "11");                         /* Boolean TRUE */
	assert_int_equal(log_bool(rc, "value"), 1);
	expect_tag_ok(rc, "22 01 F4");                   /* Unsigned 500 */
	assert_int_equal(log_int(rc, "value"), 500);
	expect_tag_ok(rc, "31 F6");                      /* Signed -10 */
	assert_int_equal(log_int(rc, "value"), -10);
	expect_tag_ok(rc, "91 03");                      /* Enumerated 3 */
	assert_int_equal(log_int(rc, "value"), 3);
	expect_tag_ok(rc, "C4 00 80 00 03");             /* ObjectIdentifier */
	assert_string_equal(log_str(rc, "value"), "analog-value,3");
	/* UCS-2 "Aé" (00 41, 00 E9) becomes UTF-8 41 C3 A9 */
	expect_tag_ok(rc, "75 05 04 00 41 00 E9");
	assert_string_equal(log_str(rc, "value"), "A\xc3\xa9");
	/* extended tag number: [32] in the octet after X'F9' */
	expect_tag_ok(rc, "F9 20 01");
	/* extended length, one octet (5 = ext, 06) */
	expect_tag_ok(rc, "65 06 01 02 03 04 05 06");
	/* extended length 254: two more octets (0x0100 = 256) */
	s = repeat("AA ", 256);
	t = malloc(strlen(s) + 64);
	if (!t)
		abort();
	sprintf(t, "65 FE 01 00 %s", s);
	expect_tag_ok(rc, t);
	/* extended length 255: four more octets (0x00000100) */
	sprintf(t, "65 FF 00 00 01 00 %s", s);
	expect_tag_ok(rc, t);
	/* ... claiming one octet more than there is */
	sprintf(t, "65 FF 00 00 01 01 %s", s);
	expect_tag_bad(rc, t, "truncated");
	free(t);
	free(s);
	/* opening/closing tags nested four deep, balanced */
	expect_tag_ok(rc, "0E 1E 2E 21 01 2F 1F 0F");
	/* nested 31 deep inside [3] (32 with it): the bound */
	s = repeat("0E ", 31);
	t = repeat("0F ", 31);
	char *v = malloc(strlen(s) + strlen(t) + 1);
	assert_non_null(v);
	sprintf(v, "%s%s", s, t);
	expect_tag_ok(rc, v);
	free(v);
	free(s);
	free(t);
	/* 32 deep inside [3]: too deep */
	s = repeat("0E ", 32);
	t = repeat("0F ", 32);
	v = malloc(strlen(s) + strlen(t) + 1);
	assert_non_null(v);
	sprintf(v, "%s%s", s, t);
	expect_tag_bad(rc, v, "nested too deep");
	free(v);
	free(s);
	free(t);
	/* a closing tag that does not match its opening tag */
	expect_tag_bad(rc, "0E 1F", "closing tag does not match");
	/* reserved: extended tag number 255, application tag 13, a
	 * Boolean of 2, an application tag with the opening L/V/T */
	expect_tag_bad(rc, "F9 FF 01", "extended tag number 255 is reserved");
	expect_tag_bad(rc, "D1 00", "reserved application tag");
	expect_tag_bad(rc, "12", "application boolean other than 0 or 1");
	expect_tag_bad(rc, "46", "opening/closing L/V/T");
	/* truncation inside a value, of an extended tag number, of an
	 * extended length, and the closing tag missing */
	exchange(rc, REQ, UNI, "01 04 | 00 05 03 0F | 0C 00 80 00 03 | 19 55 | "
		 "3E 44 41 AC 00");
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_apdu"), "truncated"));
	exchange(rc, REQ, UNI, "01 04 | 00 05 03 0F | 0C 00 80 00 03 | 19 55 | "
		 "3E F9");
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_apdu"), "truncated"));
	exchange(rc, REQ, UNI, "01 04 | 00 05 03 0F | 0C 00 80 00 03 | 19 55 | "
		 "3E 65 FE 01");
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_apdu"), "truncated"));
	exchange(rc, REQ, UNI, "01 04 | 00 05 03 0F | 0C 00 80 00 03 | 19 55 | "
		 "3E 44 41 AC 00 00");
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_apdu"), "truncated"));
	/* a context Unsigned of 9 octets does not fit */
	exchange(rc, REQ, UNI, "01 04 | 00 05 03 0C | 0C 00 80 00 03 | "
		 "1D 09 01 02 03 04 05 06 07 08 09");
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_apdu"),
			       "9-octet unsigned"));
	/* a service without its own decoder is walked: well-formed passes,
	 * a stray closing tag does not (ConfirmedTextMessage, 19) */
	exchange(rc, REQ, UNI, "01 04 | 00 05 03 13 | 0C 02 00 04 D2 | "
		 "1E 09 01 1F | 29 00 | 3D 03 00 'hi'");
	clean(rc);
	exchange(rc, REQ, UNI, "01 04 | 00 05 03 13 | 0C 02 00 04 D2 | 1F");
	assert_non_null(strstr(event_detail(rc, "bacnet.invalid_apdu"),
			       "closing tag without an opening tag"));
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Segmented messages                                                  */
/* ------------------------------------------------------------------ */

/* WPM of wpm_req cut in two: 0E = segmented, more follows, SA; invoke
 * 0x20, sequence 0, window 2, service 16 */
#define WPM_SEG0 "01 04 | 0E 05 20 00 02 10 | 0C 00 80 00 03 1E 09 55 2E 44"
#define WPM_SEG1 "01 04 | 0A 05 20 01 02 10 | 41 AC 00 00 2F 39 08 09 51 2E 11 2F 1F"

static void test_segmented_request(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	exchange(rc, REQ, UNI, WPM_SEG0);
	clean(rc);
	assert_int_equal(rc->n_ops, 0); /* the parameters are not all here */
	assert_int_equal(log_int(rc, "invoke_id"), 0x20);
	assert_int_equal(log_bool(rc, "segmented"), 1);
	assert_int_equal(log_bool(rc, "more_follows"), 1);
	assert_int_equal(log_int(rc, "sequence_number"), 0);
	assert_int_equal(log_int(rc, "window_size"), 2);
	assert_int_equal(log_int(rc, "service"), 16);
	assert_string_equal(log_str(rc, "reassembly"), "stored");
	/* the server acknowledges the segment (SRV set) */
	exchange(rc, RSP, UNI, "01 00 | 41 20 00 02");
	assert_int_equal(log_bool(rc, "server"), 1);
	assert_int_equal(log_bool(rc, "reassembling"), 1);
	exchange(rc, REQ, UNI, WPM_SEG1);
	clean(rc);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_WRITE);
	assert_string_equal(rc->ops[0].target, "analog-value,3 present-value +1 more");
	assert_string_equal(rc->ops[0].event->name, "bacnet.write_property");
	assert_string_equal(log_str(rc, "reassembly"), "complete");
	assert_int_equal(log_int(rc, "reassembled_len"), 23);
	assert_int_equal(log_int(rc, "item_count"), 2);
	/* and the SimpleACK pairs with it */
	exchange(rc, RSP, UNI, "01 00 | 20 20 10");
	assert_int_equal(log_bool(rc, "paired"), 1);
	rc_free(rc);
}

#define RPM_REQ "01 04 | 02 05 21 0E | 0C 02 00 04 D2 1E 09 46 09 2C 09 0C " \
	"09 79 09 78 09 1C 1F"
/* rpm_ack's parameters in three ComplexACK segments (3C: segmented, more
 * follows; 38: the last), cut inside character strings */
#define RPM_SEG0 "01 00 | 3C 21 00 03 0E | 0C 02 00 04 D2 1E 29 46 4E 75 06 00 'AH'"
#define RPM_SEG1 "01 00 | 3C 21 01 03 0E | 'U-9' 4F 29 2C 4E 74 00 '1.2' 4F 29 0C 4E 74"
#define RPM_SEG2 "01 00 | 38 21 02 03 0E | 00 'v42' 4F 29 79 4E 75 06 00 'Azbil' " \
	"4F 29 78 4E 21 55 4F 29 1C 5E 91 02 91 20 5F 1F"

static void test_segmented_ack(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	exchange(rc, REQ, UNI, RPM_REQ);
	exchange(rc, RSP, UNI, RPM_SEG0);
	clean(rc);
	assert_int_equal(log_bool(rc, "paired"), 1);
	assert_int_equal(log_int(rc, "apdu_type"), 3);
	assert_int_equal(rc->n_facts, 0);
	exchange(rc, REQ, UNI, "01 00 | 40 21 00 03");
	exchange(rc, RSP, UNI, RPM_SEG1);
	clean(rc);
	assert_int_equal(rc->n_facts, 0);
	/* a retransmitted segment is skipped */
	exchange(rc, RSP, UNI, RPM_SEG1);
	assert_string_equal(log_str(rc, "reassembly"), "duplicate");
	exchange(rc, RSP, UNI, RPM_SEG2);
	clean(rc);
	assert_string_equal(log_str(rc, "reassembly"), "complete");
	assert_string_equal(find_fact(rc, "model_name")->val, "AHU-9");
	assert_string_equal(find_fact(rc, "firmware_revision")->val, "1.2");
	assert_string_equal(find_fact(rc, "application_software_version")->val, "v42");
	assert_string_equal(find_fact(rc, "vendor_name")->val, "Azbil");
	assert_int_equal(log_int(rc, "item_count"), 6);
	/* the transaction is over: another ACK is not paired */
	exchange(rc, RSP, UNI, "01 00 | 30 21 0E | 0C 02 00 04 D2 1E 29 46 4E "
		 "75 06 00 'AHU-9' 4F 1F");
	assert_int_equal(log_bool(rc, "paired"), 0);
	rc_free(rc);
}

static void test_segment_problems(void **state)
{
	struct rc *rc = rc_new(true);
	char rest[8192];
	(void)state;

	/* a gap: the request is judged without its parameters */
	exchange(rc, REQ, UNI, WPM_SEG0);
	exchange(rc, REQ, UNI, "01 04 | 0A 05 20 02 02 10 | 41 AC 00 00 2F 1F");
	assert_string_equal(log_str(rc, "reassembly"), "gap");
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_WRITE);
	assert_string_equal(rc->ops[0].target, "segmented request not reassembled");
	assert_string_equal(rc->ops[0].event->name, "bacnet.write_property");
	/* a continuation whose first segment was never seen */
	exchange(rc, REQ, UNI, WPM_SEG1);
	assert_string_equal(log_str(rc, "reassembly"), "no_first_segment");
	assert_int_equal(rc->n_ops, 0);
	clean(rc);

	/* too long: segments of 1400 octets pass the 16384-byte bound at the
	 * twelfth (11 x 1400 = 15400 + 1400) */
	char *data = repeat("AA ", 1400);
	for (unsigned seq = 0; seq < 12; seq++) {
		snprintf(rest, sizeof(rest), "01 04 | 0E 05 22 %02X 04 07 | %s",
			 seq, data);
		exchange(rc, REQ, UNI, rest);
		if (seq < 11) {
			assert_int_equal(rc->n_ops, 0);
			assert_string_equal(log_str(rc, "reassembly"), "stored");
		}
	}
	free(data);
	assert_string_equal(log_str(rc, "reassembly"), "too_long");
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_PROGRAM);
	assert_string_equal(rc->ops[0].event->name, "bacnet.file_write");

	/* two messages in progress at most: a third evicts the oldest, whose
	 * op (a request) then goes out */
	exchange(rc, REQ, UNI, "01 04 | 0E 05 40 00 02 14 | 09");
	exchange(rc, RSP, UNI, "01 04 | 0E 05 41 00 02 11 | 19");
	exchange(rc, REQ, UNI, "01 04 | 0E 05 42 00 02 0F | 0C");
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_CONTROL);
	assert_int_equal(rc->ops[0].function, 20);
	assert_int_equal(rc->op_dir[0], REQ);
	assert_string_equal(rc->ops[0].target, "segmented request evicted");
	assert_string_equal(rc->ops[0].event->name, "bacnet.reinitialize_device");

	/* the flow ends with both still in progress: their ops go out, each
	 * in the direction it travelled; a DCC of unknown state is a control
	 * op without the disabled event */
	rc_clear(rc);
	D->flow_end(&rc->ctx, rc->st);
	assert_int_equal(rc->n_ops, 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(rc->ops[i].target,
				    "segmented request incomplete at flow end");
		if (rc->ops[i].function == 17) {
			assert_int_equal(rc->op_dir[i], RSP);
			assert_int_equal(rc->ops[i].cls, MM_OP_CONTROL);
			assert_null(rc->ops[i].event);
		} else {
			assert_int_equal(rc->ops[i].function, 15);
			assert_int_equal(rc->op_dir[i], REQ);
		}
	}
	rc_free(rc);
}

static void test_null_state(void **state)
{
	struct rc *rc = rc_new(true);
	uint8_t b[256];
	size_t n;
	(void)state;

	/* without per-flow state: no pairing, no reassembly, no rates, but
	 * every message decoded and a segmented request still judged */
	n = dg(UNI, WPM_SEG0, b);
	rc_clear(rc);
	parse_raw(rc, REQ, NULL, b, n);
	assert_string_equal(log_str(rc, "reassembly"), "off");
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_WRITE);
	for (size_t i = 0; i < N_FIXTURES; i++) {
		n = dg(fixtures[i].fn, fixtures[i].rest, b);
		rc_clear(rc);
		parse_raw(rc, fixtures[i].dir, NULL, b, n);
		assert_int_equal(rc->ends, 1);
		assert_false(log_has(rc, "paired"));
	}
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* who_is_flood                                                        */
/* ------------------------------------------------------------------ */

static void at(struct rc *rc, double t)
{
	rc->now.tv_sec = 1775030400 + (time_t)t;
	rc->now.tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6 + 0.5);
}

static void test_who_is_flood(void **state)
{
	struct rc *rc = rc_new(false);
	(void)state;

	rc_clear(rc);
	/* 20 in 7.6 s: the threshold is "more than 20 in 10 s" */
	for (int i = 0; i < 20; i++) {
		at(rc, i * 0.4);
		dg_send(rc, REQ, BCAST, "01 00 | 10 08");
	}
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 0);
	/* the 21st at 8.0 s: raised, once */
	at(rc, 8.0);
	dg_send(rc, REQ, BCAST, "01 00 | 10 08");
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 1);
	assert_non_null(strstr(event_detail(rc, "bacnet.who_is_flood"),
			       "21 Who-Is/Who-Has within 8.0 s"));
	for (int i = 0; i < 50; i++) {
		at(rc, 8.0 + i * 0.01);
		dg_send(rc, REQ, BCAST, "01 00 | 10 07 | 2C 00 00 00 07");
	}
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 1);
	/* a new window (10 s after the first): raised again when it
	 * exceeds again, Who-Has counting too */
	for (int i = 0; i < 21; i++) {
		at(rc, 10.0 + i * 0.1);
		dg_send(rc, REQ, BCAST, "01 00 | 10 07 | 2C 00 00 00 07");
	}
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 2);
	rc_free(rc);

	/* a workstation that asks every 0.6 s: 17 per window, never */
	rc = rc_new(false);
	rc_clear(rc);
	for (int i = 0; i < 200; i++) {
		at(rc, i * 0.6);
		dg_send(rc, REQ, BCAST, "01 00 | 10 08");
	}
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 0);
	/* I-Am answers do not count */
	for (int i = 0; i < 100; i++) {
		at(rc, 200 + i * 0.01);
		dg_send(rc, REQ, BCAST, "01 00 | 10 00 | C4 02 00 04 D2 | "
		     "22 05 C4 | 91 00 | 21 05");
	}
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 0);
	rc_free(rc);

	/* through a BBMD: the original sources are counted apart */
	rc = rc_new(false);
	rc_clear(rc);
	for (int i = 0; i < 15; i++) {
		at(rc, 300 + i * 0.1);
		dg_send(rc, REQ, 0x04, "0A 03 00 0A BA C0 | 01 00 | 10 08");
		dg_send(rc, REQ, 0x04, "0A 03 00 0B BA C0 | 01 00 | 10 08");
	}
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 0);
	for (int i = 0; i < 6; i++)
		dg_send(rc, REQ, 0x04, "0A 03 00 0B BA C0 | 01 00 | 10 08");
	assert_int_equal(count_event(rc, "bacnet.who_is_flood"), 1);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* Every fixture cut short at every offset; the log off                 */
/* ------------------------------------------------------------------ */

/*
 * Every fixture cut short at every offset, parsed in both directions
 * with the log on and off and with and without flow state: no crash and
 * no read past the end (ASan), one log record each.  Cut as a datagram
 * that lost its tail, the BVLC length no longer agrees: a
 * bvlc_length_mismatch (or invalid_bvlc under 4 bytes).  With the BVLC
 * length rewritten to the cut, the parse goes as deep as the bytes do.
 */
static void test_truncated_everywhere(void **state)
{
	struct rc *on = rc_new(true), *off = rc_new(false);
	static uint8_t b[DG_MAX];
	(void)state;

	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t n = dg(fixtures[i].fn, fixtures[i].rest, b);
		for (size_t cut = 0; cut < n; cut++) {
			for (int d = 0; d < 2; d++) {
				enum mm_dir dir = d ? RSP : REQ;
				rc_clear(on);
				parse_raw(on, dir, on->st, b, cut);
				assert_int_equal(on->ends, 1);
				if (cut < 4 && count_event(on, "bacnet.invalid_bvlc") != 1)
					fail_msg("%s cut at %zu: no invalid_bvlc",
						 fixtures[i].name, cut);
				if (cut >= 4 &&
				    count_event(on, "bacnet.bvlc_length_mismatch") != 1)
					fail_msg("%s cut at %zu: no length mismatch",
						 fixtures[i].name, cut);
				/* the same with the log off: the same reports */
				rc_clear(off);
				parse_raw(off, dir, off->st, b, cut);
				assert_int_equal(off->n_ops, on->n_ops);
				assert_int_equal(off->n_events, on->n_events);
				parse_raw(off, dir, NULL, b, cut);
				if (cut < 4)
					continue;
				/* consistent header, message cut */
				uint8_t l2 = b[2], l3 = b[3];
				b[2] = (uint8_t)(cut >> 8);
				b[3] = (uint8_t)cut;
				rc_clear(on);
				parse_raw(on, dir, on->st, b, cut);
				assert_int_equal(on->ends, 1);
				assert_int_equal(count_event(on, "bacnet.bvlc_length_mismatch"), 0);
				rc_clear(off);
				parse_raw(off, dir, off->st, b, cut);
				assert_int_equal(off->n_ops, on->n_ops);
				assert_int_equal(off->n_events, on->n_events);
				parse_raw(off, dir, NULL, b, cut);
				b[2] = l2;
				b[3] = l3;
			}
		}
	}
	rc_free(on);
	rc_free(off);
}

/* the log off changes nothing but the log */
static void test_log_off(void **state)
{
	struct rc *on = rc_new(true), *off = rc_new(false);
	(void)state;

	for (size_t i = 0; i < N_FIXTURES; i++) {
		fx(on, fixtures[i].name);
		fx(off, fixtures[i].name);
		assert_int_equal(off->begins, 0);
		assert_int_equal(on->n_ops, off->n_ops);
		assert_int_equal(on->n_events, off->n_events);
		assert_int_equal(on->n_facts, off->n_facts);
		for (int k = 0; k < on->n_ops && k < MAX_OPS; k++) {
			assert_int_equal(on->ops[k].cls, off->ops[k].cls);
			assert_string_equal(on->ops[k].target, off->ops[k].target);
		}
	}
	rc_free(on);
	rc_free(off);
}

/* every fixture is clean BACnet: nothing invalid in any of them */
static void test_fixtures_clean(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	for (size_t i = 0; i < N_FIXTURES; i++) {
		fx(rc, fixtures[i].name);
		if (n_invalid(rc))
			fail_msg("%s: %s", fixtures[i].name, rc->ev_detail[0]);
		assert_int_equal(rc->ends, 1);
		/* one JSON object, no key twice (last_json rejects that) */
		json_decref(last_json(rc));
	}
	rc_free(rc);
}

/*
 * Fuzz regressions: inputs that once crashed or misbehaved.  Their harm
 * shows under the sanitizers (clang's UBSan for the first): here they
 * must parse to the values the bytes say.
 */
static void test_fuzz_regressions(void **state)
{
	struct rc *rc = rc_new(true);
	(void)state;

	/* fuzz_bacnet, first seconds (UBSan, clang): every tag read began
	 * with an empty value made as rd_make(NULL, 0), NULL + 0 being
	 * undefined; an opening tag is the shortest path to it.  A
	 * Who-Has [0] 1 [1] 2 then [2] as an opening tag: not an object id */
	exchange(rc, REQ, BCAST, "01 00 | 10 07 | 09 01 19 02 2E 2F");
	assert_int_equal(count_event(rc, "bacnet.invalid_apdu"), 1);
	assert_int_equal(log_int(rc, "device_instance_low"), 1);
	assert_int_equal(log_int(rc, "device_instance_high"), 2);
	/* the same run, the second report (after the fix of the first): a
	 * segmented message whose segments carry no parameters left the
	 * reassembly buffer NULL; a one-segment ReadProperty with nothing
	 * after its service choice (SEG without MOR, sequence 0, window 1) */
	exchange(rc, REQ, UNI, "01 04 | 08 05 01 00 01 0C");
	assert_string_equal(log_str(rc, "reassembly"), "complete");
	assert_int_equal(log_int(rc, "reassembled_len"), 0);
	assert_int_equal(count_event(rc, "bacnet.invalid_apdu"), 1);
	assert_int_equal(rc->n_ops, 1);
	assert_int_equal(rc->ops[0].cls, MM_OP_READ);
	/* it was reported while the seed corpus loaded: any message with a
	 * tag has the path; an I-Am (application tags only) is one */
	exchange(rc, REQ, BCAST, "01 20 FF FF 00 FF | 10 00 | C4 02 00 00 01 | "
		 "22 05 C4 | 91 03 | 21 0F");
	clean(rc);
	assert_int_equal(log_int(rc, "device_instance"), 1);
	assert_int_equal(log_int(rc, "vendor_id"), 15);
	rc_free(rc);
}

/* ------------------------------------------------------------------ */
/* The event table                                                     */
/* ------------------------------------------------------------------ */

static void test_event_table(void **state)
{
	(void)state;
	assert_int_equal(D->n_events, 17);
	for (size_t i = 0; i < D->n_events; i++) {
		const struct mm_event_def *e = &D->events[i];
		assert_non_null(e->name);
		assert_true(strncmp(e->name, "bacnet.", 7) == 0);
		assert_true(e->severity >= 1 && e->severity <= 4);
		assert_non_null(e->category);
		assert_true(e->cause && strlen(e->cause) > 20);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(e->name, D->events[k].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_probe_accepts),
		cmocka_unit_test(test_probe_rejects),
		cmocka_unit_test(test_fixtures_clean),
		cmocka_unit_test(test_read_property),
		cmocka_unit_test(test_read_property_multiple),
		cmocka_unit_test(test_write_property),
		cmocka_unit_test(test_subscribe_cov),
		cmocka_unit_test(test_reinitialize_device),
		cmocka_unit_test(test_device_communication_control),
		cmocka_unit_test(test_atomic_files),
		cmocka_unit_test(test_create_delete_object),
		cmocka_unit_test(test_read_range),
		cmocka_unit_test(test_who_is_i_am),
		cmocka_unit_test(test_who_has_i_have),
		cmocka_unit_test(test_time_synchronization),
		cmocka_unit_test(test_write_group),
		cmocka_unit_test(test_cov_notification_is_a_report),
		cmocka_unit_test(test_private_transfer),
		cmocka_unit_test(test_every_service_named),
		cmocka_unit_test(test_error_reject_abort),
		cmocka_unit_test(test_pairing),
		cmocka_unit_test(test_routed),
		cmocka_unit_test(test_network_messages),
		cmocka_unit_test(test_bvlc_functions),
		cmocka_unit_test(test_forwarded_origin),
		cmocka_unit_test(test_invalid_bvlc),
		cmocka_unit_test(test_bvlc_length_mismatch),
		cmocka_unit_test(test_invalid_npdu),
		cmocka_unit_test(test_invalid_apdu),
		cmocka_unit_test(test_tag_reader),
		cmocka_unit_test(test_segmented_request),
		cmocka_unit_test(test_segmented_ack),
		cmocka_unit_test(test_segment_problems),
		cmocka_unit_test(test_null_state),
		cmocka_unit_test(test_who_is_flood),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_log_off),
		cmocka_unit_test(test_fuzz_regressions),
		cmocka_unit_test(test_event_table),
		cmocka_unit_test(test_every_event_raised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
