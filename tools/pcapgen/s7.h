/*
 * s7.h - S7comm packet builders (s7.c): TPKT (RFC 1006) + COTP (ISO 8073)
 * + S7 header (protocol id 0x32).
 */
#ifndef PCAPGEN_S7_H
#define PCAPGEN_S7_H

#include "gen.h"

/* TPKT header + n bytes of COTP (+ S7) into b; returns the length */
size_t s7_tpkt(uint8_t *b, const uint8_t *cotp_s7, size_t n);
/* TPKT + COTP DT + S7 header (rosctr 1 job, 3 ack_data with error 0/0),
 * parameters and data into b; returns the length */
size_t s7_pdu(uint8_t *b, uint8_t rosctr, uint16_t ref, const uint8_t *par,
	      size_t plen, const uint8_t *dat, size_t dlen);
/* one PSH/ACK segment of class S7 carrying b; returns t */
uint64_t s7_send(struct tcpc *c, int dir, const uint8_t *b, size_t n,
		 uint64_t t);

#endif
