/*
 * flow.c - flows: both ends placed in zones once, the dissector chosen by
 * port and then confirmed by its probe (never by port alone), its state.
 *
 * TCP flows live as long as libnids' stream (reasm.c).  UDP has no
 * connection, so UDP flows live in a bounded table here: a hash on the
 * address pair, an LRU list, idle expiry by capture time, and eviction of
 * the least recently used (counted) when the table is full.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sensor.h"

static uint64_t next_flow_id = 1;

/*
 * Port-indexed dissector table: the candidate for a port in O(1), looked
 * up for every packet (which TCP packets go to libnids at all, which UDP
 * datagrams have a flow).  0 = none, else registry index + 1.
 */
static uint8_t port_table[2][65536];
static bool port_table_ready;

static void port_table_build(void)
{
	for (int i = 0; mm_dissectors[i]; i++) {
		const struct mm_dissector *d = mm_dissectors[i];
		int t = d->transport == IPPROTO_UDP;
		for (int j = 0; j < 8 && d->ports[j]; j++)
			if (!port_table[t][d->ports[j]])
				port_table[t][d->ports[j]] = (uint8_t)(i + 1);
	}
	port_table_ready = true;
}

int flow_dissector_for_port(uint8_t transport, uint16_t port)
{
	if (!port_table_ready)
		port_table_build();
	return (int)port_table[transport == IPPROTO_UDP][port] - 1;
}

struct mm_flow *flow_new(uint8_t transport, uint32_t cli_ip, uint16_t cli_port,
			 uint32_t srv_ip, uint16_t srv_port)
{
	struct mm_flow *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->id = next_flow_id++;
	f->transport = transport;
	f->cli_ip = cli_ip;
	f->srv_ip = srv_ip;
	f->cli_port = cli_port;
	f->srv_port = srv_port;
	/* mm_fmt_ipv4: inet_ntop cost ~1,800 instructions per address */
	mm_fmt_ipv4(f->cli_str, cli_ip);
	mm_fmt_ipv4(f->srv_str, srv_ip);
	if (mm.zones) {
		f->cli_zone = zone_lookup(mm.zones, cli_ip, &f->cli_host);
		f->srv_zone = zone_lookup(mm.zones, srv_ip, &f->srv_host);
	}
	/* the frame that created the flow tells which MAC each end uses */
	if (mm.cur_has_src_mac) {
		if (mm.cur_src_ip == cli_ip)
			hosts_observe_mac(cli_ip, f->cli_zone, mm.cur_src_mac);
		else if (mm.cur_src_ip == srv_ip)
			hosts_observe_mac(srv_ip, f->srv_zone, mm.cur_src_mac);
	}
	if (mm.cur_has_dst_mac) {
		if (mm.cur_dst_ip == srv_ip)
			hosts_observe_mac(srv_ip, f->srv_zone, mm.cur_dst_mac);
		else if (mm.cur_dst_ip == cli_ip)
			hosts_observe_mac(cli_ip, f->cli_zone, mm.cur_dst_mac);
	}
	f->d_index = -1;
	f->ctx.ops = &mm_sensor_ctx_ops;
	f->ctx.host = f;
	return f;
}

/* exchange the two ends: the flow's client becomes its server */
static void flow_swap_ends(struct mm_flow *f)
{
	uint32_t ip = f->cli_ip;
	uint16_t port = f->cli_port;
	const struct zone *z = f->cli_zone;
	const char *h = f->cli_host;
	char s[16];

	f->cli_ip = f->srv_ip; f->srv_ip = ip;
	f->cli_port = f->srv_port; f->srv_port = port;
	f->cli_zone = f->srv_zone; f->srv_zone = z;
	f->cli_host = f->srv_host; f->srv_host = h;
	memcpy(s, f->cli_str, sizeof(s));
	memcpy(f->cli_str, f->srv_str, sizeof(s));
	memcpy(f->srv_str, s, sizeof(s));
	f->swapped = !f->swapped;
}

void flow_choose_dissector(struct mm_flow *f)
{
	int i = flow_dissector_for_port(f->transport, f->srv_port);

	/*
	 * Some devices open the connection from the protocol's server port
	 * (a Modbus server on 502 connecting out to a collector): the end on
	 * the protocol's port is its server, whoever sent the SYN.
	 */
	if (i < 0 && f->transport == IPPROTO_TCP) {
		i = flow_dissector_for_port(f->transport, f->cli_port);
		if (i >= 0)
			flow_swap_ends(f);
	}
	if (i < 0)
		return;
	f->d = mm_dissectors[i];
	f->d_index = i;
	f->state = FLOW_PROBING;
	if (f->d->state_new) {
		f->dstate = f->d->state_new();
		if (!f->dstate) {
			f->d = NULL;
			f->d_index = -1;
			f->state = FLOW_UNDISSECTED;
		}
	}
}

void flow_ends(const struct mm_flow *f, enum mm_dir dir, struct mm_ends *e)
{
	bool to_srv = dir == MM_DIR_TO_SERVER;

	e->transport = f->transport;
	e->src_ip = to_srv ? f->cli_ip : f->srv_ip;
	e->dest_ip = to_srv ? f->srv_ip : f->cli_ip;
	e->src_str = to_srv ? f->cli_str : f->srv_str;
	e->dest_str = to_srv ? f->srv_str : f->cli_str;
	e->src_port = to_srv ? f->cli_port : f->srv_port;
	e->dest_port = to_srv ? f->srv_port : f->cli_port;
	e->src_zone = to_srv ? f->cli_zone : f->srv_zone;
	e->dest_zone = to_srv ? f->srv_zone : f->cli_zone;
	e->src_host = to_srv ? f->cli_host : f->srv_host;
	e->dest_host = to_srv ? f->srv_host : f->cli_host;
	if (f->has_origin) {
		e->src_ip = f->origin_ip;
		e->src_str = f->origin_str;
		e->src_port = f->origin_port;
		e->src_zone = f->origin_zone;
		e->src_host = f->origin_host;
	}
}

void flow_set_origin(struct mm_flow *f, uint32_t ip, uint16_t port)
{
	f->has_origin = true;
	f->origin_ip = ip;
	f->origin_port = port;
	mm_fmt_ipv4(f->origin_str, ip);
	f->origin_host = NULL;
	f->origin_zone = mm.zones ? zone_lookup(mm.zones, ip, &f->origin_host) : NULL;
}

void flow_parse(struct mm_flow *f, enum mm_dir dir, const uint8_t *p, size_t n)
{
	f->ctx.dir = dir;
	f->ctx.now = &mm.now;
	f->d->parse(&f->ctx, f->dstate, p, n);
	f->has_origin = false;
	hosts_flush_facts();
}

void flow_end(struct mm_flow *f)
{
	if (f->in_tcp_table)
		tcp_flow_remove(f);
	if (f->d && f->d->flow_end && f->state == FLOW_ACTIVE) {
		f->ctx.now = &mm.now;
		f->d->flow_end(&f->ctx, f->dstate);
		hosts_flush_facts();
	}
	if (f->d && f->d->state_free && f->dstate)
		f->d->state_free(f->dstate);
	for (int d = 0; d < 2; d++)
		free(f->half[d].ooo);
	free(f);
}

/* ---------------- the UDP table ---------------- */

static struct mm_flow **udp_hash;
static size_t udp_hash_size; /* a power of two */
static int udp_max, udp_count;
static struct mm_flow *lru_head, *lru_tail; /* head = most recent */

int udp_table_init(int max)
{
	size_t n = 1024;

	while ((int)n < max * 2 && n < (1u << 24))
		n <<= 1;
	udp_hash = calloc(n, sizeof(*udp_hash));
	if (!udp_hash)
		return -1;
	udp_hash_size = n;
	udp_max = max;
	return 0;
}

/* order-independent, so both directions find the same flow */
static size_t udp_bucket(uint32_t a, uint16_t ap, uint32_t b, uint16_t bp)
{
	uint64_t x = ((uint64_t)(a ^ b) << 16) ^ (uint64_t)(ap ^ bp) ^
		     ((uint64_t)(a + b) << 32);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x & (udp_hash_size - 1);
}

static void lru_unlink(struct mm_flow *f)
{
	if (f->lru_prev)
		f->lru_prev->lru_next = f->lru_next;
	else
		lru_head = f->lru_next;
	if (f->lru_next)
		f->lru_next->lru_prev = f->lru_prev;
	else
		lru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = NULL;
}

static void lru_push(struct mm_flow *f)
{
	f->lru_prev = NULL;
	f->lru_next = lru_head;
	if (lru_head)
		lru_head->lru_prev = f;
	lru_head = f;
	if (!lru_tail)
		lru_tail = f;
}

static void udp_remove(struct mm_flow *f)
{
	size_t b = udp_bucket(f->cli_ip, f->cli_port, f->srv_ip, f->srv_port);
	struct mm_flow **pp = &udp_hash[b];

	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	lru_unlink(f);
	udp_count--;
	flow_end(f);
}

struct mm_flow *udp_flow_get(uint32_t saddr, uint16_t sport, uint32_t daddr,
			     uint16_t dport, enum mm_dir *dir)
{
	size_t b;
	struct mm_flow *f;
	bool to_server;

	if (!udp_hash)
		return NULL;
	b = udp_bucket(saddr, sport, daddr, dport);
	for (f = udp_hash[b]; f; f = f->hnext) {
		if (f->cli_ip == saddr && f->cli_port == sport &&
		    f->srv_ip == daddr && f->srv_port == dport)
			to_server = true;
		else if (f->srv_ip == saddr && f->srv_port == sport &&
			 f->cli_ip == daddr && f->cli_port == dport)
			to_server = false;
		else
			continue;
		*dir = to_server ? MM_DIR_TO_SERVER : MM_DIR_TO_CLIENT;
		f->last_seen = mm_now();
		if (f != lru_head) {
			lru_unlink(f);
			lru_push(f);
		}
		return f;
	}
	/*
	 * A new UDP flow, only for a dissector's port: the end on that port
	 * is the server (for BACnet both ends often use 47808: then the
	 * destination of the first datagram is).
	 */
	if (flow_dissector_for_port(IPPROTO_UDP, dport) >= 0)
		to_server = true;
	else if (flow_dissector_for_port(IPPROTO_UDP, sport) >= 0)
		to_server = false;
	else
		return NULL;
	if (udp_count >= udp_max && lru_tail) {
		mm.st.udp_flows_evicted++;
		udp_remove(lru_tail);
	}
	f = to_server ? flow_new(IPPROTO_UDP, saddr, sport, daddr, dport)
		      : flow_new(IPPROTO_UDP, daddr, dport, saddr, sport);
	if (!f)
		return NULL;
	flow_choose_dissector(f);
	f->last_seen = mm_now();
	f->hnext = udp_hash[b];
	udp_hash[b] = f;
	lru_push(f);
	udp_count++;
	mm.st.udp_flows++;
	*dir = to_server ? MM_DIR_TO_SERVER : MM_DIR_TO_CLIENT;
	return f;
}

void udp_flows_expire(double now)
{
	while (lru_tail && now - lru_tail->last_seen > mm.cfg.udp_idle)
		udp_remove(lru_tail);
}

void udp_flows_end_all(void)
{
	while (lru_tail)
		udp_remove(lru_tail);
	free(udp_hash);
	udp_hash = NULL;
}

/* ---------------- the TCP lookup table ----------------
 *
 * libnids finds a stream by hashing the 4-tuple with a keyed byte-wise
 * hash (mkhash), and it does so for every packet; our packet path needs
 * the same answer before libnids sees the packet.  Calling
 * nids_find_tcp_stream() for both orientations doubled that cost (a
 * quarter of the sensor's time in profiles), so established streams are
 * also kept here, under a cheap order-independent hash.
 */
static struct mm_flow **tcp_hash;
static size_t tcp_hash_size; /* a power of two */

int tcp_table_init(int max)
{
	size_t n = 1024;

	while ((int)n < max * 2 && n < (1u << 26))
		n <<= 1;
	tcp_hash = calloc(n, sizeof(*tcp_hash));
	if (!tcp_hash)
		return -1;
	tcp_hash_size = n;
	return 0;
}

void tcp_table_free(void)
{
	free(tcp_hash);
	tcp_hash = NULL;
}

static size_t tcp_bucket(uint32_t a, uint16_t ap, uint32_t b, uint16_t bp)
{
	uint64_t x = ((uint64_t)(a ^ b) << 16) ^ (uint64_t)(ap ^ bp) ^
		     ((uint64_t)(a + b) << 32) ^ (uint64_t)(ap + bp);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x & (tcp_hash_size - 1);
}

void tcp_flow_add(struct mm_flow *f, uint32_t tcp_cli, uint16_t tcp_cport,
		  uint32_t tcp_srv, uint16_t tcp_sport)
{
	size_t b;

	if (!tcp_hash)
		return;
	f->tcp_cli = tcp_cli;
	f->tcp_cport = tcp_cport;
	f->tcp_srv = tcp_srv;
	f->tcp_sport = tcp_sport;
	b = tcp_bucket(tcp_cli, tcp_cport, tcp_srv, tcp_sport);
	f->tnext = tcp_hash[b];
	tcp_hash[b] = f;
	f->in_tcp_table = true;
}

void tcp_flow_remove(struct mm_flow *f)
{
	size_t b = tcp_bucket(f->tcp_cli, f->tcp_cport, f->tcp_srv, f->tcp_sport);
	struct mm_flow **pp = &tcp_hash[b];

	while (*pp && *pp != f)
		pp = &(*pp)->tnext;
	if (*pp)
		*pp = f->tnext;
	f->in_tcp_table = false;
}

struct mm_flow *tcp_flow_find(uint32_t sa, uint16_t sp, uint32_t da,
			      uint16_t dp, bool *from_tcp_client)
{
	struct mm_flow *f;

	if (!tcp_hash)
		return NULL;
	for (f = tcp_hash[tcp_bucket(sa, sp, da, dp)]; f; f = f->tnext) {
		if (f->tcp_cli == sa && f->tcp_cport == sp &&
		    f->tcp_srv == da && f->tcp_sport == dp) {
			*from_tcp_client = true;
			return f;
		}
		if (f->tcp_cli == da && f->tcp_cport == dp &&
		    f->tcp_srv == sa && f->tcp_sport == sp) {
			*from_tcp_client = false;
			return f;
		}
	}
	return NULL;
}

/* ---------------- every live flow (reload.c) ---------------- */

size_t flow_foreach(void (*fn)(struct mm_flow *f, void *arg), void *arg)
{
	size_t n = 0;

	for (size_t b = 0; tcp_hash && b < tcp_hash_size; b++)
		for (struct mm_flow *f = tcp_hash[b]; f; f = f->tnext, n++)
			fn(f, arg);
	for (struct mm_flow *f = lru_head; f; f = f->lru_next, n++)
		fn(f, arg);
	return n;
}
