#!/usr/bin/env bash
# README command one: on a fresh Debian 12 machine (as root), install what
# is needed, build swiftfs, start a local Swift on 127.0.0.1:18080, fill a
# demo container and mount it. Running it again is harmless.
#   usage: tests/tools/demo.sh [MOUNTPOINT]     (default /mnt/swiftfs-demo)
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
mp=${1:-/mnt/swiftfs-demo}

tests/tools/install-deps.sh
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build >/dev/null
echo "demo: built $top/build/swiftfs"

tests/tools/swift-aio.sh start
export ST_AUTH=http://127.0.0.1:18080/auth/v1.0 ST_USER=test:tester ST_KEY=testing

if ! swift stat demo >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  mkdir -p "$tmp/docs" "$tmp/data/2024/run1" "$tmp/empty-folder"
  echo "Hello from Swift, through swiftfs." >"$tmp/hello.txt"
  printf '# notes\nObjects with a / in their name show as folders.\n' >"$tmp/docs/notes.md"
  seq 1 100000 >"$tmp/data/2024/run1/numbers.txt"
  head -c 8388608 /dev/urandom >"$tmp/data/2024/run1/random.bin"
  # the swift CLI uploads an empty folder as a directory marker object
  (cd "$tmp" && swift upload demo hello.txt docs data empty-folder >/dev/null)
  swift upload --use-slo -S 1048576 --object-name big/slo.bin demo "$tmp/data/2024/run1/random.bin" >/dev/null
  rm -rf "$tmp"
  echo "demo: container 'demo' created"
fi

mkdir -p "$mp"
if mountpoint -q "$mp"; then
  echo "demo: $mp is already mounted"
else
  build/swiftfs demo "$mp"
fi
echo
ls -l "$mp"
cat <<MSG

demo: container 'demo' is mounted on $mp (read-write)
  look around:  ls -lR $mp; cat $mp/hello.txt
  unmount:      fusermount3 -u $mp
  stop Swift:   tests/tools/swift-aio.sh stop      (wipe its data: tests/tools/swift-aio.sh wipe)
  credentials:  export ST_AUTH=$ST_AUTH ST_USER=$ST_USER ST_KEY=$ST_KEY
MSG
