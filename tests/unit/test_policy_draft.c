/*
 * test_policy_draft.c - drafting a declaration from a policy's text.
 *
 * Run from the top of the tree. The catalogue is the small one under
 * tests/fixtures/draft/sigs (umeng with the aliases 友盟+ and 友盟, jpush
 * with 极光推送, csj with 穿山甲, admob without aliases, appsflyer,
 * firebase-analytics, segment, tencent-bugly with 腾讯Bugly, pangle named
 * "Pangle (global)", firebase-crashlytics and firebase-remote-config (two
 * names that open with "Firebase"), and the infrastructure entry
 * cloudflare), so the tests do not move when the shipped catalogue grows.
 * Each test drafts a short text and checks the statements, their clauses
 * and the review list; the last ones write a draft and load it back with
 * policy_load().
 */
#include "flowaudit/policy.h"
#include "flowaudit/policy_draft.h"
#include "flowaudit/signatures.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct sig_db *db;

static int setup(void **state)
{
	(void)state;
	struct fa_err err = {""};
	if (sig_db_load_dir("tests/fixtures/draft/sigs", &db, &err) != FA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sig_db_free(db);
	return 0;
}

static json_t *draft(const char *text)
{
	json_t *doc = NULL;
	struct fa_err err = {""};
	int rc = policy_draft_text(text, strlen(text), "t.txt", db, &doc, &err);
	if (rc != FA_OK)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, FA_OK);
	assert_non_null(doc);
	return doc;
}

static json_t *recipient(json_t *doc, const char *id)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(doc, "recipients"), i, r)
		if (strcmp(json_string_value(json_object_get(r, "sdk")), id) == 0)
			return r;
	return NULL;
}

static bool has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static void assert_list(const json_t *arr, size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		if (!has(arr, s))
			fprintf(stderr, "missing '%s'\n", s);
		assert_true(has(arr, s));
	}
	va_end(ap);
	assert_int_equal(json_array_size(arr), n);
}

/* The review entry whose `what` contains both fragments; NULL when none. */
static json_t *review(json_t *doc, const char *a, const char *b)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(doc, "review"), i, r) {
		const char *w = json_string_value(json_object_get(r, "what"));
		if (strstr(w, a) != NULL && (b == NULL || strstr(w, b) != NULL))
			return r;
	}
	return NULL;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void test_key_value_block(void **state)
{
	(void)state;
	json_t *doc = draft("一、第三方SDK\n"
			    "SDK名称：友盟+\n使用目的：统计分析\n收集的个人信息：设备信息\n\n"
			    "SDK名称：极光推送SDK\n使用目的：\n消息推送\n收集的个人信息：IMEI、OAID\n");
	json_t *u = recipient(doc, "umeng"), *j = recipient(doc, "jpush");
	assert_non_null(u);
	assert_non_null(j);
	assert_list(json_object_get(u, "purposes"), 1, "analytics");
	assert_list(json_object_get(u, "data"), 1, "device_id");
	assert_string_equal(str(u, "clause"), "§一: 'SDK名称：友盟+'");
	/* the value on the line after its key */
	assert_list(json_object_get(j, "purposes"), 1, "push");
	assert_list(json_object_get(j, "data"), 2, "imei", "advertising_id");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 2);
	json_decref(doc);
}

static void test_kangxi_radicals(void **state)
{
	(void)state;
	/* the keys written with Kangxi radicals (U+2F64 for 用, U+2F6C for 目, U+2F08 for 人),
	   as PDF conversions do: read as the ideographs */
	json_t *doc = draft("SDK名称：友盟+\n使\u2f64\u2f6c的：统计分析\n收集的个\u2f08信息：设备信息\n");
	json_t *u = recipient(doc, "umeng");
	assert_non_null(u);
	assert_list(json_object_get(u, "purposes"), 1, "analytics");
	assert_list(json_object_get(u, "data"), 1, "device_id");
	json_decref(doc);
}

static void test_product_type_key(void **state)
{
	(void)state;
	/* "产品/类型" names the SDK of a key-value block */
	json_t *doc = draft("产品/类型：友盟+\n使用目的：统计分析\n收集的个人信息：设备信息\n");
	json_t *u = recipient(doc, "umeng");
	assert_non_null(u);
	assert_list(json_object_get(u, "purposes"), 1, "analytics");
	assert_list(json_object_get(u, "data"), 1, "device_id");
	json_decref(doc);
}

static void test_inline_records(void **state)
{
	(void)state;
	json_t *doc = draft("SDK名称：极光推送；使用目的：消息推送；收集个人信息类型：设备标识符（OAID）、IP地址\n"
			    "SDK name: AppsFlyer Purpose: install attribution Data collected: "
			    "advertising ID, IP address\n");
	json_t *j = recipient(doc, "jpush"), *a = recipient(doc, "appsflyer");
	assert_non_null(j);
	assert_list(json_object_get(j, "purposes"), 1, "push");
	assert_list(json_object_get(j, "data"), 3, "device_id", "advertising_id", "ip_address");
	assert_non_null(a);
	assert_list(json_object_get(a, "purposes"), 1, "attribution");
	assert_list(json_object_get(a, "data"), 2, "advertising_id", "ip_address");
	json_decref(doc);
}

static void test_table_rows(void **state)
{
	(void)state;
	static const char *const tables[] = {
		"SDK名称\t使用目的\t收集的个人信息\n友盟+\t统计分析\t设备信息\n神秘统计SDK\t分析\t日志\n",
		"| SDK名称 | 使用目的 | 收集的个人信息 |\n|---|---|---|\n| 友盟+ | 统计分析 | 设备信息 |\n"
		"| 神秘统计SDK | 分析 | 日志 |\n",
		"SDK名称│使用目的│收集的个人信息\n友盟+│统计分析│设备信息\n神秘统计SDK│分析│日志\n",
		"SDK名称    使用目的    收集的个人信息\n友盟+    统计分析    设备信息\n神秘统计SDK  分析  日志\n",
	};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		json_t *doc = draft(tables[i]);
		json_t *u = recipient(doc, "umeng");
		assert_non_null(u);
		assert_list(json_object_get(u, "purposes"), 1, "analytics");
		assert_list(json_object_get(u, "data"), 1, "device_id");
		assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 1);
		/* the name column's unknown SDK, by the name the text uses */
		json_t *r = review(doc, "'神秘统计SDK'", "does not know");
		assert_non_null(r);
		assert_non_null(strstr(str(r, "where"), "神秘统计SDK"));
		json_decref(doc);
	}
}

static void test_name_line_and_own_keys(void **state)
{
	(void)state;
	/* the SDK's name on a line of its own, keys in the text's own words under it */
	json_t *doc = draft("第三方SDK说明\n1. 友盟统计SDK\n使用目的及场景：统计分析\n"
			    "收集个人信息的类型：设备信息（IMEI、OAID）、IP地址\n"
			    "第三方主体：友盟同欣（北京）科技有限公司\n2. 某某推送SDK\n使用目的：消息推送\n"
			    "收集个人信息的类型：设备标识符\n");
	json_t *u = recipient(doc, "umeng");
	assert_non_null(u);
	assert_list(json_object_get(u, "purposes"), 1, "analytics");
	assert_list(json_object_get(u, "data"), 4, "device_id", "advertising_id", "imei",
		    "ip_address");
	assert_string_equal(str(u, "clause"), "§1: '友盟统计SDK'");
	assert_non_null(review(doc, "'某某推送SDK'", "does not know"));
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 1);
	json_decref(doc);
	/* a sentence that speaks of no SDK, use or purpose names no recipient */
	doc = draft("Follow us on AppsFlyer and Segment!\n");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	json_decref(doc);
	/* a name inside an address is not a mention */
	doc = draft("Follow us at https://www.appsflyer-fans.com/ or write to "
		    "news@segment.example.org.\n");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	json_decref(doc);
}

static void test_full_width_list(void **state)
{
	(void)state;
	json_t *doc = draft("我们接入的第三方SDK包括：腾讯Bugly、友盟+、某某推送SDK等。\n"
			    "We use the following SDKs: Firebase Analytics, AppsFlyer and Foobar SDK.\n");
	assert_non_null(recipient(doc, "tencent-bugly"));
	assert_non_null(recipient(doc, "umeng"));
	assert_non_null(recipient(doc, "firebase-analytics"));
	assert_non_null(recipient(doc, "appsflyer"));
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 4);
	/* a list gives none of its SDKs the words of another ("推送" is not Bugly's) */
	assert_list(json_object_get(recipient(doc, "tencent-bugly"), "purposes"), 1,
		    "crash_reporting");
	assert_non_null(review(doc, "'某某推送SDK'", "does not know"));
	assert_non_null(review(doc, "'Foobar SDK'", "does not know"));
	json_decref(doc);
}

static void test_negation_scope(void **state)
{
	(void)state;
	/* a contrast ends a negation's reach; "removed", "neither ... nor", "but not" and a
	   clause opening with "No" negate */
	json_t *doc = draft("本应用不使用穿山甲,仅接入友盟+。\n"
			    "Our game uses AppsFlyer for installs but not Segment.\n"
			    "We removed Tencent Bugly in the spring release.\n"
			    "Neither AdMob nor Firebase Analytics is part of the app.\n");
	assert_non_null(recipient(doc, "umeng"));
	assert_non_null(recipient(doc, "appsflyer"));
	assert_null(recipient(doc, "csj"));
	assert_null(recipient(doc, "segment"));
	assert_null(recipient(doc, "tencent-bugly"));
	assert_null(recipient(doc, "admob"));
	assert_null(recipient(doc, "firebase-analytics"));
	assert_non_null(review(doc, "(segment) is named only", NULL));
	json_decref(doc);
	doc = draft("No crash reporting SDKs such as Tencent Bugly are included in the app.\n");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	json_decref(doc);
}

static void test_owner_in_parens(void **state)
{
	(void)state;
	/* a name in a parenthesis after "of" or "by" is the owner, not an SDK */
	json_t *doc = draft("Our partners include AppsFlyer (an attribution service by Segment Inc.) "
			    "and Tencent Bugly (crash reports of the app).\n");
	assert_non_null(recipient(doc, "appsflyer"));
	assert_non_null(recipient(doc, "tencent-bugly"));
	assert_null(recipient(doc, "segment"));
	json_decref(doc);
}

static void test_unknown_sdk_with_platforms(void **state)
{
	(void)state;
	/* an unknown "X SDK" line with its platforms in parentheses goes to review */
	json_t *doc = draft("3. 晴川推送 SDK (Android 端,iOS端)\nSDK提供方：晴川科技有限公司\n");
	assert_non_null(review(doc, "晴川推送 SDK", "catalogue does not know"));
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	json_decref(doc);
	/* a row whose cells lost their separators: the number, the name up to "SDK", the company */
	doc = draft("序号SDK名称第三方主体使用目的\n1Qingchuan Android SDK晴川信息科技有限公司数据分析\n");
	assert_non_null(review(doc, "'Qingchuan Android SDK'", "catalogue does not know"));
	json_decref(doc);
}

static void test_qualifier_is_no_name(void **state)
{
	(void)state;
	/* "Pangle (global)": the lower-case parenthesis qualifies the name and is none */
	json_t *doc = draft("Our SDK partners run Global ad exchanges.\n");
	assert_null(recipient(doc, "pangle"));
	json_decref(doc);
	doc = draft("We use Pangle SDK to show ads.\n");
	assert_non_null(recipient(doc, "pangle"));
	json_decref(doc);
}

static void test_product_family(void **state)
{
	(void)state;
	/* "Firebase" alone, the first word of several entries' names, names none: review */
	json_t *doc = draft("We use Firebase for our backend.\n");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	assert_non_null(review(doc, "'Firebase' is the name of several catalogue entries", NULL));
	json_decref(doc);
	doc = draft("We use Firebase Crashlytics for crash reports.\n");
	assert_non_null(recipient(doc, "firebase-crashlytics"));
	assert_null(review(doc, "several catalogue entries", NULL));
	json_decref(doc);
}

static void test_not_used(void **state)
{
	(void)state;
	json_t *doc = draft("我们不会接入穿山甲SDK。\n本应用未集成腾讯Bugly。\n"
			    "We do not use Segment or any other customer data platform.\n"
			    "Admob SDK is not integrated.\n");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	assert_non_null(review(doc, "(csj) is named only to say it is not used", NULL));
	assert_non_null(review(doc, "(tencent-bugly) is named only", NULL));
	assert_non_null(review(doc, "(segment) is named only", NULL));
	assert_non_null(review(doc, "(admob) is named only", NULL));
	json_decref(doc);
	/* the same names, used */
	doc = draft("我们接入了穿山甲SDK用于广告投放。\nWe send app events to Segment for analytics.\n");
	assert_list(json_object_get(recipient(doc, "csj"), "purposes"), 1, "advertising");
	assert_list(json_object_get(recipient(doc, "segment"), "purposes"), 1, "analytics");
	json_decref(doc);
}

static void test_word_is_not_a_name(void **state)
{
	(void)state;
	/* "segment" the verb and a sentence-initial "Segment" are not the SDK */
	json_t *doc = draft("We segment users by country.\nSegment sizes vary.\n");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	json_decref(doc);
	/* names with capitals inside, or followed by SDK, count anywhere */
	doc = draft("AppsFlyer is used to measure installs. admob sdk shows ads.\n");
	assert_non_null(recipient(doc, "appsflyer"));
	assert_non_null(recipient(doc, "admob"));
	json_decref(doc);
}

static void test_names_under_heading(void **state)
{
	(void)state;
	/* a heading or lead-in that speaks of SDKs or a purpose gives its list items context */
	json_t *doc = draft("Advertising\n• AdMob\n• AppsFlyer.\n• Cloudflare\n\n"
			    "We rely on third-party services for diagnostics.\n"
			    "Segment (by Twilio Inc.)\n\n"
			    "We do not use the following SDKs:\n- Tencent Bugly\n");
	assert_non_null(recipient(doc, "admob"));
	assert_non_null(recipient(doc, "appsflyer"));
	assert_non_null(recipient(doc, "segment"));
	/* an infrastructure entry is never a recipient; a negated lead-in negates its list */
	assert_null(recipient(doc, "cloudflare"));
	assert_null(recipient(doc, "tencent-bugly"));
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 3);
	json_decref(doc);
	/* a lone "-" between the items (a converted list) keeps the heading's context */
	doc = draft("Analytics\n-\nSegment\n-\nAppsFlyer\n");
	assert_non_null(recipient(doc, "segment"));
	assert_non_null(recipient(doc, "appsflyer"));
	json_decref(doc);
	/* a heading that speaks of neither gives none */
	doc = draft("Contact\n• AppsFlyer\n• Segment\n");
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 0);
	json_decref(doc);
}

static void test_every_cell_of_a_row(void **state)
{
	(void)state;
	/* every name in the row's cells, comma-separated ones included, a parenthesis after one dropped; not an infrastructure
	   entry in the name cell, nor a name in the data cell */
	json_t *doc = draft("| Provider | Services | Data | Location |\n"
			    "| Cloudflare | AppsFlyer, Segment (event pipeline) | "
			    "crash logs (as Tencent Bugly does) | US |\n");
	assert_non_null(recipient(doc, "appsflyer"));
	assert_non_null(recipient(doc, "segment"));
	assert_null(recipient(doc, "cloudflare"));
	assert_null(recipient(doc, "tencent-bugly"));
	assert_true(has(json_object_get(recipient(doc, "segment"), "data"), "crash_data"));
	json_decref(doc);
	/* a row with "SDK" and "data" in its values is a row, not a header */
	doc = draft("| Provider | Services | Data | Location |\n"
		    "| Segment | Events SDK | crash logs | worldwide (data centres) |\n");
	assert_non_null(recipient(doc, "segment"));
	json_decref(doc);
}

static void test_storage_regions(void **state)
{
	(void)state;
	json_t *doc = draft("我们在中华人民共和国境内收集和产生的个人信息，将存储在中华人民共和国境内。"
			    "未经您的单独同意，我们不会向境外传输您的个人信息。\n");
	assert_list(json_object_get(doc, "storage_regions"), 1, "CN");
	json_t *xb = json_object_get(doc, "cross_border");
	assert_string_equal(str(xb, "rule"), "with_consent");
	assert_non_null(strstr(str(xb, "clause"), "境外"));
	json_decref(doc);

	doc = draft("Your data is stored on servers in mainland China and will never be "
		    "transferred abroad.\n");
	assert_list(json_object_get(doc, "storage_regions"), 1, "CN");
	assert_string_equal(str(json_object_get(doc, "cross_border"), "rule"), "never");
	json_decref(doc);

	doc = draft("Your data is stored in the United States and may be transferred to other "
		    "countries with appropriate safeguards.\n");
	assert_list(json_object_get(doc, "storage_regions"), 1, "US");
	assert_string_equal(str(json_object_get(doc, "cross_border"), "rule"), "allowed");
	assert_non_null(review(doc, "cross_border.rule", "'allowed' is written"));
	json_decref(doc);

	doc = draft("Personal data will be stored in the territory of the People's Republic of "
		    "China.\n");
	assert_list(json_object_get(doc, "storage_regions"), 1, "CN");
	/* no rule for transfers: "never" is written and left for review */
	assert_string_equal(str(json_object_get(doc, "cross_border"), "rule"), "never");
	assert_non_null(review(doc, "cross_border.rule", "'never' is written"));
	json_decref(doc);
}

static void test_region_left_for_review(void **state)
{
	(void)state;
	json_t *doc = draft("Your personal information will be stored in the local nation; if "
			    "cross-border transmission is required, we will obtain your consent.\n");
	assert_null(json_object_get(doc, "storage_regions"));
	assert_null(json_object_get(doc, "cross_border"));
	json_t *r = review(doc, "storage_regions", "'local nation'");
	assert_non_null(r);
	assert_non_null(strstr(str(r, "where"), "stored in the local nation"));
	assert_non_null(review(doc, "cross_border", "'with_consent'"));
	json_decref(doc);

	doc = draft("数据存储在您所在的国家。\n");
	assert_null(json_object_get(doc, "storage_regions"));
	assert_non_null(review(doc, "storage_regions", "no country"));
	json_decref(doc);
}

static void test_processor_location_left_for_review(void **state)
{
	(void)state;
	/* a processor's location in a table row is not where the app stores data */
	json_t *doc = draft("| Provider | Services | Location |\n"
			    "| Segment | Product analytics | hosted in the United States |\n");
	assert_non_null(recipient(doc, "segment"));
	assert_null(json_object_get(doc, "storage_regions"));
	assert_non_null(review(doc, "processor's location ('US')", NULL));
	json_decref(doc);
}

static void test_section_numbers(void **state)
{
	(void)state;
	json_t *doc = draft("一、总则\n（二）存储\n3. 数据将存储在中国境内，不会传输至境外。\n");
	assert_string_equal(str(json_object_get(doc, "cross_border"), "clause"),
			    "§一.（二）.3: '数据将存储在中国境内，不会传输至境外。'");
	json_decref(doc);

	doc = draft("1. Scope\n1.2 Storage\nData is stored in Singapore and will not be "
		    "transferred abroad.\n");
	assert_list(json_object_get(doc, "storage_regions"), 1, "SG");
	assert_non_null(strstr(str(json_object_get(doc, "cross_border"), "clause"), "§1.2: '"));
	json_decref(doc);

	doc = draft("Ⅰ. Collection\n⑴. Data we collect\n④. Third-party SDKs\n"
		    "Admob SDK(GoogleMobileAds SDK)\nⅡ. Cookies\n");
	assert_string_equal(str(recipient(doc, "admob"), "clause"),
			    "§I.(1).④: 'Admob SDK(GoogleMobileAds SDK)'");
	json_decref(doc);

	/* a "1." under "(3)" under "2." opens a nested list; "3." goes back up */
	doc = draft("2. Protection\n(3) Measures\n1. Data is sent with TLS.\n3. Rights\n"
		    "Data is stored in Japan and will never leave it for abroad.\n");
	assert_string_equal(str(json_object_get(doc, "encryption_in_transit"), "clause"),
			    "§2.(3).1: 'Data is sent with TLS.'");
	assert_non_null(strstr(str(json_object_get(doc, "cross_border"), "clause"), "§3: '"));
	json_decref(doc);
}

static void test_html(void **state)
{
	(void)state;
	json_t *doc = draft(
		"<!DOCTYPE html><html><head><title>Acme Notes Privacy Policy</title>"
		"<style>td{color:red}</style><script>var s = \"AppsFlyer SDK\";</script></head><body>"
		"<h2>1. SDKs</h2><table><tr><th>SDK name</th><th>Purpose</th><th>Data collected</th></tr>"
		"<tr><td>Firebase&nbsp;Analytics</td><td>Analytics &amp; statistics</td>"
		"<td>Device&#32;ID, IP address</td></tr></table>"
		"<!-- Segment SDK --><p>Contact: <a href=\"mailto:dpo@acme-notes.io\">dpo@acme-notes.io"
		"</a></p><p>All data is sent over HTTPS.</p></body></html>");
	assert_string_equal(str(json_object_get(doc, "app"), "name"), "Acme Notes");
	json_t *f = recipient(doc, "firebase-analytics");
	assert_non_null(f);
	assert_list(json_object_get(f, "purposes"), 1, "analytics");
	assert_list(json_object_get(f, "data"), 2, "device_id", "ip_address");
	assert_string_equal(str(f, "clause"),
			    "§1: 'Firebase Analytics | Analytics & statistics | Device ID, IP address'");
	/* nothing from the script, the style or the comment */
	assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 1);
	assert_list(json_object_get(json_object_get(doc, "first_party"), "domains"), 1,
		    "acme-notes.io");
	assert_true(json_is_true(json_object_get(json_object_get(doc, "encryption_in_transit"),
						 "promised")));
	json_decref(doc);
}

static void test_first_party_and_promises(void **state)
{
	(void)state;
	json_t *doc = draft("《小鱼记账隐私政策》\n更新日期：2024年3月15日\n"
			    "SDK名称：友盟+；使用目的：统计；隐私政策链接：https://www.umeng.com/policy\n"
			    "友盟的隐私政策见 https://www.umeng.com/page/policy 。\n"
			    "邮箱：privacy@xiaoyu-app.com.cn，网站：https://www.xiaoyu-app.com.cn/about\n"
			    "经您同意后，我们会向您展示个性化广告。\n"
			    "我们采用HTTPS加密传输您的数据。\n");
	json_t *app = json_object_get(doc, "app");
	assert_string_equal(str(app, "name"), "小鱼记账");
	assert_string_equal(str(app, "policy_date"), "2024-03-15");
	/* the SDK's own address is not the first party's */
	assert_list(json_object_get(json_object_get(doc, "first_party"), "domains"), 1,
		    "xiaoyu-app.com.cn");
	assert_list(json_object_get(doc, "consent_required_for"), 1, "advertising");
	assert_string_equal(str(doc, "consent_clause"), "'经您同意后，我们会向您展示个性化广告。'");
	assert_string_equal(str(json_object_get(doc, "encryption_in_transit"), "clause"),
			    "'我们采用HTTPS加密传输您的数据。'");
	json_decref(doc);

	/* an address in a URL is not a promise of encryption */
	doc = draft("See https://www.example-app.com/privacy for details.\n");
	assert_null(json_object_get(doc, "encryption_in_transit"));
	assert_non_null(review(doc, "encryption_in_transit", NULL));
	json_decref(doc);
}

static void test_bad_input(void **state)
{
	(void)state;
	json_t *doc = NULL;
	struct fa_err err = {""};
	assert_int_equal(policy_draft_text("ab\xff" "cd", 5, "p.txt", db, &doc, &err), FA_EINPUT);
	assert_null(doc);
	assert_non_null(strstr(err.msg, "p.txt: byte offset 2: not UTF-8"));
	assert_int_equal(policy_draft_text("abc\0d", 5, "p.txt", db, &doc, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "p.txt: byte offset 3: a NUL byte"));
	/* a character cut at the end */
	assert_int_equal(policy_draft_text("友盟\xe5\x8f", 8, "p.txt", db, &doc, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "byte offset 6"));
	/* the size is refused before any byte is read */
	assert_int_equal(policy_draft_text("", POLICY_DRAFT_MAX_BYTES + 1, "big.txt", db, &doc, &err),
			 FA_EINPUT);
	assert_non_null(strstr(err.msg, "big.txt: 4194305 bytes"));
	/* an empty text is a draft that leaves everything open */
	doc = draft("");
	assert_non_null(review(doc, "app.name", NULL));
	json_decref(doc);
}

static void test_draft_loads(void **state)
{
	(void)state;
	json_t *doc = draft("Acme Privacy Policy\nSDK name: AppsFlyer Purpose: attribution\n"
			    "Data is stored in the country where you are.\nContact: dpo@acme.io\n");
	char path[] = "/tmp/flowaudit-draft-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_true(policy_draft_write(doc, "text/acme.txt", f));
	assert_int_equal(fclose(f), 0);
	size_t nr, nv;
	policy_draft_counts(doc, &nr, &nv);
	struct policy *p = NULL;
	struct fa_err err = {""};
	int rc = policy_load(path, NULL, NULL, &p, &err);
	if (rc != FA_OK)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, FA_OK);
	assert_string_equal(p->source, "text/acme.txt");
	assert_int_equal(p->n_recipients, nr);
	assert_int_equal(p->n_review, nv);
	assert_true(nv >= 3);
	assert_non_null(strstr(p->review[0].where, "'"));
	policy_free(p);
	policy_draft_free(doc);

	/* the loader is strict about review entries too */
	f = fopen(path, "w");
	fputs("{\"schema\": \"flowaudit-policy/1\", \"app\": {\"name\": \"A\"},\n"
	      " \"review\": [{\"what\": \"x\"}]}\n", f);
	fclose(f);
	assert_int_equal(policy_load(path, NULL, NULL, &p, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "field 'review[0].where': missing (required)"));
	f = fopen(path, "w");
	fputs("{\"schema\": \"flowaudit-policy/1\", \"app\": {\"name\": \"A\"},\n"
	      " \"review\": [{\"what\": \"x\", \"where\": \"y\", \"why\": 1}]}\n", f);
	fclose(f);
	assert_int_equal(policy_load(path, NULL, NULL, &p, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "review[0].why': unknown field"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_value_block),
		cmocka_unit_test(test_inline_records),
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_name_line_and_own_keys),
		cmocka_unit_test(test_full_width_list),
		cmocka_unit_test(test_not_used),
		cmocka_unit_test(test_word_is_not_a_name),
		cmocka_unit_test(test_storage_regions),
		cmocka_unit_test(test_region_left_for_review),
		cmocka_unit_test(test_section_numbers),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_product_family),
		cmocka_unit_test(test_processor_location_left_for_review),
		cmocka_unit_test(test_qualifier_is_no_name),
		cmocka_unit_test(test_unknown_sdk_with_platforms),
		cmocka_unit_test(test_owner_in_parens),
		cmocka_unit_test(test_negation_scope),
		cmocka_unit_test(test_product_type_key),
		cmocka_unit_test(test_every_cell_of_a_row),
		cmocka_unit_test(test_names_under_heading),
		cmocka_unit_test(test_kangxi_radicals),
		cmocka_unit_test(test_first_party_and_promises),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_draft_loads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
