/*
 * audit.c - the rules: each flow against the declaration and the timeline.
 *
 * Receives ended flows one at a time (audit_flow is an engine callback), so
 * findings are established while a capture is still running and memory
 * grows with the number of distinct (rule, device, destination) triples,
 * not with the number of flows. Hands on findings and statement verdicts.
 *
 * Rules (docs/rules.md explains each with an example):
 *   undeclared-recipient          an SDK the declaration does not name
 *   unknown-endpoint              no first-party domain or signature covers it
 *   cross-border-without-consent  abroad under `never`, or under
 *                                 `with_consent` with no covering grant
 *   before-consent / after-withdrawal
 *                                 a recipient whose purpose needs consent,
 *                                 contacted with none, or after withdrawal
 *   cleartext-identifier          a device identifier in unencrypted payload
 *   undeclared-data               an identifier's category reaching a
 *                                 recipient not declared to receive it
 *   unencrypted-transport         plaintext application protocol while
 *                                 encryption in transit is promised
 *
 * A cross-border finding also gets a location check at audit_finish():
 * the smallest round trip of its flows (rtt.h) bounds how far from the
 * vantage point the server can be (geodist.h); when its registered country
 * lies beyond that, the finding stops asserting it and drops to low.
 */
#include "flowaudit/audit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MACs remembered: of device flows, and of the clients of other flows (a
   capture holds a few dozen hosts; past these, the rest is not counted) */
#define AUDIT_SEEN_MACS 64
#define AUDIT_OTHER_MACS 256

struct audit {
	struct audit_cfg cfg;
	char *all_recipients_clause; /* see recipients_clause() */
	struct finding **findings;
	size_t n_findings, cap_findings;
	/* index: open addressing over findings by (rule, device, host) */
	struct finding **index;
	size_t index_cap;
	struct statement *stmts;
	size_t n_stmts;
	struct audit_stats st;
	bool finished;
	/* devices by MAC: the profile's, and those device flows came from */
	uint8_t profile_mac[6];
	bool has_profile_mac;
	uint8_t seen_macs[AUDIT_SEEN_MACS][6];
	size_t n_seen_macs;
	/* flows not taken as a device's, by client MAC; after audit_finish()
	   the first n_left_out are those from a device's MAC */
	struct audit_left_out *others;
	size_t n_others, n_left_out;
	/* distances from the vantage point to countries, each measured once */
	struct {
		char cc[3];
		double km;
	} dist[64];
	size_t n_dist;
};

static const char *const rule_names[RULE_COUNT] = {
	"undeclared-recipient", "unknown-endpoint", "cross-border-without-consent",
	"before-consent", "after-withdrawal", "cleartext-identifier", "undeclared-data",
	"unencrypted-transport",
};

static const enum audit_severity rule_sev[RULE_COUNT] = {
	SEV_HIGH, SEV_LOW, SEV_HIGH, SEV_HIGH, SEV_HIGH, SEV_HIGH, SEV_MEDIUM, SEV_MEDIUM,
};

static const char *const sev_names[SEV_COUNT] = {"info", "low", "medium", "high"};

const char *audit_rule_name(enum audit_rule r) { return r < RULE_COUNT ? rule_names[r] : "?"; }
enum audit_severity audit_rule_severity(enum audit_rule r) { return rule_sev[r]; }
const char *audit_severity_name(enum audit_severity s) { return s < SEV_COUNT ? sev_names[s] : "?"; }

bool audit_severity_parse(const char *s, enum audit_severity *out)
{
	for (int i = 0; i < SEV_COUNT; i++) {
		if (strcmp(s, sev_names[i]) == 0) {
			*out = (enum audit_severity)i;
			return true;
		}
	}
	return false;
}

const char *recipient_kind_name(enum recipient_kind k)
{
	switch (k) {
	case RECIP_FIRST_PARTY: return "first_party";
	case RECIP_SDK: return "sdk";
	case RECIP_INFRASTRUCTURE: return "infrastructure";
	case RECIP_UNKNOWN: return "unknown";
	}
	return "unknown";
}

const char *statement_verdict_name(enum statement_verdict v)
{
	switch (v) {
	case VERDICT_NOT_EXERCISED: return "not_exercised";
	case VERDICT_KEPT: return "kept";
	case VERDICT_BROKEN: return "broken";
	}
	return "not_exercised";
}

/* Titles and details are prose around attacker-chosen names: cut at
   TEXT_MAX, never overflow. *dst is replaced; on allocation failure it
   keeps its previous text. */
#define TEXT_MAX 512
static void text_set(char **dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_set(char **dst, const char *fmt, ...)
{
	char buf[TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *t = strdup(buf);
	if (t == NULL)
		return;
	free(*dst);
	*dst = t;
}

/* ---- statements ---- */

static struct statement *stmt_add(struct audit *a, const char *id, const char *kind,
				  const char *clause)
{
	struct statement *s = &a->stmts[a->n_stmts++];
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->kind = kind;
	s->clause = clause;
	return s;
}

static struct statement *stmt_find(struct audit *a, const char *id)
{
	for (size_t i = 0; i < a->n_stmts; i++)
		if (strcmp(a->stmts[i].id, id) == 0)
			return &a->stmts[i];
	return NULL;
}

static void stmt_exercise(struct audit *a, const char *id)
{
	struct statement *s = stmt_find(a, id);
	if (s != NULL) {
		s->flows++;
		if (s->verdict == VERDICT_NOT_EXERCISED)
			s->verdict = VERDICT_KEPT;
	}
}

static void stmt_break(struct audit *a, const char *id)
{
	struct statement *s = stmt_find(a, id);
	if (s != NULL)
		s->verdict = VERDICT_BROKEN;
}

/*
 * What the declaration says about its recipients as a whole: the clause of
 * every declared recipient, each once, in order ("A / B"), or the first
 * party's when it declares none. Built once; the audit owns it.
 */
static const char *recipients_clause(struct audit *a)
{
	const struct policy *p = a->cfg.policy;
	if (a->all_recipients_clause != NULL)
		return a->all_recipients_clause;
	size_t len = 1;
	for (size_t i = 0; i < p->n_recipients; i++)
		len += strlen(p->recipients[i].clause ? p->recipients[i].clause : "") + 3;
	char *buf = calloc(1, len);
	if (buf == NULL)
		return p->n_recipients ? p->recipients[0].clause : p->fp_clause;
	for (size_t i = 0; i < p->n_recipients; i++) {
		const char *c = p->recipients[i].clause;
		if (c == NULL || c[0] == '\0')
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = p->recipients[j].clause && strcmp(p->recipients[j].clause, c) == 0;
		if (seen)
			continue;
		if (buf[0] != '\0')
			strcat(buf, " / ");
		strcat(buf, c);
	}
	if (buf[0] == '\0') {
		free(buf);
		return p->fp_clause;
	}
	a->all_recipients_clause = buf;
	return buf;
}

static void build_statements(struct audit *a)
{
	const struct policy *p = a->cfg.policy;
	a->stmts = calloc(p->n_recipients + 8, sizeof(*a->stmts));
	if (a->stmts == NULL)
		return;
	struct statement *s;
	s = stmt_add(a, "first_party", "first_party", p->fp_clause);
	snprintf(s->text, sizeof(s->text), "First-party services run under the declared domains");
	for (size_t i = 0; i < p->n_recipients; i++) {
		char id[80];
		snprintf(id, sizeof(id), "recipient:%s", p->recipients[i].sdk);
		s = stmt_add(a, id, "recipient", p->recipients[i].clause);
		snprintf(s->text, sizeof(s->text), "Declares the %s SDK as a recipient",
			 p->recipients[i].sdk);
	}
	s = stmt_add(a, "recipients", "recipients", recipients_clause(a));
	snprintf(s->text, sizeof(s->text), "No third-party recipients beyond those declared");
	s = stmt_add(a, "cross_border", "cross_border", p->xb_clause);
	snprintf(s->text, sizeof(s->text), "Data stays in the declared storage regions; "
		 "cross-border transfer rule: %s", cross_border_rule_name(p->xb_rule));
	if (p->n_consent_required > 0) {
		s = stmt_add(a, "consent", "consent",
			     p->consent_clause ? p->consent_clause : recipients_clause(a));
		snprintf(s->text, sizeof(s->text),
			 "Purposes that need consent are not served before consent or after withdrawal");
	}
	if (p->enc_declared) {
		s = stmt_add(a, "encryption_in_transit", "encryption_in_transit", p->enc_clause);
		snprintf(s->text, sizeof(s->text), "Personal data is encrypted in transit%s",
			 p->enc_promised ? "" : " (not promised)");
	}
	s = stmt_add(a, "data", "data", recipients_clause(a));
	snprintf(s->text, sizeof(s->text),
		 "Device identifiers reach only recipients declared to receive them");
}

/* ---- findings ---- */

static uint32_t key_hash(enum audit_rule rule, const fa_addr *dev, const char *host)
{
	uint32_t h = 2166136261u ^ (uint32_t)rule;
	for (int i = 0; i < 16; i++)
		h = (h ^ dev->b[i]) * 16777619u;
	for (const char *p = host; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

static bool index_grow(struct audit *a)
{
	size_t ncap = a->index_cap ? a->index_cap * 2 : 256;
	struct finding **ni = calloc(ncap, sizeof(*ni));
	if (ni == NULL)
		return false;
	for (size_t i = 0; i < a->n_findings; i++) {
		struct finding *f = a->findings[i];
		size_t j = key_hash(f->rule, &f->device, f->host) & (ncap - 1);
		while (ni[j] != NULL)
			j = (j + 1) & (ncap - 1);
		ni[j] = f;
	}
	free(a->index);
	a->index = ni;
	a->index_cap = ncap;
	return true;
}

struct dest {
	const struct flow_record *r;
	fa_addr device, remote;
	bool device_is_client;
	char host[256];
	enum recipient_kind kind;
	const struct sig_entry *sig;
	const char *fp_domain;
	const struct policy_recipient *declared;
};

static struct finding *finding_get(struct audit *a, enum audit_rule rule, const struct dest *d,
				   bool *created)
{
	*created = false;
	if ((a->n_findings + 1) * 2 > a->index_cap && !index_grow(a))
		return NULL;
	size_t j = key_hash(rule, &d->device, d->host) & (a->index_cap - 1);
	while (a->index[j] != NULL) {
		struct finding *f = a->index[j];
		if (f->rule == rule && fa_addr_eq(&f->device, &d->device) && strcmp(f->host, d->host) == 0)
			return f;
		j = (j + 1) & (a->index_cap - 1);
	}
	if (a->n_findings == a->cap_findings) {
		size_t nc = a->cap_findings ? a->cap_findings * 2 : 64;
		struct finding **nf = realloc(a->findings, nc * sizeof(*nf));
		if (nf == NULL)
			return NULL;
		a->findings = nf;
		a->cap_findings = nc;
	}
	struct finding *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	const struct flow_record *r = d->r;
	snprintf(f->id, sizeof(f->id), "F%04zu", a->n_findings + 1);
	f->index = a->n_findings;
	f->rule = rule;
	f->severity = rule_sev[rule];
	f->device = d->device;
	fa_addr_str(&d->device, f->device_str, sizeof(f->device_str));
	f->profile_device = a->cfg.profile != NULL &&
			    (!a->has_profile_mac || (d->device_is_client && r->has_mac &&
						     memcmp(a->profile_mac, r->cli_mac, 6) == 0));
	snprintf(f->host, sizeof(f->host), "%s", d->host);
	f->kind = d->kind;
	f->sig = d->sig;
	f->first_party_domain = d->fp_domain;
	if (r->geo.found_country)
		memcpy(f->country, r->geo.country, 3);
	if (r->geo.found_asn) {
		f->asn = r->geo.asn;
		snprintf(f->as_org, sizeof(f->as_org), "%s", r->geo.as_org);
	}
	f->first = r->first;
	f->last = r->last;
	f->name_source = r->name_source;
	f->name_file = r->name_file;
	f->name_frame = r->name_frame;
	f->consent_event = -1;
	f->loc.rtt_us = RTT_NONE;
	a->findings[a->n_findings++] = f;
	a->index[j] = f;
	*created = true;
	return f;
}

static void finding_add_flow(struct audit *a, struct finding *f, const struct dest *d)
{
	const struct flow_record *r = d->r;
	if (finding_has_flow(f, r->id))
		return;
	if (f->n_flows == f->cap_flows) {
		size_t nc = f->cap_flows ? f->cap_flows * 2 : 4;
		uint64_t *nf = realloc(f->flows, nc * sizeof(*nf));
		if (nf == NULL)
			return;
		f->flows = nf;
		f->cap_flows = nc;
	}
	f->flows[f->n_flows++] = r->id;
	int out = d->device_is_client ? FLOW_OUT : FLOW_IN;
	f->pkts[0] += r->pkts[out];
	f->bytes[0] += r->bytes[out];
	f->pkts[1] += r->pkts[!out];
	f->bytes[1] += r->bytes[!out];
	if (r->first < f->first)
		f->first = r->first;
	if (r->last > f->last)
		f->last = r->last;
	if (f->n_addrs < FINDING_MAX_ADDRS) {
		bool seen = false;
		for (size_t i = 0; i < f->n_addrs; i++)
			seen = seen || fa_addr_eq(&f->addrs[i], &d->remote);
		if (!seen)
			f->addrs[f->n_addrs++] = d->remote;
	}
	if (f->name_frame == 0 && r->name_frame != 0) {
		f->name_source = r->name_source;
		f->name_file = r->name_file;
		f->name_frame = r->name_frame;
	}
	if (a->cfg.on_joined != NULL)
		a->cfg.on_joined(f, r, a->cfg.joined_user);
}

bool finding_has_flow(const struct finding *f, uint64_t flow_id)
{
	for (size_t i = f->n_flows; i > 0; i--)
		if (f->flows[i - 1] == flow_id)
			return true;
	return false;
}

static const char *who(const struct dest *d)
{
	if (d->sig != NULL)
		return d->sig->name;
	return d->host;
}

static struct finding *raise(struct audit *a, enum audit_rule rule, const struct dest *d,
			     const char *clause, const char *statement)
{
	bool created;
	struct finding *f = finding_get(a, rule, d, &created);
	if (f == NULL)
		return NULL;
	finding_add_flow(a, f, d);
	if (created) {
		f->clause = clause;
		snprintf(f->statement, sizeof(f->statement), "%s", statement);
		a->st.by_rule[rule]++;
		a->st.by_severity[f->severity]++;
		if (!a->st.any || f->severity > a->st.highest)
			a->st.highest = f->severity;
		a->st.any = true;
	}
	stmt_break(a, statement);
	return f;
}

static void announce(struct audit *a, struct finding *f, bool was_new)
{
	if (was_new && a->cfg.on_new_finding != NULL)
		a->cfg.on_new_finding(f, a->cfg.user);
}

/* ---- who is who ---- */

static bool is_device_addr(const struct audit *a, const fa_addr *x)
{
	for (size_t i = 0; i < a->cfg.n_device_addrs; i++)
		if (fa_addr_eq(&a->cfg.device_addrs[i], x))
			return true;
	return false;
}

static bool is_device_mac(const struct audit *a, const uint8_t mac[6])
{
	for (size_t i = 0; i < a->cfg.n_device_macs; i++)
		if (memcmp(a->cfg.device_macs[i], mac, 6) == 0)
			return true;
	return false;
}

static bool mac_in(const uint8_t (*set)[6], size_t n, const uint8_t mac[6])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(set[i], mac, 6) == 0)
			return true;
	return false;
}

/* A MAC a device's flow came from, remembered to find its traffic left out. */
static void remember_device_mac(struct audit *a, const uint8_t mac[6])
{
	if (!mac_in((const uint8_t(*)[6])a->seen_macs, a->n_seen_macs, mac) &&
	    a->n_seen_macs < AUDIT_SEEN_MACS)
		memcpy(a->seen_macs[a->n_seen_macs++], mac, 6);
}

/* A flow not taken as a device's, counted under its client's MAC. */
static void remember_other(struct audit *a, const struct flow_record *r)
{
	if (!r->has_mac)
		return;
	struct audit_left_out *o = NULL;
	for (size_t i = 0; i < a->n_others && o == NULL; i++)
		if (memcmp(a->others[i].mac, r->cli_mac, 6) == 0)
			o = &a->others[i];
	if (o == NULL) {
		if (a->n_others == AUDIT_OTHER_MACS)
			return;
		if (a->others == NULL &&
		    (a->others = calloc(AUDIT_OTHER_MACS, sizeof(*a->others))) == NULL)
			return;
		o = &a->others[a->n_others++];
		memcpy(o->mac, r->cli_mac, 6);
	}
	o->flows++;
	bool seen = false;
	for (size_t i = 0; i < o->n_addrs && !seen; i++)
		seen = fa_addr_eq(&o->addrs[i], &r->cli);
	if (!seen && o->n_addrs < AUDIT_LEFT_OUT_ADDRS)
		o->addrs[o->n_addrs++] = r->cli;
}

/* Is mac a device's: a --device MAC, the profile's, or one a device's flow came from? */
static bool device_mac_known(const struct audit *a, const uint8_t mac[6])
{
	return is_device_mac(a, mac) ||
	       (a->has_profile_mac && memcmp(a->profile_mac, mac, 6) == 0) ||
	       mac_in((const uint8_t(*)[6])a->seen_macs, a->n_seen_macs, mac);
}

static bool find_device(const struct audit *a, const struct flow_record *r, struct dest *d)
{
	bool explicit = a->cfg.n_device_addrs + a->cfg.n_device_macs > 0;
	if (explicit) {
		if (is_device_addr(a, &r->cli) || (r->has_mac && is_device_mac(a, r->cli_mac))) {
			d->device = r->cli;
			d->remote = r->srv;
			d->device_is_client = true;
			return true;
		}
		if (is_device_addr(a, &r->srv)) {
			d->device = r->srv;
			d->remote = r->cli;
			d->device_is_client = false;
			return true;
		}
		return false;
	}
	bool by_mac = a->has_profile_mac && r->has_mac && memcmp(a->profile_mac, r->cli_mac, 6) == 0;
	if (!by_mac && !fa_addr_is_local_device(&r->cli))
		return false;
	d->device = r->cli;
	d->remote = r->srv;
	d->device_is_client = true;
	return true;
}

static void classify_dest(const struct audit *a, struct dest *d)
{
	const struct flow_record *r = d->r;
	const struct policy *p = a->cfg.policy;
	if (r->name != NULL && d->device_is_client)
		snprintf(d->host, sizeof(d->host), "%s", r->name);
	else
		fa_addr_str(&d->remote, d->host, sizeof(d->host));
	const char *m = NULL;
	if (r->name != NULL && d->device_is_client && policy_is_first_party(p, r->name, &m)) {
		d->kind = RECIP_FIRST_PARTY;
		d->fp_domain = m;
		return;
	}
	for (uint8_t i = 0; i < r->n_other_names && d->device_is_client; i++) {
		if (policy_is_first_party(p, r->other_names[i], &m) && r->name_source == NAME_DNS) {
			d->kind = RECIP_FIRST_PARTY;
			d->fp_domain = m;
			return;
		}
	}
	if (r->sig != NULL && d->device_is_client) {
		d->sig = r->sig;
		if (r->sig->kind == SIG_INFRASTRUCTURE) {
			d->kind = RECIP_INFRASTRUCTURE;
		} else {
			d->kind = RECIP_SDK;
			d->declared = policy_find_recipient(p, r->sig->id);
		}
		return;
	}
	d->kind = RECIP_UNKNOWN;
}

/* The purposes a destination serves: as declared, else as the catalogue says. */
static size_t dest_purposes(const struct dest *d, const char *const **out)
{
	if (d->declared != NULL) {
		*out = (const char *const *)d->declared->purposes;
		return d->declared->n_purposes;
	}
	if (d->sig != NULL) {
		*out = d->sig->purposes;
		return d->sig->n_purposes;
	}
	*out = NULL;
	return 0;
}

static enum consent_state state_at(const struct audit *a, const char *purpose, fa_time t,
				   long *event)
{
	const struct consent_event *ev = NULL;
	enum consent_state s = CONSENT_NONE;
	if (a->cfg.consent != NULL)
		s = consent_state_at(a->cfg.consent, purpose, t, &ev);
	*event = ev ? (long)ev->index : -1;
	return s;
}

static void set_consent(struct finding *f, const char *purpose, enum consent_state s, long ev)
{
	f->has_consent = true;
	snprintf(f->consent_purpose, sizeof(f->consent_purpose), "%s", purpose);
	f->consent_state = s;
	f->consent_event = ev;
}

/* ---- the rules ---- */

static void rule_recipients(struct audit *a, const struct dest *d)
{
	bool created;
	struct finding *f;
	if (d->kind == RECIP_SDK && d->declared == NULL) {
		size_t before = a->n_findings;
		f = raise(a, RULE_UNDECLARED_RECIPIENT, d, recipients_clause(a), "recipients");
		created = a->n_findings > before;
		if (f && created) {
			text_set(&f->title, "Traffic to %s (%s), which the policy does not declare", who(d),
				 d->sig->entity);
			text_set(&f->detail, "%s matched signature '%s' by %s; no recipient with sdk '%s' is declared",
				 d->host, d->sig->id, d->r->sig_by_network ? "network" : "name",
				 d->sig->id);
		}
		announce(a, f, created);
	} else if (d->kind == RECIP_UNKNOWN && !d->r->is_dns) {
		size_t before = a->n_findings;
		/* an unknown endpoint asks for review; it breaks no statement by
		   itself, and the clause quoted is the recipients' it is not in */
		f = raise(a, RULE_UNKNOWN_ENDPOINT, d, recipients_clause(a), "");
		created = a->n_findings > before;
		if (f && created) {
			text_set(&f->title, "Traffic to %s, which no first-party domain or signature covers",
				 d->host);
			text_set(&f->detail, "No signature or first-party domain covers %s: identify its "
				 "operator, then declare it or add it to the signature catalogue",
				 d->host);
		}
		announce(a, f, created);
	} else if (d->kind == RECIP_SDK) {
		char id[80];
		snprintf(id, sizeof(id), "recipient:%s", d->sig->id);
		stmt_exercise(a, id);
	} else if (d->kind == RECIP_FIRST_PARTY) {
		stmt_exercise(a, "first_party");
	}
}

static bool cross_border_consented(const struct audit *a, const struct dest *d, fa_time t,
				   const char **purpose, enum consent_state *st, long *ev)
{
	*purpose = "cross_border";
	*st = state_at(a, "cross_border", t, ev);
	if (*st == CONSENT_GRANTED)
		return true;
	const char *const *pp;
	size_t n = dest_purposes(d, &pp);
	for (size_t i = 0; i < n; i++) {
		long e2;
		if (state_at(a, pp[i], t, &e2) == CONSENT_GRANTED) {
			*purpose = pp[i];
			*st = CONSENT_GRANTED;
			*ev = e2;
			return true;
		}
	}
	return false;
}

/* A flow of a cross-border finding: its server round trip, when smaller
   than the finding's and to an address registered in the finding's country. */
static void location_add_flow(struct finding *f, const struct flow_record *r)
{
	struct location_check *l = &f->loc;
	if (r->rtt.server_us == RTT_NONE || !r->geo.found_country ||
	    strcmp(r->geo.country, f->country) != 0)
		return;
	if (l->rtt_us != RTT_NONE && r->rtt.server_us >= l->rtt_us)
		return;
	l->rtt_us = r->rtt.server_us;
	l->kind = r->rtt.kind;
	l->flow_id = r->id;
	l->file = r->file;
	l->req_frame = r->rtt.req_frame;
	l->ans_frame = r->rtt.ans_frame;
	l->addr = r->srv;
}

static void rule_cross_border(struct audit *a, const struct dest *d)
{
	const struct policy *p = a->cfg.policy;
	const struct flow_record *r = d->r;
	if (!r->geo.found_country)
		return;
	stmt_exercise(a, "cross_border");
	if (policy_region_allowed(p, r->geo.country) || p->xb_rule == XB_ALLOWED)
		return;
	const char *purpose = "cross_border";
	enum consent_state st = CONSENT_NONE;
	long ev = -1;
	if (p->xb_rule == XB_WITH_CONSENT && cross_border_consented(a, d, r->first, &purpose, &st, &ev))
		return;
	size_t before = a->n_findings;
	struct finding *f = raise(a, RULE_CROSS_BORDER, d, p->xb_clause, "cross_border");
	bool created = a->n_findings > before;
	if (f != NULL)
		location_add_flow(f, r);
	if (f && created) {
		f->loc.verdict = LOC_CANNOT_JUDGE;
		text_set(&f->title, "Data sent to %s in %s, outside the declared regions%s",
			 d->host, r->geo.country,
			 p->xb_rule == XB_NEVER ? " (the policy never allows it)" : " without consent");
		text_set(&f->detail, "destination country %s is not among the declared storage regions; rule '%s'",
			 r->geo.country, cross_border_rule_name(p->xb_rule));
		if (p->xb_rule == XB_WITH_CONSENT)
			set_consent(f, purpose, st, ev);
	}
	announce(a, f, created);
}

/* The clause that speaks of this destination: its own declaration, the
   first party's, or, for a party the policy does not name, the list of
   recipients as a whole. */
static const char *dest_clause(struct audit *a, const struct dest *d)
{
	const struct policy *p = a->cfg.policy;
	if (d->kind == RECIP_FIRST_PARTY && p->fp_clause != NULL)
		return p->fp_clause;
	if (d->declared != NULL && d->declared->clause != NULL)
		return d->declared->clause;
	return recipients_clause(a);
}

static void rule_consent(struct audit *a, const struct dest *d)
{
	const struct policy *p = a->cfg.policy;
	if (d->kind != RECIP_SDK || p->n_consent_required == 0)
		return;
	const char *const *pp;
	size_t n = dest_purposes(d, &pp);
	for (size_t i = 0; i < n; i++) {
		if (!policy_needs_consent(p, pp[i]))
			continue;
		stmt_exercise(a, "consent");
		long ev;
		enum consent_state st = state_at(a, pp[i], d->r->first, &ev);
		if (st == CONSENT_GRANTED)
			continue;
		enum audit_rule rule = st == CONSENT_WITHDRAWN ? RULE_AFTER_WITHDRAWAL : RULE_BEFORE_CONSENT;
		size_t before = a->n_findings;
		struct finding *f = raise(a, rule, d,
					  p->consent_clause ? p->consent_clause : dest_clause(a, d),
					  "consent");
		bool created = a->n_findings > before;
		if (f && created) {
			text_set(&f->title, "%s contacted %s for %s",
				 who(d), st == CONSENT_WITHDRAWN ? "after consent was withdrawn"
								 : "before consent was given",
				 pp[i]);
			text_set(&f->detail, "purpose '%s' needs consent (consent_required_for); state at the "
				 "flow's first packet: %s",
				 pp[i], st == CONSENT_WITHDRAWN ? "withdrawn" : "not granted");
			set_consent(f, pp[i], st, ev);
		}
		announce(a, f, created);
		break;
	}
}

static void rule_transport(struct audit *a, const struct dest *d)
{
	const struct policy *p = a->cfg.policy;
	if (!p->enc_declared)
		return;
	stmt_exercise(a, "encryption_in_transit");
	if (!p->enc_promised || !d->r->cleartext_app)
		return;
	size_t before = a->n_findings;
	struct finding *f = raise(a, RULE_UNENCRYPTED_TRANSPORT, d, p->enc_clause,
				  "encryption_in_transit");
	bool created = a->n_findings > before;
	if (f && created) {
		text_set(&f->title, "Plaintext %s to %s although encryption in "
			 "transit is promised", d->r->protocol ? d->r->protocol : "traffic", d->host);
		text_set(&f->detail, "application protocol %s carries data in clear",
			 d->r->protocol ? d->r->protocol : "unknown");
	}
	announce(a, f, created);
}

/* Adds the hit to the finding's identifiers; false when it was there or
   there is no room. */
static bool add_identifier(struct finding *f, const struct id_hit *h, const char *value)
{
	for (size_t i = 0; i < f->n_ids; i++) {
		struct finding_identifier *o = &f->ids[i];
		if (o->flow_id == h->flow_id && strcmp(o->type, h->type) == 0 &&
		    strcmp(o->encoding, h->encoding) == 0 && strcmp(o->where, h->where) == 0 &&
		    strcmp(o->field, h->field ? h->field : "") == 0)
			return false;
	}
	if (f->n_ids >= FINDING_MAX_IDS)
		return false;
	if (f->ids == NULL && (f->ids = calloc(FINDING_MAX_IDS, sizeof(*f->ids))) == NULL)
		return false;
	struct finding_identifier *x = &f->ids[f->n_ids++];
	x->type = h->type;
	x->encoding = h->encoding;
	x->where = h->where;
	snprintf(x->field, sizeof(x->field), "%s", h->field ? h->field : "");
	x->decrypted = h->decrypted;
	f->decrypted |= h->decrypted;
	x->file = h->file;
	x->frame = h->frame;
	x->offset = h->offset;
	x->dir = h->dir;
	x->flow_id = h->flow_id;
	idscan_mask(value ? value : "", x->masked, sizeof(x->masked));
	return true;
}

/* How identifier k is named in a list: its type, its data category, or
   how and where it was found (ID_DECRYPTED: the same, for those read after
   TLS decryption only; "" for the others, which a list leaves out). */
enum id_words { ID_TYPE, ID_CATEGORY, ID_FOUND, ID_DECRYPTED };

static void id_word(const struct finding_identifier *x, enum id_words how, char *buf, size_t n)
{
	const char *cat = policy_identifier_category(x->type);
	if (how == ID_TYPE || (how == ID_CATEGORY && cat == NULL))
		snprintf(buf, n, "%s", x->type);
	else if (how == ID_CATEGORY)
		snprintf(buf, n, "%s", cat);
	else if (how == ID_DECRYPTED && !x->decrypted)
		buf[0] = '\0';
	else if (!x->decrypted)
		snprintf(buf, n, "%s found %s-encoded in unencrypted %s", x->type, x->encoding,
			 strcmp(x->where, "http_body") == 0 ? "HTTP body" : "payload");
	else if (strcmp(x->where, "http_header") == 0 || strcmp(x->where, "http_query") == 0)
		snprintf(buf, n, "%s (%s) in %s '%s'", x->type, x->encoding,
			 strcmp(x->where, "http_header") == 0 ? "HTTP header" : "query key", x->field);
	else
		snprintf(buf, n, "%s (%s) in %s at offset %llu", x->type, x->encoding,
			 strcmp(x->where, "http_body") == 0 ? "HTTP body" : "payload",
			 (unsigned long long)x->offset);
}

/* The finding's identifiers named the one way, each once, joined by sep,
   into out (n bytes: names that do not fit whole are left out and counted,
   "and 3 more"); returns how many distinct names. */
#define ID_LIST_TAIL 24 /* room kept for "; and N more" */
static size_t id_list(const struct finding *f, enum id_words how, const char *sep, char *out,
		      size_t n)
{
	size_t distinct = 0, len = 0, left_out = 0;
	out[0] = '\0';
	for (size_t k = 0; k < f->n_ids; k++) {
		char w[160], v[160];
		id_word(&f->ids[k], how, w, sizeof(w));
		bool seen = w[0] == '\0';
		for (size_t j = 0; j < k && !seen; j++) {
			id_word(&f->ids[j], how, v, sizeof(v));
			seen = strcmp(v, w) == 0;
		}
		if (seen)
			continue;
		distinct++;
		size_t need = (len ? strlen(sep) : 0) + strlen(w);
		if (left_out > 0 || len + need + ID_LIST_TAIL >= n) {
			left_out++;
			continue;
		}
		snprintf(out + len, n - len, "%s%s", len ? sep : "", w);
		len += need;
	}
	if (left_out > 0 && n > len)
		snprintf(out + len, n - len, "%sand %zu more", len ? sep : "", left_out);
	return distinct;
}

/* Title and detail of an identifier finding name every identifier in it. */
static void name_identifiers(struct finding *f, const struct dest *d)
{
	char types[TEXT_MAX], found[TEXT_MAX];
	size_t nt = id_list(f, ID_TYPE, ", ", types, sizeof(types));
	if (f->rule == RULE_CLEARTEXT_IDENTIFIER) {
		id_list(f, ID_FOUND, "; ", found, sizeof(found));
		text_set(&f->title, "Device identifier%s (%s) sent in clear to %s", nt > 1 ? "s" : "",
			 types, d->host);
		text_set(&f->detail, "%s", found);
		return;
	}
	char cats[TEXT_MAX];
	size_t nc = id_list(f, ID_CATEGORY, ", ", cats, sizeof(cats));
	if (strcmp(cats, types) != 0)
		text_set(&f->title, "%s (%s) reached %s, which is not declared to receive %s", cats,
			 types, who(d), nc + nt > 2 ? "them" : "it");
	else
		text_set(&f->title, "%s reached %s, which is not declared to receive %s", types, who(d),
			 nt > 1 ? "them" : "it");
	id_list(f, ID_CATEGORY, "', '", cats, sizeof(cats));
	if (!f->decrypted) {
		text_set(&f->detail, "recipient kind %s; declared data categories do not include '%s'",
			 recipient_kind_name(d->kind), cats);
		return;
	}
	/* what was read inside TLS says where: the reader finds it in the
	   evidence, which Wireshark opens decrypted */
	char head[TEXT_MAX];
	int m = snprintf(head, sizeof(head),
			 "recipient kind %s; declared data categories do not include '%s'; read "
			 "after TLS decryption: ", recipient_kind_name(d->kind), cats);
	size_t room = m < 0 || (size_t)m >= sizeof(found) ? 0 : sizeof(found) - (size_t)m;
	if (room > ID_LIST_TAIL)
		id_list(f, ID_DECRYPTED, "; ", found, room);
	else
		snprintf(found, sizeof(found), "%s", "see identifiers");
	text_set(&f->detail, "%s%s", head, found);
}

/* The identifier's value, for masking; location hits carry index n_ids. */
static const char *id_value(const struct audit *a, size_t idx, char *buf, size_t n)
{
	const struct device_profile *dp = a->cfg.profile;
	if (dp != NULL && idx < dp->n_ids)
		return dp->ids[idx].value;
	if (dp != NULL && dp->has_location) {
		snprintf(buf, n, "%.4f,%.4f", dp->lat, dp->lon);
		return buf;
	}
	return "";
}

static bool dest_receives(const struct audit *a, const struct dest *d, const char *category)
{
	const struct policy *p = a->cfg.policy;
	if (d->kind == RECIP_FIRST_PARTY)
		return policy_first_party_receives(p, category);
	if (d->declared != NULL)
		return policy_recipient_receives(d->declared, category);
	return false;
}

static void rule_identifiers(struct audit *a, const struct dest *d, const struct id_hit *hits,
			     size_t n)
{
	const struct policy *p = a->cfg.policy;
	for (size_t i = 0; i < n; i++) {
		const struct id_hit *h = &hits[i];
		char locbuf[64];
		const char *value = id_value(a, h->id_index, locbuf, sizeof(locbuf));
		size_t before = a->n_findings;
		struct finding *f;
		bool created;
		/* read after decryption, it crossed the network encrypted */
		if (!h->decrypted) {
			f = raise(a, RULE_CLEARTEXT_IDENTIFIER, d, p->enc_declared ? p->enc_clause : NULL,
				  p->enc_declared ? "encryption_in_transit" : "data");
			created = a->n_findings > before;
			if (f && add_identifier(f, h, value))
				name_identifiers(f, d);
			announce(a, f, created);
		}

		/* only what the device sends is a disclosure to the recipient */
		if ((h->dir == FLOW_OUT) != d->device_is_client)
			continue;
		if (fa_addr_scope(&d->remote) != FA_SCOPE_PUBLIC)
			continue;
		const char *cat = policy_identifier_category(h->type);
		stmt_exercise(a, "data");
		if (cat != NULL && dest_receives(a, d, cat))
			continue;
		before = a->n_findings;
		f = raise(a, RULE_UNDECLARED_DATA, d, dest_clause(a, d), "data");
		created = a->n_findings > before;
		if (f && add_identifier(f, h, value))
			name_identifiers(f, d);
		announce(a, f, created);
	}
}

bool audit_is_device_flow(const struct audit *a, const struct flow_record *r)
{
	struct dest d;
	memset(&d, 0, sizeof(d));
	return find_device(a, r, &d);
}

void audit_flow(const struct flow_record *r, const struct id_hit *hits, size_t n_hits, void *user)
{
	struct audit *a = user;
	a->st.flows++;
	struct dest d;
	memset(&d, 0, sizeof(d));
	d.r = r;
	if (!find_device(a, r, &d)) {
		remember_other(a, r);
		return;
	}
	a->st.device_flows++;
	if (d.device_is_client && r->has_mac)
		remember_device_mac(a, r->cli_mac);
	classify_dest(a, &d);
	enum fa_addr_scope scope = fa_addr_scope(&d.remote);
	if (scope != FA_SCOPE_PUBLIC) {
		a->st.local_flows++;
		if (n_hits > 0)
			rule_identifiers(a, &d, hits, n_hits);
		return;
	}
	a->st.public_flows++;
	stmt_exercise(a, "recipients");
	if (!r->geo.found_country)
		a->st.unknown_country_flows++;
	rule_recipients(a, &d);
	rule_cross_border(a, &d);
	rule_consent(a, &d);
	rule_transport(a, &d);
	if (n_hits > 0)
		rule_identifiers(a, &d, hits, n_hits);
}

struct audit *audit_new(const struct audit_cfg *cfg)
{
	struct audit *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->cfg = *cfg;
	a->has_profile_mac = device_profile_mac(cfg->profile, a->profile_mac);
	build_statements(a);
	if (a->stmts == NULL || !index_grow(a)) {
		audit_free(a);
		return NULL;
	}
	return a;
}

void audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n_findings; i++) {
		free(a->findings[i]->flows);
		free(a->findings[i]->ids);
		free(a->findings[i]->title);
		free(a->findings[i]->detail);
		free(a->findings[i]->loc.reasoning);
		free(a->findings[i]);
	}
	free(a->findings);
	free(a->index);
	free(a->stmts);
	free(a->all_recipients_clause);
	free(a->others);
	free(a);
}

/* Busiest first; a tie in MAC order, so the order never depends on the capture's. */
static int left_out_cmp(const void *x, const void *y)
{
	const struct audit_left_out *a = x, *b = y;
	if (a->flows != b->flows)
		return a->flows > b->flows ? -1 : 1;
	return memcmp(a->mac, b->mac, 6);
}

const char *location_verdict_name(enum location_verdict v)
{
	switch (v) {
	case LOC_CANNOT_JUDGE: return "cannot_judge";
	case LOC_SUPPORTS: return "supports";
	case LOC_CONTRADICTS: return "contradicts";
	case LOC_NONE: break;
	}
	return NULL;
}

const struct vantage *audit_vantage(const struct audit *a) { return &a->cfg.vantage; }

/* From the vantage point to the country, measured once per country. */
static double vantage_distance(struct audit *a, const char *cc)
{
	for (size_t i = 0; i < a->n_dist; i++)
		if (strcmp(a->dist[i].cc, cc) == 0)
			return a->dist[i].km;
	double km = geodist_vantage_to_country(&a->cfg.vantage, cc);
	if (a->n_dist < sizeof(a->dist) / sizeof(a->dist[0])) {
		snprintf(a->dist[a->n_dist].cc, sizeof(a->dist[0].cc), "%s", cc);
		a->dist[a->n_dist++].km = km;
	}
	return km;
}

/*
 * The location check of one cross-border finding (docs/rules.md): the
 * server is within rtt x 100 km of the vantage point; the registered
 * country is ruled out when even its nearest point lies beyond that by
 * more than the outlines' error. Ruled out, the finding no longer says the
 * data went there, and drops to low.
 */
static void location_judge(struct audit *a, struct finding *f)
{
	struct location_check *l = &f->loc;
	const struct vantage *v = &a->cfg.vantage;
	char ms[24], frames[96], where[64];
	l->bound_km = -1;
	l->distance_km = -1;
	if (l->rtt_us == RTT_NONE) {
		l->verdict = LOC_CANNOT_JUDGE;
		text_set(&l->reasoning, "the capture shows no round trip to an address of %s registered "
			 "in %s (no handshake, DNS answer or QUIC Initial of it was captured), so nothing "
			 "bounds where the server is", f->host, f->country);
		return;
	}
	rtt_ms_str(l->rtt_us, ms, sizeof(ms));
	l->bound_km = l->rtt_us / 1000.0 * GEODIST_KM_PER_MS;
	snprintf(frames, sizeof(frames), "frames %llu and %llu, flow %llu",
		 (unsigned long long)l->req_frame, (unsigned long long)l->ans_frame,
		 (unsigned long long)l->flow_id);
	if (v->is_country)
		snprintf(where, sizeof(where), "the vantage point (in %s)", v->cc);
	else
		snprintf(where, sizeof(where), "the vantage point (%s)", v->text);
	if (!v->set) {
		l->verdict = LOC_CANNOT_JUDGE;
		text_set(&l->reasoning, "the smallest round trip, %s ms (%s), puts the server within "
			 "%.0f km of where the capture was made; with no vantage point given "
			 "(--vantage, or \"vantage\" in the device profile) no country can be ruled out",
			 ms, frames, l->bound_km);
		return;
	}
	l->distance_km = vantage_distance(a, f->country);
	if (l->distance_km < 0) {
		l->verdict = LOC_CANNOT_JUDGE;
		text_set(&l->reasoning, "the smallest round trip, %s ms (%s), puts the server within "
			 "%.0f km of %s; flowaudit has no outline of %s, so it cannot tell whether %s "
			 "is within reach", ms, frames, l->bound_km, where, f->country, f->country);
		return;
	}
	l->distance_km = round(l->distance_km);
	if (l->distance_km > l->bound_km + GEODIST_ERROR_KM) {
		l->verdict = LOC_CONTRADICTS;
		text_set(&l->reasoning, "the server answered in %s ms (%s), so it is within %.0f km of "
			 "%s; %s, where the address is registered, is at least %.0f km away: the server "
			 "answered from nearer than %s", ms, frames, l->bound_km, where, f->country,
			 l->distance_km, f->country);
		return;
	}
	l->verdict = LOC_SUPPORTS;
	text_set(&l->reasoning, "the smallest round trip, %s ms (%s), puts the server within %.0f km "
		 "of %s; %s is %.0f km away at its nearest, within reach: the round trip is "
		 "consistent with the registered country", ms, frames, l->bound_km, where, f->country,
		 l->distance_km);
}

/* Location checks of every cross-border finding, then what they change:
   severities and the cross-border statement, which only a finding not
   contradicted breaks. */
static void location_checks(struct audit *a)
{
	bool any = false, breaks = false;
	for (size_t i = 0; i < a->n_findings; i++) {
		struct finding *f = a->findings[i];
		if (f->rule != RULE_CROSS_BORDER || f->loc.verdict == LOC_NONE)
			continue;
		any = true;
		location_judge(a, f);
		if (f->loc.verdict != LOC_CONTRADICTS) {
			breaks = true;
			continue;
		}
		a->st.by_severity[f->severity]--;
		f->severity = SEV_LOW;
		a->st.by_severity[f->severity]++;
		char ms[24];
		rtt_ms_str(f->loc.rtt_us, ms, sizeof(ms));
		text_set(&f->title, "Data sent to %s, an address registered in %s that answered in %s ms: "
			 "from within %.0f km of the capture, not from %s", f->host, f->country, ms,
			 f->loc.bound_km, f->country);
		text_set(&f->detail, "the address is registered in %s, which is not among the declared "
			 "storage regions, but the round trip rules %s out as where the server answered "
			 "from (location_check: contradicts); severity lowered to low, and the finding "
			 "does not break the cross-border statement; rule '%s'", f->country, f->country,
			 cross_border_rule_name(a->cfg.policy->xb_rule));
	}
	if (!any)
		return;
	struct statement *s = stmt_find(a, "cross_border");
	if (s != NULL && !breaks)
		s->verdict = VERDICT_KEPT;
	a->st.highest = SEV_INFO;
	for (int sev = SEV_COUNT - 1; sev >= 0; sev--) {
		if (a->st.by_severity[sev] > 0) {
			a->st.highest = (enum audit_severity)sev;
			break;
		}
	}
}

void audit_finish(struct audit *a)
{
	if (a->finished)
		return;
	a->finished = true;
	location_checks(a);
	/* the flows of a device's MAC that were not taken: moved to the front */
	for (size_t i = 0; i < a->n_others; i++) {
		struct audit_left_out o = a->others[i];
		if (!device_mac_known(a, o.mac))
			continue;
		o.profile_mac = a->has_profile_mac && memcmp(a->profile_mac, o.mac, 6) == 0;
		a->others[i] = a->others[a->n_left_out];
		a->others[a->n_left_out++] = o;
		a->st.left_out_flows += o.flows;
	}
	if (a->n_left_out > 1)
		qsort(a->others, a->n_left_out, sizeof(*a->others), left_out_cmp);
}

size_t audit_left_out_count(const struct audit *a) { return a->n_left_out; }
const struct audit_left_out *audit_left_out(const struct audit *a, size_t i)
{
	return i < a->n_left_out ? &a->others[i] : NULL;
}

size_t audit_finding_count(const struct audit *a) { return a->n_findings; }
const struct finding *audit_finding(const struct audit *a, size_t i)
{
	return i < a->n_findings ? a->findings[i] : NULL;
}
size_t audit_statement_count(const struct audit *a) { return a->n_stmts; }
const struct statement *audit_statement(const struct audit *a, size_t i)
{
	return i < a->n_stmts ? &a->stmts[i] : NULL;
}
void audit_stats(const struct audit *a, struct audit_stats *out) { *out = a->st; }
