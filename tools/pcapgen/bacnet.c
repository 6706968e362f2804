/*
 * bacnet.c - BACnet/IP: packet builders (the bench scenario uses
 * bacnet_msg), and the BACnet scenarios:
 *
 *   bacnet-zones   for tests/integration/test_bacnet_zones.sh, on the
 *                  etc/zones.yaml plant: SCADA-01 (seisan_kanri) polls
 *                  BAC-HVAC-01 10.30.0.10 with ReadProperty(Multiple); the
 *                  building workstation 10.30.0.50 (setsubi) reinitializes
 *                  it and disables its communication; an unknown host
 *                  172.16.9.9 does the same; the BBMD 10.30.0.2 relays a
 *                  Who-Is from 10.1.0.5 (joho) as a Forwarded-NPDU
 *   bacnet-sample  the sample capture pcaps/bacnet/bacnet-sample.pcap:
 *                  discovery, device identity, a set-point write, a time
 *                  synchronization, DCC disable/enable, a warm restart, a
 *                  relayed broadcast (see pcaps/bacnet/README.md)
 *
 * Encoding: ASHRAE 135 Annex J (BVLC), clause 6 (NPDU), clause 20 (APDU
 * and tags); every message here decodes cleanly in tshark.
 */
#include <string.h>

#include "bacnet.h"
#include "gen.h"

#define BIP_PORT 47808

/* BACnet/IP (ASHRAE 135 Annex J): BVLC original-unicast-NPDU, NPDU,
 * confirmed ReadProperty(present-value) and its ComplexACK */
size_t bacnet_msg(uint8_t *b, bool ack, uint8_t invoke, uint32_t oid,
		  uint32_t value_bits)
{
	size_t k = 4;
	b[0] = 0x81; /* BVLC type: BACnet/IP */
	b[1] = 0x0A; /* original-unicast-NPDU */
	b[k++] = 0x01; /* NPDU version */
	b[k++] = ack ? 0x00 : 0x04; /* control: expecting reply */
	if (!ack) {
		b[k++] = 0x00; /* confirmed request, unsegmented */
		b[k++] = 0x05; /* max segments 0, max APDU 1476 */
	} else {
		b[k++] = 0x30; /* complex ACK */
	}
	b[k++] = invoke;
	b[k++] = 0x0C; /* service: readProperty */
	b[k++] = 0x0C; /* context tag 0, length 4: object identifier */
	put32(b + k, oid);
	k += 4;
	b[k++] = 0x19; /* context tag 1, length 1: property identifier */
	b[k++] = 85;   /* present-value */
	if (ack) {
		b[k++] = 0x3E; /* opening tag 3: property value */
		b[k++] = 0x44; /* application tag REAL, length 4 */
		put32(b + k, value_bits);
		k += 4;
		b[k++] = 0x3F; /* closing tag 3 */
	}
	put16(b + 2, (uint16_t)k);
	return k;
}

/* ------------------------------------------------------------------ */
/* A BACnet message under construction                                 */
/* ------------------------------------------------------------------ */

struct bm {
	uint8_t b[1500];
	size_t n;
};

static void bm_u8(struct bm *m, unsigned v)
{
	if (m->n >= sizeof(m->b))
		die("bacnet message too long");
	m->b[m->n++] = (uint8_t)v;
}

static void bm_bytes(struct bm *m, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bm_u8(m, ((const uint8_t *)p)[i]);
}

/* the shortest big-endian form of v (20.2.4): 1..4 octets */
static size_t uint_len(uint32_t v)
{
	return v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x1000000 ? 3 : 4;
}

/* a tag octet (20.2.1): number < 15, class, length < 5 or extended */
static void bm_tag(struct bm *m, unsigned num, bool ctx, size_t len)
{
	uint8_t cls = ctx ? 0x08 : 0x00;
	if (len < 5) {
		bm_u8(m, (num << 4) | cls | (unsigned)len);
	} else {
		bm_u8(m, (num << 4) | cls | 5);
		bm_u8(m, (unsigned)len); /* all ours are below 254 */
	}
}

static void bm_uint(struct bm *m, unsigned num, bool ctx, uint32_t v)
{
	size_t l = uint_len(v);
	bm_tag(m, num, ctx, l);
	for (size_t i = l; i > 0; i--)
		bm_u8(m, (v >> (8 * (i - 1))) & 0xFF);
}

#define APP_UNSIGNED 2
#define APP_REAL 4
#define APP_CHARSTRING 7
#define APP_ENUMERATED 9
#define APP_DATE 10
#define APP_TIME 11
#define APP_OBJECT_ID 12

static void bm_objid(struct bm *m, unsigned num, bool ctx, unsigned type,
		     uint32_t inst)
{
	uint8_t v[4];
	put32(v, (uint32_t)(type << 22) | (inst & 0x3FFFFF));
	bm_tag(m, ctx ? num : APP_OBJECT_ID, ctx, 4);
	bm_bytes(m, v, 4);
}

/* CharacterString, ANSI X3.4/UTF-8 (character set 0) */
static void bm_string(struct bm *m, unsigned num, bool ctx, const char *s)
{
	bm_tag(m, ctx ? num : APP_CHARSTRING, ctx, 1 + strlen(s));
	bm_u8(m, 0);
	bm_bytes(m, s, strlen(s));
}

static void bm_real(struct bm *m, float f)
{
	uint32_t bits;
	uint8_t v[4];
	memcpy(&bits, &f, 4);
	put32(v, bits);
	bm_tag(m, APP_REAL, false, 4);
	bm_bytes(m, v, 4);
}

static void bm_open(struct bm *m, unsigned num)
{
	bm_u8(m, (num << 4) | 0x0E);
}

static void bm_close(struct bm *m, unsigned num)
{
	bm_u8(m, (num << 4) | 0x0F);
}

/* NPDU (6.2): version 1, control; a global broadcast names DNET X'FFFF' */
static void bm_npdu(struct bm *m, bool expect_reply)
{
	bm_u8(m, 0x01);
	bm_u8(m, expect_reply ? 0x04 : 0x00);
}

/* APDU headers (20.1) */
static void bm_confirmed(struct bm *m, uint8_t invoke, uint8_t service)
{
	bm_npdu(m, true);
	bm_u8(m, 0x02); /* confirmed request, segmented response accepted */
	bm_u8(m, 0x05); /* max segments unspecified, max APDU 1476 */
	bm_u8(m, invoke);
	bm_u8(m, service);
}

static void bm_complex_ack(struct bm *m, uint8_t invoke, uint8_t service)
{
	bm_npdu(m, false);
	bm_u8(m, 0x30);
	bm_u8(m, invoke);
	bm_u8(m, service);
}

static void bm_simple_ack(struct bm *m, uint8_t invoke, uint8_t service)
{
	bm_npdu(m, false);
	bm_u8(m, 0x20);
	bm_u8(m, invoke);
	bm_u8(m, service);
}

static void bm_unconfirmed(struct bm *m, uint8_t service)
{
	bm_npdu(m, false);
	bm_u8(m, 0x10);
	bm_u8(m, service);
}

/* services (clause 21 choices) */
#define S_READ_PROPERTY 12
#define S_READ_PROPERTY_MULTIPLE 14
#define S_WRITE_PROPERTY 15
#define S_DCC 17
#define S_REINITIALIZE 20
#define U_I_AM 0
#define U_TIME_SYNC 6
#define U_WHO_IS 8

#define OBJ_ANALOG_INPUT 0
#define OBJ_ANALOG_VALUE 2
#define OBJ_DEVICE 8
#define PROP_APP_SW_VERSION 12
#define PROP_FIRMWARE_REVISION 44
#define PROP_MODEL_NAME 70
#define PROP_OBJECT_NAME 77
#define PROP_PRESENT_VALUE 85
#define PROP_VENDOR_NAME 121

/* ------------------------------------------------------------------ */
/* Sending: BVLC around the NPDU                                       */
/* ------------------------------------------------------------------ */

/* BVLC (J.2): 81, function, length of the whole message */
static void bip_send(uint32_t src, uint32_t dst, uint8_t fn,
		     const struct bm *m, uint64_t ts)
{
	uint8_t b[1600];
	b[0] = 0x81;
	b[1] = fn;
	put16(b + 2, (uint16_t)(4 + m->n));
	memcpy(b + 4, m->b, m->n);
	g_out.cur_cls = CLS_BACNET;
	udp_send(src, BIP_PORT, dst, BIP_PORT, b, 4 + m->n, ts);
}

#define BVLC_FORWARDED 0x04
#define BVLC_UNICAST 0x0A
#define BVLC_BROADCAST 0x0B

/* Forwarded-NPDU (J.2.5): the BBMD relays `orig`'s broadcast */
static void bip_forward(uint32_t bbmd, uint32_t dst, uint32_t orig,
			const struct bm *m, uint64_t ts)
{
	struct bm f = { .n = 0 };
	uint8_t a[6];
	put32(a, orig);
	put16(a + 4, BIP_PORT);
	bm_bytes(&f, a, 6);
	bm_bytes(&f, m->b, m->n);
	bip_send(bbmd, dst, BVLC_FORWARDED, &f, ts);
}

/* ------------------------------------------------------------------ */
/* Exchanges                                                           */
/* ------------------------------------------------------------------ */

struct device {
	uint32_t ip;
	uint32_t instance;
	uint16_t vendor;
	const char *name, *model, *firmware, *software, *vendor_name;
};

/* the device answers after a few milliseconds */
static uint64_t answer_time(struct rng *r, uint64_t t)
{
	return t + rng_range(r, 2000, 15000);
}

/* ReadProperty present-value of an analog input, and its answer */
static void read_pv(struct rng *r, uint32_t cli, const struct device *d,
		    uint8_t invoke, uint32_t ai, float value, uint64_t t)
{
	struct bm q = { .n = 0 }, a = { .n = 0 };

	bm_confirmed(&q, invoke, S_READ_PROPERTY);
	bm_objid(&q, 0, true, OBJ_ANALOG_INPUT, ai);
	bm_uint(&q, 1, true, PROP_PRESENT_VALUE);
	bip_send(cli, d->ip, BVLC_UNICAST, &q, t);
	bm_complex_ack(&a, invoke, S_READ_PROPERTY);
	bm_objid(&a, 0, true, OBJ_ANALOG_INPUT, ai);
	bm_uint(&a, 1, true, PROP_PRESENT_VALUE);
	bm_open(&a, 3);
	bm_real(&a, value);
	bm_close(&a, 3);
	bip_send(d->ip, cli, BVLC_UNICAST, &a, answer_time(r, t));
}

/* ReadPropertyMultiple of the device object's identity, and its answer */
static void read_identity(struct rng *r, uint32_t cli, const struct device *d,
			  uint8_t invoke, uint64_t t)
{
	static const unsigned props[5] = {
		PROP_OBJECT_NAME, PROP_MODEL_NAME, PROP_FIRMWARE_REVISION,
		PROP_APP_SW_VERSION, PROP_VENDOR_NAME,
	};
	const char *vals[5] = { d->name, d->model, d->firmware, d->software,
				d->vendor_name };
	struct bm q = { .n = 0 }, a = { .n = 0 };

	bm_confirmed(&q, invoke, S_READ_PROPERTY_MULTIPLE);
	bm_objid(&q, 0, true, OBJ_DEVICE, d->instance);
	bm_open(&q, 1);
	for (int i = 0; i < 5; i++)
		bm_uint(&q, 0, true, props[i]);
	bm_close(&q, 1);
	bip_send(cli, d->ip, BVLC_UNICAST, &q, t);

	bm_complex_ack(&a, invoke, S_READ_PROPERTY_MULTIPLE);
	bm_objid(&a, 0, true, OBJ_DEVICE, d->instance);
	bm_open(&a, 1);
	for (int i = 0; i < 5; i++) {
		bm_uint(&a, 2, true, props[i]);
		bm_open(&a, 4);
		bm_string(&a, 0, false, vals[i]);
		bm_close(&a, 4);
	}
	bm_close(&a, 1);
	bip_send(d->ip, cli, BVLC_UNICAST, &a, answer_time(r, t));
}

/* ReinitializeDevice (16.4) with a password, and its SimpleACK */
static void reinitialize(struct rng *r, uint32_t cli, const struct device *d,
			 uint8_t invoke, unsigned state, const char *password,
			 uint64_t t)
{
	struct bm q = { .n = 0 }, a = { .n = 0 };

	bm_confirmed(&q, invoke, S_REINITIALIZE);
	bm_uint(&q, 0, true, state); /* 0 coldstart, 1 warmstart */
	if (password)
		bm_string(&q, 1, true, password);
	bip_send(cli, d->ip, BVLC_UNICAST, &q, t);
	bm_simple_ack(&a, invoke, S_REINITIALIZE);
	bip_send(d->ip, cli, BVLC_UNICAST, &a, answer_time(r, t));
}

/* DeviceCommunicationControl (16.1): minutes (0: none), enable-disable */
static void dcc(struct rng *r, uint32_t cli, const struct device *d,
		uint8_t invoke, unsigned minutes, unsigned state,
		const char *password, uint64_t t)
{
	struct bm q = { .n = 0 }, a = { .n = 0 };

	bm_confirmed(&q, invoke, S_DCC);
	if (minutes)
		bm_uint(&q, 0, true, minutes);
	bm_uint(&q, 1, true, state); /* 0 enable, 1 disable */
	if (password)
		bm_string(&q, 2, true, password);
	bip_send(cli, d->ip, BVLC_UNICAST, &q, t);
	bm_simple_ack(&a, invoke, S_DCC);
	bip_send(d->ip, cli, BVLC_UNICAST, &a, answer_time(r, t));
}

/* Who-Is (16.10), all devices, as an Original-Broadcast-NPDU */
static void who_is(struct bm *m)
{
	m->n = 0;
	bm_unconfirmed(m, U_WHO_IS);
}

/* I-Am (16.10): device, max APDU 1476, no segmentation, vendor */
static void i_am(struct bm *m, const struct device *d)
{
	m->n = 0;
	bm_unconfirmed(m, U_I_AM);
	bm_objid(m, 0, false, OBJ_DEVICE, d->instance);
	bm_uint(m, APP_UNSIGNED, false, 1476);
	bm_uint(m, APP_ENUMERATED, false, 3);
	bm_uint(m, APP_UNSIGNED, false, d->vendor);
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                           */
/* ------------------------------------------------------------------ */

static const struct device hvac = {
	PG_IP(10, 30, 0, 10), 3001, 85, "BAC-HVAC-01", "AHU-CTRL-300",
	"4.2.1", "hvac-app 2.7", "azbil",
};
static const struct device meter = {
	PG_IP(10, 30, 0, 20), 3002, 82, "PM-01", "EMU-M1", "1.08",
	"meter 1.0", "Mitsubishi Electric",
};

#define WORKSTATION PG_IP(10, 30, 0, 50)  /* building monitoring PC */
#define BBMD PG_IP(10, 30, 0, 2)
#define SUBNET_BCAST PG_IP(10, 30, 0, 255)
#define SCADA PG_IP(10, 3, 0, 10)
#define INTRUDER PG_IP(172, 16, 9, 9)     /* in no zone */
#define OFFICE_PC PG_IP(10, 1, 0, 5)      /* joho */

static void gen_zones(uint64_t seed)
{
	struct rng r;
	uint64_t t0 = PG_MS(100), t;
	struct bm m;
	uint8_t invoke = 1;

	rng_seed(&r, seed ^ 0xBAC0);
	g_out.flows += 4;
	/* SCADA-01 polls: the device's identity, then two inputs every
	 * 5 s for a minute (read: its conduit allows it) */
	read_identity(&r, SCADA, &hvac, invoke++, t0);
	for (int i = 0; i < 12; i++) {
		t = t0 + PG_SEC(1) + PG_SEC(5 * i);
		read_pv(&r, SCADA, &hvac, invoke++, 1,
			16.0f + (float)rng_below(&r, 100) / 50.0f, t);
		read_pv(&r, SCADA, &hvac, invoke++, 2,
			45.0f + (float)rng_below(&r, 100) / 20.0f, t + PG_MS(40));
	}
	/* the building workstation: warm restart, then silence the device
	 * for 30 minutes (more than 60 s apart: two store rows) */
	reinitialize(&r, WORKSTATION, &hvac, 1, 1, "bms-op", t0 + PG_SEC(70));
	dcc(&r, WORKSTATION, &hvac, 2, 30, 1, "bms-op", t0 + PG_SEC(140));
	/* an unknown host does the same */
	reinitialize(&r, INTRUDER, &hvac, 1, 0, NULL, t0 + PG_SEC(210));
	dcc(&r, INTRUDER, &hvac, 2, 0, 1, NULL, t0 + PG_SEC(280));
	/* the BBMD relays an office PC's Who-Is onto the building subnet */
	who_is(&m);
	bip_forward(BBMD, SUBNET_BCAST, OFFICE_PC, &m, t0 + PG_SEC(350));
	out_flush(UINT64_MAX);
}

static void gen_sample(uint64_t seed)
{
	struct rng r;
	uint64_t t = PG_MS(100);
	struct bm m;
	uint8_t invoke = 1;

	rng_seed(&r, seed ^ 0xBAC1);
	g_out.flows += 6;
	/* discovery: the workstation asks, both devices announce themselves */
	who_is(&m);
	bip_send(WORKSTATION, SUBNET_BCAST, BVLC_BROADCAST, &m, t);
	i_am(&m, &hvac);
	bip_send(hvac.ip, SUBNET_BCAST, BVLC_BROADCAST, &m, t + PG_MS(12));
	i_am(&m, &meter);
	bip_send(meter.ip, SUBNET_BCAST, BVLC_BROADCAST, &m, t + PG_MS(19));
	/* identity of both devices, then a few readings */
	read_identity(&r, WORKSTATION, &hvac, invoke++, t + PG_SEC(1));
	read_identity(&r, WORKSTATION, &meter, invoke++, t + PG_SEC(2));
	for (int i = 0; i < 3; i++)
		read_pv(&r, WORKSTATION, &hvac, invoke++, 1,
			16.5f + (float)i / 4, t + PG_SEC(3 + i));
	/* a set point: analog-value,1 present-value = 24.0 at priority 8 */
	struct bm q = { .n = 0 }, a = { .n = 0 };
	bm_confirmed(&q, invoke, S_WRITE_PROPERTY);
	bm_objid(&q, 0, true, OBJ_ANALOG_VALUE, 1);
	bm_uint(&q, 1, true, PROP_PRESENT_VALUE);
	bm_open(&q, 3);
	bm_real(&q, 24.0f);
	bm_close(&q, 3);
	bm_uint(&q, 4, true, 8);
	bip_send(WORKSTATION, hvac.ip, BVLC_UNICAST, &q, t + PG_SEC(7));
	bm_simple_ack(&a, invoke++, S_WRITE_PROPERTY);
	bip_send(hvac.ip, WORKSTATION, BVLC_UNICAST, &a, t + PG_SEC(7) + PG_MS(8));
	/* the workstation sets the clocks: 2026-04-01 (Wednesday) 08:00:10 */
	m.n = 0;
	bm_unconfirmed(&m, U_TIME_SYNC);
	bm_tag(&m, APP_DATE, false, 4);
	bm_bytes(&m, "\x7E\x04\x01\x03", 4);
	bm_tag(&m, APP_TIME, false, 4);
	bm_bytes(&m, "\x08\x00\x0A\x00", 4);
	bip_send(WORKSTATION, SUBNET_BCAST, BVLC_BROADCAST, &m, t + PG_SEC(10));
	/* maintenance: silence the meter 10 min, enable it again, then
	 * restart the HVAC controller */
	dcc(&r, WORKSTATION, &meter, invoke++, 10, 1, "maint", t + PG_SEC(12));
	dcc(&r, WORKSTATION, &meter, invoke++, 0, 0, "maint", t + PG_SEC(20));
	reinitialize(&r, WORKSTATION, &hvac, invoke++, 1, "maint", t + PG_SEC(25));
	/* SCADA-01 on another subnet discovers through the BBMD: its Who-Is
	 * arrives relayed, the HVAC controller answers with a broadcast */
	who_is(&m);
	bip_forward(BBMD, SUBNET_BCAST, SCADA, &m, t + PG_SEC(30));
	i_am(&m, &hvac);
	bip_send(hvac.ip, SUBNET_BCAST, BVLC_BROADCAST, &m, t + PG_SEC(30) + PG_MS(9));
	out_flush(UINT64_MAX);
}

static int run_zones(int argc, char **argv, uint64_t seed)
{
	(void)argc;
	(void)argv;
	gen_zones(seed);
	return 0;
}

static int run_sample(int argc, char **argv, uint64_t seed)
{
	(void)argc;
	(void)argv;
	gen_sample(seed);
	return 0;
}

/* BACnet scenarios: add {"name", "[--opt N]", "help", run_name, false}
 * before the terminator (see main.c) */
const struct gen_scenario gen_bacnet_scenarios[] = {
	{"bacnet-zones", "", "BACnet on the example plant's zones (for "
	 "tests/integration/test_bacnet_zones.sh)", run_zones, false},
	{"bacnet-sample", "", "BACnet sample capture (see "
	 "pcaps/bacnet/README.md)", run_sample, false},
	{NULL},
};
