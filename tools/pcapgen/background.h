/*
 * background.h - IT background traffic: DNS lookups and HTTPS-looking
 * sessions (background.c), all of class CLS_OTHER.
 */
#ifndef PCAPGEN_BACKGROUND_H
#define PCAPGEN_BACKGROUND_H

#include "gen.h"

/* DNS query for `name` and its answer (one A record, `addr`) between client
 * cli and resolver srv, query at ts; counts one flow */
void dns_lookup(struct rng *r, uint32_t cli, uint32_t srv, const char *name,
		uint32_t addr, uint64_t ts);
/* an HTTPS-looking session cli -> srv:443 from ts: `rounds` request/response
 * TLS application-data records; returns the time of the last packet */
uint64_t https_session(struct rng *r, uint32_t cli, uint32_t srv, uint64_t ts,
		       int rounds);

#endif
