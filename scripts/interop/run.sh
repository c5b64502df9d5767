#!/bin/bash
# Runs every interop check in order; exits non-zero on any failure.
# usage: scripts/interop/run.sh [BENCH_BINARY]     (default: builds ./cmd/bench into a temp dir)
# env: REDIS_URL (default redis://127.0.0.1:6379/11), MYSQL_URL (default
#      db+mysql://root@127.0.0.1:3306/celery_bench_interop), PY (default /usr/bin/python3)
set -u
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
PY=${PY:-/usr/bin/python3}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/11}
MYSQL_URL=${MYSQL_URL:-db+mysql://root@127.0.0.1:3306/celery_bench_interop}
tmp=$(mktemp -d)
mysql_db=${MYSQL_URL##*/}
trap 'rm -rf "$tmp"; $PY -c "import pymysql; pymysql.connect(host=\"127.0.0.1\", user=\"root\").cursor().execute(\"DROP DATABASE IF EXISTS \`$mysql_db\`\")" 2>/dev/null' EXIT
bench=${1:-}
if [ -z "$bench" ]; then
  (cd "$root" && go build -o "$tmp/bench" ./cmd/bench) || { echo "FAIL: go build ./cmd/bench"; exit 1; }
  bench=$tmp/bench
fi
$PY -c 'import celery, redis, sqlalchemy, pymysql' || {
  echo "FAIL: $PY cannot import celery/redis/sqlalchemy/pymysql; apt-get install python3-celery python3-redis python3-sqlalchemy python3-pymysql"; exit 1; }
$PY -c "import pymysql; pymysql.connect(host='127.0.0.1', user='root').cursor().execute('CREATE DATABASE IF NOT EXISTS \`$mysql_db\`')" || exit 1
fail=0
check1() { # url line flags...
  local url=$1 line=$2; shift 2
  local ext=""; case "$*" in *--result-extended*) ext=--extended;; esac
  echo "== check 1: $url --celery $line $*"
  $PY "$here/cleanup.py" "$url" >/dev/null || { fail=1; return; }
  if ! "$bench" --backend "$url" --tasks 20 -c 2 --workers 2 --warmup 0s --keep --force --progress 0 \
       --celery "$line" "$@" --seed 4242 > "$tmp/bench.out" 2>&1; then
    echo "FAIL: bench run"; tail -5 "$tmp/bench.out"; fail=1
  fi
  $PY "$here/bench_writes_celery_reads.py" "$url" --celery "$line" $ext || fail=1
  $PY "$here/cleanup.py" "$url" >/dev/null
}
for line in 5.2 5.6; do
  for flags in "" "--track-started" "--result-extended" "--track-started --result-extended"; do
    check1 "$REDIS_URL" $line $flags
    check1 "$MYSQL_URL" $line $flags
  done
done
echo "== check 2: traffic (Redis, MySQL; default and --track-started)"
$PY "$here/traffic.py" --bench "$bench" || fail=1
$PY "$here/traffic.py" --bench "$bench" --track-started || fail=1
if [ $fail = 0 ]; then echo "interop: PASS"; else echo "interop: FAIL"; fi
exit $fail
