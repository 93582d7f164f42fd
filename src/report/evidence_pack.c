/*
 * evidence_pack.c - the evidence of many findings as one pcapng, and a
 * finding's own capture cut back out of it.
 *
 * Receives the sets of flow ids (one per finding) and the flows, as
 * evidence.c does, and writes every packet that some set needs once, in
 * capture order, with the names of its sets as a packet comment
 * (evidence.h says the layout). Hands on each set's frame numbers in the
 * captures and in the pack. Owns the names of the parts.
 *
 * The cut reads the pack back (an untrusted file: every block through the
 * bounds-checked cursor) and writes a set's packets the way evidence.c
 * writes a set's own file, with the same writers, so that the two are the
 * same bytes: the set's key log lines are the ranges its flows' "flowaudit
 * keys" comments point at, in the order of the flows' first packets, which
 * is the order a set's own file has them (cmd_audit.c gives both in flow
 * id order).
 */
#include "evidence_int.h"

#include "flowaudit/cursor.h"
#include "flowaudit/hash.h"
#include "flowaudit/pcapng.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACK_BUF (1u << 20)   /* the stream buffer of a part */
#define PACK_IFACES 64        /* link types of a part */
#define COMMENT_MAX 65535u    /* bytes of one opt_comment */
#define CUT_BUF (64u << 10)

/* ---- writing ---- */

struct pack_out {
	struct evidence_pack *pk;
	const char *dir;
	FILE *fp;
	char *buf;
	uint64_t bytes, frames; /* of the open part */
	int linktype[PACK_IFACES];
	size_t n_if;
};

/* A live flow's comments: the names of its sets, then one slot for its
   keys comment; the text follows the array. */
struct pack_flow {
	bool keys_done;
	size_t n;
	struct pcapng_comment c[];
};

static void part_name(size_t k, char *name, size_t n)
{
	if (k == 0)
		snprintf(name, n, "%s.pcapng", EVIDENCE_PACK_NAME);
	else
		snprintf(name, n, "%s-%zu.pcapng", EVIDENCE_PACK_NAME, k + 1);
}

static int pack_close(struct pack_out *po, struct fa_err *err)
{
	if (po->fp == NULL)
		return FA_OK;
	bool failed = ferror(po->fp) != 0;
	failed |= fclose(po->fp) != 0;
	po->fp = NULL;
	free(po->buf);
	po->buf = NULL;
	if (failed) {
		fa_err_set(err, "%s/%s: write failed: %s", po->dir, po->pk->paths[po->pk->n_paths - 1],
			   strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}

static int pack_open(struct pack_out *po, struct fa_err *err)
{
	struct evidence_pack *pk = po->pk;
	if (pk->n_paths == EVIDENCE_PARTS_MAX) {
		fa_err_set(err, "%s: the evidence pack would pass %d parts", po->dir,
			   EVIDENCE_PARTS_MAX);
		return FA_ERUNTIME;
	}
	char (*np)[32] = realloc(pk->paths, (pk->n_paths + 1) * sizeof(*np));
	if (np != NULL)
		pk->paths = np;
	char (*nh)[65] = np ? realloc(pk->sha256, (pk->n_paths + 1) * sizeof(*nh)) : NULL;
	if (nh == NULL) {
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	pk->sha256 = nh;
	pk->sha256[pk->n_paths][0] = '\0';
	part_name(pk->n_paths, pk->paths[pk->n_paths], sizeof(pk->paths[0]));
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", po->dir, pk->paths[pk->n_paths]);
	pk->n_paths++;
	po->fp = sha256_fopen_write(path, pk->sha256[pk->n_paths - 1]);
	po->buf = po->fp ? malloc(PACK_BUF) : NULL;
	if (po->buf != NULL)
		setvbuf(po->fp, po->buf, _IOFBF, PACK_BUF);
	size_t head = po->buf ? pcapng_put_pack_head(po->fp, pk->tls_keys, pk->tls_keys_len) : 0;
	if (head == 0) {
		fa_err_set(err, "%s: cannot write: %s", path,
			   po->buf == NULL && po->fp != NULL ? "out of memory" : strerror(errno));
		if (po->fp)
			fclose(po->fp);
		po->fp = NULL;
		free(po->buf);
		po->buf = NULL;
		return FA_ERUNTIME;
	}
	po->bytes = head;
	po->frames = 0;
	po->n_if = 0;
	return FA_OK;
}

/* One frame into the pack: *part and *frame get where it went. */
static int pack_put(struct pack_out *po, const struct source_frame *fr,
		    const struct pcapng_comment *c, size_t nc, uint32_t *part, uint64_t *frame,
		    struct fa_err *err)
{
	struct evidence_pack *pk = po->pk;
	uint64_t limit = pk->part_bytes ? pk->part_bytes : EVIDENCE_PART_BYTES;
	int rc = FA_OK;
	if (po->fp != NULL && po->bytes >= limit && po->frames > 0)
		rc = pack_close(po, err);
	if (rc == FA_OK && po->fp == NULL)
		rc = pack_open(po, err);
	if (rc != FA_OK)
		return rc;
	size_t ifc = 0;
	while (ifc < po->n_if && po->linktype[ifc] != fr->linktype)
		ifc++;
	size_t n = 1;
	if (ifc == po->n_if) {
		if (po->n_if == PACK_IFACES) {
			fa_err_set(err, "%s/%s: the evidence spans more than %d link types", po->dir,
				   pk->paths[pk->n_paths - 1], PACK_IFACES);
			return FA_ERUNTIME;
		}
		n = pcapng_put_pack_interface(po->fp, fr->linktype);
		po->bytes += n;
		po->linktype[po->n_if++] = fr->linktype;
	}
	uint64_t ts = (uint64_t)fr->ts_sec * 1000000000ull + fr->ts_nsec;
	n = n ? pcapng_put_pack_packet(po->fp, (uint32_t)ifc, ts, fr->data, fr->caplen, fr->wirelen,
				       c, nc)
	      : 0;
	if (n == 0) {
		fa_err_set(err, "%s/%s: write failed: %s", po->dir, pk->paths[pk->n_paths - 1],
			   strerror(errno));
		return FA_ERUNTIME;
	}
	po->bytes += n;
	po->frames++;
	pk->packets++;
	*part = (uint32_t)(pk->n_paths - 1);
	*frame = po->frames;
	return FA_OK;
}

/* The comments of a flow becoming live: "flowaudit: " and the names of its
   sets (ascending), in as many comments as 65,535 bytes each need. */
static bool pack_start(void *ctx, const struct evidence_set *sets, const size_t *order, size_t lo,
		       struct ev_active *a)
{
	(void)ctx;
	const size_t pre = strlen(EVIDENCE_COMMENT);
	size_t text = 0, pieces = 1, room = COMMENT_MAX - pre;
	for (size_t k = 0; k < a->n_sets; k++) {
		size_t l = strnlen(sets[order[lo + a->sets[k]]].name, 64) + 1;
		if (l > room) {
			pieces++;
			room = COMMENT_MAX - pre;
		}
		room -= l;
		text += l;
	}
	text += pieces * pre;
	struct pack_flow *pf = malloc(sizeof(*pf) + (pieces + 1) * sizeof(pf->c[0]) + text);
	if (pf == NULL)
		return false;
	char *t = (char *)&pf->c[pieces + 1], *start = NULL;
	pf->keys_done = false;
	pf->n = 0;
	for (size_t k = 0; k < a->n_sets; k++) {
		const char *name = sets[order[lo + a->sets[k]]].name;
		size_t l = strnlen(name, 64);
		if (start == NULL || (size_t)(t - start) + 1 + l > COMMENT_MAX) {
			if (start != NULL)
				pf->c[pf->n++] = (struct pcapng_comment){start, (uint16_t)(t - start)};
			start = t;
			memcpy(t, EVIDENCE_COMMENT, pre);
			t += pre;
		} else {
			*t++ = ' ';
		}
		memcpy(t, name, l);
		t += l;
	}
	if (start != NULL)
		pf->c[pf->n++] = (struct pcapng_comment){start, (uint16_t)(t - start)};
	a->extra = pf;
	return true;
}

static int pack_packet(void *ctx, struct evidence_set *sets, const size_t *order, size_t lo,
		       const struct source_frame *fr, struct ev_active *a, struct fa_err *err)
{
	struct pack_out *po = ctx;
	struct pack_flow *pf = a->extra;
	size_t nc = pf->n;
	char kt[64];
	if (!pf->keys_done && a->f.keys_len > 0) {
		int l = snprintf(kt, sizeof(kt), "%s%" PRIu64 " %" PRIu64, EVIDENCE_KEYS_COMMENT,
				 a->f.keys_off, a->f.keys_len);
		pf->c[nc++] = (struct pcapng_comment){kt, (uint16_t)l};
	}
	pf->keys_done = true;
	uint32_t part;
	uint64_t frame;
	int rc = pack_put(po, fr, pf->c, nc, &part, &frame, err);
	for (size_t k = 0; rc == FA_OK && k < a->n_sets; k++) {
		struct evidence_set *st = &sets[order[lo + a->sets[k]]];
		if (!ev_frames_add(&st->per_file, &st->n_per_file, fr->file, fr->frame) ||
		    !ev_frames_add(&st->pack_frames, &st->n_pack_frames, part, frame)) {
			fa_err_set(err, "out of memory collecting evidence");
			rc = FA_ERUNTIME;
		}
		st->packets++;
	}
	return rc;
}

struct pack_out *ev_pack_out_new(struct evidence_pack *pack, const char *dir, struct ev_sink *sink)
{
	struct pack_out *po = calloc(1, sizeof(*po));
	if (po == NULL)
		return NULL;
	po->pk = pack;
	po->dir = dir;
	*sink = (struct ev_sink){.start = pack_start, .packet = pack_packet, .ctx = po};
	return po;
}

int ev_pack_out_close(struct pack_out *po, struct fa_err *err)
{
	int rc = po ? pack_close(po, err) : FA_OK;
	free(po);
	return rc;
}

int evidence_write_pack(const char *const *captures, size_t n_captures, evidence_flow_fn get_flow,
			void *user, struct evidence_set *sets, size_t n_sets, const char *dir,
			struct evidence_pack *pack, struct fa_err *err)
{
	pack->paths = NULL;
	pack->sha256 = NULL;
	pack->n_paths = 0;
	pack->packets = 0;
	for (size_t i = 0; i < n_sets; i++)
		sets[i].pack = pack;
	if (n_sets == 0)
		return FA_OK;
	size_t *order = malloc(n_sets * sizeof(*order));
	if (order == NULL) {
		fa_err_set(err, "out of memory collecting evidence");
		return FA_ERUNTIME;
	}
	for (size_t i = 0; i < n_sets; i++)
		order[i] = i;
	struct source *src;
	int rc = source_open_files(captures, n_captures, &src, err);
	struct pack_out po = {.pk = pack, .dir = dir};
	struct ev_sink sink = {.start = pack_start, .packet = pack_packet, .ctx = &po};
	if (rc == FA_OK) {
		rc = ev_pass(src, get_flow, user, sets, order, 0, n_sets, &sink, err);
		source_free(src);
	}
	int c = pack_close(&po, err);
	free(order);
	return rc == FA_OK ? c : rc;
}

void evidence_pack_clear(struct evidence_pack *pack)
{
	free(pack->paths);
	free(pack->sha256);
	pack->paths = NULL;
	pack->sha256 = NULL;
	pack->n_paths = 0;
}

/* ---- cutting ---- */

struct cut_pkt {
	const uint8_t *data;
	uint32_t caplen, wirelen;
	uint64_t ts_ns;
	int linktype;
};

struct cut {
	const char *id;
	struct cut_pkt *p;
	size_t n, cap;
	char *keys; /* the set's key log lines, gathered */
	size_t keys_len, keys_cap;
	void *maps[EVIDENCE_PARTS_MAX];
	size_t map_len[EVIDENCE_PARTS_MAX];
	size_t n_maps;
};

static uint32_t rd32(struct cursor *c, bool big) { return big ? cur_be32(c) : cur_le32(c); }
static uint16_t rd16(struct cursor *c, bool big) { return big ? cur_be16(c) : cur_le16(c); }

/* Whether comment c (len bytes) is "flowaudit: " with id among its names. */
static bool names_id(const uint8_t *c, size_t len, const char *id)
{
	size_t pre = strlen(EVIDENCE_COMMENT), il = strlen(id);
	if (len < pre || memcmp(c, EVIDENCE_COMMENT, pre) != 0)
		return false;
	for (size_t i = pre; i < len;) {
		size_t j = i;
		while (j < len && c[j] != ' ')
			j++;
		if (j - i == il && memcmp(c + i, id, il) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/* "flowaudit keys: OFFSET LENGTH" into *off and *len; false when it is not one. */
static bool keys_comment(const uint8_t *c, size_t len, uint64_t *off, uint64_t *n)
{
	size_t pre = strlen(EVIDENCE_KEYS_COMMENT);
	char buf[64];
	if (len < pre || len - pre >= sizeof(buf) || memcmp(c, EVIDENCE_KEYS_COMMENT, pre) != 0)
		return false;
	memcpy(buf, c + pre, len - pre);
	buf[len - pre] = '\0';
	int used = 0;
	return sscanf(buf, "%" SCNu64 " %" SCNu64 "%n", off, n, &used) == 2 &&
	       (size_t)used == len - pre;
}

static bool cut_grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	void *nv = realloc(*v, nc * size);
	if (nv == NULL)
		return false;
	*v = nv;
	*cap = nc;
	return true;
}

/* An Enhanced Packet Block's body (after type and length) of part path. */
static int cut_epb(struct cut *ct, struct cursor *b, bool big, const int *ifl, size_t n_if,
		   const uint8_t *secrets, size_t secrets_len, const char *path, size_t at,
		   struct fa_err *err)
{
	uint32_t ifc = rd32(b, big), hi = rd32(b, big), lo = rd32(b, big);
	uint32_t caplen = rd32(b, big), wirelen = rd32(b, big);
	const uint8_t *data = cur_take(b, caplen);
	cur_skip(b, (4 - (caplen & 3)) & 3);
	if (!cur_ok(b) || ifc >= n_if) {
		fa_err_set(err, "%s: packet block at offset %zu: %s", path, at,
			   cur_ok(b) ? "names an interface not described" : "truncated");
		return FA_EINPUT;
	}
	bool mine = false;
	uint64_t koff = 0, klen = 0;
	while (cur_left(b) >= 4) {
		uint16_t code = rd16(b, big), olen = rd16(b, big);
		const uint8_t *v = cur_take(b, olen);
		cur_skip(b, (4 - (olen & 3)) & 3);
		if (!cur_ok(b)) {
			fa_err_set(err, "%s: packet block at offset %zu: option truncated", path, at);
			return FA_EINPUT;
		}
		if (code == 0)
			break;
		if (code == 1 && !mine)
			mine = names_id(v, olen, ct->id);
		if (code == 1 && klen == 0 && keys_comment(v, olen, &koff, &klen) &&
		    (koff > secrets_len || klen > secrets_len - koff)) {
			fa_err_set(err, "%s: packet block at offset %zu: keys past the secrets "
				   "block", path, at);
			return FA_EINPUT;
		}
	}
	if (!mine)
		return FA_OK;
	if (!cut_grow((void **)&ct->p, &ct->cap, ct->n + 1, sizeof(*ct->p)) ||
	    !cut_grow((void **)&ct->keys, &ct->keys_cap, ct->keys_len + klen + 1, 1)) {
		fa_err_set(err, "out of memory cutting evidence");
		return FA_ERUNTIME;
	}
	ct->p[ct->n++] = (struct cut_pkt){data, caplen, wirelen, (uint64_t)hi << 32 | lo, ifl[ifc]};
	if (klen > 0)
		memcpy(ct->keys + ct->keys_len, secrets + koff, klen);
	ct->keys_len += klen;
	return FA_OK;
}

/* The packets of ct->id in one part, mapped at base. */
static int cut_part(struct cut *ct, const uint8_t *base, size_t size, const char *path,
		    struct fa_err *err)
{
	struct cursor c = cur_make(base, size);
	bool big = false;
	int ifl[PACK_IFACES];
	size_t n_if = 0;
	const uint8_t *secrets = NULL;
	size_t secrets_len = 0;
	int rc = FA_OK;
	while (rc == FA_OK && cur_left(&c) > 0) {
		size_t at = cur_offset(&c, base);
		struct cursor h = c;
		uint32_t type = rd32(&h, big);
		if (type == 0x0A0D0D0A) { /* a section: its byte order */
			struct cursor bo = h;
			cur_skip(&bo, 4);
			uint32_t magic = cur_le32(&bo);
			big = magic == 0x4D3C2B1Au;
			if (cur_ok(&bo) && magic != 0x1A2B3C4Du && !big) {
				fa_err_set(err, "%s: section at offset %zu: bad byte-order magic", path, at);
				return FA_EINPUT;
			}
			n_if = 0;
		}
		cur_skip(&c, 4);
		uint32_t len = rd32(&c, big);
		if (!cur_ok(&c) || len < 12 || len % 4 || len - 8 > cur_left(&c)) {
			fa_err_set(err, "%s: block at offset %zu: bad length", path, at);
			return FA_EINPUT;
		}
		struct cursor b = cur_sub(&c, len - 12);
		cur_skip(&c, 4);
		if (type == 1) { /* interface: link type, and nanosecond time stamps */
			int lt = rd16(&b, big);
			cur_skip(&b, 6);
			bool ns = false;
			while (cur_left(&b) >= 4) {
				uint16_t code = rd16(&b, big), olen = rd16(&b, big);
				const uint8_t *v = cur_take(&b, olen);
				cur_skip(&b, (4 - (olen & 3)) & 3);
				if (code == 0 || !cur_ok(&b))
					break;
				if (code == 9 && olen == 1)
					ns = v[0] == 9;
			}
			if (!ns || n_if == PACK_IFACES) {
				fa_err_set(err, "%s: interface at offset %zu: %s", path, at,
					   ns ? "too many interfaces" : "time stamps not in nanoseconds: "
					   "not a flowaudit evidence pack");
				return FA_EINPUT;
			}
			ifl[n_if++] = lt;
		} else if (type == PCAPNG_DSB) {
			uint32_t stype = rd32(&b, big), slen = rd32(&b, big);
			const uint8_t *s = cur_take(&b, slen);
			if (!cur_ok(&b)) {
				fa_err_set(err, "%s: secrets block at offset %zu: truncated", path, at);
				return FA_EINPUT;
			}
			if (stype == PCAPNG_DSB_TLS_KEYLOG) {
				secrets = s;
				secrets_len = slen;
			}
		} else if (type == 6) {
			rc = cut_epb(ct, &b, big, ifl, n_if, secrets, secrets_len, path, at, err);
		}
	}
	return rc;
}

/* out, or for k > 0 OUT-K.EXT (the extension after the last dot of the name). */
static void out_name(const char *out, size_t k, char *path, size_t n)
{
	if (k == 0) {
		snprintf(path, n, "%s", out);
		return;
	}
	const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
	if (dot == NULL || (slash != NULL && dot < slash) || dot == out)
		dot = out + strlen(out);
	snprintf(path, n, "%.*s-%zu%s", (int)(dot - out), out, k + 1, dot);
}

/* The set's own files, when the directory holds them: copied. -1 when it
   holds none. */
static int cut_own_files(const char *dir, const char *id, const char *out, char paths[][4200],
			 size_t *n_paths, struct fa_err *err)
{
	static const char *const exts[] = {"pcap", "pcapng"};
	for (size_t e = 0; e < 2; e++) {
		char from[4200];
		struct stat sb;
		for (size_t k = 0; k < EV_MAX_LINKS; k++) {
			if (k == 0)
				snprintf(from, sizeof(from), "%s/%s.%s", dir, id, exts[e]);
			else
				snprintf(from, sizeof(from), "%s/%s-%zu.%s", dir, id, k + 1, exts[e]);
			if (stat(from, &sb) != 0)
				break;
			out_name(out, k, paths[k], sizeof(paths[k]));
			int rc = ev_copy_file(from, paths[k], err);
			if (rc != FA_OK)
				return rc;
			*n_paths = k + 1;
		}
		if (*n_paths > 0)
			return FA_OK;
	}
	return -1;
}

/* The gathered packets of ct into out (and OUT-2.EXT, ... per link type). */
static int cut_write(const struct cut *ct, const char *out, char paths[][4200], size_t *n_paths,
		     struct fa_err *err)
{
	struct ev_writers ws = {.bufsize = CUT_BUF};
	struct ev_writer w = {.n = 0};
	int rc = FA_OK;
	for (size_t i = 0; rc == FA_OK && i < ct->n; i++) {
		const struct cut_pkt *p = &ct->p[i];
		int fi = 0;
		while (fi < (int)w.n && w.linktype[fi] != p->linktype)
			fi++;
		if (fi == (int)w.n) {
			char path[4200];
			out_name(out, w.n, path, sizeof(path));
			fi = ev_writer_open(&ws, &w, path, p->linktype, ct->keys, ct->keys_len, err);
			if (fi < 0) {
				rc = FA_ERUNTIME;
				break;
			}
			memcpy(paths[fi], path, sizeof(path));
			*n_paths = w.n;
		}
		if (!ev_writer_put(&w, fi, p->ts_ns / 1000000000ull, (uint32_t)(p->ts_ns % 1000000000ull),
				   p->data, p->caplen, p->wirelen)) {
			fa_err_set(err, "%s: write failed: %s", paths[fi], strerror(errno));
			rc = FA_ERUNTIME;
		}
	}
	int c = ev_writer_close(&w, err);
	ev_writers_free(&ws);
	return rc == FA_OK ? c : rc;
}

int evidence_cut(const char *dir, const char *id, const char *out, char paths[][4200],
		 size_t *n_paths, struct fa_err *err)
{
	*n_paths = 0;
	size_t il = strlen(id);
	bool plain = il > 0 && il <= 32;
	for (size_t i = 0; plain && i < il; i++)
		plain = (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
			(id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_';
	if (!plain) {
		fa_err_set(err, "'%s' is not a finding id (F0001, F0042, ...)", id);
		return FA_EINPUT;
	}
	int rc = cut_own_files(dir, id, out, paths, n_paths, err);
	if (rc != -1)
		return rc;
	struct cut ct = {.id = id};
	rc = FA_OK;
	for (size_t k = 0; rc == FA_OK && k < EVIDENCE_PARTS_MAX; k++) {
		char name[32], path[4200];
		part_name(k, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && k > 0)
			break;
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) != 0) {
			fa_err_set(err, "%s: %s (no evidence file of %s either)", path,
				   strerror(errno), id);
			rc = FA_EINPUT;
			if (fd >= 0)
				close(fd);
			break;
		}
		void *map = sb.st_size > 0 ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE,
						   fd, 0)
					   : NULL;
		close(fd);
		if (map == MAP_FAILED) {
			fa_err_set(err, "%s: cannot map: %s", path, strerror(errno));
			rc = FA_ERUNTIME;
			break;
		}
		ct.maps[ct.n_maps] = map;
		ct.map_len[ct.n_maps++] = (size_t)sb.st_size;
		if (map != NULL)
			rc = cut_part(&ct, map, (size_t)sb.st_size, path, err);
	}
	if (rc == FA_OK && ct.n == 0) {
		fa_err_set(err, "%s: no packet of the evidence pack is %s's", dir, id);
		rc = FA_EINPUT;
	}
	if (rc == FA_OK)
		rc = cut_write(&ct, out, paths, n_paths, err);
	for (size_t k = 0; k < ct.n_maps; k++)
		if (ct.maps[k] != NULL)
			munmap(ct.maps[k], ct.map_len[k]);
	free(ct.p);
	free(ct.keys);
	return rc;
}
