"""Big directories: a listing is paginated until exhausted (25,000 entries
all show), `ls -l` makes no request per entry (counted by swiftfs itself:
it logs its request counters when it unmounts)."""
import os
import re
import subprocess
import urllib.parse

import pytest

# ls -l and find here count on readdirplus having given every entry, and
# most of these objects are container rows only (a lookup's GET finds
# nothing): the other pass must not drop the dentry cache meanwhile
pytestmark = pytest.mark.usefixtures("dentries_kept")

N = 25000


def request_counts(log):
    m = re.findall(r"requests: (\d+) listing, \d+ GET, (\d+) HEAD", log)
    assert m, log[-2000:]
    return int(m[-1][0]), int(m[-1][1])


REAL = [0, 1, 9999, 10000, 19999, 20000, N - 1]  # names that also get real data


def record_rows(swift, account, container, names, size=1):
    """Record objects in the container's listing through the container
    server's object-update API (what Swift's object servers call after
    storing an object). Uploading 25,000 objects through a one-worker
    proxy on two cores takes 3-4 minutes; the listing the mount reads is
    served by the real proxy and container server either way."""
    import hashlib
    import http.client
    import threading
    import time
    etc = os.path.join(swift.dir, "etc")
    code = ("import json,sys\n"
            "from swift.common import utils\n"
            "utils.set_swift_dir(sys.argv[1])\n"
            "from swift.common.ring import Ring\n"
            "part, nodes = Ring(sys.argv[1], ring_name='container').get_nodes(sys.argv[2], sys.argv[3])\n"
            "print(json.dumps([part, nodes[0]['port'], nodes[0]['device']]))\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code, etc, account, container],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    import json
    part, port, dev = json.loads(out)
    etag = hashlib.md5(b"x" * size).hexdigest()
    errors = []

    def worker(chunk):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for n in chunk:
            path = "/%s/%s/%s/%s/%s" % (dev, part, account, container,
                                        urllib.parse.quote(n))
            c.request("PUT", path, headers={
                "X-Timestamp": "%.5f" % time.time(), "X-Size": str(size),
                "X-Content-Type": "application/octet-stream", "X-Etag": etag,
                "Content-Length": "0"})
            r = c.getresponse()
            r.read()
            if r.status // 100 != 2:
                errors.append((n, r.status))
        c.close()

    k = 8
    ts = [threading.Thread(target=worker, args=(names[i::k],)) for i in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:5]


@pytest.fixture(scope="module")
def bigdir(swift):
    """Container 'bigdir-25k': N one-byte objects under big/ and top.txt
    (kept between runs of the suite)."""
    conn = swift.conn()
    name = "bigdir-25k"
    try:
        h = conn.head_container(name)
        if int(h["x-container-object-count"]) == N + 1:
            return name
    except Exception:  # noqa: BLE001 - created below
        pass
    conn.put_container(name)
    record_rows(swift, conn.get_auth()[0].rsplit("/", 1)[1], name,
                ["big/f%05d.dat" % i for i in range(N)])
    for i in REAL:
        conn.put_object(name, "big/f%05d.dat" % i, b"x")
    conn.put_object(name, "top.txt", b"top")
    return name


# Listings kept for a minute: the counts below must not depend on how
# long 25,000 entries take to go through a slow (ASan) build.
LONG = ["entry_timeout=60", "attr_timeout=60"]


def test_25000_entries_list_completely(bigdir, mount):
    m = mount(bigdir, opts=LONG)
    names = os.listdir(m.p("big"))
    assert len(names) == N
    assert sorted(names) == ["f%05d.dat" % i for i in range(N)]
    for i in REAL:  # across page boundaries, with data
        with open(m.p("big", "f%05d.dat" % i), "rb") as f:
            assert f.read() == b"x"
    m.unmount()
    listings, heads = request_counts(m.log())
    # root listing + 3 pages (10,000 per request) for big/; one GET per
    # file opened (close-to-open: small files come whole at open), no
    # request per listed entry
    assert listings == 4, (listings, heads)
    assert heads == 0


def test_ls_l_makes_no_request_per_entry(bigdir, mount):
    m = mount(bigdir, opts=LONG)
    out = subprocess.run(["ls", "-l", m.p("big")], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    lines = [l for l in out.splitlines() if l.startswith("-")]
    assert len(lines) == N
    assert all(" 1 " in l for l in lines[:100])
    out = subprocess.run(["find", m.path, "-type", "f"], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    assert len(out.splitlines()) == N + 1
    m.unmount()
    listings, heads = request_counts(m.log())
    assert heads == 0, (listings, heads)
    assert listings == 4, (listings, heads)
