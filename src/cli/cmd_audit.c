/*
 * cmd_audit.c - `flowaudit audit`: replay captures, audit them against a
 * policy declaration, write the report directory.
 *
 * Everything that can be wrong with the inputs (captures, declaration,
 * events, device profile, signatures, databases) is checked before the
 * first packet is read and before anything is written, so a bad input
 * leaves no report directory behind. OUTDIR is locked once the inputs are
 * known to be good; the report is assembled aside and put in place at the
 * end (report_dir.h) by the report phase (audit_report.c). SIGINT and
 * SIGTERM stop every phase: the watcher (cmd_run.c) abandons the unplaced
 * report and exits 130 or 143.
 */
#include "cmd.h"

#include "flowaudit/audit.h"
#include "flowaudit/consent.h"
#include "flowaudit/device.h"
#include "flowaudit/geo.h"
#include "flowaudit/hash.h"
#include "flowaudit/manifest.h"
#include "flowaudit/policy.h"
#include "flowaudit/report.h"
#include "flowaudit/report_dir.h"
#include "flowaudit/signatures.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: flowaudit audit -r FILE [-r FILE...] -p POLICY [options]\n"
	"  -r, --read FILE           capture to replay (pcap or pcapng; repeatable)\n"
	"  -p, --policy FILE         policy declaration (flowaudit-policy/1)\n"
	"  -e, --events FILE         consent timeline (without it nothing is consented)\n"
	"  -d, --device-profile FILE identifiers of the device under test\n"
	"  --device IP|MAC           the device under test (repeatable; default: every\n"
	"                            private, ULA, link-local or CGNAT client)\n"
	"  --vantage CC|LAT,LON      where the capture was made: the location check of\n"
	"                            cross-border findings (default: the device\n"
	"                            profile's \"vantage\", else none)\n"
	"  -o, --output DIR          report directory (default reports/NAME-TIME)\n"
	"  --format LIST             json,html,ndjson,junit,evidence (default: all);\n"
	"                            evidence-files or evidence-pack: the evidence as\n"
	"                            one file per finding, or one pack (default: files\n"
	"                            up to 50 findings, the pack above)\n"
	"  --fail-on LEVEL           info|low|medium|high: exit 1 when a finding is at\n"
	"                            or above LEVEL (default low); never: report only\n"
	"  -s, --signatures DIR      signature catalogue (default: the shipped one);\n"
	"                            repeat it for layers: the first that matches wins\n"
	"  -g, --geo DB              country database (MaxMind DB format)\n"
	"  --asn DB                  ASN database (MaxMind DB format)\n"
	"  --no-geo                  do not locate addresses\n"
	"  --max-flows N             live flows kept at once (default 262144)\n"
	"  --stream-limit BYTES      stream bytes scanned per direction (default 256Ki)\n"
	"  --threads N               1, or 2: nDPI in a thread of its own (same output)\n"
	"  --keylog FILE             TLS key log (SSLKEYLOGFILE format): decrypt the TLS\n"
	"                            flows it has secrets for (repeatable); a pcapng's\n"
	"                            secrets blocks are read with no option\n"
	"  --sign KEY.pem            sign MANIFEST.sha256 with this Ed25519 private key\n"
	"                            (MANIFEST.sha256.sig; verify --key checks it)\n"
	"  --export URL              then export the report into ClickHouse (flowaudit\n"
	"                            export; credentials from CLICKHOUSE_USER/PASSWORD)\n"
	"  --quiet                   no progress and no summary\n";

static struct sig_db *known_sigs;

static bool sdk_known(const char *id, void *ctx)
{
	(void)ctx;
	return known_sigs != NULL && sig_db_find(known_sigs, id) != NULL;
}


int audit_session_open(struct audit_session *s, struct fa_err *err)
{
	struct run *r = &s->run;
	const struct run_opts *o = &r->o;
	int orc = report_dir_check(o->outdir, err);
	if (orc != FA_OK)
		return orc;
	s->fail_on = SEV_LOW;
	if (o->fail_on != NULL && !report_fail_on_parse(o->fail_on, &s->fail_on)) {
		fa_err_set(err, "--fail-on: '%s' is not one of info, low, medium, high, never",
			   o->fail_on);
		return FA_EINPUT;
	}
	s->formats = FMT_ALL;
	if (o->formats != NULL) {
		s->formats = 0;
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", o->formats);
		char *save = NULL;
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (strcmp(t, "json") == 0) s->formats |= FMT_JSON;
			else if (strcmp(t, "html") == 0) s->formats |= FMT_HTML;
			else if (strcmp(t, "ndjson") == 0) s->formats |= FMT_NDJSON;
			else if (strcmp(t, "junit") == 0) s->formats |= FMT_JUNIT;
			else if (strcmp(t, "evidence") == 0) s->formats |= FMT_EVIDENCE;
			else if (strcmp(t, "evidence-files") == 0)
				s->formats |= FMT_EVIDENCE | FMT_EVIDENCE_FILES;
			else if (strcmp(t, "evidence-pack") == 0)
				s->formats |= FMT_EVIDENCE | FMT_EVIDENCE_PACK;
			else if (strcmp(t, "all") == 0) s->formats |= FMT_ALL;
			else {
				fa_err_set(err, "--format: unknown format '%s' (json, html, ndjson, "
					   "junit, evidence, evidence-files, evidence-pack, all)", t);
				return FA_EINPUT;
			}
		}
		if ((s->formats & FMT_EVIDENCE_FILES) && (s->formats & FMT_EVIDENCE_PACK)) {
			fa_err_set(err, "--format: evidence-files and evidence-pack both given: "
				   "choose one");
			return FA_EINPUT;
		}
		s->formats |= FMT_JSON; /* every other output is rendered from it */
	}
	if (o->export_url != NULL) {
		int erc = cmd_export_check(o->export_url, err);
		if (erc != FA_OK)
			return erc;
	}
	if (o->sign_key != NULL) {
		int krc = report_key_load_private(o->sign_key, &s->sign_key, err);
		if (krc != FA_OK)
			return krc;
	}
	if (o->policy_path == NULL) {
		fa_err_set(err, "no policy declaration given (use -p POLICY)");
		return FA_EINPUT;
	}
	/* the evidence pcaps are cut from a second read of each capture */
	for (size_t i = 0; !s->live && (s->formats & FMT_EVIDENCE) && i < o->n_reads; i++) {
		if (!source_path_rereadable(o->reads[i])) {
			fa_err_set(err, "-r %s: not a file, and the evidence pcaps need a second read "
				   "of the capture: save it to a file first, or leave evidence out "
				   "(--format json,html,ndjson,junit)", o->reads[i]);
			return FA_EINPUT;
		}
	}
	for (size_t i = 0; i < o->n_devices; i++) {
		unsigned m[6];
		char tail;
		if (fa_addr_parse(o->devices[i], &s->dev_addrs[s->n_dev_addrs])) {
			s->n_dev_addrs++;
		} else if (sscanf(o->devices[i], "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3],
				  &m[4], &m[5], &tail) == 6) {
			for (int k = 0; k < 6; k++)
				s->dev_macs[s->n_dev_macs][k] = (uint8_t)m[k];
			s->n_dev_macs++;
		} else {
			fa_err_set(err, "--device: '%s' is neither an IP address nor a MAC "
				   "(aa:bb:cc:dd:ee:ff)", o->devices[i]);
			return FA_EINPUT;
		}
	}
	/* signatures, geo, device profile and the engine, then the declaration */
	int rc = run_open(r, audit_flow, NULL, err);
	if (rc != FA_OK)
		return rc;
	known_sigs = r->sigs;
	rc = policy_load(o->policy_path, sdk_known, NULL, &s->policy, err);
	if (rc != FA_OK)
		return rc;
	if (o->events_path != NULL) {
		rc = consent_load(o->events_path, &s->consent, err);
		if (rc != FA_OK)
			return rc;
	} else {
		s->consent = consent_new();
	}
	struct vantage vantage = {0};
	if (o->vantage != NULL) {
		const char *why;
		if (!vantage_parse(o->vantage, &vantage, &why)) {
			fa_err_set(err, "--vantage: '%s': %s", o->vantage, why);
			return FA_EINPUT;
		}
	} else if (r->dev != NULL) {
		vantage = r->dev->vantage;
	}
	struct audit_cfg ac = {
		.vantage = vantage,
		.policy = s->policy,
		.consent = s->consent,
		.profile = r->dev,
		.device_addrs = s->dev_addrs,
		.n_device_addrs = s->n_dev_addrs,
		.device_macs = (const uint8_t(*)[6])s->dev_macs,
		.n_device_macs = s->n_dev_macs,
		.on_new_finding = s->on_new_finding,
		.user = s->user,
		.on_joined = audit_session_joined,
		.joined_user = s,
	};
	s->audit = audit_new(&ac);
	if (s->audit == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	engine_set_flow_cb(r->eng, audit_session_flow, s);
	engine_set_horizon_cb(r->eng, audit_session_horizon, s);
	/* every input is good: take -o now, so that a second run into it is
	   refused before it does any work */
	return o->outdir ? audit_session_lock(s, o->outdir, err) : FA_OK;
}

/* What a signal does to the report: abandoned unless already placed. */
static bool abandon_report(void *rdir)
{
	return report_dir_abandon(rdir);
}

int audit_session_lock(struct audit_session *s, const char *outdir, struct fa_err *err)
{
	int rc = report_dir_open(outdir, &s->rdir, err);
	if (rc == FA_OK)
		run_on_stop(abandon_report, s->rdir);
	return rc;
}

void audit_session_close(struct audit_session *s)
{
	run_on_stop(NULL, NULL);
	audit_session_stream_free(s);
	audit_session_hash_captures_end(s);
	report_dir_close(s->rdir);
	report_key_free(s->sign_key);
	audit_free(s->audit);
	consent_free(s->consent);
	policy_free(s->policy);
	run_close(&s->run);
	free(s->outdir_alloc);
	known_sigs = NULL;
}

void audit_session_note(struct audit_session *s, const char *code, const char *fmt, ...)
{
	struct session_note *n = &s->notes[s->n_notes < SESSION_NOTES_MAX ? s->n_notes++
									    : SESSION_NOTES_MAX - 1];
	n->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
	if (code != NULL)
		report_reason_add(&s->reasons, code, "%s", n->text);
}

/* "frame 12 of FILE": the first frame a time check counted. */
static const char *frame_at(const struct run *r, uint32_t file, uint64_t frame, char *buf,
			    size_t n)
{
	const struct source_file_info *fi = source_file(r->src, file);
	snprintf(buf, n, "frame %llu of %s", (unsigned long long)frame, fi ? fi->path : "?");
	return buf;
}

/* The devices --device names, for a message: "192.168.1.23, 10.0.0.2". */
static const char *device_list(const struct run_opts *o, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->n_devices && len + 1 < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", o->devices[i]);
	return buf;
}

/* MACs whose left-out traffic a verdict reason names one by one. */
#define LEFT_OUT_NAMED 3

/* One left-out MAC's client addresses: "2a01:e0a:1::23, 10.0.0.7". */
static const char *addr_list(const struct audit_left_out *lo, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < lo->n_addrs && len + 1 < n; i++) {
		char a[FA_ADDR_STRLEN];
		len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "",
					fa_addr_str(&lo->addrs[i], a, sizeof(a)));
	}
	return buf;
}

void audit_session_judge(struct audit_session *s)
{
	struct run *r = &s->run;
	struct engine_stats es;
	engine_stats(r->eng, &es);
	struct audit_stats as;
	audit_stats(s->audit, &as);
	bool timed_consent = consent_count(s->consent) > 0;
	char buf[200], where[300];
	s->n_notes = 0;
	s->reasons.n = 0;
	if (es.frames == 0)
		audit_session_note(s, "no-frames", "no frame was %s: nothing was audited",
			 s->live ? "captured (check the interface, -f, and that the device's traffic "
				   "passes it)"
				 : "read");
	else if (as.device_flows == 0 && r->o.n_devices > 0)
		audit_session_note(s, "no-device-traffic", "no flow came from --device %s: nothing was audited "
			 "(check the address or MAC, or that the capture holds the device's traffic)",
			 device_list(&r->o, buf, sizeof(buf)));
	else if (as.device_flows == 0)
		audit_session_note(s, "no-device-traffic", "no flow came from a device under test: nothing was "
			 "audited (check --device, or that the capture holds the device's traffic)");
	const struct source_live_stats *ls = &s->live_stats;
	if (s->have_live_stats && ls->valid && (ls->dropped || ls->if_dropped))
		audit_session_note(s, "capture-dropped", "%llu packets dropped by the kernel, %llu by the "
			 "interface: the capture is incomplete, and what was lost was not audited "
			 "(raise --buffer-size or narrow -f)",
			 (unsigned long long)ls->dropped, (unsigned long long)ls->if_dropped);
	/* files cut short: the first named, the others counted */
	size_t cut = 0, first_cut = 0;
	for (size_t i = 0; i < source_file_count(r->src); i++)
		if (source_file(r->src, i)->truncated && cut++ == 0)
			first_cut = i;
	if (cut > 0) {
		const struct source_file_info *fi = source_file(r->src, first_cut);
		snprintf(where, sizeof(where), " (and %zu more files)", cut - 1);
		audit_session_note(s, "capture-truncated", "%s: the capture is cut short: %s; the traffic "
			 "after that frame was not audited%s", fi->path, fi->error,
			 cut > 1 ? where : "");
	}
	/* time stamps: a verdict reason when consent is judged by time */
	const struct run_times *t = &r->times;
	if (t->unordered > 0)
		audit_session_note(s, timed_consent ? "timestamps-unordered" : NULL,
			 "%llu %s more than 1 ms earlier than a frame before %s (the first: "
			 "%s, up to %.3f s back): the flows' times%s may be wrong",
			 (unsigned long long)t->unordered,
			 t->unordered == 1 ? "frame is" : "frames are", t->unordered == 1 ? "it" : "them",
			 frame_at(r, t->unordered_file, t->unordered_frame, where, sizeof(where)),
			 (double)t->max_back / 1e6,
			 timed_consent ? ", and the consent state judged at them," : "");
	if (t->unusable > 0)
		audit_session_note(s, timed_consent ? "timestamps-clamped" : NULL,
			 "%llu %s no usable time stamp (0, or out of range and clamped; the "
			 "first: %s): %s%s",
			 (unsigned long long)t->unusable, t->unusable == 1 ? "frame carries" : "frames carry",
			 frame_at(r, t->unusable_file, t->unusable_frame, where, sizeof(where)),
			 t->any ? "each took the time of the frame before it"
				: "no frame has a usable time",
			 timed_consent ? ", so the consent state judged at them may be wrong" : "");
	if (as.by_rule[RULE_CROSS_BORDER] > 0 && !audit_vantage(s->audit)->set)
		audit_session_note(s, NULL, "no vantage point was given (--vantage CC or LAT,LON, or \"vantage\" "
			 "in the device profile): each cross-border finding's round trip is reported as "
			 "a distance from where the capture was made, but no country can be ruled out "
			 "(location_check cannot_judge)");
	/* the traffic of devices' MACs left out: the busiest few MACs named */
	size_t n_lo = audit_left_out_count(s->audit);
	if (n_lo > 0) {
		char who[1200];
		size_t len = 0;
		uint64_t named = 0;
		for (size_t i = 0; i < n_lo && i < LEFT_OUT_NAMED && len < sizeof(who); i++) {
			const struct audit_left_out *lo = audit_left_out(s->audit, i);
			const uint8_t *m = lo->mac;
			named += lo->flows;
			len += (size_t)snprintf(who + len, sizeof(who) - len,
						"%s%llu %s from %02x:%02x:%02x:%02x:%02x:%02x (%s; client "
						"%s %s)", i ? "; " : "", (unsigned long long)lo->flows,
						lo->flows == 1 ? "flow" : "flows", m[0], m[1], m[2], m[3],
						m[4], m[5],
						lo->profile_mac ? "the device profile's mac"
								: "the MAC of audited device traffic",
						lo->n_addrs > 1 ? "addresses" : "address",
						addr_list(lo, buf, sizeof(buf)));
		}
		where[0] = '\0';
		if (n_lo > LEFT_OUT_NAMED)
			snprintf(where, sizeof(where), "; and %llu flows from %zu more MACs",
				 (unsigned long long)(as.left_out_flows - named), n_lo - LEFT_OUT_NAMED);
		audit_session_note(s, "device-traffic-left-out", "%s%s %s not audited: their client addresses "
			 "are %s",
			 who, where, as.left_out_flows == 1 ? "was" : "were",
			 r->o.n_devices ? "not named by --device (add them, or give the MAC)"
					: "not private, ULA, link-local or CGNAT (give --device, or "
					  "the MAC in the device profile)");
	}
	s->verdict = report_verdict_of(s->audit, s->fail_on, &s->reasons);
}

int audit_session_exit(const struct audit_session *s)
{
	switch (s->verdict) {
	case REPORT_FAIL: return FA_EXIT_FINDINGS;
	case REPORT_INCONCLUSIVE: return CMD_EXIT_INCONCLUSIVE;
	case REPORT_PASS: break;
	}
	return FA_EXIT_OK;
}

void audit_session_warnings(struct audit_session *s)
{
	struct audit_stats as;
	audit_stats(s->audit, &as);
	/* a file cut short: a replay has told it already (cmd_report_input_problems) */
	for (size_t i = 0; i < s->n_notes; i++)
		if (s->live || s->notes[i].code == NULL ||
		    strcmp(s->notes[i].code, "capture-truncated") != 0)
			cmd_error("%s", s->notes[i].text);
	if (as.device_flows > 0 && s->run.geo != NULL && as.public_flows > 0 &&
	    as.unknown_country_flows == as.public_flows)
		cmd_error("the country database placed none of the %llu flows to public addresses: "
			  "is -g a country database?",
			  (unsigned long long)as.public_flows);
}

void audit_session_summary(struct audit_session *s, const json_t *doc, FILE *to)
{
	struct engine_stats es;
	engine_stats(s->run.eng, &es);
	struct audit_stats as;
	audit_stats(s->audit, &as);
	fprintf(to, "flowaudit: %llu packets, %llu flows (%llu from devices, %llu to public "
		"addresses)\n",
		(unsigned long long)es.frames, (unsigned long long)es.flows.created,
		(unsigned long long)as.device_flows, (unsigned long long)as.public_flows);
	/* destinations and countries, as the report counted them */
	const json_t *sum = json_object_get(doc, "summary");
	const json_t *cc = json_object_get(sum, "countries");
	if (json_is_object(cc)) {
		fprintf(to, "destinations: %lld public, in %zu countries (flows",
			(long long)json_integer_value(json_object_get(sum, "destinations")),
			json_object_size(cc) - (json_object_get(cc, "unknown") ? 1 : 0));
		const char *k;
		const json_t *v;
		const char *sep = ": ";
		json_object_foreach((json_t *)cc, k, v) {
			fprintf(to, "%s%s %lld", sep, k, (long long)json_integer_value(v));
			sep = ", ";
		}
		fputs(")\n", to);
	}
	size_t nfind = audit_finding_count(s->audit);
	fprintf(to, "findings: %zu\n", nfind);
	for (int r = 0; r < RULE_COUNT; r++)
		if (as.by_rule[r])
			fprintf(to, "  %-30s %llu\n", audit_rule_name((enum audit_rule)r),
				(unsigned long long)as.by_rule[r]);
	fprintf(to, "verdict: %s (fail-on %s)\n",
		s->verdict == REPORT_FAIL ? "FAIL"
		: s->verdict == REPORT_INCONCLUSIVE ? "INCONCLUSIVE" : "pass",
		report_fail_on_name(s->fail_on));
	for (size_t i = 0; i < s->reasons.n; i++)
		fprintf(to, "  %s: %s\n", s->reasons.r[i].code, s->reasons.r[i].text);
	if (s->outdir)
		fprintf(to, "report: %s/report.json%s\n", s->outdir,
			(s->formats & FMT_HTML) ? "" : "");
	if (s->outdir && (s->formats & FMT_HTML))
		fprintf(to, "html:   %s/report.html\n", s->outdir);
	/* the manifest's own digest stands for the whole report: quotable, and
	   what `verify --expect-manifest` checks */
	char mpath[4200], mhex[65];
	struct fa_err merr;
	snprintf(mpath, sizeof(mpath), "%s/%s", s->outdir ? s->outdir : ".", MANIFEST_NAME);
	if (s->outdir && sha256_file(mpath, mhex, &merr) == FA_OK)
		fprintf(to, "manifest: SHA256 %s\n", mhex);
	if (s->outdir && s->sign_key)
		fprintf(to, "signed:   %s by the key %s\n", REPORT_SIG_NAME,
			report_key_fingerprint(s->sign_key));
	/* where a replay's time went; a capture lasts as long as it was told to */
	if (!s->live)
		fprintf(to, "time: %.2f s replay%s, ", s->t_replay,
			s->ev_beside ? " (the evidence pack written beside it)" : "");
	else
		fputs("time: ", to);
	fprintf(to, "%.2f s evidence, %.2f s report files, %.2f s hashing\n", s->t_evidence,
		s->t_outputs, s->t_hashes);
}

int cmd_audit(int argc, char **argv)
{
	struct audit_session s;
	memset(&s, 0, sizeof(s));
	if (run_watch_signals() != FA_OK) {
		cmd_error("cannot start the signal watcher");
		return FA_EXIT_RUNTIME;
	}
	int ex = run_parse(argc, argv, RUN_READ | RUN_POLICY, usage, &s.run.o);
	if (ex >= 0)
		return ex;
	struct fa_err err = {""};
	int rc = source_open_files(s.run.o.reads, s.run.o.n_reads, &s.run.src, &err);
	if (rc == FA_OK)
		rc = audit_session_open(&s, &err);
	double t0 = cmd_mono_s();
	if (rc == FA_OK)
		audit_session_hash_captures(&s);
	if (rc == FA_OK)
		rc = run_replay(&s.run, &err);
	if (rc == FA_OK) {
		audit_finish(s.audit);
		audit_session_judge(&s);
	}
	s.t_replay = cmd_mono_s() - t0;
	json_t *doc = NULL;
	if (rc == FA_OK)
		rc = audit_session_report(&s, "audit", &doc, &err);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		audit_session_close(&s);
		return cmd_exit_for(rc);
	}
	cmd_report_input_problems(&s.run);
	audit_session_warnings(&s);
	if (!s.run.o.quiet)
		audit_session_summary(&s, doc, stdout);
	int ex_verdict = audit_session_exit(&s);
	if (s.run.o.export_url != NULL && s.outdir != NULL &&
	    cmd_export_dir(s.run.o.export_url, s.outdir, s.run.o.quiet) != FA_EXIT_OK)
		ex_verdict = FA_EXIT_RUNTIME;
	json_decref(doc);
	audit_session_close(&s);
	return ex_verdict;
}
