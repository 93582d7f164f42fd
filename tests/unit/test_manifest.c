/*
 * test_manifest.c - what manifest_check holds a report directory to beyond
 * its lines: the files report.json cites (read by a scan that builds no
 * tree: escapes, arrays, keys inside strings, hostile names, a long run of
 * escapes), the manifest's own digest, and input lines naming a device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/hash.h"
#include "flowaudit/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void put(const char *dir, const char *name, const char *text)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A directory holding report.json (text) and a manifest of it alone. */
static void make_report(char *dir, const char *text)
{
	strcpy(dir, "/tmp/fa_cite_XXXXXX");
	assert_non_null(mkdtemp(dir));
	put(dir, "report.json", text);
	struct fa_err err = {{0}};
	assert_int_equal(manifest_write(dir, NULL, NULL, 0, 1, &err), FA_OK);
}

static char *check(const char *dir, const struct manifest_check_opts *opt,
		   struct manifest_result *res)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct fa_err err = {{0}};
	assert_int_equal(manifest_check(dir, opt, m, res, &err), FA_OK);
	fclose(m);
	return buf;
}

static void rm_dir(const char *dir)
{
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_citations(void **state)
{
	(void)state;
	char dir[64];
	make_report(dir,
		    "{\"title\": \"evidence: a string, not a key\", \"findings\": [\n"
		    " {\"id\": \"F1\", \"evidence\": \"evidence\\/F0001.pcap\"},\n"
		    " {\"id\": \"F2\", \"evidence\": null},\n"
		    " {\"id\": \"F3\", \"evidence\" : \"evidence/F0003.pcap\", \"evidence_files\": "
		    "[\"evidence/F0003.pcap\", \"evidence/F0004.pcap\"]},\n"
		    " {\"\\u0065vidence\": \"evidence/F0005.pcap\"},\n"
		    " {\"evidence\": \"../../etc/passwd\"},\n"
		    " {\"evidence\": \"evidence/\\u0001.pcap\"}\n"
		    "], \"note\": \"evidence\"}\n");
	struct manifest_result res;
	char *out = check(dir, NULL, &res);
	assert_non_null(strstr(out, "MISSING evidence/F0001.pcap: cited by report.json"));
	assert_non_null(strstr(out, "MISSING evidence/F0003.pcap: cited by report.json"));
	assert_non_null(strstr(out, "MISSING evidence/F0004.pcap: cited by report.json"));
	assert_non_null(strstr(out, "MISSING evidence/F0005.pcap: cited by report.json"));
	assert_non_null(strstr(out, "REFUSED \"../../etc/passwd\": cited by report.json"));
	assert_non_null(strstr(out, "REFUSED \"\": cited by report.json: not a plain file name"));
	assert_null(strstr(out, "a string, not a key"));
	assert_int_equal(res.bad, 6);
	free(out);

	/* the same files present and listed: nothing to say */
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/evidence", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	for (int i = 1; i <= 5; i++) {
		char name[64];
		snprintf(name, sizeof(name), "evidence/F000%d.pcap", i);
		put(dir, name, "pcap");
	}
	struct fa_err err = {{0}};
	assert_int_equal(manifest_write(dir, NULL, NULL, 0, 1, &err), FA_OK);
	out = check(dir, NULL, &res);
	assert_int_equal(res.bad, 2); /* the two refused names */
	free(out);
	rm_dir(dir);
}

/* A string of a million escapes and a report cut inside a string end the
   scan in linear time without reading past the file. */
static void test_citations_hostile(void **state)
{
	(void)state;
	size_t n = 2000000;
	char *text = malloc(n + 64);
	assert_non_null(text);
	strcpy(text, "{\"evidence\": \"");
	size_t o = strlen(text);
	while (o + 2 < n) {
		text[o++] = '\\';
		text[o++] = 'n';
	}
	strcpy(text + o, "\"}");
	char dir[64];
	make_report(dir, text);
	struct manifest_result res;
	char *out = check(dir, NULL, &res);
	assert_non_null(strstr(out, "REFUSED \"\": cited by report.json"));
	free(out);
	rm_dir(dir);

	make_report(dir, "{\"findings\": [{\"evidence\": \"evidence/F00");
	out = check(dir, NULL, &res);
	assert_int_equal(res.bad, 1);
	assert_non_null(strstr(out, "MISSING evidence/F00: cited by report.json"));
	free(out);
	rm_dir(dir);
	free(text);
}

static void test_expect_digest(void **state)
{
	(void)state;
	char dir[64];
	make_report(dir, "{}\n");
	char mpath[128], hex[65], want[65];
	snprintf(mpath, sizeof(mpath), "%s/%s", dir, MANIFEST_NAME);
	struct fa_err err = {{0}};
	assert_int_equal(sha256_file(mpath, hex, &err), FA_OK);
	struct manifest_result res;
	struct manifest_check_opts opt = {.expect_sha256 = hex};
	char *out = check(dir, &opt, &res);
	assert_string_equal(res.digest, hex);
	assert_int_equal(res.bad, 0);
	free(out);

	char upper[80];
	snprintf(upper, sizeof(upper), "SHA256:%s", hex);
	for (char *p = upper + 7; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
	assert_true(manifest_digest_parse(upper, want));
	assert_string_equal(want, hex);
	assert_false(manifest_digest_parse("abc", want));
	assert_false(manifest_digest_parse(
		"zz3076be0872db7e42cacbc2f3ef896c49fa5e4688e710efd1437dd7fb276155", want));

	want[0] = want[0] == '0' ? '1' : '0';
	opt.expect_sha256 = want;
	out = check(dir, &opt, &res);
	assert_int_equal(res.bad, 1);
	assert_non_null(strstr(out, "CHANGED MANIFEST.sha256: SHA256 "));
	free(out);
	rm_dir(dir);
}

/* An input line naming a device is refused, not read (/dev/zero never
   ends); a FIFO likewise. */
static void test_input_not_a_file(void **state)
{
	(void)state;
	char dir[64];
	make_report(dir, "{}\n");
	char mpath[128];
	snprintf(mpath, sizeof(mpath), "%s/%s", dir, MANIFEST_NAME);
	FILE *f = fopen(mpath, "a");
	assert_non_null(f);
	fprintf(f, "%064d  input:/dev/zero\n", 0);
	fclose(f);
	struct manifest_result res;
	char *out = check(dir, NULL, &res);
	assert_int_equal(res.bad, 1);
	assert_non_null(strstr(out, "REFUSED input:/dev/zero: not a regular file; not read"));
	free(out);
	rm_dir(dir);
}

/*
 * An output whose digest the writer already has (the evidence pack, hashed
 * as it was written) goes into the manifest as given, not read again: a
 * digest given wrong on purpose shows in the line, and verify, which
 * reads every file, reports the file CHANGED. Many findings citing one
 * file are one citation.
 */
static void test_known_output_digest(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa_known_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char ev[4200];
	snprintf(ev, sizeof(ev), "%s/evidence", dir);
	assert_int_equal(mkdir(ev, 0755), 0);
	put(dir, "evidence/findings.pcapng", "packets");
	/* more citations than the manifest may have lines */
	size_t cap = (MANIFEST_MAX_FILES + 10000) * 48;
	char *json = malloc(cap);
	assert_non_null(json);
	size_t at = (size_t)snprintf(json, cap, "{\"findings\": [");
	for (int i = 0; i < MANIFEST_MAX_FILES + 10000; i++)
		at += (size_t)snprintf(json + at, cap - at, "%s{\"evidence\": "
				       "\"evidence/findings.pcapng\"}", i ? "," : "");
	snprintf(json + at, cap - at, "]}");
	put(dir, "report.json", json);
	free(json);
	char real[65], path[4300];
	struct fa_err err = {{0}};
	snprintf(path, sizeof(path), "%s/evidence/findings.pcapng", dir);
	assert_int_equal(sha256_file(path, real, &err), FA_OK);
	const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
	const char *names[] = {"evidence/findings.pcapng"}, *sums[] = {wrong};
	assert_int_equal(manifest_write_known(dir, NULL, NULL, 0, names, sums, 1, 2, &err), FA_OK);
	char mpath[4300], line[200];
	snprintf(mpath, sizeof(mpath), "%s/MANIFEST.sha256", dir);
	FILE *m = fopen(mpath, "r");
	assert_non_null(m);
	bool seen = false;
	while (fgets(line, sizeof(line), m))
		if (strstr(line, "evidence/findings.pcapng")) {
			seen = true;
			assert_memory_equal(line, wrong, 64);
		}
	fclose(m);
	assert_true(seen);
	struct manifest_result res;
	char *out = check(dir, NULL, &res);
	assert_non_null(strstr(out, "CHANGED evidence/findings.pcapng"));
	assert_int_equal(res.bad, 1);
	free(out);
	/* with the true digest, all match */
	sums[0] = real;
	assert_int_equal(manifest_write_known(dir, NULL, NULL, 0, names, sums, 1, 2, &err), FA_OK);
	out = check(dir, NULL, &res);
	assert_int_equal(res.bad, 0);
	free(out);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_output_digest),
		cmocka_unit_test(test_citations),
		cmocka_unit_test(test_citations_hostile),
		cmocka_unit_test(test_expect_digest),
		cmocka_unit_test(test_input_not_a_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
