/*
 * relink - rewrite an Ethernet capture with another link layer, for the
 * link-layer tests: the same IPv4 packets behind 802.1Q, QinQ, Linux
 * cooked v1/v2, raw IPv4, BSD loopback, or an unsupported link type.
 *
 *   relink MODE IN.pcap OUT.pcap      (MODE: vlan qinq sll sll2 raw null
 *                                      unsupported, or badipsum: Ethernet
 *                                      with every IPv4 header checksum wrong,
 *                                      or spoof: from the middle frame on,
 *                                      10.10.1.10 uses another MAC)
 *   relink cut IN.pcap OUT.pcap BYTES (copy the file, cut after BYTES:
 *                                      a capture truncated mid-record)
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

static int cut_file(const char *in, const char *out, long n)
{
	FILE *fi = fopen(in, "rb"), *fo;
	char buf[65536];
	long done = 0;

	if (!fi) {
		perror(in);
		return 1;
	}
	fo = fopen(out, "wb");
	if (!fo) {
		perror(out);
		fclose(fi);
		return 1;
	}
	while (done < n) {
		size_t want = (size_t)(n - done) < sizeof(buf) ? (size_t)(n - done) : sizeof(buf);
		size_t got = fread(buf, 1, want, fi);
		if (got == 0)
			break;
		fwrite(buf, 1, got, fo);
		done += (long)got;
	}
	fclose(fi);
	fclose(fo);
	return 0;
}

int main(int argc, char **argv)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	const char *mode;
	pcap_t *in, *dead;
	pcap_dumper_t *dump;
	struct pcap_pkthdr *h;
	const u_char *p;
	int dlt, rc;
	static u_char out[262144 + 64];

	if (argc == 5 && strcmp(argv[1], "cut") == 0)
		return cut_file(argv[2], argv[3], atol(argv[4]));
	if (argc != 4) {
		fprintf(stderr, "usage: relink vlan|qinq|sll|sll2|raw|null|unsupported|badipsum|spoof IN OUT\n"
				"       relink cut IN OUT BYTES\n");
		return 2;
	}
	mode = argv[1];
	if (!strcmp(mode, "vlan") || !strcmp(mode, "qinq") ||
	    !strcmp(mode, "badipsum") || !strcmp(mode, "spoof"))
		dlt = DLT_EN10MB;
	else if (!strcmp(mode, "sll"))
		dlt = DLT_LINUX_SLL;
	else if (!strcmp(mode, "sll2"))
		dlt = DLT_LINUX_SLL2;
	else if (!strcmp(mode, "raw"))
		dlt = DLT_RAW;
	else if (!strcmp(mode, "null"))
		dlt = DLT_NULL;
	else if (!strcmp(mode, "unsupported"))
		dlt = DLT_IEEE802_11;
	else {
		fprintf(stderr, "relink: unknown mode %s\n", mode);
		return 2;
	}
	in = pcap_open_offline(argv[2], ebuf);
	if (!in) {
		fprintf(stderr, "relink: %s\n", ebuf);
		return 1;
	}
	if (pcap_datalink(in) != DLT_EN10MB) {
		fprintf(stderr, "relink: %s is not Ethernet\n", argv[2]);
		return 1;
	}
	dead = pcap_open_dead(dlt, 262144);
	dump = pcap_dump_open(dead, argv[3]);
	if (!dump) {
		fprintf(stderr, "relink: %s\n", pcap_geterr(dead));
		return 1;
	}
	/* spoof: count the frames first, to know where the middle is */
	long frames = 0, frame = 0;
	if (!strcmp(mode, "spoof")) {
		pcap_t *c = pcap_open_offline(argv[2], ebuf);
		while (c && pcap_next_ex(c, &h, &p) == 1)
			frames++;
		if (c)
			pcap_close(c);
	}
	while ((rc = pcap_next_ex(in, &h, &p)) == 1) {
		struct pcap_pkthdr oh = *h;
		size_t hl = 0, body;
		uint16_t type;

		if (h->caplen < 14)
			continue;
		type = (uint16_t)(p[12] << 8 | p[13]);
		body = h->caplen - 14;
		frame++;
		if (!strcmp(mode, "spoof")) {
			static const uint8_t plc[4] = { 10, 10, 1, 10 };
			static const uint8_t evil[6] = { 0x02, 0x66, 0x66, 0x66, 0x66, 0x66 };
			memcpy(out, p, h->caplen);
			if (frame > frames / 2 && type == 0x0800 && body >= 20) {
				if (memcmp(p + 14 + 12, plc, 4) == 0)
					memcpy(out + 6, evil, 6);
				if (memcmp(p + 14 + 16, plc, 4) == 0)
					memcpy(out, evil, 6);
			}
			pcap_dump((u_char *)dump, &oh, out);
			continue;
		}
		if (!strcmp(mode, "badipsum")) {
			memcpy(out, p, 14);
			hl = 14;
			memcpy(out + hl, p + 14, body);
			/* what offloading NICs and rewriting tools leave behind */
			if (type == 0x0800 && body >= 20) {
				out[14 + 10] ^= 0x5a;
				out[14 + 11] ^= 0xa5;
			}
			oh.caplen = (bpf_u_int32)(body + hl);
			pcap_dump((u_char *)dump, &oh, out);
			continue;
		} else if (!strcmp(mode, "vlan") || !strcmp(mode, "qinq")) {
			memcpy(out, p, 12);
			hl = 12;
			if (!strcmp(mode, "qinq")) {
				/* 802.1ad service tag, VLAN 100 */
				out[hl++] = 0x88; out[hl++] = 0xa8;
				out[hl++] = 0x00; out[hl++] = 100;
			}
			/* 802.1Q customer tag, VLAN 10, priority 5 */
			out[hl++] = 0x81; out[hl++] = 0x00;
			out[hl++] = 0xa0; out[hl++] = 10;
			out[hl++] = (u_char)(type >> 8);
			out[hl++] = (u_char)type;
		} else if (!strcmp(mode, "sll")) {
			memset(out, 0, 16);
			out[1] = 0;            /* packet type: to us */
			out[3] = 1;            /* ARPHRD_ETHER */
			out[5] = 6;            /* address length */
			memcpy(out + 6, p + 6, 6);
			out[14] = (u_char)(type >> 8);
			out[15] = (u_char)type;
			hl = 16;
		} else if (!strcmp(mode, "sll2")) {
			memset(out, 0, 20);
			out[0] = (u_char)(type >> 8);
			out[1] = (u_char)type;
			out[7] = 2;            /* interface index */
			out[9] = 1;            /* ARPHRD_ETHER */
			out[11] = 6;
			memcpy(out + 12, p + 6, 6);
			hl = 20;
		} else if (!strcmp(mode, "null")) {
			if (type != 0x0800)
				continue;
			out[0] = 2; out[1] = out[2] = out[3] = 0; /* AF_INET, LE */
			hl = 4;
		} else if (!strcmp(mode, "raw")) {
			if (type != 0x0800)
				continue;
			hl = 0;
		} else {
			hl = 0; /* unsupported: content does not matter */
		}
		if (body + hl > sizeof(out))
			continue;
		memcpy(out + hl, p + 14, body);
		oh.caplen = (bpf_u_int32)(body + hl);
		oh.len = (bpf_u_int32)(h->len - 14 + hl);
		pcap_dump((u_char *)dump, &oh, out);
	}
	pcap_dump_close(dump);
	pcap_close(dead);
	pcap_close(in);
	return 0;
}
