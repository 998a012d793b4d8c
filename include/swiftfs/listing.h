/* Container listings: the XML parser (pure, fuzzable), the paginated
 * fetch, and the step that turns one delimiter listing into the entries of
 * one directory (dropping names no path can hold, merging directory
 * markers with subdir entries, resolving a file/directory name clash). */
#ifndef SWIFTFS_LISTING_H
#define SWIFTFS_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct swiftfs_client;

/* One <object>, <subdir> or account <container> of a listing. */
struct swiftfs_lentry {
	char *name;          /* full name; a subdir's ends in '/' */
	bool is_subdir;
	uint64_t bytes;
	uint64_t count;      /* account listings: objects in the container */
	char *hash;          /* ETag (MD5 hex), NULL for subdirs */
	char *content_type;
	struct timespec mtime; /* last_modified (UTC) */
};

struct swiftfs_lpage {
	struct swiftfs_lentry *v;
	size_t n;
	size_t cap;
	size_t raw_count; /* entries the server sent (for pagination) */
};

/* Parse an XML listing body and append its entries to page. Entities are
 * not expanded and nothing is fetched from the network. 0 or -EIO. */
int listing_parse(const char *buf, size_t len, struct swiftfs_lpage *page);
void listing_page_free(struct swiftfs_lpage *page);

/* List container (prefix, delimiter '/' when delim) completely, following
 * `marker` until a page comes back empty or short. max_entries > 0 stops
 * early (the caller treats the result as partial). pages_out counts the
 * requests made. */
int listing_fetch(struct swiftfs_client *c, const char *container, const char *prefix,
		  bool delim, size_t max_entries, struct swiftfs_lpage *out, unsigned *pages_out);

/* Names per listing request (account: of the account listing): Swift's
 * 10000, or the cluster's lower limit from /info or from a refusal. */
unsigned listing_page_limit(bool account);
void listing_set_page_limit(bool account, unsigned limit);
/* Whether r (a listing asking for `asked` names) was refused as above the
 * cluster's limit; the limit is then lowered: ask again. */
struct swiftfs_req;
bool listing_limit_refused(const struct swiftfs_req *r, bool account, unsigned asked);

/* Directory entries built from a delimiter listing of `prefix`. */
enum swiftfs_dkind { DK_FILE, DK_DIR, DK_SYMLINK };

struct swiftfs_dirent {
	char *name;          /* one path segment */
	enum swiftfs_dkind kind;
	bool has_marker;     /* a directory marker object exists */
	char *marker_name;   /* that marker's full object name */
	bool maybe_dlo;      /* zero bytes and not a marker: size needs a HEAD */
	uint64_t size;
	struct timespec mtime;
	char *etag;
	char *content_type;
};

struct swiftfs_dirlist {
	struct swiftfs_dirent *v; /* sorted by name (strcmp) */
	size_t n;
	size_t skipped;           /* names left out (logged) */
};

/* Build dl from the entries of page listed under prefix ("" or "a/b/"). */
int listing_to_dirlist(const char *prefix, const struct swiftfs_lpage *page,
		       struct swiftfs_dirlist *dl);
void listing_dirlist_free(struct swiftfs_dirlist *dl);
/* Binary search by name; NULL when absent. */
const struct swiftfs_dirent *listing_dirlist_find(const struct swiftfs_dirlist *dl,
						  const char *name);

/* Whether a content type marks a directory object. */
bool listing_is_dir_type(const char *content_type);
/* Whether a segment can be a path component (non-empty, not . or ..,
 * at most 255 bytes, no NUL). */
bool listing_valid_segment(const char *s, size_t len);

#endif
