/*
 * fuzz_policy.c - policy_load() on a hostile declaration.
 *
 * Input: the bytes of a policy file. The SDK catalogue is stood in for by a
 * callback that knows "admob" and "umeng", so recipient entries get past the
 * id check and into the purpose and data vocabularies. A loaded policy is
 * queried once through each lookup, which reads every list it built.
 */
#include "flowaudit/policy.h"

#include "fuzz_common.h"

static char g_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(g_path, sizeof(g_path), "%s/policy.json", fuzz_tmpdir());
	return 0;
}

static bool sdk_known(const char *id, void *ctx)
{
	(void)ctx;
	return strcmp(id, "admob") == 0 || strcmp(id, "umeng") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(g_path, data, size);
	struct policy *p = NULL;
	struct fa_err err = {{0}};
	if (policy_load(g_path, sdk_known, NULL, &p, &err) != FA_OK) {
		if (strlen(err.msg) == 0)
			abort(); /* a refusal must say why */
		return 0;
	}
	(void)policy_region_allowed(p, "DE");
	(void)policy_needs_consent(p, "advertising");
	(void)policy_find_recipient(p, "admob");
	(void)policy_is_first_party(p, "www.example.com.", NULL);
	(void)policy_first_party_receives(p, "email");
	for (size_t i = 0; i < p->n_recipients; i++)
		(void)policy_recipient_receives(&p->recipients[i], "device_id");
	policy_free(p);
	return 0;
}
