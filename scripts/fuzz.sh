#!/usr/bin/env bash
# Fuzz every parser of untrusted bytes (crates/envsync-fuzz) with libFuzzer, on the
# stable toolchain: the coverage instrumentation cargo-fuzz asks of nightly is plain
# `-C passes=sancov-module` plus LLVM options, which stable rustc takes as well; only
# the sanitizers need nightly, and safe Rust needs none of them to find a panic.
#
# Usage: scripts/fuzz.sh [TARGET...]    (default: every fuzz/fuzz_targets/*.rs)
#   FUZZ_RUNS      inputs per target (default 1000000); the run fails below it
#   FUZZ_MAX_TIME  seconds per target at most (default 420: under load, 10^6 inputs of the
#                  slowest targets took 4-5 minutes on 2 busy cores)
#   FUZZ_MAX_LEN   the longest input tried, in bytes (default 4096; every seed fits)
#
# Each target starts from its seeds (fuzz/seeds/<target>) and a working corpus kept in
# the target dir between runs. A crash stops the target with its input saved under
# fuzz/artifacts/<target>/; fix it and move the input to fuzz/regressions/<target>/,
# which `cargo test -p envsync-fuzz` replays from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${FUZZ_RUNS:-1000000}
max_time=${FUZZ_MAX_TIME:-420}
max_len=${FUZZ_MAX_LEN:-4096}
target_dir=${CARGO_TARGET_DIR:-$PWD/target}/fuzz
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

export RUSTFLAGS="-C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=4 \
-C llvm-args=-sanitizer-coverage-inline-8bit-counters -C llvm-args=-sanitizer-coverage-pc-table \
-C llvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# An explicit `--target` keeps RUSTFLAGS off build scripts and proc macros, which run on
# the host without libFuzzer's coverage callbacks (cargo-fuzz does the same).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked --manifest-path fuzz/Cargo.toml --target-dir "$target_dir" \
  --target "$host" $(printf -- '--bin %s ' "${targets[@]}")

summary=()
failed=0
for t in "${targets[@]}"; do
  corpus=$target_dir/corpus/$t
  artifacts=fuzz/artifacts/$t
  log=$target_dir/logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "== $t: up to $runs inputs or ${max_time}s"
  status=0
  start=$(date +%s%N)
  "$target_dir/$host/release/$t" -runs="$runs" -max_total_time="$max_time" -timeout=10 \
    -max_len="$max_len" \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "fuzz/seeds/$t" >"$log" 2>&1 || status=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  executed=${executed:-0}
  secs=$(printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)))
  rate=$((executed * 1000 / (ms > 0 ? ms : 1)))
  verdict=ok
  if [ "$status" -ne 0 ]; then
    verdict="CRASH (exit $status; input in $artifacts/, log $log)"
    tail -n 40 "$log"
    failed=1
  elif [ "$executed" -lt "$runs" ]; then
    verdict="SHORT (fewer than $runs inputs in ${max_time}s; raise FUZZ_MAX_TIME)"
    failed=1
  fi
  line=$(printf '%-16s %10s inputs %5ss %8s inputs/s  %s' "$t" "$executed" "$secs" "$rate" "$verdict")
  echo "$line"
  summary+=("$line")
done
echo
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
