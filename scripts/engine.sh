#!/usr/bin/env bash
# Make a Docker engine answer, idempotently.
#
# 1. If the engine DOCKER_HOST names (or the default socket) answers, do nothing.
# 2. Otherwise, as root on Debian: install Debian's `docker.io` if dockerd is missing,
#    start dockerd in the background, and wait for it (deadline: ENVSYNC_ENGINE_WAIT
#    seconds, default 60).
#      log:      /var/log/envsync/dockerd.log
#      pid file: /run/envsync/dockerd.pid
# 3. Otherwise exit 1 saying what to install or start.
#
# `engine.sh --fresh` (what CI runs): an engine that holds no image of an earlier run.
# envsync's own dockerd is stopped and started again on a new, empty data root under
# /var/tmp/envsync-engine/ (the data roots of earlier fresh runs are deleted), so a
# green run means a fresh clone passes on a machine that never built anything. An
# engine envsync did not start is left alone: the script refuses, saying why.
set -euo pipefail

fresh=0
[ "${1:-}" = "--fresh" ] && fresh=1

log_dir=/var/log/envsync
run_dir=/run/envsync
wait_secs="${ENVSYNC_ENGINE_WAIT:-60}"

answers() {
  timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if [ "$fresh" = 1 ]; then
  if answers && ! [ -f "$run_dir/dockerd.pid" ]; then
    echo "error: --fresh: a Docker engine envsync did not start answers; stop it first, or run without --fresh" >&2
    exit 1
  fi
  if [ -f "$run_dir/dockerd.pid" ] && kill -0 "$(cat "$run_dir/dockerd.pid")" 2>/dev/null; then
    echo "stopping envsync's dockerd (pid $(cat "$run_dir/dockerd.pid")) for a fresh engine"
    kill "$(cat "$run_dir/dockerd.pid")"
    for _ in $(seq 1 120); do
      kill -0 "$(cat "$run_dir/dockerd.pid")" 2>/dev/null || break
      sleep 0.5
    done
  fi
  # A dockerd that was killed can leave its mounts behind; they go first.
  grep ' /var/tmp/envsync-engine/' /proc/mounts | awk '{ print $2 }' | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf /var/tmp/envsync-engine 2>/dev/null || echo "warning: could not remove every earlier data root under /var/tmp/envsync-engine" >&2
  mkdir -p /var/tmp/envsync-engine
  data_root=$(mktemp -d /var/tmp/envsync-engine/data.XXXXXX)
  extra_args=(--data-root "$data_root")
elif command -v docker >/dev/null 2>&1 && answers; then
  exit 0
else
  extra_args=()
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
  echo "error: the Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer; start it, or unset DOCKER_HOST to use a local one" >&2
  exit 1
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: no Docker engine answers, and this is not a Debian machine where envsync can start one as root.
Install and start Docker Engine (Debian/Ubuntu: `sudo apt-get install docker.io && sudo systemctl start docker`,
then add yourself to the `docker` group), or point DOCKER_HOST at a running engine.
MSG
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  echo "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q docker.io >/tmp/envsync-apt.log 2>&1; then
    apt-get update -q >/tmp/envsync-apt.log 2>&1
    apt-get install -y -q docker.io >>/tmp/envsync-apt.log 2>&1 || {
      echo "error: installing docker.io failed; see /tmp/envsync-apt.log" >&2
      exit 1
    }
  fi
fi

mkdir -p "$log_dir" "$run_dir"
pid_file="$run_dir/dockerd.pid"
deadline=$((SECONDS + wait_secs))

# A dockerd that is still starting, or still shutting down, must not race a second one
# for its containerd: wait until it answers or is gone.
if pgrep -x dockerd >/dev/null 2>&1; then
  echo "a dockerd is running but does not answer yet; waiting for it"
  until answers || ! pgrep -x dockerd >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: dockerd (pid $(pgrep -x dockerd | tr '\n' ' ')) neither answered nor exited within ${wait_secs}s; see $log_dir/dockerd.log" >&2
      exit 1
    fi
    sleep 0.5
  done
fi

if answers; then
  :
elif [ "$fresh" = 1 ] && pgrep -x dockerd >/dev/null 2>&1; then
  echo "error: --fresh: a dockerd envsync did not start is still running (pid $(pgrep -x dockerd | tr '\n' ' ')); stop it first" >&2
  exit 1
else
  # A pid file left by a killed daemon would make dockerd refuse to start.
  rm -f /var/run/docker.pid
  echo "starting dockerd (log: $log_dir/dockerd.log, pid file: $pid_file)"
  setsid nohup dockerd --pidfile "$pid_file" "${extra_args[@]}" >>"$log_dir/dockerd.log" 2>&1 </dev/null &
fi

until answers; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "error: dockerd did not answer within ${wait_secs}s; last lines of $log_dir/dockerd.log:" >&2
    tail -n 20 "$log_dir/dockerd.log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "engine ready in $SECONDS s: $(docker version --format 'Docker {{.Server.Version}} (API {{.Server.APIVersion}})'), $(docker info --format '{{.Images}} images, data root {{.DockerRootDir}}')"
