/* swift_errno: the one status/curl -> errno mapping. */
#include "check.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>

#include "swiftfs/swift_client.h"

int main(void)
{
	CHECK_INT(swift_errno(200, CURLE_OK, "GET"), 0);
	CHECK_INT(swift_errno(204, CURLE_OK, "HEAD"), 0);
	CHECK_INT(swift_errno(206, CURLE_OK, "GET"), 0);
	CHECK_INT(swift_errno(404, CURLE_OK, "HEAD"), -ENOENT);
	CHECK_INT(swift_errno(401, CURLE_OK, "GET"), -EACCES);
	CHECK_INT(swift_errno(403, CURLE_OK, "GET"), -EACCES);
	CHECK_INT(swift_errno(409, CURLE_OK, "DELETE"), -ENOTEMPTY);
	CHECK_INT(swift_errno(409, CURLE_OK, "PUT"), -EBUSY);
	CHECK_INT(swift_errno(412, CURLE_OK, "GET"), -ESTALE);
	CHECK_INT(swift_errno(413, CURLE_OK, "PUT"), -EFBIG);
	CHECK_INT(swift_errno(416, CURLE_OK, "GET"), -ERANGE);
	CHECK_INT(swift_errno(507, CURLE_OK, "PUT"), -ENOSPC);
	CHECK_INT(swift_errno(500, CURLE_OK, "GET"), -EIO);
	CHECK_INT(swift_errno(503, CURLE_OK, "GET"), -EIO);
	CHECK_INT(swift_errno(0, CURLE_COULDNT_CONNECT, "GET"), -EIO);
	CHECK_INT(swift_errno(0, CURLE_OPERATION_TIMEDOUT, "GET"), -ETIMEDOUT);
	CHECK_INT(swift_errno(0, CURLE_OUT_OF_MEMORY, "GET"), -ENOMEM);
	/* never ENOENT for a server or auth failure */
	for (long s = 400; s < 600; s++)
		if (s != 404 && s != 410)
			CHECK(swift_errno(s, CURLE_OK, "GET") != -ENOENT);
	/* /info beside the storage URL's first /v1 segment */
	static const char *const info[][2] = {
		{ "http://127.0.0.1:8080/v1/AUTH_test", "http://127.0.0.1:8080/info" },
		{ "http://h/v1/AUTH_test/", "http://h/info" },
		{ "https://h/swift/v1", "https://h/swift/info" },          /* RGW */
		{ "https://h/swift/v1/", "https://h/swift/info" },
		{ "https://h/object-store/v1/AUTH_p", "https://h/object-store/info" },
		{ "https://h/v1x/v1/AUTH_v1", "https://h/v1x/info" },
		{ "https://h/v1/v1", "https://h/info" },          /* an account named v1 */
		{ "http://h:1/", "http://h:1/info" },
		{ "http://h", "http://h/info" },
	};
	for (size_t i = 0; i < sizeof(info) / sizeof(info[0]); i++) {
		char *u = swift_info_url(info[i][0]);
		CHECK_STR(u, info[i][1]);
		free(u);
	}
	CHECK_DONE();
}
