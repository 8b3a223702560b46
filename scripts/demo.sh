#!/usr/bin/env bash
# The main job, end to end, on the local Docker engine with the benefits-api example:
# one definition (envsync.toml + envsync.lock) is the truth for a developer workstation
# (`envsync up`, verified, and a request from the host through nginx to the app, which
# writes to PostgreSQL and Redis), CI (`envsync check`) and operations (`envsync diff`
# against a production server that drifted).
#
#   just demo                                  # release build, then this script
#   ENVSYNC_BIN=/path/to/envsync scripts/demo.sh
#   DEMO_KEEP=1 scripts/demo.sh                # leave the work directory behind
#
# The example is copied to a temporary work directory; the repository is never modified.
# The "production server" is a container this script starts from the locked app image
# and changes by hand (one Debian, one PyPI and one npm package), as an operator's
# hotfix would. Every step's exit code is checked: 0 for parity, 1 where drift is the
# point of the step. The script exits non-zero when any step behaves otherwise, and
# always removes what it started (`envsync down`, the production container).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
envsync="${ENVSYNC_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/envsync}"
if [ ! -x "$envsync" ]; then
  echo "error: no envsync binary at \`$envsync\`; run \`cargo build --release\` or set ENVSYNC_BIN" >&2
  exit 2
fi
ca=/etc/ssl/certs/ca-certificates.crt

work="$(mktemp -d "${TMPDIR:-/tmp}/envsync-demo.XXXXXX")"
cp -r "$root/manifests/benefits-api/." "$work/" || {
  rm -rf "$work"
  echo "error: cannot copy manifests/benefits-api into $work" >&2
  exit 2
}
rm -f "$work/envsync.lock"
manifest="$work/envsync.toml"
project=benefits-api
dev="envsync-$project-dev"
prod="envsync-demo-prod-$$"
label="envsync.demo=$$"

started=$SECONDS
declare -a summary=()
failed=0

cleanup() {
  local rc=$?
  echo
  echo "== cleanup"
  "$envsync" down -m "$manifest" --volumes >/dev/null 2>&1 && echo "envsync down: project removed" ||
    echo "envsync down: failed (remove by hand: docker ps -a --filter label=envsync.project=$project)"
  local ids
  ids="$(docker ps -aq --filter "label=$label")"
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null && echo "removed the production stand-in $prod"
  fi
  if [ -n "${DEMO_KEEP:-}" ]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {
  echo
  echo "== $1"
}

# run WANT DESCRIPTION CMD...: run CMD, show its output, and record whether its exit
# code is WANT.
run() {
  local want="$1" what="$2"
  shift 2
  local t0=$SECONDS rc=0
  echo "\$ ${*/#$envsync/envsync}"
  "$@" || rc=$?
  local took=$((SECONDS - t0))
  if [ "$rc" -eq "$want" ]; then
    summary+=("ok    ${what} (exit $rc, ${took}s)")
  else
    summary+=("FAIL  ${what} (exit $rc, wanted $want, ${took}s)")
    failed=1
    echo "!! unexpected exit code $rc (wanted $want): $what" >&2
  fi
  return 0
}

# in_prod CMD: run a shell command as root inside the production stand-in.
in_prod() {
  docker exec -u 0 "$prod" bash -euc "$1"
}

echo "envsync demo: $("$envsync" --version)"
echo "work directory: $work (a copy of manifests/benefits-api)"

step "1. validate the manifest"
run 0 "validate" "$envsync" validate -m "$manifest"

step "2. lock: build the app image, fingerprint it, write envsync.lock"
run 0 "lock" "$envsync" lock -m "$manifest"
if [ -f "$work/envsync.lock" ]; then
  echo "envsync.lock: $(grep -c '{ ecosystem = ' "$work/envsync.lock" || true) components, e.g.:"
  grep -E 'name = "(django|openssl|dayjs|redis)"' "$work/envsync.lock" | sed 's/^/  /'
else
  echo "!! no envsync.lock written" >&2
  failed=1
fi

step "3. up: PostgreSQL and Redis healthy, then the app (gunicorn in the development container), then nginx; verified against the lock"
run 0 "up (verified)" "$envsync" up -m "$manifest"
run 0 "up again (nothing to change)" "$envsync" up -m "$manifest" --no-verify

step "3b. a request from the host through nginx to the app, which writes to PostgreSQL and Redis"
# nginx publishes 18080 (the manifest's [services.nginx] ports) and proxies to the app,
# gunicorn in the development container; the app writes a row and increments a key.
nginx_port=18080
response=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  response="$(curl -fsS "http://127.0.0.1:$nginx_port/visits" 2>&1)" && break
  sleep 1
done
echo "\$ curl http://127.0.0.1:$nginx_port/visits"
echo "$response"
case "$response" in
  *'"app": "benefits-api"'*'"row_id": '*)
    summary+=("ok    request through nginx reached the app") ;;
  *)
    summary+=("FAIL  request through nginx reached the app")
    failed=1
    echo "!! the app did not answer through nginx" >&2 ;;
esac
rows="$(docker exec "envsync-$project-postgres" psql -U benefits -d benefits -tAc 'SELECT count(*) FROM visits' 2>&1 || true)"
key="$(docker exec "envsync-$project-redis" redis-cli GET benefits:visits 2>&1 || true)"
echo "PostgreSQL (psql): $rows row(s) in visits; Redis (redis-cli): benefits:visits = $key"
if [ "$rows" -ge 1 ] 2>/dev/null && [ "$key" -ge 1 ] 2>/dev/null; then
  summary+=("ok    row in PostgreSQL and key in Redis")
else
  summary+=("FAIL  row in PostgreSQL and key in Redis")
  failed=1
fi

step "4. status"
run 0 "status --verify" "$envsync" status -m "$manifest" --verify

step "5. CI: check the development container against the lock"
run 0 "check docker:$dev (parity)" "$envsync" check -m "$manifest" --target "docker:$dev"

step "6. operations: a production server drifted"
image="$(docker inspect -f '{{.Config.Image}}' "$dev")"
echo "starting $prod from the locked app image $image"
# The image carries envsync's project label and a container inherits it; a production
# server is not part of the workstation's project, so it gets a label of its own.
docker run -d --name "$prod" --label "$label" --label io.envsync.project="demo-prod-$$" \
  --entrypoint sleep "$image" infinity >/dev/null
docker cp "$ca" "$prod:/tmp/envsync-demo-ca.pem"
echo "an operator's hotfixes, by hand:"
deb=openssl
deb_locked="$(docker exec "$prod" dpkg-query -W -f '${Version}' "$deb")"
in_prod "apt-get -o Acquire::https::CAInfo=/tmp/envsync-demo-ca.pem update -qq >/dev/null
  other=\$(apt-cache madison $deb | awk '{print \$3}' | grep -vxF '$deb_locked' | head -n1)
  [ -n \"\$other\" ] || { echo 'no other $deb version available' >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::https::CAInfo=/tmp/envsync-demo-ca.pem \
    install -y -qq --allow-downgrades --no-install-recommends $deb=\$other >/dev/null 2>&1
  echo \"  deb  $deb $deb_locked -> \$other\""
in_prod "PIP_CERT=/tmp/envsync-demo-ca.pem /opt/benefits/venv/bin/pip install -q --disable-pip-version-check redis==5.1.1 2>/dev/null
  echo '  pypi redis 5.2.0 -> 5.1.1 (in /opt/benefits/venv)'"
in_prod "cd /srv/benefits/frontend && npm install --silent --no-audit --no-fund --cafile /tmp/envsync-demo-ca.pem dayjs@1.11.12 >/dev/null
  echo '  npm  dayjs 1.11.13 -> 1.11.12 (in /srv/benefits/frontend)'"

step "7. diff the lock against the production server (drift expected: exit 1)"
junit="$work/reports/prod-drift.junit.xml"
markdown="$work/reports/prod-drift.md"
mkdir -p "$work/reports"
run 1 "diff lock docker:$prod (drift found)" "$envsync" diff lock "docker:$prod" -m "$manifest" \
  --ecosystem deb,pypi,npm --junit "$junit" --markdown "$markdown"
for report in "$junit" "$markdown"; do
  if [ -s "$report" ]; then
    echo "report: $report ($(wc -c <"$report") bytes)"
  else
    echo "!! report $report was not written" >&2
    failed=1
  fi
done
run 1 "check docker:$prod against the policy (fails)" "$envsync" check -m "$manifest" \
  --target "docker:$prod" --ecosystem deb,pypi,npm

step "8. down, and the production stand-in removed"
run 0 "down" "$envsync" down -m "$manifest" --volumes
docker rm -f "$prod" >/dev/null && echo "removed $prod"
run 0 "status after down" "$envsync" status -m "$manifest"

step "summary"
printf '%s\n' "${summary[@]}"
echo "total: $((SECONDS - started))s"
if [ "$failed" -ne 0 ]; then
  echo "demo FAILED: a step exited with an unexpected code (see above)" >&2
  DEMO_KEEP=1
  exit 1
fi
echo "demo passed"
