/*
 * tcpfast.c - the in-order fast path around libnids.
 *
 * Nearly every TCP segment a plant's ICS connections carry is the next
 * one its receiver expects: a poll, its answer, their acknowledgements.
 * For those libnids does little (tcp.c, process_tcp: window and PAWS
 * checks, handle_ack, tcp_queue -> add_from_skb -> add2buf, notify ->
 * ride_lurkers) but reaches it through IP header validation, the
 * defragmenter and a second stream lookup, about 600 instructions a
 * packet.  For such a segment this file makes exactly the changes libnids
 * would make to the stream, in libnids' order, and calls the stream's
 * listeners as libnids would; anything else (handshakes, FIN, RST, URG,
 * a segment ahead of a hole or behind the window, a stream with queued
 * segments or a due closing timeout, IP options) goes to libnids
 * untouched.  Every condition is checked before anything is changed, so a
 * segment either takes this path completely or not at all.
 *
 * What is left out, knowingly: libnids' defragmenter sees only the
 * packets that reach it, so its fragment queues (expired by wall-clock
 * time, and by an unfragmented packet reusing a queue's IP id) age until
 * the next packet it sees; TCP fragments are rare and their queues are
 * bounded by libnids.
 *
 * libnids' stream fields are public (nids.h); its listener list and
 * collect bits are not: struct lurker_node (util.h) and COLLECT_* (tcp.c)
 * are mirrored below.  libnids 1.x has not changed them since 1.18; the
 * unit test feeds the same captures through both paths and compares.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nids.h>
#include <stdlib.h>
#include <string.h>

#include "sensor.h"
#include "tcpfast.h"

/* libnids util.h: one listener of a stream (our tcp_callback, normally) */
struct nids_lurker {
	void (*item)(struct tcp_stream *, void **);
	void *data;
	char whatto;
	struct nids_lurker *next;
};

/* libnids tcp.c: what a listener collects (lurker whatto bits) */
enum {
	COLLECT_CC = 1,  /* client data */
	COLLECT_SC = 2,  /* server data */
	COLLECT_CCU = 4, /* client urgent data */
	COLLECT_SCU = 8  /* server urgent data */
};

/* RFC 793 sequence-space comparisons, as libnids' before()/after() */
static inline bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/*
 * The TCP timestamp option's TSval (RFC 7323 section 3), found as libnids'
 * get_ts() finds it: scanning only while ten option bytes remain, and
 * stopping at end-of-list or a length below two.  t points at the TCP
 * header, thl bytes long (at least 20).
 */
static bool tcp_tsval(const uint8_t *t, size_t thl, uint32_t *ts)
{
	const uint8_t *o = t + 20;
	int len = (int)thl - 20, i = 0;
	bool found = false;

	while (i <= len - 10) {
		if (o[i] == 0) /* end of option list */
			return found;
		if (o[i] == 1) { /* no-operation */
			i++;
			continue;
		}
		if (o[i] == 8) {
			*ts = (uint32_t)o[i + 2] << 24 | (uint32_t)o[i + 3] << 16 |
			      (uint32_t)o[i + 4] << 8 | o[i + 5];
			found = true;
		}
		if (o[i + 1] < 2)
			return found;
		i += o[i + 1];
	}
	return found;
}

/* libnids add2buf(), in two steps: room for len more bytes, grown the
 * same way (libnids frees the buffer with free()), then the copy */
static bool buf_reserve(struct half_stream *rcv, int len)
{
	int size;
	char *p;

	if (len + rcv->count - rcv->offset <= rcv->bufsize)
		return true;
	if (!rcv->data)
		size = len < 2048 ? 4096 : len * 2;
	else
		size = len < rcv->bufsize ? 2 * rcv->bufsize : rcv->bufsize + 2 * len;
	p = realloc(rcv->data, (size_t)size);
	if (!p)
		return false;
	rcv->data = p;
	rcv->bufsize = size;
	return true;
}

static void buf_put(struct half_stream *rcv, const uint8_t *data, int len)
{
	memcpy(rcv->data + rcv->count - rcv->offset, data, (size_t)len);
	rcv->count_new = len;
	rcv->count += len;
}

/* libnids ride_lurkers(): call each listener that collects what mask
 * names, and follow the collect counts it changed (flow_exclude) */
static void ride_listeners(struct tcp_stream *a, char mask)
{
	for (struct nids_lurker *i = (struct nids_lurker *)a->listeners; i;
	     i = i->next) {
		char cc, sc, ccu, scu;

		if (!(i->whatto & mask))
			continue;
		cc = a->client.collect;
		sc = a->server.collect;
		ccu = a->client.collect_urg;
		scu = a->server.collect_urg;
		i->item(a, &i->data);
		if (cc < a->client.collect)
			i->whatto |= COLLECT_CC;
		if (ccu < a->client.collect_urg)
			i->whatto |= COLLECT_CCU;
		if (sc < a->server.collect)
			i->whatto |= COLLECT_SC;
		if (scu < a->server.collect_urg)
			i->whatto |= COLLECT_SCU;
		if (cc > a->client.collect)
			i->whatto &= ~COLLECT_CC;
		if (ccu > a->client.collect_urg)
			i->whatto &= ~COLLECT_CCU;
		if (sc > a->server.collect)
			i->whatto &= ~COLLECT_SC;
		if (scu > a->server.collect_urg)
			i->whatto &= ~COLLECT_SCU;
	}
}

/* libnids notify() for plain data: listeners read, then what they did not
 * keep (nids_discard) is dropped from the front of the buffer; listeners
 * that collect nothing any more are let go */
static void notify(struct tcp_stream *a, struct half_stream *rcv)
{
	struct nids_lurker **prev = (struct nids_lurker **)&a->listeners;
	int total;

	a->read = rcv->count - rcv->offset;
	total = a->read;
	ride_listeners(a, rcv == &a->client ? COLLECT_CC : COLLECT_SC);
	if (a->read > total - rcv->count_new)
		rcv->count_new = total - a->read;
	if (a->read > 0) {
		memmove(rcv->data, rcv->data + a->read,
			(size_t)(rcv->count - rcv->offset - a->read));
		rcv->offset += a->read;
	}
	rcv->count_new = 0;
	while (*prev) {
		struct nids_lurker *i = *prev;

		if (!i->whatto) {
			*prev = i->next;
			free(i);
		} else {
			prev = &i->next;
		}
	}
}

/*
 * Could libnids' process_tcp() take this segment without queueing,
 * dropping or a state change other than the acknowledgement, window and
 * data?  The checks are process_tcp's, in its order.
 */
static bool in_order(const struct tcp_stream *a, const struct half_stream *snd,
		     const struct half_stream *rcv, const struct tcpfast_seg *s,
		     uint32_t *ts, bool *has_ts)
{
	if (a->nids_state != NIDS_DATA || snd->state != TCP_ESTABLISHED ||
	    rcv->state != TCP_ESTABLISHED)
		return false;
	/* a due closing timeout fires in nids_pcap_handler() first */
	if (nids_tcp_timeouts &&
	    nids_tcp_timeouts->timeout.tv_sec <= mm.now.tv_sec)
		return false;
	/* queued segments, urgent data pending, a queue to prune */
	if (rcv->list || rcv->rmem_alloc || rcv->urg_seen || rcv->count_new_urg)
		return false;
	/* libnids drops a segment outside the receive window */
	if (!(s->datalen == 0 && s->seq == rcv->ack_seq) &&
	    (!seq_before(s->seq, rcv->ack_seq + rcv->window * rcv->wscale) ||
	     seq_before(s->seq + s->datalen, rcv->ack_seq)))
		return false;
	*has_ts = tcp_tsval(s->tcp, s->thl, ts);
	/* ... and one that fails PAWS (RFC 7323 section 5) */
	if (rcv->ts_on && *has_ts && seq_before(*ts, snd->curr_ts))
		return false;
	/* data: exactly the next byte expected (tcp.c EXP_SEQ) */
	if (s->datalen &&
	    s->seq != snd->first_data_seq + (uint32_t)rcv->count +
			      (uint32_t)rcv->urg_count)
		return false;
	/* a stream past a gigabyte is libnids' (its counters are ints) */
	if (s->datalen > (uint32_t)(0x3fffffff - rcv->count))
		return false;
	return true;
}

bool tcpfast_segment(struct tcp_stream *a, bool from_client,
		     const struct tcpfast_seg *s)
{
	struct half_stream *snd = from_client ? &a->client : &a->server;
	struct half_stream *rcv = from_client ? &a->server : &a->client;
	uint32_t ts = 0;
	bool has_ts = false;

	if ((s->flags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) != TH_ACK)
		return false;
	if (!in_order(a, snd, rcv, s, &ts, &has_ts))
		return false;
	/* room for the data first: when that fails nothing has changed, and
	 * libnids meets the same shortage (no_mem: it says where) */
	if (s->datalen && rcv->collect && !buf_reserve(rcv, (int)s->datalen))
		return false;

	/* handle_ack(): the sender's highest acknowledgement */
	if ((int32_t)(s->ack - snd->ack_seq) > 0)
		snd->ack_seq = s->ack;
	if (s->datalen) {
		/* tcp_queue() -> add_from_skb() for an in-order segment */
		if (has_ts)
			snd->curr_ts = ts;
		if (rcv->collect) {
			buf_put(rcv, s->data, (int)s->datalen); /* room made above */
			notify(a, rcv);
		} else {
			rcv->count += (int)s->datalen;
			rcv->offset = rcv->count; /* nothing is kept */
		}
	}
	snd->window = s->window;
	mm.st.tcp_fast++;
	if (!a->listeners)
		nids_free_tcp_stream(a);
	return true;
}
