/*
 * audit.h - flows against a policy declaration and a consent timeline.
 *
 * Receives: each ended flow (engine.h) with the identifiers found in it.
 * Hands on: findings, each one rule x one device x one destination name,
 * aggregating every flow that shows it; and a verdict for each statement of
 * the declaration (kept, broken, not exercised).
 *
 * Who is who: a flow's device is the endpoint named by --device (address or
 * MAC); without --device, the client when its address is private, ULA,
 * link-local or CGNAT, or when its MAC is the device profile's "mac" (a
 * phone on a global IPv6 address, or on both families at once). The other
 * end is the destination. Traffic the audit leaves out is counted: flows
 * from the MAC of a device (the profile's, a --device MAC, or one a
 * device's flows came from) on an address not taken as a device
 * (audit_left_out()). A destination on a
 * non-public address is local: never abroad, never a recipient. The
 * destination is first party when its name falls under the declaration's
 * first-party domains, else what the signature catalogue says (an SDK, or
 * shared infrastructure named by its operator), else unknown.
 *
 * Owns: the findings and statements. Borrows the policy, the timeline, the
 * device profile and the flow records' strings (the engine's), which must
 * outlive the audit.
 */
#ifndef FLOWAUDIT_AUDIT_H
#define FLOWAUDIT_AUDIT_H

#include "flowaudit/consent.h"
#include "flowaudit/device.h"
#include "flowaudit/engine.h"
#include "flowaudit/geodist.h"
#include "flowaudit/policy.h"

#include <stddef.h>
#include <stdint.h>

enum audit_rule {
	RULE_UNDECLARED_RECIPIENT = 0,
	RULE_UNKNOWN_ENDPOINT,
	RULE_CROSS_BORDER,
	RULE_BEFORE_CONSENT,
	RULE_AFTER_WITHDRAWAL,
	RULE_CLEARTEXT_IDENTIFIER,
	RULE_UNDECLARED_DATA,
	RULE_UNENCRYPTED_TRANSPORT,
	RULE_COUNT
};

enum audit_severity { SEV_INFO = 0, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_COUNT };

enum recipient_kind { RECIP_FIRST_PARTY = 0, RECIP_SDK, RECIP_INFRASTRUCTURE, RECIP_UNKNOWN };

const char *audit_rule_name(enum audit_rule r);
enum audit_severity audit_rule_severity(enum audit_rule r);
const char *audit_severity_name(enum audit_severity s);
bool audit_severity_parse(const char *s, enum audit_severity *out);
const char *recipient_kind_name(enum recipient_kind k);

/*
 * The location check of a cross-border finding (docs/rules.md): does the
 * smallest round trip to the destination leave its registered country
 * within reach of the vantage point? Made by audit_finish().
 */
enum location_verdict {
	LOC_NONE = 0,          /* not a cross-border finding */
	LOC_CANNOT_JUDGE,      /* no round trip, no vantage point, or no outline of the country */
	LOC_SUPPORTS,          /* the registered country is within reach */
	LOC_CONTRADICTS,       /* it is not: the server answered from nearer */
};
/* "supports", "contradicts", "cannot_judge"; NULL for LOC_NONE */
const char *location_verdict_name(enum location_verdict v);

struct location_check {
	enum location_verdict verdict;
	uint32_t rtt_us;             /* smallest server round trip over the finding's flows to
					addresses registered in its country; RTT_NONE: none */
	enum rtt_kind kind;          /* how it was measured */
	uint64_t flow_id;            /* the flow it came from, */
	uint32_t file;               /* its capture file */
	uint64_t req_frame, ans_frame; /* and the request and answer frames */
	fa_addr addr;                /* the server address */
	double bound_km;             /* rtt x 100 km/ms; < 0 without a round trip */
	double distance_km;          /* vantage point to the country; < 0 when not known */
	char *reasoning;             /* owned; the check in words */
};

#define FINDING_MAX_ADDRS 8
#define FINDING_MAX_IDS 32

struct finding_identifier {
	const char *type, *encoding, *where;
	char field[64];              /* header name or query key; "" when none */
	bool decrypted;              /* read in plaintext after TLS decryption */
	char masked[64];
	uint32_t file;
	uint64_t frame, offset;
	int dir;
	uint64_t flow_id;
};

struct finding {
	char id[16];                 /* "F0001" */
	size_t index;                /* its place: audit_finding(a, index) */
	enum audit_rule rule;
	enum audit_severity severity;
	fa_addr device;
	char device_str[64];
	bool profile_device;         /* the device is the one the device profile describes: its
					flows come from the profile's mac (any device when the
					profile gives no mac); false without a profile */
	char host[256];              /* destination name, or its address */
	fa_addr addrs[FINDING_MAX_ADDRS];
	size_t n_addrs;
	enum recipient_kind kind;
	const struct sig_entry *sig; /* for sdk and infrastructure */
	const char *first_party_domain;
	char country[3];             /* "" when not known or local */
	uint32_t asn;
	char as_org[128];
	fa_time first, last;
	uint64_t *flows;             /* ids, ascending as seen */
	size_t n_flows, cap_flows;
	uint64_t pkts[2], bytes[2];
	enum name_source name_source;
	uint32_t name_file;
	uint64_t name_frame;
	const char *clause;          /* the declaration's clause it breaks */
	char statement[80];          /* id of the statement it breaks */
	char *title;                 /* owned; "" until a rule sets it */
	char *detail;                /* owned */
	struct finding_identifier *ids; /* owned, at most FINDING_MAX_IDS */
	size_t n_ids;
	bool decrypted;              /* an identifier of it was read after TLS decryption */
	/* consent rules and cross-border under with_consent */
	bool has_consent;
	char consent_purpose[32];
	enum consent_state consent_state;
	long consent_event;          /* index in the timeline, -1 for none */
	struct location_check loc;   /* cross-border findings */
};

enum statement_verdict { VERDICT_NOT_EXERCISED = 0, VERDICT_KEPT, VERDICT_BROKEN };
const char *statement_verdict_name(enum statement_verdict v);

struct statement {
	char id[80];        /* "recipient:admob", "recipients", "storage_regions", ... */
	const char *kind;   /* "recipient", "recipients", "first_party", "cross_border", "consent", "encryption_in_transit" */
	char text[300];
	const char *clause;
	enum statement_verdict verdict;
	uint64_t flows;     /* flows that exercised it */
};

typedef void (*audit_finding_cb)(const struct finding *f, void *user);
/* Flow r has joined finding f (called once per finding and flow, the
   flow's last finding last). */
typedef void (*audit_joined_cb)(const struct finding *f, const struct flow_record *r, void *user);

struct audit_cfg {
	const struct policy *policy;
	const struct consent_timeline *consent; /* may be NULL: nothing consented */
	const struct device_profile *profile;   /* may be NULL */
	const fa_addr *device_addrs;            /* --device addresses */
	size_t n_device_addrs;
	const uint8_t (*device_macs)[6];        /* --device MACs */
	size_t n_device_macs;
	audit_finding_cb on_new_finding;        /* called once per finding, when first established */
	void *user;
	audit_joined_cb on_joined;              /* may be NULL */
	void *joined_user;
	struct vantage vantage;                 /* where the capture was made; .set false: not given */
};

struct audit;
struct audit *audit_new(const struct audit_cfg *cfg);
void audit_free(struct audit *a);

/* An engine_flow_cb: pass the audit as user. */
void audit_flow(const struct flow_record *r, const struct id_hit *hits, size_t n_hits, void *user);

/* Statement verdicts, the location checks of cross-border findings (which
   may lower their severity, docs/rules.md) and the traffic left out; call
   after the last flow. */
void audit_finish(struct audit *a);
/* The vantage point the audit was given (.set false: none). */
const struct vantage *audit_vantage(const struct audit *a);

size_t audit_finding_count(const struct audit *a);
const struct finding *audit_finding(const struct audit *a, size_t i);
size_t audit_statement_count(const struct audit *a);
const struct statement *audit_statement(const struct audit *a, size_t i);

/* Flows from a device's MAC on addresses not taken as a device. */
#define AUDIT_LEFT_OUT_ADDRS 4
struct audit_left_out {
	uint8_t mac[6];
	fa_addr addrs[AUDIT_LEFT_OUT_ADDRS]; /* the first few client addresses */
	size_t n_addrs;
	uint64_t flows;
	bool profile_mac;                    /* the MAC is the device profile's */
};
/* After audit_finish(): each MAC whose traffic was left out, busiest first. */
size_t audit_left_out_count(const struct audit *a);
const struct audit_left_out *audit_left_out(const struct audit *a, size_t i);

struct audit_stats {
	uint64_t flows, device_flows, local_flows, public_flows, unknown_country_flows;
	uint64_t left_out_flows; /* after audit_finish(): the sum over audit_left_out() */
	uint64_t by_rule[RULE_COUNT];
	uint64_t by_severity[SEV_COUNT];
	enum audit_severity highest;
	bool any;
};
void audit_stats(const struct audit *a, struct audit_stats *out);

/* Is the flow one of a device's, as audit_flow() decides? (the report's
   counts of where the devices' traffic went) */
bool audit_is_device_flow(const struct audit *a, const struct flow_record *r);

/* Is the finding's flow list containing id? (evidence selection) */
bool finding_has_flow(const struct finding *f, uint64_t flow_id);

#endif
