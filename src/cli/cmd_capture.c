/*
 * cmd_capture.c - `flowaudit capture`: audit live traffic on a lab
 * interface, stream findings as NDJSON, and finish with the same report
 * directory `audit` writes.
 *
 * Frames go to the pcapng evidence file first and then through the
 * pipeline under their position in that file, so the report's frame
 * numbers and evidence pcaps refer to the capture on disk. The loop wakes
 * at least every 100 ms (the libpcap buffer timeout) to read consent events
 * from a FIFO or stdin, to check --duration and signals.
 *
 * With --export URL each finding also goes to ClickHouse as it is raised
 * (cmd_export.h: a thread of its own sends them, so a slow server never
 * holds the loop up), and the report follows once written.
 */
#include "capture_ring.h"
#include "cmd.h"
#include "cmd_export.h"

#include "flowaudit/consent.h"
#include "flowaudit/pcapng.h"
#include "flowaudit/report_json.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: flowaudit capture -i IFACE -p POLICY [options]\n"
	"  -i, --interface IFACE     interface to capture on\n"
	"  -p, --policy FILE         policy declaration (flowaudit-policy/1)\n"
	"  -f, --filter BPF          capture filter (tcpdump syntax)\n"
	"  --duration S              stop after S seconds (default: until SIGINT/SIGTERM)\n"
	"  -w, --write OUT.pcapng    keep the capture here (default reports/IFACE-TIME.pcapng)\n"
	"  --rotate-size BYTES       start a new capture file past this size\n"
	"  --rotate-seconds S        start a new capture file every S seconds\n"
	"  --buffer-size BYTES       kernel capture buffer (default 32M, 33554432)\n"
	"  -Z, --user USER           drop root for USER once the interface and files are open\n"
	"  --consent-fifo PATH       read consent events from this FIFO while capturing\n"
	"  --consent-stdin           read consent events from standard input\n"
	"  --keylog FILE             TLS key log the client writes (SSLKEYLOGFILE): read\n"
	"                            as it grows, to decrypt TLS flows (repeatable)\n"
	"  --export URL              as for 'flowaudit audit', and each finding sent to\n"
	"                            ClickHouse as it is raised (spooled beside -o,\n"
	"                            OUTDIR.clickhouse-spool, while the server is away)\n"
	"  -e, -d, --device, --vantage, -o, --format, --fail-on, -s, -g, --asn,\n"
	"  --no-geo, --max-flows, --stream-limit, --sign, --quiet: as for\n"
	"  'flowaudit audit'\n"
	"Consent lines: 'consent_granted advertising analytics', 'consent_withdrawn', or the\n"
	"JSON form of an event; each is time-stamped when it arrives.\n";

struct live {
	struct audit_session *s;
	struct report_ctx ctx;
	FILE *out;
	struct cmd_export_live *ch; /* --export: the findings into ClickHouse; else NULL */
};

static void on_signal(int sig)
{
	(void)sig;
	run_interrupted = 1;
}

static void stream_finding(const struct finding *f, void *user)
{
	struct live *lv = user;
	for (size_t i = 0; i < audit_finding_count(lv->s->audit); i++) {
		if (audit_finding(lv->s->audit, i) != f)
			continue;
		json_t *o = report_finding_json(&lv->ctx, i);
		if (lv->ch != NULL)
			cmd_export_live_add(lv->ch, o);
		json_object_set_new(o, "schema", json_string("flowaudit-finding/1"));
		json_dumpf(o, lv->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', lv->out);
		fflush(lv->out);
		json_decref(o);
		break;
	}
}

static int drop_privileges(const char *user, struct fa_err *err)
{
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		fa_err_set(err, "-Z: no such user '%s'", user);
		return FA_EINPUT;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		fa_err_set(err, "-Z %s: cannot drop privileges: %s", user, strerror(errno));
		return FA_ERUNTIME;
	}
	if (setuid(0) == 0) {
		fa_err_set(err, "-Z %s: privileges could be regained; refusing to go on", user);
		return FA_ERUNTIME;
	}
	return FA_OK;
}

/*
 * The kernel buffer when --buffer-size is not given. libpcap's own 2 MiB
 * holds a few thousand packets, so a short stall of the reader (a busy
 * machine, a burst of flows ending) already drops packets.
 *
 * Not in immediate mode: there the kernel hands over each block of the
 * ring within a millisecond, however few packets it holds, and a block is
 * as large as the 256 KiB snapshot length; 32 MiB then held about 60 ms
 * of traffic at 50,000 packets/s, and flowaudit dropped 14% of the bench
 * workload at that rate. Blocks handed over when full, or after the
 * 100 ms buffer timeout, hold the whole buffer's worth of packets (about
 * 75,000 of the workload's); findings then stream at most 100 ms later.
 */
#define DEFAULT_BUFFER (32 * 1024 * 1024)

/* The longest the loop sleeps on a silent link before it looks at the clock. */
#define WAIT_MS 100
/* Under load, consent lines are read every this many frames. */
#define CONSENT_EVERY 256

static fa_time wall_clock(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (fa_time)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/*
 * Consent lines from a FIFO or stdin, read without blocking. The FIFO is
 * also held open for writing (keep_fd) so that a test script's writer
 * closing it is not an end of file: scripts open, write a line and close,
 * as often as they like. stdin at its end is let go.
 */
struct line_reader {
	int fd, fifo_fd, keep_fd; /* fd: -1 once the input has ended */
	char buf[4096];
	size_t len;
};

static void line_reader_close(struct line_reader *lr)
{
	if (lr->fifo_fd >= 0)
		close(lr->fifo_fd);
	if (lr->keep_fd >= 0)
		close(lr->keep_fd);
	lr->fd = lr->fifo_fd = lr->keep_fd = -1;
}

static void read_consent(struct line_reader *lr, struct consent_timeline *tl)
{
	if (lr->fd < 0)
		return;
	for (;;) {
		ssize_t n = read(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - 1 - lr->len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			if (lr->len > 0)
				cmd_error("consent input ended inside a line; it was ignored");
			lr->fd = -1;
			break;
		}
		if (n < 0)
			break;
		lr->len += (size_t)n;
		char *nl;
		while ((nl = memchr(lr->buf, '\n', lr->len)) != NULL) {
			*nl = '\0';
			struct fa_err err = {""};
			if (lr->buf[0] != '\0' &&
			    consent_parse_line(tl, lr->buf, wall_clock(), &err) != FA_OK)
				cmd_error("consent event ignored: %s", err.msg);
			size_t used = (size_t)(nl - lr->buf) + 1;
			memmove(lr->buf, nl + 1, lr->len - used);
			lr->len -= used;
		}
		if (lr->len == sizeof(lr->buf) - 1) {
			cmd_error("consent line longer than %zu bytes ignored", sizeof(lr->buf) - 1);
			lr->len = 0;
		}
	}
}

int cmd_capture(int argc, char **argv)
{
	struct audit_session s;
	memset(&s, 0, sizeof(s));
	int ex = run_parse(argc, argv, RUN_LIVE | RUN_POLICY, usage, &s.run.o);
	if (ex >= 0)
		return ex;
	struct run_opts *o = &s.run.o;
	struct fa_err err = {""};
	if (o->iface == NULL) {
		cmd_error("no interface given (use -i IFACE)");
		return FA_EXIT_INPUT;
	}
	s.live = true;
	struct live lv = {.s = &s, .out = stdout};
	s.on_new_finding = stream_finding;
	s.user = &lv;
	struct source_live_opts lo = {.iface = o->iface, .filter = o->filter, .immediate = false,
				      .buffer_size = o->buffer_size ? (int)o->buffer_size
								    : DEFAULT_BUFFER,
				      .timeout_ms = 100};
	int rc = source_open_live(&lo, &s.run.src, &err);
	if (rc == FA_OK)
		rc = audit_session_open(&s, &err);
	/* the evidence file */
	char wpath[4096];
	time_t t0 = time(NULL);
	if (o->write_path) {
		snprintf(wpath, sizeof(wpath), "%s", o->write_path);
	} else {
		struct tm tm;
		gmtime_r(&t0, &tm);
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(wpath, sizeof(wpath), "reports/%s-%s.pcapng", o->iface, stamp);
	}
	/* the findings into ClickHouse as they come: the spool beside -o, or
	   beside the capture file until the report's directory is chosen */
	struct cmd_export_live ch;
	if (rc == FA_OK && o->export_url != NULL) {
		rc = cmd_export_live_open(&ch, o->export_url, o->outdir ? o->outdir : wpath,
					  s.policy->app_name, o->quiet, &err);
		lv.ch = rc == FA_OK ? &ch : NULL;
	}
	struct pcapng_writer *w = NULL;
	if (rc == FA_OK) {
		const struct source_file_info *fi = source_file(s.run.src, 0);
		struct pcapng_opts po = {.path = wpath, .linktype = fi->linktype, .iface = o->iface,
					 .rotate_bytes = o->rotate_size,
					 .rotate_seconds = o->rotate_seconds};
		rc = pcapng_writer_open(&po, &w, &err);
	}
	struct line_reader lr = {.fd = -1, .fifo_fd = -1, .keep_fd = -1};
	if (rc == FA_OK && o->consent_fifo) {
		lr.fd = lr.fifo_fd = open(o->consent_fifo, O_RDONLY | O_NONBLOCK);
		if (lr.fd >= 0)
			lr.keep_fd = open(o->consent_fifo, O_WRONLY | O_NONBLOCK);
		if (lr.fd < 0) {
			fa_err_set(&err, "%s: cannot open: %s", o->consent_fifo, strerror(errno));
			rc = FA_EINPUT;
		}
	} else if (rc == FA_OK && o->consent_stdin) {
		lr.fd = STDIN_FILENO;
		fcntl(lr.fd, F_SETFL, fcntl(lr.fd, F_GETFL) | O_NONBLOCK);
	}
	if (rc == FA_OK && o->user)
		rc = drop_privileges(o->user, &err);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		if (lv.ch != NULL)
			cmd_export_live_close(lv.ch, NULL, true);
		line_reader_close(&lr);
		pcapng_writer_free(w);
		audit_session_close(&s);
		return cmd_exit_for(rc);
	}
	lv.ctx = (struct report_ctx){.command = "capture", .src = s.run.src, .policy = s.policy,
				     .consent = s.consent, .eng = s.run.eng, .audit = s.audit};

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!o->quiet)
		fprintf(stderr, "flowaudit: capturing on %s into %s\n", o->iface, wpath);

	int run_rc = FA_OK;
	struct fa_err run_err = {""};
	uint64_t since_consent = 0, frames = 0;
	struct run_progress prog;
	run_progress_start(&prog, &s.run);
	/* a thread reads the interface and writes the capture file; this one
	   analyses each frame under its number in that file */
	struct capture_ring *ring = NULL;
	run_rc = capture_ring_start(s.run.src, w, &ring, &run_err);
	bool stopping = false;
	while (run_rc == FA_OK) {
		if (!stopping && (run_interrupted ||
				  (o->duration && time(NULL) - t0 >= (time_t)o->duration))) {
			capture_ring_stop(ring);
			stopping = true;
		}
		struct source_frame fr;
		const struct source_file_info *fi;
		int n = capture_ring_take(ring, WAIT_MS, lr.fd, &fr, &fi);
		if (n == 0)
			break;
		struct source_live_stats ls;
		if (n == 2) {
			/* nothing buffered: housekeeping, having waited for traffic */
			read_consent(&lr, s.consent);
			engine_advance(s.run.eng, wall_clock());
			capture_ring_result(ring, &ls, NULL);
			run_progress_tick(&prog, &s.run, frames, &ls);
			continue;
		}
		run_frame_time(&s.run.times, fi, &fr);
		engine_frame(s.run.eng, &fr);
		frames++;
		if (++since_consent == CONSENT_EVERY) {
			since_consent = 0;
			read_consent(&lr, s.consent);
			capture_ring_result(ring, &ls, NULL);
			run_progress_tick(&prog, &s.run, frames, &ls);
		}
	}
	run_progress_end(&prog);
	struct source_live_stats ls = {0};
	if (ring != NULL)
		run_rc = capture_ring_result(ring, &ls, &run_err);
	capture_ring_free(ring);
	read_consent(&lr, s.consent);
	run_poll_keys(&s.run, true); /* the client may have written its last keys just now */
	engine_finish(s.run.eng);
	run_report_keys(&s.run);
	audit_finish(s.audit);
	int wrc = pcapng_writer_close(w, &err);
	if (run_rc == FA_OK && wrc != FA_OK) {
		run_rc = wrc;
		run_err = err;
	}
	if (run_rc != FA_OK)
		cmd_error("%s; writing the report of what was captured", run_err.msg);
	/* the report reads the evidence back from the files just written */
	size_t nfiles = pcapng_writer_file_count(w);
	for (size_t i = 0; i < nfiles && i < RUN_MAX_INPUTS; i++)
		o->reads[i] = pcapng_writer_path(w, i);
	o->n_reads = nfiles < RUN_MAX_INPUTS ? nfiles : RUN_MAX_INPUTS;
	json_t *doc = NULL;
	struct source *live_src = s.run.src;
	rc = source_open_files(o->reads, o->n_reads, &s.run.src, &err);
	if (rc == FA_OK) {
		/* read back, the files' own counts go into the report: what is on
		   disk, not what the loop believes it wrote */
		struct source_frame fr;
		struct fa_err rerr = {""};
		while (source_next(s.run.src, &fr, &rerr) == 1)
			;
		s.live_stats = ls;
		s.have_live_stats = true;
		audit_session_judge(&s);
		rc = audit_session_report(&s, "capture", &doc, &err);
	}
	source_free(live_src);
	line_reader_close(&lr);
	if (lv.ch != NULL)
		cmd_export_live_close(lv.ch, rc == FA_OK ? s.outdir : NULL, o->quiet);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		pcapng_writer_free(w);
		audit_session_close(&s);
		return cmd_exit_for(rc);
	}
	audit_session_warnings(&s);
	if (!o->quiet) {
		fprintf(stderr, "flowaudit: capture kept in %s\n", wpath);
		audit_session_summary(&s, doc, stderr);
	}
	int ex_verdict = audit_session_exit(&s);
	/* standard output is the findings' stream: the export says only what fails */
	if (o->export_url != NULL && s.outdir != NULL &&
	    cmd_export_dir(o->export_url, s.outdir, true) != FA_EXIT_OK)
		ex_verdict = FA_EXIT_RUNTIME;
	json_decref(doc);
	pcapng_writer_free(w);
	audit_session_close(&s);
	if (run_rc != FA_OK)
		return FA_EXIT_RUNTIME;
	return ex_verdict;
}
