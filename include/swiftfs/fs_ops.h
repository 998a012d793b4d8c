/* The FUSE low-level operations table: the only code that talks to the
 * kernel. Each handler unpacks its request, calls the fs_* core function
 * and replies. The session's userdata is a struct swiftfs_fuse_ctx. */
#ifndef SWIFTFS_FS_OPS_H
#define SWIFTFS_FS_OPS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

struct swiftfs_fs;
struct swiftfs_account;

struct swiftfs_fuse_ctx {
	struct swiftfs_fs *fs; /* set before the session loop starts */
	struct swiftfs_account *acct; /* account mounts: instead of fs */
	struct fuse_session *se;
	int readonly;
};

const struct fuse_lowlevel_ops *fs_ops_get(void);

#endif
