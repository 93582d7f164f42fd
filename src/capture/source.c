/*
 * source.c - frames from capture files and live interfaces.
 *
 * Receives paths or an interface; hands on one frame at a time, borrowing
 * the reader's buffer. Owns the readers (pcap handles, pcapng readers),
 * the decryption secrets of pcapng files and the per-file statistics.
 *
 * Files are opened at once so that a missing or unreadable capture is an
 * input error before any work is done; they are read in the order given.
 * Each file's first bytes choose its reader: a pcapng Section Header goes
 * to pcapng_read.c, anything else to libpcap (classic pcap, and the refusal
 * of what is neither). From a pipe those bytes are handed to libpcap
 * before the rest of the stream (fopencookie), as a pipe cannot seek back.
 * Both readers tell a clean end from damage: damage stops that file,
 * records how far it got, and moves on, so one bad file in a batch never
 * hides what the others contain.
 *
 * A live handle is non-blocking: libpcap's own wait on Linux (TPACKET_V3)
 * sleeps until a packet arrives whatever the buffer timeout says, which
 * would leave a capture on a silent link deaf to signals and deadlines.
 * source_wait() polls the handle's descriptor with a timeout instead, and
 * reads the interface's fate (gone, down) from the socket error itself.
 */
#include "flowaudit/source.h"

#include "flowaudit/cursor.h"
#include "flowaudit/pcapng_read.h"
#include "source_int.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

struct source {
	bool live;
	uint32_t ns_per_tick;    /* what a tv_usec unit is worth: 1 (files, read in ns), 1000 */
	struct patched *patched; /* per file; fp NULL when libpcap reads it */
	struct pcap_fast *fast;  /* per file: its records read ahead of libpcap */
	size_t n_files;
	size_t cur;
	pcap_t **handles;
	struct pcapng_reader **ng; /* per file: its pcapng reader, NULL for libpcap's */
	char **readbuf;          /* per file: the stdio buffer libpcap reads through */
	struct source_file_info *info;
	char **paths;
	size_t cur_link;         /* the current file's links[] entry of the last frame */
	bool timed;              /* the current file has had a frame with a time stamp: */
	fa_time last_ts;         /* ... the last one's */
	int64_t last_sec;
	uint32_t last_nsec;
	struct source_secret **secrets; /* each allocated with its bytes after it */
	size_t n_secrets, cap_secrets;
	uint64_t secret_bytes;
	struct source_live_stats live_stats;
	uint64_t *size;          /* per file: its bytes; 0 when unknown (a pipe) */
	uint64_t ng_offset;      /* the current pcapng file's last block offset */
};

const char *source_link_name(int linktype)
{
	if (linktype == SOURCE_LINK_NONE)
		return "none";
	const char *n = pcap_datalink_val_to_name(linktype);
	return n ? n : "unknown";
}

/* Closes file i's readers and frees their buffers. */
static void source_close(struct source *s, size_t i)
{
	if (s->handles[i] != NULL) {
		pcap_close(s->handles[i]);
		s->handles[i] = NULL;
	}
	pcapng_read_free(s->ng[i]);
	s->ng[i] = NULL;
	free(s->readbuf[i]);
	s->readbuf[i] = NULL;
	patched_close(&s->patched[i]);
	pcap_fast_close(&s->fast[i]);
}

bool source_path_rereadable(const char *path)
{
	struct stat sb;
	return strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

void source_free(struct source *s)
{
	if (s == NULL)
		return;
	bool opened = s->handles && s->ng && s->readbuf && s->patched && s->fast;
	for (size_t i = 0; s->paths != NULL && i < s->n_files; i++) {
		if (opened)
			source_close(s, i);
		free(s->paths[i]);
	}
	for (size_t i = 0; i < s->n_secrets; i++)
		free(s->secrets[i]);
	free(s->secrets);
	free(s->paths);
	free(s->handles);
	free(s->ng);
	free(s->readbuf);
	free(s->info);
	free(s->patched);
	free(s->fast);
	free(s->size);
	free(s);
}

static struct source *source_alloc(size_t n)
{
	struct source *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->n_files = n;
	s->handles = calloc(n, sizeof(*s->handles));
	s->info = calloc(n, sizeof(*s->info));
	s->paths = calloc(n, sizeof(*s->paths));
	s->patched = calloc(n, sizeof(*s->patched));
	s->readbuf = calloc(n, sizeof(*s->readbuf));
	s->ng = calloc(n, sizeof(*s->ng));
	s->fast = calloc(n, sizeof(*s->fast));
	s->size = calloc(n, sizeof(*s->size));
	if (s->handles == NULL || s->info == NULL || s->paths == NULL || s->patched == NULL ||
	    s->readbuf == NULL || s->ng == NULL || s->fast == NULL || s->size == NULL) {
		source_free(s);
		return NULL;
	}
	return s;
}

/* A compressed or archived file, told by its first bytes: what to run on it. */
static const char *packed_hint(const uint8_t *m, size_t n)
{
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return "the file is gzip-compressed: decompress it first (gzip -d) and read the result";
	if (n >= 4 && memcmp(m, "\x28\xb5\x2f\xfd", 4) == 0)
		return "the file is zstd-compressed: decompress it first (zstd -d) and read the result";
	if (n >= 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0)
		return "the file is xz-compressed: decompress it first (xz -d) and read the result";
	if (n >= 3 && memcmp(m, "BZh", 3) == 0)
		return "the file is bzip2-compressed: decompress it first (bzip2 -d) and read the "
		       "result";
	if (n >= 4 && memcmp(m, "\x04\x22\x4d\x18", 4) == 0)
		return "the file is lz4-compressed: decompress it first (lz4 -d) and read the result";
	if (n >= 4 && memcmp(m, "PK\x03\x04", 4) == 0)
		return "the file is a zip archive: extract the capture first (unzip) and read it";
	if (n >= 6 && memcmp(m, "7z\xbc\xaf\x27\x1c", 6) == 0)
		return "the file is a 7z archive: extract the capture first (7z x) and read it";
	return NULL;
}

static bool looks_like_text(const uint8_t *m, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(m[i] == '\t' || m[i] == '\n' || m[i] == '\r' || (m[i] >= 0x20 && m[i] < 0x7f)))
			return false;
	return true;
}

/*
 * What to do about a capture that could not be opened. `why` is the
 * reader's reason (libpcap's, the pcapng reader's, or open()'s);
 * `open_errno` what open() said (0 when it opened), `m` the first bytes of
 * the file. Every refusal gets a hint.
 */
static const char *open_hint(const char *why, int open_errno, const uint8_t *m, size_t n)
{
	if (open_errno == EACCES || open_errno == EPERM || strstr(why, "Permission denied"))
		return "this user may not read it: check its permissions (ls -l) and make it "
		       "readable (chmod), or run flowaudit as a user who may read it";
	if (open_errno == ENOENT || strstr(why, "No such file"))
		return "check the path: -r takes an existing pcap or pcapng file";
	if (open_errno == EISDIR || strstr(why, "Is a directory"))
		return "-r takes a capture file, not a directory: give each file with its own -r";
	if (strstr(why, "unknown file format") || strstr(why, "bad dump file format")) {
		const char *p = packed_hint(m, n);
		if (p != NULL)
			return p;
		if (looks_like_text(m, n))
			return "the file is text, not a capture: save captures with tcpdump -w FILE or "
			       "tshark -w FILE";
		return "flowaudit reads only pcap and pcapng: convert another capture format with "
		       "'editcap -F pcapng FILE OUT.pcapng', and decompress a compressed file first "
		       "(gzip -d / zstd -d / xz -d)";
	}
	if (strstr(why, "archaic pcap") || strstr(why, "savefile version") ||
	    strstr(why, "savefile major version") || strstr(why, "pcapng version"))
		return "not a pcap/pcapng file flowaudit can read (it reads pcap 2.0 to 2.4 and "
		       "pcapng 1.0 and 1.2): convert it with 'editcap -F pcapng FILE OUT.pcapng' where "
		       "Wireshark opens it";
	if (strstr(why, "only got 0") && n == 0 && open_errno == 0)
		return "the file is empty (the capture never wrote its header): record it again";
	if (strstr(why, "truncated") || strstr(why, "ends inside") || strstr(why, "ends before"))
		return "the file is damaged or not a capture: it ends inside its header (if a "
		       "capture is still writing it, wait until it stops, else copy it again)";
	if (strstr(why, "error reading dump file"))
		return "the file could not be read: check the disk or copy the file again";
	if (strstr(why, "out of memory"))
		return "flowaudit ran out of memory opening it: free memory and try again";
	return "the file is damaged or not a capture: copy it again from where it was recorded, "
	       "or check that Wireshark opens it";
}

/* What to do about a capture that broke off after it was opened. */
static const char *read_hint(bool cut_short)
{
	if (cut_short)
		return "the file ends inside a packet: it was cut short (copied in part, or still "
		       "being written); the frames before are used";
	return "the rest of the file is damaged; the frames before are used";
}

/* FA_EINPUT with "PATH: cannot read capture: REASON; HINT". */
static int refuse(const char *path, const char *why, int open_errno, const uint8_t *m, size_t n,
		  struct fa_err *err)
{
	fa_err_set(err, "%s: cannot read capture: %s; %s", path, why,
		   open_hint(why, open_errno, m, n));
	return FA_EINPUT;
}

/* Up to n first bytes of fd (from offset 0 of a file; from a pipe, taken). */
static size_t read_head(int fd, bool regular, uint8_t *m, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = regular ? pread(fd, m + got, n - got, (off_t)got)
				    : read(fd, m + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return got;
}

/* A pipe for libpcap: the bytes already taken from it, then the rest. */
struct replay {
	int fd;
	bool own;
	uint8_t head[8];
	size_t n, at;
};

static ssize_t replay_read(void *cookie, char *buf, size_t size)
{
	struct replay *rp = cookie;
	if (rp->at < rp->n) {
		size_t k = rp->n - rp->at < size ? rp->n - rp->at : size;
		memcpy(buf, rp->head + rp->at, k);
		rp->at += k;
		return (ssize_t)k;
	}
	ssize_t k;
	do
		k = read(rp->fd, buf, size);
	while (k < 0 && errno == EINTR);
	return k;
}

static int replay_close(void *cookie)
{
	struct replay *rp = cookie;
	int rc = rp->own ? close(rp->fd) : 0;
	free(rp);
	return rc;
}

static FILE *replay_open(int fd, bool own, const uint8_t *head, size_t n)
{
	struct replay *rp = malloc(sizeof(*rp));
	if (rp == NULL)
		return NULL;
	*rp = (struct replay){.fd = fd, .own = own, .n = n};
	memcpy(rp->head, head, n);
	FILE *fp = fopencookie(rp, "rb", (cookie_io_functions_t){.read = replay_read,
								   .close = replay_close});
	if (fp == NULL)
		free(rp);
	return fp;
}

/*
 * libpcap's LINKTYPE_ to DLT_ mapping, for the values that differ (where a
 * DLT_ number means different things on different systems): a pcapng
 * interface's link type numbered as libpcap numbers a pcap file's.
 */
static int linktype_to_dlt(int lt)
{
	static const struct {
		int linktype, dlt;
	} map[] = {
		{100, DLT_ATM_RFC1483}, {101, DLT_RAW},      {102, DLT_SLIP_BSDOS},
		{103, DLT_PPP_BSDOS},   {106, DLT_ATM_CLIP},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].linktype == lt)
			return map[i].dlt;
	return lt;
}

/* The links[] entry of linktype in fi, added when there is room; -1 without. */
static int link_index(struct source_file_info *fi, int linktype)
{
	for (size_t k = 0; k < fi->n_links; k++)
		if (fi->links[k].linktype == linktype)
			return (int)k;
	if (fi->n_links == SOURCE_MAX_LINKS)
		return -1;
	fi->links[fi->n_links] = (struct source_link){linktype, source_link_name(linktype), 0};
	return (int)fi->n_links++;
}

/* File i through the pcapng reader, on fd (its first n bytes in head when
   they were taken from a pipe). */
static int open_pcapng(struct source *s, size_t i, int fd, bool own, const uint8_t *head,
		       size_t n, uint64_t size, struct fa_err *err)
{
	char why[400];
	int rc = pcapng_read_open_fd(fd, own, head, n, size, &s->ng[i], why, sizeof(why));
	if (rc == FA_ERUNTIME) {
		fa_err_set(err, "%s: cannot read capture: %s", s->paths[i], why);
		return rc;
	}
	if (rc != FA_OK)
		return refuse(s->paths[i], why, 0, head, n, err);
	struct source_file_info *fi = &s->info[i];
	int links[SOURCE_MAX_LINKS];
	size_t nl = pcapng_read_peek_links(s->ng[i], links, SOURCE_MAX_LINKS);
	for (size_t k = 0; k < nl; k++)
		link_index(fi, linktype_to_dlt(links[k]));
	fi->pcapng = true;
	fi->linktype = nl > 0 ? fi->links[0].linktype : SOURCE_LINK_NONE;
	fi->link_name = source_link_name(fi->linktype);
	return FA_OK;
}

/*
 * Link types whose records libpcap hands on exactly as the file holds them
 * (it rewrites the pseudo-headers of some others, USB and NFLOG among
 * them, in a file of the other byte order): those source_pcap.c may read.
 */
static bool fast_link(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_RAW:
	case DLT_LINUX_SLL:
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2:
#endif
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		return true;
	default:
		return false;
	}
}

/*
 * A capture's reader. A regular file is opened once: pcapng goes to our
 * reader, anything else to libpcap on a stream with a buffer of READ_BUF
 * (libpcap's own is one disk block, 4 KiB: a capture of gigabytes would
 * take a read call every few packets). A pipe or standard input ("-")
 * gives its first bytes to tell the format, and libpcap gets them back.
 */
#define READ_BUF (256u << 10)

static int open_file(struct source *s, size_t i, struct fa_err *err)
{
	const char *path = s->paths[i];
	bool std_in = strcmp(path, "-") == 0; /* as libpcap reads "-" */
	bool regular = source_path_rereadable(path);
	int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return refuse(path, strerror(e), e, NULL, 0, err);
	}
	struct stat sb;
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		return refuse(path, strerror(EISDIR), EISDIR, NULL, 0, err);
	}
	if (regular)
		s->size[i] = (uint64_t)sb.st_size;
	uint8_t head[8];
	size_t n = read_head(fd, regular, head, sizeof(head));
	struct cursor c = cur_make(head, n);
	if (cur_le32(&c) == PCAPNG_MAGIC) { /* the same either byte order */
		int rc = open_pcapng(s, i, fd, !std_in, regular ? NULL : head, regular ? 0 : n,
				     regular ? (uint64_t)sb.st_size : 0, err);
		if (rc != FA_OK && !std_in)
			close(fd);
		return rc;
	}
	FILE *fp = regular ? fdopen(fd, "rb") : replay_open(fd, !std_in, head, n);
	if (fp == NULL) {
		if (!std_in)
			close(fd);
		return refuse(path, "out of memory", 0, head, n, err);
	}
	char *b = malloc(READ_BUF);
	if (b != NULL && setvbuf(fp, b, _IOFBF, READ_BUF) != 0) {
		free(b);
		b = NULL;
	}
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (p == NULL) {
		fclose(fp); /* libpcap leaves a stream it refused to the caller */
		free(b);
		return refuse(path, ebuf, 0, head, n, err);
	}
	s->handles[i] = p; /* it closes fp */
	s->readbuf[i] = b;
	struct source_file_info *fi = &s->info[i];
	fi->linktype = pcap_datalink(p);
	fi->link_name = source_link_name(fi->linktype);
	link_index(fi, fi->linktype);
	if (pcap_major_version(p) == 2 && regular && patched_open(path, &s->patched[i]))
		fi->patched = true;
	uint8_t fh[24];
	if (regular && !fi->patched && fast_link(fi->linktype))
		pcap_fast_open(&s->fast[i], fd, fh, read_head(fd, true, fh, sizeof(fh)),
			       (uint32_t)pcap_snapshot(p));
	return FA_OK;
}

int source_open_files(const char *const *paths, size_t n, struct source **out, struct fa_err *err)
{
	*out = NULL;
	if (n == 0) {
		fa_err_set(err, "no capture file given (use -r FILE)");
		return FA_EINPUT;
	}
	struct source *s = source_alloc(n);
	if (s == NULL) {
		fa_err_set(err, "out of memory opening captures");
		return FA_ERUNTIME;
	}
	s->ns_per_tick = 1; /* files are read in nanoseconds */
	for (size_t i = 0; i < n; i++) {
		s->paths[i] = strdup(paths[i]);
		if (s->paths[i] == NULL) {
			source_free(s);
			fa_err_set(err, "out of memory opening captures");
			return FA_ERUNTIME;
		}
		s->info[i].path = s->paths[i];
		int rc = open_file(s, i, err);
		if (rc != FA_OK) {
			source_free(s);
			return rc;
		}
	}
	*out = s;
	return FA_OK;
}

int source_open_live(const struct source_live_opts *o, struct source **out, struct fa_err *err)
{
	*out = NULL;
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct source *s = source_alloc(1);
	if (s == NULL) {
		fa_err_set(err, "out of memory opening %s", o->iface);
		return FA_ERUNTIME;
	}
	s->live = true;
	s->ns_per_tick = 1000; /* live handles stay in microseconds */
	s->paths[0] = strdup(o->iface);
	s->info[0].path = s->paths[0];
	pcap_t *p = pcap_create(o->iface, ebuf);
	if (p == NULL) {
		fa_err_set(err, "%s: cannot open interface: %s", o->iface, ebuf);
		source_free(s);
		return FA_ERUNTIME;
	}
	s->handles[0] = p;
	pcap_set_snaplen(p, o->snaplen > 0 ? o->snaplen : 262144);
	pcap_set_promisc(p, 1);
	pcap_set_timeout(p, o->timeout_ms > 0 ? o->timeout_ms : 100);
	if (o->immediate)
		pcap_set_immediate_mode(p, 1);
	if (o->buffer_size > 0)
		pcap_set_buffer_size(p, o->buffer_size);
	int rc = pcap_activate(p);
	if (rc < 0) {
		fa_err_set(err, "%s: cannot capture: %s", o->iface, pcap_geterr(p));
		source_free(s);
		return rc == PCAP_ERROR_NO_SUCH_DEVICE ? FA_EINPUT : FA_ERUNTIME;
	}
	if (pcap_setnonblock(p, 1, ebuf) != 0 || pcap_get_selectable_fd(p) < 0) {
		fa_err_set(err, "%s: cannot poll the capture: %s", o->iface, ebuf);
		source_free(s);
		return FA_ERUNTIME;
	}
	s->info[0].linktype = pcap_datalink(p);
	s->info[0].link_name = source_link_name(s->info[0].linktype);
	link_index(&s->info[0], s->info[0].linktype);
	if (o->filter != NULL && o->filter[0] != '\0') {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			fa_err_set(err, "bad capture filter '%s': %s", o->filter, pcap_geterr(p));
			source_free(s);
			return FA_EINPUT;
		}
		rc = pcap_setfilter(p, &prog);
		pcap_freecode(&prog);
		if (rc < 0) {
			fa_err_set(err, "%s: cannot set filter: %s", o->iface, pcap_geterr(p));
			source_free(s);
			return FA_ERUNTIME;
		}
	}
	*out = s;
	return FA_OK;
}

static void record_live_stats(struct source *s)
{
	struct pcap_stat st;
	if (s->live && s->handles[0] != NULL && pcap_stats(s->handles[0], &st) == 0) {
		s->live_stats.valid = true;
		s->live_stats.received = st.ps_recv;
		s->live_stats.dropped = st.ps_drop;
		s->live_stats.if_dropped = st.ps_ifdrop;
	}
}

/* Counts a frame of the current file and hands it on in *f. ns: the
   nanoseconds as the file gives them (a microsecond file's times 1000).
   An untimed frame (a pcapng Simple Packet Block, a record that is no
   packet) takes the time of the frame before it, and leaves the file's
   first and last times alone. */
static void deliver(struct source *s, struct source_file_info *fi, struct source_frame *f,
		    const uint8_t *data, uint32_t caplen, uint32_t wirelen, bool timed,
		    int64_t sec, uint64_t ns, int linktype)
{
	fi->frames++;
	fi->bytes += wirelen;
	f->data = data;
	f->caplen = caplen;
	f->wirelen = wirelen;
	if (timed) {
		bool clamped = false;
		f->ts = fa_time_from_parts(sec, (int64_t)(ns / 1000), &clamped);
		f->ts_sec = sec;
		f->ts_nsec = ns < 1000000000u ? (uint32_t)ns : 999999999u;
		if (clamped)
			fi->bad_timestamps++;
		if (!s->timed || f->ts < fi->first)
			fi->first = f->ts;
		if (!s->timed || f->ts > fi->last)
			fi->last = f->ts;
		s->timed = true;
		s->last_ts = f->ts;
		s->last_sec = f->ts_sec;
		s->last_nsec = f->ts_nsec;
	} else {
		f->ts = s->last_ts;
		f->ts_sec = s->last_sec;
		f->ts_nsec = s->last_nsec;
	}
	if (s->cur_link >= fi->n_links || fi->links[s->cur_link].linktype != linktype) {
		int k = link_index(fi, linktype);
		s->cur_link = k >= 0 ? (size_t)k : SOURCE_MAX_LINKS;
	}
	if (s->cur_link < fi->n_links)
		fi->links[s->cur_link].frames++;
	if (fi->linktype == SOURCE_LINK_NONE && linktype != SOURCE_LINK_NONE) {
		fi->linktype = linktype;
		fi->link_name = source_link_name(linktype);
	}
	f->linktype = linktype;
	f->file = (uint32_t)s->cur;
	f->frame = fi->frames;
}

/* A Decryption Secrets Block of the current file, copied; counted as left
   out past SOURCE_SECRETS_MAX_BYTES or without memory. */
static void keep_secret(struct source *s, struct source_file_info *fi,
			const struct pcapng_record *rec)
{
	if (s->secret_bytes + rec->len > SOURCE_SECRETS_MAX_BYTES) {
		fi->secrets_dropped++;
		return;
	}
	if (s->n_secrets == s->cap_secrets) {
		size_t nc = s->cap_secrets ? s->cap_secrets * 2 : 8;
		struct source_secret **n = realloc(s->secrets, nc * sizeof(*n));
		if (n == NULL) {
			fi->secrets_dropped++;
			return;
		}
		s->secrets = n;
		s->cap_secrets = nc;
	}
	struct source_secret *x = malloc(sizeof(*x) + rec->len);
	if (x == NULL) {
		fi->secrets_dropped++;
		return;
	}
	uint8_t *d = (uint8_t *)(x + 1);
	if (rec->len > 0)
		memcpy(d, rec->data, rec->len);
	*x = (struct source_secret){.file = (uint32_t)s->cur, .before = fi->frames + 1,
				    .type = rec->secrets_type, .data = d, .len = rec->len};
	s->secrets[s->n_secrets++] = x;
	s->secret_bytes += rec->len;
	fi->secrets++;
}

/* The next frame of a pcapng file: 1, or 0 at its end (fi->error says why
   when it stopped early). */
static int pcapng_next_frame(struct source *s, struct source_file_info *fi, struct source_frame *f)
{
	struct pcapng_reader *r = s->ng[s->cur];
	struct pcapng_record rec;
	int k;
	while ((k = pcapng_read_next(r, &rec)) == PCAPNG_SECRETS)
		keep_secret(s, fi, &rec);
	if (k == PCAPNG_PACKET || k == PCAPNG_OTHER_FRAME) {
		s->ng_offset = rec.offset;
		deliver(s, fi, f, rec.data, rec.len, rec.wirelen, rec.has_ts, rec.ts_sec,
			rec.ts_nsec, k == PCAPNG_PACKET ? linktype_to_dlt(rec.linktype)
							: SOURCE_LINK_NONE);
		return 1;
	}
	fi->sections = pcapng_read_sections(r);
	fi->interfaces = pcapng_read_interfaces(r);
	if (k != PCAPNG_END) {
		fi->truncated = true;
		snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: %s; %s",
			 (unsigned long long)fi->frames, pcapng_read_error(r),
			 read_hint(k == PCAPNG_CUT_SHORT));
	}
	return 0;
}

int source_next(struct source *s, struct source_frame *f, struct fa_err *err)
{
	while (s->cur < s->n_files) {
		pcap_t *p = s->handles[s->cur];
		struct source_file_info *fi = &s->info[s->cur];
		struct pcap_pkthdr *h, ph;
		const u_char *data;
		int rc;
		if (s->ng[s->cur] != NULL) {
			if (pcapng_next_frame(s, fi, f) == 1)
				return 1;
			rc = PCAP_ERROR_BREAK; /* its end; any damage recorded */
		} else if (s->patched[s->cur].fp != NULL) {
			struct patched_rec pr;
			h = &ph;
			rc = patched_next(&s->patched[s->cur], fi, &pr);
			if (rc == 1) {
				ph.ts.tv_sec = pr.sec;
				ph.ts.tv_usec = pr.nsec; /* nanoseconds, like the other files */
				ph.caplen = pr.caplen;
				ph.len = pr.len;
				data = pr.data;
			} else if (rc == 0) {
				rc = PCAP_ERROR_BREAK; /* end of this file */
			} else {
				rc = -100; /* damaged: error already recorded */
			}
		} else if (s->fast[s->cur].active) {
			struct pcap_fast *pf = &s->fast[s->cur];
			struct pcap_fast_rec fr;
			if (pcap_fast_next(pf, &fr) == 1) {
				deliver(s, fi, f, fr.data, fr.caplen, fr.len, true, fr.sec,
					(uint64_t)fr.ns, fi->linktype);
				return 1;
			}
			/* libpcap reads on from the record this one stopped at */
			off_t at = (off_t)pcap_fast_offset(pf);
			pcap_fast_close(pf);
			if (fseeko(pcap_file(p), at, SEEK_SET) == 0)
				continue;
			snprintf(fi->error, sizeof(fi->error),
				 "read stopped after frame %llu: cannot seek in the file: %s",
				 (unsigned long long)fi->frames, strerror(errno));
			rc = -100;
		} else {
			rc = pcap_next_ex(p, &h, &data);
		}
		if (rc == 1) {
			deliver(s, fi, f, data, h->caplen, h->len, true, (int64_t)h->ts.tv_sec,
				(uint64_t)h->ts.tv_usec * s->ns_per_tick, fi->linktype);
			return 1;
		}
		if (rc == 0) /* live: nothing buffered right now */
			return 2;
		if (s->live) {
			record_live_stats(s);
			if (rc == PCAP_ERROR_BREAK)
				return 0;
			fa_err_set(err, "%s: capture failed: %s", fi->path, pcap_geterr(p));
			return FA_ERUNTIME;
		}
		if (rc == PCAP_ERROR) {
			fi->truncated = true;
			const char *why = pcap_geterr(p);
			snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: %s; %s",
				 (unsigned long long)fi->frames, why,
				 read_hint(strstr(why, "truncated") != NULL));
		} else if (rc == -100) {
			fi->truncated = true;
		}
		source_close(s, s->cur);
		s->cur++;
		s->ng_offset = 0;
		s->cur_link = 0;
		s->timed = false;
		s->last_ts = 0;
		s->last_sec = 0;
		s->last_nsec = 0;
	}
	return 0;
}

int source_wait(struct source *s, int other_fd, int timeout_ms, struct fa_err *err)
{
	if (!s->live || s->handles[0] == NULL)
		return 0;
	struct pollfd pf[2] = {
		{.fd = pcap_get_selectable_fd(s->handles[0]), .events = POLLIN},
		{.fd = other_fd, .events = POLLIN},
	};
	int n = poll(pf, other_fd >= 0 ? 2 : 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : 1;
	if (pf[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(pf[0].fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
		record_live_stats(s);
		const char *iface = s->info[0].path;
		if (if_nametoindex(iface) == 0)
			fa_err_set(err, "%s: the interface disappeared", iface);
		else if (soerr == ENETDOWN)
			fa_err_set(err, "%s: the interface went down", iface);
		else
			fa_err_set(err, "%s: capture failed: %s", iface,
				   soerr ? strerror(soerr) : "error on the packet socket");
		return FA_ERUNTIME;
	}
	return n > 0 ? 1 : 0;
}

void source_break(struct source *s)
{
	if (s != NULL && s->live && s->handles[0] != NULL)
		pcap_breakloop(s->handles[0]);
}

size_t source_secret_count(const struct source *s) { return s->n_secrets; }

const struct source_secret *source_secret_next(const struct source *s, uint32_t file,
					       uint64_t frame, size_t *next)
{
	if (*next >= s->n_secrets)
		return NULL;
	const struct source_secret *x = s->secrets[*next];
	if (x->file > file || (x->file == file && x->before > frame))
		return NULL;
	(*next)++;
	return x;
}

/* How far into the current file reading is, in bytes. */
static uint64_t file_position(const struct source *s)
{
	size_t i = s->cur;
	if (s->ng[i] != NULL)
		return s->ng_offset;
	if (s->fast[i].active)
		return pcap_fast_offset(&s->fast[i]);
	FILE *fp = s->patched[i].fp;
	if (fp == NULL && s->handles[i] != NULL)
		fp = pcap_file(s->handles[i]);
	off_t at = fp != NULL ? ftello(fp) : -1;
	return at > 0 ? (uint64_t)at : 0;
}

void source_progress(const struct source *s, uint64_t *done, uint64_t *total)
{
	*done = *total = 0;
	if (s->live)
		return;
	for (size_t i = 0; i < s->n_files; i++) {
		if (s->size[i] == 0) { /* a pipe: no end to measure against */
			*done = *total = 0;
			return;
		}
		*total += s->size[i];
		if (i < s->cur)
			*done += s->size[i];
	}
	if (s->cur < s->n_files) {
		uint64_t at = file_position(s);
		*done += at < s->size[s->cur] ? at : s->size[s->cur];
	}
}

size_t source_file_count(const struct source *s) { return s->n_files; }

const struct source_file_info *source_file(const struct source *s, size_t i)
{
	return i < s->n_files ? &s->info[i] : NULL;
}

void source_live_stats(struct source *s, struct source_live_stats *out)
{
	record_live_stats(s);
	*out = s->live_stats;
}

void *source_pcap_handle(const struct source *s)
{
	if (s->cur < s->n_files)
		return s->handles[s->cur];
	return NULL;
}
