/*
 * pcapng_read.c - pcapng, block by block (draft-ietf-opsawg-pcapng).
 *
 * Receives the bytes of a file through one buffer (or from memory); hands
 * on packets and decryption secrets, one per call, borrowing the buffer.
 * Owns the buffer and the interface table of the current section.
 *
 * The buffer holds a window of the file: each block is made whole in it
 * (the unread rest moved to the front, the buffer refilled with one large
 * read, and grown only when a block is larger than the buffer, up to
 * PCAPNG_MAX_BLOCK), then read through a cursor over exactly its body. A
 * packet costs one header check and a time stamp conversion; there is no
 * allocation per packet, and the options of packet blocks are not parsed
 * (nothing in them changes what a frame is).
 *
 * Frame numbers are the caller's: every Enhanced, Simple and obsolete
 * Packet Block is a packet, in file order, over all sections, which is
 * how Wireshark numbers frames. Wireshark's rules are followed where the
 * format leaves room: a Simple Packet Block belongs to the section's
 * first interface and holds the smaller of its packet length and the
 * interface's snapshot length; a packet naming an interface its section
 * has not described is damage.
 */
#include "flowaudit/pcapng_read.h"

#include "flowaudit/cursor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum block_type {
	BT_IDB = 1,
	BT_PB = 2,  /* obsolete Packet Block */
	BT_SPB = 3,
	BT_EPB = 6,
	BT_DSB = 10,
};

/*
 * Blocks Wireshark 4.0 hands on as frames although they hold no packet,
 * numbered with the packets: systemd journal export, custom blocks (either
 * kind, any PEN), sysdig events.
 */
static bool other_frame(uint32_t type)
{
	switch (type) {
	case 0x00000009u:
	case 0x00000badu:
	case 0x40000badu:
	case 0x00000204u:
	case 0x00000216u:
	case 0x00000221u:
		return true;
	default:
		return false;
	}
}

#define OPT_END 0
#define OPT_IF_TSRESOL 9
#define OPT_IF_TSOFFSET 14

struct iface {
	int linktype;
	uint32_t snaplen;
	bool pow2;       /* if_tsresol is a power of 2 */
	uint8_t exp;     /* ... its exponent: units of 10^-exp or 2^-exp s */
	uint64_t units;  /* base 10: 10^exp units a second */
	uint64_t scale;  /* base 10: 10^|9 - exp|, from units to nanoseconds */
	int64_t offset;  /* if_tsoffset, seconds */
};

struct pcapng_reader {
	int fd;                /* -1 in memory */
	bool own_fd;
	uint8_t *buf;          /* the window's storage (NULL in memory) */
	size_t cap;
	const uint8_t *base;   /* the window: base[pos, have) is unread */
	size_t have, pos;
	uint64_t base_off;     /* file offset of base[0] */
	uint64_t size;         /* the file's size, 0 when unknown */
	bool eof;
	bool be;               /* the current section is big-endian */
	struct iface *ifs;
	size_t n_ifs, cap_ifs;
	uint32_t sections;
	uint64_t interfaces;
	int failed;            /* the error returned again, 0 before one */
	char error[320];
};

static uint16_t u16(struct cursor *c, bool be) { return be ? cur_be16(c) : cur_le16(c); }
static uint32_t u32(struct cursor *c, bool be) { return be ? cur_be32(c) : cur_le32(c); }

static uint64_t u64(struct cursor *c, bool be)
{
	uint64_t a = u32(c, be), b = u32(c, be);
	return be ? a << 32 | b : b << 32 | a;
}

static const char *block_name(uint32_t type)
{
	switch (type) {
	case PCAPNG_MAGIC:
		return "Section Header Block";
	case BT_IDB:
		return "Interface Description Block";
	case BT_PB:
		return "Packet Block";
	case BT_SPB:
		return "Simple Packet Block";
	case BT_EPB:
		return "Enhanced Packet Block";
	case BT_DSB:
		return "Decryption Secrets Block";
	default:
		return "block";
	}
}

static int fail(struct pcapng_reader *r, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct pcapng_reader *r, int kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->failed = kind;
	return kind;
}

/*
 * Makes n bytes from pos readable: 1 when they are, 0 when the input ends
 * first, PCAPNG_DAMAGED on a read error or without memory. Moves the
 * window, so pointers into it are stale afterwards.
 */
static int fill(struct pcapng_reader *r, size_t n)
{
	if (r->have - r->pos >= n)
		return 1;
	if (r->fd < 0 || r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->have - r->pos);
		r->base_off += r->pos;
		r->have -= r->pos;
		r->pos = 0;
	}
	if (n > r->cap) {
		size_t nc = r->cap * 2 > n ? r->cap * 2 : n;
		if (nc > PCAPNG_MAX_BLOCK)
			nc = PCAPNG_MAX_BLOCK;
		uint8_t *nb = realloc(r->buf, nc);
		if (nb == NULL)
			return fail(r, PCAPNG_DAMAGED, "out of memory for a block of %zu bytes at byte "
				    "%" PRIu64, n, r->base_off);
		r->buf = nb;
		r->base = nb;
		r->cap = nc;
	}
	while (r->have < n) {
		ssize_t k = read(r->fd, r->buf + r->have, r->cap - r->have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return fail(r, PCAPNG_DAMAGED, "read failed at byte %" PRIu64 ": %s",
				    r->base_off + r->have, strerror(errno));
		if (k == 0) {
			r->eof = true;
			return 0;
		}
		r->have += (size_t)k;
	}
	return 1;
}

static void iface_default(struct iface *f)
{
	*f = (struct iface){.exp = 6, .units = 1000000, .scale = 1000};
}

/* if_tsresol: false when its unit is finer than 64 bits count in a second. */
static bool iface_tsresol(struct iface *f, uint8_t v)
{
	f->pow2 = (v & 0x80) != 0;
	f->exp = v & 0x7f;
	if (f->pow2)
		return f->exp < 64;
	if (f->exp > 19)
		return false;
	uint64_t p = 1;
	for (unsigned i = 0; i < f->exp; i++)
		p *= 10;
	f->units = p;
	unsigned d = f->exp <= 9 ? 9 - f->exp : f->exp - 9;
	f->scale = 1;
	for (unsigned i = 0; i < d; i++)
		f->scale *= 10;
	return true;
}

/* A packet's 64-bit time stamp in the interface's units, as seconds
   (if_tsoffset added, saturated to int64) and nanoseconds. */
static void ts_convert(const struct iface *f, uint64_t t, int64_t *sec, uint32_t *nsec)
{
	uint64_t s, ns;
	if (f->pow2) {
		unsigned b = f->exp;
		s = b ? t >> b : t;
		uint64_t frac = b ? t & ((UINT64_C(1) << b) - 1) : 0;
		if (b > 34) { /* keep frac * 10^9 within 64 bits */
			frac >>= b - 34;
			b = 34;
		}
		ns = b ? (frac * 1000000000u) >> b : 0;
	} else {
		s = t / f->units;
		uint64_t frac = t % f->units;
		ns = f->exp <= 9 ? frac * f->scale : frac / f->scale;
	}
	int64_t si = s > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)s;
	if (f->offset > 0 && si > INT64_MAX - f->offset)
		si = INT64_MAX;
	else
		si += f->offset; /* si >= 0: a negative offset cannot overflow */
	*sec = si;
	*nsec = (uint32_t)ns;
}

/*
 * The next option of a block (c over its options): 1 with *code, *val and
 * *len set; 0 at the end (opt_endofopt, or fewer bytes than an option
 * header); -1 when the option claims more than the block holds.
 */
static int opt_next(struct cursor *c, bool be, uint16_t *code, const uint8_t **val, uint16_t *len)
{
	if (cur_left(c) < 4)
		return 0;
	*code = u16(c, be);
	*len = u16(c, be);
	if (*code == OPT_END)
		return 0;
	*val = cur_take(c, *len);
	if (*val == NULL)
		return -1;
	size_t pad = (4u - (*len & 3u)) & 3u;
	cur_skip(c, pad < cur_left(c) ? pad : cur_left(c));
	return 1;
}

/* Walks a block's options for damage only (a Section Header's). */
static int options_check(struct pcapng_reader *r, struct cursor *c, uint64_t off, uint32_t type)
{
	uint16_t code, len;
	const uint8_t *val;
	int k;
	while ((k = opt_next(c, r->be, &code, &val, &len)) == 1)
		;
	if (k < 0)
		return fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " has an option (code %u) "
			    "of %u bytes, more than the block holds", block_name(type), off, code, len);
	return 0;
}

static int read_shb(struct pcapng_reader *r, struct cursor *c, uint64_t off)
{
	cur_skip(c, 4); /* the byte-order magic, read by the caller */
	uint16_t major = u16(c, r->be), minor = u16(c, r->be);
	cur_skip(c, 8); /* section length: often -1, never needed */
	if (!cur_ok(c))
		return fail(r, PCAPNG_DAMAGED, "the Section Header Block at byte %" PRIu64 " is too "
			    "short for its fields", off);
	if (major != 1 || (minor != 0 && minor != 2))
		return fail(r, PCAPNG_DAMAGED, "the Section Header Block at byte %" PRIu64 " has "
			    "pcapng version %u.%u; flowaudit reads versions 1.0 and 1.2", off, major,
			    minor);
	int rc = options_check(r, c, off, PCAPNG_MAGIC);
	if (rc < 0)
		return rc;
	r->n_ifs = 0; /* interfaces are numbered per section */
	r->sections++;
	return 0;
}

static int read_idb(struct pcapng_reader *r, struct cursor *c, uint64_t off)
{
	struct iface f;
	iface_default(&f);
	f.linktype = u16(c, r->be);
	cur_skip(c, 2); /* reserved */
	f.snaplen = u32(c, r->be);
	if (!cur_ok(c))
		return fail(r, PCAPNG_DAMAGED, "the Interface Description Block at byte %" PRIu64
			    " is too short for its fields", off);
	uint16_t code, len;
	const uint8_t *val;
	int k;
	while ((k = opt_next(c, r->be, &code, &val, &len)) == 1) {
		struct cursor v = cur_make(val, len);
		if (code == OPT_IF_TSRESOL && len >= 1) {
			uint8_t t = cur_u8(&v);
			if (!iface_tsresol(&f, t))
				return fail(r, PCAPNG_DAMAGED, "the Interface Description Block at byte %"
					    PRIu64 " has if_tsresol %s^-%u, finer than a 64-bit time "
					    "stamp can count", off, t & 0x80 ? "2" : "10", t & 0x7fu);
		} else if (code == OPT_IF_TSOFFSET && len >= 8) {
			f.offset = (int64_t)u64(&v, r->be);
		}
	}
	if (k < 0)
		return fail(r, PCAPNG_DAMAGED, "the Interface Description Block at byte %" PRIu64
			    " has an option (code %u) of %u bytes, more than the block holds", off,
			    code, len);
	if (r->n_ifs == r->cap_ifs) {
		if (r->cap_ifs == PCAPNG_MAX_IFACES)
			return fail(r, PCAPNG_DAMAGED, "the Interface Description Block at byte %"
				    PRIu64 " is one more than the %u interfaces flowaudit reads in "
				    "a section", off, PCAPNG_MAX_IFACES);
		size_t nc = r->cap_ifs ? r->cap_ifs * 2 : 4;
		struct iface *n = realloc(r->ifs, nc * sizeof(*n));
		if (n == NULL)
			return fail(r, PCAPNG_DAMAGED, "out of memory for the interface at byte %"
				    PRIu64, off);
		r->ifs = n;
		r->cap_ifs = nc;
	}
	r->ifs[r->n_ifs++] = f;
	r->interfaces++;
	return 0;
}

/* The interface a packet names, or NULL after failing. */
static const struct iface *packet_iface(struct pcapng_reader *r, uint32_t id, uint32_t type,
					uint64_t off)
{
	if (id < r->n_ifs)
		return &r->ifs[id];
	if (r->n_ifs == 0)
		fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " comes before any interface "
		     "description in its section", block_name(type), off);
	else
		fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " names interface %" PRIu32
		     ", but its section describes %zu", block_name(type), off, id, r->n_ifs);
	return NULL;
}

static int read_packet(struct pcapng_reader *r, struct cursor *c, uint32_t type, uint64_t off,
		       struct pcapng_record *rec)
{
	uint32_t id = 0, hi = 0, lo = 0, caplen, wirelen;
	if (type == BT_SPB) {
		wirelen = u32(c, r->be);
		caplen = wirelen;
	} else {
		if (type == BT_EPB) {
			id = u32(c, r->be);
		} else {
			id = u16(c, r->be);
			cur_skip(c, 2); /* drops count */
		}
		hi = u32(c, r->be);
		lo = u32(c, r->be);
		caplen = u32(c, r->be);
		wirelen = u32(c, r->be);
	}
	if (!cur_ok(c))
		return fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " is too short for its "
			    "fields", block_name(type), off);
	const struct iface *f = packet_iface(r, id, type, off);
	if (f == NULL)
		return r->failed;
	if (type == BT_SPB) {
		if (f->snaplen != 0 && caplen > f->snaplen)
			caplen = f->snaplen;
		if (caplen > cur_left(c)) /* no padding to tell the length by */
			caplen = (uint32_t)cur_left(c);
	}
	size_t room = cur_left(c);
	rec->data = cur_take(c, caplen);
	if (rec->data == NULL)
		return fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " claims %" PRIu32
			    " captured bytes, more than the %zu it holds", block_name(type), off,
			    caplen, room);
	rec->len = caplen;
	rec->wirelen = wirelen;
	rec->linktype = f->linktype;
	rec->snaplen = f->snaplen;
	rec->iface = id;
	rec->has_ts = type != BT_SPB; /* a Simple Packet Block has no time stamp */
	rec->ts_sec = 0;
	rec->ts_nsec = 0;
	if (rec->has_ts)
		ts_convert(f, (uint64_t)hi << 32 | lo, &rec->ts_sec, &rec->ts_nsec);
	return PCAPNG_PACKET;
}

static int read_dsb(struct pcapng_reader *r, struct cursor *c, uint64_t off,
		    struct pcapng_record *rec)
{
	rec->secrets_type = u32(c, r->be);
	uint32_t len = u32(c, r->be);
	if (!cur_ok(c))
		return fail(r, PCAPNG_DAMAGED, "the Decryption Secrets Block at byte %" PRIu64
			    " is too short for its fields", off);
	size_t room = cur_left(c);
	rec->data = cur_take(c, len);
	if (rec->data == NULL)
		return fail(r, PCAPNG_DAMAGED, "the Decryption Secrets Block at byte %" PRIu64
			    " claims %" PRIu32 " bytes of secrets, more than the %zu it holds", off,
			    len, room);
	rec->len = len;
	return PCAPNG_SECRETS;
}

/*
 * One block: PCAPNG_PACKET, PCAPNG_SECRETS or PCAPNG_OTHER_FRAME with *rec
 * filled, BLOCK_SKIPPED for a block that hands on nothing, PCAPNG_END, or
 * an error.
 */
#define BLOCK_SKIPPED 4

static int step(struct pcapng_reader *r, struct pcapng_record *rec)
{
	uint64_t off = r->base_off + r->pos;
	int k = fill(r, 8);
	if (k < 0)
		return k;
	size_t left = r->have - r->pos;
	if (k == 0 && left == 0)
		return PCAPNG_END;
	if (k == 0)
		return fail(r, PCAPNG_CUT_SHORT, "the file ends inside the header of the block at "
			    "byte %" PRIu64 " (%zu bytes left)", off, left);
	struct cursor h = cur_make(r->base + r->pos, left);
	uint32_t type = u32(&h, r->be);
	if (type == PCAPNG_MAGIC) { /* a new section: its own byte order */
		if ((k = fill(r, 12)) < 0)
			return k;
		if (k == 0)
			return fail(r, PCAPNG_CUT_SHORT, "the file ends inside the Section Header "
				    "Block at byte %" PRIu64, off);
		h = cur_make(r->base + r->pos + 8, 4);
		uint32_t bom = cur_le32(&h);
		if (bom == 0x1a2b3c4du)
			r->be = false;
		else if (bom == 0x4d3c2b1au)
			r->be = true;
		else
			return fail(r, PCAPNG_DAMAGED, "the Section Header Block at byte %" PRIu64
				    " has no byte-order magic (0x1a2b3c4d)", off);
		h = cur_make(r->base + r->pos + 4, 4);
	}
	uint32_t len = u32(&h, r->be);
	if (len < 12 || len % 4 != 0)
		return fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " (type 0x%08" PRIx32 ") "
			    "claims %" PRIu32 " bytes, %s", block_name(type), off, type, len,
			    len < 12 ? "fewer than its header and trailer take"
				     : "not a multiple of 4");
	if (len > PCAPNG_MAX_BLOCK)
		return fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " (type 0x%08" PRIx32 ") "
			    "claims %" PRIu32 " bytes, more than the %u (16 MiB) a block may have",
			    block_name(type), off, type, len, PCAPNG_MAX_BLOCK);
	bool fits = r->size == 0 || off > r->size || len <= r->size - off;
	if (fits && (k = fill(r, len)) < 0)
		return k;
	if (!fits || k == 0) {
		uint64_t rest = r->size ? (r->size > off ? r->size - off : 0)
					: (uint64_t)(r->have - r->pos);
		return fail(r, PCAPNG_CUT_SHORT, "the %s at byte %" PRIu64 " (type 0x%08" PRIx32
			    ") claims %" PRIu32 " bytes, more than the %" PRIu64 " left in the file",
			    block_name(type), off, type, len, rest);
	}
	const uint8_t *blk = r->base + r->pos;
	struct cursor t = cur_make(blk + len - 4, 4);
	uint32_t trail = u32(&t, r->be);
	if (trail != len)
		return fail(r, PCAPNG_DAMAGED, "the %s at byte %" PRIu64 " (type 0x%08" PRIx32 ") "
			    "ends with the length %" PRIu32 ", not the %" PRIu32 " it starts with",
			    block_name(type), off, type, trail, len);
	struct cursor c = cur_make(blk + 8, len - 12);
	r->pos += len; /* blk stays valid until the next fill() */
	rec->offset = off;
	switch (type) {
	case PCAPNG_MAGIC:
		k = read_shb(r, &c, off);
		break;
	case BT_IDB:
		k = read_idb(r, &c, off);
		break;
	case BT_EPB:
	case BT_PB:
	case BT_SPB:
		return read_packet(r, &c, type, off, rec);
	case BT_DSB:
		return read_dsb(r, &c, off, rec);
	default:
		if (other_frame(type)) {
			rec->data = cur_take(&c, len - 12);
			rec->len = len - 12;
			rec->wirelen = rec->len;
			rec->has_ts = false;
			rec->linktype = -1;
			rec->block_type = type;
			return PCAPNG_OTHER_FRAME;
		}
		k = 0; /* statistics, name resolution and unknown blocks */
		break;
	}
	return k < 0 ? k : BLOCK_SKIPPED;
}

int pcapng_read_next(struct pcapng_reader *r, struct pcapng_record *rec)
{
	if (r->failed)
		return r->failed;
	int k;
	while ((k = step(r, rec)) == BLOCK_SKIPPED)
		;
	return k;
}

/* Reads the first block, which must be a Section Header. */
static int open_section(struct pcapng_reader *r, char *why, size_t whylen)
{
	struct pcapng_record rec;
	int k = fill(r, 4);
	if (k > 0) {
		struct cursor c = cur_make(r->base + r->pos, 4);
		if (cur_le32(&c) != PCAPNG_MAGIC)
			fail(r, PCAPNG_DAMAGED, "the file does not start with a pcapng Section "
			     "Header Block");
		else if ((k = step(r, &rec)) == PCAPNG_CUT_SHORT)
			fail(r, PCAPNG_CUT_SHORT, "the file ends inside its Section Header Block");
		else if (k == PCAPNG_END)
			fail(r, PCAPNG_CUT_SHORT, "the file ends before its Section Header Block");
	} else if (k == 0) {
		fail(r, PCAPNG_CUT_SHORT, "the file ends inside its Section Header Block");
	}
	if (!r->failed)
		return FA_OK;
	snprintf(why, whylen, "%s", r->error);
	return FA_EINPUT;
}

static struct pcapng_reader *reader_new(void)
{
	struct pcapng_reader *r = calloc(1, sizeof(*r));
	if (r != NULL)
		r->fd = -1;
	return r;
}

int pcapng_read_open_fd(int fd, bool own_fd, const uint8_t *head, size_t n_head, uint64_t size,
			struct pcapng_reader **out, char *why, size_t whylen)
{
	*out = NULL;
	struct pcapng_reader *r = reader_new();
	uint8_t *buf = malloc(PCAPNG_BUF);
	if (r == NULL || buf == NULL || n_head > PCAPNG_BUF) {
		free(r);
		free(buf);
		snprintf(why, whylen, "out of memory");
		return FA_ERUNTIME;
	}
	r->fd = fd;
	r->own_fd = own_fd;
	r->buf = buf;
	r->base = buf;
	r->cap = PCAPNG_BUF;
	r->size = size;
	if (n_head > 0)
		memcpy(buf, head, n_head);
	r->have = n_head;
	int rc = open_section(r, why, whylen);
	if (rc != FA_OK) {
		r->own_fd = false; /* the caller still holds fd on failure */
		pcapng_read_free(r);
		return rc;
	}
	*out = r;
	return FA_OK;
}

int pcapng_read_open_mem(const uint8_t *data, size_t len, struct pcapng_reader **out, char *why,
			 size_t whylen)
{
	*out = NULL;
	struct pcapng_reader *r = reader_new();
	if (r == NULL) {
		snprintf(why, whylen, "out of memory");
		return FA_ERUNTIME;
	}
	r->base = data;
	r->have = data != NULL ? len : 0;
	r->size = r->have;
	int rc = open_section(r, why, whylen);
	if (rc != FA_OK) {
		pcapng_read_free(r);
		return rc;
	}
	*out = r;
	return FA_OK;
}

const char *pcapng_read_error(const struct pcapng_reader *r) { return r->error; }

size_t pcapng_read_peek_links(const struct pcapng_reader *r, int *links, size_t max)
{
	size_t n = 0;
	bool be = r->be;
	struct cursor c = cur_make(r->base + r->pos, r->have - r->pos);
	while (cur_left(&c) >= 12 && n < max) {
		uint32_t type = u32(&c, be), len = u32(&c, be);
		if (type == PCAPNG_MAGIC || type == BT_EPB || type == BT_PB || type == BT_SPB ||
		    len < 12 || len % 4 != 0 || len - 8 > cur_left(&c))
			break;
		struct cursor b = cur_sub(&c, len - 8);
		if (type != BT_IDB)
			continue;
		int lt = u16(&b, be);
		size_t k = 0;
		while (k < n && links[k] != lt)
			k++;
		if (k == n && cur_ok(&b))
			links[n++] = lt;
	}
	return n;
}

uint32_t pcapng_read_sections(const struct pcapng_reader *r) { return r->sections; }

uint64_t pcapng_read_interfaces(const struct pcapng_reader *r) { return r->interfaces; }

void pcapng_read_free(struct pcapng_reader *r)
{
	if (r == NULL)
		return;
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r->ifs);
	free(r);
}
