/*
 * source_pcap.c - the records of a classic pcap file read in large blocks,
 * ahead of libpcap.
 *
 * Receives a regular file libpcap has opened (it read the file header and
 * knows the link type and snapshot length); hands on one record at a time,
 * borrowing a buffer of PCAP_FAST_BUF bytes filled by pread. libpcap reads
 * each record with two fread calls through stdio, copying it twice; this
 * reads each byte once and copies only what a record left at a block's end.
 *
 * It reads only what it is sure libpcap would deliver unchanged: a whole
 * record whose captured length is within the snapshot length and 256 KiB.
 * Anything else (the end of the file, a record cut short, an oversized
 * length) hands the file back to libpcap at that record's offset, so the
 * frames, the end and every error are exactly libpcap's.
 */
#include "source_int.h"

#include "flowaudit/cursor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCAP_FAST_BUF (1u << 20)
#define PCAP_REC_HDR 16
#define PCAP_MAX_CAPLEN 262144u

bool pcap_fast_open(struct pcap_fast *pf, int fd, const uint8_t *fh, size_t n, uint32_t snaplen)
{
	memset(pf, 0, sizeof(*pf));
	if (n < 24)
		return false;
	struct cursor c = cur_make(fh, n);
	uint32_t magic = cur_le32(&c);
	bool swapped;
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
		swapped = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
		swapped = true;
	else
		return false; /* the patched variants stay libpcap's or source_patched.c's */
	c = cur_make(fh + 4, 4);
	uint16_t major = swapped ? cur_be16(&c) : cur_le16(&c);
	uint16_t minor = swapped ? cur_be16(&c) : cur_le16(&c);
	if (major != 2 || minor != 4) /* older versions may swap caplen and len */
		return false;
	pf->buf = malloc(PCAP_FAST_BUF);
	if (pf->buf == NULL)
		return false;
	pf->fd = fd;
	pf->swapped = swapped;
	pf->nsec = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
	pf->snaplen = snaplen < PCAP_MAX_CAPLEN ? snaplen : PCAP_MAX_CAPLEN;
	pf->base = 24;
	pf->active = true;
	return true;
}

void pcap_fast_close(struct pcap_fast *pf)
{
	free(pf->buf);
	memset(pf, 0, sizeof(*pf));
}

/* The buffer's rest moved to its start and more read after it, until
   want bytes; false when the file has fewer. */
static bool refill(struct pcap_fast *pf, size_t want)
{
	size_t keep = pf->len - pf->pos;
	memmove(pf->buf, pf->buf + pf->pos, keep);
	pf->base += pf->pos;
	pf->pos = 0;
	pf->len = keep;
	while (pf->len < want) {
		ssize_t k = pread(pf->fd, pf->buf + pf->len, PCAP_FAST_BUF - pf->len,
				  (off_t)(pf->base + pf->len));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		pf->len += (size_t)k;
	}
	return true;
}

/* At least want bytes from pos in the buffer, reading more when short;
   false when the file has fewer. Inline: twice a record. */
static inline bool have(struct pcap_fast *pf, size_t want)
{
	return pf->len - pf->pos >= want || refill(pf, want);
}

static inline uint32_t rd32(const uint8_t *p, bool swapped)
{
	struct cursor c = cur_make(p, 4);
	return swapped ? cur_be32(&c) : cur_le32(&c);
}

int pcap_fast_next(struct pcap_fast *pf, struct pcap_fast_rec *rec)
{
	if (!pf->active || !have(pf, PCAP_REC_HDR))
		return 0;
	const uint8_t *h = pf->buf + pf->pos;
	uint32_t caplen = rd32(h + 8, pf->swapped);
	if (caplen > pf->snaplen || !have(pf, PCAP_REC_HDR + (size_t)caplen))
		return 0;
	h = pf->buf + pf->pos;
	rec->sec = (int32_t)rd32(h, pf->swapped);
	int64_t frac = (int32_t)rd32(h + 4, pf->swapped);
	rec->ns = pf->nsec ? frac : frac * 1000;
	rec->caplen = caplen;
	rec->len = rd32(h + 12, pf->swapped);
	rec->data = h + PCAP_REC_HDR;
	pf->pos += PCAP_REC_HDR + (size_t)caplen;
	return 1;
}

uint64_t pcap_fast_offset(const struct pcap_fast *pf) { return pf->base + pf->pos; }
