/*
 * engine_attr.c - what a flow's server address says about it, looked up
 * once per address.
 *
 * Receives the server address of each ending flow; hands on its
 * geolocation and the signature whose network holds it, with the CIDR
 * text interned. Owns a direct-mapped cache of ATTR_SLOTS addresses. Both
 * answers depend on the address alone (the databases and the catalogue do
 * not change during a run), and a replay's flows go to the same servers
 * over and over: on the bench workload 94,649 flows have a few thousand
 * servers, while one lookup of both costs about 6,000 instructions.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#define ATTR_SLOTS 4096 /* a power of two */

struct attr_slot {
	fa_addr addr;
	bool geo_set, sig_set;
	struct geo_result geo;
	const struct sig_entry *sig;
	const char *cidr; /* interned */
};

struct attr_cache {
	struct attr_slot slot[ATTR_SLOTS];
};

static struct attr_slot *slot_for(struct engine *e, const fa_addr *a)
{
	if (e->attr == NULL) {
		e->attr = calloc(1, sizeof(*e->attr));
		if (e->attr == NULL)
			return NULL;
	}
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ a->b[i]) * 16777619u;
	struct attr_slot *s = &e->attr->slot[(h ^ (h >> 15)) & (ATTR_SLOTS - 1)];
	if (!fa_addr_eq(&s->addr, a)) {
		s->addr = *a;
		s->geo_set = s->sig_set = false;
	}
	return s;
}

void attr_geo(struct engine *e, const fa_addr *a, struct geo_result *out)
{
	struct attr_slot *s = slot_for(e, a);
	if (s == NULL) {
		geo_lookup(e->cfg.geo, a, out);
		return;
	}
	if (!s->geo_set) {
		geo_lookup(e->cfg.geo, a, &s->geo);
		s->geo_set = true;
	}
	*out = s->geo;
}

const struct sig_entry *attr_sig_addr(struct engine *e, const fa_addr *a, const char **cidr)
{
	struct attr_slot *s = slot_for(e, a);
	char text[64];
	if (s == NULL) {
		const struct sig_entry *sig = sig_match_addr(e->cfg.sigs, a, text, sizeof(text));
		*cidr = sig != NULL ? intern(e, text) : NULL;
		return sig;
	}
	if (!s->sig_set) {
		s->sig = sig_match_addr(e->cfg.sigs, a, text, sizeof(text));
		s->cidr = s->sig != NULL ? intern(e, text) : NULL;
		s->sig_set = true;
	}
	*cidr = s->cidr;
	return s->sig;
}

void attr_free(struct engine *e)
{
	free(e->attr);
	e->attr = NULL;
}
