/*
 * report_dir.h - the report directory: checked, locked, built aside and
 * put in place all at once.
 *
 * A report is written into a directory of its own (the build directory)
 * and only a finished one replaces OUTDIR, so that a failed or interrupted
 * run leaves the previous report as it was and nothing half-made. Where
 * the build directory lives depends on OUTDIR:
 *
 * - beside it, OUTDIR.tmp-PID, swapped with OUTDIR in one rename
 *   (renameat2 RENAME_EXCHANGE; two renames where the file system has no
 *   exchange);
 * - inside it, OUTDIR/.flowaudit-tmp-PID, when OUTDIR is a mount point (a
 *   Docker volume, a CI artifact directory: it cannot be renamed), its
 *   parent cannot be written, or it is named "." or "..". Then the
 *   old report's MANIFEST.sha256 is moved out first, its other files next,
 *   the new files in, and the new MANIFEST.sha256 last: at every moment
 *   OUTDIR holds the old report, the new one, or files with no manifest
 *   (which `verify` rejects), never a manifest over files it does not
 *   describe.
 *
 * OUTDIR is locked (flock(2) on the directory itself, created empty when
 * absent) from report_dir_open to report_dir_close, so that a second run
 * into the same OUTDIR is refused at once instead of silently replacing
 * the first one's report. Build directories left by a run that was killed
 * (its PID gone) are removed when the next run opens OUTDIR.
 *
 * report_dir_abandon may be called from another thread at any time (a
 * signal watcher): it waits for a placement under way to end, then removes
 * what this run made. Owns the paths it is given copies of and the lock.
 */
#ifndef FLOWAUDIT_REPORT_DIR_H
#define FLOWAUDIT_REPORT_DIR_H

#include "flowaudit/common.h"

struct report_dir;

/*
 * Whether outdir may receive a report: absent, an empty directory, or an
 * earlier report (it holds MANIFEST.sha256). FA_EINPUT, naming -o, for
 * anything else. Reads only; for the early check before any work.
 */
int report_dir_check(const char *outdir, struct fa_err *err);

/*
 * Checks outdir as above, creates it (and its parents) when absent, and
 * locks it. FA_ERUNTIME when another run holds the lock (the message says
 * so: a conflict of runs, not a bad input; trying again later works) or
 * outdir cannot be created; FA_EINPUT when report_dir_check refuses.
 */
int report_dir_open(const char *outdir, struct report_dir **out, struct fa_err *err);

/* Creates the build directory (removing stale ones first); once begun, does nothing. */
int report_dir_begin(struct report_dir *d, struct fa_err *err);

/* Where the report is to be written: the build directory. */
const char *report_dir_build_path(const struct report_dir *d);

/* Puts the finished build directory in OUTDIR's place. */
int report_dir_place(struct report_dir *d, struct fa_err *err);

/* Removes what this run made and has not placed: the build directory, and
   OUTDIR itself when this run created it. Safe from another thread; waits
   for a placement under way. False when the report was already placed
   (nothing is removed then). NULL: true. */
bool report_dir_abandon(struct report_dir *d);

/* Abandons what is unplaced, unlocks and frees. NULL is a no-op. */
void report_dir_close(struct report_dir *d);

#endif
