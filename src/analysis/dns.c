/*
 * dns.c - DNS message parsing (RFC 1035 section 4) and the address-to-name
 * cache that DNS answers feed.
 *
 * Receives: one DNS message as bytes (a UDP payload, or a TCP message with
 * its length prefix removed), read only through the cursor. Hands on: the
 * first question name and the A, AAAA and CNAME answers, names in lower case
 * presentation form without the trailing dot. Owns nothing per message; the
 * caller owns struct dns_message, which is large and meant to be reused.
 *
 * Names are the dangerous part of DNS. Compression pointers may only jump to
 * an offset strictly below the start of the stretch of name being read (the
 * name's own start, then the previous jump target), so every jump goes
 * backwards, no loop can form and forward references are refused; 128 jumps
 * is an extra ceiling. Labels are at most 63 octets and the whole name at
 * most 255 octets on the wire. Label bytes that are not printable ASCII, and
 * '.' and '\' themselves, are written as \DDD (RFC 4343 style) so that two
 * different wire names can never print the same.
 *
 * The cache maps an address to the names answered for it. Workload: a few
 * thousand to a few hundred thousand answers per capture, looked up once per
 * flow. It is an open-addressing hash table (linear probing, at most half
 * full) over a fixed-ceiling pool of entries; entries sit on a list ordered
 * by their last update and the least recently updated address is evicted
 * when the pool is full. Each address keeps at most max_names_per_addr
 * distinct names; for each it remembers the first and the latest answer, so
 * a flow that started between two answers still finds the name. The cache
 * owns copies of all names.
 */
#include "flowaudit/dns.h"

#include "flowaudit/cursor.h"

#include <stdlib.h>
#include <string.h>

#define DNS_JUMP_MAX 128
#define DNS_WIRE_NAME_MAX 255
#define DNS_LABEL_MAX 63

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1

/* ---- message parsing ---- */

const char *dns_parse_status_name(enum dns_parse_status s)
{
	switch (s) {
	case DNS_PARSE_OK: return "ok";
	case DNS_PARSE_TRUNCATED: return "truncated";
	case DNS_PARSE_BAD_NAME: return "bad-name";
	case DNS_PARSE_NOT_DNS: return "not-dns";
	}
	return "unknown";
}

/* Appends one label byte in presentation form; false if out is full. */
static bool put_label_byte(char *out, size_t *o, uint8_t b)
{
	if (b >= 'A' && b <= 'Z')
		b = (uint8_t)(b - 'A' + 'a');
	if (b > 0x20 && b < 0x7f && b != '.' && b != '\\') {
		if (*o + 1 >= DNS_NAME_MAX)
			return false;
		out[(*o)++] = (char)b;
		return true;
	}
	if (*o + 4 >= DNS_NAME_MAX)
		return false;
	out[(*o)++] = '\\';
	out[(*o)++] = (char)('0' + b / 100);
	out[(*o)++] = (char)('0' + (b / 10) % 10);
	out[(*o)++] = (char)('0' + b % 10);
	return true;
}

/*
 * Reads a name starting at c (which may be a window inside the message, such
 * as one record's RDATA); jumps land in the whole message [msg, msg+msglen).
 * On success c has moved past the name's bytes in place.
 */
static enum dns_parse_status read_name(const uint8_t *msg, size_t msglen, struct cursor *c,
				       char out[DNS_NAME_MAX])
{
	struct cursor r = *c;
	bool jumped = false;
	size_t limit = cur_offset(c, msg); /* jump targets must lie below this */
	size_t wire = 1;                   /* the terminating root label */
	size_t o = 0;
	unsigned jumps = 0;

	out[0] = '\0';
	for (;;) {
		uint8_t len = cur_u8(&r);
		if (!cur_ok(&r))
			return DNS_PARSE_TRUNCATED;
		if (len == 0)
			break;
		if ((len & 0xC0) == 0xC0) {
			uint8_t lo = cur_u8(&r);
			if (!cur_ok(&r))
				return DNS_PARSE_TRUNCATED;
			size_t target = ((size_t)(len & 0x3F) << 8) | lo;
			if (target >= limit || ++jumps > DNS_JUMP_MAX)
				return DNS_PARSE_BAD_NAME;
			if (!jumped) {
				*c = r;
				jumped = true;
			}
			r = cur_make(msg, msglen);
			cur_skip(&r, target);
			limit = target;
			continue;
		}
		if (len > DNS_LABEL_MAX) /* 0x40 extended and 0x80 reserved types */
			return DNS_PARSE_BAD_NAME;
		wire += (size_t)len + 1;
		if (wire > DNS_WIRE_NAME_MAX)
			return DNS_PARSE_BAD_NAME;
		const uint8_t *lab = cur_take(&r, len);
		if (lab == NULL)
			return DNS_PARSE_TRUNCATED;
		if (o > 0) {
			if (o + 1 >= DNS_NAME_MAX)
				return DNS_PARSE_BAD_NAME;
			out[o++] = '.';
		}
		for (size_t i = 0; i < len; i++) {
			if (!put_label_byte(out, &o, lab[i])) {
				out[0] = '\0';
				return DNS_PARSE_BAD_NAME;
			}
		}
		out[o] = '\0';
	}
	out[o] = '\0';
	if (!jumped)
		*c = r;
	return DNS_PARSE_OK;
}

static enum dns_parse_status read_answer(const uint8_t *msg, size_t msglen, struct cursor *c,
					 struct dns_message *out)
{
	char owner[DNS_NAME_MAX];
	enum dns_parse_status st = read_name(msg, msglen, c, owner);
	if (st != DNS_PARSE_OK)
		return st;
	uint16_t type = cur_be16(c);
	uint16_t klass = cur_be16(c);
	uint32_t ttl = cur_be32(c);
	uint16_t rdlen = cur_be16(c);
	struct cursor rd = cur_sub(c, rdlen);
	if (!cur_ok(c))
		return DNS_PARSE_TRUNCATED;

	/* mDNS sets the top class bit for cache-flush; the class is the rest */
	if ((klass & 0x7FFF) != DNS_CLASS_IN || out->n_answers >= DNS_MAX_ANSWERS)
		return DNS_PARSE_OK;
	bool keep = (type == DNS_TYPE_A && rdlen == 4) || (type == DNS_TYPE_AAAA && rdlen == 16) ||
		    type == DNS_TYPE_CNAME;
	if (!keep)
		return DNS_PARSE_OK;

	struct dns_answer *a = &out->answers[out->n_answers];
	memset(&a->addr, 0, sizeof(a->addr));
	a->target[0] = '\0';
	a->type = type;
	a->ttl = ttl;
	memcpy(a->owner, owner, sizeof(owner));
	if (type == DNS_TYPE_A) {
		uint8_t b[4];
		cur_bytes(&rd, b, sizeof(b));
		fa_addr_v4(&a->addr, b);
	} else if (type == DNS_TYPE_AAAA) {
		uint8_t b[16];
		cur_bytes(&rd, b, sizeof(b));
		fa_addr_v6(&a->addr, b);
	} else {
		st = read_name(msg, msglen, &rd, a->target);
		/* the whole RDATA is present, so running off its end is a bad name */
		if (st != DNS_PARSE_OK)
			return DNS_PARSE_BAD_NAME;
	}
	out->n_answers++;
	return DNS_PARSE_OK;
}

enum dns_parse_status dns_parse(const uint8_t *data, size_t len, struct dns_message *out)
{
	struct cursor c = cur_make(data, len);
	out->id = 0;
	out->is_response = false;
	out->rcode = 0;
	out->qdcount = out->ancount = 0;
	out->qname[0] = '\0';
	out->qtype = 0;
	out->n_answers = 0;

	out->id = cur_be16(&c);
	uint16_t flags = cur_be16(&c);
	out->qdcount = cur_be16(&c);
	out->ancount = cur_be16(&c);
	cur_skip(&c, 4); /* NSCOUNT, ARCOUNT: those sections are not read */
	if (!cur_ok(&c))
		return DNS_PARSE_TRUNCATED;
	out->is_response = (flags & 0x8000) != 0;
	out->rcode = (uint8_t)(flags & 0x0F);
	unsigned opcode = (flags >> 11) & 0x0F;
	/* assigned opcodes: 0 query, 1 inverse query, 2 status, 4 notify, 5 update, 6 DSO */
	if (opcode == 3 || opcode > 6)
		return DNS_PARSE_NOT_DNS;

	char scratch[DNS_NAME_MAX] = "";
	for (unsigned i = 0; i < out->qdcount; i++) {
		enum dns_parse_status st = read_name(data, len, &c, i == 0 ? out->qname : scratch);
		if (st != DNS_PARSE_OK) {
			if (i == 0)
				out->qname[0] = '\0';
			return st;
		}
		uint16_t qtype = cur_be16(&c);
		cur_skip(&c, 2); /* QCLASS */
		if (!cur_ok(&c))
			return DNS_PARSE_TRUNCATED;
		if (i == 0)
			out->qtype = qtype;
	}
	for (unsigned i = 0; i < out->ancount; i++) {
		enum dns_parse_status st = read_answer(data, len, &c, out);
		if (st != DNS_PARSE_OK)
			return st;
	}
	return DNS_PARSE_OK;
}

/* ---- the name cache ---- */

#define NIL UINT32_MAX
#define CACHE_MAX_ADDRESSES (1u << 24)
#define CACHE_MAX_NAMES 64

struct seen {
	fa_time time;
	uint32_t file;
	uint64_t frame;
	uint64_t seq; /* insertion order: breaks ties between equal times */
};

struct name_rec {
	char *name;
	struct seen first, last;
};

struct entry {
	fa_addr addr;
	uint32_t hash;
	uint32_t prev, next; /* update order; head is the next to evict */
	uint32_t n_names;
};

struct dns_cache {
	struct dns_cache_limits lim;
	struct entry *ent;     /* cap_ent entries, n_ent in use */
	struct name_rec *recs; /* lim.max_names_per_addr per entry */
	size_t n_ent, cap_ent;
	uint32_t *slots; /* entry index + 1; 0 is empty */
	size_t mask;
	uint32_t head, tail;
	uint64_t seq;
	struct dns_cache_stats st;
};

static uint32_t addr_hash(const fa_addr *a)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ a->v;
	for (size_t i = 0; i < sizeof(a->b); i++) {
		h ^= a->b[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

struct dns_cache *dns_cache_new(const struct dns_cache_limits *limits)
{
	struct dns_cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->lim.max_addresses = 65536;
	c->lim.max_names_per_addr = 8;
	if (limits != NULL) {
		if (limits->max_addresses > 0)
			c->lim.max_addresses = limits->max_addresses;
		if (limits->max_names_per_addr > 0)
			c->lim.max_names_per_addr = limits->max_names_per_addr;
	}
	if (c->lim.max_addresses > CACHE_MAX_ADDRESSES)
		c->lim.max_addresses = CACHE_MAX_ADDRESSES;
	if (c->lim.max_names_per_addr > CACHE_MAX_NAMES)
		c->lim.max_names_per_addr = CACHE_MAX_NAMES;
	size_t nslots = 16;
	while (nslots < 2 * c->lim.max_addresses)
		nslots *= 2;
	c->slots = calloc(nslots, sizeof(*c->slots));
	if (c->slots == NULL) {
		free(c);
		return NULL;
	}
	c->mask = nslots - 1;
	c->head = c->tail = NIL;
	return c;
}

static struct name_rec *entry_recs(const struct dns_cache *c, size_t idx)
{
	return &c->recs[idx * c->lim.max_names_per_addr];
}

void dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_ent; i++) {
		struct name_rec *r = entry_recs(c, i);
		for (uint32_t k = 0; k < c->ent[i].n_names; k++)
			free(r[k].name);
	}
	free(c->recs);
	free(c->ent);
	free(c->slots);
	free(c);
}

/* Slot holding addr, or the empty slot where it would go. */
static size_t find_slot(const struct dns_cache *c, const fa_addr *addr, uint32_t h)
{
	size_t i = h & c->mask;
	while (c->slots[i] != 0) {
		const struct entry *e = &c->ent[c->slots[i] - 1];
		if (e->hash == h && fa_addr_eq(&e->addr, addr))
			break;
		i = (i + 1) & c->mask;
	}
	return i;
}

/* Backward-shift deletion keeps probe chains unbroken without tombstones. */
static void slot_remove(struct dns_cache *c, size_t i)
{
	c->slots[i] = 0;
	size_t j = i;
	for (;;) {
		j = (j + 1) & c->mask;
		if (c->slots[j] == 0)
			return;
		size_t k = c->ent[c->slots[j] - 1].hash & c->mask;
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		c->slots[i] = c->slots[j];
		c->slots[j] = 0;
		i = j;
	}
}

static void lru_unlink(struct dns_cache *c, uint32_t idx)
{
	struct entry *e = &c->ent[idx];
	if (e->prev != NIL)
		c->ent[e->prev].next = e->next;
	else
		c->head = e->next;
	if (e->next != NIL)
		c->ent[e->next].prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NIL;
}

static void lru_append(struct dns_cache *c, uint32_t idx)
{
	struct entry *e = &c->ent[idx];
	e->prev = c->tail;
	e->next = NIL;
	if (c->tail != NIL)
		c->ent[c->tail].next = idx;
	else
		c->head = idx;
	c->tail = idx;
}

static bool grow_pool(struct dns_cache *c)
{
	size_t cap = c->cap_ent ? c->cap_ent * 2 : 64;
	if (cap > c->lim.max_addresses)
		cap = c->lim.max_addresses;
	struct entry *ne = realloc(c->ent, cap * sizeof(*ne));
	if (ne == NULL)
		return false;
	c->ent = ne;
	struct name_rec *nr = realloc(c->recs, cap * c->lim.max_names_per_addr * sizeof(*nr));
	if (nr == NULL)
		return false;
	c->recs = nr;
	c->cap_ent = cap;
	return true;
}

/* Index of addr's entry, created (evicting the stalest when full) if absent. */
static uint32_t get_entry(struct dns_cache *c, const fa_addr *addr)
{
	uint32_t h = addr_hash(addr);
	size_t s = find_slot(c, addr, h);
	if (c->slots[s] != 0)
		return c->slots[s] - 1;

	uint32_t idx;
	if (c->n_ent < c->lim.max_addresses) {
		if (c->n_ent == c->cap_ent && !grow_pool(c))
			return NIL;
		idx = (uint32_t)c->n_ent++;
	} else {
		idx = c->head;
		struct entry *old = &c->ent[idx];
		struct name_rec *r = entry_recs(c, idx);
		for (uint32_t k = 0; k < old->n_names; k++)
			free(r[k].name);
		lru_unlink(c, idx);
		slot_remove(c, find_slot(c, &old->addr, old->hash));
		c->st.evicted_addresses++;
		s = find_slot(c, addr, h); /* the deletion may have moved slots */
	}
	struct entry *e = &c->ent[idx];
	e->addr = *addr;
	e->hash = h;
	e->n_names = 0;
	e->prev = e->next = NIL;
	c->slots[s] = idx + 1;
	lru_append(c, idx);
	return idx;
}

static void add_name(struct dns_cache *c, const fa_addr *addr, const char *name, fa_time t,
		     uint32_t file, uint64_t frame)
{
	if (addr == NULL || addr->v == 0 || name == NULL || name[0] == '\0')
		return;
	char norm[DNS_NAME_MAX];
	size_t n = strnlen(name, DNS_NAME_MAX - 1);
	memcpy(norm, name, n);
	norm[n] = '\0';
	fa_host_normalize(norm);
	if (norm[0] == '\0')
		return;

	uint32_t idx = get_entry(c, addr);
	if (idx == NIL)
		return;
	struct entry *e = &c->ent[idx];
	struct name_rec *r = entry_recs(c, idx);
	struct seen now = {t, file, frame, ++c->seq};

	lru_unlink(c, idx);
	lru_append(c, idx);
	for (uint32_t k = 0; k < e->n_names; k++) {
		if (strcmp(r[k].name, norm) != 0)
			continue;
		/* captures can be merged out of order: keep the true extremes */
		if (t < r[k].first.time)
			r[k].first = now;
		if (t >= r[k].last.time)
			r[k].last = now;
		return;
	}
	char *copy = strdup(norm);
	if (copy == NULL)
		return;
	uint32_t k = e->n_names;
	if (k == c->lim.max_names_per_addr) {
		/* full: the name answered least recently makes room */
		k = 0;
		for (uint32_t j = 1; j < e->n_names; j++)
			if (r[j].last.seq < r[k].last.seq)
				k = j;
		free(r[k].name);
		c->st.evicted_names++;
	} else {
		e->n_names++;
	}
	r[k].name = copy;
	r[k].first = now;
	r[k].last = now;
}

void dns_cache_add(struct dns_cache *c, const fa_addr *addr, const char *name, fa_time t,
		   uint32_t file, uint64_t frame)
{
	if (c == NULL)
		return;
	c->st.answers_added++;
	add_name(c, addr, name, t, file, frame);
}

void dns_cache_add_message(struct dns_cache *c, const struct dns_message *m, fa_time t,
			   uint32_t file, uint64_t frame)
{
	if (c == NULL || m == NULL)
		return;
	size_t na = m->n_answers < DNS_MAX_ANSWERS ? m->n_answers : DNS_MAX_ANSWERS;
	for (size_t i = 0; i < na; i++) {
		const struct dns_answer *a = &m->answers[i];
		if (a->type != DNS_TYPE_A && a->type != DNS_TYPE_AAAA)
			continue;
		c->st.answers_added++;
		/* walk back from the address record to the name that was asked */
		const char *cur = a->owner;
		add_name(c, &a->addr, cur, t, file, frame);
		bool reached = strcmp(cur, m->qname) == 0;
		for (size_t step = 0; step < na && !reached; step++) {
			const char *prev = NULL;
			for (size_t j = 0; j < na; j++) {
				const struct dns_answer *b = &m->answers[j];
				if (b->type == DNS_TYPE_CNAME && strcmp(b->target, cur) == 0) {
					prev = b->owner;
					break;
				}
			}
			if (prev == NULL)
				break;
			cur = prev;
			reached = strcmp(cur, m->qname) == 0;
			if (!reached)
				add_name(c, &a->addr, cur, t, file, frame);
		}
		/* the asked name goes in last, so it is the newest: the flow's name */
		if (reached)
			add_name(c, &a->addr, m->qname, t, file, frame);
	}
}

size_t dns_cache_lookup(const struct dns_cache *c, const fa_addr *addr, fa_time before,
			struct dns_name_ref *out, size_t max)
{
	if (c == NULL || addr == NULL || out == NULL || max == 0)
		return 0;
	uint32_t h = addr_hash(addr);
	size_t s = find_slot(c, addr, h);
	if (c->slots[s] == 0)
		return 0;
	uint32_t idx = c->slots[s] - 1;
	const struct entry *e = &c->ent[idx];
	const struct name_rec *r = entry_recs(c, idx);

	struct cand {
		const char *name;
		const struct seen *at;
	} cand[CACHE_MAX_NAMES] = {{0}};
	size_t n = 0;
	for (uint32_t k = 0; k < e->n_names; k++) {
		const struct seen *at = NULL;
		if (r[k].last.time <= before)
			at = &r[k].last;
		else if (r[k].first.time <= before)
			at = &r[k].first;
		if (at == NULL)
			continue;
		/* insertion sort: newest time first, then newest insertion */
		size_t j = n++;
		while (j > 0 && (cand[j - 1].at->time < at->time ||
				 (cand[j - 1].at->time == at->time && cand[j - 1].at->seq < at->seq))) {
			cand[j] = cand[j - 1];
			j--;
		}
		cand[j].name = r[k].name;
		cand[j].at = at;
	}
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		out[i].name = cand[i].name;
		out[i].time = cand[i].at->time;
		out[i].file = cand[i].at->file;
		out[i].frame = cand[i].at->frame;
	}
	return n;
}

void dns_cache_stats(const struct dns_cache *c, struct dns_cache_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	*out = c->st;
	out->addresses = c->n_ent;
}
