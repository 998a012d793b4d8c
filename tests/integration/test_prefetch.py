"""Small objects fetched before they are asked for (src/fs_prefetch.c):
zarr metadata when a directory is listed, the siblings of small files read
one after another; counted at unmount (swiftfs's own request counters), bytes
checked against Swift, and close-to-open kept against out-of-band writes."""
import json
import os
import re
import subprocess
import time

import numpy as np

from test_cache import counts


def prefetch_stats(m):
    line = re.findall(r"prefetch: (\d+) small objects fetched ahead, (\d+) used \((\d+) of them "
                      r"revalidated\)", m.log())
    if not line:
        return {"fetched": 0, "used": 0, "revalidated": 0}
    return dict(zip(("fetched", "used", "revalidated"), (int(x) for x in line[-1])))


def test_zarr_metadata_is_fetched_when_its_directory_is_listed(container, conn, mount):
    zarray = json.dumps({"zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "<f4",
                         "compressor": None, "fill_value": 0.0, "filters": None,
                         "order": "C"}).encode()
    conn.put_object(container, "arr/.zarray", zarray)
    conn.put_object(container, "arr/.zattrs", b'{"units": "m"}')
    conn.put_object(container, "arr/0", np.arange(4, dtype="<f4").tobytes())
    conn.put_object(container, "arr/notes.txt", b"not zarr metadata")
    m = mount(container, opts=["debug"])
    assert sorted(os.listdir(m.p("arr"))) == [".zarray", ".zattrs", "0", "notes.txt"]
    # the two metadata files were fetched in parallel with the listing:
    # reading them now asks Swift nothing more
    with open(m.p("arr", ".zarray"), "rb") as f:
        assert f.read() == zarray
    with open(m.p("arr", ".zattrs"), "rb") as f:
        assert f.read() == b'{"units": "m"}'
    m.unmount()
    c = counts(m)
    assert c["get"] == 2 and c["head"] == 0, m.log()
    assert "prefetch: 2 zarr metadata file(s) under 'arr/'" in m.log()
    st = prefetch_stats(m)
    assert st["fetched"] == 2 and st["used"] == 2, st


def test_prefetched_metadata_changed_out_of_band_is_not_served(container, conn, mount):
    """A prefetch older than a second is revalidated at lookup: a version
    written meanwhile by another client is what the next open reads."""
    conn.put_object(container, "g/.zgroup", b'{"zarr_format": 2}')
    m = mount(container, opts=["debug", "attr_timeout=0", "entry_timeout=0"])
    os.listdir(m.p("g"))
    time.sleep(1.5)
    conn.put_object(container, "g/.zgroup", b'{"zarr_format": 3}')   # same size
    with open(m.p("g", ".zgroup"), "rb") as f:
        assert f.read() == b'{"zarr_format": 3}'
    m.unmount()
    assert prefetch_stats(m)["fetched"] >= 1


def test_small_files_read_in_order_fetch_their_next_siblings(container, conn, mount):
    """Natural order (c.9 before c.10, as zarr reads its chunks): after 3
    in-order lookups the next siblings come ahead, in parallel."""
    files = {"d/c.%d" % i: os.urandom(10000 + i) for i in range(40)}
    for name, data in files.items():
        conn.put_object(container, name, data)
    m = mount(container, opts=["debug"])
    for i in range(40):
        with open(m.p("d", "c.%d" % i), "rb") as f:
            assert f.read() == files["d/c.%d" % i], i
    m.unmount()
    c = counts(m)
    # each file once, no HEAD: 3 looked up one by one, 37 fetched ahead
    # (and a 304 for a prefetch used over a second after it came)
    st = prefetch_stats(m)
    assert c["get"] == 40 + st["revalidated"] and c["head"] == 0, m.log()
    assert st["fetched"] == 37 and st["used"] == 37, st


def test_the_in_order_run_survives_a_new_listing(container, conn, mount):
    """entry_timeout=0: every lookup lists the directory again; the run of
    in-order opens is found again in each new listing."""
    files = {"d/c.%d" % i: os.urandom(5000 + i) for i in range(40)}
    for name, data in files.items():
        conn.put_object(container, name, data)
    m = mount(container, opts=["debug", "entry_timeout=0"])
    for i in range(40):
        with open(m.p("d", "c.%d" % i), "rb") as f:
            assert f.read() == files["d/c.%d" % i], i
    m.unmount()
    st = prefetch_stats(m)
    assert st["used"] >= 30, m.log()
    # each file once; plus a conditional GET (304) for a prefetch used
    # over a second after it came (a slow ASan build reads that slowly)
    assert counts(m)["get"] == 40 + st["revalidated"], m.log()


def test_the_in_order_window_stays_a_few_files_ahead(container, conn, mount):
    for i in range(100):
        conn.put_object(container, "d/f%03d" % i, b"y" * (200 + i))
    m = mount(container, opts=["debug"])
    for i in range(5):
        with open(m.p("d", "f%03d" % i), "rb") as f:
            assert f.read() == b"y" * (200 + i)
    time.sleep(0.5)
    m.unmount()
    # 5 read, and a window of at most 16 more: not the whole directory
    assert 6 <= counts(m)["get"] <= 5 + 16, m.log()
    assert prefetch_stats(m)["used"] == 2


def test_small_files_read_out_of_order_fetch_the_rest_at_half(container, conn, mount):
    files = {"d/f%03d" % i: os.urandom(10000 + i) for i in range(40)}
    for name, data in files.items():
        conn.put_object(container, name, data)
    m = mount(container, opts=["debug"])
    for name in sorted(files, reverse=True):   # never two in order
        with open(m.p(name), "rb") as f:
            assert f.read() == files[name], name
    m.unmount()
    c = counts(m)
    # 20 looked up one by one (half of the directory), the other 20 fetched
    # in parallel; each file once, no HEAD
    assert c["get"] == 40 and c["head"] == 0, m.log()
    st = prefetch_stats(m)
    assert st["fetched"] == 20 and st["used"] == 20, st


def test_a_few_small_files_of_a_big_directory_fetch_nothing_more(container, conn, mount):
    for i in range(40):
        conn.put_object(container, "d/f%03d" % i, b"x" * (100 + i))
    m = mount(container, opts=["debug"])
    for i in range(0, 40, 4):                 # 10 of 40: a quarter
        with open(m.p("d", "f%03d" % i), "rb") as f:
            assert f.read() == b"x" * (100 + i)
    time.sleep(0.5)
    m.unmount()
    assert counts(m)["get"] == 10, m.log()
    assert prefetch_stats(m)["fetched"] == 0


def test_zarr_reads_an_array_through_the_mount(container, conn, mount, tmp_path):
    """python zarr (v2 API, Debian python3-zarr) writes an array locally;
    the files go to Swift as they are; zarr reads it back through the mount."""
    local = str(tmp_path / "z")
    code = ("import zarr, numpy as np; z = zarr.open(%r, mode='w', shape=(64, 64), "
            "chunks=(8, 8), dtype='f4', compressor=None); "
            "z[:] = np.arange(4096, dtype='f4').reshape(64, 64)" % local)
    subprocess.run(["/usr/bin/python3", "-c", code], check=True)
    for root, _dirs, names in os.walk(local):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                conn.put_object(container, "z/" + os.path.relpath(p, local), f.read())
    m = mount(container, opts=["debug"])
    code = ("import zarr, numpy as np, sys; z = zarr.open(sys.argv[1], mode='r'); "
            "assert (z[:] == np.arange(4096, dtype='f4').reshape(64, 64)).all()")
    subprocess.run(["/usr/bin/python3", "-c", code, m.p("z")], check=True)
    m.unmount()
    c = counts(m)
    # 64 chunks and .zarray, each fetched once, whoever asked first
    assert c["get"] == 65 and c["head"] == 0, m.log()
    assert prefetch_stats(m)["used"] >= 30, m.log()


def test_a_write_through_the_mount_after_a_prefetch_is_what_is_read(container, conn, mount):
    """zarr rewrites .zattrs right after listing: the prefetched old version
    must not answer the next open, of the same size or not."""
    conn.put_object(container, "g/.zattrs", b'{"a": 1}')
    conn.put_object(container, "g/.zgroup", b'{"zarr_format": 2}')
    m = mount(container, opts=["debug"])
    os.listdir(m.p("g"))
    for name, new in ((".zattrs", b'{"a": 2}'), (".zgroup", b'{"zarr_format": 2, "x": 1}')):
        with open(m.p("g", name), "wb") as f:
            f.write(new)
        with open(m.p("g", name), "rb") as f:
            assert f.read() == new, name
        assert conn.get_object(container, "g/" + name)[1] == new
    m.unmount()
