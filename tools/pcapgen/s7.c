/*
 * s7.c - S7comm: packet builders, and the S7comm scenarios (none yet; the
 * bench scenario uses the builders).
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

/* S7comm scenarios: add {"name", "[--opt N]", "help", run_name, false}
 * before the terminator (see main.c) */
const struct gen_scenario gen_s7_scenarios[] = {
	{NULL},
};
