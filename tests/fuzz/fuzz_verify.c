/*
 * fuzz_verify.c - manifest_check() on a hostile report directory.
 *
 * Input: the bytes of report.json. They are written into a report directory
 * whose MANIFEST.sha256 lists report.json with its true digest, as a
 * forger who recomputed it would, so that verify goes on to scan the file
 * for the evidence it cites: every cited name must be refused or looked up
 * inside the directory, never opened outside it, and the scan must end.
 */
#include "flowaudit/hash.h"
#include "flowaudit/manifest.h"

#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>

static char g_dir[128], g_report[160], g_manifest[160];
static FILE *g_null;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(g_dir, sizeof(g_dir), "%s/report", fuzz_tmpdir());
	snprintf(g_report, sizeof(g_report), "%s/report.json", g_dir);
	snprintf(g_manifest, sizeof(g_manifest), "%s/%s", g_dir, MANIFEST_NAME);
	if (mkdir(g_dir, 0700) != 0 && errno != EEXIST)
		abort();
	g_null = fopen("/dev/null", "w");
	if (g_null == NULL)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(g_report, data, size);
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[65], line[100];
	sha256_init(&c);
	sha256_update(&c, data, size);
	if (!sha256_final(&c, d))
		abort();
	hash_hex(d, sizeof(d), hex);
	int n = snprintf(line, sizeof(line), "%s  report.json\n", hex);
	fuzz_write_file(g_manifest, (const uint8_t *)line, (size_t)n);
	struct manifest_result res;
	struct fa_err err = {{0}};
	if (manifest_check(g_dir, NULL, g_null, &res, &err) != FA_OK)
		abort(); /* the manifest is well formed: only the citations vary */
	if (res.lines != 1)
		abort();
	return 0;
}
