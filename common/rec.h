/*
 * rec.h - one JSON record (a transaction-log line, an alert), written as a
 * stream into one buffer: no tree, no allocation per field, which matters
 * on the packet path (rec.c says why this is not libyajl's generator).
 * Keys are plain C strings.  rec_str takes valid UTF-8 (our own texts);
 * rec_strn takes any bytes from the wire: valid UTF-8 passes, a byte that
 * is not is written as the code point of the same value (U+0080..U+00FF),
 * so a device that answers with garbage never yields an invalid JSON line.
 * Control characters are escaped (RFC 8259 section 7).
 *
 * Inside an array, pass key = NULL.  An out-of-memory record becomes {}.
 */
#ifndef MM_REC_H
#define MM_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mm_rec;

struct mm_rec *rec_new(void);
void rec_free(struct mm_rec *r);

/* start a fresh top-level object; discards anything unfinished */
void rec_begin(struct mm_rec *r);
/* close the top-level object; returns the text (valid until the next begin) */
const char *rec_finish(struct mm_rec *r, size_t *len);

/*
 * The members.  Each call passes the key's length on to a _k function: for
 * a literal key (nearly every one) the compiler folds the strlen, which was
 * a library call per member.  Call the short names; the _k ones are theirs.
 */
static inline size_t rec_key_len(const char *k)
{
	return k ? strlen(k) : 0;
}

void rec_str_k(struct mm_rec *r, const char *k, size_t kn, const char *v);
void rec_strn_k(struct mm_rec *r, const char *k, size_t kn, const uint8_t *v,
		size_t n);
void rec_int_k(struct mm_rec *r, const char *k, size_t kn, long long v);
void rec_uint_k(struct mm_rec *r, const char *k, size_t kn,
		unsigned long long v);
void rec_bool_k(struct mm_rec *r, const char *k, size_t kn, bool v);
void rec_double_k(struct mm_rec *r, const char *k, size_t kn, double v);
void rec_null_k(struct mm_rec *r, const char *k, size_t kn);
void rec_hex_k(struct mm_rec *r, const char *k, size_t kn, const uint8_t *p,
	       size_t n);
void rec_be16_array_k(struct mm_rec *r, const char *k, size_t kn,
		      const uint8_t *p, size_t n);
void rec_raw_k(struct mm_rec *r, const char *k, size_t kn, const char *json,
	       size_t n);
void rec_obj_begin_k(struct mm_rec *r, const char *k, size_t kn);
void rec_arr_begin_k(struct mm_rec *r, const char *k, size_t kn);
void rec_ts_k(struct mm_rec *r, const char *k, size_t kn, int64_t sec,
	      int64_t usec);

static inline void rec_str(struct mm_rec *r, const char *k, const char *v)
{
	rec_str_k(r, k, rec_key_len(k), v);
}

/* n bytes that may hold anything: non-printable bytes are escaped */
static inline void rec_strn(struct mm_rec *r, const char *k,
			    const uint8_t *v, size_t n)
{
	rec_strn_k(r, k, rec_key_len(k), v, n);
}

static inline void rec_int(struct mm_rec *r, const char *k, long long v)
{
	rec_int_k(r, k, rec_key_len(k), v);
}

static inline void rec_uint(struct mm_rec *r, const char *k,
			    unsigned long long v)
{
	rec_uint_k(r, k, rec_key_len(k), v);
}

static inline void rec_bool(struct mm_rec *r, const char *k, bool v)
{
	rec_bool_k(r, k, rec_key_len(k), v);
}

static inline void rec_double(struct mm_rec *r, const char *k, double v)
{
	rec_double_k(r, k, rec_key_len(k), v);
}

static inline void rec_null(struct mm_rec *r, const char *k)
{
	rec_null_k(r, k, rec_key_len(k));
}

/* bytes as lower-case hex text */
static inline void rec_hex(struct mm_rec *r, const char *k, const uint8_t *p,
			   size_t n)
{
	rec_hex_k(r, k, rec_key_len(k), p, n);
}

/* an array of n big-endian 16-bit numbers from p[0..2n) (register dumps:
 * one call instead of one rec_uint per value) */
static inline void rec_be16_array(struct mm_rec *r, const char *k,
				  const uint8_t *p, size_t n)
{
	rec_be16_array_k(r, k, rec_key_len(k), p, n);
}

/* an already-formatted JSON value (object, array, number) spliced in */
static inline void rec_raw(struct mm_rec *r, const char *k, const char *json,
			   size_t n)
{
	rec_raw_k(r, k, rec_key_len(k), json, n);
}

static inline void rec_obj_begin(struct mm_rec *r, const char *k)
{
	rec_obj_begin_k(r, k, rec_key_len(k));
}

void rec_obj_end(struct mm_rec *r);

static inline void rec_arr_begin(struct mm_rec *r, const char *k)
{
	rec_arr_begin_k(r, k, rec_key_len(k));
}

void rec_arr_end(struct mm_rec *r);

/* ISO 8601 UTC with microseconds: 2026-11-26T12:04:03.123456Z (buf >= 32) */
void mm_format_ts(char *buf, size_t len, int64_t sec, int64_t usec);
/* the same time stamp as a string member, written in place */
static inline void rec_ts(struct mm_rec *r, const char *k, int64_t sec,
			  int64_t usec)
{
	rec_ts_k(r, k, rec_key_len(k), sec, usec);
}

#endif /* MM_REC_H */
