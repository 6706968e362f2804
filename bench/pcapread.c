/*
 * pcapread.c - the floor of `make bench`: the bare libpcap read loop.
 *
 *   pcapread FILE.pcap
 *
 * pcap_open_offline + pcap_next_ex over the whole file, touching every
 * packet (its length and one byte) so the loop cannot be optimised away.
 * Nothing any packet-processing program does with a file can be faster than
 * this; every other row of the benchmark is reported as a ratio to it.
 * Prints "packets bytes checksum" on stdout.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	if (argc != 2) {
		fprintf(stderr, "usage: pcapread FILE.pcap\n");
		return 2;
	}
	pcap_t *p = pcap_open_offline(argv[1], err);
	if (!p) {
		fprintf(stderr, "pcapread: %s\n", err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, bytes = 0, sum = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		n++;
		bytes += h->caplen;
		if (h->caplen)
			sum += d[h->caplen - 1]; /* read packet memory too */
	}
	if (rc == -1) {
		fprintf(stderr, "pcapread: %s: %s\n", argv[1], pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	printf("%llu %llu %llu\n", (unsigned long long)n, (unsigned long long)bytes,
	       (unsigned long long)sum);
	return 0;
}
