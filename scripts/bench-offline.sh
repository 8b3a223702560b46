#!/usr/bin/env bash
# Benchmark the offline path: `envsync lock`, `envsync fetch` into a fresh artifact
# cache, then a full rebuild from the package sources (online, an empty cache) beside
# the same rebuild with no network at all (`build --offline`, everything from the
# cache). Prints the times, the offline/online ratio and the cache's size; asserts no
# time, only that both builds verify the image against the lock.
#
#   scripts/bench-offline.sh
#
# Environment:
#   ENVSYNC_BIN   envsync binary (default: target/release/envsync, built when missing)
#   BENCH_RUNS    rebuilds per mode, the best reported (default 2)
# The project, the lock and both artifact directories live in a temporary directory
# removed at exit; the images built stay (the engine's layer cache is not the subject).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${BENCH_RUNS:-2}"
bin="${ENVSYNC_BIN:-$root/target/release/envsync}"
if [ ! -x "$bin" ]; then
  echo "building $bin"
  (cd "$root" && cargo build --release --bin envsync)
fi
docker image inspect envsync/debian:bookworm >/dev/null 2>&1 || bash "$root/images/debian-bookworm/build.sh"

work="$(mktemp -d /tmp/envsync-bench-offline.XXXXXX)"
trap 'rm -rf "$work"' EXIT

project="$work/project"
cache="$work/cache"
empty="$work/empty"
mkdir -p "$project" "$cache" "$empty"
manifest="$project/envsync.toml"
# Debian versions are read at run time (`*`); the Python packages are small, pure
# Python and pinned. No [node]: offline builds refuse npm packages for now.
cat >"$manifest" <<EOF
[project]
name = "bench-offline-$$"

[base]
image = "envsync/debian:bookworm"

[apt]
jq = "*"
curl = "*"

[python]
version = "3"

[python.venvs."/opt/venv".packages]
six = "==1.16.0"
iniconfig = "==2.0.0"

[build]
ca_certificates = ["/etc/ssl/certs/ca-certificates.crt"]
EOF

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
fail() { echo "error: $1" >&2; exit 1; }

# run NAME CMD...: runs CMD with its output in $work/NAME.{out,err}, prints its
# wall-clock seconds, and fails loudly (showing the error output) when it fails.
run() {
  local name="$1"; shift
  local t0 status=0
  t0="$(now)"
  "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "error: \`${*}\` exited with $status" >&2
    tail -n 40 "$work/$name.err" "$work/$name.out" >&2
    exit 1
  fi
  since "$t0"
}

# best NAME CMD...: the fastest of $runs runs of a build, each required to verify the
# image against the lock.
best() {
  local name="$1"; shift
  local i t
  for i in $(seq "$runs"); do
    t="$(run "$name-$i" "$@")" || exit 1
    grep -q "verified: the image holds exactly" "$work/$name-$i.out" \
      || { cat "$work/$name-$i.out" >&2; fail "\`${*}\` did not verify the image against the lock"; }
    echo "$t"
  done | sort -n | head -n 1
}

json_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

lock_s="$(run lock "$bin" lock -m "$manifest")"
fetch_s="$(run fetch "$bin" fetch -m "$manifest" --artifacts "$cache" --format json)"
fetched="$(json_field "$work/fetch.out" fetched)"
fetched_bytes="$(json_field "$work/fetch.out" bytes)"
reused="$(json_field "$work/fetch.out" reused)"

online_s="$(best online "$bin" build -m "$manifest" --no-cache --artifacts "$empty")"
offline_s="$(best offline "$bin" build -m "$manifest" --offline --no-cache --artifacts "$cache")"

cache_human="$(du -sh "$cache" | cut -f1)"
cache_bytes="$(du -sb "$cache" | cut -f1)"
artifacts="$(ls "$cache/sha256" | wc -l)"

echo "manifest: $manifest (apt jq curl, python 3 venv six iniconfig)"
echo
printf '  %-44s %10.3f s\n' "envsync lock" "$lock_s"
printf '  %-44s %10.3f s   (fetched %s, %s bytes, reused %s)\n' \
  "envsync fetch (fresh cache)" "$fetch_s" "$fetched" "$fetched_bytes" "$reused"
printf '  %-44s %10.3f s   (best of %s)\n' "build --no-cache, online (empty cache)" "$online_s" "$runs"
printf '  %-44s %10.3f s   (best of %s)\n' "build --offline --no-cache (from the cache)" "$offline_s" "$runs"
echo
echo "  offline / online: $(ratio "$offline_s" "$online_s")"
echo "  cache: $cache_human ($cache_bytes bytes), $artifacts artifacts"
