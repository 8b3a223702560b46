#!/usr/bin/env bash
# Build a minimal Debian bookworm root filesystem from Debian's packages (debootstrap)
# and import it into the Docker engine as a local image. No image registry is needed.
#
#   images/debian-bookworm/build.sh            # build once; reuse the image when present
#   ENVSYNC_BASE_REBUILD=1 images/debian-bookworm/build.sh   # build again
#
# Environment:
#   ENVSYNC_BASE_TAG        image tag to create (default envsync/debian:bookworm)
#   ENVSYNC_DEBIAN_MIRROR   Debian mirror URL (default: the first `URIs:`/`deb` line of this
#                           machine's own apt sources, so the image uses what the host uses)
#   ENVSYNC_BASE_REBUILD    set to 1 to rebuild even if the tag exists
set -euo pipefail

tag="${ENVSYNC_BASE_TAG:-envsync/debian:bookworm}"
suite=bookworm

if [ "${ENVSYNC_BASE_REBUILD:-0}" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag present; reusing it (ENVSYNC_BASE_REBUILD=1 rebuilds)"
  exit 0
fi

# The host's own Debian mirror: deb822 sources first, then the one-line format.
host_mirror() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' "$f" && return 0
  done | head -n 1
  if [ -f /etc/apt/sources.list ]; then
    awk '$1 == "deb" && $2 !~ /security/ { print ($2 ~ /^\[/ ? $3 : $2); exit }' /etc/apt/sources.list
  fi
}
mirror="${ENVSYNC_DEBIAN_MIRROR:-$(host_mirror | head -n 1)}"
if [ -z "$mirror" ]; then
  echo "error: no Debian mirror found in /etc/apt/sources.list*; set ENVSYNC_DEBIAN_MIRROR" >&2
  exit 2
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  else
    echo "error: debootstrap is missing; install it with \`apt-get install debootstrap\` (as root)" >&2
    exit 2
  fi
fi

work="$(mktemp -d /var/tmp/envsync-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "debootstrap $suite (minbase) from the host's Debian mirror into $rootfs"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  echo "error: debootstrap failed; last lines of its log:" >&2
  tail -n 20 "$work/debootstrap.log" >&2
  exit 2
}

# Same suites as a Debian image: main, updates and security, from the same mirror host.
security="${mirror%/debian}/debian-security"
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES

# Container-friendly apt: no recommends, no caches kept in layers, no man pages.
cat >"$rootfs/etc/apt/apt.conf.d/90envsync" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90envsync" <<'DPKG'
path-exclude=/usr/share/man/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/locale/*
DPKG
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
: >"$rootfs/etc/hostname"
echo "nameserver 127.0.0.1" >"$rootfs/etc/resolv.conf"

echo "importing into the engine as $tag"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV LANG=C.UTF-8' \
  --message "envsync base: debootstrap --variant=minbase $suite" \
  - "$tag" >/dev/null
echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1/1e6 }')) in $SECONDS s"
