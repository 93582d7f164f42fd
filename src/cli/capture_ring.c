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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING_BYTES ((size_t)64 << 20)
#define WAIT_MS 100          /* the longest the reader sleeps on a silent link */
#define DRAIN_MAX_US 1000000 /* buffered frames are taken this long after the stop */
#define STATS_US 250000      /* the kernel's counters, read this often */

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
	pthread_mutex_t mu;
	pthread_cond_t room;
	uint8_t *buf;
	size_t head, tail, used; /* write and read offsets; bytes in use */
	size_t taken;            /* bytes the reader's last take holds */
	bool stop, done;
	bool sleeping;           /* the taker waits on wake[0] */
	int wake[2];             /* a pipe: a byte when a frame comes or the reading ends */
	int rc;                  /* FA_OK, or why the reading stopped */
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

/* Wakes the taker if it sleeps. Called with mu held. */
static void wake_taker(struct capture_ring *r)
{
	if (!r->sleeping)
		return;
	r->sleeping = false;
	char c = 1;
	ssize_t k = write(r->wake[1], &c, 1);
	(void)k; /* a full pipe wakes it as well */
}

/*
 * Copies fr into the ring, waiting for room. The bytes in use run from
 * tail to head, around the end when head < tail; head never comes back
 * onto tail, so that head == tail means empty. A frame that does not fit
 * before the end leaves a zero length there and starts again at 0.
 */
static void put(struct capture_ring *r, const struct source_frame *fr, uint64_t bad)
{
	size_t n = rec_len(fr->caplen);
	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (r->used == 0) /* nothing held: start from the beginning */
			r->head = r->tail = 0;
		if (r->head >= r->tail) {
			size_t at_end = RING_BYTES - r->head;
			if (n < at_end || (n == at_end && r->tail > 0))
				break;
			if (n < r->tail) { /* wrap: the rest of the end is padding */
				uint64_t zero = 0;
				memcpy(r->buf + r->head, &zero, sizeof(zero));
				r->used += at_end;
				r->head = 0;
				break;
			}
		} else if (r->head + n < r->tail) {
			break;
		}
		pthread_cond_wait(&r->room, &r->mu);
	}
	uint8_t *p = r->buf + r->head;
	pthread_mutex_unlock(&r->mu);
	/* the bytes from head on are the writer's alone until it publishes them */
	struct rec h = {.len = n, .fr = *fr, .bad_timestamps = bad};
	h.fr.data = NULL;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), fr->data, fr->caplen);
	pthread_mutex_lock(&r->mu);
	r->head = (r->head + n) % RING_BYTES;
	r->used += n;
	wake_taker(r);
	pthread_mutex_unlock(&r->mu);
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
	for (;;) {
		pthread_mutex_lock(&r->mu);
		bool stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		if (mono_us() - stats_at >= STATS_US) {
			publish_stats(r);
			stats_at = mono_us();
		}
		struct source_frame fr;
		int n = source_next(r->src, &fr, &r->err);
		if (n == 2) {
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
	r->done = true;
	wake_taker(r);
	pthread_mutex_unlock(&r->mu);
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
	pthread_cond_init(&r->room, NULL);
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

/* Gives back the bytes of the frame taken last. Called with mu held. */
static void release(struct capture_ring *r)
{
	if (r->taken == 0)
		return;
	r->tail = (r->tail + r->taken) % RING_BYTES;
	r->used -= r->taken;
	r->taken = 0;
	pthread_cond_signal(&r->room);
}

int capture_ring_take(struct capture_ring *r, int timeout_ms, int other_fd,
		      struct source_frame *fr, const struct source_file_info **fi)
{
	pthread_mutex_lock(&r->mu);
	release(r);
	if (r->used == 0 && !r->done && timeout_ms > 0) {
		r->sleeping = true;
		pthread_mutex_unlock(&r->mu);
		struct pollfd pf[2] = {{.fd = r->wake[0], .events = POLLIN},
				       {.fd = other_fd, .events = POLLIN}};
		int k = poll(pf, other_fd >= 0 ? 2 : 1, timeout_ms);
		char drain[64];
		while (read(r->wake[0], drain, sizeof(drain)) > 0)
			;
		pthread_mutex_lock(&r->mu);
		r->sleeping = false;
		if (k > 0 && (pf[1].revents & POLLIN) && r->used == 0) {
			pthread_mutex_unlock(&r->mu);
			return 2; /* the other descriptor has something */
		}
	}
	int got;
	if (r->used > 0) {
		uint64_t len;
		memcpy(&len, r->buf + r->tail, sizeof(len));
		if (len == 0) { /* the padding before a wrap */
			r->used -= RING_BYTES - r->tail;
			r->tail = 0;
		}
	}
	if (r->used > 0) {
		const uint8_t *p = r->buf + r->tail;
		struct rec h;
		memcpy(&h, p, sizeof(h));
		*fr = h.fr;
		fr->data = p + sizeof(h);
		r->view.bad_timestamps = h.bad_timestamps;
		*fi = &r->view;
		r->taken = h.len;
		got = 1;
	} else {
		got = r->done ? 0 : 2;
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}

void capture_ring_stop(struct capture_ring *r)
{
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_mutex_unlock(&r->mu);
}

int capture_ring_result(struct capture_ring *r, struct source_live_stats *stats,
			struct fa_err *err)
{
	pthread_mutex_lock(&r->mu);
	int rc = r->done ? r->rc : FA_OK;
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
		/* the reader may wait for room: make all of it free */
		pthread_mutex_lock(&r->mu);
		while (!r->done) {
			r->taken = 0;
			r->head = r->tail = r->used = 0;
			pthread_cond_signal(&r->room);
			pthread_mutex_unlock(&r->mu);
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&r->mu);
		}
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->room);
	for (int i = 0; i < 2; i++)
		if (r->wake[i] >= 0)
			close(r->wake[i]);
	free(r->buf);
	free(r);
}
