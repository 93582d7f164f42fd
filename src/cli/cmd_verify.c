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
 */
#include "cmd.h"

#include "flowaudit/manifest.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: flowaudit verify [-v] [--inputs DIR] [--expect-manifest SHA256] OUTDIR\n"
	"  re-hashes every file MANIFEST.sha256 in OUTDIR names, and the audited inputs\n"
	"  -v, --verbose             print matching files too, not only the differences\n"
	"  --inputs DIR              find inputs recorded with relative paths under DIR\n"
	"                            (default: the current directory)\n"
	"  --expect-manifest SHA256  the manifest's own digest, as the audit printed it:\n"
	"                            any other fails\n";

int cmd_verify(int argc, char **argv)
{
	const char *dir = NULL;
	bool verbose = false;
	char expect[65];
	struct manifest_check_opts opt = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool takes = strcmp(a, "--inputs") == 0 || strcmp(a, "--expect-manifest") == 0;
		if (takes && i + 1 == argc) {
			cmd_error("verify: option '%s' needs a value", a);
			return FA_EXIT_INPUT;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			verbose = true;
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
		cmd_error("%s", err.msg);
		return cmd_exit_for(rc);
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
	if (res.bad == 0 && opt.expect_sha256 == NULL)
		printf("; an edit that rewrote the manifest too shows only in its digest above: "
		       "compare it with the one the audit printed (--expect-manifest)");
	putchar('\n');
	return res.bad ? FA_EXIT_FINDINGS : FA_EXIT_OK;
}
