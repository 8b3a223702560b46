#!/usr/bin/env bash
# `up` on an environment that is already up (nothing to do), envsync against the dev
# containers CLI (`devcontainer up`), on the same engine with equivalent configurations:
# one container from envsync/debian:bookworm with the same workspace directory mounted
# at /workspaces/<name>. Prints both medians and the ratio.
#
#   scripts/bench-up.sh              # 9 timed runs each, release builds
#   RUNS=21 scripts/bench-up.sh
#   PROFILE=debug scripts/bench-up.sh   # quicker to build, slower to run
#
# envsync is timed two ways: `envsync up` as a whole process (manifest, image reuse
# checks, engine state, nothing to do), which is what `devcontainer up` is measured as,
# and the provisioner's `up()` alone inside one process (the `bench_up` example,
# crates/envsync-provisioner/examples/bench_up.rs). The dev containers CLI is installed
# with npm into a temporary directory (ENVSYNC_BENCH_TOOLS reuses a directory instead).
set -euo pipefail

runs="${RUNS:-9}"
image="${ENVSYNC_BASE_TAG:-envsync/debian:bookworm}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
ca=/etc/ssl/certs/ca-certificates.crt

docker image inspect "$image" >/dev/null 2>&1 || {
  echo "error: base image $image is missing; build it with \`just base-image\`" >&2
  exit 2
}

profile="${PROFILE:-release}"
case "$profile" in
  release) flag=(--release) ;;
  debug) flag=() ;;
  *) echo "error: PROFILE must be release or debug, not \`$profile\`" >&2; exit 2 ;;
esac
echo "building envsync and the bench binary ($profile)"
(cd "$root" && cargo build --quiet "${flag[@]}" --locked -p envsync -p envsync-provisioner --example bench_up)
envsync="$target/$profile/envsync"
bench_up="$target/$profile/examples/bench_up"

tools="${ENVSYNC_BENCH_TOOLS:-}"
cleanup_tools=""
if [ -z "$tools" ]; then
  tools="$(mktemp -d)"
  cleanup_tools="$tools"
fi
if [ ! -x "$tools/node_modules/.bin/devcontainer" ]; then
  echo "installing the dev containers CLI with npm into $tools"
  (cd "$tools" && NODE_EXTRA_CA_CERTS="$ca" npm_config_cafile="$ca" \
    npm install --silent --no-audit --no-fund @devcontainers/cli >/dev/null)
fi
devcontainer="$tools/node_modules/.bin/devcontainer"

work="$(mktemp -d)"
ws_envsync="$work/ws-envsync"
ws_devc="$work/ws-devcontainer"
ws_inproc="$work/ws-inproc"
mkdir -p "$ws_envsync" "$ws_inproc" "$ws_devc/.devcontainer"
printf '{ "name": "bench", "image": "%s" }\n' "$image" >"$ws_devc/.devcontainer/devcontainer.json"
project="bench-up-$$"
# The same single container for envsync: the base image, the workspace mounted where
# dev containers mount it.
cat >"$ws_envsync/envsync.toml" <<TOML
[project]
name = "$project"

[base]
image = "$image"
TOML
up_cli=("$envsync" up -m "$ws_envsync/envsync.toml" --workdir "/workspaces/$(basename "$ws_envsync")")

cleanup() {
  "$envsync" down --volumes --project "$project" >/dev/null 2>&1 || true
  "$bench_up" --down "$project-inproc" >/dev/null 2>&1 || true
  ids="$(docker ps -aq --filter "label=devcontainer.local_folder=$ws_devc")"
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  rm -rf "$work"
  [ -z "$cleanup_tools" ] || rm -rf "$cleanup_tools"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Wall time of one command in ms, from bash's own clock (no extra processes timed).
time_cmd() {
  local start end
  start="$EPOCHREALTIME"
  "$@" >/dev/null 2>&1 || echo "error: \`$*\` failed" >&2
  end="$EPOCHREALTIME"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
}

echo "first up of each (not timed)"
"${up_cli[@]}" >/dev/null 2>&1
"$bench_up" "$project-inproc" "$ws_inproc" 0 >/dev/null
NODE_EXTRA_CA_CERTS="$ca" "$devcontainer" up --workspace-folder "$ws_devc" >/dev/null 2>&1

echo "timing $runs no-change runs of each"
"${up_cli[@]}" --check >/dev/null || { echo "error: a second \`envsync up\` would still change something" >&2; exit 2; }
envsync_proc="$(for _ in $(seq "$runs"); do time_cmd "${up_cli[@]}"; done | median)"
envsync_inproc="$("$bench_up" "$project-inproc" "$ws_inproc" "$runs" | median)"
devc="$(for _ in $(seq "$runs"); do time_cmd env NODE_EXTRA_CA_CERTS="$ca" "$devcontainer" up --workspace-folder "$ws_devc"; done | median)"

printf '\n%-44s %12s\n' "no-change up, median of $runs" "ms"
printf '%-44s %12s\n' "envsync up (whole process, $profile)" "$envsync_proc"
printf '%-44s %12s\n' "provisioner up() alone (in process)" "$envsync_inproc"
printf '%-44s %12s\n' "devcontainer up (whole process)" "$devc"
awk -v e="$envsync_proc" -v d="$devc" 'BEGIN { printf "ratio devcontainer / envsync (whole process): %.0fx (goal: at least 10x)\n", d / e }'
