/*
 * cmd_verify.c - `flowaudit verify OUTDIR`: re-hash a report directory and
 * the inputs it names against its MANIFEST.sha256.
 *
 * Exit 0 when every line matches and nothing unlisted sits in OUTDIR, 1
 * when anything differs (each difference is printed), 2 for bad usage, a
 * missing manifest or a malformed one, 3 when the directory cannot be read.
 */
#include "cmd.h"

#include "flowaudit/manifest.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: flowaudit verify [-v] OUTDIR\n"
	"  re-hashes every file MANIFEST.sha256 in OUTDIR names, and the audited inputs\n"
	"  -v, --verbose   print matching files too, not only the differences\n";

int cmd_verify(int argc, char **argv)
{
	const char *dir = NULL;
	bool verbose = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			verbose = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			cmd_error("verify: unknown option %s", argv[i]);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		} else if (dir == NULL) {
			dir = argv[i];
		} else {
			cmd_error("verify: one OUTDIR only (got %s and %s)", dir, argv[i]);
			return FA_EXIT_INPUT;
		}
	}
	if (dir == NULL) {
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}

	/* Collect the verdicts first: the summary needs their count. */
	char *buf = NULL;
	size_t len = 0, bad = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (mem == NULL) {
		cmd_error("verify: out of memory");
		return FA_EXIT_RUNTIME;
	}
	struct fa_err err = {{0}};
	int rc = manifest_verify(dir, mem, &bad, &err);
	fclose(mem);
	size_t lines = 0;
	for (char *p = buf, *nl; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		lines++;
		bool ok = strncmp(p, "OK ", 3) == 0;
		if (verbose || !ok)
			fwrite(p, 1, (size_t)(nl - p) + 1, stdout);
	}
	free(buf);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		return cmd_exit_for(rc);
	}
	if (bad == 0) {
		printf("verified %zu files: all match\n", lines);
		return FA_EXIT_OK;
	}
	printf("%zu of %zu files do not match the manifest\n", bad, lines);
	return FA_EXIT_FINDINGS;
}
