#!/usr/bin/env bash
# README command two: the whole test suite, from a fresh clone on a fresh
# Debian 12 machine (as root). Installs what is missing, builds swiftfs
# twice (optimized, and with AddressSanitizer + UndefinedBehaviorSanitizer),
# runs the C unit tests of both builds, then the pytest integration suite
# against a real local Swift with each binary, the two side by side. Fails
# loudly when Swift or FUSE is missing; never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD

tests/tools/install-deps.sh

setup() {  # builddir [meson options...]
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir"
}
setup build
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

echo "== unit tests"
meson test -C build --suite unit --print-errorlogs
meson test -C build-asan --suite unit --print-errorlogs

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87
# The two passes run side by side, each with Swifts and a Keystone of its
# own (state folder and ports): on two cores a pass keeps the CPUs about
# 40% busy, most of its time being Swift's and the tests' waits, so this
# takes the suite from two passes' time to little more than one's. The
# servers are stopped at the end unless the caller keeps them
# (SWIFTFS_TEST_KEEP_SWIFT=1).
keep=${SWIFTFS_TEST_KEEP_SWIFT:-0}
state=${SWIFTFS_TEST_STATE:-/var/tmp}
asan_state=$state/swiftfs-asan-pass
mkdir -p "$asan_state"
stop_servers() {
  [ "$keep" = 1 ] && return 0
  local s n
  for s in "$state" "$asan_state"; do
    KEYSTONE_AIO_DIR=$s/swiftfs-test-keystone tests/tools/keystone-aio.sh stop >/dev/null 2>&1 || :
    for n in main short; do
      SWIFTFS_AIO_DIR=$s/swiftfs-test-$n tests/tools/swift-aio.sh stop >/dev/null 2>&1 || :
    done
  done
}
asan_pid=
tmp_opt= tmp_asan=
on_exit() {
  [ -z "$asan_pid" ] || kill "$asan_pid" 2>/dev/null || :
  stop_servers
  # what a failed test left mounted stays, with its folder
  [ -z "$tmp_opt" ] || rm -rf --one-file-system "$tmp_opt" 2>/dev/null || :
  [ -z "$tmp_asan" ] || rm -rf --one-file-system "$tmp_asan" 2>/dev/null || :
}
trap on_exit EXIT
# The package test builds, installs and mounts its own .deb (what the
# binary under test is does not matter to it): it runs in the optimized pass.
deb_test=tests/integration/test_production.py::test_deb_builds_installs_and_mounts
# Each pass has its own pytest temporary root: pytest's clean-up of old
# numbered folders in a shared /tmp/pytest-of-$USER once renamed a folder the
# other pass still had a mount in (its unmount then failed). Short paths:
# a test binds an AF_UNIX socket there (108 bytes at most).
tmp_opt=$(mktemp -d /tmp/swiftfs-pt.XXXXXX)
tmp_asan=$(mktemp -d /tmp/swiftfs-pt.XXXXXX)
asan_log=$asan_state/pytest.log
echo "== integration tests: the ASan+UBSan pass runs in the background (its output follows the"
echo "   optimized pass's; it is also in $asan_log)"
SWIFTFS_TEST_STATE=$asan_state SWIFTFS_TEST_PORT=$((${SWIFTFS_TEST_PORT:-18480} + 1000)) \
  SWIFTFS_TEST_PORT2=$((${SWIFTFS_TEST_PORT2:-18580} + 1000)) \
  SWIFTFS_TEST_KEYSTONE_PORT=$((${SWIFTFS_TEST_KEYSTONE_PORT:-18780} + 1000)) \
  SWIFTFS_TEST_KEYSTONE_SWIFT_PORT=$((${SWIFTFS_TEST_KEYSTONE_SWIFT_PORT:-18790} + 1000)) \
  PYTEST_DEBUG_TEMPROOT=$tmp_asan \
  SWIFTFS_TEST_KEEP_SWIFT=1 SWIFTFS_BIN=$top/build-asan/swiftfs /usr/bin/python3 -m pytest -ra \
  -p no:cacheprovider --deselect "$deb_test" tests/integration "$@" >"$asan_log" 2>&1 </dev/null &
asan_pid=$!
rc=0
echo "== integration tests, optimized build"
PYTEST_DEBUG_TEMPROOT=$tmp_opt \
  SWIFTFS_TEST_KEEP_SWIFT=1 SWIFTFS_BIN=$top/build/swiftfs /usr/bin/python3 -m pytest -ra \
  --durations=15 -p no:cacheprovider tests/integration "$@" || rc=$?
asan_rc=0
wait "$asan_pid" || asan_rc=$?
asan_pid=
echo "== integration tests, ASan+UBSan build (ran beside the optimized pass)"
cat "$asan_log"
[ "$asan_rc" = 0 ] || rc=$asan_rc
exit $rc
