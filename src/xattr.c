/* xattr names <-> Swift headers and the encodings between them (see
 * xattr.h for the namespace and why the encodings look the way they do).
 * Everything here is pure: the network side is fs_xattr.c. */
#include "swiftfs/xattr.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "swiftfs/util.h"

static const struct swiftfs_xname names[] = {
	/* objects */
	{ "user.swift.etag", XK_ETAG, "ETag", XF_OBJECT | XF_RO },
	{ "user.swift.timestamp", XK_TIMESTAMP, "X-Timestamp", XF_OBJECT | XF_RO },
	{ "user.swift.manifest", XK_MANIFEST, NULL, XF_OBJECT | XF_RO },
	{ "user.swift.symlink_target", XK_SYMLINK_TARGET, "X-Symlink-Target", XF_OBJECT | XF_RO },
	{ "user.swift.version_id", XK_VERSION_ID, "X-Object-Version-Id", XF_OBJECT | XF_RO },
	{ "user.swift.content_type", XK_CONTENT_TYPE, "Content-Type", XF_OBJECT },
	{ "user.swift.delete_at", XK_DELETE_AT, "X-Delete-At", XF_OBJECT },
	{ "user.swift.tempurl", XK_TEMPURL, NULL, XF_OBJECT | XF_RO },
	/* the container */
	{ "user.swift.read_acl", XK_READ_ACL, "X-Container-Read", XF_CONTAINER },
	{ "user.swift.write_acl", XK_WRITE_ACL, "X-Container-Write", XF_CONTAINER },
	{ "user.swift.versions", XK_VERSIONS, "X-Versions-Enabled", XF_CONTAINER },
	{ "user.swift.versions_location", XK_VERSIONS_LOCATION, "X-Versions-Location",
	  XF_CONTAINER },
	{ "user.swift.history_location", XK_HISTORY_LOCATION, "X-History-Location", XF_CONTAINER },
	{ "user.swift.storage_policy", XK_STORAGE_POLICY, "X-Storage-Policy", XF_CONTAINER | XF_RO },
	{ "user.swift.quota_bytes", XK_QUOTA_BYTES, "X-Container-Meta-Quota-Bytes", XF_CONTAINER },
	{ "user.swift.quota_count", XK_QUOTA_COUNT, "X-Container-Meta-Quota-Count", XF_CONTAINER },
	{ "user.swift.bytes_used", XK_BYTES_USED, "X-Container-Bytes-Used", XF_CONTAINER | XF_RO },
	{ "user.swift.object_count", XK_OBJECT_COUNT, "X-Container-Object-Count",
	  XF_CONTAINER | XF_RO },
	{ "user.swift.tempurl_key", XK_TEMPURL_KEY, "X-Container-Meta-Temp-URL-Key", XF_CONTAINER },
	{ "user.swift.token_expires", XK_TOKEN_EXPIRES, NULL, XF_CONTAINER | XF_RO },
};

const struct swiftfs_xname *xattr_names(size_t *n)
{
	*n = ARRAY_SIZE(names);
	return names;
}

enum swiftfs_xkind xattr_classify(const char *name, const char **rest,
				  const struct swiftfs_xname **x)
{
	*rest = NULL;
	*x = NULL;
	if (strncmp(name, XATTR_USER_PREFIX_STR, strlen(XATTR_USER_PREFIX_STR)) != 0)
		return XK_OTHER_NS;
	if (strncmp(name, XATTR_META_PREFIX, strlen(XATTR_META_PREFIX)) == 0) {
		*rest = name + strlen(XATTR_META_PREFIX);
		return XK_META;
	}
	if (strncmp(name, XATTR_SWIFT_PREFIX, strlen(XATTR_SWIFT_PREFIX)) == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			if (strcmp(name, names[i].name) == 0) {
				*x = &names[i];
				return names[i].kind;
			}
		}
		return XK_UNKNOWN_SWIFT;
	}
	*rest = name + strlen(XATTR_USER_PREFIX_STR);
	return XK_GENERIC;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	return isascii(c) && (isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL) && c != 0;
}

bool xattr_meta_name_ok(const char *name)
{
	if (!*name)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (!is_tchar(*p))
			return false;
	return true;
}

bool xattr_meta_reserved(const char *name)
{
	static const char *const ours[] = { "Mtime", "Mode", "Uid", "Gid", "Symlink-Target" };
	char norm[32]; /* '_' goes out as '-' (meta_header) */
	size_t n = strlen(name);
	for (size_t i = 0; i < ARRAY_SIZE(ours) && n < sizeof(norm); i++) {
		for (size_t j = 0; j <= n; j++)
			norm[j] = name[j] == '_' ? '-' : name[j];
		if (strcasecmp(norm, ours[i]) == 0)
			return true;
	}
	/* '_' arrives as '-': Xattr_x is the same key as Xattr-x */
	return strlen(name) >= 6 && strncasecmp(name, "Xattr", 5) == 0 &&
	       (name[5] == '-' || name[5] == '_');
}

bool xattr_container_meta_reserved(const char *name)
{
	static const char *const ours[] = { "Temp-URL-Key", "Temp-URL-Key-2", "Quota-Bytes",
					    "Quota-Count" };
	char norm[32];
	size_t n = strlen(name);
	if (n >= sizeof(norm))
		return false;
	for (size_t i = 0; i <= n; i++)
		norm[i] = name[i] == '_' ? '-' : name[i];
	for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
		if (strcasecmp(norm, ours[i]) == 0)
			return true;
	return false;
}

static bool is_literal(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

char *xattr_encode_name(const char *rest)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(rest);
	char *out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (const unsigned char *p = (const unsigned char *)rest; *p; p++) {
		if (is_literal(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *xattr_decode_name(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '_') {
			*o++ = '-'; /* what Swift would have made of it */
		} else if (is_literal((unsigned char)tolower(c))) {
			*o++ = (char)tolower(c);
		} else {
			goto bad;
		}
	}
	*o = '\0';
	if (out[0] == '\0')
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

/* Length of the UTF-8 sequence at p (max n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls are as unwelcome in a header as C0 ones */
	if (cp >= 0x80 && cp < 0xa0)
		return 0;
	return len;
}

bool xattr_value_plain(const void *v, size_t len)
{
	const unsigned char *p = v;
	if (len == 0 || p[0] == ' ' || p[0] == '\t' || p[len - 1] == ' ' || p[len - 1] == '\t')
		return false;
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		size_t l = utf8_len(p + i, len - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

int xattr_encode_value(const void *v, size_t len, char **out)
{
	*out = NULL;
	if (xattr_value_plain(v, len) && !(len >= 4 && memcmp(v, "b64:", 4) == 0)) {
		char *s = malloc(len + 1);
		if (!s)
			return -ENOMEM;
		memcpy(s, v, len);
		s[len] = '\0';
		*out = s;
		return 0;
	}
	size_t cap = 4 + 4 * ((len + 2) / 3) + 1;
	char *s = malloc(cap);
	if (!s)
		return -ENOMEM;
	memcpy(s, "b64:", 4);
	EVP_EncodeBlock((unsigned char *)s + 4, v, (int)len);
	*out = s;
	return 0;
}

int xattr_decode_value(const char *s, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	size_t n = strlen(s);
	if (n < 4 || memcmp(s, "b64:", 4) != 0) {
		char *v = malloc(n + 1);
		if (!v)
			return -ENOMEM;
		memcpy(v, s, n + 1);
		*out = v;
		*len = n;
		return 0;
	}
	s += 4;
	n -= 4;
	if (n % 4)
		return -EINVAL;
	char *v = malloc(n / 4 * 3 + 1);
	if (!v)
		return -ENOMEM;
	int got = n ? EVP_DecodeBlock((unsigned char *)v, (const unsigned char *)s, (int)n) : 0;
	if (got < 0) {
		free(v);
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	size_t pad = 0;
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	*len = (size_t)got - pad;
	v[*len] = '\0';
	*out = v;
	return 0;
}

void xattr_info_default(struct swiftfs_xinfo *xi)
{
	/* Swift's defaults (swift/common/constraints.py) */
	xi->max_name = 128;
	xi->max_value = 256;
	xi->max_count = 90;
	xi->max_overall = 4096;
	xi->tempurl = true;
	xi->versioning = xi->legacy_versions = true;
	snprintf(xi->digest, sizeof(xi->digest), "sha256");
}

static void get_uint(json_object *sect, const char *key, unsigned *out)
{
	json_object *v;
	if (json_object_object_get_ex(sect, key, &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) > 0)
		*out = (unsigned)json_object_get_int64(v);
}

int xattr_info_parse(const char *json, struct swiftfs_xinfo *xi)
{
	json_object *root, *sect, *v;
	xattr_info_default(xi);
	root = json_tokener_parse(json ? json : "");
	if (!root || !json_object_is_type(root, json_type_object)) {
		if (root)
			json_object_put(root);
		return -EINVAL;
	}
	if (json_object_object_get_ex(root, "swift", &sect)) {
		get_uint(sect, "max_meta_name_length", &xi->max_name);
		get_uint(sect, "max_meta_value_length", &xi->max_value);
		get_uint(sect, "max_meta_count", &xi->max_count);
		get_uint(sect, "max_meta_overall_size", &xi->max_overall);
	}
	/* each middleware says it is there only when it allows what it does
	 * (allow_object_versioning, allow_versioned_writes) */
	xi->versioning = json_object_object_get_ex(root, "object_versioning", NULL);
	xi->legacy_versions = json_object_object_get_ex(root, "versioned_writes", NULL);
	xi->tempurl = json_object_object_get_ex(root, "tempurl", &sect);
	/* the strongest digest the cluster accepts; sha256 when it does not say */
	if (xi->tempurl && json_object_object_get_ex(sect, "allowed_digests", &v) &&
	    json_object_is_type(v, json_type_array)) {
		static const char *const pref[] = { "sha512", "sha256", "sha1" };
		bool found = false;
		for (size_t p = 0; p < ARRAY_SIZE(pref) && !found; p++) {
			for (size_t i = 0; i < json_object_array_length(v); i++) {
				const char *d = json_object_get_string(json_object_array_get_idx(v, i));
				if (d && strcmp(d, pref[p]) == 0) {
					snprintf(xi->digest, sizeof(xi->digest), "%s", pref[p]);
					found = true;
					break;
				}
			}
		}
	}
	json_object_put(root);
	return 0;
}

int xattr_check_limits(const struct swiftfs_xinfo *xi, const char *const *names_,
		       const char *const *values, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names_[i]), vl = strlen(values[i]);
		if (nl > xi->max_name)
			return -ERANGE;
		if (vl > xi->max_value)
			return -E2BIG;
		total += nl + vl;
	}
	if (n > xi->max_count || total > xi->max_overall)
		return -ENOSPC;
	return 0;
}

int xattr_tempurl_sign(const char *digest, const char *key, const char *method, long long expires,
		       const char *path, char *out, size_t outlen)
{
	const EVP_MD *md;
	if (strcmp(digest, "sha1") == 0)
		md = EVP_sha1();
	else if (strcmp(digest, "sha256") == 0)
		md = EVP_sha256();
	else if (strcmp(digest, "sha512") == 0)
		md = EVP_sha512();
	else
		return -EINVAL;
	char *body = NULL;
	if (asprintf(&body, "%s\n%lld\n%s", method, expires, path) < 0)
		return -ENOMEM;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned char *r = HMAC(md, key, (int)strlen(key), (const unsigned char *)body,
				strlen(body), mac, &maclen);
	free(body);
	if (!r || outlen < 2 * (size_t)maclen + 1)
		return -EINVAL;
	for (unsigned i = 0; i < maclen; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}
