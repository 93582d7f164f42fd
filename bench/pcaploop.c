/*
 * pcaploop.c - the floor: how fast libpcap alone reads a capture.
 *
 *   pcaploop FILE
 *
 * Opens FILE with pcap_open_offline and reads every packet with
 * pcap_next_ex, touching nothing but the header (captured bytes are summed
 * so the loop cannot be optimised away). Prints "packets: N bytes: B" and
 * exits 0, or prints libpcap's error and exits 1. Built -O2 by
 * `make bench-build` as $(BUILD)/bench/pcaploop.
 */
#include <pcap/pcap.h>

#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pcaploop FILE\n");
		return 2;
	}
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(argv[1], errbuf);
	if (p == NULL) {
		fprintf(stderr, "pcaploop: %s\n", errbuf);
		return 1;
	}
	struct pcap_pkthdr *h;
	const unsigned char *data;
	unsigned long long packets = 0, bytes = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		packets++;
		bytes += h->caplen;
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcaploop: %s: %s\n", argv[1], pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	printf("packets: %llu bytes: %llu\n", packets, bytes);
	return 0;
}
