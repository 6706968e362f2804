/*
 * gen.h - the core every pcapgen scenario module shares: PRNG, hosts,
 * checksums, the time-ordered packet output, UDP and the TCP connection
 * model, and the scenario registration type.
 *
 * Everything is deterministic: a fixed start time (2026-04-01T08:00:00Z), a
 * fixed PRNG seed (xorshift64*), and no reading of clocks or the environment.
 * The same command writes the same bytes.  A scenario must keep it so: draw
 * every random number from a struct rng seeded from the `seed` it is given.
 *
 * What is realistic (the sensor must cope with it exactly as with a span
 * port): TCP three-way handshakes, correct sequence and acknowledgement
 * numbers, delayed ACKs, FIN closes, IPv4 header and TCP/UDP checksums
 * correct, IP ids incrementing per sending host, one MAC per host
 * (02:00:a:b:c:d from the IPv4 address a.b.c.d, or a vendor OUI + the low
 * three address bytes).
 *
 * How packets get out in time order: every flow is generated whole, its
 * packets go into a min-heap keyed by (timestamp, emission order); before a
 * flow that starts at time T is generated, call out_flush(T): every packet
 * earlier than T is written (no later flow may put anything before T).  IP
 * ids and the IPv4 header checksum are filled in at write time, so ids
 * increase in capture order per host even though flows are generated one by
 * one.
 */
#ifndef PCAPGEN_GEN_H
#define PCAPGEN_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_T0_SEC 1775030400u /* 2026-04-01T08:00:00Z */
#define PG_MS(x) ((uint64_t)(x) * 1000u)
#define PG_SEC(x) ((uint64_t)(x) * 1000000u)
#define PG_IP(a, b, c, d)                                                      \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | \
	 (uint32_t)(d))

#define PG_SNAPLEN 65535
#define PG_MAX_L4 1600 /* largest TCP/UDP segment we build (MSS 1460 + hdr) */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* ------------------------------------------------------------------ */
/* Scenarios.  Each module exports a {NULL}-terminated table; main.c walks
 * gen_modbus_scenarios, gen_bench_scenarios, gen_s7_scenarios,
 * gen_bacnet_scenarios, gen_generic_scenarios, gen_scenario_scenarios,
 * gen_attacks_scenarios and gen_baseline_scenarios (a name must be unique
 * across all of them). */

struct gen_scenario {
	const char *name;  /* pcapgen NAME OUT.pcap */
	const char *usage; /* its options, e.g. "[--packets N]" ("" for none);
			    * an --option named in any usage is accepted on
			    * the command line (scenarios ignore others') */
	const char *help;  /* one line for --help */
	/* generate into the open output: argv holds the scenario's own
	 * options as argc/2 "--name value" pairs (read them with
	 * gen_opt_num); returns the exit status */
	int (*run)(int argc, char **argv, uint64_t seed);
	bool class_summary; /* summary line adds packets per traffic class */
};

extern const struct gen_scenario gen_modbus_scenarios[], gen_bench_scenarios[],
	gen_s7_scenarios[], gen_bacnet_scenarios[], gen_generic_scenarios[],
	gen_scenario_scenarios[], gen_attacks_scenarios[],
	gen_baseline_scenarios[];

/* value of option `name` among a scenario's argc/argv pairs (the last one
 * given wins), `def` when absent; dies when it is not a number */
unsigned long gen_opt_num(int argc, char **argv, const char *name,
			  unsigned long def);
/* strtoul for an option value; dies naming `opt` when `s` is not a number */
unsigned long parse_num(const char *opt, const char *s);

/* ------------------------------------------------------------------ */
/* Helpers */

/* print "pcapgen: " + message to stderr and exit(1) */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* malloc that dies when out of memory */
void *xmalloc(size_t n);
/* calloc that dies when out of memory */
void *xcalloc(size_t n, size_t sz);
/* store v big-endian at b[0..1] */
void put16(uint8_t *b, uint16_t v);
/* store v big-endian at b[0..3] */
void put32(uint8_t *b, uint32_t v);
/* read a big-endian 16-bit value at b[0..1] */
uint16_t get16(const uint8_t *b);

/* ------------------------------------------------------------------ */
/* PRNG: xorshift64* (Vigna 2014).  Small, fast, and the same on every
 * platform, unlike rand(). */

struct rng {
	uint64_t s;
};

/* next 64 random bits */
uint64_t rng_next(struct rng *r);
/* seed the generator (0 is replaced by a fixed non-zero state) */
void rng_seed(struct rng *r, uint64_t seed);
/* uniform in [0, n) (the modulo bias is irrelevant here); 0 when n is 0 */
uint32_t rng_below(struct rng *r, uint32_t n);
/* uniform in [lo, hi] */
uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi);
/* true with probability pct % */
bool rng_pct(struct rng *r, unsigned pct);
/* 32-bit integer hash (a fixed function, not a random stream) */
uint32_t mix32(uint32_t x);

/* ------------------------------------------------------------------ */
/* Hosts: MAC, TTL, TCP window, delayed-ACK time, IP id counter, next
 * ephemeral port.  Created on first use; OUI rules must be set before. */

struct host {
	uint32_t ip;
	bool used;
	uint8_t ttl;
	uint8_t mac[6];
	uint16_t ipid;
	uint16_t win;       /* advertised TCP window (no window scaling) */
	uint16_t next_port; /* next ephemeral port for client connections */
	uint32_t ack_delay; /* delayed ACK, µs (Linux 40 ms, Windows 200 ms) */
};

/* hosts in net/len (len 0: all) get MACs with this OUI; first rule wins */
void host_add_oui(const uint8_t oui[3], uint32_t net, int len);
/* the host with this address, created on first use; the pointer stays
 * valid until the next new host */
struct host *host_get(uint32_t ip);
/* make ip a Windows-like stack: TTL 128, 200 ms delayed ACK */
void host_windows(uint32_t ip);
/* make ip an embedded device: TTL 64, small fixed TCP window */
void host_embedded(uint32_t ip, uint16_t win);
/* next ephemeral client port of ip (49152..65000, wrapping) */
uint16_t host_port(uint32_t ip);

/* ------------------------------------------------------------------ */
/* Checksums */

/* add bytes to a ones'-complement sum (RFC 1071) */
uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n);
/* fold a ones'-complement sum to the 16-bit checksum */
uint16_t csum_fold(uint32_t sum);
/* TCP/UDP checksum over the IPv4 pseudo-header (RFC 793, RFC 768) */
uint16_t l4_csum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
		 size_t len);

/* ------------------------------------------------------------------ */
/* Output: a min-heap of packets, written in (time, emission) order. */

/* traffic class of a packet, for the class summary (bench) */
enum pg_cls { CLS_MODBUS, CLS_S7, CLS_BACNET, CLS_OTHER, CLS__N };

/* output state scenarios read and set; the heap itself is in core.c */
struct gen_out {
	uint64_t cut;     /* packets before this time are not written */
	uint64_t emitted; /* packets handed to out_emit */
	uint64_t written, bytes, adus;
	uint64_t cls_pkts[CLS__N];
	uint64_t flows;   /* connections and exchanges, for the summary */
	uint8_t cur_cls;  /* class given to packets being emitted */
	uint8_t cur_nadu; /* Modbus ADUs starting in the next packet emitted */
};
extern struct gen_out g_out;

/* set the capture file (created when the first packet is written or at
 * out_close, so a scenario's option errors leave no file) */
void out_open(const char *path);
/* queue one IPv4 packet with this L4 header + payload at time ts */
void out_emit(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
	      size_t len, uint64_t ts);
/* write every queued packet earlier than ts */
void out_flush(uint64_t ts);
/* write everything queued, close the capture, free the queue and hosts */
void out_close(const char *path);
/* the "pcapgen: SCENARIO: N packets, ..." line on stderr */
void out_summary(const char *scen, const char *path, bool classes);

/* ------------------------------------------------------------------ */
/* UDP and TCP */

/* emit one UDP datagram */
void udp_send(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
	      const uint8_t *data, size_t n, uint64_t ts);

enum { C2S = 0, S2C = 1 };

/* TCP connection: sequence numbers of both ends */
struct tcpc {
	uint32_t ip[2];   /* [C2S] client, [S2C] server */
	uint16_t port[2];
	uint32_t nxt[2];  /* next sequence number each end sends */
	bool drop_next;   /* capture loss: do not emit the next data segment */
};

/* set up a connection (random ISNs from r); counts one flow */
void tcp_init(struct tcpc *c, struct rng *r, uint32_t cip, uint16_t cport,
	      uint32_t sip, uint16_t sport);
/* emit one segment from end `dir` (C2S/S2C) and advance its sequence */
void tcp_seg(struct tcpc *c, int dir, uint8_t flags, const uint8_t *data,
	     size_t n, uint64_t ts);
/* three-way handshake starting at ts; returns the time of the last packet */
uint64_t tcp_open(struct tcpc *c, uint64_t ts, struct rng *r);
/* orderly close started by `dir`: FIN, FIN, ACK; returns the last time */
uint64_t tcp_close(struct tcpc *c, int dir, uint64_t ts, struct rng *r);

#endif
