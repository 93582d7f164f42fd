/*
 * evidence.c - one pcap per finding, holding exactly its flows' packets.
 *
 * Receives the run's capture files, the flows (key and frame range) and the
 * sets of flow ids; re-reads the captures once per batch of sets and copies
 * each matching packet, byte for byte with its original timestamp, into the
 * set's file. Hands on the frame numbers each set holds. Owns those arrays.
 *
 * Matching a packet: decode it, hash its 5-tuple the same way both
 * directions round, and check the flows with that key whose (file, frame)
 * range contains the packet. A flow belongs to few sets, so the per-packet
 * work is one decode and one short chain walk.
 */
#include "flowaudit/evidence.h"

#include "flowaudit/decode.h"
#include "flowaudit/source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_MAX 4096 /* sets written per pass: bounds open files and buffers */
#define FD_SPARE 64     /* descriptors left for everything else */
#define MAX_LINKS 4    /* link types per set (NAME.pcap, NAME-2.pcap, ...) */

/* A key with a set: a flow id with the place of a set in the order
   written, or the hash of a set's flows with the set. */
struct pair {
	uint64_t key;
	size_t set;
};

struct writer {
	int linktype[MAX_LINKS];
	pcap_dumper_t *d[MAX_LINKS];
	pcap_t *dead[MAX_LINKS];
	size_t n;
};

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
	if (!fwd && !rev)
		return false;
	if (file < f->file_first || (file == f->file_first && frame < f->frame_first))
		return false;
	if (file > f->file_last || (file == f->file_last && frame > f->frame_last))
		return false;
	return true;
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

static pcap_dumper_t *writer_get(struct writer *w, struct evidence_set *s, int linktype,
				 const char *dir, struct fa_err *err)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->linktype[i] == linktype)
			return w->d[i];
	if (w->n == MAX_LINKS)
		return NULL;
	size_t i = w->n;
	char name[64], path[4200];
	if (i == 0)
		snprintf(name, sizeof(name), "%s.pcap", s->name);
	else
		snprintf(name, sizeof(name), "%s-%zu.pcap", s->name, i + 1);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* nanosecond pcap: every capture's time stamps go in exactly as they were */
	w->dead[i] = pcap_open_dead_with_tstamp_precision(linktype, 262144, PCAP_TSTAMP_PRECISION_NANO);
	if (w->dead[i] == NULL) {
		fa_err_set(err, "%s: cannot prepare pcap writer", path);
		return NULL;
	}
	w->d[i] = pcap_dump_open(w->dead[i], path);
	if (w->d[i] == NULL) {
		fa_err_set(err, "%s: cannot write: %s", path, pcap_geterr(w->dead[i]));
		pcap_close(w->dead[i]);
		return NULL;
	}
	w->linktype[i] = linktype;
	w->n++;
	snprintf(s->paths[s->n_paths++], sizeof(s->paths[0]), "%s", name);
	return w->d[i];
}

static int writer_close(struct writer *w, struct fa_err *err)
{
	int rc = FA_OK;
	for (size_t i = 0; i < w->n; i++) {
		if (pcap_dump_flush(w->d[i]) != 0 && rc == FA_OK) {
			fa_err_set(err, "evidence pcap: write failed: %s", strerror(errno));
			rc = FA_ERUNTIME;
		}
		pcap_dump_close(w->d[i]);
		pcap_close(w->dead[i]);
	}
	w->n = 0;
	return rc;
}

struct frame_pos {
	uint32_t file;
	uint64_t frame;
};

/*
 * Sets per pass: as many as the descriptor limit allows (raised to its
 * hard ceiling first), two descriptors each, at most BATCH_MAX. Fewer
 * passes over the captures; each pass stops after the last frame it needs.
 */
static size_t batch_size(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	rlim_t want = 2 * BATCH_MAX + FD_SPARE;
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return BATCH_MAX;
	if (rl.rlim_cur <= FD_SPARE + 2)
		return 1;
	return (size_t)(rl.rlim_cur - FD_SPARE) / 2;
}

/* The last (file, frame) any flow of sets order[lo, hi) reaches; flows sorted by id. */
static struct frame_pos batch_end(const struct evidence_flow *flows, size_t n_flows,
				  const struct evidence_set *sets, const size_t *order, size_t lo,
				  size_t hi)
{
	struct frame_pos end = {0, 0};
	for (size_t p = lo; p < hi; p++) {
		const struct evidence_set *st = &sets[order[p]];
		for (size_t j = 0; j < st->n_flow_ids; j++) {
			size_t a = 0, b = n_flows;
			while (a < b) {
				size_t m = (a + b) / 2;
				if (flows[m].flow_id < st->flow_ids[j])
					a = m + 1;
				else
					b = m;
			}
			if (a == n_flows || flows[a].flow_id != st->flow_ids[j])
				continue;
			const struct evidence_flow *f = &flows[a];
			if (f->file_last > end.file ||
			    (f->file_last == end.file && f->frame_last > end.frame))
				end = (struct frame_pos){f->file_last, f->frame_last};
		}
	}
	return end;
}

static int one_pass(const char *const *captures, size_t n_captures,
		    const struct evidence_flow *flows, const size_t *chain_next,
		    const size_t *buckets, size_t n_buckets, const struct pair *pairs,
		    size_t n_pairs, struct evidence_set *sets, const size_t *order, size_t lo, size_t hi,
		    const struct frame_pos *end, struct writer *w, const char *dir,
		    struct fa_err *err)
{
	struct source *src;
	int rc = source_open_files(captures, n_captures, &src, err);
	if (rc != FA_OK)
		return rc;
	struct source_frame fr;
	while ((rc = source_next(src, &fr, err)) == 1) {
		if (fr.file > end->file || (fr.file == end->file && fr.frame > end->frame))
			break; /* past the last frame of this batch's flows */
		struct decoded_pkt d;
		enum decode_result dr = decode_frame(fr.linktype, fr.data, fr.caplen, &d, NULL);
		if (dr != DECODE_OK && dr != DECODE_OTHER_L4)
			continue;
		uint16_t vlan = d.vlan_count ? d.vlan[0] : 0;
		uint32_t kh = key_hash(&d.src, d.sport, &d.dst, d.dport, d.l4_proto, vlan);
		for (size_t k = buckets[kh % n_buckets]; k != SIZE_MAX; k = chain_next[k]) {
			if (!flow_matches(&flows[k], &d, vlan, fr.file, fr.frame))
				continue;
			/* the sets of this flow, from the sorted pairs */
			size_t a = 0, b = n_pairs;
			while (a < b) {
				size_t m = (a + b) / 2;
				if (pairs[m].key < flows[k].flow_id)
					a = m + 1;
				else
					b = m;
			}
			struct pcap_pkthdr h = {
				.ts = {.tv_sec = (time_t)fr.ts_sec, .tv_usec = (suseconds_t)fr.ts_nsec},
				.caplen = fr.caplen,
				.len = fr.wirelen,
			};
			for (; a < n_pairs && pairs[a].key == flows[k].flow_id; a++) {
				size_t si = pairs[a].set;
				if (si < lo || si >= hi)
					continue;
				struct evidence_set *st = &sets[order[si]];
				pcap_dumper_t *dp = writer_get(&w[si - lo], st, fr.linktype, dir, err);
				if (dp == NULL) {
					source_free(src);
					return FA_ERUNTIME;
				}
				pcap_dump((u_char *)dp, &h, fr.data);
				if (!add_frame(st, fr.file, fr.frame)) {
					source_free(src);
					fa_err_set(err, "out of memory collecting evidence");
					return FA_ERUNTIME;
				}
			}
			break;
		}
	}
	source_free(src);
	if (rc < 0)
		return rc;
	return FA_OK;
}

static int write_sets(const char *const *captures, size_t n_captures,
		      const struct evidence_flow *flows, size_t n_flows, struct evidence_set *sets,
		      const size_t *order, size_t n_own, const char *dir, struct fa_err *err);

/* ---- sets of the same flows: written once ---- */

static uint64_t ids_hash(const struct evidence_set *s)
{
	uint64_t h = 1469598103934665603ull ^ s->n_flow_ids;
	for (size_t i = 0; i < s->n_flow_ids; i++)
		h = (h ^ s->flow_ids[i]) * 1099511628211ull;
	return h;
}

static bool same_flows(const struct evidence_set *a, const struct evidence_set *b)
{
	return a->n_flow_ids == b->n_flow_ids &&
	       (a->n_flow_ids == 0 ||
		memcmp(a->flow_ids, b->flow_ids, a->n_flow_ids * sizeof(*a->flow_ids)) == 0);
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
		if (k == 0)
			snprintf(name, sizeof(name), "%s.pcap", t->name);
		else
			snprintf(name, sizeof(name), "%s-%zu.pcap", t->name, k + 1);
		int rc = link_or_copy(dir, f->paths[k], name, err);
		if (rc != FA_OK)
			return rc;
		snprintf(t->paths[t->n_paths++], sizeof(t->paths[0]), "%s", name);
	}
	return FA_OK;
}

int evidence_write(const char *const *captures, size_t n_captures,
		   const struct evidence_flow *flows, size_t n_flows, struct evidence_set *sets,
		   size_t n_sets, const char *dir, struct fa_err *err)
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
		rc = write_sets(captures, n_captures, flows, n_flows, sets, order, n_own, dir, err);
	for (size_t i = 0; rc == FA_OK && i < n_sets; i++)
		if (first[i] != i)
			rc = copy_twin(&sets[i], &sets[first[i]], dir, err);
	free(order);
	free(first);
	return rc;
}

/* Writes the sets order[0 .. n_own), by batches of passes over the captures. */
static int write_sets(const char *const *captures, size_t n_captures,
		      const struct evidence_flow *flows, size_t n_flows, struct evidence_set *sets,
		      const size_t *order, size_t n_own, const char *dir, struct fa_err *err)
{
	size_t n_pairs = 0;
	for (size_t i = 0; i < n_own; i++)
		n_pairs += sets[order[i]].n_flow_ids;
	if (n_own == 0 || n_pairs == 0)
		return FA_OK;
	size_t n_buckets = n_flows * 2 + 1;
	struct pair *pairs = malloc(n_pairs * sizeof(*pairs));
	size_t *buckets = malloc(n_buckets * sizeof(*buckets));
	size_t *chain_next = malloc((n_flows ? n_flows : 1) * sizeof(*chain_next));
	size_t batch = batch_size();
	struct writer *w = calloc(batch, sizeof(*w));
	int rc = FA_OK;
	if (pairs == NULL || buckets == NULL || chain_next == NULL || w == NULL) {
		fa_err_set(err, "out of memory collecting evidence");
		rc = FA_ERUNTIME;
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < n_own; i++)
		for (size_t j = 0; j < sets[order[i]].n_flow_ids; j++)
			pairs[k++] = (struct pair){sets[order[i]].flow_ids[j], i};
	qsort(pairs, n_pairs, sizeof(*pairs), pair_cmp);
	for (size_t i = 0; i < n_buckets; i++)
		buckets[i] = SIZE_MAX;
	for (size_t i = 0; i < n_flows; i++) {
		const struct evidence_flow *f = &flows[i];
		uint32_t kh = key_hash(&f->cli, f->cport, &f->srv, f->sport, f->proto, f->vlan);
		chain_next[i] = buckets[kh % n_buckets];
		buckets[kh % n_buckets] = i;
	}
	for (size_t lo = 0; lo < n_own && rc == FA_OK; lo += batch) {
		size_t hi = lo + batch < n_own ? lo + batch : n_own;
		struct frame_pos end = batch_end(flows, n_flows, sets, order, lo, hi);
		rc = one_pass(captures, n_captures, flows, chain_next, buckets, n_buckets, pairs, n_pairs,
			      sets, order, lo, hi, &end, w, dir, err);
		/* newest first: the C library keeps open streams on a list, newest at
		   the head, and closing from the far end walks all of it */
		for (size_t i = hi - lo; i-- > 0;) {
			int c = writer_close(&w[i], err);
			if (rc == FA_OK)
				rc = c;
		}
	}
out:
	free(pairs);
	free(buckets);
	free(chain_next);
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
