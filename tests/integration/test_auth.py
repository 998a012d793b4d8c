"""Credential modes (TempAuth env, pre-auth token, credentials file) and
tokens that expire while mounted."""
import errno
import os
import threading
import time

import pytest

from conftest import proxied_env


def test_preauth_token_from_environment(swift, container, conn, mount):
    conn.put_object(container, "a.txt", b"A")
    url, token = conn.get_auth()
    m = mount(container, use_env_creds=False, env={"OS_STORAGE_URL": url, "OS_AUTH_TOKEN": token})
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"A"


def test_credentials_file_shell_syntax(swift, container, conn, mount, tmp_path):
    conn.put_object(container, "a.txt", b"A")
    cf = tmp_path / "site.env"
    cf.write_text("# from the site portal\nexport ST_AUTH='%s'\nexport ST_USER=\"test:tester\"\n"
                  "ST_KEY=testing  # admin\n" % swift.auth_url)
    os.chmod(cf, 0o600)
    m = mount(container, use_env_creds=False, opts=["credentials=%s" % cf])
    assert os.listdir(m.path) == ["a.txt"]


def test_tempauth_token_expiry_reauthenticates(swift_short_token, mount):
    s = swift_short_token
    conn = s.conn()
    conn.put_container("exp")
    conn.put_object("exp", "a.txt", b"A")
    conn.put_object("exp", "b.txt", b"B")
    m = mount("exp", use_env_creds=False, env=s.creds_env(), opts=["attr_timeout=0",
                                                                   "entry_timeout=0"])
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"A"
    time.sleep(5.5)  # the 4 s token is gone
    with open(m.p("b.txt"), "rb") as f:
        assert f.read() == b"B"
    assert "authenticating again" in m.log()


def test_preauth_token_renewed_in_credentials_file(swift_short_token, mount, tmp_path):
    s = swift_short_token
    conn = s.conn()
    conn.put_container("exp2")
    conn.put_object("exp2", "a.txt", b"A")
    url, token = conn.get_auth()
    cf = tmp_path / "token.env"
    cf.write_text("OS_STORAGE_URL=%s\nOS_AUTH_TOKEN=%s\n" % (url, token))
    os.chmod(cf, 0o600)
    m = mount("exp2", use_env_creds=False, opts=["credentials=%s" % cf, "attr_timeout=0",
                                                 "entry_timeout=0"])
    assert os.listdir(m.path) == ["a.txt"]
    time.sleep(5.5)
    # the site renews the token in the file; swiftfs picks it up on 401
    conn2 = s.conn()
    url2, token2 = conn2.get_auth()
    assert token2 != token
    cf.write_text("OS_STORAGE_URL=%s\nOS_AUTH_TOKEN=%s\n" % (url2, token2))
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"A"
    log = m.log()
    assert "using the renewed token" in log
    assert token not in log and token2 not in log


def test_expired_preauth_token_is_eacces_not_enoent(swift_short_token, mount):
    s = swift_short_token
    conn = s.conn()
    conn.put_container("exp3")
    conn.put_object("exp3", "a.txt", b"A")
    url, token = conn.get_auth()
    m = mount("exp3", use_env_creds=False, env={"OS_STORAGE_URL": url, "OS_AUTH_TOKEN": token},
              opts=["attr_timeout=0", "entry_timeout=0", "negative_timeout=0"])
    assert os.listdir(m.path) == ["a.txt"]
    time.sleep(5.5)
    with pytest.raises(OSError) as ei:
        os.listdir(m.path)
    assert ei.value.errno == errno.EACCES
    with pytest.raises(OSError) as ei:
        open(m.p("a.txt"), "rb").read()
    assert ei.value.errno == errno.EACCES
    assert "expired" in m.log()


def test_a_token_refused_right_after_login_is_not_renewed_per_request(swift, container, conn,
                                                                        proxy, mount):
    """Logins succeed but Swift refuses the tokens (a user without the role
    Swift wants, a storage URL of another project): one new login, then
    EACCES with a clear message, not a login per request; once Swift
    takes the token again, the mount works."""
    conn.put_object(container, "a.txt", b"A")
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["attr_timeout=0", "entry_timeout=0", "negative_timeout=0"])
    assert os.listdir(m.path) == ["a.txt"]
    proxy.clear_log()
    proxy.add_rule(path="^/v1/", action="status", status=401, times=-1)
    for i in range(20):
        with pytest.raises(OSError) as ei:
            os.stat(m.p("a.txt"))
        assert ei.value.errno == errno.EACCES
    auths = [e for e in proxy.log() if e["path"].startswith("/auth/")]
    assert len(auths) == 1, len(auths)
    assert "a token issued" in m.log() and "operator_roles" in m.log()
    proxy.clear()
    assert os.stat(m.p("a.txt")).st_size == 1


def test_a_failing_renewal_is_not_repeated_by_every_waiting_request(swift, container, conn,
                                                                     proxy, mount):
    """The token is refused and the auth service is down: the requests
    queued behind the failed renewal get its answer, instead of each
    logging in again one after another (6 stats took 7 s with a 2 s
    retry_timeout, 30 auth requests)."""
    conn.put_object(container, "a.txt", b"A")
    m = mount(container, use_env_creds=False, env=proxied_env(swift, proxy),
              opts=["retry_timeout=2", "attr_timeout=0", "entry_timeout=0",
                    "negative_timeout=0"])
    assert os.listdir(m.path) == ["a.txt"]
    proxy.clear_log()
    proxy.add_rule(path="^/auth/", action="status", status=503, times=-1)
    proxy.add_rule(path="^/v1/", action="status", status=401, times=-1)
    errs = []

    def stat_one(i):
        try:
            os.stat(m.p("a.txt"))
        except OSError as e:
            errs.append(e.errno)

    threads = [threading.Thread(target=stat_one, args=(i,)) for i in range(6)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    proxy.clear()
    auths = [e for e in proxy.log() if e["path"].startswith("/auth/")]
    assert len(errs) == 6
    # one login attempt (with its own retries) answers them all
    assert len(auths) <= 12 and dt < 5, (len(auths), dt)
