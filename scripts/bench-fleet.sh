#!/usr/bin/env bash
# `just bench fleet`: `envsync diff` against a fleet of sshd containers, beside one host.
#
# BENCH_HOSTS containers (default 100) of an image with OpenSSH's server, each with its
# port 22 published on 127.0.0.1 only, reached with the system ssh through an ssh config
# this script writes. Measured for one host, for the fleet, and for the fleet again with
# ssh connection reuse (ControlMaster, warmed by a first run): wall time, CPU seconds of
# envsync and every ssh it started (getrusage of the children), CPU per host, and peak
# RSS (the largest process of the run, which is envsync); with reuse, the masters' CPU
# during the run is added. Goals: CPU per host <= 0.05 s,
# peak memory < 200 MB at 200 hosts, fleet wall time close to one host's.
#
#   BENCH_HOSTS=200 BENCH_JOBS=32 scripts/bench-fleet.sh
#
# Everything it starts carries the label io.envsync.bench=<this run> and is removed on
# exit; nothing else is touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ENVSYNC_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/envsync}"
hosts="${BENCH_HOSTS:-100}"
jobs="${BENCH_JOBS:-32}"
run_id="envsync-bench-fleet-$$"
work="$(mktemp -d)"

cleanup() {
  local ids
  ids="$(docker ps -aq --filter "label=io.envsync.bench=$run_id")"
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null 2>&1 || true
  fi
  # Masters of the ControlMaster run end with their sockets.
  for sock in "$work"/cm-*; do
    [ -S "$sock" ] && ssh -o ControlPath="$sock" -O exit h 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

[ -x "$bin" ] || { echo "error: $bin is missing; run \`cargo build --release --locked\`" >&2; exit 2; }
command -v ssh >/dev/null || { echo "error: ssh is missing; run \`just test-tools\`" >&2; exit 2; }

# The server image: the base image plus openssh-server, built once (tagged by recipe).
recipe='FROM envsync/debian:bookworm
RUN apt-get update -q && apt-get install -y -q --no-install-recommends openssh-server && rm -rf /var/lib/apt/lists/* && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh
CMD ["/usr/sbin/sshd", "-D", "-e"]'
tag="envsync-bench-sshd:$(printf '%s' "$recipe" | sha256sum | cut -c1-12)"
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  echo "building $tag"
  printf '%s\n' "$recipe" | docker build -q -t "$tag" - >/dev/null
fi

ssh-keygen -q -t ed25519 -N '' -f "$work/key"
chmod 644 "$work/key.pub"
echo "starting $hosts sshd containers (ports on 127.0.0.1 only)"
for i in $(seq 1 "$hosts"); do
  docker run -d -q --name "$run_id-$i" --label "io.envsync.bench=$run_id" \
    -p 127.0.0.1::22 -v "$work/key.pub:/root/.ssh/authorized_keys:ro" "$tag" >/dev/null
done
: >"$work/ssh_config"
: >"$work/targets.txt"
for i in $(seq 1 "$hosts"); do
  port="$(docker port "$run_id-$i" 22/tcp | head -n1)"
  case "$port" in 127.0.0.1:*) ;; *) echo "error: $run_id-$i published on $port, not 127.0.0.1" >&2; exit 2 ;; esac
  printf 'Host h%s\n  HostName 127.0.0.1\n  Port %s\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n' \
    "$i" "${port##*:}" "$work/key" >>"$work/ssh_config"
  echo "ssh://h$i" >>"$work/targets.txt"
done
export ENVSYNC_SSH_CONFIG="$work/ssh_config"
deadline=$((SECONDS + 180))
for i in $(seq 1 "$hosts"); do
  until ssh -F "$work/ssh_config" -o BatchMode=yes -o ConnectTimeout=5 "h$i" true 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "error: sshd in $run_id-$i did not answer in time" >&2; exit 2; }
    sleep 0.2
  done
done
"$bin" fingerprint ssh://h1 --format json >"$work/ref.json"

# Run a command; print wall seconds, CPU seconds of it and its children, peak RSS (MB)
# of its largest process, and its exit code.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.monotonic() - start
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.2f %.2f %.1f %d" % (wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, code))
PY
}

report() { # label hosts wall cpu rss code
  awk -v l="$1" -v n="$2" -v w="$3" -v c="$4" -v r="$5" -v x="$6" \
    'BEGIN { printf "%-28s %4d hosts  wall %6.2f s  cpu %6.2f s  cpu/host %.3f s  peak rss %6.1f MB  exit %d\n", l, n, w, c, c / n, r, x }'
}

read -r w1 c1 r1 x1 < <(measure "$bin" diff "$work/ref.json" ssh://h2)
report "one host" 1 "$w1" "$c1" "$r1" "$x1"
read -r wf cf rf xf < <(measure "$bin" diff "$work/ref.json" --targets-from "$work/targets.txt" -j "$jobs")
report "fleet (-j $jobs)" "$hosts" "$wf" "$cf" "$rf" "$xf"
# CPU seconds used so far by the ControlMaster processes of this run: they outlive the
# run that started them, so getrusage of a later run does not see them; their share is
# added by hand (the difference across the reused run).
masters_cpu() {
  python3 - "$work/cm-" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
total = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == os.getpid():
        continue
    try:
        if sys.argv[1].encode() not in open("/proc/%s/cmdline" % pid, "rb").read():
            continue
        fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    except OSError:
        pass
print("%.2f" % (total / tick))
PY
}
# Without reuse, ssh's default post-quantum key exchange (sntrup761x25519) is most of the
# CPU per host; curve25519 alone is the knob docs/fleet.md explains, and what it gives up.
read -r wk ck rk xk < <(ENVSYNC_SSH_OPTIONS="KexAlgorithms=curve25519-sha256" measure "$bin" diff "$work/ref.json" --targets-from "$work/targets.txt" -j "$jobs")
report "fleet, curve25519 kex" "$hosts" "$wk" "$ck" "$rk" "$xk"
export ENVSYNC_SSH_OPTIONS="ControlMaster=auto ControlPath=$work/cm-%C ControlPersist=120"
measure "$bin" diff "$work/ref.json" --targets-from "$work/targets.txt" -j "$jobs" >/dev/null
m0="$(masters_cpu)"
read -r wc cc rc xc < <(measure "$bin" diff "$work/ref.json" --targets-from "$work/targets.txt" -j "$jobs")
m1="$(masters_cpu)"
cc="$(awk -v c="$cc" -v a="$m0" -v b="$m1" 'BEGIN { printf "%.2f", c + b - a }')"
report "fleet, ControlMaster reused" "$hosts" "$wc" "$cc" "$rc" "$xc"
echo "  (of which the ssh masters, which outlive each run: $(awk -v a="$m0" -v b="$m1" 'BEGIN { printf "%.2f", b - a }') s)"
awk -v w1="$w1" -v wf="$wf" -v wc="$wc" -v cf="$cf" -v cc="$cc" -v ck="$ck" -v n="$hosts" -v rf="$rf" 'BEGIN {
  printf "fleet wall / one host: %.1fx (%.1fx with reuse); cpu/host %.3f s, %.3f s with curve25519, %.3f s with reuse (goal <= 0.05 s); peak rss %.1f MB (goal < 200 MB at 200 hosts)\n", wf / w1, wc / w1, cf / n, ck / n, cc / n, rf }'
