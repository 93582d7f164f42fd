/*
 * fuzz_policy_draft.c - policy_draft_text() on hostile text.
 *
 * Input: the bytes of a policy text (plain or HTML). The catalogue is the
 * small one of the unit tests (tests/fixtures/draft/sigs, read from the top
 * of the tree, where run.sh and replay.sh run), so SDK names, aliases and
 * tables are in play. A refusal must say why; a draft must be one that
 * policy_load() accepts with that catalogue, as `policy check` would: the
 * draft is written out and loaded back.
 */
#include "flowaudit/policy.h"
#include "flowaudit/policy_draft.h"
#include "flowaudit/signatures.h"

#include "fuzz_common.h"

static struct sig_db *g_db;
static char g_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct fa_err err = {{0}};
	if (sig_db_load_dir("tests/fixtures/draft/sigs", &g_db, &err) != FA_OK) {
		fprintf(stderr, "fuzz_policy_draft: %s (run from the top of the tree)\n", err.msg);
		abort();
	}
	snprintf(g_path, sizeof(g_path), "%s/draft.json", fuzz_tmpdir());
	return 0;
}

static bool sdk_known(const char *id, void *ctx)
{
	return sig_db_find(ctx, id) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_t *doc = NULL;
	struct fa_err err = {{0}};
	if (policy_draft_text((const char *)data, size, "fuzz.txt", g_db, &doc, &err) != FA_OK) {
		if (strlen(err.msg) == 0 || doc != NULL)
			abort(); /* a refusal says why and hands nothing on */
		return 0;
	}
	FILE *f = fopen(g_path, "w");
	if (f == NULL || !policy_draft_write(doc, "fuzz.txt", f) || fclose(f) != 0) {
		perror(g_path);
		abort();
	}
	policy_draft_free(doc);
	struct policy *p = NULL;
	if (policy_load(g_path, sdk_known, g_db, &p, &err) != FA_OK) {
		fprintf(stderr, "a draft policy_load refuses: %s\n", err.msg);
		abort();
	}
	policy_free(p);
	return 0;
}
