"""The persistent block cache and the small-object path: counted requests
(swiftfs's own counters, logged at unmount), bytes checked against what
Swift holds, caches that survive remounts, damaged blocks, the size bound,
many readers of one object, out-of-band changes."""
import errno
import hashlib
import os
import random
import re
import threading
import time

import pytest

from conftest import drop_caches, proxied_env, run_swiftfs, sha256_file

MiB = 1 << 20
# tests of block geometry (counts of block files, GETs, evictions) say
# their block size: the default may change with what the benchmark shows
BS1 = "block_size=1M"


def counts(m):
    """Request counters of a mount that has exited."""
    line = re.findall(r"requests: (\d+) listing, (\d+) GET, (\d+) HEAD, (\d+) PUT", m.log())
    assert line, m.log()
    lst, get, head, put = (int(x) for x in line[-1])
    return {"listing": lst, "get": get, "head": head, "put": put}


def cache_stats(m):
    line = re.findall(r"block cache: (\d+) hits, (\d+) misses, (\d+) evicted, (\d+) damaged, "
                      r"(\d+) not stored; (\d+) blocks, (\d+) bytes on disk; (\d+) read ahead from disk",
                      m.log())
    assert line, m.log()
    k = ("hits", "misses", "evicted", "damaged", "skipped", "blocks", "bytes", "warmed")
    return dict(zip(k, (int(x) for x in line[-1])))


def zero_copy_hits(m):
    line = re.findall(r"read ahead from disk; (\d+) hits zero-copy", m.log())
    assert line, m.log()
    return int(line[-1])


def block_files(cache_dir):
    out = []
    for root, _dirs, files in os.walk(os.path.join(cache_dir, "blocks")):
        out += [os.path.join(root, f) for f in files if not f.startswith(".")]
    return out


def rand_bytes(n, seed):
    return random.Random(seed).randbytes(n)


read_all = sha256_file


def test_remount_reads_from_disk_without_data_get(container, conn, mount, tmp_path):
    data = rand_bytes(5 * MiB + 123, 1)
    conn.put_object(container, "big", data)
    cache = str(tmp_path / "cache")
    m = mount(container, opts=[BS1, "cache_dir=" + cache])
    assert read_all(m.p("big")) == hashlib.sha256(data).hexdigest()
    m.unmount()
    assert counts(m)["get"] >= 1
    assert len(block_files(cache)) == 6       # 5 whole blocks of 1 MiB and a tail

    drop_caches(3)
    m2 = mount(container, opts=[BS1, "cache_dir=" + cache])
    assert read_all(m2.p("big")) == hashlib.sha256(data).hexdigest()
    m2.unmount()
    c = counts(m2)
    assert c["get"] == 0, m2.log()              # every byte from the cache folder
    assert c["head"] == 1                       # the open still asks what the object is
    assert cache_stats(m2)["hits"] >= 6


def test_checked_blocks_go_to_the_kernel_from_their_files(container, conn, mount, tmp_path):
    """A block already checked by this daemon is answered from its cache
    file (zero-copy, spliced); reads that cross a block boundary, or start
    anywhere, still get the right bytes."""
    data = rand_bytes(5 * MiB + 4321, 11)
    conn.put_object(container, "big", data)
    m = mount(container, opts=["cache_dir=" + str(tmp_path / "cache")])
    assert read_all(m.p("big")) == hashlib.sha256(data).hexdigest()
    drop_caches(3)
    assert read_all(m.p("big")) == hashlib.sha256(data).hexdigest()
    fd = os.open(m.p("big"), os.O_RDONLY)
    try:
        for off, n in ((MiB - 100, 300), (3 * MiB + 7, 70000), (5 * MiB, 9999), (12345, 1)):
            os.system("echo 1 > /proc/sys/vm/drop_caches")
            assert os.pread(fd, n, off) == data[off:off + n], (off, n)
    finally:
        os.close(fd)
    m.unmount()
    assert counts(m)["get"] <= 6, m.log()      # the first read's GETs only
    assert zero_copy_hits(m) >= 6, m.log()


def test_changed_object_is_never_served_from_old_blocks(container, conn, mount, tmp_path):
    cache = str(tmp_path / "cache")
    old = rand_bytes(3 * MiB, 2)
    new = rand_bytes(3 * MiB, 3)                # same size: only the ETag differs
    conn.put_object(container, "o", old)
    m = mount(container, opts=["cache_dir=" + cache, "attr_timeout=30", "entry_timeout=30"])
    with open(m.p("o"), "rb") as f:
        assert f.read() == old
    conn.put_object(container, "o", new)        # behind the mount's back
    with open(m.p("o"), "rb") as f:
        assert f.read() == new
    m.unmount()
    # and in a new mount that has the old version's blocks on disk
    conn.put_object(container, "o", old)
    m2 = mount(container, opts=["cache_dir=" + cache])
    with open(m2.p("o"), "rb") as f:
        assert f.read() == old
    conn.put_object(container, "o", new)
    with open(m2.p("o"), "rb") as f:
        assert f.read() == new


def test_cache_kept_across_a_block_size_change_serves_the_right_bytes(container, conn, mount,
                                                                     tmp_path):
    """5 MiB in 1 MiB blocks, then a mount with 4 MiB blocks on the same
    folder: its block 1 (4-5 MiB) has the length of the old block 1
    (1-2 MiB) but other bytes. None of the old blocks may be served."""
    data = rand_bytes(5 * MiB, 21)
    conn.put_object(container, "o", data)
    cache = str(tmp_path / "cache")
    m = mount(container, opts=[BS1, "cache_dir=" + cache])
    assert read_all(m.p("o")) == hashlib.sha256(data).hexdigest()
    m.unmount()
    m2 = mount(container, opts=["block_size=4M", "cache_dir=" + cache])
    with open(m2.p("o"), "rb") as f:
        f.seek(4 * MiB)
        assert f.read() == data[4 * MiB:]
    assert read_all(m2.p("o")) == hashlib.sha256(data).hexdigest()
    m2.unmount()


def test_size_bound_holds_reading_twice_its_size(container, conn, mount, tmp_path):
    cache = str(tmp_path / "cache")
    data = rand_bytes(16 * MiB, 4)
    conn.put_object(container, "o", data)
    m = mount(container, opts=[BS1, "cache_dir=" + cache, "cache_size=8M"])
    h = hashlib.sha256()
    seen = 0
    with open(m.p("o"), "rb") as f:
        while True:
            b = f.read(MiB)
            if not b:
                break
            h.update(b)
            seen += len(b)
            on_disk = 0
            for p in block_files(cache):
                try:
                    on_disk += os.stat(p).st_blocks * 512
                except FileNotFoundError:
                    pass                        # evicted meanwhile
            assert on_disk <= 8 * MiB, (seen, on_disk)
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    m.unmount()
    st = cache_stats(m)
    assert st["evicted"] >= 8 and st["bytes"] <= 8 * MiB


def test_damaged_blocks_are_fetched_again(container, conn, mount, tmp_path):
    cache = str(tmp_path / "cache")
    data = rand_bytes(4 * MiB, 5)
    conn.put_object(container, "o", data)
    m = mount(container, opts=[BS1, "cache_dir=" + cache])
    assert read_all(m.p("o")) == hashlib.sha256(data).hexdigest()
    m.unmount()
    files = sorted(block_files(cache))
    assert len(files) == 4
    with open(files[0], "r+b") as f:            # a flipped bit in the data
        f.seek(5000)
        b = f.read(1)
        f.seek(5000)
        f.write(bytes([b[0] ^ 1]))
    with open(files[1], "r+b") as f:            # a torn write
        f.truncate(1000)
    drop_caches(3)
    m2 = mount(container, opts=[BS1, "cache_dir=" + cache])
    assert read_all(m2.p("o")) == hashlib.sha256(data).hexdigest()
    m2.unmount()
    assert cache_stats(m2)["damaged"] == 2
    assert counts(m2)["get"] >= 1
    assert "damaged" in m2.log()


def test_many_readers_of_one_object(container, conn, mount, tmp_path):
    data = rand_bytes(12 * MiB + 77, 6)
    conn.put_object(container, "o", data)
    m = mount(container)
    errors = []

    def reader(seed):
        rnd = random.Random(seed)
        try:
            with open(m.p("o"), "rb", buffering=0) as f:
                for _ in range(40):
                    off = rnd.randrange(len(data))
                    n = rnd.randrange(1, 300000)
                    got = os.pread(f.fileno(), n, off)
                    if got != data[off:off + n]:
                        errors.append((seed, off, n))
                if seed % 2 == 0:               # and some read it all in order
                    f.seek(0)
                    if f.read() != data:
                        errors.append((seed, "whole"))
        except OSError as ex:
            errors.append((seed, ex))

    ts = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    m.unmount()
    st = cache_stats(m)
    # one fetch per block: 13 blocks, fetched alone or in runs, never twice
    assert st["misses"] <= 13, st
    assert counts(m)["get"] <= 13


def wait_for(pred, timeout=20.0):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_dense_random_reads_fetch_the_rest_in_large_gets(container, conn, mount, tmp_path):
    """Random reads that keep missing over an object that fits the cache:
    after 4 misses (a sixteenth of the blocks, at least 4) the rest comes in
    the background in runs of read_chunk, not a GET per block."""
    data = rand_bytes(24 * MiB + 5, 7)
    conn.put_object(container, "dense", data)
    cache = str(tmp_path / "cache")
    m = mount(container, opts=[BS1, "cache_dir=" + cache, "debug"])
    with open(m.p("dense"), "rb", buffering=0) as f:
        for blk in (17, 3, 22, 9, 14):        # five random 4 KiB reads, five blocks
            off = blk * MiB + 4096
            assert os.pread(f.fileno(), 4096, off) == data[off:off + 4096]
        # the handle stays open: the rest arrives without a read asking
        assert wait_for(lambda: len(block_files(cache)) == 25), len(block_files(cache))
        rnd = random.Random(8)
        for _ in range(200):
            off = rnd.randrange(len(data) - 4096)
            assert os.pread(f.fileno(), 4096, off) == data[off:off + 4096]
    m.unmount()
    assert "fetching the rest in the background" in m.log()
    # 4 or 5 one-block GETs, then runs of 8 blocks (read_chunk 8M): far
    # fewer than the 25 a GET per block would take, and nothing twice
    assert counts(m)["get"] <= 5 + 5, m.log()
    assert cache_stats(m)["misses"] == 25


@pytest.mark.parametrize("case", ["sparse", "too_big_for_the_cache"])
def test_random_reads_that_stay_sparse_fetch_only_what_they_read(container, conn, mount,
                                                                 tmp_path, case):
    """No prefetch waste: a few random reads over many blocks, or over an
    object larger than half the cache bound, fetch only their blocks."""
    data = rand_bytes(8 * MiB, 9)
    conn.put_object(container, "sparse", data)
    cache = str(tmp_path / "cache")
    # read_chunk of one block: reads a few blocks apart are not taken for
    # a stream (which reads ahead, by design)
    if case == "sparse":       # 128 blocks of 64 KiB: 7 misses are not a sixteenth
        opts, blocks = ["block_size=64K", "read_chunk=64K"], (100, 3, 77, 50, 21, 90, 64)
    else:                       # 8 blocks, but the bound is 4 MiB
        opts, blocks = [BS1, "cache_size=4M", "read_chunk=1M"], (6, 1, 4, 7, 2)
    m = mount(container, opts=["cache_dir=" + cache] + opts)
    bs = 64 * 1024 if case == "sparse" else MiB
    with open(m.p("sparse"), "rb", buffering=0) as f:
        # no kernel read-ahead around each read: the daemon sees the reads
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        for blk in blocks:
            off = blk * bs + 100
            assert os.pread(f.fileno(), 100, off) == data[off:off + 100]
        time.sleep(1.0)                # room for a prefetch that must not happen
    m.unmount()
    assert counts(m)["get"] == len(blocks), m.log()
    if case == "sparse":
        assert len(block_files(cache)) == len(blocks)


def test_remount_warms_cached_blocks_ahead_of_the_reader(container, conn, mount, tmp_path):
    """After a remount and drop_caches, a sequential read of cached blocks
    reads them from disk ahead of the reader (and checks them), with no GET."""
    data = rand_bytes(40 * MiB + 1, 10)
    conn.put_object(container, "warm", data)
    cache = str(tmp_path / "cache")
    m = mount(container, opts=[BS1, "cache_dir=" + cache])
    assert read_all(m.p("warm")) == hashlib.sha256(data).hexdigest()
    m.unmount()
    drop_caches(3)
    m2 = mount(container, opts=[BS1, "cache_dir=" + cache, "debug"])
    assert read_all(m2.p("warm")) == hashlib.sha256(data).hexdigest()
    m2.unmount()
    assert counts(m2)["get"] == 0, m2.log()
    st = cache_stats(m2)
    assert st["damaged"] == 0
    # all but the first few blocks were read from disk by pool jobs ahead
    assert st["warmed"] >= 30, st


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def test_block_reaches_its_reader_before_its_get_ends(swift, container, conn, proxy, mount,
                                                      tmp_path):
    """A block is cached and handed to its readers once its last byte is
    in, not when the whole GET it belongs to ends: with the read-ahead GET
    of blocks 1-8 stalled by the server in the middle of block 2, a read of
    block 1 returns at once and only a read of block 2 waits."""
    data = rand_bytes(12 * MiB, 12)
    conn.put_object(container, "stall", data)
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=[BS1, "cache_dir=" + str(tmp_path / "cache"), "read_chunk=8M"])
    os.stat(m.p("stall"))
    proxy.add_rule(method="GET", path="/stall$", range="^bytes=%d-" % MiB, action="stall_body",
                   after_bytes=MiB + MiB // 2, seconds=4, times=1)
    t0 = time.monotonic()
    with open(m.p("stall"), "rb", buffering=0) as f:
        assert f.read(65536) == data[:65536]          # block 0; blocks 1-8 read ahead
        off = MiB + 100
        assert os.pread(f.fileno(), 4096, off) == data[off:off + 4096]
        block1 = time.monotonic() - t0
        off = 2 * MiB + 100
        assert os.pread(f.fileno(), 4096, off) == data[off:off + 4096]
        block2 = time.monotonic() - t0
        f.seek(0)
        assert f.read() == data
    stalled = [e for e in proxy.log() if e.get("fault") == "stall_body"]
    assert len(stalled) == 1, proxy.log()
    # the stall applied (block 2 waited for it); block 1 did not wait
    assert block2 >= 3.5, (block1, block2)
    assert block1 < 2.0, (block1, block2)
    m.unmount()


def test_failing_read_ahead_is_not_retried_in_a_loop(swift, container, conn, proxy, mount,
                                                    tmp_path):
    """Read-ahead GETs that fail (here every GET past block 0 gets a 404,
    as after a delete) are not queued again by themselves while the file
    stays open and idle: only reads queue read-ahead after a failure."""
    data = rand_bytes(24 * MiB, 14)
    conn.put_object(container, "loop", data)
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["cache_dir=" + str(tmp_path / "cache")])
    os.stat(m.p("loop"))
    proxy.add_rule(method="GET", path="/loop$", range="^bytes=[1-9]", action="status",
                   status=404, times=-1)
    with open(m.p("loop"), "rb", buffering=0) as f:
        assert f.read(4096) == data[:4096]
        assert f.read(4096) == data[4096:8192]
        time.sleep(2)
    failed = [e for e in proxy.log() if e.get("fault") == "status"]
    assert 0 < len(failed) < 40, len(failed)
    m.unmount()


def test_read_ahead_memory_is_one_block_per_get(container, conn, mount, tmp_path):
    """However large read_chunk and read_ahead are, a read-ahead GET holds
    one cache block in memory, not the whole range it asks for: reading
    64 MiB with 32 MiB GETs, 64 MiB ahead, leaves the daemon's peak RSS far
    below one such GET."""
    data = rand_bytes(64 * MiB, 13)
    conn.put_object(container, "big", data)
    # (under AddressSanitizer, freed memory goes to a quarantine instead of
    # back to malloc: none here, so both builds measure the same thing)
    m = mount(container, opts=["cache_dir=" + str(tmp_path / "cache"), "read_chunk=32M",
                               "read_ahead=64M", "workers=4"],
              env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86:"
                                   "quarantine_size_mb=0"})
    os.stat(m.p("big"))
    before = peak_rss_kib(m.proc.pid)
    assert read_all(m.p("big")) == hashlib.sha256(data).hexdigest()
    grew = peak_rss_kib(m.proc.pid) - before
    m.unmount()
    assert grew < 24 * 1024, "peak RSS grew by %d KiB" % grew


def test_cache_off_keeps_no_data(container, conn, mount, tmp_path):
    cache = str(tmp_path / "cache")
    # several read_chunk (8 MiB) slots: a sequential read runs through the
    # read-ahead of the slot path, not only the first chunk
    data = rand_bytes(26 * MiB + 500, 7)
    conn.put_object(container, "o", data)
    conn.put_object(container, "small", b"tiny")
    m = mount(container, opts=["cache_dir=" + cache, "cache=off"])
    assert read_all(m.p("o")) == hashlib.sha256(data).hexdigest()
    with open(m.p("small"), "rb") as f:
        assert f.read() == b"tiny"
    m.unmount()
    assert block_files(cache) == []
    assert "block cache:" not in m.log()


def test_small_files_cost_one_get_each(container, conn, mount):
    for i in range(30):
        conn.put_object(container, "d/f%02d" % i, b"%d" % i * 100,
                        headers={"X-Object-Meta-Mtime": "1000000000.5"})
    conn.put_object(container, "e/g", b"g" * 100, headers={"X-Object-Meta-Mtime": "1000000000.5"})
    conn.put_object(container, "e/h", b"h" * 100, headers={"X-Object-Meta-Mtime": "1000000000.5"})
    m = mount(container)
    names = sorted(os.listdir(m.p("d")))
    for name in names:
        with open(m.p("d", name), "rb") as f:
            assert f.read() == b"%d" % int(name[1:]) * 100
    # looked up, not listed: the open's GET brings the stored mtime
    with open(m.p("e", "g"), "rb") as f:
        assert f.read() == b"g" * 100
    assert os.stat(m.p("e", "g")).st_mtime == 1000000000.5
    m.unmount()
    c = counts(m)
    assert c["get"] == 31 and c["head"] == 0, c
    # a stat then a read: the lookup's GET serves both
    m2 = mount(container)
    assert os.stat(m2.p("e", "h")).st_mtime == 1000000000.5
    with open(m2.p("e", "h"), "rb") as f:
        assert f.read() == b"h" * 100
    m2.unmount()
    c = counts(m2)
    assert c["get"] == 1 and c["head"] == 0, c


def test_reopen_reads_the_new_size_at_once(container, conn, mount):
    # An out-of-band overwrite that grows the object: the open that sees
    # the new ETag must leave the kernel no old size, even for a read that
    # follows the open at once (CI once read b'secon' of b'second!').
    m = mount(container)
    conn.put_object(container, "g", b"x")
    with open(m.p("g"), "rb") as f:
        assert f.read() == b"x"
    # One CPU for the daemon's threads and this test: the reply to open()
    # wakes the reader, which then runs before the daemon's next step
    # (without this, the old order failed once in hundreds of opens).
    cpu = {min(os.sched_getaffinity(0))}
    before = os.sched_getaffinity(0)
    for tid in os.listdir("/proc/%d/task" % m.proc.pid):
        os.sched_setaffinity(int(tid), cpu)
    os.sched_setaffinity(0, cpu)
    try:
        reopen_grown(conn, container, m)
    finally:
        os.sched_setaffinity(0, before)


def reopen_grown(conn, container, m):
    for i in range(2, 200):
        body = b"%d" % i * i
        conn.put_object(container, "g", body)
        fd = os.open(m.p("g"), os.O_RDONLY)
        try:
            got = os.read(fd, 4096)
        finally:
            os.close(fd)
        assert got == body, (i, got)


def test_small_file_reopened_is_revalidated_not_refetched(container, conn, mount):
    conn.put_object(container, "s", b"first")
    m = mount(container)
    for _ in range(5):
        with open(m.p("s"), "rb") as f:
            assert f.read() == b"first"
    conn.put_object(container, "s", b"second!")
    with open(m.p("s"), "rb") as f:
        assert f.read() == b"second!"
    m.unmount()
    c = counts(m)
    # first open: GET; four reopens: If-None-Match (304, counted as GET,
    # no body); after the change: GET
    assert c["get"] == 6 and c["head"] == 0, c
    assert re.search(r"(\d+) bytes in", m.log())


def bytes_in(m):
    line = re.findall(r"(\d+) bytes in", m.log())
    assert line, m.log()
    return int(line[-1])


def test_small_files_come_from_the_cache_after_a_remount(container, conn, mount, tmp_path):
    """Small files read by one mount are not downloaded again by the next
    one on the same cache folder: each lookup asks with If-None-Match, and
    the 304 (which carries the object's metadata) brings no body, and
    metadata changed meanwhile under the same ETag is seen."""
    cache = str(tmp_path / "cache")
    files = {"z/c%02d" % i: rand_bytes(40000 + i, 100 + i) for i in range(20)}
    for name, body in files.items():
        conn.put_object(container, name, body, headers={"X-Object-Meta-Mtime": "1000000000.5"})
    m = mount(container, opts=["cache_dir=" + cache])
    for name, body in files.items():
        with open(m.p(name), "rb") as f:
            assert f.read() == body
    m.unmount()
    assert bytes_in(m) >= sum(len(b) for b in files.values())
    # metadata only, behind the mount's back: the ETag stays
    conn.post_object(container, "z/c07", headers={"X-Object-Meta-Mtime": "1200000000.25"})
    drop_caches(3)
    m2 = mount(container, opts=["cache_dir=" + cache])
    for name, body in sorted(files.items()):
        with open(m2.p(name), "rb") as f:
            assert f.read() == body
    assert os.stat(m2.p("z/c07")).st_mtime == 1200000000.25
    assert os.stat(m2.p("z/c08")).st_mtime == 1000000000.5
    m2.unmount()
    c = counts(m2)
    assert c["head"] == 0, c
    assert bytes_in(m2) < 20000, m2.log()       # the listing; no object bodies
    assert cache_stats(m2)["hits"] >= 20, m2.log()


@pytest.mark.parametrize("opt,name", [("block_size=100K", "block_size"),
                                      ("cache=maybe", "cache"),
                                      ("cache_size=1K", "cache_size")])
def test_bad_cache_options_are_refused(swift, container, tmp_path, opt, name):
    p = run_swiftfs(["-o", opt, container, str(tmp_path)], swift.creds_env())
    assert p.returncode != 0
    assert "invalid value for option '%s'" % name in p.stderr, p.stderr


def test_recursive_walk_lists_the_subtree_at_once(container, conn, mount):
    """ls -lR of 20 directories of 10 objects: the walk lists the tree
    once without a delimiter instead of once per directory."""
    names = []
    for d in range(20):
        for f in range(10):
            names.append("top/d%02d/f%02d" % (d, f))
    names += ["top/d00/sub/deep.txt", "top/d03/e/f/g.txt"]
    for n in names:
        conn.put_object(container, n, n.encode())
    m = mount(container)
    out = []
    for root, dirs, files in os.walk(m.p("top")):
        for f in files:
            p = os.path.join(root, f)
            out.append(os.path.relpath(p, m.path))
            assert os.lstat(p).st_size == len(os.path.relpath(p, m.path))
    assert sorted(out) == sorted(names)
    m.unmount()
    c = counts(m)
    # root, top/, then one subtree listing of top/ (two pages: the
    # second is the empty one that proves the end), nothing per directory
    assert c["listing"] <= 4, c
    assert c["head"] == 0 and c["get"] == 0, c


def test_a_walk_then_folder_renames_never_list_a_moved_folder(container, conn, mount):
    """A walk keeps the listings of a whole subtree; folders renamed
    through the mount right after must not be listed from them."""
    for n in ("p/a/1", "p/a/2", "p/c/3", "p/x/y"):
        conn.put_object(container, n, b"x")
    m = mount(container, opts=["entry_timeout=30"])
    assert sorted(os.listdir(m.p("p"))) == ["a", "c", "x"]
    assert os.listdir(m.p("p", "x")) == ["y"]          # a walk: p's subtree is kept
    os.rename(m.p("p", "a"), m.p("p", "b"))
    os.rename(m.p("p", "c"), m.p("p", "a"))
    assert os.listdir(m.p("p", "a")) == ["3"]
    assert sorted(os.listdir(m.p("p", "b"))) == ["1", "2"]


def test_attributes_survive_the_kernel_forgetting_inodes(container, conn, mount):
    """Memory pressure (here drop_caches) makes the kernel forget inodes;
    a chmod or touch made through the mount must not revert to the
    listing's attributes when the path is looked up again, and the inode
    number must stay."""
    m = mount(container)
    os.makedirs(m.p("a", "b"))
    for i in range(5):
        p = m.p("a", "b", "f%d" % i)
        with open(p, "wb") as f:
            f.write(b"x" * (i + 1))
        os.chmod(p, 0o600 + i)
        os.utime(p, (1000000000 + i, 1000000000 + i))
    before = {n: os.lstat(m.p("a", "b", n)) for n in os.listdir(m.p("a", "b"))}
    for _ in range(3):
        drop_caches(2)
        after = {n: os.lstat(m.p("a", "b", n)) for n in os.listdir(m.p("a", "b"))}
        for n, st in before.items():
            assert (after[n].st_mode, after[n].st_mtime, after[n].st_ino) == \
                (st.st_mode, st.st_mtime, st.st_ino), n


def test_handles_on_two_versions_never_read_each_others_bytes(container, conn, mount):
    """A handle still open on the old version keeps filling the kernel's
    pages with it; a handle opened on the new version (same size, so no
    attribute change drops them) must never read those pages."""
    n = 3 * 1024 * 1024
    conn.put_object(container, "v.bin", b"A" * n)
    m = mount(container)
    f1 = os.open(m.p("v.bin"), os.O_RDONLY)
    try:
        assert os.pread(f1, n, 0) == b"A" * n
        conn.put_object(container, "v.bin", b"B" * n)      # same size, new ETag
        f2 = os.open(m.p("v.bin"), os.O_RDONLY)            # close-to-open: sees B
        try:
            assert os.pread(f1, 1 << 20, 0) == b"A" * (1 << 20)   # old pages again
            assert os.pread(f2, 1 << 20, 0) == b"B" * (1 << 20)
            assert os.pread(f2, 1 << 20, 2 << 20) == b"B" * (1 << 20)
            f3 = os.open(m.p("v.bin"), os.O_RDONLY)
            try:
                assert os.pread(f3, n, 0) == b"B" * n
            finally:
                os.close(f3)
            assert os.pread(f1, n, 0) == b"A" * n          # the old handle's version
        finally:
            os.close(f2)
    finally:
        os.close(f1)
    # all old handles closed: the next open drops the old pages
    with open(m.p("v.bin"), "rb") as f:
        assert f.read() == b"B" * n


def test_background_fill_stops_when_its_gets_fail(swift, container, conn, proxy, mount,
                                                  tmp_path):
    """Dense random reads start fetching the whole object; when that
    object's GETs start failing (replaced: 412), the fill stops instead of
    walking the rest of the object one failed GET after another."""
    data = rand_bytes(32 * MiB, 12)
    conn.put_object(container, "dense-fail", data)
    m = mount(container, opts=["cache_dir=" + str(tmp_path / "cache"), "read_chunk=1M",
                               "read_ahead=4M"],
              use_env_creds=False, env=proxied_env(swift, proxy))
    proxy.clear_log()
    # the four reads' own GETs pass; every GET after them is refused
    proxy.add_rule(method="GET", path="/dense-fail$", action="status", status=412, skip=4,
                   times=-1)
    with open(m.p("dense-fail"), "rb", buffering=0) as f:
        for blk in (17, 3, 22, 9):            # the fourth miss starts the fill
            off = blk * MiB + 4096
            assert os.pread(f.fileno(), 4096, off) == data[off:off + 4096]
        time.sleep(2)
    gets = [e for e in proxy.log() if e["method"] == "GET" and e["path"].endswith("/dense-fail")]
    # 4 reads, then at most one round of read_ahead / read_chunk runs (4)
    # before the first failure stops the fill: not the 28 blocks left
    assert 5 <= len(gets) <= 4 + 6, len(gets)


def test_read_ahead_queued_at_close_is_dropped(swift, container, conn, proxy, mount, tmp_path):
    """Read-ahead GETs still queued when the file is closed are dropped,
    not fetched for nobody (and the release does not wait for them)."""
    data = rand_bytes(32 * MiB, 13)
    conn.put_object(container, "ahead", data)
    m = mount(container, opts=["cache_dir=" + str(tmp_path / "cache"), "read_chunk=1M",
                               "read_ahead=8M", "workers=1"],
              use_env_creds=False, env=proxied_env(swift, proxy))
    proxy.clear_log()
    proxy.add_rule(method="GET", path="/ahead$", action="delay", seconds=0.5, times=-1)
    with open(m.p("ahead"), "rb", buffering=0) as f:
        for i in range(4):                    # a sequential streak: the window fills
            assert f.read(256 * 1024) == data[i * 256 * 1024:(i + 1) * 256 * 1024]
    time.sleep(5)                             # long enough for every queued run
    proxy.clear()
    gets = [e for e in proxy.log() if e["method"] == "GET" and e["path"].endswith("/ahead")]
    # one worker: the read's own GET and the run on the wire at close, not
    # the runs still queued behind it
    assert len(gets) <= 4, len(gets)


def test_a_read_does_not_wait_behind_other_files_read_ahead(swift, container, conn, proxy,
                                                             mount, tmp_path):
    """With one transfer thread busy on a slow file's read-ahead, another
    file's read-ahead waits in the queue behind it. A read of a block that
    such a queued fetch holds runs that fetch itself instead of waiting
    (every GET of the slow file takes 2 s)."""
    slow, fast = rand_bytes(16 * MiB, 15), rand_bytes(8 * MiB, 16)
    conn.put_object(container, "slowb", slow)
    conn.put_object(container, "a", fast)
    m = mount(container, opts=[BS1, "cache_dir=" + str(tmp_path / "cache"), "read_chunk=1M",
                               "read_ahead=4M", "workers=1"],
              use_env_creds=False, env=proxied_env(swift, proxy))
    os.stat(m.p("slowb"))
    os.stat(m.p("a"))
    proxy.add_rule(method="GET", path="/slowb$", action="delay", seconds=2, times=-1)
    stop = threading.Event()

    def read_slow():
        with open(m.p("slowb"), "rb", buffering=0) as f:
            for i in range(16):
                if stop.is_set():
                    break
                assert f.read(MiB) == slow[i * MiB:(i + 1) * MiB]

    t = threading.Thread(target=read_slow)
    t.start()
    try:
        time.sleep(1)                  # its read-ahead holds the one worker, and queues
        t0 = time.time()
        with open(m.p("a"), "rb", buffering=0) as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            got = b"".join(iter(lambda: f.read(MiB), b""))
        took = time.time() - t0
    finally:
        stop.set()
        proxy.clear()
        t.join()
    assert got == fast
    # waiting behind the slow file's queued GETs would take 4 s or more
    assert took < 2.0, took


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_read_failing_past_a_block_boundary_is_an_error_not_eof(swift, container, conn,
                                                                   proxy, mount, tmp_path,
                                                                   cache):
    """A kernel read that starts in a block (or chunk) the mount has and
    ends in one whose GET fails must fail: a short answer is end of file to
    the kernel, which then shrinks the file (cp would copy a truncated
    file, exit 0)."""
    data = rand_bytes(4 * MiB, 21)
    conn.put_object(container, "two", data)
    # every GET from the second MiB on fails
    proxy.add_rule(method="GET", path="/two$", range="^bytes=(1048576|[2-9][0-9]{6})-",
                   action="status", status=503, times=-1)
    opts = ["retry_timeout=1", "cache_dir=" + str(tmp_path / "cache"), "read_chunk=1M"]
    opts += ["cache=off"] if cache == "off" else ["block_size=1M"]
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy), opts=opts)
    if cache == "on":
        with open(m.p("two"), "rb", buffering=0) as f:
            assert f.read(MiB - 64 * 1024) == data[:MiB - 64 * 1024]
        m.unmount()          # the first block stays in the cache, the kernel forgets its pages
        m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy), opts=opts)
    # O_DIRECT: the kernel asks for the range as it is, not page-cache
    # reads that it may cut at the block boundary itself
    fd = os.open(m.p("two"), os.O_RDONLY | os.O_DIRECT)
    try:
        if cache == "off":   # read in order: the first chunk is kept, the next one fails
            assert os.pread(fd, MiB - 64 * 1024, 0) == data[:MiB - 64 * 1024]
        with pytest.raises(OSError) as ei:
            got = os.pread(fd, 128 * 1024, MiB - 64 * 1024)
            raise AssertionError("read %d bytes, no error" % len(got))
        assert ei.value.errno == errno.EIO
    finally:
        os.close(fd)
    assert os.stat(m.p("two")).st_size == 4 * MiB
    proxy.clear()
    with open(m.p("two"), "rb") as f:
        assert f.read() == data
