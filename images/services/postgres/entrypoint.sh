#!/bin/sh
# Entrypoint of envsync's PostgreSQL service image (Debian's postgresql-N package on the
# Debian base). Copied into the image by envsync-provisioner's middleware recipe, which
# substitutes @PG_MAJOR@.
#
# On first start it creates a cluster in $PGDATA (default /var/lib/postgresql/@PG_MAJOR@/main,
# Debian's own location: mount a named volume there to keep the data), then runs the server in the foreground listening on every
# address. A password is required: POSTGRES_PASSWORD must be set (envsync passes it at
# run time, typically `${POSTGRES_PASSWORD}` from `.env`; it is never in the image), and
# connections over TCP authenticate with scram-sha-256. POSTGRES_USER (default postgres)
# is created as the superuser with that password; POSTGRES_DB (default: the user's name,
# which envsync's DATABASE_URL names too) is created and owned by it. A cluster already on the volume keeps the settings it was created with.
set -eu

PGBIN=/usr/lib/postgresql/@PG_MAJOR@/bin
PGDATA="${PGDATA:-/var/lib/postgresql/@PG_MAJOR@/main}"
export PGDATA
user="${POSTGRES_USER:-postgres}"

# Run as the postgres account: switch when started as root, stay when already not root.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
fi

# Debian's package created an empty cluster at its default location while the image was
# built, with its configuration in /etc (a fresh named volume receives a copy of it).
# It holds no data; replace it with a cluster configured from the environment.
if [ "$PGDATA" = "/var/lib/postgresql/@PG_MAJOR@/main" ] && [ -s "$PGDATA/PG_VERSION" ] &&
  [ ! -e "$PGDATA/postgresql.conf" ] && [ -e "/etc/postgresql/@PG_MAJOR@/main/postgresql.conf" ]; then
  find "$PGDATA" -mindepth 1 -delete
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "envsync postgres: POSTGRES_PASSWORD is not set; set it in the service's env, e.g. POSTGRES_PASSWORD = \"\${POSTGRES_PASSWORD}\" with the value in .env beside the manifest" >&2
    exit 1
  fi
  auth=scram-sha-256
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
  as_postgres "$PGBIN/initdb" -D "$PGDATA" -U "$user" --encoding=UTF8 \
    --auth-local=trust --auth-host="$auth" --pwfile="$pwfile" >/dev/null
  rm -f "$pwfile"
  printf 'password_encryption = scram-sha-256\n' >>"$PGDATA/postgresql.conf"
  printf 'host all all 0.0.0.0/0 %s\nhost all all ::/0 %s\n' "$auth" "$auth" >>"$PGDATA/pg_hba.conf"
  # As the official image does: POSTGRES_DB defaults to the user's name, and initdb
  # creates only `postgres` (and the templates), so any other name is created here.
  db="${POSTGRES_DB:-$user}"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" |
      as_postgres "$PGBIN/postgres" --single -D "$PGDATA" -j postgres >/dev/null
  fi
fi

exec_postgres() {
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/postgres" "$@"
  fi
  exec "$PGBIN/postgres" "$@"
}
exec_postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
