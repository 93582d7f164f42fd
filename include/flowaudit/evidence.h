/*
 * evidence.h - the packets behind each finding, as pcap or pcapng files.
 *
 * Receives: the capture files of the run, the flows to select (5-tuple,
 * VLAN and the frame range each flow spans), and sets of flow ids (one set
 * per finding). Hands on: one pcap per set holding exactly the packets of
 * its flows, in capture order, with the original link type and timestamps;
 * and, per set, the frame numbers it holds (file by file) and the packet
 * count. A set whose flows span files or pcapng interfaces of different link
 * types is written as one file per link type (NAME.pcap, NAME-2.pcap, ...),
 * each a pcap of that link type. A set given TLS key log text (tls_keys)
 * is written as pcapng instead (NAME.pcapng, NAME-2.pcapng, ...) whose
 * Decryption Secrets Block carries that text, so that Wireshark opens it
 * decrypted; the caller gives a set the lines of its own connections only.
 * The captures are read through source.h,
 * as the replay read them, so the frame numbers are the replay's.
 *
 * Or, for many sets, one pack instead of a file per set (below): each
 * packet stored once, with the names of its sets as a packet comment, and
 * a set's own file cut from it on demand.
 *
 * A packet belongs to a flow when its addresses, ports, protocol and outer
 * VLAN match the flow either way round and its (file, frame) position lies
 * within the flow's first and last frame: a later flow on the same 5-tuple
 * starts after the earlier one ended, so the ranges never overlap.
 *
 * Owns: the frame arrays in each set's per_file[] and pack_frames[]
 * (evidence_set_clear()); a set of the same flows as an earlier one borrows
 * that one's, so the sets are cleared together; the pack's part names
 * (evidence_pack_clear()).
 */
#ifndef FLOWAUDIT_EVIDENCE_H
#define FLOWAUDIT_EVIDENCE_H

#include "flowaudit/common.h"

#include <stddef.h>
#include <stdint.h>

struct evidence_flow {
	uint64_t flow_id;
	fa_addr cli, srv;
	uint16_t cport, sport, vlan;
	uint8_t proto;
	uint32_t file_first, file_last;
	uint64_t frame_first, frame_last;
	/* the pack only: where the flow's TLS key log lines lie in the pack's
	   secrets (struct evidence_pack), keys_len 0 when it has none */
	uint64_t keys_off, keys_len;
};

/*
 * The frame numbers of one set in one file, ascending, kept as the
 * differences between them in LEB128 (one or two bytes each for a flow's
 * packets, instead of eight): a long capture's findings carry millions.
 * Read them with evidence_frames_next().
 */
struct evidence_frames {
	uint32_t file;
	size_t n;            /* how many */
	uint8_t *enc;
	size_t len, cap;     /* bytes of enc used, allocated */
	uint64_t last;       /* the last number added */
};
/* The next number into *frame; *pos and *prev start at 0. False past the last. */
bool evidence_frames_next(const struct evidence_frames *pf, size_t *pos, uint64_t *prev,
			  uint64_t *frame);

struct evidence_set {
	const char *name;          /* base name without extension, e.g. "F0001" */
	const uint64_t *flow_ids;  /* borrowed */
	size_t n_flow_ids;
	const char *tls_keys;      /* borrowed NSS key log lines for a DSB; NULL: none */
	size_t tls_keys_len;       /* 0: a pcap, else a pcapng with them */
	/* results */
	struct evidence_frames *per_file;
	size_t n_per_file;
	bool borrowed;             /* per_file is another set's (the same flows) */
	uint64_t packets;
	char paths[4][80];         /* files written, relative to dir */
	size_t n_paths;
	/* the pack only (paths unused): the frame numbers of the set inside the
	   pack, per part (file: the index in pack->paths) */
	const struct evidence_pack *pack;
	struct evidence_frames *pack_frames;
	size_t n_pack_frames;
};

/*
 * The flow with id flow_id into *out, false when there is none (the flow is
 * then left out). Asked in increasing flow id, and ids must follow the
 * flows' first frames: a flow's id is given when its first frame is seen.
 */
typedef bool (*evidence_flow_fn)(uint64_t flow_id, struct evidence_flow *out, void *user);

/*
 * Writes DIR/NAME.pcap (NAME.pcapng with tls_keys) for every set, its flows asked of get_flow. The
 * captures are re-read from the start, once per batch of sets (as many as
 * the open-file limit allows, up to 16,384); a pass holds only the flows
 * live at its reading position and stops after the last frame of its last
 * flow, so memory does not grow with the capture's length.
 * FA_EINPUT when a capture cannot be re-read, FA_ERUNTIME on write errors.
 */
int evidence_write(const char *const *captures, size_t n_captures, evidence_flow_fn get_flow,
		   void *user, struct evidence_set *sets, size_t n_sets, const char *dir,
		   struct fa_err *err);

void evidence_set_clear(struct evidence_set *s);

/*
 * The evidence pack: every packet some set needs, once, in capture order,
 * in DIR/findings.pcapng (then findings-2.pcapng, ... each a complete
 * pcapng begun once the one before passes part_bytes). Each packet
 * carries the names of the sets that hold it as a comment,
 * "flowaudit: F0001 F0042" (several comments of that form when they pass
 * 65,535 bytes). Every part opens with a Decryption Secrets Block of
 * tls_keys when given (the key log lines of every connection of the
 * sets); the first packet of a flow with keys_len > 0 carries a second
 * comment "flowaudit keys: OFFSET LENGTH", the bytes of that block that
 * are its connection's lines. An interface (nanosecond time stamps) is
 * described per link type, before its first packet. The pack is read
 * back with evidence_cut().
 */
#define EVIDENCE_FILES_MAX 50 /* findings given a file each before the pack is used */
#define EVIDENCE_PACK_NAME "findings"
#define EVIDENCE_PART_BYTES (1ull << 30)
#define EVIDENCE_PARTS_MAX 1024
#define EVIDENCE_COMMENT "flowaudit: "
#define EVIDENCE_KEYS_COMMENT "flowaudit keys: "

struct evidence_pack {
	const char *tls_keys;      /* borrowed; NULL: no Decryption Secrets Block */
	size_t tls_keys_len;
	uint64_t part_bytes;       /* 0: EVIDENCE_PART_BYTES */
	/* results */
	char (*paths)[32];         /* the parts, relative to dir (owned) */
	char (*sha256)[65];        /* the SHA-256 of each part's bytes as written (owned) */
	size_t n_paths;
	uint64_t packets;
};

/*
 * Writes the pack of the sets in one pass over the captures; each set gets
 * its frame numbers (per_file, as evidence_write gives them) and its place
 * in the pack (pack_frames). Flows are asked of get_flow as for
 * evidence_write(). FA_EINPUT when a capture cannot be re-read,
 * FA_ERUNTIME on write errors.
 */
int evidence_write_pack(const char *const *captures, size_t n_captures, evidence_flow_fn get_flow,
			void *user, struct evidence_set *sets, size_t n_sets, const char *dir,
			struct evidence_pack *pack, struct fa_err *err);
void evidence_pack_clear(struct evidence_pack *pack);

/*
 * The pack written during the replay, by a thread of its own that reads
 * the captures behind it (evidence_stream.c): the same files, bytes and
 * frame numbers as evidence_write_pack() after the replay, without TLS
 * key log text (a pack with secrets is written after the replay).
 *
 * From the replaying thread: evidence_stream_flow() for each audited flow
 * that joined sets, in flow id order, with the sets' indices (ascending)
 * and names; evidence_stream_horizon() with the position before which
 * every frame's flow has been given (or has none). The sets must then be
 * those of the final report, with the same indices.
 * evidence_stream_finish() waits for the last frame and hands the results
 * to sets[0, n_sets) and pack; evidence_stream_free() stops a writer not
 * finished and removes a pack not handed on.
 */
#define EVIDENCE_NAME_MAX 16
struct evidence_stream;
int evidence_stream_start(const char *const *captures, size_t n_captures, const char *dir,
			  struct evidence_stream **out, struct fa_err *err);
bool evidence_stream_flow(struct evidence_stream *es, const struct evidence_flow *f,
			  const size_t *sets, const char *const *names, size_t n);
void evidence_stream_horizon(struct evidence_stream *es, uint32_t file, uint64_t frame);
int evidence_stream_finish(struct evidence_stream *es, struct evidence_set *sets, size_t n_sets,
			   struct evidence_pack *pack, struct fa_err *err);
void evidence_stream_free(struct evidence_stream *es);

/*
 * The evidence of set id from the evidence directory dir, written to out
 * (a second link type to OUT-2.EXT, ...; names into paths, at most 4):
 * the set's own files copied when dir holds them (ID.pcap, ID.pcapng), else
 * cut from the pack, byte for byte what its own file would hold: its
 * packets, and a Decryption Secrets Block of its connections' key log
 * lines when it has some (a pcapng; else a nanosecond pcap). The pack is
 * untrusted input: a block that does not parse stops the cut with
 * FA_EINPUT naming the file and the offset. FA_EINPUT too when no packet
 * names id; FA_ERUNTIME on write errors.
 */
int evidence_cut(const char *dir, const char *id, const char *out, char paths[][4200],
		 size_t *n_paths, struct fa_err *err);

#endif
