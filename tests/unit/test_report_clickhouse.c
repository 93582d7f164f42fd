/*
 * test_report_clickhouse.c - what the ClickHouse exporter refuses before
 * it sends anything: URLs that are not HTTP or carry credentials or a
 * query, database names that would not be one identifier in SQL, and
 * credentials files that others may read, are too long or hold other
 * lines. (The export itself runs against a real server in
 * tests/e2e/test_runs.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/report_clickhouse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check(const char *url, const char *db, char *msg, size_t n)
{
	struct report_ch_opts o = {.url = url, .database = db};
	struct fa_err err = {{0}};
	int rc = report_ch_check(&o, &err);
	snprintf(msg, n, "%s", err.msg);
	return rc;
}

static void test_urls_and_names(void **state)
{
	(void)state;
	char msg[1024];
	assert_int_equal(check("http://127.0.0.1:8123", NULL, msg, sizeof(msg)), FA_OK);
	assert_int_equal(check("https://ch.lab.example/", "flowaudit_2", msg, sizeof(msg)), FA_OK);
	assert_int_equal(check("ftp://127.0.0.1/", NULL, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "not an http:// or https:// URL"));
	assert_int_equal(check("not a url", NULL, msg, sizeof(msg)), FA_EINPUT);
	assert_int_equal(check("http://lab:secret@127.0.0.1:8123", NULL, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "process list"));
	assert_null(strstr(msg, "secret"));
	assert_int_equal(check("http://lab@127.0.0.1:8123", NULL, msg, sizeof(msg)), FA_EINPUT);
	assert_int_equal(check("http://127.0.0.1:8123/?password=x", NULL, msg, sizeof(msg)),
			 FA_EINPUT);
	static const char *const bad_db[] = {"", "1abc", "a-b", "a;DROP", "a b", "x.y",
					      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad_db) / sizeof(bad_db[0]); i++) {
		if (check("http://127.0.0.1:8123", bad_db[i], msg, sizeof(msg)) != FA_EINPUT)
			fail_msg("database '%s' taken", bad_db[i]);
		assert_non_null(strstr(msg, "not a database name"));
	}
}

static int creds(const char *text, size_t len, mode_t mode, char *user, char *pass, char *msg)
{
	char path[] = "/tmp/fa_cred_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	struct fa_err err = {{0}};
	int rc = report_ch_credentials_load(path, user, pass, &err);
	snprintf(msg, 1024, "%s", err.msg);
	unlink(path);
	return rc;
}

static void test_credentials_file(void **state)
{
	(void)state;
	char user[REPORT_CH_CRED_MAX + 1], pass[REPORT_CH_CRED_MAX + 1], msg[1024];
	const char *good = "# lab account\r\nuser=lab\r\n\npassword=p=w#1\n";
	assert_int_equal(creds(good, strlen(good), 0600, user, pass, msg), FA_OK);
	assert_string_equal(user, "lab");
	assert_string_equal(pass, "p=w#1");
	assert_int_equal(creds(good, strlen(good), 0640, user, pass, msg), FA_EINPUT);
	assert_non_null(strstr(msg, "chmod 600"));
	assert_null(strstr(msg, "p=w#1"));
	const char *other = "user=lab\npasswd=x\n";
	assert_int_equal(creds(other, strlen(other), 0600, user, pass, msg), FA_EINPUT);
	assert_non_null(strstr(msg, "line 2"));
	char longv[300] = "password=";
	memset(longv + 9, 'x', 200);
	longv[209] = '\0';
	assert_int_equal(creds(longv, strlen(longv), 0600, user, pass, msg), FA_EINPUT);
	assert_non_null(strstr(msg, "longer than 128"));
	assert_int_equal(creds("user=a\0b\n", 9, 0600, user, pass, msg), FA_EINPUT);
	char *big = malloc(5000);
	memset(big, '#', 5000);
	assert_int_equal(creds(big, 5000, 0600, user, pass, msg), FA_EINPUT);
	assert_non_null(strstr(msg, "larger than 4 KiB"));
	free(big);
	struct fa_err err = {{0}};
	assert_int_equal(report_ch_credentials_load("/nonexistent/cred", user, pass, &err),
			 FA_EINPUT);
}

static void test_schema_names_the_database(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	report_ch_schema(m, "lab7");
	fclose(m);
	assert_non_null(strstr(buf, "CREATE DATABASE IF NOT EXISTS lab7;\n"));
	assert_non_null(strstr(buf, "CREATE TABLE IF NOT EXISTS lab7.runs (\n"));
	assert_non_null(strstr(buf, "CREATE TABLE IF NOT EXISTS lab7.findings (\n"));
	assert_non_null(strstr(buf, "CREATE TABLE IF NOT EXISTS lab7.flows (\n"));
	assert_null(strstr(buf, "flowaudit."));
	assert_null(strstr(buf, "Nullable"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls_and_names),
		cmocka_unit_test(test_credentials_file),
		cmocka_unit_test(test_schema_names_the_database),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
