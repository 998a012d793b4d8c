#!/usr/bin/python3
"""Provision a throw-away Keystone for swiftfs tests (run by keystone-aio.sh).

Idempotent: every object is found or created. Creates
  - region RegionTwo (RegionOne comes from `keystone-manage bootstrap`),
  - service object-store with endpoints
      RegionOne public   http://127.0.0.1:SWIFT_PORT/v1/AUTH_%(project_id)s
      RegionOne internal http://localhost:SWIFT_PORT/v1/AUTH_%(project_id)s
      RegionOne admin    http://127.0.0.1:SWIFT_PORT/v1/AUTH_%(project_id)s
      RegionTwo public   http://127.0.0.1:9/v1/AUTH_%(project_id)s  (nothing listens)
  - project "service" and user "swift" (admin role): keystonemiddleware's account,
  - project "swiftfs" and user "swiftfs-user" with the "member" role,
  - an application credential of swiftfs-user (its secret written once to
    STATE/appcred.env, mode 0600).
Usage: keystone_provision.py STATE_DIR KEYSTONE_URL SWIFT_PORT ADMIN_PASSWORD
"""
import os
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

USER = "swiftfs-user"
USER_PASSWORD = "swiftfs-pass"
PROJECT = "swiftfs"
SERVICE_USER = "swift"
SERVICE_PASSWORD = "swift-service-pass"


def find(manager, name, **kw):
    for o in manager.list(**kw):
        if o.name == name:
            return o
    return None


def main():
    state, url, swift_port, admin_pw = sys.argv[1:5]
    auth = v3.Password(auth_url=url + "/v3", username="admin", password=admin_pw,
                       project_name="admin", user_domain_id="default",
                       project_domain_id="default")
    ks = client.Client(session=session.Session(auth=auth), interface="public")

    if not [r for r in ks.regions.list() if r.id == "RegionTwo"]:
        ks.regions.create(id="RegionTwo")
    svc = None
    for s in ks.services.list(type="object-store"):
        svc = s
    if svc is None:
        svc = ks.services.create(name="swift", type="object-store",
                                 description="swiftfs test Swift (keystone proxy)")
    want = {
        ("RegionOne", "public"): "http://127.0.0.1:%s/v1/AUTH_%%(project_id)s" % swift_port,
        ("RegionOne", "internal"): "http://localhost:%s/v1/AUTH_%%(project_id)s" % swift_port,
        ("RegionOne", "admin"): "http://127.0.0.1:%s/v1/AUTH_%%(project_id)s" % swift_port,
        ("RegionTwo", "public"): "http://127.0.0.1:9/v1/AUTH_%(project_id)s",
    }
    have = {(e.region_id, e.interface): e for e in ks.endpoints.list(service=svc)}
    for (region, iface), u in want.items():
        e = have.get((region, iface))
        if e is None:
            ks.endpoints.create(service=svc, url=u, interface=iface, region=region)
        elif e.url != u:
            ks.endpoints.update(e, url=u)

    member = find(ks.roles, "member")
    admin = find(ks.roles, "admin")
    for pname, uname, pw, role in ((PROJECT, USER, USER_PASSWORD, member),
                                   ("service", SERVICE_USER, SERVICE_PASSWORD, admin)):
        proj = find(ks.projects, pname, domain="default")
        if proj is None:
            proj = ks.projects.create(name=pname, domain="default")
        user = find(ks.users, uname, domain="default")
        if user is None:
            user = ks.users.create(name=uname, domain="default", password=pw,
                                   default_project=proj)
        ks.roles.grant(role, user=user, project=proj)

    ac_file = os.path.join(state, "appcred.env")
    if not os.path.exists(ac_file):
        uauth = v3.Password(auth_url=url + "/v3", username=USER, password=USER_PASSWORD,
                            project_name=PROJECT, user_domain_id="default",
                            project_domain_id="default")
        usess = session.Session(auth=uauth)
        uks = client.Client(session=usess, interface="public")
        uid = usess.get_user_id()
        name = "swiftfs-tests-%d" % os.getpid()
        ac = uks.application_credentials.create(name=name, user=uid,
                                                description="swiftfs integration tests")
        tmp = ac_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("OS_APPLICATION_CREDENTIAL_ID=%s\nOS_APPLICATION_CREDENTIAL_NAME=%s\n"
                    "OS_APPLICATION_CREDENTIAL_SECRET=%s\n" % (ac.id, name, ac.secret))
        os.rename(tmp, ac_file)


if __name__ == "__main__":
    main()
