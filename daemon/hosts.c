/*
 * hosts.c - what the sensor remembers per host: whether its absence from
 * the zone model was reported (zone.unknown_host is raised once per host),
 * and the facts it stated about itself (vendor, model, firmware...), sent
 * to the store as asset records when they are new or change.
 *
 * Bounded: at most hosts_max hosts (a scan of a /16 must not grow us
 * without limit); when full, new hosts are not remembered and that is
 * counted (hosts_table_full) - they may then be reported more than once.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "sensor.h"

#define FACTS_MAX 16
#define FACT_VALUE_MAX 128

struct fact {
	char key[32];
	uint8_t value[FACT_VALUE_MAX];
	uint8_t len;
};

struct host {
	uint32_t ip;
	bool unknown_reported;
	uint8_t n_facts;
	struct fact *facts; /* allocated on the first fact */
	struct host *next;
};

static struct host **table;
static size_t table_size; /* power of two */
static int count, max_hosts;

int hosts_init(int max)
{
	size_t n = 256;

	while ((int)n < max && n < (1u << 22))
		n <<= 1;
	table = calloc(n, sizeof(*table));
	if (!table)
		return -1;
	table_size = n;
	max_hosts = max;
	return 0;
}

static size_t bucket(uint32_t ip)
{
	uint32_t x = ip * 2654435761u;
	return (size_t)(x ^ (x >> 16)) & (table_size - 1);
}

static struct host *host_get(uint32_t ip)
{
	size_t b;
	struct host *h;

	if (!table)
		return NULL;
	b = bucket(ip);
	for (h = table[b]; h; h = h->next)
		if (h->ip == ip)
			return h;
	if (count >= max_hosts) {
		mm.st.hosts_table_full++;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->ip = ip;
	h->next = table[b];
	table[b] = h;
	count++;
	return h;
}

bool hosts_first_unknown(uint32_t ip)
{
	struct host *h = host_get(ip);

	if (!h)
		return true; /* cannot remember: better twice than never */
	if (h->unknown_reported)
		return false;
	h->unknown_reported = true;
	return true;
}

static void send_asset(const struct host *h, const struct zone *z)
{
	struct mm_rec *r = mm.rec_misc;
	char ip[16], ts[40];
	const char *json;
	size_t len;

	inet_ntop(AF_INET, &h->ip, ip, sizeof(ip));
	mm_format_ts(ts, sizeof(ts), mm.now.tv_sec, mm.now.tv_usec);
	rec_begin(r);
	rec_str(r, "timestamp", ts);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_str(r, "ip", ip);
	rec_str(r, "zone", z ? z->id : NULL);
	rec_obj_begin(r, "facts");
	for (int i = 0; i < h->n_facts; i++)
		rec_strn(r, h->facts[i].key, h->facts[i].value, h->facts[i].len);
	rec_obj_end(r);
	json = rec_finish(r, &len);
	if (mm.link)
		mm_link_send(mm.link, "asset", json, len);
}

void hosts_fact(uint32_t ip, const struct zone *z, const char *key,
		const uint8_t *v, size_t n)
{
	struct host *h = host_get(ip);
	struct fact *f = NULL;

	if (!h)
		return;
	if (n > FACT_VALUE_MAX)
		n = FACT_VALUE_MAX;
	if (!h->facts) {
		h->facts = calloc(FACTS_MAX, sizeof(*h->facts));
		if (!h->facts)
			return;
	}
	for (int i = 0; i < h->n_facts; i++)
		if (strcmp(h->facts[i].key, key) == 0)
			f = &h->facts[i];
	if (f && f->len == n && memcmp(f->value, v, n) == 0)
		return; /* nothing new */
	if (!f) {
		if (h->n_facts >= FACTS_MAX)
			return;
		f = &h->facts[h->n_facts++];
		snprintf(f->key, sizeof(f->key), "%s", key);
	}
	memcpy(f->value, v, n);
	f->len = (uint8_t)n;
	send_asset(h, z);
}

void hosts_free(void)
{
	for (size_t b = 0; table && b < table_size; b++) {
		struct host *h = table[b], *next;
		for (; h; h = next) {
			next = h->next;
			free(h->facts);
			free(h);
		}
	}
	free(table);
	table = NULL;
	count = 0;
}
