/* The FUSE low-level operations table: the only code that talks to the
 * kernel. Each handler unpacks its request, calls the fs_* core function
 * and replies. The session's userdata is a struct swiftfs_fuse_ctx. */
#ifndef SWIFTFS_FS_OPS_H
#define SWIFTFS_FS_OPS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

struct swiftfs_fs;
struct swiftfs_account;

#include <pthread.h>

struct ops_link;

struct swiftfs_fuse_ctx {
	struct swiftfs_fs *fs; /* set before the session loop starts */
	struct swiftfs_account *acct; /* account mounts: instead of fs */
	struct fuse_session *se;
	int readonly;
	uint64_t kernel_read_ahead;     /* -o kernel_read_ahead: offered at init */
	pthread_mutex_t hlock;          /* guards handles */
	struct ops_link *handles;       /* open files and directories */
};

const struct fuse_lowlevel_ops *fs_ops_get(void);
/* After the session loop: close the handles the kernel never released. */
void fs_ops_close_all(struct swiftfs_fuse_ctx *ctx);

#endif
