/* The persistent block cache (see block_cache.h). One mutex guards the
 * index (a chained hash table of entries plus an LRU list); file I/O runs
 * unlocked, with the entry pinned so eviction leaves it alone. An entry is
 * READY (its file is on disk and counted in bytes) or FETCHING (claimed by
 * a fetcher; no file yet). One condition variable, broadcast whenever a
 * fetch ends, wakes the readers waiting for any block. */
#include "swiftfs/block_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "swiftfs/log.h"
#include "swiftfs/util.h"

#define BC_MAGIC "SWFSBLK2" /* 2: CRC-32C */
#define BC_HDR 64
/* files in the folder and their blocks on disk round up to this */
#define BC_DISK_UNIT 4096ULL
/* block buffers kept for reuse by fetches: at most this many bytes, for
 * all readers of the cache together */
#define BC_BUFS_BYTES (32ULL << 20)
#define BC_BUFS_MAX 32

struct bc_hdr {
	char magic[8];
	unsigned char id[16];
	uint64_t idx;
	uint32_t len;
	uint32_t crc;
	unsigned char pad[BC_HDR - 40];
};
_Static_assert(sizeof(struct bc_hdr) == BC_HDR, "block header size");

enum bc_state { BC_READY, BC_FETCHING };

struct bc_entry {
	struct bc_entry *hnext;
	struct bc_entry *prev, *next; /* LRU: head is the most recent */
	unsigned char id[16];
	uint64_t idx;
	uint64_t disk;      /* bytes on disk (READY) */
	time_t mtime;       /* scan order only */
	enum bc_state st;
	unsigned pins;      /* readers in the file: not evicted */
	bool abandoned;     /* FETCHING, but its fetcher gave up while it was pinned */
	unsigned gen;       /* bumped when the file changes (refetched, dropped): a
			     * reader's error on an older file is not this one's */
	bool verified;      /* CRC checked (or written) in this daemon's life */
};

struct swiftfs_block_cache {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *dir;
	uint64_t block_size;
	uint64_t max_bytes;
	uint64_t min_free;
	struct bc_entry **buckets;
	size_t nbuckets;
	size_t count;
	struct bc_entry *head, *tail;
	struct swiftfs_block_cache_stats st;
	atomic_uint tmp_seq;
	bool warned_full;
	uint64_t avail;       /* free bytes on the cache's disk, as of avail_at */
	double avail_at;      /* 0: never asked */
	char *bufs[BC_BUFS_MAX]; /* lock: block buffers kept for fetches */
	unsigned nbufs;       /* lock */
};

/* CRC-32C of block data: the SSE4.2 instruction where the CPU has it
 * (tens of GB/s: checking a block costs less than reading it), else a
 * table. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p,
							   size_t n)
{
	uint64_t c = crc;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}
#endif

/* CRC-32C of data following a running crc (start with ~0u, finish with ~). */
static uint32_t crc32c_update(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_hw(crc, data, n);
#endif
	pthread_once(&crc_once, crc_init);
	return crc32c_sw(crc, data, n);
}

static uint32_t crc32c(const void *data, size_t n)
{
	return ~crc32c_update(~0u, data, n);
}

static size_t bc_hash(const unsigned char *id, uint64_t idx)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)((h ^ (idx * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL >> 17);
}

static struct bc_entry *find_locked(struct swiftfs_block_cache *bc, const unsigned char *id,
				    uint64_t idx)
{
	struct bc_entry *e = bc->buckets[bc_hash(id, idx) & (bc->nbuckets - 1)];
	for (; e; e = e->hnext)
		if (e->idx == idx && memcmp(e->id, id, 16) == 0)
			return e;
	return NULL;
}

static void grow_locked(struct swiftfs_block_cache *bc)
{
	size_t n = bc->nbuckets * 2;
	struct bc_entry **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < bc->nbuckets; i++) {
		struct bc_entry *e = bc->buckets[i];
		while (e) {
			struct bc_entry *nx = e->hnext;
			size_t h = bc_hash(e->id, e->idx) & (n - 1);
			e->hnext = b[h];
			b[h] = e;
			e = nx;
		}
	}
	free(bc->buckets);
	bc->buckets = b;
	bc->nbuckets = n;
}

static void lru_unlink(struct swiftfs_block_cache *bc, struct bc_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		bc->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		bc->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_head(struct swiftfs_block_cache *bc, struct bc_entry *e)
{
	e->prev = NULL;
	e->next = bc->head;
	if (bc->head)
		bc->head->prev = e;
	bc->head = e;
	if (!bc->tail)
		bc->tail = e;
}

static struct bc_entry *insert_locked(struct swiftfs_block_cache *bc, const unsigned char *id,
				      uint64_t idx, enum bc_state st)
{
	struct bc_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->id, id, 16);
	e->idx = idx;
	e->st = st;
	if (bc->count >= bc->nbuckets * 2)
		grow_locked(bc);
	size_t h = bc_hash(id, idx) & (bc->nbuckets - 1);
	e->hnext = bc->buckets[h];
	bc->buckets[h] = e;
	bc->count++;
	lru_push_head(bc, e);
	return e;
}

static void remove_locked(struct swiftfs_block_cache *bc, struct bc_entry *e)
{
	struct bc_entry **pp = &bc->buckets[bc_hash(e->id, e->idx) & (bc->nbuckets - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(bc, e);
	if (e->st == BC_READY) {
		bc->st.bytes -= e->disk;
		bc->st.blocks--;
	}
	bc->count--;
	free(e);
}

static void hexid(const unsigned char *id, char *out)
{
	util_hex(id, 16, out);
}

static void block_path(struct swiftfs_block_cache *bc, const unsigned char *id, uint64_t idx,
		       char *out, size_t outlen)
{
	char h[33];
	hexid(id, h);
	snprintf(out, outlen, "%s/%.2s/%s.%" PRIu64, bc->dir, h, h, idx);
}

static uint64_t disk_bytes(uint64_t len)
{
	return (BC_HDR + len + BC_DISK_UNIT - 1) / BC_DISK_UNIT * BC_DISK_UNIT;
}

/* Evict unpinned READY blocks from the LRU tail until bytes + need fits
 * under limit. False when it cannot. */
static bool make_room_locked(struct swiftfs_block_cache *bc, uint64_t need, uint64_t limit)
{
	struct bc_entry *e = bc->tail;
	while (bc->st.bytes + need > limit && e) {
		struct bc_entry *prev = e->prev;
		if (e->st == BC_READY && e->pins == 0) {
			char path[PATH_MAX];
			block_path(bc, e->id, e->idx, path, sizeof(path));
			if (unlink(path) && errno != ENOENT)
				LOGW("cache: cannot remove %s: %s", path, strerror(errno));
			remove_locked(bc, e);
			bc->st.evictions++;
		}
		e = prev;
	}
	return bc->st.bytes + need <= limit;
}

/* The bound for the next store: max_bytes, less whatever the disk lacks
 * of min_free. The disk's free space is asked at most once a second (not
 * once per block), and counted down by what is stored meanwhile. */
static uint64_t limit_now_locked(struct swiftfs_block_cache *bc, uint64_t need)
{
	struct timespec ts;
	struct statvfs sv;
	uint64_t limit = bc->max_bytes;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (!bc->avail_at || now - bc->avail_at >= 1.0) {
		if (statvfs(bc->dir, &sv) != 0)
			return limit;
		bc->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		bc->avail_at = now;
	}
	if (bc->avail < bc->min_free + need) {
		uint64_t lack = bc->min_free + need - bc->avail;
		uint64_t cap = bc->st.bytes + need > lack ? bc->st.bytes + need - lack : 0;
		if (cap < limit)
			limit = cap;
	}
	bc->avail = bc->avail > need ? bc->avail - need : 0;
	return limit;
}

static int write_block(struct swiftfs_block_cache *bc, const unsigned char *id, uint64_t idx,
		       const char *data, uint32_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX], h[33];
	struct bc_hdr hd;
	int fd = -1, rc = 0;

	hexid(id, h);
	block_path(bc, id, idx, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s/%.2s/.tmp.%d.%u", bc->dir, h, (int)getpid(),
		 atomic_fetch_add(&bc->tmp_seq, 1));
	memset(&hd, 0, sizeof(hd));
	memcpy(hd.magic, BC_MAGIC, 8);
	memcpy(hd.id, id, 16);
	hd.idx = idx;
	hd.len = len;
	hd.crc = crc32c(data, len);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%.2s", bc->dir, h);
		if (mkdir(sub, 0700) && errno != EEXIST) {
			rc = -errno;
			goto out;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	struct iovec iov[2] = { { &hd, BC_HDR }, { (void *)data, len } };
	ssize_t w = writev(fd, iov, 2);
	if (w < 0) {
		rc = -errno;
		goto out;
	}
	if ((size_t)w != BC_HDR + (size_t)len) {
		rc = -ENOSPC; /* short write: the disk filled up */
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		rc = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path))
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	return rc;
}

#define BC_CHECK_CHUNK (64 * 1024)

/* Copy [in, in+len) of the block file into buf. Unverified blocks are
 * read whole, in BC_CHECK_CHUNK pieces (no block-sized buffer, whose fresh
 * pages would cost a fault each), and checked first: buf is only valid
 * when the CRC matched. -EBADMSG: corrupt; -ENOENT: gone. */
static ssize_t read_block(struct swiftfs_block_cache *bc, const unsigned char *id, uint64_t idx,
			  uint32_t blen, bool verified, char *buf, uint32_t in, uint32_t len)
{
	char path[PATH_MAX];
	char *chunk = NULL;
	ssize_t rc;

	block_path(bc, id, idx, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM))
		return -EMFILE; /* the process is short of something, the block is fine */
	if (fd < 0) /* EIO, EACCES: not a damaged block, but not readable */
		return errno == ENOENT ? -ENOENT : -EIO;
	if (in >= blen) {
		rc = 0;
		goto out;
	}
	if (len > blen - in)
		len = blen - in;
	if (verified) {
		rc = pread(fd, buf, len, BC_HDR + (off_t)in);
		if (rc != (ssize_t)len)
			rc = -EBADMSG;
		goto out;
	}
	struct stat sb;
	struct bc_hdr hd;
	if (fstat(fd, &sb) || (uint64_t)sb.st_size != BC_HDR + (uint64_t)blen ||
	    pread(fd, &hd, BC_HDR, 0) != (ssize_t)BC_HDR ||
	    memcmp(hd.magic, BC_MAGIC, 8) != 0 || memcmp(hd.id, id, 16) != 0 || hd.idx != idx ||
	    hd.len != blen) {
		rc = -EBADMSG;
		goto out;
	}
	chunk = malloc(BC_CHECK_CHUNK);
	if (!chunk) {
		rc = -ENOMEM;
		goto out;
	}
	uint32_t crc = ~0u;
	for (uint32_t at = 0; at < blen;) {
		uint32_t want = blen - at < BC_CHECK_CHUNK ? blen - at : BC_CHECK_CHUNK;
		if (pread(fd, chunk, want, BC_HDR + (off_t)at) != (ssize_t)want) {
			rc = -EBADMSG;
			goto out;
		}
		crc = crc32c_update(crc, chunk, want);
		/* the part of [in, in+len) in this piece */
		uint32_t lo = at > in ? at : in, hi = at + want < in + len ? at + want : in + len;
		if (lo < hi)
			memcpy(buf + (lo - in), chunk + (lo - at), hi - lo);
		at += want;
	}
	rc = ~crc == hd.crc ? (ssize_t)len : -EBADMSG;
out:
	free(chunk);
	close(fd);
	return rc;
}

/* A block read_block() found bad (-EBADMSG: counted, logged, its file
 * removed), could not open (-EIO: its file removed too, so the bytes the
 * caller stops counting are not left on disk) or gone: the caller drops or
 * refetches the entry. */
static void discard_damaged_locked(struct swiftfs_block_cache *bc, struct bc_entry *e, ssize_t rc)
{
	if (rc != -EBADMSG && rc != -EIO)
		return;
	char path[PATH_MAX];
	block_path(bc, e->id, e->idx, path, sizeof(path));
	if (rc == -EBADMSG) {
		bc->st.corrupt++;
		LOGW("cache: block %s is damaged (torn write or disk error); fetching it again",
		     path);
	} else {
		LOGD("cache: block %s cannot be opened; fetching it again", path);
	}
	unlink(path);
}

ssize_t block_cache_read(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
			 uint64_t idx, uint32_t blen, char *buf, uint32_t in, uint32_t len)
{
	ssize_t rc;

	pthread_mutex_lock(&bc->lock);
	for (;;) {
		struct bc_entry *e = find_locked(bc, k->id, idx);
		if (!e) {
			e = insert_locked(bc, k->id, idx, BC_FETCHING);
			bc->st.misses++;
			rc = e ? -ENOENT : -ENOMEM;
			break;
		}
		if (e->st == BC_FETCHING && e->abandoned) {
			e->abandoned = false; /* this reader fetches it instead */
			bc->st.misses++;
			rc = -ENOENT;
			break;
		}
		if (e->st == BC_FETCHING) {
			pthread_cond_wait(&bc->cond, &bc->lock);
			continue;
		}
		lru_unlink(bc, e);
		lru_push_head(bc, e);
		e->pins++;
		bool verified = e->verified;
		unsigned gen = e->gen;
		pthread_mutex_unlock(&bc->lock);
		rc = read_block(bc, k->id, idx, blen, verified, buf, in, len);
		pthread_mutex_lock(&bc->lock);
		e->pins--;
		if (rc >= 0 || rc == -ENOMEM || rc == -EMFILE) {
			if (rc >= 0) {
				e->verified = true;
				bc->st.hits++;
			}
			break;
		}
		if (e->st != BC_READY || e->gen != gen)
			continue; /* another reader found it bad and refetched it */
		e->gen++;
		discard_damaged_locked(bc, e, rc);
		/* gone or bad: this reader becomes the block's fetcher */
		bc->st.bytes -= e->disk;
		bc->st.blocks--;
		e->disk = 0;
		e->verified = false;
		e->st = BC_FETCHING;
		bc->st.misses++;
		rc = -ENOENT;
		break;
	}
	pthread_mutex_unlock(&bc->lock);
	return rc;
}

int block_cache_open(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		     uint64_t idx, uint32_t in, int *fd, uint64_t *pos)
{
	char path[PATH_MAX];
	int rc = -EAGAIN;
	pthread_mutex_lock(&bc->lock);
	struct bc_entry *e = find_locked(bc, k->id, idx);
	if (e && e->st == BC_READY && e->verified) {
		block_path(bc, k->id, idx, path, sizeof(path));
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd >= 0) {
			lru_unlink(bc, e);
			lru_push_head(bc, e);
			bc->st.hits++;
			bc->st.opened++;
			*pos = BC_HDR + (uint64_t)in;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&bc->lock);
	return rc;
}

bool block_cache_claim(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		       uint64_t idx)
{
	bool claimed = false;
	pthread_mutex_lock(&bc->lock);
	struct bc_entry *e = find_locked(bc, k->id, idx);
	if (!e) {
		claimed = insert_locked(bc, k->id, idx, BC_FETCHING) != NULL;
		if (claimed)
			bc->st.misses++;
	} else if (e->st == BC_FETCHING && e->abandoned) {
		e->abandoned = false;
		bc->st.misses++;
		claimed = true;
	}
	pthread_mutex_unlock(&bc->lock);
	return claimed;
}

bool block_cache_has(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		     uint64_t idx)
{
	pthread_mutex_lock(&bc->lock);
	struct bc_entry *e = find_locked(bc, k->id, idx);
	bool has = e && e->st == BC_READY;
	pthread_mutex_unlock(&bc->lock);
	return has;
}

void block_cache_hint(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		      uint64_t idx)
{
	char path[PATH_MAX];
	block_path(bc, k->id, idx, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

void block_cache_warm(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		      uint64_t idx, uint32_t blen)
{
	pthread_mutex_lock(&bc->lock);
	struct bc_entry *e = find_locked(bc, k->id, idx);
	if (!e || e->st != BC_READY) {
		pthread_mutex_unlock(&bc->lock);
		return;
	}
	bc->st.warmed++;
	if (e->verified) {
		pthread_mutex_unlock(&bc->lock); /* block_cache_hint() did the rest */
		return;
	}
	/* the first use in this daemon reads the whole block and checks it */
	char one;
	e->pins++;
	unsigned gen = e->gen;
	pthread_mutex_unlock(&bc->lock);
	ssize_t rc = read_block(bc, k->id, idx, blen, false, &one, 0, 1);
	pthread_mutex_lock(&bc->lock);
	e->pins--;
	if (rc >= 0) {
		e->verified = true;
	} else if ((rc == -EBADMSG || rc == -ENOENT) && e->st == BC_READY && e->pins == 0 &&
		   e->gen == gen) {
		/* dropped: the reader that wants it fetches it (a pinned one
		 * finds the damage itself) */
		discard_damaged_locked(bc, e, rc);
		remove_locked(bc, e);
	}
	pthread_mutex_unlock(&bc->lock);
}

/* A FETCHING entry whose fetch ends without a file. A pinned entry (a
 * reader still in the old file) cannot be freed under that reader: the
 * next reader of it becomes its fetcher instead of waiting forever. */
static void drop_fetching_locked(struct swiftfs_block_cache *bc, struct bc_entry *e)
{
	if (e->pins == 0)
		remove_locked(bc, e);
	else
		e->abandoned = true;
}

void block_cache_unclaim(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
			 uint64_t idx)
{
	pthread_mutex_lock(&bc->lock);
	struct bc_entry *e = find_locked(bc, k->id, idx);
	if (e && e->st == BC_FETCHING)
		drop_fetching_locked(bc, e);
	pthread_cond_broadcast(&bc->cond);
	pthread_mutex_unlock(&bc->lock);
}

void block_cache_fill(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k,
		      uint64_t idx, const char *data, uint32_t len)
{
	uint64_t need = disk_bytes(len);

	pthread_mutex_lock(&bc->lock);
	struct bc_entry *e = find_locked(bc, k->id, idx);
	if (!e || e->st != BC_FETCHING)
		goto out; /* not claimed: nothing to do */
	if (!make_room_locked(bc, need, limit_now_locked(bc, need))) {
		bc->st.store_skipped++;
		if (!bc->warned_full) {
			LOGW("cache: %s is full (bound or free disk space); reads go on without "
			     "caching", bc->dir);
			bc->warned_full = true;
		}
		drop_fetching_locked(bc, e);
		goto out;
	}
	/* the room is ours while the file is written */
	bc->st.bytes += need;
	e->pins++;
	pthread_mutex_unlock(&bc->lock);
	int rc = write_block(bc, k->id, idx, data, len);
	pthread_mutex_lock(&bc->lock);
	e->pins--;
	bc->st.bytes -= need;
	if (rc) {
		bc->st.store_skipped++;
		if (!bc->warned_full) {
			LOGW("cache: cannot store a block in %s: %s; reads go on without caching",
			     bc->dir, strerror(-rc));
			bc->warned_full = true;
		}
		drop_fetching_locked(bc, e);
		goto out;
	}
	e->gen++;
	e->st = BC_READY;
	e->disk = need;
	e->verified = true;
	bc->st.bytes += need;
	bc->st.blocks++;
	bc->warned_full = false;
out:
	pthread_cond_broadcast(&bc->cond);
	pthread_mutex_unlock(&bc->lock);
}

int block_cache_key(const struct swiftfs_block_cache *bc, const char *account,
		     const char *container, const char *object, const char *etag, uint64_t size,
		     struct swiftfs_bc_key *k)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char sz[24], bs[24];
	int ok;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* the block size too: block k of another block size is other bytes,
	 * and may have the same length (a cache folder kept across a change
	 * of block_size, or shared by two mounts) */
	const char *parts[] = { account, container, object, etag, sz, bs };

	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	snprintf(bs, sizeof(bs), "bs=%" PRIu64, bc->block_size);
	memset(k, 0, sizeof(*k));
	/* never a key shared by all objects: no hash, no cache */
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < sizeof(parts) / sizeof(parts[0]); i++)
		ok = EVP_DigestUpdate(ctx, parts[i] ? parts[i] : "",
				      strlen(parts[i] ? parts[i] : "") + 1);
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen >= sizeof(k->id);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -ENOMEM;
	memcpy(k->id, md, sizeof(k->id));
	return 0;
}

static int parse_name(const char *name, unsigned char *id, uint64_t *idx)
{
	for (int i = 0; i < 32; i++) {
		char c = name[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			id[i / 2] = (unsigned char)(v << 4);
		else
			id[i / 2] |= (unsigned char)v;
	}
	if (name[32] != '.' || name[33] < '0' || name[33] > '9')
		return -1;
	char *end;
	errno = 0;
	*idx = strtoull(name + 33, &end, 10);
	return errno || *end ? -1 : 0;
}

static int cmp_mtime(const void *a, const void *b)
{
	const struct bc_entry *x = *(struct bc_entry *const *)a;
	const struct bc_entry *y = *(struct bc_entry *const *)b;
	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* Index what earlier daemons left: every block unverified, LRU order by
 * file time; stale temporary files of dead writers are removed. */
static int scan(struct swiftfs_block_cache *bc)
{
	struct bc_entry **all = NULL;
	size_t n = 0, cap = 0;
	time_t now = time(NULL);

	for (int i = 0; i < 256; i++) {
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%02x", bc->dir, i);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			struct stat sb;
			unsigned char id[16];
			uint64_t idx;
			if (de->d_name[0] == '.' && de->d_name[1] != 't')
				continue;
			if (fstatat(dirfd(d), de->d_name, &sb, 0) || !S_ISREG(sb.st_mode))
				continue;
			if (strncmp(de->d_name, ".tmp.", 5) == 0) {
				/* a fill under way (.tmp.<pid>.<n>): another
				 * daemon's, unless that daemon is gone (killed,
				 * and restarted within the minute). A fill takes
				 * moments: one seconds old whose pid this
				 * namespace does not know (a daemon in another
				 * container sharing the folder) is not one */
				long pid = strtol(de->d_name + 5, NULL, 10);
				bool dead = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH &&
					    now - sb.st_mtime > 2;
				if (dead || now - sb.st_mtime > 60)
					unlinkat(dirfd(d), de->d_name, 0);
				continue;
			}
			if (parse_name(de->d_name, id, &idx))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				struct bc_entry **na = realloc(all, nc * sizeof(*na));
				if (!na)
					break;
				all = na;
				cap = nc;
			}
			struct bc_entry *e = calloc(1, sizeof(*e));
			if (!e)
				break;
			memcpy(e->id, id, 16);
			e->idx = idx;
			e->st = BC_READY;
			e->disk = (uint64_t)sb.st_blocks * 512;
			if (e->disk < (uint64_t)sb.st_size)
				e->disk = disk_bytes((uint64_t)sb.st_size);
			e->mtime = sb.st_mtime;
			all[n++] = e;
		}
		closedir(d);
	}
	if (n)
		qsort(all, n, sizeof(*all), cmp_mtime);
	for (size_t i = 0; i < n; i++) {
		struct bc_entry *e = all[i];
		if (bc->count >= bc->nbuckets * 2)
			grow_locked(bc);
		size_t h = bc_hash(e->id, e->idx) & (bc->nbuckets - 1);
		e->hnext = bc->buckets[h];
		bc->buckets[h] = e;
		bc->count++;
		lru_push_head(bc, e);
		bc->st.bytes += e->disk;
		bc->st.blocks++;
	}
	free(all);
	make_room_locked(bc, 0, bc->max_bytes);
	return 0;
}

int block_cache_new(const struct swiftfs_block_cache_cfg *cfg, struct swiftfs_block_cache **out)
{
	struct swiftfs_block_cache *bc = calloc(1, sizeof(*bc));
	if (!bc)
		return -ENOMEM;
	pthread_mutex_init(&bc->lock, NULL);
	pthread_cond_init(&bc->cond, NULL);
	bc->dir = strdup(cfg->dir);
	bc->block_size = cfg->block_size;
	bc->max_bytes = cfg->max_bytes;
	bc->min_free = cfg->min_free;
	bc->nbuckets = 1024;
	bc->buckets = calloc(bc->nbuckets, sizeof(*bc->buckets));
	if (!bc->dir || !bc->buckets) {
		block_cache_free(bc);
		return -ENOMEM;
	}
	if (mkdir(bc->dir, 0700) && errno != EEXIST) {
		int rc = -errno;
		LOGE("cannot create the block cache folder %s: %s", bc->dir, strerror(errno));
		block_cache_free(bc);
		return rc;
	}
	scan(bc);
	LOGI("block cache %s: %llu blocks, %llu MiB of %llu MiB", bc->dir,
	     (unsigned long long)bc->st.blocks, (unsigned long long)(bc->st.bytes >> 20),
	     (unsigned long long)(bc->max_bytes >> 20));
	*out = bc;
	return 0;
}

void block_cache_free(struct swiftfs_block_cache *bc)
{
	if (!bc)
		return;
	for (size_t i = 0; bc->buckets && i < bc->nbuckets; i++) {
		struct bc_entry *e = bc->buckets[i];
		while (e) {
			struct bc_entry *nx = e->hnext;
			free(e);
			e = nx;
		}
	}
	free(bc->buckets);
	free(bc->dir);
	for (unsigned i = 0; i < bc->nbufs; i++)
		free(bc->bufs[i]);
	pthread_mutex_destroy(&bc->lock);
	pthread_cond_destroy(&bc->cond);
	free(bc);
}

char *block_cache_buf_get(struct swiftfs_block_cache *bc)
{
	char *buf = NULL;
	pthread_mutex_lock(&bc->lock);
	if (bc->nbufs)
		buf = bc->bufs[--bc->nbufs];
	pthread_mutex_unlock(&bc->lock);
	return buf ? buf : malloc(bc->block_size);
}

void block_cache_buf_put(struct swiftfs_block_cache *bc, char *buf)
{
	uint64_t keep = BC_BUFS_BYTES / bc->block_size;
	if (keep > BC_BUFS_MAX)
		keep = BC_BUFS_MAX;
	if (!buf)
		return;
	pthread_mutex_lock(&bc->lock);
	if (bc->nbufs < keep) {
		bc->bufs[bc->nbufs++] = buf;
		buf = NULL;
	}
	pthread_mutex_unlock(&bc->lock);
	free(buf);
}

uint64_t block_cache_capacity(const struct swiftfs_block_cache *bc)
{
	return bc->max_bytes;
}

uint64_t block_cache_block_size(const struct swiftfs_block_cache *bc)
{
	return bc->block_size;
}

void block_cache_stats(struct swiftfs_block_cache *bc, struct swiftfs_block_cache_stats *out)
{
	pthread_mutex_lock(&bc->lock);
	*out = bc->st;
	pthread_mutex_unlock(&bc->lock);
}
