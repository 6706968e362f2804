/*
 * fmt.h - a small, fast formatter for the short texts dissectors build on
 * the packet path (an operation's target: "unit 1 holding 100 x10").
 * snprintf costs about 2,000 instructions per call there, more than
 * parsing the PDU; this one understands only what those texts need:
 *   %s (const char *, NULL prints "(null)"), %u (unsigned),
 *   %d (int), %x and %02x / %04x (unsigned, lower-case hex), %%.
 * Anything else is copied as it is.  Always NUL-terminates; truncates.
 * Returns the length written (without the NUL).
 */
#ifndef MM_FMT_H
#define MM_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

size_t mm_vfmt(char *buf, size_t len, const char *fmt, va_list ap);
size_t mm_fmt(char *buf, size_t len, const char *fmt, ...);

/*
 * Deferred formatting: capture the arguments now, format later (an op's
 * target text is needed only when an alert names it).  The format must be
 * a string constant (what it converts is remembered per address), and so
 * must a %s argument (kept as the pointer: it must outlive the formatting).
 */
union mm_fmt_arg {
	unsigned u;
	int d;
	const char *s;
};
/* the arguments fmt reads from ap, into a[]: their number, or max + 1
 * (none kept that matter) when fmt needs more than max */
size_t mm_fmt_capture(const char *fmt, va_list ap, union mm_fmt_arg *a,
		      size_t max);
/* mm_vfmt with the arguments from a[0..n) */
size_t mm_afmt(char *buf, size_t len, const char *fmt,
	       const union mm_fmt_arg *a, size_t n);

/*
 * An IPv4 address (network byte order) as dotted quad, what inet_ntop
 * writes (~1,800 instructions there, ~100 here): out has room for 16.
 * Returns the length.
 */
size_t mm_fmt_ipv4(char out[16], uint32_t ip_be);

#endif
