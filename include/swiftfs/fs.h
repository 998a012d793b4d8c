/* The filesystem core: POSIX operations in terms of the inode table,
 * listings and the Swift client. Every function returns 0 or -errno and
 * never talks to the kernel; fs_ops.c unpacks FUSE requests, calls these
 * and replies.
 *
 * Where attributes come from: a directory's listing (one request per
 * 10,000 names, cached for entry_timeout) gives kind, size, ETag and the
 * server's Last-Modified for every child; readdirplus answers from it
 * alone. A lookup of a single regular file also HEADs it once, so
 * `stat` shows X-Object-Meta-Mtime (the swift CLI's and rclone's mtime)
 * and a DLO's real size; those exact attributes stick to the inode while
 * the listing shows the same ETag. */
#ifndef SWIFTFS_FS_H
#define SWIFTFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

struct swiftfs_opts;
struct swiftfs_client;
struct swiftfs_fs;
struct swiftfs_dir;
struct swiftfs_file;

struct swiftfs_entry {
	uint64_t ino;
	uint64_t generation;  /* with ino, names the inode for the kernel: a number
			       * used again for another inode gets another one */
	struct stat st;
	double attr_timeout;
	double entry_timeout;
};

struct swiftfs_block_cache;

int fs_new(const struct swiftfs_opts *o, struct swiftfs_client *c, struct swiftfs_fs **out);
/* The same with a block cache the caller owns and shares (an account
 * mount's cores: one bound for all containers); NULL: none. */
int fs_new_shared(const struct swiftfs_opts *o, struct swiftfs_client *c,
		  struct swiftfs_block_cache *bc, struct swiftfs_fs **out);
void fs_free(struct swiftfs_fs *fs);
/* The block cache of o (in <cache_dir>/blocks, with cache_size or its
 * default bound). */
int fs_open_block_cache(const struct swiftfs_opts *o, struct swiftfs_block_cache **out);

/* -ENOENT means "cache this absence for negative_timeout". */
int fs_lookup(struct swiftfs_fs *fs, uint64_t parent, const char *name, struct swiftfs_entry *e);
double fs_negative_timeout(struct swiftfs_fs *fs);
void fs_forget(struct swiftfs_fs *fs, uint64_t ino, uint64_t nlookup);
int fs_getattr(struct swiftfs_fs *fs, uint64_t ino, struct stat *st, double *timeout);
/* *target is malloc'd. */
int fs_readlink(struct swiftfs_fs *fs, uint64_t ino, char **target);

int fs_opendir(struct swiftfs_fs *fs, uint64_t ino, struct swiftfs_dir **d);
/* Entry number idx (0 and 1 are "." and ".."). Returns 1 with *name and
 * st filled, 2 when entry idx is hidden (a real object or folder named
 * as the versions tree, at the root: nothing to send for it), 0 past the
 * end, or -errno. With plus, e is filled and one kernel lookup is taken,
 * which the caller gives back with fs_forget() if the entry does not fit
 * in the reply. */
int fs_readdir(struct swiftfs_fs *fs, struct swiftfs_dir *d, size_t idx, bool plus,
	       const char **name, struct swiftfs_entry *e);
void fs_releasedir(struct swiftfs_fs *fs, struct swiftfs_dir *d);

int fs_open(struct swiftfs_fs *fs, uint64_t ino, int flags, struct swiftfs_file **f);
ssize_t fs_read(struct swiftfs_fs *fs, struct swiftfs_file *f, char *buf, size_t size, uint64_t off);
/* Zero-copy read: 0 when [off, off+size) can be answered from a cache
 * file (*fd, which the caller closes, holds *len bytes at *pos); -EAGAIN:
 * use fs_read(). */
int fs_read_fd(struct swiftfs_fs *fs, struct swiftfs_file *f, size_t size, uint64_t off, int *fd,
	       uint64_t *pos, size_t *len);
void fs_release(struct swiftfs_fs *fs, struct swiftfs_file *f);
/* open() found the object resized since the kernel was told its size. */
bool fs_file_changed(const struct swiftfs_file *f);
/* The kernel may keep its cached pages: the object is the version they
 * were read at. */
bool fs_file_keep_cache(const struct swiftfs_file *f);
/* Bypass the kernel's pages: other handles read another version there. */
bool fs_file_direct_io(const struct swiftfs_file *f);

int fs_statfs(struct swiftfs_fs *fs, struct statvfs *sv);

/* --- writing (fs_write.c) --- */
enum {
	FS_SET_SIZE = 1 << 0,
	FS_SET_MTIME = 1 << 1,
	FS_SET_MODE = 1 << 2,
	FS_SET_UID = 1 << 3,
	FS_SET_GID = 1 << 4,
};
int fs_create(struct swiftfs_fs *fs, uint64_t parent, const char *name, mode_t mode, int flags,
	      struct swiftfs_entry *e, struct swiftfs_file **f);
ssize_t fs_write(struct swiftfs_fs *fs, struct swiftfs_file *f, const char *buf, size_t size,
		 uint64_t off);
/* close(): upload what is staged (with -o writeback: record it and queue
 * its upload); -EIO when it cannot be. */
int fs_flush(struct swiftfs_fs *fs, struct swiftfs_file *f);
/* fsync(): upload what is staged and wait for it, writeback or not. */
int fs_fsync(struct swiftfs_fs *fs, struct swiftfs_file *f);
int fs_setattr(struct swiftfs_fs *fs, uint64_t ino, int to_set, const struct stat *in,
	       struct swiftfs_file *f, struct stat *out, double *timeout);

/* --- namespace (fs_ns.c) --- */
int fs_unlink(struct swiftfs_fs *fs, uint64_t parent, const char *name);
int fs_mkdir(struct swiftfs_fs *fs, uint64_t parent, const char *name, mode_t mode,
	     struct swiftfs_entry *e);
int fs_rmdir(struct swiftfs_fs *fs, uint64_t parent, const char *name);
int fs_rename(struct swiftfs_fs *fs, uint64_t parent, const char *name, uint64_t newparent,
	      const char *newname, unsigned flags);
int fs_symlink(struct swiftfs_fs *fs, const char *target, uint64_t parent, const char *name,
	       struct swiftfs_entry *e);
int fs_link(struct swiftfs_fs *fs, uint64_t ino, uint64_t newparent, const char *newname,
	    struct swiftfs_entry *e);

/* Before unmounting: wait (at most timeout seconds, or until *abort_flag
 * becomes non-zero) for uploads under way and for files still open with
 * data not in Swift to be closed; try once more to upload closed files
 * whose upload failed. Returns how many files still have data that is
 * not in Swift (their staged data stays in <cache_dir>/staging). */
int fs_drain(struct swiftfs_fs *fs, double timeout, const volatile int *abort_flag);
/* Whether any file has data written through this mount and not in Swift
 * yet (an account mount's rmdir of the container refuses then). */
bool fs_local_pending(struct swiftfs_fs *fs);

/* One line of request counters, for logs at unmount and benchmarks. */
void fs_log_stats(struct swiftfs_fs *fs);

#endif
