/*
 * rtt.c - round-trip times from a flow's handshake, DNS or QUIC packets.
 *
 * Receives every packet of a flow (the engine calls rtt_packet() once per
 * packet, after the flow table has filed it); hands on, at the flow's end,
 * the smallest time from a request the client sent to the server's answer
 * to it, with the two frames, and the TCP handshake time tshark calls
 * initial_rtt. rtt.h says what is timed and why each choice never makes a
 * time shorter than the real round trip, which is what a distance bound
 * needs.
 *
 * Workload: a few comparisons per packet; only a client SYN, a SYN-ACK,
 * the first ACK after it, a DNS datagram or a flow's first datagrams do
 * any work. The state is struct rtt_flow inside struct flow.
 */
#include "flowaudit/rtt.h"

#include "flowaudit/cursor.h"
#include "flowaudit/flow.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

enum {
	ST_IDLE = 0,
	ST_SYN_SENT,  /* a client SYN seen: SYN-ACKs and the first ACK are timed */
	ST_DNS_QUERY, /* a query waiting for its response */
	ST_QUIC_SENT, /* the client's first Initial, waiting for the server */
	ST_DONE,      /* nothing more is timed in this flow */
};

enum { HAVE_SERVER = 1, HAVE_RTT = 2 };

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_TIMESTAMP 8
#define QUIC_MIN_INITIAL 1200 /* RFC 9000 section 14.1: a client's Initial datagram */

const char *rtt_kind_name(enum rtt_kind k)
{
	switch (k) {
	case RTT_KIND_TCP: return "tcp_handshake";
	case RTT_KIND_DNS: return "dns";
	case RTT_KIND_QUIC: return "quic";
	case RTT_KIND_NONE: break;
	}
	return NULL;
}

/* The TCP timestamps option (RFC 7323): true with TSval and TSecr when present. */
static bool tcp_timestamps(const struct decoded_pkt *p, uint32_t *tsval, uint32_t *tsecr)
{
	if (p->tcp_opts == NULL)
		return false;
	struct cursor c = cur_make(p->tcp_opts, p->tcp_opts_len);
	while (cur_left(&c) > 0) {
		uint8_t kind = cur_u8(&c);
		if (kind == TCPOPT_EOL)
			return false;
		if (kind == TCPOPT_NOP)
			continue;
		uint8_t len = cur_u8(&c);
		if (!cur_ok(&c) || len < 2)
			return false;
		if (kind == TCPOPT_TIMESTAMP && len == 10) {
			*tsval = cur_be32(&c);
			*tsecr = cur_be32(&c);
			return cur_ok(&c);
		}
		cur_skip(&c, (size_t)len - 2);
	}
	return false;
}

/* ts as an offset from the flow's first packet; false when it cannot be one. */
static bool offset_of(fa_time first, fa_time ts, uint32_t *off)
{
	if (ts < first || ts - first >= (fa_time)UINT32_MAX)
		return false;
	*off = (uint32_t)(ts - first);
	return true;
}

/* The answer at offset `off` to the request at req_off: a server time,
   kept when it is the smallest so far. */
static void answer(struct rtt_flow *r, uint32_t req_off, uint32_t req_frame, uint32_t off,
		   uint32_t frame)
{
	if (off < req_off)
		return;
	uint32_t us = off - req_off;
	if ((r->have & HAVE_SERVER) && us >= r->server_us)
		return;
	r->server_us = us;
	r->best_req_frame = req_frame;
	r->best_ans_frame = frame;
	r->have |= HAVE_SERVER;
}

static void request(struct rtt_flow *r, uint32_t off, uint32_t frame)
{
	r->req_off = off;
	r->req_frame = frame;
}

static void tcp_packet(struct rtt_flow *r, const struct decoded_pkt *p, int dir, uint32_t off,
		       uint32_t frame)
{
	uint8_t fl = p->tcp_flags & (TCP_SYN | TCP_ACK);
	uint32_t tsval = 0, tsecr = 0;
	bool ts = tcp_timestamps(p, &tsval, &tsecr);
	if (dir == FLOW_OUT && fl == TCP_SYN) {
		bool again = r->state == ST_SYN_SENT && p->tcp_seq == r->syn_seq;
		if (again && r->syn0_frame == 0) {
			r->syn0_frame = r->req_frame; /* sent again: keep the first */
			r->syn0_off = r->req_off;
			r->syn0_tsval = r->req_tsval;
		} else if (!again) {
			r->syn0_frame = 0; /* the first SYN, or a new connection attempt */
		}
		r->kind = RTT_KIND_TCP;
		r->state = ST_SYN_SENT;
		r->syn_seq = p->tcp_seq;
		r->req_tsval = ts ? tsval : 0;
		request(r, off, frame);
		return;
	}
	if (r->state != ST_SYN_SENT)
		return; /* no SYN seen: a capture that starts mid-stream */
	if (dir == FLOW_IN && fl == (TCP_SYN | TCP_ACK)) {
		if (p->tcp_ack != r->syn_seq + 1)
			return; /* not an answer to this SYN */
		if (!ts || tsecr == r->req_tsval) {
			answer(r, r->req_off, r->req_frame, off, frame);
		} else if (r->syn0_frame != 0 && tsecr == r->syn0_tsval) {
			answer(r, r->syn0_off, r->syn0_frame, off, frame);
		}
		/* an echo of a SYN not kept: this SYN-ACK is not timed */
		return;
	}
	/* tshark's initial_rtt: the first segment, either way, with ACK and
	   without SYN, from the latest SYN */
	if (fl == TCP_ACK && !(r->have & HAVE_RTT) && off >= r->req_off) {
		r->rtt_us = off - r->req_off;
		r->rtt_syn_frame = r->req_frame;
		r->ack_frame = frame;
		r->have |= HAVE_RTT;
	}
}

static void dns_packet(struct rtt_flow *r, const struct decoded_pkt *p, int dir, uint32_t off,
		       uint32_t frame)
{
	struct cursor c = cur_make(p->payload, p->payload_len);
	uint16_t id = cur_be16(&c);
	uint8_t flags = cur_u8(&c);
	cur_skip(&c, 9); /* the rest of the 12-byte header */
	if (!cur_ok(&c))
		return;
	bool response = (flags & 0x80) != 0;
	r->kind = RTT_KIND_DNS;
	if (dir == FLOW_OUT && !response) {
		r->dns_id = id;
		r->state = ST_DNS_QUERY;
		request(r, off, frame);
	} else if (dir == FLOW_IN && response && r->state == ST_DNS_QUERY && id == r->dns_id) {
		answer(r, r->req_off, r->req_frame, off, frame);
		r->state = ST_IDLE;
	}
}

/* The version of a QUIC long-header packet (0: Version Negotiation); false if not one. */
static bool quic_long_header(const struct decoded_pkt *p, uint32_t *version)
{
	struct cursor c = cur_make(p->payload, p->payload_len);
	uint8_t first = cur_u8(&c);
	*version = cur_be32(&c);
	return cur_ok(&c) && (first & 0x80) != 0;
}

static void quic_packet(struct rtt_flow *r, const struct decoded_pkt *p, int dir, uint32_t off,
			uint32_t frame)
{
	uint32_t version;
	bool lh = quic_long_header(p, &version);
	if (r->state == ST_IDLE && dir == FLOW_OUT) {
		/* a client Initial is padded to 1200 bytes at least; anything else
		   that opens a UDP flow is not timed */
		if (lh && version != 0 && p->payload_wire_len >= QUIC_MIN_INITIAL) {
			r->kind = RTT_KIND_QUIC;
			r->req_tsval = version;
			r->state = ST_QUIC_SENT;
			request(r, off, frame);
		} else {
			r->state = ST_DONE;
		}
	} else if (r->state == ST_QUIC_SENT && dir == FLOW_IN) {
		/* the server's first packet: an Initial, a Retry or a Version Negotiation */
		if (lh && (version == r->req_tsval || version == 0))
			answer(r, r->req_off, r->req_frame, off, frame);
		r->state = ST_DONE;
	} else if (r->state == ST_IDLE) {
		r->state = ST_DONE; /* the server spoke first */
	}
}

void rtt_packet(struct flow *f, const struct decoded_pkt *p, int dir, fa_time ts, uint32_t file,
		uint64_t frame)
{
	struct rtt_flow *r = &f->rtt;
	if (r->state == ST_DONE || file != f->file || frame < f->first_frame ||
	    frame - f->first_frame >= UINT32_MAX)
		return;
	uint32_t off, fr = (uint32_t)(frame - f->first_frame) + 1;
	if (!offset_of(f->first, ts, &off))
		return;
	if (p->l4_proto == IPPROTO_TCP)
		tcp_packet(r, p, dir, off, fr);
	else if (p->l4_proto == IPPROTO_UDP && (p->sport == 53 || p->dport == 53))
		dns_packet(r, p, dir, off, fr);
	else if (p->l4_proto == IPPROTO_UDP)
		quic_packet(r, p, dir, off, fr);
}

void rtt_result(const struct flow *f, struct rtt_result *out)
{
	const struct rtt_flow *r = &f->rtt;
	uint64_t base = f->first_frame - 1;
	memset(out, 0, sizeof(*out));
	out->server_us = RTT_NONE;
	out->rtt_us = RTT_NONE;
	if (r->have == 0)
		return;
	out->kind = (enum rtt_kind)r->kind;
	if (r->have & HAVE_SERVER) {
		out->server_us = r->server_us;
		out->req_frame = base + r->best_req_frame;
		out->ans_frame = base + r->best_ans_frame;
	}
	if (r->have & HAVE_RTT) {
		out->rtt_us = r->rtt_us;
		out->syn_frame = base + r->rtt_syn_frame;
		out->ack_frame = base + r->ack_frame;
	}
}

const char *rtt_ms_str(uint32_t us, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%03u", us / 1000, us % 1000);
	return buf;
}
