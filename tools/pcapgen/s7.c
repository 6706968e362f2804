/*
 * s7.c - S7comm: packet builders (the bench scenario uses them too), and
 * the S7comm scenarios:
 *
 *   s7-zones    the same engineering session (connect, setup, SZL read,
 *               read var, PLC STOP, block download) from SCADA-01
 *               (seisan_kanri: its conduit allows s7comm read/discover
 *               only) and from EWS-01 (hozen: allowed anything) to
 *               PLC-L2-01, for tests/integration/test_s7comm_zones.sh
 *   s7-session  the sample capture pcaps/s7comm/s7-session.pcap: EWS-01
 *               connects, identifies the CPU, reads and writes, downloads
 *               DB10 (the block's answer in two COTP data units), activates
 *               it and stops the PLC (see pcaps/s7comm/README.md)
 *
 * Layouts: RFC 1006 (TPKT), X.224 (COTP) and the S7 layouts documented in
 * dissectors/s7comm.c.
 */
#include <string.h>

#include "gen.h"
#include "s7.h"

/* S7comm: TPKT (RFC 1006) + COTP (ISO 8073) + S7 header (protocol id 0x32) */
size_t s7_tpkt(uint8_t *b, const uint8_t *cotp_s7, size_t n)
{
	b[0] = 3; /* TPKT version */
	b[1] = 0;
	put16(b + 2, (uint16_t)(4 + n));
	memcpy(b + 4, cotp_s7, n);
	return 4 + n;
}

/* COTP DT + S7 header; ack_data (rosctr 3) carries error class/code */
size_t s7_pdu(uint8_t *b, uint8_t rosctr, uint16_t ref, const uint8_t *par,
	      size_t plen, const uint8_t *dat, size_t dlen)
{
	uint8_t m[512];
	size_t k = 0;
	m[k++] = 0x02; /* COTP length */
	m[k++] = 0xF0; /* DT data */
	m[k++] = 0x80; /* TPDU number 0, last data unit */
	m[k++] = 0x32; /* S7 protocol id */
	m[k++] = rosctr;
	put16(m + k, 0);
	k += 2;
	put16(m + k, ref);
	k += 2;
	put16(m + k, (uint16_t)plen);
	k += 2;
	put16(m + k, (uint16_t)dlen);
	k += 2;
	if (rosctr == 3) {
		m[k++] = 0; /* error class */
		m[k++] = 0; /* error code */
	}
	memcpy(m + k, par, plen);
	k += plen;
	if (dlen)
		memcpy(m + k, dat, dlen);
	k += dlen;
	return s7_tpkt(b, m, k);
}

uint64_t s7_send(struct tcpc *c, int dir, const uint8_t *b, size_t n,
		 uint64_t t)
{
	g_out.cur_cls = CLS_S7;
	tcp_seg(c, dir, TH_PSH | TH_ACK, b, n, t);
	return t;
}

uint64_t s7_connect(struct tcpc *c, struct rng *r, uint32_t cli, uint32_t plc,
		    uint16_t ref, uint64_t t)
{
	static const uint8_t cr[] = { 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00,
				      0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
				      0xC2, 0x02, 0x01, 0x02 };
	static const uint8_t cc[] = { 0x11, 0xD0, 0x00, 0x01, 0x00, 0x44, 0x00,
				      0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
				      0xC2, 0x02, 0x01, 0x02 };
	/* function F0, reserved, AmQ calling 1, called 1, PDU size */
	static const uint8_t setup_q[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
					   0x01, 0xE0 };
	static const uint8_t setup_a[] = { 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
					   0x00, 0xF0 };
	uint8_t b[64];

	tcp_init(c, r, cli, host_port(cli), plc, 102);
	g_out.cur_cls = CLS_S7;
	t = tcp_open(c, t, r) + 500;
	s7_send(c, C2S, b, s7_tpkt(b, cr, sizeof cr), t);
	t += rng_range(r, 1000, 4000); /* the PLC answers after 1..4 ms */
	s7_send(c, S2C, b, s7_tpkt(b, cc, sizeof cc), t);
	t += rng_range(r, 20000, 80000);
	s7_send(c, C2S, b, s7_pdu(b, 1, ref, setup_q, sizeof setup_q, NULL, 0),
		t);
	t += rng_range(r, 1000, 4000);
	s7_send(c, S2C, b, s7_pdu(b, 3, ref, setup_a, sizeof setup_a, NULL, 0),
		t);
	return t;
}

/* ------------------------------------------------------------------ */
/* A client session: one TCP connection, jobs and their answers          */

#define S7_SCADA PG_IP(10, 3, 0, 10)  /* SCADA-01, seisan_kanri */
#define S7_EWS PG_IP(10, 4, 0, 10)    /* EWS-01, hozen */
#define S7_PLC PG_IP(10, 10, 2, 10)   /* PLC-L2-01, seigyo_line2 */

struct s7s {
	struct tcpc c;
	struct rng *r;
	uint16_t ref;  /* next PDU reference */
	uint64_t t;
};

/* the PLC answers after 1..4 ms, the client's next job follows later */
static uint64_t plc_delay(struct s7s *s)
{
	return rng_range(s->r, 1000, 4000);
}

/* a job and its ack_data (error 0/0) */
static void s7s_job(struct s7s *s, const uint8_t *par, size_t pl,
		    const uint8_t *dat, size_t dl, const uint8_t *apar,
		    size_t apl, const uint8_t *adat, size_t adl)
{
	uint8_t b[600];
	uint16_t ref = s->ref++;

	s->t += rng_range(s->r, 20000, 80000);
	s7_send(&s->c, C2S, b, s7_pdu(b, 1, ref, par, pl, dat, dl), s->t);
	s->t += plc_delay(s);
	s7_send(&s->c, S2C, b, s7_pdu(b, 3, ref, apar, apl, adat, adl), s->t);
}

/* a job the PLC sends (it pulls a block), answered by the station */
static void s7s_plc_job(struct s7s *s, const uint8_t *par, size_t pl,
			const uint8_t *apar, size_t apl, const uint8_t *adat,
			size_t adl, bool fragment)
{
	uint8_t b[600];
	uint16_t ref = s->ref++;

	s->t += plc_delay(s);
	s7_send(&s->c, S2C, b, s7_pdu(b, 1, ref, par, pl, NULL, 0), s->t);
	s->t += rng_range(s->r, 1000, 3000);
	if (!fragment) {
		s7_send(&s->c, C2S, b, s7_pdu(b, 3, ref, apar, apl, adat, adl),
			s->t);
		return;
	}
	/* the answer's S7 PDU, cut after 60 bytes into two COTP DT units */
	size_t len = s7_pdu(b, 3, ref, apar, apl, adat, adl);
	const uint8_t *pdu = b + 7; /* past TPKT + COTP DT header */
	size_t pdul = len - 7, cut = 60;
	uint8_t u[300], f[300];
	u[0] = 0x02;
	u[1] = 0xF0;
	u[2] = 0x00; /* TPDU 0, more follow */
	memcpy(u + 3, pdu, cut);
	s7_send(&s->c, C2S, f, s7_tpkt(f, u, 3 + cut), s->t);
	u[2] = 0x81; /* TPDU 1, last */
	memcpy(u + 3, pdu + cut, pdul - cut);
	s->t += 200;
	s7_send(&s->c, C2S, f, s7_tpkt(f, u, 3 + pdul - cut), s->t);
}

/* a userdata request and its response (same PDU reference) */
static void s7s_ud(struct s7s *s, const uint8_t *par, size_t pl,
		   const uint8_t *dat, size_t dl, const uint8_t *rpar,
		   size_t rpl, const uint8_t *rdat, size_t rdl)
{
	uint8_t b[600];
	uint16_t ref = s->ref++;

	s->t += rng_range(s->r, 20000, 80000);
	s7_send(&s->c, C2S, b, s7_pdu(b, 7, ref, par, pl, dat, dl), s->t);
	s->t += plc_delay(s);
	s7_send(&s->c, S2C, b, s7_pdu(b, 7, ref, rpar, rpl, rdat, rdl), s->t);
}

/* TCP open, COTP CR/CC (TSAPs 0x0100 PG and 0x0102 rack 0 slot 2, TPDU
 * 1024), Setup Communication (the PLC grants 240 bytes) */
static void s7s_open(struct s7s *s, struct rng *r, uint32_t cli, uint64_t t)
{
	s->r = r;
	s->ref = 0x0100;
	s->t = s7_connect(&s->c, r, cli, S7_PLC, s->ref++, t);
}

static void s7s_close(struct s7s *s)
{
	g_out.cur_cls = CLS_S7;
	tcp_close(&s->c, C2S, s->t + PG_MS(50), s->r);
}

/* userdata read SZL id/index, answered with `rec` records of `rlen` */
static void s7s_szl(struct s7s *s, uint16_t id, const uint8_t *recs,
		    uint16_t rlen, uint16_t count)
{
	/* head 000112, length 4, method request, type 4 / group 4 (CPU),
	 * sub-function 1 (read SZL), sequence 0 */
	static const uint8_t par[] = { 0x00, 0x01, 0x12, 0x04, 0x11, 0x44,
				       0x01, 0x00 };
	/* the response form: length 8, type 8, data unit 0, last unit */
	static const uint8_t rpar[] = { 0x00, 0x01, 0x12, 0x08, 0x12, 0x84,
					0x01, 0x01, 0x00, 0x00, 0x00, 0x00 };
	uint8_t dat[8] = { 0xFF, 0x09, 0x00, 0x04 }, rdat[512];
	size_t n = (size_t)rlen * count;

	put16(dat + 4, id);
	put16(dat + 6, 0);
	rdat[0] = 0xFF; /* success */
	rdat[1] = 0x09; /* octet string */
	put16(rdat + 2, (uint16_t)(8 + n));
	put16(rdat + 4, id);
	put16(rdat + 6, 0);
	put16(rdat + 8, rlen);
	put16(rdat + 10, count);
	memcpy(rdat + 12, recs, n);
	s7s_ud(s, par, sizeof par, dat, sizeof dat, rpar, sizeof rpar, rdat,
	       12 + n);
}

/* SZL 0x0424 answer: ereig, ae, bzu-id (low nibble: 8 RUN, 4 STOP) */
static void s7s_cpu_mode(struct s7s *s, uint8_t mode)
{
	uint8_t rec[20] = { 0x51, 0x44, 0xFF, mode };
	s7s_szl(s, 0x0424, rec, sizeof rec, 1);
}

/* read var: DB1, 4 bytes from byte 0 */
static void s7s_read(struct s7s *s)
{
	static const uint8_t par[] = { 0x04, 0x01, 0x12, 0x0A, 0x10, 0x02,
				       0x00, 0x04, 0x00, 0x01, 0x84, 0x00,
				       0x00, 0x00 };
	static const uint8_t apar[] = { 0x04, 0x01 };
	uint8_t dat[8] = { 0xFF, 0x04, 0x00, 0x20 };
	for (int i = 4; i < 8; i++)
		dat[i] = (uint8_t)rng_next(s->r);
	s7s_job(s, par, sizeof par, NULL, 0, apar, sizeof apar, dat, sizeof dat);
}

/* write var: DB1 byte 4, one WORD */
static void s7s_write(struct s7s *s, uint16_t v)
{
	static const uint8_t par[] = { 0x05, 0x01, 0x12, 0x0A, 0x10, 0x04,
				       0x00, 0x01, 0x00, 0x01, 0x84, 0x00,
				       0x00, 0x20 };
	static const uint8_t apar[] = { 0x05, 0x01 };
	static const uint8_t adat[] = { 0xFF };
	uint8_t dat[6] = { 0x00, 0x04, 0x00, 0x10 };
	put16(dat + 4, v);
	s7s_job(s, par, sizeof par, dat, sizeof dat, apar, sizeof apar, adat,
		sizeof adat);
}

/* PLC STOP: function 29, 5 bytes, "P_PROGRAM" */
static void s7s_stop(struct s7s *s)
{
	static const uint8_t par[] = { 0x29, 0, 0, 0, 0, 0, 9, 'P', '_', 'P',
				       'R', 'O', 'G', 'R', 'A', 'M' };
	static const uint8_t apar[] = { 0x29 };
	s7s_job(s, par, sizeof par, NULL, 0, apar, sizeof apar, NULL, 0);
}

/* block control parameter: function, status, 2 + 4 bytes, "_0A00010P" */
static size_t blk_par(uint8_t *p, uint8_t fc)
{
	static const char name[] = "_0A00010P"; /* DB10, passive */
	size_t n = 0;
	p[n++] = fc;
	p[n++] = 0x00;
	p[n++] = 0x01;
	p[n++] = 0x00;
	memset(p + n, 0, 4);
	n += 4;
	p[n++] = 9;
	memcpy(p + n, name, 9);
	n += 9;
	return n;
}

/*
 * Download DB10 as S7 does it: the station's request download (load
 * memory 000118, MC7 000046 bytes); then the PLC pulls the block with
 * download block jobs, the station's answer carrying it (with `fragment`
 * in two COTP data units); then the PLC's download ended.
 */
static void s7s_download(struct s7s *s, bool fragment)
{
	uint8_t par[64];
	size_t n = blk_par(par, 0x1A);
	static const char part2[] = "1000118000046";
	par[n++] = 13;
	memcpy(par + n, part2, 13);
	n += 13;
	static const uint8_t ack1a[] = { 0x1A };
	s7s_job(s, par, n, NULL, 0, ack1a, sizeof ack1a, NULL, 0);

	n = blk_par(par, 0x1B);
	uint8_t apar[2] = { 0x1B, 0x00 }, adat[4 + 118];
	put16(adat, 118);
	put16(adat + 2, 0x00FB);
	for (int i = 0; i < 118; i++)
		adat[4 + i] = (uint8_t)rng_next(s->r);
	s7s_plc_job(s, par, n, apar, sizeof apar, adat, sizeof adat, fragment);
	n = blk_par(par, 0x1C);
	par[2] = 0x00; /* no error */
	static const uint8_t ack1c[] = { 0x1C };
	s7s_plc_job(s, par, n, ack1c, sizeof ack1c, NULL, 0, false);
}

/* PI _INSE DB10: activate the downloaded block */
static void s7s_insert(struct s7s *s)
{
	static const uint8_t par[] = {
		0x28, 0, 0, 0, 0, 0, 0, 0xFD, 0x00, 0x0A, 0x01, 0x00,
		'0', 'A', '0', '0', '0', '1', '0', 'P', 5, '_', 'I', 'N', 'S',
		'E' };
	static const uint8_t apar[] = { 0x28 };
	s7s_job(s, par, sizeof par, NULL, 0, apar, sizeof apar, NULL, 0);
}

/* SZL 0x0011: order number (index 1) and firmware V3.2.6 (index 7) */
static void s7s_identify(struct s7s *s)
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
	rec[54] = 2;
	rec[55] = 6;
	s7s_szl(s, 0x0011, rec, 28, 2);
}

static void hosts_setup(void)
{
	static const uint8_t siemens[3] = { 0x00, 0x1B, 0x1B };
	host_add_oui(siemens, S7_PLC, 32);
	host_windows(S7_SCADA);
	host_windows(S7_EWS);
	host_embedded(S7_PLC, 4096);
}

/* the same session from SCADA-01 and then from EWS-01 */
static int run_zones(int argc, char **argv, uint64_t seed)
{
	struct rng r;
	(void)argc;
	(void)argv;
	rng_seed(&r, seed);
	hosts_setup();
	const uint32_t from[2] = { S7_SCADA, S7_EWS };
	for (int i = 0; i < 2; i++) {
		struct s7s s;
		uint64_t t0 = PG_MS(100) + PG_SEC(10) * (uint64_t)i;
		out_flush(t0);
		s7s_open(&s, &r, from[i], t0);
		s7s_identify(&s);
		s7s_read(&s);
		s7s_stop(&s);
		s7s_download(&s, false);
		s7s_close(&s);
	}
	return 0;
}

/* the sample capture of pcaps/s7comm (see its README.md) */
static int run_session(int argc, char **argv, uint64_t seed)
{
	struct rng r;
	struct s7s s;
	(void)argc;
	(void)argv;
	rng_seed(&r, seed);
	hosts_setup();
	s7s_open(&s, &r, S7_EWS, PG_MS(100));
	s7s_identify(&s);
	s7s_cpu_mode(&s, 0x08);    /* RUN */
	s7s_read(&s);
	s7s_write(&s, 0x1234);
	s7s_download(&s, true);
	s7s_insert(&s);
	s7s_stop(&s);
	s7s_cpu_mode(&s, 0x04);    /* STOP */
	s7s_close(&s);
	return 0;
}

/* S7comm scenarios: add {"name", "[--opt N]", "help", run_name, false}
 * before the terminator (see main.c) */
const struct gen_scenario gen_s7_scenarios[] = {
	{ "s7-zones", "", "S7 session (setup, SZL, read, PLC STOP, download) "
	  "from SCADA-01 and from EWS-01 to PLC-L2-01", run_zones, false },
	{ "s7-session", "", "sample S7 engineering session EWS-01 -> PLC-L2-01 "
	  "(pcaps/s7comm)", run_session, false },
	{NULL},
};
