/*
 * test_flow.c - the flow table: both directions, client detection, TCP
 * close, idle expiry, eviction at the cap, the pool under churn, and the
 * oldest live flow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/flow.h"

#include <netinet/in.h>
#include <string.h>

struct ended {
	uint64_t ids[4096];
	enum flow_end_reason why[4096];
	size_t n;
};

static void on_end(struct flow *f, enum flow_end_reason why, void *user)
{
	struct ended *e = user;
	if (e->n < 4096) {
		e->ids[e->n] = f->id;
		e->why[e->n] = why;
	}
	e->n++;
}

static struct decoded_pkt pkt(uint8_t proto, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp,
			      uint8_t flags)
{
	struct decoded_pkt p;
	memset(&p, 0, sizeof(p));
	uint8_t a[4] = {(uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8), (uint8_t)src};
	uint8_t b[4] = {(uint8_t)(dst >> 24), (uint8_t)(dst >> 16), (uint8_t)(dst >> 8), (uint8_t)dst};
	fa_addr_v4(&p.src, a);
	fa_addr_v4(&p.dst, b);
	p.ip_version = 4;
	p.l4_proto = proto;
	p.sport = sp;
	p.dport = dp;
	p.tcp_flags = flags;
	p.ip_len = 60;
	return p;
}

/* A table with the default configuration, which cfg receives. */
static struct flow_table *with_defaults(struct flow_table_cfg *cfg, struct ended *e)
{
	flow_table_cfg_default(cfg);
	return flow_table_new(cfg, on_end, e);
}

#define DEV 0xc0a80117u /* 192.168.1.23 */
#define SRV 0x8efa010au /* 142.250.1.10 */
#define SEC 1000000

static void test_both_directions(void **state)
{
	(void)state;
	struct ended e = {0};
	struct flow_table *t = flow_table_new(NULL, on_end, &e);
	int dir;
	struct decoded_pkt syn = pkt(IPPROTO_TCP, DEV, 50000, SRV, 443, TCP_SYN);
	struct decoded_pkt synack = pkt(IPPROTO_TCP, SRV, 443, DEV, 50000, TCP_SYN | TCP_ACK);
	struct flow *f1 = flow_table_packet(t, &syn, 1 * SEC, 0, 1, &dir);
	assert_int_equal(dir, FLOW_OUT);
	struct flow *f2 = flow_table_packet(t, &synack, 1 * SEC + 10, 0, 2, &dir);
	assert_ptr_equal(f1, f2);
	assert_int_equal(dir, FLOW_IN);
	assert_int_equal(f1->pkts[FLOW_OUT], 1);
	assert_int_equal(f1->pkts[FLOW_IN], 1);
	assert_int_equal(f1->bytes[FLOW_IN], 60);
	assert_int_equal(f1->first_frame, 1);
	assert_int_equal(f1->last_frame, 2);
	assert_int_equal(f1->cport, 50000);
	/* a different port is a different flow */
	struct decoded_pkt other = pkt(IPPROTO_TCP, DEV, 50001, SRV, 443, TCP_SYN);
	assert_ptr_not_equal(flow_table_packet(t, &other, 2 * SEC, 0, 3, &dir), f1);
	struct flow_table_stats st;
	flow_table_stats(t, &st);
	assert_int_equal(st.created, 2);
	assert_int_equal(st.live, 2);
	flow_table_flush(t);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.why[0], FLOW_END_FLUSH);
	flow_table_free(t);
}

static void test_client_is_initiator(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(NULL, NULL, NULL);
	int dir;
	/* capture started after the SYN: the SYN-ACK's receiver is the client */
	struct decoded_pkt synack = pkt(IPPROTO_TCP, SRV, 443, DEV, 50002, TCP_SYN | TCP_ACK);
	struct flow *f = flow_table_packet(t, &synack, SEC, 0, 1, &dir);
	assert_int_equal(dir, FLOW_IN);
	assert_int_equal(f->cport, 50002);
	assert_int_equal(f->sport, 443);
	/* a DNS answer seen before its query: the resolver is the server */
	struct decoded_pkt ans = pkt(IPPROTO_UDP, 0xc0a80101u, 53, DEV, 40000, 0);
	f = flow_table_packet(t, &ans, SEC, 0, 2, &dir);
	assert_int_equal(dir, FLOW_IN);
	assert_int_equal(f->sport, 53);
	flow_table_flush(t);
	flow_table_free(t);
}

static void test_close_and_idle(void **state)
{
	(void)state;
	struct ended e = {0};
	struct flow_table_cfg cfg;
	struct flow_table *t = with_defaults(&cfg, &e);
	int dir;
	struct decoded_pkt a = pkt(IPPROTO_TCP, DEV, 50003, SRV, 443, TCP_SYN);
	flow_table_packet(t, &a, 10 * SEC, 0, 1, &dir);
	struct decoded_pkt fin1 = pkt(IPPROTO_TCP, DEV, 50003, SRV, 443, TCP_FIN | TCP_ACK);
	struct decoded_pkt fin2 = pkt(IPPROTO_TCP, SRV, 443, DEV, 50003, TCP_FIN | TCP_ACK);
	flow_table_packet(t, &fin1, 11 * SEC, 0, 2, &dir);
	flow_table_packet(t, &fin2, 11 * SEC, 0, 3, &dir);
	struct decoded_pkt u = pkt(IPPROTO_UDP, DEV, 40001, SRV, 443, 0);
	flow_table_packet(t, &u, 11 * SEC, 0, 4, &dir);
	flow_table_expire(t, 12 * SEC);
	assert_int_equal(e.n, 0); /* linger not over */
	flow_table_expire(t, 14 * SEC);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.why[0], FLOW_END_CLOSED);
	flow_table_expire(t, 11 * SEC + cfg.udp_idle - 1);
	assert_int_equal(e.n, 1);
	flow_table_expire(t, 12 * SEC + cfg.udp_idle);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.why[1], FLOW_END_IDLE);
	flow_table_free(t);
}

/*
 * The oldest live flow: the first created until it ends, then the next
 * one still live; none once all have ended, whatever order they ended in.
 */
static void test_oldest_live(void **state)
{
	(void)state;
	struct ended e = {0};
	struct flow_table_cfg cfg;
	struct flow_table *t = with_defaults(&cfg, &e);
	int dir;
	assert_null(flow_table_oldest(t));
	struct decoded_pkt u1 = pkt(IPPROTO_UDP, DEV, 40001, SRV, 53, 0);
	struct decoded_pkt t2 = pkt(IPPROTO_TCP, DEV, 50002, SRV, 443, TCP_SYN);
	struct decoded_pkt u3 = pkt(IPPROTO_UDP, DEV, 40003, SRV, 53, 0);
	flow_table_packet(t, &u1, 1 * SEC, 0, 1, &dir);
	flow_table_packet(t, &t2, 2 * SEC, 0, 2, &dir);
	flow_table_packet(t, &u3, 3 * SEC, 0, 3, &dir);
	flow_table_packet(t, &u1, 4 * SEC, 0, 4, &dir);
	const struct flow *o = flow_table_oldest(t);
	assert_non_null(o);
	assert_int_equal(o->id, 1);
	assert_int_equal(o->first_frame, 1);
	/* the UDP flows go idle; the TCP flow (created second) stays */
	flow_table_packet(t, &t2, 3 * SEC + cfg.udp_idle, 0, 5, &dir);
	flow_table_expire(t, 5 * SEC + cfg.udp_idle);
	assert_int_equal(e.n, 2);
	o = flow_table_oldest(t);
	assert_non_null(o);
	assert_int_equal(o->id, 2);
	assert_int_equal(o->first_frame, 2);
	struct decoded_pkt u4 = pkt(IPPROTO_UDP, DEV, 40004, SRV, 53, 0);
	flow_table_packet(t, &u4, 6 * SEC + cfg.udp_idle, 0, 6, &dir);
	assert_int_equal(flow_table_oldest(t)->id, 2);
	flow_table_flush(t);
	assert_null(flow_table_oldest(t));
	flow_table_packet(t, &u4, 7 * SEC + cfg.udp_idle, 0, 7, &dir);
	assert_int_equal(flow_table_oldest(t)->id, 5);
	flow_table_free(t);
}

/*
 * Time stamps that go back: a flow seen later in the file but with an
 * earlier time sits behind one with a later time, and becomes the head of
 * its list when that one is seen again. It is ended as soon as it is due
 * then, although an expiry that found nothing due came in between.
 */
static void test_expiry_after_time_goes_back(void **state)
{
	(void)state;
	struct ended e = {0};
	struct flow_table_cfg cfg;
	struct flow_table *t = with_defaults(&cfg, &e);
	int dir;
	struct decoded_pkt a = pkt(IPPROTO_UDP, DEV, 40001, SRV, 443, 0);
	struct decoded_pkt b = pkt(IPPROTO_UDP, DEV, 40002, SRV, 443, 0);
	struct flow *fa = flow_table_packet(t, &a, 100 * SEC, 0, 1, &dir);
	struct flow *fb = flow_table_packet(t, &b, 50 * SEC, 0, 2, &dir);
	uint64_t id_b = fb->id;
	flow_table_expire(t, 101 * SEC); /* only heads are looked at: a's is not due */
	assert_int_equal(e.n, 0);
	flow_table_packet(t, &a, 102 * SEC, 0, 3, &dir); /* b is now the head */
	flow_table_expire(t, 50 * SEC + cfg.udp_idle + 1);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.ids[0], id_b);
	assert_int_equal(e.why[0], FLOW_END_IDLE);
	assert_non_null(fa);
	flow_table_flush(t);
	flow_table_free(t);
}

static void test_new_syn_after_close(void **state)
{
	(void)state;
	struct ended e = {0};
	struct flow_table *t = flow_table_new(NULL, on_end, &e);
	int dir;
	struct decoded_pkt syn = pkt(IPPROTO_TCP, DEV, 50004, SRV, 80, TCP_SYN);
	struct decoded_pkt rst = pkt(IPPROTO_TCP, SRV, 80, DEV, 50004, TCP_RST);
	struct flow *f1 = flow_table_packet(t, &syn, SEC, 0, 1, &dir);
	uint64_t id1 = f1->id;
	flow_table_packet(t, &rst, SEC, 0, 2, &dir);
	struct flow *f2 = flow_table_packet(t, &syn, SEC + 1, 0, 3, &dir);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.ids[0], id1);
	assert_int_not_equal(f2->id, id1);
	assert_int_equal(f2->first_frame, 3);
	flow_table_flush(t);
	flow_table_free(t);
}

static void test_eviction_at_cap(void **state)
{
	(void)state;
	struct ended e = {0};
	struct flow_table_cfg cfg;
	flow_table_cfg_default(&cfg);
	cfg.max_flows = 100;
	struct flow_table *t = flow_table_new(&cfg, on_end, &e);
	int dir;
	for (uint32_t i = 0; i < 1000; i++) {
		struct decoded_pkt p = pkt(IPPROTO_UDP, 0x0a000000u + i, 1234, SRV, 53, 0);
		assert_non_null(flow_table_packet(t, &p, SEC + i, 0, i + 1, &dir));
	}
	struct flow_table_stats st;
	flow_table_stats(t, &st);
	assert_int_equal(st.live, 100);
	assert_int_equal(st.evicted, 900);
	assert_int_equal(st.peak_live, 100);
	/* the least recently seen went first */
	assert_int_equal(e.ids[0], 1);
	assert_int_equal(e.why[0], FLOW_END_EVICTED);
	assert_int_equal(e.ids[899], 900);
	flow_table_flush(t);
	assert_int_equal(e.n, 1000);
	flow_table_free(t);
}

static void test_churn_reuses_pool(void **state)
{
	(void)state;
	struct ended e = {0};
	struct flow_table *t = flow_table_new(NULL, on_end, &e);
	int dir;
	for (uint32_t round = 0; round < 50; round++) {
		for (uint32_t i = 0; i < 2000; i++) {
			struct decoded_pkt p = pkt(IPPROTO_UDP, DEV, (uint16_t)(1024 + i), SRV, 53, 0);
			flow_table_packet(t, &p, (fa_time)round * 100 * SEC, 0, i, &dir);
		}
		flow_table_expire(t, (fa_time)round * 100 * SEC + 99 * SEC);
	}
	struct flow_table_stats st;
	flow_table_stats(t, &st);
	assert_int_equal(st.created, 100000);
	assert_int_equal(st.ended_idle, 100000);
	assert_int_equal(st.live, 0);
	flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_directions),
		cmocka_unit_test(test_client_is_initiator),
		cmocka_unit_test(test_close_and_idle),
		cmocka_unit_test(test_oldest_live),
		cmocka_unit_test(test_expiry_after_time_goes_back),
		cmocka_unit_test(test_new_syn_after_close),
		cmocka_unit_test(test_eviction_at_cap),
		cmocka_unit_test(test_churn_reuses_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
