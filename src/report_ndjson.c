/*
 * report_ndjson.c - findings.ndjson: the findings of a report, one JSON
 * object per line, for log pipelines (docs/outputs.md).
 *
 * Receives the report document and borrows it; writes to a stream the
 * caller owns. Each line is a copy of one findings[] object with three
 * members added so a line stands on its own once a log shipper has
 * separated it from its neighbours: "schema" ("flowaudit-finding/1"),
 * "report_generated_at" and "app". Owns nothing after it returns. The
 * findings come from the document or, with report_ndjson_write_each(), one
 * at a time from the caller (with all their frame numbers, which the
 * document abbreviates); each is made, written and freed in turn.
 */
#include "flowaudit/report.h"

#include <errno.h>
#include <string.h>

static json_t *member_or_null(const json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	return v ? json_incref(v) : json_null();
}

/* The document's own findings[], each as a copy the writer may change. */
static json_t *doc_finding(size_t i, void *user)
{
	const json_t *f = json_array_get(json_object_get((const json_t *)user, "findings"), i);
	return json_is_object(f) ? json_deep_copy(f) : NULL;
}

struct report_findings report_findings_of_doc(const json_t *doc)
{
	return (struct report_findings){.n = json_array_size(json_object_get(doc, "findings")),
					.get = doc_finding,
					.user = (void *)doc};
}

int report_ndjson_write(const json_t *doc, FILE *out, struct fa_err *err)
{
	struct report_findings fs = report_findings_of_doc(doc);
	return report_ndjson_write_each(doc, &fs, out, err);
}

int report_ndjson_write_each(const json_t *doc, const struct report_findings *fs, FILE *out,
			     struct fa_err *err)
{
	const json_t *policy = json_object_get(doc, "policy");
	const json_t *app = json_is_object(policy) ? json_object_get(policy, "app") : NULL;
	const json_t *app_name = json_is_object(app) ? json_object_get(app, "name") : NULL;
	for (size_t i = 0; i < fs->n; i++) {
		json_t *line = fs->get(i, fs->user);
		if (line == NULL)
			continue;
		json_object_set_new(line, "schema", json_string("flowaudit-finding/1"));
		json_object_set_new(line, "report_generated_at", member_or_null(doc, "generated_at"));
		json_object_set_new(line, "app", app_name ? json_incref((json_t *)app_name) : json_null());
		/* JSON_COMPACT escapes control characters, so a line never splits. */
		int rc = json_dumpf(line, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(line);
		if (rc != 0 || fputc('\n', out) == EOF) {
			fa_err_set(err, "findings.ndjson: write failed at finding %zu: %s", i, strerror(errno));
			return FA_ERUNTIME;
		}
	}
	if (ferror(out)) {
		fa_err_set(err, "findings.ndjson: write failed: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}
