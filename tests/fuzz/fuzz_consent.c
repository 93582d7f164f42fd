/*
 * fuzz_consent.c - consent timelines from a hostile file and hostile lines.
 *
 * Input: a selector byte, then bytes. Even selector: the bytes are an
 * events file for consent_load(). Odd: they are split at newlines and each
 * line (at most CONSENT_MAX_LINE bytes) goes to consent_parse_line() on one
 * timeline, as a live capture's event pipe would deliver them. Either way
 * the resulting timeline is queried at a few times.
 */
#include "flowaudit/consent.h"

#include "fuzz_common.h"

static char g_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(g_path, sizeof(g_path), "%s/events.json", fuzz_tmpdir());
	return 0;
}

static void query(const struct consent_timeline *tl)
{
	static const char *purposes[] = {"advertising", "analytics", "cross_border", "x"};
	for (size_t i = 0; i < consent_count(tl); i++) {
		const struct consent_event *ev = consent_get(tl, i);
		for (size_t j = 0; j < ev->n_purposes; j++)
			(void)strlen(ev->purposes[j]);
	}
	for (size_t i = 0; i < 4; i++) {
		const struct consent_event *d = NULL;
		(void)consent_state_at(tl, purposes[i], 1700000000LL * 1000000, &d);
		(void)consent_state_at(tl, purposes[i], INT64_MAX, &d);
		(void)consent_state_at(tl, purposes[i], INT64_MIN, &d);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct fa_err err = {{0}};
	struct consent_timeline *tl = NULL;
	if ((data[0] & 1) == 0) {
		fuzz_write_file(g_path, data + 1, size - 1);
		if (consent_load(g_path, &tl, &err) != FA_OK) {
			if (strlen(err.msg) == 0)
				abort();
			return 0;
		}
	} else {
		tl = consent_new();
		if (tl == NULL)
			return 0;
		char *line = malloc(CONSENT_MAX_LINE + 1);
		if (line == NULL) {
			consent_free(tl);
			return 0;
		}
		fa_time now = 1700000000LL * 1000000;
		size_t i = 1;
		while (i < size) {
			size_t n = 0;
			while (i < size && data[i] != '\n') {
				if (n < CONSENT_MAX_LINE)
					line[n++] = (char)data[i];
				i++;
			}
			i++;
			line[n] = '\0';
			(void)consent_parse_line(tl, line, now, &err);
			now += 1000000;
		}
		free(line);
	}
	query(tl);
	consent_free(tl);
	return 0;
}
