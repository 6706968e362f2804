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
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* n bytes of a key: most are 2 to 16 bytes long, copied as two
 * overlapping words rather than by a library call */
static inline void copy_key(char *o, const char *k, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t a, z;
		memcpy(&a, k, 8);
		memcpy(&z, k + n - 8, 8);
		memcpy(o, &a, 8);
		memcpy(o + n - 8, &z, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, z;
		memcpy(&a, k, 4);
		memcpy(&z, k + n - 4, 4);
		memcpy(o, &a, 4);
		memcpy(o + n - 4, &z, 4);
	} else if (n > 0 && n < 4) {
		o[0] = k[0];
		o[n / 2] = k[n / 2];
		o[n - 1] = k[n - 1];
	} else {
		memcpy(o, k, n);
	}
}

/*
 * The separator before a member, and its key k[0..n) inside an object, with
 * room for `extra` more bytes after it; returns where the value goes, NULL
 * when memory ran out.  Keys are the program's own literals ("tid",
 * "src_ip"): they never need escaping, so they are copied as they are.
 */
static inline char *member(struct mm_rec *r, const char *k, size_t n,
			   size_t extra)
{
	char *o;

	if (!reserve(r, n + 4 + extra))
		return NULL;
	o = r->buf + r->used;
	if (!r->first[r->depth])
		*o++ = ',';
	r->first[r->depth] = false;
	if (k) {
		*o++ = '"';
		copy_key(o, k, n);
		o += n;
		*o++ = '"';
		*o++ = ':';
	}
	return o;
}

/* the end of what member() began */
static inline void done(struct mm_rec *r, char *o)
{
	r->used = (size_t)(o - r->buf);
}

static inline void key(struct mm_rec *r, const char *k, size_t kn)
{
	char *o = member(r, k, kn, 0);

	if (o)
		done(r, o);
}

/*
 * Whether a word holds a byte that needs escaping: a control byte, quote,
 * backslash or DEL (the "has a byte less than n" and "has a zero byte"
 * word tests, exact as to whether there is one).
 */
static inline uint64_t dirty8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t high = 0x8080808080808080ull;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\'),
		 d = w ^ (ones * 0x7f);

	return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
		((b - ones) & ~b) | ((d - ones) & ~d)) & high;
}

#ifdef __SSE2__
/* the bytes among 16 that need escaping, one bit each */
static inline unsigned dirty16(__m128i x)
{
	/* unsigned x <= 0x1f: a control byte (bytes >= 0x80 are UTF-8) */
	__m128i c = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);

	c = _mm_or_si128(c, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
	c = _mm_or_si128(c, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
	c = _mm_or_si128(c, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
	return (unsigned)_mm_movemask_epi8(c);
}

/* the 8 bytes of a and z (the zeros above them do not count) */
static inline bool dirty_pair4(uint32_t a, uint32_t z)
{
	return dirty16(_mm_set_epi32(0, 0, (int)z, (int)a)) & 0xff;
}
#else
static inline bool dirty_pair4(uint32_t a, uint32_t z)
{
	return dirty8(a | (uint64_t)z << 32);
}
#endif

/* clean_copy (below) for 4..7 bytes: two overlapping 4-byte words */
static inline size_t clean_copy4(char *o, const uint8_t *s, size_t n)
{
	uint32_t a, z;

	memcpy(&a, s, 4);
	memcpy(&z, s + n - 4, 4);
	if (dirty_pair4(a, z))
		return 0;
	memcpy(o, &a, 4);
	memcpy(o + n - 4, &z, 4);
	return n;
}

#ifdef __SSE2__
/*
 * Copies s[0..n) to o if no byte needs an escape and returns n; else
 * returns how many leading bytes it copied (a multiple of 16, or 0).  The
 * last block overlaps the one before: a short string is two checks.
 */
static inline size_t clean_copy(char *o, const uint8_t *s, size_t n)
{
	size_t i = 0;

	if (n >= 16) {
		__m128i x;
		for (; n - i >= 16; i += 16) {
			x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			if (dirty16(x))
				return i;
			_mm_storeu_si128((__m128i *)(void *)(o + i), x);
		}
		if (i == n)
			return n;
		x = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
		if (dirty16(x))
			return i;
		_mm_storeu_si128((__m128i *)(void *)(o + n - 16), x);
		return n;
	}
	if (n >= 8) {
		__m128i a = _mm_loadl_epi64((const __m128i *)(const void *)s);
		__m128i z = _mm_loadl_epi64(
			(const __m128i *)(const void *)(s + n - 8));
		if (dirty16(_mm_unpacklo_epi64(a, z)))
			return 0;
		_mm_storel_epi64((__m128i *)(void *)o, a);
		_mm_storel_epi64((__m128i *)(void *)(o + n - 8), z);
		return n;
	}
	return n >= 4 ? clean_copy4(o, s, n) : 0;
}
#else
/* the same a word at a time */
static inline size_t clean_copy(char *o, const uint8_t *s, size_t n)
{
	size_t i = 0;

	if (n >= 8) {
		uint64_t w;
		for (; n - i >= 8; i += 8) {
			memcpy(&w, s + i, 8);
			if (dirty8(w))
				return i;
			memcpy(o + i, &w, 8);
		}
		if (i == n)
			return n;
		memcpy(&w, s + n - 8, 8);
		if (dirty8(w))
			return i;
		memcpy(o + n - 8, &w, 8);
		return n;
	}
	return n >= 4 ? clean_copy4(o, s, n) : 0;
}
#endif

/*
 * The escaped contents (no quotes) of s[0..n) at o, which has room for
 * n * 6 bytes (every byte as \u00XX); returns the end.  The bytes must be
 * valid UTF-8.  Most strings need no escape at all: clean_copy checks and
 * copies them whole, the byte loop is only for what follows an escape.
 */
static char *esc_copy(char *o, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = clean_copy(o, s, n);

	if (i == n)
		return o + n;
	/* s[0..i) is copied already: on from the first block that holds a
	 * byte to escape */
	o += i;
	for (; i < n; i++) {
		/* eight plain bytes at a time again after an escape */
		while (n - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (dirty8(w))
				break; /* byte by byte up to the next clean word */
			memcpy(o, &w, 8);
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
	return o;
}

/* escaped string contents (no quotes) at the end of the record */
static void put_escaped(struct mm_rec *r, const uint8_t *s, size_t n)
{
	/* the worst case, once: every byte becomes \u00XX */
	if (reserve(r, n * 6))
		done(r, esc_copy(r->buf + r->used, s, n));
}

void rec_str_k(struct mm_rec *r, const char *k, size_t kn, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	char *o = member(r, k, kn, n * 6 + 4);

	if (!o)
		return;
	if (!v) {
		memcpy(o, "null", 4);
		done(r, o + 4);
		return;
	}
	*o++ = '"';
	o = esc_copy(o, (const uint8_t *)v, n);
	*o++ = '"';
	done(r, o);
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

void rec_strn_k(struct mm_rec *r, const char *k, size_t kn, const uint8_t *v,
		size_t n)
{
	size_t i = 0;

	key(r, k, kn);
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

static const char pairs[201] =
	"00010203040506070809101112131415161718192021222324"
	"25262728293031323334353637383940414243444546474849"
	"50515253545556575859606162636465666768697071727374"
	"75767778798081828384858687888990919293949596979899";

/* the decimal text of v < 100000 at o; returns the end.  Register
 * values, ports, counts and codes, most numbers a record holds: one or two
 * divisions by 100, two digits from the table at a time. */
static inline char *put_dec5(char *o, uint32_t v)
{
	uint32_t hi, lo;

	if (v < 100) {
		if (v < 10) {
			*o = (char)('0' + v);
			return o + 1;
		}
		memcpy(o, pairs + v * 2, 2);
		return o + 2;
	}
	hi = v / 100;
	lo = v - hi * 100;
	if (hi < 10) {
		*o++ = (char)('0' + hi);
	} else if (hi < 100) {
		memcpy(o, pairs + hi * 2, 2);
		o += 2;
	} else {
		uint32_t top = hi / 100;
		*o++ = (char)('0' + top);
		memcpy(o, pairs + (hi - top * 100) * 2, 2);
		o += 2;
	}
	memcpy(o, pairs + lo * 2, 2);
	return o + 2;
}

/* the same for any 32-bit value: below 100000 as above, else from the
 * last digit back, two digits per division */
static inline char *put_dec32(char *o, uint32_t v)
{
	char *end, *p;

	if (v < 100000)
		return put_dec5(o, v);
	end = o + (v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 :
		   v < 1000000000 ? 9 : 10);
	p = end;
	while (v >= 100) {
		unsigned d = (v % 100) * 2;
		v /= 100;
		*--p = pairs[d + 1];
		*--p = pairs[d];
	}
	if (v >= 10) {
		*--p = pairs[v * 2 + 1];
		*--p = pairs[v * 2];
	} else {
		*--p = (char)('0' + v);
	}
	return end;
}

/* the same for any value (up to 20 digits) */
static char *put_dec(char *o, unsigned long long v)
{
	char tmp[20], *p = tmp + sizeof(tmp);
	size_t n;

	if (v <= UINT32_MAX)
		return put_dec32(o, (uint32_t)v);
	/* the low eight digits at a time into tmp, the rest in 32 bits */
	while (v > UINT32_MAX) {
		uint32_t low = (uint32_t)(v % 100000000);
		v /= 100000000;
		for (int i = 0; i < 4; i++) {
			unsigned d = (low % 100) * 2;
			low /= 100;
			*--p = pairs[d + 1];
			*--p = pairs[d];
		}
	}
	o = put_dec32(o, (uint32_t)v);
	n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(o, p, n);
	return o + n;
}

void rec_int_k(struct mm_rec *r, const char *k, size_t kn, long long v)
{
	char *o = member(r, k, kn, 21);

	if (!o)
		return;
	if (v < 0)
		*o++ = '-';
	done(r, put_dec(o, v < 0 ? 0ULL - (unsigned long long)v
				 : (unsigned long long)v));
}

void rec_uint_k(struct mm_rec *r, const char *k, size_t kn,
		unsigned long long v)
{
	char *o = member(r, k, kn, 20);

	if (o)
		done(r, put_dec(o, v));
}

void rec_bool_k(struct mm_rec *r, const char *k, size_t kn, bool v)
{
	char *o = member(r, k, kn, 5);

	if (!o)
		return;
	if (v) {
		memcpy(o, "true", 4);
		done(r, o + 4);
	} else {
		memcpy(o, "false", 5);
		done(r, o + 5);
	}
}

/*
 * printf's "%.17g" of a finite v at o (room for 32), for the values
 * devices report (zero, and 1e-5 <= |v| < 2^53, or integers below 10^17);
 * returns the end, or NULL for any other value, which goes to snprintf.
 * printf costs about 4,000 instructions a value (its multi-precision
 * digit loop): this is the same text, digit for digit, by exact integer
 * arithmetic.  |v| = m * 2^e; the 17 significant digits are
 * D = m * 10^s / 2^-e rounded half to even (as glibc rounds in the
 * default mode), with s chosen so that 10^16 <= D < 10^17; then %g's rule
 * (C11 7.21.6.1): fixed notation for a decimal exponent X in -4..16,
 * else d.ddde-XX, trailing zeros and a bare point removed.
 */
static char *put_g17(char *o, double v)
{
	static const unsigned long long p10[] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
		10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
		100000000000ull, 1000000000000ull, 10000000000000ull,
		100000000000000ull, 1000000000000000ull, 10000000000000000ull,
		100000000000000000ull, 1000000000000000000ull,
		10000000000000000000ull,
	};
	uint64_t bits, m;
	unsigned __int128 n, rem, half;
	unsigned long long d;
	char dig[17];
	int e, x, s, sh, len;

	memcpy(&bits, &v, 8);
	if (bits >> 63)
		*o++ = '-';
	bits &= ~(1ull << 63);
	if (bits == 0) {
		*o++ = '0';
		return o;
	}
	if (bits >> 52 == 0)
		return NULL; /* subnormal */
	m = (bits & ((1ull << 52) - 1)) | 1ull << 52;
	e = (int)(bits >> 52) - 1075;
	if (e >= 0) {
		/* an integer: all of its digits while there are at most 17 */
		if (e > 11 || (m << e) >= p10[17])
			return NULL;
		return put_dec(o, m << e);
	}
	if (e < -69)
		return NULL; /* below about 1e-5 */
	sh = -e;
	/* x: the decimal exponent, estimated from the binary one (log10(2)
	 * as 78913 / 2^18) and corrected by the exact bounds on D */
	x = ((e + 52) * 78913) >> 18;
	for (;;) {
		s = 16 - x;
		if (s < 0 || s > 21)
			return NULL;
		n = (unsigned __int128)m *
		    (s > 19 ? p10[19] : p10[s]) * (s > 19 ? p10[s - 19] : 1);
		d = (unsigned long long)(n >> sh);
		if (d >= p10[17])
			x++;
		else if (d < p10[16])
			x--;
		else
			break;
	}
	rem = n & (((unsigned __int128)1 << sh) - 1);
	half = (unsigned __int128)1 << (sh - 1);
	if (rem > half || (rem == half && (d & 1)))
		d++;
	if (d == p10[17]) {
		d = p10[16];
		x++;
	}
	for (int i = 16; i >= 0; i--) {
		dig[i] = (char)('0' + d % 10);
		d /= 10;
	}
	len = 17;
	if (x < -4 || x >= 17) {
		while (len > 1 && dig[len - 1] == '0')
			len--;
		*o++ = dig[0];
		if (len > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, (size_t)len - 1);
			o += len - 1;
		}
		*o++ = 'e';
		*o++ = x < 0 ? '-' : '+';
		x = x < 0 ? -x : x;
		if (x < 10)
			*o++ = '0';
		return put_dec32(o, (uint32_t)x);
	}
	/* digits after the point: those past the integer part, trailing
	 * zeros removed */
	while (len > (x >= 0 ? x + 1 : 0) && dig[len - 1] == '0')
		len--;
	if (x >= 0) {
		memcpy(o, dig, (size_t)x + 1);
		o += x + 1;
		if (len > x + 1) {
			*o++ = '.';
			memcpy(o, dig + x + 1, (size_t)(len - x - 1));
			o += len - x - 1;
		}
		return o;
	}
	*o++ = '0';
	*o++ = '.';
	for (int i = 0; i < -x - 1; i++)
		*o++ = '0';
	memcpy(o, dig, (size_t)len);
	return o + len;
}

void rec_double_k(struct mm_rec *r, const char *k, size_t kn, double v)
{
	char *o = member(r, k, kn, 32), *end;

	if (!o)
		return;
	/* JSON has no NaN or infinity */
	if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
		memcpy(o, "null", 4);
		done(r, o + 4);
		return;
	}
	end = put_g17(o, v);
	if (!end) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%.17g", v);
		memcpy(o, buf, (size_t)n);
		end = o + n;
	}
	done(r, end);
}

void rec_null_k(struct mm_rec *r, const char *k, size_t kn)
{
	char *o = member(r, k, kn, 4);

	if (o) {
		memcpy(o, "null", 4);
		done(r, o + 4);
	}
}

void rec_hex_k(struct mm_rec *r, const char *k, size_t kn, const uint8_t *p,
	       size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *o = member(r, k, kn, n * 2 + 2);

	if (!o)
		return;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		*o++ = digits[p[i] >> 4];
		*o++ = digits[p[i] & 15];
	}
	*o++ = '"';
	done(r, o);
}

void rec_be16_array_k(struct mm_rec *r, const char *k, size_t kn,
		      const uint8_t *p, size_t n)
{
	/* at most "65535," per value, and the brackets */
	char *o = member(r, k, kn, n * 6 + 2);

	if (!o)
		return;
	*o++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*o++ = ',';
		o = put_dec5(o, (uint32_t)p[2 * i] << 8 | p[2 * i + 1]);
	}
	*o++ = ']';
	done(r, o);
}

void rec_raw_k(struct mm_rec *r, const char *k, size_t kn, const char *json,
	       size_t n)
{
	char *o = member(r, k, kn, n);

	if (o) {
		memcpy(o, json, n);
		done(r, o + n);
	}
}

static void open_level(struct mm_rec *r, const char *k, size_t kn, char c,
		       bool array)
{
	char *o = member(r, k, kn, 1);

	if (o) {
		*o++ = c;
		done(r, o);
	}
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

void rec_obj_begin_k(struct mm_rec *r, const char *k, size_t kn)
{
	open_level(r, k, kn, '{', false);
}

void rec_obj_end(struct mm_rec *r)
{
	close_level(r, '}');
}

void rec_arr_begin_k(struct mm_rec *r, const char *k, size_t kn)
{
	open_level(r, k, kn, '[', true);
}

void rec_arr_end(struct mm_rec *r)
{
	close_level(r, ']');
}

/* the 27 characters of a time stamp at o (see mm_format_ts); returns the end */
static char *put_ts(char *o, int64_t sec, int64_t usec)
{
	/* the date and time change once a second, records far more often:
	 * keep the formatted second (per thread: the store has its own) */
	static _Thread_local int64_t cached_sec = -1;
	static _Thread_local char cached[64]; /* 2026-11-26T12:04:03 */
	struct tm tm;
	time_t t = (time_t)sec;
	unsigned u;

	if (sec != cached_sec) {
		if (!gmtime_r(&t, &tm))
			memset(&tm, 0, sizeof(tm));
		snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d",
			 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_sec = sec;
	}
	memcpy(o, cached, 19);
	o[19] = '.';
	u = usec < 0 || usec > 999999 ? 0 : (unsigned)usec;
	memcpy(o + 20, pairs + u / 10000 * 2, 2);
	memcpy(o + 22, pairs + u / 100 % 100 * 2, 2);
	memcpy(o + 24, pairs + u % 100 * 2, 2);
	o[26] = 'Z';
	return o + 27;
}

void rec_ts_k(struct mm_rec *r, const char *k, size_t kn, int64_t sec,
	      int64_t usec)
{
	char *o = member(r, k, kn, 29);

	if (!o)
		return;
	*o++ = '"';
	o = put_ts(o, sec, usec);
	*o++ = '"';
	done(r, o);
}

void mm_format_ts(char *buf, size_t len, int64_t sec, int64_t usec)
{
	if (len < 28) {
		if (len)
			buf[0] = 0;
		return;
	}
	*put_ts(buf, sec, usec) = 0;
}
