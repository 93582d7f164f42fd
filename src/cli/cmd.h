/*
 * cmd.h - the command line's own pieces, shared by the subcommands.
 *
 * Only main.c and cmd_*.c print or choose exit codes. Each subcommand takes
 * argv with argv[0] naming it and returns the process exit status.
 */
#ifndef FLOWAUDIT_CMD_H
#define FLOWAUDIT_CMD_H

#include "flowaudit/common.h"

#include <stdio.h>

#define FLOWAUDIT_VERSION "0.1.0"

int cmd_flows(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_sigs(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_evidence(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_export(int argc, char **argv);
/* --export URL of audit and capture: the URL checked before any work, and
   the report directory exported once written (exit status; credentials
   from CLICKHOUSE_USER and CLICKHOUSE_PASSWORD). */
int cmd_export_check(const char *url, struct fa_err *err);
int cmd_export_dir(const char *url, const char *dir, bool quiet);

/* "flowaudit: <message>" on stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit status for a stage status (FA_EINPUT -> 2, FA_ERUNTIME -> 3). */
int cmd_exit_for(int status);
/* Parses a size/count with optional k/M/G suffix; false on junk. */
bool cmd_parse_count(const char *s, unsigned long long *out);
/* Seconds on a clock that only moves forward, for timing phases. */
double cmd_mono_s(void);


/* ---- options shared by flows, audit and capture (cmd_run.c) ---- */

#include "flowaudit/engine.h"
#include "flowaudit/report_json.h"

enum run_opt_mask {
	RUN_READ = 1 << 0,    /* -r FILE */
	RUN_POLICY = 1 << 1,  /* -p, -e, -d, -o, --device, --fail-on, --format */
	RUN_LIVE = 1 << 2,    /* -i, -f, --duration, -w, -Z, ... */
	RUN_JSON = 1 << 3,    /* --json */
};

#define RUN_MAX_INPUTS 256
#define RUN_MAX_KEYLOGS 64

struct run_opts {
	const char *reads[RUN_MAX_INPUTS];
	size_t n_reads;
	const char *geo_path, *asn_path;
	bool no_geo;
	const char *sig_dir;            /* -s: a colon-separated list, in sig_list */
	char sig_list[SIG_MAX_PATH_LIST];
	const char *policy_path, *events_path, *device_path, *outdir;
	const char *fail_on, *formats;
	const char *vantage;  /* --vantage CC or LAT,LON */
	const char *sign_key;      /* --sign KEY.pem: sign the report's manifest */
	const char *export_url;    /* --export URL: the report into ClickHouse */
	const char *devices[64];
	size_t n_devices;
	bool json, quiet;
	unsigned long long max_flows, reasm_limit, threads;
	const char *keylogs[RUN_MAX_KEYLOGS]; /* --keylog FILE, in order */
	size_t n_keylogs;
	/* live capture */
	const char *iface, *filter, *write_path, *user, *consent_fifo;
	unsigned long long duration, buffer_size, rotate_size, rotate_seconds;
	bool consent_stdin;
};

/*
 * The time stamps of the frames a run hands the engine, as run_frame_time()
 * finds them. A frame more than RUN_REORDER_SLACK earlier than the latest
 * before it is out of order (captures on several queues or interfaces
 * reorder by microseconds; that is not counted). A frame whose time stamp
 * is 0 or out of range (clamped) has no usable time: it takes the time of
 * the frame before it, so that one bad stamp does not stretch every range
 * to 1970 or to the year 126,000.
 */
#define RUN_REORDER_SLACK 1000 /* microseconds */

struct run_times {
	fa_time latest, prev;       /* usable times: the latest so far, the last one */
	bool any;                   /* a usable time was seen */
	const struct source_file_info *bad_of; /* the file (or interface) bad_seen counts for */
	uint64_t bad_seen;          /* its clamped stamps already looked at */
	uint64_t unordered, unusable;
	fa_time max_back;           /* how far back the furthest out-of-order frame went */
	uint32_t unordered_file, unusable_file;   /* the first of each: file ... */
	uint64_t unordered_frame, unusable_frame; /* ... and frame number */
	size_t n_files;
	struct report_file_times file[RUN_MAX_INPUTS]; /* usable first and last, per file */
};

struct run {
	struct run_opts o;
	struct run_times times;
	struct geo *geo;
	struct sig_db *sigs;
	struct device_profile *dev;
	struct idscan *ids;
	struct engine *eng;
	struct source *src;
	struct keylog *keys;     /* --keylog files and the captures' secrets; NULL: none */
	size_t next_secret;      /* the source's next Decryption Secrets Block to take */
	/* a live capture: its --keylog files, polled as they grow */
	struct keylog_file *keyfiles[RUN_MAX_KEYLOGS];
	size_t n_keyfiles;
	fa_time keys_polled;     /* when they were last polled (wall clock) */
	uint64_t keys_told;      /* key log messages already printed */
};

/*
 * Parses options of a subcommand (mask says which are allowed). Returns -1
 * when all is well, else the exit status to return (0 after --help).
 */
int run_parse(int argc, char **argv, unsigned mask, const char *usage, struct run_opts *o);
/* Opens geo, signatures, device profile and the engine. FA_* status. */
int run_open(struct run *r, engine_flow_cb on_flow, void *user, struct fa_err *err);
/* Reads every frame of r->src through the engine; progress on a terminal.
   A file that yields no frame at all is FA_EINPUT, naming it. */
int run_replay(struct run *r, struct fa_err *err);
/* Checks fr's time stamp against the frames before it (struct run_times)
   and gives a frame without a usable one the time of the frame before it;
   fi is the source's record of the file fr came from. */
void run_frame_time(struct run_times *t, const struct source_file_info *fi,
		    struct source_frame *fr);
void run_close(struct run *r);

/*
 * One line of progress on stderr, redrawn a few times a second, when
 * stderr is a terminal and --quiet was not given: packets, flows, packets
 * per second, and for a replay how far into its files it is (bytes read of
 * their size), for a live capture the packets the kernel dropped.
 */
struct run_progress {
	bool on;
	fa_time start, last;     /* monotonic, microseconds */
	bool shown;              /* a line is on the terminal */
};
void run_progress_start(struct run_progress *p, const struct run *r);
/* Redraws the line when it is due; frames: the packets read so far; live:
   the kernel's counters (NULL for a replay). */
void run_progress_tick(struct run_progress *p, struct run *r, uint64_t frames,
		       const struct source_live_stats *live);
/* Clears the line. */
void run_progress_end(struct run_progress *p);
/* Tells the user on stderr about files cut short, frames skipped, flows evicted,
   key log lines that were malformed or not used. */
void cmd_report_input_problems(struct run *r);
/* A live capture: reads the lines appended to its --keylog files since the
   last poll (final: a last line without newline too). */
void run_poll_keys(struct run *r, bool final);
/* On stderr: the key log's messages (malformed lines, conflicts) not yet told. */
void run_report_keys(struct run *r);
/* Set by SIGINT/SIGTERM handlers installed by run_replay and capture. */
extern volatile int run_interrupted;
/*
 * Blocks SIGINT and SIGTERM in the calling thread and every thread it
 * starts after, and starts a thread that waits for them: on one, it calls
 * the hook run_on_stop() set (true: nothing was left half-made and OUTDIR
 * is as it was), says so on stderr, and ends the process with 128 + the
 * signal's number (130, 143). Called first thing by a command that stops
 * in every phase.
 */
int run_watch_signals(void);
/* The watcher's hook (NULL: none); waits while the watcher runs it. */
void run_on_stop(bool (*fn)(void *), void *arg);

/* ---- an audit run: shared by audit and capture (cmd_audit.c) ---- */

#include "flowaudit/audit.h"
#include "flowaudit/evidence.h"
#include "flowaudit/report_dir.h"
#include "flowaudit/report_sign.h"

#include <jansson.h>

enum {
	FMT_JSON = 1,
	FMT_HTML = 2,
	FMT_NDJSON = 4,
	FMT_JUNIT = 8,
	FMT_EVIDENCE = 16,
	FMT_ALL = 31,
	FMT_EVIDENCE_FILES = 32, /* one evidence file per finding, however many */
	FMT_EVIDENCE_PACK = 64,  /* the evidence pack, however few */
};

/* Exit status of an audit that could not look at all it was asked to. */
#define CMD_EXIT_INCONCLUSIVE 4

/* A line for report.json's notes, and under code, a verdict reason. */
struct session_note {
	const char *code;              /* NULL: a note only */
	char text[REPORT_REASON_TEXT];
};
#define SESSION_NOTES_MAX 12

struct audit_session {
	struct run run;
	struct policy *policy;
	struct consent_timeline *consent;
	struct audit *audit;
	enum audit_severity fail_on;
	unsigned formats;
	fa_addr dev_addrs[64];
	size_t n_dev_addrs;
	uint8_t dev_macs[64][6];
	size_t n_dev_macs;
	audit_finding_cb on_new_finding;
	void *user;
	bool live;
	bool have_live_stats;
	struct source_live_stats live_stats;
	const char *outdir;
	char *outdir_alloc;
	const char *const *capture_paths;
	size_t n_capture_paths;
	struct evidence_set *evidence;
	size_t n_evidence;
	struct evidence_pack *evidence_pack; /* NULL: one file per finding */
	struct report_dir *rdir; /* OUTDIR, locked */
	struct report_key *sign_key; /* --sign: signs MANIFEST.sha256; NULL: none */
	struct capture_digests *cap_digests; /* being computed beside the replay */
	/* the evidence pack written beside the replay (audit_report.c): the
	   findings the flow being audited joined; started: the writer runs;
	   off: it will not be used in this session */
	struct evidence_stream *ev_stream;
	size_t *joined;
	size_t n_joined, cap_joined;
	bool ev_stream_off;
	bool ev_beside;    /* the pack was written beside the replay */
	/* wall seconds of each phase, for the summary */
	double t_replay, t_evidence, t_outputs, t_hashes;
	/* what the audit could not look at (audit_session_judge) */
	struct session_note notes[SESSION_NOTES_MAX];
	size_t n_notes;
	struct report_reasons reasons;
	enum report_verdict verdict;
};

/* Checks every input and opens the pipeline; r->src must be open. */
int audit_session_open(struct audit_session *s, struct fa_err *err);
/* Locks outdir for this session's report (report_dir_open). */
int audit_session_lock(struct audit_session *s, const char *outdir, struct fa_err *err);
/*
 * After the last frame and audit_finish(): what the audit could not look
 * at (no frame, no device traffic, a capture cut short, time stamps out of
 * order or unusable, a device's traffic left out), as notes and verdict
 * reasons, and the verdict.
 */
void audit_session_judge(struct audit_session *s);
/* The exit status for the verdict: 0, 1, or CMD_EXIT_INCONCLUSIVE. */
int audit_session_exit(const struct audit_session *s);
/* The engine's flow callback of an audit: audit_flow(), then the flow's
   evidence to the pack being written beside the replay, if any. */
void audit_session_flow(const struct flow_record *r, const struct id_hit *hits, size_t n_hits,
			void *user);
/* The audit's on_joined callback: notes the findings of the flow. */
void audit_session_joined(const struct finding *f, const struct flow_record *r, void *user);
/* The engine's horizon callback of an audit, for the same pack. */
void audit_session_horizon(uint32_t file, uint64_t frame, void *user);
/* Stops that writer, removing what it wrote (audit_session_close()). */
void audit_session_stream_free(struct audit_session *s);
/* Starts hashing the capture files beside the replay, on a machine with
   more than one processor (else the report hashes them); ..._end() waits
   for that work and drops it (audit_session_close() calls it). */
void audit_session_hash_captures(struct audit_session *s);
void audit_session_hash_captures_end(struct audit_session *s);
/* A note for the report on what the audit could not look at; with a code,
   also a reason of the verdict (report_reason_add). */
void audit_session_note(struct audit_session *s, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Writes the report directory; *doc gets the report document. */
int audit_session_report(struct audit_session *s, const char *command, json_t **doc,
			 struct fa_err *err);
/* On stderr: what the audit could not look at (but files cut short, which
   cmd_report_input_problems() tells), a database that placed nothing. */
void audit_session_warnings(struct audit_session *s);
/* The short summary on `to`: counts, destinations by country, findings by rule. */
void audit_session_summary(struct audit_session *s, const json_t *doc, FILE *to);
void audit_session_close(struct audit_session *s);

#endif
