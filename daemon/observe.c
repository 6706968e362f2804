/*
 * observe.c - what the sensor saw, for the learned baseline and the zone
 * matrix: "obs" records to the store (the record is the contract in
 * store/store.h, "Observation records").
 *
 * Every operation, service connection attempt and new MAC binding passes
 * here, so the common case - a key seen before - is one hash, one short
 * chain walk and a few stores: no allocation, no formatting.  The table
 * is fixed (baseline.max_keys), allocated once at start: an array of
 * entries linked into hash chains and a least-recently-used list by index,
 * handed out in order (calloc leaves the untouched ones unpaged, nothing
 * walks them at start).  When it is full the least recently used
 * key gives up its slot: its pending count is reported first, and the
 * eviction is counted (a later sighting of that key is reported as new,
 * which the store takes as a repeat of what it knows).
 *
 * Reports: a key at once when first seen (n = 1, interval 0); every
 * report_interval of packet time (mm.now, never the wall clock) each key
 * seen since its last report, with n and interval = seconds since that
 * report; at exit the same.  The clock is checked on each call here (a
 * quiet network reports at its next operation or at exit: a report is
 * about what was seen, and nothing was).
 *
 * Budget: every report costs the store a parse and a few SQLite
 * statements (~100,000 instructions), and a sweep - or a generator of
 * random addresses - makes one new key per request.  So reports are
 * paid for from a token bucket in packet time (baseline.reports_per_s,
 * report_burst): a report the budget cannot pay for waits in the table,
 * its count adding up, and goes out at a later periodic report or
 * eviction that can (a first report then carries n > 1); the keys whose
 * counts never went out by the end are counted (obs_unreported).  MAC
 * records are not budgeted: at most one per host (hosts_max).
 *
 * Mode: learn (the store records what it gets as normal), detect (the
 * store compares) or off (nothing sent, nothing kept).  learn_for makes
 * the first part of a run learn and the rest detect: at the switch the
 * pending counts are reported as learned, then the mode changes (counted).
 *
 * MIMAMORI_OBS_DEBUG in the environment: every record also goes to
 * stderr as "obs {...}" (to read what a capture yields without a store).
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "oui.h"
#include "sensor.h"

enum obs_what { OBS_OP = 1, OBS_SERVICE };

/* what identifies a key: 40 bytes without padding, compared as words */
struct obs_key {
	uint32_t src, dst;        /* requester, server (network order) */
	uint32_t function;        /* op: the protocol's code */
	uint32_t unit, space, addr, count; /* op: the structured target */
	uint16_t port;            /* the server's port (host order) */
	uint8_t what;             /* enum obs_what */
	uint8_t proto;            /* op: dissector index; service: IPPROTO_* */
	uint8_t cls;              /* op: class; service: the verdict */
	uint8_t has_ref;
	uint8_t pad[6];
};
_Static_assert(sizeof(struct obs_key) == 40, "obs_key: five words, no padding");

struct obs_entry {
	struct obs_key k;
	uint32_t hash;
	uint32_t next;            /* hash chain or free list: index + 1 */
	uint32_t lru_prev, lru_next; /* index + 1; head = most recent */
	uint32_t n;               /* counted since the last report */
	uint32_t sec_n;           /* writes in second sec */
	uint32_t peak;            /* most writes in one second since the report */
	int64_t peak_sec;         /* that second (packet time) */
	int8_t verdict;           /* op: the latest verdict */
	int64_t sec;
	struct timeval first, last;
	double reported;          /* packet time of the last report */
	char function_name[40];   /* op: copied (the dissector's may not last) */
};

observe_sink_fn *observe_sink;

static struct observe_cfg cfg;
static struct obs_entry *ent;
static uint32_t *buckets;
static uint32_t bucket_mask, free_head, lru_head, lru_tail;
static uint32_t n_used; /* entries handed out so far: the rest never used */
static struct mm_rec *rec;
static int mode;                  /* in force now */
static bool started;
static double t_start, t_switch, t_next;
/* the second (packet time) from which the clock needs a look: one integer
 * compare per call (0 before the first call) */
static int64_t t_check;
/* the report budget: tokens now, as of packet time t_tokens */
static double tokens, t_tokens;
static bool budget_told;

static const char *const mode_names[] = { "detect", "learn", "off" };
static const char *const verdict_names[] = {
	[POLICY_ALLOWED] = "allowed", [POLICY_NO_CONDUIT] = "no_conduit",
	[POLICY_OP_NOT_ALLOWED] = "op_not_allowed",
	[POLICY_UNKNOWN_HOST] = "unknown_host",
};

const char *observe_mode_name(void)
{
	return mode_names[mode];
}

static bool debug; /* MIMAMORI_OBS_DEBUG set: each record on stderr too */

/* the daemon's sink: the link, with the alerts' delivery guarantee */
static void link_sink(const char *json, size_t len)
{
	if (debug)
		fprintf(stderr, "obs %.*s\n", (int)len, json);
	if (!mm.link || mm_link_send(mm.link, "obs", json, len) < 0)
		mm.st.obs_dropped++;
}

int observe_init(const struct observe_cfg *c)
{
	uint32_t nb = 64;

	observe_free();
	cfg = *c;
	mode = cfg.mode;
	debug = getenv("MIMAMORI_OBS_DEBUG") != NULL;
	if (!observe_sink)
		observe_sink = link_sink;
	if (mode == MM_OBS_OFF)
		return 0;
	if (cfg.learn_for > 0)
		mode = MM_OBS_LEARN;
	if (cfg.max_keys < 1)
		cfg.max_keys = 1;
	if (cfg.report_interval <= 0)
		cfg.report_interval = 60;
	while (nb < (uint32_t)cfg.max_keys * 2 && nb < (1u << 24))
		nb <<= 1;
	ent = calloc((size_t)cfg.max_keys, sizeof(*ent));
	buckets = calloc(nb, sizeof(*buckets));
	rec = rec_new();
	if (!ent || !buckets || !rec) {
		observe_free();
		return -1;
	}
	bucket_mask = nb - 1;
	tokens = cfg.report_burst > 0 ? cfg.report_burst : 1;
	t_tokens = -1;
	return 0;
}

void observe_free(void)
{
	free(ent);
	free(buckets);
	rec_free(rec);
	ent = NULL;
	buckets = NULL;
	rec = NULL;
	free_head = lru_head = lru_tail = n_used = 0;
	started = false;
	t_check = 0;
}

/* ---------------- the table ---------------- */

static inline uint32_t key_hash(const struct obs_key *k)
{
	uint64_t w[5], h;

	memcpy(w, k, sizeof(w));
	h = (w[0] ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ w[1]) * 0x94d049bb133111ebULL;
	h = (h ^ w[2]) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ w[3]) * 0x94d049bb133111ebULL;
	h = (h ^ w[4]) * 0xbf58476d1ce4e5b9ULL;
	return (uint32_t)(h >> 32);
}

static inline bool key_eq(const struct obs_key *a, const struct obs_key *b)
{
	uint64_t x[5], y[5];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4])) == 0;
}

static inline void lru_unlink(uint32_t i)
{
	struct obs_entry *x = &ent[i - 1];

	if (x->lru_prev)
		ent[x->lru_prev - 1].lru_next = x->lru_next;
	else
		lru_head = x->lru_next;
	if (x->lru_next)
		ent[x->lru_next - 1].lru_prev = x->lru_prev;
	else
		lru_tail = x->lru_prev;
}

static inline void lru_push(uint32_t i)
{
	struct obs_entry *x = &ent[i - 1];

	x->lru_prev = 0;
	x->lru_next = lru_head;
	if (lru_head)
		ent[lru_head - 1].lru_prev = i;
	lru_head = i;
	if (!lru_tail)
		lru_tail = i;
}

/* ---------------- records ---------------- */

static void put_ts(struct mm_rec *r, const char *k, struct timeval t)
{
	char ts[40];

	mm_format_ts(ts, sizeof(ts), t.tv_sec, t.tv_usec);
	rec_str(r, k, ts);
}

/* seconds with at most millisecond digits: 60, 0.25 (not 0.2500000001) */
static void put_seconds(struct mm_rec *r, const char *k, double s)
{
	char b[40];
	int n;

	if (s < 0)
		s = 0;
	if (s == 0 && !signbit(s)) {
		/* a first report's: "0.000" trimmed, without snprintf
		 * (~1,400 instructions) */
		rec_raw(r, k, "0", 1);
		return;
	}
	n = snprintf(b, sizeof(b), "%.3f", s);
	while (n > 0 && b[n - 1] == '0')
		n--;
	if (n > 0 && b[n - 1] == '.')
		n--;
	rec_raw(r, k, b, (size_t)n);
}

static void put_ip(struct mm_rec *r, const char *k, uint32_t ip)
{
	char s[16];

	mm_fmt_ipv4(s, ip);
	rec_str(r, k, s);
}

/* limited broadcast or multicast: judged as the sender's zone (alert.c) */
static bool is_group(uint32_t ip_be)
{
	uint32_t ip = ntohl(ip_be);
	return ip == 0xffffffffu || (ip >> 28) == 0xe;
}

static const struct zone *zone_of(uint32_t ip)
{
	const char *host;
	return mm.zones ? zone_lookup(mm.zones, ip, &host) : NULL;
}

/* one op or service key: its count since the last report, then reset */
static void report(struct obs_entry *x, double now)
{
	struct mm_rec *r = rec;
	const struct obs_key *k = &x->k;
	const struct zone *sz = zone_of(k->src), *dz = zone_of(k->dst);
	const char *json;
	size_t len;

	if (!dz && is_group(k->dst))
		dz = sz;
	rec_begin(r);
	put_ts(r, "timestamp", x->last);
	put_ts(r, "first_seen", x->first);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_str(r, "mode", mode_names[mode]);
	rec_str(r, "what", k->what == OBS_OP ? "op" : "service");
	put_ip(r, "src_ip", k->src);
	put_ip(r, "dest_ip", k->dst);
	rec_int(r, "dest_port", k->port);
	rec_str(r, "src_zone", sz ? sz->id : NULL);
	rec_str(r, "dest_zone", dz ? dz->id : NULL);
	if (k->what == OBS_OP) {
		const struct mm_dissector *d =
			k->proto < mm.n_dissectors ? mm_dissectors[k->proto] : NULL;
		rec_str(r, "proto", d ? d->name : "unknown");
		rec_str(r, "op", mm_op_class_names[k->cls]);
		rec_str(r, "verdict", verdict_names[x->verdict]);
		rec_uint(r, "function", k->function);
		if (x->function_name[0])
			rec_str(r, "function_name", x->function_name);
		if (k->has_ref) {
			rec_uint(r, "unit", k->unit);
			rec_uint(r, "space", k->space);
			rec_uint(r, "addr", k->addr);
			rec_uint(r, "count", k->count);
		}
		if (k->cls == MM_OP_WRITE) {
			struct timeval pt = { (time_t)x->peak_sec, 0 };
			rec_uint(r, "peak_per_s", x->peak);
			if (x->peak)
				put_ts(r, "peak_at", pt);
		}
	} else {
		char svc[16];
		if (k->proto == IPPROTO_ICMP)
			snprintf(svc, sizeof(svc), "icmp");
		else
			snprintf(svc, sizeof(svc), "%s/%u",
				 k->proto == IPPROTO_TCP ? "tcp" : "udp",
				 (unsigned)k->port);
		rec_str(r, "proto", svc);
		rec_str(r, "op", "other");
		rec_str(r, "verdict", verdict_names[k->cls]);
	}
	rec_uint(r, "n", x->n);
	/* 0 marks a first report (store.h): a later one is never 0, even
	 * when its packets share the first one's time stamp */
	put_seconds(r, "interval", x->reported < 0 ? 0
				   : now - x->reported < 0.001 ? 0.001
							      : now - x->reported);
	json = rec_finish(r, &len);
	mm.st.obs_reports++;
	observe_sink(json, len);
	x->n = 0;
	x->peak = 0;
	x->reported = now;
}

/* budget_allows past its common answers */
static bool budget_slow(double now)
{
	if (t_tokens < 0)
		t_tokens = now;
	if (now > t_tokens) {
		tokens += (now - t_tokens) * cfg.reports_per_s;
		if (tokens > cfg.report_burst)
			tokens = cfg.report_burst;
		t_tokens = now;
	}
	if (tokens >= 1) {
		tokens -= 1;
		return true;
	}
	mm.st.obs_deferred++;
	if (!budget_told) {
		budget_told = true;
		if (!mm.cfg.quiet)
			fprintf(stderr, "mimamorid: baseline: more new "
				"observation keys than baseline.reports_per_s "
				"(%g a second, %d at once) lets through: the rest "
				"wait, counted in the statistics\n",
				cfg.reports_per_s, cfg.report_burst);
	}
	return false;
}

/* may one more report go out now?  (false: counted as postponed)  Under
 * a flood of new keys the budget is spent and the clock has not moved
 * since it was last filled: that answer stays here */
static inline bool budget_allows(double now)
{
	if (cfg.reports_per_s <= 0)
		return true;
	if (tokens < 1 && budget_told && t_tokens >= 0 && now <= t_tokens) {
		mm.st.obs_deferred++;
		return false;
	}
	return budget_slow(now);
}

/* every key seen since its last report, as far as the budget allows */
static void report_pending(double now)
{
	if (!ent)
		return;
	for (uint32_t i = lru_head; i; i = ent[i - 1].lru_next)
		if (ent[i - 1].n) {
			if (!budget_allows(now))
				return;
			report(&ent[i - 1], now);
		}
}

/*
 * Packet time moved: the switch from learning (reported as learned
 * first), the periodic report.  The first call starts the clocks.
 */
static void clock_slow(double now)
{
	double next;

	if (!started) {
		started = true;
		t_start = now;
		t_switch = cfg.learn_for > 0 && mode == MM_OBS_LEARN
				   ? now + cfg.learn_for : 0;
		t_next = now + cfg.report_interval;
	}
	if (t_switch > 0 && now >= t_switch) {
		report_pending(now);
		mode = MM_OBS_DETECT;
		t_switch = 0;
		mm.st.obs_mode_switches++;
	}
	if (now >= t_next) {
		report_pending(now);
		/* on the grid from the start: a quiet hour is one step */
		t_next = t_start + cfg.report_interval *
			 ((double)(long long)((now - t_start) / cfg.report_interval) + 1);
	}
	next = t_switch > 0 && t_switch < t_next ? t_switch : t_next;
	t_check = (int64_t)next; /* whole seconds: the slow path decides */
}

static inline void clock_check(void)
{
	if ((int64_t)mm.now.tv_sec >= t_check)
		clock_slow(mm_now());
}

/* a key not in the table: a slot (the least recently used one's when
 * full), counted once; the caller reports it.  Kept out of count_key so
 * that the common case - a key seen before - inlines */
static __attribute__((noinline)) struct obs_entry *
new_key(const struct obs_key *k, uint32_t h)
{
	struct obs_entry *x;
	uint32_t i;

	if (!free_head && n_used < (uint32_t)cfg.max_keys) {
		free_head = ++n_used; /* a slot never used (calloc: zero) */
		ent[free_head - 1].next = 0;
	} else if (!free_head) {
		/* full: the least recently used key makes room */
		uint32_t v = lru_tail, *pp;
		struct obs_entry *y = &ent[v - 1];

		if (y->n) {
			if (budget_allows(mm_now()))
				report(y, mm_now());
			else
				mm.st.obs_unreported++;
		}
		pp = &buckets[y->hash & bucket_mask];
		while (*pp && *pp != v)
			pp = &ent[*pp - 1].next;
		if (*pp)
			*pp = y->next;
		lru_unlink(v);
		y->next = free_head;
		free_head = v;
		mm.st.obs_evictions++;
	}
	i = free_head;
	x = &ent[i - 1];
	free_head = x->next;
	/* every field, without a memset of the whole entry (~30
	 * instructions, on every new key) */
	x->k = *k;
	x->hash = h;
	x->next = buckets[h & bucket_mask];
	buckets[h & bucket_mask] = i;
	lru_push(i);
	x->n = 1;
	x->sec_n = x->peak = 0;
	x->peak_sec = x->sec = 0;
	x->verdict = 0;
	x->first = x->last = mm.now;
	x->reported = -1; /* never: a first report */
	x->function_name[0] = '\0';
	mm.st.obs_keys++;
	return x;
}

/*
 * The entry for k, counted; *fresh when it is new (the caller reports it
 * at once).  The common case - a key seen before - stays here: one hash,
 * a short chain, the LRU move, a few stores.
 */
static inline __attribute__((always_inline)) struct obs_entry *
count_key(const struct obs_key *k, bool *fresh)
{
	uint32_t h = key_hash(k), i;
	struct obs_entry *x;

	for (i = buckets[h & bucket_mask]; i; i = x->next) {
		x = &ent[i - 1];
		if (x->hash == h && key_eq(&x->k, k)) {
			if (i != lru_head) {
				lru_unlink(i);
				lru_push(i);
			}
			x->n++;
			x->last = mm.now;
			*fresh = false;
			return x;
		}
	}
	*fresh = true;
	return new_key(k, h);
}

/* ---------------- the hooks ---------------- */

/* the common part of a key; false when nothing is observed (mode off) */
static inline bool key_begin(struct obs_key *k, uint8_t what, uint32_t src,
			     uint32_t dst, uint16_t port)
{
	if (!ent)
		return false;
	clock_check();
	memset(k, 0, sizeof(*k));
	k->src = src;
	k->dst = dst;
	k->port = port;
	k->what = what;
	return true;
}

void observe_op(const struct mm_flow *f, const struct mm_ends *e,
		const struct mm_op *op, enum policy_verdict v)
{
	struct obs_key k;
	struct obs_entry *x;
	bool fresh;

	if (!key_begin(&k, OBS_OP, e->src_ip, e->dest_ip, e->dest_port))
		return;
	k.proto = (uint8_t)(f->d_index < 0 ? 0xff : f->d_index);
	k.cls = (uint8_t)op->cls;
	k.function = op->function;
	if (op->has_ref) {
		k.has_ref = 1;
		k.unit = op->unit;
		k.space = op->space;
		k.addr = op->addr;
		k.count = op->count;
	}
	x = count_key(&k, &fresh);
	x->verdict = (int8_t)v;
	if (op->cls == MM_OP_WRITE) {
		/* writes per second of packet time: *.write_flood's baseline */
		if (fresh || x->sec != (int64_t)mm.now.tv_sec) {
			x->sec = (int64_t)mm.now.tv_sec;
			x->sec_n = 0;
		}
		if (++x->sec_n > x->peak) {
			x->peak = x->sec_n;
			x->peak_sec = x->sec;
		}
	}
	if (fresh) {
		if (op->function_name) {
			/* snprintf("%s") cost ~600 instructions here, on
			 * every new key (a sweep makes one per request) */
			size_t l = strnlen(op->function_name,
					   sizeof(x->function_name) - 1);
			memcpy(x->function_name, op->function_name, l);
			x->function_name[l] = '\0';
		}
		if (budget_allows(mm_now()))
			report(x, mm_now());
	}
}

void observe_service(uint8_t proto, uint32_t cli, uint32_t srv, uint16_t port,
		     enum policy_verdict v)
{
	struct obs_key k;
	struct obs_entry *x;
	bool fresh;

	if (!key_begin(&k, OBS_SERVICE, cli, srv, port))
		return;
	k.proto = proto;
	k.cls = (uint8_t)v;
	x = count_key(&k, &fresh);
	if (fresh && budget_allows(mm_now()))
		report(x, mm_now());
}

void observe_mac(uint32_t ip, const struct zone *z, const uint8_t mac[6])
{
	struct mm_rec *r = rec;
	const char *vendor, *json;
	char m[18];
	bool watch = false;
	size_t len;

	if (!ent)
		return;
	clock_check();
	for (int i = 0; z && z->archetype && i < cfg.n_watch; i++)
		if (!strcmp(cfg.watch[i], z->archetype))
			watch = true;
	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	rec_begin(r);
	put_ts(r, "timestamp", mm.now);
	put_ts(r, "first_seen", mm.now);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_str(r, "mode", mode_names[mode]);
	rec_str(r, "what", "mac");
	put_ip(r, "ip", ip);
	rec_str(r, "mac", m);
	vendor = mm.oui ? oui_vendor(mm.oui, mac) : NULL;
	if (vendor)
		rec_str(r, "mac_vendor", vendor);
	rec_str(r, "zone", z ? z->id : NULL);
	rec_str(r, "archetype", z ? z->archetype : NULL);
	rec_bool(r, "watch", watch);
	json = rec_finish(r, &len);
	mm.st.obs_reports++;
	observe_sink(json, len);
}

void observe_finish(void)
{
	if (!ent || !started)
		return;
	report_pending(mm_now());
	for (uint32_t i = lru_head; i; i = ent[i - 1].lru_next)
		if (ent[i - 1].n)
			mm.st.obs_unreported++;
}
