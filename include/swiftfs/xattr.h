/* Extended attribute names <-> Swift headers, and the encodings between
 * them. Pure functions (no I/O), unit-tested in tests/unit/test_xattr.c.
 *
 * The namespace (README, "Extended attributes"):
 *   user.swift.<fact>        a fixed set of names, each one Swift header
 *                            (table in xattr.c); object or container
 *   user.swift.meta.<NAME>   X-Object-Meta-<NAME> / X-Container-Meta-<NAME>
 *                            as the swift CLI sees it (case-insensitive,
 *                            Swift turns '_' into '-')
 *   user.<anything else>     stored losslessly as
 *                            X-Object-Meta-Xattr-<enc(anything else)>
 *
 * Name encoding (enc): Swift header names are case-insensitive (Swift
 * title-cases them) and '_' arrives as '-'. So only [a-z0-9.-] stand for
 * themselves; every other byte (capitals, '_', '%', UTF-8, ...) becomes
 * "%XX" with two hex digits. '%' and the digits are HTTP token characters
 * that survive Swift untouched, and decoding ignores case, so the mapping
 * is reversible whatever case the header comes back in.
 *
 * Value encoding: Swift metadata values must be UTF-8, may not hold
 * control characters, lose leading and trailing blanks, and an empty
 * value deletes the key. A value that is printable UTF-8 with none of
 * those problems and that does not start with "b64:" is stored as it is
 * (so `swift stat` shows it); any other value is stored as "b64:" and its
 * base64 (the empty value becomes "b64:"). */
#ifndef SWIFTFS_XATTR_H
#define SWIFTFS_XATTR_H

#include <stdbool.h>
#include <stddef.h>

#define XATTR_USER_PREFIX_STR "user."
#define XATTR_SWIFT_PREFIX "user.swift."
#define XATTR_META_PREFIX "user.swift.meta."
/* Header prefix (after X-Object-Meta-) of the generic user.* xattrs. */
#define XATTR_GENERIC_META "Xattr-"

enum swiftfs_xkind {
	XK_OTHER_NS,      /* security.*, system.*, trusted.*, ... */
	XK_UNKNOWN_SWIFT, /* user.swift.<not a name we know> */
	XK_META,          /* user.swift.meta.<name> */
	XK_GENERIC,       /* user.<anything else> */
	/* objects */
	XK_ETAG,
	XK_TIMESTAMP,
	XK_MANIFEST,
	XK_SYMLINK_TARGET,
	XK_VERSION_ID,
	XK_CONTENT_TYPE,
	XK_DELETE_AT,
	XK_TEMPURL,
	/* containers (the mount root) */
	XK_READ_ACL,
	XK_WRITE_ACL,
	XK_VERSIONS,
	XK_VERSIONS_LOCATION,
	XK_HISTORY_LOCATION,
	XK_STORAGE_POLICY,
	XK_QUOTA_BYTES,
	XK_QUOTA_COUNT,
	XK_BYTES_USED,
	XK_OBJECT_COUNT,
	XK_TEMPURL_KEY,
	XK_TOKEN_EXPIRES,
};

enum {
	XF_OBJECT = 1 << 0,    /* applies to objects (regular files) */
	XF_CONTAINER = 1 << 1, /* applies to the container (mount root) */
	XF_RO = 1 << 2,        /* read-only: setxattr/removexattr EPERM */
};

struct swiftfs_xname {
	const char *name;   /* full xattr name */
	enum swiftfs_xkind kind;
	const char *header; /* the Swift header it reads, or NULL (computed) */
	unsigned flags;
};

/* The fixed user.swift.* names (read and written by name, never listed:
 * see fs_xattr.c); *n gets the count. */
const struct swiftfs_xname *xattr_names(size_t *n);

/* Classify a full xattr name. For XK_META *rest is the metadata name, for
 * XK_GENERIC the part after "user."; for fixed names *x is the table row
 * (NULL otherwise). */
enum swiftfs_xkind xattr_classify(const char *name, const char **rest,
				  const struct swiftfs_xname **x);

/* A user.swift.meta.<name> name Swift can carry: HTTP token characters,
 * non-empty. */
bool xattr_meta_name_ok(const char *name);
/* Object metadata swiftfs keeps for itself (Mtime, Mode, Uid, Gid,
 * Symlink-Target) or for generic xattrs (Xattr-*): neither listed nor
 * writable as user.swift.meta.<name>. */
bool xattr_meta_reserved(const char *name);
/* Container metadata with an xattr of its own (Temp-URL-Key(-2),
 * Quota-Bytes, Quota-Count): not listed as user.swift.meta.<name>. */
bool xattr_container_meta_reserved(const char *name);

/* enc(rest) into a malloc'd string; NULL on allocation failure. */
char *xattr_encode_name(const char *rest);
/* The inverse; NULL when s is not a valid encoding (or no memory). */
char *xattr_decode_name(const char *s);

/* Value encoding (see the top of this file). malloc'd results. */
int xattr_encode_value(const void *v, size_t len, char **out);
/* *out is malloc'd with a NUL after *len bytes. -EINVAL: bad base64. */
int xattr_decode_value(const char *s, char **out, size_t *len);
/* A value Swift stores exactly as given: UTF-8, no control characters,
 * no leading or trailing blank. */
bool xattr_value_plain(const void *v, size_t len);

/* Cluster limits on metadata (/info "swift" section) and TempURL digests. */
struct swiftfs_xinfo {
	unsigned max_name;    /* max_meta_name_length (after X-Object-Meta-) */
	unsigned max_value;   /* max_meta_value_length */
	unsigned max_count;   /* max_meta_count */
	unsigned max_overall; /* max_meta_overall_size (names + values) */
	bool tempurl;         /* the tempurl middleware is there (or unknown) */
	bool versioning;      /* object versioning allowed (or unknown) */
	bool legacy_versions; /* versioned_writes (X-Versions/History-Location) allowed */
	char digest[8];       /* "sha512", "sha256" or "sha1" */
};
void xattr_info_default(struct swiftfs_xinfo *xi);
/* Fill xi from the JSON text of GET /info (defaults for what is absent).
 * -EINVAL when json is not a JSON object (xi keeps the defaults). */
int xattr_info_parse(const char *json, struct swiftfs_xinfo *xi);

/* Check a complete set of n metadata items (names without the
 * X-Object-Meta- / X-Container-Meta- prefix) against the limits:
 * 0, -ERANGE (a name too long), -E2BIG (a value too long) or -ENOSPC
 * (too many items, or too many bytes altogether). */
int xattr_check_limits(const struct swiftfs_xinfo *xi, const char *const *names,
		       const char *const *values, size_t n);

/* HMAC of "METHOD\nEXPIRES\nPATH" with key and digest ("sha1", "sha256",
 * "sha512"), as lowercase hex into out (>= 129 bytes). path is the
 * unencoded /v1/ACCOUNT/CONTAINER/OBJECT. 0 or -EINVAL. */
int xattr_tempurl_sign(const char *digest, const char *key, const char *method, long long expires,
		       const char *path, char *out, size_t outlen);

#endif
