/* Command line: `swiftfs [-f] [-d] [-o OPT,...] CONTAINER[/PREFIX] MOUNTPOINT`.
 * One struct filled by a fuse_opt table. Values are checked here so that
 * a malformed option fails before anything touches the network, with a
 * message naming the option. Options libfuse itself understands (ro,
 * allow_other, nosuid, ...) are passed on to the mount in `fuse_args`;
 * fstab-only words (_netdev, nofail, x-systemd.*, ...) are dropped. */
#ifndef SWIFTFS_OPTS_H
#define SWIFTFS_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Temporary files renamed right after close (-o temp_names=): zarr's
 * NAME.<hex>.partial, rsync's .NAME.XXXXXX, and *.tmp. */
#define SWIFTFS_TEMP_NAMES "*.partial:.*.??????:*.tmp"

struct fuse_args;

struct swiftfs_opts {
	char *source;      /* CONTAINER[/PREFIX] as given */
	char *container;   /* container name */
	char *prefix;      /* "" or "a/b" (no leading or trailing slash) */
	char *mountpoint;  /* absolute path */

	int foreground;
	int debug;
	int ro;
	int allow_other;
	int insecure;
	int exact_attrs;
	int show_help;
	int show_version;

	uid_t uid;
	gid_t gid;
	mode_t umask;
	bool have_umask;

	char *cacert;
	char *credentials; /* path of a KEY=VALUE file */

	double attr_timeout;
	double entry_timeout;
	double negative_timeout;
	double retry_timeout;  /* overall deadline of one operation's retries */
	double connect_timeout;
	double stall_timeout;  /* a transfer with no byte for this long is given up */
	double drain_timeout;  /* at a stop, wait this long for uploads */
	double listing_lag;    /* own changes override listings this long; < 0: automatic */

	char *cache_dir;       /* staging (and later the block cache) */
	uint64_t segment_size; /* larger files become SLOs of such segments */
	uint64_t read_chunk;   /* bytes per ranged GET while reading ahead */
	uint64_t read_ahead;   /* most bytes read ahead per open file */
	uint64_t kernel_read_ahead; /* the mount's read_ahead_kb (root); 0: the kernel's */
	unsigned long workers; /* background transfer threads */
	char *cache_mode;      /* "on" (default) or "off": the block cache */
	bool cache;            /* cache_mode is on */
	uint64_t block_size;   /* block cache block size */
	uint64_t cache_size;   /* bound of the block cache; 0: automatic */
	uint64_t small_file;   /* objects up to this come whole in one GET at open */
	int writeback;         /* close() returns once data is staged (journaled) */
	char *temp_names;      /* ':'-separated fnmatch patterns: see fs_temp_name_p() */

	int log_level;

	/* xattrs (fs_xattr.c) */
	double tempurl_ttl;    /* seconds a user.swift.tempurl URL is valid */
	/* the hidden versions tree (fs_versions.c) */
	char *versions_dir;    /* "" turns it off */
	int noversions_dir;
	/* account mounts (source "/", fs_account.c) */
	int account;           /* container and prefix are "" */
	char *storage_policy;  /* X-Storage-Policy of containers mkdir makes */
};

/* Fill o with defaults, parse args (argv as given to main). The options
 * for libfuse's mount stay in args. Returns 0, or -EINVAL after printing
 * one clear line to stderr. */
int opts_parse(struct fuse_args *args, struct swiftfs_opts *o);
void opts_free(struct swiftfs_opts *o);
void opts_print_help(const char *progname);

/* Split "CONTAINER[/PREFIX]" into o->container and o->prefix, rejecting
 * empty or illegal container names. 0 or -EINVAL with msg filled. */
int opts_split_source(const char *source, char **container, char **prefix,
		      char *msg, size_t msglen);

#endif
