/*
 * evidence: a generated capture of two flows, read back through
 * evidence_write(): each set's frame numbers exactly (gaps that take one,
 * two and three bytes to encode), the packets in each pcap, and two sets of
 * the same flow sharing one file and one frame list. And a set given TLS
 * key log lines: a pcapng whose Decryption Secrets Block holds exactly
 * them, which tshark decrypts with no key log of its own. And the pack:
 * every frame once with its sets' names as a comment, split in parts, and
 * each set cut back out byte for byte as its own file, keys included; and
 * the same pack written beside a replay.
 */
#include "flowaudit/decode.h"
#include "flowaudit/evidence.h"
#include "flowaudit/hash.h"
#include "flowaudit/pcapng.h"

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

/* Each set's first file removed, and the set cleared. */
static void remove_sets(const char *dir, struct evidence_set *sets, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		char p[4300];
		snprintf(p, sizeof(p), "%s/%s", dir, sets[k].paths[0]);
		unlink(p);
		evidence_set_clear(&sets[k]);
	}
}

/* dir/name, made, into out. */
static void subdir(const char *dir, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", dir, name);
	assert_int_equal(mkdir(out, 0755), 0);
}

/* dir (a mkdtemp template) made, and the capture written in it as cap. */
static void make_capture(char *dir, char *cap, size_t cap_len)
{
	assert_non_null(mkdtemp(dir));
	snprintf(cap, cap_len, "%s/in.pcap", dir);
	write_capture(cap);
}

/* Flow A (1) and flow B (2) of the generated capture. */
static void two_flows(struct evidence_flow f[2])
{
	f[0] = flow(1, IPPROTO_TCP, 40000, 443, 1, 20207);
	f[1] = flow(2, IPPROTO_UDP, 5353, 53, 2, N_FRAMES);
}

static void test_frames_and_twins(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa-evidence-XXXXXX", cap[4200];
	make_capture(dir, cap, sizeof(cap));
	const char *caps[] = {cap};
	struct evidence_flow flows[2];
	two_flows(flows);
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

	remove_sets(dir, sets, 3);
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

#define TLS_FIX "tests/fixtures/tls/"

/* The output of a command, NUL-terminated (NULL when it cannot run). */
static char *command_output(const char *cmd, size_t *len)
{
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	size_t got;
	while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
		n += got;
		if (cap - n < 2) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
	}
	out[n] = '\0';
	pclose(p);
	*len = n;
	return out;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* ---- the pack ---- */

/* The blocks of a pack part, walked by their lengths: the packets' comments
   (the first of each, "" for none) in order into comments[], and whether
   a second comment (the keys') came with any. Returns the packet count. */
static size_t pack_walk(const char *path, char (*comments)[64], size_t max, size_t *dsbs,
			size_t *keyed)
{
	size_t len, np = 0;
	uint8_t *b = (uint8_t *)slurp(path, &len);
	*dsbs = 0;
	*keyed = 0;
	for (size_t at = 0; at + 12 <= len;) {
		uint32_t type = le32(b + at), blen = le32(b + at + 4);
		assert_true(blen >= 12 && blen % 4 == 0 && at + blen <= len);
		assert_int_equal(le32(b + at + blen - 4), blen);
		if (type == PCAPNG_DSB)
			(*dsbs)++;
		if (type == 6) {
			uint32_t caplen = le32(b + at + 20);
			size_t o = at + 28 + ((caplen + 3) & ~3u), end = at + blen - 4, nc = 0;
			assert_true(np < max);
			comments[np][0] = '\0';
			while (o + 4 <= end) {
				uint16_t code = (uint16_t)(b[o] | b[o + 1] << 8);
				uint16_t ol = (uint16_t)(b[o + 2] | b[o + 3] << 8);
				if (code == 0)
					break;
				if (code == 1 && nc++ == 0)
					snprintf(comments[np], 64, "%.*s", (int)ol, (const char *)b + o + 4);
				else if (code == 1)
					(*keyed)++;
				o += 4 + ((ol + 3u) & ~3u);
			}
			np++;
		}
		at += blen;
	}
	free(b);
	return np;
}

/* Files a and b hold the same bytes. */
static void assert_same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(x, y, la);
	free(x);
	free(y);
}

/* F0001 and F0003: flow A; F0002: flow B; F0004: both. */
static void four_sets(struct evidence_set sets[4])
{
	static const uint64_t only_a[] = {1}, only_b[] = {2}, both[] = {1, 2};
	memset(sets, 0, 4 * sizeof(*sets));
	sets[0] = (struct evidence_set){.name = "F0001", .flow_ids = only_a, .n_flow_ids = 1};
	sets[1] = (struct evidence_set){.name = "F0002", .flow_ids = only_b, .n_flow_ids = 1};
	sets[2] = (struct evidence_set){.name = "F0003", .flow_ids = only_a, .n_flow_ids = 1};
	sets[3] = (struct evidence_set){.name = "F0004", .flow_ids = both, .n_flow_ids = 2};
}

/*
 * Four sets over two flows written as a pack split in parts: every frame
 * once, each with the names of exactly its sets as its comment, each set's
 * frame numbers in the pack; then each set cut back out, the same bytes as
 * the file evidence_write gives it. An id no packet names, a name that is
 * not an id, and a part cut short are refused.
 */
static void test_pack_and_cut(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa-evidence-XXXXXX", cap[4200];
	make_capture(dir, cap, sizeof(cap));
	const char *caps[] = {cap};
	struct evidence_flow flows[2];
	two_flows(flows);
	struct evidence_set sets[4];
	four_sets(sets);
	char pdir[4300], fdir[4300];
	subdir(dir, "pack", pdir, sizeof(pdir));
	subdir(dir, "files", fdir, sizeof(fdir));
	struct fa_err err = {""};
	struct flow_list fl = {flows, 2, 0, false};
	struct evidence_pack pk = {.part_bytes = 400000};
	assert_int_equal(evidence_write_pack(caps, 1, list_flow, &fl, sets, 4, pdir, &pk, &err),
			 FA_OK);
	assert_false(fl.out_of_order);
	assert_true(pk.n_paths >= 3); /* 20,210 packets of about 100 bytes each */
	assert_int_equal(pk.packets, N_FRAMES);
	assert_string_equal(pk.paths[0], "findings.pcapng");
	assert_string_equal(pk.paths[1], "findings-2.pcapng");
	for (size_t k = 0; k < pk.n_paths; k++) { /* each part hashed as it was written */
		char p[4400], hex[65];
		snprintf(p, sizeof(p), "%s/%s", pdir, pk.paths[k]);
		assert_int_equal(sha256_file(p, hex, &err), FA_OK);
		assert_string_equal(pk.sha256[k], hex);
	}

	/* every frame once, in order, commented with exactly its sets */
	static char comments[N_FRAMES][64];
	size_t total = 0, dsbs, keyed;
	for (size_t k = 0; k < pk.n_paths; k++) {
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", pdir, pk.paths[k]);
		total += pack_walk(p, comments + total, N_FRAMES - total, &dsbs, &keyed);
		assert_int_equal(dsbs, 0);
		assert_int_equal(keyed, 0);
	}
	assert_int_equal(total, N_FRAMES);
	for (uint64_t n = 1; n <= N_FRAMES; n++)
		assert_string_equal(comments[n - 1], is_a(n) ? "flowaudit: F0001 F0003 F0004"
							   : "flowaudit: F0002 F0004");
	/* each set's place in the pack: as many frames as it has, ascending over the parts */
	for (int s = 0; s < 4; s++) {
		uint64_t n = 0, last_part = 0;
		for (size_t k = 0; k < sets[s].n_pack_frames; k++) {
			assert_true(sets[s].pack_frames[k].file >= last_part);
			last_part = sets[s].pack_frames[k].file;
			n += sets[s].pack_frames[k].n;
		}
		assert_int_equal(n, sets[s].packets);
	}
	assert_int_equal(sets[0].packets, 4);
	assert_int_equal(sets[3].packets, N_FRAMES);
	/* F0001's frames 1, 202, 20203, 20207 are pack frames 1, 202 (part 1) ... */
	size_t pos = 0;
	uint64_t prev = 0, fr;
	assert_true(evidence_frames_next(&sets[0].pack_frames[0], &pos, &prev, &fr));
	assert_int_equal(sets[0].pack_frames[0].file, 0);
	assert_int_equal(fr, 1);
	assert_true(evidence_frames_next(&sets[0].pack_frames[0], &pos, &prev, &fr));
	assert_int_equal(fr, 202);

	/* cut back out: the bytes of each set's own file */
	struct evidence_set own[4];
	memcpy(own, sets, sizeof(own));
	for (int s = 0; s < 4; s++) {
		own[s].per_file = NULL;
		own[s].n_per_file = 0;
		own[s].pack = NULL;
		own[s].pack_frames = NULL;
		own[s].n_pack_frames = 0;
		own[s].packets = 0;
		own[s].n_paths = 0;
	}
	struct flow_list fl2 = {flows, 2, 0, false};
	assert_int_equal(evidence_write(caps, 1, list_flow, &fl2, own, 4, fdir, &err), FA_OK);
	char paths[4][4200];
	size_t np;
	for (int s = 0; s < 4; s++) {
		char out[4400], want[4400];
		snprintf(out, sizeof(out), "%s/cut-%s.pcap", dir, sets[s].name);
		snprintf(want, sizeof(want), "%s/%s", fdir, own[s].paths[0]);
		assert_int_equal(evidence_cut(pdir, sets[s].name, out, paths, &np, &err), FA_OK);
		assert_int_equal(np, 1);
		assert_string_equal(paths[0], out);
		assert_same_file(out, want);
		unlink(out);
		/* and from the per-finding directory: the file copied */
		assert_int_equal(evidence_cut(fdir, sets[s].name, out, paths, &np, &err), FA_OK);
		assert_same_file(out, want);
		unlink(out);
	}
	char out[4400];
	snprintf(out, sizeof(out), "%s/cut.pcap", dir);
	assert_int_equal(evidence_cut(pdir, "F0099", out, paths, &np, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "F0099"));
	assert_int_equal(evidence_cut(pdir, "../files/F0001", out, paths, &np, &err), FA_EINPUT);
	/* a part cut short in its last block: refused, naming the file and offset */
	char last[4400];
	snprintf(last, sizeof(last), "%s/%s", pdir, pk.paths[pk.n_paths - 1]);
	struct stat sb;
	assert_int_equal(stat(last, &sb), 0);
	assert_int_equal(truncate(last, sb.st_size - 6), 0);
	assert_int_equal(evidence_cut(pdir, "F0002", out, paths, &np, &err), FA_EINPUT);
	assert_non_null(strstr(err.msg, "offset"));
	unlink(out);

	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	for (int s = 0; s < 4; s++) {
		evidence_set_clear(&sets[s]);
		evidence_set_clear(&own[s]);
	}
	evidence_pack_clear(&pk);
}

/*
 * A recorded TLS 1.3 connection (curl against openssl s_server) and its key
 * log: set F0001 given the key log is F0001.pcapng, whose blocks are the
 * section header, an interface with nanosecond stamps, a DSB of exactly
 * that text, and every packet of the capture with its own time stamp; F0002,
 * the same flow without keys, is a plain pcap (not a twin of F0001); F0003,
 * the same flow and keys, a copy of F0001 under its own name. tshark
 * follows the TLS stream of F0001.pcapng with no key log of its own and
 * reads exactly what it reads in the capture given the key log file (the
 * fixture's .tls.0.txt.gz); in F0002.pcap it reads nothing.
 */
static void test_dsb_pcapng(void **state)
{
	(void)state;
	const char *cap = TLS_FIX "t13-aes128gcm.pcap";
	size_t keys_len;
	char *keys = slurp(TLS_FIX "t13-aes128gcm.keys", &keys_len);
	assert_true(keys_len > 0);

	/* the connection's 5-tuple from its first packet, its frames all */
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *in = pcap_open_offline_with_tstamp_precision(cap, PCAP_TSTAMP_PRECISION_NANO, eb);
	assert_non_null(in);
	struct pcap_pkthdr *h;
	const u_char *data;
	struct evidence_flow f = {.flow_id = 7, .frame_first = 1};
	uint64_t n = 0;
	struct pcap_pkthdr hdrs[64];
	while (pcap_next_ex(in, &h, &data) == 1) {
		if (n == 0) {
			struct decoded_pkt d;
			assert_int_equal(decode_frame(pcap_datalink(in), data, h->caplen, &d, NULL),
					 DECODE_OK);
			f.cli = d.src;
			f.srv = d.dst;
			f.cport = d.sport;
			f.sport = d.dport;
			f.proto = d.l4_proto;
		}
		assert_true(n < 64);
		hdrs[n++] = *h;
	}
	pcap_close(in);
	f.frame_last = n;

	char dir[] = "/tmp/fa-evidence-XXXXXX";
	assert_non_null(mkdtemp(dir));
	uint64_t ids[] = {7};
	struct evidence_set sets[3] = {
		{.name = "F0001", .flow_ids = ids, .n_flow_ids = 1, .tls_keys = keys,
		 .tls_keys_len = keys_len},
		{.name = "F0002", .flow_ids = ids, .n_flow_ids = 1},
		{.name = "F0003", .flow_ids = ids, .n_flow_ids = 1, .tls_keys = keys,
		 .tls_keys_len = keys_len},
	};
	const char *caps[] = {cap};
	struct flow_list fl = {&f, 1, 0, false};
	struct fa_err err = {""};
	assert_int_equal(evidence_write(caps, 1, list_flow, &fl, sets, 3, dir, &err), FA_OK);
	assert_string_equal(sets[0].paths[0], "F0001.pcapng");
	assert_string_equal(sets[1].paths[0], "F0002.pcap");
	assert_string_equal(sets[2].paths[0], "F0003.pcapng");
	for (int k = 0; k < 3; k++) {
		assert_int_equal(sets[k].n_paths, 1);
		assert_int_equal(sets[k].packets, n);
		uint64_t first, last;
		assert_int_equal(set_frames(&sets[k], &first, &last), n);
		assert_int_equal(first, 1);
		assert_int_equal(last, n);
	}

	/* the blocks of F0001.pcapng, walked by their lengths */
	char p1[4300], p2[4300], p3[4300];
	snprintf(p1, sizeof(p1), "%s/F0001.pcapng", dir);
	snprintf(p2, sizeof(p2), "%s/F0002.pcap", dir);
	snprintf(p3, sizeof(p3), "%s/F0003.pcapng", dir);
	size_t len, len3;
	uint8_t *b = (uint8_t *)slurp(p1, &len);
	char *b3 = slurp(p3, &len3);
	assert_int_equal(len, len3);
	assert_memory_equal(b, b3, len);
	free(b3);
	uint32_t types[80];
	size_t nb = 0, dsbs = 0;
	for (size_t at = 0; at + 12 <= len && nb < 80;) {
		uint32_t type = le32(b + at), blen = le32(b + at + 4);
		assert_true(blen >= 12 && blen % 4 == 0 && at + blen <= len);
		assert_int_equal(le32(b + at + blen - 4), blen);
		types[nb++] = type;
		if (type == PCAPNG_DSB) {
			dsbs++;
			assert_int_equal(le32(b + at + 8), 0x544c534b);
			assert_int_equal(le32(b + at + 12), keys_len);
			assert_memory_equal(b + at + 16, keys, keys_len);
		}
		at += blen;
	}
	assert_int_equal(nb, 3 + n);
	assert_int_equal(types[0], 0x0A0D0D0A);
	assert_int_equal(types[1], 1);
	assert_int_equal(types[2], PCAPNG_DSB);
	assert_int_equal(dsbs, 1);
	free(b);

	/* the packets and their time stamps, to the nanosecond */
	pcap_t *out = pcap_open_offline_with_tstamp_precision(p1, PCAP_TSTAMP_PRECISION_NANO, eb);
	assert_non_null(out);
	uint64_t m = 0;
	while (pcap_next_ex(out, &h, &data) == 1) {
		assert_true(m < n);
		assert_int_equal(h->ts.tv_sec, hdrs[m].ts.tv_sec);
		assert_int_equal(h->ts.tv_usec, hdrs[m].ts.tv_usec);
		assert_int_equal(h->caplen, hdrs[m].caplen);
		assert_int_equal(h->len, hdrs[m].len);
		m++;
	}
	assert_int_equal(m, n);
	pcap_close(out);

	if (system("command -v tshark >/dev/null 2>&1") != 0) {
		print_message("tshark not installed: the DSB's decryption not checked\n");
	} else {
		char cmd[5000];
		size_t got_len, want_len, none_len;
		snprintf(cmd, sizeof(cmd),
			 "tshark -r %s -o tls.keylog_file:/dev/null -q -z follow,tls,raw,0 2>/dev/null", p1);
		char *got = command_output(cmd, &got_len);
		char *want = command_output("zcat " TLS_FIX "t13-aes128gcm.tls.0.txt.gz", &want_len);
		snprintf(cmd, sizeof(cmd),
			 "tshark -r %s -o tls.keylog_file:/dev/null -q -z follow,tls,raw,0 2>/dev/null", p2);
		char *none = command_output(cmd, &none_len);
		assert_non_null(got);
		assert_non_null(want);
		assert_non_null(none);
		assert_true(want_len > 1000); /* the decrypted request and response */
		assert_string_equal(got, want);
		assert_null(strchr(none, '\t')); /* no data line: nothing decrypted */
		free(got);
		free(want);
		free(none);
	}

	/* the same flow in a pack with its keys: one secrets block, the keys'
	   comment on its first packet only, and F0001 cut out the same bytes
	   as its own file */
	char pdir[4300], cut[4300], paths[4][4200];
	subdir(dir, "pack", pdir, sizeof(pdir));
	snprintf(cut, sizeof(cut), "%s/cut.pcapng", dir);
	f.keys_off = 0;
	f.keys_len = keys_len;
	struct evidence_set ps[2] = {
		{.name = "F0001", .flow_ids = ids, .n_flow_ids = 1},
		{.name = "F0003", .flow_ids = ids, .n_flow_ids = 1},
	};
	struct evidence_pack pk = {.tls_keys = keys, .tls_keys_len = keys_len};
	struct flow_list pfl = {&f, 1, 0, false};
	assert_int_equal(evidence_write_pack(caps, 1, list_flow, &pfl, ps, 2, pdir, &pk, &err), FA_OK);
	assert_int_equal(pk.n_paths, 1);
	char pp[4400];
	snprintf(pp, sizeof(pp), "%s/%s", pdir, pk.paths[0]);
	char (*comments)[64] = calloc(64, sizeof(*comments));
	size_t pack_dsbs, keyed;
	assert_int_equal(pack_walk(pp, comments, 64, &pack_dsbs, &keyed), n);
	assert_int_equal(pack_dsbs, 1);
	assert_int_equal(keyed, 1);
	assert_string_equal(comments[0], "flowaudit: F0001 F0003");
	free(comments);
	size_t np;
	for (int k = 0; k < 2; k++) {
		assert_int_equal(evidence_cut(pdir, ps[k].name, cut, paths, &np, &err), FA_OK);
		assert_int_equal(np, 1);
		assert_same_file(cut, k == 0 ? p1 : p3);
	}
	unlink(cut);
	unlink(pp);
	rmdir(pdir);
	for (int k = 0; k < 2; k++)
		evidence_set_clear(&ps[k]);
	evidence_pack_clear(&pk);
	remove_sets(dir, sets, 3);
	rmdir(dir);
	free(keys);
}

/* Two frame lists hold the same files and numbers. */
static void assert_same_frames(const struct evidence_frames *a, size_t na,
			       const struct evidence_frames *b, size_t nb)
{
	assert_int_equal(na, nb);
	for (size_t k = 0; k < na; k++) {
		assert_int_equal(a[k].file, b[k].file);
		assert_int_equal(a[k].n, b[k].n);
		assert_int_equal(a[k].len, b[k].len);
		assert_memory_equal(a[k].enc, b[k].enc, a[k].len);
	}
}

/*
 * The pack written beside a replay: the flows given as they would be
 * audited (in id order, each before the position passes its first frame),
 * with positions in between; the same part, bytes and frame numbers as the
 * pack written after it from the same sets. A stream left unfinished
 * removes what it wrote.
 */
static void test_pack_beside_replay(void **state)
{
	(void)state;
	char dir[] = "/tmp/fa-evidence-XXXXXX", cap[4200];
	make_capture(dir, cap, sizeof(cap));
	const char *caps[] = {cap};
	struct evidence_flow flows[2];
	two_flows(flows);
	struct evidence_set after[5];
	four_sets(after);
	after[4] = (struct evidence_set){.name = "F0005"}; /* no flow */
	struct evidence_set beside[5];
	memcpy(beside, after, sizeof(beside));
	char adir[4300], bdir[4300], cdir[4300];
	subdir(dir, "after", adir, sizeof(adir));
	subdir(dir, "beside", bdir, sizeof(bdir));
	subdir(dir, "left", cdir, sizeof(cdir));
	struct fa_err err = {""};
	struct flow_list fl = {flows, 2, 0, false};
	struct evidence_pack pa = {0}, pb = {0};
	assert_int_equal(evidence_write_pack(caps, 1, list_flow, &fl, after, 5, adir, &pa, &err),
			 FA_OK);

	struct evidence_stream *es;
	assert_int_equal(evidence_stream_start(caps, 1, bdir, &es, &err), FA_OK);
	evidence_stream_horizon(es, 0, 1); /* nothing is final yet */
	size_t sa[] = {0, 2, 3}, sb[] = {1, 3};
	const char *na[] = {"F0001", "F0003", "F0004"}, *nb[] = {"F0002", "F0004"};
	assert_true(evidence_stream_flow(es, &flows[0], sa, na, 3));
	evidence_stream_horizon(es, 0, 2); /* frame 1 is final; B begins at 2 */
	assert_true(evidence_stream_flow(es, &flows[1], sb, nb, 2));
	evidence_stream_horizon(es, 0, 10000);
	evidence_stream_horizon(es, 0, 5000); /* never back */
	assert_int_equal(evidence_stream_finish(es, beside, 5, &pb, &err), FA_OK);
	evidence_stream_free(es);

	assert_int_equal(pb.n_paths, pa.n_paths);
	assert_int_equal(pb.packets, N_FRAMES);
	for (size_t k = 0; k < pa.n_paths; k++) {
		assert_string_equal(pb.paths[k], pa.paths[k]);
		assert_string_equal(pb.sha256[k], pa.sha256[k]);
		char x[4400], y[4400];
		snprintf(x, sizeof(x), "%s/%s", adir, pa.paths[k]);
		snprintf(y, sizeof(y), "%s/%s", bdir, pb.paths[k]);
		assert_same_file(x, y);
	}
	for (int s = 0; s < 5; s++) {
		assert_ptr_equal(beside[s].pack, &pb);
		assert_int_equal(beside[s].packets, after[s].packets);
		assert_same_frames(beside[s].per_file, beside[s].n_per_file, after[s].per_file,
				   after[s].n_per_file);
		assert_same_frames(beside[s].pack_frames, beside[s].n_pack_frames,
				   after[s].pack_frames, after[s].n_pack_frames);
	}
	assert_int_equal(beside[3].packets, N_FRAMES);
	assert_int_equal(beside[4].packets, 0);

	/* unfinished: the writer stopped, its part removed */
	assert_int_equal(evidence_stream_start(caps, 1, cdir, &es, &err), FA_OK);
	assert_true(evidence_stream_flow(es, &flows[0], sa, na, 3));
	evidence_stream_horizon(es, 0, 2);
	evidence_stream_free(es);
	char left[4400];
	snprintf(left, sizeof(left), "%s/findings.pcapng", cdir);
	assert_int_not_equal(access(left, F_OK), 0);

	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	for (int s = 0; s < 5; s++) {
		evidence_set_clear(&after[s]);
		evidence_set_clear(&beside[s]);
	}
	evidence_pack_clear(&pa);
	evidence_pack_clear(&pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_and_twins),
		cmocka_unit_test(test_dsb_pcapng),
		cmocka_unit_test(test_pack_and_cut),
		cmocka_unit_test(test_streamed_flows),
		cmocka_unit_test(test_pack_beside_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
