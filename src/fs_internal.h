/* Internal to the filesystem core (fs.c, fs_write.c, fs_ns.c): the
 * filesystem struct and the helpers the core modules share. */
#ifndef SWIFTFS_FS_INTERNAL_H
#define SWIFTFS_FS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "swiftfs/fs.h"
#include "swiftfs/inode.h"
#include "swiftfs/listing.h"
#include "swiftfs/upload.h"
#include "swiftfs/xattr.h"

struct swiftfs_client;
struct swiftfs_workpool;
struct swiftfs_reader;
struct swiftfs_wstate;

struct swiftfs_fs {
	struct swiftfs_client *c;
	struct swiftfs_workpool *pool;
	struct swiftfs_workpool *uppool; /* segment uploads: never ahead of a read in a queue */
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
	double overlay_ttl;      /* how long local changes override listings */
	bool ro;
	bool exact_attrs;        /* every stat of a file HEADs it once */
	char *staging_dir;       /* <cache_dir>/staging */
	char *journal_dir;       /* <cache_dir>/uploads: SLO uploads under way */
	uint64_t segment_size;
	unsigned max_segments;   /* /info slo.max_manifest_segments */
	uint64_t max_file_size;  /* /info swift.max_file_size */
	unsigned max_name;       /* /info swift.max_object_name_length */
	struct swiftfs_upload_cfg upcfg;
	struct swiftfs_block_cache *bc; /* NULL with -o cache=off */
	bool bc_shared;          /* bc is the account mount's, not freed here */
	char *account;           /* storage URL's path: part of every cache key */
	uint64_t small_file;     /* objects up to this come whole at open */
	/* -o writeback: uploads after close() on their own threads; without
	 * it, so are those of temporary files (-o temp_names) */
	bool writeback;
	char *temp_names;        /* ':'-separated fnmatch patterns, "" none */
	char *wb_dir;            /* <cache_dir>/writeback: the journal */
	char *wb_owner;          /* this core's owner lock in wb_dir (records name it) */
	int wb_owner_fd;         /* holds its flock; -1: none */
	struct swiftfs_workpool *wbpool;
	pthread_mutex_t wb_lock;
	pthread_cond_t wb_cond;
	uint64_t wb_dirty;       /* wb_lock: bytes closed and not uploaded */
	uint64_t wb_max;         /* bound on wb_dirty: close() waits beyond it */
	int wb_stopping;         /* atomic: unmounting, no more retries */
	uint64_t local_seq;      /* atomic: orders the publication of local sizes */
	struct wb_job *wb_delayed, *wb_delayed_tail; /* wb_lock: waiting for WB_DELAY */
	/* records of earlier mounts whose upload failed at start (Swift
	 * down): the next mount tries again, unless this one changes their
	 * object first (fs_wb_stale_drop) */
	struct wb_stale *wb_stale; /* wb_lock */
	size_t n_wb_stale;         /* wb_lock; read atomically as a hint */
	pthread_cond_t wb_tcond; /* the delay timer's */
	pthread_t wb_timer;
	bool wb_timer_started;
	/* listings of directories below a walked one (fs_subtree.c) */
	pthread_mutex_t subtree_lock;
	/* an object's metadata is changed by reading it whole and POSTing it
	 * whole (Swift has no partial update): one such change at a time.
	 * The kernel already serializes setxattr and chmod on one inode; this
	 * covers the mount's own changes beside them (a folder rename
	 * rewriting a DLO manifest's metadata) */
	pthread_mutex_t meta_lock;
	/* the container's legacy "stack" versioning, as last asked
	 * (fs_ns.c stack_versions; atomics) */
	int64_t stack_next_ms; /* when to ask again; 0: never asked */
	int stack_mode;
	struct swiftfs_subtree *subtree;
	uint64_t subtree_epoch;  /* subtree_lock: bumped by fs_subtree_forget */
	struct swiftfs_prefetch *prefetch; /* fs_prefetch.c; NULL without a block cache */
	/* Handles the kernel holds, so that an unmount with files still open
	 * (a stop signal, a forced stop) can release them. */
	pthread_mutex_t open_lock;
	struct swiftfs_file *open_files;   /* open_lock */
	struct swiftfs_dir *open_dirs;     /* open_lock */
	/* xattrs (fs_xattr.c) */
	struct swiftfs_xinfo xinfo; /* /info metadata limits, TempURL digest */
	double tempurl_ttl;
	struct swiftfs_versions *versions; /* fs_versions.c; NULL: no versions tree */
	uint64_t account_slot; /* fs_account.c: this container's slot; 0 outside account mounts */
};

/* inode->symlink_target starting with this byte holds the exact POSIX
 * target (X-Object-Meta-Symlink-Target), not Swift's container/object. */
#define SYMLINK_RAW_MARK '\x01'

/* open() trusts the HEAD of the lookup that led to it, if this recent. */
#define HEAD_REUSE_SECS 1.0

struct swiftfs_dir {
	struct swiftfs_inode *inode;  /* referenced */
	uint64_t parent_ino;
	struct swiftfs_dlref *list;   /* referenced */
	struct swiftfs_dir *open_prev, *open_next; /* fs->open_lock */
};

struct swiftfs_file {
	struct swiftfs_inode *inode;  /* referenced */
	struct swiftfs_reader *reader; /* read-only opens of a clean file */
	struct swiftfs_wstate *w;      /* opens of a file with local data */
	int flags;
	bool changed;  /* open found a new version: the kernel's size is stale */
	bool keep_cache; /* the kernel's cached pages are of this very version */
	bool direct_io;  /* readers of another version use the kernel's pages */
	bool page_reader; /* counted in inode->page_readers */
	bool journaled;  /* opened for writing with writeback or under a temporary
			  * name: close() fdatasyncs the staged data */
	struct swiftfs_file *open_prev, *open_next; /* fs->open_lock */
};

/* Enter a handle given to the kernel in fs->open_files. */
void fs_file_track(struct swiftfs_fs *fs, struct swiftfs_file *f);


char *fs_join(const char *a, const char *b, const char *c);
/* Object name of a path relative to the mount root. */
char *fs_object_name(struct swiftfs_fs *fs, const char *rel);
/* Listing prefix of a directory path ("" for the root of a container). */
char *fs_dir_prefix(struct swiftfs_fs *fs, const char *rel);
/* fs_write.c: the object name of inode n as of now (malloc'd), and with
 * a, its attributes at that moment. */
char *fs_object_of(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_attr *a);
/* Find an inode and take a reference; with path, also its relative path. */
struct swiftfs_inode *fs_get_inode(struct swiftfs_fs *fs, uint64_t ino, char **path);
void fs_put_inode(struct swiftfs_fs *fs, struct swiftfs_inode *n);
void fs_fill_stat(struct swiftfs_fs *fs, uint64_t ino, const struct swiftfs_attr *a,
		  struct stat *st);
void fs_attr_from_dirent(const struct swiftfs_dirent *d, struct swiftfs_attr *a);
/* Exact attributes from a HEAD or GET response's headers. */
struct swiftfs_req;
void fs_attr_from_headers(const struct swiftfs_req *r, struct swiftfs_attr *a);
/* Publish what a HEAD (or GET) said about file n (table lock held). */
void settle_head_locked(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_attr *a);
/* fs_read.c: open a clean file for reading (f->reader). */
int fs_open_read(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *object,
		 struct swiftfs_file *f);
/* statfs figures from a container's or account's usage and quotas. */
void fs_fill_statvfs(struct statvfs *sv, uint64_t used, uint64_t objects, uint64_t qbytes,
		     uint64_t qcount);
/* fs_write.c: writeback's delay timer; a pending file renamed or changed. */
int fs_wb_start(struct swiftfs_fs *fs);
void fs_wb_stop(struct swiftfs_fs *fs);
/* fs_meta.c: POST the object's complete metadata with the headers set
 * ("Name: value") replaced (Swift's POST replaces all custom metadata, so
 * the rest is sent back as it is; a DLO keeps its X-Object-Manifest
 * unless set names one). */
int fs_post_meta(struct swiftfs_fs *fs, const char *object, const char *const *set);
/* claimed: the caller holds n's data (a rename moving it), else its name
 * is read once no rename does. */
void fs_wb_rerecord(struct swiftfs_fs *fs, struct swiftfs_inode *n, bool claimed);
/* wb_recover()'s report of a record it could not upload (fs->wb_stale). */
void fs_wb_stale_add(void *fs, const char *object, const char *record, const char *staged);
/* This mount is about to change object in Swift (write, truncate, unlink,
 * rename): a record an earlier mount left for it, and that could not be
 * uploaded at start, is older than that change and is dropped, so that the
 * next mount does not replay it over the change. */
void fs_wb_stale_drop(struct swiftfs_fs *fs, const char *object);
/* A file (src, dst: object names) or folder (src, dst: "a/b/" prefixes)
 * renamed through this mount: such records of src, or under it, now name
 * their objects under dst. */
void fs_wb_stale_move(struct swiftfs_fs *fs, const char *src, const char *dst);
void fs_wb_stale_free(struct swiftfs_fs *fs);
/* fs_read.c: a lookup's question about a small file, answered by a GET
 * whose bytes go to the block cache; with the blocks of *a (its ETag and
 * size, from the listing or an earlier GET) cached, by an If-None-Match
 * GET whose 304 costs no body. Either way *a comes back exact. -EAGAIN:
 * not small (or no cache): HEAD it instead. */
int fs_fetch_small(struct swiftfs_fs *fs, const char *object, struct swiftfs_attr *a);
/* Would a come whole at open (-o small_file)? Are all its blocks cached? */
bool fs_small_file_p(struct swiftfs_fs *fs, const struct swiftfs_attr *a);
bool fs_small_cached_p(struct swiftfs_fs *fs, const char *object, const struct swiftfs_attr *a);
/* fs_prefetch.c: small objects fetched before they are asked for. */
struct swiftfs_dirlist;
int fs_prefetch_new(struct swiftfs_fs *fs);
void fs_prefetch_free(struct swiftfs_fs *fs);
/* A listing of prefix came from Swift: fetch its zarr metadata files. */
void fs_prefetch_listing(struct swiftfs_fs *fs, const char *prefix,
			 const struct swiftfs_dirlist *dl);
/* fs_fetch_small() for object, a child of the directory listed as dl
 * under prefix, answered by a prefetch when there is one; *checked_at is
 * when Swift was last asked. */
int fs_prefetch_lookup(struct swiftfs_fs *fs, const char *prefix, const struct swiftfs_dirlist *dl,
		       const char *object, struct swiftfs_attr *a, double *checked_at);
/* An open with no lookup before it: true with *a (exact) when object was
 * fetched ahead within HEAD_REUSE_SECS, its blocks cached. */
bool fs_prefetch_open(struct swiftfs_fs *fs, const char *object, struct swiftfs_attr *a);
/* fs_subtree.c: an opendir (a walk may list a whole subtree at once). */
void fs_subtree_opendir(struct swiftfs_fs *fs, struct swiftfs_inode *dir);
/* A listing of prefix kept from a subtree listing, taken (once). */
struct swiftfs_dirlist;
/* Take prefix's kept listing (true), and when it expires. */
bool fs_subtree_take(struct swiftfs_fs *fs, const char *prefix, double changed_at,
		     struct swiftfs_dirlist *dl, double *expire);
/* Drop the kept listings of prefix and every folder below it (a folder
 * renamed or removed through this mount). */
void fs_subtree_forget(struct swiftfs_fs *fs, const char *prefix);
void fs_subtree_free(struct swiftfs_fs *fs);
/* HEAD object in container as itself, not what it links to (symlink=get,
 * after query when there is one). Under object versioning
 * (X-Versions-Enabled) every name is a link Swift keeps to the name's
 * current version (X-Symlink-Target: "c/o?version-id=V"), whose own
 * headers tell nothing of the file (size 0, the empty ETag, a symlink
 * even for a plain file): then the version V itself is HEADed. *r holds
 * the answer (the caller cleans it up); vid (vidlen > 0) gets V, or "". */
int fs_head_itself(struct swiftfs_fs *fs, const char *container, const char *object,
		   const char *query, struct swiftfs_req *r, char *vid, size_t vidlen);
int fs_head_object(struct swiftfs_fs *fs, const char *object, bool symlink,
		   struct swiftfs_attr *a, char **target);
int fs_get_listing(struct swiftfs_fs *fs, struct swiftfs_inode *dir, struct swiftfs_dlref **out);
/* Record a change made through this mount in dir's listing: d is what
 * name now is, NULL when it was removed (see struct swiftfs_overlay). */
void fs_dir_note_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir, const char *name,
			const struct swiftfs_dirent *d);
/* The same for a directory removed (or renamed away): a file of that
 * name, which the directory hid, shows again at once (dir's listing is
 * fetched anew) and is not taken for the directory. */
void fs_dir_note_dir_gone_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir,
				 const char *name);
void overlay_apply_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir,
			  struct swiftfs_dlref *ref);
/* Overlay o of dir still stands: not expired, or the name of a file whose
 * data is only here (open for writing, or not uploaded yet). */
bool fs_overlay_live_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir,
			    const struct swiftfs_overlay *o, double now);
/* Whether directory d has entries made through this mount that Swift may
 * not list yet (files not uploaded, or just uploaded). */
bool fs_dir_local_children_locked(struct swiftfs_fs *fs, struct swiftfs_inode *d);
/* fs_ns.c: the parent directory (referenced), the relative path and the
 * object name of parent/name, with the name limits checked. */
int fs_resolve(struct swiftfs_fs *fs, uint64_t parent, const char *name,
	       struct swiftfs_inode **p, char **rel, char **object);
void fs_release_resolved(struct swiftfs_fs *fs, struct swiftfs_inode *p, char *rel,
			 char *object);

/* fs_write.c */
int fs_open_write(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *object, int flags,
		  struct swiftfs_file *f);
bool fs_open_local(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_file *f);
ssize_t fs_read_local(struct swiftfs_fs *fs, struct swiftfs_file *f, char *buf, size_t size,
		      uint64_t off);
void fs_release_local(struct swiftfs_fs *fs, struct swiftfs_file *f);
void fs_forget_local_data(struct swiftfs_fs *fs, struct swiftfs_inode *n);
struct swiftfs_wstate *fs_local_claim(struct swiftfs_fs *fs, struct swiftfs_inode *n);
struct swiftfs_wstate *fs_local_hold(struct swiftfs_fs *fs, struct swiftfs_inode *n);
bool fs_local_data_p(struct swiftfs_fs *fs, struct swiftfs_inode *n);
void fs_local_release(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w);
void fs_local_lands_on(struct swiftfs_wstate *w, bool exists, bool slo);
bool fs_local_name_in_swift(struct swiftfs_wstate *w);
/* What the name of held local data w holds in Swift, as w knows it: the
 * version it started from or last uploaded (*slo: an SLO). false: not
 * known (an upload failed and may have landed, a rename moved it). */
bool fs_local_base_known(struct swiftfs_wstate *w, bool *slo);
int fs_sync_claimed(struct swiftfs_fs *fs, struct swiftfs_inode *n, struct swiftfs_wstate *w,
		    const char *object);
int fs_sync_inode(struct swiftfs_fs *fs, struct swiftfs_inode *n);
/* fs_meta.c: a metadata POST through the mount (xattrs) changed object: a file with
 * local data (open for writing) takes up its metadata and content type,
 * which its next upload sends instead of what it read at open. */
void fs_local_meta_refresh(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *object);
/* An xattr change of n's object (header hname set to value, or removed
 * when value is NULL), made to the metadata n's local data is uploaded
 * with, before the POST that makes it in Swift: an upload under way ends
 * first (it holds the state's lock), and every later one carries the
 * change, so none lands after the POST without it. */
void fs_local_meta_set(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *hname,
		       const char *value);
/* fs_writeback.c: has w closed data not in Swift (an upload queued, or
 * a journal record left by a failed one)? Temporary file names. */
bool fs_wb_pending(struct swiftfs_wstate *w);
bool fs_wb_pending_inode(struct swiftfs_fs *fs, struct swiftfs_inode *n);
bool fs_temp_name_p(const struct swiftfs_fs *fs, const char *name);
void fs_write_shutdown(struct swiftfs_fs *fs);

/* fs_xattr.c: a header an object POST replaces and must send back as it
 * is (X-Delete-At, Content-Encoding, ...; not X-Object-Meta-*, not the
 * manifest, which callers handle themselves). */
bool fs_xattr_post_keeps(const char *header);

bool fs_keep_exact_locked(struct swiftfs_fs *fs, struct swiftfs_inode *dir, const char *name,
			  const struct swiftfs_dirent *d, struct swiftfs_attr *a);

#endif
