/*
 * source_patched.c - pcap files with the 24-byte record headers of Red Hat
 * 6.1's and Kuznetzov's patched tcpdump (see source_int.h).
 *
 * Receives a path libpcap opened as pcap 2.x; decides by reading the first
 * eight records both ways whether the headers are 24 bytes long, and then
 * reads the file itself, one record at a time into one buffer of the
 * largest snapshot length. Owns the stream and the buffer.
 */
#include "source_int.h"

#include "flowaudit/cursor.h"

#include <stdlib.h>
#include <string.h>

#define PATCHED_HDR 24
#define MAX_CAPLEN 262144

static uint32_t rd32(const uint8_t *p, bool swapped)
{
	struct cursor c = cur_make(p, 4);
	return swapped ? cur_be32(&c) : cur_le32(&c);
}

/* Does a chain of `n` records with headers of `hdr` bytes hold together? */
static bool records_plausible(FILE *fp, bool swapped, uint32_t snaplen, long start, uint32_t hdr,
			      int n)
{
	long off = start;
	uint32_t first_sec = 0;
	for (int i = 0; i < n; i++) {
		uint8_t h[PATCHED_HDR];
		if (fseek(fp, off, SEEK_SET) != 0)
			return false;
		size_t got = fread(h, 1, hdr, fp);
		if (got == 0 && i > 0)
			return true; /* a clean end of file */
		if (got != hdr)
			return false;
		uint32_t sec = rd32(h, swapped), usec = rd32(h + 4, swapped);
		uint32_t caplen = rd32(h + 8, swapped), len = rd32(h + 12, swapped);
		if (i == 0)
			first_sec = sec;
		if (caplen > snaplen || caplen > MAX_CAPLEN || caplen > len || usec >= 1000000 ||
		    sec + 86400u < first_sec || sec > first_sec + 86400u * 366)
			return false;
		off += (long)hdr + (long)caplen;
	}
	return true;
}

bool patched_open(const char *path, struct patched *pt)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return false;
	uint8_t fh[24];
	if (fread(fh, 1, sizeof(fh), fp) != sizeof(fh)) {
		fclose(fp);
		return false;
	}
	uint32_t magic = rd32(fh, false);
	bool swapped;
	if (magic == 0xa1b2c3d4 || magic == 0xa1b2cd34)
		swapped = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x34cdb2a1)
		swapped = true;
	else {
		fclose(fp);
		return false;
	}
	uint32_t snaplen = rd32(fh + 16, swapped);
	if (snaplen == 0 || snaplen > MAX_CAPLEN)
		snaplen = MAX_CAPLEN;
	if (records_plausible(fp, swapped, snaplen, 24, 16, 8) ||
	    !records_plausible(fp, swapped, snaplen, 24, PATCHED_HDR, 8) ||
	    fseek(fp, 24, SEEK_SET) != 0) {
		fclose(fp);
		return false;
	}
	pt->buf = malloc(MAX_CAPLEN);
	if (pt->buf == NULL) {
		fclose(fp);
		return false;
	}
	pt->fp = fp;
	pt->swapped = swapped;
	pt->snaplen = snaplen;
	return true;
}

int patched_next(struct patched *pt, struct source_file_info *fi, struct patched_rec *rec)
{
	uint8_t hdr[PATCHED_HDR];
	size_t got = fread(hdr, 1, sizeof(hdr), pt->fp);
	if (got == 0)
		return 0;
	if (got != sizeof(hdr)) {
		snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: truncated "
			 "record header", (unsigned long long)fi->frames);
		return -1;
	}
	uint32_t caplen = rd32(hdr + 8, pt->swapped);
	if (caplen > MAX_CAPLEN || caplen > pt->snaplen) {
		snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: record claims "
			 "%u bytes, more than the snapshot length %u",
			 (unsigned long long)fi->frames, caplen, pt->snaplen);
		return -1;
	}
	if (fread(pt->buf, 1, caplen, pt->fp) != caplen) {
		snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: truncated "
			 "record", (unsigned long long)fi->frames);
		return -1;
	}
	rec->sec = rd32(hdr, pt->swapped);
	rec->nsec = rd32(hdr + 4, pt->swapped) * 1000;
	rec->caplen = caplen;
	rec->len = rd32(hdr + 12, pt->swapped);
	rec->data = pt->buf;
	return 1;
}

void patched_close(struct patched *pt)
{
	if (pt->fp != NULL)
		fclose(pt->fp);
	free(pt->buf);
	pt->fp = NULL;
	pt->buf = NULL;
}
