/*
 * report_html_words.c - the plain words report.html uses in place of the
 * report document's codes, the country names beside ISO 3166 codes, and
 * the two sections made of them: what this audit cannot see, and the
 * glossary of the words used.
 *
 * Receives codes from report_html.c and report_html_charts.c (severity,
 * rule, recipient kind, name source, link type, country) and hands back
 * static strings; a code it does not know is shown as itself, escaped, so
 * a newer report document still renders. The code stays on the page in a
 * title attribute and in the glossary, so a reader can match the page to
 * report.json. Owns nothing; no state.
 */
#include "report_html.h"

#include <string.h>

struct word {
	const char *code, *plain, *meaning;
};

static const struct word severities[] = {
	{"high", "high", "a declaration is contradicted where it matters most: data went to a "
	 "recipient the policy does not name, abroad or before consent against the policy, or a "
	 "device identifier travelled unencrypted"},
	{"medium", "medium", "a declaration is contradicted with less exposure: a plaintext "
	 "connection, or data a recipient is not declared to receive"},
	{"low", "low", "needs a person to look: a destination nobody could identify, which may "
	 "or may not break a declaration"},
	{"info", "info", "recorded for the reader; breaks nothing"},
};

static const struct word kinds[] = {
	{"first_party", "the app's company", "a server under the domains the policy gives as the "
	 "company's own (the first party)"},
	{"sdk", "third-party SDK", "a service of another company built into the app (advertising, "
	 "analytics, login), named by flowaudit's signature catalogue"},
	{"infrastructure", "shared infrastructure", "a cloud or content-delivery network serving "
	 "many companies; it does not say whom the data is for"},
	{"unknown", "not identified", "no first-party domain and no catalogue entry covers the "
	 "destination"},
	{"local", "local network", "an address on the local network (router, printer, the device "
	 "itself): never a recipient, never abroad"},
	{"other", "other", "kinds beyond those the chart has colours for"},
};

static const struct word sources[] = {
	{"sni", "TLS server name", "the name the app asked for when it opened an encrypted (TLS) "
	 "connection, which travels in clear (Server Name Indication, SNI)"},
	{"quic_sni", "QUIC server name", "the same, for a QUIC (HTTP/3) connection"},
	{"http_host", "HTTP Host header", "the name in an unencrypted web request"},
	{"dns", "DNS answer", "an earlier DNS answer in the capture gave this address for the name"},
	{"none", "no name", "only the address is known"},
};

static const struct word rules[] = {
	{"undeclared-recipient", "recipient not declared", "traffic to a third party the policy "
	 "does not name"},
	{"unknown-endpoint", "destination not identified", "traffic to a destination no "
	 "first-party domain or catalogue entry covers, to be identified by a person"},
	{"cross-border-without-consent", "sent abroad without consent", "traffic to a country "
	 "outside the declared storage regions, against the policy's rule for transfers"},
	{"before-consent", "contacted before consent", "a recipient whose purpose needs consent, "
	 "contacted before consent was given"},
	{"after-withdrawal", "contacted after withdrawal", "the same, after consent was withdrawn"},
	{"cleartext-identifier", "identifier sent unencrypted", "a device identifier (IMEI, "
	 "Android ID, advertising ID, ...) readable in unencrypted traffic"},
	{"undeclared-data", "data not declared for the recipient", "an identifier reached a "
	 "recipient the policy does not say receives it"},
	{"unencrypted-transport", "unencrypted connection", "a plaintext protocol where the "
	 "policy promises encryption in transit"},
};

static const struct word links[] = {
	{"EN10MB", "Ethernet", "link type EN10MB"},
	{"RAW", "raw IP", "link type RAW: IP packets without a link header"},
	{"IPV4", "raw IPv4", "link type IPV4"},
	{"IPV6", "raw IPv6", "link type IPV6"},
	{"LINUX_SLL", "Linux cooked capture", "link type LINUX_SLL (tcpdump -i any)"},
	{"LINUX_SLL2", "Linux cooked capture", "link type LINUX_SLL2 (tcpdump -i any)"},
	{"NULL", "BSD loopback", "link type NULL"},
	{"LOOP", "OpenBSD loopback", "link type LOOP"},
	{"PPP", "PPP", "link type PPP"},
	{"PPP_HDLC", "PPP in HDLC framing", "link type PPP_HDLC"},
};

#define N(a) (sizeof(a) / sizeof(*(a)))

static const struct {
	const struct word *w;
	size_t n;
	const char *heading; /* in the glossary; NULL: not listed there */
} tables[RH_WORDS_COUNT] = {
	[RH_SEVERITY] = {severities, N(severities), "Severities"},
	[RH_RULE] = {rules, N(rules), "Rules"},
	[RH_KIND] = {kinds, N(kinds), "Recipient kinds"},
	[RH_SOURCE] = {sources, N(sources), "How a name was learned"},
	[RH_LINK] = {links, N(links), NULL},
};

static const struct word *lookup(enum rh_words t, const char *code)
{
	for (size_t i = 0; code != NULL && i < tables[t].n; i++)
		if (strcmp(tables[t].w[i].code, code) == 0)
			return &tables[t].w[i];
	return NULL;
}

const char *rh_plain(enum rh_words t, const char *code)
{
	const struct word *w = lookup(t, code);
	return w ? w->plain : code;
}

void rh_word(struct jsonw *out, enum rh_words t, const char *code, const char *dflt)
{
	const struct word *w = lookup(t, code);
	if (w == NULL) {
		rh_esc_or(out, code, dflt);
		return;
	}
	rt_put(out, "<span title=\"");
	rt_put(out, w->code);
	rt_put(out, "\">");
	rt_put(out, w->plain);
	rt_put(out, "</span>");
}

/* ---- what this audit cannot see ---- */

void rh_cannot_see(struct jsonw *out, const json_t *doc)
{
	const json_t *s = rh_get(doc, "summary");
	long long flows = 0, dev = 0, enc = 0, listed = 0;
	bool counts = rh_int(s, "flows", &flows) && rh_int(s, "device_flows", &dev);
	size_t i;
	const json_t *fl;
	json_array_foreach(rh_get(doc, "flows"), i, fl) {
		listed++;
		enc += json_is_true(rh_get(fl, "encrypted"));
	}
	rt_put(out, "<h2 id=\"limits\">What this audit cannot see</h2>\n<ul class=\"limits\">\n");
	const json_t *tls = rh_get(s, "tls");
	long long tls_flows = rh_int0(tls, "flows"), tls_dec = rh_int0(tls, "decrypted");
	if (json_is_true(rh_get(tls, "examined"))) {
		/* keys were given: say how far they reached, reason by reason */
		rt_printf(out,
			  "<li><b>Inside encrypted connections, without their keys.</b> TLS "
			  "session keys were given: %lld of the %lld TLS flows were decrypted and "
			  "read like unencrypted traffic",
			  tls_dec, tls_flows);
		const char *why;
		const json_t *n;
		bool first = true;
		json_object_foreach((json_t *)rh_get(tls, "not_decrypted"), why, n) {
			rt_printf(out, "%s%lld ", first ? "; not decrypted: " : ", ",
				  (long long)json_integer_value(n));
			rt_put(out, "<span class=\"mono\">");
			rh_esc(out, why);
			rt_put(out, "</span>");
			first = false;
		}
		rt_put(out,
		       ". What the app sent inside the others, and inside QUIC, is not read: for "
		       "those, flowaudit sees who was contacted, when, and how much was sent.");
	} else {
		rt_put(
		    out,
		    "<li><b>Inside encrypted connections.</b> No TLS session keys were given "
		    "(<span class=\"mono\">--keylog</span>, or a pcapng's Decryption Secrets "
		    "Blocks), so the payload inside TLS was not examined: what the app sent "
		    "inside TLS or QUIC connections (identifiers, location, recordings, anything) "
		    "is not read. It sees who was contacted, when, and how much was sent.");
		if (tls)
			rt_printf(out, " %lld flows carried TLS.", tls_flows);
	}
	if (listed)
		rt_printf(out, " %lld of the %lld flows listed in this report were encrypted.", enc,
			  listed);
	rt_put(out,
	       "</li>\n<li><b>Names it was not shown.</b> A destination is named only from what "
	       "the traffic shows: the server name of a TLS or QUIC handshake, the Host of an HTTP "
	       "request, or a DNS answer earlier in the same capture. A connection to a bare "
	       "address, with an encrypted handshake (ECH) or after a DNS lookup the capture does "
	       "not hold (DNS over HTTPS, a cache) is known by its address alone.</li>\n");
	rt_put(out,
	       "<li><b>Devices it did not identify.</b> Only the traffic of the devices listed in "
	       "this report is audited");
	if (counts && flows > dev)
		rt_printf(out,
			  ": %lld of the %lld flows in the capture were between other hosts and "
			  "were not audited",
			  flows - dev, flows);
	rt_put(out,
	       ". A device on an address it did not take as the device's is not audited.</li>\n");
	rt_put(
	    out,
	    "<li><b>What is not in the capture.</b> Traffic before the capture began or after "
	    "it ended, over another network (mobile data), or dropped by the capture.</li>\n"
	    "<li><b>Identifiers it was not given.</b> Device identifiers are found only when the "
	    "device profile gives their values, and only in unencrypted data or TLS decrypted "
	    "with its keys (as written, or hex, Base64, MD5, SHA-1 or SHA-256 of the "
	    "value).</li>\n"
	    "<li><b>Where a server stands.</b> Countries are those an address is registered in, "
	    "which is not always where the server is or who runs it.</li>\n"
	    "<li><b>What happens after.</b> What a recipient stores, for how long and with whom "
	    "it shares the data is not visible on the network.</li>\n</ul>\n");
}

/* ---- glossary ---- */

void rh_glossary(struct jsonw *out)
{
	rt_put(out,
	       "<h2 id=\"glossary\">Words used in this report</h2>\n<p>report.json and the other "
	       "outputs use the codes in the second column.</p>\n<table class=\"glossary\">\n");
	for (size_t t = 0; t < RH_WORDS_COUNT; t++) {
		if (tables[t].heading == NULL)
			continue;
		rt_printf(out, "<tr><th colspan=\"3\">%s</th></tr>\n", tables[t].heading);
		for (size_t i = 0; i < tables[t].n; i++) {
			const struct word *w = &tables[t].w[i];
			rt_printf(out,
				  "<tr><td>%s</td><td class=\"mono\">%s</td><td>%s</td></tr>\n",
				  w->plain, w->code, w->meaning);
		}
	}
	rt_put(out,
	       "<tr><th colspan=\"3\">Statement verdicts</th></tr>\n"
	       "<tr><td>kept</td><td class=\"mono\">kept</td><td>the traffic exercised the "
	       "statement and did not contradict it</td></tr>\n"
	       "<tr><td>broken</td><td class=\"mono\">broken</td><td>at least one finding "
	       "contradicts it</td></tr>\n"
	       "<tr><td>not exercised</td><td class=\"mono\">not_exercised</td><td>no traffic the "
	       "statement speaks of was seen: the capture neither confirms nor contradicts "
	       "it</td></tr>\n"
	       "<tr><th colspan=\"3\">Other words</th></tr>\n"
	       "<tr><td>flow</td><td></td><td>one connection (or one exchange, for UDP) between a "
	       "device and one other address and port</td></tr>\n"
	       "<tr><td>frame</td><td></td><td>one packet of the capture file, numbered from 1 as "
	       "Wireshark numbers them</td></tr>\n"
	       "<tr><td>first party</td><td></td><td>the company that publishes the app and its "
	       "policy</td></tr>\n</table>\n");
}

/* ---- countries (ISO 3166-1 alpha-2, and the registries' regional codes) ---- */

static const struct {
	char cc[3];
	const char *name;
} countries[] = {
	{"AD", "Andorra"}, {"AE", "United Arab Emirates"}, {"AF", "Afghanistan"},
	{"AG", "Antigua and Barbuda"}, {"AI", "Anguilla"}, {"AL", "Albania"}, {"AM", "Armenia"},
	{"AO", "Angola"}, {"AP", "Asia-Pacific (registry region)"}, {"AQ", "Antarctica"},
	{"AR", "Argentina"}, {"AS", "American Samoa"}, {"AT", "Austria"}, {"AU", "Australia"},
	{"AW", "Aruba"}, {"AX", "Åland Islands"}, {"AZ", "Azerbaijan"},
	{"BA", "Bosnia and Herzegovina"}, {"BB", "Barbados"}, {"BD", "Bangladesh"}, {"BE", "Belgium"},
	{"BF", "Burkina Faso"}, {"BG", "Bulgaria"}, {"BH", "Bahrain"}, {"BI", "Burundi"},
	{"BJ", "Benin"}, {"BL", "Saint Barthélemy"}, {"BM", "Bermuda"}, {"BN", "Brunei"},
	{"BO", "Bolivia"}, {"BQ", "Bonaire, Sint Eustatius and Saba"}, {"BR", "Brazil"},
	{"BS", "Bahamas"}, {"BT", "Bhutan"}, {"BV", "Bouvet Island"}, {"BW", "Botswana"},
	{"BY", "Belarus"}, {"BZ", "Belize"}, {"CA", "Canada"}, {"CC", "Cocos (Keeling) Islands"},
	{"CD", "Congo (Democratic Republic)"}, {"CF", "Central African Republic"}, {"CG", "Congo"},
	{"CH", "Switzerland"}, {"CI", "Côte d'Ivoire"}, {"CK", "Cook Islands"}, {"CL", "Chile"},
	{"CM", "Cameroon"}, {"CN", "China"}, {"CO", "Colombia"}, {"CR", "Costa Rica"}, {"CU", "Cuba"},
	{"CV", "Cabo Verde"}, {"CW", "Curaçao"}, {"CX", "Christmas Island"}, {"CY", "Cyprus"},
	{"CZ", "Czechia"}, {"DE", "Germany"}, {"DJ", "Djibouti"}, {"DK", "Denmark"},
	{"DM", "Dominica"}, {"DO", "Dominican Republic"}, {"DZ", "Algeria"}, {"EC", "Ecuador"},
	{"EE", "Estonia"}, {"EG", "Egypt"}, {"EH", "Western Sahara"}, {"ER", "Eritrea"},
	{"ES", "Spain"}, {"ET", "Ethiopia"}, {"EU", "Europe (registry region)"}, {"FI", "Finland"},
	{"FJ", "Fiji"}, {"FK", "Falkland Islands (Malvinas)"}, {"FM", "Micronesia"},
	{"FO", "Faroe Islands"}, {"FR", "France"}, {"GA", "Gabon"}, {"GB", "United Kingdom"},
	{"GD", "Grenada"}, {"GE", "Georgia"}, {"GF", "French Guiana"}, {"GG", "Guernsey"},
	{"GH", "Ghana"}, {"GI", "Gibraltar"}, {"GL", "Greenland"}, {"GM", "Gambia"}, {"GN", "Guinea"},
	{"GP", "Guadeloupe"}, {"GQ", "Equatorial Guinea"}, {"GR", "Greece"},
	{"GS", "South Georgia and the South Sandwich Islands"}, {"GT", "Guatemala"}, {"GU", "Guam"},
	{"GW", "Guinea-Bissau"}, {"GY", "Guyana"}, {"HK", "Hong Kong"},
	{"HM", "Heard Island and McDonald Islands"}, {"HN", "Honduras"}, {"HR", "Croatia"},
	{"HT", "Haiti"}, {"HU", "Hungary"}, {"ID", "Indonesia"}, {"IE", "Ireland"}, {"IL", "Israel"},
	{"IM", "Isle of Man"}, {"IN", "India"}, {"IO", "British Indian Ocean Territory"},
	{"IQ", "Iraq"}, {"IR", "Iran"}, {"IS", "Iceland"}, {"IT", "Italy"}, {"JE", "Jersey"},
	{"JM", "Jamaica"}, {"JO", "Jordan"}, {"JP", "Japan"}, {"KE", "Kenya"}, {"KG", "Kyrgyzstan"},
	{"KH", "Cambodia"}, {"KI", "Kiribati"}, {"KM", "Comoros"}, {"KN", "Saint Kitts and Nevis"},
	{"KP", "North Korea"}, {"KR", "South Korea"}, {"KW", "Kuwait"}, {"KY", "Cayman Islands"},
	{"KZ", "Kazakhstan"}, {"LA", "Laos"}, {"LB", "Lebanon"}, {"LC", "Saint Lucia"},
	{"LI", "Liechtenstein"}, {"LK", "Sri Lanka"}, {"LR", "Liberia"}, {"LS", "Lesotho"},
	{"LT", "Lithuania"}, {"LU", "Luxembourg"}, {"LV", "Latvia"}, {"LY", "Libya"},
	{"MA", "Morocco"}, {"MC", "Monaco"}, {"MD", "Moldova"}, {"ME", "Montenegro"},
	{"MF", "Saint Martin (French part)"}, {"MG", "Madagascar"}, {"MH", "Marshall Islands"},
	{"MK", "North Macedonia"}, {"ML", "Mali"}, {"MM", "Myanmar"}, {"MN", "Mongolia"},
	{"MO", "Macao"}, {"MP", "Northern Mariana Islands"}, {"MQ", "Martinique"},
	{"MR", "Mauritania"}, {"MS", "Montserrat"}, {"MT", "Malta"}, {"MU", "Mauritius"},
	{"MV", "Maldives"}, {"MW", "Malawi"}, {"MX", "Mexico"}, {"MY", "Malaysia"},
	{"MZ", "Mozambique"}, {"NA", "Namibia"}, {"NC", "New Caledonia"}, {"NE", "Niger"},
	{"NF", "Norfolk Island"}, {"NG", "Nigeria"}, {"NI", "Nicaragua"}, {"NL", "Netherlands"},
	{"NO", "Norway"}, {"NP", "Nepal"}, {"NR", "Nauru"}, {"NU", "Niue"}, {"NZ", "New Zealand"},
	{"OM", "Oman"}, {"PA", "Panama"}, {"PE", "Peru"}, {"PF", "French Polynesia"},
	{"PG", "Papua New Guinea"}, {"PH", "Philippines"}, {"PK", "Pakistan"}, {"PL", "Poland"},
	{"PM", "Saint Pierre and Miquelon"}, {"PN", "Pitcairn"}, {"PR", "Puerto Rico"},
	{"PS", "Palestine"}, {"PT", "Portugal"}, {"PW", "Palau"}, {"PY", "Paraguay"}, {"QA", "Qatar"},
	{"RE", "Réunion"}, {"RO", "Romania"}, {"RS", "Serbia"}, {"RU", "Russia"}, {"RW", "Rwanda"},
	{"SA", "Saudi Arabia"}, {"SB", "Solomon Islands"}, {"SC", "Seychelles"}, {"SD", "Sudan"},
	{"SE", "Sweden"}, {"SG", "Singapore"}, {"SH", "Saint Helena, Ascension and Tristan da Cunha"},
	{"SI", "Slovenia"}, {"SJ", "Svalbard and Jan Mayen"}, {"SK", "Slovakia"},
	{"SL", "Sierra Leone"}, {"SM", "San Marino"}, {"SN", "Senegal"}, {"SO", "Somalia"},
	{"SR", "Suriname"}, {"SS", "South Sudan"}, {"ST", "Sao Tome and Principe"},
	{"SV", "El Salvador"}, {"SX", "Sint Maarten (Dutch part)"}, {"SY", "Syria"},
	{"SZ", "Eswatini"}, {"TC", "Turks and Caicos Islands"}, {"TD", "Chad"},
	{"TF", "French Southern Territories"}, {"TG", "Togo"}, {"TH", "Thailand"},
	{"TJ", "Tajikistan"}, {"TK", "Tokelau"}, {"TL", "Timor-Leste"}, {"TM", "Turkmenistan"},
	{"TN", "Tunisia"}, {"TO", "Tonga"}, {"TR", "Türkiye"}, {"TT", "Trinidad and Tobago"},
	{"TV", "Tuvalu"}, {"TW", "Taiwan"}, {"TZ", "Tanzania"}, {"UA", "Ukraine"}, {"UG", "Uganda"},
	{"UM", "United States Minor Outlying Islands"}, {"US", "United States"}, {"UY", "Uruguay"},
	{"UZ", "Uzbekistan"}, {"VA", "Vatican City"}, {"VC", "Saint Vincent and the Grenadines"},
	{"VE", "Venezuela"}, {"VG", "Virgin Islands, British"}, {"VI", "Virgin Islands, U.S."},
	{"VN", "Vietnam"}, {"VU", "Vanuatu"}, {"WF", "Wallis and Futuna"}, {"WS", "Samoa"},
	{"XK", "Kosovo"}, {"YE", "Yemen"}, {"YT", "Mayotte"}, {"ZA", "South Africa"}, {"ZM", "Zambia"},
	{"ZW", "Zimbabwe"},
};

/* The country's English short name, or NULL for a code not in the table. */
const char *rh_country_name(const char *cc)
{
	if (cc == NULL || strlen(cc) != 2)
		return NULL;
	size_t lo = 0, hi = N(countries);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(cc, countries[mid].cc);
		if (c == 0)
			return countries[mid].name;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void rh_country(struct jsonw *out, const char *cc, const char *dflt)
{
	const char *name = rh_country_name(cc);
	if (name == NULL) {
		rh_esc_or(out, cc, dflt);
		return;
	}
	rh_esc(out, name);
	rt_put(out, " (");
	rh_esc(out, cc);
	rt_put(out, ")");
}
