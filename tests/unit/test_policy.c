/*
 * test_policy.c - the declaration loader, its vocabularies and lookups.
 *
 * Run from the top of the tree: fixtures are under tests/fixtures/policy/,
 * the shipped declarations under policies/. SDK ids are checked against a
 * small list here, not the signature catalogue.
 */
#include "flowaudit/policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FIX "tests/fixtures/policy/"

static bool known_ids(const char *id, void *ctx)
{
	int *calls = ctx;
	if (calls != NULL)
		++*calls;
	static const char *const ids[] = {"admob", "firebase-analytics", "umeng"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

static struct policy *load_ok(const char *path)
{
	struct policy *p = NULL;
	struct fa_err err = {""};
	int rc = policy_load(path, known_ids, NULL, &p, &err);
	if (rc != FA_OK)
		fprintf(stderr, "%s: %s\n", path, err.msg);
	assert_int_equal(rc, FA_OK);
	assert_non_null(p);
	return p;
}

static void test_good(void **state)
{
	(void)state;
	int calls = 0;
	struct policy *p = NULL;
	struct fa_err err = {""};
	assert_int_equal(policy_load(FIX "good.json", known_ids, &calls, &p, &err), FA_OK);
	assert_int_equal(calls, 3);
	assert_string_equal(p->path, FIX "good.json");
	assert_string_equal(p->app_name, "Fixture App");
	assert_string_equal(p->controller, "Example Ltd");
	assert_string_equal(p->policy_date, "2024-02-29");
	assert_string_equal(p->policy_url, "https://example.com/privacy");
	assert_string_equal(p->source, "text/fixture.txt");
	assert_string_equal(p->comment, "A fixture that uses every field.");
	assert_int_equal(p->n_fp_domains, 2);
	assert_string_equal(p->fp_domains[0], "example.com"); /* normalised */
	assert_string_equal(p->fp_domains[1], "api.example.net");
	assert_int_equal(p->n_fp_data, 2);
	assert_string_equal(p->fp_clause, "§1: 'our servers'");
	assert_int_equal(p->n_recipients, 3);
	assert_string_equal(p->recipients[1].sdk, "firebase-analytics");
	assert_int_equal(p->recipients[1].n_purposes, 2);
	assert_string_equal(p->recipients[1].purposes[1], "crash_reporting");
	assert_string_equal(p->recipients[1].comment, "read as Firebase Analytics and Crashlytics");
	assert_null(p->recipients[0].comment);
	assert_int_equal(p->recipients[2].n_data, 0);
	assert_int_equal(p->n_processors, 2);
	assert_string_equal(p->processors[0].role, "labeling_vendor");
	assert_int_equal(p->processors[1].n_purposes, 0);
	assert_int_equal(p->n_regions_declared, 3);
	assert_string_equal(p->regions_declared[0], "EEA");
	assert_int_equal(p->n_regions, 31); /* EEA (30) + CN; DE once */
	for (size_t i = 1; i < p->n_regions; i++)
		assert_true(strcmp(p->regions[i - 1], p->regions[i]) < 0);
	assert_int_equal(p->xb_rule, XB_WITH_CONSENT);
	assert_string_equal(p->xb_comment, "xb comment");
	assert_int_equal(p->n_consent_required, 2);
	assert_string_equal(p->consent_clause, "§6: 'you may refuse'");
	assert_true(p->enc_declared);
	assert_true(p->enc_promised);
	assert_string_equal(p->enc_clause, "§7: 'encrypted'");
	policy_free(p);
	policy_free(NULL);
}

static void test_minimal(void **state)
{
	(void)state;
	struct policy *p = load_ok(FIX "minimal.json");
	assert_int_equal(p->n_recipients, 0);
	assert_int_equal(p->n_fp_domains, 0);
	assert_false(p->enc_declared);
	assert_int_equal(p->xb_rule, XB_ALLOWED);
	/* no storage regions: no regional promise */
	assert_true(policy_region_allowed(p, "US"));
	assert_false(policy_region_allowed(p, NULL));
	assert_false(policy_is_first_party(p, "example.com", NULL));
	assert_false(policy_needs_consent(p, "advertising"));
	policy_free(p);
}

/* ---- every kind of mistake ---- */

struct bad_case {
	const char *file;
	const char *must[3]; /* substrings the message must hold */
};

static const struct bad_case bad_cases[] = {
	{"wrong-type", {"wrong-type.json:24:29: field 'encryption_in_transit.promised'",
			"expected a boolean, found a string"}},
	{"wrong-type-list", {"field 'consent_required_for'", "expected an array, found a string"}},
	{"wrong-type-recipient", {"field 'recipients[2]'", "expected an object"}},
	{"unknown-field", {"unknown-field.json:20:3: field 'storage_region'", "unknown field",
			   "storage_regions"}},
	{"unknown-field-nested", {"field 'recipients[1].clauses'", "unknown field"}},
	{"empty-field-name", {"empty-field-name.json:13:6:", "field 'recipients[1].'", "unknown field"}},
	{"unknown-sdk", {"unknown-sdk.json:14:6: field 'recipients[2].sdk': unknown SDK id "
			 "'admobb' (known ids: see flowaudit sigs list)"}},
	{"duplicate-sdk", {"field 'recipients[2].sdk'", "declared twice", "recipients[0]"}},
	{"bad-country-xx", {"bad-country-xx.json:20:30: field 'storage_regions[1]'",
			    "'XX' is not an assigned ISO 3166-1"}},
	{"bad-country-lower", {"field 'storage_regions[1]'", "upper case", "\"CN\""}},
	{"bad-country-uk", {"field 'storage_regions[2]'", "'UK'", "\"GB\""}},
	{"bad-rule", {"field 'cross_border.rule'", "unknown rule 'sometimes'", "with_consent"}},
	{"bad-purpose", {"field 'recipients[1].purposes[1]'", "unknown purpose 'crashes'"}},
	{"bad-category", {"field 'recipients[0].data[1]'", "unknown data category 'ip'"}},
	{"bad-date", {"field 'app.policy_date'", "'2023-02-29' is not a date"}},
	{"bad-domain", {"field 'first_party.domains[1]'", "not a domain name"}},
	{"dup-list-entry", {"field 'consent_required_for[1]'", "listed twice"}},
	{"missing-schema", {"missing-schema.json:1:1:", "'schema' is missing"}},
	{"wrong-schema", {"field 'schema'", "flowaudit-policy/2", "not supported"}},
	{"missing-name", {"missing-name.json:4:3: field 'app.name': missing"}},
	{"missing-clause", {"field 'cross_border.clause': missing"}},
	{"empty-clause", {"field 'encryption_in_transit.clause'", "must not be empty"}},
	{"regions-without-rule", {"field 'storage_regions'", "without cross_border"}},
	{"bad-json", {"bad-json.json:2:", "invalid JSON"}},
	{"duplicate-key", {"duplicate-key.json:21:", "field 'cross_border.rule'", "duplicate key"}},
	{"not-object", {"not-object.json:1:1:", "JSON object"}},
	{"too-deep", {"too-deep.json:3:", "nested deeper than 32"}},
	{"no-such-file", {"no-such-file.json: cannot open"}},
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		char path[256];
		snprintf(path, sizeof(path), FIX "%s.json", c->file);
		struct policy *p = (struct policy *)1;
		struct fa_err err = {""};
		int rc = policy_load(path, known_ids, NULL, &p, &err);
		if (rc != FA_EINPUT)
			fprintf(stderr, "%s: expected FA_EINPUT, got %d (%s)\n", c->file, rc, err.msg);
		assert_int_equal(rc, FA_EINPUT);
		assert_null(p);
		assert_non_null(strstr(err.msg, path)); /* names the file */
		assert_null(strchr(err.msg, '\n'));      /* one line */
		for (size_t k = 0; k < 3 && c->must[k] != NULL; k++) {
			if (strstr(err.msg, c->must[k]) == NULL)
				fprintf(stderr, "%s: '%s' lacks '%s'\n", c->file, err.msg, c->must[k]);
			assert_non_null(strstr(err.msg, c->must[k]));
		}
	}
}

static void test_without_catalogue(void **state)
{
	(void)state;
	/* with no callback every well-formed id is accepted */
	struct policy *p = NULL;
	struct fa_err err = {""};
	assert_int_equal(policy_load(FIX "unknown-sdk.json", NULL, NULL, &p, &err), FA_OK);
	assert_non_null(policy_find_recipient(p, "admobb"));
	policy_free(p);
}

static void test_too_large(void **state)
{
	(void)state;
	const char *path = "/tmp/flowaudit-test-policy-large.json";
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"schema\": \"flowaudit-policy/1\", \"comment\": \"", f);
	for (int i = 0; i < POLICY_MAX_FILE_BYTES; i += 64)
		fputs("0123456789012345678901234567890123456789012345678901234567890123", f);
	fputs("\", \"app\": {\"name\": \"x\"}}", f);
	fclose(f);
	struct policy *p = NULL;
	struct fa_err err = {""};
	assert_int_equal(policy_load(path, NULL, NULL, &p, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "the limit is 1048576"));
	remove(path);
}

/* ---- lookups ---- */

static void test_regions(void **state)
{
	(void)state;
	struct policy *p = load_ok(FIX "good.json");
	/* EEA: EU members and IS, LI, NO */
	static const char *const in[] = {"DE", "FR", "GR", "IE", "IS", "LI", "NO", "CN", "cn", "de"};
	for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++)
		assert_true(policy_region_allowed(p, in[i]));
	/* CN is not HK, MO or TW; CH and GB are not in the EEA */
	static const char *const out[] = {"HK", "MO", "TW", "CH", "GB", "US", "XX", "", "C", "CNN"};
	for (size_t i = 0; i < sizeof(out) / sizeof(*out); i++)
		assert_false(policy_region_allowed(p, out[i]));
	assert_false(policy_region_allowed(p, NULL));
	policy_free(p);
}

static void test_iso3166(void **state)
{
	(void)state;
	size_t n = 0;
	char cc[3] = "";
	for (char a = 'A'; a <= 'Z'; a++)
		for (char b = 'A'; b <= 'Z'; b++) {
			cc[0] = a, cc[1] = b;
			n += iso3166_valid(cc);
		}
	assert_int_equal(n, 249);
	assert_true(iso3166_valid("CN"));
	assert_true(iso3166_valid("HK"));
	assert_true(iso3166_valid("SS")); /* South Sudan, 2011 */
	assert_true(iso3166_valid("BQ"));
	assert_false(iso3166_valid("UK"));
	assert_false(iso3166_valid("EU"));
	assert_false(iso3166_valid("XK")); /* user-assigned, not ISO */
	assert_false(iso3166_valid("AN")); /* withdrawn */
	assert_false(iso3166_valid("cn"));
	assert_false(iso3166_valid("C"));
	assert_false(iso3166_valid("CNX"));
	assert_false(iso3166_valid(NULL));
}

static void test_first_party(void **state)
{
	(void)state;
	struct policy *p = load_ok(FIX "good.json");
	const char *m = NULL;
	assert_true(policy_is_first_party(p, "example.com", &m));
	assert_string_equal(m, "example.com");
	assert_true(policy_is_first_party(p, "API.Example.com.", &m));
	assert_string_equal(m, "example.com");
	assert_true(policy_is_first_party(p, "a.b.api.example.net", &m));
	assert_string_equal(m, "api.example.net");
	m = "untouched";
	assert_false(policy_is_first_party(p, "evil-example.com", &m));
	assert_null(m);
	assert_false(policy_is_first_party(p, "example.com.evil.org", NULL));
	assert_false(policy_is_first_party(p, "example.net", NULL));
	assert_false(policy_is_first_party(p, "com", NULL));
	assert_false(policy_is_first_party(p, "", NULL));
	assert_false(policy_is_first_party(p, NULL, NULL));
	policy_free(p);
}

static void test_recipients_and_consent(void **state)
{
	(void)state;
	struct policy *p = load_ok(FIX "good.json");
	const struct policy_recipient *r = policy_find_recipient(p, "admob");
	assert_non_null(r);
	assert_ptr_equal(r, &p->recipients[0]);
	assert_null(policy_find_recipient(p, "facebook"));
	assert_null(policy_find_recipient(p, NULL));
	assert_true(policy_needs_consent(p, "advertising"));
	assert_true(policy_needs_consent(p, "analytics"));
	assert_false(policy_needs_consent(p, "crash_reporting"));
	assert_string_equal(cross_border_rule_name(XB_NEVER), "never");
	assert_string_equal(cross_border_rule_name(XB_WITH_CONSENT), "with_consent");
	assert_string_equal(cross_border_rule_name(XB_ALLOWED), "allowed");

	/* admob: advertising_id and ip_address; firebase: device_id */
	assert_true(policy_recipient_receives(r, "advertising_id"));
	assert_false(policy_recipient_receives(r, "imei"));
	const struct policy_recipient *fb = policy_find_recipient(p, "firebase-analytics");
	static const char *const dev[] = {"imei", "imsi", "iccid", "android_id", "serial", "mac",
					  "device_id"};
	for (size_t i = 0; i < sizeof(dev) / sizeof(*dev); i++)
		assert_true(policy_recipient_receives(fb, dev[i]));
	assert_false(policy_recipient_receives(fb, "advertising_id")); /* stands alone */
	assert_false(policy_recipient_receives(fb, "email"));
	assert_false(policy_recipient_receives(fb, NULL));
	assert_false(policy_recipient_receives(NULL, "imei"));
	assert_true(policy_first_party_receives(p, "android_id"));
	assert_true(policy_first_party_receives(p, "ip_address"));
	assert_false(policy_first_party_receives(p, "precise_location"));
	policy_free(p);
}

static void test_vocabularies(void **state)
{
	(void)state;
	assert_string_equal(policy_identifier_category("imei"), "imei");
	assert_string_equal(policy_identifier_category("advertising_id"), "advertising_id");
	assert_string_equal(policy_identifier_category("latitude"), "precise_location");
	assert_string_equal(policy_identifier_category("longitude"), "precise_location");
	assert_string_equal(policy_identifier_category("email"), "email");
	assert_null(policy_identifier_category("shoe_size"));
	assert_null(policy_identifier_category(NULL));
	assert_true(policy_purpose_valid("advertising"));
	assert_true(policy_purpose_valid("other"));
	assert_false(policy_purpose_valid("cross_border"));
	assert_false(policy_purpose_valid("Advertising"));
	assert_true(policy_category_valid("payment"));
	assert_false(policy_category_valid("latitude"));
	size_t n;
	assert_non_null(policy_purposes(&n));
	assert_int_equal(n, 18);
	assert_non_null(policy_categories(&n));
	assert_int_equal(n, 22);
}

static void test_locate(void **state)
{
	(void)state;
	const char *t = "{\"a\": [1, {\"b\": \"x\\\"y\"}],\n \"c\": {\"d\": [[], \"é\", 3]}}";
	unsigned line = 0, col = 0;
	assert_true(policy_json_locate(t, strlen(t), "", &line, &col));
	assert_int_equal(line, 1), assert_int_equal(col, 1);
	assert_true(policy_json_locate(t, strlen(t), "a", &line, &col));
	assert_int_equal(col, 2);
	assert_true(policy_json_locate(t, strlen(t), "a[1].b", &line, &col));
	assert_int_equal(col, 12);
	assert_true(policy_json_locate(t, strlen(t), "c.d[2]", &line, &col));
	assert_int_equal(line, 2), assert_int_equal(col, 23); /* é is one column */
	assert_false(policy_json_locate(t, strlen(t), "c.e", &line, &col));
	assert_false(policy_json_locate(t, strlen(t), "a[2]", &line, &col));
}

/* ---- the shipped declarations ---- */

static bool shipped_ids(const char *id, void *ctx)
{
	(void)ctx;
	return strcmp(id, "admob") == 0;
}

static void test_shipped(void **state)
{
	(void)state;
	struct policy *p = NULL;
	struct fa_err err = {""};
	int rc = policy_load("policies/audio-extract-kit.json", shipped_ids, NULL, &p, &err);
	if (rc != FA_OK)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, FA_OK);
	assert_string_equal(p->controller, "Xigeme Technology Company Limited");
	assert_non_null(policy_find_recipient(p, "admob"));
	assert_true(policy_is_first_party(p, "api.xigeme.com", NULL));
	assert_true(policy_region_allowed(p, "CN"));
	assert_false(policy_region_allowed(p, "US"));
	assert_int_equal(p->xb_rule, XB_WITH_CONSENT);
	assert_true(policy_needs_consent(p, "advertising"));
	assert_true(p->enc_promised);
	policy_free(p);

	rc = policy_load("policies/speechocean.json", shipped_ids, NULL, &p, &err);
	if (rc != FA_OK)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, FA_OK);
	assert_int_equal(p->n_recipients, 0);
	assert_true(p->n_processors >= 1);
	assert_true(policy_region_allowed(p, "CN"));
	assert_false(policy_region_allowed(p, "HK"));
	assert_int_equal(p->xb_rule, XB_WITH_CONSENT);
	assert_true(policy_is_first_party(p, "www.speechocean.com", NULL));
	assert_true(p->enc_declared && p->enc_promised);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_without_catalogue),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_iso3166),
		cmocka_unit_test(test_first_party),
		cmocka_unit_test(test_recipients_and_consent),
		cmocka_unit_test(test_vocabularies),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_shipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
