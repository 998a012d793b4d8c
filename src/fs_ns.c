/* Namespace operations: unlink, mkdir, rmdir, rename, symlink, link.
 * Swift has no directories and no rename: a directory is a prefix (with an
 * optional marker object, written here as `swift upload` writes one: the
 * name without a slash, zero bytes, application/directory), and rename is
 * server-side COPY then DELETE of every object involved. COPY keeps the
 * metadata; manifests and symlinks are copied as themselves
 * (multipart-manifest=get, symlink=get), so a renamed large object keeps
 * its segments without copying them. The sources are deleted only after
 * every copy succeeded: a rename that fails half way deletes the copies
 * it made and leaves the source whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fs_internal.h"
#include "swiftfs/listing.h"
#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/upload.h"
#include "swiftfs/util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* Parent inode (referenced) and the object name of parent/name. */
int fs_resolve(struct swiftfs_fs *fs, uint64_t parent, const char *name,
	       struct swiftfs_inode **p, char **rel, char **object)
{
	char *prel = NULL;
	*p = NULL;
	*rel = *object = NULL;
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	*p = fs_get_inode(fs, parent, &prel);
	if (!*p)
		return -ESTALE;
	if ((*p)->attr.kind != DK_DIR) {
		free(prel);
		return -ENOTDIR;
	}
	*rel = prel[0] ? fs_join(prel, "/", name) : strdup(name);
	free(prel);
	*object = *rel ? fs_object_name(fs, *rel) : NULL;
	if (!*object)
		return -ENOMEM;
	if (strlen(*object) > fs->max_name)
		return -ENAMETOOLONG;
	return 0;
}

void fs_release_resolved(struct swiftfs_fs *fs, struct swiftfs_inode *p, char *rel,
			 char *object)
{
	if (p)
		fs_put_inode(fs, p);
	free(rel);
	free(object);
}

/* What parent/name is now: from the inode table (the kernel has looked it
 * up before any of these operations), else from the listing. */
static int child_kind(struct swiftfs_fs *fs, struct swiftfs_inode *p, const char *name,
		      enum swiftfs_dkind *kind, struct swiftfs_attr *attr)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *c = inode_child_locked(&fs->t, p, name);
	if (c) {
		*kind = c->attr.kind;
		if (attr)
			*attr = c->attr;
	}
	pthread_mutex_unlock(&fs->t.lock);
	if (c)
		return 0;
	struct swiftfs_dlref *lr;
	int rc = fs_get_listing(fs, p, &lr);
	if (rc)
		return rc;
	const struct swiftfs_dirent *d = listing_dirlist_find(&lr->dl, name);
	if (d) {
		*kind = d->kind;
		if (attr)
			fs_attr_from_dirent(d, attr);
	}
	pthread_mutex_lock(&fs->t.lock);
	dlref_put_locked(lr);
	pthread_mutex_unlock(&fs->t.lock);
	return d ? 0 : -ENOENT;
}

/* Is the container in the legacy "stack" versioning mode
 * (X-Versions-Location without X-Versions-Mode: history)? There a DELETE
 * puts the previous version back and removes it from the archive, so a
 * DELETE sent again after its answer was lost (a reset connection, a
 * 503 after the work was done) would restore, and remove, one more.
 * Asked with a container HEAD at most once a minute (every 10 s while
 * that HEAD fails). */
/* The container's versioning (upload_versioning), asked now; the
 * answer is also what stack_versions() knows for the next minute. */
static unsigned versioning_now(struct swiftfs_fs *fs)
{
	unsigned v = upload_versioning(&fs->upcfg);
	if (!(v & UPLOAD_VERSIONS_UNKNOWN)) {
		int64_t now = (int64_t)(util_now() * 1000) + 1; /* 0: never asked */
		__atomic_store_n(&fs->stack_mode, (v & UPLOAD_DELETE_RESTORES) != 0,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&fs->stack_next_ms, now + 60000, __ATOMIC_RELAXED);
	}
	return v;
}

static bool stack_versions(struct swiftfs_fs *fs)
{
	int64_t now = (int64_t)(util_now() * 1000) + 1; /* 0: never asked */
	int64_t next = __atomic_load_n(&fs->stack_next_ms, __ATOMIC_RELAXED);
	/* one asker at a time (the next ask 10 s on, unless it is answered);
	 * the others take the mode last known. Not answered: the mode last
	 * known (none at first) for 10 s more, so that a DELETE is neither
	 * held up by a HEAD each nor refused its retries while Swift
	 * stumbles */
	if ((!next || now >= next) &&
	    __atomic_compare_exchange_n(&fs->stack_next_ms, &next, now + 10000, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		versioning_now(fs);
	return __atomic_load_n(&fs->stack_mode, __ATOMIC_RELAXED);
}

static int simple_request(struct swiftfs_fs *fs, const char *method, const char *object,
			  const char *query, const char *const *hdrs, bool ok_404)
{
	struct swiftfs_req r;
	swift_req_init(&r, method);
	r.container = fs->container;
	r.object = object;
	r.query = query;
	r.headers = hdrs;
	if (strcmp(method, "DELETE") == 0 && stack_versions(fs))
		r.flags |= SWIFT_REQ_NO_RETRY;
	if (strcmp(method, "PUT") == 0) {
		r.has_body = true;
		r.send_buf = "";
		r.send_len = 0;
	}
	int rc = swift_request(fs->c, &r);
	if (rc == -ENOENT && ok_404)
		rc = 0;
	/* 412 (-ESTALE): a condition the caller sent did not hold */
	if (rc && rc != -ENOENT && rc != -ESTALE) {
		char what[300];
		swift_describe_error(&r, what, sizeof(what));
		LOGE("%s", what);
	}
	swift_req_cleanup(&r);
	return rc;
}

/* Is object an empty one with the headers hdrs asked for (its content
 * type, its mtime, a symlink's target as we keep it)? */
static bool made_as_asked(struct swiftfs_fs *fs, const char *object, const char *const *hdrs)
{
	struct swiftfs_req h;
	bool same = fs_head_itself(fs, fs->container, object, NULL, &h, NULL, 0) == 0;
	const char *cl = same ? swift_req_header(&h, "Content-Length") : NULL;
	same = same && cl && strcmp(cl, "0") == 0;
	for (size_t i = 0; same && hdrs[i]; i++) {
		const char *colon = strchr(hdrs[i], ':');
		/* the mtime to the microsecond tells our own object; a
		 * symlink's target as sent is in our own metadata (Swift's
		 * X-Symlink-Target comes back in another encoding) */
		if (!colon || (strncasecmp(hdrs[i], "Content-Type:", 13) != 0 &&
			       strncasecmp(hdrs[i], "X-Object-Meta-Mtime:", 20) != 0 &&
			       strncasecmp(hdrs[i], "X-Object-Meta-Symlink-Target:", 29) != 0))
			continue;
		char name[40];
		snprintf(name, sizeof(name), "%.*s", (int)(colon - hdrs[i]), hdrs[i]);
		const char *want = colon + 1 + strspn(colon + 1, " ");
		const char *got = swift_req_header(&h, name);
		same = got && strncmp(got, want, strlen(want)) == 0;
	}
	swift_req_cleanup(&h);
	return same;
}

/* PUT an empty object that must not replace one (hdrs hold
 * CREATE_ONLY and the mtime of now, to the microsecond): a name another
 * client made since our listing was fetched is kept (-EEXIST). When the
 * PUT was sent again (its answer lost: a reset connection, which libcurl
 * itself may resend on, or a 5xx after the object servers stored it), the
 * 412 may be its own first attempt's object, with that very mtime: that
 * is a success. */
#define CREATE_ONLY "If-None-Match: *"
static int put_new_empty(struct swiftfs_fs *fs, const char *object, const char *const *hdrs)
{
	int rc = simple_request(fs, "PUT", object, NULL, hdrs, false);
	if (rc != -ESTALE)
		return rc;
	if (made_as_asked(fs, object, hdrs)) {
		LOGI("%s: the PUT was sent again after its answer was lost, and found the object "
		     "its first attempt made", object);
		return 0;
	}
	LOGI("%s appeared in Swift since it was listed: not replaced", object);
	return -EEXIST;
}

/* COPY src to dst as itself (a manifest as a manifest, a symlink as a
 * symlink); metadata comes along. */
static int copy_object(struct swiftfs_fs *fs, const char *src, const char *dst, bool as_is)
{
	char *enc = util_url_encode(dst, true);
	char *ec = util_url_encode(fs->container, false);
	char *hdr = NULL;
	int rc = -ENOMEM;
	if (enc && ec && asprintf(&hdr, "Destination: %s/%s", ec, enc) >= 0) {
		const char *hdrs[] = { hdr, NULL };
		struct swiftfs_req r;
		swift_req_init(&r, "COPY");
		r.container = fs->container;
		r.object = src;
		r.query = as_is ? "multipart-manifest=get&symlink=get" : NULL;
		r.headers = hdrs;
		rc = swift_request(fs->c, &r);
		if (rc && (rc != -EBUSY || !as_is) && rc != -ENOENT) {
			char what[300];
			swift_describe_error(&r, what, sizeof(what));
			LOGE("%s", what);
		}
		swift_req_cleanup(&r);
		if (rc == -EBUSY && as_is) {
			/* 409 "X-Symlink-Target does not exist": under object
			 * versioning src is the link to its current version,
			 * which a COPY as is must name */
			struct swiftfs_req h;
			char vid[64], q[128];
			int hr = fs_head_itself(fs, fs->container, src, NULL, &h, vid, sizeof(vid));
			swift_req_cleanup(&h);
			if (hr == 0 && vid[0]) {
				snprintf(q, sizeof(q),
					 "multipart-manifest=get&symlink=get&version-id=%s", vid);
				rc = simple_request(fs, "COPY", src, q, hdrs, false);
			} else if (hr == 0) {
				LOGE("COPY %s: HTTP 409", src);
			}
		}
	}
	free(enc);
	free(ec);
	free(hdr);
	return rc;
}

/* DELETE an SLO with its segments. Swift answers 200 at once and streams
 * the outcome in the body ("Response Status", "Errors"): a manifest or
 * segment it could not delete is an error, not a success. */
static int delete_slo(struct swiftfs_fs *fs, const char *object)
{
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct swiftfs_req r;
	swift_req_init(&r, "DELETE");
	r.container = fs->container;
	r.object = object;
	r.query = "multipart-manifest=delete";
	r.headers = hdrs;
	int rc = swift_request(fs->c, &r);
	if (rc == -ENOENT) {
		rc = 0;
	} else if (rc) {
		char what[300];
		swift_describe_error(&r, what, sizeof(what));
		LOGE("%s", what);
	} else {
		const char *b = r.resp_body.data;
		long code;
		size_t nerr;
		if (!upload_bulk_outcome(&r, &code, &nerr)) {
			LOGE("delete of %s: Swift's answer has no outcome: %.200s", object,
			     b ? b : "(empty)");
			rc = -EIO;
		} else if ((code < 200 || code >= 300) && code != 404) {
			LOGE("delete of %s (with its segments) failed: %.300s", object, b);
			rc = swift_errno(code, 0, "DELETE");
			if (rc == -EINVAL || rc == 0)
				rc = -EIO; /* 400: some deletes failed */
		}
	}
	swift_req_cleanup(&r);
	return rc;
}

/* Delete a file object; an SLO takes its segments along. */
static int delete_file(struct swiftfs_fs *fs, const char *object, bool known, bool slo)
{
	if (!known) {
		struct swiftfs_attr a = { 0 };
		int rc = fs_head_object(fs, object, true, &a, NULL);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
		slo = a.is_slo;
	}
	/* a version that lives on (versioned container) keeps its segments */
	if (!slo || (versioning_now(fs) & UPLOAD_KEEPS_DELETED))
		return simple_request(fs, "DELETE", object, NULL, NULL, true);
	return delete_slo(fs, object);
}

/* Whether object (a directory's name without the slash) is a directory
 * marker: zero bytes and a directory content type. Anything else under
 * that name is a file the directory hides, which is not the directory's
 * to delete or move. 0 with *marker set, or -errno. */
static int dir_marker_p(struct swiftfs_fs *fs, const char *object, bool *marker)
{
	struct swiftfs_req r;
	swift_req_init(&r, "HEAD");
	r.container = fs->container;
	r.object = object;
	r.flags = SWIFT_REQ_QUIET_404;
	int rc = swift_request(fs->c, &r);
	*marker = false;
	if (rc == 0) {
		const char *cl = swift_req_header(&r, "Content-Length");
		*marker = listing_is_dir_type(swift_req_header(&r, "Content-Type")) &&
			  (!cl || strtoull(cl, NULL, 10) == 0);
		if (!*marker)
			LOGW("'%s' is an object the directory of that name hid; it stays where it "
			     "is", object);
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	swift_req_cleanup(&r);
	return rc;
}

/* DELETE the marker of directory object (no slash), if it has one. */
static int delete_dir_marker(struct swiftfs_fs *fs, const char *object)
{
	bool marker;
	int rc = dir_marker_p(fs, object, &marker);
	if (!rc && marker)
		rc = simple_request(fs, "DELETE", object, NULL, NULL, true);
	return rc;
}

/* Whether name in p has local data now (table lock taken): an upload of
 * it may end, and change what the name holds in Swift, after the caller
 * read its attributes. */
static bool has_local_state(struct swiftfs_fs *fs, struct swiftfs_inode *p, const char *name)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *c = inode_child_locked(&fs->t, p, name);
	bool r = c && c->w;
	pthread_mutex_unlock(&fs->t.lock);
	return r;
}

/* A removal may have emptied an implicit directory (no marker), which
 * then no longer exists in Swift: let its own parent list again. */
static void expire_grandparent_locked(struct swiftfs_inode *p)
{
	if (p->parent)
		p->parent->list_expire = 0;
}

int fs_unlink(struct swiftfs_fs *fs, uint64_t parent, const char *name)
{
	struct swiftfs_inode *p;
	char *rel, *object;
	enum swiftfs_dkind kind;
	struct swiftfs_attr a;
	int rc;

	if (fs->ro)
		return -EROFS;
	rc = fs_resolve(fs, parent, name, &p, &rel, &object);
	if (rc)
		goto out;
	bool local = has_local_state(fs, p, name);
	rc = child_kind(fs, p, name, &kind, &a);
	if (rc == -ENOENT)
		fs_wb_stale_drop(fs, object); /* not in Swift: gone as asked */
	if (rc)
		goto out;
	if (kind == DK_DIR) {
		rc = -EISDIR;
		goto out;
	}
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *c = inode_child_locked(&fs->t, p, name);
	if (c)
		inode_ref_locked(c);
	pthread_mutex_unlock(&fs->t.lock);
	/* claimed: no upload of it starts before it is marked unlinked; held
	 * (its object is in Swift): none lands after the DELETE */
	struct swiftfs_wstate *claim = c ? fs_local_claim(fs, c) : NULL;
	struct swiftfs_wstate *hold = c && !claim ? fs_local_hold(fs, c) : NULL;
	/* the attributes were read before the claim or hold, and an upload
	 * that ended meanwhile (its attributes published after) may have made
	 * an SLO of a plain object: the held local data knows what its name
	 * holds, else a HEAD tells */
	bool slo = a.is_slo;
	bool known = hold    ? fs_local_base_known(hold, &slo)
		     : local ? false
			     : a.exact && kind == DK_FILE;
	if (!claim)
		rc = delete_file(fs, object, known, slo);
	if (!rc) {
		/* an earlier mount's version of it is older (dropped only once
		 * the delete has happened) */
		fs_wb_stale_drop(fs, object);
		if (c)
			fs_forget_local_data(fs, c);
		pthread_mutex_lock(&fs->t.lock);
		if (c)
			inode_unhash_locked(&fs->t, c);
		fs_dir_note_locked(fs, p, name, NULL);
		expire_grandparent_locked(p);
		pthread_mutex_unlock(&fs->t.lock);
	}
	if (claim)
		fs_local_release(fs, c, claim);
	if (hold)
		fs_local_release(fs, c, hold);
	if (c)
		fs_put_inode(fs, c);
out:
	fs_release_resolved(fs, p, rel, object);
	return rc;
}

static void now_mtime_header(char *buf, size_t len, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	snprintf(buf, len, "X-Object-Meta-Mtime: %lld.%06ld", (long long)ts->tv_sec,
		 ts->tv_nsec / 1000);
}

/* Link a new child inode and answer the kernel's entry. */
static int new_entry(struct swiftfs_fs *fs, struct swiftfs_inode *p, const char *name,
		     const struct swiftfs_attr *a, const struct swiftfs_dirent *d,
		     const char *symlink_target, struct swiftfs_entry *e)
{
	int rc = 0;
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *n = inode_link_locked(&fs->t, p, name, a);
	if (!n) {
		rc = -ENOMEM;
	} else {
		n->attr_expire = util_now() + fs->attr_timeout;
		if (symlink_target) {
			free(n->symlink_target);
			n->symlink_target = strdup(symlink_target);
		}
		if (a->kind == DK_DIR && !n->list) {
			/* a new directory is empty: no need to list it */
			struct swiftfs_dlref *l = calloc(1, sizeof(*l));
			if (l) {
				l->refs = 1;
				n->list = l;
				n->list_expire = util_now() + fs->entry_timeout;
			}
		}
		fs_dir_note_locked(fs, p, name, d);
		e->ino = n->ino;
		fs_fill_stat(fs, n->ino, &n->attr, &e->st);
		e->attr_timeout = fs->attr_timeout;
		e->entry_timeout = fs->entry_timeout;
	}
	pthread_mutex_unlock(&fs->t.lock);
	return rc;
}

int fs_mkdir(struct swiftfs_fs *fs, uint64_t parent, const char *name, mode_t mode,
	     struct swiftfs_entry *e)
{
	struct swiftfs_inode *p;
	char *rel, *object;
	char hmt[64];
	struct timespec ts;
	int rc;

	(void)mode;
	if (fs->ro)
		return -EROFS;
	rc = fs_resolve(fs, parent, name, &p, &rel, &object);
	if (rc)
		goto out;
	enum swiftfs_dkind kind;
	rc = child_kind(fs, p, name, &kind, NULL);
	if (rc != -ENOENT) {
		/* there already, or unknown (a listing failed): no PUT over it */
		rc = rc ? rc : -EEXIST;
		goto out;
	}
	now_mtime_header(hmt, sizeof(hmt), &ts);
	const char *hdrs[] = { "Content-Type: application/directory", hmt, CREATE_ONLY, NULL };
	rc = put_new_empty(fs, object, hdrs);
	if (rc)
		goto out;
	struct swiftfs_attr a = { .kind = DK_DIR, .have_mtime = true, .mtime = ts };
	struct swiftfs_dirent d = { .name = (char *)name, .kind = DK_DIR, .has_marker = true,
				    .marker_name = object, .mtime = ts };
	rc = new_entry(fs, p, name, &a, &d, NULL, e);
out:
	fs_release_resolved(fs, p, rel, object);
	return rc;
}

/* Whether any object (other than its own "dir/" marker) is under prefix,
 * asking Swift, not the cache. */
static int prefix_has_objects(struct swiftfs_fs *fs, const char *prefix, bool *any)
{
	struct swiftfs_req r;
	struct swiftfs_lpage page = { 0 };
	char *ep = util_url_encode(prefix, false);
	char *q = NULL;
	int rc = -ENOMEM;
	*any = false;
	if (ep && asprintf(&q, "format=xml&limit=2&prefix=%s", ep) >= 0) {
		swift_req_init(&r, "GET");
		r.container = fs->container;
		r.query = q;
		rc = swift_request(fs->c, &r);
		if (!rc)
			rc = listing_parse(r.resp_body.data, r.resp_body.len, &page);
		swift_req_cleanup(&r);
		for (size_t i = 0; !rc && i < page.n; i++) {
			const struct swiftfs_lentry *e = &page.v[i];
			/* the folder's own marker: an object named prefix with
			 * data in it (another tool's) is content, which the
			 * listing cannot show (its name in the folder is empty)
			 * and a removal must not delete */
			if (strcmp(e->name, prefix) != 0) {
				*any = true;
			} else if (e->bytes > 0) {
				LOGW("'%s' is an object of %llu bytes, not a folder marker: the "
				     "folder is not empty", prefix, (unsigned long long)e->bytes);
				*any = true;
			}
		}
	}
	listing_page_free(&page);
	free(ep);
	free(q);
	return rc;
}

int fs_rmdir(struct swiftfs_fs *fs, uint64_t parent, const char *name)
{
	struct swiftfs_inode *p;
	char *rel, *object, *slash = NULL;
	enum swiftfs_dkind kind;
	bool any;
	int rc;

	if (fs->ro)
		return -EROFS;
	rc = fs_resolve(fs, parent, name, &p, &rel, &object);
	if (rc)
		goto out;
	rc = child_kind(fs, p, name, &kind, NULL);
	if (rc)
		goto out;
	if (kind != DK_DIR) {
		rc = -ENOTDIR;
		goto out;
	}
	/* files created here and not uploaded yet count too */
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *c = inode_child_locked(&fs->t, p, name);
	bool local_children = c && fs_dir_local_children_locked(fs, c);
	if (c)
		inode_ref_locked(c);
	pthread_mutex_unlock(&fs->t.lock);
	slash = fs_join(object, "/", "");
	if (slash)
		fs_subtree_forget(fs, slash);
	rc = slash ? prefix_has_objects(fs, slash, &any) : -ENOMEM;
	if (!rc && (any || local_children))
		rc = -ENOTEMPTY;
	if (!rc)
		rc = delete_dir_marker(fs, object);
	if (!rc)
		rc = simple_request(fs, "DELETE", slash, NULL, NULL, true);
	if (!rc) {
		pthread_mutex_lock(&fs->t.lock);
		if (c)
			inode_unhash_locked(&fs->t, c);
		fs_dir_note_dir_gone_locked(fs, p, name);
		pthread_mutex_unlock(&fs->t.lock);
	}
	if (c)
		fs_put_inode(fs, c);
out:
	free(slash);
	fs_release_resolved(fs, p, rel, object);
	return rc;
}

/* A file below a directory being renamed, its local data held. */
struct held {
	struct swiftfs_inode *n; /* referenced */
	struct swiftfs_wstate *w;
};

/* Hold the local data of every file below directory d (fs_local_hold): an
 * upload of one in flight ends first, so the tree copy sees it, and none
 * starts under its old name until the files have their new paths. */
static int hold_subtree(struct swiftfs_fs *fs, struct swiftfs_inode *d, struct held **out,
			size_t *nout)
{
	struct held *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	pthread_mutex_lock(&fs->t.lock);
	for (size_t b = 0; b < fs->t.nbuckets && !rc; b++) {
		for (struct swiftfs_inode *i = fs->t.by_ino[b]; i && !rc; i = i->ino_next) {
			if (!i->w || !i->hashed)
				continue;
			struct swiftfs_inode *up = i->parent;
			while (up && up != d)
				up = up->parent;
			if (!up)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct held *nv = realloc(v, nc * sizeof(*nv));
				if (!nv) {
					rc = -ENOMEM;
					break;
				}
				v = nv;
				cap = nc;
			}
			inode_ref_locked(i);
			v[n].n = i;
			v[n++].w = NULL;
		}
	}
	pthread_mutex_unlock(&fs->t.lock);
	for (size_t k = 0; k < n; k++)
		v[k].w = fs_local_hold(fs, v[k].n);
	*out = v;
	*nout = n;
	return rc;
}

/* End the holds; moved: the files have new paths, and the journal
 * records of their closed data follow. */
static void release_subtree(struct swiftfs_fs *fs, struct held *v, size_t n, bool moved)
{
	for (size_t k = 0; k < n; k++) {
		if (v[k].w) {
			if (moved)
				fs_wb_rerecord(fs, v[k].n, true);
			fs_local_release(fs, v[k].n, v[k].w);
		}
		fs_put_inode(fs, v[k].n);
	}
	free(v);
}

/* A DLO manifest copied from src to dst within a folder rename (sp, dp:
 * the folders' "a/" prefixes): when its segments lie under sp (they move
 * too), point it at their new place. */
static int follow_dlo(struct swiftfs_fs *fs, const char *src, const char *dst, const char *sp,
		      const char *dp)
{
	struct swiftfs_req r;
	char *val = NULL, *enc = NULL, *hdr = NULL;
	size_t cl = strlen(fs->container), sl = strlen(sp);
	int rc = fs_head_itself(fs, fs->container, src, "multipart-manifest=get", &r, NULL, 0);
	const char *m = rc ? NULL : swift_req_header(&r, "X-Object-Manifest");
	if (rc == -ENOENT)
		rc = 0;
	if (!m)
		goto out;
	/* "container/prefix", URL-encoded or not */
	val = util_url_decode(m);
	if (!val) {
		rc = -ENOMEM;
		goto out;
	}
	if (strncmp(val, fs->container, cl) != 0 || val[cl] != '/' ||
	    strncmp(val + cl + 1, sp, sl) != 0)
		goto out; /* elsewhere: stays valid */
	char *np = NULL;
	if (asprintf(&np, "%s%s", dp, val + cl + 1 + sl) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	enc = util_url_encode(np, true);
	char *ec = util_url_encode(fs->container, false);
	free(np);
	if (!enc || !ec || asprintf(&hdr, "X-Object-Manifest: %s/%s", ec, enc) < 0) {
		free(ec);
		hdr = NULL;
		rc = -ENOMEM;
		goto out;
	}
	free(ec);
	const char *set[] = { hdr, NULL };
	rc = fs_post_meta(fs, dst, set);
out:
	swift_req_cleanup(&r);
	free(val);
	free(enc);
	free(hdr);
	return rc;
}

/* Rename every object under prefix src/ to dst/ (and the markers).
 * dst_exists: dst is an empty directory already, whose "dst/" marker a
 * failure must leave (the copy of a "src/" marker replaced it). */
static int rename_tree(struct swiftfs_fs *fs, const char *src, const char *dst, bool dst_exists)
{
	struct swiftfs_lpage page = { 0 };
	char *sp = fs_join(src, "/", ""), *np = NULL;
	size_t done = 0;
	int rc;

	if (!sp)
		return -ENOMEM;
	rc = listing_fetch(fs->c, fs->container, sp, false, 0, &page, NULL);
	if (rc)
		goto out;
	/* the "src" marker (no slash), when there is one */
	bool marker;
	rc = dir_marker_p(fs, src, &marker);
	if (rc)
		goto out;
	size_t sl = strlen(sp);
	char *dp = fs_join(dst, "/", "");
	if (!dp) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < page.n && !rc; i++) {
		const struct swiftfs_lentry *le = &page.v[i];
		free(np);
		np = fs_join(dst, "/", le->name + sl);
		rc = np ? copy_object(fs, le->name, np, true) : -ENOMEM;
		if (!rc)
			done++;
		/* a zero-byte object may be a DLO manifest (only a HEAD says) */
		if (!rc && le->bytes == 0 && !listing_is_dir_type(le->content_type) &&
		    !(le->content_type && strncasecmp(le->content_type, "application/symlink",
						      19) == 0))
			rc = follow_dlo(fs, le->name, np, sp, dp);
	}
	free(dp);
	if (!rc && marker)
		rc = copy_object(fs, src, dst, true);
	if (rc) {
		/* roll back: the copies made so far go, the source stays whole */
		for (size_t i = 0; i < done; i++) {
			free(np);
			np = fs_join(dst, "/", page.v[i].name + sl);
			if (np && !(dst_exists && !page.v[i].name[sl]))
				simple_request(fs, "DELETE", np, NULL, NULL, true);
		}
		LOGE("renaming %s to %s failed after copying %zu of %zu objects; the copies were "
		     "removed and %s is intact", src, dst, done, page.n, src);
		rc = -EIO;
		goto out;
	}
	size_t left = 0;
	const char *first = NULL;
	for (size_t i = 0; i < page.n; i++) {
		if (simple_request(fs, "DELETE", page.v[i].name, NULL, NULL, true)) {
			first = first ? first : page.v[i].name;
			left++;
		}
	}
	if (marker && simple_request(fs, "DELETE", src, NULL, NULL, true)) {
		first = first ? first : src;
		left++;
	}
	if (left) {
		/* dst is whole, but the source is not gone: the program is
		 * told, and both trees show */
		LOGE("renaming %s to %s: everything was copied, but %zu source object(s) could "
		     "not be deleted (first: %s); remove them by hand", src, dst, left, first);
		rc = -EIO;
	}
out:
	/* whatever happened, the kept listings of both trees are stale */
	fs_subtree_forget(fs, sp);
	free(np);
	np = fs_join(dst, "/", "");
	if (np)
		fs_subtree_forget(fs, np);
	listing_page_free(&page);
	free(sp);
	free(np);
	return rc;
}

int fs_rename(struct swiftfs_fs *fs, uint64_t parent, const char *name, uint64_t newparent,
	      const char *newname, unsigned flags)
{
	struct swiftfs_wstate *claim = NULL; /* set: a local move (fs_local_claim) */
	struct swiftfs_wstate *dhold = NULL; /* the destination's local data, held */
	struct held *below = NULL;           /* a directory's files, held */
	size_t nbelow = 0;
	bool moved = false;
	bool synced = false;                 /* claim's data uploaded as nobject */
	struct swiftfs_inode *p = NULL, *np = NULL, *c = NULL, *dn = NULL;
	char *rel = NULL, *object = NULL, *nrel = NULL, *nobject = NULL;
	struct swiftfs_seglist oldsegs = { 0 };
	enum swiftfs_dkind kind, dkind;
	struct swiftfs_attr a, da;
	int rc;

	if (fs->ro)
		return -EROFS;
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT */
	rc = fs_resolve(fs, parent, name, &p, &rel, &object);
	if (!rc)
		rc = fs_resolve(fs, newparent, newname, &np, &nrel, &nobject);
	if (rc)
		goto out;
	rc = child_kind(fs, p, name, &kind, &a);
	if (rc)
		goto out;
	bool dlocal = has_local_state(fs, np, newname);
	rc = child_kind(fs, np, newname, &dkind, &da);
	bool dst_exists = rc == 0;
	if (rc && rc != -ENOENT)
		goto out; /* unknown (a listing failed): not a reason to overwrite */
	rc = 0;
	if (dst_exists && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	if (strcmp(object, nobject) == 0)
		goto out; /* same name: nothing to do */
	if (kind == DK_DIR) {
		if (strncmp(nobject, object, strlen(object)) == 0 && nobject[strlen(object)] == '/') {
			rc = -EINVAL; /* into itself */
			goto out;
		}
		if (dst_exists) {
			bool any;
			char *ds = fs_join(nobject, "/", "");
			if (dkind != DK_DIR)
				rc = -ENOTDIR;
			else
				rc = ds ? prefix_has_objects(fs, ds, &any) : -ENOMEM;
			if (!rc && !any) {
				/* files made in it and not in Swift yet: their
				 * uploads would land on the moved files */
				pthread_mutex_lock(&fs->t.lock);
				struct swiftfs_inode *dd = inode_child_locked(&fs->t, np, newname);
				any = dd && fs_dir_local_children_locked(fs, dd);
				pthread_mutex_unlock(&fs->t.lock);
			}
			if (!rc && any)
				rc = -ENOTEMPTY;
			/* its marker, if any, stays (or the source's replaces it):
			 * a rename that fails below leaves it as it was */
			free(ds);
			if (rc)
				goto out;
		}
		pthread_mutex_lock(&fs->t.lock);
		struct swiftfs_inode *dir = inode_child_locked(&fs->t, p, name);
		if (dir)
			inode_ref_locked(dir);
		pthread_mutex_unlock(&fs->t.lock);
		if (dir) {
			/* moved below by this pointer, not found again by its
			 * name: a lookup meanwhile that finds the folder gone
			 * from Swift (its objects deleted by this rename) may
			 * unhash it */
			c = dir;
			rc = hold_subtree(fs, dir, &below, &nbelow);
			if (rc)
				goto out;
		}
		rc = rename_tree(fs, object, nobject, dst_exists);
		if (rc)
			goto out;
		char *sp = fs_join(object, "/", ""), *dp = fs_join(nobject, "/", "");
		if (sp && dp)
			fs_wb_stale_move(fs, sp, dp);
		free(sp);
		free(dp);
	} else {
		if (dst_exists && dkind == DK_DIR) {
			rc = -EISDIR;
			goto out;
		}
		bool da_fresh = false; /* da.is_slo from a HEAD just now */
		if (dst_exists && dkind == DK_FILE && !da.exact) {
			/* a replaced SLO leaves its segments to delete, and
			 * only a HEAD tells an SLO (listings do not) */
			struct swiftfs_attr h = da;
			int hr = fs_head_object(fs, nobject, true, &h, NULL);
			da_fresh = hr == 0;
			if (hr == 0)
				da = h;
			else if (hr != -ENOENT)
				LOGW("rename onto %s: cannot tell whether it is an SLO (%s); if it is, "
				     "its segments stay in %s_segments", nobject, strerror(-hr),
				     fs->container);
		}
		pthread_mutex_lock(&fs->t.lock);
		c = inode_child_locked(&fs->t, p, name);
		if (c)
			inode_ref_locked(c);
		pthread_mutex_unlock(&fs->t.lock);
		/* the destination's own local data (closed, its upload queued or
		 * under way) is held: its upload cannot land after this rename's
		 * copy or upload; it is forgotten below once the rename is done */
		pthread_mutex_lock(&fs->t.lock);
		dn = inode_child_locked(&fs->t, np, newname);
		if (dn && dn != c)
			inode_ref_locked(dn);
		else
			dn = NULL;
		pthread_mutex_unlock(&fs->t.lock);
		dhold = dn ? fs_local_hold(fs, dn) : NULL;
		if ((dhold || dlocal) && dst_exists) {
			/* an upload that ended under the hold may have made an
			 * SLO of it: the local data knows, else a HEAD finds
			 * out (is_slo set asks it) */
			bool slo = false;
			da_fresh = dhold && fs_local_base_known(dhold, &slo);
			da.is_slo = da_fresh ? slo : true;
		}
		/* claimed: no upload of it starts until the inode has moved */
		claim = c ? fs_local_claim(fs, c) : NULL;
		if (claim)
			fs_local_lands_on(claim, dst_exists, dst_exists && da.is_slo);
		if (claim && !fs->writeback && fs_wb_pending(claim) &&
		    !fs_temp_name_p(fs, newname)) {
			/* a temporary file closed without -o writeback: its
			 * upload waited for this rename, which returns once it
			 * is in Swift under the new name; it goes up before the
			 * inode moves, so a failure leaves both names as they
			 * were (the data stays closed and queued) */
			rc = fs_sync_claimed(fs, c, claim, nobject);
			if (rc) {
				fs_local_lands_on(claim, false, false);
				goto out;
			}
			synced = true;
		}
		if (!claim && c && fs_wb_pending_inode(fs, c)) {
			/* closed data not in Swift yet under a name that
			 * exists there (a temporary file uploaded by its
			 * delayed job, then rewritten): up first, or the COPY
			 * below would copy the old bytes */
			rc = fs_sync_inode(fs, c);
			if (rc)
				goto out;
		}
		if (!claim) {
			/* the replaced object's segments are its own: find them first */
			/* (HEAD first, unless just done: cached attributes
			 * may be older than the object) */
			if (dst_exists && da.is_slo && da_fresh)
				upload_slo_segments(&fs->upcfg, nobject, &oldsegs);
			else if (dst_exists && da.is_slo)
				upload_slo_segments_if_slo(&fs->upcfg, nobject, &oldsegs);
			rc = copy_object(fs, object, nobject, true);
			if (!rc)
				rc = simple_request(fs, "DELETE", object, NULL, NULL, true);
			if (rc)
				goto out;
			if (oldsegs.n && !(versioning_now(fs) & UPLOAD_KEEPS_REPLACED))
				upload_delete_segments(&fs->upcfg, &oldsegs);
		}
	}
	/* the inode moves; paths below it follow */
	pthread_mutex_lock(&fs->t.lock);
	if (!c) {
		c = inode_child_locked(&fs->t, p, name);
		if (c)
			inode_ref_locked(c);
	}
	struct swiftfs_inode *old = inode_child_locked(&fs->t, np, newname);
	if (old && old != c && old->w) {
		pthread_mutex_unlock(&fs->t.lock);
		fs_forget_local_data(fs, old);
		pthread_mutex_lock(&fs->t.lock);
	}
	if (synced)
		a = c->attr; /* what the upload made it (its ETag: the listing will agree) */
	struct swiftfs_dirent d = { .name = (char *)newname, .kind = kind, .size = a.size,
				    .mtime = a.mtime, .etag = a.etag[0] ? a.etag : NULL,
				    .has_marker = kind == DK_DIR };
	if (kind == DK_DIR)
		fs_dir_note_dir_gone_locked(fs, p, name);
	else
		fs_dir_note_locked(fs, p, name, NULL);
	fs_dir_note_locked(fs, np, newname, &d);
	expire_grandparent_locked(p);
	if (c)
		rc = inode_move_locked(&fs->t, c, np, newname);
	moved = rc == 0;
	pthread_mutex_unlock(&fs->t.lock);
	/* in Swift already, whatever rc is: an earlier mount's version of the
	 * replaced name is older, and the source's follows it */
	fs_wb_stale_drop(fs, nobject);
	if (kind != DK_DIR)
		fs_wb_stale_move(fs, object, nobject);
	if (!rc && claim)
		fs_wb_rerecord(fs, c, true); /* a pending writeback upload's record follows */
out:
	if (claim)
		fs_local_release(fs, c, claim);
	if (dhold)
		fs_local_release(fs, dn, dhold);
	if (below)
		release_subtree(fs, below, nbelow, moved);
	if (dn)
		fs_put_inode(fs, dn);
	upload_seglist_free(&oldsegs);
	if (c)
		fs_put_inode(fs, c);
	fs_release_resolved(fs, p, rel, object);
	fs_release_resolved(fs, np, nrel, nobject);
	return rc;
}

/* Where a relative POSIX target, seen from the folder of link `rel`,
 * points inside the mount; NULL when it leaves the mount or is absolute. */
static char *resolve_target(const char *rel, const char *target)
{
	if (target[0] == '/' || !target[0])
		return NULL;
	char *parts[512];
	size_t n = 0;
	char *work = NULL;
	const char *slash = strrchr(rel, '/');
	if (asprintf(&work, "%.*s%s%s", slash ? (int)(slash - rel) : 0, rel, slash ? "/" : "",
		     target) < 0)
		return NULL;
	char *save = NULL;
	for (char *seg = strtok_r(work, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			if (n == 0) {
				free(work);
				return NULL;
			}
			n--;
			continue;
		}
		if (n == ARRAY_SIZE(parts)) {
			free(work);
			return NULL;
		}
		parts[n++] = seg;
	}
	struct swiftfs_buf b = { 0 };
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? "/" : "", parts[i]);
	free(work);
	return b.data;
}

int fs_symlink(struct swiftfs_fs *fs, const char *target, uint64_t parent, const char *name,
	       struct swiftfs_entry *e)
{
	struct swiftfs_inode *p;
	char *rel, *object, *inside = NULL, *tobj = NULL, *hsym = NULL, *hraw = NULL, *marked = NULL;
	char hmt[64];
	struct timespec ts;
	int rc;

	if (fs->ro)
		return -EROFS;
	rc = fs_resolve(fs, parent, name, &p, &rel, &object);
	if (rc)
		goto out;
	/* X-Symlink-Target for other Swift clients (when the target lies in
	 * this container), and the exact POSIX target in metadata so that
	 * readlink gives back what was written (tar and rsync compare it) */
	char *etarget = util_url_encode(target, true);
	inside = resolve_target(rel, target);
	if (inside)
		tobj = fs_object_name(fs, inside);
	char *ec = util_url_encode(fs->container, false);
	char *eo = tobj ? util_url_encode(tobj, true) : NULL;
	if (eo && ec && asprintf(&hsym, "X-Symlink-Target: %s/%s", ec, eo) < 0)
		hsym = NULL;
	if (etarget && asprintf(&hraw, "X-Object-Meta-Symlink-Target: %s", etarget) < 0)
		hraw = NULL;
	free(ec);
	free(eo);
	/* Swift refuses a metadata value over max_meta_value_length (400,
	 * which said EINVAL): a target too long to keep is refused first */
	size_t elen = etarget ? strlen(etarget) : 0;
	free(etarget);
	if (!hraw || (tobj && !hsym)) {
		rc = -ENOMEM;
		goto out;
	}
	if (elen > fs->xinfo.max_value) {
		LOGW("symlink %s: its target takes %zu bytes as Swift metadata (URL-encoded), "
		     "over the cluster's %u", object, elen, fs->xinfo.max_value);
		rc = -ENAMETOOLONG;
		goto out;
	}
	now_mtime_header(hmt, sizeof(hmt), &ts);
	/* hsym is last: NULL for a target outside the container */
	const char *hdrs[] = { "Content-Type: application/symlink", hmt, CREATE_ONLY, hraw, hsym,
			       NULL };
	rc = put_new_empty(fs, object, hdrs);
	if (rc)
		goto out;
	if (asprintf(&marked, "%c%s", SYMLINK_RAW_MARK, target) < 0) {
		marked = NULL;
		rc = -ENOMEM;
		goto out;
	}
	struct swiftfs_attr a = { .kind = DK_SYMLINK, .have_mtime = true, .mtime = ts,
				  .exact = true, .size = strlen(target) };
	struct swiftfs_dirent d = { .name = (char *)name, .kind = DK_SYMLINK, .mtime = ts,
				    .content_type = "application/symlink" };
	rc = new_entry(fs, p, name, &a, &d, marked, e);
out:
	free(inside);
	free(tobj);
	free(hsym);
	free(hraw);
	free(marked);
	fs_release_resolved(fs, p, rel, object);
	return rc;
}

int fs_link(struct swiftfs_fs *fs, uint64_t ino, uint64_t newparent, const char *newname,
	    struct swiftfs_entry *e)
{
	struct swiftfs_inode *p = NULL;
	char *rel = NULL, *object = NULL, *srel = NULL, *sobject = NULL;
	enum swiftfs_dkind kind;
	int rc;

	if (fs->ro)
		return -EROFS;
	struct swiftfs_inode *src = fs_get_inode(fs, ino, &srel);
	if (!src)
		return -ESTALE;
	rc = fs_resolve(fs, newparent, newname, &p, &rel, &object);
	if (rc)
		goto out;
	if (src->attr.kind != DK_FILE) {
		rc = -EPERM;
		goto out;
	}
	/* create-only: zarr's LocalStore and atomicwrites rely on EEXIST */
	rc = child_kind(fs, p, newname, &kind, NULL);
	if (rc != -ENOENT) {
		rc = rc ? rc : -EEXIST;
		goto out;
	}
	/* the copy is independent: staged data goes to Swift first, then
	 * Swift copies it (a large object is copied whole, so the two never
	 * share segments) */
	rc = fs_sync_inode(fs, src);
	if (rc)
		goto out;
	sobject = fs_object_name(fs, srel);
	rc = sobject ? copy_object(fs, sobject, object, false) : -ENOMEM;
	if (rc == -EFBIG || rc == -EINVAL)
		LOGE("link %s -> %s: Swift refused the copy (a large object over the cluster's "
		     "max_file_size cannot be copied whole)", sobject, object);
	if (rc)
		goto out;
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_attr a = src->attr;
	pthread_mutex_unlock(&fs->t.lock);
	a.is_slo = false;
	struct swiftfs_dirent d = { .name = (char *)newname, .kind = DK_FILE, .size = a.size,
				    .mtime = a.mtime };
	rc = new_entry(fs, p, newname, &a, &d, NULL, e);
out:
	fs_put_inode(fs, src);
	free(srel);
	free(sobject);
	fs_release_resolved(fs, p, rel, object);
	return rc;
}
