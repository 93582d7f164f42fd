/*
 * capture_ring.h - `capture`'s reading thread (capture_ring.c): frames
 * from a live source to the capture file and on to the analysis, through
 * a ring in memory, so that the kernel's buffer is emptied at the pace
 * packets come and not at the pace they are analysed.
 */
#ifndef FLOWAUDIT_CAPTURE_RING_H
#define FLOWAUDIT_CAPTURE_RING_H

#include "flowaudit/pcapng.h"
#include "flowaudit/source.h"

struct capture_ring;

/* Starts the thread reading src (live) and writing each frame with w.
   Neither is touched by the caller until capture_ring_free(). */
int capture_ring_start(struct source *src, struct pcapng_writer *w, struct capture_ring **out,
		       struct fa_err *err);

/*
 * The next frame, numbered as the capture file numbers it (its bytes
 * valid until the next call), and *fi the file's counters as they stood
 * when it was read (for run_frame_time): 1. 2 when none came within
 * timeout_ms or other_fd (-1: none) became readable first; 0 once the
 * reading has ended and every frame was taken.
 */
int capture_ring_take(struct capture_ring *r, int timeout_ms, int other_fd,
		      struct source_frame *fr, const struct source_file_info **fi);

/* Stops the reading: the frames already in the kernel's buffer are still
   read (for up to a second), then capture_ring_take() returns 0. */
void capture_ring_stop(struct capture_ring *r);

/* The kernel's counters as last read, and FA_OK or why the reading
   stopped (an interface gone, the capture file not written: *err says). */
int capture_ring_result(struct capture_ring *r, struct source_live_stats *stats,
			struct fa_err *err);

/* Stops and joins the thread; NULL is a no-op. */
void capture_ring_free(struct capture_ring *r);

#endif
