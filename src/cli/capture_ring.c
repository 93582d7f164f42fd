/*
 * capture_ring.c - `capture`'s reading thread: frames from the interface
 * to the capture file, then to the analysis through a ring in memory.
 *
 * Receives an open live source and the capture file's writer; hands on
 * each frame, numbered as the file numbers it, to the thread that calls
 * capture_ring_take() (the analysis). Owns the reading thread and the
 * ring: frames copied one after another into RING_BYTES, each behind its
 * header, wrapping at the end.
 *
 * Why a thread: the analysis of a frame (nDPI, the flow's end, a finding
 * written) takes far longer than reading it, and not evenly. Read in the
 * same thread, every slow stretch left the kernel's ring to fill, and it
 * dropped what did not fit. The reading thread keeps the kernel's ring
 * empty and writes the capture file at its own pace, while the analysis
 * catches up from RING_BYTES more; when even that is full, the reading
 * thread waits and the kernel's ring fills as before. Either way a drop
 * is only ever the kernel's, counted by pcap_stats and reported.
 */
#include "capture_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING_BYTES ((size_t)64 << 20)
#define WAIT_MS 100          /* the longest the reader sleeps on a silent link */
#define DRAIN_MAX_US 1000000 /* buffered frames are taken this long after the stop */
#define STATS_US 250000      /* the kernel's counters, read this often */
#define WAKE_EVERY 64        /* a sleeping taker is woken after this many frames */

/* A frame in the ring: this, then caplen bytes, padded to 8. */
struct rec {
	uint64_t len;        /* bytes of the record, header included; 0: wrap to the start */
	struct source_frame fr;
	uint64_t bad_timestamps;
};

struct capture_ring {
	struct source *src;
	struct pcapng_writer *w;
	pthread_t thread;
	bool started;
	uint8_t *buf;
	/*
	 * Bytes written and bytes given back, counted from the start: the
	 * ring holds wpos - rpos bytes, at offsets modulo RING_BYTES. Only
	 * the reader moves wpos and only the taker moves rpos, each after its
	 * bytes are in place (release), so neither needs a lock.
	 */
	_Atomic size_t wpos, rpos;
	size_t taken;              /* bytes the taker's last frame holds */
	_Atomic bool stop, done;
	_Atomic bool sleeping;     /* the taker waits on wake[0] */
	int wake[2];               /* a pipe: a byte when a frame comes or the reading ends */
	pthread_mutex_t mu;        /* guards what follows */
	int rc;                    /* FA_OK, or why the reading stopped */
	struct fa_err err;
	struct source_live_stats stats;
	struct source_file_info view; /* the taker's view of the file (time stamps clamped) */
};

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t rec_len(uint32_t caplen)
{
	return (sizeof(struct rec) + caplen + 7) & ~(size_t)7;
}

/* Wakes the taker if it sleeps (after wpos moved, so it sees the frame). */
static void wake_taker(struct capture_ring *r)
{
	if (!atomic_exchange(&r->sleeping, false))
		return;
	char c = 1;
	ssize_t k = write(r->wake[1], &c, 1);
	(void)k; /* a full pipe wakes it as well */
}

/*
 * Copies fr into the ring, waiting while it is full. A frame that does
 * not fit before the end leaves a zero length there (the rest of the lap
 * is padding) and starts at offset 0 of the next lap.
 */
static void put(struct capture_ring *r, const struct source_frame *fr, uint64_t bad)
{
	size_t n = rec_len(fr->caplen);
	size_t w = atomic_load_explicit(&r->wpos, memory_order_relaxed);
	size_t at = w % RING_BYTES, pad = RING_BYTES - at < n ? RING_BYTES - at : 0;
	/* room for the padding and the frame: the taker gives bytes back as it goes */
	while (w + pad + n - atomic_load_explicit(&r->rpos, memory_order_acquire) > RING_BYTES) {
		wake_taker(r);
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
	}
	if (pad) {
		uint64_t zero = 0;
		memcpy(r->buf + at, &zero, sizeof(zero));
		at = 0;
	}
	uint8_t *p = r->buf + at;
	struct rec h = {.len = n, .fr = *fr, .bad_timestamps = bad};
	h.fr.data = NULL;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), fr->data, fr->caplen);
	atomic_store_explicit(&r->wpos, w + pad + n, memory_order_release);
}

/* One frame to the capture file, then to the ring under its number there. */
static int keep(struct capture_ring *r, struct source_frame *fr)
{
	uint32_t file;
	uint64_t frame;
	int rc = pcapng_writer_packet(r->w, fr->ts, fr->data, fr->caplen, fr->wirelen, &file, &frame,
				      &r->err);
	if (rc != FA_OK)
		return rc;
	fr->file = file;
	fr->frame = frame;
	put(r, fr, source_file(r->src, 0)->bad_timestamps);
	return FA_OK;
}

static void publish_stats(struct capture_ring *r)
{
	struct source_live_stats ls;
	source_live_stats(r->src, &ls);
	pthread_mutex_lock(&r->mu);
	r->stats = ls;
	pthread_mutex_unlock(&r->mu);
}

static void *reader_main(void *arg)
{
	struct capture_ring *r = arg;
	int rc = FA_OK;
	int64_t stats_at = 0;
	unsigned since_wake = 0;
	for (;;) {
		if (atomic_load(&r->stop))
			break;
		if (mono_us() - stats_at >= STATS_US) {
			publish_stats(r);
			stats_at = mono_us();
		}
		struct source_frame fr;
		int n = source_next(r->src, &fr, &r->err);
		if (n == 2) {
			/* the taker sees a burst at once, not frame by frame */
			wake_taker(r);
			since_wake = 0;
			n = source_wait(r->src, -1, WAIT_MS, &r->err);
			if (n < 0) {
				rc = n;
				break;
			}
			continue;
		}
		if (n <= 0) {
			rc = n;
			break;
		}
		rc = keep(r, &fr);
		if (rc != FA_OK)
			break;
		if (++since_wake == WAKE_EVERY) {
			wake_taker(r);
			since_wake = 0;
		}
	}
	/* frames already in the kernel buffer when the capture was told to stop
	   were received: take them too, so that none is counted and lost */
	int64_t until = mono_us() + DRAIN_MAX_US;
	for (size_t k = 0; rc == FA_OK; k++) {
		struct source_frame fr;
		if ((k & 1023) == 1023 && mono_us() > until)
			break;
		struct fa_err e = {""};
		if (source_next(r->src, &fr, &e) != 1)
			break;
		rc = keep(r, &fr);
	}
	publish_stats(r);
	pthread_mutex_lock(&r->mu);
	r->rc = rc;
	pthread_mutex_unlock(&r->mu);
	atomic_store(&r->done, true);
	wake_taker(r);
	return NULL;
}

int capture_ring_start(struct source *src, struct pcapng_writer *w, struct capture_ring **out,
		       struct fa_err *err)
{
	*out = NULL;
	struct capture_ring *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->buf = malloc(RING_BYTES)) == NULL) {
		free(r);
		fa_err_set(err, "out of memory for the capture ring");
		return FA_ERUNTIME;
	}
	r->src = src;
	r->w = w;
	pthread_mutex_init(&r->mu, NULL);
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		r->wake[0] = r->wake[1] = -1;
		capture_ring_free(r);
		fa_err_set(err, "cannot make the capture thread's pipe: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
		capture_ring_free(r);
		fa_err_set(err, "cannot start the capture thread");
		return FA_ERUNTIME;
	}
	r->started = true;
	*out = r;
	return FA_OK;
}

int capture_ring_take(struct capture_ring *r, int timeout_ms, int other_fd,
		      struct source_frame *fr, const struct source_file_info **fi)
{
	/* the frame taken last is done with: its bytes go back to the reader */
	size_t rd = atomic_load_explicit(&r->rpos, memory_order_relaxed) + r->taken;
	r->taken = 0;
	atomic_store_explicit(&r->rpos, rd, memory_order_release);
	size_t w = atomic_load_explicit(&r->wpos, memory_order_acquire);
	if (w == rd && timeout_ms > 0 && !atomic_load(&r->done)) {
		atomic_store(&r->sleeping, true);
		/* a frame may have come between the look and the flag */
		w = atomic_load_explicit(&r->wpos, memory_order_acquire);
		if (w == rd && !atomic_load(&r->done)) {
			struct pollfd pf[2] = {{.fd = r->wake[0], .events = POLLIN},
					       {.fd = other_fd, .events = POLLIN}};
			poll(pf, other_fd >= 0 ? 2 : 1, timeout_ms);
		}
		atomic_store(&r->sleeping, false);
		char drain[64];
		while (read(r->wake[0], drain, sizeof(drain)) > 0)
			;
		w = atomic_load_explicit(&r->wpos, memory_order_acquire);
	}
	if (w == rd) {
		/* done is set after the last frame's wpos: look again once done */
		if (!atomic_load(&r->done))
			return 2;
		w = atomic_load_explicit(&r->wpos, memory_order_acquire);
		if (w == rd)
			return 0;
	}
	size_t at = rd % RING_BYTES;
	uint64_t len;
	memcpy(&len, r->buf + at, sizeof(len));
	if (len == 0) { /* the padding before a wrap: on to the next lap */
		rd += RING_BYTES - at;
		atomic_store_explicit(&r->rpos, rd, memory_order_release);
		at = 0;
	}
	const uint8_t *p = r->buf + at;
	struct rec h;
	memcpy(&h, p, sizeof(h));
	*fr = h.fr;
	fr->data = p + sizeof(h);
	r->view.bad_timestamps = h.bad_timestamps;
	*fi = &r->view;
	r->taken = h.len;
	return 1;
}

void capture_ring_stop(struct capture_ring *r) { atomic_store(&r->stop, true); }

int capture_ring_result(struct capture_ring *r, struct source_live_stats *stats,
			struct fa_err *err)
{
	pthread_mutex_lock(&r->mu);
	int rc = r->rc;
	if (stats != NULL)
		*stats = r->stats;
	if (rc != FA_OK && err != NULL)
		*err = r->err;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void capture_ring_free(struct capture_ring *r)
{
	if (r == NULL)
		return;
	if (r->started) {
		capture_ring_stop(r);
		/* the reader may wait for room: give all of it back */
		while (!atomic_load(&r->done)) {
			atomic_store(&r->rpos, atomic_load(&r->wpos));
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
		pthread_join(r->thread, NULL);
	}
	pthread_mutex_destroy(&r->mu);
	for (int i = 0; i < 2; i++)
		if (r->wake[i] >= 0)
			close(r->wake[i]);
	free(r->buf);
	free(r);
}
