/* fmt.c - see fmt.h */
#include <stdint.h>

#include "fmt.h"

struct out {
	char *p, *end; /* end: where the NUL goes at the latest */
};

static void put(struct out *o, char c)
{
	if (o->p < o->end)
		*o->p++ = c;
}

static void put_uint(struct out *o, unsigned long v, unsigned base, int width)
{
	char tmp[24];
	int n = 0;

	/* constant divisors: the compiler multiplies instead of dividing */
	if (base == 16) {
		do {
			unsigned d = (unsigned)(v & 15);
			tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
			v >>= 4;
		} while (v && n < (int)sizeof(tmp));
	} else {
		do {
			tmp[n++] = (char)('0' + v % 10);
			v /= 10;
		} while (v && n < (int)sizeof(tmp));
	}
	while (n < width && n < (int)sizeof(tmp))
		tmp[n++] = '0';
	while (n > 0)
		put(o, tmp[--n]);
}

/*
 * Where the arguments come from: the caller's va_list (mm_vfmt) or an
 * array captured earlier (mm_afmt, mm_fmt_capture); a missing array
 * entry reads as 0 / NULL.
 */
struct src {
	va_list *ap;
	const union mm_fmt_arg *a;
	size_t i, n;
};

static inline const char *next_s(struct src *s)
{
	if (s->ap)
		return va_arg(*s->ap, const char *);
	return s->i < s->n ? s->a[s->i++].s : NULL;
}

static inline unsigned next_u(struct src *s)
{
	if (s->ap)
		return va_arg(*s->ap, unsigned);
	return s->i < s->n ? s->a[s->i++].u : 0;
}

static inline int next_d(struct src *s)
{
	if (s->ap)
		return va_arg(*s->ap, int);
	return s->i < s->n ? s->a[s->i++].d : 0;
}

/* inlined into each caller: the source's branches fold away */
static inline __attribute__((always_inline)) size_t
fmt_core(char *buf, size_t len, const char *fmt, struct src *sa)
{
	struct out o = { buf, buf + (len ? len - 1 : 0) };

	if (!len)
		return 0;
	for (const char *f = fmt; *f; f++) {
		int width = 0;
		if (*f != '%') {
			put(&o, *f);
			continue;
		}
		f++;
		if (*f == '0')
			f++;
		while (*f >= '1' && *f <= '9')
			width = width * 10 + (*f++ - '0');
		switch (*f) {
		case 's': {
			const char *s = next_s(sa);
			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		}
		case 'u':
			put_uint(&o, next_u(sa), 10, width);
			break;
		case 'd': {
			int v = next_d(sa);
			if (v < 0) {
				put(&o, '-');
				put_uint(&o, -(unsigned long)(long)v, 10, width);
			} else {
				put_uint(&o, (unsigned long)v, 10, width);
			}
			break;
		}
		case 'x':
			put_uint(&o, next_u(sa), 16, width);
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			put(&o, '%'); /* a lone % at the end */
			f--;
			break;
		default:
			put(&o, '%');
			put(&o, *f);
			break;
		}
	}
	*o.p = '\0';
	return (size_t)(o.p - buf);
}

size_t mm_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	va_list aq;
	size_t n;

	va_copy(aq, ap);
	struct src sa = { &aq, NULL, 0, 0 };
	n = fmt_core(buf, len, fmt, &sa);
	va_end(aq);
	return n;
}

size_t mm_afmt(char *buf, size_t len, const char *fmt,
	       const union mm_fmt_arg *a, size_t n)
{
	struct src sa = { NULL, a, 0, n };

	return fmt_core(buf, len, fmt, &sa);
}

/*
 * The arguments a format reads, in order: a kind per conversion.  Formats
 * are string constants, few, and used over and over, so the list is kept
 * per format address in a small direct-mapped table: a capture is then a
 * lookup and the va_args, not a walk of the text (which cost more than
 * half of formatting it).
 */
enum { K_U, K_D, K_S, SIG_MAX = 8, SIG_SLOTS = 32 };

struct sig {
	const char *fmt;
	uint8_t n;              /* conversions; SIG_MAX + 1: too many to keep */
	uint8_t kind[SIG_MAX];
};

static _Thread_local struct sig sigs[SIG_SLOTS];

static void sig_walk(const char *fmt, struct sig *g)
{
	g->fmt = fmt;
	g->n = 0;
	/* the same conversions fmt_core reads */
	for (const char *f = fmt; *f; f++) {
		if (*f != '%')
			continue;
		f++;
		if (*f == '0')
			f++;
		while (*f >= '1' && *f <= '9')
			f++;
		if (*f == '\0')
			break;
		if (*f != 's' && *f != 'u' && *f != 'd' && *f != 'x')
			continue;
		if (g->n == SIG_MAX) {
			g->n = SIG_MAX + 1;
			return;
		}
		g->kind[g->n++] = *f == 's' ? K_S : *f == 'd' ? K_D : K_U;
	}
}

size_t mm_fmt_capture(const char *fmt, va_list ap, union mm_fmt_arg *a,
		      size_t max)
{
	struct sig *g = &sigs[((uintptr_t)fmt >> 3) % SIG_SLOTS];

	if (g->fmt != fmt)
		sig_walk(fmt, g);
	if (g->n > max)
		return max + 1; /* too many: the caller formats now */
	for (size_t i = 0; i < g->n; i++) {
		if (g->kind[i] == K_S)
			a[i].s = va_arg(ap, const char *);
		else if (g->kind[i] == K_D)
			a[i].d = va_arg(ap, int);
		else
			a[i].u = va_arg(ap, unsigned);
	}
	return g->n;
}

size_t mm_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = mm_vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

size_t mm_fmt_ipv4(char out[16], uint32_t ip_be)
{
	const uint8_t *b = (const uint8_t *)&ip_be; /* network order */
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];

		if (i)
			out[n++] = '.';
		if (v >= 100)
			out[n++] = (char)('0' + v / 100);
		if (v >= 10)
			out[n++] = (char)('0' + v / 10 % 10);
		out[n++] = (char)('0' + v % 10);
	}
	out[n] = '\0';
	return n;
}
