/*
 * manifest.c - writes and verifies MANIFEST.sha256 (manifest.h).
 *
 * Receives a report directory and the paths of the inputs the report was
 * made from; hands on a sha256sum-format file, or a line per file saying
 * whether it still matches. Owns the list of names it collects while it
 * runs and frees it before returning. Workload: a report directory holds a
 * few files plus one evidence capture per finding, so names are gathered
 * in memory, sorted, and capped at MANIFEST_MAX_FILES.
 *
 * A manifest may come from anyone (a report handed over for checking), so
 * verify reads nothing its lines name outside OUTDIR except the "input:"
 * lines, which name the audited inputs by design: an output name that is
 * absolute, holds "..", is not a regular file or resolves (through a
 * symbolic link) outside OUTDIR is reported as REFUSED and not opened.
 */
#include "flowaudit/manifest.h"

#include "flowaudit/hash.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define INPUT_PREFIX "input:"
#define MAX_DEPTH 32
#define MAX_LINE 8192

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int names_push(struct names *l, const char *a, const char *b, struct fa_err *err)
{
	if (l->n >= MANIFEST_MAX_FILES) {
		fa_err_set(err, "%s: more than %d files; the manifest keeps at most that many",
			   MANIFEST_NAME, MANIFEST_MAX_FILES);
		return FA_EINPUT;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			goto oom;
		l->v = v;
		l->cap = cap;
	}
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	char *s = malloc(la + lb + 1);
	if (s == NULL)
		goto oom;
	memcpy(s, a, la);
	if (b)
		memcpy(s + la, b, lb);
	s[la + lb] = '\0';
	l->v[l->n++] = s;
	return FA_OK;
oom:
	fa_err_set(err, "%s: out of memory", MANIFEST_NAME);
	return FA_ERUNTIME;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Outputs whose name would read as an input line get a "./" in front. */
static void output_name(const char *rel, char *buf, size_t len)
{
	bool clash = strncmp(rel, INPUT_PREFIX, strlen(INPUT_PREFIX)) == 0;
	snprintf(buf, len, "%s%s", clash ? "./" : "", rel);
}

/* Collects the regular files under root/rel into l, names relative to root. */
static int walk(const char *root, const char *rel, int depth, struct names *l, struct fa_err *err)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s%s", root, rel[0] ? "/" : "", rel) >= sizeof(dir)) {
		fa_err_set(err, "%s/%s: path too long", root, rel);
		return FA_ERUNTIME;
	}
	if (depth > MAX_DEPTH) {
		fa_err_set(err, "%s: directories nested deeper than %d", dir, MAX_DEPTH);
		return FA_ERUNTIME;
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		fa_err_set(err, "%s: cannot read directory: %s", dir, strerror(errno));
		return FA_ERUNTIME;
	}
	int rc = FA_OK;
	struct dirent *e;
	while (rc == FA_OK && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (rel[0] == '\0' && (strcmp(e->d_name, MANIFEST_NAME) == 0 ||
				       strcmp(e->d_name, MANIFEST_NAME ".tmp") == 0))
			continue;
		char sub[PATH_MAX], full[PATH_MAX];
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
			    sizeof(sub) ||
		    (size_t)snprintf(full, sizeof(full), "%s/%s", root, sub) >= sizeof(full)) {
			fa_err_set(err, "%s/%s: path too long", dir, e->d_name);
			rc = FA_ERUNTIME;
			break;
		}
		struct stat sb;
		if (lstat(full, &sb) != 0) {
			fa_err_set(err, "%s: %s", full, strerror(errno));
			rc = FA_ERUNTIME;
		} else if (S_ISDIR(sb.st_mode)) {
			rc = walk(root, sub, depth + 1, l, err);
		} else if (S_ISREG(sb.st_mode)) {
			rc = names_push(l, sub, NULL, err);
		}
	}
	closedir(d);
	return rc;
}

int manifest_set_digest(const char *dir, const char *suffix, char out[65], struct fa_err *err)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		fa_err_set(err, "%s: cannot list: %s", dir, strerror(errno));
		return FA_EINPUT;
	}
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	size_t sl = strlen(suffix);
	int rc = FA_OK;
	for (int i = 0; i < n; i++) {
		const char *nm = list[i]->d_name;
		size_t l = strlen(nm);
		if (rc == FA_OK && nm[0] != '.' && l > sl && strcmp(nm + l - sl, suffix) == 0) {
			char path[PATH_MAX], hex[65], line[PATH_MAX + 80];
			snprintf(path, sizeof(path), "%s/%s", dir, nm);
			rc = sha256_file(path, hex, err);
			int len = snprintf(line, sizeof(line), "%s  %s\n", hex, nm);
			sha256_update(&ctx, line, (size_t)len);
		}
		free(list[i]);
	}
	free(list);
	uint8_t d[SHA256_DIGEST_LEN];
	sha256_final(&ctx, d);
	hash_hex(d, sizeof(d), out);
	return rc;
}

/* A set name, DIR + "/" + "*" + SUFFIX: *dir_len and *suffix say where the parts are. */
static bool set_name(const char *path, size_t *dir_len, const char **suffix)
{
	const char *star = strstr(path, "/*");
	if (star == NULL || strchr(star + 2, '/') != NULL)
		return false;
	*dir_len = (size_t)(star - path);
	*suffix = star + 2;
	return true;
}

/* sha256_file, or manifest_set_digest for a set name. */
static int digest_of(const char *path, char hex[65], struct fa_err *err)
{
	size_t dl;
	const char *suffix;
	if (!set_name(path, &dl, &suffix))
		return sha256_file(path, hex, err);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.*s", (int)dl, path);
	return manifest_set_digest(dir, suffix, hex, err);
}

/* The digest the caller already has for input `path`, or NULL. */
static const char *known_digest(const char *path, const char *const *paths,
				const char *const *digests, size_t n)
{
	for (size_t i = 0; digests != NULL && i < n; i++)
		if (paths[i] != NULL && digests[i] != NULL && digests[i][0] != '\0' &&
		    strcmp(paths[i], path) == 0)
			return digests[i];
	return NULL;
}

/* The file a manifest line names: an input's path, or OUTDIR/name. */
static void line_path(const char *outdir, const char *name, char *path, size_t len)
{
	if (strncmp(name, INPUT_PREFIX, strlen(INPUT_PREFIX)) == 0)
		snprintf(path, len, "%s", name + strlen(INPUT_PREFIX));
	else
		snprintf(path, len, "%s/%s", outdir, strncmp(name, "./", 2) == 0 ? name + 2 : name);
}

/*
 * The digests of a manifest's lines, shared by the threads that compute
 * them. same[i] is the line whose digest line i takes as it is (the same
 * name twice, or another name of the same file: evidence of findings with
 * the same packets is hard-linked), or SIZE_MAX; each file is read once.
 */
struct digest_work {
	const char *outdir;
	char *const *lines;
	size_t n;
	const char *const *input_paths, *const *input_sha256;
	size_t n_inputs;
	char (*hex)[65];
	size_t *same;
	atomic_size_t next;
	atomic_bool stop;
};

/* What one thread did: where it failed first, if it did. */
struct digest_thread {
	struct digest_work *w;
	size_t failed_at; /* SIZE_MAX: nowhere */
	int rc;
	struct fa_err err;
};

static void *digest_main(void *arg)
{
	struct digest_thread *t = arg;
	struct digest_work *w = t->w;
	t->failed_at = SIZE_MAX;
	t->rc = FA_OK;
	/* lines are taken in order, so every line before the first failure is done */
	while (!atomic_load(&w->stop)) {
		size_t i = atomic_fetch_add(&w->next, 1);
		if (i >= w->n)
			break;
		if (w->same[i] != SIZE_MAX)
			continue;
		const char *name = w->lines[i];
		char path[PATH_MAX];
		line_path(w->outdir, name, path, sizeof(path));
		int rc;
		if (strncmp(name, INPUT_PREFIX, strlen(INPUT_PREFIX)) == 0) {
			const char *known = known_digest(path, w->input_paths, w->input_sha256,
							 w->n_inputs);
			if (known != NULL) {
				snprintf(w->hex[i], sizeof(w->hex[i]), "%s", known);
				rc = FA_OK;
			} else {
				rc = digest_of(path, w->hex[i], &t->err);
			}
		} else {
			rc = sha256_file(path, w->hex[i], &t->err);
		}
		if (rc != FA_OK) {
			t->failed_at = i;
			t->rc = rc;
			atomic_store(&w->stop, true);
		}
	}
	return NULL;
}

struct inode_line {
	dev_t dev;
	ino_t ino;
	size_t line;
};

static int inode_cmp(const void *a, const void *b)
{
	const struct inode_line *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* w->same for sorted lines: repeated names, and output names of one inode. */
static int find_same(struct digest_work *w, struct fa_err *err)
{
	struct inode_line *v = malloc((w->n ? w->n : 1) * sizeof(*v));
	if (v == NULL) {
		fa_err_set(err, "out of memory writing %s", MANIFEST_NAME);
		return FA_ERUNTIME;
	}
	size_t nv = 0;
	for (size_t i = 0; i < w->n; i++) {
		w->same[i] = i > 0 && strcmp(w->lines[i], w->lines[i - 1]) == 0
				     ? (w->same[i - 1] != SIZE_MAX ? w->same[i - 1] : i - 1)
				     : SIZE_MAX;
		struct stat sb;
		char path[PATH_MAX];
		if (w->same[i] != SIZE_MAX || strncmp(w->lines[i], INPUT_PREFIX, strlen(INPUT_PREFIX)) == 0)
			continue;
		line_path(w->outdir, w->lines[i], path, sizeof(path));
		if (stat(path, &sb) == 0 && sb.st_nlink > 1)
			v[nv++] = (struct inode_line){sb.st_dev, sb.st_ino, i};
	}
	qsort(v, nv, sizeof(*v), inode_cmp);
	for (size_t k = 1; k < nv; k++)
		if (v[k].dev == v[k - 1].dev && v[k].ino == v[k - 1].ino)
			w->same[v[k].line] = w->same[v[k - 1].line] != SIZE_MAX ? w->same[v[k - 1].line]
										  : v[k - 1].line;
	free(v);
	return FA_OK;
}

/* Every line's digest, in `threads` threads (at least the caller's). */
static int digest_lines(struct digest_work *w, unsigned threads, struct fa_err *err)
{
	int rc = find_same(w, err);
	if (rc != FA_OK)
		return rc;
	if (threads < 1)
		threads = 1;
	if (threads > MANIFEST_MAX_THREADS)
		threads = MANIFEST_MAX_THREADS;
	struct digest_thread t[MANIFEST_MAX_THREADS];
	pthread_t tid[MANIFEST_MAX_THREADS];
	bool started[MANIFEST_MAX_THREADS] = {false};
	t[0] = (struct digest_thread){.w = w};
	for (unsigned k = 1; k < threads; k++) {
		t[k] = (struct digest_thread){.w = w};
		started[k] = pthread_create(&tid[k], NULL, digest_main, &t[k]) == 0;
	}
	digest_main(&t[0]);
	size_t first = SIZE_MAX;
	for (unsigned k = 0; k < threads; k++) {
		if (k > 0 && !started[k])
			continue;
		if (k > 0)
			pthread_join(tid[k], NULL);
		if (t[k].failed_at < first) {
			first = t[k].failed_at;
			rc = t[k].rc;
			*err = t[k].err;
		}
	}
	return rc;
}

int manifest_write(const char *outdir, const char *const *input_paths,
		   const char *const *input_sha256, size_t n_inputs, unsigned threads,
		   struct fa_err *err)
{
	struct names outs = {0};
	int rc = walk(outdir, "", 0, &outs, err);
	/* Each entry is "name\0path": the name written and the file hashed. */
	struct names lines = {0};
	for (size_t i = 0; rc == FA_OK && i < outs.n; i++) {
		char name[PATH_MAX + 4];
		output_name(outs.v[i], name, sizeof(name));
		rc = names_push(&lines, name, NULL, err);
	}
	for (size_t i = 0; rc == FA_OK && i < n_inputs; i++) {
		if (input_paths[i] == NULL || input_paths[i][0] == '\0')
			continue;
		rc = names_push(&lines, INPUT_PREFIX, input_paths[i], err);
	}
	for (size_t i = 0; rc == FA_OK && i < lines.n; i++) {
		if (strpbrk(lines.v[i], "\n\r") != NULL) {
			fa_err_set(err, "%s: the name \"%s\" holds a line break; rename it", MANIFEST_NAME,
				   lines.v[i]);
			rc = FA_EINPUT;
		}
	}
	names_free(&outs);
	if (rc != FA_OK) {
		names_free(&lines);
		return rc;
	}
	if (lines.n)
		qsort(lines.v, lines.n, sizeof(*lines.v), str_cmp);

	struct digest_work w = {.outdir = outdir,
				.lines = lines.v,
				.n = lines.n,
				.input_paths = input_paths,
				.input_sha256 = input_sha256,
				.n_inputs = n_inputs};
	w.hex = calloc(lines.n ? lines.n : 1, sizeof(*w.hex));
	w.same = calloc(lines.n ? lines.n : 1, sizeof(*w.same));
	if (w.hex == NULL || w.same == NULL) {
		fa_err_set(err, "out of memory writing %s", MANIFEST_NAME);
		rc = FA_ERUNTIME;
	} else {
		rc = digest_lines(&w, threads, err);
	}

	char tmp[PATH_MAX], final[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", outdir, MANIFEST_NAME);
	snprintf(final, sizeof(final), "%s/%s", outdir, MANIFEST_NAME);
	FILE *fp = rc == FA_OK ? fopen(tmp, "w") : NULL;
	if (rc == FA_OK && fp == NULL) {
		fa_err_set(err, "%s: cannot write: %s", tmp, strerror(errno));
		rc = FA_ERUNTIME;
	}
	for (size_t i = 0; fp != NULL && rc == FA_OK && i < lines.n; i++) {
		if (i > 0 && strcmp(lines.v[i], lines.v[i - 1]) == 0)
			continue; /* the same input given twice */
		const char *hex = w.same[i] != SIZE_MAX ? w.hex[w.same[i]] : w.hex[i];
		if (fprintf(fp, "%s  %s\n", hex, lines.v[i]) < 0) {
			fa_err_set(err, "%s: write failed: %s", tmp, strerror(errno));
			rc = FA_ERUNTIME;
		}
	}
	free(w.hex);
	free(w.same);
	names_free(&lines);
	if (fp == NULL)
		return rc;
	if (fclose(fp) != 0 && rc == FA_OK) {
		fa_err_set(err, "%s: write failed: %s", tmp, strerror(errno));
		rc = FA_ERUNTIME;
	}
	if (rc == FA_OK && rename(tmp, final) != 0) {
		fa_err_set(err, "%s: cannot rename into place: %s", final, strerror(errno));
		rc = FA_ERUNTIME;
	}
	if (rc != FA_OK)
		remove(tmp);
	return rc;
}

/* Why an output name may not be opened, or NULL when it may. */
static const char *unsafe_name(const char *name)
{
	if (name[0] == '/')
		return "absolute path";
	for (const char *p = name; *p;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "\"..\" escapes OUTDIR";
		if (n == 0)
			return "empty path component";
		p += n + (end != NULL);
	}
	return NULL;
}

/* Parses "<hex>  name" or "<hex> *name"; false when the line is not one. */
static bool parse_line(char *line, char **hex, char **name)
{
	size_t len = strlen(line);
	if (len && line[len - 1] == '\n')
		line[--len] = '\0';
	if (len < 67)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f') ||
		      (line[i] >= 'A' && line[i] <= 'F')))
			return false;
	if (line[64] != ' ' || (line[65] != ' ' && line[65] != '*'))
		return false;
	line[64] = '\0';
	*hex = line;
	*name = line + 66;
	return true;
}

/* Checks one line; writes its verdict; true when it is OK. */
static bool check_line(const char *root, const char *hex, const char *name, FILE *to)
{
	struct fa_err herr = {{0}};
	char path[PATH_MAX], got[65];
	bool input = strncmp(name, INPUT_PREFIX, strlen(INPUT_PREFIX)) == 0;
	if (input) {
		snprintf(path, sizeof(path), "%s", name + strlen(INPUT_PREFIX));
		struct stat sb;
		size_t dl;
		const char *suffix;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", path);
		if (set_name(path, &dl, &suffix))
			dir[dl] = '\0';
		if (stat(dir, &sb) != 0 && errno == ENOENT) {
			fprintf(to, "MISSING %s\n", name);
			return false;
		}
	} else {
		const char *why = unsafe_name(name);
		if (why != NULL) {
			fprintf(to, "REFUSED %s: %s; not read\n", name, why);
			return false;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, name) >= sizeof(path)) {
			fprintf(to, "REFUSED %s: path too long\n", name);
			return false;
		}
		struct stat sb;
		if (lstat(path, &sb) != 0) {
			fprintf(to, "%s %s\n", errno == ENOENT ? "MISSING" : "UNREADABLE", name);
			return false;
		}
		char real[PATH_MAX];
		size_t rl = strlen(root);
		if (!S_ISREG(sb.st_mode)) {
			fprintf(to, "REFUSED %s: not a regular file; not read\n", name);
			return false;
		}
		if (realpath(path, real) == NULL || strncmp(real, root, rl) != 0 || real[rl] != '/') {
			fprintf(to, "REFUSED %s: resolves outside OUTDIR; not read\n", name);
			return false;
		}
	}
	if ((input ? digest_of(path, got, &herr) : sha256_file(path, got, &herr)) != FA_OK) {
		fprintf(to, "UNREADABLE %s: %s\n", name, herr.msg);
		return false;
	}
	bool ok = strncasecmp(got, hex, 64) == 0;
	fprintf(to, "%s %s\n", ok ? "OK" : "CHANGED", name);
	return ok;
}

int manifest_verify(const char *outdir, FILE *report_to, size_t *n_mismatch, struct fa_err *err)
{
	*n_mismatch = 0;
	char root[PATH_MAX], mpath[PATH_MAX];
	if (realpath(outdir, root) == NULL) {
		fa_err_set(err, "%s: %s", outdir, strerror(errno));
		return FA_EINPUT;
	}
	snprintf(mpath, sizeof(mpath), "%s/%s", outdir, MANIFEST_NAME);
	FILE *fp = fopen(mpath, "r");
	if (fp == NULL) {
		fa_err_set(err, "%s: no manifest: %s", mpath, strerror(errno));
		return FA_EINPUT;
	}
	struct names listed = {0};
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t got;
	int rc = FA_OK;
	while (rc == FA_OK && (got = getline(&line, &cap, fp)) != -1) {
		lineno++;
		char *hex, *name;
		if (got > MAX_LINE || (size_t)got != strlen(line) || !parse_line(line, &hex, &name)) {
			fa_err_set(err, "%s: line %zu is not \"<64 hex digits>  <name>\"", mpath, lineno);
			rc = FA_EINPUT;
			break;
		}
		if (!check_line(root, hex, name, report_to))
			(*n_mismatch)++;
		if (strncmp(name, INPUT_PREFIX, strlen(INPUT_PREFIX)) != 0)
			rc = names_push(&listed, strncmp(name, "./", 2) == 0 ? name + 2 : name, NULL, err);
	}
	free(line);
	if (rc == FA_OK && ferror(fp)) {
		fa_err_set(err, "%s: read error: %s", mpath, strerror(errno));
		rc = FA_ERUNTIME;
	}
	fclose(fp);
	struct names present = {0};
	if (rc == FA_OK)
		rc = walk(outdir, "", 0, &present, err);
	if (rc == FA_OK) {
		if (listed.n)
			qsort(listed.v, listed.n, sizeof(*listed.v), str_cmp);
		if (present.n)
			qsort(present.v, present.n, sizeof(*present.v), str_cmp);
		for (size_t i = 0; i < present.n; i++) {
			if (listed.n && bsearch(&present.v[i], listed.v, listed.n, sizeof(*listed.v), str_cmp))
				continue;
			fprintf(report_to, "UNLISTED %s\n", present.v[i]);
			(*n_mismatch)++;
		}
	}
	names_free(&listed);
	names_free(&present);
	return rc;
}
