/* Helpers without a module of their own. Nothing here does I/O. */
#include "swiftfs/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double util_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void util_sleep(double seconds)
{
	struct timespec ts;
	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int util_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

int util_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	if (!s || !*s || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = 1ULL << 10; end++; break;
	case 'M': mult = 1ULL << 20; end++; break;
	case 'G': mult = 1ULL << 30; end++; break;
	case 'T': mult = 1ULL << 40; end++; break;
	default: break;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0')
		return -EINVAL;
	v *= (double)mult;
	if (v >= 18446744073709551615.0)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int util_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	/* at most 10^9 s (32 years): no inf, and nothing a (long) of
	 * milliseconds cannot hold */
	if (errno || end == s || *end != '\0' || v < 0 || v != v || v > 1e9)
		return -EINVAL;
	*out = v;
	return 0;
}

int util_parse_uint(const char *s, unsigned long *out)
{
	char *end;
	unsigned long v;
	if (!s || !*s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int buf_reserve(struct swiftfs_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (b->limit && b->len + extra > b->limit)
		return -EOVERFLOW;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct swiftfs_buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_printf(struct swiftfs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	int rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_terminate(struct swiftfs_buf *b)
{
	int rc = buf_reserve(b, 0);
	if (rc)
		return rc;
	b->data[b->len] = '\0';
	return 0;
}

void buf_free(struct swiftfs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *util_url_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1);
	char *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *util_url_decode(const char *s)
{
	char *out = malloc(strlen(s) + 1);
	char *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		int hi, lo;
		if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* Decimal digits after a '.' as nanoseconds (extra digits ignored). */
static char *parse_fraction(char *p, long *ns)
{
	int digits = 0;
	long frac = 0;
	for (; isdigit((unsigned char)*p); p++) {
		if (digits < 9) {
			frac = frac * 10 + (*p - '0');
			digits++;
		}
	}
	for (; digits < 9; digits++)
		frac *= 10;
	*ns = frac;
	return p;
}

int util_parse_iso_time(const char *s, struct timespec *out)
{
	struct tm tm;
	char *end;
	long frac = 0;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == '.')
		end = parse_fraction(end + 1, &frac);
	out->tv_sec = timegm(&tm);
	out->tv_nsec = frac;
	return 0;
}

int util_parse_float_time(const char *s, struct timespec *out)
{
	char *end;
	long long sec;
	long frac = 0;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	sec = strtoll(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == '.')
		end = parse_fraction(end + 1, &frac);
	if (*end != '\0')
		return -EINVAL;
	out->tv_sec = (time_t)sec;
	out->tv_nsec = sec < 0 ? -frac : frac;
	if (out->tv_nsec < 0) {
		out->tv_sec -= 1;
		out->tv_nsec += 1000000000L;
	}
	return 0;
}

char *util_strdup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

int util_abs_path(const char *p, char **out)
{
	char cwd[PATH_MAX];
	*out = NULL;
	if (!p)
		return 0;
	if (!*p || p[0] == '/') {
		*out = strdup(p);
		return *out ? 0 : -ENOMEM;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (asprintf(out, "%s/%s", cwd, p) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

void util_hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape_mountinfo(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int util_mount_dev(const char *mountpoint, char *majmin, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char dev[32], mp[PATH_MAX];
		/* id parent maj:min root mountpoint ... (the last match wins:
		 * the newest mount over that path) */
		if (sscanf(line, "%*s %*s %31s %*s %4095s", dev, mp) != 2)
			continue;
		unescape_mountinfo(mp);
		if (strcmp(mp, mountpoint) == 0) {
			snprintf(majmin, len, "%s", dev);
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

int util_set_read_ahead(const char *mountpoint, uint64_t bytes)
{
	char dev[32], path[96];
	int rc = util_mount_dev(mountpoint, dev, sizeof(dev));
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%llu\n", (unsigned long long)(bytes / 1024));
	rc = fclose(f) ? -errno : 0;
	return rc;
}
