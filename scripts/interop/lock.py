#!/usr/bin/python3
"""Hold the MariaDB named lock 'celery_bench_interop' while stdin stays open, so that two interop
runs (e.g. a developer's and CI's) never share Redis db 11 / the celery_bench_interop database at
the same time: each deletes every bec1e7e0- record the other is checking.
Prints "LOCKED" once held; exits 3 when the lock is not granted within --timeout seconds."""
import argparse, sys
import pymysql
ap = argparse.ArgumentParser(); ap.add_argument('--timeout', type=int, default=300)
a = ap.parse_args()
c = pymysql.connect(host='127.0.0.1', user='root', autocommit=True)
cur = c.cursor()
cur.execute("SELECT GET_LOCK('celery_bench_interop', %s)", (a.timeout,))
if cur.fetchone()[0] != 1:
    print('NOT LOCKED: another interop run holds celery_bench_interop', flush=True)
    sys.exit(3)
print('LOCKED', flush=True)
sys.stdin.read()
cur.execute("SELECT RELEASE_LOCK('celery_bench_interop')")
c.close()
