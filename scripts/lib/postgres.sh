# Sourced by scripts/test and scripts/bench: a PRIVATE PostgreSQL cluster for muster's tests.
#
# postgres_start installs Debian's `postgresql` if missing, creates a cluster in a temp folder
# (initdb -A trust, as the `postgres` user when run as root), starts it on 127.0.0.1 with a free
# port and a private socket folder, creates the database `muster_test` and exports
# MUSTER_TEST_POSTGRES_URL. The cluster is stopped and its folder removed on exit (trap); a cluster
# this script did not start is never touched. Durability is off (fsync, synchronous_commit): the
# data is thrown away after the run.

postgres_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# Runs a server binary as the cluster's owner.
postgres_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

postgres_stop() {
  [ -n "${MUSTER_PG_DIR:-}" ] || return 0
  if [ -f "$MUSTER_PG_DIR/data/postmaster.pid" ]; then
    postgres_as_owner "$MUSTER_PG_BIN/pg_ctl" -D "$MUSTER_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$MUSTER_PG_DIR"
  unset MUSTER_PG_DIR
}

postgres_start() {
  [ -z "$(postgres_bin)" ] && ensure_packages postgresql
  MUSTER_PG_BIN=$(postgres_bin) || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; return 1; }
  MUSTER_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/muster-pg.XXXXXX")
  export MUSTER_PG_DIR MUSTER_PG_BIN
  trap postgres_stop EXIT
  # A signal ends the script through `exit`, so the EXIT trap still stops the cluster.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$MUSTER_PG_DIR/socket"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$MUSTER_PG_DIR"
  postgres_as_owner "$MUSTER_PG_BIN/initdb" -D "$MUSTER_PG_DIR/data" -A trust -U postgres -E UTF8 >"$MUSTER_PG_DIR/initdb.log" 2>&1 \
    || { cat "$MUSTER_PG_DIR/initdb.log" >&2; return 1; }
  local port attempt
  for attempt in 1 2 3; do
    port=$(postgres_free_port) || return 1
    if postgres_as_owner "$MUSTER_PG_BIN/pg_ctl" -D "$MUSTER_PG_DIR/data" -l "$MUSTER_PG_DIR/server.log" -w -t 30 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $MUSTER_PG_DIR/socket -c max_connections=400 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB" start >/dev/null; then
      break
    fi
    [ "$attempt" -eq 3 ] && { tail -5 "$MUSTER_PG_DIR/server.log" >&2; return 1; }
  done
  "$MUSTER_PG_BIN/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE muster_test" >/dev/null
  export MUSTER_PG_PORT=$port
  export MUSTER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/muster_test"
  echo "==> private PostgreSQL on 127.0.0.1:$port ($MUSTER_PG_DIR)"
}
