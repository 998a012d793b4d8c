/* Extended attributes of the filesystem core (fs_xattr.c): Swift's object
 * and container metadata, ACLs, quotas, TempURLs through
 * getxattr/setxattr/listxattr/removexattr. The names are described in
 * xattr.h and the README ("Extended attributes"). Like fs.h, every
 * function returns 0 or -errno and never talks to the kernel. */
#ifndef SWIFTFS_FS_XATTR_H
#define SWIFTFS_FS_XATTR_H

#include <stddef.h>
#include <stdint.h>

struct swiftfs_fs;

/* *value is malloc'd (*len bytes, NUL after them). -ENODATA when absent. */
int fs_getxattr(struct swiftfs_fs *fs, uint64_t ino, const char *name, char **value,
		size_t *len);
/* *list is malloc'd: NUL-terminated names back to back, *len bytes. */
int fs_listxattr(struct swiftfs_fs *fs, uint64_t ino, char **list, size_t *len);
/* flags: XATTR_CREATE / XATTR_REPLACE (sys/xattr.h). */
int fs_setxattr(struct swiftfs_fs *fs, uint64_t ino, const char *name, const char *value,
		size_t size, int flags);
int fs_removexattr(struct swiftfs_fs *fs, uint64_t ino, const char *name);

#endif
