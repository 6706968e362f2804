/*
 * bacnet.h - BACnet/IP packet builders (bacnet.c).
 */
#ifndef PCAPGEN_BACNET_H
#define PCAPGEN_BACNET_H

#include "gen.h"

/* BVLC original-unicast-NPDU + NPDU + confirmed ReadProperty(present-value)
 * of object `oid` (ack false), or its ComplexACK with the REAL value_bits
 * (ack true), into b; returns the length */
size_t bacnet_msg(uint8_t *b, bool ack, uint8_t invoke, uint32_t oid,
		  uint32_t value_bits);

#endif
