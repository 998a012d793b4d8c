"""A seeded random-operation exerciser on one file, checked against a local
reference after every operation, in Swift and after a remount; and server
faults during uploads (the previous version stays, close() fails with EIO,
no segments are left behind)."""
import collections
import errno
import os
import random
import re
import time

import pytest


SEG = 1 << 20
MAX_SIZE = 5 * SEG + 12345       # a few MiB: several SLO segments
N_OPS = 1500


def swift_bytes(conn, container, name):
    return conn.get_object(container, name)[1]


def slo_segment_names(conn, container, name):
    """Segment object names (container/object) of the SLO name, or []."""
    h = conn.head_object(container, name)
    if h.get("x-static-large-object") != "True":
        return []
    import json
    man = json.loads(conn.get_object(container, name,
                                     query_string="multipart-manifest=get")[1])
    return sorted(s["name"].lstrip("/") for s in man)


def segment_listing(conn, container):
    try:
        _, objs = conn.get_container(container + "_segments", full_listing=True)
    except Exception:  # noqa: BLE001 - no segment container yet
        return []
    return sorted(o["name"] for o in objs)


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(0, n, 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            for j in range(i, min(i + 4096, n)):
                if a[j] != b[j]:
                    return j
    return n if len(a) != len(b) else -1


class Exerciser:
    def __init__(self, m, conn, container, name, seed):
        self.m, self.conn, self.container, self.name = m, conn, container, name
        self.path = m.p(name)
        self.seed = seed
        self.rnd = random.Random(seed)
        self.ref = bytearray()
        self.fd = None
        self.append = False
        self.ops = collections.deque(maxlen=25)
        self.counts = collections.Counter()
        self.i = 0

    # -- failure reporting
    def fail(self, msg):
        log = self.m.log()
        pytest.fail("exerciser seed=%d (rerun with SWIFTFS_EXERCISER_SEED=%d), op #%d: %s\n"
                    "last operations:\n  %s\nswiftfs log tail:\n%s"
                    % (self.seed, self.seed, self.i, msg, "\n  ".join(self.ops), log[-3000:]))

    def note(self, text):
        self.ops.append("#%d %s" % (self.i, text))

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)

    def check_bytes(self, got, want, what):
        if got != want:
            self.fail("%s: %d bytes read, %d expected, first difference at %d"
                      % (what, len(got), len(want), first_diff(got, want)))

    # -- operations
    def open(self, flags_note=""):
        flags = os.O_RDWR | os.O_CREAT
        r = self.rnd.random()
        self.append = False
        if r < 0.15:
            flags |= os.O_TRUNC
            self.ref = bytearray()
            flags_note += " O_TRUNC"
        elif r < 0.40:
            flags |= os.O_APPEND
            self.append = True
            flags_note += " O_APPEND"
        self.note("open%s" % flags_note)
        try:
            self.fd = os.open(self.path, flags, 0o644)
        except OSError as e:
            self.fail("open(%s) failed: %r" % (flags_note, e))

    def close(self):
        self.note("close (size %d)" % len(self.ref))
        try:
            os.close(self.fd)
        except OSError as e:
            self.fail("close failed: %r" % e)
        self.fd = None
        self.counts["close"] += 1
        self.counts["slo-upload"] += len(self.ref) > SEG
        # close returns once the object is in Swift
        st = os.stat(self.path)
        self.check(st.st_size == len(self.ref),
                   "stat after close: size %d, expected %d" % (st.st_size, len(self.ref)))
        if self.rnd.random() < 0.35:
            self.check_bytes(swift_bytes(self.conn, self.container, self.name), bytes(self.ref),
                             "Swift object after close")
            self.counts["swift-check"] += 1

    def write_size(self):
        r = self.rnd.random()
        if r < 0.45:
            return self.rnd.randint(1, 100)
        if r < 0.85:
            return self.rnd.randint(101, 64 * 1024)
        return self.rnd.randint(64 * 1024, SEG + SEG // 4)

    def op_write(self):
        size = len(self.ref)
        n = self.write_size()
        data = self.rnd.randbytes(n)
        if self.append:
            if size + n > MAX_SIZE:
                n = max(0, MAX_SIZE - size)
                data = data[:n]
            self.note("write(append) %d at %d" % (n, size))
            try:
                got = os.write(self.fd, data)
            except OSError as e:
                self.fail("append write failed: %r" % e)
            self.check(got == n, "append write returned %d, expected %d" % (got, n))
            self.ref += data
            self.counts["append"] += 1
            return
        r = self.rnd.random()
        if r < 0.35:
            off = self.rnd.randint(0, size)                       # inside
        elif r < 0.5:
            off = size                                            # at EOF
        elif r < 0.7:
            off = size + self.rnd.randint(1, 300 * 1024)          # past EOF: a hole
        else:                                                     # across a segment edge
            edge = SEG * self.rnd.randint(1, MAX_SIZE // SEG)
            off = max(0, edge - self.rnd.randint(0, n))
        if off + n > MAX_SIZE:
            off = max(0, MAX_SIZE - n)
        self.note("pwrite %d at %d (size %d)" % (n, off, size))
        try:
            got = os.pwrite(self.fd, data, off)
        except OSError as e:
            self.fail("pwrite failed: %r" % e)
        self.check(got == n, "pwrite returned %d, expected %d" % (got, n))
        if off > size:
            self.ref += bytes(off - size)
        self.ref[off:off + n] = data
        self.counts["pwrite"] += 1

    def op_read(self):
        size = len(self.ref)
        off = self.rnd.randint(0, size + 100)
        n = self.rnd.choice([1, 13, 4096, 65536, 200_000, SEG + 7])
        self.note("pread %d at %d (size %d)" % (n, off, size))
        try:
            got = os.pread(self.fd, n, off)
        except OSError as e:
            self.fail("pread failed: %r" % e)
        self.check_bytes(got, bytes(self.ref[off:off + n]), "pread %d at %d" % (n, off))
        self.counts["pread"] += 1

    def op_truncate(self):
        size = len(self.ref)
        r = self.rnd.random()
        if r < 0.15:
            new = 0
        elif r < 0.6 and size:
            new = self.rnd.randint(0, size - 1)                   # shrink
        else:
            new = min(MAX_SIZE, size + self.rnd.randint(1, SEG))  # grow
        self.note("ftruncate %d -> %d" % (size, new))
        try:
            os.ftruncate(self.fd, new)
        except OSError as e:
            self.fail("ftruncate failed: %r" % e)
        if new < size:
            del self.ref[new:]
        else:
            self.ref += bytes(new - size)
        self.counts["truncate"] += 1

    def op_fstat(self):
        self.note("fstat")
        st = os.fstat(self.fd)
        self.check(st.st_size == len(self.ref),
                   "fstat size %d, expected %d" % (st.st_size, len(self.ref)))
        self.counts["fstat"] += 1

    def op_fsync(self):
        self.note("fsync (size %d)" % len(self.ref))
        try:
            os.fsync(self.fd)
        except OSError as e:
            self.fail("fsync failed: %r" % e)
        self.counts["fsync"] += 1
        self.counts["slo-upload"] += len(self.ref) > SEG
        if self.rnd.random() < 0.5:
            self.check_bytes(swift_bytes(self.conn, self.container, self.name), bytes(self.ref),
                             "Swift object after fsync")
            self.counts["swift-check"] += 1

    def op_second_reader(self):
        """A read through a second, read-only handle on the same file
        while the first one may hold unwritten changes."""
        size = len(self.ref)
        off = self.rnd.randint(0, size)
        n = self.rnd.choice([100, 65536, SEG])
        self.note("second fd: pread %d at %d (size %d)" % (n, off, size))
        try:
            fd2 = os.open(self.path, os.O_RDONLY)
        except OSError as e:
            self.fail("open O_RDONLY failed: %r" % e)
        try:
            got = os.pread(fd2, n, off)
        except OSError as e:
            os.close(fd2)
            self.fail("pread on the second fd failed: %r" % e)
        try:
            os.close(fd2)
        except OSError as e:
            self.fail("close of the second fd failed: %r" % e)
        self.check_bytes(got, bytes(self.ref[off:off + n]), "second fd pread %d at %d" % (n, off))
        self.counts["second-fd"] += 1

    def op_full_read(self):
        self.note("full read (size %d)" % len(self.ref))
        got = bytearray()
        off = 0
        while True:
            b = os.pread(self.fd, 1 << 20, off)
            if not b:
                break
            got += b
            off += len(b)
        self.check_bytes(bytes(got), bytes(self.ref), "full read")
        self.counts["full-read"] += 1

    def run(self, n_ops, budget_s):
        """n_ops operations, or fewer if budget_s runs out (a loaded
        machine): the sequence for a seed is the same, only shorter."""
        deadline = time.monotonic() + budget_s
        self.open(" (create)")
        table = [(0.36, self.op_write), (0.63, self.op_read), (0.66, self.op_second_reader),
                 (0.76, self.op_truncate),
                 (0.82, self.op_fstat), (0.85, self.op_fsync), (0.87, self.op_full_read),
                 (0.92, None)]                                   # None: close + reopen
        self.done = 0
        for self.i in range(n_ops):
            if time.monotonic() > deadline:
                print("exerciser: time budget used up after %d operations" % self.i)
                break
            self.done = self.i + 1
            r = self.rnd.random()
            for limit, fn in table:
                if r < limit:
                    break
            else:
                fn = self.op_read
            if fn is None:
                self.close()
                self.open()
            else:
                fn()
        self.i = self.done
        self.op_full_read()
        self.close()


def test_random_operations_on_one_file(container, conn, mount):
    seed = int(os.environ.get("SWIFTFS_EXERCISER_SEED", str(int(time.time() * 1000) % 10**9)))
    print("exerciser seed: %d (rerun with SWIFTFS_EXERCISER_SEED=%d)" % (seed, seed))
    m = mount(container, opts=["segment_size=1M"])
    ex = Exerciser(m, conn, container, "ex.bin", seed)
    t0 = time.monotonic()
    ex.run(N_OPS, budget_s=50)
    elapsed = time.monotonic() - t0
    print("exerciser: %d ops in %.1fs, final size %d, %s"
          % (ex.done, elapsed, len(ex.ref), dict(ex.counts)))
    assert ex.counts["close"] + ex.counts["fsync"] >= 20, dict(ex.counts)
    assert ex.counts["slo-upload"] >= 1, "seed=%d: never uploaded an SLO: %s" % (
        seed, dict(ex.counts))
    want = bytes(ex.ref)
    m.unmount()

    m2 = mount(container, opts=["segment_size=1M"])
    with open(m2.p("ex.bin"), "rb") as f:
        got = f.read()
    assert got == want, "seed=%d: the file after a remount differs at %d (%d vs %d bytes)" % (
        seed, first_diff(got, want), len(got), len(want))
    body = swift_bytes(conn, container, "ex.bin")
    assert body == want, "seed=%d: the Swift object differs at %d (%d vs %d bytes)" % (
        seed, first_diff(body, want), len(body), len(want))
    # no segments of older versions are left behind
    segs = segment_listing(conn, container)
    live = [s.split("/", 1)[1] for s in slo_segment_names(conn, container, "ex.bin")]
    assert segs == sorted(live), "seed=%d: %d segment objects, the manifest uses %d: %s" % (
        seed, len(segs), len(live), sorted(set(segs) - set(live))[:10])


# ------------------------------------------------------------------ faults

def proxied_mount(swift, mount, container, fp, cache_dir):
    # a cache folder of the test's own: the data kept after a failed
    # upload lands there (and goes with the test's tmp_path)
    return mount(container, use_env_creds=False,
                 env=dict(swift.creds_env(), ST_AUTH=fp.url + "/auth/v1.0"),
                 opts=["retry_timeout=2", "segment_size=1M", "cache_dir=%s" % cache_dir])


def kept_copy(m, cache_dir):
    """The path the log says the written data is kept in (under cache_dir)."""
    log = m.log()
    found = re.findall(r"kept in (\S+)", log)
    assert found, "the log does not say where the data is kept:\n" + log[-3000:]
    path = found[-1]
    assert path.startswith(str(cache_dir)), path
    return path


def write_file(path, data):
    """open(O_TRUNC) + write + close; returns the close() error or None."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        os.close(fd)
        raise
    try:
        os.close(fd)
    except OSError as e:
        return e
    return None


def test_put_failure_keeps_previous_version(swift, container, conn, proxy, mount, tmp_path):
    m = proxied_mount(swift, mount, container, proxy, tmp_path / "cache")
    v1 = b"version one\n" * 100
    assert write_file(m.p("f.txt"), v1) is None
    assert conn.get_object(container, "f.txt")[1] == v1

    obj = re.escape("/%s/f.txt" % container) + r"(\?|$)"
    proxy.add_rule(method="PUT", path=obj, action="status", status=503, times=-1)
    v2 = b"version two, longer\n" * 200
    err = write_file(m.p("f.txt"), v2)
    assert err is not None, "close() succeeded although every PUT failed"
    assert err.errno == errno.EIO, err
    puts = [e for e in proxy.log() if e["method"] == "PUT" and e.get("fault")]
    assert puts, "no PUT reached the proxy"
    assert conn.get_object(container, "f.txt")[1] == v1
    with open(kept_copy(m, tmp_path / "cache"), "rb") as f:
        assert f.read() == v2


@pytest.mark.parametrize("where", ["segment", "manifest"])
def test_slo_failure_keeps_previous_version_and_no_segments(swift, container, conn, proxy,
                                                            mount, tmp_path, where):
    m = proxied_mount(swift, mount, container, proxy, tmp_path / "cache")
    rnd = random.Random(31)
    v1 = rnd.randbytes(3 * SEG + 1000)
    assert write_file(m.p("big.bin"), v1) is None
    h = conn.head_object(container, "big.bin")
    assert h.get("x-static-large-object") == "True", h
    assert conn.get_object(container, "big.bin")[1] == v1
    segs_before = segment_listing(conn, container)
    assert len(segs_before) == 4, segs_before

    if where == "segment":
        # the first segment PUT of v2 goes through, the others fail: the
        # one that made it must be removed again
        proxy.add_rule(method="PUT", path=re.escape("/%s_segments/" % container),
                       action="status", status=503, times=-1, skip=1)
    else:
        proxy.add_rule(method="PUT", path=re.escape("/%s/big.bin" % container)
                       + r"\?multipart-manifest=put", action="status", status=503, times=-1)
    proxy.clear_log()
    v2 = rnd.randbytes(3 * SEG + 5000)
    err = write_file(m.p("big.bin"), v2)
    assert err is not None, "close() succeeded although the upload failed"
    assert err.errno == errno.EIO, err
    plog = proxy.log()
    assert [e for e in plog if e.get("fault")], "the fault rule never matched"
    seg_path = "/%s_segments/" % container
    uploaded = [e["path"] for e in plog if e["method"] == "PUT" and seg_path in e["path"]
                and e["status"] == 201]
    # segments of v2 did reach Swift (the clean-up below has work to do)
    if where == "segment":
        assert len(uploaded) == 1, uploaded          # the skipped one
    else:
        assert len(uploaded) == 4, uploaded          # all of them, then the manifest failed
    proxy.clear()
    assert conn.get_object(container, "big.bin")[1] == v1
    assert conn.head_object(container, "big.bin").get("x-static-large-object") == "True"
    segs_after = segment_listing(conn, container)
    assert segs_after == segs_before, "segments left behind: %s" % sorted(
        set(segs_after) - set(segs_before))
    with open(kept_copy(m, tmp_path / "cache"), "rb") as f:
        assert f.read() == v2
