"""Mount options that shape what users see: owner, mode, allow_other, and
the debug log, which must show HTTP traffic without any secret."""
import contextlib
import os
import stat
import subprocess
import tempfile

import pytest


def test_uid_gid_umask(container, conn, mount):
    conn.put_object(container, "f", b"x")
    conn.put_object(container, "d/g", b"y")
    m = mount(container, opts=["uid=1234", "gid=5678", "umask=027"])
    st = os.stat(m.p("f"))
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert stat.S_IMODE(st.st_mode) == 0o640
    st = os.stat(m.p("d"))
    assert stat.S_IMODE(st.st_mode) == 0o750 and stat.S_ISDIR(st.st_mode)


def as_nobody(*cmd):
    return subprocess.run(["runuser", "-u", "nobody", "--"] + list(cmd),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def public_dirs():
    """Mount points another user can reach (pytest's tmp folders are 0700)."""
    made = []

    def make():
        d = tempfile.mkdtemp(prefix="swiftfs-ao-", dir="/tmp")
        os.chmod(d, 0o755)
        made.append(d)
        return d
    yield make
    for d in made:
        with contextlib.suppress(OSError):
            os.rmdir(d)


def test_allow_other(container, conn, mount, public_dirs):
    conn.put_object(container, "f", b"shared")
    private = mount(container, mp=public_dirs())
    p = as_nobody("cat", private.p("f"))
    assert p.returncode != 0 and "Permission denied" in p.stderr
    shared = mount(container, opts=["allow_other"], mp=public_dirs())
    p = as_nobody("cat", shared.p("f"))
    assert p.returncode == 0 and p.stdout == "shared", p.stderr


def test_debug_log_masks_secrets(swift, container, conn, mount):
    conn.put_object(container, "f", b"x")
    url, token = conn.get_auth()
    m = mount(container, args=["-d"], use_env_creds=False,
              env={"OS_STORAGE_URL": url, "OS_AUTH_TOKEN": token})
    assert os.listdir(m.path) == ["f"]
    with open(m.p("f"), "rb") as f:
        f.read()
    m.unmount()
    log = m.log()
    assert "User-Agent: swiftfs/" in log
    assert "X-Auth-Token: ****" in log
    assert token not in log


def test_tempauth_key_never_logged(swift, container, mount):
    m = mount(container, args=["-d"])
    os.listdir(m.path)
    m.unmount()
    log = m.log()
    assert "X-Auth-Key: ****" in log
    assert "testing" not in log.replace("test:tester", "")


@pytest.mark.parametrize("opt,want_kb", [(None, None), ("kernel_read_ahead=4M", 4096),
                                         ("kernel_read_ahead=1M", 1024)])
def test_kernel_read_ahead_of_the_mount(container, conn, mount, opt, want_kb):
    """The mount's bdi read_ahead_kb: the kernel's own by default, or as
    asked; reads still return the object's bytes."""
    data = os.urandom(3 * 1024 * 1024 + 7)
    conn.put_object(container, "o", data)
    m = mount(container, opts=[opt] if opt else [])
    dev = os.stat(m.path).st_dev
    with open("/sys/class/bdi/%d:%d/read_ahead_kb" % (os.major(dev), os.minor(dev))) as f:
        kb = int(f.read())
    if want_kb is None:
        assert kb == 128      # this kernel's default for a FUSE mount
    else:
        assert kb == want_kb
    with open(m.p("o"), "rb") as f:
        assert f.read() == data


def test_setuid_bits_and_devices_are_never_honoured(container, conn, mount):
    """Modes come from metadata anyone who can write the container sets:
    the mount is nosuid,nodev even when asked for suid,dev (mount.fuse3
    adds them to every fstab mount that does not say otherwise), and a
    setuid mode stored in Swift shows but gives no privilege."""
    conn.put_object(container, "tool", b"#!/bin/sh\nid -u\n",
                    headers={"X-Object-Meta-Mode": "4755"})
    m = mount(container, opts=["suid", "dev"])
    with open("/proc/self/mountinfo") as f:
        line = [l for l in f if l.split()[4] == m.path][0]
    flags = line.split()[5].split(",")
    assert "nosuid" in flags and "nodev" in flags, line
    assert os.stat(m.p("tool")).st_mode & 0o7777 == 0o4755
