"""Account mounts (source "/"): containers are the top-level folders,
mkdir/rmdir create and delete containers, container xattrs apply to each
folder, and the account listing is paginated."""
import errno
import json
import os
import subprocess
import time
import urllib.parse
import uuid

import pytest

import conftest
from conftest import drop_caches, proxied_env


def new_name():
    return "acct-" + uuid.uuid4().hex[:10]


@pytest.fixture
def two_containers(conn):
    names = [new_name(), new_name()]
    for n in names:
        conn.put_container(n)
    yield names
    for n in names:
        conftest.delete_container(conn, n)


def test_containers_are_folders(two_containers, conn, mount):
    a, b = two_containers
    conn.put_object(a, "dir/x.txt", b"in a\n")
    conn.put_object(b, "y.txt", b"in b\n")
    m = mount("/")
    top = os.listdir(m.path)
    assert a in top and b in top
    assert os.listdir(m.p(a)) == ["dir"]
    with open(m.p(a, "dir", "x.txt"), "rb") as f:
        assert f.read() == b"in a\n"
    # write through a container folder
    with open(m.p(b, "new.txt"), "wb") as f:
        f.write(b"written\n")
    assert conn.get_object(b, "new.txt")[1] == b"written\n"
    # inode numbers are distinct across containers (find, du, cp -a rely on it)
    inos = {os.stat(p).st_ino for p in (m.p(a), m.p(b), m.p(a, "dir"), m.p(a, "dir", "x.txt"),
                                        m.p(b, "y.txt"), m.p(b, "new.txt"))}
    assert len(inos) == 6
    # mv between containers copies (rename is EXDEV there)
    subprocess.run(["mv", m.p(a, "dir", "x.txt"), m.p(b, "moved.txt")], check=True)
    assert conn.get_object(b, "moved.txt")[1] == b"in a\n"
    with pytest.raises(conftest.swiftclient.ClientException):
        conn.head_object(a, "dir/x.txt")
    # only folders in the root
    with pytest.raises(OSError) as ei:
        open(m.p("file-in-root"), "wb")
    assert ei.value.errno == errno.EPERM
    with pytest.raises(OSError) as ei:
        os.rename(m.p(a), m.p(a + "-renamed"))
    assert ei.value.errno == errno.EPERM
    assert not os.path.exists(m.p("no-such-container-" + uuid.uuid4().hex[:6]))
    assert os.statvfs(m.path).f_bsize == 4096
    # ls -l of the account makes no per-container core (threads, /info)
    out = subprocess.run(["ls", "-l", m.path], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    assert len(out.splitlines()) >= 3
    m.unmount()
    assert "account mount: 2 container(s) used" in m.log(), m.log()[-1000:]


def test_mkdir_rmdir_with_policy(conn, mount):
    name = new_name()
    m = mount("/", opts=["storage_policy=Policy-0"])
    try:
        os.mkdir(m.p(name))
        h = conn.head_container(name)
        assert h["x-storage-policy"] == "Policy-0"
        assert name in os.listdir(m.path)
        with pytest.raises(FileExistsError):
            os.mkdir(m.p(name))
        with open(m.p(name, "f"), "wb") as f:
            f.write(b"x")
        with pytest.raises(OSError) as ei:
            os.rmdir(m.p(name))
        assert ei.value.errno == errno.ENOTEMPTY
        os.unlink(m.p(name, "f"))
        os.rmdir(m.p(name))
        with pytest.raises(conftest.swiftclient.ClientException) as ce:
            conn.head_container(name)
        assert ce.value.http_status == 404
        assert name not in os.listdir(m.path)
    finally:
        conftest.delete_container(conn, name)
    # a policy the cluster does not have: Swift refuses, nothing is made
    m2 = mount("/", opts=["storage_policy=NoSuchPolicy"])
    with pytest.raises(OSError) as ei:
        os.mkdir(m2.p(name))
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(conftest.swiftclient.ClientException):
        conn.head_container(name)
    assert "NoSuchPolicy" in m2.log() or "400" in m2.log()


def test_rmdir_then_mkdir_while_the_folder_is_held_open(conn, mount):
    """A shell whose working folder is a container folder keeps the kernel's
    inode of it. rmdir, then mkdir of the same name: the new folder must be
    a new inode for the kernel, not the dead one (same number, same
    generation), in which every name answered ENOENT."""
    name = new_name()
    m = mount("/")
    try:
        os.mkdir(m.p(name))
        fd = os.open(m.p(name), os.O_RDONLY | os.O_DIRECTORY)   # as a shell's cwd
        try:
            os.rmdir(m.p(name))
            os.mkdir(m.p(name))
            with open(m.p(name, "f"), "wb") as f:
                f.write(b"in the new one")
            assert os.listdir(m.p(name)) == ["f"]
        finally:
            os.close(fd)
        assert conn.get_object(name, "f")[1] == b"in the new one"
    finally:
        conftest.delete_container(conn, name)


def test_a_user_without_the_account_listing_reaches_shared_containers(swift, conn, mount):
    """test:tester2 holds no role on the account: Swift refuses it the
    account listing (403), but a container's ACL can still grant it that
    container. Its folder is reachable by name; the root says EACCES."""
    name = new_name()
    conn.put_container(name, headers={"X-Container-Read": "test:tester2",
                                      "X-Container-Write": "test:tester2"})
    try:
        conn.put_object(name, "shared.txt", b"for tester2")
        m = mount("/", use_env_creds=False, env=swift.creds_env("test:tester2", "testing2"))
        with pytest.raises(OSError) as ei:
            os.listdir(m.path)
        assert ei.value.errno == errno.EACCES
        with open(m.p(name, "shared.txt"), "rb") as f:
            assert f.read() == b"for tester2"
        assert os.listdir(m.p(name)) == ["shared.txt"]
        with open(m.p(name, "back.txt"), "wb") as f:
            f.write(b"from tester2")
        assert conn.get_object(name, "back.txt")[1] == b"from tester2"
        assert not os.path.exists(m.p(new_name()))       # no such container: ENOENT
    finally:
        conftest.delete_container(conn, name)


def test_one_cache_size_bound_for_all_containers(two_containers, conn, mount, tmp_path):
    """cache_size bounds the mount's blocks on disk, whatever number of
    container folders are read (each container had a cache of its own,
    each with that bound); blocks an earlier version kept per container
    are removed when the folder is first used."""
    a, b = two_containers
    mib = 1024 * 1024
    data = {c: os.urandom(3 * mib) for c in (a, b)}
    for c in (a, b):
        conn.put_object(c, "big", data[c])
    cache = tmp_path / "cache"
    old = cache / "account" / a / "blocks" / "ab"
    old.mkdir(parents=True)
    (old / "0123.0").write_bytes(b"x" * 100000)

    def block_bytes():
        return sum(os.path.getsize(os.path.join(r, f))
                   for r, _, fs in os.walk(cache) if "blocks" in r.split(os.sep)
                   for f in fs)

    m = mount("/", opts=["cache_dir=" + str(cache), "block_size=1M", "cache_size=4M"])
    for c in (a, b):
        with open(m.p(c, "big"), "rb") as f:
            assert f.read() == data[c], c
        assert block_bytes() <= 4 * mib + 64 * 1024, c
    assert not (cache / "account" / a / "blocks").exists()
    m.unmount()
    assert block_bytes() <= 4 * mib + 64 * 1024


def test_container_xattrs_and_versions_on_folders(two_containers, conn, mount, swift):
    a, _ = two_containers
    conn.put_object(a, "pub.txt", b"public\n")
    m = mount("/")
    os.setxattr(m.p(a), "user.swift.read_acl", b".r:*")
    assert conn.head_container(a)["x-container-read"] == ".r:*"
    assert os.getxattr(m.p(a), "user.swift.storage_policy") == b"Policy-0"
    assert os.getxattr(m.p(a), "user.swift.object_count") == b"1"
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "%s/v1/AUTH_test/%s/pub.txt" % (swift.url, a)],
                       stdout=subprocess.PIPE, text=True, check=True)
    assert p.stdout == "200"
    os.removexattr(m.p(a), "user.swift.read_acl")
    assert "x-container-read" not in conn.head_container(a)
    # no xattrs on the account root itself
    assert os.listxattr(m.path) == []
    with pytest.raises(OSError) as ei:
        os.setxattr(m.path, "user.x", b"1")
    assert ei.value.errno in (errno.ENOTSUP, errno.EOPNOTSUPP)
    # the versions tree of each container folder
    os.setxattr(m.p(a), "user.swift.versions", b"true")
    for i in range(2):
        with open(m.p(a, "v.txt"), "wb") as f:
            f.write(b"v%d" % i)
    time.sleep(5.5)  # the versions listing is cached for entry_timeout
    assert len(os.listdir(m.p(a, ".versions", "v.txt"))) == 2


def account_row(swift, account, container):
    etc = os.path.join(swift.dir, "etc")
    code = ("import json,sys\n"
            "from swift.common import utils\n"
            "utils.set_swift_dir(sys.argv[1])\n"
            "from swift.common.ring import Ring\n"
            "part, nodes = Ring(sys.argv[1], ring_name='account').get_nodes(sys.argv[2])\n"
            "print(json.dumps([part, nodes[0]['port'], nodes[0]['device']]))\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code, etc, account],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    return json.loads(out)


def test_forgetting_container_folders_makes_no_core(conn, mount):
    """The kernel forgetting the container folders it looked up (memory
    pressure, here drop_caches) must not start a core for each."""
    names = [new_name() for _ in range(4)]
    try:
        for n in names:
            conn.put_container(n)
        m = mount("/")
        for n in names:
            assert os.path.isdir(m.p(n))
        for _ in range(3):
            drop_caches(2)
            time.sleep(0.3)
        m.unmount()
        assert "account mount: 0 container(s) used" in m.log(), m.log()[-1500:]
    finally:
        for n in names:
            conftest.delete_container(conn, n)


def test_rmdir_whose_answer_was_lost_succeeds(swift, conn, proxy, mount):
    """The container's DELETE went through but its answer was lost: the
    retry finds no container, and rmdir reports the success it was."""
    name = new_name()
    m = mount("/", use_env_creds=False, env=proxied_env(swift, proxy))
    try:
        os.mkdir(m.p(name))
        proxy.add_rule(method="DELETE", path="/%s$" % name, action="lose_answer", times=1)
        os.rmdir(m.p(name))
        with pytest.raises(conftest.swiftclient.ClientException):
            conn.head_container(name)
        assert [e["status"] for e in proxy.log() if e["method"] == "DELETE"] == [204, 404]
    finally:
        conftest.delete_container(conn, name)


def test_account_listing_paginates(swift, mount):
    """10,050 containers in the account test2 (rows recorded through the
    account server's container-update API, as container servers do; kept
    between runs): all are listed, past Swift's 10,000-row page."""
    import http.client
    import threading
    n = 10050
    conn2 = swift.conn(user="test2:tester3", key="testing3")
    url, _ = conn2.get_auth()
    account = url.rsplit("/", 1)[1]
    hdr = conn2.head_account()
    if int(hdr.get("x-account-container-count", 0)) < n:
        conn2.put_container("pg-00000")  # a real one: the account database exists
        part, port, dev = account_row(swift, account, None)
        errors = []

        def worker(chunk):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for i in chunk:
                if i == 0:
                    continue
                path = "/%s/%s/%s/%s" % (dev, part, account, urllib.parse.quote("pg-%05d" % i))
                c.request("PUT", path, headers={
                    "X-Put-Timestamp": "%.5f" % time.time(), "X-Delete-Timestamp": "0",
                    "X-Object-Count": "0", "X-Bytes-Used": "0",
                    "X-Backend-Storage-Policy-Index": "0", "Content-Length": "0"})
                r = c.getresponse()
                r.read()
                if r.status // 100 != 2:
                    errors.append((i, r.status))
            c.close()

        ts = [threading.Thread(target=worker, args=(range(k, n, 8),)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors[:5]
    m = mount("/", env=swift.creds_env("test2:tester3", "testing3"))
    names = [x for x in os.listdir(m.path) if x.startswith("pg-")]
    assert len(names) == n
    assert "pg-00000" in names and "pg-10049" in names


def test_rmdir_of_a_container_with_a_file_not_uploaded_yet_is_enotempty(swift, conn, mount):
    """With -o writeback a file closed in a container folder is not in Swift
    for a moment: rmdir of the folder must not delete the container under
    it (the file would never land)."""
    name = "t-" + uuid.uuid4().hex[:12]
    conn.put_container(name)
    try:
        m = mount("/", opts=["writeback"])
        with open(os.path.join(m.path, name, "f"), "wb") as f:
            f.write(b"closed data\n")
        with pytest.raises(OSError) as ei:
            os.rmdir(os.path.join(m.path, name))
        assert ei.value.errno == errno.ENOTEMPTY
        t0 = time.time()
        while time.time() - t0 < 20:
            try:
                assert conn.get_object(name, "f")[1] == b"closed data\n"
                break
            except Exception:
                time.sleep(0.2)
        assert conn.get_object(name, "f")[1] == b"closed data\n"
    finally:
        conftest.delete_container(conn, name)


def test_kill9_then_remount_uploads_without_touching_the_folder(swift, conn, proxy, mount,
                                                                tmp_path):
    """What an account mount left pending (a writeback record, an SLO
    journal) is uploaded by the next account mount when it starts, not
    when the container's folder is next used, which may be never."""
    from test_writeback import kill9
    name = "t-" + uuid.uuid4().hex[:12]
    conn.put_container(name)
    cache = str(tmp_path / "cache")
    try:
        m = mount("/", opts=["writeback", "cache_dir=" + cache], use_env_creds=False,
                  env=conftest.proxied_env(swift, proxy))
        proxy.add_rule(method="PUT", action="status", status=503, times=-1)  # Swift "down"
        with open(os.path.join(m.path, name, "f"), "wb") as f:
            f.write(b"closed before the crash\n")
        assert os.listdir(os.path.join(cache, "account", name, "writeback"))
        kill9(m)
        with pytest.raises(conftest.swiftclient.ClientException):
            conn.head_object(name, "f")
        m2 = mount("/", opts=["cache_dir=" + cache])
        # nothing under the mount is touched
        assert conn.get_object(name, "f")[1] == b"closed before the crash\n"
        assert os.listdir(os.path.join(cache, "account", name, "writeback")) == []
        m2.unmount()
        assert "left pending by an earlier mount" in m2.log()
    finally:
        conftest.delete_container(conn, name)
