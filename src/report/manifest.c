/*
 * manifest.c - writes and verifies MANIFEST.sha256 (manifest.h).
 *
 * Receives a report directory and the paths of the inputs the report was
 * made from; hands on a sha256sum-format file, or a line per file saying
 * whether it still matches. Owns the list of names it collects while it
 * runs and frees it before returning. Workload: a report directory holds a
 * few files plus one evidence capture per finding (up to the few dozen
 * findings that get one; above, one evidence pack of a few parts), so
 * names are gathered in memory, sorted, and capped at MANIFEST_MAX_FILES.
 *
 * A manifest may come from anyone (a report handed over for checking), so
 * verify reads nothing its lines name outside OUTDIR except the "input:"
 * lines, which name the audited inputs by design: an output name that is
 * absolute, holds "..", is not a regular file or resolves (through a
 * symbolic link) outside OUTDIR is reported as REFUSED and not opened.
 * Verify also holds the directory to the manifest the other way round:
 * anything in OUTDIR the manifest does not list (a file, a symbolic link,
 * an empty directory) is UNLISTED, and every file report.json cites (each
 * finding's evidence) must be listed. The citations are found by a scan of
 * report.json through the cursor (a report of a long capture is hundreds
 * of MB: no tree is built), which takes the string values of every key
 * named "evidence" or "evidence_files" at any depth; report.json has no
 * other keys of those names.
 */
#include "flowaudit/manifest.h"

#include "flowaudit/cursor.h"
#include "flowaudit/hash.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/*
 * Collects the regular files under root/rel into l, names relative to root.
 * With odd (verify), everything else goes there as "name (what it is)":
 * symbolic links, devices, sockets, FIFOs and empty directories; and at the
 * top only MANIFEST.sha256 and its signature (MANIFEST.sha256.sig, which
 * signs the manifest and so cannot be listed in it) are left out, not a
 * leftover MANIFEST.sha256.tmp.
 */
static int walk(const char *root, const char *rel, int depth, struct names *l, struct names *odd,
		struct fa_err *err)
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
	size_t entries = 0;
	struct dirent *e;
	while (rc == FA_OK && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		entries++;
		if (rel[0] == '\0' && (strcmp(e->d_name, MANIFEST_NAME) == 0 ||
				       strcmp(e->d_name, MANIFEST_NAME ".sig") == 0 ||
				       (odd == NULL && strcmp(e->d_name, MANIFEST_NAME ".tmp") == 0)))
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
			rc = walk(root, sub, depth + 1, l, odd, err);
		} else if (S_ISREG(sb.st_mode)) {
			rc = names_push(l, sub, NULL, err);
		} else if (odd != NULL) {
			rc = names_push(odd, sub, S_ISLNK(sb.st_mode) ? " (symbolic link)"
						  : " (not a regular file)", err);
		}
	}
	closedir(d);
	if (rc == FA_OK && odd != NULL && entries == 0 && rel[0] != '\0')
		rc = names_push(odd, rel, "/ (empty directory)", err);
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
	const char *const *output_names, *const *output_sha256;
	size_t n_outputs;
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
		bool input = strncmp(name, INPUT_PREFIX, strlen(INPUT_PREFIX)) == 0;
		/* a digest the caller has: an input's by its path, an output's by its name */
		const char *known = input ? known_digest(path, w->input_paths, w->input_sha256,
							 w->n_inputs)
					  : known_digest(name, w->output_names, w->output_sha256,
							 w->n_outputs);
		int rc = FA_OK;
		if (known != NULL)
			snprintf(w->hex[i], sizeof(w->hex[i]), "%s", known);
		else if (input)
			rc = digest_of(path, w->hex[i], &t->err);
		else
			rc = sha256_file(path, w->hex[i], &t->err);
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
	return manifest_write_known(outdir, input_paths, input_sha256, n_inputs, NULL, NULL, 0,
				    threads, err);
}

int manifest_write_known(const char *outdir, const char *const *input_paths,
			 const char *const *input_sha256, size_t n_inputs,
			 const char *const *output_names, const char *const *output_sha256,
			 size_t n_outputs, unsigned threads, struct fa_err *err)
{
	struct names outs = {0};
	int rc = walk(outdir, "", 0, &outs, NULL, err);
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
				.n_inputs = n_inputs,
				.output_names = output_names,
				.output_sha256 = output_sha256,
				.n_outputs = n_outputs};
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

enum verdict { V_OK, V_BAD, V_NOT_CHECKED };

/* The file an input line names: its path, relative ones taken from inputs_dir. */
static void input_path(const char *name, const char *inputs_dir, char *path, size_t len)
{
	const char *p = name + strlen(INPUT_PREFIX);
	if (inputs_dir != NULL && p[0] != '/')
		snprintf(path, len, "%s/%s", inputs_dir, p);
	else
		snprintf(path, len, "%s", p);
}

/*
 * One manifest line being checked: whether its file may be read (and
 * where it is), its digest once read, and its verdict. Lines are checked
 * in three steps, so that the reading, which is nearly all the time, runs
 * in several threads: check_prepare (in order), check_hash (any order),
 * check_report (in order).
 */
struct check {
	const char *hex, *name;
	char *path;          /* the file to read; NULL when the verdict is known */
	bool input;
	char got[65];
	int rc;              /* of the digest */
	char *err;           /* why it could not be read */
	enum verdict v;
	char *pre;           /* the verdict line when known before reading */
};

static void set_pre(struct check *c, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_pre(struct check *c, enum verdict v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&c->pre, fmt, ap) < 0)
		c->pre = NULL;
	va_end(ap);
	c->v = v;
}

/* Whether line c's file may be read; if not, its verdict. */
static void check_prepare(struct check *c, const char *root, const char *inputs_dir)
{
	char path[PATH_MAX];
	const char *name = c->name;
	c->path = NULL;
	c->pre = NULL;
	c->input = strncmp(name, INPUT_PREFIX, strlen(INPUT_PREFIX)) == 0;
	if (c->input) {
		input_path(name, inputs_dir, path, sizeof(path));
		struct stat sb;
		size_t dl;
		const char *suffix;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", path);
		if (set_name(path, &dl, &suffix))
			dir[dl] = '\0';
		bool set = strcmp(dir, path) != 0;
		int st = stat(dir, &sb);
		if (st != 0 && (errno == ENOENT || errno == ENOTDIR)) {
			set_pre(c, V_NOT_CHECKED, "NOT CHECKED %s: not found", name);
			return;
		}
		/* a device or a FIFO named by a stranger's manifest would never end */
		if (st == 0 && !(set ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode))) {
			set_pre(c, V_BAD, "REFUSED %s: not a regular file; not read", name);
			return;
		}
	} else {
		const char *why = unsafe_name(name);
		if (why != NULL) {
			set_pre(c, V_BAD, "REFUSED %s: %s; not read", name, why);
			return;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, name) >= sizeof(path)) {
			set_pre(c, V_BAD, "REFUSED %s: path too long", name);
			return;
		}
		struct stat sb;
		if (lstat(path, &sb) != 0) {
			set_pre(c, V_BAD, "%s %s", errno == ENOENT ? "MISSING" : "UNREADABLE",
				 name);
			return;
		}
		char real[PATH_MAX];
		size_t rl = strlen(root);
		if (!S_ISREG(sb.st_mode)) {
			set_pre(c, V_BAD, "REFUSED %s: not a regular file; not read", name);
			return;
		}
		if (realpath(path, real) == NULL || strncmp(real, root, rl) != 0 || real[rl] != '/') {
			set_pre(c, V_BAD, "REFUSED %s: resolves outside OUTDIR; not read",
				 name);
			return;
		}
	}
	c->path = strdup(path);
	if (c->path == NULL)
		set_pre(c, V_BAD, "UNREADABLE %s: out of memory", name);
}

static void check_hash(struct check *c)
{
	struct fa_err herr = {{0}};
	c->rc = c->input ? digest_of(c->path, c->got, &herr) : sha256_file(c->path, c->got, &herr);
	c->err = c->rc != FA_OK ? strdup(herr.msg) : NULL;
}

/* Writes line c's verdict; returns it. */
static enum verdict check_report(struct check *c, FILE *to)
{
	if (c->path == NULL) {
		if (c->pre != NULL)
			fprintf(to, "%s\n", c->pre);
		else /* the verdict line itself could not be made */
			fprintf(to, "UNREADABLE %s: out of memory\n", c->name);
		return c->pre != NULL ? c->v : V_BAD;
	}
	if (c->rc != FA_OK) {
		fprintf(to, "UNREADABLE %s: %s\n", c->name, c->err ? c->err : "out of memory");
		return V_BAD;
	}
	bool ok = strncasecmp(c->got, c->hex, 64) == 0;
	fprintf(to, "%s %s\n", ok ? "OK" : "CHANGED", c->name);
	return ok ? V_OK : V_BAD;
}

struct check_work {
	struct check *v;
	size_t n;
	atomic_size_t next;
};

static void *check_main(void *arg)
{
	struct check_work *w = arg;
	for (size_t i; (i = atomic_fetch_add(&w->next, 1)) < w->n;)
		if (w->v[i].path != NULL)
			check_hash(&w->v[i]);
	return NULL;
}

/* The digests of every line that may be read, in as many threads as the
   machine has processors (at most MANIFEST_MAX_THREADS). */
static void check_all(struct check *v, size_t n)
{
	struct check_work w = {.v = v, .n = n};
	atomic_init(&w.next, 0);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t threads = cpus < 1 ? 1 : cpus > MANIFEST_MAX_THREADS ? MANIFEST_MAX_THREADS
								    : (size_t)cpus;
	pthread_t tid[MANIFEST_MAX_THREADS];
	bool started[MANIFEST_MAX_THREADS] = {false};
	for (size_t k = 1; k < threads; k++)
		started[k] = pthread_create(&tid[k], NULL, check_main, &w) == 0;
	check_main(&w);
	for (size_t k = 1; k < threads; k++)
		if (started[k])
			pthread_join(tid[k], NULL);
}

/* Bytes from c to the next byte b within max (max, or all that is left,
   when there is none). */
static size_t span_to(const struct cursor *c, uint8_t b, size_t max)
{
	struct cursor t = *c;
	size_t left = cur_left(&t);
	if (left > max)
		left = max;
	const uint8_t *w = cur_take(&t, left);
	const uint8_t *q = w != NULL ? memchr(w, b, left) : NULL;
	return q != NULL ? (size_t)(q - w) : left;
}

/* One escape after its backslash, as a byte; *plain false when it is not
   a printable ASCII character. */
static uint8_t scan_escape(struct cursor *c, bool *plain)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	uint8_t e = cur_u8(c);
	const char *k = e ? strchr(from, e) : NULL;
	if (k != NULL)
		return (uint8_t)to[k - from];
	if (e != 'u') {
		*plain = false;
		return 0;
	}
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t h = cur_u8(c), l = (uint8_t)(h | 0x20);
		int d = h >= '0' && h <= '9' ? h - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
		if (d < 0)
			*plain = false;
		v = v * 16 + (unsigned)(d < 0 ? 0 : d);
	}
	if (v < 0x20 || v >= 0x7f)
		*plain = false;
	return (uint8_t)v;
}

/*
 * A JSON string at c, just after its opening quote, decoded into out (cap
 * bytes with the NUL). *plain is false when it did not fit or held a byte
 * or escape that is not a printable ASCII character: no file name of ours.
 * Runs without escapes are found with memchr and copied whole; the next
 * quote is looked for again only once an escape has consumed it, so a
 * string of escapes costs linear time too.
 */
static void scan_string(struct cursor *c, const uint8_t *base, char *out, size_t cap,
			bool *plain)
{
	size_t n = 0;
	*plain = true;
	size_t quote = cur_offset(c, base) + span_to(c, '"', SIZE_MAX);
	while (cur_left(c)) {
		size_t at = cur_offset(c, base);
		if (quote < at)
			quote = at + span_to(c, '"', SIZE_MAX);
		size_t run = span_to(c, '\\', quote - at);
		const uint8_t *w = cur_take(c, run);
		for (size_t i = 0; w != NULL && i < run && *plain; i++) {
			if (w[i] < 0x20 || n + 1 >= cap)
				*plain = false;
			else
				out[n++] = (char)w[i];
		}
		if (!cur_left(c))
			break;
		if (cur_u8(c) == '"')
			break;
		uint8_t b = scan_escape(c, plain);
		if (*plain && n + 1 < cap)
			out[n++] = (char)b;
		else
			*plain = false;
	}
	out[n] = '\0';
}

static void skip_space(struct cursor *c)
{
	while (cur_left(c)) {
		struct cursor t = *c;
		uint8_t b = cur_u8(&t);
		if (b != ' ' && b != '\t' && b != '\n' && b != '\r')
			return;
		*c = t;
	}
}

#define SCAN_DROP_BYTES (64u << 20) /* pages of report.json given back as the scan goes */

/*
 * The names report.json cites into cited: the string values of keys named
 * "evidence" and the strings of arrays under "evidence_files". A name that
 * is not plain text goes in as "" (refused by the caller). The file is
 * mapped, and the pages already scanned are given back every 64 MiB, so a
 * report of hundreds of MB does not stay resident.
 */
static int scan_citations(const char *path, struct names *cited, struct fa_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		fa_err_set(err, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return FA_ERUNTIME;
	}
	if (sb.st_size == 0) {
		close(fd);
		return FA_OK;
	}
	size_t size = (size_t)sb.st_size;
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fa_err_set(err, "%s: cannot map: %s", path, strerror(errno));
		return FA_ERUNTIME;
	}
	madvise(map, size, MADV_SEQUENTIAL);
	const uint8_t *base = map;
	struct cursor c = cur_make(base, size);
	enum { NONE, VALUE, ARRAY_START, ARRAY } want = NONE;
	int rc = FA_OK;
	size_t dropped = 0;
	char s[PATH_MAX];
	while (rc == FA_OK && cur_left(&c)) {
		size_t at = cur_offset(&c, base);
		if (at - dropped >= SCAN_DROP_BYTES) {
			size_t upto = at & ~(size_t)(SCAN_DROP_BYTES - 1);
			madvise((uint8_t *)map + dropped, upto - dropped, MADV_DONTNEED);
			dropped = upto;
		}
		if (want == NONE) /* only a key can start one: go to the next string */
			cur_skip(&c, span_to(&c, '"', SIZE_MAX));
		uint8_t b = cur_u8(&c);
		if (!cur_ok(&c))
			break;
		if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || (want == ARRAY && b == ','))
			continue;
		if (want == ARRAY_START && b == '[') {
			want = ARRAY;
			continue;
		}
		if (b != '"') {
			want = NONE;
			continue;
		}
		bool plain;
		scan_string(&c, base, s, sizeof(s), &plain);
		skip_space(&c);
		struct cursor t = c;
		if (cur_left(&c) && cur_u8(&t) == ':') {
			c = t;
			want = s[0] != 'e' ? NONE /* nearly every key: no strcmp */
			       : strcmp(s, "evidence") == 0 ? VALUE
			       : strcmp(s, "evidence_files") == 0 ? ARRAY_START : NONE;
			continue;
		}
		/* the findings of an evidence pack all cite its file: kept once */
		bool again = cited->n > 0 && strcmp(cited->v[cited->n - 1], plain ? s : "") == 0;
		if ((want == VALUE || want == ARRAY) && !again)
			rc = names_push(cited, plain ? s : "", NULL, err);
		if (want == VALUE)
			want = NONE;
	}
	munmap(map, size);
	return rc;
}

static bool listed_in(const struct names *l, const char *name)
{
	return l->n && bsearch(&name, l->v, l->n, sizeof(*l->v), str_cmp) != NULL;
}

/*
 * report.json must be listed, and so must every file it cites: a finding's
 * evidence taken away together with its manifest line fails. A cited file
 * that is there but unlisted is already UNLISTED.
 */
static int check_citations(const char *root, const struct names *listed, FILE *to, size_t *bad,
			   struct fa_err *err)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/report.json", root);
	struct stat sb;
	if (!listed_in(listed, "report.json")) {
		if (lstat(path, &sb) != 0) {
			fprintf(to, "MISSING report.json: not in the manifest; every report has one\n");
			(*bad)++;
		}
		return FA_OK;
	}
	if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return FA_OK; /* its own line says so */
	struct names cited = {0};
	int rc = scan_citations(path, &cited, err);
	if (rc == FA_OK && cited.n)
		qsort(cited.v, cited.n, sizeof(*cited.v), str_cmp);
	for (size_t i = 0; rc == FA_OK && i < cited.n; i++) {
		const char *name = cited.v[i];
		if (i > 0 && strcmp(name, cited.v[i - 1]) == 0)
			continue;
		const char *why = name[0] ? unsafe_name(name) : "not a plain file name";
		if (why != NULL) {
			fprintf(to, "REFUSED \"%s\": cited by report.json: %s\n", name, why);
			(*bad)++;
		} else if (!listed_in(listed, name)) {
			char p[2 * PATH_MAX + 2];
			snprintf(p, sizeof(p), "%s/%s", root, name);
			if (lstat(p, &sb) != 0) {
				fprintf(to, "MISSING %s: cited by report.json, not in the manifest\n", name);
				(*bad)++;
			}
		}
	}
	names_free(&cited);
	return rc;
}

bool manifest_digest_parse(const char *s, char out[65])
{
	if (strncasecmp(s, "SHA256:", 7) == 0)
		s += 7;
	if (strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++) {
		char ch = s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return false;
		out[i] = (char)(ch >= 'A' && ch <= 'F' ? ch + 32 : ch);
	}
	out[64] = '\0';
	return true;
}

int manifest_check(const char *outdir, const struct manifest_check_opts *opt, FILE *report_to,
		   struct manifest_result *res, struct fa_err *err)
{
	memset(res, 0, sizeof(*res));
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
	int rc = sha256_file(mpath, res->digest, err);
	if (rc != FA_OK) {
		fclose(fp);
		return rc;
	}
	if (opt != NULL && opt->expect_sha256 != NULL && strcmp(res->digest, opt->expect_sha256) != 0) {
		fprintf(report_to, "CHANGED %s: SHA256 %s, expected %s\n", MANIFEST_NAME, res->digest,
			opt->expect_sha256);
		res->bad++;
	}
	struct names listed = {0}, text = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	while (rc == FA_OK && (got = getline(&line, &cap, fp)) != -1) {
		res->lines++;
		char *hex, *name;
		if (got > MAX_LINE || (size_t)got != strlen(line) || !parse_line(line, &hex, &name)) {
			fa_err_set(err, "%s: line %zu is not \"<64 hex digits>  <name>\"", mpath,
				   res->lines);
			rc = FA_EINPUT;
			break;
		}
		hex[64] = ' '; /* kept whole: "<hex> name", split again below */
		rc = names_push(&text, hex, NULL, err);
		if (rc == FA_OK && strncmp(name, INPUT_PREFIX, strlen(INPUT_PREFIX)) != 0)
			rc = names_push(&listed, strncmp(name, "./", 2) == 0 ? name + 2 : name, NULL, err);
	}
	free(line);
	if (rc == FA_OK && ferror(fp)) {
		fa_err_set(err, "%s: read error: %s", mpath, strerror(errno));
		rc = FA_ERUNTIME;
	}
	fclose(fp);
	struct check *checks = rc == FA_OK ? calloc(text.n ? text.n : 1, sizeof(*checks)) : NULL;
	if (rc == FA_OK && checks == NULL) {
		fa_err_set(err, "out of memory verifying %s", mpath);
		rc = FA_ERUNTIME;
	}
	for (size_t i = 0; checks != NULL && i < text.n; i++) {
		text.v[i][64] = '\0';
		checks[i].hex = text.v[i];
		checks[i].name = text.v[i] + 66;
		check_prepare(&checks[i], root, opt ? opt->inputs_dir : NULL);
	}
	if (checks != NULL)
		check_all(checks, text.n);
	for (size_t i = 0; checks != NULL && i < text.n; i++) {
		enum verdict v = check_report(&checks[i], report_to);
		if (v == V_BAD)
			res->bad++;
		else if (v == V_NOT_CHECKED)
			res->not_checked++;
		free(checks[i].path);
		free(checks[i].pre);
		free(checks[i].err);
	}
	free(checks);
	names_free(&text);
	struct names present = {0}, odd = {0};
	if (rc == FA_OK)
		rc = walk(outdir, "", 0, &present, &odd, err);
	if (rc == FA_OK) {
		if (listed.n)
			qsort(listed.v, listed.n, sizeof(*listed.v), str_cmp);
		if (present.n)
			qsort(present.v, present.n, sizeof(*present.v), str_cmp);
		if (odd.n)
			qsort(odd.v, odd.n, sizeof(*odd.v), str_cmp);
		for (size_t i = 0; i < present.n; i++) {
			if (listed_in(&listed, present.v[i]))
				continue;
			fprintf(report_to, "UNLISTED %s\n", present.v[i]);
			res->bad++;
		}
		for (size_t i = 0; i < odd.n; i++) {
			fprintf(report_to, "UNLISTED %s\n", odd.v[i]);
			res->bad++;
		}
		rc = check_citations(root, &listed, report_to, &res->bad, err);
	}
	names_free(&listed);
	names_free(&present);
	names_free(&odd);
	return rc;
}
