/*
 * identifiers.h - finds a device's identifiers in cleartext bytes.
 *
 * idscan_new() turns a device profile into patterns: each identifier in its
 * normal forms (a MAC as aa:bb:cc:dd:ee:ff, AA-BB-..., aabbccddeeff; a phone
 * number with and without '+'; an e-mail address lower-cased; hex-lettered
 * ids in both cases), and each form as it is ("plain"), hex of its bytes
 * ("hex"), percent-encoded ("url"), base64 and base64url at the three
 * alignments a value can take inside a longer encoded string ("base64",
 * "base64url"), and its MD5, SHA-1 and SHA-256 in hex ("md5", "sha1",
 * "sha256"). A location (latitude/longitude) becomes its decimal-degree text
 * at 3 and 4 decimals, rounded and truncated, type "location", encoding
 * "plain". Identifiers shorter than 6 characters are skipped: they would
 * match by chance. All patterns match ASCII-case-insensitively (for base64
 * this admits a few more strings than exact matching would, never fewer).
 *
 * The patterns are compiled once into one Aho-Corasick automaton, flattened
 * into a full DFA over byte classes, so scanning costs one table lookup per
 * byte whatever the number of patterns.
 *
 * Scanning is streaming: the state returned by idscan_feed() is passed to the
 * next call for the same stream, so a match split across calls is found.
 * Matches report the stream offset of their first byte. A pattern that is a
 * substring of another may be reported at the same place as well; callers
 * dedupe per (flow, type, encoding).
 *
 * Ownership: the scanner copies what it needs from the profile; the type and
 * encoding strings in a match live as long as the scanner. A scanner is
 * read-only after idscan_new() and may be shared by threads.
 */
#ifndef FLOWAUDIT_IDENTIFIERS_H
#define FLOWAUDIT_IDENTIFIERS_H

#include "flowaudit/common.h"
#include "flowaudit/device.h"

#include <stddef.h>
#include <stdint.h>

struct idscan;

struct idscan_match {
	const char *type;     /* "imei", ..., an "other" type, or "location" */
	const char *encoding; /* "plain", "hex", "url", "base64", "base64url",
				 "md5", "sha1", "sha256" */
	size_t offset;        /* stream offset of the match's first byte */
	size_t id_index;      /* index in the profile's ids[]; n_ids for "location" */
};

typedef void (*idscan_cb)(const struct idscan_match *m, void *user);

/*
 * Builds the scanner. NULL with err set (FA_EINPUT-class: the profile yields
 * no pattern of 6 or more characters, or too many to compile) or out of memory.
 */
struct idscan *idscan_new(const struct device_profile *d, struct fa_err *err);
void idscan_free(struct idscan *s);
size_t idscan_pattern_count(const struct idscan *s);

/* The state to start a stream with. */
uint32_t idscan_start(const struct idscan *s);

/*
 * Scans len bytes of a stream whose data[0] is at stream_offset, calling cb
 * for each match that ends inside data; returns the state for the next call.
 */
uint32_t idscan_feed(const struct idscan *s, uint32_t state, const uint8_t *data, size_t len,
		     uint64_t stream_offset, idscan_cb cb, void *user);

/* Copies value with all but its last 4 characters replaced by '*'. */
void idscan_mask(const char *value, char *out, size_t outlen);

#endif
