"""Workloads W1-W7 of issue 4: swiftfs against the mounts a user would pick
instead (rclone mount, s3fs through s3api; peers.py) and against the raw
Swift API (curl, python-swiftclient), in one run, side by side.

Every subject (mount target or raw client) does every row; a row's cell is
the median of its runs. Mount runs are cold unless the row says otherwise:
a fresh mount with a fresh cache folder, and the page cache dropped (sync;
echo 3 > /proc/sys/vm/drop_caches) right before the timed part. Around the
timed part the bench reads the mount daemon's CPU time and peak RSS
(VmHWM) from /proc and counts the requests at the Swift proxy (its access
log: Swift and S3 requests alike; the bench's own check requests carry
their own User-Agent and are left out).

Writes are timed until the data is in Swift: from the first write until
the container listing shows every object with the right size (and md5
where the object is not a multipart one), so a mount that uploads after
close() (rclone's cache, swiftfs writeback) is timed to the same point as
one that uploads in close().

A subject whose run fails is reported as an error in its cell and not run
again in that row; a peer whose turn at a row takes longer than --slow-cap
seconds (the time budget) is not run again there (its cell is marked and
listed under the table): s3fs spends a minute and more on W5, W6 and W7w.
swiftfs targets and the raw API always get every run.
"""
import concurrent.futures
import hashlib
import http.client
import json
import os
import random
import select
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse

import bench as B
from bench import MB, MiB, BenchError, log, median, drop_caches

RAW1, RAWP = "raw 1", "raw par"
DEFAULT_TARGETS = ["swiftfs", "swiftfs-wb", "rclone-full", "rclone-off", "s3fs", "s3fs-cache"]
PEER_KINDS = ("rclone", "s3fs")
PAR = 8                       # raw parallel streams
W4_OPS = 2000             # 200 with --quick
W6_CONTAINER = "swiftfs-bench-w6-%d"
W7_CONTAINER = "swiftfs-bench-zarr-%d"
W7_CHUNK = 256

# row id -> (label, unit, higher is better)
ROWS = {
    "W1": ("write %s sequential, until in Swift", "MB/s", True),
    "W2": ("cold read %s", "MB/s", True),
    "W3": ("warm re-read, same mount", "MB/s", True),
    "W3r": ("warm re-read after remount + drop_caches", "MB/s", True),
    "W4": ("%s random 4 KiB reads, cold, %s object", "ops/s", True),
    "W5": ("tar -x %s files of 4 KiB, until in Swift", "files/s", True),
    "W6": ("ls -lR %s objects in %s dirs, cold", "s", False),
    "W7w": ("zarr %s f4 256^2 chunks: write, until in Swift", "MB/s", True),
    "W7r": ("zarr: cold read of the whole array", "MB/s", True),
    "W7c": ("zarr: %s random chunks, cold", "chunks/s", True),
}


class Suite:
    """Samples of the W rows: row -> subject -> [sample dict]."""

    def __init__(self):
        self.samples = {}
        self.errors = {}     # (row, subject) -> message
        self.capped = set()  # (workload, subject): not repeated
        self.capped_s = {}   # (workload, subject) -> seconds of the turn that capped it
        self.cut = set()     # (row, subject): a turn cut at --peer-cap
        self.cut_turns = set()  # (workload, subject) of those turns (also in capped)
        self.labels = {}     # row -> label with sizes filled in
        self.raw_desc = {}   # row -> (raw 1 description, raw par description)
        self.notes = []

    def add(self, row, subject, **s):
        self.samples.setdefault(row, {}).setdefault(subject, []).append(s)

    def med(self, row, subject, key="value"):
        return median([s.get(key) for s in self.samples.get(row, {}).get(subject, [])])

    def runs(self, row, subject):
        return len(self.samples.get(row, {}).get(subject, []))


def suite(ctx):
    if not hasattr(ctx, "suite"):
        ctx.suite = Suite()
    return ctx.suite


def subjects(ctx, row, run=0):
    """The mount targets that run `row` (a target's "skip_rows" leaves out
    rows where it would repeat another target's measurement), in an order
    that turns by one each run: the first turn after the raw API's (or
    another row's) heavy load was measured slower for whichever subject
    held it (W2, two builds that read alike, 6 runs in each order: the
    first one 10-15% slower either way)."""
    subs = [t for t in ctx.all_targets if row not in t[1].get("skip_rows", ())]
    k = run % len(subs) if subs else 0
    return subs[k:] + subs[:k]


def is_peer(t):
    return t[1]["kind"] in PEER_KINDS


def cut_at(ctx, t):
    """Seconds after which a peer's timed part at W4, W5 or W7w stops
    (--peer-cap), its figure then taken from what it did by then; None for
    swiftfs targets (always whole) and with --peer-cap 0."""
    cap = ctx.args.peer_cap
    return cap if cap and is_peer(t) else None


def has_disk_cache(t):
    """Targets whose cache survives a remount (W3r)."""
    kind, opts = t[1]["kind"], t[1]["opts"]
    if kind == "swiftfs":
        return "cache=off" not in opts
    if kind == "rclone":
        return any("full" in o for o in opts)
    return "use_cache" in opts


def check_conn(ctx):
    return ctx.swift.conn()


CHECK_HDR = {"User-Agent": B.CHECK_AGENT}


class ReqWindow:
    """The client requests the proxy logged as started between open (now)
    and close(); counted later by resolve(), once their log lines are
    surely written (0.3 s after close), so no timed part waits for them."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.off = ctx.swift.log_offset()
        self.t0 = time.time()
        self.t1 = None

    def close(self):
        self.t1 = time.time()
        return self

    def resolve(self):
        wait = 0.3 - (time.time() - self.t1)
        if wait > 0:
            time.sleep(wait)
        return B.classify_requests(self.ctx.swift.requests_since(self.off, self.t0, self.t1))


class Probe:
    """CPU, peak RSS of a mount daemon and the proxy's requests over a span
    (a timed part: no background deletion meanwhile)."""

    def __init__(self, ctx, m):
        B.quiet()
        self.ctx, self.m = ctx, m
        self.cpu0 = B.proc_cpu_seconds(m.pid)
        self.win = ReqWindow(ctx)

    def done(self):
        cpu = B.proc_cpu_seconds(self.m.pid) - self.cpu0
        hwm = B.proc_status_kib(self.m.pid, "VmHWM")
        out = {"cpu_s": cpu, "hwm_mib": hwm / 1024 if hwm else None, "req": self.win.close()}
        B.unquiet()
        return out


def raw_probe(ctx):
    """The start of a raw client's timed part; call the result at its end."""
    B.quiet()
    win = ReqWindow(ctx)

    def done():
        out = {"req": win.close()}
        B.unquiet()
        return out
    return done


def req_summary(c):
    """Proxy counts (or a ReqWindow) -> {total, HEAD, GET, LIST, PUT,
    other} (auth apart)."""
    if isinstance(c, ReqWindow):
        c = c.resolve()
    if not c:
        return None
    heads = c["object HEAD"] + c["container/account HEAD"]
    puts = c["object PUT"] + c["manifest PUT"] + c["container PUT"]
    other = c["POST"] + c["DELETE"] + c["COPY"] + c["other"]
    return {"total": heads + puts + other + c["object GET"] + c["listing GET"],
            "HEAD": heads, "GET": c["object GET"], "LIST": c["listing GET"], "PUT": puts,
            "other": other, "auth": c["auth"]}


# Rows where the raw API is a reference, not a target (the raw
# targets are W1, W2 and W7): its columns there get one run, not ctx.runs.
RAW_ONCE = ("W4", "W5", "W6")


def run_subject(ctx, wid, rows, subject, fn):
    """fn() -> {row: sample}. Errors and the slow cap are per subject."""
    st = suite(ctx)
    if subject in (RAW1, RAWP) and all(r in RAW_ONCE for r in rows) and \
            any(st.samples.get(r, {}).get(subject) for r in rows):
        return
    if (wid, subject) in st.capped or any((r, subject) in st.errors for r in rows):
        return
    t0 = time.monotonic()
    with B.CLOCK.turn(wid, subject):
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001 - any failure of one subject: its cell
            out = None
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else repr(e)
    B.unquiet()   # also after a failed timed part
    if out is None:
        log("  %s %s: ERROR %s" % (wid, subject, msg))
        for r in rows:
            st.errors[(r, subject)] = msg
        return
    B.CLOCK.add((wid, subject), "timed",
                sum(s.get("seconds") or 0 for s in out.values() if s))
    for r, s in out.items():
        if s is None:
            continue
        s["req"] = req_summary(s.get("req"))
        st.add(r, subject, **s)
        ctx.record(r, subject=subject, **{k: v for k, v in s.items() if k != "req"},
                   requests=s["req"])
    took = time.monotonic() - t0
    cut = [r for r, s in out.items() if s and s.get("part", 1) < 1]
    st.cut.update((r, subject) for r in cut)
    if cut and ctx.runs > 1:
        log("  %s %s cut at --peer-cap %g s (%s): not repeated"
            % (wid, subject, ctx.args.peer_cap, ", ".join(
                "%s %.0f%% done" % (r, 100 * out[r]["part"]) for r in cut)))
        st.capped.add((wid, subject))
        st.capped_s[(wid, subject)] = took
        st.cut_turns.add((wid, subject))
    elif took > ctx.args.slow_cap and ctx.runs > 1 and subject in peer_names(ctx):
        log("  %s %s took %.0f s (> --slow-cap %g): not repeated"
            % (wid, subject, took, ctx.args.slow_cap))
        st.capped.add((wid, subject))
        st.capped_s[(wid, subject)] = took


def peer_names(ctx):
    """Subjects the time budget (--slow-cap) applies to: the peers only;
    swiftfs targets and the raw API always get every run."""
    return {t[0] for t in ctx.all_targets if is_peer(t)}


def wait_listed(ctx, container, want, timeout=120, phase="wait"):
    """Poll the listing until every name in want {name: (bytes, md5|None)}
    is there with that size (and md5). Returns the epoch time it was.
    phase: "wait" inside a timed part (a mount's write), "check" after it."""
    with B.CLOCK.phase(phase):
        return _wait_listed(ctx, container, want, timeout)


def _wait_listed(ctx, container, want, timeout):
    conn = check_conn(ctx)
    deadline = time.time() + timeout
    while True:
        # while the container holds fewer objects than wanted, the listing
        # cannot be complete: a HEAD (its object count) is enough, and spares
        # the one proxy a listing of up to 1,000 entries every 0.1 s while the
        # subject is still uploading
        if len(want) > 1 and time.time() < deadline:
            h = conn.head_container(container, headers=CHECK_HDR)
            if int(h.get("x-container-object-count", 0)) < len(want):
                time.sleep(0.1)
                continue
        _, objs = conn.get_container(container, full_listing=True, headers=CHECK_HDR)
        now = time.time()
        have = {o["name"]: (o["bytes"], o["hash"]) for o in objs}
        bad = [n for n, (size, md5) in want.items()
               if n not in have or have[n][0] != size or (md5 and have[n][1] != md5)]
        # a DLO manifest (rclone's streamed upload) is listed with 0 bytes:
        # its HEAD gives the size; its ETag is not the md5 of the data
        for n in [n for n in bad if n in have and have[n][0] == 0 and want[n][0]]:
            h = conn.head_object(container, n, headers=CHECK_HDR)
            if "x-object-manifest" in h and int(h.get("content-length", -1)) == want[n][0]:
                bad.remove(n)
        if not bad:
            return now
        if now > deadline:
            raise BenchError("%d of %d objects not in Swift after %d s (e.g. %s: %s)"
                             % (len(bad), len(want), timeout, bad[0], have.get(bad[0])))
        time.sleep(0.1)


def md5_file(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(4 * MiB), b""):
            h.update(b)
    return h.hexdigest()


def md5_object(ctx, container, name):
    with B.CLOCK.phase("verify"):
        return _md5_object(ctx, container, name)


def _md5_object(ctx, container, name):
    _, body = check_conn(ctx).get_object(container, name, resp_chunk_size=MiB,
                                         headers=CHECK_HDR)
    h = hashlib.md5()
    for b in body:
        h.update(b)
    return h.hexdigest()


def shm_copy(ctx, path):
    """A copy of a write source in /dev/shm for this bench run (removed at
    exit): drop_caches() cannot evict it, so no run re-reads it from disk
    before its timed part, and every subject reads it from memory as
    before (the local disk is not what is measured). The path itself if
    /dev/shm is missing or short of room."""
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
        if st.f_bavail * st.f_frsize < 2 * os.path.getsize(path):
            return path
    except OSError:
        return path
    dst = os.path.join(shm, "swiftfs-bench-%d-%s" % (os.getpid(), os.path.basename(path)))
    if not os.path.exists(dst):
        shutil.copyfile(path, dst + ".part")
        os.replace(dst + ".part", dst)
        ctx.shm_files.append(dst)
    return dst


def fresh_dir(ctx, tag):
    d = os.path.join(ctx.cache_base, "%d-keep-%s" % (os.getpid(), tag))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def auth_header_file(ctx):
    hdr = os.path.join(ctx.workdir, "auth.hdr")
    fd = os.open(hdr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("X-Auth-Token: %s\n" % ctx.swift.token)
    return hdr


def parallel(fn, items, n=PAR):
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        return list(ex.map(fn, items))


class _Conns(threading.local):
    """One swiftclient connection per thread (raw parallel clients)."""

    def __init__(self, ctx):
        self.c = ctx.swift.conn()


# ------------------------------------------------------------------ W1 ----

class _Slice:
    """File-like view of bytes [off, off+length) of a file (a segment)."""

    def __init__(self, path, off, length):
        self.fd = os.open(path, os.O_RDONLY)
        self.off, self.left = off, length

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        b = os.pread(self.fd, n, self.off)
        self.off += len(b)
        self.left -= len(b)
        return b

    def close(self):
        os.close(self.fd)


def w1_mount(ctx, t, src, size, src_md5, verify):
    cont = ctx.new_scratch("w1")
    try:
        drop_caches()
        B.warm([src])
        with ctx.mount(t, cont) as m:
            pr = Probe(ctx, m)
            w0 = time.time()
            n, tw, tc = B.timed_copy(src, os.path.join(m.path, "w1.bin"))
            t_end = wait_listed(ctx, cont, {"w1.bin": (size, None)})
            s = pr.done()
        if n != size:
            raise BenchError("copied %d bytes, expected %d" % (n, size))
        if verify:
            got = md5_object(ctx, cont, "w1.bin")
            if got != src_md5:
                raise BenchError("object written has md5 %s, the file %s" % (got, src_md5))
    finally:
        ctx.drop_scratch(cont)
    dt = t_end - w0
    s.update(value=size / dt / MB, seconds=dt, close_s=tw + tc, mb=size / MB)
    return {"W1": s}


def w1_raw1(ctx, src, size):
    cont = ctx.new_scratch("w1raw")
    try:
        drop_caches()
        B.warm([src])
        hdr = auth_header_file(ctx)
        rp = raw_probe(ctx)
        t0 = time.perf_counter()
        p = subprocess.run(["curl", "-sS", "-f", "--noproxy", "*", "-H", "@" + hdr, "-T", src,
                            "-o", "/dev/null", ctx.swift.object_url(cont, "w1.bin")],
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if p.returncode:
            raise BenchError("curl PUT failed (%d): %s" % (p.returncode, p.stderr.strip()))
        s = rp()
        wait_listed(ctx, cont, {"w1.bin": (size, None)}, timeout=30, phase="check")
    finally:
        ctx.drop_scratch(cont)
    s.update(value=size / dt / MB, seconds=dt)
    return {"W1": s}


def w1_rawp(ctx, src, size):
    """SLO: PAR segments PUT in parallel, then the manifest."""
    cont = ctx.new_scratch("w1rawp")
    try:
        drop_caches()
        B.warm([src])
        conns = _Conns(ctx)
        ctx.conn.put_container(cont + "_segments")
        seg = -(-size // PAR)
        rp = raw_probe(ctx)
        t0 = time.perf_counter()

        def put(i):
            off = i * seg
            ln = min(seg, size - off)
            sl = _Slice(src, off, ln)
            try:
                etag = conns.c.put_object(cont + "_segments", "w1.bin/%08d" % i, sl,
                                          content_length=ln, chunk_size=MiB)
            finally:
                sl.close()
            return {"path": "/%s_segments/w1.bin/%08d" % (cont, i), "etag": etag,
                    "size_bytes": ln}

        manifest = parallel(put, range(-(-size // seg)))
        ctx.conn.put_object(cont, "w1.bin", json.dumps(manifest),
                            query_string="multipart-manifest=put")
        dt = time.perf_counter() - t0
        s = rp()
    finally:
        ctx.drop_scratch(cont)
    s.update(value=size / dt / MB, seconds=dt)
    return {"W1": s}


def w_w1(ctx):
    size = (64 if ctx.quick else 256) * MiB
    st = suite(ctx)
    st.labels["W1"] = ROWS["W1"][0] % ("%d MiB" % (size // MiB))
    st.raw_desc["W1"] = ("curl PUT", "swiftclient SLO %d x %d MiB segments" % (PAR, size // PAR // MiB))
    with B.CLOCK.turn("W1", "setup"):
        src = shm_copy(ctx, B.ensure_src_file(size))
        src_md5 = md5_file(src)
    for run in range(ctx.runs):
        log("W1 run %d/%d (%d MiB)" % (run + 1, ctx.runs, size // MiB))
        for t in subjects(ctx, "W1", run):
            run_subject(ctx, "W1", ["W1"], t[0],
                        lambda t=t: w1_mount(ctx, t, src, size, src_md5,
                                             ctx.args.verify and run == 0))
        run_subject(ctx, "W1", ["W1"], RAW1, lambda: w1_raw1(ctx, src, size))
        run_subject(ctx, "W1", ["W1"], RAWP, lambda: w1_rawp(ctx, src, size))
    return []


# -------------------------------------------------------------- W2-W4 ----

def w4_offsets(size, ops):
    rnd = random.Random(4)
    return [rnd.randrange(size // 4096) * 4096 for _ in range(ops)]


def timed_read(path, size, what):
    t0 = time.perf_counter()
    n, _ = B.read_file(path)
    dt = time.perf_counter() - t0
    if n != size:
        raise BenchError("%s: read %d bytes, expected %d" % (what, n, size))
    return dt


def w2_mount(ctx, t, obj, size, etag, verify):
    """W2 cold read, W3 re-read on the same mount, W3r after a remount with
    the same cache folder (cache-keeping targets)."""
    out = {}
    cdir = fresh_dir(ctx, "w2")
    try:
        with ctx.mount(t, B.DATA_CONTAINER, cache_dir=cdir) as m:
            path = os.path.join(m.path, obj)
            drop_caches()
            pr = Probe(ctx, m)
            dt = timed_read(path, size, "W2")
            out["W2"] = dict(pr.done(), value=size / dt / MB, seconds=dt, mb=size / MB)
            pr = Probe(ctx, m)
            dt = timed_read(path, size, "W3")
            out["W3"] = dict(pr.done(), value=size / dt / MB, seconds=dt, mb=size / MB)
            if verify:
                with B.CLOCK.phase("verify"):
                    _, md5 = B.read_file(path, md5=True)
                if md5 != etag:
                    raise BenchError("md5 of %s read through the mount %s != ETag %s"
                                     % (obj, md5, etag))
        if has_disk_cache(t):
            drop_caches()
            with ctx.mount(t, B.DATA_CONTAINER, cache_dir=cdir) as m:
                pr = Probe(ctx, m)
                dt = timed_read(os.path.join(m.path, obj), size, "W3r")
                out["W3r"] = dict(pr.done(), value=size / dt / MB, seconds=dt, mb=size / MB)
    finally:
        shutil.rmtree(cdir, ignore_errors=True)
    return out


def w4_mount(ctx, t, obj, size):
    """W4 on a fresh mount."""
    out = {}
    offs = w4_offsets(size, ctx.w4_ops)
    with ctx.mount(t, B.DATA_CONTAINER) as m:
        drop_caches()
        pr = Probe(ctx, m)
        cut = cut_at(ctx, t)
        done = 0
        t0 = time.perf_counter()
        fd = os.open(os.path.join(m.path, obj), os.O_RDONLY)
        try:
            for off in offs:
                if len(os.pread(fd, 4096, off)) != 4096:
                    raise BenchError("W4: short read at %d" % off)
                done += 1
                if cut and time.perf_counter() - t0 > cut:
                    break
        finally:
            os.close(fd)
        dt = time.perf_counter() - t0
        out["W4"] = dict(pr.done(), value=done / dt, seconds=dt, part=done / len(offs))
    return out


def raw_ref_cap(ctx):
    """Seconds after which the raw API stops where it is only a reference
    (W4, W5: serial requests at an even rate), like a peer (--peer-cap)."""
    return ctx.args.peer_cap or None


def w4_raw(ctx, obj, size, streams):
    u = urllib.parse.urlsplit(ctx.swift.object_url(B.DATA_CONTAINER, obj))
    offs = w4_offsets(size, ctx.w4_ops)
    parts = [offs[i::streams] for i in range(streams)]
    cap = raw_ref_cap(ctx)
    done = [0] * streams

    def worker(i):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            for off in parts[i]:
                if cap and time.perf_counter() - t0 > cap:
                    break
                c.request("GET", u.path, headers={"X-Auth-Token": ctx.swift.token,
                                                  "Range": "bytes=%d-%d" % (off, off + 4095)})
                r = c.getresponse()
                if r.status != 206 or len(r.read()) != 4096:
                    raise BenchError("W4 raw: ranged GET gave %d" % r.status)
                done[i] += 1
        finally:
            c.close()

    drop_caches()
    rp = raw_probe(ctx)
    t0 = time.perf_counter()
    parallel(worker, range(streams), streams)
    dt = time.perf_counter() - t0
    return dict(rp(), value=sum(done) / dt, seconds=dt, part=sum(done) / len(offs))


def w_reads(ctx):
    size = (64 if ctx.quick else 256) * MiB
    obj = "r1-%dMiB" % (size // MiB)
    st = suite(ctx)
    st.labels["W2"] = ROWS["W2"][0] % ("%d MiB" % (size // MiB))
    st.labels["W3"] = ROWS["W3"][0]
    st.labels["W3r"] = ROWS["W3r"][0]
    ctx.w4_ops = 200 if ctx.quick else W4_OPS
    st.labels["W4"] = ROWS["W4"][0] % (format(ctx.w4_ops, ","), "%d MiB" % (size // MiB))
    st.raw_desc["W2"] = ("curl GET", "curl x%d ranged GETs" % PAR)
    st.raw_desc["W3"] = ("local file, page cache", "")
    st.raw_desc["W4"] = ("1 connection", "%d connections" % PAR)
    ctx.created.add(B.DATA_CONTAINER)
    with B.CLOCK.turn("W2", "setup"):
        etag = B.ensure_object(ctx, B.DATA_CONTAINER, obj, size)
        src = B.ensure_src_file(size)
    url = ctx.swift.object_url(B.DATA_CONTAINER, obj)
    for run in range(ctx.runs):
        log("W2-W4 run %d/%d (%d MiB)" % (run + 1, ctx.runs, size // MiB))
        for t in subjects(ctx, "W2", run):
            run_subject(ctx, "W2", ["W2", "W3", "W3r"], t[0],
                        lambda t=t: w2_mount(ctx, t, obj, size, etag,
                                             ctx.args.verify and run == 0))
            run_subject(ctx, "W4", ["W4"], t[0], lambda t=t: w4_mount(ctx, t, obj, size))

        def curl(k):
            hdr = auth_header_file(ctx)
            drop_caches()
            rp = raw_probe(ctx)
            dt, n = B.curl_get(ctx, url, [None] if k == 1 else B.split_ranges(size, k), hdr)
            if n != size:
                raise BenchError("curl x%d got %d bytes" % (k, n))
            return dict(rp(), value=size / dt / MB, seconds=dt)

        def local():
            B.read_file(src)
            B.quiet()
            dt = timed_read(src, size, "local")
            B.unquiet()
            return {"value": size / dt / MB, "seconds": dt}

        run_subject(ctx, "W2", ["W2", "W3"], RAW1, lambda: {"W2": curl(1), "W3": local()})
        run_subject(ctx, "W2", ["W2"], RAWP, lambda: {"W2": curl(PAR)})
        run_subject(ctx, "W4", ["W4"], RAW1, lambda: {"W4": w4_raw(ctx, obj, size, 1)})
        run_subject(ctx, "W4", ["W4"], RAWP, lambda: {"W4": w4_raw(ctx, obj, size, PAR)})
    return []


# ------------------------------------------------------------------ W5 ----

def tar_members(tar):
    """The archive's bytes and, per member in order, (name, end offset)."""
    with open(tar, "rb") as f:
        data = f.read()
    with tarfile.open(tar) as tf:
        return data, [(m.name, m.offset_data + -(-m.size // 512) * 512) for m in tf.getmembers()]


def feed_tar(p, data, members, w0, cut):
    """Write the archive to tar's stdin, member by member; past cut seconds
    after w0, end the archive there (two zero blocks: tar ends cleanly).
    Returns the names of the members sent."""
    pos, sent = 0, []
    try:
        for name, end in members:
            p.stdin.write(data[pos:end])
            pos = end
            sent.append(name)
            if cut and time.time() - w0 > cut:
                p.stdin.write(b"\0" * 1024)
                break
        else:
            p.stdin.write(data[pos:])
        p.stdin.close()
    except BrokenPipeError:
        pass   # tar exited: its status says why
    return sent


def w5_mount(ctx, t, tar, want):
    """tar -x reads the archive from a pipe (the same for every subject), so
    that a peer's turn can be cut at a member boundary (--peer-cap)."""
    data, members = tar_members(tar)
    cont = ctx.new_scratch("w5")
    try:
        drop_caches()
        with ctx.mount(t, cont) as m:
            pr = Probe(ctx, m)
            w0 = time.time()
            with tempfile.TemporaryFile() as ef:
                p = subprocess.Popen(["tar", "-xB", "-f", "-", "-C", m.path],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=ef)
                sent = set(feed_tar(p, data, members, w0, cut_at(ctx, t)))
                p.wait()
                t_tar = time.time()
                ef.seek(0)
                err = ef.read().decode(errors="replace")
            if p.returncode:
                raise BenchError("tar -x failed (%d): %s" % (p.returncode, err.strip()[-300:]))
            got = {n: w for n, w in want.items() if n in sent}
            t_end = wait_listed(ctx, cont, got)
            s = pr.done()
    finally:
        ctx.drop_scratch(cont)
    dt = t_end - w0
    s.update(value=len(got) / dt, seconds=dt, tar_s=t_tar - w0, part=len(got) / len(want))
    return {"W5": s}


def w5_raw(ctx, base, want, streams):
    data = {}
    for n in want:
        with open(os.path.join(base, n), "rb") as f:
            data[n] = f.read()
    cont = ctx.new_scratch("w5raw")
    cap = raw_ref_cap(ctx)
    sent = set()

    def put(n):
        if cap and time.perf_counter() - t0 > cap:
            return
        conns.c.put_object(cont, n, data[n])
        sent.add(n)

    try:
        conns = _Conns(ctx)
        rp = raw_probe(ctx)
        t0 = time.perf_counter()
        parallel(put, sorted(want), streams)
        dt = time.perf_counter() - t0
        s = rp()
        wait_listed(ctx, cont, {n: want[n] for n in sent}, timeout=30, phase="check")
    finally:
        ctx.drop_scratch(cont)
    s.update(value=len(sent) / dt, seconds=dt, part=len(sent) / len(want))
    return {"W5": s}


def w_w5(ctx):
    n = 50 if ctx.quick else 1000
    with B.CLOCK.turn("W5", "setup"):
        base, tar, md5s = B.ensure_src_tree("w5a" if n == 1000 else "w5q", n, 4096)
    want = {k: (4096, v) for k, v in md5s.items()}
    st = suite(ctx)
    st.labels["W5"] = ROWS["W5"][0] % format(n, ",")
    st.raw_desc["W5"] = ("swiftclient, 1 stream", "swiftclient, 10 threads")
    for run in range(ctx.runs):
        log("W5 run %d/%d (%d files)" % (run + 1, ctx.runs, n))
        for t in subjects(ctx, "W5", run):
            run_subject(ctx, "W5", ["W5"], t[0], lambda t=t: w5_mount(ctx, t, tar, want))
        run_subject(ctx, "W5", ["W5"], RAW1, lambda: w5_raw(ctx, base, want, 1))
        run_subject(ctx, "W5", ["W5"], RAWP, lambda: w5_raw(ctx, base, want, 10))
    return []


# ------------------------------------------------------------------ W6 ----

def ensure_tree(ctx, cont, names):
    """The container holds exactly `names` (1-byte objects): reused if its
    listing shows every name with 1 byte and nothing else."""
    conn = ctx.conn
    conn.put_container(cont)
    for _ in range(3):
        _, objs = conn.get_container(cont, full_listing=True)
        have = {o["name"] for o in objs}
        if have - set(names) or any(o["bytes"] != 1 for o in objs):
            raise BenchError("%s holds unexpected objects: delete it" % cont)
        missing = [n for n in names if n not in have]
        if not missing:
            return
        log("creating %d objects in %s with extract-archive" % (len(missing), cont))
        t0 = time.monotonic()
        B.bulk_upload(ctx, cont, missing)
        log("  done in %.1f s" % (time.monotonic() - t0))
    raise BenchError("could not create the %d objects of %s" % (len(names), cont))


def w6_mount(ctx, t, cont, n):
    """ls -lR of the tree (never cut at --peer-cap: a time scaled from part
    of the tree would carry the mount's start-up cost, against the peer)."""
    with ctx.mount(t, cont) as m:
        drop_caches()
        pr = Probe(ctx, m)
        t0 = time.perf_counter()
        p = subprocess.run(["ls", "-lR", m.path], capture_output=True)
        dt = time.perf_counter() - t0
        s = pr.done()
    files = sum(1 for ln in p.stdout.splitlines() if ln.startswith(b"-"))
    if p.returncode or files != n:
        raise BenchError("ls -lR listed %d files of %d (rc %d): %s"
                         % (files, n, p.returncode, p.stderr[:200]))
    s.update(value=dt, seconds=dt)
    return {"W6": s}


def w6_raw(ctx, cont, n, par):
    drop_caches()
    rp = raw_probe(ctx)
    t0 = time.perf_counter()
    if not par:
        _, objs = ctx.swift.conn().get_container(cont, full_listing=True)
        got = len(objs)
    else:
        _, top = ctx.swift.conn().get_container(cont, delimiter="/", full_listing=True)
        conns = _Conns(ctx)
        got = sum(parallel(lambda d: len(conns.c.get_container(
            cont, prefix=d["subdir"], delimiter="/", full_listing=True)[1]),
            [d for d in top if "subdir" in d]))
    dt = time.perf_counter() - t0
    if got != n:
        raise BenchError("listed %d of %d objects" % (got, n))
    return {"W6": dict(rp(), value=dt, seconds=dt)}


def w_w6(ctx):
    n, dirs = (500, 10) if ctx.quick else (10000, 100)
    cont = W6_CONTAINER % n
    names = ["d%02d/f%05d" % (i % dirs, i) for i in range(n)]
    st = suite(ctx)
    st.labels["W6"] = ROWS["W6"][0] % (format(n, ","), dirs)
    st.raw_desc["W6"] = ("one listing of the tree", "%d dir listings, %d threads" % (dirs, PAR))
    with B.CLOCK.turn("W6", "setup"):
        ensure_tree(ctx, cont, names)
    for run in range(ctx.runs):
        log("W6 run %d/%d (%d objects)" % (run + 1, ctx.runs, n))
        for t in subjects(ctx, "W6", run):
            run_subject(ctx, "W6", ["W6"], t[0], lambda t=t: w6_mount(ctx, t, cont, n))
        run_subject(ctx, "W6", ["W6"], RAW1, lambda: w6_raw(ctx, cont, n, False))
        run_subject(ctx, "W6", ["W6"], RAWP, lambda: w6_raw(ctx, cont, n, True))
    return []


# ------------------------------------------------------------------ W7 ----

# A worker under /usr/bin/python3 (python3-zarr, zarr v2 API), started once
# per bench run so that its imports and the expected array (built once per
# size) are not paid for each run: it reads one JSON request a line
# {mode, path, side, chunk, nsel} and answers one JSON line {t0, t1 (epoch,
# the timed part), ok}. The array is np.random.RandomState(4), float32,
# uncompressed chunks (compressor=None: the file system is measured, not
# Blosc; random data would not compress). The timed part is the same as a
# fresh process's: from zarr.open to the last chunk written or read.
ZARR_WORKER = r"""
import json, os, random, sys, time, traceback
import numpy as np
import zarr
os.chdir("/")
arrays = {}
for line in sys.stdin:
    req = json.loads(line)
    mode, path, side, chunk, nsel = (req[k] for k in ("mode", "path", "side", "chunk", "nsel"))
    out = {"zarr": zarr.__version__}
    try:
        if side not in arrays:
            arrays[side] = np.random.RandomState(4).random_sample((side, side)).astype("f4")
        data = arrays[side]
        if mode == "write":
            cut = req.get("cut")
            t0 = time.time()
            z = zarr.open(path, mode="w", shape=(side, side), chunks=(chunk, chunk),
                          dtype="f4", compressor=None)
            if cut:   # a row of chunks at a time, until cut seconds have gone
                rows = 0
                while rows < side // chunk:
                    z[rows * chunk:(rows + 1) * chunk, :] = data[rows * chunk:(rows + 1) * chunk, :]
                    rows += 1
                    if time.time() - t0 > cut:
                        break
                out["rows"] = rows
            else:
                z[:] = data
            t1 = time.time()
            out["ok"] = True
        elif mode == "read":
            t0 = time.time()
            a = zarr.open(path, mode="r")[:]
            t1 = time.time()
            out["ok"] = bool(np.array_equal(a, data))
            del a
        else:
            n = side // chunk
            sel = random.Random(7).sample([(i, j) for i in range(n) for j in range(n)], nsel)
            t0 = time.time()
            z = zarr.open(path, mode="r")
            parts = [z[i * chunk:(i + 1) * chunk, j * chunk:(j + 1) * chunk] for i, j in sel]
            t1 = time.time()
            out["ok"] = all(np.array_equal(p, data[i * chunk:(i + 1) * chunk,
                                                   j * chunk:(j + 1) * chunk])
                            for p, (i, j) in zip(parts, sel))
        out.update(t0=t0, t1=t1)
    except Exception:
        out.update(ok=False, error=traceback.format_exc()[-300:])
    print(json.dumps(out), flush=True)
"""


class ZarrWorker:
    """The ZARR_WORKER process (restarted after a failure or a timeout)."""

    def __init__(self, log_path):
        self.p = None
        self.log_path = log_path

    def stderr_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-300:]
        except OSError:
            return ""

    def call(self, req, timeout=900):
        if self.p is None or self.p.poll() is not None:
            with open(self.log_path, "a") as lf:
                self.p = subprocess.Popen(["/usr/bin/python3", "-c", ZARR_WORKER],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=lf, text=True, cwd="/")
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        line = self.p.stdout.readline() if r else ""
        if not line:
            self.close()
            raise BenchError("zarr worker %s" % ("timed out after %d s" % timeout if not r
                                                 else "exited: %s" % self.stderr_tail()))
        return json.loads(line)

    def close(self):
        if self.p is not None:
            if self.p.poll() is None:
                self.p.kill()
            self.p.wait()
            self.p = None


def run_zarr(ctx, mode, path, side, nsel=0, cut=None):
    if not hasattr(ctx, "zarr_worker"):
        ctx.zarr_worker = ZarrWorker(os.path.join(ctx.workdir, "zarr-worker.log"))
    r = ctx.zarr_worker.call({"mode": mode, "path": path, "side": side, "chunk": W7_CHUNK,
                              "nsel": nsel, "cut": cut})
    if r.get("error"):
        raise BenchError("zarr %s failed: %s" % (mode, r["error"].strip()))
    if not r.get("ok"):
        raise BenchError("zarr %s through %s returned wrong values" % (mode, path))
    return r


def w7_selection(side, nsel):
    n = side // W7_CHUNK
    sel = random.Random(7).sample([(i, j) for i in range(n) for j in range(n)], nsel)
    return ["arr/%d.%d" % s for s in sel]


def ensure_zarr_fixture(ctx, side):
    """Local zarr array SRC_DIR/zarr-SIDE/arr (written by zarr itself), the
    md5 of each file, and the same files in W7_CONTAINER % side."""
    base = os.path.join(B.SRC_DIR, "zarr-%d" % side)
    sums = base + ".json"
    md5s = None
    if os.path.exists(sums):
        with open(sums) as f:
            md5s = json.load(f)
    if md5s is None:
        log("generating %s with zarr" % base)
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        run_zarr(ctx, "write", os.path.join(base, "arr"), side)
        md5s = {}
        for fn in os.listdir(os.path.join(base, "arr")):
            md5s["arr/" + fn] = md5_file(os.path.join(base, "arr", fn))
        with open(sums, "w") as f:
            json.dump(md5s, f)
    want = {n: (os.path.getsize(os.path.join(base, n)), m) for n, m in md5s.items()}
    cont = W7_CONTAINER % side
    ctx.conn.put_container(cont)
    _, objs = ctx.conn.get_container(cont, full_listing=True)
    have = {o["name"]: (o["bytes"], o["hash"]) for o in objs}
    if any(have.get(n) != w for n, w in want.items()):
        log("uploading the zarr fixture to %s" % cont)
        conns = _Conns(ctx)

        def put(n):
            with open(os.path.join(base, n), "rb") as f:
                conns.c.put_object(cont, n, f.read())
        parallel(put, sorted(want))
    return base, cont, want


def w7w_mount(ctx, t, side, want):
    cont = ctx.new_scratch("w7")
    try:
        drop_caches()
        with ctx.mount(t, cont) as m:
            pr = Probe(ctx, m)
            r = run_zarr(ctx, "write", os.path.join(m.path, "arr"), side, cut=cut_at(ctx, t))
            rows = r.get("rows", side // W7_CHUNK)
            # chunk files are named ROW.COLUMN; a cut turn wrote whole rows
            got = {k: v for k, v in want.items()
                   if not k.split("/")[-1][:1].isdigit() or int(k.split("/")[-1].split(".")[0]) < rows}
            t_end = wait_listed(ctx, cont, got)
            s = pr.done()
    finally:
        ctx.drop_scratch(cont)
    dt = t_end - r["t0"]
    part = rows / (side // W7_CHUNK)
    mb = side * side * 4 / MB * part
    s.update(value=mb / dt, seconds=dt, mb=mb, zarr_s=r["t1"] - r["t0"], part=part)
    return {"W7w": s}


def w7r_mount(ctx, t, side, cont, mode, nsel):
    with ctx.mount(t, cont) as m:
        drop_caches()
        pr = Probe(ctx, m)
        r = run_zarr(ctx, mode, os.path.join(m.path, "arr"), side, nsel)
        s = pr.done()
    dt = r["t1"] - r["t0"]
    if mode == "read":
        mb = side * side * 4 / MB
        s.update(value=mb / dt, seconds=dt, mb=mb)
        return {"W7r": s}
    s.update(value=nsel / dt, seconds=dt)
    return {"W7c": s}


def w7_raw(ctx, base, want, cont, streams, sel, side):
    out = {}
    # write: PUT every file of the local array
    data = {}
    for n in want:
        with open(os.path.join(base, n), "rb") as f:
            data[n] = f.read()
    scratch = ctx.new_scratch("w7raw")
    try:
        conns = _Conns(ctx)
        rp = raw_probe(ctx)
        t0 = time.perf_counter()
        parallel(lambda n: conns.c.put_object(scratch, n, data[n]), sorted(want), streams)
        dt = time.perf_counter() - t0
        out["W7w"] = dict(rp(), value=side * side * 4 / MB / dt, seconds=dt)
        wait_listed(ctx, scratch, want, timeout=30, phase="check")
    finally:
        ctx.drop_scratch(scratch)

    def get_all(names):
        conns = _Conns(ctx)
        drop_caches()
        rp = raw_probe(ctx)
        t0 = time.perf_counter()
        got = parallel(lambda n: conns.c.get_object(cont, n)[1], names, streams)
        dt = time.perf_counter() - t0
        for n, b in zip(names, got):
            if hashlib.md5(b).hexdigest() != want[n][1]:
                raise BenchError("raw GET of %s: wrong bytes" % n)
        return rp(), dt

    names = sorted(want)   # .zarray and every chunk
    r, dt = get_all(names)
    out["W7r"] = dict(r, value=side * side * 4 / MB / dt, seconds=dt)
    r, dt = get_all(["arr/.zarray"] + sel)
    out["W7c"] = dict(r, value=len(sel) / dt, seconds=dt)
    return out


def w_w7(ctx):
    side = 1024 if ctx.quick else 4096
    nchunks = (side // W7_CHUNK) ** 2
    nsel = min(100, nchunks // 2)
    st = suite(ctx)
    st.labels["W7w"] = ROWS["W7w"][0] % ("%dx%d" % (side, side))
    st.labels["W7r"] = ROWS["W7r"][0]
    st.labels["W7c"] = ROWS["W7c"][0] % nsel
    st.raw_desc["W7w"] = ("swiftclient PUTs, 1 stream", "%d threads" % PAR)
    st.raw_desc["W7r"] = ("swiftclient GETs, 1 stream", "%d threads" % PAR)
    st.raw_desc["W7c"] = st.raw_desc["W7r"]
    try:
        w7_runs(ctx, side, nsel, nchunks)
    finally:
        if hasattr(ctx, "zarr_worker"):
            ctx.zarr_worker.close()
    return []


def w7_runs(ctx, side, nsel, nchunks):
    with B.CLOCK.turn("W7", "setup"):
        base, cont, want = ensure_zarr_fixture(ctx, side)
    sel = w7_selection(side, nsel)
    for run in range(ctx.runs):
        log("W7 run %d/%d (%dx%d, %d chunks)" % (run + 1, ctx.runs, side, side, nchunks))
        for t in subjects(ctx, "W7w", run):
            run_subject(ctx, "W7w", ["W7w"], t[0], lambda t=t: w7w_mount(ctx, t, side, want))
        for t in subjects(ctx, "W7r", run):
            run_subject(ctx, "W7r", ["W7r"], t[0],
                        lambda t=t: w7r_mount(ctx, t, side, cont, "read", 0))
        for t in subjects(ctx, "W7c", run):
            run_subject(ctx, "W7c", ["W7c"], t[0],
                        lambda t=t: w7r_mount(ctx, t, side, cont, "chunks", nsel))
        for name, k in ((RAW1, 1), (RAWP, PAR)):
            run_subject(ctx, "W7", ["W7w", "W7r", "W7c"], name,
                        lambda k=k: w7_raw(ctx, base, want, cont, k, sel, side))
    return []


# -------------------------------------------------------------- report ----

def fmt_v(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.2f" % v
    return "%.0f" % v if v >= 10 else "%.1f" % v


def speed(row, v):
    """Higher-is-better figure of a value (W6 seconds -> 1/s)."""
    if v is None:
        return None
    return v if ROWS[row][2] else (1 / v if v > 0 else None)


def cell(st, row, subj, fn):
    if (row, subj) in st.errors:
        return "ERR"
    if subj in st.skips.get(row, ()):
        return "n/r"
    if not st.samples.get(row, {}).get(subj):
        return "-"
    txt = fn()
    n = st.runs(row, subj)
    return txt + ("~" if (row, subj) in st.cut else "") + \
        ("*" if n < st.expected_runs else "")


def best_peer(st, row, peers):
    vals = [(speed(row, st.med(row, p)), p) for p in peers if st.med(row, p) is not None]
    return max(vals) if vals else (None, None)


def best_raw(st, row):
    vals = [(speed(row, st.med(row, r)), r) for r in (RAW1, RAWP) if st.med(row, r) is not None]
    return max(vals) if vals else (None, None)


def print_matrix(title, header, lines):
    cells = [header] + lines
    w = [max(len(c[i]) for c in cells) for i in range(len(header))]
    print(title)
    for i, c in enumerate(cells):
        print(" | ".join(s.rjust(w[j]) if j else s.ljust(w[j]) for j, s in enumerate(c)).rstrip())
        if i == 0:
            print("-+-".join("-" * x for x in w))
    print()


def report(ctx):
    """Print the W tables; return the target Rows (PASS/FAIL)."""
    st = suite(ctx)
    st.expected_runs = ctx.runs
    st.skips = {r: {t[0] for t in ctx.all_targets if r in t[1].get("skip_rows", ())}
                for r in ROWS}
    order = [r for r in ROWS if r in st.samples or any(k[0] == r for k in st.errors)]
    if not order:
        return []
    names = [t[0] for t in ctx.all_targets]
    mine = [t[0] for t in ctx.all_targets if t[1]["kind"] == "swiftfs"]
    peers = [t[0] for t in ctx.all_targets if is_peer(t)]
    subj = names + [RAW1, RAWP]

    head = ["row (unit)"] + subj + ["best peer"] + ["%s/best" % m for m in mine] + \
        ["%s/raw" % m for m in mine]
    lines = []
    for row in order:
        unit = ROWS[row][1]
        line = ["%s %s (%s%s)" % (row, st.labels.get(row, ""), unit,
                                  "" if ROWS[row][2] else ", lower is better")]
        for s in subj:
            line.append(cell(st, row, s, lambda s=s: fmt_v(st.med(row, s), unit)))
        bv, bp = best_peer(st, row, peers)
        line.append("%s %s" % (bp, fmt_v(st.med(row, bp), unit)) if bp else "-")
        rv, _ = best_raw(st, row)
        for m in mine:
            v = speed(row, st.med(row, m))
            line.append("%.2f" % (v / bv) if v and bv else "-")
        for m in mine:
            v = speed(row, st.med(row, m))
            line.append("%.2f" % (v / rv) if v and rv and row != "W3" else "-")
        lines.append(line)
    print_matrix("W1-W7: medians (* = fewer runs, see below); ratios are "
                 "speed-ups (>1: swiftfs faster)", head, lines)
    slow = sorted(st.capped - st.cut_turns)
    if slow:
        print("* 1 run: over the time budget (a peer whose turn at a row took longer than "
              "--slow-cap %g s is not run again there; swiftfs targets, and the raw API where it "
              "is a target, always get all %d runs): %s" % (ctx.args.slow_cap, ctx.runs, ", ".join(
                  "%s %s (%.0f s)" % (s, w, st.capped_s.get((w, s), 0))
                  for w, s in slow)))
    if st.cut:
        print("~ cut at --peer-cap %g s (and not run again): the peer's (or the raw reference's) "
              "figure is its rate over what it did by then "
              "(W4 reads done; W5 tar members extracted and W7w rows of chunks written, each "
              "then waited for in Swift): %s" % (ctx.args.peer_cap, ", ".join(
                  "%s %s (%.0f%%)" % (s, r, 100 * median(
                      [x.get("part", 1) for x in st.samples[r][s]]))
                  for r, s in sorted(st.cut))))
    if ctx.runs > 1:
        print("* 1 run: the raw API where it is a reference, not a target (%s)"
              % ", ".join(RAW_ONCE))
    skipped = sorted({t[0] for t in ctx.all_targets if t[1].get("skip_rows")})
    if skipped:
        print("n/r = not run: " + "; ".join(
            "%s skips %s (%s)" % (n, ",".join(c["skip_rows"]), c.get("skip_why", ""))
            for n, c in ctx.all_targets if c.get("skip_rows")))
    print("raw API columns: " + "; ".join(
        "%s %s / %s" % (r, st.raw_desc[r][0], st.raw_desc[r][1] or "-")
        for r in order if r in st.raw_desc))
    print()

    def req_cell(row, s):
        def f():
            reqs = [x.get("req") for x in st.samples[row][s] if x.get("req")]
            if not reqs:
                return "n/a"
            tot = median([r["total"] for r in reqs])
            hd = median([r["HEAD"] for r in reqs])
            return "%s (%s HEAD)" % (B.fmt_num(tot), B.fmt_num(hd))
        return cell(st, row, s, f)

    if st.errors:
        print("errors (the subject was not run again in that row):")
        for (row, s), msg in sorted(st.errors.items()):
            print("  %s %s: %s" % (row, s, msg))
        print()
    lines = [[row] + [req_cell(row, s) for s in subj] for row in order]
    print_matrix("HTTP requests at the Swift proxy per run (median; S3 requests of s3fs "
                 "included, auth apart)", ["row"] + subj, lines)

    def res_cell(row, s):
        def f():
            hw = max([x.get("hwm_mib") or 0 for x in st.samples[row][s]])
            cpu = st.med(row, s, "cpu_s")
            return "%.0f MiB %.2f s" % (hw, cpu) if cpu is not None else "-"
        return cell(st, row, s, f)

    lines = [[row] + [res_cell(row, s) for s in names] for row in order]
    print_matrix("Mount daemons: peak RSS (VmHWM, max of runs; W3 shares W2's mount) and CPU "
                 "seconds of the timed part (median)", ["row"] + names, lines)
    return targets(ctx, st, order, mine, peers)


# workload -> the ids its turns are counted under (run_subject's wid)
TURN_IDS = {"W2": ("W2", "W4"), "W7": ("W7w", "W7r", "W7c", "W7")}


def print_wallclock(clock, order):
    """Where the run's wall-clock time went (bench.WallClock), by workload
    (in run order) and subject."""
    cols = ("timed", "wait", "mount", "unmount", "drop_caches", "scratch", "janitor", "verify",
            "check")
    head = ["workload", "subject", "turns", "total"] + list(cols) + ["other"]
    lines = []
    for w in order:
        wids = TURN_IDS.get(w, (w,))
        keys = [k for k in clock.t if k[0] in wids]
        for k in sorted(keys, key=lambda k: (k[1] != "setup", k[1] == "all",
                                             wids.index(k[0]))):
            d = clock.t[k]
            if k[1] == "all":
                lines.append([w, "(workload)", "", "%.0f" % d.get("total", 0)]
                             + [""] * (len(cols) + 1))
                continue
            known = sum(d.get(c, 0) for c in cols if c != "wait")  # wait is in timed
            lines.append([k[0], k[1], "%d" % d.get("turns", 0), "%.1f" % d.get("total", 0)]
                         + ["%.1f" % d[c] if d.get(c) else "-" for c in cols]
                         + ["%.1f" % (d.get("total", 0) - known)])
    extra = [k for k in clock.t if k[0] in ("start", "end")]
    for k in extra:
        lines.append([k[0], k[1], "", "%.1f" % clock.t[k].get("total", 0)]
                     + [""] * (len(cols) + 1))
    if lines:
        print_matrix("Wall-clock time (s), turns summed over runs: timed = the measured parts "
                     "(for mount writes including wait = polling until the data is in Swift); "
                     "check = the same poll after a raw write; janitor = waiting for a "
                     "background deletion step to end before a timed part; other = the rest "
                     "(daemon and zarr start-up, local reads, request counting)", head, lines)


def targets(ctx, st, order, mine, peers):
    rows = []
    for m in mine:
        for row in order:
            if m in st.skips.get(row, ()):
                continue  # not run (skip_rows): the table says why
            v = speed(row, st.med(row, m))
            bv, bp = best_peer(st, row, peers)
            if v is None or bv is None:
                rows.append(B.Row(row, ">= 1.5 x best peer", m, "n/a", target=">= 1.5x",
                                  passed=False if (row, m) in st.errors else None))
                continue
            rows.append(B.Row(row, ">= 1.5 x best peer", m, fmt_v(st.med(row, m), ROWS[row][1]),
                              bp, fmt_v(st.med(row, bp), ROWS[row][1]), v / bv, ">= 1.50",
                              v / bv >= 1.5))
        for row in ("W1", "W2", "W7w", "W7r", "W7c"):
            if row not in order:
                continue
            v = speed(row, st.med(row, m))
            rv, rn = best_raw(st, row)
            if v is None or rv is None:
                continue
            rows.append(B.Row(row, ">= 0.85 x raw API", m, fmt_v(v, ROWS[row][1]), rn,
                              fmt_v(rv, ROWS[row][1]), v / rv, ">= 0.85", v / rv >= 0.85))
        if "W6" in order and st.med("W6", m) is not None:
            v = st.med("W6", m)
            hd = median([x["req"]["HEAD"] for x in st.samples["W6"][m] if x.get("req")])
            rows.append(B.Row("W6", "time and HEADs", m, "%.2f s, %s HEAD" % (v, B.fmt_num(hd)),
                              target="< 3 s, 0 HEAD", passed=v < 3 and hd == 0))
        for row in ("W1", "W2"):
            cpm = st.med(row, m, "cpu_s")
            mb = st.med(row, m, "mb")
            rcl = [(st.med(row, p, "cpu_s") / st.med(row, p, "mb"), p) for p in peers
                   if p.startswith("rclone") and st.med(row, p, "cpu_s") is not None]
            if cpm is None or not rcl:
                continue
            mine_pm = cpm / mb
            best = min(rcl)
            rows.append(B.Row(row, "CPU per MB <= rclone", m, "%.2f ms/MB" % (1000 * mine_pm),
                              best[1], "%.2f ms/MB" % (1000 * best[0]),
                              mine_pm / best[0] if best[0] else None, "<= 1.00",
                              mine_pm <= best[0]))
        hw = [x.get("hwm_mib") or 0 for row in order for x in st.samples.get(row, {}).get(m, [])]
        if hw:
            rows.append(B.Row("all", "peak RSS", m, "%.1f MiB" % max(hw), target="< 100 MiB",
                              passed=max(hw) < 100))
    return rows


def resolve_targets(ctx, specs):
    """The W rows' subjects: --target specs or DEFAULT_TARGETS; a swiftfs
    target whose options the binary does not know is left out, with a note."""
    out = []
    try:
        h = subprocess.run([ctx.swiftfs_bin, "--help"], capture_output=True, text=True,
                           timeout=10)
        helptext = h.stdout + h.stderr
    except (OSError, subprocess.SubprocessError):
        helptext = ""
    for spec in specs or DEFAULT_TARGETS:
        name, cfg = B.parse_target(spec)
        if cfg["kind"] == "swiftfs":
            unknown = [o for o in cfg["opts"] if not o.startswith("bin=")
                       and not any(ln.strip().startswith(o.split("=")[0]) for ln in
                                  helptext.splitlines())]
            if unknown:
                note = ("note: target %s skipped: %s does not know option(s) %s (see its "
                        "--help)" % (name, ctx.swiftfs_bin, ", ".join(unknown)))
                print(note)
                log(note)
                suite(ctx).notes.append(note)
                continue
        out.append((name, cfg))
    return out


WORKLOADS = {
    "W1": (w_w1, "write 256 MiB sequential until in Swift (64 MiB with --quick)"),
    "W2": (w_reads, "W2 cold read 256 MiB, W3 warm re-read (same mount, and after a remount), "
                    "W4 2,000 random 4 KiB preads, cold (64 MiB, 200 with --quick)"),
    "W5": (w_w5, "tar -x of 1,000 x 4 KiB files until all in Swift (50 with --quick)"),
    "W6": (w_w6, "ls -lR of 10,000 objects in 100 dirs, cold (500 in 10 with --quick)"),
    "W7": (w_w7, "zarr 4096x4096 float32, 256x256 chunks: write, cold read, random chunks "
                 "(1024x1024 with --quick)"),
}
