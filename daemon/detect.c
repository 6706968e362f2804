/*
 * detect.c - behaviour detectors: the attacks a zone policy misses because
 * each request on its own may be allowed, while their pattern is the
 * attack: function-code and unit-id scans, register sweeps, S7
 * enumeration from outside engineering, write floods, error storms,
 * BACnet discovery floods and port scans across a zone.
 *
 * Every detector:
 *   - counts over a window of packet time (mm.now), never the wall clock,
 *     so a capture replayed gives the alerts a live run gave;
 *   - keeps its state in a fixed table (no allocation, ever): a full
 *     table replaces its least recently active entry and counts it
 *     (detect_stats.evicted); entries idle longer than their window and
 *     the quiet period are reused silently;
 *   - raises once per episode: the first time its trigger holds, and not
 *     again until the trigger has not held for detect_cfg.quiet_period
 *     seconds (a scan that goes on for an hour is one alert, not one per
 *     packet; the store's aggregation is no substitute, it only folds
 *     repeats within its own window);
 *   - names both ends and their zones, like every alert (EVE-shaped, see
 *     alert.c), with what it counted in alert.metadata.detector.
 *
 * Memory: five static tables, about 0.8 MB in all, whatever the traffic.
 *
 * Windows over distinct values (function codes, units, S7 items, port
 * pairs) are two bitmaps, the current epoch and the one before, an epoch
 * lasting one window: their union covers the last one to two windows.
 * Such a trigger holds only when a request adds a value the window had
 * not seen: a scan is new values; the same client polling the same
 * server afterwards neither prolongs its episode nor starts another.
 * Counts are a sliding estimate over two such epochs.  Rates are whole
 * seconds of packet time: "N writes in each of S consecutive seconds".
 *
 * The defaults are quiet on the normal plant captures (pcaps/demo-plant.pcap,
 * the polling captures of ../shared/pcaps; tests/integration/test_detect.sh
 * runs them); each is explained next to it in detect_cfg.c, which also
 * holds the settings file's `detect:` keys.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../store/store.h"
#include "sensor.h"

/* ------------------------------------------------------------------ */
/* The detectors: one row each.  Names and signature ids (2300001 + the  */
/* row) are stable: users write suppressions against them.  New rows go  */
/* at the end.                                                            */
/* ------------------------------------------------------------------ */

enum det {
	DET_MODBUS_SCAN,
	DET_MODBUS_SWEEP,
	DET_MODBUS_FLOOD,
	DET_S7_FLOOD,
	DET_BACNET_FLOOD,
	DET_S7_RECON,
	DET_MODBUS_STORM,
	DET_S7_STORM,
	DET_BACNET_STORM,
	DET_WHO_IS,
	DET_PORT_SCAN,
	DET__N
};

#define CAT_RECON "Attempted Information Leak"
#define CAT_SCAN "Detection of a Network Scan"
#define CAT_DOS "Attempted Denial of Service"
#define CAT_BAD "Potentially Bad Traffic"

struct det_def {
	struct mm_event_def sig;  /* name, severity, category, cause */
	const char *app_proto;    /* the protocol object; NULL: flow level */
	const char *attack[2];    /* MITRE ATT&CK for ICS */
};

static const struct det_def dets[DET__N] = {
	[DET_MODBUS_SCAN] = { { "modbus.scan", 2, CAT_RECON,
		"one client tried many function codes (refused as illegal "
		"function) or many unit ids on one server: a scanner mapping "
		"what the device supports" },
		"modbus", { "T0846", "T0888" } },
	[DET_MODBUS_SWEEP] = { { "modbus.register_sweep", 3, CAT_RECON,
		"a client walked consecutive address ranges across a large part "
		"of one table: dumping a device's memory map, looking for the "
		"points that matter" },
		"modbus", { "T0861", "T0801" } },
	[DET_MODBUS_FLOOD] = { { "modbus.write_flood", 2, CAT_DOS,
		"writes to one device far above any process loop's rate: "
		"hammering a set point faster than the process can correct it" },
		"modbus", { "T0836", "T0806" } },
	[DET_S7_FLOOD] = { { "s7comm.write_flood", 2, CAT_DOS,
		"write var jobs to one PLC data block far above any process "
		"loop's rate: hammering a set point" },
		"s7comm", { "T0836", "T0806" } },
	[DET_BACNET_FLOOD] = { { "bacnet.write_flood", 2, CAT_DOS,
		"writes to one BACnet device far above a building system's "
		"rate: hammering a set point or a command priority" },
		"bacnet", { "T0836", "T0806" } },
	[DET_S7_RECON] = { { "s7comm.recon", 2, CAT_RECON,
		"many SZL reads, block lists or block infos from a host outside "
		"the engineering zone: enumerating the PLC's identity and "
		"program" },
		"s7comm", { "T0888", "T0846" } },
	[DET_MODBUS_STORM] = { { "modbus.exception_storm", 3, CAT_BAD,
		"a server refused many requests of one client in a short time: "
		"a scan, a client configured for another device, or a failing "
		"device" },
		"modbus", { "T0888", NULL } },
	[DET_S7_STORM] = { { "s7comm.error_storm", 3, CAT_BAD,
		"a PLC answered many jobs of one client with errors in a short "
		"time: probing, a wrong project, or a failing device" },
		"s7comm", { "T0888", NULL } },
	[DET_BACNET_STORM] = { { "bacnet.error_storm", 3, CAT_BAD,
		"a device answered many requests of one client with "
		"Error/Reject/Abort in a short time: a scan or a broken client" },
		"bacnet", { "T0888", NULL } },
	[DET_WHO_IS] = { { "bacnet.who_is_flood", 3, CAT_RECON,
		"one host sends Who-Is/Who-Has at an unusual rate (counted "
		"across all its flows): device discovery sweep or a broadcast "
		"storm" },
		"bacnet", { "T0846", NULL } },
	[DET_PORT_SCAN] = { { "net.port_scan", 2, CAT_SCAN,
		"one host tried many (host, port) pairs of one zone in a short "
		"time: a port scan or host sweep into that zone" },
		NULL, { "T0846", "T0840" } },
};

#define DET_SIG_BASE 2300001

struct detect_stats detect_stats;
_Static_assert(DET__N <= DETECT_MAX, "detect_stats.raised_by has a slot each");

const char *detect_name(int i)
{
	return i >= 0 && i < DET__N ? dets[i].sig.name : NULL;
}

/* ------------------------------------------------------------------ */
/* Bounded tables                                                       */
/* ------------------------------------------------------------------ */

/* what an entry is about; the meaning of each field depends on the table */
struct dkey {
	uint32_t a, b;   /* addresses, network order (client, server) */
	uint32_t c;      /* unit, zone hash ... */
	uint16_t d;      /* address space */
	uint8_t det;     /* enum det: one table serves several detectors */
	uint8_t pad;     /* keeps the struct free of implicit padding */
};

struct dhdr {
	struct dkey k;
	double last;     /* last update (packet time): staleness and LRU */
	bool used;
};

/* an episode: raised once, over when the trigger has not held for the
 * quiet period */
struct episode {
	bool active;
	double last_hot;
};

/*
 * Open addressing over a window of DT_PROBE slots from the key's hash:
 * a key lives somewhere in its window, lookups scan the whole window (no
 * tombstones needed), a new key takes a free or stale slot there, else
 * the least recently updated one (counted: detect_stats.evicted).  Under
 * a flood of keys the table stays the size it was built with.
 */
#define DT_PROBE 8

struct dtab {
	void *base;
	size_t n;        /* slots, a power of two */
	size_t esz;      /* bytes per entry, struct dhdr first */
};

static uint64_t key_hash(const struct dkey *k)
{
	uint64_t x = ((uint64_t)k->a << 32 | k->b) * 0x9e3779b97f4a7c15ULL;

	x ^= ((uint64_t)k->c << 24 | (uint64_t)k->d << 8 | k->det) +
	     0x632be59bd9b4e019ULL;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x;
}

/* every key is built with pad 0: the two words compare the fields */
_Static_assert(sizeof(struct dkey) == 16, "dkey: two words, no padding");

static inline bool key_eq(const struct dkey *x, const struct dkey *y)
{
	uint64_t a[2], b[2];

	memcpy(a, x, sizeof(a));
	memcpy(b, y, sizeof(b));
	return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
}

static struct dhdr *tab_slot(const struct dtab *t, size_t i)
{
	return (struct dhdr *)((char *)t->base + (i & (t->n - 1)) * t->esz);
}

/* tab_get without a hint that holds: the window scan */
static void *tab_find(const struct dtab *t, const struct dkey *k, double now,
		      double stale, bool *fresh, void **hint)
{
	size_t i0 = (size_t)key_hash(k);
	struct dhdr *free_slot = NULL, *oldest = NULL;

	*fresh = false;
	for (size_t j = 0; j < DT_PROBE; j++) {
		struct dhdr *e = tab_slot(t, i0 + j);
		if (e->used && key_eq(&e->k, k)) {
			if (hint)
				*hint = e;
			return e;
		}
	}
	for (size_t j = 0; j < DT_PROBE; j++) {
		struct dhdr *e = tab_slot(t, i0 + j);
		if (!e->used || now - e->last > stale) {
			if (!free_slot)
				free_slot = e;
		} else if (!oldest || e->last < oldest->last) {
			oldest = e;
		}
	}
	if (!free_slot) {
		free_slot = oldest;
		detect_stats.evicted++;
	}
	memset(free_slot, 0, t->esz);
	free_slot->k = *k;
	free_slot->used = true;
	free_slot->last = now;
	*fresh = true;
	if (hint)
		*hint = free_slot;
	return free_slot;
}

/*
 * The entry for k, zeroed with its key when new (*fresh).  A key lives in
 * one slot of its window at most (it is only placed when the window lacks
 * it), so *hint - the slot this caller's flow last got from this table -
 * holding k is the slot the window scan would find: no hash, no scan.
 * hint may be NULL; it is set to the entry returned.
 */
static inline void *tab_get(const struct dtab *t, const struct dkey *k,
			    double now, double stale, bool *fresh, void **hint)
{
	struct dhdr *h = hint ? *hint : NULL;

	if (h && h->used && key_eq(&h->k, k)) {
		*fresh = false;
		return h;
	}
	return tab_find(t, k, now, stale, fresh, hint);
}

static double max2(double a, double b)
{
	return a > b ? a : b;
}

/* idle this long, an entry's counts and episode are over: reuse it */
static double stale_after(double window)
{
	return max2(2 * window, detect_cfg.quiet_period);
}

/* ------------------------------------------------------------------ */
/* Counting                                                             */
/* ------------------------------------------------------------------ */

/*
 * Epochs of one window each: 0 when `now` is still in the current one,
 * 1 when the current one became the previous, 2 when both are too old.
 * Time going backwards (merged captures) stays in the current epoch.
 */
static int epoch_step(double *epoch, double now, double window)
{
	double age = now - *epoch;

	if (age < window)
		return 0;
	*epoch = age < 2 * window ? *epoch + window : now;
	return age < 2 * window ? 1 : 2;
}

/* apply an epoch step to a bitmap pair (cur, prev) of `words` words */
static void bits_roll(uint64_t *cur, uint64_t *prev, size_t words, int step)
{
	if (step == 1)
		memcpy(prev, cur, words * sizeof(*cur));
	else if (step == 2)
		memset(prev, 0, words * sizeof(*prev));
	if (step)
		memset(cur, 0, words * sizeof(*cur));
}

/* set bit i in the current epoch: true when the window had not seen it */
static bool bit_add(uint64_t *cur, const uint64_t *prev, unsigned i)
{
	uint64_t b = 1ULL << (i & 63);
	bool seen = ((cur[i >> 6] | prev[i >> 6]) & b) != 0;

	cur[i >> 6] |= b;
	return !seen;
}

/* distinct values in the window: bits set in either epoch */
static unsigned bits_union(const uint64_t *cur, const uint64_t *prev,
			   size_t words)
{
	unsigned n = 0;

	for (size_t i = 0; i < words; i++)
		n += (unsigned)__builtin_popcountll(cur[i] | prev[i]);
	return n;
}

/* events over a sliding window: two epochs, the older one weighted by how
 * much of it the window still covers */
struct win {
	double start;
	uint32_t cur, prev;
};

static double win_add(struct win *w, double now, double window)
{
	double frac;
	int step = epoch_step(&w->start, now, window);

	if (step == 1)
		w->prev = w->cur;
	else if (step == 2)
		w->prev = 0;
	if (step)
		w->cur = 0;
	w->cur++;
	frac = (now - w->start) / window;
	if (frac < 0)
		frac = 0;
	return w->cur + w->prev * (1 - frac);
}

/* events per whole second of packet time, and how many consecutive
 * seconds reached a rate */
struct streak {
	int64_t sec;
	uint32_t n;      /* events in second `sec` */
	uint32_t run;    /* consecutive seconds before `sec` at the rate */
};

/* one event at now: the consecutive seconds at `rate`, this one included
 * once it reaches the rate (0 while it has not) */
static uint32_t streak_add(struct streak *s, double now, uint32_t rate)
{
	int64_t sec = (int64_t)now;

	if (sec > s->sec) {
		if (sec == s->sec + 1 && s->n >= rate)
			s->run++;
		else
			s->run = 0;
		s->sec = sec;
		s->n = 0;
	}
	s->n++;
	return s->n >= rate ? s->run + 1 : 0;
}

/* the trigger holds now: true when this starts an episode */
static bool episode_hot(struct episode *ep, double now)
{
	bool start = !ep->active || now - ep->last_hot >= detect_cfg.quiet_period;

	ep->active = true;
	if (start || now > ep->last_hot)
		ep->last_hot = now;
	return start;
}

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h;
}

#define FNV_INIT 2166136261u

/* ------------------------------------------------------------------ */
/* Alerts                                                               */
/* ------------------------------------------------------------------ */

/* what a detector counted, for the alert's metadata */
struct det_facts {
	double window;       /* seconds (0: none) */
	double threshold;
	double observed;
	const char *what;    /* "distinct function codes" */
	const char *detail;  /* one line for people */
};

/* one detector alert, shaped like alert.c's (EVE) */
static void det_alert(enum det d, struct mm_flow *f, const struct mm_ends *e,
		      const struct det_facts *x)
{
	const struct det_def *def = &dets[d];
	struct mm_rec *r = mm.rec_alert;

	detect_stats.raised++;
	detect_stats.raised_by[d]++;
	mm.st.alerts++;
	if (!r)
		return;
	alert_begin(r, f, e, def->app_proto, DET_SIG_BASE + (int)d, &def->sig,
		    def->sig.severity);
	rec_obj_begin(r, "metadata");
	rec_arr_begin(r, "mitre_attack");
	for (int i = 0; i < 2; i++)
		if (def->attack[i])
			rec_str(r, NULL, def->attack[i]);
	rec_arr_end(r);
	rec_obj_begin(r, "detector");
	rec_str(r, "counted", x->what);
	rec_double(r, "observed", x->observed);
	rec_double(r, "threshold", x->threshold);
	if (x->window > 0)
		rec_double(r, "window", x->window);
	rec_double(r, "quiet_period", detect_cfg.quiet_period);
	rec_obj_end(r);
	rec_obj_end(r);
	rec_obj_end(r);
	alert_zones(r, e);

	rec_obj_begin(r, def->app_proto ? def->app_proto : "net");
	rec_str(r, "detail", x->detail);
	rec_obj_end(r);
	alert_emit(r);
}

/* the same two ends seen from the other side (a response's ends turned
 * into the request's) */
static void ends_swap(const struct mm_ends *in, struct mm_ends *out)
{
	*out = *in;
	out->src_ip = in->dest_ip;
	out->dest_ip = in->src_ip;
	out->src_str = in->dest_str;
	out->dest_str = in->src_str;
	out->src_port = in->dest_port;
	out->dest_port = in->src_port;
	out->src_zone = in->dest_zone;
	out->dest_zone = in->src_zone;
	out->src_host = in->dest_host;
	out->dest_host = in->src_host;
}

/* ------------------------------------------------------------------ */
/* modbus.scan: function codes and unit ids, one client -> one server   */
/* ------------------------------------------------------------------ */

#define SCAN_SLOTS 1024

struct scan_ent {
	struct dhdr h;
	double epoch;
	uint64_t fc[2][2];       /* [0] current epoch, [1] the one before */
	uint64_t refused[2][2];  /* codes answered exception 1 */
	uint64_t unit[2][4];
	struct episode ep;
};

static struct scan_ent scan_slots[SCAN_SLOTS];
static const struct dtab scan_tab = { scan_slots, SCAN_SLOTS,
				      sizeof(struct scan_ent) };

/*
 * The flow's slot hints (struct mm_flow_memo.det_slot): its scan entry,
 * its write flood target, and a sweep entry per Modbus table (a poller
 * reads several in turn: one hint for all would rarely hold).
 */
enum { HINT_SCAN, HINT_RATE, HINT_SWEEP, HINT__N = HINT_SWEEP + 4 };
_Static_assert(HINT__N <= sizeof(((struct mm_flow_memo *)0)->det_slot) /
	       sizeof(void *), "mm_flow_memo.det_slot has a slot per hint");

static struct scan_ent *scan_get(struct mm_flow *f, uint32_t cli, uint32_t srv,
				 double now)
{
	struct dkey k = { cli, srv, 0, 0, DET_MODBUS_SCAN, 0 };
	double w = detect_cfg.modbus_scan_window;
	bool fresh;
	struct scan_ent *s = tab_get(&scan_tab, &k, now, stale_after(w), &fresh,
				     &f->memo.det_slot[HINT_SCAN]);
	int step;

	if (fresh)
		s->epoch = now;
	step = epoch_step(&s->epoch, now, w);
	bits_roll(s->fc[0], s->fc[1], 2, step);
	bits_roll(s->refused[0], s->refused[1], 2, step);
	bits_roll(s->unit[0], s->unit[1], 4, step);
	s->h.last = now;
	return s;
}

/* e: client -> server; called when a request added a value to the
 * window (the common request, one the window knows, stops before) */
static void scan_check(struct scan_ent *s, struct mm_flow *f,
		       const struct mm_ends *e, double now)
{
	const struct detect_cfg *c = &detect_cfg;
	unsigned nfc = bits_union(s->fc[0], s->fc[1], 2);
	unsigned nref = bits_union(s->refused[0], s->refused[1], 2);
	unsigned nunit = bits_union(s->unit[0], s->unit[1], 4);
	bool by_fc = c->modbus_scan_functions &&
		     nfc >= (unsigned)c->modbus_scan_functions;
	bool by_ref = c->modbus_scan_refused &&
		      nref >= (unsigned)c->modbus_scan_refused;
	bool by_unit = c->modbus_scan_units &&
		       nunit >= (unsigned)c->modbus_scan_units;
	char detail[200];
	struct det_facts x = { c->modbus_scan_window, 0, 0, NULL, detail };

	if (!(by_fc || by_ref || by_unit) || !episode_hot(&s->ep, now))
		return;
	snprintf(detail, sizeof(detail), "%u distinct function codes (%u "
		 "refused as illegal function) and %u unit ids within %g s",
		 nfc, nref, nunit, c->modbus_scan_window);
	if (by_ref) {
		x.what = "function codes refused as illegal function";
		x.observed = nref;
		x.threshold = c->modbus_scan_refused;
	} else if (by_fc) {
		x.what = "distinct function codes";
		x.observed = nfc;
		x.threshold = c->modbus_scan_functions;
	} else {
		x.what = "distinct unit ids";
		x.observed = nunit;
		x.threshold = c->modbus_scan_units;
	}
	det_alert(DET_MODBUS_SCAN, f, e, &x);
}

static void scan_op(struct mm_flow *f, const struct mm_ends *e,
		    const struct mm_op *op, double now)
{
	const struct detect_cfg *c = &detect_cfg;
	struct scan_ent *s;
	bool news;

	if (!c->modbus_scan_functions && !c->modbus_scan_refused &&
	    !c->modbus_scan_units)
		return;
	s = scan_get(f, e->src_ip, e->dest_ip, now);
	/* 0 and 128..255 are no function codes ([AP] 5): one bit for all */
	news = bit_add(s->fc[0], s->fc[1], op->function < 128 ? op->function : 0);
	if (op->has_ref)
		news |= bit_add(s->unit[0], s->unit[1], op->unit & 0xFF);
	if (news)
		scan_check(s, f, e, now);
}

/*
 * modbus.exception_response's detail (modbus.c rsp_exception): "fc F
 * (name) exception C (name) ...".  tests/unit/test_detect.c feeds the
 * dissector's own output through this, so a change there fails a test.
 */
static bool modbus_exception(const char *detail, unsigned *fc, unsigned *code)
{
	return detail && sscanf(detail, "fc %u (%*[^)]) exception %u", fc,
				code) == 2;
}

/* an exception in the response direction: e is server -> client */
static void scan_refused(struct mm_flow *f, const struct mm_ends *e,
			 const char *detail, double now)
{
	unsigned fc, code;
	struct mm_ends req;
	struct scan_ent *s;

	if (!detect_cfg.modbus_scan_refused ||
	    !modbus_exception(detail, &fc, &code) || code != 1 || fc >= 128)
		return;
	ends_swap(e, &req);
	s = scan_get(f, req.src_ip, req.dest_ip, now);
	bit_add(s->fc[0], s->fc[1], fc);
	if (bit_add(s->refused[0], s->refused[1], fc))
		scan_check(s, f, &req, now);
}

/* ------------------------------------------------------------------ */
/* modbus.register_sweep: consecutive ranges across one table           */
/* ------------------------------------------------------------------ */

#define SWEEP_SLOTS 1024
/*
 * Walks followed per (client, server, unit, table).  Polling on the same
 * key interleaves short walks (a few blocks, then back to the start);
 * the walk to replace is the one with the fewest steps, so a sweep
 * survives polling in between.
 */
#define SWEEP_WALKS 4

struct walk {
	uint32_t start, end;  /* addresses [start, end) covered so far */
	uint32_t at;          /* where the last step started */
	uint32_t steps;       /* requests that moved it on; 0: unused */
	double last;
};

struct sweep_ent {
	struct dhdr h;
	struct walk w[SWEEP_WALKS];
	struct episode ep;
};

static struct sweep_ent sweep_slots[SWEEP_SLOTS];
static const struct dtab sweep_tab = { sweep_slots, SWEEP_SLOTS,
				       sizeof(struct sweep_ent) };

static const char *modbus_space_name(uint32_t space)
{
	switch (space) {
	case 0: return "coil";
	case 1: return "discrete input";
	case 3: return "input register";
	case 4: return "holding register";
	}
	return "table";
}

/* the tables 0, 1, 3 and 4 (modbus_space_name) a hint each, others share */
static unsigned sweep_hint(uint32_t space)
{
	return (space ^ (space >> 2) << 1) & 3;
}

static void sweep_op(struct mm_flow *f, const struct mm_ends *e,
		     const struct mm_op *op, double now)
{
	const struct detect_cfg *c = &detect_cfg;
	struct dkey k = { e->src_ip, e->dest_ip, op->unit,
			  (uint16_t)op->space, DET_MODBUS_SWEEP, 0 };
	uint32_t a = op->addr, end = op->addr + op->count;
	struct walk *w = NULL, *spare = NULL;
	struct sweep_ent *s;
	bool fresh;

	if (!c->sweep_span || !op->has_ref || !op->count)
		return;
	s = tab_get(&sweep_tab, &k, now, stale_after(c->sweep_idle), &fresh,
		    &f->memo.det_slot[HINT_SWEEP + sweep_hint(op->space)]);
	s->h.last = now;
	/*
	 * A request continues a walk when it starts at or after the walk's
	 * last step and at most `gap` past its end: the walk only goes
	 * forward (a repeated block is no step, a polling cycle that starts
	 * over begins a walk of its own).  Of several, the longest.
	 */
	for (int i = 0; i < SWEEP_WALKS; i++) {
		struct walk *x = &s->w[i];
		if (x->steps && now - x->last > c->sweep_idle)
			x->steps = 0; /* paused too long: over */
		if (x->steps && a >= x->at &&
		    a <= x->end + (uint32_t)c->sweep_gap) {
			if (!w || x->steps > w->steps)
				w = x;
		} else if (!spare || !x->steps || (spare->steps &&
			   (x->steps < spare->steps ||
			    (x->steps == spare->steps && x->last < spare->last)))) {
			spare = x;
		}
	}
	if (!w) {
		spare->start = spare->at = a;
		spare->end = end;
		spare->steps = 1;
		spare->last = now;
		return;
	}
	if (a > w->at)
		w->steps++;
	w->at = a;
	if (end > w->end)
		w->end = end;
	w->last = now;
	if (w->end - w->start < (uint32_t)c->sweep_span ||
	    w->steps < (uint32_t)c->sweep_requests || !episode_hot(&s->ep, now))
		return;

	char detail[200];
	struct det_facts x = { 0, c->sweep_span, w->end - w->start,
			       "addresses walked", detail };
	snprintf(detail, sizeof(detail), "unit %u %s addresses %u..%u walked "
		 "in %u consecutive requests", op->unit,
		 modbus_space_name(op->space), w->start, w->end - 1, w->steps);
	det_alert(DET_MODBUS_SWEEP, f, e, &x);
}

/* ------------------------------------------------------------------ */
/* Rates and counts: write floods, error storms, Who-Is floods          */
/* ------------------------------------------------------------------ */

#define RATE_SLOTS 2048

struct rate_ent {
	struct dhdr h;
	struct streak s;   /* write floods */
	struct win w;      /* storms, Who-Is */
	struct episode ep;
};

static struct rate_ent rate_slots[RATE_SLOTS];
static const struct dtab rate_tab = { rate_slots, RATE_SLOTS,
				      sizeof(struct rate_ent) };

static struct rate_ent *rate_get(const struct dkey *k, double now,
				 double window, void **hint)
{
	bool fresh;
	struct rate_ent *r = tab_get(&rate_tab, k, now, stale_after(window),
				     &fresh, hint);

	if (fresh)
		r->w.start = now;
	r->h.last = now;
	return r;
}

/* a write to the server of e: the target is the server and the unit
 * (Modbus unit id, S7 data block, BACnet device) */
static void flood_op(enum det d, struct mm_flow *f, const struct mm_ends *e,
		     const struct mm_op *op, double now)
{
	const struct detect_cfg *c = &detect_cfg;
	uint32_t unit = op->has_ref ? op->unit : 0;
	struct dkey k = { 0, e->dest_ip, unit, 0, (uint8_t)d, 0 };
	struct rate_ent *r;
	uint32_t run;

	if (!c->write_flood_rate)
		return;
	r = rate_get(&k, now, c->write_flood_seconds,
		     &f->memo.det_slot[HINT_RATE]);
	run = streak_add(&r->s, now, (uint32_t)c->write_flood_rate);
	if (run < (uint32_t)c->write_flood_seconds || !episode_hot(&r->ep, now))
		return;

	char detail[200];
	struct det_facts x = { c->write_flood_seconds, c->write_flood_rate,
			       r->s.n, "writes per second to one target",
			       detail };
	snprintf(detail, sizeof(detail), "%d or more writes a second for %u "
		 "seconds to %s %s %u (last: %s)", c->write_flood_rate, run,
		 e->dest_str, d == DET_S7_FLOOD ? "db" :
		 d == DET_BACNET_FLOOD ? "device" : "unit", unit, mm_op_target(op));
	det_alert(d, f, e, &x);
}

/* an error answer: e is server -> client; raised client -> server */
static void storm_event(enum det d, struct mm_flow *f, const struct mm_ends *e,
			double now)
{
	const struct detect_cfg *c = &detect_cfg;
	struct dkey k = { e->src_ip, e->dest_ip, 0, 0, (uint8_t)d, 0 };
	struct rate_ent *r;
	double n;

	if (!c->error_storm_count)
		return;
	r = rate_get(&k, now, c->error_storm_window, NULL);
	n = win_add(&r->w, now, c->error_storm_window);
	if (n < c->error_storm_count || !episode_hot(&r->ep, now))
		return;

	char detail[200];
	struct mm_ends req;
	struct det_facts x = { c->error_storm_window, c->error_storm_count, n,
			       "error responses", detail };
	snprintf(detail, sizeof(detail), "%.0f error responses from %s to %s "
		 "within %g s", n, e->src_str, e->dest_str,
		 c->error_storm_window);
	ends_swap(e, &req);
	det_alert(d, f, &req, &x);
}

static bool is_who_is(const struct mm_op *op)
{
	return op->cls == MM_OP_DISCOVER && op->function_name &&
	       (!strcmp(op->function_name, "who_is") ||
		!strcmp(op->function_name, "who_has"));
}

/*
 * bacnet.who_is_flood across flows: the dissector counts per flow (per
 * UDP flow state), which misses a sweep sent to each device in turn and
 * raises again every window of a long storm.  Counted here per sender
 * (the relayed origin for forwarded broadcasts), once per episode; the
 * dissector's own event is absorbed (detect_event).
 */
static void who_is_op(struct mm_flow *f, const struct mm_ends *e, double now)
{
	const struct detect_cfg *c = &detect_cfg;
	struct dkey k = { e->src_ip, 0, 0, 0, DET_WHO_IS, 0 };
	struct rate_ent *r;
	double n;

	r = rate_get(&k, now, c->who_is_window, NULL);
	n = win_add(&r->w, now, c->who_is_window);
	if (n < c->who_is_count || !episode_hot(&r->ep, now))
		return;

	char detail[200];
	struct det_facts x = { c->who_is_window, c->who_is_count, n,
			       "Who-Is/Who-Has requests", detail };
	snprintf(detail, sizeof(detail), "%.0f Who-Is/Who-Has from %s within "
		 "%g s", n, e->src_str, c->who_is_window);
	det_alert(DET_WHO_IS, f, e, &x);
}

/* ------------------------------------------------------------------ */
/* s7comm.recon: discover items from outside engineering                */
/* ------------------------------------------------------------------ */

#define RECON_SLOTS 256
#define RECON_BITS 1024

struct recon_ent {
	struct dhdr h;
	double epoch;
	uint64_t items[2][RECON_BITS / 64];
	struct episode ep;
};

static struct recon_ent recon_slots[RECON_SLOTS];
static const struct dtab recon_tab = { recon_slots, RECON_SLOTS,
				       sizeof(struct recon_ent) };

static bool is_engineering(const struct zone *z)
{
	return z && z->archetype && !strcmp(z->archetype, "hozen");
}

/*
 * An item is the function and its target text: "SZL 0x0011 index
 * 0x0000", "list DB blocks", "info FC12" (s7comm.c), so a station that
 * reads one SZL over and over counts one, an enumeration counts many.
 */
static void recon_op(struct mm_flow *f, const struct mm_ends *e,
		     const struct mm_op *op, double now)
{
	const struct detect_cfg *c = &detect_cfg;
	struct dkey k = { e->src_ip, e->dest_ip, 0, 0, DET_S7_RECON, 0 };
	struct recon_ent *s;
	uint32_t h;
	unsigned n;
	bool fresh;

	if (!c->s7_recon_items || is_engineering(e->src_zone))
		return;
	s = tab_get(&recon_tab, &k, now, stale_after(c->s7_recon_window),
		    &fresh, NULL);
	if (fresh)
		s->epoch = now;
	bits_roll(s->items[0], s->items[1], RECON_BITS / 64,
		  epoch_step(&s->epoch, now, c->s7_recon_window));
	s->h.last = now;
	h = fnv1a(FNV_INIT, &op->function, sizeof(op->function));
	const char *t = mm_op_target(op);
	h = fnv1a(h, t, strnlen(t, sizeof(op->target)));
	if (!bit_add(s->items[0], s->items[1], h % RECON_BITS))
		return; /* nothing new: no recon step */
	n = bits_union(s->items[0], s->items[1], RECON_BITS / 64);
	if (n < (unsigned)c->s7_recon_items || !episode_hot(&s->ep, now))
		return;

	char detail[200];
	struct det_facts x = { c->s7_recon_window, c->s7_recon_items, n,
			       "distinct SZL/block items", detail };
	snprintf(detail, sizeof(detail), "%u distinct SZL/block items within "
		 "%g s from %s (zone %s, not engineering); last: %s", n,
		 c->s7_recon_window, e->src_str,
		 e->src_zone ? e->src_zone->id : "none", t);
	det_alert(DET_S7_RECON, f, e, &x);
}

/* ------------------------------------------------------------------ */
/* net.port_scan: (host, port) pairs of one zone from one source        */
/* ------------------------------------------------------------------ */

#define PSCAN_SLOTS 512
/* distinct pairs as bits of a hash: a few collisions below the
 * threshold's range (64 pairs in 1024 bits: about 2 lost) */
#define PSCAN_BITS 1024

struct pscan_ent {
	struct dhdr h;
	double epoch;
	uint64_t pairs[2][PSCAN_BITS / 64];
	struct episode ep;
};

static struct pscan_ent pscan_slots[PSCAN_SLOTS];
static const struct dtab pscan_tab = { pscan_slots, PSCAN_SLOTS,
				       sizeof(struct pscan_ent) };

/* a zone by its id's hash (never a pointer: a zone reload frees them) */
static uint32_t zone_hash(const struct zone *z)
{
	return z ? fnv1a(FNV_INIT, z->id, strlen(z->id)) : 0;
}

void detect_touch(uint8_t proto, uint32_t src, uint32_t dst, uint16_t dport)
{
	const struct detect_cfg *c = &detect_cfg;
	const char *dst_host = NULL, *src_host = NULL;
	const struct zone *dz, *sz;
	struct pscan_ent *s;
	double now = mm_now();
	uint32_t pair[3] = { dst, dport, proto };
	unsigned n;
	bool fresh;

	if (!c->enabled || !c->port_scan_pairs)
		return;
	dz = mm.zones ? zone_lookup(mm.zones, dst, &dst_host) : NULL;
	struct dkey k = { src, 0, zone_hash(dz), 0, DET_PORT_SCAN, 0 };
	s = tab_get(&pscan_tab, &k, now, stale_after(c->port_scan_window),
		    &fresh, NULL);
	if (fresh)
		s->epoch = now;
	bits_roll(s->pairs[0], s->pairs[1], PSCAN_BITS / 64,
		  epoch_step(&s->epoch, now, c->port_scan_window));
	s->h.last = now;
	if (!bit_add(s->pairs[0], s->pairs[1],
		     fnv1a(FNV_INIT, pair, sizeof(pair)) % PSCAN_BITS))
		return; /* a pair tried before: no scan step */
	n = bits_union(s->pairs[0], s->pairs[1], PSCAN_BITS / 64);
	if (n < (unsigned)c->port_scan_pairs || !episode_hot(&s->ep, now))
		return;

	char srcs[16], dsts[16], detail[200];
	struct mm_ends e;
	struct det_facts x = { c->port_scan_window, c->port_scan_pairs, n,
			       "distinct (host, port) pairs of one zone",
			       detail };
	sz = mm.zones ? zone_lookup(mm.zones, src, &src_host) : NULL;
	mm_fmt_ipv4(srcs, src);
	mm_fmt_ipv4(dsts, dst);
	memset(&e, 0, sizeof(e));
	e.transport = proto;
	e.src_ip = src;
	e.dest_ip = dst;
	e.src_str = srcs;
	e.dest_str = dsts;
	e.dest_port = dport;
	e.src_zone = sz;
	e.dest_zone = dz;
	e.src_host = src_host;
	e.dest_host = dst_host;
	snprintf(detail, sizeof(detail), "%s tried %u distinct (host, port) "
		 "pairs of zone %s within %g s (last: %s %s/%u)", srcs, n,
		 dz ? dz->id : "none", c->port_scan_window, dsts,
		 proto == IPPROTO_UDP ? "udp" : "tcp", dport);
	det_alert(DET_PORT_SCAN, NULL, &e, &x);
}

/* ------------------------------------------------------------------ */
/* Hooks                                                                */
/* ------------------------------------------------------------------ */

enum det_proto { P_OTHER, P_MODBUS, P_S7, P_BACNET };

/* by the registry's own entries: a pointer compare per op */
static inline enum det_proto proto_of(const struct mm_dissector *d)
{
	static const struct mm_dissector *modbus, *s7, *bacnet;
	static bool looked;

	if (!looked) {
		modbus = mm_dissector_by_name("modbus");
		s7 = mm_dissector_by_name("s7comm");
		bacnet = mm_dissector_by_name("bacnet");
		looked = true;
	}
	if (!d)
		return P_OTHER;
	return d == modbus ? P_MODBUS : d == s7 ? P_S7 :
	       d == bacnet ? P_BACNET : P_OTHER;
}

void detect_op(struct mm_flow *f, const struct mm_ends *e,
	       const struct mm_op *op)
{
	double now = mm_now();

	if (!detect_cfg.enabled || !f)
		return;
	switch (proto_of(f->d)) {
	case P_MODBUS:
		scan_op(f, e, op, now);
		sweep_op(f, e, op, now);
		if (op->cls == MM_OP_WRITE)
			flood_op(DET_MODBUS_FLOOD, f, e, op, now);
		break;
	case P_S7:
		if (op->cls == MM_OP_DISCOVER)
			recon_op(f, e, op, now);
		else if (op->cls == MM_OP_WRITE)
			flood_op(DET_S7_FLOOD, f, e, op, now);
		break;
	case P_BACNET:
		if (detect_cfg.who_is_count && is_who_is(op))
			who_is_op(f, e, now);
		else if (op->cls == MM_OP_WRITE)
			flood_op(DET_BACNET_FLOOD, f, e, op, now);
		break;
	default:
		break;
	}
}

bool detect_event(struct mm_flow *f, const struct mm_ends *e,
		  const struct mm_event_def *ev, const char *detail)
{
	double now = mm_now();
	const char *n;

	if (!detect_cfg.enabled || !f || !ev || !ev->name)
		return false;
	n = ev->name;
	switch (proto_of(f->d)) {
	case P_MODBUS:
		if (!strcmp(n, "modbus.exception_response")) {
			storm_event(DET_MODBUS_STORM, f, e, now);
			scan_refused(f, e, detail, now);
		}
		break;
	case P_S7:
		if (!strcmp(n, "s7comm.error_response"))
			storm_event(DET_S7_STORM, f, e, now);
		break;
	case P_BACNET:
		if (!strcmp(n, "bacnet.error_response") ||
		    !strcmp(n, "bacnet.reject") || !strcmp(n, "bacnet.abort"))
			storm_event(DET_BACNET_STORM, f, e, now);
		else if (!strcmp(n, "bacnet.who_is_flood") &&
			 detect_cfg.who_is_count) {
			detect_stats.absorbed++;
			return true;
		}
		break;
	default:
		break;
	}
	return false;
}

void detect_reset(void)
{
	memset(scan_slots, 0, sizeof(scan_slots));
	memset(sweep_slots, 0, sizeof(sweep_slots));
	memset(rate_slots, 0, sizeof(rate_slots));
	memset(recon_slots, 0, sizeof(recon_slots));
	memset(pscan_slots, 0, sizeof(pscan_slots));
	memset(&detect_stats, 0, sizeof(detect_stats));
}
