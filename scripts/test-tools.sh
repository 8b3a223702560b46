#!/usr/bin/env bash
# Install the oracle and peer tools the tests run, when missing: dpkg (Debian ordering),
# python3 with pip (PEP 440 via pip's vendored packaging), node with npm (node-semver),
# the OpenSSH client (SSH targets), rpm (RPM ordering), apt-utils (apt-ftparchive indexes
# the apt repository tests serve themselves). Debian packages only; as root.
set -euo pipefail
missing=()
command -v dpkg >/dev/null || missing+=(dpkg)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
python3 -c 'import pip._vendor.packaging' 2>/dev/null || missing+=(python3-pip)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v ssh >/dev/null || missing+=(openssh-client)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v rpm >/dev/null || missing+=(rpm)
command -v apt-ftparchive >/dev/null || missing+=(apt-utils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing test tools: ${missing[*]}; install them with apt-get (as root)" >&2
    exit 1
  fi
  echo "installing test tools: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/tmp/envsync-test-tools.log 2>&1 || {
    apt-get update -q >>/tmp/envsync-test-tools.log 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>/tmp/envsync-test-tools.log 2>&1
  }
fi
