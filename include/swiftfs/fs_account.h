/* Account mounts (`swiftfs / MOUNTPOINT`, fs_account.c): the containers
 * are the top-level folders. Each container folder is served by a
 * filesystem core of its own (struct swiftfs_fs, made on first use), so
 * nothing in the core knows about accounts. Inode numbers are shared out:
 * 1 is the account root, and container slot k (from 1) owns the numbers
 * k << 44 | local, where local is the container filesystem's own inode
 * number (its versions tree's numbers are folded into bit 43). fs_ops.c
 * translates with fs_account_route() and fs_account_ino(). Functions
 * return 0 or -errno like fs.h. */
#ifndef SWIFTFS_FS_ACCOUNT_H
#define SWIFTFS_FS_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include "swiftfs/fs.h"

struct swiftfs_account;
struct swiftfs_opts;
struct swiftfs_client;
struct swiftfs_adir;

int fs_account_new(const struct swiftfs_opts *o, struct swiftfs_client *c,
		   struct swiftfs_account **out);
void fs_account_free(struct swiftfs_account *a);

/* The container filesystem and its own inode number of a global inode.
 * 1 (and *fs NULL) for the account root, 0, or -ESTALE. */
int fs_account_route(struct swiftfs_account *a, uint64_t gino, struct swiftfs_fs **fs,
		     uint64_t *lino);
/* The same, for a container whose core exists already; -ENOENT when it
 * does not (a forget then has nothing to drop, and makes none). */
int fs_account_route_made(struct swiftfs_account *a, uint64_t gino, struct swiftfs_fs **fs,
			  uint64_t *lino);
/* The global number of fs's inode lino. */
uint64_t fs_account_ino(struct swiftfs_account *a, struct swiftfs_fs *fs, uint64_t lino);

/* The account root. */
int fs_account_lookup(struct swiftfs_account *a, const char *name, struct swiftfs_entry *e);
void fs_account_root_stat(struct swiftfs_account *a, struct stat *st);
int fs_account_opendir(struct swiftfs_account *a, struct swiftfs_adir **d);
/* As fs_readdir(); entries carry no inode (readdirplus makes no dentry). */
int fs_account_readdir(struct swiftfs_account *a, struct swiftfs_adir *d, size_t idx,
		       const char **name, struct swiftfs_entry *e);
void fs_account_releasedir(struct swiftfs_account *a, struct swiftfs_adir *d);
/* mkdir: PUT the container (with -o storage_policy=); rmdir: DELETE it
 * (ENOTEMPTY while it holds objects). */
int fs_account_mkdir(struct swiftfs_account *a, const char *name, struct swiftfs_entry *e);
int fs_account_rmdir(struct swiftfs_account *a, const char *name);
int fs_account_statfs(struct swiftfs_account *a, struct statvfs *sv);
double fs_account_timeout(struct swiftfs_account *a);
void fs_account_log_stats(struct swiftfs_account *a);
/* fs_drain() of every container core made so far. */
int fs_account_drain(struct swiftfs_account *a, double timeout, const volatile int *abort_flag);

#endif
