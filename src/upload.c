/* Upload of staged data (see upload.h for the layout and guarantees). The
 * MD5 of every body is computed from the staging file before it is sent,
 * and sent as ETag: Swift checks it on arrival. Segments are streamed from
 * the file with pread by the request path's read callback, so memory does
 * not grow with the object. */
#include "swiftfs/upload.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sys/file.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "swiftfs/listing.h"
#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"
#include "swiftfs/workpool.h"

int upload_md5_fd(int fd, uint64_t off, uint64_t len, char hex[33])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	/* no bigger than the range: a small file's upload should not map
	 * and unmap a fresh megabyte */
	size_t bufsz = len < (1 << 20) ? (size_t)len + 1 : 1 << 20;
	char *buf = malloc(bufsz);
	int rc = 0;

	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	while (len > 0) {
		size_t want = len < bufsz ? (size_t)len : bufsz;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16) {
		rc = -EIO;
		goto out;
	}
	util_hex(md, 16, hex);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

int upload_json_string(struct swiftfs_buf *b, const char *s)
{
	int rc = buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if (*p == '"' || *p == '\\')
			rc = buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			rc = buf_printf(b, "\\u%04x", *p);
		else
			rc = buf_append(b, p, 1);
	}
	return rc ? rc : buf_append(b, "\"", 1);
}

/* --- content types --------------------------------------------------- */

struct mime_entry {
	char *ext;
	char *type;
};

static struct mime_entry *mime_table;
static size_t mime_n;
static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static const struct { const char *ext, *type; } builtin_types[] = {
	{ "txt", "text/plain" }, { "csv", "text/csv" }, { "json", "application/json" },
	{ "html", "text/html" }, { "htm", "text/html" }, { "xml", "application/xml" },
	{ "md", "text/markdown" }, { "png", "image/png" }, { "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" }, { "gif", "image/gif" }, { "pdf", "application/pdf" },
	{ "gz", "application/gzip" }, { "tgz", "application/gzip" }, { "zip", "application/zip" },
	{ "tar", "application/x-tar" }, { "nc", "application/x-netcdf" },
	{ "h5", "application/x-hdf5" }, { "zarray", "application/json" },
	{ "zattrs", "application/json" }, { "zgroup", "application/json" },
	{ "zmetadata", "application/json" }, { "sh", "text/x-shellscript" },
	{ "py", "text/x-python" }, { "c", "text/x-csrc" }, { "h", "text/x-chdr" },
};

static void mime_load(void)
{
	FILE *f = fopen("/etc/mime.types", "r");
	char line[1024];
	size_t cap = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		char *save = NULL;
		char *type = strtok_r(line, " \t\r\n", &save);
		if (!type)
			continue;
		for (char *ext = strtok_r(NULL, " \t\r\n", &save); ext;
		     ext = strtok_r(NULL, " \t\r\n", &save)) {
			if (mime_n == cap) {
				cap = cap ? cap * 2 : 512;
				struct mime_entry *t = realloc(mime_table, cap * sizeof(*t));
				if (!t)
					goto done;
				mime_table = t;
			}
			mime_table[mime_n].ext = strdup(ext);
			mime_table[mime_n].type = strdup(type);
			if (mime_table[mime_n].ext && mime_table[mime_n].type)
				mime_n++;
		}
	}
done:
	fclose(f);
}

const char *upload_guess_type(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	const char *dot = strrchr(base, '.');
	if (!dot || !dot[1])
		return "application/octet-stream";
	const char *ext = dot + 1;
	pthread_once(&mime_once, mime_load);
	for (size_t i = 0; i < ARRAY_SIZE(builtin_types); i++)
		if (strcasecmp(builtin_types[i].ext, ext) == 0)
			return builtin_types[i].type;
	for (size_t i = 0; i < mime_n; i++)
		if (strcasecmp(mime_table[i].ext, ext) == 0)
			return mime_table[i].type;
	return "application/octet-stream";
}

/* --- single PUT ------------------------------------------------------- */

/* PUT [off, off+len) of fd as container/object. An object's MD5 is
 * computed first and sent as ETag, so Swift refuses a body corrupted on
 * the way. A segment (segment true) is hashed as it is sent instead, and
 * checked against the ETag Swift answers: the data is read once, and its
 * hashing stays off the writer's path (a segment is only reachable
 * through a manifest, which lists that hash too). *stored (if given) is
 * set once Swift took the body, checked or not: a segment that failed the
 * check is still there, for the caller to delete. */
/* More headers than any cluster's metadata limits allow: refused whole
 * rather than sent with some left out (metadata lost without a word). */
#define UPLOAD_MAX_HEADERS 500
static bool too_many_headers(const char *const *h)
{
	size_t n = 0;
	while (h && h[n])
		n++;
	if (n > UPLOAD_MAX_HEADERS)
		LOGE("an upload with %zu metadata headers: more than %d, refused", n,
		     UPLOAD_MAX_HEADERS);
	return n > UPLOAD_MAX_HEADERS;
}

static int put_range(struct swiftfs_client *c, const char *container, const char *object,
		     const char *query, int fd, uint64_t off, uint64_t len,
		     const char *content_type, const char *const *extra, bool segment,
		     char etag_out[72], bool *stored)
{
	char md5[33] = "", hetag[64], hctype[300];
	const char *hdrs[UPLOAD_MAX_HEADERS + 3];
	size_t nh = 0;
	struct swiftfs_req r;
	int rc = 0;

	if (too_many_headers(extra))
		return -E2BIG;

	if (!segment) {
		rc = upload_md5_fd(fd, off, len, md5);
		if (rc)
			return rc;
		snprintf(hetag, sizeof(hetag), "ETag: %s", md5);
		hdrs[nh++] = hetag;
	}
	if (content_type) {
		snprintf(hctype, sizeof(hctype), "Content-Type: %s", content_type);
		hdrs[nh++] = hctype;
	}
	for (const char *const *h = extra; h && *h; h++)
		hdrs[nh++] = *h;
	hdrs[nh] = NULL;
	swift_req_init(&r, "PUT");
	r.container = container;
	r.object = object;
	r.query = query;
	r.headers = hdrs;
	r.has_body = true;
	r.send_fd = fd;
	r.send_off = (off_t)off;
	r.send_len = len;
	r.send_md5 = segment;
	rc = swift_request(c, &r);
	if (rc) {
		char what[300];
		swift_describe_error(&r, what, sizeof(what));
		if (r.status == 422)
			LOGE("%s: Swift found the body corrupted (ETag mismatch)", what);
		else
			LOGE("upload failed: %s", what);
		goto out;
	}
	char got[72];
	swift_req_etag(&r, got, sizeof(got));
	if (stored)
		*stored = true;
	if (segment) {
		/* no ETag in the answer (a gateway in between): the manifest,
		 * which lists what was sent, is checked against the segment */
		if (!r.sent_md5[0] || (got[0] && strcasecmp(got, r.sent_md5) != 0)) {
			LOGE("upload of %s/%s: Swift stored a body with MD5 %s, %s was sent "
			     "(corrupted on the way)", container, object, got,
			     r.sent_md5[0] ? r.sent_md5 : "(not hashed)");
			rc = -EIO;
			goto out;
		}
		snprintf(md5, sizeof(md5), "%s", r.sent_md5);
	}
	if (etag_out) /* without quotes */
		snprintf(etag_out, 72, "%s", got[0] ? got : md5);
out:
	swift_req_cleanup(&r);
	return rc;
}

/* --- SLO -------------------------------------------------------------- */

struct seg_job {
	struct swiftfs_slo_stream *s;
	char *name;
	int fd;
	uint64_t off, len;
	char etag[72];
	int rc;
	bool done;
	bool stored;   /* Swift took it (maybe failing our check): delete on abort */
};

/* Segments being uploaded for one manifest: added while a file is written
 * (streaming) or all at once at close. Jobs run on the worker pool; each
 * streams its range from the staging file. */
struct swiftfs_slo_stream {
	const struct swiftfs_upload_cfg *cfg;
	char *journal;       /* this upload's record, removed when it ends */
	int journal_fd;      /* held with flock while the upload lives: another
			      * mount's recovery leaves the record alone */
	char *object;
	char *segc;          /* <container>_segments */
	char *prefix;        /* segment name without the index */
	char stamp[32];      /* its time component (upload_stamp) */
	uint64_t segsz;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned pending;    /* lock */
	int rc;              /* lock: first failure */
	struct seg_job **jobs;
	size_t n, cap;
	bool container_ok;
};

static void seg_job_run(void *arg)
{
	struct seg_job *j = arg;
	struct swiftfs_slo_stream *s = j->s;
	int rc = put_range(s->cfg->client, s->segc, j->name, NULL, j->fd, j->off, j->len, NULL,
			   NULL, true, j->etag, &j->stored);
	pthread_mutex_lock(&s->lock);
	j->rc = rc;
	j->done = true;
	if (rc && !s->rc)
		s->rc = rc;
	s->pending--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static int ensure_container(struct swiftfs_client *c, const char *container)
{
	struct swiftfs_req r;
	swift_req_init(&r, "PUT");
	r.container = container;
	int rc = swift_request(c, &r);
	swift_req_cleanup(&r);
	return rc;
}

/* --- journal of uploads under way ------------------------------------ */

#define JOURNAL_MAGIC "swiftfs-upload 4"
#define JOURNAL_MAGIC_V3 "swiftfs-upload 3" /* no manifest line */
#define JOURNAL_MAGIC_V2 "swiftfs-upload 2" /* no account line either */

/* Record "account, segment container, segment prefix, object, manifest"
 * (URL-encoded: names may hold newlines) before the first segment goes
 * up, so that a crash leaves a note of what to clean. object owns the
 * prefix (<object>/slo/...); manifest is where the manifest goes (another
 * name when the file was renamed while its segments streamed). The record
 * stays locked (flock, *fd) while the upload lives: mounts sharing the
 * cache folder recover only records no live upload holds. Version 3 and
 * older swiftfs leave a version 4 record alone. */
static char *journal_add(const struct swiftfs_upload_cfg *cfg, const char *segc,
			 const char *prefix, const char *object, const char *manifest, int *fd)
{
	char *path = NULL, *tmp = NULL, *ea = NULL, *es = NULL, *ep = NULL, *eo = NULL;
	char *em = NULL;
	char md5[33];
	*fd = -1;
	if (!cfg->journal_dir)
		return NULL;
	/* name: a digest of the prefix (unique per upload: it holds a time) */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!ctx)
		return NULL;
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, prefix, strlen(prefix));
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	util_hex(md, 16, md5);
	ea = util_url_encode(cfg->account ? cfg->account : "", false);
	es = util_url_encode(segc, false);
	ep = util_url_encode(prefix, false);
	eo = util_url_encode(object, false);
	em = util_url_encode(manifest, false);
	if (!ea || !es || !ep || !eo || !em || asprintf(&path, "%s/%s.upload", cfg->journal_dir, md5) < 0 ||
	    asprintf(&tmp, "%s.tmp", path) < 0)
		goto fail;
	int tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (tfd < 0 || flock(tfd, LOCK_EX) != 0) {
		if (tfd >= 0)
			close(tfd);
		goto fail;
	}
	if (dprintf(tfd, "%s\n%s\n%s\n%s\n%s\n%s\n", JOURNAL_MAGIC, ea, es, ep, eo, em) < 0 ||
	    fsync(tfd) != 0 || rename(tmp, path) != 0) {
		close(tfd);
		goto fail;
	}
	/* the record's name too, before any segment goes up: a power loss
	 * must not leave segments no record names */
	util_fsync_dir(cfg->journal_dir);
	*fd = tfd;
	free(tmp);
	free(ea);
	free(es);
	free(ep);
	free(eo);
	free(em);
	return path;
fail:
	LOGW("cannot record an upload in %s: %s", cfg->journal_dir, strerror(errno));
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(path);
	free(ea);
	free(es);
	free(ep);
	free(eo);
	free(em);
	return NULL;
}

/* Read a record: its fields, decoded (*account NULL: a record of before
 * version 3, which does not say). False when it is not one this version
 * can trust (torn, or an old record whose fields are not encoded and do
 * not check out). */
static bool journal_read(FILE *f, char **account, char **segc, char **prefix, char **object,
			 char **manifest)
{
	char *line[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
	size_t cap[6] = { 0, 0, 0, 0, 0, 0 };
	int n = 0;
	bool ok = true;
	while (n < 6 && ok) {
		ssize_t got = getline(&line[n], &cap[n], f);
		if (got < 0)
			break;
		ok = got > 0 && line[n][got - 1] == '\n'; /* else torn */
		if (ok)
			line[n][got - 1] = '\0';
		n++;
	}
	*account = *segc = *prefix = *object = *manifest = NULL;
	if (ok && n == 6 && strcmp(line[0], JOURNAL_MAGIC) == 0) {
		*account = util_url_decode(line[1]);
		*segc = util_url_decode(line[2]);
		*prefix = util_url_decode(line[3]);
		*object = util_url_decode(line[4]);
		*manifest = util_url_decode(line[5]);
		ok = *account && *manifest;
	} else if (ok && n == 5 && strcmp(line[0], JOURNAL_MAGIC_V3) == 0) {
		*account = util_url_decode(line[1]);
		*segc = util_url_decode(line[2]);
		*prefix = util_url_decode(line[3]);
		*object = util_url_decode(line[4]);
		ok = *account != NULL;
	} else if (ok && n == 4 && strcmp(line[0], JOURNAL_MAGIC_V2) == 0) {
		*segc = util_url_decode(line[1]);
		*prefix = util_url_decode(line[2]);
		*object = util_url_decode(line[3]);
	} else if (ok && n == 3 && strncmp(line[0], "swiftfs-upload ", 15) != 0) {
		/* before version 2: raw lines */
		*segc = strdup(line[0]);
		*prefix = strdup(line[1]);
		*object = strdup(line[2]);
	} else {
		ok = false;
	}
	for (int i = 0; i < 6; i++)
		free(line[i]);
	ok = ok && *segc && *prefix && *object;
	/* the prefix is the object's own: <object>/slo/... */
	size_t ol = ok ? strlen(*object) : 0;
	ok = ok && ol && strncmp(*prefix, *object, ol) == 0 && strncmp(*prefix + ol, "/slo/", 5) == 0;
	if (ok && !*manifest)
		ok = (*manifest = strdup(*object)) != NULL;
	if (!ok) {
		free(*account);
		free(*segc);
		free(*prefix);
		free(*object);
		free(*manifest);
		*account = *segc = *prefix = *object = *manifest = NULL;
	}
	return ok;
}

/* Whether object is an SLO whose manifest names a segment under
 * /segc/prefix. 0 (also when there is no such object), or -errno. */
static int manifest_uses(const struct swiftfs_upload_cfg *cfg, const char *object,
			 const char *segc, const char *prefix, bool *in_use)
{
	struct swiftfs_seglist used = { 0 };
	char *want = NULL;
	*in_use = false;
	/* a HEAD first: the manifest GET of a plain object is its body, which
	 * may be gigabytes */
	int rc = upload_slo_segments_if_slo(cfg, object, &used);
	if (!rc && used.n && asprintf(&want, "/%s/%s", segc, prefix) < 0) {
		want = NULL;
		rc = -ENOMEM;
	}
	for (size_t i = 0; want && i < used.n && !*in_use; i++)
		*in_use = strncmp(used.paths[i], want, strlen(want)) == 0;
	upload_seglist_free(&used);
	free(want);
	return rc;
}

void upload_recover(const struct swiftfs_upload_cfg *cfg)
{
	DIR *d = cfg->journal_dir ? opendir(cfg->journal_dir) : NULL;
	char *own = NULL;
	if (!d)
		return;
	if (asprintf(&own, "%s_segments", cfg->container) < 0) {
		closedir(d);
		return;
	}
	for (struct dirent *de = readdir(d); de; de = readdir(d)) {
		size_t len = strlen(de->d_name);
		if (len < 8 || strcmp(de->d_name + len - 7, ".upload") != 0)
			continue;
		char *path = NULL, *account = NULL, *segc = NULL, *prefix = NULL, *object = NULL;
		char *manifest = NULL;
		if (asprintf(&path, "%s/%s", cfg->journal_dir, de->d_name) < 0)
			continue;
		FILE *f = fopen(path, "r");
		if (!f) {
			free(path);
			continue;
		}
		/* a live upload (this or another mount sharing the folder)
		 * holds its record locked: not an interrupted one */
		struct stat held, named;
		if (flock(fileno(f), LOCK_EX | LOCK_NB) != 0 || fstat(fileno(f), &held) != 0 ||
		    stat(path, &named) != 0 || held.st_ino != named.st_ino ||
		    held.st_dev != named.st_dev) {
			/* locked; or replaced after it was opened (a live upload
			 * renamed its record over it, and holds the new one) */
			fclose(f);
			free(path);
			continue;
		}
		bool ok = journal_read(f, &account, &segc, &prefix, &object, &manifest);
		if (!ok) {
			LOGW("upload record %s cannot be trusted (torn, or names it cannot tell "
			     "apart); it is left, with any segments it names", path);
			goto next;
		}
		/* another container's, or another account's (the cache folder
		 * is one per user by default): its own mount recovers it */
		if (strcmp(segc, own) != 0 ||
		    (account && account[0] && cfg->account && strcmp(account, cfg->account) != 0))
			goto next;
		/* does the manifest (under the name the upload went to, or
		 * the one it started under) use these segments? */
		bool in_use = false;
		int rc = manifest_uses(cfg, manifest, segc, prefix, &in_use);
		if (!rc && !in_use && strcmp(manifest, object) != 0)
			rc = manifest_uses(cfg, object, segc, prefix, &in_use);
		if (rc)
			goto next; /* Swift unreachable: try again next mount */
		if (!in_use && (upload_versioning(cfg) & UPLOAD_KEEPS_REPLACED)) {
			/* our manifest may have gone up and been replaced since:
			 * an earlier version, which the container keeps, that
			 * uses these segments */
			LOGW("the segments of an interrupted upload of %s stay: the container keeps "
			     "versions, and one may use them", object);
		} else if (!in_use) {
			struct swiftfs_lpage page = { 0 };
			struct swiftfs_seglist orphans = { 0 };
			rc = listing_fetch(cfg->client, segc, prefix, false, 0, &page, NULL);
			orphans.paths = calloc(page.n ? page.n : 1, sizeof(char *));
			for (size_t i = 0; !rc && orphans.paths && i < page.n; i++)
				if (asprintf(&orphans.paths[orphans.n], "/%s/%s", segc, page.v[i].name) >= 0)
					orphans.n++;
			if (!rc && orphans.n) {
				rc = upload_delete_segments(cfg, &orphans);
				LOGI("deleted %zu orphan segment(s) of an interrupted upload of %s", orphans.n,
				     object);
			}
			upload_seglist_free(&orphans);
			listing_page_free(&page);
		}
		if (!rc || rc == -ENOENT)
			unlink(path);
next:
		fclose(f); /* and its lock */
		free(account);
		free(segc);
		free(prefix);
		free(object);
		free(manifest);
		free(path);
	}
	free(own);
	closedir(d);
}

/* The time component of a segment name: the upload's start, in
 * microseconds, never the same twice in one process. python-swiftclient
 * puts the file's mtime there, but a re-upload with the mtime and size
 * of the SLO it replaces (a file rewritten in place whose mtime is set
 * back, as tar and cp -p do) would then write over the live version's
 * segments, and a failure would delete them. */
static void upload_stamp(char out[32])
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	pthread_mutex_lock(&lock);
	if (us <= last)
		us = last + 1;
	last = us;
	pthread_mutex_unlock(&lock);
	snprintf(out, 32, "%llu.%06llu", (unsigned long long)(us / 1000000),
		 (unsigned long long)(us % 1000000));
}

int upload_stream_new(const struct swiftfs_upload_cfg *cfg, const char *object, uint64_t size,
		      uint64_t segsz, struct swiftfs_slo_stream **out)
{
	struct swiftfs_slo_stream *s = calloc(1, sizeof(*s));
	int n;
	if (!s)
		return -ENOMEM;
	upload_stamp(s->stamp);
	s->journal_fd = -1;
	s->cfg = cfg;
	s->segsz = segsz;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->object = strdup(object);
	/* python-swiftclient's layouts: with the size when it is known, and
	 * its streaming (stdin) form without it */
	if (size)
		n = asprintf(&s->prefix, "%s/slo/%s/%llu/%llu/", object, s->stamp,
			     (unsigned long long)size, (unsigned long long)segsz);
	else
		n = asprintf(&s->prefix, "%s/slo/%s/%llu/", object, s->stamp,
			     (unsigned long long)segsz);
	if (n < 0)
		s->prefix = NULL;
	if (asprintf(&s->segc, "%s_segments", cfg->container) < 0)
		s->segc = NULL;
	if (!s->object || !s->prefix || !s->segc) {
		upload_stream_abort(s);
		return -ENOMEM;
	}
	s->journal = journal_add(cfg, s->segc, s->prefix, object, object, &s->journal_fd);
	*out = s;
	return 0;
}

size_t upload_stream_count(const struct swiftfs_slo_stream *s)
{
	return s->n;
}

int upload_stream_add(struct swiftfs_slo_stream *s, int fd, uint64_t off, uint64_t len)
{
	if (!s->container_ok) {
		int rc = ensure_container(s->cfg->client, s->segc);
		if (rc) {
			LOGE("cannot create the segment container %s: %s", s->segc, strerror(-rc));
			return rc;
		}
		s->container_ok = true;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct seg_job **v = realloc(s->jobs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->jobs = v;
		s->cap = cap;
	}
	struct seg_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->s = s;
	j->fd = fd;
	j->off = off;
	j->len = len;
	if (asprintf(&j->name, "%s%08zu", s->prefix, s->n) < 0) {
		free(j);
		return -ENOMEM;
	}
	s->jobs[s->n++] = j;
	pthread_mutex_lock(&s->lock);
	s->pending++;
	pthread_mutex_unlock(&s->lock);
	if (workpool_submit(s->cfg->pool, seg_job_run, j)) {
		pthread_mutex_lock(&s->lock);
		s->pending--;
		j->done = true;
		j->rc = -ENOMEM;
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	return 0;
}

static int stream_wait(struct swiftfs_slo_stream *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->pending)
		pthread_cond_wait(&s->cond, &s->lock);
	int rc = s->rc;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void stream_free(struct swiftfs_slo_stream *s)
{
	if (s->journal) {
		unlink(s->journal); /* the upload ended: committed or cleaned */
		free(s->journal);
	}
	if (s->journal_fd >= 0) {
		close(s->journal_fd); /* and its lock */
		s->journal_fd = -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		free(s->jobs[i]->name);
		free(s->jobs[i]);
	}
	free(s->jobs);
	free(s->object);
	free(s->segc);
	free(s->prefix);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void upload_stream_abort(struct swiftfs_slo_stream *s)
{
	if (!s)
		return;
	stream_wait(s);
	/* no partial object: remove what was uploaded */
	struct swiftfs_seglist l = { 0 };
	l.paths = calloc(s->n ? s->n : 1, sizeof(char *));
	/* every segment sent, not only those Swift confirmed: one whose
	 * answer was lost may be stored (a 404 for the others is harmless) */
	for (size_t i = 0; l.paths && i < s->n; i++)
		if (asprintf(&l.paths[l.n], "/%s/%s", s->segc, s->jobs[i]->name) >= 0)
			l.n++;
	if (l.n && upload_delete_segments(s->cfg, &l) && s->journal) {
		/* keep the record: the next mount deletes what is left */
		LOGW("could not delete the segments of a failed upload of %s; the next mount "
		     "tries again", s->object);
		free(s->journal);
		s->journal = NULL;
	}
	upload_seglist_free(&l);
	stream_free(s);
}

static int put_manifest(struct swiftfs_slo_stream *s, const char *object,
			const char *content_type, const char *const *headers, long *status)
{
	struct swiftfs_buf manifest = { 0 };
	if (too_many_headers(headers))
		return -E2BIG;
	int rc = buf_append(&manifest, "[", 1);
	for (size_t i = 0; i < s->n && !rc; i++) {
		char *path = NULL;
		if (asprintf(&path, "/%s/%s", s->segc, s->jobs[i]->name) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = buf_printf(&manifest, "%s{\"path\": ", i ? ", " : "");
		if (!rc)
			rc = upload_json_string(&manifest, path);
		if (!rc)
			rc = buf_printf(&manifest, ", \"etag\": \"%s\", \"size_bytes\": %llu}",
					s->jobs[i]->etag, (unsigned long long)s->jobs[i]->len);
		free(path);
	}
	if (!rc)
		rc = buf_append(&manifest, "]", 1);
	if (!rc) {
		char hctype[300];
		const char *hdrs[UPLOAD_MAX_HEADERS + 2];
		size_t nh = 0;
		struct swiftfs_req r;
		snprintf(hctype, sizeof(hctype), "Content-Type: %s", content_type);
		hdrs[nh++] = hctype;
		for (const char *const *h = headers; h && *h && nh < UPLOAD_MAX_HEADERS + 1; h++)
			hdrs[nh++] = *h;
		hdrs[nh] = NULL;
		swift_req_init(&r, "PUT");
		r.container = s->cfg->container;
		r.object = object;
		r.query = "multipart-manifest=put";
		r.flags = SWIFT_REQ_SLOW_ANSWER; /* Swift checks every segment first */
		r.headers = hdrs;
		r.has_body = true;
		r.send_buf = manifest.data;
		r.send_len = manifest.len;
		rc = swift_request(s->cfg->client, &r);
		*status = r.status;
		if (rc) {
			char what[300];
			swift_describe_error(&r, what, sizeof(what));
			LOGE("manifest upload failed: %s %.200s", what,
			     r.resp_body.data ? r.resp_body.data : "");
		}
		swift_req_cleanup(&r);
	}
	buf_free(&manifest);
	return rc;
}

/* The ETag Swift gives an SLO: the MD5 of its segments' ETags, in order. */
static int slo_etag(const struct swiftfs_slo_stream *s, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1;
	for (size_t i = 0; ok && i < s->n; i++)
		ok = EVP_DigestUpdate(ctx, s->jobs[i]->etag, strlen(s->jobs[i]->etag)) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -ENOMEM;
	util_hex(md, 16, out);
	return 0;
}

/* Whether object holds the manifest of s, whose PUT got no clear answer
 * (Swift gives an SLO the MD5 of its segments' ETags): 1 it does, 0 it
 * holds something else or nothing, -errno the HEAD got no answer either. */
static int manifest_landed(const struct swiftfs_slo_stream *s, const char *object)
{
	char want[72], got[72] = "";
	struct swiftfs_req r;
	if (slo_etag(s, want))
		return -ENOMEM;
	swift_req_init(&r, "HEAD");
	r.container = s->cfg->container;
	r.object = object;
	r.flags = SWIFT_REQ_QUIET_404;
	int rc = swift_request(s->cfg->client, &r);
	if (!rc)
		swift_req_etag(&r, got, sizeof(got));
	swift_req_cleanup(&r);
	if (rc == -ENOENT)
		return 0;
	return rc ? rc : strcmp(got, want) == 0;
}

int upload_stream_finish(struct swiftfs_slo_stream *s, const char *object, int fd,
			 uint64_t covered, uint64_t size, const char *content_type,
			 const char *const *headers, struct swiftfs_upload_result *res)
{
	int rc = 0;
	memset(res, 0, sizeof(*res));
	/* what was not streamed yet */
	for (uint64_t off = covered; off < size && !rc; off += s->segsz)
		rc = upload_stream_add(s, fd, off, size - off < s->segsz ? size - off : s->segsz);
	int wrc = stream_wait(s);
	if (!rc)
		rc = wrc;
	if (!rc && s->journal && strcmp(object, s->object) != 0) {
		/* renamed while streamed: the record must name the object the
		 * manifest goes to, or a recovery would find no manifest using
		 * the segments under the old name and delete the new object's
		 * data (the same record, rewritten: its name is the prefix's) */
		int nfd;
		char *nj = journal_add(s->cfg, s->segc, s->prefix, s->object, object, &nfd);
		if (nj) {
			close(s->journal_fd); /* the old record's lock; it was replaced */
			free(s->journal);
			s->journal = nj;
			s->journal_fd = nfd;
		} else {
			LOGE("%s: cannot rewrite the upload record for the new name", object);
			rc = -EIO;
		}
	}
	long status = -1;
	if (!rc)
		rc = put_manifest(s, object, content_type, headers, &status);
	/* no answer, or the proxy's: Swift may have stored it all the same */
	int landed = rc && (status == 0 || status >= 500) ? manifest_landed(s, object) : 0;
	if (landed == 0 && rc && status == 0)
		landed = -EAGAIN; /* no answer: the PUT may still be under way there */
	if (landed > 0) {
		LOGI("%s: the manifest is in Swift; its PUT's answer was lost", object);
		rc = 0;
	} else if (landed < 0) {
		/* not known: the segments and the record stay, and the next
		 * mount's recovery deletes them if no manifest uses them */
		LOGW("%s: whether the manifest reached Swift is not known; its segments stay "
		     "until the next mount checks them", object);
		/* the record's lock stays held until the daemon exits (its
		 * descriptor is left open on purpose, one per such rare
		 * failure): another mount sharing the cache folder must not
		 * decide about these segments while the PUT may still land */
		s->journal_fd = -1;
		free(s->journal);
		s->journal = NULL;
		stream_free(s);
		return rc;
	}
	if (rc) {
		upload_stream_abort(s); /* no manifest: the segments are nobody's */
		return rc;
	}
	/* The manifest is in Swift (Swift checked every segment's size and
	 * MD5 against it): from here on the segments are never deleted, or
	 * the object just made would lose its data. A HEAD checks the size. */
	res->slo = true;
	snprintf(res->stamp, sizeof(res->stamp), "%s", s->stamp);
	struct swiftfs_req r;
	swift_req_init(&r, "HEAD");
	r.container = s->cfg->container;
	r.object = object;
	int hrc = swift_request(s->cfg->client, &r);
	const char *cl = swift_req_header(&r, "Content-Length");
	const char *e = swift_req_header(&r, "ETag");
	bool keep_record = false;
	if (!hrc && cl && strtoull(cl, NULL, 10) == size && e) {
		swift_req_etag(&r, res->etag, sizeof(res->etag));
	} else {
		if (hrc)
			LOGW("%s: the upload is in Swift, but the HEAD that checks it failed (%s)",
			     object, strerror(-hrc));
		else
			/* another client replaced it right after: its segments
			 * are ours to delete if no manifest uses them, which
			 * the next mount's recovery finds out from the record */
			LOGW("%s: Swift reports %s bytes right after the upload of %llu (replaced "
			     "by another client?)", object, cl ? cl : "no", (unsigned long long)size);
		keep_record = !hrc;
		rc = slo_etag(s, res->etag);
	}
	swift_req_cleanup(&r);
	if (keep_record && s->journal) {
		free(s->journal);
		s->journal = NULL;
	}
	stream_free(s);
	return rc;
}

static int upload_slo(const struct swiftfs_upload_cfg *cfg, const char *object, int fd,
		      uint64_t size, const char *content_type, const char *const *headers,
		      struct swiftfs_upload_result *res)
{
	uint64_t segsz = cfg->segment_size;
	unsigned max = cfg->max_segments ? cfg->max_segments : 1000;
	struct swiftfs_slo_stream *s;

	/* more segments than a manifest may hold: grow them (in MiB steps) */
	if ((size + segsz - 1) / segsz > max) {
		segsz = (size + max - 1) / max;
		segsz = (segsz + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1);
		LOGI("%s: %llu bytes need segments of %llu bytes to stay within %u per manifest",
		     object, (unsigned long long)size, (unsigned long long)segsz, max);
	}
	int rc = upload_stream_new(cfg, object, size, segsz, &s);
	if (rc)
		return rc;
	return upload_stream_finish(s, object, fd, 0, size, content_type, headers, res);
}

int upload_object(const struct swiftfs_upload_cfg *cfg, const char *object, int fd,
		  uint64_t size, const char *content_type, const char *const *headers,
		  struct swiftfs_upload_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!content_type)
		content_type = upload_guess_type(object);
	if (size > cfg->segment_size)
		return upload_slo(cfg, object, fd, size, content_type, headers, res);
	int rc = put_range(cfg->client, cfg->container, object, NULL, fd, 0, size, content_type,
			   headers, false, res->etag, NULL);
	return rc;
}

/* --- segments of an existing SLO -------------------------------------- */

int upload_slo_segments(const struct swiftfs_upload_cfg *cfg, const char *object,
			struct swiftfs_seglist *out)
{
	struct swiftfs_req r;
	json_object *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	swift_req_init(&r, "GET");
	r.container = cfg->container;
	r.object = object;
	r.query = "multipart-manifest=get";
	r.recv_limit = 64u << 20;
	rc = swift_request(cfg->client, &r);
	if (rc)
		goto out;
	if (!swift_req_header(&r, "X-Static-Large-Object"))
		goto out; /* not (or no longer) an SLO: nothing to list */
	buf_terminate(&r.resp_body);
	root = json_tokener_parse(r.resp_body.data ? r.resp_body.data : "");
	if (!root || !json_object_is_type(root, json_type_array)) {
		LOGW("%s: could not parse its SLO manifest", object);
		rc = -EIO;
		goto out;
	}
	size_t n = json_object_array_length(root);
	out->paths = calloc(n ? n : 1, sizeof(char *));
	if (!out->paths) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(root, i), *name;
		if (json_object_object_get_ex(e, "name", &name)) {
			out->paths[out->n] = strdup(json_object_get_string(name));
			if (out->paths[out->n])
				out->n++;
		}
	}
out:
	if (root)
		json_object_put(root);
	swift_req_cleanup(&r);
	return rc;
}

bool upload_bulk_outcome(struct swiftfs_req *r, long *code, size_t *nerrors)
{
	buf_terminate(&r->resp_body);
	json_object *root = json_tokener_parse(r->resp_body.data ? r->resp_body.data : "");
	json_object *st, *errs;
	const char *status = root && json_object_object_get_ex(root, "Response Status", &st)
				     ? json_object_get_string(st) : NULL;
	*code = status ? strtol(status, NULL, 10) : 0;
	*nerrors = root && json_object_object_get_ex(root, "Errors", &errs) &&
				   json_object_is_type(errs, json_type_array)
			   ? json_object_array_length(errs) : 0;
	if (root)
		json_object_put(root);
	return *code != 0;
}

int upload_delete_segments(const struct swiftfs_upload_cfg *cfg,
			   const struct swiftfs_seglist *segs)
{
	struct swiftfs_buf body = { 0 };
	struct swiftfs_req r;
	const char *hdrs[] = { "Content-Type: text/plain", "Accept: application/json", NULL };
	int rc = 0;

	if (segs->n == 0)
		return 0;
	for (size_t i = 0; i < segs->n && !rc; i++) {
		char *e = util_url_encode(segs->paths[i], true);
		rc = e ? buf_printf(&body, "%s\n", e) : -ENOMEM;
		free(e);
	}
	if (rc)
		goto out;
	swift_req_init(&r, "POST");
	r.query = "bulk-delete";
	r.headers = hdrs;
	r.has_body = true;
	r.send_buf = body.data;
	r.send_len = body.len;
	rc = swift_request(cfg->client, &r);
	long code;
	size_t nerr;
	/* an account POST without the bulk middleware answers 204, no body */
	bool bulk = !rc && upload_bulk_outcome(&r, &code, &nerr);
	if (bulk && (nerr || code < 200 || code >= 300)) {
		/* failures listed, or refused whole (413 too many names) */
		LOGW("deleting segments: %.300s", r.resp_body.data);
		rc = -EIO;
	}
	swift_req_cleanup(&r);
	if (!bulk) {
		/* no bulk middleware: one DELETE each */
		rc = 0;
		for (size_t i = 0; i < segs->n; i++) {
			const char *p = segs->paths[i] + (segs->paths[i][0] == '/');
			const char *slash = strchr(p, '/');
			if (!slash)
				continue;
			char *cont = strndup(p, (size_t)(slash - p));
			swift_req_init(&r, "DELETE");
			r.container = cont;
			r.object = slash + 1;
			int e = swift_request(cfg->client, &r);
			if (e && e != -ENOENT)
				rc = e;
			swift_req_cleanup(&r);
			free(cont);
		}
	}
out:
	buf_free(&body);
	return rc;
}

int upload_slo_segments_if_slo(const struct swiftfs_upload_cfg *cfg, const char *object,
			       struct swiftfs_seglist *out)
{
	struct swiftfs_req h;
	memset(out, 0, sizeof(*out));
	swift_req_init(&h, "HEAD");
	h.container = cfg->container;
	h.object = object;
	h.flags = SWIFT_REQ_QUIET_404;
	int rc = swift_request(cfg->client, &h);
	if (!rc && swift_req_header(&h, "X-Static-Large-Object"))
		rc = upload_slo_segments(cfg, object, out);
	swift_req_cleanup(&h);
	return rc == -ENOENT ? 0 : rc;
}

bool upload_header_expired(const char *hdr)
{
	if (strncasecmp(hdr, "X-Delete-At:", 12) != 0)
		return false;
	return strtoll(hdr + 12, NULL, 10) <= (long long)time(NULL) + 5;
}

unsigned upload_versioning(const struct swiftfs_upload_cfg *cfg)
{
	struct swiftfs_req h;
	unsigned keeps = 0;
	swift_req_init(&h, "HEAD");
	h.container = cfg->container;
	if (swift_request(cfg->client, &h) != 0) {
		keeps = UPLOAD_KEEPS_REPLACED | UPLOAD_KEEPS_DELETED | UPLOAD_VERSIONS_UNKNOWN;
		goto out;
	}
	/* object versioning, also while suspended ("False"): the versions
	 * made while it was on live on */
	if (swift_req_header(&h, "X-Versions-Enabled"))
		keeps |= UPLOAD_KEEPS_REPLACED | UPLOAD_KEEPS_DELETED;
	const char *v = swift_req_header(&h, "X-History-Location");
	if (v && *v)
		keeps |= UPLOAD_KEEPS_REPLACED | UPLOAD_KEEPS_DELETED;
	v = swift_req_header(&h, "X-Versions-Location");
	if (v && *v) {
		const char *mode = swift_req_header(&h, "X-Versions-Mode");
		keeps |= UPLOAD_KEEPS_REPLACED;
		keeps |= mode && strcasecmp(mode, "history") == 0 ? UPLOAD_KEEPS_DELETED
								  : UPLOAD_DELETE_RESTORES;
	}
out:
	swift_req_cleanup(&h);
	return keeps;
}

void upload_delete_replaced(const struct swiftfs_upload_cfg *cfg, const char *object,
			    const struct swiftfs_upload_result *res, struct swiftfs_seglist *old)
{
	char *keep = NULL;
	if (old->n && (upload_versioning(cfg) & UPLOAD_KEEPS_REPLACED)) {
		LOGD("%s: the replaced version's %zu segments stay (the container keeps versions)",
		     object, old->n);
		return;
	}
	/* never those of the new manifest, should names ever meet (another
	 * mount's upload stamped in the same microsecond) */
	if (!old->n || asprintf(&keep, "/%s_segments/%s/slo/%s/", cfg->container, object,
				res->slo ? res->stamp : "") < 0)
		return;
	size_t w = 0, kl = strlen(keep);
	for (size_t i = 0; i < old->n; i++) {
		if (strncmp(old->paths[i], keep, kl) == 0)
			free(old->paths[i]);
		else
			old->paths[w++] = old->paths[i];
	}
	old->n = w;
	upload_delete_segments(cfg, old);
	free(keep);
}

void upload_seglist_free(struct swiftfs_seglist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	memset(l, 0, sizeof(*l));
}
