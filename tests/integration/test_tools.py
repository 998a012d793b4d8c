"""The write path driven by real tools through real mounts: rsync, tar, git,
the zarr v3 store write idioms, python3-zarr (v2 API) and xarray. Every
result is checked through the mount (after a remount) and in Swift itself
with python-swiftclient.

Directory mtimes and modes are not stored by swiftfs, so tree comparisons
cover file contents, file modes, file mtimes and symlink targets only."""
import hashlib
import json
import os
import random
import shlex
import stat
import subprocess
import urllib.parse
import uuid

import pytest

SEG = 1 << 20
SEG_OPTS = ["segment_size=1M"]
# mtimes must survive to better than 1 s: swiftfs keeps microseconds
MTIME_TOL_NS = 1_000_000


# --------------------------------------------------------------- helpers

def run(cmd, cwd=None, env=None, input=None, timeout=120):
    """Run cmd; fail with its output when it exits non-zero."""
    p = subprocess.run(cmd, cwd=cwd, env=env, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if p.returncode != 0:
        pytest.fail("%s exited with %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(shlex.quote(str(c)) for c in cmd), p.returncode,
            p.stdout.decode(errors="replace")[-4000:], p.stderr.decode(errors="replace")[-4000:]))
    return p.stdout.decode(errors="replace")


def sh(script, timeout=120):
    """Run a bash pipeline with pipefail."""
    return run(["bash", "-o", "pipefail", "-c", script], timeout=timeout)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def build_tree(root, seed=11, big=True, links=True):
    """A tree like a user's: nested dirs, ~50 files of varied sizes (one of
    3 MiB + a bit when big), exec bits, old and fresh mtimes, symlinks with
    old mtimes (relative to files, to a dir, dangling, non-ASCII, one
    absolute), names with spaces and non-ASCII characters, an empty dir.
    Returns the list of file paths."""
    rnd = random.Random(seed)
    dirs = ["a", "a/b", "a/b/c", "d e", "ünï", "ünï/日本", "empty", "deep/1/2/3/4"]
    for d in dirs:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    sizes = [0, 1, 2, 17, 100, 511, 512, 4095, 4096, 4097, 65535, 65536, 65537,
             100_000, 250_000, SEG - 1, SEG, SEG + 1]
    files = []
    homes = ["", "a", "a/b", "a/b/c", "d e", "ünï", "ünï/日本", "deep/1/2/3/4"]
    for i in range(46):
        size = sizes[i] if i < len(sizes) else rnd.choice([0, 10, 300, 3000, 30000, 120000])
        home = homes[i % len(homes)]
        name = "f%02d.%s" % (i, rnd.choice(["txt", "bin", "dat", "py", "json"]))
        files.append((os.path.join(home, name) if home else name, size))
    files += [("d e/file with  spaces.txt", 1234), ("ünï/日本/naïve café €.txt", 5555),
              ("a/.hidden", 42), ("a/b/c/script.sh", 300)]
    if big:
        files.append(("a/big.bin", 3 * SEG + 12345))
    paths = []
    for i, (rel, size) in enumerate(files):
        p = os.path.join(root, rel)
        with open(p, "wb") as f:
            f.write(rnd.randbytes(size))
        mode = [0o644, 0o600, 0o755, 0o640, 0o700, 0o444, 0o750][i % 7]
        if rel.endswith(".sh"):
            mode = 0o755
        os.chmod(p, mode)
        if i % 3 == 0:      # an old mtime in whole seconds
            t = 1_000_000_000 + i * 86_400
            os.utime(p, ns=(t * 10**9, t * 10**9))
        elif i % 3 == 1:    # an old mtime with a fraction (microseconds)
            t = 1_200_000_000 * 10**9 + i * 86_400 * 10**9 + 250_000_000 + i * 1000
            os.utime(p, ns=(t, t))
        # else: the fresh mtime the file just got (nanoseconds)
        paths.append(rel)
    want_links = links
    in_a = os.path.basename(files[1][0])     # files[1] is in a/
    links = {"a/link-to-f": in_a,
             "a/b/up": "../" + in_a,
             "d e/dir link": "../a/b",
             "ünï/dangling ö": "nowhere/at all",
             "a/to-unicode": "../ünï/日本/naïve café €.txt",
             "a/absolute": "/etc/hostname",
             "deep/1/2/3/4/far": "../../../../a/big.bin" if big else "../../../../a/.hidden"}
    for i, (rel, target) in enumerate(links.items() if want_links else ()):
        p = os.path.join(root, rel)
        os.symlink(target, p)
        t = 1_100_000_000 + i * 3600    # old: rsync -a and tar -x set it (lutimes)
        os.utime(p, ns=(t * 10**9, t * 10**9), follow_symlinks=False)
    return paths


def snapshot(root):
    """{relpath: entry} for everything under root (lstat, no following)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = {"type": "l", "target": os.readlink(p), "lsize": st.st_size}
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = {"type": "d"}
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = sha(f.read())
                out[rel] = {"type": "f", "size": st.st_size, "sha": digest,
                            "mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns}
            else:
                out[rel] = {"type": "?%o" % st.st_mode}
    return out


def compare_trees(a, b, what, mtime_tol_ns=MTIME_TOL_NS):
    """Contents, file modes, file mtimes and symlink targets must match."""
    problems = []
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    if only_a:
        problems.append("missing in %s: %s" % (what, only_a))
    if only_b:
        problems.append("extra in %s: %s" % (what, only_b))
    for rel in sorted(set(a) & set(b)):
        x, y = a[rel], b[rel]
        if x["type"] != y["type"]:
            problems.append("%s: type %s != %s" % (rel, x["type"], y["type"]))
        elif x["type"] == "l" and x["target"] != y["target"]:
            problems.append("%s: symlink target %r != %r" % (rel, x["target"], y["target"]))
        elif x["type"] == "l" and y["lsize"] != len(os.fsencode(y["target"])):
            # POSIX: a symlink's st_size is its target's length (git compares it)
            problems.append("%s: symlink st_size %d, target %r has %d bytes"
                            % (rel, y["lsize"], y["target"], len(os.fsencode(y["target"]))))
        elif x["type"] == "f":
            if (x["size"], x["sha"]) != (y["size"], y["sha"]):
                problems.append("%s: contents differ (size %d vs %d)" % (rel, x["size"], y["size"]))
            if x["mode"] != y["mode"]:
                problems.append("%s: mode %o != %o" % (rel, x["mode"], y["mode"]))
            if abs(x["mtime_ns"] - y["mtime_ns"]) > mtime_tol_ns:
                problems.append("%s: mtime %d != %d (ns)" % (rel, x["mtime_ns"], y["mtime_ns"]))
    assert not problems, "%s differs from the source:\n  %s" % (what, "\n  ".join(problems))


def listing(conn, container, prefix=""):
    _, objs = conn.get_container(container, prefix=prefix, full_listing=True)
    return {o["name"]: o for o in objs}


def segments(conn, container):
    try:
        _, objs = conn.get_container(container + "_segments", full_listing=True)
    except Exception:  # noqa: BLE001 - no segment container yet
        return set()
    return {o["name"] for o in objs}


def expected_objects(snap, prefix):
    """Object names a tree at prefix/ should produce: files, symlinks and
    one directory marker per directory (and prefix itself)."""
    files = {prefix + "/" + r for r, e in snap.items() if e["type"] in ("f", "l")}
    dirs = {prefix + "/" + r for r, e in snap.items() if e["type"] == "d"} | {prefix}
    return files, dirs


def check_swift_tree(conn, container, snap, prefix):
    """The container holds exactly the tree: file data, symlinks, markers."""
    objs = listing(conn, container)
    files, dirs = expected_objects(snap, prefix)
    names = set(objs)
    assert names == files | dirs, ("missing in Swift: %s\nextra in Swift: %s"
                                   % (sorted((files | dirs) - names), sorted(names - files - dirs)))
    for d in dirs:
        assert objs[d]["content_type"] == "application/directory", (d, objs[d])
        assert objs[d]["bytes"] == 0, d
    for rel, e in snap.items():
        name = prefix + "/" + rel
        if e["type"] == "f":
            assert objs[name]["bytes"] == e["size"], name
        elif e["type"] == "l":
            h = conn.head_object(container, name, query_string="symlink=get")
            raw = h.get("x-object-meta-symlink-target")
            assert raw is not None, (name, h)
            # the exact target, percent-encoded or as raw UTF-8 bytes
            forms = {raw, urllib.parse.unquote(raw),
                     raw.encode("latin-1", "replace").decode("utf-8", "replace")}
            assert e["target"] in forms, (name, e["target"], raw)
            assert h.get("content-type", "").startswith("application/symlink"), (name, h)
            if not e["target"].startswith("/"):     # a target inside the container
                assert "x-symlink-target" in h, (name, h)


# ---------------------------------------------------------------- rsync

def test_rsync_round_trip(container, conn, mount, tmp_path):
    src = str(tmp_path / "src")
    build_tree(src)
    want = snapshot(src)
    m = mount(container, opts=SEG_OPTS)
    run(["rsync", "-a", src + "/", m.p("dst") + "/"], timeout=180)
    compare_trees(want, snapshot(m.p("dst")), "the mount (same mount)")

    # in Swift: exactly the files, symlinks and markers; the big file is an SLO
    check_swift_tree(conn, container, want, "dst")
    h = conn.head_object(container, "dst/a/big.bin")
    assert h.get("x-static-large-object") == "True", h
    assert int(h["content-length"]) == want["a/big.bin"]["size"]
    body = conn.get_object(container, "dst/a/big.bin")[1]
    assert sha(body) == want["a/big.bin"]["sha"]
    h = conn.head_object(container, "dst/a/b/c/script.sh")
    assert int(h["x-object-meta-mode"], 8) & 0o7777 == 0o755, h
    assert segments(conn, container), "no SLO segments were written"
    m.unmount()

    # copying a tree out with its stored mtimes and modes: exact_attrs
    # (the default takes ls -l's attributes from the listing, no HEAD)
    m2 = mount(container, opts=SEG_OPTS + ["exact_attrs"])
    local2 = str(tmp_path / "local2")
    run(["rsync", "-a", m2.p("dst") + "/", local2 + "/"], timeout=180)
    compare_trees(want, snapshot(local2), "the copy back out of a fresh mount")

    m2.unmount()

    # nothing changed: a second rsync, on a fresh mount (so that nothing
    # cached by the copy above plays a part), must not send any file data
    m3 = mount(container, opts=SEG_OPTS + ["exact_attrs"])
    seen = {}                   # what rsync's lstat calls will see on the mount
    for rel, e in want.items():
        if e["type"] == "f":
            st = os.lstat(m3.p("dst", rel))
            seen[rel] = (stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_size)
    out = run(["rsync", "-a", "--itemize-changes", src + "/", m3.p("dst") + "/"], timeout=180)
    sent = [line for line in out.splitlines() if line.startswith(">f")]
    if sent:
        detail = []
        for line in sent[:10]:
            rel = line.split(" ", 1)[1]
            e = want.get(rel, {})
            detail.append("%s   source: mode %o mtime_ns %s size %s; mount lstat before: "
                          "mode %o mtime_ns %s size %s"
                          % ((line, e.get("mode", 0), e.get("mtime_ns"), e.get("size"))
                             + seen.get(rel, (0, None, None))))
        pytest.fail("the second rsync re-sent %d of %d files:\n%s\nfull itemize output:\n%s"
                    % (len(sent), sum(e["type"] == "f" for e in want.values()),
                       "\n".join(detail), out))


def truncate_mtimes(root, unit_ns):
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                t = st.st_mtime_ns // unit_ns * unit_ns
                os.utime(p, ns=(t, t))


def whole_seconds(root):
    truncate_mtimes(root, 10**9)


def test_rsync_second_pass_without_symlinks(container, conn, mount, tmp_path):
    """rsync -a into the mount, remount, the same rsync again: no file data
    is sent (fresh files keep nanosecond mtimes, swiftfs stores
    microseconds). No symlinks: this part stands on its own."""
    src = str(tmp_path / "src")
    build_tree(src, big=False, links=False)
    m = mount(container, opts=SEG_OPTS)
    run(["rsync", "-a", src + "/", m.p("dst") + "/"], timeout=180)
    m.unmount()
    m2 = mount(container, opts=SEG_OPTS)
    out = run(["rsync", "-a", "--itemize-changes", src + "/", m2.p("dst") + "/"], timeout=180)
    sent = [line for line in out.splitlines() if line.startswith(">f")]
    assert not sent, "the second rsync re-sent files:\n" + out


# ------------------------------------------------------------------ tar

def tar_listing(text):
    """tar -tvf lines as comparable tuples; directory attributes and
    symlink dates (not stored) left out."""
    out = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        perms, owner, size, date, time_, rest = line.split(None, 5)
        rest = rest.rstrip("/")
        if perms.startswith("d"):
            out.add(("d", rest))
        elif perms.startswith("l"):
            out.add((perms, owner, rest))
        else:
            out.add((perms, owner, size, date, time_, rest))
    return out


def test_tar_extract_into_and_archive_out_of_the_mount(container, conn, mount, tmp_path):
    root = tmp_path / "srcroot"
    src = str(root / "tree")
    build_tree(src, seed=23)
    whole_seconds(src)      # what the default (GNU) tar format keeps
    want = snapshot(src)
    src_tar = str(tmp_path / "src.tar")
    run(["tar", "--sort=name", "-cf", src_tar, "-C", str(root), "tree"])
    src_list = tar_listing(run(["tar", "-tvf", src_tar]))

    m = mount(container, opts=SEG_OPTS)
    run(["tar", "-xf", src_tar, "-C", m.path], timeout=180)
    compare_trees(want, snapshot(m.p("tree")), "the tree tar extracted into the mount")
    check_swift_tree(conn, container, want, "tree")
    m.unmount()

    m2 = mount(container, opts=SEG_OPTS + ["exact_attrs"])
    mnt_list = tar_listing(sh("tar -cf - -C %s tree | tar -tvf -" % shlex.quote(m2.path)))
    assert mnt_list == src_list, ("tar listings differ\nonly in the source archive: %s\n"
                                  "only in the archive of the mount: %s"
                                  % (sorted(src_list - mnt_list), sorted(mnt_list - src_list)))
    out_tar = str(tmp_path / "out.tar")
    run(["tar", "-cf", out_tar, "-C", m2.path, "tree"], timeout=180)
    out = tmp_path / "out"
    out.mkdir()
    run(["tar", "-xf", out_tar, "-C", str(out)])
    compare_trees(want, snapshot(str(out / "tree")), "the tree extracted back out")


# ------------------------------------------------------------------ git

def git_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Test Author",
             GIT_AUTHOR_EMAIL="author@example.org", GIT_COMMITTER_NAME="Test Committer",
             GIT_COMMITTER_EMAIL="committer@example.org", LC_ALL="C")
    return e


def git(env, *args, date=None, timeout=120):
    e = env
    if date:
        e = dict(env, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return run(["git"] + list(args), env=e, timeout=timeout)


def test_git_clone_onto_the_mount(container, conn, mount, tmp_path):
    env = git_env(tmp_path)
    src = str(tmp_path / "repo")
    git(env, "init", "-q", "-b", "main", src)
    rnd = random.Random(99)
    os.makedirs(os.path.join(src, "lib", "deep"))
    with open(os.path.join(src, "README"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(src, "lib", "a.py"), "w") as f:
        f.write("print('a')\n" * 50)
    git(env, "-C", src, "add", "-A")
    git(env, "-C", src, "commit", "-q", "-m", "first", date="1600000000 +0000")
    with open(os.path.join(src, "lib", "deep", "blob.bin"), "wb") as f:
        f.write(rnd.randbytes(300_000))
    run_sh = os.path.join(src, "run.sh")
    with open(run_sh, "w") as f:
        f.write("#!/bin/sh\necho run\n")
    os.chmod(run_sh, 0o755)
    os.symlink("lib/a.py", os.path.join(src, "link"))
    git(env, "-C", src, "add", "-A")
    git(env, "-C", src, "commit", "-q", "-m", "second: binary, exec, symlink",
        date="1600000100 +0000")
    with open(os.path.join(src, "README"), "a") as f:
        f.write("more\n")
    os.unlink(os.path.join(src, "lib", "a.py"))
    git(env, "-C", src, "add", "-A")
    git(env, "-C", src, "commit", "-q", "-m", "third: edit, delete",
        date="1600000200 +0000")
    git(env, "-C", src, "tag", "-a", "v1", "-m", "tag v1", date="1600000300 +0000")
    src_log = git(env, "-C", src, "log", "--format=%H %s", "--all")

    m = mount(container, opts=SEG_OPTS)
    clone = m.p("clone")
    git(env, "clone", "-q", src, clone, timeout=180)
    git(env, "-C", clone, "fsck", "--full", "--strict", timeout=180)
    assert git(env, "-C", clone, "log", "--format=%H %s", "--all") == src_log
    assert git(env, "-C", clone, "status", "--porcelain") == ""
    assert os.readlink(os.path.join(clone, "link")) == "lib/a.py"
    assert os.stat(os.path.join(clone, "run.sh")).st_mode & 0o111 == 0o111

    # work in the clone on the mount: loose objects (tmp + link/rename),
    # index.lock and ref lock renames, then a repack
    with open(os.path.join(clone, "new.txt"), "w") as f:
        f.write("written on swiftfs\n")
    git(env, "-C", clone, "add", "new.txt")
    git(env, "-C", clone, "commit", "-q", "-m", "fourth: on the mount",
        date="1600000400 +0000")
    git(env, "-C", clone, "fsck", "--full", "--strict", timeout=180)
    git(env, "-C", clone, "repack", "-a", "-d", "-q", timeout=180)
    git(env, "-C", clone, "fsck", "--full", "--strict", timeout=180)
    clone_log = git(env, "-C", clone, "log", "--format=%H %s", "--all")
    assert clone_log.splitlines()[1:] == src_log.splitlines()
    assert clone_log.splitlines()[0].endswith(" fourth: on the mount")
    # a temporary file git left behind would show in Swift
    names = set(listing(conn, container, "clone/"))
    junk = [n for n in names if "tmp_obj_" in n or n.endswith(".lock") or "/tmp_" in n]
    assert not junk, junk
    m.unmount()

    m2 = mount(container, opts=SEG_OPTS)
    clone = m2.p("clone")
    git(env, "-C", clone, "fsck", "--full", "--strict", timeout=180)
    assert git(env, "-C", clone, "log", "--format=%H %s", "--all") == clone_log
    assert git(env, "-C", clone, "status", "--porcelain") == ""
    with open(os.path.join(clone, "lib", "deep", "blob.bin"), "rb") as f1, \
            open(os.path.join(src, "lib", "deep", "blob.bin"), "rb") as f2:
        assert f1.read() == f2.read()
    # and a second clone out of the mount, to local disk
    back = str(tmp_path / "back")
    git(env, "clone", "-q", "--no-local", clone, back, timeout=180)
    git(env, "-C", back, "fsck", "--full", "--strict")
    assert git(env, "-C", back, "log", "--format=%H %s", "--all").splitlines()[0] == \
        clone_log.splitlines()[0]


# ------------------------------------------------- zarr v3 write idioms

def test_zarr_v3_idiom_partial_then_replace(container, conn, mount):
    """zarr v3 LocalStore: write <key>.<uuid>.partial, os.replace() it onto
    the key (new key, then over an existing key)."""
    m = mount(container)
    rnd = random.Random(4)
    os.makedirs(m.p("arr.zarr", "c", "0"), exist_ok=True)
    for rel, data in [("arr.zarr/zarr.json", b'{"zarr_format": 3}'),
                      ("arr.zarr/c/0/0", rnd.randbytes(70_000)),
                      ("arr.zarr/c/0/0", rnd.randbytes(50_000)),      # overwrite
                      ("arr.zarr/c/0/1", b"")]:
        key = m.p(*rel.split("/"))
        partial = "%s.%s.partial" % (key, uuid.uuid4().hex)
        with open(partial, "wb") as f:
            f.write(data)
        os.replace(partial, key)
        assert not os.path.exists(partial)
        with open(key, "rb") as f:
            assert f.read() == data, rel
        hdrs, body = conn.get_object(container, rel)
        assert body == data, rel
        names = set(listing(conn, container))
        assert not [n for n in names if n.endswith(".partial")], sorted(names)
    assert sorted(os.listdir(m.p("arr.zarr", "c", "0"))) == ["0", "1"]


def test_zarr_v3_idiom_link_then_unlink(container, conn, mount):
    """zarr v3 exclusive writes: os.link(tmp, key) (EEXIST if the key
    exists) then os.unlink(tmp)."""
    m = mount(container)
    rnd = random.Random(5)
    data = rnd.randbytes(40_000)
    os.makedirs(m.p("g", "c"))
    key = m.p("g", "c", "k")
    tmp = m.p("g", "c", "k.%s.partial" % uuid.uuid4().hex)
    with open(tmp, "wb") as f:
        f.write(data)
    os.link(tmp, key)
    os.unlink(tmp)
    assert not os.path.exists(tmp)
    with open(key, "rb") as f:
        assert f.read() == data
    assert conn.get_object(container, "g/c/k")[1] == data
    assert set(listing(conn, container, "g/c/")) == {"g/c/k"}

    # a second exclusive write on the same key must fail and change nothing
    other = rnd.randbytes(30_000)
    tmp2 = m.p("g", "c", "k.%s.partial" % uuid.uuid4().hex)
    with open(tmp2, "wb") as f:
        f.write(other)
    with pytest.raises(FileExistsError):
        os.link(tmp2, key)
    os.unlink(tmp2)
    with open(key, "rb") as f:
        assert f.read() == data
    assert conn.get_object(container, "g/c/k")[1] == data
    assert set(listing(conn, container, "g/c/")) == {"g/c/k"}
    assert os.listdir(m.p("g", "c")) == ["k"]


# --------------------------------------------------- python3-zarr (v2)

def download_prefix(conn, container, prefix, dest):
    """Download every non-marker object under prefix/ into dest."""
    for name, o in listing(conn, container, prefix + "/").items():
        if o["content_type"] == "application/directory":
            continue
        p = os.path.join(dest, name[len(prefix) + 1:])
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(conn.get_object(container, name)[1])


@pytest.mark.parametrize("sep", [".", "/"], ids=["flat", "nested"])
def test_zarr_v2_array(container, conn, mount, tmp_path, sep):
    import numpy as np  # Debian python3-numpy: a missing one fails
    import zarr  # Debian python3-zarr: a missing one fails
    data = np.random.default_rng(8).standard_normal((512, 512)).astype("float32")
    data[:64, :64] = 0          # one chunk at the fill value: zarr still writes it
    m = mount(container)
    path = m.p("a.zarr")
    kw = {} if sep == "." else {"dimension_separator": "/"}
    z = zarr.open(store=zarr.DirectoryStore(path), mode="w", shape=data.shape,
                  chunks=(64, 64), dtype="f4", **kw)
    z[:] = data
    assert (z[:] == data).all()
    m.unmount()

    m2 = mount(container)
    z2 = zarr.open(store=zarr.DirectoryStore(m2.p("a.zarr")), mode="r")
    assert z2.shape == (512, 512) and z2.chunks == (64, 64) and z2.dtype == np.float32
    assert (z2[:] == data).all()

    # in Swift: .zarray and one object per chunk under the expected keys
    objs = listing(conn, container, "a.zarr/")
    chunk_keys = {"a.zarr/%d%s%d" % (i, sep, j) for i in range(8) for j in range(8)}
    files = {n for n, o in objs.items() if o["content_type"] != "application/directory"}
    markers = {n for n, o in objs.items() if o["content_type"] == "application/directory"}
    assert files == {"a.zarr/.zarray"} | chunk_keys, sorted(files ^ ({"a.zarr/.zarray"}
                                                                       | chunk_keys))
    assert markers == (set() if sep == "." else {"a.zarr/%d" % i for i in range(8)})
    assert not [n for n in objs if n.endswith(".partial")]
    meta = json.loads(conn.get_object(container, "a.zarr/.zarray")[1])
    assert meta["shape"] == [512, 512] and meta["chunks"] == [64, 64]
    assert meta.get("dimension_separator", ".") == sep
    # decode one chunk fetched straight from Swift
    import numcodecs
    raw = conn.get_object(container, "a.zarr/3%s5" % sep)[1]
    codec = numcodecs.get_codec(meta["compressor"])
    chunk = np.frombuffer(codec.decode(raw), dtype="<f4").reshape(64, 64)
    assert (chunk == data[192:256, 320:384]).all()
    # the whole array from a local copy downloaded with swiftclient
    local = str(tmp_path / "local.zarr")
    download_prefix(conn, container, "a.zarr", local)
    z3 = zarr.open(store=zarr.DirectoryStore(local), mode="r")
    assert (z3[:] == data).all()


# -------------------------------------------------------------- xarray

def test_xarray_to_zarr_consolidated(container, conn, mount):
    import numpy as np  # Debian python3-numpy: a missing one fails
    import xarray as xr  # Debian python3-xarray: a missing one fails
    import pandas as pd  # Debian python3-pandas: a missing one fails
    rng = np.random.default_rng(12)
    ds = xr.Dataset(
        {"temp": (("time", "y", "x"), rng.standard_normal((6, 100, 120)).astype("float32"),
                  {"units": "K", "long_name": "temperature"}),
         "mask": (("y", "x"), rng.integers(0, 2, (100, 120)).astype("int16")),
         "label": (("time",), np.array(["a", "bb", "ccc", "d", "ee", "f"]))},
        coords={"time": pd.date_range("2020-01-01", periods=6, freq="D"),
                "y": np.linspace(-50, 50, 100), "x": np.arange(120, dtype="int32")},
        attrs={"title": "swiftfs write test", "version": 3})
    m = mount(container, opts=SEG_OPTS)
    ds.to_zarr(m.p("ds.zarr"), mode="w", consolidated=True,
               encoding={"temp": {"chunks": (2, 50, 60)}})
    m.unmount()

    m2 = mount(container, opts=SEG_OPTS)
    got = xr.open_zarr(m2.p("ds.zarr"), consolidated=True).load()
    xr.testing.assert_identical(ds, got)
    h = conn.head_object(container, "ds.zarr/.zmetadata")
    assert int(h["content-length"]) > 0
    zmeta = json.loads(conn.get_object(container, "ds.zarr/.zmetadata")[1])
    assert "temp/.zarray" in zmeta["metadata"]
    assert zmeta["metadata"]["temp/.zarray"]["chunks"] == [2, 50, 60]
    names = set(listing(conn, container, "ds.zarr/"))
    assert "ds.zarr/temp/0.1.1" in names and "ds.zarr/.zgroup" in names
    assert not [n for n in names if n.endswith(".partial")]
