/* Small objects fetched before they are asked for.
 *
 * Two triggers, both for objects up to -o small_file, into the block cache:
 * - zarr metadata (.zarray, .zgroup, .zattrs, .zmetadata, zarr.json): when a
 *   directory's listing comes from Swift, its metadata files are fetched in
 *   parallel on the worker pool; zarr, xarray and dask read them right after.
 * - siblings in order: when the small files of one directory are looked up
 *   one after another in natural order (strverscmp: 0.9 before 0.10, which
 *   is the order zarr reads an array's chunks in, and a numbered folder of
 *   images), PF_SEQ_RUN such lookups in a row open a window of the next
 *   PF_SEQ_FILES siblings (at most PF_SEQ_BYTES), fetched in parallel and
 *   kept ahead of the reader as it goes. Random lookups fetch nothing more.
 * - siblings in bulk: when the small files of one directory are looked up
 *   in any order and cover half of the directory's small files, the rest
 *   are fetched in parallel instead of one request per open.
 *
 * Close-to-open stays as it is for every other open: a prefetched object
 * counts as checked for an open that starts within HEAD_REUSE_SECS of the
 * GET that fetched it, as a lookup's HEAD does; later, the lookup asks
 * Swift with If-None-Match (a 304 costs no body). A lookup of an object
 * whose prefetch is under way waits for it rather than fetching it twice.
 *
 * The table of prefetched objects is bounded (PF_MAX, oldest dropped); an
 * entry is used once. */
#include "swiftfs/fs.h"
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftfs/block_cache.h"
#include "swiftfs/log.h"
#include "swiftfs/util.h"
#include "swiftfs/workpool.h"

#define PF_MAX 4096              /* objects remembered */
#define PF_DIRS 64               /* directories whose lookups are counted */
#define PF_BURST_FILES 1024      /* most objects one trigger fetches */
#define PF_BURST_BYTES (64ULL << 20)
#define PF_META_FILES 64         /* most metadata files one listing fetches */
#define PF_SIBLING_MIN 8         /* lookups before siblings are fetched */
#define PF_DIR_IDLE 10.0         /* seconds: a directory's count starts over */
#define PF_SEQ_RUN 3             /* in-order lookups that open the window */
#define PF_SEQ_FILES 16          /* siblings the window keeps fetched ahead */
#define PF_SEQ_BYTES (16ULL << 20)

enum pf_state { PF_BUSY, PF_DONE, PF_FAILED };

struct pf_entry {
	struct pf_entry *hnext;
	struct pf_entry *older, *newer;  /* age list: oldest dropped first */
	char *object;
	enum pf_state st;
	struct swiftfs_attr a;           /* the listing's, then the GET's */
	double at;                       /* PF_DONE: when the GET was answered */
};

struct pf_dir {
	char *prefix;
	unsigned lookups;                /* small files looked up, not prefetched */
	double last;
	bool burst;                      /* its siblings were fetched */
	const void *counted;             /* the listing `small` was counted in */
	size_t small;                    /* its small files */
	/* in-order lookups: the small files in natural order (indices into
	 * the listing `ordered`, of nordered entries), the position of the
	 * last lookup, the length of the in-order run that ended there, and
	 * the last position the window has queued */
	const void *ordered;
	size_t nordered;
	size_t *order, norder;
	size_t last_pos, ahead_pos;
	char *last_name;                 /* finds last_pos in a new listing */
	unsigned run;
};

struct swiftfs_prefetch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pf_entry *buckets[1024];
	struct pf_entry *oldest, *newest;
	unsigned n;
	struct pf_dir dirs[PF_DIRS];
	unsigned next_dir;               /* round robin slot for a new directory */
	uint64_t fetched, used, revalidated;
};

struct pf_job {
	struct swiftfs_fs *fs;
	struct pf_entry *e;
};

static size_t pf_hash(const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h & 1023;
}

static struct pf_entry *find_locked(struct swiftfs_prefetch *p, const char *object)
{
	for (struct pf_entry *e = p->buckets[pf_hash(object)]; e; e = e->hnext)
		if (strcmp(e->object, object) == 0)
			return e;
	return NULL;
}

static void remove_locked(struct swiftfs_prefetch *p, struct pf_entry *e)
{
	struct pf_entry **pp = &p->buckets[pf_hash(e->object)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		p->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		p->newest = e->older;
	p->n--;
	free(e->object);
	free(e);
}

/* A new BUSY entry, dropping the oldest finished ones past PF_MAX. */
static struct pf_entry *insert_locked(struct swiftfs_prefetch *p, const char *object,
				      const struct swiftfs_attr *a)
{
	for (struct pf_entry *e = p->oldest; e && p->n >= PF_MAX;) {
		struct pf_entry *nx = e->newer;
		if (e->st != PF_BUSY)
			remove_locked(p, e);
		e = nx;
	}
	if (p->n >= PF_MAX)
		return NULL;
	struct pf_entry *e = calloc(1, sizeof(*e));
	if (!e || !(e->object = strdup(object))) {
		free(e);
		return NULL;
	}
	e->st = PF_BUSY;
	e->a = *a;
	size_t h = pf_hash(object);
	e->hnext = p->buckets[h];
	p->buckets[h] = e;
	e->older = p->newest;
	if (p->newest)
		p->newest->newer = e;
	else
		p->oldest = e;
	p->newest = e;
	p->n++;
	return e;
}

static void pf_run(void *arg)
{
	struct pf_job *j = arg;
	struct swiftfs_fs *fs = j->fs;
	struct swiftfs_prefetch *p = fs->prefetch;
	struct swiftfs_attr a = j->e->a;
	int rc = fs_fetch_small(fs, j->e->object, &a);

	pthread_mutex_lock(&p->lock);
	if (rc == 0) {
		j->e->a = a;
		j->e->at = util_now();
		j->e->st = PF_DONE;
		p->fetched++;
	} else {
		j->e->st = PF_FAILED;
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	free(j);
}

/* Queue a fetch of prefix+name unless it is known, cached or not small. */
static bool queue_locked(struct swiftfs_fs *fs, const char *prefix, const struct swiftfs_dirent *d,
			 uint64_t *bytes)
{
	struct swiftfs_prefetch *p = fs->prefetch;
	struct swiftfs_attr a;
	fs_attr_from_dirent(d, &a);
	if (!fs_small_file_p(fs, &a) || !d->etag || !d->etag[0])
		return false;
	char *object = fs_join(prefix, "", d->name);
	if (!object)
		return false;
	bool queued = false;
	if (!find_locked(p, object) && !fs_small_cached_p(fs, object, &a)) {
		struct pf_entry *e = insert_locked(p, object, &a);
		struct pf_job *j = e ? malloc(sizeof(*j)) : NULL;
		if (j) {
			j->fs = fs;
			j->e = e;
		}
		if (j && workpool_submit(fs->pool, pf_run, j) == 0) {
			queued = true;
			*bytes += a.size;
		} else {
			free(j);
			if (e)
				remove_locked(p, e);
		}
	}
	free(object);
	return queued;
}

static bool zarr_meta_name(const char *name)
{
	static const char *const names[] = { ".zarray", ".zgroup", ".zattrs", ".zmetadata",
					     "zarr.json" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

void fs_prefetch_listing(struct swiftfs_fs *fs, const char *prefix,
			 const struct swiftfs_dirlist *dl)
{
	struct swiftfs_prefetch *p = fs->prefetch;
	unsigned n = 0;
	uint64_t bytes = 0;
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < dl->n && n < PF_META_FILES; i++)
		if (dl->v[i].kind == DK_FILE && zarr_meta_name(dl->v[i].name) &&
		    queue_locked(fs, prefix, &dl->v[i], &bytes))
			n++;
	pthread_mutex_unlock(&p->lock);
	if (n)
		LOGD("prefetch: %u zarr metadata file(s) under '%s'", n, prefix);
}

static struct pf_dir *dir_locked(struct swiftfs_prefetch *p, const char *prefix, double now)
{
	for (unsigned i = 0; i < PF_DIRS; i++) {
		struct pf_dir *d = &p->dirs[i];
		if (d->prefix && strcmp(d->prefix, prefix) == 0) {
			if (now - d->last > PF_DIR_IDLE) {
				d->lookups = 0;
				d->burst = false;
				d->run = 0;
			}
			return d;
		}
	}
	struct pf_dir *d = &p->dirs[p->next_dir++ % PF_DIRS];
	free(d->prefix);
	free(d->order);
	free(d->last_name);
	memset(d, 0, sizeof(*d));
	d->prefix = strdup(prefix);
	return d->prefix ? d : NULL;
}

/* A small file of dir (listed as dl under prefix) was looked up and had to
 * be fetched: count it, and fetch the siblings once the lookups cover half
 * of the directory's small files. */
static void note_lookup(struct swiftfs_fs *fs, const char *prefix, const struct swiftfs_dirlist *dl)
{
	struct swiftfs_prefetch *p = fs->prefetch;
	double now = util_now();
	pthread_mutex_lock(&p->lock);
	struct pf_dir *d = dir_locked(p, prefix, now);
	if (!d)
		goto out;
	d->last = now;
	d->lookups++;
	if (d->burst || d->lookups < PF_SIBLING_MIN)
		goto out;
	if (d->counted != dl->v) { /* once per listing, not per lookup */
		d->counted = dl->v;
		d->small = 0;
		for (size_t i = 0; i < dl->n; i++) {
			struct swiftfs_attr a;
			fs_attr_from_dirent(&dl->v[i], &a);
			if (fs_small_file_p(fs, &a))
				d->small++;
		}
	}
	size_t small = d->small;
	if ((size_t)d->lookups * 2 < small)
		goto out;
	d->burst = true;
	unsigned n = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < dl->n && n < PF_BURST_FILES && bytes < PF_BURST_BYTES; i++)
		if (queue_locked(fs, prefix, &dl->v[i], &bytes))
			n++;
	LOGD("prefetch: %u of the %zu small files under '%s' after %u lookups", n, small,
	     prefix, d->lookups);
out:
	pthread_mutex_unlock(&p->lock);
}

/* Position of name in d->order, or SIZE_MAX. */
static size_t order_pos(const struct pf_dir *d, const struct swiftfs_dirlist *dl, const char *name)
{
	size_t lo = 0, hi = d->norder;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strverscmp(name, dl->v[d->order[mid]].name);
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return SIZE_MAX;
}

static int order_cmp(const void *x, const void *y, void *arg)
{
	const struct swiftfs_dirlist *dl = arg;
	return strverscmp(dl->v[*(const size_t *)x].name, dl->v[*(const size_t *)y].name);
}

/* d's small files of the listing dl in natural order, built once per
 * listing (a new listing starts the window over, not the run). */
static bool order_locked(struct swiftfs_fs *fs, struct pf_dir *d, const struct swiftfs_dirlist *dl)
{
	if (d->order && d->ordered == dl->v && d->nordered == dl->n)
		return true;
	free(d->order);
	d->order = malloc((dl->n ? dl->n : 1) * sizeof(*d->order));
	d->norder = 0;
	d->ordered = dl->v;
	d->nordered = dl->n;
	d->last_pos = d->ahead_pos = SIZE_MAX;
	if (!d->order)
		return false;
	for (size_t i = 0; i < dl->n; i++) {
		struct swiftfs_attr a;
		fs_attr_from_dirent(&dl->v[i], &a);
		if (dl->v[i].kind == DK_FILE && fs_small_file_p(fs, &a))
			d->order[d->norder++] = i;
	}
	qsort_r(d->order, d->norder, sizeof(*d->order), order_cmp, (void *)dl);
	if (d->last_name)
		d->last_pos = order_pos(d, dl, d->last_name);
	return true;
}

/* A small file `name` of the directory listed as dl under prefix is looked
 * up: extend the in-order run, and keep the window fetched ahead of it. */
static void note_order(struct swiftfs_fs *fs, const char *prefix, const struct swiftfs_dirlist *dl,
		       const char *name)
{
	struct swiftfs_prefetch *p = fs->prefetch;
	double now = util_now();
	pthread_mutex_lock(&p->lock);
	struct pf_dir *d = dir_locked(p, prefix, now);
	if (!d || !order_locked(fs, d, dl))
		goto out;
	d->last = now;
	size_t pos = order_pos(d, dl, name);
	if (pos == SIZE_MAX)
		goto out;
	if (d->last_pos != SIZE_MAX && pos == d->last_pos + 1)
		d->run++;
	else if (pos != d->last_pos)
		d->run = 1;
	d->last_pos = pos;
	if (!d->last_name || strcmp(d->last_name, name) != 0) {
		free(d->last_name);
		d->last_name = strdup(name);
	}
	if (d->run < PF_SEQ_RUN)
		goto out;
	unsigned n = 0;
	uint64_t bytes = 0, window = 0;
	for (size_t j = pos + 1; j < d->norder && j <= pos + PF_SEQ_FILES && window < PF_SEQ_BYTES;
	     j++) {
		window += dl->v[d->order[j]].size;
		if (d->ahead_pos != SIZE_MAX && j <= d->ahead_pos)
			continue; /* queued before */
		if (queue_locked(fs, prefix, &dl->v[d->order[j]], &bytes))
			n++;
		d->ahead_pos = j;
	}
	if (n)
		LOGD("prefetch: %u sibling(s) after '%s' under '%s' (in-order run of %u)", n, name,
		     prefix, d->run);
out:
	pthread_mutex_unlock(&p->lock);
}

/* Take object's entry (waiting for its fetch): true with *a and when it
 * was fetched. Only an entry of the version this mount knows counts: after
 * a write, rename or delete through the mount, or a change seen in a newer
 * listing, the entry is another version's and is dropped. */
static bool take(struct swiftfs_prefetch *p, const char *object, const struct swiftfs_attr *expect,
		 struct swiftfs_attr *a, double *at)
{
	bool have = false;
	pthread_mutex_lock(&p->lock);
	struct pf_entry *e;
	while ((e = find_locked(p, object)) && e->st == PF_BUSY)
		pthread_cond_wait(&p->cond, &p->lock);
	if (e && e->st == PF_DONE && strcmp(e->a.etag, expect->etag) == 0 &&
	    e->a.size == expect->size &&
	    (!expect->exact || (e->a.mtime.tv_sec == expect->mtime.tv_sec &&
				e->a.mtime.tv_nsec == expect->mtime.tv_nsec))) {
		*a = e->a;
		*at = e->at;
		have = true;
		p->used++;
	}
	if (e)
		remove_locked(p, e); /* used once */
	pthread_mutex_unlock(&p->lock);
	return have;
}

bool fs_prefetch_open(struct swiftfs_fs *fs, const char *object, struct swiftfs_attr *a)
{
	struct swiftfs_attr known;
	double at;
	if (!fs->prefetch || !take(fs->prefetch, object, a, &known, &at))
		return false;
	if (util_now() - at >= HEAD_REUSE_SECS)
		return false; /* the open asks Swift itself, with If-None-Match */
	*a = known;
	return true;
}

int fs_prefetch_lookup(struct swiftfs_fs *fs, const char *prefix, const struct swiftfs_dirlist *dl,
		       const char *object, struct swiftfs_attr *a, double *checked_at)
{
	struct swiftfs_prefetch *p = fs->prefetch;
	struct swiftfs_attr known;
	bool have = false;
	double at = 0;
	int rc;

	if (!p)
		return fs_fetch_small(fs, object, a);
	note_order(fs, prefix, dl, object + strlen(prefix));
	have = take(p, object, a, &known, &at);
	if (have && util_now() - at < HEAD_REUSE_SECS) {
		*a = known;
		*checked_at = at;
		return 0;
	}
	if (have) {
		/* fetched a while ago: still the current version? */
		rc = fs_fetch_small(fs, object, &known);
		if (rc == 0) {
			pthread_mutex_lock(&p->lock);
			p->revalidated++;
			pthread_mutex_unlock(&p->lock);
			*a = known;
			*checked_at = util_now();
			return 0;
		}
		if (rc != -EAGAIN)
			return rc;
	}
	rc = fs_fetch_small(fs, object, a);
	if (rc == 0)
		note_lookup(fs, prefix, dl);
	return rc;
}

int fs_prefetch_new(struct swiftfs_fs *fs)
{
	struct swiftfs_prefetch *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	fs->prefetch = p;
	return 0;
}

/* After the worker pool has stopped: no job holds an entry any more. */
void fs_prefetch_free(struct swiftfs_fs *fs)
{
	struct swiftfs_prefetch *p = fs->prefetch;
	if (!p)
		return;
	if (p->fetched)
		LOGI("prefetch: %llu small objects fetched ahead, %llu used (%llu of them "
		     "revalidated)", (unsigned long long)p->fetched, (unsigned long long)p->used,
		     (unsigned long long)p->revalidated);
	while (p->oldest)
		remove_locked(p, p->oldest);
	for (unsigned i = 0; i < PF_DIRS; i++) {
		free(p->dirs[i].prefix);
		free(p->dirs[i].order);
		free(p->dirs[i].last_name);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	fs->prefetch = NULL;
}
