/* Writing files. Written data is staged in a local file (staging.c) per
 * inode, shared by every handle open on it, and uploaded (upload.c) when
 * a handle is flushed (close) or fsynced: close() and fsync() return only
 * once the object is in Swift, or fail with EIO after the client's
 * retries, with the staged data kept on disk and its path logged.
 *
 * An existing object opened for writing is not downloaded: the staging
 * file starts sparse, and only the ranges a read needs (or, at upload,
 * the ranges the application did not overwrite) are fetched, with
 * If-Match on the ETag seen at open so two versions never mix.
 *
 * Locking: the table lock guards inode->w and wstate->refs; wstate->lock
 * guards the rest of the wstate. Order: table lock, then wstate lock;
 * never the table lock while holding a wstate lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_internal.h"
#include "fs_wstate.h"
#include "swiftfs/log.h"
#include "swiftfs/staging.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/upload.h"
#include "swiftfs/util.h"
#include "swiftfs/writeback.h"

static void wstate_free(struct swiftfs_wstate *w, bool keep)
{
	if (!w)
		return;
	upload_stream_abort(w->stream);
	if (keep && w->st)
		LOGW("staged data of an object that is not in Swift is kept in %s", w->st->path);
	staging_free(w->st, keep);
	fs_meta_free(w->meta, w->nmeta);
	free(w->content_type);
	free(w->wb_record); /* the record stays: the next mount uploads it */
	pthread_cond_destroy(&w->claimed);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static void now_ts(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* Give up streaming: segments already uploaded are deleted and the file
 * is uploaded the ordinary way at close. w->lock held. */
static void stream_stop_locked(struct swiftfs_wstate *w)
{
	w->seq = false;
	if (w->stream) {
		upload_stream_abort(w->stream);
		w->stream = NULL;
	}
	w->streamed = 0;
}

/* The file starts over empty (create, O_TRUNC, truncate to 0). */
static void stream_reset_locked(struct swiftfs_wstate *w)
{
	stream_stop_locked(w);
	w->seq = true;
	w->seq_end = 0;
}

/* Hand the segment [streamed, streamed + segment_size) to the stream.
 * w->lock held. */
static void stream_segment_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w,
				  const char *object)
{
	uint64_t segsz = fs->segment_size;
	if (!w->stream) {
		if (upload_stream_new(&fs->upcfg, object, 0, segsz, &w->stream)) {
			stream_stop_locked(w);
			return;
		}
	}
	if (upload_stream_count(w->stream) + 1 >= fs->max_segments ||
	    upload_stream_add(w->stream, w->st->fd, w->streamed, segsz)) {
		stream_stop_locked(w);
		return;
	}
	w->streamed += segsz;
}

/* After a write of [off, off+len): each segment that data written in
 * order completes goes to the stream at once. A gap, or a change to data
 * already streamed, stops streaming. w->lock held. */
static void stream_after_write_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w,
				      const char *object, uint64_t off, uint64_t len)
{
	uint64_t segsz = fs->segment_size;
	if (!w->seq)
		return;
	if (off < w->streamed || off > w->seq_end) {
		stream_stop_locked(w);
		return;
	}
	/* a rewrite of bytes not handed over yet is fine: segments are read
	 * from the staging file when they are sent */
	if (off + len > w->seq_end)
		w->seq_end = off + len;
	while (w->seq && w->seq_end >= w->streamed + segsz)
		stream_segment_locked(fs, w, object);
}

/* A new write state for object (existing: its size, ETag and metadata
 * from a HEAD; the staging file starts sparse). */
static int wstate_new(struct swiftfs_fs *fs, const char *object, bool existing,
		      struct swiftfs_wstate **out)
{
	struct swiftfs_wstate *w = calloc(1, sizeof(*w));
	struct swiftfs_req r;
	int rc;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->claimed, NULL);
	now_ts(&w->mtime);
	rc = staging_create(fs->staging_dir, &w->st);
	if (rc) {
		LOGE("cannot create a staging file in %s: %s", fs->staging_dir, strerror(-rc));
		wstate_free(w, false);
		return rc;
	}
	swift_req_init(&r, "HEAD");
	if (existing) {
		r.container = fs->container;
		r.object = object;
		rc = swift_request(fs->c, &r);
		if (rc == -ENOENT) {
			rc = 0; /* gone meanwhile: start empty */
		} else if (rc) {
			goto out;
		} else {
			const char *v = swift_req_header(&r, "Content-Length");
			uint64_t size = v ? strtoull(v, NULL, 10) : 0;
			swift_req_etag(&r, w->base_etag, sizeof(w->base_etag));
			v = swift_req_header(&r, "X-Static-Large-Object");
			w->base_slo = v && strcasecmp(v, "true") == 0;
			w->base_dlo = swift_req_header(&r, "X-Object-Manifest") != NULL;
			v = swift_req_header(&r, "Content-Type");
			w->content_type = util_strdup0(v);
			util_parse_float_time(swift_req_header(&r, "X-Object-Meta-Mtime"), &w->mtime);
			rc = fs_meta_collect(&r, true, &w->meta, &w->nmeta);
			if (!rc)
				rc = staging_truncate(w->st, 0);
			if (!rc && size) {
				/* sparse: nothing valid until written or fetched */
				rc = staging_truncate(w->st, size);
				w->st->nvalid = 0;
			}
			w->exists = true;
		}
	}
out:
	swift_req_cleanup(&r);
	if (rc) {
		wstate_free(w, false);
		return rc;
	}
	*out = w;
	return 0;
}

/* Take (or create) the write state of file inode n; returns with a
 * reference for the caller. */
static int wstate_get(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *object,
		      struct swiftfs_wstate **out)
{
	struct swiftfs_wstate *w = NULL;
	int rc;

	pthread_mutex_lock(&fs->t.lock);
	if (n->w) {
		n->w->refs++;
		*out = n->w;
		pthread_mutex_unlock(&fs->t.lock);
		return 0;
	}
	/* removed or replaced (reached through /proc/self/fd): its old name
	 * is not its own, and data staged for it would go up there */
	bool named = n->hashed;
	pthread_mutex_unlock(&fs->t.lock);
	if (!named)
		return -ENOENT;
	rc = wstate_new(fs, object, true, &w);
	if (rc)
		return rc;
	pthread_mutex_lock(&fs->t.lock);
	if (n->w) { /* another opener won the race */
		n->w->refs++;
		*out = n->w;
		pthread_mutex_unlock(&fs->t.lock);
		wstate_free(w, false);
		return 0;
	}
	n->w = w;
	w->refs = 2;           /* the inode's link and the caller's */
	inode_ref_locked(n);   /* the inode stays while it carries data */
	*out = w;
	pthread_mutex_unlock(&fs->t.lock);
	return 0;
}

/* The write state n has now, with a reference, or NULL. */
struct swiftfs_wstate *fs_wstate_peek(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_wstate *w = n->w;
	if (w)
		w->refs++;
	pthread_mutex_unlock(&fs->t.lock);
	return w;
}

/* Drop a reference; a clean state nobody has open leaves the inode. */
void fs_wstate_put(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w)
{
	bool free_it = false;
	pthread_mutex_lock(&fs->t.lock);
	w->refs--;
	if (w->refs == 1 && n->w == w) {
		pthread_mutex_lock(&w->lock);
		/* a failed write keeps the state only while it holds the
		 * closed version a record names (the next mount uploads it) */
		bool dirty = w->dirty && !w->unlinked && (!w->poisoned || w->wb_record);
		pthread_mutex_unlock(&w->lock);
		if (!dirty) {
			n->w = NULL;
			w->refs = 0;
			free_it = true;
			inode_unref_locked(&fs->t, n);
		}
	}
	pthread_mutex_unlock(&fs->t.lock);
	if (free_it)
		wstate_free(w, false);
}

/* Fetch the gaps of [off, off+len) from the object (If-Match on the
 * version the state started from). w->lock held. */
static int fill_gaps_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w, const char *object,
			    uint64_t off, uint64_t len)
{
	struct swiftfs_extent g;
	const size_t piece = 8u << 20;
	char *buf = NULL;
	char ifm[100];
	int rc = 0;

	while (staging_first_gap(w->st, off, len, &g)) {
		if (!w->exists) {
			/* nothing in Swift behind it: zeros */
			rc = staging_truncate(w->st, w->st->size);
			staging_mark_all_valid(w->st);
			break;
		}
		if (!buf && !(buf = malloc(piece))) {
			rc = -ENOMEM;
			break;
		}
		size_t want = g.end - g.off < piece ? (size_t)(g.end - g.off) : piece;
		struct swiftfs_req r;
		const char *hdrs[2] = { NULL, NULL };
		if (w->base_etag[0] && !w->base_dlo) {
			snprintf(ifm, sizeof(ifm), "If-Match: \"%s\"", w->base_etag);
			hdrs[0] = ifm;
		}
		swift_req_init(&r, "GET");
		r.container = fs->container;
		r.object = object;
		r.headers = hdrs;
		r.range_off = (int64_t)g.off;
		r.range_len = (int64_t)want;
		r.recv_buf = buf;
		r.recv_cap = want;
		rc = swift_request(fs->c, &r);
		size_t got = r.recv_len;
		if (rc == -ERANGE) {
			rc = 0;
			got = 0;
		}
		if (rc) {
			char what[300];
			swift_describe_error(&r, what, sizeof(what));
			LOGE("fetching %s for a partial write: %s%s", object, what,
			     rc == -ESTALE ? " (the object changed since it was opened)" : "");
		}
		swift_req_cleanup(&r);
		if (rc)
			break;
		if (got < want) /* the object is shorter than it was: zeros */
			memset(buf + got, 0, want - got);
		rc = staging_fill(w->st, buf, want, g.off);
		if (rc)
			break;
	}
	free(buf);
	return rc;
}

/* Upload the staged file as object. w->lock held. */
static int upload_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w, const char *object,
			 const struct swiftfs_attr *a, struct swiftfs_upload_result *res)
{
	struct swiftfs_seglist old = { 0 };
	struct upload_hdrs hh;
	const char **hdrs = NULL;
	int rc;

	if (w->unlinked) {
		w->dirty = false;
		return 0;
	}
	if (w->poisoned) {
		/* a write failed: what is staged is not what the program meant,
		 * so it never reaches Swift (the old version stays) */
		return -w->poisoned;
	}
	rc = fill_gaps_locked(fs, w, object, 0, w->st->size);
	if (rc) {
		/* the bytes not written here come from the version the file
		 * was opened on: gone or changed (ENOENT, ESTALE) is an I/O
		 * error of this close, not "no such file" */
		LOGE("%s: the parts not written through the mount could not be read from the "
		     "version it was opened on (%s); nothing was uploaded, the written data is "
		     "kept in %s", object, strerror(-rc), w->st->path);
		if (rc != -ENOSPC && rc != -ENOMEM && rc != -EACCES)
			rc = -EIO;
		goto out;
	}
	rc = fs_upload_headers_locked(w, a, &hh, &hdrs);
	if (rc)
		goto out;
	/* best effort; asked with a HEAD first, as another client may have
	 * put a plain object there since, which the manifest GET would
	 * download whole */
	if ((w->exists && w->base_slo) || w->replaces_slo)
		upload_slo_segments_if_slo(&fs->upcfg, object, &old);
	if (w->stream && w->seq && w->st->size >= w->streamed) {
		/* most of it is in Swift already: the rest and the manifest */
		const char *ct = w->content_type ? w->content_type : upload_guess_type(object);
		rc = upload_stream_finish(w->stream, object, w->st->fd, w->streamed, w->st->size, ct,
					  hdrs, res);
		w->stream = NULL;
		w->streamed = 0;
		w->seq = false;
	} else {
		stream_stop_locked(w);
		rc = upload_object(&fs->upcfg, object, w->st->fd, w->st->size, w->content_type,
				   hdrs, res);
	}
	if (rc) {
		LOGE("upload of %s failed (%s); the written data is kept in %s", object,
		     strerror(-rc), w->st->path);
		/* Swift may have stored it all the same (an answer lost): what
		 * the name holds is not known any more */
		w->base_lost = true;
		/* refusals the program can act on keep their errno */
		if (rc != -EDQUOT && rc != -ENOSPC && rc != -EFBIG && rc != -ENAMETOOLONG &&
		    rc != -EACCES)
			rc = -EIO;
		goto out;
	}
	/* the old version's segments belong to no manifest any more */
	upload_delete_replaced(&fs->upcfg, object, res, &old);
	w->dirty = false;
	w->replaces_slo = false;
	w->name_in_swift = false;
	w->moved = false; /* the name holds this upload: the base is known again */
	w->base_lost = false;
	w->exists = true;
	w->base_slo = res->slo;
	w->base_dlo = false;
	snprintf(w->base_etag, sizeof(w->base_etag), "%s", res->etag);
out:
	upload_seglist_free(&old);
	free(hdrs);
	return rc;
}

/* A ticket for a size and time read from w (under w->lock): the
 * publication of an older ticket never overwrites a newer one's. A
 * write that waited for w->lock while an upload held it publishes
 * right as the upload does, in either order. */
static uint64_t local_seq(struct swiftfs_fs *fs)
{
	return __atomic_add_fetch(&fs->local_seq, 1, __ATOMIC_RELAXED);
}

/* Publish a file's new attributes after a change (table lock taken):
 * size and mtime as of ticket seq, unless a later ticket's are in; the
 * same for an upload's ETag. */
static void publish_attrs(struct swiftfs_fs *fs, struct swiftfs_inode *n, uint64_t seq,
			  uint64_t size, const struct timespec *mtime, const char *etag, bool slo)
{
	pthread_mutex_lock(&fs->t.lock);
	if (seq > n->local_seq) {
		n->local_seq = seq;
		n->attr.size = size;
		n->attr.mtime = *mtime;
	}
	n->attr.have_mtime = true;
	n->attr.exact = true;
	n->attr.maybe_dlo = false;
	n->attr.is_dlo = false;
	if (etag && seq > n->etag_seq) {
		/* (an older upload's, published late, is not what Swift has) */
		n->etag_seq = seq;
		n->attr.is_slo = slo; /* an upload decides what the object now is */
		snprintf(n->attr.etag, sizeof(n->attr.etag), "%s", etag);
		snprintf(n->attr.list_etag, sizeof(n->attr.list_etag), "%s", etag);
		n->attr.list_mtime = (struct timespec){ 0 }; /* Swift's time: not known */
		n->head_at = util_now();
		if (n->parent && n->hashed) {
			struct swiftfs_dirent d = { .name = n->name, .kind = DK_FILE, .size = size,
						    .mtime = *mtime, .etag = (char *)etag };
			fs_dir_note_locked(fs, n->parent, n->name, &d);
		}
	}
	n->attr_expire = util_now() + fs->attr_timeout;
	pthread_mutex_unlock(&fs->t.lock);
}

/* The object name of inode n as of now (malloc'd; NULL: out of memory),
 * and, with a, a copy of its attributes taken at the same moment. */
char *fs_object_of(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_attr *a)
{
	pthread_mutex_lock(&fs->t.lock);
	char *rel = inode_path_locked(&fs->t, n);
	if (a)
		*a = n->attr;
	pthread_mutex_unlock(&fs->t.lock);
	char *object = rel ? fs_object_name(fs, rel) : NULL;
	free(rel);
	return object;
}

/* Upload w's data as object if it is dirty, then publish what the upload
 * made of n. Called with w->lock held; releases it. */
static int upload_publish_unlock(struct swiftfs_fs *fs, struct swiftfs_inode *n,
				 struct swiftfs_wstate *w, const char *object,
				 const struct swiftfs_attr *a)
{
	struct swiftfs_upload_result res;
	int rc = 0;
	bool was_dirty = w->dirty && !w->unlinked;
	if (was_dirty)
		rc = upload_locked(fs, w, object, a, &res);
	if (was_dirty && !rc && !w->dirty)
		fs_wb_drop_record_locked(w); /* a queued upload (fsync, rename) is done */
	uint64_t size = w->st->size;
	struct timespec mt = w->mtime;
	uint64_t seq = local_seq(fs);
	pthread_mutex_unlock(&w->lock);
	if (was_dirty && !rc)
		publish_attrs(fs, n, seq, size, &mt, res.etag, res.slo);
	return rc;
}

char *fs_lock_named(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w,
		    struct swiftfs_attr *a)
{
	char *object = NULL;
	/* The name is read outside w->lock (the lock order is table, then
	 * w). A rename or unlink that claimed the local data meanwhile
	 * (fs_local_claim, fs_local_hold) moves it: read the name again. */
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->claims)
			pthread_cond_wait(&w->claimed, &w->lock);
		unsigned gen = w->name_gen;
		pthread_mutex_unlock(&w->lock);
		free(object);
		object = fs_object_of(fs, n, a);
		if (!object)
			return NULL;
		pthread_mutex_lock(&w->lock);
		if (!w->claims && w->name_gen == gen)
			return object; /* w->lock held */
		pthread_mutex_unlock(&w->lock);
	}
}

/* Upload if dirty; then publish. Caller holds a reference on w. */
static int sync_file(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w,
		     bool closed_only)
{
	struct swiftfs_attr a;
	char *object = NULL;
	int rc = 0;

	object = fs_lock_named(fs, n, w, &a);
	if (!object) {
		rc = -ENOMEM;
		goto out;
	}
	if (closed_only && w->dirty && !w->unlinked && (!w->wb_record || w->wb_reopened)) {
		/* written again since its close (the record dropped, or kept
		 * for the closed bytes only): what is staged may be half of a
		 * new version, which goes up at its own close */
		pthread_mutex_unlock(&w->lock);
		goto out;
	}
	rc = upload_publish_unlock(fs, n, w, object, &a);
out:
	free(object);
	return rc;
}

int fs_sync_file(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w)
{
	return sync_file(fs, n, w, false);
}

int fs_sync_closed(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w)
{
	return sync_file(fs, n, w, true);
}

/* --- operations ------------------------------------------------------ */

/* A write, or a truncate, of [from, ...) is about to change a closed file
 * whose upload still waits in the journal (-o writeback). Its record
 * holds the first wb_size bytes of the staged file, which a recovery
 * uploads: data added past them leaves the record true, and it stays
 * (the file is reopened) until the next close records the new version.
 * A change inside them would leave, after a crash, that version in
 * neither Swift nor the journal: it goes up first. w->lock held (let go
 * while uploading); 0, or the upload's errno for the write. */
static int keep_closed_version_locked(struct swiftfs_fs *fs, struct swiftfs_inode *n,
				      struct swiftfs_wstate *w, uint64_t from)
{
	if (w->poisoned && w->wb_record && w->wb_reopened && from < w->wb_size &&
	    staging_truncate(w->st, w->wb_size) == 0) {
		/* a write past the closed version failed (that program was
		 * told): a change of the closed bytes (a rewrite from the
		 * start, O_TRUNC) starts from that version, which is intact,
		 * rather than from a file that can never be uploaded */
		LOGW("writeback: %s goes back to its last closed version (%llu bytes): a write "
		     "after it failed", w->st->path, (unsigned long long)w->wb_size);
		w->poisoned = 0;
		w->wb_reopened = false;
	}
	bool sent = false;
	for (unsigned i = 0; w->wb_record && from < w->wb_size && w->dirty && !w->unlinked; i++) {
		if (i == 3)
			return -EIO; /* closed again and again meanwhile */
		pthread_mutex_unlock(&w->lock);
		int rc = fs_sync_file(fs, n, w);
		pthread_mutex_lock(&w->lock);
		if (rc) {
			LOGE("writeback: the closed version staged in %s must reach Swift before "
			     "it is changed, and its upload failed (%s); the change is refused",
			     w->st->path, strerror(-rc));
			return rc;
		}
		sent = true;
	}
	/* its record is gone: durably so before these bytes change, or a
	 * power loss could bring the record back over half-changed data */
	if (sent && fs->wb_dir)
		util_fsync_dir(fs->wb_dir);
	if (w->wb_record)
		w->wb_reopened = true;
	return 0;
}

/* Will close() of a file of this name journal it (-o writeback, or a
 * temporary name)? Then its staged data goes to disk as it is written. */
static bool journaled_name(const struct swiftfs_fs *fs, const char *name)
{
	return fs->writeback || (fs->wbpool && name && fs_temp_name_p(fs, name));
}

int fs_open_write(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *object, int flags,
		  struct swiftfs_file *f)
{
	struct swiftfs_wstate *w;
	int rc;

	if (fs->ro)
		return -EROFS;
	rc = wstate_get(fs, n, object, &w);
	if (rc)
		return rc;
	if (flags & O_TRUNC) {
		struct timespec mt;
		pthread_mutex_lock(&w->lock);
		rc = keep_closed_version_locked(fs, n, w, 0);
		if (!rc)
			rc = staging_truncate(w->st, 0);
		if (!rc) {
			w->dirty = true;
			w->poisoned = 0; /* a fresh start */
			now_ts(&w->mtime);
			stream_reset_locked(w);
		}
		mt = w->mtime;
		uint64_t seq = local_seq(fs);
		pthread_mutex_unlock(&w->lock);
		if (rc) {
			fs_wstate_put(fs, n, w);
			return rc;
		}
		/* truncated: an earlier mount's version of it, not uploaded,
		 * is older (kept when the truncate failed) */
		fs_wb_stale_drop(fs, object);
		publish_attrs(fs, n, seq, 0, &mt, NULL, false);
	}
	f->w = w;
	pthread_mutex_lock(&fs->t.lock);
	f->journaled = journaled_name(fs, n->name);
	pthread_mutex_unlock(&fs->t.lock);
	return 0;
}

/* A read-only open of a file that has local data reads through it. */
bool fs_open_local(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_file *f)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	f->w = w;
	return w != NULL;
}

ssize_t fs_write(struct swiftfs_fs *fs, struct swiftfs_file *f, const char *buf, size_t size,
		 uint64_t off)
{
	struct swiftfs_wstate *w = f->w;
	struct timespec mt;
	if (!w || (f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (off + size > fs->max_file_size * (uint64_t)fs->max_segments)
		return -EFBIG;
	char *object = fs_object_of(fs, f->inode, NULL);
	if (!object)
		return -ENOMEM;
	pthread_mutex_lock(&w->lock);
	ssize_t n = keep_closed_version_locked(fs, f->inode, w, off);
	if (n) {
		pthread_mutex_unlock(&w->lock);
		free(object);
		return n;
	}
	n = staging_write(w->st, buf, size, off);
	if (n >= 0) {
		w->dirty = true;
		now_ts(&w->mtime);
		stream_after_write_locked(fs, w, object, off, (uint64_t)n);
		if (f->journaled)
			staging_writeout(w->st, off + (uint64_t)n);
	} else {
		w->poisoned = (int)-n;
		LOGE("staging a write of %zu bytes in %s failed: %s; the file will not be "
		     "uploaded", size, fs->staging_dir, strerror((int)-n));
	}
	uint64_t fsize = w->st->size;
	mt = w->mtime;
	uint64_t seq = local_seq(fs);
	pthread_mutex_unlock(&w->lock);
	if (n >= 0) {
		fs_wb_stale_drop(fs, object); /* an earlier mount's version is older */
		publish_attrs(fs, f->inode, seq, fsize, &mt, NULL, false);
	}
	free(object);
	return n;
}

ssize_t fs_read_local(struct swiftfs_fs *fs, struct swiftfs_file *f, char *buf, size_t size,
		      uint64_t off)
{
	struct swiftfs_wstate *w = f->w;
	ssize_t n;
	char *object = fs_object_of(fs, f->inode, NULL);
	if (!object)
		return -ENOMEM;
	pthread_mutex_lock(&w->lock);
	n = fill_gaps_locked(fs, w, object, off, size);
	if (n == 0)
		n = staging_read(w->st, buf, size, off);
	pthread_mutex_unlock(&w->lock);
	free(object);
	return n;
}

int fs_flush(struct swiftfs_fs *fs, struct swiftfs_file *f)
{
	/* a reader's close uploads nothing (as NFS): the data another handle
	 * is still writing goes up at that handle's close. O_RDONLY|O_TRUNC
	 * emptied the file: that handle is a writer. */
	if (!f->w || ((f->flags & O_ACCMODE) == O_RDONLY && !(f->flags & O_TRUNC)))
		return 0;
	if (fs->wbpool) {
		bool temp = false;
		if (!fs->writeback) {
			pthread_mutex_lock(&fs->t.lock);
			temp = f->inode->name && fs_temp_name_p(fs, f->inode->name);
			pthread_mutex_unlock(&fs->t.lock);
		}
		if (fs->writeback || temp) {
			int rc = fs_wb_enqueue(fs, f->inode, f->w, temp);
			if (rc != -EAGAIN)
				return rc;
		}
	}
	return fs_sync_file(fs, f->inode, f->w);
}

int fs_fsync(struct swiftfs_fs *fs, struct swiftfs_file *f)
{
	if (!f->w)
		return 0;
	return fs_sync_file(fs, f->inode, f->w);
}

void fs_release_local(struct swiftfs_fs *fs, struct swiftfs_file *f)
{
	fs_wstate_put(fs, f->inode, f->w);
	f->w = NULL;
}

int fs_create(struct swiftfs_fs *fs, uint64_t parent, const char *name, mode_t mode, int flags,
	      struct swiftfs_entry *e, struct swiftfs_file **out)
{
	struct swiftfs_wstate *w = NULL;
	struct swiftfs_file *f = NULL;
	struct swiftfs_inode *p = NULL;
	char *rel = NULL, *object = NULL;
	int rc;

	if (fs->ro)
		return -EROFS;
	rc = fs_resolve(fs, parent, name, &p, &rel, &object);
	if (rc)
		goto out;
	f = calloc(1, sizeof(*f));
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	rc = wstate_new(fs, object, false, &w);
	if (rc)
		goto out;
	w->dirty = true; /* even an empty file becomes an object at close */
	stream_reset_locked(w);
	/* no content type yet: the upload guesses it from the name the file
	 * has then (rsync's and zarr's temporary names are renamed first) */
	struct swiftfs_attr a = { .kind = DK_FILE, .have_mtime = true, .exact = true };
	a.mtime = w->mtime;
	if ((mode & 07777) != (0666 & ~fs->umask)) {
		a.have_mode = true;
		a.mode = mode & 07777;
	}
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_inode *old = inode_child_locked(&fs->t, p, name);
	if (old && old->w) {
		/* a local state still under this name loses it: a new inode */
		pthread_mutex_lock(&old->w->lock);
		old->w->unlinked = true;
		fs_wb_drop_record_locked(old->w);
		pthread_mutex_unlock(&old->w->lock);
		inode_unhash_locked(&fs->t, old);
	}
	struct swiftfs_inode *n = inode_link_locked(&fs->t, p, name, &a);
	if (!n) {
		pthread_mutex_unlock(&fs->t.lock);
		rc = -ENOMEM;
		goto out;
	}
	n->w = w;
	w->refs = 2;
	inode_ref_locked(n);
	inode_ref_locked(n); /* the handle's */
	n->attr_expire = util_now() + fs->attr_timeout;
	struct swiftfs_dirent d = { .name = (char *)name, .kind = DK_FILE, .mtime = a.mtime };
	fs_dir_note_locked(fs, p, name, &d);
	e->ino = n->ino;
	fs_fill_stat(fs, n->ino, &n->attr, &e->st);
	pthread_mutex_unlock(&fs->t.lock);
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	f->inode = n;
	f->w = w;
	f->flags = flags;
	f->journaled = journaled_name(fs, name);
	fs_file_track(fs, f);
	/* made: an earlier mount's version is older (dropped only now, so a
	 * create that fails keeps it) */
	fs_wb_stale_drop(fs, object);
	*out = f;
	f = NULL;
	w = NULL;
out:
	wstate_free(w, false);
	free(f);
	fs_release_resolved(fs, p, rel, object);
	return rc;
}

int fs_setattr(struct swiftfs_fs *fs, uint64_t ino, int to_set, const struct stat *in,
	       struct swiftfs_file *f, struct stat *out, double *timeout)
{
	struct swiftfs_wstate *w = NULL;
	char *rel = NULL, *object = NULL;
	int rc = 0;

	*timeout = fs->attr_timeout;
	if (fs->ro)
		return -EROFS;
	struct swiftfs_inode *n = fs_get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
	enum swiftfs_dkind kind = n->attr.kind;
	object = fs_object_name(fs, rel);
	if (!object) {
		rc = -ENOMEM;
		goto out;
	}
	if (kind == DK_DIR) {
		/* directory times and modes are not stored: markers are
		 * optional and implicit directories have nowhere to keep them */
		goto done;
	}
	struct timespec mt;
	now_ts(&mt);
	if (to_set & FS_SET_MTIME)
		mt = in->st_mtim;

	/* the local state, if the file has (or a truncate gives it) one */
	if (to_set & FS_SET_SIZE) {
		if (kind != DK_FILE) {
			rc = -EINVAL;
			goto out;
		}
		rc = wstate_get(fs, n, object, &w);
		if (rc)
			goto out;
	} else {
		pthread_mutex_lock(&fs->t.lock);
		w = n->w;
		if (w)
			w->refs++;
		pthread_mutex_unlock(&fs->t.lock);
	}

	pthread_mutex_lock(&fs->t.lock);
	if (to_set & FS_SET_MODE) {
		n->attr.have_mode = true;
		n->attr.mode = in->st_mode & 07777;
	}
	if (to_set & (FS_SET_UID | FS_SET_GID)) {
		if (!n->attr.have_owner) {
			n->attr.uid = fs->uid;
			n->attr.gid = fs->gid;
		}
		n->attr.have_owner = true;
		if (to_set & FS_SET_UID)
			n->attr.uid = in->st_uid;
		if (to_set & FS_SET_GID)
			n->attr.gid = in->st_gid;
	}
	struct swiftfs_attr a = n->attr;
	/* removed or replaced, and still open: its name in Swift is not its
	 * own any more, the change stays in the inode */
	bool named = n->hashed;
	pthread_mutex_unlock(&fs->t.lock);

	bool pending = false;
	uint64_t size = a.size, seq = 0;
	if (w) {
		pthread_mutex_lock(&w->lock);
		if (to_set & FS_SET_SIZE) {
			/* like a write: a closed version whose upload waits is
			 * kept (ftruncate by a handle: the handle's close
			 * uploads; truncate by path: below) */
			rc = keep_closed_version_locked(fs, n, w, (uint64_t)in->st_size);
			if (!rc)
				rc = staging_truncate(w->st, (uint64_t)in->st_size);
			if (!rc)
				w->dirty = true;
			if (!rc && in->st_size == 0)
				stream_reset_locked(w);
			else if (!rc)
				stream_stop_locked(w);
		}
		pending = w->dirty && !w->unlinked;
		if (pending && (to_set & (FS_SET_MTIME | FS_SET_SIZE)))
			w->mtime = mt;
		size = w->st->size;
		seq = local_seq(fs);
		pthread_mutex_unlock(&w->lock);
		if (rc)
			goto out;
	}
	if (pending) {
		/* the upload carries size, time, mode and owner; so does the
		 * writeback record of a closed file whose upload waits */
		publish_attrs(fs, n, seq, size, &mt, NULL, false);
		fs_wb_rerecord(fs, n, false);
		if ((to_set & FS_SET_SIZE) && !f)
			rc = fs_sync_file(fs, n, w); /* truncate(path): persist now */
		/* truncated (by a handle, whose close uploads; by path, once in
		 * Swift): an earlier mount's version is older. A truncate that
		 * failed keeps it. */
		if (!rc && (to_set & FS_SET_SIZE))
			fs_wb_stale_drop(fs, object);
	} else if (!named) {
		pthread_mutex_lock(&fs->t.lock);
		if (to_set & FS_SET_MTIME) {
			n->attr.mtime = mt;
			n->attr.have_mtime = true;
		}
		pthread_mutex_unlock(&fs->t.lock);
	} else if (to_set & (FS_SET_MTIME | FS_SET_MODE | FS_SET_UID | FS_SET_GID)) {
		char hm[64], hmode[48], huid[48], hgid[48];
		const char *set[5];
		size_t ns = 0;
		if (to_set & FS_SET_MTIME) {
			snprintf(hm, sizeof(hm), "X-Object-Meta-Mtime: %lld.%06ld",
				 (long long)mt.tv_sec, mt.tv_nsec / 1000);
			set[ns++] = hm;
		}
		if (to_set & FS_SET_MODE) {
			snprintf(hmode, sizeof(hmode), "X-Object-Meta-Mode: %o", a.mode);
			set[ns++] = hmode;
		}
		if (to_set & (FS_SET_UID | FS_SET_GID)) {
			snprintf(huid, sizeof(huid), "X-Object-Meta-Uid: %u", a.uid);
			snprintf(hgid, sizeof(hgid), "X-Object-Meta-Gid: %u", a.gid);
			set[ns++] = huid;
			set[ns++] = hgid;
		}
		set[ns] = NULL;
		rc = fs_post_meta(fs, object, set);
		if (!rc && (to_set & FS_SET_MTIME)) {
			pthread_mutex_lock(&fs->t.lock);
			/* not under an upload's publication that lands late */
			if (!seq || seq > n->local_seq) {
				n->local_seq = seq ? seq : n->local_seq;
				n->attr.mtime = mt;
			}
			n->attr.have_mtime = true;
			pthread_mutex_unlock(&fs->t.lock);
		}
	}
done:
	pthread_mutex_lock(&fs->t.lock);
	n->attr_expire = util_now() + fs->attr_timeout;
	fs_fill_stat(fs, ino, &n->attr, out);
	pthread_mutex_unlock(&fs->t.lock);
out:
	if (w)
		fs_wstate_put(fs, n, w);
	fs_put_inode(fs, n);
	free(rel);
	free(object);
	return rc;
}

/* Mark the local state of n (if any) as belonging to no name any more. */
void fs_forget_local_data(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->unlinked = true;
	bool had_record = w->wb_record != NULL;
	fs_wb_drop_record_locked(w);
	pthread_mutex_unlock(&w->lock);
	/* deleted or replaced: a power loss must not bring its record (and
	 * the upload) back */
	if (had_record && fs->wb_dir)
		util_fsync_dir(fs->wb_dir);
	fs_wstate_put(fs, n, w);
}

/* Whether n has local data never uploaded: a rename then moves it for
 * free (the upload goes to the new name), an unlink drops it with no
 * request. If so, returns n's write state claimed, with a reference: no
 * upload of n starts until fs_local_release() (one in flight ends first:
 * it holds w->lock), so none can go out under a name the caller is
 * changing. NULL: the object is (or was) in Swift; rename or delete it
 * there. */
struct swiftfs_wstate *fs_local_claim(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	/* an upload that failed may have landed all the same */
	bool only = !w->exists && !w->unlinked && !w->name_in_swift && !w->base_lost;
	if (only)
		w->claims++;
	pthread_mutex_unlock(&w->lock);
	if (only)
		return w;
	fs_wstate_put(fs, n, w);
	return NULL;
}

/* The claimed data moves onto a name that holds an object in Swift
 * (exists), maybe an SLO (slo): its upload deletes that SLO's segments
 * once it has replaced it, and until then an unlink or a rename of the
 * file must remove that object in Swift (fs_local_claim refuses). Both
 * false: back as before the rename. */
void fs_local_lands_on(struct swiftfs_wstate *w, bool exists, bool slo)
{
	pthread_mutex_lock(&w->lock);
	w->replaces_slo = slo;
	w->name_in_swift = exists;
	w->moved = true;
	pthread_mutex_unlock(&w->lock);
}

/* Whether w's name holds an older object in Swift (fs_local_lands_on). */
bool fs_local_name_in_swift(struct swiftfs_wstate *w)
{
	pthread_mutex_lock(&w->lock);
	bool r = w->name_in_swift;
	pthread_mutex_unlock(&w->lock);
	return r;
}

bool fs_local_base_known(struct swiftfs_wstate *w, bool *slo)
{
	pthread_mutex_lock(&w->lock);
	bool known = w->exists && !w->base_lost && !w->moved && !w->name_in_swift;
	*slo = w->base_slo;
	pthread_mutex_unlock(&w->lock);
	return known;
}

/* Upload the data of n, claimed by the caller (fs_local_claim), as
 * object: a rename that must return with the object in Swift does this
 * before the inode takes the new name, so a failure changes nothing. */
int fs_sync_claimed(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w,
		    const char *object)
{
	pthread_mutex_lock(&fs->t.lock);
	struct swiftfs_attr a = n->attr; /* what the upload carries (mode, owner) */
	pthread_mutex_unlock(&fs->t.lock);
	pthread_mutex_lock(&w->lock);
	return upload_publish_unlock(fs, n, w, object, &a);
}

/* Hold n's local data (if any) where it is, whatever it is: an upload of
 * it in flight ends first (it holds w->lock), and none starts until
 * fs_local_release(). An unlink or rename that changes n's name in Swift
 * holds it, so that no upload under that name lands after the change. */
struct swiftfs_wstate *fs_local_hold(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	w->claims++;
	pthread_mutex_unlock(&w->lock);
	return w;
}

/* End a claim or a hold: uploads waiting for it read n's name again. */
void fs_local_release(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w)
{
	pthread_mutex_lock(&w->lock);
	w->claims--;
	w->name_gen++;
	pthread_cond_broadcast(&w->claimed);
	pthread_mutex_unlock(&w->lock);
	fs_wstate_put(fs, n, w);
}

/* Whether n has data written through this mount and not uploaded. */
bool fs_local_data_p(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	bool dirty = w->dirty && !w->unlinked;
	pthread_mutex_unlock(&w->lock);
	fs_wstate_put(fs, n, w);
	return dirty;
}

/* Whether any file of this filesystem has data written here and not in
 * Swift yet (open for writing, or closed and queued). */
bool fs_local_pending(struct swiftfs_fs *fs)
{
	bool any = false;
	pthread_mutex_lock(&fs->t.lock);
	for (size_t b = 0; b < fs->t.nbuckets && !any; b++) {
		for (struct swiftfs_inode *n = fs->t.by_ino[b]; n && !any; n = n->ino_next) {
			if (!n->w)
				continue;
			pthread_mutex_lock(&n->w->lock); /* table, then wstate */
			any = n->w->dirty && !n->w->unlinked;
			pthread_mutex_unlock(&n->w->lock);
		}
	}
	pthread_mutex_unlock(&fs->t.lock);
	return any;
}

/* Upload whatever n has staged (before a server-side copy of it). */
int fs_sync_inode(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return 0;
	int rc = fs_sync_file(fs, n, w);
	fs_wstate_put(fs, n, w);
	return rc;
}

/* At unmount: staged data that never reached Swift stays on disk. */
void fs_write_shutdown(struct swiftfs_fs *fs)
{
	pthread_mutex_lock(&fs->t.lock);
	for (size_t b = 0; b < fs->t.nbuckets; b++) {
		for (struct swiftfs_inode *n = fs->t.by_ino[b]; n; n = n->ino_next) {
			struct swiftfs_wstate *w = n->w;
			if (!w)
				continue;
			n->w = NULL;
			bool keep = w->dirty && !w->unlinked;
			wstate_free(w, keep);
		}
	}
	pthread_mutex_unlock(&fs->t.lock);
}

/* --- draining before unmount ---------------------------------------- */

/* What a scan of the table found: uploads under way (a close or fsync
 * holding the state's lock), files still open with data not in Swift,
 * and closed files whose upload failed (candidates for one more try). */
struct drain_scan {
	unsigned busy;
	unsigned open;
	unsigned failed;               /* closed, upload failed */
	size_t nclosed;
	struct drain_item {
		struct swiftfs_inode *n;   /* referenced */
		struct swiftfs_wstate *w;  /* referenced */
	} *closed;
};

static void drain_scan_table(struct swiftfs_fs *fs, struct drain_scan *d, bool collect)
{
	size_t cap = 0;
	memset(d, 0, sizeof(*d));
	pthread_mutex_lock(&fs->t.lock);
	for (size_t b = 0; b < fs->t.nbuckets; b++) {
		for (struct swiftfs_inode *n = fs->t.by_ino[b]; n; n = n->ino_next) {
			struct swiftfs_wstate *w = n->w;
			if (!w)
				continue;
			if (pthread_mutex_trylock(&w->lock) != 0) {
				d->busy++; /* an upload (or a write) is under way */
				continue;
			}
			bool dirty = w->dirty && !w->unlinked && !w->poisoned;
			pthread_mutex_unlock(&w->lock);
			if (!dirty)
				continue;
			if (w->refs > 1) {
				d->open++;
				continue;
			}
			d->failed++;
			if (!collect)
				continue;
			if (d->nclosed == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct drain_item *v = realloc(d->closed, nc * sizeof(*v));
				if (!v)
					continue; /* it stays staged, as at any unmount */
				d->closed = v;
				cap = nc;
			}
			inode_ref_locked(n);
			w->refs++;
			d->closed[d->nclosed].n = n;
			d->closed[d->nclosed++].w = w;
		}
	}
	pthread_mutex_unlock(&fs->t.lock);
}

static bool drain_aborted(const volatile int *abort_flag)
{
	return abort_flag && __atomic_load_n(abort_flag, __ATOMIC_SEQ_CST);
}

int fs_drain(struct swiftfs_fs *fs, double timeout, const volatile int *abort_flag)
{
	struct drain_scan d;
	double deadline = util_now() + timeout;
	bool retried = false, announced = false;

	if (fs->ro)
		return 0;
	for (;;) {
		drain_scan_table(fs, &d, !retried);
		if (d.nclosed) {
			LOGI("uploading %zu closed file(s) whose earlier upload failed", d.nclosed);
			for (size_t i = 0; i < d.nclosed; i++) {
				struct swiftfs_inode *n = d.closed[i].n;
				struct swiftfs_wstate *w = d.closed[i].w;
				if (!drain_aborted(abort_flag) && util_now() < deadline)
					fs_sync_file(fs, n, w);
				fs_wstate_put(fs, n, w);
				pthread_mutex_lock(&fs->t.lock);
				inode_unref_locked(&fs->t, n);
				pthread_mutex_unlock(&fs->t.lock);
			}
			free(d.closed);
			retried = true;
			continue; /* scan again: what is left now */
		}
		free(d.closed);
		retried = true;
		if (d.busy == 0 && d.open == 0)
			break;
		if (drain_aborted(abort_flag) || util_now() >= deadline) {
			LOGW("stopped waiting for %u upload(s) under way and %u file(s) still open "
			     "with data not in Swift", d.busy, d.open);
			break;
		}
		if (!announced) {
			LOGI("waiting up to %.0f s for %u upload(s) under way and %u file(s) still "
			     "open with data not in Swift", timeout, d.busy, d.open);
			announced = true;
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	unsigned left = d.busy + d.open + d.failed;
	if (left)
		LOGW("%u file(s) with data not in Swift: their staged data stays in %s",
		     left, fs->staging_dir);
	else if (announced)
		LOGI("all uploads finished");
	return (int)left;
}
