/*
 * sig_import.h - turns a tracker list an auditor already has into a
 * catalogue directory of our own format (docs/signatures.md, "Importing
 * tracker lists").
 *
 * Formats: Exodus Privacy's tracker list (the JSON of its trackers API),
 * DuckDuckGo's Tracker Radar blocklist (tds.json), Disconnect's
 * services.json, and hosts files (hosts lines, bare names, and the
 * pure-domain "||host^" rules of AdGuard and EasyList filters).
 *
 * The output is one entry file per entity the list names (per registrable
 * domain for a hosts list, which names none) and a _catalogue.json that
 * says where the list came from, its version or date and its licence. It
 * is written into a fresh directory beside DIR and renamed into place at
 * the end, so DIR is never half-written. Rows that cannot be converted (a
 * malformed row, a regular expression that is not a plain list of names, a
 * name another entity of the list already claimed) are skipped and each is
 * reported with its line or key (struct sig_import_result).
 *
 * Ownership: the result owns its problem texts until
 * sig_import_result_free().
 */
#ifndef FLOWAUDIT_SIG_IMPORT_H
#define FLOWAUDIT_SIG_IMPORT_H

#include "flowaudit/common.h"

#include <stdbool.h>
#include <stddef.h>

#define SIG_IMPORT_MAX_INPUT (256u * 1024 * 1024) /* bytes of one list */
#define SIG_IMPORT_MAX_PROBLEMS 1000             /* problems kept (all are counted) */

enum sig_import_format {
	SIG_IMPORT_EXODUS,
	SIG_IMPORT_DDG_TDS,
	SIG_IMPORT_DISCONNECT,
	SIG_IMPORT_HOSTS,
};

struct sig_import_opts {
	enum sig_import_format format;
	const char *input;    /* the list as downloaded */
	const char *outdir;   /* the catalogue directory to make */
	const char *label;    /* NULL: the format's name ("exodus", ...) */
	const char *url;      /* where the list is published; NULL: the format's usual address */
	const char *version;  /* NULL: what the file says, else its modification date */
	const char *purposes; /* hosts lists: comma-separated purposes (default "other") */
	bool force;           /* replace a DIR that already holds a catalogue */
};

struct sig_import_problem {
	char where[96];  /* "line 12", "trackers.\"312\"", "categories.Advertising[4]" */
	char what[256];
};

struct sig_import_result {
	size_t rows;        /* rows (trackers, services, lines with a rule) read */
	size_t entries, domains, networks;
	size_t skipped;     /* rows or parts of rows not converted */
	size_t claimed;     /* names another entity of the list already had */
	struct sig_import_problem *problems; /* the first SIG_IMPORT_MAX_PROBLEMS */
	size_t n_problems;
	char unmapped[512]; /* categories the mapping does not know, comma-separated */
	char version[128], licence[256];
};

/* "exodus", "ddg-tds", "disconnect", "hosts"; false for anything else. */
bool sig_import_format_parse(const char *s, enum sig_import_format *f);
const char *sig_import_format_name(enum sig_import_format f);

/*
 * Converts o->input into o->outdir. FA_EINPUT (naming the file and the
 * position) when the input is not a list of that format or DIR may not be
 * replaced; FA_ERUNTIME when writing fails. Either way DIR is as it was.
 */
int sig_import(const struct sig_import_opts *o, struct sig_import_result *res,
	       struct fa_err *err);
void sig_import_result_free(struct sig_import_result *r); /* NULL is a no-op */

#endif
