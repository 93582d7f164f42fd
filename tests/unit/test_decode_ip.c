/*
 * test_decode_ip.c - decode_frame() and decode_ip() on the network and
 * transport layers: IPv4 options, lengths and fragments, the IPv6
 * extension-header chain and its limit, TCP data offsets, UDP lengths,
 * ICMP, jumbograms, protocols not followed, and random and mutated bytes.
 * Link layers are in test_decode.c; the frame builders in frames.c.
 *
 * Every frame is copied into a heap buffer of exactly its captured length,
 * so a read past the end shows up under AddressSanitizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "flowaudit/decode.h"

#include "frames.h"

static void test_ipv4_options(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	assert_int_equal(fr_shape_run(S_RAW_IP_OPTS, &f, &p, &st), DECODE_OK);
	assert_false(p.has_mac);
	fr_assert_v4_addrs(&p);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);
	assert_int_equal(f.l4_end, 28 + 8);
	fr_assert_payload(&f, &p);
	assert_int_equal(st.udp, 1);
}

static void test_ipv6_ext_chain(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	assert_int_equal(fr_build_run(fr_b_ip6_chain, &f, &p, &st), DECODE_OK);
	fr_assert_v6_addrs(&p);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_true(p.fragmented);
	assert_int_equal(st.ip_fragments, 1);
	assert_int_equal(f.l4_end, 14 + 40 + 8 + 16 + 8 + 8);
	assert_int_equal(p.ip_len, f.n - 14);
	assert_int_equal(p.sport, 5353);
	fr_assert_payload(&f, &p);

	assert_int_equal(fr_build_run(fr_b_ip6_ah, &f, &p, NULL), DECODE_OK);
	assert_int_equal(p.l4_proto, IPPROTO_TCP);
	assert_int_equal(f.l4_end, 40 + 24 + 20);
	fr_assert_payload(&f, &p);
}

static void test_ipv6_ext_limit(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	for (int count = 16; count <= 17; count++) {
		fr_start(&f, 229, DECODE_OK);
		size_t ip = fr_ip6(&f, IPPROTO_DSTOPTS);
		for (int i = 0; i < count; i++)
			fr_ext6(&f, i == count - 1 ? IPPROTO_UDP : IPPROTO_DSTOPTS, 0);
		size_t u = fr_udp(&f, 1, 2);
		fr_payload(&f);
		fr_udp_done(&f, u);
		fr_ip6_done(&f, ip);
		enum decode_result r = fr_run(&f, f.n, &p, &st);
		assert_int_equal(r, count == 16 ? DECODE_OK : DECODE_MALFORMED);
	}
	assert_int_equal(st.anomaly[ANOM_IPV6_EXT_TOO_MANY], 1);

	/* No next header: an IP packet with nothing in it. */
	fr_start(&f, 229, DECODE_OTHER_L4);
	size_t ip = fr_ip6(&f, IPPROTO_NONE);
	fr_ip6_done(&f, ip);
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_OTHER_L4);
	assert_int_equal(p.l4_proto, IPPROTO_NONE);
	assert_int_equal(p.payload_len, 0);
}

static void test_fragments(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	assert_int_equal(fr_build_run(fr_b_ip6_frag_later, &f, &p, &st), DECODE_FRAGMENT);
	fr_assert_v6_addrs(&p);
	assert_true(p.fragmented);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_int_equal(p.sport, 0);
	assert_int_equal(fr_build_run(fr_b_ip4_frag_later, &f, &p, &st), DECODE_FRAGMENT);
	fr_assert_v4_addrs(&p);
	assert_true(p.fragmented);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_int_equal(st.ip_fragments, 2);
	assert_int_equal(st.result[DECODE_FRAGMENT], 2);

	/* A first fragment carries the UDP header, whose length runs on. */
	assert_int_equal(fr_build_run(fr_b_ip4_frag_first, &f, &p, &st), DECODE_OK);
	assert_true(p.fragmented);
	assert_int_equal(st.ip_fragments, 3);
	assert_int_equal(p.payload_len, strlen(FR_PAYLOAD));
	assert_int_equal(p.payload_wire_len, 3000 - 8);
	assert_int_equal(st.anomaly[ANOM_IP_SNAPLEN_CUT], 0);
}

static void test_icmp(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	assert_int_equal(fr_build_run(fr_b_icmp, &f, &p, &st), DECODE_OK);
	assert_int_equal(p.l4_proto, IPPROTO_ICMP);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.sport + p.dport, 0);
	fr_assert_payload(&f, &p);
	assert_int_equal(fr_build_run(fr_b_icmp6, &f, &p, &st), DECODE_OK);
	assert_int_equal(p.l4_proto, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, 128);
	fr_assert_payload(&f, &p);
	assert_int_equal(st.icmp, 2);
}

static void test_udp_lengths(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	fr_shape_run(S_LT_IPV4, &f, &p, NULL);
	size_t ulen_at = 20 + 4;
	fr_set16(&f, ulen_at, 4);
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_UDP_BAD_LEN], 1);
	assert_int_equal(st.udp, 0);

	/* Longer than what is there: wire length from the header. */
	fr_set16(&f, ulen_at, 1000);
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_OK);
	assert_int_equal(p.payload_len, strlen(FR_PAYLOAD));
	assert_int_equal(p.payload_wire_len, 992);

	/* Shorter than the IP packet: the rest is not payload. */
	fr_set16(&f, ulen_at, 8 + 3);
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_OK);
	assert_int_equal(p.payload_len, 3);
	assert_int_equal(p.payload_wire_len, 3);
}

static void test_tcp_bad_offset(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	fr_shape_run(S_RAW_V4, &f, &p, NULL);
	f.b[20 + 12] = 3 << 4;
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_TCP_BAD_OFFSET], 1);
	/* A data offset past the IP packet is as bad as one below five. */
	f.b[20 + 12] = 15 << 4;
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_TCP_BAD_OFFSET], 2);
	assert_int_equal(st.tcp, 0);
	assert_int_equal(st.ipv4, 2);
}

static void test_ipv4_lengths(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	fr_shape_run(S_RAW_V4, &f, &p, NULL);
	f.b[0] = 0x44;
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_IPV4_BAD_IHL], 1);
	f.b[0] = 0x45;
	fr_set16(&f, 2, 19);
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_IPV4_BAD_TOTAL_LEN], 1);

	/* Cut by the snap length: still decoded, counted, wire length kept. */
	fr_set16(&f, 2, f.n + 100);
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_OK);
	assert_int_equal(st.anomaly[ANOM_IP_SNAPLEN_CUT], 1);
	assert_int_equal(p.ip_len, f.n + 100);
	assert_int_equal(p.l3_len, f.n);
	assert_int_equal(p.payload_len, strlen(FR_PAYLOAD));
	assert_int_equal(p.payload_wire_len, strlen(FR_PAYLOAD) + 100);

	/* Zero, as captured before segmentation offload: the captured length. */
	fr_set16(&f, 2, 0);
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_OK);
	assert_int_equal(p.ip_len, f.n);
	fr_assert_payload(&f, &p);

	/* Ethernet padding is not payload. */
	assert_int_equal(fr_build_run(fr_b_padded, &f, &p, NULL), DECODE_OK);
	assert_int_equal(f.n, 60);
	assert_int_equal(p.l3_len, 14 + 20 + 8 + 1 - 14);
	assert_int_equal(p.payload_len, 1);
	assert_int_equal(p.payload[0], 'x');
}

static void test_jumbo(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	const uint32_t big = 80000;
	fr_shape_run(S_LT_IPV6, &f, &p, NULL);
	f.b[6] = IPPROTO_UDP;
	fr_set16(&f, 4, 0);
	memset(f.b + 40, 0, 8); /* UDP header with length zero */
	uint8_t *buf = calloc(1, big);
	assert_non_null(buf);
	memcpy(buf, f.b, 48);
	assert_int_equal(decode_frame(229, buf, big, &p, &st), DECODE_OK);
	assert_int_equal(p.ip_len, big);
	assert_int_equal(p.l3_len, 65535);
	assert_int_equal(p.payload_len, big - 48);
	assert_int_equal(p.payload_wire_len, big - 48);
	assert_int_equal(st.anomaly[ANOM_IP_SNAPLEN_CUT], 0);

	/* The same UDP header in an ordinary packet is malformed. */
	assert_int_equal(decode_frame(229, buf, 1000, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_UDP_BAD_LEN], 1);

	/* IPv4 with total length zero, as captured before offload splits it. */
	fr_shape_run(S_RAW_V4, &f, &p, NULL);
	fr_set16(&f, 2, 0);
	memcpy(buf, f.b, f.n);
	assert_int_equal(decode_frame(228, buf, big, &p, &st), DECODE_OK);
	assert_int_equal(p.ip_len, big);
	assert_int_equal(p.l3_len, 65535);
	assert_int_equal(p.payload_len, big - 40);
	free(buf);
}

static void test_other_l4(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	assert_int_equal(fr_build_run(fr_b_esp, &f, &p, NULL), DECODE_OTHER_L4);
	fr_assert_v4_addrs(&p);
	assert_int_equal(p.l4_proto, 50);
	assert_int_equal(p.payload_len, 8 + strlen(FR_PAYLOAD));

	/* IPv6 in IPv4 is not followed: the outer addresses are what we keep. */
	fr_shape_run(S_RAW_V4, &f, &p, NULL);
	f.b[9] = IPPROTO_IPV6;
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_OTHER_L4);
	fr_assert_v4_addrs(&p);
	assert_int_equal(p.l4_proto, IPPROTO_IPV6);
}

static void test_decode_ip_keeps_link(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	fr_shape_run(S_VLAN, &f, &p, NULL);
	p.tcp_seq = 99; /* stale transport state must not survive */
	assert_int_equal(decode_ip(f.b + 18, (uint32_t)(f.n - 18), &p, NULL), DECODE_OK);
	assert_true(p.has_mac);
	assert_int_equal(p.vlan[0], 100);
	assert_int_equal(p.tcp_seq, 0);
	assert_int_equal(p.sport, 5353);
	struct decode_stats st = {0};
	assert_int_equal(decode_ip(NULL, 0, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_IPV4_TRUNCATED], 1);
	assert_int_equal(st.frames, 0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void test_random_bytes(void **state)
{
	(void)state;
	static const int lts[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276};
	struct decode_stats st = {0};
	uint64_t frames = 0;
	for (size_t l = 0; l < sizeof(lts) / sizeof(lts[0]); l++) {
		struct frame f;
		struct decoded_pkt p = {0};
		for (int i = 0; i < 20000; i++) {
			fr_start(&f, lts[l], DECODE_OK);
			f.n = rnd() % 4 == 0 ? rnd() % sizeof(f.b) : rnd() % 160;
			for (size_t k = 0; k < f.n; k++)
				f.b[k] = (uint8_t)rnd();
			/* Steer a share of frames past the link header to reach IP. */
			if (f.n > 0 && i % 2 == 0)
				f.b[rnd() % f.n] = (uint8_t)(rnd() % 2 ? 0x45 : 0x60);
			fr_check_invariants(&p, fr_run(&f, f.n, &p, &st));
			frames++;
		}
	}
	/* Mutations of well-formed frames reach the deeper layers. */
	for (int i = 0; i < 200000; i++) {
		struct frame f;
		struct decoded_pkt p = {0};
		fr_build_any(&f, rnd() % FR_N_FRAMES);
		int flips = 1 + (int)(rnd() % 4);
		for (int k = 0; k < flips; k++)
			f.b[rnd() % f.n] = (uint8_t)rnd();
		fr_check_invariants(&p, fr_run(&f, rnd() % (f.n + 1), &p, &st));
		frames++;
	}
	assert_int_equal(st.frames, frames);
	uint64_t sum = 0;
	for (int r = 0; r < DECODE_RESULT_COUNT; r++)
		sum += st.result[r];
	assert_int_equal(sum, frames);
	assert_true(st.result[DECODE_OK] > 0);
	assert_true(st.result[DECODE_MALFORMED] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv6_ext_chain),
		cmocka_unit_test(test_ipv6_ext_limit),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_udp_lengths),
		cmocka_unit_test(test_tcp_bad_offset),
		cmocka_unit_test(test_ipv4_lengths),
		cmocka_unit_test(test_jumbo),
		cmocka_unit_test(test_other_l4),
		cmocka_unit_test(test_decode_ip_keeps_link),
		cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
