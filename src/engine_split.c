/*
 * engine_split.c - nDPI in a thread of its own (engine.h, threads 2).
 *
 * The analyser (the engine in the caller's thread) copies every frame into
 * the current batch. A full batch goes to the classifier's thread through
 * a ring of QUEUE_DEPTH batches; the analyser runs its own part on a batch
 * only once the classifier is done with it, so the two work on different
 * batches at the same time, the analyser always behind. When the ring is
 * full the analyser takes its oldest batch (waiting for the classifier if
 * need be), so memory stays bounded whatever the input.
 *
 * The classifier runs an engine that stops at nDPI (engine_new_classifier)
 * and publishes each flow's classification under its flow id, with the
 * number of the frame that completed it, into a hash table (frames are
 * numbered as both engines count them, from 1). After each batch it moves
 * `done` to the batch's last frame number; when it has ended its flows at
 * the end, to UINT64_MAX.
 *
 * split_take(id, seq) is the analyser asking "had flow id been classified
 * by frame seq?": the answer one engine would have had at that frame.
 * Both engines file the same frames with the same times into flow tables
 * with the same settings, so a flow has the same id in both.
 */
#include "engine_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_FRAMES 1024
#define BATCH_BYTES (512u * 1024) /* more than the largest frame, 262,144 bytes */
#define QUEUE_DEPTH 4

struct qframe {
	struct source_frame f; /* f.data points into the batch's bytes */
	uint64_t seq;
};

struct batch {
	struct qframe fr[BATCH_FRAMES];
	size_t n, used;
	uint8_t bytes[BATCH_BYTES];
};

struct published {
	uint64_t id, seq;
	struct split_result res;
	struct published *next;
};

struct split {
	struct engine *owner; /* the analyser */
	struct engine *cls;   /* the classifier's engine, used by its thread only */
	pthread_t th;
	bool started, stop;
	bool abandon;         /* freed before the end: stop at once */
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* any change below */
	/* batch k of those handed over is ring[k % QUEUE_DEPTH]:
	   analysed <= classified <= pushed <= analysed + QUEUE_DEPTH */
	struct batch *ring[QUEUE_DEPTH];
	uint64_t pushed, classified, analysed;
	struct batch *cur;    /* the analyser's, being filled */
	struct batch *free_[QUEUE_DEPTH + 1];
	size_t n_free;
	uint64_t seq;         /* frames copied */
	uint64_t done;        /* frames the classifier has finished */
	struct published **tab;
	size_t cap, n;
};

static size_t slot(const struct split *sp, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 20) & (sp->cap - 1);
}

/* Under sp->mu. */
static bool tab_grow(struct split *sp)
{
	size_t nc = sp->cap ? sp->cap * 2 : 4096;
	struct published **nt = calloc(nc, sizeof(*nt));
	if (nt == NULL)
		return false;
	struct published **old = sp->tab;
	size_t oc = sp->cap;
	sp->tab = nt;
	sp->cap = nc;
	for (size_t i = 0; i < oc; i++) {
		for (struct published *p = old[i], *nx; p != NULL; p = nx) {
			nx = p->next;
			size_t j = slot(sp, p->id);
			p->next = nt[j];
			nt[j] = p;
		}
	}
	free(old);
	return true;
}

void split_publish(struct split *sp, uint64_t id, uint64_t seq, const struct split_result *res)
{
	struct published *p = malloc(sizeof(*p));
	if (p == NULL)
		return; /* the flow stays unclassified, as when nDPI cannot take it */
	p->id = id;
	p->seq = seq;
	p->res = *res;
	pthread_mutex_lock(&sp->mu);
	if ((sp->n + 1) * 2 > sp->cap)
		tab_grow(sp); /* else the chains grow longer */
	size_t j = slot(sp, id);
	p->next = sp->tab[j];
	sp->tab[j] = p;
	sp->n++;
	pthread_mutex_unlock(&sp->mu);
}

bool split_take(struct split *sp, uint64_t id, uint64_t seq, struct split_result *out)
{
	pthread_mutex_lock(&sp->mu);
	while (sp->done < seq && sp->started)
		pthread_cond_wait(&sp->cv, &sp->mu);
	bool found = false;
	for (struct published **pp = &sp->tab[slot(sp, id)]; *pp != NULL; pp = &(*pp)->next) {
		struct published *p = *pp;
		if (p->id != id)
			continue;
		if (p->seq <= seq) {
			*out = p->res;
			*pp = p->next;
			sp->n--;
			free(p);
			found = true;
		}
		break;
	}
	pthread_mutex_unlock(&sp->mu);
	return found;
}

static void *classifier_main(void *arg)
{
	struct split *sp = arg;
	for (;;) {
		pthread_mutex_lock(&sp->mu);
		while (sp->classified == sp->pushed && !sp->stop && !sp->abandon)
			pthread_cond_wait(&sp->cv, &sp->mu);
		if (sp->abandon) {
			pthread_mutex_unlock(&sp->mu);
			return NULL;
		}
		if (sp->classified == sp->pushed) {
			pthread_mutex_unlock(&sp->mu);
			break;
		}
		struct batch *b = sp->ring[sp->classified % QUEUE_DEPTH];
		pthread_mutex_unlock(&sp->mu);
		for (size_t i = 0; i < b->n; i++)
			engine_frame(sp->cls, &b->fr[i].f);
		pthread_mutex_lock(&sp->mu);
		sp->classified++;
		if (b->n > 0)
			sp->done = b->fr[b->n - 1].seq;
		pthread_cond_broadcast(&sp->cv);
		pthread_mutex_unlock(&sp->mu);
	}
	engine_finish(sp->cls);
	pthread_mutex_lock(&sp->mu);
	sp->done = UINT64_MAX;
	pthread_cond_broadcast(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
	return NULL;
}

/* The analyser's part on the oldest batch handed over, once classified. */
static void analyse_oldest(struct split *sp)
{
	pthread_mutex_lock(&sp->mu);
	while (sp->classified == sp->analysed)
		pthread_cond_wait(&sp->cv, &sp->mu);
	struct batch *b = sp->ring[sp->analysed % QUEUE_DEPTH];
	pthread_mutex_unlock(&sp->mu);
	for (size_t i = 0; i < b->n; i++)
		engine_analyse_frame(sp->owner, &b->fr[i].f);
	b->n = b->used = 0;
	pthread_mutex_lock(&sp->mu);
	sp->analysed++;
	pthread_mutex_unlock(&sp->mu);
	sp->free_[sp->n_free++] = b;
}

/* Hands the current batch over and takes an empty one: of the
   QUEUE_DEPTH + 1 batches, one is being filled and at most QUEUE_DEPTH are
   handed over, so after making room there is always one free. */
static void push(struct split *sp)
{
	if (sp->pushed - sp->analysed == QUEUE_DEPTH)
		analyse_oldest(sp);
	pthread_mutex_lock(&sp->mu);
	sp->ring[sp->pushed % QUEUE_DEPTH] = sp->cur;
	sp->pushed++;
	pthread_cond_broadcast(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
	sp->cur = sp->free_[--sp->n_free];
}

void split_frame(struct split *sp, const struct source_frame *fr)
{
	if (sp->stop)
		return;
	uint32_t len = fr->caplen < BATCH_BYTES ? fr->caplen : BATCH_BYTES;
	if (sp->cur->n == BATCH_FRAMES || BATCH_BYTES - sp->cur->used < len)
		push(sp);
	struct batch *b = sp->cur;
	struct qframe *q = &b->fr[b->n++];
	q->f = *fr;
	q->f.caplen = len;
	memcpy(b->bytes + b->used, fr->data, len);
	q->f.data = b->bytes + b->used;
	b->used += len;
	q->seq = ++sp->seq;
}

void split_finish(struct split *sp)
{
	if (!sp->started || sp->stop)
		return;
	if (sp->cur->n > 0)
		push(sp);
	while (sp->analysed < sp->pushed)
		analyse_oldest(sp);
	pthread_mutex_lock(&sp->mu);
	sp->stop = true;
	pthread_cond_broadcast(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
}

int split_new(const struct engine_cfg *cfg, struct engine *owner, struct split **out,
	      struct fa_err *err)
{
	*out = NULL;
	struct split *sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	sp->owner = owner;
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->cv, NULL);
	int rc = engine_new_classifier(cfg, sp, &sp->cls, err);
	if (rc == FA_OK) {
		/* QUEUE_DEPTH in the ring and one being filled */
		for (size_t k = 0; k <= QUEUE_DEPTH; k++) {
			struct batch *b = malloc(sizeof(*b));
			if (b == NULL) {
				rc = FA_ERUNTIME;
				break;
			}
			b->n = b->used = 0;
			if (k == 0)
				sp->cur = b;
			else
				sp->free_[sp->n_free++] = b;
		}
		if (rc == FA_OK && !tab_grow(sp))
			rc = FA_ERUNTIME;
		if (rc != FA_OK)
			fa_err_set(err, "out of memory");
	}
	if (rc == FA_OK && pthread_create(&sp->th, NULL, classifier_main, sp) != 0) {
		fa_err_set(err, "cannot start the classification thread");
		rc = FA_ERUNTIME;
	}
	if (rc != FA_OK) {
		split_free(sp);
		return rc;
	}
	sp->started = true;
	*out = sp;
	return FA_OK;
}

void split_free(struct split *sp)
{
	if (sp == NULL)
		return;
	if (sp->started) {
		/* what is still queued is dropped, not analysed: the engine is
		   going away (an error, or the end after split_finish) */
		pthread_mutex_lock(&sp->mu);
		sp->abandon = true;
		pthread_cond_broadcast(&sp->cv);
		pthread_mutex_unlock(&sp->mu);
		pthread_join(sp->th, NULL);
		sp->started = false;
		/* a classifier stopped before its engine_finish() still holds live
		   flows, whose state only ending them releases */
		if (sp->done != UINT64_MAX && sp->cls != NULL)
			engine_finish(sp->cls);
	}
	engine_free(sp->cls);
	free(sp->cur);
	for (size_t k = 0; k < sp->n_free; k++)
		free(sp->free_[k]);
	for (uint64_t k = sp->analysed; k < sp->pushed; k++)
		free(sp->ring[k % QUEUE_DEPTH]);
	for (size_t i = 0; i < sp->cap; i++) {
		for (struct published *p = sp->tab[i], *nx; p != NULL; p = nx) {
			nx = p->next;
			free(p);
		}
	}
	free(sp->tab);
	pthread_mutex_destroy(&sp->mu);
	pthread_cond_destroy(&sp->cv);
	free(sp);
}
