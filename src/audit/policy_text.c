/*
 * policy_text.c - the bytes of a JSON declaration: reading, depth, positions.
 *
 * Receives: the path of a JSON file (a policy declaration, a consent
 * timeline). Hands on: the parsed document and its text. Owns nothing past
 * the call: the caller frees both.
 *
 * jansson reads the file but has no nesting limit and forgets where values
 * were once it has parsed them. So the bytes are read here (at most the
 * caller's limit), scanned for bracket depth before jansson sees them, and
 * kept so that an error found later in a value can be turned back into a
 * line and column by walking the text again with a small scanner. The
 * scanner runs only when an error is reported; it trusts that the text has
 * already parsed.
 */
#include "flowaudit/policy.h"

#include "flowaudit/cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 256

static int peek(const struct cursor *c)
{
	return cur_left(c) > 0 ? c->p[0] : -1;
}

static void skip_ws(struct cursor *c)
{
	while (peek(c) == ' ' || peek(c) == '\t' || peek(c) == '\n' || peek(c) == '\r')
		cur_skip(c, 1);
}

/* Skips a string whose opening quote is next; copies it (escapes taken literally) into out. */
static void skip_string(struct cursor *c, char *out, size_t cap)
{
	size_t n = 0;
	cur_skip(c, 1);
	while (cur_left(c) > 0) {
		uint8_t b = cur_u8(c);
		if (b == '"')
			break;
		if (b == '\\')
			b = cur_u8(c);
		if (out != NULL && n + 1 < cap)
			out[n++] = (char)b;
	}
	if (out != NULL)
		out[n] = '\0';
}

/* Offset of the first bracket nested deeper than POLICY_MAX_DEPTH; len when none. */
static size_t too_deep_at(const char *text, size_t len)
{
	struct cursor c = cur_make((const uint8_t *)text, len);
	unsigned depth = 0;
	while (cur_left(&c) > 0) {
		int b = peek(&c);
		if (b == '"') {
			skip_string(&c, NULL, 0);
			continue;
		}
		if (b == '[' || b == '{') {
			if (++depth > POLICY_MAX_DEPTH)
				return cur_offset(&c, (const uint8_t *)text);
		} else if ((b == ']' || b == '}') && depth > 0) {
			depth--;
		}
		cur_skip(&c, 1);
	}
	return len;
}

static void line_col(const char *text, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			++*line;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			++*col; /* columns count characters, as jansson's do */
		}
	}
}

struct jscan {
	struct cursor c;
	const uint8_t *base;
	const char *target; /* path to find, or NULL */
	size_t before;      /* with no target: the last key starting before this offset */
	bool found;
	size_t at;
	char path[PATH_MAX_LEN];
	char last[PATH_MAX_LEN];
};

static void hit(struct jscan *s, size_t off)
{
	if (!s->found && s->target != NULL && strcmp(s->path, s->target) == 0) {
		s->found = true;
		s->at = off;
	}
}

static void scan_value(struct jscan *s, size_t plen, unsigned depth)
{
	skip_ws(&s->c);
	hit(s, cur_offset(&s->c, s->base));
	int b = peek(&s->c);
	if (depth > POLICY_MAX_DEPTH + 1 || b < 0)
		return;
	if (b == '{' || b == '[') {
		cur_skip(&s->c, 1);
		for (size_t idx = 0; cur_left(&s->c) > 0; idx++) {
			skip_ws(&s->c);
			if (peek(&s->c) == '}' || peek(&s->c) == ']')
				break;
			if (b == '{') {
				char key[PATH_MAX_LEN];
				size_t koff = cur_offset(&s->c, s->base);
				skip_string(&s->c, key, sizeof(key));
				snprintf(s->path + plen, sizeof(s->path) - plen, "%s%s",
					 plen > 0 ? "." : "", key);
				hit(s, koff);
				if (s->target == NULL && koff < s->before)
					memcpy(s->last, s->path, sizeof(s->last));
				skip_ws(&s->c);
				cur_skip(&s->c, 1); /* ':' */
			} else {
				snprintf(s->path + plen, sizeof(s->path) - plen, "[%zu]", idx);
			}
			size_t sub = strlen(s->path);
			scan_value(s, sub, depth + 1);
			s->path[plen] = '\0';
			skip_ws(&s->c);
			if (peek(&s->c) != ',')
				break;
			cur_skip(&s->c, 1);
		}
		cur_skip(&s->c, 1);
	} else if (b == '"') {
		skip_string(&s->c, NULL, 0);
	} else {
		while (cur_left(&s->c) > 0 && strchr(",]} \t\r\n", peek(&s->c)) == NULL)
			cur_skip(&s->c, 1);
	}
}

bool policy_json_locate(const char *text, size_t len, const char *path, unsigned *line,
			unsigned *col)
{
	struct jscan s = {.c = cur_make((const uint8_t *)text, len), .base = (const uint8_t *)text,
			  .target = path};
	scan_value(&s, 0, 0);
	if (!s.found)
		return false;
	line_col(text, s.at, line, col);
	return true;
}

int policy_json_read(const char *path, size_t max_bytes, json_t **root, char **text, size_t *len,
		     struct fa_err *err)
{
	*root = NULL;
	*text = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "%s: cannot open: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fa_err_set(err, "%s: not a regular file", path);
		close(fd);
		return FA_EINPUT;
	}
	if ((unsigned long long)st.st_size > max_bytes) {
		fa_err_set(err, "%s: %lld bytes; the limit is %zu", path, (long long)st.st_size,
			   max_bytes);
		close(fd);
		return FA_EINPUT;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	ssize_t r = 1;
	while (buf != NULL && n < (size_t)st.st_size && (r = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (buf == NULL || r < 0) {
		fa_err_set(err, "%s: cannot read: %s", path, buf ? strerror(errno) : "out of memory");
		free(buf);
		return FA_ERUNTIME;
	}
	buf[n] = '\0';
	unsigned line, col;
	size_t deep = too_deep_at(buf, n);
	if (deep < n) {
		line_col(buf, deep, &line, &col);
		fa_err_set(err, "%s:%u:%u: nested deeper than %d levels", path, line, col,
			   POLICY_MAX_DEPTH);
		free(buf);
		return FA_EINPUT;
	}
	json_error_t je;
	json_t *doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (doc == NULL) {
		if (json_error_code(&je) == json_error_duplicate_key) {
			struct jscan s = {.c = cur_make((const uint8_t *)buf, n),
					  .base = (const uint8_t *)buf, .before = (size_t)je.position};
			scan_value(&s, 0, 0);
			fa_err_set(err, "%s:%d:%d: field '%s': duplicate key; say it once", path,
				   je.line, je.column, s.last);
		} else {
			fa_err_set(err, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
		}
		free(buf);
		return FA_EINPUT;
	}
	*root = doc;
	*text = buf;
	*len = n;
	return FA_OK;
}

