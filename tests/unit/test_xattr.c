/* xattr: name classification, the reversible name and value encodings,
 * /info limits, limit checks and TempURL signatures. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>

#include "swiftfs/xattr.h"

static void name_roundtrip(const char *rest, const char *want_enc)
{
	char *e = xattr_encode_name(rest);
	CHECK_STR(e, want_enc);
	char *d = e ? xattr_decode_name(e) : NULL;
	CHECK_STR(d, rest);
	free(e);
	free(d);
}

static void value_roundtrip(const char *v, size_t len, const char *want_enc)
{
	char *e = NULL, *d = NULL;
	size_t dl = 0;
	CHECK_INT(xattr_encode_value(v, len, &e), 0);
	CHECK_STR(e, want_enc);
	CHECK_INT(xattr_decode_value(e, &d, &dl), 0);
	CHECK_INT(dl, len);
	CHECK(d && memcmp(d, v, len) == 0);
	free(e);
	free(d);
}

int main(void)
{
	const char *rest;
	const struct swiftfs_xname *x;

	/* classification */
	CHECK_INT(xattr_classify("security.selinux", &rest, &x), XK_OTHER_NS);
	CHECK_INT(xattr_classify("trusted.x", &rest, &x), XK_OTHER_NS);
	CHECK_INT(xattr_classify("system.posix_acl_access", &rest, &x), XK_OTHER_NS);
	CHECK_INT(xattr_classify("user.swift.meta.Color", &rest, &x), XK_META);
	CHECK_STR(rest, "Color");
	CHECK_INT(xattr_classify("user.swift.etag", &rest, &x), XK_ETAG);
	CHECK(x && x->flags & XF_RO);
	CHECK_STR(x->header, "ETag");
	CHECK_INT(xattr_classify("user.swift.read_acl", &rest, &x), XK_READ_ACL);
	CHECK(x && (x->flags & XF_CONTAINER) && !(x->flags & XF_OBJECT));
	CHECK_INT(xattr_classify("user.swift.nonsense", &rest, &x), XK_UNKNOWN_SWIFT);
	CHECK_INT(xattr_classify("user.xdg.origin.url", &rest, &x), XK_GENERIC);
	CHECK_STR(rest, "xdg.origin.url");
	CHECK_INT(xattr_classify("user.swiftish", &rest, &x), XK_GENERIC);
	size_t n;
	const struct swiftfs_xname *all = xattr_names(&n);
	CHECK(n >= 20);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(xattr_classify(all[i].name, &rest, &x), all[i].kind);

	/* metadata names */
	CHECK(xattr_meta_name_ok("Color"));
	CHECK(xattr_meta_name_ok("a-b_c.d"));
	CHECK(!xattr_meta_name_ok(""));
	CHECK(!xattr_meta_name_ok("a b"));
	CHECK(!xattr_meta_name_ok("a:b"));
	CHECK(!xattr_meta_name_ok("caf\xc3\xa9"));
	CHECK(xattr_meta_reserved("mtime"));
	CHECK(xattr_meta_reserved("MODE"));
	CHECK(xattr_meta_reserved("Symlink-Target"));
	CHECK(xattr_meta_reserved("Symlink_Target")); /* goes out as Symlink-Target */
	CHECK(xattr_meta_reserved("Xattr-foo"));
	CHECK(xattr_meta_reserved("xattr_foo"));
	CHECK(!xattr_meta_reserved("Xattr"));
	CHECK(!xattr_meta_reserved("Color"));
	CHECK(xattr_container_meta_reserved("Temp-Url-Key"));
	CHECK(xattr_container_meta_reserved("temp_url_key_2"));
	CHECK(xattr_container_meta_reserved("Quota-Bytes"));
	CHECK(!xattr_container_meta_reserved("Color"));

	/* name encoding: reversible, and case/underscore-proof */
	name_roundtrip("xdg.origin.url", "xdg.origin.url");
	name_roundtrip("Foo_Bar", "%46oo%5F%42ar");
	name_roundtrip("a-b", "a-b");
	name_roundtrip("100%", "100%25");
	name_roundtrip("caf\xc3\xa9 x", "caf%C3%A9%20x");
	/* Swift title-cases header names: decoding ignores case */
	char *d = xattr_decode_name("%46Oo%5f%42Ar");
	CHECK_STR(d, "Foo_Bar");
	free(d);
	d = xattr_decode_name("Xdg.Origin.Url");
	CHECK_STR(d, "xdg.origin.url");
	free(d);
	CHECK(xattr_decode_name("%4") == NULL);
	CHECK(xattr_decode_name("%zz") == NULL);
	CHECK(xattr_decode_name("%00") == NULL);
	CHECK(xattr_decode_name("a b") == NULL);
	CHECK(xattr_decode_name("") == NULL);

	/* values */
	value_roundtrip("hello world", 11, "hello world");
	value_roundtrip("caf\xc3\xa9", 5, "caf\xc3\xa9");
	value_roundtrip("", 0, "b64:");
	value_roundtrip(" lead", 5, "b64:IGxlYWQ=");
	value_roundtrip("trail\t", 6, "b64:dHJhaWwJ");
	value_roundtrip("a\nb", 3, "b64:YQpi");
	value_roundtrip("\x00\x01\xff", 3, "b64:AAH/");
	value_roundtrip("b64:x", 5, "b64:YjY0Ong=");
	value_roundtrip("\xc3", 1, "b64:ww==");          /* truncated UTF-8 */
	value_roundtrip("\xed\xa0\x80", 3, "b64:7aCA");  /* a surrogate */
	char *v = NULL;
	size_t vl;
	CHECK_INT(xattr_decode_value("b64:abc", &v, &vl), -EINVAL);
	CHECK_INT(xattr_decode_value("b64:!!!!", &v, &vl), -EINVAL);
	CHECK(!xattr_value_plain("", 0));
	CHECK(xattr_value_plain("x y", 3));
	CHECK(!xattr_value_plain("x\x7f", 2));

	/* /info */
	struct swiftfs_xinfo xi;
	CHECK_INT(xattr_info_parse("not json", &xi), -EINVAL);
	CHECK_INT(xi.max_value, 256);
	CHECK_STR(xi.digest, "sha256");
	CHECK_INT(xattr_info_parse("{\"swift\": {\"max_meta_name_length\": 64, "
				   "\"max_meta_value_length\": 100, \"max_meta_count\": 5, "
				   "\"max_meta_overall_size\": 300}, \"tempurl\": "
				   "{\"allowed_digests\": [\"sha1\", \"sha256\"]}}", &xi), 0);
	CHECK_INT(xi.max_name, 64);
	CHECK_INT(xi.max_value, 100);
	CHECK_INT(xi.max_count, 5);
	CHECK_INT(xi.max_overall, 300);
	CHECK(xi.tempurl);
	CHECK_STR(xi.digest, "sha256");
	CHECK_INT(xattr_info_parse("{\"tempurl\": {\"allowed_digests\": [\"sha1\", \"sha512\", "
				   "\"sha256\"]}}", &xi), 0);
	CHECK_STR(xi.digest, "sha512");
	CHECK_INT(xi.max_count, 90);
	CHECK_INT(xattr_info_parse("{\"tempurl\": {\"allowed_digests\": [\"sha1\"]}}", &xi), 0);
	CHECK_STR(xi.digest, "sha1");
	CHECK_INT(xattr_info_parse("{\"swift\": {}}", &xi), 0);
	CHECK(!xi.tempurl);
	CHECK(!xi.versioning && !xi.legacy_versions);
	CHECK_INT(xattr_info_parse("{\"object_versioning\": {}, \"versioned_writes\": "
				   "{\"allowed_flags\": [\"x-versions-location\"]}}", &xi), 0);
	CHECK(xi.versioning && xi.legacy_versions);
	CHECK_INT(xattr_info_parse("not json", &xi), -EINVAL);
	CHECK(xi.versioning && xi.legacy_versions); /* not known: allowed */

	/* limits */
	xattr_info_default(&xi);
	xi.max_count = 2;
	xi.max_overall = 20;
	const char *nm[] = { "Abc", "Defg", "H" };
	const char *vv[] = { "1234", "5678", "9" };
	CHECK_INT(xattr_check_limits(&xi, nm, vv, 2), 0);
	CHECK_INT(xattr_check_limits(&xi, nm, vv, 3), -ENOSPC);
	xi.max_count = 10;
	xi.max_overall = 14;
	CHECK_INT(xattr_check_limits(&xi, nm, vv, 2), -ENOSPC);
	xi.max_overall = 4096;
	xi.max_value = 3;
	CHECK_INT(xattr_check_limits(&xi, nm, vv, 2), -E2BIG);
	xi.max_value = 256;
	xi.max_name = 3;
	CHECK_INT(xattr_check_limits(&xi, nm, vv, 2), -ERANGE);

	/* TempURL signatures: vectors from Python's hmac module */
	char sig[160];
	const char *path = "/v1/AUTH_test/c/a b.txt";
	CHECK_INT(xattr_tempurl_sign("sha1", "k3y", "GET", 1700000000, path, sig, sizeof(sig)), 0);
	CHECK_STR(sig, "58c9be57e148d648f90f4dfcf2ef90655c19d65e");
	CHECK_INT(xattr_tempurl_sign("sha256", "k3y", "GET", 1700000000, path, sig, sizeof(sig)), 0);
	CHECK_STR(sig, "96cf6e14e6726f3bed52cf99539c2de2cb917e35767bdc30ea28d3110b83c34c");
	CHECK_INT(xattr_tempurl_sign("sha512", "k3y", "GET", 1700000000, path, sig, sizeof(sig)), 0);
	CHECK_STR(sig, "c6ead0f2911566cd4f823f3cf8656bbb4b14894dc4ec990d9d3e573d399ec60c"
		       "f86dde2e33c2c4f1dca598b63e2c2f7cbe435f6bd051062099c84f003ee85ac7");
	CHECK_INT(xattr_tempurl_sign("md5", "k3y", "GET", 1, path, sig, sizeof(sig)), -EINVAL);
	CHECK_INT(xattr_tempurl_sign("sha512", "k3y", "GET", 1, path, sig, 64), -EINVAL);

	CHECK_DONE();
}
