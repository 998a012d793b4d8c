"""The hidden, read-only versions tree (.versions/<path>/<version>): object
versioning (X-Versions-Enabled, JSON ?versions listings) and the legacy
X-History-Location / X-Versions-Location archives; restore by cp."""
import errno
import os
import shutil
import subprocess
import time

import pytest

import conftest


def versions_of(m, *path):
    d = m.p(".versions", *path)
    names = sorted(os.listdir(d))
    out = []
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            out.append(f.read())
    return names, out


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def test_object_versioning_tree_and_restore(container, conn, mount):
    m = mount(container, opts=["entry_timeout=0"])
    os.setxattr(m.path, "user.swift.versions", b"true")
    assert conn.head_container(container)["x-versions-enabled"] == "True"
    os.makedirs(m.p("dir"))
    for i in range(3):
        write(m.p("dir", "a.txt"), b"version %d\n" % i)
    write(m.p("b.txt"), b"bee\n")
    # hidden from readdir, reachable by path
    assert ".versions" not in os.listdir(m.path)
    assert os.path.isdir(m.p(".versions"))
    assert sorted(os.listdir(m.p(".versions"))) == ["b.txt", "dir"]
    assert os.listdir(m.p(".versions", "dir")) == ["a.txt"]
    names, bodies = versions_of(m, "dir", "a.txt")
    assert bodies == [b"version 0\n", b"version 1\n", b"version 2\n"]
    # the names are Swift's version ids
    _, listing = conn.get_container(container, query_string="versions")
    ids = sorted(o["version_id"] for o in listing if o["name"] == "dir/a.txt")
    assert names == ids
    st = os.stat(m.p(".versions", "dir", "a.txt", names[0]))
    assert st.st_size == len(b"version 0\n") and st.st_mode & 0o222 == 0
    # deleted: the versions stay
    os.unlink(m.p("dir", "a.txt"))
    assert not os.path.exists(m.p("dir", "a.txt"))
    assert versions_of(m, "dir", "a.txt")[1] == bodies
    # restore by cp
    cp(m.p(".versions", "dir", "a.txt", names[1]), m.p("dir", "a.txt"))
    assert conn.get_object(container, "dir/a.txt")[1] == b"version 1\n"
    with open(m.p("dir", "a.txt"), "rb") as f:
        assert f.read() == b"version 1\n"
    # the restore is one more version
    assert len(versions_of(m, "dir", "a.txt")[0]) == 4
    # read-only
    v = m.p(".versions", "dir", "a.txt", names[0])
    for fn, args in ((open, (v, "wb")), (os.unlink, (v,)), (os.mkdir, (m.p(".versions", "x"),)),
                     (os.rename, (v, m.p("stolen"))), (os.chmod, (v, 0o777)),
                     (os.setxattr, (v, "user.x", b"1")), (shutil.rmtree, (m.p(".versions"),))):
        with pytest.raises(OSError) as ei:
            fn(*args)
        assert ei.value.errno in (errno.EROFS, errno.EXDEV), (fn, ei.value)
    # no xattrs in the tree, and getfattr says so quietly
    for q in (m.p(".versions"), m.p(".versions", "dir", "a.txt"), v):
        p = subprocess.run(["getfattr", "-d", "-m", "-", q], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        assert p.returncode == 0 and p.stdout == "" and p.stderr == "", (q, p)
    assert err_lookup(m.p(".versions", "nothing")) == errno.ENOENT
    assert err_lookup(m.p(".versions", "dir", "a.txt", "12345")) == errno.ENOENT
    # a file called like the tree cannot be made
    with pytest.raises(OSError):
        write(m.p(".versions"), b"x")
    # a prefix mount shows the versions below its prefix, relative to it
    mp = mount(container + "/dir", opts=["entry_timeout=0"])
    assert os.listdir(mp.p(".versions")) == ["a.txt"]
    assert len(os.listdir(mp.p(".versions", "a.txt"))) == 4


def cp(src, dst):
    p = subprocess.run(["cp", src, dst], stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr


def err_lookup(p):
    with pytest.raises(OSError) as ei:
        os.stat(p)
    return ei.value.errno


def test_versions_of_dlos_and_symlinks_have_their_bytes(container, conn, mount):
    """The versions listing says 0 bytes for a DLO manifest and a symlink;
    reading such a version gives its segments' or its target's bytes, and
    stat says their size."""
    conn.post_container(container, {"X-Versions-Enabled": "true"})
    conn.put_object(container, "seg/1", b"first part,")
    conn.put_object(container, "seg/2", b" second part")
    conn.put_object(container, "dlo", b"",
                    headers={"X-Object-Manifest": container + "/seg/"})
    conn.put_object(container, "dlo", b"plain now\n")
    conn.put_object(container, "target", b"the target's bytes")
    conn.put_object(container, "ln", b"",
                    headers={"X-Symlink-Target": container + "/target"})
    conn.put_object(container, "ln", b"plain link\n")
    conn.put_object(container, "empty", b"")
    _, listing = conn.get_container(container, query_string="versions")
    old = {o["name"]: o for o in listing if not o.get("is_latest")}
    assert old["dlo"]["bytes"] == 0 and old["ln"]["bytes"] == 0  # what the tree starts from
    m = mount(container)
    names = sorted(os.listdir(m.p(".versions", "ln")))
    # stat first, before any read
    assert os.stat(m.p(".versions", "ln", names[0])).st_size == len(b"the target's bytes")
    assert versions_of(m, "ln")[1] == [b"the target's bytes", b"plain link\n"]
    names, bodies = versions_of(m, "dlo")
    assert bodies == [b"first part, second part", b"plain now\n"]
    assert os.stat(m.p(".versions", "dlo", names[0])).st_size == len(bodies[0])
    assert subprocess.run(["ls", "-l", m.p(".versions", "dlo")], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.count(" %d " % len(bodies[0])) == 1
    # an empty file is still empty
    e = m.p(".versions", "empty")
    assert [os.stat(os.path.join(e, n)).st_size for n in os.listdir(e)] == [0]
    assert versions_of(m, "empty")[1] == [b""]


def test_everyday_operations_in_a_versioned_container(container, conn, mount):
    """Under object versioning every name is a link Swift keeps to the
    current version: chmod, touch, xattrs, renames and symlinks act on
    the file, not on that link, and a large file's segments outlive its
    overwrite and its deletion, so every version stays readable."""
    conn.post_container(container, {"X-Versions-Enabled": "true"})
    m = mount(container, opts=["segment_size=1M", "entry_timeout=0", "attr_timeout=0"])
    write(m.p("a.txt"), b"alpha\n")
    os.chmod(m.p("a.txt"), 0o640)
    os.utime(m.p("a.txt"), (1000000000, 1000000000))
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"alpha\n"
    st = os.stat(m.p("a.txt"))
    assert st.st_mode & 0o777 == 0o640 and st.st_mtime == 1000000000 and st.st_size == 6
    assert conn.get_object(container, "a.txt")[1] == b"alpha\n"
    etag = conn.head_object(container, "a.txt")["etag"]
    assert os.getxattr(m.p("a.txt"), "user.swift.etag").decode() == etag
    os.setxattr(m.p("a.txt"), "user.swift.meta.color", b"red")
    assert os.getxattr(m.p("a.txt"), "user.swift.meta.color") == b"red"
    assert conn.get_object(container, "a.txt")[1] == b"alpha\n"
    # a DLO keeps its manifest through an xattr change
    conn.put_object(container, "seg/1", b"one,")
    conn.put_object(container, "seg/2", b"two")
    conn.put_object(container, "dlo", b"", headers={"X-Object-Manifest": container + "/seg/"})
    assert os.getxattr(m.p("dlo"), "user.swift.manifest").decode() == "dlo:%s/seg/" % container
    os.setxattr(m.p("dlo"), "user.swift.meta.k", b"v")
    assert conn.get_object(container, "dlo")[1] == b"one,two"
    # renames of a file and of a symlink
    os.rename(m.p("a.txt"), m.p("b.txt"))
    with open(m.p("b.txt"), "rb") as f:
        assert f.read() == b"alpha\n"
    os.symlink("b.txt", m.p("ln"))
    assert os.readlink(m.p("ln")) == "b.txt"
    os.rename(m.p("ln"), m.p("ln2"))
    assert os.readlink(m.p("ln2")) == "b.txt"
    with open(m.p("ln2"), "rb") as f:
        assert f.read() == b"alpha\n"
    # a large file: renamed, overwritten, deleted; every version reads whole
    big1, big2 = os.urandom(3 * 1024 * 1024 + 5), os.urandom(2 * 1024 * 1024 + 7)
    write(m.p("big"), big1)
    assert conn.head_object(container, "big").get("x-static-large-object") == "True"
    os.rename(m.p("big"), m.p("big2"))
    write(m.p("big2"), big2)
    os.unlink(m.p("big2"))
    bodies = [b for b in versions_of(m, "big2")[1] if b]
    assert bodies == [big1, big2]
    assert [b for b in versions_of(m, "big")[1] if b] == [big1]


def slo_stamps(conn, container, name):
    """The uploads (stamps) whose segments of name are in <container>_segments."""
    try:
        _, segs = conn.get_container(container + "_segments", prefix=name + "/slo/")
    except conftest.swiftclient.ClientException:
        return set()
    return {s["name"].split("/")[2] for s in segs}


def test_large_file_versions_while_versioning_is_suspended(container, conn, mount):
    """Object versioning switched off again keeps the versions made while
    it was on: an overwrite and an rm through the mount leave the
    segments those versions use."""
    m = mount(container, opts=["segment_size=1M", "entry_timeout=0", "attr_timeout=0"])
    os.setxattr(m.path, "user.swift.versions", b"true")
    big1 = os.urandom(2 * 1024 * 1024 + 3)
    write(m.p("big"), big1)
    os.setxattr(m.path, "user.swift.versions", b"false")
    assert conn.head_container(container)["x-versions-enabled"] == "False"
    write(m.p("big"), os.urandom(1024 * 1024 + 9))
    os.unlink(m.p("big"))
    _, listing = conn.get_container(container, query_string="versions")
    vid = [o["version_id"] for o in listing
           if o["name"] == "big" and o["bytes"] == len(big1)][0]
    assert conn.get_object(container, "big", query_string="version-id=%s" % vid)[1] == big1


def test_stack_mode_rm_of_a_large_file(container, conn, archive, mount):
    """X-Versions-Location (stack): an overwrite archives the old
    manifest, whose segments stay; an rm deletes the current version for
    good (its segments go with it) and brings the archived one back."""
    conn.post_container(container, {"X-Versions-Location": archive})
    m = mount(container, opts=["segment_size=1M", "entry_timeout=0", "attr_timeout=0"])
    big1, big2 = os.urandom(2 * 1024 * 1024 + 3), os.urandom(2 * 1024 * 1024 + 5)
    write(m.p("big"), big1)
    first = slo_stamps(conn, container, "big")
    write(m.p("big"), big2)
    assert len(slo_stamps(conn, container, "big")) == 2
    os.unlink(m.p("big"))
    assert conn.get_object(container, "big")[1] == big1   # the archived one is back
    assert slo_stamps(conn, container, "big") == first   # the removed one's are gone


def test_legacy_history_location(container, conn, archive, mount):
    conn.post_container(container, {"X-History-Location": archive})
    for i in range(2):
        conn.put_object(container, "h.txt", b"old %d" % i)
    conn.put_object(container, "h.txt", b"current")
    conn.delete_object(container, "h.txt")
    conn.put_object(container, "sub/s.txt", b"s1")
    conn.put_object(container, "sub/s.txt", b"s2")
    # archive names that no file name can hold: a timestamp with '/',
    # empty, "." or "..", and a path component "." or "..": left out,
    # the rest of the folder still lists
    for bad in ("005h.txt/1/2", "005h.txt/", "005h.txt/.", "005h.txt/..",
                "009sub/./x.t/1", "00asub/../x.t/1", "004../x/1"):
        conn.put_object(archive, bad, b"hostile")
    m = mount(container, opts=["entry_timeout=0"])
    assert sorted(os.listdir(m.p(".versions"))) == ["h.txt", "sub"]
    assert os.listdir(m.p(".versions", "sub")) == ["s.txt"]
    names, bodies = versions_of(m, "h.txt")
    assert bodies == [b"old 0", b"old 1", b"current"]
    assert versions_of(m, "sub", "s.txt")[1] == [b"s1"]
    cp(m.p(".versions", "h.txt", names[1]), m.p("h.txt"))
    assert conn.get_object(container, "h.txt")[1] == b"old 1"


def test_legacy_versions_location(container, conn, archive, mount):
    m = mount(container, opts=["entry_timeout=0"])
    os.setxattr(m.path, "user.swift.versions_location", archive.encode())
    for i in range(3):
        write(m.p("v.txt"), b"v%d" % i)
    names, bodies = versions_of(m, "v.txt")
    assert bodies == [b"v0", b"v1"]  # the archive holds the overwritten ones
    with open(m.p("v.txt"), "rb") as f:
        assert f.read() == b"v2"


def test_no_versioning_is_an_empty_tree(container, conn, mount):
    conn.put_object(container, "f", b"x")
    m = mount(container)
    assert os.listdir(m.p(".versions")) == []
    assert err_lookup(m.p(".versions", "f")) == errno.ENOENT


def test_a_real_versions_folder_is_hidden_from_listings_too(container, conn, mount):
    """A folder of real objects named as the tree, at the root: a lookup
    finds the tree, and the root's listing must not show the folder (with
    readdirplus, the listing handed the kernel the real folder's inode, so
    `.versions/` then listed and wrote into the real folder)."""
    conn.put_object(container, ".versions/mine.txt", b"mine")
    conn.put_object(container, "f", b"x")
    m = mount(container, opts=["entry_timeout=30", "attr_timeout=30"])
    assert sorted(os.listdir(m.path)) == ["f"]
    subprocess.run(["ls", "-la", m.path], check=True, capture_output=True)  # readdirplus
    assert os.listdir(m.p(".versions")) == []          # the tree: no versioning here
    assert err_lookup(m.p(".versions", "mine.txt")) == errno.ENOENT
    with pytest.raises(OSError) as ei:
        write(m.p(".versions", "new.txt"), b"no")
    assert ei.value.errno == errno.EROFS
    # reachable through the API, untouched
    assert conn.get_object(container, ".versions/mine.txt")[1] == b"mine"


def test_versions_dir_option(container, conn, mount, tmp_path):
    conn.post_container(container, {"X-Versions-Enabled": "true"})
    conn.put_object(container, "f", b"1")
    conn.put_object(container, "f", b"2")
    m = mount(container, opts=["versions_dir=.snap"])
    assert len(os.listdir(m.p(".snap", "f"))) == 2
    assert err_lookup(m.p(".versions")) == errno.ENOENT
    for opt in ("versions_dir=", "noversions_dir"):
        m2 = mount(container, opts=[opt])
        assert err_lookup(m2.p(".versions")) == errno.ENOENT
    # a real object of that name is reachable once the tree is off
    conn.put_object(container, ".versions", b"mine")
    m3 = mount(container, opts=["noversions_dir"])
    with open(m3.p(".versions"), "rb") as f:
        assert f.read() == b"mine"
    p = conftest.run_swiftfs(["-f", "-o", "versions_dir=a/b", container, str(tmp_path)],
                             env=conftest.Swift("main", 1).creds_env())
    assert p.returncode != 0 and "versions_dir" in p.stderr
