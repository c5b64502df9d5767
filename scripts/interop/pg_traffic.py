#!/usr/bin/python3
"""Drive Celery 5.2.6's SQLAlchemy database backend (db+postgresql://, psycopg2) on a private
PostgreSQL cluster, for pg_traffic_test.go, which captures the cluster's statement log.

  pg_traffic.py migrate --port P --db D               create_all as postgres (the tables exist before
                                                      the lifecycles, so every process sees the
                                                      4-statement table check, not the DDL)
  pg_traffic.py run --port P --db D --broker URL      a prefork worker (-c 1, DB user pgw) and this
                                                      process as the caller (DB user pgc) run the
                                                      lifecycles in LIFECYCLES, one after another,
                                                      then a second worker (DB user pgx,
                                                      result_extended=True, -n pgx@bench) those in
                                                      EXTENDED_LIFECYCLES; prints one JSON object
                                                      {lifecycle: [task ids]}
  pg_traffic.py read --port P --db D ID...            reads each id (as postgres) through AsyncResult;
                                                      prints JSON per id

The Celery app (module pgtasks) is written to a temp dir: json serializers, the broker RabbitMQ
(a queue of the run's own, deleted at the end), result_expires 1 day (the default)."""
import argparse, json, os, subprocess, sys, tempfile, time, uuid

from traffic_tasks import TASK_DEFS

TASKS = '''
import os, time
from celery import Celery
app = Celery('pgtasks', broker=os.environ.get('PG_BROKER', 'memory://'),
             backend='db+postgresql://%s@127.0.0.1:%s/%s' % (os.environ['PG_DB_USER'], os.environ['PG_PORT'], os.environ['PG_DB']))
app.conf.update(task_default_queue=os.environ.get('PG_QUEUE', 'celery'), task_serializer='json',
                result_serializer='json', accept_content=['json'], worker_hijack_root_logger=False,
                result_extended=os.environ.get('PG_EXTENDED') == '1', broker_connection_retry_on_startup=True)

''' + TASK_DEFS

LIFECYCLES = ['roundtrip', 'progress', 'failure', 'polling', 'forget', 'group', 'chord', 'started', 'retry']
EXTENDED_LIFECYCLES = ['extended', 'cleanup']


def project(a, user):
    d = tempfile.mkdtemp(prefix='bench-pgtraffic-')
    with open(os.path.join(d, 'pgtasks.py'), 'w') as f:
        f.write(TASKS)
    env = dict(os.environ, PG_DB=a.db, PG_DB_USER=user, PG_PORT=str(a.port), PYTHONPATH=d,
               PYTHONDONTWRITEBYTECODE='1')
    if getattr(a, 'broker', None):
        env['PG_BROKER'] = a.broker
        env['PG_QUEUE'] = a.queue
    return d, env


def load(d, env):
    os.environ.update(env)
    sys.path.insert(0, d)
    import pgtasks
    return pgtasks


def cmd_migrate(a):
    d, env = project(a, 'postgres')
    pgtasks = load(d, env)
    pgtasks.app.backend.get_task_meta(str(uuid.uuid4()))  # create_all, then one read


def start_worker(d, env, name):
    return subprocess.Popen([sys.executable, '-m', 'celery', '-A', 'pgtasks', 'worker', '-P', 'prefork', '-c', '1',
                             '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'WARNING',
                             '-n', name + '@bench'], env=env, cwd=d, stdin=subprocess.DEVNULL)


def ready_waiter(a):
    """wait(task_id) returns once the task's row is ready, read as postgres (whose connection the
    comparison leaves out), so that the caller's first poll finds it done: a countdown (retry,
    chord_unlock) sits in the worker's timer for a varying 1-3 s."""
    import psycopg2
    conn = psycopg2.connect(host='127.0.0.1', port=a.port, user='postgres', dbname=a.db, sslmode='disable')
    conn.autocommit = True

    def wait(task_id, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with conn.cursor() as cur:
                cur.execute('SELECT status FROM celery_taskmeta WHERE task_id = %s', (task_id,))
                row = cur.fetchone()
            if row and row[0] in ('SUCCESS', 'FAILURE', 'REVOKED'):
                time.sleep(0.2)  # the worker's task_postrun
                return
            time.sleep(0.05)
        sys.exit('task %s was not ready within %d s' % (task_id, timeout))
    return wait


def cmd_run(a):
    d, env = project(a, 'pgw')
    xqueue = a.queue + '-x'
    workers = [start_worker(d, env, 'pgw'),
               start_worker(d, dict(env, PG_DB_USER='pgx', PG_QUEUE=xqueue, PG_EXTENDED='1'), 'pgx')]
    try:
        pgtasks = load(d, dict(env, PG_DB_USER='pgc'))
        app = pgtasks.app
        deadline = time.time() + 30
        while len(app.control.ping(destination=['pgw@bench', 'pgx@bench'], timeout=0.5)) < len(workers):
            if time.time() > deadline or any(w.poll() is not None for w in workers):
                sys.exit('the Celery workers did not both answer a ping within 30 s')
        ids = {}
        wait = ready_waiter(a)
        # roundtrip: the task is done before the caller's only poll.
        r = pgtasks.add.delay(2, 3); wait(r.id); assert r.get(timeout=10) == 5; ids['roundtrip'] = [r.id]
        r = pgtasks.progress.delay(); wait(r.id); assert r.get(timeout=10) == 'done'; ids['progress'] = [r.id]
        r = pgtasks.boom.delay(); wait(r.id); r.get(timeout=10, propagate=False); assert r.state == 'FAILURE'
        ids['failure'] = [r.id]
        # polling: PENDING at about 0, 0.5 and 1.05 s, SUCCESS at about 1.6 s.
        r = pgtasks.slow.delay(1.2); assert r.get(timeout=10, interval=0.5) == 'ok'; ids['polling'] = [r.id]
        r = pgtasks.add.delay(1, 1); wait(r.id); assert r.get(timeout=10) == 2; r.forget(); ids['forget'] = [r.id]
        # group: GroupResult.save(), GroupResult.restore(), .delete() (caller only).
        gid, members = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(3)]
        g = app.GroupResult(gid, [app.AsyncResult(m) for m in members])
        g.save()
        restored = app.GroupResult.restore(gid)
        assert [r.id for r in restored.results] == members, restored
        g.delete()
        ids['group'] = [gid] + members
        # chord: two header tasks, celery.chord_unlock (countdown 1 s: both are ready by then), the
        # body; the caller reads it once done.
        from celery import chord
        r = chord([pgtasks.add.s(1, 1), pgtasks.add.s(2, 2)])(pgtasks.tsum.s())
        wait(r.id)
        assert r.get(timeout=10) == 6
        ids['chord'] = [r.parent.id] + [x.id for x in r.parent.results] + [r.id]
        # started: task_track_started (per task): STARTED, then SUCCESS.
        r = pgtasks.started_add.delay(2, 3); wait(r.id); assert r.get(timeout=10) == 5; ids['started'] = [r.id]
        # retry: RETRY on the first run, SUCCESS on the re-run 0.5 s later (the same child connection).
        r = pgtasks.flaky.delay(); wait(r.id); assert r.get(timeout=10) == 'retried-ok'; ids['retry'] = [r.id]
        # extended (pgx, result_extended): track_started, args (2,) and kwargs {'y': 3}.
        r = pgtasks.started_add.apply_async((2,), {'y': 3}, queue=xqueue); wait(r.id)
        assert r.get(timeout=10) == 5; ids['extended'] = [r.id]
        # cleanup (pgx): celery.backend_cleanup as beat sends it; the caller does not read its result.
        r = app.send_task('celery.backend_cleanup', queue=xqueue); ids['cleanup'] = [r.id]
        wait(r.id)
        print(json.dumps(ids), flush=True)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.kill()
        try:
            with app.connection_for_write() as conn:
                ch = conn.default_channel
                for q in (a.queue, xqueue):
                    ch.queue_delete(q)
        except Exception:
            pass


def cmd_read(a):
    d, env = project(a, 'postgres')
    pgtasks = load(d, env)
    out = {}
    for tid in a.ids:
        r = pgtasks.app.AsyncResult(tid)
        m = pgtasks.app.backend.get_task_meta(tid)
        res = r.result
        if isinstance(res, BaseException):
            res = {'exception': type(res).__name__, 'args': list(res.args)}
        out[tid] = {'state': r.state, 'result': res, 'date_done': str(m.get('date_done'))}
    print(json.dumps(out), flush=True)


ap = argparse.ArgumentParser()
ap.add_argument('cmd', choices=['migrate', 'run', 'read'])
ap.add_argument('--port', type=int, required=True)
ap.add_argument('--db', required=True)
ap.add_argument('--broker')
ap.add_argument('--queue', default='bench-pgtraffic-' + uuid.uuid4().hex[:8])
ap.add_argument('ids', nargs='*')
a = ap.parse_intermixed_args()
{'migrate': cmd_migrate, 'run': cmd_run, 'read': cmd_read}[a.cmd](a)
