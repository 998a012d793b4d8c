/* Uploading staged data as a Swift object that other clients read right.
 *   - Up to segment_size: one PUT with Content-Length, Content-Type, the
 *     metadata headers, and the MD5 ETag computed locally, so Swift
 *     refuses a body corrupted on the way (422).
 *   - Larger: a Static Large Object. Segments go to `<container>_segments`
 *     under python-swiftclient's layout `<obj>/slo/<time>/<size>/<segsize>/
 *     <%08d>` (the time is the upload's start, unique, so that no upload
 *     ever writes over a live version's segments), several at once on the worker pool (each streamed from the
 *     staging file: memory does not grow with the file). Each is hashed as
 *     it is sent and checked against the ETag Swift answers; the manifest,
 *     which lists those hashes (Swift checks them), is PUT last, then a
 *     HEAD checks the size. A failure before the manifest is in deletes
 *     the segments already uploaded: no partial object ever becomes
 *     visible; after it, they stay (the object uses them). More segments than
 *     /info's max_manifest_segments grow the segment size instead of
 *     failing.
 * Segments belong to their manifest: replacing or deleting an SLO deletes
 * the segments it listed (as the swift CLI does). */
#ifndef SWIFTFS_UPLOAD_H
#define SWIFTFS_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct swiftfs_client;
struct swiftfs_workpool;

struct swiftfs_upload_cfg {
	struct swiftfs_client *client;
	struct swiftfs_workpool *pool;
	const char *account;       /* the storage URL's path: journal records name it */
	const char *container;
	uint64_t segment_size;
	unsigned max_segments;     /* /info max_manifest_segments */
	const char *journal_dir;   /* records of SLO uploads under way, or NULL */
};

/* A list of segment paths ("/container/object"), as manifests give them. */
struct swiftfs_seglist {
	char **paths;
	size_t n;
};

struct swiftfs_upload_result {
	char etag[72];   /* what Swift reports (quotes stripped) */
	bool slo;
	char stamp[32];  /* an SLO's segment names' time component */
};

/* Upload size bytes of fd as object. headers: NULL-terminated extra
 * headers ("X-Object-Meta-Mtime: ..."). 0 or -errno. */
int upload_object(const struct swiftfs_upload_cfg *cfg, const char *object, int fd,
		  uint64_t size, const char *content_type, const char *const *headers,
		  struct swiftfs_upload_result *res);

/* Streaming: segments uploaded while the file is still being written
 * (a file written sequentially from its start uploads each segment as
 * soon as it is complete), then the rest and the manifest at close. */
struct swiftfs_slo_stream;
/* size 0: not known yet (the streaming segment name layout). */
int upload_stream_new(const struct swiftfs_upload_cfg *cfg, const char *object, uint64_t size,
		      uint64_t segsz, struct swiftfs_slo_stream **out);
/* Queue the upload of [off, off+len) of fd as the next segment: hashed
 * as it is sent, and checked against the ETag Swift answers. */
int upload_stream_add(struct swiftfs_slo_stream *s, int fd, uint64_t off, uint64_t len);
size_t upload_stream_count(const struct swiftfs_slo_stream *s);
/* Upload [covered, size) as further segments, wait for all, PUT the
 * manifest as object (its name now: the file may have been renamed), verify. Frees s; on a
 * failure before the manifest is in Swift, its segments are deleted. */
int upload_stream_finish(struct swiftfs_slo_stream *s, const char *object, int fd,
			 uint64_t covered, uint64_t size, const char *content_type,
			 const char *const *headers, struct swiftfs_upload_result *res);
/* Wait, delete what was uploaded, free. */
void upload_stream_abort(struct swiftfs_slo_stream *s);

/* After a crash: for every upload the journal says was under way, keep
 * its segments if a manifest uses them, else delete them. */
void upload_recover(const struct swiftfs_upload_cfg *cfg);

/* The segments an SLO manifest lists (GET ?multipart-manifest=get). */
int upload_slo_segments(const struct swiftfs_upload_cfg *cfg, const char *object,
			struct swiftfs_seglist *out);
/* The same for an object not known to be an SLO: a HEAD first, so that a
 * plain object's body is not downloaded. 0 (none listed when there is no
 * such object, or it is a plain one), or -errno. */
int upload_slo_segments_if_slo(const struct swiftfs_upload_cfg *cfg, const char *object,
			       struct swiftfs_seglist *out);
/* The outcome the bulk middleware puts in the body of its 200 (a bulk
 * delete, an SLO's multipart-manifest=delete): true with *code from its
 * "Response Status" and *nerrors the length of "Errors", or false when
 * the body is no such answer. */
struct swiftfs_req;
bool upload_bulk_outcome(struct swiftfs_req *r, long *code, size_t *nerrors);
/* Delete segments (bulk-delete, falling back to one DELETE each). */
int upload_delete_segments(const struct swiftfs_upload_cfg *cfg,
			   const struct swiftfs_seglist *segs);
void upload_seglist_free(struct swiftfs_seglist *l);
/* Which versions of its objects does the container keep? Then the
 * segments of such a version's SLO belong to a version that lives on,
 * and stay. Asked now (one container HEAD): versioning may have been
 * switched on since the mount. A failed HEAD says both (orphan segments
 * cost space; deleting a version's loses it). */
#define UPLOAD_KEEPS_REPLACED 1u /* an overwritten version (any versioning) */
#define UPLOAD_KEEPS_DELETED 2u  /* a deleted one (object versioning, history
				  * mode; not the legacy stack mode, whose
				  * DELETE removes the current version) */
#define UPLOAD_DELETE_RESTORES 4u /* the legacy stack mode: a DELETE puts the
				   * previous version back */
#define UPLOAD_VERSIONS_UNKNOWN 8u /* the HEAD failed (then KEEPS_*) */
unsigned upload_versioning(const struct swiftfs_upload_cfg *cfg);
/* object was uploaded (res) over an SLO whose segments were old: delete
 * them, except any the new manifest names, unless the container keeps
 * versions. */
void upload_delete_replaced(const struct swiftfs_upload_cfg *cfg, const char *object,
			    const struct swiftfs_upload_result *res, struct swiftfs_seglist *old);

/* Is hdr ("Name: value") an X-Delete-At that has passed, or will within
 * seconds? Swift refuses a PUT carrying one (400): an expiry kept from
 * the object's earlier version is left out of the upload then. */
bool upload_header_expired(const char *hdr);

/* MD5 hex of [off, off+len) of fd. */
int upload_md5_fd(int fd, uint64_t off, uint64_t len, char hex[33]);
/* Content type for a file name from its extension (/etc/mime.types when
 * present, then a built-in table), "application/octet-stream" otherwise. */
const char *upload_guess_type(const char *name);
/* Append s to b as a JSON string literal. */
struct swiftfs_buf;
int upload_json_string(struct swiftfs_buf *b, const char *s);

#endif
