/*
 * report_dir.c - checks, locks, builds aside and places the report
 * directory (report_dir.h).
 *
 * Receives OUTDIR as the user gave it; hands on the path of a build
 * directory to write the report into, and puts it in OUTDIR's place when
 * it is finished. Owns the lock on OUTDIR (a descriptor of the directory,
 * flock'ed), its copies of the paths, and a mutex that keeps placement and
 * abandonment (from a signal watcher thread) apart. Workload: one report
 * directory per run, a few files plus an evidence directory, so moving
 * entries one by one (in place) is cheap.
 */
#include "flowaudit/report_dir.h"

#include "flowaudit/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define IN_PLACE_TMP ".flowaudit-tmp-"
#define IN_PLACE_OLD ".flowaudit-old-"
#define OUT_LEN 4096  /* OUTDIR and its parent */
#define PATH_LEN 4200 /* OUTDIR plus a name of ours */

struct report_dir {
	char outdir[OUT_LEN];
	char parent[OUT_LEN];
	char build[PATH_LEN];  /* "" until begun */
	char trash[PATH_LEN];  /* where an abandoned or replaced tree goes */
	int lock_fd;
	bool in_place;         /* OUTDIR is a mount point: build inside it */
	bool created;          /* this run created OUTDIR */
	bool placed, abandoned;
	pthread_mutex_t mu;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *path)
{
	char buf[PATH_LEN];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* The PID a name "<prefix><pid>" carries, or 0 when it is not one. */
static long name_pid(const char *name, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(name, prefix, pl) != 0)
		return 0;
	char *end;
	long pid = strtol(name + pl, &end, 10);
	return *end == '\0' && pid > 0 ? pid : 0;
}

/* A build or replaced directory a run left behind ("in place" names). */
static bool is_in_place_leftover(const char *name)
{
	return name_pid(name, IN_PLACE_TMP) || name_pid(name, IN_PLACE_OLD);
}

int report_dir_check(const char *outdir, struct fa_err *err)
{
	struct stat sb;
	if (outdir == NULL || lstat(outdir, &sb) != 0)
		return FA_OK;
	if (!S_ISDIR(sb.st_mode)) {
		fa_err_set(err, "-o %s: exists and is not a directory; give a new path for the report",
			   outdir);
		return FA_EINPUT;
	}
	char m[PATH_LEN + 32];
	snprintf(m, sizeof(m), "%s/%s", outdir, MANIFEST_NAME);
	if (access(m, F_OK) == 0)
		return FA_OK;
	DIR *d = opendir(outdir);
	if (d == NULL) {
		fa_err_set(err, "-o %s: cannot read: %s", outdir, strerror(errno));
		return FA_EINPUT;
	}
	bool empty = true;
	struct dirent *e;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			is_in_place_leftover(e->d_name);
	closedir(d);
	if (!empty) {
		fa_err_set(err, "-o %s: the directory is not a flowaudit report (it has no %s) and "
				"is not empty; flowaudit replaces only its own reports: give a new path",
			   outdir, MANIFEST_NAME);
		return FA_EINPUT;
	}
	return FA_OK;
}

/* Whether path is the root of a mount (a rename of it fails with EBUSY). */
static bool is_mount_root(const char *path, const char *parent)
{
	struct statx sx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	/* a kernel before 5.8: another file system than its parent's */
	struct stat a, b;
	return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* Locks d->outdir; retries when it was replaced between open and flock. */
static int lock_outdir(struct report_dir *d, struct fa_err *err)
{
	for (int tries = 0; tries < 8; tries++) {
		int fd = open(d->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			fa_err_set(err, "-o %s: cannot open: %s", d->outdir, strerror(errno));
			return FA_ERUNTIME;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int e = errno;
			close(fd);
			if (e == EWOULDBLOCK) {
				fa_err_set(err, "-o %s: another flowaudit run is writing a report there; "
					   "wait for it to end, or give another -o", d->outdir);
			} else {
				fa_err_set(err, "-o %s: cannot lock: %s", d->outdir, strerror(e));
			}
			return FA_ERUNTIME;
		}
		/* the run before may have swapped a new report in since open() */
		struct stat held, now;
		if (fstat(fd, &held) == 0 && stat(d->outdir, &now) == 0 && held.st_dev == now.st_dev &&
		    held.st_ino == now.st_ino) {
			d->lock_fd = fd;
			return FA_OK;
		}
		close(fd);
	}
	fa_err_set(err, "-o %s: replaced again and again while flowaudit tried to lock it",
		   d->outdir);
	return FA_ERUNTIME;
}

int report_dir_open(const char *outdir, struct report_dir **out, struct fa_err *err)
{
	*out = NULL;
	int rc = report_dir_check(outdir, err);
	if (rc != FA_OK)
		return rc;
	if (strlen(outdir) >= OUT_LEN) {
		fa_err_set(err, "-o: the path is longer than %d bytes", OUT_LEN - 1);
		return FA_EINPUT;
	}
	struct report_dir *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		fa_err_set(err, "out of memory");
		return FA_ERUNTIME;
	}
	d->lock_fd = -1;
	pthread_mutex_init(&d->mu, NULL);
	snprintf(d->outdir, sizeof(d->outdir), "%s", outdir);
	/* "reports/x/" names the directory "reports/x" */
	for (size_t n = strlen(d->outdir); n > 1 && d->outdir[n - 1] == '/'; n--)
		d->outdir[n - 1] = '\0';
	struct stat sb;
	const char *base = strrchr(d->outdir, '/');
	base = base ? base + 1 : d->outdir;
	/* "-o ." is someone's working directory: swapping it would leave their
	   shell in the old, deleted one */
	bool dot = strcmp(base, ".") == 0 || strcmp(base, "..") == 0;
	char tmp[OUT_LEN];
	snprintf(tmp, sizeof(tmp), "%s", d->outdir);
	snprintf(d->parent, sizeof(d->parent), "%s", dirname(tmp));
	if (lstat(d->outdir, &sb) != 0) {
		if (mkdir_p(d->outdir) != 0) {
			fa_err_set(err, "%s: cannot create report directory: %s", d->outdir,
				   strerror(errno));
			report_dir_close(d);
			return FA_ERUNTIME;
		}
		d->created = true;
	}
	rc = lock_outdir(d, err);
	if (rc != FA_OK) {
		d->created = false; /* whoever holds it may be using it */
		report_dir_close(d);
		return rc;
	}
	d->in_place = dot || is_mount_root(d->outdir, d->parent);
	*out = d;
	return FA_OK;
}

/*
 * Build and replaced directories of runs that were killed (their PID is
 * gone): removed, so that they do not pile up. A live PID's are left
 * alone, whoever it is.
 */
static void remove_stale(const char *dir, const char *prefix_a, const char *prefix_b)
{
	DIR *dp = opendir(dir);
	if (dp == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		long pid = name_pid(e->d_name, prefix_a);
		if (pid == 0)
			pid = name_pid(e->d_name, prefix_b);
		if (pid == 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char path[2 * PATH_LEN];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rm_tree(path);
	}
	closedir(dp);
}

int report_dir_begin(struct report_dir *d, struct fa_err *err)
{
	if (d->build[0] != '\0')
		return FA_OK; /* begun already */
	long pid = (long)getpid();
	if (d->in_place) {
		remove_stale(d->outdir, IN_PLACE_TMP, IN_PLACE_OLD);
		snprintf(d->build, sizeof(d->build), "%s/" IN_PLACE_TMP "%ld", d->outdir, pid);
		snprintf(d->trash, sizeof(d->trash), "%s/" IN_PLACE_OLD "%ld", d->outdir, pid);
	} else {
		const char *base = strrchr(d->outdir, '/');
		base = base ? base + 1 : d->outdir;
		char pa[PATH_LEN], pb[PATH_LEN];
		snprintf(pa, sizeof(pa), "%s.tmp-", base);
		snprintf(pb, sizeof(pb), "%s.old-", base);
		remove_stale(d->parent, pa, pb);
		snprintf(d->build, sizeof(d->build), "%s.tmp-%ld", d->outdir, pid);
		snprintf(d->trash, sizeof(d->trash), "%s.old-%ld", d->outdir, pid);
	}
	if (mkdir(d->build, 0755) != 0) {
		int e = errno;
		if (!d->in_place && (e == EACCES || e == EPERM || e == EROFS)) {
			/* OUTDIR is writable but not its parent: build inside it */
			d->in_place = true;
			return report_dir_begin(d, err);
		}
		fa_err_set(err, "%s: cannot create report directory: %s", d->build, strerror(e));
		d->build[0] = '\0';
		return FA_ERUNTIME;
	}
	return FA_OK;
}

const char *report_dir_build_path(const struct report_dir *d)
{
	return d->build;
}

/* from/name to to/name. */
static int move_one(const char *from, const char *to, const char *name, struct fa_err *err)
{
	char a[2 * PATH_LEN], b[2 * PATH_LEN];
	snprintf(a, sizeof(a), "%s/%s", from, name);
	snprintf(b, sizeof(b), "%s/%s", to, name);
	if (rename(a, b) == 0)
		return FA_OK;
	fa_err_set(err, "%s: cannot move to %s: %s", a, to, strerror(errno));
	return FA_ERUNTIME;
}

/* Moves every entry of from but skip_a and skip_b to to; MANIFEST.sha256 last. */
static int move_entries(const char *from, const char *to, const char *skip_a, const char *skip_b,
			struct fa_err *err)
{
	DIR *dp = opendir(from);
	if (dp == NULL) {
		fa_err_set(err, "%s: cannot read: %s", from, strerror(errno));
		return FA_ERUNTIME;
	}
	int rc = FA_OK;
	bool manifest = false;
	struct dirent *e;
	while (rc == FA_OK && (e = readdir(dp)) != NULL) {
		const char *n = e->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, skip_a) == 0 ||
		    strcmp(n, skip_b) == 0)
			continue;
		if (strcmp(n, MANIFEST_NAME) == 0)
			manifest = true;
		else
			rc = move_one(from, to, n, err);
	}
	closedir(dp);
	if (rc == FA_OK && manifest)
		rc = move_one(from, to, MANIFEST_NAME, err);
	return rc;
}

/* OUTDIR is a mount point: the old report out (its manifest first), the
   new one in (its manifest last). */
static int place_in_place(struct report_dir *d, struct fa_err *err)
{
	const char *build = strrchr(d->build, '/') + 1, *trash = strrchr(d->trash, '/') + 1;
	if (mkdir(d->trash, 0755) != 0) {
		fa_err_set(err, "%s: cannot create: %s", d->trash, strerror(errno));
		return FA_ERUNTIME;
	}
	char m[PATH_LEN + 32];
	snprintf(m, sizeof(m), "%s/%s", d->outdir, MANIFEST_NAME);
	int rc = access(m, F_OK) == 0 ? move_one(d->outdir, d->trash, MANIFEST_NAME, err) : FA_OK;
	if (rc == FA_OK)
		rc = move_entries(d->outdir, d->trash, build, trash, err);
	if (rc == FA_OK)
		rc = move_entries(d->build, d->outdir, "", "", err);
	if (rc == FA_OK) {
		rmdir(d->build);
		rm_tree(d->trash);
	}
	return rc;
}

/* Beside OUTDIR: one exchange, or two renames without it. */
static int place_beside(struct report_dir *d, struct fa_err *err)
{
	if (renameat2(AT_FDCWD, d->build, AT_FDCWD, d->outdir, RENAME_EXCHANGE) == 0) {
		/* swapped in one step: OUTDIR is the new report, build the old */
		rm_tree(d->build);
		return FA_OK;
	}
	if (rename(d->outdir, d->trash) != 0) {
		fa_err_set(err, "%s: cannot replace: %s", d->outdir, strerror(errno));
		return FA_ERUNTIME;
	}
	if (rename(d->build, d->outdir) != 0) {
		fa_err_set(err, "%s: cannot rename report into place: %s", d->outdir, strerror(errno));
		rename(d->trash, d->outdir);
		return FA_ERUNTIME;
	}
	rm_tree(d->trash);
	return FA_OK;
}

int report_dir_place(struct report_dir *d, struct fa_err *err)
{
	pthread_mutex_lock(&d->mu);
	int rc;
	if (d->abandoned || d->build[0] == '\0') {
		fa_err_set(err, "%s: the report was abandoned before it was placed", d->outdir);
		rc = FA_ERUNTIME;
	} else {
		rc = d->in_place ? place_in_place(d, err) : place_beside(d, err);
		d->placed = rc == FA_OK;
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

bool report_dir_abandon(struct report_dir *d)
{
	if (d == NULL)
		return true;
	pthread_mutex_lock(&d->mu);
	bool placed = d->placed;
	if (!d->placed && !d->abandoned) {
		d->abandoned = true;
		/* out of the writer's way first: its next open under build fails */
		if (d->build[0] && rename(d->build, d->trash) == 0)
			rm_tree(d->trash);
		else if (d->build[0])
			rm_tree(d->build);
		if (d->created)
			rmdir(d->outdir); /* empty unless someone else wrote there */
	}
	pthread_mutex_unlock(&d->mu);
	return !placed;
}

void report_dir_close(struct report_dir *d)
{
	if (d == NULL)
		return;
	report_dir_abandon(d);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
