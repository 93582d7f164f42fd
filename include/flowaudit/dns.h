/*
 * dns.h - DNS responses, and the cache of names they give to addresses.
 *
 * Receives: the payload of a UDP (or TCP, with its 2-byte length prefix
 * removed by the caller) DNS message. Hands on: the question name and the
 * A/AAAA/CNAME answers, with compression pointers followed (loops and
 * forward jumps refused, at most 128 jumps, names at most 255 octets).
 *
 * The name cache maps an address to the names that resolved to it, with the
 * time and frame of the answer. It is bounded (entries and names per
 * address); the oldest entries go first and are counted as evicted. A flow
 * with no SNI or Host takes the newest name answered for its server address
 * at or before the flow's first packet, and lists the others.
 */
#ifndef FLOWAUDIT_DNS_H
#define FLOWAUDIT_DNS_H

#include "flowaudit/common.h"

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 256 /* 255 octets of presentation text plus NUL */
#define DNS_MAX_ANSWERS 64

enum dns_parse_status {
	DNS_PARSE_OK = 0,
	DNS_PARSE_TRUNCATED, /* message ends inside a field */
	DNS_PARSE_BAD_NAME,  /* pointer loop, label too long, name too long */
	DNS_PARSE_NOT_DNS,   /* header makes no sense (opcode, counts) */
};

struct dns_answer {
	uint16_t type;               /* 1 A, 28 AAAA, 5 CNAME */
	uint32_t ttl;
	char owner[DNS_NAME_MAX];    /* the record's name */
	fa_addr addr;                /* A/AAAA */
	char target[DNS_NAME_MAX];   /* CNAME target */
};

struct dns_message {
	uint16_t id;
	bool is_response;
	uint8_t rcode;
	uint16_t qdcount, ancount;
	char qname[DNS_NAME_MAX];    /* first question, lower case, no trailing dot */
	uint16_t qtype;
	size_t n_answers;            /* A, AAAA and CNAME answers kept */
	struct dns_answer answers[DNS_MAX_ANSWERS];
};

/* Parses one DNS message. On error, fields parsed so far stay filled. */
enum dns_parse_status dns_parse(const uint8_t *data, size_t len, struct dns_message *out);
const char *dns_parse_status_name(enum dns_parse_status s);

/* ---- the name cache ---- */

struct dns_cache;

struct dns_cache_limits {
	size_t max_addresses;     /* default 65536 */
	size_t max_names_per_addr;/* default 8 */
};

struct dns_name_ref {
	const char *name;  /* borrowed; valid until the next insert */
	fa_time time;      /* when the answer was seen */
	uint32_t file;     /* index of the capture file */
	uint64_t frame;    /* frame number in that file (1-based) */
};

struct dns_cache *dns_cache_new(const struct dns_cache_limits *limits); /* NULL limits: defaults */
void dns_cache_free(struct dns_cache *c); /* NULL is a no-op */

/*
 * Records what one response says: for every A/AAAA answer, the address gets
 * the question name and every owner/CNAME on the chain that led to it (the
 * name the client asked for first).
 */
void dns_cache_add_message(struct dns_cache *c, const struct dns_message *m, fa_time t,
			   uint32_t file, uint64_t frame);

/* Adds one name for one address. */
void dns_cache_add(struct dns_cache *c, const fa_addr *addr, const char *name, fa_time t,
		   uint32_t file, uint64_t frame);

/*
 * Names known for addr at or before time `before`, newest first. Returns how
 * many were written (at most max). The first is the flow's name; the rest are
 * other names the same address answered for.
 */
size_t dns_cache_lookup(const struct dns_cache *c, const fa_addr *addr, fa_time before,
			struct dns_name_ref *out, size_t max);

struct dns_cache_stats {
	uint64_t answers_added, addresses, evicted_addresses, evicted_names;
};
void dns_cache_stats(const struct dns_cache *c, struct dns_cache_stats *out);

#endif
