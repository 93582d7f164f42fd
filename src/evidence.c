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

#define BATCH_MAX 4096 /* sets written per pass: bounds open files and buffers */
#define FD_SPARE 64     /* descriptors left for everything else */
#define MAX_LINKS 4    /* link types per set (NAME.pcap, NAME-2.pcap, ...) */

struct pair {
	uint64_t flow_id;
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
	if (x->flow_id != y->flow_id)
		return x->flow_id < y->flow_id ? -1 : 1;
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
	if ((pf->n & (pf->n + 1)) == 0) { /* grow at 0, 1, 3, 7, ... */
		uint64_t *nf = realloc(pf->frames, (pf->n * 2 + 2) * sizeof(*nf));
		if (nf == NULL)
			return false;
		pf->frames = nf;
	}
	pf->frames[pf->n++] = frame;
	s->packets++;
	return true;
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

/* The last (file, frame) any flow of sets [lo, hi) reaches; flows sorted by id. */
static struct frame_pos batch_end(const struct evidence_flow *flows, size_t n_flows,
				  const struct evidence_set *sets, size_t lo, size_t hi)
{
	struct frame_pos end = {0, 0};
	for (size_t i = lo; i < hi; i++) {
		for (size_t j = 0; j < sets[i].n_flow_ids; j++) {
			size_t a = 0, b = n_flows;
			while (a < b) {
				size_t m = (a + b) / 2;
				if (flows[m].flow_id < sets[i].flow_ids[j])
					a = m + 1;
				else
					b = m;
			}
			if (a == n_flows || flows[a].flow_id != sets[i].flow_ids[j])
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
		    size_t n_pairs, struct evidence_set *sets, size_t lo, size_t hi,
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
				if (pairs[m].flow_id < flows[k].flow_id)
					a = m + 1;
				else
					b = m;
			}
			struct pcap_pkthdr h = {
				.ts = {.tv_sec = (time_t)fr.ts_sec, .tv_usec = (suseconds_t)fr.ts_nsec},
				.caplen = fr.caplen,
				.len = fr.wirelen,
			};
			for (; a < n_pairs && pairs[a].flow_id == flows[k].flow_id; a++) {
				size_t si = pairs[a].set;
				if (si < lo || si >= hi)
					continue;
				pcap_dumper_t *dp = writer_get(&w[si - lo], &sets[si], fr.linktype, dir, err);
				if (dp == NULL) {
					source_free(src);
					return FA_ERUNTIME;
				}
				pcap_dump((u_char *)dp, &h, fr.data);
				if (!add_frame(&sets[si], fr.file, fr.frame)) {
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

int evidence_write(const char *const *captures, size_t n_captures,
		   const struct evidence_flow *flows, size_t n_flows, struct evidence_set *sets,
		   size_t n_sets, const char *dir, struct fa_err *err)
{
	size_t n_pairs = 0;
	for (size_t i = 0; i < n_sets; i++)
		n_pairs += sets[i].n_flow_ids;
	if (n_sets == 0 || n_pairs == 0)
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
	for (size_t i = 0; i < n_sets; i++)
		for (size_t j = 0; j < sets[i].n_flow_ids; j++)
			pairs[k++] = (struct pair){sets[i].flow_ids[j], i};
	qsort(pairs, n_pairs, sizeof(*pairs), pair_cmp);
	for (size_t i = 0; i < n_buckets; i++)
		buckets[i] = SIZE_MAX;
	for (size_t i = 0; i < n_flows; i++) {
		const struct evidence_flow *f = &flows[i];
		uint32_t kh = key_hash(&f->cli, f->cport, &f->srv, f->sport, f->proto, f->vlan);
		chain_next[i] = buckets[kh % n_buckets];
		buckets[kh % n_buckets] = i;
	}
	for (size_t lo = 0; lo < n_sets && rc == FA_OK; lo += batch) {
		size_t hi = lo + batch < n_sets ? lo + batch : n_sets;
		struct frame_pos end = batch_end(flows, n_flows, sets, lo, hi);
		rc = one_pass(captures, n_captures, flows, chain_next, buckets, n_buckets, pairs, n_pairs,
			      sets, lo, hi, &end, w, dir, err);
		for (size_t i = 0; i < hi - lo; i++) {
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
	for (size_t i = 0; i < s->n_per_file; i++)
		free(s->per_file[i].frames);
	free(s->per_file);
	s->per_file = NULL;
	s->n_per_file = 0;
}
