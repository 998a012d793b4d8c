/* The hidden, read-only tree of earlier object versions (fs_versions.c):
 * MOUNT/.versions/<path>/<version> (the name is -o versions_dir=). It is
 * not listed by readdir of the root and is reached by path, like ZFS's
 * .zfs. Its inodes live in a number space of their own
 * (>= FS_VERSIONS_INO_BASE), so fs_ops.c routes every request on such an
 * inode here and the rest of the core never sees them. Functions return 0
 * or -errno, like fs.h. */
#ifndef SWIFTFS_FS_VERSIONS_H
#define SWIFTFS_FS_VERSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "swiftfs/fs.h"

#define FS_VERSIONS_INO_BASE (1ULL << 62)

struct swiftfs_fs;
struct swiftfs_versions;
struct swiftfs_vdir;
struct swiftfs_vfile;

static inline bool fs_versions_ino(uint64_t ino)
{
	return ino >= FS_VERSIONS_INO_BASE;
}

/* dirname NULL or "": the tree is off (*out NULL). */
int fs_versions_new(const char *dirname, struct swiftfs_versions **out);
void fs_versions_free(struct swiftfs_versions *v);

/* Does this lookup belong to the versions tree (parent is one of its
 * inodes, or the mount root and name is the tree's name)? */
bool fs_versions_owns_lookup(struct swiftfs_fs *fs, uint64_t parent, const char *name);
int fs_versions_lookup(struct swiftfs_fs *fs, uint64_t parent, const char *name,
		       struct swiftfs_entry *e);
void fs_versions_forget(struct swiftfs_fs *fs, uint64_t ino, uint64_t nlookup);
int fs_versions_getattr(struct swiftfs_fs *fs, uint64_t ino, struct stat *st, double *timeout);

int fs_versions_opendir(struct swiftfs_fs *fs, uint64_t ino, struct swiftfs_vdir **d);
/* As fs_readdir(). */
int fs_versions_readdir(struct swiftfs_fs *fs, struct swiftfs_vdir *d, size_t idx, bool plus,
			const char **name, struct swiftfs_entry *e);
void fs_versions_releasedir(struct swiftfs_fs *fs, struct swiftfs_vdir *d);

/* Read-only: any write access is EROFS. */
int fs_versions_open(struct swiftfs_fs *fs, uint64_t ino, int flags, struct swiftfs_vfile **f);
ssize_t fs_versions_read(struct swiftfs_fs *fs, struct swiftfs_vfile *f, char *buf, size_t size,
			 uint64_t off);
void fs_versions_release(struct swiftfs_fs *fs, struct swiftfs_vfile *f);

#endif
