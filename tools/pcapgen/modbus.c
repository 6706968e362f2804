/*
 * modbus.c - the Modbus/TCP device and session model, and the Modbus
 * scenarios: demo, gap, midstream, streams.
 *
 * (and violations: a polling loop against the zone policy, for the store's
 * delivery test and benchmark).
 *
 * Modbus servers answer like a libmodbus server with a register map
 * (exception 1 for an unsupported function, 2 for an address outside the
 * map, 3 for a malformed quantity or byte count).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "background.h"
#include "gen.h"
#include "modbus.h"

void mbdev_init(struct mbdev *d, uint64_t seed, uint16_t n_co,
		uint16_t n_di, uint16_t n_hr, uint16_t n_ir)
{
	memset(d, 0, sizeof *d);
	rng_seed(&d->r, seed);
	d->n_co = n_co;
	d->n_di = n_di;
	d->n_hr = n_hr;
	d->n_ir = n_ir;
	for (unsigned i = 0; i < MB_MAX_REGS; i++) {
		d->hr[i] = (uint16_t)rng_range(&d->r, 0, 1500);
		d->ir[i] = (uint16_t)rng_range(&d->r, 200, 4000);
	}
	for (unsigned i = 0; i < MB_MAX_BITS; i++) {
		d->co[i] = rng_pct(&d->r, 30);
		d->di[i] = rng_pct(&d->r, 50);
	}
	d->running = true;
}

/* process values (the first 100 registers) drift a little between reads */
static void mbdev_tick(struct mbdev *d, bool input, unsigned addr, unsigned qty)
{
	uint16_t *v = input ? d->ir : d->hr;
	for (unsigned a = addr; a < addr + qty && a < 100; a++) {
		if (rng_pct(&d->r, 40))
			v[a] = (uint16_t)(v[a] + rng_range(&d->r, 0, 4) - 2);
	}
}

static size_t mb_exc(uint8_t *r, uint8_t fc, uint8_t code)
{
	r[0] = (uint8_t)(fc | 0x80);
	r[1] = code;
	return 2;
}

/* FC 43 / MEI 14: read device identification, basic objects 0..2 */
static size_t mb_devid(struct mbdev *d, const uint8_t *q, size_t n, uint8_t *r)
{
	const char *obj[3] = {d->vendor, d->product, d->revision};
	if (n < 4 || q[1] != 0x0E || !d->vendor)
		return mb_exc(r, q[0], MB_EX_ILLEGAL_FUNCTION);
	uint8_t code = q[2], first = q[3];
	if (code != 1 && code != 4)
		return mb_exc(r, q[0], MB_EX_ILLEGAL_DATA_VALUE);
	if (first > 2) {
		if (code == 4)
			return mb_exc(r, q[0], MB_EX_ILLEGAL_DATA_ADDRESS);
		first = 0; /* spec: restart at 0 for an unknown id in a stream */
	}
	size_t k = 0;
	r[k++] = q[0];
	r[k++] = 0x0E;
	r[k++] = code;
	r[k++] = 0x81; /* conformity: basic, stream + individual access */
	r[k++] = 0x00; /* more follows: no */
	r[k++] = 0x00; /* next object id */
	size_t nobj_at = k++;
	uint8_t nobj = 0;
	for (unsigned i = first; i < 3; i++) {
		size_t l = strlen(obj[i]);
		r[k++] = (uint8_t)i;
		r[k++] = (uint8_t)l;
		memcpy(r + k, obj[i], l);
		k += l;
		nobj++;
		if (code == 4)
			break;
	}
	r[nobj_at] = nobj;
	return k;
}

/* answer one request PDU; returns the response PDU length */
static size_t mb_serve(struct mbdev *d, const uint8_t *q, size_t n, uint8_t *r)
{
	if (n < 1)
		return 0;
	uint8_t fc = q[0];
	unsigned addr = n >= 3 ? get16(q + 1) : 0;
	unsigned qty = n >= 5 ? get16(q + 3) : 0;

	switch (fc) {
	case MB_FC_READ_COILS:
	case MB_FC_READ_DISCRETE_INPUTS: {
		if (n != 5 || qty < 1 || qty > 2000)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		unsigned max = fc == MB_FC_READ_COILS ? d->n_co : d->n_di;
		if (addr + qty > max)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		const uint8_t *bits = fc == MB_FC_READ_COILS ? d->co : d->di;
		if (fc == MB_FC_READ_DISCRETE_INPUTS)
			for (unsigned a = addr; a < addr + qty; a++)
				if (rng_pct(&d->r, 5))
					d->di[a] ^= 1;
		unsigned nb = (qty + 7) / 8;
		r[0] = fc;
		r[1] = (uint8_t)nb;
		memset(r + 2, 0, nb);
		for (unsigned i = 0; i < qty; i++)
			if (bits[addr + i])
				r[2 + i / 8] |= (uint8_t)(1u << (i % 8));
		return 2 + nb;
	}
	case MB_FC_READ_HOLDING_REGISTERS:
	case MB_FC_READ_INPUT_REGISTERS: {
		if (n != 5 || qty < 1 || qty > 125)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		bool input = fc == MB_FC_READ_INPUT_REGISTERS;
		if (addr + qty > (input ? d->n_ir : d->n_hr))
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		mbdev_tick(d, input, addr, qty);
		const uint16_t *v = input ? d->ir : d->hr;
		r[0] = fc;
		r[1] = (uint8_t)(qty * 2);
		for (unsigned i = 0; i < qty; i++)
			put16(r + 2 + 2 * i, v[addr + i]);
		return 2 + 2 * qty;
	}
	case MB_FC_WRITE_SINGLE_COIL:
		if (n != 5 || (qty != 0xFF00 && qty != 0x0000))
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (addr >= d->n_co)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		d->co[addr] = qty == 0xFF00;
		memcpy(r, q, 5);
		return 5;
	case MB_FC_WRITE_SINGLE_REGISTER:
		if (n != 5)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (addr >= d->n_hr)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		d->hr[addr] = (uint16_t)qty;
		memcpy(r, q, 5);
		return 5;
	case MB_FC_WRITE_MULTIPLE_COILS:
	case MB_FC_WRITE_MULTIPLE_REGISTERS: {
		bool regs = fc == MB_FC_WRITE_MULTIPLE_REGISTERS;
		unsigned bc = n >= 6 ? q[5] : 0;
		unsigned want = regs ? qty * 2 : (qty + 7) / 8;
		/* byte count must match the quantity AND the bytes present */
		if (n < 6 || qty < 1 || qty > (regs ? 123u : 1968u) ||
		    bc != want || n != 6 + bc)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (addr + qty > (regs ? d->n_hr : d->n_co))
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		for (unsigned i = 0; i < qty; i++) {
			if (regs)
				d->hr[addr + i] = get16(q + 6 + 2 * i);
			else
				d->co[addr + i] = (q[6 + i / 8] >> (i % 8)) & 1;
		}
		memcpy(r, q, 5);
		return 5;
	}
	case MB_FC_DIAGNOSTICS: {
		/* sub-function 0 return query data, 1 restart communications:
		 * both answered with an echo of the request (spec 6.8.1) */
		unsigned sub = n >= 3 ? get16(q + 1) : 0xFFFF;
		if (n < 5 || (sub != 0 && sub != 1))
			return mb_exc(r, fc, MB_EX_ILLEGAL_FUNCTION);
		memcpy(r, q, n);
		return n;
	}
	case MB_FC_ENCAPSULATED_INTERFACE:
		return mb_devid(d, q, n, r);
	case MB_FC_UMAS:
		/* UMAS: 0x5A, session (pairing) key byte, UMAS function, data;
		 * the answer carries the key and 0xFE for success. */
		if (!d->umas)
			return mb_exc(r, fc, MB_EX_ILLEGAL_FUNCTION);
		if (n < 3)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (q[2] == UMAS_STOP_PLC)
			d->running = false;
		r[0] = MB_FC_UMAS;
		r[1] = q[1];
		r[2] = UMAS_RSP_OK;
		return 3;
	default:
		return mb_exc(r, fc, MB_EX_ILLEGAL_FUNCTION);
	}
}

/* request PDU builders */
/* request PDU builders */
size_t mbq_rw(uint8_t *b, uint8_t fc, unsigned addr, unsigned v)
{
	b[0] = fc;
	put16(b + 1, (uint16_t)addr);
	put16(b + 3, (uint16_t)v);
	return 5;
}

size_t mbq_write_regs(uint8_t *b, unsigned addr, const uint16_t *v,
		      unsigned qty)
{
	b[0] = MB_FC_WRITE_MULTIPLE_REGISTERS;
	put16(b + 1, (uint16_t)addr);
	put16(b + 3, (uint16_t)qty);
	b[5] = (uint8_t)(qty * 2);
	for (unsigned i = 0; i < qty; i++)
		put16(b + 6 + 2 * i, v[i]);
	return 6 + 2 * qty;
}

size_t mbq_write_coils(uint8_t *b, unsigned addr, unsigned qty,
		       uint32_t bits)
{
	unsigned nb = (qty + 7) / 8;
	b[0] = MB_FC_WRITE_MULTIPLE_COILS;
	put16(b + 1, (uint16_t)addr);
	put16(b + 3, (uint16_t)qty);
	b[5] = (uint8_t)nb;
	for (unsigned i = 0; i < nb; i++)
		b[6 + i] = (uint8_t)(bits >> (8 * i));
	if (qty % 8) /* unused high bits of the last byte are zero */
		b[6 + nb - 1] &= (uint8_t)((1u << (qty % 8)) - 1);
	return 6 + nb;
}

size_t mbq_devid(uint8_t *b)
{
	b[0] = MB_FC_ENCAPSULATED_INTERFACE;
	b[1] = 0x0E; /* MEI type: read device identification */
	b[2] = 0x01; /* basic device identification, stream access */
	b[3] = 0x00; /* from object 0 (VendorName) */
	return 4;
}

void mbs_init(struct mbs *s, struct rng *r, struct mbdev *dev,
	      uint32_t cip, uint32_t sip, uint16_t tid)
{
	memset(s, 0, sizeof *s);
	tcp_init(&s->tc, r, cip, host_port(cip), sip, 502);
	s->dev = dev;
	s->tid = tid;
	s->unit = 1;
	s->srv_min = 800;
	s->srv_max = 4000;
	s->r = r;
}

/* emit the client's delayed ACK if it falls before `ts` (else the next
 * client segment carries it) */
void mbs_ack(struct mbs *s, uint64_t ts)
{
	if (s->ack_due && s->ack_due < ts) {
		g_out.cur_cls = CLS_MODBUS;
		tcp_seg(&s->tc, C2S, TH_ACK, NULL, 0, s->ack_due);
	}
	s->ack_due = 0;
}

static size_t mb_adu(uint8_t *b, uint16_t tid, uint8_t unit, const uint8_t *pdu,
		     size_t n)
{
	put16(b, tid);
	put16(b + 2, 0); /* protocol id: Modbus */
	put16(b + 4, (uint16_t)(n + 1));
	b[6] = unit;
	memcpy(b + 7, pdu, n);
	return 7 + n;
}

uint64_t mbs_exchange(struct mbs *s, uint64_t ts, const struct mbx *x)
{
	uint8_t q[1400], rs[1400];
	size_t qn = 0, rn = 0;
	mbs_ack(s, ts);
	for (int i = 0; i < x->n; i++) {
		uint8_t rp[300];
		uint16_t tid = s->tid++;
		qn += mb_adu(q + qn, tid, s->unit, x->pdu[i], x->len[i]);
		size_t l = mb_serve(s->dev, x->pdu[i], x->len[i], rp);
		rn += mb_adu(rs + rn, tid, s->unit, rp, l);
	}
	uint64_t t = ts;
	g_out.cur_cls = CLS_MODBUS;
	if (x->split_q && x->split_q < qn) {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, C2S, TH_PSH | TH_ACK, q, x->split_q, t);
		t += rng_range(s->r, 300, 1000);
		tcp_seg(&s->tc, C2S, TH_PSH | TH_ACK, q + x->split_q,
			qn - x->split_q, t);
	} else {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, C2S, TH_PSH | TH_ACK, q, qn, t);
	}
	if (x->no_response)
		return t;
	t += rng_range(s->r, s->srv_min, s->srv_max);
	if (x->split_r && x->split_r < rn) {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, S2C, TH_PSH | TH_ACK, rs, x->split_r, t);
		t += rng_range(s->r, 300, 1000);
		tcp_seg(&s->tc, S2C, TH_PSH | TH_ACK, rs + x->split_r,
			rn - x->split_r, t);
	} else {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, S2C, TH_PSH | TH_ACK, rs, rn, t);
	}
	s->ack_due = t + host_get(s->tc.ip[C2S])->ack_delay;
	return t;
}

/* the common case: one request, one response */
uint64_t mbs_xact(struct mbs *s, uint64_t ts, const uint8_t *pdu, size_t n)
{
	struct mbx x = {.pdu = {pdu}, .len = {n}, .n = 1};
	return mbs_exchange(s, ts, &x);
}

uint64_t mbs_read(struct mbs *s, uint64_t ts, uint8_t fc, unsigned addr,
		  unsigned qty)
{
	uint8_t b[5];
	return mbs_xact(s, ts, b, mbq_rw(b, fc, addr, qty));
}

uint64_t mbs_close(struct mbs *s, uint64_t ts)
{
	mbs_ack(s, ts);
	g_out.cur_cls = CLS_MODBUS;
	return tcp_close(&s->tc, C2S, ts, s->r);
}

uint64_t mbs_open(struct mbs *s, uint64_t ts)
{
	g_out.cur_cls = CLS_MODBUS;
	return tcp_open(&s->tc, ts, s->r);
}

/* ------------------------------------------------------------------ */
/* demo: five minutes of a small plant's morning.
 *
 * Zones (etc/zones.yaml): joho 10.1.0.0/16, dmz 10.2.0.0/24, seisan_kanri
 * 10.3.0.0/24, hozen 10.4.0.0/24, seigyo_line1 10.10.1.0/24, seigyo_line2
 * 10.10.2.0/24, jido_hanso 10.20.0.0/24, jido_soko 10.21.0.0/24, setsubi
 * 10.30.0.0/24, remote 10.99.0.0/24.  Conduits: seisan_kanri -> seigyo_*,
 * jido_soko: modbus read+discover; seisan_kanri -> setsubi: modbus read;
 * hozen -> control zones: anything; jido_hanso -> jido_soko: modbus
 * read+write; nothing into control zones from joho, dmz, remote.
 *
 * Every event, and what the sensor should make of it (times from 08:00:00;
 * all Modbus/TCP to port 502 unless said otherwise):
 *
 *  #  time      src -> dst                     what                              expected alert
 *  1  0-300 s   SCADA-01 10.3.0.10 ->          FC3 + FC4 poll every second; the  none (read allowed)
 *               PLC-L1-01 10.10.1.10           handshake was before the capture
 *                                              (mid-stream pickup)
 *  2  0.4-300 s SCADA-01 -> PLC-L2-01          FC3 + FC4 poll every second, new  none (read allowed)
 *               10.10.2.10                     connection with handshake
 *  2a 60.5 s    SCADA-01 -> PLC-L2-01          FC3 and FC4 requests in ONE       none
 *                                              segment, both responses in one
 *  2b 120.5 s   SCADA-01 -> PLC-L2-01          FC3 x100: response split across   none
 *                                              two segments (after 60 bytes)
 *  2c 150.6 s   SCADA-01 -> PLC-L2-01          FC3 addr 9000 x2: register not in exception response,
 *                                              the map, exception code 2         code 2 (illegal data address)
 *  3  1.2-300 s SCADA-01 -> PM-01 10.30.0.20   FC4 every 5 s                     none (read allowed)
 *  4  2-300 s   HMI-L1-01 10.10.1.20 ->        FC3 every 2 s, FC6 set points at  none (same zone)
 *               PLC-L1-01                      30.7/95.7/181.1/262.4 s
 *  4a 200.9 s   HMI-L1-01 -> PLC-L1-01         FC16 request split across two     none
 *                                              segments (after 9 bytes)
 *  4b 221.3 s   HMI-L1-01 -> PLC-L1-01         FC16 qty 5, byte count 10, but    malformed request: invalid
 *                                              only 6 data bytes (MBAP length    length (FC16 byte count vs
 *                                              13); answered with exception 3    MBAP length); exception 3
 *  5  10-280 s  AGV 10.20.0.15 ->              one connection per job every      none (read+write allowed)
 *               ASRS-PLC-01 10.21.0.10         30 s: FC3, FC16, FC1, FC5, FC2
 *  6  45.2 s,   MES-01 10.3.0.30 -> PLC-L2-01  FC16 x4 at 200 (production       write not allowed by the
 *     145.6 s,                                 order), three connections         conduit seisan_kanri ->
 *     245.9 s                                                                    seigyo_line2 (read+discover)
 *  7  70.4 s    EWS-01 10.4.0.10 -> PLC-L1-01  FC43/14 read device id (vendor,   allowed; asset facts for
 *                                              product, revision answered)       10.10.1.10 (vendor...)
 *  7a 70.9 s    EWS-01 -> PLC-L1-01            FC8 sub-function 1 restart        allowed control op, still
 *                                              communications                    reported (restart comms)
 *  8  100.3 s   EWS-01 -> PLC-L2-01:502        HTTP GET on the Modbus port; the  not Modbus on port 502
 *                                              PLC closes the connection         (protocol mismatch)
 *  9  130.2 s   joho PC 10.1.5.23 -> PLC-L2-01 FC3 x10, three times              no conduit joho ->
 *                                                                                seigyo_line2
 * 10  160.7 s   laptop 172.16.5.5 ->           FC3 reads (brought-in PC, OUI     unknown host (in no zone)
 *               PLC-L1-01                      00:e0:4c)
 * 11  200.2 s   remote 10.99.0.5 -> PLC-L1-01  FC90 UMAS, session key 0x2c,      control (PLC stop) with no
 *                                              function 0x41 STOP_PLC; the PLC   conduit remote -> seigyo_line1:
 *                                              answers 0xFE (ok)                 highest severity
 * 12  all       joho 10.1.5.23, 10.1.5.40 ->   DNS queries (UDP/53)              none (not ICS)
 *               DNS 10.1.0.53
 * 13  20 s,     joho 10.1.5.40 -> 10.1.0.80    HTTPS-looking TLS application     none (not ICS)
 *     150 s     :443                           data
 *
 * MACs: 02:00 + the IPv4 address, except PLC-L1-01 00:80:f4 (Telemecanique,
 * Schneider), PLC-L2-01 38:e0:8e (Mitsubishi Electric), ASRS-PLC-01
 * 3c:f7:d1 (OMRON), laptop 00:e0:4c (Realtek).
 */

#define DEMO_SCADA PG_IP(10, 3, 0, 10)
#define DEMO_MES PG_IP(10, 3, 0, 30)
#define DEMO_EWS PG_IP(10, 4, 0, 10)
#define DEMO_PLC1 PG_IP(10, 10, 1, 10)
#define DEMO_HMI1 PG_IP(10, 10, 1, 20)
#define DEMO_PLC2 PG_IP(10, 10, 2, 10)
#define DEMO_AGV PG_IP(10, 20, 0, 15)
#define DEMO_ASRS PG_IP(10, 21, 0, 10)
#define DEMO_PM PG_IP(10, 30, 0, 20)
#define DEMO_JOHO PG_IP(10, 1, 5, 23)
#define DEMO_JOHO2 PG_IP(10, 1, 5, 40)
#define DEMO_DNS PG_IP(10, 1, 0, 53)
#define DEMO_WEB PG_IP(10, 1, 0, 80)
#define DEMO_LAPTOP PG_IP(172, 16, 5, 5)
#define DEMO_REMOTE PG_IP(10, 99, 0, 5)

#define DEMO_LEN_S 300

static void demo_hosts(void)
{
	static const uint8_t schneider[3] = {0x00, 0x80, 0xF4};
	static const uint8_t mitsubishi[3] = {0x38, 0xE0, 0x8E};
	static const uint8_t omron[3] = {0x3C, 0xF7, 0xD1};
	static const uint8_t realtek[3] = {0x00, 0xE0, 0x4C};
	host_add_oui(schneider, DEMO_PLC1, 32);
	host_add_oui(mitsubishi, DEMO_PLC2, 32);
	host_add_oui(omron, DEMO_ASRS, 32);
	host_add_oui(realtek, DEMO_LAPTOP, 32);
	host_windows(DEMO_SCADA);
	host_windows(DEMO_MES);
	host_windows(DEMO_EWS);
	host_windows(DEMO_HMI1);
	host_windows(DEMO_JOHO);
	host_windows(DEMO_JOHO2);
	host_windows(DEMO_LAPTOP);
	host_embedded(DEMO_PLC1, 8192);
	host_embedded(DEMO_PLC2, 8192);
	host_embedded(DEMO_ASRS, 4096);
	host_embedded(DEMO_PM, 2048);
}

static void gen_demo(uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	demo_hosts();

	struct mbdev plc1, plc2, asrs, pm;
	mbdev_init(&plc1, seed ^ 1, 64, 64, 200, 100);
	plc1.vendor = "Schneider Electric";
	plc1.product = "BMX P34 2020";
	plc1.revision = "v3.40";
	plc1.umas = true;
	plc1.umas_key = 0x2C;
	mbdev_init(&plc2, seed ^ 2, 64, 64, 300, 100);
	plc2.vendor = "Mitsubishi Electric";
	plc2.product = "R04ENCPU";
	plc2.revision = "1.08";
	mbdev_init(&asrs, seed ^ 3, 32, 32, 50, 20);
	asrs.vendor = "OMRON";
	asrs.product = "NX102-9000";
	asrs.revision = "1.50";
	mbdev_init(&pm, seed ^ 4, 0, 0, 20, 40);

	/* 1: SCADA -> PLC-L1-01, mid-stream (opened before the capture) */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc1, DEMO_SCADA, DEMO_PLC1, 0x3A41);
		s.tc.port[C2S] = 49731;
		for (unsigned k = 0; k < DEMO_LEN_S; k++) {
			/* the capture's first packet is this poll at 08:00:00 */
			uint64_t t = PG_SEC(k) + (k ? rng_range(&r, 0, 3000) : 0);
			mbs_read(&s, t, MB_FC_READ_HOLDING_REGISTERS, 0, 10);
			mbs_read(&s, t + PG_MS(50), MB_FC_READ_INPUT_REGISTERS, 0, 8);
		}
		mbs_ack(&s, UINT64_MAX);
	}

	/* 2: SCADA -> PLC-L2-01 with handshake; 2a pipelined, 2b split,
	 * 2c exception */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc2, DEMO_SCADA, DEMO_PLC2, 1);
		mbs_open(&s, PG_MS(400));
		for (unsigned k = 1; k < DEMO_LEN_S; k++) {
			uint64_t t = PG_SEC(k) + PG_MS(500) + rng_range(&r, 0, 3000);
			if (k == 60) {
				uint8_t a[5], b[5];
				struct mbx x = {
					.pdu = {a, b},
					.len = {mbq_rw(a, MB_FC_READ_HOLDING_REGISTERS, 0, 20),
						mbq_rw(b, MB_FC_READ_INPUT_REGISTERS, 0, 10)},
					.n = 2};
				mbs_exchange(&s, t, &x);
				continue;
			}
			if (k == 120) {
				uint8_t a[5];
				struct mbx x = {
					.pdu = {a},
					.len = {mbq_rw(a, MB_FC_READ_HOLDING_REGISTERS, 0, 100)},
					.n = 1,
					.split_r = 60};
				mbs_exchange(&s, t, &x);
			} else {
				mbs_read(&s, t, MB_FC_READ_HOLDING_REGISTERS, 0, 20);
			}
			mbs_read(&s, t + PG_MS(50), MB_FC_READ_INPUT_REGISTERS, 0, 10);
			if (k == 150)
				mbs_read(&s, t + PG_MS(100),
					 MB_FC_READ_HOLDING_REGISTERS, 9000, 2);
		}
		mbs_ack(&s, UINT64_MAX);
	}

	/* 3: SCADA -> PM-01, FC4 every 5 s */
	{
		struct mbs s;
		mbs_init(&s, &r, &pm, DEMO_SCADA, DEMO_PM, 1);
		s.srv_min = 5000;
		s.srv_max = 15000;
		mbs_open(&s, PG_MS(1200));
		for (unsigned k = 1; k * 5 < DEMO_LEN_S; k++)
			mbs_read(&s, PG_SEC(k * 5) + PG_MS(200) + rng_range(&r, 0, 3000),
				 MB_FC_READ_INPUT_REGISTERS, 0, 12);
		mbs_ack(&s, UINT64_MAX);
	}

	/* 4: HMI-L1-01 -> PLC-L1-01: reads, set points, 4a split, 4b malformed */
	{
		/* the HMI's own events, merged in time order with its polls
		 * (every 2 s at +0.3 s); none is within 0.1 s of a poll */
		enum { EV_SP, EV_SPLIT, EV_MALFORMED };
		static const struct {
			unsigned ms, kind, addr, val;
		} ev[] = {{30700, EV_SP, 110, 725},     {95700, EV_SP, 111, 1200},
			  {181100, EV_SP, 110, 740},    {200900, EV_SPLIT, 120, 0},
			  {221300, EV_MALFORMED, 130, 0}, {262400, EV_SP, 112, 35}};
		struct mbs s;
		mbs_init(&s, &r, &plc1, DEMO_HMI1, DEMO_PLC1, 0);
		mbs_open(&s, PG_MS(2000));
		unsigned e = 0;
		for (unsigned k = 1; 2 * k < DEMO_LEN_S; k++) {
			uint64_t t = PG_SEC(2 * k) + PG_MS(300) + rng_range(&r, 0, 3000);
			for (; e < sizeof ev / sizeof ev[0] && PG_MS(ev[e].ms) < t; e++) {
				uint64_t te = PG_MS(ev[e].ms);
				uint8_t b[16];
				if (ev[e].kind == EV_SP) {
					mbs_xact(&s, te, b,
						 mbq_rw(b, MB_FC_WRITE_SINGLE_REGISTER,
							ev[e].addr, ev[e].val));
				} else if (ev[e].kind == EV_SPLIT) { /* 4a */
					static const uint16_t recipe[4] = {1, 250, 180, 42};
					struct mbx x = {
						.pdu = {b},
						.len = {mbq_write_regs(b, ev[e].addr, recipe, 4)},
						.n = 1,
						.split_q = 9};
					mbs_exchange(&s, te, &x);
				} else { /* 4b */
					/* FC16 qty 5, byte count 10 (right for
					 * qty 5) but only 6 value bytes: MBAP
					 * length 13 where 17 would be needed */
					static const uint8_t bad[12] = {
						MB_FC_WRITE_MULTIPLE_REGISTERS, 0x00, 130,
						0x00, 5, 10, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03};
					mbs_xact(&s, te, bad, sizeof bad);
				}
			}
			mbs_read(&s, t, MB_FC_READ_HOLDING_REGISTERS, 100, 16);
		}
		mbs_ack(&s, UINT64_MAX);
	}

	/* 5: AGV -> ASRS-PLC-01, one connection per job */
	for (unsigned j = 0; j < 10; j++) {
		struct mbs s;
		uint8_t b[32];
		mbs_init(&s, &r, &asrs, DEMO_AGV, DEMO_ASRS, (uint16_t)(j * 5 + 1));
		s.srv_min = 2000;
		s.srv_max = 6000;
		uint64_t t = mbs_open(&s, PG_SEC(10 + 30 * j) + rng_range(&r, 0, 50000));
		t = mbs_read(&s, t + 1000, MB_FC_READ_HOLDING_REGISTERS, 0, 4);
		uint16_t job[3] = {(uint16_t)(100 + j * 7 % 40), (uint16_t)(1 + j % 3), 1};
		t = mbs_xact(&s, t + PG_MS(20), b, mbq_write_regs(b, 10, job, 3));
		t = mbs_read(&s, t + PG_MS(20), MB_FC_READ_COILS, 0, 16);
		t = mbs_xact(&s, t + PG_MS(20), b,
			     mbq_rw(b, MB_FC_WRITE_SINGLE_COIL, 0, 0xFF00));
		t = mbs_read(&s, t + PG_MS(500), MB_FC_READ_DISCRETE_INPUTS, 0, 8);
		mbs_close(&s, t + PG_MS(5));
	}

	/* 6: MES-01 -> PLC-L2-01, FC16 (conduit allows read only) */
	{
		static const unsigned at[3] = {45200, 145600, 245900};
		for (unsigned j = 0; j < 3; j++) {
			struct mbs s;
			uint8_t b[16];
			uint16_t order[4] = {(uint16_t)(2604 + j), 1, (uint16_t)(500 + 50 * j), 0};
			mbs_init(&s, &r, &plc2, DEMO_MES, DEMO_PLC2, 1);
			uint64_t t = mbs_open(&s, PG_MS(at[j]));
			t = mbs_xact(&s, t + 800, b, mbq_write_regs(b, 200, order, 4));
			mbs_close(&s, t + PG_MS(3));
		}
	}

	/* 7: EWS-01 -> PLC-L1-01, device identification then FC8 sub 1 */
	{
		struct mbs s;
		uint8_t b[8];
		mbs_init(&s, &r, &plc1, DEMO_EWS, DEMO_PLC1, 1);
		uint64_t t = mbs_open(&s, PG_MS(70400));
		mbs_xact(&s, t + 900, b, mbq_devid(b));
		t = mbs_xact(&s, PG_MS(70900), b,
			     mbq_rw(b, MB_FC_DIAGNOSTICS, 0x0001, 0x0000));
		mbs_close(&s, t + PG_MS(400));
	}

	/* 8: EWS-01 -> PLC-L2-01:502, HTTP instead of Modbus */
	{
		static const char get[] = "GET / HTTP/1.1\r\n"
					  "Host: 10.10.2.10:502\r\n"
					  "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n"
					  "Accept: text/html,*/*\r\n"
					  "Connection: keep-alive\r\n\r\n";
		struct tcpc c;
		tcp_init(&c, &r, DEMO_EWS, host_port(DEMO_EWS), DEMO_PLC2, 502);
		g_out.cur_cls = CLS_OTHER;
		uint64_t t = tcp_open(&c, PG_MS(100300), &r);
		t += 1200;
		tcp_seg(&c, C2S, TH_PSH | TH_ACK, (const uint8_t *)get,
			sizeof get - 1, t);
		/* the PLC sees no Modbus header and closes */
		tcp_close(&c, S2C, t + 2500, &r);
	}

	/* 9: joho PC -> PLC-L2-01 (no conduit) */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc2, DEMO_JOHO, DEMO_PLC2, 1);
		uint64_t t = mbs_open(&s, PG_MS(130200));
		for (unsigned i = 0; i < 3; i++)
			t = mbs_read(&s, PG_MS(130200) + PG_SEC(i) + 1500,
				     MB_FC_READ_HOLDING_REGISTERS, 0, 10);
		mbs_close(&s, t + PG_MS(300));
	}

	/* 10: laptop in no zone -> PLC-L1-01 */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc1, DEMO_LAPTOP, DEMO_PLC1, 1);
		uint64_t t = mbs_open(&s, PG_MS(160700));
		t = mbs_read(&s, t + 900, MB_FC_READ_HOLDING_REGISTERS, 0, 50);
		t = mbs_read(&s, t + PG_MS(120), MB_FC_READ_HOLDING_REGISTERS, 100, 16);
		t = mbs_read(&s, t + PG_MS(120), MB_FC_READ_INPUT_REGISTERS, 0, 20);
		mbs_close(&s, t + PG_MS(800));
	}

	/* 11: remote maintenance host -> PLC-L1-01: UMAS STOP_PLC */
	{
		struct mbs s;
		uint8_t b[3] = {MB_FC_UMAS, 0x2C, UMAS_STOP_PLC};
		mbs_init(&s, &r, &plc1, DEMO_REMOTE, DEMO_PLC1, 1);
		uint64_t t = mbs_open(&s, PG_MS(200200));
		t = mbs_xact(&s, t + 1100, b, sizeof b);
		mbs_close(&s, t + PG_MS(250));
	}

	/* 12: DNS in joho */
	{
		static const char *const names[] = {
			"intra.kojo.example", "mail.kojo.example",
			"files.kojo.example", "www.example.com", "update.example.net"};
		for (unsigned k = 0; k < 14; k++) {
			uint32_t cli = (k & 1) ? DEMO_JOHO2 : DEMO_JOHO;
			const char *n = names[rng_below(&r, 5)];
			dns_lookup(&r, cli, DEMO_DNS, n, PG_IP(10, 1, 0, 80 + (mix32(k) % 5)),
				   PG_SEC(20 * k + 5) + rng_range(&r, 0, 900000));
		}
	}

	/* 13: HTTPS in joho */
	dns_lookup(&r, DEMO_JOHO2, DEMO_DNS, "intra.kojo.example", DEMO_WEB,
		   PG_MS(19950));
	https_session(&r, DEMO_JOHO2, DEMO_WEB, PG_SEC(20), 6);
	https_session(&r, DEMO_JOHO2, DEMO_WEB, PG_SEC(150), 4);
}

/* ------------------------------------------------------------------ */
/* gap and midstream: one Modbus flow, ~50 request/response pairs */

#define SINGLE_N 50
#define SINGLE_LOST 25  /* index of the request that is missing in `gap` */
#define SINGLE_SKIP 5   /* exchanges cut off before `midstream` starts */

/* SCADA-01 and PLC-L1-01 of the demo plant, alone (gap, midstream,
 * reconnect) */
static void single_pair(struct rng *r, struct mbdev *plc, uint64_t seed)
{
	rng_seed(r, seed);
	host_windows(DEMO_SCADA);
	host_embedded(DEMO_PLC1, 8192);
	mbdev_init(plc, seed ^ 1, 64, 64, 200, 100);
}

static void gen_single(uint64_t seed, bool gap, bool midstream)
{
	struct rng r;
	struct mbdev plc;
	single_pair(&r, &plc, seed);
	struct mbs s;
	mbs_init(&s, &r, &plc, DEMO_SCADA, DEMO_PLC1, 1);
	uint64_t t = mbs_open(&s, PG_MS(100));
	for (unsigned i = 0; i < SINGLE_N; i++) {
		uint64_t tq = PG_MS(200) + PG_MS(250) * i + rng_range(&r, 0, 2000);
		if (midstream && i == SINGLE_SKIP)
			g_out.cut = tq; /* first packet written: this request */
		if (gap && i == SINGLE_LOST) {
			/* pure ACK first, so the dropped segment is this request */
			mbs_ack(&s, tq);
			s.tc.drop_next = true;
			fprintf(stderr,
				"pcapgen: gap: lost client->server segment: "
				"transaction id %u (seq %u, 12 bytes, "
				"08:00:%02u.%06u)\n",
				s.tid, s.tc.nxt[C2S], (unsigned)(tq / 1000000u),
				(unsigned)(tq % 1000000u));
		}
		uint8_t fc = (i % 2) ? MB_FC_READ_INPUT_REGISTERS :
				       MB_FC_READ_HOLDING_REGISTERS;
		t = mbs_read(&s, tq, fc, (i % 5) * 10, 10);
	}
	mbs_close(&s, t + PG_MS(300));
}

/* ------------------------------------------------------------------ */
/* streams: N concurrent connections, all open before any closes,
 * plus M SYN-only attempts (a SYN flood from spoofed 10.99.x.x sources) */

static void gen_streams(uint64_t seed, unsigned long nflows,
			unsigned long half_open)
{
	struct rng r;
	rng_seed(&r, seed);
	if (nflows > 2000000)
		die("streams: --flows at most 2000000");
	struct mbdev plc;
	mbdev_init(&plc, seed ^ 1, 64, 64, 200, 100);
	struct mbs *s = xcalloc(nflows, sizeof *s);
	const uint64_t step = 50; /* µs between connections in each phase */
	uint64_t t = PG_MS(10);
	uint64_t flood_step = half_open ? (nflows * step) / half_open + 1 : 0;
	uint64_t flood_t = t;
	unsigned long flood_i = 0;

	for (unsigned long i = 0; i < nflows; i++, t += step) {
		uint32_t cli = PG_IP(10, 3, 0, 100 + i / 20000);
		uint32_t srv = PG_IP(10, 10, 1, 10 + i % 10);
		mbs_init(&s[i], &r, &plc, cli, srv, (uint16_t)(i & 0xffff));
		s[i].tc.port[C2S] = (uint16_t)(20000 + i % 20000);
		out_flush(t);
		/* SYN flood interleaved with the opens */
		while (flood_i < half_open && flood_t <= t) {
			struct tcpc c;
			uint32_t src = PG_IP(10, 99, rng_range(&r, 1, 254),
					     rng_range(&r, 1, 254));
			tcp_init(&c, &r, src, (uint16_t)rng_range(&r, 1024, 65000),
				 PG_IP(10, 10, 1, 10 + flood_i % 10), 502);
			g_out.cur_cls = CLS_OTHER;
			tcp_seg(&c, C2S, TH_SYN, NULL, 0, flood_t);
			flood_i++;
			flood_t += flood_step;
		}
		mbs_open(&s[i], t);
	}
	while (flood_i < half_open) { /* when there are no flows */
		struct tcpc c;
		tcp_init(&c, &r, PG_IP(10, 99, rng_range(&r, 1, 254), rng_range(&r, 1, 254)),
			 (uint16_t)rng_range(&r, 1024, 65000),
			 PG_IP(10, 10, 1, 10 + flood_i % 10), 502);
		g_out.cur_cls = CLS_OTHER;
		tcp_seg(&c, C2S, TH_SYN, NULL, 0, t);
		flood_i++;
		t += step;
	}
	t += PG_MS(100);
	for (unsigned long i = 0; i < nflows; i++, t += step) {
		out_flush(t);
		mbs_read(&s[i], t, MB_FC_READ_HOLDING_REGISTERS, 0, 4);
		/* the delayed ACK now: nothing may be queued before a flush */
		mbs_ack(&s[i], UINT64_MAX);
	}
	t += PG_MS(300);
	for (unsigned long i = 0; i < nflows; i++, t += step) {
		out_flush(t);
		mbs_close(&s[i], t);
	}
	free(s);
}

/* ------------------------------------------------------------------ */
/* violations: an engineering PC in the information zone (joho) polls the
 * line 2 PLC every 10 ms over one connection, four read requests per
 * segment (pipelined), N requests in all.  etc/zones.yaml has no conduit
 * joho -> seigyo_line2, so every request is one zone.no_conduit alert:
 * the store's delivery test needs >= 100,000 alerts from one capture
 * (with aggregation off in the store, each is its own row). */

#define VIOL_CLIENT PG_IP(10, 1, 5, 23)
#define VIOL_PLC PG_IP(10, 10, 2, 10)

static void gen_violations(uint64_t seed, unsigned long n)
{
	struct rng r;
	struct mbdev plc;
	struct mbs s;
	uint64_t t;

	if (n < 1 || n > 10000000)
		die("violations: --requests from 1 to 10000000");
	rng_seed(&r, seed);
	host_windows(VIOL_CLIENT);
	host_embedded(VIOL_PLC, 8192);
	mbdev_init(&plc, seed ^ 1, 64, 64, 200, 100);
	mbs_init(&s, &r, &plc, VIOL_CLIENT, VIOL_PLC, 1);
	t = mbs_open(&s, PG_MS(100));
	for (unsigned long i = 0; i < n; i += 4) {
		uint8_t q[4][5];
		struct mbx x = {.n = (int)(n - i < 4 ? n - i : 4)};
		for (int k = 0; k < x.n; k++) {
			x.pdu[k] = q[k];
			x.len[k] = mbq_rw(q[k], MB_FC_READ_HOLDING_REGISTERS,
					  (unsigned)((i + (unsigned long)k) % 100),
					  2);
		}
		out_flush(t);
		t = mbs_exchange(&s, PG_MS(200) + PG_MS(10) * (i / 4), &x);
	}
	mbs_close(&s, t + PG_MS(300));
}

static int run_violations(int argc, char **argv, uint64_t seed)
{
	gen_violations(seed, gen_opt_num(argc, argv, "--requests", 100000));
	return 0;
}

static int run_demo(int argc, char **argv, uint64_t seed)
{
	(void)argc;
	(void)argv;
	gen_demo(seed);
	return 0;
}

static int run_gap(int argc, char **argv, uint64_t seed)
{
	(void)argc;
	(void)argv;
	gen_single(seed, true, false);
	return 0;
}

static int run_midstream(int argc, char **argv, uint64_t seed)
{
	(void)argc;
	(void)argv;
	gen_single(seed, false, true);
	return 0;
}

/* ------------------------------------------------------------------ */
/* reconnect: SCADA polls PLC-1 from its fixed source port; the connection
 * ends unseen (a PLC power cycle: no FIN or RST reaches the span port) and
 * two hours later SCADA connects again from the same port, polls and
 * closes.  libnids 1.26 drops the old stream for the new SYN without a
 * word to its listeners (daemon/reasm.c, nids_free_tcp_stream): the sensor
 * must end the old flow and dissect the new connection as a flow of its
 * own (pcaps/regress/reconnect.pcap). */
#define RECONNECT_N 10
#define RECONNECT_PORT 50200

static int run_reconnect(int argc, char **argv, uint64_t seed)
{
	(void)argc;
	(void)argv;
	struct rng r;
	struct mbdev plc;
	single_pair(&r, &plc, seed);
	for (int c = 0; c < 2; c++) {
		uint64_t t0 = PG_MS(100) + (uint64_t)c * PG_MS(2 * 3600 * 1000);
		struct mbs s;
		mbs_init(&s, &r, &plc, DEMO_SCADA, DEMO_PLC1, 1);
		s.tc.port[C2S] = RECONNECT_PORT;
		uint64_t t = mbs_open(&s, t0);
		for (unsigned i = 0; i < RECONNECT_N; i++)
			t = mbs_read(&s, t0 + PG_MS(200) + PG_MS(250) * i,
				     MB_FC_READ_HOLDING_REGISTERS, i * 10, 10);
		if (c == 1) /* the first connection just stops */
			mbs_close(&s, t + PG_MS(300));
	}
	return 0;
}

static int run_streams(int argc, char **argv, uint64_t seed)
{
	gen_streams(seed, gen_opt_num(argc, argv, "--flows", 1000),
		    gen_opt_num(argc, argv, "--half-open", 0));
	return 0;
}

const struct gen_scenario gen_modbus_scenarios[] = {
	{"demo", "", "small plant morning with attacks (see pcaps/README.md)",
	 run_demo, false},
	{"gap", "", "one Modbus flow, one client segment lost", run_gap, false},
	{"midstream", "", "one Modbus flow, capture starts after the handshake",
	 run_midstream, false},
	{"reconnect", "", "one Modbus client reconnecting from its port 2 h later",
	 run_reconnect, false},
	{"streams", "--flows N [--half-open M]",
	 "N concurrent connections, M SYN-only attempts", run_streams, false},
	{"violations", "[--requests N]",
	 "joho polls a line 2 PLC (no conduit): N alerts (default 100000)",
	 run_violations, false},
	{NULL},
};
