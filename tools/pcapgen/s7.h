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

/* TCP handshake from cli to plc:102 at t, COTP CR/CC (TSAPs 0x0100 PG and
 * 0x0102 rack 0 slot 2, TPDU 1024), Setup Communication as job `ref` (the
 * PLC grants 240 bytes); returns the time of the last packet */
uint64_t s7_connect(struct tcpc *c, struct rng *r, uint32_t cli, uint32_t plc,
		    uint16_t ref, uint64_t t);

#endif
