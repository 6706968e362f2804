/*
 * reasm.c - libnids glue: IP defragmentation and TCP reassembly, plus the
 * two things libnids does not do for a monitor started on a live plant:
 *
 *  - Mid-stream pickup.  libnids creates a stream only on a SYN; ICS
 *    connections live for months, so a sensor started after the handshake
 *    would see none of them.  On the first data packet of a connection
 *    libnids does not know, we feed it a synthetic handshake built from
 *    that packet's sequence and acknowledgement numbers, with window
 *    scaling at its maximum (libnids silently drops data outside the
 *    receiver's advertised window).
 *
 *  - Gap recovery.  A segment lost by the span port leaves a hole that
 *    libnids waits on forever, queueing everything after it, and it
 *    discards the whole queue once it passes 64 KiB.  We watch every data
 *    packet before libnids sees it; when a hole has stalled a stream for
 *    gap_timeout seconds of capture time, or the queue is about to be
 *    discarded, or the capture ends, we fill the hole with a synthetic
 *    segment.  The flow remembers the filled range, so its bytes are never
 *    dissected: the framer skips them and resynchronises on the next PDU
 *    boundary.  The gap is counted.
 *
 * Packets reach libnids through nids_pcap_handler() on a DLT_RAW handle
 * (pcap_open_dead): our own loop in capture.c does the link layer.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <nids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sensor.h"
#include "tcpfast.h"

/* libnids' TCP half-stream states are the kernel's (netinet/tcp.h) */

/* libnids' receive-queue limit (tcp.c: prune_queue above 65535 bytes) */
#define NIDS_QUEUE_LIMIT 65535
/* libnids' per-segment accounting: see gen_ip_frag_proc() and tcp_queue() */
#define NIDS_SKB_OVERHEAD 168
/* a filler segment's payload at most (one IPv4 packet) */
#define FILLER_MAX 65000
/* a hole larger than this is not filled: the stream is restarted */
#define HOLE_MAX (16u << 20)
/* sequence numbers remembered per hole (beyond: the smallest is kept) */
#define OOO_MAX 4096

static pcap_t *raw_handle;
static bool in_pickup;      /* our synthetic handshake is being fed */
static struct mm_flow *hole_list;
static double last_sweep;
static uint8_t filler[20 + 24 + FILLER_MAX];

/* sequence-space comparisons (RFC 793 modular arithmetic) */
static inline bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static void nids_warning(int type, int errnum, struct ip *iph, void *data)
{
	(void)type;
	(void)iph;
	(void)data;
	mm.st.nids_warnings++;
	if (errnum >= 0 && errnum < 16)
		mm.st.nids_warn[errnum]++;
}

static void nids_out_of_memory(char *where)
{
	/* libnids calls this and then dereferences NULL: we cannot recover */
	fprintf(stderr, "mimamorid: out of memory in libnids (%s)\n", where);
	abort();
}

/* ---------------- libnids' stream hash ---------------- */

/*
 * libnids hashes a connection's addresses and ports for its stream table
 * with a keyed byte permutation and a division per byte (hash.c: twelve
 * rounds of "% 0xff100f"): a fifth of libnids' own instructions here,
 * paid on every TCP packet it sees, once or twice (both directions are
 * tried).  libnids calls mkhash() through its procedure linkage table
 * (an exported symbol), so this definition in the executable takes its
 * place for every caller inside libnids, insertion and lookup alike (ELF
 * symbol interposition; libnids <= 1.26 has this signature).  Still keyed
 * with random bits, so that nobody can aim many connections at one chain:
 * two multiplications and xor-shifts of the 96 key bits mixed with two
 * secret 64-bit words.  libnids takes the result modulo its table size as
 * an int: it stays below 2^31.
 */
static uint64_t hash_k0 = 0x243f6a8885a308d3ull, hash_k1 = 0x13198a2e03707344ull;

unsigned int mkhash(unsigned int src, unsigned short sport, unsigned int dest,
		    unsigned short dport);
unsigned int mkhash(unsigned int src, unsigned short sport, unsigned int dest,
		    unsigned short dport)
{
	uint64_t h = ((uint64_t)src << 32 | dest) ^ hash_k0;

	h *= 0x9e3779b97f4a7c15ull;
	h ^= ((uint64_t)sport << 16 | dport) ^ hash_k1 ^ (h >> 29);
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (unsigned int)(h & 0x7fffffffu);
}

static void hash_seed(void)
{
	uint64_t k[2];

	/* without random bits the fixed keys above still hash well */
	if (getrandom(k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k)) {
		hash_k0 ^= k[0];
		hash_k1 ^= k[1];
	}
}

/* ---------------- half-open streams pushed out ---------------- */

/*
 * libnids keeps at most a fixed number of streams: when its table is
 * full, a new SYN evicts the oldest stream (tcp.c, add_new_tcp), marked
 * NIDS_TIMED_OUT, and warns (NIDS_WARN_TCP_TOOMUCH, counted by
 * nids_warning) only when that stream's client had got past SYN_SENT.
 * A half-open one goes without a word, so a SYN flood's evictions would
 * go uncounted.  libnids frees every stream through nids_free_tcp_stream()
 * by its procedure linkage table, like mkhash() above, so this definition
 * sees each free first and hands it to libnids' own.  The one free of a
 * stream marked NIDS_TIMED_OUT whose client is still in SYN_SENT is that
 * eviction (libnids' idle timeouts end only half-closed streams; at exit
 * and on a reset the mark is another).
 */
static void (*nids_free_real)(struct tcp_stream *);

static int free_resolve(void)
{
	if (!nids_free_real)
		*(void **)&nids_free_real = dlsym(RTLD_NEXT, "nids_free_tcp_stream");
	return nids_free_real ? 0 : -1;
}

static void flow_detach(struct tcp_stream *a, struct mm_flow *f);

/*
 * Every other free of a stream that carries a flow of ours comes after our
 * callback ended the flow (a->user cleared).  One does not: libnids 1.26
 * frees the stream without a word to its listeners when its client sends a
 * new SYN on the same four ports more than tcp_flow_timeout (an hour)
 * after the stream began, and starts a new one (process_tcp, "cleanup
 * previous"): a PLC or HMI that reconnects from its fixed port after a
 * reboot whose FIN or RST the span port never showed.  Without this the
 * flow would stay in our table pointing at a freed stream, and leak.  It is
 * ended here as on a close, and counted.
 */
void nids_free_tcp_stream(struct tcp_stream *a)
{
	struct mm_flow *f = a->user;

	if (a->nids_state == NIDS_TIMED_OUT && a->client.state == TCP_SYN_SENT)
		mm.st.tcp_half_open_evicted++;
	if (f) {
		mm.st.tcp_restarted++;
		flow_detach(a, f);
	}
	if (free_resolve() == 0)
		nids_free_real(a);
}

/* ---------------- synthetic packets ---------------- */

/* RFC 1071 checksum of an IPv4 header (n even, at most 60 bytes): 32-bit
 * loads, one fold at the end; it runs for every packet */
static uint16_t ip_checksum(const uint8_t *h, size_t n)
{
	uint64_t sum = 0;
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		uint32_t w;
		memcpy(&w, h + i, 4);
		sum += w;
	}
	if (i < n) {
		uint16_t w;
		memcpy(&w, h + i, 2);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	/* summed in host order: the one's complement sum is byte-order
	 * independent up to a final swap (RFC 1071 section 2 (B)) */
	return (uint16_t)ntohs((uint16_t)~sum);
}

/*
 * Build IPv4+TCP headers into buf for a segment from (sa,sp) to (da,dp)
 * and hand it, with `paylen` payload bytes already in place, to libnids.
 * With `wscale` true the segment carries a window-scale option of 14.
 */
static void feed_segment(uint8_t *buf, uint32_t sa, uint16_t sp, uint32_t da,
			 uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
			 bool wscale, size_t paylen)
{
	size_t thl = wscale ? 24 : 20;
	size_t total = 20 + thl + paylen;
	struct pcap_pkthdr h;
	uint8_t *t = buf + 20;
	uint16_t sum;

	memset(buf, 0, 20 + thl);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(total >> 8);
	buf[3] = (uint8_t)total;
	buf[8] = 64;
	buf[9] = IPPROTO_TCP;
	memcpy(buf + 12, &sa, 4);
	memcpy(buf + 16, &da, 4);
	sum = ip_checksum(buf, 20);
	buf[10] = (uint8_t)(sum >> 8);
	buf[11] = (uint8_t)sum;

	t[0] = (uint8_t)(sp >> 8);
	t[1] = (uint8_t)sp;
	t[2] = (uint8_t)(dp >> 8);
	t[3] = (uint8_t)dp;
	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	t[8] = (uint8_t)(ack >> 24);
	t[9] = (uint8_t)(ack >> 16);
	t[10] = (uint8_t)(ack >> 8);
	t[11] = (uint8_t)ack;
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	t[14] = 0xff; /* window 65535 */
	t[15] = 0xff;
	if (wscale) {
		t[20] = 1;  /* NOP */
		t[21] = 3;  /* window scale (RFC 7323 section 2.2) */
		t[22] = 3;
		t[23] = 14; /* the largest shift allowed */
	}
	h.ts = mm.now;
	h.caplen = h.len = (bpf_u_int32)total;
	nids_pcap_handler(NULL, &h, buf);
}

/*
 * Pick up a connection libnids does not know, from a data packet.  The
 * server is the end on a dissector's port (else the lower port).
 */
static void pickup(uint32_t sa, uint16_t sp, uint32_t da, uint16_t dp,
		   uint32_t seq, uint32_t ack, bool has_ack)
{
	uint8_t buf[20 + 24];
	bool from_server;
	uint32_t cli, srv, cli_isn, srv_isn;
	uint16_t cport, sport;

	if (flow_dissector_for_port(IPPROTO_TCP, dp) >= 0)
		from_server = false;
	else if (flow_dissector_for_port(IPPROTO_TCP, sp) >= 0)
		from_server = true;
	else
		from_server = sp < dp;
	if (!has_ack)
		ack = 0x10000; /* no ACK field: any value, data flows one way */
	if (from_server) {
		srv = sa; sport = sp; cli = da; cport = dp;
		srv_isn = seq - 1;
		cli_isn = ack - 1;
	} else {
		cli = sa; cport = sp; srv = da; sport = dp;
		cli_isn = seq - 1;
		srv_isn = ack - 1;
	}
	in_pickup = true;
	feed_segment(buf, cli, cport, srv, sport, cli_isn, 0, TH_SYN, true, 0);
	feed_segment(buf, srv, sport, cli, cport, srv_isn, cli_isn + 1,
		     TH_SYN | TH_ACK, true, 0);
	feed_segment(buf, cli, cport, srv, sport, cli_isn + 1, srv_isn + 1,
		     TH_ACK, false, 0);
	in_pickup = false;
}

/* ---------------- holes ---------------- */

static void hole_list_add(struct mm_flow *f)
{
	if (f->on_hole_list)
		return;
	f->hole_prev = NULL;
	f->hole_next = hole_list;
	if (hole_list)
		hole_list->hole_prev = f;
	hole_list = f;
	f->on_hole_list = true;
}

static void hole_list_del(struct mm_flow *f)
{
	if (!f->on_hole_list)
		return;
	if (f->hole_prev)
		f->hole_prev->hole_next = f->hole_next;
	else
		hole_list = f->hole_next;
	if (f->hole_next)
		f->hole_next->hole_prev = f->hole_prev;
	f->on_hole_list = false;
}

static void hole_clear(struct mm_flow *f, struct mm_half *hs)
{
	hs->hole = false;
	hs->n_ooo = 0;
	if (!f->half[0].hole && !f->half[1].hole)
		hole_list_del(f);
}

static void hole_note(struct mm_flow *f, struct mm_half *hs, uint32_t seq,
		      uint32_t len)
{
	struct mm_ooo_seg *o;

	if (!hs->hole) {
		hs->hole = true;
		hs->hole_since = mm_now();
		hs->n_ooo = 0;
		hole_list_add(f);
	}
	if (hs->n_ooo == hs->cap_ooo) {
		if (hs->cap_ooo >= OOO_MAX) {
			/* keep the smallest in slot 0; that is all we need */
			if (seq_after(hs->ooo[0].seq, seq)) {
				hs->ooo[0].seq = seq;
				hs->ooo[0].len = len;
			}
			return;
		}
		uint32_t cap = hs->cap_ooo ? hs->cap_ooo * 2 : 16;
		struct mm_ooo_seg *n = realloc(hs->ooo, cap * sizeof(*n));
		if (!n)
			return;
		hs->ooo = n;
		hs->cap_ooo = cap;
	}
	o = &hs->ooo[hs->n_ooo++];
	o->seq = seq;
	o->len = len;
	o->frame = mm.frame;
	o->ts = mm.now;
}

/*
 * While libnids delivers the queue behind a filled hole: the frame that
 * carried the bytes ending at sequence number `end` (0 when unknown).
 */
static const struct mm_ooo_seg *replay_segment(const struct mm_half *hs,
					       uint32_t end)
{
	for (uint32_t i = 0; i < hs->n_ooo; i++) {
		const struct mm_ooo_seg *o = &hs->ooo[i];
		if (!seq_after(o->seq + 1, end) && !seq_after(end, o->seq + o->len))
			return o;
	}
	return NULL;
}

/* true when bytes of protocol direction `dir` are sent by the TCP client */
static bool sent_by_tcp_client(const struct mm_flow *f, enum mm_dir dir)
{
	return (dir == MM_DIR_TO_SERVER) != f->swapped;
}

/*
 * Fill the hole in the bytes of protocol direction `dir` (see
 * flow_choose_dissector for flows whose protocol server opened the TCP
 * connection: then the TCP client sends the responses).
 */
static void hole_fill(struct mm_flow *f, enum mm_dir dir)
{
	struct tcp_stream *a = f->tcp;
	bool by_client = sent_by_tcp_client(f, dir);
	struct half_stream *snd = by_client ? &a->client : &a->server;
	struct half_stream *rcv = by_client ? &a->server : &a->client;
	struct mm_half *hs = &f->half[dir];
	uint32_t exp = snd->first_data_seq + (uint32_t)rcv->count +
		       (uint32_t)rcv->urg_count;
	uint32_t next = 0, len, done;
	bool found = false;
	uint32_t s_ack, s_window, s_wscale;
	uint64_t saved_frame;
	struct timeval saved_now;
	uint32_t sa, da;
	uint16_t sp, dp;

	if (!rcv->list) {
		hole_clear(f, hs);
		return;
	}
	for (uint32_t i = 0; i < hs->n_ooo; i++) {
		uint32_t s = hs->ooo[i].seq;
		if (seq_after(s, exp) && (!found || seq_after(next, s))) {
			next = s;
			found = true;
		}
	}
	if (!found) {
		hole_clear(f, hs);
		return;
	}
	len = next - exp;
	if (len > HOLE_MAX) {
		/* implausible: rather than feed megabytes of filler, end the
		 * flow; the next packet picks the connection up again */
		mm.st.tcp_gaps_abandoned++;
		hole_clear(f, &f->half[0]);
		hole_clear(f, &f->half[1]);
		flow_detach(a, f);
		nids_free_tcp_stream(a);
		return;
	}
	hs->gap_pending = true;
	hs->gap_start = (uint32_t)rcv->count;
	hs->gap_end = hs->gap_start + len;
	mm.st.tcp_gaps++;
	mm.st.tcp_gap_bytes += len;

	if (by_client) {
		sa = a->addr.saddr; sp = a->addr.source;
		da = a->addr.daddr; dp = a->addr.dest;
	} else {
		sa = a->addr.daddr; sp = a->addr.dest;
		da = a->addr.saddr; dp = a->addr.source;
	}
	/*
	 * The receiver may already have acknowledged bytes beyond the hole
	 * (it did receive them; only the span port lost them), and libnids
	 * drops a segment that ends before the receiver's ACK or starts
	 * beyond its window.  Open the window over the filler for the time
	 * of the injection.
	 */
	s_ack = rcv->ack_seq;
	s_window = rcv->window;
	s_wscale = rcv->wscale;
	rcv->ack_seq = exp;
	rcv->window = 65535;
	rcv->wscale = 1u << 14;
	memset(filler + 40, 0, sizeof(filler) - 40);
	saved_frame = mm.frame;
	saved_now = mm.now;
	hs->replay = true;
	for (done = 0; done < len;) {
		uint32_t n = len - done > FILLER_MAX ? FILLER_MAX : len - done;
		feed_segment(filler, sa, sp, da, dp, exp + done, snd->ack_seq,
			     TH_ACK | TH_PUSH, false, n);
		done += n;
		/* the stream may have ended inside the callbacks */
		if (nids_find_tcp_stream(&a->addr) != a || a->user != f) {
			mm.frame = saved_frame;
			mm.now = saved_now;
			return;
		}
	}
	mm.frame = saved_frame;
	mm.now = saved_now;
	hs->replay = false;
	/*
	 * The queue may hold a second hole: segments libnids still keeps
	 * beyond it.  Forget only the segments the fill delivered; those left
	 * keep the hole open (else a later fill, not knowing them, would
	 * cover their bytes with filler).
	 */
	exp = snd->first_data_seq + (uint32_t)rcv->count + (uint32_t)rcv->urg_count;
	if (rcv->list) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < hs->n_ooo; i++)
			if (seq_after(hs->ooo[i].seq + hs->ooo[i].len, exp))
				hs->ooo[k++] = hs->ooo[i];
		hs->n_ooo = k;
	}
	if (rcv->list && hs->n_ooo > 0)
		hs->hole_since = mm_now();
	else
		hole_clear(f, hs);
	if (seq_after(s_ack, rcv->ack_seq))
		rcv->ack_seq = s_ack;
	rcv->window = (u_short)s_window;
	rcv->wscale = s_wscale;
}

/* fill every hole older than gap_timeout (or all, at the end) */
static void holes_sweep(bool all)
{
	struct mm_flow *f = hole_list, *next;
	double now = mm_now();

	while (f) {
		struct tcp_stream *a = f->tcp;
		next = f->hole_next;
		for (int d = 0; d < 2; d++) {
			if (!f->half[d].hole ||
			    (!all && now - f->half[d].hole_since < mm.cfg.gap_timeout))
				continue;
			hole_fill(f, (enum mm_dir)d);
			/* filling may end the flow (FIN in the queue, or a
			 * hole too large): then f is gone */
			if (a->user != f)
				break;
		}
		f = next;
	}
}

/*
 * Before libnids sees a data segment of an established stream: note holes
 * and fill one that would otherwise stall or be discarded.  True when the
 * segment lies beyond a hole (then the stream may even have been
 * restarted: a is not to be used again).
 */
static bool watch_holes(struct tcp_stream *a, bool from_client, uint32_t seq,
			uint32_t datalen, size_t iplen)
{
	struct mm_flow *f = a->user;
	struct half_stream *snd = from_client ? &a->client : &a->server;
	struct half_stream *rcv = from_client ? &a->server : &a->client;
	enum mm_dir dir;
	struct mm_half *hs;
	uint32_t exp;
	int truesize;

	if (!f)
		return false;
	dir = from_client != f->swapped ? MM_DIR_TO_SERVER : MM_DIR_TO_CLIENT;
	hs = &f->half[dir];
	exp = snd->first_data_seq + (uint32_t)rcv->count + (uint32_t)rcv->urg_count;
	if (hs->hole && !rcv->list)
		hole_clear(f, hs); /* a late segment closed it: reordering */
	if (!seq_after(seq, exp))
		return false;
	hole_note(f, hs, seq, datalen);
	truesize = (int)(((iplen + 16) + 15) & ~(size_t)15) + NIDS_SKB_OVERHEAD;
	if (rcv->rmem_alloc + truesize > NIDS_QUEUE_LIMIT ||
	    mm_now() - hs->hole_since >= mm.cfg.gap_timeout)
		hole_fill(f, dir);
	return true;
}

/*
 * A packet from one end acknowledges bytes the other end sent.  When that
 * acknowledgement passes a hole we are waiting on, the receiver did get
 * the missing bytes: only the span port lost them, and nothing will be
 * retransmitted.  Fill the hole now, before this packet is processed, so
 * that what was queued behind it (a request) is dissected before what
 * this packet carries (its response).
 */
static bool watch_acks(struct tcp_stream *a, bool from_client, uint32_t ack)
{
	struct mm_flow *f = a->user;
	/* the half that receives at this packet's sender */
	struct half_stream *rcv = from_client ? &a->client : &a->server;
	struct half_stream *snd = from_client ? &a->server : &a->client;
	enum mm_dir dir;
	uint32_t exp;

	if (!f)
		return false;
	/* bytes sent by the other end: by the TCP server when from_client */
	dir = !from_client != f->swapped ? MM_DIR_TO_SERVER : MM_DIR_TO_CLIENT;
	if (!f->half[dir].hole)
		return false;
	exp = snd->first_data_seq + (uint32_t)rcv->count + (uint32_t)rcv->urg_count;
	if (!seq_after(ack, exp))
		return false;
	hole_fill(f, dir);
	return true;
}

/* ---------------- UDP ---------------- */

/* one UDP datagram's payload (from libnids after defragmentation, or
 * straight from the packet path when it was not fragmented) */
static void udp_datagram(uint32_t sa, uint16_t sp, uint32_t da, uint16_t dp,
			 const uint8_t *data, size_t len)
{
	enum mm_dir dir;
	struct mm_flow *f;

	mm.st.udp_datagrams++;
	f = udp_flow_get(sa, sp, da, dp, &dir);
	if (!f || !f->d || f->state == FLOW_EXCLUDED || len == 0)
		return;
	if (f->state == FLOW_PROBING) {
		if (f->d->probe(data, len, dir) != MM_PROBE_YES) {
			if (++f->probe_bytes >= 8) /* datagrams, here */
				flow_exclude(f, NULL);
			return;
		}
		f->state = FLOW_ACTIVE;
	}
	flow_parse(f, dir, data, len);
	mm.st.pdus[f->d_index]++;
}

static void udp_callback(struct tuple4 *addr, char *data, int len,
			 struct ip *iph)
{
	(void)iph;
	if (len > 0)
		udp_datagram(addr->saddr, addr->source, addr->daddr, addr->dest,
			     (const uint8_t *)data, (size_t)len);
}

/*
 * An unfragmented UDP datagram needs nothing from libnids: hand it to the
 * dissector directly.  Returns false when libnids must see the packet
 * (a fragment, or a header that does not add up: libnids counts that).
 */
static bool udp_direct(const uint8_t *ip, size_t len, size_t ihl, size_t iplen)
{
	const uint8_t *u = ip + ihl;
	size_t ulen;
	uint32_t sa, da;
	uint16_t sp, dp;

	if (iplen > len || iplen < ihl + 8)
		return false;
	ulen = (size_t)u[4] << 8 | u[5];
	if (ulen < 8 || ulen > iplen - ihl)
		return false;
	sp = (uint16_t)(u[0] << 8 | u[1]);
	dp = (uint16_t)(u[2] << 8 | u[3]);
	memcpy(&sa, ip + 12, 4);
	memcpy(&da, ip + 16, 4);
	if (flow_dissector_for_port(IPPROTO_UDP, dp) < 0 &&
	    flow_dissector_for_port(IPPROTO_UDP, sp) < 0) {
		mm.st.udp_datagrams++;
		conduit_packet(IPPROTO_UDP, sa, sp, da, dp, 0);
		return true; /* no dissector: only the conduits */
	}
	udp_datagram(sa, sp, da, dp, u + 8, ulen - 8);
	return true;
}

/* ---------------- the packet path ---------------- */

void reasm_packet(const uint8_t *ip, size_t len)
{
	size_t ihl, iplen, thl;
	const uint8_t *t;
	uint32_t sa, da, seq, ack;
	uint16_t sp, dp, frag;
	uint8_t flags;
	size_t datalen;
	struct tuple4 tup;
	struct tcp_stream *a;
	struct mm_flow *f;
	bool from_client = true, fast;
	struct pcap_pkthdr h;

	if (len < 20) {
		mm.st.truncated++;
		return;
	}
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	iplen = (size_t)ip[2] << 8 | ip[3];
	if (ihl < 20 || len < ihl) {
		mm.st.truncated++;
		return;
	}
	memcpy(&mm.cur_src_ip, ip + 12, 4);
	memcpy(&mm.cur_dst_ip, ip + 16, 4);
	if (mm_now() - last_sweep >= 1.0) {
		last_sweep = mm_now();
		if (hole_list)
			holes_sweep(false);
		udp_flows_expire(mm_now());
	}
	/*
	 * libnids verifies the IPv4 header checksum and drops the packet when
	 * it is wrong; some capture paths (offloading NICs, rewritten
	 * captures) carry wrong ones.  Repair a copy of the header.
	 */
	if (ip_checksum(ip, ihl) != 0) {
		/* the header and payload must be contiguous: copy both */
		static uint8_t copy[65536 + 64];
		size_t n = len < sizeof(copy) ? len : sizeof(copy);
		uint16_t sum;

		memcpy(copy, ip, n);
		copy[10] = copy[11] = 0;
		sum = ip_checksum(copy, ihl);
		copy[10] = (uint8_t)(sum >> 8);
		copy[11] = (uint8_t)sum;
		ip = copy;
		len = n;
		mm.st.ip_csum_fixed++;
	}
	frag = (uint16_t)((ip[6] << 8 | ip[7]) & 0x3fff);
	if (frag)
		mm.st.ip_fragments++;

	if (ip[9] == IPPROTO_UDP && !frag && udp_direct(ip, len, ihl, iplen))
		return;
	if (ip[9] == IPPROTO_ICMP && !frag && len > ihl) {
		uint32_t sa, da;
		memcpy(&sa, ip + 12, 4);
		memcpy(&da, ip + 16, 4);
		/* the ICMP type stands in for the port */
		conduit_packet(IPPROTO_ICMP, sa, ip[ihl], da, 0, 0);
	}
	if (ip[9] == IPPROTO_TCP && !frag && len >= ihl + 20 && iplen >= ihl + 20) {
		t = ip + ihl;
		sp = (uint16_t)(t[0] << 8 | t[1]);
		dp = (uint16_t)(t[2] << 8 | t[3]);
		/*
		 * Reassembly is only for flows a dissector may want: a TCP
		 * connection on no dissector's port never reaches libnids
		 * (a fifth of a plant's packets, and libnids' costliest part).
		 */
		if (flow_dissector_for_port(IPPROTO_TCP, dp) < 0 &&
		    flow_dissector_for_port(IPPROTO_TCP, sp) < 0) {
			mm.st.tcp_other_packets++;
			memcpy(&sa, ip + 12, 4);
			memcpy(&da, ip + 16, 4);
			conduit_packet(IPPROTO_TCP, sa, sp, da, dp, t[13]);
			return;
		}
		thl = (size_t)(t[12] >> 4) * 4;
		if (thl >= 20 && iplen >= ihl + thl) {
			datalen = iplen - ihl - thl;
			memcpy(&sa, ip + 12, 4);
			memcpy(&da, ip + 16, 4);
			seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 |
			      (uint32_t)t[6] << 8 | t[7];
			ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 |
			      (uint32_t)t[10] << 8 | t[11];
			flags = t[13];
			/* a connection attempt: port scans (detect.c) */
			if ((flags & (TH_SYN | TH_ACK)) == TH_SYN)
				detect_touch(IPPROTO_TCP, sa, da, dp);

			f = tcp_flow_find(sa, sp, da, dp, &from_client);
			a = f ? f->tcp : NULL;
			/*
			 * The fast path (tcpfast.c) takes a segment of a
			 * stream our flow knows, and only while nothing below
			 * has filled a hole, noted one or restarted the
			 * stream: then a may be gone, and libnids decides.
			 */
			fast = a != NULL;
			if (!a && !(flags & (TH_SYN | TH_RST)) && datalen > 0) {
				/* not established: does libnids know it at all? */
				tup.saddr = sa; tup.source = sp;
				tup.daddr = da; tup.dest = dp;
				a = nids_find_tcp_stream(&tup);
				from_client = true;
				if (!a) {
					tup.saddr = da; tup.source = dp;
					tup.daddr = sa; tup.dest = sp;
					a = nids_find_tcp_stream(&tup);
					from_client = false;
				}
			}
			if (a && a->nids_state == NIDS_DATA && (flags & TH_ACK) &&
			    !(flags & (TH_SYN | TH_RST))) {
				/* filling may have ended the stream */
				if (watch_acks(a, from_client, ack)) {
					fast = false;
					if (!tcp_flow_find(sa, sp, da, dp, &from_client))
						a = NULL;
				}
			}
			if (!(flags & (TH_SYN | TH_RST)) && datalen > 0) {
				if (!a) {
					pickup(sa, sp, da, dp, seq, ack, flags & TH_ACK);
				} else if (a->nids_state != NIDS_DATA) {
					fast = false;
					/*
					 * A handshake libnids saw only part of
					 * (a SYN whose SYN-ACK the span port
					 * lost): data would be dropped while
					 * it waits.  Unless this very segment
					 * completes the handshake, start over
					 * from this packet.
					 */
					bool completes = from_client &&
						a->server.state == TCP_SYN_RECV &&
						(flags & TH_ACK) && ack == a->server.seq;
					if (!completes) {
						nids_free_tcp_stream(a);
						pickup(sa, sp, da, dp, seq, ack,
						       flags & TH_ACK);
					}
				} else {
					if (watch_holes(a, from_client, seq,
							(uint32_t)datalen, iplen))
						fast = false;
				}
			}
			if (fast && mm.cfg.tcp_fast_path && ihl == 20 &&
			    iplen <= len) {
				struct tcpfast_seg s = {
					.tcp = t, .thl = thl, .data = t + thl,
					.datalen = (uint32_t)datalen, .seq = seq,
					.ack = ack, .flags = flags,
					.window = (uint16_t)(t[14] << 8 | t[15]),
				};
				if (tcpfast_segment(a, from_client, &s))
					return;
			}
		}
	}
	h.ts = mm.now;
	h.caplen = (bpf_u_int32)len;
	h.len = (bpf_u_int32)len;
	nids_pcap_handler(NULL, &h, (u_char *)ip);
}

/* ---------------- stream data to dissectors ---------------- */

void flow_exclude(struct mm_flow *f, struct tcp_stream *a)
{
	if (f->state == FLOW_EXCLUDED)
		return;
	/*
	 * Keep a listener on the stream (urgent data only: libnids then
	 * buffers nothing), else libnids frees it and the next packet would
	 * be picked up as a new connection again and again.
	 */
	f->state = FLOW_EXCLUDED;
	mm.st.flows_excluded++;
	if (a) {
		a->client.collect_urg++;
		if (a->client.collect)
			a->client.collect--;
		if (a->server.collect)
			a->server.collect--;
	}
}

/*
 * Does a PDU plausibly start at p?  The dissector's probe says yes; or the
 * framing length is sane and the PDU ends exactly where the delivered
 * bytes end, or the next PDU right after it probes yes.  The second rule
 * keeps unusual but well-framed PDUs (a fuzzed request, a vendor
 * extension the probe does not know) after a gap or a mid-stream pickup.
 */
static bool pdu_starts_at(const struct mm_dissector *d, const uint8_t *p,
			  size_t n, enum mm_dir dir)
{
	long len;

	if (d->probe(p, n, dir) == MM_PROBE_YES)
		return d->pdu_len(p, n) >= 0;
	len = d->pdu_len(p, n);
	if (len <= 0 || (size_t)len > n || (size_t)len > d->max_pdu)
		return false;
	return (size_t)len == n ||
	       d->probe(p + len, n - (size_t)len, dir) == MM_PROBE_YES;
}

/*
 * The first byte offset in p[0..n) where a PDU plausibly starts, -1 when
 * none; *more is set when the tail is too short to tell.
 */
static long hunt(const struct mm_dissector *d, const uint8_t *p, size_t n,
		 enum mm_dir dir, bool *more)
{
	*more = false;
	for (size_t i = 0; i < n; i++) {
		if (d->probe(p + i, n - i, dir) == MM_PROBE_MORE) {
			*more = true;
			return (long)i;
		}
		if (pdu_starts_at(d, p + i, n - i, dir))
			return (long)i;
	}
	return -1;
}

/*
 * Frame and parse the bytes libnids delivered in one direction.  Returns
 * how many bytes were consumed; the rest stays in libnids' buffer.
 */
static size_t frame_pdus(struct mm_flow *f, enum mm_dir dir,
			 const uint8_t *buf, size_t n, uint32_t base)
{
	const struct mm_dissector *d = f->d;
	struct mm_half *hs = &f->half[dir];
	size_t pos = 0;

	for (;;) {
		size_t lim = n;
		uint32_t gs = 0, ge = 0;

		if (hs->gap_pending) {
			gs = hs->gap_start - base;
			ge = hs->gap_end - base;
			if (gs < lim)
				lim = gs;
		}
		while (pos < lim && f->state != FLOW_EXCLUDED) {
			const uint8_t *p = buf + pos;
			size_t avail = lim - pos;
			long len;

			if (f->state == FLOW_PROBING && !hs->hunting) {
				/*
				 * The first bytes of a connection seen from its
				 * handshake: a PDU must start here.  A PDU whose
				 * framing is sane but whose rest is still to come
				 * is waited for (bounded by probe_bytes).
				 */
				if (d->probe(p, avail, dir) == MM_PROBE_MORE &&
				    avail < d->max_pdu)
					break;
				if (pdu_starts_at(d, p, avail, dir)) {
					f->state = FLOW_ACTIVE;
				} else {
					len = d->pdu_len(p, avail);
					if (len > 0 && (size_t)len > avail &&
					    (size_t)len <= d->max_pdu &&
					    f->probe_bytes < 4096) {
						f->probe_bytes += (uint32_t)avail;
						break;
					}
					flow_exclude(f, f->tcp);
					return n;
				}
			}
			if (hs->hunting) {
				bool more;
				long at = hunt(d, p, avail, dir, &more);
				f->probe_bytes += (uint32_t)avail;
				if (at < 0) {
					pos = lim;
					if (f->state == FLOW_PROBING &&
					    f->probe_bytes > 4096) {
						flow_exclude(f, f->tcp);
						return n;
					}
					break;
				}
				pos += (size_t)at;
				if (more)
					break;
				hs->hunting = false;
				hs->desync_reported = false;
				if (f->state == FLOW_PROBING)
					f->state = FLOW_ACTIVE;
				continue;
			}
			len = d->pdu_len(p, avail);
			if (len == 0 || (len > 0 && (size_t)len > avail &&
					 (size_t)len <= d->max_pdu))
				break; /* the rest of the PDU is still to come */
			if (len < 0 || (size_t)len > d->max_pdu) {
				/* not a PDU start: let the dissector name what
				 * is wrong, once, then look for the next one */
				if (!hs->desync_reported) {
					flow_parse(f, dir, p,
						   avail < d->max_pdu ? avail : d->max_pdu);
					hs->desync_reported = true;
					mm.st.tcp_desync++;
				}
				hs->hunting = true;
				pos++;
				continue;
			}
			flow_parse(f, dir, p, (size_t)len);
			mm.st.pdus[f->d_index]++;
			pos += (size_t)len;
			if (f->state == FLOW_EXCLUDED)
				return n; /* the dissector said: not mine */
		}
		if (f->state == FLOW_EXCLUDED)
			return n;
		if (hs->gap_pending && n > gs) {
			/* the filler has arrived: drop the PDU it cut, skip it */
			if (n < ge)
				return n;
			pos = ge;
			hs->gap_pending = false;
			hs->hunting = true;
			continue;
		}
		return pos;
	}
}

static void tcp_data(struct tcp_stream *a, struct mm_flow *f)
{
	struct half_stream *h;
	enum mm_dir dir;
	size_t n, used;

	if (a->server.count_new) {
		h = &a->server; /* bytes the TCP server received */
		dir = f && f->swapped ? MM_DIR_TO_CLIENT : MM_DIR_TO_SERVER;
	} else if (a->client.count_new) {
		h = &a->client;
		dir = f && f->swapped ? MM_DIR_TO_SERVER : MM_DIR_TO_CLIENT;
	} else {
		return;
	}
	n = (size_t)(h->count - h->offset);
	if (!f || !f->d || f->state == FLOW_EXCLUDED || f->state == FLOW_UNDISSECTED)
		return; /* consume everything */
	if (f->half[dir].replay) {
		/* queued bytes after a filled hole: credit the frame that
		 * carried them, as if they had arrived in order */
		struct half_stream *snd = h == &a->server ? &a->client : &a->server;
		uint32_t end = snd->first_data_seq + (uint32_t)h->count +
			       (uint32_t)h->urg_count;
		const struct mm_ooo_seg *o = replay_segment(&f->half[dir], end);
		if (o) {
			mm.frame = o->frame;
			mm.now = o->ts;
		}
	}
	used = frame_pdus(f, dir, (const uint8_t *)h->data, n, (uint32_t)h->offset);
	if (used < n)
		nids_discard(a, (int)used);
}

static void tcp_callback(struct tcp_stream *a, void **param)
{
	struct mm_flow *f = a->user;

	switch (a->nids_state) {
	case NIDS_JUST_EST:
		f = flow_new(IPPROTO_TCP, a->addr.saddr, a->addr.source,
			     a->addr.daddr, a->addr.dest);
		if (!f)
			return; /* no listener: libnids frees the stream */
		f->tcp = a;
		f->midstream = in_pickup;
		a->user = f;
		tcp_flow_add(f, a->addr.saddr, a->addr.source, a->addr.daddr,
			     a->addr.dest);
		*param = f;
		if (in_pickup)
			mm.st.tcp_midstream++;
		else
			mm.st.tcp_streams++;
		flow_choose_dissector(f);
		if (f->d) {
			a->client.collect++;
			a->server.collect++;
			/* mid-stream: the first bytes may be inside a PDU */
			f->half[0].hunting = f->half[1].hunting = f->midstream;
		} else {
			a->client.collect_urg++; /* see flow_exclude() */
		}
		return;
	case NIDS_DATA:
		tcp_data(a, f);
		return;
	default: /* NIDS_CLOSE, NIDS_RESET, NIDS_TIMED_OUT, NIDS_EXITING */
		if (f)
			flow_detach(a, f);
		return;
	}
}

/* the stream's end is the flow's: off the hole list, out of the stream */
static void flow_detach(struct tcp_stream *a, struct mm_flow *f)
{
	hole_list_del(f);
	a->user = NULL;
	flow_end(f);
}

int reasm_init(char *err, size_t errlen)
{
	static struct nids_chksum_ctl nochk = { 0, 0, NIDS_DONT_CHKSUM, 0 };

	hash_seed(); /* before libnids makes its table */
	if (free_resolve() < 0) { /* libnids' own free, for the one above */
		snprintf(err, errlen, "libnids: no nids_free_tcp_stream: %s",
			 dlerror());
		return -1;
	}
	raw_handle = pcap_open_dead(DLT_RAW, 65535);
	if (!raw_handle) {
		snprintf(err, errlen, "pcap_open_dead failed");
		return -1;
	}
	nids_params.pcap_desc = raw_handle;
	nids_params.filename = NULL;
	nids_params.device = NULL;
	/* libnids keeps 3/4 of its table size as streams */
	nids_params.n_tcp_streams = mm.cfg.max_streams / 3 * 4 + 4;
	nids_params.n_hosts = 4096;
	/* its scan detector reports ordinary polling as scans: off */
	nids_params.scan_num_hosts = 0;
	nids_params.syslog = nids_warning;
	nids_params.no_mem = nids_out_of_memory;
	nids_params.promisc = 0;
	nids_params.multiproc = 0;
	/* time out half-closed connections whose last FIN was lost */
	nids_params.tcp_workarounds = 1;
	nids_params.pcap_filter = NULL;
	if (!nids_init()) {
		snprintf(err, errlen, "libnids: %s", nids_errbuf);
		return -1;
	}
	/* offloading NICs and loopback captures carry bad checksums */
	nids_register_chksum_ctl(&nochk, 1);
	nids_register_tcp(tcp_callback);
	nids_register_udp(udp_callback);
	return 0;
}

void reasm_finish(void)
{
	holes_sweep(true);
	nids_exit(); /* NIDS_EXITING for every open stream */
	udp_flows_end_all();
	if (raw_handle) {
		pcap_close(raw_handle);
		raw_handle = NULL;
	}
}
