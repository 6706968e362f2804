/*
 * background.c - IT background traffic: DNS (RFC 1035) and TLS-looking
 * application data.
 */
#include <string.h>

#include "background.h"
#include "gen.h"

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
void dns_lookup(struct rng *r, uint32_t cli, uint32_t srv,
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
uint64_t https_session(struct rng *r, uint32_t cli, uint32_t srv,
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
