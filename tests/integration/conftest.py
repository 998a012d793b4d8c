"""pytest fixtures: a real OpenStack Swift on loopback and real FUSE mounts.

The Swift all-in-one is started once per session by tests/tools/swift-aio.sh
in a state folder and on ports of its own (never the demo instance's). A
missing Swift package, fusermount3 or /dev/fuse FAILS the run: nothing is
skipped silently.
"""
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(ROOT, "tests", "tools")
sys.path.insert(0, TOOLS)

try:
    import swiftclient  # Debian python3-swiftclient
except ImportError:  # pragma: no cover - reported as a failure below
    swiftclient = None


def swiftfs_bin():
    b = os.environ.get("SWIFTFS_BIN") or os.path.join(ROOT, "build", "swiftfs")
    if not os.access(b, os.X_OK):
        pytest.fail("swiftfs binary not found at %s: build it first (meson setup build && "
                    "ninja -C build) or set SWIFTFS_BIN" % b)
    return b


class Swift:
    """One running Swift instance (state dir, port, token life)."""

    def __init__(self, name, port, token_life=None, listing_limit=None):
        self.dir = os.path.join(os.environ.get("SWIFTFS_TEST_STATE", "/var/tmp"),
                                "swiftfs-test-" + name)
        self.port = port
        self.env = dict(os.environ, SWIFTFS_AIO_DIR=self.dir, SWIFTFS_AIO_PORT=str(port))
        if token_life:
            self.env["SWIFTFS_AIO_TOKEN_LIFE"] = str(token_life)
        if listing_limit:
            self.env["SWIFTFS_AIO_LISTING_LIMIT"] = str(listing_limit)
        self.auth_url = "http://127.0.0.1:%d/auth/v1.0" % port
        self.url = "http://127.0.0.1:%d" % port

    def aio(self, *args, check=True):
        p = subprocess.run([os.path.join(TOOLS, "swift-aio.sh")] + list(args), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            pytest.fail("swift-aio.sh %s failed:\n%s" % (" ".join(args), p.stdout))
        return p.stdout

    def start(self):
        self.aio("start")

    def logs(self):
        return self.aio("logs", check=False)

    def conn(self, user="test:tester", key="testing"):
        return swiftclient.Connection(authurl=self.auth_url, user=user, key=key,
                                      retries=2, timeout=60)

    def creds_env(self, user="test:tester", key="testing"):
        return {"ST_AUTH": self.auth_url, "ST_USER": user, "ST_KEY": key}


def _check_prereqs():
    problems = []
    if swiftclient is None:
        problems.append("python3-swiftclient is not installed (apt-get install python3-swiftclient)")
    for b in ("swift-proxy-server", "swift-object-server", "memcached", "fusermount3"):
        if not shutil.which(b):
            problems.append("%s not found (run tests/tools/install-deps.sh)" % b)
    if not os.path.exists("/dev/fuse"):
        problems.append("/dev/fuse is missing: FUSE is not available on this machine")
    if os.geteuid() != 0:
        problems.append("the integration tests need root (Swift servers drop to user swift)")
    if problems:
        pytest.fail("cannot run the integration tests:\n  " + "\n  ".join(problems),
                    pytrace=False)


@pytest.fixture(scope="session")
def swift():
    _check_prereqs()
    s = Swift("main", int(os.environ.get("SWIFTFS_TEST_PORT", "18480")))
    s.start()
    yield s
    if os.environ.get("SWIFTFS_TEST_KEEP_SWIFT") != "1":
        s.aio("stop", check=False)


@pytest.fixture(scope="session")
def swift_short_token():
    """A second Swift whose tokens live 4 seconds and whose listings come
    in pages of at most 100 names (Swift refuses a larger limit)."""
    _check_prereqs()
    s = Swift("short", int(os.environ.get("SWIFTFS_TEST_PORT2", "18580")), token_life=4,
              listing_limit=100)
    s.start()
    yield s
    if os.environ.get("SWIFTFS_TEST_KEEP_SWIFT") != "1":
        s.aio("stop", check=False)


class Keystone:
    """A Keystone v3 on loopback and a Swift proxy that trusts it
    (tests/tools/keystone-aio.sh), sharing the backends of a Swift."""

    def __init__(self, swift, port, swift_port, token_life):
        self.dir = os.path.join(os.environ.get("SWIFTFS_TEST_STATE", "/var/tmp"),
                                "swiftfs-test-keystone")
        self.port = port
        self.swift_port = swift_port
        self.token_life = token_life
        self.env = dict(os.environ, KEYSTONE_AIO_DIR=self.dir, KEYSTONE_AIO_PORT=str(port),
                        KEYSTONE_AIO_SWIFT_PORT=str(swift_port),
                        KEYSTONE_AIO_TOKEN_LIFE=str(token_life),
                        SWIFTFS_AIO_DIR=swift.dir, SWIFTFS_AIO_PORT=str(swift.port))
        self.url = "http://127.0.0.1:%d" % port
        self.auth_url = self.url + "/v3"
        self.swift_url = "http://127.0.0.1:%d" % swift_port
        # see tests/tools/keystone_provision.py
        self.user, self.password, self.project = "swiftfs-user", "swiftfs-pass", "swiftfs"

    def aio(self, *args, check=True):
        p = subprocess.run([os.path.join(TOOLS, "keystone-aio.sh")] + list(args), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            pytest.fail("keystone-aio.sh %s failed:\n%s" % (" ".join(args), p.stdout))
        return p.stdout

    def start(self):
        self.aio("start")

    def logs(self):
        return self.aio("logs", check=False)

    def password_env(self, **over):
        e = {"OS_AUTH_URL": self.auth_url, "OS_USERNAME": self.user,
             "OS_PASSWORD": self.password, "OS_PROJECT_NAME": self.project,
             "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default"}
        e.update(over)
        return e

    def appcred_env(self):
        e = {}
        for line in self.aio("env", "appcred").splitlines():
            if line.startswith("export "):
                k, _, v = line[7:].partition("=")
                e[k] = v
        return e

    def conn(self, user=None, password=None):
        return swiftclient.Connection(
            authurl=self.auth_url, user=user or self.user, key=password or self.password,
            auth_version="3", retries=2, timeout=60,
            os_options={"project_name": self.project, "user_domain_name": "Default",
                        "project_domain_name": "Default"})

    def admin(self):
        """keystoneclient v3 as the bootstrap admin."""
        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        from keystoneclient.v3 import client
        auth = v3.Password(auth_url=self.auth_url, username="admin", password="admin-pass",
                           project_name="admin", user_domain_id="default",
                           project_domain_id="default")
        return client.Client(session=session.Session(auth=auth), interface="public")


@pytest.fixture(scope="session")
def keystone(swift):
    """Keystone + a Keystone-enabled Swift proxy, started once per session
    (~20 s). Tokens live SWIFTFS_TEST_KEYSTONE_TOKEN_LIFE seconds (16), so
    renewal before expiry is exercised within a test."""
    for b in ("keystone-manage", "keystone-wsgi-public"):
        if not shutil.which(b):
            pytest.fail("%s not found: apt-get install keystone python3-keystonemiddleware "
                        "(tests/tools/install-deps.sh)" % b, pytrace=False)
    k = Keystone(swift, int(os.environ.get("SWIFTFS_TEST_KEYSTONE_PORT", "18780")),
                 int(os.environ.get("SWIFTFS_TEST_KEYSTONE_SWIFT_PORT", "18790")),
                 int(os.environ.get("SWIFTFS_TEST_KEYSTONE_TOKEN_LIFE", "16")))
    k.start()
    yield k
    if os.environ.get("SWIFTFS_TEST_KEEP_SWIFT") != "1":
        k.aio("stop", check=False)


def delete_container(conn, name):
    with contextlib.suppress(Exception):
        for c in (name, name + "_segments"):
            try:
                _, objs = conn.get_container(c, full_listing=True)
            except swiftclient.ClientException:
                continue
            for o in objs:
                with contextlib.suppress(Exception):
                    conn.delete_object(c, o.get("name") or o.get("subdir"))
            with contextlib.suppress(Exception):
                conn.delete_container(c)


@pytest.fixture
def container(swift):
    """A fresh, empty container; deleted afterwards."""
    conn = swift.conn()
    name = "t-" + uuid.uuid4().hex[:12]
    conn.put_container(name)
    yield name
    delete_container(conn, name)


@pytest.fixture
def archive(container, conn):
    """A second fresh container beside `container`, for a legacy
    versions archive (X-Versions-Location, X-History-Location); deleted
    afterwards."""
    name = container + "-arch"
    conn.put_container(name)
    yield name
    delete_container(conn, name)


@pytest.fixture
def conn(swift):
    return swift.conn()


class Mount:
    def __init__(self, proc, path, log_path):
        self.proc = proc
        self.path = path
        self.log_path = log_path
        self.expect_rc = 0  # exit status the fixture's teardown checks

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def unmount(self, expect_rc=0):
        if self.proc.poll() is None:
            subprocess.run(["fusermount3", "-u", self.path], check=False)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("swiftfs did not exit after fusermount3 -u:\n" + self.log())
        if expect_rc is not None and self.proc.returncode != expect_rc:
            raise AssertionError("swiftfs exited with %s:\n%s" % (self.proc.returncode,
                                                                 self.log()))


def wait_mounted(proc, path, log_path, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if os.path.ismount(path):
            return True
        if proc is not None and proc.poll() is not None:
            with open(log_path, errors="replace") as f:
                raise AssertionError("swiftfs exited with %s before mounting:\n%s"
                                     % (proc.returncode, f.read()))
        time.sleep(0.05)
    raise AssertionError("mount did not appear at %s in %ss" % (path, timeout))


@pytest.fixture
def mount(swift, tmp_path, request):
    """Factory: mount(source, opts=[...], env={...}) -> Mount (foreground -f).
    Every mount is unmounted at teardown and must exit 0."""
    mounts = []

    def _mount(source, opts=(), env=None, use_env_creds=True, wait=True, args=(), mp=None):
        if mp is None:
            mp = tempfile.mkdtemp(prefix="mnt-", dir=str(tmp_path))
        log_path = os.path.join(str(tmp_path), "swiftfs-%d.log" % len(mounts))
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("ST_", "OS_"))}
        if use_env_creds:
            e.update(swift.creds_env())
        if env:
            e.update(env)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86")
        e.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:exitcode=87")
        cmd = [swiftfs_bin(), "-f"] + list(args)
        allopts = list(opts)
        if not any(o.startswith("cache_dir=") for o in allopts):
            # a cache folder of its own: staged leftovers of one test
            # (failed uploads keep their data) never reach another
            allopts.append("cache_dir=%s" % os.path.join(str(tmp_path), "cache-%d" % len(mounts)))
        if allopts:
            cmd += ["-o", ",".join(allopts)]
        cmd += [source, mp]
        logf = open(log_path, "w")
        proc = subprocess.Popen(cmd, env=e, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        logf.close()
        m = Mount(proc, mp, log_path)
        mounts.append(m)
        if wait:
            wait_mounted(proc, mp, log_path)
        return m

    yield _mount
    failures = []
    for m in mounts:
        try:
            m.unmount(m.expect_rc)
        except AssertionError as ex:
            failures.append(str(ex))
    if failures:
        pytest.fail("\n".join(failures))


@pytest.fixture
def proxy(swift):
    """A fault-injecting HTTP proxy (tests/tools/faultproxy.py) in front of
    the session's real Swift."""
    from faultproxy import FaultProxy
    fp = FaultProxy().start("127.0.0.1", swift.port)
    yield fp
    fp.stop()


def proxied_env(swift, fp):
    """Credentials that reach Swift through the fault proxy fp."""
    return dict(swift.creds_env(), ST_AUTH="%s/auth/v1.0" % fp.url)


def sha256_file(path, timeout=180):
    """The SHA-256 of a file, read by sha256sum in a child process: a read
    that hangs in the mount fails the test after timeout seconds (a FUSE
    read stuck in the kernel ends with SIGKILL) instead of hanging the suite."""
    p = subprocess.run(["sha256sum", "-b", str(path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    assert p.returncode == 0, "sha256sum %s: %s" % (path, p.stderr.decode(errors="replace"))
    return p.stdout.split()[0].decode()


# The two integration passes run side by side on one kernel: a test that
# drops the dentry cache (memory pressure) makes the other pass's mounts see
# lookups where it counts on readdirplus having given every entry. Dropping
# takes this machine-wide lock exclusively; tests that need the kernel to
# keep its dentries (dentries_kept) hold it shared.
DCACHE_LOCK = "/tmp/swiftfs-tests-dcache.lock"


@contextlib.contextmanager
def _dcache_lock(kind):
    fd = os.open(DCACHE_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, kind)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def small_tmpfs(path, size):
    """A tmpfs of size (\"1m\") on the new folder path, for full-disk tests."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def drop_caches(level=3):
    """sync, then echo level > /proc/sys/vm/drop_caches (2 and 3 make the
    kernel forget dentries and inodes)."""
    with _dcache_lock(fcntl.LOCK_EX):
        os.system("sync; echo %d > /proc/sys/vm/drop_caches" % level)


@pytest.fixture
def dentries_kept():
    with _dcache_lock(fcntl.LOCK_SH):
        yield


def run_swiftfs(args, env, timeout=60, cwd=None):
    """Run swiftfs (not -f) and return the CompletedProcess."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "OS_"))}
    e.update(env)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86")
    return subprocess.run([swiftfs_bin()] + list(args), env=e, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=cwd)


_RUN_LOCK = None


def pytest_sessionstart(session):
    """One test run per state folder at a time. Two runs on one machine
    (a CI job starting while an earlier run still tears down) would share
    the Swift and Keystone state folders and ports, and one's "stop" would
    kill the other's servers. The second run waits for the first, then
    fails loudly if it never ends."""
    global _RUN_LOCK
    state = os.environ.get("SWIFTFS_TEST_STATE", "/var/tmp")
    os.makedirs(state, exist_ok=True)
    path = os.path.join(state, "swiftfs-tests.lock")
    wait = float(os.environ.get("SWIFTFS_TEST_LOCK_WAIT", "1800"))
    f = open(path, "a+")
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not told:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                sys.stderr.write("swiftfs tests: another test run holds %s (%s); waiting up to "
                                 "%d s for it to end\n" % (path, holder, wait))
                told = True
            if time.monotonic() > deadline:
                pytest.exit("another swiftfs test run (%s) has held %s for over %d s; stop it "
                            "(or set SWIFTFS_TEST_STATE to another folder and other ports)"
                            % (holder, path, wait), returncode=3)
            time.sleep(1)
    f.seek(0)
    f.truncate()
    f.write("pid %d, %s\n" % (os.getpid(), ROOT))
    f.flush()
    _RUN_LOCK = f


def pytest_collection_modifyitems(items):
    """The log audit (test_production.py) runs after every other test."""
    last = [i for i in items if i.name == "test_no_secret_in_any_log"]
    items[:] = [i for i in items if i not in last] + last


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the Swift proxy log tail to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and "swift" in item.fixturenames:
        s = item.funcargs.get("swift")
        if s is not None:
            rep.sections.append(("swift logs", s.logs()[-6000:]))
