/*
 * test_device.c - the device profile loader: a full good profile, and every
 * way a field can be wrong, each refused with FA_EINPUT and a message that
 * names the file and the field without repeating the value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_device_%d.json", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static const char *GOOD =
	"{\"name\": \"test handset\", \"imei\": \"356938035643809\", \"imsi\": \"310150123456789\",\n"
	" \"iccid\": \"8991101200003204510\", \"android_id\": \"9774d56d682e549c\",\n"
	" \"advertising_id\": \"38400000-8cf0-11bd-b23e-10b96e40000d\", \"serial\": \"R58M12ABCDE\",\n"
	" \"mac\": \"02-00-00-00-00-17\", \"phone\": \"+33612345678\", \"email\": \"tester@example.org\",\n"
	" \"latitude\": 48.8566, \"longitude\": -2.3522,\n"
	" \"other\": [{\"type\": \"customer_id\", \"value\": \"CUST-778899\"}]}\n";

static void test_good(void **state)
{
	(void)state;
	write_file(GOOD);
	struct device_profile *d = NULL;
	struct fa_err err;
	assert_int_equal(device_load(path, &d, &err), FA_OK);
	assert_non_null(d);
	assert_string_equal(d->path, path);
	assert_string_equal(d->name, "test handset");
	assert_int_equal(d->n_ids, 10);
	static const char *const types[] = {"imei", "imsi", "iccid", "android_id", "advertising_id",
					    "serial", "mac", "phone", "email", "customer_id"};
	for (size_t i = 0; i < 10; i++)
		assert_string_equal(d->ids[i].type, types[i]);
	assert_string_equal(d->ids[0].value, "356938035643809");
	assert_string_equal(d->ids[6].value, "02-00-00-00-00-17");
	assert_string_equal(d->ids[9].value, "CUST-778899");
	assert_true(d->has_location);
	assert_true(d->lat > 48.85 && d->lat < 48.86);
	assert_true(d->lon < -2.35 && d->lon > -2.36);
	device_free(d);
	device_free(NULL);
}

static void test_minimal(void **state)
{
	(void)state;
	write_file("{\"mac\": \"020000000017\"}");
	struct device_profile *d = NULL;
	struct fa_err err;
	assert_int_equal(device_load(path, &d, &err), FA_OK);
	assert_int_equal(d->n_ids, 1);
	assert_null(d->name);
	assert_false(d->has_location);
	device_free(d);
	write_file("{\"latitude\": 0, \"longitude\": 180}");
	assert_int_equal(device_load(path, &d, &err), FA_OK);
	assert_int_equal(d->n_ids, 0);
	assert_true(d->has_location);
	device_free(d);
}

struct bad {
	const char *json;
	const char *field; /* must appear in the message */
	const char *secret; /* must not appear in the message */
};

static void test_bad_fields(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{"{\"imei\": \"356938035643809\", \"imie\": \"1\"}", "'imie'", NULL},
		{"{\"imei\": \"35693803564380\"}", "'imei'", "35693803564380"},
		{"{\"imei\": \"35693803564380X\"}", "'imei'", "35693803564380X"},
		{"{\"imei\": 356938035643809}", "'imei'", NULL},
		{"{\"imsi\": \"3101501234567\"}", "'imsi'", "3101501234567"},
		{"{\"iccid\": \"89911012000032045\"}", "'iccid'", "89911012000032045"},
		{"{\"android_id\": \"9774d56d682e549\"}", "'android_id'", "9774d56d682e549"},
		{"{\"android_id\": \"9774d56d682e549g\"}", "'android_id'", "9774d56d682e549g"},
		{"{\"advertising_id\": \"38400000-8cf0-11bd-b23e10b96e40000d\"}", "'advertising_id'", NULL},
		{"{\"mac\": \"02:00:00:00:00\"}", "'mac'", NULL},
		{"{\"mac\": \"02:00-00:00:00:17\"}", "'mac'", NULL},
		{"{\"mac\": \"02:00:00:00:00:1g\"}", "'mac'", NULL},
		{"{\"phone\": \"+33 6 12 34 56 78\"}", "'phone'", NULL},
		{"{\"phone\": \"12345\"}", "'phone'", NULL},
		{"{\"email\": \"tester.example.org\"}", "'email'", "tester.example.org"},
		{"{\"email\": \"a@b@c\"}", "'email'", NULL},
		{"{\"serial\": \"has space\"}", "'serial'", NULL},
		{"{\"serial\": \"\"}", "'serial'", NULL},
		{"{\"name\": 5, \"imei\": \"356938035643809\"}", "'name'", NULL},
		{"{\"latitude\": 91, \"longitude\": 0}", "'latitude'", NULL},
		{"{\"latitude\": 0, \"longitude\": -180.5}", "'longitude'", NULL},
		{"{\"latitude\": \"48.8\", \"longitude\": 2}", "'latitude'", NULL},
		{"{\"latitude\": 48.8}", "'longitude'", NULL},
		{"{\"other\": {}}", "'other'", NULL},
		{"{\"other\": [\"x\"]}", "'other[0]'", NULL},
		{"{\"other\": [{\"type\": \"Bad Type\", \"value\": \"abcdef\"}]}", "'other[0].type'", NULL},
		{"{\"other\": [{\"type\": \"t\", \"value\": 7}]}", "'other[0].value'", NULL},
		{"{\"other\": [{\"type\": \"t\", \"value\": \"abcdef\", \"x\": 1}]}", "'other[0].x'", NULL},
		{"{\"other\": [{\"value\": \"abcdef\"}]}", "'other[0].type'", NULL},
		{"{\"serial\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "'serial'", NULL},
		{"{\"name\": \"only a name\"}", "no identifier", NULL},
		{"{}", "no identifier", NULL},
		{"[]", "JSON object", NULL},
		{"{\"imei\": \"356938035643809\",\n \"imei\": \"356938035643809\"}", "line 2", NULL},
		{"{\"imei\": \"356938035643809\"", "line 1", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(cases[i].json);
		struct device_profile *d = (struct device_profile *)1;
		struct fa_err err;
		err.msg[0] = '\0';
		int rc = device_load(path, &d, &err);
		if (rc != FA_EINPUT)
			fail_msg("case %zu accepted: %s", i, cases[i].json);
		assert_null(d);
		if (strstr(err.msg, path) == NULL || strstr(err.msg, cases[i].field) == NULL)
			fail_msg("case %zu: message \"%s\" lacks %s", i, err.msg, cases[i].field);
		if (cases[i].secret != NULL && strstr(err.msg, cases[i].secret) != NULL)
			fail_msg("case %zu: message repeats the value: %s", i, err.msg);
	}
}

static void test_too_many_other(void **state)
{
	(void)state;
	char buf[4096];
	size_t o = (size_t)snprintf(buf, sizeof(buf), "{\"other\": [");
	for (int i = 0; i <= DEVICE_OTHER_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s{\"type\": \"t%d\", \"value\": \"v%06d\"}",
				      i ? "," : "", i, i);
	snprintf(buf + o, sizeof(buf) - o, "]}");
	write_file(buf);
	struct device_profile *d;
	struct fa_err err;
	assert_int_equal(device_load(path, &d, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "'other'"));
}

/* The profile's "mac" as octets, in each spelling it may have; an "other"
   entry typed mac is not the device's own MAC. */
static void test_profile_mac(void **state)
{
	(void)state;
	static const char *const spellings[] = {"02:00:00:00:00:17", "02-00-00-00-00-17",
						"020000000017"};
	static const uint8_t want[6] = {0x02, 0, 0, 0, 0, 0x17};
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "{\"imei\": \"356938035643809\", \"mac\": \"%s\"}",
			 spellings[i]);
		write_file(text);
		struct device_profile *d = NULL;
		struct fa_err err;
		assert_int_equal(device_load(path, &d, &err), FA_OK);
		uint8_t mac[6] = {0};
		assert_true(device_profile_mac(d, mac));
		assert_memory_equal(mac, want, 6);
		device_free(d);
	}
	write_file("{\"mac\": \"AA:bb:CC:dd:EE:0f\"}");
	struct device_profile *d = NULL;
	struct fa_err err;
	assert_int_equal(device_load(path, &d, &err), FA_OK);
	uint8_t mac[6];
	assert_true(device_profile_mac(d, mac));
	assert_memory_equal(mac, ((const uint8_t[6]){0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f}), 6);
	device_free(d);
	write_file("{\"imei\": \"356938035643809\", \"other\": [{\"type\": \"mac\", "
		   "\"value\": \"02:00:00:00:00:17\"}]}");
	assert_int_equal(device_load(path, &d, &err), FA_OK);
	assert_false(device_profile_mac(d, mac));
	device_free(d);
	assert_false(device_profile_mac(NULL, mac));
}

static void test_file_limits(void **state)
{
	(void)state;
	struct device_profile *d;
	struct fa_err err;
	assert_int_equal(device_load("/nonexistent/device.json", &d, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "/nonexistent/device.json"));
	size_t big = DEVICE_FILE_MAX + 10;
	char *text = malloc(big + 1);
	assert_non_null(text);
	memset(text, ' ', big);
	memcpy(text, "{\"imei\": \"356938035643809\"}", 27);
	text[big] = '\0';
	write_file(text);
	free(text);
	assert_int_equal(device_load(path, &d, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "64 KiB"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_too_many_other),
		cmocka_unit_test(test_file_limits),
		cmocka_unit_test(test_profile_mac),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
