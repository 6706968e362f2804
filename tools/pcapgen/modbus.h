/*
 * modbus.h - the Modbus/TCP model scenarios share: a server device with a
 * register map, request PDU builders, and a client session over one TCP
 * connection (modbus.c).
 */
#ifndef PCAPGEN_MODBUS_H
#define PCAPGEN_MODBUS_H

#include "gen.h"

/* ------------------------------------------------------------------ */
/* Modbus server: a register map answered like libmodbus' modbus_reply(),
 * plus the functions libmodbus does not serve but real devices do
 * (FC 8 diagnostics, FC 43/14 device identification, FC 90 UMAS).
 * Function codes: MODBUS Application Protocol Specification V1.1b3, 6.x. */

#define MB_FC_READ_COILS 0x01
#define MB_FC_READ_DISCRETE_INPUTS 0x02
#define MB_FC_READ_HOLDING_REGISTERS 0x03
#define MB_FC_READ_INPUT_REGISTERS 0x04
#define MB_FC_WRITE_SINGLE_COIL 0x05
#define MB_FC_WRITE_SINGLE_REGISTER 0x06
#define MB_FC_DIAGNOSTICS 0x08
#define MB_FC_WRITE_MULTIPLE_COILS 0x0F
#define MB_FC_WRITE_MULTIPLE_REGISTERS 0x10
#define MB_FC_ENCAPSULATED_INTERFACE 0x2B /* MEI type 14: device id */
#define MB_FC_UMAS 0x5A                   /* Schneider vendor function */

#define MB_EX_ILLEGAL_FUNCTION 0x01
#define MB_EX_ILLEGAL_DATA_ADDRESS 0x02
#define MB_EX_ILLEGAL_DATA_VALUE 0x03

#define UMAS_STOP_PLC 0x41
#define UMAS_RSP_OK 0xFE

#define MB_MAX_REGS 512
#define MB_MAX_BITS 256

struct mbdev {
	uint16_t n_co, n_di, n_hr, n_ir; /* map sizes, from address 0 */
	uint8_t co[MB_MAX_BITS], di[MB_MAX_BITS];
	uint16_t hr[MB_MAX_REGS], ir[MB_MAX_REGS];
	const char *vendor, *product, *revision; /* FC 43/14 objects 0..2 */
	bool umas;       /* answers FC 90 */
	uint8_t umas_key;
	bool running;
	struct rng r;
};

/* a device with maps of n_co coils, n_di inputs, n_hr holding and n_ir input
 * registers from address 0, values drawn from `seed`; running, no id/UMAS */
void mbdev_init(struct mbdev *d, uint64_t seed, uint16_t n_co, uint16_t n_di,
		uint16_t n_hr, uint16_t n_ir);

/* request PDU builders: return the PDU length written to b */
/* fc + address + value/quantity (FC 1-6, FC 8 sub-function + data) */
size_t mbq_rw(uint8_t *b, uint8_t fc, unsigned addr, unsigned v);
/* FC 16: qty registers from v[] */
size_t mbq_write_regs(uint8_t *b, unsigned addr, const uint16_t *v,
		      unsigned qty);
/* FC 15: qty coils from the low bits of `bits` */
size_t mbq_write_coils(uint8_t *b, unsigned addr, unsigned qty, uint32_t bits);
/* FC 43/14: read basic device identification, stream access */
size_t mbq_devid(uint8_t *b);

/* A Modbus/TCP client session over one TCP connection. */
struct mbs {
	struct tcpc tc;
	struct mbdev *dev;
	uint16_t tid;     /* next transaction id */
	uint8_t unit;
	uint64_t ack_due; /* client owes a delayed ACK at this time (0: none) */
	uint32_t srv_min, srv_max; /* server response time, µs */
	struct rng *r;
};

/* one exchange: `nreq` requests in one segment (pipelined when > 1), the
 * server's responses in one segment.  split_q / split_r > 0 cut the request /
 * response segment after that many bytes (the rest follows 0.3-1 ms later).
 * Returns the time of the last response byte. */
struct mbx {
	const uint8_t *pdu[4];
	size_t len[4];
	int n;
	size_t split_q, split_r;
	bool no_response;
};

/* a session from cip (next ephemeral port) to sip:502, served by dev,
 * first transaction id tid, random numbers from r */
void mbs_init(struct mbs *s, struct rng *r, struct mbdev *dev, uint32_t cip,
	      uint32_t sip, uint16_t tid);
/* handshake at ts (class Modbus); returns the time of its last packet */
uint64_t mbs_open(struct mbs *s, uint64_t ts);
/* emit the client's delayed ACK if it falls before ts; clears it */
void mbs_ack(struct mbs *s, uint64_t ts);
/* one exchange (see struct mbx); returns the time of the last response */
uint64_t mbs_exchange(struct mbs *s, uint64_t ts, const struct mbx *x);
/* one request PDU, one response; returns the time of the response */
uint64_t mbs_xact(struct mbs *s, uint64_t ts, const uint8_t *pdu, size_t n);
/* one read request (FC 1-4) and its response */
uint64_t mbs_read(struct mbs *s, uint64_t ts, uint8_t fc, unsigned addr,
		  unsigned qty);
/* pending delayed ACK, then the client closes; returns the last time */
uint64_t mbs_close(struct mbs *s, uint64_t ts);

#endif
