/* Daemon life after the mount: signals, readiness and a clean stop.
 *   SIGHUP          re-read the credentials file (swift_auth_reload).
 *   SIGTERM/SIGINT  finish uploads under way and wait for files still
 *                   open with unsaved data (at most drain_timeout), then
 *                   leave the session loop and unmount; a second one
 *                   unmounts and exits at once (staged data stays on disk).
 *   umount          the loop ends; closed files whose upload failed get
 *                   one more try before exit.
 * Signals are taken by one thread with sigtimedwait(), never in a
 * handler, so everything they trigger may lock, allocate and log.
 * Under systemd Type=notify, READY=1 is sent once a stat() of the mount
 * point has been answered by the running loop, STOPPING=1 when stopping. */
#ifndef SWIFTFS_LIFECYCLE_H
#define SWIFTFS_LIFECYCLE_H

#include <stdbool.h>

struct fuse_session;
struct swiftfs_fs;
struct swiftfs_account;
struct swiftfs_auth;
struct swiftfs_client;
struct swiftfs_life;

struct swiftfs_life_cfg {
	struct fuse_session *se;
	struct swiftfs_fs *fs;        /* a container mount, or */
	struct swiftfs_account *acct; /* an account mount */
	struct swiftfs_auth *auth;
	struct swiftfs_client *client;
	const char *mountpoint;  /* resolved path */
	const char *what;        /* "CONTAINER[/PREFIX]" for messages */
	double drain_timeout;
	bool foreground;
};

/* Call before mounting, while the process has one thread: blocks SIGTERM,
 * SIGINT and SIGHUP in every thread created afterwards (they are taken by
 * the signal thread), ignores SIGPIPE and installs the handler of the
 * signal that wakes the session loop. 0 or -errno. */
int lifecycle_block_signals(void);
/* After daemonizing, before the session loop: start the signal thread
 * and, under Type=notify, the readiness check. 0 or -errno. */
int lifecycle_start(const struct swiftfs_life_cfg *cfg, struct swiftfs_life **out);
/* After the session loop returned: STOPPING=1, drain (unless forced),
 * stop the threads. */
void lifecycle_finish(struct swiftfs_life *l);
void lifecycle_free(struct swiftfs_life *l);
/* Unmount se once, whichever thread asks first. */
void lifecycle_unmount(struct fuse_session *se);

#endif
