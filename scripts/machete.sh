#!/usr/bin/env bash
# Unused dependencies, found by cargo-machete: every crate's [dependencies] must be named
# in its sources. No prebuilt cargo-machete is published on PyPI, so the pinned version
# is built from crates.io with `cargo install --locked` the first time (a few minutes on
# two cores) into cargo's bin directory, where later runs find it.
# cargo-machete reads only [dependencies]; dev-dependencies are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.9.2
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"
if [ "$(cargo-machete --version 2>/dev/null)" != "$version" ]; then
  echo "installing cargo-machete $version (cargo install --locked); once per machine" >&2
  cargo install cargo-machete --version "$version" --locked --quiet
fi
exec cargo machete --skip-target-dir
