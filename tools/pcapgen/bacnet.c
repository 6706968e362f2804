/*
 * bacnet.c - BACnet/IP: packet builders, and the BACnet scenarios (none
 * yet; the bench scenario uses the builders).
 */
#include "bacnet.h"
#include "gen.h"

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

/* BACnet scenarios: add {"name", "[--opt N]", "help", run_name, false}
 * before the terminator (see main.c) */
const struct gen_scenario gen_bacnet_scenarios[] = {
	{NULL},
};
