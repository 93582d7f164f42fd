/*
 * hash.c - MD5, SHA-1 and SHA-256 through OpenSSL 3's libcrypto (EVP).
 *
 * Receives byte strings in any number of pieces; hands back digests. Owns
 * the libcrypto digest context of each running hash, from init() to
 * final(), and the three algorithm objects, fetched once per process from
 * the default provider (a fetch per init() would cost more than hashing an
 * identifier). Workload: identifiers of a few dozen bytes when the
 * identifier scanner is built, and whole files (captures of hundreds of MB)
 * for the report's manifest, read in 256 KiB pieces with read(2) so that
 * libcrypto's SHA-NI/AVX code runs on large buffers.
 */
#include "flowaudit/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ALG_MD5, ALG_SHA1, ALG_SHA256, N_ALGS };

static EVP_MD *algs[N_ALGS];
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void fetch_algs(void)
{
	algs[ALG_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	algs[ALG_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
	algs[ALG_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* A new digest context for alg, or NULL. */
static EVP_MD_CTX *md_start(int alg)
{
	pthread_once(&algs_once, fetch_algs);
	if (algs[alg] == NULL)
		return NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md != NULL && EVP_DigestInit_ex2(md, algs[alg], NULL) != 1) {
		EVP_MD_CTX_free(md);
		md = NULL;
	}
	return md;
}

static bool md_update(EVP_MD_CTX *md, bool *failed, const void *data, size_t len)
{
	if (!*failed && (md == NULL || EVP_DigestUpdate(md, data, len) != 1))
		*failed = true;
	return !*failed;
}

/* The digest into out (n bytes; zeros when the context failed); frees md. */
static bool md_finish(EVP_MD_CTX **md, bool *failed, uint8_t *out, size_t n)
{
	unsigned got = 0;
	if (!*failed && (*md == NULL || EVP_DigestFinal_ex(*md, out, &got) != 1 || got != n))
		*failed = true;
	if (*failed)
		memset(out, 0, n);
	EVP_MD_CTX_free(*md);
	*md = NULL;
	return !*failed;
}

/* The three hashes differ only in their algorithm and digest length. */
#define HASH_FUNCS(name, alg, len)                                                        \
	bool name##_init(struct name##_ctx *c)                                            \
	{                                                                                 \
		c->md = md_start(alg);                                                    \
		c->failed = c->md == NULL;                                                \
		return !c->failed;                                                        \
	}                                                                                 \
	bool name##_update(struct name##_ctx *c, const void *data, size_t n)              \
	{                                                                                 \
		return md_update(c->md, &c->failed, data, n);                             \
	}                                                                                 \
	bool name##_final(struct name##_ctx *c, uint8_t out[len])                         \
	{                                                                                 \
		return md_finish(&c->md, &c->failed, out, len);                           \
	}

HASH_FUNCS(md5, ALG_MD5, MD5_DIGEST_LEN)
HASH_FUNCS(sha1, ALG_SHA1, SHA1_DIGEST_LEN)
HASH_FUNCS(sha256, ALG_SHA256, SHA256_DIGEST_LEN)

void hash_hex(const uint8_t *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

#define FILE_CHUNK (256 * 1024)

int sha256_file(const char *path, char hex[65], struct fa_err *err)
{
	hex[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "%s: cannot open: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	static _Thread_local uint8_t buf[FILE_CHUNK];
	struct sha256_ctx c;
	sha256_init(&c);
	ssize_t n;
	int rc = FA_OK;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fa_err_set(err, "%s: read error: %s", path, strerror(errno));
			rc = FA_ERUNTIME;
			break;
		}
		sha256_update(&c, buf, (size_t)n);
	}
	close(fd);
	uint8_t d[SHA256_DIGEST_LEN];
	if (!sha256_final(&c, d) && rc == FA_OK) {
		fa_err_set(err, "%s: libcrypto could not compute SHA-256", path);
		rc = FA_ERUNTIME;
	}
	if (rc == FA_OK)
		hash_hex(d, sizeof(d), hex);
	return rc;
}

/*
 * A stream whose bytes go to the file and through SHA-256 on the way. A
 * thread of the stream's own hashes and writes each buffer the stream
 * hands on while the writer fills the next (without that thread, the
 * writer does both itself).
 */
#define HASHED_SLOTS 4

struct hashed_slot {
	char *data;
	size_t len, cap;
};

struct hashed {
	int fd;
	struct sha256_ctx ctx;
	char *hex; /* the digest, on close */
	bool threaded;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled, drained;
	struct hashed_slot slot[HASHED_SLOTS];
	size_t head, count; /* the buffers waiting: head onwards, in a ring */
	bool closing;
	int error; /* errno of the first failure, 0 */
};

/* Hashes and writes one buffer: 0, or an errno. */
static int hashed_put(struct hashed *h, const char *buf, size_t size)
{
	if (!sha256_update(&h->ctx, buf, size))
		return EIO;
	for (size_t done = 0; done < size;) {
		ssize_t n = write(h->fd, buf + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		done += (size_t)n;
	}
	return 0;
}

static void *hashed_main(void *arg)
{
	struct hashed *h = arg;
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->count == 0 && !h->closing)
			pthread_cond_wait(&h->filled, &h->lock);
		if (h->count == 0)
			break;
		struct hashed_slot *s = &h->slot[h->head];
		bool failed = h->error != 0;
		pthread_mutex_unlock(&h->lock);
		int e = failed ? 0 : hashed_put(h, s->data, s->len);
		pthread_mutex_lock(&h->lock);
		if (e != 0 && h->error == 0)
			h->error = e;
		h->head = (h->head + 1) % HASHED_SLOTS;
		h->count--;
		pthread_cond_signal(&h->drained);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static ssize_t hashed_write(void *cookie, const char *buf, size_t size)
{
	struct hashed *h = cookie;
	int e = 0;
	if (!h->threaded) {
		e = hashed_put(h, buf, size);
	} else {
		pthread_mutex_lock(&h->lock);
		while (h->count == HASHED_SLOTS)
			pthread_cond_wait(&h->drained, &h->lock);
		e = h->error;
		/* not counted yet, so the thread leaves it alone */
		struct hashed_slot *s = &h->slot[(h->head + h->count) % HASHED_SLOTS];
		pthread_mutex_unlock(&h->lock);
		if (e == 0 && s->cap < size) {
			char *nd = realloc(s->data, size);
			if (nd == NULL)
				e = ENOMEM;
			else {
				s->data = nd;
				s->cap = size;
			}
		}
		if (e == 0) {
			memcpy(s->data, buf, size);
			s->len = size;
			pthread_mutex_lock(&h->lock);
			h->count++;
			pthread_cond_signal(&h->filled);
			pthread_mutex_unlock(&h->lock);
		}
	}
	if (e != 0) {
		errno = e;
		return -1;
	}
	return (ssize_t)size;
}

static void hashed_free(struct hashed *h)
{
	if (h->threaded) {
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->filled);
		pthread_cond_destroy(&h->drained);
	}
	for (size_t i = 0; i < HASHED_SLOTS; i++)
		free(h->slot[i].data);
	free(h);
}

static int hashed_close(void *cookie)
{
	struct hashed *h = cookie;
	int e = 0;
	if (h->threaded) {
		pthread_mutex_lock(&h->lock);
		h->closing = true;
		pthread_cond_signal(&h->filled);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
		e = h->error;
	}
	uint8_t d[SHA256_DIGEST_LEN];
	bool ok = sha256_final(&h->ctx, d);
	if (ok && e == 0)
		hash_hex(d, sizeof(d), h->hex);
	else
		h->hex[0] = '\0';
	int rc = close(h->fd);
	hashed_free(h);
	if (e != 0)
		errno = e;
	return ok && e == 0 && rc == 0 ? 0 : -1;
}

FILE *sha256_fopen_write(const char *path, char hex[65])
{
	struct hashed *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->hex = hex;
	h->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (h->fd < 0 || !sha256_init(&h->ctx)) {
		int e = h->fd < 0 ? errno : EIO;
		if (h->fd >= 0) {
			uint8_t d[SHA256_DIGEST_LEN];
			sha256_final(&h->ctx, d);
			close(h->fd);
		}
		free(h);
		errno = e;
		return NULL;
	}
	cookie_io_functions_t io = {.write = hashed_write, .close = hashed_close};
	FILE *fp = fopencookie(h, "w", io);
	if (fp == NULL) {
		uint8_t d[SHA256_DIGEST_LEN];
		sha256_final(&h->ctx, d);
		close(h->fd);
		free(h);
		return NULL;
	}
	if (pthread_mutex_init(&h->lock, NULL) == 0) {
		if (pthread_cond_init(&h->filled, NULL) == 0) {
			if (pthread_cond_init(&h->drained, NULL) == 0) {
				h->threaded = pthread_create(&h->thread, NULL, hashed_main, h) == 0;
				if (!h->threaded)
					pthread_cond_destroy(&h->drained);
			}
			if (!h->threaded)
				pthread_cond_destroy(&h->filled);
		}
		if (!h->threaded)
			pthread_mutex_destroy(&h->lock);
	}
	return fp;
}
