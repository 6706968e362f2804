/*
 * attacks.c - what the behaviour detectors (daemon/detect.c) exist for,
 * on the address plan of etc/zones.yaml, with the normal traffic around
 * it that must stay quiet.  tests/integration/test_detect.sh checks each
 * scenario's alerts.
 *
 *   s7-recon   08:00:00 SCADA-01 10.3.0.10 (seisan_kanri) polls PLC-L2-01
 *                       10.10.2.10 every second for 3 minutes: SZL 0x0424
 *                       (CPU state) and a read var.  Allowed, quiet.
 *              08:00:30 MES-01 10.3.0.30 (seisan_kanri) enumerates the PLC:
 *                       SZL ids of identity, components, communication and
 *                       protection, the block list, the OBs, FCs, FBs and
 *                       DBs, and block infos: 22 distinct items in 15 s.
 *                       The conduit allows s7comm discover, so policy says
 *                       nothing: s7comm.recon, once.
 *              08:01:30 EWS-01 10.4.0.10 (hozen) does the same: the
 *                       engineering station going online, no alert.
 *
 *   port-scan  08:00:00 SCADA-01 polls PLC-L1-01 10.10.1.10 (Modbus FC 3)
 *                       every 2 s for 8 minutes on one connection.
 *              08:00:20 10.1.5.23 (joho) SYN-scans 10.10.1.1-12
 *                       (seigyo_line1) on 15 TCP ports, and probes 5 UDP
 *                       ports of 10.10.1.10: 185 (host, port) pairs in
 *                       about 4 s.  Open ports answer SYN/ACK (the scanner
 *                       resets), closed ones RST, absent hosts nothing.
 *                       net.port_scan, once.
 *              08:01:20 the same scan again, within the episode: nothing.
 *              08:07:00 the same scan again, more than the quiet period
 *                       (300 s) after the first: net.port_scan, once more.
 *              08:03:00 10.1.5.23 tries 10 ports of PLC-L2-01 10.10.2.10
 *                       (seigyo_line2): below the threshold, nothing.
 *
 * Every other alert these captures raise comes from the zone policy (joho
 * has no conduit into the control zones): the test counts only the
 * detectors' signatures.
 */
#include <string.h>

#include "gen.h"
#include "modbus.h"
#include "s7.h"

#define SCADA PG_IP(10, 3, 0, 10)    /* SCADA-01, seisan_kanri */
#define MES PG_IP(10, 3, 0, 30)      /* MES-01, seisan_kanri */
#define EWS PG_IP(10, 4, 0, 10)      /* EWS-01, hozen */
#define PLC1 PG_IP(10, 10, 1, 10)    /* PLC-L1-01, seigyo_line1 */
#define HMI1 PG_IP(10, 10, 1, 20)    /* HMI-L1-01, seigyo_line1 */
#define PLC2 PG_IP(10, 10, 2, 10)    /* PLC-L2-01, seigyo_line2 */
#define OFFICE PG_IP(10, 1, 5, 23)   /* an office PC, joho */

/* ------------------------------------------------------------------ */
/* S7: one station's connection to PLC-L2-01                           */

struct s7c {
	struct tcpc c;
	struct rng *r;
	uint16_t ref;
	uint64_t t;
};

/* a request and its answer: rosctr 1 job / 3 ack_data, or 7 userdata */
static void s7c_xact(struct s7c *s, uint8_t rosctr, const uint8_t *par,
		     size_t pl, const uint8_t *dat, size_t dl,
		     const uint8_t *apar, size_t apl, const uint8_t *adat,
		     size_t adl, uint64_t gap)
{
	uint8_t b[600];
	uint16_t ref = s->ref++;

	s->t += gap;
	s7_send(&s->c, C2S, b, s7_pdu(b, rosctr, ref, par, pl, dat, dl), s->t);
	s->t += rng_range(s->r, 1000, 4000); /* the PLC answers in 1-4 ms */
	s7_send(&s->c, S2C, b,
		s7_pdu(b, rosctr == 1 ? 3 : rosctr, ref, apar, apl, adat, adl),
		s->t);
}

/* TCP, COTP CR/CC (TSAP 0x0100 to rack 0 slot 2), Setup Communication */
static void s7c_open(struct s7c *s, struct rng *r, uint32_t cli, uint64_t t)
{
	static const uint8_t cr[] = { 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00,
				      0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
				      0xC2, 0x02, 0x01, 0x02 };
	static const uint8_t cc[] = { 0x11, 0xD0, 0x00, 0x01, 0x00, 0x07, 0x00,
				      0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
				      0xC2, 0x02, 0x01, 0x02 };
	static const uint8_t setup_q[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
					   0x01, 0xE0 };
	static const uint8_t setup_a[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
					   0x00, 0xF0 };
	uint8_t b[64];

	s->r = r;
	s->ref = 0x0200;
	tcp_init(&s->c, r, cli, host_port(cli), PLC2, 102);
	g_out.cur_cls = CLS_S7;
	s->t = tcp_open(&s->c, t, r);
	s->t += 400;
	s7_send(&s->c, C2S, b, s7_tpkt(b, cr, sizeof cr), s->t);
	s->t += rng_range(r, 1000, 3000);
	s7_send(&s->c, S2C, b, s7_tpkt(b, cc, sizeof cc), s->t);
	s7c_xact(s, 1, setup_q, sizeof setup_q, NULL, 0, setup_a,
		 sizeof setup_a, NULL, 0, PG_MS(2));
}

/*
 * A userdata request of group `group`, sub-function `sub` with `data`,
 * answered with success and `rdata` (the request parameter: head 000112,
 * length 4, method 0x11 request, type 4 | group, sub-function, sequence;
 * the answer's: length 8, method 0x12, type 8 | group, ..., no error).
 */
static void s7c_ud(struct s7c *s, uint8_t group, uint8_t sub,
		   const uint8_t *data, size_t n, const uint8_t *rdata,
		   size_t rn, uint64_t gap)
{
	uint8_t par[8] = { 0x00, 0x01, 0x12, 0x04, 0x11, 0x40, 0, 0x00 };
	uint8_t rpar[12] = { 0x00, 0x01, 0x12, 0x08, 0x12, 0x80, 0, 0x00,
			     0x00, 0x00, 0x00, 0x00 };
	uint8_t dat[64], rdat[256];

	par[5] |= group;
	par[6] = sub;
	rpar[5] |= group;
	rpar[6] = sub;
	dat[0] = 0xFF; /* success */
	dat[1] = 0x09; /* octet string */
	put16(dat + 2, (uint16_t)n);
	if (n)
		memcpy(dat + 4, data, n);
	rdat[0] = 0xFF;
	rdat[1] = 0x09;
	put16(rdat + 2, (uint16_t)rn);
	memcpy(rdat + 4, rdata, rn);
	s7c_xact(s, 7, par, sizeof par, dat, 4 + n, rpar, sizeof rpar, rdat,
		 4 + rn, gap);
}

/* read SZL id/index: answered with one record of 8 bytes (RUN state for
 * 0x0424, zeros for the others) */
static void s7c_szl(struct s7c *s, uint16_t id, uint16_t idx, uint64_t gap)
{
	uint8_t q[4], a[16];

	put16(q, id);
	put16(q + 2, idx);
	memset(a, 0, sizeof a);
	put16(a, id);
	put16(a + 2, idx);
	put16(a + 4, 8);  /* record length */
	put16(a + 6, 1);  /* records */
	if (id == 0x0424) {
		a[8] = 0x51;
		a[9] = 0x44;
		a[10] = 0xFF;
		a[11] = 0x08; /* RUN */
	}
	s7c_ud(s, 0x4, 0x01, q, sizeof q, a, sizeof a, gap);
}

/* block type codes as two ASCII hex digits ([S7] block names) */
#define BLK_OB 0x38
#define BLK_DB 0x41
#define BLK_FC 0x43
#define BLK_FB 0x45

static void s7c_list_blocks(struct s7c *s, uint64_t gap)
{
	/* one item per type: '0', type, count */
	uint8_t a[16] = { 0x30, BLK_OB, 0, 1, 0x30, BLK_FC, 0, 4,
			  0x30, BLK_FB, 0, 2, 0x30, BLK_DB, 0, 6 };
	s7c_ud(s, 0x3, 0x01, NULL, 0, a, sizeof a, gap);
}

static void s7c_list_type(struct s7c *s, uint8_t type, uint64_t gap)
{
	uint8_t q[2] = { 0x30, type };
	/* block numbers, flags, language */
	uint8_t a[8] = { 0, 1, 0x22, 0x05, 0, 2, 0x22, 0x05 };
	s7c_ud(s, 0x3, 0x02, q, sizeof q, a, sizeof a, gap);
}

static void s7c_block_info(struct s7c *s, uint8_t type, unsigned num,
			   uint64_t gap)
{
	uint8_t q[8] = { 0x30, type, 0, 0, 0, 0, 0, 'A' };
	uint8_t a[8] = { 0 };
	for (int i = 6; i >= 2; i--, num /= 10)
		q[i] = (uint8_t)('0' + num % 10);
	s7c_ud(s, 0x3, 0x03, q, sizeof q, a, sizeof a, gap);
}

/* read var DB1.DBB0, 4 bytes */
static void s7c_read(struct s7c *s, uint64_t gap)
{
	static const uint8_t par[] = { 0x04, 0x01, 0x12, 0x0A, 0x10, 0x02,
				       0x00, 0x04, 0x00, 0x01, 0x84, 0x00,
				       0x00, 0x00 };
	static const uint8_t apar[] = { 0x04, 0x01 };
	uint8_t dat[8] = { 0xFF, 0x04, 0x00, 0x20 };
	for (int i = 4; i < 8; i++)
		dat[i] = (uint8_t)rng_next(s->r);
	s7c_xact(s, 1, par, sizeof par, NULL, 0, apar, sizeof apar, dat,
		 sizeof dat, gap);
}

/* what STEP 7 / TIA Portal and scanners alike ask a PLC they meet */
static void enumerate(struct s7c *s)
{
	static const uint16_t szl[][2] = {
		{ 0x0000, 0x0000 }, /* the SZL list itself */
		{ 0x0011, 0x0000 }, /* module identification */
		{ 0x001C, 0x0000 }, /* component identification */
		{ 0x0131, 0x0001 }, /* communication capabilities */
		{ 0x0131, 0x0002 },
		{ 0x0131, 0x0003 },
		{ 0x0132, 0x0001 }, /* communication status */
		{ 0x0132, 0x0004 }, /* protection level */
		{ 0x0424, 0x0000 }, /* CPU state */
		{ 0x0074, 0x0000 }, /* LEDs */
		{ 0x0111, 0x0001 },
		{ 0x0D91, 0x0000 }, /* modules */
	};
	static const uint8_t types[] = { BLK_OB, BLK_FC, BLK_FB, BLK_DB };

	for (size_t i = 0; i < sizeof szl / sizeof szl[0]; i++)
		s7c_szl(s, szl[i][0], szl[i][1],
			rng_range(s->r, PG_MS(200), PG_MS(700)));
	s7c_list_blocks(s, PG_MS(300));
	for (size_t i = 0; i < sizeof types; i++)
		s7c_list_type(s, types[i], rng_range(s->r, PG_MS(200), PG_MS(600)));
	s7c_block_info(s, BLK_OB, 1, PG_MS(400));
	s7c_block_info(s, BLK_FC, 1, PG_MS(400));
	s7c_block_info(s, BLK_FB, 1, PG_MS(400));
	s7c_block_info(s, BLK_DB, 1, PG_MS(400));
	s7c_block_info(s, BLK_DB, 2, PG_MS(400));
	s7c_block_info(s, BLK_DB, 3, PG_MS(400));
}

static void s7c_close(struct s7c *s)
{
	g_out.cur_cls = CLS_S7;
	tcp_close(&s->c, C2S, s->t + PG_MS(50), s->r);
}

static int run_s7_recon(int argc, char **argv, uint64_t seed)
{
	static const uint8_t siemens[3] = { 0x00, 0x1B, 0x1B };
	struct rng r;
	struct s7c hmi, mes, ews;

	(void)argc;
	(void)argv;
	rng_seed(&r, seed);
	host_add_oui(siemens, PLC2, 32);
	host_embedded(PLC2, 4096);
	host_windows(SCADA);
	host_windows(MES);
	host_windows(EWS);

	/* SCADA's polling: generated whole first, it spans the capture */
	s7c_open(&hmi, &r, SCADA, PG_MS(100));
	for (int i = 0; i < 180; i++) {
		s7c_szl(&hmi, 0x0424, 0x0000, i ? PG_MS(500) : PG_MS(10));
		s7c_read(&hmi, PG_MS(480));
	}
	s7c_close(&hmi);

	out_flush(PG_SEC(30));
	s7c_open(&mes, &r, MES, PG_SEC(30));
	enumerate(&mes);
	s7c_read(&mes, PG_MS(300));
	s7c_close(&mes);

	out_flush(PG_SEC(90));
	s7c_open(&ews, &r, EWS, PG_SEC(90));
	enumerate(&ews);
	s7c_close(&ews);
	return 0;
}

/* ------------------------------------------------------------------ */
/* A port scan across seigyo_line1                                      */

/* the (host, port) pairs that answer: PLC-L1-01 Modbus and S7, the HMI's
 * RDP and SMB */
static bool port_open(uint32_t ip, uint16_t port)
{
	if (ip == PLC1)
		return port == 502 || port == 102;
	if (ip == HMI1)
		return port == 3389 || port == 445;
	return false;
}

/* hosts that exist: answer at all */
static bool host_up(uint32_t ip)
{
	return ip == PLC1 || ip == HMI1 || ip == PG_IP(10, 10, 1, 1) ||
	       ip == PG_IP(10, 10, 1, 2) || ip == PLC2;
}

/* one SYN probe: SYN/ACK and the scanner's RST, or RST/ACK, or nothing */
static void syn_probe(struct rng *r, uint32_t dst, uint16_t port, uint64_t t)
{
	struct tcpc c;

	tcp_init(&c, r, OFFICE, host_port(OFFICE), dst, port);
	g_out.cur_cls = CLS_OTHER;
	tcp_seg(&c, C2S, TH_SYN, NULL, 0, t);
	if (!host_up(dst))
		return;
	t += rng_range(r, 200, 900);
	if (port_open(dst, port)) {
		tcp_seg(&c, S2C, TH_SYN | TH_ACK, NULL, 0, t);
		tcp_seg(&c, C2S, TH_RST, NULL, 0, t + rng_range(r, 50, 200));
	} else {
		tcp_seg(&c, S2C, TH_RST | TH_ACK, NULL, 0, t);
	}
}

/* one pass: 12 hosts x 15 TCP ports, then 5 UDP ports of the PLC;
 * returns the time after it */
static uint64_t scan_pass(struct rng *r, uint64_t t)
{
	static const uint16_t tcp[] = { 21, 22, 23, 80, 102, 135, 139, 443,
					445, 502, 1911, 3389, 4840, 8080,
					44818 };
	static const uint16_t udp[] = { 53, 69, 161, 623, 2222 };
	static const uint8_t probe[] = { 0x00, 0x00, 0x00, 0x00 };

	for (size_t p = 0; p < sizeof tcp / sizeof tcp[0]; p++)
		for (unsigned h = 1; h <= 12; h++) {
			out_flush(t);
			syn_probe(r, PG_IP(10, 10, 1, h), tcp[p], t);
			t += rng_range(r, PG_MS(15), PG_MS(25));
		}
	for (size_t p = 0; p < sizeof udp / sizeof udp[0]; p++) {
		out_flush(t);
		g_out.cur_cls = CLS_OTHER;
		udp_send(OFFICE, 53000, PLC1, udp[p], probe, sizeof probe, t);
		t += PG_MS(20);
	}
	return t;
}

static int run_port_scan(int argc, char **argv, uint64_t seed)
{
	struct rng r;
	struct mbdev dev;
	struct mbs s;
	uint64_t t;

	(void)argc;
	(void)argv;
	rng_seed(&r, seed);
	host_windows(SCADA);
	host_windows(OFFICE);
	host_windows(HMI1);
	host_embedded(PLC1, 2048);
	host_embedded(PLC2, 2048);

	/* SCADA-01 polling PLC-L1-01 for the whole capture */
	mbdev_init(&dev, seed ^ 0x5eed, 64, 64, 200, 200);
	mbs_init(&s, &r, &dev, SCADA, PLC1, 1);
	t = mbs_open(&s, PG_MS(200));
	for (int i = 0; i < 240; i++)
		t = mbs_read(&s, t + PG_SEC(2), MB_FC_READ_HOLDING_REGISTERS,
			     0, 20);
	mbs_close(&s, t + PG_MS(100));

	scan_pass(&r, PG_SEC(20));
	scan_pass(&r, PG_SEC(80));
	/* a few ports of line 2's PLC: another zone, too few */
	t = PG_SEC(180);
	for (uint16_t p = 0; p < 10; p++) {
		out_flush(t);
		syn_probe(&r, PLC2, (uint16_t)(20 + p), t);
		t += PG_MS(30);
	}
	scan_pass(&r, PG_SEC(420));
	return 0;
}

/* attack scenarios: add {"name", "[--opt N]", "help", run_name, false}
 * before the terminator (see main.c) */
const struct gen_scenario gen_attacks_scenarios[] = {
	{ "s7-recon", "", "S7 enumeration of PLC-L2-01 from MES-01 (outside "
	  "engineering) and from EWS-01, around SCADA polling", run_s7_recon,
	  false },
	{ "port-scan", "", "a SYN/UDP port scan from joho across seigyo_line1, "
	  "three passes (two episodes), around Modbus polling", run_port_scan,
	  false },
	{NULL},
};
