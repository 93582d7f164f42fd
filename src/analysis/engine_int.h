/*
 * engine_int.h - between engine.c and engine_split.c: classification in a
 * second thread (engine.h, threads 2).
 *
 * The engine in the caller's thread (the analyser) owns a struct split. The
 * split owns a second engine (the classifier), which runs in its own
 * thread, sees a copy of every frame, and does only what leads to nDPI's
 * answer: clock, decode, its own flow table, nDPI. Each answer is published
 * under the flow's id with the number of the frame that completed it
 * (frames are numbered as both engines count them, from 1); the analyser
 * takes it when it reaches that frame.
 */
#ifndef FLOWAUDIT_ENGINE_INT_H
#define FLOWAUDIT_ENGINE_INT_H

#include "flowaudit/engine.h"

struct split;

/* What the classifier publishes for one flow. */
struct split_result {
	struct classify_result r;
	uint32_t name_file;  /* where nDPI first had a host name */
	uint64_t name_frame;
};

/* The analyser's side; owner is the analyser. */
int split_new(const struct engine_cfg *cfg, struct engine *owner, struct split **out,
	      struct fa_err *err);
void split_free(struct split *sp);
/* A copy of the frame goes to the classifier; the analyser runs
   engine_analyse_frame() on it once the classifier is past it. */
void split_frame(struct split *sp, const struct source_frame *fr);
/* Every frame is sent: the analyser catches up, the classifier ends its
   flows and stops. */
void split_finish(struct split *sp);
/*
 * The classification of flow id reached at or before frame seq, when there
 * is one: waits until the classifier has passed frame seq, then takes it
 * (true) or leaves it for a later frame. UINT64_MAX: after the last frame.
 */
bool split_take(struct split *sp, uint64_t id, uint64_t seq, struct split_result *out);

/* The classifier's side, called from its engine. */
void split_publish(struct split *sp, uint64_t id, uint64_t seq, const struct split_result *res);

/* The analyser's part of one frame (engine.c). */
void engine_analyse_frame(struct engine *e, const struct source_frame *fr);
/* An engine that only classifies and publishes to sp (engine.c). */
int engine_new_classifier(const struct engine_cfg *cfg, struct split *sp, struct engine **out,
			  struct fa_err *err);

#endif
