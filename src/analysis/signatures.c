/*
 * signatures.c - loads and validates the signature catalogue.
 *
 * Receives: a directory of JSON files (signatures/<id>.json), or files one
 * by one through sig_db_load_file(). Hands on: read-only entries, found by
 * position or id; sig_index.c builds the lookups over them at
 * sig_db_finish(). Owns: every entry, and every string and list of one,
 * carved from an arena so the whole catalogue is freed in one sweep.
 *
 * Workload: a few hundred files of a few dozen patterns, once at start-up.
 * The limits in signatures.h keep a hostile catalogue bounded: a file is
 * read only after fstat() shows it is a regular file within the size limit.
 *
 * Loading is strict because a wrong pattern silently mis-attributes traffic
 * in every report built on it: every problem is FA_EINPUT with the file, the
 * field (with its index) and what to write instead.
 */
#include "sig_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FLOWAUDIT_SIGNATURES_DIR
#define FLOWAUDIT_SIGNATURES_DIR "/usr/local/share/flowaudit/signatures"
#endif

#define MAX_TEXT 256        /* name, entity */
#define MAX_NOTES 4096
#define MAX_REFERENCES 32
#define MAX_REFERENCE_LEN 2048
#define MAX_DOMAIN 253
#define ARENA_BLOCK 65536

static const char *const purpose_list[] = {
	"advertising",	  "analytics",	    "attribution",	  "crash_reporting",
	"push",		  "social_login",   "location",		  "maps",
	"payments",	  "customer_messaging", "remote_config",  "authentication",
	"performance_monitoring", "cdn",    "cloud",		  "security",
	"content",	  "other",
};
#define N_PURPOSES (sizeof(purpose_list) / sizeof(purpose_list[0]))

static const char *const known_fields[] = {
	"id",	"name",	    "kind",	  "entity",	"entity_country",
	"purposes", "domains", "networks", "references", "notes", "aliases",
};

struct sig_arena_block {
	struct sig_arena_block *next;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

/* ---- small helpers ---- */

static void *arena_alloc(struct sig_db *db, size_t size)
{
	size_t align = alignof(max_align_t);
	size = (size + align - 1) & ~(align - 1);
	struct sig_arena_block *b = db->arena;
	if (b == NULL || b->size - b->used < size) {
		size_t bs = size > ARENA_BLOCK ? size : ARENA_BLOCK;
		b = malloc(sizeof(*b) + bs);
		if (b == NULL)
			return NULL;
		b->size = bs;
		b->used = 0;
		b->next = db->arena;
		db->arena = b;
	}
	void *p = b->data + b->used;
	b->used += size;
	return p;
}

static char *arena_strdup(struct sig_db *db, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = arena_alloc(db, n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* "FILE: field 'F': message" */
static void field_err(struct fa_err *err, const char *file, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void field_err(struct fa_err *err, const char *file, const char *field, const char *fmt, ...)
{
	char m[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	fa_err_set(err, "%s: field '%s': %s", file, field, m);
}

static int oom(struct fa_err *err, const char *file)
{
	fa_err_set(err, "%s: out of memory", file);
	return FA_ERUNTIME;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- public vocabulary ---- */

bool sig_purpose_valid(const char *p)
{
	if (p == NULL)
		return false;
	for (size_t i = 0; i < N_PURPOSES; i++)
		if (strcmp(p, purpose_list[i]) == 0)
			return true;
	return false;
}

const char *const *sig_purposes(size_t *n)
{
	if (n != NULL)
		*n = N_PURPOSES;
	return purpose_list;
}

const char *sig_kind_name(enum sig_kind k)
{
	return k == SIG_INFRASTRUCTURE ? "infrastructure" : "sdk";
}

const char *sig_default_dir(void)
{
	const char *env = getenv("FLOWAUDIT_SIGNATURES");
	if (env != NULL && env[0] != '\0')
		return env;
	struct stat st;
	if (stat("signatures", &st) == 0 && S_ISDIR(st.st_mode))
		return "signatures";
	/* beside the binary of a build tree (build/flowaudit -> signatures/) */
	static char beside[PATH_MAX];
	if (fa_path_beside_binary("../signatures", beside, sizeof(beside)) != NULL &&
	    stat(beside, &st) == 0 && S_ISDIR(st.st_mode))
		return beside;
	return FLOWAUDIT_SIGNATURES_DIR;
}

/* ---- syntax of ids, domains and networks ---- */

static bool id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SIG_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
		if (!ok)
			return false;
	}
	return true;
}

/* NULL when s is a valid domain pattern, else what is wrong with it. */
const char *sig_domain_problem(const char *s)
{
	size_t n = strlen(s);
	fa_addr a;
	if (n == 0)
		return "empty domain";
	if (n > MAX_DOMAIN)
		return "longer than 253 characters";
	if (fa_addr_parse(s, &a))
		return "an address: put it in 'networks' as a CIDR (e.g. /32)";
	if (s[0] == '*')
		return "no wildcards: a domain already covers every subdomain";
	if (s[n - 1] == '.')
		return "remove the trailing dot";
	size_t labels = 0, lab_start = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			size_t ll = i - lab_start;
			if (ll == 0)
				return "empty label (two dots in a row, or a leading dot)";
			if (ll > 63)
				return "a label is longer than 63 characters";
			if (s[lab_start] == '-' || s[i - 1] == '-')
				return "a label starts or ends with '-'";
			labels++;
			lab_start = i + 1;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			return "write it in lower case";
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return "labels may hold only a-z, 0-9, '-' and '_' (no scheme, port or path)";
	}
	if (labels < 2)
		return "a single label would cover a whole top-level domain; name at least two labels";
	return NULL;
}

/* ---- one file ---- */

static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int sig_read_file(const char *path, size_t max, const char *noun, char **out, size_t *len,
		  struct fa_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "%s: cannot open: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		fa_err_set(err, "%s: not a regular file", path);
		return FA_EINPUT;
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		fa_err_set(err, "%s: %lld bytes; %s may hold at most %zu", path,
			   (long long)st.st_size, noun, max);
		return FA_EINPUT;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return oom(err, path);
	}
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fa_err_set(err, "%s: cannot read: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return FA_EINPUT;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n == cap) {
		free(buf);
		fa_err_set(err, "%s: the file grew while it was read", path);
		return FA_EINPUT;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return FA_OK;
}

/* The one JSON object of a signature file, describing what. */
static int load_object(const char *path, const char *what, json_t **out, struct fa_err *err)
{
	char *buf;
	size_t len;
	*out = NULL;
	int rc = sig_read_file(path, SIG_MAX_FILE_BYTES, "a signature file", &buf, &len, err);
	if (rc != FA_OK)
		return rc;
	json_error_t je;
	json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (doc == NULL) {
		fa_err_set(err, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
		return FA_EINPUT;
	}
	if (!json_is_object(doc)) {
		fa_err_set(err, "%s: expected one JSON object describing %s", path, what);
		json_decref(doc);
		return FA_EINPUT;
	}
	*out = doc;
	return FA_OK;
}

/* A required or optional string member. */
static int get_text(const char *file, json_t *o, const char *key, bool required, size_t max,
		    const char **out, struct fa_err *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (v == NULL) {
		if (!required)
			return FA_OK;
		field_err(err, file, key, "missing");
		return FA_EINPUT;
	}
	if (!json_is_string(v)) {
		field_err(err, file, key, "must be a string");
		return FA_EINPUT;
	}
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v) || !text_ok(s, max)) {
		field_err(err, file, key, "must be 1 to %zu characters without control characters", max);
		return FA_EINPUT;
	}
	*out = s;
	return FA_OK;
}

/*
 * An array of strings; *items borrows from the JSON document. Absent and
 * optional gives n = 0.
 */
static int get_list(const char *file, json_t *o, const char *key, bool required, size_t max_items,
		    json_t **arr, struct fa_err *err)
{
	json_t *v = json_object_get(o, key);
	*arr = NULL;
	if (v == NULL) {
		if (!required)
			return FA_OK;
		field_err(err, file, key, "missing");
		return FA_EINPUT;
	}
	if (!json_is_array(v)) {
		field_err(err, file, key, "must be an array of strings");
		return FA_EINPUT;
	}
	if (json_array_size(v) > max_items) {
		field_err(err, file, key, "%zu items; at most %zu are allowed", json_array_size(v),
			  max_items);
		return FA_EINPUT;
	}
	size_t i;
	json_t *it;
	json_array_foreach(v, i, it) {
		if (!json_is_string(it) || strlen(json_string_value(it)) != json_string_length(it)) {
			char f[64];
			snprintf(f, sizeof(f), "%s[%zu]", key, i);
			field_err(err, file, f, "must be a string");
			return FA_EINPUT;
		}
	}
	*arr = v;
	return FA_OK;
}

/* Copies an array of strings into the arena (or the given texts, if texts != NULL). */
static const char *const *copy_list(struct sig_db *db, json_t *arr, char texts[][64], size_t *n)
{
	*n = arr ? json_array_size(arr) : 0;
	const char **v = arena_alloc(db, (*n ? *n : 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < *n; i++) {
		v[i] = arena_strdup(db, texts ? texts[i] : json_string_value(json_array_get(arr, i)));
		if (v[i] == NULL)
			return NULL;
	}
	return v;
}

static int check_purposes(const char *file, json_t *arr, enum sig_kind kind, struct fa_err *err)
{
	size_t n = json_array_size(arr);
	char f[64];
	if (n == 0) {
		field_err(err, file, "purposes", "name at least one purpose");
		return FA_EINPUT;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = json_string_value(json_array_get(arr, i));
		snprintf(f, sizeof(f), "purposes[%zu]", i);
		if (!sig_purpose_valid(p)) {
			field_err(err, file, f, "unknown purpose '%.64s'; one of: advertising, analytics, "
				  "attribution, crash_reporting, push, social_login, location, maps, "
				  "payments, customer_messaging, remote_config, authentication, "
				  "performance_monitoring, cdn, cloud, security, content, other", p);
			return FA_EINPUT;
		}
		if (kind == SIG_INFRASTRUCTURE && strcmp(p, "cdn") != 0 && strcmp(p, "cloud") != 0) {
			field_err(err, file, f, "'%s': an infrastructure entry's purposes are 'cdn' or "
				  "'cloud' (it names an operator, not a recipient)", p);
			return FA_EINPUT;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(p, json_string_value(json_array_get(arr, j))) == 0) {
				field_err(err, file, f, "'%s' is listed twice", p);
				return FA_EINPUT;
			}
		}
	}
	return FA_OK;
}

static int check_references(const char *file, json_t *arr, struct fa_err *err)
{
	size_t n = json_array_size(arr);
	if (n == 0) {
		field_err(err, file, "references", "name at least one source documenting the endpoints");
		return FA_EINPUT;
	}
	for (size_t i = 0; i < n; i++) {
		const char *r = json_string_value(json_array_get(arr, i));
		char f[64];
		snprintf(f, sizeof(f), "references[%zu]", i);
		bool scheme = strncmp(r, "https://", 8) == 0 || strncmp(r, "http://", 7) == 0;
		if (!scheme || !text_ok(r, MAX_REFERENCE_LEN) || strchr(r, ' ') != NULL) {
			field_err(err, file, f, "must be an http:// or https:// URL without spaces");
			return FA_EINPUT;
		}
	}
	return FA_OK;
}

/* Each alias is text whose key is not empty, and no two of one entry share a key. */
static int check_aliases(const char *file, json_t *arr, struct fa_err *err)
{
	size_t n = arr ? json_array_size(arr) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *a = json_string_value(json_array_get(arr, i));
		char f[64], k[SIG_MAX_ALIAS + 1], k2[SIG_MAX_ALIAS + 1];
		snprintf(f, sizeof(f), "aliases[%zu]", i);
		if (!text_ok(a, SIG_MAX_ALIAS) || sig_alias_key(a, k, sizeof(k)) == 0) {
			field_err(err, file, f, "must be 1 to %d bytes of text with a letter or digit "
				  "and no control characters", SIG_MAX_ALIAS);
			return FA_EINPUT;
		}
		for (size_t j = 0; j < i; j++) {
			const char *b = json_string_value(json_array_get(arr, j));
			sig_alias_key(b, k2, sizeof(k2));
			if (strcmp(k, k2) == 0) {
				field_err(err, file, f, "'%s' is the same alias as aliases[%zu] '%s'", a,
					  j, b);
				return FA_EINPUT;
			}
		}
	}
	return FA_OK;
}

/* Validates the entry in o and appends it to db. */
static int add_entry(struct sig_db *db, const char *file, json_t *o, struct fa_err *err)
{
	const char *key;
	json_t *val;
	json_object_foreach(o, key, val) {
		bool known = false;
		for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
			known = known || strcmp(key, known_fields[i]) == 0;
		if (!known) {
			char f[80];
			snprintf(f, sizeof(f), "%.64s", key);
			field_err(err, file, f, "unknown field (allowed: id, name, kind, entity, "
				  "entity_country, purposes, domains, networks, references, notes, "
				  "aliases)");
			return FA_EINPUT;
		}
	}

	const char *id, *name, *entity, *country, *kind_s, *notes;
	int rc;
	if ((rc = get_text(file, o, "id", true, SIG_MAX_ID, &id, err)) != FA_OK)
		return rc;
	if (!id_valid(id)) {
		field_err(err, file, "id", "'%s' must be 1 to 64 of a-z, 0-9 and '-', not starting "
			  "with '-'", id);
		return FA_EINPUT;
	}
	const char *base = base_name(file);
	size_t bl = strlen(base);
	if (bl < 6 || strcmp(base + bl - 5, ".json") != 0 || bl - 5 != strlen(id) ||
	    strncmp(base, id, bl - 5) != 0) {
		field_err(err, file, "id", "'%s' must equal the file name (the file should be %s.json)",
			  id, id);
		return FA_EINPUT;
	}
	if ((rc = get_text(file, o, "name", true, MAX_TEXT, &name, err)) != FA_OK ||
	    (rc = get_text(file, o, "entity", true, MAX_TEXT, &entity, err)) != FA_OK ||
	    (rc = get_text(file, o, "entity_country", true, 8, &country, err)) != FA_OK ||
	    (rc = get_text(file, o, "kind", false, 32, &kind_s, err)) != FA_OK ||
	    (rc = get_text(file, o, "notes", false, MAX_NOTES, &notes, err)) != FA_OK)
		return rc;
	if (strlen(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' ||
	    country[1] > 'Z') {
		field_err(err, file, "entity_country", "'%s' must be an ISO 3166-1 alpha-2 code in "
			  "upper case (e.g. US)", country);
		return FA_EINPUT;
	}
	enum sig_kind kind = SIG_SDK;
	if (kind_s != NULL) {
		if (strcmp(kind_s, "infrastructure") == 0) {
			kind = SIG_INFRASTRUCTURE;
		} else if (strcmp(kind_s, "sdk") != 0) {
			field_err(err, file, "kind", "'%s' must be \"sdk\" or \"infrastructure\"", kind_s);
			return FA_EINPUT;
		}
	}

	json_t *purposes, *domains, *networks, *refs, *aliases;
	if ((rc = get_list(file, o, "purposes", true, N_PURPOSES, &purposes, err)) != FA_OK ||
	    (rc = check_purposes(file, purposes, kind, err)) != FA_OK ||
	    (rc = get_list(file, o, "domains", false, SIG_MAX_PATTERNS, &domains, err)) != FA_OK ||
	    (rc = get_list(file, o, "networks", false, SIG_MAX_PATTERNS, &networks, err)) != FA_OK ||
	    (rc = get_list(file, o, "references", true, MAX_REFERENCES, &refs, err)) != FA_OK ||
	    (rc = check_references(file, refs, err)) != FA_OK ||
	    (rc = get_list(file, o, "aliases", false, SIG_MAX_ALIASES, &aliases, err)) != FA_OK ||
	    (rc = check_aliases(file, aliases, err)) != FA_OK)
		return rc;
	size_t nd = domains ? json_array_size(domains) : 0;
	size_t nn = networks ? json_array_size(networks) : 0;
	if (nd + nn == 0) {
		field_err(err, file, "domains", "an entry needs at least one domain or network");
		return FA_EINPUT;
	}
	if (nd + nn > SIG_MAX_PATTERNS) {
		field_err(err, file, "networks", "%zu domains and networks; a file may hold at most %d",
			  nd + nn, SIG_MAX_PATTERNS);
		return FA_EINPUT;
	}
	for (size_t i = 0; i < nd; i++) {
		const char *d = json_string_value(json_array_get(domains, i));
		const char *why = sig_domain_problem(d);
		if (why != NULL) {
			char f[64];
			snprintf(f, sizeof(f), "domains[%zu]", i);
			field_err(err, file, f, "'%.253s': %s", d, why);
			return FA_EINPUT;
		}
	}
	char (*canon)[64] = nn ? calloc(nn, sizeof(*canon)) : NULL;
	if (nn && canon == NULL)
		return oom(err, file);
	for (size_t i = 0; i < nn; i++) {
		const char *s = json_string_value(json_array_get(networks, i));
		struct sig_net r;
		const char *why;
		char fix[128];
		if (!sig_cidr_parse(s, &r, &why, fix, sizeof(fix))) {
			char f[64];
			snprintf(f, sizeof(f), "networks[%zu]", i);
			field_err(err, file, f, "'%.80s': %s", s, why);
			free(canon);
			return FA_EINPUT;
		}
		sig_net_text(&r, canon[i], sizeof(canon[i]));
	}

	if (db->n == db->cap) {
		size_t nc = db->cap ? db->cap * 2 : 64;
		struct sig_entry *ne = realloc(db->entries, nc * sizeof(*ne));
		if (ne == NULL) {
			free(canon);
			return oom(err, file);
		}
		db->entries = ne;
		db->cap = nc;
	}
	struct sig_entry e;
	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.id = arena_strdup(db, id);
	e.name = arena_strdup(db, name);
	e.entity = arena_strdup(db, entity);
	e.entity_country = arena_strdup(db, country);
	e.file = arena_strdup(db, file);
	e.notes = notes ? arena_strdup(db, notes) : NULL;
	e.purposes = copy_list(db, purposes, NULL, &e.n_purposes);
	e.domains = copy_list(db, domains, NULL, &e.n_domains);
	e.networks = copy_list(db, networks, canon, &e.n_networks);
	e.references = copy_list(db, refs, NULL, &e.n_references);
	e.aliases = copy_list(db, aliases, NULL, &e.n_aliases);
	e.catalogue = &db->cats[db->n_cats - 1];
	free(canon);
	if (!e.id || !e.name || !e.entity || !e.entity_country || !e.file ||
	    (notes && !e.notes) || !e.purposes || !e.domains || !e.networks || !e.references ||
	    !e.aliases)
		return oom(err, file);
	db->entries[db->n++] = e;
	return FA_OK;
}

int sig_db_load_file(struct sig_db *db, const char *path, struct fa_err *err)
{
	if (db->finished) {
		fa_err_set(err, "%s: the signature catalogue is already finished", path);
		return FA_ERUNTIME;
	}
	if (db->n_cats == 0) {
		/* files added one by one: a first layer without a directory */
		db->cats[0].label = "catalogue";
		db->n_cats = 1;
	}
	if (db->layer_files >= SIG_MAX_FILES) {
		fa_err_set(err, "%s: more than %d signature files in one catalogue", path,
			   SIG_MAX_FILES);
		return FA_EINPUT;
	}
	db->layer_files++;
	json_t *doc;
	int rc = load_object(path, "one SDK or entity", &doc, err);
	if (rc != FA_OK)
		return rc;
	rc = add_entry(db, path, doc, err);
	json_decref(doc);
	return rc;
}

/* ---- life cycle ---- */

struct sig_db *sig_db_new(void)
{
	return calloc(1, sizeof(struct sig_db));
}

void sig_db_free(struct sig_db *db)
{
	if (db == NULL)
		return;
	struct sig_arena_block *b = db->arena;
	while (b != NULL) {
		struct sig_arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(db->entries);
	free(db->doms);
	free(db->slots);
	free(db->nets);
	free(db);
}

static int json_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0 &&
	       strcmp(d->d_name, SIG_CATALOGUE_FILE) != 0;
}

static int cmp_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static bool label_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static const char *const catalogue_fields[] = {"label",	  "source",  "list",
					       "version", "licence", "imported"};

/* Reads DIR/_catalogue.json, when there is one, into c. */
static int read_catalogue_file(struct sig_db *db, const char *dir, struct sig_catalogue *c,
			       struct fa_err *err)
{
	char path[4096];
	int l = snprintf(path, sizeof(path), "%s/%s", dir, SIG_CATALOGUE_FILE);
	if (l < 0 || (size_t)l >= sizeof(path)) {
		fa_err_set(err, "%s: path too long", dir);
		return FA_EINPUT;
	}
	if (access(path, F_OK) != 0)
		return FA_OK;
	json_t *o;
	int rc = load_object(path, "the catalogue", &o, err);
	if (rc != FA_OK)
		return rc;
	const char *key;
	json_t *val;
	json_object_foreach(o, key, val) {
		bool known = false;
		for (size_t i = 0; i < sizeof(catalogue_fields) / sizeof(catalogue_fields[0]); i++)
			known = known || strcmp(key, catalogue_fields[i]) == 0;
		if (!known) {
			char f[80];
			snprintf(f, sizeof(f), "%.64s", key);
			field_err(err, path, f, "unknown field (allowed: label, source, list, version, "
				  "licence, imported)");
			json_decref(o);
			return FA_EINPUT;
		}
	}
	const char *v[6];
	static const size_t max[6] = {32, 32, MAX_REFERENCE_LEN, MAX_TEXT, MAX_NOTES, 64};
	for (size_t i = 0; i < 6 && rc == FA_OK; i++)
		rc = get_text(path, o, catalogue_fields[i], i == 0, max[i], &v[i], err);
	if (rc == FA_OK && !label_valid(v[0])) {
		field_err(err, path, "label", "'%s' must be 1 to 32 of a-z, 0-9, '.', '_' and '-', "
			  "starting with a letter or digit", v[0]);
		rc = FA_EINPUT;
	}
	const char **dst[6] = {&c->label, &c->source, &c->list, &c->version, &c->licence,
			       &c->imported};
	for (size_t i = 0; i < 6 && rc == FA_OK; i++) {
		*dst[i] = v[i] ? arena_strdup(db, v[i]) : NULL;
		if (v[i] && *dst[i] == NULL)
			rc = oom(err, path);
	}
	json_decref(o);
	return rc;
}

/* c->label, made unique among the layers before it by a "-2", "-3" ... suffix. */
static int unique_label(struct sig_db *db, struct sig_catalogue *c, const char *want,
			struct fa_err *err)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "%.32s", want);
	for (unsigned k = 2;; k++) {
		bool taken = false;
		for (size_t i = 0; i < c->layer; i++)
			taken = taken || strcmp(db->cats[i].label, buf) == 0;
		if (!taken)
			break;
		snprintf(buf, sizeof(buf), "%.32s-%u", want, k);
	}
	c->label = arena_strdup(db, buf);
	return c->label ? FA_OK : oom(err, want);
}

int sig_db_add_catalogue(struct sig_db *db, const char *dir, struct fa_err *err)
{
	if (db->finished) {
		fa_err_set(err, "%s: the signature catalogue is already finished", dir);
		return FA_ERUNTIME;
	}
	if (db->n_cats >= SIG_MAX_LAYERS) {
		fa_err_set(err, "%s: more than %d signature catalogues", dir, SIG_MAX_LAYERS);
		return FA_EINPUT;
	}
	for (size_t i = 0; i < db->n_cats; i++) {
		if (db->cats[i].dir != NULL && strcmp(db->cats[i].dir, dir) == 0) {
			fa_err_set(err, "%s: this signature catalogue is named twice", dir);
			return FA_EINPUT;
		}
	}
	struct dirent **list;
	int n = scandir(dir, &list, json_name, cmp_name);
	if (n < 0) {
		fa_err_set(err, "%s: cannot read the signature directory: %s", dir, strerror(errno));
		return FA_EINPUT;
	}
	struct sig_catalogue *c = &db->cats[db->n_cats];
	memset(c, 0, sizeof(*c));
	c->layer = db->n_cats;
	db->n_cats++;
	db->layer_files = 0;
	int rc = FA_OK;
	c->dir = arena_strdup(db, dir);
	if (c->dir == NULL)
		rc = oom(err, dir);
	if (rc == FA_OK)
		rc = read_catalogue_file(db, dir, c, err);
	if (rc == FA_OK) {
		char base[4096];
		snprintf(base, sizeof(base), "%s", dir);
		size_t bl = strlen(base);
		while (bl > 1 && base[bl - 1] == '/')
			base[--bl] = '\0';
		const char *b = base_name(base);
		rc = unique_label(db, c, c->label ? c->label : (b[0] ? b : "catalogue"), err);
	}
	if (rc == FA_OK && n == 0) {
		fa_err_set(err, "%s: no *.json signature files in this directory", dir);
		rc = FA_EINPUT;
	} else if (rc == FA_OK && n > SIG_MAX_FILES) {
		fa_err_set(err, "%s: %d signature files; at most %d are allowed", dir, n,
			   SIG_MAX_FILES);
		rc = FA_EINPUT;
	}
	for (int i = 0; i < n; i++) {
		if (rc == FA_OK) {
			char path[4096];
			int l = snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
			if (l < 0 || (size_t)l >= sizeof(path)) {
				fa_err_set(err, "%s: path too long", dir);
				rc = FA_EINPUT;
			} else {
				rc = sig_db_load_file(db, path, err);
			}
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

/* Loads each directory of dirs[0..n) as a layer and finishes. */
static int load_layers(const char *const *dirs, size_t n, struct sig_db **out, struct fa_err *err)
{
	*out = NULL;
	struct sig_db *db = sig_db_new();
	if (db == NULL)
		return oom(err, n ? dirs[0] : "signatures");
	int rc = FA_OK;
	for (size_t i = 0; i < n && rc == FA_OK; i++)
		rc = sig_db_add_catalogue(db, dirs[i], err);
	if (rc == FA_OK)
		rc = sig_db_finish(db, err);
	if (rc != FA_OK) {
		sig_db_free(db);
		return rc;
	}
	*out = db;
	return FA_OK;
}

int sig_db_load_dir(const char *dir, struct sig_db **out, struct fa_err *err)
{
	return load_layers(&dir, 1, out, err);
}

int sig_db_load_path(const char *dirs, struct sig_db **out, struct fa_err *err)
{
	char buf[SIG_MAX_PATH_LIST];
	const char *v[SIG_MAX_LAYERS];
	size_t n = 0;
	*out = NULL;
	if (strlen(dirs) >= sizeof(buf)) {
		fa_err_set(err, "signature catalogue list: longer than %d bytes", SIG_MAX_PATH_LIST - 1);
		return FA_EINPUT;
	}
	memcpy(buf, dirs, strlen(dirs) + 1);
	for (char *p = buf, *next; p != NULL; p = next) {
		next = strchr(p, ':');
		if (next != NULL)
			*next++ = '\0';
		if (*p == '\0')
			continue;
		if (n == SIG_MAX_LAYERS) {
			fa_err_set(err, "%s: more than %d signature catalogues", dirs, SIG_MAX_LAYERS);
			return FA_EINPUT;
		}
		v[n++] = p;
	}
	if (n == 0) {
		fa_err_set(err, "signature catalogue list: no directory named");
		return FA_EINPUT;
	}
	return load_layers(v, n, out, err);
}

bool sig_path_append(char *list, size_t len, const char *dir, const char **why)
{
	size_t have = strlen(list), add = strlen(dir);
	if (strchr(dir, ':') != NULL) {
		*why = "a catalogue directory's name may not hold ':' (it separates catalogues)";
		return false;
	}
	if (add == 0) {
		*why = "empty directory name";
		return false;
	}
	if (have + (have ? 1 : 0) + add + 1 > len) {
		*why = "the list of catalogue directories is too long";
		return false;
	}
	if (have)
		list[have++] = ':';
	memcpy(list + have, dir, add + 1);
	return true;
}

/* ---- queries ---- */

size_t sig_db_count(const struct sig_db *db)
{
	return db ? db->n : 0;
}

size_t sig_db_catalogue_count(const struct sig_db *db)
{
	return db ? db->n_cats : 0;
}

const struct sig_catalogue *sig_db_catalogue(const struct sig_db *db, size_t i)
{
	return db && i < db->n_cats ? &db->cats[i] : NULL;
}

const struct sig_entry *sig_db_entry(const struct sig_db *db, size_t i)
{
	return db && i < db->n ? &db->entries[i] : NULL;
}

const struct sig_entry *sig_db_find(const struct sig_db *db, const char *id)
{
	if (db == NULL || id == NULL)
		return NULL;
	for (size_t i = 0; i < db->n; i++)
		if (strcmp(db->entries[i].id, id) == 0)
			return &db->entries[i];
	return NULL;
}
