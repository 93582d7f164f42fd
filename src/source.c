/*
 * source.c - frames from capture files and live interfaces, via libpcap.
 *
 * Receives paths or an interface; hands on one frame at a time, borrowing
 * libpcap's buffer. Owns the pcap handles and the per-file statistics.
 *
 * Files are opened at once so that a missing or unreadable capture is an
 * input error before any work is done; they are read in the order given.
 * pcap_next_ex() distinguishes end of file (-2) from a damaged file (-1):
 * the second stops that file, records how far it got, and moves on, so one
 * bad file in a batch never hides what the others contain.
 *
 * A live handle is non-blocking: libpcap's own wait on Linux (TPACKET_V3)
 * sleeps until a packet arrives whatever the buffer timeout says, which
 * would leave a capture on a silent link deaf to signals and deadlines.
 * source_wait() polls the handle's descriptor with a timeout instead, and
 * reads the interface's fate (gone, down) from the socket error itself.
 */
#include "flowaudit/source.h"

#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>

/*
 * Captures written by Red Hat 6.1's and Alexey Kuznetzov's patched tcpdump
 * use the ordinary pcap magic (or 0xa1b2cd34) but 24-byte record headers
 * (ifindex, protocol, packet type after the usual 16 bytes). libpcap reads
 * the first record and then fails on garbage lengths; Wireshark tells the
 * variants apart by trying each. flowaudit does the same for the common
 * 24-byte variant and reads those files itself.
 */
struct patched {
	FILE *fp;
	bool swapped;
	uint32_t snaplen;
	uint8_t *buf;
};

#define PATCHED_HDR 24
#define MAX_CAPLEN 262144

struct source {
	bool live;
	uint32_t ns_per_tick;    /* what a tv_usec unit is worth: 1 (files, read in ns), 1000 */
	struct patched *patched; /* per file; fp NULL when libpcap reads it */
	size_t n_files;
	size_t cur;
	pcap_t **handles;
	char **readbuf;          /* per file: the stdio buffer libpcap reads through */
	struct source_file_info *info;
	char **paths;
	struct source_live_stats live_stats;
};

const char *source_link_name(int linktype)
{
	const char *n = pcap_datalink_val_to_name(linktype);
	return n ? n : "unknown";
}

static void source_close_all(struct source *s)
{
	if (s->handles == NULL || s->patched == NULL)
		return;
	for (size_t i = 0; i < s->n_files; i++) {
		if (s->handles[i] != NULL) {
			pcap_close(s->handles[i]);
			s->handles[i] = NULL;
		}
		if (s->readbuf != NULL) {
			free(s->readbuf[i]);
			s->readbuf[i] = NULL;
		}
		if (s->patched != NULL && s->patched[i].fp != NULL) {
			fclose(s->patched[i].fp);
			s->patched[i].fp = NULL;
		}
		if (s->patched != NULL) {
			free(s->patched[i].buf);
			s->patched[i].buf = NULL;
		}
	}
}

static uint32_t rd32(const uint8_t *p, bool swapped)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return swapped ? __builtin_bswap32(v) : v;
}

/* Does a chain of `n` records with headers of `hdr` bytes hold together? */
static bool records_plausible(FILE *fp, bool swapped, uint32_t snaplen, long start, uint32_t hdr,
			      int n)
{
	long off = start;
	uint32_t first_sec = 0;
	for (int i = 0; i < n; i++) {
		uint8_t h[PATCHED_HDR];
		if (fseek(fp, off, SEEK_SET) != 0)
			return false;
		size_t got = fread(h, 1, hdr, fp);
		if (got == 0 && i > 0)
			return true; /* a clean end of file */
		if (got != hdr)
			return false;
		uint32_t sec = rd32(h, swapped), usec = rd32(h + 4, swapped);
		uint32_t caplen = rd32(h + 8, swapped), len = rd32(h + 12, swapped);
		if (i == 0)
			first_sec = sec;
		if (caplen > snaplen || caplen > MAX_CAPLEN || caplen > len || usec >= 1000000 ||
		    sec + 86400u < first_sec || sec > first_sec + 86400u * 366)
			return false;
		off += (long)hdr + (long)caplen;
	}
	return true;
}

bool source_path_rereadable(const char *path)
{
	struct stat sb;
	return strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Opens the file ourselves when its records have the patched 24-byte headers. */
static bool open_patched(const char *path, struct patched *pt)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return false;
	uint8_t fh[24];
	if (fread(fh, 1, sizeof(fh), fp) != sizeof(fh)) {
		fclose(fp);
		return false;
	}
	uint32_t magic = rd32(fh, false);
	bool swapped;
	if (magic == 0xa1b2c3d4 || magic == 0xa1b2cd34)
		swapped = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x34cdb2a1)
		swapped = true;
	else {
		fclose(fp);
		return false;
	}
	uint32_t snaplen = rd32(fh + 16, swapped);
	if (snaplen == 0 || snaplen > MAX_CAPLEN)
		snaplen = MAX_CAPLEN;
	if (records_plausible(fp, swapped, snaplen, 24, 16, 8) ||
	    !records_plausible(fp, swapped, snaplen, 24, PATCHED_HDR, 8) ||
	    fseek(fp, 24, SEEK_SET) != 0) {
		fclose(fp);
		return false;
	}
	pt->buf = malloc(MAX_CAPLEN);
	if (pt->buf == NULL) {
		fclose(fp);
		return false;
	}
	pt->fp = fp;
	pt->swapped = swapped;
	pt->snaplen = snaplen;
	return true;
}

/* 1: a frame; 0: end of file; -1: damaged (fi->error says where). */
static int patched_next(struct patched *pt, struct source_file_info *fi, struct pcap_pkthdr *h,
			const u_char **data)
{
	uint8_t hdr[PATCHED_HDR];
	size_t got = fread(hdr, 1, sizeof(hdr), pt->fp);
	if (got == 0)
		return 0;
	if (got != sizeof(hdr)) {
		snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: truncated "
			 "record header", (unsigned long long)fi->frames);
		return -1;
	}
	uint32_t caplen = rd32(hdr + 8, pt->swapped);
	if (caplen > MAX_CAPLEN || caplen > pt->snaplen) {
		snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: record claims "
			 "%u bytes, more than the snapshot length %u",
			 (unsigned long long)fi->frames, caplen, pt->snaplen);
		return -1;
	}
	if (fread(pt->buf, 1, caplen, pt->fp) != caplen) {
		snprintf(fi->error, sizeof(fi->error), "read stopped after frame %llu: truncated "
			 "record", (unsigned long long)fi->frames);
		return -1;
	}
	h->ts.tv_sec = rd32(hdr, pt->swapped);
	h->ts.tv_usec = rd32(hdr + 4, pt->swapped) * 1000; /* nanoseconds, like the other files */
	h->caplen = caplen;
	h->len = rd32(hdr + 12, pt->swapped);
	*data = pt->buf;
	return 1;
}

void source_free(struct source *s)
{
	if (s == NULL)
		return;
	source_close_all(s);
	for (size_t i = 0; s->paths != NULL && i < s->n_files; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->handles);
	free(s->readbuf);
	free(s->info);
	free(s->patched);
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
	if (s->handles == NULL || s->info == NULL || s->paths == NULL || s->patched == NULL ||
	    s->readbuf == NULL) {
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
 * What to do about a capture libpcap refused to open. `why` is libpcap's
 * reason; `open_errno` is what our own fopen() of the file said (0 when it
 * opened), `m` the first bytes of the file. Every refusal gets a hint.
 */
static const char *open_hint(const char *why, int open_errno, const uint8_t *m, size_t n)
{
	if (open_errno == EACCES || open_errno == EPERM || strstr(why, "Permission denied"))
		return "this user may not read it: check its permissions (ls -l) and make it "
		       "readable (chmod), or run flowaudit as a user who may read it";
	if (open_errno == ENOENT || strstr(why, "No such file"))
		return "check the path: -r takes an existing pcap or pcapng file";
	if (strstr(why, "Is a directory"))
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
	    strstr(why, "savefile major version"))
		return "not a pcap/pcapng file flowaudit can read (libpcap reads pcap 2.0 to 2.4 and "
		       "pcapng 1.0 and 1.2): convert it with 'editcap -F pcapng FILE OUT.pcapng' where "
		       "Wireshark opens it";
	if (strstr(why, "different from the type of the first interface") ||
	    strstr(why, "different link") ||
	    strstr(why, "different from the snapshot length of the first interface"))
		return "the interfaces of this pcapng differ and libpcap reads only one kind per file: "
		       "split it by interface (tshark -r FILE -Y 'frame.interface_id==N' -w "
		       "PART-N.pcapng for each N, as editcap cannot split by interface) and give each "
		       "part with -r";
	if (strstr(why, "only got 0") && n == 0 && open_errno == 0)
		return "the file is empty (the capture never wrote its header): record it again";
	if (strstr(why, "truncated"))
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
static const char *read_hint(const char *why)
{
	if (strstr(why, "different from the type of the first interface") ||
	    strstr(why, "different from the snapshot length of the first interface"))
		return open_hint(why, 0, NULL, 0);
	if (strstr(why, "truncated"))
		return "the file ends inside a packet: it was cut short (copied in part, or still "
		       "being written); the frames before are used";
	return "the rest of the file is damaged; the frames before are used";
}

/* "REASON; HINT" for a capture libpcap would not open. */
static void open_failure(const char *path, const char *msg, char *out, size_t outlen)
{
	uint8_t m[8];
	size_t n = 0;
	int open_errno = 0;
	if (strcmp(path, "-") != 0) { /* libpcap reads "-" as standard input */
		FILE *fp = fopen(path, "rb");
		if (fp == NULL) {
			open_errno = errno;
		} else {
			n = fread(m, 1, sizeof(m), fp);
			fclose(fp);
		}
	}
	/* libpcap words a failed fopen() as "PATH: strerror"; the line already names PATH */
	const char *why = msg;
	size_t pl = strlen(path);
	if (strncmp(msg, path, pl) == 0 && msg[pl] == ':' && msg[pl + 1] == ' ')
		why = msg + pl + 2;
	else if (open_errno != 0 && strncmp(msg, path, strlen(msg)) == 0)
		why = strerror(open_errno); /* the path filled libpcap's buffer */
	snprintf(out, outlen, "%s; %s", why, open_hint(why, open_errno, m, n));
}

/*
 * A capture's handle. libpcap reads a file through stdio, whose buffer is
 * one disk block (4 KiB): a capture of gigabytes then takes a read call
 * every few packets. So a regular file is opened here, on a stream with a
 * buffer of READ_BUF (*buf, freed after the handle). Anything else
 * (standard input, a pipe), and a file refused that way, is opened by
 * libpcap itself, which words the refusal.
 */
#define READ_BUF (256u << 10)

static pcap_t *open_capture(const char *path, bool regular, char **buf, char *ebuf)
{
	if (regular) {
		FILE *fp = fopen(path, "rb");
		char *b = fp ? malloc(READ_BUF) : NULL;
		if (b != NULL && setvbuf(fp, b, _IOFBF, READ_BUF) == 0) {
			pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
				fp, PCAP_TSTAMP_PRECISION_NANO, ebuf);
			if (p != NULL) { /* it closes fp */
				*buf = b;
				return p;
			}
		}
		if (fp != NULL)
			fclose(fp);
		free(b);
	}
	return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
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
		char ebuf[PCAP_ERRBUF_SIZE] = "";
		s->paths[i] = strdup(paths[i]);
		if (s->paths[i] == NULL) {
			source_free(s);
			fa_err_set(err, "out of memory opening captures");
			return FA_ERUNTIME;
		}
		s->info[i].path = s->paths[i];
		bool regular = source_path_rereadable(paths[i]);
		s->handles[i] = open_capture(paths[i], regular, &s->readbuf[i], ebuf);
		if (s->handles[i] == NULL) {
			char why[PCAP_ERRBUF_SIZE + 512];
			open_failure(paths[i], ebuf, why, sizeof(why));
			fa_err_set(err, "%s: cannot read capture: %s", paths[i], why);
			source_free(s);
			return FA_EINPUT;
		}
		s->info[i].linktype = pcap_datalink(s->handles[i]);
		s->info[i].link_name = source_link_name(s->info[i].linktype);
		if (pcap_major_version(s->handles[i]) == 2 && regular &&
		    open_patched(paths[i], &s->patched[i]))
			s->info[i].patched = true;
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

int source_next(struct source *s, struct source_frame *f, struct fa_err *err)
{
	while (s->cur < s->n_files) {
		pcap_t *p = s->handles[s->cur];
		struct source_file_info *fi = &s->info[s->cur];
		struct pcap_pkthdr *h, ph;
		const u_char *data;
		int rc;
		if (s->patched[s->cur].fp != NULL) {
			h = &ph;
			rc = patched_next(&s->patched[s->cur], fi, h, &data);
			if (rc == 0)
				rc = PCAP_ERROR_BREAK; /* end of this file */
			else if (rc < 0)
				rc = -100; /* damaged: error already recorded */
		} else {
			rc = pcap_next_ex(p, &h, &data);
		}
		if (rc == 1) {
			fi->frames++;
			fi->bytes += h->len;
			f->data = data;
			f->caplen = h->caplen;
			f->wirelen = h->len;
			bool clamped = false;
			uint64_t ns = (uint64_t)h->ts.tv_usec * (s->ns_per_tick ? s->ns_per_tick : 1);
			f->ts = fa_time_from_parts((int64_t)h->ts.tv_sec, (int64_t)(ns / 1000), &clamped);
			f->ts_sec = (int64_t)h->ts.tv_sec;
			f->ts_nsec = ns < 1000000000u ? (uint32_t)ns : 999999999u;
			if (clamped)
				fi->bad_timestamps++;
			if (fi->frames == 1 || f->ts < fi->first)
				fi->first = f->ts;
			if (f->ts > fi->last)
				fi->last = f->ts;
			f->linktype = fi->linktype;
			f->file = (uint32_t)s->cur;
			f->frame = fi->frames;
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
				 (unsigned long long)fi->frames, why, read_hint(why));
		} else if (rc == -100) {
			fi->truncated = true;
		}
		pcap_close(p);
		s->handles[s->cur] = NULL;
		free(s->readbuf[s->cur]);
		s->readbuf[s->cur] = NULL;
		if (s->patched[s->cur].fp != NULL) {
			fclose(s->patched[s->cur].fp);
			s->patched[s->cur].fp = NULL;
		}
		s->cur++;
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
