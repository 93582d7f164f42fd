/*
 * strpool.c - a hash set of strings carved from large blocks.
 *
 * Open addressing with linear probing over a power-of-two table that doubles
 * at 50% load; strings are copied into 64 KiB blocks (longer ones get a block
 * of their own) so interning costs one hash and, for a new string, one copy.
 */
#include "flowaudit/strpool.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 65536

struct block {
	struct block *next;
	size_t used, size;
	char data[];
};

struct strpool {
	const char **slots;
	uint32_t *hashes;
	size_t cap, count;
	struct block *blocks;
	size_t bytes, max_bytes;
	uint64_t refused;
};

static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

struct strpool *strpool_new(size_t max_bytes)
{
	struct strpool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->cap = 1024;
	p->slots = calloc(p->cap, sizeof(*p->slots));
	p->hashes = calloc(p->cap, sizeof(*p->hashes));
	p->max_bytes = max_bytes ? max_bytes : (size_t)256 << 20;
	if (p->slots == NULL || p->hashes == NULL) {
		strpool_free(p);
		return NULL;
	}
	return p;
}

void strpool_free(struct strpool *p)
{
	if (p == NULL)
		return;
	struct block *b = p->blocks;
	while (b != NULL) {
		struct block *n = b->next;
		free(b);
		b = n;
	}
	free(p->slots);
	free(p->hashes);
	free(p);
}

static bool grow(struct strpool *p)
{
	size_t ncap = p->cap * 2;
	const char **ns = calloc(ncap, sizeof(*ns));
	uint32_t *nh = calloc(ncap, sizeof(*nh));
	if (ns == NULL || nh == NULL) {
		free(ns);
		free(nh);
		return false;
	}
	for (size_t i = 0; i < p->cap; i++) {
		if (p->slots[i] == NULL)
			continue;
		size_t j = p->hashes[i] & (ncap - 1);
		while (ns[j] != NULL)
			j = (j + 1) & (ncap - 1);
		ns[j] = p->slots[i];
		nh[j] = p->hashes[i];
	}
	free(p->slots);
	free(p->hashes);
	p->slots = ns;
	p->hashes = nh;
	p->cap = ncap;
	return true;
}

static char *carve(struct strpool *p, size_t n)
{
	struct block *b = p->blocks;
	if (b == NULL || b->size - b->used < n) {
		size_t sz = n > BLOCK_SIZE ? n : BLOCK_SIZE;
		b = malloc(sizeof(*b) + sz);
		if (b == NULL)
			return NULL;
		b->size = sz;
		b->used = 0;
		/* keep the partly used block in front only if the new one is a one-off */
		if (n > BLOCK_SIZE && p->blocks != NULL) {
			b->next = p->blocks->next;
			p->blocks->next = b;
		} else {
			b->next = p->blocks;
			p->blocks = b;
		}
	}
	char *q = b->data + b->used;
	b->used += n;
	return q;
}

const char *strpool_intern_n(struct strpool *p, const char *s, size_t len)
{
	uint32_t h = hash_bytes(s, len);
	size_t j = h & (p->cap - 1);
	while (p->slots[j] != NULL) {
		if (p->hashes[j] == h && strncmp(p->slots[j], s, len) == 0 &&
		    p->slots[j][len] == '\0')
			return p->slots[j];
		j = (j + 1) & (p->cap - 1);
	}
	if (p->bytes + len + 1 > p->max_bytes) {
		p->refused++;
		return NULL;
	}
	if ((p->count + 1) * 2 > p->cap) {
		if (!grow(p)) {
			p->refused++;
			return NULL;
		}
		j = h & (p->cap - 1);
		while (p->slots[j] != NULL)
			j = (j + 1) & (p->cap - 1);
	}
	char *q = carve(p, len + 1);
	if (q == NULL) {
		p->refused++;
		return NULL;
	}
	memcpy(q, s, len);
	q[len] = '\0';
	p->slots[j] = q;
	p->hashes[j] = h;
	p->count++;
	p->bytes += len + 1;
	return q;
}

const char *strpool_intern(struct strpool *p, const char *s)
{
	return s ? strpool_intern_n(p, s, strlen(s)) : NULL;
}

size_t strpool_bytes(const struct strpool *p) { return p->bytes; }
uint64_t strpool_refused(const struct strpool *p) { return p->refused; }
