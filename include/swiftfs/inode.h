/* The inode table. Swift has no inodes: we hand out numbers, keep one
 * dentry (parent + name) per inode, and free an inode when the kernel has
 * forgotten it (nlookup == 0) and nothing of ours holds it (refs == 0).
 * Children hold a reference on their parent, so a path can always be
 * rebuilt by walking up; rename (later) is re-parenting, not re-keying.
 * An entry whose kind changes out of band (a file replaced by a directory)
 * is unhashed and replaced by a new inode, never mutated in place.
 *
 * Locking: one mutex per table guards the hashes and every field of every
 * inode marked "table lock" below. Functions ending in _locked expect it
 * held. Network I/O never happens under it. */
#ifndef SWIFTFS_INODE_H
#define SWIFTFS_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "swiftfs/listing.h"

#define SWIFTFS_ROOT_INO 1
/* The table's inode numbers stay below 1 << SWIFTFS_INO_BITS: account
 * mounts put a container's slot above them, and the versions tree
 * (fs_versions.h) numbers its nodes from 1 << 62. */
#define SWIFTFS_INO_BITS 43

/* A directory listing shared by the directory inode and open handles. */
struct swiftfs_dlref {
	struct swiftfs_dirlist dl;
	unsigned refs;  /* table lock */
};

/* Attributes as the filesystem knows them. */
struct swiftfs_attr {
	enum swiftfs_dkind kind;
	uint64_t size;
	struct timespec mtime;
	bool have_mtime;       /* false for a directory with no marker */
	bool exact;            /* from a HEAD/GET: X-Object-Meta-Mtime applied */
	bool maybe_dlo;        /* zero bytes in the listing; HEAD before trusting */
	bool is_dlo;
	bool is_slo;
	char etag[72];         /* from HEAD (quotes stripped) or listing */
	char list_etag[72];    /* the listing's hash when etag was learned */
	struct timespec list_mtime; /* and its last_modified (0: not known): a
				     * symlink retargeted, or an object PUT again
				     * with the same bytes, keeps the hash */
	bool have_mode;        /* X-Object-Meta-Mode (chmod through a mount) */
	bool have_owner;       /* X-Object-Meta-Uid / -Gid */
	unsigned mode;
	unsigned uid, gid;
};

/* A change made through this mount, re-applied on top of fetched
 * listings until Swift's (eventually consistent) listing shows it or it
 * expires: read-after-write inside one mount even while listings lag. */
struct swiftfs_overlay {
	char *name;
	bool present;                 /* created (true) or removed (false) */
	struct swiftfs_dirent d;      /* what to show when present; removed: d.kind
				       * DK_DIR for a directory, which only a
				       * directory in a listing contradicts */
	double made_at;               /* wall clock seconds of the change */
	double until;
	struct swiftfs_overlay *next;
};

struct swiftfs_inode {
	uint64_t ino;                  /* immutable */
	uint64_t nlookup;              /* table lock */
	unsigned refs;                 /* table lock */
	struct swiftfs_inode *parent;  /* table lock */
	char *name;                    /* table lock */
	bool hashed;                   /* table lock: reachable by name */
	struct swiftfs_attr attr;      /* table lock */
	double attr_expire;            /* table lock */
	double head_at;                /* table lock: when a HEAD last confirmed attr */
	uint64_t local_seq;            /* table lock: the newest local size and time
					* published (fs_write.c's local_seq) */
	uint64_t etag_seq;             /* table lock: the same, for an upload's ETag */
	bool head_unused;              /* table lock: no open() has used that HEAD yet */
	char cached_etag[72];          /* table lock: version the kernel's pages hold */
	unsigned page_readers;         /* table lock: open read handles using those pages */
	char *symlink_target;          /* table lock */
	/* directories */
	struct swiftfs_dlref *list;    /* table lock */
	double list_expire;            /* table lock */
	bool list_busy;                /* table lock: a fetch is under way */
	double walked_at;              /* table lock: last opendir (fs_subtree.c) */
	double subtree_at;             /* table lock: last subtree listing below */
	double changed_at;             /* table lock: last change of its entries made
					* through the mount (a walk's listing fetched
					* before it is not used) */
	struct swiftfs_overlay *overlay; /* table lock */
	/* files: local data being written (fs_write.c) */
	struct swiftfs_wstate *w;      /* table lock (the pointer) */
	/* hash chains */
	struct swiftfs_inode *ino_next;
	struct swiftfs_inode *name_next;
};

struct swiftfs_itable {
	pthread_mutex_t lock;
	pthread_cond_t cond;           /* list_busy changes */
	struct swiftfs_inode **by_ino; /* table lock */
	struct swiftfs_inode **by_name;
	size_t nbuckets;
	size_t count;
	struct swiftfs_ghost *ghosts;  /* table lock: see inode_ghost_find_locked */
};

int inode_table_init(struct swiftfs_itable *t);
/* The exact attributes (from a HEAD, a GET or this mount's own changes) of
 * a file the kernel forgot, kept in a bounded direct-mapped table: a path
 * looked up again gets them back while its ETag is unchanged, instead of
 * the listing's (memory pressure must not undo a chmod or a touch). NULL
 * when none are kept. */
const struct swiftfs_attr *inode_ghost_find_locked(struct swiftfs_itable *t,
						   struct swiftfs_inode *parent, const char *name);
void inode_table_destroy(struct swiftfs_itable *t);

struct swiftfs_inode *inode_find_locked(struct swiftfs_itable *t, uint64_t ino);
struct swiftfs_inode *inode_child_locked(struct swiftfs_itable *t, struct swiftfs_inode *parent,
					 const char *name);
/* Find or create parent/name with kind attr->kind and store attr; adds
 * one kernel lookup. A hashed child of another kind is unhashed first.
 * NULL on allocation failure. */
struct swiftfs_inode *inode_link_locked(struct swiftfs_itable *t, struct swiftfs_inode *parent,
					const char *name, const struct swiftfs_attr *attr);
/* Drop n kernel lookups; frees what nothing holds any more. */
void inode_forget_locked(struct swiftfs_itable *t, struct swiftfs_inode *ino, uint64_t n);
void inode_ref_locked(struct swiftfs_inode *ino);
void inode_unref_locked(struct swiftfs_itable *t, struct swiftfs_inode *ino);
/* Relative path from the root ("" for the root), malloc'd. */
char *inode_path_locked(struct swiftfs_itable *t, struct swiftfs_inode *ino);

void dlref_put_locked(struct swiftfs_dlref *r);
void overlay_free(struct swiftfs_overlay *o);
/* Move n to (parent, name): rename in the table. The inode that held the
 * new name, if any, is unhashed. */
int inode_move_locked(struct swiftfs_itable *t, struct swiftfs_inode *n,
		      struct swiftfs_inode *parent, const char *name);
/* Make n unreachable by name (unlink, rmdir); it lives until forgotten. */
void inode_unhash_locked(struct swiftfs_itable *t, struct swiftfs_inode *n);

#endif
