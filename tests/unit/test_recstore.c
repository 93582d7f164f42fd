/* recstore: records by index, in memory first and then in a temporary file. */
#include "flowaudit/recstore.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct rec {
	uint64_t id;
	char name[40];
};

static struct rec make(uint64_t id)
{
	struct rec r;
	memset(&r, 0, sizeof(r));
	r.id = id;
	snprintf(r.name, sizeof(r.name), "flow-%llu", (unsigned long long)id);
	return r;
}

/* Out of order, across the memory/file boundary, with holes. */
static void test_put_get(void **state)
{
	(void)state;
	struct recstore *rs = recstore_new(sizeof(struct rec), 8);
	assert_non_null(rs);
	const char *why = NULL;
	uint64_t order[] = {3, 0, 9, 7, 20000, 1, 8, 500};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct rec r = make(order[i]);
		assert_true(recstore_put(rs, order[i], &r, &why));
		assert_null(why);
	}
	assert_int_equal(recstore_count(rs), 20001);
	struct rec got;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		assert_true(recstore_get(rs, order[i], &got));
		struct rec want = make(order[i]);
		assert_memory_equal(&got, &want, sizeof(got));
	}
	/* holes, in memory and in the file, and past the end */
	assert_false(recstore_get(rs, 2, &got));
	assert_false(recstore_get(rs, 10, &got));
	assert_false(recstore_get(rs, 19999, &got));
	assert_false(recstore_get(rs, 20001, &got));
	recstore_free(rs);
	recstore_free(NULL);
}

/* A sequential pass through the read window sees every record, and a put
 * inside the window is not hidden by what the window read before. */
static void test_sequential_and_overwrite(void **state)
{
	(void)state;
	struct recstore *rs = recstore_new(sizeof(struct rec), 0);
	assert_non_null(rs);
	const char *why;
	for (uint64_t i = 0; i < 3000; i++) {
		struct rec r = make(i);
		assert_true(recstore_put(rs, i, &r, &why));
	}
	struct rec got;
	for (uint64_t i = 0; i < 3000; i++) {
		assert_true(recstore_get(rs, i, &got));
		assert_int_equal(got.id, i);
	}
	assert_true(recstore_get(rs, 10, &got));
	struct rec r = make(77777);
	assert_true(recstore_put(rs, 11, &r, &why));
	assert_true(recstore_get(rs, 11, &got));
	assert_int_equal(got.id, 77777);
	assert_true(recstore_memory(rs) > 0);
	recstore_free(rs);
}

/* Memory stays at mem_slots whatever the number of records. */
static void test_memory_bounded(void **state)
{
	(void)state;
	struct recstore *rs = recstore_new(sizeof(struct rec), 1024);
	assert_non_null(rs);
	const char *why;
	for (uint64_t i = 0; i < 100000; i++) {
		struct rec r = make(i);
		assert_true(recstore_put(rs, i, &r, &why));
	}
	assert_true(recstore_memory(rs) <=
		    (1024 + 256 + 4096) * (sizeof(struct rec) + 1));
	struct rec got;
	assert_true(recstore_get(rs, 99999, &got));
	assert_int_equal(got.id, 99999);
	recstore_free(rs);
}

/* A TMPDIR that cannot take the file: the put fails and says why. */
static void test_no_tmpdir(void **state)
{
	(void)state;
	setenv("TMPDIR", "/nonexistent/flowaudit-test", 1);
	struct recstore *rs = recstore_new(sizeof(struct rec), 1);
	assert_non_null(rs);
	const char *why = NULL;
	struct rec r = make(0);
	assert_true(recstore_put(rs, 0, &r, &why));
	assert_false(recstore_put(rs, 1, &r, &why));
	assert_non_null(why);
	assert_non_null(strstr(why, "TMPDIR"));
	struct rec got;
	assert_false(recstore_get(rs, 1, &got));
	assert_true(recstore_get(rs, 0, &got));
	recstore_free(rs);
	unsetenv("TMPDIR");
}

/* Puts out of order far beyond the chunks held, overwrites of records
 * already written, and reads between puts: every get sees the last put. */
static void test_scattered_writes(void **state)
{
	(void)state;
	struct recstore *rs = recstore_new(sizeof(struct rec), 16);
	assert_non_null(rs);
	const char *why;
	enum { N = 20000 };
	static uint64_t last[N]; /* what each slot should hold; 0: never put */
	memset(last, 0, sizeof(last));
	uint64_t x = 12345;
	for (int n = 0; n < 60000; n++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t i = (x >> 33) % N;
		if (n % 3 == 0) /* mostly near a moving front, as flows end */
			i = ((uint64_t)n / 3 + (x >> 40) % 3000) % N;
		struct rec r = make(i * 100000 + (uint64_t)n);
		assert_true(recstore_put(rs, i, &r, &why));
		last[i] = i * 100000 + (uint64_t)n + 1;
		if (n % 9973 == 0) {
			struct rec got;
			assert_true(recstore_get(rs, i, &got));
			assert_int_equal(got.id, last[i] - 1);
		}
	}
	for (uint64_t i = 0; i < N; i++) {
		struct rec got;
		bool ok = recstore_get(rs, i, &got);
		assert_int_equal(ok, last[i] != 0);
		if (ok)
			assert_int_equal(got.id, last[i] - 1);
	}
	const char *lost_why;
	assert_int_equal(recstore_lost(rs, &lost_why), 0);
	assert_null(lost_why);
	recstore_free(rs);
}

/* After recstore_seal(), two threads read every record through readers
 * of their own, one forwards and one backwards (their windows never agree),
 * while this one reads through recstore_get(): all see every record, and
 * a record still in a chunk buffer at the seal is there too. */
#define SHARED_N 6000

struct reader_job {
	struct recstore *rs;
	bool backwards;
	size_t bad;
};

static void *read_all(void *arg)
{
	struct reader_job *j = arg;
	struct recstore_reader *rd = recstore_reader_new(j->rs);
	if (rd == NULL) {
		j->bad = SHARED_N;
		return NULL;
	}
	for (uint64_t n = 0; n < SHARED_N; n++) {
		uint64_t i = j->backwards ? SHARED_N - 1 - n : n;
		struct rec got, want = make(i);
		if (!recstore_reader_get(rd, i, &got) || memcmp(&got, &want, sizeof(got)) != 0)
			j->bad++;
	}
	struct rec got;
	if (recstore_reader_get(rd, SHARED_N, &got))
		j->bad++;
	recstore_reader_free(rd);
	return NULL;
}

static void test_readers_beside_each_other(void **state)
{
	(void)state;
	struct recstore *rs = recstore_new(sizeof(struct rec), 100);
	assert_non_null(rs);
	const char *why = NULL;
	/* in pairs swapped, as flows end: the last ones stay in chunk buffers */
	for (uint64_t i = 0; i < SHARED_N; i += 2) {
		struct rec a = make(i + 1), b = make(i);
		assert_true(recstore_put(rs, i + 1, &a, &why));
		assert_true(recstore_put(rs, i, &b, &why));
	}
	recstore_seal(rs);
	struct reader_job jobs[2] = {{rs, false, 0}, {rs, true, 0}};
	pthread_t t[2];
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&t[k], NULL, read_all, &jobs[k]), 0);
	size_t bad = 0;
	for (uint64_t i = 0; i < SHARED_N; i += 7) {
		struct rec got, want = make(i);
		if (!recstore_get(rs, i, &got) || memcmp(&got, &want, sizeof(got)) != 0)
			bad++;
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	assert_int_equal(bad, 0);
	assert_int_equal(jobs[0].bad, 0);
	assert_int_equal(jobs[1].bad, 0);
	recstore_free(rs);
	recstore_reader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_sequential_and_overwrite),
		cmocka_unit_test(test_memory_bounded),
		cmocka_unit_test(test_no_tmpdir),
		cmocka_unit_test(test_scattered_writes),
		cmocka_unit_test(test_readers_beside_each_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
