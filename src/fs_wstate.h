/* The write state of a file inode (fs_write.c), shared with the
 * writeback queue (fs_writeback.c). Locking: see fs_write.c. */
#ifndef SWIFTFS_FS_WSTATE_H
#define SWIFTFS_FS_WSTATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fs_internal.h"

struct swiftfs_wstate {
	pthread_mutex_t lock;
	unsigned refs;              /* table lock: the inode's link + open handles */
	struct swiftfs_staging *st; /* lock */
	bool dirty;                 /* lock: staged data is not in Swift yet */
	bool exists;                /* lock: the object exists (gaps come from it) */
	bool unlinked;              /* lock: name removed while open: never upload */
	int poisoned;               /* lock: errno of a failed write: never upload */
	bool base_slo;              /* lock */
	bool replaces_slo;          /* lock: renamed over an SLO before its upload */
	bool name_in_swift;         /* lock: renamed over an object before its upload:
				     * its name holds that object in Swift until the
				     * upload, so an unlink or rename removes it there */
	bool base_dlo;              /* lock */
	bool moved;                 /* lock: renamed as local data (fs_local_lands_on):
				     * what its name held is not known */
	bool base_lost;             /* lock: an upload failed (it may have landed) */
	char base_etag[72];         /* lock */
	struct timespec mtime;      /* lock: sent as X-Object-Meta-Mtime */
	char **meta;                /* lock: the object's other metadata, kept */
	size_t nmeta;
	char *content_type;         /* lock: kept from the object, else guessed */
	/* streaming (large files written in order from an empty start) */
	bool seq;                   /* lock: still written in order from 0 */
	uint64_t seq_end;           /* lock: [0, seq_end) written in order */
	uint64_t streamed;          /* lock: [0, streamed) handed to the stream */
	struct swiftfs_slo_stream *stream; /* lock */
	/* writeback */
	char *wb_record;            /* lock: journal record of the closed data */
	uint64_t wb_size;           /* lock: the size that record holds */
	bool wb_reopened;           /* lock: written past wb_size since that close:
				     * the record stays true (a recovery uploads
				     * wb_size bytes) but the queued upload leaves
				     * the file to its next close */
	bool wb_queued;             /* lock: a background upload is queued */
	bool wb_again;              /* lock: closed again while it was queued */
	unsigned claims;            /* lock: renames/unlinks moving the local data
				     * (fs_local_claim): no upload starts */
	unsigned name_gen;          /* lock: bumped when a claim ends */
	pthread_cond_t claimed;     /* claims fell to 0 */
};

/* The headers an upload carries (mtime, mode, owner), strings in h. */
struct upload_hdrs {
	char mtime_str[40];
	char hmtime[64], hmode[48], huid[48], hgid[48];
};

/* fs_write.c */
/* n's object name, read while no rename or unlink holds its data
 * (claims): returned with w->lock held; NULL (no memory) without. */
char *fs_lock_named(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w,
		    struct swiftfs_attr *a);
struct swiftfs_wstate *fs_wstate_peek(struct swiftfs_fs *fs, struct swiftfs_inode *n);
void fs_wstate_put(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w);
int fs_sync_file(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w);
/* The same, but not if it was written again since its close (the
 * writeback queue: that data goes up at its own close). */
int fs_sync_closed(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w);

/* fs_meta.c: the metadata an upload carries */
/* The headers an upload of w carries (w->lock held). */
int fs_upload_headers_locked(struct swiftfs_wstate *w, const struct swiftfs_attr *a,
			     struct upload_hdrs *h, const char ***out);
/* The object's metadata headers in r's answer, other than swiftfs's own,
 * as malloc'd "Name: value" lines; with all, also the headers an upload
 * keeps (fs_xattr_post_keeps). 0 or -ENOMEM. */
struct swiftfs_req;
int fs_meta_collect(const struct swiftfs_req *r, bool all, char ***out, size_t *nout);
void fs_meta_free(char **meta, size_t n);

/* fs_writeback.c */
void fs_wb_drop_record_locked(struct swiftfs_wstate *w);
int fs_wb_enqueue(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w,
		  bool temp);

#endif
