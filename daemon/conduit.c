/*
 * conduit.c - flow-level conduits: traffic that no dissector takes (SMB,
 * RDP, DNS, ICMP ...) is still judged against the zone model.  SMB or RDP
 * from 情報系 into 制御系 is how ransomware reached plants, and it needs no
 * industrial protocol at all.
 *
 * A service is "tcp/PORT", "udp/PORT" (the server's port) or "icmp".
 * What is judged is the triple (client, server, service): remembered in a
 * bounded table so the policy runs once per triple, not per packet.  An
 * alert is raised when a triple is first seen and for every later TCP
 * connection attempt (a SYN) or, for UDP and ICMP, at most once a minute:
 * the store folds the repeats into counts.
 *
 * Which end is the server: the receiver of a SYN; else the end with the
 * lower port (clients use ephemeral ports); for ICMP the receiver of an
 * echo request.  Hosts in no zone are not judged here (zone.unknown_host
 * is for industrial protocols, where a host in no zone matters most).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sensor.h"

#define REPEAT_SECONDS 60.0

struct svc {
	uint32_t cli, srv;
	uint16_t port;
	uint8_t proto;
	double last_alert;
	int8_t verdict;        /* enum policy_verdict, judged when first seen */
	struct svc *next, *lru_prev, *lru_next;
};

static struct svc **table;
static size_t table_size;
static int count, max_entries;
static struct svc *lru_head, *lru_tail;

int conduit_init(int max)
{
	size_t n = 1024;

	while ((int)n < max * 2 && n < (1u << 22))
		n <<= 1;
	table = calloc(n, sizeof(*table));
	if (!table)
		return -1;
	table_size = n;
	max_entries = max;
	return 0;
}

static size_t bucket(uint32_t c, uint32_t s, uint16_t port, uint8_t proto)
{
	uint64_t x = ((uint64_t)c << 32 | s) ^ ((uint64_t)port << 8 | proto) * 0x9e3779b97f4a7c15ULL;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return (size_t)x & (table_size - 1);
}

static void lru_unlink(struct svc *v)
{
	if (v->lru_prev)
		v->lru_prev->lru_next = v->lru_next;
	else
		lru_head = v->lru_next;
	if (v->lru_next)
		v->lru_next->lru_prev = v->lru_prev;
	else
		lru_tail = v->lru_prev;
}

static void lru_push(struct svc *v)
{
	v->lru_prev = NULL;
	v->lru_next = lru_head;
	if (lru_head)
		lru_head->lru_prev = v;
	lru_head = v;
	if (!lru_tail)
		lru_tail = v;
}

static void evict_oldest(void)
{
	struct svc *v = lru_tail, **pp;

	if (!v)
		return;
	pp = &table[bucket(v->cli, v->srv, v->port, v->proto)];
	while (*pp && *pp != v)
		pp = &(*pp)->next;
	if (*pp)
		*pp = v->next;
	lru_unlink(v);
	free(v);
	count--;
	mm.st.service_table_full++;
}

/* the entry for a triple; *fresh when it was not there */
static struct svc *lookup(uint32_t c, uint32_t s, uint16_t port, uint8_t proto,
			  bool *fresh)
{
	size_t b = bucket(c, s, port, proto);
	struct svc *v;

	*fresh = false;
	for (v = table[b]; v; v = v->next) {
		if (v->cli == c && v->srv == s && v->port == port && v->proto == proto) {
			if (v != lru_head) {
				lru_unlink(v);
				lru_push(v);
			}
			return v;
		}
	}
	if (count >= max_entries)
		evict_oldest();
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->cli = c;
	v->srv = s;
	v->port = port;
	v->proto = proto;
	v->last_alert = -1e300;
	b = bucket(c, s, port, proto); /* eviction did not move buckets */
	v->next = table[b];
	table[b] = v;
	lru_push(v);
	count++;
	*fresh = true;
	return v;
}

static void service_name(char *b, size_t n, uint8_t proto, uint16_t sport)
{
	if (proto == IPPROTO_ICMP)
		snprintf(b, n, "icmp");
	else
		snprintf(b, n, "%s/%u", proto == IPPROTO_TCP ? "tcp" : "udp",
			 (unsigned)sport);
}

/* the policy's verdict on a triple seen for the first time */
static enum policy_verdict judge(uint8_t proto, uint32_t cli, uint32_t srv,
				 uint16_t sport)
{
	const struct zone *cz = zone_lookup(mm.zones, cli, NULL);
	const struct zone *sz = zone_lookup(mm.zones, srv, NULL);
	char service[16];

	if (!cz || !sz)
		return POLICY_UNKNOWN_HOST;
	service_name(service, sizeof(service), proto, sport);
	return policy_check(mm.zones, cz, sz, service, MM_OP_OTHER);
}

void conduit_packet(uint8_t proto, uint32_t sa, uint16_t sp, uint32_t da,
		    uint16_t dp, uint8_t tcp_flags)
{
	uint32_t cli = sa, srv = da;
	uint16_t cport = sp, sport = dp;
	const char *cli_host, *srv_host;
	const struct zone *cz, *sz;
	enum policy_verdict v;
	struct svc *e;
	bool fresh, syn = false;
	char service[16];
	struct mm_ends ends;

	if (!table || !mm.zones)
		return;
	if (proto == IPPROTO_TCP) {
		/* 0x02 SYN, 0x10 ACK: a bare SYN opens a connection */
		syn = (tcp_flags & 0x12) == 0x02;
		if (!syn && ((tcp_flags & 0x12) == 0x12 || sp < dp)) {
			cli = da; srv = sa; cport = dp; sport = sp;
		}
	} else if (proto == IPPROTO_UDP) {
		if (sp < dp) {
			cli = da; srv = sa; cport = dp; sport = sp;
		}
	} else {
		/* ICMP: sp carries the type; only echo requests start a flow */
		if (sp != 8)
			return;
		sport = cport = 0;
	}
	e = lookup(cli, srv, sport, proto, &fresh);
	if (!e)
		return;
	/* port scans (detect.c): every connection attempt, and a UDP
	 * (client, server, port) the first time it is seen */
	if (syn || (fresh && proto == IPPROTO_UDP))
		detect_touch(proto, cli, srv, sport);
	if (fresh) {
		mm.st.service_flows++;
		e->verdict = (int8_t)judge(proto, cli, srv, sport);
	}
	v = (enum policy_verdict)e->verdict;
	/* the baseline counts connection attempts (observe.c): SYNs, a flow
	 * picked up without one, UDP datagrams and echo requests from the
	 * client */
	if (fresh || syn || (proto != IPPROTO_TCP && sa == cli))
		observe_service(proto, cli, srv, sport, v);
	/* allowed (the common case) costs nothing more */
	if (v != POLICY_NO_CONDUIT && v != POLICY_OP_NOT_ALLOWED)
		return;
	/* TCP: every connection attempt; UDP and ICMP: once a minute */
	if (!fresh && (proto == IPPROTO_TCP ? !syn
			: mm_now() - e->last_alert < REPEAT_SECONDS))
		return;
	service_name(service, sizeof(service), proto, sport);
	cz = zone_lookup(mm.zones, cli, &cli_host);
	sz = zone_lookup(mm.zones, srv, &srv_host);
	e->last_alert = mm_now();
	memset(&ends, 0, sizeof(ends));
	ends.transport = proto;
	ends.src_ip = cli;
	ends.dest_ip = srv;
	ends.src_port = cport;
	ends.dest_port = sport;
	ends.src_zone = cz;
	ends.dest_zone = sz;
	ends.src_host = cli_host;
	ends.dest_host = srv_host;
	{
		static char cs[16], ss[16];
		mm_fmt_ipv4(cs, cli);
		mm_fmt_ipv4(ss, srv);
		ends.src_str = cs;
		ends.dest_str = ss;
	}
	alert_service(&ends, service, v);
}

void conduit_free(void)
{
	while (lru_tail) {
		struct svc *v = lru_tail;
		lru_unlink(v);
		free(v);
	}
	free(table);
	table = NULL;
	count = 0;
}

/* the zone model changed (reload): forget every verdict, judge anew */
void conduit_reset(void)
{
	int max = max_entries;

	conduit_free();
	conduit_init(max);
}
