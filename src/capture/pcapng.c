/*
 * pcapng.c - a minimal pcapng writer: SHB, one IDB, EPBs.
 *
 * Receives frames with their timestamps; hands on files any pcapng reader
 * opens (block layout per draft-ietf-opsawg-pcapng). Each file gets its
 * own Section Header and Interface Description block, so a rotated file
 * stands alone. Blocks are written in host byte order, which the SHB's
 * byte-order magic announces.
 */
#include "flowaudit/pcapng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 10000

struct pcapng_writer {
	struct pcapng_opts o;
	FILE *fp;
	char **paths;
	size_t n_paths;
	uint64_t bytes, frames;
	fa_time opened_at;
	char *base, *ext;
};

static int put(struct pcapng_writer *w, const void *p, size_t n, struct fa_err *err)
{
	if (fwrite(p, 1, n, w->fp) != n) {
		fa_err_set(err, "%s: write failed: %s", w->paths[w->n_paths - 1], strerror(errno));
		return FA_ERUNTIME;
	}
	w->bytes += n;
	return FA_OK;
}

static int put32(struct pcapng_writer *w, uint32_t v, struct fa_err *err) { return put(w, &v, 4, err); }

static int put_option(struct pcapng_writer *w, uint16_t code, const char *s, struct fa_err *err)
{
	uint16_t len = (uint16_t)strlen(s);
	uint16_t hdr[2] = {code, len};
	static const uint8_t pad[4];
	int rc = put(w, hdr, 4, err);
	if (rc == FA_OK)
		rc = put(w, s, len, err);
	if (rc == FA_OK && (len & 3))
		rc = put(w, pad, 4 - (len & 3), err);
	return rc;
}

static size_t option_size(const char *s)
{
	size_t len = strlen(s);
	return 4 + ((len + 3) & ~(size_t)3);
}

static int start_file(struct pcapng_writer *w, fa_time now, struct fa_err *err)
{
	char path[4096];
	if (w->n_paths == 0)
		snprintf(path, sizeof(path), "%s", w->o.path);
	else
		snprintf(path, sizeof(path), "%s-%zu%s", w->base, w->n_paths + 1, w->ext);
	if (w->n_paths >= MAX_FILES) {
		fa_err_set(err, "%s: more than %d rotated files", w->o.path, MAX_FILES);
		return FA_ERUNTIME;
	}
	char **np = realloc(w->paths, (w->n_paths + 1) * sizeof(*np));
	if (np == NULL)
		return FA_ERUNTIME;
	w->paths = np;
	w->paths[w->n_paths] = strdup(path);
	if (w->paths[w->n_paths] == NULL)
		return FA_ERUNTIME;
	w->n_paths++;
	w->fp = fopen(path, "wb");
	if (w->fp == NULL) {
		fa_err_set(err, "%s: cannot write: %s", path, strerror(errno));
		return FA_ERUNTIME;
	}
	w->bytes = 0;
	w->frames = 0;
	w->opened_at = now;
	/* Section Header Block */
	const char *app = "flowaudit";
	uint32_t shb_len = 28 + (uint32_t)option_size(app) + 4;
	int rc = put32(w, 0x0A0D0D0A, err);
	if (rc == FA_OK) rc = put32(w, shb_len, err);
	if (rc == FA_OK) rc = put32(w, 0x1A2B3C4D, err);
	uint16_t ver[2] = {1, 0};
	if (rc == FA_OK) rc = put(w, ver, 4, err);
	int64_t sect_len = -1;
	if (rc == FA_OK) rc = put(w, &sect_len, 8, err);
	if (rc == FA_OK) rc = put_option(w, 4, app, err); /* shb_userappl */
	if (rc == FA_OK) rc = put32(w, 0, err);             /* opt_endofopt */
	if (rc == FA_OK) rc = put32(w, shb_len, err);
	/* Interface Description Block */
	const char *ifn = w->o.iface ? w->o.iface : "capture";
	uint32_t idb_len = 20 + (uint32_t)option_size(ifn) + 4;
	if (rc == FA_OK) rc = put32(w, 1, err);
	if (rc == FA_OK) rc = put32(w, idb_len, err);
	uint16_t lt[2] = {(uint16_t)w->o.linktype, 0};
	if (rc == FA_OK) rc = put(w, lt, 4, err);
	if (rc == FA_OK) rc = put32(w, w->o.snaplen, err);
	if (rc == FA_OK) rc = put_option(w, 2, ifn, err); /* if_name */
	if (rc == FA_OK) rc = put32(w, 0, err);
	if (rc == FA_OK) rc = put32(w, idb_len, err);
	if (rc == FA_OK && fflush(w->fp) != 0) {
		fa_err_set(err, "%s: write failed: %s", path, strerror(errno));
		rc = FA_ERUNTIME;
	}
	return rc;
}

int pcapng_writer_open(const struct pcapng_opts *o, struct pcapng_writer **out, struct fa_err *err)
{
	*out = NULL;
	struct pcapng_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return FA_ERUNTIME;
	w->o = *o;
	if (w->o.snaplen == 0)
		w->o.snaplen = 262144;
	w->base = strdup(o->path);
	const char *dot = strrchr(o->path, '.');
	const char *slash = strrchr(o->path, '/');
	if (dot != NULL && (slash == NULL || dot > slash)) {
		w->ext = strdup(dot);
		if (w->base)
			w->base[dot - o->path] = '\0';
	} else {
		w->ext = strdup("");
	}
	int rc = (w->base && w->ext) ? start_file(w, 0, err) : FA_ERUNTIME;
	if (rc != FA_OK) {
		pcapng_writer_free(w);
		return rc;
	}
	*out = w;
	return FA_OK;
}

int pcapng_writer_packet(struct pcapng_writer *w, fa_time ts, const uint8_t *data, uint32_t caplen,
			 uint32_t wirelen, uint32_t *file, uint64_t *frame, struct fa_err *err)
{
	if (w->fp == NULL)
		return FA_ERUNTIME;
	if (w->opened_at == 0)
		w->opened_at = ts;
	bool rotate = (w->o.rotate_bytes && w->bytes >= w->o.rotate_bytes) ||
		      (w->o.rotate_seconds && ts - w->opened_at >= (fa_time)w->o.rotate_seconds * 1000000);
	if (rotate && w->frames > 0) {
		if (fclose(w->fp) != 0) {
			w->fp = NULL;
			fa_err_set(err, "%s: close failed: %s", w->paths[w->n_paths - 1], strerror(errno));
			return FA_ERUNTIME;
		}
		w->fp = NULL;
		int rc = start_file(w, ts, err);
		if (rc != FA_OK)
			return rc;
	}
	uint32_t padded = (caplen + 3) & ~3u;
	uint32_t len = 32 + padded;
	uint64_t t = (uint64_t)ts;
	uint32_t hdr[7] = {6, len, 0, (uint32_t)(t >> 32), (uint32_t)t, caplen, wirelen};
	static const uint8_t pad[4];
	int rc = put(w, hdr, sizeof(hdr), err);
	if (rc == FA_OK) rc = put(w, data, caplen, err);
	if (rc == FA_OK && padded != caplen) rc = put(w, pad, padded - caplen, err);
	if (rc == FA_OK) rc = put32(w, len, err);
	if (rc != FA_OK)
		return rc;
	w->frames++;
	if (file)
		*file = (uint32_t)(w->n_paths - 1);
	if (frame)
		*frame = w->frames;
	return FA_OK;
}

size_t pcapng_writer_file_count(const struct pcapng_writer *w) { return w->n_paths; }

const char *pcapng_writer_path(const struct pcapng_writer *w, size_t i)
{
	return i < w->n_paths ? w->paths[i] : NULL;
}

int pcapng_writer_close(struct pcapng_writer *w, struct fa_err *err)
{
	if (w == NULL || w->fp == NULL)
		return FA_OK;
	int rc = fclose(w->fp) == 0 ? FA_OK : FA_ERUNTIME;
	if (rc != FA_OK)
		fa_err_set(err, "%s: close failed: %s", w->paths[w->n_paths - 1], strerror(errno));
	w->fp = NULL;
	return rc;
}

void pcapng_writer_free(struct pcapng_writer *w)
{
	if (w == NULL)
		return;
	if (w->fp)
		fclose(w->fp);
	for (size_t i = 0; i < w->n_paths; i++)
		free(w->paths[i]);
	free(w->paths);
	free(w->base);
	free(w->ext);
	free(w);
}
