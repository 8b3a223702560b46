#!/usr/bin/env bash
# Benchmark `envsync build` against `docker build` (legacy builder) of the same
# generated Dockerfile and context: a cold build (no layer cache) and the no-change
# rebuild (envsync: content address found, nothing sent; docker: every step cached).
#
#   scripts/bench-build.sh                       # small default manifest (apt + a file)
#   BENCH_MANIFEST=path/envsync.toml scripts/bench-build.sh
#
# Environment:
#   ENVSYNC_BIN      envsync binary (default: target/release/envsync, built when missing)
#   BENCH_MANIFEST   manifest to build (default: a generated one on envsync/debian:bookworm)
#   BENCH_RUNS       no-change runs per tool, median reported (default 5)
#   BENCH_SKIP_COLD  set to 1 to measure only the no-change path
# Images the benchmark creates are removed at the end, except the envsync image of a
# BENCH_MANIFEST (it is that project's environment; its layers stay cached).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${BENCH_RUNS:-5}"
bin="${ENVSYNC_BIN:-$root/target/release/envsync}"
if [ ! -x "$bin" ]; then
  echo "building $bin"
  (cd "$root" && cargo build --release --bin envsync)
fi
docker image inspect envsync/debian:bookworm >/dev/null 2>&1 || bash "$root/images/debian-bookworm/build.sh"

work="$(mktemp -d /tmp/envsync-bench.XXXXXX)"
docker_tag="envsync-bench/docker:$$"
envsync_tag=""
cleanup() {
  docker rmi -f "$docker_tag" >/dev/null 2>&1 || true
  if [ -z "${BENCH_MANIFEST:-}" ] && [ -n "$envsync_tag" ]; then
    docker rmi -f "$envsync_tag" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${BENCH_MANIFEST:-}" ]; then
  manifest="$(cd "$(dirname "$BENCH_MANIFEST")" && pwd)/$(basename "$BENCH_MANIFEST")"
else
  manifest="$work/project/envsync.toml"
  mkdir -p "$work/project/config"
  printf 'mode = bench\n' >"$work/project/config/app.ini"
  cat >"$manifest" <<EOF
[project]
name = "bench-$$"

[base]
image = "envsync/debian:bookworm"

[apt]
jq = "*"

[files]
"/etc/bench/app.ini" = "config/app.ini"

[env]
APP_MODE = "bench"

[build]
ca_certificates = ["/etc/ssl/certs/ca-certificates.crt"]
EOF
fi

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1fx", b / a; else print "n/a" }'; }

context="$work/context"
envsync_tag="$("$bin" build --emit-context "$context" -m "$manifest")"
echo "manifest: $manifest"
echo "image:    $envsync_tag"
echo "context:  $(find "$context" -type f | wc -l) files, $(du -sb "$context" | cut -f1) bytes"
echo

if [ "${BENCH_SKIP_COLD:-0}" != 1 ]; then
  docker rmi -f "$envsync_tag" >/dev/null 2>&1 || true
  t0="$(now)"
  "$bin" build --no-cache -m "$manifest" >/dev/null 2>"$work/envsync-cold.err"
  envsync_cold="$(since "$t0")"

  t0="$(now)"
  DOCKER_BUILDKIT=0 docker build --no-cache --rm --force-rm -q -t "$docker_tag" "$context" >/dev/null 2>"$work/docker-cold.err"
  docker_cold="$(since "$t0")"
  echo "cold build (no layer cache)"
  printf '  envsync build --no-cache   %8.3f s\n' "$envsync_cold"
  printf '  docker build --no-cache    %8.3f s\n' "$docker_cold"
  echo "  envsync / docker: $(awk -v a="$envsync_cold" -v b="$docker_cold" 'BEGIN { printf "%.2f", a / b }')"
  echo
else
  "$bin" build -m "$manifest" >/dev/null 2>&1
  DOCKER_BUILDKIT=0 docker build -q -t "$docker_tag" "$context" >/dev/null 2>&1
fi

for _ in $(seq "$runs"); do
  t0="$(now)"
  "$bin" build -m "$manifest" >"$work/envsync-warm.out"
  since "$t0"; echo
done | median >"$work/envsync-warm"
grep -q "nothing to build" "$work/envsync-warm.out" || { echo "error: envsync rebuilt on unchanged inputs" >&2; exit 2; }
for _ in $(seq "$runs"); do
  t0="$(now)"
  DOCKER_BUILDKIT=0 docker build -q -t "$docker_tag" "$context" >/dev/null 2>&1
  since "$t0"; echo
done | median >"$work/docker-warm"
envsync_warm="$(cat "$work/envsync-warm")"
docker_warm="$(cat "$work/docker-warm")"
echo "no-change rebuild (median of $runs)"
printf '  envsync build              %8.3f s\n' "$envsync_warm"
printf '  docker build (all cached)  %8.3f s\n' "$docker_warm"
echo "  envsync is $(ratio "$envsync_warm" "$docker_warm") faster"
