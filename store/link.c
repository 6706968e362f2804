/*
 * link.c - the sensor's side of the store link: the ZeroMQ Guide's
 * reliability pattern (sequence numbers, acknowledgements, resend, and an
 * idempotent receiver: see server.c and db.c).
 *
 * Two threads meet here:
 *   - producers (the capture thread, a stats timer) call mm_link_send().
 *     It copies the record into a bounded inbox under a mutex held for a
 *     few pointer moves, and wakes the link thread through an eventfd
 *     only when the inbox was empty.  It never waits on the network, nor
 *     on the disk.
 *   - the link thread owns the DEALER socket and the spool: a ring of
 *     spool_max slots indexed by seq.  It numbers records, writes them to
 *     the disk spool (when there is one), sends them, resends what is not
 *     acknowledged after resend_ms, and frees what is.  Every beat_ms it
 *     sends a heartbeat with its counters (not spooled, not acknowledged).
 *
 * Counters (mm_link_stats): `queued` counts every record handed to
 * mm_link_send (and every record recovered from disk at start), so at any
 * time  queued == acked + dropped + backlog.
 *
 * Sequence numbers start at the wall clock in microseconds when the link
 * is made.  A restarted sensor therefore starts above every seq it used
 * before, unless it sent more than a million records per second on
 * average over its previous life, or the clock was set back meanwhile.
 * With a disk spool the seqs go on from the last life's, so the records
 * it left unacknowledged are resent with their own seqs (the store stores
 * once what it had already) and fit in the ring next to the new ones.
 *
 * The disk spool (spool_dir, 0700, files 0600, flock'ed by one sensor):
 *   spool-00 ... spool-15  records appended as they enter the ring:
 *       "MMS1" | u32 n | u64 seq | u8 kind length | kind | JSON | u32 crc
 *       (n: bytes from seq to the end of the JSON; little endian; crc:
 *       CRC-32 of those n bytes).  One file is written at a time; when it
 *       holds its share of the byte bound the next empty one is taken.  A
 *       file whose every record was acknowledged is emptied (ftruncate).
 *   state  u64 acked_below | u64 next seq | u64 check, written in place:
 *       records below acked_below are not read back.  Torn or missing:
 *       every record still on disk is sent again (the store keeps one).
 * Every file is opened at start and kept open: the sensor may drop its
 * privileges or chroot afterwards, and needs no access to the directory.
 * Data is synced at most every SYNC_MS: a crash of the process loses
 * nothing written; a power cut may lose the last SYNC_MS of records.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../common/rec.h"

#define MM_MAGIC "MM1"
#define KIND_MAX 15
#define SENSOR_MAX 128
#define RECORD_MAX (4 << 20)   /* the store refuses larger messages */
#define INBOX_MIN 64
#define INBOX_MAX 65536
#define RESEND_BURST 500       /* resends per round, so acks keep flowing */
#define RESEND_SCAN 4096       /* slots looked at per round for resends */
#define SPOOL_BYTES_DEFAULT ((size_t)256 << 20)
#define BEAT_MS_DEFAULT 10000
/*
 * Records sent and not yet acknowledged, at most.  With a slow store (a
 * slow disk, a big backlog after a restart) more would only queue up in
 * front of it and be resent, each resend another duplicate to process.
 */
#define INFLIGHT_MAX 2000
/* each resend of one record waits twice as long, up to this many times
 * resend_ms: a store that is slow, not gone, is not buried in resends */
#define BACKOFF_MAX_SHIFT 3
/* disk spool */
#define SPOOL_FILES 16
#define FILE_BYTES_MIN (1 << 20) /* a file's share of the bound, at least */
#define SYNC_MS 200
#define DREC_MAGIC 0x31534d4du /* "MMS1" read as little endian */
#define DREC_HEAD 8            /* magic, n */
#define DREC_FIXED (8 + 1)     /* seq, kind length */

struct inrec {
	struct inrec *next;
	char kind[KIND_MAX + 1];
	size_t len;
	char json[];
};

struct slot {
	struct inrec *r;   /* NULL: free (acknowledged or never used) */
	uint64_t seq;
	uint64_t sent_ms;  /* 0: not sent yet */
	unsigned tries;    /* sends so far */
};

struct spool_file {
	int fd;
	uint64_t first, end;  /* seqs in it: [first, end); empty: end == 0 */
	size_t bytes;
};

struct disk {
	char dir[4096];
	int lock_fd, state_fd;
	struct spool_file f[SPOOL_FILES];
	int cur;              /* the file being written */
	size_t file_bytes;    /* switch files beyond this */
	uint64_t wm;          /* acked_below written to the state file */
	uint64_t last_sync;
	bool dirty;           /* appended since the last sync */
};

struct mm_link {
	void *zctx;
	bool own_ctx;
	void *sock;
	int efd;
	char sensor[SENSOR_MAX + 1];
	size_t spool_max;
	size_t spool_bytes_max;
	uint64_t resend_ms;
	int beat_ms;
	uint64_t next_beat;
	pthread_t thread;
	bool started;
	struct disk *disk;       /* NULL: memory only */

	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* signalled when backlog changes */
	struct inrec *in_head, *in_tail;
	size_t in_n, in_max;
	bool stop;
	struct mm_link_stats st; /* queued, dropped (inbox) + published */

	/* the link thread's own */
	struct slot *ring;
	uint64_t lo, hi;         /* seqs in the ring: [lo, hi) */
	uint64_t next_unsent;    /* first seq never sent */
	uint64_t cursor;         /* where the resend scan goes on */
	size_t used;
	size_t unsent;           /* used slots never sent */
	size_t bytes;            /* record bytes in the ring */
	uint64_t hello_seq;      /* a hello still unsent goes first */
	bool hello_unsent;
	uint64_t sent, resent, acked, spool_drops, recovered, disk_errors,
		beats;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* CRC-32 (IEEE 802.3, reflected, as zlib's), table made on first use */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t crc)
{
	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---------------- producer side ---------------- */

int mm_link_send(struct mm_link *l, const char *kind, const char *json,
		 size_t len)
{
	size_t kl = kind ? strlen(kind) : 0;
	struct inrec *r = NULL;
	bool wake = false;

	if (kl > 0 && kl <= KIND_MAX && json && len <= RECORD_MAX)
		r = malloc(sizeof(*r) + len + 1);
	if (r) {
		memcpy(r->kind, kind, kl + 1);
		memcpy(r->json, json, len);
		r->json[len] = '\0';
		r->len = len;
		r->next = NULL;
	}
	pthread_mutex_lock(&l->mu);
	l->st.queued++;
	if (!r || l->in_n >= l->in_max || l->stop) {
		l->st.dropped++;
		pthread_mutex_unlock(&l->mu);
		free(r);
		return -1;
	}
	wake = l->in_n == 0;
	if (l->in_tail)
		l->in_tail->next = r;
	else
		l->in_head = r;
	l->in_tail = r;
	l->in_n++;
	l->st.backlog++;
	pthread_mutex_unlock(&l->mu);
	if (wake) {
		uint64_t one = 1;
		/* an eventfd counter cannot overflow here: never blocks */
		if (write(l->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN only: the thread is being woken anyway */
		}
	}
	return 0;
}

/* ---------------- disk spool ---------------- */

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void state_write(struct disk *d, uint64_t wm, uint64_t next)
{
	uint8_t b[24];

	put_le(b, wm, 8);
	put_le(b + 8, next, 8);
	put_le(b + 16, crc32_of(b, 16, 0) ^ 0x6d696d61u, 8);
	if (pwrite(d->state_fd, b, sizeof(b), 0) == (ssize_t)sizeof(b))
		d->wm = wm;
}

static int state_read(struct disk *d, uint64_t *wm, uint64_t *next)
{
	uint8_t b[24];

	if (pread(d->state_fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) ||
	    get_le(b + 16, 8) != (crc32_of(b, 16, 0) ^ 0x6d696d61u))
		return -1;
	*wm = get_le(b, 8);
	*next = get_le(b + 8, 8);
	return 0;
}

/* append one record to the current file (the next empty one when the
 * current holds its share) */
static int disk_append(struct mm_link *l, uint64_t seq, const struct inrec *r)
{
	struct disk *d = l->disk;
	size_t kl = strlen(r->kind), n = DREC_FIXED + kl + r->len;
	uint8_t head[DREC_HEAD + DREC_FIXED], tail[4];
	struct spool_file *f = &d->f[d->cur];
	uint32_t crc;

	if (f->bytes >= d->file_bytes) {
		for (int i = 1; i < SPOOL_FILES; i++) {
			int k = (d->cur + i) % SPOOL_FILES;
			if (d->f[k].bytes == 0) {
				/* what is written so far is on disk before
				 * the next file starts */
				fdatasync(f->fd);
				d->cur = k;
				f = &d->f[k];
				break;
			}
		}
		/* none empty (the store is away long): this one grows; the
		 * byte bound is kept by the ring */
	}
	put_le(head, DREC_MAGIC, 4);
	put_le(head + 4, n, 4);
	put_le(head + 8, seq, 8);
	head[16] = (uint8_t)kl;
	crc = crc32_of(head + 8, DREC_FIXED, 0);
	crc = crc32_of((const uint8_t *)r->kind, kl, crc);
	crc = crc32_of((const uint8_t *)r->json, r->len, crc);
	put_le(tail, crc, 4);
	if (write_all(f->fd, head, sizeof(head)) ||
	    write_all(f->fd, r->kind, kl) ||
	    write_all(f->fd, r->json, r->len) ||
	    write_all(f->fd, tail, sizeof(tail)))
		return -1; /* a half-written record fails its check when read */
	if (f->end == 0)
		f->first = seq;
	f->end = seq + 1;
	f->bytes += sizeof(head) + kl + r->len + sizeof(tail);
	d->dirty = true;
	return 0;
}

/* sync, note how far everything is acknowledged, empty what is done */
static void disk_maintain(struct mm_link *l, bool force)
{
	struct disk *d = l->disk;
	uint64_t now = now_ms();

	if (!d || (!force && now - d->last_sync < SYNC_MS))
		return;
	if (!force && !d->dirty && d->wm == l->lo)
		return;
	d->last_sync = now;
	if (d->dirty)
		fdatasync(d->f[d->cur].fd);
	d->dirty = false;
	if (d->wm != l->lo) {
		state_write(d, l->lo, l->hi);
		fdatasync(d->state_fd);
	}
	/* a file whose every record lies below the written mark is empty */
	for (int i = 0; i < SPOOL_FILES; i++) {
		struct spool_file *f = &d->f[i];
		if (f->bytes == 0 || f->end > d->wm)
			continue;
		if (ftruncate(f->fd, 0) == 0) {
			f->bytes = 0;
			f->first = f->end = 0;
		}
	}
}

struct loaded {
	uint64_t seq;
	struct inrec *r;
};

/* read one file back; a bad or torn tail is cut.  Appends to *out. */
static int read_file(struct spool_file *f, uint64_t wm, struct loaded **out,
		     size_t *n, size_t *cap)
{
	struct stat sb;
	uint8_t *buf;
	size_t off = 0, good = 0;

	f->first = f->end = 0;
	f->bytes = 0;
	if (fstat(f->fd, &sb) != 0)
		return -1;
	if (sb.st_size == 0)
		return 0;
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf || pread(f->fd, buf, (size_t)sb.st_size, 0) != sb.st_size) {
		free(buf);
		return -1;
	}
	while ((size_t)sb.st_size - off >= DREC_HEAD + DREC_FIXED + 4) {
		const uint8_t *p = buf + off;
		size_t rn = (size_t)get_le(p + 4, 4), kl;
		uint64_t seq;
		struct inrec *r;
		if (get_le(p, 4) != DREC_MAGIC || rn < DREC_FIXED ||
		    rn > DREC_FIXED + KIND_MAX + RECORD_MAX ||
		    (size_t)sb.st_size - off - DREC_HEAD < rn + 4 ||
		    get_le(p + DREC_HEAD + rn, 4) !=
			    crc32_of(p + DREC_HEAD, rn, 0))
			break;
		seq = get_le(p + 8, 8);
		kl = p[16];
		if (kl == 0 || kl > KIND_MAX || DREC_FIXED + kl > rn)
			break;
		off += DREC_HEAD + rn + 4;
		good = off;
		if (f->end == 0 || seq < f->first)
			f->first = seq;
		if (seq + 1 > f->end)
			f->end = seq + 1;
		if (seq < wm)
			continue; /* acknowledged before the last stop */
		r = malloc(sizeof(*r) + (rn - DREC_FIXED - kl) + 1);
		if (!r)
			break;
		memcpy(r->kind, p + 17, kl);
		r->kind[kl] = '\0';
		r->len = rn - DREC_FIXED - kl;
		memcpy(r->json, p + 17 + kl, r->len);
		r->json[r->len] = '\0';
		r->next = NULL;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 1024;
			struct loaded *nl = realloc(*out, nc * sizeof(*nl));
			if (!nl) {
				free(r);
				break;
			}
			*out = nl;
			*cap = nc;
		}
		(*out)[*n].seq = seq;
		(*out)[(*n)++].r = r;
	}
	/* a torn last record: cut, so appending goes on from a clean end */
	if (good < (size_t)sb.st_size && ftruncate(f->fd, (off_t)good) != 0) {
		/* then it is read and cut the same way next time */
	}
	f->bytes = good;
	free(buf);
	return 0;
}

static int cmp_loaded(const void *a, const void *b)
{
	const struct loaded *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Open (make) the spool directory and its files and read back what the
 * last life left.  Fills the ring; sets lo/hi.  0, or -1 with a message.
 */
static int disk_open(struct mm_link *l, const char *dir, uint64_t clock_seq,
		     char *err, size_t errlen)
{
	struct disk *d = calloc(1, sizeof(*d));
	struct stat sb;
	uint64_t wm = 0, next = 0;
	size_t n = 0, cap = 0, start = 0;
	struct loaded *rec = NULL;
	int dir_fd;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->disk = d;
	d->lock_fd = d->state_fd = -1;
	for (int i = 0; i < SPOOL_FILES; i++)
		d->f[i].fd = -1;
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "spool %s: not a directory", dir);
		return -1;
	}
	if (sb.st_uid != geteuid() || (sb.st_mode & 077)) {
		snprintf(err, errlen,
			 "spool %s: must belong to this user and be closed to "
			 "others (chmod 700 %s): it holds the alerts",
			 dir, dir);
		return -1;
	}
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
		return -1;
	}
	d->lock_fd = openat(dir_fd, "lock",
			    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "spool %s: %s", dir,
			 d->lock_fd >= 0 && errno == EWOULDBLOCK
				 ? "in use by another sensor (one spool "
				   "directory per sensor)"
				 : strerror(errno));
		close(dir_fd);
		return -1;
	}
	d->state_fd = openat(dir_fd, "state",
			     O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	for (int i = 0; i < SPOOL_FILES && d->state_fd >= 0; i++) {
		char name[32];
		snprintf(name, sizeof(name), "spool-%02d", i);
		d->f[i].fd = openat(dir_fd, name,
				    O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC |
					    O_NOFOLLOW,
				    0600);
		if (d->f[i].fd < 0)
			break;
	}
	close(dir_fd);
	if (d->state_fd < 0 || d->f[SPOOL_FILES - 1].fd < 0) {
		snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
		return -1;
	}
	if (state_read(d, &wm, &next) != 0)
		wm = next = 0;
	for (int i = 0; i < SPOOL_FILES; i++) {
		if (read_file(&d->f[i], wm, &rec, &n, &cap) < 0) {
			snprintf(err, errlen, "spool %s/spool-%02d: cannot read "
				 "it back", dir, i);
			for (size_t k = 0; k < n; k++)
				free(rec[k].r);
			free(rec);
			return -1;
		}
		if (d->f[i].end > next)
			next = d->f[i].end;
	}
	if (n > 0)
		qsort(rec, n, sizeof(*rec), cmp_loaded);
	if (n == 0) {
		/* nothing to send again: the clock, or beyond the last life */
		l->lo = l->hi = next > clock_seq ? next : clock_seq;
	} else {
		size_t bytes = 0;
		/* the ring holds [lo, next): the oldest go when it cannot
		 * (a smaller spool than last time), counted as dropped */
		while (start < n && next - rec[start].seq > l->spool_max)
			start++;
		for (size_t i = n; i > start; i--) {
			if (bytes + rec[i - 1].r->len > l->spool_bytes_max) {
				start = i;
				break;
			}
			bytes += rec[i - 1].r->len;
		}
		l->lo = start < n ? rec[start].seq : next;
		l->hi = next;
		for (size_t i = 0; i < n; i++) {
			struct slot *s;
			if (i < start || (i > start && rec[i].seq == rec[i - 1].seq)) {
				if (i < start)
					l->spool_drops++;
				free(rec[i].r);
				continue;
			}
			s = &l->ring[rec[i].seq % l->spool_max];
			s->r = rec[i].r;
			s->seq = rec[i].seq;
			s->sent_ms = 0;
			s->tries = 0;
			l->used++;
			l->unsent++;
			l->bytes += rec[i].r->len;
			l->recovered++;
		}
	}
	free(rec);
	/* the counters cover what came back: queued == acked + dropped +
	 * backlog holds from the start */
	l->st.queued += l->recovered + l->spool_drops;
	/* each file's share of the bound; write into an empty file */
	d->file_bytes = l->spool_bytes_max / (SPOOL_FILES / 2);
	if (d->file_bytes < FILE_BYTES_MIN)
		d->file_bytes = FILE_BYTES_MIN;
	d->cur = 0;
	for (int i = 0; i < SPOOL_FILES; i++)
		if (d->f[i].bytes == 0) {
			d->cur = i;
			break;
		}
	d->wm = wm;
	state_write(d, l->lo, l->hi);
	fdatasync(d->state_fd);
	disk_maintain(l, true); /* empty what the new mark covers */
	return 0;
}

static void disk_close(struct disk *d)
{
	if (!d)
		return;
	for (int i = 0; i < SPOOL_FILES; i++)
		if (d->f[i].fd >= 0) {
			fdatasync(d->f[i].fd);
			close(d->f[i].fd);
		}
	if (d->state_fd >= 0)
		close(d->state_fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d);
}

/* ---------------- link thread ---------------- */

/* 0 sent, -1 the socket would block (no peer, or its pipe is full) */
static int send_rec(struct mm_link *l, struct slot *s)
{
	uint8_t be[8];
	int f = ZMQ_DONTWAIT | ZMQ_SNDMORE;

	put_be64(be, s->seq);
	/* The first part decides whether the message fits.  A later part
	 * fails only when the connection dies meanwhile: ZeroMQ then drops
	 * the parts already queued, so stop and send it whole next time. */
	if (zmq_send(l->sock, MM_MAGIC, 3, f) < 0 ||
	    zmq_send(l->sock, s->r->kind, strlen(s->r->kind), f) < 0 ||
	    zmq_send(l->sock, l->sensor, strlen(l->sensor), f) < 0 ||
	    zmq_send(l->sock, be, 8, f) < 0 ||
	    zmq_send(l->sock, s->r->json, s->r->len, ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

static struct slot *slot_of(struct mm_link *l, uint64_t seq)
{
	return &l->ring[seq % l->spool_max];
}

/* move the inbox into the spool, numbering each record */
static void take_inbox(struct mm_link *l, struct inrec *r)
{
	while (r) {
		struct inrec *next = r->next;
		r->next = NULL;
		if (l->hi - l->lo >= l->spool_max ||
		    l->bytes + r->len > l->spool_bytes_max) {
			/* the spool is full (the store has been away long):
			 * lose the newest, count it */
			l->spool_drops++;
			free(r);
		} else {
			struct slot *s = slot_of(l, l->hi);
			if (l->disk && disk_append(l, l->hi, r) < 0)
				l->disk_errors++; /* still sent from memory */
			s->r = r;
			s->seq = l->hi;
			s->sent_ms = 0;
			s->tries = 0;
			l->unsent++;
			l->bytes += r->len;
			if (!strcmp(r->kind, "hello")) {
				l->hello_seq = l->hi;
				l->hello_unsent = true;
			}
			l->hi++;
			l->used++;
		}
		r = next;
	}
}

static void send_pass(struct mm_link *l)
{
	uint64_t now = now_ms();
	int burst = RESEND_BURST;

	/* the hello first: the store learns who we are before anything */
	if (l->hello_unsent) {
		struct slot *s = slot_of(l, l->hello_seq);
		if (!s->r || s->seq != l->hello_seq) {
			l->hello_unsent = false;
		} else if (s->sent_ms == 0) {
			if (send_rec(l, s) < 0)
				return;
			s->sent_ms = now;
			s->tries = 1;
			l->sent++;
			l->unsent--;
			l->hello_unsent = false;
		} else {
			l->hello_unsent = false;
		}
	}
	if (l->next_unsent < l->lo)
		l->next_unsent = l->lo;
	while (l->next_unsent < l->hi) {
		struct slot *s = slot_of(l, l->next_unsent);
		if (s->r && s->seq == l->next_unsent && s->sent_ms == 0) {
			if (l->used - l->unsent >= INFLIGHT_MAX)
				break; /* the window is full: acks first */
			if (send_rec(l, s) < 0)
				return;
			s->sent_ms = now;
			s->tries = 1;
			l->sent++;
			l->unsent--;
		}
		l->next_unsent++;
	}
	/* resends: look at a bounded stretch of the spool per round, going
	 * on where the last round stopped, so a big backlog is walked over
	 * several rounds while acks are read in between */
	if (l->used == 0)
		return;
	if (l->cursor < l->lo || l->cursor >= l->hi)
		l->cursor = l->lo;
	/* each slot at most once per round: with a few records out, a scan
	 * of RESEND_SCAN slots went round them thousands of times per wake */
	uint64_t scan = l->hi - l->lo < RESEND_SCAN ? l->hi - l->lo : RESEND_SCAN;
	for (uint64_t n = 0; n < scan && burst > 0; n++) {
		struct slot *s = slot_of(l, l->cursor);
		unsigned shift = s->tries > 0 ? s->tries - 1 : 0;
		if (shift > BACKOFF_MAX_SHIFT)
			shift = BACKOFF_MAX_SHIFT;
		if (s->r && s->seq == l->cursor && s->sent_ms &&
		    now - s->sent_ms >= l->resend_ms << shift) {
			if (send_rec(l, s) < 0)
				return;
			s->sent_ms = now;
			s->tries++;
			l->resent++;
			burst--;
		}
		if (++l->cursor >= l->hi)
			l->cursor = l->lo;
	}
}

static void ack_one(struct mm_link *l, uint64_t seq)
{
	struct slot *s;

	if (seq < l->lo || seq >= l->hi)
		return; /* acked before (a duplicate ack), or not ours */
	s = slot_of(l, seq);
	if (!s->r || s->seq != seq)
		return;
	if (s->sent_ms == 0)
		l->unsent--; /* acked before we sent it: an old life's seq? */
	l->bytes -= s->r->len;
	free(s->r);
	s->r = NULL;
	l->used--;
	l->acked++;
	while (l->lo < l->hi && !slot_of(l, l->lo)->r)
		l->lo++;
}

/* acks from the store: one frame "MM1ack" + 8-byte sequence numbers
 * (see server.c for why one frame); anything else is skipped whole */
static void read_acks(struct mm_link *l)
{
	for (;;) {
		zmq_msg_t m;
		int more;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, l->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		size_t n = zmq_msg_size(&m);
		const uint8_t *p = zmq_msg_data(&m);
		more = zmq_msg_more(&m);
		if (!more && n >= 6 && (n - 6) % 8 == 0 &&
		    !memcmp(p, MM_MAGIC "ack", 6))
			for (size_t o = 6; o < n; o += 8)
				ack_one(l, get_be64(p + o));
		zmq_msg_close(&m);
		/* a message of several frames is none of ours: drain it */
		while (more) {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, l->sock, 0) < 0) {
				zmq_msg_close(&m);
				break;
			}
			more = zmq_msg_more(&m);
			zmq_msg_close(&m);
		}
	}
}

static void publish(struct mm_link *l)
{
	pthread_mutex_lock(&l->mu);
	l->st.sent = l->sent;
	l->st.resent = l->resent;
	l->st.acked = l->acked;
	/* inbox drops are counted by the producers under the same lock */
	l->st.dropped += l->spool_drops;
	l->spool_drops = 0;
	l->st.backlog = l->used + l->in_n;
	l->st.spool_bytes = l->bytes;
	l->st.recovered = l->recovered;
	l->st.disk_errors = l->disk_errors;
	l->st.beats = l->beats;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/*
 * The heartbeat: the link's counters, and in the seq frame the lowest
 * seq this sensor may still send again (the store may forget the
 * (sensor, seq) pairs below it).  Best effort: not spooled, not acked.
 */
static void send_beat(struct mm_link *l)
{
	struct mm_link_stats st;
	char json[640], ts[40];
	uint8_t be[8];
	struct timespec now;
	int n, f = ZMQ_DONTWAIT | ZMQ_SNDMORE;
	/* with a disk spool, what is on disk below its mark may come back
	 * after a restart: promise only that */
	uint64_t below = l->disk ? (l->disk->wm < l->lo ? l->disk->wm : l->lo)
				 : l->lo;

	mm_link_stats(l, &st);
	clock_gettime(CLOCK_REALTIME, &now);
	mm_format_ts(ts, sizeof(ts), now.tv_sec, now.tv_nsec / 1000);
	n = snprintf(json, sizeof(json),
		     "{\"timestamp\":\"%s\",\"queued\":%llu,\"sent\":%llu,"
		     "\"resent\":%llu,\"acknowledged\":%llu,\"dropped\":%llu,"
		     "\"backlog\":%llu,\"spool_bytes\":%llu,\"spool_max\":%zu,"
		     "\"disk_spool\":%s,\"recovered\":%llu,"
		     "\"disk_errors\":%llu}",
		     ts, (unsigned long long)st.queued,
		     (unsigned long long)st.sent, (unsigned long long)st.resent,
		     (unsigned long long)st.acked,
		     (unsigned long long)st.dropped,
		     (unsigned long long)st.backlog,
		     (unsigned long long)st.spool_bytes, l->spool_max,
		     l->disk ? "true" : "false",
		     (unsigned long long)st.recovered,
		     (unsigned long long)st.disk_errors);
	put_be64(be, below);
	if (zmq_send(l->sock, MM_MAGIC, 3, f) < 0 ||
	    zmq_send(l->sock, "beat", 4, f) < 0 ||
	    zmq_send(l->sock, l->sensor, strlen(l->sensor), f) < 0 ||
	    zmq_send(l->sock, be, 8, f) < 0 ||
	    zmq_send(l->sock, json, (size_t)n, ZMQ_DONTWAIT) < 0)
		return; /* not connected: the next one, then */
	l->beats++;
}

static void *link_thread(void *arg)
{
	struct mm_link *l = arg;
	zmq_pollitem_t it[2] = {
		{.socket = l->sock, .events = ZMQ_POLLIN},
		{.socket = NULL, .fd = l->efd, .events = ZMQ_POLLIN},
	};

	for (;;) {
		struct inrec *in;
		bool stop;
		long timeout;
		uint64_t now;

		/* hold the lock for a pointer swap only; st.backlog still
		 * counts these records until publish() recounts it */
		pthread_mutex_lock(&l->mu);
		in = l->in_head;
		l->in_head = l->in_tail = NULL;
		l->in_n = 0;
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		take_inbox(l, in);
		if (stop)
			break;
		send_pass(l);
		publish(l);
		disk_maintain(l, false);
		now = now_ms();
		if (l->beat_ms > 0 && now >= l->next_beat) {
			uint64_t before = l->beats;
			send_beat(l);
			/* not connected yet: try again soon, so a store learns
			 * of a new sensor's link without a full period */
			l->next_beat = now + (l->beats > before
						      ? (uint64_t)l->beat_ms
						      : 250);
		}

		/* with records out: wake often enough to resend in time and
		 * to notice a store that came back; idle: sleep until woken
		 * (or the next heartbeat, or the disk's next sync) */
		if (l->used == 0)
			timeout = -1;
		else if (l->unsent > 0 && l->used - l->unsent < INFLIGHT_MAX)
			timeout = 20;
		else
			timeout = (long)(l->resend_ms / 2 > 50 ? 50
							       : l->resend_ms / 2 + 1);
		if (l->beat_ms > 0) {
			long b = (long)(l->next_beat - now);
			if (timeout < 0 || b < timeout)
				timeout = b > 0 ? b : 0;
		}
		if (l->disk && (l->disk->dirty || l->disk->wm != l->lo) &&
		    (timeout < 0 || timeout > SYNC_MS))
			timeout = SYNC_MS;
		if (zmq_poll(it, 2, timeout) < 0 && errno != EINTR)
			break; /* the context is being terminated */
		if (it[1].revents & ZMQ_POLLIN) {
			uint64_t v;
			if (read(l->efd, &v, sizeof(v)) < 0) {
				/* EAGAIN: someone else's wake-up, fine */
			}
		}
		if (it[0].revents & ZMQ_POLLIN)
			read_acks(l);
		publish(l);
	}
	/* what is left stays on disk for the next start */
	disk_maintain(l, true);
	publish(l);
	if (l->beat_ms > 0) {
		/* a last heartbeat, so the store shows how this life ended
		 * (a moment of linger lets it leave; records ZeroMQ still
		 * holds may go too: the store keeps one of each) */
		int v = 200;
		send_beat(l);
		zmq_setsockopt(l->sock, ZMQ_LINGER, &v, sizeof(v));
	}
	return NULL;
}

/* ---------------- lifecycle ---------------- */

static int curve_client(struct mm_link *l, const struct mm_link_opts *o,
			char *err, size_t errlen)
{
	char secret[MM_KEY_Z85_LEN + 1], public[MM_KEY_Z85_LEN + 1],
		server[MM_KEY_Z85_LEN + 1];
	int rc = -1;

	if (!o->curve_secret || !o->store_public) {
		snprintf(err, errlen,
			 "link: CurveZMQ needs both the sensor's secret key "
			 "(--curve-secret) and the store's public key "
			 "(--store-public)");
		return -1;
	}
	if (mm_key_load(o->curve_secret, true, secret, err, errlen) ||
	    mm_key_load(o->store_public, false, server, err, errlen))
		goto out;
	if (zmq_curve_public(public, secret) != 0) {
		snprintf(err, errlen, "%s: cannot derive the public key: %s",
			 o->curve_secret, zmq_strerror(errno));
		goto out;
	}
	if (zmq_setsockopt(l->sock, ZMQ_CURVE_SERVERKEY, server,
			   MM_KEY_Z85_LEN) ||
	    zmq_setsockopt(l->sock, ZMQ_CURVE_PUBLICKEY, public,
			   MM_KEY_Z85_LEN) ||
	    zmq_setsockopt(l->sock, ZMQ_CURVE_SECRETKEY, secret,
			   MM_KEY_Z85_LEN)) {
		snprintf(err, errlen, "link: CurveZMQ: %s", zmq_strerror(errno));
		goto out;
	}
	rc = 0;
out:
	memset(secret, 0, sizeof(secret));
	return rc;
}

struct mm_link *mm_link_new(void *zctx, const struct mm_link_opts *o,
			    char *err, size_t errlen)
{
	struct mm_link *l;
	struct timespec now;
	pthread_condattr_t ca;
	uint64_t clock_seq;
	int v;

	if (!o || !o->endpoint || !o->sensor || !*o->sensor) {
		snprintf(err, errlen, "link: endpoint and sensor id required");
		return NULL;
	}
	if (strlen(o->sensor) > SENSOR_MAX) {
		snprintf(err, errlen, "link: sensor id longer than %d bytes",
			 SENSOR_MAX);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->efd = -1;
	snprintf(l->sensor, sizeof(l->sensor), "%s", o->sensor);
	l->spool_max = o->spool_max ? o->spool_max : 100000;
	l->spool_bytes_max = o->spool_bytes ? o->spool_bytes
					    : SPOOL_BYTES_DEFAULT;
	l->resend_ms = o->resend_ms > 0 ? (uint64_t)o->resend_ms : 1000;
	l->beat_ms = o->beat_ms == 0 ? BEAT_MS_DEFAULT : o->beat_ms;
	l->in_max = l->spool_max < INBOX_MIN   ? INBOX_MIN
		    : l->spool_max > INBOX_MAX ? INBOX_MAX
					       : l->spool_max;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	l->ring = calloc(l->spool_max, sizeof(*l->ring));
	if (!l->ring) {
		snprintf(err, errlen, "link: cannot allocate a spool of %zu",
			 l->spool_max);
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	clock_seq = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	if (o->spool_dir) {
		if (disk_open(l, o->spool_dir, clock_seq, err, errlen))
			goto fail;
	} else {
		l->lo = l->hi = clock_seq;
	}
	l->next_unsent = l->cursor = l->lo;
	publish(l);
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->efd < 0) {
		snprintf(err, errlen, "link: eventfd: %s", strerror(errno));
		goto fail;
	}
	if (zctx) {
		l->zctx = zctx;
	} else {
		l->zctx = zmq_ctx_new();
		l->own_ctx = true;
		if (!l->zctx) {
			snprintf(err, errlen, "zmq_ctx_new: %s",
				 zmq_strerror(errno));
			goto fail;
		}
	}
	l->sock = zmq_socket(l->zctx, ZMQ_DEALER);
	if (!l->sock) {
		snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
		goto fail;
	}
	if ((o->curve_secret || o->store_public) &&
	    curve_client(l, o, err, errlen))
		goto fail;
	/* unacknowledged records are in the spool, not in ZeroMQ's queues:
	 * nothing to wait for at close */
	v = 0;
	zmq_setsockopt(l->sock, ZMQ_LINGER, &v, sizeof(v));
	/* queue only to a connected store, so sends to a dead one fail at
	 * once (EAGAIN) and stay unsent in the spool */
	v = 1;
	zmq_setsockopt(l->sock, ZMQ_IMMEDIATE, &v, sizeof(v));
	if (strstr(o->endpoint, "://["))
		zmq_setsockopt(l->sock, ZMQ_IPV6, &v, sizeof(v));
	v = 10000;
	zmq_setsockopt(l->sock, ZMQ_SNDHWM, &v, sizeof(v));
	v = 100000;
	zmq_setsockopt(l->sock, ZMQ_RCVHWM, &v, sizeof(v));
	v = 100;
	zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL, &v, sizeof(v));
	v = 2000;
	zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL_MAX, &v, sizeof(v));
	/* notice a store that vanished without closing the connection */
	v = 1000;
	zmq_setsockopt(l->sock, ZMQ_HEARTBEAT_IVL, &v, sizeof(v));
	v = 5000;
	zmq_setsockopt(l->sock, ZMQ_HEARTBEAT_TIMEOUT, &v, sizeof(v));
	if (zmq_connect(l->sock, o->endpoint) != 0) {
		snprintf(err, errlen, "link: cannot connect to %s: %s",
			 o->endpoint, zmq_strerror(errno));
		goto fail;
	}
	/* the socket moves to the link thread; pthread_create is the full
	 * memory barrier ZeroMQ asks for when a socket changes threads */
	if (pthread_create(&l->thread, NULL, link_thread, l) != 0) {
		snprintf(err, errlen, "link: cannot start its thread");
		goto fail;
	}
	l->started = true;
	return l;
fail:
	mm_link_free(l);
	return NULL;
}

uint64_t mm_link_flush(struct mm_link *l, int timeout_ms)
{
	struct timespec dl;
	uint64_t left;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->mu);
	while (l->st.backlog > 0 && l->started && !l->stop) {
		if (pthread_cond_timedwait(&l->cv, &l->mu, &dl) == ETIMEDOUT)
			break;
	}
	left = l->st.backlog;
	pthread_mutex_unlock(&l->mu);
	return left;
}

void mm_link_stats(struct mm_link *l, struct mm_link_stats *st)
{
	pthread_mutex_lock(&l->mu);
	*st = l->st;
	pthread_mutex_unlock(&l->mu);
}

void mm_link_free(struct mm_link *l)
{
	if (!l)
		return;
	if (l->started) {
		uint64_t one = 1;
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_mutex_unlock(&l->mu);
		if (write(l->efd, &one, sizeof(one)) < 0) {
			/* the counter is non-zero: it wakes anyway */
		}
		pthread_join(l->thread, NULL);
	}
	if (l->sock)
		zmq_close(l->sock);
	if (l->own_ctx && l->zctx)
		zmq_ctx_term(l->zctx);
	if (l->ring) {
		for (size_t i = 0; i < l->spool_max; i++)
			free(l->ring[i].r);
		free(l->ring);
	}
	while (l->in_head) {
		struct inrec *n = l->in_head->next;
		free(l->in_head);
		l->in_head = n;
	}
	disk_close(l->disk);
	if (l->efd >= 0)
		close(l->efd);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
