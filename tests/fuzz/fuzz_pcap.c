/*
 * fuzz_pcap.c - a whole capture file, as `flowaudit flows -r FILE` reads it.
 *
 * Input: the bytes of a pcap or pcapng file. They are written to a file in
 * a private directory, opened with source_open_files() and every frame goes
 * through the engine (with the identifier scanner on). libpcap parses a
 * classic pcap, flowaudit's own reader a pcapng (read from the file through
 * its buffer, as a replay reads it; fuzz_pcapng has the reader alone); what
 * this exercises is the rest: odd link types, a link type per interface,
 * zero-length and huge records, timestamps that go backwards, files that
 * stop in the middle, the decryption secrets and the per-file statistics
 * afterwards.
 *
 * As in fuzz_engine.c, one engine serves FUZZ_ENGINE_REUSE inputs in a row
 * (default 256; nDPI's initialisation is too slow to pay per input), each
 * input ending with engine_finish().
 */
#include "flowaudit/engine.h"
#include "flowaudit/source.h"

#include "fuzz_common.h"

static struct idscan *g_ids;
static char g_path[128];
static struct engine *g_engine;
static unsigned g_uses, g_reuse = 256;
static volatile uint8_t g_sink;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_ids = fuzz_idscan();
	snprintf(g_path, sizeof(g_path), "%s/input.pcap", fuzz_tmpdir());
	const char *r = getenv("FUZZ_ENGINE_REUSE");
	if (r != NULL && atoi(r) > 0)
		g_reuse = (unsigned)atoi(r);
	return 0;
}

static struct engine *engine_get(void)
{
	if (g_engine != NULL && g_uses < g_reuse) {
		g_uses++;
		return g_engine;
	}
	engine_free(g_engine);
	struct engine_cfg cfg;
	engine_cfg_default(&cfg);
	cfg.flows.max_flows = 64;
	cfg.max_records = 256;
	cfg.ids = g_ids;
	struct fa_err err = {{0}};
	if (engine_new(&cfg, &g_engine, &err) != FA_OK) {
		fprintf(stderr, "fuzz: engine_new: %s\n", err.msg);
		abort();
	}
	g_uses = 1;
	return g_engine;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(g_path, data, size);
	const char *paths[] = {g_path};
	struct source *src = NULL;
	struct fa_err err = {{0}};
	if (source_open_files(paths, 1, &src, &err) != FA_OK)
		return 0;

	struct engine *e = engine_get();
	struct source_frame fr;
	for (int i = 0; i < 4096; i++) {
		int rc = source_next(src, &fr, &err);
		if (rc != 1)
			break;
		engine_frame(e, &fr);
	}
	engine_finish(e);
	for (size_t i = 0; i < source_file_count(src); i++) {
		const struct source_file_info *fi = source_file(src, i);
		if (fi->link_name != NULL)
			(void)strlen(fi->link_name);
		for (size_t l = 0; l < fi->n_links; l++)
			(void)strlen(fi->links[l].name);
		(void)strlen(fi->error);
	}
	size_t next = 0;
	const struct source_secret *x;
	while ((x = source_secret_next(src, UINT32_MAX, 0, &next)) != NULL)
		if (x->len > 0) /* read: a wrong length shows as an overread */
			g_sink = x->data[0] ^ x->data[x->len - 1];
	source_free(src);
	return 0;
}
