/*
 * identifiers.c - the device-identifier scanner: patterns from a profile,
 * one Aho-Corasick DFA, streaming scan.
 *
 * Receives a device profile once, then stream bytes (TCP payload put back in
 * order, UDP datagrams, decoded HTTP bodies); hands on matches labelled with
 * the identifier's type and the encoding it was found in. Owns the pattern
 * labels and the transition table. Workload: a dozen identifiers, a few
 * hundred patterns, and every cleartext byte of a capture, so the scan loop
 * is one dependent load per byte.
 *
 * Construction: patterns are ASCII-folded to lower case and deduplicated by
 * their bytes (the first label wins: a plain alphanumeric identifier is its
 * own URL encoding, and is reported as "plain"). The bytes that occur in
 * some pattern each get a byte class; every other byte shares class 0, so a
 * row of the table is a few dozen entries rather than 256. The trie is
 * built directly in the table, failure links are filled breadth-first, and
 * the missing transitions of each row are copied from its failure row,
 * which turns the automaton into a DFA. States with output are renumbered
 * to the end so the hot loop tests "is there a match" with one compare, and
 * table entries hold row offsets (state * classes) so no multiply is needed.
 */
#include "flowaudit/identifiers.h"

#include "flowaudit/hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ID_LEN 6
#define MAX_FORMS 8
#define FORM_MAX (DEVICE_VALUE_MAX * 3 + 8)
#define TABLE_MAX_BYTES ((size_t)128 * 1024 * 1024)

struct idpat {
	const char *type, *encoding;
	uint32_t len;
	uint32_t id_index;
};

struct idscan {
	uint32_t *delta;     /* n_states * n_classes entries, each a row offset */
	uint32_t n_states, n_classes;
	uint32_t acc_min;    /* row offset of the first state with output */
	int32_t *own;        /* pattern ending exactly at a state, or -1 */
	uint32_t *dict;      /* nearest proper suffix state with output; 0 if none */
	uint8_t cls[256];
	struct idpat *pats;
	size_t n_pats;
	size_t max_len;      /* longest pattern */
	char **types;        /* copies of the profile's type names */
	size_t n_types;
};

/* ---- pattern list under construction ---- */

struct patbuf {
	uint8_t **bytes;
	struct idpat *pats;
	size_t n, cap;
	bool oom;
};

static uint8_t fold(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

static void pat_add(struct patbuf *pb, const char *type, const char *enc, size_t id_index,
		    const char *text, size_t len)
{
	if (len < MIN_ID_LEN || pb->oom)
		return;
	uint8_t tmp[FORM_MAX * 2];
	if (len > sizeof(tmp))
		return;
	for (size_t i = 0; i < len; i++)
		tmp[i] = fold((uint8_t)text[i]);
	for (size_t i = 0; i < pb->n; i++)
		if (pb->pats[i].len == len && memcmp(pb->bytes[i], tmp, len) == 0)
			return;
	if (pb->n == pb->cap) {
		size_t nc = pb->cap ? pb->cap * 2 : 256;
		uint8_t **nb = realloc(pb->bytes, nc * sizeof(*nb));
		if (nb == NULL) {
			pb->oom = true;
			return;
		}
		pb->bytes = nb;
		struct idpat *np = realloc(pb->pats, nc * sizeof(*np));
		if (np == NULL) {
			pb->oom = true;
			return;
		}
		pb->pats = np;
		pb->cap = nc;
	}
	uint8_t *copy = malloc(len);
	if (copy == NULL) {
		pb->oom = true;
		return;
	}
	memcpy(copy, tmp, len);
	pb->bytes[pb->n] = copy;
	pb->pats[pb->n] = (struct idpat){type, enc, (uint32_t)len, (uint32_t)id_index};
	pb->n++;
}

static void patbuf_free(struct patbuf *pb)
{
	for (size_t i = 0; i < pb->n; i++)
		free(pb->bytes[i]);
	free(pb->bytes);
	free(pb->pats);
}

/* ---- encodings ---- */

static size_t enc_hex(const char *f, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[(uint8_t)f[i] >> 4];
		out[2 * i + 1] = d[(uint8_t)f[i] & 15];
	}
	return 2 * n;
}

static bool unreserved(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static size_t enc_url(const char *f, size_t n, char *out)
{
	static const char d[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (unreserved(f[i])) {
			out[o++] = f[i];
		} else {
			out[o++] = '%';
			out[o++] = d[(uint8_t)f[i] >> 4];
			out[o++] = d[(uint8_t)f[i] & 15];
		}
	}
	return o;
}

/*
 * The base64 characters that depend only on the identifier's bytes when it
 * starts `align` bytes into a 3-byte group: character k covers bits
 * [6k, 6k+6) of the group stream and is kept when those bits all fall inside
 * the identifier.
 */
static size_t enc_b64_inner(const char *f, size_t n, unsigned align, bool url, char *out)
{
	static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *alpha = url ? safe : std;
	size_t first_bit = 8 * (size_t)align, end_bit = 8 * ((size_t)align + n);
	size_t k0 = (first_bit + 5) / 6, k1 = end_bit / 6;
	size_t o = 0;
	for (size_t k = k0; k < k1; k++) {
		unsigned v = 0;
		for (size_t b = 6 * k; b < 6 * k + 6; b++) {
			size_t byte = b / 8 - align; /* b >= first_bit, so no underflow */
			unsigned bit = ((uint8_t)f[byte] >> (7 - b % 8)) & 1;
			v = (v << 1) | bit;
		}
		out[o++] = alpha[v];
	}
	return o;
}

static void add_encodings(struct patbuf *pb, const char *type, size_t idx, const char *f)
{
	size_t n = strlen(f);
	if (n < MIN_ID_LEN)
		return;
	char buf[FORM_MAX * 2];
	pat_add(pb, type, "plain", idx, f, n);
	pat_add(pb, type, "hex", idx, buf, enc_hex(f, n, buf));
	pat_add(pb, type, "url", idx, buf, enc_url(f, n, buf));
	for (unsigned a = 0; a < 3; a++)
		pat_add(pb, type, "base64", idx, buf, enc_b64_inner(f, n, a, false, buf));
	for (unsigned a = 0; a < 3; a++)
		pat_add(pb, type, "base64url", idx, buf, enc_b64_inner(f, n, a, true, buf));
	uint8_t d[SHA256_DIGEST_LEN];
	struct md5_ctx m;
	md5_init(&m);
	md5_update(&m, f, n);
	md5_final(&m, d);
	hash_hex(d, MD5_DIGEST_LEN, buf);
	pat_add(pb, type, "md5", idx, buf, 2 * MD5_DIGEST_LEN);
	struct sha1_ctx s1;
	sha1_init(&s1);
	sha1_update(&s1, f, n);
	sha1_final(&s1, d);
	hash_hex(d, SHA1_DIGEST_LEN, buf);
	pat_add(pb, type, "sha1", idx, buf, 2 * SHA1_DIGEST_LEN);
	struct sha256_ctx s2;
	sha256_init(&s2);
	sha256_update(&s2, f, n);
	sha256_final(&s2, d);
	hash_hex(d, SHA256_DIGEST_LEN, buf);
	pat_add(pb, type, "sha256", idx, buf, 2 * SHA256_DIGEST_LEN);
}

/* ---- normal forms ---- */

struct forms {
	char s[MAX_FORMS][DEVICE_VALUE_MAX + 2];
	size_t n;
};

static void form_add(struct forms *fs, const char *s)
{
	if (fs->n == MAX_FORMS || strlen(s) > DEVICE_VALUE_MAX + 1)
		return;
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->s[i], s) == 0)
			return;
	snprintf(fs->s[fs->n++], sizeof(fs->s[0]), "%s", s);
}

static void case_forms(struct forms *fs, const char *v, bool keep_given)
{
	char lo[DEVICE_VALUE_MAX + 2], up[DEVICE_VALUE_MAX + 2];
	size_t n = strlen(v);
	if (n > DEVICE_VALUE_MAX)
		return;
	for (size_t i = 0; i <= n; i++) {
		lo[i] = (char)fold((uint8_t)v[i]);
		up[i] = (v[i] >= 'a' && v[i] <= 'z') ? (char)(v[i] - 32) : v[i];
	}
	if (keep_given)
		form_add(fs, v);
	form_add(fs, lo);
	form_add(fs, up);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)fold((uint8_t)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void mac_forms(struct forms *fs, const char *v)
{
	uint8_t o[6];
	size_t n = strlen(v), k = 0;
	for (size_t i = 0; i < n && k < 6;) {
		int hi = hexval(v[i]), lo = i + 1 < n ? hexval(v[i + 1]) : -1;
		if (hi < 0 || lo < 0)
			return;
		o[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
		if (i < n && (v[i] == ':' || v[i] == '-'))
			i++;
	}
	if (k != 6)
		return;
	static const char *const fmt[] = {
		"%02x:%02x:%02x:%02x:%02x:%02x", "%02X:%02X:%02X:%02X:%02X:%02X",
		"%02x-%02x-%02x-%02x-%02x-%02x", "%02X-%02X-%02X-%02X-%02X-%02X",
		"%02x%02x%02x%02x%02x%02x",       "%02X%02X%02X%02X%02X%02X",
	};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char b[32];
		snprintf(b, sizeof(b), fmt[i], o[0], o[1], o[2], o[3], o[4], o[5]);
		form_add(fs, b);
	}
}

static void identifier_forms(struct forms *fs, const char *type, const char *v)
{
	fs->n = 0;
	if (strcmp(type, "mac") == 0) {
		mac_forms(fs, v);
	} else if (strcmp(type, "phone") == 0) {
		form_add(fs, v);
		if (v[0] == '+')
			form_add(fs, v + 1);
	} else if (strcmp(type, "email") == 0) {
		char lo[DEVICE_VALUE_MAX + 2];
		snprintf(lo, sizeof(lo), "%s", v);
		for (char *p = lo; *p; p++)
			*p = (char)fold((uint8_t)*p);
		form_add(fs, lo);
	} else {
		case_forms(fs, v, true);
	}
}

/*
 * Decimal degrees at 3 and 4 decimals, rounded and truncated: apps print
 * either, and a longer text ("48.856613") contains the truncated forms.
 * Two decimals (about 1 km) are left out: five characters like "48.86"
 * occur everywhere.
 */
static void location_patterns(struct patbuf *pb, double v, size_t idx)
{
	char full[64], b[64];
	snprintf(full, sizeof(full), "%.10f", v);
	const char *dot = strchr(full, '.');
	for (int dec = 3; dec <= 4; dec++) {
		int n = snprintf(b, sizeof(b), "%.*f", dec, v);
		if (n > 0)
			pat_add(pb, "location", "plain", idx, b, (size_t)n);
		if (dot != NULL)
			pat_add(pb, "location", "plain", idx, full, (size_t)(dot - full) + 1 + (size_t)dec);
	}
}

/* ---- automaton ---- */

static int build(struct idscan *s, struct patbuf *pb, struct fa_err *err)
{
	/* byte classes over folded pattern bytes */
	uint8_t map[256] = {0};
	uint32_t nc = 1;
	for (size_t i = 0; i < pb->n; i++)
		for (uint32_t j = 0; j < pb->pats[i].len; j++)
			if (map[pb->bytes[i][j]] == 0)
				map[pb->bytes[i][j]] = (uint8_t)nc++;
	for (int b = 0; b < 256; b++)
		s->cls[b] = map[fold((uint8_t)b)];
	s->n_classes = nc;

	size_t max_states = 1;
	for (size_t i = 0; i < pb->n; i++)
		max_states += pb->pats[i].len;
	if (max_states * nc * sizeof(uint32_t) > TABLE_MAX_BYTES || max_states >= UINT32_MAX / nc) {
		fa_err_set(err, "device profile: %zu patterns are too many to compile; drop some 'other' entries",
			   pb->n);
		return FA_EINPUT;
	}
	uint32_t *t = malloc(max_states * nc * sizeof(*t));
	int32_t *own = malloc(max_states * sizeof(*own));
	uint32_t *fail = calloc(max_states, sizeof(*fail));
	uint32_t *dict = calloc(max_states, sizeof(*dict));
	uint32_t *queue = malloc(max_states * sizeof(*queue));
	if (t == NULL || own == NULL || fail == NULL || dict == NULL || queue == NULL) {
		free(t);
		free(own);
		free(fail);
		free(dict);
		free(queue);
		fa_err_set(err, "out of memory building the identifier scanner");
		return FA_ERUNTIME;
	}
	const uint32_t NONE = UINT32_MAX;
	for (size_t i = 0; i < max_states * nc; i++)
		t[i] = NONE;
	for (size_t i = 0; i < max_states; i++)
		own[i] = -1;
	uint32_t n = 1;
	for (size_t i = 0; i < pb->n; i++) {
		uint32_t u = 0;
		for (uint32_t j = 0; j < pb->pats[i].len; j++) {
			uint32_t c = map[pb->bytes[i][j]];
			if (t[(size_t)u * nc + c] == NONE)
				t[(size_t)u * nc + c] = n++;
			u = t[(size_t)u * nc + c];
		}
		own[u] = (int32_t)i;
	}
	/* breadth-first: failure links, dictionary links, DFA completion */
	size_t qh = 0, qt = 0;
	for (uint32_t c = 0; c < nc; c++) {
		uint32_t v = t[c];
		if (v == NONE) {
			t[c] = 0;
		} else {
			fail[v] = 0;
			queue[qt++] = v;
		}
	}
	while (qh < qt) {
		uint32_t u = queue[qh++];
		for (uint32_t c = 0; c < nc; c++) {
			uint32_t v = t[(size_t)u * nc + c];
			uint32_t via = t[(size_t)fail[u] * nc + c];
			if (v == NONE) {
				t[(size_t)u * nc + c] = via;
			} else {
				fail[v] = via;
				dict[v] = own[via] >= 0 ? via : dict[via];
				queue[qt++] = v;
			}
		}
	}
	/* renumber: states with output last */
	uint32_t *perm = queue; /* reused: old -> new */
	uint32_t next = 0;
	for (uint32_t u = 0; u < n; u++)
		if (own[u] < 0 && dict[u] == 0)
			perm[u] = next++;
	uint32_t acc = next;
	for (uint32_t u = 0; u < n; u++)
		if (own[u] >= 0 || dict[u] != 0)
			perm[u] = next++;
	s->delta = malloc((size_t)n * nc * sizeof(*s->delta));
	s->own = malloc((size_t)n * sizeof(*s->own));
	s->dict = malloc((size_t)n * sizeof(*s->dict));
	if (s->delta == NULL || s->own == NULL || s->dict == NULL) {
		free(t);
		free(own);
		free(fail);
		free(dict);
		free(queue);
		fa_err_set(err, "out of memory building the identifier scanner");
		return FA_ERUNTIME;
	}
	for (uint32_t u = 0; u < n; u++) {
		uint32_t pu = perm[u];
		for (uint32_t c = 0; c < nc; c++)
			s->delta[(size_t)pu * nc + c] = perm[t[(size_t)u * nc + c]] * nc;
		s->own[pu] = own[u];
		s->dict[pu] = dict[u] ? perm[dict[u]] : 0;
	}
	s->n_states = n;
	s->acc_min = acc * nc;
	free(t);
	free(own);
	free(fail);
	free(dict);
	free(queue);
	return FA_OK;
}

void idscan_free(struct idscan *s)
{
	if (s == NULL)
		return;
	free(s->delta);
	free(s->own);
	free(s->dict);
	free(s->pats);
	for (size_t i = 0; i < s->n_types; i++)
		free(s->types[i]);
	free(s->types);
	free(s);
}

struct idscan *idscan_new(const struct device_profile *d, struct fa_err *err)
{
	struct idscan *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		fa_err_set(err, "out of memory building the identifier scanner");
		return NULL;
	}
	s->types = calloc(d->n_ids ? d->n_ids : 1, sizeof(*s->types));
	if (s->types == NULL) {
		idscan_free(s);
		fa_err_set(err, "out of memory building the identifier scanner");
		return NULL;
	}
	for (size_t i = 0; i < d->n_ids; i++) {
		if ((s->types[i] = strdup(d->ids[i].type)) == NULL) {
			idscan_free(s);
			fa_err_set(err, "out of memory building the identifier scanner");
			return NULL;
		}
		s->n_types++;
	}
	struct patbuf pb = {0};
	struct forms fs;
	for (size_t i = 0; i < d->n_ids; i++) {
		identifier_forms(&fs, d->ids[i].type, d->ids[i].value);
		for (size_t k = 0; k < fs.n; k++)
			add_encodings(&pb, s->types[i], i, fs.s[k]);
	}
	if (d->has_location && isfinite(d->lat) && isfinite(d->lon)) {
		location_patterns(&pb, d->lat, d->n_ids);
		location_patterns(&pb, d->lon, d->n_ids);
	}
	if (pb.oom) {
		patbuf_free(&pb);
		idscan_free(s);
		fa_err_set(err, "out of memory building the identifier scanner");
		return NULL;
	}
	if (pb.n == 0) {
		patbuf_free(&pb);
		idscan_free(s);
		fa_err_set(err, "%s: no identifier of %d or more characters to look for",
			   d->path ? d->path : "device profile", MIN_ID_LEN);
		return NULL;
	}
	if (build(s, &pb, err) != FA_OK) {
		patbuf_free(&pb);
		idscan_free(s);
		return NULL;
	}
	s->pats = pb.pats;
	s->n_pats = pb.n;
	for (size_t i = 0; i < pb.n; i++)
		if (pb.pats[i].len > s->max_len)
			s->max_len = pb.pats[i].len;
	pb.pats = NULL;
	patbuf_free(&pb);
	return s;
}

size_t idscan_pattern_count(const struct idscan *s) { return s ? s->n_pats : 0; }

uint32_t idscan_start(const struct idscan *s)
{
	(void)s;
	return 0;
}

static void report(const struct idscan *s, uint32_t state, uint64_t end, idscan_cb cb, void *user)
{
	for (uint32_t u = state; u != 0; u = s->dict[u]) {
		int32_t p = s->own[u];
		if (p < 0)
			continue;
		const struct idpat *ip = &s->pats[p];
		struct idscan_match m = {ip->type, ip->encoding, (size_t)(end - ip->len), ip->id_index};
		cb(&m, user);
	}
}

/* One lane from byte i to len, reporting every match; returns the row offset. */
static uint32_t run(const struct idscan *s, uint32_t st, const uint8_t *data, size_t i, size_t len,
		    uint64_t base, idscan_cb cb, void *user)
{
	const uint32_t nc = s->n_classes, acc = s->acc_min;
	const uint32_t *t = s->delta;
	const uint8_t *cls = s->cls;
	for (; i < len; i++) {
		st = t[st + cls[data[i]]];
		if (__builtin_expect(st >= acc, 0))
			report(s, st / nc, base + i + 1, cb, user);
	}
	return st;
}

/*
 * One table walk is a chain of dependent loads, so a single lane is bound by
 * load latency. Long inputs are walked as two independent lanes: A over the
 * first half from the caller's state, B over the second half starting from
 * the root max_len-1 bytes early. A DFA state is the longest pattern prefix
 * ending at the current byte, never longer than max_len, so by the half-way
 * point B has forgotten nothing and is exact. B only watches for output;
 * at its first match it pauses, and resumes (reporting) once A has reported
 * everything before it, which keeps matches in stream order.
 */
uint32_t idscan_feed(const struct idscan *s, uint32_t state, const uint8_t *data, size_t len,
		     uint64_t stream_offset, idscan_cb cb, void *user)
{
	if (s == NULL)
		return 0;
	const uint32_t nc = s->n_classes, acc = s->acc_min;
	uint32_t st = state < s->n_states ? state * nc : 0;
	size_t lead = s->max_len - 1;
	if (len < 8 * s->max_len + 256)
		return run(s, st, data, 0, len, stream_offset, cb, user) / nc;

	const uint32_t *t = s->delta;
	const uint8_t *cls = s->cls;
	size_t mid = len / 2, j = mid - lead, stop = len;
	uint32_t sa = st, sb = 0;
	for (size_t i = 0; i < mid; i++, j++) {
		sa = t[sa + cls[data[i]]];
		sb = t[sb + cls[data[j]]];
		if (__builtin_expect(sa >= acc, 0))
			report(s, sa / nc, stream_offset + i + 1, cb, user);
		if (__builtin_expect(sb >= acc, 0) && j >= mid) {
			stop = j;
			for (i++; i < mid; i++) {
				sa = t[sa + cls[data[i]]];
				if (__builtin_expect(sa >= acc, 0))
					report(s, sa / nc, stream_offset + i + 1, cb, user);
			}
			break;
		}
	}
	if (stop < len) {
		report(s, sb / nc, stream_offset + stop + 1, cb, user);
		j = stop + 1;
	}
	return run(s, sb, data, j, len, stream_offset, cb, user) / nc;
}

void idscan_mask(const char *value, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	size_t n = strlen(value);
	size_t keep = n > 4 ? 4 : 0;
	size_t stars = n - keep;
	if (stars + keep > outlen - 1)
		stars = outlen - 1 > keep ? outlen - 1 - keep : 0;
	if (keep > outlen - 1)
		keep = outlen - 1;
	memset(out, '*', stars);
	memcpy(out + stars, value + n - keep, keep);
	out[stars + keep] = '\0';
}
