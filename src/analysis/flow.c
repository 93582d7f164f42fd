/*
 * flow.c - a hash table of bidirectional flows with per-class LRU lists.
 *
 * Receives decoded packets; hands each its flow and direction; ends flows
 * through the caller's callback. Owns the flows (pooled) and the buckets.
 *
 * Workload: millions of packets, up to max_flows live flows. A lookup is one
 * symmetric hash and a short chain walk. Each flow sits on one of four LRU
 * lists (TCP, UDP, other, closed), each with a single timeout, so the list
 * head is always the next to expire and flow_table_expire() costs O(1) when
 * nothing is due. Buckets double when live flows outnumber them; flows come
 * from 1024-flow chunks and return to a free list, so the hot path does not
 * call malloc once the table is warm.
 */
#include "flowaudit/flow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

enum { LRU_TCP = 0, LRU_UDP, LRU_OTHER, LRU_CLOSED, LRU_COUNT };

#define CHUNK 1024

struct chunk {
	struct chunk *next;
	struct flow flows[CHUNK];
};

struct lru {
	struct flow *head, *tail;
};

struct flow_table {
	struct flow_table_cfg cfg;
	flow_end_cb cb;
	void *user;
	struct flow **buckets;
	size_t n_buckets;
	struct lru lru[LRU_COUNT];
	fa_time timeout[LRU_COUNT];
	/* no flow is due before this: at most the earliest of the heads'
	   last + timeout, so most calls of flow_table_expire() look at none */
	fa_time next_due;
	struct chunk *chunks;
	struct flow *free_list;
	struct flow *oldest, *newest; /* the live flows by creation */
	uint64_t next_id;
	struct flow_table_stats st;
};

const char *flow_end_reason_name(enum flow_end_reason r)
{
	switch (r) {
	case FLOW_END_IDLE: return "idle";
	case FLOW_END_CLOSED: return "closed";
	case FLOW_END_EVICTED: return "evicted";
	case FLOW_END_FLUSH: return "end_of_input";
	}
	return "idle";
}

void flow_table_cfg_default(struct flow_table_cfg *cfg)
{
	cfg->max_flows = 262144;
	cfg->tcp_idle = 300 * (fa_time)1000000;
	cfg->udp_idle = 60 * (fa_time)1000000;
	cfg->other_idle = 30 * (fa_time)1000000;
	cfg->closed_linger = 2 * (fa_time)1000000;
}

struct flow_table *flow_table_new(const struct flow_table_cfg *cfg, flow_end_cb cb, void *user)
{
	struct flow_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	if (cfg != NULL)
		t->cfg = *cfg;
	else
		flow_table_cfg_default(&t->cfg);
	if (t->cfg.max_flows == 0)
		t->cfg.max_flows = 1;
	t->cb = cb;
	t->user = user;
	t->n_buckets = 4096;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	t->timeout[LRU_TCP] = t->cfg.tcp_idle;
	t->timeout[LRU_UDP] = t->cfg.udp_idle;
	t->timeout[LRU_OTHER] = t->cfg.other_idle;
	t->timeout[LRU_CLOSED] = t->cfg.closed_linger;
	t->next_id = 1;
	return t;
}

void flow_table_free(struct flow_table *t)
{
	if (t == NULL)
		return;
	struct chunk *c = t->chunks;
	while (c != NULL) {
		struct chunk *n = c->next;
		free(c);
		c = n;
	}
	free(t->buckets);
	free(t);
}

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x9e3779b1u;
	return h ^ (h >> 15);
}

/* The sum of the address's four 32-bit words, read in network order. */
static uint32_t addr_hash(const fa_addr *a)
{
	uint32_t h = 0;
	for (int i = 0; i < 16; i += 4) {
		uint32_t w;
		memcpy(&w, a->b + i, 4);
		h += ntohl(w);
	}
	return h;
}

/* Symmetric: the same for both directions of a conversation. */
static uint32_t flow_hash(const fa_addr *a, uint16_t pa, const fa_addr *b, uint16_t pb,
			  uint8_t proto, uint16_t vlan)
{
	uint32_t ea = mix(addr_hash(a), pa), eb = mix(addr_hash(b), pb);
	uint32_t h = mix(ea + eb, (ea ^ eb));
	return mix(h, ((uint32_t)proto << 16) | vlan);
}

/* A new head of list `which`: it may be due before next_due. */
static void new_head(struct flow_table *t, const struct flow *f, uint8_t which)
{
	if (f != NULL && f->last + t->timeout[which] < t->next_due)
		t->next_due = f->last + t->timeout[which];
}

static void lru_unlink(struct flow_table *t, struct flow *f)
{
	struct lru *l = &t->lru[f->lru];
	if (f->prev) {
		f->prev->next = f->next;
	} else {
		l->head = f->next;
		new_head(t, l->head, f->lru);
	}
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
}

static void lru_append(struct flow_table *t, struct flow *f, uint8_t which)
{
	struct lru *l = &t->lru[which];
	f->lru = which;
	f->next = NULL;
	f->prev = l->tail;
	if (l->tail) {
		l->tail->next = f;
	} else {
		l->head = f;
		new_head(t, f, which);
	}
	l->tail = f;
}

static void bucket_unlink(struct flow_table *t, struct flow *f)
{
	struct flow **pp = &t->buckets[f->hash & (t->n_buckets - 1)];
	while (*pp != NULL && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp == f)
		*pp = f->hnext;
	f->hnext = NULL;
}

static void end_flow(struct flow_table *t, struct flow *f, enum flow_end_reason why)
{
	lru_unlink(t, f);
	bucket_unlink(t, f);
	if (f->older)
		f->older->newer = f->newer;
	else
		t->oldest = f->newer;
	if (f->newer)
		f->newer->older = f->older;
	else
		t->newest = f->older;
	t->st.live--;
	switch (why) {
	case FLOW_END_IDLE: t->st.ended_idle++; break;
	case FLOW_END_CLOSED: t->st.ended_closed++; break;
	case FLOW_END_EVICTED: t->st.evicted++; break;
	case FLOW_END_FLUSH: t->st.flushed++; break;
	}
	if (t->cb)
		t->cb(f, why, t->user);
	f->ext = NULL;
	f->hnext = t->free_list;
	t->free_list = f;
}

static struct flow *flow_alloc(struct flow_table *t)
{
	if (t->free_list == NULL) {
		struct chunk *c = malloc(sizeof(*c));
		if (c == NULL)
			return NULL;
		c->next = t->chunks;
		t->chunks = c;
		for (size_t i = 0; i < CHUNK; i++) {
			c->flows[i].hnext = t->free_list;
			t->free_list = &c->flows[i];
		}
	}
	struct flow *f = t->free_list;
	t->free_list = f->hnext;
	memset(f, 0, sizeof(*f));
	return f;
}

static void grow_buckets(struct flow_table *t)
{
	size_t n = t->n_buckets * 2;
	struct flow **nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct flow *f = t->buckets[i];
		while (f != NULL) {
			struct flow *next = f->hnext;
			size_t j = f->hash & (n - 1);
			f->hnext = nb[j];
			nb[j] = f;
			f = next;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->n_buckets = n;
}

static uint8_t lru_class(const struct flow *f)
{
	if (f->rst || (f->fin[0] && f->fin[1]))
		return LRU_CLOSED;
	if (f->proto == IPPROTO_TCP)
		return LRU_TCP;
	if (f->proto == IPPROTO_UDP)
		return LRU_UDP;
	return LRU_OTHER;
}

/* Did the first packet we saw come from the server? */
static bool first_packet_from_server(const struct decoded_pkt *p)
{
	if (p->l4_proto == IPPROTO_TCP) {
		if ((p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
			return true;
		if (p->tcp_flags & TCP_SYN)
			return false;
	}
	if (p->l4_proto == IPPROTO_TCP || p->l4_proto == IPPROTO_UDP)
		return p->sport < 1024 && p->dport >= 1024;
	return false;
}

static struct flow *lookup(struct flow_table *t, const struct decoded_pkt *p, uint32_t h,
			   uint16_t vlan, int *dir)
{
	for (struct flow *f = t->buckets[h & (t->n_buckets - 1)]; f != NULL; f = f->hnext) {
		if (f->hash != h || f->proto != p->l4_proto || f->vlan != vlan)
			continue;
		if (f->cport == p->sport && f->sport == p->dport && fa_addr_eq(&f->cli, &p->src) &&
		    fa_addr_eq(&f->srv, &p->dst)) {
			*dir = FLOW_OUT;
			return f;
		}
		if (f->cport == p->dport && f->sport == p->sport && fa_addr_eq(&f->cli, &p->dst) &&
		    fa_addr_eq(&f->srv, &p->src)) {
			*dir = FLOW_IN;
			return f;
		}
	}
	return NULL;
}

struct flow *flow_table_packet(struct flow_table *t, const struct decoded_pkt *p, fa_time ts,
			       uint32_t file, uint64_t frame, int *dir)
{
	uint16_t vlan = p->vlan_count ? p->vlan[0] : 0;
	uint32_t h = flow_hash(&p->src, p->sport, &p->dst, p->dport, p->l4_proto, vlan);
	struct flow *f = lookup(t, p, h, vlan, dir);

	/* A new SYN on a finished connection starts a new flow. */
	if (f != NULL && f->lru == LRU_CLOSED && p->l4_proto == IPPROTO_TCP &&
	    (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		end_flow(t, f, FLOW_END_CLOSED);
		f = NULL;
	}
	if (f == NULL) {
		if (t->st.live >= t->cfg.max_flows) {
			/* the least recently seen flow of any class goes */
			struct flow *victim = NULL;
			for (int i = 0; i < LRU_COUNT; i++) {
				struct flow *c = t->lru[i].head;
				if (c != NULL && (victim == NULL || c->last < victim->last))
					victim = c;
			}
			if (victim != NULL)
				end_flow(t, victim, FLOW_END_EVICTED);
		}
		f = flow_alloc(t);
		if (f == NULL)
			return NULL;
		bool swap = first_packet_from_server(p);
		f->id = t->next_id++;
		f->proto = p->l4_proto;
		f->ipver = p->ip_version;
		f->vlan = vlan;
		f->hash = h;
		f->cli = swap ? p->dst : p->src;
		f->srv = swap ? p->src : p->dst;
		f->cport = swap ? p->dport : p->sport;
		f->sport = swap ? p->sport : p->dport;
		if (p->has_mac) {
			f->has_mac = true;
			memcpy(f->cli_mac, swap ? p->dst_mac : p->src_mac, 6);
			memcpy(f->srv_mac, swap ? p->src_mac : p->dst_mac, 6);
		}
		f->first = ts;
		f->file = file;
		f->first_frame = frame;
		f->older = t->newest;
		if (t->newest)
			t->newest->newer = f;
		else
			t->oldest = f;
		t->newest = f;
		*dir = swap ? FLOW_IN : FLOW_OUT;
		size_t b = h & (t->n_buckets - 1);
		f->hnext = t->buckets[b];
		t->buckets[b] = f;
		lru_append(t, f, lru_class(f));
		t->st.created++;
		t->st.live++;
		if (t->st.live > t->st.peak_live)
			t->st.peak_live = t->st.live;
		if (t->st.live > t->n_buckets)
			grow_buckets(t);
	}
	int d = *dir;
	f->pkts[d]++;
	f->bytes[d] += p->ip_len;
	if (ts > f->last)
		f->last = ts;
	f->last_frame = frame;
	f->last_file = file;
	if (p->l4_proto == IPPROTO_TCP) {
		f->tcp_flags[d] |= p->tcp_flags;
		if (p->tcp_flags & TCP_FIN)
			f->fin[d] = true;
		if (p->tcp_flags & TCP_RST)
			f->rst = true;
	}
	/* to the tail of its list; most packets find their flow there already */
	uint8_t cls = lru_class(f);
	if (cls != f->lru || t->lru[cls].tail != f) {
		lru_unlink(t, f);
		lru_append(t, f, cls);
	}
	return f;
}

void flow_table_expire(struct flow_table *t, fa_time now)
{
	if (now <= t->next_due)
		return;
	for (int i = 0; i < LRU_COUNT; i++) {
		struct flow *f;
		while ((f = t->lru[i].head) != NULL && f->last + t->timeout[i] < now)
			end_flow(t, f, i == LRU_CLOSED ? FLOW_END_CLOSED : FLOW_END_IDLE);
	}
	t->next_due = INT64_MAX;
	for (int i = 0; i < LRU_COUNT; i++)
		new_head(t, t->lru[i].head, (uint8_t)i);
}

const struct flow *flow_table_oldest(const struct flow_table *t) { return t->oldest; }

void flow_table_flush(struct flow_table *t)
{
	/* oldest first, so callbacks see flows in the order they went quiet */
	for (;;) {
		struct flow *victim = NULL;
		for (int i = 0; i < LRU_COUNT; i++) {
			struct flow *c = t->lru[i].head;
			if (c != NULL && (victim == NULL || c->last < victim->last))
				victim = c;
		}
		if (victim == NULL)
			break;
		end_flow(t, victim, FLOW_END_FLUSH);
	}
}

void flow_table_stats(const struct flow_table *t, struct flow_table_stats *out)
{
	*out = t->st;
}
