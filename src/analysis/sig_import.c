/*
 * sig_import.c - `sigs import`: the entities a list reader collects, and
 * the catalogue directory written from them.
 *
 * Receives: the options (the list's file, its format, DIR) and the
 * reader's calls (sig_import_int.h). Hands on: DIR holding one entry file
 * per entity, in the format signatures.c loads, and DIR/_catalogue.json
 * naming the list; the counts and problems in struct sig_import_result.
 * Owns: the entities until the directory is written.
 *
 * Workload: lists of a few hundred (Exodus) to a few hundred thousand
 * (hosts files) rows, once. Names are claimed through a hash map, so an
 * import is linear in the list; the time goes into writing the files.
 *
 * Nothing is half-written: the files go into a fresh directory beside DIR
 * (DIR.import-XXXXXX), which replaces DIR by rename at the end; on any error
 * it is removed and DIR is as it was. DIR may be replaced only when it is
 * empty, or with --force when it holds nothing but *.json files.
 */
#include "sig_import_int.h"
#include "sig_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEXT 256
#define MAX_ID_SLUG 40

static const char *const format_names[] = {"exodus", "ddg-tds", "disconnect", "hosts"};

/* Where each list is published, for references when --url is not given. */
static const char *const format_urls[] = {
	"https://reports.exodus-privacy.eu.org/api/trackers",
	"https://github.com/duckduckgo/tracker-blocklists",
	"https://github.com/disconnectme/disconnect-tracking-protection",
	NULL,
};

static const char *const format_titles[] = {
	"Exodus Privacy trackers",
	"DuckDuckGo Tracker Radar blocklist (TDS)",
	"Disconnect tracking protection services",
	"hosts list",
};

bool sig_import_format_parse(const char *s, enum sig_import_format *f)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(s, format_names[i]) == 0) {
			*f = (enum sig_import_format)i;
			return true;
		}
	}
	return false;
}

const char *sig_import_format_name(enum sig_import_format f)
{
	return format_names[f];
}

/* ---- the map ---- */

static uint32_t map_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

static size_t *map_get(const struct imp_map *mp, const char *key)
{
	if (mp->cap == 0)
		return NULL;
	for (size_t i = map_hash(key) & (mp->cap - 1);; i = (i + 1) & (mp->cap - 1)) {
		if (mp->keys[i] == NULL)
			return NULL;
		if (strcmp(mp->keys[i], key) == 0)
			return &mp->vals[i];
	}
}

/* Adds key (not present) with val; false when out of memory. */
static bool map_put(struct imp_map *mp, const char *key, size_t val)
{
	if ((mp->n + 1) * 2 > mp->cap) {
		size_t nc = mp->cap ? mp->cap * 2 : 1024;
		char **nk = calloc(nc, sizeof(*nk));
		size_t *nv = calloc(nc, sizeof(*nv));
		if (nk == NULL || nv == NULL) {
			free(nk);
			free(nv);
			return false;
		}
		for (size_t i = 0; i < mp->cap; i++) {
			if (mp->keys[i] == NULL)
				continue;
			size_t j = map_hash(mp->keys[i]) & (nc - 1);
			while (nk[j] != NULL)
				j = (j + 1) & (nc - 1);
			nk[j] = mp->keys[i];
			nv[j] = mp->vals[i];
		}
		free(mp->keys);
		free(mp->vals);
		mp->keys = nk;
		mp->vals = nv;
		mp->cap = nc;
	}
	char *k = strdup(key);
	if (k == NULL)
		return false;
	size_t j = map_hash(key) & (mp->cap - 1);
	while (mp->keys[j] != NULL)
		j = (j + 1) & (mp->cap - 1);
	mp->keys[j] = k;
	mp->vals[j] = val;
	mp->n++;
	return true;
}

static void map_free(struct imp_map *mp)
{
	for (size_t i = 0; i < mp->cap; i++)
		free(mp->keys[i]);
	free(mp->keys);
	free(mp->vals);
}

/* ---- what readers call ---- */

void imp_problem(struct imp *m, const char *where, const char *fmt, ...)
{
	struct sig_import_result *r = m->res;
	r->skipped++;
	if (r->n_problems >= SIG_IMPORT_MAX_PROBLEMS)
		return;
	if (r->problems == NULL) {
		r->problems = calloc(SIG_IMPORT_MAX_PROBLEMS, sizeof(*r->problems));
		if (r->problems == NULL)
			return;
	}
	struct sig_import_problem *p = &r->problems[r->n_problems++];
	snprintf(p->where, sizeof(p->where), "%s", where);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
	imp_text(p->what, p->what, sizeof(p->what) - 1);
}

/* The length of the well-formed UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
		 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (n == 2 && p[0] < 0xC2)
		return 0; /* overlong */
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

void imp_text(const char *in, char *out, size_t max)
{
	/* a hosts list's header is any bytes: keep well-formed UTF-8 only, since
	   JSON text must be, and never cut a character */
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p != '\0';) {
		size_t n = utf8_len(p);
		if (n == 0 || *p < 0x20 || *p == 0x7f) {
			p++;
			continue;
		}
		if (o + n > max)
			break;
		memmove(out + o, p, n);
		o += n;
		p += n;
	}
	/* no leading or trailing spaces */
	while (o > 0 && out[o - 1] == ' ')
		o--;
	size_t lead = 0;
	while (lead < o && out[lead] == ' ')
		lead++;
	memmove(out, out + lead, o - lead);
	out[o - lead] = '\0';
}

static char *text_dup(const char *s)
{
	char buf[MAX_TEXT + 1];
	imp_text(s, buf, MAX_TEXT);
	return strdup(buf);
}

size_t imp_entity(struct imp *m, const char *group, const char *name, const char *entity,
		  const char *key)
{
	size_t *have = map_get(&m->names, group);
	if (have != NULL)
		return *have;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 256;
		struct imp_entity *ne = realloc(m->ents, nc * sizeof(*ne));
		if (ne == NULL) {
			m->failed = true;
			return SIZE_MAX;
		}
		m->ents = ne;
		m->cap = nc;
	}
	struct imp_entity *e = &m->ents[m->n];
	memset(e, 0, sizeof(*e));
	e->name = text_dup(name);
	e->entity = text_dup(entity);
	e->key = strdup(key);
	if (e->name == NULL || e->entity == NULL || e->key == NULL ||
	    !map_put(&m->names, group, m->n)) {
		free(e->name);
		free(e->entity);
		free(e->key);
		m->failed = true;
		return SIZE_MAX;
	}
	return m->n++;
}

void imp_purpose(struct imp *m, size_t e, const char *purpose)
{
	size_t n;
	const char *const *v = sig_purposes(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], purpose) == 0)
			m->ents[e].purposes |= 1u << i;
}

void imp_category(struct imp *m, size_t e, const char *category)
{
	for (const struct imp_category *c = m->cats; c && c->category; c++) {
		if (strcmp(c->category, category) == 0) {
			imp_purpose(m, e, c->purpose);
			return;
		}
	}
	imp_purpose(m, e, "other");
	/* noted once each, as far as there is room */
	char *u = m->res->unmapped;
	size_t ul = strlen(u), cl = strlen(category);
	for (const char *p = u; *p;) {
		const char *end = strstr(p, ", ");
		size_t l = end ? (size_t)(end - p) : strlen(p);
		if (l == cl && strncmp(p, category, l) == 0)
			return;
		p += l + (end ? 2 : 0);
	}
	if (ul + cl + 3 < sizeof(m->res->unmapped))
		snprintf(u + ul, sizeof(m->res->unmapped) - ul, "%s%s", ul ? ", " : "", category);
}

static bool push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		char **nv = realloc(*v, nc * sizeof(*nv));
		if (nv == NULL)
			return false;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = s;
	return true;
}

/* Claims the pattern text for e; false when it is another entity's. */
static bool claim(struct imp *m, size_t e, const char *pat, bool is_net, const char *where)
{
	size_t *owner = map_get(&m->claims, pat);
	if (owner != NULL) {
		if (*owner == e)
			return true;
		m->res->claimed++;
		imp_problem(m, where, "'%s' is already claimed by %s (%s); the first claim is kept",
			    pat, m->ents[*owner].name, m->ents[*owner].key);
		return false;
	}
	struct imp_entity *x = &m->ents[e];
	if (x->n_doms + x->n_nets >= SIG_MAX_PATTERNS) {
		imp_problem(m, where, "'%s': %s already has %d names, as many as an entry may hold",
			    pat, x->name, SIG_MAX_PATTERNS);
		return false;
	}
	char *s = strdup(pat);
	if (s == NULL || !map_put(&m->claims, pat, e) ||
	    !(is_net ? push(&x->nets, &x->n_nets, &x->cap_nets, s)
		     : push(&x->doms, &x->n_doms, &x->cap_doms, s))) {
		free(s);
		imp_problem(m, where, "out of memory");
		return false;
	}
	return true;
}

bool imp_name(const char *raw, char out[SIG_MAX_HOST + 2])
{
	size_t n = 0;
	const char *p = raw;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	else if (*p == '.')
		p++;
	for (; *p != '\0' && n <= SIG_MAX_HOST; p++)
		out[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	if (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return n <= SIG_MAX_HOST;
}

bool imp_domain(struct imp *m, size_t e, const char *raw, const char *where)
{
	char d[SIG_MAX_HOST + 2];
	if (!imp_name(raw, d)) {
		imp_problem(m, where, "a name longer than %d characters", SIG_MAX_HOST);
		return false;
	}
	const char *why = sig_domain_problem(d);
	if (why != NULL) {
		char shown[80];
		imp_text(raw, shown, 64);
		imp_problem(m, where, "'%s' is not a domain name: %s", shown, why);
		return false;
	}
	return claim(m, e, d, false, where);
}

bool imp_network(struct imp *m, size_t e, const char *addr, const char *where)
{
	fa_addr a;
	char buf[FA_ADDR_STRLEN + 8], shown[64];
	if (!fa_addr_parse(addr, &a)) {
		imp_text(addr, shown, 48);
		imp_problem(m, where, "'%s' is not an IPv4 or IPv6 address", shown);
		return false;
	}
	fa_addr_str(&a, buf, FA_ADDR_STRLEN);
	strcat(buf, a.v == 4 ? "/32" : "/128");
	return claim(m, e, buf, true, where);
}

/* ---- writing ---- */

/* "label-slug" from the entity's name: [a-z0-9-], unique in the import. */
static void make_id(struct imp *m, const struct imp_entity *e, struct imp_map *ids, char *out,
		    size_t len)
{
	char slug[MAX_ID_SLUG + 1];
	size_t n = 0;
	bool dash = false;
	for (const char *p = e->name; *p && n < MAX_ID_SLUG; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (dash && n > 0)
				slug[n++] = '-';
			if (n < MAX_ID_SLUG)
				slug[n++] = c;
			dash = false;
		} else {
			dash = true;
		}
	}
	while (n > 0 && slug[n - 1] == '-')
		n--;
	slug[n] = '\0';
	const char *label = m->o->label ? m->o->label : format_names[m->o->format];
	snprintf(out, len, "%s-%s", label, n ? slug : "entity");
	for (unsigned k = 2; map_get(ids, out) != NULL; k++)
		snprintf(out, len, "%s-%s-%u", label, n ? slug : "entity", k);
}

static json_t *purposes_json(uint32_t mask, bool *infra)
{
	size_t n;
	const char *const *v = sig_purposes(&n);
	json_t *a = json_array();
	bool only_wire = mask != 0;
	for (size_t i = 0; i < n; i++) {
		if (!(mask & (1u << i)))
			continue;
		json_array_append_new(a, json_string(v[i]));
		if (strcmp(v[i], "cdn") != 0 && strcmp(v[i], "cloud") != 0)
			only_wire = false;
	}
	if (mask == 0)
		json_array_append_new(a, json_string("other"));
	*infra = only_wire;
	return a;
}

static json_t *string_array(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* An address the loader takes as a reference: http(s), no blank or control byte. */
bool imp_url(const char *s)
{
	if (s == NULL || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
		return false;
	size_t n = 0;
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] <= 0x20 || s[n] == 0x7f)
			return false;
	return n < 2048;
}

/* Writes o (and drops it) into a new file: one write, no stdio buffering. */
static int write_json(const char *path, json_t *o, struct fa_err *err)
{
	char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	if (text == NULL) {
		fa_err_set(err, "%s: out of memory", path);
		return FA_ERUNTIME;
	}
	size_t n = strlen(text) + 1, done = 0;
	text[n - 1] = '\n'; /* in place of the NUL, which is not written */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int e = fd < 0 ? errno : 0;
	while (fd >= 0 && done < n) {
		ssize_t w = write(fd, text + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			break;
		}
		done += (size_t)w;
	}
	free(text);
	if (fd >= 0 && close(fd) != 0 && e == 0)
		e = errno;
	if (e != 0) {
		fa_err_set(err, "%s: cannot write: %s", path, strerror(e));
		return FA_ERUNTIME;
	}
	return FA_OK;
}

static int write_entry(struct imp *m, const struct imp_entity *e, const char *dir, const char *id,
		       struct fa_err *err)
{
	bool infra;
	json_t *o = json_object();
	/* a name of nothing but control bytes is no name: the id stands in */
	const char *name = e->name[0] ? e->name : id;
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "name", json_string(name));
	json_t *purposes = purposes_json(e->purposes, &infra);
	json_object_set_new(o, "kind", json_string(infra ? "infrastructure" : "sdk"));
	json_object_set_new(o, "entity", json_string(e->entity[0] ? e->entity : name));
	json_object_set_new(o, "entity_country", json_string("ZZ"));
	json_object_set_new(o, "purposes", purposes);
	json_object_set_new(o, "domains", string_array(e->doms, e->n_doms));
	if (e->n_nets)
		json_object_set_new(o, "networks", string_array(e->nets, e->n_nets));
	json_t *refs = json_array();
	json_array_append_new(refs, json_string(m->list_url));
	if (imp_url(e->homepage) && strcmp(e->homepage, m->list_url) != 0)
		json_array_append_new(refs, json_string(e->homepage));
	json_object_set_new(o, "references", refs);
	char notes[2048];
	snprintf(notes, sizeof(notes), "Imported from %s (%s) at %s, version %s, licence: %s. The "
		 "list does not name the entity's country (ZZ).",
		 m->title, format_names[m->o->format], e->key, m->version, m->licence);
	char clean[2048];
	imp_text(notes, clean, sizeof(clean) - 1);
	json_object_set_new(o, "notes", json_string(clean));
	char path[4200];
	snprintf(path, sizeof(path), "%.4000s/%.64s.json", dir, id);
	return write_json(path, o, err);
}

static int write_catalogue(struct imp *m, const char *dir, const char *label, struct fa_err *err)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *o = json_object();
	json_object_set_new(o, "label", json_string(label));
	json_object_set_new(o, "source", json_string(format_names[m->o->format]));
	json_object_set_new(o, "list", json_string(m->list_url));
	/* the loader takes no empty text: leave out what the list did not say */
	if (m->version[0])
		json_object_set_new(o, "version", json_string(m->version));
	if (m->licence[0])
		json_object_set_new(o, "licence", json_string(m->licence));
	json_object_set_new(o, "imported", json_string(when));
	char path[4200];
	snprintf(path, sizeof(path), "%.4000s/%s", dir, SIG_CATALOGUE_FILE);
	return write_json(path, o, err);
}

/* Removes dir and the regular files in it (a directory this import made). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char p[4200];
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* 0: absent or empty; 1: only *.json files; 2: something else. -1 on error. */
static int dir_state(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	int state = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		size_t n = strlen(de->d_name);
		char p[4200];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		bool json = n > 5 && strcmp(de->d_name + n - 5, ".json") == 0 &&
			    lstat(p, &st) == 0 && S_ISREG(st.st_mode);
		if (!json) {
			state = 2;
			break;
		}
		state = 1;
	}
	closedir(d);
	return state;
}

static int write_all(struct imp *m, struct fa_err *err)
{
	const char *out = m->o->outdir;
	const char *label = m->o->label ? m->o->label : format_names[m->o->format];
	struct stat st;
	if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
		fa_err_set(err, "%s: exists and is not a directory", out);
		return FA_EINPUT;
	}
	int state = dir_state(out);
	if (state < 0) {
		fa_err_set(err, "%s: cannot read: %s", out, strerror(errno));
		return FA_EINPUT;
	}
	if (state == 2) {
		fa_err_set(err, "%s: holds files other than *.json; import into a new directory",
			   out);
		return FA_EINPUT;
	}
	if (state == 1 && !m->o->force) {
		fa_err_set(err, "%s: not empty; pass --force to replace the catalogue in it", out);
		return FA_EINPUT;
	}
	if (m->n == 0) {
		fa_err_set(err, "%s: no entry could be made from the list", m->o->input);
		return FA_EINPUT;
	}
	char tmp[4200], old[4200];
	size_t ol = strlen(out);
	while (ol > 1 && out[ol - 1] == '/')
		ol--;
	snprintf(tmp, sizeof(tmp), "%.*s.import-XXXXXX", (int)ol, out);
	if (mkdtemp(tmp) == NULL) {
		fa_err_set(err, "%s: cannot make a directory beside it: %s", out, strerror(errno));
		return FA_ERUNTIME;
	}
	chmod(tmp, 0755);
	int rc = FA_OK;
	struct imp_map ids = {0};
	for (size_t i = 0; i < m->n && rc == FA_OK; i++) {
		struct imp_entity *e = &m->ents[i];
		if (e->n_doms + e->n_nets == 0)
			continue; /* every name it had was someone else's, or malformed */
		char id[SIG_MAX_ID + 1];
		make_id(m, e, &ids, id, sizeof(id));
		if (!map_put(&ids, id, i)) {
			fa_err_set(err, "%s: out of memory", out);
			rc = FA_ERUNTIME;
			break;
		}
		rc = write_entry(m, e, tmp, id, err);
		m->res->entries++;
		m->res->domains += e->n_doms;
		m->res->networks += e->n_nets;
	}
	map_free(&ids);
	if (rc == FA_OK && m->res->entries == 0) {
		fa_err_set(err, "%s: no entry could be made from the list", m->o->input);
		rc = FA_EINPUT;
	}
	if (rc == FA_OK)
		rc = write_catalogue(m, tmp, label, err);
	if (rc == FA_OK && state == 0) {
		rmdir(out); /* an empty one, if it is there */
		if (rename(tmp, out) != 0) {
			fa_err_set(err, "%s: cannot put the catalogue in place: %s", out,
				   strerror(errno));
			rc = FA_ERUNTIME;
		}
	} else if (rc == FA_OK) {
		/* the old catalogue aside, the new one in, the old one away */
		snprintf(old, sizeof(old), "%.*s.old-XXXXXX", (int)ol, out);
		if (mkdtemp(old) == NULL || rmdir(old) != 0 || rename(out, old) != 0) {
			fa_err_set(err, "%s: cannot move the old catalogue aside: %s", out,
				   strerror(errno));
			rc = FA_ERUNTIME;
		} else if (rename(tmp, out) != 0) {
			fa_err_set(err, "%s: cannot put the catalogue in place: %s", out,
				   strerror(errno));
			rename(old, out);
			rc = FA_ERUNTIME;
		} else {
			remove_dir(old);
		}
	}
	if (rc != FA_OK)
		remove_dir(tmp);
	return rc;
}

/* ---- the whole import ---- */

int sig_import(const struct sig_import_opts *o, struct sig_import_result *res, struct fa_err *err)
{
	memset(res, 0, sizeof(*res));
	struct imp m;
	memset(&m, 0, sizeof(m));
	m.o = o;
	m.res = res;
	const char *label = o->label ? o->label : format_names[o->format];
	if (strlen(label) > 24 || strspn(label, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
					  strlen(label) || label[0] == '-' || label[0] == '\0') {
		fa_err_set(err, "--label '%s': 1 to 24 of a-z, 0-9 and '-', not starting with '-'",
			   label);
		return FA_EINPUT;
	}
	/* a hosts list's own "Homepage:" line stands in when there is no --url */
	const char *url = o->url ? o->url : format_urls[o->format];
	if (url != NULL && !imp_url(url)) {
		fa_err_set(err, "--url '%s': an http:// or https:// address without spaces", url);
		return FA_EINPUT;
	}
	snprintf(m.list_url, sizeof(m.list_url), "%s", url ? url : "");
	snprintf(m.title, sizeof(m.title), "%s", format_titles[o->format]);
	char *buf = NULL;
	size_t len = 0;
	int rc = sig_read_file(o->input, SIG_IMPORT_MAX_INPUT, "a list", &buf, &len, err);
	if (rc != FA_OK)
		return rc;
	static int (*const readers[])(struct imp *, const char *, size_t, struct fa_err *) = {
		imp_read_exodus, imp_read_ddg_tds, imp_read_disconnect, imp_read_hosts};
	rc = readers[o->format](&m, buf, len, err);
	free(buf);
	if (o->version != NULL)
		snprintf(m.version, sizeof(m.version), "%s", o->version);
	imp_text(m.version, m.version, sizeof(m.version) - 1);
	imp_text(m.licence, m.licence, sizeof(m.licence) - 1);
	if (m.version[0] == '\0') {
		struct stat st;
		struct tm tm;
		if (stat(o->input, &st) == 0 && gmtime_r(&st.st_mtime, &tm) != NULL)
			strftime(m.version, sizeof(m.version), "file of %Y-%m-%d", &tm);
	}
	if (m.licence[0] == '\0')
		snprintf(m.licence, sizeof(m.licence), "not stated in the file");
	if (rc == FA_OK)
		rc = write_all(&m, err);
	snprintf(res->version, sizeof(res->version), "%s", m.version);
	snprintf(res->licence, sizeof(res->licence), "%.255s", m.licence);
	for (size_t i = 0; i < m.n; i++) {
		struct imp_entity *e = &m.ents[i];
		for (size_t j = 0; j < e->n_doms; j++)
			free(e->doms[j]);
		for (size_t j = 0; j < e->n_nets; j++)
			free(e->nets[j]);
		free(e->doms);
		free(e->nets);
		free(e->name);
		free(e->entity);
		free(e->key);
		free(e->homepage);
	}
	free(m.ents);
	map_free(&m.names);
	map_free(&m.claims);
	return rc;
}

void sig_import_result_free(struct sig_import_result *r)
{
	if (r == NULL)
		return;
	free(r->problems);
	r->problems = NULL;
	r->n_problems = 0;
}
