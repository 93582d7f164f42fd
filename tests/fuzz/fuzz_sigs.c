/*
 * fuzz_sigs.c - a hostile signature file through the catalogue loader.
 *
 * Input: the bytes of one signatures/<id>.json. The loader insists that the
 * file is named after its "id", so the input is written under the id it
 * declares (when that looks like an id) to get past that check. A finished
 * catalogue is then asked about a few hosts and addresses, which walks the
 * indexes sig_db_finish() built.
 */
#include "flowaudit/signatures.h"

#include "fuzz_common.h"

#include <ctype.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	(void)fuzz_tmpdir();
	return 0;
}

/* The value of the first "id": "..." in the input, if it is a plausible id. */
static void declared_id(const uint8_t *data, size_t size, char *id, size_t idlen)
{
	snprintf(id, idlen, "fuzz");
	const uint8_t *k = memmem(data, size, "\"id\"", 4);
	if (k == NULL)
		return;
	size_t i = (size_t)(k - data) + 4;
	while (i < size && (data[i] == ' ' || data[i] == ':' || data[i] == '\n' || data[i] == '\t'))
		i++;
	if (i >= size || data[i] != '"')
		return;
	i++;
	size_t n = 0;
	char tmp[SIG_MAX_ID + 1];
	while (i < size && data[i] != '"' && n < SIG_MAX_ID) {
		uint8_t c = data[i++];
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
			return;
		tmp[n++] = (char)c;
	}
	if (n == 0 || (n == 1 && tmp[0] == '.') || (n == 2 && tmp[0] == '.' && tmp[1] == '.'))
		return;
	tmp[n] = '\0';
	snprintf(id, idlen, "%s", tmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[SIG_MAX_ID + 1], path[256];
	declared_id(data, size, id, sizeof(id));
	snprintf(path, sizeof(path), "%s/%s.json", fuzz_tmpdir(), id);
	fuzz_write_file(path, data, size);

	struct sig_db *db = sig_db_new();
	if (db == NULL)
		return 0;
	struct fa_err err = {{0}};
	int rc = sig_db_load_file(db, path, &err);
	unlink(path);
	if (rc == FA_OK)
		rc = sig_db_finish(db, &err);
	if (rc != FA_OK) {
		if (strlen(err.msg) == 0)
			abort(); /* a refusal must say why */
		sig_db_free(db);
		return 0;
	}
	const char *pat = NULL;
	(void)sig_match_host(db, "ads.admob.com", &pat);
	(void)sig_match_host(db, "a.b.c.d.e.f.example.org.", &pat);
	fa_addr a;
	char cidr[64];
	if (fa_addr_parse("203.0.113.7", &a))
		(void)sig_match_addr(db, &a, cidr, sizeof(cidr));
	if (fa_addr_parse("2001:db8::1", &a))
		(void)sig_match_addr(db, &a, cidr, sizeof(cidr));
	for (size_t i = 0; i < sig_db_count(db); i++) {
		const struct sig_entry *se = sig_db_entry(db, i);
		(void)sig_db_find(db, se->id);
		for (size_t j = 0; j < se->n_domains; j++)
			(void)sig_match_host(db, se->domains[j], &pat);
	}
	sig_db_free(db);
	return 0;
}
