/*
 * sig_import_int.h - the inside of `sigs import`, shared by the model and
 * writer (sig_import.c) and the readers of each list format
 * (sig_import_lists.c). Nothing else includes it.
 *
 * A reader walks the list and, for each row, finds or makes the entity
 * (imp_entity), adds the row's purposes (imp_category) and claims its names
 * (imp_domain, imp_network). A name is claimed by the first entity that
 * names it; later claims are reported and dropped. Problems are counted and
 * the first SIG_IMPORT_MAX_PROBLEMS are kept, each with its line or key.
 */
#ifndef FLOWAUDIT_SIG_IMPORT_INT_H
#define FLOWAUDIT_SIG_IMPORT_INT_H

#include "flowaudit/sig_import.h"
#include "flowaudit/signatures.h"

#include <stdint.h>

/* A string -> index map with open addressing; keys are owned copies. */
struct imp_map {
	char **keys;
	size_t *vals;
	size_t n, cap; /* cap is 0 or a power of two */
};

struct imp_entity {
	char *name, *entity, *key; /* key: where the list defines it */
	char *homepage;            /* an http(s) URL from the list, or NULL */
	uint32_t purposes;         /* bit i: sig_purposes()[i] */
	char **doms, **nets;
	size_t n_doms, cap_doms, n_nets, cap_nets;
};

/* One category of a list and the purpose it stands for. */
struct imp_category {
	const char *category, *purpose;
};

struct imp {
	const struct sig_import_opts *o;
	struct sig_import_result *res;
	struct imp_entity *ents;
	size_t n, cap;
	struct imp_map names;  /* entity name -> index in ents */
	struct imp_map claims; /* domain or network -> index in ents */
	const struct imp_category *cats; /* the format's table, ended by {NULL, NULL} */
	bool failed;                     /* memory ran out */
	char list_url[2048], version[128], licence[1024], title[256];
};

/* Finds the entity filed under group, or adds it with that name and entity;
   SIZE_MAX, with m->failed set, when out of memory. */
size_t imp_entity(struct imp *m, const char *group, const char *name, const char *entity,
		  const char *key);
/* Adds the purpose of a list category (unknown ones: "other", noted once). */
void imp_category(struct imp *m, size_t e, const char *category);
/* Adds a purpose of the vocabulary by name. */
void imp_purpose(struct imp *m, size_t e, const char *purpose);
/* An address the loader takes as a reference: http(s), no blank or control byte. */
bool imp_url(const char *s);
/* raw lower-cased, one trailing dot and a leading "*." or "." taken off;
   false when longer than SIG_MAX_HOST. */
bool imp_name(const char *raw, char out[SIG_MAX_HOST + 2]);
/*
 * Claims raw (lower-cased, one trailing dot and a leading "*." or "." taken
 * off) for entity e. False, with a problem at where, when it is not a domain
 * or another entity has it; true also when e already has it. e may be
 * SIZE_MAX for a name known to be bad, to have the problem told.
 */
bool imp_domain(struct imp *m, size_t e, const char *raw, const char *where);
/* Claims the IPv4 or IPv6 address text as a /32 or /128 network. */
bool imp_network(struct imp *m, size_t e, const char *addr, const char *where);
/* Counts a skipped row or part and keeps the problem text. */
void imp_problem(struct imp *m, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Text fit for a name or entity: control bytes dropped, cut at max bytes on
   a character boundary; out has room for max + 1. */
void imp_text(const char *in, char *out, size_t max);

/* The readers: FA_EINPUT when the document is not of the format. */
int imp_read_exodus(struct imp *m, const char *buf, size_t len, struct fa_err *err);
int imp_read_ddg_tds(struct imp *m, const char *buf, size_t len, struct fa_err *err);
int imp_read_disconnect(struct imp *m, const char *buf, size_t len, struct fa_err *err);
int imp_read_hosts(struct imp *m, const char *buf, size_t len, struct fa_err *err);

#endif
