#!/usr/bin/env bash
# A PostgreSQL primary and a streaming replica of it (pg_basebackup -R) on this machine, for the
# read-replica tests (test/db/replicas.test.ts) and for trying DATABASE_REPLICA_URLS by hand. Two
# clusters of their own, so that the machine's main cluster is neither copied nor reconfigured.
# Debian's postgresql-common tools; run as root (the clusters belong to the postgres user).
#
#   scripts/replica-cluster.sh up              create what is missing, start both, wait for streaming
#   scripts/replica-cluster.sh stop-replica    stop the replica (fast: its sessions are cut)
#   scripts/replica-cluster.sh start-replica   start it again and wait until it streams
#   scripts/replica-cluster.sh down            drop both clusters
#
# Ports: IPDR_TEST_PRIMARY_PORT (5441) and IPDR_TEST_REPLICA_PORT (5442), on 127.0.0.1, trust.
set -euo pipefail

version="${IPDR_TEST_PG_VERSION:-$(ls /etc/postgresql | sort -n | tail -1)}"
primary=ipdr-test-primary
replica=ipdr-test-replica
primary_port="${IPDR_TEST_PRIMARY_PORT:-5441}"
replica_port="${IPDR_TEST_REPLICA_PORT:-5442}"
# The servers it starts must not inherit the lock (fd 9): they would hold it for good.
ctl() { pg_ctlcluster --skip-systemctl-redirect "$version" "$@" 9>&-; }
exists() { [ -d "/etc/postgresql/$version/$1" ]; }
online() { pg_lsclusters -h | awk -v v="$version" -v c="$1" '$1 == v && $2 == c { print $4 }' | grep -q online; }
sql() { psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc "$2"; }

wait_streaming() {
  for _ in $(seq 1 "${1:-100}"); do
    if [ "$(sql "$primary_port" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" = "1" ] &&
      [ "$(sql "$replica_port" 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "t" ]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Written on every `up`, so that a cluster left half-made by an interrupted run is set right.
configure() { # cluster port
  local conf="/etc/postgresql/$version/$1"
  printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' \
    'local replication all trust' 'host replication all 127.0.0.1/32 trust' >"$conf/pg_hba.conf"
  mkdir -p "$conf/conf.d"
  {
    echo "port = $2"
    echo "listen_addresses = '127.0.0.1'"
    echo 'max_connections = 200'
    # Small and unsafe on a crash: these clusters hold a few test databases.
    echo 'shared_buffers = 32MB'
    echo 'fsync = off'
    # Enough WAL kept for a replica stopped by a test to catch up when it starts again.
    echo 'wal_keep_size = 512MB'
  } >"$conf/conf.d/ipdr-test.conf"
  if online "$1"; then ctl "$1" reload; fi
}

rebuild_replica() {
  local data="/var/lib/postgresql/$version/$replica"
  # The cluster pg_createcluster made (or a stale copy) is replaced by a copy of the primary's,
  # which starts as its standby.
  if online "$replica"; then ctl "$replica" stop -m fast; fi
  install -d -o postgres -g postgres -m 700 "$data"
  find "$data" -mindepth 1 -delete
  runuser -u postgres -- pg_basebackup -h 127.0.0.1 -p "$primary_port" -U postgres -D "$data" -R -X stream -c fast
}

up() {
  exists "$primary" || pg_createcluster "$version" "$primary" -p "$primary_port" >/dev/null
  configure "$primary" "$primary_port"
  online "$primary" || ctl "$primary" start
  exists "$replica" || pg_createcluster "$version" "$replica" -p "$replica_port" >/dev/null
  configure "$replica" "$replica_port"
  [ -f "/var/lib/postgresql/$version/$replica/standby.signal" ] || rebuild_replica
  online "$replica" || ctl "$replica" start
  if ! wait_streaming 50; then
    # Not a standby of this primary any more (the primary was made anew, or the WAL it needs is gone).
    rebuild_replica
    ctl "$replica" start
    wait_streaming || {
      echo "replica on port $replica_port is not streaming from $primary_port" >&2
      exit 1
    }
  fi
  # A run that died with replay paused (test/db/replicas.test.ts pauses it) must not leave it so.
  if [ "$(sql "$replica_port" 'SELECT pg_is_wal_replay_paused()')" = "t" ]; then
    sql "$replica_port" 'SELECT pg_wal_replay_resume()' >/dev/null
  fi
}

# One run at a time: two test runs pausing or stopping one replica would break each other.
exec 9>/tmp/ipdr-replica-cluster.lock
flock 9

case "${1:-}" in
up) up ;;
stop-replica) ctl "$replica" stop -m fast ;;
start-replica)
  online "$replica" || ctl "$replica" start
  wait_streaming || {
    echo "replica on port $replica_port is not streaming from $primary_port after 20 s" >&2
    exit 1
  }
  ;;
down)
  for cluster in "$replica" "$primary"; do
    if exists "$cluster"; then pg_dropcluster --stop "$version" "$cluster"; fi
  done
  ;;
*)
  echo "usage: $0 up|stop-replica|start-replica|down" >&2
  exit 2
  ;;
esac
