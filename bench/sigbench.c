/*
 * sigbench.c - how fast the signature catalogue answers.
 *
 *   sigbench DIR [LOOKUPS]
 *
 * Loads the catalogue in DIR, builds 1000 host names (subdomains of its
 * domains, three levels deep, mixed with as many names no entry covers) and
 * 1000 addresses (inside its networks and outside), then runs LOOKUPS
 * (default 1M) of each kind round-robin. Prints "sig lookups/s: N" for host
 * names and "sig addr lookups/s: N" for addresses. The name mix is fixed so
 * runs compare.
 */
#include "flowaudit/signatures.h"

#include "bench_rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_NAMES 1000

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: sigbench DIR [LOOKUPS]\n");
		return 2;
	}
	unsigned long lookups = argc == 3 ? strtoul(argv[2], NULL, 10) : 1000000UL;
	if (lookups == 0)
		lookups = 1000000UL;
	struct sig_db *db;
	struct fa_err err;
	double t0 = now();
	int rc = sig_db_load_dir(argv[1], &db, &err);
	if (rc != FA_OK) {
		fprintf(stderr, "sigbench: %s\n", err.msg);
		return 2;
	}
	double t_load = now() - t0;

	size_t nd = 0;
	for (size_t i = 0; i < sig_db_count(db); i++)
		nd += sig_db_entry(db, i)->n_domains;
	const char **doms = malloc((nd ? nd : 1) * sizeof(*doms));
	const struct sig_entry **net_e = malloc((sig_db_count(db) + 1) * sizeof(*net_e));
	char(*names)[SIG_MAX_HOST + 1] = malloc(N_NAMES * sizeof(*names));
	fa_addr *addrs = malloc(N_NAMES * sizeof(*addrs));
	if (doms == NULL || net_e == NULL || names == NULL || addrs == NULL) {
		fprintf(stderr, "sigbench: out of memory\n");
		return 3;
	}
	size_t k = 0, nnet = 0;
	for (size_t i = 0; i < sig_db_count(db); i++) {
		const struct sig_entry *e = sig_db_entry(db, i);
		for (size_t j = 0; j < e->n_domains; j++)
			doms[k++] = e->domains[j];
		if (e->n_networks > 0)
			net_e[nnet++] = e;
	}

	uint32_t seed = 2463534242u;
	for (size_t i = 0; i < N_NAMES; i++) {
		uint32_t r = next_rand(&seed);
		if (nd > 0 && i % 2 == 0)
			snprintf(names[i], sizeof(names[i]), "a%u.b%u.c%u.%s", r % 97, r % 89, r % 83,
				 doms[r % nd]);
		else
			snprintf(names[i], sizeof(names[i]), "host%u.cdn%u.unknown-%u.example", r % 997,
				 r % 13, (unsigned)i);
	}
	for (size_t i = 0; i < N_NAMES; i++) {
		uint32_t r = next_rand(&seed);
		fa_addr *a = &addrs[i];
		memset(a, 0, sizeof(*a));
		if (nnet > 0 && i % 2 == 0) {
			const struct sig_entry *e = net_e[r % nnet];
			const char *cidr = e->networks[r % e->n_networks];
			char text[64];
			snprintf(text, sizeof(text), "%s", cidr);
			char *slash = strchr(text, '/');
			if (slash != NULL)
				*slash = '\0';
			fa_addr_parse(text, a);
			/* vary the last byte; it may leave a narrow network, which is fine */
			a->b[a->v == 4 ? 3 : 15] ^= (uint8_t)(r >> 8);
		} else if (i % 4 == 1) {
			uint8_t b[4] = {(uint8_t)(r >> 24), (uint8_t)(r >> 16), (uint8_t)(r >> 8),
					(uint8_t)r};
			fa_addr_v4(a, b);
		} else {
			uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb9};
			memcpy(b + 12, &r, 4);
			fa_addr_v6(a, b);
		}
	}

	size_t hits = 0;
	t0 = now();
	for (unsigned long i = 0; i < lookups; i++)
		hits += sig_match_host(db, names[i % N_NAMES], NULL) != NULL;
	double t_host = now() - t0;
	size_t addr_hits = 0;
	t0 = now();
	for (unsigned long i = 0; i < lookups; i++)
		addr_hits += sig_match_addr(db, &addrs[i % N_NAMES], NULL, 0) != NULL;
	double t_addr = now() - t0;

	printf("sig lookups/s: %.0f\n", (double)lookups / (t_host > 0 ? t_host : 1e-9));
	printf("sig addr lookups/s: %.0f\n", (double)lookups / (t_addr > 0 ? t_addr : 1e-9));
	fprintf(stderr, "sigbench: %zu entries, %zu domains, %zu with networks, loaded in %.1f ms; "
		"%zu of %lu names and %zu of %lu addresses matched\n",
		sig_db_count(db), nd, nnet, t_load * 1e3, hits, lookups, addr_hits, lookups);
	free(doms);
	free(net_e);
	free(names);
	free(addrs);
	sig_db_free(db);
	return 0;
}
