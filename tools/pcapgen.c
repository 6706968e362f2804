/*
 * pcapgen.c - deterministic generator of synthetic plant captures.
 *
 *   pcapgen SCENARIO OUT.pcap [options]
 *
 * Scenarios:
 *   demo                      five minutes of a small plant's morning, with
 *                             the events listed in the table below
 *   bench [--packets N]       a large mixed capture for `make bench`
 *                             (Modbus/TCP, S7comm, BACnet/IP, IT background)
 *   gap                       one Modbus flow with one client->server segment
 *                             missing from the capture
 *   midstream                 the same flow, capture starting after the
 *                             handshake and the first exchanges
 *   streams --flows N [--half-open M]
 *                             N concurrent TCP connections (+ M SYN-only
 *                             attempts), for memory tests
 * Options:
 *   --seed S                  PRNG seed (default: fixed per scenario)
 *   --oui XX:XX:XX[/A.B.C.D/LEN]
 *                             give hosts (all, or those in the prefix) MACs
 *                             with this vendor OUI; repeatable, first match
 *                             wins, before the scenario's own OUIs
 *
 * Why synthetic: the plant captures people can share are few, never show the
 * attacks an exercise needs, and carry real addresses.  A generator gives
 * byte-exact, reviewable captures whose every event is known in advance, so
 * tests can say which alert each must raise.
 *
 * Everything is deterministic: a fixed start time (2026-04-01T08:00:00Z), a
 * fixed PRNG seed (xorshift64*), and no reading of clocks or the environment.
 * The same command writes the same bytes.
 *
 * What is realistic (the sensor must cope with it exactly as with a span
 * port): TCP three-way handshakes, correct sequence and acknowledgement
 * numbers, delayed ACKs, FIN closes, IPv4 header and TCP/UDP checksums
 * correct, IP ids incrementing per sending host, one MAC per host
 * (02:00:a:b:c:d from the IPv4 address a.b.c.d, or a vendor OUI + the low
 * three address bytes).  Modbus servers answer like a libmodbus server with
 * a register map (exception 1 for an unsupported function, 2 for an address
 * outside the map, 3 for a malformed quantity or byte count).
 *
 * How packets get out in time order: every flow is generated whole, its
 * packets go into a min-heap keyed by (timestamp, emission order); before a
 * flow that starts at time T is generated, every packet earlier than T is
 * written (no later flow can put anything before T).  IP ids and the
 * IPv4 header checksum are filled in at write time, so ids increase in
 * capture order per host even though flows are generated one by one.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pcapgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		die("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* ------------------------------------------------------------------ */
/* PRNG: xorshift64* (Vigna 2014).  Small, fast, and the same on every
 * platform, unlike rand(). */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9E3779B97F4A7C15ull; /* state must not be 0 */
	for (int i = 0; i < 8; i++)
		rng_next(r);
}

/* uniform in [0, n) (the modulo bias is irrelevant here) */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)((rng_next(r) >> 32) % n) : 0;
}

/* uniform in [lo, hi] */
static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static bool rng_pct(struct rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

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

struct oui_rule {
	uint32_t net, mask;
	uint8_t oui[3];
};

static struct {
	struct host *v;
	size_t cap, n;
	struct oui_rule rules[64];
	size_t nrules;
} g_hosts;

static void host_add_oui(const uint8_t oui[3], uint32_t net, int len)
{
	if (g_hosts.nrules == sizeof g_hosts.rules / sizeof g_hosts.rules[0])
		die("too many OUI rules");
	struct oui_rule *o = &g_hosts.rules[g_hosts.nrules++];
	o->mask = len <= 0 ? 0 : len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
	o->net = net & o->mask;
	memcpy(o->oui, oui, 3);
}

static void host_init_new(struct host *h, uint32_t ip)
{
	memset(h, 0, sizeof *h);
	h->ip = ip;
	h->used = true;
	h->ttl = 64;
	h->win = 64240;
	h->ack_delay = 40000;
	uint32_t m = mix32(ip ^ 0x5bd1e995u);
	h->ipid = (uint16_t)m;
	h->next_port = (uint16_t)(49152 + (m >> 16) % 12000);
	h->mac[0] = 0x02; /* locally administered, unicast */
	h->mac[1] = 0x00;
	put32(h->mac + 2, ip);
	for (size_t i = 0; i < g_hosts.nrules; i++) {
		const struct oui_rule *o = &g_hosts.rules[i];
		if ((ip & o->mask) == o->net) {
			memcpy(h->mac, o->oui, 3);
			h->mac[3] = (uint8_t)(ip >> 16);
			h->mac[4] = (uint8_t)(ip >> 8);
			h->mac[5] = (uint8_t)ip;
			break;
		}
	}
}

static struct host *host_find_slot(struct host *v, size_t cap, uint32_t ip)
{
	size_t j = mix32(ip) & (cap - 1);
	while (v[j].used && v[j].ip != ip)
		j = (j + 1) & (cap - 1);
	return &v[j];
}

/* The table grows only when a host is added: pointers returned stay valid
 * until the next new host. */
static struct host *host_get(uint32_t ip)
{
	if (g_hosts.cap) {
		struct host *h = host_find_slot(g_hosts.v, g_hosts.cap, ip);
		if (h->used)
			return h;
	}
	if ((g_hosts.n + 1) * 2 > g_hosts.cap) {
		size_t ncap = g_hosts.cap ? g_hosts.cap * 2 : 1024;
		struct host *nv = xcalloc(ncap, sizeof *nv);
		for (size_t i = 0; i < g_hosts.cap; i++)
			if (g_hosts.v[i].used)
				*host_find_slot(nv, ncap, g_hosts.v[i].ip) = g_hosts.v[i];
		free(g_hosts.v);
		g_hosts.v = nv;
		g_hosts.cap = ncap;
	}
	struct host *h = host_find_slot(g_hosts.v, g_hosts.cap, ip);
	host_init_new(h, ip);
	g_hosts.n++;
	return h;
}

/* Windows-like stack: TTL 128, 200 ms delayed ACK */
static void host_windows(uint32_t ip)
{
	struct host *h = host_get(ip);
	h->ttl = 128;
	h->ack_delay = 200000;
	h->win = 64240;
}

/* embedded device: small fixed window */
static void host_embedded(uint32_t ip, uint16_t win)
{
	struct host *h = host_get(ip);
	h->ttl = 64;
	h->win = win;
}

static uint16_t host_port(uint32_t ip)
{
	struct host *h = host_get(ip);
	uint16_t p = h->next_port;
	h->next_port = p >= 65000 ? 49152 : (uint16_t)(p + 1);
	return p;
}

/* ------------------------------------------------------------------ */
/* Output: a min-heap of packets, written in (time, emission) order. */

struct pkt {
	uint64_t ts;  /* µs since PG_T0_SEC */
	uint64_t seq; /* emission order, breaks ties */
	uint32_t src, dst;
	uint16_t len; /* L4 length (header + payload) */
	uint8_t proto;
	uint8_t nadu; /* Modbus ADUs that start in this packet (for the summary) */
	uint8_t cls;  /* traffic class for the bench summary */
	uint8_t l4[];
};

enum pg_cls { CLS_MODBUS, CLS_S7, CLS_BACNET, CLS_OTHER, CLS__N };
static const char *const cls_names[CLS__N] = {"modbus", "s7comm", "bacnet",
					      "background"};

static struct {
	pcap_t *pd;
	pcap_dumper_t *dumper;
	struct pkt **heap;
	size_t n, cap;
	uint64_t seq;
	uint64_t cut;     /* packets before this time are not written */
	uint64_t emitted; /* packets handed to out_emit */
	uint64_t written, bytes, adus;
	uint64_t cls_pkts[CLS__N];
	uint64_t flows;
	uint8_t cur_cls; /* class given to packets being emitted */
	uint8_t cur_nadu;
} g_out;

static bool pkt_before(const struct pkt *a, const struct pkt *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* TCP/UDP checksum over the IPv4 pseudo-header (RFC 793, RFC 768) */
static uint16_t l4_csum(uint32_t src, uint32_t dst, uint8_t proto,
			const uint8_t *l4, size_t len)
{
	uint8_t ph[12];
	put32(ph, src);
	put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	put16(ph + 10, (uint16_t)len);
	uint16_t c = csum_fold(csum_add(csum_add(0, ph, 12), l4, len));
	if (proto == IPPROTO_UDP_ && c == 0)
		c = 0xffff; /* RFC 768: 0 means "no checksum" */
	return c;
}

static void out_write(struct pkt *p)
{
	if (p->ts < g_out.cut)
		return;
	struct host *hs = host_get(p->src), *hd = host_get(p->dst);
	uint8_t f[14 + 20 + PG_MAX_L4];
	memcpy(f, hd->mac, 6);
	memcpy(f + 6, hs->mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + p->len));
	put16(ip + 4, hs->ipid++);
	put16(ip + 6, 0x4000); /* DF, as Linux and Windows send */
	ip[8] = hs->ttl;
	ip[9] = p->proto;
	put16(ip + 10, 0);
	put32(ip + 12, p->src);
	put32(ip + 16, p->dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	memcpy(ip + 20, p->l4, p->len);

	struct pcap_pkthdr h;
	memset(&h, 0, sizeof h);
	h.ts.tv_sec = (time_t)(PG_T0_SEC + p->ts / 1000000u);
	h.ts.tv_usec = (suseconds_t)(p->ts % 1000000u);
	h.caplen = h.len = (bpf_u_int32)(14 + 20 + p->len);
	pcap_dump((u_char *)g_out.dumper, &h, f);
	g_out.written++;
	g_out.bytes += h.len;
	g_out.adus += p->nadu;
	g_out.cls_pkts[p->cls]++;
}

static struct pkt *heap_pop(void)
{
	struct pkt *top = g_out.heap[0];
	struct pkt *last = g_out.heap[--g_out.n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= g_out.n)
			break;
		if (c + 1 < g_out.n && pkt_before(g_out.heap[c + 1], g_out.heap[c]))
			c++;
		if (!pkt_before(g_out.heap[c], last))
			break;
		g_out.heap[i] = g_out.heap[c];
		i = c;
	}
	if (g_out.n)
		g_out.heap[i] = last;
	return top;
}

/* write every queued packet earlier than ts */
static void out_flush(uint64_t ts)
{
	while (g_out.n && g_out.heap[0]->ts < ts) {
		struct pkt *p = heap_pop();
		out_write(p);
		free(p);
	}
}

static void out_emit(uint32_t src, uint32_t dst, uint8_t proto,
		     const uint8_t *l4, size_t len, uint64_t ts)
{
	if (len > PG_MAX_L4)
		die("internal: segment of %zu bytes", len);
	struct pkt *p = xmalloc(sizeof *p + len);
	p->ts = ts;
	p->seq = g_out.seq++;
	p->src = src;
	p->dst = dst;
	p->len = (uint16_t)len;
	p->proto = proto;
	p->nadu = g_out.cur_nadu;
	p->cls = g_out.cur_cls;
	g_out.cur_nadu = 0;
	memcpy(p->l4, l4, len);
	/* make sure both ends exist with their settings before write time */
	host_get(src);
	host_get(dst);
	if (g_out.n == g_out.cap) {
		g_out.cap = g_out.cap ? g_out.cap * 2 : 4096;
		g_out.heap = realloc(g_out.heap, g_out.cap * sizeof *g_out.heap);
		if (!g_out.heap)
			die("out of memory (packet queue)");
	}
	size_t i = g_out.n++;
	while (i > 0) {
		size_t par = (i - 1) / 2;
		if (!pkt_before(p, g_out.heap[par]))
			break;
		g_out.heap[i] = g_out.heap[par];
		i = par;
	}
	g_out.heap[i] = p;
	g_out.emitted++;
}

static void out_open(const char *path)
{
	g_out.pd = pcap_open_dead(DLT_EN10MB, PG_SNAPLEN);
	if (!g_out.pd)
		die("pcap_open_dead failed");
	g_out.dumper = pcap_dump_open(g_out.pd, path);
	if (!g_out.dumper)
		die("%s: %s", path, pcap_geterr(g_out.pd));
}

static void out_close(const char *path)
{
	out_flush(UINT64_MAX);
	if (pcap_dump_flush(g_out.dumper) != 0)
		die("%s: write error: %s", path, strerror(errno));
	pcap_dump_close(g_out.dumper);
	pcap_close(g_out.pd);
	free(g_out.heap);
}

/* ------------------------------------------------------------------ */
/* UDP */

static void udp_send(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		     const uint8_t *data, size_t n, uint64_t ts)
{
	uint8_t b[PG_MAX_L4];
	if (n + 8 > sizeof b)
		die("internal: datagram of %zu bytes", n);
	put16(b, sport);
	put16(b + 2, dport);
	put16(b + 4, (uint16_t)(8 + n));
	put16(b + 6, 0);
	memcpy(b + 8, data, n);
	put16(b + 6, l4_csum(src, dst, IPPROTO_UDP_, b, 8 + n));
	out_emit(src, dst, IPPROTO_UDP_, b, 8 + n, ts);
}

/* ------------------------------------------------------------------ */
/* TCP connection: sequence numbers of both ends, segments, open, close. */

enum { C2S = 0, S2C = 1 };

struct tcpc {
	uint32_t ip[2];   /* [C2S] client, [S2C] server */
	uint16_t port[2];
	uint32_t nxt[2];  /* next sequence number each end sends */
	bool drop_next;   /* capture loss: do not emit the next data segment */
};

static void tcp_seg(struct tcpc *c, int dir, uint8_t flags, const uint8_t *data,
		    size_t n, uint64_t ts)
{
	uint8_t b[PG_MAX_L4];
	size_t hl = (flags & TH_SYN) ? 24 : 20;
	if (hl + n > sizeof b)
		die("internal: segment of %zu bytes", n);
	uint32_t src = c->ip[dir], dst = c->ip[!dir];
	put16(b, c->port[dir]);
	put16(b + 2, c->port[!dir]);
	put32(b + 4, c->nxt[dir]);
	put32(b + 8, (flags & TH_ACK) ? c->nxt[!dir] : 0);
	b[12] = (uint8_t)((hl / 4) << 4);
	b[13] = flags;
	put16(b + 14, host_get(src)->win);
	put16(b + 16, 0);
	put16(b + 18, 0);
	if (flags & TH_SYN) { /* MSS 1460 (RFC 879); no window scaling */
		b[20] = 2;
		b[21] = 4;
		put16(b + 22, 1460);
	}
	if (n)
		memcpy(b + hl, data, n);
	put16(b + 16, l4_csum(src, dst, IPPROTO_TCP_, b, hl + n));
	c->nxt[dir] += (uint32_t)n + ((flags & TH_SYN) ? 1 : 0) +
		       ((flags & TH_FIN) ? 1 : 0);
	if (c->drop_next && n) {
		c->drop_next = false;
		g_out.cur_nadu = 0;
		return;
	}
	out_emit(src, dst, IPPROTO_TCP_, b, hl + n, ts);
}

static void tcp_init(struct tcpc *c, struct rng *r, uint32_t cip, uint16_t cport,
		     uint32_t sip, uint16_t sport)
{
	memset(c, 0, sizeof *c);
	c->ip[C2S] = cip;
	c->ip[S2C] = sip;
	c->port[C2S] = cport;
	c->port[S2C] = sport;
	c->nxt[C2S] = (uint32_t)rng_next(r);
	c->nxt[S2C] = (uint32_t)rng_next(r);
	g_out.flows++;
}

/* three-way handshake starting at ts; returns the time of the last packet */
static uint64_t tcp_open(struct tcpc *c, uint64_t ts, struct rng *r)
{
	uint64_t t = ts;
	tcp_seg(c, C2S, TH_SYN, NULL, 0, t);
	t += rng_range(r, 150, 600);
	tcp_seg(c, S2C, TH_SYN | TH_ACK, NULL, 0, t);
	t += rng_range(r, 100, 400);
	tcp_seg(c, C2S, TH_ACK, NULL, 0, t);
	return t;
}

/* orderly close started by `dir`: FIN, FIN, ACK; returns the last time */
static uint64_t tcp_close(struct tcpc *c, int dir, uint64_t ts, struct rng *r)
{
	uint64_t t = ts;
	tcp_seg(c, dir, TH_FIN | TH_ACK, NULL, 0, t);
	t += rng_range(r, 150, 900);
	tcp_seg(c, !dir, TH_FIN | TH_ACK, NULL, 0, t);
	t += rng_range(r, 100, 400);
	tcp_seg(c, dir, TH_ACK, NULL, 0, t);
	return t;
}

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

static void mbdev_init(struct mbdev *d, uint64_t seed, uint16_t n_co,
		       uint16_t n_di, uint16_t n_hr, uint16_t n_ir)
{
	memset(d, 0, sizeof *d);
	rng_seed(&d->r, seed);
	d->n_co = n_co;
	d->n_di = n_di;
	d->n_hr = n_hr;
	d->n_ir = n_ir;
	for (unsigned i = 0; i < MB_MAX_REGS; i++) {
		d->hr[i] = (uint16_t)rng_range(&d->r, 0, 1500);
		d->ir[i] = (uint16_t)rng_range(&d->r, 200, 4000);
	}
	for (unsigned i = 0; i < MB_MAX_BITS; i++) {
		d->co[i] = rng_pct(&d->r, 30);
		d->di[i] = rng_pct(&d->r, 50);
	}
	d->running = true;
}

/* process values (the first 100 registers) drift a little between reads */
static void mbdev_tick(struct mbdev *d, bool input, unsigned addr, unsigned qty)
{
	uint16_t *v = input ? d->ir : d->hr;
	for (unsigned a = addr; a < addr + qty && a < 100; a++) {
		if (rng_pct(&d->r, 40))
			v[a] = (uint16_t)(v[a] + rng_range(&d->r, 0, 4) - 2);
	}
}

static size_t mb_exc(uint8_t *r, uint8_t fc, uint8_t code)
{
	r[0] = (uint8_t)(fc | 0x80);
	r[1] = code;
	return 2;
}

/* FC 43 / MEI 14: read device identification, basic objects 0..2 */
static size_t mb_devid(struct mbdev *d, const uint8_t *q, size_t n, uint8_t *r)
{
	const char *obj[3] = {d->vendor, d->product, d->revision};
	if (n < 4 || q[1] != 0x0E || !d->vendor)
		return mb_exc(r, q[0], MB_EX_ILLEGAL_FUNCTION);
	uint8_t code = q[2], first = q[3];
	if (code != 1 && code != 4)
		return mb_exc(r, q[0], MB_EX_ILLEGAL_DATA_VALUE);
	if (first > 2) {
		if (code == 4)
			return mb_exc(r, q[0], MB_EX_ILLEGAL_DATA_ADDRESS);
		first = 0; /* spec: restart at 0 for an unknown id in a stream */
	}
	size_t k = 0;
	r[k++] = q[0];
	r[k++] = 0x0E;
	r[k++] = code;
	r[k++] = 0x81; /* conformity: basic, stream + individual access */
	r[k++] = 0x00; /* more follows: no */
	r[k++] = 0x00; /* next object id */
	size_t nobj_at = k++;
	uint8_t nobj = 0;
	for (unsigned i = first; i < 3; i++) {
		size_t l = strlen(obj[i]);
		r[k++] = (uint8_t)i;
		r[k++] = (uint8_t)l;
		memcpy(r + k, obj[i], l);
		k += l;
		nobj++;
		if (code == 4)
			break;
	}
	r[nobj_at] = nobj;
	return k;
}

/* answer one request PDU; returns the response PDU length */
static size_t mb_serve(struct mbdev *d, const uint8_t *q, size_t n, uint8_t *r)
{
	if (n < 1)
		return 0;
	uint8_t fc = q[0];
	unsigned addr = n >= 3 ? get16(q + 1) : 0;
	unsigned qty = n >= 5 ? get16(q + 3) : 0;

	switch (fc) {
	case MB_FC_READ_COILS:
	case MB_FC_READ_DISCRETE_INPUTS: {
		if (n != 5 || qty < 1 || qty > 2000)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		unsigned max = fc == MB_FC_READ_COILS ? d->n_co : d->n_di;
		if (addr + qty > max)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		const uint8_t *bits = fc == MB_FC_READ_COILS ? d->co : d->di;
		if (fc == MB_FC_READ_DISCRETE_INPUTS)
			for (unsigned a = addr; a < addr + qty; a++)
				if (rng_pct(&d->r, 5))
					d->di[a] ^= 1;
		unsigned nb = (qty + 7) / 8;
		r[0] = fc;
		r[1] = (uint8_t)nb;
		memset(r + 2, 0, nb);
		for (unsigned i = 0; i < qty; i++)
			if (bits[addr + i])
				r[2 + i / 8] |= (uint8_t)(1u << (i % 8));
		return 2 + nb;
	}
	case MB_FC_READ_HOLDING_REGISTERS:
	case MB_FC_READ_INPUT_REGISTERS: {
		if (n != 5 || qty < 1 || qty > 125)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		bool input = fc == MB_FC_READ_INPUT_REGISTERS;
		if (addr + qty > (input ? d->n_ir : d->n_hr))
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		mbdev_tick(d, input, addr, qty);
		const uint16_t *v = input ? d->ir : d->hr;
		r[0] = fc;
		r[1] = (uint8_t)(qty * 2);
		for (unsigned i = 0; i < qty; i++)
			put16(r + 2 + 2 * i, v[addr + i]);
		return 2 + 2 * qty;
	}
	case MB_FC_WRITE_SINGLE_COIL:
		if (n != 5 || (qty != 0xFF00 && qty != 0x0000))
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (addr >= d->n_co)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		d->co[addr] = qty == 0xFF00;
		memcpy(r, q, 5);
		return 5;
	case MB_FC_WRITE_SINGLE_REGISTER:
		if (n != 5)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (addr >= d->n_hr)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		d->hr[addr] = (uint16_t)qty;
		memcpy(r, q, 5);
		return 5;
	case MB_FC_WRITE_MULTIPLE_COILS:
	case MB_FC_WRITE_MULTIPLE_REGISTERS: {
		bool regs = fc == MB_FC_WRITE_MULTIPLE_REGISTERS;
		unsigned bc = n >= 6 ? q[5] : 0;
		unsigned want = regs ? qty * 2 : (qty + 7) / 8;
		/* byte count must match the quantity AND the bytes present */
		if (n < 6 || qty < 1 || qty > (regs ? 123u : 1968u) ||
		    bc != want || n != 6 + bc)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (addr + qty > (regs ? d->n_hr : d->n_co))
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_ADDRESS);
		for (unsigned i = 0; i < qty; i++) {
			if (regs)
				d->hr[addr + i] = get16(q + 6 + 2 * i);
			else
				d->co[addr + i] = (q[6 + i / 8] >> (i % 8)) & 1;
		}
		memcpy(r, q, 5);
		return 5;
	}
	case MB_FC_DIAGNOSTICS: {
		/* sub-function 0 return query data, 1 restart communications:
		 * both answered with an echo of the request (spec 6.8.1) */
		unsigned sub = n >= 3 ? get16(q + 1) : 0xFFFF;
		if (n < 5 || (sub != 0 && sub != 1))
			return mb_exc(r, fc, MB_EX_ILLEGAL_FUNCTION);
		memcpy(r, q, n);
		return n;
	}
	case MB_FC_ENCAPSULATED_INTERFACE:
		return mb_devid(d, q, n, r);
	case MB_FC_UMAS:
		/* UMAS: 0x5A, session (pairing) key byte, UMAS function, data;
		 * the answer carries the key and 0xFE for success. */
		if (!d->umas)
			return mb_exc(r, fc, MB_EX_ILLEGAL_FUNCTION);
		if (n < 3)
			return mb_exc(r, fc, MB_EX_ILLEGAL_DATA_VALUE);
		if (q[2] == UMAS_STOP_PLC)
			d->running = false;
		r[0] = MB_FC_UMAS;
		r[1] = q[1];
		r[2] = UMAS_RSP_OK;
		return 3;
	default:
		return mb_exc(r, fc, MB_EX_ILLEGAL_FUNCTION);
	}
}

/* request PDU builders */
static size_t mbq_rw(uint8_t *b, uint8_t fc, unsigned addr, unsigned v)
{
	b[0] = fc;
	put16(b + 1, (uint16_t)addr);
	put16(b + 3, (uint16_t)v);
	return 5;
}

static size_t mbq_write_regs(uint8_t *b, unsigned addr, const uint16_t *v,
			     unsigned qty)
{
	b[0] = MB_FC_WRITE_MULTIPLE_REGISTERS;
	put16(b + 1, (uint16_t)addr);
	put16(b + 3, (uint16_t)qty);
	b[5] = (uint8_t)(qty * 2);
	for (unsigned i = 0; i < qty; i++)
		put16(b + 6 + 2 * i, v[i]);
	return 6 + 2 * qty;
}

static size_t mbq_write_coils(uint8_t *b, unsigned addr, unsigned qty,
			      uint32_t bits)
{
	unsigned nb = (qty + 7) / 8;
	b[0] = MB_FC_WRITE_MULTIPLE_COILS;
	put16(b + 1, (uint16_t)addr);
	put16(b + 3, (uint16_t)qty);
	b[5] = (uint8_t)nb;
	for (unsigned i = 0; i < nb; i++)
		b[6 + i] = (uint8_t)(bits >> (8 * i));
	if (qty % 8) /* unused high bits of the last byte are zero */
		b[6 + nb - 1] &= (uint8_t)((1u << (qty % 8)) - 1);
	return 6 + nb;
}

static size_t mbq_devid(uint8_t *b)
{
	b[0] = MB_FC_ENCAPSULATED_INTERFACE;
	b[1] = 0x0E; /* MEI type: read device identification */
	b[2] = 0x01; /* basic device identification, stream access */
	b[3] = 0x00; /* from object 0 (VendorName) */
	return 4;
}

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

static void mbs_init(struct mbs *s, struct rng *r, struct mbdev *dev,
		     uint32_t cip, uint32_t sip, uint16_t tid)
{
	memset(s, 0, sizeof *s);
	tcp_init(&s->tc, r, cip, host_port(cip), sip, 502);
	s->dev = dev;
	s->tid = tid;
	s->unit = 1;
	s->srv_min = 800;
	s->srv_max = 4000;
	s->r = r;
}

/* emit the client's delayed ACK if it falls before `ts` (else the next
 * client segment carries it) */
static void mbs_ack(struct mbs *s, uint64_t ts)
{
	if (s->ack_due && s->ack_due < ts) {
		g_out.cur_cls = CLS_MODBUS;
		tcp_seg(&s->tc, C2S, TH_ACK, NULL, 0, s->ack_due);
	}
	s->ack_due = 0;
}

static size_t mb_adu(uint8_t *b, uint16_t tid, uint8_t unit, const uint8_t *pdu,
		     size_t n)
{
	put16(b, tid);
	put16(b + 2, 0); /* protocol id: Modbus */
	put16(b + 4, (uint16_t)(n + 1));
	b[6] = unit;
	memcpy(b + 7, pdu, n);
	return 7 + n;
}

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

static uint64_t mbs_exchange(struct mbs *s, uint64_t ts, const struct mbx *x)
{
	uint8_t q[1400], rs[1400];
	size_t qn = 0, rn = 0;
	mbs_ack(s, ts);
	for (int i = 0; i < x->n; i++) {
		uint8_t rp[300];
		uint16_t tid = s->tid++;
		qn += mb_adu(q + qn, tid, s->unit, x->pdu[i], x->len[i]);
		size_t l = mb_serve(s->dev, x->pdu[i], x->len[i], rp);
		rn += mb_adu(rs + rn, tid, s->unit, rp, l);
	}
	uint64_t t = ts;
	g_out.cur_cls = CLS_MODBUS;
	if (x->split_q && x->split_q < qn) {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, C2S, TH_PSH | TH_ACK, q, x->split_q, t);
		t += rng_range(s->r, 300, 1000);
		tcp_seg(&s->tc, C2S, TH_PSH | TH_ACK, q + x->split_q,
			qn - x->split_q, t);
	} else {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, C2S, TH_PSH | TH_ACK, q, qn, t);
	}
	if (x->no_response)
		return t;
	t += rng_range(s->r, s->srv_min, s->srv_max);
	if (x->split_r && x->split_r < rn) {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, S2C, TH_PSH | TH_ACK, rs, x->split_r, t);
		t += rng_range(s->r, 300, 1000);
		tcp_seg(&s->tc, S2C, TH_PSH | TH_ACK, rs + x->split_r,
			rn - x->split_r, t);
	} else {
		g_out.cur_nadu = (uint8_t)x->n;
		tcp_seg(&s->tc, S2C, TH_PSH | TH_ACK, rs, rn, t);
	}
	s->ack_due = t + host_get(s->tc.ip[C2S])->ack_delay;
	return t;
}

/* the common case: one request, one response */
static uint64_t mbs_xact(struct mbs *s, uint64_t ts, const uint8_t *pdu, size_t n)
{
	struct mbx x = {.pdu = {pdu}, .len = {n}, .n = 1};
	return mbs_exchange(s, ts, &x);
}

static uint64_t mbs_read(struct mbs *s, uint64_t ts, uint8_t fc, unsigned addr,
			 unsigned qty)
{
	uint8_t b[5];
	return mbs_xact(s, ts, b, mbq_rw(b, fc, addr, qty));
}

static uint64_t mbs_close(struct mbs *s, uint64_t ts)
{
	mbs_ack(s, ts);
	g_out.cur_cls = CLS_MODBUS;
	return tcp_close(&s->tc, C2S, ts, s->r);
}

static uint64_t mbs_open(struct mbs *s, uint64_t ts)
{
	g_out.cur_cls = CLS_MODBUS;
	return tcp_open(&s->tc, ts, s->r);
}

/* ------------------------------------------------------------------ */
/* Background: DNS (RFC 1035) and TLS-looking application data. */

static size_t dns_name(uint8_t *b, const char *name)
{
	size_t k = 0;
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		b[k++] = (uint8_t)l;
		memcpy(b + k, name, l);
		k += l;
		name += l;
		if (*name == '.')
			name++;
	}
	b[k++] = 0;
	return k;
}

/* query and answer (one A record) between client and resolver */
static void dns_lookup(struct rng *r, uint32_t cli, uint32_t srv,
		       const char *name, uint32_t addr, uint64_t ts)
{
	uint8_t q[300], a[300];
	uint16_t id = (uint16_t)rng_next(r);
	uint16_t sport = (uint16_t)rng_range(r, 34000, 60999);
	put16(q, id);
	put16(q + 2, 0x0100); /* standard query, recursion desired */
	put16(q + 4, 1);
	put16(q + 6, 0);
	put16(q + 8, 0);
	put16(q + 10, 0);
	size_t k = 12 + dns_name(q + 12, name);
	put16(q + k, 1); /* type A */
	put16(q + k + 2, 1); /* class IN */
	k += 4;
	memcpy(a, q, k);
	put16(a + 2, 0x8180); /* response, RD, RA, no error */
	put16(a + 6, 1);
	size_t m = k;
	put16(a + m, 0xC00C); /* name: pointer to the question */
	put16(a + m + 2, 1);
	put16(a + m + 4, 1);
	put32(a + m + 6, 300);
	put16(a + m + 10, 4);
	put32(a + m + 12, addr);
	m += 16;
	g_out.cur_cls = CLS_OTHER;
	g_out.flows++;
	udp_send(cli, sport, srv, 53, q, k, ts);
	g_out.cur_cls = CLS_OTHER;
	udp_send(srv, 53, cli, sport, a, m, ts + rng_range(r, 300, 3000));
}

/* TLS 1.2/1.3 application-data records (type 23, version 0x0303) of
 * random bytes: HTTPS as a passive sensor sees it after the handshake */
static size_t tls_records(struct rng *r, uint8_t *b, size_t n)
{
	if (n < 6)
		n = 6;
	b[0] = 23;
	put16(b + 1, 0x0303);
	put16(b + 3, (uint16_t)(n - 5));
	for (size_t i = 5; i < n; i++)
		b[i] = (uint8_t)rng_next(r);
	return n;
}

/* an HTTPS-looking session: `rounds` request/response records */
static uint64_t https_session(struct rng *r, uint32_t cli, uint32_t srv,
			      uint64_t ts, int rounds)
{
	struct tcpc c;
	uint8_t b[1460];
	tcp_init(&c, r, cli, host_port(cli), srv, 443);
	g_out.cur_cls = CLS_OTHER;
	uint64_t t = tcp_open(&c, ts, r);
	for (int i = 0; i < rounds; i++) {
		t += rng_range(r, 2000, 400000);
		g_out.cur_cls = CLS_OTHER;
		tcp_seg(&c, C2S, TH_PSH | TH_ACK, b,
			tls_records(r, b, rng_range(r, 80, 700)), t);
		t += rng_range(r, 2000, 30000);
		int segs = (int)rng_range(r, 1, 3);
		for (int k = 0; k < segs; k++) {
			g_out.cur_cls = CLS_OTHER;
			tcp_seg(&c, S2C, TH_ACK | (k == segs - 1 ? TH_PSH : 0), b,
				tls_records(r, b, k == segs - 1 ?
						       rng_range(r, 100, 1400) :
						       1400),
				t);
			t += rng_range(r, 50, 400);
		}
		g_out.cur_cls = CLS_OTHER;
		tcp_seg(&c, C2S, TH_ACK, NULL, 0, t + rng_range(r, 100, 40000));
		t += 40000;
	}
	g_out.cur_cls = CLS_OTHER;
	return tcp_close(&c, C2S, t + rng_range(r, 100000, 900000), r);
}

/* ------------------------------------------------------------------ */
/* demo: five minutes of a small plant's morning.
 *
 * Zones (etc/zones.yaml): joho 10.1.0.0/16, dmz 10.2.0.0/24, seisan_kanri
 * 10.3.0.0/24, hozen 10.4.0.0/24, seigyo_line1 10.10.1.0/24, seigyo_line2
 * 10.10.2.0/24, jido_hanso 10.20.0.0/24, jido_soko 10.21.0.0/24, setsubi
 * 10.30.0.0/24, remote 10.99.0.0/24.  Conduits: seisan_kanri -> seigyo_*,
 * jido_soko: modbus read+discover; seisan_kanri -> setsubi: modbus read;
 * hozen -> control zones: anything; jido_hanso -> jido_soko: modbus
 * read+write; nothing into control zones from joho, dmz, remote.
 *
 * Every event, and what the sensor should make of it (times from 08:00:00;
 * all Modbus/TCP to port 502 unless said otherwise):
 *
 *  #  time      src -> dst                     what                              expected alert
 *  1  0-300 s   SCADA-01 10.3.0.10 ->          FC3 + FC4 poll every second; the  none (read allowed)
 *               PLC-L1-01 10.10.1.10           handshake was before the capture
 *                                              (mid-stream pickup)
 *  2  0.4-300 s SCADA-01 -> PLC-L2-01          FC3 + FC4 poll every second, new  none (read allowed)
 *               10.10.2.10                     connection with handshake
 *  2a 60.5 s    SCADA-01 -> PLC-L2-01          FC3 and FC4 requests in ONE       none
 *                                              segment, both responses in one
 *  2b 120.5 s   SCADA-01 -> PLC-L2-01          FC3 x100: response split across   none
 *                                              two segments (after 60 bytes)
 *  2c 150.6 s   SCADA-01 -> PLC-L2-01          FC3 addr 9000 x2: register not in exception response,
 *                                              the map, exception code 2         code 2 (illegal data address)
 *  3  1.2-300 s SCADA-01 -> PM-01 10.30.0.20   FC4 every 5 s                     none (read allowed)
 *  4  2-300 s   HMI-L1-01 10.10.1.20 ->        FC3 every 2 s, FC6 set points at  none (same zone)
 *               PLC-L1-01                      30.7/95.7/181.1/262.4 s
 *  4a 200.9 s   HMI-L1-01 -> PLC-L1-01         FC16 request split across two     none
 *                                              segments (after 9 bytes)
 *  4b 221.3 s   HMI-L1-01 -> PLC-L1-01         FC16 qty 5, byte count 10, but    malformed request: invalid
 *                                              only 6 data bytes (MBAP length    length (FC16 byte count vs
 *                                              13); answered with exception 3    MBAP length); exception 3
 *  5  10-280 s  AGV 10.20.0.15 ->              one connection per job every      none (read+write allowed)
 *               ASRS-PLC-01 10.21.0.10         30 s: FC3, FC16, FC1, FC5, FC2
 *  6  45.2 s,   MES-01 10.3.0.30 -> PLC-L2-01  FC16 x4 at 200 (production       write not allowed by the
 *     145.6 s,                                 order), three connections         conduit seisan_kanri ->
 *     245.9 s                                                                    seigyo_line2 (read+discover)
 *  7  70.4 s    EWS-01 10.4.0.10 -> PLC-L1-01  FC43/14 read device id (vendor,   allowed; asset facts for
 *                                              product, revision answered)       10.10.1.10 (vendor...)
 *  7a 70.9 s    EWS-01 -> PLC-L1-01            FC8 sub-function 1 restart        allowed control op, still
 *                                              communications                    reported (restart comms)
 *  8  100.3 s   EWS-01 -> PLC-L2-01:502        HTTP GET on the Modbus port; the  not Modbus on port 502
 *                                              PLC closes the connection         (protocol mismatch)
 *  9  130.2 s   joho PC 10.1.5.23 -> PLC-L2-01 FC3 x10, three times              no conduit joho ->
 *                                                                                seigyo_line2
 * 10  160.7 s   laptop 172.16.5.5 ->           FC3 reads (brought-in PC, OUI     unknown host (in no zone)
 *               PLC-L1-01                      00:e0:4c)
 * 11  200.2 s   remote 10.99.0.5 -> PLC-L1-01  FC90 UMAS, session key 0x2c,      control (PLC stop) with no
 *                                              function 0x41 STOP_PLC; the PLC   conduit remote -> seigyo_line1:
 *                                              answers 0xFE (ok)                 highest severity
 * 12  all       joho 10.1.5.23, 10.1.5.40 ->   DNS queries (UDP/53)              none (not ICS)
 *               DNS 10.1.0.53
 * 13  20 s,     joho 10.1.5.40 -> 10.1.0.80    HTTPS-looking TLS application     none (not ICS)
 *     150 s     :443                           data
 *
 * MACs: 02:00 + the IPv4 address, except PLC-L1-01 00:80:f4 (Telemecanique,
 * Schneider), PLC-L2-01 38:e0:8e (Mitsubishi Electric), ASRS-PLC-01
 * 3c:f7:d1 (OMRON), laptop 00:e0:4c (Realtek).
 */

#define DEMO_SCADA PG_IP(10, 3, 0, 10)
#define DEMO_MES PG_IP(10, 3, 0, 30)
#define DEMO_EWS PG_IP(10, 4, 0, 10)
#define DEMO_PLC1 PG_IP(10, 10, 1, 10)
#define DEMO_HMI1 PG_IP(10, 10, 1, 20)
#define DEMO_PLC2 PG_IP(10, 10, 2, 10)
#define DEMO_AGV PG_IP(10, 20, 0, 15)
#define DEMO_ASRS PG_IP(10, 21, 0, 10)
#define DEMO_PM PG_IP(10, 30, 0, 20)
#define DEMO_JOHO PG_IP(10, 1, 5, 23)
#define DEMO_JOHO2 PG_IP(10, 1, 5, 40)
#define DEMO_DNS PG_IP(10, 1, 0, 53)
#define DEMO_WEB PG_IP(10, 1, 0, 80)
#define DEMO_LAPTOP PG_IP(172, 16, 5, 5)
#define DEMO_REMOTE PG_IP(10, 99, 0, 5)

#define DEMO_LEN_S 300

static void demo_hosts(void)
{
	static const uint8_t schneider[3] = {0x00, 0x80, 0xF4};
	static const uint8_t mitsubishi[3] = {0x38, 0xE0, 0x8E};
	static const uint8_t omron[3] = {0x3C, 0xF7, 0xD1};
	static const uint8_t realtek[3] = {0x00, 0xE0, 0x4C};
	host_add_oui(schneider, DEMO_PLC1, 32);
	host_add_oui(mitsubishi, DEMO_PLC2, 32);
	host_add_oui(omron, DEMO_ASRS, 32);
	host_add_oui(realtek, DEMO_LAPTOP, 32);
	host_windows(DEMO_SCADA);
	host_windows(DEMO_MES);
	host_windows(DEMO_EWS);
	host_windows(DEMO_HMI1);
	host_windows(DEMO_JOHO);
	host_windows(DEMO_JOHO2);
	host_windows(DEMO_LAPTOP);
	host_embedded(DEMO_PLC1, 8192);
	host_embedded(DEMO_PLC2, 8192);
	host_embedded(DEMO_ASRS, 4096);
	host_embedded(DEMO_PM, 2048);
}

static void gen_demo(uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	demo_hosts();

	struct mbdev plc1, plc2, asrs, pm;
	mbdev_init(&plc1, seed ^ 1, 64, 64, 200, 100);
	plc1.vendor = "Schneider Electric";
	plc1.product = "BMX P34 2020";
	plc1.revision = "v3.40";
	plc1.umas = true;
	plc1.umas_key = 0x2C;
	mbdev_init(&plc2, seed ^ 2, 64, 64, 300, 100);
	plc2.vendor = "Mitsubishi Electric";
	plc2.product = "R04ENCPU";
	plc2.revision = "1.08";
	mbdev_init(&asrs, seed ^ 3, 32, 32, 50, 20);
	asrs.vendor = "OMRON";
	asrs.product = "NX102-9000";
	asrs.revision = "1.50";
	mbdev_init(&pm, seed ^ 4, 0, 0, 20, 40);

	/* 1: SCADA -> PLC-L1-01, mid-stream (opened before the capture) */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc1, DEMO_SCADA, DEMO_PLC1, 0x3A41);
		s.tc.port[C2S] = 49731;
		for (unsigned k = 0; k < DEMO_LEN_S; k++) {
			/* the capture's first packet is this poll at 08:00:00 */
			uint64_t t = PG_SEC(k) + (k ? rng_range(&r, 0, 3000) : 0);
			mbs_read(&s, t, MB_FC_READ_HOLDING_REGISTERS, 0, 10);
			mbs_read(&s, t + PG_MS(50), MB_FC_READ_INPUT_REGISTERS, 0, 8);
		}
		mbs_ack(&s, UINT64_MAX);
	}

	/* 2: SCADA -> PLC-L2-01 with handshake; 2a pipelined, 2b split,
	 * 2c exception */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc2, DEMO_SCADA, DEMO_PLC2, 1);
		mbs_open(&s, PG_MS(400));
		for (unsigned k = 1; k < DEMO_LEN_S; k++) {
			uint64_t t = PG_SEC(k) + PG_MS(500) + rng_range(&r, 0, 3000);
			if (k == 60) {
				uint8_t a[5], b[5];
				struct mbx x = {
					.pdu = {a, b},
					.len = {mbq_rw(a, MB_FC_READ_HOLDING_REGISTERS, 0, 20),
						mbq_rw(b, MB_FC_READ_INPUT_REGISTERS, 0, 10)},
					.n = 2};
				mbs_exchange(&s, t, &x);
				continue;
			}
			if (k == 120) {
				uint8_t a[5];
				struct mbx x = {
					.pdu = {a},
					.len = {mbq_rw(a, MB_FC_READ_HOLDING_REGISTERS, 0, 100)},
					.n = 1,
					.split_r = 60};
				mbs_exchange(&s, t, &x);
			} else {
				mbs_read(&s, t, MB_FC_READ_HOLDING_REGISTERS, 0, 20);
			}
			mbs_read(&s, t + PG_MS(50), MB_FC_READ_INPUT_REGISTERS, 0, 10);
			if (k == 150)
				mbs_read(&s, t + PG_MS(100),
					 MB_FC_READ_HOLDING_REGISTERS, 9000, 2);
		}
		mbs_ack(&s, UINT64_MAX);
	}

	/* 3: SCADA -> PM-01, FC4 every 5 s */
	{
		struct mbs s;
		mbs_init(&s, &r, &pm, DEMO_SCADA, DEMO_PM, 1);
		s.srv_min = 5000;
		s.srv_max = 15000;
		mbs_open(&s, PG_MS(1200));
		for (unsigned k = 1; k * 5 < DEMO_LEN_S; k++)
			mbs_read(&s, PG_SEC(k * 5) + PG_MS(200) + rng_range(&r, 0, 3000),
				 MB_FC_READ_INPUT_REGISTERS, 0, 12);
		mbs_ack(&s, UINT64_MAX);
	}

	/* 4: HMI-L1-01 -> PLC-L1-01: reads, set points, 4a split, 4b malformed */
	{
		/* the HMI's own events, merged in time order with its polls
		 * (every 2 s at +0.3 s); none is within 0.1 s of a poll */
		enum { EV_SP, EV_SPLIT, EV_MALFORMED };
		static const struct {
			unsigned ms, kind, addr, val;
		} ev[] = {{30700, EV_SP, 110, 725},     {95700, EV_SP, 111, 1200},
			  {181100, EV_SP, 110, 740},    {200900, EV_SPLIT, 120, 0},
			  {221300, EV_MALFORMED, 130, 0}, {262400, EV_SP, 112, 35}};
		struct mbs s;
		mbs_init(&s, &r, &plc1, DEMO_HMI1, DEMO_PLC1, 0);
		mbs_open(&s, PG_MS(2000));
		unsigned e = 0;
		for (unsigned k = 1; 2 * k < DEMO_LEN_S; k++) {
			uint64_t t = PG_SEC(2 * k) + PG_MS(300) + rng_range(&r, 0, 3000);
			for (; e < sizeof ev / sizeof ev[0] && PG_MS(ev[e].ms) < t; e++) {
				uint64_t te = PG_MS(ev[e].ms);
				uint8_t b[16];
				if (ev[e].kind == EV_SP) {
					mbs_xact(&s, te, b,
						 mbq_rw(b, MB_FC_WRITE_SINGLE_REGISTER,
							ev[e].addr, ev[e].val));
				} else if (ev[e].kind == EV_SPLIT) { /* 4a */
					static const uint16_t recipe[4] = {1, 250, 180, 42};
					struct mbx x = {
						.pdu = {b},
						.len = {mbq_write_regs(b, ev[e].addr, recipe, 4)},
						.n = 1,
						.split_q = 9};
					mbs_exchange(&s, te, &x);
				} else { /* 4b */
					/* FC16 qty 5, byte count 10 (right for
					 * qty 5) but only 6 value bytes: MBAP
					 * length 13 where 17 would be needed */
					static const uint8_t bad[12] = {
						MB_FC_WRITE_MULTIPLE_REGISTERS, 0x00, 130,
						0x00, 5, 10, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03};
					mbs_xact(&s, te, bad, sizeof bad);
				}
			}
			mbs_read(&s, t, MB_FC_READ_HOLDING_REGISTERS, 100, 16);
		}
		mbs_ack(&s, UINT64_MAX);
	}

	/* 5: AGV -> ASRS-PLC-01, one connection per job */
	for (unsigned j = 0; j < 10; j++) {
		struct mbs s;
		uint8_t b[32];
		mbs_init(&s, &r, &asrs, DEMO_AGV, DEMO_ASRS, (uint16_t)(j * 5 + 1));
		s.srv_min = 2000;
		s.srv_max = 6000;
		uint64_t t = mbs_open(&s, PG_SEC(10 + 30 * j) + rng_range(&r, 0, 50000));
		t = mbs_read(&s, t + 1000, MB_FC_READ_HOLDING_REGISTERS, 0, 4);
		uint16_t job[3] = {(uint16_t)(100 + j * 7 % 40), (uint16_t)(1 + j % 3), 1};
		t = mbs_xact(&s, t + PG_MS(20), b, mbq_write_regs(b, 10, job, 3));
		t = mbs_read(&s, t + PG_MS(20), MB_FC_READ_COILS, 0, 16);
		t = mbs_xact(&s, t + PG_MS(20), b,
			     mbq_rw(b, MB_FC_WRITE_SINGLE_COIL, 0, 0xFF00));
		t = mbs_read(&s, t + PG_MS(500), MB_FC_READ_DISCRETE_INPUTS, 0, 8);
		mbs_close(&s, t + PG_MS(5));
	}

	/* 6: MES-01 -> PLC-L2-01, FC16 (conduit allows read only) */
	{
		static const unsigned at[3] = {45200, 145600, 245900};
		for (unsigned j = 0; j < 3; j++) {
			struct mbs s;
			uint8_t b[16];
			uint16_t order[4] = {(uint16_t)(2604 + j), 1, (uint16_t)(500 + 50 * j), 0};
			mbs_init(&s, &r, &plc2, DEMO_MES, DEMO_PLC2, 1);
			uint64_t t = mbs_open(&s, PG_MS(at[j]));
			t = mbs_xact(&s, t + 800, b, mbq_write_regs(b, 200, order, 4));
			mbs_close(&s, t + PG_MS(3));
		}
	}

	/* 7: EWS-01 -> PLC-L1-01, device identification then FC8 sub 1 */
	{
		struct mbs s;
		uint8_t b[8];
		mbs_init(&s, &r, &plc1, DEMO_EWS, DEMO_PLC1, 1);
		uint64_t t = mbs_open(&s, PG_MS(70400));
		mbs_xact(&s, t + 900, b, mbq_devid(b));
		t = mbs_xact(&s, PG_MS(70900), b,
			     mbq_rw(b, MB_FC_DIAGNOSTICS, 0x0001, 0x0000));
		mbs_close(&s, t + PG_MS(400));
	}

	/* 8: EWS-01 -> PLC-L2-01:502, HTTP instead of Modbus */
	{
		static const char get[] = "GET / HTTP/1.1\r\n"
					  "Host: 10.10.2.10:502\r\n"
					  "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n"
					  "Accept: text/html,*/*\r\n"
					  "Connection: keep-alive\r\n\r\n";
		struct tcpc c;
		tcp_init(&c, &r, DEMO_EWS, host_port(DEMO_EWS), DEMO_PLC2, 502);
		g_out.cur_cls = CLS_OTHER;
		uint64_t t = tcp_open(&c, PG_MS(100300), &r);
		t += 1200;
		tcp_seg(&c, C2S, TH_PSH | TH_ACK, (const uint8_t *)get,
			sizeof get - 1, t);
		/* the PLC sees no Modbus header and closes */
		tcp_close(&c, S2C, t + 2500, &r);
	}

	/* 9: joho PC -> PLC-L2-01 (no conduit) */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc2, DEMO_JOHO, DEMO_PLC2, 1);
		uint64_t t = mbs_open(&s, PG_MS(130200));
		for (unsigned i = 0; i < 3; i++)
			t = mbs_read(&s, PG_MS(130200) + PG_SEC(i) + 1500,
				     MB_FC_READ_HOLDING_REGISTERS, 0, 10);
		mbs_close(&s, t + PG_MS(300));
	}

	/* 10: laptop in no zone -> PLC-L1-01 */
	{
		struct mbs s;
		mbs_init(&s, &r, &plc1, DEMO_LAPTOP, DEMO_PLC1, 1);
		uint64_t t = mbs_open(&s, PG_MS(160700));
		t = mbs_read(&s, t + 900, MB_FC_READ_HOLDING_REGISTERS, 0, 50);
		t = mbs_read(&s, t + PG_MS(120), MB_FC_READ_HOLDING_REGISTERS, 100, 16);
		t = mbs_read(&s, t + PG_MS(120), MB_FC_READ_INPUT_REGISTERS, 0, 20);
		mbs_close(&s, t + PG_MS(800));
	}

	/* 11: remote maintenance host -> PLC-L1-01: UMAS STOP_PLC */
	{
		struct mbs s;
		uint8_t b[3] = {MB_FC_UMAS, 0x2C, UMAS_STOP_PLC};
		mbs_init(&s, &r, &plc1, DEMO_REMOTE, DEMO_PLC1, 1);
		uint64_t t = mbs_open(&s, PG_MS(200200));
		t = mbs_xact(&s, t + 1100, b, sizeof b);
		mbs_close(&s, t + PG_MS(250));
	}

	/* 12: DNS in joho */
	{
		static const char *const names[] = {
			"intra.kojo.example", "mail.kojo.example",
			"files.kojo.example", "www.example.com", "update.example.net"};
		for (unsigned k = 0; k < 14; k++) {
			uint32_t cli = (k & 1) ? DEMO_JOHO2 : DEMO_JOHO;
			const char *n = names[rng_below(&r, 5)];
			dns_lookup(&r, cli, DEMO_DNS, n, PG_IP(10, 1, 0, 80 + (mix32(k) % 5)),
				   PG_SEC(20 * k + 5) + rng_range(&r, 0, 900000));
		}
	}

	/* 13: HTTPS in joho */
	dns_lookup(&r, DEMO_JOHO2, DEMO_DNS, "intra.kojo.example", DEMO_WEB,
		   PG_MS(19950));
	https_session(&r, DEMO_JOHO2, DEMO_WEB, PG_SEC(20), 6);
	https_session(&r, DEMO_JOHO2, DEMO_WEB, PG_SEC(150), 4);
}

/* ------------------------------------------------------------------ */
/* gap and midstream: one Modbus flow, ~50 request/response pairs */

#define SINGLE_N 50
#define SINGLE_LOST 25  /* index of the request that is missing in `gap` */
#define SINGLE_SKIP 5   /* exchanges cut off before `midstream` starts */

static void gen_single(uint64_t seed, bool gap, bool midstream)
{
	struct rng r;
	rng_seed(&r, seed);
	host_windows(DEMO_SCADA);
	host_embedded(DEMO_PLC1, 8192);
	struct mbdev plc;
	mbdev_init(&plc, seed ^ 1, 64, 64, 200, 100);
	struct mbs s;
	mbs_init(&s, &r, &plc, DEMO_SCADA, DEMO_PLC1, 1);
	uint64_t t = mbs_open(&s, PG_MS(100));
	for (unsigned i = 0; i < SINGLE_N; i++) {
		uint64_t tq = PG_MS(200) + PG_MS(250) * i + rng_range(&r, 0, 2000);
		if (midstream && i == SINGLE_SKIP)
			g_out.cut = tq; /* first packet written: this request */
		if (gap && i == SINGLE_LOST) {
			/* pure ACK first, so the dropped segment is this request */
			mbs_ack(&s, tq);
			s.tc.drop_next = true;
			fprintf(stderr,
				"pcapgen: gap: lost client->server segment: "
				"transaction id %u (seq %u, 12 bytes, "
				"08:00:%02u.%06u)\n",
				s.tid, s.tc.nxt[C2S], (unsigned)(tq / 1000000u),
				(unsigned)(tq % 1000000u));
		}
		uint8_t fc = (i % 2) ? MB_FC_READ_INPUT_REGISTERS :
				       MB_FC_READ_HOLDING_REGISTERS;
		t = mbs_read(&s, tq, fc, (i % 5) * 10, 10);
	}
	mbs_close(&s, t + PG_MS(300));
}

/* ------------------------------------------------------------------ */
/* streams: N concurrent connections, all open before any closes,
 * plus M SYN-only attempts (a SYN flood from spoofed 10.99.x.x sources) */

static void gen_streams(uint64_t seed, unsigned long nflows,
			unsigned long half_open)
{
	struct rng r;
	rng_seed(&r, seed);
	if (nflows > 2000000)
		die("streams: --flows at most 2000000");
	struct mbdev plc;
	mbdev_init(&plc, seed ^ 1, 64, 64, 200, 100);
	struct mbs *s = xcalloc(nflows, sizeof *s);
	const uint64_t step = 50; /* µs between connections in each phase */
	uint64_t t = PG_MS(10);
	uint64_t flood_step = half_open ? (nflows * step) / half_open + 1 : 0;
	uint64_t flood_t = t;
	unsigned long flood_i = 0;

	for (unsigned long i = 0; i < nflows; i++, t += step) {
		uint32_t cli = PG_IP(10, 3, 0, 100 + i / 20000);
		uint32_t srv = PG_IP(10, 10, 1, 10 + i % 10);
		mbs_init(&s[i], &r, &plc, cli, srv, (uint16_t)(i & 0xffff));
		s[i].tc.port[C2S] = (uint16_t)(20000 + i % 20000);
		out_flush(t);
		/* SYN flood interleaved with the opens */
		while (flood_i < half_open && flood_t <= t) {
			struct tcpc c;
			uint32_t src = PG_IP(10, 99, rng_range(&r, 1, 254),
					     rng_range(&r, 1, 254));
			tcp_init(&c, &r, src, (uint16_t)rng_range(&r, 1024, 65000),
				 PG_IP(10, 10, 1, 10 + flood_i % 10), 502);
			g_out.cur_cls = CLS_OTHER;
			tcp_seg(&c, C2S, TH_SYN, NULL, 0, flood_t);
			flood_i++;
			flood_t += flood_step;
		}
		mbs_open(&s[i], t);
	}
	while (flood_i < half_open) { /* when there are no flows */
		struct tcpc c;
		tcp_init(&c, &r, PG_IP(10, 99, rng_range(&r, 1, 254), rng_range(&r, 1, 254)),
			 (uint16_t)rng_range(&r, 1024, 65000),
			 PG_IP(10, 10, 1, 10 + flood_i % 10), 502);
		g_out.cur_cls = CLS_OTHER;
		tcp_seg(&c, C2S, TH_SYN, NULL, 0, t);
		flood_i++;
		t += step;
	}
	t += PG_MS(100);
	for (unsigned long i = 0; i < nflows; i++, t += step) {
		out_flush(t);
		mbs_read(&s[i], t, MB_FC_READ_HOLDING_REGISTERS, 0, 4);
		/* the delayed ACK now: nothing may be queued before a flush */
		mbs_ack(&s[i], UINT64_MAX);
	}
	t += PG_MS(300);
	for (unsigned long i = 0; i < nflows; i++, t += step) {
		out_flush(t);
		mbs_close(&s[i], t);
	}
	free(s);
}

/* ------------------------------------------------------------------ */
/* bench: a large mixed capture.  Mostly conduit-allowed ICS traffic:
 *   Modbus/TCP  seisan_kanri SCADAs -> PLCs (read, sometimes discover),
 *               HMIs -> PLCs in their own line (read + write),
 *               AGVs -> AS/RS PLCs (read + write)
 *   S7comm      HMIs -> S7 PLCs in line 2, EWS (hozen) -> S7 PLCs
 *   BACnet/IP   building workstation -> devices, inside setsubi
 *   background  HTTPS-looking TCP and DNS inside joho (~20 % of packets)
 * ~10 % of the ICS TCP streams start mid-stream (no handshake); some
 * exchanges pipeline 2-3 PDUs in one segment, some split a PDU across two
 * segments (never inside the 7-byte MBAP header: tshark 4.0 loses sync
 * there, and we check every capture with tshark). */

struct bench_ctx {
	struct rng r;
	struct mbdev *dev[64];
	uint32_t dev_ip[64];
	unsigned ndev;
};

static struct mbdev *bench_dev(struct bench_ctx *b, uint32_t ip)
{
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev_ip[i] == ip)
			return b->dev[i];
	if (b->ndev == 64)
		die("internal: too many bench devices");
	struct mbdev *d = xmalloc(sizeof *d);
	mbdev_init(d, mix32(ip) ^ 0xb5, 64, 64, 200, 200);
	d->vendor = "Plant Controls";
	d->product = "PC-2000";
	d->revision = "2.1";
	host_embedded(ip, 8192);
	b->dev[b->ndev] = d;
	b->dev_ip[b->ndev++] = ip;
	return d;
}

static uint64_t bench_modbus(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli, srv;
	unsigned kind = rng_below(r, 100);
	bool writes = false;
	if (kind < 60) { /* SCADA reads */
		cli = PG_IP(10, 3, 0, 10 + rng_below(r, 5));
		switch (rng_below(r, 4)) {
		case 0: srv = PG_IP(10, 10, 1, 10 + rng_below(r, 20)); break;
		case 1: srv = PG_IP(10, 10, 2, 10 + rng_below(r, 20)); break;
		case 2: srv = PG_IP(10, 21, 0, 10 + rng_below(r, 8)); break;
		default: srv = PG_IP(10, 30, 0, 20 + rng_below(r, 10)); break;
		}
	} else if (kind < 85) { /* HMI, same line */
		unsigned line = 1 + rng_below(r, 2);
		cli = PG_IP(10, 10, line, 200 + rng_below(r, 10));
		srv = PG_IP(10, 10, line, 10 + rng_below(r, 20));
		writes = true;
	} else { /* AGV -> AS/RS */
		cli = PG_IP(10, 20, 0, 15 + rng_below(r, 10));
		srv = PG_IP(10, 21, 0, 10 + rng_below(r, 8));
		writes = true;
	}
	struct mbs s;
	mbs_init(&s, r, bench_dev(b, srv), cli, srv, (uint16_t)rng_next(r));
	bool mid = rng_pct(r, 10);
	bool pipelined = rng_pct(r, 15), split = rng_pct(r, 10);
	unsigned n = rng_range(r, 10, 60);
	uint32_t gap = rng_range(r, 20000, 200000);
	uint64_t t = mid ? ts : mbs_open(&s, ts);
	bool discovered = false;
	for (unsigned i = 0; i < n; i++) {
		t += gap + rng_below(r, 3000);
		uint8_t p[3][32];
		struct mbx x = {.n = 1};
		unsigned op = rng_below(r, 100);
		if (!writes && !discovered && !mid && i == 0 && rng_pct(r, 20)) {
			x.len[0] = mbq_devid(p[0]);
			discovered = true;
		} else if (writes && op < 15) {
			x.len[0] = mbq_rw(p[0], MB_FC_WRITE_SINGLE_REGISTER,
					  100 + rng_below(r, 50), rng_below(r, 2000));
		} else if (writes && op < 25) {
			uint16_t v[6];
			unsigned q = rng_range(r, 2, 6);
			for (unsigned k = 0; k < q; k++)
				v[k] = (uint16_t)rng_below(r, 5000);
			x.len[0] = mbq_write_regs(p[0], 120 + rng_below(r, 40), v, q);
		} else if (writes && op < 30) {
			x.len[0] = mbq_rw(p[0], MB_FC_WRITE_SINGLE_COIL,
					  rng_below(r, 32), rng_pct(r, 50) ? 0xFF00 : 0);
		} else if (writes && op < 33) {
			x.len[0] = mbq_write_coils(p[0], rng_below(r, 32), 8,
						   (uint32_t)rng_next(r));
		} else if (op < 40) {
			x.len[0] = mbq_rw(p[0], rng_pct(r, 50) ? MB_FC_READ_COILS :
								MB_FC_READ_DISCRETE_INPUTS,
					  rng_below(r, 32), rng_range(r, 1, 32));
		} else {
			x.len[0] = mbq_rw(p[0], rng_pct(r, 60) ? MB_FC_READ_HOLDING_REGISTERS :
								MB_FC_READ_INPUT_REGISTERS,
					  rng_below(r, 100), rng_range(r, 1, 60));
		}
		x.pdu[0] = p[0];
		if (pipelined && rng_pct(r, 40)) {
			x.n = (int)rng_range(r, 2, 3);
			for (int k = 1; k < x.n; k++) {
				x.len[k] = mbq_rw(p[k], MB_FC_READ_HOLDING_REGISTERS,
						  rng_below(r, 100), rng_range(r, 1, 20));
				x.pdu[k] = p[k];
			}
		}
		if (split && rng_pct(r, 30)) {
			/* inside the first request, after its MBAP header */
			size_t first = 7 + x.len[0];
			if (rng_pct(r, 50))
				x.split_q = rng_range(r, 8, (uint32_t)first - 1);
			else
				x.split_r = 9; /* inside the first response PDU */
		}
		t = mbs_exchange(&s, t, &x);
	}
	return mbs_close(&s, t + rng_range(r, 1000, 100000));
}

/* S7comm: TPKT (RFC 1006) + COTP (ISO 8073) + S7 header (protocol id 0x32) */
static size_t s7_tpkt(uint8_t *b, const uint8_t *cotp_s7, size_t n)
{
	b[0] = 3; /* TPKT version */
	b[1] = 0;
	put16(b + 2, (uint16_t)(4 + n));
	memcpy(b + 4, cotp_s7, n);
	return 4 + n;
}

/* COTP DT + S7 header; ack_data (rosctr 3) carries error class/code */
static size_t s7_pdu(uint8_t *b, uint8_t rosctr, uint16_t ref, const uint8_t *par,
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

static uint64_t s7_send(struct tcpc *c, int dir, const uint8_t *b, size_t n,
			uint64_t t)
{
	g_out.cur_cls = CLS_S7;
	tcp_seg(c, dir, TH_PSH | TH_ACK, b, n, t);
	return t;
}

static uint64_t bench_s7(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli = rng_pct(r, 80) ? PG_IP(10, 10, 2, 150 + rng_below(r, 5)) :
					PG_IP(10, 4, 0, 10 + rng_below(r, 2));
	uint32_t srv = PG_IP(10, 10, 2, 100 + rng_below(r, 10));
	host_embedded(srv, 8192);
	struct tcpc c;
	tcp_init(&c, r, cli, host_port(cli), srv, 102);
	bool mid = rng_pct(r, 10);
	uint64_t t = ts;
	uint8_t q[512], a[512];
	uint16_t ref = (uint16_t)rng_range(r, 1, 60000);
	if (!mid) {
		/* COTP connection request / confirm: TPDU size 1024, TSAPs
		 * 0x0100 (PG) and 0x0102 (rack 0 slot 2) */
		static const uint8_t cr[] = {0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00,
					     0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
					     0xC2, 0x02, 0x01, 0x02};
		static const uint8_t cc[] = {0x11, 0xD0, 0x00, 0x01, 0x00, 0x02, 0x00,
					     0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00,
					     0xC2, 0x02, 0x01, 0x02};
		static const uint8_t setup_q[] = {0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
						  0x01, 0xE0};
		static const uint8_t setup_a[] = {0xF0, 0x00, 0x00, 0x01, 0x00, 0x01,
						  0x01, 0xE0};
		g_out.cur_cls = CLS_S7;
		t = tcp_open(&c, t, r);
		t = s7_send(&c, C2S, q, s7_tpkt(q, cr, sizeof cr), t + 500);
		t = s7_send(&c, S2C, a, s7_tpkt(a, cc, sizeof cc), t + rng_range(r, 500, 3000));
		t = s7_send(&c, C2S, q, s7_pdu(q, 1, ref, setup_q, sizeof setup_q, NULL, 0),
			    t + 500);
		t = s7_send(&c, S2C, a, s7_pdu(a, 3, ref, setup_a, sizeof setup_a, NULL, 0),
			    t + rng_range(r, 500, 3000));
		ref++;
	}
	unsigned n = rng_range(r, 10, 40);
	uint32_t gap = rng_range(r, 50000, 250000);
	for (unsigned i = 0; i < n; i++, ref++) {
		t += gap + rng_below(r, 5000);
		/* read var job: items of any-pointer syntax id 0x10, transport
		 * size BYTE, DB area 0x84 */
		uint8_t par[2 + 12 * 4], dat[4 * (4 + 64)];
		unsigned items = rng_range(r, 1, 4);
		size_t pl = 0, dl = 0;
		par[pl++] = 0x04; /* read var */
		par[pl++] = (uint8_t)items;
		for (unsigned k = 0; k < items; k++) {
			unsigned len = rng_range(r, 2, 32) & ~1u;
			par[pl++] = 0x12; /* variable specification */
			par[pl++] = 0x0A; /* length of the rest */
			par[pl++] = 0x10; /* syntax id: S7ANY */
			par[pl++] = 0x02; /* transport size: BYTE */
			put16(par + pl, (uint16_t)len);
			pl += 2;
			put16(par + pl, (uint16_t)(1 + rng_below(r, 20))); /* DB */
			pl += 2;
			par[pl++] = 0x84; /* area: data blocks */
			uint32_t bitaddr = rng_below(r, 200) * 8;
			par[pl++] = (uint8_t)(bitaddr >> 16);
			par[pl++] = (uint8_t)(bitaddr >> 8);
			par[pl++] = (uint8_t)bitaddr;
			dat[dl++] = 0xFF; /* return code: success */
			dat[dl++] = 0x04; /* transport size: byte/word/dword */
			put16(dat + dl, (uint16_t)(len * 8)); /* length in bits */
			dl += 2;
			for (unsigned j = 0; j < len; j++)
				dat[dl++] = (uint8_t)rng_next(r);
			if ((len & 1) && k + 1 < items)
				dat[dl++] = 0; /* fill byte between items */
		}
		uint8_t apar[2] = {0x04, (uint8_t)items};
		t = s7_send(&c, C2S, q, s7_pdu(q, 1, ref, par, pl, NULL, 0), t);
		t = s7_send(&c, S2C, a, s7_pdu(a, 3, ref, apar, 2, dat, dl),
			    t + rng_range(r, 1000, 8000));
		if (rng_pct(r, 50)) { /* delayed ACK (jobs are >= 50 ms apart) */
			g_out.cur_cls = CLS_S7;
			tcp_seg(&c, C2S, TH_ACK, NULL, 0, t + PG_MS(40));
		}
	}
	g_out.cur_cls = CLS_S7;
	return tcp_close(&c, C2S, t + PG_MS(300), r);
}

/* BACnet/IP (ASHRAE 135 Annex J): BVLC original-unicast-NPDU, NPDU,
 * confirmed ReadProperty(present-value) and its ComplexACK */
static size_t bacnet_msg(uint8_t *b, bool ack, uint8_t invoke, uint32_t oid,
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

static uint64_t bench_bacnet(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli = PG_IP(10, 30, 0, 5);
	uint32_t srv = PG_IP(10, 30, 0, 50 + rng_below(r, 20));
	unsigned n = rng_range(r, 4, 16);
	uint8_t q[64], a[64];
	uint64_t t = ts;
	g_out.flows++;
	for (unsigned i = 0; i < n; i++) {
		uint8_t inv = (uint8_t)rng_next(r);
		/* analog-input (0) or analog-value (2), instance 1..64 */
		uint32_t oid = ((rng_pct(r, 50) ? 0u : 2u) << 22) | rng_range(r, 1, 64);
		float v = 15.0f + (float)rng_below(r, 1500) / 100.0f;
		uint32_t bits;
		memcpy(&bits, &v, 4);
		g_out.cur_cls = CLS_BACNET;
		udp_send(cli, 47808, srv, 47808, q, bacnet_msg(q, false, inv, oid, 0), t);
		g_out.cur_cls = CLS_BACNET;
		udp_send(srv, 47808, cli, 47808, a, bacnet_msg(a, true, inv, oid, bits),
			 t + rng_range(r, 2000, 20000));
		t += rng_range(r, 50000, 150000);
	}
	return t;
}

static uint64_t bench_background(struct bench_ctx *b, uint64_t ts)
{
	struct rng *r = &b->r;
	uint32_t cli = PG_IP(10, 1, 5, 10 + rng_below(r, 90));
	if (rng_pct(r, 40)) {
		static const char *const names[] = {
			"intra.kojo.example", "mail.kojo.example", "files.kojo.example",
			"www.example.com", "update.example.net", "time.example.org"};
		dns_lookup(r, cli, PG_IP(10, 1, 0, 53), names[rng_below(r, 6)],
			   PG_IP(10, 1, 0, 80 + rng_below(r, 6)), ts);
		return ts;
	}
	return https_session(r, cli, PG_IP(10, 1, 0, 80 + rng_below(r, 6)), ts,
			     (int)rng_range(r, 3, 20));
}

static void gen_bench(uint64_t seed, unsigned long npackets)
{
	struct bench_ctx b;
	memset(&b, 0, sizeof b);
	rng_seed(&b.r, seed);
	for (unsigned i = 0; i < 5; i++)
		host_windows(PG_IP(10, 3, 0, 10 + i));
	for (unsigned i = 0; i < 10; i++) {
		host_windows(PG_IP(10, 10, 1, 200 + i));
		host_windows(PG_IP(10, 10, 2, 200 + i));
	}
	uint64_t t = PG_MS(5);
	while (g_out.emitted < npackets) {
		out_flush(t);
		unsigned k = rng_below(&b.r, 100);
		/* flow mix: by packets about 60 % Modbus, 10 % S7comm,
		 * 8 % BACnet, 20 % background */
		if (k < 41)
			bench_modbus(&b, t);
		else if (k < 49)
			bench_s7(&b, t);
		else if (k < 67)
			bench_bacnet(&b, t);
		else
			bench_background(&b, t);
		t += rng_range(&b.r, 1000, 9000);
	}
	for (unsigned i = 0; i < b.ndev; i++)
		free(b.dev[i]);
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: pcapgen SCENARIO OUT.pcap [options]\n"
	      "scenarios:\n"
	      "  demo                       small plant morning with attacks (see pcaps/README.md)\n"
	      "  bench [--packets N]        large mixed capture (default 1000000 packets)\n"
	      "  gap                        one Modbus flow, one client segment lost\n"
	      "  midstream                  one Modbus flow, capture starts after the handshake\n"
	      "  streams --flows N [--half-open M]\n"
	      "                             N concurrent connections, M SYN-only attempts\n"
	      "options:\n"
	      "  --seed S                   PRNG seed (default: fixed)\n"
	      "  --oui XX:XX:XX[/A.B.C.D/LEN]  vendor OUI for all hosts or a prefix\n",
	      f);
}

static unsigned long parse_num(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		die("%s: not a number: %s", opt, s);
	return v;
}

static void parse_oui(const char *s)
{
	unsigned o[3], a, b, c, d, len = 0;
	int n = 0;
	if (sscanf(s, "%2x:%2x:%2x%n", &o[0], &o[1], &o[2], &n) != 3)
		die("--oui: expected XX:XX:XX[/A.B.C.D/LEN]: %s", s);
	uint32_t net = 0;
	int plen = 0;
	if (s[n] == '/') {
		int m = 0;
		if (sscanf(s + n, "/%u.%u.%u.%u/%u%n", &a, &b, &c, &d, &len, &m) != 5 ||
		    s[n + m] || a > 255 || b > 255 || c > 255 || d > 255 || len > 32)
			die("--oui: bad prefix in %s", s);
		net = PG_IP(a, b, c, d);
		plen = (int)len;
	} else if (s[n]) {
		die("--oui: expected XX:XX:XX[/A.B.C.D/LEN]: %s", s);
	}
	uint8_t oui[3] = {(uint8_t)o[0], (uint8_t)o[1], (uint8_t)o[2]};
	host_add_oui(oui, net, plen);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	const char *scen = argv[1], *path = argv[2];
	unsigned long npackets = 1000000, nflows = 1000, half_open = 0;
	uint64_t seed = 0x6d696d616d6f7269ull; /* "mimamori" */
	for (int i = 3; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc)
			die("%s: missing value (see --help)", o);
		const char *v = argv[++i];
		if (!strcmp(o, "--packets"))
			npackets = parse_num(o, v);
		else if (!strcmp(o, "--flows"))
			nflows = parse_num(o, v);
		else if (!strcmp(o, "--half-open"))
			half_open = parse_num(o, v);
		else if (!strcmp(o, "--seed"))
			seed = parse_num(o, v);
		else if (!strcmp(o, "--oui"))
			parse_oui(v);
		else
			die("unknown option %s (see --help)", o);
	}

	enum { S_DEMO, S_BENCH, S_GAP, S_MID, S_STREAMS } sc;
	if (!strcmp(scen, "demo"))
		sc = S_DEMO;
	else if (!strcmp(scen, "bench"))
		sc = S_BENCH;
	else if (!strcmp(scen, "gap"))
		sc = S_GAP;
	else if (!strcmp(scen, "midstream"))
		sc = S_MID;
	else if (!strcmp(scen, "streams"))
		sc = S_STREAMS;
	else {
		fprintf(stderr, "pcapgen: unknown scenario %s\n", scen);
		usage(stderr);
		return 2;
	}

	out_open(path);
	switch (sc) {
	case S_DEMO: gen_demo(seed); break;
	case S_BENCH: gen_bench(seed, npackets); break;
	case S_GAP: gen_single(seed, true, false); break;
	case S_MID: gen_single(seed, false, true); break;
	case S_STREAMS: gen_streams(seed, nflows, half_open); break;
	}
	out_close(path);

	fprintf(stderr,
		"pcapgen: %s: %llu packets, %llu flows, %llu bytes, %llu modbus ADUs",
		scen, (unsigned long long)g_out.written,
		(unsigned long long)g_out.flows, (unsigned long long)g_out.bytes,
		(unsigned long long)g_out.adus);
	if (sc == S_BENCH) {
		fputs(" (packets:", stderr);
		for (int c = 0; c < CLS__N; c++)
			fprintf(stderr, " %s %.1f%%", cls_names[c],
				g_out.written ? 100.0 * (double)g_out.cls_pkts[c] /
							(double)g_out.written :
						0.0);
		fputc(')', stderr);
	}
	fprintf(stderr, " -> %s\n", path);
	free(g_hosts.v);
	return 0;
}
