/*
 * seterr.h - the store's error messages, written into the caller's
 * buffer (db.c, baseline.c).  Store-internal: not for other modules.
 */
#ifndef MM_STORE_SETERR_H
#define MM_STORE_SETERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* printf into err (nothing when err is NULL or errlen 0) */
static inline void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif /* MM_STORE_SETERR_H */
