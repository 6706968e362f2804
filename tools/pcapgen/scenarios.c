/*
 * scenarios.c - the exercise kit (pcaps/scenarios/): the S7comm, BACnet/IP
 * and flow-level parts of the attack scenarios, on the model factory of
 * pcaps/scenarios/zones-plant.yaml.  No package offers an S7 or a BACnet
 * stack to record, so the generator writes these packets; the Modbus parts
 * are recorded from real libmodbus peers (tests/peers/scenario_peer.c) and
 * merged with the parts written here (pcaps/scenarios/make.sh).
 *
 *   sc-normal-day    (loopback plan) the S7 and BACnet half of a normal
 *                    day: SCADA-01 polls PLC-L2-01 (read var) and reads
 *                    the HVAC controller (ReadProperty), HMI-L2-01 reads
 *                    PLC-L2-01 and changes one set point (write var)
 *   sc-recon         (loopback plan) the S7 half of the reconnaissance:
 *                    PC-OFFICE-23 reads ten SZLs and the block lists of
 *                    PLC-L2-01, starting 20 s after the Modbus sweep
 *   sc-remote-stop   the machine builder's VPN host stops PLC-L2-01,
 *                    downloads a block, activates it and restarts the PLC
 *   sc-rogue-laptop  a laptop with a vendor MAC never seen before, on line
 *                    2's switch, downloads OB1 into PLC-L2-01
 *   sc-bacnet-dcc    PC-OFFICE-23 silences the HVAC controller with
 *                    DeviceCommunicationControl and restarts it
 *   sc-lateral       SMB, RDP and ping from PC-OFFICE-23 into line 1
 *   sc-midstream-stop  SCADA-01's S7 connection, captured from the middle
 *                    with two segments lost, carries a PLC STOP
 *
 * Each scenario's README.md tells its story and the alerts it must raise;
 * pcaps/scenarios/README.md lists them.  Times are seconds after
 * 08:00:00 (PG_T0).  The loopback plan is the same plant with every
 * 10.x.y.z at 127.x.y.z and every MAC 00:00:00:00:00:00, as a capture on
 * Linux' `lo` shows them, so that these parts merge with live recordings.
 *
 * Layouts: S7comm as documented in dissectors/s7comm.c (TPKT RFC 1006,
 * COTP X.224); BACnet/IP ASHRAE 135 Annex J (BVLC), clause 6 (NPDU),
 * clause 20 (APDU and tag encoding), the services of clauses 15 and 16.
 */
#include <string.h>

#include "background.h"
#include "gen.h"
#include "s7.h"

/* ------------------------------------------------------------------ */
/* The model factory's addresses (pcaps/scenarios/zones-plant.yaml)    */

#define PC_OFFICE PG_IP(10, 1, 5, 23)   /* joho, PC-OFFICE-23 */
#define DNS_SRV PG_IP(10, 1, 0, 53)     /* joho */
#define FILESRV PG_IP(10, 1, 0, 80)     /* joho, FILESRV-01 */
#define SCADA PG_IP(10, 3, 0, 10)       /* seisan_kanri, SCADA-01 */
#define EWS PG_IP(10, 4, 0, 10)         /* hozen, EWS-01 */
#define PLC1 PG_IP(10, 10, 1, 10)       /* seigyo_line1, PLC-L1-01 */
#define HMI1 PG_IP(10, 10, 1, 20)       /* seigyo_line1, HMI-L1-01 */
#define PLC2 PG_IP(10, 10, 2, 10)       /* seigyo_line2, PLC-L2-01 (S7) */
#define HMI2 PG_IP(10, 10, 2, 20)       /* seigyo_line2, HMI-L2-01 */
#define LAPTOP PG_IP(10, 10, 2, 77)     /* seigyo_line2, not a named host */
#define HVAC PG_IP(10, 30, 0, 10)       /* setsubi, BAC-HVAC-01 */
#define VENDOR PG_IP(10, 99, 0, 5)      /* remote */
#define BCAST PG_IP(255, 255, 255, 255)

static bool lo_plan; /* addresses 127.x.y.z, MACs all zero */

/* a plant address on the plan in force */
static uint32_t at(uint32_t ip)
{
	if (lo_plan && (ip >> 24) == 10)
		return (127u << 24) | (ip & 0x00FFFFFFu);
	return ip;
}

/* the MAC lo shows for every host, or the broadcast MAC */
static void host_mac(uint32_t ip, uint8_t b)
{
	memset(host_get(ip)->mac, b, 6);
}

/* hosts' stacks: Windows stations, embedded PLCs; MACs for the plan */
static void plant_hosts(const uint32_t *win, size_t nwin,
			const uint32_t *emb, size_t nemb)
{
	static const uint8_t siemens[3] = { 0x00, 0x1B, 0x1B };
	static const uint8_t delta[3] = { 0x00, 0x50, 0xDB }; /* HVAC */

	if (!lo_plan) {
		host_add_oui(siemens, at(PLC2), 32);
		host_add_oui(delta, at(HVAC), 32);
	}
	for (size_t i = 0; i < nwin; i++)
		host_windows(at(win[i]));
	for (size_t i = 0; i < nemb; i++)
		host_embedded(at(emb[i]), 4096);
	for (size_t i = 0; lo_plan && i < nwin; i++)
		host_mac(at(win[i]), 0);
	for (size_t i = 0; lo_plan && i < nemb; i++)
		host_mac(at(emb[i]), 0);
	host_mac(BCAST, 0xFF);
}

/* ------------------------------------------------------------------ */
/* S7comm sessions                                                     */

struct s7c {
	struct tcpc c;
	struct rng *r;
	uint16_t ref;  /* next PDU reference */
	uint64_t t;    /* time of the session's last packet */
	bool lose_answer; /* the next job's answer is lost by the span port */
};

/* the PLC answers 1..4 ms after a job */
static uint64_t plc_delay(struct s7c *s)
{
	return rng_range(s->r, 1000, 4000);
}

/* a job (ROSCTR 1) at time t and its ack_data (3) with error 0/0 */
static void s7c_job(struct s7c *s, uint64_t t, const uint8_t *par, size_t pl,
		    const uint8_t *dat, size_t dl, const uint8_t *apar,
		    size_t apl, const uint8_t *adat, size_t adl)
{
	uint8_t b[600];
	uint16_t ref = s->ref++;

	s->t = t;
	s7_send(&s->c, C2S, b, s7_pdu(b, 1, ref, par, pl, dat, dl), s->t);
	s->t += plc_delay(s);
	if (s->lose_answer) {
		s->c.drop_next = true;
		s->lose_answer = false;
	}
	s7_send(&s->c, S2C, b, s7_pdu(b, 3, ref, apar, apl, adat, adl), s->t);
}

/* a job the PLC sends (it pulls a block), answered by the station */
static void s7c_plc_job(struct s7c *s, const uint8_t *par, size_t pl,
			const uint8_t *apar, size_t apl, const uint8_t *adat,
			size_t adl)
{
	uint8_t b[600];
	uint16_t ref = s->ref++;

	s->t += plc_delay(s);
	s7_send(&s->c, S2C, b, s7_pdu(b, 1, ref, par, pl, NULL, 0), s->t);
	s->t += rng_range(s->r, 1000, 3000);
	s7_send(&s->c, C2S, b, s7_pdu(b, 3, ref, apar, apl, adat, adl), s->t);
}

/* a userdata request at time t and its response (same PDU reference) */
static void s7c_ud(struct s7c *s, uint64_t t, const uint8_t *par, size_t pl,
		   const uint8_t *dat, size_t dl, const uint8_t *rpar,
		   size_t rpl, const uint8_t *rdat, size_t rdl)
{
	uint8_t b[600];
	uint16_t ref = s->ref++;

	s->t = t;
	s7_send(&s->c, C2S, b, s7_pdu(b, 7, ref, par, pl, dat, dl), s->t);
	s->t += plc_delay(s);
	s7_send(&s->c, S2C, b, s7_pdu(b, 7, ref, rpar, rpl, rdat, rdl), s->t);
}

/* TCP handshake, COTP CR/CC (TSAPs 0x0100 PG and 0x0102: rack 0, slot 2;
 * TPDU size 1024), Setup Communication (the PLC grants 240 bytes) */
static void s7c_open(struct s7c *s, struct rng *r, uint32_t cli, uint32_t plc,
		     uint64_t t)
{
	static const uint8_t cr[] = { 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00,
				      0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
				      0xC2, 0x02, 0x01, 0x02 };
	static const uint8_t cc[] = { 0x11, 0xD0, 0x00, 0x01, 0x00, 0x44, 0x00,
				      0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
				      0xC2, 0x02, 0x01, 0x02 };
	/* Setup Communication: function F0, reserved, max AmQ calling 1,
	 * called 1, PDU length 480 asked, 240 granted */
	static const uint8_t setup_q[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
					   0x01, 0xE0 };
	static const uint8_t setup_a[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
					   0x00, 0xF0 };
	uint8_t b[64];

	memset(s, 0, sizeof *s);
	s->r = r;
	s->ref = (uint16_t)rng_range(r, 0x0100, 0x7000);
	tcp_init(&s->c, r, cli, host_port(cli), plc, 102);
	g_out.cur_cls = CLS_S7;
	s->t = tcp_open(&s->c, t, r) + 400;
	s7_send(&s->c, C2S, b, s7_tpkt(b, cr, sizeof cr), s->t);
	s->t += plc_delay(s);
	s7_send(&s->c, S2C, b, s7_tpkt(b, cc, sizeof cc), s->t);
	s7c_job(s, s->t + 600, setup_q, sizeof setup_q, NULL, 0, setup_a,
		sizeof setup_a, NULL, 0);
}

static void s7c_close(struct s7c *s, uint64_t t)
{
	g_out.cur_cls = CLS_S7;
	s->t = tcp_close(&s->c, C2S, t, s->r);
}

/* read var: DB1, `n` bytes from byte 0 (process values) */
static void s7c_read(struct s7c *s, uint64_t t, uint8_t n)
{
	static const uint8_t apar[] = { 0x04, 0x01 };
	/* function read, 1 item: var spec, 10 bytes, S7ANY, BYTE, count,
	 * DB 1, area 0x84 (DB), bit address 0 */
	uint8_t par[] = { 0x04, 0x01, 0x12, 0x0A, 0x10, 0x02, 0x00, n,
			  0x00, 0x01, 0x84, 0x00, 0x00, 0x00 };
	uint8_t dat[4 + 64] = { 0xFF, 0x04 };

	put16(dat + 2, (uint16_t)(n * 8)); /* length in bits */
	for (unsigned i = 0; i < n; i++)
		dat[4 + i] = (uint8_t)rng_range(s->r, 0x10, 0x30);
	s7c_job(s, t, par, sizeof par, NULL, 0, apar, sizeof apar, dat, 4u + n);
}

/* write var: DB1.DBW20 (a set point), one WORD */
static void s7c_write(struct s7c *s, uint64_t t, uint16_t v)
{
	static const uint8_t par[] = { 0x05, 0x01, 0x12, 0x0A, 0x10, 0x04,
				       0x00, 0x01, 0x00, 0x01, 0x84, 0x00,
				       0x00, 0xA0 };
	static const uint8_t apar[] = { 0x05, 0x01 };
	static const uint8_t adat[] = { 0xFF };
	uint8_t dat[6] = { 0x00, 0x04, 0x00, 0x10 };

	put16(dat + 4, v);
	s7c_job(s, t, par, sizeof par, dat, sizeof dat, apar, sizeof apar,
		adat, sizeof adat);
}

/* userdata, read SZL id/index; the answer has `count` records of `rlen` */
static void s7c_szl(struct s7c *s, uint64_t t, uint16_t id, uint16_t index,
		    const uint8_t *recs, uint16_t rlen, uint16_t count)
{
	/* head 000112, length 4, method request, type 4 | group 4 (CPU
	 * functions), sub-function 1 (read SZL), sequence 0 */
	static const uint8_t par[] = { 0x00, 0x01, 0x12, 0x04, 0x11, 0x44,
				       0x01, 0x00 };
	/* the response form: length 8, type 8 | group 4, data unit 0, last
	 * unit, no error */
	static const uint8_t rpar[] = { 0x00, 0x01, 0x12, 0x08, 0x12, 0x84,
					0x01, 0x01, 0x00, 0x00, 0x00, 0x00 };
	uint8_t dat[8] = { 0xFF, 0x09, 0x00, 0x04 }, rdat[512];
	size_t n = (size_t)rlen * count;

	put16(dat + 4, id);
	put16(dat + 6, index);
	rdat[0] = 0xFF; /* success */
	rdat[1] = 0x09; /* octet string */
	put16(rdat + 2, (uint16_t)(8 + n));
	put16(rdat + 4, id);
	put16(rdat + 6, index);
	put16(rdat + 8, rlen);
	put16(rdat + 10, count);
	memcpy(rdat + 12, recs, n);
	s7c_ud(s, t, par, sizeof par, dat, sizeof dat, rpar, sizeof rpar, rdat,
	       12 + n);
}

/* SZL 0x0424 (operating mode): ereig, ae, bzu-id (low nibble 8 RUN,
 * 4 STOP) and the rest of the 20-byte record */
static void s7c_mode(struct s7c *s, uint64_t t, uint8_t mode)
{
	uint8_t rec[20] = { 0x51, 0x44, 0xFF, mode };
	s7c_szl(s, t, 0x0424, 0x0000, rec, sizeof rec, 1);
}

/* SZL 0x0011 (module identification): order number, firmware V3.3.8 */
static void s7c_identify(struct s7c *s, uint64_t t)
{
	uint8_t rec[56];

	memset(rec, ' ', sizeof rec);
	put16(rec, 0x0001);
	memcpy(rec + 2, "6ES7 315-2EH14-0AB0", 19);
	put16(rec + 22, 0x00C0);
	put16(rec + 24, 0x0004);
	put16(rec + 26, 0x0001);
	put16(rec + 28, 0x0007);
	put16(rec + 50, 0x00C0);
	rec[52] = 'V';
	rec[53] = 3;
	rec[54] = 3;
	rec[55] = 8;
	s7c_szl(s, t, 0x0011, 0x0000, rec, 28, 2);
}

/* SZL 0x0000: the list of every SZL id the CPU offers (what a scanner
 * reads first), and SZL 0x001C (component identification): station,
 * module name, plant designation, serial number */
static void s7c_szl_list(struct s7c *s, uint64_t t)
{
	static const uint16_t ids[] = { 0x0000, 0x0011, 0x0012, 0x0013,
					0x0014, 0x0015, 0x001C, 0x0022,
					0x0025, 0x0037, 0x0074, 0x0091,
					0x0111, 0x0131, 0x0132, 0x0222,
					0x0424, 0x0524, 0x0A91, 0x0C91 };
	uint8_t rec[2 * (sizeof ids / sizeof ids[0])];

	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		put16(rec + 2 * i, ids[i]);
	s7c_szl(s, t, 0x0000, 0x0000, rec, 2,
		(uint16_t)(sizeof ids / sizeof ids[0]));
}

/* an SZL whose records the scanner only collects: `count` records of
 * `rlen` bytes, each starting with its index, the rest zero */
static void s7c_szl_plain(struct s7c *s, uint64_t t, uint16_t id,
			  uint16_t index, uint16_t rlen, uint16_t count)
{
	uint8_t rec[400];

	memset(rec, 0, sizeof rec);
	for (uint16_t i = 0; i < count && (size_t)rlen * (i + 1) <= sizeof rec; i++)
		put16(rec + (size_t)rlen * i, (uint16_t)(index ? index : i + 1));
	s7c_szl(s, t, id, index, rec, rlen, count);
}

static void s7c_components(struct s7c *s, uint64_t t)
{
	static const char *const text[4] = { "LINE2-CPU", "CPU 315-2 PN/DP",
					     "KOJO1-LINE2", "S C-X4U512345678" };
	static const uint16_t index[4] = { 1, 2, 3, 5 };
	uint8_t rec[4 * 34];

	memset(rec, 0, sizeof rec);
	for (int i = 0; i < 4; i++) {
		put16(rec + 34 * i, index[i]);
		memcpy(rec + 34 * i + 2, text[i], strlen(text[i]));
	}
	s7c_szl(s, t, 0x001C, 0x0000, rec, 34, 4);
}

/* userdata block functions (group 3): list blocks (sub-function 1), the
 * count of each block type; list blocks of type DB (sub-function 2) */
static void s7c_blocks(struct s7c *s, uint64_t t)
{
	static const uint8_t par1[] = { 0x00, 0x01, 0x12, 0x04, 0x11, 0x43,
					0x01, 0x00 };
	static const uint8_t rpar1[] = { 0x00, 0x01, 0x12, 0x08, 0x12, 0x83,
					 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t dat1[] = { 0x0A, 0x00, 0x00, 0x00 };
	/* type "0" + type letter, then the count: OB 8, FB 12, FC 34, DB 41,
	 * SDB 9, SFC 72, SFB 26 */
	static const uint8_t list[] = {
		0xFF, 0x09, 0x00, 0x1C,
		0x30, 0x38, 0x00, 8, 0x30, 0x45, 0x00, 12, 0x30, 0x43, 0x00, 34,
		0x30, 0x41, 0x00, 41, 0x30, 0x42, 0x00, 9, 0x30, 0x44, 0x00, 72,
		0x30, 0x46, 0x00, 26 };
	static const uint8_t par2[] = { 0x00, 0x01, 0x12, 0x04, 0x11, 0x43,
					0x02, 0x00 };
	static const uint8_t rpar2[] = { 0x00, 0x01, 0x12, 0x08, 0x12, 0x83,
					 0x02, 0x01, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t dat2[] = { 0xFF, 0x09, 0x00, 0x02, 0x30, 0x41 };
	/* DB numbers with flags 0x22 and language 0x05 (DB) */
	uint8_t dbs[4 + 4 * 8] = { 0xFF, 0x09, 0x00, 4 * 8 };

	s7c_ud(s, t, par1, sizeof par1, dat1, sizeof dat1, rpar1, sizeof rpar1,
	       list, sizeof list);
	for (int i = 0; i < 8; i++) {
		put16(dbs + 4 + 4 * i, (uint16_t)(i < 4 ? 1 + i : 10 * (i - 2)));
		dbs[4 + 4 * i + 2] = 0x22;
		dbs[4 + 4 * i + 3] = 0x05;
	}
	s7c_ud(s, s->t + PG_MS(120), par2, sizeof par2, dat2, sizeof dat2,
	       rpar2, sizeof rpar2, dbs, sizeof dbs);
}

/* PLC STOP: function 0x29, five reserved bytes, "P_PROGRAM" */
static void s7c_stop(struct s7c *s, uint64_t t)
{
	static const uint8_t par[] = { 0x29, 0, 0, 0, 0, 0, 9, 'P', '_', 'P',
				       'R', 'O', 'G', 'R', 'A', 'M' };
	static const uint8_t apar[] = { 0x29 };

	s7c_job(s, t, par, sizeof par, NULL, 0, apar, sizeof apar, NULL, 0);
}

/* PI service P_PROGRAM with no argument: warm restart (the PLC runs) */
static void s7c_start(struct s7c *s, uint64_t t)
{
	static const uint8_t par[] = { 0x28, 0, 0, 0, 0, 0, 0, 0xFD, 0x00,
				       0x00, 9, 'P', '_', 'P', 'R', 'O', 'G',
				       'R', 'A', 'M' };
	static const uint8_t apar[] = { 0x28 };

	s7c_job(s, t, par, sizeof par, NULL, 0, apar, sizeof apar, NULL, 0);
}

/* block control parameter: function, status, reserved, file name
 * "_" + type (2) + number (5) + file system "P" (passive) */
static size_t blk_par(uint8_t *p, uint8_t fc, const char *blk)
{
	size_t n = 0;

	p[n++] = fc;
	p[n++] = 0x00;
	p[n++] = 0x01;
	p[n++] = 0x00;
	memset(p + n, 0, 4);
	n += 4;
	p[n++] = 9;
	p[n++] = '_';
	memcpy(p + n, blk, 7);
	n += 7;
	p[n++] = 'P';
	return n;
}

/*
 * Download the block `blk` ("0800001" = OB1, "0A00010" = DB10) as S7
 * does it: the station's Request Download (load memory and MC7 lengths),
 * the PLC pulls the block with a Download Block job the station answers
 * with the code, then the PLC's Download Ended.
 */
static void s7c_download(struct s7c *s, uint64_t t, const char *blk,
			 uint16_t mc7)
{
	static const uint8_t ack1a[] = { 0x1A };
	static const uint8_t ack1c[] = { 0x1C };
	uint8_t par[64], apar[2] = { 0x1B, 0x00 }, adat[4 + 160];
	char lens[14];
	size_t n = blk_par(par, 0x1A, blk);
	uint16_t load = (uint16_t)(mc7 + 72);

	/* "1" + load memory length (6 digits) + MC7 length (6 digits) */
	lens[0] = '1';
	for (int i = 0; i < 6; i++) {
		lens[6 - i] = (char)('0' + load % 10);
		load /= 10;
	}
	for (int i = 0; i < 6; i++) {
		lens[12 - i] = (char)('0' + mc7 % 10);
		mc7 /= 10;
	}
	par[n++] = 13;
	memcpy(par + n, lens, 13);
	n += 13;
	s7c_job(s, t, par, n, NULL, 0, ack1a, sizeof ack1a, NULL, 0);

	n = blk_par(par, 0x1B, blk);
	put16(adat, 160);
	put16(adat + 2, 0x00FB);
	for (int i = 0; i < 160; i++)
		adat[4 + i] = (uint8_t)rng_next(s->r);
	s7c_plc_job(s, par, n, apar, sizeof apar, adat, sizeof adat);
	n = blk_par(par, 0x1C, blk);
	par[2] = 0x00; /* no error */
	s7c_plc_job(s, par, n, ack1c, sizeof ack1c, NULL, 0);
}

/* PI service _INSE: activate the downloaded block `blk` */
static void s7c_insert(struct s7c *s, uint64_t t, const char *blk)
{
	uint8_t par[32] = { 0x28, 0, 0, 0, 0, 0, 0, 0xFD, 0x00, 0x0A, 0x01,
			    0x00 };
	static const uint8_t apar[] = { 0x28 };
	size_t n = 12;

	memcpy(par + n, blk, 7); /* type (2) + number (5) */
	n += 7;
	par[n++] = 'P';
	par[n++] = 5;
	memcpy(par + n, "_INSE", 5);
	n += 5;
	s7c_job(s, t, par, n, NULL, 0, apar, sizeof apar, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* BACnet/IP                                                           */

#define BACNET_PORT 47808      /* 0xBAC0, Annex J.1 */
#define BVLC_UNICAST 0x0A      /* Original-Unicast-NPDU, J.2 */
#define BVLC_BROADCAST 0x0B    /* Original-Broadcast-NPDU */
#define OBJ(type, inst) (((uint32_t)(type) << 22) | (uint32_t)(inst))
#define OBJ_AI 0
#define OBJ_AV 2
#define OBJ_BO 4
#define OBJ_DEVICE 8
#define PROP_OBJECT_NAME 77
#define PROP_PRESENT_VALUE 85
#define HVAC_DEVICE 3001       /* device instance of BAC-HVAC-01 */

/* BVLC + NPDU (version 1, expecting a reply or not) + APDU, one datagram */
static void bn_send(uint32_t src, uint32_t dst, bool expect_reply,
		    const uint8_t *apdu, size_t n, uint64_t t)
{
	uint8_t b[512];

	b[0] = 0x81; /* BVLC type: BACnet/IP */
	b[1] = dst == BCAST ? BVLC_BROADCAST : BVLC_UNICAST;
	b[4] = 0x01; /* NPDU version, 6.2.1 */
	b[5] = expect_reply ? 0x04 : 0x00;
	memcpy(b + 6, apdu, n);
	put16(b + 2, (uint16_t)(6 + n));
	g_out.cur_cls = CLS_BACNET;
	udp_send(src, BACNET_PORT, dst, BACNET_PORT, b, 6 + n, t);
}

/* application-tagged object identifier (tag 12, length 4) */
static size_t tag_objid(uint8_t *b, uint8_t first, uint32_t oid)
{
	b[0] = first;
	put32(b + 1, oid);
	return 5;
}

/* a confirmed request's header (20.1.2): unsegmented, max APDU 1476 */
static size_t apdu_req(uint8_t *b, uint8_t invoke, uint8_t service)
{
	b[0] = 0x00;
	b[1] = 0x05;
	b[2] = invoke;
	b[3] = service;
	return 4;
}

/*
 * ReadProperty (15.5) of one property and its ComplexACK carrying
 * `value` (already tagged, len bytes), `lat` µs later (or no answer when
 * lat is 0: a silenced device)
 */
static uint64_t bn_read(uint32_t cli, uint32_t srv, uint8_t invoke,
			uint32_t oid, uint8_t prop, const uint8_t *value,
			size_t len, uint64_t t, uint64_t lat)
{
	uint8_t q[32], a[96];
	size_t n = apdu_req(q, invoke, 12);

	n += tag_objid(q + n, 0x0C, oid); /* context 0, length 4 */
	q[n++] = 0x19;                    /* context 1, length 1 */
	q[n++] = prop;
	bn_send(cli, srv, true, q, n, t);
	if (!lat)
		return t;
	a[0] = 0x30; /* ComplexACK */
	a[1] = invoke;
	a[2] = 12;
	n = 3 + tag_objid(a + 3, 0x0C, oid);
	a[n++] = 0x19;
	a[n++] = prop;
	a[n++] = 0x3E; /* opening tag 3: property value */
	memcpy(a + n, value, len);
	n += len;
	a[n++] = 0x3F;
	bn_send(srv, cli, false, a, n, t + lat);
	return t + lat;
}

/* present-value of an analog object: application tag REAL (4) */
static uint64_t bn_read_real(uint32_t cli, uint32_t srv, uint8_t invoke,
			     uint32_t oid, uint32_t bits, uint64_t t,
			     uint64_t lat)
{
	uint8_t v[5] = { 0x44 };

	put32(v + 1, bits);
	return bn_read(cli, srv, invoke, oid, PROP_PRESENT_VALUE, v, 5, t, lat);
}

/* IEEE 754 bits of tenths: 225 -> 22.5f (exact for the values used) */
static uint32_t real_bits(unsigned tenths)
{
	union {
		float f;
		uint32_t u;
	} v = { .f = (float)tenths / 10.0f };
	return v.u;
}

/* Who-Is (16.10), unconfirmed, to everyone */
static void bn_who_is(uint32_t src, uint64_t t)
{
	static const uint8_t a[] = { 0x10, 0x08 };

	bn_send(src, BCAST, false, a, sizeof a, t);
}

/* I-Am (16.10): device id, max APDU 1476, segmentation none (3),
 * vendor id 8 */
static void bn_i_am(uint32_t src, uint32_t dst, uint64_t t)
{
	uint8_t a[24] = { 0x10, 0x00 };
	size_t n = 2 + tag_objid(a + 2, 0xC4, OBJ(OBJ_DEVICE, HVAC_DEVICE));

	a[n++] = 0x22; /* unsigned, 2 bytes */
	a[n++] = 0x05;
	a[n++] = 0xC4;
	a[n++] = 0x91; /* enumerated, 1 byte */
	a[n++] = 0x03;
	a[n++] = 0x21; /* unsigned, 1 byte */
	a[n++] = 0x08;
	bn_send(src, dst, false, a, n, t);
}

/* SimpleACK (20.1.4) of service `svc` */
static void bn_simple_ack(uint32_t src, uint32_t dst, uint8_t invoke,
			  uint8_t svc, uint64_t t)
{
	const uint8_t a[3] = { 0x20, invoke, svc };

	bn_send(src, dst, false, a, sizeof a, t);
}

/* a character string parameter in context tag `tag` (charset 0: UTF-8) */
static size_t tag_ctx_string(uint8_t *b, unsigned tag, const char *s)
{
	size_t l = strlen(s), n = 0;

	b[n++] = (uint8_t)((tag << 4) | 0x08 | 5); /* extended length */
	b[n++] = (uint8_t)(l + 1);
	b[n++] = 0x00;
	memcpy(b + n, s, l);
	return n + l;
}

/* DeviceCommunicationControl (16.1): duration in minutes, disable (1),
 * password */
static void bn_dcc_disable(uint32_t cli, uint32_t srv, uint8_t invoke,
			   uint8_t minutes, const char *password, uint64_t t)
{
	uint8_t q[48];
	size_t n = apdu_req(q, invoke, 17);

	q[n++] = 0x09; /* context 0, unsigned, 1 byte */
	q[n++] = minutes;
	q[n++] = 0x19; /* context 1, enumerated, 1 byte */
	q[n++] = 0x01; /* disable */
	n += tag_ctx_string(q + n, 2, password);
	bn_send(cli, srv, true, q, n, t);
}

/* ReinitializeDevice (16.4): warm start (1), password */
static void bn_reinit(uint32_t cli, uint32_t srv, uint8_t invoke,
		      const char *password, uint64_t t)
{
	uint8_t q[48];
	size_t n = apdu_req(q, invoke, 20);

	q[n++] = 0x09; /* context 0, enumerated, 1 byte */
	q[n++] = 0x01; /* warmstart */
	n += tag_ctx_string(q + n, 1, password);
	bn_send(cli, srv, true, q, n, t);
}

/* SCADA-01's BMS poll of the HVAC controller: supply air temperature
 * (AI1), its set point (AV2) and the fan (BO3), once per `every` from
 * `from` to `to`; `silent_*` a period in which the controller is silenced
 * and answers nothing */
static void hvac_poll(struct rng *r, uint32_t scada, uint32_t hvac,
		      uint64_t from, uint64_t to, uint64_t every,
		      uint64_t silent_from, uint64_t silent_to, uint8_t *invoke)
{
	static const uint8_t fan_on[2] = { 0x91, 0x01 };

	for (uint64_t t = from; t < to; t += every) {
		bool silent = t >= silent_from && t < silent_to;
		uint64_t lat = silent ? 0 : rng_range(r, 2000, 9000);
		uint64_t tt = t + rng_range(r, 0, 20000);

		tt = bn_read_real(scada, hvac, (*invoke)++, OBJ(OBJ_AI, 1),
				  real_bits(220 + rng_below(r, 8)), tt, lat);
		tt = bn_read_real(scada, hvac, (*invoke)++, OBJ(OBJ_AV, 2),
				  real_bits(225), tt + PG_MS(30), lat);
		bn_read(scada, hvac, (*invoke)++, OBJ(OBJ_BO, 3),
			PROP_PRESENT_VALUE, fan_on, sizeof fan_on,
			tt + PG_MS(30), lat);
	}
}

/* ------------------------------------------------------------------ */
/* Generic TCP sessions (SMB, RDP) and ping                            */

/* handshake, `rounds` exchanges of opaque bytes, close */
static uint64_t tcp_session(struct rng *r, uint32_t cli, uint32_t srv,
			    uint16_t port, uint64_t t, int rounds)
{
	struct tcpc c;
	uint8_t b[700];

	tcp_init(&c, r, cli, host_port(cli), srv, port);
	g_out.cur_cls = CLS_OTHER;
	t = tcp_open(&c, t, r);
	for (int i = 0; i < rounds; i++) {
		size_t n = rng_range(r, 80, 600);
		for (size_t k = 0; k < n; k++)
			b[k] = (uint8_t)rng_next(r);
		t += rng_range(r, 2000, 60000);
		tcp_seg(&c, C2S, TH_PSH | TH_ACK, b, n, t);
		t += rng_range(r, 500, 8000);
		tcp_seg(&c, S2C, TH_PSH | TH_ACK, b, n / 2 + 10, t);
	}
	return tcp_close(&c, C2S, t + rng_range(r, 20000, 200000), r);
}

/* ICMP echo request and reply (RFC 792) */
static void ping(uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
		 uint64_t t)
{
	uint8_t m[40];

	memset(m, 0, sizeof m);
	m[0] = 8;
	put16(m + 4, id);
	put16(m + 6, seq);
	for (int i = 8; i < 40; i++)
		m[i] = (uint8_t)('a' + i % 23);
	put16(m + 2, csum_fold(csum_add(0, m, sizeof m)));
	g_out.cur_cls = CLS_OTHER;
	out_emit(src, dst, 1, m, sizeof m, t);
	m[0] = 0;
	put16(m + 2, 0);
	put16(m + 2, csum_fold(csum_add(0, m, sizeof m)));
	out_emit(dst, src, 1, m, sizeof m, t + 700);
}

/* ------------------------------------------------------------------ */
/* The scenarios                                                       */

/*
 * normal-day (S7 and BACnet half, loopback plan), 0-30 s: SCADA-01 reads
 * DB1 of PLC-L2-01 every second on one connection; HMI-L2-01 reads it
 * every second and writes a set point at 14.2 s; SCADA-01 finds the HVAC
 * controller (Who-Is, I-Am) and reads three of its values every 5 s.
 */
static int run_normal_day(int argc, char **argv, uint64_t seed)
{
	static const uint32_t win[] = { SCADA, HMI2 };
	static const uint32_t emb[] = { PLC2, HVAC };
	struct rng r;
	struct s7c sc, hmi;
	uint8_t invoke = 1;

	(void)argc;
	(void)argv;
	lo_plan = true;
	rng_seed(&r, seed);
	plant_hosts(win, 2, emb, 2);

	s7c_open(&sc, &r, at(SCADA), at(PLC2), PG_MS(300));
	for (unsigned k = 1; k < 30; k++)
		s7c_read(&sc, PG_SEC(k) + rng_range(&r, 0, 5000), 16);
	s7c_open(&hmi, &r, at(HMI2), at(PLC2), PG_MS(650));
	for (unsigned k = 1; k < 30; k++) {
		if (k == 14)
			s7c_write(&hmi, PG_MS(14200), 735); /* 73.5 */
		s7c_read(&hmi, PG_SEC(k) + PG_MS(500) + rng_range(&r, 0, 5000), 8);
	}
	s7c_close(&hmi, PG_SEC(30) + PG_MS(100));

	bn_who_is(at(SCADA), PG_MS(900));
	bn_i_am(at(HVAC), BCAST, PG_MS(904));
	hvac_poll(&r, at(SCADA), at(HVAC), PG_SEC(2), PG_SEC(30), PG_SEC(5),
		  0, 0, &invoke);
	return 0;
}

/*
 * recon (S7 half, loopback plan), from 20 s: PC-OFFICE-23 connects to
 * PLC-L2-01, reads the list of SZL ids, the module and component
 * identification, the operating mode and six more SZLs the list offered,
 * lists the blocks and the DBs, and leaves.  No write, no stop: a look
 * around, as S7 scanners do it.
 */
static int run_recon(int argc, char **argv, uint64_t seed)
{
	static const uint32_t win[] = { PC_OFFICE };
	static const uint32_t emb[] = { PLC2 };
	struct rng r;
	struct s7c s;

	(void)argc;
	(void)argv;
	lo_plan = true;
	rng_seed(&r, seed);
	plant_hosts(win, 1, emb, 1);
	s7c_open(&s, &r, at(PC_OFFICE), at(PLC2), PG_SEC(20));
	s7c_szl_list(&s, s.t + PG_MS(150));
	s7c_identify(&s, s.t + PG_MS(150));
	s7c_components(&s, s.t + PG_MS(150));
	s7c_mode(&s, s.t + PG_MS(150), 0x08);
	/* then the ids the list offered: LEDs, one module record,
	 * communication capability, protection level, CPU characteristics,
	 * memory areas ([SFC] record lengths) */
	s7c_szl_plain(&s, s.t + PG_MS(150), 0x0019, 0x0000, 4, 6);
	s7c_szl_plain(&s, s.t + PG_MS(150), 0x0111, 0x0001, 28, 1);
	s7c_szl_plain(&s, s.t + PG_MS(150), 0x0131, 0x0001, 40, 1);
	s7c_szl_plain(&s, s.t + PG_MS(150), 0x0132, 0x0004, 40, 1);
	s7c_szl_plain(&s, s.t + PG_MS(150), 0x0012, 0x0000, 2, 8);
	s7c_szl_plain(&s, s.t + PG_MS(150), 0x0013, 0x0000, 36, 3);
	s7c_blocks(&s, s.t + PG_MS(150));
	s7c_close(&s, s.t + PG_MS(400));
	return 0;
}

/*
 * remote-stop-download: the machine builder's technician, on the VPN
 * (10.99.0.5, remote), first works as agreed: RDP to EWS-01 (allowed).
 * Then, at 40 s, straight from the VPN to PLC-L2-01: identify, PLC STOP,
 * download FC5, activate it, warm restart.  remote has a conduit to hozen
 * only: every S7 operation is outside it.
 */
static int run_remote_stop(int argc, char **argv, uint64_t seed)
{
	static const uint32_t win[] = { VENDOR, EWS };
	static const uint32_t emb[] = { PLC2 };
	struct rng r;
	struct s7c s;

	(void)argc;
	(void)argv;
	lo_plan = false;
	rng_seed(&r, seed);
	plant_hosts(win, 2, emb, 1);
	tcp_session(&r, VENDOR, EWS, 3389, PG_SEC(2), 12);
	s7c_open(&s, &r, VENDOR, PLC2, PG_SEC(40));
	s7c_identify(&s, s.t + PG_MS(300));
	s7c_mode(&s, s.t + PG_MS(200), 0x08);
	s7c_stop(&s, s.t + PG_MS(1500));
	s7c_download(&s, s.t + PG_MS(800), "0C00005", 88);
	s7c_insert(&s, s.t + PG_MS(300), "0C00005");
	s7c_start(&s, s.t + PG_MS(2000));
	s7c_mode(&s, s.t + PG_MS(1500), 0x08);
	s7c_close(&s, s.t + PG_MS(500));
	return 0;
}

/*
 * rogue-laptop: HMI-L2-01 reads PLC-L2-01 as every day.  At 20 s a
 * contractor's laptop (MAC 00:e0:4c, Realtek: a vendor never seen on this
 * line) plugged into line 2's switch with a free address of the line
 * (10.10.2.77) connects, identifies the CPU and downloads OB1, then
 * activates it.  Line 2's zone says intra_zone: policy: inside the line,
 * S7 read/write/discover only; programming comes from hozen.
 */
static int run_rogue_laptop(int argc, char **argv, uint64_t seed)
{
	static const uint8_t realtek[3] = { 0x00, 0xE0, 0x4C };
	static const uint32_t win[] = { HMI2, LAPTOP };
	static const uint32_t emb[] = { PLC2 };
	struct rng r;
	struct s7c hmi, s;

	(void)argc;
	(void)argv;
	lo_plan = false;
	rng_seed(&r, seed);
	host_add_oui(realtek, LAPTOP, 32);
	plant_hosts(win, 2, emb, 1);
	s7c_open(&hmi, &r, HMI2, PLC2, PG_MS(200));
	for (unsigned k = 1; k < 40; k++)
		s7c_read(&hmi, PG_SEC(k) + rng_range(&r, 0, 5000), 8);
	s7c_close(&hmi, PG_SEC(40) + PG_MS(200));

	s7c_open(&s, &r, LAPTOP, PLC2, PG_SEC(20) + PG_MS(300));
	s7c_identify(&s, s.t + PG_MS(400));
	s7c_read(&s, s.t + PG_MS(300), 16);
	s7c_download(&s, s.t + PG_MS(900), "0800001", 124);
	s7c_insert(&s, s.t + PG_MS(400), "0800001");
	s7c_close(&s, s.t + PG_MS(700));
	return 0;
}

/*
 * bacnet-dcc: SCADA-01 reads the HVAC controller every 5 s.  At 21 s
 * PC-OFFICE-23 reads the device's name (ReadProperty object-name of the
 * device object: discovery), disables its communication for 60 minutes
 * (DeviceCommunicationControl, password "hvac"): SCADA's reads go
 * unanswered.  At 37 s it restarts the controller (ReinitializeDevice
 * warm start), which announces itself (I-Am broadcast) and answers again.
 */
static int run_bacnet_dcc(int argc, char **argv, uint64_t seed)
{
	static const uint32_t win[] = { SCADA, PC_OFFICE };
	static const uint32_t emb[] = { HVAC };
	static const uint8_t name[] = { 0x75, 0x0C, 0x00, 'B', 'A', 'C', '-',
					'H', 'V', 'A', 'C', '-', '0', '1' };
	uint8_t inv_scada = 1, inv_pc = 40;
	struct rng r;

	(void)argc;
	(void)argv;
	lo_plan = false;
	rng_seed(&r, seed);
	plant_hosts(win, 2, emb, 1);
	hvac_poll(&r, SCADA, HVAC, PG_SEC(1), PG_SEC(60), PG_SEC(5),
		  PG_SEC(21) + PG_MS(500), PG_SEC(37) + PG_MS(500), &inv_scada);

	bn_read(PC_OFFICE, HVAC, inv_pc, OBJ(OBJ_DEVICE, HVAC_DEVICE),
		PROP_OBJECT_NAME, name, sizeof name, PG_SEC(21), 4000);
	bn_dcc_disable(PC_OFFICE, HVAC, ++inv_pc, 60, "hvac",
		       PG_SEC(21) + PG_MS(400));
	bn_simple_ack(HVAC, PC_OFFICE, inv_pc, 17, PG_SEC(21) + PG_MS(405));
	bn_reinit(PC_OFFICE, HVAC, ++inv_pc, "hvac", PG_SEC(37));
	bn_simple_ack(HVAC, PC_OFFICE, inv_pc, 20, PG_SEC(37) + PG_MS(6));
	bn_i_am(HVAC, BCAST, PG_SEC(37) + PG_MS(450));
	return 0;
}

/*
 * lateral: PC-OFFICE-23 (joho), taken over, looks up the file server
 * (DNS, inside joho: allowed), pings HMI-L1-01, opens SMB to it twice and
 * RDP once: no conduit leads from joho into line 1, whatever the
 * protocol.  For contrast EWS-01 (hozen) RDPs to the same HMI: allowed.
 */
static int run_lateral(int argc, char **argv, uint64_t seed)
{
	static const uint32_t win[] = { PC_OFFICE, EWS, HMI1 };
	struct rng r;
	uint64_t t;

	(void)argc;
	(void)argv;
	lo_plan = false;
	rng_seed(&r, seed);
	plant_hosts(win, 3, NULL, 0);
	tcp_session(&r, EWS, HMI1, 3389, PG_SEC(1), 10);
	dns_lookup(&r, PC_OFFICE, DNS_SRV, "filesrv-01.kojo.example", FILESRV,
		   PG_SEC(10));
	tcp_session(&r, PC_OFFICE, FILESRV, 445, PG_SEC(11), 4);
	for (int i = 0; i < 3; i++)
		ping(PC_OFFICE, HMI1, 0x0301, (uint16_t)(i + 1),
		     PG_SEC(20) + PG_SEC(1) * (uint64_t)i);
	t = tcp_session(&r, PC_OFFICE, HMI1, 445, PG_SEC(25), 3);
	t = tcp_session(&r, PC_OFFICE, HMI1, 445, t + PG_SEC(2), 6);
	tcp_session(&r, PC_OFFICE, HMI1, 3389, t + PG_SEC(5), 15);
	return 0;
}

/*
 * midstream-stop: SCADA-01 has had its S7 connection to PLC-L2-01 open
 * since before the capture starts (handshake, COTP, setup: not in it).
 * It reads DB1 every second and the operating mode every 10 s.  The
 * capture starts at 5.3 s; the span port loses the PLC's answer at 8 s
 * and SCADA's read request at 15 s; at 15.4 s SCADA sends PLC STOP (the
 * attacker in SCADA-01 uses its connection), at 20 s the mode reads
 * STOP.  The capture ends with the connection still open.
 */
static int run_midstream_stop(int argc, char **argv, uint64_t seed)
{
	static const uint32_t win[] = { SCADA };
	static const uint32_t emb[] = { PLC2 };
	struct rng r;
	struct s7c s;
	bool stopped = false;

	(void)argc;
	(void)argv;
	lo_plan = false;
	rng_seed(&r, seed);
	plant_hosts(win, 1, emb, 1);
	s7c_open(&s, &r, SCADA, PLC2, PG_MS(100));
	g_out.cut = PG_MS(5300);
	for (unsigned k = 1; k <= 25; k++) {
		uint64_t t = PG_SEC(k) + rng_range(&r, 0, 5000);
		if (k == 8)
			s.lose_answer = true;
		if (k == 15)
			s.c.drop_next = true; /* the request is lost */
		s7c_read(&s, t, 16);
		if (k == 15) {
			s7c_stop(&s, PG_MS(15400));
			stopped = true;
		}
		if (k % 10 == 0)
			s7c_mode(&s, t + PG_MS(300), stopped ? 0x04 : 0x08);
	}
	return 0;
}

const struct gen_scenario gen_scenario_scenarios[] = {
	{ "sc-normal-day", "", "exercise kit: normal day, S7 + BACnet part "
	  "(loopback plan)", run_normal_day, false },
	{ "sc-recon", "", "exercise kit: reconnaissance, S7 part (loopback "
	  "plan)", run_recon, false },
	{ "sc-remote-stop", "", "exercise kit: PLC STOP and download from "
	  "remote maintenance", run_remote_stop, false },
	{ "sc-rogue-laptop", "", "exercise kit: brought-in laptop downloads "
	  "OB1 in line 2", run_rogue_laptop, false },
	{ "sc-bacnet-dcc", "", "exercise kit: BACnet DCC disable and "
	  "reinitialize of the HVAC", run_bacnet_dcc, false },
	{ "sc-lateral", "", "exercise kit: SMB, RDP and ping from IT into "
	  "line 1", run_lateral, false },
	{ "sc-midstream-stop", "", "exercise kit: mid-stream capture, lost "
	  "segments, PLC STOP", run_midstream_stop, false },
	{ NULL, NULL, NULL, NULL, false },
};
