/*
 * capture.c - libpcap in, IPv4 out.
 *
 * We run our own pcap loop (not nids_run) so that every packet passes
 * through our link-layer decoder (VLAN/QinQ, Linux cooked v1/v2, raw IP),
 * our frame counter and our mid-stream/gap logic before libnids sees it.
 * libnids gets a DLT_RAW view of the IPv4 packet (reasm.c).
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../dissectors/rd.h"
#include "sensor.h"

volatile int mm_stop_requested;
volatile int mm_stats_requested;
volatile int mm_reload_requested;

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100 /* IEEE 802.1Q */
#define ETHERTYPE_QINQ 0x88a8 /* IEEE 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-standard QinQ, still seen */
#define MAX_VLAN_TAGS 4

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif

static int linktype;
static pcap_t *volatile live_handle; /* for pcap_breakloop from signals */
static pcap_t *cap; /* opened by capture_open(), before the privilege drop */

/* the link types we decode; anything else is refused at start */
static bool linktype_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_NULL:
	case DLT_LOOP:
		return true;
	default:
		return false;
	}
}

/* skip 802.1Q / 802.1ad tags; returns the inner ethertype, 0 when short */
static uint16_t skip_vlan_tags(struct rd *r, uint16_t type)
{
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ &&
		    type != ETHERTYPE_QINQ_OLD)
			return type;
		rd_skip(r, 2); /* PCP, DEI, VLAN id */
		type = rd_be16(r);
		if (r->err)
			return 0;
	}
	return 0; /* more tags than anyone uses: treat as garbage */
}

/*
 * The IPv4 header inside a frame, or NULL.  *len gets the bytes captured
 * from the IPv4 header on.
 */
static const uint8_t *link_to_ipv4(const uint8_t *p, size_t caplen, size_t *len)
{
	struct rd r = rd_make(p, caplen);
	uint16_t type = 0;

	/* nearly every frame: untagged Ethernet II carrying IPv4, taken in
	 * a few loads (the same result as the general path below) */
	if (linktype == DLT_EN10MB && caplen > 14 && p[12] == 0x08 &&
	    p[13] == 0x00 && (p[14] >> 4) == 4) {
		memcpy(mm.cur_dst_mac, p, 6);
		memcpy(mm.cur_src_mac, p + 6, 6);
		mm.cur_has_src_mac = mm.cur_has_dst_mac = true;
		*len = caplen - 14;
		return p + 14;
	}
	mm.cur_has_src_mac = mm.cur_has_dst_mac = false;
	switch (linktype) {
	case DLT_EN10MB:
		/* destination and source MAC */
		if (rd_copy(&r, mm.cur_dst_mac, 6) && rd_copy(&r, mm.cur_src_mac, 6))
			mm.cur_has_src_mac = mm.cur_has_dst_mac = true;
		type = skip_vlan_tags(&r, rd_be16(&r));
		break;
	case DLT_LINUX_SLL:
		/* packet type, ARPHRD, address length, source address (8) */
		rd_skip(&r, 4);
		if (rd_be16(&r) == 6 && rd_copy(&r, mm.cur_src_mac, 6)) {
			mm.cur_has_src_mac = true;
			rd_skip(&r, 2);
		} else {
			rd_skip(&r, 8);
		}
		type = skip_vlan_tags(&r, rd_be16(&r));
		break;
	case DLT_LINUX_SLL2:
		/* protocol type, reserved, ifindex, ARPHRD, packet type,
		 * address length, source address (8) */
		type = rd_be16(&r);
		rd_skip(&r, 9);
		if (rd_u8(&r) == 6 && rd_copy(&r, mm.cur_src_mac, 6)) {
			mm.cur_has_src_mac = true;
			rd_skip(&r, 2);
		} else {
			rd_skip(&r, 8);
		}
		type = skip_vlan_tags(&r, type);
		break;
	case DLT_RAW:
	case DLT_IPV4:
		type = ETHERTYPE_IPV4;
		break;
	case DLT_NULL: {
		/* address family in the capturing host's byte order */
		uint32_t af = rd_le32(&r);
		type = (af == 2 || af == 0x02000000) ? ETHERTYPE_IPV4 : 0;
		break;
	}
	case DLT_LOOP:
		type = rd_be32(&r) == 2 ? ETHERTYPE_IPV4 : 0;
		break;
	}
	if (r.err) {
		mm.st.truncated++;
		return NULL;
	}
	if (type != ETHERTYPE_IPV4 || rd_left(&r) == 0 ||
	    (rd_ptr(&r)[0] >> 4) != 4) {
		mm.st.non_ipv4++;
		return NULL;
	}
	*len = rd_left(&r);
	return rd_ptr(&r);
}

static void handle_frame(const struct pcap_pkthdr *h, const uint8_t *bytes)
{
	const uint8_t *ip;
	size_t len = 0;

	mm.frame++;
	mm.now = h->ts;
	mm.st.packets++;
	mm.st.bytes += h->len;
	if (h->caplen < h->len)
		mm.st.truncated++;
	ip = link_to_ipv4(bytes, h->caplen, &len);
	if (ip)
		reasm_packet(ip, len);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		mm_stats_requested = 1;
	else if (sig == SIGHUP)
		mm_reload_requested = 1;
	else
		mm_stop_requested = 1;
	/*
	 * Wake the capture loop: libpcap 1.10 resumes its wait after an
	 * interrupted poll, so on a quiet port the flag alone would not be
	 * seen until the next packet.  pcap_breakloop() is made to be called
	 * from a signal handler (it sets a flag and wakes the poll).
	 */
	if (live_handle)
		pcap_breakloop(live_handle);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void read_kernel_stats(pcap_t *p)
{
	struct pcap_stat ps;

	if (pcap_stats(p, &ps) == 0) {
		mm.st.kern_recv = ps.ps_recv;
		mm.st.kern_drops = ps.ps_drop;
		mm.st.kern_ifdrops = ps.ps_ifdrop;
	}
}

static pcap_t *open_live(char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(mm.cfg.iface, ebuf);
	int rc;

	if (!p) {
		snprintf(err, errlen, "%s: %s", mm.cfg.iface, ebuf);
		return NULL;
	}
	pcap_set_snaplen(p, mm.cfg.snaplen);
	pcap_set_promisc(p, mm.cfg.promisc);
	pcap_set_buffer_size(p, mm.cfg.buffer_mb << 20);
	/*
	 * Immediate mode off: the kernel fills TPACKET_V3 blocks and wakes
	 * us once per block (or after the timeout), far fewer wake-ups on a
	 * busy span port.  The timeout bounds the latency of an alert.
	 * libpcap 1.10 makes the blocks 256 KiB (its largest snapshot
	 * length) and the buffer decides their number; immediate mode would
	 * mean TPACKET_V2 and a wake-up per packet.  Measured with
	 * bench/live.sh (the 1,000,026-packet bench capture replayed into a
	 * veth pair; 2 cores shared by tcpreplay, the sensor and the rest of
	 * the machine): immediate mode dropped packets already at 50,000
	 * packets/s, an 8 MiB buffer from 75,000 on; 64 MiB (the default)
	 * took 148,000 to 199,000 packets/s without a drop, depending on the
	 * machine's load, and 256 MiB did no better.
	 */
	pcap_set_immediate_mode(p, 0);
	pcap_set_timeout(p, 100);
	rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", mm.cfg.iface, pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	if (rc > 0 && !mm.cfg.quiet)
		fprintf(stderr, "mimamorid: %s: warning: %s\n", mm.cfg.iface,
			pcap_statustostr(rc));
	if (pcap_setnonblock(p, 0, ebuf) < 0) {
		snprintf(err, errlen, "%s: %s", mm.cfg.iface, ebuf);
		pcap_close(p);
		return NULL;
	}
	return p;
}

static int set_filter(pcap_t *p, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (!mm.cfg.bpf)
		return 0;
	if (pcap_compile(p, &prog, mm.cfg.bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "filter '%s': %s", mm.cfg.bpf,
			 pcap_geterr(p));
		return -1;
	}
	if (pcap_setfilter(p, &prog) < 0) {
		snprintf(err, errlen, "filter '%s': %s", mm.cfg.bpf,
			 pcap_geterr(p));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

/*
 * --realtime: a replay paced by the capture's own clock.  Each packet is
 * held until its time stamp, counted from the first packet's and divided
 * by the speed, has passed on the monotonic clock since the first packet
 * was handled.  Measured from the start, not between packets, so a late
 * wake-up never adds up.  A time stamp earlier than one already passed
 * (a merged capture) goes at once.  The wait is interrupted by signals:
 * SIGINT/SIGTERM stop the replay, SIGUSR1 prints the statistics and
 * SIGHUP reloads the zones, as on a live port.  Only offline: the packet
 * path of a live capture never waits.
 */
struct pace {
	bool started;
	struct timeval first;   /* the first packet's time stamp */
	struct timespec wall0;  /* CLOCK_MONOTONIC when it was handled */
	double speed;
};

static void pace_wait(struct pace *pc, const struct timeval *ts)
{
	struct timespec due;
	double off;

	if (!pc->started) {
		pc->started = true;
		pc->first = *ts;
		clock_gettime(CLOCK_MONOTONIC, &pc->wall0);
		return;
	}
	off = (double)(ts->tv_sec - pc->first.tv_sec) +
	      (double)(ts->tv_usec - pc->first.tv_usec) / 1e6;
	if (off <= 0)
		return;
	off /= pc->speed;
	due.tv_sec = pc->wall0.tv_sec + (time_t)off;
	due.tv_nsec = pc->wall0.tv_nsec +
		      (long)((off - (double)(time_t)off) * 1e9);
	if (due.tv_nsec >= 1000000000L) {
		due.tv_sec++;
		due.tv_nsec -= 1000000000L;
	}
	while (!mm_stop_requested) {
		int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due,
					 NULL);
		if (rc != EINTR)
			break;
		if (mm_stats_requested) {
			mm_stats_requested = 0;
			mm_stats_print(stderr);
		}
		if (mm_reload_requested) {
			mm_reload_requested = 0;
			reload_on_hup();
		}
	}
}

static void dispatch_cb(u_char *user, const struct pcap_pkthdr *h,
			const u_char *bytes)
{
	(void)user;
	handle_frame(h, bytes);
}

/*
 * A capture file through a stdio buffer of our own: libpcap reads it with
 * fread() on a FILE with the default 4 KiB buffer, one read(2) per 4 KiB
 * (48,500 system calls for the 190 MiB bench capture); with 256 KiB, 760.
 * "-" is standard input, as libpcap has it.
 */
#define FILE_BUFFER (256 << 10)
static pcap_t *open_file(const char *path, char *ebuf)
{
	FILE *fp;
	pcap_t *p;

	if (!strcmp(path, "-"))
		return pcap_open_offline_with_tstamp_precision(
			path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	fp = fopen(path, "rb");
	if (!fp) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* before any read; glibc ignores the size unless given the buffer.
	 * One capture file per run: a static buffer outlives its fclose */
	static char buffer[FILE_BUFFER];
	setvbuf(fp, buffer, _IOFBF, sizeof(buffer));
	p = pcap_fopen_offline_with_tstamp_precision(
		fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p)
		fclose(fp);
	return p;
}

int capture_open(char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	bool live = mm.cfg.iface != NULL;
	pcap_t *p;

	if (live)
		p = open_live(err, errlen);
	else {
		p = open_file(mm.cfg.pcap_file, ebuf);
		if (!p)
			snprintf(err, errlen, "%s", ebuf);
	}
	if (!p)
		return -1;
	linktype = pcap_datalink(p);
	if (!linktype_supported(linktype)) {
		const char *n = pcap_datalink_val_to_name(linktype);
		snprintf(err, errlen,
			 "%s: link type %d (%s) is not supported: mimamori "
			 "reads Ethernet (with 802.1Q/QinQ tags), Linux cooked "
			 "(SLL, SLL2), raw IPv4 and BSD loopback",
			 live ? mm.cfg.iface : mm.cfg.pcap_file, linktype,
			 n ? n : "unknown");
		pcap_close(p);
		return -1;
	}
	if (set_filter(p, err, errlen) < 0) {
		pcap_close(p);
		return -1;
	}
	/* signals from here on: SIGTERM before the loop still stops it */
	install_signals();
	cap = p;
	return 0;
}

int capture_run(char *err, size_t errlen)
{
	bool live = mm.cfg.iface != NULL;
	pcap_t *p;
	int rc = 0;

	if (!cap && capture_open(err, errlen) < 0)
		return -1;
	p = cap;

	if (!live) {
		struct pcap_pkthdr *h;
		const u_char *bytes;
		struct pace pc = {
			.speed = mm.cfg.speed > 0 ? mm.cfg.speed : 1,
		};

		while (!mm_stop_requested) {
			int n = pcap_next_ex(p, &h, &bytes);
			if (mm_reload_requested) {
				mm_reload_requested = 0;
				reload_on_hup();
			}
			if (n == 1) {
				if (mm.cfg.realtime) {
					/* before a wait: what was logged is
					 * on disk while the replay idles */
					txlog_tick();
					pace_wait(&pc, &h->ts);
					if (mm_stop_requested)
						break;
				}
				handle_frame(h, bytes);
				continue;
			}
			if (n == PCAP_ERROR) {
				/* a truncated file: keep what we read, say so */
				mm.st.capture_truncated = 1;
				fprintf(stderr,
					"mimamorid: %s: %s (after frame %llu); "
					"everything before it was processed\n",
					mm.cfg.pcap_file, pcap_geterr(p),
					(unsigned long long)mm.frame);
			}
			break;
		}
	} else {
		live_handle = p;
		if (!mm.cfg.quiet)
			fprintf(stderr, "mimamorid: listening on %s%s%s\n",
				mm.cfg.iface, mm.cfg.bpf ? ", filter " : "",
				mm.cfg.bpf ? mm.cfg.bpf : "");
		/*
		 * Our own wait, a second at most: with TPACKET_V3, libpcap
		 * 1.10's blocking read waits for a packet however long the
		 * port stays quiet, and the logs are written out each second
		 * (txlog_tick).  Non-blocking, pcap_dispatch takes what the
		 * ring holds and returns; a signal interrupts the poll.
		 */
		char nberr[PCAP_ERRBUF_SIZE];
		struct pollfd pfd = { .fd = pcap_get_selectable_fd(p),
				      .events = POLLIN };
		bool own_wait = pfd.fd >= 0 &&
			pcap_setnonblock(p, 1, nberr) == 0;
		while (!mm_stop_requested) {
			if (own_wait)
				poll(&pfd, 1, 1000); /* EINTR: the flags say why */
			int n = pcap_dispatch(p, -1, dispatch_cb, NULL);
			txlog_tick();
			if (n == PCAP_ERROR) {
				snprintf(err, errlen, "%s: %s", mm.cfg.iface,
					 pcap_geterr(p));
				rc = -1;
				break;
			}
			/* PCAP_ERROR_BREAK: a signal woke us; the flags say why */
			if (mm_stats_requested) {
				mm_stats_requested = 0;
				read_kernel_stats(p);
				mm_stats_print(stderr);
			}
			if (mm_reload_requested) {
				mm_reload_requested = 0;
				reload_on_hup();
			}
		}
		read_kernel_stats(p);
		live_handle = NULL;
	}
	pcap_close(p);
	cap = NULL;
	return rc;
}
