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
#include "oui.h"
#include "sensor.h"

#define FACTS_MAX 16
#define FACT_VALUE_MAX 128

#define FACT_SEEN 4

/*
 * The asset alerts' signature ids: 2500001 + n, apart from detect.c's
 * 2300001 + row.  asset.new (2500001) is raised by the store, which knows
 * every MAC the plant has shown (store/baseline.c).
 */
#define SID_MAC_CHANGED 2500002
#define SID_IDENTITY_CHANGED 2500003

struct fact {
	char key[32];
	uint8_t value[FACT_VALUE_MAX];
	uint8_t len;
	/*
	 * A device may state one key several times with different values
	 * (an S7 CPU lists the order number of each of its components): the
	 * values seen in the flow that first reported the key are all its
	 * identity; only a value never seen, in a later flow, is a change.
	 */
	uint64_t first_flow;
	uint32_t seen[FACT_SEEN]; /* hashes of the values known */
	uint8_t n_seen;
};

static uint32_t value_hash(const uint8_t *v, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ v[i]) * 16777619u;
	return h;
}

/* facts that describe a state, not an identity (an S7 CPU's RUN/STOP,
 * Modbus FC 17's run indicator): they change without the device changing */
static bool fact_is_state(const char *key)
{
	return strstr(key, "mode") || strstr(key, "state") ||
	       strstr(key, "run_indicator");
}

static bool fact_knows(const struct fact *f, uint32_t hv)
{
	for (int i = 0; i < f->n_seen; i++)
		if (f->seen[i] == hv)
			return true;
	return false;
}

static void fact_learn(struct fact *f, uint32_t hv)
{
	if (f->n_seen < FACT_SEEN)
		f->seen[f->n_seen++] = hv;
	else {
		memmove(f->seen, f->seen + 1, sizeof(f->seen[0]) * (FACT_SEEN - 1));
		f->seen[FACT_SEEN - 1] = hv;
	}
}

struct host {
	uint32_t ip;
	bool unknown_reported;
	bool pending;       /* facts changed: an asset record is due */
	bool has_mac;
	uint8_t mac[6];
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

	mm_fmt_ipv4(ip, h->ip);
	mm_format_ts(ts, sizeof(ts), mm.now.tv_sec, mm.now.tv_usec);
	rec_begin(r);
	rec_str(r, "timestamp", ts);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_str(r, "ip", ip);
	rec_str(r, "zone", z ? z->id : NULL);
	if (h->has_mac) {
		char mac[18];
		const char *vendor = oui_vendor(mm.oui, h->mac);
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 h->mac[0], h->mac[1], h->mac[2], h->mac[3], h->mac[4],
			 h->mac[5]);
		rec_str(r, "mac", mac);
		if (vendor)
			rec_str(r, "mac_vendor", vendor);
	}
	rec_obj_begin(r, "facts");
	for (int i = 0; i < h->n_facts; i++)
		rec_strn(r, h->facts[i].key, h->facts[i].value, h->facts[i].len);
	rec_obj_end(r);
	json = rec_finish(r, &len);
	if (mm.link)
		mm_link_send(mm.link, "asset", json, len);
}

/*
 * A message states several facts at once (an I-Am: instance and vendor;
 * an SZL answer: order number and firmware): the host's asset record goes
 * out once, after the dissector is done with the message
 * (hosts_flush_facts from flow.c), so the store never holds one fact of
 * a message with another of an earlier one.
 */
#define PENDING_MAX 8

static struct {
	struct host *h;
	const struct zone *z;
} pending[PENDING_MAX];
static int n_pending;

void hosts_flush_facts(void)
{
	for (int i = 0; i < n_pending; i++) {
		pending[i].h->pending = false;
		send_asset(pending[i].h, pending[i].z);
	}
	n_pending = 0;
}

static void mark_pending(struct host *h, const struct zone *z)
{
	if (h->pending)
		return;
	if (n_pending == PENDING_MAX)
		hosts_flush_facts(); /* one message about many hosts */
	h->pending = true;
	pending[n_pending].h = h;
	pending[n_pending].z = z;
	n_pending++;
}

static const struct mm_event_def identity_changed = {
	"asset.identity_changed", 2, "Device Change",
	"a device states another identity than before (firmware, model, order "
	"number): an unannounced firmware update, a swapped device, or "
	"something answering in its name"
};

void hosts_fact(uint32_t ip, const struct zone *z, const char *key,
		const uint8_t *v, size_t n, uint64_t flow)
{
	struct host *h = host_get(ip);
	struct fact *f = NULL;
	uint32_t hv;

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
	hv = value_hash(v, n);
	if (!f) {
		if (h->n_facts >= FACTS_MAX)
			return;
		f = &h->facts[h->n_facts++];
		snprintf(f->key, sizeof(f->key), "%s", key);
		f->first_flow = flow;
		fact_learn(f, hv);
	} else if (fact_is_state(key) || fact_knows(f, hv)) {
		/* one of the values this device states: no alert, but the
		 * inventory shows what it states now (V2 -> V3 -> V2) */
	} else if (flow == f->first_flow) {
		fact_learn(f, hv); /* still learning the device's identity */
	} else {
		fact_learn(f, hv);
		/*
		 * The device states another identity than before (firmware,
		 * model, order number...): a firmware update nobody
		 * announced, a swapped device, or something answering in its
		 * name.  Printable text only in the detail.
		 */
		char detail[200];
		size_t o = (size_t)snprintf(detail, sizeof(detail), "%s: ", key);
		for (size_t i = 0; i < f->len && o + 5 < sizeof(detail); i++)
			detail[o++] = f->value[i] >= 0x20 && f->value[i] < 0x7f ? (char)f->value[i] : '?';
		o += (size_t)snprintf(detail + o, sizeof(detail) - o, " -> ");
		for (size_t i = 0; i < n && o + 1 < sizeof(detail); i++)
			detail[o++] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
		detail[o < sizeof(detail) ? o : sizeof(detail) - 1] = 0;
		mm.st.identity_changes++;
		alert_asset(&identity_changed, SID_IDENTITY_CHANGED, ip, z, detail);
	}
	memcpy(f->value, v, n);
	f->len = (uint8_t)n;
	mark_pending(h, z);
}

/* ---------------- MAC addresses ----------------
 *
 * On a routed network every remote host arrives with its gateway's MAC:
 * a MAC seen with more than GATEWAY_IPS addresses is a router (or a
 * proxy), and binds no address.  The table of MACs is bounded like the
 * host table.
 */
#define GATEWAY_IPS 2
#define MACS_MAX 65536

struct mac_entry {
	uint8_t mac[6];
	uint32_t first_ip; /* the first address seen with it */
	uint32_t n_ips;    /* distinct addresses seen (2 = "more than one") */
	struct mac_entry *next;
};

static struct mac_entry *mac_table[4096];
static int n_macs;

static struct mac_entry *mac_get(const uint8_t m[6], uint32_t ip)
{
	size_t b = (size_t)(m[3] ^ (m[4] << 4) ^ (m[5] << 8) ^ m[2]) % 4096;
	struct mac_entry *e;

	for (e = mac_table[b]; e; e = e->next)
		if (memcmp(e->mac, m, 6) == 0)
			break;
	if (!e) {
		if (n_macs >= MACS_MAX)
			return NULL;
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		memcpy(e->mac, m, 6);
		e->first_ip = ip;
		e->next = mac_table[b];
		mac_table[b] = e;
		n_macs++;
	}
	if (e->n_ips == 0)
		e->n_ips = 1;
	else if (e->first_ip != ip && e->n_ips <= GATEWAY_IPS)
		e->n_ips++; /* an approximation past two: enough to tell */
	return e;
}

static bool is_gateway(const struct mac_entry *e)
{
	return e && e->n_ips > GATEWAY_IPS;
}

static const struct mm_event_def mac_changed = {
	"asset.mac_changed", 2, "Potential Corporate Privacy Violation",
	"an address now answers from another MAC: ARP spoofing (a man in the "
	"middle), or a device was swapped"
};

void hosts_observe_mac(uint32_t ip, const struct zone *z, const uint8_t mac[6])
{
	static const uint8_t none[6];
	struct mac_entry *me;
	struct host *h;
	char detail[96];

	/* group and broadcast MACs name no device, nor does the all-zero
	 * one of loopback captures (its OUI is Xerox's) */
	if ((mac[0] & 1) || memcmp(mac, none, 6) == 0)
		return;
	me = mac_get(mac, ip);
	h = host_get(ip);
	if (!h)
		return;
	if (!h->has_mac) {
		memcpy(h->mac, mac, 6);
		h->has_mac = true;
		if (!is_gateway(me)) {
			send_asset(h, z);
			observe_mac(ip, z, mac); /* a binding new to this run */
		}
		return;
	}
	if (memcmp(h->mac, mac, 6) == 0)
		return;
	/* a gateway's MAC for a remote address is no binding to defend */
	if (is_gateway(me) || is_gateway(mac_get(h->mac, ip))) {
		memcpy(h->mac, mac, 6);
		return;
	}
	mm.st.mac_changes++;
	snprintf(detail, sizeof(detail),
		 "%02x:%02x:%02x:%02x:%02x:%02x -> %02x:%02x:%02x:%02x:%02x:%02x",
		 h->mac[0], h->mac[1], h->mac[2], h->mac[3], h->mac[4], h->mac[5],
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	memcpy(h->mac, mac, 6);
	alert_asset(&mac_changed, SID_MAC_CHANGED, ip, z, detail);
	send_asset(h, z);
}

void hosts_free(void)
{
	for (size_t b = 0; b < 4096; b++) {
		struct mac_entry *e = mac_table[b], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
		mac_table[b] = NULL;
	}
	n_macs = 0;
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
