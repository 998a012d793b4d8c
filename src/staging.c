/* Staging file and its valid-extent list (see staging.h). The extent
 * list is kept sorted and merged; every operation is O(extents), which
 * stays small because sequential and random writes merge as they touch. */
#include "swiftfs/staging.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int staging_create(const char *dir, struct swiftfs_staging **out)
{
	struct swiftfs_staging *s = calloc(1, sizeof(*s));
	int rc = 0;
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	if (asprintf(&s->path, "%s/staged-XXXXXX", dir) < 0) {
		s->path = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	s->fd = mkostemp(s->path, O_CLOEXEC);
	if (s->fd < 0) {
		rc = -errno;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	free(s->path);
	free(s);
	return rc;
}

void staging_free(struct swiftfs_staging *s, int keep)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (!keep && s->path)
		unlink(s->path);
	free(s->path);
	free(s->valid);
	free(s);
}

/* Add [off, end) to the valid set, merging neighbours. */
static int mark_valid(struct swiftfs_staging *s, uint64_t off, uint64_t end)
{
	if (off >= end)
		return 0;
	size_t i = 0;
	while (i < s->nvalid && s->valid[i].end < off)
		i++;
	/* i: first extent that ends at or after off (may touch or overlap) */
	size_t j = i;
	while (j < s->nvalid && s->valid[j].off <= end) {
		if (s->valid[j].off < off)
			off = s->valid[j].off;
		if (s->valid[j].end > end)
			end = s->valid[j].end;
		j++;
	}
	/* replace extents [i, j) with one */
	if (i == j) {
		if (s->nvalid == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 8;
			struct swiftfs_extent *v = realloc(s->valid, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			s->valid = v;
			s->cap = cap;
		}
		memmove(&s->valid[i + 1], &s->valid[i], (s->nvalid - i) * sizeof(*s->valid));
		s->nvalid++;
	} else if (j - i > 1) {
		memmove(&s->valid[i + 1], &s->valid[j], (s->nvalid - j) * sizeof(*s->valid));
		s->nvalid -= j - i - 1;
	}
	s->valid[i].off = off;
	s->valid[i].end = end;
	return 0;
}

static ssize_t pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t staging_write(struct swiftfs_staging *s, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite_all(s->fd, buf, len, off);
	if (n < 0)
		return n;
	/* growing past the old end leaves a hole that reads as zeros */
	if (off > s->size) {
		int rc = mark_valid(s, s->size, off);
		if (rc)
			return rc;
	}
	int rc = mark_valid(s, off, off + len);
	if (rc)
		return rc;
	if (off + len > s->size)
		s->size = off + len;
	return n;
}

int staging_fill(struct swiftfs_staging *s, const void *buf, size_t len, uint64_t off)
{
	if (off >= s->size)
		return 0;
	if (off + len > s->size)
		len = (size_t)(s->size - off);
	ssize_t n = pwrite_all(s->fd, buf, len, off);
	if (n < 0)
		return (int)n;
	return mark_valid(s, off, off + len);
}

ssize_t staging_read(struct swiftfs_staging *s, void *buf, size_t len, uint64_t off)
{
	if (off >= s->size)
		return 0;
	if (off + len > s->size)
		len = (size_t)(s->size - off);
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* a hole past the file's end: zeros */
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return (ssize_t)len;
}

int staging_truncate(struct swiftfs_staging *s, uint64_t size)
{
	if (ftruncate(s->fd, (off_t)size) < 0)
		return -errno;
	if (size < s->size) {
		size_t w = 0;
		for (size_t i = 0; i < s->nvalid; i++) {
			if (s->valid[i].off >= size)
				continue;
			s->valid[w] = s->valid[i];
			if (s->valid[w].end > size)
				s->valid[w].end = size;
			w++;
		}
		s->nvalid = w;
		s->size = size;
		if (s->written_out > size)
			s->written_out = size;
		return 0;
	}
	int rc = mark_valid(s, s->size, size);
	if (rc)
		return rc;
	s->size = size;
	return 0;
}

void staging_writeout(struct swiftfs_staging *s, uint64_t upto)
{
	if (upto < s->written_out + STAGING_WRITEOUT_STEP)
		return;
	/* SYNC_FILE_RANGE_WRITE queues the dirty pages for writing and
	 * returns; it blocks only while the device's queue is full, which
	 * is back-pressure the fdatasync would have applied anyway */
	(void)sync_file_range(s->fd, (off_t)s->written_out, (off_t)(upto - s->written_out),
			      SYNC_FILE_RANGE_WRITE);
	s->written_out = upto;
}

void staging_mark_all_valid(struct swiftfs_staging *s)
{
	s->nvalid = 0;
	if (s->size)
		mark_valid(s, 0, s->size);
}

int staging_first_gap(const struct swiftfs_staging *s, uint64_t off, uint64_t len,
		      struct swiftfs_extent *gap)
{
	uint64_t end = off + len;
	if (end > s->size)
		end = s->size;
	uint64_t pos = off;
	for (size_t i = 0; i < s->nvalid && pos < end; i++) {
		const struct swiftfs_extent *e = &s->valid[i];
		if (e->end <= pos)
			continue;
		if (e->off > pos) {
			gap->off = pos;
			gap->end = e->off < end ? e->off : end;
			return 1;
		}
		pos = e->end;
	}
	if (pos < end) {
		gap->off = pos;
		gap->end = end;
		return 1;
	}
	return 0;
}

uint64_t staging_valid_bytes(const struct swiftfs_staging *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i < s->nvalid; i++)
		n += s->valid[i].end - s->valid[i].off;
	return n;
}
