/* Staging: the local copy of a file being written. A sparse file in the
 * cache folder plus the list of byte ranges it holds for real ("valid":
 * written by the application, fetched from Swift, or zeros from a grow).
 * Ranges that are not valid still live only in Swift, so a partial
 * overwrite of a big object fetches only what a read or the final upload
 * needs. The staging file is kept (and its path logged) when an upload
 * fails, so nothing written is lost. Not thread-safe: the owner locks. */
#ifndef SWIFTFS_STAGING_H
#define SWIFTFS_STAGING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct swiftfs_extent {
	uint64_t off;
	uint64_t end; /* exclusive */
};

struct swiftfs_staging {
	int fd;
	char *path;
	uint64_t size;                /* logical size of the file */
	struct swiftfs_extent *valid; /* sorted, disjoint, non-adjacent */
	size_t nvalid;
	size_t cap;
	uint64_t written_out;         /* write-out to disk started for [0, written_out) */
};

/* Create an empty staging file in dir (mode 0600). */
int staging_create(const char *dir, struct swiftfs_staging **out);
/* Close; remove the file unless keep. */
void staging_free(struct swiftfs_staging *s, int keep);

/* Application write: data becomes valid, size may grow. -errno (ENOSPC). */
ssize_t staging_write(struct swiftfs_staging *s, const void *buf, size_t len, uint64_t off);
/* Data fetched from Swift for [off, off+len): stored and marked valid. */
int staging_fill(struct swiftfs_staging *s, const void *buf, size_t len, uint64_t off);
/* Read valid bytes only (the caller filled the gaps first). */
ssize_t staging_read(struct swiftfs_staging *s, void *buf, size_t len, uint64_t off);
/* Start (without waiting for it) the disk write-out of what was written
 * below upto, once STAGING_WRITEOUT_STEP more has been written since the
 * last start, so that a later fdatasync (the writeback journal) finds
 * most of a big file already on disk. Best effort: errors are ignored,
 * the fdatasync reports them. */
#define STAGING_WRITEOUT_STEP (8u << 20)
void staging_writeout(struct swiftfs_staging *s, uint64_t upto);
/* Shrink (drops data past size) or grow (the new range reads as zeros). */
int staging_truncate(struct swiftfs_staging *s, uint64_t size);
/* Mark [0, size) as valid without data (the object was empty or is being
 * replaced whole). */
void staging_mark_all_valid(struct swiftfs_staging *s);

/* The first gap (range not valid) inside [off, off+len) clipped to the
 * file size; returns 1 with *gap filled, 0 when there is none. */
int staging_first_gap(const struct swiftfs_staging *s, uint64_t off, uint64_t len,
		      struct swiftfs_extent *gap);
/* Bytes of [0, size) that are valid. */
uint64_t staging_valid_bytes(const struct swiftfs_staging *s);

#endif
