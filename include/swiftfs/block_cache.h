/* The persistent block cache: fixed-size blocks of objects on local disk.
 *
 * A block is keyed by a 128-bit id of (account, container, object, ETag,
 * size) and its number, so a block of an object that changed is never
 * found: the new version has another id, and the old version's blocks age
 * out. Each block is one file under <dir>/<2 hex>/<32 hex>.<n>: a header
 * (magic, id, number, length, CRC-32C of the data) and the data. Files are
 * written to a temporary name and renamed, never fsync'ed: after a crash
 * a block may be torn, and the CRC, checked the first time a block is
 * used in a daemon's life, catches it (the block is dropped and fetched
 * again, never returned).
 *
 * The index is in memory, rebuilt at startup by scanning the folder (LRU
 * order from file times). A hard bound on bytes on disk is kept by
 * evicting least recently used blocks, whoever uses them; when nothing can
 * be evicted, or the disk is nearly full, a block is not stored (the read
 * is still served): back-pressure, never ENOSPC.
 *
 * One fetch per block: block_cache_read() of an absent block makes the
 * caller its fetcher ("claims" it); other readers of that block wait until
 * the fetcher calls block_cache_fill() or block_cache_unclaim(). */
#ifndef SWIFTFS_BLOCK_CACHE_H
#define SWIFTFS_BLOCK_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct swiftfs_block_cache;

struct swiftfs_bc_key {
	unsigned char id[16];
};

struct swiftfs_block_cache_cfg {
	const char *dir;       /* created if missing */
	uint64_t block_size;
	uint64_t max_bytes;    /* bound on bytes on disk */
	uint64_t min_free;     /* keep at least this much free on the disk */
};

int block_cache_new(const struct swiftfs_block_cache_cfg *cfg, struct swiftfs_block_cache **out);
void block_cache_free(struct swiftfs_block_cache *bc);
uint64_t block_cache_block_size(const struct swiftfs_block_cache *bc);

/* The key of an object's blocks in bc: a hash of where the object is,
 * its ETag and size, and bc's block size. -ENOMEM when the hash cannot be
 * made: the caller then goes without the cache. */
int block_cache_key(const struct swiftfs_block_cache *bc, const char *account,
		     const char *container, const char *object, const char *etag, uint64_t size,
		     struct swiftfs_bc_key *k);

/* Copy len bytes at offset in of block idx (whose full length is blen)
 * into buf. Returns the bytes copied, or -ENOENT when the block is absent:
 * the caller is then its fetcher and must call block_cache_fill() or
 * block_cache_unclaim(). -EMFILE (or -ENOMEM): the block is there but its
 * file could not be opened or read into memory now (the process short of
 * descriptors: a request to Swift would need one too); the block stays. Waits while another thread fetches the block. */
ssize_t block_cache_read(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
			 uint64_t idx, uint32_t blen, char *buf, uint32_t in, uint32_t len);
/* Zero-copy read: when block idx is cached and already checked (CRC) by
 * this daemon, open its file: *fd (the caller closes it) holds the bytes
 * from offset in at *pos. The file is never rewritten in place, so the
 * fd keeps those bytes even if the block is evicted meanwhile. -EAGAIN
 * otherwise (absent, being fetched, not checked yet): use
 * block_cache_read(). */
int block_cache_open(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		     uint64_t idx, uint32_t in, int *fd, uint64_t *pos);
/* Claim an absent block without waiting (read-ahead): true when the caller
 * is now its fetcher; false when it is cached or being fetched. */
bool block_cache_claim(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		       uint64_t idx);
/* The fetcher hands over the block's data (stored if the bound allows)
 * and gives up its claim; waiters wake. */
void block_cache_fill(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		      uint64_t idx, const char *data, uint32_t len);
/* The fetcher gives up without data (the fetch failed). */
void block_cache_unclaim(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
			 uint64_t idx);
/* Read-ahead from disk, after block_cache_hint(): check a cached block's
 * CRC if this daemon has not yet (reading it into the page cache), so that
 * the read that follows does not wait on the disk. A damaged block is
 * dropped, to be fetched again. Absent blocks are left alone. */
void block_cache_warm(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		      uint64_t idx, uint32_t blen);
/* Ask the kernel to start reading block idx's file (no wait, no check):
 * hints for a run of blocks first, then block_cache_warm() each, keeps
 * the disk's queue full. */
void block_cache_hint(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		      uint64_t idx);
/* A block-sized buffer for a fetch (NULL: out of memory), and back when
 * done. Buffers are kept for the next fetch, up to 32 MiB for all readers
 * of the cache: a fresh one costs a page fault per 4 KiB. */
char *block_cache_buf_get(struct swiftfs_block_cache *bc);
void block_cache_buf_put(struct swiftfs_block_cache *bc, char *buf);
/* The bound on bytes on disk. */
uint64_t block_cache_capacity(const struct swiftfs_block_cache *bc);
/* Is the block cached (no wait, no claim)? */
bool block_cache_has(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		     uint64_t idx);

struct swiftfs_block_cache_stats {
	uint64_t bytes;        /* on disk now */
	uint64_t blocks;
	uint64_t hits, misses, evictions, corrupt, store_skipped;
	uint64_t warmed;       /* blocks read ahead from disk */
	uint64_t opened;       /* hits answered from the block's file (zero-copy) */
};
void block_cache_stats(struct swiftfs_block_cache *bc, struct swiftfs_block_cache_stats *out);

#endif
