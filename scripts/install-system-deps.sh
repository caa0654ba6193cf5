#!/usr/bin/env bash
# Debian packages the test suite needs (CI runs as root on a fresh Debian machine).
#   prometheus               -> prometheus, promtool   (tests/deploy, tests/metrics e2e)
#   prometheus-alertmanager  -> prometheus-alertmanager, amtool
#   postgresql-client        -> psql (tests/deploy/test_init_scripts.py runs the compose init script)
#   mariadb-client           -> mariadb (the fast MySQL reader streams `mariadb --batch --quick`)
#   libpostgresql-jdbc-java, libmariadb-java -> /usr/share/java JDBC drivers for the Spark landing path
#   openjdk-17-jre-headless  -> java for Spark (pyspark)
#   chromium                 -> /usr/bin/chromium, the real browser tests/report/test_summary_page_browser.py drives
# Idempotent: when every binary is already on PATH it returns at once, without touching apt.
# The tests start their own Prometheus/Alertmanager on 127.0.0.1, never the packaged services.
set -euo pipefail

need=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
[ -f /usr/share/java/postgresql.jar ] || need+=(libpostgresql-jdbc-java)
[ -f /usr/share/java/mariadb-java-client.jar ] || need+=(libmariadb-java)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-system-deps: prometheus, alertmanager, psql, mariadb, JDBC drivers, java and chromium already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: installing ${need[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's postinst may start a just-installed daemon through an init system; the tests start their
# own instances on 127.0.0.1, so stop only the services of the packages installed right now.
for svc in prometheus prometheus-alertmanager; do
  [[ " ${need[*]} " == *" $svc "* ]] || continue
  if command -v service >/dev/null 2>&1; then $SUDO service "$svc" stop >/dev/null 2>&1 || true; fi
done
command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null \
  && command -v psql >/dev/null && [ -x /usr/bin/chromium ]
echo "install-system-deps: done ($(promtool --version 2>&1 | head -1))"
