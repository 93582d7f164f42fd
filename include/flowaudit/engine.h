/*
 * engine.h - the replay pipeline up to named, located, attributed flows.
 *
 * Receives: frames (source.h). Runs them through decode, the flow table,
 * nDPI classification, the DNS name cache, the TLS ClientHello parser, and
 * the identifier scanner on cleartext payload (TCP streams put back in
 * order, HTTP bodies de-chunked and inflated), and, with a key log, on the
 * plaintext of TLS flows (decrypted by tls_decrypt.c, read as HTTP/1.x or
 * HTTP/2; HTTP/2 in the clear too). When a flow ends it is named
 * (TLS SNI, QUIC SNI from the Initial packets decrypted here or else nDPI's,
 * HTTP Host, else the newest DNS answer for its server
 * address seen before the flow began), located (geo.h) and matched against
 * the signature catalogue, and handed on as a struct flow_record, together
 * with the identifiers found in it, to the caller's on_flow callback.
 *
 * Owns: the flow table, the classifier, the DNS cache, interned strings,
 * and the records of ended flows, by flow id, in a recstore (recstore.h):
 * the first mem_records in memory, the rest in a temporary file, so memory
 * does not grow with the length of the capture. Past max_records, or when
 * the file cannot be written, records are still handed to on_flow but not
 * kept, and counted. Borrows: the geo
 * databases, the signature catalogue and the identifier scanner, which must
 * outlive the engine. Records and their strings stay valid until
 * engine_free().
 */
#ifndef FLOWAUDIT_ENGINE_H
#define FLOWAUDIT_ENGINE_H

#include "flowaudit/classify.h"
#include "flowaudit/common.h"
#include "flowaudit/decode.h"
#include "flowaudit/dns.h"
#include "flowaudit/flow.h"
#include "flowaudit/geo.h"
#include "flowaudit/identifiers.h"
#include "flowaudit/quic.h"
#include "flowaudit/signatures.h"
#include "flowaudit/source.h"
#include "flowaudit/tls_decrypt.h"

#include <stddef.h>
#include <stdint.h>

enum name_source {
	NAME_NONE = 0,
	NAME_SNI,
	NAME_QUIC_SNI,
	NAME_HTTP_HOST,
	NAME_DNS,
};
const char *name_source_str(enum name_source s);

#define FLOW_OTHER_NAMES 4

struct flow_record {
	uint64_t id;
	uint8_t proto;
	const char *transport;      /* "tcp", "udp", "icmp", "icmpv6", "ip" */
	fa_addr cli, srv;
	uint16_t cport, sport, vlan;
	bool has_mac;
	uint8_t cli_mac[6];
	uint64_t pkts[2], bytes[2]; /* [FLOW_OUT], [FLOW_IN] */
	fa_time first, last;
	uint32_t file, last_file;
	uint64_t first_frame, last_frame;
	enum flow_end_reason end;
	struct rtt_result rtt;      /* round-trip times from its own packets (rtt.h) */

	const char *protocol, *category;
	bool encrypted, cleartext_app, is_dns, guessed;
	uint64_t payload_bytes[2];

	const char *name;           /* NULL when none */
	enum name_source name_source;
	uint32_t name_file;
	uint64_t name_frame;        /* frame the name was learned from; 0 if none */
	const char *other_names[FLOW_OTHER_NAMES];
	uint8_t n_other_names;
	const char *alpn, *ja3, *user_agent, *http_url, *dns_query;
	bool ech;                   /* the ClientHello offered encrypted_client_hello:
				       name is then the outer (public) SNI */

	/* TLS over TCP with a key log (tls_decrypt.h): whether the payload
	   inside TLS was read. tls_status is NULL when the flow carried no TLS
	   handshake, else tls_dec_status_name() ("decrypted", "no_key", ...). */
	const char *tls_status;
	bool tls_decrypted;         /* tls_status is "decrypted" */
	bool have_client_random;    /* client_random names the connection's secrets */
	uint8_t client_random[32];

	struct geo_result geo;      /* of the server address */
	const struct sig_entry *sig;/* NULL when no signature matched */
	const char *sig_pattern;    /* domain or CIDR that matched */
	bool sig_by_network;

	size_t first_hit, n_hits;   /* identifier hits in engine_hits() */
};

struct id_hit {
	uint64_t flow_id;
	const char *type, *encoding; /* static strings of the scanner */
	const char *where;           /* "payload", "http_body", "http_header", "http_query" */
	const char *field;           /* header name or query key of the hit; NULL if none */
	bool decrypted;              /* found in plaintext read after TLS decryption */
	size_t id_index;             /* index in the device profile */
	uint32_t file;
	uint64_t frame;              /* frame that completed the match */
	uint64_t offset;             /* stream offset of the match */
	int dir;                     /* FLOW_OUT or FLOW_IN */
};

struct engine_stats {
	uint64_t frames, bytes;
	struct decode_stats decode;
	struct flow_table_stats flows;
	struct dns_cache_stats dns;
	uint64_t dns_parse_errors;
	uint64_t records_not_kept;
	const char *records_lost_why; /* why records were not kept; NULL: the cap */
	uint64_t strings_refused;
	uint64_t reasm_gaps, reasm_bytes_skipped;
	uint64_t hits_not_kept;
	struct quic_stats quic;      /* Initial packets opened, failed, CRYPTO bytes refused */
	/*
	 * TLS over TCP (a flow whose client opened with a TLS record): tls_flows
	 * of them ended; tls_decrypted were read whole with the key log
	 * (tls_status "decrypted"); tls_by_status counts every ended TLS flow
	 * under its tls_dec_status, so tls_by_status[TLS_DEC_NO_KEY] is those
	 * the key log had no secret for (all of them when no key log was
	 * given), and the other entries the other reasons why not.
	 */
	uint64_t tls_flows, tls_decrypted;
	uint64_t tls_by_status[TLS_DEC_AUTH_FAILED + 1];
	/* QUIC (a flow whose client opened with a long header of a known
	   version): quic_flows ended, quic_decrypted of them read with the key log */
	uint64_t quic_flows, quic_decrypted;
	fa_time first, last;
};

typedef void (*engine_flow_cb)(const struct flow_record *r, const struct id_hit *hits,
			       size_t n_hits, void *user);

struct engine_cfg {
	struct flow_table_cfg flows;
	struct classifier_cfg classify;
	struct dns_cache_limits dns;
	size_t max_records;          /* flow records kept, default 4,000,000 */
	size_t mem_records;          /* of which in memory, default 16,384 */
	size_t max_hits;             /* default 100,000 */
	size_t reasm_limit;          /* stream bytes scanned per direction, default 256 KiB */
	const struct geo *geo;       /* may be NULL */
	const struct sig_db *sigs;   /* may be NULL */
	const struct idscan *ids;    /* may be NULL: no identifier scan */
	/*
	 * keys: TLS session secrets (keylog.h); NULL: TLS payload is not read.
	 * With keys, a TCP flow that opens with a TLS record is decrypted
	 * (tls_decrypt.h) and what it carries goes where cleartext payload
	 * goes: HTTP/1.x and HTTP/2 decoders, names, the identifier scanner.
	 * keys_update, when set, is called before each frame is analysed (fr)
	 * and before flows end without one (fr NULL), in the thread that calls
	 * engine_frame(), to bring the key log up to that point (a pcapng's
	 * secrets blocks before that frame, a growing key log file); when the
	 * key log's generation has changed after it, connections waiting for
	 * keys look again. The engine only reads the key log.
	 */
	const struct keylog *keys;
	void (*keys_update)(void *user, const struct source_frame *fr);
	void *keys_user;
	size_t tls_stream_limit;     /* stream bytes read per direction of a TLS
					flow being decrypted, default 64 MiB */
	engine_flow_cb on_flow;      /* may be NULL */
	void *user;
	/*
	 * ordered: on_flow is called once per kept record in flow id order
	 * (the order of the flows' first packets), so that what follows does
	 * not depend on when each flow happened to end. A record is handed on
	 * as soon as every flow created before it has ended, during the
	 * replay: a flow that ends while an older one is still live waits for
	 * it in the record store, up to ENGINE_ORDER_WINDOW flows behind it;
	 * past that the rest come from engine_finish(). A replay uses it;
	 * a live capture, which reports findings as they happen, does not.
	 *
	 * threads 2: nDPI runs in a second thread. It gets a copy of every
	 * frame and a flow table of its own, which files the frames exactly as
	 * this engine's does (same frames, same times, same ids); it hands each
	 * flow's classification back with the frame at which it was reached,
	 * and this engine applies it at that same frame, waiting for it when it
	 * runs ahead. One nDPI sees every frame in capture order, as without
	 * the thread: nDPI relates flows to each other (a speed test's HTTP
	 * request names the flows that follow it, a certificate names later
	 * TLS flows to the same server), so spreading flows over several nDPI
	 * instances would change results. Records, findings and reports are
	 * the same as with one thread, byte for byte. For a replay:
	 * engine_advance() does not apply.
	 */
	bool ordered;
	unsigned threads;            /* 0 or 1: one thread; 2: nDPI in its own */
};
#define ENGINE_MAX_THREADS 2
void engine_cfg_default(struct engine_cfg *cfg);

struct engine;
int engine_new(const struct engine_cfg *cfg, struct engine **out, struct fa_err *err);
void engine_free(struct engine *e);

/* Replaces the on_flow callback (set before the first frame). */
void engine_set_flow_cb(struct engine *e, engine_flow_cb cb, void *user);

#define ENGINE_ORDER_WINDOW (1u << 20)

/*
 * ordered only: called after on_flow has handed on records, with the
 * position (file, frame) before which every frame belongs to a flow
 * already handed on or to none. It only moves forward; engine_finish()
 * hands on the rest and does not call it.
 */
typedef void (*engine_horizon_cb)(uint32_t file, uint64_t frame, void *user);
void engine_set_horizon_cb(struct engine *e, engine_horizon_cb cb, void *user);

/* One frame through the pipeline. */
void engine_frame(struct engine *e, const struct source_frame *f);
/*
 * Moves the clock to `now` with no frame: flows idle or closed by then end
 * (live capture on a quiet link). Time never goes back; an earlier `now`
 * does nothing.
 */
void engine_advance(struct engine *e, fa_time now);
/* Ends every flow still live (call once, after the last frame). */
void engine_finish(struct engine *e);

/*
 * Records of ended flows by id, 1 .. engine_record_count(). A record is
 * copied into *out (its strings stay valid until engine_free()); false when
 * that flow's record was not kept.
 */
uint64_t engine_record_count(const struct engine *e);
bool engine_record_get(struct engine *e, uint64_t id, struct flow_record *out);
/*
 * A reader of the records of its own. After engine_finish() (which has
 * written out every record) a thread may read through one while others
 * read too, through engine_record_get() or readers of their own. Before
 * it, the reader writes out what is buffered first (no thread may read
 * then). NULL when out of memory.
 */
struct engine_records;
struct engine_records *engine_records_open(struct engine *e);
bool engine_records_get(struct engine_records *r, uint64_t id, struct flow_record *out);
void engine_records_close(struct engine_records *r); /* NULL is a no-op */
const struct id_hit *engine_hits(const struct engine *e, size_t *n);
void engine_stats(const struct engine *e, struct engine_stats *out);

#endif
