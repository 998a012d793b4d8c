/* The writeback journal (see writeback.h). */
#include "swiftfs/writeback.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/upload.h"
#include "swiftfs/util.h"

#define WB_MAGIC "swiftfs-writeback 1"

static int put(struct swiftfs_buf *b, const char *key, const char *val)
{
	if (!val)
		return 0;
	char *enc = util_url_encode(val, true);
	if (!enc)
		return -ENOMEM;
	int rc = buf_printf(b, "%s %s\n", key, enc);
	free(enc);
	return rc;
}

int wb_record_write(const char *dir, const struct swiftfs_wb_record *rec, char **path)
{
	struct swiftfs_buf b = { 0 };
	char *tmp = NULL, *final = NULL;
	const char *base = strrchr(rec->staged, '/');
	int fd = -1, rc;

	base = base ? base + 1 : rec->staged;
	rc = buf_printf(&b, "%s\nsize %" PRIu64 "\n", WB_MAGIC, rec->size);
	if (!rc)
		rc = put(&b, "account", rec->account);
	if (!rc)
		rc = put(&b, "container", rec->container);
	if (!rc)
		rc = put(&b, "object", rec->object);
	if (!rc)
		rc = put(&b, "staged", rec->staged);
	if (!rc)
		rc = put(&b, "mtime", rec->mtime);
	if (!rc)
		rc = put(&b, "content_type", rec->content_type);
	for (size_t i = 0; !rc && i < rec->nheaders; i++)
		rc = put(&b, "header", rec->headers[i]);
	if (!rc)
		rc = put(&b, "owner", rec->owner);
	if (!rc)
		rc = put(&b, "base", rec->base);
	if (!rc)
		rc = buf_printf(&b, "end\n");
	if (rc)
		goto out;
	if (asprintf(&tmp, "%s/.%s.wb.tmp", dir, base) < 0 ||
	    asprintf(&final, "%s/%s.wb", dir, base) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (write(fd, b.data, b.len) != (ssize_t)b.len) {
		rc = errno ? -errno : -ENOSPC;
		goto out;
	}
	if (fdatasync(fd)) {
		rc = -errno;
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, final)) {
		rc = -errno;
		goto out;
	}
	rc = util_fsync_dir(dir);
	if (!rc) {
		*path = final;
		final = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc && tmp)
		unlink(tmp);
	free(tmp);
	free(final);
	buf_free(&b);
	return rc;
}

void wb_record_free(struct swiftfs_wb_record *rec)
{
	free(rec->account);
	free(rec->container);
	free(rec->object);
	free(rec->staged);
	free(rec->mtime);
	free(rec->content_type);
	for (size_t i = 0; i < rec->nheaders; i++)
		free(rec->headers[i]);
	free(rec->headers);
	free(rec->owner);
	free(rec->base);
	memset(rec, 0, sizeof(*rec));
}

int wb_record_read(const char *path, struct swiftfs_wb_record *rec)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = -EINVAL;
	bool magic = false, end = false;

	memset(rec, 0, sizeof(*rec));
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (!magic) {
			magic = strcmp(line, WB_MAGIC) == 0;
			if (!magic)
				break;
			continue;
		}
		if (strcmp(line, "end") == 0) {
			end = true;
			break;
		}
		char *sp = strchr(line, ' ');
		if (!sp)
			break;
		*sp = '\0';
		char *val = util_url_decode(sp + 1);
		if (!val) {
			rc = -ENOMEM;
			break;
		}
		char **slot = NULL;
		if (strcmp(line, "size") == 0) {
			rec->size = strtoull(val, NULL, 10);
			free(val);
			continue;
		} else if (strcmp(line, "account") == 0) {
			slot = &rec->account;
		} else if (strcmp(line, "container") == 0) {
			slot = &rec->container;
		} else if (strcmp(line, "object") == 0) {
			slot = &rec->object;
		} else if (strcmp(line, "staged") == 0) {
			slot = &rec->staged;
		} else if (strcmp(line, "mtime") == 0) {
			slot = &rec->mtime;
		} else if (strcmp(line, "content_type") == 0) {
			slot = &rec->content_type;
		} else if (strcmp(line, "owner") == 0) {
			slot = &rec->owner;
		} else if (strcmp(line, "base") == 0) {
			slot = &rec->base;
		} else if (strcmp(line, "header") == 0) {
			char **nh = realloc(rec->headers, (rec->nheaders + 1) * sizeof(*nh));
			if (!nh) {
				free(val);
				rc = -ENOMEM;
				break;
			}
			rec->headers = nh;
			rec->headers[rec->nheaders++] = val;
			continue;
		}
		if (slot) {
			free(*slot);
			*slot = val;
		} else {
			free(val); /* a key from a newer version: ignored */
		}
	}
	if (end && rec->container && rec->object && rec->staged && rec->mtime)
		rc = 0;
	else if (rc == -EINVAL && ferror(f))
		rc = -EIO; /* could not be read, which says nothing of what it holds */
	free(line);
	fclose(f);
	if (rc)
		wb_record_free(rec);
	return rc;
}

/* owner locks live beside the records, in <dir>-owners */
#define OWNERS_DIR "-owners"
#define OWNER_PREFIX "owner-"
#define OWNER_SUFFIX ".lock"
#define OWNER_TMP ".owner-"   /* before the rename */

static bool owner_name_p(const char *name)
{
	size_t n = strlen(name), pl = strlen(OWNER_PREFIX), sl = strlen(OWNER_SUFFIX);
	return n > pl + sl && strncmp(name, OWNER_PREFIX, pl) == 0 && !strchr(name, '/') &&
	       strcmp(name + n - sl, OWNER_SUFFIX) == 0;
}

int wb_owner_take(const char *dir, char **name, int *fd)
{
	char *tmp = NULL, *final = NULL;
	int rc = 0;
	*name = NULL;
	*fd = -1;
	/* locked under a temporary name, then renamed: a lock file under
	 * its final name is always held by a live owner or by nobody */
	if (asprintf(&tmp, "%s" OWNERS_DIR, dir) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	mkdir(tmp, 0700);
	free(tmp);
	if (asprintf(&tmp, "%s" OWNERS_DIR "/" OWNER_TMP "XXXXXX", dir) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	int f = mkostemp(tmp, O_CLOEXEC);
	if (f < 0) {
		rc = -errno;
		goto out;
	}
	const char *suffix = strrchr(tmp, '-') + 1;
	if (flock(f, LOCK_EX | LOCK_NB) != 0 ||
	    asprintf(&final, "%s" OWNERS_DIR "/" OWNER_PREFIX "%s" OWNER_SUFFIX, dir, suffix) < 0 ||
	    rename(tmp, final) != 0) {
		rc = errno ? -errno : -ENOMEM;
		close(f);
		unlink(tmp);
		goto out;
	}
	*name = strdup(strrchr(final, '/') + 1);
	if (!*name) {
		rc = -ENOMEM;
		close(f);
		unlink(final);
		goto out;
	}
	*fd = f;
out:
	free(tmp);
	free(final);
	return rc;
}

void wb_owner_drop(const char *dir, char *name, int fd)
{
	char *path = NULL;
	if (name && asprintf(&path, "%s" OWNERS_DIR "/%s", dir, name) >= 0) {
		unlink(path);
		free(path);
	}
	if (fd >= 0)
		close(fd);
	free(name);
}

/* Is name a live owner's lock in dir? A name that is not an owner lock's
 * (a hand-made record) counts as gone. */
static bool owner_alive(const char *dir, const char *name)
{
	char *path = NULL;
	if (!owner_name_p(name) || asprintf(&path, "%s" OWNERS_DIR "/%s", dir, name) < 0)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return false;
	bool alive = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return alive;
}

/* Remove the lock files of owners gone (and temporaries a crash left
 * before their rename, once they are a minute old). */
static void owners_sweep(const char *dir)
{
	char *od = NULL;
	if (asprintf(&od, "%s" OWNERS_DIR, dir) < 0)
		return;
	DIR *d = opendir(od);
	free(od);
	struct dirent *de;
	time_t now = time(NULL);
	while (d && (de = readdir(d)) != NULL) {
		struct stat sb;
		bool tmp = strncmp(de->d_name, OWNER_TMP, strlen(OWNER_TMP)) == 0;
		if (!tmp && !owner_name_p(de->d_name))
			continue;
		if (tmp && (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
			    now - sb.st_mtime < 60))
			continue;
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), de->d_name, 0);
		close(fd);
	}
	if (d)
		closedir(d);
}

struct wb_item {
	char *path;
	time_t t;
};

static int cmp_mtime(const void *a, const void *b)
{
	const struct wb_item *x = a, *y = b;
	return (x->t > y->t) - (x->t < y->t);
}

/* A record is trusted only so far: its staged file must be one of this
 * cache folder's (<cache_dir>/staging/staged-*, dir being
 * <cache_dir>/writeback), it must name an object, and its headers must
 * be single lines. Anything else would upload, then delete, a file the
 * record merely names. */
static bool record_sane(const char *dir, const struct swiftfs_wb_record *rec)
{
	char *staging = NULL, *want = NULL, *real = NULL;
	bool ok = rec->object && rec->object[0] && rec->staged;
	const char *slash = strrchr(dir, '/');
	if (ok && slash && asprintf(&staging, "%.*s/staging", (int)(slash - dir), dir) >= 0) {
		want = realpath(staging, NULL);
		real = realpath(rec->staged, NULL);
		if (!real && errno == ENOENT) {
			/* gone (a crash between the unlinks of the staged file
			 * and of its record): judged by its folder, so that the
			 * record of nothing is removed */
			const char *b = strrchr(rec->staged, '/');
			char *folder = b ? strndup(rec->staged, (size_t)(b - rec->staged)) : NULL;
			char *rf = folder ? realpath(folder, NULL) : NULL;
			if (rf && asprintf(&real, "%s%s", rf, b) < 0)
				real = NULL;
			free(rf);
			free(folder);
		}
		const char *base = real ? strrchr(real, '/') : NULL;
		ok = want && real && base && strncmp(real, want, strlen(want)) == 0 &&
		     real + strlen(want) == base && strncmp(base + 1, "staged-", 7) == 0;
	} else {
		ok = false;
	}
	for (size_t i = 0; ok && i < rec->nheaders; i++)
		ok = !strpbrk(rec->headers[i], "\r\n");
	if (ok && rec->content_type)
		ok = !strpbrk(rec->content_type, "\r\n");
	free(staging);
	free(want);
	free(real);
	return ok;
}

/* One HEAD of rec's object: whether another client changed it since its
 * data was closed (fd: the staged data), 1 yes, 0 no (or not known),
 * -errno when the HEAD failed; and whether it is an SLO now (*slo), whose
 * segments an upload over it replaces. Without a base version, a failed
 * HEAD is no error: the upload goes ahead, and an SLO's segments stay. */
static int changed_since(const struct swiftfs_upload_cfg *cfg,
			 const struct swiftfs_wb_record *rec, int fd, bool *slo)
{
	struct swiftfs_req r;
	char etag[72] = "";
	/* no base: a record of an older version, or of a renamed file */
	bool based = rec->base && rec->base[0];
	int rc;

	*slo = false;
	swift_req_init(&r, "HEAD");
	r.container = cfg->container;
	r.object = rec->object;
	r.flags = SWIFT_REQ_QUIET_404;
	rc = swift_request(cfg->client, &r);
	if (rc == -ENOENT || (rc && !based)) {
		rc = 0; /* removed: the data goes up, as it would have at close */
		goto out;
	}
	if (rc)
		goto out;
	const char *v = swift_req_header(&r, "X-Static-Large-Object");
	*slo = v && strcasecmp(v, "true") == 0;
	if (!based)
		goto out;
	swift_req_etag(&r, etag, sizeof(etag));
	if (strcmp(rec->base, "-") != 0 && strcmp(etag, rec->base) == 0) {
		rc = 0; /* still the version the data replaces */
		goto out;
	}
	/* this very upload, done before the crash took the record away: a
	 * single object has the staged data's MD5; an SLO carries the
	 * record's mtime (to the microsecond) and size */
	bool ours = false;
	const char *len = swift_req_header(&r, "Content-Length");
	if (len && strtoull(len, NULL, 10) == rec->size) {
		if (*slo) {
			v = swift_req_header(&r, "X-Object-Meta-Mtime");
			ours = v && strcmp(v, rec->mtime) == 0;
		} else {
			char md5[33];
			rc = upload_md5_fd(fd, 0, rec->size, md5);
			if (rc)
				goto out;
			ours = strcmp(etag, md5) == 0;
		}
	}
	rc = !ours;
out:
	swift_req_cleanup(&r);
	return rc;
}

/* The name a conflicting record's data goes to, free in Swift:
 * <object>.swiftfs-conflict-<time>, or, for a name too long for that,
 * <folder>/swiftfs-conflict-<time>-<hash of the name>. NULL: none found. */
static char *conflict_name(const struct swiftfs_upload_cfg *cfg, const char *object)
{
	char stamp[32], tail[24] = "";
	char *head = NULL, *name = NULL;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (strlen(object) + 48 <= 1024) {
		if (asprintf(&head, "%s.swiftfs-conflict", object) < 0)
			return NULL;
	} else {
		unsigned long long h = 1469598103934665603ULL; /* FNV-1a */
		for (const unsigned char *p = (const unsigned char *)object; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		const char *slash = strrchr(object, '/');
		int dl = slash ? (int)(slash - object) + 1 : 0;
		if (dl > 900)
			return NULL; /* no room even so */
		snprintf(tail, sizeof(tail), "-%016llx", h);
		if (asprintf(&head, "%.*sswiftfs-conflict", dl, object) < 0)
			return NULL;
	}
	for (int i = 1; i < 100 && !name; i++) {
		struct swiftfs_req r;
		char *cand = NULL;
		if ((i == 1 ? asprintf(&cand, "%s-%s%s", head, stamp, tail) :
			      asprintf(&cand, "%s-%s%s-%d", head, stamp, tail, i)) < 0)
			break;
		swift_req_init(&r, "HEAD");
		r.container = cfg->container;
		r.object = cand;
		r.flags = SWIFT_REQ_QUIET_404; /* the answer hoped for */
		int rc = swift_request(cfg->client, &r);
		swift_req_cleanup(&r);
		if (rc == -ENOENT)
			name = cand;
		else
			free(cand);
		if (rc && rc != -ENOENT)
			break;
	}
	free(head);
	return name;
}

/* recover_one's verdicts that are not an upload's -errno */
#define REC_UNTRUSTED 1 /* left alone, never acted on (record_sane) */
#define REC_GONE 2      /* its data is gone, and so is the record now */

/* Upload one record's object; 0 when it is in Swift (record and staged
 * file then removed). */
static int recover_one(const char *dir, const char *path, struct swiftfs_wb_record *rec,
		       const struct swiftfs_upload_cfg *cfg)
{
	char *conflict = NULL;
	struct swiftfs_upload_result res;
	struct swiftfs_seglist old = { 0 };
	const char **hdrs = NULL;
	struct stat sb;
	if (!record_sane(dir, rec)) {
		LOGE("writeback: %s names a file outside this cache folder, or no object; it is "
		     "left alone, and nothing is uploaded from it", path);
		return REC_UNTRUSTED;
	}
	int rc, fd = open(rec->staged, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		rc = -errno;
		LOGE("writeback: the staged data of %s (%s) is gone: %s; it cannot be uploaded",
		     rec->object, rec->staged, strerror(errno));
		if (rc != -ENOENT)
			return rc;
		unlink(path); /* nothing left to upload */
		return REC_GONE;
	}
	if (fstat(fd, &sb) || (uint64_t)sb.st_size < rec->size) {
		LOGE("writeback: the staged data of %s (%s) is shorter than recorded; kept, not "
		     "uploaded", rec->object, rec->staged);
		rc = -EIO;
		goto out;
	}
	hdrs = calloc(rec->nheaders + 1, sizeof(*hdrs));
	if (!hdrs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0, j = 0; i < rec->nheaders; i++)
		if (!upload_header_expired(rec->headers[i]))
			hdrs[j++] = rec->headers[i];
	bool slo;
	rc = changed_since(cfg, rec, fd, &slo);
	if (rc < 0) {
		LOGE("writeback: cannot check %s before its upload: %s; its data stays in %s",
		     rec->object, strerror(-rc), rec->staged);
		goto out;
	}
	if (rc) {
		conflict = conflict_name(cfg, rec->object);
		if (!conflict) {
			LOGE("writeback: %s was changed by another client since an earlier mount "
			     "closed it, and no free name for its data was found; the data stays in "
			     "%s", rec->object, rec->staged);
			rc = -EIO;
			goto out;
		}
	} else if (slo) {
		/* the SLO this replaces leaves its segments to delete: find them
		 * first (a failure leaves them, as orphans) */
		upload_slo_segments(cfg, rec->object, &old);
	}
	const char *dest = conflict ? conflict : rec->object;
	rc = upload_object(cfg, dest, fd, rec->size, rec->content_type, hdrs, &res);
	if (rc) {
		LOGE("writeback: upload of %s after a restart failed: %s; its data stays in %s",
		     dest, strerror(-rc), rec->staged);
		goto out;
	}
	if (conflict)
		LOGE("writeback: %s was changed by another client after an earlier mount closed "
		     "it and before that data was uploaded: the object is left as the other client "
		     "made it, and the data (%" PRIu64 " bytes) is now %s", rec->object, rec->size,
		     conflict);
	else
		LOGI("writeback: uploaded %s (%" PRIu64 " bytes), left pending by an earlier mount",
		     rec->object, rec->size);
	upload_delete_replaced(cfg, rec->object, &res, &old);
	unlink(rec->staged);
	unlink(path);
out:
	upload_seglist_free(&old);
	free(conflict);
	free(hdrs);
	close(fd);
	return rc;
}

int wb_recover(const char *dir, const char *account, const struct swiftfs_upload_cfg *cfg,
	       void (*stale)(void *arg, const char *object, const char *record,
			     const char *staged),
	       void *arg)
{
	struct wb_item *v = NULL;
	size_t n = 0, cap = 0;
	int pending = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat sb;
		char *p = NULL;
		if (de->d_name[0] == '.' || len < 4 || strcmp(de->d_name + len - 3, ".wb") != 0)
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (stat(p, &sb)) {
			free(p);
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct wb_item *nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				free(p);
				continue;
			}
			v = nv;
			cap = nc;
		}
		v[n].path = p;
		v[n].t = sb.st_mtime;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_mtime);
	for (size_t i = 0; i < n; i++) {
		struct swiftfs_wb_record rec;
		int rr = wb_record_read(v[i].path, &rec);
		if (rr == -EINVAL) {
			LOGW("writeback: %s is not a whole record (torn by a crash before it was "
			     "complete?); its file was never reported written, so it is removed",
			     v[i].path);
			unlink(v[i].path);
		} else if (rr == -ENOENT) {
			/* gone since it was listed (another mount sharing the
			 * folder took it up) */
		} else if (rr) {
			/* unreadable now (no memory, no descriptors, a disk
			 * error): a whole record, maybe, of data whose close
			 * succeeded; the next mount tries again */
			LOGE("writeback: cannot read the record %s (%s): kept for the next mount",
			     v[i].path, strerror(-rr));
			pending++;
		} else {
			/* not of a live mount (its upload is queued, not
			 * interrupted) */
			int rc = 0;
			if (strcmp(rec.container, cfg->container) == 0 &&
			    (!rec.account || !account || strcmp(rec.account, account) == 0) &&
			    !(rec.owner && owner_alive(dir, rec.owner)))
				rc = recover_one(dir, v[i].path, &rec, cfg);
			if (rc && rc != REC_GONE)
				pending++;
			if (rc < 0 && stale) /* a valid record whose upload failed */
				stale(arg, rec.object, v[i].path, rec.staged);
			wb_record_free(&rec);
		}
		free(v[i].path);
	}
	free(v);
	owners_sweep(dir);
	return pending;
}
