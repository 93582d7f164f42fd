/*
 * cmd_export.h - `capture --export URL`'s live half: the findings sent to
 * ClickHouse while the capture runs (report_ch_stream.h), with the same
 * server, database, label and credentials as the export of the report
 * that follows (cmd_export_dir, which also settles the live rows).
 */
#ifndef FLOWAUDIT_CMD_EXPORT_H
#define FLOWAUDIT_CMD_EXPORT_H

#include "flowaudit/report_ch_stream.h"

#include <limits.h>

struct cmd_export_live {
	struct report_ch_opts o;
	char user[REPORT_CH_CRED_MAX + 1], password[REPORT_CH_CRED_MAX + 1];
	char label[256];
	char spool[PATH_MAX];
	struct report_ch_stream *stream;
};

/*
 * Starts sending findings to url under the label the report in dir will
 * have, with the spool beside dir (report_ch_spool_path), and says so on
 * stderr unless quiet. FA_EINPUT for a spool left by an earlier capture,
 * FA_ERUNTIME for one that cannot be made; err names it.
 */
int cmd_export_live_open(struct cmd_export_live *l, const char *url, const char *dir,
			 const char *app, bool quiet, struct fa_err *err);
void cmd_export_live_add(struct cmd_export_live *l, const struct json_t *finding);
/*
 * Stops sending and says on stderr what was sent live, spooled, or not
 * sent and why. When the report went to another directory than the one
 * given at open (the capture chose it at the end), the spool is moved
 * beside report_dir, where `flowaudit export` looks for it.
 */
void cmd_export_live_close(struct cmd_export_live *l, const char *report_dir, bool quiet);

#endif
