/*
 * fuzz_device.c - device_load() on a hostile device profile.
 *
 * Input: the bytes of a device profile. A profile that loads is turned into
 * an identifier scanner, as `flowaudit audit -d` does, and one short buffer
 * is scanned: odd identifier values (empty, binary, 128 bytes of one
 * character) must compile and match without trouble.
 */
#include "flowaudit/device.h"
#include "flowaudit/identifiers.h"

#include "fuzz_common.h"

static char g_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(g_path, sizeof(g_path), "%s/device.json", fuzz_tmpdir());
	return 0;
}

static void on_match(const struct idscan_match *m, void *user)
{
	*(size_t *)user += strlen(m->type) + m->offset;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(g_path, data, size);
	struct device_profile *d = NULL;
	struct fa_err err = {{0}};
	if (device_load(g_path, &d, &err) != FA_OK) {
		if (strlen(err.msg) == 0)
			abort();
		return 0;
	}
	struct idscan *s = idscan_new(d, &err);
	if (s != NULL) {
		size_t acc = 0;
		uint32_t st = idscan_start(s);
		idscan_feed(s, st, data, size, 0, on_match, &acc);
		idscan_free(s);
	}
	device_free(d);
	return 0;
}
