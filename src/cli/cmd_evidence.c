/*
 * cmd_evidence.c - `flowaudit evidence OUTDIR ID -w FILE`: a finding's own
 * capture, from the report directory's evidence.
 *
 * A report of many findings keeps its evidence as one pack
 * (evidence/findings.pcapng, evidence.h); this cuts one finding's packets
 * back out of it, byte for byte the file the finding would have had to
 * itself (a pcap, or a pcapng with the Decryption Secrets Block of its own
 * TLS connections). A report with a file per finding has it copied. Prints
 * the files written. Exit 0 when written, 2 for bad usage, an unknown
 * finding or an evidence file that does not parse, 3 when writing fails.
 */
#include "cmd.h"

#include "flowaudit/evidence.h"

#include <string.h>

static const char usage[] =
	"usage: flowaudit evidence OUTDIR ID -w FILE\n"
	"  writes the capture of finding ID (F0042) of report directory OUTDIR to FILE:\n"
	"  its packets as its own evidence file holds them, cut from the evidence pack\n"
	"  when the report has one; a pcap, or a pcapng when it carries TLS keys\n"
	"  -w, --write FILE   where to write (packets of a second link type go to\n"
	"                     FILE-2.EXT, ...)\n";

int cmd_evidence(int argc, char **argv)
{
	const char *dir = NULL, *id = NULL, *out = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		} else if (strcmp(a, "-w") == 0 || strcmp(a, "--write") == 0) {
			if (i + 1 == argc) {
				cmd_error("evidence: option '%s' needs a value", a);
				return FA_EXIT_INPUT;
			}
			out = argv[++i];
		} else if (a[0] == '-' && a[1] != '\0') {
			cmd_error("evidence: unknown option %s", a);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		} else if (dir == NULL) {
			dir = a;
		} else if (id == NULL) {
			id = a;
		} else {
			cmd_error("evidence: one OUTDIR and one finding id only (got %s too)", a);
			return FA_EXIT_INPUT;
		}
	}
	if (dir == NULL || id == NULL || out == NULL) {
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	char edir[4200];
	snprintf(edir, sizeof(edir), "%s/evidence", dir);
	char paths[4][4200];
	size_t n = 0;
	struct fa_err err = {{0}};
	int rc = evidence_cut(edir, id, out, paths, &n, &err);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		return cmd_exit_for(rc);
	}
	for (size_t k = 0; k < n; k++)
		printf("%s\n", paths[k]);
	return FA_EXIT_OK;
}
