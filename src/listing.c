/* Listings. Swift returns at most 10,000 names per request; we follow
 * `marker` until a page is empty so no directory is silently truncated
 * (cloudfuse's old bug). The XML is parsed with libxml2 from memory with
 * XML_PARSE_NONET and without XML_PARSE_NOENT or DTD loading, so no
 * entity is expanded and nothing is fetched. Swift's XML writer emits
 * names verbatim, and control characters, U+FFFE and U+FFFF make an
 * invalid XML document, so such a page is escaped before parsing (see
 * escape_listing) and its names are mapped back after: lossless, and no
 * entry is lost to a recovering parser. */
#include "swiftfs/listing.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"

/* Page sizes: Swift's default listing limits, lowered by /info or by a
 * server that refuses them. One cluster per process. */
static unsigned page_limit[2] = { 10000, 10000 };

unsigned listing_page_limit(bool account)
{
	return __atomic_load_n(&page_limit[account], __ATOMIC_RELAXED);
}

void listing_set_page_limit(bool account, unsigned limit)
{
	/* only ever lowered: a refusal's lesson is not undone by /info */
	unsigned cur = __atomic_load_n(&page_limit[account], __ATOMIC_RELAXED);
	while (limit && limit < cur &&
	       !__atomic_compare_exchange_n(&page_limit[account], &cur, limit, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

bool listing_limit_refused(const struct swiftfs_req *r, bool account, unsigned asked)
{
	unsigned long max = 0;
	const char *b = r->resp_body.data;
	if (r->status != 412 || !b)
		return false;
	/* Swift's answer to a limit above its own: "Maximum limit is N" */
	const char *p = memmem(b, r->resp_body.len, "Maximum limit is ", 17);
	if (p && p + 17 < b + r->resp_body.len)
		max = strtoul(p + 17, NULL, 10);
	if (!max || max >= asked)
		return false;
	LOGI("the cluster lists at most %lu names per request: using pages of that size", max);
	listing_set_page_limit(account, (unsigned)max);
	return true;
}

/* A CR is escaped too: XML parsers turn a raw CR (and CR LF) into LF,
 * which is another name. Tab and LF come through as they are, and stay
 * raw: Swift's document has LFs between its elements. */
static bool is_bad_ctl(unsigned char c)
{
	return c < 0x20 && c != '\t' && c != '\n';
}

/* What the escape maps, at b[0..left): 1 a C0 control byte, 2 U+FFFE or
 * U+FFFF (not characters XML allows), 3 a name's own U+F700..U+F722 (the
 * escape's range: prefixed so it comes back as itself), 0 anything else. */
static int escape_kind(const unsigned char *b, size_t left)
{
	if (is_bad_ctl(b[0]))
		return 1;
	if (left >= 3 && b[0] == 0xEF && b[1] == 0xBF && (b[2] == 0xBE || b[2] == 0xBF))
		return 2;
	if (left >= 3 && b[0] == 0xEF && b[1] == 0x9C && b[2] >= 0x80 && b[2] <= 0xA2)
		return 3;
	return 0;
}

/* Swift's XML writer emits names verbatim, and some bytes make the
 * document invalid: a C0 control byte becomes U+F700+byte (EF 9C 80+c),
 * U+FFFE and U+FFFF become U+F720 and U+F721, and a name's own
 * U+F700..U+F722 gets U+F722 in front. Names come back exactly
 * (unescape). NULL when nothing needs it: then buf is parsed as it is,
 * and names are not unescaped at all. */
static char *escape_listing(const char *buf, size_t len, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)buf;
	size_t bad = 0, own = 0;
	for (size_t i = 0; i < len; i++) {
		int k = escape_kind(u + i, len - i);
		bad += k == 1 || k == 2;
		own += k == 3;
	}
	if (!bad)
		return NULL;
	char *out = malloc(len + bad * 2 + own * 3);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		int k = escape_kind(u + i, len - i);
		if (k == 0) {
			out[o++] = (char)u[i++];
			continue;
		}
		if (k == 3) {
			memcpy(out + o, "\xEF\x9C\xA2", 3);
			o += 3;
			memcpy(out + o, u + i, 3);
			o += 3;
			i += 3;
			continue;
		}
		out[o++] = (char)0xEF;
		out[o++] = (char)0x9C;
		out[o++] = (char)(k == 1 ? 0x80 + u[i] : u[i + 2] == 0xBE ? 0xA0 : 0xA1);
		i += k == 1 ? 1 : 3;
	}
	*outlen = o;
	return out;
}

static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		unsigned char *u = (unsigned char *)r;
		bool esc = u[0] == 0xEF && u[1] == 0x9C && u[2] >= 0x80 && u[2] <= 0xA2;
		if (esc && u[2] == 0xA2 && u[3] == 0xEF && u[4] == 0x9C && u[5] >= 0x80 &&
		    u[5] <= 0xA2) {
			memmove(w, r + 3, 3); /* the name's own character */
			w += 3;
			r += 6;
		} else if (esc && u[2] < 0xA0) {
			*w++ = (char)(u[2] - 0x80);
			r += 3;
		} else if (esc && u[2] < 0xA2) {
			memcpy(w, u[2] == 0xA0 ? "\xEF\xBF\xBE" : "\xEF\xBF\xBF", 3);
			w += 3;
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

static char *node_text(xmlNode *n, bool escaped)
{
	xmlChar *t = xmlNodeGetContent(n);
	char *s = strdup(t ? (const char *)t : "");
	xmlFree(t);
	if (s && escaped)
		unescape(s);
	return s;
}

static int page_push(struct swiftfs_lpage *p, struct swiftfs_lentry *e)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct swiftfs_lentry *v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = *e;
	return 0;
}

static void entry_free(struct swiftfs_lentry *e)
{
	free(e->name);
	free(e->hash);
	free(e->content_type);
}

static int parse_entry(xmlNode *node, bool subdir, bool escaped, struct swiftfs_lentry *e)
{
	memset(e, 0, sizeof(*e));
	e->is_subdir = subdir;
	if (subdir) {
		xmlChar *attr = xmlGetProp(node, (const xmlChar *)"name");
		if (attr) {
			e->name = strdup((const char *)attr);
			xmlFree(attr);
			if (e->name && escaped)
				unescape(e->name);
		}
	}
	for (xmlNode *c = node->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		const char *tag = (const char *)c->name;
		if (strcmp(tag, "name") == 0 && !e->name) {
			e->name = node_text(c, escaped);
		} else if (strcmp(tag, "hash") == 0) {
			free(e->hash);
			e->hash = node_text(c, escaped);
		} else if (strcmp(tag, "bytes") == 0 || strcmp(tag, "count") == 0) {
			char *t = node_text(c, escaped);
			uint64_t v = t ? strtoull(t, NULL, 10) : 0;
			if (tag[0] == 'b')
				e->bytes = v;
			else
				e->count = v;
			free(t);
		} else if (strcmp(tag, "content_type") == 0) {
			free(e->content_type);
			e->content_type = node_text(c, escaped);
		} else if (strcmp(tag, "last_modified") == 0) {
			char *t = node_text(c, escaped);
			if (t)
				util_parse_iso_time(t, &e->mtime);
			free(t);
		}
	}
	if (!e->name) {
		entry_free(e);
		return -EIO;
	}
	return 0;
}

int listing_parse(const char *buf, size_t len, struct swiftfs_lpage *page)
{
	const int base = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	xmlDoc *doc;
	int rc = 0;

	if (len > INT32_MAX)
		return -EIO;
	if (len == 0)
		return 0; /* an empty container answers 204 with no body */
	size_t elen = 0;
	char *escaped = escape_listing(buf, len, &elen);
	if (escaped) {
		buf = escaped;
		len = elen;
	}
	doc = xmlReadMemory(buf, (int)len, NULL, "UTF-8", base);
	bool was_escaped = escaped != NULL;
	free(escaped);
	if (!doc)
		return -EIO;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!root || (strcmp((const char *)root->name, "container") != 0 &&
		      strcmp((const char *)root->name, "account") != 0)) {
		rc = -EIO;
		goto out;
	}
	bool account = strcmp((const char *)root->name, "account") == 0;
	for (xmlNode *n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		const char *tag = (const char *)n->name;
		bool subdir = strcmp(tag, "subdir") == 0;
		if (!subdir && strcmp(tag, account ? "container" : "object") != 0)
			continue;
		struct swiftfs_lentry e;
		page->raw_count++;
		if (parse_entry(n, subdir, was_escaped, &e)) {
			rc = -EIO;
			goto out;
		}
		rc = page_push(page, &e);
		if (rc) {
			entry_free(&e);
			goto out;
		}
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

void listing_page_free(struct swiftfs_lpage *page)
{
	for (size_t i = 0; i < page->n; i++)
		entry_free(&page->v[i]);
	free(page->v);
	memset(page, 0, sizeof(*page));
}

int listing_fetch(struct swiftfs_client *c, const char *container, const char *prefix,
		  bool delim, size_t max_entries, struct swiftfs_lpage *out, unsigned *pages_out)
{
	char *marker = NULL;
	char *eprefix = util_url_encode(prefix ? prefix : "", false);
	struct swiftfs_buf q = { 0 };
	unsigned pages = 0;
	int rc = 0;

	if (!eprefix)
		return -ENOMEM;
	for (;;) {
		struct swiftfs_req r;
		size_t before = out->raw_count;
		unsigned limit = listing_page_limit(false);

		q.len = 0;
		rc = buf_printf(&q, "format=xml&limit=%u%s%s%s", limit,
				delim ? "&delimiter=%2F" : "", *eprefix ? "&prefix=" : "", eprefix);
		if (!rc && marker) {
			char *em = util_url_encode(marker, false);
			rc = em ? buf_printf(&q, "&marker=%s", em) : -ENOMEM;
			free(em);
		}
		if (rc)
			break;
		swift_req_init(&r, "GET");
		r.container = container;
		r.query = q.data;
		r.recv_limit = 64u << 20;
		rc = swift_request(c, &r);
		pages++;
		buf_terminate(&r.resp_body);
		if (rc && listing_limit_refused(&r, false, limit)) {
			swift_req_cleanup(&r);
			continue;
		}
		if (!rc)
			rc = listing_parse(r.resp_body.data, r.resp_body.len, out);
		if (rc == -EIO && r.status >= 200 && r.status < 300)
			LOGE("could not parse the listing of %s (prefix '%s')", container,
			     prefix ? prefix : "");
		swift_req_cleanup(&r);
		if (rc)
			break;
		size_t got = out->raw_count - before;
		if (got == 0 || got < limit)
			break;
		if (max_entries && out->n >= max_entries)
			break;
		const char *last = out->v[out->n - 1].name;
		if (marker && strcmp(last, marker) <= 0) {
			/* the next page would start where this one did: never loop */
			LOGE("the listing of %s (prefix '%s') does not advance past '%s'", container,
			     prefix ? prefix : "", marker);
			rc = -EIO;
			break;
		}
		free(marker);
		marker = strdup(last);
		if (!marker) {
			rc = -ENOMEM;
			break;
		}
	}
	if (pages_out)
		*pages_out = pages;
	free(marker);
	free(eprefix);
	buf_free(&q);
	return rc;
}

bool listing_is_dir_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n && ct[n - 1] == ' ')
		n--;
	return (n == 21 && strncasecmp(ct, "application/directory", n) == 0) ||
	       (n == 14 && strncasecmp(ct, "text/directory", n) == 0) ||
	       (n == 23 && strncasecmp(ct, "application/x-directory", n) == 0);
}

static bool is_symlink_type(const char *ct)
{
	return ct && strncasecmp(ct, "application/symlink", 19) == 0 &&
	       (ct[19] == '\0' || ct[19] == ';');
}

bool listing_valid_segment(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	if (len == 1 && s[0] == '.')
		return false;
	if (len == 2 && s[0] == '.' && s[1] == '.')
		return false;
	return memchr(s, '\0', len) == NULL && memchr(s, '/', len) == NULL;
}

static int dirent_cmp(const void *a, const void *b)
{
	const struct swiftfs_dirent *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	/* directories first, so the merge below sees them first */
	return (x->kind == DK_DIR ? 0 : 1) - (y->kind == DK_DIR ? 0 : 1);
}

static void dirent_free(struct swiftfs_dirent *d)
{
	free(d->name);
	free(d->marker_name);
	free(d->etag);
	free(d->content_type);
}

int listing_to_dirlist(const char *prefix, const struct swiftfs_lpage *page,
		       struct swiftfs_dirlist *dl)
{
	size_t plen = strlen(prefix);
	int rc = 0;

	memset(dl, 0, sizeof(*dl));
	dl->v = calloc(page->n ? page->n : 1, sizeof(*dl->v));
	if (!dl->v)
		return -ENOMEM;
	for (size_t i = 0; i < page->n; i++) {
		const struct swiftfs_lentry *e = &page->v[i];
		if (strncmp(e->name, prefix, plen) != 0)
			continue;
		const char *rest = e->name + plen;
		size_t seglen = strlen(rest);
		if (e->is_subdir && seglen && rest[seglen - 1] == '/')
			seglen--;
		if (!e->is_subdir && seglen == 0)
			continue; /* this directory's own "dir/" marker */
		if (!listing_valid_segment(rest, seglen)) {
			LOGW("leaving out '%s': '%.*s' cannot be a file name (empty, '.', '..' or "
			     "longer than 255 bytes)", e->name, (int)(seglen > 300 ? 300 : seglen),
			     rest);
			dl->skipped++;
			continue;
		}
		struct swiftfs_dirent *d = &dl->v[dl->n];
		d->name = strndup(rest, seglen);
		if (!d->name) {
			rc = -ENOMEM;
			goto fail;
		}
		dl->n++;
		d->mtime = e->mtime;
		if (e->is_subdir) {
			d->kind = DK_DIR;
		} else if (listing_is_dir_type(e->content_type) && e->bytes == 0) {
			d->kind = DK_DIR;
			d->has_marker = true;
			d->marker_name = strdup(e->name);
		} else {
			d->kind = is_symlink_type(e->content_type) ? DK_SYMLINK : DK_FILE;
			d->size = e->bytes;
			d->maybe_dlo = e->bytes == 0 && d->kind == DK_FILE;
			d->etag = util_strdup0(e->hash);
			d->content_type = util_strdup0(e->content_type);
		}
	}
	qsort(dl->v, dl->n, sizeof(*dl->v), dirent_cmp);
	/* merge equal names: marker + subdir, or a directory hiding a file */
	size_t w = 0;
	for (size_t r = 0; r < dl->n; r++) {
		if (w > 0 && strcmp(dl->v[w - 1].name, dl->v[r].name) == 0) {
			struct swiftfs_dirent *keep = &dl->v[w - 1];
			struct swiftfs_dirent *drop = &dl->v[r];
			if (drop->kind == DK_DIR) {
				if (drop->has_marker && !keep->has_marker) {
					keep->has_marker = true;
					keep->marker_name = drop->marker_name;
					drop->marker_name = NULL;
					keep->mtime = drop->mtime;
				}
			} else {
				LOGW("'%s%s' is both an object and a directory; the directory is shown "
				     "and the object is hidden", prefix, drop->name);
				dl->skipped++;
			}
			dirent_free(drop);
			continue;
		}
		if (w != r)
			dl->v[w] = dl->v[r];
		w++;
	}
	dl->n = w;
	return 0;
fail:
	listing_dirlist_free(dl);
	return rc;
}

void listing_dirlist_free(struct swiftfs_dirlist *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		dirent_free(&dl->v[i]);
	free(dl->v);
	memset(dl, 0, sizeof(*dl));
}

const struct swiftfs_dirent *listing_dirlist_find(const struct swiftfs_dirlist *dl,
						  const char *name)
{
	size_t lo = 0, hi = dl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dl->v[mid].name, name);
		if (c == 0)
			return &dl->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
