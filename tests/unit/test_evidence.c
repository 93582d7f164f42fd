/*
 * evidence: a generated capture of two flows, read back through
 * evidence_write(): each set's frame numbers exactly (gaps that take one,
 * two and three bytes to encode), the packets in each pcap, and two sets of
 * the same flow sharing one file and one frame list.
 */
#include "flowaudit/evidence.h"

#include "frames.h"

#include <netinet/in.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define N_FRAMES 20210

/* Frames of flow A (TCP), everything else flow B (UDP). */
static bool is_a(uint64_t n) { return n == 1 || n == 202 || n == 20203 || n == 20207; }

static void write_capture(const char *path)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	assert_non_null(dead);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	assert_non_null(d);
	for (uint64_t n = 1; n <= N_FRAMES; n++) {
		struct frame f;
		fr_start(&f, DLT_EN10MB, DECODE_OK);
		fr_eth(&f, 0x0800);
		if (is_a(n))
			fr_ip4_tcp(&f, 0);
		else
			fr_ip4_udp(&f, 0);
		struct pcap_pkthdr h = {.ts = {.tv_sec = 1700000000 + (time_t)n, .tv_usec = 0},
					.caplen = (bpf_u_int32)f.n, .len = (bpf_u_int32)f.n};
		pcap_dump((u_char *)d, &h, f.b);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static struct evidence_flow flow(uint64_t id, uint8_t proto, uint16_t cport, uint16_t sport,
				 uint64_t first, uint64_t last)
{
	struct evidence_flow f = {.flow_id = id, .cport = cport, .sport = sport, .proto = proto,
				  .frame_first = first, .frame_last = last};
	fa_addr_v4(&f.cli, FR_SRC4);
	fa_addr_v4(&f.srv, FR_DST4);
	return f;
}

/* get_flow over an array sorted by id. */
struct flow_list {
	const struct evidence_flow *v;
	size_t n;
	uint64_t asked_last; /* ids must come in increasing order */
	bool out_of_order;
};

static bool list_flow(uint64_t id, struct evidence_flow *out, void *user)
{
	struct flow_list *l = user;
	if (id < l->asked_last)
		l->out_of_order = true;
	l->asked_last = id;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].flow_id == id) {
			*out = l->v[i];
			return true;
		}
	return false;
}

/* Packets in a classic pcap file. */
static size_t pcap_packets(const char *path)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, eb);
	assert_non_null(p);
	struct pcap_pkthdr *h;
	const u_char *data;
	size_t n = 0;
	while (pcap_next_ex(p, &h, &data) == 1)
		n++;
	pcap_close(p);
	return n;
}

/* dir (a mkdtemp template) made, and the capture written in it as cap. */
static void make_capture(char *dir, char *cap, size_t cap_len)
{
	assert_non_null(mkdtemp(dir));
	snprintf(cap, cap_len, "%s/in.pcap", dir);
	write_capture(cap);
}

static void test_frames_and_twins(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa-evidence-XXXXXX", cap[4200];
	make_capture(dir, cap, sizeof(cap));
	const char *caps[] = {cap};
	struct evidence_flow flows[] = {
		flow(1, IPPROTO_TCP, 40000, 443, 1, 20207),
		flow(2, IPPROTO_UDP, 5353, 53, 2, N_FRAMES),
	};
	uint64_t only_a[] = {1}, only_b[] = {2};
	struct evidence_set sets[3] = {
		{.name = "F0001", .flow_ids = only_a, .n_flow_ids = 1},
		{.name = "F0002", .flow_ids = only_b, .n_flow_ids = 1},
		{.name = "F0003", .flow_ids = only_a, .n_flow_ids = 1}, /* F0001's twin */
	};
	struct fa_err err = {""};
	struct flow_list fl = {flows, 2, 0, false};
	assert_int_equal(evidence_write(caps, 1, list_flow, &fl, sets, 3, dir, &err), FA_OK);

	/* flow A's frames, every one, from the deltas */
	const uint64_t want[] = {1, 202, 20203, 20207};
	for (int s = 0; s < 3; s += 2) {
		assert_int_equal(sets[s].n_per_file, 1);
		const struct evidence_frames *pf = &sets[s].per_file[0];
		assert_int_equal(pf->n, 4);
		size_t pos = 0, k = 0;
		uint64_t prev = 0, fr;
		while (evidence_frames_next(pf, &pos, &prev, &fr)) {
			assert_true(k < 4);
			assert_int_equal(fr, want[k++]);
		}
		assert_int_equal(k, 4);
		assert_int_equal(sets[s].packets, 4);
	}
	/* the twin borrows the frame list and names the same file */
	assert_true(sets[2].borrowed);
	assert_ptr_equal(sets[2].per_file, sets[0].per_file);
	char a[4300], b[4300];
	snprintf(a, sizeof(a), "%s/%s", dir, sets[0].paths[0]);
	snprintf(b, sizeof(b), "%s/%s", dir, sets[2].paths[0]);
	assert_string_equal(sets[2].paths[0], "F0003.pcap");
	struct stat sa, sb;
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_true(sa.st_ino == sb.st_ino || sa.st_size == sb.st_size);
	assert_int_equal(pcap_packets(a), 4);
	assert_int_equal(pcap_packets(b), 4);

	/* flow B: every other frame, ascending */
	const struct evidence_frames *pb = &sets[1].per_file[0];
	assert_int_equal(pb->n, N_FRAMES - 4);
	size_t pos = 0, seen = 0;
	uint64_t prev = 0, fr, last = 0;
	while (evidence_frames_next(pb, &pos, &prev, &fr)) {
		assert_false(is_a(fr));
		assert_true(fr > last);
		last = fr;
		seen++;
	}
	assert_int_equal(seen, N_FRAMES - 4);
	assert_int_equal(last, N_FRAMES);
	char c[4300];
	snprintf(c, sizeof(c), "%s/%s", dir, sets[1].paths[0]);
	assert_int_equal(pcap_packets(c), N_FRAMES - 4);

	for (int s = 0; s < 3; s++) {
		char p[4300];
		snprintf(p, sizeof(p), "%s/%s", dir, sets[s].paths[0]);
		unlink(p);
		evidence_set_clear(&sets[s]);
	}
	unlink(cap);
	rmdir(dir);
}

/* A file's bytes, and their count in *n (a new buffer). */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	char *b = malloc((size_t)size);
	assert_non_null(b);
	*n = fread(b, 1, (size_t)size, f);
	assert_int_equal(*n, (size_t)size);
	fclose(f);
	return b;
}

/* Flow B's frames within [lo, hi]. */
static size_t b_frames(uint64_t lo, uint64_t hi)
{
	size_t n = 0;
	for (uint64_t k = lo; k <= hi; k++)
		n += !is_a(k);
	return n;
}

static size_t set_frames(const struct evidence_set *st, uint64_t *first, uint64_t *last)
{
	size_t n = 0, pos = 0;
	uint64_t prev = 0, fr;
	*first = *last = 0;
	for (size_t k = 0; k < st->n_per_file; k++)
		for (pos = 0, prev = 0; evidence_frames_next(&st->per_file[k], &pos, &prev, &fr); n++) {
			if (n == 0)
				*first = fr;
			assert_true(fr > *last);
			*last = fr;
		}
	return n;
}

/*
 * One 5-tuple used by three flows one after the other, a set that lists
 * its flows out of order, a flow the caller does not know, and so few
 * descriptors that a pass writes two sets only: each set still gets
 * exactly its flows' frames, and the flows are asked for in id order.
 * Last, since it lowers the process's descriptor limit for good.
 */
static void test_streamed_flows(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa-evidence-XXXXXX", cap[4200];
	make_capture(dir, cap, sizeof(cap));
	const char *caps[] = {cap};
	struct evidence_flow flows[] = {
		flow(1, IPPROTO_TCP, 40000, 443, 1, 20207),
		flow(2, IPPROTO_UDP, 5353, 53, 2, 5000),
		flow(3, IPPROTO_UDP, 5353, 53, 5001, 12000),
		flow(4, IPPROTO_UDP, 5353, 53, 12001, N_FRAMES),
	};
	uint64_t s1[] = {4, 2}, s2[] = {3}, s3[] = {1, 3}, s4[] = {2, 99};
	struct evidence_set sets[4] = {
		{.name = "F0001", .flow_ids = s1, .n_flow_ids = 2},
		{.name = "F0002", .flow_ids = s2, .n_flow_ids = 1},
		{.name = "F0003", .flow_ids = s3, .n_flow_ids = 2},
		{.name = "F0004", .flow_ids = s4, .n_flow_ids = 2},
	};
	char *file0[4] = {NULL};
	size_t file0_len[4] = {0};
	/* then with few descriptors: the same files */
	for (int round = 0; round < 2; round++) {
		if (round == 1) { /* one link type, two descriptors for sets: two a pass */
			struct rlimit rl = {66, 66}; /* FD_SPARE (64) and two */
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
		}
		struct fa_err err = {""};
		struct flow_list fl = {flows, 4, 0, false};
		assert_int_equal(evidence_write(caps, 1, list_flow, &fl, sets, 4, dir, &err), FA_OK);
		if (round == 0)
			assert_false(fl.out_of_order);
		uint64_t first, last;
		assert_int_equal(set_frames(&sets[0], &first, &last), b_frames(2, 5000) + b_frames(12001, N_FRAMES));
		assert_int_equal(first, 2);
		assert_int_equal(last, N_FRAMES);
		assert_int_equal(set_frames(&sets[1], &first, &last), b_frames(5001, 12000));
		assert_int_equal(first, 5001);
		assert_int_equal(last, 12000);
		assert_int_equal(set_frames(&sets[2], &first, &last), 4 + b_frames(5001, 12000));
		assert_int_equal(first, 1);
		assert_int_equal(last, 20207);
		assert_int_equal(set_frames(&sets[3], &first, &last), b_frames(2, 5000));
		for (int k = 0; k < 4; k++) {
			char p[4300];
			snprintf(p, sizeof(p), "%s/%s", dir, sets[k].paths[0]);
			assert_int_equal(pcap_packets(p), sets[k].packets);
			size_t len;
			char *bytes = slurp(p, &len);
			if (round == 0) {
				file0[k] = bytes;
				file0_len[k] = len;
			} else {
				assert_int_equal(len, file0_len[k]);
				assert_memory_equal(bytes, file0[k], len);
				free(bytes);
			}
			unlink(p);
			evidence_set_clear(&sets[k]);
			sets[k].n_paths = 0;
			sets[k].packets = 0;
		}
	}
	for (int k = 0; k < 4; k++)
		free(file0[k]);
	unlink(cap);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_and_twins),
		cmocka_unit_test(test_streamed_flows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
