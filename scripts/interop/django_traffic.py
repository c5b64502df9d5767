#!/usr/bin/python3
"""Drive a real django-celery-results 2.4 backend (Django 3.2, Celery 5.2.6) on a MariaDB server
(mysqlclient) or a PostgreSQL server (psycopg2), for django_traffic_test.go, which captures the
server's general log or statement log.

Every command takes --engine mysql|postgresql (default mysql): Django's ENGINE
django.db.backends.mysql or django.db.backends.postgresql; the administrative user (migrate,
read) is root on MySQL and postgres on PostgreSQL.

  django_traffic.py migrate --port P --db D             manage.py migrate django_celery_results (as admin)
  django_traffic.py run --port P --db D --broker URL    a prefork worker (-c 1, DB user djw) and this
                                                        process as the caller (DB user djc) run the
                                                        lifecycles in LIFECYCLES, one after another,
                                                        then a second worker (DB user djx,
                                                        CELERY_RESULT_EXTENDED=True) those in
                                                        EXTENDED_LIFECYCLES; prints one JSON object
                                                        {lifecycle: [task ids]}
  django_traffic.py store --port P --db D ID            as djw, app.backend.store_result(ID, 5, SUCCESS) with a
                                                        request of no children, in this process (a
                                                        worker's store, without a worker)
  django_traffic.py poll --port P --db D ID             as djc, AsyncResult(ID).get(): prints the result
  django_traffic.py read --port P --db D ID...          reads each id (as admin) through AsyncResult and the
                                                        TaskResult model; prints JSON per id

The Django project (settings module djsettings, Celery app djtasks) is written to a temp dir.
Settings: INSTALLED_APPS=['django_celery_results'], CELERY_RESULT_BACKEND='django-db', json
serializers, USE_TZ=True, TIME_ZONE='UTC', CONN_MAX_AGE default (0)."""
import argparse, json, os, subprocess, sys, tempfile, time, uuid

from traffic_tasks import TASK_DEFS

SETTINGS = '''
import os
SECRET_KEY = 'bench'
INSTALLED_APPS = ['django_celery_results']
USE_TZ = True
TIME_ZONE = 'UTC'
DATABASES = {'default': {'ENGINE': 'django.db.backends.' + os.environ['DJ_ENGINE'], 'NAME': os.environ['DJ_DB'],
    'USER': os.environ['DJ_DB_USER'], 'HOST': '127.0.0.1', 'PORT': os.environ['DJ_PORT']}}
CELERY_RESULT_BACKEND = 'django-db'
CELERY_BROKER_URL = os.environ.get('DJ_BROKER', 'memory://')
CELERY_TASK_DEFAULT_QUEUE = os.environ.get('DJ_QUEUE', 'celery')
CELERY_TASK_SERIALIZER = 'json'
CELERY_RESULT_SERIALIZER = 'json'
CELERY_ACCEPT_CONTENT = ['json']
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_RESULT_EXTENDED = os.environ.get('DJ_EXTENDED') == '1'
'''

TASKS = '''
import time
from celery import Celery
app = Celery('djtasks')
app.config_from_object('django.conf:settings', namespace='CELERY')

''' + TASK_DEFS + '''
@app.task(ignore_result=True)
def noop():
    return None
'''

# The administrative user of each engine: migrate and read connect as it.
ADMIN = {'mysql': 'root', 'postgresql': 'postgres'}

# The lifecycles, in order; django_traffic_test.go plays the same ones through bench.
LIFECYCLES = ['roundtrip', 'progress', 'failure', 'polling', 'forget', 'group', 'chord', 'started', 'retry']
# Then, on a second worker (DB user djx, queue <queue>-x, -n djx@bench) with CELERY_RESULT_EXTENDED=True:
EXTENDED_LIFECYCLES = ['extended', 'cleanup']


def project(a, user):
    d = tempfile.mkdtemp(prefix='bench-django-')
    with open(os.path.join(d, 'djsettings.py'), 'w') as f:
        f.write(SETTINGS)
    with open(os.path.join(d, 'djtasks.py'), 'w') as f:
        f.write(TASKS)
    if user == 'admin':
        user = ADMIN[a.engine]
    env = dict(os.environ, DJ_ENGINE=a.engine, DJ_DB=a.db, DJ_DB_USER=user, DJ_PORT=str(a.port),
               DJANGO_SETTINGS_MODULE='djsettings',
               PYTHONPATH=d, PYTHONDONTWRITEBYTECODE='1')
    if getattr(a, 'broker', None):
        env['DJ_BROKER'] = a.broker
        env['DJ_QUEUE'] = a.queue
    return d, env


def setup_django(d, env):
    os.environ.update(env)
    sys.path.insert(0, d)
    import django
    django.setup()


def cmd_migrate(a):
    d, env = project(a, 'admin')
    subprocess.run([sys.executable, '-m', 'django', 'migrate', '-v', '0', 'django_celery_results'], env=env, cwd=d,
                   check=True, timeout=60)


def start_worker(d, env, name):
    return subprocess.Popen([sys.executable, '-m', 'celery', '-A', 'djtasks', 'worker', '-P', 'prefork', '-c', '1',
                             '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'WARNING',
                             '-n', name + '@bench'], env=env, cwd=d, stdin=subprocess.DEVNULL)


def cmd_run(a):
    d, env = project(a, 'djw')
    xqueue = a.queue + '-x'
    # Both workers start at once (their start-up overlaps); djx's connections begin at its first task.
    workers = [start_worker(d, env, 'djw'),
               start_worker(d, dict(env, DJ_DB_USER='djx', DJ_QUEUE=xqueue, DJ_EXTENDED='1'), 'djx')]
    try:
        env['DJ_DB_USER'] = 'djc'
        setup_django(d, env)
        import djtasks
        deadline = time.time() + 30
        while len(djtasks.app.control.ping(timeout=0.5)) < len(workers):
            if time.time() > deadline or any(w.poll() is not None for w in workers):
                sys.exit('the Celery workers did not both answer a ping within 30 s')
        ids = {}
        # roundtrip: the task is done before the caller's only poll.
        r = djtasks.add.delay(2, 3); time.sleep(1.5); assert r.get(timeout=10) == 5; ids['roundtrip'] = [r.id]
        r = djtasks.progress.delay(); time.sleep(1.5); assert r.get(timeout=10) == 'done'; ids['progress'] = [r.id]
        r = djtasks.boom.delay(); time.sleep(1.5); r.get(timeout=10, propagate=False); assert r.state == 'FAILURE'
        ids['failure'] = [r.id]
        # polling: PENDING at 0, 0.5 and 1.0 s, SUCCESS at 1.5 s.
        r = djtasks.slow.delay(1.2); assert r.get(timeout=10, interval=0.5) == 'ok'; ids['polling'] = [r.id]
        r = djtasks.add.delay(1, 1); time.sleep(1.5); assert r.get(timeout=10) == 2; r.forget(); ids['forget'] = [r.id]
        # group: GroupResult.save(), GroupResult.restore(), .delete() (caller only).
        gid, members = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(3)]
        g = djtasks.app.GroupResult(gid, [djtasks.app.AsyncResult(m) for m in members])
        g.save()
        restored = djtasks.app.GroupResult.restore(gid)
        assert [r.id for r in restored.results] == members, restored
        g.delete()
        ids['group'] = [gid] + members
        # chord: apply_chord's ChordCounter, two header tasks, the body; the caller reads it once done.
        from celery import chord
        r = chord([djtasks.add.s(1, 1), djtasks.add.s(2, 2)])(djtasks.tsum.s())
        time.sleep(2.0)
        assert r.get(timeout=10) == 6
        ids['chord'] = [r.parent.id] + [x.id for x in r.parent.results] + [r.id]
        # started: task_track_started (per task): STARTED, then SUCCESS.
        r = djtasks.started_add.delay(2, 3); time.sleep(1.5); assert r.get(timeout=10) == 5; ids['started'] = [r.id]
        # retry: RETRY on the first run, SUCCESS on the re-run 0.5 s later (a new connection).
        r = djtasks.flaky.delay(); time.sleep(2.5); assert r.get(timeout=10) == 'retried-ok'; ids['retry'] = [r.id]
        # extended (djx, result_extended): track_started, args (2,) and kwargs {'y': 3}: STARTED, then SUCCESS.
        r = djtasks.started_add.apply_async((2,), {'y': 3}, queue=xqueue); time.sleep(1.5)
        assert r.get(timeout=10) == 5; ids['extended'] = [r.id]
        # cleanup (djx): celery.backend_cleanup as beat sends it; the caller does not read its result.
        r = djtasks.app.send_task('celery.backend_cleanup', queue=xqueue); ids['cleanup'] = [r.id]
        time.sleep(1.5)  # the workers' last task_postrun (their connections' Quit)
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
            import redis
            rc = redis.Redis.from_url(a.broker)
            rc.delete(a.queue, '_kombu.binding.' + a.queue, xqueue, '_kombu.binding.' + xqueue)
        except Exception:
            pass


def cmd_store(a):
    d, env = project(a, 'djw')
    setup_django(d, env)
    import djtasks
    from celery.app.task import Context
    # A worker's request has no children yet: meta {"children": []}, as in a task.
    djtasks.app.backend.store_result(a.ids[0], 5, 'SUCCESS', request=Context(id=a.ids[0], children=[]))


def cmd_poll(a):
    d, env = project(a, 'djc')
    setup_django(d, env)
    import djtasks
    print(json.dumps(djtasks.app.AsyncResult(a.ids[0]).get(timeout=10, interval=0.5)), flush=True)


def cmd_read(a):
    d, env = project(a, 'admin')
    setup_django(d, env)
    import djtasks
    from django_celery_results.models import TaskResult
    out = {}
    for tid in a.ids:
        r = djtasks.app.AsyncResult(tid)
        row = TaskResult.objects.get(task_id=tid)
        res = r.result
        if isinstance(res, BaseException):
            res = {'exception': type(res).__name__, 'args': list(res.args)}
        out[tid] = {'state': r.state, 'result': res, 'row_status': row.status, 'row_result': row.result,
                    'content_type': row.content_type, 'content_encoding': row.content_encoding,
                    'meta': row.meta, 'date_done_aware': row.date_done.tzinfo is not None,
                    'task_name': row.task_name, 'task_args': row.task_args, 'task_kwargs': row.task_kwargs,
                    'worker': row.worker, 'periodic_task_name': row.periodic_task_name}
    print(json.dumps(out), flush=True)


ap = argparse.ArgumentParser()
ap.add_argument('cmd', choices=['migrate', 'run', 'store', 'poll', 'read'])
ap.add_argument('--engine', choices=sorted(ADMIN), default='mysql')
ap.add_argument('--port', type=int, required=True)
ap.add_argument('--db', required=True)
ap.add_argument('--broker')
ap.add_argument('--queue', default='bench-django-' + uuid.uuid4().hex[:8])
ap.add_argument('ids', nargs='*')
a = ap.parse_intermixed_args()
{'migrate': cmd_migrate, 'run': cmd_run, 'store': cmd_store, 'poll': cmd_poll, 'read': cmd_read}[a.cmd](a)
