/*
 * cmd_policy.c - `flowaudit policy check FILE [-s SIGDIR]`: validate a
 * policy declaration and print what it declares; `flowaudit policy draft
 * TEXT [-o FILE] [-s SIGDIR]`: draft a declaration from a policy's text.
 *
 * Receives: the declaration's (or the text's) path and the signature
 * catalogue (-s, else sig_default_dir()), which says which SDK ids exist.
 * Hands on: check prints a readable summary on stdout, so a reviewer can
 * compare the reading with the policy text; draft writes the declaration
 * (JSON, on stdout or to -o FILE) and, with -o, a one-line count on
 * stderr. Exit 0. Any problem: "flowaudit: MESSAGE" on stderr, exit 2 (3
 * when the machine fails rather than the input).
 */
#include "cmd.h"

#include "flowaudit/policy.h"
#include "flowaudit/policy_draft.h"
#include "flowaudit/signatures.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: flowaudit policy check FILE [-s SIGDIR]\n"
	"       flowaudit policy draft TEXT [-o FILE] [-s SIGDIR]\n"
	"  -s, --signatures DIR      signature catalogue the SDK ids must exist in\n"
	"                            (repeatable: layers, the first that has the id)\n"
	"                            (default: $FLOWAUDIT_SIGNATURES, ./signatures, installed)\n"
	"  -o, --output FILE         draft: write the declaration there (default: stdout)\n";

static bool sdk_known(const char *id, void *ctx)
{
	return sig_db_find(ctx, id) != NULL;
}

static void print_list(const char *label, char *const *v, size_t n)
{
	printf("%s", label);
	if (n == 0)
		printf(" (none)");
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : " ", v[i]);
	putchar('\n');
}

static void print_opt(const char *label, const char *v)
{
	if (v != NULL)
		printf("%s%s\n", label, v);
}

static void summary(const struct policy *p)
{
	printf("%s: valid %s declaration\n", p->path, POLICY_SCHEMA);
	printf("app: %s\n", p->app_name);
	print_opt("  controller: ", p->controller);
	print_opt("  policy date: ", p->policy_date);
	print_opt("  policy URL: ", p->policy_url);
	print_opt("  policy text: ", p->source);
	printf("first party:\n");
	print_list("  domains:", p->fp_domains, p->n_fp_domains);
	print_list("  data:", p->fp_data, p->n_fp_data);
	print_opt("  clause: ", p->fp_clause);
	printf("recipients: %zu\n", p->n_recipients);
	for (size_t i = 0; i < p->n_recipients; i++) {
		const struct policy_recipient *r = &p->recipients[i];
		printf("  %s\n", r->sdk);
		print_list("    purposes:", r->purposes, r->n_purposes);
		print_list("    data:", r->data, r->n_data);
		printf("    clause: %s\n", r->clause);
	}
	printf("generic processors: %zu\n", p->n_processors);
	for (size_t i = 0; i < p->n_processors; i++) {
		const struct policy_processor *r = &p->processors[i];
		printf("  %s\n", r->role);
		if (r->n_purposes > 0)
			print_list("    purposes:", r->purposes, r->n_purposes);
		printf("    clause: %s\n", r->clause);
	}
	if (p->n_regions_declared == 0) {
		printf("storage regions: not declared (no regional promise)\n");
	} else {
		print_list("storage regions:", p->regions_declared, p->n_regions_declared);
		print_list("  expanded:", p->regions, p->n_regions);
	}
	printf("cross-border transfer: %s\n", cross_border_rule_name(p->xb_rule));
	print_opt("  clause: ", p->xb_clause);
	print_list("consent required for:", p->consent_required_for, p->n_consent_required);
	print_opt("  clause: ", p->consent_clause);
	if (p->enc_declared) {
		printf("encryption in transit: %s\n", p->enc_promised ? "promised" : "not promised");
		printf("  clause: %s\n", p->enc_clause);
	} else {
		printf("encryption in transit: not declared\n");
	}
	printf("left open for review: %zu\n", p->n_review);
	for (size_t i = 0; i < p->n_review; i++)
		printf("  - %s\n    where: %s\n", p->review[i].what, p->review[i].where);
}

/* The path of file relative to the directory of out (both resolved); false when either is not. */
static bool relative_to(const char *file, const char *out, char *buf, size_t cap)
{
	char od[PATH_MAX], dcopy[PATH_MAX], fr[PATH_MAX];
	snprintf(dcopy, sizeof(dcopy), "%s", out);
	if (realpath(dirname(dcopy), od) == NULL || realpath(file, fr) == NULL)
		return false;
	size_t i = 0;
	while (od[i] != '\0' && od[i] == fr[i])
		i++;
	if (!(od[i] == '\0' && fr[i] == '/'))
		while (i > 0 && od[i] != '/')
			i--;
	size_t o = 0;
	buf[0] = '\0';
	for (const char *p = od + i; *p != '\0'; p++)
		if (*p == '/' && p[1] != '\0' && o + 4 < cap) {
			memcpy(buf + o, "../", 4);
			o += 3;
		}
	return snprintf(buf + o, cap - o, "%s", fr + i + 1) < (int)(cap - o);
}

static int draft(const char *file, const char *out, const char *sig_dir)
{
	struct fa_err err = {""};
	struct sig_db *db = NULL;
	int rc = sig_db_load_path(sig_dir ? sig_dir : sig_default_dir(), &db, &err);
	struct json_t *doc = NULL;
	if (rc == FA_OK)
		rc = policy_draft_file(file, db, &doc, &err);
	sig_db_free(db);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		return cmd_exit_for(rc);
	}
	char rel[PATH_MAX];
	bool have_rel = out != NULL && relative_to(file, out, rel, sizeof(rel));
	FILE *f = out ? fopen(out, "w") : stdout;
	if (f == NULL) {
		cmd_error("%s: cannot write: %s", out, strerror(errno));
		policy_draft_free(doc);
		return FA_EXIT_RUNTIME;
	}
	bool bad = !policy_draft_write(doc, have_rel ? rel : NULL, f);
	bad = (out ? fclose(f) != 0 : fflush(f) != 0) || bad;
	if (bad) {
		cmd_error("%s: cannot write: %s", out ? out : "standard output", strerror(errno));
	} else if (out != NULL) {
		size_t nr, nv;
		policy_draft_counts(doc, &nr, &nv);
		fprintf(stderr, "flowaudit: wrote %s: %zu recipient%s, %zu point%s to review\n", out,
			nr, nr == 1 ? "" : "s", nv, nv == 1 ? "" : "s");
	}
	policy_draft_free(doc);
	return bad ? FA_EXIT_RUNTIME : FA_EXIT_OK;
}

int cmd_policy(int argc, char **argv)
{
	const char *file = NULL, *sig_dir = NULL, *out = NULL, *why;
	char sig_list[SIG_MAX_PATH_LIST] = "";
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? FA_EXIT_INPUT : FA_EXIT_OK;
	}
	bool drafting = strcmp(argv[1], "draft") == 0;
	if (strcmp(argv[1], "check") != 0 && !drafting) {
		cmd_error("policy: unknown subcommand '%s' (expected check or draft)", argv[1]);
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *add = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return FA_EXIT_OK;
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--signatures") == 0) {
			if (++i == argc) {
				cmd_error("policy %s: %s needs a directory", argv[1], a);
				return FA_EXIT_INPUT;
			}
			add = argv[i];
		} else if (strncmp(a, "--signatures=", 13) == 0) {
			add = a + 13;
		} else if (drafting && (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)) {
			if (++i == argc) {
				cmd_error("policy draft: %s needs a file", a);
				return FA_EXIT_INPUT;
			}
			out = argv[i];
			continue;
		} else if (drafting && strncmp(a, "--output=", 9) == 0) {
			out = a + 9;
			continue;
		}
		if (add != NULL) {
			/* -s is repeatable: the catalogues are layers, first first */
			if (!sig_path_append(sig_list, sizeof(sig_list), add, &why)) {
				cmd_error("policy %s: -s %s: %s", argv[1], add, why);
				return FA_EXIT_INPUT;
			}
			sig_dir = sig_list;
		} else if (a[0] == '-' && a[1] != '\0') {
			cmd_error("policy %s: unknown option '%s'", argv[1], a);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		} else if (file != NULL) {
			cmd_error("policy %s: one file at a time ('%s' and '%s')", argv[1], file, a);
			return FA_EXIT_INPUT;
		} else {
			file = a;
		}
	}
	if (file == NULL) {
		cmd_error("policy %s: no %s given", argv[1], drafting ? "policy text" : "declaration");
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
	if (drafting)
		return draft(file, out, sig_dir);
	struct fa_err err = {""};
	struct sig_db *db = NULL;
	int rc = sig_db_load_path(sig_dir ? sig_dir : sig_default_dir(), &db, &err);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		return cmd_exit_for(rc);
	}
	struct policy *p = NULL;
	rc = policy_load(file, sdk_known, db, &p, &err);
	if (rc == FA_OK)
		summary(p);
	else
		cmd_error("%s", err.msg);
	policy_free(p);
	sig_db_free(db);
	return cmd_exit_for(rc);
}
