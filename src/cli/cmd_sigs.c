/*
 * cmd_sigs.c - `flowaudit sigs`: the signature catalogue from the command
 * line.
 *
 *   sigs match [-s DIR] [--json] HOST|IP... (or - for one per line on stdin)
 *   sigs check [DIR]
 *   sigs list  [-s DIR]
 *
 * Receives arguments and, for `match -`, lines on stdin (each at most
 * MAX_LINE bytes). Hands on: text tables or JSON lines on stdout, errors on
 * stderr. Tables are aligned over batches of BATCH rows so that matching a
 * long list from stdin runs in bounded memory.
 *
 * Exit status: 0 ok; 1 when `match` found no owner for some input; 2 for bad
 * usage or a bad catalogue; 3 when memory runs out.
 */
#include "cmd.h"

#include "flowaudit/jsonw.h"
#include "flowaudit/signatures.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 1024
#define BATCH 512
#define MATCH_COLS 6
#define LIST_COLS 7

static const char usage[] =
	"usage: flowaudit sigs match [-s DIR] [--json] HOST|IP...   who operates these endpoints\n"
	"       flowaudit sigs match [-s DIR] [--json] -           one host or address per line "
	"on stdin\n"
	"       flowaudit sigs check [DIR]                         validate a catalogue\n"
	"       flowaudit sigs list [-s DIR]                       every entry of a catalogue\n"
	"  -s, --signatures DIR   signature catalogue (default: $FLOWAUDIT_SIGNATURES,\n"
	"                         else ./signatures, else the installed one)\n"
	"  --json                 one JSON object per input line: input, id, name, entity,\n"
	"                         kind, pattern (null when nothing matched)\n"
	"exit status: 0 ok, 1 some input matched nothing, 2 bad usage or catalogue\n";

static const struct option long_opts[] = {
	{"signatures", required_argument, NULL, 's'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

struct sigs_opts {
	const char *dir;
	bool json;
	int first_arg; /* index into argv of the first operand */
};

/* Parses options of a subcommand (argv[0] names it); -1 when all is well. */
static int parse_opts(int argc, char **argv, bool allow_json, struct sigs_opts *o)
{
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "s:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->dir = optarg;
			break;
		case 'j':
			if (!allow_json) {
				cmd_error("sigs %s: --json is an option of 'sigs match' only", argv[0]);
				return FA_EXIT_INPUT;
			}
			o->json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return FA_EXIT_OK;
		default:
			if (optopt == 's')
				cmd_error("sigs %s: -s needs a directory", argv[0]);
			else
				cmd_error("sigs %s: unknown option '%s'", argv[0], argv[optind - 1]);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		}
	}
	o->first_arg = optind;
	return -1;
}

static int load(const char *dir, struct sig_db **db)
{
	struct fa_err err = {{0}};
	if (dir == NULL)
		dir = sig_default_dir();
	int rc = sig_db_load_dir(dir, db, &err);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		return cmd_exit_for(rc);
	}
	return FA_EXIT_OK;
}

/* ---- output ---- */

/* Columns on a terminal: UTF-8 continuation bytes take no room. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* Rows of ncols cells, row-major; each column padded to its widest cell. */
static void print_aligned(const char *const *cells, size_t nrows, size_t ncols)
{
	size_t width[LIST_COLS > MATCH_COLS ? LIST_COLS : MATCH_COLS] = {0};
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			size_t w = text_width(cells[r * ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *s = cells[r * ncols + c];
			fputs(s, stdout);
			if (c + 1 < ncols)
				printf("%*s", (int)(width[c] - text_width(s) + 2), "");
		}
		putchar('\n');
	}
}

/* ---- match ---- */

struct match_row {
	char input[MAX_LINE];
	char pattern[64];
	const struct sig_entry *e;
	const char *pat;
};

struct match_batch {
	struct match_row rows[BATCH];
	size_t n;
	bool header_done, json;
};

static void match_one(const struct sig_db *db, const char *in, struct match_row *r)
{
	fa_addr a;
	snprintf(r->input, sizeof(r->input), "%s", in);
	r->pattern[0] = '\0';
	if (fa_addr_parse(in, &a)) {
		r->e = sig_match_addr(db, &a, r->pattern, sizeof(r->pattern));
		r->pat = r->pattern;
	} else {
		r->e = sig_match_host(db, in, &r->pat);
	}
}

/* Terminal-safe copy: control bytes from stdin must not drive the terminal. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			*s = '?';
}

static void flush_batch(struct match_batch *b)
{
	if (b->json) {
		struct jsonw w;
		if (jsonw_open_text(&w, stdout) == FA_OK) {
			for (size_t i = 0; i < b->n; i++) {
				const struct match_row *r = &b->rows[i];
				const struct sig_entry *e = r->e;
				jsonw_object(&w, NULL);
				jsonw_string(&w, "input", r->input);
				jsonw_string(&w, "id", e ? e->id : NULL);
				jsonw_string(&w, "name", e ? e->name : NULL);
				jsonw_string(&w, "entity", e ? e->entity : NULL);
				jsonw_string(&w, "kind", e ? sig_kind_name(e->kind) : NULL);
				jsonw_string(&w, "pattern", e ? r->pat : NULL);
				jsonw_end(&w);
				jsonw_raw(&w, "\n", 1);
			}
		}
		jsonw_close(&w);
		b->n = 0;
		return;
	}
	static const char *const head[MATCH_COLS] = {"INPUT", "ID", "NAME", "ENTITY", "KIND",
						     "PATTERN"};
	if (b->n == 0)
		return;
	const char **cells = malloc((b->n + 1) * MATCH_COLS * sizeof(*cells));
	size_t nr = 0;
	if (cells == NULL) {
		/* the rows are already matched: print them unaligned rather than lose them */
		for (size_t i = 0; i < b->n; i++) {
			const struct match_row *r = &b->rows[i];
			sanitize(b->rows[i].input);
			printf("%s\t%s\n", r->input, r->e ? r->e->id : "-");
		}
		b->n = 0;
		return;
	}
	if (!b->header_done) {
		memcpy(cells, head, sizeof(head));
		nr++;
		b->header_done = true;
	}
	for (size_t i = 0; i < b->n; i++, nr++) {
		struct match_row *r = &b->rows[i];
		const struct sig_entry *e = r->e;
		const char **c = &cells[nr * MATCH_COLS];
		sanitize(r->input);
		c[0] = r->input;
		c[1] = e ? e->id : "-";
		c[2] = e ? e->name : "-";
		c[3] = e ? e->entity : "-";
		c[4] = e ? sig_kind_name(e->kind) : "-";
		c[5] = e ? r->pat : "-";
	}
	print_aligned(cells, nr, MATCH_COLS);
	free(cells);
	b->n = 0;
}

/* Adds one input; false when it matched nothing. */
static bool batch_add(struct match_batch *b, const struct sig_db *db, const char *in)
{
	if (b->n == BATCH)
		flush_batch(b);
	struct match_row *r = &b->rows[b->n++];
	match_one(db, in, r);
	return r->e != NULL;
}

/* Reads stdin a line at a time; FA_EXIT_INPUT on an over-long line. */
static int match_stdin(struct match_batch *b, const struct sig_db *db, bool *missed)
{
	char line[MAX_LINE + 1];
	unsigned long lineno = 0;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		lineno++;
		size_t n = strlen(line);
		if (n == MAX_LINE && line[n - 1] != '\n') {
			flush_batch(b);
			cmd_error("stdin:%lu: line longer than %d bytes", lineno, MAX_LINE - 1);
			return FA_EXIT_INPUT;
		}
		while (n > 0 && strchr(" \t\r\n", line[n - 1]) != NULL)
			line[--n] = '\0';
		const char *s = line + strspn(line, " \t");
		if (*s == '\0' || *s == '#')
			continue;
		if (!batch_add(b, db, s))
			*missed = true;
	}
	if (ferror(stdin)) {
		flush_batch(b);
		cmd_error("stdin: read error");
		return FA_EXIT_INPUT;
	}
	return FA_EXIT_OK;
}

static int sigs_match(int argc, char **argv)
{
	struct sigs_opts o;
	int rc = parse_opts(argc, argv, true, &o);
	if (rc >= 0)
		return rc;
	if (o.first_arg >= argc) {
		cmd_error("sigs match: name at least one host or address (or - for stdin)");
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	for (int i = o.first_arg; i < argc; i++) {
		if (strlen(argv[i]) >= MAX_LINE) {
			cmd_error("sigs match: argument %d is longer than %d bytes", i - o.first_arg + 1,
				  MAX_LINE - 1);
			return FA_EXIT_INPUT;
		}
	}
	struct sig_db *db = NULL;
	if ((rc = load(o.dir, &db)) != FA_EXIT_OK)
		return rc;
	struct match_batch *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		sig_db_free(db);
		cmd_error("out of memory");
		return FA_EXIT_RUNTIME;
	}
	b->json = o.json;
	bool missed = false;
	rc = FA_EXIT_OK;
	for (int i = o.first_arg; i < argc && rc == FA_EXIT_OK; i++) {
		if (strcmp(argv[i], "-") == 0)
			rc = match_stdin(b, db, &missed);
		else if (!batch_add(b, db, argv[i]))
			missed = true;
	}
	flush_batch(b);
	free(b);
	sig_db_free(db);
	if (fflush(stdout) != 0 && rc == FA_EXIT_OK) {
		cmd_error("stdout: write error");
		rc = FA_EXIT_RUNTIME;
	}
	if (rc == FA_EXIT_OK && missed)
		rc = FA_EXIT_FINDINGS;
	return rc;
}

/* ---- check and list ---- */

static int sigs_check(int argc, char **argv)
{
	struct sigs_opts o;
	int rc = parse_opts(argc, argv, false, &o);
	if (rc >= 0)
		return rc;
	const char *dir = o.dir;
	if (o.first_arg < argc) {
		if (dir != NULL || o.first_arg + 1 < argc) {
			cmd_error("sigs check: name one directory");
			return FA_EXIT_INPUT;
		}
		dir = argv[o.first_arg];
	}
	struct sig_db *db = NULL;
	if ((rc = load(dir, &db)) != FA_EXIT_OK)
		return rc;
	size_t nd = 0, nn = 0, n = sig_db_count(db);
	for (size_t i = 0; i < n; i++) {
		nd += sig_db_entry(db, i)->n_domains;
		nn += sig_db_entry(db, i)->n_networks;
	}
	printf("%zu entries, %zu domains, %zu networks: ok\n", n, nd, nn);
	sig_db_free(db);
	return FA_EXIT_OK;
}

static int sigs_list(int argc, char **argv)
{
	struct sigs_opts o;
	int rc = parse_opts(argc, argv, false, &o);
	if (rc >= 0)
		return rc;
	if (o.first_arg < argc) {
		cmd_error("sigs list: unexpected argument '%s' (use -s DIR for a catalogue)",
			  argv[o.first_arg]);
		return FA_EXIT_INPUT;
	}
	struct sig_db *db = NULL;
	if ((rc = load(o.dir, &db)) != FA_EXIT_OK)
		return rc;
	size_t n = sig_db_count(db);
	const char **cells = malloc((n + 1) * LIST_COLS * sizeof(*cells));
	char(*nums)[2][24] = malloc((n ? n : 1) * sizeof(*nums));
	char(*purposes)[512] = malloc((n ? n : 1) * sizeof(*purposes));
	if (cells == NULL || nums == NULL || purposes == NULL) {
		free(cells);
		free(nums);
		free(purposes);
		sig_db_free(db);
		cmd_error("out of memory");
		return FA_EXIT_RUNTIME;
	}
	static const char *const head[LIST_COLS] = {"ID",	"KIND",	   "ENTITY",  "COUNTRY",
						    "PURPOSES", "DOMAINS", "NETWORKS"};
	memcpy(cells, head, sizeof(head));
	for (size_t i = 0; i < n; i++) {
		const struct sig_entry *e = sig_db_entry(db, i);
		const char **c = &cells[(i + 1) * LIST_COLS];
		size_t off = 0;
		purposes[i][0] = '\0';
		for (size_t j = 0; j < e->n_purposes && off < sizeof(purposes[i]); j++)
			off += (size_t)snprintf(purposes[i] + off, sizeof(purposes[i]) - off, "%s%s",
						j ? "," : "", e->purposes[j]);
		snprintf(nums[i][0], sizeof(nums[i][0]), "%zu", e->n_domains);
		snprintf(nums[i][1], sizeof(nums[i][1]), "%zu", e->n_networks);
		c[0] = e->id;
		c[1] = sig_kind_name(e->kind);
		c[2] = e->entity;
		c[3] = e->entity_country;
		c[4] = purposes[i];
		c[5] = nums[i][0];
		c[6] = nums[i][1];
	}
	print_aligned(cells, n + 1, LIST_COLS);
	free(cells);
	free(nums);
	free(purposes);
	sig_db_free(db);
	return FA_EXIT_OK;
}

int cmd_sigs(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(usage, stdout);
		return FA_EXIT_OK;
	}
	if (strcmp(sub, "match") == 0)
		return sigs_match(argc - 1, argv + 1);
	if (strcmp(sub, "check") == 0)
		return sigs_check(argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return sigs_list(argc - 1, argv + 1);
	cmd_error("sigs: unknown subcommand '%s' (match, check or list)", sub);
	fputs(usage, stderr);
	return FA_EXIT_INPUT;
}
