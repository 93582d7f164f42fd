/*
 * signatures.h - the signature catalogue: who operates an endpoint.
 *
 * The catalogue is a directory of JSON files, one per SDK or entity
 * (signatures/<id>.json). Each entry names an operator and lists the domains
 * and networks it answers on. A domain pattern covers the name and every
 * subdomain, label by label (evil-admob.com is not admob.com); the longest
 * matching domain wins. A network pattern is a CIDR; the longest prefix wins.
 * Shared infrastructure (CDNs, clouds) has kind SIG_INFRASTRUCTURE: it names
 * the operator of the wire, not a recipient of data.
 *
 * Loading is strict: unknown fields, wrong types, a bad id, purpose, domain
 * or CIDR, and a pattern claimed twice are FA_EINPUT with a message
 * "FILE: field 'domains[3]': what is wrong". Limits: files of at most
 * SIG_MAX_FILE_BYTES, at most SIG_MAX_FILES files, at most
 * SIG_MAX_PATTERNS domains plus networks per file.
 *
 * Layers: a database may hold several catalogues (sig_db_load_path: a
 * colon-separated list of directories, first layer first). A pattern may be
 * claimed once per layer; across layers it may repeat. A lookup asks the
 * layers in order and the first layer that has any match wins, with its
 * most specific match: a host under a layer-1 domain is layer 1's even when
 * layer 2 names a longer suffix of it. Names are matched in every layer
 * before networks in any (sig_match_host, then sig_match_addr). Each entry
 * says which catalogue it came from (struct sig_catalogue): the directory
 * as given and a short label, from the directory's _catalogue.json (which an
 * import writes) or else the directory's base name.
 *
 * Ownership: the sig_db owns every entry and every string reachable from
 * one; they stay valid until sig_db_free(). Lookups borrow host and address
 * and never allocate. A finished database is read-only and may be shared
 * between threads.
 */
#ifndef FLOWAUDIT_SIGNATURES_H
#define FLOWAUDIT_SIGNATURES_H

#include "flowaudit/common.h"

#include <stdbool.h>
#include <stddef.h>

#define SIG_MAX_FILE_BYTES (1024 * 1024)
#define SIG_MAX_FILES 100000   /* entry files in one catalogue directory */
#define SIG_MAX_PATTERNS 5000 /* domains + networks in one file */
#define SIG_MAX_ID 64
#define SIG_MAX_HOST 255      /* longer host names never match */

#define SIG_MAX_LAYERS 8       /* catalogues in one database */
#define SIG_MAX_PATH_LIST 4096 /* bytes of a colon-separated list of them */
#define SIG_CATALOGUE_FILE "_catalogue.json" /* a directory's description */

enum sig_kind { SIG_SDK, SIG_INFRASTRUCTURE };

/* One catalogue directory of a database: one layer. */
struct sig_catalogue {
	const char *dir;     /* as given; NULL for files added without a directory */
	const char *label;   /* short name: _catalogue.json's label, else dir's base name */
	const char *source;  /* the list format it was imported from; NULL: not imported */
	const char *list, *version, *licence, *imported; /* from _catalogue.json; may be NULL */
	size_t layer;        /* 0 for the first */
};

struct sig_entry {
	/* entity_country "ZZ" (ISO 3166 user-assigned): the source did not say */
	const char *id, *name, *entity, *entity_country, *file, *notes; /* notes may be NULL */
	enum sig_kind kind;
	const char *const *purposes;
	size_t n_purposes;
	const char *const *domains;   /* lower case, no trailing dot */
	size_t n_domains;
	const char *const *networks;  /* canonical "addr/len" */
	size_t n_networks;
	const char *const *references;
	size_t n_references;
	const char *const *aliases;   /* names policies use for it; may be 0 */
	size_t n_aliases;
	const struct sig_catalogue *catalogue; /* the layer it came from */
};

struct sig_db;

/* Loads every *.json in dir, in byte order of the names, and finishes. */
int sig_db_load_dir(const char *dir, struct sig_db **out, struct fa_err *err);

/*
 * Loads a colon-separated list of directories (at most SIG_MAX_LAYERS,
 * empty items skipped), one layer each in the order given, and finishes.
 * A single directory is sig_db_load_dir.
 */
int sig_db_load_path(const char *dirs, struct sig_db **out, struct fa_err *err);
/*
 * Appends dir to the colon-separated list (NUL-terminated, len bytes);
 * false, with *why set, when dir holds ':' or the list would be too long.
 */
bool sig_path_append(char *list, size_t len, const char *dir, const char **why);

/* An empty database; NULL when out of memory. */
struct sig_db *sig_db_new(void);
/*
 * Starts the next layer: reads dir's _catalogue.json if there is one and
 * adds every *.json entry file of dir. Not after sig_db_finish().
 */
int sig_db_add_catalogue(struct sig_db *db, const char *dir, struct fa_err *err);
/* Adds the entry of one file to the current layer (the first when none was
   started). Not after sig_db_finish(). */
int sig_db_load_file(struct sig_db *db, const char *path, struct fa_err *err);
/* Builds the indexes and rejects patterns or ids claimed twice. Lookups need it. */
int sig_db_finish(struct sig_db *db, struct fa_err *err);
void sig_db_free(struct sig_db *db); /* NULL is a no-op */

size_t sig_db_count(const struct sig_db *db);
/* The layers, first first; NULL past the end. */
size_t sig_db_catalogue_count(const struct sig_db *db);
const struct sig_catalogue *sig_db_catalogue(const struct sig_db *db, size_t i);
/* Entries in load order; NULL past the end. */
const struct sig_entry *sig_db_entry(const struct sig_db *db, size_t i);
/* The entry with this id in the first layer that has one. */
const struct sig_entry *sig_db_find(const struct sig_db *db, const char *id);

/*
 * The entry whose domain covers host (case-insensitive, one trailing dot
 * ignored), the most specific first; NULL when none or when db is NULL or
 * unfinished. *pattern (pattern may be NULL) gets the matched domain.
 */
const struct sig_entry *sig_match_host(const struct sig_db *db, const char *host,
				       const char **pattern);
/*
 * The entry whose network holds a, the longest prefix first; NULL when none.
 * pattern (may be NULL) gets the matched CIDR text.
 */
const struct sig_entry *sig_match_addr(const struct sig_db *db, const fa_addr *a, char *pattern,
				       size_t pattern_len);

/*
 * Aliases: the names a privacy policy may use for an entry ("JPush",
 * "极光推送", "GoogleMobileAds SDK"). Two names are the same alias when
 * their keys are equal: ASCII letters folded to lower case, ASCII and
 * full-width spaces, '-', '_', '.', '·' and '・' dropped, every other byte
 * kept. No alias may have the key of another entry's alias or name
 * (sig_db_finish rejects it, naming both files).
 */
#define SIG_MAX_ALIAS 128 /* bytes of one alias */
#define SIG_MAX_ALIASES 64
/* The key of name into out (NUL-terminated, cut at len - 1 bytes); its length. */
size_t sig_alias_key(const char *name, char *out, size_t len);
/* The entry whose alias, name or id has the key of name; NULL when none. */
const struct sig_entry *sig_db_find_alias(const struct sig_db *db, const char *name);

const char *sig_kind_name(enum sig_kind k); /* "sdk", "infrastructure" */
/* NULL when s is a valid domain pattern (lower case, two labels or more,
   no wildcard or trailing dot), else what is wrong with it. */
const char *sig_domain_problem(const char *s);

/* The purpose vocabulary: advertising, analytics, ..., other. */
bool sig_purpose_valid(const char *p);
const char *const *sig_purposes(size_t *n);

/*
 * Where the catalogue is when no -s is given: $FLOWAUDIT_SIGNATURES if set
 * (one directory or a colon-separated list), else ./signatures if it is a
 * directory, else the installed share directory.
 */
const char *sig_default_dir(void);

#endif
