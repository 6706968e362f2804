/* fmt.c - see fmt.h */
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

size_t mm_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
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
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		}
		case 'u':
			put_uint(&o, va_arg(ap, unsigned), 10, width);
			break;
		case 'd': {
			int v = va_arg(ap, int);
			if (v < 0) {
				put(&o, '-');
				put_uint(&o, -(unsigned long)(long)v, 10, width);
			} else {
				put_uint(&o, (unsigned long)v, 10, width);
			}
			break;
		}
		case 'x':
			put_uint(&o, va_arg(ap, unsigned), 16, width);
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

size_t mm_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = mm_vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}
