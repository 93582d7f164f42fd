/*
 * audit: identifiers read after TLS decryption against the rules, with the
 * keyed lab's declaration (tests/fixtures/tls-e2e/policy.json: the first
 * party xigeme.com receives device IDs, nobody else is declared anything
 * a device ID is) and device profile. A decrypted hit sent to an undeclared
 * recipient makes undeclared-data and never cleartext-identifier, and the
 * finding says it was decrypted and where (header name, query key, body
 * offset) in report.json's form; an identifier sent in clear still makes
 * cleartext-identifier; a decrypted hit to the first party, which is
 * declared to receive it, makes no finding at all.
 */
#include "flowaudit/audit.h"
#include "flowaudit/report_json.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FIX "tests/fixtures/tls-e2e/"

struct lab {
	struct policy *pol;
	struct device_profile *dev;
	struct audit *a;
	fa_addr device;
};

static int lab_open(void **state)
{
	struct lab *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	struct fa_err err = {""};
	assert_int_equal(policy_load(FIX "policy.json", NULL, NULL, &l->pol, &err), FA_OK);
	assert_int_equal(device_load(FIX "device.json", &l->dev, &err), FA_OK);
	fa_addr_v4(&l->device, (const uint8_t[4]){10, 0, 0, 2});
	struct audit_cfg cfg = {.policy = l->pol, .profile = l->dev, .device_addrs = &l->device,
				.n_device_addrs = 1};
	l->a = audit_new(&cfg);
	assert_non_null(l->a);
	*state = l;
	return 0;
}

static int lab_close(void **state)
{
	struct lab *l = *state;
	audit_free(l->a);
	device_free(l->dev);
	policy_free(l->pol);
	free(l);
	return 0;
}

/* The index of an identifier type in the device profile. */
static size_t id_index(const struct lab *l, const char *type)
{
	for (size_t i = 0; i < l->dev->n_ids; i++)
		if (strcmp(l->dev->ids[i].type, type) == 0)
			return i;
	fail_msg("no %s in the profile", type);
	return 0;
}

/* A flow of the device to 93.184.216.srv. */
static struct flow_record flow_to(const struct lab *l, uint64_t id, uint8_t srv, const char *name,
				  bool decrypted)
{
	struct flow_record r = {.id = id, .proto = 6, .transport = "tcp", .cport = 40000 + (uint16_t)id,
				.sport = decrypted ? 443 : 80, .first_frame = id, .last_frame = id + 9,
				.first = 1700000000000000 + (fa_time)id, .name = name,
				.name_source = NAME_SNI, .protocol = decrypted ? "TLS" : "HTTP",
				.encrypted = decrypted, .cleartext_app = !decrypted};
	r.last = r.first + 1000;
	r.cli = l->device;
	fa_addr_v4(&r.srv, (const uint8_t[4]){93, 184, 216, srv});
	r.tls_status = decrypted ? "decrypted" : NULL;
	r.tls_decrypted = decrypted;
	r.pkts[0] = r.pkts[1] = 5;
	return r;
}

static struct id_hit hit(const struct lab *l, uint64_t flow, const char *type, const char *enc,
			 const char *where, const char *field, uint64_t offset, bool decrypted)
{
	return (struct id_hit){.flow_id = flow, .type = type, .encoding = enc, .where = where,
			       .field = field, .decrypted = decrypted,
			       .id_index = id_index(l, type), .frame = flow + 3,
			       .offset = offset, .dir = FLOW_OUT};
}

static const struct finding *find(const struct audit *a, enum audit_rule rule, const char *host)
{
	for (size_t i = 0; i < audit_finding_count(a); i++) {
		const struct finding *f = audit_finding(a, i);
		if (f->rule == rule && strcmp(f->host, host) == 0)
			return f;
	}
	return NULL;
}

static void test_decrypted_hits(void **state)
{
	struct lab *l = *state;
	/* inside TLS to an undeclared host: a header, a query key, a body */
	struct flow_record r1 = flow_to(l, 1, 34, "lab.example.net", true);
	struct id_hit h1[] = {
		hit(l, 1, "android_id", "plain", "http_header", "X-Device-Id", 120, true),
		hit(l, 1, "imei", "base64", "http_query", "imei", 40, true),
		hit(l, 1, "android_id", "plain", "http_body", NULL, 517, true),
	};
	r1.first_hit = 0;
	r1.n_hits = 3;
	audit_flow(&r1, h1, 3, l->a);
	/* the same identifier in clear to another undeclared host */
	struct flow_record r2 = flow_to(l, 2, 35, "plain.example.net", false);
	struct id_hit h2[] = {hit(l, 2, "imei", "plain", "http_body", NULL, 210, false)};
	audit_flow(&r2, h2, 1, l->a);
	/* inside TLS to the first party, declared to receive device IDs */
	struct flow_record r3 = flow_to(l, 3, 36, "api.xigeme.com", true);
	struct id_hit h3[] = {hit(l, 3, "imei", "plain", "http_header", "X-Imei", 90, true)};
	audit_flow(&r3, h3, 1, l->a);
	audit_finish(l->a);

	/* decrypted: undeclared-data only */
	assert_null(find(l->a, RULE_CLEARTEXT_IDENTIFIER, "lab.example.net"));
	const struct finding *f = find(l->a, RULE_UNDECLARED_DATA, "lab.example.net");
	assert_non_null(f);
	assert_true(f->decrypted);
	assert_int_equal(f->n_ids, 3); /* the header and the body hit are two */
	assert_string_equal(f->ids[0].field, "X-Device-Id");
	assert_string_equal(f->ids[1].field, "imei");
	assert_string_equal(f->ids[2].field, "");
	for (size_t k = 0; k < 3; k++)
		assert_true(f->ids[k].decrypted);
	assert_string_equal(f->detail, "recipient kind unknown; declared data categories do not "
				       "include 'android_id', 'imei'; read after TLS decryption: "
				       "android_id (plain) in HTTP header 'X-Device-Id'; imei (base64) "
				       "in query key 'imei'; android_id (plain) in HTTP body at offset "
				       "517");

	/* in clear: cleartext-identifier as before, and undeclared-data */
	const struct finding *c = find(l->a, RULE_CLEARTEXT_IDENTIFIER, "plain.example.net");
	assert_non_null(c);
	assert_false(c->decrypted);
	assert_null(strstr(c->detail, "decryption"));
	const struct finding *u = find(l->a, RULE_UNDECLARED_DATA, "plain.example.net");
	assert_non_null(u);
	assert_false(u->decrypted);
	assert_null(strstr(u->detail, "decryption"));

	/* declared: nothing about identifiers */
	assert_null(find(l->a, RULE_UNDECLARED_DATA, "api.xigeme.com"));
	assert_null(find(l->a, RULE_CLEARTEXT_IDENTIFIER, "api.xigeme.com"));
	struct audit_stats st;
	audit_stats(l->a, &st);
	assert_int_equal(st.by_rule[RULE_CLEARTEXT_IDENTIFIER], 1);
	assert_int_equal(st.by_rule[RULE_UNDECLARED_DATA], 2);

	/* report.json's form: decrypted, and a location per identifier */
	struct report_ctx ctx = {.policy = l->pol, .audit = l->a};
	size_t fi = 0;
	while (audit_finding(l->a, fi) != f)
		fi++;
	json_t *j = report_finding_json(&ctx, fi);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "decrypted")));
	json_t *ids = json_object_get(j, "identifiers");
	assert_int_equal(json_array_size(ids), 3);
	json_t *loc0 = json_object_get(json_array_get(ids, 0), "location");
	assert_string_equal(json_string_value(json_object_get(loc0, "in")), "http_header");
	assert_string_equal(json_string_value(json_object_get(loc0, "header")), "X-Device-Id");
	assert_true(json_is_true(json_object_get(json_array_get(ids, 0), "decrypted")));
	json_t *loc1 = json_object_get(json_array_get(ids, 1), "location");
	assert_string_equal(json_string_value(json_object_get(loc1, "key")), "imei");
	json_t *loc2 = json_object_get(json_array_get(ids, 2), "location");
	assert_string_equal(json_string_value(json_object_get(loc2, "in")), "http_body");
	assert_int_equal(json_integer_value(json_object_get(loc2, "offset")), 517);
	/* the members a list of findings shows (report.html's table): those
	   of the full form up to last_seen, the same values, no addresses */
	struct jsonw bw;
	jsonw_open_tree(&bw);
	jsonw_object(&bw, NULL);
	report_finding_brief_members(&bw, &ctx, fi);
	jsonw_end(&bw);
	json_t *brief = jsonw_tree_take(&bw);
	assert_int_equal(jsonw_close(&bw), FA_OK);
	static const char *const shown[] = {"id",	  "rule",	"severity", "title",
					    "device",	  "device_role", "host",     "recipient",
					    "country",	  "asn",	"as_org",   "first_seen",
					    "last_seen"};
	assert_int_equal(json_object_size(brief), sizeof(shown) / sizeof(shown[0]));
	for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) {
		assert_non_null(json_object_get(j, shown[k]));
		assert_true(json_equal(json_object_get(brief, shown[k]), json_object_get(j, shown[k])));
	}
	json_decref(brief);
	json_decref(j);
	for (fi = 0; audit_finding(l->a, fi) != u; fi++)
		;
	j = report_finding_json(&ctx, fi);
	assert_true(json_is_false(json_object_get(j, "decrypted")));
	json_decref(j);
}

/* A finding with more identifiers than its detail can name: whole entries,
   then how many were left out; never a name cut in the middle. */
static void test_detail_cut_whole(void **state)
{
	struct lab *l = *state;
	for (uint64_t k = 1; k <= FINDING_MAX_IDS; k++) { /* one a flow: each is its own */
		struct flow_record r = flow_to(l, k, 34, "lab.example.net", true);
		struct id_hit h = hit(l, k, "android_id", "plain", "http_body", NULL, 100000 + k, true);
		audit_flow(&r, &h, 1, l->a);
	}
	const struct finding *f = find(l->a, RULE_UNDECLARED_DATA, "lab.example.net");
	assert_non_null(f);
	assert_int_equal(f->n_ids, FINDING_MAX_IDS);
	size_t len = strlen(f->detail);
	assert_true(len < 512);
	const char *tail = strstr(f->detail, "; and ");
	assert_non_null(tail);
	assert_string_equal(tail + strlen(tail) - 5, " more");
	/* every name before the tail is whole */
	size_t shown = 0;
	for (const char *p = f->detail; (p = strstr(p, "android_id (plain) in HTTP body at offset "));
	     p++) {
		assert_true(p < tail);
		shown++;
	}
	unsigned long more = strtoul(tail + strlen("; and "), NULL, 10);
	assert_int_equal(shown + more, FINDING_MAX_IDS);
	assert_true(shown >= 5);
	assert_true(tail[-1] >= '0' && tail[-1] <= '9'); /* the last offset whole */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decrypted_hits, lab_open, lab_close),
		cmocka_unit_test_setup_teardown(test_detail_cut_whole, lab_open, lab_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
