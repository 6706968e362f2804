/*
 * nidsonly.c - the reassembly floor of `make bench`: libnids alone.
 *
 *   nidsonly FILE.pcap [N_TCP_STREAMS]
 *
 * The same set-up the sensor needs from libnids, and nothing else: our own
 * pcap read loop strips the link layer (Ethernet, 802.1Q/802.1ad tags) and
 * hands the IPv4 packet to nids_pcap_handler() through a pcap_open_dead
 * (DLT_RAW) handle given as nids_params.pcap_desc; checksum verification
 * off (captures from offloading NICs carry bad ones), libnids' port-scan
 * detector off, a stream table large enough for the capture, and a TCP
 * callback that collects both directions of every stream and only sums the
 * bytes.  What the sensor adds on top of this (flow table, dissectors,
 * policy, output) is what `make bench` measures as the difference.
 *
 * Prints "packets ip_packets streams closed bytes warnings" on stdout.
 */
#include <nids.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_streams, g_closed, g_bytes, g_warnings;

static void on_tcp(struct tcp_stream *ts, void **param)
{
	(void)param;
	switch (ts->nids_state) {
	case NIDS_JUST_EST:
		ts->client.collect++;
		ts->server.collect++;
		g_streams++;
		break;
	case NIDS_DATA:
		if (ts->client.count_new)
			g_bytes += (uint64_t)ts->client.count_new;
		if (ts->server.count_new)
			g_bytes += (uint64_t)ts->server.count_new;
		break;
	default: /* close, reset, timeout, exiting */
		g_closed++;
		break;
	}
}

/* replaces libnids' default, which calls syslog(3) for every warning */
static void on_syslog(int type, int errnum, struct ip *iph, void *data)
{
	(void)type;
	(void)errnum;
	(void)iph;
	(void)data;
	g_warnings++;
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: nidsonly FILE.pcap [N_TCP_STREAMS]\n");
		return 2;
	}
	pcap_t *in = pcap_open_offline(argv[1], err);
	if (!in) {
		fprintf(stderr, "nidsonly: %s\n", err);
		return 1;
	}
	int dlt = pcap_datalink(in);
	if (dlt != DLT_EN10MB && dlt != DLT_RAW) {
		fprintf(stderr, "nidsonly: %s: link type %s not supported\n", argv[1],
			pcap_datalink_val_to_name(dlt));
		return 1;
	}
	pcap_t *raw = pcap_open_dead(DLT_RAW, 65535);
	if (!raw) {
		fprintf(stderr, "nidsonly: pcap_open_dead failed\n");
		return 1;
	}

	nids_params.pcap_desc = raw;
	nids_params.filename = NULL;
	nids_params.device = NULL;
	nids_params.scan_num_hosts = 0; /* its scan detector flags polling */
	/* libnids keeps at most 3/4 of n_tcp_streams and silently evicts
	 * the oldest beyond that; 49152 streams is far more than the bench
	 * capture keeps open at once (a few hundred) */
	nids_params.n_tcp_streams = argc == 3 ? atoi(argv[2]) : 1 << 16;
	nids_params.n_hosts = 4096;
	nids_params.syslog = on_syslog;
	if (!nids_init()) {
		fprintf(stderr, "nidsonly: nids_init: %s\n", nids_errbuf);
		return 1;
	}
	struct nids_chksum_ctl ctl = {.netaddr = 0, .mask = 0, .action = NIDS_DONT_CHKSUM};
	nids_register_chksum_ctl(&ctl, 1);
	nids_register_tcp((void *)on_tcp);

	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, nip = 0;
	int rc;
	while ((rc = pcap_next_ex(in, &h, &d)) == 1) {
		n++;
		size_t off = 0;
		if (dlt == DLT_EN10MB) {
			if (h->caplen < 14)
				continue;
			uint16_t et = (uint16_t)(d[12] << 8 | d[13]);
			off = 14;
			/* 802.1Q and 802.1ad (QinQ) tags */
			while ((et == 0x8100 || et == 0x88A8) && h->caplen >= off + 4) {
				et = (uint16_t)(d[off + 2] << 8 | d[off + 3]);
				off += 4;
			}
			if (et != 0x0800)
				continue;
		}
		if (h->caplen < off + 20 || h->len < off + 20)
			continue;
		struct pcap_pkthdr ih = *h;
		ih.caplen = h->caplen - (bpf_u_int32)off;
		ih.len = h->len - (bpf_u_int32)off;
		nids_pcap_handler(NULL, &ih, (u_char *)(d + off));
		nip++;
	}
	if (rc == -1) {
		fprintf(stderr, "nidsonly: %s: %s\n", argv[1], pcap_geterr(in));
		return 1;
	}
	nids_exit(); /* flushes the streams still open (NIDS_EXITING) */
	pcap_close(in);
	pcap_close(raw);
	printf("%llu %llu %llu %llu %llu %llu\n", (unsigned long long)n,
	       (unsigned long long)nip, (unsigned long long)g_streams,
	       (unsigned long long)g_closed, (unsigned long long)g_bytes,
	       (unsigned long long)g_warnings);
	return 0;
}
