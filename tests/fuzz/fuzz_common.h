/*
 * fuzz_common.h - helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * The link-type table maps the selector byte the packet targets start with
 * onto every link type decode.c reads, so one corpus covers all of them. The
 * device profile is a fixed, in-memory one: the targets want the identifier
 * scanner's automaton in the loop, not the profile loader (which has its
 * own target). Loaders read paths, so inputs are written to a file first.
 */
#ifndef FLOWAUDIT_FUZZ_COMMON_H
#define FLOWAUDIT_FUZZ_COMMON_H

#include "flowaudit/device.h"
#include "flowaudit/identifiers.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int fuzz_linktypes[] = {1, 113, 276, 101, 0, 108, 228, 229};
#define FUZZ_N_LINKTYPES (sizeof(fuzz_linktypes) / sizeof(fuzz_linktypes[0]))

static inline int fuzz_linktype(uint8_t selector)
{
	return fuzz_linktypes[selector % FUZZ_N_LINKTYPES];
}

/* A scanner over a handset's identifiers; aborts if it cannot be built. */
static inline struct idscan *fuzz_idscan(void)
{
	static struct device_identifier ids[] = {
		{"imei", (char *)"356938035643809", NULL},
		{"android_id", (char *)"9774d56d682e549c", NULL},
		{"advertising_id", (char *)"38400000-8cf0-11bd-b23e-10b96e40000d", NULL},
		{"mac", (char *)"02:00:00:00:00:17", NULL},
		{"email", (char *)"tester@example.org", NULL},
		{"phone", (char *)"+420601234567", NULL},
	};
	static struct device_profile dev = {
		.path = (char *)"fuzz-device", .name = (char *)"fuzz handset",
		.ids = ids, .n_ids = sizeof(ids) / sizeof(ids[0]),
		.has_location = true, .lat = 48.8566, .lon = 2.3522,
	};
	struct fa_err err = {{0}};
	struct idscan *s = idscan_new(&dev, &err);
	if (s == NULL) {
		fprintf(stderr, "fuzz: idscan_new: %s\n", err.msg);
		abort();
	}
	return s;
}

/*
 * Writes data to path (truncating); aborts on I/O failure, which would
 * otherwise look like a loader rejecting the input.
 */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* A private directory for the files one fuzzing process writes. */
static inline const char *fuzz_tmpdir(void)
{
	static char dir[64];
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/flowaudit-fuzz-XXXXXX");
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			abort();
		}
	}
	return dir;
}

#endif
