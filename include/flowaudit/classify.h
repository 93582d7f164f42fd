/*
 * classify.h - what a flow is: nDPI's protocol, category and names.
 *
 * Receives: the IP packets of a flow, in order, until classify_packet()
 * says detection is over (nDPI is done, or the packet budget is spent).
 * Hands on: struct classify_result: protocol and category names, the host
 * name nDPI saw and where it came from (TLS SNI, QUIC SNI, HTTP Host, DNS
 * query), ALPN, JA3, HTTP URL and User-Agent, and whether the application
 * protocol is one that carries data in clear.
 *
 * Owns: the nDPI detection module (one per classifier, one classifier per
 * thread) and each flow's nDPI state, which is freed by classify_finish() as
 * soon as the answer is known: nDPI's 688-byte flow struct and its buffers
 * are the largest part of a live flow.
 */
#ifndef FLOWAUDIT_CLASSIFY_H
#define FLOWAUDIT_CLASSIFY_H

#include "flowaudit/common.h"

#include <stddef.h>
#include <stdint.h>

struct classifier;
struct classify_flow;

enum classify_name_kind {
	CLASSIFY_NAME_NONE = 0,
	CLASSIFY_NAME_TLS_SNI,
	CLASSIFY_NAME_QUIC_SNI,
	CLASSIFY_NAME_HTTP_HOST,
	CLASSIFY_NAME_DNS_QUERY,
	CLASSIFY_NAME_OTHER, /* DHCP host name, NetBIOS, STUN realm, ... */
};

struct classify_result {
	char protocol[64];  /* "TLS.Google", "HTTP", "DNS", "Unknown" */
	char app[32];       /* the application part alone ("Google") */
	char master[32];    /* the transport-ish part ("TLS"), empty if none */
	const char *category; /* static string from nDPI */
	bool guessed;       /* by port or address, not by payload */
	bool encrypted;     /* TLS, QUIC, SSH, ... */
	bool cleartext_app; /* HTTP, FTP, SMTP, POP, IMAP, Telnet, MQTT, ... */
	bool is_dns;
	enum classify_name_kind name_kind;
	char name[80];      /* nDPI's host_server_name (at most 79 chars) */
	char alpn[64];
	char ja3[33];
	char http_url[256];
	char user_agent[256];
	uint32_t packets_fed;
};

struct classifier_cfg {
	uint32_t tcp_budget; /* packets fed per TCP flow, default 40 */
	uint32_t udp_budget; /* per UDP/other flow, default 16 */
};

int classifier_new(const struct classifier_cfg *cfg, struct classifier **out, struct fa_err *err);
void classifier_free(struct classifier *c);

struct classify_flow *classify_flow_new(struct classifier *c, uint8_t l4_proto);

/*
 * Feeds one IP packet (l3, at most 65535 bytes). Returns true when detection
 * is over for this flow: feed no more packets, call classify_finish().
 */
bool classify_packet(struct classifier *c, struct classify_flow *cf, const uint8_t *l3,
		     uint32_t l3_len, fa_time ts);

/* Final answer (giving up with guessing when detection was not over); frees cf. */
void classify_finish(struct classifier *c, struct classify_flow *cf, struct classify_result *out);

/* True once nDPI has found a host name for the flow (SNI, Host, query). */
bool classify_has_name(const struct classify_flow *cf);

/* Frees cf without an answer (NULL is a no-op). */
void classify_flow_free(struct classify_flow *cf);

const char *classify_name_kind_name(enum classify_name_kind k);

#endif
