/* Opening a clean file for reading: how an open is validated, and where
 * its bytes come from.
 *
 * Validation (close-to-open): every open asks Swift what the object is
 * now, so a version written by another client is seen by the next open,
 * whatever attr_timeout is. The one exception is the open right after a
 * lookup that HEADed the object (the kernel looks up, then opens). For a
 * large object the question is a HEAD. A small object (up to -o
 * small_file) is instead fetched whole by one GET at open, which is also
 * the question; with its blocks cached already, the GET carries
 * If-None-Match and a 304 answer costs no body. A lookup of a small file
 * (which would HEAD it for exact attributes) GETs it the same way, its
 * bytes going to the cache: `open` right after is then answered by it,
 * and `cat` of a file costs one request.
 *
 * Bytes then come through the reader: from the block cache, keyed by the
 * ETag the open settled on, and by ranged GETs with If-Match on that ETag,
 * so two versions are never mixed. */
#include "swiftfs/fs.h"
#include "fs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftfs/block_cache.h"
#include "swiftfs/inode.h"
#include "swiftfs/log.h"
#include "swiftfs/reader.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"

/* Are all blocks of a small object cached for this key? */
static bool small_cached(struct swiftfs_fs *fs, const struct swiftfs_bc_key *k, uint64_t size)
{
	uint64_t bs = block_cache_block_size(fs->bc);
	for (uint64_t b = 0; b * bs < size; b++)
		if (!block_cache_has(fs->bc, k, b))
			return false;
	return true;
}

/* GET the first small_file bytes of object. With if_none_match (the ETag
 * whose blocks are cached, a->size bytes), a 304 gives *a the exact
 * attributes (Swift's 304 carries the object's metadata, which a POST may
 * have changed under the same ETag) and *data NULL. Otherwise *a gets the
 * exact attributes and *data (malloc'd) the bytes, *len of them (the
 * whole object when *len == a->size). -EAGAIN: the answer does not suit
 * this path (empty object, manifest); HEAD instead. */
static int get_small(struct swiftfs_fs *fs, const char *object, const char *if_none_match,
		     struct swiftfs_attr *a, char **data, size_t *len)
{
	struct swiftfs_req r;
	char inm[100];
	const char *hdrs[2] = { NULL, NULL };
	size_t cap = (size_t)fs->small_file;
	char *buf = malloc(cap);
	int rc;

	*data = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	if (if_none_match) {
		snprintf(inm, sizeof(inm), "If-None-Match: \"%s\"", if_none_match);
		hdrs[0] = inm;
	}
	swift_req_init(&r, "GET");
	r.container = fs->container;
	r.object = object;
	r.headers = hdrs;
	r.range_off = 0;
	r.range_len = (int64_t)cap;
	r.recv_buf = buf;
	r.recv_cap = cap;
	r.flags = SWIFT_REQ_QUIET_404;
	rc = swift_request(fs->c, &r);
	if (rc == 0 && r.status == 304) {
		/* the cached version is the current one; its size is the
		 * cache key's (a 304's Content-Length is 0) */
		struct swiftfs_attr g = *a;
		fs_attr_from_headers(&r, &g);
		g.size = a->size;
		/* Swift's own 304 (X-Timestamp) carries the metadata; a cache
		 * on the way may have kept the ETag alone */
		if (if_none_match && strcmp(g.etag, if_none_match) == 0 && !g.is_dlo &&
		    swift_req_header(&r, "X-Timestamp"))
			*a = g;
		goto out;
	}
	if (rc == -ERANGE) {
		rc = -EAGAIN; /* 416: an empty object */
		goto out;
	}
	if (rc) {
		if (rc != -ENOENT) {
			char what[256];
			swift_describe_error(&r, what, sizeof(what));
			LOGE("open of %s: %s", object, what);
		}
		goto out;
	}
	struct swiftfs_attr g = *a;
	fs_attr_from_headers(&r, &g);
	/* a 206's Content-Length is the range's; the total is in Content-Range */
	const char *cr = swift_req_header(&r, "Content-Range");
	const char *slash = cr ? strchr(cr, '/') : NULL;
	if (r.status == 206 && slash && slash[1] != '*')
		g.size = strtoull(slash + 1, NULL, 10);
	if (g.is_dlo || !g.etag[0] || r.recv_len > g.size) {
		rc = -EAGAIN;
		goto out;
	}
	*a = g;
	*data = buf;
	*len = r.recv_len;
	buf = NULL;
out:
	swift_req_cleanup(&r);
	free(buf);
	return rc;
}

/* Put a small object's bytes (its first len) into the block cache. */
static void store_small(struct swiftfs_fs *fs, const char *object, const struct swiftfs_attr *a,
			const char *data, size_t len)
{
	struct swiftfs_bc_key key;
	uint64_t bs = block_cache_block_size(fs->bc);
	if (block_cache_key(fs->bc, fs->account, fs->container, object, a->etag, a->size, &key))
		return;
	for (uint64_t b = 0; b * bs < len; b++) {
		uint64_t blen = a->size - b * bs < bs ? a->size - b * bs : bs;
		if (b * bs + blen > len)
			break; /* whole blocks only */
		if (block_cache_claim(fs->bc, &key, b))
			block_cache_fill(fs->bc, &key, b, data + b * bs, (uint32_t)blen);
	}
}

static bool is_small(struct swiftfs_fs *fs, const struct swiftfs_attr *a)
{
	return fs->small_file && a->kind == DK_FILE && !a->is_dlo && !a->maybe_dlo && a->size > 0 &&
	       a->size <= fs->small_file;
}

bool fs_small_file_p(struct swiftfs_fs *fs, const struct swiftfs_attr *a)
{
	return fs->bc && is_small(fs, a);
}

bool fs_small_cached_p(struct swiftfs_fs *fs, const char *object, const struct swiftfs_attr *a)
{
	struct swiftfs_bc_key key;
	if (!fs->bc || !a->etag[0] ||
	    block_cache_key(fs->bc, fs->account, fs->container, object, a->etag, a->size, &key))
		return false;
	return small_cached(fs, &key, a->size);
}

/* A lookup of a small file, or the revalidation of one fetched ahead: a
 * GET whose bytes go to the block cache; with the blocks of a's ETag
 * cached (by an earlier mount, too), a conditional one. */
int fs_fetch_small(struct swiftfs_fs *fs, const char *object, struct swiftfs_attr *a)
{
	char *data = NULL;
	size_t len = 0;
	if (!fs->bc || !is_small(fs, a))
		return -EAGAIN;
	bool cached = fs_small_cached_p(fs, object, a);
	int rc = get_small(fs, object, cached ? a->etag : NULL, a, &data, &len);
	if (rc == 0 && data)
		store_small(fs, object, a, data, len);
	free(data);
	return rc;
}

/* The reader's question: the object name of inode b now. */
static char *object_name_now(void *a, void *b)
{
	return fs_object_of(a, b, NULL);
}

int fs_open_read(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *object,
		 struct swiftfs_file *f)
{
	struct swiftfs_attr a;
	struct swiftfs_bc_key key = { 0 };
	char *pre = NULL;
	size_t pre_len = 0;
	int rc;

	pthread_mutex_lock(&fs->t.lock);
	a = n->attr;
	bool recent = a.exact && n->head_unused && util_now() - n->head_at < HEAD_REUSE_SECS;
	n->head_unused = false; /* one open per lookup's HEAD */
	pthread_mutex_unlock(&fs->t.lock);

	bool small = is_small(fs, &a);
	bool cached = false;
	if (small)
		cached = fs_small_cached_p(fs, object, &a);
	bool checked = recent;
	bool got_attrs = false; /* a is what a HEAD or GET just said */
	struct swiftfs_attr pa = a;
	if (small && !(checked && cached) && fs_prefetch_open(fs, object, &pa)) {
		a = pa;
		cached = fs_small_cached_p(fs, object, &a);
		checked = got_attrs = cached;
	}
	if (small && !(checked && cached)) {
		rc = get_small(fs, object, cached ? a.etag : NULL, &a, &pre, &pre_len);
		if (rc == 0) {
			checked = true;
			got_attrs = true; /* a 304's too */
		} else if (rc != -EAGAIN) {
			goto out;
		}
	}
	if (!checked) {
		rc = fs_head_object(fs, object, false, &a, NULL);
		if (rc)
			goto out;
		got_attrs = true;
	}
	if (got_attrs) {
		pthread_mutex_lock(&fs->t.lock);
		if (strcmp(a.etag, n->attr.etag) != 0 || a.size != n->attr.size) {
			LOGD("%s changed since it was listed (size %llu -> %llu)", object,
			     (unsigned long long)n->attr.size, (unsigned long long)a.size);
			f->changed = a.size != n->attr.size;
		}
		settle_head_locked(fs, n, &a);
		pthread_mutex_unlock(&fs->t.lock);
	}

	/* the kernel's pages of this file stay valid while the ETag is the
	 * one they were read at (not for a DLO: its ETag does not follow its
	 * segments). All handles of an inode share those pages: while
	 * handles opened on another version still read through them, this
	 * one bypasses them (direct I/O), so neither reads the other's
	 * bytes. */
	pthread_mutex_lock(&fs->t.lock);
	bool same = !a.is_dlo && a.etag[0] && strcmp(n->cached_etag, a.etag) == 0;
	if (n->page_readers && !same) {
		f->direct_io = true;
	} else {
		f->keep_cache = same;
		snprintf(n->cached_etag, sizeof(n->cached_etag), "%s", a.is_dlo ? "" : a.etag);
		n->page_readers++;
		f->page_reader = true;
	}
	pthread_mutex_unlock(&fs->t.lock);

	bool use_cache = fs->bc && !a.is_dlo && a.etag[0] &&
			 block_cache_key(fs->bc, fs->account, fs->container, object, a.etag,
					 a.size, &key) == 0;
	struct swiftfs_reader_cfg rc_cfg = {
		.cache = use_cache ? fs->bc : NULL,
		.key = &key,
		.client = fs->c,
		.pool = fs->pool,
		.container = fs->container,
		.object = object,
		.size = a.size,
		/* a DLO's ETag is not something If-Match can check */
		.etag = a.is_dlo ? NULL : a.etag,
		.chunk = fs->chunk,
		.ahead = fs->ahead,
		.name_now = object_name_now,
		.name_a = fs,
		.name_b = n, /* the handle holds a reference on it */
	};
	rc = reader_new(&rc_cfg, &f->reader);
	if (rc) {
		if (f->page_reader) {
			pthread_mutex_lock(&fs->t.lock);
			n->page_readers--;
			pthread_mutex_unlock(&fs->t.lock);
			f->page_reader = false;
		}
		goto out;
	}
	if (pre && use_cache) {
		store_small(fs, object, &a, pre, pre_len);
	} else if (pre) {
		reader_preload(f->reader, pre, pre_len);
		pre = NULL;
	}
out:
	free(pre);
	return rc;
}
