/*
 * engine.c - frames in, named and attributed flow records out.
 *
 * Receives frames; hands on flow records and identifier hits (engine.h).
 * Owns per-flow analysis state (struct analysis, hung on flow->ext), which
 * lives from the flow's first packet to its end callback.
 *
 * Per packet the work is: decode, one flow-table lookup, nDPI while the flow
 * is still being classified, the DNS parser for port-53 datagrams, and for
 * TCP payload the in-order stream: the first client bytes go to the TLS
 * ClientHello parser (for the full SNI) and, unless the flow turned out to
 * be encrypted, every delivered byte goes through the identifier scanner.
 * A UDP flow whose client opens with a QUIC long-header packet has its
 * client datagrams go to quic.c until its Initial ClientHello is whole
 * (the same TLS parser: full SNI, ALPN, ECH), which takes the first few
 * datagrams of the flow.
 * What is read inside a stream (the scanner with the place of each hit in
 * an HTTP request, HTTP/2, TLS decryption) is engine_app.c's.
 * Naming, geolocation and signature matching happen once per flow, when it
 * ends.
 */
#include "flowaudit/engine.h"

#include "engine_int.h"

#include "flowaudit/http3.h"
#include "flowaudit/quic_decrypt.h"
#include "flowaudit/cursor.h"
#include "flowaudit/http.h"
#include "flowaudit/http2.h"
#include "flowaudit/reasm.h"
#include "flowaudit/recstore.h"
#include "flowaudit/strpool.h"
#include "flowaudit/tls.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HELLO_MAX 16384   /* bytes of client stream kept for the ClientHello */
#define HELLO_SEARCH 4096 /* a ClientHello or buried request must start within these */
#define TLS_STREAM_LIMIT ((size_t)64 << 20) /* default tls_stream_limit */

const char *name_source_str(enum name_source s)
{
	switch (s) {
	case NAME_NONE: return "none";
	case NAME_SNI: return "sni";
	case NAME_QUIC_SNI: return "quic_sni";
	case NAME_HTTP_HOST: return "http_host";
	case NAME_DNS: return "dns";
	}
	return "none";
}

void engine_cfg_default(struct engine_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	flow_table_cfg_default(&cfg->flows);
	cfg->max_records = 4000000;
	cfg->mem_records = 16384;
	cfg->max_hits = 100000;
	cfg->reasm_limit = (size_t)256 * 1024;
	cfg->tls_stream_limit = TLS_STREAM_LIMIT;
}

static void on_flow_end(struct flow *f, enum flow_end_reason why, void *user);

static int engine_make(const struct engine_cfg *cfg, struct split *pub, struct engine **out,
		       struct fa_err *err)
{
	*out = NULL;
	struct engine *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	if (cfg)
		e->cfg = *cfg;
	else
		engine_cfg_default(&e->cfg);
	if (e->cfg.reasm_limit == 0)
		e->cfg.reasm_limit = (size_t)256 * 1024;
	if (e->cfg.tls_stream_limit < e->cfg.reasm_limit)
		e->cfg.tls_stream_limit = e->cfg.reasm_limit > TLS_STREAM_LIMIT ? e->cfg.reasm_limit
										 : TLS_STREAM_LIMIT;
	if (e->cfg.threads > ENGINE_MAX_THREADS) {
		fa_err_set(err, "at most %d threads", ENGINE_MAX_THREADS);
		free(e);
		return FA_EINPUT;
	}
	e->pub = pub;
	if (e->cfg.threads == 2 && pub == NULL) {
		e->cfg.ordered = true;
		int rc = split_new(&e->cfg, e, &e->sp, err);
		if (rc != FA_OK) {
			free(e);
			return rc;
		}
	} else {
		/* nDPI here, unless it runs in its own thread */
		int rc = classifier_new(&e->cfg.classify, &e->cls, err);
		if (rc != FA_OK) {
			free(e);
			return rc;
		}
	}
	e->next_on_flow = 1;
	e->ft = flow_table_new(&e->cfg.flows, on_flow_end, e);
	e->dns = dns_cache_new(e->cfg.dns.max_addresses ? &e->cfg.dns : NULL);
	e->pool = strpool_new(0);
	e->recs = recstore_new(sizeof(struct flow_record), e->cfg.mem_records);
	if (e->ft == NULL || e->dns == NULL || e->pool == NULL || e->recs == NULL) {
		engine_free(e);
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	*out = e;
	return FA_OK;
}

int engine_new(const struct engine_cfg *cfg, struct engine **out, struct fa_err *err)
{
	return engine_make(cfg, NULL, out, err);
}

int engine_new_classifier(const struct engine_cfg *cfg, struct split *sp, struct engine **out,
			  struct fa_err *err)
{
	struct engine_cfg c = *cfg;
	c.threads = 0;
	c.ordered = true;
	c.on_flow = NULL;
	c.user = NULL;
	c.ids = NULL;
	c.keys = NULL;
	c.keys_update = NULL;
	c.mem_records = 1;
	return engine_make(&c, sp, out, err);
}

void engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	split_free(e->sp);
	flow_table_free(e->ft);
	classifier_free(e->cls);
	dns_cache_free(e->dns);
	strpool_free(e->pool);
	recstore_free(e->recs);
	quic_ctx_free(e->quic);
	quic_cids_free(e);
	attr_free(e);
	free(e->hits);
	free(e->ended);
	free(e);
}

const char *intern(struct engine *e, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return NULL;
	return strpool_intern(e->pool, s);
}

/* ---- TCP streams ---- */

/*
 * Where a TLS ClientHello record starts in buf, at or after from, or -1.
 * Usually at 0; after a SOCKS or HTTP CONNECT exchange, a PROXY protocol
 * line or STARTTLS it starts later in the client's stream.
 */
static long hello_start(const uint8_t *buf, size_t len, size_t from)
{
	for (size_t i = from; i + 6 <= len; i++) {
		if (buf[i] == 0x16 && buf[i + 1] == 0x03 && buf[i + 2] <= 0x04 && buf[i + 5] == 0x01)
			return (long)i;
	}
	return -1;
}

/*
 * The Host header of an HTTP request that does not start the stream (after
 * a SOCKS handshake, say): a request line ending in " HTTP/1.x" and, before
 * the blank line, "Host:". Writes the host and returns true when found.
 * buf only grows between calls: *from is where the search for " HTTP/1."
 * takes up again.
 */
static bool buried_http_host(const uint8_t *buf, size_t len, uint32_t *from, char *host,
			     size_t n)
{
	const char *b = (const char *)buf;
	const char *v = *from < len ? memmem(b + *from, len - *from, " HTTP/1.", 8) : NULL;
	if (v == NULL) {
		*from = len > 7 ? (uint32_t)(len - 7) : 0;
		return false;
	}
	*from = (uint32_t)(v - b);
	const char *end = memmem(v, len - (size_t)(v - b), "\r\n\r\n", 4);
	if (end == NULL)
		return false;
	for (const char *p = v; p + 7 < end; p++) {
		if (p[0] == '\n' && strncasecmp(p + 1, "host:", 5) == 0) {
			const char *h = p + 6;
			while (h < end && (*h == ' ' || *h == '\t'))
				h++;
			size_t k = 0;
			while (h + k < end && h[k] != '\r' && h[k] != '\n' && k + 1 < n)
				k++;
			if (k == 0)
				return false;
			memcpy(host, h, k);
			host[k] = '\0';
			return true;
		}
	}
	return false;
}

static void hello_done(struct analysis *an)
{
	an->hello_done = true;
	free(an->hello);
	an->hello = NULL;
	an->hello_len = an->hello_cap = 0;
}

static void hello_bytes(struct stream *s, const uint8_t *d, size_t n)
{
	struct analysis *an = s->an;
	if (an->http_host != NULL) { /* an HTTP stream; a CONNECT target names it already */
		hello_done(an);
		return;
	}
	size_t want = an->hello_len + n < HELLO_MAX ? an->hello_len + n : HELLO_MAX;
	if (want > an->hello_cap) {
		size_t cap = an->hello_cap ? an->hello_cap : 2048;
		while (cap < want)
			cap *= 2;
		uint8_t *nb = realloc(an->hello, cap);
		if (nb == NULL) {
			hello_done(an);
			return;
		}
		an->hello = nb;
		an->hello_cap = (uint32_t)cap;
	}
	size_t take = want - an->hello_len;
	memcpy(an->hello + an->hello_len, d, take);
	an->hello_len += (uint32_t)take;
	/* the bytes before hello_scan were looked at by the calls before */
	long at = hello_start(an->hello, an->hello_len, an->hello_scan);
	an->hello_scan = at >= 0 ? (uint32_t)at : an->hello_len > 5 ? an->hello_len - 5 : 0;
	if (at < 0) {
		char host[256];
		if (s->http.inactive && buried_http_host(an->hello, an->hello_len,
							 &an->buried_scan, host, sizeof(host))) {
			struct app a = stream_app(s);
			set_http_host(&a, host);
			hello_done(an);
		} else if (an->hello_len >= HELLO_SEARCH) {
			hello_done(an);
		}
		return;
	}
	struct tls_hello h;
	enum tls_parse_status rc = tls_client_hello(an->hello + at, an->hello_len - (size_t)at, &h);
	if (rc == TLS_PARSE_NEED_MORE && an->hello_len < HELLO_MAX)
		return;
	if (rc == TLS_PARSE_OK && h.sni[0] != '\0') {
		an->sni = intern(s->e, h.sni);
		an->sni_file = s->cur_file;
		an->sni_frame = s->cur_frame;
		if (h.alpn[0] && an->alpn == NULL)
			an->alpn = intern(s->e, h.alpn);
	}
	if (rc == TLS_PARSE_OK)
		an->ech = h.ech;
	hello_done(an);
}

static void http_bytes(struct stream *s, const uint8_t *d, size_t n, bool scan)
{
	struct analysis *an = s->an;
	http_stream_feed(&s->http, d, n, scan ? on_http_body : NULL, s);
	if (s->dir == FLOW_OUT && an->http_host == NULL) {
		const struct http_info *hi = http_stream_info(&s->http);
		if (hi != NULL && hi->host[0]) {
			struct app a = stream_app(s);
			set_http_host(&a, hi->host);
		}
	}
	if (s->http.inactive)
		s->http_on = false;
}

/* Does this direction still need its bytes? */
static bool stream_wanted(const struct engine *e, const struct analysis *an, int dir)
{
	if (an->tls != NULL || (an->h2 != NULL && !an->h2->inactive))
		return true;
	if (dir == FLOW_OUT && !an->hello_done)
		return true;
	if (dir == FLOW_OUT && an->http_host == NULL && !an->http_off)
		return true;
	return e->cfg.ids != NULL && !an->scan_off;
}

static void on_stream_bytes(const uint8_t *d, size_t n, uint64_t off, void *user)
{
	struct stream *s = user;
	struct analysis *an = s->an;
	if (off == 0 && s->dir == FLOW_OUT && !an->tls_seen && tls_record_start(d, n))
		tls_begin(s);
	bool scan = s->e->cfg.ids != NULL && !an->scan_off;
	if (an->tls != NULL) {
		tls_cipher_bytes(s, d, n, off);
		scan = false;
	} else if (!an->h2_off) {
		struct app a = stream_app(s);
		h2_feed(&a, s->dir, d, n);
	}
	if (scan)
		scan_bytes(s, d, n, off, "payload", &s->scan_state);
	if (s->http_on && (scan || (s->dir == FLOW_OUT && an->http_host == NULL)))
		http_bytes(s, d, n, scan);
	if (s->dir == FLOW_OUT && !an->hello_done)
		hello_bytes(s, d, n);
	if (s->dir == FLOW_OUT && !s->http_on)
		an->http_off = true;
}

static struct stream *stream_get(struct engine *e, struct flow *f, struct analysis *an, int dir,
				 uint32_t isn)
{
	if (an->st[dir] != NULL)
		return an->st[dir];
	struct stream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	reasm_init(&s->ra, isn, an->tls != NULL ? e->cfg.tls_stream_limit : e->cfg.reasm_limit,
		   (size_t)64 * 1024);
	http_stream_init(&s->http);
	s->http_on = true;
	s->e = e;
	s->an = an;
	s->f = f;
	s->dir = dir;
	s->scan_state = e->cfg.ids ? idscan_start(e->cfg.ids) : 0;
	an->st[dir] = s;
	return s;
}

static void stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	reasm_free(&s->ra);
	http_stream_free(&s->http);
	free(s);
}

static void tcp_payload(struct engine *e, struct flow *f, struct analysis *an, int dir,
			const struct decoded_pkt *p, const struct source_frame *fr)
{
	if (!stream_wanted(e, an, dir))
		return;
	uint32_t isn = an->isn_known[dir] ? an->isn[dir] : p->tcp_seq;
	struct stream *s = stream_get(e, f, an, dir, isn);
	if (s == NULL)
		return;
	s->cur_file = fr->file;
	s->cur_frame = fr->frame;
	reasm_segment(&s->ra, p->tcp_seq, p->payload, p->payload_len, on_stream_bytes, s);
	if (an->tls != NULL && s->ra.beyond_limit > 0 && !s->tls_gap) {
		tls_dec_gap(an->tls->dec, (enum tls_dec_dir)dir); /* the rest is not read */
		s->tls_gap = true;
	}
}

/* A UDP datagram to or from port 53 or 5353, with payload. */
static bool is_dns(const struct decoded_pkt *p)
{
	return p->l4_proto == IPPROTO_UDP && p->payload_len > 0 &&
	       (p->sport == 53 || p->dport == 53 || p->sport == 5353 || p->dport == 5353);
}

static void quic_finish(struct analysis *an)
{
	quic_conn_free(an->quic);
	an->quic = NULL;
	an->quic_done = true;
}

/* A client datagram of a flow that may be QUIC: on to its Initial ClientHello. */
static void quic_payload(struct engine *e, struct analysis *an, const struct decoded_pkt *p,
			 const struct source_frame *fr)
{
	if (an->quic == NULL) {
		struct cursor c = cur_make(p->payload, p->payload_len);
		uint8_t b0 = cur_u8(&c);
		uint32_t version = cur_be32(&c);
		if ((b0 & 0x80) == 0) { /* not a long header: not a QUIC handshake */
			an->quic_done = true;
			return;
		}
		an->quic_seen = cur_ok(&c) && quic_version_known(version);
		if (e->quic == NULL)
			e->quic = quic_ctx_new();
		an->quic = e->quic != NULL ? quic_conn_new() : NULL;
		if (an->quic == NULL) {
			an->quic_done = true;
			return;
		}
	}
	struct tls_hello h;
	enum quic_status st = quic_client_datagram(e->quic, an->quic, p->payload, p->payload_len, &h);
	if (st == QUIC_MORE)
		return;
	if (st == QUIC_HELLO) {
		if (h.sni[0] != '\0') {
			an->quic_sni = intern(e, h.sni);
			an->quic_sni_file = fr->file;
			an->quic_sni_frame = fr->frame;
		}
		if (h.alpn[0] && an->alpn == NULL)
			an->alpn = intern(e, h.alpn);
		an->ech = h.ech;
	}
	quic_finish(an);
}

static void udp_payload(struct engine *e, struct flow *f, struct analysis *an, int dir,
			const struct decoded_pkt *p, const struct source_frame *fr)
{
	if (dir == FLOW_OUT && !an->quic_done && !is_dns(p))
		quic_payload(e, an, p, fr);
	if (e->cfg.keys != NULL && !an->quic_seen && !an->quic_path_tried && dir == FLOW_OUT &&
	    !is_dns(p)) {
		an->quic_path_tried = true;
		quic_flow_path(e, an, p->payload, p->payload_len);
	}
	if (an->quic_seen && e->cfg.keys != NULL)
		quic_flow_datagram(e, f, an, dir, p->payload, p->payload_len, fr);
	if (is_dns(p)) {
		enum dns_parse_status ds = dns_parse(p->payload, p->payload_len, &e->dnsmsg);
		if (ds == DNS_PARSE_OK || ds == DNS_PARSE_TRUNCATED) {
			if (e->dnsmsg.is_response)
				dns_cache_add_message(e->dns, &e->dnsmsg, fr->ts, fr->file, fr->frame);
			if (an->dns_query == NULL && e->dnsmsg.qname[0])
				an->dns_query = intern(e, e->dnsmsg.qname);
		}
		if (ds != DNS_PARSE_OK)
			e->st.dns_parse_errors++;
	}
	if (e->cfg.ids == NULL || an->scan_off)
		return;
	struct stream tmp = {.e = e, .an = an, .f = f, .dir = dir, .cur_file = fr->file,
			     .cur_frame = fr->frame};
	uint32_t st = idscan_start(e->cfg.ids);
	scan_bytes(&tmp, p->payload, p->payload_len, 0, "payload", &st);
}

/* ---- classification ---- */

/* nDPI's answer for the flow, into its analysis. */
static void apply_classification(struct engine *e, struct analysis *an, struct classify_result *rp)
{
	struct classify_result r = *rp;
	an->cf = NULL;
	an->cls_done = true;
	an->protocol = intern(e, r.protocol);
	an->category = intern(e, r.category);
	an->encrypted = r.encrypted;
	an->cleartext_app = r.cleartext_app;
	an->is_dns = r.is_dns;
	an->guessed = r.guessed;
	an->ndpi_kind = r.name_kind;
	if (r.name[0]) {
		fa_host_normalize(r.name);
		an->ndpi_name = intern(e, r.name);
	}
	if (r.alpn[0] && an->alpn == NULL)
		an->alpn = intern(e, r.alpn);
	an->ja3 = intern(e, r.ja3);
	an->http_url = intern(e, r.http_url);
	an->user_agent = intern(e, r.user_agent);
	if (r.name_kind == CLASSIFY_NAME_DNS_QUERY && an->dns_query == NULL)
		an->dns_query = an->ndpi_name;
	/* ciphertext is noise to the identifier scanner */
	if (r.encrypted)
		an->scan_off = true;
}

/* nDPI's last word on flow f, at the current frame: applied here, or
   published for the engine that runs the rest. */
static void finish_classification(struct engine *e, struct flow *f, struct analysis *an)
{
	struct split_result res;
	classify_finish(e->cls, an->cf, &res.r);
	an->cf = NULL;
	an->cls_done = true;
	if (e->pub == NULL) {
		apply_classification(e, an, &res.r);
		return;
	}
	res.name_file = an->ndpi_name_file;
	res.name_frame = an->ndpi_name_frame;
	split_publish(e->pub, f->id, e->st.frames, &res);
}

/* With nDPI in its own thread: its answer for f, once it has one as of the
   current frame (or, flushing, at all). */
static void take_classification(struct engine *e, struct flow *f, struct analysis *an)
{
	struct split_result res;
	if (!split_take(e->sp, f->id, e->flushing ? UINT64_MAX : e->st.frames, &res))
		return;
	an->ndpi_name_file = res.name_file;
	an->ndpi_name_frame = res.name_frame;
	apply_classification(e, an, &res.r);
}

void engine_frame(struct engine *e, const struct source_frame *fr)
{
	if (e->sp != NULL)
		split_frame(e->sp, fr); /* comes back through engine_analyse_frame() */
	else
		engine_analyse_frame(e, fr);
}

void engine_analyse_frame(struct engine *e, const struct source_frame *fr)
{
	struct decoded_pkt p;
	keys_refresh(e, fr);
	e->cur_file = fr->file;
	e->cur_frame = fr->frame;
	e->st.frames++;
	e->st.bytes += fr->wirelen;
	if (e->st.frames == 1 || fr->ts < e->st.first)
		e->st.first = fr->ts;
	if (fr->ts > e->st.last)
		e->st.last = fr->ts;
	if (fr->ts > e->now) {
		e->now = fr->ts;
		flow_table_expire(e->ft, e->now);
	}
	enum decode_result dr = decode_frame(fr->linktype, fr->data, fr->caplen, &p, &e->st.decode);
	if (dr != DECODE_OK && dr != DECODE_OTHER_L4)
		return;
	int dir;
	struct flow *f = flow_table_packet(e->ft, &p, fr->ts, fr->file, fr->frame, &dir);
	if (f == NULL)
		return;
	struct analysis *an = f->ext;
	if (an == NULL) {
		an = calloc(1, sizeof(*an));
		if (an == NULL)
			return;
		f->ext = an;
		if (e->sp == NULL) {
			an->cf = classify_flow_new(e->cls, p.l4_proto);
			if (an->cf == NULL)
				an->cls_done = true;
		}
		if (p.l4_proto != IPPROTO_TCP)
			an->hello_done = true;
	}
	if (!an->cls_done && e->sp != NULL) {
		take_classification(e, f, an);
	} else if (!an->cls_done) {
		bool had = classify_has_name(an->cf);
		bool done = classify_packet(e->cls, an->cf, p.l3, p.l3_len, fr->ts);
		if (!had && classify_has_name(an->cf)) {
			an->ndpi_name_file = fr->file;
			an->ndpi_name_frame = fr->frame;
		}
		if (done)
			finish_classification(e, f, an);
	}
	if (e->pub != NULL)
		return; /* the classifier's part ends here */
	rtt_packet(f, &p, dir, fr->ts, fr->file, fr->frame);
	if (p.l4_proto == IPPROTO_TCP && (p.tcp_flags & TCP_SYN) && !an->isn_known[dir]) {
		an->isn[dir] = p.tcp_seq + 1;
		an->isn_known[dir] = true;
	}
	if (p.payload_len == 0)
		return;
	an->payload_bytes[dir] += p.payload_len;
	if (p.l4_proto == IPPROTO_TCP)
		tcp_payload(e, f, an, dir, &p, fr);
	else if (p.l4_proto == IPPROTO_UDP)
		udp_payload(e, f, an, dir, &p, fr);
}

/* ---- the end of a flow ---- */

static const char *transport_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: return "ip";
	}
}

static void set_name(struct flow_record *r, const char *name, enum name_source src, uint32_t file,
		     uint64_t frame)
{
	r->name = name;
	r->name_source = src;
	r->name_file = file;
	r->name_frame = frame;
}

static void name_flow(struct engine *e, const struct analysis *an, struct flow_record *r)
{
	if (an->sni != NULL) {
		set_name(r, an->sni, NAME_SNI, an->sni_file, an->sni_frame);
	} else if (an->quic_sni != NULL) {
		set_name(r, an->quic_sni, NAME_QUIC_SNI, an->quic_sni_file, an->quic_sni_frame);
	} else if (an->ndpi_name != NULL && an->ndpi_kind == CLASSIFY_NAME_TLS_SNI) {
		set_name(r, an->ndpi_name, NAME_SNI, an->ndpi_name_file, an->ndpi_name_frame);
	} else if (an->ndpi_name != NULL && an->ndpi_kind == CLASSIFY_NAME_QUIC_SNI) {
		set_name(r, an->ndpi_name, NAME_QUIC_SNI, an->ndpi_name_file, an->ndpi_name_frame);
	} else if (an->http_host != NULL) {
		set_name(r, an->http_host, NAME_HTTP_HOST, an->http_host_file, an->http_host_frame);
	} else if (an->ndpi_name != NULL && an->ndpi_kind == CLASSIFY_NAME_HTTP_HOST) {
		set_name(r, an->ndpi_name, NAME_HTTP_HOST, an->ndpi_name_file, an->ndpi_name_frame);
	}
	/* a Host read inside TLS that differs from the SNI */
	if (an->http_host != NULL && r->name != NULL && strcmp(an->http_host, r->name) != 0)
		r->other_names[r->n_other_names++] = an->http_host;
	/* DNS answers: the name itself when nothing better, the rest as other names */
	struct dns_name_ref refs[FLOW_OTHER_NAMES + 1];
	size_t n = dns_cache_lookup(e->dns, &r->srv, r->first, refs, FLOW_OTHER_NAMES + 1);
	size_t i = 0;
	if (r->name == NULL && n > 0 && !an->is_dns) {
		set_name(r, intern(e, refs[0].name), NAME_DNS, refs[0].file, refs[0].frame);
		i = 1;
	}
	for (; i < n && r->n_other_names < FLOW_OTHER_NAMES; i++) {
		if ((r->name != NULL && strcmp(refs[i].name, r->name) == 0) ||
		    (r->n_other_names > 0 && strcmp(refs[i].name, r->other_names[0]) == 0))
			continue;
		const char *s = intern(e, refs[i].name);
		if (s != NULL)
			r->other_names[r->n_other_names++] = s;
	}
}

static void attribute_flow(struct engine *e, struct flow_record *r)
{
	attr_geo(e, &r->srv, &r->geo);
	if (r->geo.found_asn && r->geo.as_org[0] == '\0')
		r->geo.as_org[0] = '\0';
	if (e->cfg.sigs == NULL)
		return;
	const char *pat = NULL;
	if (r->name != NULL)
		r->sig = sig_match_host(e->cfg.sigs, r->name, &pat);
	if (r->sig != NULL) {
		r->sig_pattern = pat;
		return;
	}
	const char *cidr;
	r->sig = attr_sig_addr(e, &r->srv, &cidr);
	if (r->sig != NULL) {
		r->sig_pattern = cidr;
		r->sig_by_network = true;
	}
}

static void keep_hits(struct engine *e, struct analysis *an, struct flow_record *r)
{
	r->first_hit = e->n_hits_all;
	r->n_hits = 0;
	for (uint8_t i = 0; i < an->n_hits; i++) {
		if (e->n_hits_all >= e->cfg.max_hits) {
			e->st.hits_not_kept++;
			continue;
		}
		if (e->n_hits_all == e->cap_hits) {
			size_t nc = e->cap_hits ? e->cap_hits * 2 : 256;
			struct id_hit *nh = realloc(e->hits, nc * sizeof(*nh));
			if (nh == NULL) {
				e->st.hits_not_kept++;
				continue;
			}
			e->hits = nh;
			e->cap_hits = nc;
		}
		e->hits[e->n_hits_all++] = an->hits[i];
		r->n_hits++;
	}
}

/* The status a TLS or QUIC connection's decryption reached, and its client random. */
static void record_decryption(struct flow_record *r, enum tls_dec_status st, bool have_random,
			      const uint8_t *random)
{
	r->have_client_random = have_random;
	if (have_random)
		memcpy(r->client_random, random, sizeof(r->client_random));
	r->tls_status = tls_dec_status_name(st);
	r->tls_decrypted = st == TLS_DEC_DECRYPTED;
}

/* What decryption made of a TLS flow, into its record and the stats. */
static void tls_record(struct engine *e, struct analysis *an, struct flow_record *r)
{
	enum tls_dec_status st = TLS_DEC_NO_KEY;
	const struct tls_dec_info *ti = NULL;
	if (an->tls != NULL) {
		if (!e->cfg.ordered) /* live: the key log may have grown meanwhile */
			keys_refresh(e, NULL);
		tls_dec_finish(an->tls->dec);
		st = tls_dec_status(an->tls->dec);
		ti = tls_dec_info(an->tls->dec);
	}
	record_decryption(r, st, ti != NULL && ti->have_random, ti ? ti->client_random : NULL);
	e->st.tls_flows++;
	e->st.tls_decrypted += r->tls_decrypted;
	if ((unsigned)st < sizeof(e->st.tls_by_status) / sizeof(e->st.tls_by_status[0]))
		e->st.tls_by_status[st]++;
}

/* What decryption made of a QUIC flow, into its record and the stats. */
static void quic_record(struct engine *e, struct analysis *an, struct flow_record *r)
{
	const struct quic_dec_info *qi = an->qf != NULL ? quic_dec_info(an->qf->dec) : NULL;
	record_decryption(r, an->qf != NULL ? quic_dec_status(an->qf->dec) : TLS_DEC_NO_KEY,
			  qi != NULL && qi->have_random, qi ? qi->client_random : NULL);
	e->st.quic_flows++;
	e->st.quic_decrypted += r->tls_decrypted;
}

static void hand_on(struct engine *e, const struct flow_record *r)
{
	e->cfg.on_flow(r, r->n_hits && r->first_hit + r->n_hits <= e->n_hits_all ? &e->hits[r->first_hit]
										   : NULL,
		       r->n_hits, e->cfg.user);
}

/*
 * Flow r has ended (kept: its record is in the store): hands on, in id
 * order, every record whose older flows have all ended. A flow that ends
 * before its turn is marked in the window and its record read back from
 * the store when its turn comes; past the window, engine_finish() hands
 * on the rest.
 */
static void hand_on_in_order(struct engine *e, const struct flow_record *r, bool kept)
{
	if (e->on_flow_late)
		return;
	if (r->id != e->next_on_flow) {
		if (r->id < e->next_on_flow || r->id - e->next_on_flow >= ENGINE_ORDER_WINDOW ||
		    (e->ended == NULL && (e->ended = calloc(ENGINE_ORDER_WINDOW / 8, 1)) == NULL)) {
			e->on_flow_late = true;
			return;
		}
		uint64_t slot = r->id % ENGINE_ORDER_WINDOW;
		e->ended[slot / 8] |= (uint8_t)(1u << (slot % 8));
		return;
	}
	if (kept)
		hand_on(e, r);
	for (e->next_on_flow++; e->ended != NULL; e->next_on_flow++) {
		uint64_t slot = e->next_on_flow % ENGINE_ORDER_WINDOW;
		uint8_t bit = (uint8_t)(1u << (slot % 8));
		if (!(e->ended[slot / 8] & bit))
			break;
		e->ended[slot / 8] &= (uint8_t)~bit;
		struct flow_record w;
		if (engine_record_get(e, e->next_on_flow, &w))
			hand_on(e, &w);
	}
	if (e->horizon_cb != NULL && !e->flushing) {
		const struct flow *o = flow_table_oldest(e->ft);
		if (o != NULL)
			e->horizon_cb(o->file, o->first_frame, e->horizon_user);
		else
			e->horizon_cb(e->cur_file, e->cur_frame, e->horizon_user);
	}
}

static void on_flow_end(struct flow *f, enum flow_end_reason why, void *user)
{
	struct engine *e = user;
	struct analysis *an = f->ext;
	struct analysis empty = {0};
	if (an == NULL)
		an = &empty;
	if (!an->cls_done && e->sp != NULL)
		take_classification(e, f, an);
	else if (!an->cls_done && an->cf != NULL)
		finish_classification(e, f, an);
	if (e->pub != NULL) {
		free(an->hello);
		if (an != &empty)
			free(an);
		f->ext = NULL;
		return;
	}

	struct flow_record r = {0};
	r.id = f->id;
	r.proto = f->proto;
	r.transport = transport_name(f->proto);
	r.cli = f->cli;
	r.srv = f->srv;
	r.cport = f->cport;
	r.sport = f->sport;
	r.vlan = f->vlan;
	r.has_mac = f->has_mac;
	memcpy(r.cli_mac, f->cli_mac, 6);
	memcpy(r.pkts, f->pkts, sizeof(r.pkts));
	memcpy(r.bytes, f->bytes, sizeof(r.bytes));
	r.first = f->first;
	r.last = f->last;
	r.file = f->file;
	r.last_file = f->last_file;
	r.first_frame = f->first_frame;
	r.last_frame = f->last_frame;
	r.end = why;
	rtt_result(f, &r.rtt);
	r.protocol = an->protocol;
	r.category = an->category;
	r.encrypted = an->encrypted;
	r.cleartext_app = an->cleartext_app;
	r.is_dns = an->is_dns;
	r.guessed = an->guessed;
	memcpy(r.payload_bytes, an->payload_bytes, sizeof(r.payload_bytes));
	r.alpn = an->alpn;
	r.ja3 = an->ja3;
	r.user_agent = an->req_ua != NULL ? an->req_ua : an->user_agent;
	r.http_url = an->req_url != NULL ? an->req_url : an->http_url;
	r.dns_query = an->dns_query;
	r.ech = an->ech;
	if (an->tls_seen)
		tls_record(e, an, &r);
	else if (an->quic_seen)
		quic_record(e, an, &r);
	name_flow(e, an, &r);
	attribute_flow(e, &r);
	keep_hits(e, an, &r);

	for (int d = 0; d < 2; d++) {
		if (an->st[d] != NULL) {
			e->st.reasm_gaps += an->st[d]->ra.gaps;
			e->st.reasm_bytes_skipped += an->st[d]->ra.skipped;
		}
	}

	const char *lost = NULL;
	bool kept = r.id != 0 && r.id <= e->cfg.max_records && recstore_put(e->recs, r.id - 1, &r, &lost);
	if (!kept) {
		e->st.records_not_kept++;
		if (lost != NULL && e->st.records_lost_why == NULL)
			e->st.records_lost_why = lost;
	}
	if (e->cfg.on_flow && !e->cfg.ordered)
		hand_on(e, &r);
	else if (e->cfg.on_flow)
		hand_on_in_order(e, &r, kept);

	for (int d = 0; d < 2; d++)
		stream_free(an->st[d]);
	tls_flow_free(e, an->tls);
	quic_flow_release(e, an->qf);
	h2_drop(an);
	quic_conn_free(an->quic);
	free(an->hello);
	free(an->hits);
	if (an != &empty)
		free(an);
	f->ext = NULL;
}

void engine_set_flow_cb(struct engine *e, engine_flow_cb cb, void *user)
{
	e->cfg.on_flow = cb;
	e->cfg.user = user;
}

void engine_set_horizon_cb(struct engine *e, engine_horizon_cb cb, void *user)
{
	e->horizon_cb = cb;
	e->horizon_user = user;
}

void engine_advance(struct engine *e, fa_time now)
{
	if (e->sp == NULL && now > e->now) {
		e->now = now;
		flow_table_expire(e->ft, now);
	}
}

void engine_finish(struct engine *e)
{
	if (e->sp != NULL)
		split_finish(e->sp);
	e->flushing = true;
	keys_refresh(e, NULL);
	flow_table_flush(e->ft);
	recstore_seal(e->recs); /* every record is in: readers may come */
	if (!e->cfg.ordered || e->cfg.on_flow == NULL)
		return;
	/* what the order window could not take, in id order from the store */
	struct flow_record r;
	for (uint64_t id = e->next_on_flow; id <= engine_record_count(e); id++)
		if (engine_record_get(e, id, &r))
			hand_on(e, &r);
	e->next_on_flow = engine_record_count(e) + 1;
}

uint64_t engine_record_count(const struct engine *e) { return recstore_count(e->recs); }

bool engine_record_get(struct engine *e, uint64_t id, struct flow_record *out)
{
	return id > 0 && recstore_get(e->recs, id - 1, out);
}

struct engine_records {
	struct recstore_reader *rd;
};

struct engine_records *engine_records_open(struct engine *e)
{
	recstore_seal(e->recs); /* nothing left to write after engine_finish() */
	struct engine_records *r = malloc(sizeof(*r));
	if (r != NULL && (r->rd = recstore_reader_new(e->recs)) == NULL) {
		free(r);
		r = NULL;
	}
	return r;
}

bool engine_records_get(struct engine_records *r, uint64_t id, struct flow_record *out)
{
	return id > 0 && recstore_reader_get(r->rd, id - 1, out);
}

void engine_records_close(struct engine_records *r)
{
	if (r != NULL)
		recstore_reader_free(r->rd);
	free(r);
}

const struct id_hit *engine_hits(const struct engine *e, size_t *n)
{
	*n = e->n_hits_all;
	return e->hits;
}

void engine_stats(const struct engine *e, struct engine_stats *out)
{
	struct engine_stats s = e->st;
	flow_table_stats(e->ft, &s.flows);
	dns_cache_stats(e->dns, &s.dns);
	s.strings_refused = strpool_refused(e->pool);
	const char *why;
	s.records_not_kept += recstore_lost(e->recs, &why);
	if (s.records_lost_why == NULL)
		s.records_lost_why = why;
	quic_ctx_stats(e->quic, &s.quic);
	*out = s;
}
