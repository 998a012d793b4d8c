/* Reading one object through one open file. Reads become ranged GETs with
 * If-Match on the ETag seen at open, so bytes of two different versions
 * are never mixed (a change shows as ESTALE). Sequential access (detected
 * per open file, tolerant of the kernel's slightly reordered async reads)
 * switches to read-ahead: chunks of read_chunk bytes fetched in parallel
 * on the worker pool, up to read_ahead bytes in front of the reader, with
 * the window doubling from one chunk as the streak grows. Random access
 * fetches exactly the bytes asked for and prefetches nothing. Memory is
 * bounded by (read_ahead / read_chunk + 2) chunks per open file.
 *
 * With a block cache (and an ETag to key it by), bytes go through the
 * cache instead: a read copies from cached blocks; a missing block is
 * fetched by the reader that needs it (with the blocks after it, up to a
 * chunk, when reading sequentially; the block alone otherwise), and
 * read-ahead fetches runs of missing blocks on the worker pool into the
 * cache. Memory is then bounded by the fetches in flight. */
#ifndef SWIFTFS_READER_H
#define SWIFTFS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct swiftfs_block_cache;
struct swiftfs_bc_key;
struct swiftfs_client;
struct swiftfs_workpool;
struct swiftfs_reader;

struct swiftfs_reader_cfg {
	struct swiftfs_client *client;
	struct swiftfs_workpool *pool;
	const char *container;
	const char *object;   /* full object name */
	uint64_t size;
	const char *etag;     /* NULL or "" to read without If-Match */
	uint64_t chunk;
	uint64_t ahead;
	struct swiftfs_block_cache *cache; /* NULL: memory chunks only */
	const struct swiftfs_bc_key *key;  /* the object version's cache key */
	/* the object's name now (malloc'd), asked when a GET finds no object
	 * or another one: a file renamed while open is read under its new
	 * name. NULL: not asked. */
	char *(*name_now)(void *a, void *b);
	void *name_a, *name_b;
};

int reader_new(const struct swiftfs_reader_cfg *cfg, struct swiftfs_reader **out);
/* Hand over the object's first len bytes (malloc'd; the reader owns them
 * now), fetched at open: reads within them are served from memory. */
void reader_preload(struct swiftfs_reader *r, char *data, size_t len);
/* Bytes read (short only at the end of the object), or -errno. */
ssize_t reader_read(struct swiftfs_reader *r, char *buf, size_t size, uint64_t off);
/* Zero-copy read (block_cache_open()): when [off, off+size) lies in one
 * cached, checked block, *fd and *pos hold its bytes and *len is how many
 * (short only at the end of the object); read-ahead goes on as for
 * reader_read(). -EAGAIN: use reader_read(). */
int reader_read_fd(struct swiftfs_reader *r, size_t size, uint64_t off, int *fd, uint64_t *pos,
		   size_t *len);
/* Waits for this reader's fetches still in flight. */
void reader_free(struct swiftfs_reader *r);

#endif
