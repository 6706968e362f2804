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

size_t mm_vfmt(char *buf, size_t len, const char *fmt, va_list ap);
size_t mm_fmt(char *buf, size_t len, const char *fmt, ...);

#endif
