/* Filesystem core (see fs.h for where attributes come from). Pattern of
 * every operation: take the table lock, find the inode and take a
 * reference, copy what the request needs, drop the lock; do the network
 * I/O; take the lock again to publish the result. A directory's listing
 * is fetched by one thread at a time (list_busy); others wait for it. */
#include "swiftfs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "swiftfs/inode.h"
#include "swiftfs/listing.h"
#include "swiftfs/log.h"
#include "swiftfs/opts.h"
#include "swiftfs/reader.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"
#include "swiftfs/workpool.h"

struct swiftfs_fs {
	struct swiftfs_client *c;
	struct swiftfs_workpool *pool;
	struct swiftfs_itable t;
	char *container;
	char *prefix_slash;   /* "" or "a/b/" */
	struct timespec start;
	uid_t uid;
	gid_t gid;
	mode_t umask;
	double attr_timeout;
	double entry_timeout;
	double negative_timeout;
	uint64_t chunk;
	uint64_t ahead;
};

/* open() trusts a HEAD this recent instead of sending another. */
#define HEAD_REUSE_SECS 1.0

struct swiftfs_dir {
	struct swiftfs_inode *inode;  /* referenced */
	uint64_t parent_ino;
	struct swiftfs_dlref *list;   /* referenced */
};

struct swiftfs_file {
	struct swiftfs_inode *inode;  /* referenced */
	struct swiftfs_reader *reader;
};

int fs_new(const struct swiftfs_opts *o, struct swiftfs_client *c, struct swiftfs_fs **out)
{
	struct swiftfs_fs *fs = calloc(1, sizeof(*fs));
	int rc;
	if (!fs)
		return -ENOMEM;
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
	rc = inode_table_init(&fs->t);
	if (!rc && (!fs->container || !fs->prefix_slash))
		rc = -ENOMEM;
	if (!rc)
		rc = workpool_new((unsigned)o->workers, &fs->pool);
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
	workpool_free(fs->pool);
	if (fs->t.by_ino)
		inode_table_destroy(&fs->t);
	free(fs->container);
	free(fs->prefix_slash);
	free(fs);
}

double fs_negative_timeout(struct swiftfs_fs *fs)
{
	return fs->negative_timeout;
}

/* --- helpers --------------------------------------------------------- */

static char *join(const char *a, const char *b, const char *c)
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
static char *object_name(struct swiftfs_fs *fs, const char *rel)
{
	return join(fs->prefix_slash, rel, "");
}

static char *dir_prefix(struct swiftfs_fs *fs, const char *rel)
{
	return join(fs->prefix_slash, rel, rel[0] ? "/" : "");
}

static struct swiftfs_inode *get_inode(struct swiftfs_fs *fs, uint64_t ino, char **path)
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

static void put_inode(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	pthread_mutex_lock(&fs->t.lock);
	inode_unref_locked(&fs->t, n);
	pthread_mutex_unlock(&fs->t.lock);
}

static void fill_stat(struct swiftfs_fs *fs, uint64_t ino, const struct swiftfs_attr *a,
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
	struct timespec t = a->have_mtime ? a->mtime : fs->start;
	st->st_mtim = t;
	st->st_ctim = t;
	st->st_atim = t;
}

static void attr_from_dirent(const struct swiftfs_dirent *d, struct swiftfs_attr *a)
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

/* HEAD an object; fill a with exact attributes. With symlink, ask for the
 * link itself (symlink=get) and return its target. */
static int head_object(struct swiftfs_fs *fs, const char *object, bool symlink,
		       struct swiftfs_attr *a, char **target)
{
	struct swiftfs_req r;
	int rc;

	swift_req_init(&r, "HEAD");
	r.container = fs->container;
	r.object = object;
	r.query = symlink ? "symlink=get" : NULL;
	r.flags = SWIFT_REQ_QUIET_404;
	rc = swift_request(fs->c, &r);
	if (rc) {
		if (rc != -ENOENT) {
			char what[256];
			swift_describe_error(&r, what, sizeof(what));
			LOGE("%s", what);
		}
		goto out;
	}
	const char *v = swift_req_header(&r, "Content-Length");
	a->size = v ? strtoull(v, NULL, 10) : 0;
	v = swift_req_header(&r, "ETag");
	if (v) {
		size_t n = strlen(v);
		if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
			snprintf(a->etag, sizeof(a->etag), "%.*s", (int)(n - 2), v + 1);
		else
			snprintf(a->etag, sizeof(a->etag), "%s", v);
	}
	a->is_dlo = swift_req_header(&r, "X-Object-Manifest") != NULL;
	v = swift_req_header(&r, "X-Static-Large-Object");
	a->is_slo = v && strcasecmp(v, "true") == 0;
	a->have_mtime = true;
	if (util_parse_float_time(swift_req_header(&r, "X-Object-Meta-Mtime"), &a->mtime) != 0 &&
	    parse_http_date(swift_req_header(&r, "Last-Modified"), &a->mtime) != 0)
		a->have_mtime = false;
	a->exact = true;
	a->maybe_dlo = false;
	if (symlink && target) {
		v = swift_req_header(&r, "X-Symlink-Target");
		*target = v ? strdup(v) : NULL;
		a->size = v ? strlen(v) : 0;
	}
out:
	swift_req_cleanup(&r);
	return rc;
}

/* The listing of directory dir (referenced by the caller), fresh or
 * fetched now; returned with a reference. */
static int get_listing(struct swiftfs_fs *fs, struct swiftfs_inode *dir, struct swiftfs_dlref **out)
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
	pthread_mutex_unlock(&fs->t.lock);

	prefix = rel ? dir_prefix(fs, rel) : NULL;
	ref = calloc(1, sizeof(*ref));
	if (!prefix || !ref) {
		rc = -ENOMEM;
		goto out;
	}
	double t0 = util_now();
	rc = listing_fetch(fs->c, fs->container, prefix, true, 0, &page, &pages);
	if (rc) {
		LOGE("listing of '%s' in %s failed: %s", prefix, fs->container, strerror(-rc));
		goto out;
	}
	rc = listing_to_dirlist(prefix, &page, &ref->dl);
	if (rc)
		goto out;
	LOGD("listed '%s': %zu entries in %u request(s), %.3fs", prefix, ref->dl.n, pages,
	     util_now() - t0);
	ref->refs = 1;
out:
	listing_page_free(&page);
	pthread_mutex_lock(&fs->t.lock);
	dir->list_busy = false;
	pthread_cond_broadcast(&fs->t.cond);
	if (!rc) {
		dlref_put_locked(dir->list);
		dir->list = ref;
		dir->list_expire = util_now() + fs->entry_timeout;
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
static bool keep_exact_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir, const char *name,
			      const struct swiftfs_dirent *d, struct swiftfs_attr *a)
{
	struct swiftfs_inode *old = inode_child_locked(&fs->t, dir, name);
	if (!old || !old->attr.exact || old->attr.kind != d->kind || !d->etag ||
	    strcmp(old->attr.list_etag, d->etag) != 0)
		return false;
	*a = old->attr;
	return true;
}

/* --- operations ------------------------------------------------------ */

int fs_lookup(struct swiftfs_fs *fs, uint64_t parent, const char *name, struct swiftfs_entry *e)
{
	struct swiftfs_dlref *lr = NULL;
	struct swiftfs_attr a;
	char *prel = NULL, *object = NULL, *target = NULL;
	int rc;

	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	struct swiftfs_inode *p = get_inode(fs, parent, &prel);
	if (!p)
		return -ESTALE;
	if (p->attr.kind != DK_DIR) {
		rc = -ENOTDIR;
		goto out;
	}
	rc = get_listing(fs, p, &lr);
	if (rc)
		goto out;
	const struct swiftfs_dirent *d = listing_dirlist_find(&lr->dl, name);
	if (!d) {
		rc = -ENOENT;
		goto out;
	}
	attr_from_dirent(d, &a);
	pthread_mutex_lock(&fs->t.lock);
	bool have_exact = keep_exact_locked(fs, p, name, d, &a);
	pthread_mutex_unlock(&fs->t.lock);
	if (!have_exact && d->kind != DK_DIR) {
		char *rel = prel[0] ? join(prel, "/", name) : strdup(name);
		object = rel ? object_name(fs, rel) : NULL;
		free(rel);
		if (!object) {
			rc = -ENOMEM;
			goto out;
		}
		struct swiftfs_attr h = a;
		rc = head_object(fs, object, d->kind == DK_SYMLINK, &h, &target);
		if (rc)
			goto out; /* ENOENT: deleted since the listing */
		snprintf(h.list_etag, sizeof(h.list_etag), "%s", d->etag ? d->etag : "");
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
	if (!have_exact && d->kind != DK_DIR)
		n->head_at = util_now();
	n->attr_expire = util_now() + fs->attr_timeout;
	e->ino = n->ino;
	fill_stat(fs, n->ino, &n->attr, &e->st);
	pthread_mutex_unlock(&fs->t.lock);
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
out:
	if (lr) {
		pthread_mutex_lock(&fs->t.lock);
		dlref_put_locked(lr);
		pthread_mutex_unlock(&fs->t.lock);
	}
	put_inode(fs, p);
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

int fs_getattr(struct swiftfs_fs *fs, uint64_t ino, struct stat *st, double *timeout)
{
	struct swiftfs_attr a;
	char *rel = NULL, *object = NULL;
	int rc = 0;

	*timeout = fs->attr_timeout;
	struct swiftfs_inode *n = get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
	pthread_mutex_lock(&fs->t.lock);
	bool fresh = util_now() < n->attr_expire || n->attr.kind != DK_FILE;
	a = n->attr;
	pthread_mutex_unlock(&fs->t.lock);
	if (!fresh) {
		object = object_name(fs, rel);
		if (!object) {
			rc = -ENOMEM;
			goto out;
		}
		rc = head_object(fs, object, false, &a, NULL);
		if (rc)
			goto out;
		pthread_mutex_lock(&fs->t.lock);
		snprintf(a.list_etag, sizeof(a.list_etag), "%s", n->attr.list_etag);
		n->attr = a;
		n->head_at = util_now();
		n->attr_expire = n->head_at + fs->attr_timeout;
		pthread_mutex_unlock(&fs->t.lock);
	}
	fill_stat(fs, ino, &a, st);
out:
	put_inode(fs, n);
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
	struct swiftfs_inode *n = get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
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
	put_inode(fs, n);
	free(rel);
	return rc;
}

int fs_opendir(struct swiftfs_fs *fs, uint64_t ino, struct swiftfs_dir **out)
{
	struct swiftfs_dir *d = NULL;
	int rc;
	struct swiftfs_inode *n = get_inode(fs, ino, NULL);
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
	rc = get_listing(fs, n, &d->list);
	if (rc)
		goto fail;
	d->inode = n;
	pthread_mutex_lock(&fs->t.lock);
	d->parent_ino = n->parent ? n->parent->ino : n->ino;
	pthread_mutex_unlock(&fs->t.lock);
	*out = d;
	return 0;
fail:
	free(d);
	put_inode(fs, n);
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
		fill_stat(fs, e->ino, &a, &e->st);
		return 1;
	}
	idx -= 2;
	if (idx >= d->list->dl.n)
		return 0;
	const struct swiftfs_dirent *de = &d->list->dl.v[idx];
	struct swiftfs_attr a;
	attr_from_dirent(de, &a);
	*name = de->name;
	pthread_mutex_lock(&fs->t.lock);
	keep_exact_locked(fs, d->inode, de->name, de, &a);
	if (!plus) {
		struct swiftfs_inode *old = inode_child_locked(&fs->t, d->inode, de->name);
		e->ino = old ? old->ino : 0xffffffffULL; /* d_ino is advisory here */
		fill_stat(fs, e->ino, &a, &e->st);
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
	bool uncertain = a.maybe_dlo && !a.exact;
	n->attr_expire = uncertain ? 0 : util_now() + fs->attr_timeout;
	e->ino = n->ino;
	fill_stat(fs, n->ino, &n->attr, &e->st);
	pthread_mutex_unlock(&fs->t.lock);
	e->attr_timeout = uncertain ? 0 : fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	return 1;
}

void fs_releasedir(struct swiftfs_fs *fs, struct swiftfs_dir *d)
{
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

	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	struct swiftfs_inode *n = get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
	pthread_mutex_lock(&fs->t.lock);
	a = n->attr;
	pthread_mutex_unlock(&fs->t.lock);
	if (a.kind == DK_DIR) {
		rc = -EISDIR;
		goto fail;
	}
	object = object_name(fs, rel);
	f = calloc(1, sizeof(*f));
	if (!object || !f) {
		rc = -ENOMEM;
		goto fail;
	}
	/* close-to-open: what we read is the object as it is now. A HEAD the
	 * lookup just made (the kernel looks up, then opens) counts. */
	pthread_mutex_lock(&fs->t.lock);
	bool recent = n->attr.exact && util_now() - n->head_at < HEAD_REUSE_SECS;
	pthread_mutex_unlock(&fs->t.lock);
	if (!recent) {
		rc = head_object(fs, object, false, &a, NULL);
		if (rc)
			goto fail;
		pthread_mutex_lock(&fs->t.lock);
		snprintf(a.list_etag, sizeof(a.list_etag), "%s", n->attr.list_etag);
		if (strcmp(a.etag, n->attr.etag) != 0 || a.size != n->attr.size)
			LOGD("%s changed since it was listed (size %llu -> %llu)", object,
			     (unsigned long long)n->attr.size, (unsigned long long)a.size);
		n->attr = a;
		n->head_at = util_now();
		n->attr_expire = n->head_at + fs->attr_timeout;
		pthread_mutex_unlock(&fs->t.lock);
	}

	struct swiftfs_reader_cfg rc_cfg = {
		.client = fs->c,
		.pool = fs->pool,
		.container = fs->container,
		.object = object,
		.size = a.size,
		/* a DLO's ETag is not something If-Match can check */
		.etag = a.is_dlo ? NULL : a.etag,
		.chunk = fs->chunk,
		.ahead = fs->ahead,
	};
	rc = reader_new(&rc_cfg, &f->reader);
	if (rc)
		goto fail;
	f->inode = n;
	*out = f;
	free(rel);
	free(object);
	return 0;
fail:
	free(f);
	put_inode(fs, n);
	free(rel);
	free(object);
	return rc;
}

ssize_t fs_read(struct swiftfs_fs *fs, struct swiftfs_file *f, char *buf, size_t size, uint64_t off)
{
	(void)fs;
	return reader_read(f->reader, buf, size, off);
}

void fs_release(struct swiftfs_fs *fs, struct swiftfs_file *f)
{
	reader_free(f->reader);
	put_inode(fs, f->inode);
	free(f);
}

static uint64_t header_u64(const struct swiftfs_req *r, const char *name, uint64_t dflt)
{
	const char *v = swift_req_header(r, name);
	return v && *v ? strtoull(v, NULL, 10) : dflt;
}

int fs_statfs(struct swiftfs_fs *fs, struct statvfs *sv)
{
	struct swiftfs_req r;
	const uint64_t bsize = 4096;
	const uint64_t unlimited = 1ULL << 50; /* 1 PiB shown when no quota */
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
}
