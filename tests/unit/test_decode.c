/*
 * test_decode.c - decode_frame() on the link layers: Ethernet with 802.1Q
 * and QinQ tags, LLC/SNAP, Linux SLL and SLL2, raw IP, BSD null and OpenBSD
 * loop; frames that are not IP and link types we do not read; every
 * truncation of every well-formed frame; and one real Linux cooked capture
 * from the shared corpus when it is present. IP and transport headers are
 * in test_decode_ip.c; the frame builders in frames.c.
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
#include <pcap/pcap.h>

#include "flowaudit/decode.h"

#include "frames.h"

static void test_eth_ipv4_tcp_options(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	assert_int_equal(fr_shape_run(S_ETH_TCP_OPTS, &f, &p, &st), DECODE_OK);
	assert_true(p.has_mac);
	assert_memory_equal(p.dst_mac, FR_MAC_DST, 6);
	assert_memory_equal(p.src_mac, FR_MAC_SRC, 6);
	assert_int_equal(p.vlan_count, 0);
	fr_assert_v4_addrs(&p);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.l4_proto, IPPROTO_TCP);
	assert_false(p.fragmented);
	assert_ptr_equal(p.l3, f.b + 14);
	assert_int_equal(p.l3_len, f.n - 14);
	assert_int_equal(p.ip_len, f.n - 14);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.tcp_seq, FR_SEQ);
	assert_int_equal(p.tcp_ack, FR_ACK);
	assert_int_equal(p.tcp_flags, TCP_SYN | TCP_ACK);
	assert_int_equal(f.l4_end, 14 + 20 + 32);
	fr_assert_payload(&f, &p);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.result[DECODE_OK], 1);
	assert_int_equal(st.ipv4, 1);
	assert_int_equal(st.tcp, 1);
	assert_int_equal(st.udp + st.ipv6 + st.icmp + st.ip_fragments, 0);
	for (int a = 0; a < ANOM_COUNT; a++)
		assert_int_equal(st.anomaly[a], 0);
}

static void test_vlan(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	assert_int_equal(fr_shape_run(S_VLAN, &f, &p, NULL), DECODE_OK);
	assert_int_equal(p.vlan_count, 1);
	assert_int_equal(p.vlan[0], 100);
	assert_ptr_equal(p.l3, f.b + 18);
	fr_assert_payload(&f, &p);

	assert_int_equal(fr_shape_run(S_QINQ, &f, &p, NULL), DECODE_OK);
	assert_int_equal(p.vlan_count, 2);
	assert_int_equal(p.vlan[0], 10);
	assert_int_equal(p.vlan[1], 20);
	assert_int_equal(p.tcp_flags, TCP_SYN | TCP_ACK);
	fr_assert_payload(&f, &p);

	/* A third tag is skipped, not kept, and the packet still decodes. */
	assert_int_equal(fr_shape_run(S_THREE_TAGS, &f, &p, NULL), DECODE_OK);
	assert_int_equal(p.vlan_count, 2);
	assert_int_equal(p.vlan[1], 20);
	fr_assert_v6_addrs(&p);
	fr_assert_payload(&f, &p);
}

static void test_vlan_too_deep(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	fr_start(&f, 1, DECODE_NOT_IP);
	fr_eth(&f, 0x8100);
	for (int i = 0; i < 9; i++)
		fr_vlan_tag(&f, (uint16_t)(i + 1), i == 8 ? 0x0800 : 0x8100);
	fr_ip4_udp(&f, 0);
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);

	/* Eight tags are still within reach. */
	fr_start(&f, 1, DECODE_OK);
	fr_eth(&f, 0x8100);
	for (int i = 0; i < 8; i++)
		fr_vlan_tag(&f, (uint16_t)(i + 1), i == 7 ? 0x0800 : 0x8100);
	fr_ip4_udp(&f, 0);
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_OK);
	fr_assert_payload(&f, &p);
}

static void test_sll(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	assert_int_equal(fr_shape_run(S_SLL, &f, &p, NULL), DECODE_OK);
	assert_false(p.has_mac); /* only the sender's address is in the header */
	assert_ptr_equal(p.l3, f.b + 16);
	fr_assert_v4_addrs(&p);
	assert_int_equal(p.dport, 443);
	fr_assert_payload(&f, &p);

	/* Netlink and Linux's own protocol codes are not IP. */
	fr_set16(&f, 2, 824); /* ARPHRD_NETLINK */
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);
	fr_shape_run(S_SLL, &f, &p, NULL);
	fr_set16(&f, 14, 0x0004); /* LINUX_SLL_P_802_2 */
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);
}

static void test_sll2(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	assert_int_equal(fr_shape_run(S_SLL2, &f, &p, NULL), DECODE_OK);
	assert_ptr_equal(p.l3, f.b + 20);
	fr_assert_v6_addrs(&p);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	fr_assert_payload(&f, &p);
	fr_set16(&f, 0, 0x0806); /* ARP */
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);
}

static void test_raw(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	assert_int_equal(fr_shape_run(S_RAW_V4, &f, &p, NULL), DECODE_OK);
	assert_ptr_equal(p.l3, f.b);
	fr_assert_v4_addrs(&p);
	fr_assert_payload(&f, &p);
	assert_int_equal(fr_shape_run(S_RAW_V6, &f, &p, NULL), DECODE_OK);
	fr_assert_v6_addrs(&p);
	assert_int_equal(p.ip_len, f.n);
	fr_assert_payload(&f, &p);
	assert_int_equal(fr_shape_run(S_RAW12, &f, &p, NULL), DECODE_OK);
	fr_assert_v6_addrs(&p);
	assert_int_equal(fr_shape_run(S_RAW14, &f, &p, NULL), DECODE_OK);
	fr_assert_v4_addrs(&p);

	/* The link type fixes the version; a packet that disagrees is bad. */
	assert_int_equal(fr_shape_run(S_LT_IPV4, &f, &p, NULL), DECODE_OK);
	f.linktype = 229;
	struct decode_stats st = {0};
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_IPV6_BAD_VERSION], 1);
	assert_int_equal(fr_shape_run(S_LT_IPV6, &f, &p, NULL), DECODE_OK);
	fr_assert_payload(&f, &p);
	f.b[0] = 0x50;
	f.linktype = 101;
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_MALFORMED);
	assert_int_equal(st.anomaly[ANOM_IPV4_BAD_VERSION], 1);
}

static void test_null_and_loop(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	assert_int_equal(fr_shape_run(S_NULL_LE_V4, &f, &p, NULL), DECODE_OK);
	fr_assert_v4_addrs(&p);
	assert_ptr_equal(p.l3, f.b + 4);
	fr_assert_payload(&f, &p);
	assert_int_equal(fr_shape_run(S_NULL_BE_V6, &f, &p, NULL), DECODE_OK);
	fr_assert_v6_addrs(&p);
	fr_assert_payload(&f, &p);
	assert_int_equal(fr_shape_run(S_NULL_LE_V6, &f, &p, NULL), DECODE_OK);
	fr_assert_v6_addrs(&p);
	assert_int_equal(fr_shape_run(S_LOOP_V4, &f, &p, NULL), DECODE_OK);
	fr_assert_v4_addrs(&p);
	fr_assert_payload(&f, &p);
	assert_int_equal(fr_shape_run(S_LOOP_V6, &f, &p, NULL), DECODE_OK);
	fr_assert_v6_addrs(&p);

	/* DLT_LOOP is network order only; DLT_NULL of an unknown family is not IP. */
	fr_shape_run(S_NULL_LE_V4, &f, &p, NULL);
	f.linktype = 108;
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);
	f.linktype = 0;
	f.b[0] = 7;
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);
}

static void test_not_ip(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	fr_start(&f, 1, DECODE_NOT_IP);
	fr_eth(&f, 0x0806);
	fr_putn(&f, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	fr_zeros(&f, 20);
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_NOT_IP);
	assert_true(p.has_mac);
	assert_int_equal(st.result[DECODE_NOT_IP], 1);
	for (int a = 0; a < ANOM_COUNT; a++)
		assert_int_equal(st.anomaly[a], 0);

	/* Spanning tree over LLC. */
	fr_start(&f, 1, DECODE_NOT_IP);
	fr_eth(&f, 38);
	fr_putn(&f, "\x42\x42\x03", 3);
	fr_zeros(&f, 35);
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);

	/* SNAP carrying IPv4 is IP; SNAP with a vendor OUI is not. */
	assert_int_equal(fr_shape_run(S_SNAP, &f, &p, NULL), DECODE_OK);
	fr_assert_payload(&f, &p);
	f.b[19] = 0x0c;
	assert_int_equal(fr_run(&f, f.n, &p, NULL), DECODE_NOT_IP);
}

static void test_unsupported_link(void **state)
{
	(void)state;
	struct frame f;
	struct decoded_pkt p = {0};
	struct decode_stats st = {0};
	fr_shape_run(S_ETH_TCP_OPTS, &f, &p, NULL);
	f.linktype = 105;
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_UNSUPPORTED_LINK);
	f.linktype = 99999;
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_UNSUPPORTED_LINK);
	f.linktype = -1;
	assert_int_equal(fr_run(&f, f.n, &p, &st), DECODE_UNSUPPORTED_LINK);
	assert_int_equal(st.result[DECODE_UNSUPPORTED_LINK], 3);
	assert_int_equal(st.frames, 3);
	assert_false(p.has_mac);

	assert_false(decode_link_supported(105));
	assert_false(decode_link_supported(99999));
	assert_string_equal(decode_link_name(105), "IEEE802_11");
	assert_string_equal(decode_link_name(99999), "unknown");
	const struct {
		int lt;
		const char *name;
	} names[] = {{1, "EN10MB"}, {113, "LINUX_SLL"}, {276, "LINUX_SLL2"}, {101, "RAW"},
		     {12, "RAW"},   {14, "RAW"},	{228, "IPV4"},	     {229, "IPV6"},
		     {0, "NULL"},   {108, "LOOP"}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_true(decode_link_supported(names[i].lt));
		assert_string_equal(decode_link_name(names[i].lt), names[i].name);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(decode_result_name(DECODE_OK), "ok");
	assert_string_equal(decode_result_name(DECODE_NOT_IP), "not_ip");
	assert_string_equal(decode_result_name(DECODE_UNSUPPORTED_LINK), "unsupported_link");
	assert_string_equal(decode_result_name(DECODE_MALFORMED), "malformed");
	assert_string_equal(decode_result_name(DECODE_FRAGMENT), "fragment");
	assert_string_equal(decode_result_name(DECODE_OTHER_L4), "other_l4");
	assert_string_equal(decode_result_name(DECODE_RESULT_COUNT), "unknown");
	assert_string_equal(decode_anomaly_name(ANOM_IPV4_BAD_IHL), "ipv4_bad_ihl");
	assert_string_equal(decode_anomaly_name(ANOM_IP_SNAPLEN_CUT), "ip_snaplen_cut");
	assert_string_equal(decode_anomaly_name(ANOM_COUNT), "unknown");
	/* Every name is distinct snake_case. */
	for (int a = 0; a < ANOM_COUNT; a++) {
		const char *n = decode_anomaly_name((enum decode_anomaly)a);
		assert_string_not_equal(n, "unknown");
		assert_int_equal(strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_"), strlen(n));
		for (int b = 0; b < a; b++)
			assert_string_not_equal(n, decode_anomaly_name((enum decode_anomaly)b));
	}
}

static void test_truncations(void **state)
{
	(void)state;
	for (size_t i = 0; i < FR_N_FRAMES; i++) {
		struct frame f;
		struct decoded_pkt p = {0};
		struct decode_stats st = {0};
		fr_build_any(&f, i);
		assert_int_equal(fr_run(&f, f.n, &p, NULL), f.expect);
		for (size_t cap = 0; cap < f.n; cap++) {
			enum decode_result r = fr_run(&f, cap, &p, &st);
			if (f.expect != DECODE_OK) {
				assert_int_not_equal(r, DECODE_OK);
				continue;
			}
			if ((r == DECODE_OK) != (cap >= f.l4_end)) {
				fail_msg("frame %zu caplen %zu: %s", i, cap, decode_result_name(r));
			}
			if (r == DECODE_OK) {
				size_t end = cap < f.pay_end ? cap : f.pay_end;
				assert_ptr_equal(p.payload, f.b + f.l4_end);
				assert_int_equal(p.payload_len, end - f.l4_end);
				assert_true(p.payload_wire_len >= p.payload_len);
			}
		}
		assert_int_equal(st.frames, f.n);
	}
}


static void test_real_capture(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"../shared/corpus/ndpi/pcap/KakaoTalk_chat.pcap",
		"/work/shared/corpus/ndpi/pcap/KakaoTalk_chat.pcap",
	};
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = NULL;
	for (size_t i = 0; i < 2 && pc == NULL; i++)
		pc = pcap_open_offline(paths[i], errbuf);
	if (pc == NULL) {
		print_message("KakaoTalk_chat.pcap not found in the shared corpus; skipped\n");
		skip();
	}
	assert_int_equal(pcap_datalink(pc), 113);
	struct decode_stats st = {0};
	struct pcap_pkthdr *h;
	const u_char *data;
	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct decoded_pkt p = {0};
		enum decode_result r = decode_frame(pcap_datalink(pc), data, h->caplen, &p, &st);
		fr_check_invariants(&p, r);
	}
	pcap_close(pc);
	assert_true(st.frames > 100);
	assert_true(st.result[DECODE_OK] * 100 > st.frames * 95);
	assert_true(st.tcp > 0 && st.udp > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_ipv4_tcp_options),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_vlan_too_deep),
		cmocka_unit_test(test_sll),
		cmocka_unit_test(test_sll2),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_null_and_loop),
		cmocka_unit_test(test_not_ip),
		cmocka_unit_test(test_unsupported_link),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_real_capture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
