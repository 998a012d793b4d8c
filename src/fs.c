/* Filesystem core (see fs.h for where attributes come from). Pattern of
 * every operation: take the table lock, find the inode and take a
 * reference, copy what the request needs, drop the lock; do the network
 * I/O; take the lock again to publish the result. A directory's listing
 * is fetched by one thread at a time (list_busy); others wait for it. */
#include "swiftfs/fs.h"
#include "fs_internal.h"
#include "swiftfs/fs_versions.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <time.h>

#include "swiftfs/block_cache.h"
#include "swiftfs/inode.h"
#include "swiftfs/listing.h"
#include "swiftfs/log.h"
#include "swiftfs/opts.h"
#include "swiftfs/reader.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"
#include "swiftfs/workpool.h"
#include "swiftfs/writeback.h"

/* Cluster limits from /info (defaults are Swift's own when it is hidden). */
static void read_info(struct swiftfs_fs *fs)
{
	struct swiftfs_req r;
	json_object *root = NULL, *sect, *v;

	swift_req_init(&r, "GET");
	r.flags = SWIFT_REQ_INFO;
	if (swift_request(fs->c, &r) != 0) {
		LOGI("no /info from the cluster (HTTP %ld): assuming Swift's default limits",
		     r.status);
		goto out;
	}
	buf_terminate(&r.resp_body);
	xattr_info_parse(r.resp_body.data, &fs->xinfo); /* xattr limits, TempURL digest */
	root = json_tokener_parse(r.resp_body.data ? r.resp_body.data : "");
	if (!root)
		goto out;
	if (json_object_object_get_ex(root, "swift", &sect)) {
		if (json_object_object_get_ex(sect, "max_file_size", &v))
			fs->max_file_size = (uint64_t)json_object_get_int64(v);
		if (json_object_object_get_ex(sect, "max_object_name_length", &v))
			fs->max_name = (unsigned)json_object_get_int(v);
		if (json_object_object_get_ex(sect, "container_listing_limit", &v))
			listing_set_page_limit(false, (unsigned)json_object_get_int(v));
		if (json_object_object_get_ex(sect, "account_listing_limit", &v))
			listing_set_page_limit(true, (unsigned)json_object_get_int(v));
	}
	if (json_object_object_get_ex(root, "slo", &sect) &&
	    json_object_object_get_ex(sect, "max_manifest_segments", &v))
		fs->max_segments = (unsigned)json_object_get_int(v);
	LOGD("cluster limits: max_file_size %llu, max_object_name_length %u, "
	     "max_manifest_segments %u", (unsigned long long)fs->max_file_size, fs->max_name,
	     fs->max_segments);
out:
	if (root)
		json_object_put(root);
	swift_req_cleanup(&r);
}

/* The block cache in <cache_dir>/blocks. Its default bound is a tenth of
 * the cache folder's file system, at most 10 GiB; at least 5% of that
 * file system (at most 1 GiB) is always left free. */
int fs_open_block_cache(const struct swiftfs_opts *o, struct swiftfs_block_cache **out)
{
	struct statvfs sv;
	uint64_t total = 0;
	char *dir = NULL;
	int rc;

	if (statvfs(o->cache_dir, &sv) == 0)
		total = (uint64_t)sv.f_blocks * sv.f_frsize;
	struct swiftfs_block_cache_cfg cfg = {
		.block_size = o->block_size,
		.max_bytes = o->cache_size,
		.min_free = total / 20 < (1ULL << 30) ? total / 20 : (1ULL << 30),
	};
	if (!cfg.max_bytes) {
		cfg.max_bytes = total / 10 < (10ULL << 30) ? total / 10 : (10ULL << 30);
		if (cfg.max_bytes < 16 * o->block_size)
			cfg.max_bytes = 16 * o->block_size;
	}
	if (asprintf(&dir, "%s/blocks", o->cache_dir) < 0)
		return -ENOMEM;
	cfg.dir = dir;
	rc = block_cache_new(&cfg, out);
	free(dir);
	return rc;
}

int fs_new(const struct swiftfs_opts *o, struct swiftfs_client *c, struct swiftfs_fs **out)
{
	return fs_new_shared(o, c, NULL, out);
}

int fs_new_shared(const struct swiftfs_opts *o, struct swiftfs_client *c,
		  struct swiftfs_block_cache *bc, struct swiftfs_fs **out)
{
	struct swiftfs_fs *fs = calloc(1, sizeof(*fs));
	int rc;
	if (!fs)
		return -ENOMEM;
	fs->wb_owner_fd = -1;
	fs->c = c;
	fs->container = strdup(o->container);
	if (o->prefix[0]) {
		fs->prefix_slash = malloc(strlen(o->prefix) + 2);
		if (fs->prefix_slash)
			sprintf(fs->prefix_slash, "%s/", o->prefix);
	} else {
		fs->prefix_slash = strdup("");
	}
	clock_gettime(CLOCK_REALTIME, &fs->start);
	fs->uid = o->uid;
	fs->gid = o->gid;
	fs->umask = o->have_umask ? o->umask : 022;
	fs->attr_timeout = o->attr_timeout;
	fs->entry_timeout = o->entry_timeout;
	fs->negative_timeout = o->negative_timeout;
	fs->chunk = o->read_chunk;
	fs->ahead = o->read_ahead;
	fs->overlay_ttl = o->listing_lag >= 0           ? o->listing_lag
			  : o->entry_timeout * 10 > 60 ? o->entry_timeout * 10
						       : 60;
	fs->ro = o->ro;
	fs->exact_attrs = o->exact_attrs;
	fs->segment_size = o->segment_size;
	fs->max_segments = 1000;
	fs->max_file_size = 5ULL << 30;
	fs->max_name = 1024;
	pthread_mutex_init(&fs->open_lock, NULL);
	xattr_info_default(&fs->xinfo);
	fs->tempurl_ttl = o->tempurl_ttl;
	if (asprintf(&fs->staging_dir, "%s/staging", o->cache_dir) < 0)
		fs->staging_dir = NULL;
	rc = inode_table_init(&fs->t);
	if (!rc && (!fs->container || !fs->prefix_slash || !fs->staging_dir))
		rc = -ENOMEM;
	if (!rc)
		read_info(fs);
	if (!rc)
		rc = workpool_new((unsigned)o->workers, &fs->pool);
	if (!rc)
		rc = workpool_new((unsigned)o->workers, &fs->uppool);
	fs->small_file = o->small_file;
	/* the account is the storage URL's path: the same account reached
	 * through another endpoint (a proxy, another region) is the same */
	char *url = swift_client_storage_url(c);
	const char *path = url ? strstr(url, "://") : NULL;
	path = path ? strchr(path + 3, '/') : NULL;
	fs->account = strdup(path ? path : url ? url : "");
	free(url);
	if (!rc && !fs->account)
		rc = -ENOMEM;
	if (!rc && bc) {
		fs->bc = bc;
		fs->bc_shared = true;
	} else if (!rc && o->cache) {
		rc = fs_open_block_cache(o, &fs->bc);
	}
	if (!rc && fs->bc && fs->small_file)
		rc = fs_prefetch_new(fs);
	if (!rc)
		rc = fs_versions_new(o->noversions_dir ? NULL : o->versions_dir, &fs->versions);
	fs->upcfg.client = c;
	fs->upcfg.pool = fs->uppool;
	fs->upcfg.account = fs->account;
	fs->upcfg.container = fs->container;
	fs->upcfg.segment_size = fs->segment_size;
	fs->upcfg.max_segments = fs->max_segments;
	if (asprintf(&fs->journal_dir, "%s/uploads", o->cache_dir) < 0)
		fs->journal_dir = NULL;
	if (!rc && !fs->ro && fs->journal_dir) {
		mkdir(fs->journal_dir, 0700);
		fs->upcfg.journal_dir = fs->journal_dir;
		upload_recover(&fs->upcfg);
	}
	pthread_mutex_init(&fs->subtree_lock, NULL);
	pthread_mutex_init(&fs->meta_lock, NULL);
	pthread_mutex_init(&fs->wb_lock, NULL);
	pthread_cond_init(&fs->wb_cond, NULL);
	fs->writeback = o->writeback && !fs->ro;
	fs->temp_names = strdup(fs->ro || !o->temp_names ? "" : o->temp_names);
	if (!rc && !fs->temp_names)
		rc = -ENOMEM;
	fs->wb_max = 1ULL << 30;
	if (asprintf(&fs->wb_dir, "%s/writeback", o->cache_dir) < 0)
		fs->wb_dir = NULL;
	if (!rc && !fs->wb_dir)
		rc = -ENOMEM;
	if (!rc && !fs->ro) {
		mkdir(fs->wb_dir, 0700);
		int orc = wb_owner_take(fs->wb_dir, &fs->wb_owner, &fs->wb_owner_fd);
		if (orc)
			LOGW("writeback: cannot take an owner lock in %s (%s): a mount sharing this "
			     "cache folder could take this one's queued uploads for interrupted ones",
			     fs->wb_dir, strerror(-orc));
		/* what an earlier mount closed but did not upload goes first */
		int left = wb_recover(fs->wb_dir, fs->account, &fs->upcfg, fs_wb_stale_add, fs);
		if (left)
			LOGW("writeback: %d file(s) closed by an earlier mount are still not in "
			     "Swift; their records stay in %s", left, fs->wb_dir);
	}
	bool queue = fs->writeback || (fs->temp_names && fs->temp_names[0]);
	if (!rc && queue)
		rc = workpool_new((unsigned)o->workers * 2, &fs->wbpool);
	if (!rc && queue)
		rc = fs_wb_start(fs);
	if (rc) {
		fs_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

void fs_free(struct swiftfs_fs *fs)
{
	if (!fs)
		return;
	/* handles still open when the session ended: the kernel will not
	 * release them any more */
	while (fs->open_files)
		fs_release(fs, fs->open_files);
	while (fs->open_dirs)
		fs_releasedir(fs, fs->open_dirs);
	__atomic_store_n(&fs->wb_stopping, 1, __ATOMIC_SEQ_CST);
	fs_wb_stop(fs);            /* delayed jobs go to the pool (and stop there) */
	workpool_free(fs->wbpool); /* uploads under way finish */
	if (fs->t.by_ino)
		fs_write_shutdown(fs);
	workpool_free(fs->uppool);
	workpool_free(fs->pool);
	fs_prefetch_free(fs);
	if (!fs->bc_shared)
		block_cache_free(fs->bc);
	free(fs->account);
	fs_versions_free(fs->versions);
	if (fs->t.by_ino)
		inode_table_destroy(&fs->t);
	free(fs->container);
	free(fs->prefix_slash);
	free(fs->staging_dir);
	free(fs->journal_dir);
	if (fs->wb_dir)
		wb_owner_drop(fs->wb_dir, fs->wb_owner, fs->wb_owner_fd);
	fs_wb_stale_free(fs);
	free(fs->wb_dir);
	free(fs->temp_names);
	fs_subtree_free(fs);
	pthread_mutex_destroy(&fs->subtree_lock);
	pthread_mutex_destroy(&fs->meta_lock);
	pthread_mutex_destroy(&fs->wb_lock);
	pthread_cond_destroy(&fs->wb_cond);
	pthread_mutex_destroy(&fs->open_lock);
	free(fs);
}

double fs_negative_timeout(struct swiftfs_fs *fs)
{
	return fs->negative_timeout;
}

/* --- helpers --------------------------------------------------------- */

char *fs_join(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);
	if (!s)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

/* Object name of an inode path, and the listing prefix of a directory. */
char *fs_object_name(struct swiftfs_fs *fs, const char *rel)
{
	return fs_join(fs->prefix_slash, rel, "");
}

char *fs_dir_prefix(struct swiftfs_fs *fs, const char *rel)
{
	return fs_join(fs->prefix_slash, rel, rel[0] ? "/" : "");
}

struct swiftfs_inode *fs_get_inode(struct swiftfs_fs *fs, uint64_t ino, char **path)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *n = inode_find_locked(&fs->t, ino);
	if (n) {
		inode_ref_locked(n);
		if (path) {
			*path = inode_path_locked(&fs->t, n);
			if (!*path) {
				inode_unref_locked(&fs->t, n);
				n = NULL;
			}
		}
	}
	pthread_mutex_unlock(&fs->t.lock);
	return n;
}

void fs_put_inode(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	pthread_mutex_lock(&fs->t.lock);
	inode_unref_locked(&fs->t, n);
	pthread_mutex_unlock(&fs->t.lock);
}

void fs_fill_stat(struct swiftfs_fs *fs, uint64_t ino, const struct swiftfs_attr *a,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 128 * 1024;
	switch (a->kind) {
	case DK_DIR:
		st->st_mode = S_IFDIR | (0777 & ~fs->umask);
		st->st_nlink = 2;
		st->st_size = 0;
		break;
	case DK_SYMLINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)a->size;
		break;
	default:
		st->st_mode = S_IFREG | (0666 & ~fs->umask);
		st->st_nlink = 1;
		st->st_size = (off_t)a->size;
		st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
		break;
	}
	if (a->have_mode && a->kind != DK_SYMLINK)
		st->st_mode = (st->st_mode & S_IFMT) | (a->mode & 07777);
	if (a->have_owner) {
		st->st_uid = a->uid;
		st->st_gid = a->gid;
	}
	struct timespec t = a->have_mtime ? a->mtime : fs->start;
	st->st_mtim = t;
	st->st_ctim = t;
	st->st_atim = t;
}

void fs_attr_from_dirent(const struct swiftfs_dirent *d, struct swiftfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = d->kind;
	a->size = d->size;
	a->mtime = d->mtime;
	a->have_mtime = d->kind != DK_DIR || d->has_marker;
	a->maybe_dlo = d->maybe_dlo;
	if (d->etag) {
		snprintf(a->etag, sizeof(a->etag), "%s", d->etag);
		snprintf(a->list_etag, sizeof(a->list_etag), "%s", d->etag);
		a->list_mtime = d->mtime;
	}
}

static int parse_http_date(const char *s, struct timespec *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%a, %d %b %Y %H:%M:%S", &tm))
		return -EINVAL;
	out->tv_sec = timegm(&tm);
	out->tv_nsec = 0;
	return 0;
}

/* Exact attributes from the headers of a HEAD or GET of an object (a's
 * kind is left as it is). */
void fs_attr_from_headers(const struct swiftfs_req *r, struct swiftfs_attr *a)
{
	const char *v = swift_req_header(r, "Content-Length");
	a->size = v ? strtoull(v, NULL, 10) : 0;
	/* all of it from these headers: a version without Mode or owner
	 * metadata has none (a was the inode's, maybe from an older one) */
	a->have_mode = a->have_owner = false;
	swift_req_etag(r, a->etag, sizeof(a->etag));
	a->is_dlo = swift_req_header(r, "X-Object-Manifest") != NULL;
	v = swift_req_header(r, "X-Static-Large-Object");
	a->is_slo = v && strcasecmp(v, "true") == 0;
	a->have_mtime = true;
	if (util_parse_float_time(swift_req_header(r, "X-Object-Meta-Mtime"), &a->mtime) != 0 &&
	    parse_http_date(swift_req_header(r, "Last-Modified"), &a->mtime) != 0)
		a->have_mtime = false;
	a->exact = true;
	a->maybe_dlo = false;
	v = swift_req_header(r, "X-Object-Meta-Mode");
	if (v && *v) {
		a->have_mode = true;
		a->mode = (unsigned)strtoul(v, NULL, 8) & 07777;
	}
	if (swift_req_header(r, "X-Object-Meta-Uid") && swift_req_header(r, "X-Object-Meta-Gid")) {
		a->have_owner = true;
		a->uid = (unsigned)strtoul(swift_req_header(r, "X-Object-Meta-Uid"), NULL, 10);
		a->gid = (unsigned)strtoul(swift_req_header(r, "X-Object-Meta-Gid"), NULL, 10);
	}
}

/* Is r's answer (a HEAD with symlink=get) the link object versioning
 * keeps for a name, to the name's current version? Then vid gets the
 * version's id. */
static bool version_link(const struct swiftfs_req *r, char *vid, size_t vidlen)
{
	const char *v = swift_req_header(r, "X-Object-Version-Id");
	const char *t = swift_req_header(r, "X-Symlink-Target");
	const char *q = t ? strstr(t, "?version-id=") : NULL;
	if (!v || !q || strcmp(q + 12, v) != 0 || !*v || strlen(v) >= vidlen ||
	    strspn(v, "0123456789.") != strlen(v))
		return false;
	snprintf(vid, vidlen, "%s", v);
	return true;
}

int fs_head_itself(struct swiftfs_fs *fs, const char *container, const char *object,
		   const char *query, struct swiftfs_req *r, char *vid, size_t vidlen)
{
	char q[160], v[64] = "";
	int rc;
	for (;;) {
		snprintf(q, sizeof(q), "%s%ssymlink=get%s%s", query ? query : "", query ? "&" : "",
			 v[0] ? "&version-id=" : "", v);
		swift_req_init(r, "HEAD");
		r->container = container;
		r->object = object;
		r->query = q;
		r->flags = SWIFT_REQ_QUIET_404;
		rc = swift_request(fs->c, r);
		/* the link: once more, for the version it names */
		if (rc || v[0] || !version_link(r, v, sizeof(v)))
			break;
		swift_req_cleanup(r);
	}
	if (vidlen)
		snprintf(vid, vidlen, "%s", v);
	r->query = NULL; /* q goes out of scope */
	return rc;
}

/* HEAD an object; fill a with exact attributes. With symlink, ask for the
 * object itself (fs_head_itself) and return a symlink's target. */
int fs_head_object(struct swiftfs_fs *fs, const char *object, bool symlink,
		       struct swiftfs_attr *a, char **target)
{
	struct swiftfs_req r;
	int rc;

	if (symlink) {
		rc = fs_head_itself(fs, fs->container, object, NULL, &r, NULL, 0);
	} else {
		swift_req_init(&r, "HEAD");
		r.container = fs->container;
		r.object = object;
		r.flags = SWIFT_REQ_QUIET_404;
		rc = swift_request(fs->c, &r);
	}
	if (rc) {
		if (rc != -ENOENT) {
			char what[256];
			swift_describe_error(&r, what, sizeof(what));
			LOGE("%s", what);
		}
		goto out;
	}
	fs_attr_from_headers(&r, a);
	const char *v;
	if (symlink && target) {
		/* the exact POSIX target a mount wrote wins; else Swift's
		 * "container/object" (URL-encoded on the wire) */
		v = swift_req_header(&r, "X-Object-Meta-Symlink-Target");
		if (v) {
			*target = util_url_decode(v);
			if (*target) {
				char *marked = NULL;
				if (asprintf(&marked, "%c%s", SYMLINK_RAW_MARK, *target) < 0)
					marked = NULL;
				free(*target);
				*target = marked;
			}
		} else {
			v = swift_req_header(&r, "X-Symlink-Target");
			*target = v ? util_url_decode(v) : NULL;
		}
		a->size = *target ? strlen(*target) : 0;
		if (*target && (*target)[0] == SYMLINK_RAW_MARK)
			a->size--; /* the marker is ours, not the target's */
	}
out:
	swift_req_cleanup(&r);
	return rc;
}

/* A name this mount wrote that a fresh listing lacks was either not
 * listed yet (Swift's listings lag) or deleted by another client: a HEAD
 * tells which, and a deleted one loses its overlay. Names with local data
 * not yet uploaded are left alone. No lock held on entry. */
static void verify_overlays(struct swiftfs_fs *fs, struct swiftfs_inode *dir, const char *prefix,
			    struct swiftfs_dlref *ref)
{
	char *names[16];
	double made[16];
	size_t n = 0;
	double now = util_now();

	pthread_mutex_lock(&fs->t.lock);
	for (struct swiftfs_overlay *o = dir->overlay; o && n < ARRAY_SIZE(names); o = o->next) {
		if (!o->present || o->d.kind == DK_DIR || o->until < now ||
		    listing_dirlist_find(&ref->dl, o->name))
			continue;
		struct swiftfs_inode *c = inode_child_locked(&fs->t, dir, o->name);
		if (c && c->w)
			continue;
		names[n] = strdup(o->name);
		made[n] = o->made_at;
		if (names[n])
			n++;
	}
	pthread_mutex_unlock(&fs->t.lock);
	for (size_t i = 0; i < n; i++) {
		struct swiftfs_attr a = { 0 };
		char *object = fs_join(prefix, names[i], "");
		int rc = object ? fs_head_object(fs, object, true, &a, NULL) : -ENOMEM;
		free(object);
		if (rc != -ENOENT)
			continue;
		pthread_mutex_lock(&fs->t.lock);
		/* the overlay the HEAD was for: a newer one of that name (the
		 * file made again meanwhile) is not the deleted one */
		struct swiftfs_inode *c = inode_child_locked(&fs->t, dir, names[i]);
		for (struct swiftfs_overlay **pp = &dir->overlay; *pp; pp = &(*pp)->next) {
			if (strcmp((*pp)->name, names[i]) == 0) {
				struct swiftfs_overlay *o = *pp;
				if (o->made_at == made[i] && !(c && c->w)) {
					*pp = o->next;
					o->next = NULL;
					overlay_free(o);
				}
				break;
			}
		}
		pthread_mutex_unlock(&fs->t.lock);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

/* The listing of directory dir (referenced by the caller), fresh or
 * fetched now; returned with a reference. */
int fs_get_listing(struct swiftfs_fs *fs, struct swiftfs_inode *dir, struct swiftfs_dlref **out)
{
	struct swiftfs_lpage page = { 0 };
	struct swiftfs_dlref *ref = NULL;
	char *rel = NULL, *prefix = NULL;
	unsigned pages = 0;
	int rc;

	pthread_mutex_lock(&fs->t.lock);
	for (;;) {
		if (dir->list && util_now() < dir->list_expire) {
			dir->list->refs++;
			*out = dir->list;
			pthread_mutex_unlock(&fs->t.lock);
			return 0;
		}
		if (!dir->list_busy)
			break;
		pthread_cond_wait(&fs->t.cond, &fs->t.lock);
	}
	dir->list_busy = true;
	rel = inode_path_locked(&fs->t, dir);
	double changed_at = dir->changed_at;
	pthread_mutex_unlock(&fs->t.lock);

	prefix = rel ? fs_dir_prefix(fs, rel) : NULL;
	ref = calloc(1, sizeof(*ref));
	if (!prefix || !ref) {
		rc = -ENOMEM;
		goto out;
	}
	double t0 = util_now();
	/* a kept listing is as old as the walk's: it expires when that does */
	double expire = 0;
	rc = 0;
	if (!fs_subtree_take(fs, prefix, changed_at, &ref->dl, &expire)) {
		rc = listing_fetch(fs->c, fs->container, prefix, true, 0, &page, &pages);
		if (rc) {
			LOGE("listing of '%s' in %s failed: %s", prefix, fs->container,
			     strerror(-rc));
			goto out;
		}
		rc = listing_to_dirlist(prefix, &page, &ref->dl);
		if (rc)
			goto out;
	}
	verify_overlays(fs, dir, prefix, ref);
	fs_prefetch_listing(fs, prefix, &ref->dl);
	LOGD("listed '%s': %zu entries in %u request(s), %.3fs", prefix, ref->dl.n, pages,
	     util_now() - t0);
	ref->refs = 1;
out:
	listing_page_free(&page);
	pthread_mutex_lock(&fs->t.lock);
	dir->list_busy = false;
	pthread_cond_broadcast(&fs->t.cond);
	if (!rc) {
		overlay_apply_locked(fs, dir, ref);
		dlref_put_locked(dir->list);
		dir->list = ref;
		dir->list_expire = expire > 0 ? expire : util_now() + fs->entry_timeout;
		ref->refs++;
		*out = ref;
		ref = NULL;
	}
	pthread_mutex_unlock(&fs->t.lock);
	free(ref);
	free(rel);
	free(prefix);
	return rc;
}

/* Attributes for child `name` of dir from its listing entry d, keeping
 * exact (HEAD) attributes an existing inode has for the same ETag. */
bool fs_keep_exact_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir, const char *name,
			      const struct swiftfs_dirent *d, struct swiftfs_attr *a)
{
	struct swiftfs_inode *old = inode_child_locked(&fs->t, dir, name);
	if (old && old->w && old->attr.kind == d->kind) {
		/* local data not (yet) in Swift: this mount knows better */
		*a = old->attr;
		return true;
	}
	const struct swiftfs_attr *kept = old ? &old->attr : inode_ghost_find_locked(&fs->t, dir, name);
	if (!kept || !kept->exact || kept->kind != d->kind || !d->etag ||
	    strcmp(kept->list_etag, d->etag) != 0)
		return false;
	/* the same hash is not the same object when it was PUT again since
	 * (a retargeted symlink: always the empty hash; new metadata on the
	 * same bytes). A time not known (an upload of this mount) passes,
	 * except for a symlink, whose target only a HEAD tells. */
	bool known = kept->list_mtime.tv_sec || kept->list_mtime.tv_nsec;
	if (known ? kept->list_mtime.tv_sec != d->mtime.tv_sec ||
			    kept->list_mtime.tv_nsec != d->mtime.tv_nsec
		  : d->kind == DK_SYMLINK)
		return false;
	*a = *kept;
	return true;
}

/* --- listing overlays (read-after-write, see inode.h) --------------- */

static int dirent_copy(struct swiftfs_dirent *dst, const struct swiftfs_dirent *src)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->marker_name = util_strdup0(src->marker_name);
	dst->etag = util_strdup0(src->etag);
	dst->content_type = util_strdup0(src->content_type);
	if (!dst->name || (src->marker_name && !dst->marker_name) ||
	    (src->etag && !dst->etag) || (src->content_type && !dst->content_type))
		return -ENOMEM;
	return 0;
}

static void dirent_release(struct swiftfs_dirent *d)
{
	free(d->name);
	free(d->marker_name);
	free(d->etag);
	free(d->content_type);
}

/* Insert, replace (d) or remove (d == NULL) name in dl, keeping it sorted. */
static int dirlist_set(struct swiftfs_dirlist *dl, const char *name, const struct swiftfs_dirent *d)
{
	size_t lo = 0, hi = dl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(dl->v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	bool found = lo < dl->n && strcmp(dl->v[lo].name, name) == 0;
	if (!d) {
		if (found) {
			dirent_release(&dl->v[lo]);
			memmove(&dl->v[lo], &dl->v[lo + 1], (dl->n - lo - 1) * sizeof(*dl->v));
			dl->n--;
		}
		return 0;
	}
	struct swiftfs_dirent copy;
	int rc = dirent_copy(&copy, d);
	if (rc) {
		dirent_release(&copy);
		return rc;
	}
	if (found) {
		dirent_release(&dl->v[lo]);
		dl->v[lo] = copy;
		return 0;
	}
	struct swiftfs_dirent *v = realloc(dl->v, (dl->n + 1) * sizeof(*v));
	if (!v) {
		dirent_release(&copy);
		return -ENOMEM;
	}
	dl->v = v;
	memmove(&dl->v[lo + 1], &dl->v[lo], (dl->n - lo) * sizeof(*dl->v));
	dl->v[lo] = copy;
	dl->n++;
	return 0;
}

/* The directory's cached listing, made private to it (copied when an open
 * directory handle still shares it). NULL when none is cached. */
static struct swiftfs_dlref *own_list_locked(struct swiftfs_inode *dir)
{
	struct swiftfs_dlref *old = dir->list;
	if (!old || old->refs == 1)
		return old;
	struct swiftfs_dlref *nw = calloc(1, sizeof(*nw));
	if (!nw)
		return NULL;
	nw->refs = 1;
	nw->dl.v = calloc(old->dl.n ? old->dl.n : 1, sizeof(*nw->dl.v));
	if (!nw->dl.v) {
		free(nw);
		return NULL;
	}
	for (size_t i = 0; i < old->dl.n; i++) {
		if (dirent_copy(&nw->dl.v[i], &old->dl.v[i])) {
			nw->dl.n = i + 1;
			dlref_put_locked(nw);
			return NULL;
		}
		nw->dl.n = i + 1;
	}
	dlref_put_locked(old);
	dir->list = nw;
	return nw;
}

/* d NULL: name removed; dir_gone: it was a directory (see
 * fs_dir_note_dir_gone_locked). */
static void note_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir, const char *name,
			const struct swiftfs_dirent *d, bool dir_gone)
{
	struct swiftfs_overlay *o = NULL;
	dir->changed_at = util_now();
	/* one overlay entry per name: replace an older one */
	for (struct swiftfs_overlay **pp = &dir->overlay; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			o = *pp;
			*pp = o->next;
			o->next = NULL;
			overlay_free(o);
			break;
		}
	}
	o = calloc(1, sizeof(*o));
	if (o) {
		o->name = strdup(name);
		o->present = d != NULL;
		o->until = util_now() + fs->overlay_ttl;
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		o->made_at = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
		if (!o->name || (d && dirent_copy(&o->d, d))) {
			overlay_free(o);
			o = NULL;
		} else if (dir_gone) {
			o->d.kind = DK_DIR;
		}
	}
	if (o) {
		o->next = dir->overlay;
		dir->overlay = o;
	}
	if (dir_gone) {
		/* fetched anew: a file the directory hid shows at once */
		if (dir->list) {
			dlref_put_locked(dir->list);
			dir->list = NULL;
		}
		return;
	}
	struct swiftfs_dlref *l = own_list_locked(dir);
	if (l && dirlist_set(&l->dl, name, d)) {
		/* could not patch the cached listing: drop it, refetch later */
		dlref_put_locked(dir->list);
		dir->list = NULL;
	}
}

void fs_dir_note_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir, const char *name,
			const struct swiftfs_dirent *d)
{
	note_locked(fs, dir, name, d, false);
}

void fs_dir_note_dir_gone_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir,
				 const char *name)
{
	note_locked(fs, dir, name, NULL, true);
}

bool fs_overlay_live_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir,
			    const struct swiftfs_overlay *o, double now)
{
	if (now <= o->until)
		return true;
	/* a file written for longer than the overlay's life (a big copy, a
	 * log), or whose upload waits (writeback, a failing Swift), is not
	 * in Swift yet: its name must not vanish with the overlay */
	if (!o->present || o->d.kind != DK_FILE)
		return false;
	struct swiftfs_inode *c = inode_child_locked(&fs->t, dir, o->name);
	return c && c->w;
}

/* Re-apply live local changes to a freshly fetched listing (refs 1);
 * forget those the listing already shows. */
void overlay_apply_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir,
			  struct swiftfs_dlref *ref)
{
	double now = util_now();
	for (struct swiftfs_overlay **pp = &dir->overlay; *pp;) {
		struct swiftfs_overlay *o = *pp;
		const struct swiftfs_dirent *got = listing_dirlist_find(&ref->dl, o->name);
		/* a directory removed: a file of its name (which it hid) is
		 * not the directory */
		bool agrees = o->present
			? got && got->kind == o->d.kind &&
			  (o->d.kind != DK_FILE ||
			   (got->etag && o->d.etag && strcmp(got->etag, o->d.etag) == 0))
			: got == NULL || (o->d.kind == DK_DIR && got->kind != DK_DIR);
		/* an entry written after our change (another client) wins */
		bool newer = got && got->kind != DK_DIR &&
			     (double)got->mtime.tv_sec + (double)got->mtime.tv_nsec / 1e9 > o->made_at;
		if (agrees || newer || !fs_overlay_live_locked(fs, dir, o, now)) {
			*pp = o->next;
			o->next = NULL;
			overlay_free(o);
			continue;
		}
		dirlist_set(&ref->dl, o->name, o->present ? &o->d : NULL);
		pp = &o->next;
	}
}

bool fs_dir_local_children_locked(struct swiftfs_fs *fs, struct swiftfs_inode *d)
{
	double now = util_now();
	for (struct swiftfs_overlay *o = d->overlay; o; o = o->next)
		if (o->present && fs_overlay_live_locked(fs, d, o, now))
			return true;
	return false;
}

/* --- operations ------------------------------------------------------ */

/* The inode number holding parent/name now, 0 for none. */
static uint64_t child_ino(struct swiftfs_fs *fs, struct swiftfs_inode *p, const char *name)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *c = inode_child_locked(&fs->t, p, name);
	uint64_t ino = c ? c->ino : 0;
	pthread_mutex_unlock(&fs->t.lock);
	return ino;
}

/* parent/name is gone from Swift (deleted by another client): an inode the
 * kernel still holds under it (a shell's working folder, an open file) no
 * longer owns the name, or mkdir, ln and mv would find it there (EEXIST,
 * EISDIR) while ls does not. Only the inode that held the name before the
 * listing was read (was_ino), so not one that a mkdir, create or rename
 * linked meanwhile; and not one with local data, or a folder holding
 * files made through the mount. */
static void name_gone(struct swiftfs_fs *fs, struct swiftfs_inode *p, const char *name,
		      uint64_t was_ino)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *c = inode_child_locked(&fs->t, p, name);
	if (c && c->ino == was_ino && !c->w && !fs_dir_local_children_locked(fs, c))
		inode_unhash_locked(&fs->t, c);
	pthread_mutex_unlock(&fs->t.lock);
}

int fs_lookup(struct swiftfs_fs *fs, uint64_t parent, const char *name, struct swiftfs_entry *e)
{
	struct swiftfs_dlref *lr = NULL;
	struct swiftfs_attr a;
	char *prel = NULL, *object = NULL, *target = NULL;
	double checked_at = util_now();
	int rc;

	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	struct swiftfs_inode *p = fs_get_inode(fs, parent, &prel);
	if (!p)
		return -ESTALE;
	if (p->attr.kind != DK_DIR) {
		rc = -ENOTDIR;
		goto out;
	}
	uint64_t was_ino = child_ino(fs, p, name);
	rc = fs_get_listing(fs, p, &lr);
	if (rc)
		goto out;
	const struct swiftfs_dirent *d = listing_dirlist_find(&lr->dl, name);
	if (!d) {
		name_gone(fs, p, name, was_ino);
		rc = -ENOENT;
		goto out;
	}
	fs_attr_from_dirent(d, &a);
	pthread_mutex_lock(&fs->t.lock);
	bool have_exact = fs_keep_exact_locked(fs, p, name, d, &a);
	pthread_mutex_unlock(&fs->t.lock);
	if (!have_exact && d->kind != DK_DIR) {
		char *rel = prel[0] ? fs_join(prel, "/", name) : strdup(name);
		object = rel ? fs_object_name(fs, rel) : NULL;
		free(rel);
		if (!object) {
			rc = -ENOMEM;
			goto out;
		}
		struct swiftfs_attr h = a;
		/* a small file comes whole instead of HEADed: one request for
		 * the stat and the open (and read) that usually follow */
		rc = -EAGAIN;
		if (d->kind == DK_FILE) {
			size_t lo = strlen(object), ln = strlen(name);
			char *dprefix = lo >= ln ? strndup(object, lo - ln) : NULL;
			rc = dprefix ? fs_prefetch_lookup(fs, dprefix, &lr->dl, object, &h, &checked_at)
				     : -ENOMEM;
			free(dprefix);
		}
		if (rc == -EAGAIN)
			rc = fs_head_object(fs, object, d->kind == DK_SYMLINK, &h, &target);
		if (rc == -ENOENT)
			name_gone(fs, p, name, was_ino); /* deleted since the listing */
		if (rc)
			goto out;
		snprintf(h.list_etag, sizeof(h.list_etag), "%s", d->etag ? d->etag : "");
		h.list_mtime = d->mtime;
		a = h;
	}
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *n = inode_link_locked(&fs->t, p, name, &a);
	if (!n) {
		pthread_mutex_unlock(&fs->t.lock);
		rc = -ENOMEM;
		goto out;
	}
	if (target) {
		free(n->symlink_target);
		n->symlink_target = target;
		target = NULL;
	}
	if (!have_exact && d->kind != DK_DIR) {
		n->head_at = checked_at;
		n->head_unused = true;
	}
	n->attr_expire = util_now() + fs->attr_timeout;
	e->ino = n->ino;
	fs_fill_stat(fs, n->ino, &n->attr, &e->st);
	pthread_mutex_unlock(&fs->t.lock);
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
out:
	if (lr) {
		pthread_mutex_lock(&fs->t.lock);
		dlref_put_locked(lr);
		pthread_mutex_unlock(&fs->t.lock);
	}
	fs_put_inode(fs, p);
	free(prel);
	free(object);
	free(target);
	return rc;
}

void fs_forget(struct swiftfs_fs *fs, uint64_t ino, uint64_t nlookup)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *n = inode_find_locked(&fs->t, ino);
	if (n)
		inode_forget_locked(&fs->t, n, nlookup);
	pthread_mutex_unlock(&fs->t.lock);
}

/* Publish what a HEAD said about file n (table lock held). An object
 * unchanged since it was listed keeps the time, mode and owner a stat
 * already showed (default mode), so they do not change under a reader. */
void settle_head_locked(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_attr *a)
{
	snprintf(a->list_etag, sizeof(a->list_etag), "%s", n->attr.list_etag);
	a->list_mtime = n->attr.list_mtime;
	if (!fs->exact_attrs && !n->attr.exact && n->attr.have_mtime &&
	    strcmp(a->etag, n->attr.etag) == 0) {
		a->mtime = n->attr.mtime;
		a->have_mode = n->attr.have_mode;
		a->mode = n->attr.mode;
		a->have_owner = n->attr.have_owner;
		a->uid = n->attr.uid;
		a->gid = n->attr.gid;
		a->exact = false;
	}
	n->attr = *a;
	n->head_at = util_now();
	n->attr_expire = n->head_at + fs->attr_timeout;
}

int fs_getattr(struct swiftfs_fs *fs, uint64_t ino, struct stat *st, double *timeout)
{
	struct swiftfs_attr a;
	char *rel = NULL, *object = NULL;
	int rc = 0;

	*timeout = fs->attr_timeout;
	struct swiftfs_inode *n = fs_get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
	pthread_mutex_lock(&fs->t.lock);
	/* a file with local data is described by it, not by Swift, and one
	 * removed or replaced (still open) by what it knew: its name is not
	 * its own; a symlink (whose size is its target's length) and, with
	 * exact_attrs, a file known only from a listing are asked about once */
	bool fresh = n->w || n->attr.kind == DK_DIR || !n->hashed ||
		     (util_now() < n->attr_expire &&
		      (n->attr.exact || (n->attr.kind == DK_FILE && !fs->exact_attrs)));
	bool link = n->attr.kind == DK_SYMLINK;
	a = n->attr;
	pthread_mutex_unlock(&fs->t.lock);
	if (!fresh) {
		char *target = NULL;
		object = fs_object_name(fs, rel);
		if (!object) {
			rc = -ENOMEM;
			goto out;
		}
		rc = fs_head_object(fs, object, link, &a, link ? &target : NULL);
		if (rc)
			goto out;
		pthread_mutex_lock(&fs->t.lock);
		if (target) {
			free(n->symlink_target);
			n->symlink_target = target;
		}
		settle_head_locked(fs, n, &a);
		pthread_mutex_unlock(&fs->t.lock);
	}
	fs_fill_stat(fs, ino, &a, st);
out:
	fs_put_inode(fs, n);
	free(rel);
	free(object);
	return rc;
}

/* Path of `to` relative to the folder holding `from` (both relative to
 * the mount root): common leading folders dropped, one "../" for each
 * folder of `from` left. */
static char *relative_path(const char *from, const char *to)
{
	struct swiftfs_buf b = { 0 };
	const char *f = from, *t = to;
	for (;;) {
		const char *fs_ = strchr(f, '/');
		const char *ts = strchr(t, '/');
		if (!fs_ || !ts || fs_ - f != ts - t || strncmp(f, t, (size_t)(fs_ - f)) != 0)
			break;
		f = fs_ + 1;
		t = ts + 1;
	}
	for (const char *s = strchr(f, '/'); s; s = strchr(s + 1, '/'))
		buf_printf(&b, "../");
	buf_printf(&b, "%s", t);
	return b.data;
}

int fs_readlink(struct swiftfs_fs *fs, uint64_t ino, char **target)
{
	char *rel = NULL;
	int rc = 0;
	struct swiftfs_inode *n = fs_get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
	pthread_mutex_lock(&fs->t.lock);
	bool unknown = n->attr.kind == DK_SYMLINK && !n->symlink_target;
	pthread_mutex_unlock(&fs->t.lock);
	if (unknown) {
		/* known from a listing only: ask for the link itself */
		struct swiftfs_attr a = { .kind = DK_SYMLINK };
		char *t = NULL, *object = fs_object_name(fs, rel);
		rc = object ? fs_head_object(fs, object, true, &a, &t) : -ENOMEM;
		free(object);
		if (rc) {
			free(t);
			goto out;
		}
		pthread_mutex_lock(&fs->t.lock);
		if (!n->symlink_target) {
			n->symlink_target = t;
			t = NULL;
			n->attr.size = a.size;
		}
		pthread_mutex_unlock(&fs->t.lock);
		free(t);
	}
	pthread_mutex_lock(&fs->t.lock);
	if (n->attr.kind != DK_SYMLINK)
		rc = -EINVAL;
	else if (!n->symlink_target)
		rc = -EIO;
	const char *tgt = n->symlink_target;
	char *dup = rc ? NULL : strdup(tgt);
	pthread_mutex_unlock(&fs->t.lock);
	if (rc)
		goto out;
	if (!dup) {
		rc = -ENOMEM;
		goto out;
	}
	if (dup[0] == SYMLINK_RAW_MARK) {
		/* the target exactly as it was written through a mount */
		memmove(dup, dup + 1, strlen(dup));
		*target = dup;
		goto out;
	}
	/* X-Symlink-Target is "container/object" (or "/account/..." with
	 * X-Symlink-Target-Account). A target in this container, under the
	 * mount, is given back relative to the link's folder. */
	size_t cl = strlen(fs->container);
	size_t pl = strlen(fs->prefix_slash);
	const char *obj = NULL;
	if (strncmp(dup, fs->container, cl) == 0 && dup[cl] == '/')
		obj = dup + cl + 1;
	if (obj && strncmp(obj, fs->prefix_slash, pl) == 0) {
		*target = relative_path(rel, obj + pl);
		free(dup);
		if (!*target)
			rc = -ENOMEM;
	} else {
		*target = dup;
	}
out:
	fs_put_inode(fs, n);
	free(rel);
	return rc;
}

int fs_opendir(struct swiftfs_fs *fs, uint64_t ino, struct swiftfs_dir **out)
{
	struct swiftfs_dir *d = NULL;
	int rc;
	struct swiftfs_inode *n = fs_get_inode(fs, ino, NULL);
	if (!n)
		return -ESTALE;
	if (n->attr.kind != DK_DIR) {
		rc = -ENOTDIR;
		goto fail;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		rc = -ENOMEM;
		goto fail;
	}
	/* a fresh listing on every opendir within the cache time is served
	 * from the cache; `ls` after entry_timeout sees new objects */
	fs_subtree_opendir(fs, n);
	rc = fs_get_listing(fs, n, &d->list);
	if (rc)
		goto fail;
	d->inode = n;
	pthread_mutex_lock(&fs->t.lock);
	d->parent_ino = n->parent ? n->parent->ino : n->ino;
	pthread_mutex_unlock(&fs->t.lock);
	pthread_mutex_lock(&fs->open_lock);
	d->open_next = fs->open_dirs;
	if (fs->open_dirs)
		fs->open_dirs->open_prev = d;
	fs->open_dirs = d;
	pthread_mutex_unlock(&fs->open_lock);
	*out = d;
	return 0;
fail:
	free(d);
	fs_put_inode(fs, n);
	return rc;
}

int fs_readdir(struct swiftfs_fs *fs, struct swiftfs_dir *d, size_t idx, bool plus,
	       const char **name, struct swiftfs_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (idx < 2) {
		struct swiftfs_attr a = { .kind = DK_DIR };
		*name = idx == 0 ? "." : "..";
		e->ino = idx == 0 ? d->inode->ino : d->parent_ino;
		fs_fill_stat(fs, e->ino, &a, &e->st);
		return 1;
	}
	idx -= 2;
	if (idx >= d->list->dl.n)
		return 0;
	const struct swiftfs_dirent *de = &d->list->dl.v[idx];
	/* the versions tree hides what Swift has under its name: a lookup
	 * of it finds the tree, so the listing must not show the object (a
	 * readdirplus entry would give the kernel the object's inode) */
	if (d->inode->ino == SWIFTFS_ROOT_INO &&
	    fs_versions_owns_lookup(fs, SWIFTFS_ROOT_INO, de->name))
		return 2;
	struct swiftfs_attr a;
	fs_attr_from_dirent(de, &a);
	*name = de->name;
	pthread_mutex_lock(&fs->t.lock);
	fs_keep_exact_locked(fs, d->inode, de->name, de, &a);
	if (!plus) {
		struct swiftfs_inode *old = inode_child_locked(&fs->t, d->inode, de->name);
		e->ino = old ? old->ino : 0xffffffffULL; /* d_ino is advisory here */
		fs_fill_stat(fs, e->ino, &a, &e->st);
		pthread_mutex_unlock(&fs->t.lock);
		return 1;
	}
	struct swiftfs_inode *n = inode_link_locked(&fs->t, d->inode, de->name, &a);
	if (!n) {
		pthread_mutex_unlock(&fs->t.lock);
		return -ENOMEM;
	}
	/* a zero-byte object may be a DLO whose size only a HEAD tells:
	 * give it no attribute cache time so the next stat asks us */
	bool uncertain = !a.exact && (a.maybe_dlo || a.kind == DK_SYMLINK ||
				      (fs->exact_attrs && a.kind == DK_FILE));
	n->attr_expire = uncertain ? 0 : util_now() + fs->attr_timeout;
	e->ino = n->ino;
	fs_fill_stat(fs, n->ino, &n->attr, &e->st);
	pthread_mutex_unlock(&fs->t.lock);
	e->attr_timeout = uncertain ? 0 : fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	return 1;
}

void fs_releasedir(struct swiftfs_fs *fs, struct swiftfs_dir *d)
{
	pthread_mutex_lock(&fs->open_lock);
	if (d->open_prev)
		d->open_prev->open_next = d->open_next;
	else if (fs->open_dirs == d)
		fs->open_dirs = d->open_next;
	if (d->open_next)
		d->open_next->open_prev = d->open_prev;
	pthread_mutex_unlock(&fs->open_lock);
	pthread_mutex_lock(&fs->t.lock);
	dlref_put_locked(d->list);
	inode_unref_locked(&fs->t, d->inode);
	pthread_mutex_unlock(&fs->t.lock);
	free(d);
}

int fs_open(struct swiftfs_fs *fs, uint64_t ino, int flags, struct swiftfs_file **out)
{
	struct swiftfs_file *f = NULL;
	struct swiftfs_attr a;
	char *rel = NULL, *object = NULL;
	int rc;

	bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	if (writing && fs->ro)
		return -EROFS;
	struct swiftfs_inode *n = fs_get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
	pthread_mutex_lock(&fs->t.lock);
	a = n->attr;
	pthread_mutex_unlock(&fs->t.lock);
	if (a.kind == DK_DIR) {
		rc = -EISDIR;
		goto fail;
	}
	object = fs_object_name(fs, rel);
	f = calloc(1, sizeof(*f));
	if (!object || !f) {
		rc = -ENOMEM;
		goto fail;
	}
	f->inode = n;
	f->flags = flags;
	if (writing) {
		if (a.kind != DK_FILE) {
			rc = -EPERM;
			goto fail;
		}
		rc = fs_open_write(fs, n, object, flags, f);
		if (rc)
			goto fail;
		goto done;
	}
	if (fs_open_local(fs, n, f))
		goto done; /* read-after-write: through the local data */
	rc = fs_open_read(fs, n, object, f);
	if (rc)
		goto fail;
done:
	fs_file_track(fs, f);
	*out = f;
	free(rel);
	free(object);
	return 0;
fail:
	free(f);
	fs_put_inode(fs, n);
	free(rel);
	free(object);
	return rc;
}

ssize_t fs_read(struct swiftfs_fs *fs, struct swiftfs_file *f, char *buf, size_t size, uint64_t off)
{
	if (f->w)
		return fs_read_local(fs, f, buf, size, off);
	return reader_read(f->reader, buf, size, off);
}

int fs_read_fd(struct swiftfs_fs *fs, struct swiftfs_file *f, size_t size, uint64_t off, int *fd,
	       uint64_t *pos, size_t *len)
{
	(void)fs;
	if (f->w)
		return -EAGAIN; /* local data: fs_read() */
	return reader_read_fd(f->reader, size, off, fd, pos, len);
}

bool fs_file_changed(const struct swiftfs_file *f)
{
	return f->changed;
}

bool fs_file_keep_cache(const struct swiftfs_file *f)
{
	return f->keep_cache;
}

bool fs_file_direct_io(const struct swiftfs_file *f)
{
	return f->direct_io;
}

void fs_file_track(struct swiftfs_fs *fs, struct swiftfs_file *f)
{
	pthread_mutex_lock(&fs->open_lock);
	f->open_prev = NULL;
	f->open_next = fs->open_files;
	if (fs->open_files)
		fs->open_files->open_prev = f;
	fs->open_files = f;
	pthread_mutex_unlock(&fs->open_lock);
}

void fs_release(struct swiftfs_fs *fs, struct swiftfs_file *f)
{
	pthread_mutex_lock(&fs->open_lock);
	if (f->open_prev)
		f->open_prev->open_next = f->open_next;
	else if (fs->open_files == f)
		fs->open_files = f->open_next;
	if (f->open_next)
		f->open_next->open_prev = f->open_prev;
	pthread_mutex_unlock(&fs->open_lock);
	if (f->w)
		fs_release_local(fs, f);
	if (f->page_reader) {
		pthread_mutex_lock(&fs->t.lock);
		f->inode->page_readers--;
		pthread_mutex_unlock(&fs->t.lock);
	}
	reader_free(f->reader);
	fs_put_inode(fs, f->inode);
	free(f);
}

static uint64_t header_u64(const struct swiftfs_req *r, const char *name, uint64_t dflt)
{
	const char *v = swift_req_header(r, name);
	return v && *v ? strtoull(v, NULL, 10) : dflt;
}

/* statfs figures from what Swift says: with no quota, 1 PiB (and as
 * many 4 KiB files) beyond what is used. */
void fs_fill_statvfs(struct statvfs *sv, uint64_t used, uint64_t objects, uint64_t qbytes,
		     uint64_t qcount)
{
	const uint64_t bsize = 4096;
	const uint64_t unlimited = 1ULL << 50;
	uint64_t total = qbytes ? qbytes : used + unlimited;
	uint64_t files = qcount ? qcount : objects + unlimited / bsize;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = bsize;
	sv->f_frsize = bsize;
	sv->f_blocks = total / bsize;
	sv->f_bfree = total > used ? (total - used) / bsize : 0;
	sv->f_bavail = sv->f_bfree;
	sv->f_files = files;
	sv->f_ffree = files > objects ? files - objects : 0;
	sv->f_favail = sv->f_ffree;
	sv->f_namemax = 255;
}

int fs_statfs(struct swiftfs_fs *fs, struct statvfs *sv)
{
	struct swiftfs_req r;
	int rc;

	swift_req_init(&r, "HEAD");
	r.container = fs->container;
	rc = swift_request(fs->c, &r);
	if (rc)
		goto out;
	uint64_t used = header_u64(&r, "X-Container-Bytes-Used", 0);
	uint64_t objects = header_u64(&r, "X-Container-Object-Count", 0);
	uint64_t qbytes = header_u64(&r, "X-Container-Meta-Quota-Bytes", 0);
	uint64_t qcount = header_u64(&r, "X-Container-Meta-Quota-Count", 0);
	swift_req_cleanup(&r);

	/* an account quota limits too: take the tighter one */
	swift_req_init(&r, "HEAD");
	if (swift_request(fs->c, &r) == 0) {
		uint64_t aq = header_u64(&r, "X-Account-Meta-Quota-Bytes", 0);
		uint64_t aused = header_u64(&r, "X-Account-Bytes-Used", 0);
		if (aq) {
			uint64_t left = aq > aused ? aq - aused : 0;
			uint64_t cap = used + left;
			if (!qbytes || cap < qbytes)
				qbytes = cap;
		}
	}
	fs_fill_statvfs(sv, used, objects, qbytes, qcount);
out:
	swift_req_cleanup(&r);
	return rc;
}

void fs_log_stats(struct swiftfs_fs *fs)
{
	struct swiftfs_client_stats s;
	swift_client_stats(fs->c, &s);
	LOGI("requests: %llu listing, %llu GET, %llu HEAD, %llu PUT, %llu POST, %llu DELETE, "
	     "%llu COPY, %llu container/account HEAD, %llu auth; %llu retries, %llu re-auths; "
	     "%llu bytes in, %llu bytes out",
	     (unsigned long long)s.listing, (unsigned long long)s.get, (unsigned long long)s.head,
	     (unsigned long long)s.put, (unsigned long long)s.post, (unsigned long long)s.del,
	     (unsigned long long)s.copy, (unsigned long long)s.meta_head,
	     (unsigned long long)s.auth, (unsigned long long)s.retries,
	     (unsigned long long)s.reauths, (unsigned long long)s.bytes_in,
	     (unsigned long long)s.bytes_out);
	if (fs->bc) {
		struct swiftfs_block_cache_stats b;
		block_cache_stats(fs->bc, &b);
		LOGI("block cache: %llu hits, %llu misses, %llu evicted, %llu damaged, "
		     "%llu not stored; %llu blocks, %llu bytes on disk; %llu read ahead from disk; "
		     "%llu hits zero-copy",
		     (unsigned long long)b.hits, (unsigned long long)b.misses,
		     (unsigned long long)b.evictions, (unsigned long long)b.corrupt,
		     (unsigned long long)b.store_skipped, (unsigned long long)b.blocks,
		     (unsigned long long)b.bytes, (unsigned long long)b.warmed,
		     (unsigned long long)b.opened);
	}
}
