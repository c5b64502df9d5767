#!/usr/bin/python3
"""Check 4: "same pipeline". A real Celery 5.2 pipeline (a prefork worker with --workers
children, RabbitMQ as the broker, --callers caller processes each doing
sleep_task.delay(T).get() in a loop) and bench with the same callers, workers and
--task-time T, each measured by what the result backend's server counted.

usage: pipeline.py --bench PATH --backend redis|mysql --task-time 0.3 [--callers 2]
       [--workers 2] [--few 4] [--many 12] [--broker amqp://guest:guest@127.0.0.1:5672//]

The server is a private one this script starts on a free port (redis-server, or mariadbd on a
scratch datadir), so that nothing else adds to its counters; it is stopped at the end.

The rule: counters are read before and after a phase of FEW tasks per caller and a phase of
MANY tasks per caller (Celery: new caller processes for each phase, the worker already warm;
bench: one run per phase), and the figure per task is
    (counter after MANY - counter before MANY - (counter after FEW - counter before FEW))
    / (tasks in MANY - tasks in FEW)
so what a phase pays once (process start, connection set-up, bench's schema check, snapshots
and cleanup of its own records) cancels and only what each task costs is left.
Redis: INFO commandstats calls per command; MariaDB: SHOW GLOBAL STATUS Questions, Connections
and the Com_* counters. Prints one JSON object: {"celery": {...}, "bench": {...}} per task.
Exit 2 when the pipeline could not be set up.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

PY = '/usr/bin/python3'

TASKS_PY = r'''
import os, time
from celery import Celery
from kombu import Queue
app = Celery('pipeline', broker=os.environ['BROKER'], backend=os.environ['BACKEND'])
q = os.environ['QUEUE']
app.conf.update(task_default_queue=q,
                task_queues=[Queue(q, auto_delete=True, durable=False)],
                worker_enable_remote_control=False,
                worker_hijack_root_logger=False,
                broker_connection_retry_on_startup=True)

@app.task
def sleep_task(seconds):
    time.sleep(seconds)
    return os.environ['PAYLOAD']
'''

CALLER_PY = r'''
import sys
from tasks import sleep_task
t, n = float(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    v = sleep_task.delay(t).get(timeout=60, interval=0.5)
    assert v == __import__('os').environ['PAYLOAD'], v
print('DONE', n, flush=True)
'''

# Bench's result of the roundtrip workload at --result-size 64 is a 64-byte str; the Celery task
# returns a str of the same length so that both store the same bytes per result.
PAYLOAD = 'x' * 64


def die(msg):
    print('pipeline.py: ' + msg, file=sys.stderr)
    sys.exit(2)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what, secs=30):
    for _ in range(int(secs * 10)):
        try:
            socket.create_connection(('127.0.0.1', port), 0.5).close()
            return
        except OSError:
            if proc.poll() is not None:
                die('%s exited with %s' % (what, proc.returncode))
            time.sleep(0.1)
    die('%s did not listen on %d' % (what, port))


def stop(p, secs=15):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(secs)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


class Redis:
    def __init__(self, tmp):
        self.port = free_port()
        self.proc = subprocess.Popen(['redis-server', '--port', str(self.port), '--bind', '127.0.0.1',
                                      '--save', '', '--appendonly', 'no', '--dir', tmp],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_port(self.port, self.proc, 'redis-server')
        import redis
        self.r = redis.Redis(host='127.0.0.1', port=self.port)
        # bench refuses a db holding results it did not write: its own db, the same server.
        self.celery_url = 'redis://127.0.0.1:%d/0' % self.port
        self.bench_url = 'redis://127.0.0.1:%d/1' % self.port

    def counters(self):
        return {k[len('cmdstat_'):]: v['calls'] for k, v in self.r.info('commandstats').items()}

    def close(self):
        self.r.close()
        stop(self.proc)


class MariaDB:
    DB = 'celery_bench'

    def __init__(self, tmp):
        data = os.path.join(tmp, 'data')
        out = subprocess.run(['mariadb-install-db', '--no-defaults', '--datadir=' + data,
                              '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'],
                             capture_output=True, timeout=120)
        if out.returncode:
            die('mariadb-install-db: ' + out.stdout.decode()[-1000:] + out.stderr.decode()[-1000:])
        self.port = free_port()
        self.log = open(os.path.join(tmp, 'mariadbd.log'), 'wb')
        self.proc = subprocess.Popen(['/usr/sbin/mariadbd', '--no-defaults', '--datadir=' + data,
                                      '--port=%d' % self.port, '--bind-address=127.0.0.1',
                                      '--socket=' + os.path.join(tmp, 'mysqld.sock'), '--user=root',
                                      '--skip-log-bin', '--innodb-buffer-pool-size=64M'],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port, self.proc, 'mariadbd', 60)
        import pymysql
        self.c = pymysql.connect(host='127.0.0.1', port=self.port, user='root', autocommit=True)
        # bench refuses a table holding results it did not write: its own database, the same server.
        for db in (self.DB, self.DB + '_bench'):
            self.c.cursor().execute('CREATE DATABASE `%s`' % db)
        self.celery_url = 'db+mysql+pymysql://root@127.0.0.1:%d/%s' % (self.port, self.DB)
        self.bench_url = 'db+mysql://root@127.0.0.1:%d/%s_bench' % (self.port, self.DB)

    def counters(self):
        cur = self.c.cursor()
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Connections') "
                    "OR Variable_name LIKE 'Com\\_%'")
        return {k: int(v) for k, v in cur.fetchall() if v.isdigit()}

    def close(self):
        self.c.close()
        stop(self.proc)
        self.log.close()


def delta(a, b):
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}


def per_task(few, many, n_few, n_many):
    keys = set(few) | set(many)
    return {k: (many.get(k, 0) - few.get(k, 0)) / (n_many - n_few) for k in sorted(keys)
            if many.get(k, 0) or few.get(k, 0)}


def celery_phase(server, tmp, env, a, n):
    before = server.counters()
    procs = [subprocess.Popen([PY, 'caller.py', str(a.task_time), str(n)], cwd=tmp, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(a.callers)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        if p.returncode != 0 or b'DONE' not in out:
            die('celery caller failed: %s %s' % (out.decode()[-500:], err.decode()[-2000:]))
    return delta(before, server.counters())


def bench_phase(server, a, n):
    before = server.counters()
    cmd = [a.bench, '--backend', server.bench_url, '-c', str(a.callers), '--workers', str(a.workers),
           '--task-time', '%gms' % (a.task_time * 1000), '--tasks', str(n * a.callers), '--warmup', '0',
           '--celery', '5.2', '--result-size', str(len(PAYLOAD)), '--progress', '0', '--no-save',
           '--format', 'json']
    p = subprocess.run(cmd, capture_output=True, timeout=300)
    if p.returncode != 0:
        die('bench failed (%d): %s' % (p.returncode, p.stderr.decode()[-2000:]))
    json.loads(p.stdout)  # a whole run file: the run ended normally
    return delta(before, server.counters())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bench', required=True)
    ap.add_argument('--backend', choices=['redis', 'mysql'], required=True)
    ap.add_argument('--task-time', type=float, required=True, help='seconds')
    ap.add_argument('--callers', type=int, default=2)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--few', type=int, default=4)
    ap.add_argument('--many', type=int, default=12)
    ap.add_argument('--broker', default='amqp://guest:guest@127.0.0.1:5672//')
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix='bench-pipeline-')
    server = worker = None
    try:
        server = Redis(tmp) if a.backend == 'redis' else MariaDB(tmp)
        with open(os.path.join(tmp, 'tasks.py'), 'w') as f:
            f.write(TASKS_PY)
        with open(os.path.join(tmp, 'caller.py'), 'w') as f:
            f.write(CALLER_PY)
        env = dict(os.environ, C_FORCE_ROOT='1', BROKER=a.broker, BACKEND=server.celery_url, PAYLOAD=PAYLOAD,
                   QUEUE='bench-pipeline-' + uuid.uuid4().hex[:12], PYTHONDONTWRITEBYTECODE='1')
        env.pop('PYTHONPATH', None)
        wlog = open(os.path.join(tmp, 'worker.log'), 'wb')
        worker = subprocess.Popen([PY, '-m', 'celery', '-A', 'tasks', 'worker', '-P', 'prefork',
                                   '-c', str(a.workers), '--without-gossip', '--without-mingle',
                                   '--without-heartbeat', '-n', 'pipeline@%h', '--loglevel=INFO'],
                                  cwd=tmp, env=env, stdout=wlog, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        for _ in range(300):
            if b'ready.' in open(os.path.join(tmp, 'worker.log'), 'rb').read():
                break
            if worker.poll() is not None:
                break
            time.sleep(0.1)
        else:
            die('celery worker did not become ready')
        if worker.poll() is not None:
            die('celery worker exited:\n' + open(os.path.join(tmp, 'worker.log')).read()[-2000:])
        # Warm every child (its backend connection, the table check) before anything is counted:
        # a cold child would pay its set-up in the FEW phase only.
        celery_phase(server, tmp, env, argparse.Namespace(task_time=a.task_time, callers=a.workers * 2), 2)

        # bench's first run on a fresh database creates its tables: do that before counting too.
        bench_phase(server, argparse.Namespace(**dict(vars(a), callers=1)), 1)

        out = {'callers': a.callers, 'workers': a.workers, 'task_time': a.task_time, 'few': a.few, 'many': a.many}
        for side, phase in (('celery', lambda n: celery_phase(server, tmp, env, a, n)),
                            ('bench', lambda n: bench_phase(server, a, n))):
            t0 = time.monotonic()
            few = phase(a.few)
            many = phase(a.many)
            out[side] = per_task(few, many, a.few * a.callers, a.many * a.callers)
            out[side + '_seconds'] = round(time.monotonic() - t0, 1)
        print(json.dumps(out, sort_keys=True))
    finally:
        stop(worker)
        if server is not None:
            server.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
