/*
 * report_text.h - private to the markup writers (report.html, junit.xml):
 * their output, their one escape, and a cheap look at one finding.
 *
 * Output goes through a jsonw text writer used as a plain buffered sink
 * (jsonw_raw), so a page of tens of thousands of rows costs a memcpy per
 * piece rather than a stdio call. rt_esc() is the escape of both formats;
 * what it does with each byte is a table (rt_xml, rt_html).
 *
 * A finding is looked at through struct rt_finding: the writer's
 * findings source writes it as JSON text (struct report_findings.members,
 * or the served object dumped), and the text is split once into tokens.
 * Members are then read in place, without a jansson value per member,
 * with what a jansson object of the same finding would give: the last of
 * two equal keys, null as absent, integers only where json_is_integer()
 * says so. Strings and tokens stay valid until the next rt_finding_load().
 */
#ifndef FLOWAUDIT_REPORT_TEXT_H
#define FLOWAUDIT_REPORT_TEXT_H

#include "flowaudit/jsonw.h"
#include "flowaudit/report.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- output ---- */

/* s (not NULL) as it is; inline, so that a literal's length is known. */
static inline void rt_put(struct jsonw *o, const char *s)
{
	jsonw_raw(o, s, strlen(s));
}
/* v in decimal. */
void rt_dec(struct jsonw *o, long long v);
/* Formatted, for what is not a plain string or integer (decimals). */
void rt_printf(struct jsonw *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * What rt_esc() does with each byte: cls[c] is 0 to copy it, 1 for the
 * terminating NUL, 2 for 0xEF, which starts U+FFFE or U+FFFF (dropped),
 * else an index into rep (the replacement, possibly empty).
 */
struct rt_escapes {
	unsigned char cls[256];
	const char *rep[12];
};
/* XML 1.0 (junit.xml): markup characters and tab, newline and carriage
   return as references, other C0 controls, DEL, U+FFFE and U+FFFF
   dropped. */
extern const struct rt_escapes rt_xml;
/* HTML text and attribute values: markup characters as references, C0
   controls but tab and newline, and DEL, as U+FFFD. */
extern const struct rt_escapes rt_html;
/* s escaped by e; nothing for NULL. */
void rt_esc(struct jsonw *o, const char *s, const struct rt_escapes *e);

/* ---- one finding ---- */

struct rt_tok {
	uint32_t start, end; /* the value's text, quotes included */
	uint32_t next;	     /* the token after its members or elements */
	unsigned char type;
	bool decoded; /* a string already turned into its C form */
};

struct rt_open {
	uint32_t tok, n; /* a container being split, and its values so far */
	bool object;
};

#define RT_SLOTS 128

struct rt_finding {
	FILE *mem; /* the text, written here by w */
	char *buf;
	size_t size;
	struct jsonw w;
	struct rt_tok *tok;
	size_t n_tok, cap_tok;
	uint32_t slot[RT_SLOTS]; /* the finding's own members by key */
	struct rt_open *stack;	 /* open containers while splitting */
	size_t cap_stack;
	bool loaded; /* the finding is an object */
};

/* FA_OK, or FA_ERUNTIME without memory. */
int rt_finding_open(struct rt_finding *v);
void rt_finding_close(struct rt_finding *v);
/* Finding i of fs; false (and every member absent) when fs has none. */
bool rt_finding_load(struct rt_finding *v, const struct report_findings *fs, size_t i);
/* The same with only the members a list of findings shows, where fs
   writes those alone (members_brief), else whole. */
bool rt_finding_load_brief(struct rt_finding *v, const struct report_findings *fs, size_t i);

/* Tokens are numbered from 0, the finding itself; -1 is absent. */
#define RT_ROOT 0
/* Member key of object t (the last of equal keys); -1 when t is not an
   object, or the member is absent or null. */
int rt_get(const struct rt_finding *v, int t, const char *key);
/* The string of t, unescaped; NULL unless t is a string. */
const char *rt_str(struct rt_finding *v, int t);
/* rt_str(rt_get(...)) */
const char *rt_gstr(struct rt_finding *v, int t, const char *key);
/* t as an integer; false unless it is one. */
bool rt_int(const struct rt_finding *v, int t, long long *out);
bool rt_true(const struct rt_finding *v, int t);
bool rt_is_object(const struct rt_finding *v, int t);
/* The elements of array t: the first (-1: none or not an array), then
   each one's next (-1 after the last). */
int rt_first(const struct rt_finding *v, int t);
int rt_next(const struct rt_finding *v, int t, int elem);
size_t rt_count(const struct rt_finding *v, int t);

#endif
