/*
 * decode.c - link, network and transport headers of one captured frame.
 *
 * Receives a link type and the captured bytes of one frame from the source
 * stage. Hands on a struct decoded_pkt whose pointers borrow those bytes:
 * l3 (the IP packet, for nDPI) and payload (for the stream and DNS stages).
 * Owns nothing and allocates nothing.
 *
 * Workload: every frame of every capture, mostly Ethernet or Linux cooked
 * captures carrying TCP and UDP over IPv4, any byte of which may be hostile.
 * Each header layer is one small function that reads its header through a
 * cursor, fills its part of the result and hands the rest on; link layers
 * dispatch through links[], as tcpdump's printers[] does. A link function
 * consumes its header and says which IP version follows (0: let the version
 * nibble decide).
 *
 * Lengths: the IP header's length bounds everything after it, which drops
 * Ethernet padding. A frame cut short by the snap length is still decoded as
 * far as its transport header reaches (payload_len < payload_wire_len) and
 * counted as ANOM_IP_SNAPLEN_CUT; a header that is itself cut or
 * inconsistent makes the frame DECODE_MALFORMED with a named anomaly.
 */
#include "flowaudit/decode.h"

#include "flowaudit/cursor.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-802.1ad vendor QinQ */
#define ETHERTYPE_MIN 0x0600      /* smaller values are 802.3 lengths */

/* A stack deeper than this is not traffic anyone means to audit. */
#define MAX_VLAN_TAGS 8
#define MAX_IPV6_EXT 16

#define ARPHRD_NETLINK 824 /* SLL over netlink: no IP in it */

#define IPV4_MIN_HDR 20
#define IPV6_HDR 40
#define TCP_MIN_HDR 20
#define UDP_HDR 8
#define ICMP_HDR 4 /* type, code, checksum: common to ICMP and ICMPv6 */
#define L3_MAX 65535

#define COUNT(st, field)                                                                           \
	do {                                                                                       \
		if ((st) != NULL)                                                                  \
			(st)->field++;                                                             \
	} while (0)

/* Counts the anomaly and says the frame is malformed. */
static enum decode_result anomaly(struct decode_stats *st, enum decode_anomaly a)
{
	if (st != NULL)
		st->anomaly[a]++;
	return DECODE_MALFORMED;
}

/* ---- transport ---- */

/*
 * Takes the rest of the cursor (at most cap bytes) as the payload. wire is
 * what the headers claim; it never reads below what was captured.
 */
static void set_payload(struct decoded_pkt *out, struct cursor *c, uint32_t cap, uint32_t wire)
{
	size_t n = cur_left(c);
	if (n > cap)
		n = cap;
	out->payload = cur_take(c, n);
	out->payload_len = (uint32_t)n;
	out->payload_wire_len = wire > n ? wire : (uint32_t)n;
}

/* RFC 9293 section 3.1. wire: transport bytes the IP header claims. */
static enum decode_result l4_tcp(struct cursor *c, uint32_t wire, struct decoded_pkt *out,
				 struct decode_stats *st)
{
	out->sport = cur_be16(c);
	out->dport = cur_be16(c);
	out->tcp_seq = cur_be32(c);
	out->tcp_ack = cur_be32(c);
	uint32_t hlen = (uint32_t)(cur_u8(c) >> 4) * 4;
	out->tcp_flags = cur_u8(c);
	cur_skip(c, 6); /* window, checksum, urgent pointer */
	if (!cur_ok(c))
		return anomaly(st, ANOM_TCP_TRUNCATED);
	if (hlen < TCP_MIN_HDR || hlen > wire)
		return anomaly(st, ANOM_TCP_BAD_OFFSET);
	out->tcp_opts = cur_take(c, hlen - TCP_MIN_HDR);
	out->tcp_opts_len = (uint8_t)(hlen - TCP_MIN_HDR);
	if (!cur_ok(c))
		return anomaly(st, ANOM_TCP_TRUNCATED);
	COUNT(st, tcp);
	set_payload(out, c, UINT32_MAX, wire - hlen);
	return DECODE_OK;
}

/*
 * RFC 768. The UDP length wins over the IP length for the payload: it may
 * be shorter (trailing bytes are not payload) or longer (a first fragment).
 */
static enum decode_result l4_udp(struct cursor *c, uint32_t wire, struct decoded_pkt *out,
				 struct decode_stats *st)
{
	out->sport = cur_be16(c);
	out->dport = cur_be16(c);
	uint32_t ulen = cur_be16(c);
	cur_skip(c, 2); /* checksum */
	if (!cur_ok(c))
		return anomaly(st, ANOM_UDP_TRUNCATED);
	/* RFC 2675 section 4: zero in a datagram too big for the field. */
	if (ulen == 0 && wire > 0xffff)
		ulen = wire;
	if (ulen < UDP_HDR)
		return anomaly(st, ANOM_UDP_BAD_LEN);
	COUNT(st, udp);
	set_payload(out, c, ulen - UDP_HDR, ulen - UDP_HDR);
	return DECODE_OK;
}

/* RFC 792 / RFC 4443: only the common type, code, checksum are required. */
static enum decode_result l4_icmp(struct cursor *c, uint32_t wire, struct decoded_pkt *out,
				  struct decode_stats *st)
{
	out->icmp_type = cur_u8(c);
	out->icmp_code = cur_u8(c);
	cur_skip(c, 2); /* checksum */
	if (!cur_ok(c))
		return anomaly(st, ANOM_ICMP_TRUNCATED);
	COUNT(st, icmp);
	set_payload(out, c, UINT32_MAX, wire - ICMP_HDR);
	return DECODE_OK;
}

/*
 * Anything else (ESP, GRE, SCTP, IP-in-IP, no next header) keeps its
 * addresses for flow accounting; its bytes are the payload. Tunnels are not
 * followed: the outer addresses are the ones on the wire.
 */
static enum decode_result transport(struct cursor *c, uint32_t wire, struct decoded_pkt *out,
				    struct decode_stats *st)
{
	switch (out->l4_proto) {
	case IPPROTO_TCP:
		return l4_tcp(c, wire, out, st);
	case IPPROTO_UDP:
		return l4_udp(c, wire, out, st);
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return l4_icmp(c, wire, out, st);
	default:
		set_payload(out, c, UINT32_MAX, wire);
		return DECODE_OTHER_L4;
	}
}

/* ---- network ---- */

static void count_fragment(struct decoded_pkt *out, struct decode_stats *st)
{
	if (!out->fragmented)
		COUNT(st, ip_fragments);
	out->fragmented = true;
}

/* RFC 791 section 3.1. */
static enum decode_result ipv4(const uint8_t *data, uint32_t len, struct decoded_pkt *out,
			       struct decode_stats *st)
{
	struct cursor c = cur_make(data, len);
	uint8_t vihl = cur_u8(&c);
	if (cur_ok(&c) && vihl >> 4 != 4)
		return anomaly(st, ANOM_IPV4_BAD_VERSION);
	cur_skip(&c, 1); /* type of service */
	uint32_t total = cur_be16(&c);
	cur_skip(&c, 2); /* identification */
	uint16_t frag = cur_be16(&c);
	out->ttl = cur_u8(&c);
	out->l4_proto = cur_u8(&c);
	cur_skip(&c, 2); /* header checksum */
	uint8_t src[4], dst[4];
	cur_bytes(&c, src, 4);
	cur_bytes(&c, dst, 4);
	if (!cur_ok(&c))
		return anomaly(st, ANOM_IPV4_TRUNCATED);
	uint32_t hlen = (uint32_t)(vihl & 0x0f) * 4;
	if (hlen < IPV4_MIN_HDR)
		return anomaly(st, ANOM_IPV4_BAD_IHL);
	/*
	 * A total length of zero is what Linux shows for packets captured
	 * before segmentation offload splits them (Wireshark's "may be TSO"):
	 * the captured length is the best answer there is.
	 */
	if (total == 0)
		total = len;
	if (total < hlen)
		return anomaly(st, ANOM_IPV4_BAD_TOTAL_LEN);
	if (hlen > len)
		return anomaly(st, ANOM_IPV4_TRUNCATED);

	out->ip_version = 4;
	fa_addr_v4(&out->src, src);
	fa_addr_v4(&out->dst, dst);
	out->ip_len = total;
	COUNT(st, ipv4);
	uint32_t cap = total;
	if (total > len) {
		cap = len;
		(void)anomaly(st, ANOM_IP_SNAPLEN_CUT);
	}
	out->l3 = data;
	out->l3_len = cap > L3_MAX ? L3_MAX : cap;

	uint16_t offset = frag & 0x1fff;
	if ((frag & 0x2000) != 0 || offset != 0)
		count_fragment(out, st);
	if (offset != 0)
		return DECODE_FRAGMENT;

	struct cursor l4 = cur_make(data, cap);
	cur_skip(&l4, hlen); /* header and options */
	return transport(&l4, total - hlen, out, st);
}

static bool ipv6_is_ext(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_MH:
		return true;
	default:
		return false;
	}
}

/*
 * RFC 8200 section 4: walks the extension headers to the transport. wire is
 * what the payload length claims is left; every header read comes out of
 * it, and the cursor never holds more than wire, so it cannot underflow.
 */
static enum decode_result ipv6_chain(struct cursor *c, uint8_t nh, uint32_t wire,
				     struct decoded_pkt *out, struct decode_stats *st)
{
	for (int n = 0; ipv6_is_ext(nh); n++) {
		if (n == MAX_IPV6_EXT)
			return anomaly(st, ANOM_IPV6_EXT_TOO_MANY);
		size_t before = cur_left(c);
		uint8_t next = cur_u8(c);
		uint32_t hl = cur_u8(c);
		if (nh == IPPROTO_FRAGMENT) {
			uint16_t offset = cur_be16(c) >> 3;
			cur_skip(c, 4); /* identification */
			if (!cur_ok(c))
				return anomaly(st, ANOM_IPV6_EXT_TRUNCATED);
			count_fragment(out, st);
			if (offset != 0) {
				out->l4_proto = next;
				return DECODE_FRAGMENT;
			}
		} else {
			/* AH counts 4-byte words less 2 (RFC 4302); the rest 8-byte
			 * units beyond the first (RFC 8200). */
			cur_skip(c, nh == IPPROTO_AH ? (hl + 2) * 4 - 2 : hl * 8 + 6);
			if (!cur_ok(c))
				return anomaly(st, ANOM_IPV6_EXT_TRUNCATED);
		}
		wire -= (uint32_t)(before - cur_left(c));
		nh = next;
	}
	out->l4_proto = nh;
	return transport(c, wire, out, st);
}

/* RFC 8200 section 3. */
static enum decode_result ipv6(const uint8_t *data, uint32_t len, struct decoded_pkt *out,
			       struct decode_stats *st)
{
	struct cursor c = cur_make(data, len);
	uint8_t ver = cur_u8(&c);
	if (cur_ok(&c) && ver >> 4 != 6)
		return anomaly(st, ANOM_IPV6_BAD_VERSION);
	cur_skip(&c, 3); /* traffic class, flow label */
	uint32_t plen = cur_be16(&c);
	uint8_t nh = cur_u8(&c);
	out->ttl = cur_u8(&c);
	uint8_t src[16], dst[16];
	cur_bytes(&c, src, 16);
	cur_bytes(&c, dst, 16);
	if (!cur_ok(&c))
		return anomaly(st, ANOM_IPV6_TRUNCATED);

	out->ip_version = 6;
	fa_addr_v6(&out->src, src);
	fa_addr_v6(&out->dst, dst);
	COUNT(st, ipv6);
	uint32_t avail = (uint32_t)cur_left(&c);
	/* Zero: a jumbogram (RFC 2675) or an offloaded segment; use what is there. */
	if (plen == 0)
		plen = avail;
	uint32_t body = plen;
	if (plen > avail) {
		body = avail;
		(void)anomaly(st, ANOM_IP_SNAPLEN_CUT);
	}
	out->ip_len = IPV6_HDR + plen;
	out->l3 = data;
	out->l3_len = IPV6_HDR + body > L3_MAX ? L3_MAX : IPV6_HDR + body;

	struct cursor rest = cur_sub(&c, body);
	return ipv6_chain(&rest, nh, plen, out, st);
}

/* ipver 0: the version nibble decides; anything but 6 is read as IPv4,
 * which names a bad version or an empty packet. */
static enum decode_result ip_any(const uint8_t *data, uint32_t len, int ipver,
				 struct decoded_pkt *out, struct decode_stats *st)
{
	if (ipver == 0) {
		struct cursor peek = cur_make(data, len);
		ipver = cur_u8(&peek) >> 4 == 6 ? 6 : 4;
	}
	return ipver == 6 ? ipv6(data, len, out, st) : ipv4(data, len, out, st);
}

enum decode_result decode_ip(const uint8_t *data, uint32_t len, struct decoded_pkt *out,
			     struct decode_stats *st)
{
	/* The link fields belong to the caller; everything from L3 on is ours. */
	memset(&out->ip_version, 0, sizeof(*out) - offsetof(struct decoded_pkt, ip_version));
	return ip_any(data, len, 0, out, st);
}

/* ---- link ---- */

static bool is_vlan_tpid(uint16_t type)
{
	return type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD || type == ETHERTYPE_QINQ_OLD;
}

/*
 * IEEE 802.2 LLC. Only SNAP with the zero OUI carries an Ethertype; every
 * other SAP (STP, NetBIOS, CDP, ...) is not IP.
 */
static enum decode_result llc_snap(struct cursor *c, uint16_t *type, struct decode_stats *st)
{
	uint8_t dsap = cur_u8(c);
	uint8_t ssap = cur_u8(c);
	uint8_t ctl = cur_u8(c);
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	if (dsap != 0xaa || ssap != 0xaa || ctl != 0x03)
		return DECODE_NOT_IP;
	uint8_t oui[3];
	cur_bytes(c, oui, 3);
	*type = cur_be16(c);
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	if (oui[0] != 0 || oui[1] != 0 || oui[2] != 0)
		return DECODE_NOT_IP;
	return DECODE_OK;
}

/*
 * From an Ethertype on: VLAN tags (the first DECODE_MAX_VLAN are kept,
 * outermost first), then 802.3 LLC, then IPv4 or IPv6.
 */
static enum decode_result ethertype(struct cursor *c, uint16_t type, struct decoded_pkt *out,
				    struct decode_stats *st, int *ipver)
{
	for (int n = 0; is_vlan_tpid(type); n++) {
		if (n == MAX_VLAN_TAGS)
			return DECODE_NOT_IP;
		uint16_t tci = cur_be16(c);
		type = cur_be16(c);
		if (!cur_ok(c))
			return anomaly(st, ANOM_VLAN_TRUNCATED);
		if (out->vlan_count < DECODE_MAX_VLAN)
			out->vlan[out->vlan_count++] = tci & 0x0fff;
	}
	if (type < ETHERTYPE_MIN) {
		enum decode_result r = llc_snap(c, &type, st);
		if (r != DECODE_OK)
			return r;
	}
	switch (type) {
	case ETHERTYPE_IPV4:
		*ipver = 4;
		return DECODE_OK;
	case ETHERTYPE_IPV6:
		*ipver = 6;
		return DECODE_OK;
	default:
		return DECODE_NOT_IP;
	}
}

/* LINKTYPE_ETHERNET: destination, source, Ethertype or 802.3 length. */
static enum decode_result link_ether(struct cursor *c, struct decoded_pkt *out,
				     struct decode_stats *st, int *ipver)
{
	cur_bytes(c, out->dst_mac, 6);
	cur_bytes(c, out->src_mac, 6);
	uint16_t type = cur_be16(c);
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	out->has_mac = true;
	return ethertype(c, type, out, st, ipver);
}

/*
 * Linux cooked captures carry one link address, the sender's, and no
 * destination, so they leave has_mac false. Protocol values below 0x600
 * are Linux's own codes (802.3, 802.2, CAN, ...), never IP.
 */
static enum decode_result sll_protocol(struct cursor *c, uint16_t hatype, uint16_t proto,
				       struct decoded_pkt *out, struct decode_stats *st,
				       int *ipver)
{
	if (hatype == ARPHRD_NETLINK || proto < ETHERTYPE_MIN)
		return DECODE_NOT_IP;
	return ethertype(c, proto, out, st, ipver);
}

/* LINKTYPE_LINUX_SLL: packet type, ARPHRD type, address length, 8-byte
 * address, protocol. */
static enum decode_result link_sll(struct cursor *c, struct decoded_pkt *out,
				   struct decode_stats *st, int *ipver)
{
	cur_skip(c, 2); /* packet type */
	uint16_t hatype = cur_be16(c);
	cur_skip(c, 2 + 8); /* address length, address */
	uint16_t proto = cur_be16(c);
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	return sll_protocol(c, hatype, proto, out, st, ipver);
}

/* LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD type,
 * packet type, address length, 8-byte address. */
static enum decode_result link_sll2(struct cursor *c, struct decoded_pkt *out,
				    struct decode_stats *st, int *ipver)
{
	uint16_t proto = cur_be16(c);
	cur_skip(c, 2 + 4); /* reserved, interface index */
	uint16_t hatype = cur_be16(c);
	cur_skip(c, 1 + 1 + 8); /* packet type, address length, address */
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	return sll_protocol(c, hatype, proto, out, st, ipver);
}

/* BSD address families: AF_INET is 2 everywhere; AF_INET6 is 10 on Linux,
 * 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS. */
static int family_ipver(uint32_t af)
{
	switch (af) {
	case 2:
		return 4;
	case 10:
	case 24:
	case 28:
	case 30:
		return 6;
	default:
		return 0;
	}
}

/* DLT_NULL: the family in the capturing host's byte order, which the file
 * does not record, so both orders are tried. */
static enum decode_result link_null(struct cursor *c, struct decoded_pkt *out,
				    struct decode_stats *st, int *ipver)
{
	(void)out;
	uint32_t af = cur_be32(c);
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	int v = family_ipver(af);
	if (v == 0)
		v = family_ipver(__builtin_bswap32(af));
	if (v == 0)
		return DECODE_NOT_IP;
	*ipver = v;
	return DECODE_OK;
}

/* DLT_LOOP: as DLT_NULL, in network byte order. */
static enum decode_result link_loop(struct cursor *c, struct decoded_pkt *out,
				    struct decode_stats *st, int *ipver)
{
	(void)out;
	uint32_t af = cur_be32(c);
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	*ipver = family_ipver(af);
	return *ipver == 0 ? DECODE_NOT_IP : DECODE_OK;
}

/*
 * LINKTYPE_PPP and PPP_HDLC: an optional 0xff 0x03 address/control pair,
 * then the protocol, one byte when compressed (odd first byte, RFC 1661).
 */
static enum decode_result link_ppp(struct cursor *c, struct decoded_pkt *out,
				   struct decode_stats *st, int *ipver)
{
	(void)out;
	struct cursor peek = *c;
	if (cur_u8(&peek) == 0xff && cur_u8(&peek) == 0x03)
		cur_skip(c, 2);
	uint16_t proto = cur_u8(c);
	if ((proto & 1) == 0)
		proto = (uint16_t)(proto << 8 | cur_u8(c));
	if (!cur_ok(c))
		return anomaly(st, ANOM_L2_TRUNCATED);
	if (proto == 0x21)
		*ipver = 4;
	else if (proto == 0x57)
		*ipver = 6;
	else
		return DECODE_NOT_IP;
	return DECODE_OK;
}

/* Raw IP links have no header; the table entry says which version. */
static enum decode_result link_none(struct cursor *c, struct decoded_pkt *out,
				    struct decode_stats *st, int *ipver)
{
	(void)c, (void)out, (void)st, (void)ipver;
	return DECODE_OK;
}

typedef enum decode_result (*link_fn)(struct cursor *c, struct decoded_pkt *out,
				      struct decode_stats *st, int *ipver);

/*
 * Link types by their pcap value, with libpcap's names. Entries without a
 * function are common types named for messages but not decoded. ipver is
 * what follows unless the link function says otherwise (0: the nibble).
 */
static const struct link {
	int linktype;
	const char *name;
	link_fn fn;
	int ipver;
} links[] = {
	{0, "NULL", link_null, 0},
	{1, "EN10MB", link_ether, 0},
	{9, "PPP", link_ppp, 0},
	{50, "PPP_HDLC", link_ppp, 0},
	{12, "RAW", link_none, 0}, /* DLT_RAW on most systems */
	{14, "RAW", link_none, 0}, /* DLT_RAW on OpenBSD */
	{101, "RAW", link_none, 0},
	{104, "C_HDLC", NULL, 0},
	{105, "IEEE802_11", NULL, 0},
	{107, "FRELAY", NULL, 0},
	{108, "LOOP", link_loop, 0},
	{113, "LINUX_SLL", link_sll, 0},
	{127, "IEEE802_11_RADIO", NULL, 0},
	{192, "PPI", NULL, 0},
	{228, "IPV4", link_none, 4},
	{229, "IPV6", link_none, 6},
	{253, "NETLINK", NULL, 0},
	{258, "PKTAP", NULL, 0},
	{276, "LINUX_SLL2", link_sll2, 0},
};

static const struct link *find_link(int linktype)
{
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (links[i].linktype == linktype)
			return &links[i];
	return NULL;
}

bool decode_link_supported(int linktype)
{
	const struct link *l = find_link(linktype);
	return l != NULL && l->fn != NULL;
}

const char *decode_link_name(int linktype)
{
	const struct link *l = find_link(linktype);
	return l != NULL ? l->name : "unknown";
}

/* ---- tunnels ---- */

#define GTPU_PORT 2152
#define VXLAN_PORT 4789
#define MAX_TUNNEL_DEPTH 2

/* GTP-U G-PDU (3GPP TS 29.281): the user's IP packet follows the header. */
static bool gtpu_inner(struct cursor *c)
{
	uint8_t flags = cur_u8(c);
	uint8_t type = cur_u8(c);
	cur_skip(c, 6); /* length, TEID */
	if (!cur_ok(c) || (flags >> 5) != 1 || (flags & 0x10) == 0 || type != 0xff)
		return false;
	if (flags & 0x07) {
		cur_skip(c, 3); /* sequence number, N-PDU number */
		uint8_t next = cur_u8(c);
		for (int n = 0; next != 0 && n < 16 && cur_ok(c); n++) {
			uint8_t units = cur_u8(c); /* in 4-byte units, this byte included */
			if (units == 0)
				return false;
			cur_skip(c, (size_t)units * 4 - 2);
			next = cur_u8(c);
		}
		if (next != 0)
			return false;
	}
	return cur_ok(c);
}

/* GRE (RFC 2784/2890): returns the protocol type carried, 0 when unreadable. */
static uint16_t gre_inner(struct cursor *c)
{
	uint16_t fl = cur_be16(c);
	uint16_t proto = cur_be16(c);
	if ((fl & 0x0007) != 0) /* version 0 only; PPTP's enhanced GRE is not followed */
		return 0;
	if (fl & 0x8000)
		cur_skip(c, 4); /* checksum, reserved */
	if (fl & 0x2000)
		cur_skip(c, 4); /* key */
	if (fl & 0x1000)
		cur_skip(c, 4); /* sequence */
	return cur_ok(c) ? proto : 0;
}

/*
 * A device's traffic seen from a mobile core or an overlay arrives inside a
 * tunnel: IP-in-IP (4, 41), GRE, GTP-U and VXLAN are opened, at most twice
 * nested, and the inner packet is what the flow table sees. An inner packet
 * that does not decode leaves the outer one as the answer.
 */
static enum decode_result decap(enum decode_result r, struct decoded_pkt *out,
				struct decode_stats *st)
{
	for (int depth = 0; depth < MAX_TUNNEL_DEPTH; depth++) {
		if ((r != DECODE_OK && r != DECODE_OTHER_L4) || out->payload == NULL)
			return r;
		uint8_t l4 = out->l4_proto;
		bool udp_tunnel = r == DECODE_OK && l4 == 17 &&
				  (out->dport == GTPU_PORT || out->sport == GTPU_PORT ||
				   out->dport == VXLAN_PORT || out->sport == VXLAN_PORT);
		if (!udp_tunnel && !(r == DECODE_OTHER_L4 && (l4 == 4 || l4 == 41 || l4 == 47)))
			return r; /* no tunnel: most frames */
		struct cursor c = cur_make(out->payload, out->payload_len);
		struct decoded_pkt in;
		memset(&in, 0, sizeof(in));
		int ipver = 0;
		enum decode_result ir;
		if (r == DECODE_OTHER_L4 && (l4 == 4 || l4 == 41)) {
			ipver = l4 == 4 ? 4 : 6;
			ir = DECODE_OK;
		} else if (r == DECODE_OTHER_L4 && l4 == 47) {
			uint16_t proto = gre_inner(&c);
			if (proto == 0x0800 || proto == 0x86dd)
				ir = DECODE_OK, ipver = proto == 0x0800 ? 4 : 6;
			else if (proto == 0x6558)
				ir = link_ether(&c, &in, st, &ipver);
			else
				return r;
		} else if (r == DECODE_OK && l4 == 17 &&
			   (out->dport == GTPU_PORT || out->sport == GTPU_PORT)) {
			if (!gtpu_inner(&c))
				return r;
			ir = DECODE_OK;
		} else if (r == DECODE_OK && l4 == 17 &&
			   (out->dport == VXLAN_PORT || out->sport == VXLAN_PORT)) {
			uint8_t flags = cur_u8(&c);
			cur_skip(&c, 7);
			if (!cur_ok(&c) || (flags & 0x08) == 0)
				return r;
			ir = link_ether(&c, &in, st, &ipver);
		} else {
			return r;
		}
		if (ir != DECODE_OK)
			return r;
		size_t n = cur_left(&c);
		ir = ip_any(cur_take(&c, n), (uint32_t)n, ipver, &in, st);
		if (ir != DECODE_OK && ir != DECODE_OTHER_L4 && ir != DECODE_FRAGMENT)
			return r;
		if (!in.has_mac) {
			in.has_mac = out->has_mac;
			memcpy(in.src_mac, out->src_mac, 6);
			memcpy(in.dst_mac, out->dst_mac, 6);
		}
		if (in.vlan_count == 0) {
			in.vlan_count = out->vlan_count;
			memcpy(in.vlan, out->vlan, sizeof(in.vlan));
		}
		*out = in;
		r = ir;
		if (st != NULL)
			st->tunnels++;
	}
	return r;
}

enum decode_result decode_frame(int linktype, const uint8_t *data, uint32_t caplen,
				struct decoded_pkt *out, struct decode_stats *st)
{
	memset(out, 0, sizeof(*out));
	enum decode_result r = DECODE_UNSUPPORTED_LINK;
	const struct link *l = find_link(linktype);
	if (l != NULL && l->fn != NULL) {
		struct cursor c = cur_make(data, caplen);
		int ipver = l->ipver;
		r = l->fn(&c, out, st, &ipver);
		if (r == DECODE_OK) {
			size_t n = cur_left(&c);
			r = ip_any(cur_take(&c, n), (uint32_t)n, ipver, out, st);
			r = decap(r, out, st);
		}
	}
	if (st != NULL) {
		st->frames++;
		st->result[r]++;
	}
	return r;
}

/* ---- names ---- */

static const char *const result_names[DECODE_RESULT_COUNT] = {
	[DECODE_OK] = "ok",
	[DECODE_NOT_IP] = "not_ip",
	[DECODE_UNSUPPORTED_LINK] = "unsupported_link",
	[DECODE_MALFORMED] = "malformed",
	[DECODE_FRAGMENT] = "fragment",
	[DECODE_OTHER_L4] = "other_l4",
};

static const char *const anomaly_names[ANOM_COUNT] = {
	[ANOM_L2_TRUNCATED] = "l2_truncated",
	[ANOM_VLAN_TRUNCATED] = "vlan_truncated",
	[ANOM_IPV4_TRUNCATED] = "ipv4_truncated",
	[ANOM_IPV4_BAD_VERSION] = "ipv4_bad_version",
	[ANOM_IPV4_BAD_IHL] = "ipv4_bad_ihl",
	[ANOM_IPV4_BAD_TOTAL_LEN] = "ipv4_bad_total_len",
	[ANOM_IPV6_TRUNCATED] = "ipv6_truncated",
	[ANOM_IPV6_BAD_VERSION] = "ipv6_bad_version",
	[ANOM_IPV6_EXT_TRUNCATED] = "ipv6_ext_truncated",
	[ANOM_IPV6_EXT_TOO_MANY] = "ipv6_ext_too_many",
	[ANOM_TCP_TRUNCATED] = "tcp_truncated",
	[ANOM_TCP_BAD_OFFSET] = "tcp_bad_offset",
	[ANOM_UDP_TRUNCATED] = "udp_truncated",
	[ANOM_UDP_BAD_LEN] = "udp_bad_len",
	[ANOM_ICMP_TRUNCATED] = "icmp_truncated",
	[ANOM_IP_SNAPLEN_CUT] = "ip_snaplen_cut",
};

const char *decode_result_name(enum decode_result r)
{
	if ((unsigned)r >= DECODE_RESULT_COUNT || result_names[r] == NULL)
		return "unknown";
	return result_names[r];
}

const char *decode_anomaly_name(enum decode_anomaly a)
{
	if ((unsigned)a >= ANOM_COUNT || anomaly_names[a] == NULL)
		return "unknown";
	return anomaly_names[a];
}
