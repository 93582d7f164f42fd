/*
 * sig_import_lists.c - the readers of the tracker lists `sigs import`
 * knows, one function per format, and each format's table from its
 * categories to our purposes (docs/signatures.md, "Importing tracker
 * lists", has the same tables).
 *
 * Receives: the whole list in memory (at most SIG_IMPORT_MAX_INPUT bytes,
 * NUL-terminated). Hands on: entities, purposes and claimed names through
 * sig_import_int.h; the list's version and licence where the file states
 * them. JSON lists are parsed by jansson; a hosts list is read a line at a
 * time, with the line number in every problem.
 */
#include "sig_import_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the category tables ---- */

static const struct imp_category exodus_cats[] = {
	{"Advertisement", "advertising"},
	{"Analytics", "analytics"},
	{"Crash reporting", "crash_reporting"},
	{"CrashReporting", "crash_reporting"},
	{"Identification", "social_login"},
	{"Location", "location"},
	{"Profiling", "analytics"},
	{NULL, NULL},
};

static const struct imp_category ddg_cats[] = {
	{"Advertising", "advertising"},
	{"Ad Motivated Tracking", "advertising"},
	{"Action Pixels", "advertising"},
	{"Ad Fraud", "advertising"},
	{"Analytics", "analytics"},
	{"Audience Measurement", "analytics"},
	{"Third-Party Analytics Marketing", "analytics"},
	{"Session Replay", "analytics"},
	{"Tag Manager", "analytics"},
	{"Social Network", "content"},
	{"Social - Comment", "content"},
	{"Social - Share", "content"},
	{"Embedded Content", "content"},
	{"Badge", "content"},
	{"Federated Login", "social_login"},
	{"SSO", "authentication"},
	{"CDN", "cdn"},
	{"Fraud Prevention", "security"},
	{"Online Payment", "payments"},
	{"Support Chat Widget", "customer_messaging"},
	{"Consent Management Platform", "other"},
	{"Malware", "other"},
	{"Obscure Ownership", "other"},
	{"Unknown High Risk Behavior", "other"},
	{"Non-Tracking", "other"},
	{NULL, NULL},
};

static const struct imp_category disconnect_cats[] = {
	{"Advertising", "advertising"},
	{"Analytics", "analytics"},
	{"Social", "content"},
	{"Content", "content"},
	{"Email", "analytics"},
	{"EmailAggressive", "analytics"},
	{"Fingerprinting", "analytics"},
	{"FingerprintingInvasive", "analytics"},
	{"FingerprintingGeneral", "analytics"},
	{"Anti-fraud", "security"},
	{"Cryptomining", "other"},
	{"ConsentManagers", "other"},
	{"Disconnect", "other"},
	{NULL, NULL},
};

/* ---- JSON lists ---- */

/*
 * Parses the list into *doc and gives its object member key (the rows);
 * NULL, with *doc NULL and err naming the file, when it is not JSON or has
 * no such object.
 */
static json_t *open_list(struct imp *m, const char *buf, size_t len, const char *key,
			 const char *what, json_t **doc, struct fa_err *err)
{
	const char *path = m->o->input;
	json_error_t je;
	*doc = json_loadb(buf, len, 0, &je);
	json_t *v = json_object_get(*doc, key);
	if (*doc == NULL)
		fa_err_set(err, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
	else if (!json_is_object(*doc))
		fa_err_set(err, "%s: expected a JSON object at the top; is this %s?", path, what);
	else if (!json_is_object(v))
		fa_err_set(err, "%s: field '%s': %s; is this %s?", path, key,
			   v ? "not an object" : "missing", what);
	if (!json_is_object(v)) {
		json_decref(*doc);
		*doc = NULL;
		return NULL;
	}
	return v;
}

/* The end of a JSON reader: FA_ERUNTIME if memory ran out on the way. */
static int close_list(struct imp *m, json_t *doc, struct fa_err *err)
{
	json_decref(doc);
	if (m->failed) {
		fa_err_set(err, "%s: out of memory", m->o->input);
		return FA_ERUNTIME;
	}
	return FA_OK;
}

static const char *str_member(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL && s[0] != '\0' ? s : NULL;
}

static void where_key(char *out, size_t len, const char *obj, const char *key)
{
	char k[64];
	imp_text(key, k, 48);
	snprintf(out, len, "%s.\"%s\"", obj, k);
}

/* One alternative of an Exodus network_signature as a plain name; false if not one. */
static bool plain_name(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0, i = 0;
	if (n >= 2 && s[0] == '\\' && s[1] == '.')
		i = 2; /* "\.example\.com": any name under example.com */
	else if (n >= 1 && s[0] == '.')
		i = 1;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < n && s[i + 1] == '.') {
			c = '.';
			i++;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
			return false; /* a pattern: * + ? ( ) [ ] { } ^ $ \d ... */
		}
		if (o + 1 >= len)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0;
}

/* The '|' that ends the alternative starting at p (outside brackets), or NULL. */
static const char *next_alternative(const char *p)
{
	int depth = 0;
	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(' || *p == '[')
			depth++;
		else if ((*p == ')' || *p == ']') && depth > 0)
			depth--;
		else if (*p == '|' && depth == 0)
			return p;
	}
	return NULL;
}

int imp_read_exodus(struct imp *m, const char *buf, size_t len, struct fa_err *err)
{
	json_t *doc;
	json_t *trackers = open_list(m, buf, len, "trackers", "Exodus Privacy's tracker list",
				     &doc, err);
	if (trackers == NULL)
		return FA_EINPUT;
	m->cats = exodus_cats;
	snprintf(m->licence, sizeof(m->licence), "not stated in the file");
	char newest[32] = "";
	const char *key;
	json_t *t;
	json_object_foreach(trackers, key, t) {
		char where[96];
		where_key(where, sizeof(where), "trackers", key);
		m->res->rows++;
		const char *name = json_is_object(t) ? str_member(t, "name") : NULL;
		if (name == NULL) {
			imp_problem(m, where, json_is_object(t) ? "no name" : "not an object");
			continue;
		}
		const char *sig = str_member(t, "network_signature");
		if (sig == NULL) {
			imp_problem(m, where, "%s: no network_signature (Exodus knows it by its code "
				    "only)", name);
			continue;
		}
		const char *made = str_member(t, "creation_date");
		if (made != NULL && strlen(made) < sizeof(newest) && strcmp(made, newest) > 0)
			snprintf(newest, sizeof(newest), "%s", made);
		size_t e = imp_entity(m, name, name, name, where);
		if (e == SIZE_MAX)
			break;
		const char *site = str_member(t, "website");
		if (site != NULL && m->ents[e].homepage == NULL)
			m->ents[e].homepage = strdup(site);
		json_t *cats = json_object_get(t, "categories");
		size_t i;
		json_t *c;
		json_array_foreach(cats, i, c) {
			if (json_is_string(c))
				imp_category(m, e, json_string_value(c));
		}
		for (const char *p = sig; *p != '\0';) {
			const char *bar = next_alternative(p);
			size_t n = bar ? (size_t)(bar - p) : strlen(p);
			char name_buf[SIG_MAX_HOST + 2], shown[80];
			if (!plain_name(p, n, name_buf, sizeof(name_buf))) {
				snprintf(shown, sizeof(shown), "%.*s", (int)(n > 64 ? 64 : n), p);
				imp_problem(m, where, "%s: '%s' in network_signature is a pattern, not a "
					    "plain name", name, shown);
			} else {
				fa_addr a;
				if (fa_addr_parse(name_buf, &a))
					imp_network(m, e, name_buf, where);
				else
					imp_domain(m, e, name_buf, where);
			}
			p += n + (bar ? 1 : 0);
		}
	}
	if (newest[0])
		snprintf(m->version, sizeof(m->version), "newest tracker of %s", newest);
	return close_list(m, doc, err);
}

int imp_read_ddg_tds(struct imp *m, const char *buf, size_t len, struct fa_err *err)
{
	json_t *doc;
	json_t *trackers = open_list(m, buf, len, "trackers", "DuckDuckGo's tds.json", &doc, err);
	if (trackers == NULL)
		return FA_EINPUT;
	m->cats = ddg_cats;
	snprintf(m->licence, sizeof(m->licence), "not stated in the file; DuckDuckGo publishes "
		 "Tracker Radar under CC BY-NC-SA 4.0");
	json_t *domains = json_object_get(doc, "domains");
	const char *key;
	json_t *t;
	json_object_foreach(trackers, key, t) {
		char where[96];
		where_key(where, sizeof(where), "trackers", key);
		m->res->rows++;
		if (!json_is_object(t)) {
			imp_problem(m, where, "not an object");
			continue;
		}
		json_t *owner = json_object_get(t, "owner");
		const char *oname = str_member(owner, "name");
		const char *display = str_member(owner, "displayName");
		if (oname == NULL)
			oname = json_string_value(json_object_get(domains, key));
		if (oname == NULL || oname[0] == '\0') {
			imp_problem(m, where, "no owner, here or in 'domains'");
			continue;
		}
		size_t e = imp_entity(m, oname, display ? display : oname, oname, where);
		if (e == SIZE_MAX)
			break;
		const char *site = str_member(owner, "url");
		if (site != NULL && m->ents[e].homepage == NULL)
			m->ents[e].homepage = strdup(site);
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(t, "categories"), i, c) {
			if (json_is_string(c))
				imp_category(m, e, json_string_value(c));
		}
		imp_domain(m, e, key, where);
	}
	return close_list(m, doc, err);
}

int imp_read_disconnect(struct imp *m, const char *buf, size_t len, struct fa_err *err)
{
	json_t *doc;
	json_t *cats = open_list(m, buf, len, "categories", "Disconnect's services.json", &doc,
				 err);
	if (cats == NULL)
		return FA_EINPUT;
	m->cats = disconnect_cats;
	const char *lic = str_member(doc, "license");
	if (lic != NULL)
		snprintf(m->licence, sizeof(m->licence), "%s", lic);
	else
		snprintf(m->licence, sizeof(m->licence), "not stated in the file; Disconnect "
			 "publishes its lists under CC BY-NC-SA 4.0");
	const char *cat;
	json_t *arr;
	json_object_foreach(cats, cat, arr) {
		char cname[64];
		imp_text(cat, cname, 48);
		if (!json_is_array(arr)) {
			char where[96];
			snprintf(where, sizeof(where), "categories.%s", cname);
			imp_problem(m, where, "not an array of services");
			continue;
		}
		size_t i;
		json_t *svc;
		json_array_foreach(arr, i, svc) {
			char where[96];
			snprintf(where, sizeof(where), "categories.%.48s[%zu]", cname, i);
			m->res->rows++;
			if (!json_is_object(svc) || json_object_size(svc) != 1) {
				imp_problem(m, where, "not an object with one member, the service");
				continue;
			}
			const char *name = json_object_iter_key(json_object_iter(svc));
			json_t *body = json_object_get(svc, name);
			if (!json_is_object(body) || name[0] == '\0') {
				imp_problem(m, where, "the service is not an object of addresses");
				continue;
			}
			size_t e = imp_entity(m, name, name, name, where);
			if (e == SIZE_MAX)
				break;
			imp_category(m, e, cat);
			const char *site;
			json_t *doms;
			size_t n_doms = 0;
			json_object_foreach(body, site, doms) {
				if (!json_is_array(doms))
					continue; /* a flag such as "dnt": "eff" */
				if (m->ents[e].homepage == NULL)
					m->ents[e].homepage = strdup(site);
				size_t j;
				json_t *d;
				json_array_foreach(doms, j, d) {
					n_doms++;
					if (json_is_string(d))
						imp_domain(m, e, json_string_value(d), where);
					else
						imp_problem(m, where, "%s: a domain that is not a string",
							    name);
				}
			}
			if (n_doms == 0)
				imp_problem(m, where, "%s: no domains", name);
		}
	}
	return close_list(m, doc, err);
}

/* ---- hosts lists ---- */

/*
 * The group a host is filed under: its last two labels, or three where the
 * second-level label is one a country code registry hands out (co.uk,
 * com.cn). A hosts list names no owner; this only keeps one site's hosts
 * in one entry.
 */
static void group_of(const char *host, char *out, size_t len)
{
	static const char *const second[] = {"co", "com", "net", "org", "gov", "edu", "ac",
					     "or", "ne", "go", "gob", "mil", "nic", "ltd"};
	size_t n = strlen(host);
	const char *last = NULL, *prev = NULL, *third = NULL;
	for (const char *p = host + n; p > host; p--) {
		if (p[-1] != '.')
			continue;
		if (last == NULL)
			last = p;
		else if (prev == NULL)
			prev = p;
		else if (third == NULL)
			third = p;
	}
	const char *start = prev ? prev : host;
	if (prev != NULL && strlen(last) == 2) {
		size_t sl = (size_t)(last - prev - 1);
		for (size_t i = 0; i < sizeof(second) / sizeof(second[0]); i++)
			if (strlen(second[i]) == sl && strncmp(prev, second[i], sl) == 0)
				start = third ? third : host;
	}
	snprintf(out, len, "%s", start);
}

static bool local_name(const char *h)
{
	static const char *const names[] = {"localhost", "localhost.localdomain", "local",
					    "broadcasthost", "ip6-localhost", "ip6-loopback",
					    "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes",
					    "ip6-allrouters", "ip6-allhosts", "0.0.0.0"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(h, names[i]) == 0)
			return true;
	return false;
}

/* "Title: x" and the like in a header comment. */
static void header_line(struct imp *m, const char *s)
{
	static const char *const keys[] = {"Title:", "Version:", "Last modified:", "Date:",
					   "License:", "Licence:", "Homepage:"};
	while (*s == '#' || *s == '!' || *s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t kl = strlen(keys[i]);
		if (strncasecmp(s, keys[i], kl) != 0)
			continue;
		const char *v = s + kl + strspn(s + kl, " \t");
		if (*v == '\0')
			return;
		if (i == 0 && strcmp(m->title, "hosts list") == 0)
			snprintf(m->title, sizeof(m->title), "%.200s", v);
		else if (i >= 1 && i <= 3 && m->version[0] == '\0')
			snprintf(m->version, sizeof(m->version), "%.120s", v);
		else if ((i == 4 || i == 5) && m->licence[0] == '\0')
			snprintf(m->licence, sizeof(m->licence), "%.1000s", v);
		else if (i == 6 && m->o->url == NULL && m->list_url[0] == '\0' && imp_url(v))
			snprintf(m->list_url, sizeof(m->list_url), "%.2000s", v);
		return;
	}
}

/* The host of a "||host^" rule with no option but third-party; false if not one. */
static bool filter_host(char *s, char **host)
{
	char *caret = strchr(s + 2, '^');
	if (caret == NULL)
		return false;
	*caret = '\0';
	const char *opts = caret + 1;
	if (*opts == '$') {
		opts++;
		static const char *const ok[] = {"third-party", "3p", "important", "all"};
		for (char *o = (char *)opts, *next; o != NULL && *o; o = next) {
			next = strchr(o, ',');
			size_t n = next ? (size_t)(next - o) : strlen(o);
			bool known = false;
			for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
				known = known || (strlen(ok[i]) == n && strncmp(o, ok[i], n) == 0);
			if (!known)
				return false;
			if (next)
				next++;
		}
	} else if (*opts != '\0') {
		return false;
	}
	*host = s + 2;
	return strpbrk(*host, "*/|:?=&") == NULL && (*host)[0] != '\0';
}

static int add_host(struct imp *m, const char *host, const char *where, struct fa_err *err,
		    const char *const *purposes, size_t n_purposes)
{
	char low[SIG_MAX_HOST + 2], group[SIG_MAX_HOST + 2];
	if (imp_name(host, low) && local_name(low))
		return FA_OK;
	if (!imp_name(host, low) || sig_domain_problem(low) != NULL) {
		imp_domain(m, SIZE_MAX, host, where); /* says what is wrong with it */
		return FA_OK;
	}
	group_of(low, group, sizeof(group));
	size_t e = imp_entity(m, group, group, group, where);
	if (e == SIZE_MAX) {
		fa_err_set(err, "%s: out of memory", m->o->input);
		return FA_ERUNTIME;
	}
	for (size_t i = 0; i < n_purposes; i++)
		imp_purpose(m, e, purposes[i]);
	imp_domain(m, e, low, where);
	return FA_OK;
}

int imp_read_hosts(struct imp *m, const char *buf, size_t len, struct fa_err *err)
{
	const char *purposes[32];
	size_t n_purposes = 0;
	char plist[512];
	snprintf(plist, sizeof(plist), "%s", m->o->purposes ? m->o->purposes : "other");
	char *save;
	for (char *p = strtok_r(plist, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		if (!sig_purpose_valid(p) || n_purposes == 32) {
			fa_err_set(err, "--purposes: '%s' is not a purpose (advertising, analytics, "
				   "attribution, ... other: see docs/signatures.md)", p);
			return FA_EINPUT;
		}
		purposes[n_purposes++] = p;
	}
	if (memchr(buf, '\0', len) != NULL) {
		fa_err_set(err, "%s: a NUL byte; a hosts list is text", m->o->input);
		return FA_EINPUT;
	}
	unsigned long lineno = 0;
	for (const char *p = buf; p < buf + len;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
		const char *next = nl ? nl + 1 : buf + len;
		lineno++;
		char line[1024], where[96];
		snprintf(where, sizeof(where), "line %lu", lineno);
		if (n >= sizeof(line)) {
			imp_problem(m, where, "longer than %zu bytes", sizeof(line) - 1);
			m->res->rows++;
			p = next;
			continue;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = next;
		char *s = line + strspn(line, " \t\r");
		size_t sl = strlen(s);
		while (sl > 0 && strchr(" \t\r", s[sl - 1]) != NULL)
			s[--sl] = '\0';
		if (*s == '\0' || *s == '[')
			continue;
		if (*s == '#' || *s == '!') {
			header_line(m, s);
			continue;
		}
		m->res->rows++;
		if (strncmp(s, "@@", 2) == 0) {
			imp_problem(m, where, "an exception rule, not a name to list");
			continue;
		}
		if (strncmp(s, "||", 2) == 0) {
			char *host;
			if (!filter_host(s, &host))
				imp_problem(m, where, "not a pure domain rule (||name^ with no options "
					    "but third-party)");
			else if (add_host(m, host, where, err, purposes, n_purposes) != FA_OK)
				return FA_ERUNTIME;
			continue;
		}
		/* a comment after the names starts with blank and '#'; any other '#' is
		   a cosmetic filter ("site##.banner"), not a name */
		char *hash = strchr(s, '#');
		if (hash != NULL && hash > s && (hash[-1] == ' ' || hash[-1] == '\t')) {
			*hash = '\0';
		} else if (hash != NULL) {
			imp_problem(m, where, "not a pure domain rule (a cosmetic filter)");
			continue;
		}
		char *tok[16];
		size_t nt = 0;
		for (char *t = strtok_r(s, " \t", &save); t != NULL && nt < 16;
		     t = strtok_r(NULL, " \t", &save))
			tok[nt++] = t;
		fa_addr a;
		size_t first = 0;
		if (nt >= 2 && fa_addr_parse(tok[0], &a))
			first = 1;
		else if (nt != 1 || strpbrk(tok[0], "*/|^$=:,") != NULL) {
			imp_problem(m, where, "neither 'ADDRESS NAME...' nor a bare name nor "
				    "'||name^'");
			continue;
		}
		for (size_t i = first; i < nt; i++)
			if (add_host(m, tok[i], where, err, purposes, n_purposes) != FA_OK)
				return FA_ERUNTIME;
	}
	if (m->list_url[0] == '\0') {
		fa_err_set(err, "%s: the list names no homepage: give its address with --url URL",
			   m->o->input);
		return FA_EINPUT;
	}
	if (m->licence[0] == '\0')
		snprintf(m->licence, sizeof(m->licence), "not stated in the file");
	return FA_OK;
}
