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

Every measured swiftfs run gets a fresh mount (`swiftfs -f`, unmounted with
fusermount3 -u, which makes swiftfs log its request counters; kept in the
JSON). Requests are counted and classified from the Swift proxy's access log.
Page caches are dropped before every measured run of every subject.

Extending it: a workload is a function f(ctx) -> list of Row registered in
WORKLOADS; a mount configuration is an entry of TARGETS (kind, options, env),
and a new kind of mount (rclone, s3fs) is a class with the interface of
SwiftfsMount registered in MOUNT_KINDS.

Run as root (drop_caches, FUSE, Swift's servers): see tests/bench/README.md.
"""
import argparse
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
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse

try:
    import swiftclient
    import swiftclient.client
except ImportError:  # reported in main()
    swiftclient = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
AIO = os.path.join(ROOT, "tests", "tools", "swift-aio.sh")

MB = 1000 * 1000          # throughput is reported in MB/s (10^6 bytes)
MiB = 1024 * 1024

AIO_DIR = os.environ.get("SWIFTFS_AIO_DIR", "/var/tmp/swiftfs-bench")
AIO_PORT = int(os.environ.get("SWIFTFS_AIO_PORT", "18680"))
USER, KEY = "test:tester", "testing"
MNT_BASE = "/tmp/swiftfs-bench-mnt"      # every bench mount point lives here
DATA_CONTAINER = "swiftfs-bench-data"     # large random objects (R1, M1)
L1_CONTAINER = "swiftfs-bench-l1-%d"      # L1's directory of N small objects
L1_DIR = "dir"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


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


# --------------------------------------------------------------- host ----

def drop_caches():
    """Write back and drop the page cache (and dentries/inodes). Root only."""
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

    def requests_since(self, offset):
        """Client requests (not middleware subrequests) logged since offset:
        list of (method, path, query dict, status)."""
        if offset is None:
            return None
        time.sleep(0.3)  # the access line is written when the response ends
        out = []
        with open(self.proxy_log, "rb") as f:
            f.seek(offset)
            data = f.read().decode("utf-8", "replace")
        for line in data.splitlines():
            if not line.startswith("proxy-server: "):
                continue
            parts = line.split()
            # proxy-server: client remote date METHOD path proto status ...
            if len(parts) < 8 or parts[1] == "-" or not parts[5].startswith(("/v1/", "/auth/")):
                continue
            full = urllib.parse.unquote(parts[5])
            path, _, q = full.partition("?")
            out.append((parts[4], path, urllib.parse.parse_qs(q), parts[7]))
        return out


# ------------------------------------------------------------- mounts ----

_active_mounts = []  # every mount not yet unmounted: cleaned up on any exit


class SwiftfsMount:
    """One foreground swiftfs daemon on a fresh mount point under MNT_BASE."""
    kind = "swiftfs"
    _seq = 0

    def __init__(self, ctx, source, opts=(), env=None):
        self.ctx = ctx
        self.source = source
        self.opts = list(opts)
        self.extra_env = dict(env or {})
        SwiftfsMount._seq += 1
        self.path = os.path.join(MNT_BASE, "%d-%d" % (os.getpid(), SwiftfsMount._seq))
        self.log_path = os.path.join(ctx.workdir, "swiftfs-%d.log" % SwiftfsMount._seq)
        self.proc = None
        self.stats = None

    @property
    def pid(self):
        return self.proc.pid

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        cmd = [self.ctx.swiftfs_bin, "-f"]
        if self.opts:
            cmd += ["-o", ",".join(self.opts)]
        cmd += [self.source, self.path]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "OS_"))}
        env.update(self.ctx.swift.creds_env())
        env.update(self.extra_env)
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
                raise BenchError("swiftfs exited with %s before mounting:\n%s"
                                 % (self.proc.returncode, self.log_text()))
            if time.monotonic() - t0 > 30:
                self.cleanup()
                raise BenchError("swiftfs did not mount %s in 30 s:\n%s"
                                 % (self.path, self.log_text()))
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
                    log("swiftfs pid %d did not exit after unmount: killing it" % self.pid)
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self.cleanup()
        self.stats = parse_swiftfs_stats(self.log_text())
        if self.proc.returncode not in (0, None):
            log("warning: swiftfs exited with %s (log %s)" % (self.proc.returncode, self.log_path))
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
         "object HEAD": 0, "container/account HEAD": 0, "other": 0}
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
        if (argv and os.path.basename(argv[0]) == "swiftfs"
                and argv[-1].startswith(MNT_BASE + "/")
                and not owner_alive(os.path.basename(argv[-1]))):
            log("killing stray swiftfs pid %s (%s)" % (d, argv[-1]))
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
    """A `size`-byte random object; reused when already there. Returns etag."""
    conn = ctx.conn
    conn.put_container(container)
    with contextlib.suppress(swiftclient.ClientException):
        h = conn.head_object(container, name)
        if int(h.get("content-length", -1)) == size:
            return h["etag"]
    log("uploading %s/%s (%d MiB of random bytes)" % (container, name, size // MiB))
    t0 = time.monotonic()
    rr = RandomReader(size)
    etag = conn.put_object(container, name, rr, content_length=size, chunk_size=MiB)
    if etag != rr.md5.hexdigest():
        raise BenchError("upload of %s: etag %s != md5 %s" % (name, etag, rr.md5.hexdigest()))
    log("  uploaded in %.1f s" % (time.monotonic() - t0))
    return etag


def _bulk(ctx, method, path, body, content_type):
    """One bulk middleware request; returns its JSON result."""
    u = urllib.parse.urlsplit(ctx.swift.storage_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=1800)
    try:
        c.request(method, path, body=body, headers={
            "X-Auth-Token": ctx.swift.token, "Accept": "application/json",
            "Content-Type": content_type, "Content-Length": str(len(body))})
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

    def mount(self, target, source):
        name, cfg = target
        return MOUNT_KINDS[cfg["kind"]](self, source, cfg["opts"], cfg.get("env"))

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


# name -> (function, one-line description). Order = run order.
WORKLOADS = {
    "R1": (w_r1, "cold sequential read vs curl single / parallel ranged GETs"),
    "L1": (w_l1, "ls -l of a 10,000-object directory: time and requests"),
    "M1": (w_m1, "daemon peak RSS and CPU per MB over a long sequential read"),
}


# --------------------------------------------------------------- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="swiftfs benchmarks against a local Swift (see tests/bench/README.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads:\n" + "\n".join("  %s  %s" % (k, v[1]) for k, v in WORKLOADS.items())
        + "\ntargets:\n" + "\n".join(
            "  %-16s %s%s" % (k, ",".join(v["opts"]) or "(default options)",
                              "".join(" %s=%s" % e for e in v.get("env", {}).items()))
            for k, v in TARGETS.items()))
    ap.add_argument("--quick", action="store_true",
                    help="smaller objects, 1 run each (whole run in ~3 minutes)")
    ap.add_argument("--runs", type=int, help="measured runs per subject (default 3, 1 with --quick)")
    ap.add_argument("--only", help="comma-separated workloads to run (default: all)")
    ap.add_argument("--target", action="append", dest="target_specs", metavar="SPEC",
                    help="mount configuration: a name from TARGETS or NAME=swiftfs:OPT,OPT "
                         "(repeatable; default: swiftfs)")
    ap.add_argument("--parallel", default="4,8",
                    help="R1 parallel ranged GET stream counts (default 4,8)")
    ap.add_argument("--l1-objects", type=int, default=10000, help="L1 directory size")
    ap.add_argument("--keep", action="store_true",
                    help="keep the test containers (the next run reuses them)")
    ap.add_argument("--json", metavar="FILE", help="write all results and samples as JSON")
    ap.add_argument("--swiftfs", default=os.environ.get("SWIFTFS_BIN")
                    or os.path.join(ROOT, "build", "swiftfs"), help="swiftfs binary")
    ap.add_argument("--swift-workers", type=int,
                    help="Swift proxy workers (restarts the bench Swift if it differs; "
                         "default: as running, or SWIFTFS_AIO_WORKERS, or 1)")
    ap.add_argument("--stop-swift", action="store_true", help="stop the bench Swift at the end")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the untimed md5 check of what swiftfs reads")
    a = ap.parse_args(argv)
    a.parallel = [int(x) for x in a.parallel.split(",") if x.strip()]
    a.only = [w.strip().upper() for w in a.only.split(",")] if a.only else list(WORKLOADS)
    for w in a.only:
        if w not in WORKLOADS:
            ap.error("unknown workload %s (have: %s)" % (w, ", ".join(WORKLOADS)))
    if a.runs is not None and a.runs < 1:
        ap.error("--runs must be >= 1")
    return a


def preflight(args):
    problems = []
    if swiftclient is None:
        problems.append("python3-swiftclient is not installed (apt-get install python3-swiftclient)")
    if os.geteuid() != 0:
        problems.append("run as root (drop_caches, FUSE mounts, Swift's servers)")
    for b in ("fusermount3", "curl", "ls"):
        if not shutil.which(b):
            problems.append("%s not found" % b)
    if not os.access(args.swiftfs, os.X_OK):
        problems.append("swiftfs binary %s not found: meson setup build && ninja -C build"
                        % args.swiftfs)
    if not os.path.exists("/dev/fuse"):
        problems.append("/dev/fuse is missing")
    if problems:
        raise BenchError("cannot run:\n  " + "\n  ".join(problems))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    install_signals()
    preflight(args)
    args.targets = [parse_target(s) for s in (args.target_specs or ["swiftfs"])]
    os.makedirs(MNT_BASE, exist_ok=True)
    lock = open(os.path.join(MNT_BASE, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise BenchError("another bench.py is running (lock %s/.lock)" % MNT_BASE)
    kill_strays()

    t_start = time.monotonic()
    load0 = os.getloadavg()
    swift = Swift(args.swift_workers)
    workdir = os.path.join(MNT_BASE, "work-%d" % os.getpid())  # daemon logs
    os.makedirs(workdir, exist_ok=True)
    rows, ctx, failed = [], None, None
    try:
        swift.start()
        ctx = Ctx(args, swift, workdir)
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
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # cleanup must finish
        for m in list(_active_mounts):
            m.cleanup()
        if ctx and not args.keep:
            for c in sorted(ctx.created):
                log("deleting container %s (--keep keeps it)" % c)
                try:
                    bulk_delete(ctx, c)
                except Exception as e:  # noqa: BLE001 - best effort
                    log("  could not delete %s: %s" % (c, e))
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
        "targets": {n: c for n, c in args.targets}, "seconds": time.monotonic() - t_start,
    }
    print()
    print("swiftfs bench: %s, %d run(s) each (median)%s"
          % (meta["date"], ctx.runs, ", --quick" if args.quick else ""))
    print("binary: %s (%s); repository at %s" % (args.swiftfs, meta["binary_mtime"], meta["git"]))
    print("machine: %d cores, load %.2f at start / %.2f at end; Swift proxy workers: %s; "
          "Swift one replica on loopback" % (meta["cores"], load0[0], meta["loadavg_end"][0],
                                             swift.workers))
    for n, c in args.targets:
        print("target %s: %s %s%s" % (n, c["kind"], ",".join(c["opts"]) or "(default options)",
                                      "".join(" %s=%s" % kv for kv in c.get("env", {}).items())))
    print()
    print_table(rows)
    print("\ntotal %.0f s" % meta["seconds"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": [r.as_json() for r in rows],
                       "samples": ctx.samples},
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
