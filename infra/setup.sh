#!/usr/bin/env bash
# Prepares a machine for `npm test`, `npm start` and `npm run bench`: Node
# dependencies, redis-server, and the Kafka broker's jars. Idempotent and quick
# when everything is there; prints one line per step it actually performs.
# The services themselves are started by infra/services.ts (`viewtally infra up`,
# or the test suite's global setup).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
KAFKA_LIBS=${VT_KAFKA_LIBS:-$REPO_ROOT/.viewtally/cache/kafka-libs}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "setup: need root for: $*" >&2; return 1
  fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Node dependencies (npm writes node_modules/.package-lock.json after package-lock.json), with
#    the fixes in patches/ applied by the postinstall script (patch-package)
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ -n "$(find patches -newer node_modules/.package-lock.json 2>/dev/null)" ]; then
  echo "setup: npm ci"
  # npm 11 writes lock files without other platforms' optional packages and then refuses them in
  # `npm ci`; `npm install` installs the same locked versions.
  npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || {
    echo "setup: npm ci refused the lock file; npm install"
    npm install --no-audit --no-fund --loglevel=error
  }
fi

# 2. Redis (Debian's redis-server; started on its own port by infra/launch.ts)
if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: apt-get install redis-server"
  apt_install redis-server
  # The package enables a system-wide instance on 6379; ours runs on its own port and dir.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
fi

# 3. Kafka broker jars (Maven Central, infra/pom.xml) — needs a JDK and Maven
if ! ls "$KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then
  if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    echo "setup: apt-get install openjdk-17-jre-headless maven"
    apt_install openjdk-17-jre-headless maven
  fi
  echo "setup: mvn dependency:copy-dependencies → $KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  mvn_log=$(mktemp)
  if ! mvn -q -B -Dstyle.color=never -f infra/pom.xml dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    rm -f "$mvn_log"
    exit 1
  fi
  rm -f "$mvn_log"
fi

# 4. Chromium for the dashboard's browser test (driven by playwright-core; Debian's build, no download)
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: apt-get install chromium"
  apt_install chromium
fi

# 5. The CLI compiled for the sources as they are (bin/load-typescript.mjs), once here rather than
#    by the many processes a test run starts side by side
node bin/viewtally.mjs --version >/dev/null
