# envsync recipes: what a person runs, and everything CI runs (.ci/run calls `just ci`).
# Run `just` for the list.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list

# Make a Docker engine answer (installs Debian's docker.io and starts dockerd as root when none does)
engine:
    @bash scripts/engine.sh

# Build the Debian bookworm base image from Debian's packages, once (reused when present)
base-image: engine
    @bash images/debian-bookworm/build.sh

# Debian package indexes on this machine (the dpkg ordering oracle reads them)
apt-lists:
    @ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || apt-get update -q

# Tools the tests use as oracles or peers: dpkg, python3 with pip, the newest packaging, node with npm, ssh, rpm, apt-ftparchive, PostgreSQL
test-tools:
    @bash scripts/test-tools.sh

# Formatting and lints, as CI checks them
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Documentation as CI checks it: doctests (nextest skips them) and rustdoc with warnings denied
docs:
    cargo test --doc --workspace --locked
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Dependencies a crate declares but never names (installs cargo-machete once when missing)
unused-deps:
    bash scripts/machete.sh

# Every test, the Docker ones included (starts the engine and builds the base image first)
test: engine base-image apt-lists test-tools lint
    CI="${CI:-true}" bash scripts/run-tests.sh

# An engine with no images of earlier runs (restarts envsync's own dockerd on an empty data root)
fresh-engine:
    @bash scripts/engine.sh --fresh

# What .ci/run runs on a fresh clone: the cheap static checks first, then every test from an
# engine that starts empty
ci: lint docs unused-deps fresh-engine test

# Functions over 80 lines in non-test sources, and whether a reason is written beside each
long-functions:
    python3 scripts/long-functions.py

# Fuzz every parser of untrusted bytes with libFuzzer on stable, >= 10^6 inputs each (not part of ci: minutes per target)
fuzz *targets:
    bash scripts/fuzz.sh {{targets}}

# Man pages for envsync and each command, into target/man (`man target/man/envsync-up.1`)
man:
    cargo run -q --locked -- man target/man

# The main job, end to end, against the real engine
demo: engine base-image
    cargo build --release --locked
    bash scripts/demo.sh

# Benchmarks: print envsync's times beside their goals or peers' and the ratios (e.g. `just bench diff up`)
bench *which: engine base-image
    cargo build --release --locked
    bash scripts/bench.sh {{which}}
