/* staging: extents merge, gaps, truncate, reads of holes; checked against
 * a reference model under a seeded random sequence of operations. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "swiftfs/staging.h"

#define MAXSZ 4096

int main(void)
{
	struct swiftfs_staging *s;
	struct swiftfs_extent g;
	CHECK_INT(staging_create("/tmp", &s), 0);
	CHECK_INT(staging_write(s, "abc", 3, 10), 3);
	CHECK_INT(s->size, 13);
	/* writing past the end makes the hole [0,10) valid zeros */
	CHECK_INT(staging_first_gap(s, 0, 13, &g), 0);
	staging_free(s, 0);

	/* an existing 100-byte object: nothing valid until fetched */
	CHECK_INT(staging_create("/tmp", &s), 0);
	CHECK_INT(staging_truncate(s, 0), 0);
	s->size = 100;
	CHECK_INT(staging_first_gap(s, 0, 100, &g), 1);
	CHECK_INT(g.off, 0);
	CHECK_INT(g.end, 100);
	CHECK_INT(staging_write(s, "xx", 2, 40), 2);
	CHECK_INT(staging_first_gap(s, 30, 20, &g), 1);
	CHECK_INT(g.off, 30);
	CHECK_INT(g.end, 40);
	CHECK_INT(staging_first_gap(s, 40, 20, &g), 1);
	CHECK_INT(g.off, 42);
	CHECK_INT(g.end, 60);
	CHECK_INT(staging_fill(s, "0123456789", 10, 30), 0);
	CHECK_INT(staging_first_gap(s, 30, 12, &g), 0);
	CHECK_INT(s->nvalid, 1);
	CHECK_INT(staging_truncate(s, 35), 0);
	CHECK_INT(staging_valid_bytes(s), 5);
	CHECK_INT(staging_truncate(s, 50), 0);
	CHECK_INT(staging_first_gap(s, 30, 20, &g), 0);
	CHECK_INT(staging_first_gap(s, 0, 50, &g), 1);
	CHECK_INT(g.end, 30);
	char out[20];
	CHECK_INT(staging_read(s, out, 20, 30), 20);
	CHECK(memcmp(out, "01234", 5) == 0);
	for (int i = 5; i < 20; i++)
		CHECK_INT(out[i], 0);
	staging_free(s, 0);

	/* model check: random writes, fills and truncates of an object */
	unsigned seed = 12345;
	srand(seed);
	for (int round = 0; round < 200; round++) {
		static unsigned char model[MAXSZ], valid[MAXSZ];
		uint64_t size = (uint64_t)(rand() % 1000);
		CHECK_INT(staging_create("/tmp", &s), 0);
		s->size = size;
		memset(valid, 0, sizeof(valid));
		memset(model, 0, sizeof(model));
		for (int op = 0; op < 30; op++) {
			uint64_t off = (uint64_t)(rand() % 1200), len = (uint64_t)(rand() % 300);
			unsigned char data[300];
			for (uint64_t k = 0; k < len; k++)
				data[k] = (unsigned char)rand();
			switch (rand() % 3) {
			case 0:
				if (off + len >= MAXSZ)
					break;
				staging_write(s, data, len, off);
				if (off > size)
					for (uint64_t k = size; k < off; k++)
						valid[k] = 1, model[k] = 0;
				for (uint64_t k = 0; k < len; k++)
					valid[off + k] = 1, model[off + k] = data[k];
				if (off + len > size)
					size = off + len;
				break;
			case 1:
				staging_fill(s, data, len, off);
				for (uint64_t k = 0; k < len && off + k < size; k++)
					valid[off + k] = 1, model[off + k] = data[k];
				break;
			default: {
				uint64_t ns = (uint64_t)(rand() % 1500);
				staging_truncate(s, ns);
				if (ns < size) {
					for (uint64_t k = ns; k < MAXSZ; k++)
						valid[k] = 0, model[k] = 0;
				} else {
					for (uint64_t k = size; k < ns; k++)
						valid[k] = 1, model[k] = 0;
				}
				size = ns;
			}
			}
			CHECK_INT(s->size, size);
		}
		/* every gap reported is exactly the non-valid bytes */
		uint64_t pos = 0;
		while (staging_first_gap(s, pos, size - pos, &g)) {
			for (uint64_t k = pos; k < g.off; k++)
				CHECK(valid[k]);
			for (uint64_t k = g.off; k < g.end; k++)
				CHECK(!valid[k]);
			pos = g.end;
		}
		for (uint64_t k = pos; k < size; k++)
			CHECK(valid[k]);
		unsigned char buf[MAXSZ];
		ssize_t n = staging_read(s, buf, sizeof(buf), 0);
		CHECK_INT(n, (ssize_t)size);
		for (uint64_t k = 0; k < size; k++)
			if (valid[k] && buf[k] != model[k]) {
				fprintf(stderr, "seed %u round %d byte %llu\n", seed, round,
					(unsigned long long)k);
				CHECK(0);
				break;
			}
		staging_free(s, 0);
	}
	CHECK_DONE();
}
