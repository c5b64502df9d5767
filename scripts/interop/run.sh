#!/bin/bash
# Runs every interop check in order; exits non-zero on any failure.
# usage: scripts/interop/run.sh [BENCH_BINARY]     (default: builds ./cmd/bench into a temp dir)
# env: REDIS_URL (default redis://127.0.0.1:6379/11), MYSQL_URL (default
#      db+mysql://root@127.0.0.1:3306/celery_bench_interop), PG_URL (default
#      db+postgresql://postgres@127.0.0.1:5432/celery_bench_interop), DJANGO_URL (default
#      django-db+mysql://root@127.0.0.1:3306/celery_bench_interop_django), DJANGO_PG_URL (default
#      django-db+postgresql://postgres@127.0.0.1:5432/celery_bench_interop_django), PY (default /usr/bin/python3)
set -u
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
PY=${PY:-/usr/bin/python3}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/11}
MYSQL_URL=${MYSQL_URL:-db+mysql://root@127.0.0.1:3306/celery_bench_interop}
PG_URL=${PG_URL:-db+postgresql://postgres@127.0.0.1:5432/celery_bench_interop}
DJANGO_URL=${DJANGO_URL:-django-db+mysql://root@127.0.0.1:3306/celery_bench_interop_django}
DJANGO_PG_URL=${DJANGO_PG_URL:-django-db+postgresql://postgres@127.0.0.1:5432/celery_bench_interop_django}
tmp=$(mktemp -d)
mysql_db=${MYSQL_URL##*/}; pg_db=${PG_URL##*/}; django_db=${DJANGO_URL##*/}; django_pg_db=${DJANGO_PG_URL##*/}
pg() { $PY -c "import psycopg2; c = psycopg2.connect(host='127.0.0.1', user='postgres', dbname='postgres'); c.autocommit = True; cur = c.cursor(); $1"; }
mydb() { $PY -c "import pymysql; pymysql.connect(host='127.0.0.1', user='root').cursor().execute('$1')"; }
trap 'rm -rf "$tmp"; mydb "DROP DATABASE IF EXISTS \`$mysql_db\`"; mydb "DROP DATABASE IF EXISTS \`$django_db\`"
      pg "cur.execute(\"DROP DATABASE IF EXISTS $pg_db WITH (FORCE)\")"
      pg "cur.execute(\"DROP DATABASE IF EXISTS $django_pg_db WITH (FORCE)\")"' EXIT
bench=${1:-}
if [ -z "$bench" ]; then
  (cd "$root" && go build -o "$tmp/bench" ./cmd/bench) || { echo "FAIL: go build ./cmd/bench"; exit 1; }
  bench=$tmp/bench
fi
$PY -c 'import celery, redis, sqlalchemy, pymysql, psycopg2, django, django_celery_results, MySQLdb' || {
  echo "FAIL: $PY cannot import celery/redis/sqlalchemy/pymysql/psycopg2/django/django_celery_results/MySQLdb;" \
    "apt-get install python3-celery python3-redis python3-sqlalchemy python3-pymysql python3-psycopg2" \
    "python3-django python3-django-celery-results python3-mysqldb"; exit 1; }
mydb "CREATE DATABASE IF NOT EXISTS \`$mysql_db\`" || exit 1
mydb "CREATE DATABASE IF NOT EXISTS \`$django_db\`" || exit 1
for db in "$pg_db" "$django_pg_db"; do
  pg "cur.execute(\"SELECT 1 FROM pg_database WHERE datname = '$db'\"); cur.fetchone() or cur.execute('CREATE DATABASE $db')" || exit 1
done
# hold the named lock celery_bench_interop for the whole run (lock.py; go test takes it too)
coproc LOCK { "$PY" "$here/lock.py"; }
read -r locked <&"${LOCK[0]}"
[ "$locked" = LOCKED ] || { echo "FAIL: another interop run holds the lock celery_bench_interop"; exit 1; }
fail=0
check1() { # url line "bench flags" "check flags"
  local url=$1 line=$2 bflags=$3 cflags=$4
  echo "== check 1 (reads): $url --celery $line $bflags"
  $PY "$here/cleanup.py" "$url" >/dev/null || { fail=1; return; }
  if ! "$bench" --backend "$url" -c 2 --workers 2 --warmup 0s --keep --force --progress 0 \
       --celery "$line" --seed 4242 $bflags > "$tmp/bench.out" 2>&1; then
    echo "FAIL: bench run"; tail -5 "$tmp/bench.out"; fail=1
  fi
  $PY "$here/bench_writes_celery_reads.py" "$url" --celery "$line" $cflags || fail=1
  $PY "$here/cleanup.py" "$url" >/dev/null
}
for line in 5.2 5.6; do
  urls="$REDIS_URL $MYSQL_URL $PG_URL"
  [ $line = 5.2 ] && urls="$urls $DJANGO_URL $DJANGO_PG_URL"   # django-db: the 5.2 line only
  for url in $urls; do
    check1 "$url" $line "--tasks 20 --poll-interval 50ms" ""
    check1 "$url" $line "--tasks 8 --track-started --poll-interval 50ms" ""
    check1 "$url" $line "--tasks 8 --track-started --result-extended --poll-interval 50ms" "--extended"
    check1 "$url" $line "--tasks 4 -w polling --poll-interval 50ms" "--expect-state SUCCESS"
    check1 "$url" $line "--tasks 4 -w store-only" "--expect-state SUCCESS --min-records 4"
    check1 "$url" $line "--tasks 4 -w progress --progress-updates 2 --track-started --poll-interval 50ms" "--expect-state SUCCESS"
    check1 "$url" $line "--tasks 4 -w failure --failure-rate 1 --poll-interval 50ms" "--expect-state FAILURE"
    check1 "$url" $line "--tasks 4 -w failure --failure-rate 1 --retry-rate 1 --poll-interval 50ms" \
      "--expect-state FAILURE $([ "$url" = "$REDIS_URL" ] && echo --expect-parent-self)"
  done
  check1 "$REDIS_URL" $line "--tasks 2 -w group --group-size 3" "--expect-state SUCCESS --group-size 3 --ungrouped 0"
  check1 "$REDIS_URL" $line "--tasks 2 -w chord --chord-size 3" "--expect-state SUCCESS --group-size 3 --ungrouped 2"
  for url in ${urls#"$REDIS_URL "}; do
    check1 "$url" $line "--tasks 2 -w group --group-size 3 --poll-interval 50ms" "--expect-state SUCCESS --min-records 6"
    check1 "$url" $line "--tasks 2 -w chord --chord-size 3 --poll-interval 50ms" "--expect-state SUCCESS --min-records 8"
  done
  for url in "$REDIS_URL" "$MYSQL_URL" "$PG_URL"; do
    echo "== check 1 (reads): GroupResult.save on $url, --celery $line"
    $PY "$here/taskset_check.py" --bench "$bench" "$url" --celery $line || fail=1
    $PY "$here/cleanup.py" "$url" >/dev/null
  done
done
for url in "$REDIS_URL" "$MYSQL_URL" "$PG_URL" "$DJANGO_URL" "$DJANGO_PG_URL"; do
  echo "== Celery writes, bench inspect reads: $url"
  $PY "$here/cleanup.py" "$url" >/dev/null
  $PY "$here/celery_writes_bench_reads.py" --bench "$bench" "$url" || fail=1
  $PY "$here/cleanup.py" "$url" >/dev/null
done
echo "== check 2: traffic"
$PY "$here/traffic.py" --bench "$bench" || fail=1
$PY "$here/traffic.py" --bench "$bench" --track-started || fail=1
for wl in extended progress failure polling group; do $PY "$here/traffic.py" --bench "$bench" --only redis --workload $wl || fail=1; done
for wl in extended progress failure retry store-only polling group cleanup; do $PY "$here/traffic.py" --bench "$bench" --only mysql --workload $wl || fail=1; done
if [ $fail = 0 ]; then echo "interop: PASS"; else echo "interop: FAIL"; fi
exit $fail
