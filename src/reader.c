/* The read path (see reader.h). A reader owns a small array of chunk
 * slots. A slot is EMPTY, BUSY (a fetch owns it: never evicted), READY or
 * FAILED. The FUSE thread that needs a chunk fetches it itself; read-ahead
 * chunks go to the worker pool. A read waits for a pool job only when that
 * job already holds the block it needs and is under way: one still queued
 * (behind other files' read-ahead) the read runs itself (cache path); the pool
 * carries read-ahead and small-file prefetch only, never uploads (their
 * segments have a pool of their own). All slot fields are guarded by
 * reader->lock; the fetch itself runs unlocked into a buffer only the
 * fetcher sees. */
#include "swiftfs/reader.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftfs/block_cache.h"
#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"
#include "swiftfs/workpool.h"

enum slot_state { S_EMPTY, S_BUSY, S_READY, S_FAILED };

struct slot {
	enum slot_state state;
	uint64_t idx;       /* chunk number */
	char *data;         /* chunk-sized, allocated once, reused */
	size_t got;         /* bytes fetched (short at end of object) */
	int err;
	uint64_t used;      /* LRU clock */
};

struct swiftfs_reader {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct swiftfs_client *client;
	struct swiftfs_workpool *pool;
	char *container;
	char *object;       /* atomic: swapped when the file was renamed */
	char **old_names;   /* lock: names before, freed with the reader */
	size_t n_old;
	char *(*name_now)(void *a, void *b);
	void *name_a, *name_b;
	char if_match[96];  /* "If-Match: \"etag\"" or "" */
	uint64_t size;
	uint64_t chunk;
	unsigned nslots;
	struct slot *slots;   /* lock */
	uint64_t clock;       /* lock */
	uint64_t next_off;    /* lock: where the last read ended */
	unsigned streak;      /* lock: sequential reads in a row */
	unsigned inflight;    /* lock: pool jobs not finished */
	bool etag_warned;     /* lock */
	struct swiftfs_block_cache *bc; /* NULL: slots */
	struct swiftfs_bc_key key;
	uint64_t bsize;       /* cache block size */
	char *pre;            /* preloaded first bytes (no cache) */
	size_t pre_len;
	uint64_t warm_to;     /* lock: blocks below this were warmed from disk */
	unsigned rand_misses; /* lock: blocks fetched by random reads */
	bool filling;         /* lock: fetching the whole object (dense random reads) */
	bool filled;          /* lock: that was started once already */
	uint64_t fill_next;   /* lock: the next block the fill considers */
	bool closing;         /* lock: reader_free() waits: start nothing new */
	struct fetch_job *queued; /* lock: cache-path fetches not started yet */
};

struct fetch_job {
	struct swiftfs_reader *r;
	struct slot *s;       /* slot path */
	uint64_t b0;          /* cache path: blocks [b0, b0 + n) */
	unsigned n;
	bool warm;            /* cached blocks to bring in from disk, not fetch */
	bool stolen;          /* r->lock: readers took all its blocks (steal_block) */
	struct fetch_job *qnext; /* r->lock: in r->queued */
};

static void fill_more_locked(struct swiftfs_reader *r);
static bool submit_run_locked(struct swiftfs_reader *r, uint64_t b0, unsigned n, bool warm);
static void read_ahead_cached_locked(struct swiftfs_reader *r, uint64_t b, unsigned streak);

int reader_new(const struct swiftfs_reader_cfg *cfg, struct swiftfs_reader **out)
{
	struct swiftfs_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->client = cfg->client;
	r->pool = cfg->pool;
	r->container = strdup(cfg->container);
	r->object = strdup(cfg->object);
	r->name_now = cfg->name_now;
	r->name_a = cfg->name_a;
	r->name_b = cfg->name_b;
	r->size = cfg->size;
	r->chunk = cfg->chunk;
	r->nslots = (unsigned)(cfg->ahead / cfg->chunk) + 2;
	if (r->nslots < 3)
		r->nslots = 3;
	r->slots = calloc(r->nslots, sizeof(*r->slots));
	if (cfg->etag && cfg->etag[0])
		snprintf(r->if_match, sizeof(r->if_match), "If-Match: \"%s\"", cfg->etag);
	if (cfg->cache && cfg->key && r->if_match[0]) {
		r->bc = cfg->cache;
		r->key = *cfg->key;
		r->bsize = block_cache_block_size(cfg->cache);
	}
	if (!r->container || !r->object || !r->slots) {
		reader_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

static const char *obj_name(struct swiftfs_reader *r)
{
	return __atomic_load_n(&r->object, __ATOMIC_ACQUIRE);
}

/* After a GET of name found no object (or another one): true when the
 * file has another name now (renamed while open), which the reader then
 * reads under. */
static bool follow_rename(struct swiftfs_reader *r, const char *name)
{
	char *now = r->name_now ? r->name_now(r->name_a, r->name_b) : NULL;
	bool moved = false;
	pthread_mutex_lock(&r->lock);
	if (now && strcmp(now, obj_name(r)) != 0) {
		char **nv = realloc(r->old_names, (r->n_old + 1) * sizeof(*nv));
		if (nv) {
			r->old_names = nv;
			/* readers still using the old name keep a valid string */
			r->old_names[r->n_old++] = r->object;
			__atomic_store_n(&r->object, now, __ATOMIC_RELEASE);
			now = NULL;
			moved = true;
		}
	} else if (now && strcmp(now, name) != 0) {
		moved = true; /* another reader followed it already */
	}
	pthread_mutex_unlock(&r->lock);
	if (moved)
		LOGD("%s was renamed while open: reading it as %s", name, obj_name(r));
	free(now);
	return moved;
}

/* GET [off, off+len) into buf, or to sink as it arrives. Returns bytes
 * or -errno. */
static ssize_t fetch_range_to(struct swiftfs_reader *r, char *buf, uint64_t off, size_t len,
			      int (*sink)(void *, uint64_t, const char *, size_t), void *arg)
{
	struct swiftfs_req q;
	const char *hdrs[2] = { r->if_match[0] ? r->if_match : NULL, NULL };
	ssize_t rc;
	const char *name = obj_name(r);

	for (int attempt = 0;; attempt++) {
		swift_req_init(&q, "GET");
		q.container = r->container;
		q.object = name;
		q.headers = hdrs;
		q.range_off = (int64_t)off;
		q.range_len = (int64_t)len;
		q.recv_buf = buf;
		q.recv_cap = len;
		q.sink = sink;
		q.sink_arg = arg;
		rc = swift_request(r->client, &q);
		/* nothing there, or another object (If-Match): was it renamed?
		 * (no data reached buf or the sink: the answer was an error) */
		if ((rc != -ENOENT && rc != -ESTALE) || attempt > 0 || !follow_rename(r, name))
			break;
		swift_req_cleanup(&q);
		name = obj_name(r);
	}
	if (rc == 0) {
		rc = (ssize_t)q.recv_len;
	} else if (rc == -ERANGE) {
		rc = 0; /* the object is shorter than we thought: end of file */
	} else {
		char what[256];
		swift_describe_error(&q, what, sizeof(what));
		if (rc == -ESTALE)
			LOGW("%s: the object changed since it was opened; reopen it to read "
			     "the new version", name);
		else
			LOGE("read of %s failed: %s", name, what);
	}
	swift_req_cleanup(&q);
	return rc;
}

static ssize_t fetch_range(struct swiftfs_reader *r, char *buf, uint64_t off, size_t len)
{
	return fetch_range_to(r, buf, off, len, NULL, NULL);
}

/* Length of piece idx when the object is cut in pieces of unit bytes
 * (chunks, or cache blocks): short at the end, 0 past it. */
static uint64_t piece_len(const struct swiftfs_reader *r, uint64_t idx, uint64_t unit)
{
	uint64_t off = idx * unit;
	if (off >= r->size)
		return 0;
	uint64_t left = r->size - off;
	return left < unit ? left : unit;
}

/* Fetch slot s (state BUSY, owned by the caller); lock not held. The
 * slot's buffer is allocated on first use and kept for the reader's life:
 * fresh 4-8 MiB buffers per chunk, freed on another thread, made glibc's
 * per-thread arenas grow far past the read-ahead bound. */
static void fill_slot(struct swiftfs_reader *r, struct slot *s, uint64_t idx)
{
	size_t len = (size_t)piece_len(r, idx, r->chunk);
	if (len && !s->data)
		s->data = malloc(r->chunk);
	ssize_t got = len ? (s->data ? fetch_range(r, s->data, idx * r->chunk, len) : -ENOMEM) : 0;

	pthread_mutex_lock(&r->lock);
	if (got < 0) {
		s->state = S_FAILED;
		s->err = (int)-got;
	} else {
		s->got = (size_t)got;
		s->state = S_READY;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* --- the cache path --- */

static uint32_t block_len(const struct swiftfs_reader *r, uint64_t b)
{
	return (uint32_t)piece_len(r, b, r->bsize);
}

/* Claim up to max absent blocks from `from` on, stopping at the first
 * that is cached or being fetched, or at the end of the object. */
static unsigned claim_run(struct swiftfs_reader *r, uint64_t from, uint64_t max)
{
	unsigned n = 0;
	while (n < max && (from + n) * r->bsize < r->size && block_cache_claim(r->bc, &r->key, from + n))
		n++;
	return n;
}

/* A GET of blocks [b0, b0 + n) as it arrives: each block goes to the
 * cache once its last byte is in, so a reader waiting on it goes on while
 * the rest of the GET still comes, and a fetch holds one block in memory,
 * however long the GET. */
struct block_sink {
	struct swiftfs_reader *r;
	uint64_t b0;
	unsigned n;
	unsigned done;   /* blocks [b0, b0 + done) handed over */
	char *buf;       /* one block */
	char *dst;       /* the caller's part of block b0, if any */
	uint32_t in, len;
	size_t copied;
};

static void sink_deliver(struct block_sink *k, uint32_t blen)
{
	struct swiftfs_reader *r = k->r;
	if (k->done == 0 && k->dst) {
		size_t c = blen > k->in ? blen - k->in : 0;
		if (c > k->len)
			c = k->len;
		memcpy(k->dst, k->buf + k->in, c);
		k->copied = c;
	}
	block_cache_fill(r->bc, &r->key, k->b0 + k->done, k->buf, blen);
	k->done++;
}

static int block_sink_cb(void *arg, uint64_t pos, const char *data, size_t len)
{
	struct block_sink *k = arg;
	struct swiftfs_reader *r = k->r;
	while (len) {
		uint64_t bi = pos / r->bsize;
		uint64_t boff = pos % r->bsize;
		if (bi >= k->n)
			return 0; /* past what was asked for */
		if (bi < k->done) {
			/* a retry sends the delivered blocks again: skip them */
			uint64_t skip = (uint64_t)k->done * r->bsize - pos;
			if (skip > len)
				skip = len;
			pos += skip;
			data += skip;
			len -= (size_t)skip;
			continue;
		}
		uint32_t blen = block_len(r, k->b0 + bi);
		if (boff >= blen)
			return 0;
		size_t c = blen - boff < len ? (size_t)(blen - boff) : len;
		memcpy(k->buf + boff, data, c);
		pos += c;
		data += c;
		len -= c;
		if (boff + c == blen)
			sink_deliver(k, blen);
	}
	return 0;
}

/* Fetch blocks [b0, b0 + n), all claimed by the caller, in one GET that
 * hands each to the cache as it arrives; copy [in, in + len) of block b0
 * to dst if given. Blocks that did not come are given back. Returns the
 * bytes copied to dst, or -errno. */
static ssize_t fetch_blocks(struct swiftfs_reader *r, uint64_t b0, unsigned n, char *dst,
			    uint32_t in, uint32_t len, unsigned *delivered)
{
	uint64_t off = b0 * r->bsize;
	uint64_t end = (b0 + n) * r->bsize;
	if (end > r->size)
		end = r->size;
	size_t tot = end > off ? (size_t)(end - off) : 0;
	struct block_sink k = { .r = r, .b0 = b0, .n = n, .dst = dst, .in = in, .len = len };
	k.buf = block_cache_buf_get(r->bc);
	ssize_t got = !k.buf ? -ENOMEM : tot ? fetch_range_to(r, NULL, off, tot, block_sink_cb, &k) : 0;
	ssize_t rc = got;

	if (got >= 0 && dst) {
		if (k.done == 0) {
			/* the object ended inside block b0 (shorter than we knew):
			 * its bytes are in the buffer, never cached */
			size_t avail = (size_t)got > in ? (size_t)got - in : 0;
			k.copied = avail < len ? avail : len;
			memcpy(dst, k.buf + in, k.copied);
		}
		rc = (ssize_t)k.copied;
	} else if (got < 0 && dst && k.done) {
		rc = (ssize_t)k.copied; /* block b0 came before the failure */
	}
	for (unsigned i = k.done; i < n; i++)
		block_cache_unclaim(r->bc, &r->key, b0 + i);
	if (delivered)
		*delivered = k.done;
	block_cache_buf_put(r->bc, k.buf);
	return rc;
}

static void unqueue_locked(struct swiftfs_reader *r, struct fetch_job *j)
{
	for (struct fetch_job **pp = &r->queued; *pp; pp = &(*pp)->qnext) {
		if (*pp == j) {
			*pp = j->qnext;
			break;
		}
	}
	j->qnext = NULL;
}

/* Block b belongs to a fetch queued on the pool and not started, and
 * every worker is busy: the reader that needs b takes it out of that run
 * and fetches it itself, rather than wait behind whatever the pool does
 * first (other files' read-ahead). The rest of the run stays queued (the
 * blocks after b in a run cut in two as a run of their own). False when
 * no queued run holds b. */
static bool steal_block(struct swiftfs_reader *r, uint64_t b)
{
	bool found = false;
	uint64_t tail0 = 0, tail_end = 0;
	pthread_mutex_lock(&r->lock);
	for (struct fetch_job *j = r->queued; j && !found; j = j->qnext) {
		if (b < j->b0 || b >= j->b0 + j->n)
			continue;
		found = true;
		uint64_t end = j->b0 + j->n;
		if (b == j->b0) {
			j->b0++;
			j->n--;
		} else {
			tail0 = b + 1;
			tail_end = end;
			j->n = (unsigned)(b - j->b0);
		}
		if (j->n == 0) {
			j->stolen = true;
			unqueue_locked(r, j);
		}
	}
	/* still claimed: queued again (on failure, given back) */
	if (tail_end > tail0)
		submit_run_locked(r, tail0, (unsigned)(tail_end - tail0), false);
	pthread_mutex_unlock(&r->lock);
	if (!found)
		return false;
	LOGD("%s: a read fetches block %" PRIu64 " of a queued read-ahead run itself", obj_name(r),
	     b);
	fetch_blocks(r, b, 1, NULL, 0, 0, NULL); /* the block was the run's claim */
	return true;
}

static void fetch_job_run(void *arg)
{
	struct fetch_job *j = arg;
	struct swiftfs_reader *r = j->r;
	bool refill = false;
	pthread_mutex_lock(&r->lock);
	bool closing = r->closing;
	bool stolen = j->stolen;
	unqueue_locked(r, j);
	pthread_mutex_unlock(&r->lock);
	if (stolen) {
		/* readers took all its blocks (steal_block) */
	} else if (closing && r->bc) {
		/* the file was closed while this job waited in the queue: its
		 * blocks go back (the next reader of one fetches it), and the
		 * close does not wait for GETs nobody will read */
		for (unsigned i = 0; !j->warm && i < j->n; i++)
			block_cache_unclaim(r->bc, &r->key, j->b0 + i);
	} else if (r->bc && j->warm) {
		for (unsigned i = 0; i < j->n; i++)
			block_cache_hint(r->bc, &r->key, j->b0 + i);
		for (unsigned i = 0; i < j->n; i++)
			block_cache_warm(r->bc, &r->key, j->b0 + i, block_len(r, j->b0 + i));
	} else if (r->bc) {
		unsigned got = 0;
		fetch_blocks(r, j->b0, j->n, NULL, 0, 0, &got);
		/* only a run that came whole and stayed in the cache refills
		 * the window: after a failure (object changed, server errors,
		 * a cache that cannot store) the next read decides */
		refill = got == j->n && block_cache_has(r->bc, &r->key, j->b0 + j->n - 1);
	} else {
		fill_slot(r, j->s, j->s->idx);
	}
	pthread_mutex_lock(&r->lock);
	r->inflight--;
	if (r->filling && !j->warm && !refill && !stolen) {
		/* a run failed (object replaced, server errors, a cache that
		 * cannot store): the fill stops, and the reads decide */
		LOGD("%s: the background fill stops after a failed run", obj_name(r));
		r->filling = false;
	}
	if (r->filling)
		fill_more_locked(r);
	else if (refill && r->streak >= 2)
		/* keep a streaming reader's window full: it may be waiting
		 * on a block of another GET, and queues more only when it
		 * reads */
		read_ahead_cached_locked(r, r->next_off / r->bsize, r->streak);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	free(j);
}

static void slot_clear(struct slot *s)
{
	s->got = 0;
	s->err = 0;
	s->state = S_EMPTY;
}

static struct slot *find_slot_locked(struct swiftfs_reader *r, uint64_t idx)
{
	for (unsigned i = 0; i < r->nslots; i++)
		if (r->slots[i].state != S_EMPTY && r->slots[i].idx == idx)
			return &r->slots[i];
	return NULL;
}

/* A free slot: an empty one, else the least recently used finished one
 * that is not in [keep_lo, keep_hi]. NULL when all are busy or kept. */
static struct slot *take_slot_locked(struct swiftfs_reader *r, uint64_t keep_lo, uint64_t keep_hi)
{
	struct slot *victim = NULL;
	for (unsigned i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slots[i];
		if (s->state == S_EMPTY)
			return s;
		if (s->state == S_BUSY || (s->idx >= keep_lo && s->idx <= keep_hi))
			continue;
		if (!victim || s->used < victim->used)
			victim = s;
	}
	if (victim)
		slot_clear(victim);
	return victim;
}

/* Queue read-ahead for chunks (first, last]; stops when no slot is free. */
static void read_ahead_locked(struct swiftfs_reader *r, uint64_t first, uint64_t last)
{
	for (uint64_t idx = first + 1; idx <= last; idx++) {
		if (idx * r->chunk >= r->size)
			break;
		if (find_slot_locked(r, idx))
			continue;
		struct slot *s = take_slot_locked(r, first, last);
		if (!s)
			break;
		struct fetch_job *j = calloc(1, sizeof(*j));
		if (!j)
			break;
		s->state = S_BUSY;
		s->idx = idx;
		s->used = ++r->clock;
		j->r = r;
		j->s = s;
		r->inflight++;
		if (workpool_submit(r->pool, fetch_job_run, j)) {
			r->inflight--;
			s->state = S_EMPTY;
			free(j);
			break;
		}
	}
}

static uint64_t blocks_per_run(const struct swiftfs_reader *r)
{
	return r->chunk / r->bsize ? r->chunk / r->bsize : 1;
}

static unsigned max_jobs(const struct swiftfs_reader *r)
{
	return r->nslots - 2 ? r->nslots - 2 : 1;
}

/* Queue a pool job for blocks [b0, b0 + n): a fetch (the blocks are
 * claimed: given back on failure) or a warm-up. False on failure. */
static bool submit_run_locked(struct swiftfs_reader *r, uint64_t b0, unsigned n, bool warm)
{
	struct fetch_job *j = calloc(1, sizeof(*j));
	if (j) {
		j->r = r;
		j->b0 = b0;
		j->n = n;
		j->warm = warm;
		r->inflight++;
		if (!warm) {
			j->qnext = r->queued;
			r->queued = j;
		}
	}
	if (!j || workpool_submit(r->pool, fetch_job_run, j)) {
		if (j) {
			r->inflight--;
			unqueue_locked(r, j);
		}
		free(j);
		for (unsigned i = 0; !warm && i < n; i++)
			block_cache_unclaim(r->bc, &r->key, b0 + i);
		return false;
	}
	return true;
}

/* Read-ahead into the cache: runs of up to a chunk of absent blocks from
 * block b on, within the window, one pool job per run. Blocks already on
 * disk are warmed (read into the page cache) by pool jobs too: after a
 * remount or drop_caches a cached block costs a disk read, which would
 * otherwise come one block at a time, when the reader reaches it. */
static void read_ahead_cached_locked(struct swiftfs_reader *r, uint64_t b, unsigned streak)
{
	uint64_t window = r->chunk << (streak < 6 ? streak : 6);
	uint64_t max_ahead = (uint64_t)(r->nslots - 2) * r->chunk;
	uint64_t per_run = blocks_per_run(r);
	if (window > max_ahead)
		window = max_ahead;
	uint64_t end = b * r->bsize + window;
	if (end > r->size)
		end = r->size;

	while (b * r->bsize < end && r->inflight < max_jobs(r) && !r->closing) {
		uint64_t room = (end - b * r->bsize + r->bsize - 1) / r->bsize;
		uint64_t max = per_run < room ? per_run : room;
		if (!block_cache_claim(r->bc, &r->key, b)) {
			if (b < r->warm_to || !block_cache_has(r->bc, &r->key, b)) {
				b++;
				continue;
			}
			unsigned n = 1;
			while (n < max && block_cache_has(r->bc, &r->key, b + n))
				n++;
			if (!submit_run_locked(r, b, n, true))
				break;
			b += n;
			r->warm_to = b;
			continue;
		}
		unsigned n = 1 + claim_run(r, b + 1, max - 1);
		if (!submit_run_locked(r, b, n, false))
			break;
		b += n;
	}
}

static void read_ahead_cached(struct swiftfs_reader *r, uint64_t b, unsigned streak)
{
	pthread_mutex_lock(&r->lock);
	read_ahead_cached_locked(r, b, streak);
	pthread_mutex_unlock(&r->lock);
}

/* The whole object in the background, runs of blocks on the pool, a few
 * at a time; each finished run queues the next. */
static void fill_more_locked(struct swiftfs_reader *r)
{
	uint64_t per_run = blocks_per_run(r);
	while (r->filling && !r->closing && r->inflight < max_jobs(r)) {
		uint64_t b = r->fill_next;
		if (b * r->bsize >= r->size) {
			r->filling = false;
			break;
		}
		if (!block_cache_claim(r->bc, &r->key, b)) {
			r->fill_next = b + 1;
			continue;
		}
		unsigned n = 1 + claim_run(r, b + 1, per_run - 1);
		r->fill_next = b + n;
		if (!submit_run_locked(r, b, n, false))
			r->filling = false;
	}
}

/* Random reads that keep missing over an object that fits the cache well
 * are not random for long: a zarr shard, a database file, an index, a
 * 4 KiB benchmark. Once they have fetched a sixteenth of its blocks (at
 * least 4), the rest comes in the background with large parallel GETs
 * instead of a GET per block when touched. Sparse reads of a big object
 * never reach that, and fetch one block per miss. */
static void random_miss(struct swiftfs_reader *r)
{
	uint64_t nblocks = (r->size + r->bsize - 1) / r->bsize;
	pthread_mutex_lock(&r->lock);
	r->rand_misses++;
	if (!r->filled && r->rand_misses >= 4 && (uint64_t)r->rand_misses * 16 >= nblocks &&
	    r->size <= block_cache_capacity(r->bc) / 2) {
		LOGD("%s: random reads over %u of its %" PRIu64 " blocks: fetching the rest "
		     "in the background", obj_name(r), r->rand_misses, nblocks);
		r->filled = true;
		r->filling = true;
		r->fill_next = 0;
		fill_more_locked(r);
	}
	pthread_mutex_unlock(&r->lock);
}

static ssize_t read_cached(struct swiftfs_reader *r, char *buf, size_t size, uint64_t off,
			   bool seq, unsigned streak)
{
	size_t copied = 0;
	int err = 0;
	while (copied < size) {
		uint64_t cur = off + copied;
		uint64_t b = cur / r->bsize;
		uint32_t in = (uint32_t)(cur % r->bsize);
		uint32_t blen = block_len(r, b);
		if (in >= blen)
			break;
		uint32_t n = blen - in;
		if (n > size - copied)
			n = (uint32_t)(size - copied);
		/* a block a queued fetch holds: fetch it here, rather than
		 * wait for a busy pool to reach it */
		if (workpool_all_busy(r->pool))
			steal_block(r, b);
		ssize_t got = block_cache_read(r->bc, &r->key, b, blen, buf + copied, in, n);
		if (got == -ENOENT) {
			/* ours to fetch. Streaming: the rest of an object within
			 * one chunk comes in this GET; further on, this block
			 * comes alone and the blocks after it go to the pool
			 * first, in parallel rather than in one long GET the
			 * reader waits on */
			unsigned nb = 1;
			if (seq && r->size - b * r->bsize <= r->chunk)
				nb += claim_run(r, b + 1, blocks_per_run(r) - 1);
			else if (seq)
				read_ahead_cached(r, b + 1, streak);
			got = fetch_blocks(r, b, nb, buf + copied, in, n, NULL);
			if (!seq && got >= 0)
				random_miss(r);
		}
		if (got < 0) {
			err = (int)-got;
			break;
		}
		copied += (size_t)got;
		if ((uint32_t)got < n)
			break; /* end of the object as the server had it */
	}
	if (seq && !err)
		read_ahead_cached(r, (off + copied) / r->bsize, streak);
	/* a short answer is end of file to the kernel, which would shrink
	 * the file to it: an error fails the whole read */
	if (err)
		return -err;
	return (ssize_t)copied;
}

void reader_preload(struct swiftfs_reader *r, char *data, size_t len)
{
	free(r->pre);
	r->pre = data;
	r->pre_len = len < r->size ? len : (size_t)r->size;
}

/* A read at off: sequential (true) or not, and the streak. Sequential:
 * starts at 0, or within a chunk of where the last read ended (async
 * reads arrive slightly out of order). */
static bool note_access_locked(struct swiftfs_reader *r, uint64_t off)
{
	bool seq = (off == 0 && r->next_off == 0) ||
		   (off + r->chunk >= r->next_off && off <= r->next_off + r->chunk && r->next_off);
	if (seq) {
		if (r->streak < 32)
			r->streak++;
	} else {
		r->streak = 0;
		r->warm_to = 0;
	}
	return seq;
}

int reader_read_fd(struct swiftfs_reader *r, size_t size, uint64_t off, int *fd, uint64_t *pos,
		   size_t *len)
{
	/* size and bsize are fixed at reader_new(): no lock until the
	 * bookkeeping, so the open() does not hold up this file's readers */
	if (!r->bc || r->pre || off >= r->size || size == 0)
		return -EAGAIN;
	if (size > r->size - off)
		size = (size_t)(r->size - off);
	uint64_t b = off / r->bsize;
	uint32_t in = (uint32_t)(off % r->bsize);
	if ((uint64_t)in + size > block_len(r, b) ||
	    block_cache_open(r->bc, &r->key, b, in, fd, pos) != 0)
		return -EAGAIN;
	pthread_mutex_lock(&r->lock);
	bool seq = note_access_locked(r, off);
	unsigned streak = r->streak;
	r->next_off = off + size;
	pthread_mutex_unlock(&r->lock);
	if (seq)
		read_ahead_cached(r, (off + size) / r->bsize, streak);
	*len = size;
	return 0;
}

ssize_t reader_read(struct swiftfs_reader *r, char *buf, size_t size, uint64_t off)
{
	if (r->pre && off < r->size && off + size > r->size)
		size = (size_t)(r->size - off);
	if (r->pre && off + size <= r->pre_len) {
		memcpy(buf, r->pre + off, size);
		return (ssize_t)size;
	}

	size_t copied = 0;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	if (off >= r->size || size == 0)
		goto out;
	if (size > r->size - off)
		size = (size_t)(r->size - off);
	bool seq = note_access_locked(r, off);
	if (r->bc) {
		unsigned streak = r->streak;
		r->next_off = off + size;
		pthread_mutex_unlock(&r->lock);
		return read_cached(r, buf, size, off, seq, streak);
	}

	while (copied < size) {
		uint64_t cur = off + copied;
		uint64_t idx = cur / r->chunk;
		struct slot *s = find_slot_locked(r, idx);
		if (!s && !seq) {
			/* random access: exactly the bytes asked for */
			pthread_mutex_unlock(&r->lock);
			ssize_t got = fetch_range(r, buf + copied, cur, size - copied);
			pthread_mutex_lock(&r->lock);
			if (got < 0)
				err = (int)-got;
			else
				copied += (size_t)got;
			break;
		}
		if (!s) {
			s = take_slot_locked(r, idx, idx);
			while (!s) {
				pthread_cond_wait(&r->cond, &r->lock);
				s = take_slot_locked(r, idx, idx);
			}
			s->state = S_BUSY;
			s->idx = idx;
			pthread_mutex_unlock(&r->lock);
			fill_slot(r, s, idx);
			pthread_mutex_lock(&r->lock);
		}
		while (s->state == S_BUSY)
			pthread_cond_wait(&r->cond, &r->lock);
		if (s->state != S_READY || s->idx != idx) {
			if (s->state == S_FAILED && s->idx == idx) {
				err = s->err;
				slot_clear(s); /* the next read tries again */
				break;
			}
			continue; /* the slot was recycled meanwhile: look again */
		}
		s->used = ++r->clock;
		uint64_t in = cur - idx * r->chunk;
		if (in >= s->got)
			break; /* end of the object as the server had it */
		size_t n = s->got - (size_t)in;
		if (n > size - copied)
			n = size - copied;
		memcpy(buf + copied, s->data + in, n);
		copied += n;
	}
	if (seq && !err) {
		uint64_t idx = (off + copied) / r->chunk;
		uint64_t window = r->chunk << (r->streak < 6 ? r->streak : 6);
		uint64_t max_ahead = (uint64_t)(r->nslots - 2) * r->chunk;
		if (window > max_ahead)
			window = max_ahead;
		/* chunks well behind the reader are done with */
		for (unsigned i = 0; i < r->nslots; i++) {
			struct slot *s = &r->slots[i];
			if ((s->state == S_READY || s->state == S_FAILED) && s->idx + 1 < idx)
				slot_clear(s);
		}
		read_ahead_locked(r, idx, idx + window / r->chunk);
	}
	r->next_off = off + copied;
out:
	pthread_mutex_unlock(&r->lock);
	/* a short answer is end of file to the kernel, which would shrink
	 * the file to it: an error fails the whole read */
	if (err)
		return -err;
	return (ssize_t)copied;
}

void reader_free(struct swiftfs_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	while (r->inflight)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; r->slots && i < r->nslots; i++)
		free(r->slots[i].data);
	free(r->slots);
	free(r->pre);
	free(r->container);
	free(r->object);
	for (size_t i = 0; i < r->n_old; i++)
		free(r->old_names[i]);
	free(r->old_names);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
