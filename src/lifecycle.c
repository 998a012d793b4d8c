/* Daemon life after the mount (see lifecycle.h).
 *
 * Why a signal thread: a handler may only call async-signal-safe
 * functions, but a stop has to wait for uploads, log and unmount, and a
 * reload reads a file and may log in. So TERM, INT and HUP are blocked in
 * every thread (the mask is set before any thread exists and inherited)
 * and one thread takes them with sigtimedwait().
 *
 * Why not libfuse's fuse_set_signal_handlers(): it ends the loop at once,
 * before a close() that is uploading has been answered... and the loop
 * must keep serving requests while we wait, since a program finishing
 * its writes needs its close() answered. So the first TERM starts a
 * stopper thread that drains, then ends the loop: fuse_session_exit()
 * plus SIGUSR1 sent to the main thread to interrupt its sem_wait()
 * (libfuse's multi-threaded loop waits there; the no-op handler has no
 * SA_RESTART). The kick is repeated until the loop has returned, which
 * closes the race where the signal lands just before sem_wait().
 *
 * Locking: life->lock guards stopping, loop_done and the stopper thread
 * handle; abort_drain is read by fs_drain() without it (atomic). */
#define FUSE_USE_VERSION 35
#include "swiftfs/lifecycle.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "swiftfs/fs.h"
#include "swiftfs/fs_account.h"
#include "swiftfs/log.h"
#include "swiftfs/notify.h"
#include "swiftfs/swift_auth.h"

#define WAKE_SIGNAL SIGUSR1

struct swiftfs_life {
	struct swiftfs_life_cfg cfg;
	char *mountpoint;
	char *what;
	pthread_t main_thread;
	pthread_t sig_thread;
	bool sig_started;
	pthread_mutex_t lock;
	bool stopping;          /* lock: a stop has begun */
	bool loop_done;         /* lock: the session loop has returned */
	bool stopper_started;   /* lock */
	pthread_t stopper;      /* lock */
	int quit;               /* atomic: the signal thread ends */
	int abort_drain;        /* atomic: a second signal: stop waiting */
};

static pthread_mutex_t unmount_lock = PTHREAD_MUTEX_INITIALIZER;
static bool unmounted;      /* unmount_lock */

static void wake_handler(int sig)
{
	(void)sig; /* only here to interrupt a blocking call */
}

static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

int lifecycle_block_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -errno;
	sa.sa_handler = wake_handler; /* no SA_RESTART: interrupt sem_wait */
	sigemptyset(&sa.sa_mask);
	if (sigaction(WAKE_SIGNAL, &sa, NULL) != 0)
		return -errno;
	stop_signals(&set);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void lifecycle_unmount(struct fuse_session *se)
{
	pthread_mutex_lock(&unmount_lock);
	if (!unmounted) {
		unmounted = true;
		fuse_session_unmount(se);
	}
	pthread_mutex_unlock(&unmount_lock);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Drain, then end the session loop and wait until it has ended. */
static void drain(struct swiftfs_life *l)
{
	if (l->cfg.fs)
		fs_drain(l->cfg.fs, l->cfg.drain_timeout, &l->abort_drain);
	else if (l->cfg.acct)
		fs_account_drain(l->cfg.acct, l->cfg.drain_timeout, &l->abort_drain);
}

static void *stopper_main(void *arg)
{
	struct swiftfs_life *l = arg;

	drain(l);
	LOGI("unmounting %s", l->mountpoint);
	fuse_session_exit(l->cfg.se);
	for (;;) {
		pthread_mutex_lock(&l->lock);
		bool done = l->loop_done;
		pthread_mutex_unlock(&l->lock);
		if (done)
			break;
		pthread_kill(l->main_thread, WAKE_SIGNAL);
		sleep_ms(100);
	}
	return NULL;
}

static void on_stop_signal(struct swiftfs_life *l, int sig)
{
	pthread_mutex_lock(&l->lock);
	if (!l->stopping) {
		l->stopping = true;
		LOGI("%s: finishing uploads (at most %.0f s), then unmounting %s; "
		     "send it again to stop at once", sig == SIGINT ? "SIGINT" : "SIGTERM",
		     l->cfg.drain_timeout, l->mountpoint);
		notify_send("STOPPING=1");
		if (pthread_create(&l->stopper, NULL, stopper_main, l) == 0) {
			l->stopper_started = true;
		} else {
			LOGE("cannot start the stopper thread: unmounting without waiting");
			fuse_session_exit(l->cfg.se);
			pthread_kill(l->main_thread, WAKE_SIGNAL);
		}
		pthread_mutex_unlock(&l->lock);
		return;
	}
	__atomic_store_n(&l->abort_drain, 1, __ATOMIC_SEQ_CST);
	bool loop_running = !l->loop_done;
	pthread_mutex_unlock(&l->lock);
	if (!loop_running) {
		LOGW("second stop signal: no more waiting for uploads");
		return;
	}
	/* the loop may be stuck behind a long upload: leave now. Staged
	 * files stay on disk; SLO uploads resume from their journal. */
	LOGW("second stop signal: unmounting %s and exiting now; data not yet in Swift "
	     "stays in the cache folder's staging/", l->mountpoint);
	lifecycle_unmount(l->cfg.se);
	_exit(1);
}

static void on_reload_signal(struct swiftfs_life *l)
{
	char msg[512] = "";
	if (swift_auth_reload(l->cfg.auth, l->cfg.client, msg, sizeof(msg)) == 0)
		LOGI("SIGHUP: %s", msg);
	else
		LOGE("SIGHUP: %s", msg);
}

static void *signal_main(void *arg)
{
	struct swiftfs_life *l = arg;
	sigset_t set;
	struct timespec tick = { 0, 200 * 1000 * 1000 };

	stop_signals(&set);
	while (!__atomic_load_n(&l->quit, __ATOMIC_SEQ_CST)) {
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGHUP)
			on_reload_signal(l);
		else if (sig == SIGTERM || sig == SIGINT)
			on_stop_signal(l, sig);
	}
	return NULL;
}

struct ready_arg {
	char *mountpoint;
	char *what;
	pid_t pid;
	bool forked;
};

/* READY=1 once the mounted filesystem answers a stat() of its root. */
static void *ready_main(void *arg)
{
	struct ready_arg *r = arg;
	struct stat st;
	char msg[1024];

	if (stat(r->mountpoint, &st) == 0) {
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=Mounted %s on %s%s", r->what,
			 r->mountpoint, "");
		if (r->forked)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "\nMAINPID=%d",
				 (int)r->pid);
		int rc = notify_send(msg);
		if (rc)
			LOGW("cannot notify systemd ($NOTIFY_SOCKET): %s", strerror(-rc));
		else
			LOGD("told systemd the mount is ready");
	} else {
		LOGE("the mount at %s does not answer (%s): not reporting readiness",
		     r->mountpoint, strerror(errno));
	}
	free(r->mountpoint);
	free(r->what);
	free(r);
	return NULL;
}

static int start_ready_check(struct swiftfs_life *l)
{
	struct ready_arg *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (!r)
		return -ENOMEM;
	r->mountpoint = strdup(l->mountpoint);
	r->what = strdup(l->what);
	r->pid = getpid();
	r->forked = !l->cfg.foreground;
	if (!r->mountpoint || !r->what) {
		rc = -ENOMEM;
		goto fail;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&t, &attr, ready_main, r);
	pthread_attr_destroy(&attr);
	if (rc)
		goto fail;
	return 0;
fail:
	free(r->mountpoint);
	free(r->what);
	free(r);
	return rc;
}

int lifecycle_start(const struct swiftfs_life_cfg *cfg, struct swiftfs_life **out)
{
	struct swiftfs_life *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	l->mountpoint = strdup(cfg->mountpoint);
	l->what = strdup(cfg->what);
	l->main_thread = pthread_self();
	pthread_mutex_init(&l->lock, NULL);
	if (!l->mountpoint || !l->what) {
		rc = -ENOMEM;
		goto fail;
	}
	l->cfg.mountpoint = l->mountpoint;
	l->cfg.what = l->what;
	rc = -pthread_create(&l->sig_thread, NULL, signal_main, l);
	if (rc)
		goto fail;
	l->sig_started = true;
	if (notify_enabled()) {
		rc = start_ready_check(l);
		if (rc)
			LOGW("cannot start the readiness check: %s", strerror(-rc));
	}
	*out = l;
	return 0;
fail:
	lifecycle_free(l);
	return rc;
}

void lifecycle_finish(struct swiftfs_life *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->loop_done = true;
	bool by_signal = l->stopping;
	l->stopping = true;
	pthread_mutex_unlock(&l->lock);
	if (!by_signal) {
		/* unmounted from outside (umount, fusermount3 -u) */
		notify_send("STOPPING=1");
		LOGI("%s was unmounted", l->mountpoint);
		drain(l);
	}
	pthread_mutex_lock(&l->lock);
	bool join_stopper = l->stopper_started;
	l->stopper_started = false;
	pthread_mutex_unlock(&l->lock);
	if (join_stopper)
		pthread_join(l->stopper, NULL);
	__atomic_store_n(&l->quit, 1, __ATOMIC_SEQ_CST);
	if (l->sig_started) {
		pthread_join(l->sig_thread, NULL);
		l->sig_started = false;
	}
}

void lifecycle_free(struct swiftfs_life *l)
{
	if (!l)
		return;
	if (l->sig_started) {
		__atomic_store_n(&l->quit, 1, __ATOMIC_SEQ_CST);
		pthread_join(l->sig_thread, NULL);
	}
	pthread_mutex_destroy(&l->lock);
	free(l->mountpoint);
	free(l->what);
	free(l);
}
