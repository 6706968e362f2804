/*
 * rec.c - streaming JSON records.
 *
 * A record is written straight into one growing buffer: a separator state
 * per nesting level, RFC 8259 string escaping with a table-driven fast
 * path that copies runs of plain bytes at once, and numbers converted
 * without snprintf.  This writer replaced libyajl's generator, which cost
 * about 700 instructions per string value (17,000 per Modbus log record,
 * eight times the whole sensor's work per packet, measured with callgrind):
 * the transaction logs could not keep up with a span port.  Parsing JSON
 * is left to jansson (store, command line); the tests parse everything
 * this writer produces with jansson to check it.
 */
#include "rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REC_DEPTH 32

struct mm_rec {
	char *buf;
	size_t used, cap;
	int depth;                /* 0 = inside the top-level object */
	bool first[REC_DEPTH];    /* no member written yet at this level */
	bool array[REC_DEPTH];    /* this level is an array */
	bool failed;              /* out of memory: the record is dropped */
};

struct mm_rec *rec_new(void)
{
	struct mm_rec *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cap = 4096;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	return r;
}

void rec_free(struct mm_rec *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* the slow half of reserve(): grow the buffer */
static __attribute__((noinline)) bool grow(struct mm_rec *r, size_t n)
{
	size_t cap = r->cap;
	char *b;

	if (r->failed)
		return false;
	while (cap < r->used + n + 1)
		cap *= 2;
	b = realloc(r->buf, cap);
	if (!b) {
		r->failed = true;
		return false;
	}
	r->buf = b;
	r->cap = cap;
	return true;
}

/* room for n more bytes (and a NUL); false when memory ran out */
static inline bool reserve(struct mm_rec *r, size_t n)
{
	return r->used + n + 1 <= r->cap || grow(r, n);
}

static inline void put(struct mm_rec *r, const char *p, size_t n)
{
	if (reserve(r, n)) {
		memcpy(r->buf + r->used, p, n);
		r->used += n;
	}
}

static inline void put_c(struct mm_rec *r, char c)
{
	if (reserve(r, 1))
		r->buf[r->used++] = c;
}

void rec_begin(struct mm_rec *r)
{
	r->used = 0;
	r->depth = 0;
	r->first[0] = true;
	r->failed = false;
	put_c(r, '{');
}

const char *rec_finish(struct mm_rec *r, size_t *len)
{
	/* close whatever a caller left open, then the record itself */
	while (r->depth > 0)
		put_c(r, r->array[r->depth--] ? ']' : '}');
	put_c(r, '}');
	if (r->failed) {
		r->used = 0;
		r->failed = false;
		put(r, "{}", 2);
	}
	r->buf[r->used] = 0;
	if (len)
		*len = r->used;
	return r->buf;
}

/*
 * Bytes that cannot stand in a JSON string as they are (RFC 8259 section 7):
 * the escape to write, 'u' for \u00XX, 0 for a plain byte.
 */
static const char esc_table[256] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
	[0] = 'u', [1] = 'u', [2] = 'u', [3] = 'u', [4] = 'u', [5] = 'u',
	[6] = 'u', [7] = 'u', [11] = 'u', [14] = 'u', [15] = 'u', [16] = 'u',
	[17] = 'u', [18] = 'u', [19] = 'u', [20] = 'u', [21] = 'u', [22] = 'u',
	[23] = 'u', [24] = 'u', [25] = 'u', [26] = 'u', [27] = 'u', [28] = 'u',
	[29] = 'u', [30] = 'u', [31] = 'u', [0x7f] = 'u',
	['"'] = '"', ['\\'] = '\\',
};

/* escaped string contents (no quotes); the bytes must be valid UTF-8 */
static void put_escaped(struct mm_rec *r, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o;

	/* the worst case, once: every byte becomes \u00XX */
	if (!reserve(r, n * 6))
		return;
	o = r->buf + r->used;
	for (size_t i = 0; i < n; i++) {
		/* eight plain bytes at a time: no control byte, quote,
		 * backslash or DEL among them (the "has a byte less than n"
		 * and "has a zero byte" word tests, exact as to whether there
		 * is one) */
		while (n - i >= 8) {
			const uint64_t ones = 0x0101010101010101ull;
			const uint64_t high = 0x8080808080808080ull;
			uint64_t w, q, b, d;
			memcpy(&w, s + i, 8);
			q = w ^ (ones * '"');
			b = w ^ (ones * '\\');
			d = w ^ (ones * 0x7f);
			if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
			     ((b - ones) & ~b) | ((d - ones) & ~d)) & high)
				break; /* byte by byte up to the next clean word */
			memcpy(o, s + i, 8);
			o += 8;
			i += 8;
		}
		if (i >= n)
			break;
		char e = esc_table[s[i]];
		if (!e) {
			*o++ = (char)s[i];
		} else if (e == 'u') {
			*o++ = '\\';
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[s[i] >> 4];
			*o++ = hex[s[i] & 15];
		} else {
			*o++ = '\\';
			*o++ = e;
		}
	}
	r->used = (size_t)(o - r->buf);
}

static void put_string(struct mm_rec *r, const uint8_t *s, size_t n)
{
	put_c(r, '"');
	put_escaped(r, s, n);
	put_c(r, '"');
}

/*
 * The separator before a member, and its key inside an object.  Keys are
 * the program's own literals ("tid", "src_ip"): they never need escaping,
 * so they are copied as they are.
 */
static inline void key(struct mm_rec *r, const char *k)
{
	size_t n = k ? strlen(k) : 0;
	char *o;

	if (!reserve(r, n + 4))
		return;
	o = r->buf + r->used;
	if (!r->first[r->depth])
		*o++ = ',';
	r->first[r->depth] = false;
	if (k) {
		*o++ = '"';
		memcpy(o, k, n);
		o += n;
		*o++ = '"';
		*o++ = ':';
	}
	r->used = (size_t)(o - r->buf);
}

void rec_str(struct mm_rec *r, const char *k, const char *v)
{
	key(r, k);
	if (v)
		put_string(r, (const uint8_t *)v, strlen(v));
	else
		put(r, "null", 4);
}

/* length of the valid UTF-8 sequence at p (1-4), or 0 when invalid */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are invalid */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void rec_strn(struct mm_rec *r, const char *k, const uint8_t *v, size_t n)
{
	size_t i = 0;

	key(r, k);
	/*
	 * Valid UTF-8 (a Japanese device name) passes as it is; a byte that
	 * is not part of a valid sequence is written as the code point of the
	 * same value (U+0080..U+00FF), so the line stays valid UTF-8 and the
	 * byte can still be read back.
	 */
	put_c(r, '"');
	while (i < n) {
		size_t start = i, l;
		while (i < n && (l = utf8_seq(v + i, n - i)) != 0)
			i += l;
		put_escaped(r, v + start, i - start);
		if (i < n) {
			char b[2] = { (char)(0xc0 | (v[i] >> 6)), (char)(0x80 | (v[i] & 0x3f)) };
			put(r, b, 2);
			i++;
		}
	}
	put_c(r, '"');
}

/* decimal text of v into the end of buf[24]; returns where it starts.
 * Two digits per division: register dumps are mostly numbers. */
static char *utoa_tail(char buf[24], unsigned long long v)
{
	static const char pairs[201] =
		"00010203040506070809101112131415161718192021222324"
		"25262728293031323334353637383940414243444546474849"
		"50515253545556575859606162636465666768697071727374"
		"75767778798081828384858687888990919293949596979899";
	char *p = buf + 24;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = pairs[d + 1];
		*--p = pairs[d];
	}
	if (v >= 10) {
		unsigned d = (unsigned)v * 2;
		*--p = pairs[d + 1];
		*--p = pairs[d];
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

void rec_int(struct mm_rec *r, const char *k, long long v)
{
	char buf[24];
	char *p = utoa_tail(buf, v < 0 ? 0ULL - (unsigned long long)v
				       : (unsigned long long)v);

	if (v < 0)
		*--p = '-';
	key(r, k);
	put(r, p, (size_t)(buf + 24 - p));
}

void rec_uint(struct mm_rec *r, const char *k, unsigned long long v)
{
	char buf[24];
	char *p = utoa_tail(buf, v);

	key(r, k);
	put(r, p, (size_t)(buf + 24 - p));
}

void rec_bool(struct mm_rec *r, const char *k, bool v)
{
	key(r, k);
	if (v)
		put(r, "true", 4);
	else
		put(r, "false", 5);
}

void rec_double(struct mm_rec *r, const char *k, double v)
{
	char buf[32];
	int n;

	key(r, k);
	/* JSON has no NaN or infinity */
	if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
		put(r, "null", 4);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.17g", v);
	put(r, buf, (size_t)n);
}

void rec_null(struct mm_rec *r, const char *k)
{
	key(r, k);
	put(r, "null", 4);
}

void rec_hex(struct mm_rec *r, const char *k, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	key(r, k);
	put_c(r, '"');
	if (reserve(r, n * 2)) {
		for (size_t i = 0; i < n; i++) {
			r->buf[r->used++] = digits[p[i] >> 4];
			r->buf[r->used++] = digits[p[i] & 15];
		}
	}
	put_c(r, '"');
}

void rec_be16_array(struct mm_rec *r, const char *k, const uint8_t *p,
		    size_t n)
{
	char *o;

	key(r, k);
	/* at most "65535," per value, and the brackets */
	if (!reserve(r, n * 6 + 2))
		return;
	o = r->buf + r->used;
	*o++ = '[';
	for (size_t i = 0; i < n; i++) {
		char buf[24];
		char *d = utoa_tail(buf, (unsigned)p[2 * i] << 8 | p[2 * i + 1]);
		size_t len = (size_t)(buf + 24 - d);
		if (i)
			*o++ = ',';
		memcpy(o, d, len);
		o += len;
	}
	*o++ = ']';
	r->used = (size_t)(o - r->buf);
}

void rec_raw(struct mm_rec *r, const char *k, const char *json, size_t n)
{
	key(r, k);
	put(r, json, n);
}

static void open_level(struct mm_rec *r, const char *k, char c, bool array)
{
	key(r, k);
	put_c(r, c);
	if (r->depth + 1 >= REC_DEPTH) {
		r->failed = true; /* deeper than any record we write */
		return;
	}
	r->depth++;
	r->first[r->depth] = true;
	r->array[r->depth] = array;
}

static void close_level(struct mm_rec *r, char c)
{
	if (r->depth > 0)
		r->depth--;
	put_c(r, c);
}

void rec_obj_begin(struct mm_rec *r, const char *k)
{
	open_level(r, k, '{', false);
}

void rec_obj_end(struct mm_rec *r)
{
	close_level(r, '}');
}

void rec_arr_begin(struct mm_rec *r, const char *k)
{
	open_level(r, k, '[', true);
}

void rec_arr_end(struct mm_rec *r)
{
	close_level(r, ']');
}

void mm_format_ts(char *buf, size_t len, int64_t sec, int64_t usec)
{
	/* the date and time change once a second, records far more often:
	 * keep the formatted second (per thread: the store has its own) */
	static _Thread_local int64_t cached_sec = -1;
	static _Thread_local char cached[64]; /* 2026-11-26T12:04:03 */
	struct tm tm;
	time_t t = (time_t)sec;

	if (len < 28) {
		if (len)
			buf[0] = 0;
		return;
	}
	if (sec != cached_sec) {
		if (!gmtime_r(&t, &tm))
			memset(&tm, 0, sizeof(tm));
		snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d",
			 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_sec = sec;
	}
	memcpy(buf, cached, 19);
	buf[19] = '.';
	if (usec < 0 || usec > 999999)
		usec = 0;
	for (int i = 25; i >= 20; i--) {
		buf[i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	buf[26] = 'Z';
	buf[27] = 0;
}
