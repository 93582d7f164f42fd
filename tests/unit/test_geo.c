/*
 * test_geo.c - country and ASN lookups against small MaxMind DB files that
 * the test builds itself with scripts/mkmmdb.pl from tests/fixtures/geo/.
 * Without Perl's MaxMind::DB::Writer every test skips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/geo.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	bool ready;
	char top[PATH_MAX];  /* source tree holding scripts/mkmmdb.pl */
	char dir[64];        /* temporary directory for built databases */
	char country[PATH_MAX];
	char asn[PATH_MAX];
	char geolite2_v4[PATH_MAX];
} fx;

static bool is_top(const char *dir)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/scripts/mkmmdb.pl", dir);
	return access(p, R_OK) == 0;
}

/* The working directory when run from the source tree (tests/run.sh does),
 * else up to three levels above the test binary (build-san/tests/test_geo). */
static bool find_top(void)
{
	if (getcwd(fx.top, sizeof(fx.top)) != NULL && is_top(fx.top))
		return true;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		if (slash == NULL)
			return false;
		*slash = '\0';
		if (is_top(exe)) {
			snprintf(fx.top, sizeof(fx.top), "%s", exe);
			return true;
		}
	}
	return false;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* mkmmdb.pl OPTS_KIND OUT SPECS, writing OUT into the temporary directory. */
static int build(char *out, size_t size, const char *name, const char *opts_kind,
		 const char *specs)
{
	snprintf(out, size, "%s/%s", fx.dir, name);
	return run("perl '%s/scripts/mkmmdb.pl' %s '%s' %s", fx.top, opts_kind, out, specs);
}

static int group_setup(void **state)
{
	(void)state;
	if (!find_top() || run("perl -MMaxMind::DB::Writer::Tree -e1 2>/dev/null") != 0)
		return 0;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/fa-geo-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	char args[3 * PATH_MAX];
	snprintf(args, sizeof(args), "'%s/tests/fixtures/geo/test-country.txt'", fx.top);
	if (build(fx.country, sizeof(fx.country), "country.mmdb", "country", args) != 0)
		return -1;
	/* The spec is written to a file from C so that a tab and non-ASCII
	 * bytes reach the database as they are. */
	char spec[PATH_MAX];
	snprintf(spec, sizeof(spec), "%s/extra-asn.txt", fx.dir);
	FILE *f = fopen(spec, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "9.10.0.0/16 64500 Tab\there\n");
	fprintf(f, "9.11.0.0/16 64501 Telef\xc3\xb4nica Brasil S.A.\n");
	fprintf(f, "9.12.0.0/16 64502 ");
	for (int i = 0; i < 100; i++)
		fputs("\xc3\xa9", f); /* 200 bytes of e-acute */
	fputc('\n', f);
	fclose(f);
	snprintf(args, sizeof(args), "'%s/tests/fixtures/geo/test-asn.txt' '%s'", fx.top, spec);
	if (build(fx.asn, sizeof(fx.asn), "asn.mmdb", "asn", args) != 0)
		return -1;
	if (build(fx.geolite2_v4, sizeof(fx.geolite2_v4), "geolite2-v4.mmdb",
		  "--format geolite2 --ip-version 4 --type GeoLite2-Country "
		  "--line '8.8.8.0/24 US' --line '1.2.4.0/24 CN' country", "") != 0)
		return -1;
	fx.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (fx.dir[0] != '\0')
		run("rm -rf '%s'", fx.dir);
	return 0;
}

static struct geo *open_both(void)
{
	if (!fx.ready)
		skip();
	struct geo *g = NULL;
	struct fa_err err = {{0}};
	int rc = geo_open(fx.country, fx.asn, &g, &err);
	if (rc != FA_OK)
		fail_msg("geo_open: %s", err.msg);
	assert_non_null(g);
	return g;
}

static struct geo_result look(const struct geo *g, const char *ip)
{
	fa_addr a;
	if (!fa_addr_parse(ip, &a))
		fail_msg("bad test address %s", ip);
	struct geo_result r;
	memset(&r, 0xa5, sizeof(r)); /* geo_lookup must set every field */
	geo_lookup(g, &a, &r);
	return r;
}

static void expect_country(const struct geo *g, const char *ip, const char *cc)
{
	struct geo_result r = look(g, ip);
	assert_int_equal(r.scope, FA_SCOPE_PUBLIC);
	assert_true(r.looked_up);
	if (cc == NULL) {
		if (r.found_country)
			fail_msg("%s: expected no country, got %s", ip, r.country);
		assert_string_equal(r.country, "");
	} else {
		if (!r.found_country)
			fail_msg("%s: expected %s, found nothing", ip, cc);
		assert_string_equal(r.country, cc);
	}
}

static void test_v4_country(void **state)
{
	(void)state;
	struct geo *g = open_both();
	expect_country(g, "8.8.8.8", "US");
	expect_country(g, "8.8.8.0", "US");
	expect_country(g, "8.8.9.0", NULL);
	expect_country(g, "1.2.3.4", "CN");
	expect_country(g, "104.16.0.1", "US");
	expect_country(g, "104.23.255.255", "US");
	expect_country(g, "104.24.0.0", NULL);
	expect_country(g, "119.28.200.1", "HK");
	expect_country(g, "202.89.7.7", "TW");
	/* Neighbours of the private blocks are public and looked up. */
	expect_country(g, "172.15.255.255", NULL);
	expect_country(g, "172.32.0.0", NULL);
	geo_free(g);
}

static void test_v6_country(void **state)
{
	(void)state;
	struct geo *g = open_both();
	expect_country(g, "2001:4860:4860::8888", "US");
	expect_country(g, "2001:4861::1", NULL);
	expect_country(g, "240e::1", "CN");
	expect_country(g, "240e:fff:ffff::1", "CN");
	expect_country(g, "240e:1000::1", NULL);
	/* IPv4-mapped addresses are looked up as the IPv4 address. */
	expect_country(g, "::ffff:8.8.8.8", "US");
	expect_country(g, "::ffff:119.28.0.1", "HK");
	geo_free(g);
}

static void test_unknown_public(void **state)
{
	(void)state;
	struct geo *g = open_both();
	struct geo_result r = look(g, "9.9.9.9");
	assert_int_equal(r.scope, FA_SCOPE_PUBLIC);
	assert_true(r.looked_up);
	assert_false(r.found_country);
	assert_false(r.found_asn);
	assert_string_equal(r.country, "");
	assert_int_equal(r.asn, 0);
	assert_string_equal(r.as_org, "");
	geo_free(g);
}

static void test_non_public_never_looked_up(void **state)
{
	(void)state;
	struct geo *g = open_both();
	/* The fixture does place these in AU: the guard is what keeps them out. */
	if (run("command -v mmdblookup >/dev/null 2>&1") == 0) {
		assert_int_equal(run("mmdblookup --file '%s' --ip 172.16.0.1 country_code | grep -q AU",
				     fx.country), 0);
		assert_int_equal(run("mmdblookup --file '%s' --ip 192.168.1.1 country_code | grep -q AU",
				     fx.country), 0);
	}
	static const struct {
		const char *ip;
		enum fa_addr_scope scope;
	} cases[] = {
		{"172.16.0.1", FA_SCOPE_PRIVATE},
		{"172.31.255.255", FA_SCOPE_PRIVATE},
		{"192.168.1.1", FA_SCOPE_PRIVATE},
		{"10.1.2.3", FA_SCOPE_PRIVATE},
		{"127.0.0.1", FA_SCOPE_LOOPBACK},
		{"169.254.10.1", FA_SCOPE_LINK_LOCAL},
		{"100.64.0.1", FA_SCOPE_CGNAT},
		{"100.127.255.254", FA_SCOPE_CGNAT},
		{"224.0.0.251", FA_SCOPE_MULTICAST},
		{"239.255.255.250", FA_SCOPE_MULTICAST},
		{"255.255.255.255", FA_SCOPE_MULTICAST},
		{"0.0.0.0", FA_SCOPE_RESERVED},
		{"fc00::1", FA_SCOPE_PRIVATE},
		{"fd12:3456::1", FA_SCOPE_PRIVATE},
		{"fe80::1", FA_SCOPE_LINK_LOCAL},
		{"ff02::fb", FA_SCOPE_MULTICAST},
		{"::1", FA_SCOPE_LOOPBACK},
		{"::", FA_SCOPE_RESERVED},
		{"::ffff:192.168.1.1", FA_SCOPE_PRIVATE},
		{"::ffff:172.16.5.5", FA_SCOPE_PRIVATE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct geo_result r = look(g, cases[i].ip);
		if (r.looked_up || r.found_country || r.found_asn)
			fail_msg("%s was looked up (country '%s', AS%u)", cases[i].ip, r.country,
				 (unsigned)r.asn);
		assert_int_equal(r.scope, cases[i].scope);
		assert_string_equal(r.country, "");
		assert_string_equal(r.as_org, "");
	}
	geo_free(g);
}

static void test_asn(void **state)
{
	(void)state;
	struct geo *g = open_both();
	struct geo_result r = look(g, "8.8.8.8");
	assert_true(r.found_asn);
	assert_int_equal(r.asn, 15169);
	assert_string_equal(r.as_org, "Google LLC");

	r = look(g, "104.20.1.1");
	assert_true(r.found_asn);
	assert_int_equal(r.asn, 13335);
	assert_string_equal(r.as_org, "Cloudflare, Inc.");
	assert_string_equal(r.country, "US");

	r = look(g, "2001:4860:4860::8844");
	assert_true(r.found_asn);
	assert_int_equal(r.asn, 15169);

	/* Country known, AS not: the two databases answer independently. */
	r = look(g, "1.2.3.4");
	assert_true(r.found_country);
	assert_false(r.found_asn);
	assert_int_equal(r.asn, 0);

	r = look(g, "192.168.7.7");
	assert_false(r.found_asn);
	assert_int_equal(r.asn, 0);
	geo_free(g);
}

static void test_as_org_sanitised(void **state)
{
	(void)state;
	struct geo *g = open_both();
	struct geo_result r = look(g, "9.10.1.1");
	assert_int_equal(r.asn, 64500);
	assert_string_equal(r.as_org, "Tab?here");

	r = look(g, "9.11.1.1");
	assert_int_equal(r.asn, 64501);
	assert_string_equal(r.as_org, "Telef\xc3\xb4nica Brasil S.A.");

	/* 200 bytes of two-byte characters: cut on a character boundary. */
	r = look(g, "9.12.1.1");
	assert_int_equal(r.asn, 64502);
	size_t n = strlen(r.as_org);
	assert_int_equal(n, 126);
	for (size_t i = 0; i < n; i += 2) {
		assert_int_equal((uint8_t)r.as_org[i], 0xc3);
		assert_int_equal((uint8_t)r.as_org[i + 1], 0xa9);
	}
	geo_free(g);
}

static void test_geolite2_ipv4_only(void **state)
{
	(void)state;
	if (!fx.ready)
		skip();
	struct geo *g = NULL;
	struct fa_err err = {{0}};
	assert_int_equal(geo_open(fx.geolite2_v4, NULL, &g, &err), FA_OK);
	expect_country(g, "8.8.8.8", "US");
	expect_country(g, "1.2.4.4", "CN");
	expect_country(g, "1.2.3.4", NULL);
	/* An IPv6 address in an IPv4-only database: looked up, not found. */
	expect_country(g, "2001:4860::1", NULL);
	struct geo_result r = look(g, "8.8.8.8");
	assert_false(r.found_asn);

	const struct geo_db_info *ci = geo_country_info(g);
	assert_non_null(ci);
	assert_string_equal(ci->database_type, "GeoLite2-Country");
	assert_int_equal(ci->ip_version, 4);
	assert_null(geo_asn_info(g));
	geo_free(g);
}

static void test_info(void **state)
{
	(void)state;
	struct geo *g = open_both();
	const struct geo_db_info *ci = geo_country_info(g);
	assert_non_null(ci);
	assert_string_equal(ci->path, fx.country);
	assert_string_equal(ci->database_type, "flowaudit-test-country");
	assert_string_equal(ci->description, "flowaudit test country database");
	assert_int_equal(ci->ip_version, 6);
	assert_true(ci->node_count > 0);
	uint64_t now = (uint64_t)time(NULL);
	assert_true(ci->build_epoch + 86400 > now && ci->build_epoch < now + 86400);

	const struct geo_db_info *ai = geo_asn_info(g);
	assert_non_null(ai);
	assert_string_equal(ai->path, fx.asn);
	assert_string_equal(ai->database_type, "flowaudit-test-asn");
	geo_free(g);

	/* Only the ASN database: no country info, lookups give AS only. */
	struct fa_err err = {{0}};
	assert_int_equal(geo_open(NULL, fx.asn, &g, &err), FA_OK);
	assert_null(geo_country_info(g));
	assert_non_null(geo_asn_info(g));
	struct geo_result r = look(g, "8.8.8.8");
	assert_true(r.looked_up);
	assert_false(r.found_country);
	assert_true(r.found_asn);
	geo_free(g);
}

static void test_no_databases(void **state)
{
	(void)state;
	struct geo *g = NULL;
	struct fa_err err = {{0}};
	assert_int_equal(geo_open(NULL, NULL, &g, &err), FA_OK);
	assert_non_null(g);
	assert_null(geo_country_info(g));
	assert_null(geo_asn_info(g));
	struct geo_result r = look(g, "8.8.8.8");
	assert_int_equal(r.scope, FA_SCOPE_PUBLIC);
	assert_false(r.looked_up);
	assert_false(r.found_country);
	geo_free(g);

	r = look(NULL, "8.8.8.8");
	assert_int_equal(r.scope, FA_SCOPE_PUBLIC);
	assert_false(r.looked_up);
	assert_false(r.found_country);
	assert_false(r.found_asn);
	r = look(NULL, "10.0.0.1");
	assert_int_equal(r.scope, FA_SCOPE_PRIVATE);

	fa_addr none;
	memset(&none, 0, sizeof(none));
	geo_lookup(NULL, &none, &r);
	assert_false(r.looked_up);
	assert_null(geo_country_info(NULL));
	assert_null(geo_asn_info(NULL));
	geo_free(NULL);
}

static void test_open_errors(void **state)
{
	(void)state;
	struct geo *g = NULL;
	struct fa_err err = {{0}};

	assert_int_equal(geo_open("/nonexistent/dir/country.mmdb", NULL, &g, &err), FA_EINPUT);
	assert_null(g);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/country.mmdb"));
	assert_non_null(strstr(err.msg, "country"));

	char junk[] = "/tmp/fa-geo-junk-XXXXXX";
	int fd = mkstemp(junk);
	assert_true(fd >= 0);
	static const char text[] = "8.8.8.0/24 US\nthis is not a MaxMind DB file\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	memset(&err, 0, sizeof(err));
	assert_int_equal(geo_open(NULL, junk, &g, &err), FA_EINPUT);
	assert_null(g);
	assert_non_null(strstr(err.msg, junk));
	assert_non_null(strstr(err.msg, "ASN"));

	/* A good country file does not hide a bad ASN file. */
	if (fx.ready) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(geo_open(fx.country, junk, &g, &err), FA_EINPUT);
		assert_null(g);
		assert_non_null(strstr(err.msg, junk));
	}

	/* An empty file is not a database either. */
	fd = open(junk, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	close(fd);
	memset(&err, 0, sizeof(err));
	assert_int_equal(geo_open(junk, NULL, &g, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, junk));
	unlink(junk);
}

static void test_default_paths(void **state)
{
	(void)state;
	setenv("FLOWAUDIT_GEO_COUNTRY", "/somewhere/else/c.mmdb", 1);
	setenv("FLOWAUDIT_GEO_ASN", "/somewhere/else/a.mmdb", 1);
	assert_string_equal(geo_default_country_path(), "/somewhere/else/c.mmdb");
	assert_string_equal(geo_default_asn_path(), "/somewhere/else/a.mmdb");
	unsetenv("FLOWAUDIT_GEO_COUNTRY");
	unsetenv("FLOWAUDIT_GEO_ASN");

	/* data/geo/ under the working directory comes next. */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	char dir[] = "/tmp/fa-geo-cwd-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(run("mkdir -p '%s/data/geo' && : > '%s/data/geo/country.mmdb' && "
			     ": > '%s/data/geo/asn.mmdb'", dir, dir, dir), 0);
	assert_int_equal(chdir(dir), 0);
	const char *c = geo_default_country_path();
	const char *a = geo_default_asn_path();
	char got_c[PATH_MAX], got_a[PATH_MAX];
	snprintf(got_c, sizeof(got_c), "%s", c ? c : "(null)");
	snprintf(got_a, sizeof(got_a), "%s", a ? a : "(null)");
	assert_int_equal(chdir(cwd), 0);
	run("rm -rf '%s'", dir);
	assert_string_equal(got_c, "data/geo/country.mmdb");
	assert_string_equal(got_a, "data/geo/asn.mmdb");
}

static void test_attribution(void **state)
{
	(void)state;
	const char *t = geo_attribution();
	assert_non_null(strstr(t, "CC BY 4.0"));
	assert_non_null(strstr(t, "nro.net"));
	assert_non_null(strstr(t, "routeviews.org"));
	assert_non_null(strstr(t, "DB-IP"));
	assert_null(strchr(t, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_country),
		cmocka_unit_test(test_v6_country),
		cmocka_unit_test(test_unknown_public),
		cmocka_unit_test(test_non_public_never_looked_up),
		cmocka_unit_test(test_asn),
		cmocka_unit_test(test_as_org_sanitised),
		cmocka_unit_test(test_geolite2_ipv4_only),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_no_databases),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_default_paths),
		cmocka_unit_test(test_attribution),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
