"""Uploads while the application is still writing (src/fs_stream.c): a file
written in order has its completed segments in Swift before close(), its
MD5s hashed as it was written, and still appears only at close()."""
import errno
import hashlib
import json
import os
import random
import re
import subprocess
import time

import pytest

from conftest import proxied_env

MiB = 1024 * 1024


def seg_names(conn, container):
    try:
        return [o["name"] for o in conn.get_container(container + "_segments")[1]]
    except Exception as ex:  # the segment container does not exist yet
        if getattr(ex, "http_status", None) == 404:
            return []
        raise


def wait_segments(conn, container, n, timeout=20):
    deadline = time.time() + timeout
    segs = seg_names(conn, container)
    while len(segs) < n and time.time() < deadline:
        time.sleep(0.05)
        segs = seg_names(conn, container)
    return segs


def write_in(f, data, step=256 * 1024):
    for i in range(0, len(data), step):
        f.write(data[i:i + step])


def object_missing(conn, container, name):
    try:
        conn.head_object(container, name)
    except Exception as ex:
        return getattr(ex, "http_status", None) == 404
    return False


def manifest_segments(conn, container, name):
    _, body = conn.get_object(container, name, query_string="multipart-manifest=get")
    return [s["name"].split("/", 2)[2] for s in json.loads(body)]


def segment_puts(log):
    return [e for e in log if e["method"] == "PUT" and "_segments/" in e["path"]
            and e["path"].rstrip("/").count("/") > 3]


def wait_live(proxy, seg, timeout=10):
    """The proxy's segment PUTs once the one of segment seg has started."""
    deadline = time.time() + timeout
    while True:
        puts = segment_puts(proxy.log())
        if any(e["path"].endswith("/" + seg) for e in puts) or time.time() > deadline:
            return puts
        time.sleep(0.05)


def test_three_segments_upload_before_close(swift, container, conn, proxy, mount, tmp_path):
    """2.5 segments written and the file kept open: the two completed
    segments are PUT (seen at the proxy and in the segment container)
    while the object itself does not exist yet; close() uploads the last
    segment and the manifest, and swiftclient and the swift CLI read it."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M"])
    data = random.Random(11).randbytes(3 * MiB - 1000)
    f = open(m.p("three.bin"), "wb", buffering=0)
    write_in(f, data[:5 * MiB // 2])
    segs = wait_segments(conn, container, 2)
    assert len(segs) == 2, segs
    assert all(re.match(r"three\.bin/slo/\d+\.\d{6}/1048576/0000000[01]$", s) for s in segs), segs
    # segments 0 and 1 are in; the PUT of segment 2 (half written) is under way
    before_close = wait_live(proxy, "00000002")
    assert sorted((e["path"][-8:], e["status"] or 0) for e in before_close) == \
        [("00000000", 201), ("00000001", 201), ("00000002", 0)], before_close
    assert object_missing(conn, container, "three.bin")    # close-to-open
    write_in(f, data[5 * MiB // 2:])
    f.close()
    # the live PUT of segment 2 was ended and used: no segment PUT again
    puts = segment_puts(proxy.log())
    assert sorted((e["path"][-8:], e["status"]) for e in puts) == \
        [("00000000", 201), ("00000001", 201), ("00000002", 201)], puts
    h, body = conn.get_object(container, "three.bin")
    assert body == data
    assert h["x-static-large-object"] == "True"
    assert float(h["x-object-meta-mtime"]) == pytest.approx(time.time(), abs=120)
    assert manifest_segments(conn, container, "three.bin") == sorted(seg_names(conn, container))
    # what the swift CLI sees and downloads
    env = dict(os.environ, **swift.creds_env())
    out = subprocess.run(["swift", "stat", container, "three.bin"], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    assert re.search(r"Content Length: %d" % len(data), out), out
    dest = str(tmp_path / "dl.bin")
    subprocess.run(["swift", "download", container, "three.bin", "-o", dest], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    with open(dest, "rb") as g:
        assert hashlib.md5(g.read()).hexdigest() == hashlib.md5(data).hexdigest()


def test_seek_back_into_an_uploaded_segment(container, conn, mount):
    """A write into a segment already in Swift: streaming stops, the
    segments up so far are deleted, and close() uploads the file whole;
    the object is exactly what was written and no segment is orphaned."""
    m = mount(container, opts=["segment_size=1M"])
    data = bytearray(random.Random(12).randbytes(3 * MiB + 500))
    f = open(m.p("back.bin"), "wb", buffering=0)
    write_in(f, data[:5 * MiB // 2])
    assert len(wait_segments(conn, container, 2)) == 2
    f.seek(MiB + 4096)                       # inside segment 1, already uploaded
    f.write(b"seek-back")
    data[MiB + 4096:MiB + 4096 + 9] = b"seek-back"
    f.seek(5 * MiB // 2)
    write_in(f, data[5 * MiB // 2:])        # in order again
    f.close()
    h, body = conn.get_object(container, "back.bin")
    assert body == bytes(data)
    assert manifest_segments(conn, container, "back.bin") == sorted(seg_names(conn, container))
    assert len(seg_names(conn, container)) == 4


def test_single_put_md5_hashed_as_written(container, conn, mount):
    """A file up to one segment written in order: one PUT whose ETag (the
    MD5 hashed as the data was written, which Swift checks) is the MD5 of
    the data, with no read of the staged file; a file rewritten in place
    is hashed from the staged file instead, and is right as well."""
    m = mount(container, opts=["segment_size=1M", "log_level=debug"])
    data = random.Random(13).randbytes(MiB)     # exactly one segment: no SLO
    with open(m.p("one.bin"), "wb", buffering=0) as f:
        write_in(f, data, 100000)
    h, body = conn.get_object(container, "one.bin")
    assert body == data and h["etag"] == hashlib.md5(data).hexdigest()
    assert "x-static-large-object" not in h
    assert seg_names(conn, container) == []
    assert "one.bin: uploading 1048576 bytes at close, MD5 hashed as written" in m.log()

    data2 = bytearray(random.Random(14).randbytes(300000))
    with open(m.p("two.bin"), "wb", buffering=0) as f:
        f.write(bytes(data2))
        f.seek(1000)
        f.write(b"rewritten")
        data2[1000:1009] = b"rewritten"
    h, body = conn.get_object(container, "two.bin")
    assert body == bytes(data2) and h["etag"] == hashlib.md5(bytes(data2)).hexdigest()
    assert "two.bin: uploading 300000 bytes at close, MD5 from the file" in m.log()


def test_tail_segment_md5_hashed_as_written(container, conn, mount):
    """The last segment of a streamed file goes up at close with the MD5
    hashed as it was written: Swift accepts it (it would refuse a wrong
    one with 422) and the manifest lists every segment's MD5."""
    m = mount(container, opts=["segment_size=1M", "log_level=debug"])
    data = random.Random(15).randbytes(2 * MiB + 12345)
    with open(m.p("tail.bin"), "wb", buffering=0) as f:
        write_in(f, data, 65536)
    _, body = conn.get_object(container, "tail.bin", query_string="multipart-manifest=get")
    man = json.loads(body)
    want = [hashlib.md5(data[i:i + MiB]).hexdigest() for i in range(0, len(data), MiB)]
    assert [s["hash"] for s in man] == want
    assert conn.get_object(container, "tail.bin")[1] == data
    assert "tail.bin: streamed upload finished (ok)" in m.log()


def test_segment_put_failing_mid_stream(swift, container, conn, proxy, mount):
    """A segment PUT refused while the file is written: close() reports
    EIO, no object and no segment is left, and the staged data is kept;
    the unmount's drain uploads it once Swift answers again. A transient
    failure (one reset) is retried and close() succeeds."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M", "retry_timeout=1"])
    # transient: the first PUT of segment 1 is reset mid-body, the retry lands
    proxy.add_rule(method="PUT", path=r"_segments/ok\.bin/.*/00000001$", action="reset_body",
                   after_bytes=65536, times=1)
    data = random.Random(16).randbytes(3 * MiB + 7)
    with open(m.p("ok.bin"), "wb", buffering=0) as f:
        write_in(f, data)
    assert conn.get_object(container, "ok.bin")[1] == data

    proxy.add_rule(method="PUT", path=r"_segments/bad\.bin/.*/00000001$", action="status",
                   status=503, times=-1)
    data2 = random.Random(17).randbytes(3 * MiB + 9)
    f = open(m.p("bad.bin"), "wb", buffering=0)
    write_in(f, data2)
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno == errno.EIO
    assert object_missing(conn, container, "bad.bin")
    assert not [s for s in seg_names(conn, container) if s.startswith("bad.bin/")]
    assert "the written data is kept in" in m.log()
    proxy.clear()                                  # Swift answers again
    m.unmount()                                    # the drain retries the upload
    assert conn.get_object(container, "bad.bin")[1] == data2
    assert manifest_segments(conn, container, "bad.bin") == \
        sorted(s for s in seg_names(conn, container) if s.startswith("bad.bin/"))


def test_unlink_while_streaming_leaves_nothing(container, conn, mount):
    """A file unlinked while its segments are being uploaded: once closed,
    neither the object nor any segment is left in Swift."""
    m = mount(container, opts=["segment_size=1M"])
    data = random.Random(18).randbytes(3 * MiB)
    f = open(m.p("gone.bin"), "wb", buffering=0)
    write_in(f, data[:5 * MiB // 2])
    assert len(wait_segments(conn, container, 2)) == 2
    os.unlink(m.p("gone.bin"))
    write_in(f, data[5 * MiB // 2:])           # still writing after the unlink
    f.close()
    assert object_missing(conn, container, "gone.bin")
    assert seg_names(conn, container) == []
    assert not os.path.exists(m.p("gone.bin"))


def test_writeback_streams_and_uploads_after_close(container, conn, mount):
    """-o writeback: segments still go up while the file is written; close()
    returns early, and the object appears once the queued upload ran."""
    m = mount(container, opts=["segment_size=1M", "writeback"])
    data = random.Random(19).randbytes(3 * MiB + 3)
    f = open(m.p("wb.bin"), "wb", buffering=0)
    write_in(f, data[:5 * MiB // 2])
    assert len(wait_segments(conn, container, 2)) == 2
    write_in(f, data[5 * MiB // 2:])
    f.close()
    deadline = time.time() + 20
    while object_missing(conn, container, "wb.bin") and time.time() < deadline:
        time.sleep(0.1)
    assert conn.get_object(container, "wb.bin")[1] == data
    assert manifest_segments(conn, container, "wb.bin") == sorted(seg_names(conn, container))


def test_abandoned_live_put_stores_nothing(swift, container, conn, proxy, mount, tmp_path):
    """A live segment PUT dropped without its terminating chunk leaves
    nothing in Swift: when its data is rewritten (the segment then goes up
    from the staged file, and the object is right), and when the daemon is
    killed mid-PUT (only the completed segments exist)."""
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["segment_size=1M", "log_level=debug"])
    data = bytearray(random.Random(20).randbytes(2 * MiB + 300))
    f = open(m.p("re.bin"), "wb", buffering=0)
    write_in(f, data[:3 * MiB // 2])
    puts = wait_live(proxy, "00000001")
    assert sorted(e["path"][-8:] for e in puts) == ["00000000", "00000001"], puts
    f.seek(MiB + 1000)                        # inside segment 1, under its live PUT
    f.write(b"again")
    data[MiB + 1000:MiB + 1005] = b"again"
    deadline = time.time() + 10                # every segment PUT has ended
    while any(e["status"] is None for e in segment_puts(proxy.log())) and time.time() < deadline:
        time.sleep(0.05)
    puts = sorted(segment_puts(proxy.log()), key=lambda e: e["path"])
    assert [e["path"][-8:] for e in puts] == ["00000000", "00000001"], puts
    assert puts[1]["status"] != 201, puts      # the live PUT was dropped...
    assert [s[-8:] for s in seg_names(conn, container)] == ["00000000"]  # ...and stored nothing
    f.seek(3 * MiB // 2)
    write_in(f, data[3 * MiB // 2:])          # in order again
    f.close()
    assert conn.get_object(container, "re.bin")[1] == bytes(data)
    assert "live upload not used" in m.log()
    assert manifest_segments(conn, container, "re.bin") == sorted(seg_names(conn, container))

    # kill -9 while segment 1's PUT is live: it must not be stored
    proxy.clear_log()
    m2 = mount(container, opts=["segment_size=1M", "cache_dir=" + str(tmp_path / "c2")])
    g = open(m2.p("killed.bin"), "wb", buffering=0)
    write_in(g, random.Random(21).randbytes(3 * MiB // 2))
    segs = wait_segments(conn, container, len(seg_names(conn, container)) + 1)
    time.sleep(0.5)                           # the live PUT has sent its half
    m2.proc.kill()
    m2.proc.wait()
    m2.proc.returncode = 0                    # killed on purpose
    try:
        g.close()
    except OSError:
        pass
    subprocess.run(["fusermount3", "-u", m2.path], check=True)
    time.sleep(1)
    killed = [s for s in seg_names(conn, container) if s.startswith("killed.bin/")]
    assert [s[-8:] for s in killed] == ["00000000"], killed
    assert object_missing(conn, container, "killed.bin")


def test_live_put_of_a_paused_writer_gives_up(container, conn, mount):
    """A writer that pauses in the middle of a segment: the live PUT stops
    after a few seconds without data, and the segment goes up complete."""
    m = mount(container, opts=["segment_size=1M", "log_level=debug"])
    data = random.Random(22).randbytes(2 * MiB + 1)
    with open(m.p("slow.bin"), "wb", buffering=0) as f:
        write_in(f, data[:3 * MiB // 2])
        time.sleep(6.5)
        write_in(f, data[3 * MiB // 2:])
    assert conn.get_object(container, "slow.bin")[1] == data
    assert "no data for 5 s, the live upload stops" in m.log()
    assert manifest_segments(conn, container, "slow.bin") == sorted(seg_names(conn, container))


def test_fsync_and_rename_while_a_segment_is_live(container, conn, mount):
    """fsync() while a segment's PUT is live ends it and publishes the
    object (the writes then go on as an ordinary upload at close); a file
    renamed while streamed lands under its new name, whole."""
    m = mount(container, opts=["segment_size=1M", "log_level=debug"])
    data = random.Random(23).randbytes(3 * MiB + 17)
    f = open(m.p("sync.bin"), "wb", buffering=0)
    write_in(f, data[:3 * MiB // 2])
    os.fsync(f.fileno())                        # segment 1 half written, its PUT live
    assert conn.get_object(container, "sync.bin")[1] == data[:3 * MiB // 2]
    write_in(f, data[3 * MiB // 2:])
    f.close()
    assert conn.get_object(container, "sync.bin")[1] == data
    assert manifest_segments(conn, container, "sync.bin") == \
        sorted(s for s in seg_names(conn, container) if s.startswith("sync.bin/"))

    data2 = random.Random(24).randbytes(3 * MiB + 5)
    g = open(m.p("tmp.part"), "wb", buffering=0)
    write_in(g, data2[:5 * MiB // 2])
    os.rename(m.p("tmp.part"), m.p("final.bin"))
    write_in(g, data2[5 * MiB // 2:])
    g.close()
    assert conn.get_object(container, "final.bin")[1] == data2
    assert object_missing(conn, container, "tmp.part")
    assert sorted(os.listdir(m.path)) == ["final.bin", "sync.bin"]
