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
#include "flowaudit/jsonw.h"

#include <errno.h>
#include <string.h>

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

/* A served finding's members, but those a line adds itself. */
static void copy_members(struct jsonw *w, json_t *f)
{
	const char *k;
	json_t *v;
	json_object_foreach(f, k, v) {
		if (strcmp(k, "schema") != 0 && strcmp(k, "report_generated_at") != 0 &&
		    strcmp(k, "app") != 0)
			jsonw_value(w, k, v);
	}
}

int report_ndjson_write_each(const json_t *doc, const struct report_findings *fs, FILE *out,
			     struct fa_err *err)
{
	const json_t *policy = json_object_get(doc, "policy");
	const json_t *app = json_is_object(policy) ? json_object_get(policy, "app") : NULL;
	const json_t *app_name = json_is_object(app) ? json_object_get(app, "name") : NULL;
	const json_t *generated = json_object_get(doc, "generated_at");
	struct jsonw w;
	if (jsonw_open_text(&w, out) != FA_OK) {
		fa_err_set(err, "findings.ndjson: out of memory");
		return FA_ERUNTIME;
	}
	for (size_t i = 0; i < fs->n; i++) {
		json_t *f = NULL;
		if (fs->members == NULL && (f = fs->get(i, fs->user)) == NULL)
			continue;
		jsonw_object(&w, NULL);
		if (f != NULL)
			copy_members(&w, f);
		else
			fs->members(&w, i, fs->user);
		json_decref(f);
		jsonw_string(&w, "schema", "flowaudit-finding/1");
		jsonw_value(&w, "report_generated_at", generated);
		jsonw_value(&w, "app", app_name);
		jsonw_end(&w);
		/* the text form escapes control characters, so a line never splits */
		jsonw_raw(&w, "\n", 1);
	}
	if (jsonw_close(&w) != FA_OK || ferror(out)) {
		fa_err_set(err, "findings.ndjson: write failed: %s", strerror(errno));
		return FA_ERUNTIME;
	}
	return FA_OK;
}
