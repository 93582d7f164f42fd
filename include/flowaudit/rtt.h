/*
 * rtt.h - round-trip times read off a flow's own packets.
 *
 * Receives: each decoded packet of a flow with its direction, time, file
 * and frame (called once per packet by the engine). Hands on: the flow's
 * smallest round-trip time to its server and the frames it was measured
 * between, and, for TCP, the handshake time as tshark measures
 * tcp.analysis.initial_rtt.
 *
 * What is timed, from where the capture was made (the vantage point):
 *   TCP   the client's SYN to the SYN-ACK that answers it (server_us;
 *         the SYN-ACK must acknowledge the SYN's sequence number; the
 *         smallest when it came more than once). When the SYN was sent
 *         more than once, the SYN-ACK's timestamp echo (TSecr) names the
 *         SYN it answers, among the first and the latest; a SYN-ACK that
 *         echoes neither is not timed. Without timestamps the latest SYN
 *         before the SYN-ACK is taken (a SYN-ACK that answers an earlier
 *         SYN arrives after the next one only when the round trip is
 *         longer than the SYN retransmission timeout, 1 s).
 *         rtt_us is tshark's tcp.analysis.initial_rtt, to the
 *         microsecond: from the latest SYN to the first segment after it,
 *         either way, with ACK and without SYN (the client's ACK that
 *         completes the handshake: server_us plus the client's own leg).
 *   DNS   a query over UDP port 53 to the response with the same ID
 *         (the latest query; an answer to an earlier one does not match).
 *   QUIC  the client's first long-header datagram to the server's first
 *         datagram: when the Initial was sent again, the first one is
 *         taken, so the time can only be too long, never too short.
 * A flow whose capture starts after its handshake (no SYN, no query, no
 * Initial) has no time. Only packets in the capture file of the flow's
 * first packet are timed (the files' clocks need not agree), so the frame
 * numbers handed on are in that file.
 *
 * Owns nothing: struct rtt_flow lives in struct flow (flow.h), zeroed
 * when the flow is made: 60 bytes per flow.
 */
#ifndef FLOWAUDIT_RTT_H
#define FLOWAUDIT_RTT_H

#include "flowaudit/common.h"
#include "flowaudit/decode.h"

#include <stdint.h>

#define RTT_NONE UINT32_MAX

enum rtt_kind { RTT_KIND_NONE = 0, RTT_KIND_TCP, RTT_KIND_DNS, RTT_KIND_QUIC };
/* "tcp_handshake", "dns", "quic"; NULL for none */
const char *rtt_kind_name(enum rtt_kind k);

/* Per flow; all zero is "nothing seen". Times are microseconds after
   the flow's first packet, frames 1 + how many after its first frame
   (0: none), so that a flow carries 60 bytes of it. */
struct rtt_flow {
	uint32_t req_frame;   /* the request being timed: latest SYN, DNS query, QUIC Initial */
	uint32_t syn0_frame;  /* the first SYN, while a later one is req */
	uint32_t best_req_frame, best_ans_frame; /* the smallest server time's frames */
	uint32_t rtt_syn_frame, ack_frame; /* rtt_us's SYN and ACK */
	uint32_t req_off, syn0_off;
	uint32_t req_tsval, syn0_tsval;
	uint32_t syn_seq;
	uint32_t server_us, rtt_us; /* valid when have says so */
	uint16_t dns_id;
	uint8_t kind;         /* enum rtt_kind of what is timed */
	uint8_t state;        /* rtt.c's: what the next packet may complete */
	uint8_t have;         /* bits: server_us, rtt_us measured */
};

struct flow;

/*
 * One packet of flow f (its rtt member is updated; its first packet's
 * time, file and frame are read). dir is FLOW_OUT (client to server) or
 * FLOW_IN. Reads the TCP options and the first bytes of a UDP payload
 * through a cursor.
 */
void rtt_packet(struct flow *f, const struct decoded_pkt *p, int dir, fa_time ts, uint32_t file,
		uint64_t frame);

/* What a flow record carries (engine.h). */
struct rtt_result {
	enum rtt_kind kind;        /* RTT_KIND_NONE: nothing measured */
	uint32_t server_us;        /* RTT_NONE when not measured */
	uint32_t rtt_us;           /* TCP only: SYN to the completing ACK; RTT_NONE otherwise */
	uint64_t req_frame, ans_frame; /* of server_us: SYN and SYN-ACK, query and answer, ... */
	uint64_t syn_frame, ack_frame; /* of rtt_us */
};
void rtt_result(const struct flow *f, struct rtt_result *out);

/* Microseconds as "3.021" (milliseconds with three decimals); returns buf. */
const char *rtt_ms_str(uint32_t us, char *buf, size_t len);

#endif
