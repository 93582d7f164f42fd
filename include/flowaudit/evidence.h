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
 * A packet belongs to a flow when its addresses, ports, protocol and outer
 * VLAN match the flow either way round and its (file, frame) position lies
 * within the flow's first and last frame: a later flow on the same 5-tuple
 * starts after the earlier one ended, so the ranges never overlap.
 *
 * Owns: the frame arrays in each set's per_file[] (evidence_set_clear()); a
 * set of the same flows as an earlier one borrows that one's, so the sets
 * are cleared together.
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

#endif
