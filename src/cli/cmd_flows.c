/*
 * cmd_flows.c - `flowaudit flows`: every flow of the captures, named and
 * located, as a table or as a JSON array.
 */
#include "cmd.h"

#include "flowaudit/geo.h"
#include "flowaudit/keylog.h"
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
	"  -s, --signatures DIR   signature catalogue (default: the shipped one);\n"
	"                         repeat it for layers: the first that matches wins\n"
	"  --max-flows N          live flows kept at once (default 262144)\n"
	"  --threads N            1, or 2: nDPI in a thread of its own (same output)\n"
	"  --keylog FILE          TLS key log (SSLKEYLOGFILE format): decrypt the TLS\n"
	"                         flows it has secrets for (repeatable)\n"
	"  --quiet                no progress on stderr\n";

static void print_table(struct engine *e)
{
	printf("%6s %-6s %-40s %-40s %-18s %-40s %-12s %-3s %8s %8s\n", "id", "proto", "client",
	       "server", "protocol", "name", "source", "cc", "pkts", "bytes");
	struct flow_record r;
	for (uint64_t id = 1; id <= engine_record_count(e); id++) {
		if (!engine_record_get(e, id, &r))
			continue;
		char ca[FA_ADDR_STRLEN], sa[FA_ADDR_STRLEN], cli[80], srv[80];
		/* [v6]:port, as URLs write it, so the port cannot be read as part of it */
		fa_addr_str(&r.cli, ca, sizeof(ca));
		fa_addr_str(&r.srv, sa, sizeof(sa));
		bool v6 = strchr(ca, ':') != NULL;
		snprintf(cli, sizeof(cli), v6 ? "[%s]:%u" : "%s:%u", ca, r.cport);
		snprintf(srv, sizeof(srv), v6 ? "[%s]:%u" : "%s:%u", sa, r.sport);
		/* "+ech": the name is an encrypted ClientHello's outer, public one */
		char src[24];
		snprintf(src, sizeof(src), "%s%s", name_source_str(r.name_source), r.ech ? "+ech" : "");
		printf("%6llu %-6s %-40s %-40s %-18s %-40s %-12s %-3s %8llu %8llu\n",
		       (unsigned long long)r.id, r.transport, cli, srv,
		       r.protocol ? r.protocol : "Unknown", r.name ? r.name : "-",
		       src, r.geo.found_country ? r.geo.country : "-",
		       (unsigned long long)(r.pkts[0] + r.pkts[1]),
		       (unsigned long long)(r.bytes[0] + r.bytes[1]));
	}
}

/* Which databases located the flows: type, build date, licence. */
static void print_geo_sources(const struct geo *g, FILE *to)
{
	const struct geo_db_info *db[2] = {geo_country_info(g), geo_asn_info(g)};
	const char *what[2] = {"countries", "ASNs"};
	for (int i = 0; i < 2; i++) {
		if (db[i] == NULL)
			continue;
		char built[40];
		fa_time_str((fa_time)db[i]->build_epoch * 1000000, built, sizeof(built));
		fprintf(to, "%s from %s (%s, built %s)\n", what[i], db[i]->path,
			db[i]->database_type ? db[i]->database_type : "unknown type", built);
	}
	if (db[0] || db[1])
		fprintf(to, "%s\n", geo_attribution());
}

void cmd_report_input_problems(struct run *r)
{
	for (size_t i = 0; i < source_file_count(r->src); i++) {
		const struct source_file_info *fi = source_file(r->src, i);
		if (fi->truncated)
			cmd_error("%s: %s", fi->path, fi->error);
		if (fi->bad_timestamps)
			cmd_error("%s: %llu frames carry a time stamp out of range; it was clamped",
				  fi->path, (unsigned long long)fi->bad_timestamps);
		for (size_t l = 0; l < fi->n_links; l++) {
			const struct source_link *lk = &fi->links[l];
			if (lk->frames > 0 && lk->linktype == SOURCE_LINK_NONE)
				cmd_error("%s: %llu pcapng records that hold no packet (journal "
					  "entries, custom blocks, system call events) were numbered as "
					  "frames, as Wireshark numbers them, and skipped",
					  fi->path, (unsigned long long)lk->frames);
			else if (lk->frames > 0 && !decode_link_supported(lk->linktype))
				cmd_error("%s: link type %d (%s) is not decoded; its %llu frames were "
					  "counted and skipped",
					  fi->path, lk->linktype, lk->name,
					  (unsigned long long)lk->frames);
		}
		if (fi->secrets_dropped)
			cmd_error("%s: %llu decryption secrets blocks left out: the run keeps %u MiB "
				  "of secrets at most",
				  fi->path, (unsigned long long)fi->secrets_dropped,
				  SOURCE_SECRETS_MAX_BYTES >> 20);
	}
	run_report_keys(r);
	const struct keylog_stats *ks = r->keys ? keylog_stats(r->keys) : NULL;
	if (ks != NULL && ks->malformed > ks->n_messages)
		cmd_error("%llu malformed key log lines skipped in all",
			  (unsigned long long)ks->malformed);
	if (ks != NULL && ks->unknown)
		cmd_error("%llu key log lines with labels not used for decryption (such as "
			  "CLIENT_EARLY_TRAFFIC_SECRET) were counted and ignored",
			  (unsigned long long)ks->unknown);
	if (ks != NULL && ks->full)
		cmd_error("the key log is full: the secrets of %llu lines were left out",
			  (unsigned long long)ks->dropped);
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
	if (r.o.json) {
		rc = report_flows_write(stdout, r.eng, NULL, r.o.reads, r.o.n_reads, 0);
		fputc('\n', stdout);
		if (rc != FA_OK || fflush(stdout) != 0) {
			cmd_error("cannot write the flows to standard output");
			run_close(&r);
			return FA_EXIT_RUNTIME;
		}
		if (!r.o.quiet && r.geo != NULL) {
			fputs("flowaudit: ", stderr);
			print_geo_sources(r.geo, stderr);
		}
	} else {
		print_table(r.eng);
		struct engine_stats st;
		engine_stats(r.eng, &st);
		printf("\n%llu frames, %llu flows", (unsigned long long)st.frames,
		       (unsigned long long)st.flows.created);
		if (r.geo == NULL && r.o.no_geo)
			printf(" (not located: --no-geo)");
		else if (r.geo == NULL)
			printf(" (no geolocation database: run 'make setup' or pass -g)");
		printf("\n");
		if (r.geo != NULL)
			print_geo_sources(r.geo, stdout);
	}
	cmd_report_input_problems(&r);
	run_close(&r);
	return FA_EXIT_OK;
}
