/*
 * policy.h - a privacy policy's declaration (flowaudit-policy/1).
 *
 * A declaration is the machine-readable reading of one privacy policy: the
 * first party's domains, the SDKs it names as recipients, where data is
 * stored, when it may cross a border, which purposes need consent, whether
 * encryption in transit is promised. Every statement carries the clause of
 * the policy text it comes from. docs/policy.md describes the format and the
 * vocabularies.
 *
 * Loading is strict: unknown fields, wrong types, unknown SDK ids, purposes
 * or data categories outside the vocabularies, country codes that are not
 * assigned ISO 3166-1 alpha-2 codes, files over POLICY_MAX_FILE_BYTES and
 * nesting deeper than POLICY_MAX_DEPTH are FA_EINPUT with a message
 * "FILE:LINE:COL: field 'recipients[2].sdk': what is wrong".
 *
 * Ownership: policy_load() hands the caller a struct policy that owns every
 * string and array reachable from it; policy_free() releases all of it. The
 * lookups borrow their arguments, never allocate, and return pointers into
 * the policy (or static strings), valid until policy_free().
 */
#ifndef FLOWAUDIT_POLICY_H
#define FLOWAUDIT_POLICY_H

#include "flowaudit/common.h"

#include <stdbool.h>
#include <stddef.h>

#define POLICY_SCHEMA "flowaudit-policy/1"
#define POLICY_MAX_FILE_BYTES (1024 * 1024)
#define POLICY_MAX_DEPTH 32

enum cross_border_rule { XB_NEVER, XB_WITH_CONSENT, XB_ALLOWED };

struct policy_recipient {
	char *sdk;
	char **purposes;
	size_t n_purposes;
	char **data;
	size_t n_data;
	char *clause;
	char *comment; /* NULL when absent */
};

struct policy_processor {
	char *role;
	char **purposes;
	size_t n_purposes;
	char *clause;
	char *comment; /* NULL when absent */
};

/* A point the declaration leaves open (a draft's `review` list). */
struct policy_review {
	char *what;  /* what to decide */
	char *where; /* the quoted sentence or section it concerns */
};

/* Optional strings are NULL when the declaration leaves them out. */
struct policy {
	char *path;
	char *app_name, *controller, *policy_date, *policy_url, *source, *comment;
	char **fp_domains; /* lower case, no trailing dot */
	size_t n_fp_domains;
	char **fp_data;
	size_t n_fp_data;
	char *fp_clause;
	struct policy_recipient *recipients;
	size_t n_recipients;
	struct policy_processor *processors;
	size_t n_processors;
	char **regions; /* expanded, unique, sorted */
	size_t n_regions;
	char **regions_declared; /* as written */
	size_t n_regions_declared;
	enum cross_border_rule xb_rule; /* XB_ALLOWED when cross_border is absent */
	char *xb_clause, *xb_comment;
	char **consent_required_for;
	size_t n_consent_required;
	bool enc_promised;
	bool enc_declared; /* encryption_in_transit present */
	char *enc_clause;
	char *consent_clause; /* where the text says consent is needed; may be NULL */
	struct policy_review *review; /* open points: the audit runs, the report repeats them */
	size_t n_review;
};

/*
 * Reads and validates the declaration at path. sdk_known says whether an
 * SDK id exists in the signature catalogue (ctx is handed to it); NULL
 * accepts every well-formed id. On success *out owns the policy.
 */
int policy_load(const char *path, bool (*sdk_known)(const char *id, void *ctx), void *ctx,
		struct policy **out, struct fa_err *err);
void policy_free(struct policy *p); /* NULL is a no-op */

/*
 * True when cc (an ISO 3166-1 alpha-2 code, any case) is one of the storage
 * regions. A policy that names no storage region makes no regional promise:
 * every code is allowed. NULL or empty cc is never allowed.
 */
bool policy_region_allowed(const struct policy *p, const char *cc);
/* True when purpose is listed in consent_required_for. */
bool policy_needs_consent(const struct policy *p, const char *purpose);
/* The recipient declared with that SDK id; NULL when none. */
const struct policy_recipient *policy_find_recipient(const struct policy *p, const char *sdk_id);
/*
 * True when host is a first-party domain or a subdomain of one (label by
 * label, case-insensitive, one trailing dot ignored). *matched (matched may
 * be NULL) gets the declared domain.
 */
bool policy_is_first_party(const struct policy *p, const char *host, const char **matched);
const char *cross_border_rule_name(enum cross_border_rule r); /* "never", ... */

/*
 * The data category of an identifier type of the device profile: "imei" ->
 * "imei", "latitude"/"longitude" -> "precise_location", and so on; a data
 * category name maps to itself. NULL when the type is unknown.
 */
const char *policy_identifier_category(const char *identifier_type);
/*
 * True when a list of declared data categories covers category: listed as
 * is, or "device_id" is listed and category is one of the hardware and
 * system identifiers (imei, imsi, iccid, android_id, serial, mac).
 * advertising_id stands alone: device_id does not cover it.
 */
bool policy_data_covers(const char *const *data, size_t n, const char *category);
bool policy_recipient_receives(const struct policy_recipient *r, const char *category);
bool policy_first_party_receives(const struct policy *p, const char *category);

/* Vocabularies (docs/policy.md). */
bool iso3166_valid(const char *cc);           /* assigned alpha-2, upper case */
bool policy_purpose_valid(const char *p);     /* advertising, analytics, ... */
bool policy_category_valid(const char *c);    /* device_id, email, ... */
const char *const *policy_purposes(size_t *n);
const char *const *policy_categories(size_t *n);

/*
 * Reads the JSON file at path (at most max_bytes, nesting at most
 * POLICY_MAX_DEPTH, no duplicate keys) and parses it. On success *root owns
 * the document and *text the bytes (free both); what names the kind of file
 * in messages. Syntax errors are FA_EINPUT "FILE:LINE:COL: what is wrong".
 * Shared with the consent timeline loader.
 */
struct json_t;
int policy_json_read(const char *path, size_t max_bytes, struct json_t **root, char **text,
		     size_t *len, struct fa_err *err);

/*
 * Where the value at a JSON path ("recipients[2].sdk"; "" is the root)
 * starts in text: 1-based line and column (in characters). For an object
 * member the position is that of its key. False when the path is not found.
 * text must be well-formed JSON (already parsed); nesting is bounded by
 * POLICY_MAX_DEPTH. Shared with the consent timeline loader.
 */
bool policy_json_locate(const char *text, size_t len, const char *path, unsigned *line,
			unsigned *col);

#endif
