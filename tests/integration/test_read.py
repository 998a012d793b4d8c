"""Read-only mount: contents, ranges, sizes, mtimes, markers, SLO/DLO,
prefix mounts, hostile names, caching and out-of-band changes."""
import errno
import hashlib
import io
import os
import random
import stat
import subprocess
import time
import re
import urllib.parse

import pytest

from conftest import sha256_file


def put(conn, container, name, data, **kw):
    conn.put_object(container, name, data, **kw)
    return data


def test_contents_small_and_large(swift, container, conn, mount):
    rnd = random.Random(1)
    objs = {
        "empty": b"",
        "one": b"x",
        "small.txt": b"hello swiftfs\n",
        "4k.bin": rnd.randbytes(4096),
        "5m.bin": rnd.randbytes(5 * 1024 * 1024 + 17),
        "dir/sub/20m.bin": rnd.randbytes(20 * 1024 * 1024 + 3),
    }
    for k, v in objs.items():
        put(conn, container, k, v)
    m = mount(container)
    for k, v in objs.items():
        p = m.p(*k.split("/"))
        assert os.path.getsize(p) == len(v), k
        assert sha256_file(p) == hashlib.sha256(v).hexdigest(), k
    assert sorted(os.listdir(m.path)) == ["4k.bin", "5m.bin", "dir", "empty", "one", "small.txt"]
    assert os.listdir(m.p("dir")) == ["sub"]
    assert stat.S_ISDIR(os.stat(m.p("dir", "sub")).st_mode)


def test_random_ranged_reads(container, conn, mount):
    rnd = random.Random(42)
    data = rnd.randbytes(9 * 1024 * 1024 + 123)
    put(conn, container, "r.bin", data)
    m = mount(container)
    fd = os.open(m.p("r.bin"), os.O_RDONLY)
    try:
        for i in range(300):
            off = rnd.randrange(0, len(data) + 1000)
            ln = rnd.choice([1, 7, 512, 4096, 65536, 131072, 1 << 20, 3 << 20])
            got = os.pread(fd, ln, off)
            assert got == data[off:off + ln], "seed 42, read %d: off=%d len=%d" % (i, off, ln)
    finally:
        os.close(fd)


def test_sequential_then_random_and_concurrent_readers(container, conn, mount):
    import threading
    data = random.Random(7).randbytes(12 * 1024 * 1024)
    put(conn, container, "c.bin", data)
    m = mount(container)
    errors = []

    def reader(seed):
        r = random.Random(seed)
        try:
            with open(m.p("c.bin"), "rb") as f:
                if seed % 2:
                    assert f.read() == data
                else:
                    for _ in range(40):
                        off = r.randrange(len(data))
                        f.seek(off)
                        assert f.read(100000) == data[off:off + 100000]
        except Exception as ex:  # noqa: BLE001 - reported below
            errors.append((seed, repr(ex)))

    ts = [threading.Thread(target=reader, args=(s,)) for s in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_sizes_and_mtimes(swift, container, conn, mount, tmp_path):
    # the swift CLI stores the file's mtime in X-Object-Meta-Mtime
    src = tmp_path / "old.txt"
    src.write_bytes(b"old file\n")
    os.utime(src, (1000000000.5, 1000000000.5))
    env = dict(os.environ, **swift.creds_env())
    subprocess.run(["swift", "upload", "--object-name", "old.txt", container, str(src)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    put(conn, container, "plain.bin", b"12345")
    before = time.time()
    m = mount(container)
    st = os.stat(m.p("old.txt"))
    assert st.st_size == 9
    assert abs(st.st_mtime - 1000000000.5) < 0.001
    st2 = os.stat(m.p("plain.bin"))
    assert st2.st_size == 5
    # no Mtime metadata: the server's Last-Modified (UTC), within a minute
    assert abs(st2.st_mtime - before) < 60
    # ls -l sizes come from the listing
    out = subprocess.run(["ls", "-l", "--time-style=+%s", m.path], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    assert " 5 " in out and " 9 " in out


def test_directory_markers_both_forms(swift, container, conn, mount):
    put(conn, container, "m1", b"", content_type="application/directory")
    put(conn, container, "m2/", b"", content_type="application/directory")
    put(conn, container, "m3", b"", content_type="text/directory")
    put(conn, container, "m3/inner.txt", b"inner")
    put(conn, container, "m2/child", b"c")
    put(conn, container, "implicit/x/y.txt", b"y")
    m = mount(container)
    names = sorted(os.listdir(m.path))
    assert names == ["implicit", "m1", "m2", "m3"]
    for n in names:
        assert stat.S_ISDIR(os.stat(m.p(n)).st_mode), n
    assert os.listdir(m.p("m1")) == []
    assert os.listdir(m.p("m2")) == ["child"]
    assert os.listdir(m.p("m3")) == ["inner.txt"]
    assert os.listdir(m.p("implicit")) == ["x"]
    with open(m.p("implicit", "x", "y.txt"), "rb") as f:
        assert f.read() == b"y"


def test_file_and_directory_with_same_name(container, conn, mount):
    """Documented rule: when object `a` and objects under `a/` both exist,
    the directory is shown and the object is hidden (logged once)."""
    put(conn, container, "a", b"the file")
    put(conn, container, "a/b", b"under")
    m = mount(container)
    assert os.listdir(m.path) == ["a"]
    assert os.path.isdir(m.p("a"))
    assert os.listdir(m.p("a")) == ["b"]
    assert "both an object and a directory" in m.log()


def raw_put(swift, container, name, data=b"data"):
    """PUT with curl --path-as-is so names with . and .. segments survive."""
    conn = swift.conn()
    url, token = conn.get_auth()
    q = urllib.parse.quote(name.encode("utf-8"), safe="/")
    subprocess.run(["curl", "-sf", "--path-as-is", "-X", "PUT", "-H", "X-Auth-Token: " + token,
                    "--data-binary", "@-", "%s/%s/%s" % (url, container, q)],
                   input=data, check=True)


HOSTILE = ["sp ace", "pct%25", "q?x", "h#1", "plus+", "amp&;", "quo'\"te", "é日本",
           "ctl\nnl", "tab\tx", "ctl\x01a", "cr\rx", "crlf\r\ny", "back\\slash", "star*", "~tilde", ".hidden",
           "...", "dash-", "a=b", "comma,", "[brackets]", "emoji😀",
           # the listing escape's own private-use range, and XML's non-characters
           "pua\uf701", "own\uf722x", "nonchar\ufffe\uffff"]
# logged as names that cannot be files: the newline and the terminal escape
# must not forge a log line or reach the terminal
FORGED = "\nswiftfs 12:00:00.000 error: forged\x1b[2J" + "x" * 260
UNREPRESENTABLE = ["s//t", "dot/./x", "dd/../y", "./z", "../w", "L" * 256, "e/" + "x" * 300,
                   FORGED]


def test_hostile_names(swift, container, mount):
    for n in HOSTILE:
        raw_put(swift, container, n, n.encode("utf-8"))
    for n in UNREPRESENTABLE:
        raw_put(swift, container, n, b"hidden")
    # a folder whose name holds a CR (XML parsers turn a raw CR into LF)
    raw_put(swift, container, "dcr\rd/inner\rname", b"inside")
    m = mount(container)
    names = set(os.listdir(m.path))
    # "dot/x" exists in Swift as "dot/./x": "dot" shows, with no "." inside
    for n in HOSTILE:
        assert n in names, n
        with open(m.p(n), "rb") as f:
            assert f.read() == n.encode("utf-8"), n
    assert os.listdir(m.p("dcr\rd")) == ["inner\rname"]
    with open(m.p("dcr\rd", "inner\rname"), "rb") as f:
        assert f.read() == b"inside"
    assert "L" * 256 not in names
    assert "." not in names and ".." not in names
    assert os.listdir(m.p("s")) == []           # "s//t": empty segment left out
    assert os.listdir(m.p("dot")) == []         # "dot/./x": "." segment left out
    assert os.listdir(m.p("e")) == []           # over 255 bytes left out
    log = m.log()
    assert "cannot be a file name" in log
    assert "\x1b" not in log
    assert not any(l.startswith("swiftfs 12:00:00.000 error: forged") for l in log.splitlines())
    assert "\n  swiftfs 12:00:00.000 error: forged?[2J" in log
    assert m.proc.poll() is None


def test_slo_and_dlo(swift, container, conn, mount, tmp_path):
    # a DLO has no single ETag to pin ranged GETs with If-Match, so it is
    # read through the slot path: over several 8 MiB read_chunks, with its
    # read-ahead
    data = random.Random(3).randbytes(26 * 1024 * 1024 + 500)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    env = dict(os.environ, **swift.creds_env())
    subprocess.run(["swift", "upload", "--use-slo", "-S", "4194304", "--object-name", "slo.bin",
                    container, str(src)], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["swift", "upload", "-S", "4194304", "--object-name", "dlo.bin",
                    container, str(src)], check=True, env=env, stdout=subprocess.DEVNULL)
    h = conn.head_object(container, "dlo.bin")
    assert "x-object-manifest" in h
    m = mount(container)
    want = hashlib.sha256(data).hexdigest()
    for n in ("slo.bin", "dlo.bin"):
        assert os.path.getsize(m.p(n)) == len(data), n
        assert sha256_file(m.p(n)) == want, n
        with open(m.p(n), "rb") as f:
            f.seek(4194304 - 10)
            assert f.read(20) == data[4194304 - 10:4194304 + 10]
    # ls -l of the DLO shows the real size (a HEAD, as the listing says 0)
    out = subprocess.run(["ls", "-l", m.path], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    line = [l for l in out.splitlines() if l.endswith("dlo.bin")][0]
    assert str(len(data)) in line


@pytest.mark.parametrize("opts", [["cache=off"], []], ids=["cache_off", "cache"])
def test_a_file_renamed_while_open_reads_on(container, conn, mount, opts):
    """A handle keeps reading a file renamed (or whose folder is renamed)
    while it is open, as on a local disk: its GETs follow the new name."""
    data = random.Random(4).randbytes(40 * 1024 * 1024)
    conn.put_object(container, "d/big", data)
    m = mount(container, opts=opts + ["read_ahead=8M"])
    with open(m.p("d", "big"), "rb") as f:
        assert f.read(4096) == data[:4096]
        os.rename(m.p("d", "big"), m.p("d", "moved"))
        f.seek(20 * 1024 * 1024)
        assert f.read(4096) == data[20 * 1024 * 1024:20 * 1024 * 1024 + 4096]
        os.rename(m.p("d"), m.p("e"))
        f.seek(36 * 1024 * 1024)
        assert f.read() == data[36 * 1024 * 1024:]
    with pytest.raises(Exception):
        conn.head_object(container, "d/big")


def test_prefix_mount(container, conn, mount):
    put(conn, container, "data/run1/a.txt", b"A")
    put(conn, container, "data/run1/sub/b.txt", b"B")
    put(conn, container, "data/run2/c.txt", b"C")
    put(conn, container, "other.txt", b"O")
    m = mount(container + "/data/run1")
    assert sorted(os.listdir(m.path)) == ["a.txt", "sub"]
    with open(m.p("sub", "b.txt"), "rb") as f:
        assert f.read() == b"B"
    m2 = mount(container + "/data/")
    assert sorted(os.listdir(m2.path)) == ["run1", "run2"]
    m3 = mount(container + "/does/not/exist")
    assert os.listdir(m3.path) == []


def test_readonly_refuses_writes(container, conn, mount):
    put(conn, container, "f", b"x")
    m = mount(container, opts=["ro"])
    for fn in (lambda: open(m.p("f"), "wb"), lambda: open(m.p("new"), "wb"),
               lambda: os.mkdir(m.p("d")), lambda: os.unlink(m.p("f"))):
        with pytest.raises(OSError) as ei:
            fn()
        assert ei.value.errno == errno.EROFS


def test_out_of_band_changes_after_timeouts(container, conn, mount):
    put(conn, container, "f.txt", b"version one")
    m = mount(container, opts=["attr_timeout=1", "entry_timeout=1", "negative_timeout=1"])
    with open(m.p("f.txt"), "rb") as f:
        assert f.read() == b"version one"
    assert not os.path.exists(m.p("new.txt"))
    put(conn, container, "f.txt", b"version two, longer")
    put(conn, container, "new.txt", b"new")
    time.sleep(1.5)
    with open(m.p("f.txt"), "rb") as f:
        assert f.read() == b"version two, longer"
    assert os.path.getsize(m.p("f.txt")) == len(b"version two, longer")
    assert "new.txt" in os.listdir(m.path)
    conn.delete_object(container, "new.txt")
    time.sleep(1.5)
    assert "new.txt" not in os.listdir(m.path)
    assert not os.path.exists(m.p("new.txt"))


def test_changed_while_open_is_never_torn(container, conn, mount):
    a = b"A" * (6 * 1024 * 1024)
    b = b"B" * (6 * 1024 * 1024)
    put(conn, container, "v.bin", a)
    m = mount(container, opts=["read_ahead=0"])
    with open(m.p("v.bin"), "rb", buffering=0) as f:
        first = f.read(1 << 20)
        assert first == a[:1 << 20]
        put(conn, container, "v.bin", b)
        try:
            rest = f.read()
        except OSError as ex:
            assert ex.errno == errno.ESTALE
        else:
            # whatever came back must be from version A only
            assert set(rest) <= {ord("A")}


def test_statfs_reports_usage_and_quota(container, conn, mount):
    put(conn, container, "x", b"x" * 100000)
    conn.post_container(container, {"X-Container-Meta-Quota-Bytes": str(50 * 1024 * 1024)})
    m = mount(container)
    sv = os.statvfs(m.path)
    assert sv.f_blocks * sv.f_frsize == 50 * 1024 * 1024
    used = (sv.f_blocks - sv.f_bfree) * sv.f_frsize
    assert 90000 <= used <= 110000


def test_symlink_objects(container, conn, mount):
    put(conn, container, "dir/target.txt", b"T")
    conn.put_object(container, "dir/link", b"", headers={"X-Symlink-Target":
                                                          container + "/dir/target.txt"})
    conn.put_object(container, "top", b"", headers={"X-Symlink-Target":
                                                     container + "/dir/target.txt"})
    m = mount(container)
    assert os.readlink(m.p("dir", "link")) == "target.txt"
    assert os.readlink(m.p("top")) == "dir/target.txt"
    with open(m.p("dir", "link"), "rb") as f:
        assert f.read() == b"T"


def test_reread_of_unchanged_object_comes_from_page_cache(container, conn, mount):
    data = random.Random(9).randbytes(3 * 1024 * 1024)
    put(conn, container, "c.bin", data)
    m = mount(container, opts=["attr_timeout=1", "entry_timeout=1"])
    for _ in range(3):
        with open(m.p("c.bin"), "rb") as f:
            assert f.read() == data
    time.sleep(1.2)
    put(conn, container, "c.bin", b"new version")      # changed: the cache goes
    time.sleep(1.2)
    with open(m.p("c.bin"), "rb") as f:
        assert f.read() == b"new version"
    m.unmount()
    gets = int(re.findall(r"requests: \d+ listing, (\d+) GET", m.log())[-1])
    assert gets == 2, m.log()[-600:]   # one for the first read, one for the new version


def test_a_cluster_with_a_lower_listing_limit(swift_short_token, mount):
    """Swift refuses a listing limit above its container_listing_limit
    (412): folders, walks, the versions tree and the account's containers
    are all listed in pages of the cluster's size (100 here)."""
    from concurrent.futures import ThreadPoolExecutor
    s = swift_short_token
    conn = s.conn()
    c = "pages-%d" % os.getpid()
    conn.put_container(c, headers={"X-Versions-Enabled": "true"})
    names = ["d/%03d" % i for i in range(230)] + ["d/sub/%03d" % i for i in range(120)]

    def put(chunk):
        cn = s.conn()
        for n in chunk:
            cn.put_object(c, n, io.BytesIO(n.encode()))  # seekable: resent on a 401
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(put, [names[i::8] for i in range(8)]))
    for i in range(105):
        conn.put_object(c, "v.txt", io.BytesIO(b"version %d" % i))
    conts = ["%s-c%03d" % (c, i) for i in range(105)]
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda chunk: [s.conn().put_container(x) for x in chunk],
                    [conts[i::8] for i in range(8)]))

    m = mount(c, use_env_creds=False, env=s.creds_env())
    assert sorted(os.listdir(m.p("d"))) == sorted(["%03d" % i for i in range(230)] + ["sub"])
    found = subprocess.run(["find", m.path, "-type", "f"], check=True, stdout=subprocess.PIPE,
                           text=True).stdout.split()
    assert sorted(os.path.relpath(f, m.path) for f in found) == sorted(names + ["v.txt"])
    with open(m.p("d", "sub", "119"), "rb") as f:
        assert f.read() == b"d/sub/119"
    assert len(os.listdir(m.p(".versions", "v.txt"))) == 105
    assert "Maximum limit" not in m.log() and "failed" not in m.log()

    a = mount("/", use_env_creds=False, env=s.creds_env())
    assert set(conts) <= set(os.listdir(a.path))
    assert "failed" not in a.log()

    # without /info, the refusal itself gives the limit
    from faultproxy import FaultProxy
    fp = FaultProxy().start("127.0.0.1", s.port)
    try:
        fp.add_rule(method="GET", path="^/info", action="status", status=404, times=-1)
        b = mount("/", use_env_creds=False, env=dict(s.creds_env(),
                                                     ST_AUTH="%s/auth/v1.0" % fp.url))
        assert set(conts) <= set(os.listdir(b.path))
        assert len(os.listdir(os.path.join(b.path, c, "d"))) == 231
        assert len(os.listdir(os.path.join(b.path, c, ".versions", "v.txt"))) == 105
        assert b.log().count("lists at most 100 names") == 2, b.log()
        refused = [e for e in fp.log() if e.get("status") == 412]
        assert len(refused) == 2, refused
    finally:
        fp.stop()
