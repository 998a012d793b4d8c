/* FUSE request handlers. Nothing here decides anything about Swift: that
 * is fs.c's job. Errors arrive as -errno and go back with fuse_reply_err. */
#include "swiftfs/fs_ops.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "swiftfs/fs.h"
#include "swiftfs/fs_account.h"
#include "swiftfs/fs_versions.h"
#include "swiftfs/fs_xattr.h"
#include "swiftfs/log.h"

static struct swiftfs_fuse_ctx *req_ctx(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Account mounts (fs_account.c) serve each container from a core of its
 * own; the kernel's inode numbers are translated here. route() gives the
 * core of a kernel inode and the core's own number for it (1 for the
 * account root, with *fs NULL); out_entry() and out_stat() translate back.
 * A container mount has one core and identical numbers. */
static int route_ctx(struct swiftfs_fuse_ctx *ctx, fuse_ino_t ino, struct swiftfs_fs **fs,
		     uint64_t *lino)
{
	if (!ctx->acct) {
		*fs = ctx->fs;
		*lino = ino;
		return 0;
	}
	return fs_account_route(ctx->acct, ino, fs, lino);
}

static int route(fuse_req_t req, fuse_ino_t ino, struct swiftfs_fs **fs, uint64_t *lino)
{
	return route_ctx(req_ctx(req), ino, fs, lino);
}

/* The hidden versions tree (fs_versions.c) has inode numbers of its own:
 * requests on them go there, and everything in it is read-only. */
#define VINO(ino) fs_versions_ino(ino)

static void forget_ctx(struct swiftfs_fuse_ctx *ctx, fuse_ino_t ino, uint64_t nlookup)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	/* a container without a core (looked up, never used) has nothing to
	 * forget: no core is made for it (an /info GET, threads, a cache) */
	int rc = ctx->acct ? fs_account_route_made(ctx->acct, ino, &fs, &l)
			   : route_ctx(ctx, ino, &fs, &l);
	if (rc != 0)
		return; /* the account root, gone, or never used */
	if (VINO(l))
		fs_versions_forget(fs, l, nlookup);
	else
		fs_forget(fs, l, nlookup);
}

static void out_entry(fuse_req_t req, struct swiftfs_fs *fs, struct swiftfs_entry *e)
{
	struct swiftfs_fuse_ctx *ctx = req_ctx(req);
	if (ctx->acct && e->ino) {
		e->ino = fs_account_ino(ctx->acct, fs, e->ino);
		e->st.st_ino = e->ino;
	}
}

static void out_stat(fuse_req_t req, struct swiftfs_fs *fs, struct stat *st)
{
	struct swiftfs_fuse_ctx *ctx = req_ctx(req);
	if (ctx->acct)
		st->st_ino = fs_account_ino(ctx->acct, fs, st->st_ino);
}

/* route() for a request that changes something: the account root takes
 * only mkdir and rmdir (handled by the callers), so anything else on it
 * fails with err (after a reply) and returns false. */
static bool route_or_reply(fuse_req_t req, fuse_ino_t ino, struct swiftfs_fs **fs, uint64_t *lino,
			   int err)
{
	int rc = route(req, ino, fs, lino);
	if (rc == 0)
		return true;
	fuse_reply_err(req, rc < 0 ? -rc : err);
	return false;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct swiftfs_fuse_ctx *ctx = userdata;
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
	/* reads of cached blocks go from their files to the kernel by splice */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_SPLICE_MOVE)
		conn->want |= FUSE_CAP_SPLICE_MOVE;
	/* the kernel keeps the smaller of this and its bdi's read_ahead_kb,
	 * which main() raised to kernel_read_ahead (as root) */
	uint64_t ra = ctx->kernel_read_ahead > (1u << 20) ? ctx->kernel_read_ahead : (1u << 20);
	if (ra > UINT32_MAX)
		ra = UINT32_MAX;
	if (conn->max_readahead < ra)
		conn->max_readahead = (unsigned)ra;
}

static void reply_entry(fuse_req_t req, const struct swiftfs_entry *e)
{
	struct fuse_entry_param p;
	memset(&p, 0, sizeof(p));
	p.ino = e->ino;
	p.generation = e->generation;
	p.attr = e->st;
	p.attr_timeout = e->attr_timeout;
	p.entry_timeout = e->entry_timeout;
	struct swiftfs_fuse_ctx *ctx = req_ctx(req);
	/* an interrupted request: the kernel never got the entry, so the
	 * lookup it would have forgotten one day is given back now */
	if (fuse_reply_entry(req, &p) == -ENOENT && p.ino)
		forget_ctx(ctx, p.ino, 1);
}

/* A lookup result: an entry, a cached absence, or an error. */
static void reply_lookup(fuse_req_t req, struct swiftfs_fs *fs, int rc, struct swiftfs_entry *e)
{
	double neg = fs ? fs_negative_timeout(fs) : 0;
	if (rc == -ENOENT && neg > 0) {
		struct fuse_entry_param p;
		memset(&p, 0, sizeof(p));
		p.entry_timeout = neg;
		fuse_reply_entry(req, &p);
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	out_entry(req, fs, e);
	reply_entry(req, e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct swiftfs_fs *fs;
	uint64_t lp;
	struct swiftfs_entry e = { 0 };
	int rc = route(req, parent, &fs, &lp);
	if (rc == 1) {
		rc = fs_account_lookup(req_ctx(req)->acct, name, &e);
		if (rc)
			fuse_reply_err(req, -rc); /* containers come and go: no negative entry */
		else
			reply_entry(req, &e); /* numbered by fs_account already */
		return;
	}
	if (rc == 0)
		rc = fs_versions_owns_lookup(fs, lp, name) ? fs_versions_lookup(fs, lp, name, &e)
							   : fs_lookup(fs, lp, name, &e);
	reply_lookup(req, fs, rc, &e);
}

static void do_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_ctx(req_ctx(req), ino, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	do_forget(req, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		do_forget(req, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	struct stat st;
	double timeout;
	(void)fi;
	int rc = route(req, ino, &fs, &l);
	if (rc == 1) {
		fs_account_root_stat(req_ctx(req)->acct, &st);
		fuse_reply_attr(req, &st, fs_account_timeout(req_ctx(req)->acct));
		return;
	}
	if (rc == 0)
		rc = VINO(l) ? fs_versions_getattr(fs, l, &st, &timeout)
			     : fs_getattr(fs, l, &st, &timeout);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	out_stat(req, fs, &st);
	fuse_reply_attr(req, &st, timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	char *target = NULL;
	int rc = route(req, ino, &fs, &l);
	if (rc == 0)
		rc = VINO(l) ? -EINVAL : fs_readlink(fs, l, &target);
	if (rc)
		fuse_reply_err(req, rc == 1 ? EINVAL : -rc);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

/* Every open handle is on the context's list, so that the handles the
 * kernel never released (the session ended with files open) are closed
 * and freed at the end: fs_ops_close_all(). */
struct ops_link {
	struct ops_link *prev, *next;
	bool is_dir;
};

static void link_add(struct swiftfs_fuse_ctx *ctx, struct ops_link *l, bool is_dir)
{
	l->is_dir = is_dir;
	pthread_mutex_lock(&ctx->hlock);
	l->prev = NULL;
	l->next = ctx->handles;
	if (ctx->handles)
		ctx->handles->prev = l;
	ctx->handles = l;
	pthread_mutex_unlock(&ctx->hlock);
}

static void link_del(struct swiftfs_fuse_ctx *ctx, struct ops_link *l)
{
	pthread_mutex_lock(&ctx->hlock);
	if (l->prev)
		l->prev->next = l->next;
	else if (ctx->handles == l)
		ctx->handles = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	pthread_mutex_unlock(&ctx->hlock);
}

/* An open directory of either kind (fi->fh). */
struct ops_dir {
	struct ops_link link;           /* first */
	struct swiftfs_fs *fs;          /* NULL for the account root */
	struct swiftfs_dir *d;          /* a core's directory */
	struct swiftfs_vdir *vd;        /* a versions tree directory */
	struct swiftfs_adir *ad;        /* the account root */
};

static void ops_dir_close(struct swiftfs_fuse_ctx *ctx, struct ops_dir *od)
{
	link_del(ctx, &od->link);
	if (od->d)
		fs_releasedir(od->fs, od->d);
	else if (od->vd)
		fs_versions_releasedir(od->fs, od->vd);
	else if (od->ad)
		fs_account_releasedir(ctx->acct, od->ad);
	free(od);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ops_dir *od = calloc(1, sizeof(*od));
	uint64_t l;
	if (!od) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int rc = route(req, ino, &od->fs, &l);
	if (rc == 1)
		rc = fs_account_opendir(req_ctx(req)->acct, &od->ad);
	else if (rc == 0 && VINO(l))
		rc = fs_versions_opendir(od->fs, l, &od->vd);
	else if (rc == 0)
		rc = fs_opendir(od->fs, l, &od->d);
	if (rc) {
		free(od);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)od;
	fi->cache_readdir = 0;
	struct swiftfs_fuse_ctx *ctx = req_ctx(req); /* req is gone after the reply */
	link_add(ctx, &od->link, true);
	if (fuse_reply_open(req, fi) == -ENOENT)
		ops_dir_close(ctx, od); /* the opener was interrupted */
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct ops_dir *od = (struct ops_dir *)(uintptr_t)fi->fh;
	struct swiftfs_fs *fs = od->fs;
	char *buf = calloc(1, size);
	size_t pos = 0;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t idx = (size_t)off;; idx++) {
		const char *name;
		struct swiftfs_entry e = { 0 };
		int rc;
		if (od->ad)
			rc = fs_account_readdir(req_ctx(req)->acct, od->ad, idx, &name, &e);
		else if (od->vd)
			rc = fs_versions_readdir(fs, od->vd, idx, plus, &name, &e);
		else
			rc = fs_readdir(fs, od->d, idx, plus, &name, &e);
		if (rc < 0) {
			err = -rc;
			break;
		}
		if (rc == 0)
			break;
		if (rc == 2)
			continue; /* hidden: no entry at this offset */
		/* the lookup a readdirplus entry took, in the core's numbers */
		uint64_t taken = plus && idx >= 2 && !od->ad ? e.ino : 0;
		if (!od->ad)
			out_entry(req, fs, &e);
		size_t need;
		if (plus) {
			struct fuse_entry_param p;
			memset(&p, 0, sizeof(p));
			p.ino = idx < 2 ? 0 : e.ino;
			p.generation = idx < 2 ? 0 : e.generation;
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
			if (taken && od->vd)
				fs_versions_forget(fs, taken, 1);
			else if (taken)
				fs_forget(fs, taken, 1); /* not sent: give the lookup back */
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
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	ops_dir_close(req_ctx(req), (struct ops_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* An open file of either kind (fi->fh). */
struct ops_file {
	struct ops_link link;           /* first */
	struct swiftfs_fs *fs;
	struct swiftfs_file *f;
	struct swiftfs_vfile *vf;
};

static void ops_file_close(struct swiftfs_fuse_ctx *ctx, struct ops_file *of)
{
	link_del(ctx, &of->link);
	if (of->f)
		fs_release(of->fs, of->f);
	else if (of->vf)
		fs_versions_release(of->fs, of->vf);
	free(of);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct swiftfs_fuse_ctx *ctx = req_ctx(req);
	struct ops_file *of = calloc(1, sizeof(*of));
	uint64_t l;
	if (!of) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int rc = route(req, ino, &of->fs, &l);
	if (rc == 1)
		rc = -EISDIR;
	bool writes = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	if (rc == 0 && VINO(l)) {
		rc = fs_versions_open(of->fs, l, fi->flags, &of->vf);
		fi->keep_cache = 1; /* a version never changes */
	} else if (rc == 0 && ctx->readonly && writes) {
		rc = -EROFS;
	} else if (rc == 0) {
		rc = fs_open(of->fs, l, fi->flags, &of->f);
	}
	if (rc) {
		free(of);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)of;
	link_add(ctx, &of->link, false);
	bool changed = false;
	if (of->f) {
		/* close-to-open: pages of an older version are dropped; pages
		 * of this very version (same ETag) are kept, so re-reads are free */
		fi->keep_cache = fs_file_keep_cache(of->f);
		fi->direct_io = fs_file_direct_io(of->f);
		changed = fs_file_changed(of->f);
	}
	/* the kernel may hold the old size for attr_timeout: make it ask.
	 * Before the reply: once open() returns, the program may read at
	 * once, and a read within the old size asks for no new attributes.
	 * Attributes only (offset -1): no page lock, so no deadlock with
	 * the open in progress. */
	if (changed && ctx->se)
		fuse_lowlevel_notify_inval_inode(ctx->se, ino, -1, 0);
	if (fuse_reply_open(req, fi) == -ENOENT)
		ops_file_close(ctx, of);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct swiftfs_entry e = { 0 };
	struct ops_file *of = calloc(1, sizeof(*of));
	uint64_t lp;
	if (!of) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int rc = route(req, parent, &of->fs, &lp);
	if (rc == 1)
		rc = -EPERM; /* only folders (containers) in an account's root */
	else if (rc == 0 && fs_versions_owns_lookup(of->fs, lp, name))
		rc = -EROFS;
	else if (rc == 0)
		rc = fs_create(of->fs, lp, name, mode, fi->flags, &e, &of->f);
	if (rc) {
		free(of);
		fuse_reply_err(req, -rc);
		return;
	}
	out_entry(req, of->fs, &e);
	struct fuse_entry_param p;
	memset(&p, 0, sizeof(p));
	p.ino = e.ino;
	p.generation = e.generation;
	p.attr = e.st;
	p.attr_timeout = e.attr_timeout;
	p.entry_timeout = e.entry_timeout;
	fi->fh = (uint64_t)(uintptr_t)of;
	struct swiftfs_fuse_ctx *ctx = req_ctx(req); /* req is gone after the reply */
	link_add(ctx, &of->link, false);
	if (fuse_reply_create(req, &p, fi) == -ENOENT) {
		/* interrupted: the kernel has neither the file nor the entry,
		 * so its lookup is given back too */
		fs_flush(of->fs, of->f);
		ops_file_close(ctx, of);
		forget_ctx(ctx, p.ino, 1);
	}
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct ops_file *of = (struct ops_file *)(uintptr_t)fi->fh;
	(void)ino;
	if (!of->f) {
		fuse_reply_err(req, EBADF);
		return;
	}
	ssize_t n = fs_write(of->fs, of->f, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ops_file *of = (struct ops_file *)(uintptr_t)fi->fh;
	(void)ino;
	fuse_reply_err(req, of->f ? -fs_flush(of->fs, of->f) : 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ops_file *of = (struct ops_file *)(uintptr_t)fi->fh;
	(void)ino;
	(void)datasync;
	fuse_reply_err(req, of->f ? -fs_fsync(of->fs, of->f) : 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	struct stat st, in = *attr;
	double timeout;
	int set = 0;
	if (!route_or_reply(req, ino, &fs, &l, EPERM))
		return;
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
	struct ops_file *of = fi ? (struct ops_file *)(uintptr_t)fi->fh : NULL;
	/* atime alone is not stored: succeed without a request */
	int rc = VINO(l) ? -EROFS : fs_setattr(fs, l, set, &in, of ? of->f : NULL, &st, &timeout);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	out_stat(req, fs, &st);
	fuse_reply_attr(req, &st, timeout);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct swiftfs_fs *fs;
	uint64_t lp;
	if (!route_or_reply(req, parent, &fs, &lp, EISDIR))
		return;
	fuse_reply_err(req, fs_versions_owns_lookup(fs, lp, name) ? EROFS
								 : -fs_unlink(fs, lp, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct swiftfs_fs *fs;
	uint64_t lp;
	int rc = route(req, parent, &fs, &lp);
	if (rc == 1)
		rc = fs_account_rmdir(req_ctx(req)->acct, name);
	else if (rc == 0 && fs_versions_owns_lookup(fs, lp, name))
		rc = -EROFS;
	else if (rc == 0)
		rc = fs_rmdir(fs, lp, name);
	fuse_reply_err(req, -rc);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct swiftfs_fs *fs;
	uint64_t lp;
	struct swiftfs_entry e = { 0 };
	int rc = route(req, parent, &fs, &lp);
	if (rc == 1) {
		rc = fs_account_mkdir(req_ctx(req)->acct, name, &e);
		if (rc)
			fuse_reply_err(req, -rc);
		else
			reply_entry(req, &e); /* numbered by fs_account already */
		return;
	}
	if (rc == 0)
		rc = fs_versions_owns_lookup(fs, lp, name) ? -EROFS
							   : fs_mkdir(fs, lp, name, mode, &e);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	out_entry(req, fs, &e);
	reply_entry(req, &e);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct swiftfs_fs *fs;
	uint64_t lp;
	struct swiftfs_entry e = { 0 };
	if (!route_or_reply(req, parent, &fs, &lp, EPERM))
		return;
	int rc = fs_versions_owns_lookup(fs, lp, name) ? -EROFS
						       : fs_symlink(fs, link, lp, name, &e);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	out_entry(req, fs, &e);
	reply_entry(req, &e);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct swiftfs_fs *fs, *nfs;
	uint64_t l, lp;
	struct swiftfs_entry e = { 0 };
	if (!route_or_reply(req, ino, &fs, &l, EPERM) ||
	    !route_or_reply(req, newparent, &nfs, &lp, EPERM))
		return;
	int rc = fs != nfs ? -EXDEV
		 : VINO(l) || fs_versions_owns_lookup(fs, lp, newname)
			 ? -EROFS : fs_link(fs, l, lp, newname, &e);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	out_entry(req, fs, &e);
	reply_entry(req, &e);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct swiftfs_fs *fs, *nfs;
	uint64_t lp, lnp;
	/* containers are not renamed (Swift cannot) */
	if (!route_or_reply(req, parent, &fs, &lp, EPERM) ||
	    !route_or_reply(req, newparent, &nfs, &lnp, EPERM))
		return;
	if (fs != nfs) {
		fuse_reply_err(req, EXDEV); /* mv copies across containers */
		return;
	}
	if (fs_versions_owns_lookup(fs, lp, name) || fs_versions_owns_lookup(fs, lnp, newname)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, -fs_rename(fs, lp, name, lnp, newname, flags));
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct ops_file *of = (struct ops_file *)(uintptr_t)fi->fh;
	int fd;
	uint64_t pos;
	size_t len;
	(void)ino;
	if (!of->vf && fs_read_fd(of->fs, of->f, size, (uint64_t)off, &fd, &pos, &len) == 0) {
		/* from the cache file to the kernel, spliced when it can */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = (off_t)pos;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		close(fd);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = of->vf ? fs_versions_read(of->fs, of->vf, buf, size, (uint64_t)off)
			   : fs_read(of->fs, of->f, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	ops_file_close(req_ctx(req), (struct ops_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	struct statvfs sv;
	int rc = route(req, ino, &fs, &l);
	if (rc == 1)
		rc = fs_account_statfs(req_ctx(req)->acct, &sv);
	else if (rc == 0)
		rc = fs_statfs(fs, &sv);
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

/* The account root and the versions tree have no xattrs. */
static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	char *v = NULL;
	size_t len = 0;
	/* only user.* exists anywhere: answer the kernel's and ls's questions
	 * (security.capability on every write, ACLs) without routing, which
	 * would make an account mount's container core */
	if (strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	int rc = route(req, ino, &fs, &l);
	if (rc == 1 || (rc == 0 && VINO(l)))
		rc = -ENODATA;
	else if (rc == 0)
		rc = fs_getxattr(fs, l, name, &v, &len);
	reply_sized(req, rc, v, len, size);
	free(v);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	char *v = NULL;
	size_t len = 0;
	int rc = route(req, ino, &fs, &l);
	if (rc == 1 || (rc == 0 && VINO(l)))
		rc = 0;
	else if (rc == 0)
		rc = fs_listxattr(fs, l, &v, &len);
	reply_sized(req, rc, v, len, size);
	free(v);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	if (!route_or_reply(req, ino, &fs, &l, ENOTSUP))
		return;
	fuse_reply_err(req, VINO(l) ? EROFS : -fs_setxattr(fs, l, name, value, size, flags));
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct swiftfs_fs *fs;
	uint64_t l;
	if (!route_or_reply(req, ino, &fs, &l, ENODATA))
		return;
	fuse_reply_err(req, VINO(l) ? EROFS : -fs_removexattr(fs, l, name));
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

void fs_ops_close_all(struct swiftfs_fuse_ctx *ctx)
{
	for (;;) {
		pthread_mutex_lock(&ctx->hlock);
		struct ops_link *l = ctx->handles;
		pthread_mutex_unlock(&ctx->hlock);
		if (!l)
			break;
		if (l->is_dir)
			ops_dir_close(ctx, (struct ops_dir *)l);
		else
			ops_file_close(ctx, (struct ops_file *)l);
	}
}

const struct fuse_lowlevel_ops *fs_ops_get(void)
{
	return &ops;
}
