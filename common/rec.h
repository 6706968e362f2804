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

struct mm_rec;

struct mm_rec *rec_new(void);
void rec_free(struct mm_rec *r);

/* start a fresh top-level object; discards anything unfinished */
void rec_begin(struct mm_rec *r);
/* close the top-level object; returns the text (valid until the next begin) */
const char *rec_finish(struct mm_rec *r, size_t *len);

void rec_str(struct mm_rec *r, const char *k, const char *v);
/* n bytes that may hold anything: non-printable bytes are escaped */
void rec_strn(struct mm_rec *r, const char *k, const uint8_t *v, size_t n);
void rec_int(struct mm_rec *r, const char *k, long long v);
void rec_uint(struct mm_rec *r, const char *k, unsigned long long v);
void rec_bool(struct mm_rec *r, const char *k, bool v);
void rec_double(struct mm_rec *r, const char *k, double v);
void rec_null(struct mm_rec *r, const char *k);
/* bytes as lower-case hex text */
void rec_hex(struct mm_rec *r, const char *k, const uint8_t *p, size_t n);
/* an array of n big-endian 16-bit numbers from p[0..2n) (register dumps:
 * one call instead of one rec_uint per value) */
void rec_be16_array(struct mm_rec *r, const char *k, const uint8_t *p,
		    size_t n);
/* an already-formatted JSON value (object, array, number) spliced in */
void rec_raw(struct mm_rec *r, const char *k, const char *json, size_t n);

void rec_obj_begin(struct mm_rec *r, const char *k);
void rec_obj_end(struct mm_rec *r);
void rec_arr_begin(struct mm_rec *r, const char *k);
void rec_arr_end(struct mm_rec *r);

/* ISO 8601 UTC with microseconds: 2026-11-26T12:04:03.123456Z (buf >= 32) */
void mm_format_ts(char *buf, size_t len, int64_t sec, int64_t usec);
/* the same time stamp as a string member, written in place */
void rec_ts(struct mm_rec *r, const char *k, int64_t sec, int64_t usec);

#endif /* MM_REC_H */
