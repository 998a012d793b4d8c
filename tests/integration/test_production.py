"""Production life of the daemon: signals (SIGTERM drains uploads, a second
one forces, SIGHUP renews a pre-auth token), kill -9 recovery, systemd
readiness, mounting through mount(8) and fstab words, units, man page and
packages, and no secret in any log."""
import fcntl
import glob
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

from conftest import ROOT, swiftfs_bin, wait_mounted

# Every secret a test here hands to swiftfs, and every log it wrote:
# test_no_secret_in_any_log (last in this file) checks them all.
SECRETS = set()
LOGS = []


def remember(m, *secrets):
    LOGS.append(m.log_path)
    SECRETS.update(s for s in secrets if s)
    return m


def wait_for(pred, timeout=20, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def wait_exit(m, timeout=30):
    try:
        return m.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        m.proc.kill()
        m.proc.wait()
        raise AssertionError("swiftfs did not exit within %ss:\n%s" % (timeout, m.log()))


def creds_file(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    os.chmod(p, 0o600)
    return str(p)


def staged_files(cache_dir):
    return sorted(glob.glob(os.path.join(cache_dir, "staging", "staged-*")))


# --- SIGTERM / SIGINT ------------------------------------------------------

def test_sigterm_waits_for_an_upload_in_flight(swift, container, conn, proxy, mount):
    data = os.urandom(3 << 20) + b"tail"
    env = dict(swift.creds_env(), ST_AUTH="%s/auth/v1.0" % proxy.url)
    m = remember(mount(container, use_env_creds=False, env=env))
    # the PUT of big.bin is held 3 s by the proxy: SIGTERM lands meanwhile
    proxy.add_rule(method="PUT", path="big\\.bin$", action="delay", seconds=3.0, times=1)
    result = {}

    def writer():
        try:
            with open(m.p("big.bin"), "wb") as f:
                f.write(data)
            result["ok"] = True
        except OSError as e:
            result["err"] = e

    t = threading.Thread(target=writer)
    t.start()
    wait_for(lambda: any(e["method"] == "PUT" and e["path"].endswith("big.bin")
                         for e in proxy.log()), what="the PUT to reach the proxy")
    m.proc.send_signal(signal.SIGTERM)
    t.join(30)
    assert result.get("ok"), result
    assert wait_exit(m) == 0, m.log()
    assert not os.path.ismount(m.path)
    hdrs, body = conn.get_object(container, "big.bin")
    assert body == data
    log = m.log()
    assert "SIGTERM: finishing uploads" in log
    assert "waiting up to" in log and "all uploads finished" in log


def test_sigterm_waits_for_an_open_file_to_be_closed(swift, container, conn, mount):
    m = remember(mount(container, opts=["drain_timeout=30"]))
    f = open(m.p("open.txt"), "wb")
    f.write(b"first half, ")
    f.flush()
    m.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "waiting up to" in m.log(), what="the drain to start")
    time.sleep(0.5)
    assert m.proc.poll() is None, "swiftfs stopped while a file was open with unsaved data"
    f.write(b"second half")
    f.close()
    assert wait_exit(m) == 0, m.log()
    assert conn.get_object(container, "open.txt")[1] == b"first half, second half"
    assert not os.path.ismount(m.path)


def test_drain_timeout_keeps_staged_data(swift, container, conn, mount, tmp_path):
    cache = str(tmp_path / "cache-timeout")
    m = remember(mount(container, opts=["drain_timeout=1", "cache_dir=" + cache]))
    f = open(m.p("never-closed.txt"), "wb")
    f.write(b"unsaved bytes")
    f.flush()
    t0 = time.time()
    m.proc.send_signal(signal.SIGTERM)
    rc = wait_exit(m, timeout=20)
    assert time.time() - t0 < 10
    assert rc == 0, m.log()
    log = m.log()
    assert "stopped waiting" in log and os.path.join(cache, "staging") in log
    contents = [open(p, "rb").read() for p in staged_files(cache)]
    assert b"unsaved bytes" in contents
    with pytest.raises(OSError):
        f.close()  # the mount is gone: the kernel answers ENOTCONN/EIO


def test_second_signal_forces_exit(swift, container, conn, mount, tmp_path):
    cache = str(tmp_path / "cache-force")
    m = remember(mount(container, opts=["drain_timeout=600", "cache_dir=" + cache]))
    f = open(m.p("held.txt"), "wb")
    f.write(b"held open")
    f.flush()
    m.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "waiting up to" in m.log(), what="the drain to start")
    m.proc.send_signal(signal.SIGTERM)
    rc = wait_exit(m, timeout=15)
    m.expect_rc = 1
    assert rc == 1, m.log()
    assert "second stop signal" in m.log()
    wait_for(lambda: not os.path.ismount(m.path), timeout=10, what="the unmount")
    assert b"held open" in [open(p, "rb").read() for p in staged_files(cache)]
    with pytest.raises(OSError):
        f.close()


def test_unmount_retries_a_failed_upload_first(swift, container, conn, proxy, mount, tmp_path):
    env = dict(swift.creds_env(), ST_AUTH="%s/auth/v1.0" % proxy.url)
    cache = str(tmp_path / "cache-retry")
    m = remember(mount(container, use_env_creds=False, env=env,
                       opts=["retry_timeout=1", "cache_dir=" + cache]))
    proxy.add_rule(method="PUT", path="late\\.txt$", action="status", status=503,
                          times=-1)
    f = open(m.p("late.txt"), "wb")
    f.write(b"uploaded at unmount")
    with pytest.raises(OSError):
        f.close()  # EIO: Swift keeps failing; the data stays staged
    assert len(staged_files(cache)) == 1
    proxy.clear()  # Swift is back
    m.unmount()  # fusermount3 -u; the daemon must exit 0
    log = m.log()
    assert "uploading 1 closed file(s) whose earlier upload failed" in log, log
    assert conn.get_object(container, "late.txt")[1] == b"uploaded at unmount"
    assert staged_files(cache) == []


# --- kill -9 ---------------------------------------------------------------

def test_kill9_then_fusermount_and_remount(swift, container, conn, mount, tmp_path):
    cache = str(tmp_path / "cache-kill")
    m = remember(mount(container, opts=["cache_dir=" + cache]))
    with open(m.p("closed.txt"), "wb") as f:
        f.write(b"closed before the crash")
    f = open(m.p("unclosed.txt"), "wb")
    f.write(b"written, never closed")
    f.flush()
    m.proc.kill()
    m.proc.wait()
    with pytest.raises(OSError):
        os.listdir(m.path)  # a dead mount: ENOTCONN
    with pytest.raises(OSError):
        f.close()  # the writer goes too (an open file keeps the mount busy)
    subprocess.run(["fusermount3", "-u", m.path], check=True)
    assert not os.path.ismount(m.path)
    # written and closed: in Swift
    assert conn.get_object(container, "closed.txt")[1] == b"closed before the crash"
    # written, not closed: where the docs say, <cache_dir>/staging/staged-*
    assert b"written, never closed" in [open(p, "rb").read() for p in staged_files(cache)]
    m.expect_rc = -signal.SIGKILL
    m2 = remember(mount(container, opts=["cache_dir=" + cache], mp=m.path))
    assert sorted(os.listdir(m2.path)) == ["closed.txt"]
    assert "file(s) of written data from earlier mounts are in %s" % (
        os.path.join(cache, "staging")) in m2.log()


SYSLOG_SCRIPT = r"""
set -e
# a private /dev with the few nodes swiftfs needs and our own /dev/log
mount -t tmpfs -o mode=755 none /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/fuse c 10 229
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")
' "$SYSLOG_OUT" &
listener=$!
while [ ! -e "$SYSLOG_OUT.ready" ]; do sleep 0.05; done
"$SWIFTFS" -o "$SWIFTFS_OPTS" "$CONTAINER" "$MP"
ls "$MP"
umount "$MP"
# the daemon logs its last lines after the unmount: wait for it to exit
# (the [x] keeps grep from finding its own command line)
pat=$(printf '%s' "$MP" | sed 's/.$/[&]/')
for i in $(seq 100); do grep -qs -- "$pat" /proc/[0-9]*/cmdline || break; sleep 0.1; done
kill $listener
"""


@pytest.mark.parametrize("level", ["info", "warning"])
def test_daemon_logs_to_syslog_with_levels(swift, container, conn, tmp_path, level):
    """Daemonized (no -f): the log goes to syslog (/dev/log) with the
    daemon facility and the message's level, filtered by -o log_level.
    Runs in a private mount namespace with its own /dev/log."""
    conn.put_object(container, "a.txt", b"A")
    cf = tempauth_creds(swift, tmp_path)
    out = str(tmp_path / "syslog.txt")
    mp = str(tmp_path / "mnt-syslog")
    os.mkdir(mp)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSLOG_OUT": out,
           "SWIFTFS": swiftfs_bin(), "CONTAINER": container, "MP": mp,
           "SWIFTFS_OPTS": "credentials=%s,cache_dir=%s,log_level=%s" % (
               cf, tmp_path / "cache-syslog", level),
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86"}
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        SYSLOG_SCRIPT], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    assert p.returncode == 0, p.stdout
    assert "a.txt" in p.stdout
    with open(out, errors="replace") as f:
        lines = [l for l in f.read().splitlines() if "swiftfs[" in l]
    LOGS.append(out)
    # <30> = facility daemon (3 << 3) + LOG_INFO (6); <28> = daemon + LOG_WARNING
    info = [l for l in lines if l.startswith("<30>")]
    if level == "info":
        assert any("info: mounted %s on %s" % (container, mp) in l for l in info), lines
        assert any("info: requests:" in l for l in info), lines
    else:
        assert info == [], lines
    assert not any(l.startswith("<31>") for l in lines), lines  # no debug lines


# --- SIGHUP ----------------------------------------------------------------

def test_sighup_puts_a_renewed_preauth_token_into_use(swift_short_token, mount, tmp_path):
    s = swift_short_token
    conn = s.conn()
    conn.put_container("hup")
    conn.put_object("hup", "a.txt", b"A")
    url, token = conn.get_auth()
    cf = creds_file(tmp_path, "token.env", "OS_STORAGE_URL=%s\nOS_AUTH_TOKEN=%s\n" % (url, token))
    m = remember(mount("hup", use_env_creds=False,
                       opts=["credentials=%s" % cf, "attr_timeout=0", "entry_timeout=0"]),
                 token)
    assert os.listdir(m.path) == ["a.txt"]
    time.sleep(5.5)  # the 4 s token is gone
    url2, token2 = s.conn().get_auth()
    SECRETS.add(token2)
    assert token2 != token
    with open(cf, "w") as f:
        f.write("OS_STORAGE_URL=%s\nOS_AUTH_TOKEN=%s\n" % (url2, token2))
    m.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: using the renewed token from %s" % cf in m.log(),
             what="the reload")
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"A"
    log = m.log()
    # renewed before any request failed: no 401 was needed
    assert "refused (HTTP 401)" not in log, log
    assert m.proc.poll() is None


def test_sighup_with_a_bad_file_keeps_the_current_token(swift, container, conn, mount,
                                                        tmp_path):
    conn.put_object(container, "a.txt", b"A")
    url, token = conn.get_auth()
    cf = creds_file(tmp_path, "t.env", "OS_STORAGE_URL=%s\nOS_AUTH_TOKEN=%s\n" % (url, token))
    m = remember(mount(container, use_env_creds=False, opts=["credentials=%s" % cf]), token)
    os.chmod(cf, 0o644)
    m.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: keeping the current credentials" in m.log(), what="the refusal")
    assert "chmod 600 %s" % cf in m.log()
    assert os.listdir(m.path) == ["a.txt"]


def test_sighup_with_environment_credentials_says_why_not(swift, container, mount):
    m = remember(mount(container))
    m.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "mount with -o credentials=FILE" in m.log(), what="the message")
    assert m.proc.poll() is None


# --- systemd readiness -----------------------------------------------------

@pytest.mark.parametrize("abstract", [False, True])
def test_type_notify_ready_only_once_the_mount_answers(swift, container, conn, mount,
                                                       tmp_path, abstract):
    conn.put_object(container, "a.txt", b"A")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "@swiftfs-test-%d" % os.getpid()
        sock.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        sock.bind(name)
    sock.settimeout(30)
    m = remember(mount(container, env={"NOTIFY_SOCKET": name}, wait=False))
    msg = sock.recv(4096).decode()
    # when READY=1 arrives the mount is there and answers
    assert os.path.ismount(m.path)
    assert os.listdir(m.path) == ["a.txt"]
    lines = msg.split("\n")
    assert "READY=1" in lines
    assert "STATUS=Mounted %s on %s" % (container, os.path.realpath(m.path)) in lines
    m.proc.send_signal(signal.SIGTERM)
    assert sock.recv(4096).decode() == "STOPPING=1"
    assert wait_exit(m) == 0
    sock.close()


# --- mount(8), fstab -------------------------------------------------------

FSTAB_WORDS = ("_netdev,nofail,noauto,user,users,auto,defaults,rw,nodev,nosuid,noexec,exec,"
               "dev,suid,x-systemd.automount,x-systemd.mount-timeout=30,x-systemd.after=network-online.target")


@pytest.fixture
def helper_path(tmp_path):
    """mount(8) runs its helpers with an EMPTY environment, so mount.fuse3's
    `sh -c swiftfs ...` searches sh's default PATH, which starts with
    /usr/local/sbin: the binary under test goes there for the test."""
    link = "/usr/local/sbin/swiftfs"
    lock = open("/run/lock/swiftfs-test-usr-local.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if os.path.lexists(link) and not os.path.islink(link):
        pytest.fail("%s exists and is not a test symlink: remove it to run this test" % link)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(swiftfs_bin(), link)
    yield "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
    if os.path.islink(link) and os.readlink(link) == swiftfs_bin():
        os.unlink(link)
    lock.close()


def daemon_pids(mountpoint):
    pids = []
    for p in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(p, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"swiftfs") and mountpoint.encode() in argv:
            pids.append(int(p.split("/")[2]))
    return pids


def run_mount(cmd, path_env, check=True):
    env = {"PATH": path_env, "LANG": "C"}  # no HOME, no credentials in the environment
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stdout))
    return p


@pytest.fixture
def mountpoint(tmp_path):
    mp = str(tmp_path / "mnt8")
    os.mkdir(mp)
    yield mp
    if os.path.ismount(mp):
        subprocess.run(["umount", "-l", mp], check=False)
    for pid in daemon_pids(mp):  # only the daemons of this test's mount point
        os.kill(pid, signal.SIGKILL)


def umount_and_wait(mp):
    pids = daemon_pids(mp)
    assert len(pids) == 1, pids
    subprocess.run(["umount", mp], check=True)
    wait_for(lambda: not daemon_pids(mp), what="the daemon to exit after umount")
    assert not os.path.ismount(mp)


def tempauth_creds(swift, tmp_path, name="site.env"):
    return creds_file(tmp_path, name, "ST_AUTH=%s\nST_USER=test:tester\nST_KEY=testing\n"
                      % swift.auth_url)


def test_mount_t_fuse_swiftfs_with_credentials_file(swift, container, conn, tmp_path,
                                                    helper_path, mountpoint):
    conn.put_object(container, "a.txt", b"A")
    cf = tempauth_creds(swift, tmp_path)
    cache = str(tmp_path / "cache8")
    run_mount(["mount", "-t", "fuse.swiftfs", container, mountpoint, "-o",
               "credentials=%s,cache_dir=%s,%s" % (cf, cache, FSTAB_WORDS)], helper_path)
    assert os.path.ismount(mountpoint)
    with open(os.path.join(mountpoint, "a.txt"), "rb") as f:
        assert f.read() == b"A"
    with open(os.path.join(mountpoint, "b.txt"), "wb") as f:
        f.write(b"written through mount(8)")
    fstype = [l.split()[2] for l in open("/proc/mounts") if l.split()[1] == mountpoint]
    assert fstype == ["fuse.swiftfs"]
    umount_and_wait(mountpoint)
    assert conn.get_object(container, "b.txt")[1] == b"written through mount(8)"


def test_fstab_line(swift, container, conn, tmp_path, helper_path, mountpoint):
    conn.put_object(container, "dir/a.txt", b"A")
    cf = tempauth_creds(swift, tmp_path)
    fstab = tmp_path / "fstab"
    fstab.write_text("# test fstab\n%s/dir %s fuse.swiftfs credentials=%s,cache_dir=%s,%s 0 0\n"
                     % (container, mountpoint, cf, tmp_path / "cache-fstab", FSTAB_WORDS))
    run_mount(["mount", "--fstab", str(fstab), mountpoint], helper_path)
    assert os.listdir(mountpoint) == ["a.txt"]
    umount_and_wait(mountpoint)


def test_mount_helper_script(swift, container, conn, tmp_path, helper_path, mountpoint):
    """packaging/mount.swiftfs is what `mount -t swiftfs` runs (installed in /sbin)."""
    conn.put_object(container, "a.txt", b"A")
    cf = tempauth_creds(swift, tmp_path)
    run_mount([os.path.join(ROOT, "packaging", "mount.swiftfs"), container, mountpoint,
               "-n", "-o", "credentials=%s,cache_dir=%s,_netdev" % (cf, tmp_path / "c")],
              helper_path)
    assert os.listdir(mountpoint) == ["a.txt"]
    umount_and_wait(mountpoint)


def test_mount_refuses_world_readable_credentials(swift, container, tmp_path, helper_path,
                                                  mountpoint):
    cf = tempauth_creds(swift, tmp_path)
    os.chmod(cf, 0o644)
    p = run_mount(["mount", "-t", "fuse.swiftfs", container, mountpoint, "-o",
                   "credentials=%s,_netdev" % cf], helper_path, check=False)
    assert p.returncode != 0
    assert "credentials file %s is accessible by group or others (mode 0644): " \
           "run chmod 600 %s" % (cf, cf) in p.stdout
    assert "testing" not in p.stdout
    assert not os.path.ismount(mountpoint)


# --- systemd units, man page, meson install --------------------------------

UNITS = os.path.join(ROOT, "packaging", "systemd")


def test_systemd_units_verify(tmp_path):
    """systemd-analyze verify: no error and no warning about our units."""
    d = tmp_path / "units"
    d.mkdir()
    for name in ("mnt-data.mount", "mnt-data.automount"):
        with open(os.path.join(UNITS, name)) as f:
            (d / name).write_text(f.read())
    with open(os.path.join(UNITS, "swiftfs@.service")) as f:
        # an instance of the template, running the binary under test
        (d / "swiftfs@demo.service").write_text(f.read().replace("/usr/bin/swiftfs",
                                                                 swiftfs_bin()))
    names = ["mnt-data.mount", "mnt-data.automount", "swiftfs@demo.service"]
    p = subprocess.run(["systemd-analyze", "verify", "--man=no"] + [str(d / n) for n in names],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    ours = [l for l in p.stdout.splitlines()
            if any(n in l for n in names + ["mnt-data", "swiftfs"])]
    assert p.returncode == 0 and not ours, p.stdout


def test_service_template_is_hardened_and_notifies():
    with open(os.path.join(UNITS, "swiftfs@.service")) as f:
        unit = f.read()
    for line in ("Type=notify", "After=network-online.target", "Wants=network-online.target",
                 "NoNewPrivileges=yes", "DeviceAllow=/dev/fuse rw", "ExecReload=/bin/kill -HUP",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert line in unit, line
    # swiftfs -f under Type=notify; the stop timeout outlasts the drain
    assert " -f " in unit and "drain_timeout=60" in unit and "TimeoutStopSec=90" in unit


def test_man_page_renders_without_warnings(tmp_path):
    page = os.path.join(ROOT, "packaging", "swiftfs.1")
    p = subprocess.run(["groff", "-ww", "-z", "-man", page], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0 and p.stdout == "", p.stdout
    p = subprocess.run(["man", "-l", page], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=dict(os.environ, MANPAGER="cat", MANWIDTH="80",
                                           LANG="C.UTF-8"))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    text = p.stdout
    for section in ("SYNOPSIS", "DESCRIPTION", "OPTIONS", "CREDENTIALS", "SIGNALS", "FILES",
                    "ENVIRONMENT", "SEMANTICS AND CAVEATS", "XATTRS", "MOUNTING FROM FSTAB",
                    "MOUNTING WITH SYSTEMD", "EXAMPLES"):
        assert "\n" + section + "\n" in text, section
    # every option of --help is documented
    help_text = subprocess.run([swiftfs_bin(), "--help"], stdout=subprocess.PIPE,
                               text=True).stdout
    opts = set()
    for l in help_text.splitlines():
        w = l.strip().split(" ")[0]
        if l.startswith("    ") and w and w[0].isalpha() and w.upper() != w:
            opts.add(w.split("=")[0].rstrip(","))
    assert len(opts) > 20, opts
    missing = [o for o in opts if o not in text]
    assert not missing, missing


def test_meson_install_puts_files_in_place(tmp_path):
    build = os.path.dirname(swiftfs_bin())
    dest = tmp_path / "dest"
    p = subprocess.run(["meson", "install", "-C", build, "--quiet", "--no-rebuild",
                        "--destdir", str(dest)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout
    files = {os.path.relpath(os.path.join(r, f), str(dest))
             for r, _, fs in os.walk(str(dest)) for f in fs}
    assert "sbin/mount.swiftfs" in files, files
    assert any(f.endswith("share/man/man1/swiftfs.1") for f in files), files
    assert any(f.endswith("examples/systemd/swiftfs@.service") for f in files), files
    assert any(f.endswith("bin/swiftfs") for f in files), files
    assert os.access(str(dest / "sbin" / "mount.swiftfs"), os.X_OK)


# --- packages ----------------------------------------------------------------

def test_deb_builds_installs_and_mounts(swift, container, conn, tmp_path, mountpoint):
    """packaging/build-deb.sh -> dpkg -i -> swiftfs --version, man -w, a mount
    through the installed /sbin/mount.swiftfs (type swiftfs) -> dpkg -r."""
    lock = open("/run/lock/swiftfs-test-usr-local.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # no test symlink in /usr/local/sbin meanwhile
    assert not os.path.lexists("/usr/local/sbin/swiftfs")
    st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "swiftfs"], stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True)
    if "installed" in st.stdout and "not-installed" not in st.stdout:
        pytest.fail("a swiftfs package is installed already: remove it (dpkg -r swiftfs) "
                    "to run this test")
    out = tmp_path / "dist"
    p = subprocess.run([os.path.join(ROOT, "packaging", "build-deb.sh"), str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-5000:]
    debs = glob.glob(str(out / "swiftfs_*.deb"))
    assert len(debs) == 1, os.listdir(str(out))
    info = subprocess.run(["dpkg-deb", "-f", debs[0], "Depends"], stdout=subprocess.PIPE,
                          text=True).stdout
    assert "fuse3" in info.replace("libfuse3", ""), info
    files = subprocess.run(["dpkg-deb", "-c", debs[0]], stdout=subprocess.PIPE, text=True).stdout
    for f in ("./usr/bin/swiftfs", "./sbin/mount.swiftfs", "./usr/share/man/man1/swiftfs.1.gz",
              "./usr/share/doc/swiftfs/examples/systemd/swiftfs@.service",
              "./usr/share/doc/swiftfs/examples/systemd/mnt-data.mount",
              "./usr/share/doc/swiftfs/examples/systemd/mnt-data.automount"):
        assert f in files, (f, files)
    subprocess.run(["dpkg", "-i", debs[0]], check=True, stdout=subprocess.DEVNULL)
    try:
        v = subprocess.run(["/usr/bin/swiftfs", "--version"], stdout=subprocess.PIPE, text=True)
        assert v.returncode == 0 and v.stdout.startswith("swiftfs 0.1.0"), v.stdout
        w = subprocess.run(["man", "-w", "swiftfs"], stdout=subprocess.PIPE, text=True)
        assert w.stdout.strip() == "/usr/share/man/man1/swiftfs.1.gz", w.stdout
        # type "swiftfs": mount(8) -> /sbin/mount.swiftfs -> mount.fuse3 -> /usr/bin/swiftfs
        conn.put_object(container, "a.txt", b"A")
        cf = tempauth_creds(swift, tmp_path)
        run_mount(["mount", "-t", "swiftfs", container, mountpoint, "-o",
                   "credentials=%s,cache_dir=%s,_netdev,nofail" % (cf, tmp_path / "c")],
                  "/usr/sbin:/usr/bin:/sbin:/bin")
        assert os.listdir(mountpoint) == ["a.txt"]
        fstype = [l.split()[2] for l in open("/proc/mounts") if l.split()[1] == mountpoint]
        assert fstype == ["fuse.swiftfs"]
        umount_and_wait(mountpoint)
    finally:
        subprocess.run(["dpkg", "-r", "swiftfs"], check=True, stdout=subprocess.DEVNULL)
        lock.close()
    assert not os.path.exists("/usr/bin/swiftfs")
    assert not os.path.exists("/sbin/mount.swiftfs")


def test_rpm_spec_parses():
    spec = os.path.join(ROOT, "packaging", "rpm", "swiftfs.spec")
    p = subprocess.run(["rpmspec", "-P", spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    assert p.returncode == 0, p.stderr
    text = p.stdout
    with open(os.path.join(ROOT, "meson.build")) as f:
        version = f.read().split("version: '")[1].split("'")[0]
    assert "Version:        %s" % version in text
    for needle in ("Requires:       fuse3", "/usr/bin/swiftfs", "/sbin/mount.swiftfs",
                   "/usr/share/man/man1/swiftfs.1", "swiftfs@.service"):
        assert needle in text, needle


# --- secrets -----------------------------------------------------------------

def test_no_secret_in_any_log(swift, tmp_path_factory):
    """Runs last in the session (see conftest.py): every daemon log any test
    wrote (the mount fixture's swiftfs-N.log files) and the logs of this
    file are searched for the key and the tokens the tests used."""
    secrets = set(SECRETS)
    secrets.add(swift.creds_env()["ST_KEY"])
    secrets.add(swift.conn().get_auth()[1])  # TempAuth hands out one token while it lives
    base = str(tmp_path_factory.getbasetemp())
    logs = set(glob.glob(os.path.join(base, "**", "swiftfs-*.log"), recursive=True)) | set(LOGS)
    logs = [l for l in logs if os.path.exists(l)]
    assert logs, "no daemon log found under %s" % base
    leaks = []
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        leaks += ["%s: %s..." % (path, s[:6]) for s in secrets if s and s in text]
    assert not leaks, "secrets in daemon logs:\n" + "\n".join(leaks)


def test_debug_log_masks_the_container_sync_key(container, conn, mount):
    """Swift shows a container's sync key to its owner: the startup HEAD
    of the container must not put it in a debug log."""
    key = "sync-" + uuid.uuid4().hex
    conn.post_container(container, {"X-Container-Sync-Key": key})
    m = remember(mount(container, args=["-d"], opts=["log_level=debug"]), key)
    os.listdir(m.path)
    m.unmount()
    log = m.log()
    assert re.search(r"(?i)x-container-sync-key: \*+", log), log[-3000:]
    assert key not in log


def test_sighup_with_a_wrong_key_keeps_the_working_one(swift_short_token, mount, tmp_path):
    """A TempAuth credentials file edited with a typo: the reload's login
    fails, and the key in use stays for the renewals that follow."""
    s = swift_short_token
    conn = s.conn()
    conn.put_container("hupkey")
    conn.put_object("hupkey", "a.txt", b"A")
    good = "ST_AUTH=%s\nST_USER=test:tester\nST_KEY=testing\n" % s.auth_url
    cf = creds_file(tmp_path, "v1.env", good)
    m = remember(mount("hupkey", use_env_creds=False,
                       opts=["credentials=%s" % cf, "attr_timeout=0", "entry_timeout=0"]))
    assert os.listdir(m.path) == ["a.txt"]
    with open(cf, "w") as f:
        f.write(good.replace("ST_KEY=testing", "ST_KEY=typo"))
    m.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: keeping the current credentials" in m.log(), what="the refusal")
    time.sleep(5.5)  # the 4 s token is gone: the renewal logs in with the key in use
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"A"
    assert m.proc.poll() is None
