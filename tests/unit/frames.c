/*
 * frames.c - frame builders shared by the decoder tests (test_decode.c,
 * test_decode_ip.c): Ethernet, VLAN, SLL, SLL2, raw, null and loop link
 * headers around IPv4/IPv6 TCP, UDP and ICMP packets with a known payload,
 * and a runner that decodes a frame from a heap buffer of exactly its
 * captured length, so a read past the end shows up under AddressSanitizer.
 *
 * This file is linked into every unit test; every external name carries the
 * fr_/FR_ prefix so none can meet a library symbol or another test's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "frames.h"

/* ---- frame fr_builder ---- */

const uint8_t FR_MAC_DST[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const uint8_t FR_MAC_SRC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const uint8_t FR_SRC4[4] = {10, 0, 0, 1};
const uint8_t FR_DST4[4] = {93, 184, 216, 34};
const uint8_t FR_SRC6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t FR_DST6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
const char FR_PAYLOAD[] = "GET / HTTP/1.1\r\n";

void fr_put8(struct frame *f, uint8_t v)
{
	assert_true(f->n < sizeof(f->b));
	f->b[f->n++] = v;
}

void fr_put16(struct frame *f, uint16_t v)
{
	fr_put8(f, (uint8_t)(v >> 8));
	fr_put8(f, (uint8_t)v);
}

void fr_put32(struct frame *f, uint32_t v)
{
	fr_put16(f, (uint16_t)(v >> 16));
	fr_put16(f, (uint16_t)v);
}

void fr_putn(struct frame *f, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fr_put8(f, ((const uint8_t *)p)[i]);
}

void fr_zeros(struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fr_put8(f, 0);
}

void fr_set16(struct frame *f, size_t off, size_t v)
{
	f->b[off] = (uint8_t)(v >> 8);
	f->b[off + 1] = (uint8_t)v;
}

void fr_start(struct frame *f, int linktype, enum decode_result expect)
{
	memset(f, 0, sizeof(*f));
	f->linktype = linktype;
	f->expect = expect;
}

void fr_eth(struct frame *f, uint16_t type)
{
	fr_putn(f, FR_MAC_DST, 6);
	fr_putn(f, FR_MAC_SRC, 6);
	fr_put16(f, type);
}

void fr_vlan_tag(struct frame *f, uint16_t vid, uint16_t next)
{
	fr_put16(f, vid);
	fr_put16(f, next);
}

/* optwords 32-bit words of NOP options; frag is the flags/offset field. */
size_t fr_ip4(struct frame *f, uint8_t proto, unsigned optwords, uint16_t frag)
{
	size_t off = f->n;
	fr_put8(f, (uint8_t)(0x45 + optwords));
	fr_put8(f, 0);
	fr_put16(f, 0); /* total length, set by ip4_done */
	fr_put16(f, 0x1234);
	fr_put16(f, frag);
	fr_put8(f, 64);
	fr_put8(f, proto);
	fr_put16(f, 0);
	fr_putn(f, FR_SRC4, 4);
	fr_putn(f, FR_DST4, 4);
	for (unsigned i = 0; i < optwords; i++)
		fr_put32(f, 0x01010101);
	return off;
}

void fr_ip4_done(struct frame *f, size_t off) { fr_set16(f, off + 2, f->n - off); }

size_t fr_ip6(struct frame *f, uint8_t nh)
{
	size_t off = f->n;
	fr_put32(f, 0x60000000);
	fr_put16(f, 0); /* payload length, set by ip6_done */
	fr_put8(f, nh);
	fr_put8(f, 64);
	fr_putn(f, FR_SRC6, 16);
	fr_putn(f, FR_DST6, 16);
	return off;
}

void fr_ip6_done(struct frame *f, size_t off) { fr_set16(f, off + 4, f->n - off - 40); }

/* Hop-by-hop, routing or destination options: units of 8 bytes beyond 8. */
void fr_ext6(struct frame *f, uint8_t nh, uint8_t units)
{
	fr_put8(f, nh);
	fr_put8(f, units);
	fr_zeros(f, 6 + 8u * units); /* Pad1 options */
}

void fr_frag6(struct frame *f, uint8_t nh, uint16_t offset, bool more)
{
	fr_put8(f, nh);
	fr_put8(f, 0);
	fr_put16(f, (uint16_t)(offset << 3 | (more ? 1 : 0)));
	fr_put32(f, 0xabcd);
}

void fr_tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags,
		unsigned optwords)
{
	fr_put16(f, sport);
	fr_put16(f, dport);
	fr_put32(f, FR_SEQ);
	fr_put32(f, FR_ACK);
	fr_put8(f, (uint8_t)((5 + optwords) << 4));
	fr_put8(f, flags);
	fr_put16(f, 65535);
	fr_put16(f, 0);
	fr_put16(f, 0);
	for (unsigned i = 0; i < optwords; i++)
		fr_put32(f, 0x01010101);
	f->l4_end = f->n;
}

size_t fr_udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	size_t off = f->n;
	fr_put16(f, sport);
	fr_put16(f, dport);
	fr_put16(f, 0); /* length, set by udp_done */
	fr_put16(f, 0);
	f->l4_end = f->n;
	return off;
}

void fr_udp_done(struct frame *f, size_t off) { fr_set16(f, off + 4, f->n - off); }

void fr_icmp(struct frame *f, uint8_t type, uint8_t code)
{
	fr_put8(f, type);
	fr_put8(f, code);
	fr_put16(f, 0);
	f->l4_end = f->n;
}

void fr_payload(struct frame *f)
{
	fr_putn(f, FR_PAYLOAD, strlen(FR_PAYLOAD));
	f->pay_end = f->n;
}

/* IPv4 TCP with payload after whatever link header f already holds. */
void fr_ip4_tcp(struct frame *f, unsigned tcp_opts)
{
	size_t ip = fr_ip4(f, IPPROTO_TCP, 0, 0);
	fr_tcp(f, 40000, 443, TCP_SYN | TCP_ACK, tcp_opts);
	fr_payload(f);
	fr_ip4_done(f, ip);
}

void fr_ip4_udp(struct frame *f, unsigned ip_opts)
{
	size_t ip = fr_ip4(f, IPPROTO_UDP, ip_opts, 0);
	size_t u = fr_udp(f, 5353, 53);
	fr_payload(f);
	fr_udp_done(f, u);
	fr_ip4_done(f, ip);
}

void fr_ip6_udp(struct frame *f)
{
	size_t ip = fr_ip6(f, IPPROTO_UDP);
	size_t u = fr_udp(f, 5353, 53);
	fr_payload(f);
	fr_udp_done(f, u);
	fr_ip6_done(f, ip);
}

void fr_ip6_tcp(struct frame *f)
{
	size_t ip = fr_ip6(f, IPPROTO_TCP);
	fr_tcp(f, 40000, 443, TCP_ACK | TCP_PSH, 0);
	fr_payload(f);
	fr_ip6_done(f, ip);
}

/* ---- the well-formed frames ---- */

/*
 * Link headers as bytes, each followed by one of a few inner packets. The
 * 802.3 length in S_SNAP is not checked by the decoder; 64 stands in.
 */
enum inner { I4_TCP, I4_TCP_OPTS, I4_UDP, I4_UDP_IPOPTS, I6_TCP, I6_UDP };

#define MACS "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
/* SLL: to us, ARPHRD_ETHER, address length 6, the sender's MAC padded to 8 */
#define SLL_HDR "\x00\x00\x00\x01\x00\x06\x02\x00\x00\x00\x00\x02\x00\x00"
/* SLL2 after the protocol: reserved, ifindex 3, ARPHRD_ETHER, outgoing, 6, MAC */
#define SLL2_HDR "\x00\x00\x00\x00\x00\x03\x00\x01\x04\x06\x02\x00\x00\x00\x00\x02\x00\x00"

static const struct shape {
	int linktype;
	const char *hdr;
	size_t len;
	enum inner inner;
} shapes[N_SHAPES] = {
	[S_ETH_TCP_OPTS] = {1, MACS "\x08\x00", 14, I4_TCP_OPTS},
	[S_RAW_IP_OPTS] = {101, "", 0, I4_UDP_IPOPTS},
	/* priority 1, VLAN 100 */
	[S_VLAN] = {1, MACS "\x81\x00\x20\x64\x08\x00", 18, I4_UDP},
	[S_QINQ] = {1, MACS "\x88\xa8\x00\x0a\x81\x00\x00\x14\x08\x00", 22, I4_TCP},
	[S_THREE_TAGS] = {1, MACS "\x91\x00\x00\x0a\x88\xa8\x00\x14\x81\x00\x00\x1e\x86\xdd", 26,
			  I6_UDP},
	[S_SLL] = {113, SLL_HDR "\x08\x00", 16, I4_TCP},
	[S_SLL2] = {276, "\x86\xdd" SLL2_HDR, 20, I6_UDP},
	[S_RAW_V4] = {101, "", 0, I4_TCP},
	[S_RAW_V6] = {101, "", 0, I6_TCP},
	[S_RAW12] = {12, "", 0, I6_UDP},
	[S_RAW14] = {14, "", 0, I4_UDP},
	[S_LT_IPV4] = {228, "", 0, I4_UDP},
	[S_LT_IPV6] = {229, "", 0, I6_TCP},
	[S_NULL_LE_V4] = {0, "\x02\x00\x00\x00", 4, I4_TCP},
	/* AF_INET6 of macOS from a big-endian host, of OpenBSD from a little one */
	[S_NULL_BE_V6] = {0, "\x00\x00\x00\x1e", 4, I6_UDP},
	[S_NULL_LE_V6] = {0, "\x18\x00\x00\x00", 4, I6_TCP},
	[S_LOOP_V4] = {108, "\x00\x00\x00\x02", 4, I4_UDP},
	[S_LOOP_V6] = {108, "\x00\x00\x00\x18", 4, I6_TCP},
	[S_SNAP] = {1, MACS "\x00\x40\xaa\xaa\x03\x00\x00\x00\x08\x00", 22, I4_UDP},
};

void fr_build_shape(struct frame *f, enum shape_id id)
{
	const struct shape *s = &shapes[id];
	fr_start(f, s->linktype, DECODE_OK);
	fr_putn(f, s->hdr, s->len);
	switch (s->inner) {
	case I4_TCP:
	case I4_TCP_OPTS:
		fr_ip4_tcp(f, s->inner == I4_TCP_OPTS ? 3 : 0);
		break;
	case I4_UDP:
	case I4_UDP_IPOPTS:
		fr_ip4_udp(f, s->inner == I4_UDP_IPOPTS ? 2 : 0);
		break;
	case I6_TCP:
		fr_ip6_tcp(f);
		break;
	case I6_UDP:
		fr_ip6_udp(f);
		break;
	}
}

void fr_b_ip6_chain(struct frame *f)
{
	fr_start(f, 1, DECODE_OK);
	fr_eth(f, 0x86dd);
	size_t ip = fr_ip6(f, IPPROTO_HOPOPTS);
	fr_ext6(f, IPPROTO_DSTOPTS, 0);
	fr_ext6(f, IPPROTO_FRAGMENT, 1);
	fr_frag6(f, IPPROTO_UDP, 0, true);
	size_t u = fr_udp(f, 5353, 53);
	fr_payload(f);
	fr_udp_done(f, u);
	fr_ip6_done(f, ip);
}

void fr_b_ip6_ah(struct frame *f)
{
	fr_start(f, 229, DECODE_OK);
	size_t ip = fr_ip6(f, IPPROTO_AH);
	fr_put8(f, IPPROTO_TCP);
	fr_put8(f, 4); /* (4 + 2) * 4 = 24 bytes */
	fr_zeros(f, 22);
	fr_tcp(f, 40000, 443, TCP_ACK, 0);
	fr_payload(f);
	fr_ip6_done(f, ip);
}

void fr_b_ip6_frag_later(struct frame *f)
{
	fr_start(f, 1, DECODE_FRAGMENT);
	fr_eth(f, 0x86dd);
	size_t ip = fr_ip6(f, IPPROTO_FRAGMENT);
	fr_frag6(f, IPPROTO_UDP, 185, false);
	fr_payload(f);
	fr_ip6_done(f, ip);
}

void fr_b_ip4_frag_later(struct frame *f)
{
	fr_start(f, 1, DECODE_FRAGMENT);
	fr_eth(f, 0x0800);
	size_t ip = fr_ip4(f, IPPROTO_UDP, 0, 185);
	fr_payload(f);
	fr_ip4_done(f, ip);
}

void fr_b_ip4_frag_first(struct frame *f)
{
	fr_start(f, 1, DECODE_OK);
	fr_eth(f, 0x0800);
	size_t ip = fr_ip4(f, IPPROTO_UDP, 0, 0x2000);
	size_t u = fr_udp(f, 5353, 53);
	fr_payload(f);
	fr_udp_done(f, u);
	fr_set16(f, u + 4, 3000); /* the datagram goes on in later fragments */
	fr_ip4_done(f, ip);
}

void fr_b_icmp(struct frame *f)
{
	fr_start(f, 1, DECODE_OK);
	fr_eth(f, 0x0800);
	size_t ip = fr_ip4(f, IPPROTO_ICMP, 0, 0);
	fr_icmp(f, 8, 0);
	fr_payload(f);
	fr_ip4_done(f, ip);
}

void fr_b_icmp6(struct frame *f)
{
	fr_start(f, 1, DECODE_OK);
	fr_eth(f, 0x86dd);
	size_t ip = fr_ip6(f, IPPROTO_ICMPV6);
	fr_icmp(f, 128, 0);
	fr_payload(f);
	fr_ip6_done(f, ip);
}

void fr_b_padded(struct frame *f)
{
	fr_start(f, 1, DECODE_OK);
	fr_eth(f, 0x0800);
	size_t ip = fr_ip4(f, IPPROTO_UDP, 0, 0);
	size_t u = fr_udp(f, 1234, 53);
	fr_put8(f, 'x');
	f->pay_end = f->n;
	fr_udp_done(f, u);
	fr_ip4_done(f, ip);
	fr_zeros(f, 60 - f->n); /* Ethernet minimum frame */
}

void fr_b_esp(struct frame *f)
{
	fr_start(f, 1, DECODE_OTHER_L4);
	fr_eth(f, 0x0800);
	size_t ip = fr_ip4(f, 50, 0, 0);
	fr_put32(f, 0x1000);
	fr_put32(f, 1);
	f->l4_end = f->n;
	fr_payload(f);
	fr_ip4_done(f, ip);
}

static const fr_builder builders[] = {
	fr_b_ip6_chain, fr_b_ip6_ah, fr_b_ip6_frag_later, fr_b_ip4_frag_later, fr_b_ip4_frag_first,
	fr_b_icmp,      fr_b_icmp6,  fr_b_padded,         fr_b_esp,
};
#define N_BUILDERS (sizeof(builders) / sizeof(builders[0]))

_Static_assert(N_SHAPES + N_BUILDERS == FR_N_FRAMES, "FR_N_FRAMES in frames.h");

/* Well-formed frame i of FR_N_FRAMES: the shapes, then the other builders. */
void fr_build_any(struct frame *f, size_t i)
{
	if (i < N_SHAPES)
		fr_build_shape(f, (enum shape_id)i);
	else
		builders[i - N_SHAPES](f);
}

/* Decodes the first caplen bytes of f from a buffer of exactly that size. */
enum decode_result fr_run(const struct frame *f, size_t caplen, struct decoded_pkt *p,
			  struct decode_stats *st)
{
	uint8_t *buf = malloc(caplen ? caplen : 1);
	assert_non_null(buf);
	memcpy(buf, f->b, caplen);
	enum decode_result r = decode_frame(f->linktype, buf, (uint32_t)caplen, p, st);
	/* Pointers into the frame become offsets so they outlive the buffer. */
	if (p->l3 != NULL) {
		assert_true(p->l3 >= buf && p->l3 + p->l3_len <= buf + caplen);
		p->l3 = f->b + (p->l3 - buf);
	}
	if (p->payload != NULL) {
		assert_true(p->payload >= buf && p->payload + p->payload_len <= buf + caplen);
		p->payload = f->b + (p->payload - buf);
	}
	free(buf);
	return r;
}

enum decode_result fr_build_run(fr_builder b, struct frame *f, struct decoded_pkt *p,
				    struct decode_stats *st)
{
	b(f);
	return fr_run(f, f->n, p, st);
}

enum decode_result fr_shape_run(enum shape_id id, struct frame *f, struct decoded_pkt *p,
				    struct decode_stats *st)
{
	fr_build_shape(f, id);
	return fr_run(f, f->n, p, st);
}

void fr_assert_payload(const struct frame *f, const struct decoded_pkt *p)
{
	assert_int_equal(p->payload_len, strlen(FR_PAYLOAD));
	assert_int_equal(p->payload_wire_len, strlen(FR_PAYLOAD));
	assert_ptr_equal(p->payload, f->b + f->l4_end);
	assert_memory_equal(p->payload, FR_PAYLOAD, strlen(FR_PAYLOAD));
}

void fr_assert_v4_addrs(const struct decoded_pkt *p)
{
	assert_int_equal(p->ip_version, 4);
	assert_int_equal(p->src.v, 4);
	assert_memory_equal(p->src.b, FR_SRC4, 4);
	assert_memory_equal(p->dst.b, FR_DST4, 4);
}

void fr_assert_v6_addrs(const struct decoded_pkt *p)
{
	assert_int_equal(p->ip_version, 6);
	assert_int_equal(p->src.v, 6);
	assert_memory_equal(p->src.b, FR_SRC6, 16);
	assert_memory_equal(p->dst.b, FR_DST6, 16);
}

/* What must hold for any frame, however hostile. */
void fr_check_invariants(const struct decoded_pkt *p, enum decode_result r)
{
	assert_true((unsigned)r < DECODE_RESULT_COUNT);
	assert_true(p->l3_len <= 65535);
	assert_true(p->payload_len <= p->payload_wire_len);
	assert_true(p->vlan_count <= DECODE_MAX_VLAN);
	if (r == DECODE_OK || r == DECODE_OTHER_L4)
		assert_true(p->ip_version == 4 || p->ip_version == 6);
}
