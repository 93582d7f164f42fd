/*
 * evidence_pass.c - one read of the captures for a batch of evidence sets.
 *
 * Receives the run's capture files, the flows (key and frame range, asked
 * of the caller in id order) and the sets of flow ids; hands each packet of
 * a wanted flow, once, to a sink (evidence_int.h) with the flow and the
 * sets that hold it. Owns, while the pass runs, the flows live at the
 * reading position and nothing else.
 *
 * Matching a packet: decode it, hash its 5-tuple the same way both
 * directions round, and check the flows with that key whose (file, frame)
 * range contains the packet. A flow belongs to few sets, so the per-packet
 * work is one decode and one short chain walk.
 */
#include "evidence_int.h"

#include "flowaudit/decode.h"

#include <stdlib.h>
#include <string.h>

static uint32_t key_hash(const fa_addr *a, uint16_t pa, const fa_addr *b, uint16_t pb,
			 uint8_t proto, uint16_t vlan)
{
	uint32_t ha = 2166136261u, hb = 2166136261u;
	for (int i = 0; i < 16; i++) {
		ha = (ha ^ a->b[i]) * 16777619u;
		hb = (hb ^ b->b[i]) * 16777619u;
	}
	ha = (ha ^ pa) * 16777619u;
	hb = (hb ^ pb) * 16777619u;
	return (ha + hb) ^ ((uint32_t)proto << 16) ^ vlan;
}

static bool flow_matches(const struct evidence_flow *f, const struct decoded_pkt *p, uint16_t vlan,
			 uint32_t file, uint64_t frame)
{
	if (f->proto != p->l4_proto || f->vlan != vlan)
		return false;
	bool fwd = f->cport == p->sport && f->sport == p->dport && fa_addr_eq(&f->cli, &p->src) &&
		   fa_addr_eq(&f->srv, &p->dst);
	bool rev = f->cport == p->dport && f->sport == p->sport && fa_addr_eq(&f->cli, &p->dst) &&
		   fa_addr_eq(&f->srv, &p->src);
	return (fwd || rev) && !ev_before(file, frame, f->file_first, f->frame_first) &&
	       !ev_before(f->file_last, f->frame_last, file, frame);
}

bool ev_frames_add(struct evidence_frames **arr, size_t *n, uint32_t file, uint64_t frame)
{
	struct evidence_frames *pf = NULL;
	for (size_t i = *n; pf == NULL && i-- > 0;) /* the last file is the likely one */
		if ((*arr)[i].file == file)
			pf = &(*arr)[i];
	if (pf == NULL) {
		struct evidence_frames *nw = realloc(*arr, (*n + 1) * sizeof(*nw));
		if (nw == NULL)
			return false;
		*arr = nw;
		pf = &nw[(*n)++];
		memset(pf, 0, sizeof(*pf));
		pf->file = file;
	}
	if (pf->cap - pf->len < 10) { /* room for one more, at most ten bytes */
		size_t nc = pf->cap ? pf->cap * 2 : 16;
		uint8_t *ne = realloc(pf->enc, nc);
		if (ne == NULL)
			return false;
		pf->enc = ne;
		pf->cap = nc;
	}
	uint64_t d = frame - pf->last; /* a pass reads each file in order: ascending */
	do {
		uint8_t b = d & 0x7f;
		d >>= 7;
		pf->enc[pf->len++] = (uint8_t)(b | (d ? 0x80 : 0));
	} while (d);
	pf->last = frame;
	pf->n++;
	return true;
}

bool evidence_frames_next(const struct evidence_frames *pf, size_t *pos, uint64_t *prev,
			  uint64_t *frame)
{
	uint64_t d = 0;
	for (unsigned shift = 0; *pos < pf->len && shift < 64; shift += 7) {
		uint8_t b = pf->enc[(*pos)++];
		d |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*prev += d;
			*frame = *prev;
			return true;
		}
	}
	return false;
}

/* ---- the flows of a batch, in id order: a merge of its sets' lists ---- */

struct merge_item {
	uint64_t id;
	size_t set; /* place of the set in the batch */
	size_t at;  /* the next of its ids */
};

struct merge {
	struct merge_item *heap;
	size_t n;
	const uint64_t **ids; /* per place: the set's ids, ascending */
	size_t *n_ids;
	uint64_t **owned;     /* per place: a sorted copy, for a list that was not */
	size_t places;
	size_t *group;        /* the places of the last flow taken */
	size_t n_group, cap_group;
};

static bool item_less(const struct merge_item *a, const struct merge_item *b)
{
	return a->id < b->id || (a->id == b->id && a->set < b->set);
}

static void sift_down(struct merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		if (l < m->n && item_less(&m->heap[l], &m->heap[min]))
			min = l;
		if (r < m->n && item_less(&m->heap[r], &m->heap[min]))
			min = r;
		if (min == i)
			return;
		struct merge_item t = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = t;
		i = min;
	}
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void merge_free(struct merge *m)
{
	for (size_t p = 0; m->owned && p < m->places; p++)
		free(m->owned[p]);
	free(m->owned);
	free(m->ids);
	free(m->n_ids);
	free(m->heap);
	free(m->group);
	memset(m, 0, sizeof(*m));
}

/* The merge of sets order[lo, hi): false without memory. */
static bool merge_open(struct merge *m, const struct evidence_set *sets, const size_t *order,
		       size_t lo, size_t hi)
{
	memset(m, 0, sizeof(*m));
	m->places = hi - lo;
	m->heap = malloc(m->places * sizeof(*m->heap));
	m->ids = calloc(m->places, sizeof(*m->ids));
	m->n_ids = calloc(m->places, sizeof(*m->n_ids));
	m->owned = calloc(m->places, sizeof(*m->owned));
	if (m->heap == NULL || m->ids == NULL || m->n_ids == NULL || m->owned == NULL)
		return false;
	for (size_t p = 0; p < m->places; p++) {
		const struct evidence_set *st = &sets[order[lo + p]];
		m->ids[p] = st->flow_ids;
		m->n_ids[p] = st->n_flow_ids;
		bool ascending = true;
		for (size_t k = 1; ascending && k < st->n_flow_ids; k++)
			ascending = st->flow_ids[k - 1] <= st->flow_ids[k];
		if (!ascending) { /* flows in the order they ended (a live capture) */
			m->owned[p] = malloc(st->n_flow_ids * sizeof(uint64_t));
			if (m->owned[p] == NULL)
				return false;
			memcpy(m->owned[p], st->flow_ids, st->n_flow_ids * sizeof(uint64_t));
			qsort(m->owned[p], st->n_flow_ids, sizeof(uint64_t), u64_cmp);
			m->ids[p] = m->owned[p];
		}
		if (m->n_ids[p] > 0)
			m->heap[m->n++] = (struct merge_item){m->ids[p][0], p, 1};
	}
	for (size_t i = m->n / 2; i-- > 0;)
		sift_down(m, i);
	return true;
}

/* The next flow id of the batch into *id, with the places of the sets that
   hold it in m->group. False when none is left, or without memory (*oom). */
static bool merge_next(struct merge *m, uint64_t *id, bool *oom)
{
	if (m->n == 0)
		return false;
	*id = m->heap[0].id;
	m->n_group = 0;
	while (m->n > 0 && m->heap[0].id == *id) {
		struct merge_item *top = &m->heap[0];
		if (m->n_group == 0 || m->group[m->n_group - 1] != top->set) {
			if (m->n_group == m->cap_group) {
				size_t nc = m->cap_group ? 2 * m->cap_group : 8;
				size_t *ng = realloc(m->group, nc * sizeof(*ng));
				if (ng == NULL) {
					*oom = true;
					return false;
				}
				m->group = ng;
				m->cap_group = nc;
			}
			m->group[m->n_group++] = top->set;
		}
		if (top->at < m->n_ids[top->set])
			top->id = m->ids[top->set][top->at++];
		else
			m->heap[0] = m->heap[--m->n];
		sift_down(m, 0);
	}
	return true;
}

/* ---- the flows live at the reading position ---- */

#define ACTIVE_BUCKETS 65536u
#define SWEEP_EVERY 4096u

struct active_table {
	struct ev_active *bucket[ACTIVE_BUCKETS];
	struct ev_active *all;
	size_t n;
};

static struct ev_active *active_add(struct active_table *t, const struct evidence_flow *f,
				    const size_t *sets, size_t n_sets)
{
	struct ev_active *a = malloc(sizeof(*a));
	size_t *s = malloc((n_sets ? n_sets : 1) * sizeof(*s));
	if (a == NULL || s == NULL) {
		free(a);
		free(s);
		return NULL;
	}
	memcpy(s, sets, n_sets * sizeof(*s));
	*a = (struct ev_active){.f = *f, .sets = s, .n_sets = n_sets};
	a->hash = key_hash(&f->cli, f->cport, &f->srv, f->sport, f->proto, f->vlan);
	struct ev_active **b = &t->bucket[a->hash & (ACTIVE_BUCKETS - 1)];
	a->next = *b;
	*b = a;
	a->next_all = t->all;
	if (t->all)
		t->all->prev_all = a;
	t->all = a;
	t->n++;
	return a;
}

/* Drops the flows whose last frame is before (file, frame); every one with
   at_end. */
static void active_sweep(struct active_table *t, uint32_t file, uint64_t frame, bool at_end)
{
	for (struct ev_active *a = t->all, *nx; a != NULL; a = nx) {
		nx = a->next_all;
		if (!at_end && !ev_before(a->f.file_last, a->f.frame_last, file, frame))
			continue;
		struct ev_active **b = &t->bucket[a->hash & (ACTIVE_BUCKETS - 1)];
		while (*b != a)
			b = &(*b)->next;
		*b = a->next;
		if (a->prev_all)
			a->prev_all->next_all = a->next_all;
		else
			t->all = a->next_all;
		if (a->next_all)
			a->next_all->prev_all = a->prev_all;
		free(a->sets);
		free(a->extra);
		free(a);
		t->n--;
	}
}

/* ---- a walk over the frames ---- */

bool ev_walk_open(struct ev_walk *w)
{
	w->t = calloc(1, sizeof(*w->t));
	w->since_sweep = 0;
	return w->t != NULL;
}

void ev_walk_close(struct ev_walk *w)
{
	if (w->t != NULL) {
		active_sweep(w->t, 0, 0, true);
		free(w->t);
	}
	w->t = NULL;
}

bool ev_walk_add(struct ev_walk *w, const struct evidence_flow *f, const size_t *places, size_t n,
		 const struct ev_sink *sink, const struct evidence_set *sets, const size_t *order,
		 size_t lo)
{
	struct ev_active *a = active_add(w->t, f, places, n);
	return a != NULL && (sink->start == NULL || sink->start(sink->ctx, sets, order, lo, a));
}

bool ev_walk_tick(struct ev_walk *w, uint32_t file, uint64_t frame)
{
	if (++w->since_sweep < SWEEP_EVERY)
		return false;
	w->since_sweep = 0;
	active_sweep(w->t, file, frame, false);
	return w->t->n == 0;
}

int ev_walk_frame(struct ev_walk *w, const struct source_frame *fr, const struct ev_sink *sink,
		  struct evidence_set *sets, const size_t *order, size_t lo, struct fa_err *err)
{
	struct decoded_pkt d;
	enum decode_result dr = decode_frame(fr->linktype, fr->data, fr->caplen, &d, NULL);
	if (dr != DECODE_OK && dr != DECODE_OTHER_L4)
		return FA_OK;
	uint16_t vlan = d.vlan_count ? d.vlan[0] : 0;
	uint32_t kh = key_hash(&d.src, d.sport, &d.dst, d.dport, d.l4_proto, vlan);
	for (struct ev_active *a = w->t->bucket[kh & (ACTIVE_BUCKETS - 1)]; a != NULL; a = a->next)
		if (a->hash == kh && flow_matches(&a->f, &d, vlan, fr->file, fr->frame))
			return sink->packet(sink->ctx, sets, order, lo, fr, a, err);
	return FA_OK;
}

/*
 * Flows come from get_flow in id order, which is the order of their first
 * frames, and each is taken in just before its first frame and dropped
 * after its last: what the pass holds is the flows live at the reading
 * position, never every flow of the capture. The pass stops once no flow
 * is left to come.
 */
int ev_pass(struct source *src, evidence_flow_fn get_flow, void *user, struct evidence_set *sets,
	    const size_t *order, size_t lo, size_t hi, const struct ev_sink *sink,
	    struct fa_err *err)
{
	struct merge m;
	struct ev_walk w;
	memset(&m, 0, sizeof(m));
	if (!ev_walk_open(&w) || !merge_open(&m, sets, order, lo, hi)) {
		ev_walk_close(&w);
		merge_free(&m);
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	int rc = FA_OK;
	bool oom = false, have = false;
	struct evidence_flow next;
	uint64_t id;
	/* the next flow to come, with its sets in m.group */
	for (; !have && merge_next(&m, &id, &oom);)
		have = get_flow(id, &next, user);
	struct source_frame fr;
	while (!oom && (rc = source_next(src, &fr, err)) == 1) {
		while (have && !ev_before(fr.file, fr.frame, next.file_first, next.frame_first)) {
			if (!ev_walk_add(&w, &next, m.group, m.n_group, sink, sets, order, lo)) {
				oom = true;
				break;
			}
			for (have = false; !have && merge_next(&m, &id, &oom);)
				have = get_flow(id, &next, user);
		}
		if (oom || (ev_walk_tick(&w, fr.file, fr.frame) && !have))
			break; /* every flow of the batch is past */
		rc = ev_walk_frame(&w, &fr, sink, sets, order, lo, err);
		if (rc != FA_OK && rc != 1)
			break;
	}
	ev_walk_close(&w);
	merge_free(&m);
	if (oom) {
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	return rc < 0 ? rc : FA_OK;
}
