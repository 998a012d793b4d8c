/* FUSE request handlers. Nothing here decides anything about Swift: that
 * is fs.c's job. Errors arrive as -errno and go back with fuse_reply_err. */
#include "swiftfs/fs_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swiftfs/fs.h"
#include "swiftfs/fs_versions.h"
#include "swiftfs/fs_xattr.h"
#include "swiftfs/log.h"

static struct swiftfs_fs *req_fs(fuse_req_t req)
{
	struct swiftfs_fuse_ctx *ctx = fuse_req_userdata(req);
	return ctx->fs;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* readdirplus always: `ls -l` and `find` get attributes with names */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_readahead = conn->max_readahead > (1u << 20) ? conn->max_readahead : (1u << 20);
}

static void reply_entry(fuse_req_t req, const struct swiftfs_entry *e)
{
	struct fuse_entry_param p;
	memset(&p, 0, sizeof(p));
	p.ino = e->ino;
	p.attr = e->st;
	p.attr_timeout = e->attr_timeout;
	p.entry_timeout = e->entry_timeout;
	fuse_reply_entry(req, &p);
}

/* The hidden versions tree (fs_versions.c) has inode numbers of its own:
 * requests on them go there, and everything in it is read-only. */
#define VINO(ino) fs_versions_ino(ino)

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct swiftfs_fs *fs = req_fs(req);
	struct swiftfs_entry e;
	int rc = fs_versions_owns_lookup(fs, parent, name) ? fs_versions_lookup(fs, parent, name, &e)
							    : fs_lookup(fs, parent, name, &e);
	if (rc == -ENOENT && fs_negative_timeout(fs) > 0) {
		struct fuse_entry_param p;
		memset(&p, 0, sizeof(p));
		p.entry_timeout = fs_negative_timeout(fs);
		fuse_reply_entry(req, &p);
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (VINO(ino))
		fs_versions_forget(req_fs(req), ino, nlookup);
	else
		fs_forget(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct swiftfs_fs *fs = req_fs(req);
	for (size_t i = 0; i < count; i++) {
		if (VINO(forgets[i].ino))
			fs_versions_forget(fs, forgets[i].ino, forgets[i].nlookup);
		else
			fs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double timeout;
	(void)fi;
	int rc = VINO(ino) ? fs_versions_getattr(req_fs(req), ino, &st, &timeout)
			   : fs_getattr(req_fs(req), ino, &st, &timeout);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target = NULL;
	int rc = VINO(ino) ? -EINVAL : fs_readlink(req_fs(req), ino, &target);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (VINO(ino)) {
		struct swiftfs_vdir *vd;
		int rc = fs_versions_opendir(req_fs(req), ino, &vd);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = (uint64_t)(uintptr_t)vd;
		if (fuse_reply_open(req, fi) == -ENOENT)
			fs_versions_releasedir(req_fs(req), vd);
		return;
	}
	struct swiftfs_dir *d;
	int rc = fs_opendir(req_fs(req), ino, &d);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_releasedir(req_fs(req), d); /* the opener was interrupted */
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct swiftfs_fs *fs = req_fs(req);
	struct swiftfs_dir *d = (struct swiftfs_dir *)(uintptr_t)fi->fh;
	struct swiftfs_vdir *vd = VINO(ino) ? (struct swiftfs_vdir *)(uintptr_t)fi->fh : NULL;
	char *buf = calloc(1, size);
	size_t pos = 0;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t idx = (size_t)off;; idx++) {
		const char *name;
		struct swiftfs_entry e;
		int rc = vd ? fs_versions_readdir(fs, vd, idx, plus, &name, &e)
			    : fs_readdir(fs, d, idx, plus, &name, &e);
		if (rc < 0) {
			err = -rc;
			break;
		}
		if (rc == 0)
			break;
		size_t need;
		if (plus) {
			struct fuse_entry_param p;
			memset(&p, 0, sizeof(p));
			p.ino = idx < 2 ? 0 : e.ino;
			p.attr = e.st;
			p.attr_timeout = e.attr_timeout;
			p.entry_timeout = e.entry_timeout;
			need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &p,
						      (off_t)idx + 1);
		} else {
			need = fuse_add_direntry(req, buf + pos, size - pos, name, &e.st,
						 (off_t)idx + 1);
		}
		if (need > size - pos) {
			if (plus && idx >= 2 && vd)
				fs_versions_forget(fs, e.ino, 1);
			else if (plus && idx >= 2)
				fs_forget(fs, e.ino, 1); /* not sent: give the lookup back */
			break;
		}
		pos += need;
	}
	if (err && pos == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (VINO(ino))
		fs_versions_releasedir(req_fs(req), (struct swiftfs_vdir *)(uintptr_t)fi->fh);
	else
		fs_releasedir(req_fs(req), (struct swiftfs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct swiftfs_file *f;
	struct swiftfs_fuse_ctx *ctx = fuse_req_userdata(req);
	if (VINO(ino)) {
		struct swiftfs_vfile *vf;
		int rc = fs_versions_open(req_fs(req), ino, fi->flags, &vf);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = (uint64_t)(uintptr_t)vf;
		fi->keep_cache = 1; /* a version never changes */
		if (fuse_reply_open(req, fi) == -ENOENT)
			fs_versions_release(req_fs(req), vf);
		return;
	}
	if (ctx->readonly && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	int rc = fs_open(req_fs(req), ino, fi->flags, &f);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	/* close-to-open: pages of an older version are dropped; pages of
	 * this very version (same ETag) are kept, so re-reads are free */
	fi->keep_cache = fs_file_keep_cache(f);
	bool changed = fs_file_changed(f);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fs_release(req_fs(req), f);
		return;
	}
	/* the kernel may hold the old size for attr_timeout: make it ask */
	if (changed && ctx->se)
		fuse_lowlevel_notify_inval_inode(ctx->se, ino, -1, 0);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct swiftfs_fs *fs = req_fs(req);
	struct swiftfs_entry e;
	struct swiftfs_file *f;
	int rc = fs_versions_owns_lookup(fs, parent, name) ? -EROFS
							    : fs_create(fs, parent, name, mode, fi->flags, &e, &f);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct fuse_entry_param p;
	memset(&p, 0, sizeof(p));
	p.ino = e.ino;
	p.attr = e.st;
	p.attr_timeout = e.attr_timeout;
	p.entry_timeout = e.entry_timeout;
	fi->fh = (uint64_t)(uintptr_t)f;
	if (fuse_reply_create(req, &p, fi) == -ENOENT) {
		fs_flush(fs, f);
		fs_release(fs, f);
	}
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	if (VINO(ino)) {
		fuse_reply_err(req, EBADF);
		return;
	}
	ssize_t n = fs_write(req_fs(req), (struct swiftfs_file *)(uintptr_t)fi->fh, buf, size,
			     (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (VINO(ino)) {
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, -fs_flush(req_fs(req), (struct swiftfs_file *)(uintptr_t)fi->fh));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	if (VINO(ino)) {
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, -fs_flush(req_fs(req), (struct swiftfs_file *)(uintptr_t)fi->fh));
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct stat st, in = *attr;
	double timeout;
	int set = 0;
	if (to_set & FUSE_SET_ATTR_SIZE)
		set |= FS_SET_SIZE;
	if (to_set & FUSE_SET_ATTR_MODE)
		set |= FS_SET_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		set |= FS_SET_UID;
	if (to_set & FUSE_SET_ATTR_GID)
		set |= FS_SET_GID;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		clock_gettime(CLOCK_REALTIME, &in.st_mtim);
		set |= FS_SET_MTIME;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		set |= FS_SET_MTIME;
	}
	/* atime alone is not stored: succeed without a request */
	int rc = VINO(ino) ? -EROFS : fs_setattr(req_fs(req), ino, set, &in,
			    fi ? (struct swiftfs_file *)(uintptr_t)fi->fh : NULL, &st, &timeout);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct swiftfs_fs *fs = req_fs(req);
	fuse_reply_err(req, fs_versions_owns_lookup(fs, parent, name) ? EROFS
								 : -fs_unlink(fs, parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct swiftfs_fs *fs = req_fs(req);
	fuse_reply_err(req, fs_versions_owns_lookup(fs, parent, name) ? EROFS
								 : -fs_rmdir(fs, parent, name));
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct swiftfs_entry e;
	int rc = fs_versions_owns_lookup(req_fs(req), parent, name)
			 ? -EROFS : fs_mkdir(req_fs(req), parent, name, mode, &e);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_entry(req, &e);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct swiftfs_entry e;
	int rc = fs_versions_owns_lookup(req_fs(req), parent, name)
			 ? -EROFS : fs_symlink(req_fs(req), link, parent, name, &e);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_entry(req, &e);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct swiftfs_entry e;
	int rc = VINO(ino) || fs_versions_owns_lookup(req_fs(req), newparent, newname)
			 ? -EROFS : fs_link(req_fs(req), ino, newparent, newname, &e);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_entry(req, &e);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct swiftfs_fs *fs = req_fs(req);
	if (fs_versions_owns_lookup(fs, parent, name) ||
	    fs_versions_owns_lookup(fs, newparent, newname)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, -fs_rename(fs, parent, name, newparent, newname, flags));
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct swiftfs_file *f = (struct swiftfs_file *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = VINO(ino) ? fs_versions_read(req_fs(req), (struct swiftfs_vfile *)(uintptr_t)fi->fh,
						 buf, size, (uint64_t)off)
			      : fs_read(req_fs(req), f, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (VINO(ino))
		fs_versions_release(req_fs(req), (struct swiftfs_vfile *)(uintptr_t)fi->fh);
	else
		fs_release(req_fs(req), (struct swiftfs_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	(void)ino;
	int rc = fs_statfs(req_fs(req), &sv);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

/* --- extended attributes (fs_xattr.c) --- */

/* size 0 asks for the length; a buffer too small is ERANGE. */
static void reply_sized(fuse_req_t req, int rc, const char *v, size_t len, size_t size)
{
	if (rc)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *v = NULL;
	size_t len = 0;
	int rc = VINO(ino) ? -ENODATA : fs_getxattr(req_fs(req), ino, name, &v, &len);
	reply_sized(req, rc, v, len, size);
	free(v);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *v = NULL;
	size_t len = 0;
	int rc = VINO(ino) ? 0 : fs_listxattr(req_fs(req), ino, &v, &len);
	reply_sized(req, rc, v, len, size);
	free(v);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fuse_reply_err(req, VINO(ino) ? EROFS : -fs_setxattr(req_fs(req), ino, name, value, size, flags));
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, VINO(ino) ? EROFS : -fs_removexattr(req_fs(req), ino, name));
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
	.create = op_create,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.setattr = op_setattr,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.rename = op_rename,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};

const struct fuse_lowlevel_ops *fs_ops_get(void)
{
	return &ops;
}
