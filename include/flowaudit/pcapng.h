/*
 * pcapng.h - writing captures in pcapng, optionally rotated.
 *
 * libpcap 1.10 reads pcapng but writes only pcap; live capture keeps its
 * evidence in pcapng (one section, one interface, microsecond timestamps),
 * written as it arrives and flushed so that an interrupted run leaves a
 * readable file. With rotation, OUT.pcapng is followed by OUT-2.pcapng,
 * OUT-3.pcapng, ... each a complete file.
 *
 * Owns the open file and the list of paths written (pcapng_writer_paths()).
 */
#ifndef FLOWAUDIT_PCAPNG_H
#define FLOWAUDIT_PCAPNG_H

#include "flowaudit/common.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pcapng_writer;

struct pcapng_opts {
	const char *path;        /* OUT.pcapng */
	int linktype;
	uint32_t snaplen;
	const char *iface;       /* recorded in the interface block */
	uint64_t rotate_bytes;   /* 0: never */
	uint64_t rotate_seconds; /* 0: never */
};

int pcapng_writer_open(const struct pcapng_opts *o, struct pcapng_writer **out, struct fa_err *err);
/*
 * Appends one packet; *file and *frame (may be NULL) get the index of the
 * file it went to and its frame number there.
 */
int pcapng_writer_packet(struct pcapng_writer *w, fa_time ts, const uint8_t *data, uint32_t caplen,
			 uint32_t wirelen, uint32_t *file, uint64_t *frame, struct fa_err *err);
size_t pcapng_writer_file_count(const struct pcapng_writer *w);
const char *pcapng_writer_path(const struct pcapng_writer *w, size_t i);
/* Flushes and closes; paths stay readable until pcapng_writer_free. */
int pcapng_writer_close(struct pcapng_writer *w, struct fa_err *err);
void pcapng_writer_free(struct pcapng_writer *w);

/*
 * An evidence file, onto a stream the caller opened: the Section Header
 * Block, one interface of linktype with nanosecond time stamps, then a
 * Decryption Secrets Block of TLS key log text when keys_len > 0 (at most
 * PCAPNG_DSB_MAX bytes: NSS key log lines, which Wireshark and tshark use
 * to decrypt the file's TLS with no key log of their own). Packets
 * follow with pcapng_put_evidence_packet(). FA_ERUNTIME when a write fails
 * (errno says why) or the secrets are too long.
 */
#define PCAPNG_DSB 0x0000000Au
#define PCAPNG_DSB_TLS_KEYLOG 0x544c534bu /* secrets type "TLSK" */
#define PCAPNG_DSB_MAX (16u << 20)
int pcapng_put_evidence_head(FILE *fp, int linktype, const char *tls_keys, size_t keys_len);
int pcapng_put_evidence_packet(FILE *fp, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
			       uint32_t wirelen);
#define PCAPNG_EVIDENCE_SNAPLEN 262144u

/*
 * The blocks of the evidence pack (evidence.c), onto a stream the caller
 * opened; each returns the bytes it wrote, 0 when a write fails (errno
 * says why) or the secrets pass PCAPNG_DSB_MAX. The head is the Section
 * Header Block and, when keys_len > 0, one Decryption Secrets Block; an
 * interface (nanosecond time stamps) is described before the first packet
 * on it, numbered from 0 in the order described; a packet carries each of
 * its comments as an opt_comment (at most 65,535 bytes each).
 */
struct pcapng_comment {
	const char *text;
	uint16_t len;
};
size_t pcapng_put_pack_head(FILE *fp, const char *tls_keys, size_t keys_len);
size_t pcapng_put_pack_interface(FILE *fp, int linktype);
size_t pcapng_put_pack_packet(FILE *fp, uint32_t iface, uint64_t ts_ns, const uint8_t *data,
			      uint32_t caplen, uint32_t wirelen, const struct pcapng_comment *comments,
			      size_t n_comments);

#endif
