#!/usr/bin/env bash
# Every benchmark, each printing envsync's numbers beside its goal or its peer's and
# the ratio. Run by `just bench` after a release build; none asserts a wall-clock time.
#
#   manifest     parse + validate a 5,000-component manifest (goal < 50 ms)
#   diff         diff two snapshots of 100,000 and 200,000 packages (goal < 100 ms, ~2x)
#   fingerprint  `envsync fingerprint docker:…` vs dpkg-query/pip list/npm ls via docker exec (goal >= 5x)
#   build        `envsync build` vs `docker build` of the generated context, cold and no-change
#   up           `envsync up` with nothing to do vs `devcontainer up` (goal >= 10x)
#   offline      lock, fetch into a fresh cache, `build --offline --no-cache` vs the online rebuild
#   fleet        `diff` against BENCH_HOSTS (100) sshd containers on 127.0.0.1 vs one host
#                (only when named: it starts that many containers):
#                wall, CPU per host (ssh included, goal <= 0.05 s), peak RSS (goal < 200 MB)
#
#   scripts/bench.sh               # all of them
#   scripts/bench.sh diff up       # some of them
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export ENVSYNC_BIN="${ENVSYNC_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/envsync}"

selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=(manifest diff fingerprint build up offline)

for name in "${selected[@]}"; do
  echo
  echo "== bench: $name =="
  case "$name" in
    manifest) cargo bench --locked -q -p envsync-manifest --bench manifest ;;
    diff) cargo bench --locked -q -p envsync-drift --bench diff ;;
    fingerprint) bash scripts/bench-fingerprint.sh "${BENCH_RUNS:-10}" ;;
    build) bash scripts/bench-build.sh ;;
    up) bash scripts/bench-up.sh ;;
    offline) bash scripts/bench-offline.sh ;;
    fleet) bash scripts/bench-fleet.sh ;;
    *) echo "error: unknown benchmark \`$name\`; choose from manifest diff fingerprint build up offline fleet" >&2; exit 2 ;;
  esac
done
