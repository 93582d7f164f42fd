/*
 * importbench.c - how fast `sigs import` converts a large list, and how
 * fast lookups stay with an imported catalogue layered after our own.
 *
 *   importbench SHIPPED-DIR [RULES] [LOOKUPS]
 *
 * Writes a hosts list of RULES (default 100,000) rules in a fresh directory
 * under $TMPDIR (/tmp): four hosts per site, each site under one of five
 * top-level suffixes, in the three forms a hosts list uses ("0.0.0.0 host",
 * "||host^", a bare host). Times sig_import() on it, then loads SHIPPED-DIR
 * and the imported catalogue as two layers and runs LOOKUPS (default 2M)
 * host lookups round-robin over 3000 names: a third under the shipped
 * catalogue's domains, a third the list's hosts and names under them, a
 * third no layer covers (the slow case: every suffix is probed). Prints
 * "import N-rule hosts list s: T", "two-layer load s: T" and "two-layer
 * lookups/s: N", each also per CPU second of the process (on a shared
 * machine, what the code costs), the import's with the kernel's share (the
 * creation of one file per site, which a busy file system makes slow); the
 * goals are under 2 s and above 5,000,000 a second. Removes the
 * directory it made. The names are fixed so runs compare.
 */
#include "flowaudit/sig_import.h"
#include "flowaudit/signatures.h"

#include "bench_rand.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define N_NAMES 3000

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time, and the CPU time of this process: on a shared machine the
   second says what the code costs, the first what a user waits. */
static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* The kernel's share of this process's CPU time so far (file creation). */
static double sys_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static const char *const suffixes[] = {"com", "net", "org", "io", "co.uk"};

/* The host i of the generated list. */
static void list_host(unsigned long i, char *out, size_t len)
{
	static const char *const first[] = {"ads", "pixel", "sync", "t"};
	unsigned long site = i / 4;
	snprintf(out, len, "%s.adsite%lu.%s", first[i % 4], site, suffixes[site % 5]);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char p[4200];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: importbench SHIPPED-DIR [RULES] [LOOKUPS]\n");
		return 2;
	}
	unsigned long rules = argc >= 3 ? strtoul(argv[2], NULL, 10) : 100000UL;
	unsigned long lookups = argc >= 4 ? strtoul(argv[3], NULL, 10) : 2000000UL;
	if (rules < 4)
		rules = 100000UL;
	if (lookups == 0)
		lookups = 2000000UL;
	const char *tmp = getenv("TMPDIR");
	char top[1024], list[1100], out[1100];
	snprintf(top, sizeof(top), "%s/importbench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(top) == NULL) {
		perror("importbench: mkdtemp");
		return 3;
	}
	snprintf(list, sizeof(list), "%s/hosts.txt", top);
	snprintf(out, sizeof(out), "%s/catalogue", top);
	FILE *f = fopen(list, "w");
	if (f == NULL) {
		perror(list);
		return 3;
	}
	fprintf(f, "# Title: importbench list\n# Version: 1\n");
	for (unsigned long i = 0; i < rules; i++) {
		char h[128];
		list_host(i, h, sizeof(h));
		if (i % 3 == 0)
			fprintf(f, "0.0.0.0 %s\n", h);
		else if (i % 3 == 1)
			fprintf(f, "||%s^\n", h);
		else
			fprintf(f, "%s\n", h);
	}
	fclose(f);

	struct sig_import_opts o = {.format = SIG_IMPORT_HOSTS, .input = list, .outdir = out,
				    .url = "https://lists.example/importbench.txt",
				    .purposes = "advertising"};
	struct sig_import_result res;
	struct fa_err err = {{0}};
	double t0 = now(), c0 = cpu(), k0 = sys_s();
	int rc = sig_import(&o, &res, &err);
	double t_import = now() - t0, c_import = cpu() - c0, k_import = sys_s() - k0;
	sig_import_result_free(&res);
	if (rc != FA_OK) {
		fprintf(stderr, "importbench: %s\n", err.msg);
		remove_dir(out);
		unlink(list);
		rmdir(top);
		return 2;
	}

	char layers[2200];
	snprintf(layers, sizeof(layers), "%s:%s", argv[1], out);
	struct sig_db *db;
	t0 = now();
	c0 = cpu();
	rc = sig_db_load_path(layers, &db, &err);
	double t_load = now() - t0, c_load = cpu() - c0;
	remove_dir(out);
	unlink(list);
	rmdir(top);
	if (rc != FA_OK) {
		fprintf(stderr, "importbench: %s\n", err.msg);
		return 2;
	}

	/* the shipped layer's domains */
	size_t nd = 0;
	const struct sig_catalogue *own = sig_db_catalogue(db, 0);
	for (size_t i = 0; i < sig_db_count(db); i++)
		if (sig_db_entry(db, i)->catalogue == own)
			nd += sig_db_entry(db, i)->n_domains;
	const char **doms = malloc((nd ? nd : 1) * sizeof(*doms));
	char(*names)[SIG_MAX_HOST + 1] = malloc(N_NAMES * sizeof(*names));
	if (doms == NULL || names == NULL) {
		fprintf(stderr, "importbench: out of memory\n");
		return 3;
	}
	size_t k = 0;
	for (size_t i = 0; i < sig_db_count(db); i++) {
		const struct sig_entry *e = sig_db_entry(db, i);
		for (size_t j = 0; e->catalogue == own && j < e->n_domains; j++)
			doms[k++] = e->domains[j];
	}
	uint32_t seed = 2463534242u;
	for (size_t i = 0; i < N_NAMES; i++) {
		uint32_t r = next_rand(&seed);
		char h[128];
		if (i % 3 == 0 && nd > 0) {
			snprintf(names[i], sizeof(names[i]), "a%u.b%u.%s", r % 97, r % 89, doms[r % nd]);
		} else if (i % 3 == 1) {
			list_host(r % rules, h, sizeof(h));
			snprintf(names[i], sizeof(names[i]), "%s%s", r % 2 ? "cdn." : "", h);
		} else {
			snprintf(names[i], sizeof(names[i]), "host%u.edge%u.unknown-%u.example", r % 997,
				 r % 13, (unsigned)i);
		}
	}
	size_t hits[2] = {0, 0}, misses = 0;
	t0 = now();
	c0 = cpu();
	for (unsigned long i = 0; i < lookups; i++) {
		const struct sig_entry *e = sig_match_host(db, names[i % N_NAMES], NULL);
		if (e == NULL)
			misses++;
		else
			hits[e->catalogue->layer ? 1 : 0]++;
	}
	double t_host = now() - t0, c_host = cpu() - c0;

	printf("import %lu-rule hosts list s: %.2f (CPU %.2f, of which the kernel's %.2f)\n",
	       rules, t_import, c_import, k_import);
	printf("two-layer load s: %.2f (CPU %.2f)\n", t_load, c_load);
	printf("two-layer lookups/s: %.0f (per CPU second %.0f)\n",
	       (double)lookups / (t_host > 0 ? t_host : 1e-9),
	       (double)lookups / (c_host > 0 ? c_host : 1e-9));
	fprintf(stderr, "importbench: %zu entries in 2 layers; %zu names matched the first, %zu "
		"the second, %zu neither (goals: import < 2 s, > 5,000,000 lookups/s)\n",
		sig_db_count(db), hits[0], hits[1], misses);
	free(doms);
	free(names);
	sig_db_free(db);
	return 0;
}
