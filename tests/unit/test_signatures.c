/*
 * test_signatures.c - the signature catalogue: strict loading (every bad
 * fixture names its file and field), label-wise host matching with the most
 * specific domain winning, and longest-prefix address matching.
 *
 * Run from the top of the tree: fixtures are under tests/fixtures/sigs/.
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
#include <unistd.h>

#define FIX "tests/fixtures/sigs/"

static int load_good(void **state)
{
	struct sig_db *db = NULL;
	struct fa_err err = {{0}};
	int rc = sig_db_load_dir(FIX "good", &db, &err);
	if (rc != FA_OK) {
		fprintf(stderr, "loading the good fixtures failed: %s\n", err.msg);
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

static const char *host_id(const struct sig_db *db, const char *host, const char **pat)
{
	const struct sig_entry *e = sig_match_host(db, host, pat);
	return e ? e->id : NULL;
}

static const char *addr_id(const struct sig_db *db, const char *text, char *pat, size_t len)
{
	fa_addr a;
	assert_true(fa_addr_parse(text, &a));
	const struct sig_entry *e = sig_match_addr(db, &a, pat, len);
	return e ? e->id : NULL;
}

/* ---- the good catalogue ---- */

static void test_good_entries(void **state)
{
	const struct sig_db *db = *state;
	assert_int_equal(sig_db_count(db), 4);
	/* load order is the byte order of the file names */
	assert_string_equal(sig_db_entry(db, 0)->id, "admob");
	assert_string_equal(sig_db_entry(db, 3)->id, "tracker-1");
	assert_null(sig_db_entry(db, 4));

	const struct sig_entry *e = sig_db_find(db, "admob");
	assert_non_null(e);
	assert_string_equal(e->name, "Google Mobile Ads (AdMob)");
	assert_string_equal(e->entity, "Google LLC");
	assert_string_equal(e->entity_country, "US");
	assert_int_equal(e->kind, SIG_SDK);
	assert_int_equal(e->n_purposes, 1);
	assert_string_equal(e->purposes[0], "advertising");
	assert_int_equal(e->n_domains, 2);
	assert_string_equal(e->domains[1], "admob.com");
	assert_int_equal(e->n_networks, 2);
	assert_string_equal(e->networks[1], "2001:db8:1::/48");
	assert_int_equal(e->n_references, 1);
	assert_null(e->notes);
	assert_non_null(strstr(e->file, "admob.json"));

	e = sig_db_find(db, "doubleclick");
	assert_non_null(e);
	assert_int_equal(e->kind, SIG_SDK); /* kind omitted */
	assert_non_null(e->notes);
	assert_int_equal(e->n_purposes, 2);

	e = sig_db_find(db, "examplecdn");
	assert_non_null(e);
	assert_int_equal(e->kind, SIG_INFRASTRUCTURE);
	assert_string_equal(sig_kind_name(e->kind), "infrastructure");
	assert_string_equal(sig_kind_name(SIG_SDK), "sdk");

	e = sig_db_find(db, "tracker-1");
	assert_non_null(e);
	assert_int_equal(e->n_networks, 0);
	assert_null(sig_db_find(db, "nope"));
	assert_null(sig_db_find(db, "ADMOB"));
}

static void test_host_suffix(void **state)
{
	const struct sig_db *db = *state;
	const char *pat = "stale";

	assert_string_equal(host_id(db, "admob.com", &pat), "admob");
	assert_string_equal(pat, "admob.com");
	assert_string_equal(host_id(db, "ADMOB.COM.", &pat), "admob");
	assert_string_equal(host_id(db, "AdMob.Com", NULL), "admob");
	assert_string_equal(host_id(db, "sub.sub.admob.com", &pat), "admob");
	assert_string_equal(pat, "admob.com");

	/* label-wise, never substring */
	pat = "stale";
	assert_null(host_id(db, "evil-admob.com", &pat));
	assert_null(pat);
	assert_null(host_id(db, "evil-admob.com.", NULL));
	assert_null(host_id(db, "admob.com.evil.net", NULL));
	assert_null(host_id(db, "dmob.com", NULL));
	assert_null(host_id(db, "com", NULL));
	assert_null(host_id(db, "com.", NULL));
	assert_null(host_id(db, "admob", NULL));
	assert_null(host_id(db, "", NULL));
	assert_null(host_id(db, ".", NULL));
	assert_null(host_id(db, "admob.com..", NULL));
	assert_null(host_id(db, "admob.co", NULL));
	assert_null(host_id(db, "admob.comx", NULL));

	assert_string_equal(host_id(db, "api.t1_data.example", NULL), "tracker-1");
	assert_string_equal(host_id(db, "x.T1.example", NULL), "tracker-1");
	assert_null(host_id(db, "t1_data.example", NULL));
}

static void test_host_precedence(void **state)
{
	const struct sig_db *db = *state;
	const char *pat;
	assert_string_equal(host_id(db, "googleads.g.doubleclick.net", &pat), "admob");
	assert_string_equal(pat, "googleads.g.doubleclick.net");
	assert_string_equal(host_id(db, "a.b.googleads.g.doubleclick.net", &pat), "admob");
	assert_string_equal(pat, "googleads.g.doubleclick.net");
	assert_string_equal(host_id(db, "x.doubleclick.net", &pat), "doubleclick");
	assert_string_equal(pat, "doubleclick.net");
	assert_string_equal(host_id(db, "g.doubleclick.net", &pat), "doubleclick");
	assert_string_equal(host_id(db, "doubleclick.net", &pat), "doubleclick");
	assert_string_equal(host_id(db, "xgoogleads.g.doubleclick.net", &pat), "doubleclick");
	assert_string_equal(pat, "doubleclick.net");
}

static void test_host_length(void **state)
{
	const struct sig_db *db = *state;
	char host[400];
	/* 255 characters ending in .admob.com still match; 256 never do */
	size_t tail = strlen(".admob.com");
	memset(host, 'a', sizeof(host));
	for (size_t i = 50; i < 255 - tail; i += 50)
		host[i] = '.';
	memcpy(host + 255 - tail, ".admob.com", tail + 1);
	assert_int_equal(strlen(host), 255);
	assert_string_equal(host_id(db, host, NULL), "admob");
	/* a trailing dot beyond 255 characters is still ignored */
	host[255] = '.';
	host[256] = '\0';
	assert_string_equal(host_id(db, host, NULL), "admob");
	memmove(host + 1, host, 257);
	host[0] = 'b';
	host[256] = '\0';
	assert_int_equal(strlen(host), 256);
	assert_null(host_id(db, host, NULL));

	assert_null(sig_match_host(NULL, "admob.com", NULL));
	assert_null(sig_match_host(db, NULL, NULL));
}

static void test_addr_prefix(void **state)
{
	const struct sig_db *db = *state;
	char pat[64];

	/* a /24 inside a /16: the /24 wins inside it, the /16 elsewhere */
	assert_string_equal(addr_id(db, "203.0.113.7", pat, sizeof(pat)), "admob");
	assert_string_equal(pat, "203.0.113.0/24");
	assert_string_equal(addr_id(db, "203.0.113.255", pat, sizeof(pat)), "admob");
	assert_string_equal(addr_id(db, "203.0.112.255", pat, sizeof(pat)), "examplecdn");
	assert_string_equal(pat, "203.0.0.0/16");
	assert_string_equal(addr_id(db, "203.0.0.0", pat, sizeof(pat)), "examplecdn");
	assert_string_equal(addr_id(db, "203.0.255.255", pat, sizeof(pat)), "examplecdn");
	assert_null(addr_id(db, "203.1.0.0", pat, sizeof(pat)));
	assert_string_equal(pat, "");
	assert_null(addr_id(db, "202.255.255.255", pat, sizeof(pat)));

	/* a /25 */
	assert_string_equal(addr_id(db, "198.51.100.127", pat, sizeof(pat)), "doubleclick");
	assert_string_equal(pat, "198.51.100.0/25");
	assert_null(addr_id(db, "198.51.100.128", pat, sizeof(pat)));

	/* IPv6: a /48 inside a /32 */
	assert_string_equal(addr_id(db, "2001:db8:1::5", pat, sizeof(pat)), "admob");
	assert_string_equal(pat, "2001:db8:1::/48");
	assert_string_equal(addr_id(db, "2001:db8:1:ffff:ffff:ffff:ffff:ffff", NULL, 0), "admob");
	assert_string_equal(addr_id(db, "2001:db8:2::1", pat, sizeof(pat)), "examplecdn");
	assert_string_equal(pat, "2001:db8::/32");
	assert_string_equal(addr_id(db, "2001:db8:ffff::1", pat, sizeof(pat)), "examplecdn");
	assert_null(addr_id(db, "2001:db9::1", pat, sizeof(pat)));
	/* families never mix: ::cb00:7107 has the bytes of 203.0.113.7 at the end */
	assert_null(addr_id(db, "::203.0.113.7", pat, sizeof(pat)));

	/* a short pattern buffer is truncated, not overrun */
	char small[6];
	assert_string_equal(addr_id(db, "203.0.113.7", small, sizeof(small)), "admob");
	assert_string_equal(small, "203.0");

	fa_addr none;
	memset(&none, 0, sizeof(none));
	assert_null(sig_match_addr(db, &none, pat, sizeof(pat)));
	assert_null(sig_match_addr(NULL, &none, NULL, 0));
}

/* ---- the bad fixtures ---- */

static void expect_bad_dir(const char *dir, const char *const *needles)
{
	struct sig_db *db = (struct sig_db *)0x1;
	struct fa_err err = {{0}};
	int rc = sig_db_load_dir(dir, &db, &err);
	assert_int_equal(rc, FA_EINPUT);
	assert_null(db);
	for (size_t i = 0; needles[i] != NULL; i++) {
		if (strstr(err.msg, needles[i]) == NULL)
			fail_msg("message \"%s\" lacks \"%s\"", err.msg, needles[i]);
	}
}

static void test_bad_fixtures(void **state)
{
	(void)state;
	expect_bad_dir(FIX "dup-domain", (const char *const[]){"beta.json", "alpha.json",
		       "field 'domains[2]'", "shared.example", NULL});
	expect_bad_dir(FIX "bad-purpose", (const char *const[]){"spyware.json",
		       "field 'purposes[1]'", "surveillance", NULL});
	expect_bad_dir(FIX "bad-cidr", (const char *const[]){"hostbits.json",
		       "field 'networks[1]'", "10.1.0.0/16", NULL});
	expect_bad_dir(FIX "unknown-field", (const char *const[]){"typo.json",
		       "field 'domain'", "unknown field", NULL});
	expect_bad_dir(FIX "bad-json", (const char *const[]){"broken.json:3:", "invalid JSON",
		       NULL});
	expect_bad_dir(FIX "id-mismatch", (const char *const[]){"wrongname.json", "field 'id'",
		       "rightname", NULL});
	expect_bad_dir(FIX "no-such-dir", (const char *const[]){"no-such-dir", NULL});
}

/* ---- validation, one file at a time ---- */

struct tmpdir {
	char path[64];
	char files[8][128];
	size_t n;
};

static void tmp_open(struct tmpdir *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "/tmp/test_signatures.XXXXXX");
	assert_non_null(mkdtemp(t->path));
}

static void tmp_write(struct tmpdir *t, const char *name, const char *body)
{
	assert_true(t->n < 8);
	char dir[sizeof(t->path)];
	memcpy(dir, t->path, sizeof(dir));
	snprintf(t->files[t->n], sizeof(t->files[0]), "%s/%s", dir, name);
	FILE *f = fopen(t->files[t->n], "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	t->n++;
}

static void tmp_close(struct tmpdir *t)
{
	for (size_t i = 0; i < t->n; i++)
		unlink(t->files[i]);
	rmdir(t->path);
}

#define HEAD "{\"id\": \"x\", \"name\": \"X\", \"entity\": \"X Inc\", \"entity_country\": \"US\", " \
	     "\"references\": [\"https://x.example/\"], "

/* Loads one file x.json holding body; expects FA_OK or FA_EINPUT with needle. */
static void one(const char *body, int want, const char *needle)
{
	struct tmpdir t;
	tmp_open(&t);
	tmp_write(&t, "x.json", body);
	struct sig_db *db = NULL;
	struct fa_err err = {{0}};
	int rc = sig_db_load_dir(t.path, &db, &err);
	tmp_close(&t);
	if (rc != want)
		fail_msg("%s: want %d, got %d (%s)", body, want, rc, err.msg);
	if (want == FA_OK) {
		assert_non_null(db);
		sig_db_free(db);
		return;
	}
	assert_null(db);
	if (strstr(err.msg, "x.json") == NULL || strstr(err.msg, needle) == NULL)
		fail_msg("%s: message \"%s\" lacks x.json or \"%s\"", body, err.msg, needle);
}

static void test_domain_syntax(void **state)
{
	(void)state;
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example\", \"x_y.b-c.example\"]}",
	    FA_OK, NULL);
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example\", \"Admob.com\"]}", FA_EINPUT,
	    "field 'domains[1]'");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"*.admob.com\"]}", FA_EINPUT, "wildcard");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"admob.com.\"]}", FA_EINPUT, "trailing");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"com\"]}", FA_EINPUT, "domains[0]");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"-a.example\"]}", FA_EINPUT, "'-'");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a-.example\"]}", FA_EINPUT, "'-'");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a..example\"]}", FA_EINPUT, "empty label");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\".example.com\"]}", FA_EINPUT,
	    "empty label");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"192.0.2.1\"]}", FA_EINPUT, "networks");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"https://a.example/x\"]}", FA_EINPUT,
	    "domains[0]");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example:443\"]}", FA_EINPUT,
	    "domains[0]");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\""
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\"]}",
	    FA_EINPUT, "63");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"\"]}", FA_EINPUT, "domains[0]");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example\", \"a.example\"]}", FA_EINPUT,
	    "listed twice");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example\", 7]}", FA_EINPUT,
	    "field 'domains[1]': must be a string");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": \"a.example\"}", FA_EINPUT,
	    "field 'domains': must be an array");
}

static void test_cidr_syntax(void **state)
{
	(void)state;
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"192.0.2.0/24\", \"192.0.2.1/32\", "
		 "\"2001:DB8::/32\", \"::1/128\", \"128.0.0.0/1\"]}",
	    FA_OK, NULL);
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"192.0.2.0/33\"]}", FA_EINPUT,
	    "networks[0]");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"192.0.2.0/0\"]}", FA_EINPUT,
	    "1 to 32");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"2001:db8::/129\"]}", FA_EINPUT,
	    "1 to 128");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"2001:db8::1/64\"]}", FA_EINPUT,
	    "2001:db8::/64");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"192.0.2.1\"]}", FA_EINPUT, "/32");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"192.0.2/24\"]}", FA_EINPUT,
	    "networks[0]");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"192.0.2.0/24x\"]}", FA_EINPUT,
	    "prefix length");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"192.0.2.0/\"]}", FA_EINPUT,
	    "prefix length");
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"/24\"]}", FA_EINPUT, "networks[0]");
	/* the same network written two ways is one pattern */
	one(HEAD "\"purposes\": [\"other\"], \"networks\": [\"2001:db8::/32\", "
		 "\"2001:0db8:0::/32\"]}",
	    FA_EINPUT, "field 'networks[1]'");
}

static void test_fields(void **state)
{
	(void)state;
	one("[1, 2]", FA_EINPUT, "one JSON object");
	one("", FA_EINPUT, "invalid JSON");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example\"], \"name\": \"Y\"}",
	    FA_EINPUT, "duplicate");
	one("{\"id\": \"y\", \"name\": \"X\", \"entity\": \"X Inc\", \"entity_country\": \"US\", "
	    "\"references\": [\"https://x.example/\"], \"purposes\": [\"other\"], "
	    "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'id'");
	one(HEAD "\"purposes\": \"other\", \"domains\": [\"a.example\"]}", FA_EINPUT,
	    "field 'purposes'");
	one(HEAD "\"purposes\": [], \"domains\": [\"a.example\"]}", FA_EINPUT, "field 'purposes'");
	one(HEAD "\"purposes\": [\"other\", \"other\"], \"domains\": [\"a.example\"]}", FA_EINPUT,
	    "field 'purposes[1]'");
	one(HEAD "\"kind\": \"infrastructure\", \"purposes\": [\"advertising\"], "
		 "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'purposes[0]'");
	one(HEAD "\"kind\": \"infrastructure\", \"purposes\": [\"cdn\", \"cloud\"], "
		 "\"domains\": [\"a.example\"]}",
	    FA_OK, NULL);
	one(HEAD "\"kind\": \"vendor\", \"purposes\": [\"other\"], \"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'kind'");
	one(HEAD "\"purposes\": [\"other\"]}", FA_EINPUT, "at least one domain or network");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [], \"networks\": []}", FA_EINPUT,
	    "at least one domain or network");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example\"], \"notes\": 3}", FA_EINPUT,
	    "field 'notes'");
	one(HEAD "\"purposes\": [\"other\"], \"domains\": [\"a.example\"], \"name\": \"\"}",
	    FA_EINPUT, "duplicate");
	one("{\"id\": \"x\", \"name\": \"\", \"entity\": \"X Inc\", \"entity_country\": \"US\", "
	    "\"references\": [\"https://x.example/\"], \"purposes\": [\"other\"], "
	    "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'name'");
	one("{\"id\": \"x\", \"name\": \"X\", \"entity_country\": \"US\", "
	    "\"references\": [\"https://x.example/\"], \"purposes\": [\"other\"], "
	    "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'entity': missing");
	one("{\"id\": \"x\", \"name\": \"X\", \"entity\": \"X Inc\", \"entity_country\": \"us\", "
	    "\"references\": [\"https://x.example/\"], \"purposes\": [\"other\"], "
	    "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'entity_country'");
	one("{\"id\": \"x\", \"name\": \"X\", \"entity\": \"X Inc\", \"entity_country\": \"USA\", "
	    "\"references\": [\"https://x.example/\"], \"purposes\": [\"other\"], "
	    "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'entity_country'");
	one("{\"id\": \"x\", \"name\": \"X\", \"entity\": \"X Inc\", \"entity_country\": \"US\", "
	    "\"purposes\": [\"other\"], \"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'references': missing");
	one("{\"id\": \"x\", \"name\": \"X\", \"entity\": \"X Inc\", \"entity_country\": \"US\", "
	    "\"references\": [\"ftp://x.example/\"], \"purposes\": [\"other\"], "
	    "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'references[0]'");
	one("{\"id\": \"x\", \"name\": \"X\\u0007\", \"entity\": \"X Inc\", \"entity_country\": "
	    "\"US\", \"references\": [\"https://x.example/\"], \"purposes\": [\"other\"], "
	    "\"domains\": [\"a.example\"]}",
	    FA_EINPUT, "field 'name'");
}

static void test_aliases(void **state)
{
	(void)state;
	char k[64];
	assert_int_equal(sig_alias_key("GoogleMobileAds SDK", k, sizeof(k)), 18);
	assert_string_equal(k, "googlemobileadssdk");
	sig_alias_key("Google Mobile-Ads_SDK", k, sizeof(k));
	assert_string_equal(k, "googlemobileadssdk");
	/* full-width space and middle dots go; CJK bytes stay as they are */
	sig_alias_key("友盟\xe3\x80\x80" "U\xc2\xb7" "App", k, sizeof(k));
	assert_string_equal(k, "友盟uapp");
	assert_int_equal(sig_alias_key(" -_. ", k, sizeof(k)), 0);
	assert_int_equal(sig_alias_key("abcdef", k, 4), 3);
	assert_string_equal(k, "abc");

	one(HEAD "\"purposes\": [\"push\"], \"domains\": [\"a.example\"], "
	    "\"aliases\": [\"JPush\", \"极光推送\"]}", FA_OK, NULL);
	one(HEAD "\"purposes\": [\"push\"], \"domains\": [\"a.example\"], "
	    "\"aliases\": [\"JPush\", \"j-push\"]}", FA_EINPUT, "field 'aliases[1]'");
	one(HEAD "\"purposes\": [\"push\"], \"domains\": [\"a.example\"], "
	    "\"aliases\": [\" - \"]}", FA_EINPUT, "field 'aliases[0]'");
	one(HEAD "\"purposes\": [\"push\"], \"domains\": [\"a.example\"], "
	    "\"aliases\": \"JPush\"}", FA_EINPUT, "field 'aliases'");

	/* an alias naming two entries is refused, naming both files */
	struct tmpdir t;
	struct fa_err err = {{0}};
	struct sig_db *db = NULL;
	tmp_open(&t);
	tmp_write(&t, "one.json", "{\"id\": \"one\", \"name\": \"One Push\", \"entity\": \"E\", "
		  "\"entity_country\": \"CN\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"push\"], \"domains\": [\"one.example\"], "
		  "\"aliases\": [\"极光推送\", \"JPush\"]}");
	tmp_write(&t, "two.json", "{\"id\": \"two\", \"name\": \"Two\", \"entity\": \"E\", "
		  "\"entity_country\": \"CN\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"push\"], \"domains\": [\"two.example\"], "
		  "\"aliases\": [\"J Push\"]}");
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "field 'aliases["));
	assert_non_null(strstr(err.msg, "one.json"));
	assert_non_null(strstr(err.msg, "two.json"));
	tmp_close(&t);

	/* an alias equal to another entry's name is refused too */
	tmp_open(&t);
	tmp_write(&t, "one.json", "{\"id\": \"one\", \"name\": \"One Push\", \"entity\": \"E\", "
		  "\"entity_country\": \"CN\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"push\"], \"domains\": [\"one.example\"]}");
	tmp_write(&t, "two.json", "{\"id\": \"two\", \"name\": \"Two\", \"entity\": \"E\", "
		  "\"entity_country\": \"CN\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"push\"], \"domains\": [\"two.example\"], "
		  "\"aliases\": [\"one-push\"]}");
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "two.json: field 'aliases[0]'"));
	assert_non_null(strstr(err.msg, "the name of one"));
	tmp_close(&t);

	/* lookups by alias, name and id */
	tmp_open(&t);
	tmp_write(&t, "one.json", "{\"id\": \"one\", \"name\": \"One Push\", \"entity\": \"E\", "
		  "\"entity_country\": \"CN\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"push\"], \"domains\": [\"one.example\"], "
		  "\"aliases\": [\"极光推送\", \"One Push\"]}");
	tmp_write(&t, "two.json", "{\"id\": \"two\", \"name\": \"Two\", \"entity\": \"E\", "
		  "\"entity_country\": \"CN\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"push\"], \"domains\": [\"two.example\"]}");
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_OK);
	tmp_close(&t);
	assert_string_equal(sig_db_find_alias(db, "极光推送")->id, "one");
	assert_string_equal(sig_db_find_alias(db, "one push")->id, "one");
	assert_string_equal(sig_db_find_alias(db, "TWO")->id, "two");
	assert_int_equal(sig_db_find(db, "one")->n_aliases, 2);
	assert_int_equal(sig_db_find(db, "two")->n_aliases, 0);
	assert_null(sig_db_find_alias(db, "three"));
	assert_null(sig_db_find_alias(db, "--"));
	sig_db_free(db);
}

static void test_ids_and_files(void **state)
{
	(void)state;
	struct tmpdir t;
	struct fa_err err = {{0}};
	struct sig_db *db = NULL;

	/* ids with capitals or a leading hyphen are refused even when the file matches */
	tmp_open(&t);
	tmp_write(&t, "Bad.json", "{\"id\": \"Bad\"}");
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "field 'id'"));
	tmp_close(&t);

	/* a network claimed by two files names both */
	tmp_open(&t);
	tmp_write(&t, "one.json", "{\"id\": \"one\", \"name\": \"One\", \"entity\": \"E\", "
		  "\"entity_country\": \"US\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"other\"], \"networks\": [\"192.0.2.0/24\"]}");
	tmp_write(&t, "two.json", "{\"id\": \"two\", \"name\": \"Two\", \"entity\": \"E\", "
		  "\"entity_country\": \"US\", \"references\": [\"https://e.example/\"], "
		  "\"purposes\": [\"other\"], \"networks\": [\"198.51.100.0/24\", \"192.0.2.0/24\"]}");
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "two.json: field 'networks[1]'"));
	assert_non_null(strstr(err.msg, "one.json"));

	/* the same id from two directories, loaded file by file */
	struct sig_db *d2 = sig_db_new();
	assert_non_null(d2);
	assert_int_equal(sig_db_load_file(d2, t.files[0], &err), FA_OK);
	assert_int_equal(sig_db_load_file(d2, FIX "good/admob.json", &err), FA_OK);
	assert_int_equal(sig_db_load_file(d2, t.files[0], &err), FA_OK);
	assert_int_equal(sig_db_finish(d2, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "field 'id'"));
	assert_non_null(strstr(err.msg, "one.json"));
	/* lookups refuse an unfinished catalogue */
	assert_null(sig_match_host(d2, "admob.com", NULL));
	sig_db_free(d2);
	tmp_close(&t);

	/* an empty directory is an error, not an empty catalogue */
	tmp_open(&t);
	tmp_write(&t, "README.md", "not a signature\n");
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "no *.json"));
	tmp_close(&t);

	/* files past the size limit are refused before parsing */
	tmp_open(&t);
	char *big = malloc(SIG_MAX_FILE_BYTES + 2);
	assert_non_null(big);
	memset(big, ' ', SIG_MAX_FILE_BYTES + 1);
	big[SIG_MAX_FILE_BYTES + 1] = '\0';
	tmp_write(&t, "big.json", big);
	free(big);
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "big.json"));
	assert_non_null(strstr(err.msg, "at most"));
	tmp_close(&t);

	/* too many patterns in one file */
	tmp_open(&t);
	size_t cap = 32 * (SIG_MAX_PATTERNS + 2) + 512;
	char *body = malloc(cap);
	assert_non_null(body);
	size_t n = (size_t)snprintf(body, cap, HEAD "\"purposes\": [\"other\"], \"domains\": [");
	for (int i = 0; i <= SIG_MAX_PATTERNS; i++)
		n += (size_t)snprintf(body + n, cap - n, "%s\"d%d.example\"", i ? "," : "", i);
	snprintf(body + n, cap - n, "]}");
	tmp_write(&t, "x.json", body);
	free(body);
	assert_int_equal(sig_db_load_dir(t.path, &db, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "field 'domains'"));
	tmp_close(&t);

	sig_db_free(NULL);
}

static void test_vocabulary(void **state)
{
	(void)state;
	size_t n = 0;
	const char *const *p = sig_purposes(&n);
	assert_int_equal(n, 18);
	for (size_t i = 0; i < n; i++)
		assert_true(sig_purpose_valid(p[i]));
	assert_true(sig_purpose_valid("crash_reporting"));
	assert_true(sig_purpose_valid("performance_monitoring"));
	assert_false(sig_purpose_valid("Advertising"));
	assert_false(sig_purpose_valid("ads"));
	assert_false(sig_purpose_valid(""));
	assert_false(sig_purpose_valid(NULL));
}

static void test_default_dir(void **state)
{
	(void)state;
	const char *saved = getenv("FLOWAUDIT_SIGNATURES");
	char *copy = saved ? strdup(saved) : NULL;
	setenv("FLOWAUDIT_SIGNATURES", "/somewhere/sigs", 1);
	assert_string_equal(sig_default_dir(), "/somewhere/sigs");
	unsetenv("FLOWAUDIT_SIGNATURES");
	const char *d = sig_default_dir();
	assert_non_null(d);
	if (access("signatures", F_OK) == 0)
		assert_string_equal(d, "signatures");
	else
		assert_non_null(strstr(d, "share/flowaudit/signatures"));
	if (copy != NULL) {
		setenv("FLOWAUDIT_SIGNATURES", copy, 1);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_entries, load_good, free_db),
		cmocka_unit_test_setup_teardown(test_host_suffix, load_good, free_db),
		cmocka_unit_test_setup_teardown(test_host_precedence, load_good, free_db),
		cmocka_unit_test_setup_teardown(test_host_length, load_good, free_db),
		cmocka_unit_test_setup_teardown(test_addr_prefix, load_good, free_db),
		cmocka_unit_test(test_bad_fixtures),
		cmocka_unit_test(test_domain_syntax),
		cmocka_unit_test(test_cidr_syntax),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_ids_and_files),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_vocabulary),
		cmocka_unit_test(test_default_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
