#!/usr/bin/python3
"""swiftfs benchmark harness (not a pytest test).

Measures swiftfs against a local one-replica Swift (tests/tools/swift-aio.sh,
an instance of its own: state /var/tmp/swiftfs-bench, port 18680) and against
peers that talk to the same Swift directly (curl, python-swiftclient).

Workloads (see WORKLOADS at the end):
  R1  cold sequential read of one object: swiftfs vs curl single stream and
      N parallel ranged GETs
  L1  `ls -l` of a directory of 10,000 objects: time and Swift requests,
      vs a python-swiftclient full listing of the same prefix
  M1  peak RSS (VmHWM) and CPU of the swiftfs daemon over a long sequential
      read
  W1  sequential write of one large file (an SLO) through the mount, timed
      until close() returns, vs `swift upload --use-slo`
  M2  peak RSS and CPU of the daemon over that write
  W5a tar -x of 1,000 files of 4 KiB into the mount vs `swift upload` of
      the same tree; W5b the same with 100 files of 1 MiB

Every measured swiftfs run gets a fresh mount (`swiftfs -f`, unmounted with
fusermount3 -u, which makes swiftfs log its request counters; kept in the
JSON). Requests are counted and classified from the Swift proxy's access log.
Page caches are dropped before every measured run of every subject.
Write workloads write every run into a fresh container (deleted after the
run) and give each mount a fresh cache_dir (removed at unmount).

Extending it: a workload is a function f(ctx) -> list of Row registered in
WORKLOADS; a mount configuration is an entry of TARGETS (kind, options, env),
and a new kind of mount (rclone, s3fs) is a class with the interface of
SwiftfsMount registered in MOUNT_KINDS.

Run as root (drop_caches, FUSE, Swift's servers): see tests/bench/README.md.
"""
import argparse
import concurrent.futures
import contextlib
import fcntl
import hashlib
import http.client
import io
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import types
import urllib.parse

try:
    import swiftclient
    import swiftclient.client
except ImportError:  # reported in main()
    swiftclient = None

# helper modules (peers.py, suite.py) `import bench`: let them find this
# module when it runs as a script instead of loading a second copy
sys.modules.setdefault("bench", sys.modules[__name__])

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
AIO = os.path.join(ROOT, "tests", "tools", "swift-aio.sh")

MB = 1000 * 1000          # throughput is reported in MB/s (10^6 bytes)
MiB = 1024 * 1024

AIO_DIR = os.environ.get("SWIFTFS_AIO_DIR", "/var/tmp/swiftfs-bench")
AIO_PORT = int(os.environ.get("SWIFTFS_AIO_PORT", "18680"))
USER, KEY = "test:tester", "testing"
# every bench mount point lives here (and the lock that keeps one bench per
# folder): another folder lets two benches run side by side
MNT_BASE = os.environ.get("SWIFTFS_BENCH_MNT", "/tmp/swiftfs-bench-mnt")
DATA_CONTAINER = "swiftfs-bench-data"     # large random objects (R1, M1)
L1_CONTAINER = "swiftfs-bench-l1-%d"      # L1's directory of N small objects
L1_DIR = "dir"
# local source files of the write workloads, generated once and kept
SRC_DIR = os.environ.get("SWIFTFS_BENCH_SRC", "/var/tmp/swiftfs-bench-src")
# every mount gets a fresh cache_dir (staging) CACHE_BASE/PID-SEQ, removed
# at unmount; on disk like /var/cache/swiftfs, not on a tmpfs
CACHE_BASE = os.environ.get("SWIFTFS_BENCH_CACHE", "/var/tmp/swiftfs-bench-cache")
SCRATCH_CONTAINER = "swiftfs-bench-%s-%d-%d"   # one per write run: tag, pid, seq
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# User-Agent of the bench's own check requests (listings and HEADs that wait
# for objects to land): left out of the request counts of the subject
CHECK_AGENT = "swiftfs-bench-check"


class BenchError(Exception):
    pass


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ----------------------------------------------------------- signals ----

def _to_interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def install_signals():
    # SIGINT explicitly too: Python leaves it ignored when started in the
    # background by a non-interactive shell
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _to_interrupt)
    signal.signal(signal.SIGHUP, _to_interrupt)


# --------------------------------------------------------- wall clock ----

class WallClock:
    """Where the bench's wall-clock time goes: seconds per (workload,
    subject) and phase. A workload's setup (fixtures) is the subject
    "setup"; a subject's "total" is its whole turn in run_subject. Phases
    (mount, unmount, wait, drop_caches, scratch, verify) are counted where
    they happen; a phase inside another one counts for the outer one only,
    so the phases of a turn never add up to more than its total."""

    PHASES = ("mount", "unmount", "wait", "drop_caches", "scratch", "verify")

    def __init__(self):
        self.cur = ("-", "-")
        self.t = {}          # (workload, subject) -> {phase: seconds}
        self.depth = 0

    def add(self, key, phase, dt):
        d = self.t.setdefault(key, {})
        d[phase] = d.get(phase, 0.0) + dt

    @contextlib.contextmanager
    def phase(self, name):
        if self.depth:
            yield
            return
        self.depth += 1
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.depth -= 1
            self.add(self.cur, name, time.monotonic() - t0)

    @contextlib.contextmanager
    def turn(self, workload, subject):
        """A subject's turn (or a workload's setup): sets the key phases go to."""
        prev = self.cur
        self.cur = (workload, subject)
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.add(self.cur, "total", time.monotonic() - t0)
            self.add(self.cur, "turns", 1)
            self.cur = prev

    def as_json(self):
        return {"%s %s" % k: v for k, v in self.t.items()}


CLOCK = WallClock()


# --------------------------------------------------------------- host ----

JANITOR = None   # the bench run's Janitor (scratch deletion in the background)


def quiet():
    """A timed part starts: no background deletion from now on."""
    if JANITOR:
        JANITOR.quiet()


def unquiet():
    """The timed part is over: background deletion may go on."""
    if JANITOR:
        JANITOR.resume()


def drop_caches():
    """Write back and drop the page cache (and dentries/inodes). Root only.
    Called right before a cold timed part: stops background deletion first."""
    quiet()
    with CLOCK.phase("drop_caches"):
        os.sync()
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            return True
        except OSError as e:
            raise BenchError("cannot drop caches (%s): run as root" % e)


def proc_cpu_seconds(pid):
    """utime + stime of a whole process (all threads), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(rest[11]) + int(rest[12])) / tck


def proc_status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def swift_server_cpu():
    """utime+stime (s) of the bench Swift's servers, by kind (proxy,
    object, container, account): every process of that instance."""
    tag = (AIO_DIR.rstrip("/") + "/etc/").encode()
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if tag not in cmd:
            continue
        for kind in ("proxy", "object", "container", "account"):
            if b"swift-%s-server" % kind.encode() in cmd:
                with contextlib.suppress(OSError, IndexError, ValueError):
                    out[kind] = out.get(kind, 0.0) + proc_cpu_seconds(int(d))
                break
    return out


def cpu_delta(a, b):
    return {k: b.get(k, 0.0) - a.get(k, 0.0) for k in b}


def read_file(path, block=MiB, md5=False):
    """Read a file sequentially in `block` bytes; returns (bytes, md5 hex|None)."""
    buf = bytearray(block)
    mv = memoryview(buf)
    h = hashlib.md5() if md5 else None
    total = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(mv)
            if not n:
                break
            total += n
            if h:
                h.update(mv[:n])
    return total, (h.hexdigest() if h else None)


def timed_copy(src, dst, block=MiB):
    """Copy src to a new dst in `block`-byte write()s. Returns (bytes,
    seconds from open(dst) to the last write() returning, seconds of
    close(dst)). An error of close() (a failed upload) is raised."""
    buf = bytearray(block)
    mv = memoryview(buf)
    total = 0
    with open(src, "rb", buffering=0) as fin:
        t0 = time.perf_counter()
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            while True:
                n = fin.readinto(mv)
                if not n:
                    break
                w = 0
                while w < n:
                    w += os.write(fd, mv[w:n])
                total += n
            t1 = time.perf_counter()
        finally:
            os.close(fd)
        t2 = time.perf_counter()
    return total, t1 - t0, t2 - t1


def warm(paths):
    """Read files into the page cache (the write workloads' sources: the
    local disk is not what they measure)."""
    for p in paths:
        if os.path.isdir(p):
            for dp, _, fns in os.walk(p):
                for fn in fns:
                    read_file(os.path.join(dp, fn))
        else:
            read_file(p)


def git_describe():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "include"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty(src)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


# -------------------------------------------------------------- swift ----

class Swift:
    """The bench's own swift-aio instance (started if not running)."""

    def __init__(self, workers=None):
        self.dir = AIO_DIR
        self.port = AIO_PORT
        self.auth_url = "http://127.0.0.1:%d/auth/v1.0" % self.port
        self.env = dict(os.environ, SWIFTFS_AIO_DIR=self.dir, SWIFTFS_AIO_PORT=str(self.port))
        workers = workers or int(os.environ.get("SWIFTFS_AIO_WORKERS") or 0) or None
        self.want_workers = workers
        if workers:
            self.env["SWIFTFS_AIO_WORKERS"] = str(workers)
        self.proxy_log = os.path.join(self.dir, "log", "proxy.log")
        self.storage_url = self.token = None

    def aio(self, *args):
        p = subprocess.run([AIO] + list(args), env=self.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            raise BenchError("swift-aio.sh %s failed:\n%s" % (" ".join(args), p.stdout))
        return p.stdout.strip()

    def configured_workers(self):
        try:
            with open(os.path.join(self.dir, "etc", "proxy-server.conf")) as f:
                m = re.search(r"^workers\s*=\s*(\d+)", f.read(), re.M)
            return int(m.group(1)) if m else None
        except OSError:
            return None

    def start(self):
        cw = self.configured_workers()
        if self.want_workers and cw is not None and cw != self.want_workers:
            log("restarting Swift: proxy workers %s -> %s" % (cw, self.want_workers))
            out = self.aio("restart")
        else:
            out = self.aio("start")
        log(out.splitlines()[-1] if out else "swift-aio started")
        self.workers = self.configured_workers()
        self.authenticate()

    def stop(self):
        log(self.aio("stop"))

    def backend_workers(self):
        out = set()
        for kind in ("object", "container", "account"):
            with contextlib.suppress(OSError):
                with open(os.path.join(self.dir, "etc", "%s-server.conf" % kind)) as f:
                    m = re.search(r"^workers\s*=\s*(\d+)", f.read(), re.M)
                out.add(m.group(1) if m else "?")
        return "/".join(sorted(out)) or "?"

    def authenticate(self):
        url, token = swiftclient.client.get_auth(self.auth_url, USER, KEY)
        host = urllib.parse.urlsplit(url).hostname
        if host not in LOOPBACK:
            raise BenchError("storage URL %s is not on loopback" % url)
        self.storage_url, self.token = url, token

    def conn(self):
        return swiftclient.Connection(preauthurl=self.storage_url, preauthtoken=self.token,
                                      authurl=self.auth_url, user=USER, key=KEY,
                                      retries=3, timeout=600)

    def creds_env(self):
        return {"ST_AUTH": self.auth_url, "ST_USER": USER, "ST_KEY": KEY}

    def object_url(self, container, obj=None):
        u = self.storage_url + "/" + urllib.parse.quote(container)
        return u + "/" + urllib.parse.quote(obj) if obj else u

    # The proxy's access log gives an independent count of the requests a
    # run made (this instance is only used by the bench, under a lock).
    def log_offset(self):
        try:
            return os.path.getsize(self.proxy_log)
        except OSError:
            return None

    def requests_since(self, offset, t0=None, t1=None):
        """Client requests (not middleware subrequests) logged since offset:
        list of (method, path, query dict, status). With t0/t1 (epoch) only
        the requests that started in [t0, t1] (the log's start_time; the
        caller waits until their lines are written), else every line up to
        the end of the log 0.3 s from now."""
        if offset is None:
            return None
        if t1 is None:
            time.sleep(0.3)  # the access line is written when the response ends
        out = []
        with open(self.proxy_log, "rb") as f:
            f.seek(offset)
            data = f.read().decode("utf-8", "replace")
        for line in data.splitlines():
            if not line.startswith("proxy-server: "):
                continue
            parts = line.split()
            # proxy-server: client remote date METHOD path proto status
            # referer agent ...; S3 (s3api) requests are logged with their
            # S3 path /BUCKET/KEY: counted as /v1/S3/BUCKET/KEY
            if len(parts) < 8 or parts[1] == "-" or not parts[5].startswith("/"):
                continue
            if len(parts) > 9 and CHECK_AGENT in parts[9]:
                continue
            if t1 is not None and len(parts) > 20:
                with contextlib.suppress(ValueError):
                    if not t0 <= float(parts[19]) <= t1:
                        continue
            full = urllib.parse.unquote(parts[5])
            if not full.startswith(("/v1/", "/auth/")):
                full = "/v1/S3" + full
            path, _, q = full.partition("?")
            out.append((parts[4], path, urllib.parse.parse_qs(q), parts[7]))
        return out

    def request_times(self, offset):
        """(method, start, end) (epoch seconds) of the client requests logged
        since offset, auth excluded; method is suffixed " container" for
        requests to a container or the account. Call after requests_since()."""
        if offset is None:
            return None
        out = []
        with open(self.proxy_log, "rb") as f:
            f.seek(offset)
            data = f.read().decode("utf-8", "replace")
        for line in data.splitlines():
            parts = line.split()
            # ... trans_id headers request_time source log_info start end policy
            if (len(parts) < 21 or parts[0] != "proxy-server:" or parts[1] == "-"
                    or not parts[5].startswith("/v1/")):
                continue
            depth = parts[5].split("%3F")[0].split("?")[0].rstrip("/").count("/")
            with contextlib.suppress(ValueError):
                out.append((parts[4] if depth >= 4 else parts[4] + " container",
                            float(parts[19]), float(parts[20])))
        return out


# ------------------------------------------------------------- mounts ----

_active_mounts = []  # every mount not yet unmounted: cleaned up on any exit


class SwiftfsMount:
    """One foreground swiftfs daemon on a fresh mount point under MNT_BASE."""
    kind = "swiftfs"
    _seq = 0

    def __init__(self, ctx, source, opts=(), env=None, cache_dir=None):
        self.ctx = ctx
        self.source = source
        self.opts = list(opts)
        self.extra_env = dict(env or {})
        SwiftfsMount._seq += 1
        self.path = os.path.join(MNT_BASE, "%d-%d" % (os.getpid(), SwiftfsMount._seq))
        self.log_path = os.path.join(ctx.workdir, "%s-%d.log" % (self.kind, SwiftfsMount._seq))
        self.proc = None
        self.stats = None
        self.cache_dir = None       # fresh per mount, removed at unmount
        self.given_cache_dir = cache_dir  # the caller's: kept (remount tests)
        self.leftover_staged = None  # files left in cache_dir/staging at exit

    def command(self):
        """argv and environment of the daemon (in the foreground)."""
        # bin=PATH is the bench's, not swiftfs's: that target's binary
        # (A/B runs of two builds, interleaved in one bench run)
        binary = self.ctx.swiftfs_bin
        opts = []
        for o in self.opts:
            if o.startswith("bin="):
                binary = o[4:]
            else:
                opts.append(o)
        if self.given_cache_dir:
            opts.append("cache_dir=" + self.given_cache_dir)
        elif self.ctx.has_cache_dir and not any(o.startswith("cache_dir=") for o in opts):
            self.cache_dir = os.path.join(self.ctx.cache_base, os.path.basename(self.path))
            shutil.rmtree(self.cache_dir, ignore_errors=True)
            os.makedirs(self.cache_dir)
            opts.append("cache_dir=" + self.cache_dir)
        cmd = [binary, "-f"]
        if opts:
            cmd += ["-o", ",".join(opts)]
        cmd += [self.source, self.path]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "OS_"))}
        env.update(self.ctx.swift.creds_env())
        env.update(self.extra_env)
        return cmd, env

    @property
    def pid(self):
        return self.proc.pid

    def __enter__(self):
        with CLOCK.phase("mount"):
            return self._mount()

    def _mount(self):
        os.makedirs(self.path, exist_ok=True)
        cmd, env = self.command()
        with open(self.log_path, "wb") as lf:
            # own session: a Ctrl-C in the terminal reaches the bench only,
            # which then unmounts (and so still gets the request counters)
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                         env=env, start_new_session=True)
        _active_mounts.append(self)
        t0 = time.monotonic()
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None:
                self.cleanup()
                raise BenchError("%s exited with %s before mounting:\n%s"
                                 % (self.kind, self.proc.returncode, self.log_text()))
            if time.monotonic() - t0 > 30:
                self.cleanup()
                raise BenchError("%s did not mount %s in 30 s:\n%s"
                                 % (self.kind, self.path, self.log_text()))
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.unmount()
        return False

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def unmount(self):
        """Unmount, wait for the daemon, parse its request counters."""
        with CLOCK.phase("unmount"):
            return self._unmount()

    def _unmount(self):
        try:
            if self.proc and self.proc.poll() is None:
                for i in range(10):
                    r = subprocess.run(["fusermount3", "-u", self.path], capture_output=True,
                                       text=True)
                    if r.returncode == 0 or not os.path.ismount(self.path):
                        break
                    time.sleep(0.2 * (i + 1))
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    log("%s pid %d did not exit after unmount: killing it" % (self.kind, self.pid))
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self.cleanup()
        self.stats = parse_swiftfs_stats(self.log_text())
        if self.leftover_staged:
            log("warning: %d staged file(s) left in swiftfs's cache_dir after unmount"
                % self.leftover_staged)
        if self.proc.returncode not in (0, None):
            log("warning: %s exited with %s (log %s)" % (self.kind, self.proc.returncode,
                                                        self.log_path))
        return self.stats

    def cleanup(self):
        """Never leave a mount or a daemon behind (idempotent)."""
        if self.proc and self.proc.poll() is None and not os.path.ismount(self.path):
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.path.ismount(self.path):
            subprocess.run(["fusermount3", "-u", self.path], capture_output=True)
            if os.path.ismount(self.path):
                subprocess.run(["fusermount3", "-uz", self.path], capture_output=True)
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            os.rmdir(self.path)
        if self.cache_dir and (self.proc is None or self.proc.poll() is not None):
            staged = os.path.join(self.cache_dir, "staging")
            with contextlib.suppress(OSError):
                self.leftover_staged = len(os.listdir(staged))
            shutil.rmtree(self.cache_dir, ignore_errors=True)
            self.cache_dir = None
        if self in _active_mounts:
            _active_mounts.remove(self)


def parse_swiftfs_stats(text):
    """The last "requests: ..." line swiftfs logs at unmount, as a dict of
    its "N name" items, e.g. {"listing": 1, "GET": 16, "HEAD": 2, ...,
    "bytes in": 123}. Plus "all GET" / "all HEAD": every GET (listings and
    auth included) and every HEAD, whatever the line's layout."""
    line = None
    for line in re.findall(r"requests: (.*)", text):
        pass
    if line is None:
        return None
    d = {name.strip(): int(n) for n, name in re.findall(r"(\d+) ([^,;\d]+)", line)}
    if "listing" in d:   # layout with the listing / auth / metadata HEADs apart
        d["all GET"] = d.get("GET", 0) + d["listing"] + d.get("auth", 0)
    else:
        d["all GET"] = d.get("GET", 0)
    d["all HEAD"] = sum(v for k, v in d.items() if k.endswith("HEAD") and k != "all HEAD")
    return d


def classify_requests(entries, dir_prefix=None):
    """Proxy access log entries (Swift.requests_since) -> counts by kind."""
    if entries is None:
        return None
    c = {"auth": 0, "listing GET": 0, "dir listing GET": 0, "object GET": 0,
         "object HEAD": 0, "container/account HEAD": 0, "object PUT": 0,
         "manifest PUT": 0, "container PUT": 0, "POST": 0, "DELETE": 0, "COPY": 0,
         "other": 0}
    for method, path, q, _status in entries:
        depth = path.rstrip("/").count("/")   # /v1/A = 2, /v1/A/C = 3, /v1/A/C/O >= 4
        if path.startswith("/auth/"):
            c["auth"] += 1
        elif method == "GET" and depth == 3:
            c["listing GET"] += 1
            if dir_prefix is not None and q.get("prefix", [""])[0] == dir_prefix:
                c["dir listing GET"] += 1
        elif method == "GET" and depth >= 4:
            c["object GET"] += 1
        elif method == "HEAD":
            c["object HEAD" if depth >= 4 else "container/account HEAD"] += 1
        elif method == "PUT" and depth >= 4:
            # SLO manifests apart (their segments are object PUTs)
            c["manifest PUT" if "multipart-manifest" in q else "object PUT"] += 1
        elif method == "PUT" and depth == 3:
            c["container PUT"] += 1
        elif method in ("POST", "DELETE", "COPY"):
            c[method] += 1
        else:
            c["other"] += 1
    return c


# Mount kinds (classes with SwiftfsMount's interface: context manager,
# .path, .pid, .stats after exit). Later: rclone mount, s3fs via s3api.
MOUNT_KINDS = {"swiftfs": SwiftfsMount}

# Named mount configurations: kind, options (-o), extra environment of the
# daemon. Every selected target gets its own rows; select with --target.
TARGETS = {
    "swiftfs": {"kind": "swiftfs", "opts": []},
    "swiftfs-chunk8M": {"kind": "swiftfs", "opts": ["read_chunk=8M", "read_ahead=64M"]},
    "swiftfs-chunk1M": {"kind": "swiftfs", "opts": ["read_chunk=1M", "read_ahead=16M"]},
    "swiftfs-w8": {"kind": "swiftfs", "opts": ["workers=8"]},
    # write side (W1): segment size and upload threads
    "swiftfs-seg32M": {"kind": "swiftfs", "opts": ["segment_size=32M"]},
    "swiftfs-w8-seg32M": {"kind": "swiftfs", "opts": ["workers=8", "segment_size=32M"]},
    "swiftfs-w8-seg128M": {"kind": "swiftfs", "opts": ["workers=8", "segment_size=128M"]},
    "swiftfs-noahead": {"kind": "swiftfs", "opts": ["read_ahead=0"]},
    # glibc's dynamic mmap threshold off: freed chunk buffers go back to the
    # kernel at once (diagnoses RSS from malloc arenas, see README)
    "swiftfs-mmap": {"kind": "swiftfs", "opts": [],
                     "env": {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576"}},
    "swiftfs-arena1": {"kind": "swiftfs", "opts": [], "env": {"MALLOC_ARENA_MAX": "1"}},
}


def parse_target(spec):
    """NAME from TARGETS, or NAME=KIND[:OPT,OPT...] for an ad-hoc one."""
    if "=" in spec:
        name, _, rest = spec.partition("=")
        kind, _, opts = rest.partition(":")
        if kind not in MOUNT_KINDS:
            raise BenchError("unknown mount kind %r (have: %s)" % (kind, ", ".join(MOUNT_KINDS)))
        return name, {"kind": kind, "opts": [o for o in opts.split(",") if o]}
    if spec not in TARGETS:
        raise BenchError("unknown target %r (have: %s, or NAME=swiftfs:OPT,...)"
                         % (spec, ", ".join(TARGETS)))
    return spec, TARGETS[spec]


def kill_strays():
    """Unmount and kill what a previous, dead bench run left under MNT_BASE."""
    def owner_alive(name):
        m = re.match(r"(?:work-)?(\d+)(?:-\d+)?$", name)
        if not m:
            return False
        pid = int(m.group(1))
        if pid == os.getpid():
            return True
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return b"bench.py" in f.read()
        except OSError:
            return False

    with open("/proc/self/mountinfo") as f:
        mps = [line.split()[4] for line in f]
    for mp in mps:
        mp = mp.replace("\\040", " ")
        if mp.startswith(MNT_BASE + "/") and not owner_alive(os.path.basename(mp)):
            log("unmounting stray mount %s" % mp)
            if subprocess.run(["fusermount3", "-u", mp], capture_output=True).returncode:
                subprocess.run(["fusermount3", "-uz", mp], capture_output=True)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in argv if a]
        mps = [a for a in argv if a.startswith(MNT_BASE + "/")]
        if (argv and os.path.basename(argv[0]) in ("swiftfs", "rclone", "s3fs") and mps
                and not owner_alive(os.path.basename(mps[0]))):
            log("killing stray %s pid %s (%s)" % (os.path.basename(argv[0]), d, mps[0]))
            with contextlib.suppress(OSError):
                os.kill(int(d), signal.SIGTERM)
                time.sleep(1)
                os.kill(int(d), signal.SIGKILL)
    for name in os.listdir(MNT_BASE):
        p = os.path.join(MNT_BASE, name)
        if os.path.isdir(p) and not os.path.ismount(p) and not owner_alive(name):
            if name.startswith("work-"):
                shutil.rmtree(p, ignore_errors=True)  # logs of a dead run
            else:
                with contextlib.suppress(OSError):
                    os.rmdir(p)
    with contextlib.suppress(OSError):   # write sources copied by dead runs
        for name in os.listdir("/dev/shm"):
            m = re.match(r"swiftfs-bench-(\d+)-", name)
            if m and not owner_alive(m.group(1)):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join("/dev/shm", name))
    if os.path.isdir(CACHE_BASE):   # cache_dirs of dead runs' mounts
        for name in os.listdir(CACHE_BASE):
            if not owner_alive(name):
                shutil.rmtree(os.path.join(CACHE_BASE, name), ignore_errors=True)


# ----------------------------------------------------------- fixtures ----

class RandomReader:
    """File-like object of `size` random bytes; md5 of what was read."""

    def __init__(self, size):
        self.left = size
        self.md5 = hashlib.md5()

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        b = os.urandom(n)
        self.left -= n
        self.md5.update(b)
        return b


def ensure_object(ctx, container, name, size):
    """A `size`-byte random object; reused when already there with its size
    and the ETag recorded when the bench uploaded it (SRC_DIR/*.etag; an
    object from before that record is trusted by size). Returns etag."""
    conn = ctx.conn
    conn.put_container(container)
    rec = os.path.join(SRC_DIR, "%s--%s.etag" % (container, name))
    want = None
    with contextlib.suppress(OSError):
        with open(rec) as f:
            want = f.read().strip()
    with contextlib.suppress(swiftclient.ClientException):
        h = conn.head_object(container, name)
        if int(h.get("content-length", -1)) == size and want in (None, h["etag"]):
            return h["etag"]
    log("uploading %s/%s (%d MiB of random bytes)" % (container, name, size // MiB))
    t0 = time.monotonic()
    rr = RandomReader(size)
    etag = conn.put_object(container, name, rr, content_length=size, chunk_size=MiB)
    if etag != rr.md5.hexdigest():
        raise BenchError("upload of %s: etag %s != md5 %s" % (name, etag, rr.md5.hexdigest()))
    os.makedirs(SRC_DIR, exist_ok=True)
    with open(rec, "w") as f:
        f.write(etag + "\n")
    log("  uploaded in %.1f s" % (time.monotonic() - t0))
    return etag


def _bulk(ctx, method, path, body, content_type, agent=None):
    """One bulk middleware request; returns its JSON result."""
    u = urllib.parse.urlsplit(ctx.swift.storage_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=1800)
    hdr = {"X-Auth-Token": ctx.swift.token, "Accept": "application/json",
           "Content-Type": content_type, "Content-Length": str(len(body))}
    if agent:
        hdr["User-Agent"] = agent
    try:
        c.request(method, path, body=body, headers=hdr)
        r = c.getresponse()
        data = r.read()
        if r.status // 100 != 2:
            raise BenchError("%s %s: HTTP %d %s" % (method, path, r.status, data[:300]))
        return json.loads(data.strip() or b"{}")
    finally:
        c.close()


def bulk_upload(ctx, container, names, content=b"x", streams=4):
    """PUT many small objects with extract-archive (tars built in memory),
    `streams` archives in parallel."""
    def tar_of(chunk):
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            for n in chunk:
                ti = tarfile.TarInfo(n)
                ti.size = len(content)
                ti.mtime = int(time.time())
                tf.addfile(ti, io.BytesIO(content))
        return bio.getvalue()

    path = urllib.parse.urlsplit(ctx.swift.object_url(container)).path + "?extract-archive=tar"
    per = math.ceil(len(names) / streams)
    chunks = [names[i:i + per] for i in range(0, len(names), per)]
    results, errors = [], []

    def worker(chunk):
        try:
            results.append(_bulk(ctx, "PUT", path, tar_of(chunk), "application/x-tar"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise BenchError("bulk upload failed: %s" % errors[0])
    created = sum(r.get("Number Files Created", 0) for r in results)
    errs = [e for r in results for e in r.get("Errors", [])]
    return created, errs


def list_prefix(conn, container, prefix):
    _, objs = conn.get_container(container, prefix=prefix, full_listing=True)
    return [o["name"] for o in objs]


def ensure_bigdir(ctx, container, prefix, n):
    """Container with exactly the n objects prefix/f00000..: reused if there.
    Missing ones (e.g. a container update that timed out) are PUT again."""
    conn = ctx.conn
    conn.put_container(container)
    want = ["%s/f%05d" % (prefix, i) for i in range(n)]
    for attempt in range(3):
        have = set(list_prefix(conn, container, prefix + "/"))
        extra = have - set(want)
        if extra:
            raise BenchError("%s/%s/ holds %d unexpected objects: delete the container"
                             % (container, prefix, len(extra)))
        missing = [w for w in want if w not in have]
        if not missing:
            return
        log("creating %d objects in %s/%s/ with extract-archive" % (len(missing), container, prefix))
        t0 = time.monotonic()
        created, errs = bulk_upload(ctx, container, missing)
        log("  %d created in %.1f s%s" % (created, time.monotonic() - t0,
                                            ", errors: %s" % errs[:3] if errs else ""))
    raise BenchError("could not create %d objects in %s" % (n, container))


def bulk_delete(ctx, container, streams=4):
    """Delete a container and everything in it (bulk-delete requests of at
    most 10,000 names, `streams` in parallel)."""
    conn = ctx.conn
    try:
        _, objs = conn.get_container(container, full_listing=True)
    except swiftclient.ClientException as e:
        if e.http_status == 404:
            return
        raise
    names = ["/%s/%s" % (urllib.parse.quote(container), urllib.parse.quote(o["name"]))
             for o in objs]
    path = urllib.parse.urlsplit(ctx.swift.storage_url).path + "?bulk-delete"
    per = min(10000, max(1, math.ceil(len(names) / streams)))
    chunks = [names[i:i + per] for i in range(0, len(names), per)]
    errors = []

    def worker(chunk):
        try:
            _bulk(ctx, "POST", path, "\n".join(chunk).encode(), "text/plain")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise BenchError("bulk delete failed: %s" % errors[0])
    with contextlib.suppress(swiftclient.ClientException):
        conn.delete_container(container)


class Janitor:
    """Deletes the write runs' scratch containers in a background thread,
    never while something is measured: quiet() (called by drop_caches()
    and when a timed part starts) waits for the one request in flight and
    holds the rest until resume() (when the timed part has ended). The work
    goes in short steps (a listing; STREAMS parallel bulk-deletes of at most
    BATCH objects each; a container DELETE), so quiet() waits a second or
    so at most. Its requests carry CHECK_AGENT: never counted as a
    subject's. A DELETE costs Swift about what a PUT does (a tombstone, a
    container update): tens of ms each on a loaded machine, so a W5 run's
    1,000 objects take long enough to matter."""

    BATCH = 25
    STREAMS = 4

    def __init__(self, ctx):
        self.ctx = ctx
        self.cv = threading.Condition()
        self.queue = []          # containers to delete, in order
        self.paused = False
        self.busy = False        # a step is in flight
        self.failed = []         # (container, message): deleted again at exit
        self.busy_s = 0.0        # seconds of work done in the background
        self.deleted = 0         # objects deleted
        self.stop = False
        self.pool = concurrent.futures.ThreadPoolExecutor(self.STREAMS)
        self.thread = threading.Thread(target=self._run, name="janitor", daemon=True)
        self.thread.start()

    def put(self, *containers):
        with self.cv:
            self.queue.extend(containers)
            self.cv.notify_all()

    def quiet(self):
        with CLOCK.phase("janitor"):
            with self.cv:
                self.paused = True
                while self.busy:
                    self.cv.wait()

    def resume(self):
        with self.cv:
            self.paused = False
            self.cv.notify_all()

    def drain(self):
        """Resume and wait until every queued container is deleted."""
        with self.cv:
            self.paused = False
            self.cv.notify_all()
            while self.queue or self.busy:
                self.cv.wait()

    def close(self):
        with self.cv:
            self.stop = True
            self.cv.notify_all()
        self.thread.join(timeout=5)
        self.pool.shutdown(wait=False)

    def _step(self):
        """Wait until allowed, then claim the next step: (container, names|None)."""
        with self.cv:
            while not self.stop and (self.paused or not self.queue):
                self.cv.wait()
            if self.stop:
                return None
            self.busy = True
            return self.queue[0]

    def _done(self, t0, finished):
        with self.cv:
            self.busy_s += time.monotonic() - t0
            if finished:
                self.queue.pop(0)
            self.busy = False
            self.cv.notify_all()

    def _run(self):
        conn = self.ctx.swift.conn()
        hdr = {"User-Agent": CHECK_AGENT}
        acct = urllib.parse.urlsplit(self.ctx.swift.storage_url).path
        pending = {}   # container -> names still to delete (after its listing)
        while True:
            item = self._step()
            if item is None:
                return
            t0 = time.monotonic()
            finished = False
            try:
                names = pending.get(item)
                if names is None:   # step 1: the listing
                    try:
                        _, objs = conn.get_container(item, full_listing=True, headers=hdr)
                        pending[item] = ["/%s/%s" % (urllib.parse.quote(item),
                                                     urllib.parse.quote(o["name"]))
                                         for o in objs]
                    except swiftclient.ClientException as e:
                        if e.http_status != 404:
                            raise
                        finished = True
                elif names:         # step 2..: STREAMS bulk-delete batches at once
                    n = self.BATCH * self.STREAMS
                    step, pending[item] = names[:n], names[n:]
                    batches = [step[i:i + self.BATCH] for i in range(0, len(step), self.BATCH)]
                    for r in self.pool.map(lambda b: _bulk(
                            self.ctx, "POST", acct + "?bulk-delete", "\n".join(b).encode(),
                            "text/plain", agent=CHECK_AGENT), batches):
                        if r.get("Errors"):
                            raise BenchError("bulk delete: %s" % r["Errors"][:2])
                    self.deleted += len(step)
                else:               # last step: the container itself
                    with contextlib.suppress(swiftclient.ClientException):
                        conn.delete_container(item, headers=hdr)
                    finished = True
            except Exception as e:  # noqa: BLE001 - retried at exit, synchronously
                self.failed.append((item, str(e)[:200]))
                finished = True
            if finished:
                pending.pop(item, None)
            self._done(t0, finished)


def ensure_src_file(size):
    """A local file of `size` random bytes in SRC_DIR (generated once)."""
    os.makedirs(SRC_DIR, exist_ok=True)
    path = os.path.join(SRC_DIR, "w1-%dMiB.bin" % (size // MiB))
    with contextlib.suppress(OSError):
        if os.path.getsize(path) == size:
            return path
    log("generating %s (%d MiB of random bytes)" % (path, size // MiB))
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(os.urandom(n))
            left -= n
    os.replace(tmp, path)
    return path


def ensure_src_tree(name, n, fsize):
    """SRC_DIR/NAME-NxSIZE/NAME/f0000.. (n files of fsize random bytes), a
    tar of it (members NAME/f0000.., root-owned, mode 0644) and the md5 of
    every file (the JSON file is written last: it marks the set complete).
    Returns (folder holding NAME, tar path, {object name: md5})."""
    os.makedirs(SRC_DIR, exist_ok=True)
    base = os.path.join(SRC_DIR, "%s-%dx%d" % (name, n, fsize))
    tar, sums = base + ".tar", base + ".json"
    with contextlib.suppress(OSError, ValueError):
        with open(sums) as f:
            md5s = json.load(f)
        if len(md5s) == n and os.path.getsize(tar) > n * fsize:
            return base, tar, md5s
    log("generating %s: %d files of %d bytes, and its tar" % (base, n, fsize))
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(os.path.join(base, name))
    md5s = {}
    for i in range(n):
        rel = "%s/f%04d" % (name, i)
        data = os.urandom(fsize)
        with open(os.path.join(base, rel), "wb") as f:
            f.write(data)
        md5s[rel] = hashlib.md5(data).hexdigest()
    mtime = int(time.time())
    with tarfile.open(tar + ".part", "w", format=tarfile.GNU_FORMAT) as tf:
        def norm(ti):
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mode = 0o755 if ti.isdir() else 0o644
            ti.mtime = mtime
            return ti
        tf.add(os.path.join(base, name), arcname=name, filter=norm)
    os.replace(tar + ".part", tar)
    with open(sums, "w") as f:
        json.dump(md5s, f)
    return base, tar, md5s


# ------------------------------------------------------------ results ----

class Row:
    """One line of the summary table. ratio = subject / peer (its meaning,
    higher- or lower-is-better, is in `label`); passed None = informational."""

    def __init__(self, workload, label, subject, value, peer="", peer_value="",
                 ratio=None, target="(info)", passed=None, data=None):
        self.__dict__.update(workload=workload, label=label, subject=subject, value=value,
                             peer=peer, peer_value=peer_value, ratio=ratio, target=target,
                             passed=passed, data=data or {})

    def cells(self):
        return ["%s %s" % (self.workload, self.label), "%s: %s" % (self.subject, self.value),
                ("%s: %s" % (self.peer, self.peer_value)) if self.peer else "-",
                "%.2f" % self.ratio if self.ratio is not None else "-", self.target,
                {True: "PASS", False: "FAIL", None: "-"}[self.passed]]

    def as_json(self):
        return dict(self.__dict__)


def print_table(rows, header=("workload", "swiftfs", "peer", "ratio", "target", "result")):
    cells = [list(header)] + [r.cells() for r in rows]
    w = [max(len(c[i]) for c in cells) for i in range(len(header))]
    line = "-+-".join("-" * x for x in w)
    out = []
    for i, c in enumerate(cells):
        out.append(" | ".join(s.ljust(w[j]) for j, s in enumerate(c)).rstrip())
        if i == 0:
            out.append(line)
    print("\n".join(out))


def fmt_mbs(x):
    return "%.0f MB/s" % x if x is not None else "n/a"


# ----------------------------------------------------------- context ----

class Ctx:
    def __init__(self, args, swift, workdir):
        self.args = args
        self.quick = args.quick
        self.runs = args.runs or (1 if args.quick else 3)
        self.swift = swift
        self.conn = swift.conn()
        self.workdir = workdir
        self.swiftfs_bin = args.swiftfs
        self.targets = args.targets   # [(name, {"kind":..., "opts": [...]})]
        self.samples = {}             # workload -> list of per-run dicts
        self.created = set()          # containers to delete unless --keep
        self.scratch = set()          # write runs' containers: always deleted
        self.shm_files = []           # copies of write sources in /dev/shm: removed at exit
        self._scratch_seq = 0
        self.write_samples = {}       # (target name, size) -> W1 samples, for M2
        self.cache_base = args.cache_base
        # cache_dir= exists since the write path: older binaries lack it
        try:
            h = subprocess.run([self.swiftfs_bin, "--help"], capture_output=True, text=True,
                               timeout=10)
            self.has_cache_dir = "cache_dir=" in (h.stdout + h.stderr)
        except (OSError, subprocess.SubprocessError):
            self.has_cache_dir = False
        if self.has_cache_dir:
            os.makedirs(self.cache_base, exist_ok=True)

    def new_scratch(self, tag):
        """A new empty container for one write run (deleted by drop_scratch,
        or at exit whatever --keep says)."""
        self._scratch_seq += 1
        name = SCRATCH_CONTAINER % (tag, os.getpid(), self._scratch_seq)
        self.scratch.add(name)
        with CLOCK.phase("scratch"):
            self.conn.put_container(name)
        return name

    def drop_scratch(self, name):
        """Delete a scratch container, its objects and its _segments
        container (+segments: s3api's multipart uploads, s3fs): in the
        background (JANITOR: never during a timed part), or at once
        without one."""
        parts = scratch_parts(name)
        if JANITOR:
            JANITOR.put(*parts)
        else:
            with CLOCK.phase("scratch"):
                for c in parts:
                    bulk_delete(self, c)
        self.scratch.discard(name)

    def mount(self, target, source, cache_dir=None):
        """A mount of `target` (name, config); cache_dir: the caller's
        cache folder, kept at unmount (a remount reuses it)."""
        name, cfg = target
        return MOUNT_KINDS[cfg["kind"]](self, source, cfg["opts"], cfg.get("env"),
                                        cache_dir=cache_dir)

    def record(self, workload, **sample):
        self.samples.setdefault(workload, []).append(sample)
        bits = ", ".join("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else v)
                         for k, v in sample.items() if not isinstance(v, dict))
        log("  %s %s" % (workload, bits))


def curl_get(ctx, url, ranges, hdr_file):
    """GET url with len(ranges) concurrent curl processes, each one
    contiguous range (None = whole object), to /dev/null. Returns
    (seconds, bytes)."""
    procs = []
    t0 = time.perf_counter()
    try:
        for r in ranges:
            cmd = ["curl", "-sS", "-f", "--noproxy", "*", "-o", "/dev/null",
                   "-H", "@" + hdr_file, "-w", "%{size_download}\n"]
            if r is not None:
                cmd += ["-r", "%d-%d" % r]
            procs.append(subprocess.Popen(cmd + [url], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        total = 0
        for p in procs:
            out, err = p.communicate()
            if p.returncode != 0:
                raise BenchError("curl failed (%d): %s" % (p.returncode, err.strip()))
            total += int(out.strip() or 0)
        return time.perf_counter() - t0, total
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def split_ranges(size, n):
    step = math.ceil(size / n)
    return [(a, min(a + step, size) - 1) for a in range(0, size, step)]


# ---------------------------------------------------------- workloads ----

def measure_mounted_read(ctx, target, obj, size, dir_prefix=None):
    """Fresh mount, drop caches, read obj sequentially in 1 MiB blocks.
    Returns a sample dict (seconds, MB/s, daemon CPU and peak RSS, request
    counts from swiftfs and from the proxy log)."""
    with ctx.mount(target, DATA_CONTAINER) as m:
        drop_caches()
        hwm0 = proc_status_kib(m.pid, "VmHWM")
        cpu0 = proc_cpu_seconds(m.pid)
        off = ctx.swift.log_offset()
        t0 = time.perf_counter()
        n, _ = read_file(os.path.join(m.path, obj))
        dt = time.perf_counter() - t0
        cpu = proc_cpu_seconds(m.pid) - cpu0
        hwm = proc_status_kib(m.pid, "VmHWM")
        proxy = classify_requests(ctx.swift.requests_since(off))
    if n != size:
        raise BenchError("read %d bytes of %s through %s, expected %d" % (n, obj, target[0], size))
    return {"seconds": dt, "mbs": size / dt / MB, "daemon_cpu_s": cpu,
            "cpu_ms_per_mb": cpu * 1000 / (size / MB),
            "hwm_mib": hwm / 1024 if hwm else None,
            "hwm_at_mount_mib": hwm0 / 1024 if hwm0 else None,
            "object_gets": proxy["object GET"] if proxy else None,
            "object_heads": proxy["object HEAD"] if proxy else None,
            "stats": m.stats, "proxy": proxy}


def verify_read(ctx, obj, etag):
    """Untimed: the bytes swiftfs returns are the object's (md5 == ETag)."""
    with ctx.mount(ctx.targets[0], DATA_CONTAINER) as m:
        _, md5 = read_file(os.path.join(m.path, obj), md5=True)
    if md5 != etag:
        raise BenchError("md5 of %s read through swiftfs %s != ETag %s" % (obj, md5, etag))
    log("verify: md5 of %s read through swiftfs matches its ETag" % obj)


def w_r1(ctx):
    """R1: cold sequential read of one random object."""
    size = (64 if ctx.quick else 256) * MiB
    obj = "r1-%dMiB" % (size // MiB)
    ctx.created.add(DATA_CONTAINER)
    etag = ensure_object(ctx, DATA_CONTAINER, obj, size)
    url = ctx.swift.object_url(DATA_CONTAINER, obj)
    hdr = os.path.join(ctx.workdir, "auth.hdr")
    with open(hdr, "w") as f:
        f.write("X-Auth-Token: %s\n" % ctx.swift.token)
    pars = ctx.args.parallel
    res = {}  # subject -> [sample]

    # subjects alternate within a run so that drift hits them all alike
    for run in range(ctx.runs):
        log("R1 run %d/%d (%d MiB)" % (run + 1, ctx.runs, size // MiB))
        for t in ctx.targets:
            s = measure_mounted_read(ctx, t, obj, size)
            res.setdefault(t[0], []).append(s)
            ctx.record("R1", subject=t[0], run=run, **s)
        for k in [1] + pars:
            drop_caches()
            dt, n = curl_get(ctx, url, [None] if k == 1 else split_ranges(size, k), hdr)
            if n != size:
                raise BenchError("R1: curl x%d got %d bytes, expected %d" % (k, n, size))
            name = "curl" if k == 1 else "curl-par%d" % k
            s = {"seconds": dt, "mbs": size / dt / MB}
            res.setdefault(name, []).append(s)
            ctx.record("R1", subject=name, run=run, **s)
    if ctx.args.verify:
        verify_read(ctx, obj, etag)

    def med(subject, key):
        return median([s.get(key) for s in res[subject]])

    rows = []
    curl1 = med("curl", "mbs")
    for t in ctx.targets:
        v = med(t[0], "mbs")
        rows.append(Row("R1", "cold seq read %d MiB" % (size // MiB), t[0], fmt_mbs(v),
                        "curl single stream", fmt_mbs(curl1), v / curl1, ">= 0.80 x curl",
                        v / curl1 >= 0.8,
                        data={"mbs": v, "peer_mbs": curl1,
                              "runs": [s["mbs"] for s in res[t[0]]],
                              "peer_runs": [s["mbs"] for s in res["curl"]]}))
        for k in pars:
            p = med("curl-par%d" % k, "mbs")
            rows.append(Row("R1", "  vs parallel ranged GETs", t[0], fmt_mbs(v),
                            "curl x%d ranges" % k, fmt_mbs(p), v / p,
                            data={"mbs": v, "peer_mbs": p,
                                  "peer_runs": [s["mbs"] for s in res["curl-par%d" % k]]}))
        gets, heads = med(t[0], "object_gets"), med(t[0], "object_heads")
        rows.append(Row("R1", "  requests, daemon CPU", t[0],
                        "%s object GET, %s HEAD; %.2f s CPU (%.2f ms/MB)"
                        % (gets, heads, med(t[0], "daemon_cpu_s"), med(t[0], "cpu_ms_per_mb")),
                        data={"object_gets": gets, "object_heads": heads,
                              "daemon_cpu_s": med(t[0], "daemon_cpu_s")}))
    return rows


def w_l1(ctx):
    """L1: ls -l of a directory of 10,000 small objects."""
    n = ctx.args.l1_objects
    cont = L1_CONTAINER % n
    ctx.created.add(cont)
    ensure_bigdir(ctx, cont, L1_DIR, n)
    prefix = L1_DIR + "/"
    res = {}  # subject -> [sample]

    for run in range(ctx.runs):
        log("L1 run %d/%d (%d entries)" % (run + 1, ctx.runs, n))
        for t in ctx.targets:
            with ctx.mount(t, cont) as m:
                drop_caches()
                off = ctx.swift.log_offset()
                cpu0 = proc_cpu_seconds(m.pid)
                t0 = time.perf_counter()
                p = subprocess.run(["ls", "-l", os.path.join(m.path, L1_DIR)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                dt = time.perf_counter() - t0
                cpu = proc_cpu_seconds(m.pid) - cpu0
                proxy = classify_requests(ctx.swift.requests_since(off), prefix)
            lines = p.stdout.count(b"\n") - 1  # "total N" line
            if p.returncode != 0 or lines != n:
                raise BenchError("L1: ls -l through %s gave %d entries (rc %d): %s"
                                 % (t[0], lines, p.returncode, p.stderr[:300]))
            s = {"seconds": dt, "daemon_cpu_s": cpu, "stats": m.stats, "proxy": proxy}
            if proxy:
                s.update(dir_listing_gets=proxy["dir listing GET"],
                         other_listing_gets=proxy["listing GET"] - proxy["dir listing GET"],
                         heads=proxy["object HEAD"] + proxy["container/account HEAD"],
                         object_gets=proxy["object GET"])
            res.setdefault(t[0], []).append(s)
            ctx.record("L1", subject=t[0], run=run, **s)
        drop_caches()
        conn = ctx.swift.conn()
        off = ctx.swift.log_offset()
        t0 = time.perf_counter()
        _, objs = conn.get_container(cont, prefix=prefix, delimiter="/",
                                     full_listing=True)
        dt = time.perf_counter() - t0
        proxy = classify_requests(ctx.swift.requests_since(off), prefix)
        if len(objs) != n:
            raise BenchError("L1: swiftclient listed %d entries, expected %d" % (len(objs), n))
        s = {"seconds": dt, "dir_listing_gets": proxy and proxy["dir listing GET"]}
        res.setdefault("swiftclient", []).append(s)
        ctx.record("L1", subject="swiftclient", run=run, **s)

    def med(subject, key):
        return median([s.get(key) for s in res[subject]])

    rows = []
    peer = med("swiftclient", "seconds")
    # Swift pages hold 10,000 names; a full last page needs one more
    # request that comes back empty to prove the end (swiftclient makes it
    # too), so n = 10,000 costs 2 listing GETs of the directory.
    pages = n // 10000 + 1
    for t in ctx.targets:
        v = med(t[0], "seconds")
        rows.append(Row("L1", "ls -l %d entries (lower=better)" % n, t[0],
                        "%.2f s (daemon CPU %.2f s)" % (v, med(t[0], "daemon_cpu_s")),
                        "swiftclient full_listing", "%.2f s" % peer, v / peer,
                        data={"seconds": v, "peer_seconds": peer,
                              "runs": [s["seconds"] for s in res[t[0]]],
                              "peer_runs": [s["seconds"] for s in res["swiftclient"]]}))
        dg, og, hd = (med(t[0], k) for k in ("dir_listing_gets", "other_listing_gets", "heads"))
        obg = med(t[0], "object_gets")
        rows.append(Row("L1", "  requests during ls", t[0],
                        "%s listing GET of the dir (+%s other listing), %s obj GET, %s HEAD"
                        % (dg, og, obg, hd),
                        "swiftclient", "%s listing GET" % med("swiftclient", "dir_listing_gets"),
                        None, "%d listing GET, 0 HEAD" % pages,
                        None if dg is None else (dg <= pages and hd == 0),
                        data={"dir_listing_gets": dg, "other_listing_gets": og, "heads": hd,
                              "object_gets": obg, "swiftfs_stats": [s["stats"] for s in res[t[0]]]}))
    return rows


def w_m1(ctx):
    """M1: daemon peak RSS and CPU over a long sequential read."""
    size = (256 if ctx.quick else 1024) * MiB
    obj = "m1-%dMiB" % (size // MiB)
    ctx.created.add(DATA_CONTAINER)
    etag = ensure_object(ctx, DATA_CONTAINER, obj, size)
    res = {}
    for run in range(ctx.runs):
        log("M1 run %d/%d (%d MiB)" % (run + 1, ctx.runs, size // MiB))
        for t in ctx.targets:
            s = measure_mounted_read(ctx, t, obj, size)
            res.setdefault(t[0], []).append(s)
            ctx.record("M1", subject=t[0], run=run, **s)
    if ctx.args.verify:
        verify_read(ctx, obj, etag)
    rows = []
    for t in ctx.targets:
        med = {k: median([s[k] for s in res[t[0]]]) for k in
               ("hwm_mib", "hwm_at_mount_mib", "daemon_cpu_s", "cpu_ms_per_mb", "mbs")}
        peak = max(s["hwm_mib"] for s in res[t[0]])
        rows.append(Row("M1", "daemon peak RSS, %d MiB read" % (size // MiB), t[0],
                        "%.1f MiB (max of runs %.1f)" % (med["hwm_mib"], peak),
                        target="< 64 MiB", passed=med["hwm_mib"] < 64,
                        data=dict(med, max_hwm_mib=peak,
                                  runs=[s["hwm_mib"] for s in res[t[0]]])))
        rows.append(Row("M1", "  daemon CPU per MB read", t[0],
                        "%.2f ms/MB (%.2f s), %s" % (med["cpu_ms_per_mb"], med["daemon_cpu_s"],
                                                    fmt_mbs(med["mbs"])),
                        data=med))
    return rows


# ------------------------------------------------------ write workloads ----

def fmt_counts(d, keys):
    """'17 PUT, 1 HEAD' from a counter dict: the non-zero ones of keys
    ((key, label) pairs, or keys used as labels)."""
    if d is None:
        return "n/a"
    out = []
    for k in keys:
        k, label = k if isinstance(k, tuple) else (k, k)
        v = d.get(k)
        if v:
            out.append("%s %s" % (fmt_num(v), label))
    return ", ".join(out) or "none"


def fmt_num(v):
    return ("%d" % v) if float(v).is_integer() else ("%.1f" % v)


# swiftfs's counters ("requests: ..." at unmount) and the proxy log's
# classification, as shown in the write rows
SWIFTFS_WRITE_KEYS = ("PUT", "HEAD", "GET", "listing", "POST", "DELETE", "COPY",
                      ("container/account HEAD", "container HEAD"), "retries")
PROXY_WRITE_KEYS = (("object PUT", "PUT"), ("manifest PUT", "manifest PUT"),
                    ("container PUT", "container PUT"), ("object HEAD", "HEAD"),
                    ("object GET", "GET"), ("listing GET", "listing"), "POST", "DELETE",
                    ("container/account HEAD", "container HEAD"), "auth")


def timing_summary(times, t0, t1):
    """Where a client's wall time [t0, t1] (epoch) went on the Swift side:
    busy_s = time with at least one of its requests in flight; PUT
    latencies; when the first PUT started (s after t0)."""
    if not times:
        return {}
    iv = sorted((max(a, t0), min(b, t1)) for _, a, b in times if b > t0 and a < t1)
    busy, cur = 0.0, None
    for a, b in iv:
        if cur is None or a > cur[1]:
            if cur:
                busy += cur[1] - cur[0]
            cur = [a, b]
        else:
            cur[1] = max(cur[1], b)
    if cur:
        busy += cur[1] - cur[0]
    puts = sorted(b - a for m, a, b in times if m == "PUT")
    heads = sorted(b - a for m, a, b in times if m == "HEAD")
    first_put = min((a for m, a, b in times if m == "PUT"), default=None)
    return {"busy_s": busy, "busy_frac": busy / (t1 - t0) if t1 > t0 else None,
            "put_ms_median": median(puts) * 1000 if puts else None,
            "put_ms_max": puts[-1] * 1000 if puts else None,
            "head_ms_median": median(heads) * 1000 if heads else None,
            "first_put_s": first_put - t0 if first_put else None}


def fmt_timing(tm):
    if not tm:
        return "n/a"
    bits = []
    if tm.get("put_ms_median") is not None:
        bits.append("PUT median %.0f ms" % tm["put_ms_median"])
    if tm.get("head_ms_median") is not None:
        bits.append("HEAD %.0f ms" % tm["head_ms_median"])
    if tm.get("busy_frac") is not None:
        bits.append("a request in flight %.0f%% of the time" % (100 * tm["busy_frac"]))
    return ", ".join(bits)


def median_timing(samples):
    ts = [s.get("timing") for s in samples if s.get("timing")]
    if not ts:
        return None
    return {k: median([t.get(k) for t in ts]) for k in ts[0]}


def cpu_row(wid, subject, med, res):
    """The 'CPU s' row of a write workload: the daemon against swift upload."""
    return Row(wid, "  CPU s: client; Swift servers", subject,
               fmt_cpu("daemon", med(subject, "daemon_cpu_s"), res[subject]),
               "swift upload",
               fmt_cpu("client", med("swift-upload", "cpu_s"), res["swift-upload"]),
               data={"daemon_cpu_s": med(subject, "daemon_cpu_s"),
                     "proxy_cpu_s": med(subject, "proxy_cpu_s"),
                     "peer_cpu_s": med("swift-upload", "cpu_s"),
                     "peer_proxy_cpu_s": med("swift-upload", "proxy_cpu_s")})


def fmt_cpu(label, client_s, samples):
    """'daemon 0.9; proxy 0.4, object 0.9, container 0.1' (medians, s)."""
    sw = median_counts([s.get("swift_cpu") for s in samples]) or {}
    return "%s %.1f; %s" % (label, client_s or 0, ", ".join(
        "%s %.1f" % (k, sw[k]) for k in ("proxy", "object", "container") if k in sw))


def median_counts(dicts):
    """Per-key median of counter dicts (None entries skipped)."""
    dicts = [d for d in dicts if d]
    if not dicts:
        return None
    return {k: median([d.get(k, 0) for d in dicts]) for k in dicts[0]}


def run_swift_cli(ctx, argv, cwd=None):
    """Run the `swift` CLI (python-swiftclient) against the bench Swift.
    Returns (seconds of the whole command, its CPU seconds, proxy request
    counts, Swift servers' CPU plus "timing": timing_summary())."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "OS_"))}
    env.update(ctx.swift.creds_env())
    sw0 = swift_server_cpu()
    off = ctx.swift.log_offset()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.time()
    t0 = time.perf_counter()
    p = subprocess.run(["swift"] + argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sw = cpu_delta(sw0, swift_server_cpu())
    proxy = classify_requests(ctx.swift.requests_since(off))
    sw["timing"] = timing_summary(ctx.swift.request_times(off), w0, w0 + dt)
    if p.returncode != 0:
        raise BenchError("swift %s failed (%d): %s"
                         % (" ".join(argv), p.returncode, (p.stderr or p.stdout)[-500:]))
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return dt, cpu, proxy, sw


def check_slo(ctx, container, obj, size, who, src=None):
    """The object is in Swift, `size` bytes, an SLO; with src, the md5 of
    every segment (from the manifest) matches the local file's bytes."""
    try:
        h = ctx.conn.head_object(container, obj)
    except swiftclient.ClientException as e:
        raise BenchError("%s: HEAD %s/%s after close: %s" % (who, container, obj, e))
    if int(h.get("content-length", -1)) != size:
        raise BenchError("%s: %s/%s is %s bytes in Swift, %d were written"
                         % (who, container, obj, h.get("content-length"), size))
    if h.get("x-static-large-object", "").lower() != "true":
        raise BenchError("%s: %s/%s is not an SLO (headers %s)" % (who, container, obj, h))
    segs = None
    _, body = ctx.conn.get_object(container, obj, query_string="multipart-manifest=get")
    segs = json.loads(body)
    if src:
        off = 0
        with open(src, "rb") as f:
            for sg in segs:
                f.seek(off)
                d = hashlib.md5()
                left = sg["bytes"]
                while left:
                    b = f.read(min(left, 4 * MiB))
                    if not b:
                        break
                    d.update(b)
                    left -= len(b)
                if d.hexdigest() != sg["hash"]:
                    raise BenchError("%s: segment %s of %s: md5 %s != local %s"
                                     % (who, sg["name"], obj, sg["hash"], d.hexdigest()))
                off += sg["bytes"]
        if off != size:
            raise BenchError("%s: the segments of %s cover %d bytes, not %d"
                             % (who, obj, off, size))
        log("verify: the %d segments of %s (%s) match the local file" % (len(segs), obj, who))
    return {"segments": len(segs), "segment_bytes": sorted({sg["bytes"] for sg in segs})}


def measure_mounted_write(ctx, target, src, size, obj, verify=False):
    """Fresh container and mount, drop caches, warm the source, copy it
    into the mount in 1 MiB writes; the timer stops when close() returns.
    Then (untimed, still mounted) HEAD: the object must be in Swift, an SLO
    of `size` bytes. Returns a sample dict."""
    cont = ctx.new_scratch("w1")
    try:
        drop_caches()
        warm([src])
        with ctx.mount(target, cont) as m:
            hwm0 = proc_status_kib(m.pid, "VmHWM")
            cpu0 = proc_cpu_seconds(m.pid)
            sw0 = swift_server_cpu()
            off = ctx.swift.log_offset()
            w0 = time.time()
            try:
                n, tw, tc = timed_copy(src, os.path.join(m.path, obj))
            except OSError as e:
                raise BenchError("W1: writing %s through %s: %s" % (obj, target[0], e))
            cpu = proc_cpu_seconds(m.pid) - cpu0
            hwm = proc_status_kib(m.pid, "VmHWM")
            sw = cpu_delta(sw0, swift_server_cpu())
            proxy = classify_requests(ctx.swift.requests_since(off))
            timing = timing_summary(ctx.swift.request_times(off), w0, w0 + tw + tc)
            slo = check_slo(ctx, cont, obj, size, target[0], src if verify else None)
        dt = tw + tc
        if n != size:
            raise BenchError("W1: copied %d bytes, expected %d" % (n, size))
        return {"seconds": dt, "mbs": size / dt / MB, "write_s": tw, "close_s": tc,
                "write_mbs": size / tw / MB, "daemon_cpu_s": cpu,
                "cpu_ms_per_mb": cpu * 1000 / (size / MB),
                "hwm_mib": hwm / 1024 if hwm else None,
                "hwm_at_mount_mib": hwm0 / 1024 if hwm0 else None,
                "proxy_cpu_s": sw.get("proxy"), "object_server_cpu_s": sw.get("object"),
                "segments": slo["segments"], "load1": os.getloadavg()[0],
                "stats": m.stats, "proxy": proxy, "swift_cpu": sw, "timing": timing}
    finally:
        ctx.drop_scratch(cont)


def measure_swift_upload_slo(ctx, src, size, obj, segsize="64M", threads=10):
    """Peer of W1: `swift upload --use-slo` of the same file, whole command
    timed. Returns a sample dict."""
    cont = ctx.new_scratch("w1peer")
    try:
        drop_caches()
        warm([src])
        dt, cpu, proxy, sw = run_swift_cli(
            ctx, ["upload", "--use-slo", "--segment-size", segsize, "--segment-threads",
                  str(threads), "--object-name", obj, cont, src])
        slo = check_slo(ctx, cont, obj, size, "swift upload")
        timing = sw.pop("timing")
        return {"seconds": dt, "mbs": size / dt / MB, "cpu_s": cpu,
                "cpu_ms_per_mb": cpu * 1000 / (size / MB), "proxy_cpu_s": sw.get("proxy"),
                "object_server_cpu_s": sw.get("object"), "segments": slo["segments"],
                "load1": os.getloadavg()[0], "proxy": proxy, "swift_cpu": sw, "timing": timing}
    finally:
        ctx.drop_scratch(cont)


def measure_local_copy(ctx, src, size):
    """Reference: the same copy into a file on the cache_dir's file system
    (what staging costs at least; page cache, no fsync)."""
    os.makedirs(ctx.cache_base, exist_ok=True)
    dst = os.path.join(ctx.cache_base, "%d-localcopy" % os.getpid())
    drop_caches()
    warm([src])
    try:
        n, tw, tc = timed_copy(src, dst)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(dst)
    return {"seconds": tw + tc, "mbs": n / (tw + tc) / MB}


def w1_size(ctx):
    return (256 if ctx.quick else 1024) * MiB


def w_w1(ctx):
    """W1: sequential write of a large file through the mount vs swift upload."""
    size = w1_size(ctx)
    src = ensure_src_file(size)
    obj = "w1-%dMiB.bin" % (size // MiB)
    res = {}
    for run in range(ctx.runs):
        log("W1 run %d/%d (%d MiB)" % (run + 1, ctx.runs, size // MiB))
        for t in ctx.targets:
            s = measure_mounted_write(ctx, t, src, size, obj,
                                      verify=ctx.args.verify and run == 0)
            res.setdefault(t[0], []).append(s)
            ctx.write_samples.setdefault((t[0], size), []).append(s)
            ctx.record("W1", subject=t[0], run=run, **s)
        s = measure_swift_upload_slo(ctx, src, size, obj)
        res.setdefault("swift-upload", []).append(s)
        ctx.write_samples.setdefault(("swift-upload", size), []).append(s)
        ctx.record("W1", subject="swift-upload", run=run, **s)
        s = measure_local_copy(ctx, src, size)
        res.setdefault("local", []).append(s)
        ctx.record("W1", subject="local-copy", run=run, **s)

    def med(subject, key):
        return median([s.get(key) for s in res[subject]])

    rows = []
    peer = med("swift-upload", "mbs")
    for t in ctx.targets:
        v = med(t[0], "mbs")
        rows.append(Row("W1", "seq write %d MiB, until close()" % (size // MiB), t[0],
                        fmt_mbs(v), "swift upload --use-slo 64M x10", fmt_mbs(peer), v / peer,
                        ">= 0.90 x swift upload", v / peer >= 0.9,
                        data={"mbs": v, "peer_mbs": peer,
                              "runs": [s["mbs"] for s in res[t[0]]],
                              "peer_runs": [s["mbs"] for s in res["swift-upload"]]}))
        rows.append(Row("W1", "  write() loop + close()", t[0],
                        "%.1f s (%s) + %.1f s" % (med(t[0], "write_s"),
                                                  fmt_mbs(med(t[0], "write_mbs")),
                                                  med(t[0], "close_s")),
                        "local copy to cache_dir fs", fmt_mbs(med("local", "mbs")),
                        data={k: med(t[0], k) for k in ("write_s", "close_s", "write_mbs")}))
        tm, ptm = median_timing(res[t[0]]), median_timing(res["swift-upload"])
        rows.append(Row("W1", "  Swift side", t[0],
                        fmt_timing(tm) + ("; 1st PUT at %.1f s" % tm["first_put_s"]
                                          if tm and tm.get("first_put_s") is not None else ""),
                        "swift upload", fmt_timing(ptm) + (
                            "; 1st PUT at %.1f s" % ptm["first_put_s"]
                            if ptm and ptm.get("first_put_s") is not None else ""),
                        data={"timing": tm, "peer_timing": ptm}))
        st = median_counts([s["stats"] for s in res[t[0]]])
        px = median_counts([s["proxy"] for s in res["swift-upload"]])
        rows.append(Row("W1", "  requests", t[0],
                        fmt_counts(st, SWIFTFS_WRITE_KEYS) + " (%s segments)"
                        % fmt_num(med(t[0], "segments")),
                        "swift upload", fmt_counts(px, PROXY_WRITE_KEYS),
                        data={"swiftfs_stats": [s["stats"] for s in res[t[0]]],
                              "proxy": [s["proxy"] for s in res[t[0]]],
                              "peer_proxy": [s["proxy"] for s in res["swift-upload"]]}))
        rows.append(cpu_row("W1", t[0], med, res))
    return rows


def w_m2(ctx):
    """M2: daemon peak RSS and CPU while writing the W1 file (W1's runs when
    W1 ran in this invocation, else runs of its own)."""
    size = w1_size(ctx)
    obj = "w1-%dMiB.bin" % (size // MiB)
    res = {}
    for t in ctx.targets:
        have = ctx.write_samples.get((t[0], size), [])
        if len(have) >= ctx.runs:
            log("M2 %s: using W1's %d run(s)" % (t[0], len(have)))
            res[t[0]] = have
            continue
        src = ensure_src_file(size)
        for run in range(ctx.runs):
            log("M2 %s run %d/%d (%d MiB)" % (t[0], run + 1, ctx.runs, size // MiB))
            s = measure_mounted_write(ctx, t, src, size, obj)
            res.setdefault(t[0], []).append(s)
            ctx.record("M2", subject=t[0], run=run, **s)
    peer = ctx.write_samples.get(("swift-upload", size))
    rows = []
    for t in ctx.targets:
        med = {k: median([s[k] for s in res[t[0]]]) for k in
               ("hwm_mib", "hwm_at_mount_mib", "daemon_cpu_s", "cpu_ms_per_mb", "mbs")}
        peak = max(s["hwm_mib"] for s in res[t[0]])
        rows.append(Row("M2", "daemon peak RSS, %d MiB write" % (size // MiB), t[0],
                        "%.1f MiB (max of runs %.1f)" % (med["hwm_mib"], peak),
                        target="< 128 MiB", passed=med["hwm_mib"] < 128,
                        data=dict(med, max_hwm_mib=peak,
                                  runs=[s["hwm_mib"] for s in res[t[0]]])))
        pm = median([s["cpu_ms_per_mb"] for s in peer]) if peer else None
        rows.append(Row("M2", "  daemon CPU per MB written", t[0],
                        "%.2f ms/MB (%.2f s), %s" % (med["cpu_ms_per_mb"], med["daemon_cpu_s"],
                                                    fmt_mbs(med["mbs"])),
                        "swift upload CPU" if pm is not None else "",
                        "%.2f ms/MB" % pm if pm is not None else "",
                        data=dict(med, peer_cpu_ms_per_mb=pm)))
    return rows


def check_listing(ctx, container, md5s, who):
    """Every expected object is in the container with the right md5."""
    _, objs = ctx.conn.get_container(container, full_listing=True)
    have = {o["name"]: o.get("hash") for o in objs}
    missing = [n for n in md5s if n not in have]
    bad = [n for n in md5s if n in have and have[n] != md5s[n]]
    if missing or bad:
        raise BenchError("%s: %d objects missing, %d with a wrong md5 (e.g. %s)"
                         % (who, len(missing), len(bad), (missing + bad)[:3]))
    return len(have) - len(md5s)   # extra objects (directory markers)


def w5(ctx, wid, name, n, fsize):
    """W5a/W5b: tar -x of n files of fsize bytes into a fresh container
    through a fresh mount, timed until tar exits, vs `swift upload
    --object-threads 10` of the same tree from local disk."""
    base, tar, md5s = ensure_src_tree(name, n, fsize)
    res = {}
    for run in range(ctx.runs):
        log("%s run %d/%d (%d files of %d bytes)" % (wid, run + 1, ctx.runs, n, fsize))
        for t in ctx.targets:
            cont = ctx.new_scratch(name)
            try:
                drop_caches()
                warm([tar])
                with ctx.mount(t, cont) as m:
                    cpu0 = proc_cpu_seconds(m.pid)
                    sw0 = swift_server_cpu()
                    off = ctx.swift.log_offset()
                    w0 = time.time()
                    t0 = time.perf_counter()
                    p = subprocess.run(["tar", "-xf", tar, "-C", m.path], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    dt = time.perf_counter() - t0
                    cpu = proc_cpu_seconds(m.pid) - cpu0
                    sw = cpu_delta(sw0, swift_server_cpu())
                    proxy = classify_requests(ctx.swift.requests_since(off))
                    timing = timing_summary(ctx.swift.request_times(off), w0, w0 + dt)
                    if p.returncode != 0:
                        raise BenchError("%s: tar -x into %s failed (%d): %s"
                                         % (wid, t[0], p.returncode, p.stderr[-500:]))
                    # still mounted: every close() must have uploaded
                    extra = check_listing(ctx, cont, md5s, t[0])
            finally:
                ctx.drop_scratch(cont)
            s = {"seconds": dt, "files_s": n / dt, "mbs": n * fsize / dt / MB,
                 "daemon_cpu_s": cpu, "proxy_cpu_s": sw.get("proxy"), "extra_objects": extra,
                 "load1": os.getloadavg()[0], "stats": m.stats, "proxy": proxy, "swift_cpu": sw,
                 "timing": timing}
            res.setdefault(t[0], []).append(s)
            ctx.record(wid, subject=t[0], run=run, **s)
        cont = ctx.new_scratch(name + "peer")
        try:
            drop_caches()
            warm([os.path.join(base, name)])
            dt, cpu, proxy, sw = run_swift_cli(
                ctx, ["upload", "--object-threads", "10", cont, name], cwd=base)
            timing = sw.pop("timing")
            check_listing(ctx, cont, md5s, "swift upload")
        finally:
            ctx.drop_scratch(cont)
        s = {"seconds": dt, "files_s": n / dt, "mbs": n * fsize / dt / MB, "cpu_s": cpu,
             "proxy_cpu_s": sw.get("proxy"), "load1": os.getloadavg()[0], "proxy": proxy,
             "swift_cpu": sw, "timing": timing}
        res.setdefault("swift-upload", []).append(s)
        ctx.record(wid, subject="swift-upload", run=run, **s)

    def med(subject, key):
        return median([s.get(key) for s in res[subject]])

    rows = []
    peer = med("swift-upload", "files_s")
    size_s = ("%d KiB" % (fsize // 1024)) if fsize < MiB else ("%d MiB" % (fsize // MiB))
    for t in ctx.targets:
        v = med(t[0], "files_s")
        rows.append(Row(wid, "tar -x %d files of %s" % (n, size_s), t[0],
                        "%.0f files/s (%.1f s, %.1f MB/s)" % (v, med(t[0], "seconds"),
                                                              med(t[0], "mbs")),
                        "swift upload x10 threads", "%.0f files/s (%.1f s)"
                        % (peer, med("swift-upload", "seconds")), v / peer,
                        data={"files_s": v, "peer_files_s": peer,
                              "runs": [s["files_s"] for s in res[t[0]]],
                              "peer_runs": [s["files_s"] for s in res["swift-upload"]]}))
        st = median_counts([s["stats"] for s in res[t[0]]])
        px = median_counts([s["proxy"] for s in res["swift-upload"]])
        rows.append(Row(wid, "  requests", t[0], fmt_counts(st, SWIFTFS_WRITE_KEYS),
                        "swift upload", fmt_counts(px, PROXY_WRITE_KEYS),
                        data={"swiftfs_stats": [s["stats"] for s in res[t[0]]],
                              "proxy": [s["proxy"] for s in res[t[0]]],
                              "peer_proxy": [s["proxy"] for s in res["swift-upload"]]}))
        rows.append(Row(wid, "  Swift side", t[0], fmt_timing(median_timing(res[t[0]])),
                        "swift upload", fmt_timing(median_timing(res["swift-upload"])),
                        data={"timing": median_timing(res[t[0]]),
                              "peer_timing": median_timing(res["swift-upload"])}))
        rows.append(cpu_row(wid, t[0], med, res))
    return rows


def w_w5a(ctx):
    """W5a: 1,000 files of 4 KiB."""
    return w5(ctx, "W5a", "w5a", 1000, 4096)


def w_w5b(ctx):
    """W5b: 100 files of 1 MiB."""
    return w5(ctx, "W5b", "w5b", 100, MiB)


# The W rows of issue 4 (suite.py: every subject, peers and raw API), then
# the older swiftfs-only workloads (run with --only).
import peers  # noqa: E402 - needs the definitions above
import suite  # noqa: E402

peers.register()

# name -> (function, one-line description). Order = run order.
WORKLOADS = dict(suite.WORKLOADS)
DEFAULT_WORKLOADS = list(suite.WORKLOADS)
WORKLOADS.update({
    "R1": (w_r1, "cold sequential read vs curl single / parallel ranged GETs"),
    "L1": (w_l1, "ls -l of a 10,000-object directory: time and requests"),
    "M1": (w_m1, "daemon peak RSS and CPU per MB over a long sequential read"),
    "S1": (w_w1, "sequential write of 1 GiB (an SLO) until close() vs swift upload --use-slo"),
    "M2": (w_m2, "daemon peak RSS and CPU per MB over that write (reuses W1's runs)"),
    "W5a": (w_w5a, "tar -x of 1,000 x 4 KiB files into the mount vs swift upload"),
    "W5b": (w_w5b, "tar -x of 100 x 1 MiB files into the mount vs swift upload"),
})


# --------------------------------------------------------------- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="swiftfs benchmarks against a local Swift (see tests/bench/README.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads (default %s; the others are swiftfs-only, by --only):\n"
        % ",".join(DEFAULT_WORKLOADS)
        + "\n".join("  %-4s %s" % (k, v[1]) for k, v in WORKLOADS.items())
        + "\ntargets:\n" + "\n".join(
            "  %-19s %s%s" % (k, ",".join(v["opts"]) or "(default options)",
                              "".join(" %s=%s" % e for e in v.get("env", {}).items()))
            for k, v in TARGETS.items()))
    ap.add_argument("--quick", action="store_true",
                    help="smaller objects, 1 run each (whole run in ~3 minutes)")
    ap.add_argument("--runs", type=int, help="measured runs per subject (default 3, 1 with --quick)")
    ap.add_argument("--only", help="comma-separated workloads to run (default: all)")
    ap.add_argument("--target", action="append", dest="target_specs", metavar="SPEC",
                    help="mount configuration: a name from TARGETS or NAME=KIND:OPT,OPT, KIND "
                         "swiftfs, rclone or s3fs (repeatable; default: %s for the W "
                         "workloads, swiftfs for the others); a swiftfs target's "
                         "bin=PATH runs that binary instead of --swiftfs (A/B of two "
                         "builds, interleaved)" % ",".join(suite.DEFAULT_TARGETS))
    ap.add_argument("--slow-cap", type=float, default=40.0, metavar="S",
                    help="time budget: a peer (rclone, s3fs) whose turn at a row takes "
                         "longer than S seconds is not run again at that row (its cell "
                         "marked *); swiftfs targets and the raw API always get every run "
                         "(default %(default)s)")
    ap.add_argument("--peer-cap", type=float, default=10.0, metavar="S",
                    help="a peer's (rclone, s3fs) timed part at W4, W5 and W7w stops "
                         "after S seconds, and its figure is its rate over what it did by "
                         "then (cell marked ~, not repeated); 0: never cut (default "
                         "%(default)s)")
    ap.add_argument("--parallel", default="4,8",
                    help="R1 parallel ranged GET stream counts (default 4,8)")
    ap.add_argument("--l1-objects", type=int, default=10000, help="L1 directory size")
    ap.add_argument("--keep", action="store_true",
                    help="keep the test containers (the next run reuses them)")
    ap.add_argument("--json", metavar="FILE", help="write all results and samples as JSON")
    ap.add_argument("--swiftfs", default=os.environ.get("SWIFTFS_BIN")
                    or os.path.join(ROOT, "build", "swiftfs"), help="swiftfs binary")
    ap.add_argument("--cache-base", default=CACHE_BASE,
                    help="folder of the fresh cache_dir each mount gets (default %(default)s)")
    ap.add_argument("--swift-workers", type=int,
                    help="Swift proxy workers (restarts the bench Swift if it differs; "
                         "default: as running, or SWIFTFS_AIO_WORKERS, or 1)")
    ap.add_argument("--sync-cleanup", action="store_true",
                    help="delete each write run's scratch container right after the run "
                         "instead of in the background between timed parts")
    ap.add_argument("--wait-cleanup", action="store_true",
                    help="wait at the end until the scratch containers are deleted (default: "
                         "a background process deletes what is left, holding the bench lock, "
                         "so the next run waits for it)")
    ap.add_argument("--stop-swift", action="store_true", help="stop the bench Swift at the end")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the untimed md5 check of what swiftfs reads")
    a = ap.parse_args(argv)
    a.parallel = [int(x) for x in a.parallel.split(",") if x.strip()]
    names = {k.upper(): k for k in WORKLOADS}   # --only w5a,W5B: any case
    a.only = ([w.strip() for w in a.only.split(",") if w.strip()] if a.only
              else list(DEFAULT_WORKLOADS))
    for w in a.only:
        if w.upper() not in names:
            ap.error("unknown workload %s (have: %s)" % (w, ", ".join(WORKLOADS)))
    a.only = [names[w.upper()] for w in a.only]
    if a.runs is not None and a.runs < 1:
        ap.error("--runs must be >= 1")
    return a


def preflight(args):
    problems = []
    if swiftclient is None:
        problems.append("python3-swiftclient is not installed (apt-get install python3-swiftclient)")
    if os.geteuid() != 0:
        problems.append("run as root (drop_caches, FUSE mounts, Swift's servers)")
    for b in ("fusermount3", "curl", "ls", "tar", "swift", "rclone", "s3fs"):
        if not shutil.which(b):
            problems.append("%s not found" % b)
    if not os.access(args.swiftfs, os.X_OK):
        problems.append("swiftfs binary %s not found: meson setup build && ninja -C build"
                        % args.swiftfs)
    if not os.path.exists("/dev/fuse"):
        problems.append("/dev/fuse is missing")
    if problems:
        raise BenchError("cannot run:\n  " + "\n  ".join(problems))


CLEANUP_LOG = os.path.join(MNT_BASE, "cleanup.log")


def scratch_parts(name):
    """The containers of one scratch container: itself, its _segments, and
    +segments (s3api's multipart uploads, s3fs)."""
    return [name + "+segments", name + "_segments", name]


def hand_cleanup(containers, lock):
    """Delete containers in a detached process that inherits the bench
    lock (so the next run waits for it), instead of making this run wait:
    Swift deletes about 100 objects a second here, and a full run leaves
    thousands. Returns (count, pid, log)."""
    path = os.path.join(MNT_BASE, "cleanup-%d.json" % os.getpid())
    with open(path, "w") as f:
        json.dump(containers, f)
    logf = open(CLEANUP_LOG, "a")
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--finish-cleanup", path],
                         stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                         start_new_session=True, pass_fds=(lock.fileno(),))
    logf.close()
    log("  handed to a background process (pid %d, log %s)" % (p.pid, CLEANUP_LOG))
    return len(containers), p.pid, CLEANUP_LOG


def finish_cleanup(path):
    """--finish-cleanup FILE: delete the containers FILE names (a JSON list),
    then FILE. Runs detached, holding the bench lock inherited from the run."""
    with open(path) as f:
        containers = json.load(f)
    log("deleting %d scratch containers" % len(containers))
    swift = Swift()
    swift.authenticate()

    c = types.SimpleNamespace(swift=swift, conn=swift.conn())
    failed = 0
    for name in containers:
        try:
            bulk_delete(c, name)
        except Exception as e:  # noqa: BLE001 - best effort, logged
            failed += 1
            log("  could not delete %s: %s" % (name, e))
    os.unlink(path)
    log("done (%d failed)" % failed)
    return 1 if failed else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--finish-cleanup"] and len(argv) == 2:
        return finish_cleanup(argv[1])
    args = parse_args(argv)
    install_signals()
    preflight(args)
    specs = args.target_specs
    args.targets = [parse_target(s) for s in (specs or ["swiftfs"])]
    args.targets = [t for t in args.targets if t[1]["kind"] == "swiftfs"]
    os.makedirs(MNT_BASE, exist_ok=True)
    lock = open(os.path.join(MNT_BASE, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        log("waiting for %s/.lock: another bench.py, or the background deletion of the last "
            "run's scratch containers (%s)" % (MNT_BASE, CLEANUP_LOG))
        t_wait = time.monotonic()
        fcntl.flock(lock, fcntl.LOCK_EX)
        log("  waited %.0f s" % (time.monotonic() - t_wait))
    kill_strays()

    t_start = time.monotonic()
    load0 = os.getloadavg()
    swift = Swift(args.swift_workers)
    workdir = os.path.join(MNT_BASE, "work-%d" % os.getpid())  # daemon logs
    os.makedirs(workdir, exist_ok=True)
    rows, ctx, failed = [], None, None
    try:
        with CLOCK.turn("start", "swift"):
            swift.start()
        ctx = Ctx(args, swift, workdir)
        if not args.sync_cleanup:
            global JANITOR
            JANITOR = Janitor(ctx)
        ctx.all_targets = suite.resolve_targets(ctx, specs)
        if not args.targets and any(w not in DEFAULT_WORKLOADS for w in args.only):
            raise BenchError("workloads %s need a swiftfs --target"
                             % ",".join(w for w in args.only if w not in DEFAULT_WORKLOADS))
        log("swiftfs %s (repository at %s), Swift proxy workers %s, %d cores, %d run(s)%s"
            % (args.swiftfs, git_describe(), swift.workers, os.cpu_count(), ctx.runs,
               ", quick" if args.quick else ""))
        for w in args.only:
            fn, _ = WORKLOADS[w]
            t0 = time.monotonic()
            try:
                rows += fn(ctx)
            except BenchError as e:
                failed = failed or e
                log("%s failed: %s" % (w, e))
                rows.append(Row(w, "ERROR", "-", str(e).splitlines()[0][:60], passed=False))
            log("%s done in %.0f s" % (w, time.monotonic() - t0))
            CLOCK.add((w, "all"), "total", time.monotonic() - t0)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # cleanup must finish
        t_clean = time.monotonic()
        for m in list(_active_mounts):
            m.cleanup()
        handed = None
        if JANITOR and not args.wait_cleanup and ctx:
            JANITOR.close()          # after the step in flight
            left = list(JANITOR.queue) + [c for c, _ in JANITOR.failed]
            for c in sorted(ctx.scratch):
                left += scratch_parts(c)
            ctx.scratch.clear()
            log("%.0f s of deletion ran in the background; %d scratch containers left"
                % (JANITOR.busy_s, len(left)))
            CLOCK.add(("end", "janitor (background)"), "total", JANITOR.busy_s)
            if left:
                handed = hand_cleanup(left, lock)
            JANITOR = None
        if JANITOR:
            log("deleting the scratch containers still queued (%.0f s of deletion ran in "
                "the background so far)" % JANITOR.busy_s)
            JANITOR.drain()
            JANITOR.close()
            log("  background deletion: %d objects, %.0f s in all"
                % (JANITOR.deleted, JANITOR.busy_s))
            for c, msg in JANITOR.failed:
                log("  background deletion of %s failed (%s): again now" % (c, msg))
                ctx.scratch.add(c)
            CLOCK.add(("end", "janitor (background)"), "total", JANITOR.busy_s)
        if ctx:
            for c in sorted(ctx.scratch):
                log("deleting scratch container %s" % c)
                try:
                    ctx.drop_scratch(c)
                except Exception as e:  # noqa: BLE001 - best effort
                    log("  could not delete %s: %s" % (c, e))
        if ctx and not args.keep:
            for c in sorted(ctx.created):
                log("deleting container %s (--keep keeps it)" % c)
                try:
                    bulk_delete(ctx, c)
                except Exception as e:  # noqa: BLE001 - best effort
                    log("  could not delete %s: %s" % (c, e))
        CLOCK.add(("end", "cleanup"), "total", time.monotonic() - t_clean)
        for f in (ctx.shm_files if ctx else []):
            with contextlib.suppress(OSError):
                os.unlink(f)
        if args.stop_swift:
            with contextlib.suppress(BenchError):
                swift.stop()
        if failed:
            log("swiftfs logs kept in %s (removed by the next run)" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        lock.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "git": git_describe(),
        "swiftfs": args.swiftfs, "binary_mtime": time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(args.swiftfs))),
        "quick": args.quick, "runs": ctx.runs,
        "cores": os.cpu_count(), "swift_proxy_workers": swift.workers,
        "kernel": platform.release(), "loadavg_start": load0, "loadavg_end": os.getloadavg(),
        "targets": {n: c for n, c in ctx.all_targets}, "seconds": time.monotonic() - t_start,
    }
    print()
    print("swiftfs bench: %s, %d run(s) each (median)%s"
          % (meta["date"], ctx.runs, ", --quick" if args.quick else ""))
    print("binary: %s (%s); repository at %s" % (args.swiftfs, meta["binary_mtime"], meta["git"]))
    print("machine: %d cores, load %.2f at start / %.2f at end; Swift proxy workers: %s; "
          "Swift one replica on loopback" % (meta["cores"], load0[0], meta["loadavg_end"][0],
                                             swift.workers))
    for n, c in ctx.all_targets:
        print("target %s: %s %s%s" % (n, c["kind"], ",".join(c["opts"]) or "(default options)",
                                      "".join(" %s=%s" % kv for kv in c.get("env", {}).items())))
    print()
    for note in getattr(getattr(ctx, "suite", None), "notes", []):
        print(note)
    print("Swift: proxy workers %s; object, container and account servers %s worker(s) each"
          % (swift.workers, swift.backend_workers()))
    print()
    target_rows = suite.report(ctx)
    rows = [r for r in rows if r.label == "ERROR" or r.workload not in suite.ROWS] + target_rows
    print_table(rows)
    print()
    suite.print_wallclock(CLOCK, args.only)
    print("total %.0f s" % meta["seconds"])
    if handed:
        print("the %d scratch containers left are deleted by a background process (pid %d, log "
              "%s); the next bench run waits for it" % handed)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": [r.as_json() for r in rows],
                       "samples": ctx.samples, "wallclock": CLOCK.as_json(),
                       "w_samples": getattr(getattr(ctx, "suite", None), "samples", {}),
                       "w_errors": {"%s %s" % k: v for k, v in
                                    getattr(getattr(ctx, "suite", None), "errors", {}).items()}},
                      f, indent=2, default=str)
        print("results written to %s" % args.json)
    if failed:
        return 2
    return 1 if any(r.passed is False for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print("bench: error: %s" % e, file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted (mounts cleaned up)", file=sys.stderr)
        sys.exit(130)
