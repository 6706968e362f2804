/*
 * forward.c - new alerts from the store to a SOC's syslog, as JSON or CEF.
 *
 * The store's thread only queues (a copy of the EVE record and the site),
 * never waits: the queue is bounded, the excess is counted as dropped.
 * This module's thread formats and sends:
 *   udp://HOST:PORT  RFC 5424 message, one datagram each (RFC 5426)
 *   tcp://HOST:PORT  RFC 5424 messages with octet counting (RFC 6587
 *                    3.4.1: "LEN SP MSG"), reconnecting with backoff
 *   unix://PATH      the local socket (/dev/log): one datagram each, in the
 *                    local format syslog(3) writes ("<PRI>Mmm dd hh:mm:ss
 *                    TAG[PID]: MSG"), which is what journald and rsyslog
 *                    parse on that socket (they do not take RFC 5424 there)
 * Facility local0.  Syslog severity from the alert's (1 = highest):
 * 1 critical, 2 error, 3 warning, 4 and lower notice.
 *
 * A message that cannot be sent (the server is down) waits in the queue
 * while the bound allows; the thread retries the connection every few
 * seconds.  UDP has no way to know: what the network loses is lost.
 */
#include "store.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/rec.h"

#define FACILITY_LOCAL0 16
#define APP_NAME "mimamori-store"
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 10000

enum transport { T_UDP, T_TCP, T_UNIX };

struct item {
	struct item *next;
	size_t len;
	char site[128];
	char json[];
};

struct store_fwd {
	enum transport t;
	enum store_fwd_format fmt;
	char host[256], port[16], path[108];
	char hostname[256];
	int fd;
	uint64_t retry_at;   /* monotonic ms: no connection attempt before */
	int retry_ms;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, *tail;
	size_t n, max;
	bool stop;
	struct store_fwd_stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------- formats ---------------- */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : NULL;
}

/* a growing string */
struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void bput(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void bstr(struct buf *b, const char *s)
{
	bput(b, s, strlen(s));
}

/* CEF header field: '\' and '|' escaped; line breaks become spaces */
static void cef_head(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '|')
			bput(b, "\\", 1);
		bput(b, *s == '\n' || *s == '\r' ? " " : s, 1);
	}
}

/* CEF extension value: '\' and '=' escaped, line breaks as \n \r */
static void cef_ext(struct buf *b, const char *key, const char *v)
{
	if (!v || !*v)
		return;
	if (b->len && b->p[b->len - 1] != '|')
		bput(b, " ", 1);
	bstr(b, key);
	bput(b, "=", 1);
	for (; *v; v++) {
		if (*v == '\\' || *v == '=')
			bput(b, "\\", 1);
		if (*v == '\n')
			bstr(b, "\\n");
		else if (*v == '\r')
			bstr(b, "\\r");
		else
			bput(b, v, 1);
	}
}

static void cef_ext_int(struct buf *b, const char *key, json_t *v)
{
	char n[32];

	if (!json_is_integer(v))
		return;
	snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
	cef_ext(b, key, n);
}

static int syslog_sev(int sev)
{
	return sev <= 1 ? 2 : sev == 2 ? 3 : sev == 3 ? 4 : 5;
}

static int cef_sev(int sev)
{
	return sev <= 1 ? 10 : sev == 2 ? 8 : sev == 3 ? 5 : 3;
}

char *store_fwd_format(enum store_fwd_format f, const char *site,
		       const char *json, size_t len, int *sev, char *ts,
		       size_t tslen)
{
	json_t *root = json_loadb(json, len, 0, NULL), *alert;
	struct buf b = {0};
	int s;

	if (!json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	alert = json_object_get(root, "alert");
	s = json_is_integer(json_object_get(alert, "severity"))
		    ? (int)json_integer_value(json_object_get(alert, "severity"))
		    : 3;
	*sev = syslog_sev(s);
	if (ts && tslen)
		snprintf(ts, tslen, "%s",
			 jstr(root, "timestamp") ? jstr(root, "timestamp") : "");
	if (f == STORE_FWD_JSON) {
		char *out;
		if (site && *site && !json_object_get(root, "site"))
			json_object_set_new(root, "site", json_string(site));
		out = json_dumps(root, JSON_COMPACT);
		json_decref(root);
		return out;
	}
	/* CEF:Version|Device Vendor|Device Product|Device Version|
	 * Signature ID|Name|Severity|Extension */
	{
		char sid[32], sevs[8];
		json_t *id = json_object_get(alert, "signature_id");
		int64_t sec, usec;
		const char *sig = jstr(alert, "signature");
		if (json_is_integer(id))
			snprintf(sid, sizeof(sid), "%lld",
				 (long long)json_integer_value(id));
		else
			snprintf(sid, sizeof(sid), "%s", sig ? sig : "0");
		snprintf(sevs, sizeof(sevs), "%d", cef_sev(s));
		bstr(&b, "CEF:0|mimamori|mimamori|1|");
		cef_head(&b, sid);
		bstr(&b, "|");
		cef_head(&b, sig ? sig : "alert");
		bstr(&b, "|");
		bstr(&b, sevs);
		bstr(&b, "|");
		if (jstr(root, "timestamp") &&
		    !store_ts_parse(jstr(root, "timestamp"), &sec, &usec)) {
			char rt[32];
			snprintf(rt, sizeof(rt), "%lld",
				 (long long)(sec * 1000 + usec / 1000));
			cef_ext(&b, "rt", rt);
		}
		cef_ext(&b, "src", jstr(root, "src_ip"));
		cef_ext_int(&b, "spt", json_object_get(root, "src_port"));
		cef_ext(&b, "dst", jstr(root, "dest_ip"));
		cef_ext_int(&b, "dpt", json_object_get(root, "dest_port"));
		cef_ext(&b, "proto", jstr(root, "proto"));
		cef_ext(&b, "app", jstr(root, "app_proto"));
		cef_ext(&b, "cat", jstr(alert, "category"));
		cef_ext(&b, "msg", jstr(alert, "cause"));
		cef_ext(&b, "deviceExternalId", jstr(root, "sensor"));
		if (jstr(root, "src_zone")) {
			cef_ext(&b, "cs1Label", "srcZone");
			cef_ext(&b, "cs1", jstr(root, "src_zone"));
		}
		if (jstr(root, "dest_zone")) {
			cef_ext(&b, "cs2Label", "destZone");
			cef_ext(&b, "cs2", jstr(root, "dest_zone"));
		}
		if (site && *site) {
			cef_ext(&b, "cs3Label", "site");
			cef_ext(&b, "cs3", site);
		}
	}
	json_decref(root);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---------------- transport ---------------- */

static void close_fd(struct store_fwd *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void backoff(struct store_fwd *f)
{
	f->retry_ms = f->retry_ms ? f->retry_ms * 2 : RETRY_MIN_MS;
	if (f->retry_ms > RETRY_MAX_MS)
		f->retry_ms = RETRY_MAX_MS;
	f->retry_at = now_ms() + (uint64_t)f->retry_ms;
}

/* 0 connected (a datagram socket: associated), -1 not now */
static int fwd_connect(struct store_fwd *f)
{
	if (f->fd >= 0)
		return 0;
	if (now_ms() < f->retry_at)
		return -1;
	if (f->t == T_UNIX) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->path);
		f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (f->fd < 0 ||
		    connect(f->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close_fd(f);
			backoff(f);
			return -1;
		}
	} else {
		struct addrinfo hints = {0}, *res = NULL, *ai;
		hints.ai_socktype = f->t == T_TCP ? SOCK_STREAM : SOCK_DGRAM;
		if (getaddrinfo(f->host, f->port, &hints, &res) != 0) {
			backoff(f);
			return -1;
		}
		for (ai = res; ai; ai = ai->ai_next) {
			f->fd = socket(ai->ai_family,
				       ai->ai_socktype | SOCK_CLOEXEC,
				       ai->ai_protocol);
			if (f->fd < 0)
				continue;
			/* a dead server must not hold the thread for long:
			 * on Linux the send timeout bounds connect() too */
			struct timeval tv = {.tv_sec = 3};
			setsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				   sizeof(tv));
			if (connect(f->fd, ai->ai_addr, ai->ai_addrlen) == 0)
				break;
			close_fd(f);
		}
		freeaddrinfo(res);
		if (f->fd < 0) {
			backoff(f);
			return -1;
		}
	}
	f->retry_ms = 0;
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* the whole line for one alert; malloc'ed, or NULL (bad record) */
static char *frame(struct store_fwd *f, const struct item *it, size_t *out)
{
	int sev;
	char ts[64], *msg, *line;
	size_t n;
	int pri;

	msg = store_fwd_format(f->fmt, it->site, it->json, it->len, &sev, ts,
			       sizeof(ts));
	if (!msg)
		return NULL;
	pri = FACILITY_LOCAL0 * 8 + sev;
	n = strlen(msg) + strlen(f->hostname) + 200;
	line = malloc(n);
	if (!line) {
		free(msg);
		return NULL;
	}
	if (f->t == T_UNIX) {
		/* the local format: no version, no host name */
		static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr",
						  "May", "Jun", "Jul", "Aug",
						  "Sep", "Oct", "Nov", "Dec"};
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		snprintf(line, n, "<%d>%s %2d %02d:%02d:%02d " APP_NAME
				  "[%d]: %s",
			 pri, mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)getpid(), msg);
	} else {
		/* RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
		 * STRUCTURED-DATA MSG; the alert's own time stamps it */
		int64_t s, u;
		char stamp[40];
		if (!ts[0] || store_ts_parse(ts, &s, &u)) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			s = now.tv_sec;
			u = now.tv_nsec / 1000;
		}
		mm_format_ts(stamp, sizeof(stamp), s, u);
		snprintf(line, n, "<%d>1 %s %s " APP_NAME " %d alert - %s", pri,
			 stamp, f->hostname, (int)getpid(), msg);
	}
	free(msg);
	*out = strlen(line);
	return line;
}

/* 1 sent or given up (bad record), 0 retry later */
static int send_item(struct store_fwd *f, const struct item *it)
{
	size_t n;
	char *line = frame(f, it, &n);
	int rc;

	if (!line) {
		f->st.errors++;
		return 1;
	}
	if (fwd_connect(f)) {
		free(line);
		return 0;
	}
	if (f->t == T_TCP) {
		char pre[24];
		int pl = snprintf(pre, sizeof(pre), "%zu ", n);
		rc = send_all(f->fd, pre, (size_t)pl) || send_all(f->fd, line, n)
			     ? -1
			     : 0;
	} else {
		rc = send(f->fd, line, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
	}
	free(line);
	if (rc == 0)
		return 1;
	/* a datagram too large for the socket will never fit: drop it */
	if (errno == EMSGSIZE) {
		f->st.errors++;
		return 1;
	}
	close_fd(f);
	backoff(f);
	return 0;
}

static void *fwd_thread(void *arg)
{
	struct store_fwd *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		struct item *it;
		while (!f->head && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (!f->head || f->stop)
			break; /* store_fwd_free drained what it could */
		it = f->head;
		pthread_mutex_unlock(&f->mu);
		int done = send_item(f, it);
		pthread_mutex_lock(&f->mu);
		if (done) {
			f->head = it->next;
			if (!f->head)
				f->tail = NULL;
			f->n--;
			f->st.sent++;
			free(it);
		} else if (f->stop) {
			break;
		} else {
			/* wait for the retry time, or a stop */
			struct timespec dl;
			uint64_t wait = f->retry_at > now_ms()
						? f->retry_at - now_ms()
						: 10;
			clock_gettime(CLOCK_MONOTONIC, &dl);
			dl.tv_sec += (time_t)(wait / 1000);
			dl.tv_nsec += (long)(wait % 1000) * 1000000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&f->cv, &f->mu, &dl);
		}
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* ---------------- lifecycle ---------------- */

static int parse_target(struct store_fwd *f, const char *t, char *err,
			size_t errlen)
{
	const char *hp, *colon;

	if (!strncmp(t, "unix://", 7)) {
		f->t = T_UNIX;
		if (!t[7] || strlen(t + 7) >= sizeof(f->path)) {
			snprintf(err, errlen, "%s: a socket path is needed "
				 "(unix:///dev/log)", t);
			return -1;
		}
		snprintf(f->path, sizeof(f->path), "%s", t + 7);
		return 0;
	}
	if (!strncmp(t, "udp://", 6))
		f->t = T_UDP;
	else if (!strncmp(t, "tcp://", 6))
		f->t = T_TCP;
	else {
		snprintf(err, errlen,
			 "%s: syslog target must be udp://HOST:PORT, "
			 "tcp://HOST:PORT or unix:///dev/log",
			 t);
		return -1;
	}
	hp = t + 6;
	if (*hp == '[') {
		const char *close = strchr(hp, ']');
		if (!close || close[1] != ':')
			goto bad;
		snprintf(f->host, sizeof(f->host), "%.*s",
			 (int)(close - hp - 1), hp + 1);
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon || colon == hp)
			goto bad;
		snprintf(f->host, sizeof(f->host), "%.*s", (int)(colon - hp),
			 hp);
	}
	if (!colon[1] || strlen(colon + 1) >= sizeof(f->port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		goto bad;
	snprintf(f->port, sizeof(f->port), "%s", colon + 1);
	return 0;
bad:
	snprintf(err, errlen, "%s: expected %s://HOST:PORT", t,
		 f->t == T_TCP ? "tcp" : "udp");
	return -1;
}

struct store_fwd *store_fwd_new(const char *target, enum store_fwd_format fmt,
				int queue_max, char *err, size_t errlen)
{
	struct store_fwd *f = calloc(1, sizeof(*f));

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->fd = -1;
	f->fmt = fmt;
	f->max = queue_max > 0 ? (size_t)queue_max : 10000;
	if (!target || parse_target(f, target, err, errlen)) {
		if (!target)
			snprintf(err, errlen, "no syslog target");
		free(f);
		return NULL;
	}
	if (gethostname(f->hostname, sizeof(f->hostname) - 1) != 0 ||
	    !f->hostname[0])
		snprintf(f->hostname, sizeof(f->hostname), "-");
	/* RFC 5424 HOSTNAME: printable US-ASCII without spaces */
	for (char *p = f->hostname; *p; p++)
		if (*p <= ' ' || *p > '~')
			*p = '_';
	pthread_mutex_init(&f->mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (pthread_create(&f->thread, NULL, fwd_thread, f) != 0) {
		snprintf(err, errlen, "syslog: cannot start its thread");
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cv);
		free(f);
		return NULL;
	}
	return f;
}

int store_fwd_push(struct store_fwd *f, const char *site, const char *json,
		   size_t len)
{
	struct item *it = malloc(sizeof(*it) + len + 1);
	bool wake;

	pthread_mutex_lock(&f->mu);
	f->st.queued++;
	if (!it || f->n >= f->max || f->stop) {
		f->st.dropped++;
		pthread_mutex_unlock(&f->mu);
		free(it);
		return -1;
	}
	it->next = NULL;
	it->len = len;
	snprintf(it->site, sizeof(it->site), "%s", site ? site : "");
	memcpy(it->json, json, len);
	it->json[len] = '\0';
	wake = !f->head;
	if (f->tail)
		f->tail->next = it;
	else
		f->head = it;
	f->tail = it;
	f->n++;
	if (wake)
		pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

void store_fwd_stats(struct store_fwd *f, struct store_fwd_stats *st)
{
	pthread_mutex_lock(&f->mu);
	*st = f->st;
	pthread_mutex_unlock(&f->mu);
}

void store_fwd_free(struct store_fwd *f, int drain_ms)
{
	uint64_t until;

	if (!f)
		return;
	/* let the thread send what is queued, for a while */
	until = now_ms() + (uint64_t)(drain_ms > 0 ? drain_ms : 0);
	for (;;) {
		bool empty;
		pthread_mutex_lock(&f->mu);
		empty = !f->head;
		pthread_mutex_unlock(&f->mu);
		if (empty || now_ms() >= until)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	while (f->head) {
		struct item *n = f->head->next;
		f->st.dropped++;
		free(f->head);
		f->head = n;
	}
	close_fd(f);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
