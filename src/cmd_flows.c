/*
 * cmd_flows.c - `flowaudit flows`: every flow of the captures, named and
 * located, as a table or as a JSON array.
 */
#include "cmd.h"

#include "flowaudit/geo.h"
#include "flowaudit/report_json.h"
#include "flowaudit/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: flowaudit flows -r FILE [-r FILE...] [options]\n"
	"  -r, --read FILE        capture to replay (pcap or pcapng; repeatable)\n"
	"  --json                 a JSON array, one object per flow\n"
	"  -g, --geo DB           country database (MaxMind DB format)\n"
	"  --asn DB               ASN database (MaxMind DB format)\n"
	"  --no-geo               do not locate addresses\n"
	"  -s, --signatures DIR   signature catalogue (default: the shipped one)\n"
	"  --max-flows N          live flows kept at once (default 262144)\n"
	"  --quiet                no progress on stderr\n";

static void print_table(const struct engine *e, const char *const *files, size_t n_files)
{
	(void)files;
	(void)n_files;
	printf("%6s %-5s %-40s %-40s %-18s %-40s %-9s %-3s %8s %8s\n", "id", "proto", "client",
	       "server", "protocol", "name", "source", "cc", "pkts", "bytes");
	json_t *arr = report_flows_json(e, files, n_files);
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		char cli[80], srv[80];
		snprintf(cli, sizeof(cli), "%s:%lld", json_string_value(json_object_get(o, "client_ip")),
			 json_integer_value(json_object_get(o, "client_port")));
		snprintf(srv, sizeof(srv), "%s:%lld", json_string_value(json_object_get(o, "server_ip")),
			 json_integer_value(json_object_get(o, "server_port")));
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *cc = json_string_value(json_object_get(o, "country"));
		long long pk = json_integer_value(json_object_get(o, "packets_out")) +
			       json_integer_value(json_object_get(o, "packets_in"));
		long long by = json_integer_value(json_object_get(o, "bytes_out")) +
			       json_integer_value(json_object_get(o, "bytes_in"));
		printf("%6lld %-5s %-40s %-40s %-18s %-40s %-9s %-3s %8lld %8lld\n",
		       json_integer_value(json_object_get(o, "id")),
		       json_string_value(json_object_get(o, "transport")), cli, srv,
		       json_string_value(json_object_get(o, "protocol")), name ? name : "-",
		       json_string_value(json_object_get(o, "name_source")), cc ? cc : "-", pk, by);
	}
	json_decref(arr);
}

void cmd_report_input_problems(const struct run *r)
{
	for (size_t i = 0; i < source_file_count(r->src); i++) {
		const struct source_file_info *fi = source_file(r->src, i);
		if (fi->truncated)
			cmd_error("%s: %s", fi->path, fi->error);
		if (fi->bad_timestamps)
			cmd_error("%s: %llu frames carry a time stamp out of range; it was clamped",
				  fi->path, (unsigned long long)fi->bad_timestamps);
		if (fi->frames > 0 && !decode_link_supported(fi->linktype))
			cmd_error("%s: link type %d (%s) is not decoded; its %llu frames were counted "
				  "and skipped",
				  fi->path, fi->linktype, fi->link_name, (unsigned long long)fi->frames);
	}
	struct engine_stats st;
	engine_stats(r->eng, &st);
	uint64_t bad = st.decode.result[DECODE_MALFORMED];
	if (bad)
		cmd_error("%llu malformed frames counted and skipped",
			  (unsigned long long)bad);
	if (st.flows.evicted)
		cmd_error("flow table full: %llu flows evicted early (raise --max-flows)",
			  (unsigned long long)st.flows.evicted);
}

int cmd_flows(int argc, char **argv)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	int ex = run_parse(argc, argv, RUN_READ | RUN_JSON, usage, &r.o);
	if (ex >= 0)
		return ex;
	struct fa_err err = {""};
	int rc = source_open_files(r.o.reads, r.o.n_reads, &r.src, &err);
	if (rc == FA_OK)
		rc = run_open(&r, NULL, NULL, &err);
	if (rc == FA_OK)
		rc = run_replay(&r, &err);
	if (rc != FA_OK) {
		cmd_error("%s", err.msg);
		run_close(&r);
		return cmd_exit_for(rc);
	}
	const char *const *files = r.o.reads;
	if (r.o.json) {
		json_t *arr = report_flows_json(r.eng, files, r.o.n_reads);
		json_dumpf(arr, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(arr);
	} else {
		print_table(r.eng, files, r.o.n_reads);
		struct engine_stats st;
		engine_stats(r.eng, &st);
		printf("\n%llu frames, %llu flows", (unsigned long long)st.frames,
		       (unsigned long long)st.flows.created);
		if (r.geo == NULL)
			printf(" (no geolocation database: run 'make setup' or pass -g)");
		printf("\n");
	}
	cmd_report_input_problems(&r);
	run_close(&r);
	return FA_EXIT_OK;
}
