#!/usr/bin/env bash
# swift-aio.sh - a throw-away, one-replica OpenStack Swift "all in one" on
# loopback, for swiftfs tests and demos (Debian 12, Swift 2.30, run as root).
#
# Usage: swift-aio.sh start|stop|restart|status|env [ACCOUNT:USER]|logs|wipe
#
# Environment:
#   SWIFTFS_AIO_DIR            state folder (default /var/tmp/swiftfs-aio):
#                              etc/ (configs, rings, swift.conf), srv/d1 (device),
#                              run/ (pid files), log/ (one log per daemon)
#   SWIFTFS_AIO_PORT           proxy port (default 18080); the other daemons use
#                              PORT+1 object, PORT+2 container, PORT+3 account,
#                              PORT+4 memcached: keep two instances >= 5 apart
#   SWIFTFS_AIO_MEMCACHE_PORT  override the memcached port
#   SWIFTFS_AIO_TOKEN_LIFE     TempAuth token life in seconds (default 86400)
#   SWIFTFS_AIO_LISTING_LIMIT  container and account listing page limit (default
#                              Swift's 10000)
#   SWIFTFS_AIO_WORKERS        proxy workers (default 1; backends always use 1)
#   SWIFTFS_AIO_TIMEOUT        seconds "start" waits for readiness (default 60)
#   SWIFTFS_AIO_LOG_LINES      lines per file shown by "logs" (default 40)
#   SWIFTFS_AIO_NOSYNC         1: run the daemons under libeatmydata (Debian
#                              package eatmydata), so fsync is a no-op: a
#                              throw-away test cluster stores ~3x faster
#
# Everything binds to 127.0.0.1 and lives in the state folder; /etc/swift is
# never used. Auth URL http://127.0.0.1:PORT/auth/v1.0 (TempAuth users: see
# proxy-server.conf below); S3 (s3api) on the same port, key test:tester/testing.
#
# swift.conf: Swift 2.30 has no setting or environment variable for its path
# (swift.common.utils.SWIFT_CONF_FILE = /etc/swift/swift.conf, read for the hash
# prefix/suffix, policies and constraints), so every daemon runs under a small
# launcher (etc/launch.py) calling utils.set_swift_dir(etc/) before the rest of
# Swift is imported; swift_dir in each config points at the rings.
# Logs: daemons run with -v also log to stderr (once a console handler exists,
# every later logger, the proxy access log included, gets one), which goes to
# log/<daemon>.log. Daemons carry SWIFTFS_AIO_INSTANCE=<state dir> in their
# environment: "stop" kills exactly those processes (workers included).
set -euo pipefail

DIR=$(realpath -m -- "${SWIFTFS_AIO_DIR:-/var/tmp/swiftfs-aio}")
case $DIR in /|/var|/var/tmp|/tmp|/root|/home|/srv|/etc/swift)
  echo "swift-aio: error: refusing to use $DIR as state folder" >&2; exit 1 ;; esac
PORT=${SWIFTFS_AIO_PORT:-18080}
OBJ_PORT=$((PORT + 1)) CONT_PORT=$((PORT + 2)) ACCT_PORT=$((PORT + 3))
MC_PORT=${SWIFTFS_AIO_MEMCACHE_PORT:-$((PORT + 4))}
TOKEN_LIFE=${SWIFTFS_AIO_TOKEN_LIFE:-86400}
WORKERS=${SWIFTFS_AIO_WORKERS:-1}
TIMEOUT=${SWIFTFS_AIO_TIMEOUT:-60}
ETC=$DIR/etc RUN=$DIR/run LOG=$DIR/log SRV=$DIR/srv
URL=http://127.0.0.1:$PORT
AUTH_URL=$URL/auth/v1.0
PY=/usr/bin/python3                    # Debian's Swift lives in its python3
DAEMONS=(memcached account container object proxy updater expirer)
export LC_ALL=C

die() { echo "swift-aio: error: $*" >&2; exit 1; }
say() { echo "swift-aio: $*"; }

need() {  # binary package
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: run apt-get install $2"
}
check_deps() {
  need swift-proxy-server swift-proxy; need swift-account-server swift-account
  need swift-container-server swift-container; need swift-object-server swift-object
  need swift-ring-builder swift; need memcached memcached; need curl curl
  need runuser util-linux; need flock util-linux
  "$PY" -c 'import swift.obj.expirer, swift.container.updater' 2>/dev/null || die "python3-swift not importable by $PY: run apt-get install python3-swift"
}

# PIDs of every process of this instance (found by the environment tag).
instance_pids() {
  { grep -lzxF "SWIFTFS_AIO_INSTANCE=$DIR" /proc/[0-9]*/environ 2>/dev/null || :; } |
    sed 's|^/proc/\([0-9]*\)/environ$|\1|' | grep -vx -e $$ -e "$BASHPID" || :
}
alive() {  # daemon: its pid file names a live, non-zombie process
  local p; p=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  case $(ps -o stat= -p "$p" 2>/dev/null) in ''|Z*) return 1 ;; esac
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Login as test:tester, then create and delete a container: proves that the
# proxy, memcached (tokens), TempAuth and all three backends work.
probe() {
  local h tok surl c="swiftfs-aio-probe-$$"
  curl -fsS -m 5 "$URL/healthcheck" -o /dev/null 2>/dev/null || return 1
  h=$(curl -fsS -m 10 -D - -o /dev/null -H 'X-Auth-User: test:tester' \
        -H 'X-Auth-Key: testing' "$AUTH_URL" 2>/dev/null) || return 1
  tok=$(sed -n 's/^x-auth-token: *//Ip' <<<"$h" | tr -d '\r')
  surl=$(sed -n 's/^x-storage-url: *//Ip' <<<"$h" | tr -d '\r')
  [ -n "$tok" ] && [ -n "$surl" ] || return 1
  curl -fsS -m 10 -X PUT -H "X-Auth-Token: $tok" "$surl/$c" -o /dev/null 2>/dev/null &&
    curl -fsS -m 10 -X DELETE -H "X-Auth-Token: $tok" "$surl/$c" -o /dev/null 2>/dev/null
}
healthy() {
  local d; for d in "${DAEMONS[@]}"; do alive "$d" || return 1; done
  probe
}

show_logs() {
  local f; for f in "$LOG"/*.log; do
    [ -e "$f" ] || { say "no logs in $LOG"; return 0; }
    echo "==> $f <=="; tail -n "${SWIFTFS_AIO_LOG_LINES:-40}" "$f"; echo
  done
}

# ---------------------------------------------------------------- setup ----
write_configs() {
  # swift.conf with a random hash prefix/suffix: created once, kept forever
  # (changing it would make stored data unreachable).
  if [ ! -s "$ETC/swift.conf" ]; then
    rnd() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
    printf '[swift-hash]\nswift_hash_path_prefix = %s\nswift_hash_path_suffix = %s\n\n%s\n' \
      "$(rnd)" "$(rnd)" '[storage-policy:0]
name = Policy-0
default = yes' >"$ETC/swift.conf"
  fi
  # [swift-constraints] is the file's last section, written at each start
  sed -i '/^\[swift-constraints\]/,$d' "$ETC/swift.conf"
  if [ -n "${SWIFTFS_AIO_LISTING_LIMIT:-}" ]; then
    printf '[swift-constraints]\ncontainer_listing_limit = %s\naccount_listing_limit = %s\n' \
      "$SWIFTFS_AIO_LISTING_LIMIT" "$SWIFTFS_AIO_LISTING_LIMIT" >>"$ETC/swift.conf"
  fi
  cat >"$ETC/launch.py" <<'EOF'
# Run a Swift daemon with swift.conf taken from argv[1] instead of /etc/swift.
import runpy, sys
from swift.common import utils        # imports neither constraints nor policies
utils.set_swift_dir(sys.argv[1])      # re-reads the hash prefix/suffix there
if sys.argv[2] == 'object-expirer':   # swift-object-expirer is packaged apart
    from swift.common.daemon import run_daemon
    from swift.obj.expirer import ObjectExpirer
    run_daemon(ObjectExpirer, sys.argv[3], verbose=True)
elif sys.argv[2] == 'container-updater':
    # The stock run_forever forks and monkey-patches per partition and pass
    # (seconds of CPU every pass): sweep in-process instead. The stock sweep
    # also opens every container DB, at most 50 a second, and nothing here
    # runs the replicator that removes deleted containers' DBs (after a
    # week): the scratch containers of bench and test runs (over a thousand)
    # made every pass last many seconds and took a fifth of a core all
    # along, noise under every benchmark figure. So a DB whose files did not
    # change since it was last processed is skipped (all are looked at every
    # 300th pass), and the DB of a container deleted over RECLAIM seconds ago
    # and reported to its account is removed, as the replicator would.
    import os, shutil, time
    from eventlet import Timeout
    from swift.common.daemon import run_daemon
    from swift.common.utils import lock_parent_directory
    from swift.container.backend import ContainerBroker
    from swift.container.updater import ContainerUpdater
    RECLAIM = 60
    def files_sig(dbfile):
        out = []
        for f in (dbfile, dbfile + '.pending'):
            try:
                st = os.stat(f)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)
    class Updater(ContainerUpdater):
        seen = {}
        doomed = set()   # deleted, not yet reclaimable
        passes = 0
        def run_forever(self, *args, **kwargs):
            while True:
                self.run_once(); time.sleep(self.interval)
                self.passes += 1
        def reclaim(self, dbfile):
            """True when dbfile's container is gone for good."""
            broker = ContainerBroker(dbfile, logger=self.logger)
            info, deleted = broker.get_info_is_deleted()
            if not deleted or not info or \
                    info['reported_delete_timestamp'] != info['delete_timestamp']:
                self.doomed.discard(dbfile)
                return False
            if not broker.is_reclaimable(time.time(), RECLAIM):
                self.doomed.add(dbfile)
                return False
            with lock_parent_directory(dbfile):
                shutil.rmtree(os.path.dirname(dbfile), True)
            self.doomed.discard(dbfile)
            self.seen.pop(dbfile, None)
            return True
        def container_sweep(self, path):
            for root, dirs, files in os.walk(path):
                for name in files:
                    if not name.endswith('.db'):
                        continue
                    dbfile = os.path.join(root, name)
                    sig = files_sig(dbfile)
                    if self.passes % 300 and self.seen.get(dbfile) == sig and \
                            dbfile not in self.doomed:
                        continue
                    try:
                        self.process_container(dbfile)
                        if self.reclaim(dbfile):
                            continue
                    except (Exception, Timeout) as e:
                        self.logger.exception("Error processing container %s: %s",
                                              dbfile, e)
                    self.seen[dbfile] = files_sig(dbfile)
    run_daemon(Updater, sys.argv[3], 'container-updater', verbose=True)
else:
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name='__main__')
EOF
  local common="user = swift
swift_dir = $ETC
bind_ip = 127.0.0.1
recon_cache_path = $DIR/cache"
  local backend="$common
workers = 1
log_level = INFO
devices = $SRV
mount_check = false
disable_fallocate = true
fallocate_reserve = 0"
  local s p
  for s in account:$ACCT_PORT container:$CONT_PORT object:$OBJ_PORT; do
    p=${s#*:}; s=${s%%:*}
    cat >"$ETC/$s-server.conf" <<EOF
[DEFAULT]
$backend
bind_port = $p
log_name = $s-server
[pipeline:main]
pipeline = $s-server
[app:$s-server]
use = egg:swift#$s
EOF
  done
  # Account listings/stats (and so the expirer's task queue, which lives in
  # the .expiring_objects account) are only refreshed by the container-updater.
  # Every 5 s, and the expirer every 30 s (Swift: 300 s each): at 2 s they
  # took a sixth of the Swift's CPU during the test suite (nothing there
  # waits for account stats, and expired objects are hidden at once anyway).
  cat >>"$ETC/container-server.conf" <<EOF
[container-updater]
log_name = container-updater
log_level = WARNING
interval = 5
EOF
  cat >>"$ETC/object-server.conf" <<EOF
[object-expirer]
log_name = object-expirer
interval = 30
dequeue_from_legacy = true
internal_client_conf_path = $ETC/internal-client.conf
EOF
  cat >"$ETC/internal-client.conf" <<EOF
[DEFAULT]
$common
log_level = WARNING
[pipeline:main]
pipeline = catch_errors proxy-logging cache symlink proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT
EOF
  for s in catch_errors proxy-logging symlink; do
    printf '[filter:%s]\nuse = egg:swift#%s\n' "$s" "${s//-/_}" >>"$ETC/internal-client.conf"
  done
  # Pipeline of Swift 2.30's sample proxy-server.conf, s3api right before
  # its auth filter (tempauth), as the s3api docs require.
  cat >"$ETC/proxy-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $PORT
workers = $WORKERS
log_name = proxy-server
log_level = INFO
expose_info = true
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats container_sync bulk tempurl ratelimit s3api tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
reseller_prefix = AUTH
token_life = $TOKEN_LIFE
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test_tester2 = testing2
user_test2_tester3 = testing3 .admin
[filter:s3api]
use = egg:swift#s3api
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true
EOF
  for s in catch_errors gatekeeper healthcheck proxy-logging listing_formats \
      container_sync bulk tempurl ratelimit copy container-quotas account-quotas \
      slo dlo symlink; do  # egg names use "_" where section names use "-"
    printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$s" "${s//-/_}" >>"$ETC/proxy-server.conf"
  done
}

# One-replica rings (part power 10, one device d1); rebuilt when ports change.
build_rings() {
  local want="$ACCT_PORT $CONT_PORT $OBJ_PORT" s p
  [ "$(cat "$ETC/rings.ports" 2>/dev/null)" = "$want" ] && return 0
  for s in account:$ACCT_PORT container:$CONT_PORT object:$OBJ_PORT; do
    p=${s#*:}; s=${s%%:*}
    rm -f "$ETC/$s.builder" "$ETC/$s.ring.gz"
    (  # in parallel: each swift-ring-builder run costs ~0.5 s of start-up
      swift-ring-builder "$ETC/$s.builder" create 10 1 1 &&
      swift-ring-builder "$ETC/$s.builder" add --region 1 --zone 1 \
        --ip 127.0.0.1 --port "$p" --device d1 --weight 100 &&
      { swift-ring-builder "$ETC/$s.builder" rebalance || [ $? -eq 1 ]; }  # 1 = warnings
    ) >"$LOG/ring-$s.out" 2>&1 &
  done
  wait
  for s in account container object; do
    [ -s "$ETC/$s.ring.gz" ] || { cat "$LOG/ring-$s.out" >&2; die "building the $s ring failed"; }
  done
  rm -f "$LOG"/ring-*.out
  echo "$want" >"$ETC/rings.ports"
}

# Serialise start/stop/wipe of one instance (e.g. tests run in parallel).
lock() {
  if [ -d "$DIR" ] && [ ! -e "$DIR/.swiftfs-aio" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR exists and is not a swift-aio state folder; refusing to use it"
  fi
  mkdir -p "$DIR"; touch "$DIR/.swiftfs-aio"
  exec 9>>"$DIR/.lock"
  flock -w $((TIMEOUT + 60)) 9 || die "timed out waiting for the lock on $DIR"
}

setup() {
  id swift >/dev/null 2>&1 || useradd --system --no-create-home \
    --home-dir /var/lib/swift --shell /usr/sbin/nologin swift
  mkdir -p "$ETC" "$RUN" "$LOG" "$SRV/d1" "$DIR/cache"
  chmod 755 "$DIR" "$ETC" "$SRV"
  # recursively only when a folder is not swift's yet (a new instance): the
  # daemons create everything below as swift, and walking the hundreds of
  # thousands of files of a used instance took a minute and a half
  local d
  for d in "$SRV" "$SRV/d1" "$DIR/cache"; do
    [ "$(stat -c %U "$d")" = swift ] || chown -R swift:swift "$d"
  done
  runuser -u swift -- test -w "$SRV/d1" </dev/null ||
    die "user swift cannot write $SRV/d1 (is a parent folder private?)"
  write_configs
  build_rings
}

NOSYNC_LIB=/usr/lib/x86_64-linux-gnu/libeatmydata.so
launch() {  # name command...: detached, tagged, output appended to its log
  local name=$1; shift
  local preload=${LD_PRELOAD:-}
  if [ "${SWIFTFS_AIO_NOSYNC:-0}" = 1 ]; then
    [ -e "$NOSYNC_LIB" ] || die "SWIFTFS_AIO_NOSYNC=1 needs $NOSYNC_LIB: apt-get install eatmydata"
    preload=$NOSYNC_LIB
  fi
  echo "=== $(date '+%F %T') starting $name" >>"$LOG/$name.log"
  LD_PRELOAD=$preload SWIFTFS_AIO_INSTANCE=$DIR setsid "$@" </dev/null >>"$LOG/$name.log" 2>&1 9>&- &
  echo $! >"$RUN/$name.pid"
}

# ------------------------------------------------------------- commands ----
do_start() {
  check_deps
  if [ -n "$(instance_pids)" ]; then
    if healthy; then say "already running on $URL"; return 0; fi
    say "instance in $DIR is half-running: cleaning up"; do_stop
  fi
  local p
  for p in "$PORT" "$OBJ_PORT" "$CONT_PORT" "$ACCT_PORT" "$MC_PORT"; do
    ! port_busy "$p" || die "port 127.0.0.1:$p is already in use (choose another SWIFTFS_AIO_PORT)"
  done
  setup
  local run=("$PY" "$ETC/launch.py" "$ETC") s
  launch memcached memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 -u swift -v
  for s in account container object proxy; do
    launch "$s" "${run[@]}" "$(command -v "swift-$s-server")" "$ETC/$s-server.conf" -v
  done
  local deadline=$((SECONDS + TIMEOUT)) d
  until probe; do
    for d in memcached account container object proxy; do
      alive "$d" || { show_logs >&2; do_stop >&2; die "$d exited during start-up (logs above)"; }
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      show_logs >&2; do_stop >&2
      die "Swift not ready on $URL after ${TIMEOUT}s (logs above)"
    fi
    sleep 0.5
  done
  # background daemons last, so that they do not log errors while the rest starts
  launch updater "${run[@]}" container-updater "$ETC/container-server.conf"
  launch expirer "${run[@]}" object-expirer "$ETC/object-server.conf"
  say "running: $AUTH_URL (state $DIR)"
}

do_stop() {
  local pids _
  pids=$(instance_pids)
  if [ -z "$pids" ]; then say "not running ($DIR)"; rm -f "$RUN"/*.pid; return 0; fi
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 50); do
    pids=$(instance_pids); [ -z "$pids" ] && break; sleep 0.2
  done
  # shellcheck disable=SC2086
  [ -z "$pids" ] || { say "killing stragglers: $pids"; kill -KILL $pids 2>/dev/null || true; sleep 0.5; }
  rm -f "$RUN"/*.pid
  say "stopped ($DIR)"
}

do_status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if alive "$d"; then echo "$d: running (pid $(cat "$RUN/$d.pid"))"
    else echo "$d: stopped"; rc=3; fi
  done
  if probe; then echo "healthy: $AUTH_URL"; else echo "not healthy: $AUTH_URL"; rc=3; fi
  return "$rc"
}

do_env() {  # ACCOUNT:USER (default test:tester, the test account's .admin)
  local u=${1:-test:tester} k
  case $u in
    test:tester) k=testing ;; test:tester2) k=testing2 ;;
    test2:tester3) k=testing3 ;; admin:admin) k='admin' ;;
    *) die "unknown user $u (test:tester, test:tester2, test2:tester3, admin:admin)" ;;
  esac
  printf 'export ST_AUTH=%s\nexport ST_USER=%s\nexport ST_KEY=%s\n' "$AUTH_URL" "$u" "$k"
}

do_wipe() {
  do_stop
  [ -e "$DIR" ] || return 0
  [ -e "$DIR/.swiftfs-aio" ] || die "$DIR is not a swift-aio state folder; not removing it"
  rm -rf -- "$DIR"; say "removed $DIR"
}

case ${1:-} in
  start) lock; do_start ;;
  stop) [ ! -d "$DIR" ] || lock; do_stop ;;
  restart) lock; do_stop; do_start ;;
  status) do_status ;;
  env) do_env "${2:-}" ;;
  logs) show_logs ;;
  wipe) [ ! -d "$DIR" ] || lock; do_wipe ;;
  *) echo "usage: $0 start|stop|restart|status|env [ACCOUNT:USER]|logs|wipe" >&2; exit 2 ;;
esac
