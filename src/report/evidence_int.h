/*
 * evidence_int.h - what the evidence files share inside src/report.
 *
 * evidence_pass.c reads the captures once for a batch of sets and hands
 * each packet of a wanted flow to a sink: evidence.c's writes it to the
 * file of each set (one file per finding), evidence_pack.c's writes it
 * once to the pack with the ids of its findings as a comment. evidence.c
 * also owns the per-finding file writers (pcap through libpcap, pcapng
 * through pcapng.h), which evidence_pack.c uses to cut a finding's own
 * capture from the pack.
 */
#ifndef FLOWAUDIT_EVIDENCE_INT_H
#define FLOWAUDIT_EVIDENCE_INT_H

#include "flowaudit/evidence.h"
#include "flowaudit/source.h"

#include <stdio.h>

/* A flow live at the reading position, with the places (in the batch) of
   the sets that hold it, ascending. */
struct ev_active {
	struct evidence_flow f;
	uint32_t hash;
	size_t *sets;
	size_t n_sets;
	void *extra;     /* the sink's, freed with free() when the flow is dropped */
	struct ev_active *next;          /* in its bucket */
	struct ev_active *prev_all, *next_all;
};

struct ev_sink {
	/* A flow becomes live: may set a->extra; false when out of memory. */
	bool (*start)(void *ctx, const struct evidence_set *sets, const size_t *order, size_t lo,
		      struct ev_active *a);
	/* A packet of flow a: FA_OK, or an error with err set. */
	int (*packet)(void *ctx, struct evidence_set *sets, const size_t *order, size_t lo,
		      const struct source_frame *fr, struct ev_active *a, struct fa_err *err);
	void *ctx;
};

/* Whether capture position (file_a, frame_a) comes before (file_b, frame_b). */
static inline bool ev_before(uint32_t file_a, uint64_t frame_a, uint32_t file_b, uint64_t frame_b)
{
	return file_a < file_b || (file_a == file_b && frame_a < frame_b);
}

/*
 * A walk over the frames of the captures, in order, for flows taken in
 * just before their first frame (in id order): each packet of one of them
 * goes to a sink. ev_pass() drives one from a batch of sets;
 * evidence_stream.c from the flows of a replay as they are audited.
 */
struct active_table;
struct ev_walk {
	struct active_table *t;
	unsigned since_sweep;
};
bool ev_walk_open(struct ev_walk *w); /* false without memory */
void ev_walk_close(struct ev_walk *w);
/* Flow f becomes live, held by the sets at places[0, n) (ascending, in
   sets[order[lo + place]]); false without memory. */
bool ev_walk_add(struct ev_walk *w, const struct evidence_flow *f, const size_t *places, size_t n,
		 const struct ev_sink *sink, const struct evidence_set *sets, const size_t *order,
		 size_t lo);
/* Counts a frame; every few thousand drops the flows that ended before
   (file, frame), and is true when none is left. */
bool ev_walk_tick(struct ev_walk *w, uint32_t file, uint64_t frame);
/* Frame fr to the sink, when it is a packet of a live flow: FA_OK or the
   sink's result. */
int ev_walk_frame(struct ev_walk *w, const struct source_frame *fr, const struct ev_sink *sink,
		  struct evidence_set *sets, const size_t *order, size_t lo, struct fa_err *err);

/*
 * One pass over the captures (src freshly opened; the caller frees it) for
 * the sets order[lo, hi): every packet of their flows, each once, to sink.
 */
int ev_pass(struct source *src, evidence_flow_fn get_flow, void *user, struct evidence_set *sets,
	    const size_t *order, size_t lo, size_t hi, const struct ev_sink *sink,
	    struct fa_err *err);

/* The pack's writer (evidence_pack.c): *sink writes each packet to pack
   in dir; ev_pack_out_close() ends the part being written and frees it. */
struct pack_out;
struct pack_out *ev_pack_out_new(struct evidence_pack *pack, const char *dir, struct ev_sink *sink);
int ev_pack_out_close(struct pack_out *po, struct fa_err *err);

/* frame (of file) appended to the list *arr of *n files; false without memory. */
bool ev_frames_add(struct evidence_frames **arr, size_t *n, uint32_t file, uint64_t frame);

/* The bytes of file from into a new file to (evidence.c); FA_ERUNTIME with
   err naming the file that failed. */
int ev_copy_file(const char *from, const char *to, struct fa_err *err);

/* The distinct link types of the captures, at least 1 (evidence.c). */
size_t ev_link_types(const struct source *src);

/*
 * A per-finding capture file being written: one stream per link type, a
 * pcap or, with TLS key log text, a pcapng whose Decryption Secrets Block
 * holds it. ev_writer_open opens path for linktype as the writer's next
 * stream and returns its index (-1 with err set); ev_writer_put writes a
 * frame (ts_ns the time stamp in nanoseconds) to stream i; ev_writer_close
 * closes every stream.
 */
#define EV_MAX_LINKS 4 /* link types per set (NAME.pcap, NAME-2.pcap, ...) */
#define EV_MAX_DEAD 16 /* link types per run with a pcap header prepared */

struct ev_writer {
	int linktype[EV_MAX_LINKS];
	void *d[EV_MAX_LINKS]; /* a pcap dumper, or ... */
	FILE *ng[EV_MAX_LINKS]; /* ... a pcapng, for a set with TLS secrets */
	char *buf[EV_MAX_LINKS];
	size_t n;
};

struct ev_writers {
	void *dead[EV_MAX_DEAD]; /* one pcap header per link type */
	int dead_linktype[EV_MAX_DEAD];
	size_t n_dead;
	size_t bufsize; /* of each stream */
};

int ev_writer_open(struct ev_writers *ws, struct ev_writer *w, const char *path, int linktype,
		   const char *tls_keys, size_t keys_len, struct fa_err *err);
bool ev_writer_put(struct ev_writer *w, int i, uint64_t ts_sec, uint32_t ts_nsec,
		   const uint8_t *data, uint32_t caplen, uint32_t wirelen);
int ev_writer_close(struct ev_writer *w, struct fa_err *err);
void ev_writers_free(struct ev_writers *ws);

#endif
