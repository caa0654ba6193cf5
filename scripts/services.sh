#!/usr/bin/env bash
# The servers the tests and a local Trino-target run need, on loopback, started by the project itself:
#
#   scripts/services.sh start [SERVER…]  (make services)       install what is missing, start what is not running
#   scripts/services.sh stop [SERVER…]   (make services-stop)  stop only what `start` started (its pid files)
#   scripts/services.sh status                                 one line per server
#   SERVER: mariadb, postgresql, trino (default: all three)
#
#   MariaDB     127.0.0.1:3306   root, empty password          (the orders source in tests)
#   PostgreSQL  127.0.0.1:5432   trust for `postgres`          (the payments source, the Iceberg catalog)
#   Trino 476   127.0.0.1:$FINANCE_RECON_TRINO_PORT (8080)     (the production warehouse engine)
#
# Idempotent: a server whose port already answers is left alone (whoever started it); a second
# `start` downloads nothing and starts nothing. Each server keeps its data, its log and a pid file
# under $FINANCE_RECON_SERVICES_DIR (default /var/tmp/finance_recon-services: outside every work tree,
# and readable by the `postgres` user PostgreSQL must run as when this runs as root).
#
# Trino comes from Maven Central through Maven (`mvn dependency:get`, checksum policy "fail"), so the
# download lands in Maven's local repository, outside the work tree, and is verified once more here
# against the .sha1 Maven Central publishes beside it. Only bin/, lib/ and the plugins the project uses
# are unpacked. It runs on a JDK >= 24 ($FINANCE_RECON_TRINO_JAVA_HOME, else the newest Temurin found).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

SERVICES_DIR="${FINANCE_RECON_SERVICES_DIR:-/var/tmp/finance_recon-services}"
MYSQL_PORT="${FINANCE_RECON_SERVICES_MYSQL_PORT:-3306}"
PG_PORT="${FINANCE_RECON_SERVICES_PG_PORT:-5432}"
TRINO_PORT="${FINANCE_RECON_TRINO_PORT:-8080}"
TRINO_VERSION=476
# geospatial: the postgresql connector maps PostGIS columns and fails to load without its Geometry type.
TRINO_PLUGINS=(iceberg postgresql mariadb geospatial)
TRINO_HEAP_GB="${FINANCE_RECON_TRINO_HEAP_GB:-3}"  # whole GB; at most 3 on 2 cores and 24 GB
TRINO_READY_SECONDS="${FINANCE_RECON_TRINO_READY_SECONDS:-180}"
MAVEN_REPO="${FINANCE_RECON_MAVEN_REPO:-$HOME/.m2/repository}"
TRINO_INSTALL="${FINANCE_RECON_TRINO_INSTALL_DIR:-$HOME/.cache/finance_recon/trino-server-$TRINO_VERSION}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

say() { echo "services: $*"; }
die() { echo "services: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid in a pid file, if that process is alive.
live_pid() {
  local f="$1" pid
  [ -f "$f" ] || return 1
  pid="$(head -1 "$f" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

wait_port() {  # name port seconds log
  local deadline=$((SECONDS + $3))
  until port_open "$2"; do
    [ $SECONDS -lt "$deadline" ] || die "$1 did not open 127.0.0.1:$2 within $3 s; see $4"
    sleep 0.3
  done
}

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ------------------------------------------------------------------------------------------ MariaDB

mariadb_start() {
  local dir="$SERVICES_DIR/mariadb"
  if port_open "$MYSQL_PORT"; then say "MariaDB    127.0.0.1:$MYSQL_PORT already answers: left alone"; return; fi
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client
  local mariadbd; mariadbd="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
  mkdir -p "$dir"
  if [ ! -d "$dir/data/mysql" ]; then
    say "MariaDB    initialising $dir/data"
    # `normal`: root@localhost gets an empty password over TCP too (not unix_socket auth).
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
      || die "MariaDB initialisation failed; see $dir/install.log"
  fi
  setsid "$mariadbd" --no-defaults --user="$(id -un)" --datadir="$dir/data" \
    --bind-address=127.0.0.1 --port="$MYSQL_PORT" --socket="$dir/mariadb.sock" \
    --pid-file="$dir/mariadb.pid" --log-error="$dir/server.log" --skip-name-resolve \
    --local-infile=1 --max-connections=300 --innodb-buffer-pool-size=1G \
    --innodb-flush-log-at-trx-commit=2 --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_general_ci </dev/null >/dev/null 2>&1 &
  wait_port MariaDB "$MYSQL_PORT" 60 "$dir/server.log"
  # With skip-name-resolve a TCP client is root@127.0.0.1, which install-db does not always create.
  mariadb --no-defaults --socket="$dir/mariadb.sock" -uroot -e \
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
     GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
     CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';
     GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION; FLUSH PRIVILEGES;" \
    || die "MariaDB answered but root could not be set up; see $dir/server.log"
  say "MariaDB    started on 127.0.0.1:$MYSQL_PORT (pid $(cat "$dir/mariadb.pid"), data $dir/data)"
}

# --------------------------------------------------------------------------------------- PostgreSQL

pg_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# PostgreSQL refuses to run as root: then its files belong to, and it runs as, `postgres`.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  local dir="$SERVICES_DIR/postgresql" bin
  if port_open "$PG_PORT"; then say "PostgreSQL 127.0.0.1:$PG_PORT already answers: left alone"; return; fi
  bin="$(pg_bindir)" || { apt_install postgresql; bin="$(pg_bindir)"; } || die "no PostgreSQL server binaries"
  mkdir -p "$dir"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "PostgreSQL initialising $dir/data"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || die "PostgreSQL initialisation failed; see $dir/initdb.log"
    # Trust on loopback (initdb --auth=trust): `postgres` and the roles the tests create log in
    # without a password, as on the test servers the suite was written against.
  fi
  # synchronous_commit=off: a crash may lose the last few commits of a test server, never corrupt it.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$dir -c max_connections=300 -c shared_buffers=256MB -c synchronous_commit=off" \
    start || die "PostgreSQL did not start; see $dir/server.log"
  head -1 "$dir/data/postmaster.pid" >"$dir/postgresql.pid"
  say "PostgreSQL started on 127.0.0.1:$PG_PORT (pid $(cat "$dir/postgresql.pid"), data $dir/data)"
}

# -------------------------------------------------------------------------------------------- Trino

trino_java_home() {
  if [ -n "${FINANCE_RECON_TRINO_JAVA_HOME:-}" ]; then echo "$FINANCE_RECON_TRINO_JAVA_HOME"; return; fi
  local d v
  for d in $(ls -d /usr/lib/jvm/temurin-*-jdk* 2>/dev/null | sort -V -r) ${JAVA_HOME:-}; do
    [ -x "$d/bin/java" ] || continue
    v="$("$d/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')"
    [ "${v:-0}" -ge 24 ] 2>/dev/null && { echo "$d"; return; }
  done
  return 1
}

# Maven Central's tarball, in Maven's local repository, checked against the published .sha1.
trino_tarball() {
  local rel="io/trino/trino-server/$TRINO_VERSION/trino-server-$TRINO_VERSION.tar.gz"
  local tgz="$MAVEN_REPO/$rel"
  if [ ! -f "$tgz" ] || [ ! -f "$tgz.sha1" ]; then
    command -v mvn >/dev/null 2>&1 || apt_install maven
    say "Trino      downloading io.trino:trino-server:$TRINO_VERSION:tar.gz from Maven Central (~820 MB, once)" >&2
    mvn -q -B -C -Dmaven.repo.local="$MAVEN_REPO" dependency:get \
      -Dartifact="io.trino:trino-server:$TRINO_VERSION:tar.gz" -Dtransitive=false >&2 \
      || die "the Trino $TRINO_VERSION download failed (mvn dependency:get above)"
  fi
  local want got
  want="$(cut -c1-40 "$tgz.sha1")"
  got="$(sha1sum "$tgz" | cut -c1-40)"
  [ "$want" = "$got" ] || die "$tgz: sha1 $got differs from Maven Central's $want; delete it and retry"
  echo "$tgz"
}

trino_install() {
  # .complete names the plugins unpacked: a changed list unpacks again (from the cached tarball).
  [ -x "$TRINO_INSTALL/bin/launcher" ] && [ "$(cat "$TRINO_INSTALL/.complete" 2>/dev/null)" = "${TRINO_PLUGINS[*]}" ] && return
  local tgz tmp keep
  tgz="$(trino_tarball)"
  tmp="$TRINO_INSTALL.partial"
  rm -rf "$tmp" && mkdir -p "$tmp"
  say "Trino      unpacking bin, lib and plugins ${TRINO_PLUGINS[*]} into $TRINO_INSTALL"
  # The tarball hard-links jars shared by plugins to their first copy (often another plugin's), so
  # it unpacks whole; the plugins the project does not use are removed after.
  tar -xzf "$tgz" -C "$tmp" --strip-components=1
  keep=" ${TRINO_PLUGINS[*]} "
  for p in "$tmp"/plugin/*; do [[ "$keep" == *" $(basename "$p") "* ]] || rm -rf "$p"; done
  for p in "${TRINO_PLUGINS[@]}"; do [ -d "$tmp/plugin/$p" ] || die "the Trino tarball has no plugin/$p"; done
  echo "${TRINO_PLUGINS[*]}" >"$tmp/.complete"
  rm -rf "$TRINO_INSTALL" && mv "$tmp" "$TRINO_INSTALL"
}

trino_info() { curl -fsS --max-time 2 "http://127.0.0.1:$TRINO_PORT/v1/info" 2>/dev/null; }

# SELECT 1 through the REST protocol (the `trino` client may not be installed yet).
trino_select_1() {
  python3 - "$TRINO_PORT" <<'PY'
import json, sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/v1/statement"
req = urllib.request.Request(url, data=b"SELECT 1", headers={"X-Trino-User": "finance_recon"})
doc = json.load(urllib.request.urlopen(req, timeout=5))
rows = []
while True:
    rows += doc.get("data", [])
    if "error" in doc:
        sys.exit(doc["error"].get("message", "error"))
    if "nextUri" not in doc:
        break
    doc = json.load(urllib.request.urlopen(doc["nextUri"], timeout=5))
sys.exit(0 if rows == [[1]] else f"unexpected {rows}")
PY
}

trino_start() {
  local dir="$SERVICES_DIR/trino" java_home
  # The Iceberg JDBC catalog's own tables: Trino reads and writes them but never creates them.
  "$PYTHON" -m finance_recon.trino.catalogs ensure-jdbc-catalog >/dev/null \
    || die "could not create the Iceberg JDBC catalog's tables in PostgreSQL (FINANCE_RECON_ICEBERG_CATALOG_URL)"
  if port_open "$TRINO_PORT"; then
    trino_info >/dev/null || die "127.0.0.1:$TRINO_PORT answers but is not Trino (set FINANCE_RECON_TRINO_PORT)"
    say "Trino      127.0.0.1:$TRINO_PORT already answers: left alone"
    trino_wait "$dir/data/var/log/server.log"
    return
  fi
  java_home="$(trino_java_home)" || die "Trino $TRINO_VERSION needs a JDK >= 24: set FINANCE_RECON_TRINO_JAVA_HOME"
  trino_install
  mkdir -p "$dir/etc/catalog" "$dir/data" "$dir/iceberg-warehouse"
  trino_config "$dir"
  JAVA_HOME="$java_home" PATH="$java_home/bin:$PATH" "$TRINO_INSTALL/bin/launcher" \
    --etc-dir="$dir/etc" --data-dir="$dir/data" start >"$dir/launcher.log" 2>&1 \
    || die "the Trino launcher failed; see $dir/launcher.log"
  trino_wait "$dir/data/var/log/server.log"
  say "Trino      started on 127.0.0.1:$TRINO_PORT (pid $(cat "$(trino_pidfile)"), JDK $java_home, log $dir/data/var/log/server.log)"
}

# Ready = /v1/info says "starting": false, then SELECT 1 answers ("No nodes available" comes first).
# The launcher's own record of the server it started (under our data folder): what `stop` stops.
trino_pidfile() { echo "$SERVICES_DIR/trino/data/var/run/launcher.pid"; }

trino_wait() {
  local log="$1" pidfile deadline=$((SECONDS + TRINO_READY_SECONDS))
  pidfile="$(trino_pidfile)"
  until trino_info | grep -q '"starting":false'; do
    [ $SECONDS -lt $deadline ] || die "Trino did not finish starting within ${TRINO_READY_SECONDS} s; see $log"
    if [ -f "$pidfile" ] && ! live_pid "$pidfile" >/dev/null; then
      rm -f "$pidfile"
      die "Trino exited while starting; see $log"
    fi
    sleep 1
  done
  until trino_select_1 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "Trino started but SELECT 1 fails after ${TRINO_READY_SECONDS} s; see $log"
    sleep 1
  done
}

trino_config() {
  local dir="$1"
  cat >"$dir/etc/node.properties" <<EOF
node.environment=finance_recon
node.id=finance-recon-local
node.data-dir=$dir/data
EOF
  cat >"$dir/etc/config.properties" <<EOF
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$TRINO_PORT
discovery.uri=http://127.0.0.1:$TRINO_PORT
node.internal-address=127.0.0.1
catalog.management=dynamic
query.max-memory=$((TRINO_HEAP_GB * 1024 * 6 / 10))MB
query.max-memory-per-node=$((TRINO_HEAP_GB * 1024 * 6 / 10))MB
EOF
  # Sized for 2 cores and 24 GB; never a percentage of RAM (InitialRAMPercentage reserves most of it).
  cat >"$dir/etc/jvm.config" <<EOF
-server
-Xmx${TRINO_HEAP_GB}G
-XX:InitialRAMPercentage=1
-XX:G1HeapRegionSize=32M
-XX:+ExitOnOutOfMemoryError
-XX:+HeapDumpOnOutOfMemoryError
-XX:HeapDumpPath=$dir/data
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-XX:+EnableDynamicAgentLoading
--sun-misc-unsafe-memory-access=allow
-Duser.timezone=UTC
EOF
  echo "io.trino=INFO" >"$dir/etc/log.properties"
  # The catalogs: one template (deploy/trino/catalog.properties.j2), rendered from the settings.
  "$PYTHON" -m finance_recon.trino.catalogs render --out "$dir/etc/catalog" \
    --local-root "$dir/iceberg-warehouse" >/dev/null \
    || die "could not render the Trino catalogs"
}

# --------------------------------------------------------------------------------------------- stop

stop_pidfile() {  # name pidfile [command to stop it gracefully]
  local name="$1" f="$2" pid
  if pid="$(live_pid "$f")"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    say "$name stopped (pid $pid)"
  else
    say "$name was not started by this script: nothing to stop"
  fi
  rm -f "$f"
}

services_stop() {
  local bin
  if want trino; then stop_pidfile "Trino     " "$(trino_pidfile)"; fi
  if want postgresql; then
    if live_pid "$SERVICES_DIR/postgresql/postgresql.pid" >/dev/null && bin="$(pg_bindir)"; then
      as_pg "$bin/pg_ctl" -D "$SERVICES_DIR/postgresql/data" -m fast -w -s stop || true
      rm -f "$SERVICES_DIR/postgresql/postgresql.pid"
      say "PostgreSQL stopped"
    else
      stop_pidfile "PostgreSQL" "$SERVICES_DIR/postgresql/postgresql.pid"
    fi
  fi
  if want mariadb; then stop_pidfile "MariaDB   " "$SERVICES_DIR/mariadb/mariadb.pid"; fi
}

services_status() {
  local name port
  for pair in "MariaDB:$MYSQL_PORT" "PostgreSQL:$PG_PORT" "Trino:$TRINO_PORT"; do
    name="${pair%%:*}" port="${pair##*:}"
    if port_open "$port"; then say "$name 127.0.0.1:$port up"; else say "$name 127.0.0.1:$port down"; fi
  done
}

# The servers to act on: those named after the verb, else all three.
want() { [ ${#SELECTED[@]} -eq 0 ] || [[ " ${SELECTED[*]} " == *" $1 "* ]]; }

VERB="${1:-start}"
shift || true
SELECTED=("$@")
for s in "${SELECTED[@]}"; do
  case "$s" in mariadb | postgresql | trino) ;; *) die "unknown server '$s': expected mariadb, postgresql or trino" ;; esac
done

case "$VERB" in
  start)
    mkdir -p "$SERVICES_DIR"
    [ "$(id -u)" -ne 0 ] || chmod 755 "$SERVICES_DIR"
    if want mariadb; then mariadb_start; fi
    if want postgresql; then postgres_start; fi
    if want trino; then trino_start; fi
    ;;
  stop) services_stop ;;
  status) services_status ;;
  *) die "usage: $0 start|stop|status [mariadb] [postgresql] [trino]" ;;
esac
