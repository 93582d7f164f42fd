/*
 * keylog.c - the NSS key log store (SSLKEYLOGFILE lines).
 *
 * Receives key log text from files (read whole, or polled while they
 * grow) and from pcapng Decryption Secrets Blocks; hands tls_decrypt.c the
 * secret of a (client random, label) and a finding's evidence the lines of
 * its own connections. Owns one entry per client random (the six secrets a
 * connection can have), in an array that grows by doubling up to the
 * store's maximum, and an open-addressing index over it. Workload: a few
 * lines per TLS connection of a capture, tens of thousands at most; a
 * lookup per connection, and again each time a waiting connection sees the
 * generation change.
 *
 * Every byte of the text is read through a cursor; a line is parsed as
 * tokens separated by spaces or tabs, with an optional '\r' before its
 * newline. Secrets never reach a message.
 */
#include "flowaudit/keylog.h"

#include "flowaudit/cursor.h"
#include "flowaudit/tls_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const label_names[KEYLOG_N_LABELS] = {
	"CLIENT_RANDOM",
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
	"SERVER_HANDSHAKE_TRAFFIC_SECRET",
	"CLIENT_TRAFFIC_SECRET_0",
	"SERVER_TRAFFIC_SECRET_0",
	"EXPORTER_SECRET",
};

struct kl_entry {
	uint8_t random[KEYLOG_RANDOM_LEN];
	uint8_t mask;                   /* bit l: secret of label l present */
	uint8_t len[KEYLOG_N_LABELS];   /* its length */
	uint8_t secret[KEYLOG_N_LABELS][KEYLOG_SECRET_MAX];
};

struct keylog {
	struct kl_entry *e; /* entries, in the order first seen */
	size_t n, cap, max;
	uint32_t *slot;     /* index: entry number + 1, 0 for empty */
	size_t nslots;      /* a power of two, at least twice cap */
	uint64_t generation;
	struct keylog_stats st;
};

const char *keylog_label_name(enum keylog_label l)
{
	return (unsigned)l < KEYLOG_N_LABELS ? label_names[l] : "?";
}

struct keylog *keylog_new(size_t max_clients)
{
	struct keylog *kl = calloc(1, sizeof(*kl));
	if (kl == NULL)
		return NULL;
	kl->max = max_clients ? max_clients : KEYLOG_DEFAULT_MAX_CLIENTS;
	if (kl->max > UINT32_MAX - 1)
		kl->max = UINT32_MAX - 1;
	return kl;
}

void keylog_free(struct keylog *kl)
{
	if (kl == NULL)
		return;
	if (kl->e != NULL)
		tls_wipe(kl->e, kl->cap * sizeof(*kl->e));
	free(kl->e);
	free(kl->slot);
	free(kl);
}

uint64_t keylog_generation(const struct keylog *kl) { return kl->generation; }

const struct keylog_stats *keylog_stats(const struct keylog *kl) { return &kl->st; }

/* Client randoms are random: their first eight bytes, mixed, are a hash. */
static size_t random_hash(const uint8_t r[KEYLOG_RANDOM_LEN])
{
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h = (h << 8) | r[i];
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h;
}

/* The slot holding r, or the empty slot where it would go. */
static size_t find_slot(const struct keylog *kl, const uint8_t r[KEYLOG_RANDOM_LEN])
{
	size_t mask = kl->nslots - 1;
	size_t i = random_hash(r) & mask;
	while (kl->slot[i] != 0 &&
	       memcmp(kl->e[kl->slot[i] - 1].random, r, KEYLOG_RANDOM_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

static struct kl_entry *lookup(const struct keylog *kl, const uint8_t r[KEYLOG_RANDOM_LEN])
{
	if (kl->nslots == 0)
		return NULL;
	uint32_t s = kl->slot[find_slot(kl, r)];
	return s ? &kl->e[s - 1] : NULL;
}

/* Room for one more entry: false when the store is at its maximum or out of memory. */
static bool grow(struct keylog *kl)
{
	if (kl->n < kl->cap)
		return true;
	if (kl->cap >= kl->max)
		return false;
	size_t ncap = kl->cap ? kl->cap * 2 : 64;
	if (ncap > kl->max)
		ncap = kl->max;
	struct kl_entry *ne = calloc(ncap, sizeof(*ne));
	size_t nslots = 128;
	while (nslots < ncap * 2)
		nslots *= 2;
	uint32_t *ns = calloc(nslots, sizeof(*ns));
	if (ne == NULL || ns == NULL) {
		free(ne);
		free(ns);
		return false;
	}
	if (kl->e != NULL) {
		memcpy(ne, kl->e, kl->n * sizeof(*ne));
		tls_wipe(kl->e, kl->cap * sizeof(*kl->e));
	}
	free(kl->e);
	free(kl->slot);
	kl->e = ne;
	kl->cap = ncap;
	kl->slot = ns;
	kl->nslots = nslots;
	for (size_t i = 0; i < kl->n; i++)
		kl->slot[find_slot(kl, kl->e[i].random)] = (uint32_t)(i + 1);
	return true;
}

const uint8_t *keylog_find(const struct keylog *kl, const uint8_t random[KEYLOG_RANDOM_LEN],
			   enum keylog_label label, size_t *len)
{
	*len = 0;
	if ((unsigned)label >= KEYLOG_N_LABELS)
		return NULL;
	const struct kl_entry *e = lookup(kl, random);
	if (e == NULL || !(e->mask & (1u << label)))
		return NULL;
	*len = e->len[label];
	return e->secret[label];
}

static void message(struct keylog *kl, const char *origin, uint64_t line, const char *what)
{
	if (kl->st.n_messages >= KEYLOG_MAX_MESSAGES)
		return;
	snprintf(kl->st.messages[kl->st.n_messages++], sizeof(kl->st.messages[0]),
		 "%s:%llu: %s", origin, (unsigned long long)line, what);
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a token of 2*max hex digits at most into out; its byte count, or -1. */
static int unhex(const uint8_t *t, size_t n, uint8_t *out, size_t max)
{
	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return -1;
	struct cursor c = cur_make(t, n);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(cur_u8(&c)), lo = hexval(cur_u8(&c));
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

struct token {
	const uint8_t *p;
	size_t n;
};

/* Splits a line into at most max tokens; returns how many there were (up to max + 1). */
static size_t tokenize(const uint8_t *line, size_t len, struct token *tok, size_t max)
{
	struct cursor c = cur_make(line, len);
	size_t nt = 0;
	while (cur_left(&c) > 0) {
		const uint8_t *start = c.p;
		uint8_t b = cur_u8(&c);
		if (b == ' ' || b == '\t')
			continue;
		size_t n = 1;
		while (cur_left(&c) > 0 && *c.p != ' ' && *c.p != '\t') {
			cur_skip(&c, 1);
			n++;
		}
		if (nt < max)
			tok[nt] = (struct token){start, n};
		nt++;
		if (nt > max)
			break;
	}
	return nt;
}

static bool is_label_token(const struct token *t)
{
	struct cursor c = cur_make(t->p, t->n);
	while (cur_left(&c) > 0) {
		uint8_t b = cur_u8(&c);
		if (!((b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_'))
			return false;
	}
	return t->n > 0;
}

static void store(struct keylog *kl, const uint8_t r[KEYLOG_RANDOM_LEN], enum keylog_label l,
		  const uint8_t *secret, size_t slen, const char *origin, uint64_t lineno)
{
	struct kl_entry *e = lookup(kl, r);
	if (e == NULL) {
		if (!grow(kl)) {
			kl->st.full = kl->n >= kl->max;
			kl->st.dropped++;
			return;
		}
		e = &kl->e[kl->n];
		memset(e, 0, sizeof(*e));
		memcpy(e->random, r, KEYLOG_RANDOM_LEN);
		kl->slot[find_slot(kl, r)] = (uint32_t)(kl->n + 1);
		kl->n++;
		kl->st.clients++;
		if (kl->n >= kl->max)
			kl->st.full = true;
	}
	if (e->mask & (1u << l)) {
		if (e->len[l] == slen && memcmp(e->secret[l], secret, slen) == 0) {
			kl->st.duplicates++;
		} else {
			kl->st.conflicts++;
			message(kl, origin, lineno,
				"a second, different secret for a client random and label "
				"already read; the first is kept");
		}
		return;
	}
	memcpy(e->secret[l], secret, slen);
	e->len[l] = (uint8_t)slen;
	e->mask |= (uint8_t)(1u << l);
	kl->st.secrets++;
	kl->generation++;
}

/* One line, without its newline. */
static void add_line(struct keylog *kl, const uint8_t *line, size_t len, const char *origin,
		     uint64_t lineno)
{
	kl->st.lines++;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > KEYLOG_LINE_MAX) {
		kl->st.malformed++;
		message(kl, origin, lineno, "line too long for a key log line");
		return;
	}
	struct token tok[3];
	size_t nt = tokenize(line, len, tok, 3);
	if (nt == 0 || tok[0].p[0] == '#')
		return;
	if (!is_label_token(&tok[0]) || nt < 2) {
		kl->st.malformed++;
		message(kl, origin, lineno,
			"not a key log line (expected LABEL CLIENT_RANDOM SECRET, in hex)");
		return;
	}
	int l = -1;
	for (int i = 0; i < KEYLOG_N_LABELS; i++)
		if (strlen(label_names[i]) == tok[0].n &&
		    memcmp(label_names[i], tok[0].p, tok[0].n) == 0)
			l = i;
	if (l < 0) {
		kl->st.unknown++;
		return;
	}
	uint8_t r[KEYLOG_RANDOM_LEN], secret[KEYLOG_SECRET_MAX];
	int slen = -1;
	if (nt != 3) {
		message(kl, origin, lineno, "expected three fields: LABEL CLIENT_RANDOM SECRET");
	} else if (unhex(tok[1].p, tok[1].n, r, sizeof(r)) != KEYLOG_RANDOM_LEN) {
		message(kl, origin, lineno, "client random is not 64 hex digits");
	} else {
		slen = unhex(tok[2].p, tok[2].n, secret, sizeof(secret));
		bool ok = l == KEYLOG_CLIENT_RANDOM ? slen == 48 : (slen == 32 || slen == 48);
		if (!ok) {
			message(kl, origin, lineno,
				l == KEYLOG_CLIENT_RANDOM
					? "master secret is not 96 hex digits"
					: "secret is not 64 or 96 hex digits");
			slen = -1;
		}
	}
	if (slen < 0) {
		kl->st.malformed++;
		tls_wipe(secret, sizeof(secret));
		return;
	}
	store(kl, r, (enum keylog_label)l, secret, (size_t)slen, origin, lineno);
	tls_wipe(secret, sizeof(secret));
}

/*
 * Adds the lines of text, numbering them from *lineno + 1. With final
 * false a last line without newline is left; returns the bytes consumed.
 */
static size_t add_lines(struct keylog *kl, const uint8_t *text, size_t len, const char *origin,
			uint64_t *lineno, bool final)
{
	struct cursor c = cur_make(text, len);
	size_t used = 0;
	while (cur_left(&c) > 0) {
		const uint8_t *start = c.p;
		size_t n = 0;
		bool nl = false;
		while (cur_left(&c) > 0) {
			if (cur_u8(&c) == '\n') {
				nl = true;
				break;
			}
			n++;
		}
		if (!nl && !final)
			break;
		add_line(kl, start, n, origin, ++*lineno);
		used = cur_offset(&c, text);
	}
	return used;
}

void keylog_add_text(struct keylog *kl, const uint8_t *text, size_t len, const char *origin)
{
	uint64_t lineno = 0;
	(void)add_lines(kl, text, len, origin, &lineno, true);
}

struct keylog_file {
	int fd;
	char *path;
	off_t offset;    /* file offset just past the last complete line read */
	uint64_t lineno; /* lines read so far */
	bool skipping;   /* inside a line too long to keep: drop up to its newline */
	uint8_t *buf;    /* read buffer; a partial line is re-read next poll */
	size_t cap;
};

enum { KF_BUF = 64 * 1024 };

struct keylog_file *keylog_file_open(const char *path, struct fa_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "%s: cannot open the key log: %s", path, strerror(errno));
		return NULL;
	}
	struct keylog_file *f = calloc(1, sizeof(*f));
	if (f != NULL) {
		f->path = strdup(path);
		f->buf = malloc(KF_BUF);
	}
	if (f == NULL || f->path == NULL || f->buf == NULL) {
		if (f != NULL) {
			free(f->path);
			free(f->buf);
		}
		free(f);
		close(fd);
		fa_err_set(err, "%s: out of memory for the key log", path);
		return NULL;
	}
	f->fd = fd;
	f->cap = KF_BUF;
	return f;
}

void keylog_file_close(struct keylog_file *f)
{
	if (f == NULL)
		return;
	close(f->fd);
	if (f->buf != NULL)
		tls_wipe(f->buf, f->cap);
	free(f->buf);
	free(f->path);
	free(f);
}

int keylog_file_poll(struct keylog_file *f, struct keylog *kl, bool final, struct fa_err *err)
{
	struct stat sb;
	if (fstat(f->fd, &sb) != 0) {
		fa_err_set(err, "%s: cannot read the key log: %s", f->path, strerror(errno));
		return FA_ERUNTIME;
	}
	if (sb.st_size < f->offset) { /* truncated and rewritten: start again */
		f->offset = 0;
		f->lineno = 0;
	}
	uint64_t before = kl->st.lines;
	size_t have = 0;
	for (;;) {
		ssize_t r = pread(f->fd, f->buf + have, f->cap - have, f->offset + (off_t)have);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fa_err_set(err, "%s: cannot read the key log: %s", f->path,
				   strerror(errno));
			return FA_ERUNTIME;
		}
		have += (size_t)r;
		bool eof = r == 0;
		if (!eof && have < f->cap)
			continue;
		size_t used = 0;
		if (f->skipping) { /* the rest of an overlong line */
			const uint8_t *nl = memchr(f->buf, '\n', have);
			used = nl != NULL ? (size_t)(nl - f->buf) + 1 : have;
			f->skipping = nl == NULL;
		}
		if (!f->skipping) {
			used += add_lines(kl, f->buf + used, have - used, f->path, &f->lineno,
					  final && eof);
			if (used == 0 && have == f->cap) {
				/* No newline in a full buffer: malformed, skipped to its end. */
				add_line(kl, f->buf, have, f->path, ++f->lineno);
				f->skipping = true;
				used = have;
			}
		}
		f->offset += (off_t)used;
		memmove(f->buf, f->buf + used, have - used);
		have -= used;
		if (eof)
			break;
	}
	return (int)(kl->st.lines - before > INT32_MAX ? INT32_MAX : kl->st.lines - before);
}

int keylog_load_file(struct keylog *kl, const char *path, struct fa_err *err)
{
	struct keylog_file *f = keylog_file_open(path, err);
	if (f == NULL)
		return FA_EINPUT;
	int r = keylog_file_poll(f, kl, true, err);
	keylog_file_close(f);
	return r < 0 ? FA_EINPUT : FA_OK;
}

size_t keylog_export(const struct keylog *kl, const uint8_t random[KEYLOG_RANDOM_LEN], char *buf,
		     size_t cap)
{
	const struct kl_entry *e = lookup(kl, random);
	if (cap > 0)
		buf[0] = '\0';
	if (e == NULL || e->mask == 0)
		return 0;
	static const char hx[] = "0123456789abcdef";
	char text[KEYLOG_EXPORT_MAX];
	size_t n = 0;
	for (int l = 0; l < KEYLOG_N_LABELS; l++) {
		if (!(e->mask & (1u << l)))
			continue;
		size_t ln = strlen(label_names[l]);
		memcpy(text + n, label_names[l], ln);
		n += ln;
		text[n++] = ' ';
		for (int i = 0; i < KEYLOG_RANDOM_LEN; i++) {
			text[n++] = hx[e->random[i] >> 4];
			text[n++] = hx[e->random[i] & 15];
		}
		text[n++] = ' ';
		for (int i = 0; i < e->len[l]; i++) {
			text[n++] = hx[e->secret[l][i] >> 4];
			text[n++] = hx[e->secret[l][i] & 15];
		}
		text[n++] = '\n';
	}
	if (n < cap) {
		memcpy(buf, text, n);
		buf[n] = '\0';
	}
	tls_wipe(text, sizeof(text));
	return n;
}
