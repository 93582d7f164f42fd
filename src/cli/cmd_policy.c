/*
 * cmd_policy.c - `flowaudit policy check FILE [-s SIGDIR]`: validate a
 * policy declaration and print what it declares.
 *
 * Receives: the declaration's path and the signature catalogue (-s, else
 * sig_default_dir()), which says which SDK ids exist. Hands on: a readable
 * summary on stdout, so a reviewer can compare the reading with the policy
 * text; exit 0. Any problem: "flowaudit: MESSAGE" on stderr, exit 2 (3 when
 * the machine fails rather than the input).
 */
#include "cmd.h"

#include "flowaudit/policy.h"
#include "flowaudit/signatures.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: flowaudit policy check FILE [-s SIGDIR]\n"
	"  -s, --signatures DIR      signature catalogue the SDK ids must exist in\n"
	"                            (repeatable: layers, the first that has the id)\n"
	"                            (default: $FLOWAUDIT_SIGNATURES, ./signatures, installed)\n";

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
}

int cmd_policy(int argc, char **argv)
{
	const char *file = NULL, *sig_dir = NULL, *why;
	char sig_list[SIG_MAX_PATH_LIST] = "";
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? FA_EXIT_INPUT : FA_EXIT_OK;
	}
	if (strcmp(argv[1], "check") != 0) {
		cmd_error("policy: unknown subcommand '%s' (expected check)", argv[1]);
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
				cmd_error("policy check: %s needs a directory", a);
				return FA_EXIT_INPUT;
			}
			add = argv[i];
		} else if (strncmp(a, "--signatures=", 13) == 0) {
			add = a + 13;
		}
		if (add != NULL) {
			/* -s is repeatable: the catalogues are layers, first first */
			if (!sig_path_append(sig_list, sizeof(sig_list), add, &why)) {
				cmd_error("policy check: -s %s: %s", add, why);
				return FA_EXIT_INPUT;
			}
			sig_dir = sig_list;
		} else if (a[0] == '-' && a[1] != '\0') {
			cmd_error("policy check: unknown option '%s'", a);
			fputs(usage, stderr);
			return FA_EXIT_INPUT;
		} else if (file != NULL) {
			cmd_error("policy check: one declaration at a time ('%s' and '%s')", file, a);
			return FA_EXIT_INPUT;
		} else {
			file = a;
		}
	}
	if (file == NULL) {
		cmd_error("policy check: no declaration given");
		fputs(usage, stderr);
		return FA_EXIT_INPUT;
	}
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
