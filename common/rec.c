/*
 * rec.c - streaming JSON records on top of libyajl's generator.
 */
#include "rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>

struct mm_rec {
	yajl_gen g;
	uint8_t *scratch; /* for sanitised strings */
	size_t scratch_len;
};

struct mm_rec *rec_new(void)
{
	struct mm_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->g = yajl_gen_alloc(NULL);
	if (!r->g) {
		free(r);
		return NULL;
	}
	return r;
}

void rec_free(struct mm_rec *r)
{
	if (!r)
		return;
	yajl_gen_free(r->g);
	free(r->scratch);
	free(r);
}

void rec_begin(struct mm_rec *r)
{
	yajl_gen_clear(r->g);
	yajl_gen_reset(r->g, NULL);
	yajl_gen_map_open(r->g);
}

const char *rec_finish(struct mm_rec *r, size_t *len)
{
	const unsigned char *buf = NULL;
	size_t n = 0;

	yajl_gen_map_close(r->g);
	if (yajl_gen_get_buf(r->g, &buf, &n) != yajl_gen_status_ok) {
		buf = (const unsigned char *)"{}";
		n = 2;
	}
	if (len)
		*len = n;
	return (const char *)buf;
}

static void key(struct mm_rec *r, const char *k)
{
	if (k)
		yajl_gen_string(r->g, (const unsigned char *)k, strlen(k));
}

void rec_str(struct mm_rec *r, const char *k, const char *v)
{
	key(r, k);
	if (v)
		yajl_gen_string(r->g, (const unsigned char *)v, strlen(v));
	else
		yajl_gen_null(r->g);
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
	size_t need = n * 2, o = 0;

	key(r, k);
	if (need > r->scratch_len) {
		uint8_t *s = realloc(r->scratch, need);
		if (!s) {
			yajl_gen_null(r->g);
			return;
		}
		r->scratch = s;
		r->scratch_len = need;
	}
	/*
	 * Valid UTF-8 (a Japanese device name) passes as it is; a byte that
	 * is not part of a valid sequence is written as the code point of the
	 * same value (U+0080..U+00FF), so the line stays valid UTF-8 and the
	 * byte can still be read back.  Control bytes are escaped by yajl.
	 */
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(v + i, n - i);
		if (l == 0) {
			r->scratch[o++] = (uint8_t)(0xc0 | (v[i] >> 6));
			r->scratch[o++] = (uint8_t)(0x80 | (v[i] & 0x3f));
			i++;
		} else {
			memcpy(r->scratch + o, v + i, l);
			o += l;
			i += l;
		}
	}
	yajl_gen_string(r->g, r->scratch, o);
}

/* decimal text of v into the end of buf[24]; returns where it starts.
 * yajl formats integers with snprintf, which costs more than the rest of
 * a log record: numbers are written here and spliced in verbatim */
static char *utoa_tail(char buf[24], unsigned long long v)
{
	char *p = buf + 24;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
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
	yajl_gen_number(r->g, p, (size_t)(buf + 24 - p));
}

void rec_uint(struct mm_rec *r, const char *k, unsigned long long v)
{
	char buf[24];
	char *p = utoa_tail(buf, v);

	key(r, k);
	yajl_gen_number(r->g, p, (size_t)(buf + 24 - p));
}

void rec_bool(struct mm_rec *r, const char *k, bool v)
{
	key(r, k);
	yajl_gen_bool(r->g, v);
}

void rec_double(struct mm_rec *r, const char *k, double v)
{
	key(r, k);
	if (yajl_gen_double(r->g, v) != yajl_gen_status_ok)
		yajl_gen_null(r->g);
}

void rec_null(struct mm_rec *r, const char *k)
{
	key(r, k);
	yajl_gen_null(r->g);
}

void rec_hex(struct mm_rec *r, const char *k, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t need = n * 2 + 1;

	key(r, k);
	if (need > r->scratch_len) {
		uint8_t *s = realloc(r->scratch, need);
		if (!s) {
			yajl_gen_null(r->g);
			return;
		}
		r->scratch = s;
		r->scratch_len = need;
	}
	for (size_t i = 0; i < n; i++) {
		r->scratch[2 * i] = (uint8_t)digits[p[i] >> 4];
		r->scratch[2 * i + 1] = (uint8_t)digits[p[i] & 15];
	}
	yajl_gen_string(r->g, r->scratch, n * 2);
}

void rec_raw(struct mm_rec *r, const char *k, const char *json, size_t n)
{
	key(r, k);
	/* yajl_gen_number writes its text verbatim: used to splice JSON the
	 * caller already holds (a value it produced itself) */
	yajl_gen_number(r->g, json, n);
}

void rec_obj_begin(struct mm_rec *r, const char *k)
{
	key(r, k);
	yajl_gen_map_open(r->g);
}

void rec_obj_end(struct mm_rec *r)
{
	yajl_gen_map_close(r->g);
}

void rec_arr_begin(struct mm_rec *r, const char *k)
{
	key(r, k);
	yajl_gen_array_open(r->g);
}

void rec_arr_end(struct mm_rec *r)
{
	yajl_gen_array_close(r->g);
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
