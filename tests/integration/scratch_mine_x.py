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
