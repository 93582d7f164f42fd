/*
 * decode.h - link, network and transport headers of one captured frame.
 *
 * Receives: the link type (a pcap LINKTYPE_/DLT_ value) and the captured
 * bytes of one frame. Hands on: a struct decoded_pkt that borrows those
 * bytes: addresses, ports, TCP flags and sequence numbers, the IP packet
 * (for nDPI) and the transport payload. Owns nothing.
 *
 * Link types: Ethernet (with 802.1Q, 802.1ad/QinQ tags), Linux SLL and SLL2,
 * raw IP (DLT_RAW 12/14 and LINKTYPE_IPV4/IPV6), BSD loopback/null (0),
 * OpenBSD loop (108) and PPP (9, 50). IPv4 with options and fragments; IPv6 with its
 * extension-header chain (hop-by-hop, routing, fragment, destination
 * options, AH); TCP, UDP, ICMP and ICMPv6. Tunnels (IP-in-IP, GRE, GTP-U,
 * VXLAN) are opened and the inner packet is the one handed on.
 *
 * Every read goes through a cursor. A frame that cannot be decoded is not an
 * error of the run: decode_frame() says why (enum decode_result) and bumps
 * the matching counter in struct decode_stats, and the caller skips it.
 */
#ifndef FLOWAUDIT_DECODE_H
#define FLOWAUDIT_DECODE_H

#include "flowaudit/common.h"

#include <stdint.h>

enum decode_result {
	DECODE_OK = 0,          /* IP packet with a transport we follow */
	DECODE_NOT_IP,          /* ARP, STP, LLC, ... : counted, not an anomaly */
	DECODE_UNSUPPORTED_LINK,/* link type we do not read */
	DECODE_MALFORMED,       /* a header is short or inconsistent */
	DECODE_FRAGMENT,        /* a non-first IP fragment (no L4 header) */
	DECODE_OTHER_L4,        /* IP, but not TCP/UDP/ICMP (ESP, GRE, ...) */
	DECODE_RESULT_COUNT
};

const char *decode_result_name(enum decode_result r);

/* Named anomalies, counted in decode_stats.anomaly[]. */
enum decode_anomaly {
	ANOM_L2_TRUNCATED = 0,
	ANOM_VLAN_TRUNCATED,
	ANOM_IPV4_TRUNCATED,
	ANOM_IPV4_BAD_VERSION,
	ANOM_IPV4_BAD_IHL,
	ANOM_IPV4_BAD_TOTAL_LEN,
	ANOM_IPV6_TRUNCATED,
	ANOM_IPV6_BAD_VERSION,
	ANOM_IPV6_EXT_TRUNCATED,
	ANOM_IPV6_EXT_TOO_MANY,
	ANOM_TCP_TRUNCATED,
	ANOM_TCP_BAD_OFFSET,
	ANOM_UDP_TRUNCATED,
	ANOM_UDP_BAD_LEN,
	ANOM_ICMP_TRUNCATED,
	ANOM_IP_SNAPLEN_CUT, /* captured less than the IP length says (not fatal) */
	ANOM_COUNT
};

const char *decode_anomaly_name(enum decode_anomaly a);

struct decode_stats {
	uint64_t frames;
	uint64_t result[DECODE_RESULT_COUNT];
	uint64_t anomaly[ANOM_COUNT];
	uint64_t ipv4, ipv6, tcp, udp, icmp;
	uint64_t ip_fragments; /* first and non-first fragments seen */
	uint64_t tunnels;      /* packets taken out of IP-in-IP, GRE, GTP-U, VXLAN */
};

#define DECODE_MAX_VLAN 2

struct decoded_pkt {
	/* link layer */
	bool has_mac;
	uint8_t src_mac[6], dst_mac[6];
	uint8_t vlan_count;
	uint16_t vlan[DECODE_MAX_VLAN]; /* outermost first; 12-bit ids */

	/* network layer */
	uint8_t ip_version;     /* 4 or 6 */
	fa_addr src, dst;
	uint8_t l4_proto;       /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, ... */
	uint8_t ttl;            /* TTL or hop limit */
	bool fragmented;        /* part of a fragmented datagram (MF or offset) */
	const uint8_t *l3;      /* the IP header on */
	uint32_t l3_len;        /* min(IP total length, captured); <= 65535 */
	uint32_t ip_len;        /* length the IP header claims (for byte counts) */

	/* transport layer */
	uint16_t sport, dport;  /* zero for ICMP */
	uint8_t icmp_type, icmp_code;
	uint8_t tcp_flags;      /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 */
	uint32_t tcp_seq, tcp_ack;
	const uint8_t *tcp_opts; /* TCP options (timestamps for rtt.c) */
	uint8_t tcp_opts_len;    /* 0 to 40 */
	const uint8_t *payload; /* transport payload, captured part */
	uint32_t payload_len;   /* captured bytes of payload */
	uint32_t payload_wire_len; /* bytes the headers say (>= payload_len) */
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* True when flowaudit can decode frames of this link type. */
bool decode_link_supported(int linktype);
const char *decode_link_name(int linktype);

/*
 * Decodes one frame. out is always written (zeroed first). stats may be
 * NULL; otherwise frames, result[] and anomaly[] are updated.
 */
enum decode_result decode_frame(int linktype, const uint8_t *data, uint32_t caplen,
				struct decoded_pkt *out, struct decode_stats *stats);

/*
 * Decodes from the IP header on (used by decode_frame and by tunnels).
 */
enum decode_result decode_ip(const uint8_t *data, uint32_t len, struct decoded_pkt *out,
			     struct decode_stats *stats);

#endif
