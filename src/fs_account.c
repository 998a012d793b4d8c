/* Account mounts (see fs_account.h for the inode numbering).
 *
 * A container folder gets a slot (its inode numbers) when it is first
 * looked up, and its filesystem core when something in it is first used
 * (so `ls -l` of the account makes none), with the mount's options and a cache folder of its own
 * (<cache_dir>/account/<container>), so staged files of two containers
 * never meet. Cores live until unmount: their inodes may be in the
 * kernel's cache for as long. Each core has its own transfer threads
 * (-o workers=), so a session that touches many containers holds many
 * threads.
 *
 * The root lists the account (JSON, paginated with marker until a short
 * page), cached for entry_timeout. mkdir PUTs a container (with
 * X-Storage-Policy from -o storage_policy=), rmdir DELETEs it: Swift
 * refuses a container that holds objects (409, ENOTEMPTY).
 *
 * Locking: a->lock guards the slot table and the cached listing; no
 * network I/O under it. */
#include "swiftfs/fs_account.h"
#include "fs_internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "swiftfs/block_cache.h"
#include "swiftfs/fs_versions.h"
#include "swiftfs/log.h"
#include "swiftfs/opts.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"

#define SLOT_SHIFT 44
#define LOCAL_MASK ((1ULL << SWIFTFS_INO_BITS) - 1)
#define VERSIONS_BIT (1ULL << SWIFTFS_INO_BITS)

struct slot {
	char *name;
	struct swiftfs_fs *fs;
	/* bumped when the container is deleted through the mount: its
	 * folder's inode number comes back for the next container of that
	 * name, which must be a new inode for the kernel (a folder held open
	 * across rmdir and mkdir kept the dead one) */
	uint64_t gen;
	bool making;          /* a thread makes its core: the others wait (one
			       * recovery of what an earlier mount left) */
};

struct swiftfs_account {
	const struct swiftfs_opts *o; /* the mount's options (live until unmount) */
	struct swiftfs_client *c;
	struct timespec start;
	pthread_mutex_t lock;
	pthread_cond_t made;  /* lock: a slot's core was made (or not) */
	struct slot *slots;   /* lock; index k is slot k + 1 */
	size_t nslots, cap;   /* lock */
	char **names;         /* lock: the cached account listing */
	size_t nnames;        /* lock */
	double names_expire;  /* lock */
	/* one block cache for every container (<cache_dir>/blocks): one
	 * cache_size bound for the mount; NULL with cache=off */
	struct swiftfs_block_cache *bc;
};

struct swiftfs_adir {
	char **names;
	size_t n;
};

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int slot_get(struct swiftfs_account *a, const char *name, uint64_t *k);
static int slot_core(struct swiftfs_account *a, uint64_t k, struct swiftfs_fs **out);

/* Does folder dir/sub hold a file other than "." entries? */
static bool has_entries(const char *dir, const char *sub)
{
	char *p = fs_join(dir, "/", sub);
	bool any = false;
	if (!p)
		return false;
	DIR *d = opendir(p);
	free(p);
	struct dirent *de;
	while (d && !any && (de = readdir(d)) != NULL)
		any = de->d_name[0] != '.';
	if (d)
		closedir(d);
	return any;
}

/* Containers whose cache folder holds what an earlier mount left
 * pending (writeback records, SLO upload journals) get their core now,
 * which uploads or cleans it up before the mount serves, as a container
 * mount does, rather than when the folder is next used, which may be
 * never. */
static void recover_pending(struct swiftfs_account *a)
{
	char *top = NULL;
	if (a->o->ro || asprintf(&top, "%s/account", a->o->cache_dir) < 0)
		return;
	DIR *d = opendir(top);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		char *dir;
		struct swiftfs_fs *fs;
		uint64_t k;
		/* a container may be named ".x"; only "." and ".." are not */
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    !(dir = fs_join(top, "/", de->d_name)))
			continue;
		bool pending = has_entries(dir, "writeback") || has_entries(dir, "uploads");
		free(dir);
		if (!pending)
			continue;
		LOGI("account mount: container %s has uploads left by an earlier mount",
		     de->d_name);
		int rc = slot_get(a, de->d_name, &k);
		if (!rc)
			rc = slot_core(a, k, &fs);
		if (rc)
			LOGW("account mount: the uploads left in %s/%s wait for its next use: %s",
			     top, de->d_name, strerror(-rc));
	}
	if (d)
		closedir(d);
	free(top);
}

int fs_account_new(const struct swiftfs_opts *o, struct swiftfs_client *c,
		   struct swiftfs_account **out)
{
	struct swiftfs_account *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = o;
	a->c = c;
	clock_gettime(CLOCK_REALTIME, &a->start);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->made, NULL);
	if (o->cache) {
		int rc = fs_open_block_cache(o, &a->bc);
		if (rc) {
			pthread_cond_destroy(&a->made);
			pthread_mutex_destroy(&a->lock);
			free(a);
			return rc;
		}
	}
	recover_pending(a);
	*out = a;
	return 0;
}

void fs_account_free(struct swiftfs_account *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nslots; i++) {
		fs_free(a->slots[i].fs);
		free(a->slots[i].name);
	}
	free(a->slots);
	names_free(a->names, a->nnames);
	block_cache_free(a->bc); /* after the cores that read through it */
	pthread_cond_destroy(&a->made);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int fs_account_drain(struct swiftfs_account *a, double timeout, const volatile int *abort_flag)
{
	double deadline = util_now() + timeout;
	int left = 0;
	pthread_mutex_lock(&a->lock);
	size_t n = a->nslots;
	pthread_mutex_unlock(&a->lock);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&a->lock);
		struct swiftfs_fs *fs = a->slots[i].fs;
		pthread_mutex_unlock(&a->lock);
		double rest = deadline - util_now();
		if (fs)
			left += fs_drain(fs, rest > 0 ? rest : 0, abort_flag);
	}
	return left;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Blocks an earlier version kept per container (<cache>/blocks), each
 * folder with a bound of its own: the account's cache has them now. */
static void remove_old_blocks(const char *cache)
{
	struct stat st;
	char *old = fs_join(cache, "/blocks", "");
	if (old && lstat(old, &st) == 0 && S_ISDIR(st.st_mode)) {
		LOGI("account mount: removing %s (blocks of all containers are now kept in one "
		     "cache under one cache_size)", old);
		nftw(old, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(old);
}

/* The core of slot k (from 1), made on first use. */
static int slot_core(struct swiftfs_account *a, uint64_t k, struct swiftfs_fs **out)
{
	struct swiftfs_fs *fs = NULL;
	char *name = NULL, *cache = NULL;
	int rc;

	pthread_mutex_lock(&a->lock);
	bool ok = k >= 1 && k <= a->nslots;
	while (ok && !a->slots[k - 1].fs && a->slots[k - 1].making)
		pthread_cond_wait(&a->made, &a->lock);
	if (ok) {
		*out = a->slots[k - 1].fs;
		name = *out ? NULL : strdup(a->slots[k - 1].name);
		a->slots[k - 1].making = name != NULL;
	}
	pthread_mutex_unlock(&a->lock);
	if (!ok)
		return -ESTALE;
	if (*out)
		return 0;
	if (!name)
		return -ENOMEM;

	struct swiftfs_opts co = *a->o;
	co.container = name;
	co.prefix = (char *)"";
	if (asprintf(&cache, "%s/account", a->o->cache_dir) < 0) {
		cache = NULL;
		rc = -ENOMEM;
		goto out;
	}
	mkdir(cache, 0700);
	free(cache);
	if (asprintf(&cache, "%s/account/%s", a->o->cache_dir, name) < 0) {
		cache = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if (mkdir(cache, 0700) != 0 && errno != EEXIST)
		LOGW("account mount: cannot create %s: %s", cache, strerror(errno));
	char *staging = fs_join(cache, "/staging", "");
	if (staging && !a->o->ro)
		mkdir(staging, 0700);
	free(staging);
	co.cache_dir = cache;
	remove_old_blocks(cache);
	rc = fs_new_shared(&co, a->c, a->bc, &fs);
	if (rc)
		goto out;
	fs->account_slot = k;
	pthread_mutex_lock(&a->lock);
	if (!a->slots[k - 1].fs) {
		a->slots[k - 1].fs = fs;
		fs = NULL;
	}
	*out = a->slots[k - 1].fs;
	pthread_mutex_unlock(&a->lock);
out:
	if (name) {
		pthread_mutex_lock(&a->lock);
		a->slots[k - 1].making = false;
		pthread_cond_broadcast(&a->made);
		pthread_mutex_unlock(&a->lock);
	}
	fs_free(fs);
	free(cache);
	free(name);
	return rc;
}

int fs_account_route(struct swiftfs_account *a, uint64_t gino, struct swiftfs_fs **fs,
		     uint64_t *lino)
{
	*fs = NULL;
	*lino = 0;
	if (gino == SWIFTFS_ROOT_INO)
		return 1;
	uint64_t local = gino & ((1ULL << SLOT_SHIFT) - 1);
	int rc = slot_core(a, gino >> SLOT_SHIFT, fs);
	if (rc)
		return rc;
	*lino = (local & VERSIONS_BIT) ? FS_VERSIONS_INO_BASE + (local & LOCAL_MASK) : local;
	return 0;
}

int fs_account_route_made(struct swiftfs_account *a, uint64_t gino, struct swiftfs_fs **fs,
			  uint64_t *lino)
{
	uint64_t k = gino >> SLOT_SHIFT;
	pthread_mutex_lock(&a->lock);
	bool made = gino != SWIFTFS_ROOT_INO && k >= 1 && k <= a->nslots && a->slots[k - 1].fs;
	pthread_mutex_unlock(&a->lock);
	if (!made) {
		*fs = NULL;
		*lino = 0;
		return -ENOENT;
	}
	return fs_account_route(a, gino, fs, lino);
}

uint64_t fs_account_ino(struct swiftfs_account *a, struct swiftfs_fs *fs, uint64_t lino)
{
	(void)a;
	if (lino == 0)
		return 0;
	uint64_t local = fs_versions_ino(lino) ? VERSIONS_BIT | ((lino - FS_VERSIONS_INO_BASE) &
								 LOCAL_MASK)
					       : (lino & LOCAL_MASK);
	return (uint64_t)fs->account_slot << SLOT_SHIFT | local;
}

/* The slot number of container name (a new slot without a core when it
 * has none yet: looking at the account root costs no core). */
static int slot_get(struct swiftfs_account *a, const char *name, uint64_t *k)
{
	int rc = 0;
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->nslots; i++) {
		if (strcmp(a->slots[i].name, name) == 0) {
			*k = i + 1;
			goto unlock;
		}
	}
	if (a->nslots == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 16;
		struct slot *ns = realloc(a->slots, nc * sizeof(*ns));
		if (!ns) {
			rc = -ENOMEM;
			goto unlock;
		}
		a->slots = ns;
		a->cap = nc;
	}
	if ((uint64_t)a->nslots + 1 >= (1ULL << (64 - SLOT_SHIFT))) {
		rc = -ENFILE;
		goto unlock;
	}
	a->slots[a->nslots].name = strdup(name);
	a->slots[a->nslots].fs = NULL;
	a->slots[a->nslots].gen = 0;
	a->slots[a->nslots].making = false;
	if (!a->slots[a->nslots].name) {
		rc = -ENOMEM;
		goto unlock;
	}
	*k = ++a->nslots;
unlock:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

static void root_attr(struct swiftfs_account *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = SWIFTFS_ROOT_INO;
	st->st_mode = S_IFDIR | (0777 & ~(a->o->have_umask ? a->o->umask : 022));
	st->st_nlink = 2;
	st->st_uid = a->o->uid;
	st->st_gid = a->o->gid;
	st->st_mtim = st->st_ctim = st->st_atim = a->start;
}

void fs_account_root_stat(struct swiftfs_account *a, struct stat *st)
{
	root_attr(a, st);
}

double fs_account_timeout(struct swiftfs_account *a)
{
	return a->o->attr_timeout;
}

/* The account listing, paginated. */
static int list_account(struct swiftfs_account *a, char ***out, size_t *nout)
{
	char **v = NULL, *last = NULL, *q = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (;;) {
		struct swiftfs_req r;
		json_object *root = NULL;
		unsigned limit = listing_page_limit(true);
		char *em = util_url_encode(last ? last : "", false);
		if (!em || asprintf(&q, "format=json&limit=%u&marker=%s", limit, em) < 0) {
			free(em);
			q = NULL;
			rc = -ENOMEM;
			goto out;
		}
		free(em);
		swift_req_init(&r, "GET");
		r.query = q;
		r.recv_limit = 64u << 20;
		rc = swift_request(a->c, &r);
		buf_terminate(&r.resp_body);
		if (rc && listing_limit_refused(&r, true, limit)) {
			swift_req_cleanup(&r);
			free(q);
			q = NULL;
			continue;
		}
		if (rc) {
			char d[300];
			swift_describe_error(&r, d, sizeof(d));
			LOGE("account listing failed: %s", d);
			swift_req_cleanup(&r);
			goto out;
		}
		buf_terminate(&r.resp_body);
		root = r.status == 204 ? NULL : json_tokener_parse(r.resp_body.data ? r.resp_body.data : "");
		swift_req_cleanup(&r);
		free(q);
		q = NULL;
		size_t page = root && json_object_is_type(root, json_type_array) ?
				      json_object_array_length(root) : 0;
		for (size_t i = 0; i < page && !rc; i++) {
			json_object *nm;
			if (!json_object_object_get_ex(json_object_array_get_idx(root, i), "name", &nm))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				char **nv = realloc(v, nc * sizeof(*nv));
				if (!nv) {
					rc = -ENOMEM;
					break;
				}
				v = nv;
				cap = nc;
			}
			v[n] = strdup(json_object_get_string(nm));
			if (!v[n]) {
				rc = -ENOMEM;
				break;
			}
			n++;
		}
		if (root)
			json_object_put(root);
		if (rc)
			goto out;
		if (page < limit)
			break;
		free(last);
		last = strdup(v[n - 1]);
		if (!last) {
			rc = -ENOMEM;
			goto out;
		}
	}
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
out:
	names_free(v, n);
	free(last);
	free(q);
	return rc;
}

/* A referenced copy of the cached listing (fetched when stale). */
static int get_names(struct swiftfs_account *a, char ***out, size_t *nout)
{
	char **v = NULL;
	size_t n = 0;
	pthread_mutex_lock(&a->lock);
	bool fresh = a->names && util_now() < a->names_expire;
	pthread_mutex_unlock(&a->lock);
	if (!fresh) {
		int rc = list_account(a, &v, &n);
		if (rc)
			return rc;
		pthread_mutex_lock(&a->lock);
		names_free(a->names, a->nnames);
		a->names = v;
		a->nnames = n;
		a->names_expire = util_now() + a->o->entry_timeout;
		pthread_mutex_unlock(&a->lock);
	}
	pthread_mutex_lock(&a->lock);
	v = calloc(a->nnames + 1, sizeof(*v));
	for (n = 0; v && n < a->nnames; n++) {
		v[n] = strdup(a->names[n]);
		if (!v[n])
			break;
	}
	bool ok = v && n == a->nnames;
	pthread_mutex_unlock(&a->lock);
	if (!ok) {
		names_free(v, n);
		return -ENOMEM;
	}
	*out = v;
	*nout = n;
	return 0;
}

static void forget_names(struct swiftfs_account *a)
{
	pthread_mutex_lock(&a->lock);
	a->names_expire = 0;
	pthread_mutex_unlock(&a->lock);
}

static int container_entry(struct swiftfs_account *a, const char *name, struct swiftfs_entry *e)
{
	uint64_t k;
	int rc = slot_get(a, name, &k);
	if (rc)
		return rc;
	memset(e, 0, sizeof(*e));
	root_attr(a, &e->st); /* a container folder looks like the root */
	e->ino = k << SLOT_SHIFT | SWIFTFS_ROOT_INO;
	pthread_mutex_lock(&a->lock);
	e->generation = a->slots[k - 1].gen;
	pthread_mutex_unlock(&a->lock);
	e->st.st_ino = e->ino;
	e->attr_timeout = a->o->attr_timeout;
	e->entry_timeout = a->o->entry_timeout;
	return 0;
}

int fs_account_lookup(struct swiftfs_account *a, const char *name, struct swiftfs_entry *e)
{
	char **v = NULL;
	size_t n = 0;
	bool found = false;
	int rc = get_names(a, &v, &n);
	/* a user Swift refuses the account listing may still hold a
	 * container's ACL: the HEAD below tells */
	if (rc && rc != -EACCES && rc != -EPERM)
		return rc;
	for (size_t i = 0; i < n && !found; i++)
		found = strcmp(v[i], name) == 0;
	names_free(v, n);
	if (!found) {
		/* made since the listing was cached? */
		struct swiftfs_req r;
		swift_req_init(&r, "HEAD");
		r.container = name;
		r.flags = SWIFT_REQ_QUIET_404;
		rc = strlen(name) > 256 ? -ENOENT : swift_request(a->c, &r);
		swift_req_cleanup(&r);
		if (rc)
			return rc;
	}
	return container_entry(a, name, e);
}

int fs_account_opendir(struct swiftfs_account *a, struct swiftfs_adir **out)
{
	struct swiftfs_adir *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int rc = get_names(a, &d->names, &d->n);
	if (rc) {
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int fs_account_readdir(struct swiftfs_account *a, struct swiftfs_adir *d, size_t idx,
		       const char **name, struct swiftfs_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (idx >= d->n + 2)
		return 0;
	root_attr(a, &e->st);
	if (idx < 2) {
		*name = idx == 0 ? "." : "..";
		e->ino = SWIFTFS_ROOT_INO;
		return 1;
	}
	*name = d->names[idx - 2];
	e->ino = 0; /* no dentry: a lookup makes the container's core */
	e->st.st_ino = 0xffffffffULL;
	return 1;
}

void fs_account_releasedir(struct swiftfs_account *a, struct swiftfs_adir *d)
{
	(void)a;
	if (!d)
		return;
	names_free(d->names, d->n);
	free(d);
}

int fs_account_mkdir(struct swiftfs_account *a, const char *name, struct swiftfs_entry *e)
{
	struct swiftfs_req r;
	char *pol = NULL;
	int rc;

	if (a->o->ro)
		return -EROFS;
	if (strlen(name) > 256)
		return -ENAMETOOLONG;
	swift_req_init(&r, "HEAD");
	r.container = name;
	r.flags = SWIFT_REQ_QUIET_404;
	rc = swift_request(a->c, &r);
	swift_req_cleanup(&r);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if (a->o->storage_policy &&
	    asprintf(&pol, "X-Storage-Policy: %s", a->o->storage_policy) < 0)
		return -ENOMEM;
	const char *hdrs[] = { pol, NULL };
	swift_req_init(&r, "PUT");
	r.container = name;
	r.headers = pol ? hdrs : NULL;
	r.has_body = true;
	r.send_buf = "";
	r.send_len = 0;
	rc = swift_request(a->c, &r);
	if (rc) {
		char d[300];
		swift_describe_error(&r, d, sizeof(d));
		LOGE("mkdir: creating container %s failed: %s", name, d);
	}
	swift_req_cleanup(&r);
	free(pol);
	forget_names(a);
	if (rc)
		return rc;
	return container_entry(a, name, e);
}

int fs_account_rmdir(struct swiftfs_account *a, const char *name)
{
	struct swiftfs_req r;
	if (a->o->ro)
		return -EROFS;
	/* files written in it and not uploaded yet (writeback, temporary
	 * files, open for writing) count as content */
	pthread_mutex_lock(&a->lock);
	struct swiftfs_fs *core = NULL;
	for (size_t i = 0; i < a->nslots && !core; i++)
		if (strcmp(a->slots[i].name, name) == 0)
			core = a->slots[i].fs;
	pthread_mutex_unlock(&a->lock);
	if (core && fs_local_pending(core))
		return -ENOTEMPTY;
	swift_req_init(&r, "DELETE");
	r.container = name;
	r.flags = SWIFT_REQ_QUIET_404;
	int rc = swift_request(a->c, &r);
	/* the kernel looked it up first: a 404 means an earlier attempt
	 * deleted it and its answer was lost (libcurl itself sends a request
	 * again when a reused connection dies), or another client did */
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0) {
		pthread_mutex_lock(&a->lock);
		for (size_t i = 0; i < a->nslots; i++)
			if (strcmp(a->slots[i].name, name) == 0)
				a->slots[i].gen++;
		pthread_mutex_unlock(&a->lock);
	}
	if (rc && rc != -ENOENT && rc != -ENOTEMPTY) {
		char d[300];
		swift_describe_error(&r, d, sizeof(d));
		LOGE("rmdir: deleting container %s failed: %s", name, d);
	}
	swift_req_cleanup(&r);
	forget_names(a);
	return rc;
}

int fs_account_statfs(struct swiftfs_account *a, struct statvfs *sv)
{
	struct swiftfs_req r;
	swift_req_init(&r, "HEAD");
	int rc = swift_request(a->c, &r);
	if (rc) {
		swift_req_cleanup(&r);
		return rc;
	}
	const char *v = swift_req_header(&r, "X-Account-Bytes-Used");
	uint64_t used = v ? strtoull(v, NULL, 10) : 0;
	v = swift_req_header(&r, "X-Account-Object-Count");
	uint64_t objects = v ? strtoull(v, NULL, 10) : 0;
	v = swift_req_header(&r, "X-Account-Meta-Quota-Bytes");
	uint64_t quota = v ? strtoull(v, NULL, 10) : 0;
	swift_req_cleanup(&r);
	fs_fill_statvfs(sv, used, objects, quota, 0);
	return 0;
}

void fs_account_log_stats(struct swiftfs_account *a)
{
	pthread_mutex_lock(&a->lock);
	struct swiftfs_fs *any = NULL;
	size_t used = 0;
	for (size_t i = 0; i < a->nslots; i++) {
		if (a->slots[i].fs) {
			any = a->slots[i].fs;
			used++;
		}
	}
	pthread_mutex_unlock(&a->lock);
	LOGI("account mount: %zu container(s) used", used);
	if (any)
		fs_log_stats(any); /* the counters are the shared client's */
}
