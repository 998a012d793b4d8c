/* opts: the fuse_opt table, values with units, fstab words, errors. */
#include "check.h"

#include <errno.h>
#include <fuse_opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "swiftfs/log.h"
#include "swiftfs/opts.h"

static int parse(int argc, char **argv, struct swiftfs_opts *o, struct fuse_args *args)
{
	struct fuse_args a = FUSE_ARGS_INIT(argc, argv);
	*args = a;
	return opts_parse(args, o);
}

static bool has_arg(struct fuse_args *a, const char *s)
{
	for (int i = 0; i < a->argc; i++)
		if (strstr(a->argv[i], s))
			return true;
	return false;
}

int main(void)
{
	struct swiftfs_opts o;
	struct fuse_args args;
	char *v1[] = { "swiftfs", "-o", "ro,uid=1000,gid=0,umask=027,attr_timeout=1.5,"
		       "read_chunk=8M,_netdev,nofail,x-systemd.automount,noauto,user,users,"
		       "allow_other,nosuid,log_level=debug,user=alice,symfollow,nousers,"
		       "norelatime", "cont/a/b/", "/mnt", NULL };
	CHECK_INT(parse(5, v1, &o, &args), 0);
	CHECK_STR(o.container, "cont");
	CHECK_STR(o.prefix, "a/b");
	CHECK_STR(o.mountpoint, "/mnt");
	CHECK_INT(o.ro, 1);
	CHECK_INT(o.uid, 1000);
	CHECK_INT(o.gid, 0);
	CHECK_INT(o.umask, 027);
	CHECK(o.attr_timeout == 1.5);
	CHECK_INT(o.read_chunk, 8 << 20);
	CHECK_INT(o.allow_other, 1);
	CHECK_INT(o.log_level, SWIFTFS_LOG_DEBUG);
	CHECK(has_arg(&args, "nosuid"));
	CHECK(has_arg(&args, "allow_other"));
	CHECK(!has_arg(&args, "_netdev"));
	CHECK(!has_arg(&args, "x-systemd"));
	CHECK(!has_arg(&args, "user=alice"));
	CHECK(!has_arg(&args, "symfollow"));
	opts_free(&o);
	fuse_opt_free_args(&args);

	/* ids are decimal and in range; times are finite */
	char *vid[] = { "swiftfs", "-o", "uid=010,gid=20", "cont", "/mnt", NULL };
	CHECK_INT(parse(5, vid, &o, &args), 0);
	CHECK_INT(o.uid, 10);
	CHECK_INT(o.gid, 20);
	opts_free(&o);
	fuse_opt_free_args(&args);
	const char *bad[] = { "uid=4294967296", "gid=4294967295", "connect_timeout=inf",
			      "attr_timeout=1e300" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *vb[] = { "swiftfs", "-o", (char *)bad[i], "cont", "/mnt", NULL };
		CHECK(parse(5, vb, &o, &args) != 0);
		opts_free(&o);
		fuse_opt_free_args(&args);
	}

	/* relative paths are the caller's: made absolute before the daemon
	 * goes to / (fuse_daemonize) */
	char *vr[] = { "swiftfs", "-o", "cache_dir=rc,credentials=sub/c.env,cacert=/etc/ca.pem",
		       "cont", "/mnt", NULL };
	CHECK_INT(parse(5, vr, &o, &args), 0);
	char cwd[4096], want[4200];
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(want, sizeof(want), "%s/rc", cwd);
	CHECK_STR(o.cache_dir, want);
	snprintf(want, sizeof(want), "%s/sub/c.env", cwd);
	CHECK_STR(o.credentials, want);
	CHECK_STR(o.cacert, "/etc/ca.pem");
	opts_free(&o);
	fuse_opt_free_args(&args);

	/* xattrs, the versions tree, account mounts */
	CHECK(o.tempurl_ttl == 0); /* opts_free cleared it */
	char *va[] = { "swiftfs", "-o", "tempurl_ttl=2,versions_dir=.snap,storage_policy=gold", "/",
		       "/mnt", NULL };
	CHECK_INT(parse(5, va, &o, &args), 0);
	CHECK_INT(o.account, 1);
	CHECK_STR(o.container, "");
	CHECK_STR(o.prefix, "");
	CHECK(o.tempurl_ttl == 2);
	CHECK_STR(o.versions_dir, ".snap");
	CHECK_STR(o.storage_policy, "gold");
	opts_free(&o);
	fuse_opt_free_args(&args);
	char *vb[] = { "swiftfs", "-o", "versions_dir=", "c", "/mnt", NULL };
	CHECK_INT(parse(5, vb, &o, &args), 0);
	CHECK_INT(o.account, 0);
	CHECK_STR(o.versions_dir, "");
	CHECK(o.tempurl_ttl == 86400);
	opts_free(&o);
	fuse_opt_free_args(&args);
	char *vc[] = { "swiftfs", "c", "/mnt", NULL };
	CHECK_INT(parse(3, vc, &o, &args), 0);
	CHECK_STR(o.versions_dir, ".versions");
	opts_free(&o);
	fuse_opt_free_args(&args);
	char *vd[] = { "swiftfs", "-o", "versions_dir=a/b", "c", "/mnt", NULL };
	CHECK_INT(parse(5, vd, &o, &args), -EINVAL);
	opts_free(&o);
	fuse_opt_free_args(&args);
	char *ve[] = { "swiftfs", "-o", "tempurl_ttl=0", "c", "/mnt", NULL };
	CHECK_INT(parse(5, ve, &o, &args), -EINVAL);
	opts_free(&o);
	fuse_opt_free_args(&args);

	char *v2[] = { "swiftfs", "-o", "attr_timeout=soon", "c", "/mnt", NULL };
	CHECK_INT(parse(5, v2, &o, &args), -EINVAL);
	opts_free(&o);
	fuse_opt_free_args(&args);

	char *v3[] = { "swiftfs", "-o", "read_chunk=12Q", "c", "/mnt", NULL };
	CHECK_INT(parse(5, v3, &o, &args), -EINVAL);
	opts_free(&o);
	fuse_opt_free_args(&args);

	char *v4[] = { "swiftfs", "-o", "frobnicate", "c", "/mnt", NULL };
	CHECK_INT(parse(5, v4, &o, &args), -EINVAL);
	opts_free(&o);
	fuse_opt_free_args(&args);

	char *v5[] = { "swiftfs", "c", NULL };
	CHECK_INT(parse(2, v5, &o, &args), -EINVAL);
	opts_free(&o);
	fuse_opt_free_args(&args);

	char *v6[] = { "swiftfs", "-f", "-o", "umask=999", "c", "/mnt", NULL };
	CHECK_INT(parse(6, v6, &o, &args), -EINVAL);
	opts_free(&o);
	fuse_opt_free_args(&args);

	char *v7[] = { "swiftfs", "--version", NULL };
	CHECK_INT(parse(2, v7, &o, &args), 0);
	CHECK_INT(o.show_version, 1);
	opts_free(&o);
	fuse_opt_free_args(&args);

	char *c = NULL, *p = NULL, msg[256];
	CHECK_INT(opts_split_source("c/x/../y", &c, &p, msg, sizeof(msg)), -EINVAL);
	free(c);
	free(p);
	c = p = NULL;
	CHECK_INT(opts_split_source("/", &c, &p, msg, sizeof(msg)), -EINVAL);
	free(c);
	free(p);
	c = p = NULL;
	CHECK_INT(opts_split_source("c", &c, &p, msg, sizeof(msg)), 0);
	CHECK_STR(c, "c");
	CHECK_STR(p, "");
	free(c);
	free(p);
	CHECK_DONE();
}
