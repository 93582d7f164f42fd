/*
 * engine_int.h - inside the engine: what engine.c, engine_app.c and
 * engine_split.c share.
 *
 * The engine's own structures: struct engine, each flow's struct analysis
 * (hung on flow->ext), its TCP streams, and the application layer's state
 * (HTTP/1 request tracking, body scans, a flow being decrypted). engine.c
 * hands a flow's stream bytes to engine_app.c, which reads them (HTTP,
 * HTTP/2, TLS decryption, the identifier scanner) into the flow's analysis.
 *
 * Classification in a second thread (engine.h, threads 2), between
 * engine.c and engine_split.c: the engine in the caller's thread (the
 * analyser) owns a struct split. The split owns a second engine (the
 * classifier), which runs in its own thread, sees a copy of every frame,
 * and does only what leads to nDPI's answer: clock, decode, its own flow
 * table, nDPI. Each answer is published under the flow's id with the
 * number of the frame that completed it (frames are numbered as both
 * engines count them, from 1); the analyser takes it when it reaches that
 * frame.
 */
#ifndef FLOWAUDIT_ENGINE_INT_H
#define FLOWAUDIT_ENGINE_INT_H

#include "flowaudit/engine.h"
#include "flowaudit/http.h"
#include "flowaudit/reasm.h"

/* Where hits come from: the flow, and the frame being read. */
struct app {
	struct engine *e;
	struct analysis *an;
	struct flow *f;
	uint32_t file;
	uint64_t frame;
	bool decrypted;            /* plaintext read after TLS decryption */
};

/*
 * Where the parts of the HTTP/1.x requests of a decrypted client stream
 * are, so that a hit in them says "http_query" and the key, "http_header"
 * and the name, or "http_body" and its offset in the body: the current
 * request's line, the start and name of each header line, and where its
 * body starts (Content-Length, or chunked: to the end of the stream).
 */
#define H1_LINES 48
enum { H1_START = 0, H1_REQ, H1_HDR, H1_BODY, H1_OFF };
struct h1_track {
	int state;
	bool begun;                /* a request started: msg_start is valid */
	bool head_done;            /* body_start is valid */
	bool chunked;
	uint64_t msg_start, body_start, body_left, clen;
	char reqline[1024];        /* the request line's first bytes */
	size_t reqline_len;
	uint64_t line_start[H1_LINES];
	char name[H1_LINES][48];
	unsigned n_lines;
	char cur[64];              /* the current line's first bytes */
	size_t cur_len;
	uint64_t cur_start;
};

/* One decoded message body of a direction, scanned as one piece. */
struct body_scan {
	uint32_t state;
	uint64_t msg, off;
};

struct stream {
	struct reasm ra;
	struct http_stream http;
	uint32_t scan_state;
	struct body_scan body;     /* scanner state across one message's body */
	bool http_on;
	struct engine *e;
	struct analysis *an;
	struct flow *f;
	int dir;
	uint32_t cur_file;
	uint64_t cur_frame;
	uint64_t tls_next;         /* a flow being decrypted: the next stream offset due */
	bool tls_gap;              /* tls_dec_gap() was called for this direction */
};

/*
 * A TCP flow being decrypted: its connection, and the plaintext of each
 * direction on its way to the HTTP decoders and the scanner. Listed in the
 * engine so that connections waiting for keys look again when keys come.
 */
struct tls_flow {
	struct tls_dec *dec;
	struct app a;
	uint64_t plain_off[2];
	uint32_t scan_state[2];
	struct http_stream http[2];
	bool http_on[2];
	struct body_scan body[2];
	struct h1_track h1;        /* the client's requests */
	struct tls_flow *prev, *next;
};

#define QUIC_FLOW_CIDS 8    /* connection IDs a server issues that are followed to a new path */
#define QUIC_CIDS_MAX 65536 /* ... every connection together */

/*
 * A QUIC connection decrypted with the key log: its packets, then HTTP/3.
 * Shared by the flows of its paths (a client that moves to another address
 * or port is another flow to the engine): refs counts them, and the
 * connection IDs the server issued lead a new flow to it.
 */
struct quic_flow {
	struct quic_dec *dec;
	struct http3_conn *h3;
	struct app a;              /* the flow of the datagram being read */
	unsigned refs;
	uint8_t n_cids;
	struct {
		uint8_t len;
		uint8_t b[20];
	} cids[QUIC_FLOW_CIDS];
};

struct quic_cid_slot {
	struct quic_flow *q;       /* NULL: empty; the tombstone pointer: removed */
	uint8_t len;
	uint8_t b[20];
};

struct analysis {
	struct classify_flow *cf;
	const char *protocol, *category;
	bool cls_done, encrypted, cleartext_app, is_dns, guessed;
	enum classify_name_kind ndpi_kind;
	const char *ndpi_name;
	uint32_t ndpi_name_file;
	uint64_t ndpi_name_frame;
	const char *alpn, *ja3, *user_agent, *http_url, *dns_query;

	/* TLS ClientHello from the client stream */
	uint8_t *hello;
	uint32_t hello_len, hello_cap;
	uint32_t hello_scan;       /* no ClientHello starts before this offset */
	uint32_t buried_scan;      /* no " HTTP/1." starts before this offset */
	bool hello_done;
	bool http_off;             /* the client's stream is not HTTP */
	const char *sni;
	uint32_t sni_file;
	uint64_t sni_frame;
	bool ech;                  /* the ClientHello offered encrypted_client_hello */

	/* QUIC Initial ClientHello from the client's datagrams */
	struct quic_conn *quic;
	bool quic_done;
	const char *quic_sni;
	bool quic_seen;            /* the client opened with a QUIC long header of a known version */
	struct quic_flow *qf;      /* decrypted when keys were given */
	bool quic_path_tried;      /* a short header first: looked for its connection ID */
	uint32_t quic_sni_file;
	uint64_t quic_sni_frame;

	const char *http_host;
	uint32_t http_host_file;
	uint64_t http_host_frame;
	const char *req_ua, *req_url; /* of the first request read by flowaudit's decoders */

	/* TLS: the client opened with a TLS record; decrypted when keys were given */
	bool tls_seen;
	struct tls_flow *tls;
	/* HTTP/2, over TLS or in the clear (prior knowledge) */
	struct http2_conn *h2;
	bool h2_off;

	uint64_t payload_bytes[2];
	uint32_t isn[2];           /* first stream byte, from the SYN */
	bool isn_known[2];
	struct stream *st[2];
	bool scan_off;

	struct id_hit *hits;
	uint8_t n_hits;
};

struct engine {
	struct engine_cfg cfg;
	struct flow_table *ft;
	struct classifier *cls;
	struct dns_cache *dns;
	struct strpool *pool;
	struct recstore *recs;     /* ended flows' records, by id - 1 */
	struct id_hit *hits;
	size_t n_hits_all, cap_hits;
	struct engine_stats st;
	fa_time now;
	struct split *sp;          /* threads 2: nDPI's thread, whose answers this engine takes */
	struct split *pub;         /* set: this engine is that thread's, publishing to pub */
	struct quic_ctx *quic;     /* QUIC Initial ciphers, made at the first QUIC flow */
	struct tls_flow *tls_list; /* flows being decrypted */
	uint64_t keys_gen;         /* the key log's generation they last looked at */
	struct quic_cid_slot *cids; /* server connection IDs of keyed QUIC connections */
	size_t cids_cap, cids_used, cids_live;
	uint32_t cid_lens;         /* bit n: some connection ID of n bytes is listed */
	bool flushing;
	/* ordered: the next record to hand on, and a bit for each flow after
	   it that has ended, by id % ENGINE_ORDER_WINDOW; late: the window
	   overflowed, engine_finish() hands on the rest */
	uint64_t next_on_flow;
	uint8_t *ended;
	bool on_flow_late;
	uint32_t cur_file;         /* the frame being analysed */
	uint64_t cur_frame;
	engine_horizon_cb horizon_cb;
	void *horizon_user;
	struct attr_cache *attr;   /* server addresses looked up (engine_attr.c) */
	struct dns_message dnsmsg; /* scratch: large, so not on the stack */
};

struct split;

/* What the classifier publishes for one flow. */
struct split_result {
	struct classify_result r;
	uint32_t name_file;  /* where nDPI first had a host name */
	uint64_t name_frame;
};

/* The analyser's side; owner is the analyser. */
int split_new(const struct engine_cfg *cfg, struct engine *owner, struct split **out,
	      struct fa_err *err);
void split_free(struct split *sp);
/* A copy of the frame goes to the classifier; the analyser runs
   engine_analyse_frame() on it once the classifier is past it. */
void split_frame(struct split *sp, const struct source_frame *fr);
/* Every frame is sent: the analyser catches up, the classifier ends its
   flows and stops. */
void split_finish(struct split *sp);
/*
 * The classification of flow id reached at or before frame seq, when there
 * is one: waits until the classifier has passed frame seq, then takes it
 * (true) or leaves it for a later frame. UINT64_MAX: after the last frame.
 */
bool split_take(struct split *sp, uint64_t id, uint64_t seq, struct split_result *out);

/* The classifier's side, called from its engine. */
void split_publish(struct split *sp, uint64_t id, uint64_t seq, const struct split_result *res);

/* The analyser's part of one frame (engine.c). */
void engine_analyse_frame(struct engine *e, const struct source_frame *fr);
/* An engine that only classifies and publishes to sp (engine.c). */
int engine_new_classifier(const struct engine_cfg *cfg, struct split *sp, struct engine **out,
			  struct fa_err *err);

/* Server addresses, each looked up once (engine_attr.c). */

/* The geolocation of a. */
void attr_geo(struct engine *e, const fa_addr *a, struct geo_result *out);
/* The signature whose network holds a, or NULL; *cidr its CIDR text, interned. */
const struct sig_entry *attr_sig_addr(struct engine *e, const fa_addr *a, const char **cidr);
void attr_free(struct engine *e);

/* The engine's application layer (engine_app.c), called from engine.c. */

/* s's text, interned in e's string pool; NULL for NULL or "" (engine.c). */
const char *intern(struct engine *e, const char *s);
/* Where a stream's hits come from: its flow and current frame. */
struct app stream_app(const struct stream *s);
/* A Host header value names the flow (port and trailing dot dropped, lower case). */
void set_http_host(const struct app *a, const char *value);
/* A piece of a cleartext stream's decoded HTTP body (user: the stream), to the scanner. */
void on_http_body(const uint8_t *d, size_t n, void *user);
/* n bytes of stream s at offset off through the identifier scanner, as where. */
void scan_bytes(struct stream *s, const uint8_t *d, size_t n, uint64_t off, const char *where,
		uint32_t *state);
/* In-order bytes of direction dir to the flow's HTTP/2 decoder; true while it reads HTTP/2. */
bool h2_feed(const struct app *a, int dir, const uint8_t *d, size_t n);
/* Frees the flow's HTTP/2 decoder, if any. */
void h2_drop(struct analysis *an);
/* Does a client stream open with a TLS record (handshake, alert, CCS, data)? */
bool tls_record_start(const uint8_t *d, size_t n);
/* The client opened with a TLS record: decrypt the flow when there are keys. */
void tls_begin(struct stream *s);
/* In-order ciphertext of a flow being decrypted, with the stream offset it starts at. */
void tls_cipher_bytes(struct stream *s, const uint8_t *d, size_t n, uint64_t off);
/* Ends a flow's decryption and takes it off the engine's list (NULL: nothing). */
void tls_flow_free(struct engine *e, struct tls_flow *t);
/* A datagram of a QUIC flow (dir FLOW_OUT or FLOW_IN) to its decryption, made at the first. */
void quic_flow_datagram(struct engine *e, struct flow *f, struct analysis *an, int dir,
			const uint8_t *p, size_t n, const struct source_frame *fr);
/*
 * A UDP flow whose client's first datagram is a short header: is its
 * destination connection ID one a keyed connection's server issued (the
 * connection moved to a new path)? Then the flow shares that connection.
 */
bool quic_flow_path(struct engine *e, struct analysis *an, const uint8_t *p, size_t n);
/* A flow of the connection ended; the last one frees it (NULL: nothing). */
void quic_flow_release(struct engine *e, struct quic_flow *q);
/* Frees the engine's table of connection IDs. */
void quic_cids_free(struct engine *e);
/* Brings the key log up to frame fr (NULL: as far as it goes); waiting connections retry. */
void keys_refresh(struct engine *e, const struct source_frame *fr);

#endif
