/* Uploading a file while it is still being written. Most files are
 * written once, in order, from an empty start (cp, dd, tar, a program's
 * output), and for those close() should not start the work: it should
 * find it almost done.
 *   - Hashing: the bytes are hashed (MD5) as they are written, per upload
 *     unit: each segment, and the tail (the last segment, or the whole
 *     object when it fits one PUT). close() sends the ETag without reading
 *     the staged file again.
 *   - Streaming: once the writes pass the end of a segment, that segment
 *     is PUT on the worker pool (bounded), under python-swiftclient's
 *     streaming layout; close() then uploads only the tail and the
 *     manifest. The object itself appears only at close (close-to-open).
 *   - Live segments: from the second segment on, a segment's PUT starts
 *     while it is being written (chunked, fed as the writes come, see
 *     upload_stream_live), so close() finds even the tail mostly sent.
 *     Swift's ETag for it must equal the MD5 hashed as written; anything
 *     else re-sends the segment from the staged file. Only segments are
 *     sent this way, never the object: an abandoned chunked PUT (no
 *     terminating chunk) stores nothing.
 * Anything else (a gap, a write into data already uploaded, a truncate
 * other than to 0) gives up: the uploaded segments are deleted and close()
 * uploads the staged file the ordinary way, hashing it from disk. A
 * rewrite inside the part not uploaded yet only drops that unit's running
 * hash. The staged file stays the reference copy throughout: nothing here
 * is the only copy of any byte. All functions expect w->lock held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fs_internal.h"
#include "swiftfs/log.h"
#include "swiftfs/staging.h"
#include "swiftfs/upload.h"

static void md5_hex(const unsigned char md[16], char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[32] = '\0';
}

/* Give up streaming: segments already uploaded are deleted and the file
 * is uploaded the ordinary way at close. w->lock held. */
void fs_stream_stop_locked(struct swiftfs_wstate *w)
{
	w->seq = false;
	if (w->stream) {
		upload_stream_abort(w->stream);
		w->stream = NULL;
	}
	w->streamed = 0;
}

/* Start the MD5 of the next segment. */
static void seg_md5_restart(struct swiftfs_wstate *w)
{
	if (!w->seg_md5)
		w->seg_md5 = EVP_MD_CTX_new();
	w->seg_md5_ok = w->seg_md5 && EVP_DigestInit_ex(w->seg_md5, EVP_md5(), NULL) == 1;
}

/* The file starts over empty (create, O_TRUNC, truncate to 0). */
void fs_stream_reset_locked(struct swiftfs_wstate *w)
{
	fs_stream_stop_locked(w);
	w->seq = true;
	w->seq_end = 0;
	seg_md5_restart(w);
}

/* Hash bytes written in order at seq_end. */
static void seg_md5_feed(struct swiftfs_wstate *w, const char *buf, size_t len)
{
	if (w->seg_md5_ok)
		EVP_DigestUpdate(w->seg_md5, buf, len);
}

/* The finished segment's MD5 (false when it could not be hashed as it
 * was written); the next segment's starts. */
static bool seg_md5_finish(struct swiftfs_wstate *w, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	bool ok = w->seg_md5_ok && EVP_DigestFinal_ex(w->seg_md5, md, &n) == 1 && n == 16;
	if (ok)
		md5_hex(md, hex);
	seg_md5_restart(w);
	return ok;
}

/* Hand the segment [streamed, streamed + segment_size) to the stream;
 * md5 is its digest when it was hashed as written. w->lock held. */
static void stream_segment_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w,
				  const char *object, const char *md5)
{
	uint64_t segsz = fs->segment_size;
	if (!w->stream) {
		char mt[40];
		snprintf(mt, sizeof(mt), "%lld.%06ld", (long long)w->mtime.tv_sec,
			 w->mtime.tv_nsec / 1000);
		if (upload_stream_new(&fs->upcfg, object, mt, 0, segsz, &w->stream)) {
			fs_stream_stop_locked(w);
			return;
		}
	}
	if (upload_stream_count(w->stream) + 1 >= fs->max_segments ||
	    upload_stream_add(w->stream, w->st->fd, w->streamed, segsz, md5)) {
		fs_stream_stop_locked(w);
		return;
	}
	w->streamed += segsz;
}

/* After a write of [off, off+len) (buf holds it): data written in order
 * is hashed as it comes, and each segment goes to the stream as soon as
 * the writes pass its end (a file of exactly one segment stays one PUT).
 * A gap, or a change to data already streamed, stops streaming. */
void fs_stream_after_write_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w,
				  const char *object, const char *buf, uint64_t off, uint64_t len)
{
	uint64_t segsz = fs->segment_size;
	if (!w->seq)
		return;
	if (off != w->seq_end) {
		if (off >= w->streamed && off + len <= w->seq_end) {
			w->seg_md5_ok = false; /* rewritten before upload: hash the file */
			if (w->stream)
				upload_stream_live_cancel(w->stream);
		} else {
			fs_stream_stop_locked(w);
		}
		return;
	}
	uint64_t pos = off;
	while (pos < off + len) {
		if (pos - w->streamed == segsz) {
			/* the writes go past a complete segment: upload it */
			char hex[33];
			bool ok = seg_md5_finish(w, hex);
			stream_segment_locked(fs, w, object, ok ? hex : NULL);
			if (!w->seq)
				return;
		}
		uint64_t seg_end = w->streamed + segsz;
		uint64_t take = (off + len < seg_end ? off + len : seg_end) - pos;
		seg_md5_feed(w, buf + (pos - off), (size_t)take);
		pos += take;
		w->seq_end = pos;
	}
	/* the segment being written goes up as it is written (from the second
	 * on: a file within one segment stays one PUT, made at close) */
	if (w->stream && w->seg_md5_ok)
		upload_stream_live(w->stream, w->st->fd, w->streamed, w->seq_end - w->streamed);
}

/* The MD5 of the tail [streamed, size) as it was written, when the whole
 * tail was written in order and not rewritten since (the running hash is
 * finished on a copy: a failed upload can be retried, a later write
 * continues it). */
static bool tail_md5_locked(struct swiftfs_wstate *w, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!w->seq || !w->seg_md5_ok || w->seq_end != w->st->size || w->seq_end < w->streamed)
		return false;
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	bool ok = copy && EVP_MD_CTX_copy_ex(copy, w->seg_md5) == 1 &&
		  EVP_DigestFinal_ex(copy, md, &n) == 1 && n == 16;
	EVP_MD_CTX_free(copy);
	if (ok)
		md5_hex(md, hex);
	return ok;
}

int fs_stream_upload_locked(struct swiftfs_fs *fs, struct swiftfs_wstate *w, const char *object,
			    const char *const *hdrs, const char *mtime_str,
			    struct swiftfs_upload_result *res)
{
	char md5[33];
	bool hashed = tail_md5_locked(w, md5);
	int rc;

	if (w->stream && w->seq && w->st->size >= w->streamed) {
		/* most of it is in Swift already: the rest and the manifest */
		const char *ct = w->content_type ? w->content_type : upload_guess_type(object);
		rc = upload_stream_finish(w->stream, object, w->st->fd, w->streamed, w->st->size, ct,
					  hdrs, hashed ? md5 : NULL, res);
		w->stream = NULL;
		w->streamed = 0;
		w->seq = false;
		LOGD("%s: streamed upload finished (%s)", object, rc ? strerror(-rc) : "ok");
		return rc;
	}
	fs_stream_stop_locked(w);
	LOGD("%s: uploading %llu bytes at close, MD5 %s", object,
	     (unsigned long long)w->st->size, hashed ? "hashed as written" : "from the file");
	return upload_object(&fs->upcfg, object, w->st->fd, w->st->size, w->content_type, hdrs,
			     mtime_str, hashed ? md5 : NULL, res);
}

void fs_stream_free(struct swiftfs_wstate *w)
{
	upload_stream_abort(w->stream);
	w->stream = NULL;
	EVP_MD_CTX_free(w->seg_md5);
	w->seg_md5 = NULL;
}
