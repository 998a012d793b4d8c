/* -o writeback (see writeback.h): close() records the staged data in the
 * journal and queues its upload; a timer thread hands due uploads to the
 * writeback pool, bounded by wb_max dirty bytes. The write state itself
 * is fs_write.c's (fs_wstate.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs_internal.h"
#include "fs_wstate.h"
#include "swiftfs/log.h"
#include "swiftfs/staging.h"
#include "swiftfs/util.h"
#include "swiftfs/workpool.h"
#include "swiftfs/writeback.h"

/* The journal record no longer describes data to upload. */
void fs_wb_drop_record_locked(struct swiftfs_wstate *w)
{
	if (!w->wb_record)
		return;
	unlink(w->wb_record);
	free(w->wb_record);
	w->wb_record = NULL;
	w->wb_reopened = false;
}

struct wb_job {
	struct wb_job *next;       /* fs->wb_delayed, wb_lock */
	struct swiftfs_fs *fs;
	struct swiftfs_inode *n;   /* referenced */
	struct swiftfs_wstate *w;  /* referenced */
	uint64_t bytes;
	double due;                /* not uploaded before (see WB_DELAY) */
};

static void wb_job_run(void *arg)
{
	struct wb_job *j = arg;
	struct swiftfs_fs *fs = j->fs;
	struct swiftfs_wstate *w = j->w;
	int rc;

	for (;;) {
		for (unsigned attempt = 0;; attempt++) {
			if (__atomic_load_n(&fs->wb_stopping, __ATOMIC_SEQ_CST)) {
				/* unmounting after the drain: the record stays,
				 * and the next mount uploads it */
				rc = -ECANCELED;
				break;
			}
			rc = fs_sync_closed(fs, j->n, w);
			if (!rc || attempt >= 3)
				break;
			util_sleep((double)(2u << attempt));
		}
		pthread_mutex_lock(&w->lock);
		/* written and closed again after this upload took the data:
		 * that close counted on this job */
		bool again = !rc && w->wb_again && w->dirty && !w->unlinked;
		w->wb_again = false;
		if (!again)
			break; /* w->lock held */
		pthread_mutex_unlock(&w->lock);
	}
	w->wb_queued = false;
	if (!w->dirty || w->unlinked)
		fs_wb_drop_record_locked(w);
	else if (rc == -ECANCELED)
		LOGW("writeback: %s was not uploaded before the unmount; the next mount uploads "
		     "it", w->wb_record ? w->wb_record : w->st->path);
	else if (rc)
		LOGE("writeback: the upload of %s failed (%s); it is tried again at unmount and "
		     "by the next mount", w->wb_record ? w->wb_record : w->st->path,
		     strerror(-rc));
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_lock(&fs->wb_lock);
	fs->wb_dirty -= j->bytes;
	pthread_cond_broadcast(&fs->wb_cond);
	pthread_mutex_unlock(&fs->wb_lock);
	fs_wstate_put(fs, j->n, w);
	pthread_mutex_lock(&fs->t.lock);
	inode_unref_locked(&fs->t, j->n);
	pthread_mutex_unlock(&fs->t.lock);
	free(j);
}

/* Write (or rewrite) w's journal record for object, after making the
 * staged data durable. w->lock held. */
static int wb_record_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w, const char *object,
			    const struct swiftfs_attr *a)
{
	struct swiftfs_wb_record rec = { 0 };
	struct upload_hdrs hh;
	const char **hdrs = NULL;
	char *path = NULL;
	int rc = fs_upload_headers_locked(w, a, &hh, &hdrs);
	if (!rc && fdatasync(w->st->fd))
		rc = -errno;
	if (!rc) {
		rec.account = fs->account;
		rec.container = fs->container;
		rec.object = (char *)object;
		rec.staged = w->st->path;
		/* reopened and written past it: still the closed version */
		rec.size = w->wb_reopened ? w->wb_size : w->st->size;
		rec.mtime = hh.mtime_str;
		rec.content_type = w->content_type;
		rec.headers = (char **)hdrs;
		rec.owner = fs->wb_owner;
		/* the version this data replaces, when it is known: a recovery
		 * finds whether another client changed the object since */
		if (!w->moved && !w->name_in_swift && !w->base_lost)
			rec.base = w->exists ? (w->base_etag[0] ? w->base_etag : NULL) : "-";
		while (hdrs[rec.nheaders])
			rec.nheaders++;
		rc = wb_record_write(fs->wb_dir, &rec, &path);
	}
	free(hdrs);
	if (!rc) {
		free(w->wb_record);
		w->wb_record = path;
		w->wb_size = rec.size;
	}
	return rc;
}

/* Jobs wait WB_DELAY after close() before their upload starts: a file
 * written to a temporary name and renamed right after (zarr, editors,
 * atomic writers) is then uploaded once, under its final name, instead
 * of PUT, COPY and DELETE. A file whose segments went up while it was
 * written starts at once. One timer thread hands due jobs to the pool. */
#define WB_DELAY 0.5

static void *wb_timer_main(void *arg)
{
	struct swiftfs_fs *fs = arg;
	pthread_mutex_lock(&fs->wb_lock);
	for (;;) {
		struct wb_job *j = fs->wb_delayed;
		bool stopping = __atomic_load_n(&fs->wb_stopping, __ATOMIC_SEQ_CST);
		if (!j && stopping)
			break;
		if (!j) {
			pthread_cond_wait(&fs->wb_tcond, &fs->wb_lock);
			continue;
		}
		double now = util_now();
		if (!stopping && j->due > now) {
			struct timespec ts;
			double until = j->due;
			ts.tv_sec = (time_t)until;
			ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&fs->wb_tcond, &fs->wb_lock, &ts);
			continue;
		}
		fs->wb_delayed = j->next;
		if (!fs->wb_delayed)
			fs->wb_delayed_tail = NULL;
		pthread_mutex_unlock(&fs->wb_lock);
		if (workpool_submit(fs->wbpool, wb_job_run, j))
			wb_job_run(j); /* no thread: upload here */
		pthread_mutex_lock(&fs->wb_lock);
	}
	pthread_mutex_unlock(&fs->wb_lock);
	return NULL;
}

int fs_wb_start(struct swiftfs_fs *fs)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* util_now() */
	pthread_cond_init(&fs->wb_tcond, &ca);
	pthread_condattr_destroy(&ca);
	int rc = -pthread_create(&fs->wb_timer, NULL, wb_timer_main, fs);
	fs->wb_timer_started = rc == 0;
	return rc;
}

void fs_wb_stop(struct swiftfs_fs *fs)
{
	if (!fs->wb_timer_started)
		return;
	pthread_mutex_lock(&fs->wb_lock);
	__atomic_store_n(&fs->wb_stopping, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&fs->wb_tcond);
	pthread_mutex_unlock(&fs->wb_lock);
	pthread_join(fs->wb_timer, NULL);
	fs->wb_timer_started = false;
	pthread_cond_destroy(&fs->wb_tcond);
}

bool fs_wb_pending(struct swiftfs_wstate *w)
{
	pthread_mutex_lock(&w->lock);
	bool q = w->dirty && !w->unlinked && (w->wb_queued || w->wb_record);
	pthread_mutex_unlock(&w->lock);
	return q;
}

bool fs_wb_pending_inode(struct swiftfs_fs *fs, struct swiftfs_inode *n)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return false;
	bool q = fs_wb_pending(w);
	fs_wstate_put(fs, n, w);
	return q;
}

/* A temporary file's name (-o temp_names): its upload waits WB_DELAY for
 * the rename that usually follows close, without -o writeback too. */
bool fs_temp_name_p(const struct swiftfs_fs *fs, const char *name)
{
	const char *p = fs->temp_names;
	char pat[256];
	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len && len < sizeof(pat)) {
			memcpy(pat, p, len);
			pat[len] = '\0';
			if (fnmatch(pat, name, 0) == 0)
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* close() with writeback, or of a temporary file (temp): make the staged
 * data durable, record it, and queue its upload. -EAGAIN: upload now
 * instead (not all of the data is local: parts of the old object would
 * have to be fetched first; a temporary file whose segments went up while
 * it was written, which a rename copies cheaply). */
int fs_wb_enqueue(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w,
		  bool temp)
{
	struct swiftfs_attr a;
	int rc;
	/* a rename of the file under way ends first: the record names the
	 * object the upload will go to */
	char *object = fs_lock_named(fs, n, w, &a);
	if (!object)
		return -ENOMEM;
	if (!w->dirty || w->unlinked) {
		pthread_mutex_unlock(&w->lock);
		free(object);
		return 0; /* nothing to upload */
	}
	if (!w->poisoned)
		w->wb_reopened = false; /* this close's version is the one to record */
	if (w->wb_queued) {
		/* the queued upload (or one more after it) takes this data,
		 * and the record is written again for this close's version */
		rc = w->poisoned ? -EAGAIN : wb_record_locked(fs, w, object, &a);
		if (!rc)
			w->wb_again = true;
		pthread_mutex_unlock(&w->lock);
		free(object);
		return rc ? -EAGAIN : 0;
	}
	if (w->poisoned || staging_valid_bytes(w->st) < w->st->size || (temp && w->streamed)) {
		pthread_mutex_unlock(&w->lock);
		free(object);
		return -EAGAIN;
	}
	uint64_t bytes = w->st->size;
	/* segments already streamed: only the last one and the manifest are
	 * left, and a rename would copy the manifest alone, so nothing is
	 * gained by waiting */
	double delay = w->streamed ? 0 : WB_DELAY;
	rc = wb_record_locked(fs, w, object, &a);
	if (rc) {
		pthread_mutex_unlock(&w->lock);
		LOGW("writeback: cannot record %s in %s (%s); uploading it now", object,
		     fs->wb_dir, strerror(-rc));
		free(object);
		return -EAGAIN;
	}
	w->wb_queued = true;
	pthread_mutex_unlock(&w->lock);
	free(object);

	/* bounded dirty bytes: wait for uploads before queueing more */
	pthread_mutex_lock(&fs->wb_lock);
	while (fs->wb_dirty > 0 && fs->wb_dirty + bytes > fs->wb_max)
		pthread_cond_wait(&fs->wb_cond, &fs->wb_lock);
	fs->wb_dirty += bytes;
	pthread_mutex_unlock(&fs->wb_lock);

	struct wb_job *j = calloc(1, sizeof(*j));
	if (j) {
		j->fs = fs;
		j->n = n;
		j->w = w;
		j->bytes = bytes;
		j->due = util_now() + delay;
		pthread_mutex_lock(&fs->t.lock);
		inode_ref_locked(n);
		w->refs++;
		pthread_mutex_unlock(&fs->t.lock);
		pthread_mutex_lock(&fs->wb_lock);
		if (fs->wb_delayed_tail)
			fs->wb_delayed_tail->next = j;
		else
			fs->wb_delayed = j;
		fs->wb_delayed_tail = j;
		pthread_cond_broadcast(&fs->wb_tcond);
		pthread_mutex_unlock(&fs->wb_lock);
		return 0;
	}
	pthread_mutex_lock(&fs->wb_lock);
	fs->wb_dirty -= bytes;
	pthread_mutex_unlock(&fs->wb_lock);
	pthread_mutex_lock(&w->lock);
	w->wb_queued = false;
	pthread_mutex_unlock(&w->lock);
	return -EAGAIN;
}

/* A file renamed, touched, chmod'ed, chown'ed or truncated before its
 * upload: its record names the new object and carries what the upload
 * will, so a crash before the upload loses none of it. */
void fs_wb_rerecord(struct swiftfs_fs *fs, struct swiftfs_inode *n, bool claimed)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return;
	struct swiftfs_attr a;
	char *object;
	if (claimed) {
		object = fs_object_of(fs, n, &a);
		pthread_mutex_lock(&w->lock);
	} else {
		object = fs_lock_named(fs, n, w, &a); /* not under a rename's feet */
		if (!object) {
			fs_wstate_put(fs, n, w);
			return;
		}
	}
	if (object && w->wb_record && wb_record_locked(fs, w, object, &a))
		LOGW("writeback: could not update the record of %s; after a crash it would be "
		     "uploaded as it was at close", object);
	pthread_mutex_unlock(&w->lock);
	free(object);
	fs_wstate_put(fs, n, w);
}

struct wb_stale {
	char *object, *record, *staged;
};

void fs_wb_stale_add(void *arg, const char *object, const char *record, const char *staged)
{
	struct swiftfs_fs *fs = arg;
	pthread_mutex_lock(&fs->wb_lock);
	struct wb_stale *nv = realloc(fs->wb_stale, (fs->n_wb_stale + 1) * sizeof(*nv));
	if (nv) {
		fs->wb_stale = nv;
		struct wb_stale *e = &nv[fs->n_wb_stale];
		e->object = strdup(object);
		e->record = strdup(record);
		e->staged = strdup(staged);
		if (e->object && e->record && e->staged) {
			__atomic_store_n(&fs->n_wb_stale, fs->n_wb_stale + 1, __ATOMIC_RELEASE);
		} else {
			free(e->object);
			free(e->record);
			free(e->staged);
		}
	}
	pthread_mutex_unlock(&fs->wb_lock);
}

void fs_wb_stale_drop(struct swiftfs_fs *fs, const char *object)
{
	if (!object || !__atomic_load_n(&fs->n_wb_stale, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&fs->wb_lock);
	for (size_t i = 0; i < fs->n_wb_stale;) {
		struct wb_stale *e = &fs->wb_stale[i];
		if (strcmp(e->object, object) != 0) {
			i++;
			continue;
		}
		LOGW("writeback: %s is changed through this mount: the version an earlier mount "
		     "closed and could not upload (%s) is older, and is dropped", object, e->staged);
		unlink(e->staged);
		unlink(e->record);
		free(e->object);
		free(e->record);
		free(e->staged);
		fs->wb_stale[i] = fs->wb_stale[fs->n_wb_stale - 1];
		__atomic_store_n(&fs->n_wb_stale, fs->n_wb_stale - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fs->wb_lock);
}

void fs_wb_stale_move(struct swiftfs_fs *fs, const char *src, const char *dst)
{
	size_t sl = strlen(src);
	bool prefix = sl && src[sl - 1] == '/';
	if (!__atomic_load_n(&fs->n_wb_stale, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&fs->wb_lock);
	for (size_t i = 0; i < fs->n_wb_stale; i++) {
		struct wb_stale *e = &fs->wb_stale[i];
		struct swiftfs_wb_record rec;
		char *name = NULL, *path = NULL;
		if (prefix ? strncmp(e->object, src, sl) != 0 : strcmp(e->object, src) != 0)
			continue;
		int rc = wb_record_read(e->record, &rec);
		if (!rc && asprintf(&name, "%s%s", dst, e->object + sl) < 0) {
			name = NULL;
			rc = -ENOMEM;
		}
		if (!rc) {
			free(rec.object);
			rec.object = name;
			name = NULL;
			rc = wb_record_write(fs->wb_dir, &rec, &path);
		}
		if (!rc && strcmp(path, e->record) != 0) {
			/* rewritten under another spelling of its path */
			unlink(e->record);
			free(e->record);
			e->record = path;
			path = NULL;
		}
		if (rc) {
			LOGE("writeback: %s moved to %s, but the record of its data that an earlier "
			     "mount could not upload (%s) still names the old place: %s", e->object,
			     dst, e->record, strerror(-rc));
		} else {
			LOGI("writeback: the pending data of %s now goes to %s%s", e->object, dst,
			     e->object + sl);
			free(e->object);
			e->object = rec.object;
			rec.object = NULL;
		}
		wb_record_free(&rec); /* zeroed by a failed read */
		free(path);
		free(name);
	}
	pthread_mutex_unlock(&fs->wb_lock);
}

void fs_wb_stale_free(struct swiftfs_fs *fs)
{
	for (size_t i = 0; i < fs->n_wb_stale; i++) {
		free(fs->wb_stale[i].object);
		free(fs->wb_stale[i].record);
		free(fs->wb_stale[i].staged);
	}
	free(fs->wb_stale);
	fs->wb_stale = NULL;
	fs->n_wb_stale = 0;
}
