/*
 * source.h - where frames come from: capture files or a live interface.
 *
 * Receives: paths of pcap/pcapng files (read one after the other, frame
 * numbers counted per file from 1, as Wireshark numbers them: every packet
 * block of a pcapng, over all its sections) or an interface name. Hands on:
 * one frame at a time (struct source_frame) that borrows the reader's
 * buffer until the next call, each with the link type of its own interface;
 * and, from pcapng files, the Decryption Secrets Blocks in stream order,
 * each with the frame it came before (source_secret_next()). Owns the
 * readers, the secrets and per-file statistics, which stay readable after
 * the last frame.
 *
 * Classic pcap files and live interfaces are read through libpcap; every
 * pcapng file through flowaudit's own reader (pcapng_read.h), which reads
 * what libpcap refuses: interfaces of different link types, snapshot
 * lengths and time stamp resolutions in one file, several sections.
 *
 * A file that cannot be opened is an input error (FA_EINPUT, naming the file
 * and the reason) at open time, before any frame is read. A file that
 * breaks off in the middle is not fatal: the frames read so far count, the
 * reason and the last good frame number are kept in its source_file_info,
 * and reading goes on with the next file.
 */
#ifndef FLOWAUDIT_SOURCE_H
#define FLOWAUDIT_SOURCE_H

#include "flowaudit/common.h"

#include <stddef.h>
#include <stdint.h>

struct source;

struct source_frame {
	const uint8_t *data; /* borrowed until the next source_next() */
	uint32_t caplen;     /* bytes captured */
	uint32_t wirelen;    /* bytes on the wire */
	fa_time ts;          /* the time stamp, to the microsecond */
	int64_t ts_sec;      /* ... exactly as the file has it: seconds */
	uint32_t ts_nsec;    /* and nanoseconds (a microsecond file's, times 1000); a
				frame with none (a pcapng Simple Packet Block, a record
				that holds no packet) has the frame before's */
	int linktype;        /* DLT_ value of its interface, as libpcap numbers them,
				or SOURCE_LINK_NONE */
	uint32_t file;       /* index of the file (0 for live) */
	uint64_t frame;      /* 1-based frame number within the file */
};

/*
 * The link type of a frame that holds no packet: a pcapng record Wireshark
 * shows and numbers as a frame (a systemd journal entry, a custom block, a
 * sysdig event). It is handed on, so that frame numbers stay Wireshark's,
 * and never decoded.
 */
#define SOURCE_LINK_NONE (-1)

/* A link type a file's frames came in, and how many came in it. */
struct source_link {
	int linktype;
	const char *name;
	uint64_t frames;
};

#define SOURCE_MAX_LINKS 8

struct source_file_info {
	const char *path;
	int linktype;        /* of the file, or of a pcapng's first interface
				(SOURCE_LINK_NONE: none yet) */
	const char *link_name;
	/* every link type of its interfaces (the first SOURCE_MAX_LINKS): for a
	   pcapng, those described before its first packet once it is open, the
	   rest as they are met */
	struct source_link links[SOURCE_MAX_LINKS];
	size_t n_links;
	uint64_t frames, bytes;
	uint64_t bad_timestamps; /* out of range, clamped to the nearest limit */
	fa_time first, last;
	bool truncated;      /* reading stopped early; see error */
	bool patched;        /* pcap with 24-byte record headers (Red Hat 6.1 tcpdump) */
	bool pcapng;         /* read by flowaudit's pcapng reader */
	uint32_t sections;   /* pcapng: sections and interface descriptions read */
	uint64_t interfaces;
	uint64_t secrets, secrets_dropped; /* Decryption Secrets Blocks kept, and left out */
	char error[512];
};

/*
 * A Decryption Secrets Block of a pcapng (draft-ietf-opsawg-pcapng 4.7):
 * keys that decrypt the frames after it. Several may come in one file, and
 * late: keys often arrive after the handshake they open.
 */
#define SOURCE_SECRETS_TLS_KEYLOG 0x544c534bu /* NSS key log lines */
#define SOURCE_SECRETS_MAX_BYTES (64u << 20)   /* kept over all files; more are counted */

struct source_secret {
	uint32_t file;        /* index of the file */
	uint64_t before;      /* the number of the frame it came just before (one past the
				 file's last frame when none followed) */
	uint32_t type;        /* SOURCE_SECRETS_TLS_KEYLOG, ... */
	const uint8_t *data;  /* the secrets, as the block holds them */
	size_t len;
};

struct source_live_opts {
	const char *iface;
	const char *filter;  /* BPF, may be NULL */
	int snaplen;         /* 0: 262144 */
	int buffer_size;     /* kernel buffer bytes, 0: libpcap default */
	bool immediate;
	int timeout_ms;      /* packet buffer timeout, 0: 100 */
};

struct source_live_stats {
	bool valid;
	uint64_t received, dropped, if_dropped;
};

/* Opens every file up front; FA_EINPUT names the first one that fails. */
int source_open_files(const char *const *paths, size_t n, struct source **out,
		      struct fa_err *err);

/* Opens a live interface; a bad filter is FA_EINPUT with libpcap's message. */
int source_open_live(const struct source_live_opts *o, struct source **out, struct fa_err *err);

/*
 * Next frame: 1 and *f filled, 0 at the end of the last file (or when a live
 * capture was broken off), 2 when a live capture has nothing buffered (wait
 * with source_wait(), then call again), FA_ERUNTIME when a live interface
 * fails.
 */
int source_next(struct source *s, struct source_frame *f, struct fa_err *err);

/*
 * Live only: sleeps until the interface has frames, other_fd (if >= 0) is
 * readable, a signal arrives or timeout_ms pass. 1 when something is
 * readable, 0 on timeout or signal, FA_ERUNTIME when the interface went
 * down or away (err says which). Files: returns 0 at once.
 */
int source_wait(struct source *s, int other_fd, int timeout_ms, struct fa_err *err);

/*
 * How far a replay has read: *done bytes of *total, the sizes of all its
 * files (those before the current one count whole). Both 0 for a live
 * source or when a file's size is unknown (a pipe, standard input).
 */
void source_progress(const struct source *s, uint64_t *done, uint64_t *total);

/* Makes a live source_next() return 0 soon; safe from a signal handler. */
void source_break(struct source *s);

/*
 * The secrets read so far, in stream order. The consumer of frames takes,
 * before each frame (file, frame), every secret that came before it:
 * source_secret_next() from *next (0 at first) returns the next one not
 * after that frame and advances *next, NULL when the next comes later or
 * none is left. (file UINT32_MAX takes every one left.) A returned secret
 * stays valid until source_free(); its data as well.
 */
size_t source_secret_count(const struct source *s);
const struct source_secret *source_secret_next(const struct source *s, uint32_t file,
					       uint64_t frame, size_t *next);

size_t source_file_count(const struct source *s);
const struct source_file_info *source_file(const struct source *s, size_t i);
void source_live_stats(struct source *s, struct source_live_stats *out);
/* The pcap handle of the live interface or current file, for the capture
   writer; NULL for a file the pcapng reader reads. */
void *source_pcap_handle(const struct source *s);
void source_free(struct source *s);

/* A DLT_ value's name as libpcap gives it ("EN10MB", "LINUX_SLL2"); "none"
   for SOURCE_LINK_NONE. */
const char *source_link_name(int linktype);

/* Whether path can be opened again and read from the start: a regular
   file, not standard input ("-"), a pipe or a device, whose bytes a second
   reader would take from the first. */
bool source_path_rereadable(const char *path);

#endif
