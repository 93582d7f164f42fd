/*
 * evidence.c - one pcap per finding, holding exactly its flows' packets.
 *
 * Receives the run's capture files, the flows (key and frame range) and the
 * sets of flow ids; re-reads the captures once per batch of sets and copies
 * each matching packet, byte for byte with its original timestamp, into the
 * set's file: a pcap through libpcap, or for a set with TLS key log lines a
 * pcapng whose Decryption Secrets Block carries them (pcapng.c writes its
 * blocks). Hands on the frame numbers each set holds. Owns those arrays.
 *
 * Matching a packet: decode it, hash its 5-tuple the same way both
 * directions round, and check the flows with that key whose (file, frame)
 * range contains the packet. A flow belongs to few sets, so the per-packet
 * work is one decode and one short chain walk.
 */
#include "flowaudit/evidence.h"

#include "flowaudit/decode.h"
#include "flowaudit/pcapng.h"
#include "flowaudit/source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_MAX 16384 /* sets written per pass: bounds open files and buffers */
#define BUF_BUDGET (16u << 20) /* the stream buffers of a pass together */
#define BUF_MIN 1024
#define BUF_MAX 8192
#define MAX_DEAD 16 /* link types per run with a pcap header prepared */
#define FD_SPARE 64     /* descriptors left for everything else */
#define MAX_LINKS 4    /* link types per set (NAME.pcap, NAME-2.pcap, ...) */

/* The hash of a set's flows, with the set (to find sets of the same flows). */
struct pair {
	uint64_t key;
	size_t set;
};

struct writer {
	int linktype[MAX_LINKS];
	pcap_dumper_t *d[MAX_LINKS]; /* a pcap, or ... */
	FILE *ng[MAX_LINKS];         /* ... a pcapng, for a set with TLS secrets */
	char *buf[MAX_LINKS];
	size_t n;
};

/* What the writers of a pass share: one pcap header per link type, and the
   size of each stream's buffer (the budget over the pass's sets, so that a
   pass of many sets holds no more memory than one of a few). */
struct writers {
	pcap_t *dead[MAX_DEAD];
	int dead_linktype[MAX_DEAD];
	size_t n_dead;
	size_t bufsize;
};

static pcap_t *dead_for(struct writers *ws, int linktype)
{
	for (size_t i = 0; i < ws->n_dead; i++)
		if (ws->dead_linktype[i] == linktype)
			return ws->dead[i];
	if (ws->n_dead == MAX_DEAD)
		return NULL;
	/* nanosecond pcap: every capture's time stamps go in exactly as they were */
	pcap_t *p = pcap_open_dead_with_tstamp_precision(linktype, 262144, PCAP_TSTAMP_PRECISION_NANO);
	if (p != NULL) {
		ws->dead[ws->n_dead] = p;
		ws->dead_linktype[ws->n_dead++] = linktype;
	}
	return p;
}

static void writers_free(struct writers *ws)
{
	for (size_t i = 0; i < ws->n_dead; i++)
		pcap_close(ws->dead[i]);
	ws->n_dead = 0;
}

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

/* Whether capture position (file_a, frame_a) comes before (file_b, frame_b). */
static bool before(uint32_t file_a, uint64_t frame_a, uint32_t file_b, uint64_t frame_b)
{
	return file_a < file_b || (file_a == file_b && frame_a < frame_b);
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
	return (fwd || rev) && !before(file, frame, f->file_first, f->frame_first) &&
	       !before(f->file_last, f->frame_last, file, frame);
}

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->set < y->set ? -1 : x->set > y->set;
}

static bool add_frame(struct evidence_set *s, uint32_t file, uint64_t frame)
{
	struct evidence_frames *pf = NULL;
	for (size_t i = 0; i < s->n_per_file; i++)
		if (s->per_file[i].file == file)
			pf = &s->per_file[i];
	if (pf == NULL) {
		struct evidence_frames *n = realloc(s->per_file, (s->n_per_file + 1) * sizeof(*n));
		if (n == NULL)
			return false;
		s->per_file = n;
		pf = &s->per_file[s->n_per_file++];
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
	s->packets++;
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

/* The file name of a set's k-th file: pcapng when it carries TLS secrets. */
static void file_name(const struct evidence_set *s, size_t k, char *name, size_t n)
{
	const char *ext = s->tls_keys_len ? "pcapng" : "pcap";
	if (k == 0)
		snprintf(name, n, "%s.%s", s->name, ext);
	else
		snprintf(name, n, "%s-%zu.%s", s->name, k + 1, ext);
}

/* The index of the file of set s for linktype in w, opened on first use; -1
   with err set when it cannot be. */
static int writer_get(struct writers *ws, struct writer *w, struct evidence_set *s, int linktype,
		      const char *dir, struct fa_err *err)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->linktype[i] == linktype)
			return (int)i;
	char name[64], path[4200];
	size_t i = w->n;
	file_name(s, i, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (w->n == MAX_LINKS) {
		fa_err_set(err, "%s: the flows of %s span more than %d link types", path, s->name,
			   MAX_LINKS);
		return -1;
	}
	pcap_t *dead = s->tls_keys_len ? NULL : dead_for(ws, linktype);
	if (dead == NULL && s->tls_keys_len == 0) {
		fa_err_set(err, "%s: cannot prepare pcap writer", path);
		return -1;
	}
	FILE *fp = fopen(path, "wb");
	char *buf = fp ? malloc(ws->bufsize) : NULL;
	if (buf != NULL)
		setvbuf(fp, buf, _IOFBF, ws->bufsize);
	bool ok = fp && buf;
	if (ok && s->tls_keys_len) {
		ok = pcapng_put_evidence_head(fp, linktype, s->tls_keys, s->tls_keys_len) == FA_OK;
		w->ng[i] = ok ? fp : NULL;
		w->d[i] = NULL;
	} else if (ok) {
		w->d[i] = pcap_dump_fopen(dead, fp);
		w->ng[i] = NULL;
		ok = w->d[i] != NULL;
	}
	if (!ok) {
		const char *why = fp == NULL	     ? strerror(errno)
				  : buf == NULL	     ? "out of memory"
				  : s->tls_keys_len ? strerror(errno)
						     : pcap_geterr(dead);
		fa_err_set(err, "%s: cannot write: %s", path, why);
		if (fp != NULL)
			fclose(fp);
		free(buf);
		return -1;
	}
	w->buf[i] = buf;
	w->linktype[i] = linktype;
	w->n++;
	snprintf(s->paths[s->n_paths++], sizeof(s->paths[0]), "%s", name);
	return (int)i;
}

/* One frame into file i of w. */
static bool writer_put(struct writer *w, int i, const struct source_frame *fr)
{
	if (w->ng[i] != NULL)
		return pcapng_put_evidence_packet(w->ng[i], fr->ts_sec * 1000000000ull + fr->ts_nsec,
						  fr->data, fr->caplen, fr->wirelen) == FA_OK;
	struct pcap_pkthdr h = {
		.ts = {.tv_sec = (time_t)fr->ts_sec, .tv_usec = (suseconds_t)fr->ts_nsec},
		.caplen = fr->caplen,
		.len = fr->wirelen,
	};
	pcap_dump((u_char *)w->d[i], &h, fr->data);
	return true;
}

static int writer_close(struct writer *w, struct fa_err *err)
{
	int rc = FA_OK;
	for (size_t i = 0; i < w->n; i++) {
		bool failed;
		if (w->ng[i] != NULL) {
			failed = ferror(w->ng[i]) != 0;
			failed |= fclose(w->ng[i]) != 0;
		} else {
			failed = pcap_dump_flush(w->d[i]) != 0;
			pcap_dump_close(w->d[i]);
		}
		if (failed && rc == FA_OK) {
			fa_err_set(err, "evidence file: write failed: %s", strerror(errno));
			rc = FA_ERUNTIME;
		}
		free(w->buf[i]);
	}
	w->n = 0;
	return rc;
}

/*
 * Sets per pass: as many as the descriptor limit allows (raised to its
 * hard ceiling first), at most BATCH_MAX. A set holds a file open per
 * link type its packets come in, so each takes as many descriptors as
 * the captures have link types (one per pcap file, one per interface of a
 * pcapng). Fewer sets a
 * pass means more passes over the captures; each pass stops after the last
 * frame it needs.
 */
static size_t batch_size(size_t per_set)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	rlim_t want = per_set * BATCH_MAX + FD_SPARE;
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return BATCH_MAX;
	if (rl.rlim_cur <= FD_SPARE + per_set)
		return 1;
	return (size_t)(rl.rlim_cur - FD_SPARE) / per_set;
}

/* The distinct link types of the captures (at least 1, at most MAX_LINKS):
   of every pcap file, and of every interface a pcapng describes before its
   first packet (Wireshark, dumpcap and mergecap describe all of them there). */
static size_t link_types(const struct source *src)
{
	int seen[MAX_LINKS];
	size_t n = 0;
	for (size_t i = 0; i < source_file_count(src) && n < MAX_LINKS; i++) {
		const struct source_file_info *fi = source_file(src, i);
		for (size_t l = 0; l < fi->n_links && n < MAX_LINKS; l++) {
			int lt = fi->links[l].linktype;
			size_t k = 0;
			while (k < n && seen[k] != lt)
				k++;
			if (k == n)
				seen[n++] = lt;
		}
	}
	return n ? n : 1;
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

struct active {
	struct evidence_flow f;
	uint32_t hash;
	size_t *sets; /* places in the batch */
	size_t n_sets;
	struct active *next;          /* in its bucket */
	struct active *prev_all, *next_all;
};

struct active_table {
	struct active *bucket[ACTIVE_BUCKETS];
	struct active *all;
	size_t n;
};

static bool active_add(struct active_table *t, const struct evidence_flow *f, const size_t *sets,
		       size_t n_sets)
{
	struct active *a = malloc(sizeof(*a));
	size_t *s = malloc((n_sets ? n_sets : 1) * sizeof(*s));
	if (a == NULL || s == NULL) {
		free(a);
		free(s);
		return false;
	}
	memcpy(s, sets, n_sets * sizeof(*s));
	*a = (struct active){.f = *f, .sets = s, .n_sets = n_sets};
	a->hash = key_hash(&f->cli, f->cport, &f->srv, f->sport, f->proto, f->vlan);
	struct active **b = &t->bucket[a->hash & (ACTIVE_BUCKETS - 1)];
	a->next = *b;
	*b = a;
	a->next_all = t->all;
	if (t->all)
		t->all->prev_all = a;
	t->all = a;
	t->n++;
	return true;
}

/* Drops the flows whose last frame is before (file, frame); every one with
   at_end. */
static void active_sweep(struct active_table *t, uint32_t file, uint64_t frame, bool at_end)
{
	for (struct active *a = t->all, *nx; a != NULL; a = nx) {
		nx = a->next_all;
		if (!at_end && !before(a->f.file_last, a->f.frame_last, file, frame))
			continue;
		struct active **b = &t->bucket[a->hash & (ACTIVE_BUCKETS - 1)];
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
		free(a);
		t->n--;
	}
}

/*
 * One pass over the captures for the sets order[lo, hi). Flows come from
 * get_flow in id order, which is the order of their first frames, and each
 * is taken in just before its first frame and dropped after its last: what
 * the pass holds is the flows live at the reading position, never every
 * flow of the capture. The pass stops once no flow is left to come. src
 * is freshly opened; the caller frees it.
 */
static int one_pass(struct source *src, evidence_flow_fn get_flow, void *user,
		    struct evidence_set *sets, const size_t *order, size_t lo, size_t hi,
		    struct writers *ws, struct writer *w, const char *dir, struct fa_err *err)
{
	struct merge m;
	struct active_table *t = calloc(1, sizeof(*t));
	if (t == NULL || !merge_open(&m, sets, order, lo, hi)) {
		free(t);
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
	unsigned since_sweep = 0;
	while (!oom && (rc = source_next(src, &fr, err)) == 1) {
		while (have && !before(fr.file, fr.frame, next.file_first, next.frame_first)) {
			if (!active_add(t, &next, m.group, m.n_group)) {
				oom = true;
				break;
			}
			for (have = false; !have && merge_next(&m, &id, &oom);)
				have = get_flow(id, &next, user);
		}
		if (++since_sweep == SWEEP_EVERY) {
			since_sweep = 0;
			active_sweep(t, fr.file, fr.frame, false);
			if (!have && t->n == 0)
				break; /* every flow of the batch is past */
		}
		struct decoded_pkt d;
		enum decode_result dr = decode_frame(fr.linktype, fr.data, fr.caplen, &d, NULL);
		if (dr != DECODE_OK && dr != DECODE_OTHER_L4)
			continue;
		uint16_t vlan = d.vlan_count ? d.vlan[0] : 0;
		uint32_t kh = key_hash(&d.src, d.sport, &d.dst, d.dport, d.l4_proto, vlan);
		for (struct active *a = t->bucket[kh & (ACTIVE_BUCKETS - 1)]; a != NULL; a = a->next) {
			if (a->hash != kh || !flow_matches(&a->f, &d, vlan, fr.file, fr.frame))
				continue;
			for (size_t k = 0; k < a->n_sets; k++) {
				struct evidence_set *st = &sets[order[lo + a->sets[k]]];
				struct writer *wk = &w[a->sets[k]];
				int fi = writer_get(ws, wk, st, fr.linktype, dir, err);
				if (fi < 0) {
					rc = FA_ERUNTIME;
					goto out;
				}
				if (!writer_put(wk, fi, &fr)) {
					fa_err_set(err, "%s: write failed: %s", st->paths[fi],
						   strerror(errno));
					rc = FA_ERUNTIME;
					goto out;
				}
				if (!add_frame(st, fr.file, fr.frame)) {
					oom = true;
					goto out;
				}
			}
			break;
		}
	}
out:
	active_sweep(t, 0, 0, true);
	free(t);
	merge_free(&m);
	if (oom) {
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	return rc < 0 ? rc : FA_OK;
}

static int write_sets(const char *const *captures, size_t n_captures, evidence_flow_fn get_flow,
		      void *user, struct evidence_set *sets, const size_t *order, size_t n_own,
		      const char *dir, struct fa_err *err);

/* ---- sets of the same flows: written once ---- */

static uint64_t ids_hash(const struct evidence_set *s)
{
	uint64_t h = 1469598103934665603ull ^ s->n_flow_ids;
	for (size_t i = 0; i < s->n_flow_ids; i++)
		h = (h ^ s->flow_ids[i]) * 1099511628211ull;
	return h;
}

/* The same flows and the same secrets: the same file. */
static bool same_flows(const struct evidence_set *a, const struct evidence_set *b)
{
	return a->n_flow_ids == b->n_flow_ids &&
	       (a->n_flow_ids == 0 ||
		memcmp(a->flow_ids, b->flow_ids, a->n_flow_ids * sizeof(*a->flow_ids)) == 0) &&
	       a->tls_keys_len == b->tls_keys_len &&
	       (a->tls_keys_len == 0 || memcmp(a->tls_keys, b->tls_keys, a->tls_keys_len) == 0);
}

/*
 * first[i]: the lowest-numbered set with exactly set i's flows (i itself
 * when none comes before it). Two findings often cover the same flows (an
 * unknown endpoint abroad is also a cross-border transfer), and their
 * files would be the same bytes.
 */
static size_t *find_twins(const struct evidence_set *sets, size_t n_sets)
{
	size_t *first = malloc(n_sets * sizeof(*first));
	struct pair *keys = malloc(n_sets * sizeof(*keys));
	if (first == NULL || keys == NULL) {
		free(first);
		free(keys);
		return NULL;
	}
	for (size_t i = 0; i < n_sets; i++) {
		first[i] = i;
		keys[i] = (struct pair){ids_hash(&sets[i]), i};
	}
	qsort(keys, n_sets, sizeof(*keys), pair_cmp);
	for (size_t a = 0; a < n_sets;) {
		size_t b = a + 1;
		while (b < n_sets && keys[b].key == keys[a].key)
			b++;
		/* within one hash, each set joins the first earlier one it equals */
		for (size_t i = a + 1; i < b; i++)
			for (size_t j = a; j < i; j++)
				if (first[keys[j].set] == keys[j].set &&
				    same_flows(&sets[keys[i].set], &sets[keys[j].set])) {
					first[keys[i].set] = keys[j].set;
					break;
				}
		a = b;
	}
	free(keys);
	return first;
}

/* dir/to as a copy of dir/from: a hard link, or the bytes where links fail. */
static int link_or_copy(const char *dir, const char *from, const char *to, struct fa_err *err)
{
	char a[4200], b[4200];
	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	if (link(a, b) == 0)
		return FA_OK;
	FILE *in = fopen(a, "rb"), *out = in ? fopen(b, "wb") : NULL;
	int rc = in && out ? FA_OK : FA_ERUNTIME;
	char buf[65536];
	size_t n;
	while (rc == FA_OK && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = FA_ERUNTIME;
	if (in && ferror(in))
		rc = FA_ERUNTIME;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = FA_ERUNTIME;
	if (rc != FA_OK)
		fa_err_set(err, "%s: cannot write: %s", b, strerror(errno));
	return rc;
}

/* Set t gets the files and frame lists of set f, which holds the same flows. */
static int copy_twin(struct evidence_set *t, const struct evidence_set *f, const char *dir,
		     struct fa_err *err)
{
	/* the same frame lists: borrowed from f, which owns them */
	t->per_file = f->per_file;
	t->n_per_file = f->n_per_file;
	t->borrowed = true;
	t->packets = f->packets;
	for (size_t k = 0; k < f->n_paths; k++) {
		char name[64];
		file_name(t, k, name, sizeof(name));
		int rc = link_or_copy(dir, f->paths[k], name, err);
		if (rc != FA_OK)
			return rc;
		snprintf(t->paths[t->n_paths++], sizeof(t->paths[0]), "%s", name);
	}
	return FA_OK;
}

int evidence_write(const char *const *captures, size_t n_captures, evidence_flow_fn get_flow,
		   void *user, struct evidence_set *sets, size_t n_sets, const char *dir,
		   struct fa_err *err)
{
	if (n_sets == 0)
		return FA_OK;
	size_t *first = find_twins(sets, n_sets);
	if (first == NULL) {
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	/* the sets that are written: each first of its flows, in order */
	size_t *order = malloc(n_sets * sizeof(*order));
	size_t n_own = 0;
	for (size_t i = 0; order != NULL && i < n_sets; i++)
		if (first[i] == i)
			order[n_own++] = i;
	int rc = order == NULL ? FA_ERUNTIME : FA_OK;
	if (rc != FA_OK)
		fa_err_set(err, "out of memory collecting evidence");
	else
		rc = write_sets(captures, n_captures, get_flow, user, sets, order, n_own, dir, err);
	for (size_t i = 0; rc == FA_OK && i < n_sets; i++)
		if (first[i] != i)
			rc = copy_twin(&sets[i], &sets[first[i]], dir, err);
	free(order);
	free(first);
	return rc;
}

/* Writes the sets order[0 .. n_own), by batches of passes over the captures. */
static int write_sets(const char *const *captures, size_t n_captures, evidence_flow_fn get_flow,
		      void *user, struct evidence_set *sets, const size_t *order, size_t n_own,
		      const char *dir, struct fa_err *err)
{
	/* the first pass's source also tells how many link types a set may need */
	struct source *src;
	int rc = source_open_files(captures, n_captures, &src, err);
	if (rc != FA_OK)
		return rc;
	size_t batch = batch_size(link_types(src));
	struct writer *w = calloc(batch, sizeof(*w));
	if (w == NULL) {
		source_free(src);
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	struct writers ws = {.n_dead = 0};
	for (size_t lo = 0; lo < n_own && rc == FA_OK; lo += batch) {
		size_t hi = lo + batch < n_own ? lo + batch : n_own;
		if (src == NULL && (rc = source_open_files(captures, n_captures, &src, err)) != FA_OK)
			break;
		ws.bufsize = BUF_BUDGET / (hi - lo);
		ws.bufsize = ws.bufsize < BUF_MIN ? BUF_MIN : ws.bufsize > BUF_MAX ? BUF_MAX : ws.bufsize;
		rc = one_pass(src, get_flow, user, sets, order, lo, hi, &ws, w, dir, err);
		source_free(src);
		src = NULL;
		/* newest first: the C library keeps open streams on a list, newest at
		   the head, and closing from the far end walks all of it */
		for (size_t i = hi - lo; i-- > 0;) {
			int c = writer_close(&w[i], err);
			if (rc == FA_OK)
				rc = c;
		}
	}
	source_free(src); /* NULL unless a pass never ran */
	writers_free(&ws);
	free(w);
	return rc;
}

void evidence_set_clear(struct evidence_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; !s->borrowed && i < s->n_per_file; i++)
		free(s->per_file[i].enc);
	if (!s->borrowed)
		free(s->per_file);
	s->per_file = NULL;
	s->n_per_file = 0;
	s->borrowed = false;
}
