/*
 * bench.c - the bench scenario: a large mixed capture for `make bench`.
 */
#include <stdlib.h>
#include <string.h>

#include "background.h"
#include "bacnet.h"
#include "gen.h"
#include "modbus.h"
#include "s7.h"

/* ------------------------------------------------------------------ */
/* bench: a large mixed capture.  Mostly conduit-allowed ICS traffic:
 *   Modbus/TCP  seisan_kanri SCADAs -> PLCs (read, sometimes discover),
 *               HMIs -> PLCs in their own line (read + write),
 *               AGVs -> AS/RS PLCs (read + write)
 *   S7comm      HMIs -> S7 PLCs in line 2, EWS (hozen) -> S7 PLCs
 *   BACnet/IP   building workstation -> devices, inside setsubi
 *   background  HTTPS-looking TCP and DNS inside joho (~20 % of packets)
 * ~10 % of the ICS TCP streams start mid-stream (no handshake); some
 * exchanges pipeline 2-3 PDUs in one segment, some split a PDU across two
 * segments (never inside the 7-byte MBAP header: tshark 4.0 loses sync
 * there, and we check every capture with tshark). */

struct bench_ctx {
	struct rng r;
	struct mbdev *dev[64];
	uint32_t dev_ip[64];
	unsigned ndev;
};

static struct mbdev *bench_dev(struct bench_ctx *b, uint32_t ip)
{
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev_ip[i] == ip)
			return b->dev[i];
	if (b->ndev == 64)
		die("internal: too many bench devices");
	struct mbdev *d = xmalloc(sizeof *d);
	mbdev_init(d, mix32(ip) ^ 0xb5, 64, 64, 200, 200);
	d->vendor = "Plant Controls";
	d->product = "PC-2000";
	d->revision = "2.1";
	host_embedded(ip, 8192);
	b->dev[b->ndev] = d;
	b->dev_ip[b->ndev++] = ip;
	return d;
}

static uint64_t bench_modbus(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli, srv;
	unsigned kind = rng_below(r, 100);
	bool writes = false;
	if (kind < 60) { /* SCADA reads */
		cli = PG_IP(10, 3, 0, 10 + rng_below(r, 5));
		switch (rng_below(r, 4)) {
		case 0: srv = PG_IP(10, 10, 1, 10 + rng_below(r, 20)); break;
		case 1: srv = PG_IP(10, 10, 2, 10 + rng_below(r, 20)); break;
		case 2: srv = PG_IP(10, 21, 0, 10 + rng_below(r, 8)); break;
		default: srv = PG_IP(10, 30, 0, 20 + rng_below(r, 10)); break;
		}
	} else if (kind < 85) { /* HMI, same line */
		unsigned line = 1 + rng_below(r, 2);
		cli = PG_IP(10, 10, line, 200 + rng_below(r, 10));
		srv = PG_IP(10, 10, line, 10 + rng_below(r, 20));
		writes = true;
	} else { /* AGV -> AS/RS */
		cli = PG_IP(10, 20, 0, 15 + rng_below(r, 10));
		srv = PG_IP(10, 21, 0, 10 + rng_below(r, 8));
		writes = true;
	}
	struct mbs s;
	mbs_init(&s, r, bench_dev(b, srv), cli, srv, (uint16_t)rng_next(r));
	bool mid = rng_pct(r, 10);
	bool pipelined = rng_pct(r, 15), split = rng_pct(r, 10);
	unsigned n = rng_range(r, 10, 60);
	uint32_t gap = rng_range(r, 20000, 200000);
	uint64_t t = mid ? ts : mbs_open(&s, ts);
	bool discovered = false;
	for (unsigned i = 0; i < n; i++) {
		t += gap + rng_below(r, 3000);
		uint8_t p[3][32];
		struct mbx x = {.n = 1};
		unsigned op = rng_below(r, 100);
		if (!writes && !discovered && !mid && i == 0 && rng_pct(r, 20)) {
			x.len[0] = mbq_devid(p[0]);
			discovered = true;
		} else if (writes && op < 15) {
			x.len[0] = mbq_rw(p[0], MB_FC_WRITE_SINGLE_REGISTER,
					  100 + rng_below(r, 50), rng_below(r, 2000));
		} else if (writes && op < 25) {
			uint16_t v[6];
			unsigned q = rng_range(r, 2, 6);
			for (unsigned k = 0; k < q; k++)
				v[k] = (uint16_t)rng_below(r, 5000);
			x.len[0] = mbq_write_regs(p[0], 120 + rng_below(r, 40), v, q);
		} else if (writes && op < 30) {
			x.len[0] = mbq_rw(p[0], MB_FC_WRITE_SINGLE_COIL,
					  rng_below(r, 32), rng_pct(r, 50) ? 0xFF00 : 0);
		} else if (writes && op < 33) {
			x.len[0] = mbq_write_coils(p[0], rng_below(r, 32), 8,
						   (uint32_t)rng_next(r));
		} else if (op < 40) {
			x.len[0] = mbq_rw(p[0], rng_pct(r, 50) ? MB_FC_READ_COILS :
								MB_FC_READ_DISCRETE_INPUTS,
					  rng_below(r, 32), rng_range(r, 1, 32));
		} else {
			x.len[0] = mbq_rw(p[0], rng_pct(r, 60) ? MB_FC_READ_HOLDING_REGISTERS :
								MB_FC_READ_INPUT_REGISTERS,
					  rng_below(r, 100), rng_range(r, 1, 60));
		}
		x.pdu[0] = p[0];
		if (pipelined && rng_pct(r, 40)) {
			x.n = (int)rng_range(r, 2, 3);
			for (int k = 1; k < x.n; k++) {
				x.len[k] = mbq_rw(p[k], MB_FC_READ_HOLDING_REGISTERS,
						  rng_below(r, 100), rng_range(r, 1, 20));
				x.pdu[k] = p[k];
			}
		}
		if (split && rng_pct(r, 30)) {
			/* inside the first request, after its MBAP header */
			size_t first = 7 + x.len[0];
			if (rng_pct(r, 50))
				x.split_q = rng_range(r, 8, (uint32_t)first - 1);
			else
				x.split_r = 9; /* inside the first response PDU */
		}
		t = mbs_exchange(&s, t, &x);
	}
	return mbs_close(&s, t + rng_range(r, 1000, 100000));
}

static uint64_t bench_s7(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli = rng_pct(r, 80) ? PG_IP(10, 10, 2, 150 + rng_below(r, 5)) :
					PG_IP(10, 4, 0, 10 + rng_below(r, 2));
	uint32_t srv = PG_IP(10, 10, 2, 100 + rng_below(r, 10));
	host_embedded(srv, 8192);
	struct tcpc c;
	tcp_init(&c, r, cli, host_port(cli), srv, 102);
	bool mid = rng_pct(r, 10);
	uint64_t t = ts;
	uint8_t q[512], a[512];
	uint16_t ref = (uint16_t)rng_range(r, 1, 60000);
	if (!mid) {
		/* COTP connection request / confirm: TPDU size 1024, TSAPs
		 * 0x0100 (PG) and 0x0102 (rack 0 slot 2) */
		static const uint8_t cr[] = {0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00,
					     0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
					     0xC2, 0x02, 0x01, 0x02};
		static const uint8_t cc[] = {0x11, 0xD0, 0x00, 0x01, 0x00, 0x02, 0x00,
					     0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
					     0xC2, 0x02, 0x01, 0x02};
		static const uint8_t setup_q[] = {0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
						  0x01, 0xE0};
		static const uint8_t setup_a[] = {0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
						  0x01, 0xE0};
		g_out.cur_cls = CLS_S7;
		t = tcp_open(&c, t, r);
		t = s7_send(&c, C2S, q, s7_tpkt(q, cr, sizeof cr), t + 500);
		t = s7_send(&c, S2C, a, s7_tpkt(a, cc, sizeof cc), t + rng_range(r, 500, 3000));
		t = s7_send(&c, C2S, q, s7_pdu(q, 1, ref, setup_q, sizeof setup_q, NULL, 0),
			    t + 500);
		t = s7_send(&c, S2C, a, s7_pdu(a, 3, ref, setup_a, sizeof setup_a, NULL, 0),
			    t + rng_range(r, 500, 3000));
		ref++;
	}
	unsigned n = rng_range(r, 10, 40);
	uint32_t gap = rng_range(r, 50000, 250000);
	for (unsigned i = 0; i < n; i++, ref++) {
		t += gap + rng_below(r, 5000);
		/* read var job: items of any-pointer syntax id 0x10, transport
		 * size BYTE, DB area 0x84 */
		uint8_t par[2 + 12 * 4], dat[4 * (4 + 64)];
		unsigned items = rng_range(r, 1, 4);
		size_t pl = 0, dl = 0;
		par[pl++] = 0x04; /* read var */
		par[pl++] = (uint8_t)items;
		for (unsigned k = 0; k < items; k++) {
			unsigned len = rng_range(r, 2, 32) & ~1u;
			par[pl++] = 0x12; /* variable specification */
			par[pl++] = 0x0A; /* length of the rest */
			par[pl++] = 0x10; /* syntax id: S7ANY */
			par[pl++] = 0x02; /* transport size: BYTE */
			put16(par + pl, (uint16_t)len);
			pl += 2;
			put16(par + pl, (uint16_t)(1 + rng_below(r, 20))); /* DB */
			pl += 2;
			par[pl++] = 0x84; /* area: data blocks */
			uint32_t bitaddr = rng_below(r, 200) * 8;
			par[pl++] = (uint8_t)(bitaddr >> 16);
			par[pl++] = (uint8_t)(bitaddr >> 8);
			par[pl++] = (uint8_t)bitaddr;
			dat[dl++] = 0xFF; /* return code: success */
			dat[dl++] = 0x04; /* transport size: byte/word/dword */
			put16(dat + dl, (uint16_t)(len * 8)); /* length in bits */
			dl += 2;
			for (unsigned j = 0; j < len; j++)
				dat[dl++] = (uint8_t)rng_next(r);
			if ((len & 1) && k + 1 < items)
				dat[dl++] = 0; /* fill byte between items */
		}
		uint8_t apar[2] = {0x04, (uint8_t)items};
		t = s7_send(&c, C2S, q, s7_pdu(q, 1, ref, par, pl, NULL, 0), t);
		t = s7_send(&c, S2C, a, s7_pdu(a, 3, ref, apar, 2, dat, dl),
			    t + rng_range(r, 1000, 8000));
		if (rng_pct(r, 50)) { /* delayed ACK (jobs are >= 50 ms apart) */
			g_out.cur_cls = CLS_S7;
			tcp_seg(&c, C2S, TH_ACK, NULL, 0, t + PG_MS(40));
		}
	}
	g_out.cur_cls = CLS_S7;
	return tcp_close(&c, C2S, t + PG_MS(300), r);
}

static uint64_t bench_bacnet(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli = PG_IP(10, 30, 0, 5);
	uint32_t srv = PG_IP(10, 30, 0, 50 + rng_below(r, 20));
	unsigned n = rng_range(r, 4, 16);
	uint8_t q[64], a[64];
	uint64_t t = ts;
	g_out.flows++;
	for (unsigned i = 0; i < n; i++) {
		uint8_t inv = (uint8_t)rng_next(r);
		/* analog-input (0) or analog-value (2), instance 1..64 */
		uint32_t oid = ((rng_pct(r, 50) ? 0u : 2u) << 22) | rng_range(r, 1, 64);
		float v = 15.0f + (float)rng_below(r, 1500) / 100.0f;
		uint32_t bits;
		memcpy(&bits, &v, 4);
		g_out.cur_cls = CLS_BACNET;
		udp_send(cli, 47808, srv, 47808, q, bacnet_msg(q, false, inv, oid, 0), t);
		g_out.cur_cls = CLS_BACNET;
		udp_send(srv, 47808, cli, 47808, a, bacnet_msg(a, true, inv, oid, bits),
			 t + rng_range(r, 2000, 20000));
		t += rng_range(r, 50000, 150000);
	}
	return t;
}

static uint64_t bench_background(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli = PG_IP(10, 1, 5, 10 + rng_below(r, 90));
	if (rng_pct(r, 40)) {
		static const char *const names[] = {
			"intra.kojo.example", "mail.kojo.example", "files.kojo.example",
			"www.example.com", "update.example.net", "time.example.org"};
		dns_lookup(r, cli, PG_IP(10, 1, 0, 53), names[rng_below(r, 6)],
			   PG_IP(10, 1, 0, 80 + rng_below(r, 6)), ts);
		return ts;
	}
	return https_session(r, cli, PG_IP(10, 1, 0, 80 + rng_below(r, 6)), ts,
			     (int)rng_range(r, 3, 20));
}

static void gen_bench(uint64_t seed, unsigned long npackets)
{
	struct bench_ctx b;
	memset(&b, 0, sizeof b);
	rng_seed(&b.r, seed);
	for (unsigned i = 0; i < 5; i++)
		host_windows(PG_IP(10, 3, 0, 10 + i));
	for (unsigned i = 0; i < 10; i++) {
		host_windows(PG_IP(10, 10, 1, 200 + i));
		host_windows(PG_IP(10, 10, 2, 200 + i));
	}
	uint64_t t = PG_MS(5);
	while (g_out.emitted < npackets) {
		out_flush(t);
		unsigned k = rng_below(&b.r, 100);
		/* flow mix: by packets about 60 % Modbus, 10 % S7comm,
		 * 8 % BACnet, 20 % background */
		if (k < 41)
			bench_modbus(&b, t);
		else if (k < 49)
			bench_s7(&b, t);
		else if (k < 67)
			bench_bacnet(&b, t);
		else
			bench_background(&b, t);
		t += rng_range(&b.r, 1000, 9000);
	}
	for (unsigned i = 0; i < b.ndev; i++)
		free(b.dev[i]);
}

static int run_bench(int argc, char **argv, uint64_t seed)
{
	gen_bench(seed, gen_opt_num(argc, argv, "--packets", 1000000));
	return 0;
}

const struct gen_scenario gen_bench_scenarios[] = {
	{"bench", "[--packets N]", "large mixed capture (default 1000000 packets)",
	 run_bench, true},
	{NULL},
};
