/*
 * common.c - addresses, times and errors shared by every stage.
 *
 * Nothing here allocates. Address scopes follow the IANA special-purpose
 * registries (RFC 6890 and its updates); anything not listed is public.
 */
#include "flowaudit/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <limits.h>
#include <time.h>

void fa_err_set(struct fa_err *err, const char *fmt, ...)
{
	if (err == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void fa_addr_v4(fa_addr *a, const uint8_t b[4])
{
	memset(a, 0, sizeof(*a));
	a->v = 4;
	memcpy(a->b, b, 4);
}

void fa_addr_v6(fa_addr *a, const uint8_t b[16])
{
	memset(a, 0, sizeof(*a));
	a->v = 6;
	memcpy(a->b, b, 16);
}

int fa_addr_cmp(const fa_addr *a, const fa_addr *b)
{
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	return memcmp(a->b, b->b, 16);
}

/* "00" to "99", for two digits at a time. */
static const char DIGITS2[] =
	"0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849"
	"5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/* v (below 100) as two digits at p; returns the end. */
static inline char *put2(char *p, unsigned v)
{
	memcpy(p, DIGITS2 + 2 * (size_t)v, 2);
	return p + 2;
}

/* v in decimal at p, written from its last digit back; returns the end. */
static char *put_dec(char *p, uint64_t v)
{
	int n = 1;
	for (uint64_t x = v; x >= 10; x /= 10)
		n++;
	char *end = p + n, *o = end;
	while (v >= 100) {
		o -= 2;
		put2(o, (unsigned)(v % 100));
		v /= 100;
	}
	if (v >= 10) {
		o -= 2;
		put2(o, (unsigned)v);
	} else {
		*--o = (char)('0' + v);
	}
	return end;
}

/* v (a byte) in decimal at p; returns the end. */
static inline char *put_u8(char *p, unsigned v)
{
	if (v >= 100) {
		*p++ = (char)('0' + v / 100);
		return put2(p, v % 100);
	}
	if (v >= 10)
		return put2(p, v);
	*p = (char)('0' + v);
	return p + 1;
}

char *fa_put_int(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_dec(p, (uint64_t)(-(v + 1)) + 1);
	}
	return put_dec(p, (uint64_t)v);
}

/* The n bytes of s into buf of len as snprintf would put them: cut to
   fit, terminated. */
static void put_text(char *buf, size_t len, const char *s, size_t n)
{
	if (len == 0)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

const char *fa_addr_str(const fa_addr *a, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (a->v == 4) {
		/* inet_ntop's dotted quad without its sprintf: the flow writers
		   format two addresses a flow */
		char tmp[16], *p = tmp;
		for (int i = 0; i < 4; i++) {
			if (i > 0)
				*p++ = '.';
			p = put_u8(p, a->b[i]);
		}
		if ((size_t)(p - tmp) < len) /* like inet_ntop: all or nothing */
			put_text(buf, len, tmp, (size_t)(p - tmp));
	} else if (a->v == 6)
		inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
	return buf;
}

bool fa_addr_parse(const char *s, fa_addr *a)
{
	uint8_t b[16];
	if (inet_pton(AF_INET, s, b) == 1) {
		fa_addr_v4(a, b);
		return true;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		fa_addr_v6(a, b);
		return true;
	}
	return false;
}

static enum fa_addr_scope scope_v4(const uint8_t *b)
{
	if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
	    (b[0] == 192 && b[1] == 168))
		return FA_SCOPE_PRIVATE;
	if (b[0] == 127)
		return FA_SCOPE_LOOPBACK;
	if (b[0] == 169 && b[1] == 254)
		return FA_SCOPE_LINK_LOCAL;
	if (b[0] == 100 && (b[1] & 0xc0) == 64)
		return FA_SCOPE_CGNAT;
	if ((b[0] & 0xf0) == 224 || (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255))
		return FA_SCOPE_MULTICAST;
	if (b[0] == 0 || (b[0] & 0xf0) == 240 ||
	    (b[0] == 192 && b[1] == 0 && b[2] == 0) ||   /* 192.0.0/24 IETF */
	    (b[0] == 192 && b[1] == 0 && b[2] == 2) ||   /* TEST-NET-1 */
	    (b[0] == 198 && b[1] == 51 && b[2] == 100) || /* TEST-NET-2 */
	    (b[0] == 203 && b[1] == 0 && b[2] == 113) ||  /* TEST-NET-3 */
	    (b[0] == 198 && (b[1] & 0xfe) == 18))         /* benchmarking */
		return FA_SCOPE_RESERVED;
	return FA_SCOPE_PUBLIC;
}

static enum fa_addr_scope scope_v6(const uint8_t *b)
{
	static const uint8_t zero[16];
	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
		return b[15] == 1 ? FA_SCOPE_LOOPBACK : FA_SCOPE_RESERVED;
	/* ::ffff:a.b.c.d takes the scope of the IPv4 address */
	if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
		return scope_v4(b + 12);
	if ((b[0] & 0xfe) == 0xfc)
		return FA_SCOPE_PRIVATE;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return FA_SCOPE_LINK_LOCAL;
	if (b[0] == 0xff)
		return FA_SCOPE_MULTICAST;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return FA_SCOPE_RESERVED; /* documentation */
	if ((b[0] & 0xe0) != 0x20)
		return FA_SCOPE_RESERVED; /* outside 2000::/3 global unicast */
	return FA_SCOPE_PUBLIC;
}

enum fa_addr_scope fa_addr_scope(const fa_addr *a)
{
	if (a->v == 4)
		return scope_v4(a->b);
	if (a->v == 6)
		return scope_v6(a->b);
	return FA_SCOPE_RESERVED;
}

const char *fa_addr_scope_name(enum fa_addr_scope s)
{
	switch (s) {
	case FA_SCOPE_PUBLIC: return "public";
	case FA_SCOPE_PRIVATE: return "private";
	case FA_SCOPE_LOOPBACK: return "loopback";
	case FA_SCOPE_LINK_LOCAL: return "link-local";
	case FA_SCOPE_CGNAT: return "cgnat";
	case FA_SCOPE_MULTICAST: return "multicast";
	case FA_SCOPE_RESERVED: return "reserved";
	}
	return "reserved";
}

bool fa_addr_is_local_device(const fa_addr *a)
{
	enum fa_addr_scope s = fa_addr_scope(a);
	return s == FA_SCOPE_PRIVATE || s == FA_SCOPE_LINK_LOCAL || s == FA_SCOPE_CGNAT;
}

const char *fa_path_beside_binary(const char *rel, char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return NULL;
	*slash = '\0';
	char cand[2 * PATH_MAX], real[PATH_MAX];
	snprintf(cand, sizeof(cand), "%s/%s", exe, rel);
	if (realpath(cand, real) == NULL || strlen(real) >= size)
		return NULL;
	memcpy(buf, real, strlen(real) + 1);
	return buf;
}

fa_time fa_time_from_parts(int64_t sec, int64_t usec, bool *clamped)
{
	/* 0 .. about 126,000 years: sums and differences of two such times
	   (idle timeouts, lingers) stay far from overflowing */
	const int64_t max_sec = FA_TIME_MAX_SEC;
	if (sec > max_sec || sec < 0 || usec < 0 || usec >= 1000000) {
		*clamped = true;
		if (usec < 0 || usec >= 1000000)
			usec = 0;
		if (sec > max_sec)
			sec = max_sec;
		else if (sec < 0)
			sec = 0;
	}
	return sec * 1000000 + usec;
}

const char *fa_time_str(fa_time t, char *buf, size_t len)
{
	time_t sec = (time_t)(t / 1000000);
	long us = (long)(t % 1000000);
	if (us < 0) {
		us += 1000000;
		sec -= 1;
	}
	if (sec >= 0 && sec < 253402300800LL) { /* years 1970 to 9999, without snprintf */
		/* the civil date of a day count (H. Hinnant's days_from_civil, inverted) */
		int64_t days = sec / 86400, sod = sec % 86400;
		int64_t z = days + 719468, era = z / 146097;
		int64_t doe = z - era * 146097;
		int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		int64_t mp = (5 * doy + 2) / 153;
		int64_t d = doy - (153 * mp + 2) / 5 + 1;
		int64_t m = mp < 10 ? mp + 3 : mp - 9;
		int64_t y = yoe + era * 400 + (m <= 2);
		char tmp[32], *p = tmp;
		p = put2(p, (unsigned)(y / 100));
		p = put2(p, (unsigned)(y % 100));
		*p++ = '-';
		p = put2(p, (unsigned)m);
		*p++ = '-';
		p = put2(p, (unsigned)d);
		*p++ = 'T';
		p = put2(p, (unsigned)(sod / 3600));
		*p++ = ':';
		p = put2(p, (unsigned)(sod / 60 % 60));
		*p++ = ':';
		p = put2(p, (unsigned)(sod % 60));
		if (us) {
			*p++ = '.';
			p = put2(p, (unsigned)(us / 10000));
			p = put2(p, (unsigned)(us / 100 % 100));
			p = put2(p, (unsigned)(us % 100));
		}
		*p++ = 'Z';
		put_text(buf, len, tmp, (size_t)(p - tmp));
		return buf;
	}
	struct tm tm;
	if (gmtime_r(&sec, &tm) == NULL) {
		snprintf(buf, len, "invalid");
		return buf;
	}
	if (us)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
	else
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

static bool digits(const char **s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

bool fa_time_parse(const char *s, fa_time *out)
{
	int y, mo, d, h, mi, se;
	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
	    !digits(&s, 2, &d) || (*s != 'T' && *s != 't' && *s != ' '))
		return false;
	s++;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' ||
	    !digits(&s, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	long us = 0;
	if (*s == '.') {
		s++;
		int nd = 0;
		while (isdigit((unsigned char)*s)) {
			if (nd < 6) {
				us = us * 10 + (*s - '0');
				nd++;
			}
			s++;
		}
		if (nd == 0)
			return false;
		while (nd++ < 6)
			us *= 10;
	}
	int off = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, oh, om;
		s++;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
			return false;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return false;
	}
	if (*s != '\0')
		return false;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	struct tm back;
	if (gmtime_r(&t, &back) == NULL || back.tm_mday != d)
		return false; /* 2026-02-31 and friends */
	*out = ((fa_time)t - off) * 1000000 + us;
	return true;
}

void fa_host_normalize(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	if (n > 0 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

size_t fa_utf8_len(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t min, cp;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, min = 0x80, cp = c & 0x1Fu;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, min = 0x800, cp = c & 0x0Fu;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, min = 0x10000, cp = c & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

const char *fa_tmpdir(void)
{
	const char *dir = getenv("TMPDIR");
	return dir == NULL || dir[0] == '\0' ? "/tmp" : dir;
}

int fa_tmpfile(const char *tag)
{
	const char *dir = fa_tmpdir();
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* file systems without O_TMPFILE: create, then unlink at once */
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/flowaudit-%s-XXXXXX", dir, tag);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}
