/*
 * consent.h - the consent timeline: when the user granted or withdrew
 * consent, for which purposes.
 *
 * A timeline comes from the lab's test script (-e EVENTS.json) or, during a
 * live capture, from lines read as they arrive. Events are kept in time
 * order; events with the same time keep their order of arrival. Purposes are
 * those of the policy vocabulary (policy_purpose_valid) plus "cross_border",
 * a grant that covers transfers abroad whatever the recipient's purpose.
 * docs/policy.md describes the file format.
 *
 * Loading is strict: unknown fields, wrong types, bad times, unknown events
 * or purposes are FA_EINPUT "FILE:LINE:COL: event 3, field 'time': ...".
 * At most CONSENT_MAX_EVENTS events, files of at most CONSENT_MAX_FILE_BYTES.
 *
 * Ownership: the timeline owns its events and their strings; pointers from
 * consent_get() and consent_state_at() stay valid until the next
 * consent_add()/consent_parse_line() or consent_free(). Functions borrow
 * their string arguments.
 */
#ifndef FLOWAUDIT_CONSENT_H
#define FLOWAUDIT_CONSENT_H

#include "flowaudit/common.h"

#include <stdbool.h>
#include <stddef.h>

#define CONSENT_MAX_FILE_BYTES (1024 * 1024)
#define CONSENT_MAX_EVENTS 100000
#define CONSENT_MAX_LINE 4096

struct consent_event {
	fa_time time;
	bool granted;
	char **purposes;
	size_t n_purposes; /* 0 on a withdrawal: every purpose */
	char *note;        /* NULL when absent */
	size_t index;      /* position in the file, or order of arrival */
};

struct consent_timeline;

enum consent_state { CONSENT_NONE, CONSENT_GRANTED, CONSENT_WITHDRAWN };

/* Reads a JSON array of events, or an object {"events": [...]}. */
int consent_load(const char *path, struct consent_timeline **out, struct fa_err *err);
/* An empty timeline (nothing consented); NULL when out of memory. */
struct consent_timeline *consent_new(void);
/*
 * Adds one event (for live events). A grant needs at least one purpose; a
 * withdrawal with n == 0 withdraws every purpose. The event goes after every
 * event at or before t.
 */
int consent_add(struct consent_timeline *tl, fa_time t, bool granted,
		const char *const *purposes, size_t n, struct fa_err *err);
void consent_free(struct consent_timeline *tl); /* NULL is a no-op */

size_t consent_count(const struct consent_timeline *tl);
/* Events in time order; NULL past the end. */
const struct consent_event *consent_get(const struct consent_timeline *tl, size_t i);

/*
 * The state of purpose at time t: decided by the last event at or before t
 * that covers the purpose (a grant naming it, a withdrawal naming it or
 * naming none). *deciding (deciding may be NULL) gets that event, or NULL.
 * A NULL timeline has consented to nothing.
 */
enum consent_state consent_state_at(const struct consent_timeline *tl, const char *purpose,
				    fa_time t, const struct consent_event **deciding);
const char *consent_state_name(enum consent_state s); /* "none", "granted", "withdrawn" */

/*
 * Adds the event of one live line: "consent_granted advertising analytics",
 * "consent_withdrawn [purpose...]", or one JSON object as in the file (its
 * "time" is optional). Events without a time happen at now.
 */
int consent_parse_line(struct consent_timeline *tl, const char *line, fa_time now,
		       struct fa_err *err);

/* True for a purpose a consent event may name. */
bool consent_purpose_valid(const char *purpose);

#endif
