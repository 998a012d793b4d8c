/* Option parsing. Every swiftfs option is handled in opt_proc() from one
 * table (name, kind, field), so each value is validated at once and a bad
 * one is reported with its name. Unknown options are an error, except
 * libfuse's own mount options, which are passed on, and the words fstab
 * and systemd put in the options field, which are dropped. */
#include "swiftfs/opts.h"

#include <ctype.h>
#include <errno.h>
#include <fuse_opt.h>
#include <pwd.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swiftfs/log.h"
#include "swiftfs/util.h"

enum opt_kind { OK_FLAG, OK_SECONDS, OK_SIZE, OK_UINT, OK_UID, OK_GID, OK_MODE, OK_STRING, OK_LOGLEVEL,
	OK_STRING_EMPTY /* may be given empty */ };

struct opt_spec {
	const char *name;
	enum opt_kind kind;
	size_t off;
};

#define F(field) offsetof(struct swiftfs_opts, field)
static const struct opt_spec specs[] = {
	{ "ro", OK_FLAG, F(ro) },
	{ "allow_other", OK_FLAG, F(allow_other) },
	{ "insecure", OK_FLAG, F(insecure) },
	{ "exact_attrs", OK_FLAG, F(exact_attrs) },
	{ "uid", OK_UID, F(uid) },
	{ "gid", OK_GID, F(gid) },
	{ "umask", OK_MODE, F(umask) },
	{ "cacert", OK_STRING, F(cacert) },
	{ "credentials", OK_STRING, F(credentials) },
	{ "attr_timeout", OK_SECONDS, F(attr_timeout) },
	{ "entry_timeout", OK_SECONDS, F(entry_timeout) },
	{ "negative_timeout", OK_SECONDS, F(negative_timeout) },
	{ "retry_timeout", OK_SECONDS, F(retry_timeout) },
	{ "connect_timeout", OK_SECONDS, F(connect_timeout) },
	{ "stall_timeout", OK_SECONDS, F(stall_timeout) },
	{ "drain_timeout", OK_SECONDS, F(drain_timeout) },
	{ "listing_lag", OK_SECONDS, F(listing_lag) },
	{ "cache_dir", OK_STRING, F(cache_dir) },
	{ "segment_size", OK_SIZE, F(segment_size) },
	{ "read_chunk", OK_SIZE, F(read_chunk) },
	{ "read_ahead", OK_SIZE, F(read_ahead) },
	{ "kernel_read_ahead", OK_SIZE, F(kernel_read_ahead) },
	{ "workers", OK_UINT, F(workers) },
	{ "cache", OK_STRING, F(cache_mode) },
	{ "block_size", OK_SIZE, F(block_size) },
	{ "cache_size", OK_SIZE, F(cache_size) },
	{ "small_file", OK_SIZE, F(small_file) },
	{ "writeback", OK_FLAG, F(writeback) },
	{ "temp_names", OK_STRING_EMPTY, F(temp_names) },
	{ "log_level", OK_LOGLEVEL, F(log_level) },
	/* xattrs (fs_xattr.c) */
	{ "tempurl_ttl", OK_SECONDS, F(tempurl_ttl) },
	/* the hidden versions tree (fs_versions.c) */
	{ "versions_dir", OK_STRING_EMPTY, F(versions_dir) },
	{ "noversions_dir", OK_FLAG, F(noversions_dir) },
	/* account mounts (fs_account.c) */
	{ "storage_policy", OK_STRING, F(storage_policy) },
};
#undef F

/* Options libfuse applies to the mount itself: passed through. */
static const char *const fuse_passthrough[] = {
	"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "atime",
	"noatime", "nodiratime", "relatime", "strictatime", "sync", "async",
	"dirsync", "allow_other", "allow_root", "auto_unmount", "default_permissions",
	"fsname=", "subtype=", "max_read=", "context=", "fscontext=", "defcontext=",
	"rootcontext=",
};
/* Words from fstab / mount(8) / systemd that mean nothing to us
 * (libmount adds user=NAME and symfollow to a `user`/`users` line's
 * helper options; atime words only matter to disk filesystems). */
static const char *const dropped[] = {
	"_netdev", "nofail", "auto", "noauto", "user", "user=", "nouser", "users", "nousers",
	"owner", "noowner", "group", "nogroup", "defaults", "x-systemd.", "x-", "comment=",
	"noatime_ignored", "nonempty", "loud", "silent", "symfollow", "nosymfollow",
	"diratime", "norelatime", "nostrictatime", "lazytime", "nolazytime", "iversion",
	"noiversion",
};

enum { KEY_HELP = 1, KEY_VERSION, KEY_FOREGROUND, KEY_DEBUG, KEY_SINGLE };

static const struct fuse_opt fuse_table[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	FUSE_OPT_END,
};

struct parse_state {
	struct swiftfs_opts *o;
	int nonopt;
	int failed;
};

static bool word_matches(const char *arg, const char *word)
{
	size_t n = strlen(word);
	if (word[n - 1] == '=' || word[n - 1] == '.' || word[n - 1] == '-')
		return strncmp(arg, word, n) == 0;
	return strcmp(arg, word) == 0;
}

/* A numeric uid or gid: decimal (uid=010 is 10, not octal 8), below
 * (uid_t)-1, which means "no change" to the kernel. */
static int parse_id(const char *val, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(val, &end, 10);
	if (errno || *end != '\0' || v >= (unsigned long)(uid_t)-1)
		return -EINVAL;
	*out = v;
	return 0;
}

static int set_value(struct swiftfs_opts *o, const struct opt_spec *s, const char *val)
{
	void *field = (char *)o + s->off;
	unsigned long ul;
	uint64_t u64;
	double d;
	int rc = 0;

	switch (s->kind) {
	case OK_FLAG:
		if (val)
			return -EINVAL;
		*(int *)field = 1;
		return 0;
	case OK_SECONDS:
		rc = val ? util_parse_seconds(val, &d) : -EINVAL;
		if (!rc)
			*(double *)field = d;
		return rc;
	case OK_SIZE:
		rc = val ? util_parse_size(val, &u64) : -EINVAL;
		if (!rc)
			*(uint64_t *)field = u64;
		return rc;
	case OK_UINT:
		rc = val ? util_parse_uint(val, &ul) : -EINVAL;
		if (!rc)
			*(unsigned long *)field = ul;
		return rc;
	case OK_UID:
		if (!val)
			return -EINVAL;
		if (isdigit((unsigned char)val[0])) {
			if (parse_id(val, &ul))
				return -EINVAL;
			*(uid_t *)field = (uid_t)ul;
			return 0;
		} else {
			struct passwd *pw = getpwnam(val);
			if (!pw)
				return -EINVAL;
			*(uid_t *)field = pw->pw_uid;
			return 0;
		}
	case OK_GID:
		if (!val)
			return -EINVAL;
		if (isdigit((unsigned char)val[0])) {
			if (parse_id(val, &ul))
				return -EINVAL;
			*(gid_t *)field = (gid_t)ul;
			return 0;
		} else {
			struct group *gr = getgrnam(val);
			if (!gr)
				return -EINVAL;
			*(gid_t *)field = gr->gr_gid;
			return 0;
		}
	case OK_MODE: {
		char *end;
		if (!val || !*val)
			return -EINVAL;
		ul = strtoul(val, &end, 8);
		if (*end || ul > 0777)
			return -EINVAL;
		*(mode_t *)field = (mode_t)ul;
		o->have_umask = true;
		return 0;
	}
	case OK_STRING:
		if (!val || !*val)
			return -EINVAL;
		free(*(char **)field);
		*(char **)field = strdup(val);
		return *(char **)field ? 0 : -ENOMEM;
	case OK_STRING_EMPTY:
		if (!val)
			return -EINVAL;
		free(*(char **)field);
		*(char **)field = strdup(val);
		return *(char **)field ? 0 : -ENOMEM;
	case OK_LOGLEVEL:
		if (!val || log_parse_level(val) < 0)
			return -EINVAL;
		*(int *)field = log_parse_level(val);
		return 0;
	}
	return -EINVAL;
}

static int handle_option(struct parse_state *st, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);

	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		if (strlen(specs[i].name) != nlen || strncmp(arg, specs[i].name, nlen) != 0)
			continue;
		if (set_value(st->o, &specs[i], eq ? eq + 1 : NULL)) {
			if (specs[i].kind == OK_FLAG)
				fprintf(stderr, "%sswiftfs: option '%s' takes no value\n",
					log_err_prefix(), specs[i].name);
			else
				fprintf(stderr, "%sswiftfs: invalid value for option '%s': '%s'\n",
					log_err_prefix(),
					specs[i].name, eq ? eq + 1 : "");
			st->failed = 1;
			return 0;
		}
		/* ro and allow_other also go to the mount */
		return (strcmp(specs[i].name, "ro") == 0 ||
			strcmp(specs[i].name, "allow_other") == 0) ? 1 : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dropped); i++)
		if (word_matches(arg, dropped[i]))
			return 0;
	for (size_t i = 0; i < ARRAY_SIZE(fuse_passthrough); i++)
		if (word_matches(arg, fuse_passthrough[i]))
			return 1;
	fprintf(stderr, "%sswiftfs: unknown option '%s' (see swiftfs --help)\n",
		log_err_prefix(), arg);
	st->failed = 1;
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse_state *st = data;
	(void)outargs;

	switch (key) {
	case KEY_HELP:
		st->o->show_help = 1;
		return 0;
	case KEY_VERSION:
		st->o->show_version = 1;
		return 0;
	case KEY_FOREGROUND:
		st->o->foreground = 1;
		return 0;
	case KEY_DEBUG:
		st->o->debug = 1;
		st->o->foreground = 1;
		return 0;
	case KEY_SINGLE:
		return 0;
	case FUSE_OPT_KEY_OPT:
		if (arg[0] == '-') {
			fprintf(stderr, "%sswiftfs: unknown option '%s' (see swiftfs --help)\n",
				log_err_prefix(), arg);
			st->failed = 1;
			return 0;
		}
		return handle_option(st, arg);
	case FUSE_OPT_KEY_NONOPT:
		if (st->nonopt == 0) {
			st->o->source = strdup(arg);
		} else if (st->nonopt == 1) {
			st->o->mountpoint = strdup(arg);
		} else {
			fprintf(stderr, "%sswiftfs: unexpected argument '%s'\n",
				log_err_prefix(), arg);
			st->failed = 1;
		}
		st->nonopt++;
		return 0;
	}
	return 1;
}

int opts_split_source(const char *source, char **container, char **prefix,
		      char *msg, size_t msglen)
{
	const char *s = source;
	const char *slash;
	size_t clen;

	while (*s == '/')
		s++;
	slash = strchr(s, '/');
	clen = slash ? (size_t)(slash - s) : strlen(s);
	if (clen == 0) {
		snprintf(msg, msglen, "no container named in '%s' (expected CONTAINER[/PREFIX])",
			 source);
		return -EINVAL;
	}
	if (clen > 256) {
		snprintf(msg, msglen, "container name longer than 256 bytes");
		return -EINVAL;
	}
	*container = strndup(s, clen);
	const char *p = slash ? slash + 1 : "";
	size_t plen = strlen(p);
	while (plen && p[plen - 1] == '/')
		plen--;
	*prefix = strndup(p, plen);
	if (!*container || !*prefix)
		return -ENOMEM;
	/* reject empty, "." and ".." segments in the prefix */
	for (const char *seg = *prefix; *seg;) {
		const char *e = strchr(seg, '/');
		size_t n = e ? (size_t)(e - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			snprintf(msg, msglen, "invalid prefix '%s': empty, '.' or '..' segment", *prefix);
			return -EINVAL;
		}
		seg += n;
		if (*seg == '/')
			seg++;
	}
	return 0;
}

int opts_parse(struct fuse_args *args, struct swiftfs_opts *o)
{
	struct parse_state st = { .o = o };
	char msg[256];

	memset(o, 0, sizeof(*o));
	o->uid = getuid();
	o->gid = getgid();
	o->attr_timeout = 5.0;
	o->entry_timeout = 5.0;
	o->negative_timeout = 2.0;
	o->retry_timeout = 30.0;
	o->connect_timeout = 10.0;
	o->stall_timeout = 30.0;
	o->drain_timeout = 60.0;
	o->listing_lag = -1.0;
	o->segment_size = 64ULL << 20;
	o->read_chunk = 8ULL << 20;
	o->read_ahead = 24ULL << 20;
	o->workers = 4;
	o->block_size = 4ULL << 20;
	o->small_file = 1ULL << 20;
	o->log_level = -1;
	o->tempurl_ttl = 86400;
	o->versions_dir = strdup(".versions");
	o->temp_names = strdup(SWIFTFS_TEMP_NAMES);

	if (fuse_opt_parse(args, &st, fuse_table, opt_proc) == -1)
		return -EINVAL;
	if (st.failed)
		return -EINVAL;
	if (o->show_help || o->show_version)
		return 0;
	if (!o->source || !o->mountpoint) {
		fprintf(stderr, "%sswiftfs: usage: swiftfs [-f] [-d] [-o OPT[,OPT...]] "
				"CONTAINER[/PREFIX] MOUNTPOINT (see --help)\n", log_err_prefix());
		return -EINVAL;
	}
	if (o->source[strspn(o->source, "/")] == '\0') {
		/* "/": the whole account (fs_account.c) */
		o->account = 1;
		o->container = strdup("");
		o->prefix = strdup("");
		if (!o->container || !o->prefix)
			return -ENOMEM;
	} else if (opts_split_source(o->source, &o->container, &o->prefix, msg, sizeof(msg))) {
		fprintf(stderr, "%sswiftfs: %s\n", log_err_prefix(), msg);
		return -EINVAL;
	}
	if (!o->versions_dir || !o->temp_names) {
		fprintf(stderr, "%sswiftfs: out of memory\n", log_err_prefix());
		return -ENOMEM;
	}
	if (strchr(o->versions_dir, '/') || strcmp(o->versions_dir, ".") == 0 ||
	    strcmp(o->versions_dir, "..") == 0 || strlen(o->versions_dir) > 255) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'versions_dir': one file name, "
				"or empty to turn the versions tree off\n", log_err_prefix());
		return -EINVAL;
	}
	if (o->tempurl_ttl < 1) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'tempurl_ttl': at least 1 second\n",
			log_err_prefix());
		return -EINVAL;
	}
	if (o->read_chunk < 64 * 1024 || o->read_chunk > (256ULL << 20)) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'read_chunk': "
				"must be between 64K and 256M\n", log_err_prefix());
		return -EINVAL;
	}
	if (o->segment_size < (1ULL << 20) || o->segment_size > (5ULL << 30)) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'segment_size': "
				"must be between 1M and 5G\n", log_err_prefix());
		return -EINVAL;
	}
	if (!o->cache_dir) {
		const char *xdg = getenv("XDG_CACHE_HOME");
		const char *home = getenv("HOME");
		int n;
		if (getuid() == 0)
			n = asprintf(&o->cache_dir, "/var/cache/swiftfs");
		else if (xdg && *xdg)
			n = asprintf(&o->cache_dir, "%s/swiftfs", xdg);
		else if (home && *home)
			n = asprintf(&o->cache_dir, "%s/.cache/swiftfs", home);
		else
			n = asprintf(&o->cache_dir, "/tmp/swiftfs-%u", (unsigned)getuid());
		if (n < 0) {
			o->cache_dir = NULL;
			return -ENOMEM;
		}
	}
	/* the daemon works from / (fuse_daemonize): relative paths are the
	 * caller's, made absolute now */
	char **paths[] = { &o->cache_dir, &o->credentials, &o->cacert };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *p = *paths[i], *abs = NULL;
		if (!p || !*p || p[0] == '/')
			continue;
		int rc = util_abs_path(p, &abs);
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			fprintf(stderr, "%sswiftfs: cannot make '%s' absolute: %s\n",
				log_err_prefix(), p, strerror(-rc));
			return -EINVAL;
		}
		free(p);
		*paths[i] = abs;
	}
	if (o->stall_timeout < 1) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'stall_timeout': at least 1\n",
			log_err_prefix());
		return -EINVAL;
	}
	if (o->connect_timeout < 0.001) {
		/* curl takes 0 for its own default, 300 s */
		fprintf(stderr, "%sswiftfs: invalid value for option 'connect_timeout': it must be "
			"more than 0\n", log_err_prefix());
		return -EINVAL;
	}
	if (o->kernel_read_ahead > (1ULL << 30)) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'kernel_read_ahead': at most 1G\n",
			log_err_prefix());
		return -EINVAL;
	}
	if (o->read_ahead > (1ULL << 30)) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'read_ahead': at most 1G\n",
			log_err_prefix());
		return -EINVAL;
	}
	if (o->workers < 1 || o->workers > 64) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'workers': 1 to 64\n",
			log_err_prefix());
		return -EINVAL;
	}
	o->cache = !o->cache_mode || strcmp(o->cache_mode, "on") == 0;
	if (o->cache_mode && !o->cache && strcmp(o->cache_mode, "off") != 0) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'cache': on or off\n",
			log_err_prefix());
		return -EINVAL;
	}
	if (o->block_size < 64 * 1024 || o->block_size > (64ULL << 20) ||
	    (o->block_size & (o->block_size - 1))) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'block_size': "
				"a power of two between 64K and 64M\n", log_err_prefix());
		return -EINVAL;
	}
	if (o->cache && o->read_chunk % o->block_size) {
		/* a read-ahead GET fetches whole blocks */
		o->read_chunk = (o->read_chunk + o->block_size - 1) / o->block_size * o->block_size;
		fprintf(stderr, "%sswiftfs: read_chunk rounded up to %lluK, a multiple of "
				"block_size (%lluK)\n",
				log_err_prefix(), (unsigned long long)(o->read_chunk >> 10),
			(unsigned long long)(o->block_size >> 10));
	}
	if (o->cache_size && o->cache_size < 4 * o->block_size) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'cache_size': at least 4 "
				"blocks, %lluK with block_size=%lluK\n", log_err_prefix(),
			(unsigned long long)(4 * o->block_size >> 10),
			(unsigned long long)(o->block_size >> 10));
		return -EINVAL;
	}
	if (o->small_file > (64ULL << 20)) {
		fprintf(stderr, "%sswiftfs: invalid value for option 'small_file': at most 64M\n",
			log_err_prefix());
		return -EINVAL;
	}
	if (o->log_level < 0)
		o->log_level = o->debug ? SWIFTFS_LOG_DEBUG : SWIFTFS_LOG_INFO;
	return 0;
}

void opts_free(struct swiftfs_opts *o)
{
	free(o->source);
	free(o->container);
	free(o->prefix);
	free(o->mountpoint);
	free(o->cacert);
	free(o->credentials);
	free(o->cache_dir);
	free(o->cache_mode);
	free(o->versions_dir);
	free(o->temp_names);
	free(o->storage_policy);
	memset(o, 0, sizeof(*o));
}

void opts_print_help(const char *progname)
{
	printf("usage: %s [-f] [-d] [-o OPT[,OPT...]] CONTAINER[/PREFIX]|/ MOUNTPOINT\n"
	       "\n"
	       "Mount an OpenStack Swift container (or a prefix inside it) as a directory.\n"
	       "\n"
	       "Credentials (environment, or the same KEY=VALUE lines in -o credentials=FILE):\n"
	       "    ST_AUTH, ST_USER, ST_KEY          TempAuth / v1.0 authentication\n"
	       "    OS_STORAGE_URL, OS_AUTH_TOKEN     a pre-authenticated token\n"
	       "    OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME\n"
	       "        (OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME,\n"
	       "        OS_INTERFACE, OS_STORAGE_URL)  Keystone v3 password\n"
	       "    OS_AUTH_URL, OS_APPLICATION_CREDENTIAL_ID, _SECRET\n"
	       "                                      Keystone v3 application credential\n"
	       "\n"
	       "General options:\n"
	       "    -h, --help             print this help and exit\n"
	       "    -V, --version          print the version and exit\n"
	       "    -f                     stay in the foreground, log to stderr\n"
	       "    -d, -o debug           foreground, debug logging and FUSE request tracing\n"
	       "\n"
	       "Mount options (-o):\n"
	       "    ro                     read-only mount\n"
	       "    uid=N|NAME, gid=N|NAME owner shown for every entry (default: the caller)\n"
	       "    umask=NNN              octal umask applied to 0777 (default 022)\n"
	       "    allow_other            let other users access the mount\n"
	       "    credentials=FILE       KEY=VALUE credentials file (mode 0600 or stricter)\n"
	       "    cacert=FILE            CA bundle to verify the server with\n"
	       "    insecure               do NOT verify TLS certificates (dangerous)\n"
	       "    exact_attrs            stat of every file shows its stored mtime, mode and\n"
	       "                           owner (one HEAD per file, as rclone does); default:\n"
	       "                           listings give ls -l the server's time, no HEAD\n"
	       "    attr_timeout=SECS      attribute cache lifetime (default 5)\n"
	       "    entry_timeout=SECS     name and directory listing cache lifetime (default 5)\n"
	       "    negative_timeout=SECS  cache lifetime of \"no such file\" (default 2)\n"
	       "    listing_lag=SECS       how long changes made through this mount override\n"
	       "                           listings that do not show them yet (default\n"
	       "                           10 x entry_timeout, at least 60)\n"
	       "    retry_timeout=SECS     give up retrying one request after this (default 30)\n"
	       "    connect_timeout=SECS   TCP/TLS connect timeout (default 10)\n"
	       "    stall_timeout=SECS     give up a transfer that moved no byte this long\n"
	       "                           (20 x for a COPY; default 30)\n"
	       "    drain_timeout=SECS     on SIGTERM or unmount, wait at most this long for\n"
	       "                           uploads and open files with unsaved data (default 60)\n"
	       "    cache_dir=DIR          staging folder for written data (default\n"
	       "                           /var/cache/swiftfs as root, else $XDG_CACHE_HOME/swiftfs)\n"
	       "    segment_size=SIZE      files larger than this are uploaded as SLO segments\n"
	       "                           of this size (default 64M)\n"
	       "    read_chunk=SIZE        bytes per ranged GET when reading ahead (default 8M)\n"
	       "    read_ahead=SIZE        most bytes read ahead per open file (default 24M)\n"
	       "    kernel_read_ahead=SIZE the kernel's read-ahead on the mount, as root\n"
	       "                           (default 0: leave the kernel's, 128K)\n"
	       "    workers=N              parallel transfer threads (default 4)\n"
	       "    cache=on|off           persistent block cache in cache_dir/blocks (default on)\n"
	       "    block_size=SIZE        block cache block size (default 4M)\n"
	       "    cache_size=SIZE        most bytes the block cache keeps on disk (default\n"
	       "                           10%% of the cache folder's file system, at most 10G)\n"
	       "    small_file=SIZE        objects up to this size are read whole in one GET\n"
	       "                           at open (default 1M; 0 turns it off)\n"
	       "    writeback              close() returns once the data is staged and journaled\n"
	       "                           on local disk; uploads follow in the background\n"
	       "                           (fsync() still waits for Swift)\n"
	       "    temp_names=PAT[:PAT]   names of temporary files that are renamed right\n"
	       "                           after close: their close() journals the data and\n"
	       "                           the upload waits 0.5 s for the rename, which then\n"
	       "                           uploads it once under the final name (default\n"
	       "                           " SWIFTFS_TEMP_NAMES "; empty: none)\n"
	       "    log_level=LEVEL        error, warning, info (default) or debug\n"
	       "    tempurl_ttl=SECS       lifetime of the TempURLs user.swift.tempurl gives\n"
	       "                           (default 86400)\n"
	       "    versions_dir=NAME      hidden read-only tree of earlier object versions at\n"
	       "                           the mount root (default .versions; empty: none)\n"
	       "    noversions_dir         no versions tree\n"
	       "    storage_policy=NAME    account mounts (source /): policy of the containers\n"
	       "                           mkdir creates (default: the cluster's default)\n"
	       "\n"
	       "Sizes take K, M, G suffixes (powers of 1024). fstab words (_netdev, nofail,\n"
	       "auto, noauto, user, users, x-systemd.*) are accepted and ignored.\n",
	       progname);
}
