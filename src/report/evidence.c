/*
 * evidence.c - one pcap per finding, holding exactly its flows' packets.
 *
 * Receives the run's capture files, the flows (key and frame range) and the
 * sets of flow ids; re-reads the captures once per batch of sets
 * (evidence_pass.c) and copies each matching packet, byte for byte with its
 * original timestamp, into the set's file: a pcap through libpcap, or for a
 * set with TLS key log lines a pcapng whose Decryption Secrets Block
 * carries them (pcapng.c writes its blocks). Hands on the frame numbers
 * each set holds. Owns those arrays. The same writers cut a finding's file
 * from the evidence pack (evidence_pack.c).
 */
#include "evidence_int.h"

#include "flowaudit/pcapng.h"

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
#define FD_SPARE 64     /* descriptors left for everything else */

/* The hash of a set's flows, with the set (to find sets of the same flows). */
struct pair {
	uint64_t key;
	size_t set;
};

/* What the writers of a pass share: one pcap header per link type, and the
   size of each stream's buffer (the budget over the pass's sets, so that a
   pass of many sets holds no more memory than one of a few). */
static pcap_t *dead_for(struct ev_writers *ws, int linktype)
{
	for (size_t i = 0; i < ws->n_dead; i++)
		if (ws->dead_linktype[i] == linktype)
			return ws->dead[i];
	if (ws->n_dead == EV_MAX_DEAD)
		return NULL;
	/* nanosecond pcap: every capture's time stamps go in exactly as they were */
	pcap_t *p = pcap_open_dead_with_tstamp_precision(linktype, PCAPNG_EVIDENCE_SNAPLEN,
							 PCAP_TSTAMP_PRECISION_NANO);
	if (p != NULL) {
		ws->dead[ws->n_dead] = p;
		ws->dead_linktype[ws->n_dead++] = linktype;
	}
	return p;
}

void ev_writers_free(struct ev_writers *ws)
{
	for (size_t i = 0; i < ws->n_dead; i++)
		pcap_close(ws->dead[i]);
	ws->n_dead = 0;
}

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->set < y->set ? -1 : x->set > y->set;
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

int ev_writer_open(struct ev_writers *ws, struct ev_writer *w, const char *path, int linktype,
		   const char *tls_keys, size_t keys_len, struct fa_err *err)
{
	size_t i = w->n;
	if (i == EV_MAX_LINKS) {
		fa_err_set(err, "%s: the flows span more than %d link types", path, EV_MAX_LINKS);
		return -1;
	}
	pcap_t *dead = keys_len ? NULL : dead_for(ws, linktype);
	if (dead == NULL && keys_len == 0) {
		fa_err_set(err, "%s: cannot prepare pcap writer", path);
		return -1;
	}
	FILE *fp = fopen(path, "wb");
	char *buf = fp ? malloc(ws->bufsize) : NULL;
	if (buf != NULL)
		setvbuf(fp, buf, _IOFBF, ws->bufsize);
	bool ok = fp && buf;
	if (ok && keys_len) {
		ok = pcapng_put_evidence_head(fp, linktype, tls_keys, keys_len) == FA_OK;
		w->ng[i] = ok ? fp : NULL;
		w->d[i] = NULL;
	} else if (ok) {
		w->d[i] = pcap_dump_fopen(dead, fp);
		w->ng[i] = NULL;
		ok = w->d[i] != NULL;
	}
	if (!ok) {
		const char *why = fp == NULL	 ? strerror(errno)
				  : buf == NULL	 ? "out of memory"
				  : keys_len	 ? strerror(errno)
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
	return (int)i;
}

/* The index of the file of set s for linktype in w, opened on first use; -1
   with err set when it cannot be. */
static int writer_get(struct ev_writers *ws, struct ev_writer *w, struct evidence_set *s,
		      int linktype, const char *dir, struct fa_err *err)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->linktype[i] == linktype)
			return (int)i;
	char name[64], path[4200];
	file_name(s, w->n, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int i = ev_writer_open(ws, w, path, linktype, s->tls_keys, s->tls_keys_len, err);
	if (i >= 0)
		snprintf(s->paths[s->n_paths++], sizeof(s->paths[0]), "%s", name);
	return i;
}

bool ev_writer_put(struct ev_writer *w, int i, uint64_t ts_sec, uint32_t ts_nsec,
		   const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
	if (w->ng[i] != NULL)
		return pcapng_put_evidence_packet(w->ng[i], ts_sec * 1000000000ull + ts_nsec, data,
						  caplen, wirelen) == FA_OK;
	struct pcap_pkthdr h = {
		.ts = {.tv_sec = (time_t)ts_sec, .tv_usec = (suseconds_t)ts_nsec},
		.caplen = caplen,
		.len = wirelen,
	};
	pcap_dump((u_char *)w->d[i], &h, data);
	return true;
}

int ev_writer_close(struct ev_writer *w, struct fa_err *err)
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

/* The per-finding files' sink: each packet into the file of every set of
   its flow, and into that set's frame list. */
struct files_sink {
	struct ev_writers *ws;
	struct ev_writer *w; /* per place in the batch */
	const char *dir;
};

static int files_packet(void *ctx, struct evidence_set *sets, const size_t *order, size_t lo,
			const struct source_frame *fr, struct ev_active *a, struct fa_err *err)
{
	struct files_sink *fs = ctx;
	for (size_t k = 0; k < a->n_sets; k++) {
		struct evidence_set *st = &sets[order[lo + a->sets[k]]];
		struct ev_writer *wk = &fs->w[a->sets[k]];
		int fi = writer_get(fs->ws, wk, st, fr->linktype, fs->dir, err);
		if (fi < 0)
			return FA_ERUNTIME;
		if (!ev_writer_put(wk, fi, (uint64_t)fr->ts_sec, fr->ts_nsec, fr->data, fr->caplen,
				   fr->wirelen)) {
			fa_err_set(err, "%s: write failed: %s", st->paths[fi], strerror(errno));
			return FA_ERUNTIME;
		}
		if (!ev_frames_add(&st->per_file, &st->n_per_file, fr->file, fr->frame)) {
			fa_err_set(err, "out of memory collecting evidence");
			return FA_ERUNTIME;
		}
		st->packets++;
	}
	return FA_OK;
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

/* The distinct link types of the captures (at least 1, at most EV_MAX_LINKS):
   of every pcap file, and of every interface a pcapng describes before its
   first packet (Wireshark, dumpcap and mergecap describe all of them there). */
size_t ev_link_types(const struct source *src)
{
	int seen[EV_MAX_LINKS];
	size_t n = 0;
	for (size_t i = 0; i < source_file_count(src) && n < EV_MAX_LINKS; i++) {
		const struct source_file_info *fi = source_file(src, i);
		for (size_t l = 0; l < fi->n_links && n < EV_MAX_LINKS; l++) {
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

int ev_copy_file(const char *from, const char *to, struct fa_err *err)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	int rc = in && out ? FA_OK : FA_ERUNTIME;
	const char *bad = in == NULL ? from : to;
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
		fa_err_set(err, "%s: %s", bad, strerror(errno));
	return rc;
}

/* dir/to as a copy of dir/from: a hard link, or the bytes where links fail. */
static int link_or_copy(const char *dir, const char *from, const char *to, struct fa_err *err)
{
	char a[4200], b[4200];
	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	if (link(a, b) == 0)
		return FA_OK;
	return ev_copy_file(a, b, err);
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
	size_t batch = batch_size(ev_link_types(src));
	struct ev_writer *w = calloc(batch, sizeof(*w));
	if (w == NULL) {
		source_free(src);
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	struct ev_writers ws = {.n_dead = 0};
	struct files_sink fs = {.ws = &ws, .w = w, .dir = dir};
	struct ev_sink sink = {.packet = files_packet, .ctx = &fs};
	for (size_t lo = 0; lo < n_own && rc == FA_OK; lo += batch) {
		size_t hi = lo + batch < n_own ? lo + batch : n_own;
		if (src == NULL && (rc = source_open_files(captures, n_captures, &src, err)) != FA_OK)
			break;
		ws.bufsize = BUF_BUDGET / (hi - lo);
		ws.bufsize = ws.bufsize < BUF_MIN ? BUF_MIN : ws.bufsize > BUF_MAX ? BUF_MAX : ws.bufsize;
		rc = ev_pass(src, get_flow, user, sets, order, lo, hi, &sink, err);
		source_free(src);
		src = NULL;
		/* newest first: the C library keeps open streams on a list, newest at
		   the head, and closing from the far end walks all of it */
		for (size_t i = hi - lo; i-- > 0;) {
			int c = ev_writer_close(&w[i], err);
			if (rc == FA_OK)
				rc = c;
		}
	}
	source_free(src); /* NULL unless a pass never ran */
	ev_writers_free(&ws);
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
	for (size_t i = 0; i < s->n_pack_frames; i++)
		free(s->pack_frames[i].enc);
	free(s->pack_frames);
	s->pack_frames = NULL;
	s->n_pack_frames = 0;
}
