/* The hidden versions tree (see fs_versions.h).
 *
 * Where versions come from:
 *   X-Versions-Enabled containers (object_versioning): the JSON listing
 *     GET CONTAINER?versions&format=json (paginated with marker and
 *     version_marker); a version is read with GET OBJECT?version-id=ID.
 *   legacy X-Versions-Location / X-History-Location: the archive
 *     container, whose objects are named "%03x<name>/<timestamp>" (hex
 *     length of the name); a version is that archived object.
 * Delete markers and folder markers are left out. Every version of the mount's part of the
 * container is fetched into one flat list sorted by name, then newest
 * first, which is kept for entry_timeout: lookups and readdirs are
 * answered from it. That suits browsing and restoring; a container with
 * millions of versions makes the first look slow.
 *
 * Layout: the tree mirrors the mount: .versions/<path> is a folder for
 * every path that has versions (or has such paths below it), and the
 * files in the folder of an object are its versions, named by version id
 * (object_versioning) or timestamp (legacy). Everything is read-only.
 *
 * Inodes: numbers from FS_VERSIONS_INO_BASE up, in a table of this
 * module's own (one mutex, v->lock, guards it and the cached list; no
 * network I/O under it). A node is found again by its key (path, plus
 * the version for files), so the kernel sees stable numbers, and freed
 * when the kernel forgets it. */
#include "swiftfs/fs_versions.h"
#include "fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"

#define VBUCKETS 1024

struct vrec {
	char *name;     /* object path relative to the mount root */
	char *vid;      /* version id or archive timestamp */
	char *archive;  /* legacy: the archived object's name; NULL otherwise */
	uint64_t size;
	struct timespec mtime;
};

struct vlist {
	struct vrec *v;
	size_t n;
	char *archive_container; /* legacy mode; NULL for object_versioning */
	unsigned refs;           /* v->lock */
};

struct vnode {
	uint64_t ino;
	uint64_t nlookup;
	char *key;     /* path, or path "\n" vid for a version file */
	char *path;
	bool file;
	/* version files */
	char *vid;
	char *archive;
	char *archive_container;
	uint64_t size;
	bool sized; /* size known: the listing's was not 0, or a HEAD told it */
	struct timespec mtime;
	struct vnode *ino_next, *key_next;
};

struct swiftfs_versions {
	char *dirname;
	pthread_mutex_t lock;
	struct vnode *by_ino[VBUCKETS];  /* lock */
	struct vnode *by_key[VBUCKETS];  /* lock */
	uint64_t next_ino;               /* lock */
	struct vlist *list;              /* lock */
	double list_expire;              /* lock */
};

struct vdent {
	char *name;
	bool file;
	size_t rec; /* files: index in the list */
};

struct swiftfs_vdir {
	uint64_t ino, parent_ino;
	char *path;
	struct vlist *list; /* referenced */
	struct vdent *e;
	size_t n;
};

struct swiftfs_vfile {
	char *container;
	char *object;
	char *query;
	uint64_t size;
};

/* --- the version list ---------------------------------------------------- */

static void vlist_free(struct vlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].vid);
		free(l->v[i].archive);
	}
	free(l->v);
	free(l->archive_container);
	free(l);
}

static void vlist_put_locked(struct vlist *l)
{
	if (l && --l->refs == 0)
		vlist_free(l);
}

static int rec_cmp(const void *a, const void *b)
{
	const struct vrec *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(y->vid, x->vid); /* newest first */
}

static int vlist_add(struct vlist *l, size_t *cap, const char *name, const char *vid,
		     const char *archive, uint64_t size, const char *last_modified)
{
	if (l->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct vrec *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		*cap = nc;
	}
	struct vrec *r = &l->v[l->n];
	memset(r, 0, sizeof(*r));
	r->name = strdup(name);
	r->vid = strdup(vid);
	r->archive = archive ? strdup(archive) : NULL;
	r->size = size;
	if (last_modified)
		util_parse_iso_time(last_modified, &r->mtime);
	if (!r->name || !r->vid || (archive && !r->archive)) {
		free(r->name);
		free(r->vid);
		free(r->archive);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static bool is_delete_marker(const char *ct)
{
	return ct && strncasecmp(ct, "application/x-deleted", 21) == 0;
}

/* Split a legacy archive name "%03x<name>/<timestamp>". */
static bool split_archive_name(const char *an, char **name, const char **ts)
{
	char hex[4];
	if (strlen(an) < 5)
		return false;
	memcpy(hex, an, 3);
	hex[3] = '\0';
	char *end;
	unsigned long len = strtoul(hex, &end, 16);
	if (*end || strlen(an + 3) < len + 2 || an[3 + len] != '/')
		return false;
	*name = strndup(an + 3, len);
	*ts = an + 3 + len + 1;
	return *name != NULL;
}

/* A version the tree can show: every component of its path, and its id
 * (the file name under the path's folder), a valid file name. A legacy
 * archive's names are whatever was written there. */
static bool tree_name_ok(const char *path, const char *vid)
{
	for (const char *p = path;;) {
		size_t n = strcspn(p, "/");
		if (!listing_valid_segment(p, n))
			return false;
		if (!p[n])
			break;
		p += n + 1;
	}
	return listing_valid_segment(vid, strlen(vid));
}

/* One page of a JSON listing into l. *last_name and *last_vid get the page's
 * last entry (for the next marker); returns the entries on the page. */
static int add_page(struct swiftfs_fs *fs, struct vlist *l, size_t *cap, const char *body,
		    bool legacy, char **last_name, char **last_vid)
{
	json_object *root = json_tokener_parse(body ? body : "");
	size_t pl = strlen(fs->prefix_slash);
	int rc = 0, count = 0;

	if (!root || !json_object_is_type(root, json_type_array)) {
		LOGE("versions: the listing is not a JSON list");
		rc = -EIO;
		goto out;
	}
	count = (int)json_object_array_length(root);
	for (int i = 0; i < count && !rc; i++) {
		json_object *o = json_object_array_get_idx(root, (size_t)i);
		const char *nm = jstr(o, "name");
		const char *vid = legacy ? NULL : jstr(o, "version_id");
		const char *ct = jstr(o, "content_type");
		const char *lm = jstr(o, "last_modified");
		json_object *b;
		uint64_t bytes = json_object_object_get_ex(o, "bytes", &b) ?
					 (uint64_t)json_object_get_int64(b) : 0;
		if (!nm)
			continue;
		free(*last_name);
		*last_name = strdup(nm);
		if (!legacy) {
			free(*last_vid);
			*last_vid = vid ? strdup(vid) : NULL;
		}
		/* delete markers and folder markers are not versions of files */
		if (is_delete_marker(ct) || (ct && strncasecmp(ct, "application/directory", 21) == 0))
			continue;
		char *name = NULL;
		const char *ts = vid;
		if (legacy && !split_archive_name(nm, &name, &ts))
			continue;
		const char *full = legacy ? name : nm;
		if (ts && strncmp(full, fs->prefix_slash, pl) == 0 && full[pl] &&
		    tree_name_ok(full + pl, ts))
			rc = vlist_add(l, cap, full + pl, ts, legacy ? nm : NULL, bytes, lm);
		free(name);
	}
out:
	if (root)
		json_object_put(root);
	return rc ? rc : count;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* A full page must end past the marker it was asked with, or the next
 * request would ask for the same page again, forever. */
static bool marker_advanced(const char *prev_name, const char *prev_vid, const char *name,
			    const char *vid)
{
	return !(same_str(prev_name, name) && same_str(prev_vid, vid));
}

static int fetch_list(struct swiftfs_fs *fs, struct vlist **out)
{
	struct swiftfs_req h;
	struct vlist *l = calloc(1, sizeof(*l));
	char *last_name = NULL, *last_vid = NULL, *q = NULL;
	char *prev_name = NULL, *prev_vid = NULL;
	size_t cap = 0;
	int rc;

	if (!l)
		return -ENOMEM;
	l->refs = 1;
	swift_req_init(&h, "HEAD");
	h.container = fs->container;
	rc = swift_request(fs->c, &h);
	if (rc)
		goto out;
	bool legacy = false;
	if (!swift_req_header(&h, "X-Versions-Enabled")) {
		const char *loc = swift_req_header(&h, "X-Versions-Location");
		if (!loc)
			loc = swift_req_header(&h, "X-History-Location");
		if (!loc)
			goto done; /* no versioning of any kind: an empty tree */
		l->archive_container = util_url_decode(loc);
		if (!l->archive_container) {
			rc = -ENOMEM;
			goto out;
		}
		legacy = true;
	}
	for (;;) {
		struct swiftfs_req r;
		char *em = util_url_encode(last_name ? last_name : "", false);
		char *ev = util_url_encode(last_vid ? last_vid : "", false);
		char *ep = util_url_encode(legacy ? "" : fs->prefix_slash, false);
		int n = -1;
		unsigned limit = listing_page_limit(false);
		/* Swift refuses a version_marker without a marker */
		if (em && ev && ep && legacy)
			n = asprintf(&q, "format=json&limit=%u&marker=%s", limit, em);
		else if (em && ev && ep && last_name && last_vid)
			n = asprintf(&q, "versions&format=json&limit=%u&prefix=%s&marker=%s"
					 "&version_marker=%s", limit, ep, em, ev);
		else if (em && ev && ep)
			n = asprintf(&q, "versions&format=json&limit=%u&prefix=%s&marker=%s", limit,
				     ep, em);
		free(em);
		free(ev);
		free(ep);
		if (n < 0) {
			q = NULL;
			rc = -ENOMEM;
			goto out;
		}
		free(prev_name);
		free(prev_vid);
		prev_name = last_name ? strdup(last_name) : NULL;
		prev_vid = last_vid ? strdup(last_vid) : NULL;
		if ((last_name && !prev_name) || (last_vid && !prev_vid)) {
			rc = -ENOMEM;
			goto out;
		}
		swift_req_init(&r, "GET");
		r.container = legacy ? l->archive_container : fs->container;
		r.query = q;
		r.recv_limit = 64u << 20;
		rc = swift_request(fs->c, &r);
		buf_terminate(&r.resp_body);
		if (rc && listing_limit_refused(&r, false, limit)) {
			/* asked again with the same markers */
			swift_req_cleanup(&r);
			free(q);
			q = NULL;
			continue;
		}
		if (rc) {
			char d[300];
			swift_describe_error(&r, d, sizeof(d));
			LOGE("versions: listing failed: %s", d);
			swift_req_cleanup(&r);
			goto out;
		}
		buf_terminate(&r.resp_body);
		n = r.status == 204 ? 0 : add_page(fs, l, &cap, r.resp_body.data, legacy,
						   &last_name, &last_vid);
		swift_req_cleanup(&r);
		free(q);
		q = NULL;
		if (n < 0) {
			rc = n;
			goto out;
		}
		if ((unsigned)n < limit)
			break;
		if (!marker_advanced(prev_name, prev_vid, last_name, last_vid)) {
			LOGE("versions: the listing of %s does not move past '%s'",
			     legacy ? l->archive_container : fs->container,
			     last_name ? last_name : "");
			rc = -EIO;
			goto out;
		}
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), rec_cmp);
done:
	*out = l;
	l = NULL;
out:
	swift_req_cleanup(&h);
	vlist_free(l);
	free(last_name);
	free(last_vid);
	free(prev_name);
	free(prev_vid);
	free(q);
	return rc;
}

/* The current list, referenced (fetched when older than entry_timeout). */
static int get_list(struct swiftfs_fs *fs, struct vlist **out)
{
	struct swiftfs_versions *v = fs->versions;
	struct vlist *l = NULL;

	pthread_mutex_lock(&v->lock);
	if (v->list && util_now() < v->list_expire) {
		v->list->refs++;
		*out = v->list;
		pthread_mutex_unlock(&v->lock);
		return 0;
	}
	pthread_mutex_unlock(&v->lock);
	int rc = fetch_list(fs, &l);
	if (rc)
		return rc;
	pthread_mutex_lock(&v->lock);
	vlist_put_locked(v->list);
	v->list = l;
	v->list_expire = util_now() + fs->entry_timeout;
	l->refs++;
	pthread_mutex_unlock(&v->lock);
	*out = l;
	return 0;
}

static void put_list(struct swiftfs_fs *fs, struct vlist *l)
{
	pthread_mutex_lock(&fs->versions->lock);
	vlist_put_locked(l);
	pthread_mutex_unlock(&fs->versions->lock);
}

/* First index whose name is >= s. */
static size_t lower_bound(const struct vlist *l, const char *s)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(l->v[mid].name, s) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Is path a folder of the tree: an object with versions, or above one? */
static bool is_folder(const struct vlist *l, const char *path)
{
	size_t i = lower_bound(l, path);
	if (i < l->n && strcmp(l->v[i].name, path) == 0)
		return true;
	size_t pl = strlen(path);
	char *sl = malloc(pl + 2);
	if (!sl)
		return false;
	memcpy(sl, path, pl);
	sl[pl] = '/';
	sl[pl + 1] = '\0';
	i = lower_bound(l, sl);
	bool below = i < l->n && strncmp(l->v[i].name, sl, pl + 1) == 0;
	free(sl);
	return below;
}

/* --- nodes ------------------------------------------------------------- */

static size_t hash_str(const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % VBUCKETS;
}

static struct vnode *node_by_ino_locked(struct swiftfs_versions *v, uint64_t ino)
{
	for (struct vnode *n = v->by_ino[ino % VBUCKETS]; n; n = n->ino_next)
		if (n->ino == ino)
			return n;
	return NULL;
}

static void node_free(struct vnode *n)
{
	free(n->key);
	free(n->path);
	free(n->vid);
	free(n->archive);
	free(n->archive_container);
	free(n);
}

/* Find or make the node of path (a folder) or of version rec of path (a
 * file); one kernel lookup is added. */
static struct vnode *node_get_locked(struct swiftfs_versions *v, const char *path,
				     const struct vrec *rec, const char *archive_container)
{
	char *key = NULL;
	if (asprintf(&key, "%s%s%s", path, rec ? "\n" : "", rec ? rec->vid : "") < 0)
		return NULL;
	size_t b = hash_str(key);
	for (struct vnode *n = v->by_key[b]; n; n = n->key_next) {
		if (strcmp(n->key, key) == 0) {
			free(key);
			n->nlookup++;
			return n;
		}
	}
	struct vnode *n = calloc(1, sizeof(*n));
	if (!n) {
		free(key);
		return NULL;
	}
	n->key = key;
	n->path = strdup(path);
	n->file = rec != NULL;
	if (rec) {
		n->vid = strdup(rec->vid);
		n->archive = rec->archive ? strdup(rec->archive) : NULL;
		n->archive_container = archive_container ? strdup(archive_container) : NULL;
		n->size = rec->size;
		n->sized = rec->size > 0;
		n->mtime = rec->mtime;
	}
	if (!n->path || (rec && (!n->vid || (rec->archive && !n->archive) ||
				 (archive_container && !n->archive_container)))) {
		node_free(n);
		return NULL;
	}
	n->ino = v->next_ino++;
	n->nlookup = 1;
	n->key_next = v->by_key[b];
	v->by_key[b] = n;
	n->ino_next = v->by_ino[n->ino % VBUCKETS];
	v->by_ino[n->ino % VBUCKETS] = n;
	return n;
}

static void node_unlink_locked(struct swiftfs_versions *v, struct vnode *n)
{
	struct vnode **pp;
	for (pp = &v->by_ino[n->ino % VBUCKETS]; *pp; pp = &(*pp)->ino_next) {
		if (*pp == n) {
			*pp = n->ino_next;
			break;
		}
	}
	for (pp = &v->by_key[hash_str(n->key)]; *pp; pp = &(*pp)->key_next) {
		if (*pp == n) {
			*pp = n->key_next;
			break;
		}
	}
}

static void fill_entry(struct swiftfs_fs *fs, const struct vnode *n, struct swiftfs_entry *e)
{
	struct swiftfs_attr a;
	memset(&a, 0, sizeof(a));
	a.kind = n->file ? DK_FILE : DK_DIR;
	a.size = n->size;
	a.mtime = n->mtime;
	a.have_mtime = n->file;
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	fs_fill_stat(fs, n->ino, &a, &e->st);
	e->st.st_mode &= ~(mode_t)0222; /* read-only */
	/* a size still to be asked is asked at the next stat, and by a read
	 * past the size the kernel holds */
	e->attr_timeout = n->file && !n->sized ? 0 : fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
}

/* Where a version's bytes are read: the archived object (legacy), or the
 * object with ?version-id=. */
static int vnode_target_locked(struct swiftfs_fs *fs, const struct vnode *n, char **container,
			       char **object, char **query)
{
	*container = *object = *query = NULL;
	if (n->archive) {
		*container = strdup(n->archive_container);
		*object = strdup(n->archive);
		return *container && *object ? 0 : -ENOMEM;
	}
	*container = strdup(fs->container);
	*object = fs_join(fs->prefix_slash, n->path, "");
	char *ev = util_url_encode(n->vid, false);
	if (!ev || asprintf(query, "version-id=%s", ev) < 0)
		*query = NULL;
	free(ev);
	return *container && *object && *query ? 0 : -ENOMEM;
}

/* A version the listing says is empty may be a DLO manifest or a symlink,
 * whose bytes are those of its segments or its target: a HEAD (which
 * follows both, as the GET does) asks its size, once. 0, or the HEAD's
 * error when the size is still not known. */
static int resolve_size(struct swiftfs_fs *fs, uint64_t ino)
{
	struct swiftfs_versions *v = fs->versions;
	char *container = NULL, *object = NULL, *query = NULL;
	struct swiftfs_req r;

	pthread_mutex_lock(&v->lock);
	struct vnode *n = node_by_ino_locked(v, ino);
	bool need = n && n->file && !n->sized;
	int rc = need ? vnode_target_locked(fs, n, &container, &object, &query) : 0;
	pthread_mutex_unlock(&v->lock);
	if (!need || rc)
		goto out;
	swift_req_init(&r, "HEAD");
	r.container = container;
	r.object = object;
	r.query = query;
	rc = swift_request(fs->c, &r);
	const char *cl = rc ? NULL : swift_req_header(&r, "Content-Length");
	uint64_t size = cl ? strtoull(cl, NULL, 10) : 0;
	/* a symlink whose target is gone has nothing to read */
	bool known = cl != NULL || rc == -ENOENT;
	if (rc && rc != -ENOENT) {
		char d[300];
		swift_describe_error(&r, d, sizeof(d));
		LOGW("versions: cannot ask the size of %s: %s", object, d);
	}
	swift_req_cleanup(&r);
	if (!known) {
		rc = rc ? rc : -EIO; /* an answer without a length */
		goto out;
	}
	rc = 0;
	pthread_mutex_lock(&v->lock);
	n = node_by_ino_locked(v, ino);
	if (n) {
		n->size = size;
		n->sized = true;
	}
	pthread_mutex_unlock(&v->lock);
out:
	free(container);
	free(object);
	free(query);
	return rc;
}

/* --- operations -------------------------------------------------------- */

int fs_versions_new(const char *dirname, struct swiftfs_versions **out)
{
	*out = NULL;
	if (!dirname || !*dirname)
		return 0;
	struct swiftfs_versions *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->dirname = strdup(dirname);
	if (!v->dirname) {
		free(v);
		return -ENOMEM;
	}
	pthread_mutex_init(&v->lock, NULL);
	v->next_ino = FS_VERSIONS_INO_BASE;
	*out = v;
	return 0;
}

void fs_versions_free(struct swiftfs_versions *v)
{
	if (!v)
		return;
	for (size_t b = 0; b < VBUCKETS; b++) {
		struct vnode *n = v->by_ino[b];
		while (n) {
			struct vnode *next = n->ino_next;
			node_free(n);
			n = next;
		}
	}
	vlist_put_locked(v->list);
	pthread_mutex_destroy(&v->lock);
	free(v->dirname);
	free(v);
}

bool fs_versions_owns_lookup(struct swiftfs_fs *fs, uint64_t parent, const char *name)
{
	if (!fs->versions)
		return false;
	return fs_versions_ino(parent) ||
	       (parent == SWIFTFS_ROOT_INO && strcmp(name, fs->versions->dirname) == 0);
}

int fs_versions_lookup(struct swiftfs_fs *fs, uint64_t parent, const char *name,
		       struct swiftfs_entry *e)
{
	struct swiftfs_versions *v = fs->versions;
	struct vlist *l = NULL;
	char *ppath = NULL, *path = NULL;
	int rc = 0;

	if (!v)
		return -ENOENT;
	if (parent == SWIFTFS_ROOT_INO) {
		pthread_mutex_lock(&v->lock);
		struct vnode *n = node_get_locked(v, "", NULL, NULL);
		if (n)
			fill_entry(fs, n, e);
		pthread_mutex_unlock(&v->lock);
		return n ? 0 : -ENOMEM;
	}
	pthread_mutex_lock(&v->lock);
	struct vnode *p = node_by_ino_locked(v, parent);
	bool pfile = p && p->file;
	ppath = p ? strdup(p->path) : NULL;
	pthread_mutex_unlock(&v->lock);
	if (!p)
		return -ESTALE;
	if (pfile) {
		rc = -ENOTDIR;
		goto out;
	}
	if (!ppath) {
		rc = -ENOMEM;
		goto out;
	}
	rc = get_list(fs, &l);
	if (rc)
		goto out;
	/* a version of the object ppath? */
	const struct vrec *rec = NULL;
	if (ppath[0]) {
		for (size_t i = lower_bound(l, ppath);
		     i < l->n && strcmp(l->v[i].name, ppath) == 0; i++) {
			if (strcmp(l->v[i].vid, name) == 0) {
				rec = &l->v[i];
				break;
			}
		}
	}
	if (!rec) {
		path = ppath[0] ? fs_join(ppath, "/", name) : strdup(name);
		if (!path) {
			rc = -ENOMEM;
			goto out;
		}
		if (!is_folder(l, path)) {
			rc = -ENOENT;
			goto out;
		}
	}
	pthread_mutex_lock(&v->lock);
	struct vnode *n = node_get_locked(v, rec ? ppath : path, rec, l->archive_container);
	if (n)
		fill_entry(fs, n, e);
	pthread_mutex_unlock(&v->lock);
	if (!n)
		rc = -ENOMEM;
out:
	if (l)
		put_list(fs, l);
	free(ppath);
	free(path);
	return rc;
}

void fs_versions_forget(struct swiftfs_fs *fs, uint64_t ino, uint64_t nlookup)
{
	struct swiftfs_versions *v = fs->versions;
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	struct vnode *n = node_by_ino_locked(v, ino);
	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		if (n->nlookup == 0) {
			node_unlink_locked(v, n);
			node_free(n);
		}
	}
	pthread_mutex_unlock(&v->lock);
}

int fs_versions_getattr(struct swiftfs_fs *fs, uint64_t ino, struct stat *st, double *timeout)
{
	struct swiftfs_versions *v = fs->versions;
	struct swiftfs_entry e = { 0 };
	if (!v)
		return -ESTALE;
	resolve_size(fs, ino);
	pthread_mutex_lock(&v->lock);
	struct vnode *n = node_by_ino_locked(v, ino);
	if (n)
		fill_entry(fs, n, &e);
	pthread_mutex_unlock(&v->lock);
	if (!n)
		return -ESTALE;
	*st = e.st;
	*timeout = e.attr_timeout;
	return 0;
}

static int dent_cmp(const void *a, const void *b)
{
	const struct vdent *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (int)x->file - (int)y->file;
}

static void vdir_free(struct swiftfs_fs *fs, struct swiftfs_vdir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	free(d->path);
	if (d->list)
		put_list(fs, d->list);
	free(d);
}

int fs_versions_opendir(struct swiftfs_fs *fs, uint64_t ino, struct swiftfs_vdir **out)
{
	struct swiftfs_versions *v = fs->versions;
	struct swiftfs_vdir *d = NULL;
	int rc;

	if (!v)
		return -ESTALE;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&v->lock);
	struct vnode *n = node_by_ino_locked(v, ino);
	bool file = n && n->file;
	d->path = n ? strdup(n->path) : NULL;
	pthread_mutex_unlock(&v->lock);
	if (!n) {
		rc = -ESTALE;
		goto fail;
	}
	if (file) {
		rc = -ENOTDIR;
		goto fail;
	}
	if (!d->path) {
		rc = -ENOMEM;
		goto fail;
	}
	d->ino = ino;
	d->parent_ino = d->path[0] ? ino : SWIFTFS_ROOT_INO; /* ".." is advisory */
	rc = get_list(fs, &d->list);
	if (rc)
		goto fail;
	struct vlist *l = d->list;
	size_t pl = strlen(d->path), cap = 0;
	size_t i = d->path[0] ? lower_bound(l, d->path) : 0;
	for (; i < l->n; i++) {
		const char *nm = l->v[i].name;
		const char *child = NULL;
		bool isfile = false;
		if (!d->path[0]) {
			child = nm;
		} else if (strcmp(nm, d->path) == 0) {
			child = l->v[i].vid;
			isfile = true;
		} else if (strncmp(nm, d->path, pl) == 0 && nm[pl] == '/') {
			child = nm + pl + 1;
		} else if (strncmp(nm, d->path, pl) == 0) {
			continue; /* "a.txt" while listing "a": the '/' entries follow */
		} else {
			break;
		}
		size_t cl = isfile ? strlen(child) : strcspn(child, "/");
		if (cl == 0)
			continue;
		if (!isfile && d->n && !d->e[d->n - 1].file &&
		    strncmp(d->e[d->n - 1].name, child, cl) == 0 && d->e[d->n - 1].name[cl] == '\0')
			continue; /* the same folder as the entry before */
		if (d->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct vdent *ne = realloc(d->e, nc * sizeof(*ne));
			if (!ne) {
				rc = -ENOMEM;
				goto fail;
			}
			d->e = ne;
			cap = nc;
		}
		d->e[d->n].name = strndup(child, cl);
		d->e[d->n].file = isfile;
		d->e[d->n].rec = i;
		if (!d->e[d->n].name) {
			rc = -ENOMEM;
			goto fail;
		}
		d->n++;
	}
	/* names are not in order across "a", "a-b", "a/x": sort, then drop
	 * folder duplicates */
	if (d->n)
		qsort(d->e, d->n, sizeof(*d->e), dent_cmp);
	size_t w = 0;
	for (size_t k = 0; k < d->n; k++) {
		if (w && !d->e[k].file && !d->e[w - 1].file &&
		    strcmp(d->e[k].name, d->e[w - 1].name) == 0) {
			free(d->e[k].name);
			continue;
		}
		d->e[w++] = d->e[k];
	}
	d->n = w;
	*out = d;
	return 0;
fail:
	vdir_free(fs, d);
	return rc;
}

int fs_versions_readdir(struct swiftfs_fs *fs, struct swiftfs_vdir *d, size_t idx, bool plus,
			const char **name, struct swiftfs_entry *e)
{
	struct swiftfs_versions *v = fs->versions;
	memset(e, 0, sizeof(*e));
	if (idx < 2) {
		struct swiftfs_attr a = { .kind = DK_DIR };
		*name = idx == 0 ? "." : "..";
		e->ino = idx == 0 ? d->ino : d->parent_ino;
		fs_fill_stat(fs, e->ino, &a, &e->st);
		return 1;
	}
	idx -= 2;
	if (idx >= d->n)
		return 0;
	const struct vdent *de = &d->e[idx];
	*name = de->name;
	char *path = NULL;
	if (!de->file) {
		path = d->path[0] ? fs_join(d->path, "/", de->name) : strdup(de->name);
		if (!path)
			return -ENOMEM;
	}
	const struct vrec *rec = de->file ? &d->list->v[de->rec] : NULL;
	pthread_mutex_lock(&v->lock);
	struct vnode *n = node_get_locked(v, de->file ? d->path : path, rec,
					  d->list->archive_container);
	if (n) {
		fill_entry(fs, n, e);
		if (!plus) { /* readdir takes no lookup */
			n->nlookup--;
			if (n->nlookup == 0) {
				node_unlink_locked(v, n);
				node_free(n);
			}
		}
	}
	pthread_mutex_unlock(&v->lock);
	free(path);
	return n ? 1 : -ENOMEM;
}

void fs_versions_releasedir(struct swiftfs_fs *fs, struct swiftfs_vdir *d)
{
	vdir_free(fs, d);
}

int fs_versions_open(struct swiftfs_fs *fs, uint64_t ino, int flags, struct swiftfs_vfile **out)
{
	struct swiftfs_versions *v = fs->versions;
	struct swiftfs_vfile *f = NULL;
	int rc = 0;

	if (!v)
		return -ESTALE;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	/* a size not known would read as empty, with no error */
	rc = resolve_size(fs, ino);
	if (rc) {
		free(f);
		return rc;
	}
	pthread_mutex_lock(&v->lock);
	struct vnode *n = node_by_ino_locked(v, ino);
	if (!n)
		rc = -ESTALE;
	else if (!n->file)
		rc = -EISDIR;
	else
		rc = vnode_target_locked(fs, n, &f->container, &f->object, &f->query);
	if (n)
		f->size = n->size;
	pthread_mutex_unlock(&v->lock);
	if (rc) {
		fs_versions_release(fs, f);
		return rc;
	}
	*out = f;
	return 0;
}

ssize_t fs_versions_read(struct swiftfs_fs *fs, struct swiftfs_vfile *f, char *buf, size_t size,
			 uint64_t off)
{
	struct swiftfs_req r;
	if (off >= f->size || size == 0)
		return 0;
	if (size > f->size - off)
		size = (size_t)(f->size - off);
	swift_req_init(&r, "GET");
	r.container = f->container;
	r.object = f->object;
	r.query = f->query;
	r.range_off = (int64_t)off;
	r.range_len = (int64_t)size;
	r.recv_buf = buf;
	r.recv_cap = size;
	int rc = swift_request(fs->c, &r);
	ssize_t got = rc ? rc : (ssize_t)r.recv_len;
	if (rc) {
		char d[300];
		swift_describe_error(&r, d, sizeof(d));
		LOGE("versions: read failed: %s", d);
	}
	swift_req_cleanup(&r);
	return got;
}

void fs_versions_release(struct swiftfs_fs *fs, struct swiftfs_vfile *f)
{
	(void)fs;
	if (!f)
		return;
	free(f->container);
	free(f->object);
	free(f->query);
	free(f);
}
