#!/usr/bin/env bash
# Time `envsync fingerprint docker:NAME` (release build) against the native listing
# commands run in the same container (dpkg-query, pip list for the system and the
# virtualenv, npm ls global and project), summed; print both, the ratio, and whether
# the inventories are identical package for package.
#
#   scripts/bench-fingerprint.sh [RUNS]      # default 10 runs, median taken
#
# Needs a Docker engine and the inventory fixture image (built by the fingerprint
# tests, `cargo test --test fingerprint_docker`, or here with docker build).
set -euo pipefail

runs="${1:-10}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

echo "building envsync (release)"
cargo build --release --quiet --bin envsync
bin="${CARGO_TARGET_DIR:-$root/target}/release/envsync"

# The fixture image, tagged by content hash like the test support does (any tag works).
image="envsync-bench/inventory:latest"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "building the inventory fixture image"
  ctx="$(mktemp -d)"
  cp -r tests/fixtures/inventory/. "$ctx/"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca.crt"
  docker build -q -t "$image" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

name="envsync-bench-fp-$$"
docker run -d --name "$name" --label io.envsync.test=bench "$image" sleep infinity >/dev/null
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT

native() {
  docker exec "$name" dpkg-query -W -f '${db:Status-Status} ${binary:Package} ${Version}\n' >/dev/null
  docker exec "$name" python3 -m pip list --format=json >/dev/null 2>&1
  docker exec "$name" /opt/app/venv/bin/pip list --format=json >/dev/null 2>&1
  docker exec "$name" npm ls -g --all --json >/dev/null 2>&1 || true
  docker exec "$name" sh -c 'cd /srv/app && npm ls --all --json' >/dev/null 2>&1 || true
}
ours() {
  "$bin" fingerprint "docker:$name" --format json >/dev/null
}

# Median wall time in milliseconds of N runs of a shell function.
median_ms() {
  local fn="$1" i start end
  local -a times=()
  "$fn" # warm-up
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    "$fn"
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

if command -v hyperfine >/dev/null 2>&1; then
  export -f native ours
  export name bin
  results="$(mktemp)"
  hyperfine --warmup 1 --runs "$runs" --shell bash --export-json "$results" -n native native -n envsync ours
  read -r native_ms ours_ms < <(python3 -c '
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(round(r["native"] * 1000), round(r["envsync"] * 1000))' "$results")
  rm -f "$results"
else
  native_ms=$(median_ms native)
  ours_ms=$(median_ms ours)
fi

# Identical inventories? Compare envsync's deb/pypi/npm sets with the native tools'.
snap="$(mktemp)"
"$bin" fingerprint "docker:$name" --format json >"$snap"
identical=$(python3 - "$snap" "$name" <<'PY'
import json, re, subprocess, sys
snap = json.load(open(sys.argv[1])); name = sys.argv[2]
def ex(cmd):
    return subprocess.run(["docker", "exec", name, "sh", "-c", cmd], capture_output=True, text=True).stdout
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
ours = {(p["ecosystem"], p["name"], p["version"]) for p in snap["packages"] if p["ecosystem"] in ("deb", "pypi", "npm")}
theirs = set()
for line in ex("dpkg-query -W -f '${db:Status-Status} ${Package} ${Version}\\n'").splitlines():
    st, n, v = line.split(" ")
    if st == "installed": theirs.add(("deb", n, v))
for cmd in ("python3 -m pip list --format=json", "/opt/app/venv/bin/pip list --format=json"):
    theirs |= {("pypi", norm(p["name"]), p["version"]) for p in json.loads(ex(cmd + " 2>/dev/null"))}
def walk(node):
    for n, d in (node.get("dependencies") or {}).items():
        if "version" in d: theirs.add(("npm", n, d["version"]))
        walk(d)
for cmd in ("npm ls -g --all --json", "cd /srv/app && npm ls --all --json"):
    walk(json.loads(ex(cmd + " 2>/dev/null")))
print("yes" if ours == theirs else f"NO (only envsync: {sorted(ours - theirs)[:5]}, only native: {sorted(theirs - ours)[:5]})")
print(len(ours), file=sys.stderr)
PY
)
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["packages"]))' "$snap")
rm -f "$snap"

echo
echo "container $name: $count components"
echo "native listing commands (5 docker exec, summed): ${native_ms} ms (median of $runs)"
echo "envsync fingerprint docker:NAME:                 ${ours_ms} ms (median of $runs)"
awk -v a="$native_ms" -v b="$ours_ms" 'BEGIN { printf "ratio: %.1fx faster (goal >= 5x)\n", (b > 0 ? a / b : 0) }'
echo "inventories identical: $identical"
