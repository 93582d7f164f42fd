/*
 * evidence_stream.c - the evidence pack written beside the replay.
 *
 * Receives, from the thread that replays, each audited flow that joined
 * findings (in flow id order, as the engine hands records on) and how far
 * the replay has got: the position before which every frame belongs to a
 * flow already audited or to none. A thread of its own reads the captures
 * a second time behind that position and writes the pack with the walk
 * and the sink evidence_pack.c's pass uses, so the bytes, the frame
 * numbers and the parts are those evidence_write_pack() makes from the
 * same sets after the replay. Owns the writer thread, the flows queued
 * for it and, until evidence_stream_finish(), the pack and each set's
 * frame lists.
 *
 * The replay only queues: a record and a few set numbers a flow. The
 * queue is handed over in batches with each new position, so the two
 * threads meet once per batch of flows, not once per frame.
 */
#include "evidence_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAKE_FRAMES 4096 /* frames made final before the writer is woken */

struct joined {
	size_t set;
	char name[EVIDENCE_NAME_MAX];
};

struct sflow {
	struct sflow *next;
	struct evidence_flow f;
	size_t n;
	struct joined j[];
};

struct evidence_stream {
	const char *const *captures;
	size_t n_captures;
	char *dir;
	pthread_t th;
	bool started;

	/* the replay's side */
	struct sflow *own_head, *own_tail; /* not yet handed over */

	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sflow *head, *tail;
	uint32_t hz_file;  /* every frame before (hz_file, hz_frame) is final */
	uint64_t hz_frame;
	bool all_in;       /* every flow is queued: no frame is held back */
	bool stop;         /* abandoned */
	bool waiting;      /* the writer waits for one of the above ... */
	uint32_t want_file; /* ... or for the position to pass this one */
	uint64_t want_frame;

	/* the writer's */
	struct evidence_set *sets;
	char (*names)[EVIDENCE_NAME_MAX];
	size_t *order;
	size_t n_sets, cap_sets;
	struct evidence_pack pack;
	int rc;
	struct fa_err err;
};

/* Set i (and those before it) exists: false without memory. */
static bool sets_reach(struct evidence_stream *es, size_t i)
{
	if (i < es->n_sets)
		return true;
	if (i >= es->cap_sets) {
		size_t nc = es->cap_sets ? es->cap_sets : 64;
		while (nc <= i)
			nc *= 2;
		struct evidence_set *ns = realloc(es->sets, nc * sizeof(*ns));
		if (ns != NULL)
			es->sets = ns;
		char(*nn)[EVIDENCE_NAME_MAX] = ns ? realloc(es->names, nc * sizeof(*nn)) : NULL;
		if (nn != NULL)
			es->names = nn;
		size_t *no = nn ? realloc(es->order, nc * sizeof(*no)) : NULL;
		if (no == NULL)
			return false;
		es->order = no;
		es->cap_sets = nc;
		for (size_t k = 0; k < es->n_sets; k++)
			es->sets[k].name = es->names[k];
	}
	for (size_t k = es->n_sets; k <= i; k++) {
		memset(&es->sets[k], 0, sizeof(es->sets[k]));
		es->names[k][0] = '\0';
		es->sets[k].name = es->names[k];
		es->sets[k].pack = &es->pack;
		es->order[k] = k;
	}
	es->n_sets = i + 1;
	return true;
}

/* Flow q goes live in the walk, with its sets. */
static bool take_flow(struct evidence_stream *es, struct ev_walk *w, const struct ev_sink *sink,
		      const struct sflow *q)
{
	size_t places[64], *pl = q->n <= 64 ? places : malloc(q->n * sizeof(*pl));
	if (pl == NULL)
		return false;
	bool ok = true;
	for (size_t k = 0; ok && k < q->n; k++) {
		ok = sets_reach(es, q->j[k].set);
		if (ok) {
			memcpy(es->names[q->j[k].set], q->j[k].name, EVIDENCE_NAME_MAX);
			pl[k] = q->j[k].set;
		}
	}
	ok = ok && ev_walk_add(w, &q->f, pl, q->n, sink, es->sets, es->order, 0);
	if (pl != places)
		free(pl);
	return ok;
}

static void *writer(void *arg)
{
	struct evidence_stream *es = arg;
	struct source *src = NULL;
	struct ev_walk w = {0};
	struct ev_sink sink;
	struct pack_out *po = NULL;
	struct sflow *mine = NULL, *mine_tail = NULL;
	int rc = source_open_files(es->captures, es->n_captures, &src, &es->err);
	if (rc == FA_OK && (!ev_walk_open(&w) ||
			    (po = ev_pack_out_new(&es->pack, es->dir, &sink)) == NULL)) {
		fa_err_set(&es->err, "out of memory collecting evidence");
		rc = FA_ERUNTIME;
	}
	struct source_frame fr;
	bool have = false, stop = false;
	while (rc == FA_OK) {
		/* take what the replay handed over, or wait for it */
		uint32_t hz_file;
		uint64_t hz_frame;
		bool all_in;
		pthread_mutex_lock(&es->mu);
		for (;;) {
			if (es->head != NULL) {
				if (mine_tail)
					mine_tail->next = es->head;
				else
					mine = es->head;
				mine_tail = es->tail;
				es->head = es->tail = NULL;
			}
			hz_file = es->hz_file;
			hz_frame = es->hz_frame;
			all_in = es->all_in;
			stop = es->stop;
			if (stop || all_in || !have ||
			    ev_before(fr.file, fr.frame, hz_file, hz_frame))
				break;
			/* woken once a batch of frames is ready, not at each flow */
			es->want_file = fr.file;
			es->want_frame = fr.frame + WAKE_FRAMES;
			es->waiting = true;
			pthread_cond_wait(&es->cv, &es->mu);
			es->waiting = false;
		}
		pthread_mutex_unlock(&es->mu);
		if (stop)
			break;
		/* every frame up to the position */
		for (;;) {
			if (!have) {
				int got = source_next(src, &fr, &es->err);
				if (got != 1) {
					rc = got < 0 ? got : FA_OK;
					goto done;
				}
				have = true;
			}
			if (!all_in && !ev_before(fr.file, fr.frame, hz_file, hz_frame))
				break;
			while (mine != NULL &&
			       !ev_before(fr.file, fr.frame, mine->f.file_first, mine->f.frame_first)) {
				struct sflow *q = mine;
				mine = q->next;
				if (mine == NULL)
					mine_tail = NULL;
				bool ok = take_flow(es, &w, &sink, q);
				free(q);
				if (!ok) {
					fa_err_set(&es->err, "out of memory collecting evidence");
					rc = FA_ERUNTIME;
					goto done;
				}
			}
			ev_walk_tick(&w, fr.file, fr.frame);
			int r = ev_walk_frame(&w, &fr, &sink, es->sets, es->order, 0, &es->err);
			have = false;
			if (r != FA_OK && r != 1) {
				rc = r;
				goto done;
			}
		}
	}
done:
	while (mine != NULL) {
		struct sflow *q = mine;
		mine = q->next;
		free(q);
	}
	ev_walk_close(&w);
	struct fa_err cerr = {""};
	int c = ev_pack_out_close(po, &cerr);
	if (rc == FA_OK && c != FA_OK) {
		rc = c;
		es->err = cerr;
	}
	source_free(src);
	es->rc = stop && rc == FA_OK ? FA_ERUNTIME : rc;
	return NULL;
}

int evidence_stream_start(const char *const *captures, size_t n_captures, const char *dir,
			  struct evidence_stream **out, struct fa_err *err)
{
	struct evidence_stream *es = calloc(1, sizeof(*es));
	if (es == NULL || (es->dir = strdup(dir)) == NULL) {
		free(es);
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	es->captures = captures;
	es->n_captures = n_captures;
	pthread_mutex_init(&es->mu, NULL);
	pthread_cond_init(&es->cv, NULL);
	es->hz_file = 0;
	es->hz_frame = 0;
	if (pthread_create(&es->th, NULL, writer, es) != 0) {
		fa_err_set(err, "cannot start the evidence writer: %s", strerror(errno));
		pthread_mutex_destroy(&es->mu);
		pthread_cond_destroy(&es->cv);
		free(es->dir);
		free(es);
		return FA_ERUNTIME;
	}
	es->started = true;
	*out = es;
	return FA_OK;
}

bool evidence_stream_flow(struct evidence_stream *es, const struct evidence_flow *f,
			  const size_t *sets, const char *const *names, size_t n)
{
	struct sflow *q = malloc(sizeof(*q) + n * sizeof(q->j[0]));
	if (q == NULL)
		return false;
	q->next = NULL;
	q->f = *f;
	q->n = n;
	for (size_t k = 0; k < n; k++) {
		q->j[k].set = sets[k];
		snprintf(q->j[k].name, sizeof(q->j[k].name), "%s", names[k]);
	}
	if (es->own_tail)
		es->own_tail->next = q;
	else
		es->own_head = q;
	es->own_tail = q;
	return true;
}

/* Hands the flows queued since the last call over, with the new position. */
static void hand_over(struct evidence_stream *es, uint32_t file, uint64_t frame, bool all_in)
{
	pthread_mutex_lock(&es->mu);
	if (es->own_head != NULL) {
		if (es->tail)
			es->tail->next = es->own_head;
		else
			es->head = es->own_head;
		es->tail = es->own_tail;
		es->own_head = es->own_tail = NULL;
	}
	if (ev_before(es->hz_file, es->hz_frame, file, frame)) {
		es->hz_file = file;
		es->hz_frame = frame;
	}
	es->all_in |= all_in;
	if (es->waiting && (es->all_in || !ev_before(es->hz_file, es->hz_frame, es->want_file,
						   es->want_frame)))
		pthread_cond_signal(&es->cv);
	pthread_mutex_unlock(&es->mu);
}

void evidence_stream_horizon(struct evidence_stream *es, uint32_t file, uint64_t frame)
{
	hand_over(es, file, frame, false);
}

static void stream_free(struct evidence_stream *es)
{
	while (es->own_head != NULL) {
		struct sflow *q = es->own_head;
		es->own_head = q->next;
		free(q);
	}
	while (es->head != NULL) {
		struct sflow *q = es->head;
		es->head = q->next;
		free(q);
	}
	for (size_t i = 0; i < es->n_sets; i++)
		evidence_set_clear(&es->sets[i]);
	free(es->sets);
	free(es->names);
	free(es->order);
	evidence_pack_clear(&es->pack);
	pthread_mutex_destroy(&es->mu);
	pthread_cond_destroy(&es->cv);
	free(es->dir);
	free(es);
}

int evidence_stream_finish(struct evidence_stream *es, struct evidence_set *sets, size_t n_sets,
			   struct evidence_pack *pack, struct fa_err *err)
{
	hand_over(es, UINT32_MAX, UINT64_MAX, true);
	pthread_join(es->th, NULL);
	es->started = false;
	int rc = es->rc;
	if (rc != FA_OK) {
		*err = es->err;
		return rc;
	}
	for (size_t i = 0; i < n_sets; i++) {
		sets[i].pack = pack;
		if (i >= es->n_sets)
			continue;
		struct evidence_set *from = &es->sets[i];
		sets[i].per_file = from->per_file;
		sets[i].n_per_file = from->n_per_file;
		sets[i].packets = from->packets;
		sets[i].pack_frames = from->pack_frames;
		sets[i].n_pack_frames = from->n_pack_frames;
		memset(from, 0, sizeof(*from));
	}
	pack->paths = es->pack.paths;
	pack->sha256 = es->pack.sha256;
	pack->n_paths = es->pack.n_paths;
	pack->packets = es->pack.packets;
	es->pack.paths = NULL;
	es->pack.sha256 = NULL;
	es->pack.n_paths = 0;
	return FA_OK;
}

void evidence_stream_free(struct evidence_stream *es)
{
	if (es == NULL)
		return;
	if (es->started) {
		pthread_mutex_lock(&es->mu);
		es->stop = true;
		if (es->waiting)
			pthread_cond_signal(&es->cv);
		pthread_mutex_unlock(&es->mu);
		pthread_join(es->th, NULL);
	}
	/* a pack not handed on is removed */
	for (size_t k = 0; k < es->pack.n_paths; k++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", es->dir, es->pack.paths[k]);
		unlink(path);
	}
	stream_free(es);
}
