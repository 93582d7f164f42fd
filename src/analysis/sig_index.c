/*
 * sig_index.c - the signature catalogue's indexes and its two lookups.
 *
 * Receives: the entries signatures.c loaded. Hands on: sig_match_host()
 * and sig_match_addr(), called once per ended flow, and the refusal of a
 * pattern or id claimed twice (sig_db_finish). Owns: the domain hash table
 * and the sorted network array inside struct sig_db (sig_int.h).
 *
 * Workload: built once from up to SIG_MAX_FILES x SIG_MAX_PATTERNS patterns
 * per layer, then millions of lookups. A host lookup lower-cases the name
 * into a stack buffer and probes one open-addressing table of the domains of
 * every layer with the whole name and each suffix after a dot, longest
 * first: one probe per label, no allocation. A domain string claimed by
 * several layers is kept once, for the first of them, so a probe finds at
 * most one record; the lookup keeps the hit of the lowest layer (for that
 * layer, the first hit is its most specific) and stops at a hit of layer 0. An address
 * lookup walks the prefix lengths present, longest first, and binary-searches
 * the networks of that length: at most 33 (IPv4) or 129 (IPv6) searches,
 * usually a handful, with memory linear in the patterns (a bit trie would
 * cost up to 128 nodes per IPv6 pattern); layers are resolved as for hosts.
 */
#include "sig_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- networks ---- */

static void mask_bits(uint8_t b[16], unsigned len)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;
		if (len <= lo)
			b[i] = 0;
		else if (len < lo + 8)
			b[i] &= (uint8_t)(0xFFu << (8 - (len - lo)));
	}
}

void sig_net_text(const struct sig_net *r, char *buf, size_t len)
{
	char a[FA_ADDR_STRLEN];
	fa_addr x;
	if (r->v == 4)
		fa_addr_v4(&x, r->b);
	else
		fa_addr_v6(&x, r->b);
	fa_addr_str(&x, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, (unsigned)r->len);
}

/* Parses "addr/len" into r; on failure *why says what to fix (may use fix[]). */
bool sig_cidr_parse(const char *s, struct sig_net *r, const char **why, char *fix, size_t fix_len)
{
	const char *slash = strchr(s, '/');
	memset(r, 0, sizeof(*r));
	if (slash == NULL) {
		*why = "not a CIDR: write ADDRESS/PREFIX (a single IPv4 address is /32, IPv6 /128)";
		return false;
	}
	char addr[64];
	size_t al = (size_t)(slash - s);
	if (al == 0 || al >= sizeof(addr)) {
		*why = "not an IPv4 or IPv6 address before '/'";
		return false;
	}
	memcpy(addr, s, al);
	addr[al] = '\0';
	unsigned maxlen;
	if (inet_pton(AF_INET, addr, r->b) == 1) {
		r->v = 4;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, addr, r->b) == 1) {
		r->v = 6;
		maxlen = 128;
	} else {
		*why = "not an IPv4 or IPv6 address before '/'";
		return false;
	}
	const char *p = slash + 1;
	size_t pl = strlen(p);
	if (pl == 0 || pl > 3 || strspn(p, "0123456789") != pl) {
		*why = "the prefix length after '/' must be a decimal number";
		return false;
	}
	unsigned len = (unsigned)atoi(p);
	if (len == 0 || len > maxlen) {
		*why = r->v == 4 ? "IPv4 prefix length must be 1 to 32"
				 : "IPv6 prefix length must be 1 to 128";
		return false;
	}
	r->len = (uint8_t)len;
	uint8_t m[16];
	memcpy(m, r->b, 16);
	mask_bits(m, len);
	if (memcmp(m, r->b, 16) != 0) {
		memcpy(r->b, m, 16);
		char canon[FA_ADDR_STRLEN + 8];
		sig_net_text(r, canon, sizeof(canon));
		snprintf(fix, fix_len, "host bits are set; the network is %s", canon);
		*why = fix;
		return false;
	}
	return true;
}

/*
 * FNV-1a over the bytes from the last to the first: the hash of a name is
 * then the running hash at the start of each of its suffixes, so one pass
 * backwards over a host gives the hashes of all the suffixes it probes.
 */
#define HASH_SEED 2166136261u
static inline uint32_t hash_step(uint32_t h, char c)
{
	return (h ^ (uint8_t)c) * 16777619u;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = HASH_SEED;
	while (n-- > 0)
		h = hash_step(h, s[n]);
	return h;
}

/* ---- indexes ---- */

static int no_memory(struct fa_err *err)
{
	fa_err_set(err, "signatures: out of memory while building the indexes");
	return FA_ERUNTIME;
}

static int cmp_entry_id(const void *a, const void *b)
{
	const struct sig_entry *const *x = a, *const *y = b;
	int c = strcmp((*x)->id, (*y)->id);
	if (c != 0)
		return c;
	return *x < *y ? -1 : (*x > *y);
}

static int cmp_dom(const void *a, const void *b)
{
	const struct sig_dom *x = a, *y = b;
	int c = strcmp(x->dom, y->dom);
	if (c != 0)
		return c;
	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	return x->field < y->field ? -1 : (x->field > y->field);
}

static int cmp_net(const void *a, const void *b)
{
	const struct sig_net *x = a, *y = b;
	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = memcmp(x->b, y->b, 16);
	if (c != 0)
		return c;
	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	return x->field < y->field ? -1 : (x->field > y->field);
}

/* Reports a pattern claimed twice, naming the later file and the earlier claim. */
static void dup_err(struct sig_db *db, const char *what, const char *pat, uint32_t e1, uint32_t f1,
		    uint32_t e2, uint32_t f2, struct fa_err *err)
{
	char f[64];
	snprintf(f, sizeof(f), "%s[%u]", what, f2);
	if (e1 == e2)
		fa_err_set(err, "%s: field '%s': '%s' is listed twice (also %s[%u])",
			   db->entries[e2].file, f, pat, what, f1);
	else
		fa_err_set(err, "%s: field '%s': '%s' is already claimed by %s (%s[%u]); "
			   "one pattern belongs to one entry",
			   db->entries[e2].file, f, pat, db->entries[e1].file, what, f1);
}

static int check_ids(struct sig_db *db, struct fa_err *err)
{
	if (db->n < 2)
		return FA_OK;
	const struct sig_entry **v = malloc(db->n * sizeof(*v));
	if (v == NULL)
		return no_memory(err);
	for (size_t i = 0; i < db->n; i++)
		v[i] = &db->entries[i];
	qsort(v, db->n, sizeof(*v), cmp_entry_id);
	int rc = FA_OK;
	for (size_t i = 1; i < db->n && rc == FA_OK; i++) {
		if (strcmp(v[i - 1]->id, v[i]->id) == 0 && v[i - 1]->catalogue == v[i]->catalogue) {
			fa_err_set(err, "%s: field 'id': '%s' is also the id of %s", v[i]->file,
				   v[i]->id, v[i - 1]->file);
			rc = FA_EINPUT;
		}
	}
	free(v);
	return rc;
}

/* ---- aliases ---- */

size_t sig_alias_key(const char *name, char *out, size_t len)
{
	static const char *const drop[] = {"\xe3\x80\x80" /* U+3000 */, "\xc2\xb7" /* · */,
					   "\xe3\x83\xbb" /* ・ */};
	size_t o = 0;
	if (len == 0)
		return 0;
	for (const char *p = name; *p != '\0' && o + 1 < len;) {
		unsigned char c = (unsigned char)*p;
		bool skipped = false;
		for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]) && !skipped; i++) {
			size_t dl = strlen(drop[i]);
			if (strncmp(p, drop[i], dl) == 0) {
				p += dl;
				skipped = true;
			}
		}
		if (skipped)
			continue;
		p++;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-' || c == '_' || c == '.')
			continue;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	out[o] = '\0';
	return o;
}

struct alias_ref {
	char key[SIG_MAX_ALIAS + 1];
	const struct sig_entry *e;
	const char *text;
	size_t field; /* index in aliases[], or SIZE_MAX for the entry's name */
};

static int cmp_alias(const void *a, const void *b)
{
	return strcmp(((const struct alias_ref *)a)->key, ((const struct alias_ref *)b)->key);
}

/*
 * No alias may share its key with another entry's alias or name. Names may
 * share a key among themselves (two products of one vendor), and an entry
 * may list its own name as an alias.
 */
static int check_aliases(struct sig_db *db, struct fa_err *err)
{
	size_t total = 0;
	for (size_t i = 0; i < db->n; i++)
		total += db->entries[i].n_aliases + 1;
	struct alias_ref *v = malloc(total * sizeof(*v));
	if (v == NULL)
		return no_memory(err);
	size_t k = 0;
	for (size_t i = 0; i < db->n; i++) {
		const struct sig_entry *e = &db->entries[i];
		for (size_t j = 0; j <= e->n_aliases; j++) {
			struct alias_ref *r = &v[k++];
			r->e = e;
			r->field = j < e->n_aliases ? j : SIZE_MAX;
			r->text = j < e->n_aliases ? e->aliases[j] : e->name;
			sig_alias_key(r->text, r->key, sizeof(r->key));
		}
	}
	qsort(v, total, sizeof(*v), cmp_alias);
	int rc = FA_OK;
	for (size_t i = 0; i < total && rc == FA_OK; i++) {
		for (size_t j = i + 1; j < total && strcmp(v[i].key, v[j].key) == 0; j++) {
			const struct alias_ref *a = &v[i], *b = &v[j];
			if (a->e == b->e || (a->field == SIZE_MAX && b->field == SIZE_MAX) ||
			    a->e->catalogue != b->e->catalogue)
				continue;
			if (a->field == SIZE_MAX) {
				const struct alias_ref *t = a;
				a = b;
				b = t;
			}
			fa_err_set(err, "%s: field 'aliases[%zu]': '%s' is also %s of %s (%s); an alias "
				   "must name one entry", a->e->file, a->field, a->text,
				   b->field == SIZE_MAX ? "the name" : "an alias", b->e->id, b->e->file);
			rc = FA_EINPUT;
			break;
		}
	}
	free(v);
	return rc;
}

const struct sig_entry *sig_db_find_alias(const struct sig_db *db, const char *name)
{
	if (db == NULL || name == NULL)
		return NULL;
	char want[SIG_MAX_ALIAS + 1], k[SIG_MAX_ALIAS + 1];
	if (sig_alias_key(name, want, sizeof(want)) == 0)
		return NULL;
	const struct sig_entry *by_name = NULL;
	for (size_t i = 0; i < db->n; i++) {
		const struct sig_entry *e = &db->entries[i];
		/* a name in an earlier layer beats an alias in a later one */
		if (by_name != NULL && e->catalogue != by_name->catalogue)
			return by_name;
		for (size_t j = 0; j < e->n_aliases; j++) {
			sig_alias_key(e->aliases[j], k, sizeof(k));
			if (strcmp(k, want) == 0)
				return e;
		}
		if (by_name == NULL) {
			sig_alias_key(e->name, k, sizeof(k));
			if (strcmp(k, want) == 0 || strcmp(e->id, want) == 0)
				by_name = e;
		}
	}
	return by_name;
}

static int build_domains(struct sig_db *db, struct fa_err *err)
{
	size_t total = 0;
	for (size_t i = 0; i < db->n; i++)
		total += db->entries[i].n_domains;
	db->doms = malloc((total ? total : 1) * sizeof(*db->doms));
	if (db->doms == NULL)
		return no_memory(err);
	for (size_t i = 0; i < db->n; i++) {
		const struct sig_entry *e = &db->entries[i];
		for (size_t j = 0; j < e->n_domains; j++) {
			struct sig_dom *r = &db->doms[db->n_doms++];
			r->dom = e->domains[j];
			r->len = (uint32_t)strlen(r->dom);
			r->hash = hash_bytes(r->dom, r->len);
			r->entry = (uint32_t)i;
			r->field = (uint32_t)j;
			r->layer = (uint32_t)e->catalogue->layer;
		}
	}
	/* sorted by domain, then entry: within one domain, layer order */
	qsort(db->doms, db->n_doms, sizeof(*db->doms), cmp_dom);
	size_t kept = 0;
	for (size_t i = 0; i < db->n_doms; i++) {
		const struct sig_dom *b = &db->doms[i];
		if (kept > 0 && strcmp(db->doms[kept - 1].dom, b->dom) == 0) {
			const struct sig_dom *a = &db->doms[kept - 1];
			if (a->layer == b->layer) {
				dup_err(db, "domains", b->dom, a->entry, a->field, b->entry, b->field,
					err);
				return FA_EINPUT;
			}
			continue; /* a later layer's claim: the first layer's stands */
		}
		db->doms[kept++] = *b;
	}
	db->n_doms = kept;
	size_t cap = 16;
	while (cap < db->n_doms * 2)
		cap *= 2;
	db->slots = calloc(cap, sizeof(*db->slots));
	if (db->slots == NULL)
		return no_memory(err);
	db->mask = cap - 1;
	for (size_t i = 0; i < db->n_doms; i++) {
		size_t s = db->doms[i].hash & db->mask;
		while (db->slots[s].idx != 0)
			s = (s + 1) & db->mask;
		db->slots[s].idx = (uint32_t)i + 1;
		db->slots[s].hash = db->doms[i].hash;
	}
	return FA_OK;
}

static int build_networks(struct sig_db *db, struct fa_err *err)
{
	size_t total = 0;
	for (size_t i = 0; i < db->n; i++)
		total += db->entries[i].n_networks;
	db->nets = malloc((total ? total : 1) * sizeof(*db->nets));
	if (db->nets == NULL)
		return no_memory(err);
	for (size_t i = 0; i < db->n; i++) {
		const struct sig_entry *e = &db->entries[i];
		for (size_t j = 0; j < e->n_networks; j++) {
			struct sig_net *r = &db->nets[db->n_nets++];
			const char *why;
			char fix[128];
			/* The canonical text was produced from a valid parse when loaded. */
			if (!sig_cidr_parse(e->networks[j], r, &why, fix, sizeof(fix))) {
				fa_err_set(err, "%s: field 'networks': '%s': %s", e->file, e->networks[j],
					   why);
				return FA_ERUNTIME;
			}
			r->entry = (uint32_t)i;
			r->field = (uint32_t)j;
			r->layer = (uint16_t)e->catalogue->layer;
		}
	}
	qsort(db->nets, db->n_nets, sizeof(*db->nets), cmp_net);
	size_t kept = 0;
	for (size_t i = 0; i < db->n_nets; i++) {
		const struct sig_net *r = &db->nets[i];
		if (kept > 0) {
			const struct sig_net *p = &db->nets[kept - 1];
			if (p->v == r->v && p->len == r->len && memcmp(p->b, r->b, 16) == 0) {
				if (p->layer == r->layer) {
					dup_err(db, "networks", db->entries[r->entry].networks[r->field],
						p->entry, p->field, r->entry, r->field, err);
					return FA_EINPUT;
				}
				continue; /* a later layer's claim: the first layer's stands */
			}
		}
		db->nets[kept] = *r;
		r = &db->nets[kept];
		size_t i_kept = kept++;
		struct sig_net_group *g = r->v == 4 ? db->g4 : db->g6;
		size_t *ng = r->v == 4 ? &db->n_g4 : &db->n_g6;
		if (*ng == 0 || g[*ng - 1].len != r->len) {
			g[*ng].start = (uint32_t)i_kept;
			g[*ng].count = 0;
			g[*ng].len = r->len;
			(*ng)++;
		}
		g[*ng - 1].count++;
	}
	db->n_nets = kept;
	return FA_OK;
}

int sig_db_finish(struct sig_db *db, struct fa_err *err)
{
	if (db->finished)
		return FA_OK;
	/* A failed finish may be retried; start the indexes afresh. */
	free(db->doms);
	free(db->slots);
	free(db->nets);
	db->doms = NULL;
	db->slots = NULL;
	db->nets = NULL;
	db->n_doms = db->n_nets = db->n_g4 = db->n_g6 = 0;
	int rc = check_ids(db, err);
	if (rc == FA_OK)
		rc = check_aliases(db, err);
	if (rc == FA_OK)
		rc = build_domains(db, err);
	if (rc == FA_OK)
		rc = build_networks(db, err);
	if (rc == FA_OK)
		db->finished = true;
	return rc;
}

static const struct sig_dom *dom_lookup(const struct sig_db *db, const char *s, size_t len,
				       uint32_t h)
{
	for (size_t i = h & db->mask;; i = (i + 1) & db->mask) {
		const struct sig_slot *sl = &db->slots[i];
		if (sl->idx == 0)
			return NULL;
		if (sl->hash != h)
			continue;
		const struct sig_dom *r = &db->doms[sl->idx - 1];
		if (r->len == len && memcmp(r->dom, s, len) == 0)
			return r;
	}
}

const struct sig_entry *sig_match_host(const struct sig_db *db, const char *host,
				       const char **pattern)
{
	if (pattern != NULL)
		*pattern = NULL;
	if (db == NULL || !db->finished || host == NULL || db->n_doms == 0)
		return NULL;
	char buf[SIG_MAX_HOST + 2];
	size_t n = 0;
	for (; host[n] != '\0'; n++) {
		if (n > SIG_MAX_HOST)
			return NULL;
		char c = host[n];
		buf[n] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	if (n > 0 && buf[n - 1] == '.')
		n--;
	if (n == 0 || n > SIG_MAX_HOST)
		return NULL;
	/*
	 * The hashes of the suffixes that start a label, in one pass from the
	 * end. Every pattern has at least two labels, so the last label alone
	 * is never probed.
	 */
	uint32_t hs[SIG_MAX_HOST / 2 + 2];
	size_t starts[SIG_MAX_HOST / 2 + 2], ns = 0;
	uint32_t h = HASH_SEED;
	bool dot_seen = false;
	for (size_t i = n; i-- > 0;) {
		h = hash_step(h, buf[i]);
		if (i == 0 || buf[i - 1] == '.') {
			if (dot_seen) {
				hs[ns] = h;
				starts[ns++] = i;
			}
			dot_seen = dot_seen || i > 0;
		}
	}
	const struct sig_dom *best = NULL;
	/* longest first: the first hit of a layer is its most specific */
	for (size_t k = ns; k-- > 0;) {
		const struct sig_dom *r = dom_lookup(db, buf + starts[k], n - starts[k], hs[k]);
		if (r != NULL && (best == NULL || r->layer < best->layer)) {
			best = r;
			if (r->layer == 0)
				break;
		}
	}
	if (best == NULL)
		return NULL;
	if (pattern != NULL)
		*pattern = best->dom;
	return &db->entries[best->entry];
}

static const struct sig_net *net_search(const struct sig_db *db, const struct sig_net_group *g,
					const uint8_t key[16])
{
	size_t lo = g->start, hi = (size_t)g->start + g->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(db->nets[mid].b, key, 16);
		if (c == 0)
			return &db->nets[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct sig_entry *sig_match_addr(const struct sig_db *db, const fa_addr *a, char *pattern,
				       size_t pattern_len)
{
	if (pattern != NULL && pattern_len > 0)
		pattern[0] = '\0';
	if (db == NULL || !db->finished || a == NULL || (a->v != 4 && a->v != 6))
		return NULL;
	const struct sig_net_group *g = a->v == 4 ? db->g4 : db->g6;
	size_t ng = a->v == 4 ? db->n_g4 : db->n_g6;
	const struct sig_net *best = NULL;
	for (size_t i = ng; i-- > 0;) {
		uint8_t key[16];
		memcpy(key, a->b, 16);
		if (a->v == 4)
			memset(key + 4, 0, 12);
		mask_bits(key, g[i].len);
		const struct sig_net *r = net_search(db, &g[i], key);
		if (r != NULL && (best == NULL || r->layer < best->layer)) {
			best = r;
			if (r->layer == 0)
				break;
		}
	}
	if (best == NULL)
		return NULL;
	if (pattern != NULL && pattern_len > 0)
		sig_net_text(best, pattern, pattern_len);
	return &db->entries[best->entry];
}
