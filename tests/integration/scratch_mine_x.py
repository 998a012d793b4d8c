import test_tools as T

def _nolinks(monkeypatch):
    orig = T.build_tree
    monkeypatch.setattr(T, "build_tree", lambda root, **kw: orig(root, **dict(kw, links=False)))

def test_rsync_nolinks(container, conn, mount, tmp_path, monkeypatch):
    _nolinks(monkeypatch)
    T.test_rsync_round_trip(container, conn, mount, tmp_path)

def test_tar_nolinks(container, conn, mount, tmp_path, monkeypatch):
    _nolinks(monkeypatch)
    T.test_tar_extract_into_and_archive_out_of_the_mount(container, conn, mount, tmp_path)

def test_git_debug(container, conn, mount, tmp_path):
    import os, subprocess
    try:
        T.test_git_clone_onto_the_mount(container, conn, mount, tmp_path)
    except BaseException as e:
        print("FAILED:", str(e)[:300])
    mnts = [p for p in tmp_path.iterdir() if p.name.startswith("mnt-") and os.path.ismount(p)]
    clone = os.path.join(str(mnts[-1]), "clone")
    print("lstat size", os.lstat(clone + "/link").st_size)
    try:
        print("readlink", os.readlink(clone + "/link"))
    except OSError as e:
        print("readlink err", e)
    print(subprocess.run(["git", "-C", clone, "diff"], capture_output=True, text=True))
    assert 0
