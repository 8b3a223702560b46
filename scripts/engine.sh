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
set -euo pipefail

log_dir=/var/log/envsync
run_dir=/run/envsync
wait_secs="${ENVSYNC_ENGINE_WAIT:-60}"

answers() {
  timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if command -v docker >/dev/null 2>&1 && answers; then
  exit 0
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
else
  # A pid file left by a killed daemon would make dockerd refuse to start.
  rm -f /var/run/docker.pid
  echo "starting dockerd (log: $log_dir/dockerd.log, pid file: $pid_file)"
  setsid nohup dockerd --pidfile "$pid_file" >>"$log_dir/dockerd.log" 2>&1 </dev/null &
fi

until answers; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "error: dockerd did not answer within ${wait_secs}s; last lines of $log_dir/dockerd.log:" >&2
    tail -n 20 "$log_dir/dockerd.log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "engine ready: $(docker version --format 'Docker {{.Server.Version}} (API {{.Server.APIVersion}})')"
