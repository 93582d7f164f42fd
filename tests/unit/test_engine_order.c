/*
 * The engine's ordered hand-on (engine.h, `ordered`): a generated capture
 * where a TCP connection opened first stays up while two hundred DNS
 * exchanges begin and end behind it, then closes. Every kept record is
 * handed on once, in id order, the same bytes engine_record_get() returns;
 * those behind the connection during the replay, as soon as it has ended
 * (read back from the record store, which keeps only 4 records in memory
 * here), the rest at engine_finish(). The horizon only moves forward, and
 * never past the first frame of a flow not yet handed on. With the window
 * too small for the flows waiting (max_records below the flows, so some
 * are not kept), the rest still come, in order, from engine_finish().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/engine.h"
#include "flowaudit/source.h"

#include "frames.h"

#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_DNS 200 /* one a second: all within the connection's 300 s idle timeout */

struct seen {
	struct engine *e;
	uint64_t ids[N_DNS + 8];
	size_t n;
	size_t before_finish;   /* handed on during the replay */
	bool finishing;
	bool out_of_order, differs;
	uint32_t hz_file;
	uint64_t hz_frame;
	size_t horizons;
	bool hz_back, hz_past;
};

static void on_flow(const struct flow_record *r, const struct id_hit *hits, size_t n_hits,
		    void *user)
{
	(void)hits;
	(void)n_hits;
	struct seen *s = user;
	if (s->n > 0 && r->id <= s->ids[s->n - 1])
		s->out_of_order = true;
	/* the same bytes the store gives back */
	struct flow_record st;
	if (!engine_record_get(s->e, r->id, &st) || memcmp(&st, r, sizeof(st)) != 0)
		s->differs = true;
	if (s->n < N_DNS + 8)
		s->ids[s->n] = r->id;
	s->n++;
	if (!s->finishing)
		s->before_finish++;
}

static void on_horizon(uint32_t file, uint64_t frame, void *user)
{
	struct seen *s = user;
	if (file < s->hz_file || (file == s->hz_file && frame < s->hz_frame))
		s->hz_back = true;
	/* no frame of a flow not yet handed on lies before it: flow k begins
	   at frame k, but the last query, after the connection's two FINs */
	uint64_t next = s->n ? s->ids[s->n - 1] + 1 : 1;
	uint64_t begins = next <= N_DNS + 1 ? next : N_DNS + 4;
	if (frame > begins)
		s->hz_past = true;
	s->hz_file = file;
	s->hz_frame = frame;
	s->horizons++;
}

/* Frame n: 1 opens the connection (SYN), 2 .. N_DNS + 1 are one DNS query
   each from its own port, N_DNS + 2 and + 3 close the connection (FINs),
   then one more DNS query a minute later ends every query by idleness. */
static void write_capture(const char *path)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	assert_non_null(dead);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	assert_non_null(d);
	for (uint64_t n = 1; n <= N_DNS + 4; n++) {
		struct frame f;
		fr_start(&f, DLT_EN10MB, DECODE_OK);
		fr_eth(&f, 0x0800);
		size_t ip;
		time_t t = 1700000000 + (time_t)n;
		if (n == 1 || n == N_DNS + 2 || n == N_DNS + 3) {
			ip = fr_ip4(&f, IPPROTO_TCP, 0, 0);
			bool back = n == N_DNS + 3; /* the server's FIN */
			if (back) {
				memcpy(f.b + ip + 12, FR_DST4, 4);
				memcpy(f.b + ip + 16, FR_SRC4, 4);
			}
			fr_tcp(&f, back ? 443 : 40000, back ? 40000 : 443,
			       n == 1 ? TCP_SYN : (uint8_t)(TCP_FIN | TCP_ACK), 0);
		} else {
			ip = fr_ip4(&f, IPPROTO_UDP, 0, 0);
			size_t u = fr_udp(&f, (uint16_t)(20000 + n), 53);
			fr_payload(&f);
			fr_udp_done(&f, u);
			if (n == N_DNS + 4)
				t += 120;
		}
		fr_ip4_done(&f, ip);
		struct pcap_pkthdr h = {.ts = {.tv_sec = t, .tv_usec = 0},
					.caplen = (bpf_u_int32)f.n, .len = (bpf_u_int32)f.n};
		pcap_dump((u_char *)d, &h, f.b);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static void replay(const char *cap, size_t max_records, struct seen *s)
{
	struct engine_cfg cfg;
	engine_cfg_default(&cfg);
	cfg.ordered = true;
	cfg.mem_records = 4;
	if (max_records)
		cfg.max_records = max_records;
	cfg.on_flow = on_flow;
	cfg.user = s;
	struct fa_err err = {""};
	assert_int_equal(engine_new(&cfg, &s->e, &err), FA_OK);
	engine_set_horizon_cb(s->e, on_horizon, s);
	const char *paths[1] = {cap};
	struct source *src = NULL;
	assert_int_equal(source_open_files(paths, 1, &src, &err), FA_OK);
	struct source_frame fr;
	while (source_next(src, &fr, &err) == 1)
		engine_frame(s->e, &fr);
	s->finishing = true;
	engine_finish(s->e);
	source_free(src);
}

static void test_in_order_during_replay(void **state)
{
	(void)state;
	char cap[] = "/tmp/fa-order-XXXXXX";
	int fd = mkstemp(cap);
	assert_true(fd >= 0);
	close(fd);
	write_capture(cap);
	struct seen s;
	memset(&s, 0, sizeof(s));
	replay(cap, 0, &s);
	/* the connection, N_DNS queries, the last query */
	assert_int_equal(s.n, N_DNS + 2);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.ids[i], i + 1);
	assert_false(s.out_of_order);
	assert_false(s.differs);
	/* the connection and every query behind it during the replay: all
	   but the last query, which ends at engine_finish() */
	assert_int_equal(s.before_finish, N_DNS + 1);
	assert_true(s.horizons > 0);
	assert_false(s.hz_back);
	assert_false(s.hz_past);
	engine_free(s.e);

	/* records past max_records are not kept: the others still come, in
	   order */
	memset(&s, 0, sizeof(s));
	replay(cap, 100, &s);
	assert_int_equal(s.n, 100);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.ids[i], i + 1);
	assert_false(s.differs);
	engine_free(s.e);
	unlink(cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_during_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
