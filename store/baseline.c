/*
 * baseline.c - the learned baseline and the zone matrix, on the store's
 * side: what a sensor observed (kind "obs", the contract in store.h) is
 * either learned as normal or compared with what was learned.
 *
 * Everything runs inside the store's batch transaction, on its
 * connection, with statements prepared once.  A record is checked whole
 * in baseline_obs_parse (the server's receiving thread), so a malformed
 * one is refused before it touches the database and the database thread
 * only meets database errors.
 *
 * Deviations become alerts shaped like the sensor's (EVE, with the
 * protocol object), handed to db.c, which stores them the way it stores
 * a sensor's alert: aggregation, on_new_alert after commit.
 */
#include "baseline.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/rec.h"
#include "seterr.h"

#define FIELD_MAX 255     /* a longer string is not a sensor's */
#define LOGGED_MAX 64     /* sensors told about "nothing learned" */

#define SIG_ID_NEW_TALKER 2400001
#define SIG_ID_NEW_FUNCTION 2400002
#define SIG_ID_NEW_TARGET 2400003
#define SIG_ID_ASSET_NEW 2500001

/* ---------------- the record ---------------- */

enum what { W_OP, W_SERVICE, W_MAC };

/* a value that is an integer or a text in the JSON (function, unit, space) */
struct val {
	enum { V_NONE, V_INT, V_TEXT } t;
	int64_t i;
	const char *s;
};

/*
 * The strings below are copies in text, right after the struct (a
 * record's decoded strings fit in the length of its JSON): the JSON tree
 * is freed by the thread that parsed it, so its many small blocks go
 * back to that thread's malloc, not across to the database thread.  The
 * key has a block of its own: the struct with its text stays under
 * glibc's 1 KiB, below which a malloc does not first sort every small
 * free block (malloc_consolidate: 5% of the parse when it did).
 */
struct baseline_obs {
	json_t *root;            /* while parsing only */
	const char *ts_raw;      /* while parsing: the timestamp as sent */
	char *text;
	size_t text_used, text_cap;
	enum what what;
	bool learn;
	int64_t sec, usec;
	char ts[40], first[40];  /* normalised */
	char peak_at[40];        /* writes: the second of the peak ("" none) */
	int64_t peak_sec, peak_usec;
	char hour[16];           /* "2015-10-22T10" */
	const char *src, *dst, *szone, *dzone, *proto, *op, *verdict;
	const char *fname;
	bool has_port;
	int64_t port, n;
	bool first_report;       /* interval 0 */
	struct val fn, unit, space;
	bool has_addr, has_count, has_peak;
	int64_t addr, count;
	double peak;
	bool wpc;                /* write, program or control */
	const char *ip, *vendor, *zone;
	char mac[32];            /* lower case */
	bool watch;
	char *key;
};

#define KEY_MAX 1200 /* with the NUL; a longer key is cut */

/* a key being built */
struct keybuf {
	char s[KEY_MAX];
	size_t n;
};

static const char *const op_classes[] = {"read",     "write",    "program",
					 "control",  "discover", "other",
					 NULL};
static const char *const verdicts[] = {"allowed", "no_conduit",
				       "op_not_allowed", "unknown_host", NULL};

static bool in_list(const char *s, const char *const *l)
{
	for (; *l; l++)
		if (!strcmp(s, *l))
			return true;
	return false;
}

/*
 * The field readers: missing and null are "absent" (an error when
 * required), any other JSON type than the one wanted is the record's
 * fault.  0 or -1 with the message.  v is the field k's value (NULL when
 * missing); a string is the tree's, len its length.
 */
static int str_value(json_t *v, const char *k, bool req, const char **out,
		     size_t *len, char *err, size_t errlen)
{
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (req) {
			seterr(err, errlen, "obs without \"%s\"", k);
			return -1;
		}
		return 0;
	}
	if (!json_is_string(v) || (*len = json_string_length(v)) > FIELD_MAX ||
	    strlen(json_string_value(v)) != *len) {
		seterr(err, errlen, "obs: \"%s\" is not a string (of at most "
		       "%d bytes)", k, FIELD_MAX);
		return -1;
	}
	*out = json_string_value(v);
	if (!**out) {
		*out = NULL;
		if (req) {
			seterr(err, errlen, "obs: \"%s\" is empty", k);
			return -1;
		}
	}
	return 0;
}

/* a string read only while parsing (the tree's) */
static int peek_str(struct baseline_obs *o, const char *k, bool req,
		    const char **out, size_t *len, char *err, size_t errlen)
{
	return str_value(json_object_get(o->root, k), k, req, out, len, err,
			 errlen);
}

/* a string of v kept in o->text */
static int keep_str(struct baseline_obs *o, json_t *v, const char *k,
		    bool req, const char **out, char *err, size_t errlen)
{
	size_t len = 0;
	char *d;

	if (str_value(v, k, req, out, &len, err, errlen))
		return -1;
	if (!*out)
		return 0;
	if (len + 1 > o->text_cap - o->text_used) {
		/* a value is shorter than its JSON text: cannot happen */
		seterr(err, errlen, "obs: \"%s\" does not fit", k);
		return -1;
	}
	d = o->text + o->text_used;
	memcpy(d, *out, len + 1);
	o->text_used += len + 1;
	*out = d;
	return 0;
}

static int get_str(struct baseline_obs *o, const char *k, bool req,
		   const char **out, char *err, size_t errlen)
{
	return keep_str(o, json_object_get(o->root, k), k, req, out, err,
			errlen);
}

/* an integer in [lo, hi] (a real with no fraction counts) */
static int int_value(json_t *v, const char *k, bool req, int64_t lo,
		     int64_t hi, bool *has, int64_t *out, char *err,
		     size_t errlen)
{
	double d;

	*has = false;
	*out = 0;
	if (!v || json_is_null(v)) {
		if (req) {
			seterr(err, errlen, "obs without \"%s\"", k);
			return -1;
		}
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_real(v) && (d = json_real_value(v)) >= -9e15 &&
		   d <= 9e15 && d == floor(d)) {
		*out = (int64_t)d;
	} else {
		seterr(err, errlen, "obs: \"%s\" is not an integer", k);
		return -1;
	}
	if (*out < lo || *out > hi) {
		seterr(err, errlen, "obs: \"%s\" %lld is out of range", k,
		       (long long)*out);
		return -1;
	}
	*has = true;
	return 0;
}

static int get_int(struct baseline_obs *o, const char *k, bool req,
		   int64_t lo, int64_t hi, bool *has, int64_t *out, char *err,
		   size_t errlen)
{
	return int_value(json_object_get(o->root, k), k, req, lo, hi, has, out,
			 err, errlen);
}

static int get_val(struct baseline_obs *o, const char *k, struct val *out,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(o->root, k);
	bool has;

	memset(out, 0, sizeof(*out));
	if (v && json_is_string(v)) {
		if (keep_str(o, v, k, false, &out->s, err, errlen))
			return -1;
		out->t = out->s ? V_TEXT : V_NONE;
		return 0;
	}
	if (int_value(v, k, false, INT64_MIN / 2, INT64_MAX / 2, &has, &out->i,
		      err, errlen)) {
		seterr(err, errlen, "obs: \"%s\" is neither an integer nor a "
		       "string", k);
		return -1;
	}
	out->t = has ? V_INT : V_NONE;
	return 0;
}

/*
 * A time, normalised into out (40 bytes).  The first one read is the
 * timestamp; first_seen and peak_at are often the same text (a key's
 * first report), and the same text is the same time.
 */
static int get_time(struct baseline_obs *o, const char *k, bool req,
		    char *out, int64_t *sec, int64_t *usec, char *err,
		    size_t errlen)
{
	const char *s;
	size_t len;
	int64_t a, b;

	if (peek_str(o, k, req, &s, &len, err, errlen))
		return -1;
	if (!s)
		return 0;
	if (o->ts_raw && !strcmp(s, o->ts_raw)) {
		a = o->sec;
		b = o->usec;
		memcpy(out, o->ts, sizeof(o->ts));
	} else if (store_ts_parse(s, &a, &b)) {
		seterr(err, errlen, "obs: \"%s\" \"%.40s\" is not ISO 8601", k,
		       s);
		return -1;
	} else {
		mm_format_ts(out, sizeof(o->ts), a, b);
	}
	if (!o->ts_raw)
		o->ts_raw = s;
	if (sec) {
		*sec = a;
		*usec = b;
	}
	return 0;
}

/* append len bytes of p to the key, as many as it holds (NUL-ended) */
static void key_put(struct keybuf *k, const char *p, size_t len)
{
	if (len > sizeof(k->s) - 1 - k->n)
		len = sizeof(k->s) - 1 - k->n;
	memcpy(k->s + k->n, p, len);
	k->n += len;
	k->s[k->n] = '\0';
}

/* append "|" and a value to the key; absent values are empty */
static void key_add(struct keybuf *k, const struct val *v)
{
	char num[24], *p = num + sizeof(num);

	key_put(k, "|", 1);
	if (v->t == V_INT) {
		/* "%lld", without snprintf's cost on every record */
		uint64_t u = v->i < 0 ? -(uint64_t)v->i : (uint64_t)v->i;
		do
			*--p = (char)('0' + u % 10);
		while (u /= 10);
		if (v->i < 0)
			*--p = '-';
		key_put(k, p, (size_t)(num + sizeof(num) - p));
	} else if (v->t == V_TEXT) {
		/* a leading quote keeps the text "1" apart from the number 1 */
		key_put(k, "'", 1);
		key_put(k, v->s, strlen(v->s));
	}
}

static void key_text(struct keybuf *k, const char *s)
{
	struct val v = {.t = s ? V_TEXT : V_NONE, .s = s};

	key_add(k, &v);
}

static void key_int(struct keybuf *k, bool has, int64_t i)
{
	struct val v = {.t = has ? V_INT : V_NONE, .i = i};

	key_add(k, &v);
}

static int parse_flow(struct baseline_obs *o, char *err, size_t errlen)
{
	json_t *r = o->root;
	bool has;
	json_t *pk, *iv;

	if (get_str(o, "src_ip", true, &o->src, err, errlen) ||
	    get_str(o, "dest_ip", true, &o->dst, err, errlen) ||
	    get_str(o, "src_zone", false, &o->szone, err, errlen) ||
	    get_str(o, "dest_zone", false, &o->dzone, err, errlen) ||
	    get_str(o, "proto", true, &o->proto, err, errlen) ||
	    get_str(o, "op", true, &o->op, err, errlen) ||
	    get_str(o, "verdict", true, &o->verdict, err, errlen) ||
	    get_int(o, "dest_port", false, 0, 65535, &o->has_port, &o->port,
		    err, errlen) ||
	    get_int(o, "n", true, 0, INT64_MAX / 4, &has, &o->n, err,
		    errlen))
		return -1;
	/* seconds, with a fraction: 0 on a key's first report */
	iv = json_object_get(r, "interval");
	if (iv && !json_is_null(iv) &&
	    (!json_is_number(iv) || !(json_number_value(iv) >= 0))) {
		seterr(err, errlen, "obs: \"interval\" is not a number of 0 "
		       "or more");
		return -1;
	}
	o->first_report = iv && json_is_number(iv) &&
			  json_number_value(iv) == 0;
	if (!in_list(o->op, op_classes)) {
		seterr(err, errlen, "obs: op \"%.32s\" is no operation class",
		       o->op);
		return -1;
	}
	if (!in_list(o->verdict, verdicts)) {
		seterr(err, errlen, "obs: verdict \"%.32s\" is not one of "
		       "allowed, no_conduit, op_not_allowed, unknown_host",
		       o->verdict);
		return -1;
	}
	o->wpc = !strcmp(o->op, "write") || !strcmp(o->op, "program") ||
		 !strcmp(o->op, "control");
	if (o->what == W_OP) {
		if (get_val(o, "function", &o->fn, err, errlen) ||
		    get_str(o, "function_name", false, &o->fname, err,
			    errlen) ||
		    get_val(o, "unit", &o->unit, err, errlen) ||
		    get_val(o, "space", &o->space, err, errlen) ||
		    get_int(o, "addr", false, 0, INT64_MAX / 4, &o->has_addr,
			    &o->addr, err, errlen) ||
		    get_int(o, "count", false, 0, INT64_MAX / 4, &o->has_count,
			    &o->count, err, errlen))
			return -1;
		pk = json_object_get(r, "peak_per_s");
		if (pk && !json_is_null(pk)) {
			if (!json_is_number(pk) || !isfinite(json_number_value(pk)) ||
			    json_number_value(pk) < 0) {
				seterr(err, errlen, "obs: \"peak_per_s\" is "
				       "not a number of 0 or more");
				return -1;
			}
			o->has_peak = true;
			o->peak = json_number_value(pk);
		}
	}
	return 0;
}

static int parse_mac(struct baseline_obs *o, char *err, size_t errlen)
{
	json_t *w;
	const char *mac;
	size_t i, len;

	if (get_str(o, "ip", true, &o->ip, err, errlen) ||
	    peek_str(o, "mac", true, &mac, &len, err, errlen) ||
	    get_str(o, "mac_vendor", false, &o->vendor, err, errlen) ||
	    get_str(o, "zone", false, &o->zone, err, errlen))
		return -1;
	if (len >= sizeof(o->mac)) {
		seterr(err, errlen, "obs: \"mac\" \"%.40s\" is too long", mac);
		return -1;
	}
	/* one spelling: the same device must not look new in capitals */
	for (i = 0; mac[i]; i++)
		o->mac[i] = (char)(mac[i] >= 'A' && mac[i] <= 'Z'
					   ? mac[i] - 'A' + 'a'
					   : mac[i]);
	o->mac[i] = '\0';
	w = json_object_get(o->root, "watch");
	if (w && !json_is_null(w) && !json_is_boolean(w)) {
		seterr(err, errlen, "obs: \"watch\" is not true or false");
		return -1;
	}
	o->watch = json_is_true(w);
	/* the MAC's row belongs to its address: src_ip */
	o->src = o->ip;
	o->szone = o->zone;
	return 0;
}

struct baseline_obs *baseline_obs_parse(const char *json, size_t len,
					char *err, size_t errlen)
{
	struct baseline_obs *o =
		len < SIZE_MAX / 2 ? malloc(sizeof(*o) + len + 1) : NULL;
	json_error_t je;
	const char *mode, *what;
	struct keybuf kb;
	size_t n, mlen, wlen;

	if (!o) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	memset(o, 0, sizeof(*o));
	o->text = (char *)(o + 1);
	o->text_cap = len + 1;
	o->root = json_loadb(json, len, 0, &je);
	if (!json_is_object(o->root)) {
		seterr(err, errlen, "obs: not a JSON object: %s", je.text);
		goto fail;
	}
	if (peek_str(o, "mode", true, &mode, &mlen, err, errlen) ||
	    peek_str(o, "what", true, &what, &wlen, err, errlen) ||
	    get_time(o, "timestamp", true, o->ts, &o->sec, &o->usec, err,
		     errlen) ||
	    get_time(o, "first_seen", false, o->first, NULL, NULL, err,
		     errlen) ||
	    get_time(o, "peak_at", false, o->peak_at, &o->peak_sec,
		     &o->peak_usec, err, errlen))
		goto fail;
	if (!strcmp(mode, "learn")) {
		o->learn = true;
	} else if (strcmp(mode, "detect")) {
		seterr(err, errlen, "obs: mode \"%.32s\" is neither learn nor "
		       "detect", mode);
		goto fail;
	}
	if (!strcmp(what, "op")) {
		o->what = W_OP;
	} else if (!strcmp(what, "service")) {
		o->what = W_SERVICE;
	} else if (!strcmp(what, "mac")) {
		o->what = W_MAC;
	} else {
		seterr(err, errlen, "obs: what \"%.32s\" is not op, service "
		       "or mac", what);
		goto fail;
	}
	if (!o->first[0])
		memcpy(o->first, o->ts, sizeof(o->first));
	n = strnlen(o->ts, 13); /* "%.13s" */
	memcpy(o->hour, o->ts, n);
	o->hour[n] = '\0';
	if (o->what == W_MAC ? parse_mac(o, err, errlen)
			     : parse_flow(o, err, errlen))
		goto fail;
	/* the key: every field that tells one observation from another */
	kb.n = 0;
	key_put(&kb, what, wlen);
	if (o->what == W_MAC) {
		key_text(&kb, o->ip);
		key_text(&kb, o->mac);
	} else {
		key_text(&kb, o->src);
		key_text(&kb, o->dst);
		key_int(&kb, o->has_port, o->port);
		key_text(&kb, o->proto);
		key_text(&kb, o->op);
		key_add(&kb, &o->fn);
		key_add(&kb, &o->unit);
		key_add(&kb, &o->space);
		key_int(&kb, o->has_addr, o->addr);
		key_int(&kb, o->has_count, o->count);
	}
	o->key = malloc(kb.n + 1);
	if (!o->key) {
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(o->key, kb.s, kb.n + 1);
	json_decref(o->root);
	o->root = NULL;
	o->ts_raw = NULL;
	return o;
fail:
	baseline_obs_free(o);
	return NULL;
}

void baseline_obs_free(struct baseline_obs *o)
{
	if (!o)
		return;
	json_decref(o->root); /* a record refused while parsing */
	free(o->key);
	free(o);
}

void baseline_obs_time(const struct baseline_obs *o, int64_t *sec,
		       int64_t *usec)
{
	*sec = o->sec;
	*usec = o->usec;
}

/* ---------------- statements ---------------- */

enum {
	S_MATRIX,
	S_LEARN,
	S_NEW,
	S_EXACT,
	S_TOUCH,
	S_HAS_BASE,
	S_TALKER,
	S_FUNC,
	S_PORT,
	S_COVER,
	S_PEAK,
	S_MAC_ANY,
	S_EPISODE,
	S_EPISODE_ADD,
	S__N
};

/* the columns a row is made of, ?1 .. ?20 (bind_row) */
#define ROW_COLS                                                              \
	"sensor, what, key, src_ip, dest_ip, dest_port, proto, op,"           \
	" function, function_name, unit, space, addr, count, mac,"            \
	" mac_vendor, src_zone, dest_zone, first_ts, last_ts, hits,"          \
	" peak_per_s, status"
#define ROW_VALS                                                              \
	"?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"   \
	" ?16, ?17, ?18, ?19, ?20, ?21, ?22"
/* the talker: sensor, requester, server, protocol */
#define TALKER "sensor = ?1 AND src_ip = ?2 AND dest_ip = ?3 AND proto = ?4"

static const char *const bl_sql[S__N] = {
	[S_MATRIX] =
		"INSERT INTO obs_matrix(sensor, hour, src_zone, dest_zone,"
		" proto, op, verdict, n, keys) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
		" ?7, ?8, ?9) ON CONFLICT DO UPDATE SET n = n + excluded.n,"
		" keys = keys + excluded.keys",
	/* learning: 'new' becomes learned, approved stays approved */
	[S_LEARN] =
		"INSERT INTO baseline(" ROW_COLS ") VALUES(" ROW_VALS
		", 'learned') ON CONFLICT(sensor, key) DO UPDATE SET"
		" status = CASE status WHEN 'approved' THEN 'approved'"
		" ELSE 'learned' END, hits = hits + excluded.hits,"
		" first_ts = min(first_ts, excluded.first_ts),"
		" last_ts = max(last_ts, excluded.last_ts),"
		" peak_per_s = CASE WHEN excluded.peak_per_s IS NULL THEN"
		" peak_per_s ELSE max(coalesce(peak_per_s, 0),"
		" excluded.peak_per_s) END,"
		" function_name = coalesce(excluded.function_name,"
		" function_name),"
		" mac_vendor = coalesce(excluded.mac_vendor, mac_vendor),"
		" src_zone = excluded.src_zone, dest_zone = excluded.dest_zone",
	[S_NEW] = "INSERT OR IGNORE INTO baseline(" ROW_COLS ") VALUES("
		  ROW_VALS ", 'new')",
	[S_EXACT] = "SELECT id FROM baseline WHERE sensor = ?1 AND key = ?2",
	[S_TOUCH] = "UPDATE baseline SET hits = hits + ?2,"
		    " last_ts = max(last_ts, ?3) WHERE id = ?1",
	[S_HAS_BASE] = "SELECT 1 FROM baseline WHERE sensor = ?1 AND status"
		       " IN ('learned', 'approved') LIMIT 1",
	/* rows of the talker, and of them learned or approved */
	[S_TALKER] = "SELECT count(*), coalesce(sum(status <> 'new'), 0)"
		     " FROM baseline WHERE " TALKER,
	[S_FUNC] = "SELECT count(*), coalesce(sum(status <> 'new'), 0)"
		   " FROM baseline WHERE " TALKER " AND function IS ?5",
	[S_PORT] = "SELECT count(*), coalesce(sum(status <> 'new'), 0)"
		   " FROM baseline WHERE " TALKER " AND dest_port IS ?5",
	/* one learned range [addr, addr + count) holding [?8, ?9); an
	 * unknown count (0, none) is one address */
	[S_COVER] = "SELECT 1 FROM baseline WHERE " TALKER " AND function IS ?5"
		    " AND status <> 'new' AND unit IS ?6 AND space IS ?7"
		    " AND addr <= ?8 AND addr + max(coalesce(count, 1), 1)"
		    " >= ?9 LIMIT 1",
	[S_PEAK] = "SELECT max(peak_per_s) FROM baseline WHERE " TALKER
		   " AND function IS ?5 AND status <> 'new'",
	[S_MAC_ANY] = "SELECT 1 FROM baseline WHERE sensor = ?1 AND mac = ?2"
		      " LIMIT 1",
	/* a write_flood of this sensor, source and destination whose span
	 * (widened by the episode on both sides) holds the record */
	[S_EPISODE] = "SELECT id FROM alerts WHERE sensor = ?1 AND"
		      " signature = ?2 AND src_ip = ?3 AND dest_ip = ?4 AND"
		      " last_ts >= ?5 AND first_ts <= ?6"
		      " ORDER BY last_ts DESC LIMIT 1",
	[S_EPISODE_ADD] = "UPDATE alerts SET count = count + 1,"
			  " last_ts = max(last_ts, ?2) WHERE id = ?1",
};

struct baseline {
	sqlite3 *db;
	sqlite3_stmt *st[S__N];
	double factor, floor;
	struct store_baseline_counts c;
	/* sensors already told "nothing learned": once each */
	char logged[LOGGED_MAX][129];
	int n_logged;
};

struct baseline *baseline_open(sqlite3 *db, double flood_factor,
			       double flood_floor, char *err, size_t errlen)
{
	struct baseline *b = calloc(1, sizeof(*b));

	if (!b) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	b->db = db;
	b->factor = flood_factor > 0 ? flood_factor
				     : STORE_BASELINE_FLOOD_FACTOR;
	b->floor = flood_floor > 0 ? flood_floor : STORE_BASELINE_FLOOD_FLOOR;
	for (int i = 0; i < S__N; i++) {
		if (sqlite3_prepare_v3(db, bl_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &b->st[i],
				       NULL) != SQLITE_OK) {
			seterr(err, errlen, "preparing \"%s\": %s", bl_sql[i],
			       sqlite3_errmsg(db));
			baseline_close(b);
			return NULL;
		}
	}
	return b;
}

void baseline_close(struct baseline *b)
{
	if (!b)
		return;
	for (int i = 0; i < S__N; i++)
		sqlite3_finalize(b->st[i]);
	free(b);
}

void baseline_counts(const struct baseline *b, struct store_baseline_counts *c)
{
	*c = b->c;
}

/* ---------------- helpers ---------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_val(sqlite3_stmt *st, int i, const struct val *v)
{
	if (v->t == V_INT)
		sqlite3_bind_int64(st, i, v->i);
	else
		bind_text(st, i, v->t == V_TEXT ? v->s : NULL);
}

static void bind_opt(sqlite3_stmt *st, int i, bool has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* step a statement that returns no row */
static int run(struct baseline *b, int i, const char *what, char *err,
	       size_t errlen)
{
	int rc = sqlite3_step(b->st[i]);

	done(b->st[i]);
	if (rc != SQLITE_DONE) {
		seterr(err, errlen, "%s: %s", what, sqlite3_errmsg(b->db));
		return -1;
	}
	return 0;
}

/*
 * Step a query for one row of up to two integers (a NULL reads as -1).
 * 1 a row, 0 none, -1 an error.
 */
static int query2(struct baseline *b, int i, int64_t *x, int64_t *y,
		  const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st = b->st[i];
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		if (x)
			*x = sqlite3_column_type(st, 0) == SQLITE_NULL
				     ? -1
				     : sqlite3_column_int64(st, 0);
		if (y)
			*y = sqlite3_column_int64(st, 1);
	}
	done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		seterr(err, errlen, "%s: %s", what, sqlite3_errmsg(b->db));
		return -1;
	}
	return rc == SQLITE_ROW;
}

/* the talker ?1 .. ?4 (and ?5: function, or port for a service) */
static void bind_talker(sqlite3_stmt *st, const char *sensor,
			const struct baseline_obs *o)
{
	bind_text(st, 1, sensor);
	bind_text(st, 2, o->src);
	bind_text(st, 3, o->dst);
	bind_text(st, 4, o->proto);
	if (o->what == W_SERVICE)
		bind_opt(st, 5, o->has_port, o->port);
	else
		bind_val(st, 5, &o->fn);
}

static void bind_row(sqlite3_stmt *st, const char *sensor,
		     const struct baseline_obs *o)
{
	static const char *const whats[] = {"op", "service", "mac"};

	bind_text(st, 1, sensor);
	bind_text(st, 2, whats[o->what]);
	bind_text(st, 3, o->key);
	bind_text(st, 4, o->src);
	bind_text(st, 5, o->dst);
	bind_opt(st, 6, o->has_port, o->port);
	bind_text(st, 7, o->proto);
	bind_text(st, 8, o->op);
	bind_val(st, 9, &o->fn);
	bind_text(st, 10, o->fname);
	bind_val(st, 11, &o->unit);
	bind_val(st, 12, &o->space);
	bind_opt(st, 13, o->has_addr, o->addr);
	bind_opt(st, 14, o->has_count, o->count);
	bind_text(st, 15, o->what == W_MAC ? o->mac : NULL);
	bind_text(st, 16, o->vendor);
	bind_text(st, 17, o->szone);
	bind_text(st, 18, o->dzone);
	bind_text(st, 19, o->first);
	bind_text(st, 20, o->ts);
	sqlite3_bind_int64(st, 21, o->what == W_MAC ? 1 : o->n);
	/* the learned write rate: only writes carry one */
	if (o->has_peak && o->op && !strcmp(o->op, "write"))
		sqlite3_bind_double(st, 22, o->peak);
	else
		sqlite3_bind_null(st, 22);
}

/* ---------------- alerts ---------------- */

/* the transport of an ICS protocol or a service ("tcp/445") */
static const char *transport_of(const char *proto, bool *ics)
{
	static const struct { const char *p, *t; } ics_tab[] = {
		{"modbus", "TCP"}, {"s7comm", "TCP"}, {"bacnet", "UDP"},
	};

	*ics = false;
	for (size_t i = 0; i < sizeof(ics_tab) / sizeof(ics_tab[0]); i++)
		if (!strcmp(proto, ics_tab[i].p)) {
			*ics = true;
			return ics_tab[i].t;
		}
	if (!strncmp(proto, "tcp", 3))
		return "TCP";
	if (!strncmp(proto, "udp", 3))
		return "UDP";
	if (!strncmp(proto, "icmp", 4))
		return "ICMP";
	return NULL;
}

static json_t *val_json(const struct val *v)
{
	return v->t == V_INT ? json_integer(v->i)
	       : v->t == V_TEXT ? json_string(v->s)
				: NULL;
}

struct sig {
	const char *name;
	int id, sev;
	const char *category, *cause;
};

/*
 * An EVE alert about the observation, as the sensor would have shaped it
 * (daemon/alert.c send_alert): the endpoints and zones, alert{} with the
 * reason in cause and what the baseline knew in metadata, and the
 * protocol's object.  extra goes into metadata (stolen).
 */
static int raise_alert(struct baseline *b, const char *sensor,
		       const struct baseline_obs *o, const struct sig *s,
		       json_t *extra, baseline_alert_fn *fn, void *arg,
		       char *err, size_t errlen)
{
	json_t *root = json_object(), *al = json_object(), *md = json_object();
	json_t *bl = json_object();
	static const char *const whats[] = {"op", "service", "mac"};
	bool ics = false;
	const char *tr = NULL;
	char *text;
	int rc;

	if (!root || !al || !md || !bl) {
		json_decref(root);
		json_decref(al);
		json_decref(md);
		json_decref(bl);
		json_decref(extra);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	json_object_set_new(root, "timestamp", json_string(o->ts));
	json_object_set_new(root, "event_type", json_string("alert"));
	if (o->what == W_MAC) {
		/* about one host: it is both ends (as alert_asset) */
		json_object_set_new(root, "src_ip", json_string(o->ip));
		json_object_set_new(root, "dest_ip", json_string(o->ip));
	} else {
		tr = transport_of(o->proto, &ics);
		json_object_set_new(root, "src_ip", json_string(o->src));
		json_object_set_new(root, "dest_ip", json_string(o->dst));
		if (o->has_port)
			json_object_set_new(root, "dest_port",
					    json_integer(o->port));
		if (tr)
			json_object_set_new(root, "proto", json_string(tr));
		if (ics)
			json_object_set_new(root, "app_proto",
					    json_string(o->proto));
	}
	json_object_set_new(root, "sensor", json_string(sensor));
	json_object_set_new(root, "src_zone",
			    o->szone ? json_string(o->szone) : json_null());
	json_object_set_new(root, "dest_zone",
			    o->what == W_MAC ? (o->zone ? json_string(o->zone)
							: json_null())
			    : o->dzone ? json_string(o->dzone)
				       : json_null());
	json_object_set_new(al, "action", json_string("allowed"));
	json_object_set_new(al, "gid", json_integer(1));
	json_object_set_new(al, "signature_id", json_integer(s->id));
	json_object_set_new(al, "rev", json_integer(1));
	json_object_set_new(al, "signature", json_string(s->name));
	json_object_set_new(al, "category", json_string(s->category));
	json_object_set_new(al, "severity", json_integer(s->sev));
	json_object_set_new(al, "cause", json_string(s->cause));
	json_object_set_new(bl, "what", json_string(whats[o->what]));
	if (o->what == W_MAC) {
		json_object_set_new(bl, "mac", json_string(o->mac));
		if (o->vendor)
			json_object_set_new(bl, "mac_vendor",
					    json_string(o->vendor));
	} else {
		if (o->fn.t != V_NONE)
			json_object_set_new(bl, "function", val_json(&o->fn));
		if (o->fname)
			json_object_set_new(bl, "function_name",
					    json_string(o->fname));
		if (o->unit.t != V_NONE)
			json_object_set_new(bl, "unit", val_json(&o->unit));
		if (o->space.t != V_NONE)
			json_object_set_new(bl, "space", val_json(&o->space));
		if (o->has_addr)
			json_object_set_new(bl, "addr", json_integer(o->addr));
		if (o->has_count)
			json_object_set_new(bl, "count",
					    json_integer(o->count));
		json_object_set_new(md, "op", json_pack("[s]", o->op));
		if (o->what == W_SERVICE)
			json_object_set_new(md, "service",
					    json_string(o->proto));
	}
	json_object_set_new(bl, "first_seen", json_string(o->first));
	json_object_set_new(md, "baseline", bl);
	if (extra)
		json_object_update(md, extra);
	json_decref(extra);
	json_object_set_new(al, "metadata", md);
	json_object_set_new(root, "alert", al);
	if (o->what == W_MAC) {
		json_t *as = json_pack("{s:s, s:s}", "ip", o->ip, "mac", o->mac);
		if (as && o->vendor)
			json_object_set_new(as, "mac_vendor",
					    json_string(o->vendor));
		if (as)
			json_object_set_new(root, "asset", as);
	} else if (ics) {
		json_t *p = json_object();
		if (p) {
			if (o->fn.t != V_NONE)
				json_object_set_new(p, "function",
						    val_json(&o->fn));
			if (o->fname)
				json_object_set_new(p, "function_name",
						    json_string(o->fname));
			json_object_set_new(p, "op", json_string(o->op));
			json_object_set_new(root, o->proto, p);
		}
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	rc = fn(arg, sensor, text, strlen(text), err, errlen);
	free(text);
	if (rc == 0)
		b->c.alerts++;
	return rc;
}

/* ---------------- learn, detect ---------------- */

static int matrix_add(struct baseline *b, const char *sensor,
		      const struct baseline_obs *o, char *err, size_t errlen)
{
	sqlite3_stmt *st = b->st[S_MATRIX];

	bind_text(st, 1, sensor);
	bind_text(st, 2, o->hour);
	bind_text(st, 3, o->szone ? o->szone : "");
	bind_text(st, 4, o->dzone ? o->dzone : "");
	bind_text(st, 5, o->proto);
	bind_text(st, 6, o->op);
	bind_text(st, 7, o->verdict);
	sqlite3_bind_int64(st, 8, o->n);
	sqlite3_bind_int(st, 9, o->first_report ? 1 : 0);
	return run(b, S_MATRIX, "adding to the zone matrix", err, errlen);
}

/* whether the sensor learned anything; logs "nothing" once per sensor */
static int has_baseline(struct baseline *b, const char *sensor, char *err,
			size_t errlen)
{
	int rc;

	bind_text(b->st[S_HAS_BASE], 1, sensor);
	rc = query2(b, S_HAS_BASE, NULL, NULL, "reading the baseline", err,
		    errlen);
	if (rc != 0)
		return rc;
	b->c.unlearned++;
	for (int i = 0; i < b->n_logged; i++)
		if (!strcmp(b->logged[i], sensor))
			return 0;
	if (b->n_logged < LOGGED_MAX)
		snprintf(b->logged[b->n_logged++], sizeof(b->logged[0]), "%s",
			 sensor);
	fprintf(stderr,
		"mimamori-store: sensor %s runs in detect mode but has no "
		"learned baseline: its observations are counted, none raises "
		"a baseline alert (run it with --learn first)\n",
		sensor);
	return 0;
}

static const struct sig sig_talker = {
	STORE_SIG_NEW_TALKER, SIG_ID_NEW_TALKER, 2, "Baseline Deviation",
	"two hosts that never talked in this protocol while the baseline was "
	"learned now do: a new client, a moved device, or an intruder "
	"reaching a device"};
static const struct sig sig_function = {
	STORE_SIG_NEW_FUNCTION, SIG_ID_NEW_FUNCTION, 3, "Baseline Deviation",
	"a known client uses a function on this device it never used while "
	"the baseline was learned: a changed program, an engineering task, "
	"or someone using the client for something else"};
static const struct sig sig_target = {
	STORE_SIG_NEW_TARGET, SIG_ID_NEW_TARGET, 3, "Baseline Deviation",
	"a known client and function touch addresses outside every range "
	"learned for them: a changed program, or someone probing or writing "
	"points the process never uses"};
static const struct sig sig_asset_new = {
	STORE_SIG_ASSET_NEW, SIG_ID_ASSET_NEW, 2, "Device Change",
	"a MAC address never seen before appeared in a control or engineering "
	"zone: a brought-in maintenance PC or a rogue device (持ち込み機器)"};

/* what the talker, then the function, then the target say; NULL: nothing */
static int deviation(struct baseline *b, const char *sensor,
		     const struct baseline_obs *o, const struct sig **out,
		     char *err, size_t errlen)
{
	int64_t all = 0, known = 0;
	int64_t to;

	*out = NULL;
	bind_talker(b->st[S_TALKER], sensor, o);
	if (query2(b, S_TALKER, &all, &known, "reading a talker", err,
		   errlen) < 0)
		return -1;
	if (all == 0) {
		*out = &sig_talker;
		return 0;
	}
	if (known == 0)
		return 0; /* a new talker, alerted once already */
	{
		int i = o->what == W_SERVICE ? S_PORT : S_FUNC;
		bind_talker(b->st[i], sensor, o);
		if (query2(b, i, &all, &known, "reading a function", err,
			   errlen) < 0)
			return -1;
	}
	if (all == 0) {
		*out = &sig_function;
		return 0;
	}
	if (known == 0 || o->what != W_OP)
		return 0;
	/* only a structured target can fall outside what was learned */
	if (!o->has_addr && o->unit.t == V_NONE && o->space.t == V_NONE)
		return 0;
	bind_talker(b->st[S_COVER], sensor, o);
	bind_val(b->st[S_COVER], 6, &o->unit);
	bind_val(b->st[S_COVER], 7, &o->space);
	sqlite3_bind_int64(b->st[S_COVER], 8, o->has_addr ? o->addr : 0);
	to = (o->has_addr ? o->addr : 0) +
	     (o->has_count && o->count > 0 ? o->count : 1);
	sqlite3_bind_int64(b->st[S_COVER], 9, to);
	switch (query2(b, S_COVER, NULL, NULL, "reading a range", err,
		       errlen)) {
	case -1:
		return -1;
	case 0:
		*out = &sig_target;
		break;
	}
	return 0;
}

static int severity_of(const struct sig *s, const struct baseline_obs *o)
{
	if (s == &sig_talker)
		return o->wpc ? 1 : 2;
	if (s == &sig_function)
		return o->wpc ? 2 : 3;
	if (s == &sig_target)
		return o->wpc ? 2 : 3;
	return s->sev;
}

/* the sensor's detector's signature for a write flood in proto */
static bool flood_sig(const char *proto, struct sig *s)
{
	/* daemon/detect.c: 2300001 + the detector's row */
	static const struct { const char *proto; struct sig s; } tab[] = {
		{"modbus", {"modbus.write_flood", 2300003, 2, NULL, NULL}},
		{"s7comm", {"s7comm.write_flood", 2300004, 2, NULL, NULL}},
		{"bacnet", {"bacnet.write_flood", 2300005, 2, NULL, NULL}},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(proto, tab[i].proto)) {
			*s = tab[i].s;
			s->category = "Attempted Denial of Service";
			s->cause = "writes far above the rate learned for this "
				   "client and function: hammering a set point "
				   "faster than the process loop can correct it";
			return true;
		}
	return false;
}

static int check_flood(struct baseline *b, const char *sensor,
		       const struct baseline_obs *rec, baseline_alert_fn *fn,
		       void *arg, char *err, size_t errlen)
{
	struct baseline_obs at;
	const struct baseline_obs *o = rec;
	sqlite3_stmt *st;
	struct sig s;
	double learned, limit;
	char lo[40], hi[40];
	int64_t id = 0;
	int rc;

	if (!o->has_peak || strcmp(o->op, "write") || !flood_sig(o->proto, &s))
		return 0;
	/* the alert and its episode speak of the burst: the peak second the
	 * sensor names, not the report's time (up to report_interval later) */
	if (rec->peak_at[0]) {
		at = *rec;
		memcpy(at.ts, rec->peak_at, sizeof(at.ts));
		at.sec = rec->peak_sec;
		at.usec = rec->peak_usec;
		o = &at;
	}
	st = b->st[S_PEAK];
	bind_talker(st, sensor, o);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		learned = sqlite3_column_double(st, 0);
	} else {
		done(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			seterr(err, errlen, "reading a learned rate: %s",
			       sqlite3_errmsg(b->db));
			return -1;
		}
		return 0; /* no learned rate: the sensor's own limit rules */
	}
	done(st);
	limit = b->factor * learned;
	if (limit < b->floor)
		limit = b->floor;
	if (!(o->peak > limit))
		return 0;
	/* once per episode: a standing flood alert grows instead */
	mm_format_ts(lo, sizeof(lo), o->sec - STORE_BASELINE_EPISODE_S, o->usec);
	mm_format_ts(hi, sizeof(hi), o->sec + STORE_BASELINE_EPISODE_S, o->usec);
	st = b->st[S_EPISODE];
	bind_text(st, 1, sensor);
	bind_text(st, 2, s.name);
	bind_text(st, 3, o->src);
	bind_text(st, 4, o->dst);
	bind_text(st, 5, lo);
	bind_text(st, 6, hi);
	rc = query2(b, S_EPISODE, &id, NULL, "reading a flood episode", err,
		    errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		st = b->st[S_EPISODE_ADD];
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, o->ts);
		b->c.flood_repeats++;
		return run(b, S_EPISODE_ADD, "counting a flood", err, errlen);
	}
	return raise_alert(b, sensor, o, &s,
			   json_pack("{s:s, s:f, s:f, s:f, s:f}", "basis",
				     "learned_rate", "learned_peak_per_s",
				     learned, "peak_per_s", o->peak, "factor",
				     b->factor, "floor", b->floor),
			   fn, arg, err, errlen);
}

static int detect(struct baseline *b, const char *sensor,
		  const struct baseline_obs *o, baseline_alert_fn *fn,
		  void *arg, char *err, size_t errlen)
{
	const struct sig *dev = NULL;
	struct sig s;
	int64_t id;
	int rc;

	rc = has_baseline(b, sensor, err, errlen);
	if (rc <= 0)
		return rc < 0 ? -1 : 1; /* stored: in the matrix */
	bind_text(b->st[S_EXACT], 1, sensor);
	bind_text(b->st[S_EXACT], 2, o->key);
	rc = query2(b, S_EXACT, &id, NULL, "reading the baseline", err,
		    errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		sqlite3_stmt *st = b->st[S_TOUCH];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, o->what == W_MAC ? 1 : o->n);
		bind_text(st, 3, o->ts);
		b->c.known++;
		if (run(b, S_TOUCH, "counting a known key", err, errlen))
			return -1;
	} else {
		if (o->what == W_MAC) {
			if (o->watch) {
				bind_text(b->st[S_MAC_ANY], 1, sensor);
				bind_text(b->st[S_MAC_ANY], 2, o->mac);
				rc = query2(b, S_MAC_ANY, NULL, NULL,
					    "reading a MAC", err, errlen);
				if (rc < 0)
					return -1;
				if (rc == 0)
					dev = &sig_asset_new;
			}
		} else if (deviation(b, sensor, o, &dev, err, errlen)) {
			return -1;
		}
		if (dev) {
			s = *dev;
			s.sev = severity_of(dev, o);
			if (raise_alert(b, sensor, o, &s, NULL, fn, arg, err,
					errlen))
				return -1;
		}
		/* kept as 'new': the same key never alerts again */
		bind_row(b->st[S_NEW], sensor, o);
		b->c.new_rows++;
		if (run(b, S_NEW, "keeping a new key", err, errlen))
			return -1;
	}
	if (o->what == W_OP && check_flood(b, sensor, o, fn, arg, err, errlen))
		return -1;
	return 1;
}

int baseline_put(struct baseline *b, const char *sensor,
		 const struct baseline_obs *o, baseline_alert_fn *fn,
		 void *arg, char *err, size_t errlen)
{
	b->c.obs++;
	if (o->what != W_MAC && matrix_add(b, sensor, o, err, errlen))
		return -1;
	if (!o->learn)
		return detect(b, sensor, o, fn, arg, err, errlen);
	b->c.learned++;
	bind_row(b->st[S_LEARN], sensor, o);
	if (run(b, S_LEARN, "learning a key", err, errlen))
		return -1;
	return 1;
}

/* ---------------- approve, prune (the CLI's) ---------------- */

/* the ids as a JSON array for json_each: one statement, any number */
static char *ids_json(const struct baseline_sel *s)
{
	size_t cap = 2 + s->n_ids * 21, n = 0;
	char *j = malloc(cap);

	if (!j)
		return NULL;
	j[n++] = '[';
	for (size_t i = 0; i < s->n_ids; i++)
		n += (size_t)snprintf(j + n, cap - n, "%s%lld", i ? "," : "",
				      (long long)s->ids[i]);
	snprintf(j + n, cap - n, "]");
	return j;
}

static long change(sqlite3 *db, const char *sql, const struct baseline_sel *s,
		   char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *ids = s->n_ids ? ids_json(s) : NULL;
	long n = -1;
	int i;

	if (s->n_ids && !ids) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		seterr(err, errlen, "cannot write to the store: %s",
		       sqlite3_errmsg(db));
		free(ids);
		return -1;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "%s (a store of schema 4?)",
		       sqlite3_errmsg(db));
		goto out;
	}
	if ((i = sqlite3_bind_parameter_index(st, ":sensor")))
		bind_text(st, i, s->sensor);
	if ((i = sqlite3_bind_parameter_index(st, ":ids")))
		bind_text(st, i, ids);
	if ((i = sqlite3_bind_parameter_index(st, ":src")))
		bind_text(st, i, s->src);
	if ((i = sqlite3_bind_parameter_index(st, ":dest")))
		bind_text(st, i, s->dest);
	if ((i = sqlite3_bind_parameter_index(st, ":status")))
		bind_text(st, i, s->status);
	if ((i = sqlite3_bind_parameter_index(st, ":before")))
		bind_text(st, i, s->before);
	if (sqlite3_step(st) != SQLITE_DONE) {
		seterr(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	n = sqlite3_changes(db);
out:
	sqlite3_finalize(st);
	if (n >= 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		seterr(err, errlen, "commit: %s", sqlite3_errmsg(db));
		n = -1;
	}
	if (n < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	free(ids);
	return n;
}

#define SENSOR_SEL " AND (:sensor IS NULL OR sensor = :sensor)"
#define IDS_SEL " id IN (SELECT value FROM json_each(:ids))"

long baseline_approve(sqlite3 *db, const struct baseline_sel *s, char *err,
		      size_t errlen)
{
	int n = (s->all ? 1 : 0) + (s->n_ids ? 1 : 0) + (s->src ? 1 : 0);

	if (n != 1 || (s->dest && !s->src)) {
		seterr(err, errlen, "approve: one of --all, --id N or --src "
		       "IP [--dest IP]");
		return -1;
	}
	return change(db,
		      s->all ? "UPDATE baseline SET status = 'approved'"
			       " WHERE status = 'new'" SENSOR_SEL
		      : s->n_ids
			      ? "UPDATE baseline SET status = 'approved'"
				" WHERE status = 'new'" SENSOR_SEL " AND" IDS_SEL
			      : "UPDATE baseline SET status = 'approved'"
				" WHERE status = 'new'" SENSOR_SEL
				" AND src_ip = :src AND (:dest IS NULL OR"
				" dest_ip = :dest)",
		      s, err, errlen);
}

long baseline_prune(sqlite3 *db, const struct baseline_sel *s, char *err,
		    size_t errlen)
{
	int n = (s->before ? 1 : 0) + (s->n_ids ? 1 : 0) + (s->status ? 1 : 0);

	if (n != 1) {
		seterr(err, errlen, "prune: one of --before T, --status S or "
		       "--id N");
		return -1;
	}
	return change(db,
		      s->before ? "DELETE FROM baseline WHERE last_ts < :before"
				  SENSOR_SEL
		      : s->status ? "DELETE FROM baseline WHERE status = :status"
				    SENSOR_SEL
				  : "DELETE FROM baseline WHERE" IDS_SEL
				    SENSOR_SEL,
		      s, err, errlen);
}
