/* Recursive walkers (find, du, ls -R, rsync, tar -c) list every directory
 * of a tree. One delimiter listing per directory costs a request each,
 * however few objects a directory holds: 100 directories of 100 objects
 * are 101 requests. One listing of the whole subtree without a delimiter
 * returns the same names 10,000 per request: 2 requests.
 *
 * When a directory's children are opened for reading right after the
 * directory itself (a walk), the directory's whole subtree is listed once
 * without a delimiter, up to SUBTREE_MAX names, and the listing of every
 * directory below is built from it and kept here, keyed by prefix, for
 * entry_timeout. fs_get_listing() takes a directory's listing from here
 * instead of asking Swift; overlays and their checks apply as for any
 * listing. A subtree larger than SUBTREE_MAX is walked directory by
 * directory, as before (the first SUBTREE_MAX names cost
 * SUBTREE_MAX / 10,000 requests, once per walk). */
#include "swiftfs/fs.h"
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftfs/inode.h"
#include "swiftfs/listing.h"
#include "swiftfs/log.h"
#include "swiftfs/util.h"

#define SUBTREE_MAX 50000
#define SUBTREE_BUCKETS 1024
/* an opendir of a child this soon after the parent's is a walk */
#define WALK_WINDOW 2.0

struct subtree_entry {
	struct subtree_entry *next;
	char *prefix;
	struct swiftfs_dirlist dl;
	double expire;
	double fetched_at; /* when the subtree listing began */
};

struct swiftfs_subtree {
	struct subtree_entry *b[SUBTREE_BUCKETS];
	size_t count;
};

static size_t hash_str(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return (size_t)(h % SUBTREE_BUCKETS);
}

static void entry_free(struct subtree_entry *e)
{
	listing_dirlist_free(&e->dl);
	free(e->prefix);
	free(e);
}

void fs_subtree_free(struct swiftfs_fs *fs)
{
	struct swiftfs_subtree *t = fs->subtree;
	if (!t)
		return;
	for (size_t i = 0; i < SUBTREE_BUCKETS; i++) {
		while (t->b[i]) {
			struct subtree_entry *e = t->b[i];
			t->b[i] = e->next;
			entry_free(e);
		}
	}
	free(t);
	fs->subtree = NULL;
}

bool fs_subtree_take(struct swiftfs_fs *fs, const char *prefix, double changed_at,
		     struct swiftfs_dirlist *dl, double *expire)
{
	bool found = false;
	pthread_mutex_lock(&fs->subtree_lock);
	struct swiftfs_subtree *t = fs->subtree;
	if (t) {
		struct subtree_entry **pp = &t->b[hash_str(prefix, strlen(prefix))];
		double now = util_now();
		while (*pp) {
			struct subtree_entry *e = *pp;
			if (strcmp(e->prefix, prefix) == 0 || e->expire <= now) {
				*pp = e->next;
				t->count--;
				/* not when a change made through the mount since
				 * the walk's listing began may be missing from it */
				if (!found && strcmp(e->prefix, prefix) == 0 && e->expire > now &&
				    e->fetched_at > changed_at) {
					*dl = e->dl;
					*expire = e->expire;
					memset(&e->dl, 0, sizeof(e->dl));
					found = true;
				}
				entry_free(e);
				continue;
			}
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&fs->subtree_lock);
	return found;
}

void fs_subtree_forget(struct swiftfs_fs *fs, const char *prefix)
{
	size_t pl = strlen(prefix);
	pthread_mutex_lock(&fs->subtree_lock);
	fs->subtree_epoch++; /* a walk's listing under way is older than this */
	struct swiftfs_subtree *t = fs->subtree;
	for (size_t i = 0; t && t->count && i < SUBTREE_BUCKETS; i++) {
		for (struct subtree_entry **pp = &t->b[i]; *pp;) {
			struct subtree_entry *e = *pp;
			if (strncmp(e->prefix, prefix, pl) == 0) {
				*pp = e->next;
				t->count--;
				entry_free(e);
				continue;
			}
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&fs->subtree_lock);
}

static bool subtree_has(struct swiftfs_fs *fs, const char *prefix)
{
	bool found = false;
	double now = util_now();
	pthread_mutex_lock(&fs->subtree_lock);
	if (fs->subtree) {
		struct subtree_entry *e = fs->subtree->b[hash_str(prefix, strlen(prefix))];
		for (; e && !found; e = e->next)
			found = strcmp(e->prefix, prefix) == 0 && e->expire > now;
	}
	pthread_mutex_unlock(&fs->subtree_lock);
	return found;
}

/* The pages of every directory below a flat listing, in one pass. */
struct build_page {
	struct build_page *next;   /* hash chain */
	struct build_page *all;    /* every page */
	char *prefix;
	struct swiftfs_lpage page; /* objects borrowed from the flat listing;
				    * subdir names owned */
};

struct build {
	struct build_page *b[SUBTREE_BUCKETS];
	struct build_page *all;
};

static struct build_page *page_for(struct build *bd, const char *name, size_t len)
{
	size_t h = hash_str(name, len);
	for (struct build_page *p = bd->b[h]; p; p = p->next)
		if (strlen(p->prefix) == len && memcmp(p->prefix, name, len) == 0)
			return p;
	struct build_page *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->prefix = strndup(name, len);
	if (!p->prefix) {
		free(p);
		return NULL;
	}
	p->next = bd->b[h];
	bd->b[h] = p;
	p->all = bd->all;
	bd->all = p;
	return p;
}

static int page_add(struct swiftfs_lpage *pg, const struct swiftfs_lentry *e)
{
	if (pg->n == pg->cap) {
		size_t nc = pg->cap ? pg->cap * 2 : 8;
		struct swiftfs_lentry *v = realloc(pg->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pg->v = v;
		pg->cap = nc;
	}
	pg->v[pg->n++] = *e;
	pg->raw_count++;
	return 0;
}

static int add_subdir(struct build_page *p, const char *name, size_t len)
{
	struct swiftfs_lpage *pg = &p->page;
	if (pg->n && pg->v[pg->n - 1].is_subdir && strlen(pg->v[pg->n - 1].name) == len &&
	    memcmp(pg->v[pg->n - 1].name, name, len) == 0)
		return 0; /* sorted input: the same subdir comes in a row */
	struct swiftfs_lentry e = { .is_subdir = true };
	e.name = strndup(name, len);
	if (!e.name)
		return -ENOMEM;
	int rc = page_add(pg, &e);
	if (rc)
		free(e.name);
	return rc;
}

static void build_free(struct build *bd)
{
	struct build_page *p = bd->all;
	while (p) {
		struct build_page *nx = p->all;
		for (size_t i = 0; i < p->page.n; i++)
			if (p->page.v[i].is_subdir)
				free(p->page.v[i].name);
		free(p->page.v);
		free(p->prefix);
		free(p);
		p = nx;
	}
}

/* Pages of every directory strictly below prefix from the flat page. */
static int build_pages(const char *prefix, const struct swiftfs_lpage *flat, struct build *bd)
{
	size_t plen = strlen(prefix);
	for (size_t k = 0; k < flat->n; k++) {
		const struct swiftfs_lentry *e = &flat->v[k];
		const char *name = e->name;
		if (strncmp(name, prefix, plen) != 0)
			continue;
		size_t parent = plen; /* the directory the next component is in */
		for (size_t i = plen; name[i]; i++) {
			if (name[i] != '/')
				continue;
			if (parent > plen) {
				struct build_page *pp = page_for(bd, name, parent);
				if (!pp || add_subdir(pp, name, i + 1))
					return -ENOMEM;
			}
			if (!page_for(bd, name, i + 1))
				return -ENOMEM;
			parent = i + 1;
		}
		if (parent > plen) {
			struct build_page *pp = page_for(bd, name, parent);
			if (!pp || page_add(&pp->page, e))
				return -ENOMEM;
		}
	}
	return 0;
}

/* List the subtree of dir (whose path is rel) and keep a listing for
 * every directory below it. */
static void list_subtree(struct swiftfs_fs *fs, const char *prefix)
{
	struct swiftfs_lpage flat = { 0 };
	struct build bd = { 0 };
	unsigned pages = 0;
	size_t kept = 0;
	double t0 = util_now();
	pthread_mutex_lock(&fs->subtree_lock);
	uint64_t epoch = fs->subtree_epoch;
	pthread_mutex_unlock(&fs->subtree_lock);

	int rc = listing_fetch(fs->c, fs->container, prefix, false, SUBTREE_MAX, &flat, &pages);
	if (rc) {
		LOGD("subtree listing of '%s' failed: %s; listing directory by directory", prefix,
		     strerror(-rc));
		goto out;
	}
	if (flat.n >= SUBTREE_MAX) {
		LOGD("subtree of '%s' has more than %d names: listing directory by directory",
		     prefix, SUBTREE_MAX);
		goto out;
	}
	rc = build_pages(prefix, &flat, &bd);
	if (rc)
		goto out;
	double expire = util_now() + fs->entry_timeout;
	for (struct build_page *p = bd.all; p; p = p->all) {
		struct subtree_entry *e = calloc(1, sizeof(*e));
		if (!e)
			break;
		e->prefix = strdup(p->prefix);
		if (!e->prefix || listing_to_dirlist(p->prefix, &p->page, &e->dl)) {
			free(e->prefix);
			free(e);
			break;
		}
		e->expire = expire;
		e->fetched_at = t0;
		pthread_mutex_lock(&fs->subtree_lock);
		/* a folder renamed or removed through the mount while the
		 * listing came: what it shows may be from before that */
		bool stale = fs->subtree_epoch != epoch;
		if (!stale && !fs->subtree)
			fs->subtree = calloc(1, sizeof(*fs->subtree));
		if (!stale && fs->subtree) {
			size_t h = hash_str(e->prefix, strlen(e->prefix));
			e->next = fs->subtree->b[h];
			fs->subtree->b[h] = e;
			fs->subtree->count++;
			kept++;
			e = NULL;
		}
		pthread_mutex_unlock(&fs->subtree_lock);
		if (e)
			entry_free(e);
	}
	LOGD("subtree of '%s': %zu names in %u request(s), %zu directories below, %.3fs", prefix,
	     flat.n, pages, kept, util_now() - t0);
out:
	build_free(&bd);
	listing_page_free(&flat);
}

void fs_subtree_opendir(struct swiftfs_fs *fs, struct swiftfs_inode *dir)
{
	char *rel = NULL, *prefix = NULL;
	double now = util_now();

	pthread_mutex_lock(&fs->t.lock);
	dir->walked_at = now;
	struct swiftfs_inode *p = dir->parent;
	bool walk = p && !(dir->list && now < dir->list_expire) && p->walked_at > 0 &&
		    now - p->walked_at < WALK_WINDOW &&
		    (p->subtree_at == 0 || now - p->subtree_at > fs->entry_timeout);
	char *own = NULL;
	if (walk) {
		rel = inode_path_locked(&fs->t, p);
		own = inode_path_locked(&fs->t, dir);
		inode_ref_locked(p); /* a rename and rmdir meanwhile could free it */
	}
	pthread_mutex_unlock(&fs->t.lock);
	if (!walk)
		goto out;
	if (!rel || !own)
		goto put;
	/* a subtree listing above already holds this directory */
	prefix = fs_dir_prefix(fs, own);
	if (!prefix || subtree_has(fs, prefix))
		goto put;
	free(prefix);
	prefix = fs_dir_prefix(fs, rel);
	pthread_mutex_lock(&fs->t.lock);
	p->subtree_at = now; /* once per parent per entry_timeout */
	pthread_mutex_unlock(&fs->t.lock);
	if (prefix)
		list_subtree(fs, prefix);
put:
	fs_put_inode(fs, p);
out:
	free(own);
	free(rel);
	free(prefix);
}
