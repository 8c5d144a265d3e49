#!/usr/bin/env bash
# Make sure the servers nbsched's store tests use are running on loopback:
#   Redis       127.0.0.1:6379
#   PostgreSQL  127.0.0.1:5432  (database "test", user postgres, trust on loopback)
#   MariaDB     127.0.0.1:3306  (user root with an empty password, database "test")
#
# Idempotent: a service whose port already answers is left alone; one that is installed but
# stopped is started; one that is missing is installed with apt-get and configured. Each port
# is awaited with a timeout. Exits non-zero if any service cannot be provided.
#
# Usage: scripts/services.sh [redis] [postgresql] [mariadb]     (default: all three)
# Env:   NBSCHED_SERVICES_TIMEOUT  seconds to wait for each port (default 60)

set -uo pipefail

TIMEOUT="${NBSCHED_SERVICES_TIMEOUT:-60}"
HOST=127.0.0.1
APT_UPDATED=0

log() { printf '[services] %s\n' "$*"; }
err() { printf '[services] ERROR: %s\n' "$*" >&2; }

# Run a command as root: directly when we are root, else through non-interactive sudo (a
# password prompt would hang CI, so it fails with a message instead).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        err "need root for: $* (not root and no sudo)"
        return 1
    fi
}

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" >/dev/null 2>&1
}

wait_port() {
    local port="$1" name="$2" waited=0
    while ! port_open "$port"; do
        if [ "$waited" -ge "$TIMEOUT" ]; then
            err "$name did not open $HOST:$port within ${TIMEOUT}s"
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "$name: answering on $HOST:$port (after ${waited}s)"
}

apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        err "cannot install $*: apt-get is not available; install it by hand"
        return 1
    fi
    log "installing $* with apt-get"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "$@" >/dev/null || return 1
}

# --- Redis -----------------------------------------------------------------------------------
start_redis() {
    local dir=/var/lib/redis logdir=/var/log/redis
    # Fall back to private directories when the packaged ones are missing or not ours.
    if ! { [ -d "$dir" ] && [ -w "$dir" ]; }; then
        dir="${TMPDIR:-/tmp}/nbsched-redis"
    fi
    if ! { [ -d "$logdir" ] && [ -w "$logdir" ]; }; then
        logdir="$dir"
    fi
    mkdir -p "$dir" "$logdir" || return 1
    log "redis: starting redis-server (dir $dir, log $logdir/ci.log)"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir "$dir" --logfile "$logdir/ci.log" >/dev/null || {
        err "redis: redis-server failed to start; see $logdir/ci.log"
        return 1
    }
}

ensure_redis() {
    if port_open 6379; then
        log "redis: already answering on $HOST:6379"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        apt_install redis-server || return 1
        # The package may have started its own server already.
        port_open 6379 && { log "redis: started by the package"; return 0; }
    fi
    start_redis || return 1
    wait_port 6379 redis
}

# --- PostgreSQL ------------------------------------------------------------------------------
pg_version() {
    ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

configure_postgres_hba() {
    local version="$1" hba
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    [ -f "$hba" ] || { err "postgresql: $hba not found"; return 1; }
    if ! as_root grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
        log "postgresql: trusting loopback connections in $hba"
        # First matching line wins in pg_hba.conf, so the trust lines go on top.
        as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba" \
            || return 1
    fi
}

ensure_postgres_db() {
    if psql -h "$HOST" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
        2>/dev/null | grep -q 1; then
        return 0
    fi
    log "postgresql: creating database test"
    psql -h "$HOST" -U postgres -d postgres -qc "CREATE DATABASE test" >/dev/null
}

ensure_postgresql() {
    if port_open 5432; then
        log "postgresql: already answering on $HOST:5432"
        return 0
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(pg_version)" ]; then
        apt_install postgresql postgresql-client || return 1
    fi
    local version
    version="$(pg_version)"
    [ -n "$version" ] || { err "postgresql: no cluster version under /etc/postgresql"; return 1; }
    if [ ! -d "/etc/postgresql/$version/main" ]; then
        log "postgresql: creating cluster $version/main"
        as_root pg_createcluster "$version" main >/dev/null || return 1
    fi
    configure_postgres_hba "$version" || return 1
    if ! port_open 5432; then
        log "postgresql: starting cluster $version/main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || {
            err "postgresql: pg_ctlcluster could not start $version/main"
            return 1
        }
    else
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload || return 1
    fi
    wait_port 5432 postgresql || return 1
    ensure_postgres_db
}

# --- MariaDB ---------------------------------------------------------------------------------
mariadb_client() {
    if command -v mariadb >/dev/null 2>&1; then echo mariadb; else echo mysql; fi
}

start_mariadb() {
    as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld || return 1
    if [ ! -d /var/lib/mysql/mysql ]; then
        log "mariadb: initialising the data directory"
        as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null || return 1
    fi
    log "mariadb: starting mariadbd"
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
        --user=mysql --bind-address=127.0.0.1 --port=3306 || {
        err "mariadb: mariadbd could not be started"
        return 1
    }
}

configure_mariadb() {
    # Over the socket as root (unix_socket authentication on Debian), give root an empty
    # password over TCP from loopback and create the test database.
    local client
    client="$(mariadb_client)"
    as_root "$client" -uroot --protocol=socket -e "
        CREATE DATABASE IF NOT EXISTS test;
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
        FLUSH PRIVILEGES;" || return 1
    "$client" -uroot -h "$HOST" -P 3306 -e "SELECT 1" test >/dev/null 2>&1 || {
        err "mariadb: root@$HOST with an empty password cannot reach database test"
        return 1
    }
}

ensure_mariadb() {
    if port_open 3306; then
        log "mariadb: already answering on $HOST:3306"
        return 0
    fi
    if [ ! -x /usr/sbin/mariadbd ]; then
        apt_install mariadb-server mariadb-client || return 1
    fi
    if ! port_open 3306; then
        start_mariadb || return 1
    fi
    wait_port 3306 mariadb || return 1
    configure_mariadb
}

# --- main ------------------------------------------------------------------------------------
main() {
    local services=("$@") failed=()
    [ "${#services[@]}" -gt 0 ] || services=(redis postgresql mariadb)
    for service in "${services[@]}"; do
        case "$service" in
            redis) ensure_redis || failed+=(redis) ;;
            postgresql|postgres) ensure_postgresql || failed+=(postgresql) ;;
            mariadb|mysql) ensure_mariadb || failed+=(mariadb) ;;
            *) err "unknown service '$service' (expected redis, postgresql, mariadb)"; exit 2 ;;
        esac
    done
    if [ "${#failed[@]}" -gt 0 ]; then
        err "not available: ${failed[*]}"
        exit 1
    fi
    log "all requested services are up: ${services[*]}"
}

main "$@"
