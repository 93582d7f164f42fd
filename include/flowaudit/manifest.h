/*
 * manifest.h - MANIFEST.sha256: the hashes of a report directory and of
 * the inputs it was made from, and their verification.
 *
 * The file is in sha256sum format, one "<64 hex>  <name>\n" line per file,
 * sorted by name. Outputs are named relative to OUTDIR ("report.json",
 * "evidence/F0001.pcap"); inputs are named "input:<path>" with the path as
 * it was given on the command line (so a relative path is resolved against
 * the current directory when verifying). `sha256sum -c` checks the output
 * lines when run inside OUTDIR; the input lines need `flowaudit verify`.
 * The SHA-256 of the manifest itself stands for the whole report: recorded
 * elsewhere, it makes an edit with its manifest line recomputed show.
 * Both functions borrow every argument and own nothing after they return.
 */
#ifndef FLOWAUDIT_MANIFEST_H
#define FLOWAUDIT_MANIFEST_H

#include "flowaudit/common.h"

#include <stdio.h>

#define MANIFEST_NAME "MANIFEST.sha256"
#define MANIFEST_MAX_FILES 100000 /* files under OUTDIR, and manifest lines */

/*
 * Hashes every regular file under outdir (recursively; symbolic links and
 * MANIFEST.sha256 itself are left out) and every input path, and writes
 * outdir/MANIFEST.sha256. input_sha256 (may be NULL, or hold NULL entries)
 * gives digests the caller already computed for input_paths[i], so that a
 * capture of gigabytes is not read twice. A file with several names (hard
 * links) is read once. threads (1 to MANIFEST_MAX_THREADS) share the
 * hashing; the result does not depend on it. FA_EINPUT when an input
 * cannot be read or a name holds a newline; FA_ERUNTIME when outdir cannot
 * be read or written.
 */
#define MANIFEST_MAX_THREADS 8
int manifest_write(const char *outdir, const char *const *input_paths,
		   const char *const *input_sha256, size_t n_inputs, unsigned threads,
		   struct fa_err *err);
/* The same, and the output named output_names[i] (relative to outdir, as
   its manifest line names it) is taken to have digest output_sha256[i]
   without being read: a file hashed as it was written (the evidence pack). */
int manifest_write_known(const char *outdir, const char *const *input_paths,
			 const char *const *input_sha256, size_t n_inputs,
			 const char *const *output_names, const char *const *output_sha256,
			 size_t n_outputs, unsigned threads, struct fa_err *err);

/*
 * The digest of a set of files: SHA-256 over "HASH  NAME\n" of every file of
 * dir whose name ends in suffix (dot files left out), sorted by name. An
 * input named "DIR/" "*SUFFIX" (a directory, a slash, a star, the suffix)
 * in the manifest stands for that set, so that a file added to it or taken
 * away shows as CHANGED.
 */
int manifest_set_digest(const char *dir, const char *suffix, char out[65], struct fa_err *err);

/* What manifest_check is told beyond OUTDIR (either field may be NULL). */
struct manifest_check_opts {
	const char *inputs_dir;    /* relative input paths are taken from here, not the
				      current directory */
	const char *expect_sha256; /* the manifest's own SHA-256 (64 lower-case hex), as
				      recorded when the report was made */
};

struct manifest_result {
	size_t lines;       /* lines of the manifest */
	size_t bad;         /* every verdict but OK and NOT CHECKED */
	size_t not_checked; /* inputs not found */
	char digest[65];    /* SHA-256 of MANIFEST.sha256 itself */
};

/*
 * Re-hashes every line of outdir/MANIFEST.sha256 and writes one line per
 * file to report_to: "OK name", "CHANGED name", "MISSING name" for an
 * output, "NOT CHECKED input:path: not found" for an input that is not
 * where the line says (a relative path resolves against the current
 * directory, or opt->inputs_dir); then "UNLISTED name" for everything under
 * outdir the manifest does not name (a file, or "name (symbolic link)",
 * "name/ (empty directory)"), "MISSING name: cited by report.json, not in
 * the manifest" for a file report.json cites, and "MISSING report.json"
 * when the manifest does not list one. A line whose name is absolute,
 * holds a ".." component or resolves outside outdir is not read:
 * "REFUSED name: ..." says why. With opt->expect_sha256, a manifest whose
 * own digest differs is "CHANGED MANIFEST.sha256: SHA256 got, expected
 * want". res counts the verdicts and holds the manifest's digest. FA_EINPUT
 * when there is no manifest or a line is not in sha256sum format;
 * FA_ERUNTIME on read errors.
 */
int manifest_check(const char *outdir, const struct manifest_check_opts *opt, FILE *report_to,
		   struct manifest_result *res, struct fa_err *err);

/* A digest as a user gives it ("SHA256:" and upper case allowed) into 64
   lower-case hex digits; false when it is not 64 hex digits. */
bool manifest_digest_parse(const char *s, char out[65]);

#endif
