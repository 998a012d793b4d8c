"""Keystone v3: password and application-credential mounts against a real
Keystone and a Swift proxy with authtoken + keystoneauth (keystone fixture);
catalog choice by region and interface, the OS_STORAGE_URL override, clear
errors, renewal before expiry and on 401, and no secret in debug logs."""
import os
import re
import signal
import time
import uuid

import pytest

from conftest import delete_container, run_swiftfs


@pytest.fixture
def kconn(keystone):
    return keystone.conn()


@pytest.fixture
def kcontainer(kconn):
    """A fresh container in the Keystone project's account."""
    name = "k-" + uuid.uuid4().hex[:12]
    kconn.put_container(name)
    yield name
    delete_container(kconn, name)


def fails(args, env, *needles):
    p = run_swiftfs(args, env)
    assert p.returncode != 0, p.stderr
    for n in needles:
        assert n in p.stderr, "%r not in stderr: %s" % (n, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.startswith("swiftfs: ")]
    assert len(lines) == 1, p.stderr
    return p


def project_url(kconn, host="127.0.0.1"):
    url, _ = kconn.get_auth()
    return re.sub(r"//[^/:]+:", "//%s:" % host, url, count=1)


def test_password_mount_read_write(keystone, kconn, kcontainer, mount):
    kconn.put_object(kcontainer, "in.txt", b"from swiftclient")
    m = mount(kcontainer, use_env_creds=False, env=keystone.password_env())
    with open(m.p("in.txt"), "rb") as f:
        assert f.read() == b"from swiftclient"
    with open(m.p("out.txt"), "wb") as f:
        f.write(b"written through swiftfs")
    _, body = kconn.get_object(kcontainer, "out.txt")
    assert body == b"written through swiftfs"
    log = m.log()
    assert "authenticated with Keystone as user swiftfs-user in project swiftfs" in log
    assert "%s (region RegionOne, public interface)" % project_url(kconn) in log


def test_password_from_credentials_file_auth_url_without_v3(keystone, kconn, kcontainer,
                                                            mount, tmp_path):
    kconn.put_object(kcontainer, "a.txt", b"A")
    cf = tmp_path / "openrc.sh"
    # an openrc as Horizon hands it out: exports, quotes; the URL without /v3
    cf.write_text("export OS_AUTH_URL=%s/\nexport OS_USERNAME=\"%s\"\nexport OS_PASSWORD='%s'\n"
                  "export OS_PROJECT_NAME=%s\nexport OS_IDENTITY_API_VERSION=3\n"
                  "export OS_INTERFACE=public\n"
                  % (keystone.url, keystone.user, keystone.password, keystone.project))
    os.chmod(cf, 0o600)
    m = mount(kcontainer, use_env_creds=False, opts=["credentials=%s" % cf])
    assert os.listdir(m.path) == ["a.txt"]
    with open(m.p("b.txt"), "wb") as f:
        f.write(b"B")
    assert kconn.get_object(kcontainer, "b.txt")[1] == b"B"


def test_application_credential_mount(keystone, kconn, kcontainer, mount):
    env = keystone.appcred_env()
    assert env["OS_AUTH_TYPE"] == "v3applicationcredential"
    kconn.put_object(kcontainer, "a.txt", b"A")
    m = mount(kcontainer, use_env_creds=False, env=env)
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"A"
    with open(m.p("c.txt"), "wb") as f:
        f.write(b"via app credential")
    assert kconn.get_object(kcontainer, "c.txt")[1] == b"via app credential"
    assert "application credential %s" % env["OS_APPLICATION_CREDENTIAL_ID"] in m.log()


def test_ids_instead_of_names(keystone, kconn, kcontainer, mount):
    ks = keystone.admin()
    user = [u for u in ks.users.list(domain="default") if u.name == keystone.user][0]
    proj = [p for p in ks.projects.list(domain="default") if p.name == keystone.project][0]
    kconn.put_object(kcontainer, "a.txt", b"A")
    env = {"OS_AUTH_URL": keystone.auth_url, "OS_USER_ID": user.id,
           "OS_PASSWORD": keystone.password, "OS_PROJECT_ID": proj.id}
    m = mount(kcontainer, use_env_creds=False, env=env)
    assert os.listdir(m.path) == ["a.txt"]
    assert "as user %s in project %s" % (user.id, proj.id) in m.log()


def test_application_credential_by_name(keystone, kconn, kcontainer, mount):
    ac = keystone.appcred_env()
    name = [l.split("=", 1)[1] for l in open(os.path.join(keystone.dir, "appcred.env"))
            if l.startswith("OS_APPLICATION_CREDENTIAL_NAME=")][0].strip()
    kconn.put_object(kcontainer, "a.txt", b"A")
    # no OS_AUTH_TYPE: a secret without a password means an application credential
    env = {"OS_AUTH_URL": keystone.url, "OS_APPLICATION_CREDENTIAL_NAME": name,
           "OS_USERNAME": keystone.user, "OS_USER_DOMAIN_NAME": "Default",
           "OS_APPLICATION_CREDENTIAL_SECRET": ac["OS_APPLICATION_CREDENTIAL_SECRET"]}
    m = mount(kcontainer, use_env_creds=False, env=env)
    assert os.listdir(m.path) == ["a.txt"]
    assert "application credential %s" % name in m.log()


def test_interface_choice(keystone, kconn, kcontainer, mount):
    kconn.put_object(kcontainer, "a.txt", b"A")
    for iface in ("internal", "internalURL"):
        m = mount(kcontainer, use_env_creds=False,
                  env=keystone.password_env(OS_INTERFACE=iface, OS_REGION_NAME="RegionOne"))
        assert os.listdir(m.path) == ["a.txt"]
        # the catalog's internal endpoint names the host "localhost"
        assert "%s (region RegionOne, internal interface)" % project_url(kconn, "localhost") \
            in m.log()
        m.unmount()


def test_region_choice(keystone, kcontainer, tmp_path):
    # RegionTwo's endpoint is a port nothing listens on: picking it is visible
    env = keystone.password_env(OS_REGION_NAME="RegionTwo")
    fails(["-o", "retry_timeout=1", kcontainer, str(tmp_path)], env,
          "cannot reach container '%s'" % kcontainer, "127.0.0.1 port 9")
    env = keystone.password_env(OS_REGION_NAME="Atlantis")
    fails([kcontainer, str(tmp_path)], env,
          "no object-store endpoint in region 'Atlantis'", "RegionOne, RegionTwo")
    env = keystone.password_env(OS_REGION_NAME="RegionTwo", OS_INTERFACE="admin")
    fails([kcontainer, str(tmp_path)], env,
          "no admin object-store endpoint in region 'RegionTwo'", "interfaces there: public")


def test_storage_url_override(keystone, kconn, kcontainer, mount, tmp_path):
    kconn.put_object(kcontainer, "a.txt", b"A")
    url = project_url(kconn, "localhost")
    # the override wins over a region with no endpoint at all
    m = mount(kcontainer, use_env_creds=False,
              env=keystone.password_env(OS_STORAGE_URL=url, OS_REGION_NAME="Atlantis"))
    assert os.listdir(m.path) == ["a.txt"]
    assert "storage URL %s (OS_STORAGE_URL)" % url in m.log()
    m.unmount()
    # and it is really used: another project's account refuses our token
    other = re.sub(r"AUTH_[0-9a-f]+", "AUTH_" + "0" * 32, url)
    fails([kcontainer, str(tmp_path)], keystone.password_env(OS_STORAGE_URL=other),
          "access to container '%s' refused (HTTP 403)" % kcontainer)


def test_wrong_password_is_a_clear_error(keystone, kcontainer, tmp_path):
    env = keystone.password_env(OS_PASSWORD="not-the-password-42")
    p = fails([kcontainer, str(tmp_path)], env, "refused the login of user swiftfs-user",
              "(HTTP 401)", "OS_PASSWORD")
    assert "not-the-password-42" not in p.stderr + p.stdout


def test_unknown_project_is_a_clear_error(keystone, kcontainer, tmp_path):
    env = keystone.password_env(OS_PROJECT_NAME="no-such-project")
    fails([kcontainer, str(tmp_path)], env, "accepted the password of user swiftfs-user",
          "refused project 'no-such-project'", "OS_PROJECT_NAME")


def test_wrong_application_credential_secret(keystone, kcontainer, tmp_path):
    env = dict(keystone.appcred_env(), OS_APPLICATION_CREDENTIAL_SECRET="wrong-secret-42")
    p = fails([kcontainer, str(tmp_path)], env, "refused application credential",
              "(HTTP 401)", "_SECRET")
    assert "wrong-secret-42" not in p.stderr


def test_keystone_unreachable_and_bad_urls(keystone, kcontainer, tmp_path):
    env = keystone.password_env(OS_AUTH_URL="http://127.0.0.1:9/v3")
    fails(["-o", "retry_timeout=1", kcontainer, str(tmp_path)], env,
          "cannot reach Keystone at http://127.0.0.1:9/v3/auth/tokens")
    env = keystone.password_env(OS_AUTH_URL=keystone.url + "/v2.0")
    fails([kcontainer, str(tmp_path)], env, "v2.0 is not supported")
    # a URL that is not Keystone at all (the Swift proxy): no v3 API there
    env = keystone.password_env(OS_AUTH_URL=keystone.swift_url + "/identity")
    fails(["-o", "retry_timeout=1", kcontainer, str(tmp_path)], env,
          "%s/identity/v3/auth/tokens" % keystone.swift_url)
    env = keystone.password_env()
    del env["OS_PROJECT_NAME"]
    fails([kcontainer, str(tmp_path)], env, "needs OS_PROJECT_NAME or OS_PROJECT_ID")


def test_revoked_token_is_renewed_on_401(keystone, kconn, kcontainer, mount):
    """Disabling a user revokes every token it holds; once it is enabled
    again, the mount's next request gets 401 and logs in anew."""
    kconn.put_object(kcontainer, "a.txt", b"A")
    kconn.put_object(kcontainer, "b.txt", b"B")
    ks = keystone.admin()
    user = [u for u in ks.users.list(domain="default") if u.name == keystone.user][0]
    m = mount(kcontainer, use_env_creds=False, env=keystone.password_env(),
              opts=["attr_timeout=0", "entry_timeout=0"])
    with open(m.p("a.txt"), "rb") as f:
        assert f.read() == b"A"
    ks.users.update(user, enabled=False)
    ks.users.update(user, enabled=True)
    # Keystone compares revocation times at second precision: a token
    # issued within the same second as the revocation counts as revoked
    time.sleep(1.5)
    with open(m.p("b.txt"), "rb") as f:
        assert f.read() == b"B"
    with open(m.p("c.txt"), "wb") as f:
        f.write(b"C")
    assert kconn.get_object(kcontainer, "c.txt")[1] == b"C"
    log = m.log()
    assert "token refused (HTTP 401), authenticating with Keystone again" in log
    assert log.count("authenticated with Keystone") == 2


def test_token_renewed_before_it_expires(keystone, kconn, kcontainer, mount):
    life = keystone.token_life
    assert life <= 60, "this test needs the session Keystone's short tokens"
    kconn.put_object(kcontainer, "a.txt", b"A")
    m = mount(kcontainer, use_env_creds=False, env=keystone.password_env(),
              opts=["attr_timeout=0", "entry_timeout=0"])
    assert "token valid for %ds, renewal after %ds" % (life, life - life // 4) in m.log()
    t_end = time.time() + life + 3
    n = 0
    while time.time() < t_end:  # keep using the mount past the first token's end
        with open(m.p("a.txt"), "rb") as f:
            assert f.read() == b"A"
        n += 1
        time.sleep(1)
    with open(m.p("b.txt"), "wb") as f:
        f.write(b"B")
    assert kconn.get_object(kcontainer, "b.txt")[1] == b"B"
    log = m.log()
    assert "Keystone token expires in" in log and ": renewing it" in log
    # renewed in time: Swift never refused a token
    assert "HTTP 401" not in log, log


def test_renewal_before_expiry_holds_up_no_request(keystone, kconn, kcontainer, mount):
    """Keystone answers the renewal 4 s late: the renewal runs on its own
    thread, so no stat through the mount waits for it (a request that
    found the token due used to renew it itself)."""
    from faultproxy import FaultProxy
    life = keystone.token_life
    assert life <= 60, "this test needs the session Keystone's short tokens"
    kconn.put_object(kcontainer, "a.txt", b"A")
    fp = FaultProxy(rewrite_storage_url=False).start("127.0.0.1", keystone.port)
    try:
        env = keystone.password_env(OS_AUTH_URL=fp.url + "/v3")
        m = mount(kcontainer, use_env_creds=False, env=env,
                  opts=["attr_timeout=0", "entry_timeout=0"])
        fp.add_rule(method="POST", path="/v3/auth/tokens", action="delay", seconds=4, times=1)
        worst = 0.0
        t_end = time.time() + life + 2
        while time.time() < t_end:
            t0 = time.monotonic()
            os.stat(m.p("a.txt"))
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.2)
        assert [e for e in fp.log() if e.get("fault") == "delay"], fp.log()
        assert ": renewing it" in m.log() and "HTTP 401" not in m.log()
        assert worst < 2, worst
    finally:
        fp.stop()


def test_no_secret_in_debug_log(keystone, kconn, kcontainer, mount):
    env = keystone.password_env()
    ac = keystone.appcred_env()
    kconn.put_object(kcontainer, "a.txt", b"A")
    logs = []
    for e in (env, ac):
        m = mount(kcontainer, use_env_creds=False, env=e, args=["-d"],
                  opts=["log_level=debug"])
        with open(m.p("a.txt"), "rb") as f:
            assert f.read() == b"A"
        with open(m.p("n.txt"), "wb") as f:
            f.write(b"N")
        m.unmount()
        logs.append(m.log())
    log = "\n".join(logs)
    # the debug log really shows the headers, with the token masked
    assert "POST /v3/auth/tokens" in log
    assert re.search(r"(?i)x-subject-token: \*+", log), log[-3000:]
    assert re.search(r"(?i)x-auth-token: \*+", log), log[-3000:]
    for secret in (keystone.password, ac["OS_APPLICATION_CREDENTIAL_SECRET"]):
        assert secret not in log
    # Keystone's fernet tokens start with gAAAAA
    assert "gAAAAA" not in log


def test_refused_password_is_not_tried_again_until_sighup(keystone, kconn, kcontainer, mount,
                                                          tmp_path):
    """A password changed behind the mount's back (which revokes its
    tokens): one refused login, then none, while programs keep using the
    mount, until a SIGHUP brings the new password. A Keystone that locks
    an account after a few failed logins would otherwise lock its user
    out for as long as the mount lives."""
    from faultproxy import FaultProxy
    kconn.put_object(kcontainer, "a.txt", b"A")
    ks = keystone.admin()
    proj = ks.projects.list(name=keystone.project)[0]
    member = [r for r in ks.roles.list() if r.name == "member"][0]
    name = "lock-" + uuid.uuid4().hex[:8]
    user = ks.users.create(name=name, domain="default", password="old-pass",
                           default_project=proj)
    ks.roles.grant(member, user=user, project=proj)
    fp = FaultProxy(rewrite_storage_url=False).start("127.0.0.1", keystone.port)
    cf = tmp_path / "openrc"

    def write_creds(pw):
        cf.write_text("OS_AUTH_URL=%s/v3\nOS_USERNAME=%s\nOS_PASSWORD=%s\nOS_PROJECT_NAME=%s\n"
                      % (fp.url, name, pw, keystone.project))
        os.chmod(cf, 0o600)

    def logins():
        return len([e for e in fp.log()
                    if e.get("method") == "POST" and e.get("path") == "/v3/auth/tokens"])

    try:
        write_creds("old-pass")
        t_login = time.time()
        m = mount(kcontainer, use_env_creds=False,
                  opts=["credentials=%s" % cf, "attr_timeout=0", "entry_timeout=0"])
        with open(m.p("a.txt"), "rb") as f:
            assert f.read() == b"A"
        assert logins() == 1
        ks.users.update(user, password="new-pass")
        ks.users.update(user, enabled=False)   # revokes its tokens at once
        ks.users.update(user, enabled=True)
        time.sleep(1.5)                        # revocations have second precision
        refused = 0
        t_end = time.time() + 8       # past the old binary's 5 s between logins
        while time.time() < t_end:
            try:
                with open(m.p("a.txt"), "rb") as f:
                    f.read()
            except PermissionError:
                refused += 1
            time.sleep(0.3)
        assert refused >= 10
        assert logins() == 2, fp.log()         # the first mount's and one refused
        # and the renewal before expiry (at 3/4 of the token's life) does
        # not try either
        time.sleep(max(0, keystone.token_life * 3 / 4 + 1 - (time.time() - t_login)))
        assert logins() == 2, fp.log()
        assert "no more logins with these credentials" in m.log(), m.log()
        write_creds("new-pass")
        m.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "logged in to Keystone again" not in m.log() and time.time() < deadline:
            time.sleep(0.2)
        with open(m.p("a.txt"), "rb") as f:
            assert f.read() == b"A"
    finally:
        fp.stop()
        ks.users.delete(user)
