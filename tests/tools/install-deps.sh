#!/usr/bin/env bash
# Install what swiftfs needs to build, run and be tested, from Debian's
# archive (Debian 12). Idempotent: installs only what is missing.
set -euo pipefail
PKGS=(
  # build
  gcc meson ninja-build pkg-config libfuse3-dev libcurl4-openssl-dev libxml2-dev libssl-dev
  libjson-c-dev
  # run
  fuse3 ca-certificates
  # test: a real Swift, its client, pytest and tools the tests call
  swift swift-proxy swift-account swift-container swift-object memcached
  python3-swiftclient python3-pytest curl openssl attr procps
  rsync git tar python3-zarr python3-xarray python3-numcodecs python3-numpy
  # test: Keystone v3 (tests/tools/keystone-aio.sh) and the Swift proxy middleware for it
  keystone python3-keystone python3-keystonemiddleware python3-keystoneclient
  # test: packaging (the .deb is built and installed, the RPM spec parsed), systemd units
  # verified, the man page rendered
  debhelper dpkg-dev fakeroot rpm systemd man-db groff-base
  # benchmark peers (tests/bench)
  rclone s3fs
)
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (apt-get install)" >&2
  exit 1
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
