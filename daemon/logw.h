/*
 * logw.h - log files written by a thread of their own (logw.c).
 */
#ifndef MM_LOGW_H
#define MM_LOGW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct logw;

/* the writer thread, with queue_bytes of buffers; may_wait: when every
 * buffer is queued, the caller waits for one (a capture file) instead of
 * dropping the line (a live port, whose packets do not wait).  Call
 * before any seccomp filter (it makes a thread); again later: nothing. */
int logw_start(bool may_wait, size_t queue_bytes, char *err, size_t errlen);
/* write out what is queued (ms at the most: a dead disk must not hang the
 * exit), end the thread, free the buffers */
void logw_stop(int ms);

/* PATH opened for appending (created 0666 & ~umask); NULL and errno */
struct logw *logw_open(const char *path);
/* one line: s (n bytes, no newline) and '\n'; false: dropped, counted */
bool logw_line(struct logw *w, const char *s, size_t n);
/* what is buffered goes to the writer now (the once-a-second tick) */
void logw_flush(struct logw *w);
/* flushed, then closed by the writer after its last bytes; w is freed */
void logw_close(struct logw *w);
/* wait until the writer has written everything handed to it, ms at the
 * most; false: it has not, *unwritten bytes still queued */
bool logw_drain(int ms, size_t *unwritten);

/* failed writes (and closes) since the start; lines dropped for want of a
 * buffer (live only) */
void logw_counts(uint64_t *write_errors, uint64_t *dropped);

#endif
