#!/bin/sh
# Build the Debian package: dpkg-buildpackage wants the packaging in
# ./debian, which the source tree keeps in packaging/debian. So copy the
# tree (the files git knows, plus new ones not ignored) to a temporary
# folder, put packaging/debian there as debian/, and build there.
#   packaging/build-deb.sh [OUTDIR]     (default OUTDIR: ./dist)
# The .deb (and .buildinfo/.changes) land in OUTDIR.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/swiftfs-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree="$work/swiftfs"
mkdir "$tree"
cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$tree" -xf -
else
	tar --exclude='./build*' --exclude=./dist -cf - . | tar -C "$tree" -xf -
fi
rm -rf "$tree/debian"
cp -a "$src/packaging/debian" "$tree/debian"
cd "$tree"
dpkg-buildpackage -us -uc -b
cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
ls "$out"/*.deb
