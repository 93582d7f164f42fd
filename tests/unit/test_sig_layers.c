/*
 * test_sig_layers.c - layered catalogues: the first catalogue that has any
 * match for a host or address wins (with its own most specific match), a
 * pattern may repeat across layers but not within one, ids and aliases are
 * per layer, and each entry names its catalogue.
 *
 * Run from the top of the tree: fixtures are under tests/fixtures/sigs/.
 * tests/fixtures/sigs/layers/own is a catalogue of our own (no
 * _catalogue.json: its label is the directory's name); layers/lab is an
 * imported one that claims some of own's patterns again, a more specific
 * host under one of them, and a domain above one of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/signatures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/fixtures/sigs/"
#define OWN FIX "layers/own"
#define LAB FIX "layers/lab"

static int load_layers(void **state)
{
	struct sig_db *db = NULL;
	struct fa_err err = {{0}};
	if (sig_db_load_path(OWN ":" LAB, &db, &err) != FA_OK) {
		fprintf(stderr, "loading the layers failed: %s\n", err.msg);
		return -1;
	}
	*state = db;
	return 0;
}

static int free_db(void **state)
{
	sig_db_free(*state);
	return 0;
}

/* "label/id" of the entry matching host, or "-". */
static const char *host_owner(const struct sig_db *db, const char *host, const char **pat)
{
	static char buf[128];
	const struct sig_entry *e = sig_match_host(db, host, pat);
	if (e == NULL)
		return "-";
	snprintf(buf, sizeof(buf), "%s/%s", e->catalogue->label, e->id);
	return buf;
}

static const char *addr_owner(const struct sig_db *db, const char *text, char *pat, size_t len)
{
	static char buf[128];
	fa_addr a;
	assert_true(fa_addr_parse(text, &a));
	const struct sig_entry *e = sig_match_addr(db, &a, pat, len);
	if (e == NULL)
		return "-";
	snprintf(buf, sizeof(buf), "%s/%s", e->catalogue->label, e->id);
	return buf;
}

static void test_catalogues(void **state)
{
	const struct sig_db *db = *state;
	assert_int_equal(sig_db_catalogue_count(db), 2);
	const struct sig_catalogue *own = sig_db_catalogue(db, 0), *lab = sig_db_catalogue(db, 1);
	assert_string_equal(own->label, "own");
	assert_string_equal(own->dir, OWN);
	assert_null(own->source);
	assert_string_equal(lab->label, "lab");
	assert_string_equal(lab->source, "hosts");
	assert_string_equal(lab->list, "https://lab.example/list.txt");
	assert_string_equal(lab->version, "2026-12-01");
	assert_string_equal(lab->licence, "written for the tests");
	assert_int_equal(lab->layer, 1);
	assert_null(sig_db_catalogue(db, 2));
	/* 2 entries of our own, 2 imported; both layers have an "ads" */
	assert_int_equal(sig_db_count(db), 4);
	assert_ptr_equal(sig_db_find(db, "ads")->catalogue, own);
	assert_ptr_equal(sig_db_find(db, "wide")->catalogue, lab);
}

static void test_first_layer_with_a_match_wins(void **state)
{
	const struct sig_db *db = *state;
	const char *pat;
	/* the same domain in both layers: the first layer's */
	assert_string_equal(host_owner(db, "example-ads.net", &pat), "own/ads");
	assert_string_equal(pat, "example-ads.net");
	/* lab names a longer suffix, but own has a match: own's, by its pattern */
	assert_string_equal(host_owner(db, "tracker.example-ads.net", &pat), "own/ads");
	assert_string_equal(pat, "example-ads.net");
	assert_string_equal(host_owner(db, "a.b.tracker.example-ads.net", &pat), "own/ads");
	/* own has ads.example.com, lab the wider example.com */
	assert_string_equal(host_owner(db, "x.ads.example.com", &pat), "own/ads");
	assert_string_equal(pat, "ads.example.com");
	assert_string_equal(host_owner(db, "www.example.com", &pat), "lab/wide");
	assert_string_equal(pat, "example.com");
	/* only in lab */
	assert_string_equal(host_owner(db, "LAB-ONLY.org.", &pat), "lab/ads");
	assert_string_equal(pat, "lab-only.org");
	assert_string_equal(sig_db_find(db, "ads")->entity, "Own Ads Ltd.");
	assert_string_equal(sig_match_host(db, "lab-only.org", NULL)->entity, "Somebody Else GmbH");
	assert_string_equal(host_owner(db, "nobody.example.net", &pat), "-");
	assert_null(pat);
}

static void test_addresses_by_layer(void **state)
{
	const struct sig_db *db = *state;
	char pat[64];
	/* lab's /25 is more specific, but own's /22 holds the address */
	assert_string_equal(addr_owner(db, "198.51.100.200", pat, sizeof(pat)), "own/cdn");
	assert_string_equal(pat, "198.51.100.0/22");
	assert_string_equal(addr_owner(db, "192.0.2.9", pat, sizeof(pat)), "own/ads");
	assert_string_equal(addr_owner(db, "203.0.113.7", pat, sizeof(pat)), "lab/ads");
	assert_string_equal(pat, "203.0.113.0/24");
	assert_string_equal(addr_owner(db, "8.8.8.8", pat, sizeof(pat)), "-");
}

static void test_aliases_per_layer(void **state)
{
	const struct sig_db *db = *state;
	/* "Own Ads" is own's alias and lab's name: no clash across layers, own first */
	const struct sig_entry *e = sig_db_find_alias(db, "own ads");
	assert_non_null(e);
	assert_string_equal(e->catalogue->label, "own");
	assert_string_equal(sig_db_find_alias(db, "Wide Lab Entry")->catalogue->label, "lab");
}

static void test_one_layer_is_the_old_catalogue(void **state)
{
	(void)state;
	struct sig_db *a = NULL, *b = NULL;
	struct fa_err err = {{0}};
	assert_int_equal(sig_db_load_dir(OWN, &a, &err), FA_OK);
	assert_int_equal(sig_db_load_path(":" OWN ":", &b, &err), FA_OK);
	assert_int_equal(sig_db_catalogue_count(a), 1);
	assert_int_equal(sig_db_catalogue_count(b), 1);
	assert_string_equal(sig_match_host(a, "t.example-ads.net", NULL)->id, "ads");
	assert_string_equal(sig_match_host(b, "t.example-ads.net", NULL)->catalogue->label, "own");
	assert_null(sig_match_host(a, "www.example.com", NULL));
	sig_db_free(a);
	sig_db_free(b);
}

static void test_refusals(void **state)
{
	(void)state;
	struct sig_db *db = (struct sig_db *)1;
	struct fa_err err = {{0}};
	/* within a layer a pattern is still claimed once */
	assert_int_equal(sig_db_load_path(OWN ":" FIX "dup-domain", &db, &err), FA_EINPUT);
	assert_null(db);
	assert_non_null(strstr(err.msg, "dup-domain/"));
	assert_non_null(strstr(err.msg, "is already claimed by"));
	/* the same directory twice */
	assert_int_equal(sig_db_load_path(OWN ":" LAB ":" OWN, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "named twice"));
	/* a _catalogue.json with a member it does not know */
	assert_int_equal(sig_db_load_path(OWN ":" FIX "layers/badcat", &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "layers/badcat/_catalogue.json: field 'colour'"));
	/* too many layers */
	char many[2048] = "";
	const char *why;
	for (int i = 0; i <= SIG_MAX_LAYERS; i++)
		assert_true(sig_path_append(many, sizeof(many), i % 2 ? OWN : LAB, &why));
	assert_int_equal(sig_db_load_path(many, &db, &err), FA_EINPUT);
	assert_int_equal(sig_db_load_path("::", &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "no directory"));
}

static void test_path_append(void **state)
{
	(void)state;
	char list[32] = "";
	const char *why = NULL;
	assert_true(sig_path_append(list, sizeof(list), "signatures", &why));
	assert_true(sig_path_append(list, sizeof(list), "lab/exodus", &why));
	assert_string_equal(list, "signatures:lab/exodus");
	assert_false(sig_path_append(list, sizeof(list), "a:b", &why));
	assert_non_null(strstr(why, "':'"));
	assert_false(sig_path_append(list, sizeof(list), "a-long-directory-name", &why));
	assert_string_equal(list, "signatures:lab/exodus");
	assert_false(sig_path_append(list, sizeof(list), "", &why));
}

/* Two directories with the same base name get distinct labels. */
static void test_labels_unique(void **state)
{
	(void)state;
	struct sig_db *db = NULL;
	struct fa_err err = {{0}};
	assert_int_equal(sig_db_load_path(OWN ":" OWN "/", &db, &err), FA_OK);
	assert_string_equal(sig_db_catalogue(db, 0)->label, "own");
	assert_string_equal(sig_db_catalogue(db, 1)->label, "own-2");
	sig_db_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_catalogues, load_layers, free_db),
		cmocka_unit_test_setup_teardown(test_first_layer_with_a_match_wins, load_layers,
						free_db),
		cmocka_unit_test_setup_teardown(test_addresses_by_layer, load_layers, free_db),
		cmocka_unit_test_setup_teardown(test_aliases_per_layer, load_layers, free_db),
		cmocka_unit_test(test_one_layer_is_the_old_catalogue),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_path_append),
		cmocka_unit_test(test_labels_unique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
