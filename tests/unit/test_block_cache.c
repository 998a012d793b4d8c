/* The block cache on a temporary folder: claims and fills, the size
 * bound, persistence across instances, damaged files, many threads. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "swiftfs/block_cache.h"

#define BS 65536u

static char dir[256];

static void fill_pattern(char *b, uint32_t len, uint64_t idx)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (char)((idx * 131 + i * 7) & 0xff);
}

static struct swiftfs_block_cache *open_cache(uint64_t max)
{
	struct swiftfs_block_cache *bc = NULL;
	struct swiftfs_block_cache_cfg cfg = { .dir = dir, .block_size = BS, .max_bytes = max };
	CHECK_INT(block_cache_new(&cfg, &bc), 0);
	return bc;
}

/* Read block idx; fetch (fill with the pattern) when absent. */
static int get_block(struct swiftfs_block_cache *bc, const struct swiftfs_bc_key *k, uint64_t idx,
		     char *out, int *fetched)
{
	ssize_t n = block_cache_read(bc, k, idx, BS, out, 0, BS);
	if (n == -ENOENT) {
		fill_pattern(out, BS, idx);
		block_cache_fill(bc, k, idx, out, BS);
		if (fetched)
			(*fetched)++;
		return 0;
	}
	return n == BS ? 0 : -1;
}

static void test_basic_and_persistence(void)
{
	struct swiftfs_bc_key k, k2;
	char buf[BS], want[BS];
	struct swiftfs_block_cache *bc = open_cache(100 * BS);
	block_cache_key(bc, "/v1/AUTH_a", "c", "o", "etag1", 5 * BS, &k);
	block_cache_key(bc, "/v1/AUTH_a", "c", "o", "etag2", 5 * BS, &k2);
	CHECK(memcmp(k.id, k2.id, sizeof(k.id)) != 0);

	int fetched = 0;
	for (uint64_t i = 0; i < 5; i++)
		CHECK_INT(get_block(bc, &k, i, buf, &fetched), 0);
	CHECK_INT(fetched, 5);
	for (uint64_t i = 0; i < 5; i++) {
		CHECK_INT(get_block(bc, &k, i, buf, &fetched), 0);
		fill_pattern(want, BS, i);
		CHECK(memcmp(buf, want, BS) == 0);
	}
	CHECK_INT(fetched, 5);
	/* another version of the object: nothing of the first is served */
	CHECK_INT(block_cache_read(bc, &k2, 0, BS, buf, 0, BS), -ENOENT);
	block_cache_unclaim(bc, &k2, 0);
	/* a part of a block */
	CHECK_INT(block_cache_read(bc, &k, 3, BS, buf, 100, 50), 50);
	fill_pattern(want, BS, 3);
	CHECK(memcmp(buf, want + 100, 50) == 0);
	block_cache_free(bc);

	/* a new instance finds the blocks on disk */
	bc = open_cache(100 * BS);
	struct swiftfs_block_cache_stats st;
	block_cache_stats(bc, &st);
	CHECK_INT(st.blocks, 5);
	for (uint64_t i = 0; i < 5; i++)
		CHECK_INT(get_block(bc, &k, i, buf, &fetched), 0);
	CHECK_INT(fetched, 5);
	block_cache_free(bc);

	/* the folder opened with another block size: block 1 of that size is
	 * other bytes, so none of these blocks is served for it */
	struct swiftfs_block_cache_cfg half = { .dir = dir, .block_size = BS / 2,
						.max_bytes = 100 * BS };
	struct swiftfs_bc_key kh;
	CHECK_INT(block_cache_new(&half, &bc), 0);
	block_cache_key(bc, "/v1/AUTH_a", "c", "o", "etag1", 5 * BS, &kh);
	CHECK(memcmp(k.id, kh.id, sizeof(k.id)) != 0);
	CHECK_INT(block_cache_read(bc, &kh, 1, BS / 2, buf, 0, BS / 2), -ENOENT);
	block_cache_unclaim(bc, &kh, 1);
	block_cache_free(bc);
}

/* Call fn on the path of every block file (not temporaries). */
static void for_each_block_file(void (*fn)(const char *path, const char *name, void *arg),
				void *arg)
{
	char sub[512], path[1024];
	for (int i = 0; i < 256; i++) {
		snprintf(sub, sizeof(sub), "%s/%02x", dir, i);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
			fn(path, de->d_name, arg);
		}
		closedir(d);
	}
}

struct damage_spec {
	const char *suffix; /* block files whose name ends so */
	int how;            /* 0: flip a data byte; 1: tear (truncate) */
};

static void damage_one(const char *path, const char *name, void *arg)
{
	const struct damage_spec *d = arg;
	size_t l = strlen(name), ls = strlen(d->suffix);
	if (l < ls || strcmp(name + l - ls, d->suffix) != 0)
		return;
	if (d->how == 1) {
		CHECK_INT(truncate(path, 64 + 10), 0);
		return;
	}
	FILE *f = fopen(path, "r+b");
	fseek(f, 64 + 1000, SEEK_SET);
	int c = fgetc(f);
	fseek(f, 64 + 1000, SEEK_SET);
	fputc(c ^ 0x20, f);
	fclose(f);
}

static void damage(const char *suffix, int how)
{
	struct damage_spec d = { suffix, how };
	for_each_block_file(damage_one, &d);
}

static void test_damaged_blocks(void)
{
	struct swiftfs_bc_key k;
	char buf[BS], want[BS];
	int fetched = 0;
	damage(".1", 0);
	damage(".2", 1);
	struct swiftfs_block_cache *bc = open_cache(100 * BS);
	block_cache_key(bc, "/v1/AUTH_a", "c", "o", "etag1", 5 * BS, &k);
	for (uint64_t i = 0; i < 5; i++) {
		CHECK_INT(get_block(bc, &k, i, buf, &fetched), 0);
		fill_pattern(want, BS, i);
		CHECK(memcmp(buf, want, BS) == 0);
	}
	CHECK_INT(fetched, 2);  /* exactly the two damaged ones */
	struct swiftfs_block_cache_stats st;
	block_cache_stats(bc, &st);
	CHECK_INT(st.corrupt, 2);
	block_cache_free(bc);
}

/* A block larger than the 64 KiB pieces it is checked in: a part across
 * pieces is right, the end of the block too, and a bad byte in the third
 * piece is found before anything is returned. */
static void flip_at(const char *path, const char *name, void *arg)
{
	(void)name;
	FILE *f = fopen(path, "r+b");
	CHECK(f != NULL);
	if (!f)
		return;
	long at = *(long *)arg;
	fseek(f, at, SEEK_SET);
	int c = fgetc(f);
	fseek(f, at, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
}

static void test_big_blocks_checked_in_pieces(void)
{
	const uint32_t big = 3 * 65536 + 1000;
	char saved[256];
	snprintf(saved, sizeof(saved), "%s", dir);
	snprintf(dir, sizeof(dir), "%.200s-big", saved);
	struct swiftfs_block_cache_cfg cfg = { .dir = dir, .block_size = big, .max_bytes = 64 * big };
	struct swiftfs_block_cache *bc = NULL;
	struct swiftfs_bc_key k;
	char *want = malloc(big), *buf = malloc(big);
	CHECK(want && buf);
	fill_pattern(want, big, 9);
	CHECK_INT(block_cache_new(&cfg, &bc), 0);
	block_cache_key(bc, "/v1/AUTH_a", "c", "big", "etag", big, &k);
	CHECK_INT(block_cache_read(bc, &k, 0, big, buf, 0, big), -ENOENT);
	block_cache_fill(bc, &k, 0, want, big);
	block_cache_free(bc);

	CHECK_INT(block_cache_new(&cfg, &bc), 0); /* unverified again */
	CHECK_INT(block_cache_read(bc, &k, 0, big, buf, 65530, 70000), 70000);
	CHECK(memcmp(buf, want + 65530, 70000) == 0);
	CHECK_INT(block_cache_read(bc, &k, 0, big, buf, big - 10, 10), 10);
	CHECK(memcmp(buf, want + big - 10, 10) == 0);
	block_cache_free(bc);

	long at = 64 + 150000; /* header, then the third piece */
	for_each_block_file(flip_at, &at);
	CHECK_INT(block_cache_new(&cfg, &bc), 0);
	CHECK_INT(block_cache_read(bc, &k, 0, big, buf, 0, 100), -ENOENT); /* ours to fetch */
	struct swiftfs_block_cache_stats st;
	block_cache_stats(bc, &st);
	CHECK_INT(st.corrupt, 1);
	block_cache_free(bc);
	free(want);
	free(buf);
	snprintf(dir, sizeof(dir), "%s", saved);
}

static void add_bytes(const char *path, const char *name, void *arg)
{
	struct stat sb;
	(void)name;
	if (stat(path, &sb) == 0)
		*(uint64_t *)arg += (uint64_t)sb.st_blocks * 512;
}

static uint64_t bytes_on_disk(void)
{
	uint64_t total = 0;
	for_each_block_file(add_bytes, &total);
	return total;
}

static void test_bound(void)
{
	struct swiftfs_bc_key k;
	char buf[BS];
	uint64_t max = 10 * (BS + 4096);
	struct swiftfs_block_cache *bc = open_cache(max);
	block_cache_key(bc, "/v1/AUTH_a", "c", "big", "e", 64 * BS, &k);
	for (uint64_t i = 0; i < 64; i++) {
		CHECK_INT(get_block(bc, &k, i, buf, NULL), 0);
		CHECK(bytes_on_disk() <= max);
	}
	struct swiftfs_block_cache_stats st;
	block_cache_stats(bc, &st);
	CHECK(st.bytes <= max);
	CHECK(st.evictions >= 54);
	/* the most recent blocks are the ones kept */
	CHECK(block_cache_has(bc, &k, 63));
	CHECK(!block_cache_has(bc, &k, 0));
	block_cache_free(bc);
}

struct thr {
	struct swiftfs_block_cache *bc;
	struct swiftfs_bc_key k;
	int fetched;
	int bad;
};

static void *reader(void *arg)
{
	struct thr *t = arg;
	char *buf = malloc(BS), *want = malloc(BS);
	for (int round = 0; round < 3; round++) {
		for (uint64_t i = 0; i < 16; i++) {
			if (get_block(t->bc, &t->k, i, buf, &t->fetched)) {
				t->bad++;
				continue;
			}
			fill_pattern(want, BS, i);
			if (memcmp(buf, want, BS) != 0)
				t->bad++;
		}
	}
	free(buf);
	free(want);
	return NULL;
}

static void test_threads_share_fetches(void)
{
	struct thr t[8];
	pthread_t th[8];
	struct swiftfs_block_cache *bc = open_cache(1000 * BS);
	for (int i = 0; i < 8; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].bc = bc;
		block_cache_key(bc, "/v1/AUTH_a", "c", "shared", "e", 16 * BS, &t[i].k);
		pthread_create(&th[i], NULL, reader, &t[i]);
	}
	int fetched = 0, bad = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		fetched += t[i].fetched;
		bad += t[i].bad;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(fetched, 16); /* one fetch per block, whoever needed it first */
	block_cache_free(bc);
}

/* A reader still inside a block's file (held here in open() of a FIFO put
 * in its place) while another reader finds the block gone, fetches it,
 * and cannot store it (min_free): the entry must outlive the first
 * reader's pin (ASan saw a use after free), and that reader then fetches
 * the block itself instead of reading a freed entry. */
struct pinned {
	struct swiftfs_block_cache *bc;
	struct swiftfs_bc_key k;
	ssize_t rc;
};

static void *pinned_reader(void *arg)
{
	struct pinned *p = arg;
	char b[BS];
	p->rc = block_cache_read(p->bc, &p->k, 0, BS, b, 0, BS);
	return NULL;
}

static void test_refetch_while_pinned_and_not_stored(void)
{
	struct swiftfs_block_cache *bc = NULL;
	struct swiftfs_block_cache_cfg cfg = { .dir = dir, .block_size = BS, .max_bytes = 1000 * BS };
	struct pinned p = { 0 };
	char data[BS], b[BS], path[600] = "", alias[600];
	fill_pattern(data, BS, 0);
	CHECK_INT(block_cache_new(&cfg, &bc), 0);
	block_cache_key(bc, "/v1/AUTH_a", "c", "pinned", "e", BS, &p.k);
	CHECK(block_cache_claim(bc, &p.k, 0));
	block_cache_fill(bc, &p.k, 0, data, BS);
	block_cache_free(bc);
	cfg.min_free = 1ULL << 62; /* nothing more can be stored */
	CHECK_INT(block_cache_new(&cfg, &bc), 0); /* block 0: on disk, unverified */
	p.bc = bc;
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", p.k.id[i]);
	snprintf(path, sizeof(path), "%s/%.2s/%s.0", dir, hex, hex);
	CHECK(access(path, F_OK) == 0);
	snprintf(alias, sizeof(alias), "%s/fifo", dir);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(mkfifo(path, 0600), 0);
	CHECK_INT(link(path, alias), 0);
	pthread_t th;
	pthread_create(&th, NULL, pinned_reader, &p);
	usleep(200000);                      /* pinned, blocked in open() */
	CHECK_INT(unlink(path), 0);          /* the block is gone */
	CHECK_INT((int)block_cache_read(bc, &p.k, 0, BS, b, 0, BS), -ENOENT); /* ours to fetch */
	block_cache_fill(bc, &p.k, 0, data, BS); /* cannot store */
	int w = open(alias, O_WRONLY);       /* the pinned reader's open() returns */
	CHECK(w >= 0);
	if (w >= 0)
		close(w);
	pthread_join(th, NULL);
	CHECK_INT((int)p.rc, -ENOENT);      /* it fetches the block itself */
	block_cache_unclaim(bc, &p.k, 0);
	unlink(alias);
	block_cache_free(bc);
}

/* Out of file descriptors: a read fails with EMFILE and the block stays
 * (it was taken for damaged and deleted). */
static void test_out_of_descriptors_keeps_blocks(void)
{
	struct swiftfs_bc_key k;
	char buf[BS], want[BS];
	struct swiftfs_block_cache *bc = open_cache(100 * BS);
	block_cache_key(bc, "/v1/AUTH_a", "c", "fd", "etag", BS, &k);
	CHECK_INT(get_block(bc, &k, 0, buf, NULL), 0);
	struct rlimit old, low;
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
	/* every descriptor up to the limit in use: the next open fails */
	low.rlim_cur = low.rlim_max = old.rlim_max;
	low.rlim_cur = 64;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fds[64], nfd = 0;
	while (nfd < 64 && (fds[nfd] = open("/dev/null", O_RDONLY)) >= 0)
		nfd++;
	CHECK_INT((int)block_cache_read(bc, &k, 0, BS, buf, 0, BS), -EMFILE);
	while (nfd > 0)
		close(fds[--nfd]);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
	int fetched = 0;
	CHECK_INT(get_block(bc, &k, 0, buf, &fetched), 0);
	CHECK_INT(fetched, 0);
	fill_pattern(want, BS, 0);
	CHECK(memcmp(buf, want, BS) == 0);
	block_cache_free(bc);
}

/* Fills under way (.tmp.<pid>.<n>) when a cache opens: a dead daemon's
 * go at once (a restart within the minute), a live one's stay. */
static void test_leftover_fills_of_a_dead_daemon(void)
{
	struct swiftfs_block_cache *bc = open_cache(100 * BS);
	block_cache_free(bc);
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	CHECK(child > 0 && waitpid(child, NULL, 0) == child);
	char dead[600], live[600];
	snprintf(dead, sizeof(dead), "%s/00", dir);
	mkdir(dead, 0700);
	snprintf(dead, sizeof(dead), "%s/00/.tmp.%d.1", dir, (int)child);
	snprintf(live, sizeof(live), "%s/00/.tmp.%d.1", dir, (int)getpid());
	char fresh[600];
	snprintf(fresh, sizeof(fresh), "%s/00/.tmp.%d.2", dir, (int)child);
	const char *files[] = { dead, live, fresh };
	for (int i = 0; i < 3; i++) {
		int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0 && write(fd, "partial", 7) == 7);
		close(fd);
	}
	/* 10 s old; a fill of a pid gone but seconds old might be a
	 * daemon's in another pid namespace: kept */
	struct timespec old[2] = { { time(NULL) - 10, 0 }, { time(NULL) - 10, 0 } };
	CHECK(utimensat(AT_FDCWD, dead, old, 0) == 0);
	CHECK(utimensat(AT_FDCWD, live, old, 0) == 0);
	bc = open_cache(100 * BS);
	CHECK(access(dead, F_OK) != 0);
	CHECK(access(live, F_OK) == 0);
	CHECK(access(fresh, F_OK) == 0);
	block_cache_free(bc);
	unlink(live);
	unlink(fresh);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/swiftfs-test-bc-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	strcat(dir, "/blocks");
	test_basic_and_persistence();
	test_damaged_blocks();
	test_bound();
	test_threads_share_fetches();
	test_big_blocks_checked_in_pieces();
	test_refetch_while_pinned_and_not_stored();
	test_out_of_descriptors_keeps_blocks();
	test_leftover_fills_of_a_dead_daemon();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(dir) - 7), dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("%d checks, %d failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}
