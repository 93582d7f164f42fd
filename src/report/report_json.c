/*
 * report_json.c - the JSON form of flows and of the audit report.
 *
 * Receives flow records (engine.h) and, for a report, the audit's results;
 * hands on jansson documents. Field names are a contract with users'
 * scripts (docs/report-format.md): add fields, never rename them.
 */
#include "flowaudit/report_json.h"
#include "flowaudit/jsonw.h"
#include "flowaudit/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *report_time_json(fa_time t)
{
	if (t == 0)
		return json_null();
	char buf[40];
	return json_string(fa_time_str(t, buf, sizeof(buf)));
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* s, or null when s is NULL or empty. */
static void jw_str_or_null(struct jsonw *w, const char *key, const char *s)
{
	jsonw_string(w, key, s && s[0] ? s : NULL);
}

static void jw_addr(struct jsonw *w, const char *key, const fa_addr *a)
{
	char buf[FA_ADDR_STRLEN];
	jsonw_string(w, key, fa_addr_str(a, buf, sizeof(buf)));
}

void report_flow_members(struct jsonw *w, const struct flow_record *r, const char *const *files,
			 size_t n_files)
{
	jsonw_int(w, "id", (int64_t)r->id);
	jsonw_string(w, "transport", r->transport);
	jw_addr(w, "client_ip", &r->cli);
	jsonw_int(w, "client_port", r->cport);
	jw_addr(w, "server_ip", &r->srv);
	jsonw_int(w, "server_port", r->sport);
	if (r->vlan)
		jsonw_int(w, "vlan", r->vlan);
	else
		jsonw_null(w, "vlan");
	jsonw_string(w, "protocol", r->protocol ? r->protocol : "Unknown");
	jw_str_or_null(w, "category", r->category);
	jsonw_bool(w, "encrypted", r->encrypted);
	jw_str_or_null(w, "name", r->name);
	jsonw_string(w, "name_source", name_source_str(r->name_source));
	if (r->name_frame)
		jsonw_int(w, "name_frame", (int64_t)r->name_frame);
	else
		jsonw_null(w, "name_frame");
	jsonw_array(w, "other_names");
	for (uint8_t i = 0; i < r->n_other_names; i++)
		jsonw_string(w, NULL, r->other_names[i]);
	jsonw_end(w);
	jw_str_or_null(w, "alpn", r->alpn);
	jsonw_bool(w, "ech", r->ech);
	if (r->tls_status != NULL) { /* a TLS flow: was its payload read? */
		jsonw_bool(w, "tls_decrypted", r->tls_decrypted);
		jsonw_string(w, "tls_decrypt_status", r->tls_status);
	}
	jw_str_or_null(w, "ja3", r->ja3);
	jw_str_or_null(w, "http_url", r->http_url);
	jw_str_or_null(w, "user_agent", r->user_agent);
	jw_str_or_null(w, "dns_query", r->dns_query);
	jsonw_string(w, "scope", fa_addr_scope_name(r->geo.scope));
	jsonw_string(w, "country", r->geo.found_country ? r->geo.country : NULL);
	if (r->geo.found_asn)
		jsonw_int(w, "asn", r->geo.asn);
	else
		jsonw_null(w, "asn");
	jsonw_string(w, "as_org", r->geo.found_asn && r->geo.as_org[0] ? r->geo.as_org : NULL);
	if (r->sig != NULL) {
		jsonw_object(w, "signature");
		jsonw_string(w, "id", r->sig->id);
		jsonw_string(w, "name", r->sig->name);
		jsonw_string(w, "entity", r->sig->entity);
		jsonw_string(w, "kind", sig_kind_name(r->sig->kind));
		jw_str_or_null(w, "pattern", r->sig_pattern);
		jsonw_string(w, "by", r->sig_by_network ? "network" : "name");
		jsonw_string(w, "catalogue", r->sig->catalogue->label);
		jw_str_or_null(w, "catalogue_dir", r->sig->catalogue->dir);
		jsonw_end(w);
	} else {
		jsonw_null(w, "signature");
	}
	jsonw_int(w, "packets_out", (int64_t)r->pkts[0]);
	jsonw_int(w, "bytes_out", (int64_t)r->bytes[0]);
	jsonw_int(w, "packets_in", (int64_t)r->pkts[1]);
	jsonw_int(w, "bytes_in", (int64_t)r->bytes[1]);
	jsonw_time(w, "first_seen", r->first);
	jsonw_time(w, "last_seen", r->last);
	jsonw_string(w, "file", r->file < n_files ? files[r->file] : NULL);
	jsonw_int(w, "first_frame", (int64_t)r->first_frame);
	jsonw_int(w, "last_frame", (int64_t)r->last_frame);
	jsonw_string(w, "end", flow_end_reason_name(r->end));
	report_rtt_members(w, &r->rtt);
}

void report_rtt_members(struct jsonw *w, const struct rtt_result *t)
{
	if (t->rtt_us != RTT_NONE)
		jsonw_milli(w, "rtt_ms", t->rtt_us);
	else
		jsonw_null(w, "rtt_ms");
	if (t->server_us != RTT_NONE)
		jsonw_milli(w, "server_rtt_ms", t->server_us);
	else
		jsonw_null(w, "server_rtt_ms");
	if (t->kind == RTT_KIND_NONE) {
		jsonw_null(w, "rtt_frames");
		return;
	}
	jsonw_object(w, "rtt_frames");
	jsonw_string(w, "measured", rtt_kind_name(t->kind));
	if (t->server_us != RTT_NONE) {
		jsonw_int(w, "request", (int64_t)t->req_frame);
		jsonw_int(w, "answer", (int64_t)t->ans_frame);
	} else {
		jsonw_null(w, "request");
		jsonw_null(w, "answer");
	}
	if (t->ack_frame) {
		jsonw_int(w, "syn", (int64_t)t->syn_frame);
		jsonw_int(w, "ack", (int64_t)t->ack_frame);
	} else {
		jsonw_null(w, "syn");
		jsonw_null(w, "ack");
	}
	jsonw_end(w);
}

/* A tree writer with its object open, for the _members() functions. */
static void tree_open(struct jsonw *w)
{
	jsonw_open_tree(w);
	jsonw_object(w, NULL);
}

/* The object made since tree_open(), or NULL without memory. */
static json_t *tree_close(struct jsonw *w)
{
	jsonw_end(w);
	json_t *v = jsonw_tree_take(w);
	jsonw_close(w);
	return v;
}

json_t *report_flow_json(const struct flow_record *r, const char *const *files, size_t n_files)
{
	struct jsonw w;
	tree_open(&w);
	report_flow_members(&w, r, files, n_files);
	return tree_close(&w);
}

const char *report_recipient_kind(const struct policy *p, const struct flow_record *r)
{
	if (r->geo.scope != FA_SCOPE_PUBLIC)
		return "local";
	if (p != NULL && r->name != NULL && policy_is_first_party(p, r->name, NULL))
		return "first_party";
	if (r->sig != NULL)
		return sig_kind_name(r->sig->kind);
	return "unknown";
}

/* A flow's members with the audit's view of its recipient (policy may be NULL). */
static void flow_members_for(struct jsonw *w, const struct flow_record *r, const struct policy *p,
			     const char *const *files, size_t n_files)
{
	report_flow_members(w, r, files, n_files);
	if (p != NULL)
		jsonw_string(w, "recipient_kind", report_recipient_kind(p, r));
}

static json_t *flow_json_for(const struct flow_record *r, const struct policy *p,
			     const char *const *files, size_t n_files)
{
	struct jsonw w;
	tree_open(&w);
	flow_members_for(&w, r, p, files, n_files);
	return tree_close(&w);
}

/* Text: a newline and indent spaces. */
static void jw_newline(struct jsonw *w, int indent)
{
	static const char spaces[] = "                ";
	jsonw_raw(w, "\n", 1);
	for (int n; indent > 0; indent -= n) {
		n = indent < 16 ? indent : 16;
		jsonw_raw(w, spaces, (size_t)n);
	}
}

/*
 * Writes v (any JSON value) with every line after the first indented by
 * `indent` spaces, so that a value dumped on its own sits right inside a
 * document written piece by piece.
 */
static int dump_indented(FILE *out, const json_t *v, int indent)
{
	char *txt = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (txt == NULL)
		return FA_ERUNTIME;
	/* line by line, each after the first indented */
	for (const char *p = txt; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		fwrite(p, 1, len, out);
		p += len;
		if (nl)
			fprintf(out, "%*s", indent, "");
	}
	free(txt);
	return ferror(out) ? FA_ERUNTIME : FA_OK;
}

int report_flows_write(FILE *out, struct engine *e, const struct policy *p,
		       const char *const *files, size_t n_files, int indent)
{
	struct jsonw w;
	if (jsonw_open_text(&w, out) != FA_OK)
		return FA_ERUNTIME;
	/* a reader of its own: other threads may read the records meanwhile */
	struct engine_records *rd = engine_records_open(e);
	if (rd == NULL) {
		jsonw_close(&w);
		return FA_ERUNTIME;
	}
	uint64_t n = engine_record_count(e);
	bool first = true;
	jsonw_raw(&w, "[", 1);
	struct flow_record r;
	for (uint64_t id = 1; id <= n; id++) {
		if (!engine_records_get(rd, id, &r))
			continue;
		if (!first)
			jsonw_raw(&w, ",", 1);
		first = false;
		/* one flow a line: quick to write, and to grep */
		jw_newline(&w, indent + 2);
		jsonw_object(&w, NULL);
		flow_members_for(&w, &r, p, files, n_files);
		jsonw_end(&w);
	}
	engine_records_close(rd);
	if (!first)
		jw_newline(&w, indent);
	jsonw_raw(&w, "]", 1);
	return jsonw_close(&w) == FA_OK && !ferror(out) ? FA_OK : FA_ERUNTIME;
}

/* ---- the report document ---- */

static json_t *str_list(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *cstr_list(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The layers of the catalogue, first first: where each came from. */
static json_t *catalogues_json(const struct sig_db *db)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sig_db_catalogue_count(db); i++) {
		const struct sig_catalogue *c = sig_db_catalogue(db, i);
		json_t *o = json_object();
		json_object_set_new(o, "label", json_string(c->label));
		json_object_set_new(o, "path", c->dir ? json_string(c->dir) : json_null());
		json_object_set_new(o, "source", c->source ? json_string(c->source) : json_null());
		json_object_set_new(o, "list", c->list ? json_string(c->list) : json_null());
		json_object_set_new(o, "version", c->version ? json_string(c->version) : json_null());
		json_object_set_new(o, "licence", c->licence ? json_string(c->licence) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *file_ref(const char *path, const char *sha)
{
	if (path == NULL)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "path", json_string(path));
	json_object_set_new(o, "sha256", str_or_null(sha));
	return o;
}

static json_t *geo_db_json(const struct geo_db_info *gi, const char *sha)
{
	if (gi == NULL)
		return json_null();
	json_t *o = file_ref(gi->path, sha);
	json_object_set_new(o, "database_type", str_or_null(gi->database_type));
	json_object_set_new(o, "description", str_or_null(gi->description));
	json_object_set_new(o, "build_time", report_time_json((fa_time)gi->build_epoch * 1000000));
	json_object_set_new(o, "attribution", json_string(geo_attribution()));
	return o;
}

static json_t *inputs_json(const struct report_ctx *c)
{
	json_t *in = json_object();
	json_t *caps = json_array();
	for (size_t i = 0; c->src && i < source_file_count(c->src); i++) {
		const struct source_file_info *fi = source_file(c->src, i);
		json_t *o = file_ref(fi->path, c->capture_sha256 ? c->capture_sha256[i] : NULL);
		json_object_set_new(o, "linktype", json_integer(fi->linktype));
		json_object_set_new(o, "link_name", json_string(fi->link_name ? fi->link_name : "unknown"));
		json_object_set_new(o, "packets", json_integer((json_int_t)fi->frames));
		json_object_set_new(o, "bytes", json_integer((json_int_t)fi->bytes));
		json_object_set_new(o, "bad_timestamps", json_integer((json_int_t)fi->bad_timestamps));
		const struct report_file_times *ft = c->file_times ? &c->file_times[i] : NULL;
		json_object_set_new(o, "first_seen", report_time_json(ft ? ft->first : fi->first));
		json_object_set_new(o, "last_seen", report_time_json(ft ? ft->last : fi->last));
		json_object_set_new(o, "error", fi->truncated ? json_string(fi->error) : json_null());
		json_array_append_new(caps, o);
	}
	json_object_set_new(in, "captures", caps);
	json_object_set_new(in, "policy", file_ref(c->policy ? c->policy->path : NULL, c->policy_sha256));
	json_object_set_new(in, "events", file_ref(c->events_path, c->events_sha256));
	json_object_set_new(in, "device_profile",
			    file_ref(c->profile ? c->profile->path : NULL, c->profile_sha256));
	json_t *sg = file_ref(c->sig_dir, c->sig_sha256);
	if (json_is_object(sg)) {
		json_object_set_new(sg, "entries", json_integer(c->sigs ? (json_int_t)sig_db_count(c->sigs) : 0));
		json_object_set_new(sg, "catalogues", catalogues_json(c->sigs));
	}
	json_object_set_new(in, "signatures", sg);
	json_t *geo = json_object();
	json_object_set_new(geo, "country", geo_db_json(geo_country_info(c->geo), c->geo_country_sha256));
	json_object_set_new(geo, "asn", geo_db_json(geo_asn_info(c->geo), c->geo_asn_sha256));
	json_object_set_new(in, "geo", geo);
	const struct vantage *vp = c->audit ? audit_vantage(c->audit) : NULL;
	json_object_set_new(in, "vantage", vp && vp->set ? json_string(vp->text) : json_null());
	/* the key logs by path and digest: their contents are secrets */
	json_t *kl = json_array();
	for (size_t i = 0; i < c->n_keylogs; i++)
		json_array_append_new(kl, file_ref(c->keylog_paths[i],
						   c->keylog_sha256 ? c->keylog_sha256[i] : NULL));
	json_object_set_new(in, "keylogs", kl);
	return in;
}

static json_t *policy_json(const struct policy *p)
{
	json_t *o = json_object();
	json_t *app = json_object();
	json_object_set_new(app, "name", str_or_null(p->app_name));
	json_object_set_new(app, "controller", str_or_null(p->controller));
	json_object_set_new(app, "policy_date", str_or_null(p->policy_date));
	json_object_set_new(o, "app", app);
	json_t *fp = json_object();
	json_object_set_new(fp, "domains", str_list(p->fp_domains, p->n_fp_domains));
	json_object_set_new(fp, "clause", str_or_null(p->fp_clause));
	json_object_set_new(o, "first_party", fp);
	json_t *rs = json_array();
	for (size_t i = 0; i < p->n_recipients; i++) {
		const struct policy_recipient *r = &p->recipients[i];
		json_t *x = json_object();
		json_object_set_new(x, "sdk", json_string(r->sdk));
		json_object_set_new(x, "purposes", str_list(r->purposes, r->n_purposes));
		json_object_set_new(x, "data", str_list(r->data, r->n_data));
		json_object_set_new(x, "clause", str_or_null(r->clause));
		json_array_append_new(rs, x);
	}
	json_object_set_new(o, "recipients", rs);
	json_object_set_new(o, "storage_regions", str_list(p->regions_declared, p->n_regions_declared));
	json_t *xb = json_object();
	json_object_set_new(xb, "rule", json_string(cross_border_rule_name(p->xb_rule)));
	json_object_set_new(xb, "clause", str_or_null(p->xb_clause));
	json_object_set_new(o, "cross_border", xb);
	json_object_set_new(o, "consent_required_for",
			    str_list(p->consent_required_for, p->n_consent_required));
	json_t *enc = json_object();
	json_object_set_new(enc, "promised", json_boolean(p->enc_promised));
	json_object_set_new(enc, "clause", str_or_null(p->enc_clause));
	json_object_set_new(o, "encryption_in_transit", enc);
	return o;
}

static json_t *consent_json(const struct consent_timeline *tl)
{
	json_t *a = json_array();
	for (size_t i = 0; tl && i < consent_count(tl); i++) {
		const struct consent_event *ev = consent_get(tl, i);
		json_t *o = json_object();
		json_object_set_new(o, "index", json_integer((json_int_t)ev->index));
		json_object_set_new(o, "time", report_time_json(ev->time));
		json_object_set_new(o, "event", json_string(ev->granted ? "consent_granted"
									: "consent_withdrawn"));
		json_object_set_new(o, "purposes", str_list(ev->purposes, ev->n_purposes));
		json_array_append_new(a, o);
	}
	return a;
}

/* {"file": file, "numbers": [...], "numbers_total": n when cut short} for
   one file's frame numbers, as many as c->frames_limit lets. */
static void frames_object(struct jsonw *w, const struct report_ctx *c, const char *file,
			  const struct evidence_frames *pf)
{
	jsonw_object(w, NULL);
	jsonw_string(w, "file", file);
	size_t shown = c->frames_limit && pf->n > c->frames_limit ? c->frames_limit : pf->n;
	size_t pos = 0;
	uint64_t prev = 0, frame;
	jsonw_array(w, "numbers");
	for (size_t m = 0; m < shown && evidence_frames_next(pf, &pos, &prev, &frame); m++)
		jsonw_int(w, NULL, (int64_t)frame);
	jsonw_end(w);
	if (shown < pf->n) /* the document's short form; report.json has them all */
		jsonw_int(w, "numbers_total", (int64_t)pf->n);
	jsonw_end(w);
}

/*
 * A finding's evidence in the pack: the part(s) holding its packets, their
 * frame numbers there, and the display filter that shows them in
 * Wireshark: the packet comment names the finding, and the word boundary
 * keeps F1234 from matching F12345 (ids are F and digits, so nothing else
 * ends in F1234).
 */
static void evidence_pack_members(struct jsonw *w, const struct report_ctx *c,
				  const struct evidence_set *ev)
{
	const struct evidence_pack *pk = ev->pack;
	bool any = ev->n_pack_frames > 0 && ev->pack_frames[0].file < pk->n_paths;
	jsonw_string(w, "evidence", any ? pk->paths[ev->pack_frames[0].file] : NULL);
	if (ev->n_pack_frames > 1) {
		jsonw_array(w, "evidence_files");
		for (size_t k = 0; k < ev->n_pack_frames; k++)
			if (ev->pack_frames[k].file < pk->n_paths)
				jsonw_string(w, NULL, pk->paths[ev->pack_frames[k].file]);
		jsonw_end(w);
	}
	jsonw_array(w, "evidence_frames");
	for (size_t k = 0; k < ev->n_pack_frames; k++) {
		const struct evidence_frames *pf = &ev->pack_frames[k];
		frames_object(w, c, pf->file < pk->n_paths ? pk->paths[pf->file] : NULL, pf);
	}
	jsonw_end(w);
	char filter[128];
	snprintf(filter, sizeof(filter), "frame.comment matches \"%s\\\\b\"", ev->name);
	jsonw_string(w, "evidence_filter", any ? filter : NULL);
}

/* A distance in whole kilometres, or null when not known. */
static void jw_km(struct jsonw *w, const char *key, double km)
{
	if (km < 0)
		jsonw_null(w, key);
	else
		jsonw_int(w, key, (int64_t)(km + 0.5));
}

/* location_check and location: a cross-border finding's round trip against
   its registered country (docs/rules.md); null for other findings. */
static void location_members(struct jsonw *w, const struct report_ctx *c, const struct finding *f)
{
	const struct location_check *l = &f->loc;
	if (l->verdict == LOC_NONE) {
		jsonw_null(w, "location_check");
		jsonw_null(w, "location");
		return;
	}
	const struct vantage *v = audit_vantage(c->audit);
	bool rtt = l->rtt_us != RTT_NONE;
	jsonw_string(w, "location_check", location_verdict_name(l->verdict));
	jsonw_object(w, "location");
	jsonw_string(w, "registered_country", f->country);
	jsonw_string(w, "vantage", v->set ? v->text : NULL);
	if (rtt)
		jsonw_milli(w, "rtt_ms", l->rtt_us);
	else
		jsonw_null(w, "rtt_ms");
	jsonw_string(w, "measured", rtt ? rtt_kind_name(l->kind) : NULL);
	if (rtt) {
		const struct source_file_info *fi = c->src ? source_file(c->src, l->file) : NULL;
		jsonw_int(w, "flow", (int64_t)l->flow_id);
		jw_addr(w, "address", &l->addr);
		jsonw_string(w, "file", fi ? fi->path : NULL);
		jsonw_array(w, "frames");
		jsonw_int(w, NULL, (int64_t)l->req_frame);
		jsonw_int(w, NULL, (int64_t)l->ans_frame);
		jsonw_end(w);
	} else {
		jsonw_null(w, "flow");
		jsonw_null(w, "address");
		jsonw_null(w, "file");
		jsonw_array(w, "frames");
		jsonw_end(w);
	}
	jw_km(w, "bound_km", l->bound_km);
	jw_km(w, "distance_km", l->distance_km);
	jsonw_int(w, "margin_km", (int64_t)GEODIST_ERROR_KM);
	jsonw_string(w, "reasoning", l->reasoning ? l->reasoning : "");
	jsonw_end(w);
}

/* Finding i's members, all of them, or (brief) those a list shows: the
   same values in the same order, up to last_seen, without the addresses. */
static void finding_members(struct jsonw *w, const struct report_ctx *c, size_t i, bool brief)
{
	const struct finding *f = audit_finding(c->audit, i);
	jsonw_string(w, "id", f->id);
	jsonw_string(w, "rule", audit_rule_name(f->rule));
	jsonw_string(w, "severity", audit_severity_name(f->severity));
	jsonw_string(w, "title", f->title ? f->title : "");
	jsonw_string(w, "device", f->device_str);
	jw_str_or_null(w, "device_role", f->profile_device && c->profile ? c->profile->name : NULL);
	jsonw_string(w, "host", f->host);
	if (!brief) {
		jsonw_array(w, "addresses");
		for (size_t k = 0; k < f->n_addrs; k++)
			jw_addr(w, NULL, &f->addrs[k]);
		jsonw_end(w);
	}
	jsonw_object(w, "recipient");
	jsonw_string(w, "kind", recipient_kind_name(f->kind));
	jsonw_string(w, "id", f->sig ? f->sig->id : NULL);
	jsonw_string(w, "name", f->sig ? f->sig->name : NULL);
	jsonw_string(w, "entity", f->sig ? f->sig->entity
			    : f->kind == RECIP_FIRST_PARTY ? c->policy->controller : NULL);
	/* "ZZ": the catalogue does not know the seat */
	jsonw_string(w, "entity_country", f->sig && strcmp(f->sig->entity_country, "ZZ") != 0
			    ? f->sig->entity_country : NULL);
	jw_str_or_null(w, "first_party_domain", f->first_party_domain);
	jsonw_string(w, "catalogue", f->sig ? f->sig->catalogue->label : NULL);
	jsonw_end(w);
	jsonw_string(w, "country", f->country[0] ? f->country : NULL);
	if (f->asn)
		jsonw_int(w, "asn", f->asn);
	else
		jsonw_null(w, "asn");
	jsonw_string(w, "as_org", f->as_org[0] ? f->as_org : NULL);
	jsonw_time(w, "first_seen", f->first);
	jsonw_time(w, "last_seen", f->last);
	if (brief)
		return;
	size_t nfl = c->frames_limit && f->n_flows > c->frames_limit ? c->frames_limit : f->n_flows;
	jsonw_array(w, "flows");
	for (size_t k = 0; k < nfl; k++)
		jsonw_int(w, NULL, (int64_t)f->flows[k]);
	jsonw_end(w);
	if (nfl < f->n_flows) /* the document's short form, as for frames */
		jsonw_int(w, "flows_total", (int64_t)f->n_flows);
	const struct evidence_set *ev = c->evidence ? &c->evidence[i] : NULL;
	jsonw_array(w, "frames");
	for (size_t k = 0; ev && k < ev->n_per_file; k++) {
		const struct evidence_frames *pf = &ev->per_file[k];
		const struct source_file_info *fi = source_file(c->src, pf->file);
		frames_object(w, c, fi ? fi->path : NULL, pf);
	}
	jsonw_end(w);
	jsonw_int(w, "packets_out", (int64_t)f->pkts[0]);
	jsonw_int(w, "bytes_out", (int64_t)f->bytes[0]);
	jsonw_int(w, "packets_in", (int64_t)f->pkts[1]);
	jsonw_int(w, "bytes_in", (int64_t)f->bytes[1]);
	jsonw_string(w, "name_source", name_source_str(f->name_source));
	if (f->name_frame)
		jsonw_int(w, "name_frame", (int64_t)f->name_frame);
	else
		jsonw_null(w, "name_frame");
	const struct source_file_info *nfi = c->src ? source_file(c->src, f->name_file) : NULL;
	jsonw_string(w, "name_file", f->name_frame && nfi ? nfi->path : NULL);
	jw_str_or_null(w, "clause", f->clause);
	jsonw_string(w, "statement", f->statement[0] ? f->statement : NULL);
	jsonw_string(w, "detail", f->detail ? f->detail : "");
	jsonw_bool(w, "decrypted", f->decrypted);
	jsonw_array(w, "identifiers");
	for (size_t k = 0; k < f->n_ids; k++) {
		const struct finding_identifier *x = &f->ids[k];
		const struct source_file_info *xfi = c->src ? source_file(c->src, x->file) : NULL;
		jsonw_object(w, NULL);
		jsonw_string(w, "type", x->type);
		jsonw_string(w, "encoding", x->encoding);
		jsonw_string(w, "masked", x->masked);
		jsonw_string(w, "where", x->where);
		jsonw_bool(w, "decrypted", x->decrypted);
		/* where in the request: a header's name, a query key, or the
		   offset in the body or payload */
		jsonw_object(w, "location");
		jsonw_string(w, "in", x->where);
		if (x->field[0])
			jsonw_string(w, strcmp(x->where, "http_header") == 0 ? "header" : "key",
				     x->field);
		else
			jsonw_int(w, "offset", (int64_t)x->offset);
		jsonw_end(w);
		jsonw_string(w, "file", xfi ? xfi->path : NULL);
		jsonw_int(w, "frame", (int64_t)x->frame);
		jsonw_int(w, "offset", (int64_t)x->offset);
		jsonw_string(w, "direction", x->dir == FLOW_OUT ? "out" : "in");
		jsonw_int(w, "flow", (int64_t)x->flow_id);
		jsonw_end(w);
	}
	jsonw_end(w);
	if (f->has_consent) {
		jsonw_object(w, "consent");
		jsonw_string(w, "purpose", f->consent_purpose);
		jsonw_string(w, "state", f->consent_state == CONSENT_GRANTED ? "granted"
				 : f->consent_state == CONSENT_WITHDRAWN ? "withdrawn"
									  : "none");
		if (f->consent_event >= 0)
			jsonw_int(w, "event", f->consent_event);
		else
			jsonw_null(w, "event");
		jsonw_end(w);
	} else {
		jsonw_null(w, "consent");
	}
	location_members(w, c, f);
	if (ev && ev->pack)
		evidence_pack_members(w, c, ev);
	else
		jsonw_string(w, "evidence", ev && ev->n_paths ? ev->paths[0] : NULL);
	if (ev && !ev->pack && ev->n_paths > 1) {
		jsonw_array(w, "evidence_files");
		for (size_t k = 0; k < ev->n_paths; k++)
			jsonw_string(w, NULL, ev->paths[k]);
		jsonw_end(w);
	}
}

void report_finding_members(struct jsonw *w, const struct report_ctx *c, size_t i)
{
	finding_members(w, c, i, false);
}

void report_finding_brief_members(struct jsonw *w, const struct report_ctx *c, size_t i)
{
	finding_members(w, c, i, true);
}

json_t *report_finding_json(const struct report_ctx *c, size_t i)
{
	struct jsonw w;
	tree_open(&w);
	report_finding_members(&w, c, i);
	return tree_close(&w);
}

bool report_fails(const struct audit *a, enum audit_severity fail_on)
{
	struct audit_stats st;
	audit_stats(a, &st);
	return fail_on < REPORT_FAIL_NEVER && st.any && st.highest >= fail_on;
}

const char *report_fail_on_name(enum audit_severity fail_on)
{
	return fail_on >= REPORT_FAIL_NEVER ? "never" : audit_severity_name(fail_on);
}

bool report_fail_on_parse(const char *s, enum audit_severity *out)
{
	if (strcmp(s, "never") == 0) {
		*out = REPORT_FAIL_NEVER;
		return true;
	}
	return audit_severity_parse(s, out);
}

const char *report_verdict_name(enum report_verdict v)
{
	switch (v) {
	case REPORT_PASS: return "pass";
	case REPORT_FAIL: return "fail";
	case REPORT_INCONCLUSIVE: return "inconclusive";
	}
	return "inconclusive";
}

enum report_verdict report_verdict_of(const struct audit *a, enum audit_severity fail_on,
				      const struct report_reasons *rs)
{
	if (report_fails(a, fail_on))
		return REPORT_FAIL;
	return rs != NULL && rs->n > 0 ? REPORT_INCONCLUSIVE : REPORT_PASS;
}

void report_reason_add(struct report_reasons *rs, const char *code, const char *fmt, ...)
{
	struct report_reason *r = &rs->r[rs->n < REPORT_REASONS_MAX ? rs->n++ : REPORT_REASONS_MAX - 1];
	r->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* The values of obj, in insertion order, as an array; consumes obj. */
static json_t *object_values(json_t *obj)
{
	json_t *arr = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		(void)k;
		json_array_append(arr, v);
	}
	json_decref(obj);
	return arr;
}

/*
 * summary.tls: of the flows that carried TLS, how many were decrypted and,
 * per reason, how many were not (tls_dec_status_name() words), from the
 * engine's counts of every ended flow. examined false: no keys were given,
 * the payload inside TLS was not looked at.
 */
static json_t *tls_json(const struct report_ctx *c, const struct engine_stats *es)
{
	json_t *why = json_object();
	for (int k = 0; k <= TLS_DEC_AUTH_FAILED; k++)
		if (k != TLS_DEC_DECRYPTED && es->tls_by_status[k])
			json_object_set_new(why, tls_dec_status_name((enum tls_dec_status)k),
					    json_integer((json_int_t)es->tls_by_status[k]));
	return json_pack("{s:b, s:I, s:I, s:I, s:o, s:{s:I, s:I}}", "examined", c->tls_keys,
			 "keylogs", (json_int_t)c->n_keylogs, "flows", (json_int_t)es->tls_flows,
			 "decrypted", (json_int_t)es->tls_decrypted, "not_decrypted", why, "quic",
			 "flows", (json_int_t)es->quic_flows, "decrypted",
			 (json_int_t)es->quic_decrypted);
}

/* The note that says what was read inside TLS: always, since a reader of
   a report without keys must not take "no finding" for "nothing sent". */
static json_t *tls_note(const json_t *tls)
{
	json_int_t flows = json_integer_value(json_object_get(tls, "flows"));
	json_int_t dec = json_integer_value(json_object_get(tls, "decrypted"));
	const json_t *quic = json_object_get(tls, "quic");
	json_int_t qflows = json_integer_value(json_object_get(quic, "flows"));
	json_int_t qdec = json_integer_value(json_object_get(quic, "decrypted"));
	char q[160] = "";
	if (qflows > 0)
		snprintf(q, sizeof(q), "; %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
			 " QUIC flows were decrypted and examined", qdec, qflows);
	if (!json_is_true(json_object_get(tls, "examined")))
		return json_sprintf("no TLS session keys were given (--keylog FILE, or the "
				    "Decryption Secrets Blocks of a pcapng): the payload inside TLS "
				    "was not examined, in any of the %" JSON_INTEGER_FORMAT
				    " TLS flows%s", flows,
				    qflows > 0 ? " and the QUIC flows" : "");
	json_int_t no_key = json_integer_value(
		json_object_get(json_object_get(tls, "not_decrypted"), "no_key"));
	return json_sprintf("TLS session keys were given: %" JSON_INTEGER_FORMAT " of %"
			    JSON_INTEGER_FORMAT " TLS flows were decrypted and examined; %"
			    JSON_INTEGER_FORMAT " had no key, %" JSON_INTEGER_FORMAT
			    " were not decrypted for another reason%s (summary.tls)",
			    dec, flows, no_key, flows - dec - no_key, q);
}

/*
 * summary.destinations, .countries and .by_country, over every kept flow
 * of a device to a public address (the flows summary.public_flows counts);
 * by_country feeds the chart, split by who receives the flows.
 */
static void destinations_json(const struct report_ctx *c, json_t *s)
{
	json_t *countries = json_object();
	json_t *dests = json_object();
	json_t *byc = json_object();
	struct flow_record r;
	for (uint64_t id = 1; id <= engine_record_count(c->eng); id++) {
		if (!engine_record_get(c->eng, id, &r) || r.geo.scope != FA_SCOPE_PUBLIC ||
		    !audit_is_device_flow(c->audit, &r))
			continue;
		char buf[FA_ADDR_STRLEN];
		json_object_set_new(dests, r.name ? r.name : fa_addr_str(&r.srv, buf, sizeof(buf)),
				    json_true());
		const char *cc = r.geo.found_country ? r.geo.country : "unknown";
		json_t *v = json_object_get(countries, cc);
		json_object_set_new(countries, cc, json_integer(v ? json_integer_value(v) + 1 : 1));
		json_t *row = json_object_get(byc, cc);
		if (row == NULL) {
			row = json_pack("{s:s, s:I, s:I, s:{}}", "country", cc, "flows", (json_int_t)0,
					"bytes", (json_int_t)0, "by_kind");
			json_object_set_new(byc, cc, row);
		}
		json_t *kinds = json_object_get(row, "by_kind");
		const char *kind = report_recipient_kind(c->policy, &r);
		json_t *kv = json_object_get(kinds, kind);
		json_object_set_new(kinds, kind, json_integer(kv ? json_integer_value(kv) + 1 : 1));
		json_object_set_new(row, "flows",
				    json_integer(json_integer_value(json_object_get(row, "flows")) + 1));
		json_int_t bytes = (json_int_t)r.bytes[0] + (json_int_t)r.bytes[1];
		json_object_set_new(row, "bytes", json_integer(json_integer_value(
								  json_object_get(row, "bytes")) + bytes));
	}
	json_object_set_new(s, "destinations", json_integer((json_int_t)json_object_size(dests)));
	json_decref(dests);
	json_object_set_new(s, "countries", countries);
	json_object_set_new(s, "by_country", object_values(byc));
}

static json_t *summary_json(const struct report_ctx *c)
{
	struct engine_stats es;
	engine_stats(c->eng, &es);
	struct audit_stats as;
	audit_stats(c->audit, &as);
	json_t *s = json_object();
	json_object_set_new(s, "packets", json_integer((json_int_t)es.frames));
	json_object_set_new(s, "bytes", json_integer((json_int_t)es.bytes));
	json_object_set_new(s, "flows", json_integer((json_int_t)es.flows.created));
	json_object_set_new(s, "device_flows", json_integer((json_int_t)as.device_flows));
	json_object_set_new(s, "public_flows", json_integer((json_int_t)as.public_flows));
	json_object_set_new(s, "unknown_country_flows", json_integer((json_int_t)as.unknown_country_flows));
	json_object_set_new(s, "first_seen", report_time_json(es.first));
	json_object_set_new(s, "last_seen", report_time_json(es.last));
	destinations_json(c, s);
	json_object_set_new(s, "findings", json_integer((json_int_t)audit_finding_count(c->audit)));
	json_t *br = json_object();
	for (int r = 0; r < RULE_COUNT; r++)
		json_object_set_new(br, audit_rule_name((enum audit_rule)r),
				    json_integer((json_int_t)as.by_rule[r]));
	json_object_set_new(s, "findings_by_rule", br);
	json_t *bs = json_object();
	for (int v = SEV_HIGH; v >= 0; v--)
		json_object_set_new(bs, audit_severity_name((enum audit_severity)v),
				    json_integer((json_int_t)as.by_severity[v]));
	json_object_set_new(s, "findings_by_severity", bs);
	json_t *dec = json_object();
	json_object_set_new(dec, "frames", json_integer((json_int_t)es.decode.frames));
	for (int r = 0; r < DECODE_RESULT_COUNT; r++)
		json_object_set_new(dec, decode_result_name((enum decode_result)r),
				    json_integer((json_int_t)es.decode.result[r]));
	json_t *an = json_object();
	for (int k = 0; k < ANOM_COUNT; k++)
		if (es.decode.anomaly[k])
			json_object_set_new(an, decode_anomaly_name((enum decode_anomaly)k),
					    json_integer((json_int_t)es.decode.anomaly[k]));
	json_object_set_new(dec, "anomalies", an);
	json_object_set_new(s, "decode", dec);
	json_object_set_new(s, "flows_evicted", json_integer((json_int_t)es.flows.evicted));
	json_object_set_new(s, "flows_not_listed", json_integer((json_int_t)es.records_not_kept));
	json_object_set_new(s, "peak_live_flows", json_integer((json_int_t)es.flows.peak_live));
	json_object_set_new(s, "dns_answers_evicted", json_integer((json_int_t)es.dns.evicted_addresses));
	json_object_set_new(s, "stream_gaps", json_integer((json_int_t)es.reasm_gaps));
	json_object_set_new(s, "tls", tls_json(c, &es));
	if (c->live != NULL && c->live->valid) {
		json_t *d = json_object();
		json_object_set_new(d, "received", json_integer((json_int_t)c->live->received));
		json_object_set_new(d, "dropped", json_integer((json_int_t)c->live->dropped));
		json_object_set_new(d, "if_dropped", json_integer((json_int_t)c->live->if_dropped));
		json_object_set_new(s, "capture_drops", d);
	} else {
		json_object_set_new(s, "capture_drops", json_null());
	}
	return s;
}

static json_t *devices_json(const struct report_ctx *c)
{
	json_t *devs = json_object();
	for (size_t i = 0; i < audit_finding_count(c->audit); i++) {
		const struct finding *f = audit_finding(c->audit, i);
		json_t *d = json_object_get(devs, f->device_str);
		if (d == NULL) {
			d = json_object();
			json_object_set_new(d, "address", json_string(f->device_str));
			json_object_set_new(d, "findings", json_array());
			json_object_set_new(devs, f->device_str, d);
		}
		json_array_append_new(json_object_get(d, "findings"), json_string(f->id));
	}
	return object_values(devs);
}

/* The capture files' paths, indexed like flow_record.file. */
static const char **file_paths(const struct report_ctx *c, size_t *n)
{
	*n = c->src ? source_file_count(c->src) : 0;
	const char **files = calloc(*n ? *n : 1, sizeof(*files));
	for (size_t i = 0; files && i < *n; i++)
		files[i] = source_file(c->src, i)->path;
	if (files == NULL)
		*n = 0;
	return files;
}

/* Of a flow's object, what report.html shows of it (a flow in full takes
   about 4 KB of jansson objects). Consumes full. */
static json_t *flow_brief(json_t *full)
{
	static const char *const keys[] = {"id", "transport", "client_ip", "server_ip",
					   "server_port", "protocol", "name", "dns_query", "encrypted",
					   "scope", "country", "bytes_out", "bytes_in", "first_seen",
					   "last_seen"};
	json_t *o = json_object();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(full, keys[i]);
		if (v != NULL)
			json_object_set(o, keys[i], v);
	}
	json_t *sig = json_object_get(full, "signature");
	if (json_is_object(sig)) {
		json_t *b = json_object();
		json_object_set(b, "name", json_object_get(sig, "name"));
		json_object_set(b, "catalogue", json_object_get(sig, "catalogue"));
		json_object_set_new(o, "signature", b);
	} else {
		json_object_set_new(o, "signature", json_null());
	}
	json_decref(full);
	return o;
}

/*
 * The flows the document holds in memory: for each device with findings,
 * its first flows (what report.html lists per device): REPORT_DEVICE_FLOWS
 * each, fewer when many devices would take more than REPORT_FLOW_SAMPLE in
 * all, but never fewer than REPORT_DEVICE_FLOWS_MIN. report.json itself
 * lists every kept flow: report_write() streams them in place of this
 * sample.
 */
static json_t *flow_sample(const struct report_ctx *c, json_t *devices)
{
	json_t *arr = json_array();
	json_t *count = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(devices, i, d) {
		const char *a = json_string_value(json_object_get(d, "address"));
		if (a != NULL)
			json_object_set_new(count, a, json_integer(0));
	}
	size_t ndev = json_object_size(count);
	json_int_t each = REPORT_DEVICE_FLOWS;
	if (ndev > 0 && (size_t)each * ndev > REPORT_FLOW_SAMPLE)
		each = (json_int_t)(REPORT_FLOW_SAMPLE / ndev);
	if (each < REPORT_DEVICE_FLOWS_MIN)
		each = REPORT_DEVICE_FLOWS_MIN;
	size_t nf;
	const char **files = file_paths(c, &nf);
	struct flow_record r;
	for (uint64_t id = 1; ndev > 0 && id <= engine_record_count(c->eng); id++) {
		if (!engine_record_get(c->eng, id, &r))
			continue;
		char buf[FA_ADDR_STRLEN];
		json_t *n = json_object_get(count, fa_addr_str(&r.cli, buf, sizeof(buf)));
		if (n == NULL)
			continue;
		json_int_t seen = json_integer_value(n);
		json_integer_set(n, seen + 1);
		if (seen < each)
			json_array_append_new(arr, flow_brief(flow_json_for(&r, c->policy, files, nf)));
	}
	free(files);
	/* each device's own count of flows, the ones not in the sample too */
	json_array_foreach(devices, i, d) {
		const char *a = json_string_value(json_object_get(d, "address"));
		json_t *n = a ? json_object_get(count, a) : NULL;
		json_object_set_new(d, "flows", json_integer(n ? json_integer_value(n) : 0));
	}
	json_decref(count);
	return arr;
}

/* report.json's findings: each in full (every frame number), made one at a
   time, and written one a line, as the flows are. */
static int findings_write(FILE *out, const struct report_ctx *c)
{
	struct jsonw w;
	if (jsonw_open_text(&w, out) != FA_OK)
		return FA_ERUNTIME;
	size_t n = audit_finding_count(c->audit);
	jsonw_raw(&w, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			jsonw_raw(&w, ",", 1);
		jw_newline(&w, 4);
		jsonw_object(&w, NULL);
		report_finding_members(&w, c, i);
		jsonw_end(&w);
	}
	if (n)
		jw_newline(&w, 2);
	jsonw_raw(&w, "]", 1);
	return jsonw_close(&w) == FA_OK && !ferror(out) ? FA_OK : FA_ERUNTIME;
}

int report_write(FILE *out, const json_t *doc, const struct report_ctx *c)
{
	int rc = FA_OK;
	bool first = true;
	const char *key;
	const json_t *v;
	fputc('{', out);
	json_object_foreach((json_t *)doc, key, v) {
		fprintf(out, "%s\n  ", first ? "" : ",");
		first = false;
		json_t *k = json_string(key);
		rc = dump_indented(out, k, 2);
		json_decref(k);
		fputs(": ", out);
		if (rc != FA_OK)
			break;
		if (strcmp(key, "flows") == 0 && c->flows_written != NULL) {
			rc = c->flows_written(out, c->flows_user);
		} else if (strcmp(key, "flows") == 0) {
			size_t nf;
			const char **files = file_paths(c, &nf);
			rc = report_flows_write(out, c->eng, c->policy, files, nf, 2);
			free(files);
		} else if (strcmp(key, "findings") == 0) {
			rc = findings_write(out, c);
		} else {
			rc = dump_indented(out, v, 2);
		}
		if (rc != FA_OK)
			break;
	}
	fputs("\n}\n", out);
	return rc == FA_OK && !ferror(out) ? FA_OK : FA_ERUNTIME;
}

json_t *report_build(const struct report_ctx *c)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "schema", json_string("flowaudit-report/1"));
	json_t *gen = json_object();
	json_object_set_new(gen, "name", json_string("flowaudit"));
	json_object_set_new(gen, "version", json_string("0.1.0"));
	json_object_set_new(doc, "generator", gen);
	json_object_set_new(doc, "generated_at", report_time_json(c->generated));
	json_object_set_new(doc, "command", json_string(c->command));
	enum report_verdict v = report_verdict_of(c->audit, c->fail_on, c->reasons);
	json_object_set_new(doc, "verdict", json_string(report_verdict_name(v)));
	json_t *why = json_array();
	for (size_t i = 0; c->reasons && i < c->reasons->n; i++)
		json_array_append_new(why, json_pack("{s:s, s:s}", "code", c->reasons->r[i].code,
						     "text", c->reasons->r[i].text));
	json_object_set_new(doc, "verdict_reasons", why);
	json_object_set_new(doc, "fail_on", json_string(report_fail_on_name(c->fail_on)));
	json_object_set_new(doc, "inputs", inputs_json(c));
	json_object_set_new(doc, "policy", policy_json(c->policy));
	json_t *review = json_array(); /* what the declaration leaves open */
	for (size_t i = 0; c->policy != NULL && i < c->policy->n_review; i++)
		json_array_append_new(review, json_pack("{s:s, s:s}", "what", c->policy->review[i].what,
							"where", c->policy->review[i].where));
	json_object_set_new(doc, "policy_review", review);
	json_object_set_new(doc, "devices", devices_json(c));
	json_object_set_new(doc, "consent_events", consent_json(c->consent));
	json_object_set_new(doc, "summary", summary_json(c));
	json_t *st = json_array();
	for (size_t i = 0; i < audit_statement_count(c->audit); i++) {
		const struct statement *s = audit_statement(c->audit, i);
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(s->id));
		json_object_set_new(o, "kind", json_string(s->kind));
		json_object_set_new(o, "text", json_string(s->text));
		json_object_set_new(o, "clause", str_or_null(s->clause));
		json_object_set_new(o, "verdict", json_string(statement_verdict_name(s->verdict)));
		json_object_set_new(o, "flows", json_integer((json_int_t)s->flows));
		json_t *fs = json_array();
		for (size_t k = 0; k < audit_finding_count(c->audit); k++) {
			const struct finding *f = audit_finding(c->audit, k);
			if (strcmp(f->statement, s->id) == 0)
				json_array_append_new(fs, json_string(f->id));
		}
		json_object_set_new(o, "findings", fs);
		json_array_append_new(st, o);
	}
	json_object_set_new(doc, "statements", st);
	/* its place only: the findings are made one at a time from the audit
	   by each writer (report_finding_json), never held all at once */
	json_object_set_new(doc, "findings", json_null());
	json_object_set_new(doc, "flows", flow_sample(c, json_object_get(doc, "devices")));
	json_t *attr = json_array();
	if (c->geo != NULL)
		json_array_append_new(attr, json_string(geo_attribution()));
	json_object_set_new(doc, "attribution", attr);
	json_t *notes = cstr_list(c->notes, c->n_notes);
	json_array_append_new(notes, tls_note(json_object_get(json_object_get(doc, "summary"),
							      "tls")));
	json_object_set_new(doc, "notes", notes);
	return doc;
}
