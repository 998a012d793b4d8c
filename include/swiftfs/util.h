/* Small helpers shared by every module: clocks, number parsing with unit
 * suffixes, a growable byte buffer, and URL percent-encoding. */
#ifndef SWIFTFS_UTIL_H
#define SWIFTFS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic seconds, for expiry times and deadlines. */
double util_now(void);
void util_sleep(double seconds);

/* "4096", "64K", "1.5M", "2G", "1T" (powers of 1024; case-insensitive,
 * an optional trailing "B"/"iB"). 0 on success, -EINVAL when malformed. */
int util_parse_size(const char *s, uint64_t *out);
/* fsync a folder: the creation, rename or removal of a file in it
 * survives a power loss. 0 or -errno. */
int util_fsync_dir(const char *dir);
/* A non-negative decimal number of seconds. */
int util_parse_seconds(const char *s, double *out);
/* An unsigned integer in base 8 (leading 0), 10 or 16. */
int util_parse_uint(const char *s, unsigned long *out);

/* Growable buffer. len never exceeds cap_limit when that is non-zero. */
struct swiftfs_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit; /* 0: unlimited */
};
/* 0, -ENOMEM, or -EOVERFLOW when the limit would be passed. */
int buf_append(struct swiftfs_buf *b, const void *p, size_t n);
int buf_printf(struct swiftfs_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* NUL-terminates (not counted in len). */
int buf_terminate(struct swiftfs_buf *b);
void buf_free(struct swiftfs_buf *b);

/* Percent-encode s for a URL path: unreserved characters and '/' (when
 * keep_slash) pass, every other byte becomes %XX. Returns malloc'd string
 * or NULL on allocation failure. */
char *util_url_encode(const char *s, bool keep_slash);

/* Decode %XX escapes (a malformed escape is kept as it is). malloc'd. */
char *util_url_decode(const char *s);

/* Parse an RFC 1123 / ISO 8601 "2024-05-01T12:34:56.123456" (UTC) time.
 * 0 on success. */
int util_parse_iso_time(const char *s, struct timespec *out);
/* Parse a float seconds string ("1700000000.123456") into a timespec. */
int util_parse_float_time(const char *s, struct timespec *out);

/* strdup that treats NULL as NULL. */
char *util_strdup0(const char *s);
/* p made absolute against the working folder (the daemon later works
 * from /); NULL stays NULL. 0 or -errno. */
int util_abs_path(const char *p, char **out);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void util_hex(const unsigned char *p, size_t n, char *out);
/* "major:minor" of the file system mounted on mountpoint (the newest
 * mount there), from /proc/self/mountinfo: no stat of the mount itself,
 * which would wait on a FUSE daemon not serving yet. */
int util_mount_dev(const char *mountpoint, char *majmin, size_t len);
/* The kernel's read-ahead for the mount (its bdi's read_ahead_kb).
 * Needs root; -errno otherwise. */
int util_set_read_ahead(const char *mountpoint, uint64_t bytes);

#endif
