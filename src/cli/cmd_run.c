/*
 * cmd_run.c - option parsing and pipeline wiring shared by flows, audit
 * and capture, so the three commands accept the same spelling of the same
 * option and open the same inputs the same way.
 */
#include "cmd.h"

#include "flowaudit/device.h"
#include "flowaudit/geo.h"
#include "flowaudit/identifiers.h"
#include "flowaudit/keylog.h"
#include "flowaudit/signatures.h"
#include "flowaudit/source.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile int run_interrupted;

enum {
	OPT_JSON = 256,
	OPT_ASN,
	OPT_NO_GEO,
	OPT_DEVICE,
	OPT_FAIL_ON,
	OPT_FORMAT,
	OPT_MAX_FLOWS,
	OPT_REASM,
	OPT_DURATION,
	OPT_BUFFER,
	OPT_ROTATE_SIZE,
	OPT_ROTATE_SECONDS,
	OPT_CONSENT_FIFO,
	OPT_CONSENT_STDIN,
	OPT_QUIET,
	OPT_THREADS,
	OPT_KEYLOG,
	OPT_VANTAGE,
	OPT_SIGN,
	OPT_EXPORT,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{"read", required_argument, NULL, 'r'},
	{"geo", required_argument, NULL, 'g'},
	{"asn", required_argument, NULL, OPT_ASN},
	{"no-geo", no_argument, NULL, OPT_NO_GEO},
	{"signatures", required_argument, NULL, 's'},
	{"policy", required_argument, NULL, 'p'},
	{"events", required_argument, NULL, 'e'},
	{"device-profile", required_argument, NULL, 'd'},
	{"output", required_argument, NULL, 'o'},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"fail-on", required_argument, NULL, OPT_FAIL_ON},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"json", no_argument, NULL, OPT_JSON},
	{"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
	{"stream-limit", required_argument, NULL, OPT_REASM},
	{"interface", required_argument, NULL, 'i'},
	{"filter", required_argument, NULL, 'f'},
	{"write", required_argument, NULL, 'w'},
	{"user", required_argument, NULL, 'Z'},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"buffer-size", required_argument, NULL, OPT_BUFFER},
	{"rotate-size", required_argument, NULL, OPT_ROTATE_SIZE},
	{"rotate-seconds", required_argument, NULL, OPT_ROTATE_SECONDS},
	{"consent-fifo", required_argument, NULL, OPT_CONSENT_FIFO},
	{"consent-stdin", no_argument, NULL, OPT_CONSENT_STDIN},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"keylog", required_argument, NULL, OPT_KEYLOG},
	{"vantage", required_argument, NULL, OPT_VANTAGE},
	{"sign", required_argument, NULL, OPT_SIGN},
	{"export", required_argument, NULL, OPT_EXPORT},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static unsigned opt_class(int c)
{
	switch (c) {
	case 'r': case OPT_THREADS: return RUN_READ;
	case 'p': case 'e': case 'd': case 'o': case OPT_DEVICE: case OPT_FAIL_ON: case OPT_FORMAT:
	case OPT_VANTAGE:
	case OPT_SIGN: case OPT_EXPORT:
		return RUN_POLICY;
	case 'i': case 'f': case 'w': case 'Z': case OPT_DURATION: case OPT_BUFFER:
	case OPT_ROTATE_SIZE: case OPT_ROTATE_SECONDS: case OPT_CONSENT_FIFO: case OPT_CONSENT_STDIN:
		return RUN_LIVE;
	case OPT_JSON: return RUN_JSON;
	default: return 0; /* allowed everywhere */
	}
}

static bool count_arg(const char *name, const char *v, unsigned long long *out)
{
	if (!cmd_parse_count(v, out)) {
		cmd_error("%s: '%s' is not a number", name, v);
		return false;
	}
	return true;
}

int run_parse(int argc, char **argv, unsigned mask, const char *usage, struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":hr:g:s:p:e:d:o:i:f:w:Z:", long_opts, NULL)) != -1) {
		if (c == OPT_HELP || c == 'h') {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		}
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			if (c == ':')
				cmd_error("option '%s' needs a value", bad);
			else
				cmd_error("unknown option '%s'", bad);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		}
		unsigned cls = opt_class(c);
		if (cls != 0 && (cls & mask) == 0) {
			/* argv[optind - 1] is the value when the option took one */
			const char *name = argv[optind - 1];
			if (optarg != NULL && name == optarg && optind >= 2)
				name = argv[optind - 2];
			cmd_error("option '%s' does not apply to '%s'", name, argv[0]);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		}
		switch (c) {
		case 'r':
			if (o->n_reads == RUN_MAX_INPUTS) {
				cmd_error("at most %d capture files per run", RUN_MAX_INPUTS);
				return FA_EXIT_INPUT;
			}
			o->reads[o->n_reads++] = optarg;
			break;
		case 'g': o->geo_path = optarg; break;
		case OPT_ASN: o->asn_path = optarg; break;
		case OPT_NO_GEO: o->no_geo = true; break;
		case 's': {
			const char *why;
			if (!sig_path_append(o->sig_list, sizeof(o->sig_list), optarg, &why)) {
				cmd_error("-s %s: %s", optarg, why);
				return FA_EXIT_INPUT;
			}
			o->sig_dir = o->sig_list;
			break;
		}
		case 'p': o->policy_path = optarg; break;
		case 'e': o->events_path = optarg; break;
		case 'd': o->device_path = optarg; break;
		case 'o': o->outdir = optarg; break;
		case OPT_DEVICE:
			if (o->n_devices == sizeof(o->devices) / sizeof(o->devices[0])) {
				cmd_error("at most 64 --device options");
				return FA_EXIT_INPUT;
			}
			o->devices[o->n_devices++] = optarg;
			break;
		case OPT_FAIL_ON: o->fail_on = optarg; break;
		case OPT_FORMAT: o->formats = optarg; break;
		case OPT_VANTAGE: o->vantage = optarg; break;
		case OPT_SIGN: o->sign_key = optarg; break;
		case OPT_EXPORT: o->export_url = optarg; break;
		case OPT_JSON: o->json = true; break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_MAX_FLOWS:
			if (!count_arg("--max-flows", optarg, &o->max_flows))
				return FA_EXIT_INPUT;
			if (o->max_flows == 0 || o->max_flows > (1ULL << 32)) {
				cmd_error("--max-flows: %s is out of range (1 to 4294967296)", optarg);
				return FA_EXIT_INPUT;
			}
			break;
		case OPT_THREADS:
			if (!count_arg("--threads", optarg, &o->threads))
				return FA_EXIT_INPUT;
			if (o->threads == 0 || o->threads > ENGINE_MAX_THREADS) {
				cmd_error("--threads: %s is out of range (1 to %d)", optarg,
					  ENGINE_MAX_THREADS);
				return FA_EXIT_INPUT;
			}
			break;
		case OPT_KEYLOG:
			if (o->n_keylogs == RUN_MAX_KEYLOGS) {
				cmd_error("at most %d --keylog options", RUN_MAX_KEYLOGS);
				return FA_EXIT_INPUT;
			}
			o->keylogs[o->n_keylogs++] = optarg;
			break;
		case OPT_REASM:
			if (!count_arg("--stream-limit", optarg, &o->reasm_limit))
				return FA_EXIT_INPUT;
			break;
		case 'i': o->iface = optarg; break;
		case 'f': o->filter = optarg; break;
		case 'w': o->write_path = optarg; break;
		case 'Z': o->user = optarg; break;
		case OPT_DURATION:
			if (!count_arg("--duration", optarg, &o->duration))
				return FA_EXIT_INPUT;
			break;
		case OPT_BUFFER:
			if (!count_arg("--buffer-size", optarg, &o->buffer_size))
				return FA_EXIT_INPUT;
			if (o->buffer_size == 0 || o->buffer_size > 0x7fffffffULL) {
				cmd_error("--buffer-size: %s is out of range (1 to 2147483647)", optarg);
				return FA_EXIT_INPUT;
			}
			break;
		case OPT_ROTATE_SIZE:
			if (!count_arg("--rotate-size", optarg, &o->rotate_size))
				return FA_EXIT_INPUT;
			break;
		case OPT_ROTATE_SECONDS:
			if (!count_arg("--rotate-seconds", optarg, &o->rotate_seconds))
				return FA_EXIT_INPUT;
			break;
		case OPT_CONSENT_FIFO: o->consent_fifo = optarg; break;
		case OPT_CONSENT_STDIN: o->consent_stdin = true; break;
		default: break;
		}
	}
	if (optind < argc) {
		cmd_error("unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	if ((mask & RUN_READ) && !(mask & RUN_LIVE) && o->n_reads == 0) {
		cmd_error("no capture given: use -r FILE");
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	return -1;
}

static fa_time wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (fa_time)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void run_poll_keys(struct run *r, bool final)
{
	for (size_t i = 0; i < r->n_keyfiles; i++) {
		struct fa_err err = {""};
		if (keylog_file_poll(r->keyfiles[i], r->keys, final, &err) < 0) {
			cmd_error("%s; it is no longer read", err.msg);
			keylog_file_close(r->keyfiles[i]);
			r->keyfiles[i--] = r->keyfiles[--r->n_keyfiles];
		}
	}
	r->keys_polled = wall_now();
}

/*
 * The engine's keys_update: before frame fr, the secrets blocks of the
 * captures that came before it; a live capture's key log files once a
 * second, and whenever a flow ends (fr NULL).
 */
static void run_keys_update(void *user, const struct source_frame *fr)
{
	struct run *r = user;
	const struct source_secret *sec;
	while ((sec = source_secret_next(r->src, fr ? fr->file : UINT32_MAX,
					 fr ? fr->frame : UINT64_MAX, &r->next_secret)) != NULL) {
		if (sec->type != SOURCE_SECRETS_TLS_KEYLOG)
			continue;
		const struct source_file_info *fi = source_file(r->src, sec->file);
		char origin[600];
		snprintf(origin, sizeof(origin), "%s: secrets block before frame %llu",
			 fi ? fi->path : "capture", (unsigned long long)sec->before);
		keylog_add_text(r->keys, sec->data, sec->len, origin);
	}
	if (r->n_keyfiles > 0 && (fr == NULL || wall_now() - r->keys_polled >= 1000000))
		run_poll_keys(r, false);
}

/* The key log: --keylog files (read whole, or polled when live), and a
   store for a pcapng's secrets blocks. */
static int open_keys(struct run *r, struct fa_err *err)
{
	const struct run_opts *o = &r->o;
	bool pcapng = false;
	for (size_t i = 0; r->src != NULL && o->iface == NULL && i < source_file_count(r->src); i++)
		pcapng |= source_file(r->src, i)->pcapng;
	if (o->n_keylogs == 0 && !pcapng)
		return FA_OK;
	r->keys = keylog_new(0);
	if (r->keys == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	for (size_t i = 0; i < o->n_keylogs; i++) {
		if (o->iface == NULL) {
			int rc = keylog_load_file(r->keys, o->keylogs[i], err);
			if (rc != FA_OK)
				return rc;
			continue;
		}
		r->keyfiles[r->n_keyfiles] = keylog_file_open(o->keylogs[i], err);
		if (r->keyfiles[r->n_keyfiles] == NULL)
			return FA_EINPUT;
		r->n_keyfiles++;
	}
	if (r->n_keyfiles > 0)
		run_poll_keys(r, false);
	run_report_keys(r);
	return FA_OK;
}

void run_report_keys(struct run *r)
{
	if (r->keys == NULL)
		return;
	const struct keylog_stats *ks = keylog_stats(r->keys);
	for (; r->keys_told < ks->n_messages; r->keys_told++)
		cmd_error("%s", ks->messages[r->keys_told]);
}

int run_open(struct run *r, engine_flow_cb on_flow, void *user, struct fa_err *err)
{
	const struct run_opts *o = &r->o;
	int rc;
	if (!o->no_geo) {
		const char *cp = o->geo_path ? o->geo_path : geo_default_country_path();
		const char *ap = o->asn_path ? o->asn_path : (o->geo_path ? NULL : geo_default_asn_path());
		if (cp != NULL || ap != NULL) {
			rc = geo_open(cp, ap, &r->geo, err);
			if (rc != FA_OK)
				return rc;
		}
	}
	const char *sd = o->sig_dir ? o->sig_dir : sig_default_dir();
	if (sd != NULL) {
		if (o->sig_dir == NULL && strchr(sd, ':') == NULL && access(sd, F_OK) != 0) {
			fa_err_set(err, "no signature catalogue found ($FLOWAUDIT_SIGNATURES, ./signatures, "
					"signatures/ beside the binary, %s): pass -s DIR, or run "
					"'make install'", sd);
			return FA_EINPUT;
		}
		rc = sig_db_load_path(sd, &r->sigs, err);
		if (rc != FA_OK)
			return rc;
	}
	if (o->device_path != NULL) {
		rc = device_load(o->device_path, &r->dev, err);
		if (rc != FA_OK)
			return rc;
		r->ids = idscan_new(r->dev, err);
		if (r->ids == NULL)
			return FA_EINPUT;
	}
	rc = open_keys(r, err);
	if (rc != FA_OK)
		return rc;
	struct engine_cfg cfg;
	engine_cfg_default(&cfg);
	cfg.keys = r->keys;
	if (r->keys != NULL) {
		cfg.keys_update = run_keys_update;
		cfg.keys_user = r;
	}
	if (o->max_flows)
		cfg.flows.max_flows = (size_t)o->max_flows;
	if (o->reasm_limit)
		cfg.reasm_limit = (size_t)o->reasm_limit;
	cfg.geo = r->geo;
	cfg.sigs = r->sigs;
	cfg.ids = r->ids;
	cfg.on_flow = on_flow;
	cfg.user = user;
	/* a replay hands on its flows in id order, whatever the threads; a
	   live capture as they end */
	cfg.ordered = o->iface == NULL;
	cfg.threads = (unsigned)o->threads;
	return engine_new(&cfg, &r->eng, err);
}

static void on_signal(int sig)
{
	(void)sig;
	run_interrupted = 1;
}

/* The watcher's hook, and the signals it waits for. */
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static bool (*stop_fn)(void *);
static void *stop_arg;
static sigset_t stop_set;

void run_on_stop(bool (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&stop_mu);
	stop_fn = fn;
	stop_arg = arg;
	pthread_mutex_unlock(&stop_mu);
}

static void *watch_main(void *arg)
{
	(void)arg;
	int sig = 0;
	while (sigwait(&stop_set, &sig) != 0)
		;
	run_interrupted = 1;
	/* held until the process ends: the hook's object stays alive */
	pthread_mutex_lock(&stop_mu);
	bool intact = stop_fn == NULL || stop_fn(stop_arg);
	const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
	if (intact)
		cmd_error("interrupted by %s: stopped; no report was written, and the output "
			  "directory holds what it held before", name);
	else
		cmd_error("interrupted by %s after the report was put in place", name);
	_exit(128 + sig);
}

int run_watch_signals(void)
{
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	pthread_t t;
	if (pthread_sigmask(SIG_BLOCK, &stop_set, NULL) != 0 ||
	    pthread_create(&t, NULL, watch_main, NULL) != 0)
		return FA_ERUNTIME;
	pthread_detach(t);
	return FA_OK;
}

void run_frame_time(struct run_times *t, const struct source_file_info *fi,
		    struct source_frame *fr)
{
	/* the source counts the stamps it clamped, file by file */
	if (fi != t->bad_of) {
		t->bad_of = fi;
		t->bad_seen = 0;
	}
	bool clamped = fi != NULL && fi->bad_timestamps > t->bad_seen;
	if (fi != NULL)
		t->bad_seen = fi->bad_timestamps;
	if (clamped || (fr->ts_sec == 0 && fr->ts_nsec == 0)) {
		if (t->unusable++ == 0) {
			t->unusable_file = fr->file;
			t->unusable_frame = fr->frame;
		}
		if (t->any)
			fr->ts = t->prev;
		return;
	}
	if (t->any && fr->ts + RUN_REORDER_SLACK < t->latest) {
		if (t->unordered++ == 0) {
			t->unordered_file = fr->file;
			t->unordered_frame = fr->frame;
		}
		if (t->latest - fr->ts > t->max_back)
			t->max_back = t->latest - fr->ts;
	}
	if (!t->any || fr->ts > t->latest)
		t->latest = fr->ts;
	t->prev = fr->ts;
	t->any = true;
	if (fr->file < RUN_MAX_INPUTS) {
		struct report_file_times *ft = &t->file[fr->file];
		if (ft->first == 0 || fr->ts < ft->first)
			ft->first = fr->ts;
		if (fr->ts > ft->last)
			ft->last = fr->ts;
		if (fr->file >= t->n_files)
			t->n_files = fr->file + 1;
	}
}

#define PROGRESS_US 250000 /* between two redraws of the progress line */

void run_progress_start(struct run_progress *p, const struct run *r)
{
	memset(p, 0, sizeof(*p));
	p->on = !r->o.quiet && isatty(STDERR_FILENO);
	p->start = wall_now();
	p->last = p->start - PROGRESS_US; /* the first tick draws */
}

/* 12345678 as "12.3M", for a line that must stay short. */
static const char *short_count(double v, char *buf, size_t n)
{
	if (v >= 1e9)
		snprintf(buf, n, "%.1fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, n, "%.1fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, n, "%.0fk", v / 1e3);
	else
		snprintf(buf, n, "%.0f", v);
	return buf;
}

void run_progress_tick(struct run_progress *p, struct run *r, uint64_t frames)
{
	if (!p->on)
		return;
	fa_time now = wall_now();
	if (now - p->last < PROGRESS_US)
		return;
	p->last = now;
	struct engine_stats st;
	engine_stats(r->eng, &st);
	char pk[16], fl[16], rate[16], where[64] = "";
	double secs = (double)(now - p->start) / 1e6;
	uint64_t done, total;
	source_progress(r->src, &done, &total);
	if (total > 0) {
		int prec = total < 100000000 ? 1 : 0; /* MB, a decimal below 100 */
		snprintf(where, sizeof(where), ", %.*f of %.*f MB (%.0f%%)", prec,
			 (double)done / 1e6, prec, (double)total / 1e6,
			 100.0 * (double)done / (double)total);
	} else if (r->o.iface != NULL) {
		struct source_live_stats ls;
		source_live_stats(r->src, &ls);
		if (ls.valid)
			snprintf(where, sizeof(where), ", %s dropped by the kernel",
				 short_count((double)(ls.dropped + ls.if_dropped), fl, sizeof(fl)));
	}
	fprintf(stderr, "\rflowaudit: %s packets, %s flows, %s packets/s%s\033[K",
		short_count((double)frames, pk, sizeof(pk)),
		short_count((double)st.flows.created, fl, sizeof(fl)),
		short_count(secs > 0 ? (double)frames / secs : 0, rate, sizeof(rate)), where);
	p->shown = true;
}

void run_progress_end(struct run_progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}

int run_replay(struct run *r, struct fa_err *err)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct run_progress prog;
	run_progress_start(&prog, r);
	struct source_frame fr;
	int rc = 0;
	uint64_t n = 0;
	while (!run_interrupted && (rc = source_next(r->src, &fr, err)) == 1) {
		run_frame_time(&r->times, source_file(r->src, fr.file), &fr);
		engine_frame(r->eng, &fr);
		if ((++n & 0xfff) == 0)
			run_progress_tick(&prog, r, n);
	}
	run_progress_end(&prog);
	engine_finish(r->eng);
	if (run_interrupted) {
		fa_err_set(err, "interrupted");
		return FA_ERUNTIME;
	}
	if (rc < 0)
		return rc;
	/* a file that gave nothing at all cannot be audited: say so, exit 2 */
	for (size_t i = 0; i < source_file_count(r->src); i++) {
		const struct source_file_info *fi = source_file(r->src, i);
		if (fi->truncated && fi->frames == 0) {
			fa_err_set(err, "%s: cannot read capture: %s", fi->path, fi->error);
			return FA_EINPUT;
		}
		if (fi->frames == 0) {
			fa_err_set(err, "%s: the capture holds no frame (a file header and nothing "
				   "after it): there is nothing to audit", fi->path);
			return FA_EINPUT;
		}
	}
	return FA_OK;
}

void run_close(struct run *r)
{
	engine_free(r->eng);
	for (size_t i = 0; i < r->n_keyfiles; i++)
		keylog_file_close(r->keyfiles[i]);
	keylog_free(r->keys);
	source_free(r->src);
	idscan_free(r->ids);
	device_free(r->dev);
	sig_db_free(r->sigs);
	geo_free(r->geo);
	memset(r, 0, sizeof(*r));
}
