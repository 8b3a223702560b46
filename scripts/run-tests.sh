#!/usr/bin/env bash
# Run every test in the workspace. nextest when available (oracle tests print their
# counts through .config/nextest.toml), else cargo test.
set -euo pipefail
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
