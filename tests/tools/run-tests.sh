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
rc=0
echo "== integration tests, ASan+UBSan build"
SWIFTFS_BIN=$top/build-asan/swiftfs /usr/bin/python3 -m pytest -ra -p no:cacheprovider \
  tests/integration "$@" || rc=$?
echo "== integration tests, optimized build"
SWIFTFS_BIN=$top/build/swiftfs /usr/bin/python3 -m pytest -ra -p no:cacheprovider \
  tests/integration "$@" || rc=$?
exit $rc
