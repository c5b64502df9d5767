#!/usr/bin/python3
"""Check 1 for GroupResult.save (workload group --group-save) on Redis.

bench saves, restores and deletes each GroupResult after joining it, so the
celery-taskset-meta-<gid> key is gone even with --keep. This script runs bench under
redis-cli MONITOR, takes the value bench SET (SETEX) for the key from the MONITOR stream, and:
  * bytes: it must equal what Celery 5.2's RedisBackend._save_group writes for the same group:
    app.backend.encode({'result': GroupResult(gid, members).as_tuple()}), the members taken from
    the kept member records (group_id = gid) in the order bench saved them;
  * restore: the captured bytes are written back under the key (TTL 600 s) and
    GroupResult.restore(gid, app=app) must return the same member ids, and .join() must return
    the member records' values;
  * the key must have been written with a TTL (SETEX, result_expires) and deleted (DEL) by bench.
MySQL: bench's celery_tasksetmeta row holds an opaque stand-in pickle that Python cannot load;
that is a known gap, not checked here.

usage: taskset_check.py --bench PATH URL [--celery 5.2|5.6] [--group-size 3]
Prints PROBLEM lines like bench_writes_celery_reads.py; exit 0 ok, 1 problems, 2 capture error.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import traffic  # noqa: E402  (MONITOR parsing)

problems = []


def problem(tid, field, expected, got):
    problems.append((tid, field))
    print('PROBLEM %s %s: expected %s got %s' % (tid, field, expected, got), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bench', required=True)
    ap.add_argument('url')
    ap.add_argument('--celery', default='5.2', choices=['5.2', '5.6'])
    ap.add_argument('--group-size', type=int, default=3)
    a = ap.parse_args()
    import redis
    from celery import Celery
    from celery.result import GroupResult, AsyncResult
    from kombu.utils.encoding import ensure_bytes
    client = redis.Redis.from_url(a.url)
    db = client.connection_pool.connection_kwargs.get('db', 0)
    tmp = tempfile.mkdtemp(prefix='interop-taskset-')
    mon = os.path.join(tmp, 'monitor.txt')
    p, f = traffic.start_monitor(mon)
    try:
        r = subprocess.run([a.bench, '--backend', a.url, '-w', 'group', '--group-save', '--group-size', str(a.group_size),
                            '--tasks', '1', '-c', '1', '--workers', '1', '--warmup', '0s', '--keep', '--force',
                            '--progress', '0', '--celery', a.celery, '--seed', '4243'], capture_output=True, timeout=60)
        time.sleep(0.3)
    finally:
        traffic.stop(p, f)
    if r.returncode != 0:
        print('ERROR bench: %s' % r.stderr.decode()[-1500:])
        return 2
    conns = traffic.parse_monitor(mon, db)
    sets, dels = [], []
    for port, cmds in conns.items():
        for ts, args in cmds:
            name = args[0].upper()
            if len(args) > 1 and args[1].startswith(b'celery-taskset-meta-bec1e7e0-'):
                if name in (b'SETEX', b'SET'):
                    sets.append(args)
                elif name == b'DEL':
                    dels.append(args)
    if not sets:
        print('ERROR no SET/SETEX of celery-taskset-meta-bec1e7e0-* in the MONITOR stream')
        return 2
    app = Celery('interop', backend=a.url)
    n = 0
    for args in sets:
        n += 1
        key = args[1].decode()
        gid = key[len('celery-taskset-meta-'):]
        raw = args[3] if args[0].upper() == b'SETEX' else args[2]
        if args[0].upper() != b'SETEX':
            problem(gid, 'command', 'SETEX (result_expires 1 day)', args[0].decode())
        if not any(d[1] == args[1] for d in dels):
            problem(gid, 'delete', 'DEL of %s by bench (GroupResult.delete)' % key, 'none')
        members = []
        for k in client.scan_iter(match=b'celery-task-meta-bec1e7e0-*', count=1000):
            m = json.loads(client.get(k))
            if m.get('group_id') == gid:
                members.append(m['task_id'])
        try:
            saved = json.loads(raw)
            order = [t[0][0] for t in saved['result'][1]]
        except Exception as e:  # noqa
            problem(gid, 'json', '{"result": [[gid, null], [[[id, null], null], ...]]}', '%s: %r' % (e, raw[:120]))
            continue
        if sorted(order) != sorted(members):
            problem(gid, 'members', 'the %d kept records with group_id %s %s' % (len(members), gid, sorted(members)), sorted(order))
        want = ensure_bytes(app.backend.encode(
            {'result': GroupResult(gid, [AsyncResult(t, app=app) for t in order], app=app).as_tuple()}))
        if want != raw:
            import bench_writes_celery_reads as bw
            problem(gid, 'bytes(celery-save_group)', 'RedisBackend._save_group bytes', bw.first_diff(want, raw))
        client.set(key, raw, ex=600)
        try:
            g = GroupResult.restore(gid, app=app)
            if g is None or [x.id for x in g.results] != order:
                problem(gid, 'restore', 'GroupResult.restore ids %s' % order, g and [x.id for x in g.results])
            else:
                vals = g.join(timeout=5)
                want_vals = [app.backend.get_task_meta(t)['result'] for t in order]
                if vals != want_vals:
                    problem(gid, 'join', repr(want_vals), repr(vals))
        except Exception as e:  # noqa
            problem(gid, 'restore', 'GroupResult.restore + join', '%s: %s' % (type(e).__name__, e))
        finally:
            client.delete(key)
    print('%d saved groups checked, %d problems' % (n, len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
