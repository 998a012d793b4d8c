/* Object metadata around uploads: what an upload of a file carries
 * (X-Object-Meta-Mtime, mode, owner, and the object's other metadata and
 * the headers a PUT would drop, kept from what the object had), how an
 * xattr change reaches the metadata of a file whose local data is not
 * uploaded yet, and how a metadata change is POSTed whole (Swift has no
 * partial update; a symlink is PUT again instead). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fs_internal.h"
#include "fs_wstate.h"
#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/upload.h"
#include "swiftfs/util.h"

void fs_meta_free(char **meta, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(meta[i]);
	free(meta);
}

static bool is_kept_meta(const char *name)
{
	static const char *const ours[] = { "X-Object-Meta-Mtime", "X-Object-Meta-Mode",
					    "X-Object-Meta-Uid", "X-Object-Meta-Gid" };
	if (strncasecmp(name, "X-Object-Meta-", 14) != 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
		if (strcasecmp(name, ours[i]) == 0)
			return false;
	return true;
}

/* The object's metadata headers other than ours, as "Name: value"; with
 * all, also the other headers an upload of the file keeps (its expiry,
 * Content-Encoding, Cache-Control, ... set as xattrs), which a PUT
 * without them would drop. */
int fs_meta_collect(const struct swiftfs_req *r, bool all, char ***out, size_t *nout)
{
	char **v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < r->resp_nheaders; i++) {
		const struct swiftfs_header *h = &r->resp_headers[i];
		if (!is_kept_meta(h->name) && !(all && fs_xattr_post_keeps(h->name)))
			continue;
		char **nv = realloc(v, (n + 1) * sizeof(*nv));
		if (!nv)
			goto fail;
		v = nv;
		if (asprintf(&v[n], "%s: %s", h->name, h->value) < 0)
			goto fail;
		n++;
	}
	*out = v;
	*nout = n;
	return 0;
fail:
	fs_meta_free(v, n);
	return -ENOMEM;
}

void fs_local_meta_refresh(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *object)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return;
	struct swiftfs_req r;
	char **meta = NULL;
	size_t nmeta = 0;
	swift_req_init(&r, "HEAD");
	r.container = fs->container;
	r.object = object;
	if (swift_request(fs->c, &r) == 0 && fs_meta_collect(&r, true, &meta, &nmeta) == 0) {
		const char *ct = swift_req_header(&r, "Content-Type");
		char *type = util_strdup0(ct);
		pthread_mutex_lock(&w->lock);
		fs_meta_free(w->meta, w->nmeta);
		w->meta = meta;
		w->nmeta = nmeta;
		meta = NULL;
		nmeta = 0;
		if (type || !ct) {
			free(w->content_type);
			w->content_type = type;
		}
		pthread_mutex_unlock(&w->lock);
	} else {
		LOGW("%s: cannot read back its metadata after an xattr change; the next upload of "
		     "the data written here may not keep that change", object);
	}
	fs_meta_free(meta, nmeta);
	swift_req_cleanup(&r);
	fs_wstate_put(fs, n, w);
}

void fs_local_meta_set(struct swiftfs_fs *fs, struct swiftfs_inode *n, const char *hname,
		       const char *value)
{
	struct swiftfs_wstate *w = fs_wstate_peek(fs, n);
	if (!w)
		return;
	char *line = NULL;
	if (value && asprintf(&line, "%s: %s", hname, value) < 0)
		line = NULL;
	size_t hl = strlen(hname);
	pthread_mutex_lock(&w->lock);
	if (strcasecmp(hname, "Content-Type") == 0) {
		char *ct = value ? strdup(value) : NULL;
		if (ct) {
			free(w->content_type);
			w->content_type = ct;
		}
	} else if (!value || line) {
		size_t k = 0;
		for (size_t i = 0; i < w->nmeta; i++) {
			if (strncasecmp(w->meta[i], hname, hl) == 0 && w->meta[i][hl] == ':')
				free(w->meta[i]);
			else
				w->meta[k++] = w->meta[i];
		}
		w->nmeta = k;
		char **nv = line ? realloc(w->meta, (k + 1) * sizeof(*nv)) : NULL;
		if (nv) {
			nv[k] = line;
			line = NULL;
			w->meta = nv;
			w->nmeta = k + 1;
		}
	}
	pthread_mutex_unlock(&w->lock);
	free(line);
	fs_wstate_put(fs, n, w);
}

/* The headers an upload of w carries: X-Object-Meta-Mtime, mode and
 * owner when set, and the object's other metadata, kept. */
int fs_upload_headers_locked(struct swiftfs_wstate *w, const struct swiftfs_attr *a,
				 struct upload_hdrs *h, const char ***out)
{
	size_t nh = 0;
	const char **hdrs = calloc(w->nmeta + 6, sizeof(*hdrs));
	if (!hdrs)
		return -ENOMEM;
	snprintf(h->mtime_str, sizeof(h->mtime_str), "%lld.%06ld", (long long)w->mtime.tv_sec,
		 w->mtime.tv_nsec / 1000);
	snprintf(h->hmtime, sizeof(h->hmtime), "X-Object-Meta-Mtime: %s", h->mtime_str);
	hdrs[nh++] = h->hmtime;
	if (a->have_mode) {
		snprintf(h->hmode, sizeof(h->hmode), "X-Object-Meta-Mode: %o", a->mode & 07777);
		hdrs[nh++] = h->hmode;
	}
	if (a->have_owner) {
		snprintf(h->huid, sizeof(h->huid), "X-Object-Meta-Uid: %u", a->uid);
		snprintf(h->hgid, sizeof(h->hgid), "X-Object-Meta-Gid: %u", a->gid);
		hdrs[nh++] = h->huid;
		hdrs[nh++] = h->hgid;
	}
	for (size_t i = 0; i < w->nmeta; i++)
		if (!upload_header_expired(w->meta[i]))
			hdrs[nh++] = w->meta[i];
	hdrs[nh] = NULL;
	*out = hdrs;
	return 0;
}

static int post_meta_locked(struct swiftfs_fs *fs, const char *object, const char *const *set)
{
	struct swiftfs_req h, r;
	char **meta = NULL;
	size_t nmeta = 0;
	const char **hdrs = NULL;
	char *manifest = NULL, *linkhdr = NULL;
	char **kept = NULL;
	size_t nkept = 0;
	int rc;

	rc = fs_head_itself(fs, fs->container, object, NULL, &h, NULL, 0);
	if (rc)
		goto out;
	rc = fs_meta_collect(&h, false, &meta, &nmeta);
	if (rc)
		goto out;
	const char *m = swift_req_header(&h, "X-Object-Manifest");
	for (size_t i = 0; m && set[i]; i++)
		if (strncasecmp(set[i], "X-Object-Manifest:", 18) == 0)
			m = NULL; /* being set */
	if (m && asprintf(&manifest, "X-Object-Manifest: %s", m) < 0) {
		manifest = NULL;
		rc = -ENOMEM;
		goto out;
	}
	/* Swift answers a POST to a symlink with a redirect to its target:
	 * a symlink's metadata is rewritten by PUTting the (empty) link again */
	const char *tgt = swift_req_header(&h, "X-Symlink-Target");
	const char *ct = swift_req_header(&h, "Content-Type");
	bool is_link = tgt || (ct && strncasecmp(ct, "application/symlink", 19) == 0);
	if (is_link && tgt && asprintf(&linkhdr, "X-Symlink-Target: %s", tgt) < 0) {
		linkhdr = NULL;
		rc = -ENOMEM;
		goto out;
	}
	size_t nset = 0;
	while (set[nset])
		nset++;
	hdrs = calloc(nmeta + nset + 8 + h.resp_nheaders, sizeof(*hdrs));
	if (!hdrs) {
		rc = -ENOMEM;
		goto out;
	}
	size_t nh = 0;
	for (size_t i = 0; i < nset; i++)
		hdrs[nh++] = set[i];
	/* ours that are not being set now stay as they were */
	static const char *const ours[] = { "X-Object-Meta-Mtime", "X-Object-Meta-Mode",
					    "X-Object-Meta-Uid", "X-Object-Meta-Gid" };
	char keep[4][300];
	for (size_t k = 0; k < ARRAY_SIZE(ours); k++) {
		bool setting = false;
		for (size_t i = 0; i < nset; i++)
			if (strncasecmp(set[i], ours[k], strlen(ours[k])) == 0 &&
			    set[i][strlen(ours[k])] == ':')
				setting = true;
		const char *v = swift_req_header(&h, ours[k]);
		if (!setting && v) {
			snprintf(keep[k], sizeof(keep[k]), "%s: %s", ours[k], v);
			hdrs[nh++] = keep[k];
		}
	}
	for (size_t i = 0; i < nmeta; i++)
		hdrs[nh++] = meta[i];
	if (manifest)
		hdrs[nh++] = manifest;
	/* xattrs: the expiry and Content-* headers a POST would drop */
	kept = calloc(h.resp_nheaders + 1, sizeof(*kept));
	if (!kept) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < h.resp_nheaders && !is_link; i++) {
		const struct swiftfs_header *e = &h.resp_headers[i];
		if (!fs_xattr_post_keeps(e->name))
			continue;
		if (asprintf(&kept[nkept], "%s: %s", e->name, e->value) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs[nh++] = kept[nkept++];
	}
	if (is_link) {
		hdrs[nh++] = "Content-Type: application/symlink";
		if (linkhdr)
			hdrs[nh++] = linkhdr;
	}
	hdrs[nh] = NULL;
	swift_req_init(&r, is_link ? "PUT" : "POST");
	r.container = fs->container;
	r.object = object;
	r.headers = hdrs;
	if (is_link) {
		r.has_body = true;
		r.send_buf = "";
		r.send_len = 0;
	}
	rc = swift_request(fs->c, &r);
	if (rc) {
		char what[300];
		swift_describe_error(&r, what, sizeof(what));
		LOGE("metadata update failed: %s", what);
	}
	swift_req_cleanup(&r);
out:
	swift_req_cleanup(&h);
	fs_meta_free(meta, nmeta);
	free(hdrs);
	free(manifest);
	free(linkhdr);
	for (size_t i = 0; i < nkept; i++)
		free(kept[i]);
	free(kept);
	return rc;
}

int fs_post_meta(struct swiftfs_fs *fs, const char *object, const char *const *set)
{
	pthread_mutex_lock(&fs->meta_lock);
	int rc = post_meta_locked(fs, object, set);
	pthread_mutex_unlock(&fs->meta_lock);
	return rc;
}
