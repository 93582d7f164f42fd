/*
 * source_int.h - what source.c shares with its readers of the patched pcap
 * variant (source_patched.c) and of classic pcap records in large blocks
 * (source_pcap.c). Not part of the public interface.
 *
 * Captures written by Red Hat 6.1's and Alexey Kuznetzov's patched tcpdump
 * use the ordinary pcap magic (or 0xa1b2cd34) but 24-byte record headers
 * (ifindex, protocol, packet type after the usual 16 bytes). libpcap reads
 * the first record and then fails on garbage lengths; Wireshark tells the
 * variants apart by trying each. flowaudit does the same for the common
 * 24-byte variant and reads those files itself.
 */
#ifndef FLOWAUDIT_SOURCE_INT_H
#define FLOWAUDIT_SOURCE_INT_H

#include "flowaudit/source.h"

#include <stdio.h>

/* An open patched capture; fp NULL when the file is not one. */
struct patched {
	FILE *fp;
	bool swapped;
	uint32_t snaplen;
	uint8_t *buf;
};

/* One record: its time (nanoseconds), lengths and bytes (borrowed until
   the next call). */
struct patched_rec {
	uint32_t sec, nsec, caplen, len;
	const uint8_t *data;
};

/* Opens path into *pt when its records have the patched 24-byte headers
   (and do not read as ordinary 16-byte ones); false otherwise. */
bool patched_open(const char *path, struct patched *pt);

/* 1: a record in *rec; 0: the end of the file; -1: damaged (fi->error says
   where, by fi->frames). */
int patched_next(struct patched *pt, struct source_file_info *fi, struct patched_rec *rec);

/* Closes and frees; a closed or never opened one is a no-op. */
void patched_close(struct patched *pt);

/*
 * A classic pcap file's records read in blocks ahead of libpcap, which
 * keeps the file (and the stream it opened) for whatever this leaves.
 * active: records are read here; cleared once libpcap has the rest.
 */
struct pcap_fast {
	bool active;
	bool swapped, nsec;
	int fd;
	uint32_t snaplen;          /* the largest record read here */
	uint8_t *buf;
	size_t len, pos;           /* bytes in buf; the next record's start */
	uint64_t base;             /* file offset of buf[0] */
};

/* One record: its time as libpcap gives it (the file's signed 32-bit
   fields; a microsecond file's fraction times 1000), its lengths and bytes
   (borrowed until the next call). */
struct pcap_fast_rec {
	int64_t sec, ns;
	uint32_t caplen, len;
	const uint8_t *data;
};

/* Starts reading the records of fd, a regular pcap 2.4 file whose first n
   bytes (n >= 24) are fh, libpcap's snapshot length snaplen; false when
   the format is not one this reads, or without memory. */
bool pcap_fast_open(struct pcap_fast *pf, int fd, const uint8_t *fh, size_t n, uint32_t snaplen);

/* 1: a record in *rec; 0: this reader stops at pcap_fast_offset(), and
   libpcap reads from there on (the end, damage, a record libpcap cuts). */
int pcap_fast_next(struct pcap_fast *pf, struct pcap_fast_rec *rec);

/* The file offset of the next record. */
uint64_t pcap_fast_offset(const struct pcap_fast *pf);

/* Frees the buffer; a closed or never opened one is a no-op. */
void pcap_fast_close(struct pcap_fast *pf);

#endif
