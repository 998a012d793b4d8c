"""Server failures through a fault-injecting proxy in front of the real
Swift: retries hide transient ones; persistent ones surface as EIO, never
as "no such file"."""
import errno
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import delete_container, proxied_env



def test_transient_503_and_resets_are_retried(swift, container, conn, proxy, mount):
    data = random.Random(5).randbytes(6 * 1024 * 1024)
    conn.put_object(container, "d.bin", data)
    conn.put_object(container, "s.txt", b"small")
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy))
    obj = "/%s/d.bin" % container
    proxy.add_rule(method="GET", path="format=xml", action="status", status=503, times=2)
    assert sorted(os.listdir(m.path)) == ["d.bin", "s.txt"]
    proxy.add_rule(method="HEAD", path=obj, action="reset", times=1)
    proxy.add_rule(method="GET", path=obj, action="status", status=503, times=2)
    proxy.add_rule(method="GET", path=obj, action="reset_body", after_bytes=300000, times=2)
    with open(m.p("d.bin"), "rb") as f:
        assert f.read() == data
    faults = [e for e in proxy.log() if e.get("fault")]
    assert len(faults) >= 7, faults
    assert "retrying" in m.log()


def test_a_stall_gets_a_retry_and_a_slow_copy_is_waited_for(swift, container, conn, proxy,
                                                            mount):
    """A listing that stalls past stall_timeout is tried again on a fresh
    connection even when the stall used up retry_timeout; a COPY, during
    which Swift sends nothing until it is done, waits 20 x stall_timeout."""
    conn.put_object(container, "a.txt", b"alpha")
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["stall_timeout=1", "retry_timeout=1", "small_file=0",
                    "attr_timeout=0", "entry_timeout=0"])
    assert os.listdir(m.path) == ["a.txt"]
    proxy.add_rule(method="GET", path="format=xml", action="delay", seconds=3, times=1)
    assert os.listdir(m.path) == ["a.txt"]
    assert "retrying" in m.log()
    proxy.add_rule(method="COPY", path="/a.txt", action="delay", seconds=3, times=-1)
    os.rename(m.p("a.txt"), m.p("b.txt"))
    assert conn.get_object(container, "b.txt")[1] == b"alpha"
    copies = [e for e in proxy.log() if e["method"] == "COPY"]
    assert len(copies) == 1, copies


def test_mkdir_and_symlink_whose_answer_was_lost_succeed(swift, container, conn, proxy, mount):
    """The create-only PUT of a folder marker (or a symlink) went through
    but its answer was lost: the retry finds the object its first attempt
    made (412 to If-None-Match: *), which is a success, not EEXIST. One
    another client made stays EEXIST."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy))
    proxy.add_rule(method="PUT", path="/%s/d$" % container, action="lose_answer", times=1)
    os.mkdir(m.p("d"))
    assert conn.head_object(container, "d")["content-type"] == "application/directory"
    proxy.add_rule(method="PUT", path="/%s/ln$" % container, action="lose_answer", times=1)
    os.symlink("d", m.p("ln"))
    assert os.readlink(m.p("ln")) == "d"
    puts = [e["status"] for e in proxy.log() if e["method"] == "PUT"]
    assert puts.count(412) == 2, puts
    # another client's marker, made after our listing: same type, other mtime
    conn.put_object(container, "e", b"", content_type="application/directory",
                    headers={"X-Object-Meta-Mtime": "1000000000.000000"})
    with pytest.raises(FileExistsError):
        os.mkdir(m.p("e"))
    assert "e appeared in Swift since it was listed" in m.log()


def test_persistent_errors_are_eio(swift, container, conn, proxy, mount):
    conn.put_object(container, "f.txt", b"content")
    conn.put_object(container, "dir/g.txt", b"g")
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["retry_timeout=1.5", "entry_timeout=0", "attr_timeout=0",
                    "negative_timeout=0"])
    assert sorted(os.listdir(m.path)) == ["dir", "f.txt"]
    proxy.add_rule(method="GET", path="/f.txt", action="status", status=503, times=-1)
    with pytest.raises(OSError) as ei:
        with open(m.p("f.txt"), "rb") as f:
            f.read()
    assert ei.value.errno == errno.EIO
    proxy.clear()
    proxy.add_rule(method="GET", path="format=xml", action="status", status=500, times=-1)
    with pytest.raises(OSError) as ei:
        os.listdir(m.p("dir"))
    assert ei.value.errno == errno.EIO
    with pytest.raises(OSError) as ei:
        os.stat(m.p("dir", "g.txt"))
    assert ei.value.errno == errno.EIO
    proxy.clear()
    assert os.listdir(m.p("dir")) == ["g.txt"]
    with open(m.p("f.txt"), "rb") as f:
        assert f.read() == b"content"


def test_directory_rename_failing_half_way_leaves_source_whole(swift, container, conn, proxy,
                                                              mount):
    for n in ("src2/", "dst2/"):
        conn.put_object(container, n, b"", content_type="application/directory")
    for n in ("a", "b", "c"):
        conn.put_object(container, "src2/" + n, n.encode())
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["retry_timeout=1"])
    os.makedirs(m.p("src", "sub"))
    for n in ("a", "b", "c", "sub/d"):
        with open(m.p("src", *n.split("/")), "wb") as f:
            f.write(n.encode())
    # the third COPY fails for good
    proxy.add_rule(method="COPY", action="status", status=503, times=-1, skip=2)
    with pytest.raises(OSError) as ei:
        os.rename(m.p("src"), m.p("dst"))
    assert ei.value.errno == errno.EIO
    proxy.clear()
    names = {o["name"] for o in conn.get_container(container)[1]}
    # the source is whole: every object still there
    assert {"src", "src/sub", "src/a", "src/b", "src/c", "src/sub/d"} <= names
    for n in ("a", "b", "c", "sub/d"):
        assert conn.get_object(container, "src/" + n)[1] == n.encode()
    assert "renaming" in m.log() and "is intact" in m.log()
    # onto an empty folder whose marker is "dst2/", from one whose marker
    # is "src2/" (the form other tools write): the marker's copy replaces
    # the destination's, and the rollback must not delete it
    proxy.add_rule(method="COPY", action="status", status=503, times=-1, skip=2)
    with pytest.raises(OSError) as ei:
        os.rename(m.p("src2"), m.p("dst2"))
    assert ei.value.errno == errno.EIO
    proxy.clear()
    names = {o["name"] for o in conn.get_container(container)[1]}
    assert "dst2/" in names and not [n for n in names if n.startswith("dst2/") and n != "dst2/"]
    assert {"src2/", "src2/a", "src2/b", "src2/c"} <= names
    assert os.path.isdir(m.p("dst2")) and os.listdir(m.p("dst2")) == []
    # running it again completes it
    os.rename(m.p("src"), m.p("dst"))
    names = {o["name"] for o in conn.get_container(container)[1]}
    assert not any(n == "src" or n.startswith("src/") for n in names), names
    assert {"dst/a", "dst/b", "dst/c", "dst/sub/d"} <= names


def test_body_corrupted_on_the_way_is_eio_and_leaves_nothing(swift, container, conn, proxy,
                                                            mount):
    """A byte flipped between swiftfs and Swift: a small file's PUT carries
    its MD5 (Swift refuses it, 422); a segment is hashed as it is sent and
    checked against the ETag Swift answers. Either way close() is EIO, no
    object appears and no segment is left behind."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M"])
    proxy.add_rule(method="PUT", path="/small.txt$", action="corrupt_body", after_bytes=3,
                   times=1)
    with pytest.raises(OSError) as ei:
        with open(m.p("small.txt"), "wb") as f:
            f.write(b"some small content")
    assert ei.value.errno == errno.EIO
    assert "ETag mismatch" in m.log()

    data = random.Random(9).randbytes(3 * 1024 * 1024 + 7)
    # segment 1 by name: the segments go up in parallel, in no fixed order
    proxy.add_rule(method="PUT", path="_segments/big.bin/.*/00000001$", action="corrupt_body",
                   after_bytes=12345, times=1)
    with pytest.raises(OSError) as ei:
        with open(m.p("big.bin"), "wb", buffering=0) as f:
            for i in range(0, len(data), 256 * 1024):
                f.write(data[i:i + 256 * 1024])
    assert ei.value.errno == errno.EIO
    assert "corrupted on the way" in m.log()
    assert len([e for e in proxy.log() if e.get("flipped")]) == 2
    for name in ("small.txt", "big.bin"):
        with pytest.raises(Exception):
            conn.head_object(container, name)
    assert conn.get_container(container + "_segments")[1] == []


def test_segment_answer_without_etag_is_checked_by_the_manifest(swift, container, conn, proxy,
                                                                mount):
    """A gateway that drops the ETag of segment PUT answers: the upload
    goes on with the MD5 it sent, which the manifest lists, so Swift's SLO
    check still catches a segment corrupted on the way."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M"])
    data = random.Random(10).randbytes(3 * 1024 * 1024 + 5)
    proxy.add_rule(method="PUT", path="_segments/", action="drop_header", header="ETag",
                   times=-1)
    with open(m.p("ok.bin"), "wb", buffering=0) as f:
        for i in range(0, len(data), 256 * 1024):
            f.write(data[i:i + 256 * 1024])
    h, body = conn.get_object(container, "ok.bin")
    assert body == data and h.get("x-static-large-object") == "True"
    assert "corrupted on the way" not in m.log()

    proxy.clear()
    proxy.add_rule(method="PUT", path="_segments/bad.bin/", action="corrupt_body",
                   after_bytes=777, header="ETag", times=1)
    proxy.add_rule(method="PUT", path="_segments/", action="drop_header", header="ETag",
                   times=-1)
    with pytest.raises(OSError) as ei:
        with open(m.p("bad.bin"), "wb", buffering=0) as f:
            for i in range(0, len(data), 256 * 1024):
                f.write(data[i:i + 256 * 1024])
    assert ei.value.errno == errno.EIO
    assert len([e for e in proxy.log() if e.get("flipped")]) == 1
    assert "manifest upload failed" in m.log()
    with pytest.raises(Exception):
        conn.head_object(container, "bad.bin")
    segs = [o["name"] for o in conn.get_container(container + "_segments")[1]]
    assert not [s for s in segs if s.startswith("bad.bin/")], segs


def test_failed_check_after_the_manifest_keeps_the_segments(swift, container, conn, proxy,
                                                            mount):
    """Once the manifest PUT has succeeded, the object is in Swift: a HEAD
    that fails to check it must not delete the segments it serves."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M", "retry_timeout=1"])
    data = random.Random(11).randbytes(3 * 1024 * 1024 + 7)
    proxy.add_rule(method="HEAD", path="/big.bin$", action="status", status=503, times=-1)
    with open(m.p("big.bin"), "wb", buffering=0) as f:
        for i in range(0, len(data), 256 * 1024):
            f.write(data[i:i + 256 * 1024])
    proxy.clear()
    assert "the HEAD that checks it failed" in m.log()
    h, body = conn.get_object(container, "big.bin")
    assert body == data and h.get("x-static-large-object") == "True"
    # the ETag it published is Swift's (computed from the segments' ETags)
    assert os.getxattr(m.p("big.bin"), "user.swift.etag").decode() == h["etag"].strip('"')



def test_a_failed_overwrite_of_an_slo_keeps_the_old_version_whole(swift, container, conn,
                                                                 proxy, mount):
    """A re-upload with the mtime and size of the SLO it replaces (a file
    rewritten in place, its mtime set back before close, as tar and
    cp -p do) must not name its segments like the live ones: a failure
    deletes what it uploaded, and those names were the old version's."""
    import json
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M", "retry_timeout=1"])
    old = random.Random(12).randbytes(3 * 1024 * 1024 + 7)
    conn.put_container(container + "_segments")
    prefix = "big.bin/slo/1700000000.000000/%d/1048576/" % len(old)
    manifest = []
    for i in range(4):
        part = old[i * 1048576:(i + 1) * 1048576]
        etag = conn.put_object(container + "_segments", prefix + "%08d" % i, part)
        manifest.append({"path": "/%s_segments/%s%08d" % (container, prefix, i),
                         "etag": etag, "size_bytes": len(part)})
    conn.put_object(container, "big.bin", json.dumps(manifest),
                    query_string="multipart-manifest=put",
                    headers={"X-Object-Meta-Mtime": "1700000000.000000"})
    assert os.stat(m.p("big.bin")).st_mtime == 1700000000
    proxy.add_rule(method="PUT", path="multipart-manifest=put", action="status", status=503,
                   times=-1)
    with pytest.raises(OSError) as ei:
        with open(m.p("big.bin"), "r+b", buffering=0) as f:
            f.seek(100)
            f.write(b"changed in place")
            os.utime(f.fileno(), (1700000000, 1700000000))
    assert ei.value.errno == errno.EIO
    proxy.clear()
    h, body = conn.get_object(container, "big.bin")
    assert body == old and h.get("x-static-large-object") == "True"
    # and a successful re-upload leaves only its own segments
    with open(m.p("big.bin"), "r+b", buffering=0) as f:
        f.seek(100)
        f.write(b"changed in place")
        os.utime(f.fileno(), (1700000000, 1700000000))
    new = old[:100] + b"changed in place" + old[116:]
    assert conn.get_object(container, "big.bin")[1] == new
    segs = segments_of(conn, container, "big.bin/")
    assert len(segs) == 4 and not [s for s in segs if s.startswith(prefix)], segs


def segments_of(conn, container, prefix):
    try:
        objs = conn.get_container(container + "_segments", full_listing=True)[1]
    except Exception:
        return []
    return [o["name"] for o in objs if o["name"].startswith(prefix)]


def interrupt_upload(conn, container, proxy, m, name, seed):
    """Write 3 MiB to name through m (segment_size=1M, through proxy), hold
    its manifest PUT, and kill -9 the daemon once the segments are up: an
    interrupted SLO upload, its record left in the cache folder."""
    proxy.add_rule(method="PUT", path="multipart-manifest=put", action="delay", seconds=60,
                   times=1)
    f = open(m.p(*name.split("/")), "wb", buffering=0)
    f.write(random.Random(seed).randbytes(3 * 1024 * 1024 + 100))
    t0 = time.time()
    while len(segments_of(conn, container, name + "/")) < 3 and time.time() - t0 < 30:
        time.sleep(0.1)
    os.kill(m.proc.pid, signal.SIGKILL)               # interrupted, record left
    m.proc.wait()
    subprocess.run(["fusermount3", "-uz", m.path], check=False)
    m.expect_rc = None
    try:
        f.close()
    except OSError:
        pass


def test_a_second_mount_leaves_a_live_upload_alone(swift, container, conn, mount, tmp_path):
    """Mounts share a cache folder (the default is one per user): another
    mount's crash recovery must not take an upload still under way for an
    interrupted one and delete its segments."""
    cache = str(tmp_path / "shared")
    other = container + "-2"
    conn.put_container(other)
    try:
        m = mount(container, opts=["segment_size=1M", "cache_dir=" + cache])
        data = random.Random(21).randbytes(3 * 1024 * 1024 + 100)
        with open(m.p("big"), "wb", buffering=0) as f:
            f.write(data)                              # three segments stream up
            t0 = time.time()
            while len(segments_of(conn, container, "big/")) < 3 and time.time() - t0 < 30:
                time.sleep(0.1)
            for c in (other, container):               # both recover at mount
                mount(c, opts=["segment_size=1M", "cache_dir=" + cache])
            assert len(segments_of(conn, container, "big/")) >= 3
        h, body = conn.get_object(container, "big")
        assert body == data and h.get("x-static-large-object") == "True"
    finally:
        delete_container(conn, other)


def test_recovery_of_a_name_with_a_newline_deletes_only_its_own_segments(
        swift, container, conn, proxy, mount, tmp_path):
    """An interrupted upload of `d/a<newline>b`: its record once split the
    name, and recovery deleted every segment under `d/a`, those of the live
    `d/abc` too."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["segment_size=1M", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    os.mkdir(m.p("d"))
    live = random.Random(22).randbytes(3 * 1024 * 1024 + 100)
    with open(m.p("d", "abc"), "wb") as f:
        f.write(live)
    live_segs = segments_of(conn, container, "d/abc/")
    assert live_segs
    interrupt_upload(conn, container, proxy, m, "d/a\nb", 23)
    mount(container, opts=["segment_size=1M", "cache_dir=" + cache])       # recovers
    assert segments_of(conn, container, "d/abc/") == live_segs
    assert conn.get_object(container, "d/abc")[1] == live
    assert segments_of(conn, container, "d/a\nb/") == []                 # its own: gone


def test_recovery_over_a_big_plain_object_deletes_the_orphans(swift, container, conn, proxy,
                                                              mount, tmp_path):
    """An interrupted upload whose name another client then fills with a
    plain object bigger than a manifest could be: recovery asks whether it
    is an SLO with a HEAD, instead of GETting (and giving up on) its body,
    and deletes the orphan segments."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["segment_size=1M", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    interrupt_upload(conn, container, proxy, m, "big", 24)
    assert len(segments_of(conn, container, "big/")) >= 3
    plain = random.Random(25).randbytes(65 * 1024 * 1024)
    conn.put_object(container, "big", plain)
    proxy.clear()
    proxy.clear_log()
    m2 = mount(container, opts=["segment_size=1M", "cache_dir=" + cache], use_env_creds=False,
               env=proxied_env(swift, proxy))
    assert segments_of(conn, container, "big/") == []
    assert "orphan segment" in m2.log()
    gets = [e for e in proxy.log() if e["method"] == "GET" and "/big" in e["path"]]
    assert gets == [], gets
    assert conn.get_object(container, "big")[1] == plain


def test_recovery_leaves_another_accounts_upload_alone(swift, container, conn, proxy, mount,
                                                       tmp_path):
    """The cache folder is one per user by default, and two accounts may
    both have a container of one name: a mount of the other account must
    not take this account's interrupted upload for its own (and drop its
    record, so its segments are never cleaned)."""
    cache = str(tmp_path / "cache")
    m = mount(container, opts=["segment_size=1M", "cache_dir=" + cache], use_env_creds=False,
              env=proxied_env(swift, proxy))
    interrupt_upload(conn, container, proxy, m, "big", 24)
    records = os.listdir(os.path.join(cache, "uploads"))
    assert len(records) == 1, records
    other = swift.conn("test2:tester3", "testing3")
    other.put_container(container)
    try:
        m2 = mount(container, opts=["segment_size=1M", "cache_dir=" + cache],
                   use_env_creds=False, env=swift.creds_env("test2:tester3", "testing3"))
        m2.unmount()
        assert os.listdir(os.path.join(cache, "uploads")) == records  # not its own
    finally:
        delete_container(other, container)
    mount(container, opts=["segment_size=1M", "cache_dir=" + cache])  # its own: recovers
    assert segments_of(conn, container, "big/") == []
    assert os.listdir(os.path.join(cache, "uploads")) == []


@pytest.mark.parametrize("version", [2, 3])
def test_records_of_the_previous_format_are_still_recovered(container, conn, mount, tmp_path,
                                                            version):
    """Upload records written before records named their account
    ("swiftfs-upload 2": segment container, prefix, object) or the name
    the manifest goes to ("swiftfs-upload 3": account, segment container,
    prefix, object) are still recovered: orphan segments deleted, the
    record removed."""
    cache = tmp_path / "cache"
    (cache / "uploads").mkdir(parents=True)
    segc = container + "_segments"
    conn.put_container(segc)
    for i in range(2):
        conn.put_object(segc, "o%%201/slo/1700000000.000000/%08d" % i, b"orphan")
    (cache / "uploads" / "0123456789abcdef0123456789abcdef.upload").write_text(
        "swiftfs-upload %d\n%s%s\no%%25201%%2Fslo%%2F1700000000.000000%%2F\no%%25201\n"
        % (version, "%2Fv1%2FAUTH_test\n" if version == 3 else "", segc))
    m = mount(container, opts=["cache_dir=" + str(cache)])
    m.unmount()
    assert segments_of(conn, container, "o%201/") == []
    assert os.listdir(cache / "uploads") == []


def test_a_manifest_put_whose_answers_are_lost_is_checked_not_undone(swift, container, conn,
                                                                     proxy, mount):
    """Swift stored the SLO manifest but every answer to its PUT was lost:
    a HEAD finds the manifest in place (its ETag is that of our segments),
    so close() succeeds and the segments stay. They were deleted, which
    left an object whose reads fail."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M", "retry_timeout=2"])
    proxy.add_rule(method="PUT", path="multipart-manifest=put", action="lose_answer",
                   times=-1)
    data = os.urandom(3 * 1024 * 1024 + 5)
    with open(m.p("big"), "wb") as f:
        f.write(data)
    proxy.clear()
    assert conn.get_object(container, "big")[1] == data
    assert "its PUT's answer was lost" in m.log()


def test_a_failed_upload_deletes_the_segments_whose_answers_were_lost(swift, container, conn,
                                                                      proxy, mount):
    """A segment Swift stored but whose answers were all lost fails the
    upload; its clean-up deletes that segment too, not only the confirmed
    ones (it was left in <container>_segments for good)."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M", "retry_timeout=2"])
    proxy.add_rule(method="PUT", path="_segments/.*/00000001$", action="lose_answer",
                   times=-1)
    with pytest.raises(OSError):
        with open(m.p("big"), "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024 + 5))
    proxy.clear()
    with pytest.raises(Exception):
        conn.head_object(container, "big")
    _, segs = conn.get_container(container + "_segments")
    assert segs == [], [s["name"] for s in segs]


def test_delete_in_a_stack_versioned_container_is_not_sent_twice(swift, container, conn, archive,
                                                                 proxy, mount):
    """X-Versions-Location (stack mode): a DELETE puts the previous
    version back and takes it out of the archive. One whose answer was
    lost must not be sent again, which would restore, and remove from
    the archive, one version more: the rm fails instead (EIO), and the
    versions are as one DELETE left them."""
    conn.post_container(container, {"X-Versions-Location": archive})
    for i in range(3):
        conn.put_object(container, "v.txt", b"v%d" % i)
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["retry_timeout=5"])
    os.stat(m.p("v.txt"))
    proxy.add_rule(method="DELETE", path="/%s/v.txt$" % container, action="lose_answer",
                   times=1)
    with pytest.raises(OSError) as ei:
        os.unlink(m.p("v.txt"))
    assert ei.value.errno == errno.EIO
    assert conn.get_object(container, "v.txt")[1] == b"v1"
    _, archived = conn.get_container(archive)
    assert len(archived) == 1
    deletes = [e for e in proxy.log() if e["method"] == "DELETE"]
    assert len(deletes) == 1, deletes
