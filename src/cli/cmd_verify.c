/*
 * cmd_verify.c - `flowaudit verify OUTDIR`: re-hash a report directory and
 * the inputs it names against its MANIFEST.sha256.
 *
 * Prints the manifest's own SHA-256 ("manifest: SHA256 <hex>"), the lines
 * that do not match (-v: every line, the inputs not found included), and a
 * summary. Exit 0 when every output matches,
 * nothing unlisted sits in OUTDIR, every file report.json cites is listed,
 * every input found matches, and the manifest's digest is the one given by
 * --expect-manifest; inputs that cannot be found are NOT CHECKED and do
 * not change the exit status. 1 when anything differs (each difference is
 * printed), 2 for bad usage, a missing manifest or a malformed one, 3 when
 * the directory cannot be read.
 *
 * With --key PUB.pem the report must also carry MANIFEST.sha256.sig, an
 * Ed25519 signature by that key over the manifest (report_sign.h): a
 * signature that is missing, malformed, by another key or over another
 * manifest is a difference (exit 1). Without --key a signature present is
 * named (who signed), not checked.
 */
#include "cmd.h"

#include "flowaudit/manifest.h"
#include "flowaudit/report_sign.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: flowaudit verify [-v] [--inputs DIR] [--expect-manifest SHA256] OUTDIR\n"
	"  re-hashes every file MANIFEST.sha256 in OUTDIR names, and the audited inputs\n"
	"  -v, --verbose             print matching files too, not only the differences\n"
	"  --inputs DIR              find inputs recorded with relative paths under DIR\n"
	"                            (default: the current directory)\n"
	"  --expect-manifest SHA256  the manifest's own digest, as the audit printed it:\n"
	"                            any other fails\n"
	"  --key PUB.pem             the signer's Ed25519 public key: MANIFEST.sha256.sig\n"
	"                            must be there and be its signature of the manifest\n";

/*
 * The signature of dir with the key given: prints one line, "signature:
 * valid, ..." or "SIGNATURE ...: why", and returns whether it is valid;
 * *rc gets a runtime failure.
 */
static bool verify_signature(const char *dir, const struct report_key *key, int *rc)
{
	struct fa_err err = {{0}};
	enum report_sig_verdict v;
	struct report_sig_info info;
	*rc = report_sig_check(dir, key, &v, &info, &err);
	if (*rc != FA_OK) {
		cmd_error("%s", err.msg);
		return false;
	}
	static const char *const word[] = {
		[REPORT_SIG_MISSING] = "MISSING", [REPORT_SIG_MALFORMED] = "MALFORMED",
		[REPORT_SIG_OTHER_KEY] = "OTHER KEY", [REPORT_SIG_MISMATCH] = "CHANGED",
		[REPORT_SIG_INVALID] = "INVALID",
	};
	if (v != REPORT_SIG_VALID) {
		printf("SIGNATURE %s: %s\n", word[v], err.msg);
		return false;
	}
	printf("signature: valid: %s %s is signed by the Ed25519 key %s\n", MANIFEST_NAME,
	       info.actual, report_key_fingerprint(key));
	return true;
}

/* Without --key: a signature present is named, not checked. */
static void mention_signature(const char *dir)
{
	struct fa_err err = {{0}};
	enum report_sig_verdict v;
	struct report_sig_info info;
	if (report_sig_read(dir, &v, &info, &err) != FA_OK || v == REPORT_SIG_MISSING)
		return;
	if (v == REPORT_SIG_VALID)
		printf("signature: %s names the key %s; not checked (give --key PUB.pem)\n",
		       REPORT_SIG_NAME, info.key);
	else
		printf("signature: not checked (give --key PUB.pem); %s\n", err.msg);
}

int cmd_verify(int argc, char **argv)
{
	const char *dir = NULL, *key_path = NULL;
	bool verbose = false;
	char expect[65];
	struct manifest_check_opts opt = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool takes = strcmp(a, "--inputs") == 0 || strcmp(a, "--expect-manifest") == 0 ||
			     strcmp(a, "--key") == 0;
		if (takes && i + 1 == argc) {
			cmd_error("verify: option '%s' needs a value", a);
			return FA_EXIT_INPUT;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			verbose = true;
		} else if (strcmp(a, "--key") == 0) {
			key_path = argv[++i];
		} else if (strcmp(a, "--inputs") == 0) {
			opt.inputs_dir = argv[++i];
		} else if (strcmp(a, "--expect-manifest") == 0) {
			if (!manifest_digest_parse(argv[++i], expect)) {
				cmd_error("verify: --expect-manifest: '%s' is not a SHA-256 (64 hex "
					  "digits)", argv[i]);
				return FA_EXIT_INPUT;
			}
			opt.expect_sha256 = expect;
		} else if (a[0] == '-' && a[1] != '\0') {
			cmd_error("verify: unknown option %s", a);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		} else if (dir == NULL) {
			dir = a;
		} else {
			cmd_error("verify: one OUTDIR only (got %s and %s)", dir, a);
			return FA_EXIT_INPUT;
		}
	}
	if (dir == NULL) {
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	struct report_key *key = NULL;
	if (key_path != NULL) {
		struct fa_err kerr = {{0}};
		int krc = report_key_load_public(key_path, &key, &kerr);
		if (krc != FA_OK) {
			cmd_error("verify: --key %s", kerr.msg);
			return cmd_exit_for(krc);
		}
	}

	/* Collect the verdicts first: the digest comes before them. */
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (mem == NULL) {
		cmd_error("verify: out of memory");
		return FA_EXIT_RUNTIME;
	}
	struct fa_err err = {{0}};
	struct manifest_result res;
	int rc = manifest_check(dir, &opt, mem, &res, &err);
	fclose(mem);
	if (res.digest[0])
		printf("manifest: SHA256 %s\n", res.digest);
	for (char *p = buf, *nl; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		if (verbose || (strncmp(p, "OK ", 3) != 0 && strncmp(p, "NOT CHECKED ", 12) != 0))
			fwrite(p, 1, (size_t)(nl - p) + 1, stdout);
	}
	free(buf);
	if (rc != FA_OK) {
		report_key_free(key);
		cmd_error("%s", err.msg);
		return cmd_exit_for(rc);
	}
	bool sig_ok = true;
	if (key != NULL) {
		int src;
		sig_ok = verify_signature(dir, key, &src);
		report_key_free(key);
		if (src != FA_OK)
			return cmd_exit_for(src);
	} else {
		mention_signature(dir);
	}
	size_t checked = res.lines - res.not_checked;
	if (res.bad == 0)
		printf("verified %zu files: all match", checked);
	else
		printf("%zu difference%s from the manifest (%zu files listed)", res.bad,
		       res.bad == 1 ? "" : "s", res.lines);
	if (res.not_checked)
		printf("; %zu inputs not found, not checked (-v lists them; relative paths are "
		       "taken from the directory verify runs in: run it where the audit ran, or "
		       "give --inputs DIR)",
		       res.not_checked);
	if (res.bad == 0 && opt.expect_sha256 == NULL && key_path == NULL)
		printf("; an edit that rewrote the manifest too shows only in its digest above: "
		       "compare it with the one the audit printed (--expect-manifest)");
	if (!sig_ok)
		printf("; the signature does not hold");
	putchar('\n');
	return res.bad || !sig_ok ? FA_EXIT_FINDINGS : FA_EXIT_OK;
}
