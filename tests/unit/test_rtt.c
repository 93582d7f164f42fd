/*
 * test_rtt.c - round-trip times from packets: the TCP handshake (plain,
 * SYN sent again with and without timestamps, a SYN-ACK that answers
 * another SYN, a capture that starts mid-stream), DNS query to answer by
 * ID, QUIC Initial to the server's first packet, and what is not timed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/flow.h"
#include "flowaudit/rtt.h"

#include <netinet/in.h>
#include <string.h>

#define T0 ((fa_time)1795860000 * 1000000)

struct pk {
	struct decoded_pkt p;
	uint8_t opts[12];
	uint8_t payload[1300];
};

static struct pk *tcp(struct pk *k, uint8_t flags, uint32_t seq, uint32_t ack)
{
	memset(k, 0, sizeof(*k));
	k->p.l4_proto = IPPROTO_TCP;
	k->p.sport = 40000;
	k->p.dport = 443;
	k->p.tcp_flags = flags;
	k->p.tcp_seq = seq;
	k->p.tcp_ack = ack;
	return k;
}

/* NOP, NOP, Timestamps(tsval, tsecr) */
static struct pk *with_ts(struct pk *k, uint32_t tsval, uint32_t tsecr)
{
	uint8_t o[12] = {1, 1, 8, 10, (uint8_t)(tsval >> 24), (uint8_t)(tsval >> 16),
			 (uint8_t)(tsval >> 8), (uint8_t)tsval, (uint8_t)(tsecr >> 24),
			 (uint8_t)(tsecr >> 16), (uint8_t)(tsecr >> 8), (uint8_t)tsecr};
	memcpy(k->opts, o, sizeof(o));
	k->p.tcp_opts = k->opts;
	k->p.tcp_opts_len = sizeof(o);
	return k;
}

static struct pk *udp(struct pk *k, uint16_t dport, const uint8_t *d, size_t n, uint32_t wire)
{
	memset(k, 0, sizeof(*k));
	k->p.l4_proto = IPPROTO_UDP;
	k->p.sport = 50000;
	k->p.dport = dport;
	memcpy(k->payload, d, n);
	k->p.payload = k->payload;
	k->p.payload_len = (uint32_t)n;
	k->p.payload_wire_len = wire > n ? wire : (uint32_t)n;
	return k;
}

/* A flow whose first packet is frame 1 of file 0, at T0. */
static struct flow flow0(void)
{
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.first = T0;
	f.first_frame = 1;
	return f;
}

static void feed(struct flow *f, struct pk *k, int dir, fa_time us, uint64_t frame)
{
	rtt_packet(f, &k->p, dir, T0 + us, 0, frame);
}

static void test_handshake(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 0, 1);
	feed(&r, tcp(&k, TCP_SYN | TCP_ACK, 500, 101), FLOW_IN, 3000, 2);
	feed(&r, tcp(&k, TCP_ACK, 101, 501), FLOW_OUT, 3100, 3);
	feed(&r, tcp(&k, TCP_ACK | TCP_PSH, 101, 501), FLOW_OUT, 9000, 4);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.kind, RTT_KIND_TCP);
	assert_int_equal(res.server_us, 3000);
	assert_int_equal(res.rtt_us, 3100);
	assert_int_equal(res.req_frame, 1);
	assert_int_equal(res.ans_frame, 2);
	assert_int_equal(res.syn_frame, 1);
	assert_int_equal(res.ack_frame, 3);
	char buf[32];
	assert_string_equal(rtt_ms_str(res.rtt_us, buf, sizeof(buf)), "3.100");
	assert_string_equal(rtt_kind_name(res.kind), "tcp_handshake");
}

/* Frame numbers past 2^32 come back whole (the state keeps them relative). */
static void test_far_frames(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	uint64_t at = 5000000000ULL;
	r.first_frame = at;
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 0, at);
	feed(&r, tcp(&k, TCP_SYN | TCP_ACK, 500, 101), FLOW_IN, 3000, at + 7);
	feed(&r, tcp(&k, TCP_ACK, 101, 501), FLOW_OUT, 3100, at + 9);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.req_frame, at);
	assert_int_equal(res.ans_frame, at + 7);
	assert_int_equal(res.ack_frame, at + 9);
	assert_int_equal(res.server_us, 3000);
}

/* A SYN-ACK that does not acknowledge the SYN is no answer to it. */
static void test_synack_wrong_ack(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 0, 1);
	feed(&r, tcp(&k, TCP_SYN | TCP_ACK, 500, 999), FLOW_IN, 1000, 2);
	feed(&r, tcp(&k, TCP_SYN | TCP_ACK, 500, 101), FLOW_IN, 40000, 3);
	feed(&r, tcp(&k, TCP_ACK, 101, 501), FLOW_OUT, 40500, 4);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.server_us, 40000);
	assert_int_equal(res.ans_frame, 3);
	assert_int_equal(res.rtt_us, 40500);
}

/* Without timestamps: the latest SYN before the SYN-ACK (tshark's choice). */
static void test_syn_again_no_ts(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 0, 1);
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 1000000, 2);
	feed(&r, tcp(&k, TCP_SYN | TCP_ACK, 500, 101), FLOW_IN, 1005000, 3);
	feed(&r, tcp(&k, TCP_ACK, 101, 501), FLOW_OUT, 1006000, 4);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.server_us, 5000);
	assert_int_equal(res.req_frame, 2);
	assert_int_equal(res.rtt_us, 6000);
}

/* With timestamps the SYN-ACK's echo names the SYN it answers. */
static void test_syn_again_ts_first(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, with_ts(tcp(&k, TCP_SYN, 100, 0), 1000, 0), FLOW_OUT, 0, 1);
	feed(&r, with_ts(tcp(&k, TCP_SYN, 100, 0), 2000, 0), FLOW_OUT, 1000000, 2);
	feed(&r, with_ts(tcp(&k, TCP_SYN | TCP_ACK, 500, 101), 77, 1000), FLOW_IN, 1002000, 3);
	feed(&r, with_ts(tcp(&k, TCP_ACK, 101, 501), 2003, 77), FLOW_OUT, 1003000, 4);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.server_us, 1002000);
	assert_int_equal(res.req_frame, 1);
	/* initial_rtt as tshark has it: from the latest SYN */
	assert_int_equal(res.rtt_us, 3000);
	assert_int_equal(res.syn_frame, 2);
	assert_int_equal(res.ack_frame, 4);
}

static void test_syn_again_ts_latest(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, with_ts(tcp(&k, TCP_SYN, 100, 0), 1000, 0), FLOW_OUT, 0, 1);
	feed(&r, with_ts(tcp(&k, TCP_SYN, 100, 0), 2000, 0), FLOW_OUT, 1000000, 2);
	feed(&r, with_ts(tcp(&k, TCP_SYN | TCP_ACK, 500, 101), 77, 2000), FLOW_IN, 1002000, 3);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.server_us, 2000);
	assert_int_equal(res.req_frame, 2);
	assert_int_equal(res.rtt_us, RTT_NONE); /* no ACK seen */
}

/* Three SYNs, and the echo names the middle one: not kept, so the SYN-ACK
   is not timed; the ACK still is, from the latest SYN. */
static void test_syn_again_ts_unknown(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, with_ts(tcp(&k, TCP_SYN, 100, 0), 1000, 0), FLOW_OUT, 0, 1);
	feed(&r, with_ts(tcp(&k, TCP_SYN, 100, 0), 2000, 0), FLOW_OUT, 1000000, 2);
	feed(&r, with_ts(tcp(&k, TCP_SYN, 100, 0), 4000, 0), FLOW_OUT, 3000000, 3);
	feed(&r, with_ts(tcp(&k, TCP_SYN | TCP_ACK, 500, 101), 77, 2000), FLOW_IN, 3001000, 4);
	feed(&r, with_ts(tcp(&k, TCP_ACK, 101, 501), 4001, 77), FLOW_OUT, 3002000, 5);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.kind, RTT_KIND_TCP);
	assert_int_equal(res.server_us, RTT_NONE);
	assert_int_equal(res.rtt_us, 2000);
	assert_int_equal(res.syn_frame, 3);
}

/* A SYN-ACK seen again later, and a SYN sent again after it (a lost
   SYN-ACK): the smallest SYN to SYN-ACK, and the ACK from the latest SYN. */
static void test_synack_again(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 0, 1);
	feed(&r, tcp(&k, TCP_SYN | TCP_ACK, 500, 101), FLOW_IN, 32000, 2);
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 1000000, 3);
	feed(&r, tcp(&k, TCP_ACK, 101, 501), FLOW_OUT, 1002000, 4);
	feed(&r, tcp(&k, TCP_SYN | TCP_ACK, 500, 101), FLOW_IN, 1033000, 5);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.server_us, 32000);
	assert_int_equal(res.ans_frame, 2);
	assert_int_equal(res.rtt_us, 2000);
	assert_int_equal(res.syn_frame, 3);
}

/* The SYN-ACK not captured: the ACK still gives initial_rtt, the server time is unknown. */
static void test_no_synack(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, tcp(&k, TCP_SYN, 100, 0), FLOW_OUT, 0, 1);
	feed(&r, tcp(&k, TCP_ACK, 101, 501), FLOW_OUT, 34844, 2);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.kind, RTT_KIND_TCP);
	assert_int_equal(res.server_us, RTT_NONE);
	assert_int_equal(res.rtt_us, 34844);
}

/* A capture that starts after the handshake has no time, and no ACK makes one. */
static void test_mid_stream(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	feed(&r, tcp(&k, TCP_ACK | TCP_PSH, 100, 500), FLOW_OUT, 0, 1);
	feed(&r, tcp(&k, TCP_ACK, 500, 101), FLOW_IN, 2000, 2);
	feed(&r, tcp(&k, TCP_ACK, 101, 501), FLOW_OUT, 2100, 3);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.kind, RTT_KIND_NONE);
	assert_int_equal(res.server_us, RTT_NONE);
	assert_int_equal(res.rtt_us, RTT_NONE);
}

/* Packets in another file than the flow's first packet are not timed. */
static void test_other_file(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	rtt_packet(&r, &tcp(&k, TCP_SYN, 100, 0)->p, FLOW_OUT, T0, 0, 1);
	rtt_packet(&r, &tcp(&k, TCP_SYN | TCP_ACK, 500, 101)->p, FLOW_IN, T0 + 100, 1, 1);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.server_us, RTT_NONE);
}

static void test_dns(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	uint8_t q1[12] = {0x12, 0x34, 0x01, 0x00, 0, 1};
	uint8_t q2[12] = {0x56, 0x78, 0x01, 0x00, 0, 1};
	uint8_t a1[12] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1};
	uint8_t a2[12] = {0x56, 0x78, 0x81, 0x80, 0, 1, 0, 1};
	feed(&r, udp(&k, 53, q1, sizeof(q1), 0), FLOW_OUT, 0, 1);
	feed(&r, udp(&k, 53, a1, sizeof(a1), 0), FLOW_IN, 25000, 2);
	feed(&r, udp(&k, 53, q2, sizeof(q2), 0), FLOW_OUT, 100000, 3);
	feed(&r, udp(&k, 53, a1, sizeof(a1), 0), FLOW_IN, 100500, 4); /* stale ID */
	feed(&r, udp(&k, 53, a2, sizeof(a2), 0), FLOW_IN, 112000, 5);
	feed(&r, udp(&k, 53, q1, 6, 0), FLOW_OUT, 200000, 6);         /* too short: ignored */
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.kind, RTT_KIND_DNS);
	assert_int_equal(res.server_us, 12000);
	assert_int_equal(res.req_frame, 3);
	assert_int_equal(res.ans_frame, 5);
	assert_int_equal(res.rtt_us, RTT_NONE);
}

static void test_quic(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	uint8_t init[8] = {0xc3, 0, 0, 0, 1, 8};
	uint8_t srv[8] = {0xc1, 0, 0, 0, 1, 0};
	feed(&r, udp(&k, 443, init, sizeof(init), 1252), FLOW_OUT, 0, 1);
	feed(&r, udp(&k, 443, init, sizeof(init), 1252), FLOW_OUT, 300000, 2); /* sent again */
	feed(&r, udp(&k, 443, srv, sizeof(srv), 1200), FLOW_IN, 310000, 3);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.kind, RTT_KIND_QUIC);
	assert_int_equal(res.server_us, 310000); /* from the first: never too short */
	assert_int_equal(res.req_frame, 1);
	assert_int_equal(res.ans_frame, 3);
}

/* A UDP flow that does not open with a padded long header (RTP, say) is not timed. */
static void test_udp_not_quic(void **state)
{
	(void)state;
	struct flow r = flow0();
	struct pk k;
	uint8_t rtp[12] = {0x80, 0x00, 0, 1};
	feed(&r, udp(&k, 5004, rtp, sizeof(rtp), 0), FLOW_OUT, 0, 1);
	feed(&r, udp(&k, 5004, rtp, sizeof(rtp), 0), FLOW_IN, 1000, 2);
	struct rtt_result res;
	rtt_result(&r, &res);
	assert_int_equal(res.kind, RTT_KIND_NONE);
	assert_int_equal(res.server_us, RTT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_far_frames),
		cmocka_unit_test(test_synack_wrong_ack),
		cmocka_unit_test(test_syn_again_no_ts),
		cmocka_unit_test(test_syn_again_ts_first),
		cmocka_unit_test(test_syn_again_ts_latest),
		cmocka_unit_test(test_syn_again_ts_unknown),
		cmocka_unit_test(test_synack_again),
		cmocka_unit_test(test_no_synack),
		cmocka_unit_test(test_mid_stream),
		cmocka_unit_test(test_other_file),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_quic),
		cmocka_unit_test(test_udp_not_quic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
