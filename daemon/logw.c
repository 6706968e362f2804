/*
 * logw.c - log files written by a thread of their own.
 *
 * The capture thread must never wait on a disk (DESIGN.md: it "never
 * blocks on output"), and write(2) to a regular file can: when the page
 * cache holds too much unwritten data the kernel throttles the writer
 * (balance_dirty_pages), for hundreds of milliseconds on a small box's
 * SD card or eMMC, while the capture ring fills.  So the capture thread
 * only copies each finished line into its log's buffer; a full buffer
 * (or the once-a-second tick's partial one) goes on a queue, and this
 * file's thread writes the queue out in order and gives the buffers back.
 *
 * The buffers come from a pool bounded by log_queue_mb, made as needed
 * and given back beyond a few spare ones.  When all of them wait for the
 * disk, a live sensor drops the line and counts it (logw_dropped): its
 * packets cannot wait either.  Reading a capture file it waits for a
 * buffer instead: the file waits, nothing is lost.
 *
 * Without the thread (unit tests, the fuzz harness) a handed-over buffer
 * is written at once by the caller, with the same results on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "logw.h"

#define LOGW_BUF (256 * 1024)
#define LOGW_KEEP 4 /* free buffers kept; more go back to the system */
#define LOGW_FILE_POOL 8 /* reading a file: 2 MiB at the most */
#define LOGW_POOL_MAX 4096 /* buffers: 1 GiB */
#define LOGW_JOBS (LOGW_POOL_MAX + 64) /* buffers and closes waiting */

struct logw {
	int fd;
	char *buf; /* the current buffer (from the pool), or NULL */
	size_t len;
};

/* one thing for the writer to do: write buf, then maybe close fd */
struct job {
	int fd;
	char *buf;  /* NULL: only the close */
	size_t len;
	bool own;   /* a line larger than a pool buffer: freed, not pooled */
	bool close;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake; /* to the writer: a job, or stop */
	pthread_cond_t back; /* from the writer: a buffer back, a job done */
	struct job q[LOGW_JOBS];
	size_t head, n;
	char *free_bufs[LOGW_KEEP];
	size_t n_free, n_made, pool; /* pool: buffers at the most */
	size_t queued_bytes;
	bool busy; /* the writer is on a job */
	bool running, stop, exited, may_wait;
	bool stalled; /* a wait for the writer timed out */
	pthread_t thread;
	uint64_t errors, dropped;
} W = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.back = PTHREAD_COND_INITIALIZER,
	.pool = 32, /* without logw_start: 8 MiB */
};

/*
 * Pool buffers are mappings of their own: a burst that queued many of them
 * (a disk slow for a while) gives the memory back to the system when they
 * come back beyond LOGW_KEEP, so the sensor's RSS returns to where it was.
 */
static char *buf_new(void)
{
	void *b = mmap(NULL, LOGW_BUF, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return b == MAP_FAILED ? NULL : b;
}

/* a buffer back to the pool (W.mu held) */
static void buf_put(char *b)
{
	if (W.n_free < LOGW_KEEP) {
		W.free_bufs[W.n_free++] = b;
		return;
	}
	munmap(b, LOGW_BUF);
	W.n_made--;
}

/* all of buf to fd; false when a byte could not be written */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, buf, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		buf += k;
		len -= (size_t)k;
	}
	return true;
}

/* do one job; with W.mu held on entry and exit, not while writing */
static void run_job(struct job j)
{
	bool ok;

	pthread_mutex_unlock(&W.mu);
	ok = !j.buf || write_all(j.fd, j.buf, j.len);
	if (j.close && close(j.fd) != 0)
		ok = false;
	pthread_mutex_lock(&W.mu);
	W.queued_bytes -= j.buf ? j.len : 0;
	if (!ok)
		W.errors++;
	if (j.own)
		free(j.buf);
	else if (j.buf)
		buf_put(j.buf);
}

static void *writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&W.mu);
	for (;;) {
		while (!W.n && !W.stop)
			pthread_cond_wait(&W.wake, &W.mu);
		if (!W.n) {
			W.exited = true; /* stopping, and nothing left */
			pthread_cond_broadcast(&W.back);
			break;
		}
		struct job j = W.q[W.head];
		W.head = (W.head + 1) % LOGW_JOBS;
		W.n--;
		W.busy = true;
		run_job(j);
		W.busy = false;
		pthread_cond_broadcast(&W.back);
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

int logw_start(bool may_wait, size_t queue_bytes, char *err, size_t errlen)
{
	int rc;

	if (W.running)
		return 0;
	W.may_wait = may_wait;
	W.pool = queue_bytes / LOGW_BUF;
	/* a capture file waits for the disk: a few buffers keep the writer
	 * busy, more would only hold memory */
	if (may_wait && W.pool > LOGW_FILE_POOL)
		W.pool = LOGW_FILE_POOL;
	if (W.pool < 2)
		W.pool = 2;
	if (W.pool > LOGW_POOL_MAX)
		W.pool = LOGW_POOL_MAX;
	W.stop = W.exited = false;
	rc = pthread_create(&W.thread, NULL, writer, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "log writer thread: %s", strerror(rc));
		return -1;
	}
	W.running = true;
	return 0;
}

/* a job on the queue (W.mu held); without the thread, done here */
static void enqueue(struct job j)
{
	W.queued_bytes += j.buf ? j.len : 0;
	if (!W.running) {
		run_job(j);
		return;
	}
	/* the queue holds at most the pool and the closes of a reload or
	 * two: full only for a moment, and a close must not be lost */
	while (W.n == LOGW_JOBS)
		pthread_cond_wait(&W.back, &W.mu);
	W.q[(W.head + W.n) % LOGW_JOBS] = j;
	W.n++;
	pthread_cond_signal(&W.wake);
}

/* a free buffer (W.mu held), or NULL: the pool is out, and waiting is
 * not allowed (live) or could never end (no writer) */
static char *take_buffer(void)
{
	for (;;) {
		if (W.n_free)
			return W.free_bufs[--W.n_free];
		if (W.n_made < W.pool) {
			char *b = buf_new();
			if (b) {
				W.n_made++;
				return b;
			}
		}
		if (!W.may_wait || !W.running || (!W.n && !W.busy))
			return NULL;
		pthread_cond_wait(&W.back, &W.mu);
	}
}

struct logw *logw_open(const char *path)
{
	struct logw *w = calloc(1, sizeof(*w));
	int e;

	if (!w)
		return NULL;
	w->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (w->fd < 0) {
		e = errno;
		free(w);
		errno = e;
		return NULL;
	}
	return w;
}

/* the current buffer to the writer (W.mu held) */
static void hand_over(struct logw *w)
{
	if (!w->buf || !w->len)
		return;
	enqueue((struct job){ .fd = w->fd, .buf = w->buf, .len = w->len });
	w->buf = NULL;
	w->len = 0;
}

bool logw_line(struct logw *w, const char *s, size_t n)
{
	size_t need = n + 1;

	/* the common case, room in the current buffer, takes no lock */
	if (!w->buf || w->len + need > LOGW_BUF) {
		bool ok;

		pthread_mutex_lock(&W.mu);
		hand_over(w);
		if (need > LOGW_BUF) {
			/* a line larger than a buffer: one of its own, in
			 * order after the buffer just handed over */
			char *b = malloc(need);
			if (b) {
				memcpy(b, s, n);
				b[n] = '\n';
				enqueue((struct job){ .fd = w->fd, .buf = b,
						      .len = need, .own = true });
			}
			ok = b != NULL;
		} else {
			w->buf = take_buffer();
			ok = w->buf != NULL;
		}
		if (!ok)
			W.dropped++;
		pthread_mutex_unlock(&W.mu);
		if (!ok || need > LOGW_BUF)
			return ok;
	}
	memcpy(w->buf + w->len, s, n);
	w->buf[w->len + n] = '\n';
	w->len += need;
	return true;
}

void logw_flush(struct logw *w)
{
	if (!w || !w->len)
		return;
	pthread_mutex_lock(&W.mu);
	hand_over(w);
	pthread_mutex_unlock(&W.mu);
}

void logw_close(struct logw *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&W.mu);
	enqueue((struct job){ .fd = w->fd, .buf = w->len ? w->buf : NULL,
			      .len = w->len, .close = true });
	if (!w->len && w->buf)
		buf_put(w->buf); /* unused: back to the pool */
	pthread_mutex_unlock(&W.mu);
	free(w);
}

/* until the queue is written or ms milliseconds have passed (W.mu held);
 * false: the disk did not take it in time */
static bool wait_written(int ms)
{
	struct timespec end;

	if (W.stalled)
		ms = 0; /* once timed out, the exit waits no more */
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (W.running && (W.n || W.busy))
		if (pthread_cond_timedwait(&W.back, &W.mu, &end) == ETIMEDOUT) {
			W.stalled = W.n || W.busy;
			return !W.stalled;
		}
	return true;
}

bool logw_drain(int ms, size_t *unwritten)
{
	bool ok;

	pthread_mutex_lock(&W.mu);
	ok = wait_written(ms);
	if (unwritten)
		*unwritten = W.queued_bytes;
	pthread_mutex_unlock(&W.mu);
	return ok;
}

void logw_stop(int ms)
{
	bool exited;

	if (W.running) {
		pthread_mutex_lock(&W.mu);
		W.stop = true;
		pthread_cond_signal(&W.wake);
		(void)wait_written(ms);
		exited = W.exited;
		pthread_mutex_unlock(&W.mu);
		/* a writer stuck in write(2) on a dead disk is left to the
		 * process's exit: joining it would hang the sensor */
		if (exited)
			pthread_join(W.thread, NULL);
		else
			pthread_detach(W.thread);
		W.running = false;
		if (!exited)
			return; /* its buffers are still in use */
	}
	while (W.n_free)
		munmap(W.free_bufs[--W.n_free], LOGW_BUF);
	W.n_made = 0;
}

void logw_counts(uint64_t *write_errors, uint64_t *dropped)
{
	pthread_mutex_lock(&W.mu);
	*write_errors = W.errors;
	*dropped = W.dropped;
	pthread_mutex_unlock(&W.mu);
}
