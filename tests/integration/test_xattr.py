"""Extended attributes: Swift metadata, ACLs, quotas, expiry and TempURLs
through getxattr/setxattr/listxattr/removexattr, each checked from the
other side with python-swiftclient, the swift CLI or anonymous curl."""
import ctypes
import ctypes.util
import errno
import hashlib
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import conftest


def fetch(url, token=None):
    """(status, body) of a GET with no credentials unless token is given."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def curl_anon(url):
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
                       stdout=subprocess.PIPE, text=True, check=True)
    return int(p.stdout)


def err_of(fn, *a):
    with pytest.raises(OSError) as ei:
        fn(*a)
    return ei.value.errno


def swift_cli(swift, *args):
    return subprocess.run(["swift"] + list(args), check=True, stdout=subprocess.PIPE,
                          text=True, env=dict(os.environ, **swift.creds_env())).stdout


def raw_headers(conn, container, name):
    """Response headers of a HEAD exactly as sent (swiftclient unquotes
    header names)."""
    url, token = conn.get_auth()
    req = urllib.request.Request("%s/%s/%s" % (url, container, urllib.request.quote(name)),
                                 method="HEAD", headers={"X-Auth-Token": token})
    with urllib.request.urlopen(req, timeout=30) as r:
        return {k.lower(): v for k, v in r.getheaders()}


def put(conn, container, name, data=b"hello\n", **kw):
    conn.put_object(container, name, data, **kw)


def test_object_meta_both_ways(swift, container, conn, mount):
    put(conn, container, "a.txt", headers={"X-Object-Meta-Mtime": "1600000000.5"})
    m = mount(container)
    p = m.p("a.txt")
    # through the mount -> swift CLI and swiftclient
    os.setxattr(p, "user.swift.meta.Color", b"Blue")
    h = conn.head_object(container, "a.txt")
    assert h["x-object-meta-color"] == "Blue"
    assert h["x-object-meta-mtime"] == "1600000000.5"  # ours kept
    assert "Meta Color: Blue" in swift_cli(swift, "stat", container, "a.txt")
    # swift CLI -> through the mount (no cache on xattrs); the POST keeps Color
    swift_cli(swift, "post", "-m", "Shape:round", "-m", "Color:Blue", "-m",
              "Mtime:1600000000.5", container, "a.txt")
    assert os.getxattr(p, "user.swift.meta.Shape") == b"round"
    assert os.getxattr(p, "user.swift.meta.shape") == b"round"  # case-insensitive
    names = os.listxattr(p)
    assert "user.swift.meta.Color" in names and "user.swift.meta.Shape" in names
    # names come back as Swift spells them (README), and any spelling reaches them
    os.setxattr(p, "user.swift.meta.my_key", b"v")
    assert "user.swift.meta.My-Key" in os.listxattr(p)
    assert os.getxattr(p, "user.swift.meta.MY_KEY") == b"v"
    os.removexattr(p, "user.swift.meta.my_key")
    assert not [n for n in os.listxattr(p) if "key" in n.lower()]
    # swiftfs's own metadata is neither shown as meta.* nor writable
    assert not [n for n in names if n.lower() == "user.swift.meta.mtime"]
    assert err_of(os.setxattr, p, "user.swift.meta.Mtime", b"1") == errno.EPERM
    assert err_of(os.getxattr, p, "user.swift.meta.Mtime") == errno.ENODATA
    assert err_of(os.setxattr, p, "user.swift.meta.Xattr-foo", b"1") == errno.EPERM
    # a metadata value Swift cannot keep as it is is refused, not mangled
    assert err_of(os.setxattr, p, "user.swift.meta.Bad", b"a\nb") == errno.EINVAL
    assert err_of(os.setxattr, p, "user.swift.meta.Bad", b"") == errno.EINVAL
    assert err_of(os.setxattr, p, "user.swift.meta.a b", b"x") == errno.EINVAL
    # XATTR_CREATE / XATTR_REPLACE
    assert err_of(os.setxattr, p, "user.swift.meta.Color", b"Red",
                  os.XATTR_CREATE) == errno.EEXIST
    assert err_of(os.setxattr, p, "user.swift.meta.Nope", b"x",
                  os.XATTR_REPLACE) == errno.ENODATA
    os.setxattr(p, "user.swift.meta.Color", b"Red", os.XATTR_REPLACE)
    assert conn.head_object(container, "a.txt")["x-object-meta-color"] == "Red"
    # remove
    os.removexattr(p, "user.swift.meta.Color")
    h = conn.head_object(container, "a.txt")
    assert "x-object-meta-color" not in h
    assert h["x-object-meta-shape"] == "round"
    assert h["x-object-meta-mtime"] == "1600000000.5"
    assert err_of(os.removexattr, p, "user.swift.meta.Color") == errno.ENODATA
    assert err_of(os.getxattr, p, "user.swift.meta.Color") == errno.ENODATA
    # the data is untouched
    with open(p, "rb") as f:
        assert f.read() == b"hello\n"


def test_generic_user_xattrs_are_lossless(container, conn, mount):
    put(conn, container, "f")
    m = mount(container)
    p = m.p("f")
    cases = {
        "user.xdg.origin.url": b"https://example.com/x?y=1",
        "user.Foo_Bar": b"mixed case and underscore",
        "user.foo-bar": b"dash",
        "user.foo_bar": b"underscore, a different name",
        "user.caf\u00e9 %20": "caf\u00e9 value".encode(),
        "user.rsync.%stat": b"100644 0,0 0:0",
        "user.bin": bytes(range(256))[:100],
        "user.empty": b"",
        "user.blanks": b"  padded  ",
        "user.looks_encoded": b"b64:aGk=",
        "user.nl": b"line1\nline2\n",
    }
    for n, v in cases.items():
        os.setxattr(p, n, v)
    for n, v in cases.items():
        assert os.getxattr(p, n) == v, n
    names = set(os.listxattr(p))
    assert set(cases) <= names
    # nothing else but the object facts
    assert {n for n in names if not n.startswith("user.swift.")} == set(cases)
    # stored as X-Object-Meta-Xattr-<encoded>: visible to swift stat
    h = raw_headers(conn, container, "f")
    assert h["x-object-meta-xattr-xdg.origin.url"] == "https://example.com/x?y=1"
    assert h["x-object-meta-xattr-%46oo%5f%42ar"] == "mixed case and underscore"
    assert h["x-object-meta-xattr-empty"] == "b64:"
    # a fresh mount (no state) reads the same
    m2 = mount(container)
    for n, v in cases.items():
        assert os.getxattr(m2.p("f"), n) == v, n
    os.removexattr(p, "user.foo_bar")
    assert os.getxattr(p, "user.foo-bar") == b"dash"
    assert err_of(os.getxattr, p, "user.foo_bar") == errno.ENODATA
    # unknown user.swift.* names are ours: refused
    assert err_of(os.setxattr, p, "user.swift.nonsense", b"x") == errno.ENOTSUP
    assert err_of(os.getxattr, p, "user.swift.nonsense") == errno.ENODATA


def test_xattrs_set_while_a_file_is_written_survive_its_upload(container, conn, mount):
    """As `wget --xattr` does: create, set an xattr, write the body, close.
    The xattr's POST went to the data uploaded so far; the upload at
    close must keep it (it sent the metadata read at open). A refused
    setxattr uploads nothing first."""
    m = mount(container)
    fd = os.open(m.p("dl.bin"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"part one, ")
        with pytest.raises(OSError) as ei:
            os.setxattr(fd, "user.swift.etag", b"x")           # refused: read-only
        assert ei.value.errno == errno.EPERM
        with pytest.raises(Exception):
            conn.head_object(container, "dl.bin")               # nothing went up for it
        os.setxattr(fd, "user.xdg.origin.url", b"https://example.org/dl.bin")
        os.setxattr(fd, "user.swift.content_type", b"application/x-test")
        os.write(fd, b"part two")
    finally:
        os.close(fd)
    h, body = conn.get_object(container, "dl.bin")
    assert body == b"part one, part two"
    assert h["content-type"] == "application/x-test"
    assert os.getxattr(m.p("dl.bin"), "user.xdg.origin.url") == b"https://example.org/dl.bin"
    meta = {k: v for k, v in h.items() if k.startswith("x-object-meta-")}
    assert len(meta) >= 2, h       # the xattr's, and the mount's mtime


def test_getxattr_size_protocol(container, conn, mount):
    """size 0 asks for the length; a short buffer is ERANGE."""
    put(conn, container, "f")
    m = mount(container)
    os.setxattr(m.p("f"), "user.k", b"0123456789")
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    path = m.p("f").encode()
    assert libc.getxattr(path, b"user.k", None, 0) == 10
    buf = ctypes.create_string_buffer(4)
    assert libc.getxattr(path, b"user.k", buf, 4) == -1
    assert ctypes.get_errno() == errno.ERANGE
    need = libc.listxattr(path, None, 0)
    assert need > 0
    small = ctypes.create_string_buffer(3)
    assert libc.listxattr(path, small, 3) == -1
    assert ctypes.get_errno() == errno.ERANGE
    big = ctypes.create_string_buffer(need)
    assert libc.listxattr(path, big, need) == need


def test_limits_from_info(container, conn, mount):
    put(conn, container, "f")
    m = mount(container)
    p = m.p("f")
    os.setxattr(p, "user.v", b"x" * 256)  # max_meta_value_length
    assert err_of(os.setxattr, p, "user.v2", b"x" * 257) == errno.E2BIG
    # binary values are base64-encoded: the limit is on the stored form
    assert err_of(os.setxattr, p, "user.b", b"\x00" * 200) == errno.E2BIG
    assert err_of(os.setxattr, p, "user." + "n" * 130, b"x") == errno.ERANGE
    assert err_of(os.setxattr, p, "user.swift.meta." + "N" * 129, b"x") == errno.ERANGE
    assert "x-object-meta-xattr-v2" not in conn.head_object(container, "f")
    # The totals (4096 bytes, 90 items) are checked on the container: the
    # test Swift keeps object metadata in ext4 xattrs, which hold less than
    # 4 KiB (Swift answers 507 there; production clusters use XFS).
    r = m.path
    for i in range(16):  # 16 * (3 + 250) bytes: one more is past 4096
        os.setxattr(r, "user.swift.meta.K%02d" % i, b"v" * 250)
    assert err_of(os.setxattr, r, "user.swift.meta.K99", b"v" * 250) == errno.ENOSPC
    assert err_of(os.setxattr, r, "user.k99", b"v" * 250) == errno.ENOSPC
    h = conn.head_container(container)
    assert "x-container-meta-k15" in h and "x-container-meta-k99" not in h
    for i in range(16):
        os.removexattr(r, "user.swift.meta.K%02d" % i)
    for i in range(90):
        os.setxattr(r, "user.swift.meta.N%d" % i, b"1")
    assert err_of(os.setxattr, r, "user.swift.meta.Last", b"1") == errno.ENOSPC
    assert err_of(os.setxattr, r, "user.last", b"1") == errno.ENOSPC
    os.setxattr(r, "user.swift.meta.N0", b"2")  # replacing is not adding


def test_other_namespaces_not_supported(container, conn, mount):
    put(conn, container, "f")
    m = mount(container)
    for n in ("trusted.x", "security.x", "system.x"):
        assert err_of(os.setxattr, m.p("f"), n, b"1") in (errno.ENOTSUP, errno.EOPNOTSUPP), n
        assert err_of(os.getxattr, m.p("f"), n) in (errno.ENOTSUP, errno.ENODATA), n


def test_readonly_facts(container, conn, mount):
    data = b"some bytes\n"
    put(conn, container, "f", data)
    m = mount(container)
    p = m.p("f")
    h = conn.head_object(container, "f")
    assert os.getxattr(p, "user.swift.etag").decode() == hashlib.md5(data).hexdigest()
    assert os.getxattr(p, "user.swift.timestamp").decode() == h["x-timestamp"]
    for n in ("user.swift.etag", "user.swift.timestamp", "user.swift.manifest",
              "user.swift.version_id", "user.swift.symlink_target", "user.swift.tempurl"):
        assert err_of(os.setxattr, p, n, b"x") == errno.EPERM, n
    assert err_of(os.removexattr, p, "user.swift.etag") == errno.EPERM
    assert err_of(os.getxattr, p, "user.swift.manifest") == errno.ENODATA
    assert err_of(os.getxattr, p, "user.swift.version_id") == errno.ENODATA
    # container names do not apply to files
    assert err_of(os.getxattr, p, "user.swift.read_acl") == errno.ENODATA
    assert err_of(os.setxattr, p, "user.swift.read_acl", b".r:*") == errno.ENOTSUP


def test_content_type_and_delete_at(container, conn, mount):
    put(conn, container, "f", headers={"X-Object-Meta-Keep": "yes"})
    m = mount(container)
    p = m.p("f")
    os.setxattr(p, "user.swift.content_type", b"application/x-test")
    h = conn.head_object(container, "f")
    assert h["content-type"] == "application/x-test"
    assert h["x-object-meta-keep"] == "yes"
    assert os.getxattr(p, "user.swift.content_type") == b"application/x-test"
    conn.post_object(container, "f", headers={"Content-Type": "text/x-other",
                                              "X-Object-Meta-Keep": "yes"})
    assert os.getxattr(p, "user.swift.content_type") == b"text/x-other"
    assert err_of(os.removexattr, p, "user.swift.content_type") == errno.EPERM
    # expiry: set, read both ways, keep across other metadata changes, clear
    at = int(time.time()) + 3600
    os.setxattr(p, "user.swift.delete_at", str(at).encode())
    assert conn.head_object(container, "f")["x-delete-at"] == str(at)
    os.setxattr(p, "user.swift.meta.Other", b"1")  # a POST keeps the expiry
    h = conn.head_object(container, "f")
    assert h["x-delete-at"] == str(at) and h["content-type"] == "text/x-other"
    assert "user.swift.delete_at" not in os.listxattr(p)  # a setting: read by name
    # touch and chmod (their own POSTs) keep the expiry too
    os.utime(p, (1500000000, 1500000000))
    os.chmod(p, 0o600)
    h = conn.head_object(container, "f")
    assert h["x-delete-at"] == str(at) and h["x-object-meta-mode"] == "600"
    assert h["x-object-meta-mtime"].startswith("1500000000")
    conn.post_object(container, "f", headers={"X-Delete-At": str(at + 10),
                                              "Content-Type": "text/x-other"})
    assert os.getxattr(p, "user.swift.delete_at") == str(at + 10).encode()
    os.removexattr(p, "user.swift.delete_at")
    assert "x-delete-at" not in conn.head_object(container, "f")
    assert "user.swift.delete_at" not in os.listxattr(p)
    assert err_of(os.setxattr, p, "user.swift.delete_at", b"tomorrow") == errno.EINVAL
    # and expiry does delete: Swift answers 404 from X-Delete-At on
    os.setxattr(p, "user.swift.delete_at", str(int(time.time()) + 2).encode())
    time.sleep(3.5)
    with pytest.raises(conftest.swiftclient.ClientException) as ei:
        conn.get_object(container, "f")
    assert ei.value.http_status == 404


def test_large_objects_keep_manifest(swift, container, conn, mount, tmp_path):
    data = os.urandom(2 * 1024 * 1024 + 100)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    env = dict(os.environ, **swift.creds_env())
    subprocess.run(["swift", "upload", "-S", "1048576", "--object-name", "dlo.bin",
                    container, str(src)], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["swift", "upload", "--use-slo", "-S", "1048576", "--object-name",
                    "slo.bin", container, str(src)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    manifest = conn.head_object(container, "dlo.bin")["x-object-manifest"]
    m = mount(container)
    assert os.getxattr(m.p("dlo.bin"), "user.swift.manifest").decode() == "dlo:" + manifest
    slo = os.getxattr(m.p("slo.bin"), "user.swift.manifest").decode()
    assert slo.startswith("slo:%s_segments/slo.bin/" % container), slo
    assert "user.swift.manifest" not in os.listxattr(m.p("slo.bin"))
    for n in ("dlo.bin", "slo.bin"):
        os.setxattr(m.p(n), "user.swift.meta.Note", b"big")
        os.setxattr(m.p(n), "user.tag", b"x")
        h = conn.head_object(container, n)
        assert h["x-object-meta-note"] == "big"
        assert int(h["content-length"]) == len(data), n
        _, body = conn.get_object(container, n)
        assert body == data, n
    assert conn.head_object(container, "dlo.bin")["x-object-manifest"] == manifest
    assert conn.head_object(container, "slo.bin")["x-static-large-object"] == "True"
    os.removexattr(m.p("dlo.bin"), "user.tag")
    assert conn.head_object(container, "dlo.bin")["x-object-manifest"] == manifest


def test_tempurl(swift, container, conn, mount):
    data = b"temp url body\n"
    put(conn, container, "dir/t t.txt", data)
    m = mount(container, opts=["tempurl_ttl=3"])
    p = m.p("dir", "t t.txt")
    # no key anywhere: a clear errno
    assert err_of(os.getxattr, p, "user.swift.tempurl") == errno.ENOKEY
    os.setxattr(m.path, "user.swift.tempurl_key", b"s3cr3t-key")
    assert conn.head_container(container)["x-container-meta-temp-url-key"] == "s3cr3t-key"
    url = os.getxattr(p, "user.swift.tempurl").decode()
    assert "temp_url_sig=" in url and "temp_url_expires=" in url
    assert "s3cr3t-key" not in url
    # sha512 is the strongest digest this cluster allows
    sig = url.split("temp_url_sig=")[1].split("&")[0]
    assert len(sig) == 128
    assert fetch(url) == (200, data)
    assert curl_anon(url) == 200
    time.sleep(4)
    assert fetch(url)[0] == 401  # expired
    # not listed (computed on request), never logged
    assert "user.swift.tempurl" not in os.listxattr(p)
    sig2 = os.getxattr(p, "user.swift.tempurl").decode().split("temp_url_sig=")[1][:20]
    assert "s3cr3t-key" not in m.log() and sig[:20] not in m.log() and sig2 not in m.log()
    # the container key removed: the account's is used
    os.removexattr(m.path, "user.swift.tempurl_key")
    assert "x-container-meta-temp-url-key" not in conn.head_container(container)
    assert err_of(os.getxattr, p, "user.swift.tempurl") == errno.ENOKEY
    conn.post_account({"X-Account-Meta-Temp-URL-Key": "acct-key"})
    try:
        url = os.getxattr(p, "user.swift.tempurl").decode()
        assert fetch(url) == (200, data)
    finally:
        conn.post_account({"X-Remove-Account-Meta-Temp-URL-Key": "x"})


def test_secrets_never_logged_even_in_debug(container, conn, mount):
    put(conn, container, "f", b"x")
    m = mount(container, args=["-d"])
    os.setxattr(m.path, "user.swift.tempurl_key", b"NotForTheLog42")
    url = os.getxattr(m.p("f"), "user.swift.tempurl").decode()
    sig = url.split("temp_url_sig=")[1].split("&")[0]
    assert fetch(url) == (200, b"x")
    assert os.getxattr(m.path, "user.swift.tempurl_key") == b"NotForTheLog42"
    log = m.log()
    assert "curl" in log and "Temp-U" in log  # the debug log did show the headers
    assert "NotForTheLog42" not in log and sig[:16] not in log


def test_public_read_acl(swift, container, conn, mount):
    put(conn, container, "pub.txt", b"public\n")
    m = mount(container)
    url = "%s/v1/AUTH_test/%s/pub.txt" % (swift.url, container)
    assert curl_anon(url) == 401
    os.setxattr(m.path, "user.swift.read_acl", b".r:*,.rlistings")
    assert conn.head_container(container)["x-container-read"] == ".r:*,.rlistings"
    assert os.getxattr(m.path, "user.swift.read_acl") == b".r:*,.rlistings"
    assert curl_anon(url) == 200
    assert curl_anon("%s/v1/AUTH_test/%s" % (swift.url, container)) == 200  # .rlistings
    os.removexattr(m.path, "user.swift.read_acl")
    assert "x-container-read" not in conn.head_container(container)
    assert curl_anon(url) == 401
    assert err_of(os.getxattr, m.path, "user.swift.read_acl") == errno.ENODATA
    # set with the swift CLI, read through the mount
    swift_cli(swift, "post", "-r", ".r:*", container)
    assert os.getxattr(m.path, "user.swift.read_acl") == b".r:*"


def test_acls_for_the_non_admin_user(swift, container, conn, mount):
    put(conn, container, "x.txt", b"x\n")
    m = mount(container)
    other = swift.conn(user="test:tester2", key="testing2")
    for fn in (lambda: other.get_object(container, "x.txt"),
               lambda: other.put_object(container, "y.txt", b"y")):
        with pytest.raises(conftest.swiftclient.ClientException) as ei:
            fn()
        assert ei.value.http_status == 403
    os.setxattr(m.path, "user.swift.read_acl", b"test:tester2")
    os.setxattr(m.path, "user.swift.write_acl", b"test:tester2")
    h = conn.head_container(container)
    assert h["x-container-read"] == "test:tester2"
    assert h["x-container-write"] == "test:tester2"
    assert other.get_object(container, "x.txt")[1] == b"x\n"
    other.put_object(container, "y.txt", b"y")
    os.removexattr(m.path, "user.swift.write_acl")
    with pytest.raises(conftest.swiftclient.ClientException) as ei:
        other.put_object(container, "z.txt", b"z")
    assert ei.value.http_status == 403
    # the non-admin user mounting the container may not change its ACLs
    m2 = mount(container, env=swift.creds_env("test:tester2", "testing2"))
    assert err_of(os.setxattr, m2.path, "user.swift.write_acl", b"test:tester2") == errno.EACCES
    assert "x-container-write" not in conn.head_container(container)


def test_container_attributes(swift, container, conn, mount):
    put(conn, container, "a", b"12345")
    m = mount(container)
    r = m.path
    h = conn.head_container(container)
    assert os.getxattr(r, "user.swift.bytes_used") == h["x-container-bytes-used"].encode()
    assert os.getxattr(r, "user.swift.object_count") == b"1"
    assert os.getxattr(r, "user.swift.storage_policy") == b"Policy-0"
    for n in ("user.swift.bytes_used", "user.swift.object_count",
              "user.swift.storage_policy", "user.swift.token_expires"):
        assert err_of(os.setxattr, r, n, b"1") == errno.EPERM, n
    # token expiry (TempAuth says it): an ISO 8601 UTC time in the future
    te = os.getxattr(r, "user.swift.token_expires").decode()
    t = time.mktime(time.strptime(te, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert time.time() < t < time.time() + 86400 + 60
    # quotas
    os.setxattr(r, "user.swift.quota_bytes", b"1000")
    os.setxattr(r, "user.swift.quota_count", b"10")
    h = conn.head_container(container)
    assert h["x-container-meta-quota-bytes"] == "1000"
    assert h["x-container-meta-quota-count"] == "10"
    assert err_of(os.setxattr, r, "user.swift.quota_bytes", b"lots") == errno.EINVAL
    with pytest.raises(conftest.swiftclient.ClientException) as ei:
        conn.put_object(container, "big", b"x" * 2000)
    assert ei.value.http_status == 413
    os.removexattr(r, "user.swift.quota_bytes")
    assert "x-container-meta-quota-bytes" not in conn.head_container(container)
    conn.put_object(container, "big", b"x" * 2000)
    # container metadata both ways
    os.setxattr(r, "user.swift.meta.Project", b"alpha")
    assert conn.head_container(container)["x-container-meta-project"] == "alpha"
    swift_cli(swift, "post", "-m", "Owner:bob", container)
    assert os.getxattr(r, "user.swift.meta.Owner") == b"bob"
    os.removexattr(r, "user.swift.meta.Project")
    assert "x-container-meta-project" not in conn.head_container(container)
    # generic xattrs on the root are container metadata too
    os.setxattr(r, "user.Note", b"\x00binary")
    assert os.getxattr(r, "user.Note") == b"\x00binary"
    # listed on the root: the generic user.* names only, not the container's
    # settings and metadata (rsync -X into the root would strip them)
    assert os.listxattr(r) == ["user.Note"]
    assert err_of(os.setxattr, r, "user.swift.meta.Quota-Bytes", b"5") == errno.EPERM
    assert err_of(os.setxattr, r, "user.swift.meta.Xattr-x", b"5") == errno.EPERM
    # names swiftfs keeps for itself on objects are free on the container
    os.setxattr(r, "user.swift.meta.Mode", b"team")
    assert os.getxattr(r, "user.swift.meta.Mode") == b"team"
    assert conn.head_container(container)["x-container-meta-mode"] == "team"
    # legacy versioning headers
    arch = container + "-arch"
    conn.put_container(arch)
    try:
        os.setxattr(r, "user.swift.history_location", arch.encode())
        assert conn.head_container(container)["x-history-location"] == arch
        assert os.getxattr(r, "user.swift.history_location") == arch.encode()
        os.removexattr(r, "user.swift.history_location")
        assert "x-history-location" not in conn.head_container(container)
        os.setxattr(r, "user.swift.versions_location", arch.encode())
        assert conn.head_container(container)["x-versions-location"] == arch
        assert os.getxattr(r, "user.swift.versions_location") == arch.encode()
        os.removexattr(r, "user.swift.versions_location")
        assert "x-versions-location" not in conn.head_container(container)
    finally:
        conftest.delete_container(conn, arch)
    # object versioning
    os.setxattr(r, "user.swift.versions", b"true")
    assert conn.head_container(container)["x-versions-enabled"] == "True"
    assert os.getxattr(r, "user.swift.versions") == b"True"
    assert err_of(os.setxattr, r, "user.swift.versions", b"ture") == errno.EINVAL
    assert conn.head_container(container)["x-versions-enabled"] == "True"
    os.removexattr(r, "user.swift.versions")
    assert conn.head_container(container)["x-versions-enabled"] == "False"
    # the TempURL key: write, readable by the admin user, never logged
    os.setxattr(r, "user.swift.tempurl_key", b"k-e-y-123")
    assert os.getxattr(r, "user.swift.tempurl_key") == b"k-e-y-123"
    assert "k-e-y-123" not in m.log()
    # object-only names do not apply to the root
    assert err_of(os.getxattr, r, "user.swift.etag") == errno.ENODATA
    assert err_of(os.setxattr, r, "user.swift.content_type", b"x/y") == errno.ENOTSUP


def test_versions_container_records_version_id(container, conn, mount):
    conn.post_container(container, {"X-Versions-Enabled": "true"})
    m = mount(container)
    with open(m.p("v.txt"), "wb") as f:
        f.write(b"one")
    vid = os.getxattr(m.p("v.txt"), "user.swift.version_id").decode()
    assert vid == conn.head_object(container, "v.txt")["x-object-version-id"]
    os.setxattr(m.p("v.txt"), "user.swift.meta.K", b"v")
    assert conn.head_object(container, "v.txt")["x-object-meta-k"] == "v"


def test_cp_preserve_xattr_into_the_mount(container, conn, mount, tmp_path):
    src = tmp_path / "src.txt"
    src.write_bytes(b"payload\n")
    os.setxattr(str(src), "user.origin", b"local disk")
    os.setxattr(str(src), "user.Mixed_Case", b"\x01\x02")
    m = mount(container)
    subprocess.run(["cp", "--preserve=xattr", str(src), m.p("dst.txt")], check=True)
    _, body = conn.get_object(container, "dst.txt")
    assert body == b"payload\n"
    assert os.getxattr(m.p("dst.txt"), "user.origin") == b"local disk"
    assert os.getxattr(m.p("dst.txt"), "user.Mixed_Case") == b"\x01\x02"
    h = conn.head_object(container, "dst.txt")
    assert h["x-object-meta-xattr-origin"] == "local disk"
    assert "x-object-meta-mtime" in h


def test_getfattr_dump_on_every_kind(swift, container, conn, mount):
    put(conn, container, "file.txt", headers={"X-Object-Meta-Color": "Blue"})
    put(conn, container, "marker", b"", content_type="application/directory")
    put(conn, container, "implicit/inside", b"i")
    conn.put_object(container, "link", b"", headers={"X-Symlink-Target": container +
                                                     "/file.txt"})
    m = mount(container)

    def dump(*args):
        p = subprocess.run(["getfattr", "-d", "-m", "-", "--absolute-names"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return p.returncode, p.stdout, p.stderr

    os.setxattr(m.p("file.txt"), "user.mine", b"1")
    rc, out, err = dump(m.p("file.txt"))
    assert rc == 0 and not err, err
    # stored metadata only: the facts are read by name
    assert out.split("\n")[1:3] == ['user.mine="1"', 'user.swift.meta.Color="Blue"'], out
    assert "etag" not in out and "mtime" not in out.lower()
    rc, out, err = dump("-n", "user.swift.etag", m.p("file.txt"))
    assert rc == 0 and "user.swift.etag=" in out
    os.setxattr(m.path, "user.swift.read_acl", b".r:*")
    os.setxattr(m.path, "user.rootnote", b"r")
    rc, out, err = dump(m.path)
    assert rc == 0 and not err, err
    assert out.split("\n")[1:] == ['user.rootnote="r"', "", ""], out
    for d in ("marker", "implicit"):
        rc, out, err = dump(m.p(d))
        assert rc == 0 and not err and out.strip() == "", (d, out, err)
        assert err_of(os.setxattr, m.p(d), "user.x", b"1") == errno.ENOTSUP
    # a symlink: Linux refuses user.* xattrs on symlinks; following it
    # gives the target's
    rc, out, err = dump("-h", m.p("link"))
    assert rc == 0, err
    rc, out, err = dump(m.p("link"))
    assert rc == 0 and 'user.swift.meta.Color="Blue"' in out, (out, err)


def test_rsync_x_both_ways(container, conn, mount, tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f.txt").write_bytes(b"rsync me\n")
    os.setxattr(str(src / "d" / "f.txt"), "user.tag", b"one")
    os.setxattr(str(src / "d" / "f.txt"), "user.Bin_Name", b"\x00\x01")
    m = mount(container)
    os.setxattr(m.path, "user.swift.read_acl", b".r:*")
    os.setxattr(m.path, "user.swift.meta.Web-Index", b"index.html")
    p = subprocess.run(["rsync", "-aX", str(src) + "/", m.path + "/"],
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    assert os.getxattr(m.p("d", "f.txt"), "user.tag") == b"one"
    assert os.getxattr(m.p("d", "f.txt"), "user.Bin_Name") == b"\x00\x01"
    assert conn.head_object(container, "d/f.txt")["x-object-meta-xattr-tag"] == "one"
    # the container's settings survive an rsync into its root
    h = conn.head_container(container)
    assert h["x-container-read"] == ".r:*"
    assert h["x-container-meta-web-index"] == "index.html"
    # and back out: the stored xattrs, not Swift's facts
    back = tmp_path / "back"
    p = subprocess.run(["rsync", "-aX", m.path + "/", str(back) + "/"],
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listxattr(str(back / "d" / "f.txt"))) == ["user.Bin_Name", "user.tag"]
    assert (back / "d" / "f.txt").read_bytes() == b"rsync me\n"
    # a second rsync over the mount changes nothing and fails nothing
    p = subprocess.run(["rsync", "-aX", str(src) + "/", m.path + "/"],
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr


def test_readonly_mount_refuses_xattr_writes(container, conn, mount):
    put(conn, container, "f")
    m = mount(container, opts=["ro"])
    assert os.getxattr(m.p("f"), "user.swift.content_type")
    assert err_of(os.setxattr, m.p("f"), "user.x", b"1") == errno.EROFS
    assert err_of(os.setxattr, m.path, "user.swift.read_acl", b".r:*") == errno.EROFS
    assert "x-container-read" not in conn.head_container(container)



def test_reading_xattrs_never_uploads_a_file_being_written(container, conn, mount):
    """`ls -l` lists xattrs: on a file another program is still writing, a
    listxattr or getxattr must not upload the half written so far over
    the old object. (No subprocess here while the file is open: its
    close-on-exec of the inherited descriptor is a close, which uploads.)"""
    conn.put_object(container, "w.txt", b"old complete")
    m = mount(container)
    with open(m.p("w.txt"), "wb") as f:
        f.write(b"NEW first half ")
        f.flush()
        os.listxattr(m.p("w.txt"))
        with pytest.raises(OSError) as ei:
            os.getxattr(m.p("w.txt"), "user.nothing")
        assert ei.value.errno == errno.ENODATA
        assert conn.get_object(container, "w.txt")[1] == b"old complete"
        with open(m.p("new.txt"), "wb") as g:              # not in Swift yet
            g.write(b"x")
            g.flush()
            assert not [a for a in os.listxattr(m.p("new.txt")) if a.startswith("user.")]
            with pytest.raises(OSError) as ei:
                os.getxattr(m.p("new.txt"), "user.nothing")
            assert ei.value.errno == errno.ENODATA
        f.write(b"second half")
    assert conn.get_object(container, "w.txt")[1] == b"NEW first half second half"


def test_xattrs_of_an_open_file_renamed_over_are_not_the_new_files(container, conn, mount):
    """An atomic save (rename over) while a program holds the old file
    open: f*xattr on that handle must not read or change the new file,
    whose name it was."""
    m = mount(container)
    for name, body in (("r.txt", b"old"), ("r.new", b"new")):
        with open(m.p(name), "wb") as f:
            f.write(body)
    fd = os.open(m.p("r.txt"), os.O_RDONLY)
    try:
        os.rename(m.p("r.new"), m.p("r.txt"))
        for call in (lambda: os.setxattr(fd, "user.reviewed", b"yes"),
                     lambda: os.getxattr(fd, "user.swift.etag"),
                     lambda: os.removexattr(fd, "user.swift.meta.x")):
            with pytest.raises(OSError) as ei:
                call()
            assert ei.value.errno == errno.ENOENT
    finally:
        os.close(fd)
    h = conn.head_object(container, "r.txt")
    assert "x-object-meta-reviewed" not in h
    assert os.getxattr(m.p("r.txt"), "user.swift.etag").decode() == h["etag"]


@pytest.mark.parametrize("opts", [[], ["writeback"]])
def test_expiry_and_content_headers_outlive_a_write(container, conn, mount, opts):
    """Headers set as xattrs that a PUT would drop (X-Delete-At,
    Content-Encoding, Cache-Control, ...) stay when the file is written
    again through the mount, as its X-Object-Meta-* do."""
    put(conn, container, "f")
    m = mount(container, opts=opts)
    p = m.p("f")
    at = int(time.time()) + 3600
    os.setxattr(p, "user.swift.delete_at", str(at).encode())
    conn.post_object(container, "f", headers={"X-Delete-At": str(at), "Cache-Control": "no-cache",
                                              "X-Object-Meta-Tag": "t"})
    time.sleep(0.2)
    with open(p, "ab") as f:
        f.write(b"more")
    os.sync()
    deadline = time.time() + 10
    while not conn.get_object(container, "f")[1].endswith(b"more") and time.time() < deadline:
        time.sleep(0.2)
    h = conn.head_object(container, "f")
    assert conn.get_object(container, "f")[1].endswith(b"more")
    assert h.get("x-delete-at") == str(at), h
    assert h.get("cache-control") == "no-cache" and h.get("x-object-meta-tag") == "t", h
