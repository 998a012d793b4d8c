"""Startup: every failure is one clear line and a non-zero exit, before any
mount; without -f swiftfs returns once the mount answers; unmount leaves no
process behind."""
import concurrent.futures
import os
import socket
import subprocess
import time

import pytest

from conftest import run_swiftfs, wait_mounted


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def fails(args, env, *needles):
    p = run_swiftfs(args, env)
    assert p.returncode != 0, p.stderr
    for n in needles:
        assert n in p.stderr, "%r not in stderr: %s" % (n, p.stderr)
    # one clear line naming the cause (retry warnings aside)
    lines = [l for l in p.stderr.splitlines() if l.startswith("swiftfs: ")]
    assert len(lines) == 1, p.stderr
    return p


def test_daemon_returns_once_mounted_and_unmount_leaves_no_process(swift, container, conn,
                                                                    tmp_path):
    conn.put_object(container, "hello.txt", b"hi")
    mp = tmp_path / "m"
    mp.mkdir()
    p = run_swiftfs([container, str(mp)], swift.creds_env())
    assert p.returncode == 0, p.stderr
    try:
        assert os.path.ismount(mp)
        assert os.listdir(mp) == ["hello.txt"]
        assert (mp / "hello.txt").read_bytes() == b"hi"
        pids = subprocess.run(["pgrep", "-f", "swiftfs.* %s$" % mp], stdout=subprocess.PIPE,
                              text=True).stdout.split()
        assert len(pids) == 1
    finally:
        subprocess.run(["fusermount3", "-u", str(mp)], check=True)
    t0 = time.time()
    while time.time() - t0 < 20 and os.path.exists("/proc/%s" % pids[0]):
        time.sleep(0.1)
    assert not os.path.exists("/proc/%s" % pids[0]), "daemon still running after unmount"
    assert not os.path.ismount(mp)


def test_bad_credentials(swift, container, tmp_path):
    env = dict(swift.creds_env(), ST_KEY="wrong")
    fails([container, str(tmp_path)], env, "refused (HTTP 401)", "ST_KEY")


def test_unknown_container(swift, tmp_path):
    fails(["no-such-container-xyz", str(tmp_path)], swift.creds_env(),
          "container 'no-such-container-xyz' not found (HTTP 404)")


def test_unreachable_endpoint(swift, container, tmp_path):
    env = dict(swift.creds_env(), ST_AUTH="http://127.0.0.1:%d/auth/v1.0" % free_port())
    t0 = time.time()
    fails(["-o", "retry_timeout=2", container, str(tmp_path)], env, "Failed to connect")
    assert time.time() - t0 < 20


def self_signed(tmp_path):
    """A key and a self-signed certificate for 127.0.0.1, in tmp_path."""
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, crt


def test_tls_failure_and_insecure_and_cacert(swift, container, tmp_path):
    key, crt = self_signed(tmp_path)
    port = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", str(port), "-cert",
                            str(crt), "-key", str(key), "-www"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        env = dict(swift.creds_env(), ST_AUTH="https://127.0.0.1:%d/auth/v1.0" % port)
        mp = tmp_path / "m"
        mp.mkdir()
        fails(["-o", "retry_timeout=1", container, str(mp)], env, "certificate")
        # with the CA given, or verification off, TLS passes and the (fake)
        # endpoint's answer is what fails
        p = fails(["-o", "retry_timeout=1,cacert=%s" % crt, container, str(mp)], env,
                  "authentication at")
        assert "certificate" not in p.stderr
        p = fails(["-o", "retry_timeout=1,insecure", container, str(mp)], env,
                  "authentication at")
        assert "verification is OFF" in p.stderr
    finally:
        srv.kill()
        srv.wait()


def test_tls_mount_with_a_relative_os_cacert(swift, container, conn, tmp_path):
    """A mount over TLS (a TLS proxy in front of the test Swift) whose
    OS_CACERT is relative to the caller's folder: the daemon works from /,
    and every new connection (one per FUSE thread) still finds the CA."""
    from faultproxy import FaultProxy
    key, crt = self_signed(tmp_path)
    conn.put_object(container, "hello.txt", b"hi")
    with FaultProxy(tls=(crt, key)) as fp:
        fp.start("127.0.0.1", swift.port)
        env = dict(swift.creds_env(), ST_AUTH=fp.url + "/auth/v1.0", OS_CACERT=crt.name)
        mp = tmp_path / "m"
        mp.mkdir()
        p = run_swiftfs([container, str(mp)], env, cwd=str(tmp_path))
        assert p.returncode == 0, p.stderr
        try:
            def one(i):
                with open(mp / ("f%d" % i), "wb") as f:
                    f.write(b"%d" % i)
                return (mp / "hello.txt").read_bytes()
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                assert list(ex.map(one, range(16))) == [b"hi"] * 16
        finally:
            subprocess.run(["fusermount3", "-u", str(mp)], check=True)
        assert sorted(o["name"] for o in conn.get_container(container)[1]) == sorted(
            ["hello.txt"] + ["f%d" % i for i in range(16)])
        assert any(e["path"].endswith("/f15") for e in fp.log())  # it went through TLS


def test_mountpoint_problems(swift, container, tmp_path, mount):
    env = swift.creds_env()
    fails([container, str(tmp_path / "missing")], env, "does not exist")
    f = tmp_path / "file"
    f.write_text("x")
    fails([container, str(f)], env, "is not a directory")
    m = mount(container)
    fails([container, m.path], env, "already a mount point")


def test_credential_errors(swift, container, tmp_path):
    fails([container, str(tmp_path)], {}, "no Swift credentials in the environment")
    fails([container, str(tmp_path)], {"OS_AUTH_TOKEN": "x"},
          "only one of OS_STORAGE_URL and OS_AUTH_TOKEN")
    cf = tmp_path / "creds.env"
    cf.write_text("ST_AUTH=%s\nST_USER=test:tester\nST_KEY=testing\n" % swift.auth_url)
    os.chmod(cf, 0o644)
    p = fails(["-o", "credentials=%s" % cf, container, str(tmp_path)], {},
              "accessible by group or others", "chmod 600")
    assert "testing" not in p.stderr
    fails(["-o", "credentials=%s" % (tmp_path / "nope"), container, str(tmp_path)], {},
          "cannot open credentials file")


def test_option_errors(swift, container, tmp_path):
    env = swift.creds_env()
    fails(["-o", "attr_timeout=soon", container, str(tmp_path)], env,
          "invalid value for option 'attr_timeout'")
    fails(["-o", "read_chunk=4Q", container, str(tmp_path)], env,
          "invalid value for option 'read_chunk'")
    # curl would read 0 as its default connect timeout, 300 s
    fails(["-o", "connect_timeout=0", container, str(tmp_path)], env,
          "invalid value for option 'connect_timeout'")
    fails(["-o", "bogus_option", container, str(tmp_path)], env, "unknown option 'bogus_option'")
    fails([container], env, "usage")
    p = run_swiftfs(["--version"], {})
    assert p.returncode == 0 and p.stdout.startswith("swiftfs ")
    p = run_swiftfs(["--help"], {})
    assert p.returncode == 0 and "credentials=FILE" in p.stdout


def test_fstab_words_accepted(swift, container, mount):
    m = mount(container, opts=["_netdev", "nofail", "auto", "noauto", "user", "users",
                               "x-systemd.automount", "x-systemd.mount-timeout=30", "ro"])
    assert os.listdir(m.path) == []


def test_foreground_lines_carry_their_priority_for_the_journal(swift, tmp_path):
    """swiftfs -f under systemd (stderr is the journal: JOURNAL_STREAM names
    it) prefixes each line with its syslog priority, so journalctl -p err
    finds the errors; on any other stderr the lines are as before."""
    from conftest import swiftfs_bin
    err = tmp_path / "stderr"
    with open(err, "w") as f:
        st = os.fstat(f.fileno())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "OS_"))}
        env.update(swift.creds_env(), JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        p = subprocess.run([swiftfs_bin(), "-f", "-o", "log_level=debug",
                            "no-such-container-xyz", str(tmp_path)],
                           env=env, stdout=subprocess.PIPE, stderr=f, stdin=subprocess.DEVNULL,
                           timeout=60)
    assert p.returncode != 0
    lines = err.read_text().splitlines()
    assert lines and lines[0].startswith("<"), lines
    assert any(l.startswith("<3>swiftfs: ") and "not found (HTTP 404)" in l for l in lines), lines
    assert any(l.startswith("<7>debug: authenticated as") for l in lines), lines
    # a stderr that is not the journal (the variable names another file)
    r = run_swiftfs(["-f", "no-such-container-xyz", str(tmp_path)],
                    dict(swift.creds_env(), JOURNAL_STREAM="1:1"))
    assert r.stderr.startswith("swiftfs"), r.stderr
