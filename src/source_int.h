/*
 * source_int.h - what source.c shares with its reader of the patched pcap
 * variant (source_patched.c). Not part of the public interface.
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

#endif
