#!/usr/bin/env bash
# Install the oracle and peer tools the tests run, when missing: dpkg (Debian ordering),
# python3 with pip (PEP 440 via pip's vendored packaging), node with npm (node-semver),
# the OpenSSH client (SSH targets), openssl, docker-registry and apache2-utils (the
# registry and TLS engine tests), rpm (RPM ordering), tmux (drives an interactive `exec`),
# runuser and useradd (`up` as a user other than root), apt-utils (apt-ftparchive indexes
# the apt repository tests serve themselves), postgresql (the history store's PostgreSQL
# tests start their own server from it), chromium (renders the HTML report headless),
# from Debian's packages as root; then the
# newest `packaging` from PyPI, with the sdist of that release (its own tests are read as
# test data), `jsonschema` (validates the SARIF output against the OASIS schema),
# `ansible-core` (`ansible-inventory --list` is the oracle of inventory parsing) and
# `prometheus_client` (parses the OpenMetrics output), in a virtualenv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/envsync-oracles.
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
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
command -v tmux >/dev/null || missing+=(tmux)
command -v runuser >/dev/null || missing+=(util-linux)
command -v useradd >/dev/null || missing+=(passwd)
# Remote parts (crates/envsync-testsupport/src/remote.rs): certificates, a TLS registry
# with htpasswd (bcrypt) auth, a second dockerd; and sshd for the ssh:// engine fixture.
command -v openssl >/dev/null || missing+=(openssl)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v dockerd >/dev/null || missing+=(docker.io)
command -v ip >/dev/null || missing+=(iproute2)
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

# The current PEP 440 rules: the newest `packaging` in a virtualenv of its own, and the
# sdist of the same release. An upgrade that cannot reach the registry keeps what is there.
oracles="${XDG_CACHE_HOME:-$HOME/.cache}/envsync-oracles"
venv="$oracles/venv"
pip_args=(--quiet --disable-pip-version-check)
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  pip_args+=(--cert /etc/ssl/certs/ca-certificates.crt)
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -c 'import ensurepip' 2>/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >>/tmp/envsync-test-tools.log 2>&1
  }
  python3 -m venv "$venv"
fi
# jsonschema validates envsync's SARIF output against the OASIS schema.
if ! "$venv/bin/python" -c 'import jsonschema' 2>/dev/null; then
  "$venv/bin/python" -m pip install "${pip_args[@]}" jsonschema || {
    echo "error: could not install jsonschema into $venv" >&2
    exit 1
  }
fi
# ansible-core: `ansible-inventory --list` and `ansible PATTERN --list-hosts` are the
# oracles of inventory parsing; prometheus_client's parsers check the OpenMetrics output.
if [ ! -x "$venv/bin/ansible-inventory" ] || ! "$venv/bin/python" -c 'import prometheus_client' 2>/dev/null; then
  "$venv/bin/python" -m pip install "${pip_args[@]}" ansible-core prometheus_client || {
    echo "error: could not install ansible-core and prometheus_client into $venv" >&2
    exit 1
  }
fi
if ! "$venv/bin/python" -m pip install "${pip_args[@]}" --upgrade packaging; then
  "$venv/bin/python" -c 'import packaging' 2>/dev/null || {
    echo "error: could not install packaging into $venv" >&2
    exit 1
  }
  echo "warning: could not upgrade packaging in $venv; keeping the one installed" >&2
fi
release="$("$venv/bin/python" -c 'import packaging; print(packaging.__version__)')"
if [ ! -f "$oracles/sdist/packaging-$release.tar.gz" ]; then
  rm -rf "$oracles/sdist"
  "$venv/bin/python" -m pip download "${pip_args[@]}" --no-deps --no-binary :all: \
    --dest "$oracles/sdist" "packaging==$release"
fi
echo "packaging oracle: $release in $venv (test tools ready in $SECONDS s)"
