/*
 * pcapng_read.h - reading pcapng files: every section, interface and packet.
 *
 * Receives: the bytes of a pcapng file, from a descriptor (a regular file
 * or a pipe, read through one large buffer) or from memory. Hands on one
 * record at a time: a packet (Enhanced, Simple or obsolete Packet Block)
 * with the link type and snapshot length of its interface and its time
 * stamp in seconds and nanoseconds (the interface's if_tsresol and
 * if_tsoffset applied); the contents of a Decryption Secrets Block; or a
 * block that holds no packet but that Wireshark shows, and numbers, as a
 * frame (a systemd journal entry, a custom block, a sysdig event), so that
 * the caller's frame numbers stay Wireshark's. Every other block is
 * skipped by its length. A record's bytes are borrowed until the next call.
 *
 * A file may hold several sections (each Section Header Block starts a new
 * interface table and may change the byte order) and each section several
 * interfaces of different link types, snapshot lengths and time stamp
 * resolutions: what libpcap refuses, and what Wireshark's merges, PCAPdroid
 * and dumpcap ring buffers write.
 *
 * Owns the read buffer (PCAPNG_BUF to start, grown only for a block larger
 * than that, never past PCAPNG_MAX_BLOCK) and the current section's
 * interface table; nothing is allocated per packet. Owns the descriptor
 * when asked to.
 *
 * Every length is read through the cursor. A block that claims more than
 * the file holds, or more than PCAPNG_MAX_BLOCK, or whose contents do not
 * fit it, stops the reading: pcapng_read_next() returns PCAPNG_CUT_SHORT or
 * PCAPNG_DAMAGED and pcapng_read_error() says what, naming the byte offset
 * of the block in the file. Records handed on before it stay valid input.
 */
#ifndef FLOWAUDIT_PCAPNG_READ_H
#define FLOWAUDIT_PCAPNG_READ_H

#include "flowaudit/common.h"

#include <stddef.h>
#include <stdint.h>

#define PCAPNG_MAGIC 0x0a0d0d0au /* a Section Header Block's type, the file's first bytes */
#define PCAPNG_BUF (256u << 10)
#define PCAPNG_MAX_BLOCK (16u << 20) /* as libpcap: larger blocks are damage */
#define PCAPNG_MAX_IFACES 65536u     /* interfaces per section */

enum pcapng_result {
	PCAPNG_END = 0,          /* a clean end of the file */
	PCAPNG_PACKET = 1,
	PCAPNG_SECRETS = 2,
	PCAPNG_OTHER_FRAME = 3,  /* a frame to Wireshark that holds no packet */
	PCAPNG_DAMAGED = -1,     /* a block that cannot be what it claims */
	PCAPNG_CUT_SHORT = -2,   /* the file ends inside a block */
};

struct pcapng_record {
	uint64_t offset;         /* of the block in the file */
	const uint8_t *data;     /* the packet or the secrets; borrowed */
	uint32_t len;            /* bytes at data (a packet's captured length) */
	/* packets */
	uint32_t wirelen;        /* bytes on the wire */
	bool has_ts;             /* false for a Simple Packet Block and other frames */
	int64_t ts_sec;          /* the time stamp, saturated to int64 */
	uint32_t ts_nsec;
	int linktype;            /* LINKTYPE_ of the packet's interface */
	uint32_t snaplen;        /* of that interface, 0 for none */
	uint32_t iface;          /* its index in the section */
	/* secrets */
	uint32_t secrets_type;   /* 0x544c534b: a TLS key log, ... */
	/* other frames */
	uint32_t block_type;     /* 9: journal, 0xbad, 0x40000bad: custom, 0x204 ...: sysdig */
};

struct pcapng_reader;

/*
 * Reads from fd: first the n_head bytes at head (what the caller already
 * took from a pipe to tell the format; none for a file read from its
 * start), then the rest. size is the file's size when known (regular
 * files; 0 for a pipe), so that a block claiming more than it is refused
 * before anything is read for it. The Section Header Block is read here:
 * FA_EINPUT with why filled when it is not one flowaudit reads,
 * FA_ERUNTIME without memory. With own_fd the reader closes fd.
 */
int pcapng_read_open_fd(int fd, bool own_fd, const uint8_t *head, size_t n_head, uint64_t size,
			struct pcapng_reader **out, char *why, size_t whylen);

/* The same over bytes in memory, which must outlive the reader. */
int pcapng_read_open_mem(const uint8_t *data, size_t len, struct pcapng_reader **out, char *why,
			 size_t whylen);

/* The next record into *rec: enum pcapng_result. After an error every call
   returns it again. */
int pcapng_read_next(struct pcapng_reader *r, struct pcapng_record *rec);

/* Why reading stopped ("" until it has): one line naming the block's offset. */
const char *pcapng_read_error(const struct pcapng_reader *r);

/*
 * The distinct link types of the interfaces described in what is already
 * buffered before the first packet block (a Wireshark, dumpcap or mergecap
 * file describes all of them there), at most max, in order of appearance.
 * Reads nothing more and consumes nothing.
 */
size_t pcapng_read_peek_links(const struct pcapng_reader *r, int *links, size_t max);

/* Sections and interface descriptions read so far. */
uint32_t pcapng_read_sections(const struct pcapng_reader *r);
uint64_t pcapng_read_interfaces(const struct pcapng_reader *r);

/* Closes (when owned) and frees; NULL is a no-op. */
void pcapng_read_free(struct pcapng_reader *r);

#endif
