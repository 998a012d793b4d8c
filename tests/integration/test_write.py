"""Writes: every POSIX write path ends as a verified Swift object that other
clients read right (checked with python-swiftclient)."""
import ctypes
import errno
import hashlib
import os
import random
import re
import stat
import subprocess
import time

import pytest

from conftest import small_tmpfs


def obj(conn, container, name):
    h, body = conn.get_object(container, name)
    return h, body


def stats(log):
    m = re.findall(r"requests: (\d+) listing, (\d+) GET, (\d+) HEAD, (\d+) PUT, (\d+) POST, "
                   r"(\d+) DELETE, (\d+) COPY.*?(\d+) bytes in", log)
    assert m, log[-2000:]
    keys = ("listing", "get", "head", "put", "post", "delete", "copy", "bytes_in")
    return dict(zip(keys, map(int, m[-1])))


def test_create_write_close_lands_verified(container, conn, mount, swift):
    m = mount(container)
    data = random.Random(1).randbytes(300000)
    with open(m.p("notes.txt"), "wb") as f:
        f.write(data)
    h, body = obj(conn, container, "notes.txt")
    assert body == data
    assert h["etag"] == hashlib.md5(data).hexdigest()
    assert h["content-type"].startswith("text/plain")
    assert abs(float(h["x-object-meta-mtime"]) - time.time()) < 60
    # what a swift CLI user sees
    out = subprocess.run(["swift", "stat", container, "notes.txt"], check=True,
                         stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, **swift.creds_env())).stdout
    assert "Meta Mtime:" in out and "Content Length: 300000" in out
    # an empty file is an object too
    open(m.p("empty"), "wb").close()
    h, body = obj(conn, container, "empty")
    assert body == b""


def test_read_after_write_and_listing(container, conn, mount):
    m = mount(container, opts=["entry_timeout=30", "attr_timeout=30"])
    assert os.listdir(m.path) == []
    os.makedirs(m.p("a", "b"))
    for i in range(5):
        with open(m.p("a", "b", "f%d" % i), "wb") as f:
            f.write(b"x" * i)
    assert sorted(os.listdir(m.p("a", "b"))) == ["f%d" % i for i in range(5)]
    assert os.path.getsize(m.p("a", "b", "f3")) == 3
    with open(m.p("a", "b", "f4"), "rb") as f:
        assert f.read() == b"xxxx"
    names = [o["name"] for o in conn.get_container(container)[1]]
    assert names == ["a", "a/b", "a/b/f0", "a/b/f1", "a/b/f2", "a/b/f3", "a/b/f4"]


def test_append_truncate_excl_sparse(container, conn, mount):
    m = mount(container)
    p = m.p("f.bin")
    with open(p, "wb") as f:
        f.write(b"hello")
    with open(p, "ab") as f:
        f.write(b" world")
    assert obj(conn, container, "f.bin")[1] == b"hello world"
    with pytest.raises(FileExistsError):
        os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.truncate(p, 5)
    assert obj(conn, container, "f.bin")[1] == b"hello"
    os.truncate(p, 8)
    assert obj(conn, container, "f.bin")[1] == b"hello\0\0\0"
    with open(p, "r+b") as f:
        f.truncate(0)
    assert obj(conn, container, "f.bin")[1] == b""
    with open(p, "wb") as f:
        f.seek(100000)
        f.write(b"end")
    body = obj(conn, container, "f.bin")[1]
    assert len(body) == 100003 and body[:100000] == b"\0" * 100000 and body[-3:] == b"end"
    with open(p, "r+b") as f:   # O_RDWR partial overwrite
        f.seek(50000)
        f.write(b"MID")
    body = obj(conn, container, "f.bin")[1]
    assert body[50000:50003] == b"MID" and body[-3:] == b"end"


def test_read_only_open_with_o_trunc_empties_the_object(container, conn, mount):
    """Linux truncates on open(O_RDONLY | O_TRUNC); the close uploads that."""
    conn.put_object(container, "f", b"some data")
    m = mount(container)
    fd = os.open(m.p("f"), os.O_RDONLY | os.O_TRUNC)
    assert os.read(fd, 100) == b""
    os.close(fd)
    assert obj(conn, container, "f")[1] == b""


def test_partial_overwrite_fetches_only_needed_ranges(container, conn, mount):
    data = random.Random(2).randbytes(16 * 1024 * 1024)
    conn.put_object(container, "big.bin", data)
    m = mount(container)
    fd = os.open(m.p("big.bin"), os.O_RDWR)
    os.pwrite(fd, b"PATCH", 1000)
    assert os.pread(fd, 10, 8 * 1024 * 1024) == data[8 * 1024 * 1024:8 * 1024 * 1024 + 10]
    os.close(fd)
    body = obj(conn, container, "big.bin")[1]
    assert body == data[:1000] + b"PATCH" + data[1005:]
    m.unmount()
    # the read fetched a small range; the upload fetched the rest once
    assert stats(m.log())["bytes_in"] < 17 * 1024 * 1024


def test_large_file_becomes_slo_and_segments_are_owned(container, conn, mount):
    m = mount(container, opts=["segment_size=1M"])
    data = random.Random(3).randbytes(5 * 1024 * 1024 + 7)
    with open(m.p("big.dat"), "wb") as f:
        f.write(data)
    h, body = obj(conn, container, "big.dat")
    assert body == data
    assert h.get("x-static-large-object") == "True"
    segs = [o["name"] for o in conn.get_container(container + "_segments")[1]]
    assert len(segs) == 6
    # written in order: streamed, python-swiftclient's streaming layout
    assert all(re.match(r"big\.dat/slo/\d+\.\d{6}/(5242887/)?1048576/\d{8}$", s) for s in segs)
    # overwriting with a small file deletes the old segments
    with open(m.p("big.dat"), "wb") as f:
        f.write(b"small now")
    assert obj(conn, container, "big.dat")[1] == b"small now"
    assert conn.get_container(container + "_segments")[1] == []
    # a new large one, then unlink: segments go with it
    with open(m.p("big.dat"), "wb") as f:
        f.write(data)
    assert len(conn.get_container(container + "_segments")[1]) == 6
    os.unlink(m.p("big.dat"))
    assert conn.get_container(container + "_segments")[1] == []
    with pytest.raises(Exception):
        conn.head_object(container, "big.dat")


def test_overwrite_of_an_slo_another_client_replaced_downloads_nothing(container, conn, mount):
    """The mount knows a name as an SLO (its own upload, or its cached
    attributes); another client replaces it with a plain 8 MiB object. An
    upload or a rename onto that name looks for the old manifest's
    segments to delete: a HEAD says there is no manifest, so no GET of
    ?multipart-manifest=get, which would download the plain object whole
    (up to 64 MiB) to find out."""
    mib = 1024 * 1024
    m = mount(container, opts=["segment_size=1M", "attr_timeout=60", "entry_timeout=60"])
    # a handle kept open across its own SLO upload (fsync)
    fd = os.open(m.p("kept.dat"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, random.Random(31).randbytes(3 * mib))
        os.fsync(fd)
        assert obj(conn, container, "kept.dat")[0].get("x-static-large-object") == "True"
        conn.put_object(container, "kept.dat", b"p" * (8 * mib))  # behind the mount's back
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"small now", 0)
    finally:
        os.close(fd)
    h, body = obj(conn, container, "kept.dat")
    assert "x-static-large-object" not in h and body == b"small now"
    # a rename onto a name whose cached attributes say SLO
    with open(m.p("dst.dat"), "wb") as f:
        f.write(random.Random(32).randbytes(3 * mib))
    assert os.stat(m.p("dst.dat")).st_size == 3 * mib
    conn.put_object(container, "dst.dat", b"q" * (8 * mib))
    with open(m.p("src.dat"), "wb") as f:
        f.write(b"renamed")
    os.rename(m.p("src.dat"), m.p("dst.dat"))
    h, body = obj(conn, container, "dst.dat")
    assert "x-static-large-object" not in h and body == b"renamed"
    m.unmount()
    assert stats(m.log())["bytes_in"] < 4 * mib


def _object_dir(swift, container, name):
    """The hash folder of an object's .data file on the test Swift's disk."""
    from swift.obj.diskfile import read_metadata
    want = "/AUTH_test/%s/%s" % (container, name)
    for root, _, files in os.walk(os.path.join(swift.dir, "srv")):
        for f in files:
            if f.endswith(".data"):
                with open(os.path.join(root, f), "rb") as fp:
                    if read_metadata(fp).get("name") == want:
                        return root
    raise AssertionError("no .data file for " + want)


def test_unlink_of_an_slo_swift_failed_to_delete_fails(swift, container, conn, mount):
    """Swift answers an SLO's delete with 200 and the outcome in the body:
    an unlink whose manifest the object server could not delete fails."""
    m = mount(container, opts=["segment_size=1M"])
    data = random.Random(5).randbytes(3 * 1024 * 1024)
    with open(m.p("big.dat"), "wb") as f:
        f.write(data)
    d = _object_dir(swift, container, "big.dat")
    subprocess.run(["chattr", "+i", d], check=True)  # the object server cannot delete it
    try:
        with pytest.raises(OSError) as ei:
            os.unlink(m.p("big.dat"))
        assert ei.value.errno == errno.EIO
    finally:
        subprocess.run(["chattr", "-i", d], check=True)
    assert "big.dat" in os.listdir(m.path)
    assert "delete of big.dat (with its segments) failed" in m.log()
    os.unlink(m.p("big.dat"))
    with pytest.raises(Exception):
        conn.head_object(container, "big.dat")
    assert conn.get_container(container + "_segments")[1] == []


def test_mkdir_rmdir_markers(container, conn, mount):
    m = mount(container)
    os.mkdir(m.p("d"))
    h = conn.head_object(container, "d")
    assert h["content-type"] == "application/directory" and h["content-length"] == "0"
    with open(m.p("d", "f"), "wb") as f:
        f.write(b"x")
    with pytest.raises(OSError) as ei:
        os.rmdir(m.p("d"))
    assert ei.value.errno == errno.ENOTEMPTY
    os.unlink(m.p("d", "f"))
    os.rmdir(m.p("d"))
    assert conn.get_container(container)[1] == []
    # an implicit directory vanishes with its last object (documented)
    conn.put_object(container, "imp/x", b"x")
    m2 = mount(container)
    os.unlink(m2.p("imp", "x"))
    assert "imp" not in os.listdir(m2.path)


def test_a_file_hidden_by_its_directory_survives_rmdir_rm_r_and_mv(container, conn, mount):
    """An object `a` next to `a/...` is hidden by the directory; removing
    or renaming the directory must not delete or move that file."""
    conn.put_object(container, "a", b"precious a")
    conn.put_object(container, "a/", b"", content_type="application/directory")
    conn.put_object(container, "b", b"precious b")
    conn.put_object(container, "b/child", b"c")
    conn.put_object(container, "c", b"precious c")
    conn.put_object(container, "c/child", b"c")
    conn.put_object(container, "d", b"", content_type="application/directory")
    m = mount(container)
    assert os.path.isdir(m.p("a")) and os.listdir(m.p("a")) == []
    os.rmdir(m.p("a"))
    subprocess.run(["rm", "-r", m.p("b")], check=True)
    os.rename(m.p("c"), m.p("e"))
    for n in ("a", "b", "c"):
        assert conn.get_object(container, n)[1] == b"precious " + n.encode(), n
        # and the mount shows it again, at once (not after the overlay's life)
        assert os.path.isfile(m.p(n)), n
        with open(m.p(n), "rb") as f:
            assert f.read() == b"precious " + n.encode(), n
    assert {"a", "b", "c", "e"} <= set(os.listdir(m.path))
    assert conn.get_object(container, "e/child")[1] == b"c"
    with pytest.raises(Exception):
        conn.head_object(container, "e")          # the hidden file did not move
    # a real marker (zero bytes, directory type) still goes with its directory
    os.rmdir(m.p("d"))
    with pytest.raises(Exception):
        conn.head_object(container, "d")


def renameat2(src, dst, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    r = libc.renameat2(AT_FDCWD, src.encode(), AT_FDCWD, dst.encode(), flags)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_rename_files_and_directories(container, conn, mount):
    m = mount(container, opts=["segment_size=1M"])
    with open(m.p("a.txt"), "wb") as f:
        f.write(b"A")
    os.utime(m.p("a.txt"), (1000000000, 1000000000))
    conn.post_object(container, "a.txt", {"X-Object-Meta-Color": "blue",
                                          "X-Object-Meta-Mtime": "1000000000.000000"})
    os.rename(m.p("a.txt"), m.p("b.txt"))
    h = conn.head_object(container, "b.txt")
    assert h["x-object-meta-color"] == "blue"
    assert float(h["x-object-meta-mtime"]) == 1000000000.0
    assert [o["name"] for o in conn.get_container(container)[1]] == ["b.txt"]
    # over an existing file: replaced
    with open(m.p("c.txt"), "wb") as f:
        f.write(b"C")
    os.rename(m.p("c.txt"), m.p("b.txt"))
    assert obj(conn, container, "b.txt")[1] == b"C"
    # RENAME_NOREPLACE
    with open(m.p("d.txt"), "wb") as f:
        f.write(b"D")
    with pytest.raises(OSError) as ei:
        renameat2(m.p("d.txt"), m.p("b.txt"), 1)
    assert ei.value.errno == errno.EEXIST
    # an SLO renames by its manifest; segments stay valid
    big = random.Random(4).randbytes(2 * 1024 * 1024 + 5)
    with open(m.p("big"), "wb") as f:
        f.write(big)
    os.rename(m.p("big"), m.p("big2"))
    assert obj(conn, container, "big2")[1] == big
    assert len(conn.get_container(container + "_segments")[1]) == 3
    # a directory with everything below it
    os.makedirs(m.p("dir", "sub"))
    for n in ("dir/x", "dir/sub/y"):
        with open(m.p(*n.split("/")), "wb") as f:
            f.write(n.encode())
    os.rename(m.p("dir"), m.p("moved"))
    names = sorted(o["name"] for o in conn.get_container(container)[1])
    assert "dir" not in names and "dir/x" not in names
    assert {"moved", "moved/sub", "moved/x", "moved/sub/y"} <= set(names)
    with open(m.p("moved", "sub", "y"), "rb") as f:
        assert f.read() == b"dir/sub/y"
    assert sorted(os.listdir(m.p("moved"))) == ["sub", "x"]


def test_folder_rename_moves_dlo_manifests_with_their_segments(container, conn, mount):
    """A DLO whose segments lie in the renamed folder points at their new
    place (its other metadata kept); one whose segments are elsewhere is
    left pointing there."""
    conn.put_object(container, "d/parts/0001", b"AAA")
    conn.put_object(container, "d/parts/0002", b"BBB")
    conn.put_object(container, "o/parts/0001", b"OUT")
    conn.put_object(container, "d/big", b"", headers={
        "X-Object-Manifest": container + "/d/parts/", "X-Object-Meta-Color": "blue"})
    conn.put_object(container, "d/out", b"", headers={
        "X-Object-Manifest": container + "/o/parts/"})
    m = mount(container)
    assert open(m.p("d", "big"), "rb").read() == b"AAABBB"
    os.symlink("big", m.p("d", "ln"))            # a symlink is no DLO, even to one
    os.rename(m.p("d"), m.p("e"))
    h, body = conn.get_object(container, "e/big")
    assert body == b"AAABBB"
    assert h["x-object-manifest"] == container + "/e/parts/"
    assert h["x-object-meta-color"] == "blue"
    h, body = conn.get_object(container, "e/out")
    assert body == b"OUT" and h["x-object-manifest"] == container + "/o/parts/"
    assert open(m.p("e", "big"), "rb").read() == b"AAABBB"
    assert os.readlink(m.p("e", "ln")) == "big"
    assert open(m.p("e", "ln"), "rb").read() == b"AAABBB"
    assert "x-object-manifest" not in conn.head_object(container, "e/ln",
                                                       query_string="symlink=get")
    assert not os.path.exists(m.p("d"))


def test_temp_file_renamed_before_first_upload_is_uploaded_once(container, conn, mount):
    m = mount(container)
    fd = os.open(m.p("key.tmp"), os.O_CREAT | os.O_WRONLY)
    os.write(fd, b"chunk data")
    os.rename(m.p("key.tmp"), m.p("key"))
    os.close(fd)
    assert [o["name"] for o in conn.get_container(container)[1]] == ["key"]
    assert obj(conn, container, "key")[1] == b"chunk data"
    m.unmount()
    s = stats(m.log())
    assert s["put"] == 1 and s["copy"] == 0, s


@pytest.mark.parametrize("opts", [[], ["writeback"]], ids=["default", "writeback"])
def test_content_type_follows_the_final_name(container, conn, mount, opts):
    """rsync and zarr write under a temporary name and rename: the object's
    Content-Type is guessed from the name it lands under."""
    m = mount(container, opts=opts)
    for tmp, final in ((".a.json.Ab12Cd", "a.json"), ("b.txt.partial", "b.txt"),
                       ("c.html", "c.html")):
        with open(m.p(tmp), "wb") as f:
            f.write(b"{}")
        if tmp != final:
            os.rename(m.p(tmp), m.p(final))
    m.unmount()                        # writeback: the uploads are done
    want = {"a.json": "application/json", "b.txt": "text/plain", "c.html": "text/html"}
    for name, ctype in want.items():
        assert conn.head_object(container, name)["content-type"].split(";")[0] == ctype, name


def test_utimens_chmod_chown_persist_and_keep_metadata(container, conn, mount, tmp_path):
    conn.put_object(container, "f", b"data", headers={"X-Object-Meta-Color": "red"})
    m = mount(container)
    os.utime(m.p("f"), (1500000000.25, 1500000000.25))
    os.chmod(m.p("f"), 0o751)
    os.chown(m.p("f"), 1234, 4321)
    h = conn.head_object(container, "f")
    assert h["x-object-meta-color"] == "red"
    assert float(h["x-object-meta-mtime"]) == 1500000000.25
    assert h["x-object-meta-mode"] == "751"
    assert (h["x-object-meta-uid"], h["x-object-meta-gid"]) == ("1234", "4321")
    m.unmount()
    # a DLO keeps its manifest through a metadata update
    conn.put_container(container + "_segments")
    conn.put_object(container + "_segments", "dlo/1", b"part1")
    conn.put_object(container, "dlo", b"", headers={"X-Object-Manifest":
                                                     container + "_segments/dlo/"})
    m2 = mount(container)
    st = os.stat(m2.p("f"))
    assert stat.S_IMODE(st.st_mode) == 0o751
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert st.st_mtime == 1500000000.25
    os.utime(m2.p("dlo"), (1600000000, 1600000000))
    h = conn.head_object(container, "dlo")
    assert "x-object-manifest" in h
    assert obj(conn, container, "dlo")[1] == b"part1"


def test_a_new_version_without_mode_metadata_loses_the_old_mode(container, conn, mount):
    """chmod through the mount, then another client replaces the object
    without Mode or owner metadata: stat shows the defaults again."""
    conn.put_object(container, "f", b"data")
    m = mount(container, opts=["attr_timeout=0", "entry_timeout=60"])
    default = stat.S_IMODE(os.stat(m.p("f")).st_mode)
    os.chmod(m.p("f"), 0o600)
    os.chown(m.p("f"), 1234, 4321)
    st = os.stat(m.p("f"))
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 1234, 4321)
    conn.put_object(container, "f", b"new data")
    st = os.stat(m.p("f"))
    assert st.st_size == 8
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (default, 0, 0)


def test_mkdir_and_symlink_never_replace_an_object_made_since_the_listing(container, conn,
                                                                          mount):
    conn.put_object(container, "d/keep", b"k")
    m = mount(container, opts=["entry_timeout=60", "negative_timeout=60"])
    assert os.listdir(m.p("d")) == ["keep"]
    conn.put_object(container, "d/x", b"another client's data")
    conn.put_object(container, "d/y", b"more data")
    for fn in (lambda: os.mkdir(m.p("d", "x")), lambda: os.symlink("keep", m.p("d", "y"))):
        with pytest.raises(OSError) as ei:
            fn()
        assert ei.value.errno == errno.EEXIST
    assert obj(conn, container, "d/x")[1] == b"another client's data"
    assert obj(conn, container, "d/y")[1] == b"more data"
    os.mkdir(m.p("d", "new"))
    os.symlink("keep", m.p("d", "ln"))
    assert os.readlink(m.p("d", "ln")) == "keep"


def test_symlink_readable_by_swift(container, conn, mount):
    m = mount(container)
    os.makedirs(m.p("d"))
    with open(m.p("d", "target.txt"), "wb") as f:
        f.write(b"T")
    os.symlink("target.txt", m.p("d", "ln"))
    os.symlink("../d/./target.txt", m.p("top"))
    os.symlink("/etc/hostname", m.p("abs"))
    assert os.readlink(m.p("d", "ln")) == "target.txt"
    assert os.readlink(m.p("top")) == "../d/./target.txt"
    h = conn.head_object(container, "d/ln", query_string="symlink=get")
    assert h["x-symlink-target"] == container + "/d/target.txt"
    # other Swift clients follow the link
    assert obj(conn, container, "d/ln")[1] == b"T"
    m.unmount()
    m2 = mount(container)
    assert os.readlink(m2.p("d", "ln")) == "target.txt"
    assert os.readlink(m2.p("abs")) == "/etc/hostname"
    with open(m2.p("d", "ln"), "rb") as f:
        assert f.read() == b"T"


def test_link_is_create_only_copy(container, conn, mount):
    m = mount(container)
    with open(m.p("tmp"), "wb") as f:
        f.write(b"v1")
    os.link(m.p("tmp"), m.p("key"))
    os.unlink(m.p("tmp"))
    assert obj(conn, container, "key")[1] == b"v1"
    with open(m.p("tmp2"), "wb") as f:
        f.write(b"v2")
    with pytest.raises(FileExistsError):
        os.link(m.p("tmp2"), m.p("key"))
    assert obj(conn, container, "key")[1] == b"v1"
    # independent: changing one leaves the other
    os.link(m.p("tmp2"), m.p("copy"))
    with open(m.p("tmp2"), "wb") as f:
        f.write(b"changed")
    assert obj(conn, container, "copy")[1] == b"v2"


def test_unlink_open_file(container, conn, mount):
    m = mount(container)
    f = open(m.p("f"), "w+b")
    f.write(b"data")
    f.flush()
    os.unlink(m.p("f"))
    f.seek(0)
    assert f.read() == b"data"
    f.close()
    assert conn.get_container(container)[1] == []


def test_errors_erofs_edquot_enametoolong(container, conn, mount):
    ro = mount(container, opts=["ro"])
    with pytest.raises(OSError) as ei:
        open(ro.p("x"), "wb")
    assert ei.value.errno == errno.EROFS
    conn.post_container(container, {"X-Container-Meta-Quota-Bytes": "1000"})
    m = mount(container)
    f = open(m.p("big"), "wb")
    f.write(b"x" * 5000)
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno == errno.EDQUOT
    conn.post_container(container, {"X-Container-Meta-Quota-Bytes": ""})
    # a quota of objects: every kind of new object is EDQUOT, not EFBIG
    # ("file too large" for an empty file)
    with open(m.p("one"), "wb") as f:
        f.write(b"1")
    conn.post_container(container, {"X-Container-Meta-Quota-Count": "1"})
    for what, call in (("touch", lambda: open(m.p("empty"), "wb").close()),
                       ("mkdir", lambda: os.mkdir(m.p("dir"))),
                       ("link", lambda: os.link(m.p("one"), m.p("two")))):
        with pytest.raises(OSError) as ei:
            call()
        assert ei.value.errno == errno.EDQUOT, what
    conn.post_container(container, {"X-Container-Meta-Quota-Count": ""})
    # Swift's object name limit (1024 bytes) gives ENAMETOOLONG
    path = m.path
    for i in range(5):
        path = os.path.join(path, "d%d" % i + "x" * 200)
        os.mkdir(path)
    with pytest.raises(OSError) as ei:
        open(os.path.join(path, "y" * 200), "wb")
    assert ei.value.errno == errno.ENAMETOOLONG


def test_full_staging_disk_is_enospc_and_uploads_nothing(container, conn, mount, tmp_path):
    with small_tmpfs(tmp_path / "small", "1m") as small:
        conn.put_object(container, "keep.bin", b"previous version")
        m = mount(container, opts=["cache_dir=%s" % small])
        f = open(m.p("keep.bin"), "wb")
        with pytest.raises(OSError) as ei:
            f.write(b"y" * (4 * 1024 * 1024))
            f.flush()
        assert ei.value.errno == errno.ENOSPC
        with pytest.raises(OSError):
            f.close()
        assert obj(conn, container, "keep.bin")[1] == b"previous version"
        m.unmount()


def test_sequential_large_write_streams_segments(container, conn, mount):
    """A file written in order uploads each segment while it is written:
    before close(), the completed segments are already in Swift."""
    m = mount(container, opts=["segment_size=1M"])
    data = random.Random(5).randbytes(4 * 1024 * 1024 + 100)
    f = open(m.p("stream.bin"), "wb", buffering=0)
    for i in range(0, len(data), 256 * 1024):
        f.write(data[i:i + 256 * 1024])
    deadline = time.time() + 10
    while time.time() < deadline:
        segs = [o["name"] for o in conn.get_container(container + "_segments")[1]]
        if len(segs) >= 4:
            break
        time.sleep(0.1)
    assert len(segs) >= 4, segs      # uploaded before close
    # python-swiftclient's streaming layout: <obj>/slo/<mtime>/<segsize>/<n>
    assert all(re.match(r"stream\.bin/slo/\d+\.\d{6}/1048576/\d{8}$", s) for s in segs), segs
    f.close()
    h, body = obj(conn, container, "stream.bin")
    assert body == data and h.get("x-static-large-object") == "True"
    assert len(conn.get_container(container + "_segments")[1]) == 5


def test_out_of_order_write_falls_back_without_orphans(container, conn, mount):
    m = mount(container, opts=["segment_size=1M"])
    data = bytearray(random.Random(6).randbytes(3 * 1024 * 1024 + 5))
    f = open(m.p("f.bin"), "wb", buffering=0)
    f.write(bytes(data))
    f.seek(10)                      # change data already streamed
    f.write(b"XYZ")
    data[10:13] = b"XYZ"
    f.close()
    assert obj(conn, container, "f.bin")[1] == bytes(data)
    segs = [o["name"] for o in conn.get_container(container + "_segments")[1]]
    assert len(segs) == 4 and all("/3145733/" in s for s in segs), segs


def test_killed_during_streamed_upload_leaves_no_object_and_no_orphans(container, conn, mount,
                                                                        tmp_path):
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["segment_size=1M", "cache_dir=" + cache])
    f = open(m.p("big.bin"), "wb", buffering=0)
    for _ in range(4):
        f.write(os.urandom(1024 * 1024))
    deadline = time.time() + 10
    while time.time() < deadline and len(conn.get_container(container + "_segments")[1]) < 3:
        time.sleep(0.1)
    assert len(conn.get_container(container + "_segments")[1]) >= 3
    m.proc.kill()                      # kill -9 mid-upload
    m.proc.wait()
    try:
        f.close()
    except OSError:
        pass
    subprocess.run(["fusermount3", "-u", m.path], check=True)
    # no visible partial object
    with pytest.raises(Exception):
        conn.head_object(container, "big.bin")
    # the next mount with the same cache folder cleans the orphans up
    m2 = mount(container, opts=["segment_size=1M", "cache_dir=" + cache])
    assert conn.get_container(container + "_segments")[1] == []
    assert "orphan segment" in m2.log()
    assert os.listdir(os.path.join(cache, "uploads")) == []
    m.proc.returncode = 0  # killed on purpose: the fixture's exit check does not apply


def test_open_file_keeps_local_attributes_against_listings(container, conn, mount):
    conn.put_object(container, "f", b"old")
    m = mount(container, opts=["attr_timeout=0", "entry_timeout=0"])
    f = open(m.p("f"), "r+b", buffering=0)
    f.seek(0, 2)
    f.write(b"-appended-" * 10)
    assert "f" in os.listdir(m.path)          # a fresh listing says 3 bytes...
    assert os.path.getsize(m.p("f")) == 103   # ...the local data wins
    with open(m.p("f"), "rb") as g:
        assert g.read() == b"old" + b"-appended-" * 10
    f.close()
    assert obj(conn, container, "f")[1] == b"old" + b"-appended-" * 10


def test_a_file_written_for_longer_than_listing_lag_stays_listed(container, conn, mount):
    """A new file is in no listing until its upload: it stays listed, and
    keeps its folder from rmdir, however long it is written."""
    m = mount(container, opts=["attr_timeout=0", "entry_timeout=0", "negative_timeout=0",
                               "listing_lag=1"])
    os.mkdir(m.p("d"))
    f = open(m.p("d", "log"), "wb", buffering=0)
    f.write(b"first line\n")
    time.sleep(2.5)                  # past listing_lag: fresh listings omit it
    f.write(b"second line\n")
    assert os.listdir(m.p("d")) == ["log"]
    assert os.stat(m.p("d", "log")).st_size == 23
    with pytest.raises(OSError) as ei:
        os.rmdir(m.p("d"))
    assert ei.value.errno == errno.ENOTEMPTY
    f.close()
    assert obj(conn, container, "d/log")[1] == b"first line\nsecond line\n"
    time.sleep(1.5)                  # the upload's overlay expired: Swift lists it
    assert os.listdir(m.p("d")) == ["log"]
    # a change the listing does not show yet lasts listing_lag
    conn.put_object(container, "d/other", b"x")
    os.unlink(m.p("d", "other"))
    assert os.listdir(m.p("d")) == ["log"]


def test_two_mounts_of_one_container(container, conn, mount):
    a = mount(container, opts=["attr_timeout=1", "entry_timeout=1", "negative_timeout=1"])
    b = mount(container, opts=["attr_timeout=1", "entry_timeout=1", "negative_timeout=1"])
    with open(a.p("shared.txt"), "wb") as f:
        f.write(b"from A")
    time.sleep(1.5)
    with open(b.p("shared.txt"), "rb") as f:
        assert f.read() == b"from A"
    with open(b.p("shared.txt"), "wb") as f:
        f.write(b"B wins, last writer")
    time.sleep(1.5)
    with open(a.p("shared.txt"), "rb") as f:
        assert f.read() == b"B wins, last writer"
    os.unlink(a.p("shared.txt"))
    time.sleep(1.5)
    assert not os.path.exists(b.p("shared.txt"))


def test_reopen_within_attr_timeout_sees_whole_new_version(container, conn, mount):
    conn.put_object(container, "f", b"short")
    m = mount(container, opts=["attr_timeout=30", "entry_timeout=30"])
    with open(m.p("f"), "rb") as f:
        assert f.read() == b"short"
    conn.put_object(container, "f", b"a much longer new version")
    with open(m.p("f"), "rb") as f:      # close-to-open: the new version, whole
        assert f.read() == b"a much longer new version"


def test_default_mount_archives_without_file_changed_errors(container, conn, mount, tmp_path):
    """Default attributes come from listings; opening a file (which HEADs
    it) must not change its time under tar."""
    for i in range(5):
        conn.put_object(container, "d/f%d" % i, b"x" * (i + 1),
                        headers={"X-Object-Meta-Mtime": "1000000000.5"})
    m = mount(container)
    p = subprocess.run(["tar", "-cf", str(tmp_path / "o.tar"), "-C", m.path, "d"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr


def test_a_symlink_retargeted_by_another_client_is_seen(container, conn, mount):
    """A Swift symlink's listing hash is the empty MD5 whatever its target:
    a retarget shows in its last_modified, which the mount compares too."""
    conn.put_object(container, "t1", b"one")
    conn.put_object(container, "t2", b"two")
    conn.put_object(container, "l", b"", headers={"X-Symlink-Target": container + "/t1"})
    m = mount(container, opts=["entry_timeout=1", "attr_timeout=1", "negative_timeout=1"])
    assert os.readlink(m.p("l")) == "t1"
    with open(m.p("l"), "rb") as f:
        assert f.read() == b"one"
    time.sleep(1.1)                   # a new last_modified, to the microsecond
    conn.put_object(container, "l", b"", headers={"X-Symlink-Target": container + "/t2"})
    time.sleep(1.5)                   # past the timeouts
    assert os.readlink(m.p("l")) == "t2"
    with open(m.p("l"), "rb") as f:
        assert f.read() == b"two"


def test_symlink_sizes_and_times(container, conn, mount):
    m = mount(container)
    os.symlink("some/target", m.p("ln"))
    assert os.lstat(m.p("ln")).st_size == len("some/target")
    os.utime(m.p("ln"), (1200000000, 1200000000), follow_symlinks=False)
    assert os.readlink(m.p("ln")) == "some/target"
    m.unmount()
    m2 = mount(container)
    assert sorted(os.listdir(m2.path)) == ["ln"]      # readdir first
    assert os.readlink(m2.p("ln")) == "some/target"
    assert os.lstat(m2.p("ln")).st_size == len("some/target")
    h = conn.head_object(container, "ln", query_string="symlink=get")
    assert float(h["x-object-meta-mtime"]) == 1200000000.0


def test_rewrite_inside_the_segment_being_streamed(container, conn, mount):
    """A rewrite of the part of a segment not handed to the upload yet is
    in the segment (segments are read and hashed when they are sent), and
    does not stop streaming."""
    m = mount(container, opts=["segment_size=1M"])
    data = bytearray(random.Random(8).randbytes(3 * 1024 * 1024 + 11))
    f = open(m.p("r.bin"), "wb", buffering=0)
    f.write(bytes(data[:1536 * 1024]))          # segment 0 streams
    f.seek(1200 * 1024)
    f.write(b"REWRITE")                         # inside segment 1, not uploaded yet
    data[1200 * 1024:1200 * 1024 + 7] = b"REWRITE"
    f.seek(1536 * 1024)
    f.write(bytes(data[1536 * 1024:]))          # in order again
    f.close()
    h, body = obj(conn, container, "r.bin")
    assert body == bytes(data)
    segs = [o["name"] for o in conn.get_container(container + "_segments")[1]]
    assert len(segs) == 4 and all("/slo/" in s and "/3145739/" not in s for s in segs), segs


def test_a_folder_with_local_files_or_a_data_marker_is_not_empty(container, conn, mount):
    """rmdir and a folder rename onto a folder count as content what Swift
    does not list yet (a file open for writing, never uploaded) and an
    object named like the folder's marker that holds data."""
    conn.put_object(container, "logs/", b"12345")              # data, not a marker
    conn.put_object(container, "src/a", b"a")
    m = mount(container)
    assert os.listdir(m.p("logs")) == []
    for fn, args in ((os.rmdir, (m.p("logs"),)), (os.rename, (m.p("src"), m.p("logs")))):
        with pytest.raises(OSError) as ei:
            fn(*args)
        assert ei.value.errno == errno.ENOTEMPTY, fn
    assert conn.get_object(container, "logs/")[1] == b"12345"
    os.mkdir(m.p("dst"))
    with open(m.p("dst", "a"), "wb") as f:
        f.write(b"written here, not closed yet")
        with pytest.raises(OSError) as ei:
            os.rename(m.p("src"), m.p("dst"))
        assert ei.value.errno == errno.ENOTEMPTY
    assert conn.get_object(container, "dst/a")[1] == b"written here, not closed yet"
    assert conn.get_object(container, "src/a")[1] == b"a"


def test_an_open_file_removed_or_replaced_keeps_its_own_attributes(container, conn, mount):
    """fstat and fchmod of an open file whose name was removed or given to
    another file: no request under the name that is not its own any more
    (the HEAD answered ENOENT, or the other file's size; the POST changed
    the other file)."""
    conn.put_object(container, "a", b"aaaa")
    conn.put_object(container, "b", b"bbbbbbbb")
    conn.put_object(container, "c", b"ccc")
    m = mount(container, opts=["attr_timeout=0"])
    with open(m.p("a"), "rb") as fa, open(m.p("b"), "rb") as fb:
        os.unlink(m.p("a"))
        assert os.fstat(fa.fileno()).st_size == 4
        # reopened for writing through /proc: its old name is not its own
        with pytest.raises(OSError) as ei:
            os.open("/proc/self/fd/%d" % fa.fileno(), os.O_WRONLY)
        assert ei.value.errno == errno.ENOENT
        os.rename(m.p("c"), m.p("b"))
        assert os.fstat(fb.fileno()).st_size == 8
        os.fchmod(fb.fileno(), 0o600)
        assert stat.S_IMODE(os.fstat(fb.fileno()).st_mode) == 0o600
        assert "x-object-meta-mode" not in conn.head_object(container, "b")
        assert os.stat(m.p("b")).st_size == 3
    with pytest.raises(Exception):
        conn.head_object(container, "a")


def test_close_of_a_partial_rewrite_whose_object_vanished_is_eio(container, conn, mount):
    """The bytes not written come from the version the file was opened on;
    when another client deleted it meanwhile, close() says EIO (it said
    ENOENT, 'no such file', of a file the program holds open)."""
    conn.put_object(container, "g", os.urandom(3 * 1024 * 1024))
    m = mount(container)
    f = open(m.p("g"), "r+b")
    f.write(b"y")
    conn.delete_object(container, "g")
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno == errno.EIO


def test_a_symlink_target_too_long_for_swift_metadata_is_enametoolong(container, conn, mount):
    m = mount(container)
    ok = "d/" * 100 + "t"                                  # 201 bytes
    os.symlink(ok, m.p("fits"))
    assert os.readlink(m.p("fits")) == ok
    for target in ("x" * 300, "é" * 50):                  # 300 bytes; 100 bytes, 300 encoded
        with pytest.raises(OSError) as ei:
            os.symlink(target, m.p("long"))
        assert ei.value.errno == errno.ENAMETOOLONG
    assert not os.path.lexists(m.p("long"))


def test_a_name_another_client_deleted_is_free_while_the_kernel_holds_it(container, conn,
                                                                         mount):
    """A folder some process has open (a shell's working folder) and a file
    held open are deleted by another client: once the mount sees them gone,
    mkdir and an exclusive create of those names succeed (they said EEXIST
    while ls showed nothing)."""
    conn.put_object(container, "x/f", b"1")
    conn.put_object(container, "y", b"2")
    m = mount(container, opts=["entry_timeout=0", "attr_timeout=0", "negative_timeout=0"])
    dfd = os.open(m.p("x"), os.O_RDONLY | os.O_DIRECTORY)
    f = open(m.p("y"), "rb")
    conn.delete_object(container, "x/f")
    conn.delete_object(container, "y")
    try:
        assert os.listdir(m.path) == []
        os.mkdir(m.p("x"))
        with open(m.p("y"), "xb") as g:
            g.write(b"new")
        assert conn.get_object(container, "y")[1] == b"new"
        assert conn.head_object(container, "x")["content-type"] == "application/directory"
    finally:
        os.close(dfd)
        f.close()
