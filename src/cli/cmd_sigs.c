/*
 * cmd_sigs.c - `flowaudit sigs`: the signature catalogue from the command
 * line.
 *
 *   sigs match [-s DIR]... [--json] HOST|IP... (or - for one per line on stdin)
 *   sigs check [DIR...]
 *   sigs list  [-s DIR]...
 *   sigs import --from FORMAT FILE -o DIR [--label L] [--url URL] ...
 *
 * -s is repeatable: the catalogues are layers, the first that matches wins
 * (signatures.h). `check` of several layers also warns, on stderr, where
 * an imported catalogue gives a name to another entity than a catalogue of
 * our own does.
 *
 * Receives arguments and, for `match -`, lines on stdin (each at most
 * MAX_LINE bytes). Hands on: text tables or JSON lines on stdout, errors on
 * stderr. Tables are aligned over batches of BATCH rows so that matching a
 * long list from stdin runs in bounded memory.
 *
 * Exit status: 0 ok; 1 when `match` found no owner for some input, or
 * `import` skipped rows of the list (the catalogue is written without them);
 * 2 for bad usage, a bad catalogue or a list it cannot read; 3 when memory
 * runs out or writing fails.
 */
#include "cmd.h"

#include "flowaudit/jsonw.h"
#include "flowaudit/sig_import.h"
#include "flowaudit/signatures.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 1024
#define BATCH 512
#define MATCH_COLS 6
#define LIST_COLS 8

static const char usage[] =
	"usage: flowaudit sigs match [-s DIR] [--json] HOST|IP...   who operates these endpoints\n"
	"       flowaudit sigs match [-s DIR] [--json] -           one host or address per line "
	"on stdin\n"
	"       flowaudit sigs check [DIR...]                      validate catalogues (layers)\n"
	"       flowaudit sigs list [-s DIR]                       every entry of a catalogue\n"
	"       flowaudit sigs import --from FORMAT FILE -o DIR    make a catalogue of a list\n"
	"  -s, --signatures DIR   signature catalogue (default: $FLOWAUDIT_SIGNATURES,\n"
	"                         else ./signatures, else the installed one); repeat it\n"
	"                         for layers: the first catalogue that matches wins\n"
	"  import: --from exodus|ddg-tds|disconnect|hosts, -o DIR (new, or --force to\n"
	"          replace a catalogue), --label NAME, --url URL of the list,\n"
	"          --list-version TEXT, --purposes P,... (hosts lists; default other)\n"
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
	const char *dir; /* NULL, or list: the -s directories joined by ':' */
	char list[SIG_MAX_PATH_LIST];
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
		case 's': {
			const char *why;
			if (!sig_path_append(o->list, sizeof(o->list), optarg, &why)) {
				cmd_error("sigs %s: -s %s: %s", argv[0], optarg, why);
				return FA_EXIT_INPUT;
			}
			o->dir = o->list;
			break;
		}
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
	int rc = sig_db_load_path(dir, db, &err);
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
				jsonw_string(&w, "catalogue", e ? e->catalogue->label : NULL);
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

/* ---- contradictions between imported and own catalogues ---- */

#define MAX_WARNINGS 200

/* A word of an entity name that tells it apart: 3 bytes or more, no legal form. */
static bool telling_word(const char *w, size_t n)
{
	static const char *const common[] = {
		"inc", "llc", "ltd", "limited", "gmbh", "corp", "corporation", "company", "group",
		"holding", "holdings", "technologies", "technology", "tech", "the", "and", "services",
		"service", "media", "software", "international", "digital", "network", "networks",
		"labs", "plc", "pte", "pty", "sas", "srl", "spa", "kft", "sro", "analytics", "ads",
		"mobile", "data", "online", "interactive", "solutions", "systems", "platforms"};
	if (n < 3)
		return false;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (strlen(common[i]) == n && strncmp(common[i], w, n) == 0)
			return false;
	return true;
}

/*
 * Whether two entity names may be the same entity: they share a telling
 * word, compared without case ("Google AdMob" and "Google LLC" do; "Meta
 * Platforms, Inc." and "Facebook" do not, and are reported).
 */
static bool same_entity(const char *a, const char *b)
{
	char x[SIG_MAX_ALIAS * 2 + 2], y[SIG_MAX_ALIAS * 2 + 2];
	const char *src[2] = {a, b};
	char *dst[2] = {x, y};
	for (int k = 0; k < 2; k++) {
		size_t o = 0;
		for (const char *p = src[k]; *p && o + 1 < sizeof(x); p++) {
			unsigned char c = (unsigned char)*p;
			bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80;
			if (c >= 'A' && c <= 'Z') {
				c = (unsigned char)(c - 'A' + 'a');
				word = true;
			}
			dst[k][o++] = word ? (char)c : ' ';
		}
		dst[k][o] = '\0';
	}
	for (const char *p = x; *p;) {
		size_t n = strcspn(p, " ");
		if (n > 0 && telling_word(p, n)) {
			for (const char *q = y; *q;) {
				size_t m = strcspn(q, " ");
				if (m == n && strncmp(p, q, n) == 0)
					return true;
				q += m + (q[m] == ' ');
			}
		}
		p += n + (p[n] == ' ');
	}
	return false;
}

/* The catalogues of db that were not imported, as a new database; NULL if none. */
static struct sig_db *own_layers(const struct sig_db *db)
{
	char list[SIG_MAX_PATH_LIST] = "";
	const char *why;
	for (size_t i = 0; i < sig_db_catalogue_count(db); i++) {
		const struct sig_catalogue *c = sig_db_catalogue(db, i);
		if (c->source == NULL && c->dir != NULL &&
		    !sig_path_append(list, sizeof(list), c->dir, &why))
			return NULL;
	}
	struct sig_db *own = NULL;
	struct fa_err err = {{0}};
	if (list[0] == '\0' || sig_db_load_path(list, &own, &err) != FA_OK)
		return NULL;
	return own;
}

/*
 * Warns on stderr for each name an imported catalogue gives to an entity
 * that the first of our own catalogues to cover it does not name alike.
 * Without a catalogue of our own among the layers, the default one
 * (sig_default_dir) is the reference. Always FA_EXIT_OK: the layers stand,
 * the first that matches wins; the warning is for the reviewer.
 */
static int check_contradictions(const struct sig_db *db)
{
	bool imported = false;
	for (size_t i = 0; i < sig_db_catalogue_count(db); i++)
		imported = imported || sig_db_catalogue(db, i)->source != NULL;
	if (!imported)
		return FA_EXIT_OK;
	struct sig_db *own = own_layers(db), *fallback = NULL;
	if (own == NULL) {
		struct fa_err err = {{0}};
		if (sig_db_load_path(sig_default_dir(), &fallback, &err) == FA_OK)
			own = own_layers(fallback);
		sig_db_free(fallback);
	}
	if (own == NULL) {
		fprintf(stderr, "flowaudit: sigs check: no catalogue of our own to compare the "
				"imported ones with\n");
		return FA_EXIT_OK;
	}
	size_t warned = 0;
	for (size_t i = 0; i < sig_db_count(db); i++) {
		const struct sig_entry *e = sig_db_entry(db, i);
		if (e->catalogue->source == NULL)
			continue;
		for (size_t j = 0; j < e->n_domains; j++) {
			const char *pat;
			const struct sig_entry *m = sig_match_host(own, e->domains[j], &pat);
			if (m == NULL || same_entity(e->entity, m->entity))
				continue;
			if (++warned <= MAX_WARNINGS)
				fprintf(stderr, "flowaudit: sigs check: warning: %s: '%s' is %s's in "
					"the imported catalogue %s, but %s's (%s, %s) in %s\n", e->file,
					e->domains[j], e->entity, e->catalogue->label, m->entity, m->id,
					pat, m->catalogue->label);
		}
	}
	if (warned > MAX_WARNINGS)
		fprintf(stderr, "flowaudit: sigs check: ... and %zu more such warnings\n",
			warned - MAX_WARNINGS);
	if (warned > 0)
		fprintf(stderr, "flowaudit: sigs check: %zu names of imported catalogues contradict "
				"our own; where the layers overlap, the first catalogue that matches "
				"wins\n", warned);
	sig_db_free(own);
	return FA_EXIT_OK;
}

static int sigs_check(int argc, char **argv)
{
	struct sigs_opts o;
	int rc = parse_opts(argc, argv, false, &o);
	if (rc >= 0)
		return rc;
	/* the directories named, after any -s, are further layers */
	for (int i = o.first_arg; i < argc; i++) {
		const char *why;
		if (!sig_path_append(o.list, sizeof(o.list), argv[i], &why)) {
			cmd_error("sigs check: %s: %s", argv[i], why);
			return FA_EXIT_INPUT;
		}
		o.dir = o.list;
	}
	struct sig_db *db = NULL;
	if ((rc = load(o.dir, &db)) != FA_EXIT_OK)
		return rc;
	size_t nd = 0, nn = 0, n = sig_db_count(db);
	for (size_t i = 0; i < n; i++) {
		nd += sig_db_entry(db, i)->n_domains;
		nn += sig_db_entry(db, i)->n_networks;
	}
	size_t nc = sig_db_catalogue_count(db);
	if (nc > 1)
		printf("%zu catalogues, ", nc);
	printf("%zu entries, %zu domains, %zu networks: ok\n", n, nd, nn);
	rc = check_contradictions(db);
	sig_db_free(db);
	return rc;
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
						    "PURPOSES", "DOMAINS", "NETWORKS", "CATALOGUE"};
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
		c[7] = e->catalogue->label;
	}
	print_aligned(cells, n + 1, LIST_COLS);
	free(cells);
	free(nums);
	free(purposes);
	sig_db_free(db);
	return FA_EXIT_OK;
}

/* ---- import ---- */

enum { OPT_FROM = 1000, OPT_LABEL, OPT_URL, OPT_LIST_VERSION, OPT_PURPOSES, OPT_FORCE };

static const struct option import_opts[] = {
	{"from", required_argument, NULL, OPT_FROM},
	{"output", required_argument, NULL, 'o'},
	{"label", required_argument, NULL, OPT_LABEL},
	{"url", required_argument, NULL, OPT_URL},
	{"list-version", required_argument, NULL, OPT_LIST_VERSION},
	{"purposes", required_argument, NULL, OPT_PURPOSES},
	{"force", no_argument, NULL, OPT_FORCE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Parses the options of `sigs import`; -1 when all is well. */
static int parse_import(int argc, char **argv, struct sig_import_opts *o)
{
	memset(o, 0, sizeof(*o));
	bool have_from = false;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", import_opts, NULL)) != -1) {
		switch (c) {
		case OPT_FROM:
			if (!sig_import_format_parse(optarg, &o->format)) {
				cmd_error("sigs import: --from '%s': one of exodus, ddg-tds, disconnect, "
					  "hosts", optarg);
				return FA_EXIT_INPUT;
			}
			have_from = true;
			break;
		case 'o': o->outdir = optarg; break;
		case OPT_LABEL: o->label = optarg; break;
		case OPT_URL: o->url = optarg; break;
		case OPT_LIST_VERSION: o->version = optarg; break;
		case OPT_PURPOSES: o->purposes = optarg; break;
		case OPT_FORCE: o->force = true; break;
		case 'h':
			fputs(usage, stdout);
			return FA_EXIT_OK;
		default:
			cmd_error("sigs import: %s '%s'",
				  optopt ? "missing value for" : "unknown option", argv[optind - 1]);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		}
	}
	if (!have_from || o->outdir == NULL || optind + 1 != argc) {
		cmd_error("sigs import: give --from FORMAT, one list FILE and -o DIR");
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	if (o->purposes != NULL && o->format != SIG_IMPORT_HOSTS) {
		cmd_error("sigs import: --purposes is for hosts lists; the other lists have "
			  "categories");
		return FA_EXIT_INPUT;
	}
	o->input = argv[optind];
	return -1;
}

static int sigs_import(int argc, char **argv)
{
	struct sig_import_opts o;
	int rc = parse_import(argc, argv, &o);
	if (rc >= 0)
		return rc;
	struct sig_import_result res;
	struct fa_err err = {{0}};
	rc = sig_import(&o, &res, &err);
	for (size_t i = 0; i < res.n_problems; i++)
		fprintf(stderr, "flowaudit: %s: %s: skipped: %s\n", o.input, res.problems[i].where,
			res.problems[i].what);
	if (res.skipped > res.n_problems)
		fprintf(stderr, "flowaudit: %s: ... and %zu more skipped\n", o.input,
			res.skipped - res.n_problems);
	if (res.unmapped[0] != '\0')
		fprintf(stderr, "flowaudit: %s: categories the mapping does not know, filed under "
				"purpose 'other': %s\n", o.input, res.unmapped);
	sig_import_result_free(&res);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		cmd_error("sigs import: nothing written; %s is as it was", o.outdir);
		return cmd_exit_for(rc);
	}
	printf("%s: %zu rows: %zu entries, %zu domains, %zu networks in %s; %zu skipped "
	       "(%zu names claimed twice)\n", o.input, res.rows, res.entries, res.domains,
	       res.networks, o.outdir, res.skipped, res.claimed);
	printf("version: %s; licence: %s\n", res.version, res.licence);
	return res.skipped > 0 ? FA_EXIT_FINDINGS : FA_EXIT_OK;
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
	if (strcmp(sub, "import") == 0)
		return sigs_import(argc - 1, argv + 1);
	cmd_error("sigs: unknown subcommand '%s' (match, check, list or import)", sub);
	fputs(usage, stderr);
	return FA_EXIT_INPUT;
}
