"""-o writeback: close() returns once data is staged and journaled; uploads
follow in the background; a kill -9 before they finish loses nothing (the
next mount uploads first); fsync() still waits for Swift."""
import errno
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest

from conftest import proxied_env, small_tmpfs



def kill9(m):
    """kill -9 the daemon of mount m and clear its stale mount point."""
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait()
    subprocess.run(["fusermount3", "-u", m.path], check=False)
    m.expect_rc = None                                 # killed on purpose


def wait_objects(conn, container, want, timeout=60):
    """Wait until every name in want is in Swift with its bytes."""
    t0 = time.time()
    while True:
        missing = []
        for name, data in want.items():
            try:
                h = conn.head_object(container, name)
            except Exception:
                missing.append(name)
                continue
            if h.get("etag") != hashlib.md5(data).hexdigest():
                missing.append(name)
        if not missing:
            return
        if time.time() - t0 > timeout:
            raise AssertionError("not in Swift after %ss: %s" % (timeout, missing[:10]))
        time.sleep(0.2)


def test_close_returns_before_upload_and_all_land(swift, container, conn, proxy, mount, tmp_path):
    m = mount(container, opts=["writeback"], use_env_creds=False, env=proxied_env(swift, proxy))
    # every PUT takes 1 s at the proxy: a synchronous close would too
    proxy.add_rule(method="PUT", action="delay", seconds=1.0, times=-1)
    want = {}
    t0 = time.time()
    for i in range(20):
        data = random.Random(i).randbytes(1000 + i)
        with open(m.p("f%02d" % i), "wb") as f:
            f.write(data)
        want["f%02d" % i] = data
    took = time.time() - t0
    assert took < 10, took                         # 20 closes, far less than 20 x 1 s
    # read-after-write in the mount before anything is in Swift
    assert open(m.p("f05"), "rb").read() == want["f05"]
    assert sorted(os.listdir(m.path)) == sorted(want)
    proxy.clear()
    wait_objects(conn, container, want)
    m.unmount()
    assert os.listdir(os.path.join(str(tmp_path), "cache-0", "writeback")) == []


def test_fsync_waits_for_swift(swift, container, conn, mount):
    m = mount(container, opts=["writeback"])
    with open(m.p("synced"), "wb") as f:
        f.write(b"durable")
        f.flush()
        os.fsync(f.fileno())
        # in Swift before close
        assert conn.get_object(container, "synced")[1] == b"durable"


def test_kill9_after_close_then_remount_uploads_first(swift, container, conn, proxy, mount,
                                                      tmp_path):
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    os.mkdir(m.p("d"))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    big = random.Random(9).randbytes(3 * 1024 * 1024)
    want = {"a.txt": b"alpha\n", "d/b.bin": big}
    for name, data in want.items():
        with open(m.p(name), "wb") as f:
            f.write(data)
    recs = os.listdir(os.path.join(cache, "writeback"))
    assert len(recs) == 2, recs
    kill9(m)
    for name in want:
        with pytest.raises(Exception):
            conn.head_object(container, name)
    # the next mount (straight to Swift) uploads them before it serves
    m2 = mount(container, opts=["cache_dir=" + cache])
    for name, data in want.items():
        assert conn.get_object(container, name)[1] == data
        assert open(m2.p(name), "rb").read() == data
    assert os.listdir(os.path.join(cache, "writeback")) == []
    assert "left pending by an earlier mount" in m2.log()


def test_a_record_left_pending_at_start_never_replays_over_a_later_change(
        swift, container, conn, proxy, mount, tmp_path):
    """Records an earlier mount left could not be uploaded at start (Swift
    refusing): this mount then writes one of the files and deletes another.
    The next mount must not replay the old versions over those changes; a
    record nothing touched still goes up."""
    cache = str(tmp_path / "cache")
    opts = ["writeback", "cache_dir=" + cache, "retry_timeout=1"]
    conn.put_object(container, "r", b"r in Swift")
    m = mount(container, opts=opts, use_env_creds=False, env=proxied_env(swift, proxy))
    os.mkdir(m.p("dir"))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    for name in ("w", "u", "keep", "dir/f", "r"):
        with open(m.p(*name.split("/")), "wb") as f:
            f.write(b"old " + name.encode())
    kill9(m)
    m2 = mount(container, opts=opts, use_env_creds=False, env=proxied_env(swift, proxy))
    assert "still not in Swift" in m2.log()
    proxy.clear()                                                         # Swift is back
    conn.put_object(container, "u", b"someone's u")
    with open(m2.p("w"), "wb") as f:
        f.write(b"new w")
    os.unlink(m2.p("u"))
    os.rename(m2.p("dir"), m2.p("dir2"))          # the record follows its folder
    os.rename(m2.p("r"), m2.p("r2"))              # and its file
    m2.unmount()
    assert conn.get_object(container, "w")[1] == b"new w"
    m3 = mount(container, opts=["cache_dir=" + cache])
    assert conn.get_object(container, "w")[1] == b"new w"
    with pytest.raises(Exception):
        conn.head_object(container, "u")
    assert conn.get_object(container, "keep")[1] == b"old keep"
    assert conn.get_object(container, "dir2/f")[1] == b"old dir/f"
    assert conn.get_object(container, "r2")[1] == b"old r"
    assert os.listdir(os.path.join(cache, "writeback")) == []
    assert sorted(os.listdir(m3.path)) == ["dir2", "keep", "r2", "w"]


def test_a_pending_record_outlives_a_change_that_failed(swift, container, conn, proxy, mount,
                                                        tmp_path):
    """A version an earlier mount closed and could not upload is dropped
    by a change of its name through this mount only once that change has
    happened: an rm, a rename onto it or a truncate that Swift refused
    leaves it for the next mount."""
    cache = str(tmp_path / "cache")
    opts = ["writeback", "cache_dir=" + cache, "retry_timeout=1"]
    conn.put_object(container, "report", b"V0")
    conn.put_object(container, "draft", b"draft")
    m = mount(container, opts=opts, use_env_creds=False, env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    with open(m.p("report"), "wb") as f:
        f.write(b"V1, closed")
    kill9(m)
    m2 = mount(container, opts=opts, use_env_creds=False, env=proxied_env(swift, proxy))
    assert "still not in Swift" in m2.log()
    os.stat(m2.p("report"))                    # looked up while Swift answers GETs
    os.stat(m2.p("draft"))
    for method in ("DELETE", "COPY"):
        proxy.add_rule(method=method, action="status", status=503, times=-1)
    for what, call in (("rm", lambda: os.unlink(m2.p("report"))),
                       ("mv", lambda: os.rename(m2.p("draft"), m2.p("report"))),
                       ("truncate", lambda: os.truncate(m2.p("report"), 1))):
        if what == "truncate":
            proxy.add_rule(method="GET", action="status", status=503, times=-1)
        with pytest.raises(OSError):
            call()
        assert len(os.listdir(os.path.join(cache, "writeback"))) == 1, (what, m2.log())
    m2.unmount()
    proxy.clear()                                                         # Swift is back
    mount(container, opts=["cache_dir=" + cache])
    assert conn.get_object(container, "report")[1] == b"V1, closed"
    assert os.listdir(os.path.join(cache, "writeback")) == []


def test_unlink_before_upload_never_resurrects(swift, container, conn, proxy, mount, tmp_path):
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)
    with open(m.p("gone"), "wb") as f:
        f.write(b"x")
    os.unlink(m.p("gone"))
    kill9(m)
    m2 = mount(container, opts=["cache_dir=" + cache])
    assert os.listdir(m2.path) == []
    with pytest.raises(Exception):
        conn.head_object(container, "gone")


def test_write_then_rename_is_uploaded_once(swift, container, conn, mount, tmp_path):
    """zarr and atomic writers write a temporary file, close it, and rename
    it: with writeback the upload waits a moment, so the rename is free and
    the object is PUT once under its final name (no COPY, no DELETE)."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache])
    want = {}
    for i in range(10):
        data = b"chunk %d\n" % i * 100
        tmp = m.p(".tmp.c%d" % i)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, m.p("c%d" % i))
        want["c%d" % i] = data
    wait_objects(conn, container, want)
    m.unmount()
    line = re.findall(r"requests: \d+ listing, \d+ GET, \d+ HEAD, (\d+) PUT, \d+ POST, "
                      r"(\d+) DELETE, (\d+) COPY", m.log())[-1]
    put, delete, copy = (int(x) for x in line)
    assert (put, delete, copy) == (10, 0, 0), line
    assert sorted(o["name"] for o in conn.get_container(container)[1]) == sorted(want)


def test_rename_or_unlink_racing_the_upload_of_a_big_file(swift, container, conn, mount,
                                                         tmp_path):
    """A file whose segments went up while it was written starts the rest
    of its upload at close, so a rename or unlink right after close meets
    an upload starting. Neither may let the upload go out under the old
    name (a rename that moved only the local data, or an unlink that sent
    no DELETE, would leave a stray object and lose the new name)."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "segment_size=1M", "cache_dir=" + cache])
    rnd = random.Random(5)
    want, gone = {}, []
    for i in range(24):
        data = bytes([rnd.randrange(256)]) * (2 * 1024 * 1024 + 4096 * i)
        tmp = m.p(".tmp.big%d" % i)
        with open(tmp, "wb") as f:
            f.write(data)
        if i % 3 == 2:
            os.unlink(tmp)
            gone.append(".tmp.big%d" % i)
        else:
            os.rename(tmp, m.p("big%d" % i))
            want["big%d" % i] = data
    m.unmount()
    names = sorted(o["name"] for o in conn.get_container(container)[1])
    assert names == sorted(want), names
    for name, data in want.items():
        body = conn.get_object(container, name)[1]
        assert body == data, "%s: %d bytes, want %d" % (name, len(body), len(data))


def test_kill9_after_rename_lands_under_the_new_name(swift, container, conn, proxy, mount,
                                                     tmp_path):
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)
    with open(m.p(".tmp.x"), "wb") as f:
        f.write(b"final bytes")
    os.rename(m.p(".tmp.x"), m.p("x"))
    kill9(m)
    m2 = mount(container, opts=["cache_dir=" + cache])
    assert conn.get_object(container, "x")[1] == b"final bytes"
    assert sorted(os.listdir(m2.path)) == ["x"]


def test_kill9_after_chmod_and_touch_keeps_them(swift, container, conn, proxy, mount, tmp_path):
    """A chmod and a touch between close() and the upload are in the
    writeback record too: a crash in that window loses neither."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)
    with open(m.p("f"), "wb") as f:
        f.write(b"0123456789")
    os.chmod(m.p("f"), 0o600)
    os.utime(m.p("f"), (1500000000.25, 1500000000.25))
    kill9(m)
    m2 = mount(container, opts=["cache_dir=" + cache, "exact_attrs"])
    h, body = conn.get_object(container, "f")
    assert body == b"0123456789"
    assert h.get("x-object-meta-mode") == "600", h
    assert float(h.get("x-object-meta-mtime")) == 1500000000.25, h
    st = os.stat(m2.p("f"))
    assert (st.st_mode & 0o777, st.st_mtime, st.st_size) == (0o600, 1500000000.25, 10)


# ------------------------------------ temporary files, without -o writeback

def requests_line(m):
    """(PUT, DELETE, COPY) from the request counts the daemon logs at exit."""
    line = re.findall(r"requests: \d+ listing, \d+ GET, \d+ HEAD, (\d+) PUT, \d+ POST, "
                      r"(\d+) DELETE, (\d+) COPY", m.log())[-1]
    return tuple(int(x) for x in line)


def test_temp_file_renamed_after_close_is_put_once_without_writeback(container, conn, mount):
    """-o temp_names (default *.partial, rsync's .NAME.XXXXXX, *.tmp): a
    temporary file's close() journals its data and its upload waits for the
    rename that follows, which returns once the object is in Swift under
    the final name: one PUT, no COPY, no DELETE."""
    m = mount(container)
    want = {}
    names = [("c%d.%s.partial" % (i, uuid.uuid4().hex), "c%d" % i) for i in range(6)]
    names += [(".r%d.Ab3dE%d" % (i, i), "r%d" % i) for i in range(3)]
    names += [("t.tmp", "t")]
    for i, (tmp, final) in enumerate(names):
        data = b"%s %d\n" % (final.encode(), i) * (i * 700 + 1)
        with open(m.p(tmp), "wb") as f:
            f.write(data)
        os.rename(m.p(tmp), m.p(final))
        # in Swift when rename() returns, as a plain file is when close() does
        h, body = conn.get_object(container, final)
        assert body == data, final
        want[final] = data
    assert sorted(o["name"] for o in conn.get_container(container)[1]) == sorted(want)
    assert sorted(os.listdir(m.path)) == sorted(want)
    m.unmount()
    assert requests_line(m) == (len(names), 0, 0), m.log()[-2000:]


def test_temp_file_left_alone_is_uploaded_and_fsync_waits(container, conn, mount):
    """A temporary file that is not renamed goes up under its own name a
    moment after close(); fsync() of one waits for Swift at once."""
    m = mount(container)
    with open(m.p("x.partial"), "wb") as f:
        f.write(b"left alone")
    wait_objects(conn, container, {"x.partial": b"left alone"}, timeout=10)
    with open(m.p("y.tmp"), "wb") as f:
        f.write(b"synced")
        f.flush()
        os.fsync(f.fileno())
        assert conn.get_object(container, "y.tmp")[1] == b"synced"


def test_temp_names_empty_makes_close_of_a_temp_file_durable(container, conn, mount):
    """-o temp_names= turns the rule off: close() of x.partial waits for
    Swift, and the rename after it is a COPY and a DELETE."""
    m = mount(container, opts=["temp_names="])
    with open(m.p("x.partial"), "wb") as f:
        f.write(b"durable")
    assert conn.get_object(container, "x.partial")[1] == b"durable"
    os.rename(m.p("x.partial"), m.p("x"))
    m.unmount()
    assert requests_line(m) == (1, 1, 1), m.log()[-2000:]
    assert [o["name"] for o in conn.get_container(container)[1]] == ["x"]


def test_kill9_after_close_of_a_temp_file_loses_nothing(swift, container, conn, proxy, mount,
                                                        tmp_path):
    """The journal record written at a temporary file's close() survives a
    kill -9 before the upload: the next mount uploads it first."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    with open(m.p("k.partial"), "wb") as f:
        f.write(b"journaled")
    kill9(m)
    proxy.clear()
    m2 = mount(container, opts=["cache_dir=" + cache])
    assert conn.get_object(container, "k.partial")[1] == b"journaled"
    assert os.listdir(m2.path) == ["k.partial"]


def test_rename_of_a_temp_file_while_swift_fails_reports_it_and_keeps_the_data(
        swift, container, conn, proxy, mount, tmp_path):
    """The rename is where a temporary file's upload is waited for: when
    Swift refuses it, rename() fails with EIO and changes nothing, so the
    program can try again; nothing is lost."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["cache_dir=" + cache, "retry_timeout=1"],
              use_env_creds=False, env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)
    with open(m.p("z.partial"), "wb") as f:
        f.write(b"kept")
    with pytest.raises(OSError) as ei:
        os.rename(m.p("z.partial"), m.p("z"))
    assert ei.value.errno == errno.EIO
    assert os.listdir(m.path) == ["z.partial"]
    assert open(m.p("z.partial"), "rb").read() == b"kept"
    proxy.clear()
    os.rename(m.p("z.partial"), m.p("z"))                  # tried again: lands
    assert conn.get_object(container, "z")[1] == b"kept"
    assert os.listdir(m.path) == ["z"]
    m.unmount()
    assert [o["name"] for o in conn.get_container(container)[1]] == ["z"]


def test_temp_file_written_again_before_its_upload_loses_nothing(swift, container, conn, proxy,
                                                                 mount, tmp_path):
    """A temporary file closed, reopened, written and closed again before
    its queued upload: the second close is journaled too, so a kill -9
    loses neither write."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)
    with open(m.p("a.tmp"), "wb") as f:
        f.write(b"first ")
    with open(m.p("a.tmp"), "ab") as f:
        f.write(b"second")
    kill9(m)
    proxy.clear()
    mount(container, opts=["cache_dir=" + cache])
    assert conn.get_object(container, "a.tmp")[1] == b"first second"


def test_rename_of_a_rewritten_uploaded_temp_file_copies_the_new_bytes(container, conn, mount):
    """A temporary file already in Swift (its delayed upload ran), written
    again and renamed at once: the rename uploads the new bytes first, so
    the final name never gets the old ones."""
    m = mount(container)
    with open(m.p("b.tmp"), "wb") as f:
        f.write(b"old bytes")
    wait_objects(conn, container, {"b.tmp": b"old bytes"}, timeout=10)
    with open(m.p("b.tmp"), "wb") as f:
        f.write(b"new bytes!")
    os.rename(m.p("b.tmp"), m.p("b"))
    assert conn.get_object(container, "b")[1] == b"new bytes!"
    assert [o["name"] for o in conn.get_container(container)[1]] == ["b"]


def put_slo(conn, container, name, parts):
    """An SLO made with python-swiftclient: segments in <container>_segments."""
    conn.put_container(container + "_segments")
    manifest = []
    for i, data in enumerate(parts):
        seg = "%s/slo/1/%d/%08d" % (name, len(parts), i)
        etag = conn.put_object(container + "_segments", seg, data)
        manifest.append({"path": "/%s_segments/%s" % (container, seg), "etag": etag,
                         "size_bytes": len(data)})
    conn.put_object(container, name, json.dumps(manifest),
                    query_string="multipart-manifest=put")


def test_recovery_leaves_another_clients_change_and_keeps_the_data_beside_it(
        swift, container, conn, proxy, mount, tmp_path):
    """Records left by a kill -9; before the next mount another client
    writes two of the objects. Replaying the older data over them would
    lose the other client's change: they stay, and the data goes to a
    conflict copy beside each. An upload that did reach Swift before the
    crash (the record's mtime and size) is no conflict."""
    import urllib.parse
    conn.put_object(container, "old.txt", b"v1")
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    os.stat(m.p("old.txt"))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    names = ("new.txt", "old.txt", "mine.txt", "alone.txt", "same.txt")
    for name in names:
        with open(m.p(name), "wb") as f:
            f.write(b"ours " + name.encode())
    kill9(m)
    wbdir = os.path.join(cache, "writeback")
    recs = {}
    for r in os.listdir(wbdir):
        kv = dict(l.split(" ", 1) for l in open(os.path.join(wbdir, r)).read().splitlines()
                  if " " in l)
        recs[urllib.parse.unquote(kv["object"])] = kv
    conn.put_object(container, "new.txt", b"theirs new")
    conn.put_object(container, "old.txt", b"theirs old")
    # mine.txt: as if its upload had gone through just before the crash
    conn.put_object(container, "mine.txt", b"ours mine.txt",
                    headers={"X-Object-Meta-Mtime": urllib.parse.unquote(
                        recs["mine.txt"]["mtime"])})
    # same.txt: another client's bytes with the same size and mtime (cp -p)
    conn.put_object(container, "same.txt", b"THEIRS same.tx",
                    headers={"X-Object-Meta-Mtime": urllib.parse.unquote(
                        recs["same.txt"]["mtime"])})
    m2 = mount(container, opts=["cache_dir=" + cache])
    assert conn.get_object(container, "new.txt")[1] == b"theirs new"
    assert conn.get_object(container, "old.txt")[1] == b"theirs old"
    assert conn.get_object(container, "mine.txt")[1] == b"ours mine.txt"
    assert conn.get_object(container, "alone.txt")[1] == b"ours alone.txt"
    conf = [o["name"] for o in conn.get_container(container)[1]
            if ".swiftfs-conflict-" in o["name"]]
    assert sorted(n.split(".swiftfs-conflict-")[0] for n in conf) == ["new.txt", "old.txt",
                                                                      "same.txt"]
    for n in conf:
        base = n.split(".swiftfs-conflict-")[0]
        assert conn.get_object(container, n)[1] == b"ours " + base.encode()
        assert open(m2.p(n), "rb").read() == b"ours " + base.encode()
    assert conn.get_object(container, "same.txt")[1] == b"THEIRS same.tx"
    assert m2.log().count("was changed by another client") == 3
    assert os.listdir(wbdir) == []
    assert recs["new.txt"]["base"] == "-" and recs["old.txt"]["base"] == hashlib.md5(
        b"v1").hexdigest()


def test_recovery_over_an_slo_deletes_its_segments(swift, container, conn, proxy, mount,
                                                   tmp_path):
    """An SLO rewritten with writeback, killed before the upload: the next
    mount's recovery replaces the manifest and deletes the segments it
    named, as the upload would have."""
    put_slo(conn, container, "big", [b"a" * 1048576, b"b" * 1000])
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    os.stat(m.p("big"))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    with open(m.p("big"), "wb") as f:
        f.write(b"small now")
    kill9(m)
    m2 = mount(container, opts=["cache_dir=" + cache])                     # straight to Swift
    assert conn.get_object(container, "big")[1] == b"small now"
    assert conn.get_container(container + "_segments")[1] == []
    assert os.listdir(os.path.join(cache, "writeback")) == []
    m2.unmount()


@pytest.mark.parametrize("temp_names", [None, ""], ids=["deferred", "uploaded"])
def test_rename_over_an_slo_deletes_its_segments(container, conn, mount, temp_names):
    """A file renamed over an SLO replaces the manifest; the segments it
    named belong to nothing any more and are deleted, whether the file went
    up at close (a COPY) or at the rename (a temporary file)."""
    put_slo(conn, container, "big", [b"a" * 1048576, b"b" * 1048576, b"c" * 1000])
    m = mount(container, opts=[] if temp_names is None else ["temp_names=" + temp_names])
    # attributes from the listing only (readdirplus), which does not say SLO
    assert [(e.name, e.stat().st_size) for e in os.scandir(m.path)] == [("big", 2 * 1048576
                                                                         + 1000)]
    with open(m.p("big.1234.partial"), "wb") as f:
        f.write(b"small now")
    os.rename(m.p("big.1234.partial"), m.p("big"))
    assert conn.get_object(container, "big")[1] == b"small now"
    segs = [o["name"] for o in conn.get_container(container + "_segments")[1]]
    assert segs == [], segs
    assert [o["name"] for o in conn.get_container(container)[1]] == ["big"]


def wait_log(proxy, method, path_re, timeout=10):
    """Wait until the fault proxy has seen a request (it is under way)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if any(e["method"] == method and re.search(path_re, e["path"]) for e in proxy.log()):
            return
        time.sleep(0.05)
    raise AssertionError("no %s %s reached the proxy" % (method, path_re))


def writeback_mount_with(swift, container, conn, proxy, mount, name, data):
    """A writeback mount through the fault proxy, with object name (data)
    in Swift and known to the mount, and an empty proxy log."""
    m = mount(container, opts=["writeback"], use_env_creds=False, env=proxied_env(swift, proxy))
    conn.put_object(container, name, data)
    os.stat(m.p(name))
    proxy.clear_log()
    return m


def test_rename_onto_a_file_whose_upload_is_under_way_keeps_the_renamed_data(
        swift, container, conn, proxy, mount):
    """mv A B while B's background upload is still on the wire: B's stale PUT
    must land before the rename's COPY, never after it."""
    m = writeback_mount_with(swift, container, conn, proxy, mount, "A", b"content of A")
    proxy.add_rule(method="PUT", path="/B$", action="delay", seconds=2.0, times=1)
    with open(m.p("B"), "wb") as f:
        f.write(b"old B")
    wait_log(proxy, "PUT", "/B$")                     # B's upload is on the wire
    os.rename(m.p("A"), m.p("B"))
    time.sleep(3)                                     # B's delayed PUT is long done
    assert conn.get_object(container, "B")[1] == b"content of A"
    with open(m.p("B"), "rb") as f:
        assert f.read() == b"content of A"
    with pytest.raises(Exception):
        conn.head_object(container, "A")


def test_rename_onto_a_file_whose_upload_is_queued_keeps_the_renamed_data(
        container, conn, mount):
    m = mount(container, opts=["writeback"])
    conn.put_object(container, "A", b"content of A")
    os.stat(m.p("A"))
    with open(m.p("B"), "wb") as f:
        f.write(b"old B")
    os.rename(m.p("A"), m.p("B"))                     # B's upload waits 0.5 s
    time.sleep(2)
    assert conn.get_object(container, "B")[1] == b"content of A"


def test_a_file_renamed_over_an_object_then_removed_or_moved_before_its_upload(
        container, conn, mount):
    """mv tmp x over an object x in Swift, then rm x (or mv x z) before
    tmp's upload: the old x must not stay in Swift."""
    m = mount(container, opts=["writeback"])
    conn.put_object(container, "x", b"old x")
    conn.put_object(container, "y", b"old y")
    assert sorted(os.listdir(m.path)) == ["x", "y"]
    with open(m.p("t1"), "wb") as f:
        f.write(b"new 1")
    os.rename(m.p("t1"), m.p("x"))
    os.unlink(m.p("x"))                               # tmp's upload waits 0.5 s
    with open(m.p("t2"), "wb") as f:
        f.write(b"new 2")
    os.rename(m.p("t2"), m.p("y"))
    os.rename(m.p("y"), m.p("z"))
    assert os.listdir(m.path) == ["z"]
    m.unmount()                                       # the uploads are done
    assert [o["name"] for o in conn.get_container(container)[1]] == ["z"]
    assert conn.get_object(container, "z")[1] == b"new 2"
    m2 = mount(container)
    assert os.listdir(m2.path) == ["z"]


def test_kill9_after_the_manifest_of_a_file_renamed_while_streamed_keeps_its_segments(
        swift, container, conn, proxy, mount, tmp_path):
    """A big file renamed while it is written (its segments stream under the
    old name), killed right after its manifest went up: the next mount's
    recovery must see the manifest under the new name use the segments, and
    keep them."""
    cache = str(tmp_path / "cache")
    opts = ["segment_size=1M", "cache_dir=" + cache]
    m = mount(container, opts=opts, use_env_creds=False, env=proxied_env(swift, proxy))
    data = random.Random(9).randbytes(3 * 1024 * 1024 + 100)
    f = open(m.p("a.bin"), "wb", buffering=0)
    f.write(data[:2 * 1024 * 1024])
    os.rename(m.p("a.bin"), m.p("b.bin"))
    f.write(data[2 * 1024 * 1024:])
    proxy.add_rule(method="HEAD", path="/b.bin$", action="delay", seconds=30, times=1)
    def close():
        try:
            f.close()                 # the manifest goes up, then its check HEAD waits
        except OSError:
            pass
    closer = threading.Thread(target=close)
    closer.start()
    wait_log(proxy, "HEAD", "/b.bin$", timeout=30)
    m.proc.kill()
    m.proc.wait()
    closer.join()
    subprocess.run(["fusermount3", "-u", m.path], check=True)
    m.proc.returncode = 0  # killed on purpose
    assert conn.get_object(container, "b.bin")[1] == data
    m2 = mount(container, opts=opts)  # recovery runs first
    assert conn.get_object(container, "b.bin")[1] == data
    with open(m2.p("b.bin"), "rb") as g:
        assert g.read() == data
    assert os.listdir(os.path.join(cache, "uploads")) == [], m2.log()


def test_unlink_of_a_rewritten_object_never_resurrects_it(swift, container, conn, proxy, mount):
    """An object in Swift, rewritten with writeback, then unlinked while its
    upload is due: the DELETE goes out slowly, and the upload must not
    bring the object back after it."""
    m = writeback_mount_with(swift, container, conn, proxy, mount, "X", b"v1")
    proxy.add_rule(method="DELETE", path="/X$", action="delay", seconds=1.5, times=1)
    with open(m.p("X"), "wb") as f:
        f.write(b"v2")
    time.sleep(0.2)
    os.unlink(m.p("X"))                               # the upload came due meanwhile
    time.sleep(2)
    with pytest.raises(Exception):
        conn.head_object(container, "X")
    assert "X" not in os.listdir(m.path)
    assert not any(e["method"] == "PUT" and e["path"].endswith("/X") for e in proxy.log())


def test_a_rewrite_still_open_is_not_uploaded_by_the_previous_close(
        swift, container, conn, proxy, mount):
    """close, then open again with O_TRUNC and write half: the first close's
    queued upload must not send the half-written version. The truncation
    sends the closed version first (a crash must not lose it), so Swift
    holds it, whole, until the second close."""
    m = mount(container, opts=["writeback"], use_env_creds=False, env=proxied_env(swift, proxy))
    with open(m.p("X"), "wb") as f:
        f.write(b"A" * 100000)
    with open(m.p("X"), "wb") as f:
        f.write(b"B" * 1000)
        f.flush()
        time.sleep(1.5)                               # the first close's upload came due
        assert conn.get_object(container, "X")[1] == b"A" * 100000   # not half of B
        f.write(b"B" * 99000)
    wait_objects(conn, container, {"X": b"B" * 100000})
    puts = [e for e in proxy.log() if e["method"] == "PUT" and e["path"].endswith("/X")]
    assert len(puts) == 2


def test_an_ftruncate_after_close_is_not_uploaded_by_the_previous_close(
        swift, container, conn, proxy, mount):
    """close, open again and ftruncate: the first close's queued upload must
    not send the truncated file, as for a write (the truncation sends the
    closed version first)."""
    m = mount(container, opts=["writeback"], use_env_creds=False, env=proxied_env(swift, proxy))
    with open(m.p("X"), "wb") as f:
        f.write(b"A" * 100000)
    with open(m.p("X"), "r+b") as f:
        f.truncate(0)
        time.sleep(1.5)                               # the first close's upload came due
        assert conn.get_object(container, "X")[1] == b"A" * 100000   # not 0 bytes
        f.write(b"B" * 1000)
    wait_objects(conn, container, {"X": b"B" * 1000})
    puts = [e for e in proxy.log() if e["method"] == "PUT" and e["path"].endswith("/X")]
    assert len(puts) == 2


def test_close_of_a_reader_uploads_nothing(container, conn, mount):
    """Another process opening the file to read it while it is written (a
    `cat`, a backup tool) does not upload the half-written file."""
    m = mount(container)
    with open(m.p("Y"), "wb") as f:
        f.write(b"C" * 5000)
        f.flush()
        with open(m.p("Y"), "rb") as r:
            assert r.read() == b"C" * 5000
        with pytest.raises(Exception):
            conn.head_object(container, "Y")
        f.write(b"D" * 5000)
    assert conn.get_object(container, "Y")[1] == b"C" * 5000 + b"D" * 5000


def test_directory_renamed_before_its_files_upload_takes_them_along(
        swift, container, conn, proxy, mount, tmp_path):
    """mv d e while d/f's upload is queued (Swift refusing PUTs), then kill
    -9: the next mount uploads it as e/f, and d does not come back."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    os.mkdir(m.p("d"))
    with open(m.p("d", "keep"), "wb") as f:
        f.write(b"already in swift")
    wait_objects(conn, container, {"d/keep": b"already in swift"})
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)
    with open(m.p("d", "f"), "wb") as f:
        f.write(b"final bytes")
    proxy.clear()
    proxy.add_rule(method="PUT", path="/[de]/f$", action="status", status=503, times=-1)
    os.rename(m.p("d"), m.p("e"))
    assert sorted(os.listdir(m.p("e"))) == ["f", "keep"]
    kill9(m)
    mount(container, opts=["cache_dir=" + cache])
    wait_objects(conn, container, {"e/f": b"final bytes", "e/keep": b"already in swift"})
    names = sorted(o["name"] for o in conn.get_container(container)[1])
    assert not [n for n in names if n.startswith("d/")], names


def test_a_record_naming_a_file_outside_the_cache_is_not_trusted(container, conn, mount,
                                                                 tmp_path):
    """A hand-made (or hostile) journal record whose staged file lies
    outside the cache folder: nothing is uploaded from it, and the file
    it names is not deleted."""
    cache = tmp_path / "cache"
    (cache / "writeback").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"not swiftfs's file\n")
    (cache / "writeback" / "x.wb").write_text(
        "swiftfs-writeback 1\nsize 19\ncontainer %s\nobject stolen\nstaged %s\n"
        "mtime 1.0\nend\n" % (container, str(victim).replace("/", "%2F")))
    # and a record whose staged file is gone: removed, as there is
    # nothing left to upload
    (cache / "staging").mkdir()
    (cache / "writeback" / "y.wb").write_text(
        "swiftfs-writeback 1\nsize 3\ncontainer %s\nobject gone\nstaged %s\n"
        "mtime 1.0\nend\n" % (container, str(cache / "staging" / "staged-gone")
                               .replace("/", "%2F")))
    m = mount(container, opts=["cache_dir=%s" % cache])
    assert "outside this cache folder" in m.log()
    assert "staged-gone" in m.log() and "is gone" in m.log()
    assert sorted(os.listdir(cache / "writeback")) == ["x.wb"]
    with pytest.raises(Exception):
        conn.head_object(container, "stolen")
    # writing that name (which drops an older pending version) leaves
    # the file the untrusted record names alone too
    with open(m.p("stolen"), "wb") as f:
        f.write(b"mine")
    assert victim.read_bytes() == b"not swiftfs's file\n"


def test_a_second_mount_leaves_a_live_mounts_queued_uploads_alone(swift, container, conn, proxy,
                                                                  mount, tmp_path):
    """Mounts may share a cache folder (the default is one per user). A
    mount that starts while another one's upload is queued (Swift refusing
    it for now) must not take it for an interrupted one: upload it, then
    delete the staged file and record the live mount still uses. Once the
    first mount is gone (kill -9), the next mount recovers it."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    with open(m.p("f"), "wb") as f:
        f.write(b"closed by the first mount\n")
    wbdir = os.path.join(cache, "writeback")
    recs = [n for n in os.listdir(wbdir) if n.endswith(".wb")]
    assert len(recs) == 1, os.listdir(wbdir)
    m2 = mount(container, opts=["writeback", "cache_dir=" + cache])
    m2.unmount()
    assert [n for n in os.listdir(wbdir) if n.endswith(".wb")] == recs
    with pytest.raises(Exception):
        conn.head_object(container, "f")
    assert "left pending by an earlier mount" not in m2.log()
    kill9(m)
    mount(container, opts=["cache_dir=" + cache])       # the owner is gone: recovered
    assert conn.get_object(container, "f")[1] == b"closed by the first mount\n"
    assert [n for n in os.listdir(wbdir) if n.endswith(".wb")] == []
    assert len(os.listdir(wbdir + "-owners")) == 1     # the dead owner's lock is gone


def test_a_reopened_file_keeps_its_closed_version_for_a_crash(swift, container, conn, proxy,
                                                              mount, tmp_path):
    """A closed file whose upload waits (Swift refusing) is opened again:
    an append leaves its record true (a recovery uploads the closed bytes),
    and a write inside the closed bytes is refused until that version is in
    Swift. kill -9 with the append still open: the next mount uploads the
    closed version."""
    cache = str(tmp_path / "cache")
    opts = ["writeback", "cache_dir=" + cache, "retry_timeout=1"]
    m = mount(container, opts=opts, use_env_creds=False, env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", action="status", status=503, times=-1)   # Swift "down"
    with open(m.p("log"), "wb") as f:
        f.write(b"closed version\n")
    fd = os.open(m.p("log"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"appended, never closed\n")
    fd2 = os.open(m.p("log"), os.O_WRONLY)
    with pytest.raises(OSError):                   # inside the closed bytes: up first, fails
        os.pwrite(fd2, b"X", 0)
    assert len(os.listdir(os.path.join(cache, "writeback"))) == 1
    os.kill(m.proc.pid, signal.SIGKILL)            # with the append still open
    m.proc.wait()
    for f in (fd, fd2):
        try:
            os.close(f)
        except OSError:
            pass
    subprocess.run(["fusermount3", "-u", m.path], check=False)
    m.expect_rc = None                             # killed on purpose
    proxy.clear()
    mount(container, opts=["cache_dir=" + cache])
    assert conn.get_object(container, "log")[1] == b"closed version\n"


def test_a_write_inside_a_closed_version_sends_that_version_first(container, conn, mount):
    m = mount(container, opts=["writeback"])
    with open(m.p("db"), "wb") as f:
        f.write(b"A" * 100)
    with open(m.p("db"), "r+b") as f:
        f.write(b"B" * 10)
        f.flush()
        # the closed version is in Swift before the change (not only staged)
        assert conn.get_object(container, "db")[1] == b"A" * 100
    wait_objects(conn, container, {"db": b"B" * 10 + b"A" * 90})


def test_rm_during_a_background_slo_upload_deletes_its_segments(swift, container, conn, proxy,
                                                                 mount):
    """The object was plain when rm looked it up; its upload (held up at the
    manifest PUT) makes it an SLO before the DELETE: the DELETE must take
    the segments too."""
    conn.put_object(container, "big", b"plain before")
    m = mount(container, opts=["writeback", "segment_size=1M"], use_env_creds=False,
              env=proxied_env(swift, proxy))
    assert os.stat(m.p("big")).st_size == len(b"plain before")
    proxy.add_rule(method="PUT", path="multipart-manifest=put", action="delay", seconds=2.0,
                   times=1)
    with open(m.p("big"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 5))
    time.sleep(0.8)                                # the manifest PUT is under way
    os.unlink(m.p("big"))
    with pytest.raises(Exception):
        conn.head_object(container, "big")
    # (had the unlink come first, the upload's own clean-up deletes them: wait for it)
    deadline = time.time() + 20
    while True:
        _, segs = conn.get_container(container + "_segments")
        if not segs or time.time() > deadline:
            break
        time.sleep(0.2)
    assert segs == [], ([s["name"] for s in segs], m.log())


def test_a_failed_append_to_a_closed_file_keeps_it_writable(swift, container, conn, proxy,
                                                            mount, tmp_path):
    """A closed file whose upload waits (Swift refusing) is appended to and
    the staging disk fills: that write and the close fail, the closed
    version stays recorded, and once Swift is back the file can be
    rewritten (the mount goes back to the closed version first)."""
    with small_tmpfs(tmp_path / "small", "2m") as small:
        m = mount(container, opts=["writeback", "cache_dir=%s" % small, "retry_timeout=1"],
                  use_env_creds=False, env=proxied_env(swift, proxy))
        proxy.add_rule(method="PUT", action="status", status=503, times=-1)
        closed = b"c" * 100000
        with open(m.p("f"), "wb") as f:
            f.write(closed)
        f = open(m.p("f"), "ab")
        with pytest.raises(OSError) as ei:
            f.write(b"a" * (4 * 1024 * 1024))
            f.flush()
        assert ei.value.errno == errno.ENOSPC
        with pytest.raises(OSError):
            f.close()
        proxy.clear()                                              # Swift is back
        with open(m.p("f"), "wb") as g:                            # it was ENOSPC for good
            assert conn.get_object(container, "f")[1] == closed   # that version went first
            g.write(b"new")
        wait_objects(conn, container, {"f": b"new"})
        assert "goes back to its last closed version" in m.log()
        m.unmount()
