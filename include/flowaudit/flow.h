/*
 * flow.h - the flow table: bidirectional conversations, bounded.
 *
 * Receives: decoded packets (decode.h) with their time and frame. Hands on:
 * the flow each packet belongs to and its direction (0: client to server,
 * 1: server to client), and, through the end callback, each flow once it is
 * over: idle past its timeout, closed (FIN both ways or RST, plus a short
 * linger for the last ACKs), evicted because the table was full, or flushed
 * at the end of the input.
 *
 * The client is the side that started the conversation: the sender of the
 * first packet, unless that packet was a SYN-ACK or came from a well-known
 * port to an ephemeral one (a capture started mid-conversation).
 *
 * Owns: every struct flow, allocated from a pool in chunks; a flow is valid
 * from its creation until its end callback returns. f->ext belongs to the
 * caller (the engine's per-flow analysis), who must release it in the end
 * callback. The table holds at most max_flows live flows; a new flow past
 * that evicts the least recently seen one (counted).
 */
#ifndef FLOWAUDIT_FLOW_H
#define FLOWAUDIT_FLOW_H

#include "flowaudit/common.h"
#include "flowaudit/decode.h"
#include "flowaudit/rtt.h"

#include <stddef.h>
#include <stdint.h>

enum flow_end_reason {
	FLOW_END_IDLE = 0,
	FLOW_END_CLOSED,
	FLOW_END_EVICTED,
	FLOW_END_FLUSH,
};
const char *flow_end_reason_name(enum flow_end_reason r);

enum { FLOW_OUT = 0, FLOW_IN = 1 };

struct flow {
	uint64_t id;        /* 1, 2, 3 ... in order of creation */
	fa_addr cli, srv;
	uint16_t cport, sport;
	uint8_t proto;      /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, other */
	uint8_t ipver;
	uint16_t vlan;      /* outermost VLAN id, 0 if none */
	bool has_mac;
	uint8_t cli_mac[6], srv_mac[6];
	uint64_t pkts[2], bytes[2]; /* [FLOW_OUT], [FLOW_IN]; bytes of IP packets */
	fa_time first, last;
	uint32_t file;      /* file of the first packet */
	uint64_t first_frame, last_frame;
	uint32_t last_file;
	uint8_t tcp_flags[2]; /* union of flags seen each way */
	bool fin[2], rst;
	struct rtt_flow rtt; /* round-trip times (rtt.h), filled by the caller */
	void *ext;          /* caller's analysis state */

	/* table internals */
	struct flow *hnext, *prev, *next;
	struct flow *older, *newer; /* live flows in order of creation */
	uint32_t hash;
	uint8_t lru;
};

struct flow_table_cfg {
	size_t max_flows;        /* live flows; default 262144 */
	fa_time tcp_idle;        /* default 300 s */
	fa_time udp_idle;        /* default 60 s */
	fa_time other_idle;      /* default 30 s */
	fa_time closed_linger;   /* after FIN/FIN or RST; default 2 s */
};
void flow_table_cfg_default(struct flow_table_cfg *cfg);

typedef void (*flow_end_cb)(struct flow *f, enum flow_end_reason why, void *user);

struct flow_table;
struct flow_table *flow_table_new(const struct flow_table_cfg *cfg, flow_end_cb cb, void *user);
void flow_table_free(struct flow_table *t); /* ends nothing: flush first */

/*
 * The flow of pkt (created if new), with its counters updated for this
 * packet; *dir says which way it went. NULL only when memory is exhausted.
 */
struct flow *flow_table_packet(struct flow_table *t, const struct decoded_pkt *pkt, fa_time ts,
			       uint32_t file, uint64_t frame, int *dir);

/* Ends every flow idle at `now` (call often: it looks only at list heads). */
void flow_table_expire(struct flow_table *t, fa_time now);
/* Ends every live flow (reason FLOW_END_FLUSH). */
void flow_table_flush(struct flow_table *t);

/*
 * The live flow created first, NULL when none is live: every flow created
 * before it has ended (ids and first frames follow creation).
 */
const struct flow *flow_table_oldest(const struct flow_table *t);

struct flow_table_stats {
	uint64_t created, live, peak_live, ended_idle, ended_closed, evicted, flushed;
};
void flow_table_stats(const struct flow_table *t, struct flow_table_stats *out);

#endif
