/*
 * main.c - the flowaudit command: picks the subcommand, nothing else.
 */
#include "cmd.h"

#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
} commands[] = {
	{"audit", cmd_audit, "replay captures and audit them against a policy declaration"},
	{"capture", cmd_capture, "capture live from an interface and audit as it goes"},
	{"evidence", cmd_evidence, "a finding's own capture, cut from a report's evidence"},
	{"diff", cmd_diff, "what changed between two reports (new, gone, unchanged findings)"},
	{"export", cmd_export, "reports into ClickHouse (export --clickhouse URL DIR...)"},
	{"flows", cmd_flows, "list every flow of the captures, named and located"},
	{"policy", cmd_policy, "check a policy declaration or draft one (policy check|draft FILE)"},
	{"sigs", cmd_sigs, "the signature catalogue (sigs match|check|list)"},
	{"verify", cmd_verify, "re-check the hashes of a report directory"},
};

static void usage(FILE *to)
{
	fprintf(to, "usage: flowaudit COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(to, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(to, "\n'flowaudit COMMAND --help' for a command's options; man flowaudit for all.\n");
}

void cmd_error(const char *fmt, ...)
{
	va_list ap;
	fputs("flowaudit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

double cmd_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_exit_for(int status)
{
	if (status == FA_OK)
		return FA_EXIT_OK;
	if (status == FA_EINPUT)
		return FA_EXIT_INPUT;
	return FA_EXIT_RUNTIME;
}

bool cmd_parse_count(const char *s, unsigned long long *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return false;
	/* k, M, G in powers of 1000; Ki, Mi, Gi in powers of 1024 */
	unsigned long long mult = 1;
	const char *units = "kMG";
	const char *u = *end ? strchr(units, *end == 'K' ? 'k' : *end) : NULL;
	if (u != NULL) {
		bool binary = end[1] == 'i';
		for (const char *q = units; q <= u; q++)
			mult *= binary ? 1024ULL : 1000ULL;
		end += binary ? 2 : 1;
	}
	if (*end != '\0' || end == s || v > ULLONG_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return FA_EXIT_INPUT;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return FA_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("flowaudit %s\n", FLOWAUDIT_VERSION);
		return FA_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	cmd_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return FA_EXIT_INPUT;
}
