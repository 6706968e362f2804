/*
 * core.c - pcapgen's shared core: helpers, PRNG, hosts, checksums, the
 * time-ordered packet output, UDP and the TCP connection model (gen.h says
 * what each does and how output ordering works).
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pcapgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		die("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

unsigned long parse_num(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		die("%s: not a number: %s", opt, s);
	return v;
}

unsigned long gen_opt_num(int argc, char **argv, const char *name,
			  unsigned long def)
{
	for (int i = 0; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], name))
			def = parse_num(name, argv[i + 1]);
	return def;
}

/* ------------------------------------------------------------------ */
/* PRNG: xorshift64* (Vigna 2014) */

uint64_t rng_next(struct rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9E3779B97F4A7C15ull; /* state must not be 0 */
	for (int i = 0; i < 8; i++)
		rng_next(r);
}

/* uniform in [0, n) (the modulo bias is irrelevant here) */
uint32_t rng_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)((rng_next(r) >> 32) % n) : 0;
}

/* uniform in [lo, hi] */
uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

bool rng_pct(struct rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

uint32_t mix32(uint32_t x)
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

void host_add_oui(const uint8_t oui[3], uint32_t net, int len)
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
struct host *host_get(uint32_t ip)
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
void host_windows(uint32_t ip)
{
	struct host *h = host_get(ip);
	h->ttl = 128;
	h->ack_delay = 200000;
	h->win = 64240;
}

/* embedded device: small fixed window */
void host_embedded(uint32_t ip, uint16_t win)
{
	struct host *h = host_get(ip);
	h->ttl = 64;
	h->win = win;
}

uint16_t host_port(uint32_t ip)
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

static const char *const cls_names[CLS__N] = {"modbus", "s7comm", "bacnet",
					      "background"};

struct gen_out g_out;

/* the heap and the capture file */
static struct {
	const char *path; /* set by out_open, opened on first write */
	pcap_t *pd;
	pcap_dumper_t *dumper;
	struct pkt **heap;
	size_t n, cap;
	uint64_t seq;
} g_q;

static void out_create(void)
{
	g_q.pd = pcap_open_dead(DLT_EN10MB, PG_SNAPLEN);
	if (!g_q.pd)
		die("pcap_open_dead failed");
	g_q.dumper = pcap_dump_open(g_q.pd, g_q.path);
	if (!g_q.dumper)
		die("%s: %s", g_q.path, pcap_geterr(g_q.pd));
}

static bool pkt_before(const struct pkt *a, const struct pkt *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* TCP/UDP checksum over the IPv4 pseudo-header (RFC 793, RFC 768) */
uint16_t l4_csum(uint32_t src, uint32_t dst, uint8_t proto,
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
	if (!g_q.dumper)
		out_create();
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
	pcap_dump((u_char *)g_q.dumper, &h, f);
	g_out.written++;
	g_out.bytes += h.len;
	g_out.adus += p->nadu;
	g_out.cls_pkts[p->cls]++;
}

static struct pkt *heap_pop(void)
{
	struct pkt *top = g_q.heap[0];
	struct pkt *last = g_q.heap[--g_q.n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= g_q.n)
			break;
		if (c + 1 < g_q.n && pkt_before(g_q.heap[c + 1], g_q.heap[c]))
			c++;
		if (!pkt_before(g_q.heap[c], last))
			break;
		g_q.heap[i] = g_q.heap[c];
		i = c;
	}
	if (g_q.n)
		g_q.heap[i] = last;
	return top;
}

/* write every queued packet earlier than ts */
void out_flush(uint64_t ts)
{
	while (g_q.n && g_q.heap[0]->ts < ts) {
		struct pkt *p = heap_pop();
		out_write(p);
		free(p);
	}
}

void out_emit(uint32_t src, uint32_t dst, uint8_t proto,
	      const uint8_t *l4, size_t len, uint64_t ts)
{
	if (len > PG_MAX_L4)
		die("internal: segment of %zu bytes", len);
	struct pkt *p = xmalloc(sizeof *p + len);
	p->ts = ts;
	p->seq = g_q.seq++;
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
	if (g_q.n == g_q.cap) {
		g_q.cap = g_q.cap ? g_q.cap * 2 : 4096;
		g_q.heap = realloc(g_q.heap, g_q.cap * sizeof *g_q.heap);
		if (!g_q.heap)
			die("out of memory (packet queue)");
	}
	size_t i = g_q.n++;
	while (i > 0) {
		size_t par = (i - 1) / 2;
		if (!pkt_before(p, g_q.heap[par]))
			break;
		g_q.heap[i] = g_q.heap[par];
		i = par;
	}
	g_q.heap[i] = p;
	g_out.emitted++;
}

void out_open(const char *path)
{
	g_q.path = path;
}

void out_close(const char *path)
{
	out_flush(UINT64_MAX);
	if (!g_q.dumper)
		out_create(); /* no packets: a capture with just the header */
	if (pcap_dump_flush(g_q.dumper) != 0)
		die("%s: write error: %s", path, strerror(errno));
	pcap_dump_close(g_q.dumper);
	pcap_close(g_q.pd);
	free(g_q.heap);
	free(g_hosts.v);
}

void out_summary(const char *scen, const char *path, bool classes)
{
	fprintf(stderr,
		"pcapgen: %s: %llu packets, %llu flows, %llu bytes, %llu modbus ADUs",
		scen, (unsigned long long)g_out.written,
		(unsigned long long)g_out.flows, (unsigned long long)g_out.bytes,
		(unsigned long long)g_out.adus);
	if (classes) {
		fputs(" (packets:", stderr);
		for (int c = 0; c < CLS__N; c++)
			fprintf(stderr, " %s %.1f%%", cls_names[c],
				g_out.written ? 100.0 * (double)g_out.cls_pkts[c] /
							(double)g_out.written :
						0.0);
		fputc(')', stderr);
	}
	fprintf(stderr, " -> %s\n", path);
}

/* ------------------------------------------------------------------ */
/* UDP */

void udp_send(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
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

void tcp_seg(struct tcpc *c, int dir, uint8_t flags, const uint8_t *data,
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

void tcp_init(struct tcpc *c, struct rng *r, uint32_t cip, uint16_t cport,
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
uint64_t tcp_open(struct tcpc *c, uint64_t ts, struct rng *r)
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
uint64_t tcp_close(struct tcpc *c, int dir, uint64_t ts, struct rng *r)
{
	uint64_t t = ts;
	tcp_seg(c, dir, TH_FIN | TH_ACK, NULL, 0, t);
	t += rng_range(r, 150, 900);
	tcp_seg(c, !dir, TH_FIN | TH_ACK, NULL, 0, t);
	t += rng_range(r, 100, 400);
	tcp_seg(c, dir, TH_ACK, NULL, 0, t);
	return t;
}
