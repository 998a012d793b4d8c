/* swiftfs: argv -> options -> log -> credentials -> authenticate -> check
 * the container -> mount -> daemonize -> multi-threaded loop -> teardown.
 * Everything that can fail for a reason the user can fix is checked
 * before the mount, and reported as one line on stderr with the cause,
 * so `mount` and fstab fail loudly instead of leaving a broken mount.
 * Threads (the worker pool) are created only after daemonizing, because
 * fork() keeps only the calling thread. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swiftfs/fs.h"
#include "swiftfs/fs_ops.h"
#include "swiftfs/lifecycle.h"
#include "swiftfs/log.h"
#include "swiftfs/opts.h"
#include "swiftfs/fs_account.h"
#include "swiftfs/swift_auth.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"

static void fuse_log_to_ours(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	int l = level <= FUSE_LOG_ERR ? SWIFTFS_LOG_ERROR
		: level <= FUSE_LOG_WARNING ? SWIFTFS_LOG_WARNING
		: level <= FUSE_LOG_INFO ? SWIFTFS_LOG_INFO : SWIFTFS_LOG_DEBUG;
	LOG_AT(l, "fuse: %s", line);
}

static void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%sswiftfs: ", log_err_prefix());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Is path a mount point already (per /proc/self/mountinfo)? An autofs
 * trigger there is not: it is what x-systemd.automount puts there, and
 * the first access mounts us on it. */
static bool is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* field 5 is the mount point, with octal escapes for space etc. */
		char *s = line;
		for (int i = 0; i < 4 && s; i++) {
			s = strchr(s, ' ');
			if (s)
				s++;
		}
		if (!s)
			continue;
		char *e = strchr(s, ' ');
		if (!e)
			continue;
		*e = '\0';
		const char *sep = strstr(e + 1, " - ");
		if (sep && strncmp(sep + 3, "autofs ", 7) == 0)
			continue;
		char mp[PATH_MAX];
		size_t o = 0;
		for (char *p = s; *p && o + 1 < sizeof(mp); p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
				mp[o++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else {
				mp[o++] = *p;
			}
		}
		mp[o] = '\0';
		found = strcmp(mp, path) == 0;
	}
	fclose(f);
	return found;
}

static int check_mountpoint(const char *mp, char *resolved)
{
	struct stat st;
	unsigned fd;
	char end;
	/* mount.fuse3 -o drop_privileges mounts itself and hands over the
	 * /dev/fuse descriptor as /dev/fd/N (libfuse takes it from there) */
	if (sscanf(mp, "/dev/fd/%u%c", &fd, &end) == 1) {
		snprintf(resolved, PATH_MAX, "%s", mp);
		return 0;
	}
	if (stat(mp, &st) != 0) {
		if (errno == ENOTCONN)
			die_msg("mount point %s is a dead FUSE mount (its daemon exited): "
				"run 'fusermount3 -u %s' first", mp, mp);
		else if (errno == ENOENT)
			die_msg("mount point %s does not exist", mp);
		else
			die_msg("cannot use mount point %s: %s", mp, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		die_msg("mount point %s is not a directory", mp);
		return -1;
	}
	if (!realpath(mp, resolved)) {
		die_msg("cannot resolve mount point %s: %s", mp, strerror(errno));
		return -1;
	}
	if (is_mounted(resolved)) {
		die_msg("%s is already a mount point (unmount it first)", resolved);
		return -1;
	}
	return 0;
}

/* mkdir -p dir (mode 0700 for what it creates). */
static int mkdirs(const char *dir)
{
	char *p = strdup(dir);
	int rc = 0;
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				rc = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return rc;
}

/* The staging folder (and with the block cache, its folder) must exist
 * and be writable before any write. */
static int prepare_cache_dir(const char *cache_dir, const char *sub)
{
	char *dir = NULL;
	int rc = 0;
	if (asprintf(&dir, "%s/%s", cache_dir, sub) < 0)
		return -ENOMEM;
	rc = mkdirs(dir);
	if (!rc && access(dir, W_OK) != 0)
		rc = -errno;
	if (rc)
		die_msg("cannot use the cache folder %s: %s (choose another with -o cache_dir=DIR)",
			dir, strerror(-rc));
	free(dir);
	return rc;
}

/* Staged files left by earlier mounts: uploaded first when a writeback
 * record names them, else kept for the user (their paths are logged). */
static void report_staged(const char *cache_dir)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s/staging", cache_dir) < 0)
		return;
	DIR *d = opendir(dir);
	int kept = 0;
	for (struct dirent *de = d ? readdir(d) : NULL; de; de = readdir(d))
		kept += strncmp(de->d_name, "staged-", 7) == 0;
	if (d)
		closedir(d);
	if (kept)
		LOGW("%d file(s) of written data from earlier mounts are in %s (those closed under "
		     "-o writeback are uploaded now)", kept, dir);
	free(dir);
}

/* HEAD the container: the last check before mounting. */
static int check_container(struct swiftfs_client *c, const char *container)
{
	struct swiftfs_req r;
	char what[300];
	int rc;

	swift_req_init(&r, "HEAD");
	r.container = container;
	rc = swift_request(c, &r);
	if (rc == -ENOENT)
		die_msg("container '%s' not found (HTTP 404)", container);
	else if (rc == -EACCES)
		die_msg("access to container '%s' refused (HTTP %ld): the token is not valid "
			"for it or has expired", container, r.status);
	else if (rc) {
		swift_describe_error(&r, what, sizeof(what));
		die_msg("cannot reach container '%s': %s", container, what);
	}
	swift_req_cleanup(&r);
	return rc;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct swiftfs_opts o;
	struct swiftfs_auth *auth = NULL;
	struct swiftfs_client *client = NULL;
	struct swiftfs_fuse_ctx ctx = { 0 };
	struct fuse_session *se = NULL;
	struct swiftfs_life *life = NULL;
	char resolved[PATH_MAX];
	char msg[512] = "";
	int ret = 1;
	bool mounted = false;

	pthread_mutex_init(&ctx.hlock, NULL);
	if (opts_parse(&args, &o) != 0)
		goto out;
	if (o.show_help) {
		opts_print_help(argv[0]);
		ret = 0;
		goto out;
	}
	if (o.show_version) {
		printf("swiftfs %s (libfuse %s)\n", swiftfs_version, fuse_pkgversion());
		ret = 0;
		goto out;
	}
	log_set_level(o.log_level);
	fuse_set_log_func(fuse_log_to_ours);
	/* Read-ahead buffers (MiBs each) come from mmap and go back to the
	 * system when an open file is closed; glibc's adaptive threshold would
	 * otherwise keep them in per-thread arenas. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);

	if (check_mountpoint(o.mountpoint, resolved))
		goto out;
	if (!o.ro && prepare_cache_dir(o.cache_dir, "staging"))
		goto out;
	if (o.cache && prepare_cache_dir(o.cache_dir, "blocks"))
		goto out;
	if (!o.ro)
		report_staged(o.cache_dir);
	if (swift_auth_new(o.credentials, &auth, msg, sizeof(msg))) {
		die_msg("%s", msg);
		goto out;
	}
	if (o.insecure)
		LOGW("TLS certificate verification is OFF (-o insecure): anyone on the network "
		     "path can read and change your data and steal your token");
	struct swiftfs_client_cfg ccfg = {
		.cacert = o.cacert ? o.cacert : swift_auth_cacert(auth),
		.insecure = o.insecure,
		.connect_timeout = o.connect_timeout,
		.low_speed_time = o.stall_timeout,
		.retry_timeout = o.retry_timeout,
		.debug = o.debug,
	};
	if (swift_client_new(&ccfg, &client)) {
		die_msg("out of memory");
		goto out;
	}
	swift_client_set_auth(client, auth);
	if (swift_auth_login(auth, client, msg, sizeof(msg))) {
		die_msg("%s", msg);
		goto out;
	}
	if (!o.account && check_container(client, o.container))
		goto out;
	swift_client_stats_reset(client); /* count what the filesystem does */

	char fsname[600];
	snprintf(fsname, sizeof(fsname), "-ofsname=swiftfs:%s%s%s", o.account ? "/" : o.container,
		 o.prefix[0] ? "/" : "", o.prefix);
	/* commas would split the option: replace them in the displayed name */
	for (char *p = fsname + 9; *p; p++)
		if (*p == ',')
			*p = '_';
	/* modes come from object metadata that anyone who can write the
	 * container sets: setuid bits and device files are never honoured
	 * (last, over the dev,suid that mount.fuse3 adds to fstab mounts) */
	if (fuse_opt_add_arg(&args, fsname) || fuse_opt_add_arg(&args, "-osubtype=swiftfs") ||
	    fuse_opt_add_arg(&args, "-odefault_permissions") ||
	    fuse_opt_add_arg(&args, "-onosuid,nodev")) {
		die_msg("out of memory");
		goto out;
	}
	if (o.debug && fuse_opt_add_arg(&args, "-odebug")) {
		die_msg("out of memory");
		goto out;
	}
	ctx.readonly = o.ro;
	ctx.kernel_read_ahead = o.kernel_read_ahead;
	se = fuse_session_new(&args, fs_ops_get(), sizeof(struct fuse_lowlevel_ops), &ctx);
	if (!se) {
		die_msg("could not create the FUSE session (bad mount options?)");
		goto out;
	}
	ctx.se = se;
	/* from here on TERM, INT and HUP wait for the signal thread */
	if (lifecycle_block_signals() != 0) {
		die_msg("could not set up signal handling");
		goto out;
	}
	if (fuse_session_mount(se, resolved) != 0) {
		die_msg("mounting on %s failed (is /dev/fuse there and fuse3 installed?)", resolved);
		goto out;
	}
	mounted = true;
	if (o.kernel_read_ahead) {
		/* fewer, larger read requests from the kernel (it offers 128K
		 * at most at init; only its bdi setting goes higher) */
		int ra = util_set_read_ahead(resolved, o.kernel_read_ahead);
		if (ra)
			LOGD("could not set the kernel read-ahead of %s: %s", resolved,
			     strerror(-ra));
	}
	if (fuse_daemonize(o.foreground) != 0) {
		die_msg("could not daemonize");
		goto out;
	}
	if (!o.foreground)
		log_use_syslog(true);
	swift_auth_start(auth); /* Keystone renewals, off the FUSE threads */
	if (o.account ? fs_account_new(&o, client, &ctx.acct) : fs_new(&o, client, &ctx.fs)) {
		LOGE("could not start the filesystem: out of memory or threads");
		goto out;
	}
	char what[600];
	snprintf(what, sizeof(what), "%s%s%s", o.account ? "the account" : o.container,
		 o.prefix[0] ? "/" : "", o.prefix);
	LOGI("mounted %s on %s", what, resolved);
	struct swiftfs_life_cfg life_cfg = {
		.se = se, .fs = ctx.fs, .acct = ctx.acct, .auth = auth, .client = client,
		.mountpoint = resolved, .what = what,
		.drain_timeout = o.drain_timeout, .foreground = o.foreground,
	};
	if (lifecycle_start(&life_cfg, &life)) {
		LOGE("could not start the signal thread");
		goto out;
	}

	struct fuse_loop_config lcfg = { .clone_fd = 0, .max_idle_threads = 16 };
	ret = fuse_session_loop_mt(se, &lcfg) == 0 ? 0 : 1;
	lifecycle_finish(life);
out:
	if (se) {
		if (mounted)
			lifecycle_unmount(se);
		fuse_session_destroy(se);
	}
	lifecycle_free(life);
	fs_ops_close_all(&ctx); /* handles the kernel never released */
	if (ctx.fs) {
		fs_log_stats(ctx.fs);
		fs_free(ctx.fs);
	}
	if (ctx.acct) {
		fs_account_log_stats(ctx.acct);
		fs_account_free(ctx.acct);
	}
	swift_auth_stop(auth); /* its renewal thread uses the client */
	swift_client_free(client);
	swift_auth_free(auth);
	opts_free(&o);
	fuse_opt_free_args(&args);
	return ret;
}
