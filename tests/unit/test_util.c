/* util: sizes, seconds, URL encoding, time parsing, buffers. */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "swiftfs/log.h"
#include "swiftfs/util.h"

/* Secrets in debug lines: a header's value is masked to the end of its
 * line (a TempURL key may hold spaces and '&'); a URL parameter's to '&'. */
static void test_redact(void)
{
	char b[512];
	snprintf(b, sizeof(b), "X-Auth-Token: AUTH_tk0123\r\n"
			       "X-Container-Meta-Temp-URL-Key: correct horse&battery staple\r\n"
			       "GET /v1/a/c/o?temp_url_sig=abc123&temp_url_expires=99 HTTP/1.1\r\n");
	log_redact(b, strlen(b));
	CHECK(strstr(b, "AUTH_tk0123") == NULL);
	CHECK(strstr(b, "horse") == NULL && strstr(b, "staple") == NULL);
	CHECK(strstr(b, "abc123") == NULL);
	CHECK(strstr(b, "temp_url_expires=99") != NULL); /* not a secret */
}

int main(void)
{
	uint64_t v;
	test_redact();
	CHECK_INT(util_parse_size("4096", &v), 0);
	CHECK_INT(v, 4096);
	CHECK_INT(util_parse_size("64K", &v), 0);
	CHECK_INT(v, 65536);
	CHECK_INT(util_parse_size("1.5M", &v), 0);
	CHECK_INT(v, 1572864);
	CHECK_INT(util_parse_size("2g", &v), 0);
	CHECK_INT(v, 2147483648LL);
	CHECK_INT(util_parse_size("8MiB", &v), 0);
	CHECK_INT(v, 8 << 20);
	CHECK_INT(util_parse_size("", &v), -EINVAL);
	CHECK_INT(util_parse_size("abc", &v), -EINVAL);
	CHECK_INT(util_parse_size("10X", &v), -EINVAL);
	CHECK_INT(util_parse_size("-1", &v), -EINVAL);

	double d;
	CHECK_INT(util_parse_seconds("2.5", &d), 0);
	CHECK(d == 2.5);
	CHECK_INT(util_parse_seconds("x", &d), -EINVAL);
	CHECK_INT(util_parse_seconds("-3", &d), -EINVAL);

	char *e = util_url_encode("a b/%?#+&;'\"\xc3\xa9~.-_", true);
	CHECK_STR(e, "a%20b/%25%3F%23%2B%26%3B%27%22%C3%A9~.-_");
	free(e);
	e = util_url_encode("a/b", false);
	CHECK_STR(e, "a%2Fb");
	free(e);
	/* decode is the inverse, and keeps malformed escapes */
	e = util_url_decode("a%20b/%25%3F%C3%A9%zz%4");
	CHECK_STR(e, "a b/%?\xc3\xa9%zz%4");
	free(e);

	struct timespec ts;
	CHECK_INT(util_parse_iso_time("2024-05-01T12:34:56.123456", &ts), 0);
	CHECK_INT(ts.tv_sec, 1714566896);
	CHECK_INT(ts.tv_nsec, 123456000);
	CHECK_INT(util_parse_float_time("1700000000.25", &ts), 0);
	CHECK_INT(ts.tv_sec, 1700000000);
	CHECK_INT(ts.tv_nsec, 250000000);
	CHECK_INT(util_parse_float_time("1700000000", &ts), 0);
	CHECK_INT(ts.tv_nsec, 0);
	CHECK_INT(util_parse_float_time("12abc", &ts), -EINVAL);
	CHECK_INT(util_parse_float_time(NULL, &ts), -EINVAL);

	struct swiftfs_buf b = { .limit = 8 };
	CHECK_INT(buf_append(&b, "1234", 4), 0);
	CHECK_INT(buf_printf(&b, "%d", 5678), 0);
	CHECK_STR(b.data, "12345678");
	CHECK_INT(buf_append(&b, "9", 1), -EOVERFLOW);
	buf_free(&b);

	/* the device of a mount point, from /proc/self/mountinfo */
	struct stat st;
	char dev[32], want[32];
	CHECK_INT(stat("/proc", &st), 0);
	snprintf(want, sizeof(want), "%u:%u", major(st.st_dev), minor(st.st_dev));
	CHECK_INT(util_mount_dev("/proc", dev, sizeof(dev)), 0);
	CHECK_STR(dev, want);
	CHECK_INT(util_mount_dev("/no/such/mount point", dev, sizeof(dev)), -ENOENT);
	CHECK_DONE();
}
