/*
 * common.h - types every stage shares: addresses, times, errors.
 *
 * fa_addr holds an IPv4 or IPv6 address in network byte order; IPv4 sits in
 * the first four bytes of b[] and the rest is zero, so two addresses compare
 * with memcmp. Times are microseconds since the Unix epoch, UTC.
 *
 * Errors: a stage that can fail returns a status and fills a caller-provided
 * struct fa_err with one line that names the file, the field or position, and
 * what to fix. Only main.c prints errors and chooses exit codes.
 */
#ifndef FLOWAUDIT_COMMON_H
#define FLOWAUDIT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Exit statuses of the command line (see docs/flowaudit.1). */
enum fa_exit {
	FA_EXIT_OK = 0,       /* nothing at or above --fail-on */
	FA_EXIT_FINDINGS = 1, /* findings at or above --fail-on */
	FA_EXIT_INPUT = 2,    /* bad usage or bad input */
	FA_EXIT_RUNTIME = 3,  /* capture device, disk, memory */
};

/* Status returned by stages. FA_EINPUT maps to exit 2, FA_ERUNTIME to 3. */
enum fa_status {
	FA_OK = 0,
	FA_EINPUT = -2,
	FA_ERUNTIME = -3,
};

struct fa_err {
	char msg[1024];
};

/* printf-style; replaces any earlier message. err may be NULL. */
void fa_err_set(struct fa_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

typedef struct fa_addr {
	uint8_t v;     /* 4 or 6; 0 means "no address" */
	uint8_t b[16]; /* network byte order; IPv4 in b[0..3] */
} fa_addr;

#define FA_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

void fa_addr_v4(fa_addr *a, const uint8_t b[4]);
void fa_addr_v6(fa_addr *a, const uint8_t b[16]);
/* Inline: the flow table compares two addresses for every packet. */
static inline bool fa_addr_eq(const fa_addr *a, const fa_addr *b)
{
	return a->v == b->v && memcmp(a->b, b->b, 16) == 0;
}
int fa_addr_cmp(const fa_addr *a, const fa_addr *b);
/* Writes the textual form ("192.0.2.1", "2001:db8::1"); returns buf. */
const char *fa_addr_str(const fa_addr *a, char *buf, size_t len);
/* Writes v in decimal at p (at most 20 bytes, no terminator); returns the end. */
char *fa_put_int(char *p, int64_t v);
/* Parses dotted quad or IPv6 text; false on anything else. */
bool fa_addr_parse(const char *s, fa_addr *a);

/* Address classes that are never geolocated and never "abroad". */
enum fa_addr_scope {
	FA_SCOPE_PUBLIC = 0,
	FA_SCOPE_PRIVATE,    /* RFC 1918, fc00::/7 */
	FA_SCOPE_LOOPBACK,   /* 127/8, ::1 */
	FA_SCOPE_LINK_LOCAL, /* 169.254/16, fe80::/10 */
	FA_SCOPE_CGNAT,      /* 100.64/10 */
	FA_SCOPE_MULTICAST,  /* 224/4, ff00::/8, 255.255.255.255 */
	FA_SCOPE_RESERVED,   /* 0/8, 240/4, docs ranges, ::, ... */
};
enum fa_addr_scope fa_addr_scope(const fa_addr *a);
const char *fa_addr_scope_name(enum fa_addr_scope s);
/* True for scopes a device under test may have (private, ULA, link-local, CGNAT). */
bool fa_addr_is_local_device(const fa_addr *a);

/* Length of the well-formed UTF-8 sequence at s[0..n): 1 for ASCII, 2 to 4
   for the rest, 0 when s does not start one (n 0, a stray continuation,
   an overlong form, a surrogate, a value past U+10FFFF, cut short). */
size_t fa_utf8_len(const unsigned char *s, size_t n);

/* Time: microseconds since the epoch, UTC. */
typedef int64_t fa_time;
/*
 * Seconds and microseconds (as a capture file claims them) to fa_time,
 * saturating at 0 and FA_TIME_MAX_SEC instead of overflowing: a file may
 * claim any 64-bit second. Sets *clamped when it had to.
 */
#define FA_TIME_MAX_SEC 4000000000000LL
fa_time fa_time_from_parts(int64_t sec, int64_t usec, bool *clamped);
/* "2026-11-22T10:00:03.123456Z" (fraction omitted when zero); returns buf. */
const char *fa_time_str(fa_time t, char *buf, size_t len);
/* Parses RFC 3339 / ISO 8601 UTC ("...Z" or "+00:00" offsets); false if bad. */
bool fa_time_parse(const char *s, fa_time *out);

/*
 * rel ("../signatures") taken from the directory of the running binary,
 * resolved into buf, when it exists there; NULL otherwise. How a build
 * tree's build/flowaudit finds the tree's catalogue and data.
 */
const char *fa_path_beside_binary(const char *rel, char *buf, size_t size);

/* Lower-cases a host name in place and strips one trailing dot. */
void fa_host_normalize(char *s);

/*
 * A temporary file, for reading and writing, that no directory lists: in
 * $TMPDIR, else /tmp (O_TMPFILE, or where the file system has none, a file
 * made there and unlinked at once; tag names it meanwhile). Its descriptor,
 * or -1 with errno set. fa_tmpdir() is the directory it goes to.
 */
int fa_tmpfile(const char *tag);
const char *fa_tmpdir(void);

#endif
