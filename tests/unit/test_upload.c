/* upload: MD5 of a file range, JSON string escaping for manifests,
 * content types from names. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "swiftfs/upload.h"
#include "swiftfs/util.h"

int main(void)
{
	char path[] = "/tmp/swiftfs-md5-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "hello world", 11) == 11);
	char hex[33];
	CHECK_INT(upload_md5_fd(fd, 0, 11, hex), 0);
	CHECK_STR(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
	CHECK_INT(upload_md5_fd(fd, 6, 5, hex), 0);  /* "world" */
	CHECK_STR(hex, "7d793037a0760186574b0282f2f435e7");
	CHECK_INT(upload_md5_fd(fd, 0, 0, hex), 0);
	CHECK_STR(hex, "d41d8cd98f00b204e9800998ecf8427e");
	CHECK(upload_md5_fd(fd, 5, 100, hex) < 0);   /* past the end */
	close(fd);
	unlink(path);

	struct swiftfs_buf b = { 0 };
	CHECK_INT(upload_json_string(&b, "/c_segments/a \"q\"\\\n\x01/\xc3\xa9"), 0);
	CHECK_STR(b.data, "\"/c_segments/a \\\"q\\\"\\\\\\u000a\\u0001/\xc3\xa9\"");
	buf_free(&b);

	CHECK_STR(upload_guess_type("a/b/notes.txt"), "text/plain");
	CHECK_STR(upload_guess_type("data.JSON"), "application/json");
	CHECK_STR(upload_guess_type("arr/.zarray"), "application/json");
	CHECK_STR(upload_guess_type("0.0.1"), "application/octet-stream");
	CHECK_STR(upload_guess_type("noext"), "application/octet-stream");
	CHECK_STR(upload_guess_type("dir.d/file"), "application/octet-stream");
	CHECK_STR(upload_guess_type("photo.png"), "image/png");
	CHECK_DONE();
}
