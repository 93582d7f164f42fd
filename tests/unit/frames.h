/*
 * frames.h - frames built byte by byte for the decoder tests.
 *
 * A struct frame holds one frame with the link type it is read as, the
 * result decode_frame() should give, and where its transport header and
 * payload end, so a test can check every truncation. Builders append to
 * f->b; the *_done() helpers fill in IP and UDP lengths once the contents
 * are in. Addresses are FR_SRC4 -> FR_DST4 (IPv4) and FR_SRC6 -> FR_DST6
 * (IPv6); the payload is FR_PAYLOAD.
 *
 * fr_run() decodes from a heap copy of exactly caplen bytes and rewrites
 * the packet's pointers to point into f->b, so they outlive the copy.
 */
#ifndef FLOWAUDIT_TESTS_FRAMES_H
#define FLOWAUDIT_TESTS_FRAMES_H

#include "flowaudit/decode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame {
	int linktype;
	enum decode_result expect;
	uint8_t b[1600];
	size_t n;
	size_t l4_end;  /* end of the transport header */
	size_t pay_end; /* end of the transport payload */
};

extern const uint8_t FR_MAC_DST[6], FR_MAC_SRC[6];
extern const uint8_t FR_SRC4[4], FR_DST4[4], FR_SRC6[16], FR_DST6[16];
extern const char FR_PAYLOAD[]; /* "GET / HTTP/1.1\r\n" */
#define FR_SEQ 0x01020304u
#define FR_ACK 0x05060708u

/* Bytes. */
void fr_put8(struct frame *f, uint8_t v);
void fr_put16(struct frame *f, uint16_t v);
void fr_put32(struct frame *f, uint32_t v);
void fr_putn(struct frame *f, const void *p, size_t n);
void fr_zeros(struct frame *f, size_t n);
void fr_set16(struct frame *f, size_t off, size_t v);
void fr_start(struct frame *f, int linktype, enum decode_result expect);

/* Headers. */
void fr_eth(struct frame *f, uint16_t type);
void fr_vlan_tag(struct frame *f, uint16_t vid, uint16_t next);
/* optwords 32-bit words of NOP options; frag is the flags/offset field. */
size_t fr_ip4(struct frame *f, uint8_t proto, unsigned optwords, uint16_t frag);
void fr_ip4_done(struct frame *f, size_t off);
size_t fr_ip6(struct frame *f, uint8_t nh);
void fr_ip6_done(struct frame *f, size_t off);
/* Hop-by-hop, routing or destination options: units of 8 bytes beyond 8. */
void fr_ext6(struct frame *f, uint8_t nh, uint8_t units);
void fr_frag6(struct frame *f, uint8_t nh, uint16_t offset, bool more);
void fr_tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags, unsigned optwords);
size_t fr_udp(struct frame *f, uint16_t sport, uint16_t dport);
void fr_udp_done(struct frame *f, size_t off);
void fr_icmp(struct frame *f, uint8_t type, uint8_t code);
void fr_payload(struct frame *f);

/* Whole IP packets after whatever link header f already holds. */
void fr_ip4_tcp(struct frame *f, unsigned tcp_opts);
void fr_ip4_udp(struct frame *f, unsigned ip_opts);
void fr_ip6_udp(struct frame *f);
void fr_ip6_tcp(struct frame *f);

/* Well-formed frames: a link header from a table around an inner packet. */
enum shape_id {
	S_ETH_TCP_OPTS, S_RAW_IP_OPTS, S_VLAN, S_QINQ, S_THREE_TAGS, S_SLL, S_SLL2,
	S_RAW_V4, S_RAW_V6, S_RAW12, S_RAW14, S_LT_IPV4, S_LT_IPV6, S_NULL_LE_V4,
	S_NULL_BE_V6, S_NULL_LE_V6, S_LOOP_V4, S_LOOP_V6, S_SNAP, N_SHAPES
};
void fr_build_shape(struct frame *f, enum shape_id id);

/* Well-formed frames that need more than a table row. */
typedef void (*fr_builder)(struct frame *f);
void fr_b_ip6_chain(struct frame *f);
void fr_b_ip6_ah(struct frame *f);
void fr_b_ip6_frag_later(struct frame *f);
void fr_b_ip4_frag_later(struct frame *f);
void fr_b_ip4_frag_first(struct frame *f);
void fr_b_icmp(struct frame *f);
void fr_b_icmp6(struct frame *f);
void fr_b_padded(struct frame *f);
void fr_b_esp(struct frame *f);

/* Every well-formed frame: the shapes, then the builders above. */
#define FR_N_FRAMES (N_SHAPES + 9)
void fr_build_any(struct frame *f, size_t i);

/* Decoding, and checks of what came out. */
enum decode_result fr_run(const struct frame *f, size_t caplen, struct decoded_pkt *p,
			  struct decode_stats *st);
enum decode_result fr_build_run(fr_builder b, struct frame *f, struct decoded_pkt *p,
				struct decode_stats *st);
enum decode_result fr_shape_run(enum shape_id id, struct frame *f, struct decoded_pkt *p,
				struct decode_stats *st);
void fr_assert_payload(const struct frame *f, const struct decoded_pkt *p);
void fr_assert_v4_addrs(const struct decoded_pkt *p);
void fr_assert_v6_addrs(const struct decoded_pkt *p);
/* What must hold for any frame, however hostile: result in range, lengths
 * consistent, at most DECODE_MAX_VLAN tags, an IP version when IP. */
void fr_check_invariants(const struct decoded_pkt *p, enum decode_result r);

#endif
