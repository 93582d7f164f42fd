/*
 * pcapng.c - a minimal pcapng writer: SHB, one IDB, EPBs.
 *
 * Receives frames with their timestamps; hands on files any pcapng reader
 * opens (block layout per draft-ietf-opsawg-pcapng). Each file gets its
 * own Section Header and Interface Description block, so a rotated file
 * stands alone. Blocks are written in host byte order, which the SHB's
 * byte-order magic announces.
 *
 * Also the blocks of an evidence file (evidence.c): nanosecond time stamps
 * and, before its packets, a Decryption Secrets Block of TLS key log lines;
 * and of the evidence pack, whose packets carry comments and come from as
 * many interfaces as the captures have link types.
 */
#include "flowaudit/pcapng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 10000

#define WRITE_BUF (256u << 10)

struct pcapng_writer {
	struct pcapng_opts o;
	FILE *fp;
	char **paths;
	size_t n_paths;
	uint64_t bytes, frames;
	fa_time opened_at;
	char *base, *ext;
};

/* ---- blocks, onto a stream: each returns its length, 0 on a write error ---- */

/* Each stream here is written by one thread only (the capture's writer, a
   finding's file, the evidence pack), and a packet is five to seven writes:
   stdio's lock taken for each is a tenth of the pack's cost. */
static bool fput(FILE *fp, const void *p, size_t n) { return fwrite_unlocked(p, 1, n, fp) == n; }
static bool fput32(FILE *fp, uint32_t v) { return fput(fp, &v, 4); }

static bool fput_pad(FILE *fp, size_t len)
{
	static const uint8_t pad[4];
	return (len & 3) == 0 || fput(fp, pad, 4 - (len & 3));
}

static bool fput_option(FILE *fp, uint16_t code, const void *v, uint16_t len)
{
	uint16_t hdr[2] = {code, len};
	return fput(fp, hdr, 4) && fput(fp, v, len) && fput_pad(fp, len);
}

static size_t option_size(size_t len) { return 4 + ((len + 3) & ~(size_t)3); }

/* Section Header Block naming flowaudit; its length, 0 on a write error. */
static size_t put_shb(FILE *fp)
{
	const char *app = "flowaudit";
	uint32_t shb_len = 28 + (uint32_t)option_size(strlen(app)) + 4;
	uint16_t ver[2] = {1, 0};
	int64_t sect_len = -1;
	bool ok = fput32(fp, 0x0A0D0D0A) && fput32(fp, shb_len) && fput32(fp, 0x1A2B3C4D) &&
		  fput(fp, ver, 4) && fput(fp, &sect_len, 8) &&
		  fput_option(fp, 4, app, (uint16_t)strlen(app)) && /* shb_userappl */
		  fput32(fp, 0) && fput32(fp, shb_len);             /* opt_endofopt */
	return ok ? shb_len : 0;
}

/* Interface Description Block; tsresol 9 records nanosecond time stamps, 0
   leaves the microsecond default. */
static size_t put_idb(FILE *fp, int linktype, uint32_t snaplen, const char *iface, uint8_t tsresol)
{
	uint32_t idb_len = 20 + (uint32_t)option_size(strlen(iface)) + 4 +
			   (tsresol ? (uint32_t)option_size(1) : 0);
	uint16_t lt[2] = {(uint16_t)linktype, 0};
	bool ok = fput32(fp, 1) && fput32(fp, idb_len) && fput(fp, lt, 4) && fput32(fp, snaplen) &&
		  fput_option(fp, 2, iface, (uint16_t)strlen(iface)) &&  /* if_name */
		  (tsresol == 0 || fput_option(fp, 9, &tsresol, 1)) && /* if_tsresol */
		  fput32(fp, 0) && fput32(fp, idb_len);
	return ok ? idb_len : 0;
}

static size_t put_head(FILE *fp, int linktype, uint32_t snaplen, const char *iface,
		       uint8_t tsresol)
{
	size_t shb = put_shb(fp);
	size_t idb = shb ? put_idb(fp, linktype, snaplen, iface, tsresol) : 0;
	return idb ? shb + idb : 0;
}

/* Enhanced Packet Block on interface iface; ts in the interface's units;
   each of the n_comments comments an opt_comment. Its length, 0 on a
   write error. */
static size_t put_epb(FILE *fp, uint32_t iface, uint64_t ts, const uint8_t *data, uint32_t caplen,
		      uint32_t wirelen, const struct pcapng_comment *comments, size_t n_comments)
{
	uint32_t opts = 0;
	for (size_t i = 0; i < n_comments; i++)
		opts += (uint32_t)option_size(comments[i].len);
	if (n_comments)
		opts += 4; /* opt_endofopt */
	uint32_t len = 32 + ((caplen + 3) & ~3u) + opts;
	uint32_t hdr[7] = {6, len, iface, (uint32_t)(ts >> 32), (uint32_t)ts, caplen, wirelen};
	bool ok = fput(fp, hdr, sizeof(hdr)) && fput(fp, data, caplen) && fput_pad(fp, caplen);
	for (size_t i = 0; ok && i < n_comments; i++)
		ok = fput_option(fp, 1, comments[i].text, comments[i].len); /* opt_comment */
	ok = ok && (n_comments == 0 || fput32(fp, 0)) && fput32(fp, len);
	return ok ? len : 0;
}

/* Decryption Secrets Block of TLS key log text: its length, 0 on a write
   error or past PCAPNG_DSB_MAX. */
static size_t put_dsb(FILE *fp, const char *tls_keys, size_t keys_len)
{
	if (keys_len > PCAPNG_DSB_MAX)
		return 0;
	/* type, length of the secrets, the secrets */
	uint32_t len = 20 + (uint32_t)((keys_len + 3) & ~(size_t)3);
	bool ok = fput32(fp, PCAPNG_DSB) && fput32(fp, len) && fput32(fp, PCAPNG_DSB_TLS_KEYLOG) &&
		  fput32(fp, (uint32_t)keys_len) && fput(fp, tls_keys, keys_len) &&
		  fput_pad(fp, keys_len) && fput32(fp, len);
	return ok ? len : 0;
}

int pcapng_put_evidence_head(FILE *fp, int linktype, const char *tls_keys, size_t keys_len)
{
	if (put_head(fp, linktype, PCAPNG_EVIDENCE_SNAPLEN, "evidence", 9) == 0)
		return FA_ERUNTIME;
	return keys_len == 0 || put_dsb(fp, tls_keys, keys_len) ? FA_OK : FA_ERUNTIME;
}

int pcapng_put_evidence_packet(FILE *fp, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
			       uint32_t wirelen)
{
	return put_epb(fp, 0, ts_ns, data, caplen, wirelen, NULL, 0) ? FA_OK : FA_ERUNTIME;
}

size_t pcapng_put_pack_head(FILE *fp, const char *tls_keys, size_t keys_len)
{
	size_t shb = put_shb(fp);
	size_t dsb = shb && keys_len ? put_dsb(fp, tls_keys, keys_len) : 0;
	return shb && (keys_len == 0 || dsb) ? shb + dsb : 0;
}

size_t pcapng_put_pack_interface(FILE *fp, int linktype)
{
	return put_idb(fp, linktype, PCAPNG_EVIDENCE_SNAPLEN, "evidence", 9);
}

size_t pcapng_put_pack_packet(FILE *fp, uint32_t iface, uint64_t ts_ns, const uint8_t *data,
			      uint32_t caplen, uint32_t wirelen, const struct pcapng_comment *comments,
			      size_t n_comments)
{
	return put_epb(fp, iface, ts_ns, data, caplen, wirelen, comments, n_comments);
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
	/* one write call per WRITE_BUF of packets, not per 4 KiB: a capture
	   at a few hundred thousand packets a second */
	setvbuf(w->fp, NULL, _IOFBF, WRITE_BUF);
	w->frames = 0;
	w->opened_at = now;
	w->bytes = put_head(w->fp, w->o.linktype, w->o.snaplen, w->o.iface ? w->o.iface : "capture",
			    0);
	if (w->bytes == 0 || fflush(w->fp) != 0) {
		fa_err_set(err, "%s: write failed: %s", path, strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
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
	size_t n = put_epb(w->fp, 0, (uint64_t)ts, data, caplen, wirelen, NULL, 0);
	if (n == 0) {
		fa_err_set(err, "%s: write failed: %s", w->paths[w->n_paths - 1], strerror(errno));
		return FA_ERUNTIME;
	}
	w->bytes += n;
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
