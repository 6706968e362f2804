/*
 * rd.h - bounded reader over packet bytes.
 *
 * Every read of wire data goes through a struct rd.  A read past the end
 * returns 0 and sets a sticky error flag instead of touching memory, so a
 * parser can read a whole header and check `r->err` once (the tcpdump
 * GET_BE_U_2 idea, without longjmp, which must never unwind libnids).
 *
 * Lengths are compared as `n > rd_left(r)`, never `p + n > end`: pointer
 * arithmetic past the end of an object is undefined and compilers may
 * delete such checks.
 */
#ifndef MM_RD_H
#define MM_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd {
	const uint8_t *p;   /* next byte to read */
	const uint8_t *end; /* one past the last readable byte */
	bool err;           /* set by the first short read; never cleared */
};

static inline struct rd rd_make(const uint8_t *p, size_t n)
{
	struct rd r = { p, p + n, false };
	return r;
}

static inline size_t rd_left(const struct rd *r)
{
	return r->err ? 0 : (size_t)(r->end - r->p);
}

/* true when at least n bytes remain; sets err otherwise */
static inline bool rd_need(struct rd *r, size_t n)
{
	if (r->err || n > (size_t)(r->end - r->p)) {
		r->err = true;
		return false;
	}
	return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return *r->p++;
}

static inline uint16_t rd_be16(struct rd *r)
{
	if (!rd_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)((r->p[0] << 8) | r->p[1]);
	r->p += 2;
	return v;
}

static inline uint32_t rd_be24(struct rd *r)
{
	if (!rd_need(r, 3))
		return 0;
	uint32_t v = ((uint32_t)r->p[0] << 16) | ((uint32_t)r->p[1] << 8) | r->p[2];
	r->p += 3;
	return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
	if (!rd_need(r, 4))
		return 0;
	uint32_t v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) |
		     ((uint32_t)r->p[2] << 8) | r->p[3];
	r->p += 4;
	return v;
}

static inline uint16_t rd_le16(struct rd *r)
{
	if (!rd_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[0] | (r->p[1] << 8));
	r->p += 2;
	return v;
}

static inline uint32_t rd_le32(struct rd *r)
{
	if (!rd_need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->p[0] | ((uint32_t)r->p[1] << 8) |
		     ((uint32_t)r->p[2] << 16) | ((uint32_t)r->p[3] << 24);
	r->p += 4;
	return v;
}

static inline bool rd_skip(struct rd *r, size_t n)
{
	if (!rd_need(r, n))
		return false;
	r->p += n;
	return true;
}

/* copy n bytes out; on a short read, out is zeroed and err set */
static inline bool rd_copy(struct rd *r, void *out, size_t n)
{
	if (!rd_need(r, n)) {
		for (size_t i = 0; i < n; i++)
			((uint8_t *)out)[i] = 0;
		return false;
	}
	for (size_t i = 0; i < n; i++)
		((uint8_t *)out)[i] = r->p[i];
	r->p += n;
	return true;
}

/* a bounded slice of the next n bytes; the parent moves past them */
static inline bool rd_sub(struct rd *r, size_t n, struct rd *out)
{
	if (!rd_need(r, n)) {
		*out = rd_make(r->p, 0);
		out->err = true;
		return false;
	}
	*out = rd_make(r->p, n);
	r->p += n;
	return true;
}

/* peek at byte i ahead without consuming; 0 and err when short */
static inline uint8_t rd_peek(struct rd *r, size_t i)
{
	/* i >= left, not rd_need(i + 1): i + 1 wraps for i = SIZE_MAX */
	if (r->err || i >= (size_t)(r->end - r->p)) {
		r->err = true;
		return 0;
	}
	return r->p[i];
}

static inline const uint8_t *rd_ptr(const struct rd *r)
{
	return r->p;
}

#endif /* MM_RD_H */
