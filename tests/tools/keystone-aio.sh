#!/usr/bin/env bash
# keystone-aio.sh - a throw-away OpenStack Keystone (identity v3) on loopback,
# plus a second Swift proxy that authenticates with it, for swiftfs tests
# (Debian 12: python3-keystone, python3-keystonemiddleware; run as root).
#
# Usage: keystone-aio.sh start|stop|restart|status|env [password|appcred]|logs|wipe
#
# The Swift proxy shares the backend servers (rings, account/container/object
# servers, memcached, swift.conf) of a running swift-aio.sh instance: start
# that first, with the same SWIFTFS_AIO_DIR and SWIFTFS_AIO_PORT as here.
#
# Environment:
#   KEYSTONE_AIO_DIR         state folder (default /var/tmp/swiftfs-keystone):
#                            etc/ (keystone.conf, proxy-server.conf), keystone.db
#                            (SQLite, WAL), fernet-keys/, credential-keys/, run/,
#                            log/, appcred.env (the tests' application credential)
#   KEYSTONE_AIO_PORT        Keystone port (default 15000)
#   KEYSTONE_AIO_SWIFT_PORT  port of the Keystone-enabled Swift proxy (default 15010)
#   KEYSTONE_AIO_TOKEN_LIFE  token life in seconds ([token] expiration, default 3600)
#   KEYSTONE_AIO_TIMEOUT     seconds "start" waits for readiness (default 90)
#   SWIFTFS_AIO_DIR, SWIFTFS_AIO_PORT  the swift-aio.sh instance to share
#
# Identities (see keystone_provision.py): admin/admin-pass in project admin;
# swiftfs-user/swiftfs-pass with role member in project swiftfs (domain
# Default); an application credential of swiftfs-user (env appcred). Catalog:
# object-store in RegionOne (public and admin http://127.0.0.1:SWIFT_PORT,
# internal http://localhost:SWIFT_PORT) and RegionTwo (public, a dead port).
# Keystone runs with keystone-wsgi-public (wsgiref, no Apache); processes
# carry KEYSTONE_AIO_INSTANCE=<state dir> so that "stop" kills exactly them.
set -euo pipefail

DIR=$(realpath -m -- "${KEYSTONE_AIO_DIR:-/var/tmp/swiftfs-keystone}")
case $DIR in /|/var|/var/tmp|/tmp|/root|/home|/srv|/etc|/etc/keystone)
  echo "keystone-aio: error: refusing to use $DIR as state folder" >&2; exit 1 ;; esac
PORT=${KEYSTONE_AIO_PORT:-15000}
SWIFT_PORT=${KEYSTONE_AIO_SWIFT_PORT:-15010}
TOKEN_LIFE=${KEYSTONE_AIO_TOKEN_LIFE:-3600}
TIMEOUT=${KEYSTONE_AIO_TIMEOUT:-90}
AIO_DIR=$(realpath -m -- "${SWIFTFS_AIO_DIR:-/var/tmp/swiftfs-aio}")
AIO_PORT=${SWIFTFS_AIO_PORT:-18080}
MC_PORT=${SWIFTFS_AIO_MEMCACHE_PORT:-$((AIO_PORT + 4))}
ETC=$DIR/etc RUN=$DIR/run LOG=$DIR/log
KS_URL=http://127.0.0.1:$PORT
SWIFT_URL=http://127.0.0.1:$SWIFT_PORT
ADMIN_PASSWORD=admin-pass
PY=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LC_ALL=C

die() { echo "keystone-aio: error: $*" >&2; exit 1; }
say() { echo "keystone-aio: $*"; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: run apt-get install $2"; }
check_deps() {
  need keystone-manage keystone; need keystone-wsgi-public keystone
  need swift-proxy-server swift-proxy; need curl curl; need flock util-linux
  "$PY" -c 'import keystone, keystonemiddleware.auth_token, keystoneclient.v3' 2>/dev/null ||
    die "python3-keystone, python3-keystonemiddleware or python3-keystoneclient not importable by $PY: run apt-get install keystone python3-keystonemiddleware python3-keystoneclient"
  [[ -s $AIO_DIR/etc/launch.py && -s $AIO_DIR/etc/object.ring.gz ]] ||
    die "no swift-aio instance in $AIO_DIR: run SWIFTFS_AIO_DIR=$AIO_DIR SWIFTFS_AIO_PORT=$AIO_PORT swift-aio.sh start first"
}

instance_pids() {
  { grep -lzxF "KEYSTONE_AIO_INSTANCE=$DIR" /proc/[0-9]*/environ 2>/dev/null || :; } |
    sed 's|^/proc/\([0-9]*\)/environ$|\1|' | grep -vx -e $$ -e "$BASHPID" || :
}
alive() {
  local p; p=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  case $(ps -o stat= -p "$p" 2>/dev/null) in ''|Z*) return 1 ;; esac
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Password login as swiftfs-user, then a container PUT/DELETE through the
# Keystone proxy: proves Keystone, the catalog, authtoken and keystoneauth.
probe() {
  local body h tok surl c="keystone-aio-probe-$$"
  body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"swiftfs-user","domain":{"id":"default"},"password":"swiftfs-pass"}}},"scope":{"project":{"name":"swiftfs","domain":{"id":"default"}}}}}'
  h=$(curl -fsS -m 10 -D - -o "$RUN/probe.json" -H 'Content-Type: application/json' \
        -d "$body" "$KS_URL/v3/auth/tokens" 2>/dev/null) || return 1
  tok=$(sed -n 's/^x-subject-token: *//Ip' <<<"$h" | tr -d '\r')
  surl=$("$PY" -c 'import json,sys
for s in json.load(open(sys.argv[1]))["token"]["catalog"]:
    if s["type"] == "object-store":
        for e in s["endpoints"]:
            if e["region_id"] == "RegionOne" and e["interface"] == "public": print(e["url"])' \
        "$RUN/probe.json" 2>/dev/null)
  rm -f "$RUN/probe.json"
  [ -n "$tok" ] && [ -n "$surl" ] || return 1
  curl -fsS -m 10 -X PUT -H "X-Auth-Token: $tok" "$surl/$c" -o /dev/null 2>/dev/null &&
    curl -fsS -m 10 -X DELETE -H "X-Auth-Token: $tok" "$surl/$c" -o /dev/null 2>/dev/null
}
healthy() { alive keystone && alive proxy && probe; }

show_logs() {
  local f; for f in "$LOG"/*.log; do
    [ -e "$f" ] || { say "no logs in $LOG"; return 0; }
    echo "==> $f <=="; tail -n "${KEYSTONE_AIO_LOG_LINES:-40}" "$f"; echo
  done
}

write_configs() {
  cat >"$ETC/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOG/keystone-server.log
use_stderr = false
[database]
connection = sqlite:///$DIR/keystone.db
[token]
provider = fernet
expiration = $TOKEN_LIFE
[fernet_tokens]
key_repository = $DIR/fernet-keys
[fernet_receipts]
key_repository = $DIR/fernet-receipts
[credential]
key_repository = $DIR/credential-keys
[identity]
password_hash_rounds = 4
[cache]
# one process: an in-memory cache; without it every token validation
# costs ~60 SQLite sessions (over a second of CPU)
enabled = true
backend = dogpile.cache.memory
EOF
  # The Keystone proxy: Swift 2.30's sample pipeline with authtoken and
  # keystoneauth in place of tempauth. token_cache_time = -1: every token
  # is validated with Keystone, so a revoked token is refused at once.
  cat >"$ETC/proxy-server.conf" <<EOF
[DEFAULT]
user = swift
swift_dir = $AIO_DIR/etc
bind_ip = 127.0.0.1
bind_port = $SWIFT_PORT
workers = 1
log_name = keystone-proxy
log_level = INFO
expose_info = true
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit authtoken keystoneauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
user_domain_id = default
project_domain_id = default
project_name = service
username = swift
password = swift-service-pass
delay_auth_decision = True
token_cache_time = -1
[filter:keystoneauth]
use = egg:swift#keystoneauth
reseller_prefix = AUTH
operator_roles = admin, member
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
EOF
  local s
  for s in catch_errors gatekeeper healthcheck proxy-logging listing_formats bulk tempurl \
      ratelimit copy container-quotas account-quotas slo dlo symlink; do
    printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$s" "${s//-/_}" >>"$ETC/proxy-server.conf"
  done
  chgrp swift "$ETC/proxy-server.conf"; chmod 640 "$ETC/proxy-server.conf"
}

kmanage() { "$PY" /usr/bin/keystone-manage --config-file "$ETC/keystone.conf" "$@" >>"$LOG/manage.log" 2>&1 ||
  { tail -n 30 "$LOG/manage.log" >&2; die "keystone-manage $1 failed (log above)"; }; }

setup() {
  mkdir -p "$ETC" "$RUN" "$LOG" "$DIR/fernet-keys" "$DIR/fernet-receipts" "$DIR/credential-keys"
  chmod 755 "$DIR"; chmod 750 "$ETC"; chgrp swift "$ETC"
  write_configs
  if [ ! -s "$DIR/keystone.db" ]; then
    kmanage db_sync
    # SQLite's default rollback journal makes concurrent writers fail with
    # "database is locked"; WAL is a property of the database file.
    "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("PRAGMA journal_mode=WAL").fetchone()[0])' \
      "$DIR/keystone.db" | grep -qx wal || die "could not switch $DIR/keystone.db to WAL"
  fi
  [ -s "$DIR/fernet-keys/0" ] || kmanage fernet_setup --keystone-user root --keystone-group root
  [ -s "$DIR/credential-keys/0" ] || kmanage credential_setup --keystone-user root --keystone-group root
  kmanage bootstrap --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$KS_URL" --bootstrap-public-url "$KS_URL" \
    --bootstrap-internal-url "$KS_URL"
}

launch() {  # name command...
  local name=$1; shift
  echo "=== $(date '+%F %T') starting $name" >>"$LOG/$name.log"
  KEYSTONE_AIO_INSTANCE=$DIR setsid "$@" </dev/null >>"$LOG/$name.log" 2>&1 9>&- &
  echo $! >"$RUN/$name.pid"
}

wait_for() {  # what command...
  local what=$1; shift
  local deadline=$((SECONDS + TIMEOUT)) d
  until "$@"; do
    for d in keystone proxy; do
      [ -e "$RUN/$d.pid" ] || continue
      alive "$d" || { show_logs >&2; do_stop >&2; die "$d exited during start-up (logs above)"; }
    done
    [ "$SECONDS" -lt "$deadline" ] || { show_logs >&2; do_stop >&2; die "$what not ready after ${TIMEOUT}s (logs above)"; }
    sleep 0.5
  done
}

do_start() {
  check_deps
  local params="$PORT $SWIFT_PORT $TOKEN_LIFE $AIO_DIR $MC_PORT"
  if [ -n "$(instance_pids)" ]; then
    if [ "$(cat "$RUN/params" 2>/dev/null)" != "$params" ]; then
      say "instance in $DIR runs with other settings: restarting"; do_stop
    elif healthy; then say "already running: $KS_URL/v3, Swift $SWIFT_URL"; return 0
    else say "instance in $DIR is half-running: cleaning up"; do_stop; fi
  fi
  local p
  for p in "$PORT" "$SWIFT_PORT"; do
    ! port_busy "$p" || die "port 127.0.0.1:$p is already in use (choose other KEYSTONE_AIO_*PORT)"
  done
  port_busy "$MC_PORT" || die "memcached of the swift-aio instance ($AIO_DIR) is not answering on port $MC_PORT: start swift-aio.sh first"
  setup
  launch keystone env OS_KEYSTONE_CONFIG_DIR="$ETC" "$PY" /usr/bin/keystone-wsgi-public \
    --host 127.0.0.1 --port "$PORT"
  wait_for Keystone curl -fs -m 5 -o /dev/null "$KS_URL/v3"
  "$PY" "$HERE/keystone_provision.py" "$DIR" "$KS_URL" "$SWIFT_PORT" "$ADMIN_PASSWORD" \
    >>"$LOG/provision.log" 2>&1 || { tail -n 40 "$LOG/provision.log" >&2; do_stop >&2; die "provisioning Keystone failed (log above)"; }
  launch proxy "$PY" "$AIO_DIR/etc/launch.py" "$AIO_DIR/etc" "$(command -v swift-proxy-server)" \
    "$ETC/proxy-server.conf" -v
  wait_for "the Keystone Swift proxy" probe
  echo "$params" >"$RUN/params"
  say "running: Keystone $KS_URL/v3, Swift $SWIFT_URL (state $DIR)"
}

do_stop() {
  local pids _
  pids=$(instance_pids)
  if [ -z "$pids" ]; then say "not running ($DIR)"; rm -f "$RUN"/*.pid; return 0; fi
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 50); do pids=$(instance_pids); [ -z "$pids" ] && break; sleep 0.2; done
  # shellcheck disable=SC2086
  [ -z "$pids" ] || { say "killing stragglers: $pids"; kill -KILL $pids 2>/dev/null || true; sleep 0.5; }
  rm -f "$RUN"/*.pid
  say "stopped ($DIR)"
}

do_status() {
  local d rc=0
  for d in keystone proxy; do
    if alive "$d"; then echo "$d: running (pid $(cat "$RUN/$d.pid"))"; else echo "$d: stopped"; rc=3; fi
  done
  if probe; then echo "healthy: $KS_URL/v3, Swift $SWIFT_URL"; else echo "not healthy"; rc=3; fi
  return "$rc"
}

do_env() {  # password (default) | appcred
  printf 'export OS_AUTH_URL=%s/v3\nexport OS_IDENTITY_API_VERSION=3\n' "$KS_URL"
  case ${1:-password} in
    password)
      printf 'export OS_USERNAME=swiftfs-user\nexport OS_PASSWORD=swiftfs-pass\n'
      printf 'export OS_PROJECT_NAME=swiftfs\nexport OS_USER_DOMAIN_NAME=Default\n'
      printf 'export OS_PROJECT_DOMAIN_NAME=Default\n' ;;
    appcred)
      [ -s "$DIR/appcred.env" ] || die "no application credential yet in $DIR: run start first"
      printf 'export OS_AUTH_TYPE=v3applicationcredential\n'
      sed -n 's/^\(OS_APPLICATION_CREDENTIAL_\(ID\|SECRET\)=\)/export \1/p' "$DIR/appcred.env" ;;
    *) die "unknown identity $1 (password, appcred)" ;;
  esac
}

do_wipe() {
  do_stop
  [ -e "$DIR" ] || return 0
  [ -e "$DIR/.keystone-aio" ] || die "$DIR is not a keystone-aio state folder; not removing it"
  rm -rf -- "$DIR"; say "removed $DIR"
}

lock() {
  if [ -d "$DIR" ] && [ ! -e "$DIR/.keystone-aio" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR exists and is not a keystone-aio state folder; refusing to use it"
  fi
  mkdir -p "$DIR"; touch "$DIR/.keystone-aio"
  exec 9>>"$DIR/.lock"
  flock -w $((TIMEOUT + 60)) 9 || die "timed out waiting for the lock on $DIR"
}

case ${1:-} in
  start) lock; do_start ;;
  stop) [ ! -d "$DIR" ] || lock; do_stop ;;
  restart) lock; do_stop; do_start ;;
  status) do_status ;;
  env) do_env "${2:-}" ;;
  logs) show_logs ;;
  wipe) [ ! -d "$DIR" ] || lock; do_wipe ;;
  *) echo "usage: $0 start|stop|restart|status|env [password|appcred]|logs|wipe" >&2; exit 2 ;;
esac
