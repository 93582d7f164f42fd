/*
 * test_sig_import.c - `sigs import`: each list format becomes catalogue
 * entries the loader accepts, with kind and purposes from the list's
 * categories and references naming the list; rows that cannot be converted
 * are counted with their line or key; a failed import leaves DIR as it was.
 *
 * Run from the top of the tree: the lists under tests/fixtures/import/ are
 * small lists written for these tests in each format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/sig_import.h"
#include "flowaudit/signatures.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/import/"

struct scratch {
	char top[64], out[128];
};

static int make_scratch(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));
	snprintf(s->top, sizeof(s->top), "/tmp/fa-import-XXXXXX");
	if (mkdtemp(s->top) == NULL)
		return -1;
	snprintf(s->out, sizeof(s->out), "%s/cat", s->top);
	*state = s;
	return 0;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int drop_scratch(void **state)
{
	struct scratch *s = *state;
	remove_tree(s->top);
	free(s);
	return 0;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int run(enum sig_import_format f, const char *file, const char *out,
	       struct sig_import_result *res, struct fa_err *err)
{
	struct sig_import_opts o = {.format = f, .input = file, .outdir = out};
	return sig_import(&o, res, err);
}

static bool has_problem(const struct sig_import_result *r, const char *where, const char *what)
{
	for (size_t i = 0; i < r->n_problems; i++)
		if (strcmp(r->problems[i].where, where) == 0 && strstr(r->problems[i].what, what))
			return true;
	return false;
}

static bool has_purpose(const struct sig_entry *e, const char *p)
{
	for (size_t i = 0; i < e->n_purposes; i++)
		if (strcmp(e->purposes[i], p) == 0)
			return true;
	return false;
}

static struct sig_db *load(const char *dir)
{
	struct sig_db *db = NULL;
	struct fa_err err = {{0}};
	if (sig_db_load_dir(dir, &db, &err) != FA_OK)
		fail_msg("the imported catalogue does not load: %s", err.msg);
	return db;
}

/* Writes text as the list s->top/name; its path in path. */
static void write_list(const struct scratch *s, const char *name, const char *text, char *path,
		       size_t len)
{
	snprintf(path, len, "%s/%s", s->top, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Imports text, written as a list of format f, into s->out; must succeed. */
static void import_text(const struct scratch *s, enum sig_import_format f, const char *name,
			const char *text, struct sig_import_result *r)
{
	char list[256];
	struct fa_err err = {{0}};
	write_list(s, name, text, list, sizeof(list));
	struct sig_import_opts o = {.format = f, .input = list, .outdir = s->out};
	if (sig_import(&o, r, &err) != FA_OK)
		fail_msg("importing %s failed: %s", name, err.msg);
}

static void test_exodus(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	struct fa_err err = {{0}};
	assert_int_equal(run(SIG_IMPORT_EXODUS, FIX "exodus.json", s->out, &r, &err), FA_OK);
	assert_int_equal(r.rows, 6);
	assert_int_equal(r.entries, 3);
	assert_int_equal(r.domains, 4);  /* teemo-example.com, teemo-cdn.net, adnetx.io, copycat.org */
	assert_int_equal(r.networks, 1); /* 10.1.2.3 */
	assert_int_equal(r.claimed, 1);
	assert_int_equal(r.skipped, 5);
	assert_true(has_problem(&r, "trackers.\"2\"", "'api\\.adnetx\\.(com|net)' in "
				"network_signature is a pattern"));
	assert_true(has_problem(&r, "trackers.\"3\"", "no network_signature"));
	assert_true(has_problem(&r, "trackers.\"4\"", "'adnetx.io' is already claimed by Ad "
				"Network X"));
	assert_true(has_problem(&r, "trackers.\"5\"", "not an object"));
	assert_true(has_problem(&r, "trackers.\"6\"", "is a pattern"));
	assert_string_equal(r.unmapped, "Mystery");
	assert_string_equal(r.version, "newest tracker of 2021-06-12");
	sig_import_result_free(&r);

	struct sig_db *db = load(s->out);
	const struct sig_catalogue *c = sig_db_catalogue(db, 0);
	assert_string_equal(c->label, "exodus");
	assert_string_equal(c->source, "exodus");
	assert_string_equal(c->list, "https://reports.exodus-privacy.eu.org/api/trackers");
	const struct sig_entry *e = sig_match_host(db, "x.teemo-cdn.net", NULL);
	assert_non_null(e);
	assert_string_equal(e->id, "exodus-teemo-example");
	assert_string_equal(e->entity_country, "ZZ");
	assert_true(has_purpose(e, "analytics") && has_purpose(e, "location"));
	assert_int_equal(e->n_references, 2);
	assert_string_equal(e->references[1], "https://www.teemo-example.com");
	e = sig_match_host(db, "adnetx.io", NULL);
	assert_string_equal(e->name, "Ad Network X");
	assert_true(has_purpose(e, "advertising"));
	fa_addr a;
	assert_true(fa_addr_parse("10.1.2.3", &a));
	assert_ptr_equal(sig_match_addr(db, &a, NULL, 0), e);
	e = sig_match_host(db, "copycat.org", NULL);
	assert_true(has_purpose(e, "analytics") && has_purpose(e, "other"));
	assert_null(sig_db_find(db, "exodus-regex-only"));
	sig_db_free(db);
}

static void test_ddg_tds(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	struct fa_err err = {{0}};
	assert_int_equal(run(SIG_IMPORT_DDG_TDS, FIX "tds.json", s->out, &r, &err), FA_OK);
	assert_int_equal(r.rows, 6);
	assert_int_equal(r.entries, 3);
	assert_int_equal(r.domains, 4);
	assert_int_equal(r.skipped, 2);
	assert_true(has_problem(&r, "trackers.\"bad_domain\"", "not a domain name"));
	assert_true(has_problem(&r, "trackers.\"noowner.com\"", "no owner"));
	assert_string_equal(r.unmapped, "");
	assert_non_null(strstr(r.licence, "CC BY-NC-SA 4.0"));
	sig_import_result_free(&r);

	struct sig_db *db = load(s->out);
	const struct sig_entry *ads = sig_match_host(db, "static.ddg-ads-cdn.net", NULL);
	assert_ptr_equal(ads, sig_match_host(db, "ddg-ads.com", NULL));
	assert_string_equal(ads->name, "Example Ads");
	assert_string_equal(ads->entity, "Example Ads Inc.");
	assert_int_equal(ads->kind, SIG_SDK);
	assert_true(has_purpose(ads, "advertising") && has_purpose(ads, "cdn"));
	/* the owner from the domains map */
	assert_string_equal(sig_match_host(db, "metrics-example.org", NULL)->entity,
			    "Metrics Example GmbH");
	/* only CDN: infrastructure */
	assert_int_equal(sig_match_host(db, "pureedge.net", NULL)->kind, SIG_INFRASTRUCTURE);
	sig_db_free(db);
}

static void test_disconnect(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	struct fa_err err = {{0}};
	assert_int_equal(run(SIG_IMPORT_DISCONNECT, FIX "services.json", s->out, &r, &err), FA_OK);
	assert_int_equal(r.rows, 6);
	assert_int_equal(r.entries, 4);
	assert_int_equal(r.domains, 6);
	assert_int_equal(r.claimed, 1);
	assert_true(has_problem(&r, "categories.Advertising[2]", "not an object"));
	assert_true(has_problem(&r, "categories.Social[1]", "'exads.net' is already claimed by "
				"Example Ads"));
	assert_string_equal(r.unmapped, "Weird");
	/* the licence as the file states it */
	assert_non_null(strstr(r.licence, "written for the tests"));
	sig_import_result_free(&r);

	struct sig_db *db = load(s->out);
	const struct sig_entry *e = sig_match_host(db, "sharer.example", NULL);
	/* one entity over two categories: both purposes, the domain once */
	assert_true(has_purpose(e, "advertising") && has_purpose(e, "content"));
	assert_int_equal(e->n_domains, 2);
	assert_string_equal(e->references[1], "https://sharer.example/");
	assert_string_equal(sig_match_host(db, "exads.net", NULL)->name, "Example Ads");
	assert_string_equal(sig_match_host(db, "thief.example", NULL)->name, "Thief");
	sig_db_free(db);
}

static void test_hosts(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	struct fa_err err = {{0}};
	struct sig_import_opts o = {.format = SIG_IMPORT_HOSTS, .input = FIX "hosts.txt",
				    .outdir = s->out, .label = "lab-hosts",
				    .purposes = "advertising,analytics"};
	assert_int_equal(sig_import(&o, &r, &err), FA_OK);
	assert_int_equal(r.rows, 12);
	assert_int_equal(r.entries, 5);
	assert_int_equal(r.domains, 7);
	assert_int_equal(r.skipped, 5);
	assert_true(has_problem(&r, "line 12", "not a pure domain rule"));
	assert_true(has_problem(&r, "line 13", "exception rule"));
	assert_true(has_problem(&r, "line 14", "cosmetic filter"));
	assert_true(has_problem(&r, "line 15", "'single' is not a domain name"));
	assert_true(has_problem(&r, "line 16", "neither"));
	assert_string_equal(r.version, "2026.12.01");
	assert_string_equal(r.licence, "CC0 (written for the tests)");
	sig_import_result_free(&r);

	struct sig_db *db = load(s->out);
	const struct sig_catalogue *c = sig_db_catalogue(db, 0);
	assert_string_equal(c->label, "lab-hosts");
	assert_string_equal(c->list, "https://hosts.example.org/list");
	/* one entry per site: co.uk counts as one label */
	const struct sig_entry *e = sig_match_host(db, "beacon.tracker-two.co.uk", NULL);
	assert_string_equal(e->id, "lab-hosts-tracker-two-co-uk");
	assert_int_equal(e->n_domains, 2);
	assert_true(has_purpose(e, "advertising") && has_purpose(e, "analytics"));
	assert_ptr_equal(sig_match_host(db, "ads.tracker-one.com", NULL),
			 sig_match_host(db, "pixel.tracker-one.com", NULL));
	/* the listed host only, not its whole site */
	assert_null(sig_match_host(db, "www.tracker-one.com", NULL));
	assert_non_null(sig_match_host(db, "third.example-ads.org", NULL));
	assert_null(sig_match_host(db, "localhost", NULL));
	assert_null(sig_match_host(db, "allowed.com", NULL));
	sig_db_free(db);
}

/* Nothing half-written: a failed import leaves DIR as it was. */
static void test_nothing_half_written(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	struct fa_err err = {{0}};
	/* a list of another format: DIR is not made (tds.json has "trackers" too,
	   but none of them has a name) */
	assert_int_equal(run(SIG_IMPORT_EXODUS, FIX "tds.json", s->out, &r, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "no entry could be made"));
	assert_true(has_problem(&r, "trackers.\"ddg-ads.com\"", "no name"));
	sig_import_result_free(&r);
	assert_int_equal(run(SIG_IMPORT_DISCONNECT, FIX "tds.json", s->out, &r, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "tds.json: field 'categories': missing"));
	sig_import_result_free(&r);
	assert_int_equal(run(SIG_IMPORT_DDG_TDS, FIX "hosts.txt", s->out, &r, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "hosts.txt:1:"));
	sig_import_result_free(&r);
	struct stat st;
	assert_int_equal(stat(s->out, &st), -1);
	assert_int_equal(count_entries(s->top), 0); /* no DIR.import-* left either */

	/* a catalogue in DIR: kept unless --force, and replaced whole with it */
	assert_int_equal(run(SIG_IMPORT_EXODUS, FIX "exodus.json", s->out, &r, &err), FA_OK);
	sig_import_result_free(&r);
	assert_int_equal(count_entries(s->out), 4);
	assert_int_equal(run(SIG_IMPORT_DISCONNECT, FIX "services.json", s->out, &r, &err),
			 FA_EINPUT);
	assert_non_null(strstr(err.msg, "not empty; pass --force"));
	sig_import_result_free(&r);
	assert_int_equal(count_entries(s->out), 4);
	struct sig_import_opts o = {.format = SIG_IMPORT_DISCONNECT, .input = FIX "services.json",
				    .outdir = s->out, .force = true};
	assert_int_equal(sig_import(&o, &r, &err), FA_OK);
	sig_import_result_free(&r);
	assert_int_equal(count_entries(s->out), 5); /* 4 entries and _catalogue.json */
	assert_int_equal(count_entries(s->top), 1); /* the old one is gone */
	char p[256];
	snprintf(p, sizeof(p), "%s/exodus-copycat.json", s->out);
	assert_int_equal(stat(p, &st), -1);

	/* a directory holding anything else is never replaced */
	snprintf(p, sizeof(p), "%s/notes.txt", s->out);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(sig_import(&o, &r, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "holds files other than *.json"));
	sig_import_result_free(&r);
	assert_int_equal(count_entries(s->out), 6);
}

static void test_bad_options(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	struct fa_err err = {{0}};
	/* a hosts list that names no homepage needs --url */
	char list[256];
	write_list(s, "plain.txt", "0.0.0.0 ads.example.net\n", list, sizeof(list));
	struct sig_import_opts o = {.format = SIG_IMPORT_HOSTS, .input = list, .outdir = s->out};
	assert_int_equal(sig_import(&o, &r, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "--url"));
	sig_import_result_free(&r);
	o.url = "ftp://lists.example/hosts";
	assert_int_equal(sig_import(&o, &r, &err), FA_EINPUT);
	sig_import_result_free(&r);
	o.url = "https://lists.example/hosts";
	o.purposes = "advertising,spying";
	assert_int_equal(sig_import(&o, &r, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "'spying'"));
	sig_import_result_free(&r);
	o.purposes = NULL;
	o.label = "Bad Label";
	assert_int_equal(sig_import(&o, &r, &err), FA_EINPUT);
	sig_import_result_free(&r);
	o.label = NULL;
	o.version = "v7";
	assert_int_equal(sig_import(&o, &r, &err), FA_OK);
	assert_string_equal(r.version, "v7");
	assert_string_equal(r.licence, "not stated in the file");
	sig_import_result_free(&r);
	struct sig_db *db = load(s->out);
	assert_string_equal(sig_match_host(db, "ads.example.net", NULL)->purposes[0], "other");
	assert_string_equal(sig_db_catalogue(db, 0)->version, "v7");
	sig_db_free(db);
}

/* A header of any bytes still makes JSON the loader reads: well-formed UTF-8 only. */
static void test_header_bytes(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	import_text(s, SIG_IMPORT_HOSTS, "bytes.txt",
		    "# Title: caf\xc3\xa9 \xff\xfelist\x01\n# Version: v\xe2\x82\n"
		    "# Homepage: https://lists.example/bytes\n0.0.0.0 ads.bytes-example.net\n", &r);
	sig_import_result_free(&r);
	struct sig_db *db = load(s->out);
	assert_string_equal(sig_db_catalogue(db, 0)->version, "v");
	const struct sig_entry *e = sig_match_host(db, "ads.bytes-example.net", NULL);
	assert_non_null(e->notes);
	assert_non_null(strstr(e->notes, "caf\xc3\xa9 list"));
	sig_db_free(db);
}

/* What a list may hold that our format may not still gives entries that load. */
static void test_odd_rows_still_load(void **state)
{
	struct scratch *s = *state;
	struct sig_import_result r;
	import_text(s, SIG_IMPORT_DISCONNECT, "odd.json",
		    "{\"license\": \"\\u0001\", \"categories\": {\"Analytics\": [\n"
		    "  {\"  \\t \": {\"https://odd.example/a\\tb\": [\"odd-one.example\"]}}]}}\n",
		    &r);
	assert_string_equal(r.licence, "not stated in the file");
	sig_import_result_free(&r);
	struct sig_db *db = load(s->out);
	const struct sig_entry *e = sig_match_host(db, "odd-one.example", NULL);
	assert_string_equal(e->id, "disconnect-entity");
	assert_string_equal(e->name, "disconnect-entity");
	assert_int_equal(e->n_references, 1); /* the homepage with a tab is left out */
	sig_db_free(db);
}

static void test_format_names(void **state)
{
	(void)state;
	enum sig_import_format f;
	assert_true(sig_import_format_parse("ddg-tds", &f));
	assert_int_equal(f, SIG_IMPORT_DDG_TDS);
	assert_string_equal(sig_import_format_name(SIG_IMPORT_HOSTS), "hosts");
	assert_false(sig_import_format_parse("adblock", &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exodus, make_scratch, drop_scratch),
		cmocka_unit_test_setup_teardown(test_ddg_tds, make_scratch, drop_scratch),
		cmocka_unit_test_setup_teardown(test_disconnect, make_scratch, drop_scratch),
		cmocka_unit_test_setup_teardown(test_hosts, make_scratch, drop_scratch),
		cmocka_unit_test_setup_teardown(test_nothing_half_written, make_scratch,
						drop_scratch),
		cmocka_unit_test_setup_teardown(test_bad_options, make_scratch, drop_scratch),
		cmocka_unit_test_setup_teardown(test_header_bytes, make_scratch, drop_scratch),
		cmocka_unit_test_setup_teardown(test_odd_rows_still_load, make_scratch,
						drop_scratch),
		cmocka_unit_test(test_format_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
