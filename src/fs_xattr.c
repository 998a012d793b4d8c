/* Extended attributes: Swift metadata as getxattr/setxattr/listxattr/
 * removexattr (names and encodings: xattr.h; user documentation: README,
 * "Extended attributes").
 *
 * What applies where:
 *   regular files   object facts and metadata (one HEAD per request,
 *                   nothing cached: the swift CLI sees a change at once
 *                   and a change it makes is seen at once)
 *   the mount root  the container: ACLs, versioning, quotas, policy,
 *                   counters, TempURL key, container metadata
 *   symlinks        read side only (Linux itself refuses user.* xattrs on
 *                   symlinks, so in practice nothing arrives here)
 *   other folders   none: a folder is usually implicit (only a prefix of
 *                   object names) and has nowhere to keep metadata, so
 *                   listxattr is empty, getxattr ENODATA, setxattr ENOTSUP
 *
 * What listxattr shows: stored metadata only (user.swift.meta.* of files
 * and the generic user.* names). Swift's facts and settings (etag, ACLs,
 * quotas, TempURLs, ...) are read and written by name and never listed,
 * as CephFS does with its ceph.* virtual xattrs: `cp -a` and `rsync -X`
 * copy what listxattr shows and remove at the destination what the
 * source lacks, so listed facts would make them fail with EPERM on
 * every file and, on the mount root, strip a container of its ACLs.
 *
 * Writing object metadata: Swift's object POST replaces all of an
 * object's metadata and its X-Delete-At, X-Object-Manifest, Content-*
 * headers, so every POST sends the complete set as a HEAD just showed it,
 * with the one header being set or removed changed: swiftfs's own
 * X-Object-Meta-Mtime/Mode/Uid/Gid, a DLO's manifest and the expiry stay.
 * (Between that HEAD and the POST another client's change can be lost:
 * Swift offers no conditional POST.) A container POST changes only the
 * headers it names, so those are sent alone. */
#include "swiftfs/fs_xattr.h"
#include "fs_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/xattr.h>
#include <time.h>

#include "swiftfs/log.h"
#include "swiftfs/swift_auth.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"
#include "swiftfs/xattr.h"

#define OBJ_META "X-Object-Meta-"
#define CONT_META "X-Container-Meta-"

enum xtkind { XT_CONTAINER, XT_FILE, XT_SYMLINK, XT_DIR };

struct xtarget {
	enum xtkind kind;
	char *object; /* files and symlinks */
	bool local;   /* a file with data written here and not uploaded yet */
};

/* What ino is in Swift terms. For a change (sync), data written through
 * this mount and not uploaded yet goes up first: its metadata lives with
 * the object (`cp --preserve=xattr` sets xattrs before it closes the
 * copy). A read never uploads: `ls -l` lists xattrs, and must not send a
 * file another program is still writing. */
static int target_get(struct swiftfs_fs *fs, uint64_t ino, bool sync, struct xtarget *t)
{
	char *rel = NULL;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	struct swiftfs_inode *n = fs_get_inode(fs, ino, &rel);
	if (!n)
		return -ESTALE;
	if (ino == SWIFTFS_ROOT_INO) {
		t->kind = XT_CONTAINER;
		goto out;
	}
	pthread_mutex_lock(&fs->t.lock);
	bool named = n->hashed;
	pthread_mutex_unlock(&fs->t.lock);
	if (!named) {
		/* removed or replaced, and still open (f*xattr): its name in
		 * Swift is another file's now */
		rc = -ENOENT;
		goto out;
	}
	if (n->attr.kind == DK_DIR) {
		t->kind = XT_DIR;
		goto out;
	}
	t->kind = n->attr.kind == DK_SYMLINK ? XT_SYMLINK : XT_FILE;
	t->object = fs_object_name(fs, rel);
	if (!t->object) {
		rc = -ENOMEM;
		goto out;
	}
	if (t->kind == XT_FILE && sync)
		rc = fs_sync_inode(fs, n);
	else if (t->kind == XT_FILE)
		t->local = fs_local_data_p(fs, n);
out:
	fs_put_inode(fs, n);
	free(rel);
	return rc;
}

static void log_failure(const struct swiftfs_req *r, const char *what)
{
	char d[300];
	swift_describe_error(r, d, sizeof(d));
	LOGE("%s: %s", what, d);
}

/* HEAD the container (object NULL), an object (the symlink itself, not
 * its target) or the account (container NULL). */
static int xhead(struct swiftfs_fs *fs, const char *container, const char *object,
		 struct swiftfs_req *r)
{
	int rc;
	if (object) {
		rc = fs_head_itself(fs, container, object, NULL, r, NULL, 0);
	} else {
		swift_req_init(r, "HEAD");
		r->container = container;
		r->flags = SWIFT_REQ_QUIET_404;
		rc = swift_request(fs->c, r);
	}
	if (rc && rc != -ENOENT)
		log_failure(r, "xattr: HEAD");
	return rc;
}

static int dup_value(const char *s, size_t n, char **v, size_t *len)
{
	char *p = malloc(n + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, s, n);
	p[n] = '\0';
	*v = p;
	*len = n;
	return 0;
}

/* "<prefix><name>" with '_' as '-', which is what Swift makes of it. */
static char *meta_header(const char *prefix, const char *name)
{
	char *h = NULL;
	if (asprintf(&h, "%s%s", prefix, name) < 0)
		return NULL;
	for (char *p = h + strlen(prefix); *p; p++)
		if (*p == '_')
			*p = '-';
	return h;
}

/* "<prefix>Xattr-<enc(rest)>" for a generic user.* name. */
static char *generic_header(const char *prefix, const char *rest)
{
	char *enc = xattr_encode_name(rest);
	char *h = NULL;
	if (enc && asprintf(&h, "%s" XATTR_GENERIC_META "%s", prefix, enc) < 0)
		h = NULL;
	free(enc);
	return h;
}

/* A value Swift keeps exactly (read_acl, content_type, meta.<name>...). */
static int check_plain(const char *name, const char *value, size_t size)
{
	if (xattr_value_plain(value, size))
		return 0;
	LOGI("setxattr %s: Swift keeps only non-empty UTF-8 text without control characters "
	     "or leading/trailing blanks here", name);
	return -EINVAL;
}

static int check_digits(const char *name, const char *value, size_t size)
{
	bool ok = size > 0 && size <= 20;
	for (size_t i = 0; ok && i < size; i++)
		ok = value[i] >= '0' && value[i] <= '9';
	if (ok)
		return 0;
	LOGI("setxattr %s: the value must be a non-negative integer", name);
	return -EINVAL;
}

/* A user.swift.meta.<name> that has another xattr name, or that swiftfs
 * keeps for itself (objects: Mtime, Mode, ...; both: Xattr-*). */
static bool meta_reserved(bool container, const char *name)
{
	if (!container)
		return xattr_meta_reserved(name);
	return xattr_container_meta_reserved(name) ||
	       (strlen(name) > 6 && strncasecmp(name, "Xattr", 5) == 0 &&
		(name[5] == '-' || name[5] == '_'));
}

/* Swift reads any other word as false: a typo must not switch versioning off. */
static int check_bool(const char *name, const char *value, size_t size)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "1", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (size == strlen(words[i]) && strncasecmp(value, words[i], size) == 0)
			return 0;
	LOGI("setxattr %s: the value must be true or false", name);
	return -EINVAL;
}

static int list_add(struct swiftfs_buf *b, const char *a, const char *c)
{
	int rc = buf_append(b, a, strlen(a));
	if (!rc && c)
		rc = buf_append(b, c, strlen(c));
	if (!rc)
		rc = buf_append(b, "", 1);
	return rc;
}

/* --- reading ----------------------------------------------------------- */

/* "dlo:CONTAINER/PREFIX" or "slo:CONTAINER/PREFIX/" (where the segments
 * live: the folder all of them share). */
static int manifest_value(struct swiftfs_fs *fs, const struct xtarget *t,
			  const struct swiftfs_req *h, char **v, size_t *len)
{
	struct swiftfs_req r;
	json_object *root = NULL;
	char *common = NULL, *out = NULL;
	int rc;

	const char *dlo = swift_req_header(h, "X-Object-Manifest");
	if (dlo) {
		char *dec = util_url_decode(dlo);
		if (!dec || asprintf(&out, "dlo:%s", dec) < 0) {
			free(dec);
			return -ENOMEM;
		}
		free(dec);
		rc = dup_value(out, strlen(out), v, len);
		free(out);
		return rc;
	}
	const char *slo = swift_req_header(h, "X-Static-Large-Object");
	if (!slo || strcasecmp(slo, "true") != 0)
		return -ENODATA;
	swift_req_init(&r, "GET");
	r.container = fs->container;
	r.object = t->object;
	r.query = "multipart-manifest=get";
	r.recv_limit = 16u << 20;
	rc = swift_request(fs->c, &r);
	if (rc) {
		log_failure(&r, "xattr: GET of an SLO manifest");
		goto out;
	}
	buf_terminate(&r.resp_body);
	root = json_tokener_parse(r.resp_body.data ? r.resp_body.data : "");
	if (!root || !json_object_is_type(root, json_type_array)) {
		LOGE("xattr: the SLO manifest of %s is not a JSON list", t->object);
		rc = -EIO;
		goto out;
	}
	size_t clen = 0;
	for (size_t i = 0; i < json_object_array_length(root); i++) {
		json_object *seg = json_object_array_get_idx(root, i), *nm;
		if (!json_object_object_get_ex(seg, "name", &nm))
			continue;
		const char *s = json_object_get_string(nm);
		if (!s)
			continue;
		if (!common) {
			common = strdup(s);
			if (!common) {
				rc = -ENOMEM;
				goto out;
			}
			clen = strlen(common);
			continue;
		}
		size_t k = 0;
		while (k < clen && s[k] == common[k])
			k++;
		clen = k;
	}
	if (!common) {
		rc = -ENODATA;
		goto out;
	}
	while (clen && common[clen - 1] != '/')
		clen--; /* the folder, not a partial segment name */
	common[clen] = '\0';
	if (asprintf(&out, "slo:%s", common[0] == '/' ? common + 1 : common) < 0) {
		out = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rc = dup_value(out, strlen(out), v, len);
out:
	if (root)
		json_object_put(root);
	swift_req_cleanup(&r);
	free(common);
	free(out);
	return rc;
}

/* The Temp-URL-Key of the container, else of the account. malloc'd. */
static int tempurl_key(struct swiftfs_fs *fs, char **key)
{
	static const char *const names[2][2] = {
		{ "X-Container-Meta-Temp-URL-Key", "X-Container-Meta-Temp-URL-Key-2" },
		{ "X-Account-Meta-Temp-URL-Key", "X-Account-Meta-Temp-URL-Key-2" },
	};
	*key = NULL;
	for (int level = 0; level < 2; level++) {
		struct swiftfs_req r;
		int rc = xhead(fs, level == 0 ? fs->container : NULL, NULL, &r);
		if (rc) {
			swift_req_cleanup(&r);
			return rc;
		}
		for (int i = 0; i < 2 && !*key; i++) {
			const char *k = swift_req_header(&r, names[level][i]);
			if (k && *k)
				*key = strdup(k);
		}
		swift_req_cleanup(&r);
		if (*key)
			return 0;
	}
	return -ENOKEY;
}

/* A GET TempURL for the object valid for tempurl_ttl seconds. Neither the
 * key nor the signature is ever logged. */
static int tempurl_value(struct swiftfs_fs *fs, const struct xtarget *t, char **v, size_t *len)
{
	char *key = NULL, *token = NULL, *surl = NULL, *spath = NULL, *path = NULL;
	char *econt = NULL, *eobj = NULL, *url = NULL;
	char sig[160];
	unsigned gen;
	int rc;

	if (!fs->xinfo.tempurl) {
		LOGI("user.swift.tempurl: the cluster has no tempurl middleware (/info)");
		return -ENOTSUP;
	}
	rc = tempurl_key(fs, &key);
	if (rc == -ENOKEY)
		LOGI("user.swift.tempurl: neither the container nor the account has a "
		     "Temp-URL-Key (set one with setfattr -n user.swift.tempurl_key on the mount "
		     "root)");
	if (rc)
		goto out;
	rc = swift_auth_get(swift_client_auth(fs->c), &token, &surl, &gen);
	if (rc)
		goto out;
	const char *p = strstr(surl, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	spath = util_url_decode(p ? p : "");
	econt = util_url_encode(fs->container, false);
	eobj = util_url_encode(t->object, true);
	if (!spath || !econt || !eobj) {
		rc = -ENOMEM;
		goto out;
	}
	size_t sl = strlen(surl);
	while (sl && surl[sl - 1] == '/')
		surl[--sl] = '\0';
	size_t pl = strlen(spath);
	while (pl && spath[pl - 1] == '/')
		spath[--pl] = '\0';
	long long expires = (long long)time(NULL) + (long long)fs->tempurl_ttl;
	/* Swift checks the signature over the path as it sees it, from
	 * /v1/: a front proxy's prefix before it (https://h/object/v1/...)
	 * is not part of it */
	const char *v1 = strstr(spath, "/v1/");
	if (asprintf(&path, "%s/%s/%s", v1 ? v1 : spath, fs->container, t->object) < 0) {
		path = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rc = xattr_tempurl_sign(fs->xinfo.digest, key, "GET", expires, path, sig, sizeof(sig));
	if (rc)
		goto out;
	if (asprintf(&url, "%s/%s/%s?temp_url_sig=%s&temp_url_expires=%lld", surl, econt, eobj,
		     sig, expires) < 0) {
		url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rc = dup_value(url, strlen(url), v, len);
out:
	if (key)
		explicit_bzero(key, strlen(key));
	if (token)
		explicit_bzero(token, strlen(token));
	free(key);
	free(token);
	free(surl);
	free(spath);
	free(path);
	free(econt);
	free(eobj);
	free(url);
	return rc;
}

static int object_get(struct swiftfs_fs *fs, const struct xtarget *t, enum swiftfs_xkind kind,
		      const struct swiftfs_xname *x, const char *rest, char **v, size_t *len)
{
	struct swiftfs_req r;
	char *hname = NULL;
	int rc;

	if (x && !(x->flags & XF_OBJECT))
		return -ENODATA;
	if (kind == XK_META && (!xattr_meta_name_ok(rest) || meta_reserved(false, rest)))
		return -ENODATA;
	if (kind == XK_TEMPURL)
		return t->kind == XT_FILE ? tempurl_value(fs, t, v, len) : -ENODATA;
	rc = xhead(fs, fs->container, t->object, &r);
	if (rc)
		goto out;
	const char *val = NULL;
	switch (kind) {
	case XK_META:
		hname = meta_header(OBJ_META, rest);
		break;
	case XK_GENERIC:
		hname = generic_header(OBJ_META, rest);
		break;
	case XK_MANIFEST:
		rc = manifest_value(fs, t, &r, v, len);
		goto out;
	default:
		hname = strdup(x->header);
		break;
	}
	if (!hname) {
		rc = -ENOMEM;
		goto out;
	}
	val = swift_req_header(&r, hname);
	if (!val) {
		rc = -ENODATA;
		goto out;
	}
	if (kind == XK_GENERIC) {
		rc = xattr_decode_value(val, v, len);
		if (rc == -EINVAL) {
			LOGW("xattr: %s of %s holds a malformed b64: value", hname, t->object);
			rc = -EIO;
		}
		goto out;
	}
	if (kind == XK_ETAG) {
		size_t n = strlen(val);
		if (n >= 2 && val[0] == '"' && val[n - 1] == '"')
			rc = dup_value(val + 1, n - 2, v, len);
		else
			rc = dup_value(val, n, v, len);
		goto out;
	}
	if (kind == XK_SYMLINK_TARGET) {
		char *dec = util_url_decode(val);
		rc = dec ? dup_value(dec, strlen(dec), v, len) : -ENOMEM;
		free(dec);
		goto out;
	}
	rc = dup_value(val, strlen(val), v, len);
out:
	swift_req_cleanup(&r);
	free(hname);
	return rc;
}

static int container_get(struct swiftfs_fs *fs, enum swiftfs_xkind kind,
			 const struct swiftfs_xname *x, const char *rest, char **v, size_t *len)
{
	struct swiftfs_req r;
	char *hname = NULL;
	int rc;

	if (x && !(x->flags & XF_CONTAINER))
		return -ENODATA;
	if (kind == XK_META && (!xattr_meta_name_ok(rest) || meta_reserved(true, rest)))
		return -ENODATA;
	if (kind == XK_TOKEN_EXPIRES) {
		time_t e = swift_auth_expires(swift_client_auth(fs->c));
		struct tm tm;
		char s[64];
		if (!e || !gmtime_r(&e, &tm))
			return -ENODATA;
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
		return dup_value(s, strlen(s), v, len);
	}
	rc = xhead(fs, fs->container, NULL, &r);
	if (rc)
		goto out;
	if (kind == XK_META)
		hname = meta_header(CONT_META, rest);
	else if (kind == XK_GENERIC)
		hname = generic_header(CONT_META, rest);
	else
		hname = strdup(x->header);
	if (!hname) {
		rc = -ENOMEM;
		goto out;
	}
	const char *val = swift_req_header(&r, hname);
	if (!val) {
		rc = -ENODATA;
		goto out;
	}
	if (kind == XK_GENERIC) {
		rc = xattr_decode_value(val, v, len);
		if (rc == -EINVAL)
			rc = -EIO;
		goto out;
	}
	rc = dup_value(val, strlen(val), v, len);
out:
	swift_req_cleanup(&r);
	free(hname);
	return rc;
}

int fs_getxattr(struct swiftfs_fs *fs, uint64_t ino, const char *name, char **value,
		size_t *len)
{
	struct xtarget t;
	const char *rest;
	const struct swiftfs_xname *x;
	int rc;

	*value = NULL;
	*len = 0;
	enum swiftfs_xkind kind = xattr_classify(name, &rest, &x);
	if (kind == XK_OTHER_NS)
		return -ENOTSUP;
	if (kind == XK_UNKNOWN_SWIFT)
		return -ENODATA;
	rc = target_get(fs, ino, false, &t);
	if (rc)
		goto out;
	switch (t.kind) {
	case XT_CONTAINER:
		rc = container_get(fs, kind, x, rest, value, len);
		break;
	case XT_FILE:
	case XT_SYMLINK:
		rc = object_get(fs, &t, kind, x, rest, value, len);
		if (rc == -ENOENT && t.local)
			rc = -ENODATA; /* not in Swift yet: no metadata there */
		break;
	case XT_DIR:
		rc = -ENODATA;
		break;
	}
out:
	free(t.object);
	return rc;
}

/* --- listing ----------------------------------------------------------- */

/* The user.* names of the metadata headers with prefix pfx (generic
 * xattrs decoded, swiftfs's own and those with a name of their own left
 * out). On the container only the generic ones: its X-Container-Meta-*
 * hold settings (CORS, static web, ...) that `rsync -X` into the mount
 * root would otherwise remove for not being in the source folder. */
static int list_meta(const struct swiftfs_req *r, const char *pfx, bool container,
		     struct swiftfs_buf *b)
{
	size_t pl = strlen(pfx), gl = strlen(XATTR_GENERIC_META);
	int rc = 0;
	for (size_t i = 0; i < r->resp_nheaders && !rc; i++) {
		const char *hn = r->resp_headers[i].name;
		if (strncasecmp(hn, pfx, pl) != 0)
			continue;
		const char *m = hn + pl;
		if (strncasecmp(m, XATTR_GENERIC_META, gl) == 0) {
			char *dec = xattr_decode_name(m + gl);
			if (!dec) {
				LOGD("xattr: %s is not an encoded xattr name: not listed", hn);
				continue;
			}
			rc = list_add(b, XATTR_USER_PREFIX_STR, dec);
			free(dec);
			continue;
		}
		if (container || meta_reserved(container, m))
			continue;
		rc = list_add(b, XATTR_META_PREFIX, m);
	}
	return rc;
}

int fs_listxattr(struct swiftfs_fs *fs, uint64_t ino, char **list, size_t *len)
{
	struct swiftfs_buf b = { 0 };
	struct swiftfs_req r;
	struct xtarget t;
	int rc;

	*list = NULL;
	*len = 0;
	swift_req_init(&r, "HEAD");
	rc = target_get(fs, ino, false, &t);
	if (rc)
		goto out;
	if (t.kind == XT_DIR)
		goto done;
	bool cont = t.kind == XT_CONTAINER;
	rc = xhead(fs, fs->container, cont ? NULL : t.object, &r);
	if (rc == -ENOENT && t.local) {
		rc = 0; /* not in Swift yet: nothing to list */
		goto done;
	}
	if (rc)
		goto out;
	rc = list_meta(&r, cont ? CONT_META : OBJ_META, cont, &b);
	if (rc)
		goto out;
done:
	*list = b.data;
	*len = b.len;
	b.data = NULL;
out:
	swift_req_cleanup(&r);
	buf_free(&b);
	free(t.object);
	return rc;
}

/* --- writing ----------------------------------------------------------- */

bool fs_xattr_post_keeps(const char *name)
{
	/* Swift's object server: allowed_headers, which a POST replaces */
	static const char *const kept[] = { "X-Delete-At", "Content-Encoding",
					     "Content-Disposition", "Content-Language",
					     "Cache-Control", "Expires", "X-Robots-Tag" };
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
		if (strcasecmp(name, kept[i]) == 0)
			return true;
	return false;
}

/* Headers an object POST replaces and that must therefore be sent back
 * (Content-Type is kept by Swift when absent, but sending it is harmless). */
static bool object_kept_header(const char *name)
{
	if (strncasecmp(name, OBJ_META, strlen(OBJ_META)) == 0)
		return true;
	return strcasecmp(name, "X-Object-Manifest") == 0 || strcasecmp(name, "Content-Type") == 0 ||
	       fs_xattr_post_keeps(name);
}

/* Set (value) or remove (value NULL) header hname of an object by POSTing
 * its complete metadata. */
static int object_post(struct swiftfs_fs *fs, const struct xtarget *t, const char *hname,
		       const char *value, int flags)
{
	struct swiftfs_req h, r;
	const char **hdrs = NULL, **mnames = NULL, **mvalues = NULL;
	char **owned = NULL;
	size_t nh = 0, nm = 0, no = 0;
	int rc;

	swift_req_init(&r, "POST");
	rc = xhead(fs, fs->container, t->object, &h);
	if (rc)
		goto out;
	bool exists = swift_req_header(&h, hname) != NULL;
	if ((flags & XATTR_CREATE) && exists) {
		rc = -EEXIST;
		goto out;
	}
	if (((flags & XATTR_REPLACE) || !value) && !exists) {
		rc = -ENODATA;
		goto out;
	}
	size_t cap = h.resp_nheaders + 2;
	hdrs = calloc(cap, sizeof(*hdrs));
	owned = calloc(cap, sizeof(*owned));
	mnames = calloc(cap, sizeof(*mnames));
	mvalues = calloc(cap, sizeof(*mvalues));
	if (!hdrs || !owned || !mnames || !mvalues) {
		rc = -ENOMEM;
		goto out;
	}
	size_t pl = strlen(OBJ_META);
	for (size_t i = 0; i < h.resp_nheaders; i++) {
		const struct swiftfs_header *e = &h.resp_headers[i];
		if (!object_kept_header(e->name) || strcasecmp(e->name, hname) == 0)
			continue;
		if (asprintf(&owned[no], "%s: %s", e->name, e->value) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs[nh++] = owned[no++];
		if (strncasecmp(e->name, OBJ_META, pl) == 0) {
			mnames[nm] = e->name + pl;
			mvalues[nm++] = e->value;
		}
	}
	if (value) {
		if (asprintf(&owned[no], "%s: %s", hname, value) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs[nh++] = owned[no++];
		if (strncasecmp(hname, OBJ_META, pl) == 0) {
			mnames[nm] = hname + pl;
			mvalues[nm++] = value;
			rc = xattr_check_limits(&fs->xinfo, mnames, mvalues, nm);
			if (rc) {
				LOGI("setxattr on %s: past the cluster's metadata limits (name %u, "
				     "value %u, %u items, %u bytes in all)", t->object,
				     fs->xinfo.max_name, fs->xinfo.max_value, fs->xinfo.max_count,
				     fs->xinfo.max_overall);
				goto out;
			}
		}
	}
	hdrs[nh] = NULL;
	r.container = fs->container;
	r.object = t->object;
	r.headers = hdrs;
	rc = swift_request(fs->c, &r);
	if (rc)
		log_failure(&r, "xattr: metadata update");
out:
	swift_req_cleanup(&h);
	swift_req_cleanup(&r);
	for (size_t i = 0; i < no; i++)
		free(owned[i]);
	free(owned);
	free(hdrs);
	free(mnames);
	free(mvalues);
	return rc;
}

/* Set (value) or remove (value NULL) a container header. */
static int container_post(struct swiftfs_fs *fs, enum swiftfs_xkind kind, const char *hname,
			  const char *value, int flags)
{
	struct swiftfs_req h, r;
	const char **mnames = NULL, **mvalues = NULL;
	char *line = NULL;
	int rc;

	/* Swift would ignore the one (204) and refuse the other with a 412
	 * (ESTALE): say what is missing instead */
	if (value && kind == XK_VERSIONS && !fs->xinfo.versioning) {
		LOGI("user.swift.versions: the cluster does not allow object versioning (/info "
		     "has no object_versioning: allow_object_versioning is off)");
		return -ENOTSUP;
	}
	if (value && (kind == XK_VERSIONS_LOCATION || kind == XK_HISTORY_LOCATION) &&
	    !fs->xinfo.legacy_versions) {
		LOGI("user.swift.%s: the cluster does not allow versioned writes (/info has no "
		     "versioned_writes: allow_versioned_writes is off)",
		     kind == XK_HISTORY_LOCATION ? "history_location" : "versions_location");
		return -ENOTSUP;
	}
	swift_req_init(&r, "POST");
	rc = xhead(fs, fs->container, NULL, &h);
	if (rc)
		goto out;
	const char *cur = swift_req_header(&h, hname);
	/* versioning switched off shows as "False", which is not a value set */
	bool exists = cur && !(kind == XK_VERSIONS && strcasecmp(cur, "false") == 0);
	if ((flags & XATTR_CREATE) && exists) {
		rc = -EEXIST;
		goto out;
	}
	if (((flags & XATTR_REPLACE) || !value) && !exists) {
		rc = -ENODATA;
		goto out;
	}
	size_t pl = strlen(CONT_META);
	if (value && strncasecmp(hname, CONT_META, pl) == 0) {
		mnames = calloc(h.resp_nheaders + 1, sizeof(*mnames));
		mvalues = calloc(h.resp_nheaders + 1, sizeof(*mvalues));
		if (!mnames || !mvalues) {
			rc = -ENOMEM;
			goto out;
		}
		size_t nm = 0;
		for (size_t i = 0; i < h.resp_nheaders; i++) {
			const struct swiftfs_header *e = &h.resp_headers[i];
			if (strncasecmp(e->name, CONT_META, pl) != 0 ||
			    strcasecmp(e->name, hname) == 0)
				continue;
			mnames[nm] = e->name + pl;
			mvalues[nm++] = e->value;
		}
		mnames[nm] = hname + pl;
		mvalues[nm++] = value;
		rc = xattr_check_limits(&fs->xinfo, mnames, mvalues, nm);
		if (rc) {
			LOGI("setxattr on the container: past the cluster's metadata limits");
			goto out;
		}
	}
	int n;
	if (value)
		n = asprintf(&line, "%s: %s", hname, value);
	else if (kind == XK_VERSIONS)
		n = asprintf(&line, "%s: false", hname);
	else
		n = asprintf(&line, "X-Remove-%s: x", hname + 2); /* X-Foo -> X-Remove-Foo */
	if (n < 0) {
		line = NULL;
		rc = -ENOMEM;
		goto out;
	}
	const char *hdrs[] = { line, NULL };
	r.container = fs->container;
	r.headers = hdrs;
	rc = swift_request(fs->c, &r);
	if (rc)
		log_failure(&r, "xattr: container update");
	r.headers = NULL;
out:
	swift_req_cleanup(&h);
	swift_req_cleanup(&r);
	if (line)
		explicit_bzero(line, strlen(line)); /* may hold the TempURL key */
	free(line);
	free(mnames);
	free(mvalues);
	return rc;
}

/* The header of name on t and the value to send (malloc'd; NULL for a
 * removal). -errno for names that cannot be written there. */
static int write_plan(const struct xtarget *t, const char *name, const char *value, size_t size,
		      bool removing, enum swiftfs_xkind *kind_out, char **hname, char **send)
{
	const char *rest;
	const struct swiftfs_xname *x;
	enum swiftfs_xkind kind = xattr_classify(name, &rest, &x);
	bool cont = t->kind == XT_CONTAINER;
	int rc;

	*hname = NULL;
	*send = NULL;
	*kind_out = kind;
	if (kind == XK_OTHER_NS)
		return -ENOTSUP;
	if (kind == XK_UNKNOWN_SWIFT) {
		LOGI("setxattr %s: not a user.swift.* name swiftfs knows", name);
		return -ENOTSUP;
	}
	if (x && !(x->flags & (cont ? XF_CONTAINER : XF_OBJECT))) {
		LOGI("setxattr %s: applies to %s only", name,
		     cont ? "files" : "the mount root (the container)");
		return -ENOTSUP;
	}
	if (x && (x->flags & XF_RO))
		return -EPERM;
	if (kind == XK_CONTENT_TYPE && removing)
		return -EPERM; /* every object has one */
	if (kind == XK_META) {
		if (!xattr_meta_name_ok(rest)) {
			LOGI("setxattr %s: a metadata name is letters, digits and !#$%%&'*+-.^_`|~",
			     name);
			return -EINVAL;
		}
		if (meta_reserved(cont, rest)) {
			LOGI("setxattr %s: swiftfs keeps this metadata itself", name);
			return -EPERM;
		}
	}
	const char *pfx = cont ? CONT_META : OBJ_META;
	if (kind == XK_META)
		*hname = meta_header(pfx, rest);
	else if (kind == XK_GENERIC)
		*hname = generic_header(pfx, rest);
	else
		*hname = strdup(x->header);
	if (!*hname)
		return -ENOMEM;
	if (removing)
		return 0;
	if (kind == XK_GENERIC)
		return xattr_encode_value(value, size, send);
	if (kind == XK_DELETE_AT || kind == XK_QUOTA_BYTES || kind == XK_QUOTA_COUNT)
		rc = check_digits(name, value, size);
	else if (kind == XK_VERSIONS)
		rc = check_bool(name, value, size);
	else
		rc = check_plain(name, value, size);
	if (rc)
		return rc;
	*send = strndup(value, size);
	return *send ? 0 : -ENOMEM;
}

static int do_write(struct swiftfs_fs *fs, uint64_t ino, const char *name, const char *value,
		    size_t size, int flags, bool removing)
{
	struct xtarget t;
	char *hname = NULL, *send = NULL;
	enum swiftfs_xkind kind;
	int rc;

	if (fs->ro)
		return -EROFS;
	if (strncmp(name, XATTR_USER_PREFIX_STR, strlen(XATTR_USER_PREFIX_STR)) != 0)
		return -ENOTSUP;
	/* the request is checked before local data goes up for it */
	rc = target_get(fs, ino, false, &t);
	if (rc)
		goto out;
	if (t.kind == XT_DIR || t.kind == XT_SYMLINK) {
		/* a folder has nowhere to keep metadata (see the top) */
		rc = -ENOTSUP;
		goto out;
	}
	rc = write_plan(&t, name, value, size, removing, &kind, &hname, &send);
	if (rc)
		goto out;
	struct swiftfs_inode *n = NULL;
	if (t.kind == XT_FILE) {
		n = fs_get_inode(fs, ino, NULL);
		rc = n ? fs_sync_inode(fs, n) : -ESTALE;
	}
	if (!rc && t.kind == XT_CONTAINER)
		rc = container_post(fs, kind, hname, send, flags);
	else if (!rc) {
		/* an upload that starts from here on carries the change */
		if (n)
			fs_local_meta_set(fs, n, hname, send);
		pthread_mutex_lock(&fs->meta_lock);
		rc = object_post(fs, &t, hname, send, flags);
		pthread_mutex_unlock(&fs->meta_lock);
	}
	/* what Swift holds now (after a failed POST too: the change made to
	 * the local metadata above goes, if Swift answers) */
	if (n && t.kind == XT_FILE)
		fs_local_meta_refresh(fs, n, t.object);
	if (n)
		fs_put_inode(fs, n);
out:
	if (send)
		explicit_bzero(send, strlen(send)); /* may be the TempURL key */
	free(send);
	free(hname);
	free(t.object);
	return rc;
}

int fs_setxattr(struct swiftfs_fs *fs, uint64_t ino, const char *name, const char *value,
		size_t size, int flags)
{
	return do_write(fs, ino, name, value, size, flags, false);
}

int fs_removexattr(struct swiftfs_fs *fs, uint64_t ino, const char *name)
{
	return do_write(fs, ino, name, NULL, 0, 0, true);
}
