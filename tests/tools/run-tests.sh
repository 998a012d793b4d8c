#!/usr/bin/env bash
# README command two: the whole test suite, from a fresh clone on a fresh
# Debian 12 machine (as root). Installs what is missing, builds swiftfs
# twice (optimized, and with AddressSanitizer + UndefinedBehaviorSanitizer),
# runs the C unit tests of both builds, then the pytest integration suite
# against a real local Swift with each binary. Fails loudly when Swift or
# FUSE is missing; never skips.
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
# The test Swifts and Keystone started by the first pass serve the second
# too (start-up is ~30 s); the second pass stops them, unless the caller
# keeps them (SWIFTFS_TEST_KEEP_SWIFT=1).
keep=${SWIFTFS_TEST_KEEP_SWIFT:-0}
state=${SWIFTFS_TEST_STATE:-/var/tmp}
stop_servers() {
  [ "$keep" = 1 ] && return 0
  KEYSTONE_AIO_DIR=$state/swiftfs-test-keystone tests/tools/keystone-aio.sh stop >/dev/null 2>&1 || :
  local n; for n in main short; do
    SWIFTFS_AIO_DIR=$state/swiftfs-test-$n tests/tools/swift-aio.sh stop >/dev/null 2>&1 || :
  done
}
trap stop_servers EXIT
# The package test builds, installs and mounts its own .deb (what the
# binary under test is does not matter to it): it runs in the second pass.
deb_test=tests/integration/test_production.py::test_deb_builds_installs_and_mounts
rc=0
echo "== integration tests, ASan+UBSan build (the .deb test runs in the optimized pass)"
SWIFTFS_TEST_KEEP_SWIFT=1 SWIFTFS_BIN=$top/build-asan/swiftfs /usr/bin/python3 -m pytest -ra \
  -p no:cacheprovider --deselect "$deb_test" tests/integration "$@" || rc=$?
echo "== integration tests, optimized build"
SWIFTFS_TEST_KEEP_SWIFT=$keep SWIFTFS_BIN=$top/build/swiftfs /usr/bin/python3 -m pytest -ra \
  -p no:cacheprovider tests/integration "$@" || rc=$?
exit $rc
